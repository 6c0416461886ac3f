/* test_meta.c — the LMDB metadata store (storage/meta.c): id <-> docid round trips, duplicate ids,
 * stored fields, settings, map growth on MDB_MAP_FULL (batch replay), content hashes recomputed by the
 * scan, and byte-identical data.mdb for identical write sequences. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/meta.h"

static char g_tmp[256];
static int g_seq;

static void fresh_dir(char *out, size_t cap) { snprintf(out, cap, "%s/m%d", g_tmp, g_seq++); }

/* n docs "id-<i>" with title "T<i>" and a text of `text_bytes` bytes, in batches of `per_batch`. */
static spar_status fill(const char *dir, int n, int per_batch, size_t text_bytes, int store_text, uint64_t map,
                        uint64_t *h_doc2id, uint64_t *h_fields) {
    spar_meta_writer *w = NULL;
    spar_diag d;
    spar_status st = spar_meta_writer_open(dir, map, store_text, &w, &d);
    if (st != SPAR_OK) return st;
    char *text = malloc(text_bytes + 1);
    for (size_t i = 0; i < text_bytes; i++) text[i] = (char)('a' + i % 26);
    for (int i = 0; i < n && st == SPAR_OK; i++) {
        if (i % per_batch == 0) st = spar_meta_writer_begin(w, &d);
        char id[32], title[32];
        int il = snprintf(id, sizeof id, "id-%d", i), tl = snprintf(title, sizeof title, "T%d", i);
        if (st == SPAR_OK)
            st = spar_meta_writer_add(w, id, (size_t)il, title, (size_t)tl, text, text_bytes, NULL, &d);
        if (st == SPAR_OK && (i % per_batch == per_batch - 1 || i == n - 1)) st = spar_meta_writer_end(w, &d);
    }
    if (st == SPAR_OK) st = spar_meta_writer_set(w, "k1", "0.9", &d);
    free(text);
    if (st != SPAR_OK) {
        spar_meta_writer_abort(w);
        return st;
    }
    return spar_meta_writer_close(w, h_doc2id, h_fields, &d);
}

static void test_roundtrip(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    uint64_t hd = 0, hf = 0;
    CU_ASSERT_EQUAL_FATAL(fill(dir, 1000, 128, 10, 1, 1u << 20, &hd, &hf), SPAR_OK);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint64_t a = 0, b = 0, c = 0;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, &b, &c, &d), SPAR_OK);
    CU_ASSERT(a == 1000 && b == 1000 && c == 1000);
    char buf[32];
    size_t len = 0;
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 777, buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "id-777");
    CU_ASSERT_EQUAL(len, 6);
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "id-42", 5, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 42);
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "id-1000", 7, &docid), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1000, buf, sizeof buf, &len), SPAR_E_NOT_FOUND);
    char title[8], text[32];
    size_t tl = 0, xl = 0;
    CU_ASSERT_EQUAL(spar_meta_fields(m, 9, title, sizeof title, &tl, text, sizeof text, &xl), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(title, "T9");
    CU_ASSERT_STRING_EQUAL(text, "abcdefghij");
    CU_ASSERT_EQUAL(spar_meta_setting(m, "k1", buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "0.9");
    CU_ASSERT_EQUAL(spar_meta_setting(m, "nope", buf, sizeof buf, &len), SPAR_E_NOT_FOUND);
    uint64_t sd = 0, sf = 0;
    CU_ASSERT_EQUAL(spar_meta_scan(m, &sd, &sf, &d), SPAR_OK);
    CU_ASSERT_EQUAL(sd, hd);
    CU_ASSERT_EQUAL(sf, hf);
    spar_meta_close(m);
}

static void test_duplicate_id(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "a", 1, "", 0, "", 0, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "b", 1, "", 0, "", 0, NULL, &d), SPAR_OK);
    uint32_t first = 99;
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "b", 1, "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
    CU_ASSERT_EQUAL(first, 1);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "c", 1, "", 0, "", 0, NULL, &d), SPAR_OK); /* gets docid 2 */
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_n_docs(w), 3);
    CU_ASSERT_EQUAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "c", 1, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 2);
    uint64_t a = 0, f = 1;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, NULL, &f, &d), SPAR_OK);
    CU_ASSERT_EQUAL(a, 3);
    CU_ASSERT_EQUAL(f, 0); /* store_text off */
    spar_meta_close(m);
}

static void test_mixed_order_ids(void) {
    /* ascending ids take the MDB_APPEND path, others the B-tree insert: both must look up and detect
     * duplicates the same way */
    const char *ids[8] = {"m", "n", "b", "zz", "z", "a", "zzz", "mm"};
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(spar_meta_writer_add(w, ids[i], strlen(ids[i]), "", 0, "", 0, NULL, &d), SPAR_OK);
    for (int i = 0; i < 8; i++) {
        uint32_t first = 99;
        CU_ASSERT_EQUAL(spar_meta_writer_add(w, ids[i], strlen(ids[i]), "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
        CU_ASSERT_EQUAL(first, (uint32_t)i);
    }
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    for (int i = 0; i < 8; i++) {
        uint32_t docid = 99;
        CU_ASSERT_EQUAL(spar_meta_lookup(m, ids[i], strlen(ids[i]), &docid), SPAR_OK);
        CU_ASSERT_EQUAL(docid, (uint32_t)i);
    }
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
    spar_meta_close(m);
}

static void test_id_limits(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    char big[600];
    memset(big, 'x', sizeof big);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, big, spar_meta_max_id_bytes() + 1, "", 0, "", 0, NULL, &d),
                    SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "_id"));
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, big, spar_meta_max_id_bytes(), "", 0, "", 0, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
}

static void test_map_growth(void) {
    /* 3000 docs x 4 KiB text in a 1 MiB map: every batch hits MDB_MAP_FULL at some point */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    uint64_t hd = 0, hf = 0;
    CU_ASSERT_EQUAL_FATAL(fill(dir, 3000, 500, 4096, 1, 1u << 20, &hd, &hf), SPAR_OK);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint64_t a = 0, b = 0, c = 0;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, &b, &c, &d), SPAR_OK);
    CU_ASSERT(a == 3000 && b == 3000 && c == 3000);
    uint64_t sd = 0, sf = 0;
    CU_ASSERT_EQUAL(spar_meta_scan(m, &sd, &sf, &d), SPAR_OK);
    CU_ASSERT_EQUAL(sd, hd);
    CU_ASSERT_EQUAL(sf, hf);
    spar_meta_close(m);
}

static int same_file(const char *a, const char *b) {
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y;
    while (same) {
        int cx = fgetc(x), cy = fgetc(y);
        if (cx != cy) same = 0;
        if (cx == EOF || cy == EOF) break;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    return same;
}

static void test_deterministic_file(void) {
    char d1[300], d2[300], f1[320], f2[320];
    fresh_dir(d1, sizeof d1);
    fresh_dir(d2, sizeof d2);
    uint64_t h1 = 0, h2 = 0;
    CU_ASSERT_EQUAL_FATAL(fill(d1, 2000, 300, 50, 1, 8u << 20, &h1, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(fill(d2, 2000, 300, 50, 1, 8u << 20, &h2, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(h1, h2);
    snprintf(f1, sizeof f1, "%s/%s", d1, SPAR_META_DATA_FILE);
    snprintf(f2, sizeof f2, "%s/%s", d2, SPAR_META_DATA_FILE);
    CU_ASSERT(same_file(f1, f2));
    char lock[320];
    snprintf(lock, sizeof lock, "%s/lock.mdb", d1);
    CU_ASSERT(access(lock, F_OK) != 0); /* MDB_NOLOCK: the env is one file */
}

static void test_open_missing(void) {
    spar_meta *m = NULL;
    spar_diag d;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/none", g_tmp);
    CU_ASSERT_NOT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, dir));
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "%s/spar-test-meta-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmp) == NULL) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("storage/meta", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "ids, fields, settings round trip; scan hash = writer hash", test_roundtrip) ||
        !CU_add_test(s, "duplicate id: SPAR_E_EXISTS with the first docid", test_duplicate_id) ||
        !CU_add_test(s, "ids in mixed order: append and insert paths agree", test_mixed_order_ids) ||
        !CU_add_test(s, "id length limit", test_id_limits) ||
        !CU_add_test(s, "map grows on MDB_MAP_FULL (batch replay)", test_map_growth) ||
        !CU_add_test(s, "same writes -> byte-identical data.mdb, no lock file", test_deterministic_file) ||
        !CU_add_test(s, "open of a missing env fails naming it", test_open_missing))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (rc == 0 && system(cmd) != 0) rc = 1;
    return rc;
}
