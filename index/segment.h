/* index/segment.h — one immutable postings segment file (seg-NNNNNN.post): header, document-length norms
 * (1 byte per document, postings.h), posting lists, front-coded term dictionary. Written once by the builder, read through mmap.
 * See docs/format/segment.md. Contract for the index builder, query/ and verify. */
#ifndef SPAR_INDEX_SEGMENT_H
#define SPAR_INDEX_SEGMENT_H

#include "index/postings.h"
#include "storage/file.h"

#define SPAR_SEGMENT_VERSION_MAJOR 3 /* 1.x and 2.x are refused (SPAR_E_VERSION, "rebuild the index") */
#define SPAR_SEGMENT_VERSION_MINOR 0

/* ---- writer: terms added in strictly ascending byte order ----
 * doclens are the exact lengths: their sum gives avgdl exactly; the file keeps spar_norm_encode of each, and
 * block-max data is computed with the decoded lengths (what the query side scores with). */
typedef struct spar_segment_writer spar_segment_writer;
spar_status spar_segment_writer_open(const char *path, uint32_t n_docs, const uint32_t *doclens, float k1,
                                     float b, spar_segment_writer **out, spar_diag *diag);
spar_status spar_segment_writer_add(spar_segment_writer *w, const char *term, size_t term_len,
                                    const uint32_t *docids, const uint32_t *tfs, uint32_t n);
spar_status spar_segment_writer_commit(spar_segment_writer *w, spar_diag *diag); /* frees w */
void spar_segment_writer_abort(spar_segment_writer *w);                          /* frees w; NULL ok */

/* ---- reader ---- */
typedef struct spar_segment spar_segment; /* immutable, share across threads */
/* Maps and fully validates (header, checksum, structure). */
spar_status spar_segment_open(const char *path, spar_segment **out, spar_diag *diag);
/* Same over a caller buffer (kept; must outlive the segment). For fuzzing and tests. */
spar_status spar_segment_open_mem(const uint8_t *buf, size_t len, spar_segment **out, spar_diag *diag);
void spar_segment_close(spar_segment *s);

uint32_t spar_segment_n_docs(const spar_segment *s);
uint64_t spar_segment_n_terms(const spar_segment *s);
uint64_t spar_segment_n_postings(const spar_segment *s);
double spar_segment_avgdl(const spar_segment *s);
float spar_segment_k1(const spar_segment *s);
float spar_segment_b(const spar_segment *s);
/* n_docs norm bytes, owned by s: document d's length for scoring is spar_norm_decode(norms[d]). */
const uint8_t *spar_segment_norms(const spar_segment *s);

/* Term lookup. @return SPAR_OK or SPAR_E_NOT_FOUND. */
spar_status spar_segment_lookup(const spar_segment *s, const char *term, size_t len, spar_term_info *ti);
/* Open a cursor on a looked-up term. */
void spar_segment_cursor(const spar_segment *s, const spar_term_info *ti, spar_cursor *c);
/* Iterate the dictionary in term order: i in [0, n_terms). The term (front-coded in the file) is copied
 * into buf (cap bytes, not NUL-terminated) and *len set to its length; ti may be NULL.
 * @return SPAR_OK, SPAR_E_NOT_FOUND (i >= n_terms), SPAR_E_INVALID_ARG (term longer than cap: *len is the
 * size needed, buf holds its first cap bytes). */
spar_status spar_segment_term_at(const spar_segment *s, uint64_t i, char *buf, size_t cap, size_t *len,
                                 spar_term_info *ti);

#endif
