/* index/segment.c — one immutable postings segment file, seg-NNNNNN.post (contract: index/segment.h;
 * layout: docs/format/segment.md, version 3).
 *
 *   header (32, storage/file.h) | norms u8 x n_docs | posting lists | dictionary | footer (64 bytes)
 *
 * Document lengths are 1-byte norms (postings.h, Lucene's scheme); avgdl is derived from the recorded
 * exact total. The sections and the lists follow each other with no padding, so every offset is a running
 * sum and none is stored: the footer holds counts and sizes only, and the dictionary holds no list offsets.
 * The dictionary is front-coded within blocks of 16 terms (first term whole, for the binary search); each
 * entry packs prefix and suffix length into one varint, and df and the list size (as the excess over the
 * smallest size df postings can take) into another. A one-block list (df <= 128) has only those in its
 * entry: the rest of its spar_term_info is derived from the list and the norms at lookup.
 *
 * The writer streams lists into a spar_file_writer as terms arrive (ascending byte order) and keeps only
 * the dictionary in memory. The reader maps the file, checks header and checksum, then validates every
 * structure before returning: footer, section sizes, norms against the recorded total, every dictionary
 * entry (terms strictly ascending and canonically front-coded, lists tiling the postings area) and every
 * posting list; on the way it builds the block index in memory (where each dictionary block starts, in
 * the dictionary and in the postings area), which is therefore not in the file. Nothing read from the file
 * is used as an offset before it has been checked against the size, so crafted files (even with a valid
 * checksum) give SPAR_E_CORRUPT. */
#include "common/varint.h"
#include "index/segment.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FOOTER_BYTES 64
#define FOOTER_MAGIC 0x46474553u /* "SEGF" */
#define TERMS_PER_BLOCK 16
#define MAX_TERMS_PER_BLOCK 4096
#define MAX_SINGLE SPAR_BLOCK_SIZE /* lists with df <= this are one block: stats derived */
#define TERM_NIB 15u               /* entry header: prefix << 4 | min(suffix_len - 1, 15) */
#define DF_BITS 3u                 /* list header: excess << 3 | min(df - 1, 7) */
#define DF_LOW ((1u << DF_BITS) - 1u)
#define MIN_ENTRY_BYTES 2          /* a term header and a list header: bounds n_terms before allocating */

/* ---- little helpers ---- */

static inline uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Smallest size a list of df postings can take: 1 byte a posting for a one-block list (varints), the
 * block table alone for a longer one (all bit widths 0). The dictionary stores bytes minus this. */
static inline uint64_t min_list_bytes(uint64_t df) {
    return df <= MAX_SINGLE ? df : (df + SPAR_BLOCK_SIZE - 1) / SPAR_BLOCK_SIZE * SPAR_POSTINGS_ENTRY_BYTES;
}

static int term_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- writer ---- */

struct spar_segment_writer {
    spar_file_writer *fw;
    uint32_t n_docs;
    float k1, b;
    double avgdl;
    uint64_t total_dl;
    uint32_t *dl_q;        /* decoded norm of each document: the lengths block-max data is computed with */
    uint64_t postings_off; /* payload offset of the postings area */
    uint64_t n_terms, n_postings;
    spar_buf list;         /* scratch: one encoded list */
    spar_buf dict;
    uint8_t *last_term;
    size_t last_len, last_cap;
    spar_status failed;    /* sticky: after a failure half-way through an add, only abort is valid */
};

static void writer_free(spar_segment_writer *w) {
    spar_buf_free(&w->list);
    spar_buf_free(&w->dict);
    free(w->dl_q);
    free(w->last_term);
    free(w);
}

spar_status spar_segment_writer_open(const char *path, uint32_t n_docs, const uint32_t *doclens, float k1,
                                     float b, spar_segment_writer **out, spar_diag *diag) {
    *out = NULL;
    if (path == NULL || (n_docs > 0 && doclens == NULL) || !(k1 >= 0 && isfinite(k1)) || !(b >= 0 && b <= 1))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "segment writer: bad arguments (doclens, k1 or b)");
    spar_status st = SPAR_OK;
    uint8_t *norms = NULL;
    spar_segment_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return SPAR_E_NOMEM;
    w->n_docs = n_docs;
    w->k1 = k1;
    w->b = b;
    w->dl_q = spar_malloc_array(n_docs ? n_docs : 1, sizeof(uint32_t));
    norms = malloc(n_docs ? n_docs : 1);
    if (w->dl_q == NULL || norms == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < n_docs; i++) {
        w->total_dl += doclens[i];
        norms[i] = spar_norm_encode(doclens[i]);
        w->dl_q[i] = spar_norm_decode(norms[i]);
    }
    w->avgdl = n_docs ? (double)w->total_dl / (double)n_docs : 0.0;
    SPAR_TRY_GOTO(st, spar_file_writer_open(path, SPAR_KIND_POSTINGS, SPAR_SEGMENT_VERSION_MAJOR,
                                            SPAR_SEGMENT_VERSION_MINOR, 0, &w->fw, diag), fail);
    if ((st = spar_file_writer_write(w->fw, norms, n_docs)) != SPAR_OK) {
        spar_diag_set(diag, "%s: write failed", path);
        goto fail;
    }
    free(norms);
    w->postings_off = spar_file_writer_offset(w->fw);
    *out = w;
    return SPAR_OK;
fail:
    free(norms);
    spar_file_writer_abort(w->fw);
    writer_free(w);
    return st;
}

static spar_status add_list(spar_segment_writer *w, const char *term, size_t term_len, const spar_term_info *ti_in);

spar_status spar_segment_writer_add(spar_segment_writer *w, const char *term, size_t term_len,
                                    const uint32_t *docids, const uint32_t *tfs, uint32_t n) {
    if (w == NULL || (term == NULL && term_len > 0) || n == 0 || docids == NULL || tfs == NULL)
        return SPAR_E_INVALID_ARG;
    if (w->failed != SPAR_OK) return w->failed;
    if (w->n_terms > 0 && term_cmp(w->last_term, w->last_len, (const uint8_t *)term, term_len) >= 0)
        return SPAR_E_INVALID_ARG; /* terms must be strictly ascending */
    if (docids[n - 1] >= w->n_docs) return SPAR_E_INVALID_ARG;
    spar_term_info ti;
    w->list.len = 0;
    SPAR_TRY(spar_postings_encode(docids, tfs, n, w->dl_q, w->k1, w->b, (float)w->avgdl, &w->list, &ti));
    spar_status st = add_list(w, term, term_len, &ti);
    if (st != SPAR_OK) w->failed = st; /* bytes may already be in the file: the writer is unusable */
    return st;
}

/* Stream the encoded list in w->list and append its dictionary entry. */
static spar_status add_list(spar_segment_writer *w, const char *term, size_t term_len, const spar_term_info *ti_in) {
    const spar_term_info ti = *ti_in;
    if (ti.bytes < min_list_bytes(ti.df)) return SPAR_E_INTERNAL;
    SPAR_TRY(spar_file_writer_write(w->fw, w->list.data, w->list.len));
    /* dictionary entry */
    SPAR_TRY(spar_buf_reserve(&w->dict, term_len + 7 * SPAR_VARINT_MAX + 2));
    const int first = w->n_terms % TERMS_PER_BLOCK == 0;
    uint8_t *p = w->dict.data + w->dict.len;
    size_t k = 0, prefix = 0;
    if (first) {
        k += spar_varint_put(p + k, term_len);
    } else { /* canonical front coding: prefix is exactly the common prefix, so the suffix is not empty */
        const size_t lim = SPAR_MIN(term_len, w->last_len);
        while (prefix < lim && (uint8_t)term[prefix] == w->last_term[prefix]) prefix++;
        const uint64_t sl = term_len - prefix; /* >= 1: terms strictly ascend */
        k += spar_varint_put(p + k, (uint64_t)prefix << 4 | SPAR_MIN(sl - 1, (uint64_t)TERM_NIB));
        if (sl - 1 >= TERM_NIB) k += spar_varint_put(p + k, sl - 1 - TERM_NIB);
    }
    if (term_len > prefix) memcpy(p + k, term + prefix, term_len - prefix);
    k += term_len - prefix;
    const uint64_t excess = ti.bytes - min_list_bytes(ti.df);
    k += spar_varint_put(p + k, excess << DF_BITS | SPAR_MIN((uint64_t)ti.df - 1, (uint64_t)DF_LOW));
    if (ti.df - 1 >= DF_LOW) k += spar_varint_put(p + k, ti.df - 1 - DF_LOW);
    if (ti.df > MAX_SINGLE) {
        k += spar_varint_put(p + k, ti.cf - ti.df);
        k += spar_varint_put(p + k, ti.max_tf);
        k += spar_varint_put(p + k, ti.min_dl);
        /* the list bound is q / 65535 by construction (postings.c): store q, losslessly, in 2 bytes */
        const long q = lrintf(ti.max_tfpart * 65535.0f);
        if (q < 0 || q > 65535 || (float)q / 65535.0f != ti.max_tfpart) return SPAR_E_INTERNAL;
        const uint16_t q16 = (uint16_t)q;
        memcpy(p + k, &q16, 2);
        k += 2;
    }
    w->dict.len += k;
    /* remember the term */
    if (term_len > w->last_cap || w->last_term == NULL) {
        uint8_t *t = realloc(w->last_term, term_len ? term_len : 1);
        if (t == NULL) return SPAR_E_NOMEM;
        w->last_term = t;
        w->last_cap = term_len ? term_len : 1;
    }
    if (term_len) memcpy(w->last_term, term, term_len);
    w->last_len = term_len;
    w->n_terms++;
    w->n_postings += ti.df;
    return SPAR_OK;
}

spar_status spar_segment_writer_commit(spar_segment_writer *w, spar_diag *diag) {
    if (w == NULL) return SPAR_E_INVALID_ARG;
    spar_status st = w->failed;
    if (st != SPAR_OK) goto fail;
    const uint64_t postings_bytes = spar_file_writer_offset(w->fw) - w->postings_off;
    SPAR_TRY_GOTO(st, spar_file_writer_write(w->fw, w->dict.data, w->dict.len), fail);
    uint8_t f[FOOTER_BYTES];
    memset(f, 0, sizeof f);
    wr32(f + 0, FOOTER_MAGIC);
    uint16_t vmaj = SPAR_SEGMENT_VERSION_MAJOR, vmin = SPAR_SEGMENT_VERSION_MINOR;
    memcpy(f + 4, &vmaj, 2);
    memcpy(f + 6, &vmin, 2);
    wr32(f + 8, 0); /* flags */
    wr32(f + 12, w->n_docs);
    wr64(f + 16, w->n_terms);
    wr64(f + 24, w->n_postings);
    wr64(f + 32, w->total_dl);
    wr64(f + 40, postings_bytes);
    memcpy(f + 48, &w->k1, 4);
    memcpy(f + 52, &w->b, 4);
    wr32(f + 56, TERMS_PER_BLOCK);
    wr32(f + 60, 0); /* reserved */
    SPAR_TRY_GOTO(st, spar_file_writer_write(w->fw, f, sizeof f), fail);
    st = spar_file_writer_commit(w->fw, diag); /* frees fw in all cases */
    w->fw = NULL;
    writer_free(w);
    return st;
fail:
    spar_diag_set(diag, "segment writer: %s", spar_status_str(st));
    spar_segment_writer_abort(w);
    return st;
}

void spar_segment_writer_abort(spar_segment_writer *w) {
    if (w == NULL) return;
    spar_file_writer_abort(w->fw);
    writer_free(w);
}

/* ---- reader ---- */

/* Where dictionary block i starts: built at open (the file has no block index: it is a running sum). */
typedef struct dblock {
    uint64_t dict_pos; /* dictionary-relative offset of its first entry */
    uint64_t list_off; /* postings-relative offset of its first entry's list */
} dblock;

struct spar_segment {
    spar_mapped_file map; /* base == NULL for open_mem */
    const uint8_t *payload;
    uint64_t payload_bytes;
    uint32_t n_docs;
    uint64_t n_terms, n_postings;
    double avgdl;
    float k1, b;
    const uint8_t *norms; /* n_docs bytes */
    const uint8_t *postings;
    uint64_t postings_bytes;
    const uint8_t *dict;
    uint64_t dict_bytes;
    dblock *blocks;       /* n_blocks, owned */
    uint64_t n_blocks;
    uint32_t tpb;         /* terms per dictionary block */
};

/* One decoded dictionary entry. The term is prev_term[0..prefix) + suffix. */
typedef struct dentry {
    uint64_t prefix;       /* 0 for the first entry of a block */
    const uint8_t *suffix; /* points into the dictionary */
    uint64_t suffix_len;
    uint32_t df;
    uint64_t offset, bytes; /* the list, postings-relative */
    /* lists of more than one block only: */
    uint64_t cf;
    uint32_t max_tf, min_dl;
    uint16_t q;
} dentry;

/* Decode the entry at *pos whose list starts at off (postings-relative: the end of the previous list, or
 * the block's recorded start for its first entry). Checks only what is needed to stay in bounds;
 * validate() checks the rest once at open. */
static int read_entry(const spar_segment *s, uint64_t *pos, int first, uint64_t off, dentry *e) {
    const uint8_t *d = s->dict;
    const uint64_t n = s->dict_bytes;
    uint64_t h, sl, l, df;
    if (!spar_varint_get(d, n, pos, &h)) return 0;
    if (first) {
        e->prefix = 0;
        sl = h;
    } else {
        e->prefix = h >> 4;
        sl = (h & TERM_NIB) + 1;
        if ((h & TERM_NIB) == TERM_NIB) {
            uint64_t more;
            if (!spar_varint_get(d, n, pos, &more) || more > n) return 0;
            sl += more;
        }
    }
    if (sl > n - *pos) return 0;
    e->suffix = d + *pos;
    e->suffix_len = sl;
    *pos += sl;
    if (!spar_varint_get(d, n, pos, &l)) return 0;
    df = (l & DF_LOW) + 1;
    if ((l & DF_LOW) == DF_LOW) {
        uint64_t more;
        if (!spar_varint_get(d, n, pos, &more) || more > UINT32_MAX) return 0;
        df += more;
    }
    if (df > UINT32_MAX) return 0;
    e->df = (uint32_t)df;
    const uint64_t excess = l >> DF_BITS, least = min_list_bytes(df);
    if (off > s->postings_bytes || least > s->postings_bytes - off || excess > s->postings_bytes - off - least)
        return 0;
    e->offset = off;
    e->bytes = least + excess;
    if (df > MAX_SINGLE) {
        uint64_t cfx, max_tf, min_dl;
        if (!spar_varint_get(d, n, pos, &cfx) || !spar_varint_get(d, n, pos, &max_tf) ||
            !spar_varint_get(d, n, pos, &min_dl) || n - *pos < 2)
            return 0;
        if (cfx > UINT64_MAX - df || max_tf > UINT32_MAX || min_dl > UINT32_MAX) return 0;
        e->cf = df + cfx;
        e->max_tf = (uint32_t)max_tf;
        e->min_dl = (uint32_t)min_dl;
        memcpy(&e->q, d + *pos, 2);
        *pos += 2;
    }
    return 1;
}

/* The list's spar_term_info: stored for long lists, derived from the list for one-block lists. */
static int entry_info(const spar_segment *s, const dentry *e, spar_term_info *ti) {
    if (e->df <= MAX_SINGLE) {
        if (spar_postings_derive_single(s->postings + e->offset, (size_t)e->bytes, e->df, s->n_docs, s->norms, s->k1,
                                        s->b, (float)s->avgdl, ti) != SPAR_OK)
            return 0;
    } else {
        ti->df = e->df;
        ti->n_blocks = (uint32_t)((e->df + (uint64_t)SPAR_BLOCK_SIZE - 1) / SPAR_BLOCK_SIZE);
        ti->cf = e->cf;
        ti->bytes = e->bytes;
        ti->max_tf = e->max_tf;
        ti->min_dl = e->min_dl;
        ti->max_tfpart = (float)e->q / 65535.0f;
    }
    ti->offset = e->offset;
    return 1;
}

#define CORRUPT(...) spar_diag_err(diag, SPAR_E_CORRUPT, __VA_ARGS__)

/* Grow *buf to at least need bytes. */
static int grow_term(uint8_t **buf, size_t *cap, uint64_t need) {
    if (need <= *cap) return 1;
    if (need > SIZE_MAX / 2) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    uint8_t *p = realloc(*buf, c);
    if (p == NULL) return 0;
    *buf = p;
    *cap = c;
    return 1;
}

static spar_status validate_dict(spar_segment *s, const char *name, spar_diag *diag);

static spar_status validate(spar_segment *s, const char *name, spar_diag *diag) {
    const uint8_t *pl = s->payload;
    const uint64_t pb = s->payload_bytes;
    if (s->map.hdr.version_major != SPAR_SEGMENT_VERSION_MAJOR)
        return spar_diag_err(diag, SPAR_E_VERSION,
                             "%s: byte 4: segment format %u.%u is no longer supported (this build reads %u.x): "
                             "rebuild the index",
                             name, s->map.hdr.version_major, s->map.hdr.version_minor, SPAR_SEGMENT_VERSION_MAJOR);
    if (pb < FOOTER_BYTES) return CORRUPT("%s: payload of %" PRIu64 " bytes has no room for the footer", name, pb);
    const uint64_t fo = pb - FOOTER_BYTES; /* footer offset in the payload */
    const uint8_t *f = pl + fo;
    const uint64_t fbyte = 32 + fo; /* file offset, for messages */
    uint16_t vmaj, vmin;
    memcpy(&vmaj, f + 4, 2);
    memcpy(&vmin, f + 6, 2);
    if (rd32(f) != FOOTER_MAGIC) return CORRUPT("%s: byte %" PRIu64 ": bad footer magic", name, fbyte);
    if (vmaj != s->map.hdr.version_major || vmin != s->map.hdr.version_minor || rd32(f + 8) != s->map.hdr.flags ||
        s->map.hdr.flags != 0)
        return CORRUPT("%s: byte %" PRIu64 ": footer version/flags disagree with the header", name, fbyte);
    s->n_docs = rd32(f + 12);
    s->n_terms = rd64(f + 16);
    s->n_postings = rd64(f + 24);
    const uint64_t total_dl = rd64(f + 32), postings_bytes = rd64(f + 40);
    memcpy(&s->k1, f + 48, 4);
    memcpy(&s->b, f + 52, 4);
    const uint32_t tpb = rd32(f + 56);
    if (rd32(f + 60) != 0) return CORRUPT("%s: byte %" PRIu64 ": reserved footer field is not zero", name, fbyte + 60);
    if (!(s->k1 >= 0 && isfinite(s->k1)) || !(s->b >= 0 && s->b <= 1))
        return CORRUPT("%s: byte %" PRIu64 ": BM25 parameters out of range", name, fbyte + 48);
    if (tpb == 0 || tpb > MAX_TERMS_PER_BLOCK)
        return CORRUPT("%s: byte %" PRIu64 ": bad dictionary block size %" PRIu32, name, fbyte + 56, tpb);
    /* norms, lists and dictionary tile the payload in that order: each starts where the previous ends */
    if (s->n_docs > fo || postings_bytes > fo - s->n_docs)
        return CORRUPT("%s: byte %" PRIu64 ": %" PRIu32 " norms and %" PRIu64 " bytes of postings do not fit the "
                       "file", name, fbyte + 12, s->n_docs, postings_bytes);
    s->norms = pl;
    s->postings = pl + s->n_docs;
    s->postings_bytes = postings_bytes;
    s->dict = s->postings + postings_bytes;
    s->dict_bytes = fo - s->n_docs - postings_bytes;
    if (s->n_terms > s->dict_bytes / MIN_ENTRY_BYTES)
        return CORRUPT("%s: byte %" PRIu64 ": %" PRIu64 " terms cannot fit a dictionary of %" PRIu64 " bytes", name,
                       fbyte + 16, s->n_terms, s->dict_bytes);
    s->tpb = tpb;
    s->n_blocks = (s->n_terms + tpb - 1) / tpb;
    /* norms: each byte stands for a range of exact lengths, so the exact total lies between the sums of
     * the ranges' ends; avgdl is derived from the total */
    uint64_t lo = 0, hi = 0;
    for (uint32_t i = 0; i < s->n_docs; i++) {
        const uint8_t nb = s->norms[i];
        lo += spar_norm_decode(nb);
        hi += nb == 255 ? UINT32_MAX : spar_norm_decode((uint8_t)(nb + 1)) - 1u;
    }
    if (total_dl < lo || total_dl > hi)
        return CORRUPT("%s: byte %" PRIu64 ": document norms disagree with the recorded total length", name,
                       fbyte + 32);
    s->avgdl = s->n_docs ? (double)total_dl / (double)s->n_docs : 0.0;
    return validate_dict(s, name, diag);
}

/* Every dictionary entry, in order: canonical front coding (so terms strictly ascend), lists tiling the
 * postings area, every list decoded and checked. Records where each dictionary block starts. */
static spar_status validate_dict(spar_segment *s, const char *name, spar_diag *diag) {
    spar_status st = SPAR_OK;
    const uint64_t postings_off = (uint64_t)(s->postings - s->payload), dict_off = postings_off + s->postings_bytes;
    uint64_t pos = 0, postings = 0, end = 0;
    uint8_t *term = NULL; /* the previous term, whole */
    size_t cap = 0, len = 0;
    s->blocks = spar_malloc_array(s->n_blocks ? s->n_blocks : 1, sizeof *s->blocks);
    if (s->blocks == NULL) return SPAR_E_NOMEM;
    for (uint64_t t = 0; t < s->n_terms; t++) {
        const int first = t % s->tpb == 0;
        if (first) s->blocks[t / s->tpb] = (dblock){pos, end};
        const uint64_t at = 32 + dict_off + pos;
        dentry e;
        if (!read_entry(s, &pos, first, end, &e)) {
            st = CORRUPT("%s: byte %" PRIu64 ": dictionary entry %" PRIu64 " is malformed or out of bounds", name,
                         at, t);
            goto done;
        }
        int ordered;
        if (first) { /* stored whole: compare with the previous term */
            ordered = t == 0 || term_cmp(term, len, e.suffix, (size_t)e.suffix_len) < 0;
        } else { /* canonical: the prefix is exactly the common prefix, and the term sorts after */
            ordered = e.prefix <= len && (e.prefix == len || e.suffix[0] > term[e.prefix]);
        }
        if (!ordered) {
            st = CORRUPT("%s: byte %" PRIu64 ": dictionary entry %" PRIu64 " is not in ascending order", name, at, t);
            goto done;
        }
        if (!grow_term(&term, &cap, e.prefix + e.suffix_len)) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        if (e.suffix_len) memcpy(term + e.prefix, e.suffix, (size_t)e.suffix_len);
        len = (size_t)(e.prefix + e.suffix_len);
        /* one-block lists: decoding them is the whole check (their statistics are derived at lookup, from
         * the same bytes); longer lists: decoded against their stored statistics and block table */
        spar_term_info ti;
        const int bad = e.df <= MAX_SINGLE
                            ? spar_postings_derive_single(s->postings + e.offset, (size_t)e.bytes, e.df, s->n_docs,
                                                          NULL, 0, 0, 0, NULL) != SPAR_OK
                            : !entry_info(s, &e, &ti) || spar_postings_check(s->postings + ti.offset, (size_t)ti.bytes,
                                                                             &ti, s->n_docs) != SPAR_OK;
        if (bad) {
            st = CORRUPT("%s: byte %" PRIu64 ": posting list of entry %" PRIu64 " ('%.*s') is corrupt", name,
                         32 + postings_off + e.offset, t, (int)SPAR_MIN(len, 40), (const char *)term);
            goto done;
        }
        end = e.offset + e.bytes;
        postings += e.df;
    }
    if (pos != s->dict_bytes) {
        st = CORRUPT("%s: byte %" PRIu64 ": %" PRIu64 " trailing bytes after the last dictionary entry", name,
                     32 + dict_off + pos, s->dict_bytes - pos);
        goto done;
    }
    if (end != s->postings_bytes) {
        st = CORRUPT("%s: byte %" PRIu64 ": posting area size disagrees with the dictionary", name,
                     32 + s->payload_bytes - FOOTER_BYTES + 40);
        goto done;
    }
    if (postings != s->n_postings)
        st = CORRUPT("%s: byte %" PRIu64 ": footer says %" PRIu64 " postings, lists hold %" PRIu64, name,
                     32 + s->payload_bytes - FOOTER_BYTES + 24, s->n_postings, postings);
done:
    free(term);
    return st;
}

spar_status spar_segment_open(const char *path, spar_segment **out, spar_diag *diag) {
    *out = NULL;
    spar_segment *s = calloc(1, sizeof *s);
    if (s == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_file_map(path, SPAR_KIND_POSTINGS, SPAR_SEGMENT_VERSION_MAJOR, 0, &s->map, diag);
    if (st != SPAR_OK) {
        free(s);
        return st;
    }
    s->payload = s->map.payload;
    s->payload_bytes = s->map.payload_bytes;
    if ((st = validate(s, base_name(path), diag)) != SPAR_OK) {
        spar_segment_close(s);
        return st;
    }
    *out = s;
    return SPAR_OK;
}

spar_status spar_segment_open_mem(const uint8_t *buf, size_t len, spar_segment **out, spar_diag *diag) {
    *out = NULL;
    spar_segment *s = calloc(1, sizeof *s);
    if (s == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_file_check(buf, len, SPAR_KIND_POSTINGS, SPAR_SEGMENT_VERSION_MAJOR, 1, &s->map.hdr,
                                     "<memory>", diag);
    if (st != SPAR_OK) {
        free(s);
        return st;
    }
    s->payload = buf + sizeof(spar_file_header);
    s->payload_bytes = len - sizeof(spar_file_header);
    if ((st = validate(s, "<memory>", diag)) != SPAR_OK) {
        spar_segment_close(s);
        return st;
    }
    *out = s;
    return SPAR_OK;
}

void spar_segment_close(spar_segment *s) {
    if (s == NULL) return;
    spar_file_unmap(&s->map);
    free(s->blocks);
    free(s);
}

uint32_t spar_segment_n_docs(const spar_segment *s) { return s->n_docs; }
uint64_t spar_segment_n_terms(const spar_segment *s) { return s->n_terms; }
uint64_t spar_segment_n_postings(const spar_segment *s) { return s->n_postings; }
double spar_segment_avgdl(const spar_segment *s) { return s->avgdl; }
float spar_segment_k1(const spar_segment *s) { return s->k1; }
float spar_segment_b(const spar_segment *s) { return s->b; }
const uint8_t *spar_segment_norms(const spar_segment *s) { return s->norms; }

static size_t common_prefix(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    const size_t n = alen < blen ? alen : blen;
    size_t i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* The whole first term of dictionary block i (validated at open). */
static int first_term(const spar_segment *s, uint64_t i, const uint8_t **t, uint64_t *len) {
    uint64_t pos = s->blocks[i].dict_pos;
    if (!spar_varint_get(s->dict, s->dict_bytes, &pos, len) || *len > s->dict_bytes - pos) return 0;
    *t = s->dict + pos;
    return 1;
}

/* Binary search over the first terms of the dictionary blocks, then a scan of at most one block that
 * compares front-coded entries with the key without rebuilding them: m = length of the common prefix of
 * the key and the previous term (which sorts before the key). An entry sharing fewer than m bytes with
 * the previous term sorts after the key; one sharing more sorts before it; only p == m needs bytes. */
spar_status spar_segment_lookup(const spar_segment *s, const char *term, size_t len, spar_term_info *ti) {
    if (s->n_terms == 0) return SPAR_E_NOT_FOUND;
    const uint8_t *key = (const uint8_t *)term, *ft;
    uint64_t fl, lo = 0, hi = s->n_blocks; /* first term of block lo <= key < first term of block hi */
    if (!first_term(s, 0, &ft, &fl)) return SPAR_E_CORRUPT;
    if (term_cmp(key, len, ft, (size_t)fl) < 0) return SPAR_E_NOT_FOUND;
    while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (!first_term(s, mid, &ft, &fl)) return SPAR_E_CORRUPT;
        if (term_cmp(ft, (size_t)fl, key, len) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    uint64_t pos = s->blocks[lo].dict_pos, off = s->blocks[lo].list_off, m = 0;
    const uint64_t n_in = SPAR_MIN((uint64_t)s->tpb, s->n_terms - lo * s->tpb);
    for (uint64_t i = 0; i < n_in; i++) {
        dentry e;
        if (!read_entry(s, &pos, i == 0, off, &e)) return SPAR_E_CORRUPT;
        off = e.offset + e.bytes;
        if (e.prefix > m) continue; /* shares more with a term < key than the key does: < key */
        if (e.prefix < m) break;    /* differs from the key earlier, upwards: > key */
        const size_t rest = len - (size_t)m;
        const size_t c = common_prefix(e.suffix, (size_t)e.suffix_len, key + m, rest);
        if (c == e.suffix_len && c == rest) return entry_info(s, &e, ti) ? SPAR_OK : SPAR_E_CORRUPT;
        if (c == rest || (c < e.suffix_len && e.suffix[c] > key[m + c])) break; /* > key */
        m += c;
    }
    return SPAR_E_NOT_FOUND;
}

void spar_segment_cursor(const spar_segment *s, const spar_term_info *ti, spar_cursor *c) {
    spar_cursor_open(c, s->postings + ti->offset, ti);
}

/* Rebuild the block's terms up to entry i in buf, keeping only their first cap bytes (enough: a front-coded
 * term takes its prefix from bytes the previous term already had there). */
spar_status spar_segment_term_at(const spar_segment *s, uint64_t i, char *buf, size_t cap, size_t *len,
                                 spar_term_info *ti) {
    if (i >= s->n_terms) return SPAR_E_NOT_FOUND;
    const uint64_t blk = i / s->tpb, skip = i % s->tpb;
    uint64_t pos = s->blocks[blk].dict_pos, off = s->blocks[blk].list_off, cur_len = 0;
    for (uint64_t k = 0;; k++) {
        dentry e;
        if (!read_entry(s, &pos, k == 0, off, &e) || e.prefix > cur_len) return SPAR_E_CORRUPT;
        if (e.prefix < cap) {
            const uint64_t n = SPAR_MIN(e.suffix_len, (uint64_t)cap - e.prefix);
            if (n) memcpy(buf + e.prefix, e.suffix, (size_t)n);
        }
        cur_len = e.prefix + e.suffix_len;
        off = e.offset + e.bytes;
        if (k == skip) {
            *len = (size_t)cur_len;
            if (cur_len > cap) return SPAR_E_INVALID_ARG; /* buf too small: *len says how much is needed */
            if (ti && !entry_info(s, &e, ti)) return SPAR_E_CORRUPT;
            return SPAR_OK;
        }
    }
}
