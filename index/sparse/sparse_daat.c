/* sparse_daat.c — exact document-at-a-time top-k over the impact postings: MaxScore (essential /
 * non-essential lists by cumulative term bound) and BlockMax-WAND (pivot by term bounds, then the skip
 * blocks' maxima of the lists up to the pivot). Both keep the bounds as u8 codes times q_t * step_t
 * (rounded up at build), multiply every bound by the rounding slack before comparing, prune only when a
 * bound is strictly below the k-th score (a tie may still win on docid), and score every surviving
 * candidate with the canonical forward-index sum, so both return the exhaustive top-k bit for bit. */
#include <stdlib.h>

#include "common/common.h"
#include "index/sparse/sparse_search_int.h"

#define END_DOC UINT32_MAX

static void cursor_init(const spar_sparse_index *ix, spar_sparse_cursor *c, uint32_t t, float qw) {
    c->t = t;
    c->beg = c->pos = ix->p_off[t];
    c->end = ix->p_off[t + 1];
    c->pb = ix->pb_off[t];
    c->cb = qw * ix->bm_step[t];
    c->cw = ix->quant ? c->cb : qw;
    c->ub = c->cb * 255.0f;
    c->doc = c->pos < c->end ? ix->p_doc[c->pos] : END_DOC;
}

static inline float cursor_weight(const spar_sparse_index *ix, const spar_sparse_cursor *c) {
    return ix->quant ? c->cw * (float)ix->p_q[c->pos] : c->cw * ix->p_w[c->pos];
}

static inline void cursor_next(const spar_sparse_index *ix, spar_sparse_cursor *c) {
    c->pos++;
    c->doc = c->pos < c->end ? ix->p_doc[c->pos] : END_DOC;
}

/* Skip block of the first posting >= target at or after the cursor's block (may be one past the last). */
static inline uint64_t cursor_block(const spar_sparse_index *ix, const spar_sparse_cursor *c, uint32_t target) {
    uint64_t bi = (c->pos - c->beg) / SPAR_SPARSE_PB, nbk = (c->end - c->beg + SPAR_SPARSE_PB - 1) / SPAR_SPARSE_PB;
    while (bi < nbk && ix->pb_last[c->pb + bi] < target) bi++;
    return bi;
}

/* Move to the first posting with docid >= target. */
static void cursor_seek(const spar_sparse_index *ix, spar_sparse_cursor *c, uint32_t target) {
    if (c->doc >= target) return;
    uint64_t bi = cursor_block(ix, c, target);
    uint64_t p = c->beg + bi * SPAR_SPARSE_PB;
    if (p >= c->end) {
        c->pos = c->end;
        c->doc = END_DOC;
        return;
    }
    if (p > c->pos) c->pos = p;
    while (ix->p_doc[c->pos] < target) c->pos++; /* the block's last docid is >= target */
    c->doc = ix->p_doc[c->pos];
}

/* Cursors of the query terms with non-zero weight; returns their number. */
static uint32_t open_cursors(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    const spar_sparse_index *ix = s->ix;
    uint32_t n = 0;
    for (uint32_t j = 0; j < q->n; j++) {
        uint32_t t = q->ids[j];
        if (q->weights[j] == 0.0f || ix->bm_step[t] == 0.0f || ix->p_off[t] == ix->p_off[t + 1]) continue;
        cursor_init(ix, &s->cur[n], t, q->weights[j]);
        s->cp[n] = &s->cur[n];
        n++;
    }
    return n;
}

/* MaxScore, window by window (as Lucene's bulk scorer): lists sorted by bound; the longest prefix whose
 * bounds sum (times the slack) stays below the k-th score is non-essential. In a window of SPAR_SPARSE_WIN
 * docids the essential lists are added term-at-a-time into a small accumulator; each touched doc then
 * takes the non-essential lists in decreasing bound order (seeking their cursors), dropped as soon as its
 * partial sum plus the remaining bounds falls below the k-th score; survivors get the canonical score. */
void spar_sparse_search_maxscore(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    const spar_sparse_index *ix = s->ix;
    const uint32_t n = open_cursors(s, q);
    if (n == 0) return;
    spar_sparse_cursor **cp = s->cp;
    for (uint32_t i = 1; i < n; i++) { /* by list bound ascending */
        spar_sparse_cursor *x = cp[i];
        uint32_t j = i;
        while (j > 0 && cp[j - 1]->ub > x->ub) {
            cp[j] = cp[j - 1];
            j--;
        }
        cp[j] = x;
    }
    float *ubsum = s->ubsum; /* ubsum[i] = bound of lists 0..i together */
    float acc = 0.0f;
    for (uint32_t i = 0; i < n; i++) ubsum[i] = (acc += cp[i]->ub);
    const float slack = spar_sparse_slack(n);
    float *wacc = s->wacc;
    uint64_t *wbits = s->wbits;
    uint32_t fe = 0; /* lists [0, fe) are non-essential: together bounded below theta */
    for (;;) {
        while (fe < n && ubsum[fe] * slack < spar_sparse_theta(s)) fe++;
        if (fe == n) break;
        uint32_t w0 = END_DOC;
        for (uint32_t i = fe; i < n; i++) w0 = SPAR_MIN(w0, cp[i]->doc);
        if (w0 == END_DOC) break;
        const uint32_t w1 = w0 + SPAR_SPARSE_WIN > w0 ? w0 + SPAR_SPARSE_WIN : END_DOC;
        for (uint32_t i = fe; i < n; i++) { /* essential lists: term-at-a-time into the window */
            spar_sparse_cursor *c = cp[i];
            uint64_t p = c->pos;
            const uint32_t *pd = ix->p_doc;
            if (ix->quant) {
                for (; p < c->end && pd[p] < w1; p++) {
                    uint32_t o = pd[p] - w0;
                    wacc[o] += c->cw * (float)ix->p_q[p];
                    wbits[o >> 6] |= 1ull << (o & 63);
                }
            } else {
                for (; p < c->end && pd[p] < w1; p++) {
                    uint32_t o = pd[p] - w0;
                    wacc[o] += c->cw * ix->p_w[p];
                    wbits[o >> 6] |= 1ull << (o & 63);
                }
            }
            c->pos = p;
            c->doc = p < c->end ? pd[p] : END_DOC;
        }
        for (uint32_t wi = 0; wi < SPAR_SPARSE_WIN / 64; wi++) {
            uint64_t bits = wbits[wi];
            wbits[wi] = 0;
            while (bits) {
                const uint32_t o = wi * 64 + (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                const uint32_t d = w0 + o;
                float part = wacc[o];
                wacc[o] = 0.0f;
                const float theta = spar_sparse_theta(s);
                int live = part * slack >= theta || fe > 0;
                for (uint32_t i = fe; live && i-- > 0;) {
                    if ((part + ubsum[i]) * slack < theta) { live = 0; break; }
                    cursor_seek(ix, cp[i], d);
                    if (cp[i]->doc == d) part += cursor_weight(ix, cp[i]);
                }
                if (live && part * slack >= theta) spar_sparse_offer(s, d);
            }
        }
    }
}

/* Restore ascending docid order of cp[0..n) after the first `moved` entries advanced (insertion). */
static void resort(spar_sparse_cursor **cp, uint32_t n, uint32_t moved) {
    for (uint32_t m = moved; m-- > 0;) {
        spar_sparse_cursor *x = cp[m];
        uint32_t j = m;
        while (j + 1 < n && cp[j + 1]->doc < x->doc) {
            cp[j] = cp[j + 1];
            j++;
        }
        cp[j] = x;
    }
}

void spar_sparse_search_bmw(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    const spar_sparse_index *ix = s->ix;
    const uint32_t n = open_cursors(s, q);
    if (n == 0) return;
    spar_sparse_cursor **cp = s->cp;
    resort(cp, n, n);
    const float slack = spar_sparse_slack(n);
    for (;;) {
        const float theta = spar_sparse_theta(s);
        /* pivot: first list where the bounds of the lists so far reach theta */
        float acc = 0.0f;
        uint32_t p = n;
        for (uint32_t i = 0; i < n && cp[i]->doc != END_DOC; i++) {
            acc += cp[i]->ub;
            if (acc * slack >= theta) { p = i; break; }
        }
        if (p == n) break;
        const uint32_t pd = cp[p]->doc;
        while (p + 1 < n && cp[p + 1]->doc == pd) p++;
        /* block-max bound of pd over lists 0..p, and the first docid past all their current blocks */
        float bsum = 0.0f;
        uint32_t next = p + 1 < n ? cp[p + 1]->doc : END_DOC;
        for (uint32_t i = 0; i <= p; i++) {
            spar_sparse_cursor *c = cp[i];
            uint64_t bi = cursor_block(ix, c, pd);
            if (c->beg + bi * SPAR_SPARSE_PB >= c->end) continue; /* no docid >= pd left: adds nothing */
            bsum += c->cb * (float)ix->pb_q[c->pb + bi];
            uint32_t last = ix->pb_last[c->pb + bi];
            if (last < next) next = last + 1;
        }
        if (bsum * slack >= theta) {
            if (cp[0]->doc == pd) { /* every list up to the pivot is on pd */
                spar_sparse_offer(s, pd);
                for (uint32_t i = 0; i <= p; i++) cursor_next(ix, cp[i]);
                resort(cp, n, p + 1);
            } else { /* docs before pd lie only in lists bounded together below theta */
                uint32_t mv = 0;
                while (mv < p && cp[mv]->doc < pd) {
                    cursor_seek(ix, cp[mv], pd);
                    mv++;
                }
                resort(cp, n, mv);
            }
        } else { /* nothing in [doc of list 0, next) can reach theta */
            for (uint32_t i = 0; i <= p; i++) cursor_seek(ix, cp[i], next);
            resort(cp, n, p + 1);
        }
    }
}
