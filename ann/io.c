/* ann/io.c — saving and loading ANN indexes in spar's versioned, checksummed file format
 * (docs/format/ann.md). Loading treats the file as untrusted: every count, id and size is checked against
 * the payload before use, so a crafted file yields SPAR_E_CORRUPT, never an out-of-bounds read.
 * Contract: include/spar/spar_ann.h; the file layer is storage/file.h. */
#include <stdlib.h>
#include <string.h>

#include "ann/ann_int.h"
#include "storage/file.h"

#define ANN_VERSION_MAJOR 1
#define ANN_VERSION_MINOR 0
#define ANN_FLAG_DELETED 1u

static uint32_t kind_of(spar_ann_kind k) {
    return k == SPAR_ANN_HNSW ? SPAR_KIND_ANN_HNSW : k == SPAR_ANN_BINARY_FLAT ? SPAR_KIND_ANN_BINARY : SPAR_KIND_ANN_FLAT;
}

typedef struct ann_fixed { /* first 48 payload bytes, little-endian */
    uint32_t kind, metric, dim, flags;
    uint64_t n;
    uint32_t M, M0, efc, entry;
    int32_t max_level;
    uint32_t reserved;
    uint64_t seed;
} ann_fixed;
_Static_assert(sizeof(ann_fixed) == 56, "ann fixed header layout");

spar_status spar_ann_save(const spar_ann *ix, const char *path, spar_diag *diag) {
    if (ix == NULL || path == NULL) return SPAR_E_INVALID_ARG;
    spar_file_writer *w = NULL;
    SPAR_TRY(spar_file_writer_open(path, kind_of(ix->kind), ANN_VERSION_MAJOR, ANN_VERSION_MINOR, 0, &w, diag));
    spar_status st = SPAR_OK;
    ann_fixed f = {(uint32_t)ix->kind, (uint32_t)ix->metric, ix->dim, ix->deleted ? ANN_FLAG_DELETED : 0u, ix->n,
                   ix->M, ix->M0, ix->ef_construction, ix->entry, ix->max_level, 0, ix->seed};
    SPAR_TRY_GOTO(st, spar_file_writer_write(w, &f, sizeof f), fail);
    if (ix->kind == SPAR_ANN_BINARY_FLAT) {
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->codes, (size_t)ix->n * ix->words * 8), fail);
    } else {
        for (uint64_t i = 0; i < ix->n; i++)
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->vecs + i * ix->vstride, (size_t)ix->dim * 4), fail);
    }
    if (ix->kind == SPAR_ANN_HNSW) {
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->levels, (size_t)ix->n), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_pad(w, 8), fail);
        for (uint64_t i = 0; i < ix->n; i++)
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->links0 + i * ix->lstride, (1 + (size_t)ix->M0) * 4), fail);
        for (uint64_t i = 0; i < ix->n; i++)
            if (ix->levels[i] > 0)
                SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->links_up[i], (size_t)ix->levels[i] * (1 + ix->M) * 4),
                              fail);
    }
    if (ix->deleted != NULL) SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->deleted, (size_t)ix->n), fail);
    return spar_file_writer_commit(w, diag);
fail:
    spar_file_writer_abort(w);
    spar_diag_set(diag, "%s: write failed: %s", path, spar_status_str(st));
    return st;
}

/* Bounded reader over the payload. */
typedef struct rd {
    const uint8_t *p, *end;
} rd;
static const void *take(rd *r, uint64_t n) {
    if ((uint64_t)(r->end - r->p) < n) return NULL;
    const void *q = r->p;
    r->p += n;
    return q;
}

static spar_status parse(const uint8_t *payload, size_t len, const char *name, spar_ann **out, spar_diag *diag) {
    rd r = {payload, payload + len};
    ann_fixed f;
    const void *fp = take(&r, sizeof f);
    if (fp == NULL) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated ANN header", name);
    memcpy(&f, fp, sizeof f);
    if (f.kind < SPAR_ANN_FLAT || f.kind > SPAR_ANN_BINARY_FLAT || f.metric > SPAR_METRIC_HAMMING || f.dim == 0 ||
        f.dim > (1u << 20) || f.n >= UINT32_MAX || (f.flags & ~ANN_FLAG_DELETED) != 0)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: invalid ANN parameters (kind %u, metric %u, dim %u, n %llu)",
                             name, f.kind, f.metric, f.dim, (unsigned long long)f.n);
    if ((f.kind == SPAR_ANN_BINARY_FLAT) != (f.metric == SPAR_METRIC_HAMMING) ||
        (f.kind == SPAR_ANN_BINARY_FLAT && f.dim % 64 != 0))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: metric %u does not fit index kind %u", name, f.metric, f.kind);
    uint64_t vec_bytes = f.kind == SPAR_ANN_BINARY_FLAT ? f.n * (f.dim / 8) : f.n * f.dim * 4;
    if (f.n != 0 && vec_bytes / f.n != (f.kind == SPAR_ANN_BINARY_FLAT ? f.dim / 8 : (uint64_t)f.dim * 4))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: size overflow", name);
    const uint8_t *vecs = take(&r, vec_bytes);
    if (vecs == NULL) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated vector data", name);
    spar_ann *ix = NULL;
    spar_status st = SPAR_OK;
    if (f.kind == SPAR_ANN_BINARY_FLAT) {
        SPAR_TRY(spar_ann_binary_flat_build(vecs, f.n, f.dim, &ix));
    } else if (f.kind == SPAR_ANN_FLAT) {
        SPAR_TRY(spar_ann_alloc(SPAR_ANN_FLAT, (spar_metric)f.metric, f.dim, f.n, &ix));
        memcpy(ix->vecs, vecs, vec_bytes);
    } else {
        if (f.M < 2 || f.M > 64 || f.M0 != 2 * f.M || f.max_level < 0 || f.max_level >= SPAR_HNSW_MAX_LEVEL ||
            (f.n > 0 && f.entry >= f.n) || f.efc == 0) {
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: invalid HNSW parameters (M %u, M0 %u, entry %u, level %d)",
                                 name, f.M, f.M0, f.entry, f.max_level);
        }
        SPAR_TRY(spar_ann_alloc(SPAR_ANN_HNSW, (spar_metric)f.metric, f.dim, f.n, &ix));
        ix->M = f.M, ix->M0 = f.M0, ix->ef_construction = f.efc, ix->entry = f.entry, ix->max_level = f.max_level;
        ix->seed = f.seed;
        size_t link_bytes = ((1 + (size_t)ix->M0) * 4 + 15) & ~(size_t)15;
        ix->block_bytes = (link_bytes + (size_t)f.dim * 4 + 63) & ~(size_t)63;
        ix->blocks = spar_ann_aligned_alloc(ix->block_bytes * (f.n ? f.n : 1));
        ix->levels = calloc(f.n ? f.n : 1, 1);
        ix->links_up = calloc(f.n ? f.n : 1, sizeof(uint32_t *));
        if (ix->blocks == NULL || ix->levels == NULL || ix->links_up == NULL) {
            st = SPAR_E_NOMEM;
            goto fail;
        }
        memset(ix->blocks, 0, ix->block_bytes * (f.n ? f.n : 1));
        ix->links0 = ix->blocks;
        ix->lstride = ix->vstride = ix->block_bytes / 4;
        ix->vecs = (float *)((char *)ix->blocks + link_bytes);
        for (uint64_t i = 0; i < f.n; i++) memcpy(ix->vecs + i * ix->vstride, vecs + i * f.dim * 4, (size_t)f.dim * 4);
        const uint8_t *lv = take(&r, f.n);
        size_t pad = (size_t)((8 - (sizeof f + vec_bytes + f.n) % 8) % 8);
        if (lv == NULL || take(&r, pad) == NULL) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated level table", name);
            goto fail;
        }
        int top = 0;
        for (uint64_t i = 0; i < f.n; i++) {
            if (lv[i] >= SPAR_HNSW_MAX_LEVEL) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: node %llu has level %u", name, (unsigned long long)i, lv[i]);
                goto fail;
            }
            if (lv[i] > top) top = lv[i];
        }
        if (f.n > 0 && (top != f.max_level || lv[f.entry] != f.max_level)) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: entry point/max level inconsistent", name);
            goto fail;
        }
        memcpy(ix->levels, lv, f.n);
        for (uint64_t i = 0; i < f.n; i++) {
            const uint8_t *l = take(&r, (1 + (uint64_t)ix->M0) * 4);
            if (l == NULL) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated level-0 links", name);
                goto fail;
            }
            uint32_t *dst = ix->links0 + i * ix->lstride;
            memcpy(dst, l, (1 + (size_t)ix->M0) * 4);
            if (dst[0] > ix->M0) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: node %llu has %u level-0 links (max %u)", name,
                                   (unsigned long long)i, dst[0], ix->M0);
                goto fail;
            }
            for (uint32_t j = 1; j <= dst[0]; j++)
                if (dst[j] >= f.n) {
                    st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: node %llu links to %u >= n", name,
                                       (unsigned long long)i, dst[j]);
                    goto fail;
                }
        }
        for (uint64_t i = 0; i < f.n; i++) {
            if (lv[i] == 0) continue;
            size_t cnt = (size_t)lv[i] * (1 + ix->M);
            const uint8_t *l = take(&r, cnt * 4);
            if (l == NULL || (ix->links_up[i] = malloc(cnt * 4)) == NULL) {
                st = l == NULL ? spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated upper links", name) : SPAR_E_NOMEM;
                goto fail;
            }
            memcpy(ix->links_up[i], l, cnt * 4);
            for (uint32_t lvl = 0; lvl < lv[i]; lvl++) {
                const uint32_t *ll = ix->links_up[i] + (size_t)lvl * (1 + ix->M);
                int ok = ll[0] <= ix->M;
                for (uint32_t j = 1; ok && j <= ll[0]; j++) ok = ll[j] < f.n && lv[ll[j]] >= lvl + 1;
                if (!ok) {
                    st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: node %llu level %u has invalid links", name,
                                       (unsigned long long)i, lvl + 1);
                    goto fail;
                }
            }
        }
    }
    if (f.flags & ANN_FLAG_DELETED) {
        const uint8_t *d = take(&r, f.n);
        if (d == NULL || (ix->deleted = malloc(f.n ? f.n : 1)) == NULL) {
            st = d == NULL ? spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated deletion flags", name) : SPAR_E_NOMEM;
            goto fail;
        }
        memcpy(ix->deleted, d, f.n);
    }
    if (r.p != r.end) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu trailing bytes", name, (size_t)(r.end - r.p));
        goto fail;
    }
    *out = ix;
    return SPAR_OK;
fail:
    spar_ann_free(ix);
    return st;
}

spar_status spar_ann_load_mem(const uint8_t *buf, size_t len, spar_ann **out, spar_diag *diag) {
    if (buf == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_file_header h;
    SPAR_TRY(spar_file_check(buf, len, 0, ANN_VERSION_MAJOR, 1, &h, "<memory>", diag));
    if (h.kind != SPAR_KIND_ANN_FLAT && h.kind != SPAR_KIND_ANN_HNSW && h.kind != SPAR_KIND_ANN_BINARY)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "<memory>: not an ANN file (kind %u)", h.kind);
    return parse(buf + sizeof h, (size_t)h.payload_bytes, "<memory>", out, diag);
}

spar_status spar_ann_load(const char *path, spar_ann **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_mapped_file m;
    SPAR_TRY(spar_file_map(path, 0, ANN_VERSION_MAJOR, 0, &m, diag));
    spar_status st;
    if (m.hdr.kind != SPAR_KIND_ANN_FLAT && m.hdr.kind != SPAR_KIND_ANN_HNSW && m.hdr.kind != SPAR_KIND_ANN_BINARY)
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: not an ANN file (kind %u)", path, m.hdr.kind);
    else
        st = parse(m.payload, m.payload_bytes, path, out, diag);
    spar_file_unmap(&m);
    return st;
}
