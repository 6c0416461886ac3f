/* storage/meta.c — LMDB metadata store of an index directory (contract: storage/meta.h, layout:
 * docs/format/meta-lmdb.md, format version 3). LMDB errors are translated here and nowhere else
 * (spar_from_lmdb).
 *
 * Everything lives in LMDB's main (unnamed) database, each kind of record under its own one-byte key
 * prefix, so a small index is one leaf page (no named databases: each would cost a page of its own).
 * Ids are stored once, front-coded in blocks of consecutive docids (doc2id, storage/meta_block.h); the
 * reverse map (id2doc) holds only the docids in sort-key order (numbered ids in numeric order), in blocks
 * keyed by their last id's sort key (plus a one-byte tag per id when a block is not one docid run), and a
 * lookup confirms candidates through doc2id: the tag matches of its block, or for a run a search of that
 * docid range in doc2id. While building, duplicates are caught at once by an in-memory table of (32-bit
 * id fingerprint, docid) slots, a fingerprint hit being confirmed against the stored id. Complete id
 * blocks and stored fields go to a scratch environment (build.mdb) as batches end; at close the fields,
 * the id blocks, the id2doc blocks, the settings and the header are appended to data.mdb in key order
 * and fixed-size transactions (every leaf page filled; the bytes depend on the content only, not on
 * the batches), and the environment is compacted into a fresh data.mdb (renamed over the old). */
#include "storage/meta.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/meta_block.h"

#define META_VERSION 3u
#define META_MAGIC "SPARMETA"
/* magic[8], u32 LE version, u32 LE flags (0), then u64 LE: n_docs, n_fields, n_doc2id blocks, n_id2doc
 * blocks, n_settings */
#define META_HEADER_BYTES 56
#define META_ID_MAX 509u /* key = kind byte + sort key (id + 1 byte) <= LMDB's 511 */
#define META_SCRATCH_FILE "build.mdb"
#define COPY_CHUNK 16384 /* records appended per write transaction at close */
#define TABLE_MIN_BITS 16

/* Key prefixes of the main database, in key order (= the order they are appended in). */
enum { K_FIELDS = 0x01, K_DOC2ID = 0x02, K_ID2DOC = 0x03, K_SETTING = 0x04, K_HEADER = 0x05 };

static spar_status spar_from_lmdb(int rc, spar_diag *diag) {
    if (rc == MDB_SUCCESS) return SPAR_OK;
    if (rc == MDB_NOTFOUND) return SPAR_E_NOT_FOUND;
    spar_diag_set(diag, "lmdb: %s", mdb_strerror(rc));
    if (rc == ENOMEM) return SPAR_E_NOMEM;
    if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_PAGE_NOTFOUND || rc == MDB_VERSION_MISMATCH ||
        rc == MDB_BAD_VALSIZE || rc == MDB_INCOMPATIBLE)
        return SPAR_E_CORRUPT;
    return SPAR_E_STORAGE;
}

static void be32(uint8_t k[4], uint32_t v) {
    k[0] = (uint8_t)(v >> 24);
    k[1] = (uint8_t)(v >> 16);
    k[2] = (uint8_t)(v >> 8);
    k[3] = (uint8_t)v;
}
static uint32_t rbe32(const uint8_t *k) {
    return ((uint32_t)k[0] << 24) | ((uint32_t)k[1] << 16) | ((uint32_t)k[2] << 8) | (uint32_t)k[3];
}
/* Key of a per-docid record: kind byte, u32 big-endian docid (memcmp order = docid order). */
static MDB_val docid_key(uint8_t slot[5], uint8_t kind, uint32_t docid) {
    slot[0] = kind;
    be32(slot + 1, docid);
    MDB_val k = {5, slot};
    return k;
}
static int is_docid_key(const MDB_val *k, uint8_t kind) {
    return k->mv_size == 5 && ((const uint8_t *)k->mv_data)[0] == kind;
}
static uint32_t key_docid(const MDB_val *k) { return rbe32((const uint8_t *)k->mv_data + 1); }
static int key_kind(const MDB_val *k) { return k->mv_size ? ((const uint8_t *)k->mv_data)[0] : -1; }

static void le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static uint32_t rle32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void le64(uint8_t *p, uint64_t v) {
    le32(p, (uint32_t)v);
    le32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t rle64(const uint8_t *p) { return (uint64_t)rle32(p) | ((uint64_t)rle32(p + 4) << 32); }

/* Hash record: u32 LE docid, u32 LE length, bytes. */
static void hash_rec(XXH3_state_t *h, uint32_t docid, const void *v, size_t n) {
    uint8_t pre[8];
    le32(pre, docid);
    le32(pre + 4, (uint32_t)n);
    XXH3_64bits_update(h, pre, 8);
    if (n) XXH3_64bits_update(h, v, n);
}

/* One-byte tag of an id in a perm block. */
static uint8_t id_tag(const void *id, size_t len) { return (uint8_t)XXH3_64bits(id, len); }

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0) return c;
    return al < bl ? -1 : al > bl;
}

/* Key order of every environment: LMDB's default (bytes compared as unsigned, a prefix first), so any
 * LMDB tool reads the files as usual, but without a libc memcmp call per comparison (keys are mostly 5
 * bytes; the call was half of a lookup's time). Installed on the main database of each environment. */
static int key_cmp(const MDB_val *a, const MDB_val *b) {
    const uint8_t *x = a->mv_data, *y = b->mv_data;
    if (a->mv_size == 5 && b->mv_size == 5) { /* kind byte + big-endian docid: the common case */
        if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
        const uint32_t u = rbe32(x + 1), v = rbe32(y + 1);
        return (u > v) - (u < v);
    }
    const size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        if (u != v) {
            u = __builtin_bswap64(u); /* little-endian load: the first differing byte decides */
            v = __builtin_bswap64(v);
            return u < v ? -1 : 1;
        }
    }
    for (; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* id2doc key: K_ID2DOC, sort key of the id; returns its length (room for 1 + SPAR_SORTKEY_MAX). */
static size_t id2doc_key(const uint8_t *id, size_t len, uint8_t *out) {
    out[0] = K_ID2DOC;
    return 1 + spar_sortkey(id, len, out + 1);
}

/* docid -> id through the doc2id records, remembering the last block read (its bytes stay valid while
 * the transaction lives), so probes that land in one block read it once. */
typedef struct {
    MDB_cursor *cur;
    int have;
    uint32_t first, last;
    const uint8_t *blk;
    size_t len;
} d2i_reader;

/* Make r's block the one holding docid. SPAR_E_NOT_FOUND: no block ends at or after docid. */
static spar_status d2i_load(d2i_reader *r, uint32_t docid) {
    if (!r->have || docid < r->first || docid > r->last) {
        uint8_t kb[5];
        MDB_val k = docid_key(kb, K_DOC2ID, docid), v;
        int rc = mdb_cursor_get(r->cur, &k, &v, MDB_SET_RANGE);
        if (rc != 0) return spar_from_lmdb(rc, NULL);
        if (key_kind(&k) != K_DOC2ID) return SPAR_E_NOT_FOUND;
        uint32_t n = 0;
        if (k.mv_size != 5 || spar_idblock_count(v.mv_data, v.mv_size, &n) != SPAR_OK) return SPAR_E_CORRUPT;
        uint32_t last = key_docid(&k);
        if (last < docid || last - docid >= n) return SPAR_E_CORRUPT;
        r->have = 1;
        r->first = last - (n - 1);
        r->last = last;
        r->blk = v.mv_data;
        r->len = v.mv_size;
    }
    return SPAR_OK;
}

static spar_status d2i_get(d2i_reader *r, uint32_t docid, uint8_t *out, size_t *len) {
    spar_status st = d2i_load(r, docid);
    if (st != SPAR_OK) return st;
    st = spar_idblock_get(r->blk, r->len, docid - r->first, out, len);
    return st == SPAR_E_NOT_FOUND ? SPAR_E_CORRUPT : st;
}

/* ---- writer ---- */

typedef struct {
    char *key, *value;
} setting;

struct spar_meta_writer {
    MDB_env *env;     /* data.mdb: written at close, in key order */
    MDB_env *scratch; /* build.mdb: doc2id blocks and stored fields as batches end */
    MDB_dbi dbi, sdbi;
    char *dir, *scratch_path;
    uint64_t map_bytes, scratch_bytes;
    int store_text;
    int in_batch;
    uint32_t n_committed; /* documents of ended batches */
    uint32_t n_batch;     /* documents added to the open batch */
    uint32_t n_flushed;   /* docids < n_flushed are in doc2id blocks in the scratch file */
    uint64_t n_fields;    /* fields records in data.mdb */
    /* ids of docids n_flushed .. n_committed + n_batch - 1 (the not yet written ones) */
    uint8_t *tail;
    size_t tail_len, tail_cap;
    size_t *tail_off;
    size_t tail_off_cap;
    /* stored fields of the open batch: records of u32 title_len, u32 text_len, bytes */
    uint8_t *rep;
    size_t rep_len, rep_cap;
    /* duplicate detection: 2^slot_bits slots of (fingerprint << 32 | docid + 1), 0 = empty; the home slot
     * is the top slot_bits bits of the fingerprint, so the table grows without the ids */
    uint64_t *slots;
    unsigned slot_bits;
    uint64_t n_used;
    setting *set;
    size_t n_set, set_cap;
    XXH3_state_t *h_doc2id, *h_fields;
    uint8_t *val;
    size_t val_cap;
    spar_idblock_enc enc;
    uint8_t blk[SPAR_IDBLOCK_MAX_BYTES];
};

size_t spar_meta_max_id_bytes(void) { return META_ID_MAX; }

static char *path2(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Create an environment (dir-based, or the single file `path` with MDB_NOSUBDIR) and open its main
 * database. */
static int env_create(const char *path, unsigned extra_flags, uint64_t map_bytes, MDB_env **env, MDB_dbi *dbi) {
    MDB_txn *txn = NULL;
    int rc;
    if ((rc = mdb_env_create(env)) != 0 || (rc = mdb_env_set_mapsize(*env, (size_t)map_bytes)) != 0 ||
        (rc = mdb_env_open(*env, path, extra_flags | MDB_NOLOCK | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0644)) !=
            0 ||
        (rc = mdb_txn_begin(*env, NULL, 0, &txn)) != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, NULL, 0, dbi)) != 0 || (rc = mdb_set_compare(txn, *dbi, key_cmp)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

spar_status spar_meta_writer_open(const char *dir, uint64_t map_bytes, int store_text, spar_meta_writer **out,
                                  spar_diag *diag) {
    *out = NULL;
    if (mkdir(dir, 0755) != 0) return spar_diag_err(diag, SPAR_E_IO, "%s: mkdir: %s", dir, strerror(errno));
    spar_meta_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    w->store_text = store_text;
    w->map_bytes = map_bytes < (1u << 20) ? (1u << 20) : map_bytes;
    w->scratch_bytes = w->map_bytes;
    w->slot_bits = TABLE_MIN_BITS;
    w->dir = malloc(strlen(dir) + 1);
    w->scratch_path = path2(dir, META_SCRATCH_FILE);
    w->slots = calloc((size_t)1 << w->slot_bits, sizeof *w->slots);
    w->h_doc2id = XXH3_createState();
    w->h_fields = XXH3_createState();
    if (w->dir == NULL || w->scratch_path == NULL || w->slots == NULL || w->h_doc2id == NULL || w->h_fields == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    memcpy(w->dir, dir, strlen(dir) + 1);
    XXH3_64bits_reset(w->h_doc2id);
    XXH3_64bits_reset(w->h_fields);
    int rc = env_create(dir, 0, w->map_bytes, &w->env, &w->dbi);
    if (rc == 0) rc = env_create(w->scratch_path, MDB_NOSUBDIR, w->scratch_bytes, &w->scratch, &w->sdbi);
    if (rc != 0) {
        st = spar_from_lmdb(rc, diag);
        goto fail;
    }
    *out = w;
    return SPAR_OK;
fail:
    spar_meta_writer_abort(w);
    return st;
}

spar_status spar_meta_writer_begin(spar_meta_writer *w, spar_diag *diag) {
    (void)diag;
    if (w->in_batch) return SPAR_E_INTERNAL;
    w->in_batch = 1;
    w->n_batch = 0;
    w->rep_len = 0;
    return SPAR_OK;
}

static uint32_t tail_count(const spar_meta_writer *w) { return w->n_committed + w->n_batch - w->n_flushed; }

static const uint8_t *tail_id(const spar_meta_writer *w, uint32_t i, size_t *len) {
    size_t end = i + 1 < tail_count(w) ? w->tail_off[i + 1] : w->tail_len;
    *len = end - w->tail_off[i];
    return w->tail + w->tail_off[i];
}

/* The id of an already added docid, into buf (room for SPAR_IDBLOCK_ID_MAX bytes) or from the tail.
 * Only called between write transactions (a read transaction on the scratch file is opened when the id
 * was written). */
static spar_status writer_id(spar_meta_writer *w, uint32_t docid, uint8_t *buf, const uint8_t **id, size_t *len,
                             spar_diag *diag) {
    if (docid >= w->n_flushed) {
        *id = tail_id(w, docid - w->n_flushed, len);
        return SPAR_OK;
    }
    MDB_txn *txn = NULL;
    d2i_reader r = {0};
    int rc = mdb_txn_begin(w->scratch, NULL, MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_cursor_open(txn, w->sdbi, &r.cur);
    if (rc != 0) {
        if (txn) mdb_txn_abort(txn);
        return spar_from_lmdb(rc, diag);
    }
    spar_status st = d2i_get(&r, docid, buf, len);
    mdb_cursor_close(r.cur);
    mdb_txn_abort(txn);
    if (st != SPAR_OK) /* not SPAR_E_CORRUPT: the builder would blame the input line */
        return spar_diag_err(diag, st == SPAR_E_NOMEM ? st : SPAR_E_STORAGE,
                             "%s: cannot read back the id of docid %" PRIu32 " (%s)", META_SCRATCH_FILE, docid,
                             spar_status_str(st));
    *id = buf;
    return SPAR_OK;
}

static int table_grow(spar_meta_writer *w) {
    unsigned bits = w->slot_bits + 1;
    uint64_t *s = calloc((size_t)1 << bits, sizeof *s);
    if (s == NULL) return 0;
    const size_t old = (size_t)1 << w->slot_bits, mask = ((size_t)1 << bits) - 1;
    for (size_t i = 0; i < old; i++) {
        uint64_t e = w->slots[i];
        if (e == 0) continue;
        size_t j = (size_t)((uint32_t)(e >> 32) >> (32 - bits));
        while (s[j] != 0) j = (j + 1) & mask;
        s[j] = e;
    }
    free(w->slots);
    w->slots = s;
    w->slot_bits = bits;
    return 1;
}

static int grow_buf(void *pp, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *p = realloc(*(void **)pp, c * elem);
    if (p == NULL) return 0;
    *(void **)pp = p;
    *cap = c;
    return 1;
}

spar_status spar_meta_writer_add(spar_meta_writer *w, const char *id, size_t id_len, const char *title,
                                 size_t title_len, const char *text, size_t text_len, uint32_t *first_docid,
                                 spar_diag *diag) {
    if (!w->in_batch) return SPAR_E_INTERNAL;
    if (id_len == 0 || id_len > spar_meta_max_id_bytes())
        return spar_diag_err(diag, SPAR_E_CORRUPT, "_id of %zu bytes (must be 1..%zu)", id_len,
                             spar_meta_max_id_bytes());
    if ((uint64_t)title_len + text_len > UINT32_MAX - 8)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "document too large to store");
    const uint32_t docid = w->n_committed + w->n_batch;
    if (docid == UINT32_MAX) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "more than 2^32-1 documents");
    if (w->slot_bits < 32 && (w->n_used + 1) * 4 > ((uint64_t)3 << w->slot_bits) && !table_grow(w))
        return SPAR_E_NOMEM;
    const uint32_t fp = (uint32_t)(XXH3_64bits(id, id_len) >> 32);
    const size_t mask = ((size_t)1 << w->slot_bits) - 1;
    size_t s = (size_t)(fp >> (32 - w->slot_bits));
    for (; w->slots[s] != 0; s = (s + 1) & mask) {
        if ((uint32_t)(w->slots[s] >> 32) != fp) continue;
        uint32_t cand = (uint32_t)w->slots[s] - 1;
        uint8_t buf[SPAR_IDBLOCK_ID_MAX];
        const uint8_t *have = NULL;
        size_t have_len = 0;
        SPAR_TRY(writer_id(w, cand, buf, &have, &have_len, diag));
        if (have_len == id_len && memcmp(have, id, id_len) == 0) {
            if (first_docid) *first_docid = cand;
            return SPAR_E_EXISTS;
        }
    }
    /* new id: keep it (and the fields) until the batch is written */
    const uint32_t t = tail_count(w);
    if (!grow_buf(&w->tail, &w->tail_cap, w->tail_len + id_len, 1) ||
        !grow_buf(&w->tail_off, &w->tail_off_cap, (size_t)t + 1, sizeof *w->tail_off))
        return SPAR_E_NOMEM;
    if (w->store_text) {
        if (!grow_buf(&w->rep, &w->rep_cap, w->rep_len + 8 + title_len + text_len, 1)) return SPAR_E_NOMEM;
        uint8_t *p = w->rep + w->rep_len;
        le32(p, (uint32_t)title_len);
        le32(p + 4, (uint32_t)text_len);
        if (title_len) memcpy(p + 8, title, title_len);
        if (text_len) memcpy(p + 8 + title_len, text, text_len);
        w->rep_len += 8 + title_len + text_len;
    }
    w->tail_off[t] = w->tail_len;
    memcpy(w->tail + w->tail_len, id, id_len);
    w->tail_len += id_len;
    w->slots[s] = ((uint64_t)fp << 32) | ((uint64_t)docid + 1);
    w->n_used++;
    w->n_batch++;
    return SPAR_OK;
}

/* Which environment a transaction function writes (for map growth). */
enum { ENV_MAIN, ENV_SCRATCH };

/* Run fn until it does not hit MDB_MAP_FULL, doubling that environment's map in between (fn changes
 * nothing in w unless it commits, so it can simply run again). */
static int with_growth(spar_meta_writer *w, int which, int (*fn)(spar_meta_writer *, void *), void *arg) {
    for (;;) {
        int rc = fn(w, arg);
        if (rc != MDB_MAP_FULL) return rc;
        uint64_t *bytes = which == ENV_MAIN ? &w->map_bytes : &w->scratch_bytes;
        *bytes *= 2;
        if ((rc = mdb_env_set_mapsize(which == ENV_MAIN ? w->env : w->scratch, (size_t)*bytes)) != 0) return rc;
    }
}

static int put_block(spar_meta_writer *w, MDB_txn *txn, uint32_t last_docid) {
    uint8_t kb[5];
    MDB_val k = docid_key(kb, K_DOC2ID, last_docid), v = {spar_idblock_enc_finish(&w->enc, w->blk), w->blk};
    spar_idblock_enc_reset(&w->enc);
    return mdb_put(txn, w->sdbi, &k, &v, MDB_APPEND);
}

typedef struct {
    int final;
    uint32_t written;
} batch_arg;

/* One scratch transaction: the complete id blocks at the head of the tail (all of it when `final`).
 * a->written = ids written. Returns the raw LMDB code. */
static int blocks_fn(spar_meta_writer *w, void *arg) {
    batch_arg *a = arg;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(w->scratch, NULL, 0, &txn);
    if (rc != 0) return rc;
    const uint32_t n = tail_count(w);
    uint32_t done = 0;
    spar_idblock_enc_reset(&w->enc);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        size_t len;
        const uint8_t *id = tail_id(w, i, &len);
        if (!spar_idblock_enc_fits(&w->enc, id, len)) {
            rc = put_block(w, txn, w->n_flushed + i - 1);
            done = i;
            if (rc != 0) break;
        }
        spar_idblock_enc_add(&w->enc, id, len);
        if (w->enc.n == SPAR_IDBLOCK_MAX_IDS) {
            rc = put_block(w, txn, w->n_flushed + i);
            done = i + 1;
        }
    }
    if (rc == 0 && a->final && w->enc.n > 0) {
        rc = put_block(w, txn, w->n_flushed + n - 1);
        done = n;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    a->written = done;
    return mdb_txn_commit(txn);
}

/* One scratch transaction: the open batch's stored fields (copied to data.mdb at close, so that its
 * bytes depend on the content only, not on the batches). */
static int fields_fn(spar_meta_writer *w, void *arg) {
    (void)arg;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(w->scratch, NULL, 0, &txn);
    if (rc != 0) return rc;
    size_t pos = 0;
    for (uint32_t i = 0; i < w->n_batch && rc == 0; i++) {
        const uint8_t *p = w->rep + pos;
        uint32_t tl = rle32(p), xl = rle32(p + 4);
        size_t vn = 4 + (size_t)tl + xl;
        if (!grow_buf(&w->val, &w->val_cap, vn, 1)) {
            rc = ENOMEM;
            break;
        }
        le32(w->val, tl);
        memcpy(w->val + 4, p + 8, (size_t)tl + xl);
        uint8_t kb[5];
        MDB_val k = docid_key(kb, K_FIELDS, w->n_committed + i), v = {vn, w->val};
        rc = mdb_put(txn, w->sdbi, &k, &v, 0); /* below the doc2id keys: no MDB_APPEND */
        pos += 8 + (size_t)tl + xl;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* Forget the first k tail ids (now in the scratch file). */
static void tail_drop(spar_meta_writer *w, uint32_t k) {
    const uint32_t n = tail_count(w);
    if (k == 0) return;
    size_t cut = k < n ? w->tail_off[k] : w->tail_len;
    memmove(w->tail, w->tail + cut, w->tail_len - cut);
    w->tail_len -= cut;
    for (uint32_t i = k; i < n; i++) w->tail_off[i - k] = w->tail_off[i] - cut;
    w->n_flushed += k;
}

spar_status spar_meta_writer_end(spar_meta_writer *w, spar_diag *diag) {
    if (!w->in_batch) return SPAR_E_INTERNAL;
    int rc = 0;
    if (w->store_text && w->n_batch > 0) rc = with_growth(w, ENV_SCRATCH, fields_fn, NULL);
    if (rc != 0) return spar_from_lmdb(rc, diag);
    batch_arg a = {0, 0};
    if ((rc = with_growth(w, ENV_SCRATCH, blocks_fn, &a)) != 0) return spar_from_lmdb(rc, diag);
    /* hash the committed batch in docid order */
    size_t pos = 0;
    for (uint32_t i = 0; i < w->n_batch; i++) {
        const uint32_t docid = w->n_committed + i;
        size_t len;
        const uint8_t *id = tail_id(w, docid - w->n_flushed, &len);
        hash_rec(w->h_doc2id, docid, id, len);
        if (w->store_text) {
            const uint8_t *p = w->rep + pos;
            uint32_t tl = rle32(p), xl = rle32(p + 4);
            uint8_t pre[12];
            le32(pre, docid);
            le32(pre + 4, 4 + tl + xl);
            le32(pre + 8, tl);
            XXH3_64bits_update(w->h_fields, pre, 12);
            XXH3_64bits_update(w->h_fields, p + 8, (size_t)tl + xl);
            pos += 8 + (size_t)tl + xl;
        }
    }
    if (w->store_text) w->n_fields += w->n_batch;
    w->n_committed += w->n_batch;
    w->n_batch = 0;
    w->rep_len = 0;
    w->in_batch = 0;
    tail_drop(w, a.written);
    return SPAR_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

spar_status spar_meta_writer_set(spar_meta_writer *w, const char *key, const char *value, spar_diag *diag) {
    if (w->in_batch) return SPAR_E_INTERNAL;
    if (key[0] == '\0' || strlen(key) > 510)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "setting name of %zu bytes (must be 1..510)", strlen(key));
    char *v = dup_str(value);
    if (v == NULL) return SPAR_E_NOMEM;
    for (size_t i = 0; i < w->n_set; i++)
        if (strcmp(w->set[i].key, key) == 0) {
            free(w->set[i].value);
            w->set[i].value = v;
            return SPAR_OK;
        }
    char *k = dup_str(key);
    if (k == NULL || !grow_buf(&w->set, &w->set_cap, w->n_set + 1, sizeof *w->set)) {
        free(k);
        free(v);
        return SPAR_E_NOMEM;
    }
    w->set[w->n_set].key = k;
    w->set[w->n_set].value = v;
    w->n_set++;
    return SPAR_OK;
}

uint64_t spar_meta_writer_n_docs(const spar_meta_writer *w) { return w->n_committed; }

/* ---- close: doc2id copied, id2doc from a sort of all ids, settings, header ---- */

typedef struct {
    uint64_t off; /* of the id's sort key in the arena */
    uint32_t docid;
    uint16_t len;
    uint8_t tag;
} sort_ent;

typedef struct {
    sort_ent *ents;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    uint32_t n, first;
    uint32_t *lasts; /* last docid of each doc2id block, ascending */
    size_t n_lasts, lasts_cap;
} collect_ctx;

/* qsort has no context argument: the arena of the sort in progress on this thread */
static _Thread_local const uint8_t *t_sort_arena;

static int sort_cmp(const void *a, const void *b) {
    const sort_ent *x = a, *y = b;
    return bytes_cmp(t_sort_arena + x->off, x->len, t_sort_arena + y->off, y->len);
}

static int collect_cb(void *ctx, uint32_t i, const uint8_t *id, size_t len) {
    collect_ctx *c = ctx;
    if (!grow_buf(&c->arena, &c->arena_cap, c->arena_len + len + 1, 1)) return 1;
    sort_ent *e = &c->ents[c->n++];
    e->off = c->arena_len;
    e->docid = c->first + i;
    e->tag = id_tag(id, len);
    e->len = (uint16_t)spar_sortkey(id, len, c->arena + c->arena_len);
    c->arena_len += e->len;
    return 0;
}

typedef struct {
    uint8_t kind;      /* K_FIELDS or K_DOC2ID */
    collect_ctx *c;    /* doc2id: the ids are collected for the sort */
    uint32_t n_docs;
    uint32_t next;     /* docids < next are copied (and collected) */
    uint64_t n_recs;   /* records copied */
} copy_arg;

/* One data.mdb transaction: up to COPY_CHUNK records of a kind from the scratch file, appended (fixed
 * chunks: the write sequence, hence every byte of the file, depends on the content only). Advances a
 * only on commit. */
static int copy_fn(spar_meta_writer *w, void *arg) {
    copy_arg *a = arg;
    collect_ctx *c = a->c;
    MDB_txn *rtxn = NULL, *txn = NULL;
    MDB_cursor *cur = NULL;
    const uint32_t n0 = c ? c->n : 0;
    const size_t arena0 = c ? c->arena_len : 0, lasts0 = c ? c->n_lasts : 0;
    uint32_t next = a->next;
    uint64_t recs = 0;
    int rc = mdb_txn_begin(w->scratch, NULL, MDB_RDONLY, &rtxn);
    if (rc == 0) rc = mdb_cursor_open(rtxn, w->sdbi, &cur);
    if (rc == 0) rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    uint8_t kb[5];
    MDB_val k = docid_key(kb, a->kind, next), v;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && recs < COPY_CHUNK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (key_kind(&k) != a->kind) {
            rc = MDB_NOTFOUND;
            break;
        }
        uint32_t cnt = 1;
        if (!is_docid_key(&k, a->kind) || key_docid(&k) < next ||
            (c && spar_idblock_count(v.mv_data, v.mv_size, &cnt) != SPAR_OK) ||
            key_docid(&k) - next + 1 != (c ? cnt : key_docid(&k) - next + 1) || key_docid(&k) >= a->n_docs) {
            rc = MDB_CORRUPTED; /* reported as a read-back failure by the caller */
            break;
        }
        if (c) {
            c->first = c->n;
            spar_status st = spar_idblock_each(v.mv_data, v.mv_size, collect_cb, c, NULL);
            if (st != SPAR_OK || !grow_buf(&c->lasts, &c->lasts_cap, c->n_lasts + 1, sizeof *c->lasts)) {
                rc = st == SPAR_E_CANCELLED || st == SPAR_OK ? ENOMEM : MDB_CORRUPTED;
                break;
            }
            c->lasts[c->n_lasts++] = key_docid(&k);
        }
        if ((rc = mdb_put(txn, w->dbi, &k, &v, MDB_APPEND)) != 0) break;
        next = key_docid(&k) + 1;
        recs++;
    }
    if (rc == MDB_NOTFOUND || recs == COPY_CHUNK) rc = 0;
    if (cur) mdb_cursor_close(cur);
    if (rtxn) mdb_txn_abort(rtxn);
    if (rc == 0 && txn) rc = mdb_txn_commit(txn);
    else if (txn) mdb_txn_abort(txn);
    if (rc != 0) { /* forget what this try collected */
        if (c) {
            c->n = n0;
            c->arena_len = arena0;
            c->n_lasts = lasts0;
        }
        return rc;
    }
    a->next = recs ? next : a->n_docs; /* no record left: done */
    a->n_recs += recs;
    return 0;
}

/* Copy every record of a kind from the scratch file to data.mdb. */
static spar_status copy_kind(spar_meta_writer *w, copy_arg *a, spar_diag *diag) {
    while (a->next < a->n_docs) {
        const uint32_t before = a->next;
        int rc = with_growth(w, ENV_MAIN, copy_fn, a);
        if (rc == ENOMEM) return SPAR_E_NOMEM;
        if (rc != 0)
            return spar_diag_err(diag, rc == MDB_CORRUPTED ? SPAR_E_INTERNAL : SPAR_E_STORAGE,
                                 "%s: %s records from docid %" PRIu32 " read back wrong (%s)", META_SCRATCH_FILE,
                                 a->kind == K_FIELDS ? "fields" : "doc2id", before, mdb_strerror(rc));
    }
    return SPAR_OK;
}

#define PERM_TAGGED_IDS 64u /* ids per block that is not one long docid run */
#define PERM_RUN_MIN 16u     /* a docid run this long gets a block of its own */

typedef struct {
    const collect_ctx *c;
    uint32_t n;        /* ids */
    uint32_t next;     /* sorted positions < next are written */
    uint64_t n_blocks; /* blocks written */
} perm_arg;

/* Length of the perm block starting at sorted position b, and whether it is one docid run. A run of at
 * least PERM_RUN_MIN docids gets a block of its own, up to SPAR_PERMBLOCK_MAX_IDS and never past the end
 * of the doc2id block of its first docid (so a lookup searches one doc2id block); otherwise the block
 * takes the next PERM_TAGGED_IDS ids. A function of the sorted ids and the doc2id blocks only. */
static uint32_t perm_block_len(const collect_ctx *c, uint32_t n, uint32_t b, int *run) {
    const sort_ent *e = c->ents;
    const uint32_t d = e[b].docid;
    size_t lo = 0, hi = c->n_lasts; /* the doc2id block of d: the first whose last docid is >= d */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->lasts[mid] < d) lo = mid + 1;
        else hi = mid;
    }
    const uint32_t end_d = lo < c->n_lasts ? c->lasts[lo] : d;
    uint32_t len = 1;
    while (b + len < n && len < SPAR_PERMBLOCK_MAX_IDS && e[b + len].docid == d + len && d + len <= end_d) len++;
    if (len >= PERM_RUN_MIN) {
        *run = 1;
        return len;
    }
    len = n - b < PERM_TAGGED_IDS ? n - b : PERM_TAGGED_IDS;
    *run = 1;
    for (uint32_t j = 1; j < len; j++) *run &= e[b + j].docid == d + j;
    return len;
}

/* One data.mdb transaction: up to COPY_CHUNK perm blocks from sorted position a->next. */
static int perm_fn(spar_meta_writer *w, void *arg) {
    perm_arg *a = arg;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    uint32_t docids[SPAR_PERMBLOCK_MAX_IDS], b = a->next, blocks = 0;
    uint8_t tags[SPAR_PERMBLOCK_MAX_IDS], buf[SPAR_PERMBLOCK_MAX_BYTES], kb[1 + SPAR_SORTKEY_MAX];
    for (; b < a->n && blocks < COPY_CHUNK && rc == 0; blocks++) {
        int run = 0; /* one run of docids (ids given in order): binary search is cheap, no tags */
        const uint32_t n = perm_block_len(a->c, a->n, b, &run);
        for (uint32_t j = 0; j < n; j++) {
            const sort_ent *e = &a->c->ents[b + j];
            docids[j] = e->docid;
            tags[j] = e->tag;
        }
        const sort_ent *last = &a->c->ents[b + n - 1];
        kb[0] = K_ID2DOC;
        memcpy(kb + 1, a->c->arena + last->off, last->len);
        MDB_val k = {1 + (size_t)last->len, kb}, v = {spar_permblock_encode(docids, run ? NULL : tags, n, buf), buf};
        rc = mdb_put(txn, w->dbi, &k, &v, MDB_APPEND);
        b += n;
    }
    if (txn == NULL) return rc;
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) == 0) {
        a->next = b;
        a->n_blocks += blocks;
    }
    return rc;
}

typedef struct {
    uint64_t n_doc2id, n_id2doc;
} tail_arg;

static int set_order(const void *a, const void *b) {
    return strcmp(((const setting *)a)->key, ((const setting *)b)->key);
}

/* The settings and the header (the last key), in one transaction. */
static int settings_fn(spar_meta_writer *w, void *arg) {
    const tail_arg *a = arg;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(w->env, NULL, 0, &txn);
    if (rc != 0) return rc;
    uint8_t kb[512];
    for (size_t i = 0; i < w->n_set && rc == 0; i++) {
        size_t kl = strlen(w->set[i].key);
        kb[0] = K_SETTING;
        memcpy(kb + 1, w->set[i].key, kl);
        MDB_val k = {1 + kl, kb}, v = {strlen(w->set[i].value), w->set[i].value};
        rc = mdb_put(txn, w->dbi, &k, &v, MDB_APPEND);
    }
    if (rc == 0) {
        uint8_t hdr[META_HEADER_BYTES];
        memcpy(hdr, META_MAGIC, 8);
        le32(hdr + 8, META_VERSION);
        le32(hdr + 12, 0);
        le64(hdr + 16, w->n_committed);
        le64(hdr + 24, w->n_fields);
        le64(hdr + 32, a->n_doc2id);
        le64(hdr + 40, a->n_id2doc);
        le64(hdr + 48, w->n_set);
        kb[0] = K_HEADER;
        MDB_val k = {1, kb}, v = {sizeof hdr, hdr};
        rc = mdb_put(txn, w->dbi, &k, &v, MDB_APPEND);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* Append the fields and doc2id (copied from the scratch file), id2doc, the settings and the header to
 * data.mdb, in key order. */
static spar_status write_tail(spar_meta_writer *w, spar_diag *diag) {
    spar_status st = SPAR_OK;
    const uint32_t n = w->n_committed;
    collect_ctx c = {0};
    c.ents = malloc(((size_t)n + 1) * sizeof *c.ents);
    if (c.ents == NULL) return SPAR_E_NOMEM;
    copy_arg fa = {K_FIELDS, NULL, n, 0, 0}, ca = {K_DOC2ID, &c, n, 0, 0};
    int rc = 0;
    SPAR_TRY_GOTO(st, copy_kind(w, &fa, diag), done);
    SPAR_TRY_GOTO(st, copy_kind(w, &ca, diag), done);
    if (fa.n_recs != w->n_fields) {
        st = spar_diag_err(diag, SPAR_E_INTERNAL, "fields: %" PRIu64 " records copied, %" PRIu64 " written",
                           fa.n_recs, w->n_fields);
        goto done;
    }
    if (c.n != n) {
        st = spar_diag_err(diag, SPAR_E_INTERNAL, "doc2id holds %" PRIu32 " ids, %" PRIu32 " written", c.n, n);
        goto done;
    }
    t_sort_arena = c.arena;
    if (n > 1) qsort(c.ents, n, sizeof *c.ents, sort_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (bytes_cmp(c.arena + c.ents[i - 1].off, c.ents[i - 1].len, c.arena + c.ents[i].off, c.ents[i].len) == 0) {
            st = spar_diag_err(diag, SPAR_E_INTERNAL, "duplicate id at docids %" PRIu32 " and %" PRIu32,
                               c.ents[i - 1].docid, c.ents[i].docid);
            goto done;
        }
    perm_arg pa = {&c, n, 0, 0};
    while (pa.next < n)
        if ((rc = with_growth(w, ENV_MAIN, perm_fn, &pa)) != 0) {
            st = spar_from_lmdb(rc, diag);
            goto done;
        }
    tail_arg ta = {ca.n_recs, pa.n_blocks};
    if (w->n_set > 1) qsort(w->set, w->n_set, sizeof *w->set, set_order);
    if ((rc = with_growth(w, ENV_MAIN, settings_fn, &ta)) != 0) st = spar_from_lmdb(rc, diag);
done:
    free(c.ents);
    free(c.arena);
    free(c.lasts);
    return st;
}

/* Copy the environment, compacted, to data.mdb.compact and rename it over data.mdb (closes the env). */
static spar_status compact_env(spar_meta_writer *w, spar_diag *diag) {
    spar_status st = SPAR_OK;
    char *tmp = path2(w->dir, SPAR_META_DATA_FILE ".compact"), *dst = path2(w->dir, SPAR_META_DATA_FILE);
    int fd = -1;
    if (tmp == NULL || dst == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    int rc = mdb_env_copyfd2(w->env, fd, MDB_CP_COMPACT);
    if (rc != 0) {
        st = spar_from_lmdb(rc, diag);
        goto done;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    mdb_env_close(w->env);
    w->env = NULL;
    if (rename(tmp, dst) != 0) st = spar_diag_err(diag, SPAR_E_IO, "rename %s: %s", tmp, strerror(errno));
done:
    if (fd >= 0) close(fd);
    if (st != SPAR_OK && tmp) unlink(tmp);
    free(tmp);
    free(dst);
    return st;
}

spar_status spar_meta_writer_close(spar_meta_writer *w, uint64_t *doc2id_xxh3, uint64_t *fields_xxh3,
                                   spar_diag *diag) {
    spar_status st = SPAR_OK;
    if (w->in_batch) {
        spar_meta_writer_abort(w);
        return SPAR_E_INTERNAL;
    }
    free(w->slots); /* no more adds: the duplicate table goes before the sort needs memory */
    w->slots = NULL;
    batch_arg a = {1, 0};
    int rc = with_growth(w, ENV_SCRATCH, blocks_fn, &a);
    if (rc != 0) {
        st = spar_from_lmdb(rc, diag);
        goto done;
    }
    tail_drop(w, a.written);
    SPAR_TRY_GOTO(st, write_tail(w, diag), done);
    SPAR_TRY_GOTO(st, compact_env(w, diag), done);
    mdb_env_close(w->scratch);
    w->scratch = NULL;
    if (unlink(w->scratch_path) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", w->scratch_path, strerror(errno));
        goto done;
    }
    if (doc2id_xxh3) *doc2id_xxh3 = XXH3_64bits_digest(w->h_doc2id);
    if (fields_xxh3) *fields_xxh3 = XXH3_64bits_digest(w->h_fields);
done:
    spar_meta_writer_abort(w); /* closes and frees */
    return st;
}

void spar_meta_writer_abort(spar_meta_writer *w) {
    if (w == NULL) return;
    if (w->env) mdb_env_close(w->env);
    if (w->scratch) mdb_env_close(w->scratch);
    if (w->h_doc2id) XXH3_freeState(w->h_doc2id);
    if (w->h_fields) XXH3_freeState(w->h_fields);
    for (size_t i = 0; i < w->n_set; i++) {
        free(w->set[i].key);
        free(w->set[i].value);
    }
    free(w->set);
    free(w->dir);
    free(w->scratch_path);
    free(w->tail);
    free(w->tail_off);
    free(w->slots);
    free(w->rep);
    free(w->val);
    free(w);
}

/* ---- reader ---- */

struct spar_meta {
    MDB_env *env;
    MDB_dbi dbi;
    uint64_t n_docs, n_fields, n_doc2id, n_id2doc, n_settings;
};

/* A database of an older format (named databases, no K_HEADER record): its version, for the error. */
static spar_status refuse_old(MDB_txn *txn, spar_diag *diag) {
    MDB_dbi old;
    unsigned version = 0;
    if (mdb_dbi_open(txn, "info", 0, &old) == 0) { /* format 2: its header in the "info" database */
        MDB_val k = {6, "header"}, v;
        version = 2;
        if (mdb_get(txn, old, &k, &v) == 0 && v.mv_size >= 12 && memcmp(v.mv_data, META_MAGIC, 8) == 0)
            version = rle32((const uint8_t *)v.mv_data + 8);
    } else if (mdb_dbi_open(txn, "doc2id", 0, &old) == 0) { /* format 1: no header at all */
        version = 1;
    }
    if (version == 0 || version >= META_VERSION)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "meta header is missing");
    return spar_diag_err(diag, SPAR_E_VERSION,
                         "unsupported meta.lmdb format version %u (this build reads version %u): rebuild the index",
                         version, META_VERSION);
}

static spar_status read_header(spar_meta *m, MDB_txn *txn, spar_diag *diag) {
    uint8_t kb[1] = {K_HEADER};
    MDB_val k = {1, kb}, v;
    int rc = mdb_get(txn, m->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return refuse_old(txn, diag);
    if (rc != 0) return spar_from_lmdb(rc, diag);
    const uint8_t *p = v.mv_data;
    if (v.mv_size < 12 || memcmp(p, META_MAGIC, 8) != 0)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "meta header is malformed");
    if (rle32(p + 8) != META_VERSION)
        return spar_diag_err(diag, SPAR_E_VERSION,
                             "unsupported meta.lmdb format version %" PRIu32 " (this build reads version %u)%s",
                             rle32(p + 8), META_VERSION, rle32(p + 8) < META_VERSION ? ": rebuild the index" : "");
    if (v.mv_size != META_HEADER_BYTES || rle32(p + 12) != 0)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "meta header is malformed");
    m->n_docs = rle64(p + 16);
    m->n_fields = rle64(p + 24);
    m->n_doc2id = rle64(p + 32);
    m->n_id2doc = rle64(p + 40);
    m->n_settings = rle64(p + 48);
    /* doc2id blocks hold 1..SPAR_IDBLOCK_MAX_IDS ids, id2doc blocks 1..SPAR_PERMBLOCK_MAX_IDS: other counts
     * are a damaged file */
    const uint64_t n = m->n_docs;
    if (n >= UINT32_MAX || m->n_fields > n || m->n_doc2id < (n + SPAR_IDBLOCK_MAX_IDS - 1) / SPAR_IDBLOCK_MAX_IDS ||
        m->n_doc2id > n || m->n_id2doc < (n + SPAR_PERMBLOCK_MAX_IDS - 1) / SPAR_PERMBLOCK_MAX_IDS || m->n_id2doc > n ||
        m->n_settings > UINT32_MAX)
        return spar_diag_err(diag, SPAR_E_CORRUPT,
                             "meta header: %" PRIu64 " documents in %" PRIu64 " doc2id / %" PRIu64
                             " id2doc blocks, %" PRIu64 " fields: impossible",
                             n, m->n_doc2id, m->n_id2doc, m->n_fields);
    MDB_stat s;
    if ((rc = mdb_stat(txn, m->dbi, &s)) != 0) return spar_from_lmdb(rc, diag);
    if ((uint64_t)s.ms_entries != 1 + m->n_fields + m->n_doc2id + m->n_id2doc + m->n_settings)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "meta holds %zu records, its header counts %" PRIu64,
                             (size_t)s.ms_entries, 1 + m->n_fields + m->n_doc2id + m->n_id2doc + m->n_settings);
    return SPAR_OK;
}

spar_status spar_meta_open(const char *dir, spar_meta **out, spar_diag *diag) {
    *out = NULL;
    spar_meta *m = calloc(1, sizeof *m);
    if (m == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    MDB_txn *txn = NULL;
    int rc;
    /* two named databases at most: only to recognise (and refuse) formats 1 and 2 */
    if ((rc = mdb_env_create(&m->env)) != 0 || (rc = mdb_env_set_maxdbs(m->env, 2)) != 0 ||
        (rc = mdb_env_open(m->env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644)) != 0 ||
        (rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn)) != 0 || (rc = mdb_dbi_open(txn, NULL, 0, &m->dbi)) != 0 ||
        (rc = mdb_set_compare(txn, m->dbi, key_cmp)) != 0) {
        st = spar_from_lmdb(rc, diag);
        goto fail;
    }
    if ((st = read_header(m, txn, diag)) != SPAR_OK) goto fail;
    mdb_txn_abort(txn);
    *out = m;
    return SPAR_OK;
fail:
    if (txn) mdb_txn_abort(txn);
    if (diag) {
        char tmp[sizeof diag->msg];
        memcpy(tmp, diag->msg, sizeof tmp);
        spar_diag_set(diag, "%s: %s", dir, tmp);
    }
    spar_meta_close(m);
    return st;
}

void spar_meta_close(spar_meta *m) {
    if (m == NULL) return;
    if (m->env) mdb_env_close(m->env);
    free(m);
}

spar_status spar_meta_counts(const spar_meta *m, uint64_t *n_id2doc, uint64_t *n_doc2id, uint64_t *n_fields,
                             spar_diag *diag) {
    (void)diag; /* the header's counts were checked against the B-tree at open */
    if (n_id2doc) *n_id2doc = m->n_docs;
    if (n_doc2id) *n_doc2id = m->n_docs;
    if (n_fields) *n_fields = m->n_fields;
    return SPAR_OK;
}

static void copy_out(const void *src, size_t n, char *buf, size_t cap, size_t *len) {
    if (len) *len = n;
    if (buf == NULL || cap == 0) return;
    size_t k = n < cap - 1 ? n : cap - 1;
    if (k) memcpy(buf, src, k);
    buf[k] = '\0';
}

/* A read-only transaction and one cursor on the main database. */
static int read_begin(const spar_meta *m, MDB_txn **txn, MDB_cursor **cur) {
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, txn);
    if (rc != 0) return rc;
    if ((rc = mdb_cursor_open(*txn, m->dbi, cur)) != 0) {
        mdb_txn_abort(*txn);
        *txn = NULL;
    }
    return rc;
}

static void read_end(MDB_txn *txn, MDB_cursor *cur) {
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
}

spar_status spar_meta_doc_id(const spar_meta *m, uint32_t docid, char *buf, size_t cap, size_t *len) {
    if (docid >= m->n_docs) return SPAR_E_NOT_FOUND;
    MDB_txn *txn = NULL;
    d2i_reader r = {0};
    int rc = read_begin(m, &txn, &r.cur);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    uint8_t id[SPAR_IDBLOCK_ID_MAX];
    size_t n = 0;
    spar_status st = d2i_get(&r, docid, id, &n);
    if (st == SPAR_E_NOT_FOUND) st = SPAR_E_CORRUPT; /* docid < n_docs must have a block */
    if (st == SPAR_OK) copy_out(id, n, buf, cap, len);
    read_end(txn, r.cur);
    return st;
}

spar_status spar_meta_lookup(const spar_meta *m, const char *id, size_t len, uint32_t *docid) {
    if (len == 0 || len > spar_meta_max_id_bytes()) return SPAR_E_NOT_FOUND;
    MDB_txn *txn = NULL;
    d2i_reader r = {0}; /* one cursor: the id2doc block is read first, then doc2id */
    int rc = read_begin(m, &txn, &r.cur);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    spar_status st = SPAR_OK;
    /* the block whose last sort key is the first >= the id's */
    uint8_t kb[1 + SPAR_SORTKEY_MAX];
    const size_t kl = id2doc_key((const uint8_t *)id, len, kb);
    MDB_val k = {kl, kb}, v;
    if ((rc = mdb_cursor_get(r.cur, &k, &v, MDB_SET_RANGE)) != 0 || key_kind(&k) != K_ID2DOC) {
        st = rc != 0 ? spar_from_lmdb(rc, NULL) : SPAR_E_NOT_FOUND;
        goto done;
    }
    spar_permblock_view pv;
    if ((st = spar_permblock_open(v.mv_data, v.mv_size, &pv)) != SPAR_OK) goto done;
    const uint32_t n = pv.n;
    if (k.mv_size == kl && memcmp(k.mv_data, kb, kl) == 0) {
        st = spar_permblock_docid(&pv, n - 1, docid);
        goto done;
    }
    st = SPAR_E_NOT_FOUND;
    if (pv.tagged) {
        uint8_t have[SPAR_IDBLOCK_ID_MAX];
        size_t hl = 0; /* read only the ids whose tag matches: 63/256 false candidates on average */
        const uint8_t t = id_tag(id, len);
        for (uint32_t j = 0; j + 1 < n; j++) {
            uint32_t cand = 0;
            if (pv.tags[j] != t) continue;
            spar_status s2 = spar_permblock_docid(&pv, j, &cand);
            if (s2 == SPAR_OK) s2 = d2i_get(&r, cand, have, &hl);
            if (s2 != SPAR_OK) {
                st = s2 == SPAR_E_NOT_FOUND ? SPAR_E_CORRUPT : s2;
                break;
            }
            if (hl == len && memcmp(have, id, len) == 0) {
                *docid = cand;
                st = SPAR_OK;
                break;
            }
        }
        goto done;
    }
    /* one run of docids (the writer tags every other block), so the ids of docids d0..d0+n-2 ascend in
     * sort-key order in doc2id: search them there, block by block (nearly always one) */
    if (!pv.one_run) {
        st = SPAR_E_CORRUPT;
        goto done;
    }
    const uint32_t d0 = pv.run_first;
    for (uint32_t from = d0, to = d0 + n - 2; n >= 2 && from <= to;) {
        spar_status s2 = d2i_load(&r, from);
        if (s2 != SPAR_OK) {
            st = s2 == SPAR_E_NOT_FOUND ? SPAR_E_CORRUPT : s2;
            break;
        }
        const uint32_t hi = to < r.last ? to : r.last;
        uint32_t at = 0;
        s2 = spar_idblock_find(r.blk, r.len, from - r.first, hi - r.first, kb + 1, kl - 1, &at);
        if (s2 == SPAR_OK) {
            *docid = r.first + at;
            st = SPAR_OK;
            break;
        }
        if (s2 != SPAR_E_NOT_FOUND) {
            st = SPAR_E_CORRUPT;
            break;
        }
        if (at <= hi - r.first) break; /* below an id of the range: absent */
        from = hi + 1;
    }
done:
    read_end(txn, r.cur);
    return st;
}

spar_status spar_meta_fields(const spar_meta *m, uint32_t docid, char *title, size_t title_cap, size_t *title_len,
                             char *text, size_t text_cap, size_t *text_len) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    uint8_t kb[5];
    MDB_val k = docid_key(kb, K_FIELDS, docid), v;
    rc = mdb_get(txn, m->dbi, &k, &v);
    if (rc == 0) {
        const uint8_t *p = v.mv_data;
        uint32_t tl = v.mv_size >= 4 ? rle32(p) : UINT32_MAX;
        if (v.mv_size < 4 || tl > v.mv_size - 4) {
            rc = MDB_CORRUPTED;
        } else {
            copy_out(p + 4, tl, title, title_cap, title_len);
            copy_out(p + 4 + tl, v.mv_size - 4 - tl, text, text_cap, text_len);
        }
    }
    mdb_txn_abort(txn);
    return spar_from_lmdb(rc, NULL);
}

spar_status spar_meta_setting(const spar_meta *m, const char *key, char *buf, size_t cap, size_t *len) {
    const size_t kl = strlen(key);
    if (kl == 0 || kl > 510) return SPAR_E_NOT_FOUND;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    uint8_t kb[512];
    kb[0] = K_SETTING;
    memcpy(kb + 1, key, kl);
    MDB_val k = {1 + kl, kb}, v;
    rc = mdb_get(txn, m->dbi, &k, &v);
    if (rc == 0) copy_out(v.mv_data, v.mv_size, buf, cap, len);
    mdb_txn_abort(txn);
    return spar_from_lmdb(rc, NULL);
}

typedef struct {
    XXH3_state_t *h;
    uint32_t first;
} hash_ctx;

static int hash_cb(void *ctx, uint32_t i, const uint8_t *id, size_t len) {
    hash_ctx *c = ctx;
    hash_rec(c->h, c->first + i, id, len);
    return 0;
}

/* Position cur on the first record of a kind; MDB_NOTFOUND when there is none. */
static int first_of(MDB_cursor *cur, uint8_t kind, MDB_val *k, MDB_val *v) {
    uint8_t kb[1] = {kind};
    k->mv_size = 1;
    k->mv_data = kb;
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == 0 && key_kind(k) != kind) rc = MDB_NOTFOUND;
    return rc;
}
static int next_of(MDB_cursor *cur, uint8_t kind, MDB_val *k, MDB_val *v) {
    int rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    if (rc == 0 && key_kind(k) != kind) rc = MDB_NOTFOUND;
    return rc;
}

/* The end of a walk over one kind: MDB_NOTFOUND is the normal end. */
static spar_status walk_end(int rc, spar_diag *diag) {
    if (rc == MDB_NOTFOUND) return SPAR_OK;
    spar_status st = spar_from_lmdb(rc, diag);
    return st == SPAR_E_NOT_FOUND ? SPAR_E_CORRUPT : st;
}

/* doc2id: blocks cover docids 0..n-1 in order, every block decodes; hashes the (docid, id) sequence. */
static spar_status scan_doc2id(const spar_meta *m, MDB_cursor *cur, XXH3_state_t *h, spar_diag *diag) {
    uint64_t next = 0, blocks = 0;
    MDB_val k, v;
    int rc;
    for (rc = first_of(cur, K_DOC2ID, &k, &v); rc == 0; rc = next_of(cur, K_DOC2ID, &k, &v)) {
        uint32_t cnt = 0;
        if (k.mv_size != 5) return spar_diag_err(diag, SPAR_E_CORRUPT, "doc2id: block key of %zu bytes", k.mv_size);
        const uint32_t last = key_docid(&k);
        if (spar_idblock_count(v.mv_data, v.mv_size, &cnt) != SPAR_OK || last < next || last - next + 1 != cnt)
            return spar_diag_err(diag, SPAR_E_CORRUPT,
                                 "doc2id: block ending at docid %" PRIu32 " does not hold docids %" PRIu64 "..", last,
                                 next);
        hash_ctx c = {h, (uint32_t)next};
        spar_diag d;
        if (spar_idblock_each(v.mv_data, v.mv_size, hash_cb, &c, &d) != SPAR_OK)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "doc2id: block ending at docid %" PRIu32 ": %s", last, d.msg);
        next = (uint64_t)last + 1;
        blocks++;
    }
    spar_status st = walk_end(rc, diag);
    if (st == SPAR_OK && (next != m->n_docs || blocks != m->n_doc2id))
        st = spar_diag_err(diag, SPAR_E_CORRUPT,
                           "doc2id: holds %" PRIu64 " ids in %" PRIu64 " blocks, the header says %" PRIu64 " in %" PRIu64,
                           next, blocks, m->n_docs, m->n_doc2id);
    return st;
}

/* id2doc: every docid exactly once, sort keys strictly increasing, each block keyed by its last. */
static spar_status scan_id2doc(const spar_meta *m, MDB_txn *txn, MDB_cursor *cur, spar_diag *diag) {
    const uint64_t n_docs = m->n_docs;
    uint8_t *seen = calloc((size_t)(n_docs / 8 + 1), 1);
    if (seen == NULL) return SPAR_E_NOMEM;
    d2i_reader r = {0};
    spar_status st = SPAR_OK;
    int rc = mdb_cursor_open(txn, m->dbi, &r.cur);
    if (rc != 0) {
        st = spar_from_lmdb(rc, diag);
        goto done;
    }
    uint8_t prev[1 + SPAR_SORTKEY_MAX], cur_key[1 + SPAR_SORTKEY_MAX], cur_id[SPAR_IDBLOCK_ID_MAX];
    size_t prev_len = 0;
    uint64_t total = 0, blk = 0;
    MDB_val k, v;
    for (rc = first_of(cur, K_ID2DOC, &k, &v); rc == 0; rc = next_of(cur, K_ID2DOC, &k, &v), blk++) {
        uint32_t docids[SPAR_PERMBLOCK_MAX_IDS], n = 0;
        uint8_t tags[SPAR_PERMBLOCK_MAX_IDS];
        int tagged = 0;
        if (spar_permblock_decode(v.mv_data, v.mv_size, docids, tags, &tagged, &n) != SPAR_OK) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: block %" PRIu64 " is malformed", blk);
            goto done;
        }
        for (uint32_t j = 1; j < n && !tagged; j++)
            if (docids[j] != docids[0] + j) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: untagged block %" PRIu64 " is not one docid run",
                                   blk);
                goto done;
            }
        for (uint32_t j = 0; j < n; j++) {
            const uint32_t d = docids[j];
            if (d >= n_docs || (seen[d / 8] >> (d % 8) & 1u)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: docid %" PRIu32 " is out of range or listed twice",
                                   d);
                goto done;
            }
            seen[d / 8] |= (uint8_t)(1u << (d % 8));
            size_t cl = 0;
            if (d2i_get(&r, d, cur_id, &cl) != SPAR_OK) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: docid %" PRIu32 " has no readable id", d);
                goto done;
            }
            if (tagged && tags[j] != id_tag(cur_id, cl)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: wrong tag for docid %" PRIu32, d);
                goto done;
            }
            const size_t kl = id2doc_key(cur_id, cl, cur_key);
            if (total + j > 0 && bytes_cmp(prev, prev_len, cur_key, kl) >= 0) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: ids out of order at docid %" PRIu32, d);
                goto done;
            }
            memcpy(prev, cur_key, kl);
            prev_len = kl;
        }
        if (bytes_cmp(k.mv_data, k.mv_size, prev, prev_len) != 0) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc: block %" PRIu64 " is not keyed by its last id", blk);
            goto done;
        }
        total += n;
    }
    st = walk_end(rc, diag);
    if (st == SPAR_OK && (total != n_docs || blk != m->n_id2doc))
        st = spar_diag_err(diag, SPAR_E_CORRUPT,
                           "id2doc has %" PRIu64 " entries in %" PRIu64 " blocks, doc2id %" PRIu64 ", the header %" PRIu64
                           " blocks",
                           total, blk, n_docs, m->n_id2doc);
done:
    if (r.cur) mdb_cursor_close(r.cur);
    free(seen);
    return st;
}

/* fields: keys are valid docids; hashes (docid, value) in docid order. */
static spar_status scan_fields(const spar_meta *m, MDB_cursor *cur, XXH3_state_t *h, spar_diag *diag) {
    MDB_val k, v;
    uint64_t n = 0;
    int rc;
    for (rc = first_of(cur, K_FIELDS, &k, &v); rc == 0; rc = next_of(cur, K_FIELDS, &k, &v)) {
        if (k.mv_size != 5 || key_docid(&k) >= m->n_docs || v.mv_size < 4 || rle32(v.mv_data) > v.mv_size - 4)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "fields: malformed entry");
        hash_rec(h, key_docid(&k), v.mv_data, v.mv_size);
        n++;
    }
    spar_status st = walk_end(rc, diag);
    if (st == SPAR_OK && n != m->n_fields)
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "fields: %" PRIu64 " entries, the header says %" PRIu64, n,
                           m->n_fields);
    return st;
}

/* settings: non-empty names; the count matches the header. */
static spar_status scan_settings(const spar_meta *m, MDB_cursor *cur, spar_diag *diag) {
    MDB_val k, v;
    uint64_t n = 0;
    int rc;
    for (rc = first_of(cur, K_SETTING, &k, &v); rc == 0; rc = next_of(cur, K_SETTING, &k, &v)) {
        if (k.mv_size < 2) return spar_diag_err(diag, SPAR_E_CORRUPT, "settings: empty name");
        n++;
    }
    spar_status st = walk_end(rc, diag);
    if (st == SPAR_OK && n != m->n_settings)
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "settings: %" PRIu64 " entries, the header says %" PRIu64, n,
                           m->n_settings);
    return st;
}

spar_status spar_meta_scan(const spar_meta *m, uint64_t *doc2id_xxh3, uint64_t *fields_xxh3, spar_diag *diag) {
    spar_status st = SPAR_OK;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    XXH3_state_t *h = XXH3_createState();
    if (h == NULL) return SPAR_E_NOMEM;
    int rc = read_begin(m, &txn, &cur);
    if (rc != 0) {
        st = spar_from_lmdb(rc, diag);
        goto done;
    }
    /* the kinds' counts add up to the B-tree's entries (checked at open), so there is nothing else */
    XXH3_64bits_reset(h);
    SPAR_TRY_GOTO(st, scan_doc2id(m, cur, h, diag), done);
    if (doc2id_xxh3) *doc2id_xxh3 = XXH3_64bits_digest(h);
    SPAR_TRY_GOTO(st, scan_id2doc(m, txn, cur, diag), done);
    XXH3_64bits_reset(h);
    SPAR_TRY_GOTO(st, scan_fields(m, cur, h, diag), done);
    if (fields_xxh3) *fields_xxh3 = XXH3_64bits_digest(h);
    SPAR_TRY_GOTO(st, scan_settings(m, cur, diag), done);
done:
    read_end(txn, cur);
    XXH3_freeState(h);
    return st;
}
