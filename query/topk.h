/* query/topk.h — bounded top-k collector: a binary min-heap of at most k hits whose root is the worst
 * kept hit under the total order "higher score first, then lower docid". A hit enters only if it beats
 * the root under that order, so the result is exactly the k best, whatever the insertion order.
 * Storage is allocated once (grown on demand by spar_topk_reset) and reused across queries. */
#ifndef SPAR_QUERY_TOPK_H
#define SPAR_QUERY_TOPK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/common.h"
#include "spar/spar_query.h"

/* Hits are held as 64-bit keys that order like the hits: high half = the score's bits mapped to an
 * unsigned total order, low half = ~docid (lower docid = larger key). The root is the smallest key. */
typedef struct spar_topk {
    uint64_t *h;   /* heap of keys, h[0] = worst kept hit */
    uint32_t n;    /* hits kept */
    uint32_t k;    /* bound for the current query */
    uint32_t cap;  /* allocated entries */
    float thr;     /* score of h[0] once n == k, -INFINITY before */
} spar_topk;

/* 1 if a is strictly better than b: higher score, or equal score and lower docid. */
static inline int spar_hit_better(float as, uint32_t ad, float bs, uint32_t bd) {
    return as > bs || (as == bs && ad < bd);
}

static inline uint64_t spar_topk_key(uint32_t docid, float score) {
    uint32_t u;
    memcpy(&u, &score, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* -0.0 < +0.0; scores are never NaN */
    return ((uint64_t)u << 32) | (uint32_t)~docid;
}
static inline spar_hit spar_topk_hit(uint64_t key) {
    uint32_t u = (uint32_t)(key >> 32);
    u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
    spar_hit h;
    memcpy(&h.score, &u, sizeof u);
    h.docid = ~(uint32_t)key;
    return h;
}

/* Prepare for a query with bound k (>= 1); grows storage if needed. @return SPAR_OK, SPAR_E_NOMEM,
 * SPAR_E_INVALID_ARG (k == 0). */
spar_status spar_topk_reset(spar_topk *t, uint32_t k);
void spar_topk_free(spar_topk *t); /* keeps t reusable (zeroed) */

/* Score a new hit must exceed to enter when it comes after every kept docid (document-at-a-time order);
 * -INFINITY while fewer than k hits are kept. */
static inline float spar_topk_threshold(const spar_topk *t) { return t->thr; }

void spar_topk_sift_down(spar_topk *t, uint32_t i);
void spar_topk_sift_up(spar_topk *t, uint32_t i);

/* Offer a hit; @return 1 if kept. */
static inline int spar_topk_push(spar_topk *t, uint32_t docid, float score) {
    const uint64_t key = spar_topk_key(docid, score);
    if (t->n < t->k) {
        t->h[t->n] = key;
        spar_topk_sift_up(t, t->n++);
        if (t->n == t->k) t->thr = spar_topk_hit(t->h[0]).score;
        return 1;
    }
    if (key <= t->h[0]) return 0;
    t->h[0] = key;
    spar_topk_sift_down(t, 0);
    t->thr = spar_topk_hit(t->h[0]).score;
    return 1;
}

/* Sort the kept hits best first (destroys the heap) and copy at most cap of them to out (may be NULL
 * with cap 0). @return the number copied. */
size_t spar_topk_finish(spar_topk *t, spar_hit *out, size_t cap);

#endif
