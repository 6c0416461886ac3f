/* fuzz_sparse_load.c — libFuzzer target for the learned-sparse readers (index/sparse/): each input is tried
 * as a saved index image (as is, and with the header's length and xxh3 repaired so that the structural
 * checks behind the checksum run), and as JSONL vector text (numeric term ids, dim 64). A loaded index or
 * parsed collection is searched once (exact, BMP, approximate): none of it may crash or leak. */
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
    if (spar_sparse_search_exact(s, &q, 5, SPAR_SPARSE_BMP, h, &n) != SPAR_OK) abort();
    if (spar_sparse_search_exact(s, &q, 5, SPAR_SPARSE_EXHAUSTIVE, h, &n) != SPAR_OK) abort();
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
    spar_status st = spar_sparse_csr_parse_jsonl((const char *)buf, len, "fuzz", NULL, 64, (len & 1) != 0, &m, NULL, &d);
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
    h.version_major = 1;
    h.payload_bytes = size - sizeof h;
    h.payload_xxh3 = XXH3_64bits(copy + sizeof h, size - sizeof h);
    memcpy(copy, &h, sizeof h);
    try_load(copy, size);
    free(copy);
    return 0;
}
