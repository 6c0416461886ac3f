/* ann/io.c — saving and loading ANN indexes in spar's versioned, checksummed file format
 * (docs/format/ann.md). Loading treats the file as untrusted: every count, id and size is checked against
 * the payload before use, so a crafted file yields SPAR_E_CORRUPT, never an out-of-bounds read.
 * Contract: include/spar/spar_ann.h; the file layer is storage/file.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_int.h"
#include "storage/file.h"

#define ANN_VERSION_MAJOR 1
#define ANN_VERSION_MINOR 1 /* 1.1: residual PQ (IVF storage code 3) */
#define ANN_FLAG_DELETED 1u
#define ANN_FLAG_FULL 2u /* HNSW-SQ8: float vectors for re-ranking at the end */

static uint32_t kind_of(spar_ann_kind k) {
    switch (k) {
    case SPAR_ANN_HNSW: return SPAR_KIND_ANN_HNSW;
    case SPAR_ANN_BINARY_FLAT: return SPAR_KIND_ANN_BINARY;
    case SPAR_ANN_IVF: return SPAR_KIND_ANN_IVF;
    case SPAR_ANN_BINARY_IVF: return SPAR_KIND_ANN_BINARY_IVF;
    default: return SPAR_KIND_ANN_FLAT;
    }
}
static int is_ann_kind(uint32_t k) {
    return k == SPAR_KIND_ANN_FLAT || k == SPAR_KIND_ANN_HNSW || k == SPAR_KIND_ANN_BINARY || k == SPAR_KIND_ANN_IVF ||
           k == SPAR_KIND_ANN_BINARY_IVF;
}

#define IVF_FILE_PQ_RES 3u /* storage code in the file: PQ of residuals, per-code floats follow the codebook */
typedef struct ivf_fixed { /* follows ann_fixed for IVF kinds */
    uint32_t nlist, storage, pq_m, has_full;
    uint64_t code_bytes;
} ivf_fixed;
_Static_assert(sizeof(ivf_fixed) == 24, "ivf fixed header layout");

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
    int hnsw = ix->kind == SPAR_ANN_HNSW;
    uint32_t flags = (ix->deleted ? ANN_FLAG_DELETED : 0u) | (hnsw && ix->has_full ? ANN_FLAG_FULL : 0u);
    ann_fixed f = {(uint32_t)ix->kind, (uint32_t)ix->metric, ix->dim, flags, ix->n, ix->M, ix->M0,
                   ix->ef_construction, ix->entry, ix->max_level, hnsw ? (uint32_t)ix->hfmt : 0u, ix->seed};
    SPAR_TRY_GOTO(st, spar_file_writer_write(w, &f, sizeof f), fail);
    if (ix->kind == SPAR_ANN_IVF || ix->kind == SPAR_ANN_BINARY_IVF) {
        uint32_t stor = ix->storage == SPAR_IVF_PQ && ix->pq_res ? IVF_FILE_PQ_RES : (uint32_t)ix->storage;
        ivf_fixed v = {ix->nlist, stor, ix->pq_m, (uint32_t)ix->has_full, ix->code_bytes};
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, &v, sizeof v), fail);
        if (ix->kind == SPAR_ANN_IVF)
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->centroids, (size_t)ix->nlist * ix->dim * 4), fail);
        else
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->bcentroids, (size_t)ix->nlist * ix->words * 8), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->list_off, ((size_t)ix->nlist + 1) * 8), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->list_ids, (size_t)ix->n * 4), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_pad(w, 8), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->list_codes, (size_t)ix->n * ix->code_bytes), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_pad(w, 8), fail);
        if (ix->storage == SPAR_IVF_SQ8) {
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->sq_min, (size_t)ix->dim * 4), fail);
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->sq_scale, (size_t)ix->dim * 4), fail);
        } else if (ix->storage == SPAR_IVF_PQ) {
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->pq_cb, (size_t)ix->pq_m * 256 * ix->pq_dsub * 4), fail);
            if (ix->pq_res) SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->pq_extra, (size_t)ix->n * 4), fail);
        }
        if (ix->has_full) { /* 64-byte aligned in the file so a loaded index can re-rank straight from the map */
            SPAR_TRY_GOTO(st, spar_file_writer_pad(w, 64), fail);
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->vecs, (size_t)ix->n * ix->dim * 4), fail);
        }
    } else if (ix->kind == SPAR_ANN_BINARY_FLAT) {
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->codes, (size_t)ix->n * ix->words * 8), fail);
    } else if (!hnsw) {
        for (uint64_t i = 0; i < ix->n; i++)
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->vecs + i * ix->vstride, (size_t)ix->dim * 4), fail);
    }
    if (hnsw) {
        size_t vb = ix->hfmt == SPAR_HNSW_F32 ? (size_t)ix->dim * 4 : ix->hfmt == SPAR_HNSW_SQ8 ? ix->dim : ix->dim / 8;
        if (ix->hfmt == SPAR_HNSW_SQ8) {
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->sq_min, (size_t)ix->dim * 4), fail);
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->sq_scale, (size_t)ix->dim * 4), fail);
        }
        for (uint64_t i = 0; i < ix->n; i++)
            SPAR_TRY_GOTO(st, spar_file_writer_write(w, (const uint8_t *)ix->blocks + i * ix->block_bytes + ix->link_bytes,
                                                     vb), fail);
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
    if (flags & ANN_FLAG_FULL) {
        SPAR_TRY_GOTO(st, spar_file_writer_pad(w, 64), fail);
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, ix->vecs, (size_t)ix->n * ix->dim * 4), fail);
    }
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

static const void *take_pad(rd *r, const uint8_t *payload, size_t align) {
    size_t off = (size_t)(r->p - payload), pad = (align - off % align) % align;
    return take(r, pad);
}

/* IVF payload after ann_fixed (see docs/format/ann.md). The full float vectors, when present, are not
 * copied: `full` (if non-NULL) receives their address inside the payload for the caller to keep mapped. */
static spar_status parse_ivf(rd *r, const ann_fixed *f, const uint8_t *payload, const char *name, spar_ann **out,
                             spar_diag *diag) {
    ivf_fixed v;
    const void *vp = take(r, sizeof v);
    if (vp == NULL) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated IVF header", name);
    memcpy(&v, vp, sizeof v);
    int binary = f->kind == SPAR_ANN_BINARY_IVF;
    int pq_res = v.storage == IVF_FILE_PQ_RES;
    if (pq_res) v.storage = SPAR_IVF_PQ;
    uint64_t want_code = binary ? f->dim / 8
                         : v.storage == SPAR_IVF_FLAT ? (uint64_t)f->dim * 4
                         : v.storage == SPAR_IVF_SQ8  ? f->dim
                                                      : v.pq_m;
    if (v.nlist == 0 || v.nlist > f->n || v.storage > SPAR_IVF_PQ || v.has_full > 1 || v.code_bytes != want_code ||
        (v.storage == SPAR_IVF_PQ && (v.pq_m == 0 || f->dim % v.pq_m != 0)) || (binary && v.storage != SPAR_IVF_FLAT) ||
        (v.has_full && (binary || v.storage == SPAR_IVF_FLAT)))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: invalid IVF parameters (nlist %u, storage %u, code %llu bytes)",
                             name, v.nlist, v.storage, (unsigned long long)v.code_bytes);
    spar_ann *ix = NULL;
    spar_status st = SPAR_OK;
    SPAR_TRY(spar_ann_alloc(binary ? SPAR_ANN_BINARY_FLAT : SPAR_ANN_IVF, (spar_metric)f->metric, f->dim, 0, &ix));
    ix->kind = (spar_ann_kind)f->kind;
    ix->n = f->n;
    ix->nlist = v.nlist;
    ix->storage = (spar_ivf_storage)v.storage;
    ix->code_bytes = (size_t)v.code_bytes;
    ix->pq_m = v.pq_m;
    ix->pq_dsub = v.pq_m ? f->dim / v.pq_m : 0;
    uint64_t cbytes = binary ? (uint64_t)v.nlist * (f->dim / 8) : (uint64_t)v.nlist * f->dim * 4;
    const void *cen = take(r, cbytes), *off = take(r, ((uint64_t)v.nlist + 1) * 8), *ids = take(r, f->n * 4);
    const void *pad1 = ids ? take_pad(r, payload, 8) : NULL;
    const void *codes = pad1 ? take(r, f->n * v.code_bytes) : NULL;
    const void *pad2 = codes ? take_pad(r, payload, 8) : NULL;
    if (cen == NULL || off == NULL || ids == NULL || pad1 == NULL || codes == NULL || pad2 == NULL ||
        (f->n != 0 && (f->n * v.code_bytes) / f->n != v.code_bytes)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated IVF lists", name);
        goto fail;
    }
    free(ix->vecs); /* spar_ann_alloc(n = 0) gave a placeholder */
    free(ix->codes);
    ix->vecs = NULL;
    ix->codes = NULL;
    if ((binary ? (void *)(ix->bcentroids = malloc(cbytes)) : (void *)(ix->centroids = malloc(cbytes))) == NULL ||
        (ix->list_off = malloc(((size_t)v.nlist + 1) * 8)) == NULL || (ix->list_ids = malloc(f->n * 4 + 4)) == NULL ||
        (ix->list_codes = malloc(f->n * v.code_bytes + 1)) == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    memcpy(binary ? (void *)ix->bcentroids : (void *)ix->centroids, cen, cbytes);
    memcpy(ix->list_off, off, ((size_t)v.nlist + 1) * 8);
    memcpy(ix->list_ids, ids, f->n * 4);
    memcpy(ix->list_codes, codes, f->n * v.code_bytes);
    /* lists must tile [0, n) in order and hold every id exactly once */
    if (ix->list_off[0] != 0 || ix->list_off[v.nlist] != f->n) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: list offsets do not cover the %llu vectors", name,
                           (unsigned long long)f->n);
        goto fail;
    }
    for (uint32_t l = 0; l < v.nlist; l++)
        if (ix->list_off[l] > ix->list_off[l + 1]) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: list %u offsets decrease", name, l);
            goto fail;
        }
    uint8_t *seen = calloc(f->n ? f->n : 1, 1);
    if (seen == NULL) {
        st = SPAR_E_NOMEM;
        goto fail;
    }
    for (uint64_t i = 0; i < f->n; i++) {
        uint32_t id = ix->list_ids[i];
        if (id >= f->n || seen[id]) {
            free(seen);
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: list entry %llu holds id %u (out of range or repeated)", name,
                               (unsigned long long)i, id);
            goto fail;
        }
        seen[id] = 1;
    }
    free(seen);
    if (binary) {
        ix->codes = NULL; /* binary IVF scans list_codes only */
    } else if (ix->storage == SPAR_IVF_SQ8) {
        const void *mn = take(r, (uint64_t)f->dim * 4), *sc = take(r, (uint64_t)f->dim * 4);
        if (mn == NULL || sc == NULL || (ix->sq_min = malloc(f->dim * 4)) == NULL ||
            (ix->sq_scale = malloc(f->dim * 4)) == NULL) {
            st = mn && sc ? SPAR_E_NOMEM : spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated SQ8 tables", name);
            goto fail;
        }
        memcpy(ix->sq_min, mn, f->dim * 4);
        memcpy(ix->sq_scale, sc, f->dim * 4);
        for (uint32_t j = 0; j < f->dim; j++)
            if (!(ix->sq_scale[j] > 0)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: SQ8 scale %u is not positive", name, j);
                goto fail;
            }
    } else if (ix->storage == SPAR_IVF_PQ) {
        uint64_t cb = (uint64_t)v.pq_m * 256 * ix->pq_dsub * 4;
        const void *c = take(r, cb);
        if (c == NULL || (ix->pq_cb = malloc(cb)) == NULL) {
            st = c ? SPAR_E_NOMEM : spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated PQ codebooks", name);
            goto fail;
        }
        memcpy(ix->pq_cb, c, cb);
        if (pq_res) {
            const void *ex = take(r, f->n * 4);
            if (ex == NULL || (ix->pq_extra = malloc(f->n * 4 + 4)) == NULL) {
                st = ex ? SPAR_E_NOMEM : spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated PQ residual terms", name);
                goto fail;
            }
            memcpy(ix->pq_extra, ex, f->n * 4);
            ix->pq_res = 1;
        }
        SPAR_TRY_GOTO(st, spar_pq_transpose(ix), fail);
    }
    if (v.has_full) {
        const void *pad = take_pad(r, payload, 64);
        const void *fv = pad ? take(r, f->n * f->dim * 4) : NULL;
        if (fv == NULL) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated full-precision vectors", name);
            goto fail;
        }
        ix->vecs = (float *)(uintptr_t)fv; /* points into the mapping; see spar_ann_load */
        ix->vstride = f->dim;
        ix->has_full = 1;
    }
    if (r->p != r->end) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu trailing bytes", name, (size_t)(r->end - r->p));
        goto fail;
    }
    *out = ix;
    return SPAR_OK;
fail:
    if (ix->has_full) ix->vecs = NULL;
    spar_ann_free(ix);
    return st;
}

static spar_status parse(const uint8_t *payload, size_t len, const char *name, spar_ann **out, spar_diag *diag) {
    rd r = {payload, payload + len};
    ann_fixed f;
    const void *fp = take(&r, sizeof f);
    if (fp == NULL) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated ANN header", name);
    memcpy(&f, fp, sizeof f);
    int hnsw = f.kind == SPAR_ANN_HNSW;
    uint32_t hfmt = hnsw ? f.reserved : 0;
    if (f.kind < SPAR_ANN_FLAT || f.kind > SPAR_ANN_BINARY_IVF || f.metric > SPAR_METRIC_HAMMING || f.dim == 0 ||
        f.dim > (1u << 20) || f.n >= UINT32_MAX || (f.flags & ~(ANN_FLAG_DELETED | ANN_FLAG_FULL)) != 0 ||
        hfmt > SPAR_HNSW_BIN || (!hnsw && f.reserved != 0) ||
        ((f.flags & ANN_FLAG_FULL) && !(hnsw && hfmt == SPAR_HNSW_SQ8)))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: invalid ANN parameters (kind %u, metric %u, dim %u, n %llu)",
                             name, f.kind, f.metric, f.dim, (unsigned long long)f.n);
    int binary = f.kind == SPAR_ANN_BINARY_FLAT || f.kind == SPAR_ANN_BINARY_IVF || (hnsw && hfmt == SPAR_HNSW_BIN);
    if (binary != (f.metric == SPAR_METRIC_HAMMING) || (binary && f.dim % 64 != 0))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: metric %u does not fit index kind %u", name, f.metric, f.kind);
    if (f.kind == SPAR_ANN_IVF || f.kind == SPAR_ANN_BINARY_IVF) return parse_ivf(&r, &f, payload, name, out, diag);
    uint64_t vb = binary ? f.dim / 8 : hfmt == SPAR_HNSW_SQ8 ? f.dim : (uint64_t)f.dim * 4;
    const uint8_t *sqt = NULL;
    if (hfmt == SPAR_HNSW_SQ8 && (sqt = take(&r, (uint64_t)f.dim * 8)) == NULL)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated SQ8 tables", name);
    uint64_t vec_bytes = f.n * vb;
    if (f.n != 0 && vec_bytes / f.n != vb) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: size overflow", name);
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
        SPAR_TRY(spar_ann_alloc(binary ? SPAR_ANN_BINARY_FLAT : SPAR_ANN_HNSW, (spar_metric)f.metric, f.dim, f.n, &ix));
        free(ix->codes); /* binary: codes live in the node blocks */
        ix->codes = NULL;
        ix->kind = SPAR_ANN_HNSW;
        ix->hfmt = (int)hfmt;
        ix->M = f.M, ix->M0 = f.M0, ix->ef_construction = f.efc, ix->entry = f.entry, ix->max_level = f.max_level;
        ix->seed = f.seed;
        SPAR_TRY_GOTO(st, spar_hnsw_alloc_nodes(ix, (size_t)vb), fail);
        for (uint64_t i = 0; i < f.n; i++)
            memcpy((uint8_t *)ix->blocks + i * ix->block_bytes + ix->link_bytes, vecs + i * vb, (size_t)vb);
        if (hfmt == SPAR_HNSW_SQ8) {
            if ((ix->sq_min = malloc(f.dim * 4)) == NULL || (ix->sq_scale = malloc(f.dim * 4)) == NULL ||
                (ix->sq_w = malloc(f.dim * 4)) == NULL) {
                st = SPAR_E_NOMEM;
                goto fail;
            }
            memcpy(ix->sq_min, sqt, f.dim * 4);
            memcpy(ix->sq_scale, sqt + (size_t)f.dim * 4, f.dim * 4);
            for (uint32_t j = 0; j < f.dim; j++) {
                if (!(ix->sq_scale[j] > 0) || !isfinite(ix->sq_min[j])) {
                    st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: SQ8 table entry %u invalid", name, j);
                    goto fail;
                }
                ix->sq_w[j] = ix->sq_scale[j] * ix->sq_scale[j];
            }
        }
        const uint8_t *lv = take(&r, f.n);
        if (lv == NULL || take_pad(&r, payload, 8) == NULL) {
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
    if (f.flags & ANN_FLAG_FULL) {
        const void *pad = take_pad(&r, payload, 64);
        const void *fv = pad ? take(&r, f.n * f.dim * 4) : NULL;
        if (fv == NULL) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: truncated full-precision vectors", name);
            goto fail;
        }
        free(ix->vecs); /* nothing is allocated there for SQ8 nodes; keep free() symmetric */
        ix->vecs = (float *)(uintptr_t)fv; /* points into the payload; see spar_ann_load / load_mem */
        ix->vstride = f.dim;
        ix->has_full = 1;
    }
    if (r.p != r.end) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu trailing bytes", name, (size_t)(r.end - r.p));
        goto fail;
    }
    *out = ix;
    return SPAR_OK;
fail:
    if (ix != NULL && ix->has_full) ix->vecs = NULL;
    spar_ann_free(ix);
    return st;
}

spar_status spar_ann_load_mem(const uint8_t *buf, size_t len, spar_ann **out, spar_diag *diag) {
    if (buf == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_file_header h;
    SPAR_TRY(spar_file_check(buf, len, 0, ANN_VERSION_MAJOR, 1, &h, "<memory>", diag));
    if (!is_ann_kind(h.kind)) return spar_diag_err(diag, SPAR_E_CORRUPT, "<memory>: not an ANN file (kind %u)", h.kind);
    SPAR_TRY(parse(buf + sizeof h, (size_t)h.payload_bytes, "<memory>", out, diag));
    spar_ann *ix = *out;
    if (ix->has_full) { /* the caller's buffer need not outlive the index: copy */
        float *v = spar_ann_aligned_alloc((size_t)ix->n * ix->dim * 4);
        if (v == NULL) {
            ix->vecs = NULL;
            spar_ann_free(ix);
            *out = NULL;
            return SPAR_E_NOMEM;
        }
        memcpy(v, ix->vecs, (size_t)ix->n * ix->dim * 4);
        ix->vecs = v;
    }
    return SPAR_OK;
}

spar_status spar_ann_load(const char *path, spar_ann **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_mapped_file m;
    SPAR_TRY(spar_file_map(path, 0, ANN_VERSION_MAJOR, 0, &m, diag));
    spar_status st;
    if (!is_ann_kind(m.hdr.kind))
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: not an ANN file (kind %u)", path, m.hdr.kind);
    else
        st = parse(m.payload, m.payload_bytes, path, out, diag);
    if (st == SPAR_OK && (*out)->has_full) {
        /* re-ranking reads the float vectors straight from the page cache: keep the file mapped */
        spar_mapped_file *keep = malloc(sizeof *keep);
        if (keep == NULL) {
            (*out)->vecs = NULL;
            spar_ann_free(*out);
            *out = NULL;
            spar_file_unmap(&m);
            return SPAR_E_NOMEM;
        }
        *keep = m;
        (*out)->mapping = keep;
        return SPAR_OK;
    }
    spar_file_unmap(&m);
    return st;
}
