/* test_encoder_prune.c — exact vocabulary pruning of the SPLADE head (encoders/model/heads.h,
 * spar_splade_pool_pruned): the pruned output must have exactly the non-zeros of the unpruned one, with
 * weights within 1e-5, on isotropic random weights (the bound skips little), on a structured decoder where
 * it skips most rows, on rows whose best logit sits just above or below 0, and on the committed tiny BERT /
 * DistilBERT fixtures (tests/golden/data/encoder, found through SPAR_SRC; skipped when it is not set). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/model/bert.h"
#include "encoders/model/heads.h"

static uint64_t g_rng = 7;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) / 8388608.0 - 1.0);
}

/* Pruned vs unpruned: same zero pattern, values within 1e-5. Returns the skipped fraction. */
static double compare(const spar_splade_bound *bd, const float *h, const uint32_t *lens, size_t ns, size_t d,
                      const float *W, const float *b, size_t V, spar_splade_pooling pool) {
    float *full = malloc(ns * V * 4), *pr = malloc(ns * V * 4);
    spar_splade_stats stt = {0, 0};
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool(h, lens, ns, d, W, b, V, pool, full), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool_pruned(bd, h, lens, ns, d, W, b, V, pool, 0.0f, pr, &stt), SPAR_OK);
    size_t zero_mismatch = 0, far = 0, nnz = 0;
    for (size_t i = 0; i < ns * V; i++) {
        zero_mismatch += (full[i] > 0) != (pr[i] > 0);
        far += fabsf(full[i] - pr[i]) > 1e-5f * (1.0f + fabsf(full[i]));
        nnz += full[i] > 0;
    }
    CU_ASSERT_EQUAL(zero_mismatch, 0);
    CU_ASSERT_EQUAL(far, 0);
    CU_ASSERT(stt.rows_total > 0 && stt.rows_skipped <= stt.rows_total);
    double skip = stt.rows_total ? (double)stt.rows_skipped / (double)stt.rows_total : 0;
    printf(" [nnz %zu of %zu, skipped %.1f%%]", nnz, ns * V, 100 * skip);
    free(full);
    free(pr);
    return skip;
}

#define D 64
#define V 5000
static const uint32_t k_lens[3] = {1, 40, 300};
#define T 341

static void test_isotropic_random_weights(void) {
    float *h = malloc(T * D * 4), *W = malloc(V * D * 4), *b = malloc(V * 4);
    for (size_t i = 0; i < T * D; i++) h[i] = frand();
    for (size_t i = 0; i < (size_t)V * D; i++) W[i] = 0.1f * frand();
    for (size_t i = 0; i < V; i++) b[i] = 0.3f * frand() - 0.6f;
    spar_splade_bound *bd = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_splade_bound_build(W, V, D, 16, &bd), SPAR_OK);
    compare(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_MAX);
    spar_splade_bound_set_adaptive(bd, 0); /* bound every sequence, even where it skips little */
    compare(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_MAX);
    compare(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_SUM);
    spar_splade_bound_free(bd);
    free(h); free(W); free(b);
}

/* Decoder rows near a rank-6 subspace, most biases clearly negative: the bound is tight and skips most rows. */
static void make_structured(float *h, float *W, float *b, float noise) {
    float basis[6 * D];
    for (size_t i = 0; i < 6 * D; i++) basis[i] = frand();
    for (size_t v = 0; v < V; v++) {
        float c[6];
        for (int j = 0; j < 6; j++) c[j] = 0.1f * frand();
        for (size_t x = 0; x < D; x++) {
            float w = noise * frand();
            for (int j = 0; j < 6; j++) w += c[j] * basis[j * D + x];
            W[v * D + x] = w;
        }
        b[v] = (v % 10 == 0) ? 0.2f * frand() : -2.5f + 0.5f * frand();
    }
    for (size_t i = 0; i < T * D; i++) h[i] = frand();
}

static void test_structured_decoder_skips_and_is_exact(void) {
    float *h = malloc(T * D * 4), *W = malloc(V * D * 4), *b = malloc(V * 4);
    make_structured(h, W, b, 0.002f);
    spar_splade_bound *bd = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_splade_bound_build(W, V, D, 8, &bd), SPAR_OK);
    double skip = compare(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_MAX);
    CU_ASSERT(skip > 0.5);
    skip = compare(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_SUM);
    CU_ASSERT(skip > 0.5);
    spar_splade_bound_free(bd);
    free(h); free(W); free(b);
}

/* Exactly rank-6 rows (rank-8 bound: residuals ~0, so the bound is the exact best logit plus its rounding
 * margin 2e-4 ||h|| ||W_v||), biases putting each row's best logit over the long sequence at +-1e-3 ||h|| ||W_v||:
 * every row just below 0 is skipped, every row just above is kept and exact. */
static void test_rows_at_the_boundary(void) {
    float *h = malloc(T * D * 4), *W = malloc(V * D * 4), *b = malloc(V * 4);
    make_structured(h, W, b, 0.0f);
    const float *hs = h + 41 * D; /* the 300-token sequence */
    double hmax = 0;
    for (size_t t = 0; t < 300; t++) {
        double a = 0;
        for (size_t j = 0; j < D; j++) a += (double)hs[t * D + j] * hs[t * D + j];
        hmax = fmax(hmax, sqrt(a));
    }
    for (size_t v = 0; v < V; v++) {
        double best = -1e300, wn = 0;
        for (size_t j = 0; j < D; j++) wn += (double)W[v * D + j] * W[v * D + j];
        for (size_t t = 0; t < 300; t++) {
            double x = 0;
            for (size_t j = 0; j < D; j++) x += (double)hs[t * D + j] * W[v * D + j];
            best = fmax(best, x);
        }
        b[v] = (float)(-best + ((v & 1) ? 1e-3 : -1e-3) * hmax * sqrt(wn));
    }
    uint32_t one[1] = {300};
    spar_splade_bound *bd = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_splade_bound_build(W, V, D, 8, &bd), SPAR_OK);
    float *full = malloc(V * 4);
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool(hs, one, 1, D, W, b, V, SPAR_SPLADE_MAX, full), SPAR_OK);
    size_t pos = 0;
    for (size_t v = 0; v < V; v++) pos += full[v] > 0;
    CU_ASSERT(pos == V / 2); /* the odd rows, exactly */
    double skip = compare(bd, hs, one, 1, D, W, b, V, SPAR_SPLADE_MAX);
    CU_ASSERT(skip > 0.45); /* nearly all even rows proved <= 0 despite being 1e-3 relative below it */
    spar_splade_bound_free(bd);
    free(full); free(h); free(W); free(b);
}

/* A floor (the sparsifier's threshold) may zero entries, but only ones the unpruned output has <= floor. */
static void test_floor_only_drops_small_weights(void) {
    float *h = malloc(T * D * 4), *W = malloc(V * D * 4), *b = malloc(V * 4);
    make_structured(h, W, b, 0.002f);
    spar_splade_bound *bd = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_splade_bound_build(W, V, D, 8, &bd), SPAR_OK);
    float *full = malloc(3 * V * 4), *pr = malloc(3 * V * 4), floor = 0.05f;
    spar_splade_stats s0 = {0, 0}, s1 = {0, 0};
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool_pruned(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_MAX, 0.0f, full, &s0), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool_pruned(bd, h, k_lens, 3, D, W, b, V, SPAR_SPLADE_MAX, floor, pr, &s1), SPAR_OK);
    size_t bad = 0;
    for (size_t i = 0; i < 3 * V; i++) /* zero only where the weight is <= floor; else the same weight */
        bad += pr[i] == 0 ? full[i] > floor : fabsf(pr[i] - full[i]) > 1e-5f * (1.0f + fabsf(full[i]));
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(s1.rows_skipped >= s0.rows_skipped);
    spar_splade_bound_free(bd);
    free(full); free(pr); free(h); free(W); free(b);
}

static void test_bad_arguments(void) {
    float W[4 * 8] = {0}, h[8] = {0}, b[4] = {0}, out[4];
    uint32_t len[1] = {1};
    spar_splade_bound *bd = NULL;
    CU_ASSERT_EQUAL(spar_splade_bound_build(W, 4, 8, 8, &bd), SPAR_E_INVALID_ARG); /* k must be < d */
    CU_ASSERT_PTR_NULL(bd);
    CU_ASSERT_EQUAL_FATAL(spar_splade_bound_build(W, 4, 8, 2, &bd), SPAR_OK); /* all-zero rows: still a basis */
    CU_ASSERT_EQUAL(spar_splade_pool_pruned(bd, h, len, 1, 4, W, b, 8, SPAR_SPLADE_MAX, 0, out, NULL), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_splade_pool_pruned(bd, h, len, 1, 8, W, b, 4, SPAR_SPLADE_MAX, 0, out, NULL), SPAR_OK);
    spar_splade_bound_free(bd);
}

static void check_fixture(const char *name) {
    const char *src = getenv("SPAR_SRC");
    if (src == NULL) {
        printf(" SKIP (SPAR_SRC not set)");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/golden/data/encoder/%s", src, name);
    spar_diag diag = {{0}};
    spar_bert *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_bert_load(dir, &m, &diag), SPAR_OK);
    size_t d = m->cfg.hidden, Vm = m->cfg.vocab_size;
    uint32_t lens[3] = {5, 2, 60}, ids[67];
    for (size_t t = 0; t < 67; t++) ids[t] = (uint32_t)(3 + (t * 37) % (Vm - 3));
    float *hid = malloc(67 * d * 4), *h2 = malloc(67 * d * 4);
    CU_ASSERT_EQUAL_FATAL(spar_bert_forward(m, ids, lens, 3, hid), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_bert_mlm_transform(m, hid, 67, h2), SPAR_OK);
    spar_splade_bound *bd = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_splade_bound_build(m->dec_w, Vm, d, 0, &bd), SPAR_OK);
    compare(bd, h2, lens, 3, d, m->dec_w, m->dec_b, Vm, SPAR_SPLADE_MAX);
    spar_splade_bound_set_adaptive(bd, 0);
    compare(bd, h2, lens, 3, d, m->dec_w, m->dec_b, Vm, SPAR_SPLADE_MAX);
    compare(bd, h2, lens, 3, d, m->dec_w, m->dec_b, Vm, SPAR_SPLADE_SUM);
    spar_splade_bound_free(bd);
    spar_bert_free(m);
    free(hid); free(h2);
}
static void test_fixture_bert(void) { check_fixture("tiny-bert"); }
static void test_fixture_distilbert(void) { check_fixture("tiny-distil"); }

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/prune", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "pruned == unpruned on isotropic random weights", test_isotropic_random_weights) ||
        !CU_add_test(s, "structured decoder: most rows skipped, output exact", test_structured_decoder_skips_and_is_exact) ||
        !CU_add_test(s, "rows whose best logit is just above / below 0", test_rows_at_the_boundary) ||
        !CU_add_test(s, "a floor only drops weights <= floor", test_floor_only_drops_small_weights) ||
        !CU_add_test(s, "bad arguments", test_bad_arguments) ||
        !CU_add_test(s, "committed tiny BERT fixture", test_fixture_bert) ||
        !CU_add_test(s, "committed tiny DistilBERT fixture", test_fixture_distilbert))
        return (int)CU_get_error();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
