/* query/topk.c — bounded min-heap of hits (see topk.h). */
#include "query/topk.h"

#include <stdlib.h>
#include <string.h>

spar_status spar_topk_reset(spar_topk *t, uint32_t k) {
    if (k == 0) return SPAR_E_INVALID_ARG;
    if (k > t->cap) {
        spar_hit *h = spar_realloc_array(t->h, k, sizeof *h);
        if (h == NULL) return SPAR_E_NOMEM;
        t->h = h;
        t->cap = k;
    }
    t->k = k;
    t->n = 0;
    return SPAR_OK;
}

void spar_topk_free(spar_topk *t) {
    if (t == NULL) return;
    free(t->h);
    memset(t, 0, sizeof *t);
}

/* "worse" = the heap order: the root is the worst kept hit. */
static inline int worse(const spar_hit *a, const spar_hit *b) {
    return spar_hit_better(b->score, b->docid, a->score, a->docid);
}

void spar_topk_sift_up(spar_topk *t, uint32_t i) {
    spar_hit x = t->h[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!worse(&x, &t->h[p])) break;
        t->h[i] = t->h[p];
        i = p;
    }
    t->h[i] = x;
}

void spar_topk_sift_down(spar_topk *t, uint32_t i) {
    const uint32_t n = t->n;
    spar_hit x = t->h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && worse(&t->h[c + 1], &t->h[c])) c++;
        if (!worse(&t->h[c], &x)) break;
        t->h[i] = t->h[c];
        i = c;
    }
    t->h[i] = x;
}

size_t spar_topk_finish(spar_topk *t, spar_hit *out, size_t cap) {
    /* heapsort in place: repeatedly move the worst to the end -> array ends up best first */
    uint32_t n = t->n;
    while (t->n > 1) {
        spar_hit w = t->h[0];
        t->h[0] = t->h[--t->n];
        spar_topk_sift_down(t, 0);
        t->h[t->n] = w;
    }
    t->n = 0;
    size_t m = SPAR_MIN((size_t)n, cap);
    if (m > 0) memcpy(out, t->h, m * sizeof *out);
    return m;
}
