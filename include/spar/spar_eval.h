/* spar_eval.h — relevance evaluation of TREC runs against qrels, with trec_eval's definitions.
 *
 * Qrels: BEIR TSV (header "query-id corpus-id score", tab-separated) or TREC ("qid 0 docid rel").
 * Runs: TREC run format ("qid Q0 docid rank score tag"); as trec_eval does, documents are re-sorted per
 * query by score descending (ties: docid descending, trec_eval's order) and the given rank is ignored. */
#ifndef SPAR_EVAL_H
#define SPAR_EVAL_H

#include "spar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spar_qrels spar_qrels;
typedef struct spar_run spar_run;

SPAR_API SPAR_NODISCARD spar_status spar_qrels_load(const char *path, spar_qrels **out, spar_diag *diag);
SPAR_API void spar_qrels_free(spar_qrels *q);
SPAR_API SPAR_NODISCARD spar_status spar_run_load(const char *path, spar_run **out, spar_diag *diag);
SPAR_API void spar_run_free(spar_run *r);
/** Lines dropped at load because their (qid, docid) pair appeared earlier in the same file (the first
 *  occurrence is kept; trec_eval would refuse the file). A warning naming file:line goes to spar_log. */
SPAR_API uint64_t spar_run_duplicates(const spar_run *r);
SPAR_API uint64_t spar_qrels_duplicates(const spar_qrels *q);

typedef struct spar_eval_metrics {
    double ndcg_10;
    double map;       /* trec_eval "map" (all retrieved, normalised by number relevant) */
    double recall_100;
    double recall_1000;
    double mrr_10;    /* reciprocal rank of the first relevant doc within the top 10 */
} spar_eval_metrics;

typedef struct spar_eval_result {
    uint32_t n_queries; /* queries averaged: those in the qrels with ≥1 relevant doc; one absent from the run
                           scores 0 (trec_eval -c). Unlike trec_eval, queries whose judgments are all
                           non-relevant are not averaged (as BEIR / ir_measures do). */
    spar_eval_metrics mean;
} spar_eval_result;

/** Per-query callback (may be NULL): called in qrels query-id order. */
typedef void (*spar_eval_query_fn)(void *ud, const char *qid, const spar_eval_metrics *m);

SPAR_API SPAR_NODISCARD spar_status spar_eval(const spar_qrels *q, const spar_run *r, spar_eval_query_fn per_query,
                                              void *ud, spar_eval_result *out);

#ifdef __cplusplus
}
#endif
#endif
