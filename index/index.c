/* index/index.c — opening, inspecting and verifying an index directory (public API in
 * include/spar/spar_index.h, internal accessors in index/index.h). Open reads the MANIFEST, maps and
 * validates the segment (spar_segment_open checks header, checksum and structure), hashes
 * meta.lmdb/data.mdb against the MANIFEST before LMDB ever reads it (LMDB has no checksums and trusts its
 * file), then opens LMDB read-only and checks entry counts against n_docs. Verify does the same per file
 * and adds the full logical scan of meta.lmdb. */
#define _POSIX_C_SOURCE 200809L
#include "index/index.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "index/analyzer.h"
#include "index/manifest.h"
#include "storage/file.h"
#include "storage/meta.h"

struct spar_index {
    char *dir;
    spar_manifest man;
    spar_analysis_opts analysis;
    spar_segment *seg;
    spar_meta *meta;
    uint64_t index_bytes;
};

static char *join3(const char *a, const char *b, const char *c) {
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    char *p = malloc(la + lb + lc + 3);
    if (p == NULL) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    if (c) {
        p[la + 1 + lb] = '/';
        memcpy(p + la + 2 + lb, c, lc + 1);
    }
    return p;
}

/* Prefix diag with the file name when the message does not already mention it. */
static void name_diag(spar_diag *diag, const char *file) {
    if (diag == NULL || strstr(diag->msg, file) != NULL) return;
    char tmp[sizeof diag->msg];
    memcpy(tmp, diag->msg, sizeof tmp);
    spar_diag_set(diag, "%s: %s", file, tmp);
}


/* The MANIFEST's analysis string must parse; the segment must agree with the MANIFEST. */
static spar_status check_segment(const spar_manifest *m, const spar_segment *s, const char *name, spar_diag *diag) {
    if ((uint64_t)spar_segment_n_docs(s) != m->n_docs || spar_segment_n_terms(s) != m->n_terms ||
        spar_segment_n_postings(s) != m->n_postings)
        return spar_diag_err(diag, SPAR_E_CORRUPT,
                             "%s: counts (%u docs, %" PRIu64 " terms, %" PRIu64 " postings) disagree with MANIFEST "
                             "(%" PRIu64 ", %" PRIu64 ", %" PRIu64 ")",
                             name, spar_segment_n_docs(s), spar_segment_n_terms(s), spar_segment_n_postings(s),
                             m->n_docs, m->n_terms, m->n_postings);
    if (spar_segment_k1(s) != m->k1 || spar_segment_b(s) != m->b)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: k1/b disagree with MANIFEST", name);
    return SPAR_OK;
}

static spar_status check_segment_file(const char *dir, const spar_manifest *m, uint32_t i, spar_segment **out,
                                      spar_diag *diag) {
    const spar_manifest_segment *g = &m->segments[i];
    char *path = join3(dir, g->file, NULL);
    if (path == NULL) return SPAR_E_NOMEM;
    spar_segment *s = NULL;
    spar_status st = spar_segment_open(path, &s, diag);
    if (st == SPAR_E_NOT_FOUND) st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: missing (listed in MANIFEST)", g->file);
    if (st != SPAR_OK) {
        name_diag(diag, g->file);
        goto done;
    }
    spar_mapped_file mf;
    /* header only (the payload hash was just checked by spar_segment_open) */
    if ((st = spar_file_map(path, SPAR_KIND_POSTINGS, SPAR_SEGMENT_VERSION_MAJOR, SPAR_MAP_NO_CHECKSUM, &mf, diag)) !=
        SPAR_OK)
        goto done;
    const int same = mf.size == g->bytes && mf.hdr.payload_xxh3 == g->payload_xxh3;
    spar_file_unmap(&mf);
    if (!same) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: size or checksum differs from MANIFEST (file replaced?)", g->file);
        goto done;
    }
    SPAR_TRY_GOTO(st, check_segment(m, s, g->file, diag), done);
    *out = s;
    s = NULL;
done:
    spar_segment_close(s);
    free(path);
    return st;
}

/* data.mdb raw hash (protects LMDB from corrupted input), then open and count. */
static spar_status check_meta(const char *dir, const spar_manifest *m, int full_scan, spar_meta **out,
                              spar_diag *diag) {
    char name[96];
    snprintf(name, sizeof name, "%s/%s", m->meta_dir, SPAR_META_DATA_FILE);
    char *mdir = join3(dir, m->meta_dir, NULL), *data = join3(dir, m->meta_dir, SPAR_META_DATA_FILE);
    spar_meta *meta = NULL;
    spar_status st = SPAR_OK;
    if (mdir == NULL || data == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    uint64_t bytes = 0, h = 0;
    SPAR_TRY_GOTO(st, spar_file_hash(data, name, SPAR_E_CORRUPT, &bytes, &h, diag), done);
    if (bytes != m->meta_bytes || h != m->meta_file_xxh3) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT,
                           "%s: checksum mismatch (MANIFEST xxh3 %016" PRIx64 " / %" PRIu64 " bytes, file %016" PRIx64
                           " / %" PRIu64 " bytes)",
                           name, m->meta_file_xxh3, m->meta_bytes, h, bytes);
        goto done;
    }
    if ((st = spar_meta_open(mdir, &meta, diag)) != SPAR_OK) {
        name_diag(diag, name);
        goto done;
    }
    uint64_t n1 = 0, n2 = 0, n3 = 0;
    if ((st = spar_meta_counts(meta, &n1, &n2, &n3, diag)) != SPAR_OK) {
        name_diag(diag, name);
        goto done;
    }
    if (n1 != m->n_docs || n2 != m->n_docs || n3 != (m->store_text ? m->n_docs : 0)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT,
                           "%s: entry counts (id2doc %" PRIu64 ", doc2id %" PRIu64 ", fields %" PRIu64
                           ") disagree with n_docs %" PRIu64,
                           name, n1, n2, n3, m->n_docs);
        goto done;
    }
    if (full_scan) {
        uint64_t hd = 0, hf = 0;
        if ((st = spar_meta_scan(meta, &hd, &hf, diag)) != SPAR_OK) {
            name_diag(diag, name);
            goto done;
        }
        if (hd != m->meta_doc2id_xxh3 || hf != m->meta_fields_xxh3) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: content hash of doc2id/fields differs from MANIFEST", name);
            goto done;
        }
    }
    if (out) {
        *out = meta;
        meta = NULL;
    }
done:
    spar_meta_close(meta);
    free(mdir);
    free(data);
    return st;
}

spar_status spar_index_open(const char *dir, spar_index **out, spar_diag *diag) {
    if (out == NULL || dir == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    if ((ix->dir = strdup(dir)) == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    st = spar_manifest_read(dir, &ix->man, diag);
    if (st == SPAR_E_NOT_FOUND) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: not an index directory (no MANIFEST)", dir);
        goto fail;
    }
    if (st != SPAR_OK) goto fail;
    if (spar_analysis_opts_parse(ix->man.analysis, strlen(ix->man.analysis), &ix->analysis) != SPAR_OK) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "MANIFEST: unreadable analysis settings \"%s\"", ix->man.analysis);
        goto fail;
    }
    if (ix->man.n_segments != 1) {
        st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "MANIFEST: %u segments (this build reads exactly one)",
                           ix->man.n_segments);
        goto fail;
    }
    SPAR_TRY_GOTO(st, check_segment_file(dir, &ix->man, 0, &ix->seg, diag), fail);
    SPAR_TRY_GOTO(st, check_meta(dir, &ix->man, 0, &ix->meta, diag), fail);
    ix->index_bytes = spar_dir_bytes(dir);
    *out = ix;
    return SPAR_OK;
fail:
    spar_index_close(ix);
    return st;
}

void spar_index_close(spar_index *ix) {
    if (ix == NULL) return;
    spar_segment_close(ix->seg);
    spar_meta_close(ix->meta);
    free(ix->dir);
    free(ix);
}

void spar_index_get_info(const spar_index *ix, spar_index_info *info) {
    memset(info, 0, sizeof *info);
    if (ix == NULL) return;
    info->n_docs = ix->man.n_docs;
    info->n_terms = ix->man.n_terms;
    info->n_postings = ix->man.n_postings;
    info->avg_doclen = spar_segment_avgdl(ix->seg);
    info->k1 = ix->man.k1;
    info->b = ix->man.b;
    info->analysis = ix->analysis;
    info->index_bytes = ix->index_bytes;
}

spar_status spar_index_doc_id(const spar_index *ix, uint32_t docid, char *buf, size_t cap, size_t *len) {
    if (ix == NULL || (buf == NULL && cap > 0)) return SPAR_E_INVALID_ARG;
    if (docid >= ix->man.n_docs) return SPAR_E_NOT_FOUND;
    return spar_meta_doc_id(ix->meta, docid, buf, cap, len);
}

spar_status spar_index_lookup_id(const spar_index *ix, const char *id, size_t len, uint32_t *docid) {
    if (ix == NULL || (id == NULL && len > 0) || docid == NULL) return SPAR_E_INVALID_ARG;
    return spar_meta_lookup(ix->meta, id, len, docid);
}

/* ---- internal accessors (index/index.h) ---- */
const spar_segment *spar_index_segment(const spar_index *ix) { return ix->seg; }
const spar_analysis_opts *spar_index_analysis(const spar_index *ix) { return &ix->analysis; }
uint32_t spar_index_n_docs(const spar_index *ix) { return (uint32_t)ix->man.n_docs; }
float spar_index_k1(const spar_index *ix) { return ix->man.k1; }
float spar_index_b(const spar_index *ix) { return ix->man.b; }
const char *spar_index_dir(const spar_index *ix) { return ix->dir; }
int spar_index_has_text(const spar_index *ix) { return ix->man.store_text; }

spar_status spar_index_doc_fields(const spar_index *ix, uint32_t docid, char *title, size_t title_cap,
                                  size_t *title_len, char *text, size_t text_cap, size_t *text_len) {
    if (ix == NULL || (title == NULL && title_cap > 0) || (text == NULL && text_cap > 0)) return SPAR_E_INVALID_ARG;
    if (!ix->man.store_text || docid >= ix->man.n_docs) return SPAR_E_NOT_FOUND;
    return spar_meta_fields(ix->meta, docid, title, title_cap, title_len, text, text_cap, text_len);
}

/* ---- verify ---- */

static void report_one(spar_verify_report_fn report, void *ud, const char *file, spar_status st, const char *detail) {
    if (report) report(ud, file, st, detail);
}

spar_status spar_index_verify(const char *dir, spar_verify_report_fn report, void *ud, spar_diag *diag) {
    if (dir == NULL) return SPAR_E_INVALID_ARG;
    spar_manifest m;
    spar_diag d;
    char detail[256];
    d.msg[0] = '\0';
    spar_status st = spar_manifest_read(dir, &m, &d), first = SPAR_OK;
    if (st == SPAR_E_NOT_FOUND) st = spar_diag_err(&d, SPAR_E_IO, "%s: not an index directory (no MANIFEST)", dir);
    spar_analysis_opts ao;
    if (st == SPAR_OK && spar_analysis_opts_parse(m.analysis, strlen(m.analysis), &ao) != SPAR_OK)
        st = spar_diag_err(&d, SPAR_E_CORRUPT, "MANIFEST: unreadable analysis settings");
    if (st != SPAR_OK) {
        report_one(report, ud, SPAR_MANIFEST_FILE, st, d.msg);
        spar_diag_set(diag, "%s", d.msg);
        return st;
    }
    snprintf(detail, sizeof detail, "format %u.%u, %" PRIu64 " docs, %u segment(s), checksum ok", m.format_major,
             m.format_minor, m.n_docs, m.n_segments);
    report_one(report, ud, SPAR_MANIFEST_FILE, SPAR_OK, detail);
    for (uint32_t i = 0; i < m.n_segments; i++) {
        spar_segment *s = NULL;
        d.msg[0] = '\0';
        st = check_segment_file(dir, &m, i, &s, &d);
        if (st == SPAR_OK)
            snprintf(detail, sizeof detail,
                     "%" PRIu64 " terms, %" PRIu64 " postings, checksum and every posting list ok",
                     spar_segment_n_terms(s), spar_segment_n_postings(s));
        report_one(report, ud, m.segments[i].file, st, st == SPAR_OK ? detail : d.msg);
        spar_segment_close(s);
        if (st != SPAR_OK && first == SPAR_OK) {
            first = st;
            spar_diag_set(diag, "%s", d.msg);
        }
    }
    char name[96];
    snprintf(name, sizeof name, "%s/%s", m.meta_dir, SPAR_META_DATA_FILE);
    d.msg[0] = '\0';
    st = check_meta(dir, &m, 1, NULL, &d);
    snprintf(detail, sizeof detail, "%" PRIu64 " ids, file checksum, counts and content hash ok", m.n_docs);
    report_one(report, ud, name, st, st == SPAR_OK ? detail : d.msg);
    if (st != SPAR_OK && first == SPAR_OK) {
        first = st;
        spar_diag_set(diag, "%s", d.msg);
    }
    return first;
}
