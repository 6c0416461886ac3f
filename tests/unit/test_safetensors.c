/* test_safetensors.c — unit tests for the safetensors reader and the config.json reader
 * (encoders/model/safetensors.h, config.h): valid files, each validation rule, dtype conversions. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoders/model/config.h"
#include "encoders/model/safetensors.h"

/* Build "u64 len | header | data" into a malloc'd buffer. */
static uint8_t *mk(const char *header, const void *data, size_t n_data, size_t *size) {
    size_t h = strlen(header);
    *size = 8 + h + n_data;
    uint8_t *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    if (n_data) memcpy(b + 8 + h, data, n_data);
    return b;
}

static uint8_t *g_buf; /* image behind the last successfully returned object */

static spar_status parse(const char *header, const void *data, size_t n, spar_safetensors **out) {
    size_t size;
    uint8_t *b = mk(header, data, n, &size);
    spar_diag d = {{0}};
    spar_safetensors *st = NULL;
    spar_status s = spar_safetensors_parse(b, size, "t", &st, &d);
    if (s == SPAR_OK && out != NULL) { /* the object borrows b: the caller frees g_buf after closing */
        *out = st;
        g_buf = b;
        return s;
    }
    spar_safetensors_close(st);
    free(b);
    return s;
}

static void test_valid_mixed_dtypes(void) {
    float f[3] = {1.5f, -2.0f, 0.25f};
    uint8_t data[12 + 4 + 4];
    memcpy(data, f, 12);
    uint16_t h[2] = {0x3c00 /* 1.0 f16 */, 0xc000 /* -2.0 f16 */}, bf[2] = {0x3f80 /* 1.0 */, 0x4049 /* ~3.14 */};
    memcpy(data + 12, h, 4);
    memcpy(data + 16, bf, 4);
    spar_safetensors *st = NULL;
    CU_ASSERT_EQUAL_FATAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                                "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[12,16]},"
                                "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},"
                                "\"__metadata__\":{\"format\":\"pt\"}}   ", data, sizeof data, &st), SPAR_OK);
    CU_ASSERT_EQUAL(spar_safetensors_count(st), 3);
    const spar_st_tensor *b = spar_safetensors_find(st, "b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(b->n_dims, 2);
    CU_ASSERT_EQUAL(b->shape[1], 2);
    float out[3];
    CU_ASSERT_EQUAL(spar_st_to_f32(spar_safetensors_find(st, "a"), out), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(out, f, 12), 0);
    CU_ASSERT_EQUAL(spar_st_to_f32(b, out), SPAR_OK);
    CU_ASSERT_EQUAL(out[0], 1.0f);
    CU_ASSERT_EQUAL(out[1], -2.0f);
    CU_ASSERT_EQUAL(spar_st_to_f32(spar_safetensors_find(st, "c"), out), SPAR_OK);
    CU_ASSERT_EQUAL(out[0], 1.0f);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 3.140625, 1e-9);
    CU_ASSERT_STRING_EQUAL(spar_safetensors_meta(st, "format"), "pt");
    CU_ASSERT_PTR_NULL(spar_safetensors_find(st, "zz"));
    spar_safetensors_close(st);
    free(g_buf);
}

static void test_empty_and_scalar_tensors(void) {
    float v = 4.0f;
    CU_ASSERT_EQUAL(parse("{\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
                          "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", &v, 4, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(parse("{}", NULL, 0, NULL), SPAR_OK);
}

static void test_header_length_beyond_file(void) {
    size_t size;
    uint8_t *b = mk("{}", NULL, 0, &size);
    b[0] = 200; /* claims a 200-byte header in a 10-byte file */
    spar_safetensors *st = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_safetensors_parse(b, size, "t", &st, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "header length"));
    CU_ASSERT_EQUAL(spar_safetensors_parse(b, 5, "t", &st, &d), SPAR_E_CORRUPT);
    free(b);
}

static void test_header_must_be_object(void) {
    CU_ASSERT_EQUAL(parse("[1,2]", NULL, 0, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse(" {}", NULL, 0, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":", NULL, 0, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{}x", NULL, 0, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{}\n", NULL, 0, NULL), SPAR_E_CORRUPT);
}

static void test_hole_overlap_trailing(void) {
    uint8_t z[16] = {0};
    /* hole: a starts at 4 */
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    /* overlap: b inside a */
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    /* trailing bytes not covered by any tensor */
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", z, 8, NULL), SPAR_E_CORRUPT);
    /* end beyond the data buffer */
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", z, 8, NULL), SPAR_E_CORRUPT);
    /* begin > end */
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", z, 4, NULL), SPAR_E_CORRUPT);
}

static void test_size_and_shape_rules(void) {
    uint8_t z[16] = {0};
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                          "\"data_offsets\":[0,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", z, 4, NULL),
                    SPAR_E_CORRUPT);
}

static void test_duplicate_names_and_bad_metadata(void) {
    uint8_t z[8] = {0};
    CU_ASSERT_EQUAL(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                          "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"__metadata__\":{\"k\":1}}", NULL, 0, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(parse("{\"__metadata__\":[]}", NULL, 0, NULL), SPAR_E_CORRUPT);
}

static void test_unsupported_dtype_conversion(void) {
    uint8_t z[8] = {0};
    spar_safetensors *st = NULL;
    CU_ASSERT_EQUAL_FATAL(parse("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", z, 8, &st), SPAR_OK);
    float out[1];
    CU_ASSERT_EQUAL(spar_st_to_f32(spar_safetensors_find(st, "a"), out), SPAR_E_UNSUPPORTED);
    spar_safetensors_close(st);
    free(g_buf);
}

static void test_half_conversions(void) {
    CU_ASSERT_EQUAL(spar_f16_to_f32(0x0001), 5.9604644775390625e-8f); /* smallest subnormal */
    CU_ASSERT_EQUAL(spar_f16_to_f32(0x7bff), 65504.0f);
    CU_ASSERT(spar_f16_to_f32(0x7c00) > 1e30f);
    CU_ASSERT_EQUAL(spar_f16_to_f32(0x8000), -0.0f);
    CU_ASSERT_EQUAL(spar_f32_to_bf16(1.0f), 0x3f80);
    CU_ASSERT_EQUAL(spar_f32_to_bf16(1.00390625f), 0x3f80);    /* tie -> even */
    CU_ASSERT_EQUAL(spar_f32_to_bf16(1.01171875f), 0x3f82);    /* tie -> even (up) */
    CU_ASSERT_EQUAL(spar_bf16_to_f32(spar_f32_to_bf16(-3.5f)), -3.5f);
}

static void test_open_file_roundtrip_and_missing(void) {
    char path[] = "/tmp/spar_st_testXXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    float v[2] = {7.0f, 8.0f};
    size_t size;
    uint8_t *b = mk("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", v, 8, &size);
    CU_ASSERT_EQUAL(write(fd, b, size), (ssize_t)size);
    close(fd);
    free(b);
    spar_safetensors *st = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_safetensors_open(path, &st, &d), SPAR_OK);
    float out[2];
    CU_ASSERT_EQUAL(spar_st_to_f32(spar_safetensors_find(st, "w"), out), SPAR_OK);
    CU_ASSERT_EQUAL(out[1], 8.0f);
    spar_safetensors_close(st);
    unlink(path);
    CU_ASSERT_EQUAL(spar_safetensors_open(path, &st, &d), SPAR_E_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, path));
}

static void test_config_bert_and_distilbert(void) {
    spar_model_config c;
    spar_diag d = {{0}};
    const char *b = "{\"model_type\":\"bert\",\"vocab_size\":30522,\"hidden_size\":768,\"num_hidden_layers\":12,"
                    "\"num_attention_heads\":12,\"intermediate_size\":3072,\"max_position_embeddings\":512,"
                    "\"type_vocab_size\":2,\"layer_norm_eps\":1e-12,\"hidden_act\":\"gelu\"}";
    CU_ASSERT_EQUAL_FATAL(spar_model_config_parse(b, strlen(b), NULL, &c, &d), SPAR_OK);
    CU_ASSERT_EQUAL(c.arch, SPAR_ARCH_BERT);
    CU_ASSERT_EQUAL(c.intermediate, 3072);
    CU_ASSERT_DOUBLE_EQUAL(c.ln_eps, 1e-12, 1e-18);
    const char *s = "{\"model_type\":\"distilbert\",\"vocab_size\":30522,\"dim\":768,\"n_layers\":6,\"n_heads\":12,"
                    "\"hidden_dim\":3072,\"max_position_embeddings\":512,\"activation\":\"gelu\"}";
    CU_ASSERT_EQUAL_FATAL(spar_model_config_parse(s, strlen(s), NULL, &c, &d), SPAR_OK);
    CU_ASSERT_EQUAL(c.arch, SPAR_ARCH_DISTILBERT);
    CU_ASSERT_EQUAL(c.n_layers, 6);
    CU_ASSERT_EQUAL(c.type_vocab_size, 0);
}

static void test_config_rejects_bad_values(void) {
    spar_model_config c;
    spar_diag d = {{0}};
    const char *miss = "{\"model_type\":\"bert\",\"vocab_size\":30522}";
    CU_ASSERT_EQUAL(spar_model_config_parse(miss, strlen(miss), NULL, &c, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "hidden_size"));
    const char *heads = "{\"model_type\":\"distilbert\",\"vocab_size\":10,\"dim\":10,\"n_layers\":1,\"n_heads\":3,"
                        "\"hidden_dim\":4,\"max_position_embeddings\":8}";
    CU_ASSERT_EQUAL(spar_model_config_parse(heads, strlen(heads), NULL, &c, &d), SPAR_E_CORRUPT);
    const char *arch = "{\"model_type\":\"gpt2\"}";
    CU_ASSERT_EQUAL(spar_model_config_parse(arch, strlen(arch), NULL, &c, &d), SPAR_E_UNSUPPORTED);
    const char *act = "{\"model_type\":\"distilbert\",\"vocab_size\":10,\"dim\":4,\"n_layers\":1,\"n_heads\":2,"
                      "\"hidden_dim\":4,\"max_position_embeddings\":8,\"activation\":\"swish\"}";
    CU_ASSERT_EQUAL(spar_model_config_parse(act, strlen(act), NULL, &c, &d), SPAR_E_UNSUPPORTED);
    CU_ASSERT_EQUAL(spar_model_config_parse("nope", 4, NULL, &c, &d), SPAR_E_CORRUPT);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/safetensors", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "valid file with F32, F16, BF16 and metadata", test_valid_mixed_dtypes) ||
        !CU_add_test(s, "empty and scalar tensors", test_empty_and_scalar_tensors) ||
        !CU_add_test(s, "header length beyond the file", test_header_length_beyond_file) ||
        !CU_add_test(s, "header must be one JSON object, space padded", test_header_must_be_object) ||
        !CU_add_test(s, "holes, overlaps and trailing bytes rejected", test_hole_overlap_trailing) ||
        !CU_add_test(s, "byte size, shape and dtype rules", test_size_and_shape_rules) ||
        !CU_add_test(s, "duplicate names and bad metadata", test_duplicate_names_and_bad_metadata) ||
        !CU_add_test(s, "non-float dtype conversion unsupported", test_unsupported_dtype_conversion) ||
        !CU_add_test(s, "f16 / bf16 conversions", test_half_conversions) ||
        !CU_add_test(s, "open: file round trip, missing file", test_open_file_roundtrip_and_missing) ||
        !CU_add_test(s, "config.json: bert and distilbert", test_config_bert_and_distilbert) ||
        !CU_add_test(s, "config.json: bad values rejected", test_config_rejects_bad_values))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
