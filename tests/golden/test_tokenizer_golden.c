/* test_tokenizer_golden.c — golden test of the WordPiece tokenizer (encoders/tokenizer): every line of
 * tests/golden/tokenizer_adversarial.txt (\xNN = raw byte; invalid UTF-8 replaced) must give exactly the ids
 * and character offsets of tests/golden/tokenizer_adversarial.expected, written by tests/python/ref_wordpiece.py
 * (tests/cli/tokenizer_reference.sh checks that file is still what the reference produces). Needs the
 * bert-base-uncased vocabulary from SPAR_DATA; skips (77) without it. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/tokenizer/tokenizer.h"

#include "common/test_util.h"

static int hexv(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char g_vocab[4096], g_src[4096];

static void test_adversarial_golden(void) {
    char p[4200];
    size_t tl = 0, el = 0;
    snprintf(p, sizeof p, "%s/tests/golden/tokenizer_adversarial.txt", g_src);
    char *txt = (char *)spar_test_slurp(p, &tl); /* NUL-terminated */
    snprintf(p, sizeof p, "%s/tests/golden/tokenizer_adversarial.expected", g_src);
    char *exp = (char *)spar_test_slurp(p, &el);
    CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(exp);
    spar_tokenizer *tok = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_tokenizer_load(g_vocab, &tok, &d), SPAR_OK);
    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.max_len = 0;
    o.replace_invalid = 1;
    int n_texts = 0, n_bad = 0;
    char *tsave = NULL, *esave = NULL;
    char *eline = strtok_r(exp, "\n", &esave);
    for (char *line = strtok_r(txt, "\n", &tsave); line != NULL; line = strtok_r(NULL, "\n", &tsave)) {
        if (line[0] == '#' || line[0] == '\0') continue;
        /* unescape \xNN in place */
        size_t w = 0, len = strlen(line);
        for (size_t i = 0; i < len; i++) {
            if (line[i] == '\\' && i + 3 < len && line[i + 1] == 'x' && hexv(line[i + 2]) >= 0 && hexv(line[i + 3]) >= 0) {
                line[w++] = (char)(hexv(line[i + 2]) * 16 + hexv(line[i + 3]));
                i += 3;
            } else {
                line[w++] = line[i];
            }
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(eline);
        uint32_t ids[1024];
        spar_token_span sp[1024];
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(spar_tokenizer_encode(tok, line, w, &o, ids, sp, 1024, &n, &d), SPAR_OK);
        char got[16384];
        size_t g = 0;
        for (size_t j = 0; j < n; j++) g += (size_t)snprintf(got + g, sizeof got - g, j ? " %u" : "%u", ids[j]);
        g += (size_t)snprintf(got + g, sizeof got - g, "\t");
        for (size_t j = 0; j < n; j++)
            g += (size_t)snprintf(got + g, sizeof got - g, j ? " %u:%u" : "%u:%u", sp[j].char_start, sp[j].char_end);
        n_texts++;
        if (strcmp(got, eline) != 0) {
            n_bad++;
            if (n_bad <= 3) printf("\nline %d:\n  got      %s\n  expected %s\n", n_texts, got, eline);
        }
        eline = strtok_r(NULL, "\n", &esave);
    }
    CU_ASSERT_PTR_NULL(eline); /* same number of lines */
    CU_ASSERT(n_texts >= 40);
    CU_ASSERT_EQUAL(n_bad, 0);
    spar_tokenizer_free(tok);
    free(txt);
    free(exp);
}

int main(void) {
    const char *data = getenv("SPAR_DATA"), *src = getenv("SPAR_SRC");
    if (data == NULL || src == NULL) {
        printf("SKIP: SPAR_DATA / SPAR_SRC not set\n");
        return 77;
    }
    snprintf(g_vocab, sizeof g_vocab, "%s/bert-base-uncased-vocab/vocab.txt", data);
    snprintf(g_src, sizeof g_src, "%s", src);
    FILE *f = fopen(g_vocab, "rb");
    if (f == NULL) {
        printf("SKIP: %s not available\n", g_vocab);
        return 77;
    }
    fclose(f);
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/tokenizer_golden", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "adversarial Unicode set = checked-in ids and offsets", test_adversarial_golden))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
