/* fuzz_sparse_load.c — libFuzzer target for the learned-sparse readers (index/sparse/): each input is tried
 * as a saved index image (as is, and with the header's length and xxh3 — and for format 2 the meta/section
 * table checksum — repaired so that the structural checks behind the checksums run), and as JSONL vector text
 * (numeric term ids, dim 64). A loaded index or parsed collection is searched once with every algorithm
 * (exhaustive, BMP, MaxScore, BMW, approximate): none of it may crash or leak. Seeds: corpus/sparse_load/
 * (v2-*.spar: format 2, written by the current spar; the other .spar: format 1). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "spar/spar_sparse.h"
#include "storage/file.h"

static void search_once(const spar_sparse_index *ix) {
    spar_sparse_searcher *s = NULL;
    if (spar_sparse_searcher_create(ix, &s) != SPAR_OK) return;
    spar_sparse_stats st;
    spar_sparse_index_stats(ix, &st);
    uint32_t ids[3] = {0, st.dim / 2, st.dim - 1};
    float w[3] = {1.0f, 0.5f, 2.0f};
    spar_sparse_vec q = {ids, w, st.dim >= 3 ? 3u : 1u};
    spar_hit h[5];
    size_t n;
    static const spar_sparse_exact_algo algos[] = {SPAR_SPARSE_EXHAUSTIVE, SPAR_SPARSE_BMP,
                                                   SPAR_SPARSE_MAXSCORE, SPAR_SPARSE_BMW};
    for (int a = 0; a < 4; a++)
        if (spar_sparse_search_exact(s, &q, 5, algos[a], h, &n) != SPAR_OK) abort();
    spar_status a = spar_sparse_search_approx(s, &q, 5, NULL, h, &n);
    if (a != SPAR_OK && a != SPAR_E_UNSUPPORTED) abort();
    spar_sparse_searcher_free(s);
}

static void try_load(const uint8_t *buf, size_t len) {
    spar_sparse_index *ix = NULL;
    spar_diag d;
    spar_status st = spar_sparse_index_load_mem(buf, len, "fuzz", &ix, &d);
    if (st != SPAR_OK && st != SPAR_E_CORRUPT && st != SPAR_E_VERSION && st != SPAR_E_NOMEM) abort();
    if (st != SPAR_OK) return;
    search_once(ix);
    spar_sparse_index_free(ix);
}

static void try_jsonl(const uint8_t *buf, size_t len) {
    spar_sparse_csr m;
    spar_diag d;
    spar_status st =
        spar_sparse_csr_parse_jsonl((const char *)buf, len, "fuzz", NULL, 64, (len & 1) != 0, &m, NULL, &d);
    if (st != SPAR_OK && st != SPAR_E_CORRUPT && st != SPAR_E_NOMEM) abort();
    if (st != SPAR_OK) return;
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.bmp_block = 8;
    spar_sparse_index *ix = NULL;
    if (m.n_rows > 0 && m.n_rows < 5000 && spar_sparse_index_build(&m, &o, &ix, NULL) == SPAR_OK) {
        search_once(ix);
        spar_sparse_index_free(ix);
    }
    spar_sparse_csr_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (16u << 20)) return 0;
    try_load(data, size);
    try_jsonl(data, size);
    if (size < sizeof(spar_file_header)) return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    spar_file_header h;
    memcpy(&h, copy, sizeof h);
    h.magic = SPAR_MAGIC;
    h.kind = SPAR_KIND_SEISMIC;
    if (h.version_major != 1) h.version_major = 2;
    h.payload_bytes = size - sizeof h;
    /* format 2: the meta block + section table checksum (u64 after n_sections 32-byte entries at byte 160) */
    uint32_t n_sec;
    if (h.version_major == 2 && size >= 72) {
        memcpy(&n_sec, copy + 68, 4);
        size_t end = 160 + (size_t)(n_sec > 4096 ? 4096 : n_sec) * 32;
        if (end + 8 <= size) {
            uint64_t th = XXH3_64bits(copy + 32, end - 32);
            memcpy(copy + end, &th, 8);
        }
    }
    h.payload_xxh3 = XXH3_64bits(copy + sizeof h, size - sizeof h);
    memcpy(copy, &h, sizeof h);
    try_load(copy, size);
    free(copy);
    return 0;
}
