/* ann/flat.c — the spar_ann object, exact flat indexes (float and binary), scratch, heaps and the
 * search entry points that dispatch to HNSW. The flat index is the oracle every approximate index is
 * tested against. Contract: include/spar/spar_ann.h. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "ann/ann_int.h"
#include "storage/file.h"
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

/* Large arrays (graph node blocks, vectors, codes) are read at random by every search: on Linux they are
 * 2 MiB aligned and advised for transparent huge pages, which removes most TLB misses of the random walk
 * (the kernel may ignore the advice; the memory is valid either way). Small ones are 64-byte aligned. */
void *spar_ann_aligned_alloc(size_t bytes) {
    void *p = NULL;
    size_t sz = (bytes + 63) & ~(size_t)63;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (sz >= 2 * huge) {
        sz = (sz + huge - 1) & ~(huge - 1);
        if (posix_memalign(&p, huge, sz) != 0) return NULL;
        (void)madvise(p, sz, MADV_HUGEPAGE);
        return p;
    }
#endif
    if (posix_memalign(&p, 64, sz ? sz : 64) != 0) return NULL;
    return p;
}

spar_status spar_ann_alloc(spar_ann_kind kind, spar_metric metric, uint32_t dim, uint64_t n, spar_ann **out) {
    *out = NULL;
    if (dim == 0 || n > UINT32_MAX - 1) return SPAR_E_INVALID_ARG;
    spar_ann *ix = calloc(1, sizeof *ix);
    if (ix == NULL) return SPAR_E_NOMEM;
    ix->kind = kind;
    ix->metric = metric;
    ix->dim = dim;
    ix->n = n;
    ix->kern = spar_ann_kernels_get();
    ix->avx2 = ix->kern == spar_ann_kernels_avx2();
    if (kind == SPAR_ANN_BINARY_FLAT) {
        ix->words = dim / 64;
        if ((uint64_t)ix->words * n > SIZE_MAX / 8 ||
            (ix->codes = spar_ann_aligned_alloc((size_t)ix->words * n * 8)) == NULL) {
            free(ix);
            return SPAR_E_NOMEM;
        }
    } else {
        ix->vstride = dim;
        if (kind == SPAR_ANN_HNSW) {
            /* one 64-byte aligned block per node: level-0 links then the vector */
            ix->block_bytes = 0; /* sized by the HNSW builder, which knows M */
        } else if ((uint64_t)dim * n > SIZE_MAX / 4 ||
                   (ix->vecs = spar_ann_aligned_alloc((size_t)dim * n * 4)) == NULL) {
            free(ix);
            return SPAR_E_NOMEM;
        }
    }
    *out = ix;
    return SPAR_OK;
}

void spar_ann_normalize(float *v, uint32_t dim) {
    double s = 0;
    for (uint32_t i = 0; i < dim; i++) s += (double)v[i] * v[i];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (uint32_t i = 0; i < dim; i++) v[i] *= inv;
}

void spar_ann_free(spar_ann *ix) {
    if (ix == NULL) return;
    spar_ivf_free(ix);
    if (ix->mapping != NULL) { /* vecs points into a kept file mapping */
        spar_file_unmap(ix->mapping);
        free(ix->mapping);
    } else if (ix->blocks == NULL || ix->hfmt != SPAR_HNSW_F32) { /* float HNSW keeps vectors inside its blocks */
        free(ix->vecs);
    }
    free(ix->blocks);
    free(ix->codes);
    free(ix->deleted);
    if (ix->links_up != NULL)
        for (uint64_t i = 0; i < ix->n; i++) free(ix->links_up[i]);
    free(ix->links_up);
    free(ix->levels);
    free(ix);
}

spar_ann_kind spar_ann_get_kind(const spar_ann *ix) { return ix->kind; }
uint64_t spar_ann_size(const spar_ann *ix) { return ix->n; }
uint32_t spar_ann_dim(const spar_ann *ix) { return ix->dim; }
int spar_ann_is_binary(const spar_ann *ix) { return ix->metric == SPAR_METRIC_HAMMING; }

spar_status spar_ann_mark_deleted(spar_ann *ix, uint32_t id) {
    if (ix == NULL || id >= ix->n) return SPAR_E_INVALID_ARG;
    if (ix->deleted == NULL && (ix->deleted = calloc(ix->n ? ix->n : 1, 1)) == NULL) return SPAR_E_NOMEM;
    ix->deleted[id] = 1;
    return SPAR_OK;
}

spar_status spar_ann_flat_build(const float *vecs, uint64_t n, uint32_t dim, spar_metric metric, spar_ann **out) {
    if (out == NULL || (vecs == NULL && n > 0) || metric == SPAR_METRIC_HAMMING) return SPAR_E_INVALID_ARG;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_FLAT, metric, dim, n, out));
    memcpy((*out)->vecs, vecs, (size_t)n * dim * sizeof(float));
    if (metric == SPAR_METRIC_COSINE)
        for (uint64_t i = 0; i < n; i++) spar_ann_normalize((*out)->vecs + i * dim, dim);
    return SPAR_OK;
}

spar_status spar_ann_binary_flat_build(const uint8_t *codes, uint64_t n, uint32_t bits, spar_ann **out) {
    if (out == NULL || (codes == NULL && n > 0) || bits == 0 || bits % 64 != 0) return SPAR_E_INVALID_ARG;
    SPAR_TRY(spar_ann_alloc(SPAR_ANN_BINARY_FLAT, SPAR_METRIC_HAMMING, bits, n, out));
    memcpy((*out)->codes, codes, (size_t)n * (bits / 8));
    return SPAR_OK;
}

/* ---- heaps ---- */
spar_status spar_dheap_reserve(spar_dheap *h, uint32_t cap) {
    if (h->cap >= cap) return SPAR_OK;
    spar_dist_id *a = spar_realloc_array(h->a, cap, sizeof *a);
    if (a == NULL) return SPAR_E_NOMEM;
    h->a = a;
    h->cap = cap;
    return SPAR_OK;
}



/* ---- scratch ---- */
spar_status spar_ann_scratch_create(const spar_ann *ix, spar_ann_scratch **out) {
    if (ix == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    spar_ann_scratch *s = calloc(1, sizeof *s);
    if (s == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_ann_scratch_reserve(s, ix, 64);
    if (st != SPAR_OK) {
        spar_ann_scratch_free(s);
        return st;
    }
    *out = s;
    return SPAR_OK;
}

spar_status spar_ann_scratch_reserve(spar_ann_scratch *s, const spar_ann *ix, uint32_t ef) {
    if (s->n_alloc < ix->n) {
        free(s->visited);
        s->visited = calloc(ix->n ? ix->n : 1, sizeof *s->visited);
        if (s->visited == NULL) return SPAR_E_NOMEM;
        s->n_alloc = ix->n;
        s->epoch = 0;
    }
    if (s->qbuf == NULL && ix->words == 0) {
        if ((s->qbuf = spar_ann_aligned_alloc((size_t)ix->dim * sizeof(float))) == NULL) return SPAR_E_NOMEM;
        if ((s->hbuf = spar_ann_aligned_alloc((size_t)ix->dim * sizeof(float))) == NULL) return SPAR_E_NOMEM;
    }
    if (s->nbuf == NULL && ix->M0 > 0) {
        if ((s->nbuf = malloc(sizeof(uint32_t) * (ix->M0 + 1))) == NULL) return SPAR_E_NOMEM;
    }
    uint32_t cap = ef + 1 > 64 ? ef + 1 : 64;
    SPAR_TRY(spar_dheap_reserve(&s->cand, cap * 4 > ix->n + 1 ? (uint32_t)ix->n + 1 : cap * 4));
    SPAR_TRY(spar_dheap_reserve(&s->res, cap + 1));
    return SPAR_OK;
}

void spar_ann_scratch_free(spar_ann_scratch *s) {
    if (s == NULL) return;
    free(s->visited);
    free(s->cdist);
    free(s->probe);
    free(s->dist32);
    free(s->cand.a);
    free(s->res.a);
    free(s->qbuf);
    free(s->hbuf);
    free(s->nbuf);
    free(s);
}

const float *spar_ann_prepare_query(const spar_ann *ix, spar_ann_scratch *s, const float *q) {
    if (ix->metric != SPAR_METRIC_COSINE) return q;
    memcpy(s->qbuf, q, (size_t)ix->dim * sizeof(float));
    spar_ann_normalize(s->qbuf, ix->dim);
    return s->qbuf;
}

/* Exact scan: a max-heap of the k best by (dist, id). */
static spar_status flat_search(const spar_ann *ix, spar_ann_scratch *s, const void *query, uint32_t k,
                               spar_ann_hit *hits, size_t *n_hits) {
    spar_dheap *h = &s->res;
    SPAR_TRY(spar_dheap_reserve(h, k + 1));
    h->n = 0;
    if (ix->kind == SPAR_ANN_BINARY_FLAT) {
        const uint64_t *q = query;
        uint32_t idx[64], dist[64];
        uint32_t worst = UINT32_MAX;
        uint64_t pos = 0;
        while (pos < ix->n) {
            /* thresh = worst + 1 while the heap is not full, so equal distances still enter (ties by id) */
            uint32_t thresh = h->n < k ? UINT32_MAX : worst;
            size_t next = 0;
            size_t m = ix->kern->hamming_below(q, ix->codes + pos * ix->words, (size_t)(ix->n - pos), ix->words, thresh,
                                               idx, dist, 64, &next);
            for (size_t j = 0; j < m; j++) {
                uint64_t i = pos + idx[j];
                if (h->n == k && dist[j] >= worst) continue; /* ties keep the lower id, already in the heap */
                if (ix->deleted != NULL && ix->deleted[i]) continue;
                spar_dist_id x = {(float)dist[j], (uint32_t)i};
                spar_dheap_push_max(h, x);
                if (h->n > k) spar_dheap_pop_max(h);
                if (h->n == k) worst = (uint32_t)h->a[0].d;
            }
            pos += next;
        }
    } else {
        const float *q = spar_ann_prepare_query(ix, s, query);
        for (uint64_t i = 0; i < ix->n; i++) {
            if (ix->deleted != NULL && ix->deleted[i]) continue;
            spar_dist_id x = {spar_ann_dist(ix, q, (uint32_t)i), (uint32_t)i};
            if (h->n == k && !spar_di_less(x, h->a[0])) continue;
            spar_dheap_push_max(h, x);
            if (h->n > k) spar_dheap_pop_max(h);
        }
    }
    size_t n = h->n;
    for (size_t i = n; i-- > 0;) {
        spar_dist_id x = spar_dheap_pop_max(h);
        hits[i].id = x.id;
        hits[i].dist = x.d;
    }
    *n_hits = n;
    return SPAR_OK;
}

void spar_ann_params_default(spar_ann_params *p) {
    p->ef = 64;
    p->nprobe = 16;
    p->rerank = 0;
}

spar_status spar_ann_search(const spar_ann *ix, spar_ann_scratch *s, const void *query, uint32_t k,
                            const spar_ann_params *p, spar_ann_hit *hits, size_t *n_hits) {
    if (ix == NULL || s == NULL || query == NULL || hits == NULL || n_hits == NULL || k == 0)
        return SPAR_E_INVALID_ARG;
    spar_ann_params def;
    if (p == NULL) {
        spar_ann_params_default(&def);
        p = &def;
    }
    *n_hits = 0;
    if (ix->n == 0) return SPAR_OK;
    uint32_t ef = p->ef > k ? p->ef : k;
    SPAR_TRY(spar_ann_scratch_reserve(s, ix, ef));
    if (ix->kind == SPAR_ANN_HNSW) return spar_hnsw_search_rr(ix, s, query, k, ef, p->rerank, hits, n_hits);
    if (ix->kind == SPAR_ANN_IVF || ix->kind == SPAR_ANN_BINARY_IVF) return spar_ivf_search(ix, s, query, k, p, hits, n_hits);
    return flat_search(ix, s, query, k, hits, n_hits);
}

spar_status spar_ann_search_batch(const spar_ann *ix, const void *queries, uint64_t nq, uint32_t k,
                                  const spar_ann_params *p,
                                  spar_ann_hit *hits, size_t *n_hits, int n_threads) {
    if (ix == NULL || (queries == NULL && nq > 0) || hits == NULL || n_hits == NULL || k == 0)
        return SPAR_E_INVALID_ARG;
    size_t qbytes = ix->words > 0 ? (size_t)ix->words * 8 : (size_t)ix->dim * sizeof(float);
    spar_status first = SPAR_OK;
#ifdef SPAR_HAVE_OPENMP
    int nt = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt) if (nq > 1)
#else
    (void)n_threads;
#endif
    {
        spar_ann_scratch *s = NULL;
        spar_status st = spar_ann_scratch_create(ix, &s);
#ifdef SPAR_HAVE_OPENMP
#pragma omp for schedule(dynamic, 8)
#endif
        for (uint64_t i = 0; i < nq; i++) {
            if (st == SPAR_OK)
                st = spar_ann_search(ix, s, (const uint8_t *)queries + i * qbytes, k, p, hits + i * k, &n_hits[i]);
            else
                n_hits[i] = 0;
        }
        if (st != SPAR_OK) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp critical(spar_ann_first_err)
#endif
            if (first == SPAR_OK) first = st;
        }
        spar_ann_scratch_free(s);
    }
    return first;
}

void spar_ann_hamming_scan(const spar_ann *ix, const uint64_t *q, const uint64_t *codes, size_t n, uint32_t *out) {
    ix->kern->hamming_scan(q, codes, n, ix->words, out);
}
