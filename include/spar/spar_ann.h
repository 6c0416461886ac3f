/* spar_ann.h — approximate nearest-neighbour search over dense and binary vectors.
 *
 * Index kinds: FLAT (exact scan: the oracle), HNSW over float32 vectors, IVF (k-means lists holding float,
 * SQ8 or PQ codes, with exact re-ranking), BINARY_FLAT and BINARY_IVF (Hamming over packed bit codes). Distances are "smaller is better" everywhere: L2 = squared Euclidean, IP = -dot,
 * COSINE = -dot of L2-normalised vectors (vectors are normalised on add), HAMMING = differing bits.
 * Results are ordered by distance ascending, ties by id ascending.
 *
 * Thread-safety: a built or loaded spar_ann is immutable and may be searched from any number of threads,
 * each with its own spar_ann_scratch. Build calls use up to n_threads threads internally. */
#ifndef SPAR_ANN_H
#define SPAR_ANN_H

#include "spar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum spar_metric {
    SPAR_METRIC_L2 = 0,
    SPAR_METRIC_IP = 1,
    SPAR_METRIC_COSINE = 2,
    SPAR_METRIC_HAMMING = 3 /* binary codes only */
} spar_metric;

typedef enum spar_ann_kind {
    SPAR_ANN_FLAT = 1,        /* exact scan of float vectors: the oracle */
    SPAR_ANN_HNSW = 2,        /* HNSW graph over float vectors */
    SPAR_ANN_BINARY_FLAT = 3, /* exact Hamming scan of packed codes */
    SPAR_ANN_IVF = 4,         /* inverted file: k-means coarse lists, float / SQ8 / PQ storage, optional re-rank */
    SPAR_ANN_BINARY_IVF = 5   /* inverted file over binary codes (k-majority coarse lists), Hamming scan */
} spar_ann_kind;

/* Storage of vectors inside IVF lists. */
typedef enum spar_ivf_storage {
    SPAR_IVF_FLAT = 0, /* float32 */
    SPAR_IVF_SQ8 = 1,  /* per-dimension min/max scalar int8 (1 byte per dimension) */
    SPAR_IVF_PQ = 2    /* product quantization, pq_m sub-spaces x 256 centroids (1 byte per sub-space) */
} spar_ivf_storage;

typedef struct spar_ann spar_ann;
typedef struct spar_ann_scratch spar_ann_scratch; /* per-thread search scratch */

typedef struct spar_ann_hit {
    uint32_t id;    /* 0-based insertion index */
    float dist;
} spar_ann_hit;

/* How HNSW stores float vectors in its nodes. */
typedef enum spar_hnsw_storage {
    SPAR_HNSW_F32 = 0, /* float32 (exact distances) */
    SPAR_HNSW_SQ8 = 1  /* per-dimension min/max int8: 4x smaller nodes; optional exact re-rank (keep_full) */
} spar_hnsw_storage;

typedef struct spar_hnsw_opts {
    uint32_t M;               /* links per node on upper levels (level 0 keeps 2M); default 16 */
    uint32_t ef_construction; /* default 200 */
    uint64_t seed;            /* level generator seed; default 42 */
    int n_threads;            /* 0 = all; the graph is deterministic only with 1 thread */
    spar_hnsw_storage storage;/* default SPAR_HNSW_F32 (ignored by the binary builder) */
    int keep_full;            /* SQ8: keep float vectors for re-ranking (spar_ann_params.rerank); default 1 */
} spar_hnsw_opts;
SPAR_API void spar_hnsw_opts_default(spar_hnsw_opts *o);

/* ---- k-means (k-means++ init on a sample, Lloyd iterations; deterministic given the seed, whatever the
 *      thread count: assignments are independent and centroid sums run in point order) ---- */
typedef struct spar_kmeans_opts {
    uint32_t k;         /* clusters */
    uint32_t iters;     /* Lloyd iterations; default 20 */
    uint32_t sample;    /* points used for training (0 = all); default 0 */
    uint64_t seed;      /* default 1234 */
    int n_threads;      /* 0 = all */
} spar_kmeans_opts;
SPAR_API void spar_kmeans_opts_default(spar_kmeans_opts *o);
/** Cluster n vectors (L2). centroids: caller buffer of k*dim floats. assign (n entries, may be NULL) gets
 *  each point's nearest centroid; *inertia (may be NULL) the sum of squared distances. Empty clusters are
 *  re-seeded from the point farthest from its centroid. @return SPAR_OK, SPAR_E_INVALID_ARG (k == 0 or
 *  k > n), SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_kmeans(const float *x, uint64_t n, uint32_t dim, const spar_kmeans_opts *o,
                                                float *centroids, uint32_t *assign, double *inertia);

typedef struct spar_ivf_opts {
    uint32_t nlist;         /* coarse clusters; default 1024 (capped at n) */
    spar_ivf_storage storage;
    uint32_t pq_m;          /* PQ sub-spaces (dim % pq_m == 0); default dim/4 */
    int keep_full;          /* keep float vectors for exact re-ranking (PQ/SQ8); default 1 */
    uint32_t train_sample;  /* vectors used to train k-means/PQ; default 65536 */
    uint64_t seed;          /* default 1234 */
    int n_threads;          /* 0 = all */
} spar_ivf_opts;
SPAR_API void spar_ivf_opts_default(spar_ivf_opts *o);

/** Search knobs; NULL means defaults (ef 64, nprobe 16, rerank 0). */
typedef struct spar_ann_params {
    uint32_t ef;     /* HNSW beam width (max(ef, k) is used) */
    uint32_t nprobe; /* IVF lists scanned */
    uint32_t rerank; /* IVF with SQ8/PQ, HNSW with SQ8: re-score the best max(rerank, k) candidates (HNSW:
                        of the ef found) exactly with the float vectors (0 = no re-rank; needs keep_full) */
} spar_ann_params;
SPAR_API void spar_ann_params_default(spar_ann_params *p);

/** Exact index over n float vectors of dimension dim (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_flat_build(const float *vecs, uint64_t n, uint32_t dim,
                                                        spar_metric metric, spar_ann **out);
/** HNSW over n float vectors (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_hnsw_build(const float *vecs, uint64_t n, uint32_t dim,
                                                        spar_metric metric, const spar_hnsw_opts *opts,
                                                        spar_ann **out);
/** HNSW over n binary codes of `bits` bits (bits % 64 == 0) with Hamming distance (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_binary_hnsw_build(const uint8_t *codes, uint64_t n, uint32_t bits,
                                                               const spar_hnsw_opts *opts, spar_ann **out);
/** Exact Hamming index over n codes of `bits` bits each (bits % 64 == 0), packed little-endian in
 *  bits/8 bytes per code (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_binary_flat_build(const uint8_t *codes, uint64_t n, uint32_t bits,
                                                               spar_ann **out);
/** IVF index over n float vectors. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_ivf_build(const float *vecs, uint64_t n, uint32_t dim, spar_metric metric,
                                                       const spar_ivf_opts *opts, spar_ann **out);
/** IVF over binary codes (Hamming): nlist k-majority clusters of the codes. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_binary_ivf_build(const uint8_t *codes, uint64_t n, uint32_t bits,
                                                              const spar_ivf_opts *opts, spar_ann **out);
/** Float -> binary codes. bit j of a code = sign of (R (x - mu))_j, where R is either a `bits` x dim
 *  Gaussian random projection (SimHash; mu = 0; itq_iters = 0), or (itq_iters >= 1, needs bits == dim) an
 *  orthogonal rotation of the zero-centred data: a seeded random orthogonal matrix refined by
 *  itq_iters - 1 rounds of iterative quantization (ITQ: alternate B = sign(VR) and the Procrustes
 *  solution R = U W^T of V^T B = U S W^T). 50 is a good value. Note that ITQ fits the codes to the
 *  data's coarse structure: it lowers quantisation loss, which helps bucketing (IVF, hashing), and
 *  need not raise fine-grained neighbour recall. Immutable after training; encode is thread-safe. */
typedef struct spar_binarizer spar_binarizer;
SPAR_API SPAR_NODISCARD spar_status spar_binarizer_train(const float *vecs, uint64_t n, uint32_t dim, uint32_t bits,
                                                         int itq_iters, uint64_t seed, spar_binarizer **out);
/** codes: caller buffer of n * bits/8 bytes (little-endian bit order within 64-bit words). */
SPAR_API void spar_binarizer_encode(const spar_binarizer *b, const float *vecs, uint64_t n, uint8_t *codes);
/** Mean over vectors of ||sign(p) - p||^2 / bits with p = R (x - mu) (ITQ's objective; lower = codes
 *  closer to the rotated data). */
SPAR_API double spar_binarizer_loss(const spar_binarizer *b, const float *vecs, uint64_t n);
SPAR_API void spar_binarizer_free(spar_binarizer *b);
SPAR_API void spar_ann_free(spar_ann *ix); /* NULL ok */

SPAR_API spar_ann_kind spar_ann_get_kind(const spar_ann *ix);
SPAR_API uint64_t spar_ann_size(const spar_ann *ix);
SPAR_API uint32_t spar_ann_dim(const spar_ann *ix); /* bits for binary indexes */
/** 1 if queries are packed binary codes (dim/8 bytes), 0 if float[dim]. */
SPAR_API int spar_ann_is_binary(const spar_ann *ix);
/** Mark id deleted (HNSW/flat): it is still traversed but never returned. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_mark_deleted(spar_ann *ix, uint32_t id);

SPAR_API SPAR_NODISCARD spar_status spar_ann_scratch_create(const spar_ann *ix, spar_ann_scratch **out);
SPAR_API void spar_ann_scratch_free(spar_ann_scratch *s);

/** k nearest neighbours of `query` (float[dim], or packed code for binary indexes), with knobs `p`
 *  (NULL = defaults; flat indexes ignore them). Writes ≤ k hits to `hits`, count to *n_hits. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_search(const spar_ann *ix, spar_ann_scratch *s, const void *query,
                                                    uint32_t k, const spar_ann_params *p, spar_ann_hit *hits,
                                                    size_t *n_hits);
/** nq queries (contiguous) on n_threads threads (0 = all): query i writes hits[i*k ...], n_hits[i]. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_search_batch(const spar_ann *ix, const void *queries, uint64_t nq,
                                                          uint32_t k, const spar_ann_params *p, spar_ann_hit *hits,
                                                          size_t *n_hits, int n_threads);

/** Save to a versioned, checksummed file (written atomically) / load it back (checked). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_save(const spar_ann *ix, const char *path, spar_diag *diag);
SPAR_API SPAR_NODISCARD spar_status spar_ann_load(const char *path, spar_ann **out, spar_diag *diag);
/** Same as load over an in-memory image (copied). Used by fuzzing. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_load_mem(const uint8_t *buf, size_t len, spar_ann **out,
                                                      spar_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
