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

/* BM25 term-frequency part with Lucene >= 8 semantics (no (k1+1) factor; ranking is identical):
 *   tfpart(tf, dl) = tf / (tf + k1 * (1 - b + b * dl / avgdl)),   score = idf * tfpart
 *   idf = log(1 + (N - df + 0.5) / (df + 0.5))
 * norm[d] = k1 * (1 - b + b * dl[d] / avgdl) is precomputed per searcher, so per posting it is
 * tf / (tf + norm[d]). */
static inline float spar_bm25_idf(uint64_t n_docs, uint64_t df) {
    return (float)log1p(((double)n_docs - (double)df + 0.5) / ((double)df + 0.5));
}

/* Per-list metadata, stored in the term dictionary. */
typedef struct spar_term_info {
    uint32_t df;          /* postings in the list */
    uint32_t n_blocks;
    uint64_t cf;          /* sum of tf */
    uint64_t offset;      /* byte offset of the list (block table then data) within the postings area */
    uint64_t bytes;       /* encoded size */
    uint32_t max_tf;      /* over the whole list */
    uint32_t min_dl;      /* over the whole list */
    float max_tfpart;     /* max tfpart over the list at the index's recorded k1/b/avgdl */
} spar_term_info;

/* Decoded state of one list. Fields marked (ro) may be read by algorithms; the rest are private. */
typedef struct spar_cursor {
    uint32_t docid;            /* (ro) current docid; SPAR_DOCID_END when exhausted */
    uint32_t df;               /* (ro) */
    /* block-max view (shallow position, may be ahead of the decoded block): */
    uint32_t sblock;           /* (ro) index of the shallow block */
    uint32_t sblock_last;      /* (ro) last docid of the shallow block; SPAR_DOCID_END past the end */
    /* private: */
    const uint8_t *table;      /* block table */
    const uint8_t *data;       /* block data */
    const uint8_t *end;
    uint32_t n_blocks;
    uint32_t block;            /* decoded block index */
    uint32_t pos, n_in_block;  /* position inside decoded block */
    int freqs_decoded;
    uint32_t docs[SPAR_BLOCK_SIZE];
    uint32_t freqs[SPAR_BLOCK_SIZE];
} spar_cursor;

/* Encode one list (docids strictly ascending, tf >= 1) into `out` (grown with realloc); fills ti
 * except offset. doclens[docid] gives document lengths; k1/b/avgdl are the recorded BM25 params. */
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

/* Position a cursor on the first posting of the list at buf (as written by spar_postings_encode). */
void spar_cursor_open(spar_cursor *c, const uint8_t *buf, const spar_term_info *ti);
void spar_cursor_next(spar_cursor *c);
/* Move to the first posting with docid >= target (no-op if already there). */
void spar_cursor_next_geq(spar_cursor *c, uint32_t target);
uint32_t spar_cursor_freq(spar_cursor *c); /* tf of the current posting */
/* Shallow move: position the block-max view on the block that may contain target, without decoding. */
void spar_cursor_shallow(spar_cursor *c, uint32_t target);
/* Block-max data of the shallow block. */
float spar_cursor_block_max_tfpart(const spar_cursor *c); /* at the index's recorded params */
uint32_t spar_cursor_block_max_tf(const spar_cursor *c);
uint32_t spar_cursor_block_min_dl(const spar_cursor *c);

#endif
