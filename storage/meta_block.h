/* storage/meta_block.h — the two block codecs of meta.lmdb (format version 3, docs/format/meta-lmdb.md):
 *   id block:   up to SPAR_IDBLOCK_MAX_IDS external ids of consecutive docids, front-coded (shared prefix
 *               with the previous id + suffix) or, for an id that is its predecessor with the trailing
 *               decimal number plus one ("doc9" -> "doc10"), one run entry for the whole run; restarting
 *               every SPAR_IDBLOCK_RESTART ids (a restart id spelled out, or as the block's first id plus a
 *               number) so one id is found by decoding at most one restart group and the block's first id;
 *   perm block: up to SPAR_PERMBLOCK_MAX_IDS docids (the docids of consecutive ids in sort-key order), delta
 *               coded with runs of consecutive docids collapsed, or bit-packed, optionally with one tag
 *               byte per id (a hash byte that lets a lookup skip the ids that cannot match).
 * Pure functions over bytes, no LMDB: the decoders treat their input as untrusted (every read is bounds
 * checked, every malformed block gives SPAR_E_CORRUPT) and are fuzzed by tests/fuzz/fuzz_meta_block.c. */
#ifndef SPAR_STORAGE_META_BLOCK_H
#define SPAR_STORAGE_META_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define SPAR_IDBLOCK_MAX_IDS 128u   /* ids per block at most */
#define SPAR_IDBLOCK_RESTART 16u    /* an entry with no shared prefix every 16 ids */
#define SPAR_IDBLOCK_MAX_BYTES 2000 /* encoded block size at most: two blocks fill a 4 KiB LMDB page and
                                       never spill into overflow pages */
#define SPAR_IDBLOCK_ID_MAX 511u    /* longest id a block can hold (meta.lmdb itself takes 1..509 bytes) */
#define SPAR_SORTKEY_MAX (SPAR_IDBLOCK_ID_MAX + 1u) /* longest sort key */
#define SPAR_IDBLOCK_MAX_OFFSET ((uint64_t)1 << 40)  /* largest number added to an id by a restart */
#define SPAR_PERMBLOCK_MAX_IDS 128u /* docids per perm block (the writer tags blocks of at most 64) */
#define SPAR_PERMBLOCK_MAX_BYTES (4 + SPAR_PERMBLOCK_MAX_IDS * 11)

/* ---- id block encoder (incremental: ids are appended until the block is full) ---- */
typedef struct spar_idblock_enc {
    uint32_t n;                                     /* ids so far */
    uint32_t group_len[SPAR_IDBLOCK_MAX_IDS / SPAR_IDBLOCK_RESTART]; /* bytes of each restart group */
    size_t data_len;
    uint8_t data[SPAR_IDBLOCK_MAX_BYTES];
    uint8_t prev[SPAR_IDBLOCK_ID_MAX];
    size_t prev_len;
    size_t run_at; /* offset in data of the open run's count byte (0: no open run) */
    uint8_t first[SPAR_IDBLOCK_ID_MAX]; /* the block's first id: later restarts may be offsets from it */
    size_t first_len;
} spar_idblock_enc;

/* ---- id order ----
 * The sort key of an id: the id itself, except that a trailing run of 1..32 ASCII digits is preceded by
 * one byte holding its length ("doc9" -> "doc" 0x01 "9", "doc10" -> "doc" 0x02 "10"), so that memcmp order
 * of sort keys puts numbered ids in numeric order (plain or zero-padded). The map is injective. Writes at
 * most len + 1 bytes (room for SPAR_SORTKEY_MAX) and returns the key length. */
size_t spar_sortkey(const uint8_t *id, size_t len, uint8_t *out);
/* Replace id (room for SPAR_IDBLOCK_ID_MAX bytes) by its successor: its trailing decimal number plus one,
 * keeping the width when it has leading zeros ("a09" -> "a10", "a99" -> "a100"). @return 1, or 0 when
 * the id does not end with a digit or the successor would be longer than SPAR_IDBLOCK_ID_MAX. */
int spar_id_succ(uint8_t *id, size_t *len);

void spar_idblock_enc_reset(spar_idblock_enc *e);
/* 1 when `id` (1..SPAR_IDBLOCK_ID_MAX bytes) can be appended without exceeding either limit. An empty
 * block accepts any valid id. */
int spar_idblock_enc_fits(const spar_idblock_enc *e, const uint8_t *id, size_t len);
/* Append (the caller checked spar_idblock_enc_fits). */
void spar_idblock_enc_add(spar_idblock_enc *e, const uint8_t *id, size_t len);
/* Serialize into out (room for SPAR_IDBLOCK_MAX_BYTES); returns the bytes written. */
size_t spar_idblock_enc_finish(const spar_idblock_enc *e, uint8_t *out);

/* ---- id block decoder ---- */
/* Number of ids of a block. @return SPAR_OK or SPAR_E_CORRUPT. */
spar_status spar_idblock_count(const uint8_t *blk, size_t len, uint32_t *n);
/* Copy id number i (0-based) into out (room for SPAR_IDBLOCK_ID_MAX bytes).
 * @return SPAR_OK, SPAR_E_NOT_FOUND (i >= n), SPAR_E_CORRUPT. Decodes at most one restart group. */
spar_status spar_idblock_get(const uint8_t *blk, size_t len, uint32_t i, uint8_t *out, size_t *out_len);
/* Find the id whose sort key is `key` (spar_sortkey) among ids lo..hi of a block whose ids lo..hi are in
 * increasing sort-key order: a binary search over the restart ids in the range, then a scan of one
 * restart group.
 * @return SPAR_OK (*idx = its index); SPAR_E_NOT_FOUND (*idx = hi + 1 when key is greater than every id
 *         of the range, else lo..hi); SPAR_E_CORRUPT (also when hi >= n or lo > hi). */
spar_status spar_idblock_find(const uint8_t *blk, size_t len, uint32_t lo, uint32_t hi, const uint8_t *key,
                              size_t key_len, uint32_t *idx);
/* Decode and validate the whole block, calling fn(ctx, i, id, len) for each id in order (fn returning
 * non-zero stops with SPAR_E_CANCELLED). @return SPAR_OK, SPAR_E_CORRUPT (diag says what), or
 * SPAR_E_CANCELLED. */
typedef int (*spar_idblock_fn)(void *ctx, uint32_t i, const uint8_t *id, size_t len);
spar_status spar_idblock_each(const uint8_t *blk, size_t len, spar_idblock_fn fn, void *ctx, spar_diag *diag);

/* ---- perm block ---- */
/* Encode n (1..SPAR_PERMBLOCK_MAX_IDS) docids into out (room for SPAR_PERMBLOCK_MAX_BYTES); returns bytes.
 * Without tags: delta/run coded. With their ids' one-byte tags: delta/run coded or bit-packed at the
 * width of the largest docid (random access), whichever is smaller. */
size_t spar_permblock_encode(const uint32_t *docids, const uint8_t *tags, uint32_t n, uint8_t *out);

/* A validated block, for lookups: tags (when tagged) and docids by position. */
typedef struct spar_permblock_view {
    uint32_t n;
    int tagged;
    const uint8_t *tags;   /* n bytes inside the block, when tagged */
    const uint8_t *packed; /* bit-packed docids (NULL: in docids[]) */
    unsigned width;        /* bits per packed docid */
    int one_run;           /* the docids are run_first .. run_first + n - 1 (docids[] is not filled) */
    uint32_t run_first;
    uint32_t docids[SPAR_PERMBLOCK_MAX_IDS];
} spar_permblock_view;
/* Parse and check the block structure (delta/run coded docids are decoded here unless they are one run,
 * packed ones read on demand). @return SPAR_OK or SPAR_E_CORRUPT. */
spar_status spar_permblock_open(const uint8_t *blk, size_t len, spar_permblock_view *v);
/* Docid at position j < v->n. @return SPAR_OK or SPAR_E_CORRUPT (a packed value of UINT32_MAX). */
spar_status spar_permblock_docid(const spar_permblock_view *v, uint32_t j, uint32_t *docid);
/* Decode everything into out and tags (room for SPAR_PERMBLOCK_MAX_IDS each); *has_tags says whether the
 * block carries tags (tags is left alone otherwise). Every docid is < UINT32_MAX.
 * @return SPAR_OK or SPAR_E_CORRUPT. */
spar_status spar_permblock_decode(const uint8_t *blk, size_t len, uint32_t *out, uint8_t *tags, int *has_tags,
                                  uint32_t *n);

#endif
