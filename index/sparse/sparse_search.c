/* sparse_search.c — top-k search over a spar_sparse_index: the exhaustive term-at-a-time oracle, the exact
 * block-max pruned search over docid blocks (BMP-style), the approximate Seismic traversal (sparse_approx.c),
 * and the multi-threaded batch driver (MaxScore and BlockMax-WAND: sparse_daat.c).
 * Every method scores a candidate with the same canonical float sum (query terms ascending), so exact
 * methods return bit-identical top-k and Seismic's scores are true scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#include "common/common.h"
#include "index/sparse/sparse_search_int.h"

/* ub[0..n) += c * row[0..n): the dense-row bound accumulation, vectorized (AVX2 + FMA where the CPU has
 * them, checked once per searcher; else the compiler's baseline vectors). FMA only makes the bound
 * more precise, and bounds are compared with the rounding slack anyway. */
static void acc_row(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) ub[i] += c * (float)row[i];
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx2,fma"))) static void acc_row_avx2(float *restrict ub, const uint8_t *restrict row, float c,
                                                             uint32_t n) {
    for (uint32_t i = 0; i < n; i++) ub[i] += c * (float)row[i];
}
#define HAVE_ACC_AVX2 1
#endif

#define CHUNK 4096u /* blocks per pass of the dense rows (16 KiB of bounds stay in L1) */
#define GROUP 64u   /* blocks per group maximum (skips most of the array when collecting a tier) */
#define FLT_MIN_POS 1e-38f

#define NB 256u     /* buckets of the counting sort inside a tier */

static size_t heap_finish(spar_sparse_searcher *s, spar_hit *out) {
    uint32_t n = s->heap_n;
    while (s->heap_n > 1) { /* in-place heapsort: worst goes to the end */
        spar_hit t = s->heap[0];
        s->heap[0] = s->heap[s->heap_n - 1];
        s->heap[s->heap_n - 1] = t;
        s->heap_n--;
        spar_sparse_heap_sift_down(s->heap, s->heap_n, 0);
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
    free(s->gmax);
    free(s->cand);
    free(s->cand2);
    free(s->bcnt);
    free(s->bmx);
    free(s->qt);
    free(s->cur);
    free(s->cp);
    free(s->ubsum);
    free(s->visited);
    free(s->vlist);
    free(s->qorder);
    free(s->heap);
    free(s->bscore);
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
    s->gmax = spar_malloc_array((nb + GROUP - 1) / GROUP, sizeof *s->gmax);
    s->cand = spar_malloc_array(nb, sizeof *s->cand);
    s->cand2 = spar_malloc_array(nb, sizeof *s->cand2);
    s->bcnt = calloc(NB + 1, sizeof *s->bcnt);
    s->bmx = calloc(NB, sizeof *s->bmx);
#ifdef HAVE_ACC_AVX2
    __builtin_cpu_init();
    s->avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    /* the AVX-512 twins are opt-in (SPAR_SPARSE_AVX512=1): on the Zen 5 VM they were measured no faster
     * (bound pass) and ~15% slower (gather scorer) than the defaults, bench/sparse/README.md */
    s->score_docs = spar_sparse_score_docs_scalar;
    s->acc_row = NULL; /* acc_row / acc_row_avx2 below */
    if (spar_sparse_have_avx512() && getenv("SPAR_SPARSE_AVX512") && !strcmp(getenv("SPAR_SPARSE_AVX512"), "1")) {
        s->score_docs = spar_sparse_score_docs_avx512;
        s->acc_row = spar_sparse_acc_row_avx512;
    }
    s->bscore = spar_malloc_array(ix->bmp_block ? ix->bmp_block : 1, sizeof *s->bscore);
    s->visited = calloc((nd + 63) / 64, sizeof *s->visited);
    s->vlist = spar_malloc_array(nd, sizeof *s->vlist);
    s->qorder = spar_malloc_array(ix->dim, sizeof *s->qorder);
    if (!s->qd || !s->acc || !s->ub || !s->gmax || !s->cand || !s->cand2 || !s->bcnt || !s->bmx || !s->visited || !s->vlist || !s->qorder || !s->bscore) {
        spar_sparse_searcher_free(s);
        return SPAR_E_NOMEM;
    }
    *out = s;
    return SPAR_OK;
}

spar_status spar_sparse_searcher_reserve_terms(spar_sparse_searcher *s, uint32_t n) {
    if (n <= s->qt_cap) return SPAR_OK;
    spar_sparse_qterm *qt = spar_realloc_array(s->qt, n, sizeof *qt);
    if (qt == NULL) return SPAR_E_NOMEM;
    s->qt = qt;
    spar_sparse_cursor *cur = spar_realloc_array(s->cur, n, sizeof *cur);
    if (cur == NULL) return SPAR_E_NOMEM;
    s->cur = cur;
    spar_sparse_cursor **cp = spar_realloc_array(s->cp, n, sizeof *cp);
    if (cp == NULL) return SPAR_E_NOMEM;
    s->cp = cp;
    float *us = spar_realloc_array(s->ubsum, n, sizeof *us);
    if (us == NULL) return SPAR_E_NOMEM;
    s->ubsum = us;
    s->qt_cap = n;
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
    SPAR_TRY(spar_sparse_searcher_reserve_terms(s, q->n ? q->n : 1));
    s->k = k;
    s->heap_n = 0;
    s->scored = 0;
    for (uint32_t i = 0; i < q->n; i++)
        s->qd[q->ids[i]] = ix->quant ? q->weights[i] * ix->bm_step[q->ids[i]] : q->weights[i];
    return SPAR_OK;
}

static void end_query(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    for (uint32_t i = 0; i < q->n; i++) s->qd[q->ids[i]] = 0.0f;
}

/* Dense-accumulator term-at-a-time over every posting of every query term, then one pass over the
 * accumulator. Query terms ascending: the canonical order of the float sum. */
SPAR_SPARSE_NO_FMA_FN static void search_exhaustive(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    SPAR_SPARSE_NO_FMA_BODY
    const spar_sparse_index *ix = s->ix;
    float *acc = s->acc;
    memset(acc, 0, (size_t)ix->n_docs * sizeof *acc);
    for (uint32_t j = 0; j < q->n; j++) {
        uint32_t t = q->ids[j];
        float qw = s->qd[t];
        if (qw == 0.0f) continue;
        const uint32_t *pd = ix->p_doc;
        if (ix->quant) {
            const uint8_t *pq = ix->p_q;
            for (uint64_t i = ix->p_off[t], e = ix->p_off[t + 1]; i < e; i++) acc[pd[i]] += qw * (float)pq[i];
        } else {
            const float *pw = ix->p_w;
            for (uint64_t i = ix->p_off[t], e = ix->p_off[t + 1]; i < e; i++) acc[pd[i]] += qw * pw[i];
        }
    }
    const uint32_t *ext = ix->ext;
    for (uint32_t d = 0; d < ix->n_docs; d++) {
        float sc = acc[d];
        if (sc <= 0.0f) continue;
        uint32_t e = ext ? ext[d] : d;
        if (s->heap_n < s->k || spar_sparse_worse(s->heap[0].score, s->heap[0].docid, sc, e))
            spar_sparse_heap_push(s, e, sc);
    }
    s->scored = ix->n_docs;
}

/* Block-max pruning over docid blocks. (1) The bound of every block: list terms scatter their u8 block
 * maxima, dense-row terms are added a cache-sized chunk at a time, then each group of GROUP blocks gets its
 * maximum. (2) Tiers of bound values, best first: the blocks of a tier (found through the group maxima) are
 * ordered by bound (a 256-bucket counting sort), and every document of a block whose bound (times the rounding slack) reaches the k-th
 * score is scored exactly. The first tier holds bounds >= 3/4 of the largest; each further tier reaches
 * down to the k-th score itself, so usually one or two tiers finish the query. Pruning is strict (a bound
 * equal to the k-th score is visited: a tie may still win on docid). */
static void search_bmp(spar_sparse_searcher *s, const spar_sparse_vec *q) {
    const spar_sparse_index *ix = s->ix;
    const uint32_t nb = ix->n_blocks, bs = ix->bmp_block;
    if (nb == 0) return;
    spar_sparse_qterm *qt = s->qt;
    uint32_t nd = 0, m = 0;
    for (uint32_t j = 0; j < q->n; j++) { /* dense-row terms first, then list terms */
        uint32_t t = q->ids[j];
        float c = q->weights[j] * ix->bm_step[t];
        if (c == 0.0f) continue;
        spar_sparse_qterm x = {t, c, 0.0f};
        if (ix->bm_row[t] != UINT32_MAX) {
            qt[m] = qt[nd];
            qt[nd++] = x;
        } else {
            qt[m] = x;
        }
        m++;
    }
    if (m == 0) return;
    const float slack = spar_sparse_slack(m);
    float *ub = s->ub, *gmax = s->gmax;
    memset(ub, 0, (size_t)nb * sizeof *ub);
    for (uint32_t j = nd; j < m; j++) {
        const uint32_t t = qt[j].t;
        const float c = qt[j].cb;
        const uint32_t *blk = ix->bm_blk;
        const uint8_t *bq = ix->bm_q;
        for (uint64_t i = ix->bm_off[t], e = ix->bm_off[t + 1]; i < e; i++) ub[blk[i]] += c * (float)bq[i];
    }
    /* dense rows a cache-sized chunk at a time; then the maximum of every group of GROUP blocks */
    const uint32_t ng = (nb + GROUP - 1) / GROUP;
    float maxub = 0.0f;
    for (uint32_t b0 = 0; b0 < nb; b0 += CHUNK) {
        const uint32_t n = SPAR_MIN(CHUNK, nb - b0);
        for (uint32_t j = 0; j < nd; j++) {
            const uint8_t *row = ix->bm_dense + (size_t)ix->bm_row[qt[j].t] * nb + b0;
            if (s->acc_row) s->acc_row(ub + b0, row, qt[j].cb, n);
            else
#ifdef HAVE_ACC_AVX2
            if (s->avx2) acc_row_avx2(ub + b0, row, qt[j].cb, n);
            else
#endif
                acc_row(ub + b0, row, qt[j].cb, n);
        }
        for (uint32_t g0 = b0; g0 < b0 + n; g0 += GROUP) {
            const uint32_t ge = SPAR_MIN(g0 + GROUP, b0 + n);
            float mx = 0.0f;
            for (uint32_t b = g0; b < ge; b++) mx = ub[b] > mx ? ub[b] : mx;
            gmax[g0 / GROUP] = mx;
            maxub = SPAR_MAX(maxub, mx);
        }
    }
    if (!(maxub > 0.0f)) return;
    /* tiers of bound values [lo, hi), best first: collect, sort descending, score; a tier is complete once
     * the k-th score exceeds lo (times the slack); the next tier starts right at the k-th score */
    spar_sparse_blk *cand = s->cand;
    float hi = INFINITY, lo = maxub * 0.75f;
    for (;;) {
        uint32_t nc = 0;
        for (uint32_t g = 0; g < ng; g++) {
            if (gmax[g] < lo) continue;
            for (uint32_t b = g * GROUP, ge = SPAR_MIN(nb, b + GROUP); b < ge; b++)
                if (ub[b] >= lo && ub[b] < hi) {
                    cand[nc].ub = ub[b];
                    cand[nc++].b = b;
                }
        }
        /* counting sort of the tier into NB buckets of bound value, visited descending */
        float tmax = lo;
        for (uint32_t x = 0; x < nc; x++) tmax = SPAR_MAX(tmax, cand[x].ub);
        const float bscale = tmax > lo ? (float)(NB - 1) / (tmax - lo) : 0.0f;
        uint32_t *bcnt = s->bcnt;
        float *bmx = s->bmx;
        memset(bcnt, 0, (NB + 1) * sizeof *bcnt);
        memset(bmx, 0, NB * sizeof *bmx);
        for (uint32_t x = 0; x < nc; x++) {
            float f = (cand[x].ub - lo) * bscale;
            uint32_t k = f < (float)(NB - 1) ? (uint32_t)f : NB - 1;
            bcnt[k + 1]++;
            bmx[k] = SPAR_MAX(bmx[k], cand[x].ub);
        }
        for (uint32_t k = 0; k < NB; k++) bcnt[k + 1] += bcnt[k]; /* bcnt[k] = start of bucket k */
        for (uint32_t x = 0; x < nc; x++) {
            float f = (cand[x].ub - lo) * bscale;
            uint32_t k = f < (float)(NB - 1) ? (uint32_t)f : NB - 1;
            s->cand2[bcnt[k]++] = cand[x]; /* bcnt[k] ends as the end of bucket k */
        }
        for (uint32_t k = NB; k-- > 0;) {
            uint32_t beg = k ? bcnt[k - 1] : 0, end = bcnt[k];
            if (beg == end) continue;
            if (bmx[k] * slack < spar_sparse_theta(s)) break; /* every later bucket is lower */
            for (uint32_t x = beg; x < end; x++) {
                if (x + 4 < end) __builtin_prefetch(ix->f_off + (size_t)s->cand2[x + 4].b * bs);
                if (x + 2 < end) { /* the forward rows of a later block: fetch ahead */
                    const uint64_t o = ix->f_off[(size_t)s->cand2[x + 2].b * bs];
                    __builtin_prefetch(ix->f_ids + o);
                    __builtin_prefetch(ix->f_ids + o + 32);
                    if (ix->quant) __builtin_prefetch(ix->f_q + o);
                    else {
                        __builtin_prefetch(ix->f_w + o);
                        __builtin_prefetch(ix->f_w + o + 16);
                    }
                }
                if (s->cand2[x].ub * slack < spar_sparse_theta(s)) continue;
                const uint32_t d0 = s->cand2[x].b * bs, d1 = SPAR_MIN(ix->n_docs, d0 + bs);
                float *bsc = s->bscore;
                s->score_docs(ix, s->qd, d0, d1, bsc);
                s->scored += d1 - d0;
                for (uint32_t d = d0; d < d1; d++) {
                    const float sc = bsc[d - d0];
                    if (!(sc > 0.0f) || (s->heap_n == s->k && sc < s->heap[0].score)) continue;
                    spar_sparse_heap_push(s, ix->ext ? ix->ext[d] : d, sc);
                }
            }
        }
        const float th = spar_sparse_theta(s);
        if (lo * slack < th || lo == FLT_MIN_POS) break; /* every block left is bounded strictly below theta */
        hi = lo;
        if (th > 0.0f) lo = th / slack * (1.0f - 1e-6f);
        else lo = lo > maxub * 1e-3f ? lo * 0.5f : 0.0f;
        if (!(lo > FLT_MIN_POS)) lo = FLT_MIN_POS; /* last tier: every block with a bound > 0 */
    }
}

spar_status spar_sparse_search_exact(spar_sparse_searcher *s, const spar_sparse_vec *q, uint32_t k,
                                     spar_sparse_exact_algo algo, spar_hit *hits, size_t *n_hits) {
    if (s == NULL || hits == NULL || n_hits == NULL) return SPAR_E_INVALID_ARG;
    if ((unsigned)algo > (unsigned)SPAR_SPARSE_BMW) return SPAR_E_INVALID_ARG;
    *n_hits = 0;
    SPAR_TRY(begin_query(s, q, k));
    switch (algo) {
    case SPAR_SPARSE_EXHAUSTIVE: search_exhaustive(s, q); break;
    case SPAR_SPARSE_BMP: search_bmp(s, q); break;
    case SPAR_SPARSE_MAXSCORE: spar_sparse_search_maxscore(s, q); break;
    case SPAR_SPARSE_BMW: spar_sparse_search_bmw(s, q); break;
    }
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
