/* query/daat.c — exhaustive document-at-a-time top-k: every posting of every query term is scored.
 * The reference (oracle) for the pruned algorithms. */
#include "query/query_int.h"

void spar_q_exhaustive(spar_qctx *q) {
    const uint32_t n = q->n;
    spar_qterm *t = q->terms;
    spar_topk *topk = q->topk;
    float theta = spar_topk_threshold(topk);
    for (;;) {
        uint32_t d = SPAR_DOCID_END;
        for (uint32_t i = 0; i < n; i++)
            if (t[i].cur->docid < d) d = t[i].cur->docid;
        if (d == SPAR_DOCID_END) break;
        const float nd = spar_q_norm(q, d);
        float s = 0.0f;
        for (uint32_t i = 0; i < n; i++) { /* canonical order */
            spar_cursor *c = t[i].cur;
            if (c->docid == d) {
                s += spar_q_contrib(t[i].w, spar_cursor_freq(c), nd);
                spar_cursor_next(c);
                spar_q_prefetch_norm(q, c);
            }
        }
        q->n_scored++;
        if (s > theta) {
            spar_topk_push(topk, d, s);
            theta = spar_topk_threshold(topk);
        }
    }
}
