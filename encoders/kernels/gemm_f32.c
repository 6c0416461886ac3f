/* gemm_f32.c — packed-weight fp32 GEMM for the encoders' linear layers: Y = X W^T + bias with W packed once
 * into 32-output strips (layout in gemm_f32.h), AVX-512F / AVX2+FMA micro-kernels picked at run time, and a
 * scalar twin. Contract: encoders/kernels/gemm_f32.h.
 *
 * Blocking (BLIS order, B already packed): for each block of MC rows of X and each K block of KC, the rows are
 * copied into micro-panels [KC][MR] (MR rows side by side per k, so a broadcast is one address), then every
 * strip of the unit is multiplied against every micro-panel: with KC = 768 a micro-panel of X (42 KiB) sits
 * in L1 and the strip's KC x 32 block (96 KiB) streams from L2 (prefetched 16 steps ahead); the MC x KC block
 * of X is 252 KiB. (KC = 256 with the strip in L1 measured 3-8% slower on Zen 5: fewer passes over Y win.)
 * The first K block starts the accumulators from the bias (or 0), later blocks from Y, so each output is one
 * running sum over k in increasing order. */
#include "encoders/kernels/gemm_f32.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define GEMM_X86 1
#include <immintrin.h>
#endif

#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#define SPAR_GEMM_TRY(expr)                                                                                    \
    do {                                                                                                       \
        spar_status st_ = (expr);                                                                              \
        if (st_ != SPAR_OK) return st_;                                                                        \
    } while (0)
#define NR SPAR_GEMM_F32_NR
#define KC SPAR_GEMM_F32_KC
#define MR_MAX 14
#ifndef MC_ROWS
#define MC_ROWS 84 /* rows per X block: a multiple of 14, 6 and 4 */
#endif

/* One micro-tile: C[0..mr)[0..32) (leading dimension ldc) = (acc ? C : init ? init[0..32) : 0)
 *   + sum_{k < kc} Ap[k * MR + i] * Bp[k * 32 + j]. */
typedef void (*tile_fn)(size_t mr, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                        const float *init, int acc);

typedef struct isa_kernels {
    size_t mr; /* rows per micro-panel */
    tile_fn tile;
} isa_kernels;

/* ---------------------------------------------------------------- scalar twin (MR = 4) */

#define MR_SCALAR 4

static void tile_scalar(size_t mr, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                        const float *init, int acc) {
    float c[MR_SCALAR][NR];
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < NR; j++) c[i][j] = acc ? C[i * ldc + j] : init ? init[j] : 0.0f;
    for (size_t k = 0; k < kc; k++) {
        const float *b = Bp + k * NR, *a = Ap + k * MR_SCALAR;
        for (size_t i = 0; i < mr; i++) {
            float ai = a[i];
            for (size_t j = 0; j < NR; j++) c[i][j] += ai * b[j];
        }
    }
    for (size_t i = 0; i < mr; i++) memcpy(C + i * ldc, c[i], sizeof c[i]);
}

#ifdef GEMM_X86
/* ---------------------------------------------------------------- AVX-512F (MR = 14, 28 accumulators) */

#define MR_512 14

static inline __attribute__((always_inline, target("avx512f"))) void
tile512_body(const size_t mr, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc, const float *init,
             int acc) {
    __m512 c0[MR_512], c1[MR_512];
#pragma GCC unroll 14
    for (size_t i = 0; i < mr; i++) {
        if (acc) {
            c0[i] = _mm512_loadu_ps(C + i * ldc);
            c1[i] = _mm512_loadu_ps(C + i * ldc + 16);
        } else if (init != NULL) {
            c0[i] = _mm512_loadu_ps(init);
            c1[i] = _mm512_loadu_ps(init + 16);
        } else {
            c0[i] = _mm512_setzero_ps();
            c1[i] = _mm512_setzero_ps();
        }
    }
    for (size_t k = 0; k < kc; k++) {
        /* 16 steps (2 KiB) ahead: the strip's first tile reads it from L2/L3 (+3-5% measured). Prefetching
         * past the end of the panel is harmless (a hint, never a fault). */
        _mm_prefetch((const char *)(Bp + (k + 16) * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(Bp + (k + 16) * NR + 16), _MM_HINT_T0);
        __m512 b0 = _mm512_load_ps(Bp + k * NR), b1 = _mm512_load_ps(Bp + k * NR + 16);
        const float *a = Ap + k * MR_512;
#pragma GCC unroll 14
        for (size_t i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
    }
#pragma GCC unroll 14
    for (size_t i = 0; i < mr; i++) {
        _mm512_storeu_ps(C + i * ldc, c0[i]);
        _mm512_storeu_ps(C + i * ldc + 16, c1[i]);
    }
}

#define TILE512(R)                                                                                                  \
    static __attribute__((target("avx512f"))) void tile512_##R(size_t kc, const float *Ap, const float *Bp,       \
                                                                float *C, size_t ldc, const float *init, int acc) { \
        tile512_body(R, kc, Ap, Bp, C, ldc, init, acc);                                                             \
    }
TILE512(1) TILE512(2) TILE512(3) TILE512(4) TILE512(5) TILE512(6) TILE512(7)
TILE512(8) TILE512(9) TILE512(10) TILE512(11) TILE512(12) TILE512(13) TILE512(14)

static void tile512(size_t mr, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc, const float *init,
                    int acc) {
    typedef void (*fixed)(size_t, const float *, const float *, float *, size_t, const float *, int);
    static const fixed by_rows[MR_512 + 1] = {NULL,       tile512_1,  tile512_2,  tile512_3,  tile512_4,
                                              tile512_5,  tile512_6,  tile512_7,  tile512_8,  tile512_9,
                                              tile512_10, tile512_11, tile512_12, tile512_13, tile512_14};
    by_rows[mr](kc, Ap, Bp, C, ldc, init, acc);
}

/* ---------------------------------------------------------------- AVX2 + FMA (MR = 6, 6 x 16 on half strips) */

#define MR_256 6

static inline __attribute__((always_inline, target("avx2,fma"))) void
tile256_half(const size_t mr, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc, const float *init,
             int acc) {
    __m256 c0[MR_256], c1[MR_256];
#pragma GCC unroll 6
    for (size_t i = 0; i < mr; i++) {
        if (acc) {
            c0[i] = _mm256_loadu_ps(C + i * ldc);
            c1[i] = _mm256_loadu_ps(C + i * ldc + 8);
        } else if (init != NULL) {
            c0[i] = _mm256_loadu_ps(init);
            c1[i] = _mm256_loadu_ps(init + 8);
        } else {
            c0[i] = _mm256_setzero_ps();
            c1[i] = _mm256_setzero_ps();
        }
    }
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(Bp + k * NR), b1 = _mm256_load_ps(Bp + k * NR + 8);
        const float *a = Ap + k * MR_256;
#pragma GCC unroll 6
        for (size_t i = 0; i < mr; i++) {
            __m256 av = _mm256_broadcast_ss(a + i);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (size_t i = 0; i < mr; i++) {
        _mm256_storeu_ps(C + i * ldc, c0[i]);
        _mm256_storeu_ps(C + i * ldc + 8, c1[i]);
    }
}

#define TILE256(R)                                                                                                 \
    static __attribute__((target("avx2,fma"))) void tile256_##R(size_t kc, const float *Ap, const float *Bp,     \
                                                                 float *C, size_t ldc, const float *init, int acc) { \
        tile256_half(R, kc, Ap, Bp, C, ldc, init, acc);                                                           \
        tile256_half(R, kc, Ap, Bp + 16, C + 16, ldc, init != NULL ? init + 16 : NULL, acc);                      \
    }
TILE256(1) TILE256(2) TILE256(3) TILE256(4) TILE256(5) TILE256(6)

static void tile256(size_t mr, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc, const float *init,
                    int acc) {
    typedef void (*fixed)(size_t, const float *, const float *, float *, size_t, const float *, int);
    static const fixed by_rows[MR_256 + 1] = {NULL, tile256_1, tile256_2, tile256_3, tile256_4, tile256_5, tile256_6};
    by_rows[mr](kc, Ap, Bp, C, ldc, init, acc);
}
#endif /* GEMM_X86 */

/* ---------------------------------------------------------------- dispatch */

static spar_gemm_isa detect(void) {
#ifdef GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SPAR_GEMM_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SPAR_GEMM_ISA_AVX2;
#endif
    return SPAR_GEMM_ISA_SCALAR;
}

spar_gemm_isa spar_gemm_f32_isa_best(void) {
    /* Idempotent: racing first calls store the same value. */
    static volatile int cached = -1;
    if (cached < 0) cached = (int)detect();
    return (spar_gemm_isa)cached;
}

const char *spar_gemm_isa_name(spar_gemm_isa isa) {
    switch (isa) {
    case SPAR_GEMM_ISA_AVX512: return "avx512";
    case SPAR_GEMM_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

static isa_kernels kernels_for(spar_gemm_isa isa) {
    spar_gemm_isa best = spar_gemm_f32_isa_best();
    if (isa > best) isa = best;
    isa_kernels k = {MR_SCALAR, tile_scalar};
#ifdef GEMM_X86
    if (isa == SPAR_GEMM_ISA_AVX512) k = (isa_kernels){MR_512, tile512};
    else if (isa == SPAR_GEMM_ISA_AVX2) k = (isa_kernels){MR_256, tile256};
#endif
    return k;
}

/* ---------------------------------------------------------------- packing */

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

spar_status spar_gemm_f32_pack(const float *W, size_t n_out, size_t n_in, size_t ldw, spar_gemm_f32_packed **out) {
    if (out != NULL) *out = NULL;
    if (W == NULL || out == NULL || n_out == 0 || n_in == 0 || ldw < n_in) return SPAR_E_INVALID_ARG;
    size_t n_strips = (n_out + NR - 1) / NR;
    if (n_strips > SIZE_MAX / NR / n_in / sizeof(float)) return SPAR_E_NOMEM;
    size_t bytes = round_up(n_strips * NR * n_in * sizeof(float), 64);
    spar_gemm_f32_packed *p = malloc(sizeof *p);
    float *data = aligned_alloc(64, bytes);
    if (p == NULL || data == NULL) {
        free(p);
        free(data);
        return SPAR_E_NOMEM;
    }
    for (size_t s = 0; s < n_strips; s++) {
        float *dst = data + s * n_in * NR;
        size_t j0 = s * NR, nj = n_out - j0 < NR ? n_out - j0 : NR;
        if (nj < NR) memset(dst, 0, n_in * NR * sizeof(float));
        /* Rows of W are contiguous in k: copy row by row, scattering with stride 32. */
        for (size_t j = 0; j < nj; j++) {
            const float *w = W + (j0 + j) * ldw;
            for (size_t k = 0; k < n_in; k++) dst[k * NR + j] = w[k];
        }
    }
    p->n = n_out;
    p->k = n_in;
    p->n_strips = n_strips;
    p->data = data;
    p->borrowed = 0;
    *out = p;
    return SPAR_OK;
}

/* Transpose every 32 x k row block of W to k x 32 (to_strips) or back, through one block-sized scratch. */
static spar_status permute_blocks(float *W, size_t n, size_t k, int to_strips) {
    float *tmp = malloc(NR * k * sizeof(float));
    if (tmp == NULL) return SPAR_E_NOMEM;
    for (size_t s = 0; s < n / NR; s++) {
        float *blk = W + s * NR * k;
        memcpy(tmp, blk, NR * k * sizeof(float));
        for (size_t j = 0; j < NR; j++)
            for (size_t c = 0; c < k; c++) {
                if (to_strips) blk[c * NR + j] = tmp[j * k + c];
                else blk[j * k + c] = tmp[c * NR + j];
            }
    }
    free(tmp);
    return SPAR_OK;
}

spar_status spar_gemm_f32_pack_inplace(float *W, size_t n_out, size_t n_in, spar_gemm_f32_packed **out) {
    if (out != NULL) *out = NULL;
    if (W == NULL || out == NULL || n_out == 0 || n_in == 0 || n_out % NR != 0 || ((uintptr_t)W & 63) != 0)
        return SPAR_E_INVALID_ARG;
    spar_gemm_f32_packed *p = malloc(sizeof *p);
    if (p == NULL) return SPAR_E_NOMEM;
    spar_status st = permute_blocks(W, n_out, n_in, 1);
    if (st != SPAR_OK) {
        free(p);
        return st;
    }
    *p = (spar_gemm_f32_packed){n_out, n_in, n_out / NR, W, 1};
    *out = p;
    return SPAR_OK;
}

spar_status spar_gemm_f32_unpack_inplace(spar_gemm_f32_packed *p) {
    if (p == NULL || !p->borrowed) return SPAR_E_INVALID_ARG;
    SPAR_GEMM_TRY(permute_blocks(p->data, p->n, p->k, 0));
    free(p);
    return SPAR_OK;
}

void spar_gemm_f32_free(spar_gemm_f32_packed *p) {
    if (p == NULL) return;
    if (!p->borrowed) free(p->data);
    free(p);
}

size_t spar_gemm_f32_bytes(const spar_gemm_f32_packed *p) {
    return p == NULL ? 0 : sizeof *p + p->n_strips * NR * p->k * sizeof(float);
}

/* Copy rows [0, m) x cols [0, kc) of X (leading dimension ldx) into micro-panels of mr rows:
 * panel q holds Ap[q * kc * mr + k * mr + i] = X[(q * mr + i) * ldx + k], zero for rows past m. */
static void pack_rows(const float *X, size_t ldx, size_t m, size_t kc, size_t mr, float *Ap) {
    for (size_t r0 = 0; r0 < m; r0 += mr) {
        size_t rows = m - r0 < mr ? m - r0 : mr;
        float *dst = Ap + r0 * kc; /* (r0 / mr) * kc * mr */
        const float *x = X + r0 * ldx;
        /* k outer: the writes are sequential, the reads walk `rows` row streams (each line serves 16 k). */
        if (rows == mr) {
            for (size_t k = 0; k < kc; k++, dst += mr)
                for (size_t i = 0; i < mr; i++) dst[i] = x[i * ldx + k];
        } else {
            for (size_t k = 0; k < kc; k++, dst += mr) {
                for (size_t i = 0; i < rows; i++) dst[i] = x[i * ldx + k];
                for (size_t i = rows; i < mr; i++) dst[i] = 0.0f;
            }
        }
    }
}

/* ---------------------------------------------------------------- driver */

static float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

typedef struct job {
    const spar_gemm_f32_packed *p;
    isa_kernels kern;
    const float *X, *bias;
    size_t T, ldx, ldy;
    float *Y;
    spar_gemm_epi epi;
} job;

/* GELU_FAST: 0.5 x (1 + erf(z)), z = x / sqrt 2, with 1 + erf(z) = 2 - q (z >= 0) or q (z < 0) and
 * q = erfc(|z|) ~ t P(t) exp(-z^2), t = 1 / (1 + p |z|) (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7), so
 * negative inputs suffer no cancellation. exp by 2^n e^r, |r| <= ln2 / 2, degree-6 Taylor (relative error
 * < 3e-8). The scalar and AVX-512 versions do the same operations (the vector one with FMA). */
#define GF_P 0.3275911f
#define GF_A1 0.254829592f
#define GF_A2 (-0.284496736f)
#define GF_A3 1.421413741f
#define GF_A4 (-1.453152027f)
#define GF_A5 1.061405429f
#define GF_LOG2E 1.44269504088896341f
#define GF_LN2_HI 0.693145751953125f
#define GF_LN2_LO 1.428606765330187045e-06f

static float gelu_fast_scalar(float x) {
    float z = x * 0.70710678118654752f, az = fabsf(z), y = -(az * az);
    if (y < -87.0f) y = -87.0f;
    float n = nearbyintf(y * GF_LOG2E), r = (y - n * GF_LN2_HI) - n * GF_LN2_LO;
    float e = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    e = ldexpf(e, (int)n);
    float t = 1.0f / (1.0f + GF_P * az);
    float q = t * (GF_A1 + t * (GF_A2 + t * (GF_A3 + t * (GF_A4 + t * GF_A5)))) * e;
    return 0.5f * x * (z >= 0 ? 2.0f - q : q);
}

#ifdef GEMM_X86
static __attribute__((target("avx512f"), noinline)) void gelu_fast_row512(float *r, size_t n) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    for (size_t j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, r + j), z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
        __m512 az = _mm512_abs_ps(z), y = _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(az, az)),
                                                         _mm512_set1_ps(-87.0f));
        __m512 nn = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(GF_LOG2E)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 rr = _mm512_fnmadd_ps(nn, _mm512_set1_ps(GF_LN2_LO), _mm512_fnmadd_ps(nn, _mm512_set1_ps(GF_LN2_HI), y));
        __m512 e = _mm512_fmadd_ps(rr, _mm512_set1_ps(1.0f / 720), _mm512_set1_ps(1.0f / 120));
        e = _mm512_fmadd_ps(rr, e, _mm512_set1_ps(1.0f / 24));
        e = _mm512_fmadd_ps(rr, e, _mm512_set1_ps(1.0f / 6));
        e = _mm512_fmadd_ps(rr, e, half);
        e = _mm512_fmadd_ps(rr, e, one);
        e = _mm512_fmadd_ps(rr, e, one);
        e = _mm512_scalef_ps(e, nn);
        __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(GF_P), az, one));
        __m512 q = _mm512_fmadd_ps(t, _mm512_set1_ps(GF_A5), _mm512_set1_ps(GF_A4));
        q = _mm512_fmadd_ps(t, q, _mm512_set1_ps(GF_A3));
        q = _mm512_fmadd_ps(t, q, _mm512_set1_ps(GF_A2));
        q = _mm512_fmadd_ps(t, q, _mm512_set1_ps(GF_A1));
        q = _mm512_mul_ps(_mm512_mul_ps(t, q), e);
        __mmask16 pos = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ);
        __m512 s1 = _mm512_mask_sub_ps(q, pos, two, q);
        _mm512_mask_storeu_ps(r + j, m, _mm512_mul_ps(_mm512_mul_ps(half, x), s1));
    }
}
#endif

/* The activation on a finished tile while it is in L1. GELU: bert.c's activate() element for element (same
 * expression, same libm erff). GELU_FAST: the approximation above, vectorised on AVX-512. */
static void epilogue(spar_gemm_epi epi, size_t mr, float *C, size_t ldc, size_t rows, size_t cols) {
    if (epi == SPAR_GEMM_EPI_NONE) return;
    for (size_t i = 0; i < rows; i++) {
        float *r = C + i * ldc;
        if (epi == SPAR_GEMM_EPI_RELU) {
            for (size_t j = 0; j < cols; j++) r[j] = r[j] > 0 ? r[j] : 0;
        } else if (epi == SPAR_GEMM_EPI_GELU_FAST) {
#ifdef GEMM_X86
            if (mr == MR_512) { /* the AVX-512 kernel set is running */
                gelu_fast_row512(r, cols);
                continue;
            }
#endif
            for (size_t j = 0; j < cols; j++) r[j] = gelu_fast_scalar(r[j]);
        } else {
            for (size_t j = 0; j < cols; j++) r[j] = 0.5f * r[j] * (1.0f + erff(r[j] * 0.70710678118654752f));
        }
    }
    (void)mr;
}

/* Rows [m0, m1) x strips [s0, s1) of the product, on the calling thread. Ap: MC_ROWS x KC floats. */
static void run_share(const job *jb, size_t m0, size_t m1, size_t s0, size_t s1, float *Ap) {
    const spar_gemm_f32_packed *p = jb->p;
    const size_t K = p->k, N = p->n, mr = jb->kern.mr, mc = MC_ROWS / mr * mr;
    float tmp[MR_MAX * NR], bias_pad[NR];
    for (size_t mb = m0; mb < m1; mb += mc) {
        size_t mlen = m1 - mb < mc ? m1 - mb : mc;
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = K - k0 < KC ? K - k0 : KC;
            int acc = k0 > 0, last = k0 + kc == K;
            pack_rows(jb->X + mb * jb->ldx + k0, jb->ldx, mlen, kc, mr, Ap);
            for (size_t s = s0; s < s1; s++) {
                const float *Bp = p->data + s * K * NR + k0 * NR;
                size_t j0 = s * NR, nj = N - j0 < NR ? N - j0 : NR;
                const float *init = NULL;
                if (!acc && jb->bias != NULL) {
                    if (nj == NR) {
                        init = jb->bias + j0;
                    } else {
                        memset(bias_pad, 0, sizeof bias_pad);
                        memcpy(bias_pad, jb->bias + j0, nj * sizeof(float));
                        init = bias_pad;
                    }
                }
                for (size_t r = 0; r < mlen; r += mr) {
                    size_t rows = mlen - r < mr ? mlen - r : mr;
                    float *C = jb->Y + (mb + r) * jb->ldy + j0;
                    const float *A = Ap + r * kc;
                    /* Y is usually far larger than the caches: start fetching the next tile's rows (for writing)
                     * while this one computes, or every tile would begin with ~28 misses to memory. */
                    if (r + mr < mlen && nj == NR) {
                        size_t nxt = mlen - r - mr < mr ? mlen - r - mr : mr;
                        for (size_t i = 0; i < nxt; i++) {
                            __builtin_prefetch(C + (mr + i) * jb->ldy, 1, 3);
                            __builtin_prefetch(C + (mr + i) * jb->ldy + 16, 1, 3);
                        }
                    }
                    if (nj == NR) {
                        jb->kern.tile(rows, kc, A, Bp, C, jb->ldy, init, acc);
                        if (last) epilogue(jb->epi, mr, C, jb->ldy, rows, NR);
                        continue;
                    }
                    /* Last, partial strip: run the full-width tile on a scratch copy. */
                    if (acc)
                        for (size_t i = 0; i < rows; i++) {
                            memcpy(tmp + i * NR, C + i * jb->ldy, nj * sizeof(float));
                            memset(tmp + i * NR + nj, 0, (NR - nj) * sizeof(float));
                        }
                    jb->kern.tile(rows, kc, A, Bp, tmp, NR, init, acc);
                    if (last) epilogue(jb->epi, mr, tmp, NR, rows, nj);
                    for (size_t i = 0; i < rows; i++) memcpy(C + i * jb->ldy, tmp + i * NR, nj * sizeof(float));
                }
            }
        }
    }
}

/* Work units are (block of MC rows) x (group of strips), numbered strip-group major and handed out through an
 * atomic counter. Groups are as large as the thread count allows (about 8 units per thread, all strips of a
 * row block when there are enough row blocks): capping groups at 8 strips so that a group's weights stay in
 * L2 across row blocks measured slower (X is packed again per unit). Dynamic hand-out: on a shared host a
 * preempted thread delays one unit, not half of the product (a static split measured up to 2.5x slower at 2
 * threads on the loaded VM). Each output is computed by exactly one unit, in the same order whatever thread
 * runs it, so results do not depend on the thread count. */
typedef struct units {
    size_t row_blocks, groups, group; /* group: strips per unit */
    size_t mc;
} units;

static units plan_units(const job *jb, int nth) {
    units u;
    u.mc = MC_ROWS / jb->kern.mr * jb->kern.mr;
    u.row_blocks = (jb->T + u.mc - 1) / u.mc;
    size_t ns = jb->p->n_strips, want = 8 * (size_t)nth; /* ~8 units per thread */
    u.group = (u.row_blocks * ns + want - 1) / want;
    /* X is packed per unit, costing about 1 / group of the unit's multiply time: >= 8 strips keeps it near
     * 10% (2 strips measured 0.87-0.92x of 8 at 2 threads, M = 128-256); one thread packs each row block once. */
    if (u.group < 8) u.group = 8;
    if (nth <= 1) u.group = ns;
    if (u.group > ns) u.group = ns;
    u.groups = (ns + u.group - 1) / u.group;
    return u;
}

static void run_unit(const job *jb, const units *u, size_t i, float *Ap) {
    size_t g = i / u->row_blocks, rb = i % u->row_blocks;
    size_t m0 = rb * u->mc, m1 = m0 + u->mc < jb->T ? m0 + u->mc : jb->T;
    size_t s0 = g * u->group, s1 = s0 + u->group < jb->p->n_strips ? s0 + u->group : jb->p->n_strips;
    run_share(jb, m0, m1, s0, s1, Ap);
}


spar_status spar_gemm_f32_apply_ex(const spar_gemm_f32_packed *p, spar_gemm_isa isa, spar_gemm_epi epi, const float *X,
                                   size_t T, size_t ldx, const float *bias, float *Y, size_t ldy, int n_threads) {
    if (p == NULL || (T > 0 && (X == NULL || Y == NULL)) || ldx < p->k || ldy < p->n) return SPAR_E_INVALID_ARG;
    if (T == 0) return SPAR_OK;
    job jb = {p, kernels_for(isa), X, bias, T, ldx, ldy, Y, epi};
    const size_t ap_floats = MC_ROWS * KC;
    int nth = n_threads < 1 ? 1 : n_threads;
#ifndef SPAR_HAVE_OPENMP
    nth = 1;
#endif
    /* Below ~2 MFLOP a second thread costs more than it saves. */
    if ((double)T * (double)p->n * (double)p->k < 1e6) nth = 1;
    units u = plan_units(&jb, nth);
    size_t n_units = u.row_blocks * u.groups;
    if (nth == 1 || n_units == 1) {
        float *Ap = aligned_alloc(64, ap_floats * sizeof(float));
        if (Ap == NULL) return SPAR_E_NOMEM;
        for (size_t i = 0; i < n_units; i++) run_unit(&jb, &u, i, Ap);
        free(Ap);
        return SPAR_OK;
    }
    if ((size_t)nth > n_units) nth = (int)n_units;
    int oom = 0;
#ifdef SPAR_HAVE_OPENMP
    size_t next = 0;
#pragma omp parallel num_threads(nth)
    {
        float *Ap = aligned_alloc(64, ap_floats * sizeof(float));
        if (Ap == NULL) {
#pragma omp atomic write
            oom = 1;
        }
        /* A thread without a buffer takes no unit; the others finish the product (Y is complete unless every
         * allocation failed, and the call reports SPAR_E_NOMEM either way). */
        for (size_t i; Ap != NULL && (i = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED)) < n_units;)
            run_unit(&jb, &u, i, Ap);
        free(Ap);
    }
#endif
    return oom ? SPAR_E_NOMEM : SPAR_OK;
}

_Static_assert(SPAR_GEMM_F32_SCRATCH >= (size_t)MC_ROWS * KC + 16, "scratch bound below the packing buffer");

size_t spar_gemm_f32_plan_make(spar_gemm_f32_plan *pl, const spar_gemm_f32_packed *p, spar_gemm_isa isa,
                               spar_gemm_epi epi, const float *X, size_t T, size_t ldx, const float *bias, float *Y,
                               size_t ldy, int n_threads) {
    if (pl == NULL) return 0;
    memset(pl, 0, sizeof *pl);
    if (p == NULL || X == NULL || Y == NULL || ldx < p->k || ldy < p->n || T == 0) return 0;
    job jb = {p, kernels_for(isa), X, bias, T, ldx, ldy, Y, epi};
    units u = plan_units(&jb, n_threads < 1 ? 1 : n_threads);
    *pl = (spar_gemm_f32_plan){p, isa, epi, X, bias, T, ldx, ldy, Y, u.row_blocks, u.groups, u.group, u.mc};
    return u.row_blocks * u.groups;
}

void spar_gemm_f32_run_unit(const spar_gemm_f32_plan *pl, size_t i, float *scratch) {
    job jb = {pl->p, kernels_for(pl->isa), pl->X, pl->bias, pl->T, pl->ldx, pl->ldy, pl->Y, pl->epi};
    units u = {pl->row_blocks, pl->groups, pl->group, pl->mc};
    run_unit(&jb, &u, i, align64(scratch));
}

spar_status spar_gemm_f32_apply(const spar_gemm_f32_packed *p, const float *X, size_t T, size_t ldx, const float *bias,
                                float *Y, size_t ldy, int n_threads) {
    return spar_gemm_f32_apply_ex(p, spar_gemm_f32_isa_best(), SPAR_GEMM_EPI_NONE, X, T, ldx, bias, Y, ldy, n_threads);
}

/* ---------------------------------------------------------------- attention for one (sequence, head) */

size_t spar_attn_f32_work_floats(size_t n, size_t dh) {
    size_t n_pad = round_up(n, NR), dh_pad = round_up(dh, NR);
    return n_pad * dh + dh_pad * n + n * n + (size_t)MC_ROWS * KC + 3 * 16; /* + alignment slack */
}

/* Scores are Q K^T with K packed as a weight matrix (keys = outputs, dh = inputs); the context is P V with V
 * packed as the weights of a dh-output layer over n inputs (each strip is 32 columns of V, row after row).
 * Both packs cost O(n dh) against O(n^2 dh) of arithmetic. The softmax mirrors bert.c's softmax_rows (scaled
 * scores, max subtracted, expf, sum, multiply by 1 / sum) so results differ from the sgemm path only by the
 * summation order inside the two products. */
spar_status spar_attn_f32_head(spar_gemm_isa isa, const float *q, const float *k, const float *v, size_t ld, size_t n,
                               size_t dh, float scale, float *out, size_t ldo, float *work) {
    if (q == NULL || k == NULL || v == NULL || out == NULL || work == NULL || n == 0 || dh == 0 || ld < dh ||
        ldo < dh)
        return SPAR_E_INVALID_ARG;
    isa_kernels kern = kernels_for(isa);
    size_t ns_k = (n + NR - 1) / NR, ns_v = (dh + NR - 1) / NR;
    float *Kp = align64(work), *Vp = align64(Kp + ns_k * NR * dh), *S = align64(Vp + ns_v * NR * n), *Ap = S + n * n;
    for (size_t s = 0; s < ns_k; s++) {
        float *dst = Kp + s * dh * NR;
        size_t nj = n - s * NR < NR ? n - s * NR : NR;
        if (nj < NR) memset(dst, 0, dh * NR * sizeof(float));
        for (size_t j = 0; j < nj; j++) {
            const float *kr = k + (s * NR + j) * ld;
            for (size_t c = 0; c < dh; c++) dst[c * NR + j] = kr[c];
        }
    }
    for (size_t s = 0; s < ns_v; s++) {
        float *dst = Vp + s * n * NR;
        size_t nj = dh - s * NR < NR ? dh - s * NR : NR;
        for (size_t t = 0; t < n; t++) {
            memcpy(dst + t * NR, v + t * ld + s * NR, nj * sizeof(float));
            if (nj < NR) memset(dst + t * NR + nj, 0, (NR - nj) * sizeof(float));
        }
    }
    spar_gemm_f32_packed pk = {n, dh, ns_k, Kp, 1}, pv = {dh, n, ns_v, Vp, 1};
    job jk = {&pk, kern, q, NULL, n, ld, n, S, SPAR_GEMM_EPI_NONE};
    run_share(&jk, 0, n, 0, ns_k, Ap);
    for (size_t i = 0; i < n; i++) {
        float *r = S + i * n, mx;
        for (size_t j = 0; j < n; j++) r[j] *= scale;
        mx = r[0];
        for (size_t j = 1; j < n; j++) mx = r[j] > mx ? r[j] : mx;
        float sum = 0;
        for (size_t j = 0; j < n; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < n; j++) r[j] *= inv;
    }
    job jv = {&pv, kern, S, NULL, n, n, ldo, out, SPAR_GEMM_EPI_NONE};
    run_share(&jv, 0, n, 0, ns_v, Ap);
    return SPAR_OK;
}
