/* sparse_dir.c — learned-sparse index directories (docs/format/sparse-dir.md): sparse.idx (the index file of
 * sparse_io.c), docids.txt (the caller's document ids), vocab.txt (token -> term id) and a MANIFEST written
 * last (spar header + JSON with every file's size and XXH3), built in "<dir>.tmp-<pid>" and renamed into
 * place, as the BM25 builder does. Opening checks the MANIFEST, then each file's size and hash, then each
 * file's own structure; every error names the file. sparse.idx is mapped, not read: by default only its size
 * and its own header/section-table checks (O(1)-ish open); SPAR_SPARSE_VERIFY_ALL hashes and checks all of
 * it. Also: the index back to a CSR (for CIFF export). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "index/sparse/sparse_int.h"
#include "spar/spar_sparse.h"
#include "storage/file.h"

#define DIR_FORMAT_MAJOR 1
#define DIR_FORMAT_MINOR 0
#define F_INDEX "sparse.idx"
#define F_DOCIDS "docids.txt"
#define F_VOCAB "vocab.txt"

/* A text file of n lines held in memory: line i is base + off[i], NUL-terminated in place. */
typedef struct lines {
    char *base;
    uint64_t *off;
    uint32_t *len;
    uint32_t n;
} lines;

struct spar_sparse_dir {
    spar_sparse_index *ix;
    spar_sparse_vocab *vocab;
    lines ids, toks;
};

static void lines_free(lines *l) {
    free(l->base);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p != NULL) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

/* ---- accessors ---- */
const spar_sparse_index *spar_sparse_dir_index(const spar_sparse_dir *d) {
    return d ? d->ix : NULL;
}
const spar_sparse_vocab *spar_sparse_dir_vocab(const spar_sparse_dir *d) {
    return d ? d->vocab : NULL;
}

const char *spar_sparse_dir_doc_id(const spar_sparse_dir *d, uint32_t docid, size_t *len) {
    if (d == NULL || docid >= d->ids.n) return NULL;
    if (len) *len = d->ids.len[docid];
    return d->ids.base + d->ids.off[docid];
}

const char *spar_sparse_dir_token(const spar_sparse_dir *d, uint32_t id, size_t *len) {
    if (d == NULL || id >= d->toks.n) return NULL;
    if (len) *len = d->toks.len[id];
    return d->toks.base + d->toks.off[id];
}

void spar_sparse_dir_close(spar_sparse_dir *d) {
    if (d == NULL) return;
    spar_sparse_index_free(d->ix);
    spar_sparse_vocab_free(d->vocab);
    lines_free(&d->ids);
    lines_free(&d->toks);
    free(d);
}

/* ---- index -> CSR in caller docid order ---- */
spar_status spar_sparse_index_to_csr(const spar_sparse_index *ix, spar_sparse_csr *out) {
    if (ix == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    spar_sparse_csr m;
    memset(&m, 0, sizeof m);
    m.n_rows = ix->n_docs;
    m.dim = ix->dim;
    uint32_t *internal = spar_malloc_array((size_t)ix->n_docs + 1, sizeof *internal); /* caller -> internal */
    m.offsets = spar_malloc_array((size_t)ix->n_docs + 1, sizeof *m.offsets);
    m.ids = spar_malloc_array((size_t)ix->nnz + 1, sizeof *m.ids);
    m.weights = spar_malloc_array((size_t)ix->nnz + 1, sizeof *m.weights);
    if (internal == NULL || m.offsets == NULL || m.ids == NULL || m.weights == NULL) {
        free(internal);
        spar_sparse_csr_free(&m);
        return SPAR_E_NOMEM;
    }
    for (uint32_t i = 0; i < ix->n_docs; i++)
        internal[ix->ext ? ix->ext[i] : i] = i;
    uint64_t o = 0;
    m.offsets[0] = 0;
    for (uint32_t c = 0; c < ix->n_docs; c++) {
        uint32_t i = internal[c];
        for (uint64_t j = ix->f_off[i]; j < ix->f_off[i + 1]; j++) {
            m.ids[o] = ix->f_ids[j];
            m.weights[o] = ix->f_w[j];
            o++;
        }
        m.offsets[c + 1] = o;
    }
    free(internal);
    *out = m;
    return SPAR_OK;
}

/* ---- writing ---- */
static int valid_line(const char *s) {
    if (s == NULL || *s == '\0') return 0;
    return strpbrk(s, "\n\r") == NULL;
}

/* Write n strings (or decimal numbers when v == NULL) one per line, then hash the file. */
static spar_status write_lines(const char *path, const char *const *v, uint32_t n, const char *what,
                               spar_diag *diag) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    spar_status st = SPAR_OK;
    for (uint32_t i = 0; i < n; i++) {
        if (v == NULL) {
            fprintf(f, "%u\n", i);
            continue;
        }
        if (!valid_line(v[i])) {
            st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "%s %u is empty or holds a line break", what, i);
            break;
        }
        fputs(v[i], f);
        fputc('\n', f);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (st == SPAR_OK) st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    }
    if (fclose(f) != 0 && st == SPAR_OK) st = spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    return st;
}

static spar_status write_manifest(const char *tmp, const spar_sparse_index *ix, int has_vocab,
                                  spar_diag *diag) {
    static const char *const files[] = {F_INDEX, F_DOCIDS, F_VOCAB};
    char *text = NULL, *path = NULL, *mpath = NULL;
    spar_file_writer *w = NULL;
    spar_status st = SPAR_OK;
    cJSON *j = cJSON_CreateObject(), *fa = NULL;
    if (j == NULL) return SPAR_E_NOMEM;
    cJSON *fmt = cJSON_AddArrayToObject(j, "format");
    if (fmt == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    cJSON_AddItemToArray(fmt, cJSON_CreateNumber(DIR_FORMAT_MAJOR));
    cJSON_AddItemToArray(fmt, cJSON_CreateNumber(DIR_FORMAT_MINOR));
    cJSON_AddStringToObject(j, "kind", "sparse");
    cJSON_AddNumberToObject(j, "n_docs", ix->n_docs);
    cJSON_AddNumberToObject(j, "dim", ix->dim);
    cJSON_AddNumberToObject(j, "nnz", (double)ix->nnz);
    cJSON_AddNumberToObject(j, "has_approx", ix->has_approx ? 1 : 0);
    cJSON_AddNumberToObject(j, "has_vocab", has_vocab ? 1 : 0);
    fa = cJSON_AddArrayToObject(j, "files");
    if (fa == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < (has_vocab ? 3 : 2); i++) {
        uint64_t bytes = 0, h = 0;
        free(path);
        if ((path = path_join(tmp, files[i])) == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        SPAR_TRY_GOTO(st, spar_file_hash(path, files[i], SPAR_E_IO, &bytes, &h, diag), done);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
        cJSON *e = cJSON_CreateObject();
        if (e == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        cJSON_AddItemToArray(fa, e);
        cJSON_AddStringToObject(e, "file", files[i]);
        cJSON_AddNumberToObject(e, "bytes", (double)bytes);
        cJSON_AddStringToObject(e, "xxh3", hex);
    }
    text = cJSON_PrintUnformatted(j);
    if (text == NULL || (mpath = path_join(tmp, "MANIFEST")) == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    SPAR_TRY_GOTO(
        st, spar_file_writer_open(mpath, SPAR_KIND_MANIFEST, DIR_FORMAT_MAJOR, DIR_FORMAT_MINOR, 0, &w, diag),
        done);
    st = spar_file_writer_write(w, text, strlen(text));
    if (st == SPAR_OK) st = spar_file_writer_write(w, "\n", 1);
    if (st != SPAR_OK) {
        spar_file_writer_abort(w);
        spar_diag_set(diag, "%s: write failed", mpath);
        goto done;
    }
    st = spar_file_writer_commit(w, diag);
done:
    cJSON_Delete(j);
    free(text);
    free(path);
    free(mpath);
    return st;
}

static char *parent_of(const char *p) {
    const char *s = strrchr(p, '/');
    if (s == NULL) return strdup(".");
    if (s == p) return strdup("/");
    return strndup(p, (size_t)(s - p));
}

spar_status spar_sparse_dir_write(const char *dir, const spar_sparse_index *ix, const char *const *doc_ids,
                                  const char *const *tokens, uint32_t n_tokens, int overwrite,
                                  spar_diag *diag) {
    if (dir == NULL || *dir == '\0' || ix == NULL)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "missing dir or index");
    if (tokens != NULL && n_tokens != ix->dim)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "vocabulary has %u tokens, the index dim is %u",
                             n_tokens, ix->dim);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *out = strndup(dir, dl), *tmp = malloc(dl + 48), *old = malloc(dl + 48), *parent = NULL, *p = NULL;
    spar_sparse_vocab *check = NULL;
    spar_status st = SPAR_OK;
    struct stat sb;
    if (out == NULL || tmp == NULL || old == NULL || (parent = parent_of(out)) == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    if (stat(out, &sb) == 0 && !overwrite) {
        st = spar_diag_err(diag, SPAR_E_EXISTS, "%s: already exists (use --overwrite)", dir);
        goto done;
    }
    snprintf(tmp, dl + 48, "%s.tmp-%ld", out, (long)getpid());
    snprintf(old, dl + 48, "%s.old-%ld", out, (long)getpid());
    if (spar_remove_tree(tmp) != SPAR_OK || mkdir(tmp, 0755) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if ((p = path_join(tmp, F_INDEX)) == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    SPAR_TRY_GOTO(st, spar_sparse_index_save(ix, p, diag), fail);
    free(p);
    if ((p = path_join(tmp, F_DOCIDS)) == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    SPAR_TRY_GOTO(st, write_lines(p, doc_ids, ix->n_docs, "document id", diag), fail);
    if (tokens != NULL) {
        free(p);
        if ((p = path_join(tmp, F_VOCAB)) == NULL) {
            st = SPAR_E_NOMEM;
            goto fail;
        }
        SPAR_TRY_GOTO(st, write_lines(p, tokens, n_tokens, "token", diag), fail);
        st = spar_sparse_vocab_load(p, &check, diag); /* duplicate tokens are refused here, not at open */
        if (st == SPAR_E_CORRUPT) st = SPAR_E_INVALID_ARG;
        if (st != SPAR_OK) goto fail;
    }
    SPAR_TRY_GOTO(st, write_manifest(tmp, ix, tokens != NULL, diag), fail);
    SPAR_TRY_GOTO(st, spar_fsync_dir(tmp, diag), fail);
    int replaced = 0;
    if (stat(out, &sb) == 0) {
        if (rename(out, old) != 0) {
            st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot move the old index away: %s", dir,
                               strerror(errno));
            goto fail;
        }
        replaced = 1;
    }
    if (rename(tmp, out) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: rename from %s: %s", dir, tmp, strerror(errno));
        if (replaced && rename(old, out) != 0)
            spar_log(SPAR_LOG_ERROR, "%s: could not restore the old index", dir);
        goto fail;
    }
    if (replaced) (void)spar_remove_tree(old);
    st = spar_fsync_dir(parent, diag);
    goto done;
fail:
    (void)spar_remove_tree(tmp);
done:
    spar_sparse_vocab_free(check);
    free(p);
    free(out);
    free(tmp);
    free(old);
    free(parent);
    return st;
}

/* ---- reading ---- */
static spar_status read_lines(const char *path, const char *name, uint32_t expect, lines *l,
                              spar_diag *diag) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: missing: %s", name, strerror(errno));
    spar_status st = SPAR_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot size", name);
        goto done;
    }
    l->base = malloc((size_t)size + 1);
    l->off = spar_malloc_array((size_t)expect + 1, sizeof *l->off);
    l->len = spar_malloc_array((size_t)expect + 1, sizeof *l->len);
    if (l->base == NULL || l->off == NULL || l->len == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    if (fread(l->base, 1, (size_t)size, f) != (size_t)size) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: short read", name);
        goto done;
    }
    l->base[size] = '\0';
    uint64_t start = 0;
    for (long i = 0; i < size; i++) {
        if (l->base[i] != '\n') continue;
        if (l->n == expect) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: more than the %u lines the MANIFEST announces",
                               name, expect);
            goto done;
        }
        if ((uint64_t)i == start || memchr(l->base + start, '\0', (size_t)((uint64_t)i - start)) != NULL ||
            l->base[i - 1] == '\r') {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%u: empty line, NUL byte or CR line end", name, l->n + 1);
            goto done;
        }
        l->base[i] = '\0';
        l->off[l->n] = start;
        l->len[l->n] = (uint32_t)((uint64_t)i - start);
        l->n++;
        start = (uint64_t)i + 1;
    }
    if (start != (uint64_t)size || l->n != expect)
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %u complete lines, the MANIFEST announces %u", name,
                           l->n, expect);
done:
    fclose(f);
    if (st != SPAR_OK) lines_free(l);
    return st;
}

static int j_u64(const cJSON *o, const char *key, uint64_t max, uint64_t *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x)) return 0;
    double d = x->valuedouble;
    if (!(d >= 0 && d <= (double)max) || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int parse_hex(const char *s, uint64_t *out) {
    if (s == NULL || strlen(s) != 16) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int c = s[i], dgt = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (dgt < 0) return 0;
        v = (v << 4) | (uint64_t)dgt;
    }
    *out = v;
    return 1;
}

spar_status spar_sparse_dir_open(const char *dir, spar_sparse_dir **out, spar_diag *diag) {
    return spar_sparse_dir_open_flags(dir, 0, out, diag);
}

spar_status spar_sparse_dir_open_flags(const char *dir, unsigned flags, spar_sparse_dir **out,
                                       spar_diag *diag) {
    if (dir == NULL || out == NULL || (flags & ~SPAR_SPARSE_VERIFY_ALL) != 0) return SPAR_E_INVALID_ARG;
    const int full = (flags & SPAR_SPARSE_VERIFY_ALL) != 0;
    *out = NULL;
    spar_status st = SPAR_OK;
    spar_mapped_file mf;
    memset(&mf, 0, sizeof mf);
    cJSON *j = NULL;
    char *p = NULL;
    spar_sparse_dir *d = calloc(1, sizeof *d);
    if (d == NULL) return SPAR_E_NOMEM;
    if ((p = path_join(dir, "MANIFEST")) == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    struct stat sb;
    if (stat(p, &sb) != 0) {
        st = spar_diag_err(diag, SPAR_E_NOT_FOUND, "%s: no MANIFEST: not an index directory", dir);
        goto done;
    }
    SPAR_TRY_GOTO(st, spar_file_map(p, SPAR_KIND_MANIFEST, DIR_FORMAT_MAJOR, 0, &mf, diag), done);
    const char *jend = NULL;
    j = cJSON_ParseWithLengthOpts((const char *)mf.payload, mf.payload_bytes, &jend, 0);
    if (!cJSON_IsObject(j)) {
        size_t at = (size_t)(mf.payload - mf.base);
        if (j == NULL && jend != NULL) at += (size_t)(jend - (const char *)mf.payload);
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s/MANIFEST: byte %zu: %s", dir, at,
                           j == NULL ? "invalid JSON" : "not a JSON object");
        goto done;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "sparse") != 0) {
        st = spar_diag_err(diag, SPAR_E_NOT_FOUND, "%s: not a learned-sparse index", dir);
        goto done;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *fmaj = cJSON_GetArrayItem(fmt, 0), *fmin = cJSON_GetArrayItem(fmt, 1);
    if (!cJSON_IsArray(fmt) || cJSON_GetArraySize(fmt) != 2 || !cJSON_IsNumber(fmaj) ||
        !cJSON_IsNumber(fmin) || fmaj->valuedouble != mf.hdr.version_major ||
        fmin->valuedouble != mf.hdr.version_minor || mf.hdr.flags != 0) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "MANIFEST: \"format\" does not match the header");
        goto done;
    }
    uint64_t n_docs, dim, nnz, has_vocab, has_approx;
    if (!j_u64(j, "n_docs", UINT32_MAX - 1, &n_docs) || !j_u64(j, "dim", 65536, &dim) ||
        !j_u64(j, "nnz", (uint64_t)1 << 53, &nnz) || !j_u64(j, "has_vocab", 1, &has_vocab) ||
        !j_u64(j, "has_approx", 1, &has_approx)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "MANIFEST: missing or invalid count or flag");
        goto done;
    }
    static const char *const files[] = {F_INDEX, F_DOCIDS, F_VOCAB};
    const int n_files = has_vocab ? 3 : 2;
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(j, "files");
    if (!cJSON_IsArray(fa) || cJSON_GetArraySize(fa) != n_files) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "MANIFEST: \"files\" must list %d files", n_files);
        goto done;
    }
    for (int i = 0; i < n_files; i++) {
        const cJSON *e = cJSON_GetArrayItem(fa, i), *name = cJSON_GetObjectItemCaseSensitive(e, "file");
        const cJSON *hx = cJSON_GetObjectItemCaseSensitive(e, "xxh3");
        uint64_t bytes, want, got_bytes = 0, got = 0;
        if (!cJSON_IsString(name) || strcmp(name->valuestring, files[i]) != 0 ||
            !j_u64(e, "bytes", (uint64_t)1 << 53, &bytes) || !cJSON_IsString(hx) ||
            !parse_hex(hx->valuestring, &want)) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT,
                               "MANIFEST: files[%d] must be {\"file\":\"%s\",\"bytes\",\"xxh3\"}", i,
                               files[i]);
            goto done;
        }
        free(p);
        if ((p = path_join(dir, files[i])) == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        if (i == 0 && !full) { /* sparse.idx: its size here; its own header and section table checks below */
            if (stat(p, &sb) != 0) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: missing: %s", files[i], strerror(errno));
                goto done;
            }
            got_bytes = (uint64_t)sb.st_size;
            got = want;
        } else {
            SPAR_TRY_GOTO(st, spar_file_hash(p, files[i], SPAR_E_CORRUPT, &got_bytes, &got, diag), done);
        }
        if (got_bytes != bytes || got != want) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT,
                               "%s: %llu bytes, xxh3 %016llx; the MANIFEST says %llu bytes, %016llx",
                               files[i], (unsigned long long)got_bytes, (unsigned long long)got,
                               (unsigned long long)bytes, (unsigned long long)want);
            goto done;
        }
        if (i == 0) {
            SPAR_TRY_GOTO(st, spar_sparse_index_open_view(p, full, &d->ix, diag), done);
            spar_sparse_stats s;
            spar_sparse_index_stats(d->ix, &s);
            if (s.n_docs != n_docs || s.dim != dim || s.nnz != nnz ||
                (d->ix->has_approx != 0) != (has_approx != 0)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: counts differ from the MANIFEST's", files[i]);
                goto done;
            }
        } else if (i == 1) {
            SPAR_TRY_GOTO(st, read_lines(p, files[i], (uint32_t)n_docs, &d->ids, diag), done);
        } else {
            SPAR_TRY_GOTO(st, read_lines(p, files[i], (uint32_t)dim, &d->toks, diag), done);
            SPAR_TRY_GOTO(st, spar_sparse_vocab_load(p, &d->vocab, diag), done);
        }
    }
    *out = d;
    d = NULL;
done:
    cJSON_Delete(j);
    spar_file_unmap(&mf);
    free(p);
    spar_sparse_dir_close(d);
    return st;
}

int spar_sparse_dir_detect(const char *dir) {
    if (dir == NULL) return 0;
    char *p = path_join(dir, "MANIFEST");
    if (p == NULL) return 0;
    spar_mapped_file mf;
    memset(&mf, 0, sizeof mf);
    int yes = 0;
    struct stat sb;
    if (stat(p, &sb) == 0 &&
        spar_file_map(p, SPAR_KIND_MANIFEST, UINT16_MAX, SPAR_MAP_NO_CHECKSUM, &mf, NULL) == SPAR_OK) {
        cJSON *j = cJSON_ParseWithLength((const char *)mf.payload, mf.payload_bytes);
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
        yes = cJSON_IsString(kind) && strcmp(kind->valuestring, "sparse") == 0;
        cJSON_Delete(j);
        spar_file_unmap(&mf);
    }
    free(p);
    return yes;
}
