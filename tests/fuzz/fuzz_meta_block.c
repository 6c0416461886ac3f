/* fuzz_meta_block.c — libFuzzer target for the meta.lmdb block decoders (storage/meta_block.c). The first
 * input byte picks the codec (even: id block, odd: perm block), the rest is the block. Decoding must
 * never crash or read out of bounds, only return SPAR_E_CORRUPT; and a block that decodes must be
 * self-consistent: the single-id reader agrees with the full decode, re-encoding the decoded values
 * (front coding and successor runs) decodes back to the same values, and each decoded id's successor,
 * when its number has at most 32 digits, sorts after it (spar_sortkey). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/meta_block.h"

typedef struct {
    uint8_t ids[SPAR_IDBLOCK_MAX_IDS][SPAR_IDBLOCK_ID_MAX];
    size_t lens[SPAR_IDBLOCK_MAX_IDS];
    uint32_t n;
} id_list;

static int collect(void *ctx, uint32_t i, const uint8_t *id, size_t len) {
    id_list *l = ctx;
    if (i != l->n || i >= SPAR_IDBLOCK_MAX_IDS || len == 0 || len > SPAR_IDBLOCK_ID_MAX) abort();
    memcpy(l->ids[i], id, len);
    l->lens[i] = len;
    l->n++;
    return 0;
}

static void id_block(const uint8_t *blk, size_t len) {
    static id_list a, b;
    static spar_idblock_enc e;
    static uint8_t out[SPAR_IDBLOCK_MAX_BYTES];
    uint8_t one[SPAR_IDBLOCK_ID_MAX];
    size_t ol = 0;
    for (uint32_t i = 0; i < 3; i++) { /* the lookup path reads one restart group only */
        spar_status st = spar_idblock_get(blk, len, i * 17, one, &ol);
        if (st != SPAR_OK && st != SPAR_E_CORRUPT && st != SPAR_E_NOT_FOUND) abort();
    }
    /* the sorted-range search (keys are sort keys): on any bytes it may miss, but a hit is a real id at the
     * index it says, whose sort key is the key */
    const uint8_t *key = len > 4 ? blk + len - 4 : blk;
    const size_t key_len = len > 4 ? 4 : len;
    uint32_t at = 0;
    uint8_t sk[SPAR_SORTKEY_MAX];
    spar_status fs = spar_idblock_find(blk, len, 0, (uint32_t)(len % 37), key, key_len, &at);
    if (fs == SPAR_OK && (spar_idblock_get(blk, len, at, one, &ol) != SPAR_OK ||
                          spar_sortkey(one, ol, sk) != key_len || memcmp(sk, key, key_len) != 0))
        abort();
    if (fs != SPAR_OK && fs != SPAR_E_CORRUPT && fs != SPAR_E_NOT_FOUND) abort();
    a.n = 0;
    spar_status st = spar_idblock_each(blk, len, collect, &a, NULL);
    if (st != SPAR_OK) {
        if (st != SPAR_E_CORRUPT) abort();
        return;
    }
    uint32_t n = 0;
    if (spar_idblock_count(blk, len, &n) != SPAR_OK || n != a.n) abort();
    for (uint32_t i = 0; i < a.n; i++) {
        uint8_t s1[SPAR_SORTKEY_MAX], s2[SPAR_SORTKEY_MAX], next[SPAR_IDBLOCK_ID_MAX];
        size_t l1 = spar_sortkey(a.ids[i], a.lens[i], s1), nl = a.lens[i], digits = 0;
        while (digits < nl && a.ids[i][nl - 1 - digits] >= '0' && a.ids[i][nl - 1 - digits] <= '9') digits++;
        if (l1 != nl && l1 != nl + 1) abort();
        memcpy(next, a.ids[i], nl);
        if (!spar_id_succ(next, &nl) || digits > 32) continue;
        size_t l2 = spar_sortkey(next, nl, s2);
        int c = memcmp(s1, s2, l1 < l2 ? l1 : l2);
        if (c > 0 || (c == 0 && l1 >= l2)) abort();
    }
    for (uint32_t i = 0; i < a.n; i++)
        if (spar_idblock_get(blk, len, i, one, &ol) != SPAR_OK || ol != a.lens[i] || memcmp(one, a.ids[i], ol) != 0)
            abort();
    /* re-encode (may split into several blocks when the input used non-minimal encodings) */
    uint32_t done = 0;
    while (done < a.n) {
        spar_idblock_enc_reset(&e);
        uint32_t start = done;
        while (done < a.n && spar_idblock_enc_fits(&e, a.ids[done], a.lens[done])) {
            spar_idblock_enc_add(&e, a.ids[done], a.lens[done]);
            done++;
        }
        if (done == start) abort(); /* an empty encoder accepts any valid id */
        size_t m = spar_idblock_enc_finish(&e, out);
        if (m > SPAR_IDBLOCK_MAX_BYTES) abort();
        b.n = 0;
        if (spar_idblock_each(out, m, collect, &b, NULL) != SPAR_OK || b.n != done - start) abort();
        for (uint32_t i = 0; i < b.n; i++)
            if (b.lens[i] != a.lens[start + i] || memcmp(b.ids[i], a.ids[start + i], b.lens[i]) != 0) abort();
    }
}

static void perm_block(const uint8_t *blk, size_t len) {
    uint32_t a[SPAR_PERMBLOCK_MAX_IDS], b[SPAR_PERMBLOCK_MAX_IDS], n = 0, m = 0;
    uint8_t out[SPAR_PERMBLOCK_MAX_BYTES], ta[SPAR_PERMBLOCK_MAX_IDS], tb[SPAR_PERMBLOCK_MAX_IDS];
    int ha = 0, hb = 0;
    spar_status st = spar_permblock_decode(blk, len, a, ta, &ha, &n);
    if (st != SPAR_OK) {
        if (st != SPAR_E_CORRUPT) abort();
        return;
    }
    if (n == 0 || n > SPAR_PERMBLOCK_MAX_IDS) abort();
    for (uint32_t i = 0; i < n; i++)
        if (a[i] == UINT32_MAX) abort();
    size_t k = spar_permblock_encode(a, ha ? ta : NULL, n, out);
    if (k > SPAR_PERMBLOCK_MAX_BYTES || spar_permblock_decode(out, k, b, tb, &hb, &m) != SPAR_OK || m != n ||
        hb != ha || memcmp(a, b, n * sizeof *a) != 0 || (ha && memcmp(ta, tb, n) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1u) perm_block(data + 1, size - 1);
    else id_block(data + 1, size - 1);
    return 0;
}
