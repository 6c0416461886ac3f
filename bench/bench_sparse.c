/* bench_sparse.c — learned-sparse search benchmark: builds a spar_sparse_index from a generated corpus
 * (bench_sparse_gen's binary CSR), loads real SPLADE query vectors (JSONL, wordpieces mapped through
 * vocab.txt), computes the exact top-k with the exhaustive oracle, then measures the BMP exact search and
 * the Seismic approximate search for each (query_cut:heap_factor) setting. One JSON line per setting.
 *
 *   bench_sparse --corpus bench/data/sparse/topical-1M.csr [--queries Q.jsonl.gz] [--vocab vocab.txt]
 *                [--k 10] [--n_queries 0=all] [--threads 2] [--n_postings 4000] [--block_fraction 0.1]
 *                [--summary_energy 0.4] [--sweep 5:0.9,10:0.9,...] [--save FILE] [--exhaustive_latency_q 200]
 *   bench_sparse --load FILE.idx [--mapped 1] ...   (a saved index instead of a build; --mapped 1: the
 *                approximate part read in place from a memory map, spar_sparse_index_load_mapped)
 * Latency = wall time of one query on one thread (median, p99 over the query set), and the same in thread
 * CPU time (cpu_median_ms: not inflated by preemption when the machine is loaded); batch throughput =
 * spar_sparse_search_batch on --threads threads. Method: bench/sparse/README.md. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "spar/spar_sparse.h"
#include "sparse_bench_util.h"



int main(int argc, char **argv) {
    const char *corpus = NULL, *save = NULL, *load = NULL;
    int mapped = 0;
    const char *queries = "../shared/data/msmarco-learned-sparse-queries/msmarco-dev-small.splade-pp-ed.jsonl.gz";
    const char *vocab_path = "../shared/data/bert-base-uncased-vocab/vocab.txt";
    const char *sweep = "3:0.9,5:0.9,8:0.9,10:0.9,10:0.8,15:0.8,20:0.7";
    uint32_t k = 10, nq_lim = 0, threads = 2, exq = 200;
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--corpus")) corpus = v;
        else if (!strcmp(a, "--queries")) queries = v;
        else if (!strcmp(a, "--vocab")) vocab_path = v;
        else if (!strcmp(a, "--k")) k = (uint32_t)atoi(v);
        else if (!strcmp(a, "--n_queries")) nq_lim = (uint32_t)atoi(v);
        else if (!strcmp(a, "--threads")) threads = (uint32_t)atoi(v);
        else if (!strcmp(a, "--n_postings")) o.n_postings = (uint32_t)atoi(v);
        else if (!strcmp(a, "--block_fraction")) o.block_fraction = (float)atof(v);
        else if (!strcmp(a, "--summary_energy")) o.summary_energy = (float)atof(v);
        else if (!strcmp(a, "--bmp_block")) o.bmp_block = (uint32_t)atoi(v);
        else if (!strcmp(a, "--approx")) o.build_approx = atoi(v);
        else if (!strcmp(a, "--reorder")) o.reorder = atoi(v);
        else if (!strcmp(a, "--sweep")) sweep = v;
        else if (!strcmp(a, "--save")) save = v;
        else if (!strcmp(a, "--load")) load = v;
        else if (!strcmp(a, "--mapped")) mapped = atoi(v);
        else if (!strcmp(a, "--exhaustive_latency_q")) exq = (uint32_t)atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if ((corpus == NULL && load == NULL) || k == 0) {
        fprintf(stderr, "usage: %s --corpus FILE.csr | --load FILE.idx [options]\n", argv[0]);
        return 2;
    }
    spar_diag diag = {{0}};
    spar_sparse_csr docs, qs;
    memset(&docs, 0, sizeof docs);
    if (corpus && sb_read_csr(corpus, &docs)) return 1;
    spar_sparse_vocab *vocab = NULL;
    uint64_t unknown = 0;
    if (spar_sparse_vocab_load(vocab_path, &vocab, &diag) != SPAR_OK ||
        spar_sparse_csr_read_jsonl(queries, vocab, 0, 1, &qs, &unknown, &diag) != SPAR_OK) {
        fprintf(stderr, "%s\n", diag.msg);
        return 1;
    }
    uint32_t nq = qs.n_rows;
    if (nq_lim && nq_lim < nq) nq = nq_lim;
    spar_sparse_vec *qv = malloc(nq * sizeof *qv);
    double qnnz = 0;
    for (uint32_t i = 0; i < nq; i++) { qv[i] = spar_sparse_csr_row(&qs, i); qnnz += qv[i].n; }
    fprintf(stderr, "corpus %u docs, %llu nnz; %u queries (%.1f terms avg, %llu unknown tokens dropped)\n", docs.n_rows,
            (unsigned long long)(corpus ? docs.offsets[docs.n_rows] : 0), nq, qnnz / nq, (unsigned long long)unknown);
    spar_sparse_index *ix = NULL;
    double t0 = sb_now();
    if (load) { /* a saved index: no build (build_s is then the load time) */
        spar_status ls = mapped ? spar_sparse_index_load_mapped(load, &ix, &diag) : spar_sparse_index_load(load, &ix, &diag);
        if (ls != SPAR_OK) { fprintf(stderr, "load: %s\n", diag.msg); return 1; }
    } else if (spar_sparse_index_build(&docs, &o, &ix, &diag) != SPAR_OK) {
        fprintf(stderr, "build: %s\n", diag.msg);
        return 1;
    }
    double build_s = sb_now() - t0;
    spar_sparse_csr_free(&docs);
    spar_sparse_stats stt;
    spar_sparse_index_stats(ix, &stt);
    long long file_bytes = -1;
    double save_s = 0, load_s = 0;
    if (save) {
        t0 = sb_now();
        if (spar_sparse_index_save(ix, save, &diag) != SPAR_OK) { fprintf(stderr, "save: %s\n", diag.msg); return 1; }
        save_s = sb_now() - t0;
        struct stat sb;
        if (stat(save, &sb) == 0) file_bytes = (long long)sb.st_size;
        spar_sparse_index_free(ix); /* first: two 1M indexes in memory at once do not fit 24 GB */
        ix = NULL;
        t0 = sb_now();
        if (spar_sparse_index_load(save, &ix, &diag) != SPAR_OK) { fprintf(stderr, "load: %s\n", diag.msg); return 1; }
        load_s = sb_now() - t0;
    }
    printf("{\"setting\":\"build\",\"loaded\":%d,\"mapped\":%d,\"docs\":%u,\"nnz\":%llu,\"build_s\":%.2f,\"approx_build_s\":%.2f,\"threads\":%u,"
           "\"bytes_forward\":%llu,\"bytes_inverted\":%llu,\"bytes_blockmax\":%llu,\"bytes_approx\":%llu,"
           "\"approx_blocks\":%llu,\"approx_postings\":%llu,\"approx_summary_nnz\":%llu,\"n_postings\":%u,"
           "\"block_fraction\":%g,\"summary_energy\":%g,\"bmp_block\":%u,\"file_bytes\":%lld,\"save_s\":%.2f,\"load_s\":%.2f}\n",
           load != NULL, mapped, stt.n_docs, (unsigned long long)stt.nnz, build_s, stt.approx_build_seconds, o.n_threads,
           (unsigned long long)stt.bytes_forward, (unsigned long long)stt.bytes_inverted,
           (unsigned long long)stt.bytes_blockmax, (unsigned long long)stt.bytes_approx,
           (unsigned long long)stt.approx_blocks, (unsigned long long)stt.approx_postings,
           (unsigned long long)stt.approx_summary_nnz, o.n_postings, (double)o.block_fraction,
           (double)o.summary_energy, o.bmp_block, file_bytes, save_s, load_s);
    fflush(stdout);

    spar_hit *gt = malloc((size_t)nq * k * sizeof *gt), *res = malloc((size_t)nq * k * sizeof *res);
    size_t *ngt = malloc(nq * sizeof *ngt), *nres = malloc(nq * sizeof *nres);
    double *lat = malloc(nq * sizeof *lat), *clat = malloc(nq * sizeof *clat);
    spar_sparse_searcher *s = NULL;
    if (spar_sparse_searcher_create(ix, &s) != SPAR_OK) return 1;
    /* exhaustive: ground truth (batch) + single-thread latency on the first exq queries */
    t0 = sb_now();
    if (spar_sparse_search_batch(ix, qv, nq, k, SPAR_SPARSE_EXHAUSTIVE, NULL, threads, gt, ngt) != SPAR_OK) return 1;
    double ex_batch = sb_now() - t0;
    uint32_t ne = exq < nq ? exq : nq;
    for (uint32_t i = 0; i < ne; i++) {
        size_t n;
        double a = sb_now();
        if (spar_sparse_search_exact(s, &qv[i], k, SPAR_SPARSE_EXHAUSTIVE, res, &n) != SPAR_OK) return 1;
        lat[i] = sb_now() - a;
    }
    double ex_med = sb_pct(lat, ne, 0.5) * 1e3, ex_p99 = sb_pct(lat, ne, 0.99) * 1e3;
    printf("{\"setting\":\"exhaustive\",\"k\":%u,\"queries\":%u,\"latency_q\":%u,\"median_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"batch_qps\":%.1f,\"batch_threads\":%u}\n", k, nq, ne, ex_med, ex_p99, nq / ex_batch, threads);
    fflush(stdout);
    /* BMP exact */
    uint32_t mism = 0;
    double scored = 0;
    for (uint32_t i = 0; i < nq; i++) {
        size_t n;
        double a = sb_now(), ac = sb_cpu_now();
        if (spar_sparse_search_exact(s, &qv[i], k, SPAR_SPARSE_BMP, res, &n) != SPAR_OK) return 1;
        lat[i] = sb_now() - a;
        clat[i] = sb_cpu_now() - ac;
        scored += (double)spar_sparse_searcher_last_scored(s);
        if (n != ngt[i] || memcmp(res, gt + (size_t)i * k, n * sizeof *res)) mism++;
    }
    t0 = sb_now();
    if (spar_sparse_search_batch(ix, qv, nq, k, SPAR_SPARSE_BMP, NULL, threads, res, nres) != SPAR_OK) return 1;
    double bt = sb_now() - t0;
    double bmp_med = sb_pct(lat, nq, 0.5) * 1e3, bmp_p99 = sb_pct(lat, nq, 0.99) * 1e3;
    double bmp_cmed = sb_pct(clat, nq, 0.5) * 1e3, bmp_cp99 = sb_pct(clat, nq, 0.99) * 1e3;
    printf("{\"setting\":\"bmp\",\"k\":%u,\"queries\":%u,\"median_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_median_ms\":%.3f,"
           "\"cpu_p99_ms\":%.3f,\"batch_qps\":%.1f,"
           "\"batch_threads\":%u,\"topk_mismatches_vs_exhaustive\":%u,\"docs_scored_avg\":%.0f,"
           "\"speedup_median_vs_exhaustive\":%.1f}\n",
           k, nq, bmp_med, bmp_p99, bmp_cmed, bmp_cp99, nq / bt, threads, mism, scored / nq, ex_med / bmp_med);
    fflush(stdout);
    /* approximate sweep */
    if (stt.bytes_approx) {
        char *sw = malloc(strlen(sweep) + 1);
        memcpy(sw, sweep, strlen(sweep) + 1);
        for (char *tok = strtok(sw, ","); tok; tok = strtok(NULL, ",")) {
            spar_sparse_approx_params p;
            spar_sparse_approx_params_default(&p);
            if (sscanf(tok, "%u:%f", &p.query_cut, &p.heap_factor) != 2) { fprintf(stderr, "bad sweep item %s\n", tok); return 2; }
            double inter = 0, denom = 0;
            scored = 0;
            for (uint32_t i = 0; i < nq; i++) {
                size_t n;
                double a = sb_now(), ac = sb_cpu_now();
                if (spar_sparse_search_approx(s, &qv[i], k, &p, res, &n) != SPAR_OK) return 1;
                lat[i] = sb_now() - a;
                clat[i] = sb_cpu_now() - ac;
                scored += (double)spar_sparse_searcher_last_scored(s);
                for (size_t x = 0; x < ngt[i]; x++)
                    for (size_t y = 0; y < n; y++)
                        if (gt[(size_t)i * k + x].docid == res[y].docid) { inter++; break; }
                denom += (double)ngt[i];
            }
            t0 = sb_now();
            if (spar_sparse_search_batch(ix, qv, nq, k, SPAR_SPARSE_BMP, &p, threads, res, nres) != SPAR_OK) return 1;
            bt = sb_now() - t0;
            double med = sb_pct(lat, nq, 0.5) * 1e3, p99 = sb_pct(lat, nq, 0.99) * 1e3;
            double cmed = sb_pct(clat, nq, 0.5) * 1e3, cp99 = sb_pct(clat, nq, 0.99) * 1e3;
            printf("{\"setting\":\"seismic\",\"query_cut\":%u,\"heap_factor\":%g,\"k\":%u,\"queries\":%u,"
                   "\"recall_at_k\":%.4f,\"median_ms\":%.3f,\"p99_ms\":%.3f,\"cpu_median_ms\":%.3f,\"cpu_p99_ms\":%.3f,"
                   "\"batch_qps\":%.1f,\"batch_threads\":%u,"
                   "\"docs_scored_avg\":%.0f,\"n_postings\":%u,\"block_fraction\":%g,\"summary_energy\":%g}\n",
                   p.query_cut, (double)p.heap_factor, k, nq, denom > 0 ? inter / denom : 1.0, med, p99, cmed, cp99,
                   nq / bt, threads,
                   scored / nq, o.n_postings, (double)o.block_fraction, (double)o.summary_energy);
            fflush(stdout);
        }
        free(sw);
    }
    spar_sparse_searcher_free(s);
    spar_sparse_index_free(ix);
    spar_sparse_csr_free(&qs);
    spar_sparse_vocab_free(vocab);
    free(qv); free(gt); free(res); free(ngt); free(nres); free(lat); free(clat);
    return 0;
}
