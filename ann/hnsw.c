/* ann/hnsw.c — Hierarchical Navigable Small World graphs over float32 vectors (Malkov & Yashunin).
 * Build: levels drawn from a seeded per-node hash (so a node's level never depends on thread timing),
 * greedy descent, beam search with ef_construction, neighbour selection by the diversity heuristic,
 * bidirectional links pruned with the same heuristic. Multi-threaded build guards each node's link
 * list with a one-byte spinlock; queries after build take no locks. Contract: include/spar/spar_ann.h.
 *
 * Node block i (64-byte aligned, `block_bytes`): [level-0 list: count, up to M0 ids | pad][vector], so one
 * visit touches one contiguous region (links0/vecs/lstride/vstride in spar_ann point into the blocks).
 * Level l >= 1:   links_up[i][(l - 1) * (1 + M)] = count, then up to M ids. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_int.h"
#if defined(__x86_64__)
#include "ann/kernels_x86.h"
#define SPAR_HNSW_X86 1
#endif
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

void spar_hnsw_opts_default(spar_hnsw_opts *o) {
    o->M = 16;
    o->ef_construction = 200;
    o->seed = 42;
    o->n_threads = 0;
}

static inline uint32_t *links_at(const spar_ann *ix, uint32_t i, int level) {
    if (level == 0) return ix->links0 + (size_t)i * ix->lstride;
    return ix->links_up[i] + (size_t)(level - 1) * (1 + ix->M);
}

typedef struct build_ctx {
    spar_ann *ix;
    uint8_t *locks;
    pthread_mutex_t global;
} build_ctx;

static inline void node_lock(build_ctx *b, uint32_t i) {
    while (__atomic_test_and_set(&b->locks[i], __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&b->locks[i], __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static inline void node_unlock(build_ctx *b, uint32_t i) { __atomic_clear(&b->locks[i], __ATOMIC_RELEASE); }

/* Copy node i's neighbour list at `level` into dst (under its lock when building). Returns count. */
static inline uint32_t read_links(const spar_ann *ix, build_ctx *b, uint32_t i, int level, uint32_t *dst) {
    if (b != NULL) node_lock(b, i);
    const uint32_t *l = links_at(ix, i, level);
    uint32_t c = l[0];
    memcpy(dst, l + 1, c * sizeof(uint32_t));
    if (b != NULL) node_unlock(b, i);
    return c;
}

static inline void prefetch_vec(const spar_ann *ix, uint32_t id) {
    const char *p = (const char *)(ix->vecs + (size_t)id * ix->vstride);
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
}

/* Distance with the kernel chosen at compile time of the caller: mode 0 = dispatch table, 1 = inlined
 * AVX2 squared L2, 2 = inlined AVX2 negative dot. Modes 1/2 are only used from AVX2-compiled wrappers. */
static inline __attribute__((always_inline)) float dist_mode(const spar_ann *ix, const float *q, uint32_t id,
                                                             int mode) {
#ifdef SPAR_HNSW_X86
    const float *v = ix->vecs + (size_t)id * ix->vstride;
    if (mode == 1) return spar_l2sq_avx2(q, v, ix->dim);
    if (mode == 2) return -spar_dot_avx2(q, v, ix->dim);
#endif
    (void)mode;
    return spar_ann_dist(ix, q, id);
}

/* Beam search on one level from entry `ep`. Leaves up to ef results in s->res (max-heap). */
static inline __attribute__((always_inline)) void search_layer_t(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const float *q, uint32_t ep,
                         float d_ep, uint32_t ef, int level, int mode) {
    uint32_t epoch = ++s->epoch;
    if (epoch == 0) { /* wrapped: clear tags */
        memset(s->visited, 0, s->n_alloc * sizeof *s->visited);
        epoch = s->epoch = 1;
    }
    uint32_t *visited = s->visited;
    spar_dheap *cand = &s->cand, *res = &s->res;
    cand->n = res->n = 0;
    spar_dist_id e = {d_ep, ep};
    spar_dheap_push_min(cand, e);
    spar_dheap_push_max(res, e);
    visited[ep] = epoch;
    uint32_t *nb = s->nbuf;
    while (cand->n > 0) {
        spar_dist_id c = spar_dheap_pop_min(cand);
        if (res->n >= ef && c.d > res->a[0].d) break;
        uint32_t cnt;
        const uint32_t *list;
        if (b != NULL) {
            cnt = read_links(ix, b, c.id, level, nb);
            list = nb;
        } else {
            const uint32_t *l = links_at(ix, c.id, level);
            cnt = l[0];
            list = l + 1;
        }
        for (uint32_t j = 0; j < cnt; j++) prefetch_vec(ix, list[j]);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t id = list[j];
            if (visited[id] == epoch) continue;
            visited[id] = epoch;
            if (j + 1 < cnt) __builtin_prefetch(&visited[list[j + 1]]);
            float d = dist_mode(ix, q, id, mode);
            if (res->n < ef || d < res->a[0].d) {
                spar_dist_id x = {d, id};
                if (cand->n >= cand->cap) {
                    if (spar_dheap_reserve(cand, cand->cap * 2) != SPAR_OK) continue; /* OOM: drop candidate */
                }
                spar_dheap_push_min(cand, x);
                spar_dheap_push_max(res, x);
                if (res->n > ef) spar_dheap_pop_max(res);
            }
        }
    }
}

static void search_layer_generic(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const float *q,
                                 uint32_t ep, float d_ep, uint32_t ef, int level) {
    search_layer_t(ix, b, s, q, ep, d_ep, ef, level, 0);
}
#ifdef SPAR_HNSW_X86
SPAR_AVX2 static void search_layer_l2_avx2(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const float *q,
                                           uint32_t ep, float d_ep, uint32_t ef, int level) {
    search_layer_t(ix, b, s, q, ep, d_ep, ef, level, 1);
}
SPAR_AVX2 static void search_layer_ip_avx2(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const float *q,
                                           uint32_t ep, float d_ep, uint32_t ef, int level) {
    search_layer_t(ix, b, s, q, ep, d_ep, ef, level, 2);
}
#endif

static void search_layer(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const float *q, uint32_t ep,
                         float d_ep, uint32_t ef, int level) {
#ifdef SPAR_HNSW_X86
    if (ix->avx2) {
        if (ix->metric == SPAR_METRIC_L2) search_layer_l2_avx2(ix, b, s, q, ep, d_ep, ef, level);
        else search_layer_ip_avx2(ix, b, s, q, ep, d_ep, ef, level);
        return;
    }
#endif
    search_layer_generic(ix, b, s, q, ep, d_ep, ef, level);
}

/* Greedy descent on one level: move to the closest neighbour until no improvement. */
static uint32_t greedy(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const float *q, uint32_t ep,
                       float *d_ep, int level) {
    int changed = 1;
    while (changed) {
        changed = 0;
        uint32_t cnt;
        const uint32_t *list;
        if (b != NULL) {
            cnt = read_links(ix, b, ep, level, s->nbuf);
            list = s->nbuf;
        } else {
            const uint32_t *l = links_at(ix, ep, level);
            cnt = l[0];
            list = l + 1;
        }
        for (uint32_t j = 0; j < cnt; j++) {
            float d = spar_ann_dist(ix, q, list[j]);
            if (d < *d_ep || (d == *d_ep && list[j] < ep)) {
                *d_ep = d;
                ep = list[j];
                changed = 1;
            }
        }
    }
    return ep;
}

static int cmp_di(const void *a, const void *b) {
    spar_dist_id x = *(const spar_dist_id *)a, y = *(const spar_dist_id *)b;
    return spar_di_less(x, y) ? -1 : spar_di_less(y, x) ? 1 : 0;
}

/* Diversity heuristic: keep a candidate only if it is closer to the base than to every kept one.
 * cand[0..n) holds (distance to base, id); sorted here. Returns the number kept (first `out` entries). */
static uint32_t select_heuristic(const spar_ann *ix, spar_dist_id *cand, uint32_t n, uint32_t m) {
    qsort(cand, n, sizeof *cand, cmp_di);
    if (n <= m) return n;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n && kept < m; i++) {
        int good = 1;
        const float *v = ix->vecs + (size_t)cand[i].id * ix->vstride;
        for (uint32_t j = 0; j < kept; j++) {
            if (spar_ann_dist(ix, v, cand[j].id) < cand[i].d) {
                good = 0;
                break;
            }
        }
        if (good) cand[kept++] = cand[i];
    }
    return kept;
}

static int node_level(uint64_t seed, uint32_t i, double ml) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = ((z >> 11) + 1.0) * (1.0 / 9007199254740993.0); /* (0, 1] */
    int l = (int)(-log(u) * ml);
    return l >= SPAR_HNSW_MAX_LEVEL ? SPAR_HNSW_MAX_LEVEL - 1 : l;
}

/* Add q to neighbour n's list at level, pruning with the heuristic when full. Caller holds no locks. */
static void link_back(build_ctx *b, spar_dist_id *tmp, uint32_t n, uint32_t q, float d, int level) {
    spar_ann *ix = b->ix;
    uint32_t cap = level == 0 ? ix->M0 : ix->M;
    node_lock(b, n);
    uint32_t *l = links_at(ix, n, level);
    uint32_t c = l[0];
    for (uint32_t j = 0; j < c; j++)
        if (l[1 + j] == q) {
            node_unlock(b, n);
            return;
        }
    if (c < cap) {
        l[1 + c] = q;
        l[0] = c + 1;
    } else {
        const float *nv = ix->vecs + (size_t)n * ix->vstride;
        for (uint32_t j = 0; j < c; j++) {
            tmp[j].id = l[1 + j];
            tmp[j].d = spar_ann_dist(ix, nv, l[1 + j]);
        }
        tmp[c].id = q;
        tmp[c].d = d;
        uint32_t kept = select_heuristic(ix, tmp, c + 1, cap);
        for (uint32_t j = 0; j < kept; j++) l[1 + j] = tmp[j].id;
        l[0] = kept;
    }
    node_unlock(b, n);
}

static spar_status insert(build_ctx *b, spar_ann_scratch *s, spar_dist_id *tmp, uint32_t q) {
    spar_ann *ix = b->ix;
    const float *qv = ix->vecs + (size_t)q * ix->vstride;
    int L = ix->levels[q];
    pthread_mutex_lock(&b->global);
    uint32_t ep = ix->entry;
    int max_level = ix->max_level;
    int hold = L > max_level;
    if (!hold) pthread_mutex_unlock(&b->global);
    float d_ep = spar_ann_dist(ix, qv, ep);
    for (int l = max_level; l > L; l--) ep = greedy(ix, b, s, qv, ep, &d_ep, l);
    for (int l = L < max_level ? L : max_level; l >= 0; l--) {
        search_layer(ix, b, s, qv, ep, d_ep, ix->ef_construction, l);
        uint32_t n = s->res.n;
        memcpy(tmp, s->res.a, n * sizeof *tmp);
        uint32_t kept = select_heuristic(ix, tmp, n, ix->M);
        ep = tmp[0].id;
        d_ep = tmp[0].d;
        node_lock(b, q);
        uint32_t *lq = links_at(ix, q, l);
        for (uint32_t j = 0; j < kept; j++) lq[1 + j] = tmp[j].id;
        lq[0] = kept;
        node_unlock(b, q);
        /* tmp is reused by link_back: copy the kept set first */
        spar_dist_id keep[64]; /* kept <= M <= 64 */
        memcpy(keep, tmp, kept * sizeof *keep);
        for (uint32_t j = 0; j < kept; j++) link_back(b, tmp, keep[j].id, q, keep[j].d, l);
    }
    if (hold) {
        ix->entry = q;
        ix->max_level = L;
        pthread_mutex_unlock(&b->global);
    }
    return SPAR_OK;
}

spar_status spar_ann_hnsw_build(const float *vecs, uint64_t n, uint32_t dim, spar_metric metric,
                                const spar_hnsw_opts *opts, spar_ann **out) {
    spar_hnsw_opts o;
    if (opts == NULL) {
        spar_hnsw_opts_default(&o);
        opts = &o;
    }
    if (out == NULL || (vecs == NULL && n > 0) || metric == SPAR_METRIC_HAMMING || opts->M < 2 || opts->M > 64 ||
        opts->ef_construction == 0)
        return SPAR_E_INVALID_ARG;
    spar_ann *ix = NULL;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_HNSW, metric, dim, n, &ix));
    ix->M = opts->M;
    ix->M0 = 2 * opts->M;
    size_t link_bytes = ((1 + (size_t)ix->M0) * 4 + 15) & ~(size_t)15;
    ix->block_bytes = (link_bytes + (size_t)dim * 4 + 63) & ~(size_t)63;
    if (n > SIZE_MAX / ix->block_bytes || (ix->blocks = spar_ann_aligned_alloc(ix->block_bytes * (n ? n : 1))) == NULL) {
        spar_ann_free(ix);
        return SPAR_E_NOMEM;
    }
    memset(ix->blocks, 0, ix->block_bytes * (n ? n : 1));
    ix->links0 = ix->blocks;
    ix->lstride = ix->block_bytes / 4;
    ix->vecs = (float *)((char *)ix->blocks + link_bytes);
    ix->vstride = ix->block_bytes / 4;
    for (uint64_t i = 0; i < n; i++) {
        float *v = ix->vecs + i * ix->vstride;
        memcpy(v, vecs + i * dim, (size_t)dim * sizeof(float));
        if (metric == SPAR_METRIC_COSINE) spar_ann_normalize(v, dim);
    }
    ix->ef_construction = opts->ef_construction;
    ix->seed = opts->seed;
    spar_status st = SPAR_OK;
    build_ctx b = {ix, NULL, PTHREAD_MUTEX_INITIALIZER};
    ix->links_up = calloc(n ? n : 1, sizeof(uint32_t *));
    ix->levels = calloc(n ? n : 1, 1);
    b.locks = calloc(n ? n : 1, 1);
    if (ix->links_up == NULL || ix->levels == NULL || b.locks == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    double ml = 1.0 / log((double)ix->M);
    for (uint64_t i = 0; i < n; i++) {
        int L = node_level(ix->seed, (uint32_t)i, ml);
        ix->levels[i] = (uint8_t)L;
        if (L > 0 && (ix->links_up[i] = calloc((size_t)L * (1 + ix->M), sizeof(uint32_t))) == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
    }
    if (n == 0) goto done;
    ix->entry = 0;
    ix->max_level = ix->levels[0];
    int nt = 1;
#ifdef SPAR_HAVE_OPENMP
    nt = opts->n_threads > 0 ? opts->n_threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#endif
    {
        spar_ann_scratch *s = NULL;
        spar_status tst = spar_ann_scratch_create(ix, &s);
        if (tst == SPAR_OK) tst = spar_ann_scratch_reserve(s, ix, ix->ef_construction);
        spar_dist_id *tmp = malloc(sizeof(spar_dist_id) * (ix->ef_construction + ix->M0 + 2));
        if (tmp == NULL) tst = SPAR_E_NOMEM;
#ifdef SPAR_HAVE_OPENMP
#pragma omp for schedule(dynamic, 64)
#endif
        for (uint64_t i = 1; i < n; i++)
            if (tst == SPAR_OK) tst = insert(&b, s, tmp, (uint32_t)i);
        free(tmp);
        spar_ann_scratch_free(s);
        if (tst != SPAR_OK) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp critical(spar_hnsw_err)
#endif
            if (st == SPAR_OK) st = tst;
        }
    }
    (void)nt;
done:
    free(b.locks);
    pthread_mutex_destroy(&b.global);
    if (st != SPAR_OK) {
        spar_ann_free(ix);
        return st;
    }
    *out = ix;
    return SPAR_OK;
}

spar_status spar_hnsw_search(const spar_ann *ix, spar_ann_scratch *s, const float *query, uint32_t k, uint32_t ef,
                             spar_ann_hit *hits, size_t *n_hits) {
    const float *q = spar_ann_prepare_query(ix, s, query);
    uint32_t ep = ix->entry;
    float d_ep = spar_ann_dist(ix, q, ep);
    for (int l = ix->max_level; l > 0; l--) ep = greedy(ix, NULL, s, q, ep, &d_ep, l);
    search_layer(ix, NULL, s, q, ep, d_ep, ef, 0);
    spar_dheap *res = &s->res;
    /* results come out worst-first; drop deleted ones and keep the best k */
    uint32_t n = res->n;
    spar_dist_id *tmp = s->cand.a; /* candidates are no longer needed; cap >= res cap */
    if (s->cand.cap < n) return SPAR_E_INTERNAL;
    uint32_t m = 0;
    while (res->n > 0) {
        spar_dist_id x = spar_dheap_pop_max(res);
        if (ix->deleted == NULL || !ix->deleted[x.id]) tmp[m++] = x;
    }
    /* tmp is worst-first */
    size_t out = m < k ? m : k;
    for (size_t i = 0; i < out; i++) {
        hits[i].id = tmp[m - 1 - i].id;
        hits[i].dist = tmp[m - 1 - i].d;
    }
    *n_hits = out;
    return SPAR_OK;
}
