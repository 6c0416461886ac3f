/* bench_sparse_exact.c — the exact learned-sparse top-k algorithms side by side on one corpus: exhaustive
 * (dense-accumulator TAAT, the oracle), BMP (two-level block-max pruning), MaxScore and BlockMax-WAND, over
 * float weights and/or 8-bit quantized weights. Every algorithm's top-k of every query is compared with the
 * exhaustive top-k of the same index (mismatches must be 0); the 8-bit index is also compared with the
 * float exhaustive top-k (recall@k: the quantization error). Latency: one query at a time on one thread,
 * the algorithms run back to back for each query in a fresh pseudo-random order (so machine load and the
 * cache state left by the previous algorithm hit them alike), per-query
 * median over the rounds, then median / p99 over the queries; the same for the thread's CPU time (not
 * inflated by preemption on a shared machine). Throughput: spar_sparse_search_batch on
 * --threads threads. One JSON line per (weights, algorithm).
 *
 *   bench_sparse_exact --corpus bench/data/sparse/topical-1M.csr [--queries Q.jsonl.gz] [--vocab vocab.txt]
 *       [--k 10] [--n_queries 0=all] [--threads 2] [--rounds 3] [--algos exhaustive,bmp,maxscore,bmw]
 *       [--weights 32,8] [--bmp_block 8] [--reorder 1]
 * Method and results: bench/sparse/README.md. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spar/spar_sparse.h"
#include "sparse_bench_util.h"



static void log_stderr(void *ud, spar_log_level level, const char *msg) {
    (void)ud;
    (void)level;
    fprintf(stderr, "[%.1f] %s\n", sb_now(), msg);
}

/* bmp_ab: BMP on a second searcher created with an environment knob set (BMP_AB_ENV, default: the AVX-512
 * kernels), for A/B in the same process */
static const char *ALGO_NAME[] = {"exhaustive", "bmp", "maxscore", "bmw", "bmp_ab"};
#define N_ALGO 5

int main(int argc, char **argv) {
    const char *corpus = NULL, *algos = "exhaustive,bmp,maxscore,bmw", *weights = "32,8";
    const char *queries = "../shared/data/msmarco-learned-sparse-queries/msmarco-dev-small.splade-pp-ed.jsonl.gz";
    const char *vocab_path = "../shared/data/bert-base-uncased-vocab/vocab.txt";
    uint32_t k = 10, nq_lim = 0, threads = 2, rounds = 3, bmp_block = 8;
    int reorder = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--corpus")) corpus = v;
        else if (!strcmp(a, "--queries")) queries = v;
        else if (!strcmp(a, "--vocab")) vocab_path = v;
        else if (!strcmp(a, "--k")) k = (uint32_t)atoi(v);
        else if (!strcmp(a, "--n_queries")) nq_lim = (uint32_t)atoi(v);
        else if (!strcmp(a, "--threads")) threads = (uint32_t)atoi(v);
        else if (!strcmp(a, "--rounds")) rounds = (uint32_t)atoi(v);
        else if (!strcmp(a, "--algos")) algos = v;
        else if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--bmp_block")) bmp_block = (uint32_t)atoi(v);
        else if (!strcmp(a, "--reorder")) reorder = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (corpus == NULL || k == 0 || rounds == 0) {
        fprintf(stderr, "usage: %s --corpus FILE.csr [options]\n", argv[0]);
        return 2;
    }
    int algo[N_ALGO], na = 0;
    for (int a = 0; a < N_ALGO; a++)
        if (strstr(algos, ALGO_NAME[a])) algo[na++] = a;
    if (na == 0 || algo[0] != 0) { fprintf(stderr, "--algos must include exhaustive (the reference)\n"); return 2; }
    int wb[2], nw = 0;
    for (const char *p = weights; *p && nw < 2; p++) {
        int b = atoi(p);
        if (b != 8 && b != 32) { fprintf(stderr, "--weights: 32 and/or 8\n"); return 2; }
        wb[nw++] = b;
        while (*p && *p != ',') p++;
        if (!*p) break;
    }
    if (getenv("SPAR_BENCH_LOG")) spar_log_set(log_stderr, NULL);
    spar_diag diag = {{0}};
    spar_sparse_csr docs, qs;
    if (sb_read_csr(corpus, &docs)) return 1;
    spar_sparse_vocab *vocab = NULL;
    if (spar_sparse_vocab_load(vocab_path, &vocab, &diag) != SPAR_OK ||
        spar_sparse_csr_read_jsonl(queries, vocab, 0, 1, &qs, NULL, &diag) != SPAR_OK) {
        fprintf(stderr, "%s\n", diag.msg);
        return 1;
    }
    uint32_t nq = qs.n_rows;
    if (nq_lim && nq_lim < nq) nq = nq_lim;
    spar_sparse_vec *qv = malloc(nq * sizeof *qv);
    for (uint32_t i = 0; i < nq; i++) qv[i] = spar_sparse_csr_row(&qs, i);
    fprintf(stderr, "corpus %u docs, %llu nnz; %u queries; k %u\n", docs.n_rows,
            (unsigned long long)docs.offsets[docs.n_rows], nq, k);

    spar_hit *gt32 = malloc((size_t)nq * k * sizeof *gt32), *gt = malloc((size_t)nq * k * sizeof *gt);
    spar_hit *res = malloc((size_t)nq * k * sizeof *res);
    size_t *ngt32 = malloc(nq * sizeof *ngt32), *ngt = malloc(nq * sizeof *ngt), *nres = malloc(nq * sizeof *nres);
    double *lat = malloc((size_t)na * nq * rounds * sizeof *lat), *cpu = malloc((size_t)na * nq * rounds * sizeof *cpu), *tmp = malloc((rounds > nq ? rounds : nq) * sizeof *tmp);
    double *scored = calloc((size_t)na, sizeof *scored);
    uint32_t *mism = calloc((size_t)na, sizeof *mism);
    if (!gt32 || !gt || !res || !cpu || !ngt32 || !ngt || !nres || !lat || !tmp || !scored || !mism) return 1;
    for (int w = 0; w < nw; w++) {
        spar_sparse_build_opts o;
        spar_sparse_build_opts_default(&o);
        o.build_approx = 0;
        o.bmp_block = bmp_block;
        o.reorder = reorder;
        o.weight_bits = (uint32_t)wb[w];
        spar_sparse_index *ix = NULL;
        double t0 = sb_now();
        if (spar_sparse_index_build(&docs, &o, &ix, &diag) != SPAR_OK) { fprintf(stderr, "build: %s\n", diag.msg); return 1; }
        double build_s = sb_now() - t0;
        spar_sparse_stats st;
        spar_sparse_index_stats(ix, &st);
        printf("{\"setting\":\"build\",\"weight_bits\":%d,\"docs\":%u,\"nnz\":%llu,\"build_s\":%.2f,\"bytes_forward\":%llu,"
               "\"bytes_inverted\":%llu,\"bytes_blockmax\":%llu,\"bmp_block\":%u}\n",
               wb[w], st.n_docs, (unsigned long long)st.nnz, build_s, (unsigned long long)st.bytes_forward,
               (unsigned long long)st.bytes_inverted, (unsigned long long)st.bytes_blockmax, bmp_block);
        fflush(stdout);
        /* reference: exhaustive top-k of this index (batch) */
        if (spar_sparse_search_batch(ix, qv, nq, k, SPAR_SPARSE_EXHAUSTIVE, NULL, threads, gt, ngt) != SPAR_OK) return 1;
        if (wb[w] == 32 || w == 0) {
            memcpy(gt32, gt, (size_t)nq * k * sizeof *gt);
            memcpy(ngt32, ngt, nq * sizeof *ngt);
        }
        spar_sparse_searcher *s = NULL, *s_scalar = NULL;
        if (spar_sparse_searcher_create(ix, &s) != SPAR_OK) return 1;
        /* the A/B searcher ("bmp_ab"): created with the environment variable $BMP_AB_ENV (default
         * SPAR_SPARSE_AVX512: the AVX-512 kernels) set to 1 */
        const char *ab = getenv("BMP_AB_ENV") ? getenv("BMP_AB_ENV") : "SPAR_SPARSE_AVX512";
        setenv(ab, "1", 1);
        if (spar_sparse_searcher_create(ix, &s_scalar) != SPAR_OK) return 1;
        unsetenv(ab);
        memset(scored, 0, (size_t)na * sizeof *scored);
        memset(mism, 0, (size_t)na * sizeof *mism);
        double inter = 0, denom = 0;
        for (uint32_t r = 0; r < rounds; r++)
            for (uint32_t i = 0; i < nq; i++)
            {
                /* a fresh pseudo-random order of the algorithms per (query, round): each one follows each
                 * other equally often (a fixed rotation would always run the same one right after the
                 * cache-flushing exhaustive pass) */
                int ord[N_ALGO];
                uint64_t h = ((uint64_t)r << 32 | i) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
                for (int x = 0; x < na; x++) ord[x] = x;
                for (int x = na - 1; x > 0; x--) {
                    h ^= h >> 31;
                    h *= 0xbf58476d1ce4e5b9ull;
                    int y = (int)((h >> 33) % (uint64_t)(x + 1));
                    int t = ord[x];
                    ord[x] = ord[y];
                    ord[y] = t;
                }
                for (int x = 0; x < na; x++) {
                    const int ai = ord[x], a = algo[ai];
                    size_t n;
                    double t1 = sb_now(), c1 = sb_cpu_now();
                    spar_sparse_searcher *sx = a == 4 ? s_scalar : s;
                    if (spar_sparse_search_exact(sx, &qv[i], k, (spar_sparse_exact_algo)(a == 4 ? 1 : a), res, &n) != SPAR_OK) return 1;
                    lat[((size_t)ai * nq + i) * rounds + r] = sb_now() - t1;
                    cpu[((size_t)ai * nq + i) * rounds + r] = sb_cpu_now() - c1;
                    if (r) continue;
                    scored[ai] += (double)spar_sparse_searcher_last_scored(sx);
                    if (n != ngt[i] || memcmp(res, gt + (size_t)i * k, n * sizeof *res)) mism[ai]++;
                    if (a == 0 && wb[w] == 8 && nw > 1) { /* quantization error vs float */
                        for (size_t y = 0; y < ngt32[i]; y++)
                            for (size_t z = 0; z < n; z++)
                                if (gt32[(size_t)i * k + y].docid == res[z].docid) { inter++; break; }
                        denom += (double)ngt32[i];
                    }
                }
            }
        double ex_med = 0, ex_cmed = 0;
        for (int ai = 0; ai < na; ai++) {
            double *per = malloc(nq * sizeof *per);
            for (uint32_t i = 0; i < nq; i++) {
                memcpy(tmp, lat + ((size_t)ai * nq + i) * rounds, rounds * sizeof *tmp);
                per[i] = sb_pct(tmp, rounds, 0.5);
            }
            double med = sb_pct(per, nq, 0.5) * 1e3, p99 = sb_pct(per, nq, 0.99) * 1e3, mean = 0;
            for (uint32_t i = 0; i < nq; i++) mean += per[i];
            mean = mean / nq * 1e3;
            for (uint32_t i = 0; i < nq; i++) {
                memcpy(tmp, cpu + ((size_t)ai * nq + i) * rounds, rounds * sizeof *tmp);
                per[i] = sb_pct(tmp, rounds, 0.5);
            }
            double cmed = sb_pct(per, nq, 0.5) * 1e3, cp99 = sb_pct(per, nq, 0.99) * 1e3;
            free(per);
            if (algo[ai] == 0) { ex_med = med; ex_cmed = cmed; }
            t0 = sb_now();
            if (spar_sparse_search_batch(ix, qv, nq, k, (spar_sparse_exact_algo)(algo[ai] == 4 ? 1 : algo[ai]), NULL, threads, res, nres) != SPAR_OK)
                return 1;
            double bt = sb_now() - t0;
            uint32_t bm = 0;
            for (uint32_t i = 0; i < nq; i++)
                if (nres[i] != ngt[i] || memcmp(res + (size_t)i * k, gt + (size_t)i * k, nres[i] * sizeof *res)) bm++;
            printf("{\"setting\":\"%s\",\"weight_bits\":%d,\"k\":%u,\"queries\":%u,\"rounds\":%u,\"median_ms\":%.3f,"
                   "\"p99_ms\":%.3f,\"mean_ms\":%.3f,\"speedup_median_vs_exhaustive\":%.2f,\"cpu_median_ms\":%.3f,"
                   "\"cpu_p99_ms\":%.3f,\"speedup_cpu_median\":%.2f,\"batch_qps\":%.1f,"
                   "\"batch_threads\":%u,\"topk_mismatches_vs_exhaustive\":%u,\"batch_mismatches\":%u,"
                   "\"docs_scored_avg\":%.0f",
                   ALGO_NAME[algo[ai]], wb[w], k, nq, rounds, med, p99, mean, ex_med / med, cmed, cp99, ex_cmed / cmed, nq / bt, threads,
                   mism[ai], bm, scored[ai] / nq);
            if (algo[ai] == 0 && wb[w] == 8 && nw > 1)
                printf(",\"recall_vs_float_exhaustive\":%.4f", denom > 0 ? inter / denom : 1.0);
            printf("}\n");
            fflush(stdout);
        }
        spar_sparse_searcher_free(s);
        spar_sparse_searcher_free(s_scalar);
        spar_sparse_index_free(ix);
    }
    spar_sparse_csr_free(&docs);
    spar_sparse_csr_free(&qs);
    spar_sparse_vocab_free(vocab);
    free(qv); free(gt32); free(gt); free(res); free(ngt32); free(ngt); free(nres); free(lat); free(cpu); free(tmp);
    free(scored); free(mism);
    return 0;
}
