/* spar_ann.h — approximate nearest-neighbour search over dense and binary vectors.
 *
 * Index kinds: FLAT (exact scan: the oracle), HNSW over float32 vectors, and BINARY_FLAT (Hamming scan of
 * packed bit codes). Distances are "smaller is better" everywhere: L2 = squared Euclidean, IP = -dot,
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

typedef enum spar_ann_kind { SPAR_ANN_FLAT = 1, SPAR_ANN_HNSW = 2, SPAR_ANN_BINARY_FLAT = 3 } spar_ann_kind;

typedef struct spar_ann spar_ann;
typedef struct spar_ann_scratch spar_ann_scratch; /* per-thread search scratch */

typedef struct spar_ann_hit {
    uint32_t id;    /* 0-based insertion index */
    float dist;
} spar_ann_hit;

typedef struct spar_hnsw_opts {
    uint32_t M;               /* links per node on upper levels (level 0 keeps 2M); default 16 */
    uint32_t ef_construction; /* default 200 */
    uint64_t seed;            /* level generator seed; default 42 */
    int n_threads;            /* 0 = all; the graph is deterministic only with 1 thread */
} spar_hnsw_opts;
SPAR_API void spar_hnsw_opts_default(spar_hnsw_opts *o);

/** Exact index over n float vectors of dimension dim (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_flat_build(const float *vecs, uint64_t n, uint32_t dim,
                                                        spar_metric metric, spar_ann **out);
/** HNSW over n float vectors (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_hnsw_build(const float *vecs, uint64_t n, uint32_t dim,
                                                        spar_metric metric, const spar_hnsw_opts *opts,
                                                        spar_ann **out);
/** Exact Hamming index over n codes of `bits` bits each (bits % 64 == 0), packed little-endian in
 *  bits/8 bytes per code (copied). */
SPAR_API SPAR_NODISCARD spar_status spar_ann_binary_flat_build(const uint8_t *codes, uint64_t n, uint32_t bits,
                                                               spar_ann **out);
SPAR_API void spar_ann_free(spar_ann *ix); /* NULL ok */

SPAR_API spar_ann_kind spar_ann_get_kind(const spar_ann *ix);
SPAR_API uint64_t spar_ann_size(const spar_ann *ix);
SPAR_API uint32_t spar_ann_dim(const spar_ann *ix); /* bits for binary indexes */
/** Mark id deleted (HNSW/flat): it is still traversed but never returned. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_mark_deleted(spar_ann *ix, uint32_t id);

SPAR_API SPAR_NODISCARD spar_status spar_ann_scratch_create(const spar_ann *ix, spar_ann_scratch **out);
SPAR_API void spar_ann_scratch_free(spar_ann_scratch *s);

/** k nearest neighbours of `query` (float[dim], or packed code for binary indexes). `ef` is HNSW's
 *  search beam (max(ef, k) is used; ignored by flat indexes). Writes ≤ k hits to `hits`, count to *n_hits. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_search(const spar_ann *ix, spar_ann_scratch *s, const void *query,
                                                    uint32_t k, uint32_t ef, spar_ann_hit *hits, size_t *n_hits);
/** nq queries (contiguous) on n_threads threads (0 = all): query i writes hits[i*k ...], n_hits[i]. */
SPAR_API SPAR_NODISCARD spar_status spar_ann_search_batch(const spar_ann *ix, const void *queries, uint64_t nq,
                                                          uint32_t k, uint32_t ef, spar_ann_hit *hits,
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
