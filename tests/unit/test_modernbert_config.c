/* test_modernbert_config.c — config.json parsing for "model_type": "modernbert" (encoders/model/config.c):
 * ModernBERT-base defaults and explicit fields, the transformers-5 spelling (layer_types, rope_parameters),
 * and rejections that name the key (bad layer_types, unsupported rope_type / rope_scaling, odd head width,
 * non-boolean bias flags, out-of-range token ids). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "encoders/model/config.h"

#define BASE_FIELDS                                                                                          \
    "\"model_type\":\"modernbert\",\"vocab_size\":50368,\"hidden_size\":768,\"num_hidden_layers\":22,"          \
    "\"num_attention_heads\":12,\"intermediate_size\":1152"

static spar_status parse(const char *json, spar_model_config *c, spar_diag *d) {
    return spar_model_config_parse(json, strlen(json), "cfg", c, d);
}

static void test_base_defaults(void) {
    spar_model_config c;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(parse("{" BASE_FIELDS "}", &c, &d), SPAR_OK);
    CU_ASSERT_EQUAL(c.arch, SPAR_ARCH_MODERNBERT);
    CU_ASSERT_EQUAL(c.max_positions, 8192);
    CU_ASSERT_EQUAL(c.local_window, 128);
    CU_ASSERT_EQUAL(c.global_every, 3);
    CU_ASSERT(c.rope_theta_global == 160000.0f && c.rope_theta_local == 10000.0f);
    CU_ASSERT(c.ln_eps == 1e-5f);
    CU_ASSERT(!c.attention_bias && !c.mlp_bias && !c.norm_bias && !c.classifier_bias);
    CU_ASSERT(c.decoder_bias && c.tie_embeddings);
    for (uint32_t i = 0; i < 22; i++)
        CU_ASSERT_EQUAL(c.layer_global[i], i % 3 == 0);
    CU_ASSERT_EQUAL(c.cls_token_id, -1);
}

static void test_explicit_and_new_spelling(void) {
    spar_model_config c;
    const char *j4 = "{\"model_type\":\"modernbert\",\"vocab_size\":100,\"hidden_size\":64,\"num_hidden_layers\":4,"
                     "\"num_attention_heads\":4,\"intermediate_size\":32,\"norm_bias\":true,\"decoder_bias\":false,"
                     "\"local_attention\":256,\"cls_token_id\":7,\"norm_eps\":1e-6,"
                     "\"layer_types\":[\"full_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\"],"
                     "\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"default\",\"rope_theta\":5000.0},"
                     "\"sliding_attention\":{\"rope_type\":\"default\",\"rope_theta\":700.0}}}";
    CU_ASSERT_EQUAL_FATAL(parse(j4, &c, NULL), SPAR_OK);
    CU_ASSERT(c.norm_bias && !c.decoder_bias);
    CU_ASSERT_EQUAL(c.local_window, 256);
    CU_ASSERT_EQUAL(c.cls_token_id, 7);
    CU_ASSERT(c.rope_theta_global == 5000.0f && c.rope_theta_local == 700.0f);
    CU_ASSERT(c.layer_global[0] && c.layer_global[1] && !c.layer_global[2] && c.layer_global[3]);
    CU_ASSERT(c.ln_eps == 1e-6f);
}

static void expect_fail(const char *json, spar_status want, const char *needle) {
    spar_model_config c;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(parse(json, &c, &d), want);
    if (strstr(d.msg, needle) == NULL) fprintf(stderr, "diag '%s' lacks '%s'\n", d.msg, needle);
    CU_ASSERT(strstr(d.msg, needle) != NULL);
}

static void test_rejections(void) {
    expect_fail("{" BASE_FIELDS ",\"layer_types\":[\"full_attention\"]}", SPAR_E_CORRUPT, "layer_types");
    expect_fail("{" BASE_FIELDS ",\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"yarn\"}}}",
                SPAR_E_UNSUPPORTED, "rope_type");
    expect_fail("{" BASE_FIELDS ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":2}}", SPAR_E_UNSUPPORTED,
                "rope_scaling");
    expect_fail("{\"model_type\":\"modernbert\",\"vocab_size\":100,\"hidden_size\":36,\"num_hidden_layers\":1,"
                "\"num_attention_heads\":4,\"intermediate_size\":8}",
                SPAR_E_CORRUPT, "even");
    expect_fail("{" BASE_FIELDS ",\"mlp_bias\":1}", SPAR_E_CORRUPT, "mlp_bias");
    expect_fail("{" BASE_FIELDS ",\"sep_token_id\":50368}", SPAR_E_CORRUPT, "sep_token_id");
    expect_fail("{" BASE_FIELDS ",\"global_rope_theta\":-1}", SPAR_E_CORRUPT, "global_rope_theta");
    expect_fail("{" BASE_FIELDS ",\"hidden_activation\":\"silu\"}", SPAR_E_UNSUPPORTED, "silu");
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("modernbert_config", NULL, NULL);
    CU_add_test(s, "ModernBERT-base defaults", test_base_defaults);
    CU_add_test(s, "explicit fields, layer_types + rope_parameters", test_explicit_and_new_spelling);
    CU_add_test(s, "rejections name the key", test_rejections);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
