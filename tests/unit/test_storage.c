/* test_storage.c — unit tests for storage/file.c: header + checksum round trip, atomic replace, and the
 * errors a reader must give (bad magic, wrong kind, newer major, truncation, flipped payload byte), each
 * naming the file. Works in a fresh temporary directory. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/file.h"

#include "common/test_util.h"

static char g_dir[256];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void write_sample(const char *p, size_t n, uint16_t major) {
    spar_file_writer *w = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_open(p, SPAR_KIND_POSTINGS, major, 3, 0, &w, &diag), SPAR_OK);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(i * 131 + 7);
        CU_ASSERT_EQUAL_FATAL(spar_file_writer_write(w, &b, 1), SPAR_OK);
    }
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_commit(w, &diag), SPAR_OK);
}

static void flip_byte(const char *p, long off) {
    FILE *f = fopen(p, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_write_map_roundtrip(void) {
    char p[512];
    path_in(p, sizeof p, "a.post");
    spar_file_writer *w = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_open(p, SPAR_KIND_POSTINGS, 1, 2, 0, &w, &diag), SPAR_OK);
    CU_ASSERT_EQUAL(spar_file_writer_write(w, "abc", 3), SPAR_OK);
    CU_ASSERT_EQUAL(spar_file_writer_pad(w, 16), SPAR_OK);
    CU_ASSERT_EQUAL(spar_file_writer_offset(w), 16);
    /* one write larger than the internal buffer */
    size_t big = (2u << 20) + 5;
    uint8_t *blob = malloc(big);
    for (size_t i = 0; i < big; i++) blob[i] = (uint8_t)(i % 251);
    CU_ASSERT_EQUAL(spar_file_writer_write(w, blob, big), SPAR_OK);
    CU_ASSERT_EQUAL(spar_file_writer_write(w, "z", 1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_commit(w, &diag), SPAR_OK);
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    CU_ASSERT_FALSE(file_exists(tmp));
    spar_mapped_file m;
    CU_ASSERT_EQUAL_FATAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_OK);
    CU_ASSERT_EQUAL(m.payload_bytes, 16 + big + 1);
    CU_ASSERT_EQUAL(m.size, 32 + m.payload_bytes);
    CU_ASSERT_EQUAL(m.hdr.version_major, 1);
    CU_ASSERT_EQUAL(m.hdr.version_minor, 2);
    CU_ASSERT_EQUAL(memcmp(m.payload, "abc\0\0\0", 6), 0);
    CU_ASSERT_EQUAL(memcmp(m.payload + 16, blob, big), 0);
    CU_ASSERT_EQUAL(m.payload[16 + big], 'z');
    spar_file_unmap(&m);
    spar_file_unmap(&m); /* second unmap is a no-op */
    free(blob);
}

static void test_checksum_flip_names_file(void) {
    char p[512];
    path_in(p, sizeof p, "seg-000001.post");
    write_sample(p, 1000, 1);
    flip_byte(p, 32 + 500);
    spar_mapped_file m;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "seg-000001.post"));
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "checksum"));
    CU_ASSERT_PTR_NULL(m.base);
    /* the caller may skip the hash explicitly */
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, SPAR_MAP_NO_CHECKSUM, &m, &diag), SPAR_OK);
    spar_file_unmap(&m);
}

static void test_header_errors(void) {
    char p[512];
    path_in(p, sizeof p, "h.post");
    spar_mapped_file m;
    spar_diag diag = {{0}};
    write_sample(p, 100, 1);
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_ANN_HNSW, 1, 0, &m, &diag), SPAR_E_CORRUPT); /* wrong kind */
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "h.post"));
    CU_ASSERT_EQUAL(spar_file_map(p, 0, 1, 0, &m, &diag), SPAR_OK); /* any kind */
    spar_file_unmap(&m);
    write_sample(p, 100, 2);
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_VERSION);
    write_sample(p, 100, 1);
    flip_byte(p, 1); /* magic */
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "magic"));
    write_sample(p, 100, 1);
    CU_ASSERT_EQUAL(truncate(p, 32 + 99), 0);
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(truncate(p, 10), 0);
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(truncate(p, 0), 0);
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_CORRUPT);
    path_in(p, sizeof p, "missing.post");
    CU_ASSERT_EQUAL(spar_file_map(p, SPAR_KIND_POSTINGS, 1, 0, &m, &diag), SPAR_E_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "missing.post"));
}

static void test_check_in_memory(void) {
    uint8_t buf[64];
    spar_file_header h = {SPAR_MAGIC, 1, 0, SPAR_KIND_RUN, 0, 32, 0};
    memset(buf, 7, sizeof buf);
    memcpy(buf, &h, sizeof h);
    spar_file_header out;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL(spar_file_check(buf, sizeof buf, SPAR_KIND_RUN, 1, 0, &out, "mem", &diag), SPAR_OK);
    CU_ASSERT_EQUAL(spar_file_check(buf, sizeof buf, SPAR_KIND_RUN, 1, 1, &out, "mem", &diag), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_file_check(buf, 31, 0, 1, 0, &out, NULL, &diag), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_file_check(NULL, 0, 0, 1, 0, NULL, NULL, NULL), SPAR_E_CORRUPT);
}

static void test_abort_removes_temp(void) {
    char p[512], tmp[520];
    path_in(p, sizeof p, "ab.post");
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    spar_file_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_open(p, SPAR_KIND_RUN, 1, 0, 0, &w, NULL), SPAR_OK);
    CU_ASSERT_TRUE(file_exists(tmp));
    CU_ASSERT_EQUAL(spar_file_writer_write(w, "xyz", 3), SPAR_OK);
    spar_file_writer_abort(w);
    CU_ASSERT_FALSE(file_exists(tmp));
    CU_ASSERT_FALSE(file_exists(p));
    spar_file_writer_abort(NULL);
}

static void test_open_in_missing_dir_fails_with_path(void) {
    char p[512];
    path_in(p, sizeof p, "no/such/dir/x.post");
    spar_file_writer *w = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL(spar_file_writer_open(p, SPAR_KIND_RUN, 1, 0, 0, &w, &diag), SPAR_E_IO);
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg, "x.post"));
}

static void test_atomic_replace_and_dir_helpers(void) {
    char sub[512], p[600];
    path_in(sub, sizeof sub, "tree");
    CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0755), 0);
    snprintf(p, sizeof p, "%s/MANIFEST", sub);
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL(spar_write_file_atomic(p, "old contents", 12, &diag), SPAR_OK);
    CU_ASSERT_EQUAL(spar_write_file_atomic(p, "new", 3, &diag), SPAR_OK);
    FILE *f = fopen(p, "rb");
    char got[32] = {0};
    CU_ASSERT_EQUAL(fread(got, 1, sizeof got, f), 3);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(got, "new");
    char sub2[620];
    snprintf(sub2, sizeof sub2, "%s/inner", sub);
    CU_ASSERT_EQUAL(mkdir(sub2, 0755), 0);
    snprintf(p, sizeof p, "%s/inner/blob", sub);
    CU_ASSERT_EQUAL(spar_write_file_atomic(p, "0123456789", 10, &diag), SPAR_OK);
    CU_ASSERT_EQUAL(spar_dir_bytes(sub), 13);
    CU_ASSERT_EQUAL(spar_fsync_dir(sub, &diag), SPAR_OK);
    CU_ASSERT_EQUAL(spar_remove_tree(sub), SPAR_OK);
    CU_ASSERT_FALSE(file_exists(sub));
    CU_ASSERT_EQUAL(spar_remove_tree(sub), SPAR_OK); /* already gone */
}

static int suite_init(void) { return spar_test_mkdtemp(g_dir, sizeof g_dir, "storage") != 0; }
static int suite_clean(void) { return spar_remove_tree(g_dir) != SPAR_OK; }

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("storage/file", suite_init, suite_clean);
    if (s == NULL) goto out;
    if (!CU_add_test(s, "write, pad, commit, map round trip", test_write_map_roundtrip) ||
        !CU_add_test(s, "flipped payload byte: checksum error naming the file", test_checksum_flip_names_file) ||
        !CU_add_test(s, "header errors: kind, version, magic, truncation, missing", test_header_errors) ||
        !CU_add_test(s, "spar_file_check on memory", test_check_in_memory) ||
        !CU_add_test(s, "abort removes the temp file", test_abort_removes_temp) ||
        !CU_add_test(s, "open in a missing directory names the path", test_open_in_missing_dir_fails_with_path) ||
        !CU_add_test(s, "atomic replace, dir bytes, remove tree", test_atomic_replace_and_dir_helpers))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
