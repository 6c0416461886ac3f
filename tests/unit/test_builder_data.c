/* test_builder_data.c — spar_index_build on a real corpus: cranfield from $SPAR_DATA
 * (classic-ir/cranfield/corpus.jsonl) builds with 1 and 2 threads into identical files, has 1400
 * documents, opens and verifies. Exits 77 (ctest SKIP) with a message when the data is absent. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spar/spar_index.h"

static char g_tmp[256];
static char g_corpus[1024];

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

static void test_cranfield(void) {
    const char *inputs[1] = {g_corpus};
    char out[2][300];
    for (int t = 0; t < 2; t++) {
        snprintf(out[t], sizeof out[t], "%s/cran-t%d", g_tmp, t + 1);
        spar_build_opts o;
        spar_build_opts_default(&o);
        o.n_threads = t + 1;
        spar_build_stats s;
        spar_diag d;
        CU_ASSERT_EQUAL_FATAL(spar_index_build(inputs, 1, out[t], &o, &s, &d), SPAR_OK);
        CU_ASSERT_EQUAL(s.n_docs, 1400);
        CU_ASSERT_EQUAL(s.n_skipped, 0);
        CU_ASSERT_EQUAL(s.n_lines, s.n_docs + s.n_blank);
    }
    const char *files[3] = {"MANIFEST", "seg-000001.post", "meta.lmdb/data.mdb"};
    for (int i = 0; i < 3; i++) {
        char a[400], b[400];
        snprintf(a, sizeof a, "%s/%s", out[0], files[i]);
        snprintf(b, sizeof b, "%s/%s", out[1], files[i]);
        CU_ASSERT(same_file(a, b));
    }
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(out[0], &ix, &d), SPAR_OK);
    spar_index_info info;
    spar_index_get_info(ix, &info);
    CU_ASSERT_EQUAL(info.n_docs, 1400);
    CU_ASSERT(info.n_terms > 1000);
    char id[32];
    CU_ASSERT_EQUAL(spar_index_doc_id(ix, 0, id, sizeof id, NULL), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(id, "1");
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_index_lookup_id(ix, "1400", 4, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 1399);
    spar_index_close(ix);
    CU_ASSERT_EQUAL(spar_index_verify(out[0], NULL, NULL, &d), SPAR_OK);
}

int main(void) {
    const char *data = getenv("SPAR_DATA");
    if (data == NULL) {
        printf("SKIP: SPAR_DATA not set\n");
        return 77;
    }
    snprintf(g_corpus, sizeof g_corpus, "%s/classic-ir/cranfield/corpus.jsonl", data);
    if (access(g_corpus, R_OK) != 0) {
        printf("SKIP: %s not readable\n", g_corpus);
        return 77;
    }
    snprintf(g_tmp, sizeof g_tmp, "%s/spar-test-bdata-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmp) == NULL) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/builder-data", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "cranfield: 1400 docs, 1 vs 2 threads identical, verify ok", test_cranfield))
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
