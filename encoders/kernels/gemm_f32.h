/* gemm_f32.h — fp32 GEMM for the encoders' linear layers (internal contract of encoders/kernels/):
 * Y[T, N] = X[T, K] W[N, K]^T (+ bias[N]), W stored as Hugging Face stores it ([out, in], row-major), packed
 * ONCE (at model load) into column strips so the hot loop streams contiguous weights.
 *
 * Packed layout: W's N rows are cut into strips of SPAR_GEMM_F32_NR = 32 outputs; a strip holds, for each k in
 * 0..K-1, the 32 weights W[j0 .. j0+31][k] next to each other ([strip][K][32] floats, 64-byte aligned; rows
 * past N are zero). One k-step of a strip is two zmm (AVX-512) or two 64-byte halves read by the AVX2 kernel.
 *
 * Kernels: AVX-512F (14 x 32 register tile), AVX2+FMA (6 x 16 tile on half strips), and a portable scalar twin
 * (tile 4 x 32) on the same packed matrix. All three walk K in blocks of SPAR_GEMM_F32_KC and, inside a block,
 * in increasing k, one accumulator per output; they differ only by fused vs separate multiply-add rounding
 * (tests/unit/test_gemm_f32.c bounds the difference). The SIMD kernels are compiled with target attributes and
 * picked at run time (__builtin_cpu_supports), so the library runs on any x86-64 (or other) CPU.
 * Also here: a fused epilogue (bias, GELU, ReLU), in-place packing (no second copy of the weights), a plan /
 * unit API for callers with their own thread pool, and one-head softmax attention on the same kernels.
 * Measurements: bench/gemm/README.md.
 *
 * Thread-safety: a packed matrix is immutable after packing; apply, run_unit and attention are re-entrant. */
#ifndef SPAR_ENCODERS_GEMM_F32_H
#define SPAR_ENCODERS_GEMM_F32_H

#include <stddef.h>

#include "spar/spar_status.h"

#define SPAR_GEMM_F32_NR 32  /* outputs per packed strip */
#ifndef SPAR_GEMM_F32_KC
#define SPAR_GEMM_F32_KC 768 /* K block (elements); 768 beat 256/384/512 by 3-8% on Zen 5 (bench/gemm) */
#endif

typedef enum spar_gemm_isa {
    SPAR_GEMM_ISA_SCALAR = 0,
    SPAR_GEMM_ISA_AVX2 = 1,   /* AVX2 + FMA3 */
    SPAR_GEMM_ISA_AVX512 = 2, /* AVX-512F */
} spar_gemm_isa;

/* What happens to each output after bias: nothing, or bert.c's activations (exact erf GELU with libm erff,
 * bit for bit what a separate pass would give; ReLU), or GELU with an erfc approximation (Abramowitz & Stegun
 * 7.1.26 times a polynomial exp, vectorised on AVX-512; |error| <= 2e-7 * (1 + |x|) against erff's GELU,
 * tested) that costs a fraction of libm's scalar erff. */
typedef enum spar_gemm_epi {
    SPAR_GEMM_EPI_NONE = 0,
    SPAR_GEMM_EPI_GELU = 1,
    SPAR_GEMM_EPI_RELU = 2,
    SPAR_GEMM_EPI_GELU_FAST = 3,
} spar_gemm_epi;

/* A packed weight matrix W[n, k]. Immutable once packed; share across threads. */
typedef struct spar_gemm_f32_packed {
    size_t n, k;      /* logical shape: n outputs, k inputs */
    size_t n_strips;  /* ceil(n / 32) */
    float *data;      /* [n_strips][k][32], 64-byte aligned; free with spar_gemm_f32_free */
    int borrowed;     /* 1: data is the caller's W packed in place (spar_gemm_f32_pack_inplace); free leaves it */
} spar_gemm_f32_packed;

/** Pack W[n_out, n_in] (row-major, leading dimension ldw >= n_in) into a new packed matrix.
 *  W is only read; it may be freed afterwards. SPAR_OK, SPAR_E_INVALID_ARG (NULL, zero size, ldw < n_in) or
 *  SPAR_E_NOMEM. Release with spar_gemm_f32_free. */
spar_status spar_gemm_f32_pack(const float *W, size_t n_out, size_t n_in, size_t ldw, spar_gemm_f32_packed **out);
/** Pack W[n_out, n_in] (row-major, contiguous) IN ITS OWN MEMORY, so packing costs no second copy of the
 *  weights: each block of 32 rows (32 x n_in floats) becomes its strip ([n_in][32]) at the same address.
 *  Needs n_out % 32 == 0 (true of every BERT matrix) and W 64-byte aligned (e.g. aligned_alloc(64, ...)),
 *  else SPAR_E_INVALID_ARG and W is untouched; SPAR_E_NOMEM (a 32 x n_in scratch) leaves W untouched too.
 *  Afterwards W no longer holds a row-major matrix; it stays owned by the caller and must outlive *out
 *  (spar_gemm_f32_free releases the handle only). spar_gemm_f32_unpack_inplace turns it back. */
spar_status spar_gemm_f32_pack_inplace(float *W, size_t n_out, size_t n_in, spar_gemm_f32_packed **out);
/** Restore the row-major W of an in-place packed matrix and release the handle (p is invalid afterwards).
 *  SPAR_OK, SPAR_E_INVALID_ARG (p not packed in place; nothing done) or SPAR_E_NOMEM (nothing done, p still
 *  valid). */
spar_status spar_gemm_f32_unpack_inplace(spar_gemm_f32_packed *p);
void spar_gemm_f32_free(spar_gemm_f32_packed *p); /* NULL is a no-op */
/** Bytes held by a packed matrix (n_strips * 32 * k floats plus the header). */
size_t spar_gemm_f32_bytes(const spar_gemm_f32_packed *p);

/** Y[t, j] = sum_k X[t, k] W[j, k] (+ bias[j] when bias != NULL) for t < T, j < n; X has leading dimension
 *  ldx >= k, Y has ldy >= n (Y must not overlap X). Work is split over n_threads OpenMP threads (<= 1, or a
 *  build without OpenMP: the calling thread) that take units of rows x strips from a shared counter; every
 *  output is computed by one unit in one order, so the result does not depend on n_threads.
 *  Uses the best kernel of this CPU. T == 0 is a no-op. Each thread allocates a 252 KiB packing buffer for X.
 *  SPAR_OK, SPAR_E_INVALID_ARG (NULL pointer, ldx < k, ldy < n) or SPAR_E_NOMEM (Y then undefined). */
spar_status spar_gemm_f32_apply(const spar_gemm_f32_packed *p, const float *X, size_t T, size_t ldx, const float *bias,
                         float *Y, size_t ldy, int n_threads);
/** Same with an explicit kernel set (tests, benchmarks; an ISA this CPU lacks falls back to the best one it
 *  has) and an activation fused after the bias. */
spar_status spar_gemm_f32_apply_ex(const spar_gemm_f32_packed *p, spar_gemm_isa isa, spar_gemm_epi epi, const float *X,
                                   size_t T, size_t ldx, const float *bias, float *Y, size_t ldy, int n_threads);

/* One product cut into independent units, for callers that run them on their own pool (e.g.
 * encoders/kernels/pool.h, whose workers block instead of spinning):
 *     spar_gemm_f32_plan pl;
 *     size_t n = spar_gemm_f32_plan_make(&pl, P, isa, epi, X, T, ldx, bias, Y, ldy, n_threads);
 *     for each i < n, on any thread: spar_gemm_f32_run_unit(&pl, i, scratch_of_that_thread);
 * Units write disjoint parts of Y; each output is computed by one unit in a fixed order, so the result does
 * not depend on which thread runs which unit. Scratch: SPAR_GEMM_F32_SCRATCH floats per thread, any
 * alignment (the kernel aligns it). The plan borrows every pointer until the last unit has run. */
#define SPAR_GEMM_F32_SCRATCH ((size_t)84 * SPAR_GEMM_F32_KC + 16)
typedef struct spar_gemm_f32_plan {
    const spar_gemm_f32_packed *p;
    spar_gemm_isa isa;
    spar_gemm_epi epi;
    const float *X, *bias;
    size_t T, ldx, ldy;
    float *Y;
    size_t row_blocks, groups, group, mc; /* the unit grid (row blocks x strip groups) */
} spar_gemm_f32_plan;
/** Fill *pl and return the number of units (0 when T == 0 or an argument is invalid: NULL p/X/Y, ldx < k,
 *  ldy < n). n_threads only sizes the units (about 8 per thread). */
size_t spar_gemm_f32_plan_make(spar_gemm_f32_plan *pl, const spar_gemm_f32_packed *p, spar_gemm_isa isa,
                               spar_gemm_epi epi, const float *X, size_t T, size_t ldx, const float *bias, float *Y,
                               size_t ldy, int n_threads);
/** Run unit i (< the count plan_make returned) on the calling thread. */
void spar_gemm_f32_run_unit(const spar_gemm_f32_plan *pl, size_t i, float *scratch);

/** Scratch floats spar_attn_f32_head needs for n tokens and head width dh (about n^2 + 3 n dh + 43k). */
size_t spar_attn_f32_work_floats(size_t n, size_t dh);
/** Softmax attention of one head of one sequence, on the calling thread, with the GEMM kernels above (no
 *  BLAS call): out[i, :] = sum_j softmax_j(scale * q_i . k_j) v_j for i, j < n; q, k, v rows have stride ld
 *  (e.g. 3d for a fused QKV output, with k = q + d and v = q + 2d), out rows stride ldo. No mask: every key
 *  is valid (bert.c packs sequences without padding). work: spar_attn_f32_work_floats(n, dh) floats, any
 *  alignment. SPAR_OK or SPAR_E_INVALID_ARG. */
spar_status spar_attn_f32_head(spar_gemm_isa isa, const float *q, const float *k, const float *v, size_t ld, size_t n,
                               size_t dh, float scale, float *out, size_t ldo, float *work);

/** The best kernel set of this CPU (cached after the first call). */
spar_gemm_isa spar_gemm_f32_isa_best(void);
/** "scalar", "avx2" or "avx512". */
const char *spar_gemm_isa_name(spar_gemm_isa isa);

#endif
