/* bench_postings.c — codec micro-benchmark for index/postings.c: decode speed of 128-posting blocks
 * (raw block decode and the full cursor loop), next_geq skipping, and bits per posting.
 * Usage: bench_postings [n_postings] [avg_gap]   Prints one JSON line. Seeded, so runs are comparable
 * on the same machine.
 *   bench_postings --gen-text N_DOCS FILE   writes a seeded Zipf(1.07) corpus, one whitespace-tokenised
 *                                           document per line (to index the same text with Lucene)
 *   bench_postings --text FILE OUT.post     builds one segment from such a file (k1 0.9, b 0.4) and
 *                                           prints its section sizes as one JSON line Times are process CPU time (the dev machines are shared: wall time is noise). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "common/bitpack.h"
#include "index/postings.h"
#include "index/segment.h"

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

/* ---- text mode: Zipf corpus generator and a tiny in-memory inverter ---- */

static int gen_text(uint32_t n_docs, const char *path) {
    const uint32_t V = 200000;
    double *cdf = malloc(V * sizeof *cdf), acc = 0;
    if (cdf == NULL) return 1;
    for (uint32_t i = 0; i < V; i++) cdf[i] = (acc += 1.0 / pow(i + 1.0, 1.07));
    FILE *f = fopen(path, "w");
    if (f == NULL) return 1;
    for (uint32_t d = 0; d < n_docs; d++) {
        uint32_t len = 20 + (uint32_t)(rnd() % 281);
        for (uint32_t k = 0; k < len; k++) {
            double u = (double)(rnd() >> 11) / 9007199254740992.0 * acc;
            uint32_t lo = 0, hi = V - 1;
            while (lo < hi) {
                uint32_t m = (lo + hi) / 2;
                if (cdf[m] < u) lo = m + 1;
                else hi = m;
            }
            fprintf(f, k ? " w%x" : "w%x", lo);
        }
        fputc('\n', f);
    }
    fclose(f);
    free(cdf);
    return 0;
}

typedef struct term_slot {
    char *s;
    uint32_t len, n, cap, last_doc;
    uint32_t *docs, *tfs;
} term_slot;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static int slot_cmp(const void *a, const void *b) {
    const term_slot *x = *(term_slot *const *)a, *y = *(term_slot *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int text_segment(const char *in, const char *out) {
    FILE *f = fopen(in, "r");
    if (f == NULL) return 1;
    size_t cap = 1u << 22, n_terms = 0;
    term_slot *tab = calloc(cap, sizeof *tab);
    uint32_t *doclens = NULL, n_docs = 0, dl_cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    uint64_t n_tokens = 0;
    while (getline(&line, &line_cap, f) > 0) {
        if (n_docs == dl_cap) doclens = realloc(doclens, (dl_cap = dl_cap ? 2 * dl_cap : 1024) * 4);
        uint32_t dl = 0;
        for (char *tok = strtok(line, " \n"); tok; tok = strtok(NULL, " \n")) {
            size_t len = strlen(tok);
            uint64_t h = hash_bytes(tok, len) & (cap - 1);
            while (tab[h].s && (tab[h].len != len || memcmp(tab[h].s, tok, len))) h = (h + 1) & (cap - 1);
            term_slot *t = &tab[h];
            if (t->s == NULL) {
                t->s = malloc(len);
                memcpy(t->s, tok, len);
                t->len = (uint32_t)len;
                t->last_doc = UINT32_MAX;
                if (++n_terms > cap / 2) return 3; /* table too small for this corpus */
            }
            if (t->last_doc == n_docs) {
                t->tfs[t->n - 1]++;
            } else {
                if (t->n == t->cap) {
                    t->cap = t->cap ? 2 * t->cap : 4;
                    t->docs = realloc(t->docs, t->cap * 4);
                    t->tfs = realloc(t->tfs, t->cap * 4);
                }
                t->docs[t->n] = n_docs;
                t->tfs[t->n++] = 1;
                t->last_doc = n_docs;
            }
            dl++;
        }
        n_tokens += dl;
        doclens[n_docs++] = dl;
    }
    fclose(f);
    free(line);
    term_slot **order = malloc(n_terms * sizeof *order);
    size_t k = 0;
    for (size_t i = 0; i < cap; i++)
        if (tab[i].s) order[k++] = &tab[i];
    qsort(order, n_terms, sizeof *order, slot_cmp);
    spar_segment_writer *w;
    spar_diag diag;
    double t0 = spar_now();
    if (spar_segment_writer_open(out, n_docs, doclens, 0.9f, 0.4f, &w, &diag) != SPAR_OK) return 4;
    uint64_t n_postings = 0, one_block = 0;
    for (size_t i = 0; i < n_terms; i++) {
        term_slot *t = order[i];
        if (spar_segment_writer_add(w, t->s, t->len, t->docs, t->tfs, t->n) != SPAR_OK) return 5;
        n_postings += t->n;
        one_block += t->n <= SPAR_BLOCK_SIZE;
    }
    if (spar_segment_writer_commit(w, &diag) != SPAR_OK) return 6;
    double t_write = spar_now() - t0;
    t0 = spar_now();
    spar_segment *s;
    if (spar_segment_open(out, &s, &diag) != SPAR_OK) {
        fprintf(stderr, "%s\n", diag.msg);
        return 7;
    }
    double t_open = spar_now() - t0;
    /* section sizes from the offsets a reader sees: norms, postings, dictionary+index+footer */
    FILE *sf = fopen(out, "rb");
    fseek(sf, 0, SEEK_END);
    long file_bytes = ftell(sf);
    fclose(sf);
    uint64_t postings_bytes = 0;
    for (uint64_t i = 0; i < spar_segment_n_terms(s); i++) {
        char name[1024];
        size_t len;
        spar_term_info ti;
        if (spar_segment_term_at(s, i, name, sizeof name, &len, &ti) == SPAR_OK) postings_bytes += ti.bytes;
    }
    const uint64_t doclen_bytes = (uint64_t)n_docs; /* one norm byte per document */
    printf("{\"bench\":\"postings_text\",\"file\":\"%s\",\"n_docs\":%u,\"n_terms\":%zu,\"n_tokens\":%llu,"
           "\"n_postings\":%llu,\"one_block_terms\":%llu,\"file_bytes\":%ld,\"doclen_bytes\":%llu,"
           "\"postings_bytes\":%llu,\"bits_per_posting\":%.3f,\"dict_and_rest_bytes\":%llu,"
           "\"write_s\":%.3f,\"open_verify_s\":%.3f}\n",
           in, n_docs, n_terms, (unsigned long long)n_tokens, (unsigned long long)n_postings,
           (unsigned long long)one_block, file_bytes, (unsigned long long)doclen_bytes,
           (unsigned long long)postings_bytes, 8.0 * (double)postings_bytes / (double)n_postings,
           (unsigned long long)((uint64_t)file_bytes - doclen_bytes - postings_bytes), t_write, t_open);
    spar_segment_close(s);
    for (size_t i = 0; i < cap; i++) {
        free(tab[i].s);
        free(tab[i].docs);
        free(tab[i].tfs);
    }
    free(tab);
    free(order);
    free(doclens);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--gen-text") == 0) return gen_text((uint32_t)strtoul(argv[2], NULL, 10), argv[3]);
    if (argc == 4 && strcmp(argv[1], "--text") == 0) return text_segment(argv[2], argv[3]);
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
    /* raw unpack kernels on 4096 packed blocks (L2-resident) of width 7, values per second */
    double k_rate[3];
    {
        enum { NB = 4096 };
        uint8_t *pk = malloc((size_t)NB * 16 * 7);
        uint32_t vals[128], outv[128];
        for (int i = 0; i < NB; i++) {
            for (int j = 0; j < 128; j++) vals[j] = (uint32_t)(rnd() & 127);
            spar_bitpack_pack128(vals, 7, pk + (size_t)i * 16 * 7);
        }
        void (*fns[3])(const uint8_t *, unsigned, uint32_t *) = {spar_bitpack_unpack128_scalar,
                                                                 spar_bitpack_unpack128_sse2,
                                                                 spar_bitpack_unpack128_avx2};
        for (int f = 0; f < 3; f++) {
            double tk = cpu_now();
            for (int r = 0; r < 200; r++)
                for (int i = 0; i < NB; i++) {
                    fns[f](pk + (size_t)i * 16 * 7, 7, outv);
                    sum += outv[i & 127];
                }
            k_rate[f] = 200.0 * NB * 128 / (cpu_now() - tk);
        }
        free(pk);
    }
    printf("{\"bench\":\"postings\",\"kernel\":\"%s\",\"unpack_w7_gvalues_s\":{\"scalar\":%.2f,\"sse2\":%.2f,"
           "\"avx2\":%.2f},",
           spar_bitpack_kernel(), k_rate[0] / 1e9, k_rate[1] / 1e9, spar_bitpack_has_avx2() ? k_rate[2] / 1e9 : 0.0);
    printf("\"n_postings\":%u,\"avg_gap\":%u,\"bytes\":%zu,"
           "\"bits_per_posting\":%.3f,\"encode_mpostings_s\":%.1f,\"cursor_next_mpostings_s\":%.1f,"
           "\"cursor_next_freq_mpostings_s\":%.1f,\"block_decode_mpostings_s\":%.1f,\"next_geq_ns\":%.1f,"
           "\"checksum\":%llu}\n",
           n, avg_gap, buf.len, 8.0 * (double)buf.len / n, n / t_enc / 1e6,
           n / t_next / 1e6, n / t_next_tf / 1e6, n / t_block / 1e6, t_geq / n_jumps * 1e9,
           (unsigned long long)(sum & 0xffff));
    spar_buf_free(&buf);
    free(docs);
    free(tfs);
    return 0;
}
