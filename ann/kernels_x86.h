/* ann/kernels_x86.h — inline AVX2/FMA distance kernels, shared by the dispatch table (kernels.c) and
 * by hot loops that want them inlined (hnsw.c). Only included on x86; each function carries its own
 * target attribute, so callers must themselves be compiled for AVX2 (or call through kernels.h). */
#ifndef SPAR_ANN_KERNELS_X86_H
#define SPAR_ANN_KERNELS_X86_H
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define SPAR_AVX2 __attribute__((target("avx2,fma,popcnt")))

SPAR_AVX2 static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);           /* lanes (0+4, 1+5, 2+6, 3+7) */
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));  /* (0+4)+(2+6), (1+5)+(3+7) */
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

SPAR_AVX2 static inline float spar_l2sq_avx2(const float *a, const float *b, size_t d) {
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

SPAR_AVX2 static inline float spar_dot_avx2(const float *a, const float *b, size_t d) {
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

/* SQ8 (asymmetric): sum_j w_j (c_j - t_j)^2 and sum_j t_j c_j over uint8 codes c. */
SPAR_AVX2 static inline float spar_sq8_l2_avx2(const float *t, const float *w, const uint8_t *c, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + i))));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + i + 8))));
        __m256 x0 = _mm256_sub_ps(c0, _mm256_loadu_ps(t + i)), x1 = _mm256_sub_ps(c1, _mm256_loadu_ps(t + i + 8));
        acc0 = _mm256_fmadd_ps(_mm256_mul_ps(x0, x0), _mm256_loadu_ps(w + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_mul_ps(x1, x1), _mm256_loadu_ps(w + i + 8), acc1);
    }
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) {
        float x = (float)c[i] - t[i];
        s += w[i] * x * x;
    }
    return s;
}

SPAR_AVX2 static inline float spar_sq8_dot_avx2(const float *t, const uint8_t *c, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + i))));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + i + 8))));
        acc0 = _mm256_fmadd_ps(c0, _mm256_loadu_ps(t + i), acc0);
        acc1 = _mm256_fmadd_ps(c1, _mm256_loadu_ps(t + i + 8), acc1);
    }
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) s += t[i] * (float)c[i];
    return s;
}

#endif
