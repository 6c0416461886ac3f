/* config.h — the Hugging Face config.json fields the C transformer needs (encoders/model). Reads the BERT
 * ("model_type": "bert") and DistilBERT ("distilbert") spellings into one normalised struct, validating
 * every size so that bert.c can trust them. Contract for encoders/model/bert.c and encoders/encoder.c. */
#ifndef SPAR_MODEL_CONFIG_H
#define SPAR_MODEL_CONFIG_H

#include <stdint.h>

#include "spar/spar_status.h"

typedef enum spar_arch { SPAR_ARCH_BERT = 0, SPAR_ARCH_DISTILBERT = 1 } spar_arch;
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
    float ln_eps;             /* BERT: layer_norm_eps; DistilBERT: 1e-12 (fixed in HF code) */
    spar_act act;
} spar_model_config;

/** Parse config.json text (len bytes). `label` names the source in diagnostics. */
spar_status spar_model_config_parse(const char *json, size_t len, const char *label, spar_model_config *out,
                                    spar_diag *diag);
/** Read and parse a config.json file. */
spar_status spar_model_config_load(const char *path, spar_model_config *out, spar_diag *diag);

#endif
