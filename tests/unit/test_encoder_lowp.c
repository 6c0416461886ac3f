/* test_encoder_lowp.c — bf16 / int8 weights as real compute paths (SPAR_WEIGHTS_BF16 / SPAR_WEIGHTS_INT8) on the
 * committed tiny BERT and DistilBERT fixtures (tests/golden/data/encoder/, d = 32):
 *   - through the public API, SPLADE and dense [CLS] outputs stay close to fp32 (bounds below) and are not
 *     bitwise equal to it (the reduced-precision path really runs);
 *   - spar_bert_set_weights(..., drop_f32 = 1) frees the fp32 linear weights (and the tied embedding table,
 *     whose rows then come from the packed decoder) and the forward pass gives the same output as with them;
 *   - a whole forward pass with the scalar kernel twins equals the SIMD one (int8: bitwise; bf16: within
 *     1e-5, bitwise where the CPU's vdpbf16ps rounds like the twin).
 * Needs SPAR_SRC (set by ctest); skips (77) without it. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encoders/kernels/gemm_lowp.h"
#include "encoders/model/bert.h"
#include "encoders/model/heads.h"
#include "spar/spar_encode.h"

static char g_dirs[2][4096];
static const uint32_t k_s0[] = {101, 500, 600, 700, 102}, k_s1[] = {101, 102};
static uint32_t k_s2[62];

static void inputs(spar_token_ids *seqs) {
    k_s2[0] = 101;
    for (uint32_t i = 1; i < 61; i++) k_s2[i] = 2 + i * 13 % 990;
    k_s2[61] = 102;
    seqs[0] = (spar_token_ids){k_s0, 5};
    seqs[1] = (spar_token_ids){k_s1, 2};
    seqs[2] = (spar_token_ids){k_s2, 62};
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

/* Dense SPLADE row (V floats) of each input for one weights mode. */
static void encode(const char *dir, int weights, float *splade, float *cls, size_t V, size_t d) {
    spar_encoder_opts o = spar_encoder_opts_default();
    o.weights = weights;
    spar_encoder *e = NULL;
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(dir, &o, &e, &dg), SPAR_OK);
    spar_token_ids seqs[3];
    inputs(seqs);
    spar_encode_input in = {NULL, seqs, 3};
    spar_sparse_result r[3];
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, NULL, r), SPAR_OK);
    memset(splade, 0, 3 * V * sizeof(float));
    for (size_t s = 0; s < 3; s++)
        for (uint32_t i = 0; i < r[s].n; i++) splade[s * V + r[s].ids[i]] = r[s].weights[i];
    spar_sparse_results_free(r, 3);
    spar_dense_opts dopt = spar_dense_opts_default();
    CU_ASSERT_EQUAL_FATAL(spar_encode_dense_batch(e, &in, &dopt, cls), SPAR_OK);
    (void)d;
    spar_encoder_close(e);
}

static void check_public(int which) {
    size_t V = 1000, d = 32;
    float *sp[3], *cl[3];
    for (int w = 0; w < 3; w++) {
        sp[w] = malloc(3 * V * sizeof(float));
        cl[w] = malloc(3 * d * sizeof(float));
        encode(g_dirs[which], w, sp[w], cl[w], V, d);
    }
    /* Bounds: measured on these fixtures (printed: SPLADE bf16 >= 0.999995, int8 >= 0.99995), with margin. */
    static const double min_cos[3] = {1, 0.9999, 0.9995};
    for (int w = 1; w < 3; w++) {
        double worst_sp = 1, worst_cls = 1;
        for (size_t s = 0; s < 3; s++) {
            worst_sp = fmin(worst_sp, cosine(sp[w] + s * V, sp[0] + s * V, V));
            worst_cls = fmin(worst_cls, cosine(cl[w] + s * d, cl[0] + s * d, d));
        }
        printf("\n  %s %s: SPLADE cosine >= %.6f, [CLS] cosine >= %.6f ", which ? "distil" : "bert", w == 1 ? "bf16" : "int8",
               worst_sp, worst_cls);
        CU_ASSERT(worst_sp >= min_cos[w]);
        CU_ASSERT(worst_cls >= min_cos[w]);
        CU_ASSERT(memcmp(sp[w], sp[0], 3 * V * sizeof(float)) != 0); /* the reduced path really ran */
    }
    for (int w = 0; w < 3; w++) {
        free(sp[w]);
        free(cl[w]);
    }
}

static void test_bert_public(void) { check_public(0); }
static void test_distil_public(void) { check_public(1); }

/* Hidden states of the fixture's three inputs under `mode`, optionally dropping fp32 weights first. */
static float *hidden(const char *dir, int mode, int drop, int scalar, spar_bert **keep) {
    spar_bert *m = NULL;
    spar_diag dg = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_bert_load(dir, &m, &dg), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_bert_set_weights(m, mode, drop), SPAR_OK);
    spar_token_ids seqs[3];
    inputs(seqs);
    uint32_t ids[5 + 2 + 62], lens[3] = {5, 2, 62};
    memcpy(ids, k_s0, sizeof k_s0);
    memcpy(ids + 5, k_s1, sizeof k_s1);
    memcpy(ids + 7, k_s2, sizeof k_s2);
    size_t d = m->cfg.hidden;
    float *h = malloc(69 * d * sizeof(float));
    spar_lowp_force_scalar(scalar);
    CU_ASSERT_EQUAL(spar_bert_forward(m, ids, lens, 3, h), SPAR_OK);
    spar_lowp_force_scalar(0);
    if (keep != NULL) *keep = m;
    else spar_bert_free(m);
    return h;
}

static void test_drop_f32(void) {
    for (int which = 0; which < 2; which++)
        for (int mode = 1; mode <= 2; mode++) {
            spar_bert *m = NULL;
            float *a = hidden(g_dirs[which], mode, 0, 0, NULL), *b = hidden(g_dirs[which], mode, 1, 0, &m);
            CU_ASSERT_EQUAL(memcmp(a, b, 69 * 32 * sizeof(float)), 0);
            CU_ASSERT_PTR_NULL(m->layers[0].qkv_w);
            CU_ASSERT_PTR_NULL(m->layers[1].ff2_w);
            CU_ASSERT_PTR_NULL(m->dec_w);
            CU_ASSERT_PTR_NULL(m->word_emb); /* both fixtures tie the decoder to the embeddings */
            CU_ASSERT_EQUAL(spar_bert_set_weights(m, 0, 0), SPAR_E_INVALID_ARG); /* no fp32 left */
            spar_bert_free(m);
            free(a);
            free(b);
        }
}

static void test_scalar_twins_whole_model(void) {
    for (int which = 0; which < 2; which++)
        for (int mode = 1; mode <= 2; mode++) {
            float *a = hidden(g_dirs[which], mode, 1, 0, NULL), *b = hidden(g_dirs[which], mode, 1, 1, NULL);
            double worst = 0;
            for (size_t i = 0; i < 69 * 32; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
            if (mode == 2) CU_ASSERT_EQUAL(memcmp(a, b, 69 * 32 * sizeof(float)), 0);
            CU_ASSERT(worst <= 1e-5);
            free(a);
            free(b);
        }
}

/* spar_splade_pool_lowp == pooling of the full logits from spar_lowp_linear (same kernels), max and sum, over
 * vocabulary blocks (1024) and token tiles (256) with a partial last block and sequences straddling tiles. */
static void test_pool_lowp_matches_logits(void) {
    size_t T = 300, d = 40, V = 2100;
    uint32_t lens[3] = {100, 190, 10};
    float *h = malloc(T * d * 4), *W = malloc(V * d * 4), *b = malloc(V * 4), *lg = malloc(T * V * 4);
    float *out = malloc(3 * V * 4);
    uint64_t r = 5;
    for (size_t i = 0; i < T * d + V * d + V; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        float x = (float)((r >> 40) / 8388608.0 - 1.0);
        if (i < T * d) h[i] = x;
        else if (i < T * d + V * d) W[i - T * d] = 0.2f * x;
        else b[i - T * d - V * d] = 0.3f * x - 0.2f;
    }
    for (int kind = SPAR_LOWP_BF16; kind <= SPAR_LOWP_INT8; kind++)
        for (int sum = 0; sum < 2; sum++) {
            spar_lowp_mat w;
            CU_ASSERT_EQUAL_FATAL(spar_lowp_pack((spar_lowp_kind)kind, W, V, d, d, &w), SPAR_OK);
            CU_ASSERT_EQUAL_FATAL(spar_lowp_linear(&w, h, T, d, NULL, lg, V, 2), SPAR_OK);
            CU_ASSERT_EQUAL_FATAL(spar_splade_pool_lowp(h, lens, 3, d, &w, b, V, sum ? SPAR_SPLADE_SUM : SPAR_SPLADE_MAX, out),
                                  SPAR_OK);
            size_t bad = 0, nz = 0;
            for (size_t s = 0, t0 = 0; s < 3; t0 += lens[s], s++)
                for (size_t v = 0; v < V; v++) {
                    double want = 0;
                    for (size_t t = t0; t < t0 + lens[s]; t++) {
                        double x = (double)(lg[t * V + v] + b[v]);
                        double wt = x > 0 ? log1p(x) : 0;
                        want = sum ? want + wt : fmax(want, wt);
                    }
                    bad += fabs(want - out[s * V + v]) > 1e-5 * (1 + fabs(want));
                    nz += want > 0;
                }
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT(nz > 0 && nz < 3 * V);
            spar_lowp_mat_free(&w);
        }
    free(h); free(W); free(b); free(lg); free(out);
}

/* After fork() the child has none of the parent's pool workers: its forward pass must still run (and give the
 * parent's result) instead of waiting for them. The child aborts itself after 60 s if it hangs. */
static void test_fork_child_runs(void) {
    float *a = hidden(g_dirs[0], 1, 1, 0, NULL); /* starts the pool's workers in the parent */
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(60);
        float *b = hidden(g_dirs[0], 1, 1, 0, NULL);
        _exit(memcmp(a, b, 69 * 32 * sizeof(float)) == 0 ? 0 : 3);
    }
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(a);
}

int main(void) {
    const char *src = getenv("SPAR_SRC");
    if (src == NULL) {
        fprintf(stderr, "SKIP: SPAR_SRC not set\n");
        return 77;
    }
    snprintf(g_dirs[0], sizeof g_dirs[0], "%s/tests/golden/data/encoder/tiny-bert", src);
    snprintf(g_dirs[1], sizeof g_dirs[1], "%s/tests/golden/data/encoder/tiny-distil", src);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("encoder_lowp", NULL, NULL);
    CU_add_test(s, "SPLADE pooling on the packed decoder == pooled logits", test_pool_lowp_matches_logits);
    CU_add_test(s, "BERT bf16/int8 SPLADE and [CLS] close to fp32", test_bert_public);
    CU_add_test(s, "DistilBERT bf16/int8 SPLADE and [CLS] close to fp32", test_distil_public);
    CU_add_test(s, "dropping fp32 weights: same output, buffers freed", test_drop_f32);
    CU_add_test(s, "whole forward: scalar twins == SIMD kernels", test_scalar_twins_whole_model);
    CU_add_test(s, "a forked child runs the pool again", test_fork_child_runs);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
