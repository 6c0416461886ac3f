/* fuzz_segment.c — libFuzzer target for the segment reader (index/segment.c via spar_segment_open_mem).
 * Each input is tried twice: as given (exercises header and checksum checks) and with the header's size
 * and XXH3 recomputed (a fuzzer can forge checksums, so the structural checks behind them must hold on
 * their own). When a segment opens, every term is looked up and every list walked with next, next_geq,
 * shallow and freq; any status other than OK/CORRUPT/VERSION, or a broken invariant, traps.
 * Under gcc this file builds as a replay test over tests/fuzz/corpus/segment/. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "index/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                             \
    do {                                                                                                     \
        if (!(x)) __builtin_trap();                                                                          \
    } while (0)

static void walk(const spar_segment *s) {
    const uint64_t n = spar_segment_n_terms(s);
    const uint32_t n_docs = spar_segment_n_docs(s);
    for (uint64_t i = 0; i < n && i < 4096; i++) {
        char t[256];
        size_t l;
        spar_term_info ti, ti2;
        const spar_status st = spar_segment_term_at(s, i, t, sizeof t, &l, &ti);
        CHECK(st == SPAR_OK || (st == SPAR_E_INVALID_ARG && l > sizeof t));
        if (st != SPAR_OK) continue;
        CHECK(spar_segment_lookup(s, t, l, &ti2) == SPAR_OK && ti2.offset == ti.offset && ti2.df == ti.df);
        spar_cursor c;
        spar_segment_cursor(s, &ti, &c);
        uint32_t k = 0, prev = 0;
        while (c.docid != SPAR_DOCID_END) {
            CHECK(c.docid < n_docs && (k == 0 || c.docid > prev));
            CHECK(spar_cursor_freq(&c) >= 1);
            prev = c.docid;
            k++;
            spar_cursor_next(&c);
        }
        CHECK(k == ti.df);
        spar_segment_cursor(s, &ti, &c);
        for (uint32_t target = 0; c.docid != SPAR_DOCID_END; target += 1 + prev / 7) {
            spar_cursor_shallow(&c, target);
            CHECK(c.sblock_last >= target);
            CHECK(spar_cursor_block_max_tfpart(&c) >= 0.0f);
            spar_cursor_next_geq(&c, target);
            CHECK(c.docid >= target);
            if (target > prev) break;
        }
    }
}

static void try_open(const uint8_t *buf, size_t size) {
    spar_segment *s = NULL;
    spar_diag diag;
    spar_status st = spar_segment_open_mem(buf, size, &s, &diag);
    CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT || st == SPAR_E_VERSION || st == SPAR_E_NOMEM);
    if (st == SPAR_OK) {
        walk(s);
        spar_segment_close(s);
    } else {
        CHECK(s == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = calloc(1, size ? size : 1);
    if (buf == NULL) return 0;
    if (size) memcpy(buf, data, size);
    try_open(buf, size);
    if (size >= sizeof(spar_file_header)) {
        spar_file_header h;
        memcpy(&h, buf, sizeof h);
        h.payload_bytes = size - sizeof h;
        h.payload_xxh3 = XXH3_64bits(buf + sizeof h, size - sizeof h);
        memcpy(buf, &h, sizeof h);
        try_open(buf, size);
    }
    free(buf);
    return 0;
}
