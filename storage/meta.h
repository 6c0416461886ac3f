/* storage/meta.h — the LMDB-backed metadata store of an index directory (meta.lmdb/): external id <->
 * docid, optional stored fields (title/text), settings key/values. storage/meta.c is the only place that
 * includes lmdb.h. Every record lives in LMDB's main database under a one-byte kind prefix (a small
 * index is one leaf page). Ids are stored once, front-coded in blocks of consecutive docids; the reverse
 * map holds docids only (storage/meta_block.h). The writer is used by the index builder (single writer,
 * one thread at a time); the reader by spar_index_open/verify (read-only, thread-safe lookups).
 * Layout (format version 3): docs/format/meta-lmdb.md. */
#ifndef SPAR_STORAGE_META_H
#define SPAR_STORAGE_META_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define SPAR_META_DATA_FILE "data.mdb" /* the one file of the LMDB environment (opened with MDB_NOLOCK) */

/* ---- writer ---- */
typedef struct spar_meta_writer spar_meta_writer;
/* Create a new environment in directory `dir` (created; must not exist), and the scratch file
 * dir/build.mdb that holds id blocks and stored fields until close. map_bytes is the initial map size of
 * each (grown automatically when full). */
spar_status spar_meta_writer_open(const char *dir, uint64_t map_bytes, int store_text, spar_meta_writer **out,
                                  spar_diag *diag);
/* Begin a batch. Documents are added in docid order 0, 1, 2, ...; LMDB is written when the batch ends. */
spar_status spar_meta_writer_begin(spar_meta_writer *w, spar_diag *diag);
/* Add one document with the next docid (== number of documents added so far). Duplicates are found at
 * once through an in-memory table (10.7-21.3 bytes per document until close).
 * @return SPAR_OK; SPAR_E_EXISTS when `id` is already present (*first_docid gets its docid; nothing is
 *         added); SPAR_E_CORRUPT when the id is empty or longer than spar_meta_max_id_bytes() (diag says
 *         why); SPAR_E_NOMEM; SPAR_E_STORAGE. */
spar_status spar_meta_writer_add(spar_meta_writer *w, const char *id, size_t id_len, const char *title,
                                 size_t title_len, const char *text, size_t text_len, uint32_t *first_docid,
                                 spar_diag *diag);
/* End the batch: its stored fields, then its complete id blocks, are committed to the scratch file (the
 * map is grown and the write redone on MDB_MAP_FULL); the logical hashes are updated for its documents. */
spar_status spar_meta_writer_end(spar_meta_writer *w, spar_diag *diag);
/* Settings (outside any batch; kept in memory until close; a name is 1..510 bytes, set again replaces). */
spar_status spar_meta_writer_set(spar_meta_writer *w, const char *key, const char *value, spar_diag *diag);
/* Number of committed documents and the running hashes of the "doc2id" and "fields" contents. */
uint64_t spar_meta_writer_n_docs(const spar_meta_writer *w);
/* Write the last id block; append to data.mdb, in key order, the stored fields and id blocks (copied
 * from the scratch file), the id -> docid blocks (sorting all ids: their sort keys + 16 bytes per
 * document of transient memory), the settings and the header; compact the environment into a fresh
 * data.mdb (renamed over the old one), remove the scratch file, and fill the logical content hashes.
 * Frees w in all cases. */
spar_status spar_meta_writer_close(spar_meta_writer *w, uint64_t *doc2id_xxh3, uint64_t *fields_xxh3,
                                   spar_diag *diag);
void spar_meta_writer_abort(spar_meta_writer *w); /* NULL ok; leaves files for the caller to remove */
/* Longest external id accepted: 509 bytes (LMDB's 511-byte key limit less the kind byte and the sort
 * key's length byte: id2doc keys are the sort keys of ids). */
size_t spar_meta_max_id_bytes(void);

/* ---- reader ---- */
typedef struct spar_meta spar_meta; /* read-only; lookups are thread-safe */
/* Reads the header and checks its record counts against the B-tree.
 * @return SPAR_OK; SPAR_E_VERSION for another meta format version (1: one LMDB entry per id, 2: named
 * databases; both "rebuild the index"); SPAR_E_CORRUPT; SPAR_E_STORAGE. diag names dir. */
spar_status spar_meta_open(const char *dir, spar_meta **out, spar_diag *diag);
void spar_meta_close(spar_meta *m);
/* Logical entry counts of id2doc and doc2id (the header's document count) and of fields, from the
 * header checked at open (cheap; always SPAR_OK). */
spar_status spar_meta_counts(const spar_meta *m, uint64_t *n_id2doc, uint64_t *n_doc2id, uint64_t *n_fields,
                             spar_diag *diag);
/* @return SPAR_OK, SPAR_E_NOT_FOUND, SPAR_E_CORRUPT (a block does not decode), SPAR_E_STORAGE.
 * doc_id copies as spar_index_doc_id documents; lookup finds the id2doc block that can hold the id (by
 * sort key) and confirms its candidates (tag matches, or a search of its docid run) by reading their
 * ids in doc2id. */
spar_status spar_meta_doc_id(const spar_meta *m, uint32_t docid, char *buf, size_t cap, size_t *len);
spar_status spar_meta_lookup(const spar_meta *m, const char *id, size_t len, uint32_t *docid);
spar_status spar_meta_fields(const spar_meta *m, uint32_t docid, char *title, size_t title_cap, size_t *title_len,
                             char *text, size_t text_cap, size_t *text_len);
/* Setting value copied NUL-terminated. @return SPAR_OK, SPAR_E_NOT_FOUND, SPAR_E_STORAGE. */
spar_status spar_meta_setting(const spar_meta *m, const char *key, char *buf, size_t cap, size_t *len);
/* Full scan: decodes every block, recomputes the content hashes, checks that doc2id blocks cover docids
 * 0..n-1 in order, that id2doc lists every docid once with sort keys strictly increasing (the exact
 * inverse of doc2id), that fields keys are valid docids, and every kind's count against the header.
 * @return SPAR_OK, SPAR_E_CORRUPT (diag says what), SPAR_E_STORAGE, SPAR_E_NOMEM. */
spar_status spar_meta_scan(const spar_meta *m, uint64_t *doc2id_xxh3, uint64_t *fields_xxh3, spar_diag *diag);

#endif
