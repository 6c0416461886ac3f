/* sparse_ciff.c — Common Index File Format (CIFF, github.com/osirrc/ciff) import and export for the
 * learned-sparse index. A CIFF file is a sequence of length-delimited protobuf messages: one Header, then
 * Header.num_postings_lists PostingsList messages (term, df, cf, postings {docid gap, tf}), then
 * Header.num_doc_records DocRecord messages (docid, collection_docid, doclength). Impact indexes put the
 * quantized impact in tf. The protobuf wire format is decoded here by hand (varints, length-delimited
 * fields, unknown fields skipped); every length and count is checked against the bytes left, and every
 * error names the byte offset. Format notes: docs/format/ciff.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "spar/spar_sparse.h"

#define CIFF_MAX_TERMS 65536u /* the sparse index's dim limit */

/* ---- decoding ---- */
typedef struct pb {
    const uint8_t *buf; /* whole file */
    size_t pos, end;    /* current message: [pos, end) */
    const char *name;
    spar_diag *diag;
} pb;

static spar_status pb_err(const pb *p, size_t at, const char *what) {
    return spar_diag_err(p->diag, SPAR_E_CORRUPT, "%s: byte %zu: %s", p->name, at, what);
}

static spar_status pb_varint(pb *p, uint64_t *out) {
    uint64_t v = 0;
    *out = 0;
    size_t at = p->pos;
    for (int i = 0; i < 10; i++) {
        if (p->pos >= p->end) return pb_err(p, at, "truncated varint");
        uint8_t b = p->buf[p->pos++];
        if (i == 9 && b > 1) return pb_err(p, at, "varint longer than 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return SPAR_OK;
        }
    }
    return pb_err(p, at, "varint longer than 10 bytes");
}

/* An int32/int64 field that must be in [0, max]. */
static spar_status pb_uint(pb *p, uint64_t max, const char *field, uint64_t *out) {
    size_t at = p->pos;
    SPAR_TRY(pb_varint(p, out));
    if (*out > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is negative or above %llu", field, (unsigned long long)max);
        return pb_err(p, at, msg);
    }
    return SPAR_OK;
}

/* A length prefix; the span must fit in the current message. */
static spar_status pb_len(pb *p, size_t *len) {
    size_t at = p->pos;
    uint64_t n = 0;
    *len = 0;
    SPAR_TRY(pb_varint(p, &n));
    if (n > p->end - p->pos) return pb_err(p, at, "length runs past the end of its message");
    *len = (size_t)n;
    return SPAR_OK;
}

/* Skip a field of wire type wt (unknown field). */
static spar_status pb_skip(pb *p, uint32_t wt, size_t at) {
    uint64_t v = 0;
    size_t n = 0;
    switch (wt) {
    case 0: return pb_varint(p, &v);
    case 1: n = 8; break;
    case 5: n = 4; break;
    case 2: SPAR_TRY(pb_len(p, &n)); break;
    default: return pb_err(p, at, "unsupported wire type");
    }
    if (n > p->end - p->pos) return pb_err(p, at, "field runs past the end of its message");
    p->pos += n;
    return SPAR_OK;
}

/* Next field key: *field, *wt. */
static spar_status pb_key(pb *p, uint32_t *field, uint32_t *wt) {
    size_t at = p->pos;
    uint64_t k = 0;
    *field = *wt = 0;
    SPAR_TRY(pb_varint(p, &k));
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff) return pb_err(p, at, "bad field number");
    *field = (uint32_t)(k >> 3);
    *wt = (uint32_t)(k & 7);
    return SPAR_OK;
}

/* Enter the next length-delimited top-level message: sets [pos, end) to it; *outer_end gets the file end. */
static spar_status pb_enter(pb *p, size_t file_end, const char *what) {
    p->end = file_end;
    if (p->pos >= file_end) {
        char msg[96];
        snprintf(msg, sizeof msg, "file ends where a %s message was expected", what);
        return pb_err(p, p->pos, msg);
    }
    size_t n = 0;
    SPAR_TRY(pb_len(p, &n));
    p->end = p->pos + n;
    return SPAR_OK;
}

static spar_status expect_wt(pb *p, uint32_t wt, uint32_t want, size_t at, const char *field) {
    if (wt == want) return SPAR_OK;
    char msg[96];
    snprintf(msg, sizeof msg, "field %s has wire type %u, expected %u", field, wt, want);
    return pb_err(p, at, msg);
}

typedef struct ciff_header {
    uint64_t n_lists, n_docs;
    char description[256];
} ciff_header;

static spar_status parse_header(pb *p, size_t file_end, ciff_header *h) {
    memset(h, 0, sizeof *h);
    SPAR_TRY(pb_enter(p, file_end, "Header"));
    while (p->pos < p->end) {
        size_t at = p->pos;
        uint32_t f, wt;
        uint64_t v;
        SPAR_TRY(pb_key(p, &f, &wt));
        if (f == 2 || f == 3) {
            SPAR_TRY(expect_wt(p, wt, 0, at, f == 2 ? "num_postings_lists" : "num_doc_records"));
            SPAR_TRY(pb_uint(p, INT32_MAX, f == 2 ? "num_postings_lists" : "num_doc_records", &v));
            if (f == 2) h->n_lists = v;
            else h->n_docs = v;
        } else if (f == 8 && wt == 2) {
            size_t n;
            SPAR_TRY(pb_len(p, &n));
            size_t c = SPAR_MIN(n, sizeof h->description - 1);
            memcpy(h->description, p->buf + p->pos, c);
            h->description[c] = '\0';
            for (size_t i = 0; i < c; i++)
                if (h->description[i] == '\0') h->description[i] = ' ';
            p->pos += n;
        } else {
            SPAR_TRY(pb_skip(p, wt, at)); /* version, totals, average_doclength, unknown fields */
        }
    }
    if (h->n_lists > CIFF_MAX_TERMS) {
        char msg[128];
        snprintf(msg, sizeof msg, "%llu postings lists: more than the %u terms a sparse index holds",
                 (unsigned long long)h->n_lists, CIFF_MAX_TERMS);
        return pb_err(p, 0, msg);
    }
    return SPAR_OK;
}

/* One PostingsList. With counts != NULL (pass 1): validate, count postings per doc, copy the term. With
 * fill != NULL (pass 2): append term t to each posting's doc row. */
typedef struct pass_ctx {
    uint64_t n_docs;
    uint32_t *counts; /* pass 1 */
    char **term_out;
    uint64_t *cursor; /* pass 2: next slot of each row */
    uint32_t *ids;
    float *weights;
    uint64_t n_postings;
} pass_ctx;

static spar_status parse_list(pb *p, size_t file_end, uint32_t t, pass_ctx *c) {
    SPAR_TRY(pb_enter(p, file_end, "PostingsList"));
    size_t list_at = p->pos;
    uint64_t df = 0, n = 0, doc = 0;
    int have_df = 0, have_term = 0;
    while (p->pos < p->end) {
        size_t at = p->pos;
        uint32_t f, wt;
        SPAR_TRY(pb_key(p, &f, &wt));
        if (f == 1) {
            SPAR_TRY(expect_wt(p, wt, 2, at, "term"));
            size_t len;
            SPAR_TRY(pb_len(p, &len));
            const char *s = (const char *)p->buf + p->pos;
            if (len == 0 || memchr(s, '\n', len) || memchr(s, '\r', len) || memchr(s, '\0', len))
                return pb_err(p, at, "term is empty or holds a line break or NUL");
            if (c->term_out && !have_term) {
                char *dup = malloc(len + 1);
                if (dup == NULL) return SPAR_E_NOMEM;
                memcpy(dup, s, len);
                dup[len] = '\0';
                c->term_out[t] = dup;
            }
            have_term = 1;
            p->pos += len;
        } else if (f == 2) {
            SPAR_TRY(expect_wt(p, wt, 0, at, "df"));
            SPAR_TRY(pb_uint(p, INT64_MAX, "df", &df));
            have_df = 1;
        } else if (f == 4) {
            SPAR_TRY(expect_wt(p, wt, 2, at, "postings"));
            size_t len;
            SPAR_TRY(pb_len(p, &len));
            size_t outer_end = p->end;
            p->end = p->pos + len;
            uint64_t gap = 0, tf = 0;
            while (p->pos < p->end) {
                size_t fat = p->pos;
                uint32_t pf, pwt;
                SPAR_TRY(pb_key(p, &pf, &pwt));
                if (pf == 1 || pf == 2) {
                    SPAR_TRY(expect_wt(p, pwt, 0, fat, pf == 1 ? "docid" : "tf"));
                    SPAR_TRY(pb_uint(p, INT32_MAX, pf == 1 ? "docid" : "tf", pf == 1 ? &gap : &tf));
                } else {
                    SPAR_TRY(pb_skip(p, pwt, fat));
                }
            }
            p->end = outer_end;
            if (n > 0 && gap == 0) return pb_err(p, at, "docid gap 0: postings not strictly increasing");
            doc = n == 0 ? gap : doc + gap;
            if (doc >= c->n_docs) {
                char msg[128];
                snprintf(msg, sizeof msg, "posting docid %llu >= num_doc_records %llu", (unsigned long long)doc,
                         (unsigned long long)c->n_docs);
                return pb_err(p, at, msg);
            }
            n++;
            if (tf == 0) continue; /* contributes nothing to any score */
            if (c->counts) {
                c->counts[doc]++;
                c->n_postings++;
            } else {
                uint64_t o = c->cursor[doc]++;
                c->ids[o] = t;
                c->weights[o] = (float)tf;
            }
        } else {
            SPAR_TRY(pb_skip(p, wt, at)); /* cf, unknown fields */
        }
    }
    if (!have_term) return pb_err(p, list_at, "PostingsList without a term");
    if (have_df && df != n) {
        char msg[128];
        snprintf(msg, sizeof msg, "df %llu but %llu postings", (unsigned long long)df, (unsigned long long)n);
        return pb_err(p, list_at, msg);
    }
    p->pos = p->end;
    return SPAR_OK;
}

static spar_status parse_doc(pb *p, size_t file_end, char **keys, uint64_t n_docs) {
    SPAR_TRY(pb_enter(p, file_end, "DocRecord"));
    size_t rec_at = p->pos;
    uint64_t docid = 0;
    const char *s = NULL;
    size_t slen = 0;
    while (p->pos < p->end) {
        size_t at = p->pos;
        uint32_t f, wt;
        SPAR_TRY(pb_key(p, &f, &wt));
        if (f == 1) {
            SPAR_TRY(expect_wt(p, wt, 0, at, "docid"));
            SPAR_TRY(pb_uint(p, INT32_MAX, "docid", &docid));
        } else if (f == 2) {
            SPAR_TRY(expect_wt(p, wt, 2, at, "collection_docid"));
            SPAR_TRY(pb_len(p, &slen));
            s = (const char *)p->buf + p->pos;
            if (slen == 0 || memchr(s, '\n', slen) || memchr(s, '\r', slen) || memchr(s, '\0', slen))
                return pb_err(p, at, "collection_docid is empty or holds a line break or NUL");
            p->pos += slen;
        } else {
            SPAR_TRY(pb_skip(p, wt, at)); /* doclength, unknown fields */
        }
    }
    if (s == NULL) return pb_err(p, rec_at, "DocRecord without collection_docid");
    if (docid >= n_docs) return pb_err(p, rec_at, "DocRecord docid >= num_doc_records");
    if (keys[docid] != NULL) return pb_err(p, rec_at, "DocRecord docid repeated");
    if ((keys[docid] = malloc(slen + 1)) == NULL) return SPAR_E_NOMEM;
    memcpy(keys[docid], s, slen);
    keys[docid][slen] = '\0';
    return SPAR_OK;
}

void spar_sparse_ciff_free(spar_sparse_ciff *c) {
    if (c == NULL) return;
    if (c->terms)
        for (uint32_t t = 0; t < c->docs.dim; t++) free(c->terms[t]);
    free(c->terms);
    spar_sparse_csr_free(&c->docs);
    memset(c, 0, sizeof *c);
}

spar_status spar_sparse_ciff_parse(const uint8_t *buf, size_t len, const char *name, spar_sparse_ciff *out,
                                   spar_diag *diag) {
    if (out == NULL || (buf == NULL && len > 0)) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    pb p = {buf, 0, len, name ? name : "<memory>", diag};
    ciff_header h;
    spar_status st = SPAR_OK;
    uint32_t *counts = NULL;
    uint64_t *cursor = NULL;
    spar_sparse_ciff c;
    memset(&c, 0, sizeof c);
    SPAR_TRY(parse_header(&p, len, &h));
    if (h.n_lists == 0) return pb_err(&p, 0, "no postings lists");
    /* Every DocRecord takes at least 4 bytes and every list 3: reject absurd counts before allocating. */
    if (h.n_docs > len / 4 || h.n_lists > len / 3) return pb_err(&p, 0, "counts larger than the file can hold");
    size_t lists_at = p.pos;
    c.docs.n_rows = (uint32_t)h.n_docs;
    c.docs.dim = (uint32_t)h.n_lists;
    counts = calloc((size_t)h.n_docs + 1, sizeof *counts);
    c.terms = calloc((size_t)h.n_lists, sizeof *c.terms);
    c.docs.keys = calloc((size_t)h.n_docs + 1, sizeof *c.docs.keys);
    c.docs.offsets = calloc((size_t)h.n_docs + 1, sizeof *c.docs.offsets);
    if (counts == NULL || c.terms == NULL || c.docs.keys == NULL || c.docs.offsets == NULL) { st = SPAR_E_NOMEM; goto done; }
    pass_ctx pc = {h.n_docs, counts, c.terms, NULL, NULL, NULL, 0};
    for (uint32_t t = 0; t < h.n_lists; t++) SPAR_TRY_GOTO(st, parse_list(&p, len, t, &pc), done);
    for (uint64_t d = 0; d < h.n_docs; d++) SPAR_TRY_GOTO(st, parse_doc(&p, len, c.docs.keys, h.n_docs), done);
    if (p.pos != len) {
        st = pb_err(&p, p.pos, "trailing bytes after the last DocRecord");
        goto done;
    }
    for (uint64_t d = 0; d < h.n_docs; d++) c.docs.offsets[d + 1] = c.docs.offsets[d] + counts[d];
    c.n_postings = pc.n_postings;
    c.docs.ids = spar_malloc_array((size_t)pc.n_postings + 1, sizeof *c.docs.ids);
    c.docs.weights = spar_malloc_array((size_t)pc.n_postings + 1, sizeof *c.docs.weights);
    cursor = spar_malloc_array((size_t)h.n_docs + 1, sizeof *cursor);
    if (c.docs.ids == NULL || c.docs.weights == NULL || cursor == NULL) { st = SPAR_E_NOMEM; goto done; }
    memcpy(cursor, c.docs.offsets, (size_t)h.n_docs * sizeof *cursor);
    pass_ctx fill = {h.n_docs, NULL, NULL, cursor, c.docs.ids, c.docs.weights, 0};
    p.pos = lists_at;
    for (uint32_t t = 0; t < h.n_lists; t++) SPAR_TRY_GOTO(st, parse_list(&p, len, t, &fill), done);
    snprintf(c.description, sizeof c.description, "%s", h.description);
    *out = c;
    memset(&c, 0, sizeof c);
done:
    free(counts);
    free(cursor);
    spar_sparse_ciff_free(&c);
    return st;
}

spar_status spar_sparse_ciff_read(const char *path, spar_sparse_ciff *out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    }
    if (sb.st_size == 0) {
        close(fd);
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 0: empty file", path);
    }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return spar_diag_err(diag, SPAR_E_IO, "%s: mmap: %s", path, strerror(errno));
    spar_status st = spar_sparse_ciff_parse(m, (size_t)sb.st_size, path, out, diag);
    munmap(m, (size_t)sb.st_size);
    return st;
}

/* ---- encoding ---- */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static int wb_reserve(wbuf *b, size_t more) {
    if (b->n + more <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (q == NULL) return 0;
    b->p = q;
    b->cap = cap;
    return 1;
}

static size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(wbuf *b, uint64_t v) { /* caller reserved */
    while (v >= 0x80) {
        b->p[b->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->p[b->n++] = (uint8_t)v;
}

static void put_uint_field(wbuf *b, uint32_t field, uint64_t v) { /* proto3: zero values are omitted */
    if (v == 0) return;
    put_varint(b, (uint64_t)field << 3);
    put_varint(b, v);
}

static void put_bytes_field(wbuf *b, uint32_t field, const void *s, size_t n) {
    put_varint(b, ((uint64_t)field << 3) | 2);
    put_varint(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static size_t uint_field_size(uint32_t field, uint64_t v) {
    return v == 0 ? 0 : varint_size((uint64_t)field << 3) + varint_size(v);
}

/* Write one delimited message (msg bytes) into out. */
static int put_message(wbuf *out, const wbuf *msg) {
    if (!wb_reserve(out, msg->n + 10)) return 0;
    put_varint(out, msg->n);
    memcpy(out->p + out->n, msg->p, msg->n);
    out->n += msg->n;
    return 1;
}

static spar_status flush_buf(FILE *f, wbuf *b, const char *path, spar_diag *diag) {
    if (b->n > 0 && fwrite(b->p, 1, b->n, f) != b->n) return spar_diag_err(diag, SPAR_E_IO, "%s: write failed", path);
    b->n = 0;
    return SPAR_OK;
}

spar_status spar_sparse_ciff_export(const spar_sparse_dir *d, const char *path, double scale, const char *description,
                                    uint64_t *n_dropped, spar_diag *diag) {
    if (d == NULL || path == NULL || !(scale >= 0) || !isfinite(scale)) return SPAR_E_INVALID_ARG;
    spar_sparse_csr m;
    spar_status st = spar_sparse_index_to_csr(spar_sparse_dir_index(d), &m);
    if (st != SPAR_OK) return st;
    uint64_t *t_off = NULL, *cur = NULL, dropped = 0;
    uint32_t *p_doc = NULL, *p_tf = NULL;
    wbuf out = {0}, msg = {0};
    FILE *f = NULL;
    char *tmp = NULL;
    const uint64_t nnz = m.offsets[m.n_rows];
    if (scale == 0) {
        scale = 1;
        for (uint64_t i = 0; i < nnz; i++)
            if (m.weights[i] != floorf(m.weights[i])) {
                st = spar_diag_err(diag, SPAR_E_INVALID_ARG,
                                   "weights are not integers (e.g. %g): give a scale to quantize them (tf = round(w * scale))",
                                   (double)m.weights[i]);
                goto done;
            }
    }
    /* transpose: per term, (caller docid, tf) ascending by docid */
    t_off = calloc((size_t)m.dim + 1, sizeof *t_off);
    cur = calloc((size_t)m.dim + 1, sizeof *cur);
    p_doc = spar_malloc_array((size_t)nnz + 1, sizeof *p_doc);
    p_tf = spar_malloc_array((size_t)nnz + 1, sizeof *p_tf);
    if (t_off == NULL || cur == NULL || p_doc == NULL || p_tf == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (uint64_t i = 0; i < nnz; i++) {
        double q = nearbyint((double)m.weights[i] * scale);
        if (q > INT32_MAX) {
            st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "weight %g * scale %g does not fit a CIFF tf (int32)",
                               (double)m.weights[i], scale);
            goto done;
        }
        if (q >= 1) t_off[m.ids[i] + 1]++;
        else dropped++;
    }
    for (uint32_t t = 0; t < m.dim; t++) t_off[t + 1] += t_off[t];
    memcpy(cur, t_off, (size_t)m.dim * sizeof *cur);
    for (uint32_t r = 0; r < m.n_rows; r++)
        for (uint64_t i = m.offsets[r]; i < m.offsets[r + 1]; i++) {
            double q = nearbyint((double)m.weights[i] * scale);
            if (q < 1) continue;
            uint64_t o = cur[m.ids[i]]++;
            p_doc[o] = r;
            p_tf[o] = (uint32_t)q;
        }
    uint32_t n_lists = 0;
    uint64_t total_tf = 0;
    for (uint32_t t = 0; t < m.dim; t++) n_lists += t_off[t + 1] > t_off[t];
    for (uint64_t i = 0; i < t_off[m.dim]; i++) total_tf += p_tf[i];
    size_t pl = strlen(path);
    if ((tmp = malloc(pl + 32)) == NULL) { st = SPAR_E_NOMEM; goto done; }
    snprintf(tmp, pl + 32, "%s.tmp-%ld", path, (long)getpid());
    if ((f = fopen(tmp, "wb")) == NULL) { st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", tmp, strerror(errno)); goto done; }
    /* Header */
    const char *desc = description ? description : "";
    if (!wb_reserve(&msg, 128 + strlen(desc))) { st = SPAR_E_NOMEM; goto done; }
    put_uint_field(&msg, 1, 1);
    put_uint_field(&msg, 2, n_lists);
    put_uint_field(&msg, 3, m.n_rows);
    put_uint_field(&msg, 4, n_lists);
    put_uint_field(&msg, 5, m.n_rows);
    put_uint_field(&msg, 6, total_tf);
    double avg = m.n_rows ? (double)t_off[m.dim] / m.n_rows : 0;
    put_varint(&msg, (7u << 3) | 1);
    memcpy(msg.p + msg.n, &avg, 8); /* little-endian host (the build refuses big-endian) */
    msg.n += 8;
    if (*desc) put_bytes_field(&msg, 8, desc, strlen(desc));
    if (!put_message(&out, &msg)) { st = SPAR_E_NOMEM; goto done; }
    /* PostingsLists */
    char num[16];
    for (uint32_t t = 0; t < m.dim; t++) {
        uint64_t a = t_off[t], b = t_off[t + 1];
        if (a == b) continue;
        size_t tl = 0;
        const char *term = spar_sparse_dir_token(d, t, &tl);
        if (term == NULL) {
            snprintf(num, sizeof num, "%u", t);
            term = num;
            tl = strlen(num);
        }
        uint64_t cf = 0;
        size_t need = 10 + tl + 24;
        for (uint64_t i = a; i < b; i++) {
            cf += p_tf[i];
            uint64_t gap = i == a ? p_doc[i] : (uint64_t)(p_doc[i] - p_doc[i - 1]);
            size_t ps = uint_field_size(1, gap) + uint_field_size(2, p_tf[i]);
            need += 1 + varint_size(ps) + ps;
        }
        msg.n = 0;
        if (!wb_reserve(&msg, need)) { st = SPAR_E_NOMEM; goto done; }
        put_bytes_field(&msg, 1, term, tl);
        put_uint_field(&msg, 2, b - a);
        put_uint_field(&msg, 3, cf);
        for (uint64_t i = a; i < b; i++) {
            uint64_t gap = i == a ? p_doc[i] : (uint64_t)(p_doc[i] - p_doc[i - 1]);
            size_t ps = uint_field_size(1, gap) + uint_field_size(2, p_tf[i]);
            put_varint(&msg, (4u << 3) | 2);
            put_varint(&msg, ps);
            put_uint_field(&msg, 1, gap);
            put_uint_field(&msg, 2, p_tf[i]);
        }
        if (!put_message(&out, &msg)) { st = SPAR_E_NOMEM; goto done; }
        if (out.n > (8u << 20)) SPAR_TRY_GOTO(st, flush_buf(f, &out, tmp, diag), done);
    }
    /* DocRecords */
    for (uint32_t r = 0; r < m.n_rows; r++) {
        size_t kl = 0;
        const char *key = spar_sparse_dir_doc_id(d, r, &kl);
        if (key == NULL) {
            snprintf(num, sizeof num, "%u", r);
            key = num;
            kl = strlen(num);
        }
        uint64_t len = 0;
        for (uint64_t i = m.offsets[r]; i < m.offsets[r + 1]; i++) len += nearbyint((double)m.weights[i] * scale) >= 1;
        msg.n = 0;
        if (!wb_reserve(&msg, kl + 32)) { st = SPAR_E_NOMEM; goto done; }
        put_uint_field(&msg, 1, r);
        put_bytes_field(&msg, 2, key, kl);
        put_uint_field(&msg, 3, len);
        if (!put_message(&out, &msg)) { st = SPAR_E_NOMEM; goto done; }
        if (out.n > (8u << 20)) SPAR_TRY_GOTO(st, flush_buf(f, &out, tmp, diag), done);
    }
    SPAR_TRY_GOTO(st, flush_buf(f, &out, tmp, diag), done);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) { st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", tmp, strerror(errno)); goto done; }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) { st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", tmp, strerror(errno)); goto done; }
    if (rename(tmp, path) != 0) { st = spar_diag_err(diag, SPAR_E_IO, "%s: rename: %s", path, strerror(errno)); goto done; }
    if (n_dropped) *n_dropped = dropped;
done:
    if (f != NULL) fclose(f);
    if (st != SPAR_OK && tmp != NULL) (void)remove(tmp);
    free(tmp);
    free(out.p);
    free(msg.p);
    free(t_off);
    free(cur);
    free(p_doc);
    free(p_tf);
    spar_sparse_csr_free(&m);
    return st;
}
