/* sparse_io.c — save/load of a spar_sparse_index as one SPAR_KIND_SEISMIC file (docs/format/sparse.md):
 * the 32-byte spar header (version, XXH3 checksum) then a fixed little-endian meta block, the forward
 * index and, when built, the approximate index. Load validates every offset, id and weight before use
 * (errors name the byte offset) and rebuilds the exact inverted/block-max parts from the forward index. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "index/sparse/sparse_int.h"
#include "storage/file.h"

#define SPARSE_VMAJOR 1
#define SPARSE_VMINOR 0
#define SPARSE_MAGIC 0x45535053u /* "SPSE" */

typedef struct sparse_meta { /* 80 bytes, little-endian */
    uint32_t magic, n_docs, dim, bmp_block;
    uint64_t nnz;
    uint32_t has_approx, n_postings;
    float block_fraction, summary_energy;
    uint64_t seed, n_ablocks, n_apost, n_asum;
    uint32_t has_ext, reserved;
} sparse_meta;
_Static_assert(sizeof(sparse_meta) == 80, "sparse meta layout");

static spar_status put(spar_file_writer *w, const void *p, size_t n) {
    SPAR_TRY(spar_file_writer_write(w, p, n));
    return spar_file_writer_pad(w, 8);
}

spar_status spar_sparse_index_save(const spar_sparse_index *ix, const char *path, spar_diag *diag) {
    if (ix == NULL || path == NULL) return SPAR_E_INVALID_ARG;
    if (ix->quant)
        return spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: an index with 8-bit weights (weight_bits 8) cannot be saved yet", path);
    spar_file_writer *w = NULL;
    spar_status st;
    SPAR_TRY(spar_file_writer_open(path, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, SPARSE_VMINOR, 0, &w, diag));
    sparse_meta m;
    memset(&m, 0, sizeof m);
    m.magic = SPARSE_MAGIC;
    m.n_docs = ix->n_docs;
    m.dim = ix->dim;
    m.bmp_block = ix->bmp_block;
    m.nnz = ix->nnz;
    m.has_approx = (uint32_t)ix->has_approx;
    m.n_postings = ix->opts.n_postings;
    m.block_fraction = ix->opts.block_fraction;
    m.summary_energy = ix->opts.summary_energy;
    m.seed = ix->opts.seed;
    m.n_ablocks = ix->n_ablocks;
    m.n_apost = ix->n_apost;
    m.n_asum = ix->n_asum;
    m.has_ext = ix->ext != NULL;
    SPAR_TRY_GOTO(st, put(w, &m, sizeof m), fail);
    SPAR_TRY_GOTO(st, put(w, ix->f_off, ((size_t)ix->n_docs + 1) * 8), fail);
    SPAR_TRY_GOTO(st, put(w, ix->f_ids, (size_t)ix->nnz * 2), fail);
    SPAR_TRY_GOTO(st, put(w, ix->f_w, (size_t)ix->nnz * 4), fail);
    if (ix->ext) SPAR_TRY_GOTO(st, put(w, ix->ext, (size_t)ix->n_docs * 4), fail);
    if (ix->has_approx) {
        SPAR_TRY_GOTO(st, put(w, ix->a_toff, ((size_t)ix->dim + 1) * 8), fail);
        SPAR_TRY_GOTO(st, put(w, ix->a_boff, ((size_t)ix->n_ablocks + 1) * 8), fail);
        SPAR_TRY_GOTO(st, put(w, ix->a_docs, (size_t)ix->n_apost * 4), fail);
        SPAR_TRY_GOTO(st, put(w, ix->a_soff, ((size_t)ix->n_ablocks + 1) * 8), fail);
        SPAR_TRY_GOTO(st, put(w, ix->a_sterm, (size_t)ix->n_asum * 2), fail);
        SPAR_TRY_GOTO(st, put(w, ix->a_sval, (size_t)ix->n_asum), fail);
        SPAR_TRY_GOTO(st, put(w, ix->a_sscale, (size_t)ix->n_ablocks * 4), fail);
    }
    return spar_file_writer_commit(w, diag);
fail:
    spar_file_writer_abort(w);
    return spar_diag_err(diag, st, "%s: write failed: %s", path, spar_status_str(st));
}

typedef struct reader {
    const uint8_t *p;
    size_t size, off;
    const char *name;
    spar_diag *diag;
    int borrow; /* approximate sections: point into the (mapped, read-only) buffer instead of copying */
} reader;

/* Copy n elements of `elem` bytes into a fresh array (8-byte padded section). */
static spar_status take(reader *r, size_t n, size_t elem, void **out) {
    *out = NULL;
    if (elem != 0 && n > (SIZE_MAX - 8) / elem) return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: byte %zu: section size overflows", r->name, r->off + 32);
    size_t bytes = n * elem, padded = (bytes + 7) & ~(size_t)7;
    if (padded > r->size - r->off)
        return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: byte %zu: truncated section (%zu bytes needed, %zu left)",
                             r->name, r->off + 32, padded, r->size - r->off);
    void *a = malloc(bytes ? bytes : 1);
    if (a == NULL) return SPAR_E_NOMEM;
    memcpy(a, r->p + r->off, bytes);
    r->off += padded;
    *out = a;
    return SPAR_OK;
}

/* An approximate section: copied like take(), or with r->borrow a view into the buffer (8-byte aligned: the
 * payload starts 32 bytes into a page-aligned map and every section is padded to 8). Never written to. */
static spar_status take_approx(reader *r, size_t n, size_t elem, void **out) {
    if (!r->borrow) return take(r, n, elem, out);
    *out = NULL;
    if (elem != 0 && n > (SIZE_MAX - 8) / elem) return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: byte %zu: section size overflows", r->name, r->off + 32);
    size_t bytes = n * elem, padded = (bytes + 7) & ~(size_t)7;
    if (padded > r->size - r->off)
        return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: byte %zu: truncated section (%zu bytes needed, %zu left)",
                             r->name, r->off + 32, padded, r->size - r->off);
    *out = (void *)(uintptr_t)(r->p + r->off);
    r->off += padded;
    return SPAR_OK;
}

static spar_status check_offsets(reader *r, const uint64_t *o, uint64_t n, uint64_t total, const char *what) {
    if (o[0] != 0) return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: %s offsets do not start at 0", r->name, what);
    for (uint64_t i = 0; i < n; i++)
        if (o[i + 1] < o[i] || o[i + 1] > total)
            return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: %s offset %llu out of order or range", r->name, what,
                                 (unsigned long long)(i + 1));
    if (o[n] != total) return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: %s offsets end at %llu, expected %llu", r->name,
                                            what, (unsigned long long)o[n], (unsigned long long)total);
    return SPAR_OK;
}

/* map: NULL = copy every section; else the approximate sections stay in buf, which the index then owns
 * (ix->a_map) on success only. */
static spar_status load_impl(const uint8_t *buf, size_t size, const char *name, void *map, spar_sparse_index **out,
                             spar_diag *diag) {
    if (out == NULL || (buf == NULL && size > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (name == NULL) name = "<memory>";
    spar_file_header h;
    SPAR_TRY(spar_file_check(buf, size, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, 1, &h, name, diag));
    reader r = {buf + 32, size - 32, 0, name, diag, map != NULL};
    if (h.payload_bytes != r.size) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: payload size mismatch", name);
    sparse_meta m;
    if (r.size < sizeof m) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 32: truncated meta block", name);
    memcpy(&m, r.p, sizeof m);
    r.off = sizeof m;
    if (m.magic != SPARSE_MAGIC) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 32: not a sparse index (bad magic)", name);
    if (m.dim == 0 || m.dim > 65536 || m.n_docs == UINT32_MAX || m.bmp_block < 8 || m.bmp_block > 65536 || m.has_approx > 1 || m.has_ext > 1 || m.reserved != 0 ||
        m.nnz > (uint64_t)m.n_docs * m.dim || (m.has_approx && (m.n_apost > m.nnz || m.n_ablocks > m.n_apost)))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 32: inconsistent meta block", name);
    spar_status st = SPAR_OK;
    spar_sparse_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL) return SPAR_E_NOMEM;
    ix->n_docs = m.n_docs;
    ix->dim = m.dim;
    ix->nnz = m.nnz;
    ix->bmp_block = m.bmp_block;
    spar_sparse_build_opts_default(&ix->opts);
    ix->opts.bmp_block = m.bmp_block;
    ix->opts.build_approx = (int)m.has_approx;
    ix->opts.n_postings = m.n_postings;
    ix->opts.block_fraction = m.block_fraction;
    ix->opts.summary_energy = m.summary_energy;
    ix->opts.seed = m.seed;
    ix->opts.reorder = (int)m.has_ext;
    SPAR_TRY_GOTO(st, take(&r, (size_t)m.n_docs + 1, 8, (void **)&ix->f_off), done);
    SPAR_TRY_GOTO(st, check_offsets(&r, ix->f_off, m.n_docs, m.nnz, "forward"), done);
    SPAR_TRY_GOTO(st, take(&r, (size_t)m.nnz, 2, (void **)&ix->f_ids), done);
    SPAR_TRY_GOTO(st, take(&r, (size_t)m.nnz, 4, (void **)&ix->f_w), done);
    for (uint32_t d = 0; d < m.n_docs; d++)
        for (uint64_t i = ix->f_off[d]; i < ix->f_off[d + 1]; i++) {
            if (ix->f_ids[i] >= m.dim || (i > ix->f_off[d] && ix->f_ids[i] <= ix->f_ids[i - 1])) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: doc %u: term ids not ascending or >= dim", name, d);
                goto done;
            }
            if (!(ix->f_w[i] >= 0.0f && ix->f_w[i] <= SPAR_SPARSE_MAX_WEIGHT)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: doc %u: weight out of range", name, d);
                goto done;
            }
        }
    if (m.has_ext) {
        SPAR_TRY_GOTO(st, take(&r, (size_t)m.n_docs, 4, (void **)&ix->ext), done);
        uint64_t *seen = calloc(((size_t)m.n_docs + 63) / 64 + 1, sizeof *seen);
        if (seen == NULL) { st = SPAR_E_NOMEM; goto done; }
        for (uint32_t i = 0; i < m.n_docs; i++) {
            uint32_t e = ix->ext[i];
            if (e >= m.n_docs || (seen[e >> 6] >> (e & 63)) & 1) {
                free(seen);
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: docid map entry %u is not a permutation", name, i);
                goto done;
            }
            seen[e >> 6] |= 1ull << (e & 63);
        }
        free(seen);
    }
    if (m.has_approx) {
        ix->n_ablocks = m.n_ablocks;
        ix->n_apost = m.n_apost;
        ix->n_asum = m.n_asum;
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.dim + 1, 8, (void **)&ix->a_toff), done);
        SPAR_TRY_GOTO(st, check_offsets(&r, ix->a_toff, m.dim, m.n_ablocks, "approx term"), done);
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_ablocks + 1, 8, (void **)&ix->a_boff), done);
        SPAR_TRY_GOTO(st, check_offsets(&r, ix->a_boff, m.n_ablocks, m.n_apost, "approx block"), done);
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_apost, 4, (void **)&ix->a_docs), done);
        for (uint64_t i = 0; i < m.n_apost; i++)
            if (ix->a_docs[i] >= m.n_docs) { st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: approx posting %llu: docid out of range", name, (unsigned long long)i); goto done; }
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_ablocks + 1, 8, (void **)&ix->a_soff), done);
        SPAR_TRY_GOTO(st, check_offsets(&r, ix->a_soff, m.n_ablocks, m.n_asum, "summary"), done);
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_asum, 2, (void **)&ix->a_sterm), done);
        for (uint64_t i = 0; i < m.n_asum; i++)
            if (ix->a_sterm[i] >= m.dim) { st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: summary entry %llu: term out of range", name, (unsigned long long)i); goto done; }
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_asum, 1, (void **)&ix->a_sval), done);
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_ablocks, 4, (void **)&ix->a_sscale), done);
        for (uint64_t i = 0; i < m.n_ablocks; i++)
            if (!(ix->a_sscale[i] >= 0.0f && ix->a_sscale[i] <= SPAR_SPARSE_MAX_WEIGHT)) { st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: block %llu: bad summary scale", name, (unsigned long long)i); goto done; }
        ix->has_approx = 1;
    }
    if (r.off != r.size) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: %zu trailing bytes", name, r.off + 32, r.size - r.off);
        goto done;
    }
    SPAR_TRY_GOTO(st, spar_sparse_build_derived(ix), done);
    ix->a_map = map;
    *out = ix;
    ix = NULL;
done:
    if (ix && map) { /* borrowed views are not ours to free; the caller unmaps */
        ix->a_toff = ix->a_boff = ix->a_soff = NULL;
        ix->a_docs = NULL;
        ix->a_sterm = NULL;
        ix->a_sval = NULL;
        ix->a_sscale = NULL;
    }
    spar_sparse_index_free(ix);
    return st;
}

spar_status spar_sparse_index_load_mem(const uint8_t *buf, size_t size, const char *name, spar_sparse_index **out,
                                       spar_diag *diag) {
    return load_impl(buf, size, name, NULL, out, diag);
}

spar_status spar_sparse_index_load(const char *path, spar_sparse_index **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    spar_mapped_file mf;
    SPAR_TRY(spar_file_map(path, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, 0, &mf, diag));
    spar_status st = spar_sparse_index_load_mem(mf.base, mf.size, path, out, diag);
    spar_file_unmap(&mf);
    return st;
}

spar_status spar_sparse_index_load_mapped(const char *path, spar_sparse_index **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_mapped_file *mf = malloc(sizeof *mf);
    if (mf == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_file_map(path, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, 0, mf, diag);
    if (st != SPAR_OK) {
        free(mf);
        return st;
    }
    st = load_impl(mf->base, mf->size, path, mf, out, diag);
    if (st != SPAR_OK) {
        spar_file_unmap(mf);
        free(mf);
    }
    return st;
}
