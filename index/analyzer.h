/* index/analyzer.h — text analysis: UTF-8 -> terms. Unicode case folding and accent removal (utf8proc),
 * tokenization on Unicode letter/digit runs (with Lucene-English-like handling of possessives and
 * apostrophes), optional stopwords, Snowball/Porter stemming (libstemmer). The settings are stored in the
 * index (spar_analysis_opts) so that queries are analysed exactly as documents were.
 * Contract for the index builder and query/. An analyzer is NOT thread-safe: one per thread. */
#ifndef SPAR_INDEX_ANALYZER_H
#define SPAR_INDEX_ANALYZER_H

#include "common/common.h"
#include "spar/spar_index.h"

typedef struct spar_analyzer spar_analyzer;

/* Terms produced by one analyse call: term i is data[off[i] .. off[i]+len[i]) (not NUL-terminated).
 * Append-only; reset with n = 0, used = 0. Owned by the caller; grown with realloc. */
typedef struct spar_terms {
    char *data;
    size_t used, cap;
    uint32_t *off;
    uint32_t *len;
    uint32_t n, ncap;
} spar_terms;
void spar_terms_reset(spar_terms *t);
void spar_terms_free(spar_terms *t);

/* @return SPAR_OK, SPAR_E_INVALID_ARG (unknown stemmer/stopword list; diag says which), SPAR_E_NOMEM. */
spar_status spar_analyzer_create(const spar_analysis_opts *o, spar_analyzer **out, spar_diag *diag);
void spar_analyzer_free(spar_analyzer *a);
/* Append the terms of `text` to `out`. Invalid UTF-8 bytes are treated as separators (never a crash).
 * @return SPAR_OK or SPAR_E_NOMEM. */
spar_status spar_analyze(spar_analyzer *a, const char *text, size_t len, spar_terms *out);

/* Settings <-> a stable one-line text form stored in the index ("lowercase=1;strip_accents=1;...").
 * parse returns SPAR_E_CORRUPT for malformed text. */
spar_status spar_analysis_opts_format(const spar_analysis_opts *o, char *buf, size_t cap);
spar_status spar_analysis_opts_parse(const char *s, size_t len, spar_analysis_opts *o);

#endif
