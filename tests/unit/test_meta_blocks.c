/* test_meta_blocks.c — the block codecs of meta.lmdb (storage/meta_block.c): id blocks round-trip ids of
 * every shape (long shared prefixes, 511-byte ids, restarts), respect both size limits, and reject every
 * truncation and damaged header; perm blocks round-trip runs and random docids and reject bad input. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/meta_block.h"

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* ids[i] of lens[i] bytes; returns how many fitted in one block */
static uint32_t encode(spar_idblock_enc *e, uint8_t ids[][SPAR_IDBLOCK_ID_MAX], const size_t *lens, uint32_t n) {
    spar_idblock_enc_reset(e);
    uint32_t i = 0;
    while (i < n && spar_idblock_enc_fits(e, ids[i], lens[i])) {
        spar_idblock_enc_add(e, ids[i], lens[i]);
        i++;
    }
    return i;
}

typedef struct {
    uint8_t (*ids)[SPAR_IDBLOCK_ID_MAX];
    const size_t *lens;
    uint32_t seen, bad;
} check_ctx;

static int check_cb(void *ctx, uint32_t i, const uint8_t *id, size_t len) {
    check_ctx *c = ctx;
    if (i != c->seen || len != c->lens[i] || memcmp(id, c->ids[i], len) != 0) c->bad++;
    c->seen++;
    return 0;
}

static uint8_t g_ids[SPAR_IDBLOCK_MAX_IDS + 8][SPAR_IDBLOCK_ID_MAX];
static size_t g_lens[SPAR_IDBLOCK_MAX_IDS + 8];

static void roundtrip_block(uint32_t n) {
    spar_idblock_enc *e = malloc(sizeof *e);
    uint8_t *blk = malloc(SPAR_IDBLOCK_MAX_BYTES);
    CU_ASSERT_FATAL(e != NULL && blk != NULL);
    uint32_t k = encode(e, g_ids, g_lens, n);
    CU_ASSERT(k >= 1);
    size_t len = spar_idblock_enc_finish(e, blk);
    CU_ASSERT(len <= SPAR_IDBLOCK_MAX_BYTES);
    uint32_t cnt = 0;
    CU_ASSERT_EQUAL(spar_idblock_count(blk, len, &cnt), SPAR_OK);
    CU_ASSERT_EQUAL(cnt, k);
    for (uint32_t i = 0; i < k; i++) {
        uint8_t out[SPAR_IDBLOCK_ID_MAX];
        size_t ol = 0;
        CU_ASSERT_EQUAL(spar_idblock_get(blk, len, i, out, &ol), SPAR_OK);
        CU_ASSERT(ol == g_lens[i] && memcmp(out, g_ids[i], ol) == 0);
    }
    uint8_t out[SPAR_IDBLOCK_ID_MAX];
    size_t ol;
    CU_ASSERT_EQUAL(spar_idblock_get(blk, len, k, out, &ol), SPAR_E_NOT_FOUND);
    check_ctx c = {g_ids, g_lens, 0, 0};
    CU_ASSERT_EQUAL(spar_idblock_each(blk, len, check_cb, &c, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(c.seen, k);
    CU_ASSERT_EQUAL(c.bad, 0);
    /* every truncation is rejected by the full decode (never read past len: ASan checks) */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, blk, cut);
        CU_ASSERT_NOT_EQUAL(spar_idblock_each(t, cut, NULL, NULL, NULL), SPAR_OK);
        for (uint32_t i = 0; i < k; i += 7) (void)spar_idblock_get(t, cut, i, out, &ol);
        free(t);
    }
    free(e);
    free(blk);
}

static void test_sequential_ids(void) {
    for (uint32_t i = 0; i < SPAR_IDBLOCK_MAX_IDS + 8; i++)
        g_lens[i] = (size_t)snprintf((char *)g_ids[i], SPAR_IDBLOCK_ID_MAX, "d%07u", 1000 + i);
    spar_idblock_enc e;
    CU_ASSERT_EQUAL(encode(&e, g_ids, g_lens, SPAR_IDBLOCK_MAX_IDS + 8), SPAR_IDBLOCK_MAX_IDS); /* count limit */
    uint8_t blk[SPAR_IDBLOCK_MAX_BYTES];
    size_t len = spar_idblock_enc_finish(&e, blk);
    CU_ASSERT(len < 3 * SPAR_IDBLOCK_MAX_IDS); /* front coding: ~2.5 bytes per 8-byte id */
    roundtrip_block(SPAR_IDBLOCK_MAX_IDS + 8);
}

static void test_long_shared_prefixes(void) {
    /* URL-like ids: shared prefixes and suffixes above the 15 of a nibble, and one 511-byte id */
    for (uint32_t i = 0; i < 40; i++) {
        int n = snprintf((char *)g_ids[i], SPAR_IDBLOCK_ID_MAX, "https://example.org/some/long/path/%u/%s", i / 3,
                         i % 3 ? "index.html?query=abcdefghijklmnopqrstuvwxyz" : "x");
        g_lens[i] = (size_t)n;
    }
    memset(g_ids[20], 'q', SPAR_IDBLOCK_ID_MAX);
    g_lens[20] = SPAR_IDBLOCK_ID_MAX;
    memcpy(g_ids[21], g_ids[20], SPAR_IDBLOCK_ID_MAX);
    g_ids[21][SPAR_IDBLOCK_ID_MAX - 1] = 'r'; /* shares 510 bytes */
    g_lens[21] = SPAR_IDBLOCK_ID_MAX;
    g_lens[22] = 1; /* a 1-byte id right after */
    roundtrip_block(40);
}

static void test_byte_limit(void) {
    /* random 300-byte ids: the block is cut by bytes, well before 128 ids */
    for (uint32_t i = 0; i < 20; i++) {
        g_lens[i] = 300;
        for (size_t j = 0; j < 300; j++) g_ids[i][j] = (uint8_t)rnd();
    }
    spar_idblock_enc e;
    uint32_t k = encode(&e, g_ids, g_lens, 20);
    CU_ASSERT(k >= 5 && k <= 7);
    uint8_t blk[SPAR_IDBLOCK_MAX_BYTES];
    CU_ASSERT(spar_idblock_enc_finish(&e, blk) <= SPAR_IDBLOCK_MAX_BYTES);
    roundtrip_block(20);
}

static void test_random_ids_fuzzish(void) {
    /* random lengths and random shared prefixes, many blocks; random byte damage never crashes */
    for (int round = 0; round < 200; round++) {
        uint32_t n = 1 + (uint32_t)(rnd() % (SPAR_IDBLOCK_MAX_IDS + 8));
        for (uint32_t i = 0; i < n; i++) {
            size_t len = 1 + (size_t)(rnd() % (rnd() % 4 ? 40 : SPAR_IDBLOCK_ID_MAX));
            size_t share = i > 0 ? (size_t)(rnd() % (g_lens[i - 1] + 1)) : 0;
            if (share > len) share = len;
            if (share) memcpy(g_ids[i], g_ids[i - 1], share);
            for (size_t j = share; j < len; j++) g_ids[i][j] = (uint8_t)(rnd() % 4 + 'a');
            g_lens[i] = len;
        }
        roundtrip_block(n);
        spar_idblock_enc e;
        uint32_t k = encode(&e, g_ids, g_lens, n);
        uint8_t blk[SPAR_IDBLOCK_MAX_BYTES];
        size_t len = spar_idblock_enc_finish(&e, blk);
        for (int f = 0; f < 20; f++) {
            blk[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            spar_status st = spar_idblock_each(blk, len, NULL, NULL, NULL);
            CU_ASSERT(st == SPAR_OK || st == SPAR_E_CORRUPT);
            uint8_t out[SPAR_IDBLOCK_ID_MAX];
            size_t ol;
            st = spar_idblock_get(blk, len, (uint32_t)(rnd() % (k + 2)), out, &ol);
            CU_ASSERT(st == SPAR_OK || st == SPAR_E_CORRUPT || st == SPAR_E_NOT_FOUND);
            if (st == SPAR_OK) CU_ASSERT(ol >= 1 && ol <= SPAR_IDBLOCK_ID_MAX);
        }
    }
}

static int cmp_id(const void *a, const void *b) {
    const uint8_t *x = a, *y = b;
    size_t xl = g_lens[(x - g_ids[0]) / SPAR_IDBLOCK_ID_MAX], yl = g_lens[(y - g_ids[0]) / SPAR_IDBLOCK_ID_MAX];
    int c = memcmp(x, y, xl < yl ? xl : yl);
    return c != 0 ? c : (xl > yl) - (xl < yl);
}

static void test_find_sorted(void) {
    /* distinct sorted ids (letters a-c, 1..12 bytes); every id found at its index in any range holding
     * it; keys between ids (id + "\0"), below and above the range not found, with the insertion point */
    for (int round = 0; round < 300; round++) {
        uint32_t n = 1 + (uint32_t)(rnd() % SPAR_IDBLOCK_MAX_IDS), m = 0;
        for (uint32_t i = 0; i < n; i++) {
            g_lens[m] = 1 + (size_t)(rnd() % 12);
            for (size_t j = 0; j < g_lens[m]; j++) g_ids[m][j] = (uint8_t)('a' + rnd() % 3);
            int dup = 0;
            for (uint32_t k = 0; k < m && !dup; k++)
                dup = g_lens[k] == g_lens[m] && memcmp(g_ids[k], g_ids[m], g_lens[m]) == 0;
            if (!dup) m++;
        }
        /* sort by (bytes, length) through an index array */
        uint32_t order[SPAR_IDBLOCK_MAX_IDS];
        for (uint32_t i = 0; i < m; i++) order[i] = i;
        for (uint32_t i = 1; i < m; i++)
            for (uint32_t j = i; j > 0 && cmp_id(g_ids[order[j - 1]], g_ids[order[j]]) > 0; j--) {
                uint32_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        static uint8_t ids[SPAR_IDBLOCK_MAX_IDS][SPAR_IDBLOCK_ID_MAX];
        size_t lens[SPAR_IDBLOCK_MAX_IDS];
        for (uint32_t i = 0; i < m; i++) {
            memcpy(ids[i], g_ids[order[i]], g_lens[order[i]]);
            lens[i] = g_lens[order[i]];
        }
        spar_idblock_enc e;
        uint8_t blk[SPAR_IDBLOCK_MAX_BYTES];
        spar_idblock_enc_reset(&e);
        for (uint32_t i = 0; i < m; i++) spar_idblock_enc_add(&e, ids[i], lens[i]);
        size_t len = spar_idblock_enc_finish(&e, blk);
        for (uint32_t i = 0; i < m; i++) {
            uint32_t lo = (uint32_t)(rnd() % (i + 1)), hi = i + (uint32_t)(rnd() % (m - i)), at = 99999;
            CU_ASSERT_EQUAL(spar_idblock_find(blk, len, lo, hi, ids[i], lens[i], &at), SPAR_OK);
            CU_ASSERT_EQUAL(at, i);
            uint8_t key[SPAR_IDBLOCK_ID_MAX + 1];
            memcpy(key, ids[i], lens[i]);
            key[lens[i]] = 0; /* just above ids[i], below ids[i + 1] */
            CU_ASSERT_EQUAL(spar_idblock_find(blk, len, lo, hi, key, lens[i] + 1, &at), SPAR_E_NOT_FOUND);
            CU_ASSERT_EQUAL(at, i + 1);
            if (i + 1 <= hi) { /* the same key searched in a range starting after ids[i] */
                CU_ASSERT_EQUAL(spar_idblock_find(blk, len, i + 1, hi, key, lens[i] + 1, &at), SPAR_E_NOT_FOUND);
                CU_ASSERT_EQUAL(at, i + 1);
            }
            CU_ASSERT_EQUAL(spar_idblock_find(blk, len, lo, hi, (const uint8_t *)"", 0, &at), SPAR_E_NOT_FOUND);
            CU_ASSERT_EQUAL(at, lo);
            CU_ASSERT_EQUAL(spar_idblock_find(blk, len, lo, hi, (const uint8_t *)"d", 1, &at), SPAR_E_NOT_FOUND);
            CU_ASSERT_EQUAL(at, hi + 1);
        }
        uint32_t at;
        CU_ASSERT_EQUAL(spar_idblock_find(blk, len, 0, m, ids[0], lens[0], &at), SPAR_E_CORRUPT); /* hi >= n */
    }
}

static void test_bad_headers(void) {
    uint32_t n;
    uint8_t out[SPAR_IDBLOCK_ID_MAX];
    size_t ol;
    const uint8_t zero[] = {0x00, 0x01, 'a'};
    CU_ASSERT_EQUAL(spar_idblock_count(zero, sizeof zero, &n), SPAR_E_CORRUPT); /* 0 ids */
    const uint8_t many[] = {0x81, 0x01, 0x01, 'a'};                             /* 129 ids */
    CU_ASSERT_EQUAL(spar_idblock_each(many, sizeof many, NULL, NULL, NULL), SPAR_E_CORRUPT);
    const uint8_t shared_at_restart[] = {0x01, 0x11, 'a'};
    CU_ASSERT_EQUAL(spar_idblock_get(shared_at_restart, sizeof shared_at_restart, 0, out, &ol), SPAR_E_CORRUPT);
    const uint8_t empty_id[] = {0x01, 0x00};
    CU_ASSERT_EQUAL(spar_idblock_get(empty_id, sizeof empty_id, 0, out, &ol), SPAR_E_CORRUPT);
    const uint8_t stray[] = {0x01, 0x01, 'a', 'b'};
    CU_ASSERT_EQUAL(spar_idblock_get(stray, sizeof stray, 0, out, &ol), SPAR_OK); /* one-id read is fine */
    CU_ASSERT_EQUAL(spar_idblock_each(stray, sizeof stray, NULL, NULL, NULL), SPAR_E_CORRUPT);
    const uint8_t too_long[] = {0x01, 0x0F, 0xF1, 0x03, 'a'}; /* suffix 15 + 497 > 511 */
    CU_ASSERT_EQUAL(spar_idblock_get(too_long, sizeof too_long, 0, out, &ol), SPAR_E_CORRUPT);
    /* 17 ids: one group length, larger than the block */
    const uint8_t bad_group[] = {0x11, 0x7F, 0x01, 'a'};
    CU_ASSERT_EQUAL(spar_idblock_get(bad_group, sizeof bad_group, 16, out, &ol), SPAR_E_CORRUPT);
}

static void perm_roundtrip(const uint32_t *d, uint32_t n) {
    uint8_t tags[SPAR_PERMBLOCK_MAX_IDS], got[SPAR_PERMBLOCK_MAX_IDS];
    for (uint32_t i = 0; i < n; i++) tags[i] = (uint8_t)rnd();
    for (int tagged = 0; tagged < 2; tagged++) {
        uint8_t buf[SPAR_PERMBLOCK_MAX_BYTES];
        size_t len = spar_permblock_encode(d, tagged ? tags : NULL, n, buf);
        CU_ASSERT(len <= SPAR_PERMBLOCK_MAX_BYTES);
        uint32_t out[SPAR_PERMBLOCK_MAX_IDS], m = 0;
        int has = -1;
        CU_ASSERT_EQUAL_FATAL(spar_permblock_decode(buf, len, out, got, &has, &m), SPAR_OK);
        CU_ASSERT_EQUAL(m, n);
        CU_ASSERT_EQUAL(has, tagged);
        CU_ASSERT(memcmp(out, d, n * sizeof *d) == 0);
        if (tagged) CU_ASSERT(memcmp(got, tags, n) == 0);
        for (size_t cut = 0; cut < len; cut++)
            CU_ASSERT_NOT_EQUAL(spar_permblock_decode(buf, cut, out, got, &has, &m), SPAR_OK);
    }
}

static void test_perm_blocks(void) {
    uint32_t d[SPAR_PERMBLOCK_MAX_IDS];
    for (uint32_t i = 0; i < 64; i++) d[i] = 1000000 + i; /* one run */
    perm_roundtrip(d, 64);
    uint8_t buf[SPAR_PERMBLOCK_MAX_BYTES];
    CU_ASSERT(spar_permblock_encode(d, NULL, 64, buf) <= 7); /* h, start, run length */
    for (uint32_t i = 0; i < 64; i++) d[i] = (uint32_t)(rnd() % 4000000000u); /* random, descending deltas too */
    perm_roundtrip(d, 64);
    uint8_t tg64[64];
    memset(tg64, 7, sizeof tg64);
    CU_ASSERT(spar_permblock_encode(d, tg64, 64, buf) <= 2 + 1 + 256 + 64); /* tagged random: bit-packed */
    for (uint32_t i = 0; i < 64; i++) d[i] = (uint32_t)(rnd() % 200000); /* 18 bits */
    CU_ASSERT(spar_permblock_encode(d, tg64, 64, buf) == 2 + 1 + 144 + 64);
    perm_roundtrip(d, 64);
    for (uint32_t i = 0; i < 64; i++) d[i] = 100000 + (i / 16) * 1000 + i % 16; /* 4 runs: run coding wins */
    CU_ASSERT(spar_permblock_encode(d, tg64, 64, buf) < 2 + 20 + 64);
    perm_roundtrip(d, 64);
    d[0] = 0;
    d[1] = UINT32_MAX - 1;
    d[2] = 5;
    d[3] = 6;
    d[4] = 7;
    perm_roundtrip(d, 5);
    perm_roundtrip(d, 1);
    for (int r = 0; r < 500; r++) { /* mixtures of runs and jumps */
        uint32_t n = 1 + (uint32_t)(rnd() % 64), v = (uint32_t)(rnd() % 1000);
        for (uint32_t i = 0; i < n; i++) d[i] = rnd() % 3 ? v++ : (v = (uint32_t)(rnd() % 100000));
        perm_roundtrip(d, n);
    }
    uint32_t out[SPAR_PERMBLOCK_MAX_IDS], m;
    uint8_t tg[SPAR_PERMBLOCK_MAX_IDS];
    int has;
    const uint8_t run_too_long[] = {0x08, 0x01, 0x05}; /* 2 ids (form 0), run of 5 more */
    CU_ASSERT_EQUAL(spar_permblock_decode(run_too_long, sizeof run_too_long, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t negative[] = {0x04, 0x02}; /* zigzag -1 from 0 */
    CU_ASSERT_EQUAL(spar_permblock_decode(negative, sizeof negative, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t trailing[] = {0x04, 0x00, 0x00};
    CU_ASSERT_EQUAL(spar_permblock_decode(trailing, sizeof trailing, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t zero[] = {0x00};
    CU_ASSERT_EQUAL(spar_permblock_decode(zero, sizeof zero, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t form3[] = {0x07, 0x00};
    CU_ASSERT_EQUAL(spar_permblock_decode(form3, sizeof form3, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t tags_missing[] = {0x09, 0x00, 0x00, 0xAA}; /* 2 ids, form 1, one tag byte */
    CU_ASSERT_EQUAL(spar_permblock_decode(tags_missing, sizeof tags_missing, out, tg, &has, &m), SPAR_E_CORRUPT);
    /* form 2: width 3, docids 5 and 2 packed as 101 | 010 << 3 */
    const uint8_t packed[] = {0x0A, 0x03, 0x15, 0xAA, 0xBB};
    CU_ASSERT_EQUAL(spar_permblock_decode(packed, sizeof packed, out, tg, &has, &m), SPAR_OK);
    CU_ASSERT(has == 1 && m == 2 && out[0] == 5 && out[1] == 2 && tg[0] == 0xAA && tg[1] == 0xBB);
    const uint8_t width0[] = {0x0A, 0x00, 0xAA, 0xBB};
    const uint8_t width33[] = {0x0A, 0x21, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xAA, 0xBB};
    CU_ASSERT_EQUAL(spar_permblock_decode(width0, sizeof width0, out, tg, &has, &m), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_permblock_decode(width33, sizeof width33, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t all_ones[] = {0x06, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}; /* 1 id, width 32: UINT32_MAX */
    CU_ASSERT_EQUAL(spar_permblock_decode(all_ones, sizeof all_ones, out, tg, &has, &m), SPAR_E_CORRUPT);
    const uint8_t tags_ok[] = {0x09, 0x00, 0x00, 0xAA, 0xBB};
    CU_ASSERT_EQUAL(spar_permblock_decode(tags_ok, sizeof tags_ok, out, tg, &has, &m), SPAR_OK);
    CU_ASSERT(has == 1 && m == 2 && out[0] == 0 && out[1] == 1 && tg[0] == 0xAA && tg[1] == 0xBB);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("storage/meta_block", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "sequential ids: count limit, ~2.5 bytes/id, round trip", test_sequential_ids) ||
        !CU_add_test(s, "long shared prefixes/suffixes and 511-byte ids round trip", test_long_shared_prefixes) ||
        !CU_add_test(s, "300-byte ids: block cut by its byte limit", test_byte_limit) ||
        !CU_add_test(s, "random ids round trip; damaged blocks give CORRUPT, never a crash", test_random_ids_fuzzish) ||
        !CU_add_test(s, "find in sorted ranges: every id, keys between, below and above", test_find_sorted) ||
        !CU_add_test(s, "malformed id block headers and entries are rejected", test_bad_headers) ||
        !CU_add_test(s, "perm blocks: runs, random, bit-packed, tags; malformed rejected", test_perm_blocks))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
