/* index/postings.h — compressed posting lists and the cursor every query algorithm walks.
 *
 * A list is a sequence of blocks of SPAR_BLOCK_SIZE postings (the last one may be shorter). Each block
 * has skip data (last docid, byte offset) and block-max data (max tf, min doc length, max BM25 tf-part
 * at the index's recorded k1/b), held in a per-list block table so BMW/MaxScore can skip blocks
 * without decoding them. Docid gaps and freqs are bit-packed (SIMD-friendly, see
 * docs/format/postings.md). Contract between index/ (writer, segment) and query/ (algorithms).
 * A cursor is per-thread, reads an immutable (mmapped) list, and never allocates. */
#ifndef SPAR_INDEX_POSTINGS_H
#define SPAR_INDEX_POSTINGS_H

#include <math.h>
#include <stdint.h>

#include "common/common.h"

#define SPAR_BLOCK_SIZE 128
#define SPAR_DOCID_END UINT32_MAX
#define SPAR_POSTINGS_ENTRY_BYTES 16 /* one block-table entry, see docs/format/postings.md */
#define SPAR_POSTINGS_ALIGN 16       /* an alignment in-memory users may give lists; readers need none (segment files do not pad) */

/* BM25 term-frequency part with Lucene >= 8 semantics (no (k1+1) factor; ranking is identical):
 *   tfpart(tf, dl) = tf / (tf + k1 * (1 - b + b * dl / avgdl)),   score = idf * tfpart
 *   idf = log(1 + (N - df + 0.5) / (df + 0.5))
 * norm[d] = k1 * (1 - b + b * dl[d] / avgdl) is precomputed per searcher, so per posting it is
 * tf / (tf + norm[d]). */
static inline float spar_bm25_idf(uint64_t n_docs, uint64_t df) {
    return (float)log1p(((double)n_docs - (double)df + 0.5) / ((double)df + 0.5));
}

/* ---- document-length norms: one byte per document ----
 * Lucene's SmallFloat.intToByte4 scheme (so spar's BM25 sees the same lengths as Lucene 8): lengths
 * 0..23 are exact; above, (dl - 24) keeps its 4 most significant bits (an implicit leading 1 and 3
 * stored bits) and its exponent, i.e. buckets of 12.5% or less. Decoding gives the bucket's smallest
 * length, so spar_norm_decode(spar_norm_encode(dl)) <= dl, and both are monotone. Lengths above
 * 2^31 - 1 share byte 255. Scoring and block-max data both use the decoded length. */
#define SPAR_NORM_EXACT 24u
static inline uint8_t spar_norm_encode(uint32_t dl) {
    if (dl < SPAR_NORM_EXACT) return (uint8_t)dl;
    uint32_t v = (dl > 0x7fffffffu ? 0x7fffffffu : dl) - SPAR_NORM_EXACT;
    unsigned bits = 0;
    for (uint32_t t = v; t != 0; t >>= 1) bits++;
    if (bits < 4) return (uint8_t)(SPAR_NORM_EXACT + v);
    const unsigned shift = bits - 4;
    return (uint8_t)(SPAR_NORM_EXACT + (((v >> shift) & 7u) | ((shift + 1u) << 3)));
}
static inline uint32_t spar_norm_decode(uint8_t n) {
    if (n < SPAR_NORM_EXACT) return n;
    const uint32_t i = (uint32_t)n - SPAR_NORM_EXACT, bits = i & 7u, e = i >> 3;
    return SPAR_NORM_EXACT + (e == 0 ? bits : (bits | 8u) << (e - 1));
}

/* Per-list metadata, stored in (or, for one-block lists, derived from the list and the norms by) the
 * segment's term dictionary. */
typedef struct spar_term_info {
    uint32_t df;          /* postings in the list */
    uint32_t n_blocks;
    uint64_t cf;          /* sum of tf */
    uint64_t offset;      /* byte offset of the list (block table then data) within the postings area */
    uint64_t bytes;       /* encoded size */
    uint32_t max_tf;      /* over the whole list */
    uint32_t min_dl;      /* over the whole list */
    float max_tfpart;     /* upper bound of tfpart over the list at the index's recorded k1/b/avgdl */
} spar_term_info;

/* Decoded state of one list. Fields marked (ro) may be read by algorithms; the rest are private. */
typedef struct spar_cursor {
    uint32_t docid;            /* (ro) current docid; SPAR_DOCID_END when exhausted */
    uint32_t df;               /* (ro) */
    /* block-max view (shallow position, may be ahead of the decoded block): */
    uint32_t sblock;           /* (ro) index of the shallow block */
    uint32_t sblock_last;      /* (ro) last docid of the shallow block; SPAR_DOCID_END past the end */
    /* private: */
    const uint8_t *table;      /* block table, SPAR_POSTINGS_ENTRY_BYTES per block; NULL for one block */
    const uint8_t *data;       /* block data */
    const uint8_t *end;        /* end of the list */
    const uint8_t *tf_data;    /* packed tfs of the decoded block */
    uint32_t n_blocks;
    uint32_t block;            /* decoded block index (n_blocks when exhausted) */
    uint32_t pos, n_in_block;  /* position inside decoded block */
    uint32_t tf_bits;          /* bit width of the decoded block's tfs */
    uint32_t last0;            /* last docid of a one-block list (it has no block table) */
    uint32_t list_max_tf, list_min_dl;
    float list_max_tfpart;
    int freqs_decoded;
    _Alignas(16) uint32_t docs[SPAR_BLOCK_SIZE];
    _Alignas(16) uint32_t freqs[SPAR_BLOCK_SIZE];
} spar_cursor;

/* Encode one list (docids strictly ascending, < SPAR_DOCID_END, tf >= 1) by appending it to `out` (grown
 * with realloc); fills ti (offset = 0; the segment writer sets it). doclens[docid] gives document lengths
 * (NULL: lengths unknown, min_dl = 0 and tf-parts bound with dl = 0); k1/b/avgdl are the recorded BM25
 * params. The stored max_tfpart values are upper bounds: the exact value computed in double, raised by a
 * relative 1e-6 so float re-computations by the query side never exceed them.
 * @return SPAR_OK, SPAR_E_INVALID_ARG (unsorted docids, tf 0), SPAR_E_NOMEM. */
typedef struct spar_buf {
    uint8_t *data;
    size_t len, cap;
} spar_buf;
spar_status spar_buf_reserve(spar_buf *b, size_t extra);
void spar_buf_free(spar_buf *b);
spar_status spar_postings_encode(const uint32_t *docids, const uint32_t *tfs, uint32_t n, const uint32_t *doclens,
                                 float k1, float b, float avgdl, spar_buf *out, spar_term_info *ti);
/* Validate a list's bytes fully (block table monotone, offsets in range, decoded docids ascending and
 * < n_docs). Used by verify and fuzzing. @return SPAR_OK or SPAR_E_CORRUPT. */
spar_status spar_postings_check(const uint8_t *buf, size_t len, const spar_term_info *ti, uint32_t n_docs);

/* Decode and validate a one-block list (df <= SPAR_BLOCK_SIZE) and fill all of ti from it: df, n_blocks 1,
 * cf, offset 0, bytes = len, max_tf, min_dl, max_tfpart, computed exactly as spar_postings_encode does with
 * doclens[d] = spar_norm_decode(norms[d]) (norms NULL: lengths 0). The segment stores only df and the size
 * of such lists and derives the rest at lookup. ti NULL: validate only (what opening a segment needs).
 * @return SPAR_OK or SPAR_E_CORRUPT (malformed, docid >= n_docs, trailing bytes). */
spar_status spar_postings_derive_single(const uint8_t *buf, size_t len, uint32_t df, uint32_t n_docs,
                                        const uint8_t *norms, float k1, float b, float avgdl, spar_term_info *ti);

/* Position a cursor on the first posting of the list at buf (as written by spar_postings_encode, or
 * accepted by spar_postings_check: the cursor trusts the list). buf must stay valid while the cursor is
 * used. An empty list (df 0) gives docid == SPAR_DOCID_END at once. */
void spar_cursor_open(spar_cursor *c, const uint8_t *buf, const spar_term_info *ti);
/* next, next_geq and freq are C99 inline functions: the common case (inside the decoded block) compiles
 * into the caller; postings.c holds their external definitions and the slow paths below (internal). */
void spar_cursor_next_block_(spar_cursor *c);
void spar_cursor_next_geq_slow_(spar_cursor *c, uint32_t target);
uint32_t spar_cursor_freq_decode_(spar_cursor *c);

inline void spar_cursor_next(spar_cursor *c) {
    if (SPAR_LIKELY(++c->pos < c->n_in_block)) {
        c->docid = c->docs[c->pos];
        return;
    }
    spar_cursor_next_block_(c);
}
/* Move to the first posting with docid >= target (no-op if already there). */
inline void spar_cursor_next_geq(spar_cursor *c, uint32_t target) {
    if (target <= c->docid) return; /* also covers the exhausted cursor */
    spar_cursor_next_geq_slow_(c, target);
}
/* tf of the current posting (0 on an exhausted cursor). */
inline uint32_t spar_cursor_freq(spar_cursor *c) {
    if (SPAR_LIKELY(c->freqs_decoded)) return c->freqs[c->pos];
    return spar_cursor_freq_decode_(c);
}
/* Shallow move: position the block-max view on the first block whose last docid is >= target, without
 * decoding (past the end: sblock == n_blocks, sblock_last == SPAR_DOCID_END and the block-max values are 0).
 * Does not move the cursor's docid. */
void spar_cursor_shallow(spar_cursor *c, uint32_t target);
/* Block-max data of the shallow block (0 past the end). All are bounds, safe for pruning:
 * max_tfpart >= every posting's tfpart at the index's recorded params (stored quantised up to 1/65535);
 * max_tf >= every tf (exact up to 65534); min_dl <= every doc length (exact up to 65534).
 * Under other BM25 params (e.g. a global avgdl across segments) max_tf / (max_tf + k1' (1 - b' + b' min_dl /
 * avgdl')) is still a valid bound: tfpart grows with tf and shrinks with dl. */
float spar_cursor_block_max_tfpart(const spar_cursor *c);
uint32_t spar_cursor_block_max_tf(const spar_cursor *c);
uint32_t spar_cursor_block_min_dl(const spar_cursor *c);

#endif
