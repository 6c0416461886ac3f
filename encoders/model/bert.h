/* bert.h — fp32 BERT / DistilBERT encoder (encoders/model): weights from a Hugging Face folder
 * (config.json + model.safetensors) and a padding-free batched forward pass that computes what
 * transformers' BertForMaskedLM / DistilBertForMaskedLM compute (post-LN, exact erf GELU, config eps).
 * Contract for encoders/model/heads.c and encoders/encoder.c. */
#ifndef SPAR_BERT_H
#define SPAR_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "encoders/kernels/gemm_f32.h"
#include "encoders/kernels/gemm_lowp.h"
#include "encoders/model/config.h"
#include "encoders/model/safetensors.h"

typedef struct spar_bert_layer {
    float *qkv_w, *qkv_b;      /* [3d, d], [3d]: query, key, value rows stacked */
    float *o_w, *o_b;          /* [d, d], [d] */
    float *ln1_g, *ln1_b;      /* attention-output LayerNorm */
    float *ff1_w, *ff1_b;      /* [f, d], [f] */
    float *ff2_w, *ff2_b;      /* [d, f], [d] */
    float *ln2_g, *ln2_b;      /* output LayerNorm */
    /* qkv_w, o_w, ff1_w, ff2_w packed for encoders/kernels/gemm_f32 at load, in their own memory when the
     * shape allows (the row-major fp32 matrices are then only restored on demand, see bert.c); NULL when
     * packing failed (out of memory: the forward uses sgemm) or after the fp32 weights were dropped. */
    spar_gemm_f32_packed *qkv_p, *o_p, *ff1_p, *ff2_p;
} spar_bert_layer;

typedef struct spar_bert {
    spar_model_config cfg;
    float *word_emb, *pos_emb, *type_emb; /* [V,d], [P,d], [types,d] (type_emb NULL for DistilBERT) */
    float *emb_ln_g, *emb_ln_b;
    spar_bert_layer *layers;
    int has_mlm;                          /* MLM head present (needed for SPLADE) */
    float *tr_w, *tr_b, *tr_ln_g, *tr_ln_b; /* head transform: dense [d,d], act, LayerNorm */
    float *dec_w, *dec_b;                 /* decoder [V,d] (== word_emb when tied) and bias [V] */
    uint32_t proj_dim;                    /* 0, or rows of the optional "linear.weight" projection */
    float *proj_w;                        /* [proj_dim, d] (ColBERT-style token projection) */
    float **owned;                        /* every buffer we allocated, freed by spar_bert_free */
    size_t n_owned;
    /* Reduced-precision linear weights (spar_bert_set_weights): lowp[kind] (kind 1 bf16, 2 int8) is NULL or
     * 4 * n_layers + 2 packed matrices: layer l's QKV, O, FF1, FF2 at 4l..4l+3, then the MLM transform and
     * the decoder (zeroed when has_mlm is 0). `mode` (a spar_encoder_weights value) picks what the forward
     * pass and the heads use. */
    spar_lowp_mat *lowp[3];
    int mode;
    /* fp32 decoder packed once (spar_bert_pack_decoder), or NULL: rows [0, V/32*32) packed IN PLACE in dec_w's
     * memory (dec_p), the last V % 32 rows as a small packed copy (dec_tail_p; those rows also stay row-major
     * at dec_w + dec_p->n * d). While dec_p is set, dec_w (and word_emb when tied) is NOT row-major: read rows
     * with spar_bert_decoder_row / spar_bert_embedding_row. */
    spar_gemm_f32_packed *dec_p, *dec_tail_p;
    /* tr_w packed with the layers (in place; NULL without MLM head or when packing failed): the MLM transform
     * then runs on spar's pool too, so fp32 SPLADE makes no OpenBLAS call (whose idle threads spin-yield
     * for ~0.1 s after each call, taking a core from the decoder GEMM and the next forward on 2 cores). */
    spar_gemm_f32_packed *tr_p;
} spar_bert;

/** Pack the fp32 decoder once for spar_splade_pool_packed, without a second copy of the V x d matrix (see
 *  dec_p above; needs dec_w 64-byte aligned and owned by the model, as spar_bert_load gives it). The forward
 *  pass, spar_bert_mlm_logits, set_weights and round_* keep working (they read through the packed layout or
 *  unpack first); other readers of dec_w / word_emb must call spar_bert_unpack_decoder first.
 *  SPAR_OK (also when already packed), SPAR_E_UNSUPPORTED (no MLM head), SPAR_E_INVALID_ARG (unaligned or
 *  V < 32: nothing done) or SPAR_E_NOMEM (nothing done). Not thread-safe. */
spar_status spar_bert_pack_decoder(spar_bert *m);
/** Restore the row-major decoder (no-op when not packed). SPAR_OK or SPAR_E_NOMEM (still packed). */
spar_status spar_bert_unpack_decoder(spar_bert *m);
/** Decoder row v (< V) into out[d], from either layout. */
void spar_bert_decoder_row(const spar_bert *m, size_t v, float *out);
/** Word-embedding row id into out[d] (through the packed decoder when tied and packed); NULL word_emb: no-op. */
void spar_bert_embedding_row(const spar_bert *m, size_t id, float *out);

/** Load `dir`/config.json and `dir`/model.safetensors. A folder whose tensors do not match the config
 *  fails with SPAR_E_CORRUPT and a diag listing the missing / unexpected tensors and shape mismatches. */
spar_status spar_bert_load(const char *dir, spar_bert **out, spar_diag *diag);
/** Same, from an already parsed config and tensor file (the file may be closed afterwards). */
spar_status spar_bert_from_tensors(const spar_model_config *cfg, const spar_safetensors *st, const char *label,
                                   spar_bert **out, spar_diag *diag);
void spar_bert_free(spar_bert *m); /* NULL is a no-op */

/** Round every weight matrix to bf16 (round-to-nearest-even) in place, compute stays fp32: accuracy
 *  experiments that separate weight rounding from activation rounding (the real path: spar_bert_set_weights). */
void spar_bert_round_bf16(spar_bert *m);
/** Fake-quantise every linear weight to symmetric int8 with one scale per output row, in place. */
void spar_bert_round_int8(spar_bert *m);

/** Pack every linear weight (QKV, O, FF1, FF2, MLM transform, decoder) into bf16 (mode SPAR_WEIGHTS_BF16 = 1)
 *  or int8 (SPAR_WEIGHTS_INT8 = 2; gemm_lowp.h has both formats) and make the forward pass and the heads compute
 *  with them (mode 0: back to fp32, which needs the fp32 weights). Packing an already packed kind only switches.
 *  drop_f32: free the fp32 copies of those weights that the model owns (loaded models), so only the packed
 *  ones remain (then the embedding rows of a tied decoder are read back from the packed decoder, and fp32
 *  mode is no longer available); each matrix is freed as soon as it is packed, so the peak stays near the fp32
 *  model. SPAR_OK, SPAR_E_INVALID_ARG or SPAR_E_NOMEM (after a failure with drop_f32 the model may have lost
 *  fp32 layers: free it). Not thread-safe: call before sharing the model. */
spar_status spar_bert_set_weights(spar_bert *m, int mode, int drop_f32);
/** The packed decoder the heads must use in the current mode, or NULL in fp32 mode. */
const spar_lowp_mat *spar_bert_lowp_decoder(const spar_bert *m);

/** Forward pass over n_seqs sequences packed back to back (no padding): ids[sum(lens)], each
 *  1 <= lens[i] <= max_positions, ids < vocab. Writes the last hidden states, T x d, into `hidden`.
 *  Returns SPAR_OK, SPAR_E_INVALID_ARG or SPAR_E_NOMEM. Thread-safe on a shared model. */
spar_status spar_bert_forward(const spar_bert *m, const uint32_t *ids, const uint32_t *lens, size_t n_seqs,
                              float *hidden);
/** MLM head transform (dense, activation, LayerNorm): h [T,d] -> out [T,d]. Requires has_mlm. */
spar_status spar_bert_mlm_transform(const spar_bert *m, const float *h, size_t T, float *out);
/** Full MLM logits for T tokens (T x V): for tests only, SPLADE never materialises this. */
spar_status spar_bert_mlm_logits(const spar_bert *m, const float *h2, size_t T, float *logits);

/** Non-zero when row-wise OpenMP loops may run in parallel (OpenBLAS itself is single-threaded). */
int spar_model_omp_ok(void);

/* Thread policy (bert.c): OpenBLAS's pool by default; OpenMP only when OpenBLAS is single-threaded. */
/** C[M,N] = A[M,K] B[N,K]^T (row-major, leading dimensions lda/ldb/ldc), columns split across OpenMP
 *  threads when OpenBLAS is single-threaded and the product is large (else one OpenBLAS call). */
void spar_model_gemm_nt(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                        float *C, size_t ldc);

#endif
