/* index/index.h — internal view of an opened index directory (spar_index, see include/spar/spar_index.h).
 * The public handle is opaque; query/ and tools-side internals reach its parts through these accessors.
 * Everything returned is owned by the index, immutable, valid until spar_index_close(), and safe to
 * read from any number of threads. Implemented in index/index.c. */
#ifndef SPAR_INDEX_INDEX_H
#define SPAR_INDEX_INDEX_H

#include "common/common.h"
#include "index/segment.h"
#include "spar/spar_index.h"

/* Index directory format version (MANIFEST "format"), see docs/format/manifest.md. */
#define SPAR_INDEX_FORMAT_MAJOR 3
#define SPAR_INDEX_FORMAT_MINOR 0

/* The (single) postings segment. Never NULL for an open index. */
const spar_segment *spar_index_segment(const spar_index *ix);
/* Analysis settings recorded at build time; analyse queries with exactly these. */
const spar_analysis_opts *spar_index_analysis(const spar_index *ix);
/* Number of documents (docids are 0 .. n_docs-1). */
uint32_t spar_index_n_docs(const spar_index *ix);
/* BM25 defaults recorded at build time. */
float spar_index_k1(const spar_index *ix);
float spar_index_b(const spar_index *ix);
/* The directory the index was opened from (NUL-terminated). */
const char *spar_index_dir(const spar_index *ix);
/* Whether title/text were stored (build opts store_text). */
int spar_index_has_text(const spar_index *ix);

/* Stored fields of `docid` (only if spar_index_has_text). Copies into caller buffers, NUL-terminated and
 * truncated to cap-1 bytes; *title_len / *text_len (may be NULL) get the full lengths. Either buffer may
 * be NULL with cap 0. Thread-safe. @return SPAR_OK, SPAR_E_NOT_FOUND (no such doc or no stored text),
 * SPAR_E_STORAGE. */
spar_status spar_index_doc_fields(const spar_index *ix, uint32_t docid, char *title, size_t title_cap,
                                  size_t *title_len, char *text, size_t text_cap, size_t *text_len);

#endif
