/* test_sparse_approx.c — unit tests of the approximate (Seismic-class) learned-sparse index: returned scores
 * are the true canonical scores, lossless knobs give the exact top-k (including ties broken on docid, one
 * block per list and one doc per block), query_cut 1 only returns documents holding the heaviest query term,
 * recall on clustered data with default knobs, the build does not depend on the thread count, batch == one
 * by one, a saved index answers the same (copied or memory-mapped), and load rejects a damaged approximate
 * section. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "spar/spar_sparse.h"

#include "common/test_data.h"

typedef spar_test_sparse data;
static uint64_t rs = 0x2545f4914f6cdd1dull;

/* mode 0: topical (16 topic ranges, 3/4 of terms from the doc's topic), continuous weights;
 * mode 1: the same with weights on a 4-step grid (many tied scores). 1 to max_nnz terms a doc. */
static void gen(data *d, uint32_t n, uint32_t dim, uint32_t max_nnz, int mode) {
    spar_test_sparse_shape sh = {SPAR_TEST_TERMS_TOPICAL, 16, 1, mode ? 0.5f : 0.0f, 0.2};
    spar_test_sparse_gen(d, &rs, &sh, n, dim, max_nnz);
}
static void data_free(data *d) { spar_test_sparse_free(d); }

/* The canonical score: float products added in ascending term order over the matching terms. */
static float naive_score(const spar_sparse_vec *q, const spar_sparse_vec *d) {
    float s = 0.0f;
    uint32_t i = 0, j = 0;
    while (i < q->n && j < d->n) {
        if (q->ids[i] < d->ids[j]) i++;
        else if (q->ids[i] > d->ids[j]) j++;
        else { s += q->weights[i] * d->weights[j]; i++; j++; }
    }
    return s;
}

static spar_sparse_index *build(const data *d, float energy, uint32_t n_postings, float fraction, uint32_t threads) {
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.summary_energy = energy;
    o.n_postings = n_postings;
    o.block_fraction = fraction;
    o.n_threads = threads;
    spar_sparse_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_build_vecs(d->v, d->n, d->dim, &o, &ix, NULL), SPAR_OK);
    return ix;
}

/* The common setup: n_docs topical docs (up to nnz terms) and n_queries queries (up to q_nnz terms) over
 * dim terms, an index with the default test knobs (energy 0.4, 4000 postings a list, block fraction 0.1)
 * and a searcher on it. */
typedef struct fixture {
    data d, q;
    spar_sparse_index *ix;
    spar_sparse_searcher *s;
} fixture;
static void fixture_open(fixture *f, uint32_t dim, uint32_t n_docs, uint32_t nnz, uint32_t n_queries, uint32_t q_nnz) {
    gen(&f->d, n_docs, dim, nnz, 0);
    gen(&f->q, n_queries, dim, q_nnz, 0);
    f->ix = build(&f->d, 0.4f, 4000, 0.1f, 0);
    f->s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(f->ix, &f->s), SPAR_OK);
}
static void fixture_close(fixture *f) {
    spar_sparse_searcher_free(f->s);
    spar_sparse_index_free(f->ix);
    data_free(&f->d);
    data_free(&f->q);
}

static void test_scores_are_true_scores(void) {
    fixture f;
    fixture_open(&f, 2048, 3000, 60, 40, 30);
    spar_sparse_approx_params p = {3, 0.9f};
    spar_hit h[20];
    for (uint32_t i = 0; i < f.q.n; i++) {
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(spar_sparse_search_approx(f.s, &f.q.v[i], 20, &p, h, &n), SPAR_OK);
        for (size_t j = 0; j < n; j++) {
            CU_ASSERT_EQUAL(h[j].score, naive_score(&f.q.v[i], &f.d.v[h[j].docid]));
            if (j) CU_ASSERT(h[j - 1].score > h[j].score || (h[j - 1].score == h[j].score && h[j - 1].docid < h[j].docid));
        }
    }
    fixture_close(&f);
}

/* Lossless knobs (every posting kept, full summaries, every query term, a tiny heap factor): the exact top-k
 * bit for bit, for several block shapes and with tied scores. */
static void lossless(int mode, float fraction) {
    data d, q;
    gen(&d, 2500, 1024, 70, mode);
    for (size_t i = 0; i < (size_t)2500 * 70; i++) d.w[i] = mode ? d.w[i] : 1.0f + d.w[i] / 8.0f; /* u8 level > 0 */
    gen(&q, 30, 1024, 25, mode);
    spar_sparse_index *ix = build(&d, 1.0f, 1u << 30, fraction, 0);
    spar_sparse_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix, &s), SPAR_OK);
    spar_sparse_approx_params p = {0, 1e-6f};
    spar_hit a[25], b[25];
    for (uint32_t i = 0; i < q.n; i++) {
        size_t na = 0, nb = 0;
        CU_ASSERT_EQUAL_FATAL(spar_sparse_search_exact(s, &q.v[i], 25, SPAR_SPARSE_EXHAUSTIVE, a, &na), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_sparse_search_approx(s, &q.v[i], 25, &p, b, &nb), SPAR_OK);
        CU_ASSERT_EQUAL(na, nb);
        if (na == nb) CU_ASSERT_EQUAL(memcmp(a, b, na * sizeof *a), 0);
    }
    spar_sparse_searcher_free(s);
    spar_sparse_index_free(ix);
    data_free(&d);
    data_free(&q);
}
static void test_lossless_default_blocks(void) { lossless(0, 0.1f); }
static void test_lossless_ties(void) { lossless(1, 0.1f); }
static void test_lossless_one_block_per_list(void) { lossless(0, 1e-9f); }
static void test_lossless_one_doc_per_block(void) { lossless(1, 1.0f); }

static void test_query_cut_one_uses_heaviest_term(void) {
    fixture f;
    fixture_open(&f, 2048, 3000, 60, 40, 30);
    spar_sparse_approx_params p = {1, 0.5f};
    spar_hit h[10];
    for (uint32_t i = 0; i < f.q.n; i++) {
        const spar_sparse_vec *qv = &f.q.v[i];
        uint32_t best = 0;
        for (uint32_t j = 1; j < qv->n; j++)
            if (qv->weights[j] > qv->weights[best]) best = j;
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(spar_sparse_search_approx(f.s, qv, 10, &p, h, &n), SPAR_OK);
        CU_ASSERT(n > 0);
        for (size_t j = 0; j < n; j++) {
            const spar_sparse_vec *dv = &f.d.v[h[j].docid];
            int has = 0;
            for (uint32_t x = 0; x < dv->n; x++) has |= dv->ids[x] == qv->ids[best];
            CU_ASSERT(has);
        }
    }
    fixture_close(&f);
}

/* Default knobs on clustered data: recall@10 against the exhaustive top-10 is high, and more work (a lower
 * heap factor, every query term) does not lower it. */
static double recall(spar_sparse_searcher *s, const data *q, const spar_sparse_approx_params *p) {
    double hit = 0, all = 0;
    spar_hit a[10], b[10];
    for (uint32_t i = 0; i < q->n; i++) {
        size_t na = 0, nb = 0;
        CU_ASSERT_EQUAL_FATAL(spar_sparse_search_exact(s, &q->v[i], 10, SPAR_SPARSE_EXHAUSTIVE, a, &na), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_sparse_search_approx(s, &q->v[i], 10, p, b, &nb), SPAR_OK);
        for (size_t x = 0; x < na; x++)
            for (size_t y = 0; y < nb; y++)
                if (a[x].docid == b[y].docid) { hit++; break; }
        all += (double)na;
    }
    return all ? hit / all : 1.0;
}
static void test_recall_default_knobs(void) {
    fixture f;
    fixture_open(&f, 4096, 20000, 80, 100, 30);
    spar_sparse_approx_params p;
    spar_sparse_approx_params_default(&p);
    double r1 = recall(f.s, &f.q, &p);
    spar_sparse_approx_params wide = {0, 0.5f};
    double r2 = recall(f.s, &f.q, &wide);
    CU_ASSERT(r1 >= 0.9);
    CU_ASSERT(r2 >= r1 - 1e-9);
    CU_ASSERT(r2 >= 0.99);
    fixture_close(&f);
}

static void test_build_independent_of_threads_and_batch(void) {
    data d, q;
    gen(&d, 6000, 2048, 60, 0);
    gen(&q, 50, 2048, 30, 0);
    spar_sparse_index *a = build(&d, 0.4f, 500, 0.1f, 1), *b = build(&d, 0.4f, 500, 0.1f, 2);
    spar_sparse_stats sa, sb;
    spar_sparse_index_stats(a, &sa);
    spar_sparse_index_stats(b, &sb);
    CU_ASSERT_EQUAL(sa.approx_blocks, sb.approx_blocks);
    CU_ASSERT_EQUAL(sa.approx_postings, sb.approx_postings);
    CU_ASSERT_EQUAL(sa.approx_summary_nnz, sb.approx_summary_nnz);
    spar_sparse_approx_params p = {5, 0.9f};
    spar_hit *ha = calloc((size_t)q.n * 10, sizeof *ha), *hb = calloc((size_t)q.n * 10, sizeof *hb);
    size_t na[50], nb[50];
    CU_ASSERT_EQUAL_FATAL(spar_sparse_search_batch(a, q.v, q.n, 10, SPAR_SPARSE_BMP, &p, 1, ha, na), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_search_batch(b, q.v, q.n, 10, SPAR_SPARSE_BMP, &p, 2, hb, nb), SPAR_OK);
    spar_sparse_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(b, &s), SPAR_OK);
    for (uint32_t i = 0; i < q.n; i++) {
        CU_ASSERT_EQUAL(na[i], nb[i]);
        CU_ASSERT_EQUAL(memcmp(ha + (size_t)i * 10, hb + (size_t)i * 10, na[i] * sizeof *ha), 0);
        spar_hit one[10];
        size_t n1 = 0;
        CU_ASSERT_EQUAL(spar_sparse_search_approx(s, &q.v[i], 10, &p, one, &n1), SPAR_OK);
        CU_ASSERT_EQUAL(n1, nb[i]);
        CU_ASSERT_EQUAL(memcmp(one, hb + (size_t)i * 10, n1 * sizeof *one), 0);
    }
    spar_sparse_searcher_free(s);
    free(ha);
    free(hb);
    spar_sparse_index_free(a);
    spar_sparse_index_free(b);
    data_free(&d);
    data_free(&q);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

/* File offset of section `id` of a saved index (format 2, docs/format/sparse.md: n_sections at byte 68, the
 * table at byte 160, 32-byte entries {u32 id, u32 elem, u64 offset, u64 count, u64 xxh3}); 34 = a_docs,
 * 36 = a_sterm. */
static size_t section_at(const char *path, uint32_t id) {
    size_t n = 0, at = 0;
    uint8_t *b = slurp(path, &n);
    CU_ASSERT_FATAL(b != NULL && n > 160);
    uint32_t n_sec, sid;
    memcpy(&n_sec, b + 68, 4);
    for (uint32_t i = 0; i < n_sec && 160 + 32 * (size_t)(i + 1) <= n; i++) {
        memcpy(&sid, b + 160 + 32 * (size_t)i, 4);
        if (sid == id) memcpy(&at, b + 160 + 32 * (size_t)i + 8, 8);
    }
    free(b);
    CU_ASSERT_FATAL(at > 0);
    return at;
}

/* The saved index at path with len bytes at offset at replaced by val and the payload checksum (XXH3-64
 * at byte 24 of the header) repaired, so that only the structural checks can catch it. Caller frees. */
static uint8_t *damaged_copy(const char *path, size_t at, const void *val, size_t len, size_t *n) {
    uint8_t *b = slurp(path, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FATAL(at + len <= *n);
    memcpy(b + at, val, len);
    uint64_t h = XXH3_64bits(b + 32, *n - 32);
    memcpy(b + 24, &h, 8);
    return b;
}

static void test_saved_index_answers_same_and_damage_is_caught(void) {
    fixture f;
    fixture_open(&f, 1024, 2000, 50, 20, 25);
    char path[128];
    snprintf(path, sizeof path, "/tmp/spar_test_sparse_approx_%d.idx", (int)getpid());
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(f.ix, path, NULL), SPAR_OK);
    spar_sparse_index *ix2 = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load(path, &ix2, NULL), SPAR_OK);
    spar_sparse_searcher *s2 = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix2, &s2), SPAR_OK);
    spar_sparse_approx_params p = {4, 0.8f};
    for (uint32_t i = 0; i < f.q.n; i++) {
        spar_hit a[10], b[10];
        size_t na = 0, nb = 0;
        CU_ASSERT_EQUAL(spar_sparse_search_approx(f.s, &f.q.v[i], 10, &p, a, &na), SPAR_OK);
        CU_ASSERT_EQUAL(spar_sparse_search_approx(s2, &f.q.v[i], 10, &p, b, &nb), SPAR_OK);
        CU_ASSERT_EQUAL(na, nb);
        CU_ASSERT_EQUAL(memcmp(a, b, na * sizeof *a), 0);
    }
    /* damage one approximate docid, repair the checksum: load must refuse it and say what is wrong */
    spar_sparse_stats st;
    spar_sparse_index_stats(f.ix, &st);
    size_t n = 0;
    uint32_t bad = st.n_docs + 7;
    uint8_t *b = damaged_copy(path, section_at(path, 34), &bad, sizeof bad, &n);
    spar_diag dg = {{0}};
    spar_sparse_index *ix3 = NULL;
    CU_ASSERT_EQUAL(spar_sparse_index_load_mem(b, n, "x", &ix3, &dg), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(ix3);
    CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, "a_docs[0]"));
    free(b);
    remove(path);
    spar_sparse_searcher_free(s2);
    spar_sparse_index_free(ix2);
    fixture_close(&f);
}

/* The mapped load (every part read in place from the file, only the offset arrays checked) answers exactly like
 * the fully checking load and keeps the same statistics; damage inside the bulk is refused by the full load
 * (through its own map) without leaking the map. */
static void test_mapped_load(void) {
    data d, q;
    gen(&d, 2000, 1024, 50, 0);
    gen(&q, 20, 1024, 25, 0);
    spar_sparse_index *ix = build(&d, 0.4f, 4000, 0.1f, 0);
    char path[128], bad_path[160];
    snprintf(path, sizeof path, "/tmp/spar_test_sparse_approx_map_%d.idx", (int)getpid());
    snprintf(bad_path, sizeof bad_path, "%s.bad", path);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(ix, path, NULL), SPAR_OK);
    spar_sparse_index *a = NULL, *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load(path, &a, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load_mapped(path, &m, NULL), SPAR_OK);
    spar_sparse_stats sa, sm;
    spar_sparse_index_stats(a, &sa);
    spar_sparse_index_stats(m, &sm);
    CU_ASSERT_EQUAL(sa.bytes_approx, sm.bytes_approx);
    CU_ASSERT_EQUAL(sa.approx_summary_nnz, sm.approx_summary_nnz);
    spar_sparse_searcher *s1 = NULL, *s2 = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(a, &s1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(m, &s2), SPAR_OK);
    spar_sparse_approx_params p = {3, 0.9f};
    for (uint32_t i = 0; i < q.n; i++) {
        spar_hit x[10], y[10];
        size_t nx = 0, ny = 0;
        CU_ASSERT_EQUAL(spar_sparse_search_approx(s1, &q.v[i], 10, &p, x, &nx), SPAR_OK);
        CU_ASSERT_EQUAL(spar_sparse_search_approx(s2, &q.v[i], 10, &p, y, &ny), SPAR_OK);
        CU_ASSERT(nx > 0);
        CU_ASSERT_EQUAL(nx, ny);
        CU_ASSERT_EQUAL(memcmp(x, y, nx * sizeof *x), 0);
    }
    /* a summary term >= dim: found by the fully checking load, which maps the file too (load_mapped does not
     * read the bulk sections; tests/unit/test_sparse_io.c covers what it checks) */
    spar_sparse_stats st;
    spar_sparse_index_stats(ix, &st);
    size_t n = 0;
    uint16_t big = (uint16_t)(st.dim + 3);
    uint8_t *b = damaged_copy(path, section_at(path, 36), &big, sizeof big, &n);
    FILE *f = fopen(bad_path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(b, 1, n, f), n);
    fclose(f);
    spar_diag dg = {{0}};
    spar_sparse_index *bad = NULL;
    CU_ASSERT_EQUAL(spar_sparse_index_load(bad_path, &bad, &dg), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(bad);
    CU_ASSERT_PTR_NOT_NULL(strstr(dg.msg, "a_sterm[0]"));
    free(b);
    remove(bad_path);
    spar_sparse_searcher_free(s1);
    spar_sparse_searcher_free(s2);
    spar_sparse_index_free(a);
    spar_sparse_index_free(m);
    spar_sparse_index_free(ix);
    remove(path);
    data_free(&d);
    data_free(&q);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return CU_get_error();
    CU_pSuite su = CU_add_suite("sparse_approx", NULL, NULL);
    CU_add_test(su, "returned scores are true scores", test_scores_are_true_scores);
    CU_add_test(su, "lossless knobs == exact (default blocks)", test_lossless_default_blocks);
    CU_add_test(su, "lossless knobs == exact (tied scores)", test_lossless_ties);
    CU_add_test(su, "lossless knobs == exact (one block per list)", test_lossless_one_block_per_list);
    CU_add_test(su, "lossless knobs == exact (one doc per block)", test_lossless_one_doc_per_block);
    CU_add_test(su, "query_cut 1 returns docs with the heaviest term", test_query_cut_one_uses_heaviest_term);
    CU_add_test(su, "recall@10 with default knobs", test_recall_default_knobs);
    CU_add_test(su, "build independent of threads; batch == single", test_build_independent_of_threads_and_batch);
    CU_add_test(su, "saved index answers the same; damage caught", test_saved_index_answers_same_and_damage_is_caught);
    CU_add_test(su, "mapped load == copying load; damage caught", test_mapped_load);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
