/* test_util.c — the temp-directory, file and run helpers of test_util.h. */
#define _POSIX_C_SOURCE 200809L
#include "common/test_util.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/file.h"

int spar_test_mkdtemp(char *buf, size_t cap, const char *tag) {
    const char *root = getenv("TMPDIR");
    if (root == NULL || *root == '\0') root = "/tmp";
    int len = snprintf(buf, cap, "%s/spar-test-%s-XXXXXX", root, tag);
    if (len < 0 || (size_t)len >= cap) return -1;
    return mkdtemp(buf) ? 0 : -1;
}

int spar_test_rmtree(const char *dir) { return spar_remove_tree(dir) == SPAR_OK ? 0 : -1; }

unsigned char *spar_test_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    unsigned char *b = NULL;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)sz + 1)) != NULL) {
        if (fread(b, 1, (size_t)sz, f) == (size_t)sz) {
            b[sz] = 0;
            *n = (size_t)sz;
        } else {
            free(b);
            b = NULL;
        }
    }
    fclose(f);
    return b;
}

int spar_test_same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = spar_test_slurp(a, &na), *y = spar_test_slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

void spar_test_write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t put = fwrite(b, 1, n, f);
    int closed = fclose(f);
    CU_ASSERT_FATAL(put == n && closed == 0);
}

void spar_test_write_text(const char *path, const char *s) { spar_test_write_file(path, s, strlen(s)); }

int spar_test_run(int registered, const char *tmpdir) {
    if (registered) {
        CU_basic_set_mode(CU_BRM_VERBOSE);
        CU_basic_run_tests();
    }
    int rc = !registered || CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0;
    CU_cleanup_registry();
    if (rc == 0 && tmpdir != NULL && spar_test_rmtree(tmpdir) != 0) rc = 1;
    return rc;
}
