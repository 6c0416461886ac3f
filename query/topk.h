/* query/topk.h — bounded top-k collector: a binary min-heap of at most k hits whose root is the worst
 * kept hit under the total order "higher score first, then lower docid". A hit enters only if it beats
 * the root under that order, so the result is exactly the k best, whatever the insertion order.
 * Storage is allocated once (grown on demand by spar_topk_reset) and reused across queries. */
#ifndef SPAR_QUERY_TOPK_H
#define SPAR_QUERY_TOPK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "spar/spar_query.h"

typedef struct spar_topk {
    spar_hit *h;   /* heap, h[0] = worst kept hit */
    uint32_t n;    /* hits kept */
    uint32_t k;    /* bound for the current query */
    uint32_t cap;  /* allocated entries */
} spar_topk;

/* 1 if a is strictly better than b: higher score, or equal score and lower docid. */
static inline int spar_hit_better(float as, uint32_t ad, float bs, uint32_t bd) {
    return as > bs || (as == bs && ad < bd);
}

/* Prepare for a query with bound k (>= 1); grows storage if needed. @return SPAR_OK, SPAR_E_NOMEM. */
spar_status spar_topk_reset(spar_topk *t, uint32_t k);
void spar_topk_free(spar_topk *t); /* keeps t reusable (zeroed) */

/* Score a new hit must exceed to enter when it comes after every kept docid (document-at-a-time order);
 * -INFINITY while fewer than k hits are kept. */
static inline float spar_topk_threshold(const spar_topk *t) { return t->n < t->k ? -INFINITY : t->h[0].score; }

void spar_topk_sift_down(spar_topk *t, uint32_t i);
void spar_topk_sift_up(spar_topk *t, uint32_t i);

/* Offer a hit; @return 1 if kept. */
static inline int spar_topk_push(spar_topk *t, uint32_t docid, float score) {
    if (t->n < t->k) {
        t->h[t->n].docid = docid;
        t->h[t->n].score = score;
        spar_topk_sift_up(t, t->n++);
        return 1;
    }
    if (!spar_hit_better(score, docid, t->h[0].score, t->h[0].docid)) return 0;
    t->h[0].docid = docid;
    t->h[0].score = score;
    spar_topk_sift_down(t, 0);
    return 1;
}

/* Sort the kept hits best first (destroys the heap) and copy at most cap of them to out (may be NULL
 * with cap 0). @return the number copied. */
size_t spar_topk_finish(spar_topk *t, spar_hit *out, size_t cap);

#endif
