/* fuzz_ciff.c — libFuzzer target for the CIFF reader (index/sparse/sparse_ciff.c): every input is parsed as a
 * CIFF file; a parse must either succeed or fail with SPAR_E_CORRUPT / SPAR_E_NOMEM and a message naming a
 * byte offset. A successful parse yields a well-formed CSR (ascending term ids < dim, every row keyed), which is
 * built into an index and searched once (exact, BMP): nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spar/spar_sparse.h"

static void check_and_search(const spar_sparse_ciff *c) {
    const spar_sparse_csr *m = &c->docs;
    for (uint32_t r = 0; r < m->n_rows; r++) {
        if (m->keys[r] == NULL || m->offsets[r] > m->offsets[r + 1]) abort();
        for (uint64_t i = m->offsets[r]; i < m->offsets[r + 1]; i++)
            if (m->ids[i] >= m->dim || (i > m->offsets[r] && m->ids[i] <= m->ids[i - 1]) || !(m->weights[i] >= 1))
                abort();
    }
    for (uint32_t t = 0; t < m->dim; t++)
        if (c->terms[t] == NULL) abort();
    if (m->n_rows == 0) return;
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.build_approx = 0;
    o.n_threads = 1;
    spar_sparse_index *ix = NULL;
    spar_diag d;
    if (spar_sparse_index_build(m, &o, &ix, &d) != SPAR_OK) abort();
    spar_sparse_searcher *s = NULL;
    if (spar_sparse_searcher_create(ix, &s) == SPAR_OK) {
        uint32_t ids[2] = {0, m->dim - 1};
        float w[2] = {1.0f, 2.0f};
        spar_sparse_vec q = {ids, w, m->dim >= 2 ? 2u : 1u};
        spar_hit h[4];
        size_t n;
        if (spar_sparse_search_exact(s, &q, 4, SPAR_SPARSE_BMP, h, &n) != SPAR_OK) abort();
        spar_sparse_searcher_free(s);
    }
    spar_sparse_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spar_sparse_ciff c;
    spar_diag d;
    spar_status st = spar_sparse_ciff_parse(data, size, "fuzz", &c, &d);
    if (st == SPAR_OK) {
        check_and_search(&c);
        spar_sparse_ciff_free(&c);
    } else if (st == SPAR_E_CORRUPT) {
        if (strstr(d.msg, "fuzz: byte ") != d.msg) abort(); /* every error names the byte offset */
    } else if (st != SPAR_E_NOMEM) {
        abort();
    }
    return 0;
}
