/* spar_query.h — BM25 top-k search over an opened index.
 *
 * A spar_searcher is per-thread scratch (never share one between threads); the spar_index it reads is
 * shared. Every algorithm returns exactly the exhaustive top-k: hits are ordered by score descending,
 * ties broken by docid ascending, and scores are summed in one canonical order whatever the algorithm. */
#ifndef SPAR_QUERY_H
#define SPAR_QUERY_H

#include "spar_index.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum spar_algo {
    SPAR_ALGO_DEFAULT = 0,    /* the fastest safe algorithm (currently MaxScore or BMW, see docs) */
    SPAR_ALGO_EXHAUSTIVE = 1, /* DAAT over every posting: the oracle */
    SPAR_ALGO_MAXSCORE = 2,
    SPAR_ALGO_BMW = 3         /* BlockMax-WAND */
} spar_algo;

typedef struct spar_search_opts {
    uint32_t k;     /* top-k, 1..SPAR_MAX_K; default 10 */
    float k1, b;    /* BM25; negative = the index's recorded defaults (0.9 / 0.4) */
    spar_algo algo;
} spar_search_opts;
#define SPAR_MAX_K 100000u
SPAR_API void spar_search_opts_default(spar_search_opts *o);
SPAR_API const char *spar_algo_name(spar_algo a);
SPAR_API SPAR_NODISCARD spar_status spar_algo_parse(const char *name, spar_algo *out);

typedef struct spar_hit {
    uint32_t docid;
    float score;
} spar_hit;

typedef struct spar_searcher spar_searcher; /* one per thread */
SPAR_API SPAR_NODISCARD spar_status spar_searcher_create(const spar_index *ix, spar_searcher **out);
SPAR_API void spar_searcher_free(spar_searcher *s); /* NULL is a no-op */

/** Analyse `text` (len bytes, UTF-8) with the index's analysis settings and search it. Writes at most
 *  `cap` hits, best first, into caller-owned `hits`; *n_hits gets the count (≤ min(cap, k)).
 *  @return SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_NOMEM, SPAR_E_CORRUPT (text is not valid UTF-8). */
SPAR_API SPAR_NODISCARD spar_status spar_search(spar_searcher *s, const char *text, size_t len,
                                                const spar_search_opts *opts, spar_hit *hits, size_t cap,
                                                size_t *n_hits);

/** Search `n` queries on up to n_threads threads (0 = all). Query i writes its hits to
 *  hits[i*opts->k ...] and its count to n_hits[i]. Output does not depend on the thread count. */
SPAR_API SPAR_NODISCARD spar_status spar_search_batch(const spar_index *ix, const char *const *texts, size_t n,
                                                      const spar_search_opts *opts, spar_hit *hits,
                                                      size_t *n_hits, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
