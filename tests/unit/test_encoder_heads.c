/* test_encoder_heads.c — the output heads (encoders/model/heads.h) against naive double-precision loops:
 * SPLADE max/sum pooling across token-tile (256) and vocabulary-block (2048) boundaries, with sequences that
 * straddle tiles; dense CLS/mean pooling and L2 normalisation; token projection. No model files needed. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/model/heads.h"

static uint64_t g_rng = 42;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) / 8388608.0 - 1.0);
}

#define D 24
#define V 4500 /* two full 2048 blocks and a partial one */
static const uint32_t k_lens[5] = {1, 300, 7, 257, 35}; /* T = 600: sequences straddle the 256-token tiles */

static void naive_splade(const float *h, const float *W, const float *b, int sum, float *out) {
    size_t t = 0;
    for (int s = 0; s < 5; s++) {
        for (size_t v = 0; v < V; v++) {
            double acc = 0;
            for (uint32_t i = 0; i < k_lens[s]; i++) {
                double x = b[v];
                for (int j = 0; j < D; j++) x += (double)h[(t + i) * D + j] * W[v * D + j];
                double w = log1p(x > 0 ? x : 0);
                acc = sum ? acc + w : (w > acc ? w : acc);
            }
            out[s * V + v] = (float)acc;
        }
        t += k_lens[s];
    }
}

static void check_pool(int sum) {
    size_t T = 600;
    float *h = malloc(T * D * 4), *W = malloc(V * D * 4), *b = malloc(V * 4);
    float *got = malloc(5 * V * 4), *want = malloc(5 * V * 4);
    for (size_t i = 0; i < T * D; i++) h[i] = frand();
    for (size_t i = 0; i < (size_t)V * D; i++) W[i] = 0.2f * frand();
    for (size_t i = 0; i < V; i++) b[i] = 0.5f * frand() - 0.3f;
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool(h, k_lens, 5, D, W, b, V, sum ? SPAR_SPLADE_SUM : SPAR_SPLADE_MAX, got), SPAR_OK);
    naive_splade(h, W, b, sum, want);
    size_t zeros_mismatch = 0, nz = 0;
    double worst = 0;
    for (size_t i = 0; i < 5 * V; i++) {
        double tol = 1e-5 * (1.0 + fabs(want[i]));
        double dlt = fabs((double)got[i] - want[i]);
        if (dlt / (1.0 + fabs(want[i])) > worst) worst = dlt / (1.0 + fabs(want[i]));
        CU_ASSERT(dlt <= tol);
        zeros_mismatch += (got[i] == 0) != (want[i] == 0) && (fabs(want[i]) > 1e-5 || fabs(got[i]) > 1e-5);
        nz += want[i] != 0;
    }
    CU_ASSERT_EQUAL(zeros_mismatch, 0);
    CU_ASSERT(nz > 0 && nz < 5 * V); /* the case has both zero and non-zero weights */
    free(h); free(W); free(b); free(got); free(want);
}
static void test_splade_max_matches_naive(void) { check_pool(0); }
static void test_splade_sum_matches_naive(void) { check_pool(1); }

static void test_dense_pooling(void) {
    float h[6 * 3], out[2 * 3];
    uint32_t lens[2] = {2, 4};
    for (int i = 0; i < 18; i++) h[i] = (float)i;
    spar_dense_pool(h, lens, 2, 3, SPAR_DENSE_CLS, 0, out);
    CU_ASSERT_EQUAL(out[0], 0.0f);
    CU_ASSERT_EQUAL(out[3], 6.0f); /* second sequence starts at token 2 */
    spar_dense_pool(h, lens, 2, 3, SPAR_DENSE_MEAN, 0, out);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 1.5, 1e-6);        /* (0 + 3) / 2 */
    CU_ASSERT_DOUBLE_EQUAL(out[3], (6 + 9 + 12 + 15) / 4.0, 1e-6);
    spar_dense_pool(h, lens, 2, 3, SPAR_DENSE_MEAN, 1, out);
    CU_ASSERT_DOUBLE_EQUAL(out[3] * out[3] + out[4] * out[4] + out[5] * out[5], 1.0, 1e-6);
}

static void test_token_projection(void) {
    float h[2 * 3] = {1, 2, 3, -1, 0, 1}, P[2 * 3] = {1, 0, 0, 0.5f, 0.5f, 0.5f}, out[4];
    spar_token_project(h, 2, 3, P, 2, 0, out);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[2], -1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[3], 0.0, 1e-6);
    float plain[6];
    spar_token_project(h, 2, 3, NULL, 0, 1, plain);
    CU_ASSERT_DOUBLE_EQUAL(plain[0] * plain[0] + plain[1] * plain[1] + plain[2] * plain[2], 1.0, 1e-6);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/heads", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "SPLADE max pooling across tiles and blocks", test_splade_max_matches_naive) ||
        !CU_add_test(s, "SPLADE sum pooling across tiles and blocks", test_splade_sum_matches_naive) ||
        !CU_add_test(s, "dense CLS / mean pooling, L2", test_dense_pooling) ||
        !CU_add_test(s, "token projection", test_token_projection))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
