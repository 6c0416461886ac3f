/* test_data.h — seeded synthetic data shared by the tests: a xorshift64 generator whose state the caller
 * owns (so each test file keeps its own reproducible stream), random learned-sparse corpora (uniform,
 * Zipf-skewed or topical terms; continuous or grid weights) and Gaussian-mixture dense vectors.
 * Everything here is deterministic: the same state and arguments give the same bytes on every machine. */
#ifndef SPAR_TESTS_TEST_DATA_H
#define SPAR_TESTS_TEST_DATA_H

#include <stdint.h>

#include "spar/spar_sparse.h"

/* xorshift64 (13, 7, 17): next raw value; *state must be non-zero. */
static inline uint64_t spar_test_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}
/* Uniform double in [0, 1) from the top 53 bits of one draw. */
static inline double spar_test_unif(uint64_t *state) {
    return (double)(spar_test_rand(state) >> 11) / 9007199254740992.0;
}
/* Standard normal (Box-Muller, two uniform draws). */
float spar_test_normal(uint64_t *state);

typedef enum spar_test_terms {
    SPAR_TEST_TERMS_UNIFORM, /* every term equally likely */
    SPAR_TEST_TERMS_ZIPF,    /* term = dim * u^3: low ids dominate, long shared lists */
    SPAR_TEST_TERMS_TOPICAL  /* 3 in 4 terms from the doc's topic range (dim / n_topics ids), 1 in 4 uniform */
} spar_test_terms;

/* How sparse_corpus_gen draws one document (or query). */
typedef struct spar_test_sparse_shape {
    spar_test_terms terms;
    uint32_t n_topics;   /* TOPICAL: the topic ranges (>= 1; a topic is drawn per doc in every mode) */
    uint32_t min_nnz;    /* draws per doc: min_nnz + rand % (max_nnz + 1 - min_nnz); repeats collapse */
    float grid_step;     /* > 0: weights (1 + rand % 4) * grid_step (many tied scores); 0: continuous */
    double weight_min;   /* continuous weights: weight_min + 3 * uniform */
} spar_test_sparse_shape;

/* n sparse vectors over dim terms, ids ascending, at most max_nnz entries each; v[i] points into ids / w
 * (row i at i * max_nnz). Free with spar_test_sparse_free. Aborts the test program on out-of-memory. */
typedef struct spar_test_sparse {
    uint32_t n, dim;
    uint32_t *ids;
    float *w;
    spar_sparse_vec *v;
} spar_test_sparse;

void spar_test_sparse_gen(spar_test_sparse *d, uint64_t *state, const spar_test_sparse_shape *shape, uint32_t n,
                          uint32_t dim, uint32_t max_nnz);
void spar_test_sparse_free(spar_test_sparse *d);

/* Gaussian mixture: nc centres (centre_scale * normal per coordinate), then n points, each a uniformly
 * chosen centre plus sigma * normal noise; row-major n x dim. Caller frees. Aborts on out-of-memory. */
float *spar_test_clustered(uint64_t *state, uint32_t n, uint32_t dim, uint32_t nc, float centre_scale,
                           float sigma);

#endif
