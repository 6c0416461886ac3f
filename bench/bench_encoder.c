/* bench_encoder.c — throughput of the C transformer (encoders/model) and the reference-dump driver used by
 * tests/cli/transformer_reference.sh.
 *
 *   bench_encoder bench [--models bert,distilbert] [--lens 128,256] [--batches 1,32] [--reps R]
 *                       [--weights f32,bf16,int8]
 *       random-weight bert-base (12 layers) and distilbert (6 layers) shapes built in memory; the weight modes
 *       are alternated inside each of R rounds; one JSON line per (model, length, batch, weights): median wall
 *       and process-CPU seconds of the encoder and of encoder + SPLADE head, seq/s, and the ratios against the
 *       first listed mode. Threads: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS from the environment (2 in the
 *       docs); the OpenBLAS kernel set (OPENBLAS_CORETYPE) is printed as "blas".
 *   bench_encoder serve MODEL_DIR
 *       loads a model folder and answers one command per stdin line with one JSON line on stdout, so that a
 *       driver can alternate spar with another engine in one run (bench/ort/bench_ort.js):
 *         encoder LEN BATCH REPS | splade LEN BATCH REPS   time the bare encoder / encoder + MLM head + SPLADE
 *                                                          max pooling on BATCH sequences of LEN ids (ids as in
 *                                                          bench_ort.js); median and best of REPS
 *         splade-pruned LEN BATCH REPS                     the same with exact vocabulary pruning (the bound is
 *                                                          built once at start-up; its time is in the ready line)
 *         sgemm                                            OpenBLAS sgemm 256x3072x768 GFLOP/s (best of 5)
 *   bench_encoder prune MODEL_DIR IDS_FILE [RANK]
 *       exact vocabulary pruning on a real folder: SPLADE max pooling of the sequences of IDS_FILE with and
 *       without the bound (rank RANK, default 64), one JSON line: rows skipped, head times, and the check
 *       that both outputs have the same non-zeros (mismatches) and weights (max_abs_diff).
 *   bench_encoder compare MODEL_DIR IDS_FILE
 *       accuracy of the bf16 and int8 paths against fp32 on one model and the sequences of IDS_FILE: max / mean
 *       |delta logit|, max |delta hidden|, SPLADE cosine and top-64 / top-256 overlap per sequence, support
 *       mismatches, [CLS] cosine; one JSON line per mode.
 *   bench_encoder dump MODEL_DIR IDS_FILE OUT_DIR [--bf16|--int8|--bf16-round|--int8-round]
 *       runs the model (--bf16 / --int8: the packed reduced-precision path; -round: the fp32 emulation) on the sequences of IDS_FILE (one per line, space-separated ids) and writes
 *       logits.f32, hidden.f32, splade_max.f32, splade_sum.f32, dense_cls.f32, dense_mean.f32 in the
 *       layout of tests/python/ref_bert.py.
 * Links the internal model API (encoders/model/bert.h, heads.h): this is a harness for that layer. */
#include <cblas.h>
#include <math.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/model/bert.h"
#include "encoders/model/heads.h"

static int write_f32(const char *dir, const char *name, const float *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) { perror(path); return 1; }
    size_t w = fwrite(p, sizeof(float), n, f);
    fclose(f);
    return w == n ? 0 : 1;
}

static int read_ids(const char *path, uint32_t **ids, uint32_t **lens, size_t *n_seqs, size_t *T) {
    FILE *f = fopen(path, "r");
    if (f == NULL) { perror(path); return 1; }
    size_t cap_i = 1024, cap_s = 16;
    *ids = malloc(cap_i * sizeof **ids);
    *lens = malloc(cap_s * sizeof **lens);
    *n_seqs = *T = 0;
    char line[65536];
    while (fgets(line, sizeof line, f) != NULL) {
        char *p = line, *e;
        uint32_t n = 0;
        for (;;) {
            unsigned long v = strtoul(p, &e, 10);
            if (e == p) break;
            if (*T == cap_i) *ids = realloc(*ids, (cap_i *= 2) * sizeof **ids);
            (*ids)[(*T)++] = (uint32_t)v;
            n++;
            p = e;
        }
        if (n == 0) continue;
        if (*n_seqs == cap_s) *lens = realloc(*lens, (cap_s *= 2) * sizeof **lens);
        (*lens)[(*n_seqs)++] = n;
    }
    fclose(f);
    return 0;
}

/* SPLADE pooling with the model's current weights (fp32 or the packed decoder). */
static spar_status splade(const spar_bert *m, const spar_lowp_mat *dec_lp, const float *h2, const uint32_t *lens,
                          size_t n, spar_splade_pooling pool, float *out) {
    size_t d = m->cfg.hidden, V = m->cfg.vocab_size;
    if (dec_lp != NULL) return spar_splade_pool_lowp(h2, lens, n, d, dec_lp, m->dec_b, V, pool, out);
    if (m->dec_p != NULL) return spar_splade_pool_packed(h2, lens, n, d, m->dec_p, m->dec_tail_p, m->dec_b, V, pool, out);
    return spar_splade_pool(h2, lens, n, d, m->dec_w, m->dec_b, V, pool, out);
}

static int cmd_dump(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: bench_encoder dump MODEL_DIR IDS_FILE OUT_DIR [--bf16|--int8]\n"); return 2; }
    spar_diag diag = {{0}};
    spar_bert *m = NULL;
    spar_status st = spar_bert_load(argv[2], &m, &diag);
    if (st != SPAR_OK) { fprintf(stderr, "load: %s: %s\n", spar_status_str(st), diag.msg); return 1; }
    /* --bf16 / --int8: the real reduced-precision path (packed weights, fp32 copies freed, as the encoder
     * API does); --bf16-round / --int8-round: the older emulation (weights rounded, fp32 compute). */
    int mode = 0;
    if (argc > 5 && strcmp(argv[5], "--bf16") == 0) mode = 1;
    if (argc > 5 && strcmp(argv[5], "--int8") == 0) mode = 2;
    if (argc > 5 && strcmp(argv[5], "--bf16-round") == 0) spar_bert_round_bf16(m);
    if (argc > 5 && strcmp(argv[5], "--int8-round") == 0) spar_bert_round_int8(m);
    if (mode != 0 && spar_bert_set_weights(m, mode, 1) != SPAR_OK) { fprintf(stderr, "packing failed\n"); return 1; }
    const spar_lowp_mat *dec_lp = spar_bert_lowp_decoder(m);
    uint32_t *ids, *lens;
    size_t n, T;
    if (read_ids(argv[3], &ids, &lens, &n, &T) != 0 || n == 0) return 1;
    size_t d = m->cfg.hidden, V = m->cfg.vocab_size;
    float *h = malloc(T * d * sizeof(float)), *pooled = malloc(n * d * sizeof(float));
    int rc = 1;
    double t0 = spar_now();
    st = spar_bert_forward(m, ids, lens, n, h);
    double t1 = spar_now();
    if (st != SPAR_OK) { fprintf(stderr, "forward: %s\n", spar_status_str(st)); goto out; }
    if (write_f32(argv[4], "hidden.f32", h, T * d)) goto out;
    spar_dense_pool(h, lens, n, d, SPAR_DENSE_CLS, 0, pooled);
    if (write_f32(argv[4], "dense_cls.f32", pooled, n * d)) goto out;
    spar_dense_pool(h, lens, n, d, SPAR_DENSE_MEAN, 0, pooled);
    if (write_f32(argv[4], "dense_mean.f32", pooled, n * d)) goto out;
    if (m->has_mlm) {
        float *h2 = malloc(T * d * sizeof(float)), *lg = malloc(T * V * sizeof(float)), *sp = malloc(n * V * sizeof(float));
        if (spar_bert_mlm_transform(m, h, T, h2) != SPAR_OK || spar_bert_mlm_logits(m, h2, T, lg) != SPAR_OK ||
            write_f32(argv[4], "logits.f32", lg, T * V)) goto out;
        double t2 = spar_now();
        if (splade(m, dec_lp, h2, lens, n, SPAR_SPLADE_MAX, sp) != SPAR_OK ||
            write_f32(argv[4], "splade_max.f32", sp, n * V)) goto out;
        double t3 = spar_now();
        if (splade(m, dec_lp, h2, lens, n, SPAR_SPLADE_SUM, sp) != SPAR_OK ||
            write_f32(argv[4], "splade_sum.f32", sp, n * V)) goto out;
        fprintf(stderr, "  C: %zu seqs, %zu tokens: encoder %.3f s, SPLADE max head %.3f s\n", n, T, t1 - t0, t3 - t2);
        free(h2);
        free(lg);
        free(sp);
    }
    rc = 0;
out:
    free(h);
    free(pooled);
    free(ids);
    free(lens);
    spar_bert_free(m);
    return rc;
}

static int cmd_prune(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: bench_encoder prune MODEL_DIR IDS_FILE [RANK]\n"); return 2; }
    spar_diag diag = {{0}};
    spar_bert *m = NULL;
    spar_status st = spar_bert_load(argv[2], &m, &diag);
    if (st != SPAR_OK) { fprintf(stderr, "load: %s: %s\n", spar_status_str(st), diag.msg); return 1; }
    if (!m->has_mlm) { fprintf(stderr, "%s: no MLM head\n", argv[2]); return 1; }
    uint32_t *ids, *lens;
    size_t n, T, d = m->cfg.hidden, V = m->cfg.vocab_size, k = argc > 4 ? (size_t)atoi(argv[4]) : 0;
    if (read_ids(argv[3], &ids, &lens, &n, &T) != 0 || n == 0) return 1;
    float *h = malloc(T * d * 4), *h2 = malloc(T * d * 4), *full = malloc(n * V * 4), *pr = malloc(n * V * 4);
    spar_splade_bound *bd = NULL;
    spar_splade_stats stats = {0, 0};
    if (h == NULL || h2 == NULL || full == NULL || pr == NULL) { fprintf(stderr, "out of memory\n"); return 1; }
    double t0 = spar_now();
    if (spar_splade_bound_build(m->dec_w, V, d, k, &bd) != SPAR_OK) return 1;
    double t1 = spar_now();
    if (spar_bert_forward(m, ids, lens, n, h) != SPAR_OK || spar_bert_mlm_transform(m, h, T, h2) != SPAR_OK) return 1;
    spar_splade_bound_set_adaptive(bd, 0);
    double t2 = spar_now();
    if (spar_splade_pool(h2, lens, n, d, m->dec_w, m->dec_b, V, SPAR_SPLADE_MAX, full) != SPAR_OK) return 1;
    double t3 = spar_now();
    if (spar_splade_pool_pruned(bd, h2, lens, n, d, m->dec_w, m->dec_b, V, SPAR_SPLADE_MAX, 0.0f, pr, &stats) != SPAR_OK)
        return 1;
    double t4 = spar_now(), maxd = 0;
    size_t mism = 0, nnz = 0;
    for (size_t i = 0; i < n * V; i++) {
        mism += (full[i] > 0) != (pr[i] > 0);
        nnz += full[i] > 0;
        maxd = fmax(maxd, fabs((double)full[i] - pr[i]));
    }
    printf("{\"seqs\":%zu,\"tokens\":%zu,\"rank\":%zu,\"bound_build_s\":%.3f,\"head_s\":%.4f,\"pruned_head_s\":%.4f,"
           "\"rows_skipped\":%.4f,\"nnz\":%zu,\"mismatches\":%zu,\"max_abs_diff\":%.3g}\n",
           n, T, k, t1 - t0, t3 - t2, t4 - t3, stats.rows_total ? (double)stats.rows_skipped / (double)stats.rows_total : 0.0,
           nnz, mism, maxd);
    spar_splade_bound_free(bd);
    spar_bert_free(m);
    free(h); free(h2); free(full); free(pr); free(ids); free(lens);
    return mism == 0 && maxd <= 1e-5 ? 0 : 1;
}

/* ------------------------------------------------------------------ compare (accuracy of bf16 / int8) */

typedef struct scored_id { float w; uint32_t id; } scored_id;
static int by_w_desc(const void *a, const void *b) {
    const scored_id *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* |top-k(a) intersect top-k(b)| / k over one row of V weights (ties: lower id first). */
static double topk_overlap(const float *a, const float *b, size_t V, size_t k, scored_id *tmp, uint8_t *mark) {
    size_t hit = 0;
    for (size_t v = 0; v < V; v++) { tmp[v].w = a[v]; tmp[v].id = (uint32_t)v; }
    qsort(tmp, V, sizeof *tmp, by_w_desc);
    memset(mark, 0, V);
    for (size_t i = 0; i < k; i++) mark[tmp[i].id] = 1;
    for (size_t v = 0; v < V; v++) { tmp[v].w = b[v]; tmp[v].id = (uint32_t)v; }
    qsort(tmp, V, sizeof *tmp, by_w_desc);
    for (size_t i = 0; i < k; i++) hit += mark[tmp[i].id];
    return (double)hit / (double)k;
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

/* bench_encoder compare MODEL_DIR IDS_FILE: the fp32 path against the bf16 and int8 paths on the same model
 * and inputs; one JSON line per mode. */
static int cmd_compare(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: bench_encoder compare MODEL_DIR IDS_FILE\n"); return 2; }
    spar_diag diag = {{0}};
    spar_bert *m = NULL;
    spar_status st = spar_bert_load(argv[2], &m, &diag);
    if (st != SPAR_OK) { fprintf(stderr, "load: %s: %s\n", spar_status_str(st), diag.msg); return 1; }
    if (!m->has_mlm) { fprintf(stderr, "%s: no MLM head\n", argv[2]); return 1; }
    uint32_t *ids, *lens;
    size_t n, T;
    if (read_ids(argv[3], &ids, &lens, &n, &T) != 0 || n == 0) return 1;
    size_t d = m->cfg.hidden, V = m->cfg.vocab_size;
    float *h[3], *lg[3], *sp[3], *h2 = malloc(T * d * 4), *cls = malloc(n * d * 4), *cls0 = malloc(n * d * 4);
    scored_id *tmp = malloc(V * sizeof *tmp);
    uint8_t *mark = malloc(V);
    for (int md = 0; md < 3; md++) {
        h[md] = malloc(T * d * 4);
        lg[md] = malloc(T * V * 4);
        sp[md] = malloc(n * V * 4);
        if (h[md] == NULL || lg[md] == NULL || sp[md] == NULL) { fprintf(stderr, "out of memory\n"); return 1; }
        if (spar_bert_set_weights(m, md, 0) != SPAR_OK || spar_bert_forward(m, ids, lens, n, h[md]) != SPAR_OK ||
            spar_bert_mlm_transform(m, h[md], T, h2) != SPAR_OK || spar_bert_mlm_logits(m, h2, T, lg[md]) != SPAR_OK ||
            splade(m, spar_bert_lowp_decoder(m), h2, lens, n, SPAR_SPLADE_MAX, sp[md]) != SPAR_OK) {
            fprintf(stderr, "run failed (mode %d)\n", md);
            return 1;
        }
    }
    spar_dense_pool(h[0], lens, n, d, SPAR_DENSE_CLS, 0, cls0);
    static const char *const names[3] = {"f32", "bf16", "int8"};
    for (int md = 1; md < 3; md++) {
        double dl = 0, lmax = 0, dh = 0, sl = 0, dsp = 0, cs_min = 1, cs_sum = 0, o64 = 0, o256 = 0, o64min = 1, cls_min = 1;
        size_t supp = 0, nz = 0;
        for (size_t i = 0; i < T * V; i++) {
            dl = fmax(dl, fabs((double)lg[md][i] - lg[0][i]));
            lmax = fmax(lmax, fabs((double)lg[0][i]));
            sl += fabs((double)lg[md][i] - lg[0][i]);
        }
        for (size_t i = 0; i < T * d; i++) dh = fmax(dh, fabs((double)h[md][i] - h[0][i]));
        for (size_t i = 0; i < n * V; i++) {
            dsp = fmax(dsp, fabs((double)sp[md][i] - sp[0][i]));
            supp += (sp[md][i] > 0) != (sp[0][i] > 0);
            nz += sp[0][i] > 0;
        }
        spar_dense_pool(h[md], lens, n, d, SPAR_DENSE_CLS, 0, cls);
        for (size_t s = 0; s < n; s++) {
            double c = cosine(sp[md] + s * V, sp[0] + s * V, V), o = topk_overlap(sp[0] + s * V, sp[md] + s * V, V, 64, tmp, mark);
            cs_min = fmin(cs_min, c);
            cs_sum += c;
            o64 += o;
            o64min = fmin(o64min, o);
            o256 += topk_overlap(sp[0] + s * V, sp[md] + s * V, V, 256, tmp, mark);
            cls_min = fmin(cls_min, cosine(cls + s * d, cls0 + s * d, d));
        }
        printf("{\"weights\":\"%s\",\"seqs\":%zu,\"tokens\":%zu,\"max_abs_dlogit\":%.4g,\"mean_abs_dlogit\":%.4g,"
               "\"max_abs_logit\":%.4g,\"max_abs_dhidden\":%.4g,\"splade_max_abs_d\":%.4g,\"splade_cos_min\":%.6f,"
               "\"splade_cos_mean\":%.6f,\"top64_overlap_mean\":%.4f,\"top64_overlap_min\":%.4f,\"top256_overlap_mean\":%.4f,"
               "\"support_mismatch\":%zu,\"nnz\":%zu,\"cls_cos_min\":%.6f}\n",
               names[md], n, T, dl, sl / (double)(T * V), lmax, dh, dsp, cs_min, cs_sum / n, o64 / n, o64min, o256 / n, supp,
               nz, cls_min);
    }
    fflush(stdout);
    for (int md = 0; md < 3; md++) { free(h[md]); free(lg[md]); free(sp[md]); }
    free(h2); free(cls); free(cls0); free(tmp); free(mark); free(ids); free(lens);
    spar_bert_free(m);
    return 0;
}

/* ------------------------------------------------------------------ bench */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((float)(rng >> 40) / 16777216.0f - 0.5f) * 0.04f;
}

static float *filled(size_t n, int ones) {
    /* 64-byte aligned like spar_bert_load's buffers, so the weights are packed in place as on the real path */
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (p == NULL) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) p[i] = ones ? 1.0f : frand();
    return p;
}

/* Build a random model of the given shape in memory (no files: the bench measures compute only). */
static spar_bert *random_model(spar_arch arch, uint32_t layers) {
    spar_bert *m = calloc(1, sizeof *m);
    spar_model_config *c = &m->cfg;
    c->arch = arch;
    c->vocab_size = 30522;
    c->hidden = 768;
    c->n_layers = layers;
    c->n_heads = 12;
    c->intermediate = 3072;
    c->max_positions = 512;
    c->type_vocab_size = arch == SPAR_ARCH_BERT ? 2 : 0;
    c->ln_eps = 1e-12f;
    size_t d = 768, f = 3072, V = 30522;
#define RND(n) filled((n), 0)
#define ONES(n) filled((n), 1)
    m->word_emb = RND(V * d);
    m->pos_emb = RND(512 * d);
    m->type_emb = arch == SPAR_ARCH_BERT ? RND(2 * d) : NULL;
    m->emb_ln_g = ONES(d);
    m->emb_ln_b = RND(d);
    m->layers = calloc(layers, sizeof *m->layers);
    for (uint32_t i = 0; i < layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        y->qkv_w = RND(3 * d * d); y->qkv_b = RND(3 * d);
        y->o_w = RND(d * d); y->o_b = RND(d);
        y->ln1_g = ONES(d); y->ln1_b = RND(d);
        y->ff1_w = RND(f * d); y->ff1_b = RND(f);
        y->ff2_w = RND(d * f); y->ff2_b = RND(d);
        y->ln2_g = ONES(d); y->ln2_b = RND(d);
    }
    m->has_mlm = 1;
    m->tr_w = RND(d * d); m->tr_b = RND(d); m->tr_ln_g = ONES(d); m->tr_ln_b = RND(d);
    m->dec_w = m->word_emb;
    m->dec_b = RND(V);
#undef RND
#undef ONES
    return m;
}

static void free_random_model(spar_bert *m) {
    free(m->word_emb); free(m->pos_emb); free(m->type_emb); free(m->emb_ln_g); free(m->emb_ln_b);
    for (uint32_t i = 0; i < m->cfg.n_layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        free(y->qkv_w); free(y->qkv_b); free(y->o_w); free(y->o_b); free(y->ln1_g); free(y->ln1_b);
        free(y->ff1_w); free(y->ff1_b); free(y->ff2_w); free(y->ff2_b); free(y->ln2_g); free(y->ln2_b);
    }
    free(m->tr_w); free(m->tr_b); free(m->tr_ln_g); free(m->tr_ln_b); free(m->dec_b);
    spar_bert_free(m); /* the packed weights, the layer array and m (it owns no fp32 buffer) */
}

static double sgemm_gflops(void) {
    int M = 256, N = 3072, K = 768;
    float *a = malloc((size_t)M * K * 4), *b = malloc((size_t)N * K * 4), *c = malloc((size_t)M * N * 4);
    for (int i = 0; i < M * K; i++) a[i] = frand();
    for (int i = 0; i < N * K; i++) b[i] = frand();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = spar_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        best = fmin(best, spar_now() - t0);
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / best / 1e9;
}

static double encoder_flops(const spar_model_config *c, double n) {
    double d = c->hidden, f = c->intermediate;
    return c->n_layers * (n * (2 * d * 3 * d + 2 * d * d + 4 * d * f) + 4 * n * n * d);
}

/* Encoder plus the full (unpruned) MLM head: the work ONNX Runtime does for the same graph. */
static double model_flops(const spar_model_config *c, double n) {
    double d = c->hidden, V = c->vocab_size;
    return encoder_flops(c, n) + n * (2 * d * d + 2 * d * V);
}

/* CPU seconds (user + system, all threads) this process has used so far. */
static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Peak resident set of this process image: VmHWM from /proc/self/status (reset by exec). getrusage's
 * ru_maxrss is not usable here: Linux carries it over fork + exec, so a child of a large driver (node with
 * ONNX Runtime loaded) would report the parent's size. -1 when unavailable. */
static double max_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = atof(line + 6);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One JSON line per stdin command; see the file comment. Ids: token t of sequence s is
 * 1000 + ((s * len + t) * 7919) % 29000, the formula bench_ort.js uses. */
static int cmd_serve(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: bench_encoder serve MODEL_DIR\n"); return 2; }
    spar_diag diag = {{0}};
    spar_bert *m = NULL;
    spar_status st = spar_bert_load(argv[2], &m, &diag);
    if (st != SPAR_OK) { fprintf(stderr, "load: %s: %s\n", spar_status_str(st), diag.msg); return 1; }
    spar_splade_bound *bd = NULL;
    double tb = spar_now();
    if (m->has_mlm && spar_splade_bound_build(m->dec_w, m->cfg.vocab_size, m->cfg.hidden, 0, &bd) != SPAR_OK) {
        fprintf(stderr, "bound: out of memory\n");
        return 1;
    }
    printf("{\"ready\":true,\"bound_build_s\":%.3f}\n", spar_now() - tb);
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char what[32] = "";
        int len = 0, batch = 0, reps = 0;
        if (sscanf(line, "%31s %d %d %d", what, &len, &batch, &reps) < 1) continue;
        if (strcmp(what, "quit") == 0) break;
        if (strcmp(what, "sgemm") == 0) {
            printf("{\"sgemm_gflops\":%.1f}\n", sgemm_gflops());
            fflush(stdout);
            continue;
        }
        int pruned = strcmp(what, "splade-pruned") == 0, splade = pruned || strcmp(what, "splade") == 0;
        if ((!splade && strcmp(what, "encoder") != 0) || len < 1 || len > (int)m->cfg.max_positions || batch < 1 ||
            reps < 1 || reps > 64 || (splade && !m->has_mlm)) {
            printf("{\"error\":\"bad command\"}\n");
            fflush(stdout);
            continue;
        }
        size_t n = (size_t)len, B = (size_t)batch, T = n * B, d = m->cfg.hidden, V = m->cfg.vocab_size;
        uint32_t *ids = malloc(T * 4), *ls = malloc(B * 4);
        float *h = malloc(T * d * 4), *h2 = malloc(T * d * 4), *sp = malloc(B * V * 4);
        double times[64];
        if (ids == NULL || ls == NULL || h == NULL || h2 == NULL || sp == NULL) { fprintf(stderr, "out of memory\n"); return 1; }
        /* bench_ort.js's formula; the modulo only matters for tiny test vocabularies (< 30000 ids). */
        for (size_t t = 0; t < T; t++) ids[t] = (uint32_t)((1000 + (t * 7919) % 29000) % m->cfg.vocab_size);
        for (size_t s = 0; s < B; s++) ls[s] = (uint32_t)n;
        double check = 0;
        spar_splade_stats stats = {0, 0};
        double cpu0 = cpu_seconds();
        for (int r = 0; r < reps; r++) {
            double t0 = spar_now();
            st = spar_bert_forward(m, ids, ls, B, h);
            if (st == SPAR_OK && splade) {
                st = spar_bert_mlm_transform(m, h, T, h2);
                if (st == SPAR_OK)
                    st = spar_splade_pool_pruned(pruned ? bd : NULL, h2, ls, B, d, m->dec_w, m->dec_b, V, SPAR_SPLADE_MAX,
                                                 0.0f, sp, &stats);
            }
            times[r] = spar_now() - t0;
            if (st != SPAR_OK) {
                fprintf(stderr, "run: %s\n", spar_status_str(st));
                free(ids); free(ls); free(h); free(h2); free(sp);
                spar_splade_bound_free(bd);
                spar_bert_free(m);
                return 1;
            }
        }
        double cpu_per_rep = (cpu_seconds() - cpu0) / reps;
        /* A checksum the driver compares with ONNX Runtime's output: sum and non-zero count. */
        size_t nnz = 0;
        if (splade) {
            for (size_t i = 0; i < B * V; i++) { check += sp[i]; nnz += sp[i] > 0; }
        } else {
            for (size_t i = 0; i < T * d; i++) check += h[i];
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        double med = times[reps / 2], fl = (splade ? model_flops(&m->cfg, (double)n) : encoder_flops(&m->cfg, (double)n)) * (double)B;
        printf("{\"engine\":\"spar\",\"graph\":\"%s\",\"len\":%d,\"batch\":%d,\"reps\":%d,\"median_s\":%.5f,"
               "\"best_s\":%.5f,\"seq_per_s\":%.3f,\"gflops\":%.1f,\"checksum\":%.6g,\"nnz\":%zu,\"skipped\":%.4f,"
               "\"max_rss_mb\":%.1f,\"cpu_s\":%.4f}\n",
               what, len, batch, reps, med, times[0], (double)B / med, fl / med / 1e9, check, nnz,
               stats.rows_total ? (double)stats.rows_skipped / (double)stats.rows_total : 0.0, max_rss_mb(), cpu_per_rep);
        fflush(stdout);
        free(ids); free(ls); free(h); free(h2); free(sp);
    }
    spar_splade_bound_free(bd);
    spar_bert_free(m);
    return 0;
}

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        out[n++] = atoi(s);
        const char *c = strchr(s, ',');
        if (c == NULL) break;
        s = c + 1;
    }
    return n;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Bench weight modes: spar_bert_set_weights' 0-2, and 3 = fp32 with the decoder packed once (f32dec; the
 * others run with the row-major decoder, which the SPLADE head packs per call and block). */
static spar_status set_mode(spar_bert *m, int mode) {
    SPAR_TRY(spar_bert_set_weights(m, mode == 3 ? 0 : mode, 0));
    return mode == 3 ? spar_bert_pack_decoder(m) : spar_bert_unpack_decoder(m);
}

/* Alternates the weight modes of --weights inside every round (f32, bf16, int8, f32, bf16, ...), so each mode
 * sees the same host load; medians over rounds. Per mode and shape one JSON line: wall seconds of the encoder
 * and of encoder + MLM transform + SPLADE max pooling, process CPU seconds of the latter, and the ratios
 * against the f32 run of the same shape (f32 must be listed first for the ratios). */
static int cmd_bench(int argc, char **argv) {
    int lens[8] = {128, 256}, n_lens = 2, batches[8] = {1, 32}, n_b = 2, reps = 1, modes[4] = {0}, n_modes = 1;
    const char *models = "bert,distilbert";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--lens") == 0) n_lens = parse_list(argv[i + 1], lens, 8);
        else if (strcmp(argv[i], "--batches") == 0) n_b = parse_list(argv[i + 1], batches, 8);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--models") == 0) models = argv[i + 1];
        else if (strcmp(argv[i], "--weights") == 0) {
            n_modes = 0;
            for (const char *w = argv[i + 1]; *w && n_modes < 4;) {
                modes[n_modes++] = strncmp(w, "bf16", 4) == 0   ? 1
                                   : strncmp(w, "int8", 4) == 0 ? 2
                                   : strncmp(w, "f32dec", 6) == 0 ? 3 /* fp32, decoder packed once */
                                                                : 0;
                const char *c = strchr(w, ',');
                if (c == NULL) break;
                w = c + 1;
            }
        }
    }
    if (reps < 1 || reps > 64) reps = 1;
    static const char *const wname[4] = {"f32", "bf16", "int8", "f32dec"};
    const char *names[2] = {"bert-base", "distilbert-base"};
    for (int a = 0; a < 2; a++) {
        if (strstr(models, a == 0 ? "bert" : "distil") == NULL) continue;
        if (a == 0 && strncmp(models, "distil", 6) == 0 && strstr(models, ",bert") == NULL) continue;
        spar_bert *m = random_model(a == 0 ? SPAR_ARCH_BERT : SPAR_ARCH_DISTILBERT, a == 0 ? 12 : 6);
        for (int k = 0; k < n_modes; k++)
            if (set_mode(m, modes[k]) != SPAR_OK) { fprintf(stderr, "packing failed\n"); return 1; }
        for (int li = 0; li < n_lens; li++)
            for (int bi = 0; bi < n_b; bi++) {
                size_t n = (size_t)lens[li], B = (size_t)batches[bi], T = n * B, d = 768, V = 30522;
                uint32_t *ids = malloc(T * 4), *ls = malloc(B * 4);
                for (size_t t = 0; t < T; t++) ids[t] = (uint32_t)(1000 + (t * 7919) % 29000);
                for (size_t s = 0; s < B; s++) ls[s] = (uint32_t)n;
                float *h = malloc(T * d * 4), *h2 = malloc(T * d * 4), *sp = malloc(B * V * 4);
                double enc[3][64], tot[3][64], cpu[3][64], ecpu[3][64];
                for (int r = 0; r < reps; r++)
                    for (int k = 0; k < n_modes; k++) {
                        if (set_mode(m, modes[k]) != SPAR_OK) return 1;
                        double c0 = cpu_seconds(), t0 = spar_now();
                        if (spar_bert_forward(m, ids, ls, B, h) != SPAR_OK) return 1;
                        double t1 = spar_now(), c1 = cpu_seconds();
                        if (spar_bert_mlm_transform(m, h, T, h2) != SPAR_OK ||
                            splade(m, spar_bert_lowp_decoder(m), h2, ls, B, SPAR_SPLADE_MAX, sp) != SPAR_OK)
                            return 1;
                        double t2 = spar_now();
                        enc[k][r] = t1 - t0;
                        tot[k][r] = t2 - t0;
                        ecpu[k][r] = c1 - c0;
                        cpu[k][r] = cpu_seconds() - c0;
                    }
                double fl = model_flops(&m->cfg, (double)n) * (double)B, base_tot = 0, base_enc = 0, base_cpu = 0,
                       base_ecpu = 0;
                for (int k = 0; k < n_modes; k++) {
                    double me = median(enc[k], reps), mt = median(tot[k], reps), mc = median(cpu[k], reps),
                           mec = median(ecpu[k], reps);
                    if (k == 0) { base_tot = mt; base_enc = me; base_cpu = mc; base_ecpu = mec; }
                    printf("{\"bench\":\"encoder\",\"model\":\"%s\",\"weights\":\"%s\",\"blas\":\"%s\",\"len\":%zu,"
                           "\"batch\":%zu,\"reps\":%d,\"encoder_s\":%.4f,\"encoder_cpu_s\":%.4f,\"encoder_seq_per_s\":%.3f,"
                           "\"splade_s\":%.4f,\"splade_cpu_s\":%.4f,\"splade_seq_per_s\":%.3f,\"gflops\":%.1f,"
                           "\"vs_first_encoder_wall\":%.2f,\"vs_first_encoder_cpu\":%.2f,\"vs_first_splade_wall\":%.2f,"
                           "\"vs_first_splade_cpu\":%.2f}\n",
                           names[a], wname[modes[k]], openblas_get_corename(), n, B, reps, me, mec, (double)B / me, mt, mc,
                           (double)B / mt, fl / mt / 1e9, base_enc / me, base_ecpu / mec, base_tot / mt, base_cpu / mc);
                }
                fflush(stdout);
                free(ids); free(ls); free(h); free(h2); free(sp);
            }
        free_random_model(m);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "dump") == 0) return cmd_dump(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) return cmd_serve(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "prune") == 0) return cmd_prune(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "bench") == 0) return cmd_bench(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "compare") == 0) return cmd_compare(argc, argv);
    if (argc == 1) return cmd_bench(argc, argv);
    fprintf(stderr, "usage: bench_encoder bench [--lens 128,256] [--batches 1,32] [--reps R] [--models bert,distilbert]\n"
                    "                          [--weights f32,f32dec,bf16,int8]   (f32dec: fp32, decoder packed once)\n"
                    "       bench_encoder serve MODEL_DIR   (commands on stdin; see bench/ort/README.md)\n"
                    "       bench_encoder prune MODEL_DIR IDS_FILE [RANK]\n"
                    "       bench_encoder compare MODEL_DIR IDS_FILE\n"
                    "       bench_encoder dump MODEL_DIR IDS_FILE OUT_DIR [--bf16|--int8|--bf16-round|--int8-round]\n");
    return 2;
}
