/* index/manifest.c — MANIFEST writer and reader (contract: index/manifest.h, format:
 * docs/format/manifest.md). The payload is one JSON object after the 32-byte spar header; the header's
 * xxh3 covers it, so a flipped byte is caught before the JSON is parsed. Writing goes through
 * spar_file_writer (tmp + fsync + rename), so a MANIFEST is either absent or complete. */
#include "index/manifest.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "storage/file.h"

static int name_ok(const char *s) {
    if (s[0] == '\0' || s[0] == '.') return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return 0;
    }
    return 1;
}

spar_status spar_manifest_write(const char *dir, const spar_manifest *m, spar_diag *diag) {
    if (m->n_segments > SPAR_MANIFEST_MAX_SEGMENTS) return SPAR_E_INVALID_ARG;
    size_t cap = 4096 + (size_t)m->n_segments * 256;
    char *buf = malloc(cap), *path = NULL;
    if (buf == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    size_t n = 0;
#define PUT(...)                                                                                             \
    do {                                                                                                     \
        int k_ = snprintf(buf + n, cap - n, __VA_ARGS__);                                                    \
        if (k_ < 0 || (size_t)k_ >= cap - n) {                                                               \
            st = SPAR_E_INTERNAL;                                                                            \
            goto done;                                                                                       \
        }                                                                                                    \
        n += (size_t)k_;                                                                                     \
    } while (0)
    PUT("{\n  \"format\": [%u, %u],\n", (unsigned)m->format_major, (unsigned)m->format_minor);
    PUT("  \"n_docs\": %" PRIu64 ",\n  \"n_terms\": %" PRIu64 ",\n  \"n_postings\": %" PRIu64 ",\n", m->n_docs,
        m->n_terms, m->n_postings);
    PUT("  \"k1\": %.9g,\n  \"b\": %.9g,\n", (double)m->k1, (double)m->b);
    PUT("  \"analysis\": \"%s\",\n  \"store_text\": %d,\n  \"segments\": [", m->analysis, m->store_text ? 1 : 0);
    for (uint32_t i = 0; i < m->n_segments; i++) {
        const spar_manifest_segment *s = &m->segments[i];
        PUT("%s\n    {\"file\": \"%s\", \"kind\": \"%s\", \"bytes\": %" PRIu64 ", \"payload_xxh3\": \"%016" PRIx64
            "\"}",
            i ? "," : "", s->file, s->kind, s->bytes, s->payload_xxh3);
    }
    PUT("\n  ],\n  \"meta\": {\"dir\": \"%s\", \"file\": \"data.mdb\", \"bytes\": %" PRIu64
        ", \"file_xxh3\": \"%016" PRIx64 "\", \"doc2id_xxh3\": \"%016" PRIx64 "\", \"fields_xxh3\": \"%016" PRIx64
        "\"}\n}\n",
        m->meta_dir, m->meta_bytes, m->meta_file_xxh3, m->meta_doc2id_xxh3, m->meta_fields_xxh3);
#undef PUT
    size_t dl = strlen(dir);
    path = malloc(dl + sizeof SPAR_MANIFEST_FILE + 1);
    if (path == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, SPAR_MANIFEST_FILE, sizeof SPAR_MANIFEST_FILE);
    spar_file_writer *w = NULL;
    SPAR_TRY_GOTO(st, spar_file_writer_open(path, SPAR_KIND_MANIFEST, SPAR_INDEX_FORMAT_MAJOR, SPAR_INDEX_FORMAT_MINOR,
                                            0, &w, diag), done);
    if ((st = spar_file_writer_write(w, buf, n)) != SPAR_OK) {
        spar_file_writer_abort(w);
        spar_diag_set(diag, "%s: write failed", path);
        goto done;
    }
    st = spar_file_writer_commit(w, diag);
done:
    free(buf);
    free(path);
    return st;
}

/* ---- reading ---- */

static int get_u64(const cJSON *o, const char *key, uint64_t *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x)) return 0;
    double d = x->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int get_str(const cJSON *o, const char *key, char *dst, size_t cap) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(x) || x->valuestring == NULL) return 0;
    size_t n = strlen(x->valuestring);
    if (n >= cap) return 0;
    memcpy(dst, x->valuestring, n + 1);
    return 1;
}

static int get_hex(const cJSON *o, const char *key, uint64_t *out) {
    char s[17];
    if (!get_str(o, key, s, sizeof s) || strlen(s) != 16) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 1;
}

static int get_float(const cJSON *o, const char *key, float *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    /* finite as a float too: 1e39 would become inf, which the writer cannot print as JSON */
    if (!cJSON_IsNumber(x) || !(fabs(x->valuedouble) <= FLT_MAX)) return 0;
    *out = (float)x->valuedouble;
    return 1;
}

spar_status spar_manifest_parse(const uint8_t *buf, size_t len, const char *name, spar_manifest *m,
                                spar_diag *diag) {
    spar_file_header h;
    SPAR_TRY(spar_file_check(buf, len, SPAR_KIND_MANIFEST, SPAR_INDEX_FORMAT_MAJOR, 1, &h, name, diag));
    memset(m, 0, sizeof *m);
    const char *text = (const char *)buf + sizeof h, *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len - sizeof h, &end, 0);
    if (j == NULL) {
        size_t at = (end != NULL && end >= text && end <= text + (len - sizeof h)) ? (size_t)(end - text) : 0;
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: payload is not valid JSON", name, sizeof h + at);
    }
    spar_status st = SPAR_OK;
    const char *what = NULL;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsArray(fmt) || cJSON_GetArraySize(fmt) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(fmt, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(fmt, 1))) {
        what = "format";
        goto bad;
    }
    double fmaj = cJSON_GetArrayItem(fmt, 0)->valuedouble, fmin = cJSON_GetArrayItem(fmt, 1)->valuedouble;
    if (!(fmaj >= 1 && fmaj <= 65535 && fmin >= 0 && fmin <= 65535)) {
        what = "format";
        goto bad;
    }
    m->format_major = (uint32_t)fmaj;
    m->format_minor = (uint32_t)fmin;
    if (m->format_major != h.version_major || m->format_minor != h.version_minor || h.flags != 0) {
        what = "format (disagrees with the header's version or flags)";
        goto bad;
    }
    if (m->format_major > SPAR_INDEX_FORMAT_MAJOR) {
        st = spar_diag_err(diag, SPAR_E_VERSION, "%s: index format %u.%u, this build reads up to %u.x", name,
                           m->format_major, m->format_minor, SPAR_INDEX_FORMAT_MAJOR);
        goto done;
    }
    if (m->format_major < SPAR_INDEX_FORMAT_MAJOR) { /* 1.x and 2.x: segment and meta formats 1-2, retired */
        st = spar_diag_err(diag, SPAR_E_VERSION,
                           "%s: index format %u.%u is no longer supported (this build reads %u.x): rebuild the index",
                           name, m->format_major, m->format_minor, SPAR_INDEX_FORMAT_MAJOR);
        goto done;
    }
    uint64_t st_flag = 0;
    if (!get_u64(j, "n_docs", &m->n_docs) || m->n_docs >= UINT32_MAX) { what = "n_docs"; goto bad; }
    if (!get_u64(j, "n_terms", &m->n_terms)) { what = "n_terms"; goto bad; }
    if (!get_u64(j, "n_postings", &m->n_postings)) { what = "n_postings"; goto bad; }
    if (!get_float(j, "k1", &m->k1) || m->k1 < 0) { what = "k1"; goto bad; }
    if (!get_float(j, "b", &m->b) || m->b < 0 || m->b > 1) { what = "b"; goto bad; }
    if (!get_str(j, "analysis", m->analysis, sizeof m->analysis)) { what = "analysis"; goto bad; }
    if (!get_u64(j, "store_text", &st_flag) || st_flag > 1) { what = "store_text"; goto bad; }
    m->store_text = (int)st_flag;
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(j, "segments");
    if (!cJSON_IsArray(segs) || cJSON_GetArraySize(segs) < 1 || cJSON_GetArraySize(segs) > SPAR_MANIFEST_MAX_SEGMENTS) {
        what = "segments";
        goto bad;
    }
    m->n_segments = (uint32_t)cJSON_GetArraySize(segs);
    for (uint32_t i = 0; i < m->n_segments; i++) {
        const cJSON *s = cJSON_GetArrayItem(segs, (int)i);
        spar_manifest_segment *g = &m->segments[i];
        if (!cJSON_IsObject(s) || !get_str(s, "file", g->file, sizeof g->file) || !name_ok(g->file) ||
            !get_str(s, "kind", g->kind, sizeof g->kind) || strcmp(g->kind, "postings") != 0 ||
            !get_u64(s, "bytes", &g->bytes) || !get_hex(s, "payload_xxh3", &g->payload_xxh3)) {
            what = "segments[]";
            goto bad;
        }
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "meta");
    char mfile[32];
    if (!cJSON_IsObject(meta) || !get_str(meta, "dir", m->meta_dir, sizeof m->meta_dir) || !name_ok(m->meta_dir) ||
        !get_str(meta, "file", mfile, sizeof mfile) || strcmp(mfile, "data.mdb") != 0 ||
        !get_u64(meta, "bytes", &m->meta_bytes) || !get_hex(meta, "file_xxh3", &m->meta_file_xxh3) ||
        !get_hex(meta, "doc2id_xxh3", &m->meta_doc2id_xxh3) || !get_hex(meta, "fields_xxh3", &m->meta_fields_xxh3)) {
        what = "meta";
        goto bad;
    }
    goto done;
bad:
    st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: missing or invalid \"%s\"", name, what);
done:
    cJSON_Delete(j);
    return st;
}

spar_status spar_manifest_read(const char *dir, spar_manifest *m, spar_diag *diag) {
    size_t dl = strlen(dir);
    char *path = malloc(dl + sizeof SPAR_MANIFEST_FILE + 1);
    if (path == NULL) return SPAR_E_NOMEM;
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, SPAR_MANIFEST_FILE, sizeof SPAR_MANIFEST_FILE);
    spar_mapped_file mf;
    spar_status st = spar_file_map(path, SPAR_KIND_MANIFEST, SPAR_INDEX_FORMAT_MAJOR, SPAR_MAP_NO_CHECKSUM, &mf, diag);
    if (st == SPAR_OK) {
        st = spar_manifest_parse(mf.base, mf.size, SPAR_MANIFEST_FILE, m, diag);
        spar_file_unmap(&mf);
    }
    free(path);
    return st;
}
