/* bench_ann.c — spar ANN benchmark: seeded data generators, exact ground truth, HNSW build time and an
 * ef sweep (recall@10 and single-query QPS on 1 thread, batch QPS on N threads), binary Hamming flat scan.
 * Prints one JSON line per measurement. The peer (hnswlib compiled -O3 -march=native) reads the files this
 * program writes (bench/ann/hnswlib_bench.cpp), so both engines see identical data; bench/ann/run.sh
 * alternates them in one run.
 *
 *   bench_ann gen  DIR mid|hard N NQ SEED   write DIR/{base.fvecs,query.fvecs,gt.ivecs,base.bin256,query.bin256}
 *   bench_ann hnsw DIR M EFC THREADS ef1,ef2,... [sq8 RERANK]   (float HNSW, or SQ8 nodes + exact re-rank)
 *   bench_ann binhnsw DIR M EFC ef1,ef2,...  HNSW over the 256-bit codes (tie-aware recall)
 *   bench_ann bin  DIR                       Hamming flat scan of the 256-bit codes
 *   bench_ann ivf  DIR NLIST flat|sq8|pq PQ_M RERANK np1,np2,...   IVF sweep over nprobe
 *   bench_ann binivf DIR NLIST np1,np2,...   binary IVF sweep (recall is tie-aware vs exact Hamming top-10)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spar/spar_ann.h"

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ANN_CPUTIME=1: time on this thread's CPU clock (less sensitive to a loaded machine while iterating) */
static double now(void) {
    struct timespec ts;
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("ANN_CPUTIME") != NULL && *getenv("ANN_CPUTIME") == '1';
    clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rs;
static double urand(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static float nrand(void) {
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static int write_vecs(const char *path, const void *data, uint32_t n, uint32_t dim, size_t elem) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    for (uint32_t i = 0; i < n; i++) {
        int32_t d = (int32_t)dim;
        fwrite(&d, 4, 1, f);
        fwrite((const char *)data + (size_t)i * dim * elem, elem, dim, f);
    }
    return fclose(f);
}

static void *read_vecs(const char *path, uint32_t *n, uint32_t *dim, size_t elem) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d <= 0) { fprintf(stderr, "%s: bad header\n", path); exit(1); }
    rewind(f);
    size_t rec = 4 + (size_t)d * elem;
    *n = (uint32_t)(sz / (long)rec);
    *dim = (uint32_t)d;
    char *out = malloc((size_t)*n * d * elem);
    for (uint32_t i = 0; i < *n; i++) {
        if (fread(&d, 4, 1, f) != 1 || fread(out + (size_t)i * *dim * elem, elem, *dim, f) != *dim) {
            fprintf(stderr, "%s: truncated\n", path);
            exit(1);
        }
    }
    fclose(f);
    return out;
}

/* mid: 100-component GMM in a 32-d latent space -> 128-d random projection + N(0, 0.2^2) noise.
 * hard: isotropic Gaussian in a 64-d latent space -> 128-d + N(0, 0.1^2). (../shared/notes/multivector_ann.md 6.1)
 * wide: like mid but a 64-d latent space projected to 768-d (transformer-embedding width). */
static void gen(const char *dir, const char *kind, uint32_t n, uint32_t nq, uint64_t seed) {
    const int wide = strcmp(kind, "wide") == 0;
    const uint32_t D = wide ? 768 : 128, L = (strcmp(kind, "hard") == 0 || wide) ? 64 : 32, NC = 100;
    const float noise = strcmp(kind, "hard") == 0 ? 0.1f : 0.2f;
    rs = seed * 2654435761u + 1;
    float *P = malloc(sizeof(float) * L * D), *C = malloc(sizeof(float) * NC * L);
    for (uint32_t i = 0; i < L * D; i++) P[i] = nrand() / sqrtf((float)L);
    for (uint32_t i = 0; i < NC * L; i++) C[i] = 3.0f * nrand();
    uint32_t tot = n + nq;
    float *X = malloc(sizeof(float) * (size_t)tot * D), z[64];
    for (uint32_t i = 0; i < tot; i++) {
        uint32_t c = (uint32_t)(urand() * NC) % NC;
        for (uint32_t j = 0; j < L; j++) z[j] = (strcmp(kind, "hard") == 0 ? 0.0f : C[c * L + j]) + nrand();
        for (uint32_t d = 0; d < D; d++) {
            float s = 0;
            for (uint32_t j = 0; j < L; j++) s += z[j] * P[j * D + d];
            X[(size_t)i * D + d] = s + noise * nrand();
        }
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/base.fvecs", dir);
    write_vecs(p, X, n, D, 4);
    snprintf(p, sizeof p, "%s/query.fvecs", dir);
    write_vecs(p, X + (size_t)n * D, nq, D, 4);
    /* exact ground truth with spar's flat index (itself checked against brute force in tests/oracle) */
    spar_ann *flat = NULL;
    if (spar_ann_flat_build(X, n, D, SPAR_METRIC_L2, &flat) != SPAR_OK) exit(1);
    spar_ann_hit *h = malloc(sizeof(spar_ann_hit) * nq * 100);
    size_t *nh = malloc(sizeof(size_t) * nq);
    if (spar_ann_search_batch(flat, X + (size_t)n * D, nq, 100, NULL, h, nh, 0) != SPAR_OK) exit(1);
    int32_t *gt = malloc(sizeof(int32_t) * nq * 100);
    for (uint32_t i = 0; i < nq * 100; i++) gt[i] = (int32_t)h[i].id;
    snprintf(p, sizeof p, "%s/gt.ivecs", dir);
    write_vecs(p, gt, nq, 100, 4);
    /* 256-bit SimHash codes of the same vectors (Gaussian projection: binary codes "derived from" the floats) */
    float *R = malloc(sizeof(float) * 256 * D);
    for (uint32_t i = 0; i < 256 * D; i++) R[i] = nrand();
    uint64_t *codes = calloc((size_t)tot * 4, 8);
    for (uint32_t i = 0; i < tot; i++)
        for (uint32_t b = 0; b < 256; b++) {
            float s = 0;
            for (uint32_t d = 0; d < D; d++) s += R[b * D + d] * X[(size_t)i * D + d];
            if (s > 0) codes[(size_t)i * 4 + b / 64] |= 1ull << (b % 64);
        }
    snprintf(p, sizeof p, "%s/base.bin256", dir);
    FILE *f = fopen(p, "wb");
    fwrite(codes, 32, n, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/query.bin256", dir);
    f = fopen(p, "wb");
    fwrite(codes + (size_t)n * 4, 32, nq, f);
    fclose(f);
    printf("{\"gen\":\"%s\",\"n\":%u,\"nq\":%u,\"dim\":%u,\"seed\":%llu}\n", kind, n, nq, D, (unsigned long long)seed);
    spar_ann_free(flat);
    free(P), free(C), free(X), free(h), free(nh), free(gt), free(R), free(codes);
}

static double recall10(const spar_ann_hit *h, const size_t *nh, const int32_t *gt, uint32_t nq) {
    double hit = 0;
    for (uint32_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nh[i] && j < 10; j++)
            for (int t = 0; t < 10; t++)
                if ((int32_t)h[i * 10 + j].id == gt[i * 100 + t]) { hit++; break; }
    return hit / (nq * 10.0);
}

/* Tie-aware recall@10 for Hamming search: a returned id counts when its distance is <= the exact 10th
 * distance (g: the exact top-10 of each query). */
static double tie_recall10(const spar_ann_hit *h, const size_t *nh, const spar_ann_hit *g, uint32_t nq) {
    double hit = 0;
    for (uint32_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nh[i]; j++) hit += h[i * 10 + j].dist <= g[i * 10 + 9].dist;
    return hit / (nq * 10.0);
}

/* The float data `gen` writes: nq queries and n base vectors of d floats, exact top-100 ids per query. */
typedef struct float_set {
    float *X, *Q;
    int32_t *gt;
    uint32_t n, nq, d;
} float_set;

static void float_set_read(const char *dir, float_set *fs) {
    char p[4096];
    uint32_t dq, ng, dg;
    snprintf(p, sizeof p, "%s/base.fvecs", dir);
    fs->X = read_vecs(p, &fs->n, &fs->d, 4);
    snprintf(p, sizeof p, "%s/query.fvecs", dir);
    fs->Q = read_vecs(p, &fs->nq, &dq, 4);
    snprintf(p, sizeof p, "%s/gt.ivecs", dir);
    fs->gt = read_vecs(p, &ng, &dg, 4);
}

static void float_set_free(float_set *fs) { free(fs->X), free(fs->Q), free(fs->gt); }

/* n packed 256-bit codes (32 bytes each) from DIR/name. */
static uint8_t *read_codes(const char *dir, const char *name, uint32_t *n) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) exit(1);
    fseek(f, 0, SEEK_END);
    *n = (uint32_t)(ftell(f) / 32);
    rewind(f);
    uint8_t *B = malloc((size_t)*n * 32);
    if (fread(B, 32, *n, f) != *n) exit(1);
    fclose(f);
    return B;
}

/* Exact Hamming top-10 of each of the nq codes Q among the n codes B (binary flat index). Caller frees. */
static spar_ann_hit *hamming_top10(const uint8_t *B, uint32_t n, const uint8_t *Q, uint32_t nq) {
    spar_ann *flat = NULL;
    spar_ann_hit *g = malloc(sizeof(spar_ann_hit) * nq * 10);
    size_t *ng = malloc(sizeof(size_t) * nq);
    if (spar_ann_binary_flat_build(B, n, 256, &flat) != SPAR_OK) exit(1);
    if (spar_ann_search_batch(flat, Q, nq, 10, NULL, g, ng, 0) != SPAR_OK) exit(1);
    spar_ann_free(flat);
    free(ng);
    return g;
}

/* One pass of nq single-query top-10 searches on this thread; query i at Q + i * q_bytes, its hits at
 * h + i * 10 and their count in nh[i]. */
static void search_each(const spar_ann *ix, spar_ann_scratch *s, const void *Q, size_t q_bytes, uint32_t nq,
                        const spar_ann_params *prm, spar_ann_hit *h, size_t *nh) {
    for (uint32_t i = 0; i < nq; i++)
        if (spar_ann_search(ix, s, (const char *)Q + i * q_bytes, 10, prm, h + i * 10, &nh[i]) != SPAR_OK) exit(1);
}

/* The fastest of 3 timed search_each passes, in seconds (now(): wall, or CPU under ANN_CPUTIME=1). */
static double search_each_best_of_3(const spar_ann *ix, spar_ann_scratch *s, const void *Q, size_t q_bytes,
                                    uint32_t nq, const spar_ann_params *prm, spar_ann_hit *h, size_t *nh) {
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        search_each(ix, s, Q, q_bytes, nq, prm, h, nh);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void bench_hnsw(const char *dir, uint32_t M, uint32_t efc, int threads, char *efs, int sq8, uint32_t rerank) {
    char p[4096];
    float_set fs;
    float_set_read(dir, &fs);
    const uint32_t n = fs.n, d = fs.d, nq = fs.nq;
    spar_hnsw_opts o;
    spar_hnsw_opts_default(&o);
    o.M = M;
    o.ef_construction = efc;
    o.n_threads = threads;
    o.storage = sq8 ? SPAR_HNSW_SQ8 : SPAR_HNSW_F32;
    const char *iname = sq8 ? "hnsw-sq8" : "hnsw";
    spar_ann *ix = NULL;
    double t0 = now(), build = -1;
    /* ANN_CACHE=1: reuse DIR/hnsw-M-EFC.ann when present (search-only iterations; build reported as -1) */
    const char *cache = getenv("ANN_CACHE");
    snprintf(p, sizeof p, "%s/hnsw-%u-%u.ann", dir, M, efc);
    if (!sq8 && cache && *cache == '1' && spar_ann_load(p, &ix, NULL) == SPAR_OK) {
    } else {
        if (spar_ann_hnsw_build(fs.X, n, d, SPAR_METRIC_L2, &o, &ix) != SPAR_OK) exit(1);
        build = now() - t0;
        if (!sq8 && cache && *cache == '1' && spar_ann_save(ix, p, NULL) != SPAR_OK) exit(1);
    }
    if (sq8) { /* search the saved file: re-ranking reads the floats through the mmap */
        snprintf(p, sizeof p, "%s/hnsw-sq8.ann", dir);
        if (spar_ann_save(ix, p, NULL) != SPAR_OK) exit(1);
        spar_ann_free(ix);
        if (spar_ann_load(p, &ix, NULL) != SPAR_OK) exit(1);
    }
    printf("{\"engine\":\"spar\",\"op\":\"build\",\"index\":\"%s\",\"data\":\"%s\",\"n\":%u,\"M\":%u,\"efc\":%u,"
           "\"threads\":%d,\"seconds\":%.3f}\n", iname, dir, n, M, efc, threads, build);
    fflush(stdout);
    spar_ann_scratch *s = NULL;
    if (spar_ann_scratch_create(ix, &s) != SPAR_OK) exit(1);
    spar_ann_hit *h = malloc(sizeof(spar_ann_hit) * nq * 10);
    size_t *nh = malloc(sizeof(size_t) * nq);
    for (char *tok = strtok(efs, ","); tok; tok = strtok(NULL, ",")) {
        uint32_t ef = (uint32_t)atoi(tok);
        spar_ann_params prm = {ef, 16, rerank};
        search_each(ix, s, fs.Q, d * sizeof(float), nq, &prm, h, nh); /* warm-up */
        double best = search_each_best_of_3(ix, s, fs.Q, d * sizeof(float), nq, &prm, h, nh);
        double r = recall10(h, nh, fs.gt, nq);
        t0 = wall(); /* 2 threads: wall clock even under ANN_CPUTIME */
        if (spar_ann_search_batch(ix, fs.Q, nq, 10, &prm, h, nh, 2) != SPAR_OK) exit(1);
        double tb = wall() - t0;
        printf("{\"engine\":\"spar\",\"op\":\"search\",\"index\":\"%s\",\"data\":\"%s\",\"ef\":%u,\"recall10\":%.4f,"
               "\"qps_1t\":%.1f,\"qps_2t\":%.1f}\n", iname, dir, ef, r, nq / best, nq / tb);
        fflush(stdout);
    }
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
    float_set_free(&fs);
    free(h), free(nh);
}

static void bench_bin(const char *dir) {
    uint32_t n, nq;
    uint8_t *B = read_codes(dir, "base.bin256", &n), *Q = read_codes(dir, "query.bin256", &nq);
    spar_ann *ix = NULL;
    spar_ann_scratch *s = NULL;
    if (spar_ann_binary_flat_build(B, n, 256, &ix) != SPAR_OK || spar_ann_scratch_create(ix, &s) != SPAR_OK) exit(1);
    spar_ann_hit h[10];
    size_t nh;
    double best = 1e30, checksum = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (uint32_t i = 0; i < nq; i++) {
            if (spar_ann_search(ix, s, Q + (size_t)i * 32, 10, NULL, h, &nh) != SPAR_OK) exit(1);
            checksum += h[9].dist;
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("{\"engine\":\"spar\",\"op\":\"binary_flat\",\"data\":\"%s\",\"n\":%u,\"qps_1t\":%.1f,\"checksum\":%.0f}\n",
           dir, n, nq / best, checksum / 3);
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
    free(B), free(Q);
}

static void bench_ivf(const char *dir, uint32_t nlist, const char *storage, uint32_t pq_m, uint32_t rerank, char *nps) {
    char p[4096];
    float_set fs;
    float_set_read(dir, &fs);
    const uint32_t n = fs.n, d = fs.d, nq = fs.nq;
    spar_ivf_opts o;
    spar_ivf_opts_default(&o);
    o.nlist = nlist;
    o.storage = !strcmp(storage, "pq") ? SPAR_IVF_PQ : !strcmp(storage, "sq8") ? SPAR_IVF_SQ8 : SPAR_IVF_FLAT;
    o.pq_m = pq_m;
    o.n_threads = 1;
    spar_ann *ix = NULL;
    double t0 = now();
    if (spar_ann_ivf_build(fs.X, n, d, SPAR_METRIC_L2, &o, &ix) != SPAR_OK) exit(1);
    double build = now() - t0;
    /* search from a saved file, so PQ re-ranking reads the float vectors through the mmap */
    snprintf(p, sizeof p, "%s/ivf-%s.ann", dir, storage);
    if (spar_ann_save(ix, p, NULL) != SPAR_OK) exit(1);
    spar_ann_free(ix);
    if (spar_ann_load(p, &ix, NULL) != SPAR_OK) exit(1);
    printf("{\"engine\":\"spar\",\"op\":\"build\",\"index\":\"ivf-%s\",\"data\":\"%s\",\"n\":%u,\"nlist\":%u,"
           "\"threads\":1,\"seconds\":%.3f}\n", storage, dir, n, nlist, build);
    spar_ann_scratch *s = NULL;
    if (spar_ann_scratch_create(ix, &s) != SPAR_OK) exit(1);
    spar_ann_hit *h = malloc(sizeof(spar_ann_hit) * nq * 10);
    size_t *nh = malloc(sizeof(size_t) * nq);
    for (char *tok = strtok(nps, ","); tok; tok = strtok(NULL, ",")) {
        spar_ann_params prm = {0, (uint32_t)atoi(tok), rerank};
        double best = search_each_best_of_3(ix, s, fs.Q, d * sizeof(float), nq, &prm, h, nh);
        printf("{\"engine\":\"spar\",\"op\":\"search\",\"index\":\"ivf-%s\",\"data\":\"%s\",\"nprobe\":%u,"
               "\"rerank\":%u,\"recall10\":%.4f,\"qps_1t\":%.1f}\n", storage, dir, prm.nprobe, rerank,
               recall10(h, nh, fs.gt, nq), nq / best);
        fflush(stdout);
    }
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
    float_set_free(&fs);
    free(h), free(nh);
}

static void bench_binivf(const char *dir, uint32_t nlist, char *nps) {
    uint32_t n, nq;
    uint8_t *B = read_codes(dir, "base.bin256", &n), *Q = read_codes(dir, "query.bin256", &nq);
    spar_ann *ix = NULL;
    spar_ivf_opts o;
    spar_ivf_opts_default(&o);
    o.nlist = nlist;
    o.n_threads = 1;
    double t0 = now();
    if (spar_ann_binary_ivf_build(B, n, 256, &o, &ix) != SPAR_OK) exit(1);
    double build = now() - t0;
    printf("{\"engine\":\"spar\",\"op\":\"build\",\"index\":\"binary-ivf\",\"data\":\"%s\",\"n\":%u,"
           "\"nlist\":%u,\"threads\":1,\"seconds\":%.3f}\n", dir, n, nlist, build);
    spar_ann_hit *g = hamming_top10(B, n, Q, nq), *h = malloc(sizeof(spar_ann_hit) * nq * 10);
    size_t *nh = malloc(sizeof(size_t) * nq);
    spar_ann_scratch *s = NULL;
    if (spar_ann_scratch_create(ix, &s) != SPAR_OK) exit(1);
    for (char *tok = strtok(nps, ","); tok; tok = strtok(NULL, ",")) {
        spar_ann_params prm = {0, (uint32_t)atoi(tok), 0};
        double best = search_each_best_of_3(ix, s, Q, 32, nq, &prm, h, nh);
        printf("{\"engine\":\"spar\",\"op\":\"search\",\"index\":\"binary-ivf\",\"data\":\"%s\",\"nprobe\":%u,"
               "\"recall10\":%.4f,\"qps_1t\":%.1f}\n", dir, prm.nprobe, tie_recall10(h, nh, g, nq), nq / best);
        fflush(stdout);
    }
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
    free(B), free(Q), free(g), free(h), free(nh);
}

static void bench_binhnsw(const char *dir, uint32_t M, uint32_t efc, char *efs) {
    uint32_t n, nq;
    uint8_t *B = read_codes(dir, "base.bin256", &n), *Q = read_codes(dir, "query.bin256", &nq);
    spar_ann *ix = NULL;
    spar_hnsw_opts o;
    spar_hnsw_opts_default(&o);
    o.M = M;
    o.ef_construction = efc;
    o.n_threads = 1;
    double t0 = now(), build = -1;
    char p[4096]; /* ANN_CACHE=1: reuse DIR/binhnsw-M-EFC.ann (search-only iterations; build reported as -1) */
    const char *cache = getenv("ANN_CACHE");
    snprintf(p, sizeof p, "%s/binhnsw-%u-%u.ann", dir, M, efc);
    if (!(cache && *cache == '1' && spar_ann_load(p, &ix, NULL) == SPAR_OK)) {
        if (spar_ann_binary_hnsw_build(B, n, 256, &o, &ix) != SPAR_OK) exit(1);
        build = now() - t0;
        if (cache && *cache == '1' && spar_ann_save(ix, p, NULL) != SPAR_OK) exit(1);
    }
    printf("{\"engine\":\"spar\",\"op\":\"build\",\"index\":\"binary-hnsw\",\"data\":\"%s\",\"n\":%u,\"threads\":1,"
           "\"seconds\":%.3f}\n", dir, n, build);
    spar_ann_hit *g = hamming_top10(B, n, Q, nq), *h = malloc(sizeof(spar_ann_hit) * nq * 10);
    size_t *nh = malloc(sizeof(size_t) * nq);
    spar_ann_scratch *s = NULL;
    if (spar_ann_scratch_create(ix, &s) != SPAR_OK) exit(1);
    for (char *tok = strtok(efs, ","); tok; tok = strtok(NULL, ",")) {
        spar_ann_params prm = {(uint32_t)atoi(tok), 0, 0};
        double best = search_each_best_of_3(ix, s, Q, 32, nq, &prm, h, nh);
        printf("{\"engine\":\"spar\",\"op\":\"search\",\"index\":\"binary-hnsw\",\"data\":\"%s\",\"ef\":%u,"
               "\"recall10\":%.4f,\"qps_1t\":%.1f}\n", dir, prm.ef, tie_recall10(h, nh, g, nq), nq / best);
        fflush(stdout);
    }
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
    free(B), free(Q), free(g), free(h), free(nh);
}

int main(int argc, char **argv) {
    if (argc >= 7 && strcmp(argv[1], "gen") == 0) {
        gen(argv[2], argv[3], (uint32_t)atoi(argv[4]), (uint32_t)atoi(argv[5]), strtoull(argv[6], NULL, 10));
    } else if (argc >= 7 && strcmp(argv[1], "hnsw") == 0) {
        int sq8 = argc >= 9 && strcmp(argv[7], "sq8") == 0;
        bench_hnsw(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]), atoi(argv[5]), argv[6], sq8,
                   sq8 ? (uint32_t)atoi(argv[8]) : 0);
    } else if (argc >= 6 && strcmp(argv[1], "binhnsw") == 0) {
        bench_binhnsw(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]), argv[5]);
    } else if (argc >= 8 && strcmp(argv[1], "ivf") == 0) {
        bench_ivf(argv[2], (uint32_t)atoi(argv[3]), argv[4], (uint32_t)atoi(argv[5]), (uint32_t)atoi(argv[6]), argv[7]);
    } else if (argc >= 5 && strcmp(argv[1], "binivf") == 0) {
        bench_binivf(argv[2], (uint32_t)atoi(argv[3]), argv[4]);
    } else if (argc >= 3 && strcmp(argv[1], "bin") == 0) {
        bench_bin(argv[2]);
    } else {
        fprintf(stderr, "usage: bench_ann gen DIR mid|hard N NQ SEED | hnsw DIR M EFC THREADS ef,ef,... | bin DIR |\n"
                        "       ivf DIR NLIST flat|sq8|pq PQ_M RERANK np,np,... | binivf DIR NLIST np,np,...\n");
        return 2;
    }
    return 0;
}
