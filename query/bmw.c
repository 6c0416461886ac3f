/* query/bmw.c — Block-Max WAND top-k (Ding & Suel 2011), document-at-a-time.
 * Cursors are kept sorted by current docid. The pivot is the first cursor at which the summed list
 * upper bounds could beat the k-th score; the block-max bounds of the cursors up to the pivot (shallow
 * moves, no decoding) then either confirm the candidate (score it, or move a lagging cursor up to it) or
 * let the largest-bound cursor jump past the end of the current blocks. Fully scored documents are summed
 * in canonical order (query_int.h). */
#include "query/query_int.h"

/* Move ord[j] right until the docids are sorted again (its cursor only moved forward). */
static inline void bubble(const spar_qterm *t, uint32_t *ord, uint32_t n, uint32_t j) {
    const uint32_t x = ord[j];
    const uint32_t dx = t[x].cur->docid;
    while (j + 1 < n && t[ord[j + 1]].cur->docid < dx) {
        ord[j] = ord[j + 1];
        j++;
    }
    ord[j] = x;
}

void spar_q_bmw(spar_qctx *q) {
    const uint32_t n = q->n;
    spar_qterm *t = q->terms;
    uint32_t *ord = q->order;
    float *contrib = q->contrib;
    const float margin = q->margin;
    spar_topk *topk = q->topk;

    for (uint32_t i = 0; i < n; i++) {
        /* block-max cache: pivots never move backwards, so a block stays valid until d passes its end */
        spar_cursor_shallow(t[i].cur, 0);
        t[i].bm = spar_q_block_bound(q, &t[i]);
        t[i].bm_last = t[i].cur->sblock_last;
        uint32_t j = i;
        while (j > 0 && t[ord[j - 1]].cur->docid > t[i].cur->docid) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    float theta = spar_topk_threshold(topk);
#ifndef NDEBUG
    uint32_t prev_d = 0; /* the block-max cache relies on pivots never moving backwards */
#endif

    for (;;) {
        /* pivot */
        float acc = 0.0f;
        uint32_t p = n;
        for (uint32_t i = 0; i < n; i++) {
            const spar_qterm *x = &t[ord[i]];
            if (x->cur->docid == SPAR_DOCID_END) break;
            acc += x->max_score;
            if (acc * margin > theta) {
                p = i;
                break;
            }
        }
        if (p == n) break;
        const uint32_t d = t[ord[p]].cur->docid;
        while (p + 1 < n && t[ord[p + 1]].cur->docid == d) p++;
#ifndef NDEBUG
        SPAR_ASSERT(d >= prev_d);
        prev_d = d;
#endif

        /* block-max check */
        float bm = 0.0f;
        for (uint32_t i = 0; i <= p; i++) {
            spar_qterm *x = &t[ord[i]];
            if (d > x->bm_last) {
                spar_cursor_shallow(x->cur, d);
                x->bm = spar_q_block_bound(q, x);
                x->bm_last = x->cur->sblock_last;
            }
            bm += x->bm;
        }
        if (bm * margin > theta) {
            if (t[ord[0]].cur->docid == d) {
                /* ord[0..p] all sit on d */
                const float nd = spar_q_norm(q, d);
                for (uint32_t i = 0; i <= p; i++) {
                    spar_qterm *x = &t[ord[i]];
                    contrib[x->canon] = spar_q_contrib(x->w, spar_cursor_freq(x->cur), nd);
                    q->touched[i] = x->canon;
                    spar_cursor_next(x->cur);
                    spar_q_prefetch_norm(q, x->cur);
                }
                const float s = spar_q_doc_score(q, q->touched, p + 1);
                q->n_scored++;
                if (s > theta) {
                    spar_topk_push(topk, d, s);
                    theta = spar_topk_threshold(topk);
                }
                for (uint32_t i = p + 1; i-- > 0;) bubble(t, ord, n, i);
            } else {
                /* move the last lagging cursor before the pivot up to d */
                uint32_t j = p;
                while (t[ord[j]].cur->docid == d) j--;
                spar_cursor_next_geq(t[ord[j]].cur, d);
                spar_q_prefetch_norm(q, t[ord[j]].cur);
                bubble(t, ord, n, j);
            }
        } else {
            /* no document before the end of the current blocks (or the next cursor) can qualify */
            uint32_t next = SPAR_DOCID_END;
            uint32_t j = 0;
            float best = -1.0f;
            for (uint32_t i = 0; i <= p; i++) {
                const spar_qterm *x = &t[ord[i]];
                if (x->bm_last < next) next = x->bm_last;
                if (x->max_score > best) {
                    best = x->max_score;
                    j = i;
                }
            }
            if (next != SPAR_DOCID_END) next++;
            if (p + 1 < n && t[ord[p + 1]].cur->docid < next) next = t[ord[p + 1]].cur->docid;
            if (next <= d) next = d + 1;
            spar_cursor_next_geq(t[ord[j]].cur, next);
            bubble(t, ord, n, j);
        }
    }
}
