/* test_topk.c — unit tests for query/topk.c: the bounded heap keeps exactly the k best hits under the
 * total order (score desc, docid asc) for any insertion order, ties included; threshold semantics; k
 * larger than the number of hits; finish with a smaller output capacity; reuse across queries. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "query/topk.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int cmp_hit(const void *a, const void *b) {
    const spar_hit *x = a, *y = b;
    if (spar_hit_better(x->score, x->docid, y->score, y->docid)) return -1;
    if (spar_hit_better(y->score, y->docid, x->score, x->docid)) return 1;
    return 0;
}

static void test_keeps_k_best_random_order(void) {
    spar_topk t = {0};
    spar_hit all[600], out[600];
    for (int rep = 0; rep < 200; rep++) {
        uint32_t n = 1 + (uint32_t)(rnd() % 600);
        uint32_t k = 1 + (uint32_t)(rnd() % 700);
        for (uint32_t i = 0; i < n; i++) {
            all[i].docid = i;
            all[i].score = (float)(rnd() % 20) * 0.25f; /* many ties */
        }
        for (uint32_t i = n; i > 1; i--) { /* shuffle: insertion order must not matter */
            uint32_t j = (uint32_t)(rnd() % i);
            spar_hit h = all[i - 1];
            all[i - 1] = all[j];
            all[j] = h;
        }
        CU_ASSERT_EQUAL_FATAL(spar_topk_reset(&t, k), SPAR_OK);
        for (uint32_t i = 0; i < n; i++) spar_topk_push(&t, all[i].docid, all[i].score);
        size_t m = spar_topk_finish(&t, out, 600);
        qsort(all, n, sizeof *all, cmp_hit);
        CU_ASSERT_EQUAL_FATAL(m, SPAR_MIN(n, k));
        CU_ASSERT_EQUAL(memcmp(out, all, m * sizeof *out), 0);
    }
    spar_topk_free(&t);
}

static void test_tie_prefers_lower_docid(void) {
    spar_topk t = {0};
    spar_hit out[2];
    CU_ASSERT_EQUAL_FATAL(spar_topk_reset(&t, 2), SPAR_OK);
    CU_ASSERT_EQUAL(spar_topk_push(&t, 9, 1.0f), 1);
    CU_ASSERT_EQUAL(spar_topk_push(&t, 7, 1.0f), 1);
    CU_ASSERT_EQUAL(spar_topk_push(&t, 8, 1.0f), 1);  /* beats docid 9 */
    CU_ASSERT_EQUAL(spar_topk_push(&t, 10, 1.0f), 0); /* loses to both */
    CU_ASSERT_EQUAL(spar_topk_finish(&t, out, 2), 2);
    CU_ASSERT_EQUAL(out[0].docid, 7);
    CU_ASSERT_EQUAL(out[1].docid, 8);
    spar_topk_free(&t);
}

static void test_threshold(void) {
    spar_topk t = {0};
    CU_ASSERT_EQUAL_FATAL(spar_topk_reset(&t, 3), SPAR_OK);
    CU_ASSERT(spar_topk_threshold(&t) == -INFINITY);
    spar_topk_push(&t, 1, 5.0f);
    spar_topk_push(&t, 2, 3.0f);
    CU_ASSERT(spar_topk_threshold(&t) == -INFINITY); /* not full yet */
    spar_topk_push(&t, 3, 4.0f);
    CU_ASSERT(spar_topk_threshold(&t) == 3.0f);
    spar_topk_push(&t, 4, 6.0f);
    CU_ASSERT(spar_topk_threshold(&t) == 4.0f);
    spar_topk_free(&t);
}

static void test_finish_with_small_cap_and_reuse(void) {
    spar_topk t = {0};
    spar_hit out[3];
    CU_ASSERT_EQUAL_FATAL(spar_topk_reset(&t, 10), SPAR_OK);
    for (uint32_t i = 0; i < 10; i++) spar_topk_push(&t, i, (float)i);
    CU_ASSERT_EQUAL(spar_topk_finish(&t, out, 3), 3);
    CU_ASSERT(out[0].docid == 9 && out[1].docid == 8 && out[2].docid == 7);
    CU_ASSERT_EQUAL(spar_topk_finish(&t, NULL, 0), 0); /* emptied by finish */
    CU_ASSERT_EQUAL_FATAL(spar_topk_reset(&t, 1), SPAR_OK);
    spar_topk_push(&t, 5, 2.0f);
    spar_topk_push(&t, 6, 1.0f);
    CU_ASSERT_EQUAL(spar_topk_finish(&t, out, 3), 1);
    CU_ASSERT(out[0].docid == 5 && out[0].score == 2.0f);
    CU_ASSERT_EQUAL(spar_topk_reset(&t, 0), SPAR_E_INVALID_ARG);
    spar_topk_free(&t);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("query/topk", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "keeps exactly the k best, any order, ties", test_keeps_k_best_random_order) ||
        !CU_add_test(s, "equal scores: lower docid wins", test_tie_prefers_lower_docid) ||
        !CU_add_test(s, "threshold is -inf until full, then the k-th score", test_threshold) ||
        !CU_add_test(s, "finish into a smaller buffer; reuse after finish", test_finish_with_small_cap_and_reuse)) {
        CU_cleanup_registry();
        return (int)CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
