/* storage/meta.c — LMDB metadata store of an index directory (contract: storage/meta.h, layout:
 * docs/format/meta-lmdb.md). LMDB errors are translated here and nowhere else (spar_from_lmdb).
 * The writer runs with MDB_NOLOCK|MDB_NOSYNC (single writer, synced once at close) and commits one
 * transaction per batch; a batch that hits MDB_MAP_FULL is aborted, the map doubled and the batch
 * replayed from the writer's own copy, so the caller never sees the map size. */
#include "storage/meta.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

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
static void le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static uint32_t rle32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Hash record: u32 LE docid, u32 LE length, bytes. */
static void hash_rec(XXH3_state_t *h, uint32_t docid, const void *v, size_t n) {
    uint8_t pre[8];
    le32(pre, docid);
    le32(pre + 4, (uint32_t)n);
    XXH3_64bits_update(h, pre, 8);
    if (n) XXH3_64bits_update(h, v, n);
}

/* ---- writer ---- */

struct spar_meta_writer {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi id2doc, doc2id, fields, settings;
    uint64_t map_bytes;
    int store_text;
    uint32_t n_committed; /* docids < n_committed are durable in the file */
    uint32_t n_batch;     /* docs added in the open batch */
    /* copy of the open batch, for replay after MDB_MAP_FULL: records of u32 id_len, u32 title_len,
     * u32 text_len, bytes */
    uint8_t *rep;
    size_t rep_len, rep_cap;
    /* largest id so far: a larger id is put with MDB_APPEND (full pages for sorted ids; it cannot be a
     * duplicate); the value at batch start is kept for replay */
    uint8_t last_id[512], batch_last_id[512];
    size_t last_len, batch_last_len;
    int have_last, batch_have_last;
    XXH3_state_t *h_doc2id, *h_fields;
    uint8_t *val;
    size_t val_cap;
};

size_t spar_meta_max_id_bytes(void) { return 511; } /* LMDB's default MDB_MAXKEYSIZE */

static spar_status open_dbis(spar_meta_writer *w, spar_diag *diag) {
    int rc;
    if ((rc = mdb_txn_begin(w->env, NULL, 0, &w->txn)) != 0) return spar_from_lmdb(rc, diag);
    if ((rc = mdb_dbi_open(w->txn, "id2doc", MDB_CREATE, &w->id2doc)) != 0 ||
        (rc = mdb_dbi_open(w->txn, "doc2id", MDB_CREATE, &w->doc2id)) != 0 ||
        (rc = mdb_dbi_open(w->txn, "fields", MDB_CREATE, &w->fields)) != 0 ||
        (rc = mdb_dbi_open(w->txn, "settings", MDB_CREATE, &w->settings)) != 0) {
        mdb_txn_abort(w->txn);
        w->txn = NULL;
        return spar_from_lmdb(rc, diag);
    }
    rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    return spar_from_lmdb(rc, diag);
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
    w->h_doc2id = XXH3_createState();
    w->h_fields = XXH3_createState();
    if (w->h_doc2id == NULL || w->h_fields == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    XXH3_64bits_reset(w->h_doc2id);
    XXH3_64bits_reset(w->h_fields);
    int rc;
    if ((rc = mdb_env_create(&w->env)) != 0 || (rc = mdb_env_set_maxdbs(w->env, 4)) != 0 ||
        (rc = mdb_env_set_mapsize(w->env, (size_t)w->map_bytes)) != 0 ||
        (rc = mdb_env_open(w->env, dir, MDB_NOLOCK | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0644)) != 0) {
        st = spar_from_lmdb(rc, diag);
        goto fail;
    }
    SPAR_TRY_GOTO(st, open_dbis(w, diag), fail);
    *out = w;
    return SPAR_OK;
fail:
    spar_meta_writer_abort(w);
    return st;
}

spar_status spar_meta_writer_begin(spar_meta_writer *w, spar_diag *diag) {
    if (w->txn != NULL) return SPAR_E_INTERNAL;
    w->n_batch = 0;
    w->rep_len = 0;
    memcpy(w->batch_last_id, w->last_id, w->last_len);
    w->batch_last_len = w->last_len;
    w->batch_have_last = w->have_last;
    return spar_from_lmdb(mdb_txn_begin(w->env, NULL, 0, &w->txn), diag);
}

/* The puts of one document; returns the raw LMDB code (MDB_KEYEXIST with *first set on duplicates). */
static int put_doc(spar_meta_writer *w, uint32_t docid, const char *id, size_t id_len, const char *title,
                   size_t title_len, const char *text, size_t text_len, uint32_t *first) {
    uint8_t kb[4], vb[4];
    be32(kb, docid);
    be32(vb, docid);
    MDB_val k = {id_len, (void *)id}, v = {4, vb};
    int after = 1;
    if (w->have_last) {
        int c = memcmp(id, w->last_id, id_len < w->last_len ? id_len : w->last_len);
        after = c > 0 || (c == 0 && id_len > w->last_len);
    }
    int rc = mdb_put(w->txn, w->id2doc, &k, &v, after ? MDB_APPEND : MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        if (first) *first = v.mv_size == 4 ? rbe32(v.mv_data) : UINT32_MAX;
        return rc;
    }
    if (rc != 0) return rc;
    if (after) {
        memcpy(w->last_id, id, id_len);
        w->last_len = id_len;
        w->have_last = 1;
    }
    MDB_val k2 = {4, kb}, v2 = {id_len, (void *)id};
    if ((rc = mdb_put(w->txn, w->doc2id, &k2, &v2, MDB_APPEND)) != 0) return rc;
    if (w->store_text) {
        size_t n = 4 + title_len + text_len;
        if (n > w->val_cap) {
            uint8_t *p = realloc(w->val, n);
            if (p == NULL) return ENOMEM;
            w->val = p;
            w->val_cap = n;
        }
        le32(w->val, (uint32_t)title_len);
        if (title_len) memcpy(w->val + 4, title, title_len);
        if (text_len) memcpy(w->val + 4 + title_len, text, text_len);
        MDB_val v3 = {n, w->val};
        if ((rc = mdb_put(w->txn, w->fields, &k2, &v3, MDB_APPEND)) != 0) return rc;
    }
    return 0;
}

static int rep_push(spar_meta_writer *w, const char *id, size_t id_len, const char *title, size_t title_len,
                    const char *text, size_t text_len) {
    if (!w->store_text) title_len = text_len = 0;
    size_t need = 12 + id_len + title_len + text_len;
    if (w->rep_len + need > w->rep_cap) {
        size_t cap = w->rep_cap ? w->rep_cap : 1u << 16;
        while (cap < w->rep_len + need) cap *= 2;
        uint8_t *p = realloc(w->rep, cap);
        if (p == NULL) return 0;
        w->rep = p;
        w->rep_cap = cap;
    }
    uint8_t *p = w->rep + w->rep_len;
    le32(p, (uint32_t)id_len);
    le32(p + 4, (uint32_t)title_len);
    le32(p + 8, (uint32_t)text_len);
    memcpy(p + 12, id, id_len);
    if (title_len) memcpy(p + 12 + id_len, title, title_len);
    if (text_len) memcpy(p + 12 + id_len + title_len, text, text_len);
    w->rep_len += need;
    return 1;
}

/* After MDB_MAP_FULL: abort, double the map, replay the batch so far. */
static int grow_and_replay(spar_meta_writer *w) {
    mdb_txn_abort(w->txn);
    w->txn = NULL;
    for (;;) {
        memcpy(w->last_id, w->batch_last_id, w->batch_last_len);
        w->last_len = w->batch_last_len;
        w->have_last = w->batch_have_last;
        w->map_bytes *= 2;
        int rc = mdb_env_set_mapsize(w->env, (size_t)w->map_bytes);
        if (rc == 0) rc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
        if (rc != 0) return rc;
        size_t pos = 0;
        uint32_t i = 0;
        while (pos < w->rep_len && rc == 0) {
            const uint8_t *p = w->rep + pos;
            uint32_t il = rle32(p), tl = rle32(p + 4), xl = rle32(p + 8);
            const char *s = (const char *)p + 12;
            rc = put_doc(w, w->n_committed + i, s, il, s + il, tl, s + il + tl, xl, NULL);
            pos += 12 + (size_t)il + tl + xl;
            i++;
        }
        if (rc == 0) return 0;
        mdb_txn_abort(w->txn);
        w->txn = NULL;
        if (rc != MDB_MAP_FULL) return rc;
    }
}

spar_status spar_meta_writer_add(spar_meta_writer *w, const char *id, size_t id_len, const char *title,
                                 size_t title_len, const char *text, size_t text_len, uint32_t *first_docid,
                                 spar_diag *diag) {
    if (w->txn == NULL) return SPAR_E_INTERNAL;
    if (id_len == 0 || id_len > spar_meta_max_id_bytes())
        return spar_diag_err(diag, SPAR_E_CORRUPT, "_id of %zu bytes (must be 1..%zu)", id_len,
                             spar_meta_max_id_bytes());
    if ((uint64_t)title_len + text_len > UINT32_MAX - 8)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "document too large to store");
    const uint32_t docid = w->n_committed + w->n_batch;
    if (docid == UINT32_MAX) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "more than 2^32-1 documents");
    int rc = put_doc(w, docid, id, id_len, title, title_len, text, text_len, first_docid);
    if (rc == MDB_MAP_FULL) {
        if ((rc = grow_and_replay(w)) == 0)
            rc = put_doc(w, docid, id, id_len, title, title_len, text, text_len, first_docid);
    }
    if (rc == MDB_KEYEXIST) return SPAR_E_EXISTS;
    if (rc != 0) return spar_from_lmdb(rc, diag);
    if (!rep_push(w, id, id_len, title, title_len, text, text_len)) return SPAR_E_NOMEM;
    w->n_batch++;
    return SPAR_OK;
}

spar_status spar_meta_writer_end(spar_meta_writer *w, spar_diag *diag) {
    if (w->txn == NULL) return SPAR_E_INTERNAL;
    int rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    if (rc == MDB_MAP_FULL) {
        if ((rc = grow_and_replay(w)) == 0) {
            rc = mdb_txn_commit(w->txn);
            w->txn = NULL;
        }
    }
    if (rc != 0) return spar_from_lmdb(rc, diag);
    /* hash the committed batch in docid order */
    size_t pos = 0;
    for (uint32_t i = 0; i < w->n_batch; i++) {
        const uint8_t *p = w->rep + pos;
        uint32_t il = rle32(p), tl = rle32(p + 4), xl = rle32(p + 8);
        const uint8_t *s = p + 12;
        hash_rec(w->h_doc2id, w->n_committed + i, s, il);
        if (w->store_text) {
            uint8_t pre[12];
            le32(pre, w->n_committed + i);
            le32(pre + 4, 4 + tl + xl);
            le32(pre + 8, tl);
            XXH3_64bits_update(w->h_fields, pre, 12);
            XXH3_64bits_update(w->h_fields, s + il, (size_t)tl + xl);
        }
        pos += 12 + (size_t)il + tl + xl;
    }
    w->n_committed += w->n_batch;
    w->n_batch = 0;
    w->rep_len = 0;
    return SPAR_OK;
}

spar_status spar_meta_writer_set(spar_meta_writer *w, const char *key, const char *value, spar_diag *diag) {
    if (w->txn != NULL) return SPAR_E_INTERNAL;
    MDB_txn *txn = NULL;
    int rc;
    for (;;) {
        if ((rc = mdb_txn_begin(w->env, NULL, 0, &txn)) != 0) break;
        MDB_val k = {strlen(key), (void *)key}, v = {strlen(value), (void *)value};
        if ((rc = mdb_put(txn, w->settings, &k, &v, 0)) != 0) {
            mdb_txn_abort(txn);
        } else {
            rc = mdb_txn_commit(txn);
        }
        if (rc != MDB_MAP_FULL) break;
        w->map_bytes *= 2;
        if ((rc = mdb_env_set_mapsize(w->env, (size_t)w->map_bytes)) != 0) break;
    }
    return spar_from_lmdb(rc, diag);
}

uint64_t spar_meta_writer_n_docs(const spar_meta_writer *w) { return w->n_committed; }

spar_status spar_meta_writer_close(spar_meta_writer *w, uint64_t *doc2id_xxh3, uint64_t *fields_xxh3,
                                   spar_diag *diag) {
    spar_status st = SPAR_OK;
    if (w->txn != NULL) {
        spar_meta_writer_abort(w);
        return SPAR_E_INTERNAL;
    }
    int rc = mdb_env_sync(w->env, 1);
    if (rc != 0) st = spar_from_lmdb(rc, diag);
    if (doc2id_xxh3) *doc2id_xxh3 = XXH3_64bits_digest(w->h_doc2id);
    if (fields_xxh3) *fields_xxh3 = XXH3_64bits_digest(w->h_fields);
    spar_meta_writer_abort(w); /* closes and frees */
    return st;
}

void spar_meta_writer_abort(spar_meta_writer *w) {
    if (w == NULL) return;
    if (w->txn) mdb_txn_abort(w->txn);
    if (w->env) mdb_env_close(w->env);
    if (w->h_doc2id) XXH3_freeState(w->h_doc2id);
    if (w->h_fields) XXH3_freeState(w->h_fields);
    free(w->rep);
    free(w->val);
    free(w);
}

/* ---- reader ---- */

struct spar_meta {
    MDB_env *env;
    MDB_dbi id2doc, doc2id, fields, settings;
};

spar_status spar_meta_open(const char *dir, spar_meta **out, spar_diag *diag) {
    *out = NULL;
    spar_meta *m = calloc(1, sizeof *m);
    if (m == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    MDB_txn *txn = NULL;
    int rc;
    if ((rc = mdb_env_create(&m->env)) != 0 || (rc = mdb_env_set_maxdbs(m->env, 4)) != 0 ||
        (rc = mdb_env_open(m->env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644)) != 0 ||
        (rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "id2doc", 0, &m->id2doc)) != 0 ||
        (rc = mdb_dbi_open(txn, "doc2id", 0, &m->doc2id)) != 0 ||
        (rc = mdb_dbi_open(txn, "fields", 0, &m->fields)) != 0 ||
        (rc = mdb_dbi_open(txn, "settings", 0, &m->settings)) != 0) {
        st = spar_from_lmdb(rc, diag);
        if (st == SPAR_E_NOT_FOUND) st = spar_diag_err(diag, SPAR_E_CORRUPT, "lmdb: a database is missing");
        if (txn) mdb_txn_abort(txn);
        if (diag) {
            char tmp[sizeof diag->msg];
            memcpy(tmp, diag->msg, sizeof tmp);
            spar_diag_set(diag, "%s: %s", dir, tmp);
        }
        spar_meta_close(m);
        return st;
    }
    /* commit (not abort): dbi handles opened in an aborted txn are closed with it */
    if ((rc = mdb_txn_commit(txn)) != 0) {
        st = spar_from_lmdb(rc, diag);
        spar_meta_close(m);
        return st;
    }
    *out = m;
    return SPAR_OK;
}

void spar_meta_close(spar_meta *m) {
    if (m == NULL) return;
    if (m->env) mdb_env_close(m->env);
    free(m);
}

spar_status spar_meta_counts(const spar_meta *m, uint64_t *n_id2doc, uint64_t *n_doc2id, uint64_t *n_fields,
                             spar_diag *diag) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, diag);
    MDB_stat s1, s2, s3;
    if ((rc = mdb_stat(txn, m->id2doc, &s1)) == 0 && (rc = mdb_stat(txn, m->doc2id, &s2)) == 0 &&
        (rc = mdb_stat(txn, m->fields, &s3)) == 0) {
        if (n_id2doc) *n_id2doc = s1.ms_entries;
        if (n_doc2id) *n_doc2id = s2.ms_entries;
        if (n_fields) *n_fields = s3.ms_entries;
    }
    mdb_txn_abort(txn);
    return spar_from_lmdb(rc, diag);
}

static void copy_out(const void *src, size_t n, char *buf, size_t cap, size_t *len) {
    if (len) *len = n;
    if (buf == NULL || cap == 0) return;
    size_t k = n < cap - 1 ? n : cap - 1;
    if (k) memcpy(buf, src, k);
    buf[k] = '\0';
}

spar_status spar_meta_doc_id(const spar_meta *m, uint32_t docid, char *buf, size_t cap, size_t *len) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    uint8_t kb[4];
    be32(kb, docid);
    MDB_val k = {4, kb}, v;
    rc = mdb_get(txn, m->doc2id, &k, &v);
    if (rc == 0) copy_out(v.mv_data, v.mv_size, buf, cap, len);
    mdb_txn_abort(txn);
    return spar_from_lmdb(rc, NULL);
}

spar_status spar_meta_lookup(const spar_meta *m, const char *id, size_t len, uint32_t *docid) {
    if (len == 0 || len > spar_meta_max_id_bytes()) return SPAR_E_NOT_FOUND;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    MDB_val k = {len, (void *)id}, v;
    rc = mdb_get(txn, m->id2doc, &k, &v);
    if (rc == 0) {
        if (v.mv_size != 4) rc = MDB_CORRUPTED;
        else *docid = rbe32(v.mv_data);
    }
    mdb_txn_abort(txn);
    return spar_from_lmdb(rc, NULL);
}

spar_status spar_meta_fields(const spar_meta *m, uint32_t docid, char *title, size_t title_cap, size_t *title_len,
                             char *text, size_t text_cap, size_t *text_len) {
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    uint8_t kb[4];
    be32(kb, docid);
    MDB_val k = {4, kb}, v;
    rc = mdb_get(txn, m->fields, &k, &v);
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
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) return spar_from_lmdb(rc, NULL);
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = mdb_get(txn, m->settings, &k, &v);
    if (rc == 0) copy_out(v.mv_data, v.mv_size, buf, cap, len);
    mdb_txn_abort(txn);
    return spar_from_lmdb(rc, NULL);
}

spar_status spar_meta_scan(const spar_meta *m, uint64_t *doc2id_xxh3, uint64_t *fields_xxh3, spar_diag *diag) {
    spar_status st = SPAR_OK;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    XXH3_state_t *h = XXH3_createState();
    if (h == NULL) return SPAR_E_NOMEM;
    int rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        st = spar_from_lmdb(rc, diag);
        goto done;
    }
    /* doc2id: keys 0..n-1, each id maps back through id2doc */
    XXH3_64bits_reset(h);
    if ((rc = mdb_cursor_open(txn, m->doc2id, &cur)) != 0) goto lmdb_fail;
    MDB_val k, v;
    uint64_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
        if (k.mv_size != 4 || rbe32(k.mv_data) != n) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "doc2id: entry %" PRIu64 " has a bad key", n);
            goto done;
        }
        MDB_val back;
        int r2 = mdb_get(txn, m->id2doc, &v, &back);
        if (r2 != 0 || back.mv_size != 4 || rbe32(back.mv_data) != n) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "doc2id: docid %" PRIu64 " is not mapped back by id2doc", n);
            goto done;
        }
        hash_rec(h, (uint32_t)n, v.mv_data, v.mv_size);
    }
    if (rc != MDB_NOTFOUND) goto lmdb_fail;
    if (doc2id_xxh3) *doc2id_xxh3 = XXH3_64bits_digest(h);
    mdb_cursor_close(cur);
    cur = NULL;
    MDB_stat s;
    if ((rc = mdb_stat(txn, m->id2doc, &s)) != 0) goto lmdb_fail;
    if (s.ms_entries != n) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "id2doc has %zu entries, doc2id %" PRIu64, (size_t)s.ms_entries, n);
        goto done;
    }
    /* fields */
    XXH3_64bits_reset(h);
    if ((rc = mdb_cursor_open(txn, m->fields, &cur)) != 0) goto lmdb_fail;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 4 || rbe32(k.mv_data) >= n || v.mv_size < 4 || rle32(v.mv_data) > v.mv_size - 4) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "fields: malformed entry");
            goto done;
        }
        uint8_t pre[8];
        le32(pre, rbe32(k.mv_data));
        le32(pre + 4, (uint32_t)v.mv_size);
        XXH3_64bits_update(h, pre, 8);
        XXH3_64bits_update(h, v.mv_data, v.mv_size);
    }
    if (rc != MDB_NOTFOUND) goto lmdb_fail;
    if (fields_xxh3) *fields_xxh3 = XXH3_64bits_digest(h);
    goto done;
lmdb_fail:
    st = spar_from_lmdb(rc, diag);
    if (st == SPAR_E_NOT_FOUND) st = SPAR_E_CORRUPT;
done:
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    XXH3_freeState(h);
    return st;
}
