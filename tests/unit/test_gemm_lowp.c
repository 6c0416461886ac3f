/* test_gemm_lowp.c — the reduced-precision GEMM (encoders/kernels/gemm_lowp.h): the AVX-512 BF16 / VNNI kernels
 * against their scalar twins on shapes that are not multiples of the blocks (M vs the 6-row micro-kernel and
 * 96-row tiles, N vs 16-wide strips and 64-wide groups, K vs the 2 / 4 packing step):
 *   int8: activation bytes, scales and zero points identical; integer accumulators exactly equal; float
 *         outputs bitwise equal (same operations in the same order);
 *   bf16: activation bits identical; outputs within the fp32 rounding of the same summation order (the bound
 *         below; on the development CPU they are bitwise equal, which the test prints).
 * The scalar twins themselves are checked against naive loops over the unpacked values (packing and the
 * zero-point compensation), and the threaded driver against one tile. Without the CPU features only the
 * scalar checks run (said in the output). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/kernels/gemm_lowp.h"

static uint64_t g_rng = 7;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) / 8388608.0 - 1.0);
}

typedef struct shape { size_t m, n, k; } shape;
static const shape k_shapes[] = {{1, 1, 1},   {7, 33, 19},  {13, 70, 101}, {6, 64, 768},
                                 {25, 17, 3}, {50, 129, 770}, {97, 300, 62}, {5, 1000, 33}};
#define N_SHAPES (sizeof k_shapes / sizeof *k_shapes)

static float *rand_mat(size_t n, float scale, float shift) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = scale * frand() + shift;
    return p;
}

/* Run the tile on the whole matrix with the SIMD kernels (when present) or the scalar twins. */
static void run(const spar_lowp_mat *w, const float *A, size_t m, const float *bias, int scalar, float *C,
                int32_t *Ci, spar_lowp_act *act_out) {
    spar_lowp_force_scalar(scalar);
    spar_lowp_act act;
    CU_ASSERT_EQUAL_FATAL(spar_lowp_act_prepare(w, A, m, w->k, 1, &act), SPAR_OK);
    spar_lowp_gemm_tile(w, &act, 0, m, 0, w->n, bias, C, w->n);
    if (Ci != NULL) spar_lowp_gemm_tile_i32(w, &act, 0, m, 0, w->n, Ci, w->n);
    spar_lowp_force_scalar(0);
    *act_out = act;
}

static void test_int8_simd_matches_scalar(void) {
    if (!spar_lowp_simd(SPAR_LOWP_INT8)) printf("\n  (no AVX-512 VNNI on this CPU: scalar twin only) ");
    size_t worst_i32 = 0, worst_f = 0;
    for (size_t si = 0; si < N_SHAPES; si++) {
        shape sh = k_shapes[si];
        float *W = rand_mat(sh.n * sh.k, 0.1f, 0), *A = rand_mat(sh.m * sh.k, 2.0f, 0.3f), *b = rand_mat(sh.n, 1, 0);
        spar_lowp_mat w;
        CU_ASSERT_EQUAL_FATAL(spar_lowp_pack(SPAR_LOWP_INT8, W, sh.n, sh.k, sh.k, &w), SPAR_OK);
        float *c1 = malloc(sh.m * sh.n * 4), *c2 = malloc(sh.m * sh.n * 4);
        int32_t *i1 = malloc(sh.m * sh.n * 4), *i2 = malloc(sh.m * sh.n * 4);
        spar_lowp_act a1, a2;
        run(&w, A, sh.m, b, 0, c1, i1, &a1);
        run(&w, A, sh.m, b, 1, c2, i2, &a2);
        CU_ASSERT_EQUAL(memcmp(a1.q, a2.q, sh.m * w.kp), 0);
        CU_ASSERT_EQUAL(memcmp(a1.scale, a2.scale, sh.m * 4), 0);
        CU_ASSERT_EQUAL(memcmp(a1.zp, a2.zp, sh.m * 4), 0);
        for (size_t i = 0; i < sh.m * sh.n; i++) {
            worst_i32 += i1[i] != i2[i];
            worst_f += memcmp(&c1[i], &c2[i], 4) != 0;
        }
        spar_lowp_act_free(&a1);
        spar_lowp_act_free(&a2);
        spar_lowp_mat_free(&w);
        free(W); free(A); free(b); free(c1); free(c2); free(i1); free(i2);
    }
    CU_ASSERT_EQUAL(worst_i32, 0);
    CU_ASSERT_EQUAL(worst_f, 0);
}

static void test_bf16_simd_matches_scalar(void) {
    if (!spar_lowp_simd(SPAR_LOWP_BF16)) printf("\n  (no AVX-512 BF16 on this CPU: scalar twin only) ");
    size_t n_diff = 0, n_all = 0;
    double worst = 0;
    for (size_t si = 0; si < N_SHAPES; si++) {
        shape sh = k_shapes[si];
        float *W = rand_mat(sh.n * sh.k, 0.1f, 0), *A = rand_mat(sh.m * sh.k, 2.0f, 0.3f), *b = rand_mat(sh.n, 1, 0);
        spar_lowp_mat w;
        CU_ASSERT_EQUAL_FATAL(spar_lowp_pack(SPAR_LOWP_BF16, W, sh.n, sh.k, sh.k, &w), SPAR_OK);
        float *c1 = malloc(sh.m * sh.n * 4), *c2 = malloc(sh.m * sh.n * 4);
        spar_lowp_act a1, a2;
        run(&w, A, sh.m, NULL, 0, c1, NULL, &a1);
        run(&w, A, sh.m, NULL, 1, c2, NULL, &a2);
        CU_ASSERT_EQUAL(memcmp(a1.q, a2.q, sh.m * w.kp * 2), 0);
        float *row = malloc(sh.k * 4);
        for (size_t j = 0; j < sh.n; j++) {
            spar_lowp_mat_row(&w, j, row);
            for (size_t i = 0; i < sh.m; i++) {
                /* |error| of a K-term fp32 sum in a fixed order <= K * 2^-24 * sum |a_k b_k| (products exact) */
                double mag = 0;
                for (size_t c = 0; c < sh.k; c++) {
                    uint16_t h = ((const uint16_t *)a1.q)[i * w.kp + c];
                    uint32_t u = (uint32_t)h << 16;
                    float av;
                    memcpy(&av, &u, 4);
                    mag += fabs((double)av * row[c]);
                }
                double tol = 2.0 * (double)sh.k * ldexp(1.0, -24) * mag + 1e-30;
                double dlt = fabs((double)c1[i * sh.n + j] - c2[i * sh.n + j]);
                CU_ASSERT(dlt <= tol);
                if (dlt / tol > worst) worst = dlt / tol;
                n_diff += memcmp(&c1[i * sh.n + j], &c2[i * sh.n + j], 4) != 0;
                n_all++;
            }
        }
        spar_lowp_act_free(&a1);
        spar_lowp_act_free(&a2);
        spar_lowp_mat_free(&w);
        free(row); free(W); free(A); free(b); free(c1); free(c2);
    }
    printf("\n  bf16 SIMD vs scalar: %zu of %zu outputs differ in any bit (worst %.3g of the bound) ", n_diff, n_all,
           worst);
}

/* The scalar twins against naive loops on the unpacked values: packing layout and zero-point compensation. */
static void test_scalar_twins_match_naive(void) {
    for (size_t si = 0; si < N_SHAPES; si++) {
        shape sh = k_shapes[si];
        float *W = rand_mat(sh.n * sh.k, 0.1f, 0), *A = rand_mat(sh.m * sh.k, 2.0f, 0.3f), *b = rand_mat(sh.n, 1, 0);
        float *row = malloc(sh.k * 4), *c = malloc(sh.m * sh.n * 4);
        int32_t *ci = malloc(sh.m * sh.n * 4);
        for (int kind = SPAR_LOWP_BF16; kind <= SPAR_LOWP_INT8; kind++) {
            spar_lowp_mat w;
            CU_ASSERT_EQUAL_FATAL(spar_lowp_pack((spar_lowp_kind)kind, W, sh.n, sh.k, sh.k, &w), SPAR_OK);
            spar_lowp_act a;
            run(&w, A, sh.m, b, 1, c, kind == SPAR_LOWP_INT8 ? ci : NULL, &a);
            for (size_t j = 0; j < sh.n; j++) {
                spar_lowp_mat_row(&w, j, row);
                for (size_t i = 0; i < sh.m; i++) {
                    double want = b[j], mag = fabs(b[j]);
                    int64_t iacc = 0;
                    for (size_t k = 0; k < sh.k; k++) {
                        double av;
                        if (kind == SPAR_LOWP_BF16) {
                            uint32_t u = (uint32_t)((const uint16_t *)a.q)[i * w.kp + k] << 16;
                            float f;
                            memcpy(&f, &u, 4);
                            av = f;
                            /* weights round-trip: the packed value is W rounded to bf16 */
                            CU_ASSERT(fabs(row[k] - W[j * sh.k + k]) <= fabs(W[j * sh.k + k]) * ldexp(1.0, -8));
                        } else {
                            int32_t qa = ((const uint8_t *)a.q)[i * w.kp + k] - a.zp[i];
                            av = qa * (double)a.scale[i];
                            iacc += (int64_t)qa * (int64_t)lrint(row[k] / w.scale[j]);
                            /* activations within half a step of the input */
                            uint8_t q8 = ((const uint8_t *)a.q)[i * w.kp + k];
                            double lim = (q8 == 0 || q8 == 255) ? 1.0001 : 0.5001; /* clamped ends */
                            CU_ASSERT(fabs(av - A[i * sh.k + k]) <= lim * a.scale[i]);
                        }
                        want += av * row[k];
                        mag += fabs(av * row[k]);
                    }
                    if (kind == SPAR_LOWP_INT8) CU_ASSERT_EQUAL(ci[i * sh.n + j], iacc);
                    CU_ASSERT(fabs(c[i * sh.n + j] - want) <= 1e-5 * mag + 1e-6);
                }
            }
            spar_lowp_act_free(&a);
            spar_lowp_mat_free(&w);
        }
        free(W); free(A); free(b); free(row); free(c); free(ci);
    }
}

/* spar_lowp_linear (tiles over threads, bias) equals one whole-matrix tile, bitwise; a tile starting at a
 * strip boundary inside the matrix writes exactly its part. */
static void test_linear_equals_tile(void) {
    size_t m = 203, n = 530, k = 97;
    float *W = rand_mat(n * k, 0.1f, 0), *A = rand_mat(m * k, 1, 0), *b = rand_mat(n, 1, 0);
    float *c1 = malloc(m * n * 4), *c2 = malloc(m * n * 4), *part = malloc(m * 100 * 4);
    for (int kind = SPAR_LOWP_BF16; kind <= SPAR_LOWP_INT8; kind++) {
        spar_lowp_mat w;
        CU_ASSERT_EQUAL_FATAL(spar_lowp_pack((spar_lowp_kind)kind, W, n, k, k, &w), SPAR_OK);
        spar_lowp_act a;
        CU_ASSERT_EQUAL_FATAL(spar_lowp_act_prepare(&w, A, m, k, 1, &a), SPAR_OK);
        spar_lowp_gemm_tile(&w, &a, 0, m, 0, n, b, c1, n);
        CU_ASSERT_EQUAL(spar_lowp_linear(&w, A, m, k, b, c2, n, 2), SPAR_OK);
        CU_ASSERT_EQUAL(memcmp(c1, c2, m * n * 4), 0);
        spar_lowp_gemm_tile(&w, &a, 10, 60, 160, 260, b, part, 100);
        size_t bad = 0;
        for (size_t i = 10; i < 60; i++)
            for (size_t j = 160; j < 260; j++) bad += memcmp(&part[(i - 10) * 100 + (j - 160)], &c1[i * n + j], 4) != 0;
        CU_ASSERT_EQUAL(bad, 0);
        spar_lowp_act_free(&a);
        spar_lowp_mat_free(&w);
    }
    free(W); free(A); free(b); free(c1); free(c2); free(part);
}

static void test_bad_args(void) {
    spar_lowp_mat w;
    float W[4] = {1, 2, 3, 4};
    CU_ASSERT_EQUAL(spar_lowp_pack(SPAR_LOWP_BF16, W, 0, 4, 4, &w), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_lowp_pack(SPAR_LOWP_INT8, W, 1, 4, 3, &w), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_lowp_pack((spar_lowp_kind)9, W, 1, 4, 4, &w), SPAR_E_INVALID_ARG);
    spar_lowp_mat_free(NULL);
    spar_lowp_act_free(NULL);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/kernels/gemm_lowp", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "int8 VNNI kernel == scalar twin (exact)", test_int8_simd_matches_scalar) ||
        !CU_add_test(s, "bf16 kernel == scalar twin (summation-order bound)", test_bf16_simd_matches_scalar) ||
        !CU_add_test(s, "scalar twins == naive loops on unpacked values", test_scalar_twins_match_naive) ||
        !CU_add_test(s, "threaded linear == one tile; sub-tile", test_linear_equals_tile) ||
        !CU_add_test(s, "invalid arguments", test_bad_args))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
