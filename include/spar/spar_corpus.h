/* spar_corpus.h — reading corpus and query files (BEIR JSONL or TSV, optionally gzip) through the same
 * streaming reader the index builder uses, and reading back stored document fields of an index.
 * For hosts that search a query file or inspect a corpus without re-implementing the formats
 * (the `spar search --queries` command is one). Implemented in index/docs_api.c. */
#ifndef SPAR_CORPUS_H
#define SPAR_CORPUS_H

#include "spar_index.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spar_docs spar_docs; /* one reader; not thread-safe */

typedef struct spar_doc_view {
    const char *id;    /* NUL-terminated, valid UTF-8, non-empty */
    size_t id_len;
    const char *title; /* "" when absent */
    size_t title_len;
    const char *text;  /* "" when absent */
    size_t text_len;
    uint64_t line;     /* 1-based line number in the file */
} spar_doc_view;       /* pointers owned by the reader; valid until the next spar_docs_next()/close() */

/** Open a BEIR JSONL ({"_id", "title"?, "text"}) or TSV (id<TAB>text) file; gzip is detected by content.
 *  SPAR_FORMAT_AUTO picks TSV for .tsv/.txt[.gz], else BEIR. Queries files use the same layouts.
 *  @return SPAR_OK, SPAR_E_IO (diag names the file), SPAR_E_NOMEM, SPAR_E_INVALID_ARG. */
SPAR_API SPAR_NODISCARD spar_status spar_docs_open(const char *path, spar_corpus_format format, spar_docs **out,
                                                   spar_diag *diag);
/** Next record. Blank lines are skipped.
 *  @return SPAR_OK (doc filled), SPAR_E_NOT_FOUND (end of input), SPAR_E_CORRUPT (malformed line, diag
 *          "path:line: reason"; the line was consumed and calling again goes on with the next one),
 *          SPAR_E_IO (read error or truncated gzip stream). */
SPAR_API SPAR_NODISCARD spar_status spar_docs_next(spar_docs *d, spar_doc_view *doc, spar_diag *diag);
/** Lines consumed so far, including blank and malformed ones; and blank lines alone. */
SPAR_API uint64_t spar_docs_lines(const spar_docs *d);
SPAR_API uint64_t spar_docs_blank_lines(const spar_docs *d);
/** Bytes of the underlying (possibly compressed) file consumed so far and in total (0 if unknown). */
SPAR_API void spar_docs_progress(const spar_docs *d, uint64_t *done, uint64_t *total);
SPAR_API void spar_docs_close(spar_docs *d); /* NULL is a no-op */

/** Stored title and text of internal docid `docid` (present only if the index was built with store_text).
 *  Copied NUL-terminated into caller buffers, truncated to cap-1 bytes; *title_len / *text_len (may be NULL)
 *  get the full lengths; a buffer may be NULL with cap 0.
 *  @return SPAR_OK, SPAR_E_NOT_FOUND (no such docid, or no stored text), SPAR_E_STORAGE. Thread-safe. */
SPAR_API SPAR_NODISCARD spar_status spar_index_doc_text(const spar_index *ix, uint32_t docid, char *title,
                                                        size_t title_cap, size_t *title_len, char *text,
                                                        size_t text_cap, size_t *text_len);

#ifdef __cplusplus
}
#endif
#endif
