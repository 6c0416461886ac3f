/* test_postings.c — unit tests for common/bitpack.c and index/postings.c: kernel equivalence (fast ==
 * scalar == bit-by-bit reference), list round trips at block-boundary sizes with dense and sparse gaps,
 * next_geq / shallow against a naive reference, block-max data against brute force, and rejection of
 * corrupted lists by spar_postings_check. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bitpack.h"
#include "index/postings.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static uint32_t rnd_bits(unsigned bw) { return bw == 0 ? 0 : (uint32_t)(rnd() >> (64 - bw)); }

/* ---- bitpack ---- */

static void test_bitpack_kernels_match_reference(void) {
    uint32_t in[128], a[128], b[128], c[128], d[128], e[128];
    uint8_t packed[16 * 32];
    for (unsigned bw = 0; bw <= 32; bw++) {
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < 128; i++) in[i] = rnd_bits(bw);
            if (bw > 0) in[rep % 128] = bw == 32 ? UINT32_MAX : (1u << bw) - 1; /* max value present */
            spar_bitpack_pack128(in, bw, packed);
            spar_bitpack_unpack128(packed, bw, a);
            spar_bitpack_unpack128_scalar(packed, bw, b);
            spar_bitpack_unpack128_ref(packed, bw, c);
            spar_bitpack_unpack128_sse2(packed, bw, d);
            spar_bitpack_unpack128_avx2(packed, bw, e); /* scalar fallback without AVX2: still must match */
            CU_ASSERT_EQUAL_FATAL(memcmp(in, d, sizeof in), 0);
            CU_ASSERT_EQUAL_FATAL(memcmp(in, e, sizeof in), 0);
            CU_ASSERT_EQUAL_FATAL(memcmp(in, a, sizeof in), 0);
            CU_ASSERT_EQUAL_FATAL(memcmp(in, b, sizeof in), 0);
            CU_ASSERT_EQUAL_FATAL(memcmp(in, c, sizeof in), 0);
        }
    }
}

static void test_bitpack_unaligned_input(void) {
    uint32_t in[128], out[128];
    uint8_t buf[16 * 32 + 3];
    for (unsigned bw = 1; bw <= 32; bw++) {
        for (int i = 0; i < 128; i++) in[i] = rnd_bits(bw);
        spar_bitpack_pack128(in, bw, buf + 3);
        spar_bitpack_unpack128(buf + 3, bw, out);
        CU_ASSERT_EQUAL_FATAL(memcmp(in, out, sizeof in), 0);
        spar_bitpack_unpack128_avx2(buf + 3, bw, out);
        CU_ASSERT_EQUAL_FATAL(memcmp(in, out, sizeof in), 0);
        spar_bitpack_unpack128_sse2(buf + 3, bw, out);
        CU_ASSERT_EQUAL_FATAL(memcmp(in, out, sizeof in), 0);
    }
}

static void test_bitpack_horizontal_roundtrip(void) {
    uint32_t in[127], out[127];
    uint8_t buf[4 * 127 + 4];
    const uint32_t sizes[] = {1, 2, 5, 31, 33, 100, 127};
    for (unsigned si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (unsigned bw = 0; bw <= 32; bw++) {
            uint32_t n = sizes[si];
            for (uint32_t i = 0; i < n; i++) in[i] = rnd_bits(bw);
            size_t len = spar_bitpack_pack(in, n, bw, buf);
            CU_ASSERT_EQUAL_FATAL(len, spar_bitpack_bytes(n, bw));
            spar_bitpack_unpack(buf, n, bw, out);
            CU_ASSERT_EQUAL_FATAL(memcmp(in, out, n * sizeof *in), 0);
            CU_ASSERT_TRUE_FATAL(spar_bitpack_width(in, n) <= bw);
        }
    }
}

static void test_delta_decode_vector_matches_scalar(void) {
    uint32_t a[128], b[128];
    for (int rep = 0; rep < 50; rep++) {
        for (int i = 0; i < 128; i++) a[i] = b[i] = rnd_bits(rep % 20);
        uint32_t base = (uint32_t)rnd_bits(16);
        spar_delta1_decode128(a, base);
        spar_delta1_decode(b, 128, base);
        CU_ASSERT_EQUAL_FATAL(memcmp(a, b, sizeof a), 0);
        CU_ASSERT_TRUE(a[0] >= base);
    }
}

/* ---- lists ---- */

typedef struct list {
    uint32_t *docs, *tfs, n;
} list;

/* max_gap: largest (d-gap - 1). */
static list make_list(uint32_t n, uint64_t max_gap, uint32_t max_tf) {
    list l = {malloc((n ? n : 1) * sizeof(uint32_t)), malloc((n ? n : 1) * sizeof(uint32_t)), n};
    uint64_t d = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t g = max_gap ? rnd() % (max_gap + 1) : 0;
        d = (i == 0 ? 0 : d + 1) + g;
        l.docs[i] = (uint32_t)d;
        l.tfs[i] = 1 + (uint32_t)(rnd() % max_tf);
    }
    return l;
}
static void free_list(list *l) {
    free(l->docs);
    free(l->tfs);
}

static void encode_ok(const list *l, const uint32_t *doclens, spar_buf *buf, spar_term_info *ti) {
    buf->len = 0;
    CU_ASSERT_EQUAL_FATAL(spar_postings_encode(l->docs, l->tfs, l->n, doclens, 1.2f, 0.75f, 10.0f, buf, ti), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(ti->bytes, buf->len);
}

static void roundtrip(uint32_t n, uint64_t max_gap, uint32_t max_tf) {
    list l = make_list(n, max_gap, max_tf);
    spar_buf buf = {0};
    spar_term_info ti;
    encode_ok(&l, NULL, &buf, &ti);
    CU_ASSERT_EQUAL(ti.df, n);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, UINT32_MAX), SPAR_OK);
    spar_cursor c;
    spar_cursor_open(&c, buf.data, &ti);
    uint32_t i = 0;
    int ok = 1;
    for (; c.docid != SPAR_DOCID_END && i < n; spar_cursor_next(&c), i++) {
        /* read freqs for every other block only: decoding must not depend on it */
        if (c.docid != l.docs[i] || (((i / 128) % 2 == 0) && spar_cursor_freq(&c) != l.tfs[i])) ok = 0;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(i, n);
    CU_ASSERT_EQUAL(c.docid, SPAR_DOCID_END);
    spar_cursor_next(&c); /* stays exhausted */
    CU_ASSERT_EQUAL(c.docid, SPAR_DOCID_END);
    spar_buf_free(&buf);
    free_list(&l);
}

static void test_roundtrip_sizes_dense(void) {
    const uint32_t sizes[] = {1, 2, 127, 128, 129, 255, 256, 257, 1000, 100000};
    for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        roundtrip(sizes[i], 0, 1);   /* consecutive docids, tf 1: zero-width blocks */
        roundtrip(sizes[i], 3, 5);
        roundtrip(sizes[i], 200, 1000);
    }
}

static void test_roundtrip_sizes_sparse(void) {
    const uint32_t sizes[] = {1, 127, 128, 129, 100000};
    for (unsigned i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint64_t max_gap = (UINT32_MAX - 1ull) / sizes[i] - 1; /* keeps the last docid < 2^32-1 */
        roundtrip(sizes[i], max_gap, UINT32_MAX);
    }
}

static void test_roundtrip_extreme_docids(void) {
    uint32_t docs[3] = {0, 1, UINT32_MAX - 1}, tfs[3] = {UINT32_MAX, 1, 7};
    list l = {docs, tfs, 3};
    spar_buf buf = {0};
    spar_term_info ti;
    encode_ok(&l, NULL, &buf, &ti);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, UINT32_MAX), SPAR_OK);
    spar_cursor c;
    spar_cursor_open(&c, buf.data, &ti);
    CU_ASSERT_EQUAL(c.docid, 0);
    CU_ASSERT_EQUAL(spar_cursor_freq(&c), UINT32_MAX);
    spar_cursor_next_geq(&c, 2);
    CU_ASSERT_EQUAL(c.docid, UINT32_MAX - 1);
    CU_ASSERT_EQUAL(spar_cursor_freq(&c), 7);
    spar_cursor_next(&c);
    CU_ASSERT_EQUAL(c.docid, SPAR_DOCID_END);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, UINT32_MAX - 1), SPAR_E_CORRUPT); /* docid >= n_docs */
    /* a single posting at the largest docid: first gap 2^32-2 */
    uint32_t dmax = UINT32_MAX - 1, tf1 = 1;
    list one = {&dmax, &tf1, 1};
    encode_ok(&one, NULL, &buf, &ti);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, UINT32_MAX), SPAR_OK);
    spar_cursor_open(&c, buf.data, &ti);
    CU_ASSERT_EQUAL(c.docid, UINT32_MAX - 1);
    CU_ASSERT_EQUAL(spar_cursor_freq(&c), 1);
    spar_buf_free(&buf);
}

/* tfs and doc lengths beyond 16 bits: block bounds saturate but stay bounds */
static void test_block_max_saturation(void) {
    list l = make_list(300, 3, 3);
    l.tfs[5] = 100000;   /* block 0 */
    l.tfs[200] = 70000;  /* block 1 */
    uint32_t *dl = malloc((l.docs[l.n - 1] + 1) * sizeof *dl);
    for (uint32_t d = 0; d <= l.docs[l.n - 1]; d++) dl[d] = 70000 + d;
    spar_buf buf = {0};
    spar_term_info ti;
    CU_ASSERT_EQUAL_FATAL(spar_postings_encode(l.docs, l.tfs, l.n, dl, 1.2f, 0.75f, 70000.0f, &buf, &ti), SPAR_OK);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, l.docs[l.n - 1] + 1), SPAR_OK);
    CU_ASSERT_EQUAL(ti.max_tf, 100000);
    CU_ASSERT_EQUAL(ti.min_dl, 70000 + l.docs[0]);
    spar_cursor c;
    spar_cursor_open(&c, buf.data, &ti);
    for (uint32_t blk = 0; blk < ti.n_blocks; blk++) {
        spar_cursor_shallow(&c, l.docs[blk * 128]);
        uint32_t mtf = 0;
        for (uint32_t i = blk * 128; i < SPAR_MIN(l.n, blk * 128 + 128); i++) mtf = SPAR_MAX(mtf, l.tfs[i]);
        CU_ASSERT_TRUE(spar_cursor_block_max_tf(&c) >= mtf);
        CU_ASSERT_TRUE(spar_cursor_block_min_dl(&c) <= 70000);
        CU_ASSERT_TRUE(spar_cursor_block_max_tfpart(&c) <= 1.0f);
    }
    spar_buf_free(&buf);
    free(dl);
    free_list(&l);
}

static void test_encode_rejects_bad_input(void) {
    spar_buf buf = {0};
    spar_term_info ti;
    uint32_t d1[2] = {5, 5}, d2[2] = {6, 5}, d3[1] = {SPAR_DOCID_END}, t[2] = {1, 1}, t0[2] = {1, 0};
    CU_ASSERT_EQUAL(spar_postings_encode(d1, t, 2, NULL, 1.2f, 0.75f, 1, &buf, &ti), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_postings_encode(d2, t, 2, NULL, 1.2f, 0.75f, 1, &buf, &ti), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_postings_encode(d3, t, 1, NULL, 1.2f, 0.75f, 1, &buf, &ti), SPAR_E_INVALID_ARG);
    uint32_t d4[2] = {1, 2};
    CU_ASSERT_EQUAL(spar_postings_encode(d4, t0, 2, NULL, 1.2f, 0.75f, 1, &buf, &ti), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(buf.len, 0);
    spar_buf_free(&buf);
}

static void test_empty_list(void) {
    spar_buf buf = {0};
    spar_term_info ti;
    CU_ASSERT_EQUAL(spar_postings_encode(NULL, NULL, 0, NULL, 1.2f, 0.75f, 1, &buf, &ti), SPAR_OK);
    CU_ASSERT_EQUAL(ti.df, 0);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, 0, &ti, 10), SPAR_OK);
    spar_cursor c;
    spar_cursor_open(&c, buf.data, &ti);
    CU_ASSERT_EQUAL(c.docid, SPAR_DOCID_END);
    spar_cursor_next_geq(&c, 5);
    spar_cursor_shallow(&c, 5);
    CU_ASSERT_EQUAL(c.docid, SPAR_DOCID_END);
    CU_ASSERT_EQUAL(c.sblock_last, SPAR_DOCID_END);
    CU_ASSERT_EQUAL(spar_cursor_block_max_tfpart(&c), 0.0f);
    spar_buf_free(&buf);
}

/* naive: index of first posting >= t */
static uint32_t naive_geq(const list *l, uint32_t t) {
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t m = lo + (hi - lo) / 2;
        if (l->docs[m] < t) lo = m + 1;
        else hi = m;
    }
    return lo;
}

static void test_next_geq_matches_naive(void) {
    const uint64_t gaps[] = {0, 2, 50, 5000};
    for (unsigned gi = 0; gi < 4; gi++) {
        list l = make_list(20000, gaps[gi], 9);
        spar_buf buf = {0};
        spar_term_info ti;
        encode_ok(&l, NULL, &buf, &ti);
        const uint32_t last = l.docs[l.n - 1];
        for (int rep = 0; rep < 30; rep++) {
            spar_cursor c;
            spar_cursor_open(&c, buf.data, &ti);
            uint32_t t = 0;
            /* jump sizes from tiny (in-block) to huge (many blocks) */
            const uint64_t span = (uint64_t)1 << (rnd() % 24);
            int ok = 1;
            while (c.docid != SPAR_DOCID_END) {
                t += (uint32_t)(rnd() % span);
                spar_cursor_next_geq(&c, t);
                uint32_t k = naive_geq(&l, t);
                uint32_t want = k < l.n ? l.docs[k] : SPAR_DOCID_END;
                if (c.docid != want) ok = 0;
                if (k < l.n && spar_cursor_freq(&c) != l.tfs[k]) ok = 0;
                if (t > last) break;
                if (rnd() % 3 == 0 && c.docid != SPAR_DOCID_END) spar_cursor_next(&c), t = c.docid;
            }
            CU_ASSERT_TRUE_FATAL(ok);
        }
        spar_buf_free(&buf);
        free_list(&l);
    }
}

static void test_shallow_matches_naive(void) {
    list l = make_list(5000, 30, 4);
    spar_buf buf = {0};
    spar_term_info ti;
    encode_ok(&l, NULL, &buf, &ti);
    spar_cursor c;
    spar_cursor_open(&c, buf.data, &ti);
    CU_ASSERT_EQUAL(c.sblock, 0);
    CU_ASSERT_EQUAL(c.sblock_last, l.docs[127]);
    const uint32_t last = l.docs[l.n - 1];
    int ok = 1;
    for (int rep = 0; rep < 5000; rep++) {
        uint32_t t = (uint32_t)(rnd() % (last + 100)); /* forwards and backwards */
        spar_cursor_shallow(&c, t);
        uint32_t k = naive_geq(&l, t);
        uint32_t want_block = k < l.n ? k / 128 : ti.n_blocks;
        uint32_t want_last = k < l.n ? l.docs[SPAR_MIN(l.n - 1, want_block * 128 + 127)] : SPAR_DOCID_END;
        if (c.sblock != want_block || c.sblock_last != want_last) ok = 0;
    }
    CU_ASSERT_TRUE(ok);
    /* shallow never moves the decoded position */
    spar_cursor_open(&c, buf.data, &ti);
    spar_cursor_shallow(&c, last);
    CU_ASSERT_EQUAL(c.docid, l.docs[0]);
    spar_buf_free(&buf);
    free_list(&l);
}

static void test_block_max_matches_brute_force(void) {
    const uint32_t n_docs = 40000;
    uint32_t *dl = malloc(n_docs * sizeof *dl);
    double sum = 0;
    for (uint32_t i = 0; i < n_docs; i++) sum += (dl[i] = 1 + (uint32_t)(rnd() % 300));
    const float k1 = 0.9f, b = 0.4f, avgdl = (float)(sum / n_docs);
    list l = make_list(3000, 10, 20);
    spar_buf buf = {0};
    spar_term_info ti;
    CU_ASSERT_EQUAL_FATAL(spar_postings_encode(l.docs, l.tfs, l.n, dl, k1, b, avgdl, &buf, &ti), SPAR_OK);
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, n_docs), SPAR_OK);
    spar_cursor c;
    spar_cursor_open(&c, buf.data, &ti);
    double list_max = 0;
    uint32_t list_max_tf = 0, list_min_dl = UINT32_MAX;
    int ok = 1;
    for (uint32_t blk = 0; blk < ti.n_blocks; blk++) {
        double mx = 0;
        uint32_t mtf = 0, mdl = UINT32_MAX;
        for (uint32_t i = blk * 128; i < SPAR_MIN(l.n, blk * 128 + 128); i++) {
            uint32_t d = l.docs[i], tf = l.tfs[i];
            double tp = tf / (tf + k1 * (1.0 - b + b * dl[d] / (double)avgdl));
            if (tp > mx) mx = tp;
            if (tf > mtf) mtf = tf;
            if (dl[d] < mdl) mdl = dl[d];
        }
        spar_cursor_shallow(&c, l.docs[blk * 128]);
        float got = spar_cursor_block_max_tfpart(&c);
        if (c.sblock != blk || !(got >= mx) || got > mx * (1 + 3e-6) + 1.0 / 65535) ok = 0;
        if (spar_cursor_block_max_tf(&c) != mtf || spar_cursor_block_min_dl(&c) != mdl) ok = 0;
        if (mx > list_max) list_max = mx;
        if (mtf > list_max_tf) list_max_tf = mtf;
        if (mdl < list_min_dl) list_min_dl = mdl;
    }
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_TRUE(ti.max_tfpart >= list_max && ti.max_tfpart <= list_max * (1 + 3e-6) + 1.0 / 65535);
    CU_ASSERT_EQUAL(ti.max_tf, list_max_tf);
    CU_ASSERT_EQUAL(ti.min_dl, list_min_dl);
    uint64_t cf = 0;
    for (uint32_t i = 0; i < l.n; i++) cf += l.tfs[i];
    CU_ASSERT_EQUAL(ti.cf, cf);
    spar_buf_free(&buf);
    free_list(&l);
    free(dl);
}

/* A one-block list is a varint stream with no redundant copy of its docids (no block table), so a flip
 * in a docid gap can yield another valid list: that is for the segment checksum to catch. Every other
 * flip (tf flags and values, continuation bits) must be refused: the check compares df, cf, max_tf and
 * the exact length. So a flipped list that passes must differ from the original in its docids only. */
static void test_check_rejects_every_bit_flip_small_list(void) {
    list l = make_list(100, 40, 30);
    spar_buf buf = {0};
    spar_term_info ti;
    encode_ok(&l, NULL, &buf, &ti);
    CU_ASSERT_EQUAL_FATAL(spar_postings_check(buf.data, buf.len, &ti, 1u << 20), SPAR_OK);
    int missed = 0, rejected = 0;
    for (size_t i = 0; i < buf.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf.data[i] ^= (uint8_t)(1u << bit);
            if (spar_postings_check(buf.data, buf.len, &ti, 1u << 20) == SPAR_OK) {
                spar_cursor c;
                spar_cursor_open(&c, buf.data, &ti);
                for (uint32_t k = 0; k < l.n; k++, spar_cursor_next(&c))
                    if (c.docid == SPAR_DOCID_END || spar_cursor_freq(&c) != l.tfs[k]) missed++;
                if (c.docid != SPAR_DOCID_END) missed++;
            } else {
                rejected++;
            }
            buf.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    CU_ASSERT_EQUAL(missed, 0);
    CU_ASSERT_TRUE(rejected > 0);
    spar_buf_free(&buf);
    free_list(&l);
}

/* In a multi-block list, flips in data and in the structural table fields are caught; the rest (a
 * non-maximal block's min_dl / max_tfpart) are left to the file checksum. Random garbage never crashes. */
static void test_check_rejects_structural_corruption(void) {
    list l = make_list(1000, 40, 30);
    spar_buf buf = {0};
    spar_term_info ti;
    encode_ok(&l, NULL, &buf, &ti);
    const size_t table = buf.len - (size_t)ti.n_blocks * SPAR_POSTINGS_ENTRY_BYTES;
    int missed = 0;
    for (size_t i = 0; i < buf.len; i++) {
        size_t field = i >= table ? (i - table) % SPAR_POSTINGS_ENTRY_BYTES : 0;
        if (i >= table && ((field >= 8 && field < 10) || (field >= 12 && field < 14))) continue; /* tfpart, min_dl */
        for (int bit = 0; bit < 8; bit++) {
            buf.data[i] ^= (uint8_t)(1u << bit);
            if (spar_postings_check(buf.data, buf.len, &ti, 1u << 20) != SPAR_E_CORRUPT) missed++;
            buf.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    CU_ASSERT_EQUAL(missed, 0);
    /* length / metadata mismatches */
    spar_term_info bad = ti;
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len - 4, &ti, 1u << 20), SPAR_E_CORRUPT);
    bad.df++;
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &bad, 1u << 20), SPAR_E_CORRUPT);
    bad = ti;
    bad.n_blocks++;
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &bad, 1u << 20), SPAR_E_CORRUPT);
    bad = ti;
    bad.cf--;
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &bad, 1u << 20), SPAR_E_CORRUPT);
    bad = ti;
    bad.df = 100000000;
    bad.n_blocks = 100000000 / 128 + 1;
    CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &bad, 1u << 20), SPAR_E_CORRUPT);
    /* random garbage of the right length: rejected (or, astronomically unlikely, valid), never a crash */
    for (int rep = 0; rep < 200; rep++) {
        for (size_t i = 0; i < buf.len; i++) buf.data[i] = (uint8_t)rnd();
        CU_ASSERT_EQUAL(spar_postings_check(buf.data, buf.len, &ti, 1u << 20), SPAR_E_CORRUPT);
    }
    spar_buf_free(&buf);
    free_list(&l);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/postings", NULL, NULL);
    if (s == NULL) goto out;
    printf("bitpack kernel in use: %s (AVX2 %s)\n", spar_bitpack_kernel(),
           spar_bitpack_has_avx2() ? "available: the AVX2 kernel is tested" : "absent: AVX2 test runs the fallback");
    if (!CU_add_test(s, "bitpack: avx2, sse2, scalar kernels == reference, widths 0..32",
                     test_bitpack_kernels_match_reference) ||
        !CU_add_test(s, "bitpack: unaligned input", test_bitpack_unaligned_input) ||
        !CU_add_test(s, "bitpack: horizontal round trip", test_bitpack_horizontal_roundtrip) ||
        !CU_add_test(s, "bitpack: vector d-gap decode == scalar", test_delta_decode_vector_matches_scalar) ||
        !CU_add_test(s, "round trip, dense lists at block boundaries", test_roundtrip_sizes_dense) ||
        !CU_add_test(s, "round trip, sparse lists (gaps up to 2^32-2)", test_roundtrip_sizes_sparse) ||
        !CU_add_test(s, "round trip, extreme docids and tfs", test_roundtrip_extreme_docids) ||
        !CU_add_test(s, "encode rejects unsorted docids / tf 0", test_encode_rejects_bad_input) ||
        !CU_add_test(s, "empty list", test_empty_list) ||
        !CU_add_test(s, "next_geq == naive on random targets", test_next_geq_matches_naive) ||
        !CU_add_test(s, "shallow == naive block search", test_shallow_matches_naive) ||
        !CU_add_test(s, "block-max data == brute force", test_block_max_matches_brute_force) ||
        !CU_add_test(s, "block-max bounds saturate safely past 16 bits", test_block_max_saturation) ||
        !CU_add_test(s, "check: a one-block list passing after a bit flip differs in docids only", test_check_rejects_every_bit_flip_small_list) ||
        !CU_add_test(s, "check: structural corruption of a multi-block list",
                     test_check_rejects_structural_corruption))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
