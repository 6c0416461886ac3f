/* gemm_lowp.h — reduced-precision GEMM for the encoders' linear layers (internal contract of
 * encoders/kernels/): C[M, N] = A[M, K] W[N, K]^T (+ bias) with W packed once into bf16 or int8.
 *
 * bf16: W rounded to bf16 (round to nearest even), A converted to bf16 per call (same rounding; fp32 denormal
 *       inputs become 0, as vcvtneps2bf16 does), products accumulated in fp32 by AVX-512 BF16 vdpbf16ps, one
 *       accumulator per output walked over K in order (pair (2p+1) then (2p) at each step). Half the memory.
 * int8: W per output row symmetric: q = round(w / s), s = max|w_row| / 127, q in [-127, 127]. A quantised per
 *       row (per token) at call time, asymmetric u8: a = clamp(round(x / sa) + zp, 0, 255) with
 *       sa = (max(x, 0) - min(x, 0)) / 255 and zero point zp; AVX-512 VNNI vpdpbusd sums u8 x s8 products into
 *       int32, then C = (acc - zp * sum_k q) * (sa * s) + bias. Quarter of the memory.
 *
 * Layout: W's rows are grouped in strips of 16 (SPAR_LOWP_STRIP, one zmm of outputs); a strip stores K in steps
 * of 2 (bf16) or 4 (int8) elements per row, the 16 rows of a step next to each other, so one 64-byte load
 * feeds one vdpbf16ps / vpdpbusd. Rows past N and K past the end are zero.
 *
 * Each kernel has a portable scalar twin with the same semantics (int8: the same integers exactly; bf16: the
 * same per-output summation order, so equal up to the FMA-vs-rounded-add behaviour of the hardware, which
 * tests/unit/test_gemm_lowp.c measures). The SIMD versions are compiled with target attributes and picked at
 * run time (__builtin_cpu_supports), so the library runs on any x86-64 (or other) CPU.
 *
 * Thread-safety: packed matrices are immutable after packing; every function is re-entrant except
 * spar_lowp_force_scalar (a process-wide test switch). */
#ifndef SPAR_ENCODERS_GEMM_LOWP_H
#define SPAR_ENCODERS_GEMM_LOWP_H

#include <stddef.h>
#include <stdint.h>

#include "spar/spar_status.h"

#define SPAR_LOWP_STRIP 16

typedef enum spar_lowp_kind { SPAR_LOWP_BF16 = 1, SPAR_LOWP_INT8 = 2 } spar_lowp_kind;

/* A packed weight matrix W[n, k]. */
typedef struct spar_lowp_mat {
    spar_lowp_kind kind;
    size_t n, k;     /* logical shape */
    size_t kp;       /* k rounded up to 2 (bf16) or 4 (int8) */
    size_t n_strips; /* ceil(n / 16) */
    void *data;      /* bf16: uint16_t [n_strips][kp/2][16][2]; int8: int8_t [n_strips][kp/4][16][4] */
    float *scale;    /* int8: [n_strips * 16] row scales (0 past n); NULL for bf16 */
    int32_t *wsum;   /* int8: [n_strips * 16] sum over k of the row's int8 values; NULL for bf16 */
} spar_lowp_mat;

/* Activations prepared for one kind: bf16 rows, or u8 rows with per-row scale and zero point. */
typedef struct spar_lowp_act {
    spar_lowp_kind kind;
    size_t m, kp;   /* rows, padded row length (elements) */
    void *q;        /* bf16: uint16_t [m][kp]; int8: uint8_t [m][kp] */
    float *scale;   /* int8: [m]; NULL for bf16 */
    int32_t *zp;    /* int8: [m]; NULL for bf16 */
} spar_lowp_act;

/** Pack W[n, k] (row-major, leading dimension ldw) into `kind`. SPAR_OK, SPAR_E_INVALID_ARG or SPAR_E_NOMEM;
 *  release with spar_lowp_mat_free. */
spar_status spar_lowp_pack(spar_lowp_kind kind, const float *W, size_t n, size_t k, size_t ldw, spar_lowp_mat *out);
void spar_lowp_mat_free(spar_lowp_mat *w); /* frees the arrays and zeroes *w; NULL ok */
/** Bytes held by a packed matrix. */
size_t spar_lowp_mat_bytes(const spar_lowp_mat *w);
/** Row r of W as the kernels see it (bf16 values, or q * s) into out[k]. */
void spar_lowp_mat_row(const spar_lowp_mat *w, size_t r, float *out);

/** Convert / quantise A[m, k] (leading dimension lda, k == w->k) for the kind of `w`, rows split over
 *  n_threads threads of encoders/kernels/pool.h (<= 1: serial). Release with spar_lowp_act_free. SPAR_OK or SPAR_E_NOMEM. */
spar_status spar_lowp_act_prepare(const spar_lowp_mat *w, const float *A, size_t m, size_t lda, int n_threads,
                                  spar_lowp_act *out);
void spar_lowp_act_free(spar_lowp_act *a); /* NULL ok */

/** One tile on the calling thread: rows [m0, m1) of a, weight rows [n0, n1) of w (n0 a multiple of 16,
 *  n1 <= w->n). C[(i - m0) * ldc + (j - n0)] = a_i . w_j (+ bias[j] when bias != NULL). */
void spar_lowp_gemm_tile(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0, size_t n1,
                         const float *bias, float *C, size_t ldc);
/** int8 only, for tests: the exact integer dot products sum_k (a_ik - zp_i) q_jk of a tile, same indexing. */
void spar_lowp_gemm_tile_i32(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0,
                             size_t n1, int32_t *C, size_t ldc);

/** y[m, n] = A[m, k] W^T + bias (bias may be NULL), tiles spread over n_threads pool threads (<= 1:
 *  serial). SPAR_OK or SPAR_E_NOMEM (activation buffer). */
spar_status spar_lowp_linear(const spar_lowp_mat *w, const float *A, size_t m, size_t lda, const float *bias, float *C,
                             size_t ldc, int n_threads);

/** Which kernels run: 1 when the SIMD kernel of `kind` is available and not forced off. */
int spar_lowp_simd(spar_lowp_kind kind);
/** Force the scalar twins (1) or auto-detect (0): tests and benchmarks only; not while kernels run. */
void spar_lowp_force_scalar(int on);
/** fp32 -> bf16 bits, round to nearest even, denormals to signed zero, NaN stays NaN (the kernels' rule). */
uint16_t spar_lowp_f32_to_bf16(float x);

#endif
