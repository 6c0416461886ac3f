/* modernbert.h — fp32 ModernBERT encoder (encoders/model): weights from a Hugging Face folder (config.json
 * with "model_type": "modernbert" + model.safetensors of ModernBertForMaskedLM or bare ModernBertModel) and a
 * padding-free batched forward pass computing what transformers' ModernBertForMaskedLM computes: token
 * embeddings + LayerNorm, pre-norm layers (layer 0 has no attention norm) with fused QKV, rotary position
 * embeddings (global theta on full-attention layers, local theta on sliding-window layers), sliding-window
 * attention |i-j| <= local_attention/2 on local layers, GeGLU MLP, final LayerNorm, and the MLM head (dense,
 * activation, LayerNorm, decoder tied to the embeddings). Biases exist only where the config asks for them.
 *
 * Attention: local layers always run the block-sparse kernel with the local policy (key blocks i-1..i+1 for a
 * 128 window) and the exact token-level window, so they are exact. Global layers are dense unless the caller
 * passes a sparse policy (encoders/attention/attention.h), which applies to sequences of at least
 * policy.min_len tokens. Contract for encoders/encoder.c, benchmarks and tests. */
#ifndef SPAR_MODERNBERT_H
#define SPAR_MODERNBERT_H

#include <stddef.h>
#include <stdint.h>

#include "encoders/attention/attention.h"
#include "encoders/model/config.h"
#include "encoders/model/safetensors.h"

typedef struct spar_mbert_layer {
    float *attn_norm_g, *attn_norm_b; /* [d]; g NULL on layer 0 (identity); b NULL without norm_bias */
    float *wqkv, *bqkv;               /* [3d, d] (query, key, value rows), [3d] or NULL */
    float *wo, *bo;                   /* [d, d], [d] or NULL */
    float *mlp_norm_g, *mlp_norm_b;   /* [d] */
    float *wi, *bi;                   /* [2f, d]: first f rows the GELU input, last f the gate; [2f] or NULL */
    float *wm, *bm;                   /* MLP output [d, f], [d] or NULL */
} spar_mbert_layer;

typedef struct spar_mbert {
    spar_model_config cfg;
    float *tok_emb;                   /* [V, d] */
    float *emb_norm_g, *emb_norm_b;
    spar_mbert_layer *layers;
    float *final_norm_g, *final_norm_b;
    int has_mlm;                      /* ModernBertForMaskedLM head present (needed for SPLADE) */
    float *head_w, *head_b;           /* [d, d], [d] or NULL */
    float *head_norm_g, *head_norm_b;
    float *dec_w, *dec_b;             /* [V, d] (== tok_emb when tied), [V] (zeros without decoder_bias) */
    float **owned;                    /* every buffer we allocated */
    size_t n_owned;
} spar_mbert;

/** Load `dir`/config.json and `dir`/model.safetensors. Tensors that do not match the config fail with
 *  SPAR_E_CORRUPT and a diag naming the first missing / unexpected / mis-shaped ones. */
spar_status spar_mbert_load(const char *dir, spar_mbert **out, spar_diag *diag);
spar_status spar_mbert_from_tensors(const spar_model_config *cfg, const spar_safetensors *st, const char *label,
                                    spar_mbert **out, spar_diag *diag);
void spar_mbert_free(spar_mbert *m); /* NULL is a no-op */

/** Per-call attention controls and measurements (all optional: pass NULL for exact attention). */
typedef struct spar_mbert_run {
    /* in */
    const spar_attn_policy *global_policy; /* NULL or kind DENSE: exact dense global layers */
    const spar_attn_policy *const *layer_policy; /* NULL, or one entry per layer: a non-NULL entry replaces
                                                    global_policy for that (global) layer */
    int fidelity;          /* non-zero: on each global layer that ran sparse, also run dense on the same Q/K/V
                              and record the relative output error and the exact captured mass (slow) */
    /* out (summed over the call) */
    double t_total, t_attn;                /* seconds: whole forward, attention kernels incl. selection */
    double t_attn_global;                  /* seconds in global layers' attention */
    double layer_rel_err[256];             /* fidelity: ||O_sparse - O_dense|| / ||O_dense|| per layer (last seq) */
    double layer_mass[256];                /* fidelity: mean captured mass over heads (last seq); 1 if dense */
    double layer_min_mass[256];            /* fidelity: smallest per-head captured mass (last seq) */
    double layer_density[256];             /* kept block fraction per layer (last seq); 1 if dense */
    int layer_sparse[256];                 /* 1 if the layer ran block-sparse for the last sequence */
} spar_mbert_run;

/** Forward pass over n_seqs sequences packed back to back (no padding): ids[sum(lens)], each
 *  1 <= lens[i] <= max_positions, ids < vocab. Positions restart at 0 for each sequence. Writes the final
 *  (normed) hidden states, T x d, into `hidden`. `run` may be NULL (exact). Returns SPAR_OK,
 *  SPAR_E_INVALID_ARG or SPAR_E_NOMEM. Thread-safe on a shared model (distinct `run`s). */
spar_status spar_mbert_forward(const spar_mbert *m, const uint32_t *ids, const uint32_t *lens, size_t n_seqs,
                               spar_mbert_run *run, float *hidden);
/** MLM head transform (dense, activation, LayerNorm): h [T,d] -> out [T,d]. Requires has_mlm. */
spar_status spar_mbert_mlm_transform(const spar_mbert *m, const float *h, size_t T, float *out);
/** Full MLM logits (T x V) from the transformed states: for tests only. */
spar_status spar_mbert_mlm_logits(const spar_mbert *m, const float *h2, size_t T, float *logits);

#endif
