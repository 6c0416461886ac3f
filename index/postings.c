/* index/postings.c — posting-list codec and cursor (contract: index/postings.h; layout:
 * docs/format/postings.md).
 *
 * A list of one block (df <= 128, most terms) is a varint stream (per posting (gap << 1) | (tf == 1), then
 * tf - 2 when tf != 1: byte-granular, so rare terms cost 3-4 bytes a posting); its block-max data is the
 * list's, which the segment derives at lookup (spar_postings_derive_single). A longer list is
 * [block data ...][block table]. Each block holds up to 128 postings: the docid gaps minus one, then
 * tf - 1, each frame-of-reference bit-packed with its own width (common/bitpack.h). The table has one 16-byte entry per block (last docid, data offset, widths,
 * block-max data), so cursors skip and BMW/MaxScore read block maxima without touching the data.
 * Cursors decode one block at a time into their own arrays, tfs only on demand. */
#include "index/postings.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "common/bitpack.h"
#include "common/varint.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "spar's on-disk formats are read in place: little-endian hosts only"
#endif

/* Block-table entry (16 bytes, little-endian):
 *   0 u32 last docid   4 u32 data offset   8 u16 max tfpart, quantised up (q / 65535)
 *  10 u16 max tf (65535: saturated, the list's max_tf applies)   12 u16 min dl (saturated at 65535)
 *  14 u8 docid-gap bits   15 u8 tf bits */
enum { E_LAST = 0, E_OFF = 4, E_MAXTP = 8, E_MAXTF = 10, E_MINDL = 12, E_BD = 14, E_BT = 15 };
#define U16_SAT 65535u

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline void wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline float q_to_tfpart(uint32_t q) { return (float)q / 65535.0f; }
/* Smallest q with q / 65535 >= tp (as floats, so the stored bound never drops below tp). */
static uint16_t tfpart_to_q(float tp) {
    if (!(tp > 0)) return 0;
    if (tp >= 1.0f) return (uint16_t)U16_SAT;
    uint32_t q = (uint32_t)ceil((double)tp * 65535.0);
    while (q < U16_SAT && q_to_tfpart(q) < tp) q++;
    return (uint16_t)q;
}

static inline uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

spar_status spar_buf_reserve(spar_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len) return SPAR_E_NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap) return SPAR_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) return SPAR_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return SPAR_OK;
}

void spar_buf_free(spar_buf *b) {
    if (b == NULL) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Upper bound of tf / (tf + k1 * (1 - b + b * dl / avgdl)) as a float (see postings.h). */
static float tfpart_bound(uint32_t tf, uint32_t dl, float k1, float b, float avgdl) {
    double rel = avgdl > 0 ? (double)dl / (double)avgdl : 1.0;
    double norm = (double)k1 * (1.0 - (double)b + (double)b * rel);
    if (norm < 0) norm = 0;
    double tp = (double)tf / ((double)tf + norm);
    double up = tp * (1.0 + 1e-6);
    float f = (float)up;
    if ((double)f < up) f = nextafterf(f, FLT_MAX);
    return f;
}

/* Block-max data of one block from its tfs and the lengths of its documents (shared by the encoder and
 * spar_postings_derive_single, so the stored and the derived bounds are the same bits). */
typedef struct block_stats {
    uint64_t cf;
    uint32_t max_tf, min_dl;
    uint16_t q;
} block_stats;
static block_stats stats_of(const uint32_t *tfs, const uint32_t *dls, uint32_t cnt, float k1, float b, float avgdl) {
    block_stats r = {0, 0, UINT32_MAX, 0};
    float max_tp = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        r.cf += tfs[i];
        if (tfs[i] > r.max_tf) r.max_tf = tfs[i];
        if (dls[i] < r.min_dl) r.min_dl = dls[i];
        const float tp = tfpart_bound(tfs[i], dls[i], k1, b, avgdl);
        if (tp > max_tp) max_tp = tp;
    }
    r.q = tfpart_to_q(max_tp);
    return r;
}

/* One-block list: per posting varint((gap << 1) | (tf == 1)), then varint(tf - 2) when tf != 1. */
static size_t put_single(uint8_t *dst, const uint32_t *docids, const uint32_t *tfs, uint32_t n) {
    size_t k = 0;
    uint32_t prev_plus1 = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t g = docids[i] - prev_plus1;
        prev_plus1 = docids[i] + 1;
        k += spar_varint_put(dst + k, (g << 1) | (tfs[i] == 1));
        if (tfs[i] != 1) k += spar_varint_put(dst + k, tfs[i] - 2u);
    }
    return k;
}

/* Bounds-checked parse of a one-block list of df postings filling exactly len bytes; 1 on success. */
static int parse_single(const uint8_t *buf, size_t len, uint32_t df, uint32_t n_docs, uint32_t *docs,
                        uint32_t *tfs) {
    if (df == 0 || df > SPAR_BLOCK_SIZE) return 0;
    uint64_t pos = 0, next = 0; /* next = previous docid + 1 */
    for (uint32_t i = 0; i < df; i++) {
        uint64_t v, t = 0;
        if (!spar_varint_get(buf, len, &pos, &v)) return 0;
        if (next >= n_docs || (v >> 1) >= (uint64_t)n_docs - next) return 0; /* docid must be < n_docs */
        const uint64_t d = next + (v >> 1);
        if (!(v & 1) && (!spar_varint_get(buf, len, &pos, &t) || t > UINT32_MAX - 2u)) return 0;
        docs[i] = (uint32_t)d;
        tfs[i] = (v & 1) ? 1u : (uint32_t)t + 2u;
        next = d + 1;
    }
    return pos == len;
}

spar_status spar_postings_encode(const uint32_t *docids, const uint32_t *tfs, uint32_t n, const uint32_t *doclens,
                                 float k1, float b, float avgdl, spar_buf *out, spar_term_info *ti) {
    memset(ti, 0, sizeof *ti);
    if (n == 0) return SPAR_OK;
    if (docids == NULL || tfs == NULL) return SPAR_E_INVALID_ARG;
    for (uint32_t i = 0; i < n; i++) {
        if (docids[i] == SPAR_DOCID_END || tfs[i] == 0) return SPAR_E_INVALID_ARG;
        if (i > 0 && docids[i] <= docids[i - 1]) return SPAR_E_INVALID_ARG;
    }
    const uint32_t n_blocks = (uint32_t)(((uint64_t)n + SPAR_BLOCK_SIZE - 1) / SPAR_BLOCK_SIZE);
    const int single = n_blocks == 1;
    const size_t table_bytes = single ? 0 : (size_t)n_blocks * SPAR_POSTINGS_ENTRY_BYTES;
    /* worst case: 32 bits per gap and per tf packed; 5 + 5 bytes per posting as varints */
    const uint64_t worst = (uint64_t)n * 10 + table_bytes + 8;
    if (worst > SIZE_MAX / 2) return SPAR_E_NOMEM;
    uint8_t *table = malloc(table_bytes ? table_bytes : 1);
    if (table == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_buf_reserve(out, (size_t)worst);
    if (st != SPAR_OK) {
        free(table);
        return st;
    }
    const size_t start = out->len;
    uint8_t *dst = out->data + start;
    uint64_t off = 0, cf = 0;
    uint32_t gaps[SPAR_BLOCK_SIZE], tfm[SPAR_BLOCK_SIZE], dls[SPAR_BLOCK_SIZE];
    uint32_t list_max_tf = 0, list_min_dl = UINT32_MAX;
    uint16_t list_q = 0;
    for (uint32_t blk = 0; blk < n_blocks; blk++) {
        const uint32_t first = blk * SPAR_BLOCK_SIZE;
        const uint32_t cnt = SPAR_MIN(n - first, (uint32_t)SPAR_BLOCK_SIZE);
        uint32_t prev_plus1 = first == 0 ? 0 : docids[first - 1] + 1;
        for (uint32_t i = 0; i < cnt; i++) {
            const uint32_t d = docids[first + i];
            gaps[i] = d - prev_plus1;
            prev_plus1 = d + 1;
            tfm[i] = tfs[first + i] - 1;
            dls[i] = doclens ? doclens[d] : 0;
        }
        const block_stats bs = stats_of(tfs + first, dls, cnt, k1, b, avgdl);
        cf += bs.cf;
        if (single) {
            off = put_single(dst, docids, tfs, n);
        } else {
            if (off > UINT32_MAX) {
                free(table);
                return SPAR_E_UNSUPPORTED; /* a single list over 4 GiB */
            }
            const unsigned bd = spar_bitpack_width(gaps, cnt), bt = spar_bitpack_width(tfm, cnt);
            uint8_t *e = table + (size_t)blk * SPAR_POSTINGS_ENTRY_BYTES;
            wr32(e + E_LAST, docids[first + cnt - 1]);
            wr32(e + E_OFF, (uint32_t)off);
            wr16(e + E_MAXTP, bs.q);
            wr16(e + E_MAXTF, (uint16_t)SPAR_MIN(bs.max_tf, U16_SAT));
            wr16(e + E_MINDL, (uint16_t)SPAR_MIN(bs.min_dl, U16_SAT));
            e[E_BD] = (uint8_t)bd;
            e[E_BT] = (uint8_t)bt;
            if (cnt == SPAR_BLOCK_SIZE) {
                spar_bitpack_pack128(gaps, bd, dst + off);
                off += spar_bitpack_bytes(cnt, bd);
                spar_bitpack_pack128(tfm, bt, dst + off);
                off += spar_bitpack_bytes(cnt, bt);
            } else {
                off += spar_bitpack_pack(gaps, cnt, bd, dst + off);
                off += spar_bitpack_pack(tfm, cnt, bt, dst + off);
            }
        }
        if (bs.max_tf > list_max_tf) list_max_tf = bs.max_tf;
        if (bs.min_dl < list_min_dl) list_min_dl = bs.min_dl;
        if (bs.q > list_q) list_q = bs.q;
    }
    if (table_bytes) memcpy(dst + off, table, table_bytes);
    free(table);
    const uint64_t bytes = off + table_bytes;
    out->len = start + (size_t)bytes;
    ti->df = n;
    ti->n_blocks = n_blocks;
    ti->cf = cf;
    ti->offset = 0;
    ti->bytes = bytes;
    ti->max_tf = list_max_tf;
    ti->min_dl = list_min_dl;
    ti->max_tfpart = q_to_tfpart(list_q);
    return SPAR_OK;
}

spar_status spar_postings_derive_single(const uint8_t *buf, size_t len, uint32_t df, uint32_t n_docs,
                                        const uint8_t *norms, float k1, float b, float avgdl, spar_term_info *ti) {
    uint32_t docs[SPAR_BLOCK_SIZE], tfs[SPAR_BLOCK_SIZE], dls[SPAR_BLOCK_SIZE];
    if (buf == NULL || !parse_single(buf, len, df, n_docs, docs, tfs)) return SPAR_E_CORRUPT;
    if (ti == NULL) return SPAR_OK; /* validation only */
    for (uint32_t i = 0; i < df; i++) dls[i] = norms ? spar_norm_decode(norms[docs[i]]) : 0;
    const block_stats bs = stats_of(tfs, dls, df, k1, b, avgdl);
    ti->df = df;
    ti->n_blocks = 1;
    ti->cf = bs.cf;
    ti->offset = 0;
    ti->bytes = len;
    ti->max_tf = bs.max_tf;
    ti->min_dl = bs.min_dl;
    ti->max_tfpart = q_to_tfpart(bs.q);
    return SPAR_OK;
}

static int pad_bits_zero(const uint8_t *p, uint64_t bytes, uint64_t used_bits) {
    const unsigned rem = (unsigned)(used_bits & 31);
    if (bytes == 0 || rem == 0) return 1;
    return (rd32(p + bytes - 4) >> rem) == 0;
}

/* Decode and check one block's postings. prev_end = last docid of the previous block + 1 (0 first).
 * On success *last is the block's last docid, *max_tf its max tf, *cf increased by its tf sum. */
static int check_block(const uint8_t *p, uint64_t avail, uint32_t cnt, unsigned bd, unsigned bt, uint64_t prev_end,
                       uint32_t n_docs, uint64_t *used, uint32_t *last, uint32_t *max_tf, uint64_t *cf) {
    if (bd > 32 || bt > 32) return 0;
    const uint64_t dbytes = spar_bitpack_bytes(cnt, bd), tbytes = spar_bitpack_bytes(cnt, bt);
    if (dbytes + tbytes > avail) return 0;
    _Alignas(16) uint32_t docs[SPAR_BLOCK_SIZE];
    _Alignas(16) uint32_t tfm[SPAR_BLOCK_SIZE];
    if (cnt == SPAR_BLOCK_SIZE) {
        spar_bitpack_unpack128(p, bd, docs);
        spar_bitpack_unpack128(p + dbytes, bt, tfm);
    } else {
        spar_bitpack_unpack(p, cnt, bd, docs);
        spar_bitpack_unpack(p + dbytes, cnt, bt, tfm);
        /* the unused high bits of a short block's last word must be zero: every bit is then covered */
        if (!pad_bits_zero(p, dbytes, (uint64_t)cnt * bd) || !pad_bits_zero(p + dbytes, tbytes, (uint64_t)cnt * bt))
            return 0;
    }
    uint64_t d = prev_end; /* 64-bit: a crafted gap sequence must not wrap around */
    uint32_t mtf = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        d += docs[i];
        if (d >= n_docs) return 0;
        d += 1;
        if (tfm[i] == UINT32_MAX) return 0;
        const uint32_t tf = tfm[i] + 1;
        *cf += tf;
        if (tf > mtf) mtf = tf;
    }
    *used = dbytes + tbytes;
    *last = (uint32_t)(d - 1);
    *max_tf = mtf;
    return 1;
}

spar_status spar_postings_check(const uint8_t *buf, size_t len, const spar_term_info *ti, uint32_t n_docs) {
    if (ti == NULL) return SPAR_E_CORRUPT;
    if (ti->df == 0) return (ti->n_blocks == 0 && len == 0 && ti->bytes == 0 && ti->cf == 0) ? SPAR_OK
                                                                                              : SPAR_E_CORRUPT;
    if (buf == NULL || len != ti->bytes) return SPAR_E_CORRUPT;
    const uint64_t n_blocks = ((uint64_t)ti->df + SPAR_BLOCK_SIZE - 1) / SPAR_BLOCK_SIZE;
    if (ti->n_blocks != n_blocks) return SPAR_E_CORRUPT;
    if (!(ti->max_tfpart >= 0.0f && ti->max_tfpart <= 1.0f)) return SPAR_E_CORRUPT; /* also rejects NaN */
    uint64_t cf = 0, used;
    uint32_t last, max_tf;
    if (n_blocks == 1) {
        uint32_t docs[SPAR_BLOCK_SIZE], tfs[SPAR_BLOCK_SIZE];
        if (!parse_single(buf, len, ti->df, n_docs, docs, tfs)) return SPAR_E_CORRUPT;
        max_tf = 0;
        for (uint32_t i = 0; i < ti->df; i++) {
            cf += tfs[i];
            if (tfs[i] > max_tf) max_tf = tfs[i];
        }
        if (cf != ti->cf || max_tf != ti->max_tf) return SPAR_E_CORRUPT;
        return SPAR_OK;
    }
    const uint64_t table_bytes = n_blocks * SPAR_POSTINGS_ENTRY_BYTES;
    if ((uint64_t)len < table_bytes) return SPAR_E_CORRUPT;
    const uint64_t data_bytes = (uint64_t)len - table_bytes;
    const uint8_t *table = buf + data_bytes;
    uint64_t off = 0, prev_end = 0;
    uint32_t list_max_tf = 0, min_dl = UINT32_MAX;
    uint16_t list_q = 0;
    for (uint64_t blk = 0; blk < n_blocks; blk++) {
        const uint8_t *e = table + blk * SPAR_POSTINGS_ENTRY_BYTES;
        const uint32_t cnt = blk + 1 < n_blocks ? SPAR_BLOCK_SIZE
                                                : (uint32_t)(ti->df - (n_blocks - 1) * SPAR_BLOCK_SIZE);
        if (rd32(e + E_OFF) != off) return SPAR_E_CORRUPT;
        if (!check_block(buf + off, data_bytes - off, cnt, e[E_BD], e[E_BT], prev_end, n_docs, &used, &last, &max_tf,
                         &cf))
            return SPAR_E_CORRUPT;
        if (last != rd32(e + E_LAST) || SPAR_MIN(max_tf, U16_SAT) != rd16(e + E_MAXTF)) return SPAR_E_CORRUPT;
        prev_end = (uint64_t)last + 1;
        off += used;
        if (max_tf > list_max_tf) list_max_tf = max_tf;
        if (rd16(e + E_MINDL) < min_dl) min_dl = rd16(e + E_MINDL);
        if (rd16(e + E_MAXTP) > list_q) list_q = rd16(e + E_MAXTP);
    }
    if (off != data_bytes) return SPAR_E_CORRUPT;
    if (cf != ti->cf || list_max_tf != ti->max_tf || min_dl != SPAR_MIN(ti->min_dl, U16_SAT) ||
        q_to_tfpart(list_q) != ti->max_tfpart)
        return SPAR_E_CORRUPT;
    return SPAR_OK;
}

/* ---- cursor ---- */

static inline const uint8_t *entry(const spar_cursor *c, uint32_t blk) {
    return c->table + (size_t)blk * SPAR_POSTINGS_ENTRY_BYTES;
}
/* One-block lists have no table: their last docid is known once the block is decoded (at open). */
static inline uint32_t block_last(const spar_cursor *c, uint32_t blk) {
    return c->table ? rd32(entry(c, blk) + E_LAST) : c->last0;
}

static void exhaust(spar_cursor *c) {
    c->freqs_decoded = 0; /* so spar_cursor_freq takes the slow path and answers 0 */
    c->block = c->n_blocks;
    c->pos = c->n_in_block = 0;
    c->docid = SPAR_DOCID_END;
}

/* Unchecked varint read: the cursor trusts its list (spar_postings_check / the segment validated it). */
static inline uint64_t vget(const uint8_t **pp) {
    const uint8_t *p = *pp;
    uint8_t byte = *p++;
    uint64_t v = byte & 0x7f;
    for (unsigned sh = 7; (byte & 0x80) && sh < 64; sh += 7) {
        byte = *p++;
        v |= (uint64_t)(byte & 0x7f) << sh;
    }
    *pp = p;
    return v;
}

static void load_single(spar_cursor *c) {
    const uint8_t *p = c->data;
    uint32_t next = 0;
    for (uint32_t i = 0; i < c->df; i++) {
        const uint64_t v = vget(&p);
        const uint32_t d = next + (uint32_t)(v >> 1);
        c->docs[i] = d;
        c->freqs[i] = (v & 1) ? 1u : (uint32_t)vget(&p) + 2u;
        next = d + 1;
    }
    c->tf_data = NULL;
    c->freqs_decoded = 1;
    c->block = 0;
    c->pos = 0;
    c->n_in_block = c->df;
    c->docid = c->docs[0];
}

static void load_block(spar_cursor *c, uint32_t blk) {
    if (c->table == NULL) { /* one-block list: varints, docids and tfs decoded at once */
        load_single(c);
        return;
    }
    const uint8_t *e = entry(c, blk);
    const uint32_t cnt = blk + 1 < c->n_blocks ? SPAR_BLOCK_SIZE : c->df - (c->n_blocks - 1) * SPAR_BLOCK_SIZE;
    const unsigned bd = e[E_BD];
    c->tf_bits = e[E_BT];
    const uint8_t *p = c->data + rd32(e + E_OFF);
    const uint32_t base = blk == 0 ? 0 : block_last(c, blk - 1) + 1;
    if (cnt == SPAR_BLOCK_SIZE) {
        spar_bitpack_unpack128(p, bd, c->docs);
        spar_delta1_decode128(c->docs, base);
    } else {
        spar_bitpack_unpack(p, cnt, bd, c->docs);
        spar_delta1_decode(c->docs, cnt, base);
    }
    c->tf_data = p + spar_bitpack_bytes(cnt, bd);
    c->freqs_decoded = 0;
    c->block = blk;
    c->pos = 0;
    c->n_in_block = cnt;
    c->docid = c->docs[0];
}

void spar_cursor_open(spar_cursor *c, const uint8_t *buf, const spar_term_info *ti) {
    c->df = ti->df;
    c->n_blocks = ti->df == 0 ? 0 : ti->n_blocks;
    c->data = buf;
    c->end = buf + ti->bytes;
    c->table = c->n_blocks > 1 ? c->end - (size_t)c->n_blocks * SPAR_POSTINGS_ENTRY_BYTES : NULL;
    c->tf_data = NULL;
    c->tf_bits = 0;
    c->freqs_decoded = 0;
    c->list_max_tf = ti->max_tf;
    c->list_min_dl = ti->min_dl;
    c->list_max_tfpart = ti->max_tfpart;
    c->last0 = SPAR_DOCID_END;
    c->sblock = 0;
    if (c->n_blocks == 0) {
        c->sblock_last = SPAR_DOCID_END;
        exhaust(c);
        return;
    }
    load_block(c, 0);
    if (c->table == NULL) c->last0 = c->docs[c->n_in_block - 1];
    c->sblock_last = block_last(c, 0);
}

extern inline void spar_cursor_next(spar_cursor *c);
extern inline void spar_cursor_next_geq(spar_cursor *c, uint32_t target);
extern inline uint32_t spar_cursor_freq(spar_cursor *c);

void spar_cursor_next_block_(spar_cursor *c) {
    if (c->block + 1 < c->n_blocks)
        load_block(c, c->block + 1);
    else
        exhaust(c);
}

/* First block b >= from with last(b) >= target, or n_blocks. Gallops, then binary-searches. */
static uint32_t find_block(const spar_cursor *c, uint32_t from, uint32_t target) {
    const uint32_t n = c->n_blocks;
    if (from >= n || block_last(c, from) >= target) return from;
    uint32_t lo = from, step = 1; /* invariant: last(lo) < target */
    uint32_t hi;
    for (;;) {
        uint64_t probe = (uint64_t)lo + step;
        if (probe >= n) {
            hi = n;
            break;
        }
        if (block_last(c, (uint32_t)probe) >= target) {
            hi = (uint32_t)probe;
            break;
        }
        lo = (uint32_t)probe;
        step *= 2;
    }
    /* last(lo) < target, answer in (lo, hi] with hi == n meaning "none" */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (block_last(c, mid) >= target)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

void spar_cursor_next_geq_slow_(spar_cursor *c, uint32_t target) {
    for (;;) {
        if (target > block_last(c, c->block)) {
            uint32_t blk = find_block(c, c->block + 1, target);
            if (blk >= c->n_blocks) {
                exhaust(c);
                return;
            }
            load_block(c, blk);
        }
        uint32_t p = c->pos;
        const uint32_t n = c->n_in_block;
        while (p < n && c->docs[p] < target) p++;
        if (SPAR_LIKELY(p < n)) {
            c->pos = p;
            c->docid = c->docs[p];
            return;
        }
        /* only reachable on a list that did not pass spar_postings_check: move on, never loop forever */
        if (c->block + 1 >= c->n_blocks) {
            exhaust(c);
            return;
        }
        load_block(c, c->block + 1);
        if (c->docid >= target) return;
    }
}

uint32_t spar_cursor_freq_decode_(spar_cursor *c) {
    if (c->block >= c->n_blocks) return 0;
    if (!c->freqs_decoded) {
        if (c->n_in_block == SPAR_BLOCK_SIZE)
            spar_bitpack_unpack128(c->tf_data, c->tf_bits, c->freqs);
        else
            spar_bitpack_unpack(c->tf_data, c->n_in_block, c->tf_bits, c->freqs);
        for (uint32_t i = 0; i < c->n_in_block; i++) c->freqs[i] += 1;
        c->freqs_decoded = 1;
    }
    return c->freqs[c->pos];
}

void spar_cursor_shallow(spar_cursor *c, uint32_t target) {
    if (c->n_blocks == 0) return;
    uint32_t from = c->sblock;
    if (from >= c->n_blocks) from = c->n_blocks - 1;
    if (from > 0 && block_last(c, from - 1) >= target) from = 0; /* moved backwards: search from the start */
    uint32_t blk = find_block(c, from, target);
    c->sblock = blk;
    c->sblock_last = blk < c->n_blocks ? block_last(c, blk) : SPAR_DOCID_END;
}

float spar_cursor_block_max_tfpart(const spar_cursor *c) {
    if (c->sblock >= c->n_blocks) return 0.0f;
    return c->table ? q_to_tfpart(rd16(entry(c, c->sblock) + E_MAXTP)) : c->list_max_tfpart;
}
uint32_t spar_cursor_block_max_tf(const spar_cursor *c) {
    if (c->sblock >= c->n_blocks) return 0;
    if (c->table == NULL) return c->list_max_tf;
    uint32_t v = rd16(entry(c, c->sblock) + E_MAXTF);
    return v == U16_SAT ? c->list_max_tf : v;
}
uint32_t spar_cursor_block_min_dl(const spar_cursor *c) {
    if (c->sblock >= c->n_blocks) return 0;
    return c->table ? rd16(entry(c, c->sblock) + E_MINDL) : c->list_min_dl;
}
