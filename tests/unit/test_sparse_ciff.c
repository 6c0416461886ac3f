/* test_sparse_ciff.c — unit tests for the learned-sparse index directory (spar_sparse_dir_*) and CIFF
 * (spar_sparse_ciff_*): the hand-made CIFF of docs/format/ciff.md parses to the documented CSR, proto3
 * omitted fields and unknown fields are handled, each kind of damage is refused with the exact byte offset,
 * a directory round-trips ids/tokens/index, export -> parse gives back the same documents, and a BM25-style
 * MANIFEST is "not found" rather than corrupt. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spar/spar_sparse.h"

/* docs/format/ciff.md: A = {apple 2}, B = {banana 7}, C = {apple 3} */
static const uint8_t HAND[] = {
    0x1b, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x02, 0x28, 0x03, 0x30, 0x0c, 0x39, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
    0x42, 0x04, 'h', 'a', 'n', 'd',
    0x15, 0x0a, 0x05, 'a', 'p', 'p', 'l', 'e', 0x10, 0x02, 0x18, 0x05, 0x22, 0x02, 0x10, 0x02, 0x22, 0x04, 0x08, 0x02,
    0x10, 0x03,
    0x12, 0x0a, 0x06, 'b', 'a', 'n', 'a', 'n', 'a', 0x10, 0x01, 0x18, 0x07, 0x22, 0x04, 0x08, 0x01, 0x10, 0x07,
    0x05, 0x12, 0x01, 'A', 0x18, 0x01,
    0x07, 0x08, 0x01, 0x12, 0x01, 'B', 0x18, 0x01,
    0x07, 0x08, 0x02, 0x12, 0x01, 'C', 0x18, 0x01};

static char g_dir[256];

static void test_hand_fixture_parses(void) {
    spar_sparse_ciff c;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_ciff_parse(HAND, sizeof HAND, "hand", &c, &d), SPAR_OK);
    CU_ASSERT_EQUAL(c.docs.n_rows, 3);
    CU_ASSERT_EQUAL(c.docs.dim, 2);
    CU_ASSERT_STRING_EQUAL(c.terms[0], "apple");
    CU_ASSERT_STRING_EQUAL(c.terms[1], "banana");
    CU_ASSERT_STRING_EQUAL(c.docs.keys[0], "A");
    CU_ASSERT_STRING_EQUAL(c.docs.keys[2], "C");
    CU_ASSERT_STRING_EQUAL(c.description, "hand");
    CU_ASSERT_EQUAL(c.n_postings, 3);
    spar_sparse_vec a = spar_sparse_csr_row(&c.docs, 0), b = spar_sparse_csr_row(&c.docs, 1), cc = spar_sparse_csr_row(&c.docs, 2);
    CU_ASSERT(a.n == 1 && a.ids[0] == 0 && a.weights[0] == 2.0f);
    CU_ASSERT(b.n == 1 && b.ids[0] == 1 && b.weights[0] == 7.0f);
    CU_ASSERT(cc.n == 1 && cc.ids[0] == 0 && cc.weights[0] == 3.0f);
    spar_sparse_ciff_free(&c);
}

/* Copy HAND with byte `at` replaced by `v` (or the file cut at `at` when v < 0), expect CORRUPT at `byte`. */
static void expect_damage(size_t at, int v, const char *want) {
    uint8_t buf[sizeof HAND];
    memcpy(buf, HAND, sizeof HAND);
    size_t len = sizeof HAND;
    if (v < 0) len = at;
    else buf[at] = (uint8_t)v;
    spar_sparse_ciff c;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_ciff_parse(buf, len, "x", &c, &d), SPAR_E_CORRUPT);
    if (strstr(d.msg, want) == NULL) fprintf(stderr, "\n  got \"%s\", want \"%s\"\n", d.msg, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, want));
}

static void test_damage_names_byte(void) {
    expect_damage(28, 0x7f, "x: byte 28: length runs past");                  /* apple list length 127 */
    expect_damage(37, 0x03, "x: byte 29: df 3 but 2 postings");                /* apple's df */
    expect_damage(47, 0x09, "x: byte 44: posting docid 9 >= num_doc_records 3"); /* second posting's gap */
    expect_damage(47, 0x00, "x: byte 44: docid gap 0");
    expect_damage(77, 0x00, "x: byte 76: DocRecord docid repeated");           /* B's docid -> 0 */
    expect_damage(60, -1, "x: byte 50: length runs past");                     /* cut inside "banana" */
    expect_damage(sizeof HAND - 3, -1, "x: byte 83: length runs past");        /* last DocRecord cut */
    expect_damage(1, 0x0f, "x: byte 1: unsupported wire type");                /* version key, wire type 7 */
}

static void test_trailing_and_counts(void) {
    uint8_t buf[sizeof HAND + 1];
    memcpy(buf, HAND, sizeof HAND);
    buf[sizeof HAND] = 0;
    spar_sparse_ciff c;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_ciff_parse(buf, sizeof buf, "t", &c, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "t: byte 91: trailing bytes"));
    /* header claiming 2^31-1 documents: refused before allocating */
    uint8_t big[] = {0x08, 0x10, 0x02, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07};
    CU_ASSERT_EQUAL(spar_sparse_ciff_parse(big, sizeof big, "b", &c, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "counts larger than the file"));
    /* a negative int32 (10-byte varint) */
    uint8_t neg[] = {0x0b, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CU_ASSERT_EQUAL(spar_sparse_ciff_parse(neg, sizeof neg, "n", &c, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "n: byte 2: num_postings_lists is negative"));
}

static void test_unknown_fields_skipped(void) {
    /* a header with an unknown fixed32 field 15 and an unknown length-delimited field 9, one list, one doc */
    const uint8_t buf[] = {0x0f, 0x10, 0x01, 0x18, 0x01, 0x7d, 1, 2, 3, 4, 0x4a, 0x02, 'z', 'z', 0x2a, 0x00,
                           0x09, 0x0a, 0x01, 't', 0x22, 0x02, 0x10, 0x05, 0x28, 0x01,
                           0x03, 0x12, 0x01, 'D'};
    spar_sparse_ciff c;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_ciff_parse(buf, sizeof buf, "u", &c, &d), SPAR_OK);
    CU_ASSERT_EQUAL(c.docs.n_rows, 1);
    CU_ASSERT_STRING_EQUAL(c.docs.keys[0], "D");
    spar_sparse_vec v = spar_sparse_csr_row(&c.docs, 0);
    CU_ASSERT(v.n == 1 && v.weights[0] == 5.0f);
    spar_sparse_ciff_free(&c);
}

static spar_sparse_index *build(const spar_sparse_csr *m) {
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = 0;
    o.n_threads = 1;
    spar_sparse_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_build(m, &o, &ix, NULL), SPAR_OK);
    return ix;
}

static void test_dir_round_trip_and_export(void) {
    spar_sparse_ciff c;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_ciff_parse(HAND, sizeof HAND, "hand", &c, NULL), SPAR_OK);
    spar_sparse_index *ix = build(&c.docs);
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_dir_write(g_dir, ix, (const char *const *)c.docs.keys,
                                                (const char *const *)c.terms, 2, 0, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_sparse_dir_write(g_dir, ix, NULL, NULL, 0, 0, &d), SPAR_E_EXISTS);
    CU_ASSERT_EQUAL(spar_sparse_dir_detect(g_dir), 1);
    spar_sparse_dir *sd = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_dir_open(g_dir, &sd, &d), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(spar_sparse_dir_doc_id(sd, 1, NULL), "B");
    CU_ASSERT_STRING_EQUAL(spar_sparse_dir_token(sd, 1, NULL), "banana");
    CU_ASSERT_PTR_NULL(spar_sparse_dir_doc_id(sd, 3, NULL));
    CU_ASSERT_EQUAL(spar_sparse_vocab_find(spar_sparse_dir_vocab(sd), "apple", 5), 0);
    char path[300];
    snprintf(path, sizeof path, "%s.ciff", g_dir);
    uint64_t dropped = 9;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_ciff_export(sd, path, 0, "t", &dropped, &d), SPAR_OK);
    CU_ASSERT_EQUAL(dropped, 0);
    spar_sparse_ciff e;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_ciff_read(path, &e, &d), SPAR_OK);
    CU_ASSERT_EQUAL(e.docs.n_rows, 3);
    CU_ASSERT_EQUAL(e.docs.offsets[3], 3);
    for (uint64_t i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(e.docs.ids[i], c.docs.ids[i]);
        CU_ASSERT_EQUAL(e.docs.weights[i], c.docs.weights[i]);
    }
    CU_ASSERT_STRING_EQUAL(e.docs.keys[2], "C");
    CU_ASSERT_STRING_EQUAL(e.terms[1], "banana");
    spar_sparse_ciff_free(&e);
    remove(path);
    spar_sparse_dir_close(sd);
    spar_sparse_index_free(ix);
    spar_sparse_ciff_free(&c);
}

static void test_dir_refuses_bad_ids_and_foreign_manifest(void) {
    uint32_t ids[1] = {0};
    float w[1] = {1.0f};
    spar_sparse_vec v = {ids, w, 1};
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = 0;
    spar_sparse_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_build_vecs(&v, 1, 2, &o, &ix, NULL), SPAR_OK);
    char p[300];
    snprintf(p, sizeof p, "%s-bad", g_dir);
    const char *bad_id[1] = {"a\nb"};
    const char *toks[2] = {"x", "x"};
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_dir_write(p, ix, bad_id, NULL, 0, 0, &d), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_dir_write(p, ix, NULL, toks, 2, 0, &d), SPAR_E_INVALID_ARG); /* duplicate token */
    CU_ASSERT_EQUAL(spar_sparse_dir_write(p, ix, NULL, toks, 1, 0, &d), SPAR_E_INVALID_ARG); /* size != dim */
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);                                                  /* nothing left */
    spar_sparse_dir *sd = NULL;
    CU_ASSERT_EQUAL(spar_sparse_dir_open("/nonexistent-spar-dir", &sd, &d), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_sparse_dir_detect("/nonexistent-spar-dir"), 0);
    spar_sparse_index_free(ix);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/spar_test_sparse_ciff_%d", (int)getpid());
    if (CU_initialize_registry() != CUE_SUCCESS) return CU_get_error();
    CU_pSuite su = CU_add_suite("sparse_ciff", NULL, NULL);
    CU_add_test(su, "hand-made CIFF parses to the documented CSR", test_hand_fixture_parses);
    CU_add_test(su, "damage is refused with its byte offset", test_damage_names_byte);
    CU_add_test(su, "trailing bytes, absurd counts, negative ints", test_trailing_and_counts);
    CU_add_test(su, "unknown fields are skipped", test_unknown_fields_skipped);
    CU_add_test(su, "directory round trip and CIFF export", test_dir_round_trip_and_export);
    CU_add_test(su, "directory refuses bad ids/tokens; missing dir", test_dir_refuses_bad_ids_and_foreign_manifest);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fails++;
    return fails ? 1 : 0;
}
