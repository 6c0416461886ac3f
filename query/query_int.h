/* query/query_int.h — internal contract between the searcher (search.c) and the top-k algorithms
 * (daat.c, maxscore.c, bmw.c). Private to query/; tests include it to run the algorithms on lists built
 * in memory (no segment needed).
 *
 * A query is an array of terms in CANONICAL order (search.c: dictionary order, duplicates merged into
 * one term whose weight is count * idf). The score of a document is
 *      s = 0.0f;  for i in canonical order, if term i matches:  s += spar_q_contrib(w_i, tf_i, norm[d])
 * evaluated in float exactly like that (no FMA contraction, see below), by every algorithm, so all
 * algorithms produce bit-identical scores. Pruning uses upper bounds multiplied by ctx->margin, a
 * relative slack that covers float rounding in both the bound and the canonical sum (see docs/query.md).
 * Documents are offered to the top-k in ascending docid order, so a document enters only if its score is
 * strictly greater than the current k-th score (ties keep the lower, earlier docid). */
#ifndef SPAR_QUERY_INT_H
#define SPAR_QUERY_INT_H

#include <stdint.h>

#include "index/postings.h"
#include "query/topk.h"

/* Scores must be evaluated without fused multiply-add so that every call site rounds identically. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef struct spar_qterm {
    spar_cursor *cur; /* positioned on the list's first posting */
    float w;          /* weight: count * idf */
    float max_score;  /* w * (upper bound of tfpart over the whole list) */
    uint32_t canon;   /* position in canonical order (== index in ctx->terms) */
    /* algorithm-private block-max cache (BMW): bound of the shallow block ending at bm_last */
    float bm;
    uint32_t bm_last;
} spar_qterm;

typedef struct spar_qctx {
    spar_qterm *terms;  /* n terms, canonical order */
    uint32_t n;
    const float *norm;  /* norm[d] = k1 * (1 - b + b * dl[d] / avgdl); unused when norm8 is set */
    /* segment norms: norm of d = norm_tab[norm8[d]] (1 byte per document, cache-friendlier than 4) */
    const uint8_t *norm8;
    const float *norm_tab; /* 256 entries */
    /* block-max bounds: if recorded_params, tfpart bound = spar_cursor_block_max_tfpart; otherwise
     * tf / (tf + k1 * (1 - b + b * dl / avgdl)) at (block_max_tf, block_min_dl) */
    int recorded_params;
    float k1, b, avgdl;
    float margin;       /* >= 1: bounds are multiplied by it before comparing with the threshold */
    spar_topk *topk;    /* reset to k by the caller */
    /* scratch, n entries each, owned by the caller: */
    float *contrib;     /* zeroed on entry, left zeroed */
    uint32_t *order;
    float *bound;
    uint32_t *touched;
    uint64_t n_scored;  /* statistics: documents fully scored (incremented by the algorithms) */
} spar_qctx;

/* Contribution of one posting; the one expression every algorithm uses. */
static inline float spar_q_contrib(float w, uint32_t tf, float norm) {
    const float ftf = (float)tf;
    return w * (ftf / (ftf + norm));
}

/* BM25 length norm of document d (the branch is the same for a whole query). */
static inline float spar_q_norm(const spar_qctx *q, uint32_t d) {
    return q->norm8 ? q->norm_tab[q->norm8[d]] : q->norm[d];
}

/* Prefetch the norm of the cursor's (new) current document: the norms are the one random access of
 * the scoring loop. */
static inline void spar_q_prefetch_norm(const spar_qctx *q, const spar_cursor *c) {
    if (c->docid == SPAR_DOCID_END) return;
    if (q->norm8)
        __builtin_prefetch(q->norm8 + c->docid);
    else
        __builtin_prefetch(q->norm + c->docid);
}

/* Upper bound of the tfpart at (max tf, min dl) for non-recorded params (monotone in tf and dl).
 * max_tf 0 (a shallow position past the end of the list) bounds nothing: 0, never 0/0. */
static inline float spar_q_tfpart_bound(const spar_qctx *q, uint32_t max_tf, uint32_t min_dl) {
    if (max_tf == 0) return 0.0f;
    const float ftf = (float)max_tf;
    const float nrm = q->k1 * (1.0f - q->b + q->b * ((float)min_dl / q->avgdl));
    return ftf / (ftf + (nrm > 0 ? nrm : 0.0f));
}

/* Block-max bound of term t at its cursor's shallow block. */
static inline float spar_q_block_bound(const spar_qctx *q, const spar_qterm *t) {
    if (q->recorded_params) return t->w * spar_cursor_block_max_tfpart(t->cur);
    return t->w * spar_q_tfpart_bound(q, spar_cursor_block_max_tf(t->cur), spar_cursor_block_min_dl(t->cur));
}

/* Canonical score of a document whose matched terms' contributions sit in ctx->contrib at the nt slots
 * listed in touched[] (any order); re-zeroes those slots. One match: the contribution itself
 * (0.0f + c == c exactly); otherwise the canonical scan of all n slots. */
static inline float spar_q_doc_score(const spar_qctx *q, const uint32_t *touched, uint32_t nt) {
    float s;
    if (nt == 1) {
        s = q->contrib[touched[0]];
    } else {
        s = 0.0f;
        for (uint32_t i = 0; i < q->n; i++) s += q->contrib[i];
    }
    for (uint32_t i = 0; i < nt; i++) q->contrib[touched[i]] = 0.0f;
    return s;
}

/* Relative slack for a query of n terms: covers (2n + 16) float roundings with a factor 2 to spare. */
static inline float spar_q_margin(uint32_t n) { return 1.0f + (float)(2u * n + 16u) * 0x1p-23f; }

/* norm[d] = k1 * (1 - b + b * dl[d] / avgdl) for d < n_docs, in double rounded to float (the writer's
 * bounds use the same formula). avgdl <= 0 counts every document as average. */
static inline void spar_q_fill_norm(float *norm, const uint32_t *dl, uint32_t n_docs, float k1, float b,
                                    float avgdl) {
    for (uint32_t d = 0; d < n_docs; d++) {
        const double rel = avgdl > 0 ? (double)dl[d] / (double)avgdl : 1.0;
        const double nrm = (double)k1 * (1.0 - (double)b + (double)b * rel);
        norm[d] = (float)(nrm > 0 ? nrm : 0.0);
    }
}

/* Fill term `canon` of q (q->k1/b/avgdl/recorded_params set): cursor c already opened on the list of ti,
 * count = occurrences in the query, n_docs = collection size. */
static inline void spar_q_set_term(spar_qctx *q, uint32_t canon, spar_cursor *c, const spar_term_info *ti,
                                   uint32_t count, uint64_t n_docs) {
    spar_qterm *t = &q->terms[canon];
    t->cur = c;
    t->w = (float)count * spar_bm25_idf(n_docs, ti->df);
    t->canon = canon;
    const float tp = q->recorded_params ? ti->max_tfpart : spar_q_tfpart_bound(q, ti->max_tf, ti->min_dl);
    t->max_score = t->w * tp;
    q->contrib[canon] = 0.0f;
}

/* The algorithms: collect the top-k of ctx into ctx->topk. Never allocate. */
void spar_q_exhaustive(spar_qctx *q);
void spar_q_maxscore(spar_qctx *q);
void spar_q_bmw(spar_qctx *q);

#endif
