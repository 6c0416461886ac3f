/* test_ann_kernels.c — every SIMD distance kernel matches its scalar twin (ann/kernels.h). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>

#include "ann/kernels.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static void test_f32_kernels_match_scalar(void) {
    const spar_ann_kernels *sc = spar_ann_kernels_scalar(), *vx = spar_ann_kernels_avx2();
    if (vx == NULL) {
        printf("(no AVX2 on this CPU: nothing to compare) ");
        return;
    }
    uint64_t seed = 7;
    float a[1031], b[1031];
    for (int i = 0; i < 1031; i++) a[i] = frand(&seed), b[i] = frand(&seed);
    for (size_t d = 0; d <= 1031; d += (d < 40 ? 1 : 37)) {
        float s1 = sc->l2sq(a, b, d), s2 = vx->l2sq(a, b, d);
        CU_ASSERT(fabsf(s1 - s2) <= 1e-5f * (1.0f + fabsf(s1)));
        float p1 = sc->dot(a, b, d), p2 = vx->dot(a, b, d);
        CU_ASSERT(fabsf(p1 - p2) <= 1e-5f * (1.0f + (float)d));
    }
}

static void test_hamming_matches_scalar_and_naive(void) {
    const spar_ann_kernels *sc = spar_ann_kernels_scalar(), *vx = spar_ann_kernels_avx2();
    uint64_t seed = 11, a[17], b[17];
    for (int rep = 0; rep < 200; rep++) {
        for (int i = 0; i < 17; i++) {
            seed = seed * 6364136223846793005ull + 1;
            a[i] = seed;
            seed = seed * 6364136223846793005ull + 1;
            b[i] = rep % 3 == 0 ? a[i] : seed;
        }
        for (size_t w = 0; w <= 17; w++) {
            uint32_t naive = 0;
            for (size_t i = 0; i < w; i++)
                for (int bit = 0; bit < 64; bit++) naive += (uint32_t)(((a[i] ^ b[i]) >> bit) & 1u);
            CU_ASSERT_EQUAL(sc->hamming(a, b, w), naive);
            if (vx != NULL) CU_ASSERT_EQUAL(vx->hamming(a, b, w), naive);
        }
    }
}

static void test_dispatch_returns_a_kernel(void) {
    const spar_ann_kernels *k = spar_ann_kernels_get();
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    float a[3] = {1, 2, 3}, b[3] = {1, 0, 3};
    CU_ASSERT_DOUBLE_EQUAL(k->l2sq(a, b, 3), 4.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(k->dot(a, b, 3), 10.0, 1e-6);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("ann/kernels", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "f32 SIMD kernels match scalar", test_f32_kernels_match_scalar) ||
        !CU_add_test(s, "hamming kernels match a bit-by-bit count", test_hamming_matches_scalar_and_naive) ||
        !CU_add_test(s, "dispatch picks a working kernel", test_dispatch_returns_a_kernel))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
