/* idf_query.c — inference-free sparse query encoder (encoders/sparse; contract: idf_query.h).
 * Loads an OpenSearch idf.json into a dense per-id weight table of the tokenizer's vocabulary, then encodes a
 * query as the set of its distinct non-special WordPiece ids weighted by that table — the query side of the
 * doc-only neural sparse models (ml-commons SPARSE_TOKENIZE: distinct ids, specials dropped, missing -> 1.0). */
#include "encoders/sparse/idf_query.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

struct spar_idf {
    float *w; /* [vocab_size] */
    spar_idf_info info;
};

void spar_idf_free(spar_idf *idf) {
    if (idf == NULL) return;
    free(idf->w);
    free(idf);
}

void spar_idf_get_info(const spar_idf *idf, spar_idf_info *info) { *info = idf->info; }

float spar_idf_weight(const spar_idf *idf, uint32_t id) { return id < idf->info.vocab_size ? idf->w[id] : 0.0f; }

spar_status spar_idf_load_mem(const char *json, size_t len, const spar_tokenizer *tok, const char *label,
                              spar_idf **out, spar_diag *diag) {
    if (out == NULL || tok == NULL || (json == NULL && len > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (label == NULL) label = "idf.json";
    spar_status st = SPAR_OK;
    const char *end = NULL;
    spar_idf *idf = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json ? json : "", len, &end, 0);
    if (root == NULL) {
        size_t at = (end != NULL && json != NULL && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: malformed JSON", label, at);
    }
    for (size_t at = end ? (size_t)(end - json) : len; at < len; at++) /* cJSON stops after the value */
        if (json[at] != ' ' && json[at] != '\t' && json[at] != '\r' && json[at] != '\n') {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: unexpected data after the JSON object", label, at);
            goto done;
        }
    /* a NUL (raw or \u0000) would end the C string cJSON returns for a key: "th\u0000e" would weigh "th" */
    for (size_t at = 0; at < len; at++) {
        if (json[at] == '\0') {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: NUL character", label, at);
            goto done;
        }
        if (json[at] != '\\') continue;
        if (len - at >= 6 && memcmp(json + at + 1, "u0000", 5) == 0) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: \\u0000 (NUL) in a token", label, at);
            goto done;
        }
        if (at + 1 < len && json[at + 1] != '\0') at++; /* skip the escaped character: "\\\\" + "u0000" is text */
    }
    if (!cJSON_IsObject(root)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: top level is not an object {token: weight}", label);
        goto done;
    }
    uint32_t V = spar_tokenizer_vocab_size(tok);
    if ((idf = calloc(1, sizeof *idf)) == NULL || (idf->w = spar_malloc_array(V ? V : 1, sizeof *idf->w)) == NULL) {
        st = spar_diag_err(diag, SPAR_E_NOMEM, "%s: out of memory", label);
        goto done;
    }
    idf->info.vocab_size = V;
    idf->info.default_weight = 1.0f;
    for (uint32_t i = 0; i < V; i++) idf->w[i] = spar_tokenizer_token_str(tok, i, NULL) ? 1.0f : 0.0f;
    for (const cJSON *e = root->child; e != NULL; e = e->next) {
        /* >= 0: the sparse searchers refuse negative query weights, so one here would fail every query using it */
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= FLT_MAX)) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: entry \"%.64s\": weight is not a finite number >= 0", label,
                               e->string ? e->string : "");
            goto done;
        }
        idf->info.n_entries++;
        int64_t id = spar_tokenizer_token_id(tok, e->string, strlen(e->string));
        if (id < 0) {
            idf->info.n_unmatched++;
            continue;
        }
        idf->info.n_matched++;
        idf->w[id] = (float)e->valuedouble; /* a repeated key: the last one wins (Gson/Python dict) */
    }
    *out = idf;
    idf = NULL;
done:
    spar_idf_free(idf);
    cJSON_Delete(root);
    return st;
}

spar_status spar_idf_load(const char *path, const spar_tokenizer *tok, spar_idf **out, spar_diag *diag) {
    if (path == NULL || out == NULL || tok == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return spar_diag_err(diag, errno == ENOENT ? SPAR_E_NOT_FOUND : SPAR_E_IO, "open %s: %s", path, strerror(errno));
    spar_status st = SPAR_OK;
    char *buf = NULL;
    long sz;
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "seek %s: %s", path, strerror(errno));
        goto done;
    }
    if ((buf = malloc((size_t)sz + 1)) == NULL) {
        st = spar_diag_err(diag, SPAR_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        st = spar_diag_err(diag, SPAR_E_IO, "read %s: short read", path);
        goto done;
    }
    st = spar_idf_load_mem(buf, (size_t)sz, tok, path, out, diag);
done:
    free(buf);
    fclose(f);
    return st;
}

spar_idf_query_opts spar_idf_query_opts_default(void) {
    spar_idf_query_opts o;
    o.tok = spar_tokenize_opts_default();
    o.keep_special = 0;
    return o;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

spar_status spar_idf_query_encode(const spar_idf *idf, const spar_tokenizer *tok, const char *text, size_t len,
                                  const spar_idf_query_opts *opts, uint32_t *ids, float *weights, size_t cap,
                                  size_t *n, spar_diag *diag) {
    if (idf == NULL || tok == NULL || n == NULL || (cap > 0 && (ids == NULL || weights == NULL)))
        return SPAR_E_INVALID_ARG;
    *n = 0;
    if (spar_tokenizer_vocab_size(tok) != idf->info.vocab_size)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "tokenizer has %u ids, idf table %u",
                             spar_tokenizer_vocab_size(tok), idf->info.vocab_size);
    spar_idf_query_opts o = opts ? *opts : spar_idf_query_opts_default();
    size_t nt = 0;
    spar_status st = spar_tokenizer_encode(tok, text, len, &o.tok, ids, NULL, cap, &nt, diag);
    if (st != SPAR_OK) {
        if (st == SPAR_E_INVALID_ARG) *n = nt;
        return st;
    }
    qsort(ids, nt, sizeof *ids, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        if (k > 0 && ids[k - 1] == ids[i]) continue;
        if (!o.keep_special && spar_tokenizer_is_special(tok, ids[i])) continue;
        ids[k] = ids[i];
        weights[k] = idf->w[ids[i]];
        k++;
    }
    *n = k;
    return SPAR_OK;
}
