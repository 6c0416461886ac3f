/* config.h — the Hugging Face config.json fields the C transformers need (encoders/model). Reads the BERT
 * ("model_type": "bert"), DistilBERT ("distilbert") and ModernBERT ("modernbert") spellings into one
 * normalised struct, validating every size so that bert.c and modernbert.c can trust them. Contract for
 * encoders/model/bert.c, encoders/model/modernbert.c and encoders/encoder.c. */
#ifndef SPAR_MODEL_CONFIG_H
#define SPAR_MODEL_CONFIG_H

#include <stdint.h>

#include "spar/spar_status.h"

typedef enum spar_arch { SPAR_ARCH_BERT = 0, SPAR_ARCH_DISTILBERT = 1, SPAR_ARCH_MODERNBERT = 2 } spar_arch;
typedef enum spar_act { SPAR_ACT_GELU = 0, SPAR_ACT_RELU = 1 } spar_act;

typedef struct spar_model_config {
    spar_arch arch;
    uint32_t vocab_size;
    uint32_t hidden;          /* d_model */
    uint32_t n_layers;
    uint32_t n_heads;
    uint32_t intermediate;    /* FFN width */
    uint32_t max_positions;
    uint32_t type_vocab_size; /* 0 for DistilBERT */
    uint32_t pad_token_id;
    float ln_eps;             /* BERT: layer_norm_eps; DistilBERT: 1e-12 (fixed in HF code); ModernBERT: norm_eps */
    spar_act act;             /* ModernBERT: hidden_activation (the GeGLU gate) */
    /* ModernBERT only (zero for the others) */
    spar_act head_act;        /* classifier_activation (MLM prediction head) */
    uint32_t local_window;    /* local_attention: total window; local layers see keys with |i-j| <= local_window/2 */
    uint32_t global_every;    /* global_attn_every_n_layers (layer i is global when i % global_every == 0) */
    uint8_t layer_global[256];/* per layer: 1 = full attention, 0 = sliding window (from layer_types if given) */
    float rope_theta_global;  /* global_rope_theta / rope_parameters.full_attention.rope_theta */
    float rope_theta_local;   /* local_rope_theta / rope_parameters.sliding_attention.rope_theta */
    uint8_t attention_bias, mlp_bias, norm_bias, classifier_bias, decoder_bias, tie_embeddings;
    int64_t cls_token_id, sep_token_id, mask_token_id; /* -1 when absent */
} spar_model_config;

/** Parse config.json text (len bytes). `label` names the source in diagnostics. */
spar_status spar_model_config_parse(const char *json, size_t len, const char *label, spar_model_config *out,
                                    spar_diag *diag);
/** Read and parse a config.json file. */
spar_status spar_model_config_load(const char *path, spar_model_config *out, spar_diag *diag);

#endif
