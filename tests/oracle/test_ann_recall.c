/* test_ann_recall.c — ANN oracle tests: the flat index equals a brute-force reference exactly (ids and
 * order, ties by id), the binary flat index equals a brute-force Hamming reference, and HNSW reaches a
 * pinned recall@10 against the flat index on seeded clustered data for every metric. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spar/spar_ann.h"

#include "common/test_data.h"

static uint64_t rng = 12345; /* one stream for the whole file; some tests reseed it */
static double urand(void) { return spar_test_unif(&rng); }

/* Gaussian mixture: nc centres in dim, points = centre + sigma * noise. */
static float *clustered(uint32_t n, uint32_t dim, uint32_t nc, float sigma) {
    return spar_test_clustered(&rng, n, dim, nc, 1.0f, sigma);
}

typedef struct ref_hit { float d; uint32_t id; } ref_hit;
static int cmp_ref(const void *a, const void *b) {
    const ref_hit *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static float ref_dist(spar_metric m, const float *a, const float *b, uint32_t dim) {
    double s = 0, na = 0, nb = 0;
    for (uint32_t i = 0; i < dim; i++) {
        if (m == SPAR_METRIC_L2) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        else s += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (m == SPAR_METRIC_L2) return (float)s;
    if (m == SPAR_METRIC_IP) return (float)-s;
    return (float)(-s / sqrt(na * nb));
}

static void test_flat_equals_brute_force(void) {
    const uint32_t n = 3000, dim = 37, nq = 20, k = 10;
    float *x = clustered(n, dim, 10, 0.5f), *q = clustered(nq, dim, 10, 0.5f);
    /* plant exact duplicates to exercise tie-breaking by id */
    memcpy(x + 100 * dim, x + 7 * dim, dim * sizeof(float));
    memcpy(q, x + 7 * dim, dim * sizeof(float));
    spar_metric ms[3] = {SPAR_METRIC_L2, SPAR_METRIC_IP, SPAR_METRIC_COSINE};
    ref_hit *all = malloc(sizeof(ref_hit) * n);
    for (int mi = 0; mi < 3; mi++) {
        spar_ann *ix = NULL;
        spar_ann_scratch *s = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_ann_flat_build(x, n, dim, ms[mi], &ix), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_ann_scratch_create(ix, &s), SPAR_OK);
        int mismatches = 0;
        for (uint32_t qi = 0; qi < nq; qi++) {
            for (uint32_t i = 0; i < n; i++) all[i] = (ref_hit){ref_dist(ms[mi], q + qi * dim, x + i * dim, dim), i};
            qsort(all, n, sizeof *all, cmp_ref);
            spar_ann_hit hits[10];
            size_t nh = 0;
            CU_ASSERT_EQUAL(spar_ann_search(ix, s, q + qi * dim, k, NULL, hits, &nh), SPAR_OK);
            CU_ASSERT_EQUAL(nh, k);
            for (uint32_t j = 0; j < k; j++) {
                /* float32 kernels vs double reference: identical ids unless two distances are within rounding */
                if (hits[j].id != all[j].id && fabsf(ref_dist(ms[mi], q + qi * dim, x + hits[j].id * dim, dim) -
                                                     all[j].d) > 1e-4f * (1 + fabsf(all[j].d)))
                    mismatches++;
            }
        }
        CU_ASSERT_EQUAL(mismatches, 0);
        spar_ann_scratch_free(s);
        spar_ann_free(ix);
    }
    free(all);
    free(x);
    free(q);
}

static void test_binary_flat_equals_brute_force(void) {
    const uint32_t n = 5000, bits = 256, words = bits / 64, k = 10;
    uint64_t *codes = malloc(n * words * 8);
    for (uint32_t i = 0; i < n * words; i++) codes[i] = ((uint64_t)(urand() * 4294967296.0) << 32) ^ (uint64_t)(urand() * 4294967296.0);
    memcpy(codes + 50 * words, codes + 3 * words, words * 8); /* duplicate: tie broken by id */
    spar_ann *ix = NULL;
    spar_ann_scratch *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_flat_build((const uint8_t *)codes, n, bits, &ix), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_ann_scratch_create(ix, &s), SPAR_OK);
    ref_hit *all = malloc(sizeof(ref_hit) * n);
    for (uint32_t qi = 0; qi < 30; qi++) {
        const uint64_t *q = codes + ((qi * 97) % n) * words;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t d = 0;
            for (uint32_t w = 0; w < words; w++) d += (uint32_t)__builtin_popcountll(q[w] ^ codes[i * words + w]);
            all[i] = (ref_hit){(float)d, i};
        }
        qsort(all, n, sizeof *all, cmp_ref);
        spar_ann_hit hits[10];
        size_t nh = 0;
        CU_ASSERT_EQUAL(spar_ann_search(ix, s, q, k, NULL, hits, &nh), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(nh, k);
        for (uint32_t j = 0; j < k; j++) {
            CU_ASSERT_EQUAL(hits[j].id, all[j].id);
            CU_ASSERT_EQUAL(hits[j].dist, all[j].d);
        }
    }
    free(all);
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
    free(codes);
}

static uint32_t g_ef = 256;
static double hnsw_recall(spar_metric m, int n_threads) {
    const uint32_t n = 20000, dim = 32, nq = 200, k = 10;
    float *x = clustered(n, dim, 50, 0.6f), *q = clustered(nq, dim, 50, 0.6f);
    spar_ann *flat = NULL, *h = NULL;
    spar_hnsw_opts o;
    spar_hnsw_opts_default(&o);
    o.n_threads = n_threads;
    if (spar_ann_flat_build(x, n, dim, m, &flat) != SPAR_OK || spar_ann_hnsw_build(x, n, dim, m, &o, &h) != SPAR_OK)
        return -1;
    spar_ann_hit *a = malloc(sizeof(spar_ann_hit) * nq * k), *b = malloc(sizeof(spar_ann_hit) * nq * k);
    size_t *na = malloc(sizeof(size_t) * nq), *nb = malloc(sizeof(size_t) * nq);
    double hit = 0;
    if (spar_ann_search_batch(flat, q, nq, k, NULL, a, na, 2) == SPAR_OK &&
        spar_ann_search_batch(h, q, nq, k, &(spar_ann_params){g_ef, 16, 0}, b, nb, 2) == SPAR_OK) {
        for (uint32_t i = 0; i < nq; i++)
            for (size_t j = 0; j < nb[i]; j++)
                for (size_t t = 0; t < na[i]; t++)
                    if (b[i * k + j].id == a[i * k + t].id) { hit++; break; }
    }
    free(a), free(b), free(na), free(nb), free(x), free(q);
    spar_ann_free(flat);
    spar_ann_free(h);
    return hit / (nq * k);
}

static void test_hnsw_recall_pinned(void) {
    spar_metric ms[3] = {SPAR_METRIC_L2, SPAR_METRIC_IP, SPAR_METRIC_COSINE};
    for (int i = 0; i < 3; i++) {
        double r1 = hnsw_recall(ms[i], 1), r2 = hnsw_recall(ms[i], 2);
        /* pinned from measured values (L2 0.989, IP 0.896, cosine 0.988 at ef=256): inner product is not a
         * metric, so graph search is known to reach lower recall on it at equal ef */
        double floor_ = ms[i] == SPAR_METRIC_IP ? 0.85 : 0.97;
        printf("\n  metric %d: recall@10 (ef=%u) 1 thread %.4f, 2 threads %.4f", (int)ms[i], g_ef, r1, r2);
        CU_ASSERT(r1 >= floor_);
        CU_ASSERT(r2 >= floor_);
    }
}

static void test_hnsw_deleted_never_returned(void) {
    const uint32_t n = 2000, dim = 16;
    float *x = clustered(n, dim, 5, 0.5f);
    spar_ann *h = NULL;
    spar_ann_scratch *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_hnsw_build(x, n, dim, SPAR_METRIC_L2, NULL, &h), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_ann_scratch_create(h, &s), SPAR_OK);
    spar_ann_hit hits[10];
    size_t nh = 0;
    CU_ASSERT_EQUAL(spar_ann_search(h, s, x + 5 * dim, 10, &(spar_ann_params){50, 16, 0}, hits, &nh), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(nh, 10);
    CU_ASSERT_EQUAL(hits[0].id, 5); /* a stored vector finds itself */
    CU_ASSERT_EQUAL(spar_ann_mark_deleted(h, 5), SPAR_OK);
    CU_ASSERT_EQUAL(spar_ann_search(h, s, x + 5 * dim, 10, &(spar_ann_params){50, 16, 0}, hits, &nh), SPAR_OK);
    for (size_t i = 0; i < nh; i++) CU_ASSERT(hits[i].id != 5);
    CU_ASSERT_EQUAL(spar_ann_mark_deleted(h, n), SPAR_E_INVALID_ARG);
    spar_ann_scratch_free(s);
    spar_ann_free(h);
    free(x);
}

/* HNSW over SQ8 codes: graph search on int8 nodes, then exact re-rank with the kept float vectors. */
static void test_hnsw_sq8_with_rerank(void) {
    const uint32_t n = 20000, dim = 32, nq = 200, k = 10;
    rng = 777;
    float *x = clustered(n, dim, 50, 0.6f), *q = clustered(nq, dim, 50, 0.6f);
    spar_metric ms[2] = {SPAR_METRIC_L2, SPAR_METRIC_COSINE};
    for (int mi = 0; mi < 2; mi++) {
        spar_ann *flat = NULL, *h = NULL;
        spar_hnsw_opts o;
        spar_hnsw_opts_default(&o);
        o.storage = SPAR_HNSW_SQ8;
        CU_ASSERT_EQUAL_FATAL(spar_ann_flat_build(x, n, dim, ms[mi], &flat), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_ann_hnsw_build(x, n, dim, ms[mi], &o, &h), SPAR_OK);
        spar_ann_hit *a = malloc(sizeof(spar_ann_hit) * nq * k), *b = malloc(sizeof(spar_ann_hit) * nq * k);
        size_t *na = malloc(sizeof(size_t) * nq), *nb = malloc(sizeof(size_t) * nq);
        CU_ASSERT_EQUAL(spar_ann_search_batch(flat, q, nq, k, NULL, a, na, 2), SPAR_OK);
        double r[2];
        for (int rr = 0; rr < 2; rr++) {
            spar_ann_params p = {256, 0, rr ? 256 : 0};
            CU_ASSERT_EQUAL(spar_ann_search_batch(h, q, nq, k, &p, b, nb, 2), SPAR_OK);
            double hit = 0;
            for (uint32_t i = 0; i < nq; i++)
                for (size_t j = 0; j < nb[i]; j++)
                    for (size_t t = 0; t < na[i]; t++)
                        if (b[i * k + j].id == a[i * k + t].id) { hit++; break; }
            r[rr] = hit / (nq * k);
        }
        printf("\n  SQ8 HNSW metric %d: recall@10 (ef=256) %.4f, with exact re-rank %.4f", (int)ms[mi], r[0], r[1]);
        CU_ASSERT(r[1] >= 0.97); /* float HNSW reaches 0.99 / 0.987 at ef=256 on this data */
        CU_ASSERT(r[1] >= r[0]);
        free(a), free(b), free(na), free(nb);
        spar_ann_free(flat);
        spar_ann_free(h);
    }
    free(x), free(q);
}

/* HNSW over binary codes: tie-aware recall@10 against the exact Hamming scan. */
static void test_binary_hnsw_recall(void) {
    const uint32_t n = 20000, dim = 64, nq = 200, k = 10, bits = 128;
    rng = 4242;
    float *x = clustered(n + nq, dim, 50, 0.6f);
    spar_binarizer *bz = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_binarizer_train(x, n, dim, bits, 0, 5, &bz), SPAR_OK);
    uint8_t *codes = malloc((size_t)(n + nq) * bits / 8);
    spar_binarizer_encode(bz, x, n + nq, codes);
    spar_ann *flat = NULL, *h = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_flat_build(codes, n, bits, &flat), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_hnsw_build(codes, n, bits, NULL, &h), SPAR_OK);
    const uint8_t *q = codes + (size_t)n * bits / 8;
    spar_ann_hit *a = malloc(sizeof(spar_ann_hit) * nq * k), *b = malloc(sizeof(spar_ann_hit) * nq * k);
    size_t *na = malloc(sizeof(size_t) * nq), *nb = malloc(sizeof(size_t) * nq);
    spar_ann_params p = {128, 0, 0};
    CU_ASSERT_EQUAL(spar_ann_search_batch(flat, q, nq, k, NULL, a, na, 2), SPAR_OK);
    CU_ASSERT_EQUAL(spar_ann_search_batch(h, q, nq, k, &p, b, nb, 2), SPAR_OK);
    double hit = 0;
    for (uint32_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nb[i]; j++) hit += b[i * k + j].dist <= a[i * k + k - 1].dist;
    printf("\n  binary HNSW (128-bit, ef=128): tie-aware recall@10 %.4f", hit / (nq * k));
    CU_ASSERT(hit / (nq * k) >= 0.95);
    free(a), free(b), free(na), free(nb), free(codes), free(x);
    spar_binarizer_free(bz);
    spar_ann_free(flat);
    spar_ann_free(h);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("ann/oracle", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "flat equals brute force (L2, IP, cosine)", test_flat_equals_brute_force) ||
        !CU_add_test(s, "binary flat equals brute-force Hamming", test_binary_flat_equals_brute_force) ||
        !CU_add_test(s, "HNSW recall@10 vs flat pinned (1 and 2 threads)", test_hnsw_recall_pinned) ||
        !CU_add_test(s, "HNSW never returns deleted ids", test_hnsw_deleted_never_returned) ||
        !CU_add_test(s, "SQ8 HNSW with exact re-rank reaches pinned recall", test_hnsw_sq8_with_rerank) ||
        !CU_add_test(s, "binary HNSW reaches pinned tie-aware recall", test_binary_hnsw_recall))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
