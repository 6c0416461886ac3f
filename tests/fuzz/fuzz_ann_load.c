/* fuzz_ann_load.c — libFuzzer target for the ANN file reader (ann/io.c). Each input is tried twice: as a
 * whole file image, and with its header's length and xxh3 repaired so that the structural checks behind
 * the checksum are exercised too. A loaded index is searched once, which must not crash either. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "spar/spar_ann.h"
#include "storage/file.h"

static void try_load(const uint8_t *buf, size_t len) {
    spar_ann *ix = NULL;
    spar_diag d;
    spar_status st = spar_ann_load_mem(buf, len, &ix, &d);
    if (st != SPAR_OK && st != SPAR_E_CORRUPT && st != SPAR_E_VERSION && st != SPAR_E_NOMEM) abort();
    if (st != SPAR_OK) return;
    spar_ann_scratch *s = NULL;
    if (spar_ann_size(ix) > 0 && spar_ann_scratch_create(ix, &s) == SPAR_OK) {
        uint32_t dim = spar_ann_dim(ix);
        size_t qbytes = spar_ann_is_binary(ix) ? dim / 8 : (size_t)dim * 4;
        uint8_t *q = calloc(1, qbytes ? qbytes : 1);
        spar_ann_hit hits[4];
        size_t nh;
        if (q != NULL && spar_ann_search(ix, s, q, 4, &(spar_ann_params){8, 4, 8}, hits, &nh) != SPAR_OK) nh = 0;
        free(q);
    }
    spar_ann_scratch_free(s);
    spar_ann_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size < sizeof(spar_file_header) || size > (64u << 20)) return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    spar_file_header h;
    memcpy(&h, copy, sizeof h);
    h.magic = SPAR_MAGIC;
    if (h.version_major == 0 || h.version_major > 1) h.version_major = 1;
    h.payload_bytes = size - sizeof h;
    h.payload_xxh3 = XXH3_64bits(copy + sizeof h, size - sizeof h);
    memcpy(copy, &h, sizeof h);
    try_load(copy, size);
    free(copy);
    return 0;
}
