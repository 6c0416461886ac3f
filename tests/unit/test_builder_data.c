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

#include "common/test_util.h"

static char g_tmp[256];
static char g_corpus[1024];

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
        CU_ASSERT(spar_test_same_file(a, b));
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
    if (spar_test_mkdtemp(g_tmp, sizeof g_tmp, "bdata") != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/builder-data", NULL, NULL);
    int ok = s != NULL && CU_add_test(s, "cranfield: 1400 docs, 1 vs 2 threads identical, verify ok", test_cranfield);
    return spar_test_run(ok, g_tmp);
}
