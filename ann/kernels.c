/* ann/kernels.c — scalar and AVX2 distance kernels with one-time dispatch. Contract: ann/kernels.h.
 * The scalar loops accumulate in 8 independent lanes in the same order as the AVX2 versions, so the two
 * agree to a few ulps (not bit-exactly: FMA rounds once). */
#include "ann/kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPAR_X86 1
#endif

static float l2sq_scalar(const float *a, const float *b, size_t d) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++) {
            float t = a[i + j] - b[i + j];
            acc[j] += t * t;
        }
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

static float dot_scalar(const float *a, const float *b, size_t d) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

static uint32_t hamming_scalar(const uint64_t *a, const uint64_t *b, size_t n_words) {
    uint32_t s = 0;
    for (size_t i = 0; i < n_words; i++) {
        uint64_t x = a[i] ^ b[i];
        /* SWAR popcount: no dependence on the popcnt instruction */
        x = x - ((x >> 1) & 0x5555555555555555ull);
        x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
        x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
        s += (uint32_t)((x * 0x0101010101010101ull) >> 56);
    }
    return s;
}

static const spar_ann_kernels k_scalar = {l2sq_scalar, dot_scalar, hamming_scalar, "scalar"};
const spar_ann_kernels *spar_ann_kernels_scalar(void) { return &k_scalar; }

#ifdef SPAR_X86
#define AVX2 __attribute__((target("avx2,fma,popcnt")))

AVX2 static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);           /* lanes (0+4, 1+5, 2+6, 3+7) */
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));  /* (0+4)+(2+6), (1+5)+(3+7) */
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

AVX2 static float l2sq_avx2(const float *a, const float *b, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        acc1 = _mm256_fmadd_ps(t1, t1, acc1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
    }
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

AVX2 static uint32_t hamming_popcnt(const uint64_t *a, const uint64_t *b, size_t n_words) {
    uint64_t s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= n_words; i += 2) {
        s0 += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
        s1 += (uint64_t)_mm_popcnt_u64(a[i + 1] ^ b[i + 1]);
    }
    if (i < n_words) s0 += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
    return (uint32_t)(s0 + s1);
}

static const spar_ann_kernels k_avx2 = {l2sq_avx2, dot_avx2, hamming_popcnt, "avx2"};

const spar_ann_kernels *spar_ann_kernels_avx2(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt"))
        return &k_avx2;
    return NULL;
}
#else
const spar_ann_kernels *spar_ann_kernels_avx2(void) { return NULL; }
#endif

const spar_ann_kernels *spar_ann_kernels_get(void) {
    static const spar_ann_kernels *chosen; /* benign race: every thread computes the same pointer */
    if (chosen == NULL) {
        const char *force = getenv("SPAR_ANN_KERNELS");
        const spar_ann_kernels *k = NULL;
        if (force == NULL || strcmp(force, "scalar") != 0) k = spar_ann_kernels_avx2();
        chosen = k != NULL ? k : &k_scalar;
    }
    return chosen;
}
