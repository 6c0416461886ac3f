/* test_gemm_f32.c — the packed fp32 GEMM (encoders/kernels/gemm_f32.h): every kernel set against a
 * double-precision reference on shapes that are not multiples of the tiles (M, N, K odd; partial strips,
 * partial micro-panels, several K blocks), the SIMD kernels against their scalar twin, thread-count
 * independence, strided operands, and argument checks.
 *
 * Tolerance: recursive fp32 summation of K products has |error| <= K * u * sum_k |x_k w_k| (u = 2^-24; the
 * bias is one more term), with or without FMA; we allow 2 * (K + 2) * u * sum|x w| + 1e-30. An indexing bug
 * (wrong row, column, K block or bias) gives errors of the order of sum|x w| itself, far outside this. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/kernels/gemm_f32.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static void fill(float *a, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) a[i] = frand(&seed);
}

/* Worst |y - ref| / bound over the T x N outputs (<= 1 passes). */
static double worst_ratio(const float *X, size_t ldx, const float *W, size_t ldw, const float *b, size_t T, size_t N,
                          size_t K, const float *Y, size_t ldy) {
    const double u = ldexp(1.0, -24);
    double worst = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < N; j++) {
            double ref = b ? b[j] : 0.0, mag = b ? fabs(b[j]) : 0.0;
            for (size_t k = 0; k < K; k++) {
                double p = (double)X[t * ldx + k] * (double)W[j * ldw + k];
                ref += p;
                mag += fabs(p);
            }
            double bound = 2.0 * (double)(K + 2) * u * mag + 1e-30;
            double r = fabs((double)Y[t * ldy + j] - ref) / bound;
            if (!(r <= worst)) worst = r; /* NaN propagates as a failure */
        }
    return worst;
}

typedef struct shape { size_t T, N, K; } shape;

static const shape odd_shapes[] = {
    {1, 1, 1},    {1, 33, 7},    {5, 31, 300},  {13, 65, 257}, {14, 32, 256}, {15, 97, 513},
    {29, 100, 3}, {170, 45, 70}, {337, 40, 31}, {6, 16, 1000}, {7, 70, 768}, {9, 33, 1600},
};

static void check_isa(spar_gemm_isa isa, int with_bias, int n_threads) {
    for (size_t si = 0; si < sizeof odd_shapes / sizeof *odd_shapes; si++) {
        shape sh = odd_shapes[si];
        float *X = malloc(sh.T * sh.K * sizeof(float)), *W = malloc(sh.N * sh.K * sizeof(float));
        float *b = malloc(sh.N * sizeof(float)), *Y = malloc(sh.T * sh.N * sizeof(float));
        CU_ASSERT_FATAL(X && W && b && Y);
        fill(X, sh.T * sh.K, 11 + si);
        fill(W, sh.N * sh.K, 97 + si);
        fill(b, sh.N, 5 + si);
        spar_gemm_f32_packed *p = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, sh.N, sh.K, sh.K, &p), SPAR_OK);
        CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, isa, SPAR_GEMM_EPI_NONE, X, sh.T, sh.K, with_bias ? b : NULL, Y, sh.N, n_threads),
                        SPAR_OK);
        double r = worst_ratio(X, sh.K, W, sh.K, with_bias ? b : NULL, sh.T, sh.N, sh.K, Y, sh.N);
        if (!(r <= 1.0))
            printf("\n%s T=%zu N=%zu K=%zu bias=%d: error %.3g x the bound\n", spar_gemm_isa_name(isa), sh.T, sh.N,
                   sh.K, with_bias, r);
        CU_ASSERT(r <= 1.0);
        spar_gemm_f32_free(p);
        free(X), free(W), free(b), free(Y);
    }
}

static void test_scalar_matches_reference(void) {
    check_isa(SPAR_GEMM_ISA_SCALAR, 1, 1);
    check_isa(SPAR_GEMM_ISA_SCALAR, 0, 1);
}

static void test_avx2_matches_reference(void) {
    if (spar_gemm_f32_isa_best() < SPAR_GEMM_ISA_AVX2) {
        printf("(no AVX2+FMA on this CPU: the scalar twin ran instead) ");
    }
    check_isa(SPAR_GEMM_ISA_AVX2, 1, 1);
    check_isa(SPAR_GEMM_ISA_AVX2, 0, 2);
}

static void test_avx512_matches_reference(void) {
    if (spar_gemm_f32_isa_best() < SPAR_GEMM_ISA_AVX512) {
        printf("(no AVX-512F on this CPU: the best available kernels ran instead) ");
    }
    check_isa(SPAR_GEMM_ISA_AVX512, 1, 1);
    check_isa(SPAR_GEMM_ISA_AVX512, 0, 2);
}

/* SIMD vs scalar twin: same summation order, so they differ only by FMA rounding (within twice the bound). */
static void test_simd_matches_scalar_twin(void) {
    spar_gemm_isa best = spar_gemm_f32_isa_best();
    if (best == SPAR_GEMM_ISA_SCALAR) {
        printf("(no SIMD kernels on this CPU: nothing to compare) ");
        return;
    }
    const size_t T = 45, N = 77, K = 600;
    float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *Y0 = malloc(T * N * 4),
          *Y1 = malloc(T * N * 4);
    CU_ASSERT_FATAL(X && W && b && Y0 && Y1);
    fill(X, T * K, 3);
    fill(W, N * K, 4);
    fill(b, N, 5);
    spar_gemm_f32_packed *p = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, N, K, K, &p), SPAR_OK);
    CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, SPAR_GEMM_ISA_SCALAR, SPAR_GEMM_EPI_NONE, X, T, K, b, Y0, N, 1), SPAR_OK);
    for (int isa = SPAR_GEMM_ISA_AVX2; isa <= (int)best; isa++) {
        CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, (spar_gemm_isa)isa, SPAR_GEMM_EPI_NONE, X, T, K, b, Y1, N, 1), SPAR_OK);
        double worst = 0, mag = 0;
        for (size_t i = 0; i < T * N; i++) {
            worst = fmax(worst, fabs((double)Y0[i] - (double)Y1[i]));
            mag = fmax(mag, fabs((double)Y0[i]));
        }
        /* |x w| <= 1 per term, so sum|x w| <= K + 1: the twins may differ by at most 2 bounds. */
        CU_ASSERT(worst <= 4.0 * (double)(K + 2) * ldexp(1.0, -24) * (double)(K + 1));
        CU_ASSERT(mag > 1.0); /* the outputs are not all ~0 (a kernel writing nothing would not pass) */
    }
    spar_gemm_f32_free(p);
    free(X), free(W), free(b), free(Y0), free(Y1);
}

/* Every output is summed by one thread in one order: 1, 2 and 3 threads give identical bits, for the
 * strip partition (N large) and for the row partition (N = one strip). */
static void test_thread_count_does_not_change_bits(void) {
    const size_t T = 301, K = 129;
    const size_t Ns[2] = {200, 20};
    for (int v = 0; v < 2; v++) {
        size_t N = Ns[v];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *Y[3];
        CU_ASSERT_FATAL(X && W && b);
        fill(X, T * K, 21);
        fill(W, N * K, 22);
        fill(b, N, 23);
        spar_gemm_f32_packed *p = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, N, K, K, &p), SPAR_OK);
        for (int t = 0; t < 3; t++) {
            Y[t] = malloc(T * N * 4);
            CU_ASSERT_FATAL(Y[t] != NULL);
            CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, X, T, K, b, Y[t], N, t + 1), SPAR_OK);
        }
        CU_ASSERT_EQUAL(memcmp(Y[0], Y[1], T * N * 4), 0);
        CU_ASSERT_EQUAL(memcmp(Y[0], Y[2], T * N * 4), 0);
        for (int t = 0; t < 3; t++) free(Y[t]);
        spar_gemm_f32_free(p);
        free(X), free(W), free(b);
    }
}

/* Units run in any order (here backwards, with an unaligned scratch) give the bits apply gives. */
static void test_units_in_any_order_match_apply(void) {
    const size_t T = 200, N = 300, K = 900;
    float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *Y0 = malloc(T * N * 4),
          *Y1 = malloc(T * N * 4), *scratch = malloc((SPAR_GEMM_F32_SCRATCH + 1) * 4);
    CU_ASSERT_FATAL(X && W && b && Y0 && Y1 && scratch);
    fill(X, T * K, 61);
    fill(W, N * K, 62);
    fill(b, N, 63);
    spar_gemm_f32_packed *p = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, N, K, K, &p), SPAR_OK);
    CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, spar_gemm_f32_isa_best(), SPAR_GEMM_EPI_GELU, X, T, K, b, Y0, N, 2),
                    SPAR_OK);
    spar_gemm_f32_plan pl;
    size_t n = spar_gemm_f32_plan_make(&pl, p, spar_gemm_f32_isa_best(), SPAR_GEMM_EPI_GELU, X, T, K, b, Y1, N, 2);
    CU_ASSERT(n > 1);
    for (size_t i = n; i-- > 0;) spar_gemm_f32_run_unit(&pl, i, scratch + 1);
    CU_ASSERT_EQUAL(memcmp(Y0, Y1, T * N * 4), 0);
    CU_ASSERT_EQUAL(spar_gemm_f32_plan_make(&pl, p, SPAR_GEMM_ISA_SCALAR, SPAR_GEMM_EPI_NONE, X, 0, K, b, Y1, N, 2), 0);
    CU_ASSERT_EQUAL(spar_gemm_f32_plan_make(&pl, p, SPAR_GEMM_ISA_SCALAR, SPAR_GEMM_EPI_NONE, X, T, K - 1, b, Y1, N, 2), 0);
    spar_gemm_f32_free(p);
    free(X), free(W), free(b), free(Y0), free(Y1), free(scratch);
}

/* Leading dimensions larger than the logical widths: W a column block of a wider matrix, X and Y strided;
 * the columns of Y past N are left untouched. */
static void test_strided_operands(void) {
    const size_t T = 19, N = 37, K = 50, ldw = 64, ldx = 55, ldy = 41;
    float *X = malloc(T * ldx * 4), *W = malloc(N * ldw * 4), *b = malloc(N * 4), *Y = malloc(T * ldy * 4);
    CU_ASSERT_FATAL(X && W && b && Y);
    fill(X, T * ldx, 31);
    fill(W, N * ldw, 32);
    fill(b, N, 33);
    for (size_t i = 0; i < T * ldy; i++) Y[i] = 12345.0f;
    spar_gemm_f32_packed *p = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, N, K, ldw, &p), SPAR_OK);
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, X, T, ldx, b, Y, ldy, 2), SPAR_OK);
    CU_ASSERT(worst_ratio(X, ldx, W, ldw, b, T, N, K, Y, ldy) <= 1.0);
    int untouched = 1;
    for (size_t t = 0; t < T; t++)
        for (size_t j = N; j < ldy; j++) untouched &= Y[t * ldy + j] == 12345.0f;
    CU_ASSERT(untouched);
    spar_gemm_f32_free(p);
    free(X), free(W), free(b), free(Y);
}

/* The fused GELU equals the product followed by bert.c's separate pass, bit for bit (same expression, same
 * erff); ReLU likewise. */
static void test_fused_activation_equals_separate_pass(void) {
    const size_t T = 23, N = 70, K = 300;
    float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *Y0 = malloc(T * N * 4),
          *Y1 = malloc(T * N * 4);
    CU_ASSERT_FATAL(X && W && b && Y0 && Y1);
    fill(X, T * K, 41);
    fill(W, N * K, 42);
    fill(b, N, 43);
    spar_gemm_f32_packed *p = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, N, K, K, &p), SPAR_OK);
    for (int isa = 0; isa <= (int)spar_gemm_f32_isa_best(); isa++) {
        CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, (spar_gemm_isa)isa, SPAR_GEMM_EPI_NONE, X, T, K, b, Y0, N, 1), SPAR_OK);
        CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, (spar_gemm_isa)isa, SPAR_GEMM_EPI_GELU, X, T, K, b, Y1, N, 2), SPAR_OK);
        int same = 1, neg = 0;
        for (size_t i = 0; i < T * N; i++) {
            float x = Y0[i], g = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
            same &= memcmp(&g, &Y1[i], sizeof g) == 0;
            neg += x < -0.5f;
        }
        CU_ASSERT(same);
        CU_ASSERT(neg > 0); /* the activation had something to do */
        CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, (spar_gemm_isa)isa, SPAR_GEMM_EPI_RELU, X, T, K, b, Y1, N, 1), SPAR_OK);
        same = 1;
        for (size_t i = 0; i < T * N; i++) same &= Y1[i] == (Y0[i] > 0 ? Y0[i] : 0.0f);
        CU_ASSERT(same);
    }
    spar_gemm_f32_free(p);
    free(X), free(W), free(b), free(Y0), free(Y1);
}

/* GELU_FAST against erf GELU in double: a 1 x N product with W = identity-like rows puts chosen values
 * x in [-12, 12] (dense near 0, where GELU bends) through the epilogue of every kernel set. Bound:
 * 2e-7 * (1 + |x|) (A&S 7.1.26 is 1.5e-7 absolute on erfc, times 0.5 |x|, plus float rounding). */
static void test_gelu_fast_is_close_to_erf_gelu(void) {
    enum { NX = 4001 };
    float *W = calloc((size_t)NX * NX, sizeof(float)), *X = malloc(NX * 4), *Y = malloc(NX * 4);
    CU_ASSERT_FATAL(W && X && Y);
    for (size_t j = 0; j < NX; j++) {
        W[j * NX + j] = 1.0f;
        double u = ((double)j - (NX - 1) / 2.0) / ((NX - 1) / 2.0); /* [-1, 1] */
        X[j] = (float)(12.0 * u * u * u);
    }
    spar_gemm_f32_packed *p = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, NX, NX, NX, &p), SPAR_OK);
    for (int isa = 0; isa <= (int)spar_gemm_f32_isa_best(); isa++) {
        CU_ASSERT_EQUAL(spar_gemm_f32_apply_ex(p, (spar_gemm_isa)isa, SPAR_GEMM_EPI_GELU_FAST, X, 1, NX, NULL, Y, NX, 1),
                        SPAR_OK);
        double worst = 0;
        for (size_t j = 0; j < NX; j++) {
            double x = X[j], ref = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
            worst = fmax(worst, fabs((double)Y[j] - ref) / (2e-7 * (1.0 + fabs(x))));
        }
        if (!(worst <= 1.0)) printf("\n%s: GELU_FAST error %.3g x the bound\n", spar_gemm_isa_name((spar_gemm_isa)isa), worst);
        CU_ASSERT(worst <= 1.0);
    }
    spar_gemm_f32_free(p);
    free(W), free(X), free(Y);
}

/* One head of attention against a double-precision softmax(q k^T * scale) v, with q, k, v interleaved as a
 * fused QKV output (stride 3 * width) and the head in the middle of the row. Scores are scaled so that the
 * softmax is far from uniform. Tolerance: 2e-5 relative to max |v| (fp32 products of <= 512 terms). */
static void test_attention_head_matches_reference(void) {
    const size_t ns[] = {1, 7, 33, 130, 257}, dhs[] = {64, 20};
    for (size_t di = 0; di < 2; di++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
            size_t n = ns[ni], dh = dhs[di], width = 3 * dh, ld = 3 * width, off = dh; /* head 1 of 3 */
            float *qkv = malloc(n * ld * 4), *out = malloc(n * width * 4);
            float *work = malloc(spar_attn_f32_work_floats(n, dh) * 4);
            double *sc = malloc(n * sizeof(double));
            CU_ASSERT_FATAL(qkv && out && work && sc);
            fill(qkv, n * ld, 50 + n + dh);
            for (size_t i = 0; i < n * width; i++) out[i] = 7.0f;
            const float *q = qkv + off, *k = q + width, *v = q + 2 * width;
            float scale = 3.0f / sqrtf((float)dh);
            for (int isa = 0; isa <= (int)spar_gemm_f32_isa_best(); isa++) {
                CU_ASSERT_EQUAL(spar_attn_f32_head((spar_gemm_isa)isa, q, k, v, ld, n, dh, scale, out + off, width,
                                                   work),
                                SPAR_OK);
                double worst = 0;
                for (size_t i = 0; i < n; i++) {
                    double mx = -1e300, sum = 0;
                    for (size_t j = 0; j < n; j++) {
                        double d = 0;
                        for (size_t c = 0; c < dh; c++) d += (double)q[i * ld + c] * (double)k[j * ld + c];
                        sc[j] = d * scale;
                        mx = fmax(mx, sc[j]);
                    }
                    for (size_t j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
                    for (size_t c = 0; c < dh; c++) {
                        double o = 0;
                        for (size_t j = 0; j < n; j++) o += sc[j] / sum * (double)v[j * ld + c];
                        worst = fmax(worst, fabs(o - (double)out[i * width + off + c]));
                    }
                }
                if (!(worst <= 2e-5)) printf("\nattention %s n=%zu dh=%zu: error %.3g\n",
                                            spar_gemm_isa_name((spar_gemm_isa)isa), n, dh, worst);
                CU_ASSERT(worst <= 2e-5);
                int untouched = 1; /* columns of other heads */
                for (size_t i = 0; i < n; i++)
                    for (size_t c = 0; c < width; c++)
                        if (c < off || c >= off + dh) untouched &= out[i * width + c] == 7.0f;
                CU_ASSERT(untouched);
            }
            free(qkv), free(out), free(work), free(sc);
        }
}

/* In-place packing gives the bits of the copying pack, and unpacking restores W exactly; unaligned W or
 * n % 32 != 0 are refused with W untouched. */
static void test_pack_inplace_roundtrip(void) {
    const size_t T = 37, N = 96, K = 130;
    float *W = aligned_alloc(64, N * K * 4), *W0 = malloc(N * K * 4), *X = malloc(T * K * 4), *Y0 = malloc(T * N * 4),
          *Y1 = malloc(T * N * 4);
    CU_ASSERT_FATAL(W && W0 && X && Y0 && Y1);
    fill(W, N * K, 71);
    fill(X, T * K, 72);
    memcpy(W0, W, N * K * 4);
    spar_gemm_f32_packed *pc = NULL, *pi = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W, N, K, K, &pc), SPAR_OK);
    CU_ASSERT_EQUAL(spar_gemm_f32_pack_inplace(W + 1, N, K, &pi), SPAR_E_INVALID_ARG); /* unaligned */
    CU_ASSERT_EQUAL(spar_gemm_f32_pack_inplace(W, N - 1, K, &pi), SPAR_E_INVALID_ARG); /* n % 32 */
    CU_ASSERT_EQUAL(memcmp(W, W0, N * K * 4), 0);
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack_inplace(W, N, K, &pi), SPAR_OK);
    CU_ASSERT(pi->data == W);
    CU_ASSERT(memcmp(W, W0, N * K * 4) != 0);
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(pc, X, T, K, NULL, Y0, N, 1), SPAR_OK);
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(pi, X, T, K, NULL, Y1, N, 2), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(Y0, Y1, T * N * 4), 0);
    CU_ASSERT_EQUAL(spar_gemm_f32_unpack_inplace(pc), SPAR_E_INVALID_ARG); /* not in place */
    CU_ASSERT_EQUAL(spar_gemm_f32_unpack_inplace(pi), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(W, W0, N * K * 4), 0);
    spar_gemm_f32_free(pc);
    free(W), free(W0), free(X), free(Y0), free(Y1);
}

static void test_invalid_arguments(void) {
    float w[6] = {1, 2, 3, 4, 5, 6}, x[3] = {1, 1, 1}, y[2];
    spar_gemm_f32_packed *p = (spar_gemm_f32_packed *)1;
    CU_ASSERT_EQUAL(spar_gemm_f32_pack(NULL, 2, 3, 3, &p), SPAR_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL(spar_gemm_f32_pack(w, 0, 3, 3, &p), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_gemm_f32_pack(w, 2, 3, 2, &p), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(w, 2, 3, 3, &p), SPAR_OK);
    CU_ASSERT(spar_gemm_f32_bytes(p) >= 32 * 3 * sizeof(float));
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, x, 1, 2, NULL, y, 2, 1), SPAR_E_INVALID_ARG); /* ldx < k */
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, x, 1, 3, NULL, y, 1, 1), SPAR_E_INVALID_ARG); /* ldy < n */
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, NULL, 1, 3, NULL, y, 2, 1), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, NULL, 0, 3, NULL, NULL, 2, 1), SPAR_OK); /* T == 0: nothing */
    CU_ASSERT_EQUAL(spar_gemm_f32_apply(p, x, 1, 3, NULL, y, 2, 1), SPAR_OK);
    CU_ASSERT_EQUAL(y[0], 6.0f);
    CU_ASSERT_EQUAL(y[1], 15.0f);
    spar_gemm_f32_free(p);
    spar_gemm_f32_free(NULL);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("encoders/gemm_f32", NULL, NULL);
    CU_add_test(s, "scalar twin matches the double reference on odd shapes", test_scalar_matches_reference);
    CU_add_test(s, "AVX2 kernels match the double reference on odd shapes", test_avx2_matches_reference);
    CU_add_test(s, "AVX-512 kernels match the double reference on odd shapes", test_avx512_matches_reference);
    CU_add_test(s, "SIMD kernels match the scalar twin", test_simd_matches_scalar_twin);
    CU_add_test(s, "thread count does not change the bits", test_thread_count_does_not_change_bits);
    CU_add_test(s, "units in any order match apply", test_units_in_any_order_match_apply);
    CU_add_test(s, "strided operands and untouched padding columns", test_strided_operands);
    CU_add_test(s, "fused activation equals the separate pass", test_fused_activation_equals_separate_pass);
    CU_add_test(s, "GELU_FAST is close to erf GELU", test_gelu_fast_is_close_to_erf_gelu);
    CU_add_test(s, "attention head matches the double reference", test_attention_head_matches_reference);
    CU_add_test(s, "pack in place round trip", test_pack_inplace_roundtrip);
    CU_add_test(s, "invalid arguments", test_invalid_arguments);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
