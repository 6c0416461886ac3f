/* test_idf_query.c — CUnit tests of the inference-free query encoder (encoders/sparse/idf_query.h): idf.json
 * loading and its errors, distinct-id / special-token / default-weight semantics, and, when SPAR_DATA is set,
 * the real bert-uncased idf.json against the bert-base-uncased vocabulary. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/sparse/idf_query.h"

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\n##s\n.\nmat\n";
/*                            0      1      2      3      4       5    6   7   8   9  10 */
static const char IDF[] = "{\"the\": 0.25, \"cat\": 3.5, \"##s\": 1.25, \".\": 0.01, \"[CLS]\": 2.0, "
                          "\"[SEP]\": 2.0, \"notinvocab\": 9.0}";

static spar_tokenizer *tok;
static spar_idf *idf;

static void test_load_info(void) {
    spar_idf_info info;
    spar_idf_get_info(idf, &info);
    CU_ASSERT_EQUAL(info.vocab_size, 11);
    CU_ASSERT_EQUAL(info.n_entries, 7);
    CU_ASSERT_EQUAL(info.n_matched, 6);
    CU_ASSERT_EQUAL(info.n_unmatched, 1);
    CU_ASSERT_EQUAL(spar_idf_weight(idf, 6), 3.5f);
    CU_ASSERT_EQUAL(spar_idf_weight(idf, 7), 1.0f); /* "sat" is not listed: default 1.0 */
    CU_ASSERT_EQUAL(spar_idf_weight(idf, 99), 0.0f);
}

static void test_distinct_sorted_no_special(void) {
    const char *q = "The cats sat. The cat sat!"; /* "!" is not in the vocab -> [UNK], a special: dropped */
    uint32_t ids[64];
    float w[64];
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(spar_idf_query_encode(idf, tok, q, strlen(q), NULL, ids, w, 64, &n, NULL), SPAR_OK);
    const uint32_t want_ids[] = {5, 6, 7, 8, 9};
    const float want_w[] = {0.25f, 3.5f, 1.0f, 1.25f, 0.01f};
    CU_ASSERT_EQUAL_FATAL(n, 5);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(ids[i], want_ids[i]);
        CU_ASSERT_EQUAL(w[i], want_w[i]); /* repeated tokens are not summed */
    }
}

static void test_keep_special(void) {
    spar_idf_query_opts o = spar_idf_query_opts_default();
    o.keep_special = 1;
    uint32_t ids[16];
    float w[16];
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(spar_idf_query_encode(idf, tok, "cat", 3, &o, ids, w, 16, &n, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(ids[0], 2);
    CU_ASSERT_EQUAL(w[0], 2.0f);
    CU_ASSERT_EQUAL(ids[1], 3);
    CU_ASSERT_EQUAL(ids[2], 6);
}

static void test_empty_query(void) {
    uint32_t ids[4];
    float w[4];
    size_t n = 7;
    CU_ASSERT_EQUAL(spar_idf_query_encode(idf, tok, "", 0, NULL, ids, w, 4, &n, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(n, 0);
}

static void test_capacity_and_utf8(void) {
    uint32_t ids[3];
    float w[3];
    size_t n = 0;
    CU_ASSERT_EQUAL(spar_idf_query_encode(idf, tok, "the cat sat", 11, NULL, ids, w, 3, &n, NULL), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(n, 5); /* [CLS] the cat sat [SEP] must fit before de-duplication */
    spar_diag d = {{0}};
    uint32_t ids2[16];
    float w2[16];
    CU_ASSERT_EQUAL(spar_idf_query_encode(idf, tok, "cat \xc3", 5, NULL, ids2, w2, 16, &n, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "byte 4"));
}

static void test_load_errors(void) {
    spar_idf *x = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_idf_load_mem("{\"the\": 1", 9, tok, "i.json", &x, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "i.json: byte"));
    CU_ASSERT_EQUAL(spar_idf_load_mem("{\"the\": \"1\"}", 12, tok, NULL, &x, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "\"the\""));
    CU_ASSERT_EQUAL(spar_idf_load_mem("[1, 2]", 6, tok, NULL, &x, &d), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_idf_load_mem("{\"the\": 1e999}", 14, tok, NULL, &x, &d), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_idf_load("/nonexistent/idf.json", tok, &x, &d), SPAR_E_NOT_FOUND);
    CU_ASSERT_PTR_NULL(x);
}

static void test_vocab_mismatch(void) {
    spar_tokenizer *other = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_tokenizer_load_mem("[UNK]\n[CLS]\n[SEP]\n", 18, SPAR_TOKENIZER_VOCAB_TXT, NULL,
                                                  &other, NULL), SPAR_OK);
    uint32_t ids[8];
    float w[8];
    size_t n = 0;
    CU_ASSERT_EQUAL(spar_idf_query_encode(idf, other, "x", 1, NULL, ids, w, 8, &n, NULL), SPAR_E_INVALID_ARG);
    spar_tokenizer_free(other);
}

/* Real data: every one of the 30,522 bert-uncased tokens is listed; spot weights from SOURCES.md. */
static void test_real_idf(void) {
    const char *data = getenv("SPAR_DATA");
    char p[4096];
    spar_tokenizer *bt = NULL;
    spar_idf *bi = NULL;
    spar_diag d = {{0}};
    snprintf(p, sizeof p, "%s/bert-base-uncased-vocab/tokenizer.json", data);
    CU_ASSERT_EQUAL_FATAL(spar_tokenizer_load(p, &bt, &d), SPAR_OK);
    snprintf(p, sizeof p, "%s/opensearch-sparse-idf/bert-uncased/idf.json", data);
    CU_ASSERT_EQUAL_FATAL(spar_idf_load(p, bt, &bi, &d), SPAR_OK);
    spar_idf_info info;
    spar_idf_get_info(bi, &info);
    CU_ASSERT_EQUAL(info.n_matched, 30522);
    CU_ASSERT_EQUAL(info.n_unmatched, 0);
    CU_ASSERT(fabsf(spar_idf_weight(bi, 1996) - 0.1353016f) < 1e-6f); /* "the" */
    const char *q = "What is the the THE retrieval?";
    uint32_t ids[64];
    float w[64];
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(spar_idf_query_encode(bi, bt, q, strlen(q), NULL, ids, w, 64, &n, &d), SPAR_OK);
    CU_ASSERT_EQUAL(n, 5); /* ? is what the retrieval (ascending ids) */
    for (size_t i = 1; i < n; i++) CU_ASSERT(ids[i - 1] < ids[i]);
    for (size_t i = 0; i < n; i++) CU_ASSERT_EQUAL(w[i], spar_idf_weight(bi, ids[i]));
    spar_idf_free(bi);
    spar_tokenizer_free(bt);
}

static int suite_init(void) {
    spar_diag d = {{0}};
    if (spar_tokenizer_load_mem(VOCAB, sizeof VOCAB - 1, SPAR_TOKENIZER_VOCAB_TXT, NULL, &tok, &d) != SPAR_OK) return 1;
    return spar_idf_load_mem(IDF, sizeof IDF - 1, tok, NULL, &idf, &d) != SPAR_OK;
}
static int suite_clean(void) {
    spar_idf_free(idf);
    spar_tokenizer_free(tok);
    return 0;
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/idf_query", suite_init, suite_clean);
    if (s == NULL || !CU_add_test(s, "idf.json load: matched, unmatched, default", test_load_info) ||
        !CU_add_test(s, "distinct ids, ascending, specials dropped", test_distinct_sorted_no_special) ||
        !CU_add_test(s, "keep_special keeps [CLS]/[SEP]", test_keep_special) ||
        !CU_add_test(s, "empty query is empty", test_empty_query) ||
        !CU_add_test(s, "capacity and invalid UTF-8", test_capacity_and_utf8) ||
        !CU_add_test(s, "idf.json errors", test_load_errors) ||
        !CU_add_test(s, "tokenizer/idf vocabulary mismatch", test_vocab_mismatch))
        goto out;
    const char *data = getenv("SPAR_DATA");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/opensearch-sparse-idf/bert-uncased/idf.json", data ? data : "");
    FILE *f = data ? fopen(probe, "rb") : NULL;
    if (f != NULL) {
        fclose(f);
        if (!CU_add_test(s, "real bert-uncased idf.json", test_real_idf)) goto out;
    } else {
        printf("note: SPAR_DATA idf.json not available; real-data test not run\n");
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
