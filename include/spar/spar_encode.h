/* spar_encode.h — text/token ids -> vectors with an in-process transformer (BERT / DistilBERT / ModernBERT
 * loaded from a Hugging Face folder: config.json, model.safetensors, vocab.txt or tokenizer.json). Produces SPLADE sparse vectors, dense
 * embeddings and per-token embeddings. fp32 numerics match PyTorch to ~1e-5 on the logits (see
 * docs/encoders/model.md for the measured figures and how they are tested). */
#ifndef SPAR_ENCODE_H
#define SPAR_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "spar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Loaded model + tokenizer. Immutable after open: share freely across threads (each call allocates its
 *  own work memory). */
typedef struct spar_encoder spar_encoder;

typedef enum spar_encoder_weights {
    SPAR_WEIGHTS_F32 = 0,  /* weights as stored, converted to fp32 (the reference path) */
    SPAR_WEIGHTS_BF16 = 1, /* BERT/DistilBERT linear layers (QKV, O, FFN, MLM transform, decoder) in bf16: half
                              their memory; activations rounded to bf16 per layer, fp32 accumulation (AVX-512
                              BF16 when present, else a slower portable kernel); attention stays fp32.
                              Measured error vs fp32: docs/encoders/model.md */
    SPAR_WEIGHTS_INT8 = 2  /* the same layers in int8 (per-output-row scales; activations quantised per token
                              to u8 at run time, int32 accumulation with AVX-512 VNNI when present): a quarter
                              of their memory; larger error, see docs/encoders/model.md */
} spar_encoder_weights;

/** Attention in ModernBERT's global (full-attention) layers. DENSE is exact; the others run the block-sparse
 *  kernel (64-token blocks) on sequences of at least attention_threshold tokens and approximate attention
 *  (see docs/encoders/attention.md for their measured speed and fidelity). Local (sliding-window) layers
 *  are always exact. BERT / DistilBERT (<= 512 tokens) always use dense attention. */
typedef enum spar_attention_mode {
    SPAR_ATTENTION_DENSE = 0,          /* exact (default) */
    SPAR_ATTENTION_LOCAL = 1,          /* static: key blocks within attention_window blocks + block 0 (global) */
    SPAR_ATTENTION_QUERY_AWARE = 2,    /* per head: blocks by estimated attention mass until attention_tau */
    SPAR_ATTENTION_VERTICAL_SLASH = 3  /* per head: key columns + diagonals from sampled queries until attention_tau */
} spar_attention_mode;

typedef struct spar_encoder_opts {
    uint32_t max_length;       /* tokens per text including [CLS]/[SEP]; 0 = the model's max positions.
                                  Longer texts are truncated (keeping the final [SEP]), unless
                                  long_doc_stride is set (SPLADE). */
    uint32_t max_batch_tokens; /* tokens per forward chunk (bounds work memory, ~30 KB per token
                                  for bert-base); 0 = 4096 (raised to max_length when smaller) */
    int weights;               /* spar_encoder_weights (ModernBERT: F32 only) */
    /* added fields (zero = default) */
    int attention;                /* spar_attention_mode; default SPAR_ATTENTION_DENSE */
    uint32_t attention_threshold; /* sparse attention only for sequences of >= this many tokens; 0 = 1024 */
    float attention_tau;          /* QUERY_AWARE / VERTICAL_SLASH: estimated mass to keep, (0, 1]; 0 = 0.97 */
    uint32_t attention_window;    /* LOCAL: key blocks on each side of the diagonal; 0 = 2 */
    uint32_t long_doc_stride;     /* SPLADE: an input longer than max_length is cut into overlapping chunks of
                                     max_length tokens (body tokens wrapped in the input's first and last ids,
                                     normally [CLS]/[SEP]) whose starts advance by this many body tokens; the
                                     chunk vectors are combined by element-wise max. 0 = truncate (default).
                                     Must be <= max_length - 2. Dense and token outputs still truncate. */
    const int8_t *attention_layers; /* optional per-layer choice for ModernBERT global layers: entry l (for
                                       l < n_attention_layers) is a spar_attention_mode for layer l, or -1 to
                                       use `attention`; entries of local (sliding-window) layers must be -1 or
                                       DENSE (they are always exact). Copied by spar_encoder_open. */
    uint32_t n_attention_layers;    /* entries in attention_layers; at most the model's layer count */
} spar_encoder_opts;

/** Defaults: every field 0: the model's max length, 4096-token chunks, SPAR_WEIGHTS_F32, exact attention,
 *  truncation of long inputs. */
SPAR_API spar_encoder_opts spar_encoder_opts_default(void);

/** Open a Hugging Face model folder: config.json (model_type bert, distilbert or modernbert),
 *  model.safetensors (BertForMaskedLM / DistilBertForMaskedLM / ModernBertForMaskedLM, or the bare encoders
 *  for dense-only use; an optional "linear.weight" [p, d] is used as the per-token projection of BERT models)
 *  and tokenizer.json or vocab.txt (needed for text input: BERT WordPiece, [CLS] ... [SEP], invalid UTF-8
 *  replaced by U+FFFD and dropped). ModernBERT's BPE tokenizer.json is not supported yet: its folders
 *  accept token-id input only (has_vocab 0).
 *  @param opts  NULL = defaults.
 *  @param[out] out   release with spar_encoder_close().
 *  @param[out] diag  optional: on SPAR_E_CORRUPT lists missing / unexpected tensors and shape mismatches.
 *  @return SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_NOT_FOUND (no config.json / model.safetensors), SPAR_E_IO,
 *          SPAR_E_CORRUPT, SPAR_E_UNSUPPORTED (architecture / activation) or SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_encoder_open(const char *model_dir, const spar_encoder_opts *opts,
                                                      spar_encoder **out, spar_diag *diag);
SPAR_API void spar_encoder_close(spar_encoder *enc); /* NULL is a no-op */

typedef struct spar_encoder_info {
    const char *arch;      /* "bert", "distilbert" or "modernbert"; static string */
    uint32_t vocab_size;   /* SPLADE term ids are in [0, vocab_size) */
    uint32_t hidden;       /* dense embedding dimension */
    uint32_t n_layers;
    uint32_t max_length;   /* effective max tokens per text */
    uint32_t proj_dim;     /* 0 when the folder has no token projection */
    int has_mlm_head;      /* SPLADE available */
    int has_vocab;         /* text input available (a tokenizer was loaded) */
} spar_encoder_info;
SPAR_API void spar_encoder_get_info(const spar_encoder *enc, spar_encoder_info *info);

/** One pre-tokenised sequence: ids including the special tokens ([CLS] ... [SEP]); 1 <= n <= max_length. */
typedef struct spar_token_ids {
    const uint32_t *ids;
    uint32_t n;
} spar_token_ids;

/** A batch: exactly one of `texts` (UTF-8, NUL-terminated) and `seqs` is non-NULL, each with n entries.
 *  Nothing is kept after the call. */
typedef struct spar_encode_input {
    const char *const *texts;
    const spar_token_ids *seqs;
    size_t n;
} spar_encode_input;

typedef enum spar_splade_pool_mode { SPAR_SPLADE_POOL_MAX = 0, SPAR_SPLADE_POOL_SUM = 1 } spar_splade_pool_mode;

typedef struct spar_splade_opts {
    int pooling;          /* spar_splade_pool_mode: max (SPLADE v2+) or sum over the sequence's tokens */
    uint32_t top_k;       /* keep the k largest weights (ties: lower id first); 0 = keep all */
    float threshold;      /* keep weights > threshold (default 0: every non-zero weight) */
    int drop_special;     /* zero [PAD] [UNK] [CLS] [SEP] [MASK] (ids read from vocab.txt) */
} spar_splade_opts;
/** Defaults: max pooling, top_k 0, threshold 0, drop_special 0 (the plain SPLADE definition). */
SPAR_API spar_splade_opts spar_splade_opts_default(void);

/** One sparse vector: ids strictly ascending, weights > threshold. Arrays are malloc'd by the library and
 *  owned by the caller: release with spar_sparse_results_free(). */
typedef struct spar_sparse_result {
    uint32_t *ids;
    float *weights;
    uint32_t n;
} spar_sparse_result;

/** SPLADE vectors w_v = pool_t log(1 + ReLU(logit_{t,v})) over each input's tokens, for in->n inputs
 *  into caller-owned out[in->n]. The T x V logits matrix is never materialised.
 *  @return SPAR_OK; SPAR_E_INVALID_ARG (bad ids, empty or over-long token input); SPAR_E_UNSUPPORTED (no MLM
 *  head, or text input without vocab.txt / tokenizer); SPAR_E_NOMEM. On error out[] holds no allocations. */
SPAR_API SPAR_NODISCARD spar_status spar_encode_splade_batch(const spar_encoder *enc, const spar_encode_input *in,
                                                             const spar_splade_opts *opts, spar_sparse_result *out);
SPAR_API void spar_sparse_results_free(spar_sparse_result *r, size_t n); /* frees the arrays, zeroes r[] */

typedef enum spar_dense_pool_mode { SPAR_DENSE_POOL_CLS = 0, SPAR_DENSE_POOL_MEAN = 1 } spar_dense_pool_mode;
typedef struct spar_dense_opts {
    int pooling;   /* spar_dense_pool_mode: the [CLS] state or the mean over the input's tokens */
    int normalize; /* L2-normalise each vector */
} spar_dense_opts;
SPAR_API spar_dense_opts spar_dense_opts_default(void); /* CLS, not normalised */

/** Dense embeddings of the last hidden layer: out is caller-owned, in->n x info.hidden floats. */
SPAR_API SPAR_NODISCARD spar_status spar_encode_dense_batch(const spar_encoder *enc, const spar_encode_input *in,
                                                            const spar_dense_opts *opts, float *out);

typedef struct spar_token_opts {
    int project;   /* apply the folder's linear.weight projection (SPAR_E_UNSUPPORTED if there is none) */
    int normalize; /* L2-normalise each token vector */
} spar_token_opts;

/** Per-token embeddings of one input (ColBERT-style): writes n_tokens x dim floats to out, where dim is
 *  proj_dim when projecting, else hidden. `cap_tokens` is the capacity of out in tokens (max_length always
 *  suffices); SPAR_E_INVALID_ARG if too small. `ids_out` (NULL ok, cap_tokens entries) receives the token ids. */
SPAR_API SPAR_NODISCARD spar_status spar_encode_tokens(const spar_encoder *enc, const char *text,
                                                       const spar_token_ids *seq, const spar_token_opts *opts,
                                                       float *out, size_t cap_tokens, uint32_t *n_tokens,
                                                       uint32_t *ids_out);

/** Vocabulary string of token `id` (e.g. "##ing"), owned by enc and NUL-terminated; *len (NULL ok) gets its
 *  length. NULL when the folder has no tokenizer.json / vocab.txt or id is out of range. */
SPAR_API const char *spar_encoder_token_str(const spar_encoder *enc, uint32_t id, size_t *len);

/** Inference-free query encoder (OpenSearch doc-only sparse models): query text -> {token id: idf weight},
 *  each distinct non-special token once, weight from idf.json (1.0 for tokens it does not list).
 *  Immutable after open: share freely across threads. */
typedef struct spar_idf_encoder spar_idf_encoder;
/** `idf_path`: idf.json ({"token": weight}); `vocab`: vocab.txt, tokenizer.json or a folder holding one.
 *  @return SPAR_OK, SPAR_E_IO, SPAR_E_NOT_FOUND, SPAR_E_CORRUPT (diag names file and byte/line),
 *          SPAR_E_UNSUPPORTED, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_idf_encoder_open(const char *idf_path, const char *vocab,
                                                          spar_idf_encoder **out, spar_diag *diag);
SPAR_API void spar_idf_encoder_close(spar_idf_encoder *q); /* NULL is a no-op */
/** Encode one query (invalid UTF-8 becomes U+FFFD and is dropped; truncated to 512 tokens) into *out
 *  (ids ascending; release with spar_sparse_results_free(out, 1)).
 *  @return SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_idf_encode_query(const spar_idf_encoder *q, const char *text,
                                                          spar_sparse_result *out, spar_diag *diag);
/** Vocabulary string of id, as spar_encoder_token_str(). */
SPAR_API const char *spar_idf_encoder_token_str(const spar_idf_encoder *q, uint32_t id, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
