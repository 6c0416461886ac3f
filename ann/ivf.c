/* ann/ivf.c — inverted-file indexes: a k-means coarse quantizer splits vectors into nlist lists; a query
 * scans the nprobe nearest lists. Lists store float32 vectors, SQ8 codes (per-dimension min/max, one byte
 * per dimension) or PQ codes (pq_m sub-spaces x 256 centroids: one byte per sub-space, scored with an
 * ADC lookup table), and SQ8/PQ candidates can be re-ranked exactly with the float vectors. The binary
 * variant clusters packed codes by k-majority and scans lists with the popcount kernel.
 * Contract: include/spar/spar_ann.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_int.h"
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

void spar_ivf_opts_default(spar_ivf_opts *o) {
    o->nlist = 1024;
    o->storage = SPAR_IVF_FLAT;
    o->pq_m = 0;
    o->keep_full = 1;
    o->train_sample = 65536;
    o->seed = 1234;
    o->n_threads = 0;
}

void spar_ivf_free(spar_ann *ix) {
    free(ix->centroids), free(ix->bcentroids), free(ix->list_off), free(ix->list_ids), free(ix->list_codes);
    free(ix->sq_min), free(ix->sq_scale), free(ix->sq_w), free(ix->pq_cb), free(ix->pq_cbt), free(ix->pq_extra);
    ix->centroids = ix->sq_min = ix->sq_scale = ix->sq_w = ix->pq_cb = ix->pq_cbt = ix->pq_extra = NULL;
    ix->bcentroids = ix->list_off = NULL;
    ix->list_ids = NULL;
    ix->list_codes = NULL;
}

/* Counting sort of ids by list: fills list_off and list_ids (ids ascending within a list). */
static spar_status bucket(spar_ann *ix, const uint32_t *assign) {
    if ((ix->list_off = calloc((size_t)ix->nlist + 1, sizeof(uint64_t))) == NULL ||
        (ix->list_ids = spar_malloc_array(ix->n ? ix->n : 1, sizeof(uint32_t))) == NULL)
        return SPAR_E_NOMEM;
    for (uint64_t i = 0; i < ix->n; i++) ix->list_off[assign[i] + 1]++;
    for (uint32_t l = 0; l < ix->nlist; l++) ix->list_off[l + 1] += ix->list_off[l];
    uint64_t *pos = spar_malloc_array(ix->nlist, sizeof(uint64_t));
    if (pos == NULL) return SPAR_E_NOMEM;
    memcpy(pos, ix->list_off, (size_t)ix->nlist * sizeof(uint64_t));
    for (uint64_t i = 0; i < ix->n; i++) ix->list_ids[pos[assign[i]]++] = (uint32_t)i;
    free(pos);
    return SPAR_OK;
}

void spar_sq8_train(float *mn, float *scale, const float *x, uint64_t n, uint32_t d) {
    for (uint32_t j = 0; j < d; j++) mn[j] = INFINITY, scale[j] = -INFINITY;
    for (uint64_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < d; j++) {
            float v = x[i * d + j];
            if (v < mn[j]) mn[j] = v;
            if (v > scale[j]) scale[j] = v; /* max for now */
        }
    for (uint32_t j = 0; j < d; j++) {
        float range = scale[j] - mn[j];
        scale[j] = range > 0 ? range / 255.0f : 1.0f;
    }
}

void spar_sq8_encode(const float *mn, const float *scale, const float *v, uint32_t dim, uint8_t *code) {
    for (uint32_t j = 0; j < dim; j++) {
        float t = (v[j] - mn[j]) / scale[j];
        t = t < 0 ? 0 : t > 255 ? 255 : t;
        code[j] = (uint8_t)lrintf(t);
    }
}

spar_status spar_ann_ivf_build(const float *vecs, uint64_t n, uint32_t dim, spar_metric metric,
                               const spar_ivf_opts *opts, spar_ann **out) {
    spar_ivf_opts o;
    if (opts == NULL) spar_ivf_opts_default(&o);
    else o = *opts;
    if (out == NULL || (vecs == NULL && n > 0) || n == 0 || metric == SPAR_METRIC_HAMMING ||
        (o.storage == SPAR_IVF_PQ && o.pq_m != 0 && dim % o.pq_m != 0) || o.storage > SPAR_IVF_PQ)
        return SPAR_E_INVALID_ARG;
    if (o.nlist == 0) o.nlist = 1;
    if (o.nlist > n) o.nlist = (uint32_t)n;
    if (o.storage == SPAR_IVF_PQ && o.pq_m == 0) o.pq_m = dim % 4 == 0 ? dim / 4 : dim;
    if (o.storage == SPAR_IVF_PQ && n < 256) return SPAR_E_INVALID_ARG; /* 256 centroids per sub-space */
    spar_ann *ix = NULL;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_IVF, metric, dim, n, &ix)); /* allocates vecs (id order) */
    spar_status st = SPAR_OK;
    uint32_t *assign = NULL;
    float *sub = NULL;
    memcpy(ix->vecs, vecs, (size_t)n * dim * sizeof(float));
    if (metric == SPAR_METRIC_COSINE)
        for (uint64_t i = 0; i < n; i++) spar_ann_normalize(ix->vecs + i * dim, dim);
    const float *x = ix->vecs;
    ix->nlist = o.nlist;
    ix->storage = o.storage;
    spar_kmeans_opts ko;
    spar_kmeans_opts_default(&ko);
    ko.k = o.nlist;
    ko.iters = 10;
    ko.sample = o.train_sample > o.nlist * 4 ? o.train_sample : o.nlist * 4;
    ko.seed = o.seed;
    ko.n_threads = o.n_threads;
    if ((ix->centroids = spar_malloc_array((size_t)o.nlist * dim, sizeof(float))) == NULL ||
        (assign = spar_malloc_array(n, sizeof(uint32_t))) == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    SPAR_TRY_GOTO(st, spar_kmeans(x, n, dim, &ko, ix->centroids, assign, NULL), fail);
    SPAR_TRY_GOTO(st, bucket(ix, assign), fail);
    if (o.storage == SPAR_IVF_FLAT) {
        ix->code_bytes = (size_t)dim * 4;
    } else if (o.storage == SPAR_IVF_SQ8) {
        ix->code_bytes = dim;
        if ((ix->sq_min = malloc(dim * 4)) == NULL || (ix->sq_scale = malloc(dim * 4)) == NULL) {
            st = SPAR_E_NOMEM;
            goto fail;
        }
        spar_sq8_train(ix->sq_min, ix->sq_scale, x, n, dim);
    } else {
        ix->pq_m = o.pq_m;
        ix->pq_dsub = dim / o.pq_m;
        ix->code_bytes = o.pq_m;
        uint64_t m = n < o.train_sample || o.train_sample == 0 ? n : o.train_sample;
        if ((ix->pq_cb = spar_malloc_array((size_t)o.pq_m * 256 * ix->pq_dsub, sizeof(float))) == NULL ||
            (sub = spar_malloc_array(m * ix->pq_dsub, sizeof(float))) == NULL) {
            st = SPAR_E_NOMEM;
            goto fail;
        }
        /* PQ of the residuals x - centroid(list): one codebook for every list, so the query-dependent
         * table (inner products of query sub-vectors with codewords) is still built once per query; the
         * rest of |q - c - r|^2 is |q - c|^2 (the coarse distance, already known) plus a per-code term
         * |r|^2 + 2<c, r> stored next to the codes (pq_extra). */
        ix->pq_res = 1;
        spar_kmeans_opts po = ko;
        po.k = 256;
        po.iters = 12;
        po.sample = 0;
        for (uint32_t j = 0; j < o.pq_m; j++) {
            for (uint64_t i = 0; i < m; i++) { /* first m vectors of a seeded stride walk */
                uint64_t id = (i * 2654435761u) % n;
                const float *v = x + id * dim + (size_t)j * ix->pq_dsub;
                const float *c = ix->centroids + (size_t)assign[id] * dim + (size_t)j * ix->pq_dsub;
                for (uint32_t e = 0; e < ix->pq_dsub; e++) sub[i * ix->pq_dsub + e] = v[e] - c[e];
            }
            po.seed = o.seed + j;
            SPAR_TRY_GOTO(st, spar_kmeans(sub, m, ix->pq_dsub, &po, ix->pq_cb + (size_t)j * 256 * ix->pq_dsub, NULL,
                                          NULL), fail);
        }
    }
    if ((ix->list_codes = spar_malloc_array(n, ix->code_bytes)) == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    if (o.storage == SPAR_IVF_PQ) {
        /* encode sub-space by sub-space with the GEMM-based assignment, in list order */
        float *xs = spar_malloc_array((size_t)n * ix->pq_dsub, sizeof(float));
        uint32_t *a = spar_malloc_array(n, sizeof(uint32_t));
        if (xs == NULL || a == NULL) {
            free(xs), free(a);
            st = SPAR_E_NOMEM;
            goto fail;
        }
        if ((ix->pq_extra = spar_malloc_array(n, sizeof(float))) == NULL) {
            free(xs), free(a);
            st = SPAR_E_NOMEM;
            goto fail;
        }
        memset(ix->pq_extra, 0, (size_t)n * sizeof(float));
        const uint32_t ds = ix->pq_dsub;
        const int l2 = metric == SPAR_METRIC_L2;
        for (uint32_t j = 0; j < ix->pq_m; j++) {
            for (uint64_t p = 0; p < n; p++) {
                uint32_t id = ix->list_ids[p];
                const float *v = x + (size_t)id * dim + (size_t)j * ds;
                const float *c = ix->centroids + (size_t)assign[id] * dim + (size_t)j * ds;
                for (uint32_t e = 0; e < ds; e++) xs[p * ds + e] = v[e] - c[e];
            }
            const float *cb = ix->pq_cb + (size_t)j * 256 * ds;
            spar_kmeans_assign(xs, n, ds, cb, 256, a, NULL, o.n_threads);
            for (uint64_t p = 0; p < n; p++) {
                ix->list_codes[p * ix->code_bytes + j] = (uint8_t)a[p];
                if (!l2) continue; /* inner product / cosine: -<q, c> - <q, r> needs no per-code term */
                const float *r = cb + (size_t)a[p] * ds;
                const float *c = ix->centroids + (size_t)assign[ix->list_ids[p]] * dim + (size_t)j * ds;
                float t = 0;
                for (uint32_t e = 0; e < ds; e++) t += r[e] * (r[e] + 2 * c[e]);
                ix->pq_extra[p] += t;
            }
        }
        free(xs), free(a);
        SPAR_TRY_GOTO(st, spar_pq_transpose(ix), fail);
    } else {
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(o.n_threads > 0 ? o.n_threads : omp_get_max_threads())
#endif
        for (uint64_t p = 0; p < n; p++) {
            const float *v = x + (size_t)ix->list_ids[p] * dim;
            uint8_t *c = ix->list_codes + p * ix->code_bytes;
            if (o.storage == SPAR_IVF_FLAT) memcpy(c, v, ix->code_bytes);
            else spar_sq8_encode(ix->sq_min, ix->sq_scale, v, dim, c);
        }
    }
    ix->has_full = o.storage != SPAR_IVF_FLAT && o.keep_full;
    if (!ix->has_full) {
        free(ix->vecs);
        ix->vecs = NULL;
    }
    free(assign);
    free(sub);
    *out = ix;
    return SPAR_OK;
fail:
    free(assign);
    free(sub);
    spar_ann_free(ix);
    return st;
}

/* k-majority clustering of binary codes: centroids are bitwise majorities of their members. */
spar_status spar_ann_binary_ivf_build(const uint8_t *codes, uint64_t n, uint32_t bits, const spar_ivf_opts *opts,
                                      spar_ann **out) {
    spar_ivf_opts o;
    if (opts == NULL) spar_ivf_opts_default(&o);
    else o = *opts;
    if (out == NULL || codes == NULL || n == 0 || bits == 0 || bits % 64 != 0) return SPAR_E_INVALID_ARG;
    if (o.nlist == 0) o.nlist = 1;
    if (o.nlist > n) o.nlist = (uint32_t)n;
    spar_ann *ix = NULL;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_BINARY_FLAT, SPAR_METRIC_HAMMING, bits, n, &ix));
    ix->kind = SPAR_ANN_BINARY_IVF;
    memcpy(ix->codes, codes, (size_t)n * (bits / 8));
    const uint32_t W = ix->words;
    ix->nlist = o.nlist;
    ix->code_bytes = (size_t)W * 8;
    spar_status st = SPAR_OK;
    uint32_t *assign = spar_malloc_array(n, sizeof(uint32_t));
    uint32_t *ones = spar_malloc_array((size_t)o.nlist * bits, sizeof(uint32_t));
    uint64_t *cnt = spar_malloc_array(o.nlist, sizeof(uint64_t));
    ix->bcentroids = spar_malloc_array((size_t)o.nlist * W, sizeof(uint64_t));
    if (assign == NULL || ones == NULL || cnt == NULL || ix->bcentroids == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    uint64_t seed = o.seed;
    for (uint32_t c = 0; c < o.nlist; c++) { /* distinct seeded picks (stride walk) */
        uint64_t pick = ((uint64_t)c * (n / o.nlist) + (seed % (n / o.nlist ? n / o.nlist : 1))) % n;
        memcpy(ix->bcentroids + (size_t)c * W, ix->codes + pick * W, W * 8);
    }
    const spar_ann_kernels *kern = ix->kern;
    for (int it = 0; it < 8; it++) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(o.n_threads > 0 ? o.n_threads : omp_get_max_threads())
#endif
        for (uint64_t i = 0; i < n; i++) {
            uint32_t best = UINT32_MAX, bj = 0;
            for (uint32_t c = 0; c < o.nlist; c++) {
                uint32_t d = kern->hamming(ix->codes + i * W, ix->bcentroids + (size_t)c * W, W);
                if (d < best) best = d, bj = c;
            }
            assign[i] = bj;
        }
        memset(ones, 0, (size_t)o.nlist * bits * sizeof(uint32_t));
        memset(cnt, 0, o.nlist * sizeof(uint64_t));
        for (uint64_t i = 0; i < n; i++) {
            uint32_t *on = ones + (size_t)assign[i] * bits;
            const uint64_t *ci = ix->codes + i * W;
            for (uint32_t b = 0; b < bits; b++) on[b] += (uint32_t)((ci[b / 64] >> (b % 64)) & 1u);
            cnt[assign[i]]++;
        }
        for (uint32_t c = 0; c < o.nlist; c++) {
            if (cnt[c] == 0) continue; /* keep the old centroid */
            uint64_t *cc = ix->bcentroids + (size_t)c * W;
            memset(cc, 0, W * 8);
            for (uint32_t b = 0; b < bits; b++)
                if (2 * (uint64_t)ones[(size_t)c * bits + b] > cnt[c]) cc[b / 64] |= 1ull << (b % 64);
        }
    }
    SPAR_TRY_GOTO(st, bucket(ix, assign), done);
    if ((ix->list_codes = spar_malloc_array(n, ix->code_bytes)) == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    for (uint64_t p = 0; p < n; p++)
        memcpy(ix->list_codes + p * ix->code_bytes, ix->codes + (size_t)ix->list_ids[p] * W, ix->code_bytes);
done:
    free(assign), free(ones), free(cnt);
    if (st != SPAR_OK) {
        spar_ann_free(ix);
        return st;
    }
    *out = ix;
    return SPAR_OK;
}

/* ---- search ---- */

static spar_status reserve_f(float **p, size_t *cap, size_t need) {
    if (*cap >= need) return SPAR_OK;
    float *q = realloc(*p, need * sizeof(float));
    if (q == NULL) return SPAR_E_NOMEM;
    *p = q;
    *cap = need;
    return SPAR_OK;
}

/* Pick the nprobe lists with the smallest centroid distance (ties by list id) into s->probe. */
static uint32_t pick_probes(spar_ann_scratch *s, const float *cd, uint32_t nlist, uint32_t nprobe) {
    spar_dheap *h = &s->res;
    h->n = 0;
    for (uint32_t l = 0; l < nlist; l++) {
        spar_dist_id x = {cd[l], l};
        if (h->n == nprobe && !spar_di_less(x, h->a[0])) continue;
        spar_dheap_push_max(h, x);
        if (h->n > nprobe) spar_dheap_pop_max(h);
    }
    uint32_t np = h->n;
    for (uint32_t i = np; i-- > 0;) s->probe[i] = spar_dheap_pop_max(h).id;
    return np;
}

static inline void offer(spar_dheap *h, uint32_t cap, float d, uint32_t id) {
    spar_dist_id x = {d, id};
    if (h->n == cap && !spar_di_less(x, h->a[0])) return;
    spar_dheap_push_max(h, x);
    if (h->n > cap) spar_dheap_pop_max(h);
}

static void drain(spar_dheap *h, spar_ann_hit *hits, size_t *n_hits) {
    size_t n = h->n;
    for (size_t i = n; i-- > 0;) {
        spar_dist_id x = spar_dheap_pop_max(h);
        hits[i].id = x.id;
        hits[i].dist = x.d;
    }
    *n_hits = n;
}

spar_status spar_pq_transpose(spar_ann *ix) {
    const size_t ds = ix->pq_dsub, sz = (size_t)ix->pq_m * 256 * ds;
    free(ix->pq_cbt);
    if ((ix->pq_cbt = spar_malloc_array(sz ? sz : 1, sizeof(float))) == NULL) return SPAR_E_NOMEM;
    for (size_t m = 0; m < ix->pq_m; m++)
        for (size_t c = 0; c < 256; c++)
            for (size_t e = 0; e < ds; e++)
                ix->pq_cbt[(m * ds + e) * 256 + c] = ix->pq_cb[(m * 256 + c) * ds + e];
    return SPAR_OK;
}

/* T[m][c] = scale * <q_m, codeword c of sub-space m>: rows of 256 over the transposed codebook, so the
 * loops run along c (vectorised by the compiler; the AVX2 clone when the CPU has it). */
#define PQ_IP_TABLE_BODY                                                                                     \
    const uint32_t ds = ix->pq_dsub;                                                                         \
    for (uint32_t m = 0; m < ix->pq_m; m++) {                                                                \
        float *t = T + (size_t)m * 256;                                                                      \
        for (uint32_t c = 0; c < 256; c++) t[c] = 0;                                                         \
        for (uint32_t e = 0; e < ds; e++) {                                                                  \
            const float qe = scale * q[(size_t)m * ds + e], *row = ix->pq_cbt + ((size_t)m * ds + e) * 256;  \
            for (uint32_t c = 0; c < 256; c++) t[c] += qe * row[c];                                          \
        }                                                                                                    \
    }
static void pq_ip_table_generic(const spar_ann *ix, const float *q, float scale, float *T) { PQ_IP_TABLE_BODY }
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void pq_ip_table_avx2(const spar_ann *ix, const float *q, float scale,
                                                                  float *T) { PQ_IP_TABLE_BODY }
#endif
static void pq_ip_table(const spar_ann *ix, const float *q, float scale, float *T) {
#if defined(__x86_64__)
    if (ix->avx2) {
        pq_ip_table_avx2(ix, q, scale, T);
        return;
    }
#endif
    pq_ip_table_generic(ix, q, scale, T);
}

/* Residual PQ scan of list positions [b, e): distance = coarse + per-code term + sum of table entries.
 * Four codes at a time (independent sums) so the table loads of different codes overlap. */
static void pq_scan_list(const spar_ann *ix, spar_dheap *h, uint32_t cap, const float *T, float coarse, uint64_t b,
                         uint64_t e) {
    const uint32_t M = ix->pq_m;
    const size_t cbytes = ix->code_bytes;
    const float *extra = ix->pq_extra;
    uint64_t pos = b;
    for (; pos + 4 <= e; pos += 4) {
        const uint8_t *c0 = ix->list_codes + pos * cbytes, *c1 = c0 + cbytes, *c2 = c1 + cbytes, *c3 = c2 + cbytes;
        float a0 = coarse + extra[pos], a1 = coarse + extra[pos + 1], a2 = coarse + extra[pos + 2],
              a3 = coarse + extra[pos + 3];
        for (uint32_t m = 0; m < M; m++) {
            const float *t = T + (size_t)m * 256;
            a0 += t[c0[m]], a1 += t[c1[m]], a2 += t[c2[m]], a3 += t[c3[m]];
        }
        float a[4] = {a0, a1, a2, a3};
        for (int j = 0; j < 4; j++) {
            if (h->n == cap && a[j] > h->a[0].d) continue;
            uint32_t id = ix->list_ids[pos + j];
            if (ix->deleted == NULL || !ix->deleted[id]) offer(h, cap, a[j], id);
        }
    }
    for (; pos < e; pos++) {
        const uint8_t *c = ix->list_codes + pos * cbytes;
        float a = coarse + extra[pos];
        for (uint32_t m = 0; m < M; m++) a += T[(size_t)m * 256 + c[m]];
        if (h->n == cap && a > h->a[0].d) continue;
        uint32_t id = ix->list_ids[pos];
        if (ix->deleted == NULL || !ix->deleted[id]) offer(h, cap, a, id);
    }
}

spar_status spar_ivf_search(const spar_ann *ix, spar_ann_scratch *s, const void *query, uint32_t k,
                            const spar_ann_params *p, spar_ann_hit *hits, size_t *n_hits) {
    uint32_t nprobe = p->nprobe == 0 ? 1 : p->nprobe > ix->nlist ? ix->nlist : p->nprobe;
    if (s->probe_cap < ix->nlist) {
        free(s->probe);
        if ((s->probe = malloc(sizeof(uint32_t) * ix->nlist)) == NULL) {
            s->probe_cap = 0;
            return SPAR_E_NOMEM;
        }
        s->probe_cap = ix->nlist;
    }
    size_t table = ix->storage == SPAR_IVF_PQ ? (size_t)ix->pq_m * 256 : 0;
    SPAR_TRY(reserve_f(&s->cdist, &s->cdist_cap, (size_t)ix->nlist + table + ix->dim));
    SPAR_TRY(spar_dheap_reserve(&s->res, nprobe + 1));
    const spar_ann_kernels *kern = ix->kern;
    float *cd = s->cdist;
    spar_dheap *h = &s->cand;

    if (ix->kind == SPAR_ANN_BINARY_IVF) {
        const uint64_t *q = query;
        const uint32_t W = ix->words;
        for (uint32_t l = 0; l < ix->nlist; l++) cd[l] = (float)kern->hamming(q, ix->bcentroids + (size_t)l * W, W);
        uint32_t np = pick_probes(s, cd, ix->nlist, nprobe);
        SPAR_TRY(spar_dheap_reserve(h, k + 1));
        h->n = 0;
        uint32_t dist[256];
        for (uint32_t pi = 0; pi < np; pi++) {
            uint32_t l = s->probe[pi];
            for (uint64_t b0 = ix->list_off[l]; b0 < ix->list_off[l + 1]; b0 += 256) {
                size_t nb = ix->list_off[l + 1] - b0 < 256 ? (size_t)(ix->list_off[l + 1] - b0) : 256;
                kern->hamming_scan(q, (const uint64_t *)(ix->list_codes + b0 * ix->code_bytes), nb, W, dist);
                for (size_t j = 0; j < nb; j++) {
                    if (h->n == k && (float)dist[j] > h->a[0].d) continue;
                    uint32_t id = ix->list_ids[b0 + j];
                    if (ix->deleted == NULL || !ix->deleted[id]) offer(h, k, (float)dist[j], id);
                }
            }
        }
        drain(h, hits, n_hits);
        return SPAR_OK;
    }

    const float *q = spar_ann_prepare_query(ix, s, query);
    const uint32_t d = ix->dim;
    const int l2 = ix->metric == SPAR_METRIC_L2;
    for (uint32_t l = 0; l < ix->nlist; l++) {
        const float *c = ix->centroids + (size_t)l * d;
        cd[l] = l2 ? kern->l2sq(q, c, d) : -kern->dot(q, c, d);
    }
    uint32_t np = pick_probes(s, cd, ix->nlist, nprobe);
    uint32_t cap = (p->rerank > k && ix->has_full && ix->storage != SPAR_IVF_FLAT) ? p->rerank : k;
    SPAR_TRY(spar_dheap_reserve(h, cap + 1));
    h->n = 0;
    float *T = cd + ix->nlist; /* PQ table, or SQ8 transformed query */
    float sq_const = 0;
    if (ix->storage == SPAR_IVF_PQ && ix->pq_res) {
        pq_ip_table(ix, q, l2 ? -2.0f : -1.0f, T);
    } else if (ix->storage == SPAR_IVF_PQ) {
        /* ADC table of raw-vector PQ (format 1.0 files): plain inline loops */
        const uint32_t ds = ix->pq_dsub;
        for (uint32_t m = 0; m < ix->pq_m; m++) {
            const float *qs = q + (size_t)m * ds, *cb = ix->pq_cb + (size_t)m * 256 * ds;
            float *t = T + (size_t)m * 256;
            if (l2) {
                for (uint32_t c = 0; c < 256; c++) {
                    float acc = 0;
                    for (uint32_t e = 0; e < ds; e++) {
                        float df = qs[e] - cb[c * ds + e];
                        acc += df * df;
                    }
                    t[c] = acc;
                }
            } else {
                for (uint32_t c = 0; c < 256; c++) {
                    float acc = 0;
                    for (uint32_t e = 0; e < ds; e++) acc += qs[e] * cb[c * ds + e];
                    t[c] = -acc;
                }
            }
        }
    } else if (ix->storage == SPAR_IVF_SQ8) {
        /* L2:  sum_j scale_j^2 (c_j - t_j)^2 with t_j = (q_j - min_j) / scale_j  -> T holds t, w = scale^2
         * IP: -(sum_j q_j min_j + sum_j (q_j scale_j) c_j)                         -> T holds q*scale */
        for (uint32_t j = 0; j < d; j++) {
            if (l2) T[j] = (q[j] - ix->sq_min[j]) / ix->sq_scale[j];
            else T[j] = q[j] * ix->sq_scale[j], sq_const += q[j] * ix->sq_min[j];
        }
    }
    for (uint32_t pi = 0; pi < np; pi++) {
        uint32_t l = s->probe[pi];
        if (ix->storage == SPAR_IVF_PQ && ix->pq_res) {
            pq_scan_list(ix, h, cap, T, cd[l], ix->list_off[l], ix->list_off[l + 1]);
            continue;
        }
        for (uint64_t pos = ix->list_off[l]; pos < ix->list_off[l + 1]; pos++) {
            const uint8_t *code = ix->list_codes + pos * ix->code_bytes;
            float dist;
            if (ix->storage == SPAR_IVF_FLAT) {
                dist = l2 ? kern->l2sq(q, (const float *)code, d) : -kern->dot(q, (const float *)code, d);
            } else if (ix->storage == SPAR_IVF_PQ) {
                float acc = 0;
                for (uint32_t m = 0; m < ix->pq_m; m++) acc += T[m * 256 + code[m]];
                dist = acc;
            } else {
                float acc = 0;
                if (l2) {
                    for (uint32_t j = 0; j < d; j++) {
                        float t = (float)code[j] - T[j];
                        acc += ix->sq_scale[j] * ix->sq_scale[j] * t * t;
                    }
                    dist = acc;
                } else {
                    for (uint32_t j = 0; j < d; j++) acc += T[j] * (float)code[j];
                    dist = -(sq_const + acc);
                }
            }
            if (h->n == cap && dist > h->a[0].d) continue;
            uint32_t id = ix->list_ids[pos];
            if (ix->deleted == NULL || !ix->deleted[id]) offer(h, cap, dist, id);
        }
    }
    if (cap == k) {
        drain(h, hits, n_hits);
        return SPAR_OK;
    }
    /* exact re-rank of the `cap` best candidates with the float vectors */
    uint32_t nc = h->n;
    spar_dist_id *c = h->a; /* heap order is irrelevant here */
    /* the candidates' vectors are scattered over the file mapping: keep 8 of them in flight */
    const size_t vb = (size_t)ix->dim * 4;
    for (uint32_t i = 0; i < nc + 8; i++) {
        if (i < nc) {
            const char *v = (const char *)(ix->vecs + (size_t)c[i].id * ix->vstride);
            for (size_t o = 0; o < vb; o += 64) __builtin_prefetch(v + o);
        }
        if (i >= 8) c[i - 8].d = spar_ann_dist(ix, q, c[i - 8].id);
    }
    spar_dheap *r = &s->res;
    SPAR_TRY(spar_dheap_reserve(r, k + 1));
    r->n = 0;
    for (uint32_t i = 0; i < nc; i++) offer(r, k, c[i].d, c[i].id);
    h->n = 0;
    drain(r, hits, n_hits);
    return SPAR_OK;
}
