/* test_sparse_bp.c — docid reordering by graph bisection (index/sparse/sparse_bp.c) and the SIMD kernels
 * of the exact block-max search (index/sparse/sparse_kernels.c): the BP order is a permutation, the same
 * for 1 and 2 threads, and puts documents that share terms into the same block (fewer (term, block)
 * pairs than the input order of shuffled topical data); BMP over a BP-ordered index returns the
 * bit-identical top-k of the exhaustive search; the AVX-512 document scorer gives bit-identical scores to
 * the scalar one (float and 8-bit weights) and the AVX-512 bound accumulation agrees with the scalar one. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/test_data.h"
#include "index/sparse/sparse_int.h"
#include "index/sparse/sparse_search_int.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;

static void gen_topical(spar_test_sparse *d, uint32_t n, uint32_t dim, uint32_t max_nnz) {
    static const spar_test_sparse_shape sh = {SPAR_TEST_TERMS_TOPICAL, 16, 4, 0.0f, 0.05};
    spar_test_sparse_gen(d, &rs, &sh, n, dim, max_nnz);
}

/* (term, block) pairs: the size of the block-max lists an order produces. */
static uint64_t term_blocks(const spar_test_sparse *d, const uint32_t *order, uint32_t leaf) {
    uint32_t *last = malloc(d->dim * sizeof *last);
    memset(last, 0xff, d->dim * sizeof *last);
    uint64_t pairs = 0;
    for (uint32_t p = 0; p < d->n; p++) {
        const spar_sparse_vec *v = &d->v[order ? order[p] : p];
        for (uint32_t i = 0; i < v->n; i++)
            if (last[v->ids[i]] != p / leaf) {
                last[v->ids[i]] = p / leaf;
                pairs++;
            }
    }
    free(last);
    return pairs;
}

static void test_bp_permutation_deterministic(void) {
    spar_test_sparse d;
    gen_topical(&d, 5000, 3000, 40);
    uint32_t *o1 = malloc(d.n * sizeof *o1), *o2 = malloc(d.n * sizeof *o2), *seen = calloc(d.n, sizeof *seen);
    for (uint32_t i = 0; i < d.n; i++) o1[i] = o2[i] = i;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_bp_order(d.v, d.n, d.dim, 8, 0, 20, 1, o1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_bp_order(d.v, d.n, d.dim, 8, 0, 20, 2, o2), SPAR_OK);
    int perm_ok = 1;
    for (uint32_t i = 0; i < d.n; i++) {
        if (o1[i] >= d.n || seen[o1[i]]++) perm_ok = 0;
    }
    CU_ASSERT(perm_ok);
    CU_ASSERT(memcmp(o1, o2, d.n * sizeof *o1) == 0);
    for (uint32_t i = 0; i < d.n; i++) o2[i] = i;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_bp_order(d.v, d.n, d.dim, 8, 0, 20, 2, o2), SPAR_OK);
    CU_ASSERT(memcmp(o1, o2, d.n * sizeof *o1) == 0);
    /* heaviest 8 terms per doc only: again a permutation, the same for 1 and 2 threads */
    for (uint32_t i = 0; i < d.n; i++) o1[i] = o2[i] = i;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_bp_order(d.v, d.n, d.dim, 8, 8, 20, 1, o1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_sparse_bp_order(d.v, d.n, d.dim, 8, 8, 20, 2, o2), SPAR_OK);
    CU_ASSERT(memcmp(o1, o2, d.n * sizeof *o1) == 0);
    memset(seen, 0, d.n * sizeof *seen);
    perm_ok = 1;
    for (uint32_t i = 0; i < d.n; i++)
        if (o1[i] >= d.n || seen[o1[i]]++) perm_ok = 0;
    CU_ASSERT(perm_ok);
    free(o1);
    free(o2);
    free(seen);
    spar_test_sparse_free(&d);
}

static void test_bp_groups_shared_terms(void) {
    spar_test_sparse d;
    gen_topical(&d, 8000, 4096, 60); /* topics are drawn per doc: the input order is shuffled already */
    uint32_t *o = malloc(d.n * sizeof *o);
    for (uint32_t i = 0; i < d.n; i++) o[i] = i;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_bp_order(d.v, d.n, d.dim, 16, 0, 20, 2, o), SPAR_OK);
    uint64_t before = term_blocks(&d, NULL, 16), after = term_blocks(&d, o, 16);
    printf("(term-block pairs %llu -> %llu) ", (unsigned long long)before, (unsigned long long)after);
    CU_ASSERT(after * 10 < before * 8); /* at least 20% fewer */
    free(o);
    spar_test_sparse_free(&d);
}

static void test_bp_tiny_and_bad_args(void) {
    spar_test_sparse d;
    gen_topical(&d, 3, 50, 5);
    uint32_t o[3] = {0, 1, 2};
    CU_ASSERT_EQUAL(spar_sparse_bp_order(d.v, d.n, d.dim, 8, 0, 20, 1, o), SPAR_OK); /* one block: identity */
    CU_ASSERT(o[0] == 0 && o[1] == 1 && o[2] == 2);
    CU_ASSERT_EQUAL(spar_sparse_bp_order(d.v, d.n, d.dim, 0, 0, 20, 1, o), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_bp_order(NULL, 3, d.dim, 8, 0, 20, 1, o), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_sparse_bp_order(d.v, 0, d.dim, 8, 0, 20, 1, o), SPAR_OK);
    spar_test_sparse_free(&d);
}

/* BMP over a BP-ordered index == exhaustive, bit for bit, several k and block sizes, float and 8-bit. */
static void bmp_exact_bp(uint32_t block, uint32_t bits) {
    spar_test_sparse d, q;
    gen_topical(&d, 6000, 3000, 80);
    gen_topical(&q, 40, 3000, 40);
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = 0;
    o.bmp_block = block;
    o.reorder = 2;
    o.weight_bits = bits;
    spar_sparse_index *ix = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_build_vecs(d.v, d.n, d.dim, &o, &ix, &diag), SPAR_OK);
    spar_sparse_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_sparse_searcher_create(ix, &s), SPAR_OK);
    spar_hit a[100], b[100];
    static const uint32_t ks[] = {1, 10, 100};
    uint32_t mism = 0, tot = 0;
    for (uint32_t i = 0; i < q.n; i++)
        for (int x = 0; x < 3; x++) {
            size_t na = 0, nb = 0;
            CU_ASSERT_EQUAL_FATAL(spar_sparse_search_exact(s, &q.v[i], ks[x], SPAR_SPARSE_EXHAUSTIVE, a, &na), SPAR_OK);
            CU_ASSERT_EQUAL_FATAL(spar_sparse_search_exact(s, &q.v[i], ks[x], SPAR_SPARSE_BMP, b, &nb), SPAR_OK);
            tot++;
            if (na != nb || memcmp(a, b, na * sizeof *a)) mism++;
        }
    CU_ASSERT_EQUAL(mism, 0);
    CU_ASSERT_EQUAL(tot, 120);
    spar_sparse_searcher_free(s);
    spar_sparse_index_free(ix);
    spar_test_sparse_free(&d);
    spar_test_sparse_free(&q);
}
static void test_bmp_exact_bp_float(void) { bmp_exact_bp(8, 32); }
static void test_bmp_exact_bp_u8_big_blocks(void) { bmp_exact_bp(32, 8); }

/* The AVX-512 scorer == the scalar scorer bit for bit over every doc, for random dense queries. */
static void kernels_agree(uint32_t bits) {
    const int avx512 = spar_sparse_have_avx512();
    if (!avx512) printf("(no AVX-512 on this CPU: its kernels not checked) ");
    spar_test_sparse d;
    static const spar_test_sparse_shape sh = {SPAR_TEST_TERMS_ZIPF, 4, 0, 0.0f, 0.01};
    spar_test_sparse_gen(&d, &rs, &sh, 2000, 1000, 300); /* rows of 0..~300 terms: every tail length, two pieces */
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = 0;
    o.weight_bits = bits;
    spar_sparse_index *ix = NULL;
    spar_diag diag = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_sparse_index_build_vecs(d.v, d.n, d.dim, &o, &ix, &diag), SPAR_OK);
    float *qd = calloc(d.dim, sizeof *qd), *s1 = malloc(d.n * sizeof *s1), *s2 = malloc(d.n * sizeof *s2);
    uint32_t diff = 0, nonzero = 0;
    for (int rep = 0; rep < 20; rep++) {
        for (uint32_t t = 0; t < d.dim; t++) /* ~1 in 8 terms in the query */
            qd[t] = (spar_test_rand(&rs) & 7) == 0 ? (float)spar_test_unif(&rs) * 3.0f : 0.0f;
        spar_sparse_score_docs_scalar(ix, qd, 0, d.n, s1);
        if (avx512) spar_sparse_score_docs_avx512(ix, qd, 0, d.n, s2);
        for (uint32_t i = 0; i < d.n; i++) {
            if (avx512 && memcmp(&s1[i], &s2[i], sizeof *s1)) diff++;
            nonzero += s1[i] > 0.0f;
        }
    }
    CU_ASSERT_EQUAL(diff, 0);
    CU_ASSERT(nonzero > 1000);
    /* bound accumulation: FMA may round differently, never by more than a few ulps */
    uint8_t row[1000];
    float u1[1000], u2[1000];
    for (uint32_t i = 0; i < 1000; i++) {
        row[i] = (uint8_t)spar_test_rand(&rs);
        u1[i] = u2[i] = (float)spar_test_unif(&rs);
    }
    if (!avx512) goto done;
    spar_sparse_acc_row_scalar(u1, row, 0.37f, 997);
    spar_sparse_acc_row_avx512(u2, row, 0.37f, 997);
    uint32_t far = 0;
    for (uint32_t i = 0; i < 1000; i++)
        if (u1[i] - u2[i] > 1e-5f * u1[i] || u2[i] - u1[i] > 1e-5f * u1[i]) far++;
    CU_ASSERT_EQUAL(far, 0);
done:
    free(qd);
    free(s1);
    free(s2);
    spar_sparse_index_free(ix);
    spar_test_sparse_free(&d);
}
static void test_kernels_float(void) { kernels_agree(32); }
static void test_kernels_u8(void) { kernels_agree(8); }

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return CU_get_error();
    CU_pSuite su = CU_add_suite("sparse_bp", NULL, NULL);
    CU_add_test(su, "bp order (all / heaviest terms): permutation, same for 1 and 2 threads", test_bp_permutation_deterministic);
    CU_add_test(su, "bp order: fewer term-block pairs than the input order", test_bp_groups_shared_terms);
    CU_add_test(su, "bp order: tiny input and bad arguments", test_bp_tiny_and_bad_args);
    CU_add_test(su, "bmp over a bp-ordered index == exhaustive (float, 8-doc blocks)", test_bmp_exact_bp_float);
    CU_add_test(su, "bmp over a bp-ordered index == exhaustive (8-bit, 32-doc blocks)", test_bmp_exact_bp_u8_big_blocks);
    CU_add_test(su, "avx512 scorer == scalar, float weights", test_kernels_float);
    CU_add_test(su, "avx512 scorer == scalar, 8-bit weights", test_kernels_u8);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned f = CU_get_number_of_failures();
    CU_cleanup_registry();
    return f ? 1 : 0;
}
