/* bench_meta.c — cost of the external id <-> docid maps of an index (meta.lmdb) through the public API:
 * spar_index_doc_id for random docids, spar_index_lookup_id for random present ids and for absent ids
 * (a present id with "#" appended). Every lookup is checked (lookup(doc_id(d)) == d).
 * Usage: bench_meta INDEX_DIR [n_lookups=1000] [rounds=21] [seed=1]
 * Prints one JSON line: median ns per call over the rounds (process CPU time: the machines are shared). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spar/spar.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_meta INDEX_DIR [n_lookups] [rounds] [seed]\n");
        return 2;
    }
    const int n = argc > 2 ? atoi(argv[2]) : 1000, rounds = argc > 3 ? atoi(argv[3]) : 21;
    rng_state = 0x9E3779B97F4A7C15ull ^ (argc > 4 ? strtoull(argv[4], NULL, 10) : 1);
    if (n <= 0 || rounds <= 0) return 2;
    spar_index *ix = NULL;
    spar_diag d;
    double t0 = cpu_now();
    if (spar_index_open(argv[1], &ix, &d) != SPAR_OK) {
        fprintf(stderr, "bench_meta: %s\n", d.msg);
        return 1;
    }
    const double open_s = cpu_now() - t0;
    spar_index_info info;
    spar_index_get_info(ix, &info);
    if (info.n_docs == 0) return 1;
    uint32_t *docids = malloc((size_t)n * sizeof *docids);
    char(*ids)[520] = malloc((size_t)n * sizeof *ids);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    double *t_doc = malloc((size_t)rounds * sizeof(double)), *t_hit = malloc((size_t)rounds * sizeof(double)),
           *t_miss = malloc((size_t)rounds * sizeof(double));
    if (!docids || !ids || !lens || !t_doc || !t_hit || !t_miss) return 1;
    for (int i = 0; i < n; i++) {
        docids[i] = (uint32_t)(rnd() % info.n_docs);
        if (spar_index_doc_id(ix, docids[i], ids[i], sizeof ids[i] - 2, &lens[i]) != SPAR_OK) return 1;
    }
    unsigned long errors = 0, sink = 0;
    char buf[520];
    for (int r = 0; r < rounds; r++) {
        double a = cpu_now();
        for (int i = 0; i < n; i++) {
            size_t len = 0;
            if (spar_index_doc_id(ix, docids[i], buf, sizeof buf, &len) != SPAR_OK || len != lens[i]) errors++;
            sink += (unsigned char)buf[0];
        }
        double b = cpu_now();
        for (int i = 0; i < n; i++) {
            uint32_t got = 0;
            if (spar_index_lookup_id(ix, ids[i], lens[i], &got) != SPAR_OK || got != docids[i]) errors++;
        }
        double c = cpu_now();
        for (int i = 0; i < n; i++) {
            ids[i][lens[i]] = '#';
            uint32_t got = 0;
            if (spar_index_lookup_id(ix, ids[i], lens[i] + 1, &got) != SPAR_E_NOT_FOUND) errors++;
            ids[i][lens[i]] = '\0';
        }
        double e = cpu_now();
        t_doc[r] = (b - a) * 1e9 / n;
        t_hit[r] = (c - b) * 1e9 / n;
        t_miss[r] = (e - c) * 1e9 / n;
    }
    printf("{\"index\":\"%s\",\"n_docs\":%llu,\"lookups\":%d,\"rounds\":%d,\"open_ms\":%.1f,"
           "\"doc_id_ns\":%.0f,\"lookup_hit_ns\":%.0f,\"lookup_miss_ns\":%.0f,\"errors\":%lu,\"sink\":%lu}\n",
           argv[1], (unsigned long long)info.n_docs, n, rounds, open_s * 1e3, median(t_doc, rounds),
           median(t_hit, rounds), median(t_miss, rounds), errors, sink % 10);
    spar_index_close(ix);
    free(docids);
    free(ids);
    free(lens);
    free(t_doc);
    free(t_hit);
    free(t_miss);
    return errors != 0;
}
