/* index/corpus.c — streaming reader for BEIR JSONL and TSV corpora and query files, plain or gzip.
 * Layers, bottom up: a byte source (file descriptor or caller memory) -> optional gzip inflate (zlib,
 * multi-member, truncation detected) -> a growable line buffer (lines are returned in place, no copy, when
 * they fit) -> per-line parsing (cJSON for BEIR, a split on the first TAB for TSV) with strict UTF-8
 * validation. Every malformed line becomes SPAR_E_CORRUPT with "path:line: reason" and the next call goes
 * on with the following line. Contract: index/corpus.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "index/corpus.h"

#define READ_CHUNK (256u << 10)   /* bytes per read() / inflate input */
#define LINE_BUF_INIT (1u << 20)  /* initial line buffer; grows to max_line + 1 for long lines */

struct spar_corpus {
    char *path;                 /* for diagnostics */
    spar_corpus_format fmt;
    /* raw source: fd >= 0, or caller memory */
    int fd;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    uint64_t raw_done, raw_total; /* bytes of the underlying (compressed) input */
    /* gzip */
    int gz;
    int z_ready;                /* inflateInit2 done */
    int z_in_member;            /* inside a gzip member (EOF here = truncation) */
    int raw_eof;
    z_stream zs;
    unsigned char *zin;
    /* line buffer: bytes [pos, end) are unread; [scan, end) not yet searched for '\n' */
    char *buf;
    size_t cap, pos, scan, end;
    int eof;                    /* no more decoded bytes */
    size_t max_line;
    spar_status sticky;         /* an I/O or stream error repeats on every later call */
    char sticky_msg[sizeof(((spar_diag *)0)->msg)];
    uint64_t line_no, n_blank;
    cJSON *json;                /* last parsed line (its strings back spar_doc) */
    char idbuf[32];             /* numeric _id as text */
};

/* ---- UTF-8 ---- */
size_t spar_utf8_validate(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c >= 0xE0 && c <= 0xEF) n = 3;
        else if (c >= 0xF0 && c <= 0xF4) n = 4;
        else return i;
        if (len - i < n) return i;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        if (c == 0xE0 && s[i + 1] < 0xA0) return i;  /* overlong */
        if (c == 0xED && s[i + 1] >= 0xA0) return i; /* surrogate */
        if (c == 0xF0 && s[i + 1] < 0x90) return i;  /* overlong */
        if (c == 0xF4 && s[i + 1] >= 0x90) return i; /* > U+10FFFF */
        i += n;
    }
    return len;
}

/* ---- raw source ---- */
static spar_status raw_read(spar_corpus *c, unsigned char *dst, size_t n, size_t *got) {
    *got = 0;
    if (c->raw_eof) return SPAR_OK;
    if (c->fd < 0) {
        size_t k = SPAR_MIN(n, c->mem_len - c->mem_pos);
        if (k > 0) memcpy(dst, c->mem + c->mem_pos, k);
        c->mem_pos += k;
        *got = k;
    } else {
        ssize_t r;
        do r = read(c->fd, dst, n);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            snprintf(c->sticky_msg, sizeof c->sticky_msg, "%s: read: %s", c->path, strerror(errno));
            return c->sticky = SPAR_E_IO;
        }
        *got = (size_t)r;
    }
    if (*got == 0) c->raw_eof = 1;
    c->raw_done += *got;
    return SPAR_OK;
}

static spar_status fill_gz(spar_corpus *c, char *dst, size_t n);

/* Decoded bytes into dst[0..n): *got == 0 means end of input. An error that happens after some bytes were
 * decoded in this call is kept (sticky) and reported by the next call, so no complete line is lost. */
static spar_status fill(spar_corpus *c, char *dst, size_t n, size_t *got) {
    *got = 0;
    if (c->sticky != SPAR_OK) return c->sticky;
    n = SPAR_MIN(n, (size_t)UINT32_MAX);
    if (!c->gz) return raw_read(c, (unsigned char *)dst, n, got);
    spar_status st = fill_gz(c, dst, n);
    *got = n - c->zs.avail_out;
    return *got > 0 ? SPAR_OK : st;
}

static spar_status fill_gz(spar_corpus *c, char *dst, size_t n) {
    z_stream *z = &c->zs;
    z->next_out = (Bytef *)dst;
    z->avail_out = (uInt)n;
    while (z->avail_out > 0) {
        if (z->avail_in == 0) {
            size_t k;
            SPAR_TRY(raw_read(c, c->zin, READ_CHUNK, &k));
            z->next_in = c->zin;
            z->avail_in = (uInt)k;
            if (k == 0) {
                if (c->z_in_member) {
                    snprintf(c->sticky_msg, sizeof c->sticky_msg, "%s: truncated gzip stream at byte %llu",
                             c->path, (unsigned long long)c->raw_done);
                    return c->sticky = SPAR_E_IO;
                }
                break; /* clean end after a complete member */
            }
        }
        if (!c->z_in_member) { /* another member follows (pigz/bgzip style concatenation) */
            if (inflateReset(z) != Z_OK) return c->sticky = SPAR_E_INTERNAL;
            c->z_in_member = 1;
        }
        int r = inflate(z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) {
            c->z_in_member = 0;
            continue;
        }
        if (r == Z_OK || r == Z_BUF_ERROR) continue;
        if (r == Z_MEM_ERROR) {
            snprintf(c->sticky_msg, sizeof c->sticky_msg, "%s: out of memory inflating gzip", c->path);
            return c->sticky = SPAR_E_NOMEM;
        }
        /* SPAR_E_IO, not SPAR_E_CORRUPT: CORRUPT means "this line is bad, call again", and a damaged stream
         * cannot be resumed (a caller skipping bad lines would otherwise loop or silently lose the rest) */
        snprintf(c->sticky_msg, sizeof c->sticky_msg, "%s: corrupt gzip stream near byte %llu: %s", c->path,
                 (unsigned long long)(c->raw_done - z->avail_in), z->msg ? z->msg : "inflate error");
        return c->sticky = SPAR_E_IO;
    }
    return SPAR_OK;
}

/* ---- open / close ---- */
static spar_corpus_format format_from_name(const char *name) {
    size_t n = strlen(name);
    if (n > 3 && strcmp(name + n - 3, ".gz") == 0) n -= 3;
    if ((n > 4 && memcmp(name + n - 4, ".tsv", 4) == 0) || (n > 4 && memcmp(name + n - 4, ".txt", 4) == 0))
        return SPAR_FORMAT_TSV;
    return SPAR_FORMAT_BEIR;
}

static spar_status open_common(spar_corpus *c, spar_diag *diag) {
    c->max_line = SPAR_CORPUS_MAX_LINE;
    c->cap = LINE_BUF_INIT;
    if ((c->buf = malloc(c->cap)) == NULL) return SPAR_E_NOMEM;
    /* sniff the gzip magic: read the first bytes into the line buffer */
    size_t have = 0, got;
    while (have < 2) {
        SPAR_TRY(raw_read(c, (unsigned char *)c->buf + have, 2 - have, &got));
        if (got == 0) break;
        have += got;
    }
    if (c->sticky != SPAR_OK) return spar_diag_err(diag, c->sticky, "%s", c->sticky_msg);
    if (have == 2 && (unsigned char)c->buf[0] == 0x1f && (unsigned char)c->buf[1] == 0x8b) {
        c->gz = 1;
        if ((c->zin = malloc(READ_CHUNK)) == NULL) return SPAR_E_NOMEM;
        memcpy(c->zin, c->buf, 2);
        memset(&c->zs, 0, sizeof c->zs);
        c->zs.next_in = c->zin;
        c->zs.avail_in = 2;
        int r = inflateInit2(&c->zs, 16 + MAX_WBITS);
        if (r != Z_OK) return r == Z_MEM_ERROR ? SPAR_E_NOMEM : SPAR_E_INTERNAL;
        c->z_ready = 1;
        c->z_in_member = 1;
    } else {
        c->end = have; /* plain: those bytes are data */
    }
    return SPAR_OK;
}

static spar_status corpus_new(const char *name, spar_corpus_format format, spar_corpus **out) {
    *out = NULL;
    if (format != SPAR_FORMAT_AUTO && format != SPAR_FORMAT_BEIR && format != SPAR_FORMAT_TSV)
        return SPAR_E_INVALID_ARG;
    spar_corpus *c = calloc(1, sizeof *c);
    if (c == NULL) return SPAR_E_NOMEM;
    c->fd = -1;
    size_t n = strlen(name);
    if ((c->path = malloc(n + 1)) == NULL) {
        free(c);
        return SPAR_E_NOMEM;
    }
    memcpy(c->path, name, n + 1);
    c->fmt = format == SPAR_FORMAT_AUTO ? format_from_name(name) : format;
    *out = c;
    return SPAR_OK;
}

spar_status spar_corpus_open(const char *path, spar_corpus_format format, spar_corpus **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    spar_corpus *c = NULL;
    spar_status st = corpus_new(path, format, &c);
    if (st != SPAR_OK) return st;
    c->fd = strcmp(path, "-") == 0 ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: open: %s", path, strerror(errno));
        goto done;
    }
    struct stat sb;
    if (fstat(c->fd, &sb) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: stat: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: is a directory", path);
        goto done;
    }
    c->raw_total = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    st = open_common(c, diag);
done:
    if (st != SPAR_OK) {
        spar_corpus_close(c);
        return st;
    }
    *out = c;
    return SPAR_OK;
}

spar_status spar_corpus_open_mem(const void *data, size_t len, const char *name, spar_corpus_format format,
                                 spar_corpus **out, spar_diag *diag) {
    if ((data == NULL && len != 0) || name == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    spar_corpus *c = NULL;
    spar_status st = corpus_new(name, format, &c);
    if (st != SPAR_OK) return st;
    c->mem = data;
    c->mem_len = len;
    c->raw_total = len;
    st = open_common(c, diag);
    if (st != SPAR_OK) {
        spar_corpus_close(c);
        return st;
    }
    *out = c;
    return SPAR_OK;
}

void spar_corpus_set_max_line(spar_corpus *c, size_t max_line) {
    if (c == NULL) return;
    c->max_line = max_line == 0 ? SPAR_CORPUS_MAX_LINE : SPAR_MIN(max_line, (size_t)SPAR_CORPUS_MAX_LINE);
}

size_t spar_corpus_buffer_bytes(const spar_corpus *c) {
    return c == NULL ? 0 : c->cap + (c->gz ? READ_CHUNK : 0);
}

void spar_corpus_close(spar_corpus *c) {
    if (c == NULL) return;
    if (c->fd >= 0) close(c->fd);
    if (c->z_ready) inflateEnd(&c->zs);
    cJSON_Delete(c->json);
    free(c->zin);
    free(c->buf);
    free(c->path);
    free(c);
}

uint64_t spar_corpus_lines(const spar_corpus *c) { return c == NULL ? 0 : c->line_no; }
uint64_t spar_corpus_blank_lines(const spar_corpus *c) { return c == NULL ? 0 : c->n_blank; }

void spar_corpus_progress(const spar_corpus *c, uint64_t *done, uint64_t *total) {
    if (done != NULL) *done = c == NULL ? 0 : c->raw_done;
    if (total != NULL) *total = c == NULL ? 0 : c->raw_total;
}

/* ---- lines ---- */
static spar_status sticky_err(spar_corpus *c, spar_diag *diag) {
    return spar_diag_err(diag, c->sticky, "%s", c->sticky_msg[0] ? c->sticky_msg : spar_status_str(c->sticky));
}

/* The line is longer than max_line: discard it up to and including its newline, without buffering it. */
static spar_status skip_long_line(spar_corpus *c, spar_diag *diag) {
    uint64_t n = c->end - c->pos;
    c->pos = c->scan = c->end = 0;
    for (;;) {
        size_t got;
        spar_status st = fill(c, c->buf, c->cap - 1, &got);
        if (st != SPAR_OK) return sticky_err(c, diag);
        if (got == 0) {
            c->eof = 1;
            break;
        }
        char *nl = memchr(c->buf, '\n', got);
        if (nl != NULL) {
            n += (uint64_t)(nl - c->buf);
            c->pos = c->scan = (size_t)(nl - c->buf) + 1;
            c->end = got;
            break;
        }
        n += got;
    }
    /* give back the memory the long line made us grow */
    if (c->cap > LINE_BUF_INIT && c->end - c->pos < LINE_BUF_INIT / 2) {
        memmove(c->buf, c->buf + c->pos, c->end - c->pos);
        c->end -= c->pos;
        c->scan -= c->pos;
        c->pos = 0;
        char *b = realloc(c->buf, LINE_BUF_INIT);
        if (b != NULL) {
            c->buf = b;
            c->cap = LINE_BUF_INIT;
        }
    }
    return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: line too long (%llu bytes)", c->path,
                         (unsigned long long)c->line_no, (unsigned long long)n);
}

/* Next raw line (without '\n'), NUL-terminated in place. SPAR_E_NOT_FOUND at the end. */
static spar_status next_line(spar_corpus *c, char **line, size_t *len, spar_diag *diag) {
    for (;;) {
        char *nl = c->scan < c->end ? memchr(c->buf + c->scan, '\n', c->end - c->scan) : NULL;
        if (nl != NULL) {
            *line = c->buf + c->pos;
            *len = (size_t)(nl - *line);
            *nl = '\0';
            c->pos = c->scan = (size_t)(nl - c->buf) + 1;
            c->line_no++;
            if (*len > c->max_line) /* a refill brought the rest of a line that was already over the limit */
                return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: line too long (%zu bytes)", c->path,
                                     (unsigned long long)c->line_no, *len);
            return SPAR_OK;
        }
        c->scan = c->end;
        if (c->end - c->pos > c->max_line) {
            c->line_no++;
            return skip_long_line(c, diag);
        }
        if (c->eof) {
            if (c->end == c->pos) return SPAR_E_NOT_FOUND;
            *line = c->buf + c->pos;
            *len = c->end - c->pos;
            c->buf[c->end] = '\0'; /* cap - 1 is the most fill() writes: room for this NUL */
            c->pos = c->scan = c->end;
            c->line_no++;
            return SPAR_OK;
        }
        if (c->sticky != SPAR_OK) return sticky_err(c, diag);
        /* make room: slide the partial line to the front, or grow */
        if (c->pos > 0 && (c->end == c->cap - 1 || c->pos >= c->cap / 2)) {
            memmove(c->buf, c->buf + c->pos, c->end - c->pos);
            c->end -= c->pos;
            c->scan -= c->pos;
            c->pos = 0;
        }
        if (c->end == c->cap - 1) {
            size_t want = SPAR_MIN(c->cap * 2, c->max_line + 2);
            if (want <= c->cap) want = c->cap + 1;
            char *b = realloc(c->buf, want);
            if (b == NULL) return spar_diag_err(diag, SPAR_E_NOMEM, "%s:%llu: out of memory buffering a line",
                                                c->path, (unsigned long long)c->line_no + 1);
            c->buf = b;
            c->cap = want;
        }
        size_t got;
        if (fill(c, c->buf + c->end, c->cap - 1 - c->end, &got) != SPAR_OK) return sticky_err(c, diag);
        if (got == 0) c->eof = 1;
        c->end += got;
    }
}

/* ---- BEIR JSON ---- */

/* Scan a (valid UTF-8) JSON line for a \u0000 escape, which cJSON would silently truncate at, and note
 * whether any \u escape occurs at all. Returns the offset of the backslash or len. */
static size_t find_nul_escape(const char *s, size_t len, int *has_u) {
    *has_u = 0;
    const char *p = s, *e = s + len;
    while ((p = memchr(p, '\\', (size_t)(e - p))) != NULL) {
        if (p + 1 >= e) break;
        if (p[1] == 'u') {
            *has_u = 1;
            if (e - p >= 6 && p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0') return (size_t)(p - s);
        }
        p += 2;
    }
    return len;
}

static spar_status bad(spar_corpus *c, spar_diag *diag, const char *fmt, const char *a) {
    char reason[160];
    snprintf(reason, sizeof reason, fmt, a);
    return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: %s", c->path, (unsigned long long)c->line_no, reason);
}

static int has_control(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 1;
    return 0;
}

static spar_status parse_beir(spar_corpus *c, char *line, size_t len, spar_doc *doc, spar_diag *diag) {
    int has_u;
    size_t z = find_nul_escape(line, len, &has_u);
    if (z < len)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: NUL character (\\u0000) at byte offset %zu of the line",
                             c->path, (unsigned long long)c->line_no, z);
    cJSON_Delete(c->json);
    c->json = NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (j == NULL) {
        size_t col = end != NULL && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: invalid JSON at column %zu", c->path,
                             (unsigned long long)c->line_no, col);
    }
    c->json = j;
    /* trailing non-space after the value */
    if (end != NULL) {
        const char *p = end;
        while (p < line + len && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p < line + len)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: invalid JSON at column %zu (trailing data)",
                                 c->path, (unsigned long long)c->line_no, (size_t)(p - line) + 1);
    }
    if (!cJSON_IsObject(j)) return bad(c, diag, "%s", "expected a JSON object");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "_id");
    if (id == NULL) return bad(c, diag, "%s", "missing \"_id\"");
    if (cJSON_IsString(id)) {
        doc->id = id->valuestring;
        doc->id_len = strlen(id->valuestring);
    } else if (cJSON_IsNumber(id)) {
        double v = id->valuedouble;
        if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0)
            return bad(c, diag, "%s", "\"_id\" is a number but not an integer within +-2^53");
        if (v == 0) v = 0; /* -0 -> "0" */
        int n = snprintf(c->idbuf, sizeof c->idbuf, "%.0f", v);
        doc->id = c->idbuf;
        doc->id_len = (size_t)n;
    } else {
        return bad(c, diag, "%s", "\"_id\" not a string");
    }
    if (doc->id_len == 0) return bad(c, diag, "%s", "empty \"_id\"");
    if (has_control(doc->id, doc->id_len)) return bad(c, diag, "%s", "\"_id\" contains a control character");
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(j, "text");
    if (tx == NULL) return bad(c, diag, "%s", "missing \"text\"");
    if (!cJSON_IsString(tx)) return bad(c, diag, "%s", "\"text\" not a string");
    doc->text = tx->valuestring;
    doc->text_len = strlen(tx->valuestring);
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(j, "title");
    if (ti == NULL || cJSON_IsNull(ti)) {
        doc->title = "";
        doc->title_len = 0;
    } else if (cJSON_IsString(ti)) {
        doc->title = ti->valuestring;
        doc->title_len = strlen(ti->valuestring);
    } else {
        return bad(c, diag, "%s", "\"title\" not a string");
    }
    if (has_u) { /* escapes decoded by cJSON: make sure they made valid UTF-8 (e.g. no lone surrogates) */
        const char *names[3] = {"_id", "title", "text"};
        const char *ps[3] = {doc->id, doc->title, doc->text};
        size_t ns[3] = {doc->id_len, doc->title_len, doc->text_len};
        for (int k = 0; k < 3; k++)
            if (spar_utf8_validate(ps[k], ns[k]) != ns[k])
                return bad(c, diag, "\"%s\" decodes to invalid UTF-8 (lone surrogate escape?)", names[k]);
    }
    return SPAR_OK;
}

/* ---- TSV: id<TAB>text; the first TAB splits, later TABs belong to the text ---- */
static spar_status parse_tsv(spar_corpus *c, char *line, size_t len, spar_doc *doc, spar_diag *diag) {
    char *tab = memchr(line, '\t', len);
    if (tab == NULL) return bad(c, diag, "%s", "missing TAB (expected id<TAB>text)");
    if (tab == line) return bad(c, diag, "%s", "empty id");
    *tab = '\0';
    doc->id = line;
    doc->id_len = (size_t)(tab - line);
    if (has_control(doc->id, doc->id_len)) return bad(c, diag, "%s", "id contains a control character");
    doc->text = tab + 1;
    doc->text_len = len - doc->id_len - 1;
    doc->title = "";
    doc->title_len = 0;
    return SPAR_OK;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

spar_status spar_corpus_next(spar_corpus *c, spar_doc *doc, spar_diag *diag) {
    if (c == NULL || doc == NULL) return SPAR_E_INVALID_ARG;
    for (;;) {
        char *line = NULL;
        size_t len = 0;
        spar_status st = next_line(c, &line, &len, diag);
        if (st != SPAR_OK) return st;
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* BOM (file start, or files joined by cat) */
            line += 3;
            len -= 3;
        }
        if (is_blank(line, len)) {
            c->n_blank++;
            continue;
        }
        const char *z = memchr(line, '\0', len);
        if (z != NULL)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: NUL byte at byte offset %zu of the line", c->path,
                                 (unsigned long long)c->line_no, (size_t)(z - line));
        size_t bad_at = spar_utf8_validate(line, len);
        if (bad_at != len)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: invalid UTF-8 at byte offset %zu of the line",
                                 c->path, (unsigned long long)c->line_no, bad_at);
        memset(doc, 0, sizeof *doc);
        doc->line = c->line_no;
        return c->fmt == SPAR_FORMAT_TSV ? parse_tsv(c, line, len, doc, diag) : parse_beir(c, line, len, doc, diag);
    }
}
