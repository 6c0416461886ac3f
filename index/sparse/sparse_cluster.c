/* sparse_cluster.c — cheap clustering of sparse vectors for index/sparse: each vector is summarized by a
 * unit-length 32-dim signed count-sketch (inner products are preserved in expectation), and items are
 * assigned to random centroid items by maximum sketch inner product, in two levels (sqrt(c) coarse
 * centroids, then centroids inside each coarse group) so the cost is ~n * 2 sqrt(c) * 32 flops, not n*c*32.
 * Used to reorder documents (tight docid blocks for the exact block-max search) and to form the blocks of
 * each Seismic posting list. Deterministic for a given seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/sparse/sparse_int.h"

#define SK SPAR_SPARSE_SK
#define FLAT_MAX 48u

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void spar_sparse_sketch(const uint32_t *ids, const uint16_t *ids16, const float *w, uint64_t n, float *out) {
    memset(out, 0, SK * sizeof *out);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t h = (uint64_t)(ids ? ids[i] : ids16[i]) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
        out[(h >> 7) % SK] += ((h >> 40) & 1) ? w[i] : -w[i];
    }
    double nn = 0.0;
    for (int z = 0; z < SK; z++) nn += (double)out[z] * out[z];
    if (nn > 0.0) {
        float inv = (float)(1.0 / sqrt(nn));
        for (int z = 0; z < SK; z++) out[z] *= inv;
    }
}

/* Flat assignment of n items (sketch rows) to c <= n centroids picked among them. perm: n scratch. */
static void assign_flat(const float *sketch, const uint32_t *rows, uint32_t n, uint32_t c, uint64_t seed,
                        uint32_t *out, uint32_t *perm) {
    if (c <= 1 || n <= 1) {
        memset(out, 0, (size_t)n * sizeof *out);
        return;
    }
    if (c > n) c = n;
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = 0; i < c; i++) {
        uint32_t j = i + (uint32_t)(splitmix(&seed) % (n - i));
        uint32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    float cent[FLAT_MAX * SK];
    const float *cp[64];
    int local = c <= FLAT_MAX;
    if (local)
        for (uint32_t j = 0; j < c; j++) memcpy(cent + (size_t)j * SK, sketch + (size_t)rows[perm[j]] * SK, sizeof(float) * SK);
    (void)cp;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (n >= 200000)
#endif
    for (int64_t i = 0; i < (int64_t)n; i++) {
        const float *x = sketch + (size_t)rows[i] * SK;
        float bd = -INFINITY;
        uint32_t best = 0;
        for (uint32_t j = 0; j < c; j++) {
            const float *y = local ? cent + (size_t)j * SK : sketch + (size_t)rows[perm[j]] * SK;
            float dot = 0.0f;
            for (int z = 0; z < SK; z++) dot += x[z] * y[z];
            if (dot > bd) { bd = dot; best = j; }
        }
        out[i] = best;
    }
}

spar_status spar_sparse_assign(const float *sketch, const uint32_t *rows, uint32_t n, uint32_t c, uint64_t seed,
                               uint32_t *assign) {
    if (n == 0) return SPAR_OK;
    uint32_t *perm = malloc((size_t)n * sizeof *perm);
    if (perm == NULL) return SPAR_E_NOMEM;
    if (c <= FLAT_MAX) {
        assign_flat(sketch, rows, n, c, seed, assign, perm);
        free(perm);
        return SPAR_OK;
    }
    uint32_t c1 = (uint32_t)ceil(sqrt((double)c));
    uint32_t *g = malloc((size_t)n * sizeof *g), *grows = malloc((size_t)n * sizeof *grows),
             *gpos = malloc((size_t)n * sizeof *gpos), *tmp = malloc((size_t)n * sizeof *tmp),
             *cnt = calloc((size_t)c1 + 1, sizeof *cnt);
    spar_status st = SPAR_OK;
    if (!g || !grows || !gpos || !tmp || !cnt) { st = SPAR_E_NOMEM; goto done; }
    assign_flat(sketch, rows, n, c1, seed, g, perm);
    for (uint32_t i = 0; i < n; i++) cnt[g[i] + 1]++;
    for (uint32_t j = 0; j < c1; j++) cnt[j + 1] += cnt[j];
    memcpy(tmp, cnt, (size_t)c1 * sizeof *tmp); /* fill cursors */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = tmp[g[i]]++;
        grows[at] = rows[i];
        gpos[at] = i;
    }
    uint32_t base = 0;
    for (uint32_t j = 0; j < c1; j++) {
        uint32_t a = cnt[j], m = cnt[j + 1] - a;
        if (m == 0) continue;
        uint32_t cg = (uint32_t)llround((double)c * m / n);
        if (cg < 1) cg = 1;
        if (cg > m) cg = m;
        assign_flat(sketch, grows + a, m, cg, seed ^ (0x5851f42d4c957f2dull * (j + 1)), tmp + a, perm);
        for (uint32_t i = 0; i < m; i++) assign[gpos[a + i]] = base + tmp[a + i];
        base += cg;
    }
done:
    free(perm);
    free(g);
    free(grows);
    free(gpos);
    free(tmp);
    free(cnt);
    return st;
}

spar_status spar_sparse_cluster_order(const float *sketch, uint32_t n, uint32_t leaf, uint64_t seed, uint32_t *order) {
    if (n == 0) return SPAR_OK;
    uint32_t c = (n + leaf - 1) / leaf;
    uint32_t *rows = malloc((size_t)n * sizeof *rows), *as = malloc((size_t)n * sizeof *as);
    uint32_t *cnt = NULL;
    spar_status st = SPAR_OK;
    if (!rows || !as) { st = SPAR_E_NOMEM; goto done; }
    for (uint32_t i = 0; i < n; i++) rows[i] = i;
    SPAR_TRY_GOTO(st, spar_sparse_assign(sketch, rows, n, c, seed, as), done);
    uint32_t mx = 0;
    for (uint32_t i = 0; i < n; i++) mx = SPAR_MAX(mx, as[i]);
    cnt = calloc((size_t)mx + 2, sizeof *cnt);
    if (cnt == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (uint32_t i = 0; i < n; i++) cnt[as[i] + 1]++;
    for (uint32_t j = 0; j <= mx; j++) cnt[j + 1] += cnt[j];
    for (uint32_t i = 0; i < n; i++) order[cnt[as[i]]++] = i; /* stable: docid order inside a cluster */
done:
    free(rows);
    free(as);
    free(cnt);
    return st;
}
