/* config.c — config.json reader for BERT, DistilBERT and ModernBERT (cJSON). Unknown keys are ignored, as in
 * transformers; missing required keys, non-integer sizes, out-of-range sizes and unsupported activations
 * are SPAR_E_CORRUPT / SPAR_E_UNSUPPORTED with the key named. Contract: encoders/model/config.h. */
#include "encoders/model/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

static spar_status get_u32(const cJSON *root, const char *key, uint32_t lo, uint32_t hi, int required, uint32_t dflt,
                           const char *label, uint32_t *out, spar_diag *diag) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (j == NULL || cJSON_IsNull(j)) {
        if (required) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: missing \"%s\"", label, key);
        *out = dflt;
        return SPAR_OK;
    }
    double v = cJSON_IsNumber(j) ? j->valuedouble : -1;
    if (!cJSON_IsNumber(j) || floor(v) != v || v < lo || v > hi)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"%s\" must be an integer in [%u, %u]", label, key, lo, hi);
    *out = (uint32_t)v;
    return SPAR_OK;
}

static spar_status get_act(const cJSON *root, const char *key, const char *label, spar_act *out, spar_diag *diag) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (j == NULL) { *out = SPAR_ACT_GELU; return SPAR_OK; }
    if (!cJSON_IsString(j)) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"%s\" must be a string", label, key);
    if (strcmp(j->valuestring, "gelu") == 0) *out = SPAR_ACT_GELU;
    else if (strcmp(j->valuestring, "relu") == 0) *out = SPAR_ACT_RELU;
    else return spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: activation \"%.40s\" not supported (gelu, relu)", label,
                              j->valuestring);
    return SPAR_OK;
}

static spar_status get_bool(const cJSON *root, const char *key, int dflt, const char *label, uint8_t *out,
                            spar_diag *diag) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (j == NULL || cJSON_IsNull(j)) { *out = (uint8_t)dflt; return SPAR_OK; }
    if (!cJSON_IsBool(j)) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"%s\" must be true or false", label, key);
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return SPAR_OK;
}

/* A positive number (RoPE theta, epsilon) in (0, hi]; `dflt` when absent. */
static spar_status get_pos(const cJSON *j, const char *key, double hi, float dflt, const char *label, float *out,
                           spar_diag *diag) {
    if (j == NULL || cJSON_IsNull(j)) { *out = dflt; return SPAR_OK; }
    /* checked as the float it becomes: 1e-50 would round to 0 (a LayerNorm dividing by sqrt(var + 0)) */
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0 && j->valuedouble <= hi && (float)j->valuedouble > 0))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"%s\" must be a number in (0, %g] (float32)", label, key, hi);
    *out = (float)j->valuedouble;
    return SPAR_OK;
}

static spar_status get_id(const cJSON *root, const char *key, uint32_t vocab, const char *label, int64_t *out,
                          spar_diag *diag) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = -1;
    if (j == NULL || cJSON_IsNull(j)) return SPAR_OK;
    if (!cJSON_IsNumber(j) || floor(j->valuedouble) != j->valuedouble || j->valuedouble < 0 || j->valuedouble >= vocab)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"%s\" must be a token id below vocab_size %u", label, key, vocab);
    *out = (int64_t)j->valuedouble;
    return SPAR_OK;
}

/* RoPE theta of one attention kind: rope_parameters.<kind>.rope_theta (transformers >= 5), else the flat key
 * (global_rope_theta / local_rope_theta), else the default. */
static spar_status get_theta(const cJSON *root, const char *kind, const char *flat, float dflt, const char *label,
                             float *out, spar_diag *diag) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    const cJSON *k = cJSON_IsObject(rp) ? cJSON_GetObjectItemCaseSensitive(rp, kind) : NULL;
    const cJSON *th = cJSON_IsObject(k) ? cJSON_GetObjectItemCaseSensitive(k, "rope_theta") : NULL;
    if (cJSON_IsObject(k)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(k, "rope_type");
        if (ty != NULL && (!cJSON_IsString(ty) || strcmp(ty->valuestring, "default") != 0))
            return spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: rope_parameters.%s: only rope_type \"default\" is supported",
                                 label, kind);
    }
    if (th != NULL) return get_pos(th, "rope_theta", 1e12, dflt, label, out, diag);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (rs != NULL && !cJSON_IsNull(rs))
        return spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: rope_scaling is not supported", label);
    return get_pos(cJSON_GetObjectItemCaseSensitive(root, flat), flat, 1e12, dflt, label, out, diag);
}

static spar_status parse_modernbert(const cJSON *root, const char *label, spar_model_config *c, spar_diag *diag) {
    c->arch = SPAR_ARCH_MODERNBERT;
    SPAR_TRY(get_u32(root, "vocab_size", 1, 1u << 22, 1, 0, label, &c->vocab_size, diag));
    SPAR_TRY(get_u32(root, "hidden_size", 1, 16384, 1, 0, label, &c->hidden, diag));
    SPAR_TRY(get_u32(root, "num_hidden_layers", 1, 256, 1, 0, label, &c->n_layers, diag));
    SPAR_TRY(get_u32(root, "num_attention_heads", 1, 1024, 1, 0, label, &c->n_heads, diag));
    SPAR_TRY(get_u32(root, "intermediate_size", 1, 65536, 1, 0, label, &c->intermediate, diag));
    SPAR_TRY(get_u32(root, "max_position_embeddings", 1, 1u << 20, 0, 8192, label, &c->max_positions, diag));
    SPAR_TRY(get_u32(root, "local_attention", 2, 1u << 20, 0, 128, label, &c->local_window, diag));
    SPAR_TRY(get_u32(root, "global_attn_every_n_layers", 1, 256, 0, 3, label, &c->global_every, diag));
    SPAR_TRY(get_act(root, "hidden_activation", label, &c->act, diag));
    SPAR_TRY(get_act(root, "classifier_activation", label, &c->head_act, diag));
    SPAR_TRY(get_pos(cJSON_GetObjectItemCaseSensitive(root, "norm_eps"), "norm_eps", 1.0, 1e-5f, label, &c->ln_eps, diag));
    SPAR_TRY(get_theta(root, "full_attention", "global_rope_theta", 160000.0f, label, &c->rope_theta_global, diag));
    SPAR_TRY(get_theta(root, "sliding_attention", "local_rope_theta", 10000.0f, label, &c->rope_theta_local, diag));
    SPAR_TRY(get_bool(root, "attention_bias", 0, label, &c->attention_bias, diag));
    SPAR_TRY(get_bool(root, "mlp_bias", 0, label, &c->mlp_bias, diag));
    SPAR_TRY(get_bool(root, "norm_bias", 0, label, &c->norm_bias, diag));
    SPAR_TRY(get_bool(root, "classifier_bias", 0, label, &c->classifier_bias, diag));
    SPAR_TRY(get_bool(root, "decoder_bias", 1, label, &c->decoder_bias, diag));
    SPAR_TRY(get_bool(root, "tie_word_embeddings", 1, label, &c->tie_embeddings, diag));
    SPAR_TRY(get_id(root, "cls_token_id", c->vocab_size, label, &c->cls_token_id, diag));
    SPAR_TRY(get_id(root, "sep_token_id", c->vocab_size, label, &c->sep_token_id, diag));
    SPAR_TRY(get_id(root, "mask_token_id", c->vocab_size, label, &c->mask_token_id, diag));
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
    if (lt != NULL && !cJSON_IsNull(lt)) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != (int)c->n_layers)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"layer_types\" must list %u layers", label, c->n_layers);
        for (uint32_t i = 0; i < c->n_layers; i++) {
            const cJSON *e = cJSON_GetArrayItem(lt, (int)i);
            if (cJSON_IsString(e) && strcmp(e->valuestring, "full_attention") == 0) c->layer_global[i] = 1;
            else if (cJSON_IsString(e) && strcmp(e->valuestring, "sliding_attention") == 0) c->layer_global[i] = 0;
            else return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: layer_types[%u] must be \"full_attention\" or "
                                      "\"sliding_attention\"", label, i);
        }
    } else {
        for (uint32_t i = 0; i < c->n_layers; i++) c->layer_global[i] = i % c->global_every == 0;
    }
    c->type_vocab_size = 0;
    return SPAR_OK;
}

spar_status spar_model_config_parse(const char *json, size_t len, const char *label, spar_model_config *c,
                                    spar_diag *diag) {
    spar_status st = SPAR_OK;
    if (json == NULL || c == NULL) return SPAR_E_INVALID_ARG;
    if (label == NULL) label = "config.json";
    memset(c, 0, sizeof *c);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    size_t at = (end != NULL && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
    if (root == NULL) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: malformed JSON", label, at);
        goto done;
    }
    while (at < len && (json[at] == ' ' || json[at] == '\t' || json[at] == '\r' || json[at] == '\n')) at++;
    if (at < len) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: unexpected data after the JSON value", label, at);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: not a JSON object", label);
        goto done;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: missing string \"model_type\"", label);
        goto done;
    }
    if (strcmp(mt->valuestring, "bert") == 0) {
        c->arch = SPAR_ARCH_BERT;
        SPAR_TRY_GOTO(st, get_u32(root, "vocab_size", 1, 1u << 22, 1, 0, label, &c->vocab_size, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "hidden_size", 1, 16384, 1, 0, label, &c->hidden, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "num_hidden_layers", 1, 256, 1, 0, label, &c->n_layers, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "num_attention_heads", 1, 1024, 1, 0, label, &c->n_heads, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "intermediate_size", 1, 65536, 1, 0, label, &c->intermediate, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "max_position_embeddings", 1, 65536, 1, 0, label, &c->max_positions, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "type_vocab_size", 1, 1024, 0, 2, label, &c->type_vocab_size, diag), done);
        SPAR_TRY_GOTO(st, get_act(root, "hidden_act", label, &c->act, diag), done);
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
        if (pe != NULL && (!cJSON_IsString(pe) || strcmp(pe->valuestring, "absolute") != 0)) {
            st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: only absolute position embeddings are supported", label);
            goto done;
        }
        const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
        c->ln_eps = 1e-12f;
        if (eps != NULL) {
            if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble <= 1 && (float)eps->valuedouble > 0)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"layer_norm_eps\" must be in (0, 1] (float32)", label);
                goto done;
            }
            c->ln_eps = (float)eps->valuedouble;
        }
    } else if (strcmp(mt->valuestring, "distilbert") == 0) {
        c->arch = SPAR_ARCH_DISTILBERT;
        SPAR_TRY_GOTO(st, get_u32(root, "vocab_size", 1, 1u << 22, 1, 0, label, &c->vocab_size, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "dim", 1, 16384, 1, 0, label, &c->hidden, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "n_layers", 1, 256, 1, 0, label, &c->n_layers, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "n_heads", 1, 1024, 1, 0, label, &c->n_heads, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "hidden_dim", 1, 65536, 1, 0, label, &c->intermediate, diag), done);
        SPAR_TRY_GOTO(st, get_u32(root, "max_position_embeddings", 1, 65536, 1, 0, label, &c->max_positions, diag), done);
        SPAR_TRY_GOTO(st, get_act(root, "activation", label, &c->act, diag), done);
        c->type_vocab_size = 0;
        c->ln_eps = 1e-12f;
    } else if (strcmp(mt->valuestring, "modernbert") == 0) {
        SPAR_TRY_GOTO(st, parse_modernbert(root, label, c, diag), done);
    } else {
        st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: model_type \"%.40s\" not supported (bert, distilbert, modernbert)",
                           label, mt->valuestring);
        goto done;
    }
    SPAR_TRY_GOTO(st, get_u32(root, "pad_token_id", 0, c->vocab_size - 1, 0, 0, label, &c->pad_token_id, diag), done);
    if (c->hidden % c->n_heads != 0) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: hidden size %u is not a multiple of %u heads", label, c->hidden,
                           c->n_heads);
        goto done;
    }
    if (c->arch == SPAR_ARCH_MODERNBERT && (c->hidden / c->n_heads) % 2 != 0) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: head width %u must be even for rotary embeddings", label,
                           c->hidden / c->n_heads);
        goto done;
    }
done:
    cJSON_Delete(root);
    return st;
}

spar_status spar_model_config_load(const char *path, spar_model_config *out, spar_diag *diag) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return spar_diag_err(diag, errno == ENOENT ? SPAR_E_NOT_FOUND : SPAR_E_IO, "open %s: %s", path, strerror(errno));
    char *buf = NULL;
    spar_status st = SPAR_OK;
    if (fseek(f, 0, SEEK_END) != 0) { st = spar_diag_err(diag, SPAR_E_IO, "seek %s", path); goto done; }
    long n = ftell(f);
    if (n < 0 || n > (1 << 20)) { st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: size %ld not in [0, 1 MiB]", path, n); goto done; }
    rewind(f);
    if ((buf = malloc((size_t)n + 1)) == NULL) { st = SPAR_E_NOMEM; goto done; }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { st = spar_diag_err(diag, SPAR_E_IO, "read %s", path); goto done; }
    buf[n] = 0;
    st = spar_model_config_parse(buf, (size_t)n, path, out, diag);
done:
    free(buf);
    fclose(f);
    return st;
}
