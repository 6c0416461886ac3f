/* bench_impact.c — spar's side of the learned-sparse comparison with Lucene 8 FeatureField impact search
 * (bench/sparse/run_lucene.sh, bench/lucene/LuceneImpact.java; results in bench/sparse/lucene.md). Public API only.
 *
 *   bench_impact queries --queries Q.jsonl[.gz] --vocab vocab.txt --n N --out q.tsv
 *       map real SPLADE query vectors to term ids; write the first N as "qid<TAB>id:w id:w ..." with weights
 *       divided by 100 (the files' quantization) and, if the largest is still above 64 (Lucene's FeatureField
 *       weight limit), scaled so it is 64 — both engines read this same file, so scores are comparable.
 *   bench_impact build --corpus X.csr --index DIR
 *       exact index (block-max, no approximate part) of a bench_sparse_gen SPCSR001 corpus; doc ids "0".."n-1".
 *   bench_impact search --index DIR --queries q.tsv [--k 10] [--warmup 1] [--reps 3] [--algo bmp|exhaustive]
 *                       [--run OUT]
 *       one thread; `warmup` untimed passes, then `reps` timed passes, one clock sample per (query, pass);
 *       prints one JSON line: wall-clock median, p90, p99, mean in ms, and the same from this thread's CPU time
 *       (CLOCK_THREAD_CPUTIME_ID), which preemption on a shared machine does not inflate. --run writes the top-k as a TREC run. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spar/spar_sparse.h"
#include "sparse_bench_util.h"

static const char *arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static int fail(const char *what, spar_status st, const spar_diag *d) {
    fprintf(stderr, "bench_impact: %s: %s (%s)\n", what, d ? d->msg : "", spar_status_str(st));
    return 1;
}

static int cmd_queries(int argc, char **argv) {
    const char *qpath = arg(argc, argv, "--queries", NULL), *vpath = arg(argc, argv, "--vocab", NULL);
    const char *out = arg(argc, argv, "--out", NULL);
    long n = atol(arg(argc, argv, "--n", "0"));
    if (!qpath || !vpath || !out) return fprintf(stderr, "usage: bench_impact queries --queries Q --vocab V --n N --out F\n"), 2;
    spar_diag d = {{0}};
    spar_sparse_vocab *v = NULL;
    spar_sparse_csr q;
    uint64_t unk = 0;
    spar_status st = spar_sparse_vocab_load(vpath, &v, &d);
    if (st != SPAR_OK) return fail(vpath, st, &d);
    st = spar_sparse_csr_read_jsonl(qpath, v, 0, 1, &q, &unk, &d);
    spar_sparse_vocab_free(v);
    if (st != SPAR_OK) return fail(qpath, st, &d);
    FILE *f = fopen(out, "w");
    if (!f) return perror(out), 1;
    uint32_t m = (n > 0 && (uint64_t)n < q.n_rows) ? (uint32_t)n : q.n_rows, written = 0;
    uint64_t terms = 0;
    for (uint32_t r = 0; r < m; r++) {
        spar_sparse_vec x = spar_sparse_csr_row(&q, r);
        if (x.n == 0) continue;
        double mx = 0;
        for (uint32_t j = 0; j < x.n; j++) mx = x.weights[j] > mx ? x.weights[j] : mx;
        double scale = mx / 100.0 > 64.0 ? 64.0 / mx : 0.01;
        fprintf(f, "%s\t", q.keys[r]);
        for (uint32_t j = 0; j < x.n; j++) {
            float w = (float)(x.weights[j] * scale);
            if (!(w > 0)) continue;
            fprintf(f, "%s%u:%.9g", j ? " " : "", x.ids[j], (double)w);
        }
        fputc('\n', f);
        written++;
        terms += x.n;
    }
    fclose(f);
    fprintf(stderr, "{\"queries\":%u,\"mean_terms\":%.1f,\"unknown_tokens\":%llu}\n", written,
            written ? (double)terms / written : 0.0, (unsigned long long)unk);
    spar_sparse_csr_free(&q);
    return 0;
}


static int cmd_build(int argc, char **argv) {
    const char *corpus = arg(argc, argv, "--corpus", NULL), *dir = arg(argc, argv, "--index", NULL);
    if (!corpus || !dir) return fprintf(stderr, "usage: bench_impact build --corpus X.csr --index DIR\n"), 2;
    spar_sparse_csr m;
    if (sb_read_csr(corpus, &m)) return 1;
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = 0;
    spar_sparse_index *ix = NULL;
    spar_diag d = {{0}};
    double t0 = sb_now();
    spar_status st = spar_sparse_index_build(&m, &o, &ix, &d);
    if (st != SPAR_OK) return fail("build", st, &d);
    double t1 = sb_now();
    st = spar_sparse_dir_write(dir, ix, NULL, NULL, 0, 1, &d);
    if (st != SPAR_OK) return fail(dir, st, &d);
    printf("{\"engine\":\"spar\",\"docs\":%u,\"nnz\":%llu,\"build_s\":%.2f,\"write_s\":%.2f}\n", m.n_rows,
           (unsigned long long)m.offsets[m.n_rows], t1 - t0, sb_now() - t1);
    spar_sparse_index_free(ix);
    spar_sparse_csr_free(&m);
    return 0;
}

typedef struct qv {
    char *id;
    uint32_t *ids;
    float *w;
    uint32_t n;
} qv;

static qv *read_qtsv(const char *path, uint32_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) return perror(path), NULL;
    qv *q = NULL;
    size_t n = 0, cap = 0, lc = 0;
    char *line = NULL;
    while (getline(&line, &lc, f) > 0) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            q = realloc(q, cap * sizeof *q);
        }
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        qv *x = &q[n++];
        x->id = strdup(line);
        uint32_t c = 1;
        for (char *p = tab + 1; *p; p++) c += *p == ' ';
        x->ids = malloc(c * sizeof *x->ids);
        x->w = malloc(c * sizeof *x->w);
        x->n = 0;
        char *save = NULL;
        for (char *t = strtok_r(tab + 1, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
            unsigned id;
            float w;
            if (sscanf(t, "%u:%f", &id, &w) == 2) {
                x->ids[x->n] = id;
                x->w[x->n++] = w;
            }
        }
    }
    free(line);
    fclose(f);
    *n_out = (uint32_t)n;
    return q;
}


static int cmd_search(int argc, char **argv) {
    const char *dir = arg(argc, argv, "--index", NULL), *qpath = arg(argc, argv, "--queries", NULL);
    const char *run = arg(argc, argv, "--run", NULL), *algo = arg(argc, argv, "--algo", "bmp");
    uint32_t k = (uint32_t)atol(arg(argc, argv, "--k", "10"));
    int warmup = atoi(arg(argc, argv, "--warmup", "1")), reps = atoi(arg(argc, argv, "--reps", "3"));
    if (!dir || !qpath || k == 0 || reps < 1) return fprintf(stderr, "usage: bench_impact search --index DIR --queries q.tsv\n"), 2;
    spar_sparse_exact_algo ea = strcmp(algo, "exhaustive") == 0 ? SPAR_SPARSE_EXHAUSTIVE : SPAR_SPARSE_BMP;
    spar_diag d = {{0}};
    spar_sparse_dir *sd = NULL;
    double t0 = sb_now();
    spar_status st = spar_sparse_dir_open(dir, &sd, &d);
    if (st != SPAR_OK) return fail(dir, st, &d);
    double open_s = sb_now() - t0;
    uint32_t nq = 0;
    qv *q = read_qtsv(qpath, &nq);
    if (!q) return 1;
    spar_sparse_searcher *s = NULL;
    st = spar_sparse_searcher_create(spar_sparse_dir_index(sd), &s);
    if (st != SPAR_OK) return fail("searcher", st, NULL);
    spar_hit *hits = malloc(sizeof *hits * k);
    double *lat = malloc(sizeof *lat * (size_t)nq * (size_t)reps), *cpu = malloc(sizeof *cpu * (size_t)nq * (size_t)reps);
    size_t nh = 0, ns = 0;
    uint64_t scored = 0;
    for (int pass = 0; pass < warmup + reps; pass++) {
        for (uint32_t i = 0; i < nq; i++) {
            spar_sparse_vec v = {q[i].ids, q[i].w, q[i].n};
            double ca = sb_cpu_now(), a = sb_now();
            st = spar_sparse_search_exact(s, &v, k, ea, hits, &nh);
            double b = sb_now(), cb = sb_cpu_now();
            if (st != SPAR_OK) return fail("search", st, NULL);
            if (pass >= warmup) {
                cpu[ns] = (cb - ca) * 1e3;
                lat[ns++] = (b - a) * 1e3;
                scored += spar_sparse_searcher_last_scored(s);
            }
        }
    }
    if (run) {
        FILE *f = fopen(run, "w");
        if (!f) return perror(run), 1;
        for (uint32_t i = 0; i < nq; i++) {
            spar_sparse_vec v = {q[i].ids, q[i].w, q[i].n};
            if (spar_sparse_search_exact(s, &v, k, ea, hits, &nh) != SPAR_OK) return 1;
            for (size_t j = 0; j < nh; j++)
                fprintf(f, "%s Q0 %s %zu %.6f spar\n", q[i].id, spar_sparse_dir_doc_id(sd, hits[j].docid, NULL), j + 1,
                        (double)hits[j].score);
        }
        fclose(f);
    }
    double sum = 0, csum = 0;
    for (size_t i = 0; i < ns; i++) sum += lat[i], csum += cpu[i];
    qsort(lat, ns, sizeof *lat, sb_cmp_double);
    qsort(cpu, ns, sizeof *cpu, sb_cmp_double);
    printf("{\"engine\":\"spar\",\"algo\":\"%s\",\"k\":%u,\"queries\":%u,\"reps\":%d,\"open_s\":%.2f,\"median_ms\":%.4f,"
           "\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"mean_ms\":%.4f,\"cpu_median_ms\":%.4f,\"cpu_p99_ms\":%.4f,\"cpu_mean_ms\":%.4f,"
           "\"docs_scored\":%.0f}\n",
           algo, k, nq, reps, open_s, lat[ns / 2], lat[(size_t)(ns * 0.90)], lat[(size_t)(ns * 0.99)], sum / (double)ns,
           cpu[ns / 2], cpu[(size_t)(ns * 0.99)], csum / (double)ns, (double)scored / (double)ns);
    for (uint32_t i = 0; i < nq; i++) {
        free(q[i].id);
        free(q[i].ids);
        free(q[i].w);
    }
    free(q);
    free(lat);
    free(cpu);
    free(hits);
    spar_sparse_searcher_free(s);
    spar_sparse_dir_close(sd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "queries") == 0) return cmd_queries(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "build") == 0) return cmd_build(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "search") == 0) return cmd_search(argc, argv);
    fprintf(stderr, "usage: bench_impact queries|build|search ... (see the header of bench/bench_impact.c)\n");
    return 2;
}
