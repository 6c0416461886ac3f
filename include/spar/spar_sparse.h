/* spar_sparse.h — learned-sparse (SPLADE-style) vector search: an exact impact index with block-max
 * pruning over docid blocks (BMP-style) and an approximate Seismic-class index, both over one forward index.
 *
 * Vectors are sets of (term id, weight) with term ids ascending and weights >= 0. A document's score for a
 * query is the dot product, always summed in float over the matching terms in ascending term-id order, so
 * every algorithm (exhaustive, BMP, Seismic re-scoring) computes bit-identical scores for the same pair.
 * Hits are ordered by score descending, then docid ascending; documents scoring 0 are never returned.
 * Formats: docs/format/sparse.md. Guide and measured figures: docs/sparse.md, bench/sparse/README.md. */
#ifndef SPAR_SPARSE_H
#define SPAR_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "spar_query.h" /* spar_hit */
#include "spar_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One sparse vector (a view: the caller owns the arrays). ids strictly ascending, weights finite, >= 0. */
typedef struct spar_sparse_vec {
    const uint32_t *ids;
    const float *weights;
    uint32_t n;
} spar_sparse_vec;

/** A row-major sparse matrix (CSR) owned by spar when produced by a reader; free with spar_sparse_csr_free().
 *  Row r spans [offsets[r], offsets[r+1]) of ids/weights; ids ascending within a row. keys (may be NULL)
 *  holds each row's external id string ("id" or "_id" in JSONL). */
typedef struct spar_sparse_csr {
    uint32_t n_rows;
    uint32_t dim; /* term ids are < dim */
    uint64_t *offsets; /* n_rows + 1 */
    uint32_t *ids;
    float *weights;
    char **keys; /* n_rows strings or NULL */
} spar_sparse_csr;
SPAR_API void spar_sparse_csr_free(spar_sparse_csr *m); /* frees the arrays, zeroes *m; NULL ok */
/** Row r as a vector view (valid while m lives). */
SPAR_API spar_sparse_vec spar_sparse_csr_row(const spar_sparse_csr *m, uint32_t r);

/** A token -> term id map, one token per line, id = 0-based line number (BERT vocab.txt). */
typedef struct spar_sparse_vocab spar_sparse_vocab;
/** @return SPAR_OK, SPAR_E_IO, SPAR_E_CORRUPT (duplicate token: "path:line: duplicate token"), SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_vocab_load(const char *path, spar_sparse_vocab **out,
                                                           spar_diag *diag);
SPAR_API void spar_sparse_vocab_free(spar_sparse_vocab *v); /* NULL ok */
SPAR_API uint32_t spar_sparse_vocab_size(const spar_sparse_vocab *v);
/** Term id of a token, or UINT32_MAX if absent. Thread-safe. */
SPAR_API uint32_t spar_sparse_vocab_find(const spar_sparse_vocab *v, const char *tok, size_t len);

/** Read sparse vectors from JSONL, plain or gzip (detected by magic bytes). One object per line with an id
 *  ("id" or "_id", string or number) and "vector": {token: weight}. Accepts Anserini JsonVectorCollection
 *  ({"id","contents","vector"}), Seismic JSONL ({"id","vector"}) and query files ({"_id","vector"}).
 *  With a vocab, tokens map through it (dim = vocab size); unknown tokens are an error unless
 *  skip_unknown, which drops them (count in *n_unknown, NULL ok). Without a vocab, tokens must be decimal
 *  term ids < dim. Duplicate tokens in one vector are summed; negative or non-finite weights are errors.
 *  @return SPAR_OK; SPAR_E_IO; SPAR_E_CORRUPT with "path:line: reason"; SPAR_E_NOMEM; SPAR_E_INVALID_ARG. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_csr_read_jsonl(const char *path, const spar_sparse_vocab *vocab,
                                                              uint32_t dim, int skip_unknown,
                                                              spar_sparse_csr *out, uint64_t *n_unknown,
                                                              spar_diag *diag);
/** Parse one JSONL text held in memory (same rules; `name` is used in messages). Used by fuzzing. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_csr_parse_jsonl(const char *text, size_t len, const char *name,
                                                               const spar_sparse_vocab *vocab, uint32_t dim,
                                                               int skip_unknown, spar_sparse_csr *out,
                                                               uint64_t *n_unknown, spar_diag *diag);

/* ---------------------------------------------------------------------------------------------------- */
typedef struct spar_sparse_index spar_sparse_index;       /* immutable after build/load; share across threads */
typedef struct spar_sparse_searcher spar_sparse_searcher; /* per-thread scratch; never share */

typedef struct spar_sparse_build_opts {
    uint32_t bmp_block;      /* docs per block of the exact block-max index (default 8, 8..65536) */
    int build_approx;        /* 1 (default): also build the Seismic-class approximate index */
    uint32_t n_postings;     /* approx: keep the top-n_postings of each posting list by weight (default 4000) */
    float block_fraction;    /* approx: clusters per kept list = ceil(fraction * list length) (default 0.1) */
    float summary_energy;    /* approx: summaries keep the heaviest terms covering this L1 share (default 0.4) */
    uint32_t n_threads;      /* build threads (0 = all; needs OpenMP) */
    uint64_t seed;           /* clustering seed (default 1): same input + seed = same index */
    int reorder;             /* 1 (default): renumber docs internally by clustering so that docid blocks are
                                tight (much stronger block-max bounds); results still carry caller docids */
    uint32_t weight_bits;    /* 32 (default): float weights; 8: weights quantized per term to u8 codes
                                (code = round(w / step_t), step_t = max_t / 255; score error <= sum_t q_t *
                                step_t / 2, docs/sparse.md); every exact algorithm is exact over the
                                quantized scores. */
} spar_sparse_build_opts;
SPAR_API void spar_sparse_build_opts_default(spar_sparse_build_opts *o);

/** Build from a CSR (copied; the caller keeps ownership). Rows must have ascending ids < dim (<= 65536),
 *  finite weights >= 0.  @return SPAR_OK, SPAR_E_INVALID_ARG (with the row), SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_build(const spar_sparse_csr *docs,
                                                           const spar_sparse_build_opts *opts,
                                                           spar_sparse_index **out, spar_diag *diag);
/** Build from parallel arrays (n_docs views). */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_build_vecs(const spar_sparse_vec *docs, uint32_t n_docs,
                                                                uint32_t dim, const spar_sparse_build_opts *opts,
                                                                spar_sparse_index **out, spar_diag *diag);
/** Read a JSONL file (see spar_sparse_csr_read_jsonl) and build. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_build_jsonl(const char *path, const spar_sparse_vocab *vocab,
                                                                 uint32_t dim, const spar_sparse_build_opts *opts,
                                                                 spar_sparse_index **out, spar_diag *diag);
SPAR_API void spar_sparse_index_free(spar_sparse_index *ix); /* NULL ok */

typedef struct spar_sparse_stats {
    uint32_t n_docs, dim;
    uint64_t nnz;
    uint64_t bytes_forward;  /* forward index: u16 term ids + float weights + offsets */
    uint64_t bytes_inverted; /* docid-ordered postings (exhaustive oracle) */
    uint64_t bytes_blockmax; /* exact block-max bounds */
    uint64_t bytes_approx;   /* Seismic lists, blocks, summaries (0 if not built) */
    uint64_t approx_blocks, approx_postings, approx_summary_nnz;
    double build_seconds, approx_build_seconds;
} spar_sparse_stats;
SPAR_API void spar_sparse_index_stats(const spar_sparse_index *ix, spar_sparse_stats *out);

/** Save to one versioned, checksummed file (kind SPAR_KIND_SEISMIC, format 2, docs/format/sparse.md): every
 *  array of the index (forward, inverted, block maxima, skip blocks, 8-bit codes, approximate part) at 64-byte
 *  aligned offsets, so that loading is a memory map with nothing rebuilt. Atomic (tmp + rename). */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_save(const spar_sparse_index *ix, const char *path,
                                                          spar_diag *diag);
/** Load a saved index as read-only views into a memory map of the file (nothing rebuilt, nothing copied; the
 *  OS pages it in), after checking all of it: the payload XXH3 and every offset, id and weight (O(file size)).
 *  Safe on untrusted files. The file must not be modified in place while the index lives (replacing it by
 *  rename, as spar_sparse_index_save does, is safe). A format-1 file (older spar) is still read: copied into
 *  RAM and its exact parts rebuilt, O(nnz), with a warning logged.
 *  @return SPAR_OK, SPAR_E_IO, SPAR_E_CORRUPT ("path: byte N: reason"), SPAR_E_VERSION, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_load(const char *path, spar_sparse_index **out,
                                                          spar_diag *diag);
/** Like spar_sparse_index_load, but the open checks only what is read to reach the data (O(dim + n_docs +
 *  approximate blocks), milliseconds for millions of documents): the header, the checksummed section table,
 *  every section's placement and every offset array (each with its own XXH3). The bulk arrays (ids, docids,
 *  weights) are trusted without being read: a file damaged inside them after it was written is found by
 *  spar_sparse_index_load or `spar verify`, not here. For services that restart on their own files.
 *  (A format-1 file: as spar_sparse_index_load, with its approximate part viewed in place.) Same return codes. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_load_mapped(const char *path, spar_sparse_index **out,
                                                                 spar_diag *diag);
/** Same checks as spar_sparse_index_load, from a file image in memory (copied: buf may go away; fuzzing). */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_load_mem(const uint8_t *buf, size_t size, const char *name,
                                                              spar_sparse_index **out, spar_diag *diag);

SPAR_API SPAR_NODISCARD spar_status spar_sparse_searcher_create(const spar_sparse_index *ix,
                                                               spar_sparse_searcher **out);
SPAR_API void spar_sparse_searcher_free(spar_sparse_searcher *s); /* NULL ok */

typedef enum spar_sparse_exact_algo {
    SPAR_SPARSE_EXHAUSTIVE = 0, /* term-at-a-time over every posting: the oracle */
    SPAR_SPARSE_BMP = 1,        /* block-max pruning over docid blocks; same top-k, bit-identical */
    SPAR_SPARSE_MAXSCORE = 2,   /* document-at-a-time MaxScore over the postings; same top-k, bit-identical */
    SPAR_SPARSE_BMW = 3         /* document-at-a-time BlockMax-WAND over the postings; same top-k */
} spar_sparse_exact_algo;

/** Exact top-k: writes min(k, #docs with score > 0) hits into hits[0..k), best first, *n_hits the count.
 *  Query ids must be ascending, < dim, weights finite >= 0 (else SPAR_E_INVALID_ARG). k in 1..SPAR_MAX_K.
 *  Thread-safety: one searcher per thread. Counters of the last query: spar_sparse_searcher_last_scored. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_search_exact(spar_sparse_searcher *s, const spar_sparse_vec *q,
                                                            uint32_t k, spar_sparse_exact_algo algo,
                                                            spar_hit *hits, size_t *n_hits);

typedef struct spar_sparse_approx_params {
    uint32_t query_cut;  /* traverse the lists of the query_cut heaviest query terms (default 10; 0 = all) */
    float heap_factor;   /* visit a block if summary.q > kth_score * heap_factor ... see docs (default 0.9) */
} spar_sparse_approx_params;
SPAR_API void spar_sparse_approx_params_default(spar_sparse_approx_params *p);

/** Approximate top-k (Seismic): candidate docs are scored exactly, so returned scores are true scores.
 *  @return as spar_sparse_search_exact; SPAR_E_UNSUPPORTED if the index has no approximate part. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_search_approx(spar_sparse_searcher *s, const spar_sparse_vec *q,
                                                             uint32_t k, const spar_sparse_approx_params *p,
                                                             spar_hit *hits, size_t *n_hits);

/** Batch search of n_q queries on n_threads threads (0 = all). hits has n_q*k slots, query i writes
 *  hits[i*k ...] and n_hits[i]. approx == NULL: exact with `algo`; else approximate with *approx. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_search_batch(const spar_sparse_index *ix, const spar_sparse_vec *qs,
                                                            uint32_t n_q, uint32_t k, spar_sparse_exact_algo algo,
                                                            const spar_sparse_approx_params *approx,
                                                            uint32_t n_threads, spar_hit *hits, size_t *n_hits);

/** Documents fully scored by the searcher's last query (work counter for benchmarks). */
SPAR_API uint64_t spar_sparse_searcher_last_scored(const spar_sparse_searcher *s);


/* ---- index directories and CIFF (index/sparse/sparse_dir.c, sparse_ciff.c; docs/format/sparse-dir.md) ---- */
/** An opened learned-sparse index directory: the index, the caller's document ids, the vocabulary.
 *  Immutable after open; share across threads. */
typedef struct spar_sparse_dir spar_sparse_dir;

/** Write an index directory: sparse.idx (spar_sparse_index_save), docids.txt (one id per line; doc_ids NULL =
 *  decimal docids), vocab.txt (tokens[0..n_tokens), term id = line; NULL = query tokens are decimal term ids)
 *  and, last, MANIFEST. Everything goes to "<dir>.tmp-<pid>" and is renamed into place when complete.
 *  Ids and tokens must be non-empty and hold no '\n', '\r' or NUL; n_tokens must equal the index's dim.
 *  @return SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_EXISTS (dir exists and !overwrite), SPAR_E_IO, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_dir_write(const char *dir, const spar_sparse_index *ix,
                                                         const char *const *doc_ids, const char *const *tokens,
                                                         uint32_t n_tokens, int overwrite, spar_diag *diag);
/** Open and check a directory (MANIFEST checksum, every file's size, the XXH3 of docids.txt and vocab.txt, then
 *  each file's own checks; sparse.idx as by spar_sparse_index_load_mapped, see spar_sparse_dir_open_flags).
 *  @return SPAR_OK; SPAR_E_NOT_FOUND if dir has no MANIFEST or its MANIFEST is not a sparse index's (e.g. a
 *  BM25 index); SPAR_E_IO, SPAR_E_CORRUPT ("file: reason"), SPAR_E_VERSION, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_dir_open(const char *dir, spar_sparse_dir **out, spar_diag *diag);
/** spar_sparse_dir_open_flags flag: check the whole of sparse.idx too (its XXH3 in the MANIFEST and every element,
 *  as spar_sparse_index_load; O(index size)). Without it (spar_sparse_dir_open) sparse.idx is opened as by
 *  spar_sparse_index_load_mapped (its size is checked against the MANIFEST, its bulk is not read); docids.txt and
 *  vocab.txt are always hashed. `spar verify` uses this flag. */
#define SPAR_SPARSE_VERIFY_ALL 1u
SPAR_API SPAR_NODISCARD spar_status spar_sparse_dir_open_flags(const char *dir, unsigned flags, spar_sparse_dir **out,
                                                              spar_diag *diag);
SPAR_API void spar_sparse_dir_close(spar_sparse_dir *d); /* NULL ok */
/** 1 if dir holds a MANIFEST that declares a learned-sparse index (cheap: reads only the MANIFEST), else 0. */
SPAR_API int spar_sparse_dir_detect(const char *dir);
/** Borrowed views, owned by d and valid until spar_sparse_dir_close(d). The vocab is NULL without vocab.txt. */
SPAR_API const spar_sparse_index *spar_sparse_dir_index(const spar_sparse_dir *d);
SPAR_API const spar_sparse_vocab *spar_sparse_dir_vocab(const spar_sparse_dir *d);
/** The caller's id of document docid (NUL-terminated; *len NULL ok), or NULL if docid >= n_docs. */
SPAR_API const char *spar_sparse_dir_doc_id(const spar_sparse_dir *d, uint32_t docid, size_t *len);
/** Token of term id (NULL if there is no vocab.txt or id >= dim). */
SPAR_API const char *spar_sparse_dir_token(const spar_sparse_dir *d, uint32_t id, size_t *len);

/** The indexed documents back as a CSR in the caller's docid order (keys NULL). Free with spar_sparse_csr_free.
 *  @return SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_index_to_csr(const spar_sparse_index *ix, spar_sparse_csr *out);

/** A Common Index File Format (CIFF, github.com/osirrc/ciff) index read into memory. Documents are the DocRecords
 *  in docid order (row = CIFF docid, keys = collection_docid); weights are the postings' tf (impacts).
 *  Term t of the CSR is terms[t], the t-th PostingsList. */
typedef struct spar_sparse_ciff {
    spar_sparse_csr docs;
    char **terms;          /* docs.dim strings */
    uint64_t n_postings;
    char description[256]; /* Header.description, cut to fit */
} spar_sparse_ciff;
SPAR_API void spar_sparse_ciff_free(spar_sparse_ciff *c); /* NULL ok; zeroes *c */
/** Read a CIFF file. Every varint, length and count is validated; errors are SPAR_E_CORRUPT
 *  "path: byte N: reason". Limits: < 2^31 docs, <= 65536 postings lists (the index's dim), tf >= 0.
 *  @return SPAR_OK, SPAR_E_IO, SPAR_E_CORRUPT, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_ciff_read(const char *path, spar_sparse_ciff *out, spar_diag *diag);
/** Same from memory (`name` used in messages); fuzzed by tests/fuzz/fuzz_ciff.c. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_ciff_parse(const uint8_t *buf, size_t len, const char *name,
                                                          spar_sparse_ciff *out, spar_diag *diag);
/** Write an index directory as CIFF: one PostingsList per term with postings (docids gap-encoded, in the
 *  caller's docid order), tf = round(weight * scale) (postings that round to 0 are dropped, counted in
 *  *n_dropped, NULL ok), then one DocRecord per document (doclength = its number of terms). scale 0 = 1 if
 *  every weight is an integer, else SPAR_E_INVALID_ARG asking for a scale. Atomic (tmp + rename).
 *  @return SPAR_OK, SPAR_E_INVALID_ARG, SPAR_E_IO, SPAR_E_NOMEM. */
SPAR_API SPAR_NODISCARD spar_status spar_sparse_ciff_export(const spar_sparse_dir *d, const char *path, double scale,
                                                           const char *description, uint64_t *n_dropped,
                                                           spar_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
