/* query/maxscore.c — MaxScore top-k (Turtle & Flood), document-at-a-time.
 * Terms are ordered by their list upper bound; the shortest prefix whose summed bound cannot beat the
 * current k-th score is "non-essential": a document is only considered if an essential term matches it,
 * and non-essential lists are probed (next_geq) from the largest bound down, stopping as soon as the
 * partial score plus the remaining bounds cannot beat the threshold. The prefix grows whenever the
 * threshold rises. Fully scored documents are summed in canonical order (query_int.h). */
#include "query/query_int.h"

void spar_q_maxscore(spar_qctx *q) {
    const uint32_t n = q->n;
    spar_qterm *t = q->terms;
    uint32_t *ord = q->order;
    float *ub = q->bound; /* ub[i] = sum of max_score over ord[0..i] */
    float *contrib = q->contrib;
    uint32_t *touched = q->touched;
    const float margin = q->margin;
    spar_topk *topk = q->topk;

    /* order by max_score ascending (insertion sort: n is small), ties by canonical position */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i;
        while (j > 0 && t[ord[j - 1]].max_score > t[i].max_score) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    float acc = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        acc += t[ord[i]].max_score;
        ub[i] = acc * margin;
    }

    float theta = spar_topk_threshold(topk);
    uint32_t ne = 0; /* ord[0..ne) are non-essential */
    while (ne < n && ub[ne] <= theta) ne++;

    while (ne < n) {
        uint32_t d = SPAR_DOCID_END;
        for (uint32_t i = ne; i < n; i++) {
            const uint32_t di = t[ord[i]].cur->docid;
            if (di < d) d = di;
        }
        if (d == SPAR_DOCID_END) break;
        const float nd = spar_q_norm(q, d);
        float p = 0.0f;
        uint32_t nt = 0;
        for (uint32_t i = ne; i < n; i++) {
            spar_qterm *x = &t[ord[i]];
            if (x->cur->docid == d) {
                const float c = spar_q_contrib(x->w, spar_cursor_freq(x->cur), nd);
                contrib[x->canon] = c;
                touched[nt++] = x->canon;
                p += c;
                spar_cursor_next(x->cur);
                spar_q_prefetch_norm(q, x->cur);
            }
        }
        int pruned = 0;
        for (uint32_t i = ne; i-- > 0;) {
            if (p * margin + ub[i] <= theta) {
                pruned = 1;
                break;
            }
            spar_qterm *x = &t[ord[i]];
            spar_cursor_next_geq(x->cur, d);
            if (x->cur->docid == d) {
                const float c = spar_q_contrib(x->w, spar_cursor_freq(x->cur), nd);
                contrib[x->canon] = c;
                touched[nt++] = x->canon;
                p += c;
            }
        }
        /* p is the same sum in another order: if even p * margin cannot beat theta, neither can s */
        if (pruned || p * margin <= theta) {
            for (uint32_t i = 0; i < nt; i++) contrib[touched[i]] = 0.0f;
            continue;
        }
        const float s = spar_q_doc_score(q, touched, nt);
        q->n_scored++;
        if (s > theta) {
            spar_topk_push(topk, d, s);
            theta = spar_topk_threshold(topk);
            while (ne < n && ub[ne] <= theta) ne++;
        }
    }
}
