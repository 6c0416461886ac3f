/* cmd_ann.c — `spar ann build|search`: approximate nearest-neighbour indexes from the command line.
 * Vectors come as .fvecs (int32 dim + float32 values per record, the TEXMEX layout) or, for binary
 * indexes, raw packed codes with --bits. Results go to stdout as one JSON line per query. Uses only
 * include/spar/. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "spar/spar_ann.h"

static void ann_usage(FILE *f) {
    fprintf(f,
            "usage: spar ann build  --input VECS --output FILE [--type hnsw|flat|ivf|binary|binary-hnsw|binary-ivf]\n"
            "                       [--metric l2|ip|cosine] [--M 16] [--ef-construction 200] [--storage f32|sq8|pq]\n"
            "                       [--nlist 1024] [--pq-m M] [--threads N] [--bits B (binary raw input)]\n"
            "       spar ann search --index FILE --queries VECS [--k 10] [--ef 64] [--nprobe 16] [--rerank R]\n"
            "                       [--threads N]\n"
            "\n"
            "VECS is .fvecs (int32 dim, then dim float32, per vector) for float indexes, or raw packed codes\n"
            "(B/8 bytes per code) for binary types. Storage: hnsw f32|sq8 (sq8 keeps floats for --rerank),\n"
            "ivf f32|sq8|pq. search prints one JSON line per query:\n"
            "  {\"query\":0,\"ids\":[...],\"dists\":[...]}   (distances: L2 squared, -dot, or Hamming bits)\n");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read a whole file; *len gets its size. NULL + message on failure. */
static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "spar ann: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "spar ann: %s: read failed\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Parse .fvecs into a contiguous float array. Every record must have the same dim. */
static float *read_fvecs(const char *path, uint64_t *n, uint32_t *dim) {
    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    if (buf == NULL) return NULL;
    int32_t d = 0;
    if (len < 4 || (memcpy(&d, buf, 4), d <= 0) || d > (1 << 20)) {
        fprintf(stderr, "spar ann: %s: byte 0: invalid dimension %d (not an .fvecs file?)\n", path, d);
        free(buf);
        return NULL;
    }
    size_t rec = 4 + (size_t)d * 4;
    if (len % rec != 0) {
        fprintf(stderr, "spar ann: %s: size %zu is not a multiple of the record size %zu (dim %d): truncated?\n",
                path, len, rec, d);
        free(buf);
        return NULL;
    }
    *n = len / rec;
    *dim = (uint32_t)d;
    float *out = malloc(*n * (size_t)d * 4 + 1);
    if (out == NULL) { free(buf); return NULL; }
    for (uint64_t i = 0; i < *n; i++) {
        int32_t di;
        memcpy(&di, buf + i * rec, 4);
        if (di != d) {
            fprintf(stderr, "spar ann: %s: byte %llu: record %llu has dim %d, expected %d\n", path,
                    (unsigned long long)(i * rec), (unsigned long long)i, di, d);
            free(buf);
            free(out);
            return NULL;
        }
        memcpy(out + i * (size_t)d, buf + i * rec + 4, (size_t)d * 4);
        for (int32_t j = 0; j < d; j++) /* a NaN/inf vector silently breaks the graph and the rankings */
            if (!isfinite(out[i * (size_t)d + (size_t)j])) {
                fprintf(stderr, "spar ann: %s: byte %llu: record %llu component %d is not a finite number\n", path,
                        (unsigned long long)(i * rec + 4 + (uint64_t)j * 4), (unsigned long long)i, (int)j);
                free(buf);
                free(out);
                return NULL;
            }
    }
    free(buf);
    return out;
}

static const char *arg_val(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "spar ann: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static int ann_build(int argc, char **argv) {
    const char *input = NULL, *output = NULL, *type = "hnsw", *metric_s = "l2";
    spar_hnsw_opts o;
    spar_hnsw_opts_default(&o);
    uint32_t bits = 0;
    const char *storage = "f32";
    spar_ivf_opts io;
    spar_ivf_opts_default(&io);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input")) input = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--output")) output = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--type")) type = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--metric")) metric_s = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--M")) o.M = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--ef-construction")) o.ef_construction = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--threads")) o.n_threads = atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--bits")) bits = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--storage")) storage = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--nlist")) io.nlist = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--pq-m")) io.pq_m = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--help")) { ann_usage(stdout); return 0; }
        else { fprintf(stderr, "spar ann build: unknown option %s\n", argv[i]); ann_usage(stderr); return 2; }
    }
    if (input == NULL || output == NULL) { ann_usage(stderr); return 2; }
    spar_metric metric = !strcmp(metric_s, "ip") ? SPAR_METRIC_IP : !strcmp(metric_s, "cosine") ? SPAR_METRIC_COSINE
                                                                                               : SPAR_METRIC_L2;
    if (strcmp(metric_s, "l2") && strcmp(metric_s, "ip") && strcmp(metric_s, "cosine")) {
        fprintf(stderr, "spar ann build: unknown metric '%s' (l2, ip, cosine)\n", metric_s);
        return 2;
    }
    spar_ann *ix = NULL;
    spar_status st;
    double t0 = now_s();
    uint64_t n = 0;
    if (strcmp(storage, "f32") && strcmp(storage, "sq8") && strcmp(storage, "pq")) {
        fprintf(stderr, "spar ann build: unknown storage '%s' (f32, sq8, pq)\n", storage);
        return 2;
    }
    o.storage = !strcmp(storage, "sq8") ? SPAR_HNSW_SQ8 : SPAR_HNSW_F32;
    io.storage = !strcmp(storage, "sq8") ? SPAR_IVF_SQ8 : !strcmp(storage, "pq") ? SPAR_IVF_PQ : SPAR_IVF_FLAT;
    io.n_threads = o.n_threads;
    if (!strncmp(type, "binary", 6)) {
        if (bits == 0 || bits % 64 != 0) { fprintf(stderr, "spar ann build: --bits must be a multiple of 64\n"); return 2; }
        size_t len = 0;
        uint8_t *codes = slurp(input, &len);
        if (codes == NULL) return 3;
        if (len % (bits / 8) != 0) {
            fprintf(stderr, "spar ann: %s: size %zu is not a multiple of %u-byte codes\n", input, len, bits / 8);
            free(codes);
            return 4;
        }
        n = len / (bits / 8);
        if (!strcmp(type, "binary")) st = spar_ann_binary_flat_build(codes, n, bits, &ix);
        else if (!strcmp(type, "binary-hnsw")) st = spar_ann_binary_hnsw_build(codes, n, bits, &o, &ix);
        else if (!strcmp(type, "binary-ivf")) st = spar_ann_binary_ivf_build(codes, n, bits, &io, &ix);
        else { fprintf(stderr, "spar ann build: unknown type '%s'\n", type); free(codes); return 2; }
        free(codes);
    } else {
        uint32_t dim = 0;
        float *v = read_fvecs(input, &n, &dim);
        if (v == NULL) return 4;
        if (!strcmp(type, "flat")) st = spar_ann_flat_build(v, n, dim, metric, &ix);
        else if (!strcmp(type, "hnsw")) st = spar_ann_hnsw_build(v, n, dim, metric, &o, &ix);
        else if (!strcmp(type, "ivf")) st = spar_ann_ivf_build(v, n, dim, metric, &io, &ix);
        else { fprintf(stderr, "spar ann build: unknown type '%s'\n", type); free(v); return 2; }
        free(v);
    }
    if (st != SPAR_OK) {
        fprintf(stderr, "spar ann build: %s\n", spar_status_str(st));
        return spar_exit_code(st);
    }
    double tb = now_s() - t0;
    spar_diag d = {{0}};
    st = spar_ann_save(ix, output, &d);
    spar_ann_free(ix);
    if (st != SPAR_OK) {
        fprintf(stderr, "spar ann build: %s\n", d.msg[0] ? d.msg : spar_status_str(st));
        return spar_exit_code(st);
    }
    printf("{\"index\":\"%s\",\"type\":\"%s\",\"n\":%llu,\"build_seconds\":%.3f}\n", output, type,
           (unsigned long long)n, tb);
    return 0;
}

static int ann_search(int argc, char **argv) {
    const char *index = NULL, *queries = NULL;
    uint32_t k = 10;
    spar_ann_params prm;
    spar_ann_params_default(&prm);
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--index")) index = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--queries")) queries = arg_val(argc, argv, &i);
        else if (!strcmp(argv[i], "--k")) k = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--ef")) prm.ef = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--nprobe")) prm.nprobe = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--rerank")) prm.rerank = (uint32_t)atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--threads")) threads = atoi(arg_val(argc, argv, &i));
        else if (!strcmp(argv[i], "--help")) { ann_usage(stdout); return 0; }
        else { fprintf(stderr, "spar ann search: unknown option %s\n", argv[i]); ann_usage(stderr); return 2; }
    }
    if (index == NULL || queries == NULL || k == 0 || k > 100000) { ann_usage(stderr); return 2; }
    spar_diag d = {{0}};
    spar_ann *ix = NULL;
    spar_status st = spar_ann_load(index, &ix, &d);
    if (st != SPAR_OK) {
        fprintf(stderr, "spar ann search: %s\n", d.msg[0] ? d.msg : spar_status_str(st));
        return spar_exit_code(st);
    }
    void *q = NULL;
    uint64_t nq = 0;
    if (spar_ann_is_binary(ix)) {
        size_t len = 0, cb = spar_ann_dim(ix) / 8;
        q = slurp(queries, &len);
        if (q != NULL && len % cb != 0) {
            fprintf(stderr, "spar ann: %s: size %zu is not a multiple of %zu-byte codes\n", queries, len, cb);
            free(q);
            q = NULL;
        }
        nq = q ? len / cb : 0;
    } else {
        uint32_t dim = 0;
        q = read_fvecs(queries, &nq, &dim);
        if (q != NULL && dim != spar_ann_dim(ix)) {
            fprintf(stderr, "spar ann: %s: query dim %u, index dim %u\n", queries, dim, spar_ann_dim(ix));
            free(q);
            q = NULL;
        }
    }
    if (q == NULL) { spar_ann_free(ix); return 4; }
    spar_ann_hit *hits = malloc(sizeof *hits * (size_t)nq * k + 1);
    size_t *nh = malloc(sizeof *nh * (size_t)nq + 1);
    if (hits == NULL || nh == NULL) { free(q); free(hits); free(nh); spar_ann_free(ix); return 1; }
    st = spar_ann_search_batch(ix, q, nq, k, &prm, hits, nh, threads);
    if (st == SPAR_OK) {
        for (uint64_t i = 0; i < nq; i++) {
            printf("{\"query\":%llu,\"ids\":[", (unsigned long long)i);
            for (size_t j = 0; j < nh[i]; j++) printf("%s%u", j ? "," : "", hits[i * k + j].id);
            printf("],\"dists\":[");
            for (size_t j = 0; j < nh[i]; j++) printf("%s%.6g", j ? "," : "", hits[i * k + j].dist);
            printf("]}\n");
        }
    } else {
        fprintf(stderr, "spar ann search: %s\n", spar_status_str(st));
    }
    free(q), free(hits), free(nh);
    spar_ann_free(ix);
    return spar_exit_code(st);
}

int spar_cmd_ann(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        ann_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "build")) return ann_build(argc - 1, argv + 1);
    if (!strcmp(argv[1], "search")) return ann_search(argc - 1, argv + 1);
    fprintf(stderr, "spar ann: unknown subcommand '%s'\n", argv[1]);
    ann_usage(stderr);
    return 2;
}
