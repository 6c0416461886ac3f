/* test_ann_ivf.c — oracle tests for k-means, IVF (float, SQ8, PQ + re-rank), binary IVF and binarizers:
 * IVF scanning every list equals the flat index exactly; quantized storage with re-ranking reaches a
 * pinned recall; k-means is deterministic across thread counts and beats its own initialisation. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spar/spar_ann.h"

#include "common/test_data.h"

/* Gaussian mixture (centres 2 * normal) from its own seed, so each test's data is independent of the others. */
static float *clustered(uint32_t n, uint32_t dim, uint32_t nc, float sigma, uint64_t seed) {
    return spar_test_clustered(&seed, n, dim, nc, 2.0f, sigma);
}

static double overlap(const spar_ann_hit *a, const size_t *na, const spar_ann_hit *b, const size_t *nb, uint32_t nq,
                      uint32_t k) {
    double hit = 0;
    for (uint32_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nb[i]; j++)
            for (size_t t = 0; t < na[i]; t++)
                if (b[i * k + j].id == a[i * k + t].id) { hit++; break; }
    return hit / (nq * (double)k);
}

enum { N = 8000, D = 32, NQ = 100, K = 10 };

static void run(const spar_ann *ix, const float *q, const spar_ann_params *p, spar_ann_hit *h, size_t *nh) {
    CU_ASSERT_EQUAL(spar_ann_search_batch(ix, q, NQ, K, p, h, nh, 2), SPAR_OK);
}

static void test_ivf_full_probe_equals_flat(void) {
    float *x = clustered(N, D, 20, 0.7f, 1), *q = clustered(NQ, D, 20, 0.7f, 2);
    spar_metric ms[2] = {SPAR_METRIC_L2, SPAR_METRIC_IP};
    for (int mi = 0; mi < 2; mi++) {
        spar_ann *flat = NULL, *ivf = NULL;
        spar_ivf_opts o;
        spar_ivf_opts_default(&o);
        o.nlist = 32;
        CU_ASSERT_EQUAL_FATAL(spar_ann_flat_build(x, N, D, ms[mi], &flat), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_ann_ivf_build(x, N, D, ms[mi], &o, &ivf), SPAR_OK);
        spar_ann_hit a[NQ * K], b[NQ * K];
        size_t na[NQ], nb[NQ];
        spar_ann_params p = {64, 32, 0};
        run(flat, q, NULL, a, na);
        run(ivf, q, &p, b, nb);
        for (int i = 0; i < NQ; i++) {
            CU_ASSERT_EQUAL(na[i], nb[i]);
            for (size_t j = 0; j < na[i]; j++) {
                CU_ASSERT_EQUAL(a[i * K + j].id, b[i * K + j].id);
                CU_ASSERT_EQUAL(a[i * K + j].dist, b[i * K + j].dist);
            }
        }
        spar_ann_free(flat);
        spar_ann_free(ivf);
    }
    free(x), free(q);
}

static void test_ivf_quantized_with_rerank(void) {
    float *x = clustered(N, D, 20, 0.7f, 3), *q = clustered(NQ, D, 20, 0.7f, 4);
    spar_ann *flat = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_flat_build(x, N, D, SPAR_METRIC_L2, &flat), SPAR_OK);
    spar_ann_hit a[NQ * K], b[NQ * K];
    size_t na[NQ], nb[NQ];
    run(flat, q, NULL, a, na);
    spar_ivf_storage kinds[2] = {SPAR_IVF_SQ8, SPAR_IVF_PQ};
    for (int i = 0; i < 2; i++) {
        spar_ann *ivf = NULL;
        spar_ivf_opts o;
        spar_ivf_opts_default(&o);
        o.nlist = 32;
        o.storage = kinds[i];
        o.pq_m = 16;
        CU_ASSERT_EQUAL_FATAL(spar_ann_ivf_build(x, N, D, SPAR_METRIC_L2, &o, &ivf), SPAR_OK);
        spar_ann_params raw = {0, 32, 0}, rr = {0, 32, 100};
        run(ivf, q, &raw, b, nb);
        double r_raw = overlap(a, na, b, nb, NQ, K);
        run(ivf, q, &rr, b, nb);
        double r_rr = overlap(a, na, b, nb, NQ, K);
        printf("\n  %s: recall@10 without re-rank %.3f, with re-rank of 100 %.3f", i ? "PQ16x256" : "SQ8", r_raw, r_rr);
        CU_ASSERT(r_rr >= 0.97); /* measured SQ8 1.000, PQ16 0.99 */
        CU_ASSERT(r_rr >= r_raw);
        if (kinds[i] == SPAR_IVF_SQ8) CU_ASSERT(r_raw >= 0.9);
        spar_ann_free(ivf);
    }
    spar_ann_free(flat);
    free(x), free(q);
}

/* Residual PQ + a short exact re-rank finds what IVF-Flat finds at the same nprobe (the target),
 * for L2 and cosine; and its ADC distances (no re-rank) track the exact ones, which checks the
 * coarse + per-code + table decomposition of |q - c - r|^2. */
static void test_pq_rerank_matches_ivf_flat(void) {
    float *x = clustered(N, D, 20, 0.7f, 11), *q = clustered(NQ, D, 20, 0.7f, 12);
    spar_metric ms[2] = {SPAR_METRIC_L2, SPAR_METRIC_COSINE};
    for (int mi = 0; mi < 2; mi++) {
        spar_ann *flat = NULL, *ivf = NULL, *pq = NULL;
        spar_ivf_opts o;
        spar_ivf_opts_default(&o);
        o.nlist = 64;
        CU_ASSERT_EQUAL_FATAL(spar_ann_flat_build(x, N, D, ms[mi], &flat), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_ann_ivf_build(x, N, D, ms[mi], &o, &ivf), SPAR_OK);
        o.storage = SPAR_IVF_PQ;
        o.pq_m = 8;
        CU_ASSERT_EQUAL_FATAL(spar_ann_ivf_build(x, N, D, ms[mi], &o, &pq), SPAR_OK);
        spar_ann_hit a[NQ * K], b[NQ * K], c[NQ * K];
        size_t na[NQ], nb[NQ], nc[NQ];
        run(flat, q, NULL, a, na);
        uint32_t nps[3] = {1, 2, 4};
        for (int pi = 0; pi < 3; pi++) {
            spar_ann_params pf = {0, nps[pi], 0}, pp = {0, nps[pi], 50};
            run(ivf, q, &pf, b, nb);
            run(pq, q, &pp, c, nc);
            double rf = overlap(a, na, b, nb, NQ, K), rp = overlap(a, na, c, nc, NQ, K);
            printf("\n  metric %d nprobe %u: IVF-Flat recall %.3f, residual PQ8 + re-rank 50 %.3f", (int)ms[mi],
                   nps[pi], rf, rp);
            CU_ASSERT(rp >= rf - 0.005);
        }
        if (ms[mi] == SPAR_METRIC_L2) {
            spar_ann_params raw = {0, 4, 0};
            run(pq, q, &raw, c, nc);
            double err = 0, tot = 0;
            for (int i = 0; i < NQ; i++) {
                const float *v = x + (size_t)c[i * K].id * D;
                double e = 0;
                for (int j = 0; j < D; j++) e += (q[i * D + j] - v[j]) * (double)(q[i * D + j] - v[j]);
                err += fabs(c[i * K].dist - e), tot += e;
            }
            printf("\n  residual PQ8 ADC: mean |adc - exact| / mean exact = %.3f", err / tot);
            CU_ASSERT(err / tot < 0.15);
        }
        spar_ann_free(flat), spar_ann_free(ivf), spar_ann_free(pq);
    }
    free(x), free(q);
}

static void test_binary_ivf_full_probe_equals_flat(void) {
    float *x = clustered(N, 64, 20, 0.7f, 5);
    spar_binarizer *bz = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_binarizer_train(x, N, 64, 128, 0, 7, &bz), SPAR_OK);
    uint8_t *codes = malloc((size_t)N * 16);
    spar_binarizer_encode(bz, x, N, codes);
    spar_ann *flat = NULL, *ivf = NULL;
    spar_ivf_opts o;
    spar_ivf_opts_default(&o);
    o.nlist = 16;
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_flat_build(codes, N, 128, &flat), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_ivf_build(codes, N, 128, &o, &ivf), SPAR_OK);
    spar_ann_hit a[NQ * K], b[NQ * K];
    size_t na[NQ], nb[NQ];
    spar_ann_params p = {0, 16, 0};
    CU_ASSERT_EQUAL(spar_ann_search_batch(flat, codes, NQ, K, NULL, a, na, 1), SPAR_OK);
    CU_ASSERT_EQUAL(spar_ann_search_batch(ivf, codes, NQ, K, &p, b, nb, 2), SPAR_OK);
    for (int i = 0; i < NQ; i++)
        for (size_t j = 0; j < na[i]; j++) {
            CU_ASSERT_EQUAL(a[i * K + j].id, b[i * K + j].id);
            CU_ASSERT_EQUAL(a[i * K + j].dist, b[i * K + j].dist);
        }
    spar_ann_free(flat), spar_ann_free(ivf);
    spar_binarizer_free(bz);
    free(codes), free(x);
}

/* ITQ lowers its own objective (quantisation loss) relative to its random orthogonal start, on the
 * training data and on held-out data from the same distribution. */
static void test_itq_lowers_quantisation_loss(void) {
    const uint32_t n = 4000, dim = 64;
    float *x = clustered(n, dim, 30, 0.5f, 9), *y = clustered(1000, dim, 30, 0.5f, 9);
    spar_binarizer *start = NULL, *itq = NULL, *bad = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_binarizer_train(x, n, dim, 64, 1, 3, &start), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_binarizer_train(x, n, dim, 64, 50, 3, &itq), SPAR_OK);
    CU_ASSERT_EQUAL(spar_binarizer_train(x, n, dim, 128, 50, 3, &bad), SPAR_E_INVALID_ARG); /* needs bits == dim */
    double l0 = spar_binarizer_loss(start, x, n), l1 = spar_binarizer_loss(itq, x, n);
    double h0 = spar_binarizer_loss(start, y + 0, 1000), h1 = spar_binarizer_loss(itq, y, 1000);
    printf("\n  ITQ loss: random rotation %.4f -> learned %.4f (held-out %.4f -> %.4f)", l0, l1, h0, h1);
    CU_ASSERT(l1 < 0.9 * l0);
    CU_ASSERT(h1 < h0);
    spar_binarizer_free(start), spar_binarizer_free(itq);
    free(x), free(y);
}

static void test_kmeans_deterministic_and_improves(void) {
    const uint32_t n = 5000, dim = 16, k = 20;
    float *x = clustered(n, dim, 20, 0.3f, 11);
    float *c1 = malloc(sizeof(float) * k * dim), *c2 = malloc(sizeof(float) * k * dim);
    spar_kmeans_opts o;
    spar_kmeans_opts_default(&o);
    o.k = k;
    o.n_threads = 1;
    double in1 = 0, in2 = 0, in0 = 0;
    CU_ASSERT_EQUAL(spar_kmeans(x, n, dim, &o, c1, NULL, &in1), SPAR_OK);
    o.n_threads = 2;
    CU_ASSERT_EQUAL(spar_kmeans(x, n, dim, &o, c2, NULL, &in2), SPAR_OK);
    CU_ASSERT(memcmp(c1, c2, sizeof(float) * k * dim) == 0);
    CU_ASSERT_EQUAL(in1, in2);
    o.iters = 0; /* k-means++ seeding only */
    CU_ASSERT_EQUAL(spar_kmeans(x, n, dim, &o, c2, NULL, &in0), SPAR_OK);
    CU_ASSERT(in1 < in0);
    o.k = n + 1;
    CU_ASSERT_EQUAL(spar_kmeans(x, n, dim, &o, c2, NULL, NULL), SPAR_E_INVALID_ARG);
    free(c1), free(c2), free(x);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("ann/ivf", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "IVF-flat probing all lists equals flat", test_ivf_full_probe_equals_flat) ||
        !CU_add_test(s, "IVF SQ8/PQ with exact re-rank reach pinned recall", test_ivf_quantized_with_rerank) ||
        !CU_add_test(s, "residual PQ + re-rank matches IVF-Flat recall", test_pq_rerank_matches_ivf_flat) ||
        !CU_add_test(s, "binary IVF probing all lists equals binary flat", test_binary_ivf_full_probe_equals_flat) ||
        !CU_add_test(s, "ITQ lowers quantisation loss", test_itq_lowers_quantisation_loss) ||
        !CU_add_test(s, "k-means deterministic across threads, improves on seeding", test_kmeans_deterministic_and_improves))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
