/* ann/binary.c — float vectors to binary codes: SimHash (seeded Gaussian projection) or an ITQ rotation
 * learned on the data. The learned rotation uses OpenBLAS for the products and LAPACK's sgesvd for the
 * Procrustes step. Contract: include/spar/spar_ann.h (spar_binarizer_*). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_int.h"

/* LAPACK (shipped inside OpenBLAS) */
extern void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, float *a, const int *lda, float *s,
                    float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork, int *info);

struct spar_binarizer {
    uint32_t dim, bits;
    float *mu; /* dim */
    float *R;  /* dim x bits, row-major: projection of x is (x - mu)^T R */
};

static uint64_t sm(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float gauss(uint64_t *s) {
    double u = ((sm(s) >> 11) + 1.0) / 9007199254740993.0, v = (sm(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

void spar_binarizer_free(spar_binarizer *b) {
    if (b == NULL) return;
    free(b->mu);
    free(b->R);
    free(b);
}

/* R <- U W^T for M = U S W^T (square d x d, row-major; LAPACK sees the transpose, which swaps U and W). */
static spar_status procrustes(float *M, uint32_t d, float *R) {
    int n = (int)d, info = 0, lwork = -1;
    float wq;
    float *s = malloc(sizeof(float) * d), *u = malloc(sizeof(float) * d * d), *vt = malloc(sizeof(float) * d * d);
    if (s == NULL || u == NULL || vt == NULL) {
        free(s), free(u), free(vt);
        return SPAR_E_NOMEM;
    }
    sgesvd_("A", "A", &n, &n, M, &n, s, u, &n, vt, &n, &wq, &lwork, &info);
    lwork = (int)wq + 1;
    float *work = malloc(sizeof(float) * (size_t)lwork);
    spar_status st = SPAR_OK;
    if (work == NULL) st = SPAR_E_NOMEM;
    else {
        /* column-major view of row-major M is M^T = W S U^T: LAPACK's u = W, vt = U^T (column-major).
         * In row-major terms: u_rm = W^T... so R_rm = U W^T = (vt_cm)^T (u_cm)^T = (u_cm vt_cm)^T; computing
         * C = u_cm * vt_cm column-major and reading it row-major gives exactly C^T = R. */
        sgesvd_("A", "A", &n, &n, M, &n, s, u, &n, vt, &n, work, &lwork, &info);
        if (info != 0) st = SPAR_E_INTERNAL;
        else cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, u, n, vt, n, 0.0f, R, n);
    }
    free(work), free(s), free(u), free(vt);
    return st;
}

spar_status spar_binarizer_train(const float *vecs, uint64_t n, uint32_t dim, uint32_t bits, int itq_iters,
                                 uint64_t seed, spar_binarizer **out) {
    if (out == NULL || vecs == NULL || n == 0 || dim == 0 || bits == 0 || bits % 64 != 0 ||
        itq_iters < 0 || (itq_iters > 0 && bits != dim))
        return SPAR_E_INVALID_ARG;
    spar_binarizer *b = calloc(1, sizeof *b);
    if (b == NULL) return SPAR_E_NOMEM;
    b->dim = dim;
    b->bits = bits;
    b->mu = calloc(dim, sizeof(float));
    b->R = spar_malloc_array((size_t)dim * bits, sizeof(float));
    spar_status st = SPAR_OK;
    float *V = NULL, *P = NULL, *M = NULL;
    if (b->mu == NULL || b->R == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    uint64_t s = seed;
    for (size_t i = 0; i < (size_t)dim * bits; i++) b->R[i] = gauss(&s);
    if (itq_iters > 0) {
        uint64_t m = n < 20000 ? n : 20000; /* training sample: a seeded stride walk */
        V = spar_malloc_array(m * dim, sizeof(float));
        P = spar_malloc_array(m * dim, sizeof(float));
        M = spar_malloc_array((size_t)dim * dim, sizeof(float));
        double *mu = calloc(dim, sizeof(double));
        if (V == NULL || P == NULL || M == NULL || mu == NULL) {
            free(mu);
            st = SPAR_E_NOMEM;
            goto done;
        }
        uint64_t off = sm(&s) % n;
        for (uint64_t i = 0; i < m; i++) memcpy(V + i * dim, vecs + ((off + i * (n / m)) % n) * dim, dim * 4);
        for (uint64_t i = 0; i < m; i++)
            for (uint32_t j = 0; j < dim; j++) mu[j] += V[i * dim + j];
        for (uint32_t j = 0; j < dim; j++) b->mu[j] = (float)(mu[j] / (double)m);
        free(mu);
        for (uint64_t i = 0; i < m; i++)
            for (uint32_t j = 0; j < dim; j++) V[i * dim + j] -= b->mu[j];
        /* start from a random orthogonal matrix: Procrustes of the Gaussian matrix itself */
        memcpy(M, b->R, (size_t)dim * dim * sizeof(float));
        SPAR_TRY_GOTO(st, procrustes(M, dim, b->R), done);
        for (int it = 1; it < itq_iters; it++) {
            /* P = sign(V R) ; M = V^T P ; R = procrustes(M) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)dim, (int)dim, 1.0f, V, (int)dim, b->R,
                        (int)dim, 0.0f, P, (int)dim);
            for (size_t i = 0; i < (size_t)m * dim; i++) P[i] = P[i] >= 0 ? 1.0f : -1.0f;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dim, (int)dim, (int)m, 1.0f, V, (int)dim, P,
                        (int)dim, 0.0f, M, (int)dim);
            SPAR_TRY_GOTO(st, procrustes(M, dim, b->R), done);
        }
    }
done:
    free(V), free(P), free(M);
    if (st != SPAR_OK) {
        spar_binarizer_free(b);
        return st;
    }
    *out = b;
    return SPAR_OK;
}

void spar_binarizer_encode(const spar_binarizer *b, const float *vecs, uint64_t n, uint8_t *codes) {
    const uint32_t d = b->dim, W = b->bits / 64;
    float *x = malloc(sizeof(float) * d), *p = malloc(sizeof(float) * b->bits);
    if (x == NULL || p == NULL) {
        free(x), free(p);
        memset(codes, 0, (size_t)n * W * 8);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < d; j++) x[j] = vecs[i * d + j] - b->mu[j];
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)d, (int)b->bits, 1.0f, b->R, (int)b->bits, x, 1, 0.0f, p, 1);
        uint64_t w[64] = {0};
        for (uint32_t j = 0; j < b->bits; j++)
            if (p[j] > 0) w[j / 64] |= 1ull << (j % 64);
        memcpy(codes + i * W * 8, w, W * 8);
    }
    free(x), free(p);
}

double spar_binarizer_loss(const spar_binarizer *b, const float *vecs, uint64_t n) {
    const uint32_t d = b->dim;
    float *x = malloc(sizeof(float) * d), *p = malloc(sizeof(float) * b->bits);
    double tot = 0;
    if (x == NULL || p == NULL || n == 0) {
        free(x), free(p);
        return NAN;
    }
    for (uint64_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < d; j++) x[j] = vecs[i * d + j] - b->mu[j];
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)d, (int)b->bits, 1.0f, b->R, (int)b->bits, x, 1, 0.0f, p, 1);
        for (uint32_t j = 0; j < b->bits; j++) {
            double e = (p[j] >= 0 ? 1.0 : -1.0) - p[j];
            tot += e * e;
        }
    }
    free(x), free(p);
    return tot / ((double)n * b->bits);
}
