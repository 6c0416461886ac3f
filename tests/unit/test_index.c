/* test_index.c — spar_index_open / get_info / doc_id / lookup_id / verify (index/index.c) on an index
 * built in a temp dir: one flipped byte anywhere in any file makes open and verify fail with
 * SPAR_E_CORRUPT naming the file; verify reports once per file; stored fields; concurrent id lookups.
 * The real-corpus check (cranfield via SPAR_DATA) lives in test_builder_data.c so it can skip alone. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/index.h"
#include "storage/file.h"
#include "spar/spar_index.h"

#include "common/test_util.h"

static char g_tmp[256];
static char g_idx[512];

static int build_fixture(void) {
    char in[512];
    snprintf(in, sizeof in, "%s/c.jsonl", g_tmp);
    snprintf(g_idx, sizeof g_idx, "%s/idx", g_tmp);
    FILE *f = fopen(in, "wb");
    if (f == NULL) return -1;
    for (int i = 0; i < 300; i++)
        fprintf(f, "{\"_id\": \"doc-%03d\", \"title\": \"Title %d\", \"text\": \"word%d common text number %d "
                   "shared terms appear here %s\"}\n",
                i, i, i % 17, i, i % 2 ? "odd" : "even");
    fclose(f);
    const char *inputs[1] = {in};
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.store_text = 1;
    spar_diag d;
    return spar_index_build(inputs, 1, g_idx, &o, NULL, &d) == SPAR_OK ? 0 : -1;
}

static void test_open_info_ids(void) {
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(g_idx, &ix, &d), SPAR_OK);
    spar_index_info info;
    spar_index_get_info(ix, &info);
    CU_ASSERT_EQUAL(info.n_docs, 300);
    CU_ASSERT(info.avg_doclen > 5);
    CU_ASSERT(info.index_bytes > 0);
    CU_ASSERT_STRING_EQUAL(info.analysis.stemmer, "porter");
    CU_ASSERT_EQUAL(spar_index_n_docs(ix), 300);
    CU_ASSERT_PTR_NOT_NULL(spar_index_segment(ix));
    CU_ASSERT_EQUAL(spar_segment_n_docs(spar_index_segment(ix)), 300);
    for (uint32_t i = 0; i < 300; i += 37) {
        char want[16], got[16];
        snprintf(want, sizeof want, "doc-%03u", (unsigned)i);
        CU_ASSERT_EQUAL(spar_index_doc_id(ix, i, got, sizeof got, NULL), SPAR_OK);
        CU_ASSERT_STRING_EQUAL(got, want);
        uint32_t back = UINT32_MAX;
        CU_ASSERT_EQUAL(spar_index_lookup_id(ix, want, strlen(want), &back), SPAR_OK);
        CU_ASSERT_EQUAL(back, i);
    }
    /* truncation: 3 bytes + NUL, full length reported */
    char small[4];
    size_t len = 0;
    CU_ASSERT_EQUAL(spar_index_doc_id(ix, 5, small, sizeof small, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(small, "doc");
    CU_ASSERT_EQUAL(len, 7);
    spar_index_close(ix);
}

static void test_stored_fields(void) {
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(g_idx, &ix, &d), SPAR_OK);
    CU_ASSERT(spar_index_has_text(ix));
    char title[32], text[128];
    size_t tl = 0, xl = 0;
    CU_ASSERT_EQUAL(spar_index_doc_fields(ix, 12, title, sizeof title, &tl, text, sizeof text, &xl), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(title, "Title 12");
    CU_ASSERT_EQUAL(tl, 8);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "number 12 shared"));
    CU_ASSERT_EQUAL(xl, strlen(text));
    CU_ASSERT_EQUAL(spar_index_doc_fields(ix, 300, title, sizeof title, &tl, text, sizeof text, &xl),
                    SPAR_E_NOT_FOUND);
    spar_index_close(ix);
}

typedef struct vrec {
    int n, n_ok;
    char files[8][64];
} vrec;

static void on_report(void *ud, const char *file, spar_status st, const char *detail) {
    vrec *r = ud;
    (void)detail;
    if (r->n < 8) snprintf(r->files[r->n], sizeof r->files[0], "%s", file);
    r->n++;
    r->n_ok += st == SPAR_OK;
}

static void test_verify_reports_each_file(void) {
    vrec r;
    memset(&r, 0, sizeof r);
    spar_diag d;
    CU_ASSERT_EQUAL(spar_index_verify(g_idx, on_report, &r, &d), SPAR_OK);
    CU_ASSERT_EQUAL(r.n, 3);
    CU_ASSERT_EQUAL(r.n_ok, 3);
    CU_ASSERT_STRING_EQUAL(r.files[0], "MANIFEST");
    CU_ASSERT_STRING_EQUAL(r.files[1], "seg-000001.post");
    CU_ASSERT_STRING_EQUAL(r.files[2], "meta.lmdb/data.mdb");
}

/* Flip byte positions of one file (every `stride`-th plus first/last 40); each flip must make both
 * open and verify fail, with SPAR_E_CORRUPT (SPAR_E_VERSION accepted for a header's major-version bytes),
 * and the error message must name the file. */
static void flip_file(const char *rel, size_t stride, int is_spar_file) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", g_idx, rel);
    size_t n = 0;
    unsigned char *orig = spar_test_slurp(p, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
    CU_ASSERT_FATAL(n > 0);
    unsigned char *b = malloc(n);
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    int tried = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(i < 40 || i + 40 >= n || i % stride == 0)) continue;
        memcpy(b, orig, n);
        b[i] ^= 0x5a;
        spar_test_write_file(p, b, n);
        spar_index *ix = NULL;
        spar_diag d;
        d.msg[0] = '\0';
        spar_status so = spar_index_open(g_idx, &ix, &d);
        int name_ok = strstr(d.msg, base) != NULL;
        spar_index_close(ix);
        spar_status sv = spar_index_verify(g_idx, NULL, NULL, &d);
        const int version_bytes = is_spar_file && (i == 4 || i == 5);
        int ok_o = so == SPAR_E_CORRUPT || (version_bytes && so == SPAR_E_VERSION);
        int ok_v = sv == SPAR_E_CORRUPT || (version_bytes && sv == SPAR_E_VERSION);
        if (!ok_o || !ok_v || !name_ok) {
            if (bad++ < 3)
                fprintf(stderr, "\n  %s byte %zu: open %d verify %d msg '%s'", rel, i, (int)so, (int)sv, d.msg);
        }
        tried++;
    }
    spar_test_write_file(p, orig, n);
    CU_ASSERT(tried > 80);
    CU_ASSERT_EQUAL(bad, 0);
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_OK); /* restored */
    spar_index_close(ix);
    free(orig);
    free(b);
}

static void test_flip_manifest(void) { flip_file("MANIFEST", 1, 1); }
static void test_flip_segment(void) { flip_file("seg-000001.post", 13, 1); }
static void test_flip_lmdb(void) { flip_file("meta.lmdb/data.mdb", 101, 0); }

static void test_truncated_and_missing_files(void) {
    const char *files[3] = {"MANIFEST", "seg-000001.post", "meta.lmdb/data.mdb"};
    for (int k = 0; k < 3; k++) {
        char p[600], q[610];
        snprintf(p, sizeof p, "%s/%s", g_idx, files[k]);
        size_t n = 0;
        unsigned char *orig = spar_test_slurp(p, &n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
        spar_test_write_file(p, orig, n - 1); /* truncated by one byte */
        spar_index *ix = NULL;
        spar_diag d;
        CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_E_CORRUPT);
        CU_ASSERT_EQUAL(spar_index_verify(g_idx, NULL, NULL, &d), SPAR_E_CORRUPT);
        snprintf(q, sizeof q, "%s.moved", p);
        spar_test_write_file(p, orig, n);
        CU_ASSERT_EQUAL(rename(p, q), 0);
        spar_status st = spar_index_open(g_idx, &ix, &d);
        /* a missing MANIFEST means "not an index" (I/O); a missing listed file is corruption */
        CU_ASSERT_EQUAL(st, k == 0 ? SPAR_E_IO : SPAR_E_CORRUPT);
        CU_ASSERT_EQUAL(rename(q, p), 0);
        CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_OK);
        spar_index_close(ix);
        free(orig);
    }
}

typedef struct targ {
    const spar_index *ix;
    int errors;
    unsigned seed;
} targ;

static void *lookup_thread(void *p) {
    targ *a = p;
    for (int k = 0; k < 2000; k++) {
        uint32_t i = (a->seed + (unsigned)k * 7919u) % 300u;
        char want[16], got[16];
        snprintf(want, sizeof want, "doc-%03u", (unsigned)i);
        uint32_t back = 0;
        if (spar_index_doc_id(a->ix, i, got, sizeof got, NULL) != SPAR_OK || strcmp(got, want) != 0) a->errors++;
        if (spar_index_lookup_id(a->ix, want, strlen(want), &back) != SPAR_OK || back != i) a->errors++;
    }
    return NULL;
}

static void test_concurrent_lookups(void) {
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(g_idx, &ix, &d), SPAR_OK);
    pthread_t t[4];
    targ a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (targ){ix, 0, (unsigned)i * 31u};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, lookup_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(a[i].errors, 0);
    }
    spar_index_close(ix);
}

/* A valid segment (or data.mdb) from another index is caught by the MANIFEST cross-check. */
static void test_swapped_files(void) {
    char in[600], other[600];
    snprintf(in, sizeof in, "%s/other.jsonl", g_tmp);
    snprintf(other, sizeof other, "%s/other-idx", g_tmp);
    spar_test_write_text(in, "{\"_id\": \"x\", \"text\": \"a different corpus\"}\n");
    const char *inputs[1] = {in};
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.store_text = 1;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_index_build(inputs, 1, other, &o, NULL, &d), SPAR_OK);
    const char *files[2] = {"seg-000001.post", "meta.lmdb/data.mdb"};
    for (int k = 0; k < 2; k++) {
        char mine[700], theirs[700], keep[710];
        snprintf(mine, sizeof mine, "%s/%s", g_idx, files[k]);
        snprintf(theirs, sizeof theirs, "%s/%s", other, files[k]);
        snprintf(keep, sizeof keep, "%s.keep", mine);
        size_t n = 0;
        unsigned char *b = spar_test_slurp(theirs, &n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_EQUAL_FATAL(rename(mine, keep), 0);
        spar_test_write_file(mine, b, n);
        free(b);
        spar_index *ix = NULL;
        CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_E_CORRUPT);
        CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, k == 0 ? "seg-000001.post" : "data.mdb"));
        CU_ASSERT_EQUAL(spar_index_verify(g_idx, NULL, NULL, &d), SPAR_E_CORRUPT);
        CU_ASSERT_EQUAL(rename(keep, mine), 0);
    }
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_OK);
    spar_index_close(ix);
}

/* An index written by format 1.x (segment and meta format 1) is refused at the MANIFEST with a version error
 * that says to rebuild, not reported as corruption. The MANIFEST is re-signed so only the version differs. */
static void test_old_format_refused(void) {
    char mp[700], keep[710];
    snprintf(mp, sizeof mp, "%s/MANIFEST", g_idx);
    snprintf(keep, sizeof keep, "%s.keep", mp);
    size_t n = 0;
    unsigned char *b = spar_test_slurp(mp, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_FATAL(n > 32);
    char *json = malloc(n - 32 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    memcpy(json, b + 32, n - 32);
    json[n - 32] = 0;
    char *f = strstr(json, "\"format\": [3, 0]");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    f[11] = '1';
    CU_ASSERT_EQUAL_FATAL(rename(mp, keep), 0);
    spar_file_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_open(mp, SPAR_KIND_MANIFEST, 1, 0, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_file_writer_write(w, json, n - 32), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_file_writer_commit(w, &d), SPAR_OK);
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_E_VERSION);
    CU_ASSERT_PTR_NULL(ix);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "rebuild the index"));
    CU_ASSERT_EQUAL(rename(keep, mp), 0);
    CU_ASSERT_EQUAL(spar_index_open(g_idx, &ix, &d), SPAR_OK);
    spar_index_close(ix);
    free(json);
    free(b);
}

static void test_not_an_index(void) {
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_index_open(g_tmp, &ix, &d), SPAR_E_IO);
    CU_ASSERT_PTR_NULL(ix);
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk", g_tmp);
    mkdir(junk, 0755);
    char m[700];
    snprintf(m, sizeof m, "%s/MANIFEST", junk);
    spar_test_write_text(m, "{\"format\": [1, 0]}");
    CU_ASSERT_EQUAL(spar_index_open(junk, &ix, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "MANIFEST"));
}

int main(void) {
    if (spar_test_mkdtemp(g_tmp, sizeof g_tmp, "index") != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/open", NULL, NULL);
    if (build_fixture() != 0) {
        fprintf(stderr, "fixture build failed\n");
        return 1;
    }
    int ok = s != NULL &&
             CU_add_test(s, "open, info, doc ids and lookups", test_open_info_ids) &&
             CU_add_test(s, "stored fields (store_text)", test_stored_fields) &&
             CU_add_test(s, "verify reports once per file", test_verify_reports_each_file) &&
             CU_add_test(s, "flip any MANIFEST byte: open and verify fail", test_flip_manifest) &&
             CU_add_test(s, "flip segment bytes: open and verify fail", test_flip_segment) &&
             CU_add_test(s, "flip data.mdb bytes: open and verify fail", test_flip_lmdb) &&
             CU_add_test(s, "truncated or missing files", test_truncated_and_missing_files) &&
             CU_add_test(s, "concurrent doc_id/lookup_id from 4 threads", test_concurrent_lookups) &&
             CU_add_test(s, "a valid file from another index is rejected", test_swapped_files) &&
             CU_add_test(s, "not an index / malformed MANIFEST", test_not_an_index) &&
             CU_add_test(s, "index format 1.x refused with a rebuild message", test_old_format_refused);
    return spar_test_run(ok, g_tmp);
}
