/* ann/hnsw.c — Hierarchical Navigable Small World graphs (Malkov & Yashunin) over float32 vectors, SQ8
 * (int8) vectors, or binary codes.
 * Build: levels drawn from a seeded per-node hash (so a node's level never depends on thread timing),
 * greedy descent, beam search with ef_construction, neighbour selection by the diversity heuristic,
 * bidirectional links pruned with the same heuristic. Multi-threaded build guards each node's link list
 * with a one-byte spinlock; queries after build take no locks. Contract: include/spar/spar_ann.h.
 *
 * Node block i (64-byte aligned, `block_bytes`):
 *     [level-0 list: count, up to M0 ids | pad to 16 B][vector: dim float32 | dim uint8 | bits/8 bytes]
 * so one visit touches one contiguous region. Level l >= 1: links_up[i][(l-1)*(1+M)] = count, then ids.
 *
 * Distances use a "prepared query": float32 (normalised for cosine), SQ8-transformed floats
 * (t_j = (q_j - min_j)/step_j for L2, q_j*step_j for inner product), or the code itself. Hot loops are
 * instantiated per (format, metric) inside AVX2-compiled wrappers so the kernels inline. */
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
    o->storage = SPAR_HNSW_F32;
    o->keep_full = 1;
}

static inline uint32_t *links_at(const spar_ann *ix, uint32_t i, int level) {
    if (level == 0) return ix->links0 + (size_t)i * ix->lstride;
    return ix->links_up[i] + (size_t)(level - 1) * (1 + ix->M);
}

static inline const uint8_t *node_vec(const spar_ann *ix, uint32_t i) {
    return (const uint8_t *)ix->blocks + (size_t)i * ix->block_bytes + ix->link_bytes;
}

/* ---- distances ---- */
enum { MODE_GENERIC = 0, MODE_F32_L2, MODE_F32_IP, MODE_SQ8_L2, MODE_SQ8_IP, MODE_BIN };

static inline __attribute__((always_inline)) float sq8_l2(const float *t, const float *w, const uint8_t *c,
                                                          uint32_t d) {
    float acc = 0;
    for (uint32_t j = 0; j < d; j++) {
        float x = (float)c[j] - t[j];
        acc += w[j] * x * x;
    }
    return acc;
}
static inline __attribute__((always_inline)) float sq8_ip(const float *t, const uint8_t *c, uint32_t d, float cst) {
    float acc = 0;
    for (uint32_t j = 0; j < d; j++) acc += t[j] * (float)c[j];
    return -(cst + acc);
}

/* q: prepared query (see file comment); qc: SQ8 inner-product constant. */
static inline __attribute__((always_inline)) float hdist(const spar_ann *ix, const void *q, float qc, uint32_t id,
                                                         int mode) {
    const uint8_t *v = node_vec(ix, id);
    switch (mode) {
#ifdef SPAR_HNSW_X86
    case MODE_F32_L2: return spar_l2sq_avx2(q, (const float *)v, ix->dim);
    case MODE_F32_IP: return -spar_dot_avx2(q, (const float *)v, ix->dim);
#endif
#ifdef SPAR_HNSW_X86
    case MODE_SQ8_L2: return spar_sq8_l2_avx2(q, ix->sq_w, v, ix->dim);
    case MODE_SQ8_IP: return -(qc + spar_sq8_dot_avx2(q, v, ix->dim));
#endif
    case MODE_BIN: {
        const uint64_t *a = q, *b = (const uint64_t *)v;
        uint32_t s = 0;
        for (uint32_t w = 0; w < ix->words; w++) s += (uint32_t)__builtin_popcountll(a[w] ^ b[w]);
        return (float)s;
    }
    default: break;
    }
    /* generic: through the dispatch table (or direct calls to the AVX2 kernels when the CPU has them) */
#ifdef SPAR_HNSW_X86
    if (ix->avx2 && ix->hfmt == SPAR_HNSW_SQ8)
        return ix->metric == SPAR_METRIC_L2 ? spar_sq8_l2_avx2(q, ix->sq_w, v, ix->dim)
                                            : -(qc + spar_sq8_dot_avx2(q, v, ix->dim));
#endif
    if (ix->hfmt == SPAR_HNSW_F32)
        return ix->metric == SPAR_METRIC_L2 ? ix->kern->l2sq(q, (const float *)v, ix->dim)
                                            : -ix->kern->dot(q, (const float *)v, ix->dim);
    if (ix->hfmt == SPAR_HNSW_SQ8)
        return ix->metric == SPAR_METRIC_L2 ? sq8_l2(q, ix->sq_w, v, ix->dim) : sq8_ip(q, v, ix->dim, qc);
    return (float)ix->kern->hamming(q, (const uint64_t *)v, ix->words);
}

/* Prepare a float query (or a code) for hdist. buf: dim floats. Returns the pointer to pass as q. */
static const void *prepare(const spar_ann *ix, const void *query, float *buf, float *qc) {
    *qc = 0;
    if (ix->hfmt == SPAR_HNSW_BIN) return query;
    const float *x = query;
    if (ix->metric == SPAR_METRIC_COSINE) {
        memcpy(buf, x, (size_t)ix->dim * sizeof(float));
        spar_ann_normalize(buf, ix->dim);
        x = buf;
    }
    if (ix->hfmt == SPAR_HNSW_F32) return x;
    if (ix->metric == SPAR_METRIC_L2) {
        for (uint32_t j = 0; j < ix->dim; j++) buf[j] = (x[j] - ix->sq_min[j]) / ix->sq_scale[j];
    } else {
        float c = 0;
        for (uint32_t j = 0; j < ix->dim; j++) {
            c += x[j] * ix->sq_min[j];
            buf[j] = x[j] * ix->sq_scale[j];
        }
        *qc = c;
    }
    return buf;
}

/* A stored node as a query: its vector (F32, binary) or its SQ8 code decoded and transformed into buf. */
static const void *node_query(const spar_ann *ix, uint32_t i, float *buf, float *qc) {
    if (ix->hfmt != SPAR_HNSW_SQ8) {
        *qc = 0;
        return node_vec(ix, i);
    }
    const uint8_t *c = node_vec(ix, i);
    float *x = buf;
    for (uint32_t j = 0; j < ix->dim; j++) x[j] = ix->sq_min[j] + ix->sq_scale[j] * (float)c[j];
    return prepare(ix, x, buf, qc); /* cosine: already normalised before encoding; L2/IP transform in place */
}

static int pick_mode(const spar_ann *ix) {
#ifdef SPAR_HNSW_X86
    if (ix->avx2) {
        if (ix->hfmt == SPAR_HNSW_F32) return ix->metric == SPAR_METRIC_L2 ? MODE_F32_L2 : MODE_F32_IP;
        if (ix->hfmt == SPAR_HNSW_SQ8) return ix->metric == SPAR_METRIC_L2 ? MODE_SQ8_L2 : MODE_SQ8_IP;
        return MODE_BIN;
    }
#endif
    return MODE_GENERIC;
}

/* ---- build context and locks ---- */
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

/* The first `bytes` (at most the whole vector) of node i's vector, line by line: the hardware prefetchers
 * do not follow the random walk. */
#define SPAR_HNSW_PF_BYTES 512 /* per neighbour up front: a whole 128-d float vector; 768-d: measured best */
static inline void prefetch_vec(const spar_ann *ix, uint32_t i, size_t bytes) {
    const char *p = (const char *)node_vec(ix, i);
    size_t lim = bytes < ix->vec_bytes ? bytes : ix->vec_bytes;
    for (size_t o = 0; o < lim; o += 64) __builtin_prefetch(p + o);
}

/* ---- beam search on one level from entry `ep`; leaves up to ef results in s->res (max-heap) ---- */
static inline __attribute__((always_inline)) void search_layer_t(const spar_ann *ix, build_ctx *b,
                                                                 spar_ann_scratch *s, const void *q, float qc,
                                                                 uint32_t ep, float d_ep, uint32_t ef, int level,
                                                                 int mode) {
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
        /* Unvisited neighbours first, and all of their vectors requested from memory at once: the loads
         * overlap each other and the distance computations below, instead of one miss per neighbour
         * (measured on 100k x 128-d: ~1.25x QPS over prefetching one neighbour ahead). Long vectors
         * (768-d: 48 lines) get their first 512 bytes up front and the rest one neighbour ahead, which
         * keeps the number of lines in flight near what the core can track (~1.3x over all lines up front). */
        uint32_t todo[2 * 64 + 1], m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t id = list[j];
            if (visited[id] == epoch) continue;
            visited[id] = epoch;
            todo[m++] = id;
        }
        const int big = ix->vec_bytes > SPAR_HNSW_PF_BYTES;
        for (uint32_t j = 0; j < m; j++) prefetch_vec(ix, todo[j], SPAR_HNSW_PF_BYTES);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t id = todo[j];
            if (big && j + 1 < m) prefetch_vec(ix, todo[j + 1], ix->vec_bytes); /* the rest of the next one */
            float d = hdist(ix, q, qc, id, mode);
            if (res->n < ef || d < res->a[0].d) {
                spar_dist_id x = {d, id};
                if (cand->n >= cand->cap && spar_dheap_reserve(cand, cand->cap * 2) != SPAR_OK) continue;
                spar_dheap_push_min(cand, x);
                spar_dheap_push_max(res, x);
                if (res->n > ef) spar_dheap_pop_max(res);
            }
        }
        if (cand->n > 0) { /* the next candidate's link list */
            __builtin_prefetch(links_at(ix, cand->a[0].id, level));
        }
    }
}

#define SEARCH_ARGS                                                                                          \
    const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const void *q, float qc, uint32_t ep, float d_ep,   \
        uint32_t ef, int level
static void search_layer_generic(SEARCH_ARGS) { search_layer_t(ix, b, s, q, qc, ep, d_ep, ef, level, MODE_GENERIC); }
#ifdef SPAR_HNSW_X86
#define SPAR_HNSW_WRAP(name, mode)                                                                           \
    SPAR_AVX2 static void name(SEARCH_ARGS) { search_layer_t(ix, b, s, q, qc, ep, d_ep, ef, level, mode); }
SPAR_HNSW_WRAP(search_layer_f32_l2, MODE_F32_L2)
SPAR_HNSW_WRAP(search_layer_f32_ip, MODE_F32_IP)
SPAR_HNSW_WRAP(search_layer_sq8_l2, MODE_SQ8_L2)
SPAR_HNSW_WRAP(search_layer_sq8_ip, MODE_SQ8_IP)
SPAR_HNSW_WRAP(search_layer_bin, MODE_BIN)
#endif

static void search_layer(SEARCH_ARGS) {
    switch (pick_mode(ix)) {
#ifdef SPAR_HNSW_X86
    case MODE_F32_L2: search_layer_f32_l2(ix, b, s, q, qc, ep, d_ep, ef, level); return;
    case MODE_F32_IP: search_layer_f32_ip(ix, b, s, q, qc, ep, d_ep, ef, level); return;
    case MODE_SQ8_L2: search_layer_sq8_l2(ix, b, s, q, qc, ep, d_ep, ef, level); return;
    case MODE_SQ8_IP: search_layer_sq8_ip(ix, b, s, q, qc, ep, d_ep, ef, level); return;
    case MODE_BIN: search_layer_bin(ix, b, s, q, qc, ep, d_ep, ef, level); return;
#endif
    default: search_layer_generic(ix, b, s, q, qc, ep, d_ep, ef, level);
    }
}

/* Greedy descent on one level: move to the closest neighbour until no improvement. */
static uint32_t greedy(const spar_ann *ix, build_ctx *b, spar_ann_scratch *s, const void *q, float qc, uint32_t ep,
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
            float d = hdist(ix, q, qc, list[j], MODE_GENERIC);
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
 * cand[0..n) holds (distance to base, id); sorted here. Returns the number kept (first entries). */
static uint32_t select_heuristic(const spar_ann *ix, float *buf, spar_dist_id *cand, uint32_t n, uint32_t m) {
    qsort(cand, n, sizeof *cand, cmp_di);
    if (n <= m) return n;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n && kept < m; i++) {
        int good = 1;
        float qc;
        const void *v = node_query(ix, cand[i].id, buf, &qc);
        for (uint32_t j = 0; j < kept; j++) {
            if (hdist(ix, v, qc, cand[j].id, MODE_GENERIC) < cand[i].d) {
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

/* Add q to neighbour n's list at level, pruning with the heuristic when full. */
static void link_back(build_ctx *b, float *buf, spar_dist_id *tmp, uint32_t n, uint32_t q, float d, int level) {
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
        float qc;
        const void *nv = node_query(ix, n, buf, &qc);
        for (uint32_t j = 0; j < c; j++) {
            tmp[j].id = l[1 + j];
            tmp[j].d = hdist(ix, nv, qc, l[1 + j], MODE_GENERIC);
        }
        tmp[c].id = q;
        tmp[c].d = d;
        uint32_t kept = select_heuristic(ix, buf, tmp, c + 1, cap);
        for (uint32_t j = 0; j < kept; j++) l[1 + j] = tmp[j].id;
        l[0] = kept;
    }
    node_unlock(b, n);
}

static spar_status insert(build_ctx *b, spar_ann_scratch *s, spar_dist_id *tmp, float *qbuf, uint32_t q) {
    spar_ann *ix = b->ix;
    float qc;
    const void *qv = node_query(ix, q, qbuf, &qc);
    int L = ix->levels[q];
    pthread_mutex_lock(&b->global);
    uint32_t ep = ix->entry;
    int max_level = ix->max_level;
    int hold = L > max_level;
    if (!hold) pthread_mutex_unlock(&b->global);
    float d_ep = hdist(ix, qv, qc, ep, MODE_GENERIC);
    for (int l = max_level; l > L; l--) ep = greedy(ix, b, s, qv, qc, ep, &d_ep, l);
    for (int l = L < max_level ? L : max_level; l >= 0; l--) {
        search_layer(ix, b, s, qv, qc, ep, d_ep, ix->ef_construction, l);
        uint32_t n = s->res.n;
        memcpy(tmp, s->res.a, n * sizeof *tmp);
        uint32_t kept = select_heuristic(ix, s->hbuf, tmp, n, ix->M);
        ep = tmp[0].id;
        d_ep = tmp[0].d;
        node_lock(b, q);
        uint32_t *lq = links_at(ix, q, l);
        for (uint32_t j = 0; j < kept; j++) lq[1 + j] = tmp[j].id;
        lq[0] = kept;
        node_unlock(b, q);
        spar_dist_id keep[64]; /* kept <= M <= 64; tmp is reused by link_back */
        memcpy(keep, tmp, kept * sizeof *keep);
        for (uint32_t j = 0; j < kept; j++) link_back(b, s->hbuf, tmp, keep[j].id, q, keep[j].d, l);
    }
    if (hold) {
        ix->entry = q;
        ix->max_level = L;
        pthread_mutex_unlock(&b->global);
    }
    return SPAR_OK;
}

/* Node blocks for n nodes of vec_bytes each; also sets links0/lstride (and vecs/vstride for F32). */
spar_status spar_hnsw_alloc_nodes(spar_ann *ix, size_t vec_bytes) {
    ix->link_bytes = ((1 + (size_t)ix->M0) * 4 + 15) & ~(size_t)15;
    ix->block_bytes = (ix->link_bytes + vec_bytes + 63) & ~(size_t)63;
    ix->vec_bytes = vec_bytes;
    size_t n = ix->n ? (size_t)ix->n : 1;
    if (n > SIZE_MAX / ix->block_bytes || (ix->blocks = spar_ann_aligned_alloc(ix->block_bytes * n)) == NULL)
        return SPAR_E_NOMEM;
    memset(ix->blocks, 0, ix->block_bytes * n);
    ix->links0 = ix->blocks;
    ix->lstride = ix->block_bytes / 4;
    if (ix->hfmt == SPAR_HNSW_F32) {
        ix->vecs = (float *)((char *)ix->blocks + ix->link_bytes);
        ix->vstride = ix->block_bytes / 4;
    }
    if ((ix->links_up = calloc(n, sizeof(uint32_t *))) == NULL || (ix->levels = calloc(n, 1)) == NULL)
        return SPAR_E_NOMEM;
    return SPAR_OK;
}

/* Shared by the float and binary builders once node vectors are in place. */
static spar_status build_graph(spar_ann *ix, const spar_hnsw_opts *opts) {
    uint64_t n = ix->n;
    spar_status st = SPAR_OK;
    build_ctx b = {ix, NULL, PTHREAD_MUTEX_INITIALIZER};
    if ((b.locks = calloc(n ? n : 1, 1)) == NULL) return SPAR_E_NOMEM;
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
#ifdef SPAR_HAVE_OPENMP
    int nt = opts->n_threads > 0 ? opts->n_threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#else
    (void)opts;
#endif
    {
        spar_ann_scratch *s = NULL;
        spar_status tst = spar_ann_scratch_create(ix, &s);
        if (tst == SPAR_OK) tst = spar_ann_scratch_reserve(s, ix, ix->ef_construction);
        spar_dist_id *tmp = malloc(sizeof(spar_dist_id) * (ix->ef_construction + ix->M0 + 2));
        float *qbuf = malloc(sizeof(float) * ix->dim + 4);
        if (tmp == NULL || qbuf == NULL) tst = SPAR_E_NOMEM;
#ifdef SPAR_HAVE_OPENMP
#pragma omp for schedule(dynamic, 64)
#endif
        for (uint64_t i = 1; i < n; i++)
            if (tst == SPAR_OK) tst = insert(&b, s, tmp, qbuf, (uint32_t)i);
        free(tmp);
        free(qbuf);
        spar_ann_scratch_free(s);
        if (tst != SPAR_OK) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp critical(spar_hnsw_err)
#endif
            if (st == SPAR_OK) st = tst;
        }
    }
done:
    free(b.locks);
    pthread_mutex_destroy(&b.global);
    return st;
}

static spar_status check_opts(const spar_hnsw_opts *o) {
    return (o->M < 2 || o->M > 64 || o->ef_construction == 0 || o->storage > SPAR_HNSW_SQ8) ? SPAR_E_INVALID_ARG
                                                                                          : SPAR_OK;
}

spar_status spar_ann_hnsw_build(const float *vecs, uint64_t n, uint32_t dim, spar_metric metric,
                                const spar_hnsw_opts *opts, spar_ann **out) {
    spar_hnsw_opts o;
    if (opts == NULL) spar_hnsw_opts_default(&o);
    else o = *opts;
    if (out == NULL || (vecs == NULL && n > 0) || metric == SPAR_METRIC_HAMMING || check_opts(&o) != SPAR_OK)
        return SPAR_E_INVALID_ARG;
    spar_ann *ix = NULL;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_HNSW, metric, dim, n, &ix));
    ix->M = o.M;
    ix->M0 = 2 * o.M;
    ix->ef_construction = o.ef_construction;
    ix->seed = o.seed;
    ix->hfmt = (int)o.storage;
    spar_status st = SPAR_OK;
    float *tmpv = NULL;
    if (ix->hfmt == SPAR_HNSW_F32) {
        SPAR_TRY_GOTO(st, spar_hnsw_alloc_nodes(ix, (size_t)dim * 4), fail);
        for (uint64_t i = 0; i < n; i++) {
            float *v = ix->vecs + i * ix->vstride;
            memcpy(v, vecs + i * dim, (size_t)dim * sizeof(float));
            if (metric == SPAR_METRIC_COSINE) spar_ann_normalize(v, dim);
        }
    } else {
        /* SQ8: codes in the nodes; the float vectors (normalised for cosine) kept apart for re-ranking */
        SPAR_TRY_GOTO(st, spar_hnsw_alloc_nodes(ix, dim), fail);
        const float *src = vecs;
        if (metric == SPAR_METRIC_COSINE || o.keep_full) {
            if ((tmpv = spar_ann_aligned_alloc((size_t)(n ? n : 1) * dim * 4)) == NULL) {
                st = SPAR_E_NOMEM;
                goto fail;
            }
            memcpy(tmpv, vecs, (size_t)n * dim * 4);
            if (metric == SPAR_METRIC_COSINE)
                for (uint64_t i = 0; i < n; i++) spar_ann_normalize(tmpv + i * dim, dim);
            src = tmpv;
        }
        if ((ix->sq_min = malloc(dim * 4)) == NULL || (ix->sq_scale = malloc(dim * 4)) == NULL ||
            (ix->sq_w = malloc(dim * 4)) == NULL) {
            st = SPAR_E_NOMEM;
            goto fail;
        }
        spar_sq8_train(ix->sq_min, ix->sq_scale, src, n, dim);
        for (uint32_t j = 0; j < dim; j++) ix->sq_w[j] = ix->sq_scale[j] * ix->sq_scale[j];
        for (uint64_t i = 0; i < n; i++)
            spar_sq8_encode(ix->sq_min, ix->sq_scale, src + i * dim, dim, (uint8_t *)node_vec(ix, (uint32_t)i));
        if (o.keep_full) {
            free(ix->vecs); /* placeholder from spar_ann_alloc */
            ix->vecs = tmpv;
            ix->vstride = dim;
            ix->has_full = 1;
            tmpv = NULL;
        }
    }
    SPAR_TRY_GOTO(st, build_graph(ix, &o), fail);
    free(tmpv);
    *out = ix;
    return SPAR_OK;
fail:
    free(tmpv);
    spar_ann_free(ix);
    return st;
}

spar_status spar_ann_binary_hnsw_build(const uint8_t *codes, uint64_t n, uint32_t bits, const spar_hnsw_opts *opts,
                                       spar_ann **out) {
    spar_hnsw_opts o;
    if (opts == NULL) spar_hnsw_opts_default(&o);
    else o = *opts;
    o.storage = SPAR_HNSW_F32;
    if (out == NULL || (codes == NULL && n > 0) || bits == 0 || bits % 64 != 0 || check_opts(&o) != SPAR_OK)
        return SPAR_E_INVALID_ARG;
    spar_ann *ix = NULL;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_BINARY_FLAT, SPAR_METRIC_HAMMING, bits, n, &ix));
    free(ix->codes); /* codes live in the node blocks */
    ix->codes = NULL;
    ix->kind = SPAR_ANN_HNSW;
    ix->M = o.M;
    ix->M0 = 2 * o.M;
    ix->ef_construction = o.ef_construction;
    ix->seed = o.seed;
    ix->hfmt = SPAR_HNSW_BIN;
    spar_status st = spar_hnsw_alloc_nodes(ix, bits / 8);
    if (st == SPAR_OK) {
        for (uint64_t i = 0; i < n; i++) memcpy((uint8_t *)node_vec(ix, (uint32_t)i), codes + i * (bits / 8), bits / 8);
        st = build_graph(ix, &o);
    }
    if (st != SPAR_OK) {
        spar_ann_free(ix);
        return st;
    }
    *out = ix;
    return SPAR_OK;
}

spar_status spar_hnsw_search_rr(const spar_ann *ix, spar_ann_scratch *s, const void *query, uint32_t k, uint32_t ef,
                                uint32_t rerank, spar_ann_hit *hits, size_t *n_hits) {
    float qc;
    const void *q = prepare(ix, query, s->qbuf, &qc);
    uint32_t ep = ix->entry;
    float d_ep = hdist(ix, q, qc, ep, MODE_GENERIC);
    for (int l = ix->max_level; l > 0; l--) ep = greedy(ix, NULL, s, q, qc, ep, &d_ep, l);
    search_layer(ix, NULL, s, q, qc, ep, d_ep, ef, 0);
    spar_dheap *res = &s->res;
    uint32_t n = res->n;
    spar_dist_id *tmp = s->cand.a; /* candidates are no longer needed */
    if (s->cand.cap < n) return SPAR_E_INTERNAL;
    uint32_t m = 0;
    while (res->n > 0) {
        spar_dist_id x = spar_dheap_pop_max(res);
        if (ix->deleted == NULL || !ix->deleted[x.id]) tmp[m++] = x;
    }
    /* tmp is worst-first */
    if (rerank > 0 && ix->has_full && ix->hfmt == SPAR_HNSW_SQ8) {
        /* exact distances for the best min(rerank, m) candidates, then the best k of those */
        uint32_t r = rerank < m ? rerank : m;
        spar_dist_id *best = tmp + (m - r);
        const float *qf = query;
        if (ix->metric == SPAR_METRIC_COSINE) { /* prepare() overwrote qbuf with SQ8 terms: normalise again */
            memcpy(s->hbuf, query, (size_t)ix->dim * 4);
            spar_ann_normalize(s->hbuf, ix->dim);
            qf = s->hbuf;
        }
        for (uint32_t i = 0; i < r; i++) best[i].d = spar_ann_dist(ix, qf, best[i].id);
        qsort(best, r, sizeof *best, cmp_di);
        size_t out = r < k ? r : k;
        for (size_t i = 0; i < out; i++) {
            hits[i].id = best[i].id;
            hits[i].dist = best[i].d;
        }
        *n_hits = out;
        return SPAR_OK;
    }
    size_t out = m < k ? m : k;
    for (size_t i = 0; i < out; i++) {
        hits[i].id = tmp[m - 1 - i].id;
        hits[i].dist = tmp[m - 1 - i].d;
    }
    *n_hits = out;
    return SPAR_OK;
}
