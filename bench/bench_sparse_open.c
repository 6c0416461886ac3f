/* bench_sparse_open.c — how long a learned-sparse index directory takes to open and how much memory it holds
 * (what a search service pays on restart), and that the opened index answers like the one that was built.
 *
 *   bench_sparse_open --corpus F.csr --write DIR [--weight_bits 32|8] [--approx 0|1] [--bmp_block 8]
 *       build from a SPCSR001 corpus (bench_sparse_gen) and write an index directory (docids = row numbers)
 *   bench_sparse_open --open DIR [--verify 0|1] [--corpus F.csr --queries 100] [--k 10]
 *       open it (spar_sparse_dir_open, or spar_sparse_dir_open_flags(SPAR_SPARSE_VERIFY_ALL) with --verify
 * 1), print wall and process-CPU seconds of the open, VmRSS (and its anonymous / file-backed parts) and VmHWM
 * after it, then run the first `queries` corpus rows as queries with every algorithm and print a hash of each
 * algorithm's hits (equal hashes = equal docids and bit-identical scores) and the RSS after searching.
 *   bench_sparse_open --load FILE.idx [--verify 0|1] ...   the same for a bare index file
 *       (spar_sparse_index_load_mapped, or spar_sparse_index_load with --verify 1)
 *   bench_sparse_open --resave IN.idx --write OUT.idx       load any format, save as format 2
 * Run each open in a fresh process so that the peak RSS is the open's own. Public API only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/sparse_bench_util.h"
#include "spar/spar_sparse.h"

static double proc_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* VmRSS / VmHWM of this process in MiB (-1 if /proc is unavailable). */
static double proc_mib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    double v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtod(line + kl + 1, NULL) / 1024.0;
            break;
        }
    fclose(f);
    return v;
}

/* The first n rows of a SPCSR001 file as a CSR (only those bytes are read). 0 on success. */
static int read_rows(const char *path, uint32_t n, spar_sparse_csr *m) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    char magic[8];
    uint32_t rows, dim;
    uint64_t nnz;
    int bad = fread(magic, 1, 8, f) != 8 || memcmp(magic, "SPCSR001", 8) || fread(&rows, 4, 1, f) != 1 ||
              fread(&dim, 4, 1, f) != 1 || fread(&nnz, 8, 1, f) != 1;
    if (!bad) {
        if (n > rows) n = rows;
        m->n_rows = n;
        m->dim = dim;
        m->offsets = malloc(((size_t)n + 1) * 8);
        bad = m->offsets == NULL || fread(m->offsets, 8, (size_t)n + 1, f) != (size_t)n + 1;
    }
    if (!bad) {
        uint64_t e = m->offsets[n];
        uint16_t *ids16 = malloc(e * 2 + 2);
        m->ids = malloc(e * 4 + 4);
        m->weights = malloc(e * 4 + 4);
        long ids_at = 24 + ((long)rows + 1) * 8, w_at = ids_at + (long)nnz * 2;
        bad = !ids16 || !m->ids || !m->weights || fseek(f, ids_at, SEEK_SET) != 0 ||
              fread(ids16, 2, e, f) != e || fseek(f, w_at, SEEK_SET) != 0 || fread(m->weights, 4, e, f) != e;
        for (uint64_t i = 0; !bad && i < e; i++)
            m->ids[i] = ids16[i];
        free(ids16);
    }
    fclose(f);
    if (bad) fprintf(stderr, "%s: not a readable SPCSR001 file\n", path);
    return bad;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    return (h ^ v) * 0x100000001b3ull + (h >> 29);
}

static int do_write(const char *corpus, const char *dir, uint32_t bits, int approx, uint32_t bmp_block) {
    spar_sparse_csr m;
    if (sb_read_csr(corpus, &m)) return 1;
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.weight_bits = bits;
    o.build_approx = approx;
    o.bmp_block = bmp_block;
    spar_sparse_index *ix = NULL;
    spar_diag d = {{0}};
    double t0 = sb_now();
    spar_status st = spar_sparse_index_build(&m, &o, &ix, &d);
    double t1 = sb_now();
    spar_sparse_csr_free(&m);
    if (st != SPAR_OK) {
        fprintf(stderr, "build: %s: %s\n", spar_status_str(st), d.msg);
        return 1;
    }
    st = spar_sparse_dir_write(dir, ix, NULL, NULL, 0, 1, &d);
    double t2 = sb_now();
    spar_sparse_index_free(ix);
    if (st != SPAR_OK) {
        fprintf(stderr, "write: %s: %s\n", spar_status_str(st), d.msg);
        return 1;
    }
    printf("{\"setting\":\"write\",\"dir\":\"%s\",\"weight_bits\":%u,\"approx\":%d,\"build_s\":%.2f,\"write_"
           "s\":%.2f}\n",
           dir, bits, approx, t1 - t0, t2 - t1);
    return 0;
}

/* file != 0: dir is a bare index file (spar_sparse_index_load_mapped, or spar_sparse_index_load with verify).
 */
static int do_open(const char *dir, int file, int verify, const char *corpus, uint32_t n_q, uint32_t k,
                   int only) {
    spar_sparse_dir *sd = NULL;
    spar_sparse_index *fix = NULL;
    spar_diag d = {{0}};
    double rss0 = proc_mib("VmRSS");
    double w0 = sb_now(), c0 = proc_cpu_now();
    spar_status st;
    if (file)
        st = verify ? spar_sparse_index_load(dir, &fix, &d) : spar_sparse_index_load_mapped(dir, &fix, &d);
    else
        st = verify ? spar_sparse_dir_open_flags(dir, SPAR_SPARSE_VERIFY_ALL, &sd, &d)
                    : spar_sparse_dir_open(dir, &sd, &d);
    double w1 = sb_now(), c1 = proc_cpu_now();
    if (st != SPAR_OK) {
        fprintf(stderr, "open: %s: %s\n", spar_status_str(st), d.msg);
        return 1;
    }
    double rss_open = proc_mib("VmRSS"), hwm_open = proc_mib("VmHWM");
    printf("{\"setting\":\"open\",\"dir\":\"%s\",\"verify\":%d,\"open_wall_s\":%.3f,\"open_cpu_s\":%.3f,"
           "\"rss_before_mib\":%.1f,\"rss_open_mib\":%.1f,\"anon_mib\":%.1f,\"file_mib\":%.1f,"
           "\"peak_rss_open_mib\":%.1f}\n",
           dir, verify, w1 - w0, c1 - c0, rss0, rss_open, proc_mib("RssAnon"), proc_mib("RssFile"), hwm_open);
    if (corpus != NULL && n_q > 0) {
        const spar_sparse_index *ix = file ? fix : spar_sparse_dir_index(sd);
        spar_sparse_csr q;
        if (read_rows(corpus, n_q, &q)) {
            spar_sparse_dir_close(sd);
            spar_sparse_index_free(fix);
            return 1;
        }
        spar_sparse_searcher *s = NULL;
        spar_hit *h = malloc(sizeof *h * k);
        double *lat = malloc(sizeof *lat * (q.n_rows ? q.n_rows : 1));
        if (h == NULL || lat == NULL || spar_sparse_searcher_create(ix, &s) != SPAR_OK) return 1;
        static const char *const names[] = {"exhaustive", "bmp", "maxscore", "bmw", "approx"};
        for (int a = 0; a < 5; a++) {
            if (only >= 0 && a != only) continue;
            uint64_t hash = 1469598103934665603ull;
            int ok = 1;
            for (uint32_t i = 0; i < q.n_rows && ok; i++) {
                spar_sparse_vec v = spar_sparse_csr_row(&q, i);
                size_t n = 0;
                double t = sb_cpu_now();
                spar_status rs = a == 4
                                     ? spar_sparse_search_approx(s, &v, k, NULL, h, &n)
                                     : spar_sparse_search_exact(s, &v, k, (spar_sparse_exact_algo)a, h, &n);
                lat[i] = (sb_cpu_now() - t) * 1e3;
                if (rs == SPAR_E_UNSUPPORTED) {
                    ok = 0;
                    break;
                }
                if (rs != SPAR_OK) {
                    fprintf(stderr, "search: %s\n", spar_status_str(rs));
                    return 1;
                }
                for (size_t j = 0; j < n; j++) {
                    uint32_t bits;
                    memcpy(&bits, &h[j].score, 4);
                    hash = mix(mix(hash, h[j].docid), bits);
                }
            }
            if (!ok) continue;
            /* the second half of the queries separately: the first ones also pay the page faults of a lazily
             * opened map (first touch), the later ones show the steady state */
            uint32_t h2 = q.n_rows / 2;
            double second = q.n_rows - h2 ? sb_pct(lat + h2, q.n_rows - h2, 0.5) : 0.0;
            printf(
                "{\"setting\":\"search\",\"algo\":\"%s\",\"queries\":%u,\"k\":%u,\"hits_hash\":\"%016llx\","
                "\"cpu_ms_median\":%.3f,\"cpu_ms_median_second_half\":%.3f}\n",
                names[a], q.n_rows, k, (unsigned long long)hash, q.n_rows ? sb_pct(lat, q.n_rows, 0.5) : 0.0,
                second);
        }
        printf("{\"setting\":\"after_search\",\"rss_mib\":%.1f,\"anon_mib\":%.1f,\"file_mib\":%.1f,"
               "\"peak_rss_mib\":%.1f}\n",
               proc_mib("VmRSS"), proc_mib("RssAnon"), proc_mib("RssFile"), proc_mib("VmHWM"));
        spar_sparse_searcher_free(s);
        spar_sparse_csr_free(&q);
        free(h);
        free(lat);
    }
    spar_sparse_dir_close(sd);
    spar_sparse_index_free(fix);
    return 0;
}

/* Load a saved index file (any format) and save it again (format 2). */
static int do_resave(const char *in, const char *out) {
    spar_sparse_index *ix = NULL;
    spar_diag d = {{0}};
    double t0 = sb_now();
    spar_status st = spar_sparse_index_load_mapped(in, &ix, &d);
    double t1 = sb_now();
    if (st == SPAR_OK) st = spar_sparse_index_save(ix, out, &d);
    double t2 = sb_now();
    spar_sparse_index_free(ix);
    if (st != SPAR_OK) {
        fprintf(stderr, "resave: %s: %s\n", spar_status_str(st), d.msg);
        return 1;
    }
    printf("{\"setting\":\"resave\",\"in\":\"%s\",\"out\":\"%s\",\"load_s\":%.2f,\"save_s\":%.2f}\n", in, out,
           t1 - t0, t2 - t1);
    return 0;
}

int main(int argc, char **argv) {
    const char *corpus = NULL, *write = NULL, *open = NULL, *load = NULL, *resave = NULL;
    uint32_t bits = 32, bmp_block = 8, n_q = 0, k = 10;
    int approx = 0, verify = 0, only = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--corpus"))
            corpus = v;
        else if (!strcmp(a, "--write"))
            write = v;
        else if (!strcmp(a, "--open"))
            open = v;
        else if (!strcmp(a, "--load"))
            load = v;
        else if (!strcmp(a, "--resave"))
            resave = v;
        else if (!strcmp(a, "--weight_bits"))
            bits = (uint32_t)atoi(v);
        else if (!strcmp(a, "--approx"))
            approx = atoi(v);
        else if (!strcmp(a, "--bmp_block"))
            bmp_block = (uint32_t)atoi(v);
        else if (!strcmp(a, "--verify"))
            verify = atoi(v);
        else if (!strcmp(a, "--queries"))
            n_q = (uint32_t)atoi(v);
        else if (!strcmp(a, "--k"))
            k = (uint32_t)atoi(v);
        else if (!strcmp(a, "--algo")) /* 0 exhaustive, 1 bmp, 2 maxscore, 3 bmw, 4 approx; default all */
            only = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (write && corpus) return do_write(corpus, write, bits, approx, bmp_block);
    if (resave && write) return do_resave(resave, write);
    if (open || load) return do_open(open ? open : load, open == NULL, verify, corpus, n_q, k ? k : 10, only);
    fprintf(stderr,
            "usage: %s --corpus F.csr --write DIR [--weight_bits 32|8] [--approx 0|1]\n"
            "       %s --open DIR | --load FILE.idx [--verify 0|1] [--corpus F.csr --queries N] [--k 10]\n"
            "       %s --resave IN.idx --write OUT.idx\n",
            argv[0], argv[0], argv[0]);
    return 2;
}
