/* sparse_bench_util.h — helpers shared by the learned-sparse benchmarks (bench_sparse, bench_sparse_exact,
 * bench_impact): the SPCSR001 corpus reader (format: bench/bench_sparse_gen.c) and wall / thread-CPU clocks with a
 * percentile. Header-only; bench code, not library code. */
#ifndef SPAR_BENCH_SPARSE_UTIL_H
#define SPAR_BENCH_SPARSE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spar/spar_sparse.h"

static inline double sb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* This thread's CPU time: not inflated by preemption on a loaded machine. */
static inline double sb_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int sb_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p-th percentile of v[0..n) (sorts v in place). */
static inline double sb_pct(double *v, size_t n, double p) {
    qsort(v, n, sizeof *v, sb_cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Read a SPCSR001 file (magic, u32 n_rows, u32 dim, u64 nnz, u64 offsets[n+1], u16 ids[nnz], f32 weights[nnz])
 * into m (caller frees offsets/ids/weights). 0 on success; 1 with a message naming the file otherwise. */
static inline int sb_read_csr(const char *path, spar_sparse_csr *m) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    char magic[8];
    uint32_t n, dim;
    uint64_t nnz;
    memset(m, 0, sizeof *m);
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "SPCSR001", 8) || fread(&n, 4, 1, f) != 1 ||
        fread(&dim, 4, 1, f) != 1 || fread(&nnz, 8, 1, f) != 1) {
        fprintf(stderr, "%s: not a SPCSR001 file\n", path);
        fclose(f);
        return 1;
    }
    m->n_rows = n;
    m->dim = dim;
    m->offsets = malloc(((size_t)n + 1) * 8);
    uint16_t *ids16 = malloc(nnz * 2 + 2);
    m->ids = malloc(nnz * 4 + 4);
    m->weights = malloc(nnz * 4 + 4);
    int bad = !m->offsets || !ids16 || !m->ids || !m->weights ||
              fread(m->offsets, 8, (size_t)n + 1, f) != (size_t)n + 1 || fread(ids16, 2, nnz, f) != nnz ||
              fread(m->weights, 4, nnz, f) != nnz || m->offsets[n] != nnz;
    fclose(f);
    if (!bad)
        for (uint64_t i = 0; i < nnz; i++) m->ids[i] = ids16[i];
    free(ids16);
    if (bad) fprintf(stderr, "%s: truncated\n", path);
    return bad;
}

#endif
