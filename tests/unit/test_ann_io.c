/* test_ann_io.c — ANN files: save/load round trips give identical search results for every index kind;
 * truncation, a flipped byte and a wrong kind are all rejected with SPAR_E_CORRUPT and a message. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spar/spar_ann.h"

#include "common/test_util.h"

static char dir[256];

static float *randvecs(uint32_t n, uint32_t dim, uint64_t seed) {
    float *x = malloc(sizeof(float) * n * dim);
    for (uint32_t i = 0; i < n * dim; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((seed >> 40) & 0xffff) / 65536.0f - 0.5f;
    }
    return x;
}

static void same_results(const spar_ann *a, const spar_ann *b, const void *queries, size_t qbytes, uint32_t nq) {
    spar_ann_hit ha[10], hb[10];
    size_t na, nb;
    spar_ann_scratch *sa = NULL, *sb = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_scratch_create(a, &sa), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_ann_scratch_create(b, &sb), SPAR_OK);
    for (uint32_t i = 0; i < nq; i++) {
        const void *q = (const uint8_t *)queries + i * qbytes;
        CU_ASSERT_EQUAL(spar_ann_search(a, sa, q, 10, &(spar_ann_params){40, 4, 20}, ha, &na), SPAR_OK);
        CU_ASSERT_EQUAL(spar_ann_search(b, sb, q, 10, &(spar_ann_params){40, 4, 20}, hb, &nb), SPAR_OK);
        CU_ASSERT_EQUAL(na, nb);
        CU_ASSERT(memcmp(ha, hb, na * sizeof ha[0]) == 0);
    }
    spar_ann_scratch_free(sa);
    spar_ann_scratch_free(sb);
}

static void roundtrip(spar_ann *ix, const void *queries, size_t qbytes, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_ann_save(ix, path, &d), SPAR_OK);
    spar_ann *back = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_load(path, &back, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_ann_get_kind(back), spar_ann_get_kind(ix));
    CU_ASSERT_EQUAL(spar_ann_size(back), spar_ann_size(ix));
    same_results(ix, back, queries, qbytes, 20);
    spar_ann_free(back);
    /* every 97th byte flipped: rejected (header checks or checksum), never a crash */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    uint8_t *buf = malloc((size_t)sz);
    CU_ASSERT_EQUAL_FATAL(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    CU_ASSERT_EQUAL(spar_ann_load_mem(buf, (size_t)sz, &back, &d), SPAR_OK);
    spar_ann_free(back);
    for (long i = 0; i < sz; i += 97) {
        buf[i] ^= 0x40;
        spar_status st = spar_ann_load_mem(buf, (size_t)sz, &back, &d);
        CU_ASSERT(st == SPAR_E_CORRUPT || st == SPAR_E_VERSION);
        CU_ASSERT(d.msg[0] != '\0');
        buf[i] ^= 0x40;
    }
    CU_ASSERT_EQUAL(spar_ann_load_mem(buf, (size_t)sz - 1, &back, &d), SPAR_E_CORRUPT);
    free(buf);
    unlink(path);
}

static void test_roundtrip_all_kinds(void) {
    const uint32_t n = 1500, dim = 24;
    float *x = randvecs(n, dim, 1), *q = randvecs(20, dim, 2);
    spar_ann *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_ann_flat_build(x, n, dim, SPAR_METRIC_COSINE, &ix), SPAR_OK);
    roundtrip(ix, q, dim * 4, "flat.ann");
    spar_ann_free(ix);
    spar_hnsw_opts o;
    spar_hnsw_opts_default(&o);
    o.M = 8;
    o.ef_construction = 64;
    CU_ASSERT_EQUAL_FATAL(spar_ann_hnsw_build(x, n, dim, SPAR_METRIC_L2, &o, &ix), SPAR_OK);
    CU_ASSERT_EQUAL(spar_ann_mark_deleted(ix, 3), SPAR_OK);
    roundtrip(ix, q, dim * 4, "hnsw.ann");
    spar_ann_free(ix);
    o.storage = SPAR_HNSW_SQ8;
    CU_ASSERT_EQUAL_FATAL(spar_ann_hnsw_build(x, n, dim, SPAR_METRIC_COSINE, &o, &ix), SPAR_OK);
    roundtrip(ix, q, dim * 4, "hnsw-sq8.ann");
    spar_ann_free(ix);
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_hnsw_build((const uint8_t *)x, n / 4, 192, &o, &ix), SPAR_OK);
    roundtrip(ix, q, 24, "hnsw-bin.ann");
    spar_ann_free(ix);
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_flat_build((const uint8_t *)x, n / 4, 192, &ix), SPAR_OK);
    roundtrip(ix, q, 24, "bin.ann");
    spar_ann_free(ix);
    spar_ivf_opts io;
    spar_ivf_opts_default(&io);
    io.nlist = 16;
    spar_ivf_storage kinds[3] = {SPAR_IVF_FLAT, SPAR_IVF_SQ8, SPAR_IVF_PQ};
    const char *names[3] = {"ivf-flat.ann", "ivf-sq8.ann", "ivf-pq.ann"};
    for (int i = 0; i < 3; i++) {
        io.storage = kinds[i];
        io.pq_m = 6;
        CU_ASSERT_EQUAL_FATAL(spar_ann_ivf_build(x, n, dim, SPAR_METRIC_L2, &io, &ix), SPAR_OK);
        roundtrip(ix, q, dim * 4, names[i]);
        spar_ann_free(ix);
    }
    CU_ASSERT_EQUAL_FATAL(spar_ann_binary_ivf_build((const uint8_t *)x, n / 4, 192, &io, &ix), SPAR_OK);
    roundtrip(ix, q, 24, "bin-ivf.ann");
    spar_ann_free(ix);
    free(x);
    free(q);
}

static void test_load_missing_file(void) {
    spar_ann *ix = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_ann_load("/nonexistent/x.ann", &ix, &d), SPAR_E_NOT_FOUND);
    CU_ASSERT(strstr(d.msg, "/nonexistent/x.ann") != NULL);
}

int main(void) {
    if (spar_test_mkdtemp(dir, sizeof dir, "ann") != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("ann/io", NULL, NULL);
    int ok = s != NULL && CU_add_test(s, "save/load round trip, corruption rejected", test_roundtrip_all_kinds) &&
             CU_add_test(s, "missing file names the path", test_load_missing_file);
    return spar_test_run(ok, dir);
}
