/* test_modernbert_fixture.c — the C ModernBERT (encoders/model/modernbert.c) and the encoder API on the
 * committed fixture tests/golden/data/encoder/micro-modernbert: a random-weight ModernBertForMaskedLM folder
 * (3 layers: global, local, local; width 64, 4 heads, window 128, BF16 file) written by
 * tests/python/ref_modernbert.py make --size micro --seed 9 --dtype BF16, with outputs of its PyTorch reference
 * (ref_modernbert.py run, float64, padded batch) for ids.txt (lengths 1, 70, 200) in ref/. Runs without torch,
 * so CI always checks ModernBERT: hidden states, SPLADE max and mean pooling within 1e-4; token-id-only API
 * (no BPE tokenizer); attention options leave sequences below the threshold unchanged. Needs SPAR_SRC. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/model/modernbert.h"
#include "spar/spar_encode.h"

#define TOL 1e-4
static char g_dir[4096];
static uint32_t g_ids[512], g_lens[8];
static size_t g_n, g_T;
enum { D = 64, VOC = 512 };

static float *read_f32(const char *name, size_t n) {
    char p[4200];
    snprintf(p, sizeof p, "%s/ref/%s", g_dir, name);
    FILE *f = fopen(p, "rb");
    if (f == NULL) return NULL;
    float *b = malloc(n * sizeof(float));
    size_t got = fread(b, sizeof(float), n, f);
    fclose(f);
    if (got != n) {
        free(b);
        return NULL;
    }
    return b;
}

static int read_ids(void) {
    char p[4200], line[8192];
    snprintf(p, sizeof p, "%s/ids.txt", g_dir);
    FILE *f = fopen(p, "r");
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL && g_n < 8) {
        char *s = line, *e;
        uint32_t n = 0;
        for (unsigned long v = strtoul(s, &e, 10); e != s; v = strtoul(s, &e, 10)) {
            if (g_T < 512) g_ids[g_T++] = (uint32_t)v;
            n++;
            s = e;
        }
        if (n) g_lens[g_n++] = n;
    }
    fclose(f);
    return g_n == 3 ? 0 : -1;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= m)) m = e;
    }
    return m;
}

static void test_hidden_matches_reference(void) {
    spar_mbert *m = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_mbert_load(g_dir, &m, &d), SPAR_OK);
    CU_ASSERT_EQUAL(m->cfg.n_layers, 3);
    CU_ASSERT(m->cfg.layer_global[0] && !m->cfg.layer_global[1] && !m->cfg.layer_global[2]);
    float *h = malloc(g_T * D * sizeof(float)), *ref = read_f32("hidden.f32", g_T * D);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    spar_mbert_run run;
    memset(&run, 0, sizeof run);
    CU_ASSERT_EQUAL(spar_mbert_forward(m, g_ids, g_lens, g_n, &run, h), SPAR_OK);
    double e = max_diff(h, ref, g_T * D);
    if (!(e <= TOL)) fprintf(stderr, "hidden max err %.3g\n", e);
    CU_ASSERT(e <= TOL);
    CU_ASSERT_EQUAL(run.layer_sparse[1], 1); /* the 200-token sequence ran the windowed block-sparse kernel */
    CU_ASSERT_EQUAL(run.layer_sparse[0], 0); /* global layers are dense by default */
    /* one sequence at a time gives the same states (positions restart per sequence) */
    size_t off = 0;
    for (size_t s = 0; s < g_n; s++) {
        CU_ASSERT_EQUAL(spar_mbert_forward(m, g_ids + off, &g_lens[s], 1, NULL, h), SPAR_OK);
        CU_ASSERT(max_diff(h, ref + off * D, (size_t)g_lens[s] * D) <= TOL);
        off += g_lens[s];
    }
    free(h);
    free(ref);
    spar_mbert_free(m);
}

static spar_encoder *open_enc(const spar_encoder_opts *o) {
    spar_encoder *e = NULL;
    spar_diag d = {{0}};
    spar_status st = spar_encoder_open(g_dir, o, &e, &d);
    if (st != SPAR_OK) fprintf(stderr, "open: %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(st, SPAR_OK);
    return e;
}

static void splade_dense(spar_encoder *e, float *out) {
    spar_token_ids seqs[3];
    size_t off = 0;
    for (size_t s = 0; s < g_n; s++) {
        seqs[s].ids = g_ids + off;
        seqs[s].n = g_lens[s];
        off += g_lens[s];
    }
    spar_encode_input in = {NULL, seqs, g_n};
    spar_sparse_result r[3];
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, NULL, r), SPAR_OK);
    memset(out, 0, g_n * VOC * sizeof(float));
    for (size_t s = 0; s < g_n; s++)
        for (uint32_t i = 0; i < r[s].n; i++)
            out[s * VOC + r[s].ids[i]] = r[s].weights[i];
    spar_sparse_results_free(r, g_n);
}

static void test_api_splade_and_pooling(void) {
    spar_encoder *e = open_enc(NULL);
    spar_encoder_info info;
    spar_encoder_get_info(e, &info);
    CU_ASSERT_STRING_EQUAL(info.arch, "modernbert");
    CU_ASSERT_EQUAL(info.has_vocab, 0); /* BPE tokenizer.json is not supported: ids only */
    CU_ASSERT_EQUAL(info.has_mlm_head, 1);
    CU_ASSERT_EQUAL(info.max_length, 512);
    float *sp = malloc(g_n * VOC * sizeof(float)), *ref = read_f32("splade_max.f32", g_n * VOC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    splade_dense(e, sp);
    CU_ASSERT(max_diff(sp, ref, g_n * VOC) <= TOL);
    /* mean pooling == mean of the reference hidden states */
    float *hid = read_f32("hidden.f32", g_T * D), pooled[3 * D], want[3 * D];
    spar_token_ids seqs[3];
    size_t off = 0;
    for (size_t s = 0; s < g_n; s++) {
        seqs[s].ids = g_ids + off;
        seqs[s].n = g_lens[s];
        for (size_t j = 0; j < D; j++) {
            double acc = 0;
            for (uint32_t t = 0; t < g_lens[s]; t++)
                acc += hid[(off + t) * D + j];
            want[s * D + j] = (float)(acc / g_lens[s]);
        }
        off += g_lens[s];
    }
    spar_encode_input in = {NULL, seqs, g_n};
    spar_dense_opts dop = {SPAR_DENSE_POOL_MEAN, 0};
    CU_ASSERT_EQUAL(spar_encode_dense_batch(e, &in, &dop, pooled), SPAR_OK);
    CU_ASSERT(max_diff(pooled, want, g_n * D) <= TOL);
    /* text needs a tokenizer this folder does not have */
    const char *txt = "hello";
    spar_encode_input tin = {&txt, NULL, 1};
    spar_sparse_result r;
    CU_ASSERT_EQUAL(spar_encode_splade_batch(e, &tin, NULL, &r), SPAR_E_UNSUPPORTED);
    free(sp);
    free(ref);
    free(hid);
    spar_encoder_close(e);
}

/* A sparse global policy changes nothing below its threshold; above it, the output stays close on this
 * short input. Weight emulation is BERT-only. */
static void test_api_attention_options(void) {
    spar_encoder_opts o = spar_encoder_opts_default();
    float *base = malloc(g_n * VOC * sizeof(float)), *sp = malloc(g_n * VOC * sizeof(float));
    spar_encoder *e = open_enc(&o);
    splade_dense(e, base);
    spar_encoder_close(e);
    const int modes[] = {SPAR_ATTENTION_LOCAL, SPAR_ATTENTION_QUERY_AWARE, SPAR_ATTENTION_VERTICAL_SLASH};
    for (int i = 0; i < 3; i++) {
        o.attention = modes[i];
        o.attention_threshold = 201; /* above every length */
        e = open_enc(&o);
        splade_dense(e, sp);
        CU_ASSERT(max_diff(sp, base, g_n * VOC) <= 1e-6);
        spar_encoder_close(e);
        o.attention_threshold = 100; /* the 200-token input runs sparse */
        o.attention_tau = 0.9f;
        e = open_enc(&o);
        splade_dense(e, sp);
        CU_ASSERT(max_diff(sp, base, 2 * VOC) <= 1e-6); /* lengths 1 and 70: still dense */
        spar_encoder_close(e);
    }
    o = spar_encoder_opts_default();
    o.weights = SPAR_WEIGHTS_BF16;
    spar_encoder *bad = NULL;
    CU_ASSERT_EQUAL(spar_encoder_open(g_dir, &o, &bad, NULL), SPAR_E_UNSUPPORTED);
    free(base);
    free(sp);
}

/* Per-layer attention choices: all-dense entries change nothing; a sparse entry on every global layer equals the
 * same mode chosen for all layers; a sparse entry on a local layer, an unknown mode or too many entries are
 * refused. */
static void test_api_attention_per_layer(void) {
    spar_encoder_opts o = spar_encoder_opts_default();
    float *base = malloc(g_n * VOC * sizeof(float)), *sp = malloc(g_n * VOC * sizeof(float));
    spar_encoder *e = open_enc(&o);
    spar_encoder_info info;
    spar_encoder_get_info(e, &info);
    splade_dense(e, base);
    spar_encoder_close(e);
    int8_t layers[64];
    uint32_t nl = info.n_layers;
    CU_ASSERT_FATAL(nl >= 2 && nl <= 64);
    for (uint32_t l = 0; l < nl; l++) layers[l] = SPAR_ATTENTION_DENSE;
    o.attention_layers = layers;
    o.n_attention_layers = nl;
    o.attention = SPAR_ATTENTION_VERTICAL_SLASH; /* overridden on every layer by DENSE */
    o.attention_threshold = 100;
    e = open_enc(&o);
    splade_dense(e, sp);
    CU_ASSERT(max_diff(sp, base, g_n * VOC) <= 1e-6);
    spar_encoder_close(e);
    /* query-aware on every global layer (-1 elsewhere) == query-aware chosen for the whole model */
    spar_encoder_opts all = spar_encoder_opts_default();
    all.attention = SPAR_ATTENTION_QUERY_AWARE;
    all.attention_threshold = 100;
    all.attention_tau = 0.5f;
    float *ref = malloc(g_n * VOC * sizeof(float));
    e = open_enc(&all);
    splade_dense(e, ref);
    spar_encoder_close(e);
    CU_ASSERT(max_diff(ref, base, g_n * VOC) > 0.0); /* tau 0.5 really drops blocks on the 200-token input */
    o = spar_encoder_opts_default();
    o.attention_threshold = 100;
    o.attention_tau = 0.5f;
    o.attention_layers = layers;
    o.n_attention_layers = nl;
    /* ModernBERT's pattern: layer 0 is global; find the global layers by trying to make each one sparse */
    int n_global = 0;
    for (uint32_t l = 0; l < nl; l++) {
        for (uint32_t j = 0; j < nl; j++) layers[j] = -1;
        layers[l] = SPAR_ATTENTION_QUERY_AWARE;
        spar_encoder *t = NULL;
        spar_diag d;
        spar_status st = spar_encoder_open(g_dir, &o, &t, &d);
        CU_ASSERT(st == SPAR_OK || st == SPAR_E_INVALID_ARG);
        if (st == SPAR_OK) n_global++;
        else CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "not a global-attention layer"));
        spar_encoder_close(t);
        layers[l] = st == SPAR_OK ? SPAR_ATTENTION_QUERY_AWARE : -1;
    }
    CU_ASSERT(n_global >= 1 && n_global < (int)nl);
    for (uint32_t l = 0; l < nl; l++) { /* every global layer query-aware, the rest default (dense) */
        spar_encoder *t = NULL;
        layers[l] = SPAR_ATTENTION_QUERY_AWARE;
        if (spar_encoder_open(g_dir, &o, &t, NULL) != SPAR_OK) layers[l] = -1;
        spar_encoder_close(t);
    }
    e = open_enc(&o);
    splade_dense(e, sp);
    CU_ASSERT(max_diff(sp, ref, g_n * VOC) == 0.0);
    spar_encoder_close(e);
    spar_encoder *bad = NULL;
    layers[0] = 7;
    CU_ASSERT_EQUAL(spar_encoder_open(g_dir, &o, &bad, NULL), SPAR_E_INVALID_ARG);
    layers[0] = -1;
    o.n_attention_layers = nl + 1;
    CU_ASSERT_EQUAL(spar_encoder_open(g_dir, &o, &bad, NULL), SPAR_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(bad);
    free(base);
    free(sp);
    free(ref);
}

int main(void) {
    const char *src = getenv("SPAR_SRC");
    if (src == NULL) {
        fprintf(stderr, "SKIP: SPAR_SRC not set\n");
        return 77;
    }
    snprintf(g_dir, sizeof g_dir, "%s/tests/golden/data/encoder/micro-modernbert", src);
    if (read_ids() != 0) {
        fprintf(stderr, "cannot read %s/ids.txt\n", g_dir);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("modernbert_fixture", NULL, NULL);
    CU_add_test(s, "hidden states == PyTorch reference (packed and one by one)", test_hidden_matches_reference);
    CU_add_test(s, "API: SPLADE and mean pooling == reference; ids only", test_api_splade_and_pooling);
    CU_add_test(s, "API: attention options below the threshold change nothing", test_api_attention_options);
    CU_add_test(s, "API: per-layer attention choices", test_api_attention_per_layer);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
