/* heads.h — output heads on top of the transformer (encoders/model): SPLADE pooling of the MLM logits
 * computed in vocabulary blocks (the T x V logits matrix never exists), dense pooling (CLS / mean,
 * optional L2 normalisation) and per-token projection. Contract for encoders/encoder.c and tests. */
#ifndef SPAR_HEADS_H
#define SPAR_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "spar/spar_status.h"

typedef enum spar_splade_pooling { SPAR_SPLADE_MAX = 0, SPAR_SPLADE_SUM = 1 } spar_splade_pooling;

/** SPLADE weights for n_seqs packed sequences: out[s*V + v] = pool_{t in s} log(1 + ReLU(h2_t . W_v + b_v)).
 *  h2: [T, d] transformed hidden states; W: [V, d]; b: [V]; out: [n_seqs, V], caller-owned.
 *  Work memory is O(tile * block), independent of V * T. SPAR_OK or SPAR_E_NOMEM. */
spar_status spar_splade_pool(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d, const float *W,
                             const float *b, size_t V, spar_splade_pooling pool, float *out);

typedef enum spar_dense_pooling { SPAR_DENSE_CLS = 0, SPAR_DENSE_MEAN = 1 } spar_dense_pooling;
/** Pool hidden states [T, d] of packed sequences into out [n_seqs, d]; L2-normalise rows if `normalize`. */
void spar_dense_pool(const float *h, const uint32_t *lens, size_t n_seqs, size_t d, spar_dense_pooling pool,
                     int normalize, float *out);
/** out[T, p] = h[T, d] P[p, d]^T, optionally L2-normalised per row. */
void spar_token_project(const float *h, size_t T, size_t d, const float *P, size_t p, int normalize, float *out);

#endif
