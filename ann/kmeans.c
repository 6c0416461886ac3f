/* ann/kmeans.c — k-means for coarse quantizers and PQ codebooks: k-means++ seeding on a seeded sample,
 * then Lloyd iterations. Deterministic given the seed whatever the thread count: the assignment step is
 * per-point, and centroid sums are accumulated in point order in double precision.
 * Contract: include/spar/spar_ann.h (spar_kmeans) and ann/ann_int.h (spar_kmeans_assign). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_int.h"
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

void spar_kmeans_opts_default(spar_kmeans_opts *o) {
    o->k = 256;
    o->iters = 20;
    o->sample = 0;
    o->seed = 1234;
    o->n_threads = 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unit(uint64_t *s) { return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0); }

/* Nearest centroid of every point (L2); dist2 may be NULL. Distances are ||x||^2 - 2 x.c + ||c||^2 with the
 * dot products from OpenBLAS sgemm over blocks of points (each output element is computed by one thread
 * with one kernel, so the result does not depend on the thread count); ties go to the lower centroid. */
void spar_kmeans_assign(const float *x, uint64_t n, uint32_t dim, const float *c, uint32_t k, uint32_t *assign,
                        float *dist2, int n_threads) {
    (void)n_threads;
    enum { BLK = 1024 };
    float *cn = malloc(sizeof(float) * k), *dots = malloc(sizeof(float) * (size_t)BLK * k);
    if (cn == NULL || dots == NULL) { /* fall back to the plain loop: slower, same answer up to rounding */
        const spar_ann_kernels *kern = spar_ann_kernels_get();
        for (uint64_t i = 0; i < n; i++) {
            float best = INFINITY;
            uint32_t bj = 0;
            for (uint32_t j = 0; j < k; j++) {
                float d = kern->l2sq(x + i * dim, c + (size_t)j * dim, dim);
                if (d < best) best = d, bj = j;
            }
            assign[i] = bj;
            if (dist2 != NULL) dist2[i] = best;
        }
        free(cn), free(dots);
        return;
    }
    for (uint32_t j = 0; j < k; j++) {
        double t = 0;
        for (uint32_t e = 0; e < dim; e++) t += (double)c[(size_t)j * dim + e] * c[(size_t)j * dim + e];
        cn[j] = (float)t;
    }
    for (uint64_t b0 = 0; b0 < n; b0 += BLK) {
        int nb = (int)(n - b0 < BLK ? n - b0 : BLK);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, (int)k, (int)dim, 1.0f, x + b0 * dim, (int)dim, c,
                    (int)dim, 0.0f, dots, (int)k);
        for (int i = 0; i < nb; i++) {
            const float *xi = x + (b0 + (uint64_t)i) * dim, *di = dots + (size_t)i * k;
            double xn = 0;
            for (uint32_t e = 0; e < dim; e++) xn += (double)xi[e] * xi[e];
            float best = INFINITY;
            uint32_t bj = 0;
            for (uint32_t j = 0; j < k; j++) {
                float d = cn[j] - 2.0f * di[j];
                if (d < best) best = d, bj = j;
            }
            assign[b0 + (uint64_t)i] = bj;
            if (dist2 != NULL) {
                float d = (float)xn + best;
                dist2[b0 + (uint64_t)i] = d > 0 ? d : 0;
            }
        }
    }
    free(cn), free(dots);
}

spar_status spar_kmeans(const float *x, uint64_t n, uint32_t dim, const spar_kmeans_opts *o, float *centroids,
                        uint32_t *assign_out, double *inertia) {
    spar_kmeans_opts def;
    if (o == NULL) {
        spar_kmeans_opts_default(&def);
        o = &def;
    }
    if (x == NULL || centroids == NULL || dim == 0 || o->k == 0 || o->k > n) return SPAR_E_INVALID_ARG;
    uint32_t k = o->k;
    uint64_t seed = o->seed;
    /* training sample: a seeded partial Fisher-Yates over indices */
    uint64_t m = (o->sample > 0 && o->sample < n) ? o->sample : n;
    if (m < k) m = k;
    spar_status st = SPAR_OK;
    uint64_t *idx = NULL;
    float *s = NULL, *d2 = NULL;
    uint32_t *as = NULL;
    double *acc = NULL;
    uint64_t *cnt = NULL;
    if ((s = spar_malloc_array(m * dim, sizeof(float))) == NULL || (d2 = spar_malloc_array(m, sizeof(float))) == NULL ||
        (as = spar_malloc_array(m, sizeof(uint32_t))) == NULL ||
        (acc = spar_malloc_array((size_t)k * dim, sizeof(double))) == NULL ||
        (cnt = spar_malloc_array(k, sizeof(uint64_t))) == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    if (m == n) {
        memcpy(s, x, (size_t)n * dim * sizeof(float));
    } else {
        if ((idx = spar_malloc_array(n, sizeof(uint64_t))) == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        for (uint64_t i = 0; i < n; i++) idx[i] = i;
        for (uint64_t i = 0; i < m; i++) {
            uint64_t j = i + splitmix(&seed) % (n - i);
            uint64_t t = idx[i];
            idx[i] = idx[j], idx[j] = t;
            memcpy(s + i * dim, x + idx[i] * dim, (size_t)dim * sizeof(float));
        }
    }
    /* k-means++: first centre uniform, then proportional to squared distance to the nearest centre */
    const spar_ann_kernels *kern = spar_ann_kernels_get();
    memcpy(centroids, s + (splitmix(&seed) % m) * dim, (size_t)dim * sizeof(float));
    for (uint64_t i = 0; i < m; i++) d2[i] = kern->l2sq(s + i * dim, centroids, dim);
    for (uint32_t c = 1; c < k; c++) {
        double tot = 0;
        for (uint64_t i = 0; i < m; i++) tot += d2[i];
        uint64_t pick = splitmix(&seed) % m;
        if (tot > 0) {
            double r = unit(&seed) * tot, run = 0;
            for (uint64_t i = 0; i < m; i++) {
                run += d2[i];
                if (run >= r) { pick = i; break; }
            }
        }
        float *cc = centroids + (size_t)c * dim;
        memcpy(cc, s + pick * dim, (size_t)dim * sizeof(float));
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(o->n_threads > 0 ? o->n_threads : omp_get_max_threads()) if (m > 4096)
#endif
        for (uint64_t i = 0; i < m; i++) {
            float d = kern->l2sq(s + i * dim, cc, dim);
            if (d < d2[i]) d2[i] = d;
        }
    }
    /* Lloyd */
    for (uint32_t it = 0; it < o->iters; it++) {
        spar_kmeans_assign(s, m, dim, centroids, k, as, d2, o->n_threads);
        memset(acc, 0, (size_t)k * dim * sizeof(double));
        memset(cnt, 0, (size_t)k * sizeof(uint64_t));
        for (uint64_t i = 0; i < m; i++) {
            double *a = acc + (size_t)as[i] * dim;
            const float *xi = s + i * dim;
            for (uint32_t j = 0; j < dim; j++) a[j] += xi[j];
            cnt[as[i]]++;
        }
        for (uint32_t c = 0; c < k; c++) {
            float *cc = centroids + (size_t)c * dim;
            if (cnt[c] == 0) {
                /* re-seed from the point farthest from its centroid (then make it ineligible) */
                uint64_t far = 0;
                for (uint64_t i = 1; i < m; i++)
                    if (d2[i] > d2[far]) far = i;
                memcpy(cc, s + far * dim, (size_t)dim * sizeof(float));
                d2[far] = 0;
                continue;
            }
            for (uint32_t j = 0; j < dim; j++) cc[j] = (float)(acc[(size_t)c * dim + j] / (double)cnt[c]);
        }
    }
    if (assign_out != NULL || inertia != NULL) {
        uint32_t *a = assign_out;
        float *dd = NULL;
        if (a == NULL && (a = spar_malloc_array(n, sizeof(uint32_t))) == NULL) { st = SPAR_E_NOMEM; goto done; }
        if (inertia != NULL && (dd = spar_malloc_array(n, sizeof(float))) == NULL) {
            if (a != assign_out) free(a);
            st = SPAR_E_NOMEM;
            goto done;
        }
        spar_kmeans_assign(x, n, dim, centroids, k, a, dd, o->n_threads);
        if (inertia != NULL) {
            double t = 0;
            for (uint64_t i = 0; i < n; i++) t += dd[i];
            *inertia = t;
        }
        free(dd);
        if (a != assign_out) free(a);
    }
done:
    free(idx), free(s), free(d2), free(as), free(acc), free(cnt);
    return st;
}
