/* test_encoder_fixture.c — the encoder API (include/spar/spar_encode.h) and the C transformer on the committed
 * tiny fixtures in tests/golden/data/encoder/{tiny-bert,tiny-distil}: random-weight HF folders written by
 * tests/python/make_model.py, with outputs of the PyTorch reference (tests/python/ref_bert.py run ... ids.txt)
 * in ref/. Logits, SPLADE (max), dense CLS/mean must agree within 1e-4; plus the API's options and errors.
 * Regenerate the fixture only on purpose (see docs/encoders/model.md). Needs SPAR_SRC (set by ctest). */
#include <CUnit/Basic.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/model/bert.h"
#include "spar/spar_encode.h"

#define TOL 1e-4f
static char g_dir[2][4096];
static uint32_t g_ids[1024], g_lens[16];
static size_t g_n_seqs, g_T;

static float *read_f32(const char *dir, const char *name, size_t n) {
    char p[4200];
    snprintf(p, sizeof p, "%s/ref/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (f == NULL) return NULL;
    float *b = malloc(n * sizeof(float));
    size_t got = fread(b, sizeof(float), n, f);
    fclose(f);
    if (got != n) { free(b); return NULL; }
    return b;
}

static int load_ids(const char *root) {
    char p[4200];
    snprintf(p, sizeof p, "%s/ids.txt", root);
    FILE *f = fopen(p, "r");
    if (f == NULL) return 0;
    char line[8192];
    while (fgets(line, sizeof line, f) != NULL && g_n_seqs < 16) {
        char *s = line, *e;
        uint32_t n = 0;
        for (unsigned long v; (v = strtoul(s, &e, 10)), e != s; s = e) g_ids[g_T + n++] = (uint32_t)v;
        if (n) { g_lens[g_n_seqs++] = n; g_T += n; }
    }
    fclose(f);
    return g_n_seqs > 0;
}

static void seqs_of(spar_token_ids *seqs) {
    for (size_t s = 0, t = 0; s < g_n_seqs; t += g_lens[s], s++) seqs[s] = (spar_token_ids){g_ids + t, g_lens[s]};
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static void check_logits(int which) {
    spar_bert *m = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_bert_load(g_dir[which], &m, &d), SPAR_OK);
    size_t dm = m->cfg.hidden, V = m->cfg.vocab_size;
    float *h = malloc(g_T * dm * 4), *h2 = malloc(g_T * dm * 4), *lg = malloc(g_T * V * 4);
    float *ref = read_f32(g_dir[which], "logits.f32", g_T * V);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    CU_ASSERT_EQUAL(spar_bert_forward(m, g_ids, g_lens, g_n_seqs, h), SPAR_OK);
    CU_ASSERT_EQUAL(spar_bert_mlm_transform(m, h, g_T, h2), SPAR_OK);
    CU_ASSERT_EQUAL(spar_bert_mlm_logits(m, h2, g_T, lg), SPAR_OK);
    float diff = max_abs_diff(lg, ref, g_T * V);
    CU_ASSERT(diff <= TOL);
    if (!(diff <= TOL)) fprintf(stderr, "max |delta logit| = %g\n", diff);
    free(h); free(h2); free(lg); free(ref);
    spar_bert_free(m);
}
static void test_bert_logits_match_pytorch(void) { check_logits(0); }
static void test_distilbert_logits_match_pytorch(void) { check_logits(1); }

static void check_splade(int which) {
    spar_encoder *e = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[which], NULL, &e, &d), SPAR_OK);
    spar_encoder_info info;
    spar_encoder_get_info(e, &info);
    size_t V = info.vocab_size;
    float *ref = read_f32(g_dir[which], "splade_max.f32", g_n_seqs * V);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    spar_token_ids seqs[16];
    seqs_of(seqs);
    spar_encode_input in = {NULL, seqs, g_n_seqs};
    spar_sparse_result res[16];
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, NULL, res), SPAR_OK);
    float *dense = calloc(V, sizeof(float));
    for (size_t s = 0; s < g_n_seqs; s++) {
        memset(dense, 0, V * sizeof(float));
        for (uint32_t i = 0; i < res[s].n; i++) {
            if (i > 0) CU_ASSERT(res[s].ids[i] > res[s].ids[i - 1]);
            dense[res[s].ids[i]] = res[s].weights[i];
        }
        CU_ASSERT(max_abs_diff(dense, ref + s * V, V) <= TOL);
        size_t mismatch = 0;
        for (size_t v = 0; v < V; v++)
            if ((ref[s * V + v] > TOL && dense[v] == 0) || (dense[v] > TOL && ref[s * V + v] == 0)) mismatch++;
        CU_ASSERT_EQUAL(mismatch, 0);
    }
    spar_sparse_results_free(res, g_n_seqs);
    free(dense);
    free(ref);
    spar_encoder_close(e);
}
static void test_bert_splade_matches_pytorch(void) { check_splade(0); }
static void test_distilbert_splade_matches_pytorch(void) { check_splade(1); }

static void test_dense_cls_and_mean_match_pytorch(void) {
    for (int which = 0; which < 2; which++) {
        spar_encoder *e = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[which], NULL, &e, NULL), SPAR_OK);
        spar_encoder_info info;
        spar_encoder_get_info(e, &info);
        spar_token_ids seqs[16];
        seqs_of(seqs);
        spar_encode_input in = {NULL, seqs, g_n_seqs};
        float *out = malloc(g_n_seqs * info.hidden * sizeof(float));
        const char *names[2] = {"dense_cls.f32", "dense_mean.f32"};
        for (int p = 0; p < 2; p++) {
            spar_dense_opts o = {p, 0};
            CU_ASSERT_EQUAL(spar_encode_dense_batch(e, &in, &o, out), SPAR_OK);
            float *ref = read_f32(g_dir[which], names[p], g_n_seqs * info.hidden);
            CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
            CU_ASSERT(max_abs_diff(out, ref, g_n_seqs * info.hidden) <= TOL);
            free(ref);
        }
        spar_dense_opts on = {SPAR_DENSE_POOL_MEAN, 1};
        CU_ASSERT_EQUAL(spar_encode_dense_batch(e, &in, &on, out), SPAR_OK);
        double nrm = 0;
        for (uint32_t j = 0; j < info.hidden; j++) nrm += (double)out[j] * out[j];
        CU_ASSERT_DOUBLE_EQUAL(nrm, 1.0, 1e-5);
        free(out);
        spar_encoder_close(e);
    }
}

static void test_topk_threshold_and_specials(void) {
    spar_encoder *e = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[0], NULL, &e, NULL), SPAR_OK);
    spar_token_ids seqs[16];
    seqs_of(seqs);
    spar_encode_input in = {NULL, seqs, 1};
    spar_sparse_result all, top, thr, nosp;
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, NULL, &all), SPAR_OK);
    spar_splade_opts o = spar_splade_opts_default();
    o.top_k = 10;
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, &o, &top), SPAR_OK);
    CU_ASSERT_EQUAL(top.n, 10);
    /* the 10 kept weights are >= every dropped one */
    float min_kept = INFINITY;
    for (uint32_t i = 0; i < top.n; i++) min_kept = fminf(min_kept, top.weights[i]);
    size_t above = 0;
    for (uint32_t i = 0; i < all.n; i++) above += all.weights[i] > min_kept;
    CU_ASSERT(above < 10);
    o = spar_splade_opts_default();
    o.threshold = 0.2f;
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, &o, &thr), SPAR_OK);
    size_t expect = 0;
    for (uint32_t i = 0; i < all.n; i++) expect += all.weights[i] > 0.2f;
    CU_ASSERT_EQUAL(thr.n, expect);
    o = spar_splade_opts_default();
    o.drop_special = 1;
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, &o, &nosp), SPAR_OK);
    for (uint32_t i = 0; i < nosp.n; i++) CU_ASSERT(nosp.ids[i] != 0 && nosp.ids[i] != 100 && nosp.ids[i] != 101 && nosp.ids[i] != 102 && nosp.ids[i] != 103);
    spar_sparse_results_free(&all, 1);
    spar_sparse_results_free(&top, 1);
    spar_sparse_results_free(&thr, 1);
    spar_sparse_results_free(&nosp, 1);
    spar_encoder_close(e);
}

static void test_small_chunks_same_result(void) {
    spar_encoder_opts eo = spar_encoder_opts_default();
    eo.max_batch_tokens = 1; /* raised to max_length: one sequence per forward */
    spar_encoder *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[1], NULL, &a, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[1], &eo, &b, NULL), SPAR_OK);
    spar_token_ids seqs[16];
    seqs_of(seqs);
    spar_encode_input in = {NULL, seqs, g_n_seqs};
    spar_sparse_result ra[16], rb[16];
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(a, &in, NULL, ra), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(b, &in, NULL, rb), SPAR_OK);
    for (size_t s = 0; s < g_n_seqs; s++) {
        CU_ASSERT_EQUAL_FATAL(ra[s].n, rb[s].n);
        CU_ASSERT_EQUAL(memcmp(ra[s].ids, rb[s].ids, ra[s].n * 4), 0);
        CU_ASSERT(max_abs_diff(ra[s].weights, rb[s].weights, ra[s].n) <= 1e-6f);
    }
    spar_sparse_results_free(ra, g_n_seqs);
    spar_sparse_results_free(rb, g_n_seqs);
    spar_encoder_close(a);
    spar_encoder_close(b);
}

static void test_token_embeddings_and_projection(void) {
    spar_encoder *e = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[0], NULL, &e, NULL), SPAR_OK);
    spar_encoder_info info;
    spar_encoder_get_info(e, &info);
    CU_ASSERT_EQUAL(info.proj_dim, 8);
    spar_token_ids seqs[16];
    seqs_of(seqs);
    float *out = malloc(64 * info.hidden * sizeof(float));
    uint32_t n = 0, ids[64];
    CU_ASSERT_EQUAL_FATAL(spar_encode_tokens(e, NULL, &seqs[0], NULL, out, 64, &n, ids), SPAR_OK);
    CU_ASSERT_EQUAL(n, seqs[0].n);
    CU_ASSERT_EQUAL(ids[0], seqs[0].ids[0]);
    float *cls = read_f32(g_dir[0], "dense_cls.f32", info.hidden);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cls);
    CU_ASSERT(max_abs_diff(out, cls, info.hidden) <= TOL); /* token 0 is the [CLS] state */
    spar_token_opts po = {1, 1};
    CU_ASSERT_EQUAL_FATAL(spar_encode_tokens(e, NULL, &seqs[0], &po, out, 64, &n, NULL), SPAR_OK);
    double nrm = 0;
    for (int j = 0; j < 8; j++) nrm += (double)out[j] * out[j];
    CU_ASSERT_DOUBLE_EQUAL(nrm, 1.0, 1e-5);
    CU_ASSERT_EQUAL(spar_encode_tokens(e, NULL, &seqs[0], NULL, out, 2, &n, NULL), SPAR_E_INVALID_ARG);
    free(cls);
    free(out);
    spar_encoder_close(e);
}

static void test_text_input_uses_tokenizer(void) {
    spar_encoder *e = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[0], NULL, &e, NULL), SPAR_OK);
    spar_encoder_info info;
    spar_encoder_get_info(e, &info);
    CU_ASSERT_EQUAL_FATAL(info.has_vocab, 1);
    /* The fixture vocabulary is the first 1000 bert-base-uncased lines: words map to [UNK] (100), "!" is 999. */
    const char *texts[1] = {"Hello world!"};
    uint32_t ids[5] = {101, 100, 100, 999, 102};
    spar_token_ids seq = {ids, 5};
    spar_encode_input tin = {texts, NULL, 1}, iin = {NULL, &seq, 1};
    spar_sparse_result a, b;
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &tin, NULL, &a), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &iin, NULL, &b), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(a.n, b.n);
    CU_ASSERT_EQUAL(memcmp(a.ids, b.ids, a.n * 4), 0);
    CU_ASSERT_EQUAL(memcmp(a.weights, b.weights, a.n * 4), 0);
    uint32_t n = 0, got[64];
    float *tok = malloc(64 * info.hidden * sizeof(float));
    CU_ASSERT_EQUAL(spar_encode_tokens(e, texts[0], NULL, NULL, tok, 64, &n, got), SPAR_OK);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(memcmp(got, ids, sizeof ids), 0);
    /* A text longer than max_length (64 in the fixture) is truncated and keeps its final [SEP]. */
    char longtext[1200] = "";
    for (int i = 0; i < 150; i++) strcat(longtext, "word ");
    CU_ASSERT_EQUAL(spar_encode_tokens(e, longtext, NULL, NULL, tok, 64, &n, got), SPAR_OK);
    CU_ASSERT_EQUAL(n, 64);
    CU_ASSERT_EQUAL(got[0], 101);
    CU_ASSERT_EQUAL(got[63], 102);
    free(tok);
    spar_sparse_results_free(&a, 1);
    spar_sparse_results_free(&b, 1);
    spar_encoder_close(e);
}

typedef struct shared_job {
    const spar_encoder *e;
    spar_encode_input in;
    spar_sparse_result res[16];
    spar_status st;
} shared_job;
static void *run_job(void *arg) {
    shared_job *j = arg;
    for (int rep = 0; rep < 3 && j->st == SPAR_OK; rep++) {
        spar_sparse_results_free(j->res, j->in.n);
        j->st = spar_encode_splade_batch(j->e, &j->in, NULL, j->res);
    }
    return NULL;
}

static void test_shared_encoder_across_threads(void) {
    spar_encoder *e = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[0], NULL, &e, NULL), SPAR_OK);
    spar_token_ids seqs[16];
    seqs_of(seqs);
    static shared_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].e = e;
        jobs[i].in = (spar_encode_input){NULL, seqs, g_n_seqs};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL_FATAL(jobs[i].st, SPAR_OK);
        for (size_t s = 0; s < g_n_seqs; s++) {
            CU_ASSERT_EQUAL_FATAL(jobs[i].res[s].n, jobs[0].res[s].n);
            CU_ASSERT_EQUAL(memcmp(jobs[i].res[s].ids, jobs[0].res[s].ids, jobs[0].res[s].n * 4), 0);
            CU_ASSERT_EQUAL(memcmp(jobs[i].res[s].weights, jobs[0].res[s].weights, jobs[0].res[s].n * 4), 0);
        }
    }
    for (int i = 0; i < 4; i++) spar_sparse_results_free(jobs[i].res, g_n_seqs);
    spar_encoder_close(e);
}

static void test_bad_inputs_rejected(void) {
    spar_encoder *e = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_encoder_open("/nonexistent/model", NULL, &e, &d), SPAR_E_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "/nonexistent/model"));
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir[0], NULL, &e, NULL), SPAR_OK);
    uint32_t bad[3] = {101, 5000, 102}, longseq[65] = {0};
    spar_token_ids s1 = {bad, 3}, s2 = {longseq, 65}, s0 = {bad, 0};
    spar_sparse_result r;
    spar_encode_input in = {NULL, &s1, 1};
    CU_ASSERT_EQUAL(spar_encode_splade_batch(e, &in, NULL, &r), SPAR_E_INVALID_ARG); /* id >= vocab */
    in.seqs = &s2;
    CU_ASSERT_EQUAL(spar_encode_splade_batch(e, &in, NULL, &r), SPAR_E_INVALID_ARG); /* > max_length */
    in.seqs = &s0;
    CU_ASSERT_EQUAL(spar_encode_splade_batch(e, &in, NULL, &r), SPAR_E_INVALID_ARG); /* empty */
    in.seqs = NULL;
    CU_ASSERT_EQUAL(spar_encode_splade_batch(e, &in, NULL, &r), SPAR_E_INVALID_ARG); /* neither texts nor seqs */
    spar_encoder_close(e);
}

int main(void) {
    const char *src = getenv("SPAR_SRC");
    if (src == NULL) { printf("SKIP: SPAR_SRC not set\n"); return 77; }
    char root[3072];
    snprintf(root, sizeof root, "%s/tests/golden/data/encoder", src);
    snprintf(g_dir[0], sizeof g_dir[0], "%s/tiny-bert", root);
    snprintf(g_dir[1], sizeof g_dir[1], "%s/tiny-distil", root);
    if (!load_ids(root)) { printf("SKIP: no fixture at %s\n", root); return 77; }
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/fixture", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "BERT logits match PyTorch", test_bert_logits_match_pytorch) ||
        !CU_add_test(s, "DistilBERT logits match PyTorch", test_distilbert_logits_match_pytorch) ||
        !CU_add_test(s, "BERT SPLADE vectors match PyTorch", test_bert_splade_matches_pytorch) ||
        !CU_add_test(s, "DistilBERT SPLADE vectors match PyTorch", test_distilbert_splade_matches_pytorch) ||
        !CU_add_test(s, "dense CLS / mean pooling match PyTorch", test_dense_cls_and_mean_match_pytorch) ||
        !CU_add_test(s, "top-k, threshold and special-token removal", test_topk_threshold_and_specials) ||
        !CU_add_test(s, "chunked batches give the same vectors", test_small_chunks_same_result) ||
        !CU_add_test(s, "per-token embeddings and projection", test_token_embeddings_and_projection) ||
        !CU_add_test(s, "text input goes through the tokenizer", test_text_input_uses_tokenizer) ||
        !CU_add_test(s, "one encoder shared by 4 threads", test_shared_encoder_across_threads) ||
        !CU_add_test(s, "bad inputs rejected", test_bad_inputs_rejected))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
