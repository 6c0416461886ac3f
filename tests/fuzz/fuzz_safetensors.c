/* fuzz_safetensors.c — libFuzzer target for the safetensors reader (encoders/model/safetensors.h) and the
 * config.json reader. The reader must return SPAR_OK or SPAR_E_CORRUPT and never read outside the input;
 * on success every F32/F16/BF16 tensor is converted so each validated byte range is actually touched, and the
 * file is offered to the BERT, DistilBERT and ModernBERT loaders with tiny configs (name/shape matching and
 * reporting). */
#include <stdint.h>
#include <stdlib.h>

#include "encoders/model/bert.h"
#include "encoders/model/config.h"
#include "encoders/model/modernbert.h"
#include "encoders/model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Copy to an exact-size heap block so ASan catches any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL) return 0;
    for (size_t i = 0; i < size; i++) buf[i] = data[i];
    spar_safetensors *st = NULL;
    spar_diag d;
    spar_status s = spar_safetensors_parse(buf, size, "fuzz", &st, &d);
    if (s != SPAR_OK && s != SPAR_E_CORRUPT) abort();
    if (s == SPAR_OK) {
        for (size_t i = 0; i < spar_safetensors_count(st); i++) {
            const spar_st_tensor *t = spar_safetensors_at(st, i);
            if (t->numel > (1u << 20)) continue;
            float *f = malloc((size_t)t->numel * sizeof(float) + 1);
            if (f == NULL) continue;
            spar_status c = spar_st_to_f32(t, f);
            if (c != SPAR_OK && c != SPAR_E_UNSUPPORTED) abort();
            if (spar_safetensors_find(st, t->name) != t) abort();
            free(f);
        }
        for (int arch = 0; arch < 2; arch++) {
            spar_model_config c = {.arch = (spar_arch)arch, .vocab_size = 8, .hidden = 4, .n_layers = 1, .n_heads = 2,
                                   .intermediate = 8, .max_positions = 4, .type_vocab_size = arch == 0 ? 2 : 0,
                                   .pad_token_id = 0, .ln_eps = 1e-12f, .act = SPAR_ACT_GELU};
            spar_bert *m = NULL;
            spar_status ls = spar_bert_from_tensors(&c, st, "fuzz", &m, &d);
            if (ls != SPAR_OK && ls != SPAR_E_CORRUPT && ls != SPAR_E_UNSUPPORTED) abort();
            spar_bert_free(m);
        }
        /* ModernBERT binding (tiny config: 1 global layer, head width 2, MLM head with a decoder bias) */
        spar_model_config mc = {.arch = SPAR_ARCH_MODERNBERT, .vocab_size = 8, .hidden = 4, .n_layers = 1,
                                .n_heads = 2, .intermediate = 8, .max_positions = 4, .ln_eps = 1e-5f,
                                .act = SPAR_ACT_GELU, .head_act = SPAR_ACT_GELU, .local_window = 2, .global_every = 1,
                                .layer_global = {1}, .rope_theta_global = 160000.0f, .rope_theta_local = 10000.0f,
                                .decoder_bias = 1, .tie_embeddings = 1, .cls_token_id = -1, .sep_token_id = -1,
                                .mask_token_id = -1};
        spar_mbert *mb = NULL;
        spar_status ms = spar_mbert_from_tensors(&mc, st, "fuzz", &mb, &d);
        if (ms != SPAR_OK && ms != SPAR_E_CORRUPT && ms != SPAR_E_UNSUPPORTED) abort();
        if ((ms == SPAR_OK) != (mb != NULL)) abort();
        spar_mbert_free(mb);
        spar_safetensors_close(st);
    }
    spar_model_config cfg;
    s = spar_model_config_parse((const char *)buf, size, "fuzz", &cfg, &d);
    if (s != SPAR_OK && s != SPAR_E_CORRUPT && s != SPAR_E_UNSUPPORTED) abort();
    free(buf);
    return 0;
}
