/* test_encoder_decpack.c — the fp32 SPLADE decoder packed once (encoders/model/bert.h spar_bert_pack_decoder,
 * heads.h spar_splade_pool_packed) instead of per call: on a synthetic decoder spanning several vocabulary
 * blocks with a tail of V % 32 rows, and on the committed tiny BERT / DistilBERT fixtures (tied embeddings,
 * tests/golden/data/encoder through SPAR_SRC; skipped when it is not set): SPLADE bitwise equal to the
 * per-call path, embedding rows gathered from the packed layout equal to the row-major rows, the forward pass
 * unchanged bit for bit, MLM logits within 1e-5, and unpacking restoring the exact row-major table. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/kernels/gemm_f32.h"
#include "encoders/model/bert.h"
#include "encoders/model/heads.h"

static uint64_t g_rng = 11;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) / 8388608.0 - 1.0);
}

#define D 48
#define V 2100 /* three 1024-row blocks, the last one ending in a 20-row tail */
#define T 77
static const uint32_t k_lens[3] = {1, 40, 36};

static void test_pool_packed_matches_per_call_bitwise(void) {
    float *W = aligned_alloc(64, (size_t)V * D * 4), *h = malloc(T * D * 4), *b = malloc(V * 4);
    float *ref = malloc(3 * V * 4), *got = malloc(3 * V * 4);
    CU_ASSERT_FATAL(W != NULL && h != NULL && b != NULL && ref != NULL && got != NULL);
    for (size_t i = 0; i < (size_t)V * D; i++) W[i] = 0.2f * frand();
    for (size_t i = 0; i < T * D; i++) h[i] = frand();
    for (size_t i = 0; i < V; i++) b[i] = 0.2f * frand() - 0.1f;
    size_t Vm = V / 32 * 32;
    for (int pool = 0; pool < 2; pool++) {
        CU_ASSERT_EQUAL_FATAL(spar_splade_pool(h, k_lens, 3, D, W, b, V, (spar_splade_pooling)pool, ref), SPAR_OK);
        spar_gemm_f32_packed *tail = NULL, *main = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack(W + Vm * D, V - Vm, D, D, &tail), SPAR_OK);
        CU_ASSERT_EQUAL_FATAL(spar_gemm_f32_pack_inplace(W, Vm, D, &main), SPAR_OK);
        CU_ASSERT_EQUAL(spar_splade_pool_packed(h, k_lens, 3, D, main, tail, b, V, (spar_splade_pooling)pool, got),
                        SPAR_OK);
        CU_ASSERT_EQUAL(memcmp(ref, got, 3 * V * 4), 0);
        size_t nnz = 0;
        for (size_t i = 0; i < 3 * V; i++) nnz += ref[i] > 0;
        CU_ASSERT(nnz > 100 && nnz < 3 * V); /* a real mix of zero and non-zero weights */
        /* shapes that do not add up are refused */
        CU_ASSERT_EQUAL(spar_splade_pool_packed(h, k_lens, 3, D, main, tail, b, V + 1, SPAR_SPLADE_MAX, got),
                        SPAR_E_INVALID_ARG);
        CU_ASSERT_EQUAL(spar_splade_pool_packed(h, k_lens, 3, D, tail, main, b, V, SPAR_SPLADE_MAX, got),
                        SPAR_E_INVALID_ARG);
        CU_ASSERT_EQUAL(spar_gemm_f32_unpack_inplace(main), SPAR_OK);
        spar_gemm_f32_free(tail);
    }
    free(W); free(h); free(b); free(ref); free(got);
}

static void check_fixture(const char *name) {
    const char *src = getenv("SPAR_SRC");
    if (src == NULL) {
        printf(" SKIP (SPAR_SRC not set)");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/golden/data/encoder/%s", src, name);
    spar_diag diag = {{0}};
    spar_bert *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_bert_load(dir, &m, &diag), SPAR_OK);
    CU_ASSERT_PTR_EQUAL(m->dec_w, m->word_emb); /* both fixtures tie the decoder */
    size_t d = m->cfg.hidden, Vn = m->cfg.vocab_size, n = 67;
    uint32_t lens[3] = {5, 2, 60}, ids[67];
    for (size_t t = 0; t < n; t++) ids[t] = (uint32_t)((t * 37) % Vn);
    ids[1] = (uint32_t)Vn - 1; /* a tail row */
    ids[2] = (uint32_t)(Vn / 32 * 32 - 1); /* the last packed row */
    float *table = malloc(Vn * d * 4), *row = malloc(d * 4);
    float *hid = malloc(n * d * 4), *hid2 = malloc(n * d * 4), *h2 = malloc(n * d * 4);
    float *ref = malloc(3 * Vn * 4), *got = malloc(3 * Vn * 4), *lg = malloc(n * Vn * 4), *lg2 = malloc(n * Vn * 4);
    CU_ASSERT_FATAL(table && row && hid && hid2 && h2 && ref && got && lg && lg2);
    memcpy(table, m->word_emb, Vn * d * 4);
    CU_ASSERT_EQUAL_FATAL(spar_bert_forward(m, ids, lens, 3, hid), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_bert_mlm_transform(m, hid, n, h2), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_bert_mlm_logits(m, h2, n, lg), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_splade_pool(h2, lens, 3, d, m->dec_w, m->dec_b, Vn, SPAR_SPLADE_MAX, ref), SPAR_OK);

    CU_ASSERT_EQUAL_FATAL(spar_bert_pack_decoder(m), SPAR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->dec_p);
    CU_ASSERT_PTR_EQUAL(m->dec_p->data, m->dec_w); /* in place: no second copy */
    CU_ASSERT_EQUAL(m->dec_p->n + (m->dec_tail_p ? m->dec_tail_p->n : 0), Vn);
    CU_ASSERT(memcmp(table, m->word_emb, Vn * d * 4) != 0); /* the table really is in the packed layout */
    CU_ASSERT_EQUAL(spar_bert_pack_decoder(m), SPAR_OK);     /* packing twice is a no-op */
    size_t bad_rows = 0;
    for (size_t v = 0; v < Vn; v++) {
        spar_bert_embedding_row(m, v, row);
        bad_rows += memcmp(row, table + v * d, d * 4) != 0;
    }
    CU_ASSERT_EQUAL(bad_rows, 0);
    CU_ASSERT_EQUAL(spar_bert_forward(m, ids, lens, 3, hid2), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(hid, hid2, n * d * 4), 0);
    CU_ASSERT_EQUAL(spar_splade_pool_packed(h2, lens, 3, d, m->dec_p, m->dec_tail_p, m->dec_b, Vn, SPAR_SPLADE_MAX,
                                            got), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(ref, got, 3 * Vn * 4), 0);
    CU_ASSERT_EQUAL(spar_bert_mlm_logits(m, h2, n, lg2), SPAR_OK);
    size_t far = 0;
    for (size_t i = 0; i < n * Vn; i++) far += fabsf(lg[i] - lg2[i]) > 1e-5f * (1.0f + fabsf(lg[i]));
    CU_ASSERT_EQUAL(far, 0);

    CU_ASSERT_EQUAL(spar_bert_unpack_decoder(m), SPAR_OK);
    CU_ASSERT_PTR_NULL(m->dec_p);
    CU_ASSERT_EQUAL(memcmp(table, m->word_emb, Vn * d * 4), 0);
    CU_ASSERT_EQUAL(spar_bert_unpack_decoder(m), SPAR_OK); /* twice: no-op */
    /* rounding a packed model rounds the row-major values and packs again (MLM transform included) */
    CU_ASSERT_EQUAL(spar_bert_pack_decoder(m), SPAR_OK);
    CU_ASSERT_PTR_NOT_NULL(m->tr_p);
    spar_bert_round_bf16(m);
    CU_ASSERT_PTR_NOT_NULL(m->dec_p);
    CU_ASSERT_PTR_NOT_NULL(m->tr_p);
    size_t not_bf16 = 0, moved = 0;
    for (size_t v = 0; v < Vn; v++) {
        spar_bert_embedding_row(m, v, row);
        for (size_t k = 0; k < d; k++) {
            uint32_t u;
            memcpy(&u, &row[k], 4);
            not_bf16 += (u & 0xffffu) != 0;
            moved += fabsf(row[k] - table[v * d + k]) > 0.01f * fabsf(table[v * d + k]);
        }
    }
    CU_ASSERT_EQUAL(not_bf16, 0);
    CU_ASSERT_EQUAL(moved, 0);
    CU_ASSERT_EQUAL(spar_bert_unpack_decoder(m), SPAR_OK);
    memcpy(table, m->word_emb, Vn * d * 4); /* the rounded table, row-major */
    /* packed, then switched to bf16: the decoder is unpacked first (the lowp packer reads it row-major) */
    CU_ASSERT_EQUAL(spar_bert_pack_decoder(m), SPAR_OK);
    CU_ASSERT_EQUAL(spar_bert_set_weights(m, 1, 0), SPAR_OK);
    CU_ASSERT_PTR_NULL(m->dec_p);
    CU_ASSERT_EQUAL(memcmp(table, m->word_emb, Vn * d * 4), 0);
    spar_bert_free(m);
    free(table); free(row); free(hid); free(hid2); free(h2); free(ref); free(got); free(lg); free(lg2);
}
static void test_fixture_bert(void) { check_fixture("tiny-bert"); }
static void test_fixture_distilbert(void) { check_fixture("tiny-distil"); }

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("encoders/decpack", NULL, NULL);
    if (s == NULL ||
        !CU_add_test(s, "packed-once SPLADE == per-call SPLADE, bit for bit", test_pool_packed_matches_per_call_bitwise) ||
        !CU_add_test(s, "tiny BERT: decoder packed in place, readers unchanged", test_fixture_bert) ||
        !CU_add_test(s, "tiny DistilBERT: decoder packed in place, readers unchanged", test_fixture_distilbert))
        return (int)CU_get_error();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
