/* gemm_f32.c — packed-weight fp32 GEMM for the encoders' linear layers: Y = X W^T + bias with W packed once
 * into 32-output strips (layout in gemm_f32.h), AVX-512F / AVX2+FMA micro-kernels picked at run time, and a
 * scalar twin. Contract: encoders/kernels/gemm_f32.h.
 *
 * Blocking (BLIS order, B already packed): for each block of MC rows of X and each K block of KC, the rows are
 * copied into micro-panels [KC][MR] (MR rows side by side per k, so a broadcast is one address), then every
 * strip of the thread's share is multiplied against every micro-panel: the strip's KC x 32 block (32 KiB)
 * stays in L1 across the micro-panels, the MC x KC block of X (<= 176 KiB) in L2. The first K block starts
 * the accumulators from the bias (or 0), later blocks from Y, so each output is one running sum over k. */
#include "encoders/kernels/gemm_f32.h"

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

#define NR SPAR_GEMM_F32_NR
#define KC SPAR_GEMM_F32_KC
#define MR_MAX 14
#define MC_ROWS 168 /* rows per X block: a multiple of 14, 6 and 4 */

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
    *out = p;
    return SPAR_OK;
}

void spar_gemm_f32_free(spar_gemm_f32_packed *p) {
    if (p == NULL) return;
    free(p->data);
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
        for (size_t i = 0; i < rows; i++) {
            const float *x = X + (r0 + i) * ldx;
            for (size_t k = 0; k < kc; k++) dst[k * mr + i] = x[k];
        }
        for (size_t i = rows; i < mr; i++)
            for (size_t k = 0; k < kc; k++) dst[k * mr + i] = 0.0f;
    }
}

/* ---------------------------------------------------------------- driver */

typedef struct job {
    const spar_gemm_f32_packed *p;
    isa_kernels kern;
    const float *X, *bias;
    size_t T, ldx, ldy;
    float *Y;
} job;

/* Rows [m0, m1) x strips [s0, s1) of the product, on the calling thread. Ap: MC_ROWS x KC floats. */
static void run_share(const job *jb, size_t m0, size_t m1, size_t s0, size_t s1, float *Ap) {
    const spar_gemm_f32_packed *p = jb->p;
    const size_t K = p->k, N = p->n, mr = jb->kern.mr, mc = MC_ROWS / mr * mr;
    float tmp[MR_MAX * NR], bias_pad[NR];
    for (size_t mb = m0; mb < m1; mb += mc) {
        size_t mlen = m1 - mb < mc ? m1 - mb : mc;
        for (size_t k0 = 0; k0 < K; k0 += KC) {
            size_t kc = K - k0 < KC ? K - k0 : KC;
            int acc = k0 > 0;
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
                    if (nj == NR) {
                        jb->kern.tile(rows, kc, A, Bp, C, jb->ldy, init, acc);
                        continue;
                    }
                    /* Last, partial strip: run the full-width tile on a scratch copy. */
                    if (acc)
                        for (size_t i = 0; i < rows; i++) {
                            memcpy(tmp + i * NR, C + i * jb->ldy, nj * sizeof(float));
                            memset(tmp + i * NR + nj, 0, (NR - nj) * sizeof(float));
                        }
                    jb->kern.tile(rows, kc, A, Bp, tmp, NR, init, acc);
                    for (size_t i = 0; i < rows; i++) memcpy(C + i * jb->ldy, tmp + i * NR, nj * sizeof(float));
                }
            }
        }
    }
}

/* Thread t's share: strips split in contiguous ranges when there are enough of them (every thread reads all
 * of X, which is small next to W), else rows split in multiples of mr. Each output is computed by exactly one
 * thread in the same order whatever the partition, so results do not depend on the thread count. */
static void share_of(const job *jb, int t, int nth, size_t *m0, size_t *m1, size_t *s0, size_t *s1) {
    size_t ns = jb->p->n_strips, T = jb->T, ut = (size_t)t, un = (size_t)nth;
    if (ns >= 2 * un || T <= jb->kern.mr * un) {
        *m0 = 0, *m1 = T;
        *s0 = ns * ut / un, *s1 = ns * (ut + 1) / un;
    } else {
        size_t blocks = (T + jb->kern.mr - 1) / jb->kern.mr;
        *m0 = blocks * ut / un * jb->kern.mr;
        *m1 = blocks * (ut + 1) / un * jb->kern.mr;
        if (*m1 > T) *m1 = T;
        *s0 = 0, *s1 = ns;
    }
}

spar_status spar_gemm_f32_apply_isa(const spar_gemm_f32_packed *p, spar_gemm_isa isa, const float *X, size_t T,
                                    size_t ldx, const float *bias, float *Y, size_t ldy, int n_threads) {
    if (p == NULL || (T > 0 && (X == NULL || Y == NULL)) || ldx < p->k || ldy < p->n) return SPAR_E_INVALID_ARG;
    if (T == 0) return SPAR_OK;
    job jb = {p, kernels_for(isa), X, bias, T, ldx, ldy, Y};
    const size_t ap_floats = MC_ROWS * KC;
    int nth = n_threads < 1 ? 1 : n_threads;
#ifndef SPAR_HAVE_OPENMP
    nth = 1;
#endif
    /* Below ~2 MFLOP a second thread costs more than it saves. */
    if ((double)T * (double)p->n * (double)p->k < 1e6) nth = 1;
    if (nth == 1) {
        float *Ap = aligned_alloc(64, ap_floats * sizeof(float));
        if (Ap == NULL) return SPAR_E_NOMEM;
        run_share(&jb, 0, T, 0, p->n_strips, Ap);
        free(Ap);
        return SPAR_OK;
    }
    int oom = 0;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel num_threads(nth)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *Ap = aligned_alloc(64, ap_floats * sizeof(float));
        if (Ap == NULL) {
#pragma omp atomic write
            oom = 1;
        } else {
            size_t m0, m1, s0, s1;
            share_of(&jb, t, nt, &m0, &m1, &s0, &s1);
            if (m0 < m1 && s0 < s1) run_share(&jb, m0, m1, s0, s1, Ap);
            free(Ap);
        }
    }
#endif
    return oom ? SPAR_E_NOMEM : SPAR_OK;
}

spar_status spar_gemm_f32_apply(const spar_gemm_f32_packed *p, const float *X, size_t T, size_t ldx, const float *bias,
                                float *Y, size_t ldy, int n_threads) {
    return spar_gemm_f32_apply_isa(p, spar_gemm_f32_isa_best(), X, T, ldx, bias, Y, ldy, n_threads);
}
