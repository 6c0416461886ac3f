/* test_encode_longdoc.c — SPLADE long-document chunking of the encoder API (spar_encoder_opts.long_doc_stride)
 * on the committed tiny BERT fixture (tests/golden/data/encoder/tiny-bert, 64 positions): an input that fits
 * gives exactly the vector it gives without chunking; a long input gives the element-wise max of its chunk
 * vectors encoded separately (chunks built here independently: [CLS] + body window + [SEP]); a batch mixing
 * long and short inputs equals the inputs encoded one by one; bad strides are rejected; without chunking a
 * long id input is still an error. Needs SPAR_SRC (set by ctest). */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spar/spar_encode.h"

static char g_dir[4096];
#define V 1000u

static uint32_t rng = 12345;
static uint32_t rnd(uint32_t n) {
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % n;
}

/* A sequence [101-like cls] body... [sep] of n ids (cls 1, sep 2 in the tiny vocabulary). */
static uint32_t *make_seq(uint32_t n) {
    uint32_t *ids = malloc(n * sizeof *ids);
    ids[0] = 1;
    for (uint32_t i = 1; i + 1 < n; i++)
        ids[i] = 3 + rnd(V - 3);
    ids[n - 1] = 2;
    return ids;
}

static void densify(const spar_sparse_result *r, float *out) {
    memset(out, 0, V * sizeof *out);
    for (uint32_t i = 0; i < r->n; i++)
        out[r->ids[i]] = r->weights[i];
}

static spar_encoder *open_enc(uint32_t max_length, uint32_t stride) {
    spar_encoder_opts o = spar_encoder_opts_default();
    o.max_length = max_length;
    o.long_doc_stride = stride;
    spar_encoder *e = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir, &o, &e, NULL), SPAR_OK);
    return e;
}

static void encode1(spar_encoder *e, const uint32_t *ids, uint32_t n, float *dense_out, spar_status want) {
    spar_token_ids s = {ids, n};
    spar_encode_input in = {NULL, &s, 1};
    spar_sparse_result r;
    spar_status st = spar_encode_splade_batch(e, &in, NULL, &r);
    CU_ASSERT_EQUAL(st, want);
    if (st == SPAR_OK) {
        if (dense_out) densify(&r, dense_out);
        spar_sparse_results_free(&r, 1);
    }
}

static void test_short_input_unchanged(void) {
    spar_encoder *plain = open_enc(64, 0), *chunked = open_enc(64, 20);
    const uint32_t lens[] = {1, 2, 30, 64};
    float *a = malloc(V * sizeof(float)), *b = malloc(V * sizeof(float));
    for (size_t i = 0; i < 4; i++) {
        uint32_t *ids = make_seq(lens[i]);
        encode1(plain, ids, lens[i], a, SPAR_OK);
        encode1(chunked, ids, lens[i], b, SPAR_OK);
        CU_ASSERT(memcmp(a, b, V * sizeof(float)) == 0);
        free(ids);
    }
    free(a);
    free(b);
    spar_encoder_close(plain);
    spar_encoder_close(chunked);
}

/* Long input == max over its chunks encoded one at a time (max_length 64 -> body windows of 62). */
static void test_long_input_is_max_of_chunks(void) {
    const uint32_t ml = 64, strides[] = {62, 31, 50, 1}, ns[] = {65, 200, 301};
    float *got = malloc(V * sizeof(float)), *want = malloc(V * sizeof(float)), *one = malloc(V * sizeof(float));
    spar_encoder *plain = open_enc(ml, 0);
    for (size_t si = 0; si < 4; si++) {
        spar_encoder *e = open_enc(ml, strides[si]);
        for (size_t ni = 0; ni < 3; ni++) {
            uint32_t n = ns[ni], body = n - 2, win = ml - 2, S = strides[si];
            if (S == 1 && n > 65) continue; /* keep the test short */
            uint32_t *ids = make_seq(n), chunk[64];
            encode1(e, ids, n, got, SPAR_OK);
            for (size_t v = 0; v < V; v++)
                want[v] = 0;
            uint32_t n_chunks = 0;
            for (uint32_t start = 0;; start += S) {
                uint32_t len = body - start < win ? body - start : win;
                chunk[0] = ids[0];
                memcpy(chunk + 1, ids + 1 + start, len * sizeof *chunk);
                chunk[len + 1] = ids[n - 1];
                encode1(plain, chunk, len + 2, one, SPAR_OK);
                for (size_t v = 0; v < V; v++)
                    want[v] = one[v] > want[v] ? one[v] : want[v];
                n_chunks++;
                if (start + win >= body) break;
            }
            CU_ASSERT(n_chunks >= 2);
            double err = 0;
            for (size_t v = 0; v < V; v++)
                err = fmax(err, fabs((double)got[v] - want[v]));
            if (!(err <= 1e-5)) fprintf(stderr, "n=%u stride=%u chunks=%u err %.3g\n", n, S, n_chunks, err);
            CU_ASSERT(err <= 1e-5);
            free(ids);
        }
        spar_encoder_close(e);
    }
    /* without chunking a long id input is an error, as before */
    uint32_t *ids = make_seq(100);
    encode1(plain, ids, 100, NULL, SPAR_E_INVALID_ARG);
    free(ids);
    spar_encoder_close(plain);
    free(got);
    free(want);
    free(one);
}

/* A batch mixing long and short inputs == each input alone (pieces of one input may straddle packs). */
static void test_batch_equals_single(void) {
    spar_encoder_opts o = spar_encoder_opts_default();
    o.max_length = 64;
    o.long_doc_stride = 40;
    o.max_batch_tokens = 150; /* small packs: pieces of one input span several forward calls */
    spar_encoder *e = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_encoder_open(g_dir, &o, &e, NULL), SPAR_OK);
    const uint32_t lens[] = {10, 250, 64, 3, 130, 65};
    spar_token_ids seqs[6];
    for (int i = 0; i < 6; i++) {
        seqs[i].n = lens[i];
        seqs[i].ids = make_seq(lens[i]);
    }
    spar_encode_input in = {NULL, seqs, 6};
    spar_sparse_result r[6];
    CU_ASSERT_EQUAL_FATAL(spar_encode_splade_batch(e, &in, NULL, r), SPAR_OK);
    float *a = malloc(V * sizeof(float)), *b = malloc(V * sizeof(float));
    for (int i = 0; i < 6; i++) {
        densify(&r[i], a);
        encode1(e, seqs[i].ids, seqs[i].n, b, SPAR_OK);
        double err = 0;
        for (size_t v = 0; v < V; v++)
            err = fmax(err, fabs((double)a[v] - b[v]));
        CU_ASSERT(err <= 1e-5);
        free((void *)seqs[i].ids);
    }
    spar_sparse_results_free(r, 6);
    free(a);
    free(b);
    spar_encoder_close(e);
}

static void test_bad_stride_rejected(void) {
    spar_encoder_opts o = spar_encoder_opts_default();
    o.max_length = 64;
    o.long_doc_stride = 63; /* > max_length - 2 */
    spar_encoder *e = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_encoder_open(g_dir, &o, &e, &d), SPAR_E_INVALID_ARG);
    CU_ASSERT(e == NULL);
    CU_ASSERT(strstr(d.msg, "stride") != NULL);
    o.long_doc_stride = 62;
    CU_ASSERT_EQUAL(spar_encoder_open(g_dir, &o, &e, NULL), SPAR_OK);
    spar_encoder_close(e);
    o.attention = 7;
    CU_ASSERT_EQUAL(spar_encoder_open(g_dir, &o, &e, NULL), SPAR_E_INVALID_ARG);
}

int main(void) {
    const char *src = getenv("SPAR_SRC");
    if (src == NULL) {
        fprintf(stderr, "SKIP: SPAR_SRC not set\n");
        return 77;
    }
    snprintf(g_dir, sizeof g_dir, "%s/tests/golden/data/encoder/tiny-bert", src);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("encode_longdoc", NULL, NULL);
    CU_add_test(s, "input that fits: same vector as without chunking", test_short_input_unchanged);
    CU_add_test(s, "long input == max over its chunks", test_long_input_is_max_of_chunks);
    CU_add_test(s, "mixed batch == one by one", test_batch_equals_single);
    CU_add_test(s, "bad stride / attention mode rejected", test_bad_stride_rejected);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
