/* index/corpus.h — streaming corpus and query readers: BEIR JSONL ({"_id","title","text"}) and TSV
 * (id<TAB>text), optionally gzip-compressed (detected by magic bytes, not extension).
 * One line at a time, so corpora larger than RAM stream fine. Every malformed line is reported as
 * "path:line: reason" and can be skipped by calling next() again. Contract for index/ builders, query/
 * batch search and tools/. */
#ifndef SPAR_INDEX_CORPUS_H
#define SPAR_INDEX_CORPUS_H

#include "common/common.h"
#include "spar/spar_index.h"

#define SPAR_CORPUS_MAX_LINE (256u << 20) /* longer lines are malformed ("line too long") */

typedef struct spar_corpus spar_corpus;

typedef struct spar_doc {
    const char *id;    /* NUL-terminated, valid UTF-8, non-empty */
    size_t id_len;
    const char *title; /* "" when absent */
    size_t title_len;
    const char *text;  /* "" when absent (BEIR: "text" must exist as a string; TSV: may be empty) */
    size_t text_len;
    uint64_t line;     /* 1-based line number in the file */
} spar_doc;            /* pointers owned by the reader; valid until the next spar_corpus_next/close */

/* format AUTO: by extension (.tsv/.txt[.gz] -> TSV, otherwise BEIR JSONL). path "-" reads standard input
 * (a duplicate of fd 0; gzip is detected there too). */
spar_status spar_corpus_open(const char *path, spar_corpus_format format, spar_corpus **out, spar_diag *diag);
/* Read the next document. Blank lines are skipped silently (counted in *n_blank if requested).
 * @return SPAR_OK (doc filled), SPAR_E_NOT_FOUND (end of input), SPAR_E_CORRUPT (malformed line:
 *         diag "path:line: reason"; the line was consumed, call again to continue), SPAR_E_IO
 *         (including a truncated gzip stream: "path: truncated gzip stream at byte N", and a damaged
 *         one: "path: corrupt gzip stream near byte N: ..."; stream errors repeat on every later call). */
spar_status spar_corpus_next(spar_corpus *c, spar_doc *doc, spar_diag *diag);
uint64_t spar_corpus_lines(const spar_corpus *c);      /* lines consumed so far (incl. blank/bad) */
uint64_t spar_corpus_blank_lines(const spar_corpus *c);
/* Progress in bytes of the underlying (possibly compressed) file; *total is 0 when unknown (pipe, stdin). */
void spar_corpus_progress(const spar_corpus *c, uint64_t *done, uint64_t *total);
void spar_corpus_close(spar_corpus *c); /* NULL ok */

/* Read from caller memory instead of a file (fuzzing, tests, embedded corpora). `name` is used in
 * diagnostics and, with SPAR_FORMAT_AUTO, for the format; `data` is borrowed and must outlive the reader. */
spar_status spar_corpus_open_mem(const void *data, size_t len, const char *name, spar_corpus_format format,
                                 spar_corpus **out, spar_diag *diag);
/* Lower the line-length limit (0 = SPAR_CORPUS_MAX_LINE; larger values are clamped to it). Call before the
 * first next(). The line buffer never grows beyond max(1 MiB, max_line + 2) bytes. */
void spar_corpus_set_max_line(spar_corpus *c, size_t max_line);
/* Bytes of buffers the reader holds now (line buffer + gzip input), for memory tests. */
size_t spar_corpus_buffer_bytes(const spar_corpus *c);

/* Strict UTF-8 check (no overlongs, no surrogates, ≤ U+10FFFF). Returns the byte offset of the first
 * invalid byte, or len if valid. */
size_t spar_utf8_validate(const char *s, size_t len);

#endif
