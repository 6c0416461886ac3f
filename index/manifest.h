/* index/manifest.h — the MANIFEST of an index directory: the one file that says what the index is made
 * of (segments with size and payload xxh3, meta.lmdb with its file and content hashes, analysis
 * settings, BM25 defaults, counts, format version). Written last by the builder, atomically; read first
 * by spar_index_open and spar_index_verify. Format: docs/format/manifest.md (spar header + JSON). */
#ifndef SPAR_INDEX_MANIFEST_H
#define SPAR_INDEX_MANIFEST_H

#include "common/common.h"

#define SPAR_MANIFEST_FILE "MANIFEST"
#define SPAR_MANIFEST_MAX_SEGMENTS 16

typedef struct spar_manifest_segment {
    char file[64];         /* relative name, e.g. "seg-000001.post" */
    char kind[16];         /* "postings" */
    uint64_t bytes;        /* whole file size */
    uint64_t payload_xxh3; /* as in the file's header */
} spar_manifest_segment;

typedef struct spar_manifest {
    uint32_t format_major, format_minor;
    uint64_t n_docs, n_terms, n_postings;
    float k1, b;
    char analysis[256];   /* spar_analysis_opts_format text */
    int store_text;
    uint32_t n_segments;
    spar_manifest_segment segments[SPAR_MANIFEST_MAX_SEGMENTS];
    char meta_dir[64];     /* "meta.lmdb" */
    uint64_t meta_bytes;   /* size of meta_dir/data.mdb */
    uint64_t meta_file_xxh3;   /* XXH3 of the raw data.mdb bytes */
    uint64_t meta_doc2id_xxh3; /* logical hash of doc2id, see docs/format/meta-lmdb.md */
    uint64_t meta_fields_xxh3; /* logical hash of fields */
} spar_manifest;

/* Write <dir>/MANIFEST atomically. */
spar_status spar_manifest_write(const char *dir, const spar_manifest *m, spar_diag *diag);
/* Read and validate <dir>/MANIFEST (header, checksum, JSON shape, names).
 * @return SPAR_OK, SPAR_E_NOT_FOUND (no MANIFEST), SPAR_E_IO, SPAR_E_CORRUPT, SPAR_E_VERSION, SPAR_E_NOMEM. */
spar_status spar_manifest_read(const char *dir, spar_manifest *m, spar_diag *diag);
/* Parse a MANIFEST held in memory (header included); `name` is used in diagnostics. */
spar_status spar_manifest_parse(const uint8_t *buf, size_t len, const char *name, spar_manifest *m,
                                spar_diag *diag);

#endif
