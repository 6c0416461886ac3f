/* ann/ann_int.h — private layout of spar_ann and helpers shared by flat.c, hnsw.c and io.c.
 * Public contract: include/spar/spar_ann.h. Nothing outside ann/ includes this. */
#ifndef SPAR_ANN_INT_H
#define SPAR_ANN_INT_H

#include "ann/kernels.h"
#include "common/common.h"
#include "spar/spar_ann.h"

#define SPAR_HNSW_MAX_LEVEL 16
#define SPAR_HNSW_BIN 2 /* hfmt for binary codes */

struct spar_ann {
    spar_ann_kind kind;
    spar_metric metric;
    uint32_t dim;          /* floats per vector; bits per code for binary */
    uint64_t n;
    float *vecs;           /* vector i at vecs + i * vstride (flat: contiguous; hnsw: inside node blocks) */
    size_t vstride;        /* floats between consecutive vectors */
    void *blocks;          /* hnsw: n node blocks of `block_bytes` = [links0: 1 + M0 u32][vector], 64-aligned */
    size_t block_bytes;
    size_t link_bytes;     /* hnsw: bytes of the level-0 list at the start of a node block */
    size_t vec_bytes;      /* hnsw: bytes of the vector/code in a node block */
    int hfmt;              /* hnsw node vectors: SPAR_HNSW_F32, SPAR_HNSW_SQ8, or 2 = binary codes */
    uint64_t *codes;       /* n * words (binary) */
    uint32_t words;        /* 64-bit words per code */
    uint8_t *deleted;      /* n flags, NULL until the first delete */
    const spar_ann_kernels *kern;
    int avx2;              /* kern is the AVX2 set: hot loops use inlined AVX2 kernels */
    /* HNSW */
    uint32_t M, M0, ef_construction;
    uint64_t seed;
    uint32_t *links0;      /* node i's level-0 list at links0 + i * lstride: count, then up to M0 ids */
    size_t lstride;        /* u32 between consecutive level-0 lists */
    uint32_t **links_up;   /* n entries; node i with level L>0 owns L * (1 + M) slots, else NULL */
    uint8_t *levels;       /* n */
    uint32_t entry;
    int max_level;
    /* IVF (float and binary): list l holds positions list_off[l] .. list_off[l+1] of list_ids/list_codes */
    uint32_t nlist;
    spar_ivf_storage storage;
    float *centroids;      /* nlist * dim (float IVF) */
    uint64_t *bcentroids;  /* nlist * words (binary IVF) */
    uint64_t *list_off;    /* nlist + 1 */
    uint32_t *list_ids;    /* n */
    uint8_t *list_codes;   /* n * code_bytes, in list order */
    size_t code_bytes;
    float *sq_min, *sq_scale; /* dim each (SQ8) */
    float *sq_w;           /* dim: sq_scale^2 (SQ8 L2) */
    uint32_t pq_m, pq_dsub;
    float *pq_cb;          /* pq_m * 256 * pq_dsub */
    float *pq_cbt;         /* derived: per sub-space, the codebook transposed (pq_dsub rows of 256) */
    int pq_res;            /* PQ codes encode x - centroid(list) (format 1.1); 0: raw vectors (format 1.0) */
    float *pq_extra;       /* residual PQ, L2: per code (list order) |r|^2 + 2<centroid, r> of the decoded r */
    int has_full;          /* vecs holds float vectors in id order for re-ranking */
    void *mapping;         /* loaded file kept mapped (spar_mapped_file *), or NULL */
};

typedef struct spar_dist_id {
    float d;
    uint32_t id;
} spar_dist_id;

/* Binary heaps of (dist, id). Max-heap keeps the worst on top (results); min-heap the best (candidates).
 * Order is total: by dist, then id, so results never depend on insertion order among equal distances. */
typedef struct spar_dheap {
    spar_dist_id *a;
    uint32_t n, cap;
} spar_dheap;

struct spar_ann_scratch {
    float *cdist;      /* IVF: per-list centroid distance / ADC table */
    size_t cdist_cap;
    uint32_t *probe;   /* IVF: probed lists */
    uint32_t probe_cap;
    uint32_t *dist32;  /* binary IVF scan buffer */
    size_t dist32_cap;
    uint32_t *visited; /* epoch tags, n entries */
    uint32_t epoch;
    uint64_t n_alloc;
    spar_dheap cand, res;
    float *qbuf;       /* prepared query: normalised (cosine) or SQ8-transformed */
    float *hbuf;       /* hnsw build with SQ8: a node decoded as a query */
    float qconst;      /* SQ8 inner product: sum q_j min_j */
    uint32_t *nbuf;    /* neighbour copy during build */
};

static inline int spar_di_less(spar_dist_id a, spar_dist_id b) { return a.d < b.d || (a.d == b.d && a.id < b.id); }

spar_status spar_dheap_reserve(spar_dheap *h, uint32_t cap);
/* push/pop for a max-heap (top = worst: spar_dheap_push_max/pop_max) and a min-heap (top = best:
 * spar_dheap_push_min/pop_min); inline, since the HNSW search loop lives on them. */
#define SPAR_HEAP_IMPL(suffix, above)                                                                          \
    static inline void spar_dheap_push_##suffix(spar_dheap *h, spar_dist_id x) {                                           \
        uint32_t i = h->n++;                                                                                 \
        while (i > 0) {                                                                                      \
            uint32_t p = (i - 1) / 2;                                                                        \
            if (!above(x, h->a[p])) break;                                                                   \
            h->a[i] = h->a[p];                                                                               \
            i = p;                                                                                           \
        }                                                                                                    \
        h->a[i] = x;                                                                                         \
    }                                                                                                        \
    static inline spar_dist_id spar_dheap_pop_##suffix(spar_dheap *h) {                                                    \
        spar_dist_id top = h->a[0], x = h->a[--h->n];                                                        \
        uint32_t i = 0, n = h->n;                                                                            \
        for (;;) {                                                                                           \
            uint32_t c = 2 * i + 1;                                                                          \
            if (c >= n) break;                                                                               \
            if (c + 1 < n && above(h->a[c + 1], h->a[c])) c++;                                               \
            if (!above(h->a[c], x)) break;                                                                   \
            h->a[i] = h->a[c];                                                                               \
            i = c;                                                                                           \
        }                                                                                                    \
        if (n > 0) h->a[i] = x;                                                                              \
        return top;                                                                                          \
    }
#define WORSE(a, b) spar_di_less(b, a)
#define BETTER(a, b) spar_di_less(a, b)
SPAR_HEAP_IMPL(max, WORSE)
SPAR_HEAP_IMPL(min, BETTER)
#undef WORSE
#undef BETTER
#undef SPAR_HEAP_IMPL

/* Distance between stored vector i and query q (already normalised for cosine). */
static inline float spar_ann_dist(const spar_ann *ix, const float *q, uint32_t i) {
    const float *v = ix->vecs + (size_t)i * ix->vstride;
    return ix->metric == SPAR_METRIC_L2 ? ix->kern->l2sq(q, v, ix->dim) : -ix->kern->dot(q, v, ix->dim);
}

void *spar_ann_aligned_alloc(size_t bytes);
spar_status spar_ann_alloc(spar_ann_kind kind, spar_metric metric, uint32_t dim, uint64_t n, spar_ann **out);
void spar_ann_normalize(float *v, uint32_t dim);
/* SQ8 tables from data (min and step per dimension; step > 0), and one vector's code. */
void spar_sq8_train(float *mn, float *scale, const float *x, uint64_t n, uint32_t dim);
void spar_sq8_encode(const float *mn, const float *scale, const float *v, uint32_t dim, uint8_t *code);
spar_status spar_hnsw_alloc_nodes(spar_ann *ix, size_t vec_bytes);
/* Prepare the query in s->qbuf (copy, normalised for cosine); returns the pointer to use. */
const float *spar_ann_prepare_query(const spar_ann *ix, spar_ann_scratch *s, const float *q);
spar_status spar_ann_scratch_reserve(spar_ann_scratch *s, const spar_ann *ix, uint32_t ef);

/* Hamming distances of q to codes[0..n) (words u64 each) into out[0..n). */
void spar_ann_hamming_scan(const spar_ann *ix, const uint64_t *q, const uint64_t *codes, size_t n, uint32_t *out);

void spar_kmeans_assign(const float *x, uint64_t n, uint32_t dim, const float *c, uint32_t k, uint32_t *assign,
                        float *dist2, int n_threads);

spar_status spar_ivf_search(const spar_ann *ix, spar_ann_scratch *s, const void *query, uint32_t k,
                            const spar_ann_params *p, spar_ann_hit *hits, size_t *n_hits);
void spar_ivf_free(spar_ann *ix);
/* Fill ix->pq_cbt from ix->pq_cb (after build or load). */
spar_status spar_pq_transpose(spar_ann *ix);

spar_status spar_hnsw_search_rr(const spar_ann *ix, spar_ann_scratch *s, const void *query, uint32_t k, uint32_t ef,
                                uint32_t rerank, spar_ann_hit *hits, size_t *n_hits);

#endif
