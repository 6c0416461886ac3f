/* bench_query.c — BM25 search latency and throughput of spar through the public API only.
 *
 *   bench_query --index DIR --queries FILE [--k 10,1000] [--threads T] [--algo default|all|maxscore,bmw,...]
 *               [--warmup 3] [--reps 5] [--slow N]
 *
 * --algo defaults to "all" (exhaustive, maxscore, bmw) without --threads, and to "default" with it (the
 * mode bench/run_bm25.sh uses, which expects one line per k).
 * FILE: BEIR queries (JSON lines with "text") or TSV (id<TAB>text). For each algorithm and k: `warmup`
 * untimed passes over all queries, then `reps` timed passes. With T = 1 (the default, besides batch) one
 * searcher runs the queries in order; with T > 1, T threads each take queries i = t mod T with their own
 * searcher (like bench/lucene's LuceneBench). Per-query latencies of all timed passes give p50/p99/mean;
 * qps is the median over passes of queries / pass wall time; cpu_mean_us is the median over passes of
 * the searching threads' CPU time per query (less sensitive to other load on a shared machine). Without --threads, a second line reports
 * spar_search_batch throughput on 2 threads. One JSON line per configuration on stdout. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spar/spar.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void) { /* this thread's CPU time: robust to other processes on a shared machine */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *msg) {
    fprintf(stderr, "bench_query: %s\n", msg);
    exit(2);
}

/* ---- queries ---- */
typedef struct qset {
    char **text;
    size_t n, cap;
} qset;

static void qset_add(qset *q, const char *s, size_t len) {
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 256;
        q->text = realloc(q->text, q->cap * sizeof *q->text);
        if (q->text == NULL) die("out of memory");
    }
    char *t = malloc(len + 1);
    if (t == NULL) die("out of memory");
    memcpy(t, s, len);
    t[len] = 0;
    q->text[q->n++] = t;
}

static void read_queries(const char *path, qset *q) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench_query: cannot open %s\n", path);
        exit(2);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (line[0] == '{') {
            cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
            const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "text") : NULL;
            if (!cJSON_IsString(t)) {
                fprintf(stderr, "bench_query: %s:%ld: not a JSON object with a string \"text\"\n", path, no);
                exit(2);
            }
            qset_add(q, t->valuestring, strlen(t->valuestring));
            cJSON_Delete(o);
        } else {
            const char *tab = strchr(line, '\t');
            const char *s = tab ? tab + 1 : line;
            qset_add(q, s, strlen(s));
        }
    }
    free(line);
    fclose(f);
    if (q->n == 0) die("no queries");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double pct(const double *sorted, size_t n, double p) {
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int g_slow; /* --slow N: print the N slowest queries (per-query median) to stderr */

/* ---- one pass over the queries, on several threads ---- */
typedef struct worker {
    const spar_index *ix;
    const qset *q;
    spar_search_opts opts;
    int tid, nt;
    double *lat;    /* per query, seconds */
    double *qcpu;   /* per query, this thread's CPU seconds (immune to preemption by other processes) */
    double cpu;     /* CPU seconds of the pass (this thread) */
    spar_hit *hits; /* k */
    spar_searcher *s;
    size_t n_hits;
    size_t n_empty;
    spar_status st;
} worker;

static void *run_pass(void *arg) {
    worker *w = arg;
    w->n_hits = 0;
    w->n_empty = 0;
    const double c0 = cpu_s();
    for (size_t i = (size_t)w->tid; i < w->q->n; i += (size_t)w->nt) {
        size_t nh = 0;
        const double c1 = cpu_s(), t0 = now_s();
        spar_status st = spar_search(w->s, w->q->text[i], strlen(w->q->text[i]), &w->opts, w->hits, w->opts.k, &nh);
        w->lat[i] = now_s() - t0;
        w->qcpu[i] = cpu_s() - c1;
        if (st != SPAR_OK) w->st = st;
        w->n_hits += nh;
        w->n_empty += nh == 0;
    }
    w->cpu = cpu_s() - c0;
    return NULL;
}

static void bench_latency(const spar_index *ix, const qset *q, spar_algo algo, uint32_t k, int nt, int warmup,
                          int reps) {
    worker *ws = calloc((size_t)nt, sizeof *ws);
    double *lat = malloc(q->n * sizeof *lat);
    double *all = malloc(q->n * (size_t)reps * sizeof *all);
    double *qcpu = malloc(q->n * sizeof *qcpu), *allcpu = malloc(q->n * (size_t)reps * sizeof *allcpu);
    if (!qcpu || !allcpu) die("out of memory");
    double *pass_qps = malloc((size_t)reps * sizeof *pass_qps);
    double *pass_cpu = malloc((size_t)reps * sizeof *pass_cpu);
    pthread_t *th = malloc((size_t)nt * sizeof *th);
    if (!ws || !lat || !all || !pass_qps || !th) die("out of memory");
    for (int t = 0; t < nt; t++) {
        spar_search_opts_default(&ws[t].opts);
        ws[t].opts.k = k;
        ws[t].opts.algo = algo;
        ws[t].ix = ix;
        ws[t].q = q;
        ws[t].tid = t;
        ws[t].nt = nt;
        ws[t].lat = lat;
        ws[t].qcpu = qcpu;
        ws[t].hits = malloc(k * sizeof(spar_hit));
        if (ws[t].hits == NULL || spar_searcher_create(ix, &ws[t].s) != SPAR_OK) die("searcher_create failed");
    }
    size_t total_hits = 0, empty = 0;
    for (int pass = 0; pass < warmup + reps; pass++) {
        const double t0 = now_s();
        if (nt == 1) {
            run_pass(&ws[0]);
        } else {
            for (int t = 0; t < nt; t++)
                if (pthread_create(&th[t], NULL, run_pass, &ws[t]) != 0) die("pthread_create failed");
            for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
        }
        const double wall = now_s() - t0;
        for (int t = 0; t < nt; t++)
            if (ws[t].st != SPAR_OK) die(spar_status_str(ws[t].st));
        if (pass < warmup) continue;
        const int r = pass - warmup;
        memcpy(all + (size_t)r * q->n, lat, q->n * sizeof *lat);
        memcpy(allcpu + (size_t)r * q->n, qcpu, q->n * sizeof *qcpu);
        pass_qps[r] = (double)q->n / wall;
        pass_cpu[r] = 0;
        for (int t = 0; t < nt; t++) pass_cpu[r] += ws[t].cpu;
        total_hits = empty = 0;
        for (int t = 0; t < nt; t++) {
            total_hits += ws[t].n_hits;
            empty += ws[t].n_empty;
        }
    }
    const size_t ns = q->n * (size_t)reps;
    double sum = 0;
    for (size_t i = 0; i < ns; i++) sum += all[i];
    /* per-query median over the timed passes: a query that is slow in every pass is slow; one that was
     * preempted once is not. p99 of these medians separates the engine's own tail from scheduler noise. */
    double *qmed = malloc(q->n * sizeof *qmed), *one = malloc((size_t)reps * sizeof *one);
    if (qmed == NULL || one == NULL) die("out of memory");
    for (size_t i = 0; i < q->n; i++) {
        for (int r = 0; r < reps; r++) one[r] = all[(size_t)r * q->n + i];
        qsort(one, (size_t)reps, sizeof *one, cmp_double);
        qmed[i] = one[reps / 2];
    }
    double *qcmed = malloc(q->n * sizeof *qcmed);
    if (qcmed == NULL) die("out of memory");
    for (size_t i = 0; i < q->n; i++) {
        for (int r = 0; r < reps; r++) one[r] = allcpu[(size_t)r * q->n + i];
        qsort(one, (size_t)reps, sizeof *one, cmp_double);
        qcmed[i] = one[reps / 2];
    }
    if (g_slow > 0) { /* the slowest queries by per-query median CPU time, to stderr */
        size_t *ord = malloc(q->n * sizeof *ord);
        if (ord == NULL) die("out of memory");
        for (size_t i = 0; i < q->n; i++) ord[i] = i;
        for (size_t a = 0; a < (size_t)g_slow && a < q->n; a++) { /* partial selection sort: g_slow is small */
            size_t best = a;
            for (size_t b = a + 1; b < q->n; b++)
                if (qcmed[ord[b]] > qcmed[ord[best]]) best = b;
            size_t t = ord[a];
            ord[a] = ord[best];
            ord[best] = t;
            fprintf(stderr, "slow k=%u cpu %.1f us (wall %.1f us): %s\n", k, qcmed[ord[a]] * 1e6, qmed[ord[a]] * 1e6,
                    q->text[ord[a]]);
        }
        free(ord);
    }
    qsort(qmed, q->n, sizeof *qmed, cmp_double);
    const double p99_qmed = pct(qmed, q->n, 0.99);
    free(qmed);
    free(qcmed);
    free(one);
    qsort(all, ns, sizeof *all, cmp_double);
    qsort(allcpu, ns, sizeof *allcpu, cmp_double);
    qsort(pass_qps, (size_t)reps, sizeof *pass_qps, cmp_double);
    qsort(pass_cpu, (size_t)reps, sizeof *pass_cpu, cmp_double);
    printf("{\"engine\":\"spar\",\"op\":\"search\",\"algo\":\"%s\",\"k\":%u,\"threads\":%d,\"queries\":%zu,"
           "\"empty_results\":%zu,\"reps\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,\"qps\":%.1f,"
           "\"avg_hits\":%.1f,\"cpu_mean_us\":%.1f,\"p99_qmed_us\":%.1f,\"cpu_p50_us\":%.1f,\"cpu_p99_us\":%.1f}\n",
           spar_algo_name(algo), k, nt, q->n, empty, reps, pct(all, ns, 0.5) * 1e6, pct(all, ns, 0.99) * 1e6,
           sum / (double)ns * 1e6, pass_qps[reps / 2], (double)total_hits / (double)q->n,
           pass_cpu[reps / 2] / (double)q->n * 1e6, p99_qmed * 1e6, pct(allcpu, ns, 0.5) * 1e6,
           pct(allcpu, ns, 0.99) * 1e6);
    fflush(stdout);
    for (int t = 0; t < nt; t++) {
        spar_searcher_free(ws[t].s);
        free(ws[t].hits);
    }
    free(ws);
    free(lat);
    free(all);
    free(qcpu);
    free(allcpu);
    free(pass_qps);
    free(pass_cpu);
    free(th);
}

static void bench_batch(const spar_index *ix, const qset *q, spar_algo algo, uint32_t k, int nt, int warmup,
                        int reps) {
    spar_search_opts o;
    spar_search_opts_default(&o);
    o.k = k;
    o.algo = algo;
    spar_hit *hits = malloc(q->n * (size_t)k * sizeof *hits);
    size_t *n_hits = malloc(q->n * sizeof *n_hits);
    double *pass_qps = malloc((size_t)reps * sizeof *pass_qps);
    if (!hits || !n_hits || !pass_qps) die("out of memory");
    for (int pass = 0; pass < warmup + reps; pass++) {
        const double t0 = now_s();
        spar_status st = spar_search_batch(ix, (const char *const *)q->text, q->n, &o, hits, n_hits, nt);
        const double wall = now_s() - t0;
        if (st != SPAR_OK) die(spar_status_str(st));
        if (pass >= warmup) pass_qps[pass - warmup] = (double)q->n / wall;
    }
    qsort(pass_qps, (size_t)reps, sizeof *pass_qps, cmp_double);
    printf("{\"engine\":\"spar\",\"op\":\"batch\",\"algo\":\"%s\",\"k\":%u,\"threads\":%d,\"queries\":%zu,"
           "\"reps\":%d,\"batch_qps\":%.1f}\n",
           spar_algo_name(algo), k, nt, q->n, reps, pass_qps[reps / 2]);
    fflush(stdout);
    free(hits);
    free(n_hits);
    free(pass_qps);
}

static void usage(void) {
    fprintf(stderr, "usage: bench_query --index DIR --queries FILE [--k 10,1000] [--threads T] "
                    "[--algo default|all|LIST] [--warmup 3] [--reps 5] [--slow N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *dir = NULL, *qpath = NULL, *klist = "10,1000", *alist = NULL;
    int threads = 0, warmup = 3, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--index") == 0) dir = argv[++i];
        else if (strcmp(argv[i], "--queries") == 0) qpath = argv[++i];
        else if (strcmp(argv[i], "--k") == 0) klist = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--algo") == 0) alist = argv[++i];
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--slow") == 0) g_slow = atoi(argv[++i]);
        else usage();
    }
    if (dir == NULL || qpath == NULL || reps < 1 || warmup < 0 || threads < 0) usage();
    /* standalone: every algorithm; with --threads (bench/run_bm25.sh): the default one, one line per k */
    if (alist == NULL) alist = threads == 0 ? "all" : "default";
    spar_algo algos[8];
    int na = 0;
    if (strcmp(alist, "all") == 0) {
        algos[na++] = SPAR_ALGO_EXHAUSTIVE;
        algos[na++] = SPAR_ALGO_MAXSCORE;
        algos[na++] = SPAR_ALGO_BMW;
    } else {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", alist);
        for (char *tok = strtok(buf, ","); tok && na < 8; tok = strtok(NULL, ","))
            if (spar_algo_parse(tok, &algos[na++]) != SPAR_OK) die("unknown --algo");
    }
    uint32_t ks[8];
    int nk = 0;
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", klist);
        for (char *tok = strtok(buf, ","); tok && nk < 8; tok = strtok(NULL, ",")) ks[nk++] = (uint32_t)atoi(tok);
    }
    qset q = {0};
    read_queries(qpath, &q);
    spar_index *ix = NULL;
    spar_diag diag = {{0}};
    if (spar_index_open(dir, &ix, &diag) != SPAR_OK) {
        fprintf(stderr, "bench_query: %s\n", diag.msg);
        return 1;
    }
    for (int a = 0; a < na; a++)
        for (int i = 0; i < nk; i++) {
            if (ks[i] < 1 || ks[i] > SPAR_MAX_K) die("bad --k");
            bench_latency(ix, &q, algos[a], ks[i], threads ? threads : 1, warmup, reps);
            if (threads == 0) bench_batch(ix, &q, algos[a], ks[i], 2, warmup, reps);
        }
    spar_index_close(ix);
    for (size_t i = 0; i < q.n; i++) free(q.text[i]);
    free(q.text);
    return 0;
}
