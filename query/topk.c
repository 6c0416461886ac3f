/* query/topk.c — bounded min-heap of hits (see topk.h). */
#include "query/topk.h"

#include <stdlib.h>
#include <string.h>

spar_status spar_topk_reset(spar_topk *t, uint32_t k) {
    if (k == 0) return SPAR_E_INVALID_ARG;
    if (k > t->cap) {
        uint64_t *h = spar_realloc_array(t->h, k, sizeof *h);
        if (h == NULL) return SPAR_E_NOMEM;
        t->h = h;
        t->cap = k;
    }
    t->k = k;
    t->n = 0;
    t->thr = -INFINITY;
    return SPAR_OK;
}

void spar_topk_free(spar_topk *t) {
    if (t == NULL) return;
    free(t->h);
    memset(t, 0, sizeof *t);
}

void spar_topk_sift_up(spar_topk *t, uint32_t i) {
    uint64_t *h = t->h;
    const uint64_t x = h[i];
    while (i > 0) {
        const uint32_t p = (i - 1) / 2;
        if (h[p] <= x) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

void spar_topk_sift_down(spar_topk *t, uint32_t i) {
    uint64_t *h = t->h;
    const uint32_t n = t->n;
    const uint64_t x = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n) c += h[c + 1] < h[c];
        if (h[c] >= x) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

size_t spar_topk_finish(spar_topk *t, spar_hit *out, size_t cap) {
    /* in-place heapsort: moving the smallest key to the end each time leaves the array best first */
    const uint32_t n = t->n;
    while (t->n > 1) {
        const uint64_t w = t->h[0];
        t->h[0] = t->h[--t->n];
        spar_topk_sift_down(t, 0);
        t->h[t->n] = w;
    }
    const size_t m = SPAR_MIN((size_t)n, cap);
    for (size_t i = 0; i < m; i++) out[i] = spar_topk_hit(t->h[i]);
    t->n = 0;
    t->thr = -INFINITY;
    return m;
}
