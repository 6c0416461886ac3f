/* sparse_search_int.h — private to index/sparse/: the per-thread searcher (scratch arrays), the bounded top-k
 * heap and the canonical document scorer shared by sparse_search.c (exhaustive, BMP, Seismic) and
 * sparse_daat.c (MaxScore, BlockMax-WAND). */
#ifndef SPAR_INDEX_SPARSE_SEARCH_INT_H
#define SPAR_INDEX_SPARSE_SEARCH_INT_H

#include <stdint.h>
#include <string.h>

#include "index/sparse/sparse_int.h"

#define SPAR_SPARSE_WIN 4096u /* docs per MaxScore window */

/* Canonical score arithmetic must not be contracted into fused multiply-adds (the default of gcc where the
 * target has FMA, e.g. -march=native or aarch64): the exhaustive accumulator and the forward-index scorer
 * must round every product the same way. The scorer below stores each product before adding it, which
 * cannot be fused; the exhaustive accumulator is compiled with contraction off. */
#if defined(__clang__)
#define SPAR_SPARSE_NO_FMA_FN
#define SPAR_SPARSE_NO_FMA_BODY _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define SPAR_SPARSE_NO_FMA_FN __attribute__((optimize("fp-contract=off")))
#define SPAR_SPARSE_NO_FMA_BODY
#else
#define SPAR_SPARSE_NO_FMA_FN
#define SPAR_SPARSE_NO_FMA_BODY
#endif

/* One query term of a pruned search: bound factor cb = q_t * bm_step[t] (bounds are cb * u8 code) and
 * weight factor cw (q_t for float indexes, q_t * bm_step[t] for 8-bit ones: contribution cw * weight). */
typedef struct spar_sparse_qterm {
    uint32_t t;
    float cb, cw;
} spar_sparse_qterm;

/* A posting-list cursor of the document-at-a-time algorithms. */
typedef struct spar_sparse_cursor {
    uint64_t pos, beg, end, pb; /* postings [beg, end) of p_doc; skip blocks start at pb_off[t] = pb */
    uint32_t doc;               /* p_doc[pos], or UINT32_MAX when exhausted */
    uint32_t t;
    float cb, cw, ub;           /* ub: bound of the whole list (cb * 255) */
} spar_sparse_cursor;

typedef struct spar_sparse_blk {
    float ub;
    uint32_t b;
} spar_sparse_blk;

/* Kernels (sparse_kernels.c), each with a scalar twin giving the same result: out[d - d0] = the canonical
 * score of docs d0 <= d < d1 (bit-identical across twins); ub[i] += c * row[i] (bounds: any float order). */
typedef void (*spar_sparse_score_docs_fn)(const spar_sparse_index *ix, const float *qd, uint32_t d0, uint32_t d1,
                                          float *out);
typedef void (*spar_sparse_acc_row_fn)(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n);
void spar_sparse_score_docs_scalar(const spar_sparse_index *ix, const float *qd, uint32_t d0, uint32_t d1, float *out);
void spar_sparse_score_docs_avx512(const spar_sparse_index *ix, const float *qd, uint32_t d0, uint32_t d1, float *out);
void spar_sparse_acc_row_scalar(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n);
void spar_sparse_acc_row_avx512(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n);
/* 1 when the CPU runs AVX-512 F+BW+VL (the *_avx512 kernels); the kernels are only called then. */
int spar_sparse_have_avx512(void);

struct spar_sparse_searcher {
    const spar_sparse_index *ix;
    float *qd;       /* dense query factors (q_t, or q_t * step_t for 8-bit indexes), dim; zero between queries */
    float *acc;      /* exhaustive accumulator, n_docs */
    float *ub;       /* block upper bounds, n_blocks */
    float *gmax;     /* per group of blocks: the largest bound */
    spar_sparse_blk *cand, *cand2; /* blocks of the current tier (found, bucket-sorted), n_blocks each */
    uint32_t *bcnt;  /* bucket counts / starts of the tier's counting sort */
    float *bmx;      /* per bucket: the largest bound in it */
    int avx2;        /* the CPU runs AVX2 + FMA */
    spar_sparse_score_docs_fn score_docs; /* the best kernels this CPU runs (scalar twins elsewhere) */
    spar_sparse_acc_row_fn acc_row;
    float *bscore;   /* scores of one BMP block, bmp_block */
    spar_sparse_qterm *qt; /* query terms (dense-row terms first in BMP), cap qt_cap */
    spar_sparse_cursor *cur;
    spar_sparse_cursor **cp; /* cursor order */
    float *ubsum;
    float wacc[SPAR_SPARSE_WIN];        /* MaxScore window accumulator (zero between windows) */
    uint64_t wbits[SPAR_SPARSE_WIN / 64]; /* docs of the window touched by an essential list */
    uint32_t qt_cap;
    uint64_t *visited; /* bitset n_docs, cleared via vlist */
    uint32_t *vlist;
    uint32_t *qorder;
    spar_hit *heap;
    uint32_t heap_cap, heap_n, k;
    uint64_t scored;
};

/* ---- bounded heap: root = worst of the k best (score asc, then docid desc) ---- */
static inline int spar_sparse_worse(float sa, uint32_t da, float sb, uint32_t db) {
    return sa < sb || (sa == sb && da > db);
}
static inline void spar_sparse_heap_sift_down(spar_hit *h, uint32_t n, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && spar_sparse_worse(h[l].score, h[l].docid, h[m].score, h[m].docid)) m = l;
        if (r < n && spar_sparse_worse(h[r].score, h[r].docid, h[m].score, h[m].docid)) m = r;
        if (m == i) return;
        spar_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}
static inline void spar_sparse_heap_push(spar_sparse_searcher *s, uint32_t d, float sc) {
    spar_hit *h = s->heap;
    if (s->heap_n < s->k) {
        uint32_t i = s->heap_n++;
        h[i].docid = d;
        h[i].score = sc;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (!spar_sparse_worse(h[i].score, h[i].docid, h[p].score, h[p].docid)) break;
            spar_hit t = h[i];
            h[i] = h[p];
            h[p] = t;
            i = p;
        }
    } else if (spar_sparse_worse(h[0].score, h[0].docid, sc, d)) {
        h[0].docid = d;
        h[0].score = sc;
        spar_sparse_heap_sift_down(h, s->heap_n, 0);
    }
}
/* k-th best score once k hits are held, else -1 (every candidate with score > 0 must be scored). */
static inline float spar_sparse_theta(const spar_sparse_searcher *s) {
    return s->heap_n < s->k ? -1.0f : s->heap[0].score;
}

/* The canonical score of internal doc d: the products q_t * d_t of the matching terms added in ascending
 * term order. Non-query terms are skipped: their product would be +0.0f, a no-op on a sum >= 0, so this is
 * bit-identical to the exhaustive accumulation (which only sees the doc's postings), and it keeps the
 * dependent float adds to the handful of matching terms. 8-bit indexes: qd holds q_t * step_t and the
 * codes are the weights. */
static inline float spar_sparse_score_doc(const spar_sparse_index *ix, const float *qd, uint32_t d) {
    const uint16_t *id = ix->f_ids;
    const uint64_t b = ix->f_off[d], n = ix->f_off[d + 1] - b;
    float buf[64];
    float sc = 0.0f;
    /* products of the matching terms compacted branch-free (a store always, an advance only when the
     * query has the term), then added in order: few dependent adds, no mispredicted branches */
    for (uint64_t i0 = 0; i0 < n; i0 += 64) {
        const uint64_t e = n - i0 < 64 ? n - i0 : 64;
        uint32_t m = 0;
        if (ix->quant) {
            const uint8_t *c = ix->f_q + b + i0;
            for (uint64_t i = 0; i < e; i++) {
                float v = qd[id[b + i0 + i]];
                buf[m] = v * (float)c[i];
                m += v != 0.0f;
            }
        } else {
            const float *w = ix->f_w + b + i0;
            for (uint64_t i = 0; i < e; i++) {
                float v = qd[id[b + i0 + i]];
                buf[m] = v * w[i];
                m += v != 0.0f;
            }
        }
        for (uint32_t i = 0; i < m; i++) sc += buf[i];
    }
    return sc;
}
/* Score internal doc d and offer it to the heap under its caller docid. */
static inline void spar_sparse_offer(spar_sparse_searcher *s, uint32_t d) {
    const spar_sparse_index *ix = s->ix;
    float sc = spar_sparse_score_doc(ix, s->qd, d);
    s->scored++;
    if (!(sc > 0.0f) || (s->heap_n == s->k && sc < s->heap[0].score)) return; /* no docid lookup needed */
    spar_sparse_heap_push(s, ix->ext ? ix->ext[d] : d, sc);
}
/* Bounds and true scores differ from their real values by float rounding of at most ~(m + 2) ulps relative
 * (m query terms); a bound times this slack is >= every score it covers. */
static inline float spar_sparse_slack(uint32_t m) { return 1.0f + 1e-6f * (float)(m + 4); }

/* Grow the per-query term arrays to n terms. */
spar_status spar_sparse_searcher_reserve_terms(spar_sparse_searcher *s, uint32_t n);
void spar_sparse_search_maxscore(spar_sparse_searcher *s, const spar_sparse_vec *q);
void spar_sparse_search_bmw(spar_sparse_searcher *s, const spar_sparse_vec *q);

#endif
