/* bench_postings.c — codec micro-benchmark for index/postings.c: decode speed of 128-posting blocks
 * (raw block decode and the full cursor loop), next_geq skipping, and bits per posting.
 * Usage: bench_postings [n_postings] [avg_gap]   Prints one JSON line. Seeded, so runs are comparable
 * on the same machine. Times are process CPU time (the dev machines are shared: wall time is noise). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "common/bitpack.h"
#include "index/postings.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 10000000u;
    uint32_t avg_gap = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 8u;
    if (n == 0 || avg_gap == 0 || (uint64_t)n * avg_gap * 2 >= UINT32_MAX) {
        fprintf(stderr, "bench_postings: n * avg_gap * 2 must be < 2^32\n");
        return 2;
    }
    uint32_t *docs = malloc((size_t)n * 4), *tfs = malloc((size_t)n * 4);
    if (docs == NULL || tfs == NULL) return 1;
    uint64_t d = 0;
    for (uint32_t i = 0; i < n; i++) {
        d += 1 + rnd() % (2 * avg_gap - 1); /* uniform gaps, mean avg_gap */
        docs[i] = (uint32_t)d;
        uint64_t r = rnd() % 100; /* tf: geometric-ish, mostly 1 */
        tfs[i] = r < 60 ? 1 : r < 85 ? 2 : r < 95 ? 3 : 4 + (uint32_t)(rnd() % 20);
    }
    spar_buf buf = {0};
    spar_term_info ti;
    double t0 = cpu_now();
    if (spar_postings_encode(docs, tfs, n, NULL, 1.2f, 0.75f, 100.0f, &buf, &ti) != SPAR_OK) return 1;
    double t_enc = cpu_now() - t0;

    spar_cursor c;
    uint64_t sum = 0;
    const int reps = 10;
    /* full cursor loop: next() over every posting, docids only */
    t0 = cpu_now();
    for (int r = 0; r < reps; r++) {
        spar_cursor_open(&c, buf.data, &ti);
        while (c.docid != SPAR_DOCID_END) {
            sum += c.docid;
            spar_cursor_next(&c);
        }
    }
    double t_next = (cpu_now() - t0) / reps;
    /* cursor loop with tfs */
    t0 = cpu_now();
    for (int r = 0; r < reps; r++) {
        spar_cursor_open(&c, buf.data, &ti);
        while (c.docid != SPAR_DOCID_END) {
            sum += spar_cursor_freq(&c);
            spar_cursor_next(&c);
        }
    }
    double t_next_tf = (cpu_now() - t0) / reps;
    /* raw block decode: unpack + prefix sum of every full block's docids (the decode kernel itself) */
    t0 = cpu_now();
    for (int r = 0; r < reps; r++) {
        spar_cursor_open(&c, buf.data, &ti);
        while (c.docid != SPAR_DOCID_END) {
            sum += c.docs[c.n_in_block - 1];
            spar_cursor_next_geq(&c, c.docs[c.n_in_block - 1] + 1); /* jump to the next block: decode only */
        }
    }
    double t_block = (cpu_now() - t0) / reps;
    /* next_geq with targets spread every ~1000 postings */
    uint32_t n_jumps = 0;
    t0 = cpu_now();
    spar_cursor_open(&c, buf.data, &ti);
    for (uint32_t i = 0; i < n; i += 1000) {
        spar_cursor_next_geq(&c, docs[i]);
        sum += c.docid;
        n_jumps++;
    }
    double t_geq = cpu_now() - t0;
    printf("{\"bench\":\"postings\",\"kernel\":\"%s\",\"n_postings\":%u,\"avg_gap\":%u,\"bytes\":%zu,"
           "\"bits_per_posting\":%.3f,\"encode_mpostings_s\":%.1f,\"cursor_next_mpostings_s\":%.1f,"
           "\"cursor_next_freq_mpostings_s\":%.1f,\"block_decode_mpostings_s\":%.1f,\"next_geq_ns\":%.1f,"
           "\"checksum\":%llu}\n",
           spar_bitpack_kernel(), n, avg_gap, buf.len, 8.0 * (double)buf.len / n, n / t_enc / 1e6,
           n / t_next / 1e6, n / t_next_tf / 1e6, n / t_block / 1e6, t_geq / n_jumps * 1e9,
           (unsigned long long)(sum & 0xffff));
    spar_buf_free(&buf);
    free(docs);
    free(tfs);
    return 0;
}
