/* test_segment.c — unit tests for index/segment.c: write a segment, reopen it (file and memory), and
 * check statistics, norms, lookups, term order, the derived statistics of one-block lists and every
 * posting against the input; front coding with shared prefixes, prefix terms and near-miss keys; norm
 * bytes against Lucene's SmallFloat values; the layout byte for byte on a tiny file; the escapes of the
 * packed dictionary headers; version-1 and version-2 files are refused with SPAR_E_VERSION; every
 * single-byte flip of a small segment file is refused at open; structural corruption behind a recomputed
 * checksum is refused or, when it passes, every cursor stays in bounds (run under ASan to make that
 * meaningful). */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "index/segment.h"

static char g_dir[256];
static uint64_t rng_state = 0x1234567887654321ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A small synthetic collection: term t (named "t%05u") appears in docs where (doc * 7 + t) % period == 0. */
typedef struct coll {
    uint32_t n_docs, n_terms;
    uint32_t *doclens;
    uint32_t **docs, **tfs, *df;
    char (*names)[16];
} coll;

static coll make_coll(uint32_t n_docs, uint32_t n_terms) {
    coll c = {n_docs, n_terms, calloc(n_docs ? n_docs : 1, 4), calloc(n_terms, sizeof(uint32_t *)),
              calloc(n_terms, sizeof(uint32_t *)), calloc(n_terms, 4), calloc(n_terms, 16)};
    for (uint32_t d = 0; d < n_docs; d++) c.doclens[d] = 1 + (uint32_t)(rnd() % 200);
    for (uint32_t t = 0; t < n_terms; t++) {
        snprintf(c.names[t], 16, "t%05u", t);
        uint32_t period = 1 + (uint32_t)(rnd() % (t % 3 == 0 ? 2 : 40));
        c.docs[t] = malloc((n_docs + 1) * 4);
        c.tfs[t] = malloc((n_docs + 1) * 4);
        for (uint32_t d = 0; d < n_docs; d++) {
            if ((d * 7 + t) % period == 0) {
                c.docs[t][c.df[t]] = d;
                c.tfs[t][c.df[t]++] = 1 + (uint32_t)(rnd() % 9);
            }
        }
        if (c.df[t] == 0 && n_docs > 0) {
            c.docs[t][0] = t % n_docs;
            c.tfs[t][0] = 2;
            c.df[t] = 1;
        }
    }
    return c;
}

static void free_coll(coll *c) {
    for (uint32_t t = 0; t < c->n_terms; t++) {
        free(c->docs[t]);
        free(c->tfs[t]);
    }
    free(c->docs);
    free(c->tfs);
    free(c->df);
    free(c->names);
    free(c->doclens);
}

static void write_coll(const coll *c, const char *path) {
    spar_segment_writer *w = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_open(path, c->n_docs, c->doclens, 1.2f, 0.75f, &w, &diag), SPAR_OK);
    for (uint32_t t = 0; t < c->n_terms; t++)
        CU_ASSERT_EQUAL_FATAL(
            spar_segment_writer_add(w, c->names[t], strlen(c->names[t]), c->docs[t], c->tfs[t], c->df[t]), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_commit(w, &diag), SPAR_OK);
}

static uint8_t *read_all(const char *path, size_t *len) {
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static int same_info(const spar_term_info *a, const spar_term_info *b) { /* not memcmp: struct padding */
    return a->df == b->df && a->n_blocks == b->n_blocks && a->cf == b->cf && a->offset == b->offset &&
           a->bytes == b->bytes && a->max_tf == b->max_tf && a->min_dl == b->min_dl && a->max_tfpart == b->max_tfpart;
}

/* Everything in s must equal c. */
static void check_against(const spar_segment *s, const coll *c) {
    CU_ASSERT_EQUAL_FATAL(spar_segment_n_docs(s), c->n_docs);
    CU_ASSERT_EQUAL_FATAL(spar_segment_n_terms(s), c->n_terms);
    uint64_t np = 0, sum = 0;
    for (uint32_t t = 0; t < c->n_terms; t++) np += c->df[t];
    for (uint32_t d = 0; d < c->n_docs; d++) sum += c->doclens[d];
    CU_ASSERT_EQUAL(spar_segment_n_postings(s), np);
    CU_ASSERT_DOUBLE_EQUAL(spar_segment_avgdl(s), c->n_docs ? (double)sum / c->n_docs : 0.0, 1e-12);
    CU_ASSERT_EQUAL(spar_segment_k1(s), 1.2f);
    CU_ASSERT_EQUAL(spar_segment_b(s), 0.75f);
    int ok = 1;
    uint32_t *dlq = malloc((c->n_docs ? c->n_docs : 1) * sizeof *dlq);
    for (uint32_t d = 0; d < c->n_docs; d++) {
        if (spar_segment_norms(s)[d] != spar_norm_encode(c->doclens[d])) ok = 0;
        dlq[d] = spar_norm_decode(spar_norm_encode(c->doclens[d]));
    }
    CU_ASSERT_TRUE(ok);
    spar_buf scratch = {0};
    for (uint32_t t = 0; t < c->n_terms; t++) {
        spar_term_info ti, ti2, ti_enc;
        char name[64];
        size_t len;
        if (spar_segment_lookup(s, c->names[t], strlen(c->names[t]), &ti) != SPAR_OK) {
            ok = 0;
            continue;
        }
        if (spar_segment_term_at(s, t, name, sizeof name, &len, &ti2) != SPAR_OK || len != strlen(c->names[t]) ||
            memcmp(name, c->names[t], len) != 0 || !same_info(&ti, &ti2))
            ok = 0;
        /* stored or derived, the statistics are what the encoder computed with the decoded lengths */
        scratch.len = 0;
        spar_postings_encode(c->docs[t], c->tfs[t], c->df[t], dlq, spar_segment_k1(s), spar_segment_b(s),
                             (float)spar_segment_avgdl(s), &scratch, &ti_enc);
        ti_enc.offset = ti.offset;
        if (!same_info(&ti, &ti_enc)) ok = 0;
        spar_cursor cur;
        spar_segment_cursor(s, &ti, &cur);
        for (uint32_t i = 0; i < c->df[t]; i++, spar_cursor_next(&cur))
            if (cur.docid != c->docs[t][i] || spar_cursor_freq(&cur) != c->tfs[t][i]) ok = 0;
        if (cur.docid != SPAR_DOCID_END) ok = 0;
    }
    CU_ASSERT_TRUE(ok);
    spar_buf_free(&scratch);
    free(dlq);
}

static void test_roundtrip_file(void) {
    char p[512];
    path_in(p, sizeof p, "seg-000001.post");
    coll c = make_coll(3000, 100); /* several dictionary blocks, lists of 1 .. 3000 postings */
    write_coll(&c, p);
    spar_segment *s = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_segment_open(p, &s, &diag), SPAR_OK);
    check_against(s, &c);
    spar_segment_close(s);
    free_coll(&c);
}

static void test_roundtrip_mem_unaligned(void) {
    char p[512];
    path_in(p, sizeof p, "mem.post");
    coll c = make_coll(500, 37);
    write_coll(&c, p);
    size_t len = 0;
    uint8_t *b = read_all(p, &len);
    uint8_t *shifted = malloc(len + 1);
    memcpy(shifted + 1, b, len); /* misaligned on purpose */
    spar_segment *s = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_segment_open_mem(shifted + 1, len, &s, &diag), SPAR_OK);
    check_against(s, &c);
    spar_segment_close(s);
    free(shifted);
    free(b);
    free_coll(&c);
}

static void test_lookup_missing_terms(void) {
    char p[512];
    path_in(p, sizeof p, "miss.post");
    coll c = make_coll(100, 50);
    write_coll(&c, p);
    spar_segment *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_open(p, &s, NULL), SPAR_OK);
    spar_term_info ti;
    const char *miss[] = {"", "a", "t", "t0000", "t00000a", "t00010x", "t00049 ", "t00050", "u", "\xff\xff"};
    for (unsigned i = 0; i < sizeof miss / sizeof *miss; i++)
        CU_ASSERT_EQUAL(spar_segment_lookup(s, miss[i], strlen(miss[i]), &ti), SPAR_E_NOT_FOUND);
    char name[16];
    size_t len = 0;
    CU_ASSERT_EQUAL(spar_segment_term_at(s, 50, name, sizeof name, &len, &ti), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_segment_term_at(s, 7, name, 3, &len, &ti), SPAR_E_INVALID_ARG); /* buffer too small */
    CU_ASSERT_EQUAL(len, 6);
    CU_ASSERT_EQUAL(memcmp(name, "t00", 3), 0);
    spar_segment_close(s);
    free_coll(&c);
}

static void test_empty_segment(void) {
    char p[512];
    path_in(p, sizeof p, "empty.post");
    coll c = make_coll(0, 0);
    write_coll(&c, p);
    spar_segment *s = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_segment_open(p, &s, &diag), SPAR_OK);
    check_against(s, &c);
    spar_term_info ti;
    CU_ASSERT_EQUAL(spar_segment_lookup(s, "x", 1, &ti), SPAR_E_NOT_FOUND);
    spar_segment_close(s);
    free_coll(&c);
}

static void test_writer_rejects_bad_input(void) {
    char p[512], tmp[520];
    path_in(p, sizeof p, "bad.post");
    uint32_t dl[4] = {1, 2, 3, 4}, d[2] = {1, 2}, d_big[1] = {4}, tf[2] = {1, 1};
    spar_segment_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_open(p, 4, dl, 1.2f, 0.75f, &w, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(spar_segment_writer_add(w, "b", 1, d, tf, 2), SPAR_OK);
    CU_ASSERT_EQUAL(spar_segment_writer_add(w, "a", 1, d, tf, 2), SPAR_E_INVALID_ARG);  /* order */
    CU_ASSERT_EQUAL(spar_segment_writer_add(w, "b", 1, d, tf, 2), SPAR_E_INVALID_ARG);  /* duplicate */
    CU_ASSERT_EQUAL(spar_segment_writer_add(w, "c", 1, d_big, tf, 1), SPAR_E_INVALID_ARG); /* docid >= n_docs */
    CU_ASSERT_EQUAL(spar_segment_writer_add(w, "c", 1, d, tf, 0), SPAR_E_INVALID_ARG);  /* empty list */
    spar_segment_writer_abort(w);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "rb");
    CU_ASSERT_PTR_NULL(f);
    if (f) fclose(f);
    CU_ASSERT_EQUAL(spar_segment_writer_open(p, 4, NULL, 1.2f, 0.75f, &w, NULL), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_segment_writer_open(p, 4, dl, 1.2f, 2.0f, &w, NULL), SPAR_E_INVALID_ARG);
}

static void test_every_byte_flip_detected_at_open(void) {
    char p[512];
    path_in(p, sizeof p, "flip.post");
    coll c = make_coll(300, 20);
    write_coll(&c, p);
    size_t len = 0;
    uint8_t *b = read_all(p, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    size_t missed = 0;
    for (size_t i = 0; i < len; i++) {
        b[i] ^= 0x01;
        spar_segment *s = NULL;
        spar_status st = spar_segment_open_mem(b, len, &s, NULL);
        if (st != SPAR_E_CORRUPT && st != SPAR_E_VERSION) missed++;
        spar_segment_close(s);
        b[i] ^= 0x01;
    }
    CU_ASSERT_EQUAL(missed, 0);
    /* through the file path too, for a few positions: the message names the file */
    FILE *f = fopen(p, "r+b");
    fseek(f, (long)len / 2, SEEK_SET);
    fputc(b[len / 2] ^ 0x40, f);
    fclose(f);
    spar_segment *s = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL(spar_segment_open(p, &s, &diag), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "flip.post"));
    CU_ASSERT_PTR_NULL(s);
    /* truncation */
    for (size_t cut = 0; cut < len; cut += 1 + cut / 3) {
        CU_ASSERT_NOT_EQUAL(spar_segment_open_mem(b, cut, &s, NULL), SPAR_OK);
    }
    free(b);
    free_coll(&c);
}

static void rehash(uint8_t *b, size_t len) {
    spar_file_header h;
    memcpy(&h, b, sizeof h);
    h.payload_bytes = len - sizeof h;
    h.payload_xxh3 = XXH3_64bits(b + sizeof h, len - sizeof h);
    memcpy(b, &h, sizeof h);
}

/* Walk everything a query could touch. */
static void walk(const spar_segment *s) {
    uint64_t n = spar_segment_n_terms(s);
    for (uint64_t i = 0; i < n; i++) {
        char t[64];
        size_t l;
        spar_term_info ti;
        if (spar_segment_term_at(s, i, t, sizeof t, &l, &ti) != SPAR_OK) continue;
        spar_term_info ti2;
        CU_ASSERT_EQUAL(spar_segment_lookup(s, t, l, &ti2), SPAR_OK);
        spar_cursor c;
        spar_segment_cursor(s, &ti, &c);
        uint32_t prev = 0, k = 0;
        while (c.docid != SPAR_DOCID_END) {
            if (k > 0) CU_ASSERT_TRUE(c.docid > prev);
            CU_ASSERT_TRUE(c.docid < spar_segment_n_docs(s));
            CU_ASSERT_TRUE(spar_cursor_freq(&c) >= 1);
            prev = c.docid;
            k++;
            spar_cursor_next(&c);
        }
        CU_ASSERT_EQUAL(k, ti.df);
        spar_segment_cursor(s, &ti, &c);
        spar_cursor_shallow(&c, prev / 2);
        (void)spar_cursor_block_max_tfpart(&c);
        spar_cursor_next_geq(&c, prev / 2);
        spar_cursor_next_geq(&c, prev);
        CU_ASSERT_EQUAL(c.docid, prev);
    }
}

static void test_structural_corruption_with_valid_checksum(void) {
    char p[512];
    path_in(p, sizeof p, "struct.post");
    coll c = make_coll(400, 24);
    write_coll(&c, p);
    size_t len = 0;
    uint8_t *orig = read_all(p, &len);
    uint8_t *b = malloc(len);
    size_t accepted = 0, rejected = 0;
    for (size_t i = 32; i < len; i++) {
        for (int v = 0; v < 3; v++) {
            memcpy(b, orig, len);
            b[i] = v == 0 ? (uint8_t)(b[i] ^ 0x01) : v == 1 ? (uint8_t)(b[i] ^ 0x80) : (uint8_t)rnd();
            rehash(b, len);
            spar_segment *s = NULL;
            spar_status st = spar_segment_open_mem(b, len, &s, NULL);
            CU_ASSERT_TRUE_FATAL(st == SPAR_OK || st == SPAR_E_CORRUPT || st == SPAR_E_VERSION);
            if (st == SPAR_OK) {
                accepted++;
                walk(s);
            } else {
                rejected++;
            }
            spar_segment_close(s);
        }
    }
    /* most structural damage is caught; what passes is padding, reserved block-max fields and the like */
    CU_ASSERT_TRUE(rejected > accepted);
    printf("\n    rehashed corruptions: %zu rejected, %zu accepted (and walked safely)\n", rejected, accepted);
    free(b);
    free(orig);
    free_coll(&c);
}

static void test_output_is_deterministic(void) {
    char p1[512], p2[512];
    path_in(p1, sizeof p1, "det1.post");
    path_in(p2, sizeof p2, "det2.post");
    coll c = make_coll(700, 40);
    write_coll(&c, p1);
    write_coll(&c, p2);
    size_t l1 = 0, l2 = 0;
    uint8_t *b1 = read_all(p1, &l1), *b2 = read_all(p2, &l2);
    CU_ASSERT_EQUAL_FATAL(l1, l2);
    CU_ASSERT_EQUAL(memcmp(b1, b2, l1), 0);
    free(b1);
    free(b2);
    free_coll(&c);
}

/* Lucene's SmallFloat.intToByte4 / byte4ToInt: exact below 24, then 3 mantissa bits per power of two. */
static void test_norm_bytes(void) {
    for (uint32_t dl = 0; dl < 24; dl++) CU_ASSERT_EQUAL(spar_norm_decode(spar_norm_encode(dl)), dl);
    /* values of Lucene's table: lengths up to 39 exact, then buckets of 2 (40..), 4 (56..), ...;
     * byte 255 = 2013265944 = 24 + 15 * 2^27 */
    CU_ASSERT_EQUAL(spar_norm_decode(39), 39);
    CU_ASSERT_EQUAL(spar_norm_decode(40), 40);
    CU_ASSERT_EQUAL(spar_norm_decode(41), 42);
    CU_ASSERT_EQUAL(spar_norm_decode(48), 56);
    CU_ASSERT_EQUAL(spar_norm_decode(49), 60);
    CU_ASSERT_EQUAL(spar_norm_decode(255), 2013265944u);
    CU_ASSERT_EQUAL(spar_norm_encode(41), 40); /* 40, 41 share a bucket */
    CU_ASSERT_EQUAL(spar_norm_encode(59), 48);
    CU_ASSERT_EQUAL(spar_norm_encode(UINT32_MAX), 255);
    CU_ASSERT_EQUAL(spar_norm_encode(0x7fffffffu), 255);
    int ok = 1;
    for (unsigned n = 0; n < 256; n++) { /* each byte decodes to the smallest length encoding to it */
        const uint32_t v = spar_norm_decode((uint8_t)n);
        if (spar_norm_encode(v) != n || (n > 0 && spar_norm_encode(v - 1) != n - 1)) ok = 0;
        if (n > 0 && v <= spar_norm_decode((uint8_t)(n - 1))) ok = 0;
    }
    for (uint32_t dl = 0; dl < 200000; dl += 1 + dl / 64) /* decoded <= exact, within 1/8 */
        if (spar_norm_decode(spar_norm_encode(dl)) > dl || spar_norm_decode(spar_norm_encode(dl)) < dl - dl / 8) ok = 0;
    CU_ASSERT_TRUE(ok);
}

/* Terms sharing long prefixes, terms that are prefixes of others, high bytes; lookups of every term and of
 * near misses around each (shorter, longer, last byte +-1), and term_at rebuilding each. */
static void test_front_coding(void) {
    char p[512];
    path_in(p, sizeof p, "front.post");
    enum { N = 300 };
    static char names[N][300];
    static size_t lens[N];
    /* generate sorted distinct terms: a random walk over a few alphabets and lengths */
    size_t n = 0;
    char cur[300] = "a";
    size_t cl = 1;
    while (n < N) {
        memcpy(names[n], cur, cl);
        lens[n++] = cl;
        const unsigned op = (unsigned)(rnd() % 4);
        if (op == 0 && cl < 290) { /* extend: a longer term with cur as its prefix */
            const size_t add = 1 + (size_t)(rnd() % (rnd() % 8 == 0 ? 200 : 3));
            for (size_t k = 0; k < add && cl < 299; k++) cur[cl++] = (char)(rnd() % 2 ? 'a' + rnd() % 3 : 0xfe);
        } else if (op == 1 && cl > 1) { /* shorten then bump (an extension when the byte is 0xff) */
            const size_t keep = 1 + (size_t)(rnd() % cl);
            if ((uint8_t)cur[keep - 1] == 0xff) {
                if (cl < 299) cur[cl++] = 'a';
            } else {
                cl = keep;
                cur[cl - 1] = (char)((uint8_t)cur[cl - 1] + 1);
            }
        } else { /* bump the last byte */
            if ((uint8_t)cur[cl - 1] == 0xff) cur[cl++] = 'a';
            else cur[cl - 1] = (char)((uint8_t)cur[cl - 1] + 1);
        }
    }
    uint32_t dl[8] = {3, 30, 300, 1, 2, 3000, 5, 6}, doc[1], tf[1] = {1};
    spar_segment_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_open(p, 8, dl, 1.2f, 0.75f, &w, NULL), SPAR_OK);
    for (size_t i = 0; i < N; i++) {
        doc[0] = (uint32_t)(i % 8);
        CU_ASSERT_EQUAL_FATAL(spar_segment_writer_add(w, names[i], lens[i], doc, tf, 1), SPAR_OK);
    }
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_commit(w, NULL), SPAR_OK);
    spar_segment *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_open(p, &s, NULL), SPAR_OK);
    int ok = 1;
    char buf[300], key[301];
    for (size_t i = 0; i < N; i++) {
        spar_term_info ti;
        size_t l = 0;
        if (spar_segment_term_at(s, i, buf, sizeof buf, &l, &ti) != SPAR_OK || l != lens[i] ||
            memcmp(buf, names[i], l) != 0 || ti.df != 1)
            ok = 0;
        if (spar_segment_lookup(s, names[i], lens[i], &ti) != SPAR_OK) ok = 0;
        spar_cursor c;
        spar_segment_cursor(s, &ti, &c);
        if (c.docid != i % 8) ok = 0;
        /* near misses: absent unless they happen to be other terms */
        for (int v = 0; v < 4; v++) {
            size_t kl = lens[i];
            memcpy(key, names[i], kl);
            if (v == 0) kl--;
            else if (v == 1) key[kl++] = (char)0x01;
            else if (v == 2) key[kl - 1] = (char)((uint8_t)key[kl - 1] + 1);
            else key[kl - 1] = (char)((uint8_t)key[kl - 1] - 1);
            int present = 0;
            for (size_t j = 0; j < N; j++) present |= lens[j] == kl && memcmp(names[j], key, kl) == 0;
            if ((spar_segment_lookup(s, key, kl, &ti) == SPAR_OK) != present) ok = 0;
        }
    }
    CU_ASSERT_TRUE(ok);
    spar_segment_close(s);
}

/* Files of formats 1.x and 2.x (header and footer say N.0) are refused with SPAR_E_VERSION and a message
 * that says to rebuild the index. */
static void test_old_version_refused(void) {
    char p[512];
    path_in(p, sizeof p, "old.post");
    coll c = make_coll(50, 5);
    write_coll(&c, p);
    size_t len = 0;
    uint8_t *b = read_all(p, &len);
    for (uint16_t major = 1; major < SPAR_SEGMENT_VERSION_MAJOR; major++) {
        const uint16_t zero = 0;
        memcpy(b + 4, &major, 2); /* header version_major */
        memcpy(b + 6, &zero, 2);
        memcpy(b + len - 64 + 4, &major, 2); /* footer copy */
        memcpy(b + len - 64 + 6, &zero, 2);
        rehash(b, len);
        spar_segment *s = NULL;
        spar_diag diag = {{0}};
        CU_ASSERT_EQUAL(spar_segment_open_mem(b, len, &s, &diag), SPAR_E_VERSION);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "no longer supported"));
        CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "rebuild the index"));
        CU_ASSERT_PTR_NULL(s);
    }
    free(b);
    free_coll(&c);
}

/* docs/format/segment.md byte for byte on a two-term segment: norms, lists back to back with no padding,
 * a dictionary of one block (first term whole, the second front-coded, each list header holding df and
 * the size's excess), the 64-byte footer, and nothing else (no block index, no offsets). */
static void test_layout_matches_spec(void) {
    char p[512];
    path_in(p, sizeof p, "layout.post");
    uint32_t dl[2] = {5, 7}, d1[1] = {1}, t1[1] = {3}, d0[1] = {0}, t0[1] = {1};
    spar_segment_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_open(p, 2, dl, 0.9f, 0.4f, &w, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_add(w, "ab", 2, d1, t1, 1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_add(w, "abc", 3, d0, t0, 1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_commit(w, NULL), SPAR_OK);
    uint8_t want[2 + 3 + 7 + 64] = {
        5, 7,             /* norms (exact below 24) */
        0x02, 0x01,       /* "ab": varint(gap 1 << 1 | tf != 1), varint(tf - 2) */
        0x01,             /* "abc": varint(gap 0 << 1 | tf == 1) */
        0x02, 'a', 'b',   /* first entry of the block: varint term_len, term */
        0x08,             /* list header: excess (2 bytes - 1 posting = 1) << 3 | df - 1 */
        0x20, 'c',        /* prefix 2 << 4 | suffix_len - 1, suffix */
        0x00,             /* excess 0, df 1 */
    };
    uint8_t *f = want + 12;
    const uint32_t magic = 0x46474553u, n_docs = 2, tpb = 16;
    const uint16_t major = SPAR_SEGMENT_VERSION_MAJOR, minor = SPAR_SEGMENT_VERSION_MINOR;
    const uint64_t n_terms = 2, n_postings = 2, total_dl = 12, postings_bytes = 3;
    const float k1 = 0.9f, b = 0.4f;
    memcpy(f, &magic, 4);
    memcpy(f + 4, &major, 2);
    memcpy(f + 6, &minor, 2);
    memcpy(f + 12, &n_docs, 4);
    memcpy(f + 16, &n_terms, 8);
    memcpy(f + 24, &n_postings, 8);
    memcpy(f + 32, &total_dl, 8);
    memcpy(f + 40, &postings_bytes, 8);
    memcpy(f + 48, &k1, 4);
    memcpy(f + 52, &b, 4);
    memcpy(f + 56, &tpb, 4);
    size_t len = 0;
    uint8_t *got = read_all(p, &len);
    CU_ASSERT_EQUAL_FATAL(len, 32 + sizeof want);
    CU_ASSERT_EQUAL(memcmp(got + 32, want, sizeof want), 0);
    spar_segment *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_open_mem(got, len, &s, NULL), SPAR_OK);
    spar_term_info ti;
    CU_ASSERT_EQUAL(spar_segment_lookup(s, "ab", 2, &ti), SPAR_OK);
    CU_ASSERT_TRUE(ti.offset == 0 && ti.bytes == 2 && ti.df == 1 && ti.cf == 3 && ti.max_tf == 3 && ti.min_dl == 7);
    CU_ASSERT_EQUAL(spar_segment_lookup(s, "abc", 3, &ti), SPAR_OK);
    CU_ASSERT_TRUE(ti.offset == 2 && ti.bytes == 1 && ti.df == 1 && ti.cf == 1 && ti.min_dl == 5);
    CU_ASSERT_DOUBLE_EQUAL(spar_segment_avgdl(s), 6.0, 0);
    spar_segment_close(s);
    free(got);
}

/* Escapes of the packed headers: suffixes of 15, 16 and 17 bytes and more, df of 7, 8, 9, 128, 129 (the
 * first two-block list) and 300, a long list right after short ones (lists are not aligned), and a
 * dictionary block boundary among them. Everything round-trips through lookup, term_at and cursors. */
static void test_header_escapes(void) {
    char p[512];
    path_in(p, sizeof p, "esc.post");
    enum { ND = 400, NT = 40 };
    static const uint32_t dfs[] = {7, 8, 9, 128, 129, 300, 1, 2};
    coll c = {ND, NT, calloc(ND, 4), calloc(NT, sizeof(uint32_t *)), calloc(NT, sizeof(uint32_t *)), calloc(NT, 4),
              calloc(NT, 16)};
    static char names[NT][64];
    static size_t lens[NT];
    for (uint32_t d = 0; d < ND; d++) c.doclens[d] = 1 + d % 50;
    for (uint32_t t = 0; t < NT; t++) {
        /* even t: a new first byte, then 10..21 'x' (prefix 0, suffix 11..22 bytes); odd t: the previous
         * term extended by 13..18 'y' (prefix 11..22, suffix 13..18): both sides of the 15/16 escape */
        if (t % 2 == 0) {
            lens[t] = 1 + 10 + t % 12;
            memset(names[t], 'x', lens[t]);
            names[t][0] = (char)('A' + t / 2);
        } else {
            memcpy(names[t], names[t - 1], lens[t - 1]);
            memset(names[t] + lens[t - 1], 'y', 13 + t % 6);
            lens[t] = lens[t - 1] + 13 + t % 6;
        }
        c.df[t] = dfs[t % 8];
        c.docs[t] = malloc(ND * 4);
        c.tfs[t] = malloc(ND * 4);
        for (uint32_t i = 0; i < c.df[t]; i++) {
            c.docs[t][i] = i * (ND / c.df[t]) + t % (ND / c.df[t]);
            c.tfs[t][i] = 1 + (i + t) % 4;
        }
    }
    spar_segment_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_open(p, ND, c.doclens, 1.2f, 0.75f, &w, NULL), SPAR_OK);
    for (uint32_t t = 0; t < NT; t++)
        CU_ASSERT_EQUAL_FATAL(spar_segment_writer_add(w, names[t], lens[t], c.docs[t], c.tfs[t], c.df[t]), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_segment_writer_commit(w, NULL), SPAR_OK);
    spar_segment *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_segment_open(p, &s, NULL), SPAR_OK);
    int ok = 1;
    for (uint32_t t = 0; t < NT; t++) {
        spar_term_info ti, ti2;
        char buf[64];
        size_t l = 0;
        if (spar_segment_lookup(s, names[t], lens[t], &ti) != SPAR_OK || ti.df != c.df[t]) ok = 0;
        if (spar_segment_term_at(s, t, buf, sizeof buf, &l, &ti2) != SPAR_OK || l != lens[t] ||
            memcmp(buf, names[t], l) != 0 || !same_info(&ti, &ti2))
            ok = 0;
        spar_cursor cur;
        spar_segment_cursor(s, &ti, &cur);
        for (uint32_t i = 0; i < c.df[t]; i++, spar_cursor_next(&cur))
            if (cur.docid != c.docs[t][i] || spar_cursor_freq(&cur) != c.tfs[t][i]) ok = 0;
        if (cur.docid != SPAR_DOCID_END) ok = 0;
    }
    CU_ASSERT_TRUE(ok);
    spar_segment_close(s);
    free_coll(&c);
}

/* Footer fields that cannot describe the file are refused (after a recomputed checksum) before anything
 * is allocated from them: a huge n_terms, a postings size past the footer or off by one, n_docs past the
 * footer, a zero dictionary block size, a non-zero reserved field. */
static void test_footer_fields_checked(void) {
    char p[512];
    path_in(p, sizeof p, "footer.post");
    coll c = make_coll(60, 12);
    write_coll(&c, p);
    size_t len = 0;
    uint8_t *orig = read_all(p, &len);
    uint8_t *b = malloc(len);
    const size_t f = len - 64;
    struct { size_t off, size; uint64_t delta; int absolute; } cases[] = {
        {16, 8, 1ull << 40, 1}, {40, 8, 1ull << 40, 1}, {40, 8, 1, 0}, {40, 8, (uint64_t)-1, 0},
        {12, 4, 1u << 30, 1},   {56, 4, 0, 1},          {60, 4, 1, 1}, {24, 8, 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        memcpy(b, orig, len);
        uint64_t v = 0;
        memcpy(&v, b + f + cases[k].off, cases[k].size);
        v = cases[k].absolute ? cases[k].delta : v + cases[k].delta;
        memcpy(b + f + cases[k].off, &v, cases[k].size); /* little-endian: the low bytes */
        rehash(b, len);
        spar_segment *s = NULL;
        spar_diag diag = {{0}};
        CU_ASSERT_EQUAL(spar_segment_open_mem(b, len, &s, &diag), SPAR_E_CORRUPT);
        CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "byte "));
        CU_ASSERT_PTR_NULL(s);
    }
    free(b);
    free(orig);
    free_coll(&c);
}

static int suite_init(void) {
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/spar_test_segment_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(g_dir) == NULL;
}
static int suite_clean(void) { return spar_remove_tree(g_dir) != SPAR_OK; }

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/segment", suite_init, suite_clean);
    if (s == NULL) goto out;
    if (!CU_add_test(s, "write, open, every term and posting round-trips", test_roundtrip_file) ||
        !CU_add_test(s, "open_mem on a misaligned buffer", test_roundtrip_mem_unaligned) ||
        !CU_add_test(s, "lookup of absent terms", test_lookup_missing_terms) ||
        !CU_add_test(s, "norm bytes follow Lucene's SmallFloat.intToByte4", test_norm_bytes) ||
        !CU_add_test(s, "front-coded dictionary: prefixes, near misses, term_at", test_front_coding) ||
        !CU_add_test(s, "formats 1.x and 2.x refused with SPAR_E_VERSION", test_old_version_refused) ||
        !CU_add_test(s, "layout matches docs/format/segment.md byte for byte", test_layout_matches_spec) ||
        !CU_add_test(s, "packed entry headers: suffix and df escapes, unaligned lists", test_header_escapes) ||
        !CU_add_test(s, "footer fields that do not fit the file are refused", test_footer_fields_checked) ||
        !CU_add_test(s, "empty segment", test_empty_segment) ||
        !CU_add_test(s, "writer rejects bad input", test_writer_rejects_bad_input) ||
        !CU_add_test(s, "same input, byte-identical file", test_output_is_deterministic) ||
        !CU_add_test(s, "every single-byte flip refused at open", test_every_byte_flip_detected_at_open) ||
        !CU_add_test(s, "structural corruption behind a valid checksum never crashes",
                     test_structural_corruption_with_valid_checksum))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
