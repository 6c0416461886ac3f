/* ann/kernels.c — scalar and AVX2 distance kernels with one-time dispatch. Contract: ann/kernels.h.
 * The scalar loops accumulate in 8 independent lanes in the same order as the AVX2 versions, so the two
 * agree to a few ulps (not bit-exactly: FMA rounds once). */
#include "ann/kernels.h"

#define SPAR_UNLIKELY_K(x) __builtin_expect(!!(x), 0)

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

static void hamming_scan_scalar(const uint64_t *q, const uint64_t *codes, size_t n, size_t n_words, uint32_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = hamming_scalar(q, codes + i * n_words, n_words);
}

static size_t hamming_below_scalar(const uint64_t *q, const uint64_t *codes, size_t n, size_t n_words, uint32_t thresh,
                                   uint32_t *idx, uint32_t *dist, size_t cap, size_t *next) {
    size_t m = 0, i = 0;
    for (; i < n && m < cap; i++) {
        uint32_t d = hamming_scalar(q, codes + i * n_words, n_words);
        if (d < thresh) idx[m] = (uint32_t)i, dist[m++] = d;
    }
    *next = i;
    return m;
}

static const spar_ann_kernels k_scalar = {l2sq_scalar, dot_scalar, hamming_scalar, hamming_scan_scalar,
                                          hamming_below_scalar, "scalar"};
const spar_ann_kernels *spar_ann_kernels_scalar(void) { return &k_scalar; }

#ifdef SPAR_X86
#include "ann/kernels_x86.h"
#define l2sq_avx2 spar_l2sq_avx2
#define dot_avx2 spar_dot_avx2

SPAR_AVX2 static uint32_t hamming_popcnt(const uint64_t *a, const uint64_t *b, size_t n_words) {
    uint64_t s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 2 <= n_words; i += 2) {
        s0 += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
        s1 += (uint64_t)_mm_popcnt_u64(a[i + 1] ^ b[i + 1]);
    }
    if (i < n_words) s0 += (uint64_t)_mm_popcnt_u64(a[i] ^ b[i]);
    return (uint32_t)(s0 + s1);
}

/* Specialised for the common 256-bit codes: 4 independent popcounts per code, no loop overhead. */
SPAR_AVX2 static void hamming_scan_popcnt(const uint64_t *q, const uint64_t *codes, size_t n, size_t n_words,
                                     uint32_t *out) {
    if (n_words == 4) {
        const uint64_t q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
        for (size_t i = 0; i < n; i++) {
            const uint64_t *c = codes + i * 4;
            out[i] = (uint32_t)(_mm_popcnt_u64(q0 ^ c[0]) + _mm_popcnt_u64(q1 ^ c[1]) + _mm_popcnt_u64(q2 ^ c[2]) +
                                _mm_popcnt_u64(q3 ^ c[3]));
        }
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = hamming_popcnt(q, codes + i * n_words, n_words);
}

SPAR_AVX2 static size_t hamming_below_popcnt(const uint64_t *q, const uint64_t *codes, size_t n, size_t n_words,
                                             uint32_t thresh, uint32_t *idx, uint32_t *dist, size_t cap,
                                             size_t *next) {
    size_t m = 0, i = 0;
    if (n_words == 4) {
        const uint64_t q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
        for (; i < n && m < cap; i++) {
            const uint64_t *c = codes + i * 4;
            uint32_t d = (uint32_t)(_mm_popcnt_u64(q0 ^ c[0]) + _mm_popcnt_u64(q1 ^ c[1]) +
                                    _mm_popcnt_u64(q2 ^ c[2]) + _mm_popcnt_u64(q3 ^ c[3]));
            if (SPAR_UNLIKELY_K(d < thresh)) idx[m] = (uint32_t)i, dist[m++] = d;
        }
    } else {
        for (; i < n && m < cap; i++) {
            uint32_t d = hamming_popcnt(q, codes + i * n_words, n_words);
            if (d < thresh) idx[m] = (uint32_t)i, dist[m++] = d;
        }
    }
    *next = i;
    return m;
}

static const spar_ann_kernels k_avx2 = {l2sq_avx2, dot_avx2, hamming_popcnt, hamming_scan_popcnt,
                                        hamming_below_popcnt, "avx2"};

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
