/* sparse_bp.c — docid reordering by recursive graph bisection (BP: Dhulipala et al., KDD 2016, with the
 * refinements of Mackenzie et al., "Faster index reordering with bipartite graph partitioning", SIGIR 2021)
 * for the exact block-max search: documents that share terms end up in the same docid block, so the
 * per-block term maxima are tight.
 *
 * The documents (as sets of term ids: all of them, or only each document's top_terms heaviest - block
 * maxima are made of the heavy terms, and on the generated corpora BP over all terms makes BMP slower than
 * no reordering, bench/sparse/README.md) are split in two halves; for up to max_iter rounds
 * every document gets the gain (decrease of the log-gap cost sum_t d1_t log(n1 / (d1_t + 1)) + d2_t
 * log(n2 / (d2_t + 1)), d_t = the term's document count in a half) of moving it to the other half, both
 * halves are sorted by gain, and pairs are exchanged while the two gains sum to > 0. Then each half is
 * bisected the same way, down to single blocks of `leaf` documents (splits fall on block boundaries).
 *
 * Level-synchronous: every level re-lays the term rows out in the current order (sequential reads), then
 * refines all its ranges — in parallel over ranges when there are enough, else with the work inside the
 * range in parallel. Every value is computed per document or per term in a fixed order and the sorts are
 * stable, so the order does not depend on the number of threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#include "common/common.h"
#include "index/sparse/sparse_int.h"

typedef struct bp_ent {
    float g;      /* gain of moving the doc to the other half */
    uint32_t row; /* its row in the level's layout */
    uint32_t doc; /* its caller docid */
} bp_ent;

typedef struct bp_scratch {
    int32_t *d1, *d2;     /* term degrees in the left / right half, dim (zero between ranges) */
    float *g12, *g21;     /* per-term gain of a move left->right / right->left, dim */
    uint32_t *touched;    /* terms with a non-zero degree in the current range */
    uint32_t n_touched;
} bp_scratch;

typedef struct bp_ctx {
    uint32_t dim, max_iter;
    const float *lg;      /* lg[x] = log2(x), x <= n + 1 */
    const uint64_t *off;  /* the level's layout: row r = tid[off[r] .. off[r+1]) */
    const uint16_t *tid;
    uint32_t *loc;        /* loc[position] = row */
    uint32_t *perm;       /* perm[position] = caller docid */
    bp_ent *ent, *ent2;   /* n scratch entries each (ranges are disjoint) */
} bp_ctx;

/* Descending float key as an ascending u32 (larger gain = smaller key). */
static inline uint32_t desc_key(float g) {
    uint32_t u;
    memcpy(&u, &g, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending order of floats */
    return ~u;
}

/* Stable LSD radix sort of e[0..n) by gain descending (3 passes of 11 bits), tmp: n entries. Stable, so
 * ties keep their positions: the result depends only on the input order, not on the threads. */
static void sort_gain_desc(bp_ent *e, bp_ent *tmp, uint32_t n) {
    if (n < 64) { /* insertion sort: also stable */
        for (uint32_t i = 1; i < n; i++) {
            bp_ent x = e[i];
            uint32_t j = i;
            while (j > 0 && e[j - 1].g < x.g) {
                e[j] = e[j - 1];
                j--;
            }
            e[j] = x;
        }
        return;
    }
    uint32_t cnt[3][2048];
    memset(cnt, 0, sizeof cnt);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t k = desc_key(e[i].g);
        cnt[0][k & 2047]++;
        cnt[1][(k >> 11) & 2047]++;
        cnt[2][k >> 22]++;
    }
    bp_ent *src = e, *dst = tmp;
    for (int pass = 0; pass < 3; pass++) {
        uint32_t sum = 0;
        for (uint32_t b = 0; b < 2048; b++) {
            const uint32_t c = cnt[pass][b];
            cnt[pass][b] = sum;
            sum += c;
        }
        const int sh = pass * 11;
        for (uint32_t i = 0; i < n; i++) dst[cnt[pass][(desc_key(src[i].g) >> sh) & 2047]++] = src[i];
        bp_ent *t = src;
        src = dst;
        dst = t;
    }
    memcpy(e, src, (size_t)n * sizeof *e); /* three passes: the result is in tmp */
}

static void add_rows(const bp_ctx *c, bp_scratch *s, int32_t *deg, uint32_t p0, uint32_t p1) {
    for (uint32_t p = p0; p < p1; p++) {
        const uint32_t r = c->loc[p];
        for (uint64_t i = c->off[r]; i < c->off[r + 1]; i++) {
            const uint32_t t = c->tid[i];
            if (s->d1[t] == 0 && s->d2[t] == 0) s->touched[s->n_touched++] = t;
            deg[t]++;
        }
    }
}

static void move_row(const bp_ctx *c, int32_t *from, int32_t *to, uint32_t r) {
    for (uint64_t i = c->off[r]; i < c->off[r + 1]; i++) {
        from[c->tid[i]]--;
        to[c->tid[i]]++;
    }
}

/* Refine the split of positions [p0, p1) at pm; par: parallelize inside (called outside a parallel region). */
static void bp_refine(const bp_ctx *c, bp_scratch *s, uint32_t p0, uint32_t pm, uint32_t p1, int par) {
    (void)par;
    const uint32_t n1 = pm - p0, n2 = p1 - pm;
    if (n1 == 0 || n2 == 0) return;
    s->n_touched = 0;
    add_rows(c, s, s->d1, p0, pm);
    add_rows(c, s, s->d2, pm, p1);
    const float *lg = c->lg;
    const float l1 = log2f((float)n1), l2 = log2f((float)n2);
    bp_ent *ent = c->ent;
    for (uint32_t it = 0; it < c->max_iter; it++) {
        /* per-term gains of a move: cost before minus cost after */
        for (uint32_t j = 0; j < s->n_touched; j++) {
            const uint32_t t = s->touched[j];
            const int32_t a = s->d1[t], b = s->d2[t];
            const float before = (float)a * (l1 - lg[a + 1]) + (float)b * (l2 - lg[b + 1]);
            s->g12[t] = a > 0 ? before - ((float)(a - 1) * (l1 - lg[a]) + (float)(b + 1) * (l2 - lg[b + 2])) : 0.0f;
            s->g21[t] = b > 0 ? before - ((float)(a + 1) * (l1 - lg[a + 2]) + (float)(b - 1) * (l2 - lg[b])) : 0.0f;
        }
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (par)
#endif
        for (int64_t p = p0; p < (int64_t)p1; p++) {
            const uint32_t r = c->loc[p];
            const float *gt = p < pm ? s->g12 : s->g21;
            float g = 0.0f;
            for (uint64_t i = c->off[r]; i < c->off[r + 1]; i++) g += gt[c->tid[i]];
            ent[p].g = g;
            ent[p].row = r;
            ent[p].doc = c->perm[p];
        }
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel sections if (par)
#endif
        {
#ifdef SPAR_HAVE_OPENMP
#pragma omp section
#endif
            sort_gain_desc(ent + p0, c->ent2 + p0, n1);
#ifdef SPAR_HAVE_OPENMP
#pragma omp section
#endif
            sort_gain_desc(ent + pm, c->ent2 + pm, n2);
        }
        uint32_t ns = 0;
        const uint32_t m = SPAR_MIN(n1, n2);
        while (ns < m && ent[p0 + ns].g + ent[pm + ns].g > 0.0f) ns++;
        for (uint32_t x = 0; x < ns; x++) {
            bp_ent e = ent[p0 + x];
            ent[p0 + x] = ent[pm + x];
            ent[pm + x] = e;
            move_row(c, s->d1, s->d2, e.row);
            move_row(c, s->d2, s->d1, ent[p0 + x].row);
        }
        for (uint32_t p = p0; p < p1; p++) { /* the halves stay sorted by gain: the next level's start */
            c->loc[p] = ent[p].row;
            c->perm[p] = ent[p].doc;
        }
        if (ns == 0) break;
    }
    for (uint32_t j = 0; j < s->n_touched; j++) s->d1[s->touched[j]] = s->d2[s->touched[j]] = 0;
}

static void scratch_free(bp_scratch *s) {
    free(s->d1);
    free(s->d2);
    free(s->g12);
    free(s->g21);
    free(s->touched);
}

spar_status spar_sparse_bp_order(const spar_sparse_vec *docs, uint32_t n, uint32_t dim, uint32_t leaf,
                                 uint32_t top_terms, uint32_t max_iter, uint32_t n_threads, uint32_t *order) {
    if (n == 0) return SPAR_OK;
    if ((docs == NULL && n > 0) || order == NULL || leaf == 0 || dim == 0 || dim > 65536) return SPAR_E_INVALID_ARG;
    int nt = 1;
#ifdef SPAR_HAVE_OPENMP
    nt = n_threads ? (int)n_threads : omp_get_max_threads();
    if (nt < 1) nt = 1;
#else
    (void)n_threads;
#endif
    spar_status st = SPAR_OK;
    uint64_t nnz = 0;
    for (uint32_t d = 0; d < n; d++) nnz += top_terms && docs[d].n > top_terms ? top_terms : docs[d].n;
    uint64_t *off = spar_malloc_array((size_t)n + 1, sizeof *off), *off2 = spar_malloc_array((size_t)n + 1, sizeof *off2);
    uint16_t *tid = spar_malloc_array(nnz ? nnz : 1, sizeof *tid), *tid2 = spar_malloc_array(nnz ? nnz : 1, sizeof *tid2);
    uint32_t *loc = spar_malloc_array(n, sizeof *loc);
    float *lg = spar_malloc_array((size_t)n + 2, sizeof *lg);
    bp_ent *ent = spar_malloc_array(n, sizeof *ent), *ent2 = spar_malloc_array(n, sizeof *ent2);
    bp_scratch *sc = calloc((size_t)nt, sizeof *sc);
    if (!off || !off2 || !tid || !tid2 || !loc || !lg || !ent || !ent2 || !sc) { st = SPAR_E_NOMEM; goto done; }
    for (int i = 0; i < nt; i++) {
        sc[i].d1 = calloc(dim, sizeof(int32_t));
        sc[i].d2 = calloc(dim, sizeof(int32_t));
        sc[i].g12 = malloc((size_t)dim * sizeof(float));
        sc[i].g21 = malloc((size_t)dim * sizeof(float));
        sc[i].touched = malloc((size_t)dim * sizeof(uint32_t));
        if (!sc[i].d1 || !sc[i].d2 || !sc[i].g12 || !sc[i].g21 || !sc[i].touched) { st = SPAR_E_NOMEM; goto done; }
    }
    lg[0] = 0.0f;
    for (uint32_t x = 1; x < n + 2; x++) lg[x] = log2f((float)x);
    off[0] = 0;
    for (uint32_t p = 0; p < n; p++) { /* start from the caller's order */
        const spar_sparse_vec *v = &docs[order[p]];
        uint32_t m = 0;
        for (uint32_t i = 0; i < v->n; i++) {
            if (top_terms && v->n > top_terms) { /* keep term i if fewer than top_terms terms outrank it */
                uint32_t rank = 0;
                for (uint32_t j = 0; j < v->n && rank < top_terms; j++)
                    rank += v->weights[j] > v->weights[i] || (v->weights[j] == v->weights[i] && j < i);
                if (rank >= top_terms) continue;
            }
            tid[off[p] + m++] = (uint16_t)v->ids[i];
        }
        off[p + 1] = off[p] + m;
    }
    const uint32_t nblk = (n + leaf - 1) / leaf;
    const double t0 = spar_now();
    /* level L has ranges of ~nblk / 2^L blocks: range j = blocks [j * nblk >> L, (j + 1) * nblk >> L) */
    for (uint32_t level = 0; ((uint64_t)1 << level) < nblk; level++) {
        const uint64_t nr = (uint64_t)1 << level;
        for (uint32_t p = 0; p < n; p++) loc[p] = p;
        bp_ctx c = {dim, max_iter, lg, off, tid, loc, order, ent, ent2};
        if (nr < (uint64_t)nt) {
            for (uint64_t j = 0; j < nr; j++) {
                uint64_t b0 = j * nblk >> level, b1 = (j + 1) * nblk >> level, bm = (b0 + b1) / 2;
                bp_refine(&c, &sc[0], (uint32_t)SPAR_MIN(n, b0 * leaf), (uint32_t)SPAR_MIN(n, bm * leaf),
                          (uint32_t)SPAR_MIN(n, b1 * leaf), 1);
            }
        } else {
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
            for (int64_t j = 0; j < (int64_t)nr; j++) {
                int me = 0;
#ifdef SPAR_HAVE_OPENMP
                me = omp_get_thread_num();
#endif
                uint64_t b0 = (uint64_t)j * nblk >> level, b1 = (uint64_t)(j + 1) * nblk >> level, bm = (b0 + b1) / 2;
                if (b1 - b0 < 2) continue;
                bp_refine(&c, &sc[me], (uint32_t)SPAR_MIN(n, b0 * leaf), (uint32_t)SPAR_MIN(n, bm * leaf),
                          (uint32_t)SPAR_MIN(n, b1 * leaf), 0);
            }
        }
        /* re-lay the rows out in the new order */
        off2[0] = 0;
        for (uint32_t p = 0; p < n; p++) off2[p + 1] = off2[p] + (off[loc[p] + 1] - off[loc[p]]);
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
        for (int64_t p = 0; p < (int64_t)n; p++)
            memcpy(tid2 + off2[p], tid + off[loc[p]], (size_t)(off2[p + 1] - off2[p]) * sizeof *tid);
        spar_log(SPAR_LOG_DEBUG, "bp: level %u (%llu ranges) done at %.1f s", level, (unsigned long long)nr,
                 spar_now() - t0);
        uint64_t *to = off;
        off = off2;
        off2 = to;
        uint16_t *tt = tid;
        tid = tid2;
        tid2 = tt;
    }
done:
    if (sc)
        for (int i = 0; i < nt; i++) scratch_free(&sc[i]);
    free(sc);
    free(off);
    free(off2);
    free(tid);
    free(tid2);
    free(loc);
        free(lg);
    free(ent);
    free(ent2);
    return st;
}
