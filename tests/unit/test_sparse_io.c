/* test_sparse_io.c — saving and loading learned-sparse indexes (index/sparse/sparse_io.c, format 2 of
 * docs/format/sparse.md): a saved float or 8-bit index answers bit for bit like the built one with every
 * algorithm, however it is loaded (checked map, unchecked map, memory copy, directory); saving is complete
 * (a loaded index saves to the same bytes); sections are 64-byte aligned; damage to the header, the section
 * table, an offset array or a bulk array is refused with the byte offset by the load that is meant to see it;
 * a format-1 file still loads (exact parts rebuilt) and answers like its format-2 re-save. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "spar/spar_sparse.h"

#include "common/test_data.h"

#define TABLE_AT 160u /* file offset of the section table: 32-byte header + 128-byte meta */
#define NSEC_AT 68u   /* file offset of meta.n_sections */
#define ENTRY 32u     /* {u32 id, u32 elem, u64 offset, u64 count, u64 xxh3} */

static char tmp_dir[96];

static const char *tmp(const char *name) {
    static char p[4][192];
    static int i;
    i = (i + 1) & 3;
    snprintf(p[i], sizeof p[i], "%s/%s", tmp_dir, name);
    return p[i];
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* Repair the meta/table checksum (just after the table) and the header's payload XXH3. */
static void rehash(uint8_t *b, size_t n) {
    uint32_t ns;
    memcpy(&ns, b + NSEC_AT, 4);
    size_t end = TABLE_AT + (size_t)ns * ENTRY;
    if (end + 8 <= n) {
        uint64_t h = XXH3_64bits(b + 32, end - 32);
        memcpy(b + end, &h, 8);
    }
    uint64_t p = XXH3_64bits(b + 32, n - 32);
    memcpy(b + 24, &p, 8);
}

/* Table entry of section id (index into the table), or -1. */
static int entry_of(const uint8_t *b, uint32_t id) {
    uint32_t ns, x;
    memcpy(&ns, b + NSEC_AT, 4);
    for (uint32_t i = 0; i < ns; i++) {
        memcpy(&x, b + TABLE_AT + (size_t)i * ENTRY, 4);
        if (x == id) return (int)i;
    }
    return -1;
}
static uint64_t entry_u64(const uint8_t *b, int e, size_t field) {
    uint64_t v;
    memcpy(&v, b + TABLE_AT + (size_t)e * ENTRY + field, 8);
    return v;
}

typedef struct fixture {
    spar_test_sparse d, q;
    spar_sparse_index *ix;
} fixture;

static void fixture_make(fixture *f, uint32_t n_docs, uint32_t bits, int approx, int reorder, uint64_t seed) {
    uint64_t st = seed;
    spar_test_sparse_shape sh = {SPAR_TEST_TERMS_ZIPF, 8, 5, 0.0f, 0.05};
    spar_test_sparse_gen(&f->d, &st, &sh, n_docs, 500, 40);
    spar_test_sparse_shape qs = {SPAR_TEST_TERMS_ZIPF, 8, 3, 0.0f, 0.1};
    spar_test_sparse_gen(&f->q, &st, &qs, 25, 500, 20);
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.weight_bits = bits;
    o.build_approx = approx;
    o.reorder = reorder;
    o.n_postings = 300;
    o.n_threads = 1;
    f->ix = NULL;
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_build_vecs(f->d.v, f->d.n, f->d.dim, &o, &f->ix, &dg), SPAR_OK);
}

static void fixture_free(fixture *f) {
    spar_sparse_index_free(f->ix);
    spar_test_sparse_free(&f->d);
    spar_test_sparse_free(&f->q);
}

/* Every query, k in {1, 10, 100}, every exact algorithm and (if both have it) approximate search: a and b
 * return the same docids and bit-identical scores. Returns the number of searches compared. */
static unsigned same_answers(const spar_sparse_index *a, const spar_sparse_index *b,
                             const spar_test_sparse *q) {
    spar_sparse_searcher *sa = NULL, *sb = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(a, &sa), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(b, &sb), SPAR_OK);
    static const uint32_t ks[] = {1, 10, 100};
    spar_hit ha[100], hb[100];
    unsigned n_cmp = 0;
    for (uint32_t i = 0; i < q->n; i++)
        for (int ki = 0; ki < 3; ki++) {
            for (int alg = 0; alg < 5; alg++) {
                size_t na = 0, nb = 0;
                spar_status ra, rb;
                if (alg < 4) {
                    ra = spar_sparse_search_exact(sa, &q->v[i], ks[ki], (spar_sparse_exact_algo)alg, ha, &na);
                    rb = spar_sparse_search_exact(sb, &q->v[i], ks[ki], (spar_sparse_exact_algo)alg, hb, &nb);
                } else {
                    spar_sparse_approx_params p = {5, 0.9f};
                    ra = spar_sparse_search_approx(sa, &q->v[i], ks[ki], &p, ha, &na);
                    rb = spar_sparse_search_approx(sb, &q->v[i], ks[ki], &p, hb, &nb);
                }
                CU_ASSERT_EQUAL(ra, rb);
                if (ra != SPAR_OK) continue;
                CU_ASSERT_EQUAL(na, nb);
                if (na == nb) CU_ASSERT_EQUAL(memcmp(ha, hb, na * sizeof *ha), 0);
                n_cmp++;
            }
        }
    spar_sparse_searcher_free(sa);
    spar_sparse_searcher_free(sb);
    return n_cmp;
}

/* Save f->ix, then load it the three ways and from memory: all answer like the built index. */
static void round_trip(uint32_t bits, int approx, int reorder, uint32_t n_docs) {
    fixture f;
    fixture_make(&f, n_docs, bits, approx, reorder, 0x9e3779b97f4a7c15ull + n_docs + bits);
    const char *p = tmp("rt.idx");
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(f.ix, p, &dg), SPAR_OK);
    spar_sparse_index *full = NULL, *mapped = NULL, *mem = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load(p, &full, &dg), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load_mapped(p, &mapped, &dg), SPAR_OK);
    size_t n = 0;
    uint8_t *b = slurp(p, &n);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load_mem(b, n, "mem", &mem, &dg), SPAR_OK);
    free(b); /* load_mem copies */
    unsigned per = f.q.n * 3 * (approx ? 5 : 4);
    if (n_docs == 0) per = 0; /* nothing to find: exact searches still run, compared as empty */
    CU_ASSERT(same_answers(f.ix, full, &f.q) >= per);
    CU_ASSERT(same_answers(f.ix, mapped, &f.q) >= per);
    CU_ASSERT(same_answers(f.ix, mem, &f.q) >= per);
    spar_sparse_stats s0, s1;
    spar_sparse_index_stats(f.ix, &s0);
    spar_sparse_index_stats(mapped, &s1);
    CU_ASSERT_EQUAL(s0.n_docs, s1.n_docs);
    CU_ASSERT_EQUAL(s0.nnz, s1.nnz);
    CU_ASSERT_EQUAL(s0.bytes_inverted, s1.bytes_inverted);
    CU_ASSERT_EQUAL(s0.bytes_blockmax, s1.bytes_blockmax);
    CU_ASSERT_EQUAL(s0.bytes_approx, s1.bytes_approx);
    spar_sparse_index_free(full);
    spar_sparse_index_free(mapped);
    spar_sparse_index_free(mem);
    remove(p);
    fixture_free(&f);
}

static void test_float_round_trip(void) {
    round_trip(32, 1, 1, 3000);
}
static void test_u8_round_trip(void) {
    round_trip(8, 0, 1, 3000);
}
static void test_no_docid_map_round_trip(void) {
    round_trip(32, 0, 0, 700);
}
static void test_tiny_and_empty_round_trip(void) {
    round_trip(32, 1, 1, 5); /* fewer docs than a block: no docid map, one block */
    round_trip(8, 0, 1, 0);  /* no documents at all */
}

/* A loaded index (views into the file) saves to exactly the bytes it was loaded from: nothing is left out. */
static void test_resave_is_byte_identical(void) {
    static const uint32_t bits[] = {32, 8};
    for (int i = 0; i < 2; i++) {
        fixture f;
        fixture_make(&f, 1500, bits[i], bits[i] == 32, 1, 77 + (uint64_t)i);
        const char *a = tmp("a.idx"), *b = tmp("b.idx");
        CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(f.ix, a, NULL), SPAR_OK);
        spar_sparse_index *m = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load_mapped(a, &m, NULL), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(m, b, NULL), SPAR_OK);
        size_t na = 0, nb = 0;
        uint8_t *x = slurp(a, &na), *y = slurp(b, &nb);
        CU_ASSERT_EQUAL(na, nb);
        CU_ASSERT(na == nb && memcmp(x, y, na) == 0);
        free(x);
        free(y);
        spar_sparse_index_free(m);
        remove(a);
        remove(b);
        fixture_free(&f);
    }
}

/* Format 2 on disk: version 2 in the header, every section 64-byte aligned and inside the file, the 8-bit
 * flag and code sections present exactly for an 8-bit index. */
static void test_layout_aligned_and_versioned(void) {
    static const uint32_t bits[] = {32, 8};
    for (int i = 0; i < 2; i++) {
        fixture f;
        fixture_make(&f, 800, bits[i], 0, 1, 5);
        const char *p = tmp("layout.idx");
        CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(f.ix, p, NULL), SPAR_OK);
        size_t n = 0;
        uint8_t *b = slurp(p, &n);
        uint16_t major;
        memcpy(&major, b + 4, 2);
        CU_ASSERT_EQUAL(major, 2);
        CU_ASSERT_EQUAL(n % 64, 0);
        uint32_t ns;
        memcpy(&ns, b + NSEC_AT, 4);
        CU_ASSERT(ns >= 16);
        for (uint32_t e = 0; e < ns; e++) {
            uint32_t elem;
            memcpy(&elem, b + TABLE_AT + (size_t)e * ENTRY + 4, 4);
            uint64_t off = entry_u64(b, (int)e, 8), cnt = entry_u64(b, (int)e, 16);
            CU_ASSERT_EQUAL(off % 64, 0);
            CU_ASSERT(off + cnt * elem <= n);
        }
        CU_ASSERT_EQUAL(entry_of(b, 5) >= 0, bits[i] == 8);  /* f_q */
        CU_ASSERT_EQUAL(entry_of(b, 9) >= 0, bits[i] == 8);  /* p_q */
        CU_ASSERT_EQUAL(entry_of(b, 8) >= 0, bits[i] == 32); /* p_w */
        free(b);
        remove(p);
        fixture_free(&f);
    }
}

typedef struct saved {
    fixture f;
    uint8_t *b;
    size_t n;
    const char *path;
} saved;

static void saved_make(saved *s) {
    fixture_make(&s->f, 1200, 32, 1, 1, 99);
    s->path = tmp("dmg.idx");
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(s->f.ix, s->path, NULL), SPAR_OK);
    s->b = slurp(s->path, &s->n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->b);
}
static void saved_free(saved *s) {
    free(s->b);
    remove(s->path);
    fixture_free(&s->f);
}

/* Load a damaged image both through a file map (unchecked bulk) and from memory (every check): both must
 * refuse it; the mapped load's message must contain want. */
static void both_refuse(const uint8_t *b, size_t n, const char *want) {
    const char *p = tmp("bad.idx");
    spit(p, b, n);
    spar_sparse_index *ix = NULL;
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_index_load_mapped(p, &ix, &dg), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(ix);
    if (want && strstr(dg.msg, want) == NULL) fprintf(stderr, "\n  expected \"%s\" in: %s\n", want, dg.msg);
    if (want) CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, want));
    CU_ASSERT_EQUAL(spar_sparse_index_load_mem(b, n, "mem", &ix, &dg), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(ix);
    remove(p);
}

/* A flipped byte in the meta block or the section table is caught by the table checksum (or, in the magic and
 * the section count, by their own checks), even when the payload checksum is not checked (mapped load). */
static void test_table_damage_caught_by_its_checksum(void) {
    saved s;
    saved_make(&s);
    uint8_t *c = malloc(s.n);
    for (size_t at = 32; at < TABLE_AT + 4 * ENTRY; at += 13) {
        memcpy(c, s.b, s.n);
        c[at] ^= 0x10;
        /* the magic and the section count are checked before the checksum they delimit */
        int first = (at >= 32 && at < 36) || (at >= NSEC_AT && at < NSEC_AT + 4);
        both_refuse(c, s.n, first ? "byte " : "checksum");
    }
    free(c);
    saved_free(&s);
}

/* Table entries made inconsistent (and the checksums repaired, so that only the structural checks can see
 * it): misaligned, outside the file, overlapping, wrong element size, wrong length, duplicated, missing. Each
 * is refused with "byte N" and the section's name. */
static void test_bad_table_entries_refused(void) {
    saved s;
    saved_make(&s);
    uint8_t *c = malloc(s.n);
    int e = entry_of(s.b, 7); /* p_doc */
    CU_ASSERT_FATAL(e >= 0);
    size_t at = TABLE_AT + (size_t)e * ENTRY;
    uint64_t off = entry_u64(s.b, e, 8), v;
    struct {
        size_t field;
        uint64_t val;
        int width;
        const char *want;
    } cases[] = {
        {8, off + 8, 8, "misaligned"},
        {8, (uint64_t)s.n + 64, 8, "outside the file"},
        {8, entry_u64(s.b, entry_of(s.b, 3), 8), 8, "overlap"},
        {4, 2, 4, "element size"},
        {16, 1, 8, "wrong length"},
        {0, 4, 4, "listed twice"},       /* becomes a second f_w entry */
        {0, 9, 4, "does not belong"},    /* p_q in a float index */
        {0, 999, 4, "no p_doc section"}, /* unknown id (skipped) leaves p_doc missing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(c, s.b, s.n);
        v = cases[i].val;
        memcpy(c + at + cases[i].field, &v, (size_t)cases[i].width);
        rehash(c, s.n);
        both_refuse(c, s.n, cases[i].want);
    }
    free(c);
    saved_free(&s);
}

/* An offset array damaged with its section checksum and the payload checksum repaired: the mapped load still
 * checks offsets, and names the element by its byte offset. */
static void test_offset_array_damage_named(void) {
    saved s;
    saved_make(&s);
    static const uint32_t ids[] = {2, 6, 10, 16, 33}; /* f_off, p_off, bm_off, pb_off, a_boff */
    static const char *const names[] = {"f_off[", "p_off[", "bm_off[", "pb_off[", "a_boff["};
    uint8_t *c = malloc(s.n);
    for (int i = 0; i < 5; i++) {
        memcpy(c, s.b, s.n);
        int e = entry_of(c, ids[i]);
        CU_ASSERT_FATAL(e >= 0);
        uint64_t off = entry_u64(c, e, 8), cnt = entry_u64(c, e, 16), big = UINT64_C(1) << 40;
        memcpy(c + off + 8 * (cnt / 2), &big, 8); /* one offset far out of range */
        uint64_t h = XXH3_64bits(c + off, (size_t)(cnt * 8));
        memcpy(c + TABLE_AT + (size_t)e * ENTRY + 24, &h, 8);
        rehash(c, s.n);
        char want[64];
        snprintf(want, sizeof want, "%s%llu]", names[i], (unsigned long long)(cnt / 2));
        both_refuse(c, s.n, want);
        both_refuse(c, s.n, "byte ");
    }
    /* without repairing the section checksum, the mapped load reports the damaged section itself */
    memcpy(c, s.b, s.n);
    int e = entry_of(c, 6);
    c[entry_u64(c, e, 8) + 9] ^= 1;
    both_refuse(c, s.n, "section p_off: checksum mismatch");
    free(c);
    saved_free(&s);
}

/* A bulk array (docids, term ids, weights) damaged: the fully checking loads refuse it — by the checksum
 * (naming the section), or with checksums repaired by the element check (naming the element). */
static void test_bulk_damage_caught_by_full_load(void) {
    saved s;
    saved_make(&s);
    struct {
        uint32_t id;
        uint32_t elem;
        uint64_t val;
        const char *want;
    } cases[] = {
        {7, 4, 5000000, "p_doc["},         {3, 2, 60000, "f_ids["},
        {4, 4, 0xff800000u, "f_w["}, /* -inf */
        {11, 4, 1u << 30, "bm_blk["},      {17, 4, 123456789, "pb_last["},
        {34, 4, 1u << 31, "a_docs["},      {36, 2, 65535, "a_sterm["},
        {38, 4, 0x7fc00000u, "a_sscale["}, /* NaN */
    };
    uint8_t *c = malloc(s.n);
    spar_diag dg = {{0}};
    spar_sparse_index *ix = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(c, s.b, s.n);
        int e = entry_of(c, cases[i].id);
        CU_ASSERT_FATAL(e >= 0);
        uint64_t off = entry_u64(c, e, 8);
        memcpy(c + off, &cases[i].val, cases[i].elem);
        const char *p = tmp("bulk.idx");
        spit(p, c, s.n); /* payload checksum not repaired: the section is named */
        CU_ASSERT_EQUAL(spar_sparse_index_load(p, &ix, &dg), SPAR_E_CORRUPT);
        CU_ASSERT_PTR_NULL(ix);
        CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, "checksum mismatch"));
        rehash(c, s.n); /* repaired: the element check names it */
        spit(p, c, s.n);
        CU_ASSERT_EQUAL(spar_sparse_index_load(p, &ix, &dg), SPAR_E_CORRUPT);
        CU_ASSERT_PTR_NULL(ix);
        if (strstr(dg.msg, cases[i].want) == NULL)
            fprintf(stderr, "\n  expected \"%s\" in: %s\n", cases[i].want, dg.msg);
        CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, cases[i].want));
        CU_ASSERT_EQUAL(spar_sparse_index_load_mem(c, s.n, "mem", &ix, &dg), SPAR_E_CORRUPT);
        CU_ASSERT_PTR_NULL(ix);
        remove(p);
    }
    free(c);
    saved_free(&s);
}

/* Every truncation of the file is refused (payload size in the header repaired too), never a crash. */
static void test_truncations_refused(void) {
    saved s;
    saved_make(&s);
    uint8_t *c = malloc(s.n);
    for (size_t cut = 32; cut < s.n; cut += 1 + cut / 5) {
        memcpy(c, s.b, cut);
        uint64_t pb = cut - 32;
        memcpy(c + 16, &pb, 8);
        if (cut >= TABLE_AT + 8) rehash(c, cut);
        both_refuse(c, cut, NULL);
    }
    free(c);
    saved_free(&s);
}

/* A newer major version is refused with SPAR_E_VERSION. */
static void test_newer_version_refused(void) {
    saved s;
    saved_make(&s);
    uint16_t v = 3;
    memcpy(s.b + 4, &v, 2);
    spar_sparse_index *ix = NULL;
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_index_load_mem(s.b, s.n, "mem", &ix, &dg), SPAR_E_VERSION);
    CU_ASSERT_PTR_NULL(ix);
    saved_free(&s);
}

/* Format 1 (spar before format 2: 80-byte meta, forward index, docid map, 8-byte padding, no derived parts),
 * written here from the forward index: loads, exact parts rebuilt, and answers like its format-2 re-save. */
static void put8(FILE *f, const void *p, size_t n) {
    static const uint8_t z[8];
    CU_ASSERT_EQUAL(fwrite(p, 1, n, f), n);
    if (n % 8) CU_ASSERT_EQUAL(fwrite(z, 1, 8 - n % 8, f), 8 - n % 8);
}
static void test_format1_still_read(void) {
    fixture f;
    fixture_make(&f, 900, 32, 0, 0, 31); /* no docid map: the caller's docids are the internal ones */
    spar_sparse_csr m;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_to_csr(f.ix, &m), SPAR_OK);
    const char *p = tmp("v1.idx");
    FILE *o = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    uint8_t hdr[32] = {0};
    CU_ASSERT_EQUAL(fwrite(hdr, 1, 32, o), 32);
    struct {
        uint32_t magic, n_docs, dim, bmp_block;
        uint64_t nnz;
        uint32_t has_approx, n_postings;
        float bf, se;
        uint64_t seed, nab, nap, nas;
        uint32_t has_ext, reserved;
    } meta = {0x45535053u, m.n_rows, m.dim, 8, m.offsets[m.n_rows], 0, 4000, 0.1f, 0.4f, 1, 0, 0, 0, 0, 0};
    CU_ASSERT_EQUAL_FATAL(sizeof meta, 80);
    put8(o, &meta, sizeof meta);
    put8(o, m.offsets, ((size_t)m.n_rows + 1) * 8);
    uint64_t nnz = m.offsets[m.n_rows];
    uint16_t *ids16 = malloc(nnz * 2 + 2);
    for (uint64_t i = 0; i < nnz; i++)
        ids16[i] = (uint16_t)m.ids[i];
    put8(o, ids16, nnz * 2);
    put8(o, m.weights, nnz * 4);
    fclose(o);
    free(ids16);
    size_t n = 0;
    uint8_t *b = slurp(p, &n);
    uint32_t magic = 0x52415053u, kind = 32, flags = 0;
    uint16_t vmaj = 1, vmin = 0;
    uint64_t pb = n - 32, px = XXH3_64bits(b + 32, n - 32);
    memcpy(b, &magic, 4);
    memcpy(b + 4, &vmaj, 2);
    memcpy(b + 6, &vmin, 2);
    memcpy(b + 8, &kind, 4);
    memcpy(b + 12, &flags, 4);
    memcpy(b + 16, &pb, 8);
    memcpy(b + 24, &px, 8);
    spit(p, b, n);
    spar_sparse_index *v1 = NULL, *v1m = NULL, *v2 = NULL;
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load(p, &v1, &dg), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load_mapped(p, &v1m, &dg), SPAR_OK);
    CU_ASSERT(same_answers(f.ix, v1, &f.q) >= f.q.n * 12);
    CU_ASSERT(same_answers(f.ix, v1m, &f.q) >= f.q.n * 12);
    const char *p2 = tmp("v1-resaved.idx");
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(v1, p2, &dg), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load_mapped(p2, &v2, &dg), SPAR_OK);
    CU_ASSERT(same_answers(v1, v2, &f.q) >= f.q.n * 12);
    spar_sparse_index_free(v1);
    spar_sparse_index_free(v1m);
    spar_sparse_index_free(v2);
    spar_sparse_csr_free(&m);
    free(b);
    remove(p);
    remove(p2);
    fixture_free(&f);
}

/* Directories: the default open (sparse.idx's bulk not read) and the full one (SPAR_SPARSE_VERIFY_ALL) answer
 * alike; damage inside sparse.idx's bulk is reported by the full open; a truncated sparse.idx by both. */
static void test_dir_open_modes(void) {
    fixture f;
    fixture_make(&f, 1000, 8, 0, 1, 12);
    const char *dir = tmp("dir");
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_dir_write(dir, f.ix, NULL, NULL, 0, 1, &dg), SPAR_OK);
    spar_sparse_dir *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_dir_open(dir, &a, &dg), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_dir_open_flags(dir, SPAR_SPARSE_VERIFY_ALL, &b, &dg), SPAR_OK);
    CU_ASSERT(same_answers(f.ix, spar_sparse_dir_index(a), &f.q) >= f.q.n * 12);
    CU_ASSERT(same_answers(f.ix, spar_sparse_dir_index(b), &f.q) >= f.q.n * 12);
    spar_sparse_dir_close(a);
    spar_sparse_dir_close(b);
    a = b = NULL;
    CU_ASSERT_EQUAL(spar_sparse_dir_open_flags(dir, 2, &a, &dg), SPAR_E_INVALID_ARG);
    char idx[256];
    snprintf(idx, sizeof idx, "%s/sparse.idx", dir);
    size_t n = 0;
    uint8_t *c = slurp(idx, &n);
    int e = entry_of(c, 7); /* a p_doc byte */
    c[entry_u64(c, e, 8) + 2] ^= 0x40;
    spit(idx, c, n);
    CU_ASSERT_EQUAL(spar_sparse_dir_open_flags(dir, SPAR_SPARSE_VERIFY_ALL, &b, &dg), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, "sparse.idx"));
    spit(idx, c, n - 64); /* truncated: the MANIFEST's size */
    CU_ASSERT_EQUAL(spar_sparse_dir_open(dir, &a, &dg), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, "sparse.idx"));
    free(c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    fixture_free(&f);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/spar_test_sparse_io_%d", (int)getpid());
    char cmd[160];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp_dir);
    if (system(cmd) != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return CU_get_error();
    CU_pSuite su = CU_add_suite("sparse_io", NULL, NULL);
    CU_add_test(su, "float index: every algorithm identical after save/load", test_float_round_trip);
    CU_add_test(su, "8-bit index: every algorithm identical after save/load", test_u8_round_trip);
    CU_add_test(su, "no docid map: identical after save/load", test_no_docid_map_round_trip);
    CU_add_test(su, "tiny and empty indexes round-trip", test_tiny_and_empty_round_trip);
    CU_add_test(su, "a loaded index re-saves byte-identical", test_resave_is_byte_identical);
    CU_add_test(su, "format 2: version 2, 64-byte aligned sections", test_layout_aligned_and_versioned);
    CU_add_test(su, "meta/table damage caught by its checksum", test_table_damage_caught_by_its_checksum);
    CU_add_test(su, "inconsistent table entries refused", test_bad_table_entries_refused);
    CU_add_test(su, "offset array damage named by byte", test_offset_array_damage_named);
    CU_add_test(su, "bulk damage caught by the full load", test_bulk_damage_caught_by_full_load);
    CU_add_test(su, "truncations refused", test_truncations_refused);
    CU_add_test(su, "newer major version refused", test_newer_version_refused);
    CU_add_test(su, "format 1 still read", test_format1_still_read);
    CU_add_test(su, "directory: default and full open", test_dir_open_modes);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fails++;
    return fails ? 1 : 0;
}
