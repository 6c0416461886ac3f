/* test_tokenizer.c — CUnit tests of the BERT WordPiece tokenizer (encoders/tokenizer/tokenizer.h) on a small
 * in-memory vocabulary: each HF rule (cleanup, CJK isolation, accents, punctuation, greedy WordPiece, 100-char
 * limit, added tokens, truncation, offsets), the invalid-UTF-8 policy, the loaders' error paths and shared use
 * from two threads. Whole-corpus agreement with the Python reference is tests/cli/tokenizer_reference.sh. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoders/tokenizer/tokenizer.h"

/* ids = line index */
static const char VOCAB[] =
    "[PAD]\n[unused0]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" /* 0..5 */
    "hello\n,\nworld\n!\nun\n##aff\n##able\n"           /* 6..12 */
    "cafe\n中\n文\nabc\na\n##a\nab\n"                     /* 13..19 */
    "[\n]\nsep\n.\n##b\nb\nthe\n"                           /* 20..26 */
    "##aa\r\n"                                             /* 27: trailing \r trimmed */
    "x\xf0\x9d\x85\xa5\xf0\x9d\x85\xad\n"                  /* 28: x U+1D165 (ccc 216) U+1D16D (ccc 226) */
    "x\n";                                                 /* 29 */

static spar_tokenizer *tok;

static size_t enc(const char *text, size_t len, const spar_tokenize_opts *o, uint32_t *ids, spar_token_span *sp,
                  size_t cap, spar_status *st_out) {
    size_t n = 0;
    spar_diag d = {{0}};
    spar_status st = spar_tokenizer_encode(tok, text, len, o, ids, sp, cap, &n, &d);
    if (st_out) *st_out = st;
    else CU_ASSERT_EQUAL(st, SPAR_OK);
    return n;
}

static void expect_ids(const char *text, const uint32_t *want, size_t n_want) {
    uint32_t ids[256];
    spar_token_span sp[256];
    size_t n = enc(text, strlen(text), NULL, ids, sp, 256, NULL);
    CU_ASSERT_EQUAL_FATAL(n, n_want);
    for (size_t i = 0; i < n; i++) CU_ASSERT_EQUAL(ids[i], want[i]);
}

static void test_load_vocab_txt(void) {
    spar_tokenizer_info info;
    spar_tokenizer_get_info(tok, &info);
    CU_ASSERT_EQUAL(info.vocab_size, 30);
    CU_ASSERT_EQUAL(info.cls_id, 3);
    CU_ASSERT_EQUAL(info.sep_id, 4);
    CU_ASSERT_EQUAL(info.unk_id, 2);
    CU_ASSERT_EQUAL(info.pad_id, 0);
    CU_ASSERT_EQUAL(info.mask_id, 5);
    CU_ASSERT_EQUAL(spar_tokenizer_token_id(tok, "##aa", 4), 27);
    CU_ASSERT_EQUAL(spar_tokenizer_token_id(tok, "##aff", 5), 11);
    CU_ASSERT_EQUAL(spar_tokenizer_token_id(tok, "aff", 3), -1);
    size_t l = 0;
    CU_ASSERT_STRING_EQUAL(spar_tokenizer_token_str(tok, 14, &l), "中");
    CU_ASSERT_EQUAL(l, 3);
    CU_ASSERT_PTR_NULL(spar_tokenizer_token_str(tok, 30, NULL));
    CU_ASSERT_TRUE(spar_tokenizer_is_special(tok, 3));
    CU_ASSERT_FALSE(spar_tokenizer_is_special(tok, 1));
}

static void test_basic_offsets(void) {
    const char *t = "Hello, World!";
    uint32_t ids[16];
    spar_token_span sp[16];
    size_t n = enc(t, strlen(t), NULL, ids, sp, 16, NULL);
    const uint32_t want[] = {3, 6, 7, 8, 9, 4};
    CU_ASSERT_EQUAL_FATAL(n, 6);
    CU_ASSERT_EQUAL(memcmp(ids, want, sizeof want), 0);
    CU_ASSERT_EQUAL(sp[0].byte_end, 0);
    CU_ASSERT_EQUAL(sp[1].byte_start, 0);
    CU_ASSERT_EQUAL(sp[1].byte_end, 5);
    CU_ASSERT_EQUAL(sp[2].byte_start, 5);
    CU_ASSERT_EQUAL(sp[3].byte_start, 7);
    CU_ASSERT_EQUAL(sp[3].char_end, 12);
    CU_ASSERT_EQUAL(sp[5].char_start, 0);
}

static void test_wordpiece_greedy(void) {
    const uint32_t want[] = {3, 10, 11, 12, 4}; /* un ##aff ##able */
    expect_ids("unaffable", want, 5);
    const uint32_t want2[] = {3, 19, 27, 18, 4}; /* "abaaa": ab ##aa ##a (longest first) */
    expect_ids("abaaa", want2, 5);
}

static void test_unmatchable_word_is_one_unk(void) {
    const char *t = "hello abz!";
    uint32_t ids[16];
    spar_token_span sp[16];
    size_t n = enc(t, strlen(t), NULL, ids, sp, 16, NULL);
    const uint32_t want[] = {3, 6, 2, 9, 4}; /* "abz": ab matches, ##z does not -> whole word [UNK] */
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_EQUAL(memcmp(ids, want, sizeof want), 0);
    CU_ASSERT_EQUAL(sp[2].byte_start, 6);
    CU_ASSERT_EQUAL(sp[2].byte_end, 9);
}

static void test_word_over_100_chars(void) {
    char w[102];
    memset(w, 'a', sizeof w);
    uint32_t ids[128];
    size_t n = enc(w, 100, NULL, ids, NULL, 128, NULL); /* 100 chars: a ##aa x 49 ##a */
    CU_ASSERT_EQUAL(n, 2 + 1 + 49 + 1);
    CU_ASSERT_EQUAL(ids[1], 17);
    CU_ASSERT_EQUAL(ids[2], 27);
    CU_ASSERT_EQUAL(ids[51], 18);
    n = enc(w, 101, NULL, ids, NULL, 128, NULL);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(ids[1], 2);
    /* the limit counts characters, not bytes: 60 x "é" (120 bytes) normalise to 60 chars */
    char e[120];
    for (int i = 0; i < 60; i++) e[2 * i] = (char)0xc3, e[2 * i + 1] = (char)0xa9;
    n = enc(e, sizeof e, NULL, ids, NULL, 128, NULL);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(ids[1], 2); /* no "e" pieces in this vocab: [UNK], but a single one */
}

static void test_accents_lowercase(void) {
    const char *t = "CAF\xc3\x89 Cafe\xcc\x81"; /* precomposed É, and e + combining acute */
    uint32_t ids[16];
    spar_token_span sp[16];
    size_t n = enc(t, strlen(t), NULL, ids, sp, 16, NULL);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(ids[1], 13);
    CU_ASSERT_EQUAL(ids[2], 13);
    CU_ASSERT_EQUAL(sp[1].byte_end, 5); /* covers the whole É */
    CU_ASSERT_EQUAL(sp[1].char_end, 4);
    CU_ASSERT_EQUAL(sp[2].char_start, 5);
    CU_ASSERT_EQUAL(sp[2].char_end, 9); /* the dropped combining mark is not part of the token */
}

static void test_cjk_isolated(void) {
    const uint32_t want[] = {3, 14, 15, 16, 4};
    expect_ids("\xe4\xb8\xad\xe6\x96\x87" "abc", want, 5); /* 中文abc -> 中 文 abc */
}

static void test_controls_dropped_not_split(void) {
    const uint32_t want[] = {3, 19, 4};
    uint32_t ids[8];
    size_t n = enc("a\0b", 3, NULL, ids, NULL, 8, NULL); /* NUL removed: "ab" is one word */
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(memcmp(ids, want, sizeof want), 0);
    expect_ids("a\x0b" "b", want, 3);            /* \v is Cc: dropped before the whitespace split */
    expect_ids("a\xc2\xad" "b", want, 3);        /* soft hyphen (Cf) */
    const uint32_t want2[] = {3, 17, 25, 4};
    expect_ids("a\xc2\xa0" "b", want2, 4);       /* NBSP is whitespace */
    expect_ids("a\xe2\x80\xa8" "b", want2, 4);   /* LINE SEPARATOR is whitespace */
}

/* NFD puts a run of marks in combining-class order; a dropped class-0 Mn (U+034F) still blocks it. */
static void test_canonical_reordering(void) {
    const uint32_t want[] = {3, 28, 4};
    expect_ids("x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5", want, 3);             /* 226 then 216: reordered */
    expect_ids("x\xf0\x9d\x85\xa5\xcc\x81\xf0\x9d\x85\xad", want, 3);   /* acute (Mn, 230) dropped */
    const uint32_t unk[] = {3, 2, 4};
    expect_ids("x\xf0\x9d\x85\xad\xcd\x8f\xf0\x9d\x85\xa5", unk, 3);   /* CGJ blocks: no match */
}

static void test_punctuation_split(void) {
    const uint32_t want[] = {3, 17, 23, 25, 23, 4};
    expect_ids("a.b.", want, 6);
}

static void test_invalid_utf8_strict(void) {
    const char t[] = "abc\xff" "d";
    uint32_t ids[8];
    size_t n = 0;
    spar_diag d = {{0}};
    spar_status st = spar_tokenizer_encode(tok, t, 5, NULL, ids, NULL, 8, &n, &d);
    CU_ASSERT_EQUAL(st, SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "byte 3"));
}

static void test_invalid_utf8_replace(void) {
    const char t[] = "a\xe2\x82 b"; /* truncated 3-byte sequence: one U+FFFD, then dropped */
    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.replace_invalid = 1;
    uint32_t ids[8];
    spar_token_span sp[8];
    size_t n = enc(t, 5, &o, ids, sp, 8, NULL);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(ids[1], 17);
    CU_ASSERT_EQUAL(ids[2], 25);
    CU_ASSERT_EQUAL(sp[2].byte_start, 4);
    CU_ASSERT_EQUAL(sp[2].char_start, 3); /* a, U+FFFD, space, b */
}

static void test_truncation(void) {
    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.max_len = 4;
    uint32_t ids[8];
    size_t n = enc("hello world ! hello", 19, &o, ids, NULL, 8, NULL);
    const uint32_t want[] = {3, 6, 8, 4};
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(memcmp(ids, want, sizeof want), 0);
    spar_status st;
    n = enc("hello world \xff", 13, &o, ids, NULL, 8, &st); /* invalid bytes past the cut still count */
    CU_ASSERT_EQUAL(st, SPAR_E_CORRUPT);
    o.add_special = 0;
    o.max_len = 1;
    n = enc("hello world", 11, &o, ids, NULL, 8, NULL);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(ids[0], 6);
}

static void test_capacity_too_small(void) {
    uint32_t ids[3] = {0, 0, 0};
    spar_status st;
    size_t n = enc("hello world !", 13, NULL, ids, NULL, 3, &st);
    CU_ASSERT_EQUAL(st, SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(ids[2], 8); /* the prefix that fits is written */
    uint32_t ids5[5];
    n = enc("hello world !", 13, NULL, ids5, NULL, 5, &st);
    CU_ASSERT_EQUAL(st, SPAR_OK);
}

static void test_added_tokens_raw_match(void) {
    const uint32_t want[] = {3, 6, 4, 8, 20, 22, 21, 4}; /* "[SEP]" matched raw; "[sep]" is not */
    expect_ids("hello[SEP]world [sep]", want, 8);
}

static void test_empty_and_no_special(void) {
    const uint32_t want[] = {3, 4};
    expect_ids("", want, 2);
    expect_ids(" \t\n ", want, 2);
    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.add_special = 0;
    uint32_t ids[4];
    CU_ASSERT_EQUAL(enc("hello", 5, &o, ids, NULL, 4, NULL), 1);
}

static void test_load_json(void) {
    const char *j = "{\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
                    "\"strip_accents\":null,\"lowercase\":true},\"model\":{\"type\":\"WordPiece\",\"unk_token\":"
                    "\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,\"vocab\":{"
                    "\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"un\":3,\"##aff\":4,\"##able\":5}},"
                    "\"added_tokens\":[{\"id\":0,\"content\":\"[UNK]\",\"special\":true}]}";
    spar_tokenizer *t = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_tokenizer_load_mem(j, strlen(j), SPAR_TOKENIZER_JSON, NULL, &t, &d), SPAR_OK);
    uint32_t ids[8];
    size_t n = 0;
    CU_ASSERT_EQUAL(spar_tokenizer_encode(t, "UnAffable", 9, NULL, ids, NULL, 8, &n, NULL), SPAR_OK);
    const uint32_t want[] = {1, 3, 4, 5, 2};
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_EQUAL(memcmp(ids, want, sizeof want), 0);
    spar_tokenizer_free(t);
}

static void test_load_errors(void) {
    spar_tokenizer *t = NULL;
    spar_diag d = {{0}};
    const char *bad = "{\"model\": {\"vocab\": {\"a\": 0,}}";
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem(bad, strlen(bad), SPAR_TOKENIZER_JSON, "x.json", &t, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "x.json: byte"));
    CU_ASSERT_PTR_NULL(t);
    const char *bpe = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}";
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem(bpe, strlen(bpe), SPAR_TOKENIZER_JSON, NULL, &t, &d), SPAR_E_UNSUPPORTED);
    const char *dup = "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"a\": 0}}}";
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem(dup, strlen(dup), SPAR_TOKENIZER_JSON, NULL, &t, &d), SPAR_E_CORRUPT);
    const char *neg = "{\"model\": {\"vocab\": {\"[UNK]\": -1}}}";
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem(neg, strlen(neg), SPAR_TOKENIZER_JSON, NULL, &t, &d), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem("a\nb\n", 4, SPAR_TOKENIZER_VOCAB_TXT, "v.txt", &t, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "[UNK]"));
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem("[UNK]\n\xff\n", 8, SPAR_TOKENIZER_VOCAB_TXT, "v.txt", &t, &d),
                    SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "v.txt:2"));
    CU_ASSERT_EQUAL(spar_tokenizer_load_mem("", 0, SPAR_TOKENIZER_VOCAB_TXT, NULL, &t, &d), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_tokenizer_load("/nonexistent/spar/vocab.txt", &t, &d), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_tokenizer_load("/", &t, &d), SPAR_E_NOT_FOUND); /* a dir without either file */
    CU_ASSERT_PTR_NULL(t);
}

static void test_load_from_dir(void) {
    char dir[] = "/tmp/spar_tok_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char p[64];
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(VOCAB, 1, sizeof VOCAB - 1, f);
    fclose(f);
    spar_tokenizer *t = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_tokenizer_load(dir, &t, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_tokenizer_vocab_size(t), 30);
    spar_tokenizer_free(t);
    remove(p);
    rmdir(dir);
}

typedef struct { uint32_t ids[64]; size_t n; int rounds_ok; } th_arg;
static const char TH_TEXT[] = "Hello, World! unaffable CAF\xc3\x89 \xe4\xb8\xad\xe6\x96\x87" "abc a.b.";
static void *th_main(void *p) {
    th_arg *a = p;
    a->rounds_ok = 0;
    for (int r = 0; r < 2000; r++) {
        uint32_t ids[64];
        size_t n = 0;
        if (spar_tokenizer_encode(tok, TH_TEXT, sizeof TH_TEXT - 1, NULL, ids, NULL, 64, &n, NULL) != SPAR_OK) break;
        if (r == 0) { memcpy(a->ids, ids, sizeof ids); a->n = n; }
        else if (n != a->n || memcmp(ids, a->ids, n * sizeof *ids) != 0) break;
        a->rounds_ok++;
    }
    return NULL;
}
static void test_shared_across_threads(void) {
    pthread_t th[2];
    th_arg a[2];
    for (int i = 0; i < 2; i++) CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, th_main, &a[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(a[0].rounds_ok, 2000);
    CU_ASSERT_EQUAL(a[1].rounds_ok, 2000);
    CU_ASSERT_EQUAL(a[0].n, a[1].n);
    CU_ASSERT_EQUAL(memcmp(a[0].ids, a[1].ids, a[0].n * sizeof(uint32_t)), 0);
}

static int suite_init(void) {
    spar_diag d = {{0}};
    return spar_tokenizer_load_mem(VOCAB, sizeof VOCAB - 1, SPAR_TOKENIZER_VOCAB_TXT, NULL, &tok, &d) != SPAR_OK;
}
static int suite_clean(void) {
    spar_tokenizer_free(tok);
    return 0;
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/tokenizer", suite_init, suite_clean);
    if (s == NULL || !CU_add_test(s, "vocab.txt: ids are line numbers, \\r trimmed", test_load_vocab_txt) ||
        !CU_add_test(s, "ids and byte/char offsets", test_basic_offsets) ||
        !CU_add_test(s, "greedy longest-match-first with ##", test_wordpiece_greedy) ||
        !CU_add_test(s, "unmatchable word is one [UNK]", test_unmatchable_word_is_one_unk) ||
        !CU_add_test(s, "word over 100 chars is [UNK]", test_word_over_100_chars) ||
        !CU_add_test(s, "accents stripped, lowercased, offsets", test_accents_lowercase) ||
        !CU_add_test(s, "CJK ideographs isolated", test_cjk_isolated) ||
        !CU_add_test(s, "control chars dropped, not split", test_controls_dropped_not_split) ||
        !CU_add_test(s, "punctuation isolated", test_punctuation_split) ||
        !CU_add_test(s, "NFD canonical reordering of marks", test_canonical_reordering) ||
        !CU_add_test(s, "invalid UTF-8 strict: CORRUPT at byte", test_invalid_utf8_strict) ||
        !CU_add_test(s, "invalid UTF-8 replace: dropped, counted", test_invalid_utf8_replace) ||
        !CU_add_test(s, "truncation keeps [SEP]", test_truncation) ||
        !CU_add_test(s, "capacity too small reports need", test_capacity_too_small) ||
        !CU_add_test(s, "added tokens matched on raw text", test_added_tokens_raw_match) ||
        !CU_add_test(s, "empty text and add_special=0", test_empty_and_no_special) ||
        !CU_add_test(s, "tokenizer.json from memory", test_load_json) ||
        !CU_add_test(s, "loader errors", test_load_errors) ||
        !CU_add_test(s, "load from a model dir", test_load_from_dir) ||
        !CU_add_test(s, "shared across threads", test_shared_across_threads))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
