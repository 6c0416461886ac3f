/* test_data.c — the seeded synthetic data of test_data.h (sparse corpora, Gaussian mixtures). */
#include "common/test_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void *xalloc(size_t n, int zero) {
    void *p = zero ? calloc(n ? n : 1, 1) : malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test_data: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

float spar_test_normal(uint64_t *state) {
    double u = spar_test_unif(state) + 1e-12, v = spar_test_unif(state);
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static uint32_t draw_term(uint64_t *rs, const spar_test_sparse_shape *sh, uint32_t dim, uint32_t topic) {
    uint32_t t;
    if (sh->terms == SPAR_TEST_TERMS_ZIPF) {
        t = (uint32_t)(pow(spar_test_unif(rs), 3.0) * dim);
    } else if (sh->terms == SPAR_TEST_TERMS_TOPICAL && spar_test_rand(rs) % 4 != 0) {
        uint32_t width = dim / sh->n_topics;
        t = topic * width + (uint32_t)(spar_test_rand(rs) % width);
    } else {
        t = (uint32_t)(spar_test_rand(rs) % dim);
    }
    return t < dim ? t : dim - 1;
}

void spar_test_sparse_gen(spar_test_sparse *d, uint64_t *rs, const spar_test_sparse_shape *sh, uint32_t n,
                          uint32_t dim, uint32_t max_nnz) {
    d->n = n;
    d->dim = dim;
    d->ids = xalloc((size_t)n * max_nnz * sizeof *d->ids, 0);
    d->w = xalloc((size_t)n * max_nnz * sizeof *d->w, 0);
    d->v = xalloc((size_t)n * sizeof *d->v, 0);
    unsigned char *seen = xalloc(dim, 1);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m = sh->min_nnz + (uint32_t)(spar_test_rand(rs) % (max_nnz + 1 - sh->min_nnz)), got = 0;
        uint32_t *ids = d->ids + (size_t)i * max_nnz;
        uint64_t r = spar_test_rand(rs); /* drawn in every mode: the stream does not depend on the shape */
        uint32_t topic = sh->n_topics ? (uint32_t)(r % sh->n_topics) : 0;
        for (uint32_t j = 0; j < m; j++) {
            uint32_t t = draw_term(rs, sh, dim, topic);
            if (!seen[t]) { seen[t] = 1; ids[got++] = t; }
        }
        uint32_t k = 0; /* rewrite the distinct terms in ascending order, clearing the marks */
        for (uint32_t t = 0; t < dim && k < got; t++)
            if (seen[t]) { ids[k++] = t; seen[t] = 0; }
        float *w = d->w + (size_t)i * max_nnz;
        for (uint32_t j = 0; j < got; j++)
            w[j] = sh->grid_step > 0.0f ? (float)(1 + spar_test_rand(rs) % 4) * sh->grid_step
                                        : (float)(sh->weight_min + spar_test_unif(rs) * 3.0);
        d->v[i] = (spar_sparse_vec){ids, w, got};
    }
    free(seen);
}

void spar_test_sparse_free(spar_test_sparse *d) {
    free(d->ids);
    free(d->w);
    free(d->v);
}

float *spar_test_clustered(uint64_t *rs, uint32_t n, uint32_t dim, uint32_t nc, float centre_scale,
                           float sigma) {
    float *c = xalloc(sizeof(float) * nc * dim, 0), *x = xalloc(sizeof(float) * n * dim, 0);
    for (uint32_t i = 0; i < nc * dim; i++) c[i] = centre_scale * spar_test_normal(rs);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(spar_test_unif(rs) * nc) % nc;
        for (uint32_t j = 0; j < dim; j++)
            x[(size_t)i * dim + j] = c[(size_t)k * dim + j] + sigma * spar_test_normal(rs);
    }
    free(c);
    return x;
}
