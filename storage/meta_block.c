/* storage/meta_block.c — id blocks (front-coded ids and runs of successors) and perm blocks (delta/run coded docids) of
 * meta.lmdb; contract in storage/meta_block.h, byte layout in docs/format/meta-lmdb.md. */
#include "storage/meta_block.h"

#include <inttypes.h>
#include <string.h>

#include "common/varint.h"

#define NGROUPS (SPAR_IDBLOCK_MAX_IDS / SPAR_IDBLOCK_RESTART)
#define NIBBLE_ESC 15u

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* ---- id order and successors ---- */

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

size_t spar_sortkey(const uint8_t *id, size_t len, uint8_t *out) {
    size_t d = len;
    while (d > 0 && is_digit(id[d - 1])) d--;
    const size_t digits = len - d;
    if (digits == 0 || digits > 32) {
        memcpy(out, id, len);
        return len;
    }
    memcpy(out, id, d);
    out[d] = (uint8_t)digits; /* 1..32: never a digit, so the key still ends with exactly these digits */
    memcpy(out + d + 1, id + d, digits);
    return len + 1;
}

int spar_id_succ(uint8_t *id, size_t *len) {
    size_t n = *len, i = n;
    if (n == 0 || !is_digit(id[n - 1])) return 0;
    while (i > 0 && id[i - 1] == '9') i--;
    if (i > 0 && is_digit(id[i - 1])) { /* a digit below 9 absorbs the carry */
        id[i - 1]++;
        memset(id + i, '0', n - i);
        return 1;
    }
    if (n + 1 > SPAR_IDBLOCK_ID_MAX) return 0; /* all nines: one digit more */
    memmove(id + i + 1, id + i, n - i);
    id[i] = '1';
    memset(id + i + 1, '0', n - i);
    *len = n + 1;
    return 1;
}

/* id plus k (1..SPAR_IDBLOCK_MAX_OFFSET): the successor k times over, in one pass. 0 when the id does
 * not end with a digit or the result would be too long. */
static int id_add(uint8_t *id, size_t *len, uint64_t k) {
    size_t n = *len, i = n;
    if (n == 0 || !is_digit(id[n - 1]) || k > SPAR_IDBLOCK_MAX_OFFSET) return 0;
    uint64_t carry = k;
    while (carry > 0 && i > 0 && is_digit(id[i - 1])) {
        uint64_t d = (uint64_t)(id[i - 1] - '0') + carry;
        id[i - 1] = (uint8_t)('0' + d % 10);
        carry = d / 10;
        i--;
    }
    if (carry == 0) return 1;
    uint8_t lead[24]; /* the carry out of the first digit becomes new leading digits */
    size_t extra = 0;
    for (; carry > 0; carry /= 10) lead[extra++] = (uint8_t)('0' + carry % 10);
    if (n + extra > SPAR_IDBLOCK_ID_MAX) return 0;
    memmove(id + i + extra, id + i, n - i);
    for (size_t j = 0; j < extra; j++) id[i + j] = lead[extra - 1 - j];
    *len = n + extra;
    return 1;
}

/* k >= 1 when b is a plus k (id_add), k <= SPAR_IDBLOCK_MAX_OFFSET; else 0. */
static uint64_t num_offset(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    size_t da = 0, db = 0;
    while (da < al && is_digit(a[al - 1 - da])) da++;
    while (db < bl && is_digit(b[bl - 1 - db])) db++;
    if (da == 0 || db == 0 || da > 19 || db > 19 || al - da != bl - db || memcmp(a, b, al - da) != 0) return 0;
    uint64_t va = 0, vb = 0;
    for (size_t i = al - da; i < al; i++) va = va * 10 + (uint64_t)(a[i] - '0');
    for (size_t i = bl - db; i < bl; i++) vb = vb * 10 + (uint64_t)(b[i] - '0');
    if (vb <= va || vb - va > SPAR_IDBLOCK_MAX_OFFSET) return 0;
    uint8_t t[SPAR_IDBLOCK_ID_MAX];
    size_t tl = al;
    memcpy(t, a, al);
    return id_add(t, &tl, vb - va) && tl == bl && memcmp(t, b, bl) == 0 ? vb - va : 0; /* same width rules */
}

/* 1 when b is the successor of a. */
static int is_succ(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    if (bl < al || bl > al + 1 || al == 0 || !is_digit(b[bl - 1])) return 0;
    uint8_t t[SPAR_IDBLOCK_ID_MAX];
    size_t tl = al;
    memcpy(t, a, al);
    return spar_id_succ(t, &tl) && tl == bl && memcmp(t, b, bl) == 0;
}

/* ---- id block encoder ----
 * Entry head byte: high nibble = shared prefix length, low nibble = suffix length (15: 15 + a varint that
 * follows, shared first). Head 0x00 (shared 0, suffix 0: no literal id) starts a run: a count r (1..15)
 * follows, and the next r ids are successors of the previous one. A group's first entry is a literal with
 * shared = 0. */

#define RUN_HEAD 0x00u

void spar_idblock_enc_reset(spar_idblock_enc *e) {
    e->n = 0;
    e->data_len = 0;
    e->prev_len = 0;
    e->run_at = 0;
    memset(e->group_len, 0, sizeof e->group_len);
}

static size_t shared_prefix(const spar_idblock_enc *e, const uint8_t *id, size_t len) {
    if (e->n % SPAR_IDBLOCK_RESTART == 0) return 0;
    size_t m = len < e->prev_len ? len : e->prev_len, s = 0;
    while (s < m && id[s] == e->prev[s]) s++;
    return s;
}

static size_t entry_len(size_t shared, size_t suffix) {
    size_t n = 1 + suffix;
    if (shared >= NIBBLE_ESC) n += varint_len(shared - NIBBLE_ESC);
    if (suffix >= NIBBLE_ESC) n += varint_len(suffix - NIBBLE_ESC);
    return n;
}

/* Header bytes of a block of n ids whose groups have the lengths in g (the last group's is implicit). */
static size_t header_len(uint32_t n, const uint32_t *g) {
    size_t h = varint_len(n);
    uint32_t groups = (n + SPAR_IDBLOCK_RESTART - 1) / SPAR_IDBLOCK_RESTART;
    for (uint32_t j = 0; j + 1 < groups; j++) h += varint_len(g[j]);
    return h;
}

/* A restart id as an offset from the block's first id: k, when that is shorter than the literal. */
static uint64_t restart_offset(const spar_idblock_enc *e, const uint8_t *id, size_t len) {
    if (e->n == 0) return 0;
    uint64_t k = num_offset(e->first, e->first_len, id, len);
    return k && 1 + varint_len(k) < entry_len(0, len) ? k : 0;
}

/* Bytes that appending id adds to the data (0: it extends the open run). */
static size_t add_len(const spar_idblock_enc *e, const uint8_t *id, size_t len) {
    if (e->n % SPAR_IDBLOCK_RESTART != 0 && is_succ(e->prev, e->prev_len, id, len)) return e->run_at ? 0 : 2;
    if (e->n % SPAR_IDBLOCK_RESTART == 0) {
        uint64_t k = restart_offset(e, id, len);
        if (k) return 1 + varint_len(k);
    }
    size_t s = shared_prefix(e, id, len);
    return entry_len(s, len - s);
}

int spar_idblock_enc_fits(const spar_idblock_enc *e, const uint8_t *id, size_t len) {
    if (len == 0 || len > SPAR_IDBLOCK_ID_MAX) return 0;
    if (e->n == 0) return 1; /* 2 + 511 + 3 bytes always fit */
    if (e->n >= SPAR_IDBLOCK_MAX_IDS) return 0;
    size_t add = add_len(e, id, len);
    uint32_t g[NGROUPS];
    memcpy(g, e->group_len, sizeof g);
    g[e->n / SPAR_IDBLOCK_RESTART] += (uint32_t)add;
    return header_len(e->n + 1, g) + e->data_len + add <= SPAR_IDBLOCK_MAX_BYTES;
}

void spar_idblock_enc_add(spar_idblock_enc *e, const uint8_t *id, size_t len) {
    uint8_t *p = e->data + e->data_len;
    size_t k = 0;
    if (e->n % SPAR_IDBLOCK_RESTART == 0) e->run_at = 0; /* runs stay inside a restart group */
    if (e->n % SPAR_IDBLOCK_RESTART != 0 && is_succ(e->prev, e->prev_len, id, len)) {
        if (e->run_at) {
            e->data[e->run_at]++; /* at most 15: a run starts after a group's first id */
        } else {
            p[k++] = RUN_HEAD;
            p[k++] = 1;
            e->run_at = e->data_len + 1;
        }
    } else if (e->n % SPAR_IDBLOCK_RESTART == 0 && restart_offset(e, id, len)) {
        p[k++] = RUN_HEAD;
        k += spar_varint_put(p + k, restart_offset(e, id, len));
        e->run_at = 0;
    } else {
        size_t s = shared_prefix(e, id, len), suffix = len - s;
        p[k++] = (uint8_t)(((s < NIBBLE_ESC ? s : NIBBLE_ESC) << 4) | (suffix < NIBBLE_ESC ? suffix : NIBBLE_ESC));
        if (s >= NIBBLE_ESC) k += spar_varint_put(p + k, s - NIBBLE_ESC);
        if (suffix >= NIBBLE_ESC) k += spar_varint_put(p + k, suffix - NIBBLE_ESC);
        memcpy(p + k, id + s, suffix);
        k += suffix;
        e->run_at = 0;
    }
    e->data_len += k;
    e->group_len[e->n / SPAR_IDBLOCK_RESTART] += (uint32_t)k;
    memcpy(e->prev, id, len);
    e->prev_len = len;
    if (e->n == 0) {
        memcpy(e->first, id, len);
        e->first_len = len;
    }
    e->n++;
}

size_t spar_idblock_enc_finish(const spar_idblock_enc *e, uint8_t *out) {
    size_t k = spar_varint_put(out, e->n);
    uint32_t groups = (e->n + SPAR_IDBLOCK_RESTART - 1) / SPAR_IDBLOCK_RESTART;
    for (uint32_t j = 0; j + 1 < groups; j++) k += spar_varint_put(out + k, e->group_len[j]);
    memcpy(out + k, e->data, e->data_len);
    return k + e->data_len;
}

/* ---- id block decoder ---- */

typedef struct {
    uint32_t n, groups;
    uint64_t start[NGROUPS + 1]; /* byte offset of each group; start[groups] = block length */
} idblock_hdr;

static spar_status parse_header(const uint8_t *blk, size_t len, idblock_hdr *h) {
    uint64_t pos = 0, v;
    if (!spar_varint_get(blk, len, &pos, &v) || v == 0 || v > SPAR_IDBLOCK_MAX_IDS) return SPAR_E_CORRUPT;
    h->n = (uint32_t)v;
    h->groups = (h->n + SPAR_IDBLOCK_RESTART - 1) / SPAR_IDBLOCK_RESTART;
    uint64_t lens[NGROUPS];
    for (uint32_t j = 0; j + 1 < h->groups; j++) {
        if (!spar_varint_get(blk, len, &pos, &v) || v > len) return SPAR_E_CORRUPT;
        lens[j] = v;
    }
    h->start[0] = pos;
    for (uint32_t j = 0; j + 1 < h->groups; j++) {
        h->start[j + 1] = h->start[j] + lens[j];
        if (h->start[j + 1] > len) return SPAR_E_CORRUPT;
    }
    h->start[h->groups] = len;
    return SPAR_OK;
}

/* Reads the ids of one restart group in order. */
typedef struct {
    const uint8_t *blk;
    uint64_t pos, end;
    uint64_t start0, end0; /* group 0, whose first entry is the block's first id */
    uint32_t grp;
    uint32_t run_left; /* successors still to produce from the current run entry */
    int restart;       /* the next entry is the group's first */
    uint8_t cur[SPAR_IDBLOCK_ID_MAX];
    size_t cur_len;
} group_reader;

static void group_open(group_reader *g, const uint8_t *blk, const idblock_hdr *h, uint32_t grp) {
    g->blk = blk;
    g->pos = h->start[grp];
    g->end = h->start[grp + 1];
    g->start0 = h->start[0];
    g->end0 = h->start[1];
    g->grp = grp;
    g->run_left = 0;
    g->restart = 1;
    g->cur_len = 0;
}

/* A literal entry whose head byte (not a run) was read: on top of the previous id in cur. */
static int read_literal(const uint8_t *blk, uint64_t end, uint64_t *pos, uint8_t head, int restart, uint8_t *cur,
                        size_t *cur_len) {
    uint64_t s = head >> 4, suffix = head & 15u, v;
    if (s == NIBBLE_ESC) {
        if (!spar_varint_get(blk, end, pos, &v) || v > SPAR_IDBLOCK_ID_MAX) return 0;
        s += v;
    }
    if (suffix == NIBBLE_ESC) {
        if (!spar_varint_get(blk, end, pos, &v) || v > SPAR_IDBLOCK_ID_MAX) return 0;
        suffix += v;
    }
    if ((restart && s != 0) || s > *cur_len || s + suffix == 0 || s + suffix > SPAR_IDBLOCK_ID_MAX ||
        suffix > end - *pos)
        return 0;
    memcpy(cur + s, blk + *pos, (size_t)suffix);
    *pos += suffix;
    *cur_len = (size_t)(s + suffix);
    return 1;
}

/* Advance to the next id of the group (in g->cur); 0 when the bytes are malformed. */
static int group_next(group_reader *g) {
    const uint8_t *blk = g->blk;
    if (g->run_left > 0) {
        g->run_left--;
        return spar_id_succ(g->cur, &g->cur_len);
    }
    if (g->pos >= g->end) return 0;
    uint8_t head = blk[g->pos++];
    uint64_t v;
    if (head == RUN_HEAD) {
        if (!spar_varint_get(blk, g->end, &g->pos, &v) || v == 0) return 0;
        if (g->restart) { /* the block's first id plus v */
            uint64_t p0 = g->start0;
            if (g->grp == 0 || p0 >= g->end0 || blk[p0] == RUN_HEAD) return 0;
            p0++;
            g->cur_len = 0;
            if (!read_literal(blk, g->end0, &p0, blk[p0 - 1], 1, g->cur, &g->cur_len)) return 0;
            g->restart = 0;
            return id_add(g->cur, &g->cur_len, v);
        }
        if (v >= SPAR_IDBLOCK_RESTART) return 0;
        g->run_left = (uint32_t)v - 1;
        return spar_id_succ(g->cur, &g->cur_len);
    }
    if (!read_literal(blk, g->end, &g->pos, head, g->restart, g->cur, &g->cur_len)) return 0;
    g->restart = 0;
    return 1;
}

spar_status spar_idblock_count(const uint8_t *blk, size_t len, uint32_t *n) {
    uint64_t pos = 0, v;
    if (!spar_varint_get(blk, len, &pos, &v) || v == 0 || v > SPAR_IDBLOCK_MAX_IDS) return SPAR_E_CORRUPT;
    *n = (uint32_t)v;
    return SPAR_OK;
}

spar_status spar_idblock_get(const uint8_t *blk, size_t len, uint32_t i, uint8_t *out, size_t *out_len) {
    idblock_hdr h;
    spar_status st = parse_header(blk, len, &h);
    if (st != SPAR_OK) return st;
    if (i >= h.n) return SPAR_E_NOT_FOUND;
    uint32_t grp = i / SPAR_IDBLOCK_RESTART;
    group_reader g;
    group_open(&g, blk, &h, grp);
    for (uint32_t k = grp * SPAR_IDBLOCK_RESTART; k <= i; k++) {
        if (g.run_left > 0 && i - k > 0) { /* inside a run: jump straight to id i or the run's end */
            uint32_t step = g.run_left < i - k + 1 ? g.run_left : i - k + 1;
            if (!id_add(g.cur, &g.cur_len, step)) return SPAR_E_CORRUPT;
            g.run_left -= step;
            k += step - 1;
            continue;
        }
        if (!group_next(&g)) return SPAR_E_CORRUPT;
    }
    memcpy(out, g.cur, g.cur_len);
    *out_len = g.cur_len;
    return SPAR_OK;
}

spar_status spar_idblock_each(const uint8_t *blk, size_t len, spar_idblock_fn fn, void *ctx, spar_diag *diag) {
    idblock_hdr h;
    if (parse_header(blk, len, &h) != SPAR_OK)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "id block of %zu bytes: malformed header", len);
    group_reader g;
    for (uint32_t grp = 0; grp < h.groups; grp++) {
        group_open(&g, blk, &h, grp);
        uint32_t first = grp * SPAR_IDBLOCK_RESTART, last = first + SPAR_IDBLOCK_RESTART;
        if (last > h.n) last = h.n;
        for (uint32_t k = first; k < last; k++) {
            if (!group_next(&g))
                return spar_diag_err(diag, SPAR_E_CORRUPT, "id block: entry %u of %u is malformed", k, h.n);
            if (fn != NULL && fn(ctx, k, g.cur, g.cur_len) != 0) return SPAR_E_CANCELLED;
        }
        if (g.pos != g.end || g.run_left != 0)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "id block: restart group %u has stray bytes or ids", grp);
    }
    return SPAR_OK;
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0) return c;
    return al < bl ? -1 : al > bl;
}

/* The id whose sort key is key (for a key that is a sort key; the caller checks): drops the length
 * byte before a trailing run of 1..32 digits. Writes at most key_len bytes. */
static size_t sortkey_inverse(const uint8_t *key, size_t len, uint8_t *out) {
    size_t d = len;
    while (d > 0 && is_digit(key[d - 1])) d--;
    const size_t digits = len - d;
    if (digits >= 1 && digits <= 32 && d >= 1 && key[d - 1] == digits) {
        memcpy(out, key, d - 1);
        memcpy(out + d - 1, key + d, digits);
        return len - 1;
    }
    memcpy(out, key, len);
    return len;
}

/* Order of the id in g->cur against a sort key. */
static int cmp_key(const group_reader *g, const uint8_t *key, size_t key_len) {
    uint8_t sk[SPAR_SORTKEY_MAX];
    size_t n = spar_sortkey(g->cur, g->cur_len, sk);
    return cmp_bytes(sk, n, key, key_len);
}

spar_status spar_idblock_find(const uint8_t *blk, size_t len, uint32_t lo, uint32_t hi, const uint8_t *key,
                              size_t key_len, uint32_t *idx) {
    idblock_hdr h;
    spar_status st = parse_header(blk, len, &h);
    if (st != SPAR_OK) return st;
    if (lo > hi || hi >= h.n) return SPAR_E_CORRUPT;
    group_reader g;
    /* the last group of (lo's group, hi's group] whose restart id is <= key, else lo's group */
    uint32_t g_lo = lo / SPAR_IDBLOCK_RESTART, g_hi = hi / SPAR_IDBLOCK_RESTART;
    while (g_lo < g_hi) {
        uint32_t mid = g_lo + (g_hi - g_lo + 1) / 2;
        group_open(&g, blk, &h, mid);
        if (!group_next(&g)) return SPAR_E_CORRUPT;
        int c = cmp_key(&g, key, key_len);
        if (c == 0) {
            *idx = mid * SPAR_IDBLOCK_RESTART;
            return SPAR_OK;
        }
        if (c < 0) g_lo = mid;
        else g_hi = mid - 1;
    }
    const uint32_t first = g_lo * SPAR_IDBLOCK_RESTART;
    uint32_t last = first + SPAR_IDBLOCK_RESTART - 1;
    if (last > hi) last = hi;
    /* the id whose sort key is key (when key is one), to place it inside a run by arithmetic */
    uint8_t raw[SPAR_SORTKEY_MAX], sk[SPAR_SORTKEY_MAX];
    size_t raw_len = 0;
    int arith = key_len >= 1 && key_len <= SPAR_SORTKEY_MAX && (raw_len = sortkey_inverse(key, key_len, raw)) >= 1 &&
                raw_len <= SPAR_IDBLOCK_ID_MAX && spar_sortkey(raw, raw_len, sk) == key_len &&
                memcmp(sk, key, key_len) == 0;
    group_open(&g, blk, &h, g_lo);
    for (uint32_t k = first; k <= last; k++) {
        if (g.run_left > 0 && arith) { /* ids k .. k+m-1 are the current id plus 1 .. m */
            uint32_t m = g.run_left < last - k + 1 ? g.run_left : last - k + 1;
            if (k < lo && m > lo - k) m = lo - k;
            uint8_t end[SPAR_IDBLOCK_ID_MAX];
            size_t el = g.cur_len;
            memcpy(end, g.cur, el);
            if (!id_add(end, &el, m)) return SPAR_E_CORRUPT;
            int c = k < lo ? -1 : cmp_bytes(sk, spar_sortkey(end, el, sk), key, key_len);
            if (c < 0) { /* past the whole stretch (or before lo): skip it */
                memcpy(g.cur, end, el);
                g.cur_len = el;
                g.run_left -= m;
                k += m - 1;
                continue;
            }
            if (c == 0) {
                *idx = k + m - 1;
                return SPAR_OK;
            }
            const uint64_t j = num_offset(g.cur, g.cur_len, raw, raw_len);
            if (j >= 1 && j < m) {
                *idx = k + (uint32_t)j - 1;
                return SPAR_OK;
            }
            arith = 0; /* not an offset we can compute: one id at a time for the rest */
        }
        if (!group_next(&g)) return SPAR_E_CORRUPT;
        if (k < lo) continue;
        int c = cmp_key(&g, key, key_len);
        if (c == 0) {
            *idx = k;
            return SPAR_OK;
        }
        if (c > 0) {
            *idx = k;
            return SPAR_E_NOT_FOUND;
        }
    }
    *idx = last + 1; /* hi + 1, or the first id of the next group, which is above key */
    return SPAR_E_NOT_FOUND;
}

/* ---- perm block ----
 * h = n << 2 | form, n = 1..64; form 0: delta/run coded docids; form 1: delta/run coded docids, then n
 * tags; form 2: u8 width w (1..32), ceil(n * w / 8) bytes of docids packed from bit 0 (little-endian
 * bit order), then n tags. Delta/run coding: per entry x = zigzag(docid - expected) << 1 | run,
 * expected = previous docid + 1 (0 at first); run = 1 is followed by r >= 1: the next r docids are
 * docid+1 .. docid+r. */

#define PERM_RUNS 0u
#define PERM_RUNS_TAGGED 1u
#define PERM_PACKED_TAGGED 2u

static uint64_t zigzag(int64_t v) { return v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1u : (uint64_t)v << 1; }
static int64_t unzigzag(uint64_t u) { return (u & 1u) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1); }

static size_t encode_runs(const uint32_t *docids, uint32_t n, uint8_t *out) {
    size_t k = 0;
    int64_t expected = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t r = 0;
        while (i + 1 + r < n && docids[i + 1 + r] == docids[i] + 1 + r) r++;
        k += spar_varint_put(out + k, zigzag((int64_t)docids[i] - expected) << 1 | (r > 0));
        if (r > 0) k += spar_varint_put(out + k, r);
        expected = (int64_t)docids[i] + r + 1;
        i += r + 1;
    }
    return k;
}

size_t spar_permblock_encode(const uint32_t *docids, const uint8_t *tags, uint32_t n, uint8_t *out) {
    uint32_t max = 0;
    for (uint32_t i = 0; i < n; i++) max = docids[i] > max ? docids[i] : max;
    unsigned w = 1;
    while (w < 32 && (max >> w) != 0) w++;
    const size_t packed = ((size_t)n * w + 7) / 8;
    size_t k = spar_varint_put(out, (uint64_t)n << 2 | (tags == NULL ? PERM_RUNS : PERM_RUNS_TAGGED));
    const size_t h = k;
    k += encode_runs(docids, n, out + k);
    if (tags != NULL && 1 + packed <= k - h) { /* bit-packed is no larger: random access */
        k = spar_varint_put(out, (uint64_t)n << 2 | PERM_PACKED_TAGGED);
        out[k++] = (uint8_t)w;
        memset(out + k, 0, packed);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t bit = (uint64_t)i * w;
            for (unsigned b = 0; b < w; b++, bit++)
                if (docids[i] >> b & 1u) out[k + bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
        k += packed;
    }
    if (tags != NULL) {
        memcpy(out + k, tags, n);
        k += n;
    }
    return k;
}

spar_status spar_permblock_open(const uint8_t *blk, size_t len, spar_permblock_view *v) {
    uint64_t pos = 0, h, x;
    if (!spar_varint_get(blk, len, &pos, &h) || (h >> 2) == 0 || (h >> 2) > SPAR_PERMBLOCK_MAX_IDS ||
        (h & 3u) > PERM_PACKED_TAGGED)
        return SPAR_E_CORRUPT;
    const uint32_t count = (uint32_t)(h >> 2);
    const unsigned form = (unsigned)(h & 3u);
    v->n = count;
    v->tagged = form != PERM_RUNS;
    v->packed = NULL;
    v->width = 0;
    v->one_run = 0;
    if (form == PERM_PACKED_TAGGED) {
        if (pos >= len || blk[pos] == 0 || blk[pos] > 32) return SPAR_E_CORRUPT;
        v->width = blk[pos++];
        const uint64_t packed = ((uint64_t)count * v->width + 7) / 8;
        if (len - pos != packed + count) return SPAR_E_CORRUPT;
        v->packed = blk + pos;
        v->tags = blk + pos + packed;
        return SPAR_OK;
    }
    int64_t expected = 0;
    uint32_t i = 0;
    while (i < count) {
        if (!spar_varint_get(blk, len, &pos, &x) || (x >> 1) > ((uint64_t)1 << 34)) return SPAR_E_CORRUPT;
        int64_t d = expected + unzigzag(x >> 1);
        uint64_t r = 0;
        if ((x & 1u) && (!spar_varint_get(blk, len, &pos, &r) || r == 0 || r > count - i - 1)) return SPAR_E_CORRUPT;
        if (d < 0 || d + (int64_t)r >= (int64_t)UINT32_MAX) return SPAR_E_CORRUPT;
        if (i == 0 && r == count - 1) { /* one run: docids by arithmetic */
            v->one_run = 1;
            v->run_first = (uint32_t)d;
            i = count;
            break;
        }
        for (uint64_t j = 0; j <= r; j++) v->docids[i++] = (uint32_t)(d + (int64_t)j);
        expected = d + (int64_t)r + 1;
    }
    if (len - pos != (v->tagged ? count : 0)) return SPAR_E_CORRUPT;
    v->tags = v->tagged ? blk + pos : NULL;
    return SPAR_OK;
}

spar_status spar_permblock_docid(const spar_permblock_view *v, uint32_t j, uint32_t *docid) {
    if (v->one_run) {
        *docid = v->run_first + j;
        return SPAR_OK;
    }
    if (v->packed == NULL) {
        *docid = v->docids[j];
        return SPAR_OK;
    }
    uint64_t bit = (uint64_t)j * v->width, d = 0;
    for (unsigned got = 0; got < v->width;) { /* whole bytes where aligned, bits at the edges */
        unsigned off = (unsigned)(bit % 8), take = 8 - off;
        if (take > v->width - got) take = v->width - got;
        d |= (uint64_t)((v->packed[bit / 8] >> off) & ((1u << take) - 1u)) << got;
        got += take;
        bit += take;
    }
    if (d >= UINT32_MAX) return SPAR_E_CORRUPT;
    *docid = (uint32_t)d;
    return SPAR_OK;
}

spar_status spar_permblock_decode(const uint8_t *blk, size_t len, uint32_t *out, uint8_t *tags, int *has_tags,
                                  uint32_t *n) {
    spar_permblock_view v;
    spar_status st = spar_permblock_open(blk, len, &v);
    if (st != SPAR_OK) return st;
    for (uint32_t j = 0; j < v.n; j++)
        if (spar_permblock_docid(&v, j, &out[j]) != SPAR_OK) return SPAR_E_CORRUPT;
    if (v.tagged) memcpy(tags, v.tags, v.n);
    *has_tags = v.tagged;
    *n = v.n;
    return SPAR_OK;
}
