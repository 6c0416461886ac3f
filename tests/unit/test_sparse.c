/* test_sparse.c — unit tests for include/spar/spar_sparse.h: vocabulary loading, the JSONL readers (the
 * three accepted shapes, gzip, duplicate tokens, errors naming the line), hand-computed exact scores and
 * ordering, argument checks, and save/load (round trip, checksum, truncation, an invalid docid map). */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "spar/spar_sparse.h"

static const char *tmpname(const char *base) {
    static char buf[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "/tmp/spar_test_sparse_%d_%s", (int)getpid(), base);
    return buf[i];
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static spar_sparse_vocab *small_vocab(void) {
    const char *p = tmpname("vocab.txt");
    write_file(p, "[PAD]\nthe\ncat\r\nsat\n##s\nmat\n");
    spar_sparse_vocab *v = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_vocab_load(p, &v, NULL), SPAR_OK);
    remove(p);
    return v;
}

static void test_vocab_ids_are_line_numbers(void) {
    spar_sparse_vocab *v = small_vocab();
    CU_ASSERT_EQUAL(spar_sparse_vocab_size(v), 6);
    CU_ASSERT_EQUAL(spar_sparse_vocab_find(v, "the", 3), 1);
    CU_ASSERT_EQUAL(spar_sparse_vocab_find(v, "cat", 3), 2); /* \r stripped */
    CU_ASSERT_EQUAL(spar_sparse_vocab_find(v, "##s", 3), 4);
    CU_ASSERT_EQUAL(spar_sparse_vocab_find(v, "dog", 3), UINT32_MAX);
    spar_sparse_vocab_free(v);
}

static void test_vocab_duplicate_names_line(void) {
    const char *p = tmpname("dup.txt");
    write_file(p, "a\nb\na\n");
    spar_sparse_vocab *v = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_vocab_load(p, &v, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, ":3:"));
    CU_ASSERT_PTR_NULL(v);
    remove(p);
}

static void test_jsonl_three_shapes_and_duplicates(void) {
    spar_sparse_vocab *v = small_vocab();
    const char *text = "{\"id\": \"d1\", \"contents\": \"x\", \"vector\": {\"mat\": 1.5, \"the\": 0.25}}\n"
                       "\n"
                       "{\"id\": 7, \"vector\": {\"cat\": 2, \"cat\": 1, \"sat\": 0}}\n"
                       "{\"_id\": \"q3\", \"vector\": {}}\n";
    spar_sparse_csr m;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_csr_parse_jsonl(text, strlen(text), "t", v, 0, 0, &m, NULL, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(m.n_rows, 3);
    CU_ASSERT_EQUAL(m.dim, 6);
    spar_sparse_vec r0 = spar_sparse_csr_row(&m, 0), r1 = spar_sparse_csr_row(&m, 1), r2 = spar_sparse_csr_row(&m, 2);
    CU_ASSERT_EQUAL(r0.n, 2);
    CU_ASSERT_EQUAL(r0.ids[0], 1); /* ascending */
    CU_ASSERT_EQUAL(r0.ids[1], 5);
    CU_ASSERT_EQUAL(r0.weights[0], 0.25f);
    CU_ASSERT_EQUAL(r1.n, 2);
    CU_ASSERT_EQUAL(r1.ids[0], 2);
    CU_ASSERT_EQUAL(r1.weights[0], 3.0f); /* duplicate token summed */
    CU_ASSERT_EQUAL(r2.n, 0);
    CU_ASSERT_STRING_EQUAL(m.keys[0], "d1");
    CU_ASSERT_STRING_EQUAL(m.keys[1], "7");
    CU_ASSERT_STRING_EQUAL(m.keys[2], "q3");
    spar_sparse_csr_free(&m);
    spar_sparse_vocab_free(v);
}

static void test_jsonl_numeric_keys_without_vocab(void) {
    const char *text = "{\"id\": \"a\", \"vector\": {\"9\": 1, \"3\": 2}}";
    spar_sparse_csr m;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_csr_parse_jsonl(text, strlen(text), "t", NULL, 10, 0, &m, NULL, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(m.offsets[1], 2);
    CU_ASSERT_EQUAL(m.ids[0], 3);
    CU_ASSERT_EQUAL(m.ids[1], 9);
    spar_sparse_csr_free(&m);
    CU_ASSERT_EQUAL(spar_sparse_csr_parse_jsonl(text, strlen(text), "t", NULL, 9, 0, &m, NULL, NULL), SPAR_E_CORRUPT);
}

static void expect_error(const char *text, const char *needle) {
    spar_sparse_vocab *v = small_vocab();
    spar_sparse_csr m;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_csr_parse_jsonl(text, strlen(text), "f.jsonl", v, 0, 0, &m, NULL, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, needle));
    CU_ASSERT_EQUAL(m.n_rows, 0);
    CU_ASSERT_PTR_NULL(m.ids);
    spar_sparse_vocab_free(v);
}

static void test_jsonl_errors_name_line(void) {
    expect_error("{\"id\":1,\"vector\":{\"the\":1}}\n{\"id\":2,\"vector\":{\"the\":", "f.jsonl:2: not a JSON object");
    expect_error("{\"id\":1,\"vector\":{\"the\":-1}}", "f.jsonl:1: weight");
    expect_error("{\"id\":1}", "f.jsonl:1: missing \"vector\"");
    expect_error("{\"vector\":{}}", "f.jsonl:1: missing \"id\"");
    expect_error("{\"id\":1,\"vector\":{\"dog\":1}}", "f.jsonl:1: unknown token \"dog\"");
    expect_error("{\"id\":1,\"vector\":{\"the\":\"1\"}}", "weight of \"the\"");
}

static void test_jsonl_skip_unknown_counts(void) {
    spar_sparse_vocab *v = small_vocab();
    const char *text = "{\"id\":1,\"vector\":{\"dog\":1,\"the\":1,\"emu\":2}}";
    spar_sparse_csr m;
    uint64_t unk = 0;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_csr_parse_jsonl(text, strlen(text), "t", v, 0, 1, &m, &unk, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(unk, 2);
    CU_ASSERT_EQUAL(m.offsets[1], 1);
    spar_sparse_csr_free(&m);
    spar_sparse_vocab_free(v);
}

static void test_jsonl_gzip_file_equals_memory(void) {
    spar_sparse_vocab *v = small_vocab();
    const char *text = "{\"id\":\"a\",\"vector\":{\"the\":1,\"mat\":2.5}}\n{\"id\":\"b\",\"vector\":{\"cat\":0.5}}"; /* no final \n */
    const char *p = tmpname("q.jsonl.gz");
    gzFile gz = gzopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(gz);
    gzputs(gz, text);
    gzclose(gz);
    spar_sparse_csr a, b;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_csr_read_jsonl(p, v, 0, 0, &a, NULL, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_csr_parse_jsonl(text, strlen(text), "t", v, 0, 0, &b, NULL, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(a.n_rows, 2);
    CU_ASSERT_EQUAL(a.offsets[2], b.offsets[2]);
    CU_ASSERT_EQUAL(memcmp(a.ids, b.ids, 3 * sizeof *a.ids), 0);
    CU_ASSERT_EQUAL(memcmp(a.weights, b.weights, 3 * sizeof *a.weights), 0);
    spar_sparse_csr_free(&a);
    spar_sparse_csr_free(&b);
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_csr_read_jsonl("/nonexistent/x.jsonl", v, 0, 0, &a, NULL, &d), SPAR_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "/nonexistent/x.jsonl"));
    remove(p);
    spar_sparse_vocab_free(v);
}

/* docs: 0 = {1:1, 3:2}, 1 = {3:1}, 2 = {2:5}, 3 = {1:2, 3:1.5}  query {1:1, 3:2}
 * scores: d0 = 1 + 4 = 5, d1 = 2, d2 = 0 (never returned), d3 = 2 + 3 = 5 (tie with d0: d0 first) */
static const uint32_t I0[] = {1, 3}, I1[] = {3}, I2[] = {2}, I3[] = {1, 3};
static const float W0[] = {1, 2}, W1[] = {1}, W2[] = {5}, W3[] = {2, 1.5f};
static spar_sparse_index *tiny(int approx) {
    spar_sparse_vec docs[4] = {{I0, W0, 2}, {I1, W1, 1}, {I2, W2, 1}, {I3, W3, 2}};
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = approx;
    o.bmp_block = 8;
    spar_sparse_index *ix = NULL;
    CU_ASSERT_EQUAL(spar_sparse_index_build_vecs(docs, 4, 4, &o, &ix, NULL), SPAR_OK);
    return ix;
}

static void test_exact_hand_computed(void) {
    spar_sparse_index *ix = tiny(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ix);
    spar_sparse_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix, &s), SPAR_OK);
    uint32_t qi[] = {1, 3};
    float qw[] = {1, 2};
    spar_sparse_vec q = {qi, qw, 2};
    spar_hit h[10];
    for (int algo = 0; algo < 3; algo++) {
        size_t n = 0;
        spar_status st = algo < 2 ? spar_sparse_search_exact(s, &q, 10, (spar_sparse_exact_algo)algo, h, &n)
                                  : spar_sparse_search_approx(s, &q, 10, NULL, h, &n);
        CU_ASSERT_EQUAL_FATAL(st, SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(n, 3);
        CU_ASSERT_EQUAL(h[0].docid, 0);
        CU_ASSERT_EQUAL(h[0].score, 5.0f);
        CU_ASSERT_EQUAL(h[1].docid, 3);
        CU_ASSERT_EQUAL(h[1].score, 5.0f);
        CU_ASSERT_EQUAL(h[2].docid, 1);
        CU_ASSERT_EQUAL(h[2].score, 2.0f);
    }
    size_t n = 0;
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s, &q, 1, SPAR_SPARSE_BMP, h, &n), SPAR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(h[0].docid, 0);
    spar_sparse_searcher_free(s);
    spar_sparse_index_free(ix);
}

static void test_bad_arguments(void) {
    spar_sparse_index *ix = tiny(0);
    spar_sparse_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix, &s), SPAR_OK);
    uint32_t unsorted[] = {3, 1}, big[] = {9};
    float w2[] = {1, 1}, neg[] = {-1};
    spar_sparse_vec q1 = {unsorted, w2, 2}, q2 = {big, w2, 1}, q3 = {I1, neg, 1}, ok = {I1, W1, 1};
    spar_hit h[4];
    size_t n;
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s, &q1, 4, SPAR_SPARSE_BMP, h, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s, &q2, 4, SPAR_SPARSE_BMP, h, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s, &q3, 4, SPAR_SPARSE_BMP, h, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s, &ok, 0, SPAR_SPARSE_BMP, h, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_search_approx(s, &ok, 4, NULL, h, &n), SPAR_E_UNSUPPORTED);
    spar_sparse_vec bad_doc = {unsorted, w2, 2};
    spar_sparse_index *ix2 = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_sparse_index_build_vecs(&bad_doc, 1, 4, NULL, &ix2, &d), SPAR_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "doc 0"));
    spar_sparse_searcher_free(s);
    spar_sparse_index_free(ix);
}

static void random_index(spar_sparse_index **ix, uint32_t n, uint32_t dim) {
    uint32_t *ids = malloc((size_t)n * 20 * sizeof *ids);
    float *w = malloc((size_t)n * 20 * sizeof *w);
    spar_sparse_vec *v = malloc(n * sizeof *v);
    uint64_t x = 88172645463325252ull;
    for (uint32_t d = 0; d < n; d++) {
        uint32_t m = 0, t = 0;
        for (;;) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            t += 1 + (uint32_t)(x % (dim / 10));
            if (t >= dim || m == 20) break;
            ids[d * 20 + m] = t;
            w[d * 20 + m] = (float)(x % 1000) / 300.0f;
            m++;
        }
        v[d].ids = ids + d * 20;
        v[d].weights = w + d * 20;
        v[d].n = m;
    }
    CU_ASSERT_EQUAL(spar_sparse_index_build_vecs(v, n, dim, NULL, ix, NULL), SPAR_OK);
    free(ids);
    free(w);
    free(v);
}

static void test_save_load_round_trip(void) {
    spar_sparse_index *ix = NULL, *ix2 = NULL;
    random_index(&ix, 2000, 500);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ix);
    const char *p = tmpname("idx.spar");
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(ix, p, &d), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_load(p, &ix2, &d), SPAR_OK);
    spar_sparse_stats a, b;
    spar_sparse_index_stats(ix, &a);
    spar_sparse_index_stats(ix2, &b);
    CU_ASSERT_EQUAL(a.nnz, b.nnz);
    CU_ASSERT_EQUAL(a.bytes_approx, b.bytes_approx);
    spar_sparse_searcher *s1 = NULL, *s2 = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix, &s1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix2, &s2), SPAR_OK);
    uint32_t qi[] = {10, 50, 120, 300, 499};
    float qw[] = {1, 0.5f, 2, 1, 0.7f};
    spar_sparse_vec q = {qi, qw, 5};
    spar_hit h1[20], h2[20];
    size_t n1, n2;
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s1, &q, 20, SPAR_SPARSE_BMP, h1, &n1), SPAR_OK);
    CU_ASSERT_EQUAL(spar_sparse_search_exact(s2, &q, 20, SPAR_SPARSE_BMP, h2, &n2), SPAR_OK);
    CU_ASSERT_EQUAL(n1, n2);
    CU_ASSERT_EQUAL(memcmp(h1, h2, n1 * sizeof *h1), 0);
    CU_ASSERT_EQUAL(spar_sparse_search_approx(s1, &q, 20, NULL, h1, &n1), SPAR_OK);
    CU_ASSERT_EQUAL(spar_sparse_search_approx(s2, &q, 20, NULL, h2, &n2), SPAR_OK);
    CU_ASSERT_EQUAL(n1, n2);
    CU_ASSERT_EQUAL(memcmp(h1, h2, n1 * sizeof *h1), 0);
    spar_sparse_searcher_free(s1);
    spar_sparse_searcher_free(s2);
    spar_sparse_index_free(ix2);
    spar_sparse_index_free(ix);
    remove(p);
}

static uint8_t *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    CU_ASSERT_EQUAL(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}
static void rehash(uint8_t *b, size_t n) {
    uint64_t h = XXH3_64bits(b + 32, n - 32);
    memcpy(b + 24, &h, 8);
}

static void test_load_rejects_damage(void) {
    spar_sparse_index *ix = NULL, *ix2 = NULL;
    random_index(&ix, 300, 200);
    const char *p = tmpname("bad.spar");
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_save(ix, p, NULL), SPAR_OK);
    size_t n;
    uint8_t *b = slurp(p, &n);
    spar_diag d = {{0}};
    b[n / 2] ^= 0x40; /* payload flip: checksum */
    CU_ASSERT_EQUAL(spar_sparse_index_load_mem(b, n, "x", &ix2, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(ix2);
    b[n / 2] ^= 0x40;
    CU_ASSERT_EQUAL(spar_sparse_index_load_mem(b, n, "x", &ix2, NULL), SPAR_OK); /* restored: loads */
    spar_sparse_index_free(ix2);
    ix2 = NULL;
    for (size_t cut = 33; cut < n; cut += n / 7) { /* truncated + re-hashed: structural checks fire */
        uint8_t *c = malloc(cut);
        memcpy(c, b, cut);
        uint64_t pb = cut - 32;
        memcpy(c + 16, &pb, 8);
        rehash(c, cut);
        CU_ASSERT_EQUAL(spar_sparse_index_load_mem(c, cut, "x", &ix2, &d), SPAR_E_CORRUPT);
        CU_ASSERT_PTR_NULL(ix2);
        free(c);
    }
    /* docid map: make it a non-permutation (format 2: section id 1 in the table at byte 160, 32-byte entries
     * {u32 id, u32 elem, u64 offset, u64 count, u64 xxh3}; n_sections at byte 68; docs/format/sparse.md) */
    uint32_t n_sec, id;
    uint64_t ext_at = 0;
    memcpy(&n_sec, b + 68, 4);
    for (uint32_t i = 0; i < n_sec; i++) {
        memcpy(&id, b + 160 + 32 * (size_t)i, 4);
        if (id == 1) memcpy(&ext_at, b + 160 + 32 * (size_t)i + 8, 8);
    }
    CU_ASSERT_FATAL(ext_at > 0);
    uint32_t dup;
    memcpy(&dup, b + ext_at, 4);
    memcpy(b + ext_at + 4, &dup, 4);
    rehash(b, n);
    CU_ASSERT_EQUAL(spar_sparse_index_load_mem(b, n, "x", &ix2, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "permutation"));
    free(b);
    spar_sparse_index_free(ix);
    remove(p);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return CU_get_error();
    CU_pSuite su = CU_add_suite("sparse", NULL, NULL);
    CU_add_test(su, "vocab ids are line numbers", test_vocab_ids_are_line_numbers);
    CU_add_test(su, "vocab duplicate names its line", test_vocab_duplicate_names_line);
    CU_add_test(su, "jsonl: three shapes, duplicates summed", test_jsonl_three_shapes_and_duplicates);
    CU_add_test(su, "jsonl: numeric keys without vocab", test_jsonl_numeric_keys_without_vocab);
    CU_add_test(su, "jsonl: errors name the line", test_jsonl_errors_name_line);
    CU_add_test(su, "jsonl: skip_unknown counts", test_jsonl_skip_unknown_counts);
    CU_add_test(su, "jsonl: gzip file == memory", test_jsonl_gzip_file_equals_memory);
    CU_add_test(su, "exact: hand-computed scores and order", test_exact_hand_computed);
    CU_add_test(su, "bad arguments are refused", test_bad_arguments);
    CU_add_test(su, "save/load round trip", test_save_load_round_trip);
    CU_add_test(su, "load rejects damage", test_load_rejects_damage);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
