/* sparse_search.c — top-k search over a spar_sparse_index: the exhaustive term-at-a-time oracle, the exact
 * block-max pruned search over docid blocks (BMP-style) and the approximate Seismic traversal, plus the
 * multi-threaded batch driver. All three score a candidate with the same canonical float sum (query terms
 * ascending), so exact methods return bit-identical top-k and Seismic's scores are true scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#include "common/common.h"
#include "index/sparse/sparse_int.h"

#define N_BUCKETS 1024u

struct spar_sparse_searcher {
    const spar_sparse_index *ix;
    float *qd;       /* dense query weights, dim; zero between queries */
    float *acc;      /* exhaustive accumulator, n_docs */
    float *ub;       /* block upper bounds, n_blocks */
    uint32_t *order; /* blocks in bucket order */
    uint32_t *bcount, *bstart;
    float *bmax;
    uint64_t *visited; /* bitset n_docs, cleared via vlist */
    uint32_t *vlist;
    uint32_t *qorder;
    spar_hit *heap;
    uint32_t heap_cap, heap_n, k;
    uint64_t scored;
};

/* ---- bounded heap: root = worst of the k best (score asc, then docid desc) ---- */
static inline int worse(float sa, uint32_t da, float sb, uint32_t db) {
    return sa < sb || (sa == sb && da > db);
}
static void heap_sift_down(spar_hit *h, uint32_t n, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(h[l].score, h[l].docid, h[m].score, h[m].docid)) m = l;
        if (r < n && worse(h[r].score, h[r].docid, h[m].score, h[m].docid)) m = r;
        if (m == i) return;
        spar_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}
static inline void heap_push(spar_sparse_searcher *s, uint32_t d, float sc) {
    spar_hit *h = s->heap;
    if (s->heap_n < s->k) {
        uint32_t i = s->heap_n++;
        h[i].docid = d;
        h[i].score = sc;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (!worse(h[i].score, h[i].docid, h[p].score, h[p].docid)) break;
            spar_hit t = h[i];
            h[i] = h[p];
            h[p] = t;
            i = p;
        }
    } else if (worse(h[0].score, h[0].docid, sc, d)) {
        h[0].docid = d;
        h[0].score = sc;
        heap_sift_down(h, s->heap_n, 0);
    }
}
/* k-th best score once k hits are held, else -1 (every candidate with score > 0 must be scored). */
static inline float heap_theta(const spar_sparse_searcher *s) { return s->heap_n < s->k ? -1.0f : s->heap[0].score; }

static size_t heap_finish(spar_sparse_searcher *s, spar_hit *out) {
    uint32_t n = s->heap_n;
    while (s->heap_n > 1) { /* in-place heapsort: worst goes to the end */
        spar_hit t = s->heap[0];
        s->heap[0] = s->heap[s->heap_n - 1];
        s->heap[s->heap_n - 1] = t;
        s->heap_n--;
        heap_sift_down(s->heap, s->heap_n, 0);
    }
    memcpy(out, s->heap, (size_t)n * sizeof *out);
    s->heap_n = 0;
    return n;
}

void spar_sparse_searcher_free(spar_sparse_searcher *s) {
    if (s == NULL) return;
    free(s->qd);
    free(s->acc);
    free(s->ub);
    free(s->order);
    free(s->bcount);
    free(s->bstart);
    free(s->bmax);
    free(s->visited);
    free(s->vlist);
    free(s->qorder);
    free(s->heap);
    free(s);
}

spar_status spar_sparse_searcher_create(const spar_sparse_index *ix, spar_sparse_searcher **out) {
    if (ix == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    spar_sparse_searcher *s = calloc(1, sizeof *s);
    if (s == NULL) return SPAR_E_NOMEM;
    s->ix = ix;
    size_t nd = ix->n_docs ? ix->n_docs : 1, nb = ix->n_blocks ? ix->n_blocks : 1;
    s->qd = calloc(ix->dim, sizeof *s->qd);
    s->acc = calloc(nd, sizeof *s->acc);
    s->ub = calloc(nb, sizeof *s->ub);
    s->order = spar_malloc_array(nb, sizeof *s->order);
    s->bcount = calloc(N_BUCKETS + 1, sizeof *s->bcount);
    s->bstart = calloc(N_BUCKETS + 1, sizeof *s->bstart);
    s->bmax = calloc(N_BUCKETS, sizeof *s->bmax);
    s->visited = calloc((nd + 63) / 64, sizeof *s->visited);
    s->vlist = spar_malloc_array(nd, sizeof *s->vlist);
    s->qorder = spar_malloc_array(ix->dim, sizeof *s->qorder);
    if (!s->qd || !s->acc || !s->ub || !s->order || !s->bcount || !s->bstart || !s->bmax || !s->visited ||
        !s->vlist || !s->qorder) {
        spar_sparse_searcher_free(s);
        return SPAR_E_NOMEM;
    }
    *out = s;
    return SPAR_OK;
}

uint64_t spar_sparse_searcher_last_scored(const spar_sparse_searcher *s) { return s ? s->scored : 0; }

static spar_status begin_query(spar_sparse_searcher *s, const spar_sparse_vec *q, uint32_t k) {
    const spar_sparse_index *ix = s->ix;
    if (q == NULL || k == 0 || k > SPAR_MAX_K || (q->n > 0 && (q->ids == NULL || q->weights == NULL)))
        return SPAR_E_INVALID_ARG;
    for (uint32_t i = 0; i < q->n; i++) {
        if (q->ids[i] >= ix->dim || (i > 0 && q->ids[i] <= q->ids[i - 1])) return SPAR_E_INVALID_ARG;
        if (!(q->weights[i] >= 0.0f && q->weights[i] <= SPAR_SPARSE_MAX_WEIGHT)) return SPAR_E_INVALID_ARG;
    }
    if (k > s->heap_cap) {
        spar_hit *h = spar_realloc_array(s->heap, k, sizeof *h);
        if (h == NULL) return SPAR_E_NOMEM;
        s->heap = h;
        s->heap_cap = k;
    }
    s->k = k;
    s->heap_n = 0;
    s->scored = 0;
    for (uint32_t i = 0; i < q->n; i++) s->qd[q->ids[i]] = q->weights[i];
    return SPAR_OK;
}

static void end_query(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    for (uint32_t i = 0; i < q->n; i++) s->qd[q->ids[i]] = 0.0f;
}

/* The canonical score: products added in ascending term order; non-query terms add +0.0f (a no-op). */
static inline float score_doc(const spar_sparse_index *ix, const float *qd, uint32_t d) {
    float sc = 0.0f;
    const uint16_t *id = ix->f_ids;
    const float *w = ix->f_w;
    for (uint64_t i = ix->f_off[d], e = ix->f_off[d + 1]; i < e; i++) sc += qd[id[i]] * w[i];
    return sc;
}

static void search_exhaustive(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    const spar_sparse_index *ix = s->ix;
    float *acc = s->acc;
    memset(acc, 0, (size_t)ix->n_docs * sizeof *acc);
    for (uint32_t j = 0; j < q->n; j++) { /* ascending term ids: the canonical order */
        uint32_t t = q->ids[j];
        float qw = q->weights[j];
        if (qw == 0.0f) continue;
        for (uint64_t i = ix->p_off[t], e = ix->p_off[t + 1]; i < e; i++) acc[ix->p_doc[i]] += qw * ix->p_w[i];
    }
    const uint32_t *ext = ix->ext;
    for (uint32_t d = 0; d < ix->n_docs; d++) {
        float sc = acc[d];
        if (sc <= 0.0f) continue;
        uint32_t e = ext ? ext[d] : d;
        if (s->heap_n < s->k || worse(s->heap[0].score, s->heap[0].docid, sc, e)) heap_push(s, e, sc);
    }
    s->scored = ix->n_docs;
}

static void search_bmp(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    const spar_sparse_index *ix = s->ix;
    const uint32_t nb = ix->n_blocks, bs = ix->bmp_block;
    float *ub = s->ub;
    memset(ub, 0, (size_t)nb * sizeof *ub);
    uint32_t m = 0;
    for (uint32_t j = 0; j < q->n; j++) {
        uint32_t t = q->ids[j];
        float c = q->weights[j] * ix->bm_step[t];
        if (c == 0.0f) continue;
        m++;
        if (ix->bm_row[t] != UINT32_MAX) {
            const uint8_t *row = ix->bm_dense + (size_t)ix->bm_row[t] * nb;
            for (uint32_t b = 0; b < nb; b++) ub[b] += c * (float)row[b];
            continue;
        }
        for (uint64_t i = ix->bm_off[t], e = ix->bm_off[t + 1]; i < e; i++) ub[ix->bm_blk[i]] += c * (float)ix->bm_q[i];
    }
    /* Float rounding in the bound and in the true score is at most ~2(m+2) ulps relative; 1e-6 per term
     * covers it with a wide margin, so ub * slack >= every score in the block. */
    const float slack = 1.0f + 1e-6f * (float)(m + 4);
    float maxub = 0.0f;
    for (uint32_t b = 0; b < nb; b++) maxub = SPAR_MAX(maxub, ub[b]);
    if (maxub <= 0.0f) return;
    memset(s->bcount, 0, (N_BUCKETS + 1) * sizeof *s->bcount);
    memset(s->bmax, 0, N_BUCKETS * sizeof *s->bmax);
    const float scale = (float)(N_BUCKETS - 1) / maxub;
    for (uint32_t b = 0; b < nb; b++) {
        if (ub[b] <= 0.0f) continue;
        float fk = ub[b] * scale; /* scale may be inf when maxub is denormal */
        uint32_t k = fk < (float)(N_BUCKETS - 1) ? (uint32_t)fk : N_BUCKETS - 1;
        s->bcount[k]++;
        s->bmax[k] = SPAR_MAX(s->bmax[k], ub[b]);
    }
    uint32_t sum = 0;
    for (uint32_t k = N_BUCKETS; k-- > 0;) { /* descending buckets laid out first */
        s->bstart[k] = sum;
        sum += s->bcount[k];
    }
    s->bstart[N_BUCKETS] = sum;
    for (uint32_t k = 0; k < N_BUCKETS; k++) s->bcount[k] = s->bstart[k];
    for (uint32_t b = 0; b < nb; b++) {
        if (ub[b] <= 0.0f) continue;
        float fk = ub[b] * scale; /* scale may be inf when maxub is denormal */
        uint32_t k = fk < (float)(N_BUCKETS - 1) ? (uint32_t)fk : N_BUCKETS - 1;
        s->order[s->bcount[k]++] = b;
    }
    uint64_t scored = 0;
    for (uint32_t k = N_BUCKETS; k-- > 0;) {
        if (s->bstart[k] == s->bcount[k]) continue;
        if (s->bmax[k] * slack < heap_theta(s)) break; /* every later block is bounded below theta */
        for (uint32_t i = s->bstart[k]; i < s->bcount[k]; i++) {
            uint32_t b = s->order[i];
            if (ub[b] * slack < heap_theta(s)) continue;
            uint32_t d0 = b * bs, d1 = SPAR_MIN(ix->n_docs, d0 + bs);
            for (uint32_t d = d0; d < d1; d++) {
                float sc = score_doc(ix, s->qd, d);
                if (sc > 0.0f) heap_push(s, ix->ext ? ix->ext[d] : d, sc);
            }
            scored += d1 - d0;
        }
    }
    s->scored = scored;
}

spar_status spar_sparse_search_exact(spar_sparse_searcher *s, const spar_sparse_vec *q, uint32_t k,
                                     spar_sparse_exact_algo algo, spar_hit *hits, size_t *n_hits) {
    if (s == NULL || hits == NULL || n_hits == NULL) return SPAR_E_INVALID_ARG;
    if (algo != SPAR_SPARSE_EXHAUSTIVE && algo != SPAR_SPARSE_BMP) return SPAR_E_INVALID_ARG;
    *n_hits = 0;
    SPAR_TRY(begin_query(s, q, k));
    if (algo == SPAR_SPARSE_EXHAUSTIVE) search_exhaustive(s, q);
    else search_bmp(s, q);
    end_query(s, q);
    *n_hits = heap_finish(s, hits);
    return SPAR_OK;
}

/* ---- approximate (Seismic) ---- */
/* The traversal itself lives with the approximate index's build (sparse_approx.c). */
static void search_approx(spar_sparse_searcher *s, const spar_sparse_vec *q, const spar_sparse_approx_params *p) {
    spar_sparse_approx_ctx c = {s->qd, s->visited, s->vlist, s->qorder, s->heap, &s->heap_n, s->k};
    s->scored = spar_sparse_approx_search(s->ix, q, p, &c);
}

spar_status spar_sparse_search_approx(spar_sparse_searcher *s, const spar_sparse_vec *q, uint32_t k,
                                      const spar_sparse_approx_params *p, spar_hit *hits, size_t *n_hits) {
    if (s == NULL || hits == NULL || n_hits == NULL) return SPAR_E_INVALID_ARG;
    *n_hits = 0;
    spar_sparse_approx_params def;
    if (p == NULL) {
        spar_sparse_approx_params_default(&def);
        p = &def;
    }
    if (!(p->heap_factor > 0.0f && p->heap_factor <= 1.0f)) return SPAR_E_INVALID_ARG;
    if (!s->ix->has_approx) return SPAR_E_UNSUPPORTED;
    SPAR_TRY(begin_query(s, q, k));
    search_approx(s, q, p);
    end_query(s, q);
    *n_hits = heap_finish(s, hits);
    return SPAR_OK;
}

spar_status spar_sparse_search_batch(const spar_sparse_index *ix, const spar_sparse_vec *qs, uint32_t n_q, uint32_t k,
                                     spar_sparse_exact_algo algo, const spar_sparse_approx_params *approx,
                                     uint32_t n_threads, spar_hit *hits, size_t *n_hits) {
    if (ix == NULL || (qs == NULL && n_q > 0) || hits == NULL || n_hits == NULL || k == 0) return SPAR_E_INVALID_ARG;
    spar_status st = SPAR_OK;
#ifdef SPAR_HAVE_OPENMP
    int nt = n_threads ? (int)n_threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#else
    (void)n_threads;
#endif
    {
        spar_sparse_searcher *s = NULL;
        spar_status my = spar_sparse_searcher_create(ix, &s);
#ifdef SPAR_HAVE_OPENMP
#pragma omp for schedule(dynamic, 4)
#endif
        for (int64_t i = 0; i < (int64_t)n_q; i++) {
            if (my != SPAR_OK) continue;
            spar_hit *h = hits + (size_t)i * k;
            my = approx ? spar_sparse_search_approx(s, &qs[i], k, approx, h, &n_hits[i])
                        : spar_sparse_search_exact(s, &qs[i], k, algo, h, &n_hits[i]);
        }
        spar_sparse_searcher_free(s);
        if (my != SPAR_OK) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp critical(spar_sparse_batch)
#endif
            st = my;
        }
    }
    return st;
}
