/* test_common.c — unit tests for common/: status strings and diagnostics. */
#include <CUnit/Basic.h>
#include <string.h>

#include "common/common.h"
#include "spar/spar.h"

static void test_status_strings_distinct(void) {
    spar_status all[] = {SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_NOMEM, SPAR_E_IO, SPAR_E_CORRUPT, SPAR_E_VERSION,
                         SPAR_E_NOT_FOUND, SPAR_E_CANCELLED, SPAR_E_STORAGE, SPAR_E_EXISTS, SPAR_E_UNSUPPORTED,
                         SPAR_E_INTERNAL};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) CU_ASSERT(strcmp(spar_status_str(all[i]), spar_status_str(all[j])) != 0);
    CU_ASSERT_STRING_EQUAL(spar_status_str((spar_status)12345), "unknown status");
}

static void test_diag_err_formats_and_returns(void) {
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_diag_err(&d, SPAR_E_CORRUPT, "%s:%d: %s", "f.jsonl", 7, "bad"), SPAR_E_CORRUPT);
    CU_ASSERT_STRING_EQUAL(d.msg, "f.jsonl:7: bad");
    CU_ASSERT_EQUAL(spar_diag_err(NULL, SPAR_E_IO, "x"), SPAR_E_IO);
}

static void test_malloc_array_overflow(void) {
    CU_ASSERT_PTR_NULL(spar_malloc_array(SIZE_MAX / 2, 4));
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("common/status", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "status strings are distinct", test_status_strings_distinct) ||
        !CU_add_test(s, "diag_err formats and returns", test_diag_err_formats_and_returns) ||
        !CU_add_test(s, "array allocation overflow is refused", test_malloc_array_overflow))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
