/* idf_query.h — inference-free query encoding (encoders/sparse): query text -> {token id: idf weight}, the
 * query side of OpenSearch's doc-only neural sparse models (opensearch-neural-sparse-encoding-doc-v*), whose
 * idf.json maps every WordPiece string to a weight. Semantics, as ml-commons' SPARSE_TOKENIZE model does it:
 * tokenize with [CLS]/[SEP], keep each DISTINCT id once (no term-frequency), drop special tokens, weight =
 * idf[token], or default_weight (1.0) for tokens idf.json does not list. See docs/encoders/tokenizer.md.
 * Thread-safety: a spar_idf is immutable after load; share freely. Encode writes only caller buffers. */
#ifndef SPAR_IDF_QUERY_H
#define SPAR_IDF_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "encoders/tokenizer/tokenizer.h"
#include "spar/spar_status.h"

typedef struct spar_idf spar_idf;

typedef struct spar_idf_info {
    uint32_t vocab_size;  /* of the tokenizer it was loaded against */
    uint32_t n_entries;   /* entries in idf.json */
    uint32_t n_matched;   /* entries whose token is in the vocabulary */
    uint32_t n_unmatched; /* entries naming no vocabulary token (ignored) */
    float default_weight; /* weight of vocabulary tokens idf.json does not list */
} spar_idf_info;

/** Load idf.json ({"token": weight, ...}) and resolve every token against `tok` (not kept; the spar_idf is
 *  only valid with tokenizers of the same vocabulary). Weights must be finite numbers.
 *  @return SPAR_OK, SPAR_E_IO, SPAR_E_NOT_FOUND, SPAR_E_CORRUPT (malformed JSON: diag names the byte;
 *          a non-number or non-finite weight: diag names the token), SPAR_E_NOMEM. */
SPAR_NODISCARD spar_status spar_idf_load(const char *path, const spar_tokenizer *tok, spar_idf **out,
                                         spar_diag *diag);
/** Same from memory (`json` is not kept; `label` names it in diagnostics, NULL ok). */
SPAR_NODISCARD spar_status spar_idf_load_mem(const char *json, size_t len, const spar_tokenizer *tok,
                                             const char *label, spar_idf **out, spar_diag *diag);
void spar_idf_free(spar_idf *idf); /* NULL is a no-op */
void spar_idf_get_info(const spar_idf *idf, spar_idf_info *info);
/** Weight of id (default_weight for unlisted ids; 0 for ids outside the vocabulary). */
float spar_idf_weight(const spar_idf *idf, uint32_t id);

typedef struct spar_idf_query_opts {
    spar_tokenize_opts tok; /* default: max_len 512, add_special 1, strict UTF-8 */
    int keep_special;       /* 0 (default): drop [CLS] [SEP] [UNK] [PAD] [MASK]; 1: keep them with their
                               idf weight (the HF model-card code does; doc vectors zero them anyway) */
} spar_idf_query_opts;
spar_idf_query_opts spar_idf_query_opts_default(void);

/** Encode one query: writes n entries, ids strictly ascending, into ids[] / weights[] (cap entries each).
 *  The tokens are staged in ids[], so cap must hold the query's full token count (before de-duplication):
 *  spar_tokenizer_encode_bound(len) always does; if cap is too small the call returns SPAR_E_INVALID_ARG
 *  and *n = the capacity needed.
 *  @return SPAR_OK, SPAR_E_INVALID_ARG (also: `tok` has another vocabulary size than the idf was loaded
 *          with), SPAR_E_CORRUPT (invalid UTF-8 in strict mode), SPAR_E_NOMEM. */
SPAR_NODISCARD spar_status spar_idf_query_encode(const spar_idf *idf, const spar_tokenizer *tok, const char *text,
                                                 size_t len, const spar_idf_query_opts *opts, uint32_t *ids,
                                                 float *weights, size_t cap, size_t *n, spar_diag *diag);

#endif
