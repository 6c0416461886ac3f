/* storage/file.c — spar's own files (contract: storage/file.h; layout: docs/format/header.md).
 * Every file is a 32-byte header (magic, version, kind, flags, payload size, XXH3-64 of the payload)
 * followed by the payload. Writers stream into "<path>.tmp", hashing as they go, then fsync, rename
 * over the final name and fsync the directory, so a crash leaves either the old file or the new one.
 * Readers mmap the whole file read-only and check the header and (by default) the checksum before
 * anyone looks at the payload. Every error message names the file. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include "storage/file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "spar's on-disk formats are little-endian and read in place"
#endif

#define WBUF_BYTES (1u << 20)

struct spar_file_writer {
    char *path;     /* final name */
    char *tmp;      /* path + ".tmp" */
    int fd;
    spar_file_header hdr;
    XXH3_state_t *xxh;
    uint64_t offset; /* payload bytes accepted so far */
    uint8_t *buf;    /* write buffer */
    size_t buf_len;
    int failed;      /* sticky error: a failed write poisons the writer */
};

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static spar_status write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return SPAR_E_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return SPAR_OK;
}

static spar_status pwrite_all(int fd, const uint8_t *p, size_t n, off_t off) {
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return SPAR_E_IO;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return SPAR_OK;
}

static void writer_free(spar_file_writer *w) {
    if (w == NULL) return;
    if (w->fd >= 0) close(w->fd);
    if (w->xxh) XXH3_freeState(w->xxh);
    free(w->buf);
    free(w->path);
    free(w->tmp);
    free(w);
}

spar_status spar_file_writer_open(const char *path, uint32_t kind, uint16_t vmajor, uint16_t vminor,
                                  uint32_t flags, spar_file_writer **out, spar_diag *diag) {
    *out = NULL;
    if (path == NULL || *path == '\0') return spar_diag_err(diag, SPAR_E_INVALID_ARG, "file writer: empty path");
    spar_file_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return SPAR_E_NOMEM;
    w->fd = -1;
    size_t len = strlen(path);
    w->path = malloc(len + 1);
    w->tmp = malloc(len + 5);
    w->buf = malloc(WBUF_BYTES);
    w->xxh = XXH3_createState();
    if (!w->path || !w->tmp || !w->buf || !w->xxh) {
        writer_free(w);
        return SPAR_E_NOMEM;
    }
    memcpy(w->path, path, len + 1);
    memcpy(w->tmp, path, len);
    memcpy(w->tmp + len, ".tmp", 5);
    XXH3_64bits_reset(w->xxh);
    w->hdr.magic = SPAR_MAGIC;
    w->hdr.version_major = vmajor;
    w->hdr.version_minor = vminor;
    w->hdr.kind = kind;
    w->hdr.flags = flags;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        spar_status st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot create: %s", w->tmp, strerror(errno));
        writer_free(w);
        return st;
    }
    /* placeholder header; the real one is written at commit */
    spar_file_header zero;
    memset(&zero, 0, sizeof zero);
    if (write_all(w->fd, (const uint8_t *)&zero, sizeof zero) != SPAR_OK) {
        spar_status st = spar_diag_err(diag, SPAR_E_IO, "%s: write: %s", w->tmp, strerror(errno));
        spar_file_writer_abort(w);
        return st;
    }
    *out = w;
    return SPAR_OK;
}

static spar_status flush_buf(spar_file_writer *w) {
    if (w->buf_len == 0) return SPAR_OK;
    if (write_all(w->fd, w->buf, w->buf_len) != SPAR_OK) {
        w->failed = errno ? errno : EIO;
        return SPAR_E_IO;
    }
    w->buf_len = 0;
    return SPAR_OK;
}

spar_status spar_file_writer_write(spar_file_writer *w, const void *buf, size_t n) {
    if (w == NULL) return SPAR_E_INVALID_ARG;
    if (w->failed) return SPAR_E_IO;
    if (n == 0) return SPAR_OK;
    const uint8_t *p = buf;
    XXH3_64bits_update(w->xxh, p, n);
    w->offset += n;
    if (n >= WBUF_BYTES) {
        SPAR_TRY(flush_buf(w));
        if (write_all(w->fd, p, n) != SPAR_OK) {
            w->failed = errno ? errno : EIO;
            return SPAR_E_IO;
        }
        return SPAR_OK;
    }
    if (w->buf_len + n > WBUF_BYTES) SPAR_TRY(flush_buf(w));
    memcpy(w->buf + w->buf_len, p, n);
    w->buf_len += n;
    return SPAR_OK;
}

spar_status spar_file_writer_pad(spar_file_writer *w, size_t align) {
    if (w == NULL || align == 0) return SPAR_E_INVALID_ARG;
    static const uint8_t zeros[64];
    size_t rem = (size_t)(w->offset % align);
    if (rem == 0) return SPAR_OK;
    size_t need = align - rem;
    while (need > 0) {
        size_t k = SPAR_MIN(need, sizeof zeros);
        SPAR_TRY(spar_file_writer_write(w, zeros, k));
        need -= k;
    }
    return SPAR_OK;
}

uint64_t spar_file_writer_offset(const spar_file_writer *w) { return w ? w->offset : 0; }

static spar_status fsync_dir_of(const char *path, spar_diag *diag) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) return spar_fsync_dir(".", diag);
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 2);
    if (dir == NULL) return SPAR_E_NOMEM;
    if (n == 0) {
        dir[0] = '/';
        dir[1] = '\0';
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    spar_status st = spar_fsync_dir(dir, diag);
    free(dir);
    return st;
}

spar_status spar_file_writer_commit(spar_file_writer *w, spar_diag *diag) {
    if (w == NULL) return SPAR_E_INVALID_ARG;
    spar_status st = SPAR_OK;
    if (w->failed) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: write: %s", w->tmp, strerror(w->failed));
        goto fail;
    }
    if (flush_buf(w) != SPAR_OK) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: write: %s", w->tmp, strerror(errno));
        goto fail;
    }
    w->hdr.payload_bytes = w->offset;
    w->hdr.payload_xxh3 = XXH3_64bits_digest(w->xxh);
    if (pwrite_all(w->fd, (const uint8_t *)&w->hdr, sizeof w->hdr, 0) != SPAR_OK) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: write header: %s", w->tmp, strerror(errno));
        goto fail;
    }
    if (fsync(w->fd) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: fsync: %s", w->tmp, strerror(errno));
        goto fail;
    }
    if (close(w->fd) != 0) {
        w->fd = -1;
        st = spar_diag_err(diag, SPAR_E_IO, "%s: close: %s", w->tmp, strerror(errno));
        goto fail;
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: rename to %s: %s", w->tmp, w->path, strerror(errno));
        goto fail;
    }
    st = fsync_dir_of(w->path, diag);
    writer_free(w);
    return st;
fail:
    spar_file_writer_abort(w);
    return st;
}

void spar_file_writer_abort(spar_file_writer *w) {
    if (w == NULL) return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    unlink(w->tmp);
    writer_free(w);
}

/* ---- reading ---- */

spar_status spar_file_check(const uint8_t *buf, size_t size, uint32_t expect_kind, uint16_t max_major,
                            int verify_checksum, spar_file_header *out, const char *name, spar_diag *diag) {
    if (name == NULL) name = "<memory>";
    if (buf == NULL || size < sizeof(spar_file_header))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu bytes, shorter than the 32-byte header", name, size);
    spar_file_header h;
    memcpy(&h, buf, sizeof h);
    if (h.magic != SPAR_MAGIC)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 0: bad magic 0x%08" PRIx32 " (not a spar file)", name,
                             h.magic);
    if (expect_kind != 0 && h.kind != expect_kind)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 8: file kind %" PRIu32 ", expected %" PRIu32, name,
                             h.kind, expect_kind);
    if (h.version_major > max_major || h.version_major == 0)
        return spar_diag_err(diag, SPAR_E_VERSION, "%s: byte 4: format version %u.%u, this build reads up to %u.x",
                             name, h.version_major, h.version_minor, max_major);
    if (h.payload_bytes != (uint64_t)(size - sizeof h))
        return spar_diag_err(diag, SPAR_E_CORRUPT,
                             "%s: byte 16: header says %" PRIu64 " payload bytes, file has %zu (truncated or extended)",
                             name, h.payload_bytes, size - sizeof h);
    if (verify_checksum) {
        uint64_t got = XXH3_64bits(buf + sizeof h, size - sizeof h);
        if (got != h.payload_xxh3)
            return spar_diag_err(diag, SPAR_E_CORRUPT,
                                 "%s: checksum mismatch (header xxh3 %016" PRIx64 ", payload %016" PRIx64 ")", name,
                                 h.payload_xxh3, got);
    }
    if (out) *out = h;
    return SPAR_OK;
}

spar_status spar_file_map(const char *path, uint32_t expect_kind, uint16_t max_major, unsigned map_flags,
                          spar_mapped_file *out, spar_diag *diag) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return spar_diag_err(diag, errno == ENOENT ? SPAR_E_NOT_FOUND : SPAR_E_IO, "%s: cannot open: %s", path,
                             strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        spar_status st = spar_diag_err(diag, SPAR_E_IO, "%s: stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return spar_diag_err(diag, SPAR_E_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < sizeof(spar_file_header)) {
        close(fd);
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu bytes, shorter than the 32-byte header", path, size);
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (p == MAP_FAILED) return spar_diag_err(diag, SPAR_E_IO, "%s: mmap: %s", path, strerror(saved));
    spar_status st = spar_file_check(p, size, expect_kind, max_major, !(map_flags & SPAR_MAP_NO_CHECKSUM),
                                     &out->hdr, base_name(path), diag);
    if (st != SPAR_OK) {
        munmap(p, size);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->base = p;
    out->size = size;
    out->payload = out->base + sizeof(spar_file_header);
    out->payload_bytes = size - sizeof(spar_file_header);
    return SPAR_OK;
}

void spar_file_unmap(spar_mapped_file *m) {
    if (m == NULL || m->base == NULL) return;
    munmap((void *)m->base, m->size);
    memset(m, 0, sizeof *m);
}

spar_status spar_write_file_atomic(const char *path, const void *buf, size_t n, spar_diag *diag) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (tmp == NULL) return SPAR_E_NOMEM;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);
    spar_status st = SPAR_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if (write_all(fd, buf, n) != SPAR_OK) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: write: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fsync(fd) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: fsync: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = spar_diag_err(diag, SPAR_E_IO, "%s: close: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: rename to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    st = fsync_dir_of(path, diag);
    goto done;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
done:
    free(tmp);
    return st;
}

spar_status spar_fsync_dir(const char *dir, spar_diag *diag) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return spar_diag_err(diag, SPAR_E_IO, "%s: open directory: %s", dir, strerror(errno));
    spar_status st = SPAR_OK;
    if (fsync(fd) != 0 && errno != EINVAL) /* some filesystems cannot fsync directories */
        st = spar_diag_err(diag, SPAR_E_IO, "%s: fsync directory: %s", dir, strerror(errno));
    close(fd);
    return st;
}

/* nftw callbacks carry no user pointer: a thread-local accumulator keeps spar_dir_bytes thread-safe. */
static _Thread_local uint64_t tl_dir_bytes;
static int add_bytes(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
    (void)p;
    (void)ftw;
    if (type == FTW_F && S_ISREG(sb->st_mode)) tl_dir_bytes += (uint64_t)sb->st_size;
    return 0;
}

uint64_t spar_dir_bytes(const char *dir) {
    tl_dir_bytes = 0;
    if (nftw(dir, add_bytes, 16, FTW_PHYS) != 0) return tl_dir_bytes;
    return tl_dir_bytes;
}

static int remove_one(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    int rc = (type == FTW_DP || type == FTW_D) ? rmdir(p) : unlink(p);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

spar_status spar_remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? SPAR_OK : SPAR_E_IO;
    if (!S_ISDIR(sb.st_mode)) return unlink(path) == 0 ? SPAR_OK : SPAR_E_IO;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? SPAR_OK : SPAR_E_IO;
}

spar_status spar_file_hash(const char *path, const char *name, spar_status missing, uint64_t *bytes, uint64_t *h,
                           spar_diag *diag) {
    if (name == NULL) name = path;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return spar_diag_err(diag, errno == ENOENT ? missing : SPAR_E_IO, "%s: cannot open: %s", name, strerror(errno));
    XXH3_state_t *s = XXH3_createState();
    char *buf = malloc(1u << 20);
    spar_status st = SPAR_OK;
    if (s == NULL || buf == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    XXH3_64bits_reset(s);
    uint64_t total = 0;
    size_t n;
    while ((n = fread(buf, 1, 1u << 20, f)) > 0) {
        XXH3_64bits_update(s, buf, n);
        total += n;
    }
    if (ferror(f)) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: read error", name);
        goto done;
    }
    *bytes = total;
    *h = XXH3_64bits_digest(s);
done:
    if (s) XXH3_freeState(s);
    free(buf);
    fclose(f);
    return st;
}
