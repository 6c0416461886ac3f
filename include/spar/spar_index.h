/* spar_index.h — building, opening and verifying an index directory (BM25 inverted index).
 *
 * An index is a directory: MANIFEST (written last, atomically), meta.lmdb/ (external id <-> docid, stored
 * fields, settings), seg-NNNNNN.post (postings, dictionary, document lengths, block maxima). See
 * docs/format/. Building streams the corpus, so corpora larger than RAM index fine; the result is
 * byte-identical whatever the thread count. */
#ifndef SPAR_INDEX_H
#define SPAR_INDEX_H

#include "spar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- analysis: text -> terms (stored in the index; queries are analysed the same way) ---- */
typedef struct spar_analysis_opts {
    int lowercase;         /* Unicode case folding (utf8proc); default 1 */
    int strip_accents;     /* NFD + drop combining marks; default 1 */
    char stopwords[32];    /* "none" or "english" (Lucene's 33-word English set); default "english" */
    char stemmer[32];      /* "none", "porter", or any libstemmer algorithm name ("english", ...);
                              default "porter" */
    uint32_t max_token_bytes; /* longer tokens are dropped; default 255 */
} spar_analysis_opts;
SPAR_API void spar_analysis_opts_default(spar_analysis_opts *o);

typedef enum spar_corpus_format {
    SPAR_FORMAT_AUTO = 0, /* by extension: .jsonl/.json(.gz) -> BEIR, .tsv/.txt(.gz) -> TSV */
    SPAR_FORMAT_BEIR = 1, /* JSON lines {"_id","title","text"} */
    SPAR_FORMAT_TSV = 2   /* id<TAB>text */
} spar_corpus_format;

typedef enum spar_on_error {
    SPAR_ON_ERROR_FAIL = 0, /* stop at the first malformed line; nothing is written */
    SPAR_ON_ERROR_SKIP = 1  /* skip malformed lines, count them in spar_build_stats */
} spar_on_error;

typedef struct spar_build_opts {
    spar_corpus_format format;
    spar_on_error on_error;
    int n_threads;           /* 0 = all available */
    spar_analysis_opts analysis;
    float k1, b;             /* BM25 defaults recorded in the index (0.9 / 0.4); queries may override */
    size_t mem_budget;       /* bytes of in-memory postings before spilling a run; 0 = 1 GiB */
    int store_text;          /* keep title+text in meta.lmdb (default 0: only ids) */
    int overwrite;           /* replace an existing index directory (default 0: SPAR_E_EXISTS) */
    spar_progress_fn progress;
    void *progress_ud;
} spar_build_opts;
SPAR_API void spar_build_opts_default(spar_build_opts *o);

typedef struct spar_build_stats {
    uint64_t n_lines;      /* input lines seen (all files) */
    uint64_t n_docs;       /* documents indexed */
    uint64_t n_skipped;    /* malformed lines skipped (on_error = skip) */
    uint64_t n_blank;      /* empty lines ignored */
    uint64_t n_terms;      /* distinct terms */
    uint64_t n_postings;
    uint64_t index_bytes;  /* total size of the index directory */
    double seconds;
    char first_error[512]; /* first skipped line's diagnostic, "" if none */
} spar_build_stats;

/** Build an index at `dir` from `n_inputs` corpus files (read in order; docids follow input order).
 *  The index is built in a temporary sibling directory and renamed into place only when complete, so a
 *  failure or cancellation leaves nothing half-written.
 *  @return SPAR_OK, SPAR_E_CORRUPT (malformed line with on_error=fail; diag "file:line: reason"),
 *          SPAR_E_IO, SPAR_E_EXISTS, SPAR_E_NOMEM, SPAR_E_STORAGE, SPAR_E_CANCELLED, SPAR_E_INVALID_ARG.
 *  Thread-safety: uses up to opts->n_threads threads internally; independent builds may run concurrently. */
SPAR_API SPAR_NODISCARD spar_status spar_index_build(const char *const *inputs, size_t n_inputs, const char *dir,
                                                     const spar_build_opts *opts, spar_build_stats *stats,
                                                     spar_diag *diag);

/* ---- reading ---- */
typedef struct spar_index spar_index; /* immutable after open; share freely across threads */

/** Open an index directory read-only; every checksum is verified.
 *  @return SPAR_OK, SPAR_E_IO, SPAR_E_CORRUPT, SPAR_E_VERSION, SPAR_E_NOMEM, SPAR_E_STORAGE. */
SPAR_API SPAR_NODISCARD spar_status spar_index_open(const char *dir, spar_index **out, spar_diag *diag);
SPAR_API void spar_index_close(spar_index *ix); /* NULL is a no-op */

/** Check every file of an index directory (headers, versions, checksums, cross-references) without
 *  keeping it open. `report` (may be NULL) is called once per checked file with a one-line summary. */
typedef void (*spar_verify_report_fn)(void *ud, const char *file, spar_status st, const char *detail);
SPAR_API SPAR_NODISCARD spar_status spar_index_verify(const char *dir, spar_verify_report_fn report, void *ud,
                                                      spar_diag *diag);

typedef struct spar_index_info {
    uint64_t n_docs;
    uint64_t n_terms;
    uint64_t n_postings;
    double avg_doclen;      /* in terms */
    float k1, b;            /* defaults recorded at build time */
    spar_analysis_opts analysis;
    uint64_t index_bytes;
} spar_index_info;
SPAR_API void spar_index_get_info(const spar_index *ix, spar_index_info *info);

/** External id of internal docid `docid`, copied NUL-terminated into `buf` (truncated to cap-1 bytes).
 *  *len (may be NULL) gets the full length. @return SPAR_OK, SPAR_E_NOT_FOUND, SPAR_E_STORAGE, SPAR_E_CORRUPT
 *  (a damaged id block; `spar verify` names it). Thread-safe. */
SPAR_API SPAR_NODISCARD spar_status spar_index_doc_id(const spar_index *ix, uint32_t docid, char *buf, size_t cap,
                                                      size_t *len);
/** Internal docid of external id `id` (len bytes). @return SPAR_OK, SPAR_E_NOT_FOUND, SPAR_E_STORAGE,
 *  SPAR_E_CORRUPT (a damaged id block). Thread-safe. */
SPAR_API SPAR_NODISCARD spar_status spar_index_lookup_id(const spar_index *ix, const char *id, size_t len,
                                                         uint32_t *docid);

#ifdef __cplusplus
}
#endif
#endif
