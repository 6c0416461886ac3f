/* heads.h — output heads on top of the transformer (encoders/model): SPLADE pooling of the MLM logits
 * computed in vocabulary blocks (the T x V logits matrix never exists), dense pooling (CLS / mean,
 * optional L2 normalisation) and per-token projection. Contract for encoders/encoder.c and tests. */
#ifndef SPAR_HEADS_H
#define SPAR_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "encoders/kernels/gemm_f32.h"
#include "encoders/kernels/gemm_lowp.h"
#include "spar/spar_status.h"

typedef enum spar_splade_pooling { SPAR_SPLADE_MAX = 0, SPAR_SPLADE_SUM = 1 } spar_splade_pooling;

/** SPLADE weights for n_seqs packed sequences: out[s*V + v] = pool_{t in s} log(1 + ReLU(h2_t . W_v + b_v)).
 *  h2: [T, d] transformed hidden states; W: [V, d]; b: [V]; out: [n_seqs, V], caller-owned.
 *  Work memory is O(tile * block), independent of V * T. SPAR_OK or SPAR_E_NOMEM. */
spar_status spar_splade_pool(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d, const float *W,
                             const float *b, size_t V, spar_splade_pooling pool, float *out);

/** spar_splade_pool with the fp32 decoder packed ONCE for encoders/kernels/gemm_f32 (spar_bert_pack_decoder),
 *  instead of per call and per vocabulary block: rows [0, Wm->n) in Wm (Wm->n % 32 == 0, e.g. packed in place
 *  in the embedding table), rows [Wm->n, V) in Wt (fewer than 32; either may be NULL when empty). Same kernel
 *  and summation order as spar_splade_pool, so the output is bitwise the same. SPAR_OK, SPAR_E_INVALID_ARG
 *  (shapes that do not add up to V x d) or SPAR_E_NOMEM. */
spar_status spar_splade_pool_packed(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d,
                                    const spar_gemm_f32_packed *Wm, const spar_gemm_f32_packed *Wt, const float *b,
                                    size_t V, spar_splade_pooling pool, float *out);

/** spar_splade_pool with the decoder packed in bf16 or int8 (W->n == V, W->k == d): h2 is converted /
 *  quantised once, then vocabulary blocks run the reduced-precision kernels. Same pooling and output. */
spar_status spar_splade_pool_lowp(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d, const spar_lowp_mat *W,
                                  const float *b, size_t V, spar_splade_pooling pool, float *out);

/* Exact vocabulary pruning. A row v can only contribute to SPLADE if some token's logit h_t . W_v + b_v is
 * > 0. The bound splits W_v over a rank-k orthonormal basis U of W's principal row subspace:
 *   h . W_v = (U h) . (U W_v) + r . W_v,  r = h - U^T U h,   so   h . W_v <= hk . Wk_v + ||r|| ||W_v - U^T Wk_v||,
 * a rank-k GEMM (k/d of the decoder's work) plus one multiply-add per (token, row). Rows whose bound, over
 * every token of a sequence and widened by a float-rounding margin (2e-4 ||h_t|| ||W_v||, >> the worst-case
 * sgemm error of ~d * 2^-24 * ||h|| ||W_v||), is <= 0 are never computed; the others are computed exactly
 * by a GEMM on the gathered rows. The result equals spar_splade_pool's (same non-zeros; values equal up to
 * GEMM rounding). How much is skipped depends entirely on the weights: see docs/encoders/model.md. */
typedef struct spar_splade_bound spar_splade_bound;

/** Precompute the bound for decoder W [V, d] (rank k, 1 <= k < d; 0 picks 64 or d/4): one W^T W GEMM, a
 *  subspace iteration, W U^T and the row residual norms. Memory (k + 2) * V + k * d floats.
 *  SPAR_OK, SPAR_E_INVALID_ARG or SPAR_E_NOMEM. */
spar_status spar_splade_bound_build(const float *W, size_t V, size_t d, size_t k, spar_splade_bound **out);
void spar_splade_bound_free(spar_splade_bound *bd); /* NULL is a no-op */
/** On by default: when the bound skips < 5% of the rows of a call's first sequence, the rest of the call runs
 *  unpruned (the bound would only cost time). Off: every sequence is bounded (tests of the bound itself). */
void spar_splade_bound_set_adaptive(spar_splade_bound *bd, int on);

typedef struct spar_splade_stats {
    uint64_t rows_total;   /* (sequence, vocabulary row) pairs considered */
    uint64_t rows_skipped; /* pairs proved <= floor without computing their logits */
} spar_splade_stats;

/** spar_splade_pool with pruning: `bd` NULL computes everything (== spar_splade_pool). `floor` >= 0: rows
 *  whose weight provably is <= floor may be returned as 0 instead of their exact value (pass the sparsifier's
 *  threshold; 0 keeps the output exact). `stats` (optional) is incremented. */
spar_status spar_splade_pool_pruned(const spar_splade_bound *bd, const float *h2, const uint32_t *lens, size_t n_seqs,
                                    size_t d, const float *W, const float *b, size_t V, spar_splade_pooling pool,
                                    float floor, float *out, spar_splade_stats *stats);

typedef enum spar_dense_pooling { SPAR_DENSE_CLS = 0, SPAR_DENSE_MEAN = 1 } spar_dense_pooling;
/** Pool hidden states [T, d] of packed sequences into out [n_seqs, d]; L2-normalise rows if `normalize`. */
void spar_dense_pool(const float *h, const uint32_t *lens, size_t n_seqs, size_t d, spar_dense_pooling pool,
                     int normalize, float *out);
/** out[T, p] = h[T, d] P[p, d]^T, optionally L2-normalised per row. */
void spar_token_project(const float *h, size_t T, size_t d, const float *P, size_t p, int normalize, float *out);

#endif
