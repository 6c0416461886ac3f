/* storage/file.h — spar's own files: the 32-byte versioned header, checksummed payloads, atomic writes
 * and read-only mmap. Every spar file (segments, ANN structures, MANIFEST) goes through this.
 * Formats are specified in docs/format/; this is the contract for index/, ann/ and encoders/. */
#ifndef SPAR_STORAGE_FILE_H
#define SPAR_STORAGE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

#define SPAR_MAGIC 0x52415053u /* "SPAR" little-endian */

typedef enum spar_file_kind {
    SPAR_KIND_MANIFEST = 1,
    SPAR_KIND_POSTINGS = 2, /* seg-*.post: BM25/impact postings + dictionary + doc lengths + block max */
    SPAR_KIND_FORWARD = 3,
    SPAR_KIND_RUN = 4,      /* temporary spill run during build */
    SPAR_KIND_ANN_FLAT = 16,
    SPAR_KIND_ANN_HNSW = 17,
    SPAR_KIND_ANN_PQ = 18,
    SPAR_KIND_ANN_KMEANS = 19,
    SPAR_KIND_ANN_BINARY = 20,
    SPAR_KIND_ANN_IVF = 21,
    SPAR_KIND_ANN_BINARY_IVF = 22,
    SPAR_KIND_SEISMIC = 32
} spar_file_kind;

typedef struct spar_file_header {
    uint32_t magic;         /* SPAR_MAGIC */
    uint16_t version_major; /* reader refuses an unknown major: SPAR_E_VERSION */
    uint16_t version_minor; /* additive changes only */
    uint32_t kind;          /* spar_file_kind */
    uint32_t flags;
    uint64_t payload_bytes; /* bytes after the header */
    uint64_t payload_xxh3;  /* XXH3_64bits of the payload */
} spar_file_header;
_Static_assert(sizeof(spar_file_header) == 32, "on-disk header must stay 32 bytes");

/* ---- writing: payload is streamed into "<path>.tmp", hashed as it goes; commit fsyncs and renames ---- */
typedef struct spar_file_writer spar_file_writer;
spar_status spar_file_writer_open(const char *path, uint32_t kind, uint16_t vmajor, uint16_t vminor,
                                  uint32_t flags, spar_file_writer **out, spar_diag *diag);
spar_status spar_file_writer_write(spar_file_writer *w, const void *buf, size_t n); /* buffered */
spar_status spar_file_writer_pad(spar_file_writer *w, size_t align);                 /* zero-pad payload */
uint64_t spar_file_writer_offset(const spar_file_writer *w);                         /* payload bytes so far */
/* Finish the header, fsync, rename over `path`, fsync the directory. Frees w in all cases. */
spar_status spar_file_writer_commit(spar_file_writer *w, spar_diag *diag);
void spar_file_writer_abort(spar_file_writer *w); /* removes the temp file; NULL ok */

/* ---- reading: mmap the whole file read-only, check magic, kind, major version and checksum ---- */
typedef struct spar_mapped_file {
    const uint8_t *base;    /* whole file */
    size_t size;
    const uint8_t *payload; /* base + 32 */
    size_t payload_bytes;
    spar_file_header hdr;
} spar_mapped_file;
#define SPAR_MAP_NO_CHECKSUM 1u /* skip the payload hash (header still checked) */
/* expect_kind 0 = any. Errors name the path: "seg-000001.post: checksum mismatch". */
spar_status spar_file_map(const char *path, uint32_t expect_kind, uint16_t max_major, unsigned map_flags,
                          spar_mapped_file *out, spar_diag *diag);
void spar_file_unmap(spar_mapped_file *m);
/* Validate a header + payload held in memory (used by map and by fuzz targets). */
spar_status spar_file_check(const uint8_t *buf, size_t size, uint32_t expect_kind, uint16_t max_major,
                            int verify_checksum, spar_file_header *out, const char *name, spar_diag *diag);

/* XXH3-64 of a whole file, streamed in 1 MiB reads; *bytes gets its size. Errors name `name` (the path if NULL);
 * a missing file is `missing` (SPAR_E_IO for a file we are about to write, SPAR_E_CORRUPT inside an index). */
spar_status spar_file_hash(const char *path, const char *name, spar_status missing, uint64_t *bytes, uint64_t *h,
                           spar_diag *diag);

/* Write a whole small file atomically (tmp + fsync + rename + dir fsync). */
spar_status spar_write_file_atomic(const char *path, const void *buf, size_t n, spar_diag *diag);
spar_status spar_fsync_dir(const char *dir, spar_diag *diag);
/* Total bytes of regular files under dir (recursive). */
uint64_t spar_dir_bytes(const char *dir);
/* rm -rf, for temp build dirs only. */
spar_status spar_remove_tree(const char *path);

#endif
