/* sparse_io.c — save/load of a spar_sparse_index as one SPAR_KIND_SEISMIC file (docs/format/sparse.md).
 *
 * Format 2 (written): the 32-byte spar header, a meta block, a section table ({id, element size, file offset,
 * count, XXH3} per array, checksummed with the meta block) and then every array of the index — forward,
 * inverted, block maxima, skip blocks, 8-bit codes, approximate — each at a 64-byte aligned file offset. A
 * load maps the file and points the index into it (read-only views): nothing is rebuilt. The arrays are
 * listed once, in `sections` below: saving, placing, hashing, viewing/copying and releasing all walk that
 * table, so a new array of struct spar_sparse_index is one line there (plus its checks in validate_*).
 *
 * What a load checks (docs/format/sparse.md, "Validation"): always the header, the meta + table checksum, the
 * placement of every section and every offset-like array (O(dim + n_docs + approximate blocks), hashed and
 * validated); with IO_VALUES also every element (ids, docids, weights: O(file)), with IO_HASH the payload
 * XXH3. Format 1 (read only): forward + approximate parts; the exact parts are rebuilt (slow, logged). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/common.h"
#include "index/sparse/sparse_int.h"
#include "storage/file.h"

#define SPARSE_VMAJOR 2 /* written */
#define SPARSE_VMINOR 0
#define SPARSE_V1 1              /* still read (exact parts rebuilt) */
#define SPARSE_MAGIC 0x45535053u /* "SPSE" */
#define SEC_ALIGN 64u
#define META_AT 32u /* file offset of the format-2 meta block */
#define MAX_SECTIONS 1024u

/* how a format-2 image is loaded */
#define IO_VALUES 1u /* validate every element of every section (else only the offset-like sections) */
#define IO_HASH 2u   /* check the payload XXH3 of the header */
#define IO_VIEW 4u   /* point into the buffer (a read-only map that outlives the index) instead of copying */
#define IO_FULL (IO_VALUES | IO_HASH)

/* ---------------------------------------------------------------------------------------------------- */
/* Format 2 layout                                                                                        */

typedef struct sparse_meta2 { /* 128 bytes at file offset 32, little-endian */
    uint32_t magic, n_docs, dim, bmp_block;
    uint64_t nnz;
    uint32_t n_blocks, n_dense, flags, n_sections;
    uint32_t skip_block, weight_bits, reorder, n_postings;
    float block_fraction, summary_energy;
    uint64_t seed, n_ablocks, n_apost, n_asum;
    double build_s, abuild_s;
    uint64_t reserved[2];
} sparse_meta2;
_Static_assert(sizeof(sparse_meta2) == 128, "sparse meta v2 layout");
#define MF_EXT 1u    /* ext (docid map) present */
#define MF_APPROX 2u /* approximate sections present */
#define MF_QUANT 4u  /* 8-bit weights: f_q/p_q present, p_w absent */

typedef struct sparse_sec { /* one section table entry, 32 bytes */
    uint32_t id, elem;
    uint64_t offset; /* from the start of the file, multiple of SEC_ALIGN */
    uint64_t count;  /* elements */
    uint64_t xxh3;   /* XXH3-64 of the count * elem bytes */
} sparse_sec;
_Static_assert(sizeof(sparse_sec) == 32, "sparse section entry layout");

enum { W_ALL, W_EXT, W_FLOAT, W_QUANT, W_APPROX }; /* when a section is present */
enum { C_DOCS, C_DOCS1, C_NNZ, C_DIM, C_DIM1, C_DENSE, C_AB, C_AB1, C_APOST, C_ASUM, C_BM, C_PB }; /* count */

typedef struct sec_def {
    uint32_t id;      /* on disk; never reused */
    const char *name; /* the struct field, used in messages */
    size_t field;     /* offsetof the pointer in struct spar_sparse_index */
    uint32_t elem;    /* element bytes */
    uint8_t when, count;
    uint8_t small; /* offset-like: hashed and validated on every load (else only with IO_VALUES) */
} sec_def;

#define SEC(id, f, when, count, small)                                                                       \
    {                                                                                                        \
        id, #f, offsetof(spar_sparse_index, f), (uint32_t)sizeof *((spar_sparse_index *)0)->f, when, count,  \
            small                                                                                            \
    }
/* Every array of the index, in file order. Add a line to save/load a new one. */
/* clang-format off */
static const sec_def sections[] = {
    SEC(1, ext, W_EXT, C_DOCS, 1),         SEC(2, f_off, W_ALL, C_DOCS1, 1),
    SEC(3, f_ids, W_ALL, C_NNZ, 0),        SEC(4, f_w, W_ALL, C_NNZ, 0),
    SEC(5, f_q, W_QUANT, C_NNZ, 0),        SEC(6, p_off, W_ALL, C_DIM1, 1),
    SEC(7, p_doc, W_ALL, C_NNZ, 0),        SEC(8, p_w, W_FLOAT, C_NNZ, 0),
    SEC(9, p_q, W_QUANT, C_NNZ, 0),        SEC(10, bm_off, W_ALL, C_DIM1, 1),
    SEC(11, bm_blk, W_ALL, C_BM, 0),       SEC(12, bm_q, W_ALL, C_BM, 0),
    SEC(13, bm_step, W_ALL, C_DIM, 1),     SEC(14, bm_row, W_ALL, C_DIM, 1),
    SEC(15, bm_dense, W_ALL, C_DENSE, 0),  SEC(16, pb_off, W_ALL, C_DIM1, 1),
    SEC(17, pb_last, W_ALL, C_PB, 0),      SEC(18, pb_q, W_ALL, C_PB, 0),
    SEC(32, a_toff, W_APPROX, C_DIM1, 1),  SEC(33, a_boff, W_APPROX, C_AB1, 1),
    SEC(34, a_docs, W_APPROX, C_APOST, 0), SEC(35, a_soff, W_APPROX, C_AB1, 1),
    SEC(36, a_sterm, W_APPROX, C_ASUM, 0), SEC(37, a_sval, W_APPROX, C_ASUM, 0),
    SEC(38, a_sscale, W_APPROX, C_AB, 0),
};
/* clang-format on */
#define N_SECS (sizeof sections / sizeof sections[0])

static void *field_get(const spar_sparse_index *ix, const sec_def *d) {
    void *p;
    memcpy(&p, (const char *)ix + d->field, sizeof p);
    return p;
}
static void field_set(spar_sparse_index *ix, const sec_def *d, const void *p) {
    memcpy((char *)ix + d->field, &p, sizeof p);
}

/* The MF_* flags of an index, and whether a section is present under them. */
static uint32_t index_flags(const spar_sparse_index *ix) {
    return (ix->ext ? MF_EXT : 0u) | (ix->has_approx ? MF_APPROX : 0u) | (ix->quant ? MF_QUANT : 0u);
}
static int sec_wanted(const sec_def *d, uint32_t flags) {
    switch (d->when) {
    case W_EXT:
        return (flags & MF_EXT) != 0;
    case W_FLOAT:
        return (flags & MF_QUANT) == 0;
    case W_QUANT:
        return (flags & MF_QUANT) != 0;
    case W_APPROX:
        return (flags & MF_APPROX) != 0;
    default:
        return 1;
    }
}

/* Element count of a section from the index's counts; C_BM / C_PB depend on bm_off / pb_off (read first). */
static uint64_t sec_count(const spar_sparse_index *ix, const sec_def *d) {
    switch (d->count) {
    case C_DOCS:
        return ix->n_docs;
    case C_DOCS1:
        return (uint64_t)ix->n_docs + 1;
    case C_NNZ:
        return ix->nnz;
    case C_DIM:
        return ix->dim;
    case C_DIM1:
        return (uint64_t)ix->dim + 1;
    case C_DENSE:
        return (uint64_t)ix->n_dense * ix->n_blocks;
    case C_AB:
        return ix->n_ablocks;
    case C_AB1:
        return ix->n_ablocks + 1;
    case C_APOST:
        return ix->n_apost;
    case C_ASUM:
        return ix->n_asum;
    case C_BM:
        return ix->bm_off ? ix->bm_off[ix->dim] : 0;
    case C_PB:
        return ix->pb_off ? ix->pb_off[ix->dim] : 0;
    default:
        return 0;
    }
}

static uint64_t align_up(uint64_t x) {
    return (x + SEC_ALIGN - 1) & ~(uint64_t)(SEC_ALIGN - 1);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Saving (always format 2)                                                                               */

static spar_status pad_to(spar_file_writer *w, uint64_t file_off) {
    static const uint8_t zero[SEC_ALIGN];
    for (uint64_t at = sizeof(spar_file_header) + spar_file_writer_offset(w); at < file_off;) {
        size_t n = (size_t)SPAR_MIN(file_off - at, (uint64_t)SEC_ALIGN);
        SPAR_TRY(spar_file_writer_write(w, zero, n));
        at += n;
    }
    return SPAR_OK;
}

spar_status spar_sparse_index_save(const spar_sparse_index *ix, const char *path, spar_diag *diag) {
    if (ix == NULL || path == NULL) return SPAR_E_INVALID_ARG;
    const uint32_t flags = index_flags(ix);
    sparse_sec tab[N_SECS];
    const void *src[N_SECS];
    uint32_t n = 0;
    for (size_t i = 0; i < N_SECS; i++) {
        const sec_def *d = &sections[i];
        if (!sec_wanted(d, flags)) continue;
        const void *p = field_get(ix, d);
        uint64_t cnt = sec_count(ix, d);
        if (p == NULL && cnt > 0)
            return spar_diag_err(diag, SPAR_E_INTERNAL, "%s: the index has no %s array to save", path,
                                 d->name);
        tab[n] = (sparse_sec){d->id, d->elem, 0, cnt,
                              XXH3_64bits(p ? p : (const void *)"", (size_t)(cnt * d->elem))};
        src[n++] = p;
    }
    uint64_t off = align_up(META_AT + sizeof(sparse_meta2) + (uint64_t)n * sizeof(sparse_sec) + 8);
    for (uint32_t i = 0; i < n; i++) {
        tab[i].offset = off;
        off = align_up(off + tab[i].count * tab[i].elem);
    }
    sparse_meta2 m;
    memset(&m, 0, sizeof m);
    m.magic = SPARSE_MAGIC;
    m.n_docs = ix->n_docs;
    m.dim = ix->dim;
    m.bmp_block = ix->bmp_block;
    m.nnz = ix->nnz;
    m.n_blocks = ix->n_blocks;
    m.n_dense = ix->n_dense;
    m.flags = flags;
    m.n_sections = n;
    m.skip_block = SPAR_SPARSE_PB;
    m.weight_bits = ix->quant ? 8 : 32;
    m.reorder = (uint32_t)ix->opts.reorder;
    m.n_postings = ix->opts.n_postings;
    m.block_fraction = ix->opts.block_fraction;
    m.summary_energy = ix->opts.summary_energy;
    m.seed = ix->opts.seed;
    if (ix->has_approx) {
        m.n_ablocks = ix->n_ablocks;
        m.n_apost = ix->n_apost;
        m.n_asum = ix->n_asum;
    }
    /* build_s / abuild_s stay 0 in the file: its bytes depend only on the index content (a rebuild of the same
     * input, or a re-save, is byte-identical) */
    size_t head = sizeof m + (size_t)n * sizeof(sparse_sec);
    uint8_t *hb = malloc(head);
    if (hb == NULL) return SPAR_E_NOMEM;
    memcpy(hb, &m, sizeof m);
    memcpy(hb + sizeof m, tab, (size_t)n * sizeof(sparse_sec));
    const uint64_t hx = XXH3_64bits(hb, head);
    spar_file_writer *w = NULL;
    spar_status st =
        spar_file_writer_open(path, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, SPARSE_VMINOR, 0, &w, diag);
    if (st != SPAR_OK) {
        free(hb);
        return st;
    }
    st = spar_file_writer_write(w, hb, head);
    free(hb);
    if (st == SPAR_OK) st = spar_file_writer_write(w, &hx, sizeof hx);
    for (uint32_t i = 0; i < n && st == SPAR_OK; i++) {
        st = pad_to(w, tab[i].offset);
        if (st == SPAR_OK && tab[i].count)
            st = spar_file_writer_write(w, src[i], (size_t)(tab[i].count * tab[i].elem));
    }
    if (st == SPAR_OK) st = pad_to(w, off);
    if (st != SPAR_OK) {
        spar_file_writer_abort(w);
        return spar_diag_err(diag, st, "%s: write failed: %s", path, spar_status_str(st));
    }
    return spar_file_writer_commit(w, diag);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Loading format 2                                                                                       */

typedef struct v2 {
    const uint8_t *buf;
    size_t size;
    const char *name;
    spar_diag *diag;
    spar_sparse_index *ix;
    sparse_sec got[N_SECS];
    uint8_t have[N_SECS];
} v2;

static size_t sec_index(uint32_t id) {
    for (size_t k = 0; k < N_SECS; k++)
        if (sections[k].id == id) return k;
    return N_SECS;
}

/* SPAR_E_CORRUPT naming element i of section k by its byte offset in the file. */
static spar_status elem_err(const v2 *c, size_t k, uint64_t i, const char *what, unsigned long long v) {
    return spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s: byte %llu: %s[%llu] = %llu: %s", c->name,
                         (unsigned long long)(c->got[k].offset + i * c->got[k].elem), sections[k].name,
                         (unsigned long long)i, v, what);
}

#define SEC_(f) (sec_index_of_field(offsetof(spar_sparse_index, f)))
static size_t sec_index_of_field(size_t field) {
    for (size_t k = 0; k < N_SECS; k++)
        if (sections[k].field == field) return k;
    return N_SECS;
}

/* Offsets o[0..n] of section k: start at 0, non-decreasing, end at total. */
static spar_status check_offs(const v2 *c, size_t k, const uint64_t *o, uint64_t n, uint64_t total) {
    if (o[0] != 0) return elem_err(c, k, 0, "offsets must start at 0", o[0]);
    for (uint64_t i = 0; i < n; i++)
        if (o[i + 1] < o[i] || o[i + 1] > total)
            return elem_err(c, k, i + 1, "offset out of order or range", o[i + 1]);
    if (o[n] != total) return elem_err(c, k, n, "offsets must end at the section total", o[n]);
    return SPAR_OK;
}

static int weight_ok(float w) {
    return w >= 0.0f && w <= SPAR_SPARSE_MAX_WEIGHT;
}
/* A float shown in a message by its bits (NaN and infinities have no integer value). */
static unsigned long long fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The offset-like sections (O(dim + n_docs + approximate blocks)): checked on every load, because every
 * other section is reached through them. */
static spar_status validate_small(const v2 *c) {
    const spar_sparse_index *ix = c->ix;
    const uint32_t dim = ix->dim;
    SPAR_TRY(check_offs(c, SEC_(f_off), ix->f_off, ix->n_docs, ix->nnz));
    if (ix->ext) {
        uint64_t *seen = calloc(((size_t)ix->n_docs + 63) / 64 + 1, sizeof *seen);
        if (seen == NULL) return SPAR_E_NOMEM;
        for (uint32_t i = 0; i < ix->n_docs; i++) {
            uint32_t e = ix->ext[i];
            if (e >= ix->n_docs || (seen[e >> 6] >> (e & 63)) & 1) {
                free(seen);
                return elem_err(c, SEC_(ext), i, "the docid map is not a permutation", e);
            }
            seen[e >> 6] |= 1ull << (e & 63);
        }
        free(seen);
    }
    SPAR_TRY(check_offs(c, SEC_(p_off), ix->p_off, dim, ix->nnz));
    const size_t kblk = SEC_(bm_blk), klast = SEC_(pb_last);
    if (c->got[SEC_(bm_q)].count != c->got[kblk].count)
        return elem_err(c, SEC_(bm_q), 0, "bm_q and bm_blk differ in length", c->got[SEC_(bm_q)].count);
    if (c->got[SEC_(pb_q)].count != c->got[klast].count)
        return elem_err(c, SEC_(pb_q), 0, "pb_q and pb_last differ in length", c->got[SEC_(pb_q)].count);
    SPAR_TRY(check_offs(c, SEC_(bm_off), ix->bm_off, dim, c->got[kblk].count));
    SPAR_TRY(check_offs(c, SEC_(pb_off), ix->pb_off, dim, c->got[klast].count));
    uint32_t n_dense = 0;
    uint64_t *rows = calloc(((size_t)ix->n_dense + 63) / 64 + 1, sizeof *rows);
    if (rows == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    for (uint32_t t = 0; t < dim && st == SPAR_OK; t++) {
        uint64_t df = ix->p_off[t + 1] - ix->p_off[t], nb = ix->bm_off[t + 1] - ix->bm_off[t];
        uint32_t r = ix->bm_row[t];
        if (r != UINT32_MAX) {
            if (r >= ix->n_dense || (rows[r >> 6] >> (r & 63)) & 1 || df == 0 || nb != 0)
                st = elem_err(c, SEC_(bm_row), t,
                              "bad dense row (out of range, reused, or the term has a list)", r);
            else {
                rows[r >> 6] |= 1ull << (r & 63);
                n_dense++;
            }
        } else if ((nb == 0) != (df == 0) || nb > df || nb > ix->n_blocks) {
            st = elem_err(c, SEC_(bm_off), t + 1, "block count does not fit the posting list",
                          ix->bm_off[t + 1]);
        }
        if (st == SPAR_OK && ix->pb_off[t + 1] - ix->pb_off[t] != (df + SPAR_SPARSE_PB - 1) / SPAR_SPARSE_PB)
            st = elem_err(c, SEC_(pb_off), t + 1, "skip block count does not fit the posting list",
                          ix->pb_off[t + 1]);
        if (st == SPAR_OK && !(ix->bm_step[t] >= 0.0f && ix->bm_step[t] <= SPAR_SPARSE_MAX_WEIGHT))
            st = elem_err(c, SEC_(bm_step), t, "step (float bits) not in [0, 1e15]", fbits(ix->bm_step[t]));
    }
    free(rows);
    SPAR_TRY(st);
    if (n_dense != ix->n_dense)
        return spar_diag_err(c->diag, SPAR_E_CORRUPT,
                             "%s: byte 32: meta n_dense %u, bm_row names %u dense rows", c->name, ix->n_dense,
                             n_dense);
    if (ix->has_approx) {
        SPAR_TRY(check_offs(c, SEC_(a_toff), ix->a_toff, dim, ix->n_ablocks));
        SPAR_TRY(check_offs(c, SEC_(a_boff), ix->a_boff, ix->n_ablocks, ix->n_apost));
        SPAR_TRY(check_offs(c, SEC_(a_soff), ix->a_soff, ix->n_ablocks, ix->n_asum));
    }
    return SPAR_OK;
}

/* Every element of the bulk sections (O(file)): ids below their bounds and ascending where the searches rely
 * on it, weights in range, postings consistent with the forward index's term counts. */
static spar_status validate_values(const v2 *c) {
    const spar_sparse_index *ix = c->ix;
    const uint32_t dim = ix->dim;
    uint64_t *df = calloc((size_t)dim + 1, sizeof *df);
    if (df == NULL) return SPAR_E_NOMEM;
    spar_status st = SPAR_OK;
    for (uint32_t d = 0; d < ix->n_docs && st == SPAR_OK; d++)
        for (uint64_t i = ix->f_off[d]; i < ix->f_off[d + 1]; i++) {
            if (ix->f_ids[i] >= dim || (i > ix->f_off[d] && ix->f_ids[i] <= ix->f_ids[i - 1])) {
                st = elem_err(c, SEC_(f_ids), i, "term ids of a document must be ascending and < dim",
                              ix->f_ids[i]);
                break;
            }
            if (!weight_ok(ix->f_w[i])) {
                st = elem_err(c, SEC_(f_w), i, "weight (float bits) not in [0, 1e15]", fbits(ix->f_w[i]));
                break;
            }
            df[ix->f_ids[i]]++;
        }
    for (uint32_t t = 0; t < dim && st == SPAR_OK; t++)
        if (df[t] != ix->p_off[t + 1] - ix->p_off[t])
            st = elem_err(c, SEC_(p_off), t + 1, "posting list length differs from the forward index's",
                          ix->p_off[t + 1]);
    free(df);
    SPAR_TRY(st);
    for (uint32_t t = 0; t < dim; t++) {
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i++) {
            if (ix->p_doc[i] >= ix->n_docs || (i > ix->p_off[t] && ix->p_doc[i] <= ix->p_doc[i - 1]))
                return elem_err(c, SEC_(p_doc), i, "docids of a list must be ascending and < n_docs",
                                ix->p_doc[i]);
            if (ix->p_w && !weight_ok(ix->p_w[i]))
                return elem_err(c, SEC_(p_w), i, "weight (float bits) not in [0, 1e15]", fbits(ix->p_w[i]));
        }
        for (uint64_t i = ix->bm_off[t]; i < ix->bm_off[t + 1]; i++)
            if (ix->bm_blk[i] >= ix->n_blocks || (i > ix->bm_off[t] && ix->bm_blk[i] <= ix->bm_blk[i - 1]))
                return elem_err(c, SEC_(bm_blk), i, "blocks of a list must be ascending and < n_blocks",
                                ix->bm_blk[i]);
        uint64_t o = ix->pb_off[t];
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i += SPAR_SPARSE_PB, o++) {
            uint64_t e = SPAR_MIN(ix->p_off[t + 1], i + SPAR_SPARSE_PB);
            if (ix->pb_last[o] != ix->p_doc[e - 1])
                return elem_err(c, SEC_(pb_last), o, "not the last docid of its skip block", ix->pb_last[o]);
        }
    }
    if (ix->has_approx) {
        for (uint64_t i = 0; i < ix->n_apost; i++)
            if (ix->a_docs[i] >= ix->n_docs)
                return elem_err(c, SEC_(a_docs), i, "docid >= n_docs", ix->a_docs[i]);
        for (uint64_t i = 0; i < ix->n_asum; i++)
            if (ix->a_sterm[i] >= dim) return elem_err(c, SEC_(a_sterm), i, "term id >= dim", ix->a_sterm[i]);
        for (uint64_t i = 0; i < ix->n_ablocks; i++)
            if (!weight_ok(ix->a_sscale[i]))
                return elem_err(c, SEC_(a_sscale), i, "summary scale (float bits) not in [0, 1e15]",
                                fbits(ix->a_sscale[i]));
    }
    return SPAR_OK;
}

/* Set every section pointer that points into [base, base + size] to NULL (they are views, not heap blocks).
 */
static void detach(spar_sparse_index *ix, const uint8_t *base, size_t size) {
    uintptr_t lo = (uintptr_t)base, hi = lo + size;
    for (size_t k = 0; k < N_SECS; k++) {
        uintptr_t p = (uintptr_t)field_get(ix, &sections[k]);
        if (p >= lo && p <= hi) field_set(ix, &sections[k], NULL);
    }
}

void spar_sparse_io_release(spar_sparse_index *ix) {
    if (ix == NULL || ix->map == NULL) return;
    spar_mapped_file *mf = ix->map;
    detach(ix, mf->base, mf->size);
    spar_file_unmap(mf);
    free(mf);
    ix->map = NULL;
}

static spar_status meta_bad(const v2 *c, const char *what) {
    return spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s: byte 32: inconsistent meta block: %s", c->name, what);
}

/* Meta block, section table and placement; then the sections are viewed (IO_VIEW) or copied and checked. */
static spar_status load_v2(const uint8_t *buf, size_t size, const spar_file_header *h, const char *name,
                           unsigned how, spar_sparse_index **out, spar_diag *diag) {
    *out = NULL;
    sparse_meta2 m;
    if (size < META_AT + sizeof m + 8)
        return spar_diag_err(diag, SPAR_E_CORRUPT,
                             "%s: byte 32: truncated meta block (%zu bytes in the file)", name, size);
    memcpy(&m, buf + META_AT, sizeof m);
    if (m.magic != SPARSE_MAGIC)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 32: not a sparse index (bad magic)", name);
    if (m.n_sections == 0 || m.n_sections > MAX_SECTIONS)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: %u sections (1..%u)", name,
                             META_AT + offsetof(sparse_meta2, n_sections), m.n_sections, MAX_SECTIONS);
    const uint64_t tab_at = META_AT + sizeof m,
                   head_end = tab_at + (uint64_t)m.n_sections * sizeof(sparse_sec) + 8;
    if (head_end > size)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %llu: truncated section table (%u entries)",
                             name, (unsigned long long)tab_at, m.n_sections);
    uint64_t hx;
    memcpy(&hx, buf + head_end - 8, 8);
    if (XXH3_64bits(buf + META_AT, (size_t)(head_end - 8 - META_AT)) != hx)
        return spar_diag_err(diag, SPAR_E_CORRUPT,
                             "%s: byte %llu: meta block / section table checksum mismatch", name,
                             (unsigned long long)(head_end - 8));
    v2 c;
    memset(&c, 0, sizeof c);
    c.buf = buf;
    c.size = size;
    c.name = name;
    c.diag = diag;
    if (m.dim == 0 || m.dim > 65536) return meta_bad(&c, "dim not in 1..65536");
    if (m.n_docs == UINT32_MAX) return meta_bad(&c, "n_docs");
    if (m.bmp_block < 8 || m.bmp_block > 65536) return meta_bad(&c, "bmp_block not in 8..65536");
    if (m.n_blocks != (m.n_docs ? (m.n_docs - 1) / m.bmp_block + 1 : 0))
        return meta_bad(&c, "n_blocks != ceil(n_docs / bmp_block)");
    if ((m.flags & ~(MF_EXT | MF_APPROX | MF_QUANT)) || m.reserved[0] || m.reserved[1])
        return meta_bad(&c, "unknown flags or reserved bits set");
    if (m.skip_block != SPAR_SPARSE_PB) return meta_bad(&c, "skip block size differs from this build's");
    if (m.weight_bits != ((m.flags & MF_QUANT) ? 8u : 32u))
        return meta_bad(&c, "weight_bits does not match the 8-bit flag");
    if (m.nnz > (uint64_t)m.n_docs * m.dim) return meta_bad(&c, "nnz > n_docs * dim");
    if (m.n_dense > m.dim) return meta_bad(&c, "n_dense > dim");
    if ((m.flags & MF_APPROX) && (m.flags & MF_QUANT))
        return meta_bad(&c, "an 8-bit index has no approximate part");
    if ((m.flags & MF_APPROX)
            ? (m.n_apost > m.nnz || m.n_ablocks > m.n_apost || m.n_asum > m.n_ablocks * m.dim)
            : (m.n_ablocks | m.n_apost | m.n_asum) != 0)
        return meta_bad(&c, "approximate counts");
    spar_sparse_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL) return SPAR_E_NOMEM;
    c.ix = ix;
    ix->n_docs = m.n_docs;
    ix->dim = m.dim;
    ix->nnz = m.nnz;
    ix->bmp_block = m.bmp_block;
    ix->n_blocks = m.n_blocks;
    ix->n_dense = m.n_dense;
    ix->quant = (m.flags & MF_QUANT) != 0;
    ix->has_approx = (m.flags & MF_APPROX) != 0;
    ix->n_ablocks = m.n_ablocks;
    ix->n_apost = m.n_apost;
    ix->n_asum = m.n_asum;
    ix->build_s = m.build_s;
    ix->abuild_s = m.abuild_s;
    spar_sparse_build_opts_default(&ix->opts);
    ix->opts.bmp_block = m.bmp_block;
    ix->opts.build_approx = ix->has_approx;
    ix->opts.n_postings = m.n_postings;
    ix->opts.block_fraction = m.block_fraction;
    ix->opts.summary_energy = m.summary_energy;
    ix->opts.seed = m.seed;
    ix->opts.reorder = (int)m.reorder;
    ix->opts.weight_bits = m.weight_bits;
    spar_status st = SPAR_OK;
    /* the table: known sections are placed, unknown ids (a later minor version's additions) skipped */
    for (uint32_t i = 0; i < m.n_sections; i++) {
        const unsigned long long at = tab_at + (uint64_t)i * sizeof(sparse_sec);
        sparse_sec e;
        memcpy(&e, buf + at, sizeof e);
        size_t k = sec_index(e.id);
        if (k == N_SECS) continue;
        const sec_def *d = &sections[k];
        const char *bad = NULL;
        if (c.have[k])
            bad = "listed twice";
        else if (!sec_wanted(d, m.flags))
            bad = "does not belong in an index with these flags";
        else if (e.elem != d->elem)
            bad = "has the wrong element size";
        else if (d->count == C_BM || d->count == C_PB ? e.count > m.nnz : e.count != sec_count(ix, d))
            bad = "has the wrong length";
        else if (e.offset % SEC_ALIGN != 0 || e.offset < head_end || e.offset > size ||
                 e.count > (size - e.offset) / e.elem)
            bad = "is misaligned or lies outside the file";
        if (bad) {
            st = spar_diag_err(
                diag, SPAR_E_CORRUPT, "%s: byte %llu: section %s (offset %llu, %llu x %u bytes) %s", name, at,
                d->name, (unsigned long long)e.offset, (unsigned long long)e.count, e.elem, bad);
            goto done;
        }
        c.got[k] = e;
        c.have[k] = 1;
    }
    size_t order[N_SECS], n_have = 0;
    for (size_t k = 0; k < N_SECS; k++) {
        if (sec_wanted(&sections[k], m.flags) && !c.have[k]) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %llu: section table: no %s section", name,
                               (unsigned long long)tab_at, sections[k].name);
            goto done;
        }
        if (!c.have[k]) continue;
        size_t j = n_have++; /* insertion sort by offset */
        while (j > 0 && c.got[order[j - 1]].offset > c.got[k].offset) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (size_t j = 1; j < n_have; j++) {
        const sparse_sec *a = &c.got[order[j - 1]], *b = &c.got[order[j]];
        if (a->offset + a->count * a->elem > b->offset) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %llu: sections %s and %s overlap", name,
                               (unsigned long long)b->offset, sections[order[j - 1]].name,
                               sections[order[j]].name);
            goto done;
        }
    }
    /* checksums: the whole payload (IO_HASH; a mismatch is then located), else the sections read on every
     * load */
    if ((how & IO_HASH) && XXH3_64bits(buf + sizeof *h, size - sizeof *h) != h->payload_xxh3) {
        for (size_t j = 0; j < n_have; j++) {
            const sparse_sec *e = &c.got[order[j]];
            if (XXH3_64bits(buf + e->offset, (size_t)(e->count * e->elem)) != e->xxh3) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT,
                                   "%s: byte %llu: section %s: checksum mismatch (damaged)", name,
                                   (unsigned long long)e->offset, sections[order[j]].name);
                goto done;
            }
        }
        st = spar_diag_err(diag, SPAR_E_CORRUPT,
                           "%s: checksum mismatch (header xxh3 %016llx; the sections are intact, "
                           "the padding or an unknown section is not)",
                           name, (unsigned long long)h->payload_xxh3);
        goto done;
    }
    for (size_t k = 0; k < N_SECS; k++) {
        if (!c.have[k]) continue;
        const sparse_sec *e = &c.got[k];
        size_t bytes = (size_t)(e->count * e->elem);
        if (!(how & IO_HASH) && sections[k].small && XXH3_64bits(buf + e->offset, bytes) != e->xxh3) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %llu: section %s: checksum mismatch (damaged)",
                               name, (unsigned long long)e->offset, sections[k].name);
            goto done;
        }
        if (how & IO_VIEW) {
            field_set(ix, &sections[k], buf + e->offset);
        } else {
            void *a = malloc(bytes ? bytes : 1);
            if (a == NULL) {
                st = SPAR_E_NOMEM;
                goto done;
            }
            memcpy(a, buf + e->offset, bytes);
            field_set(ix, &sections[k], a);
        }
    }
    SPAR_TRY_GOTO(st, validate_small(&c), done);
    if (how & IO_VALUES) SPAR_TRY_GOTO(st, validate_values(&c), done);
    *out = ix;
    ix = NULL;
done:
    if (ix != NULL && (how & IO_VIEW)) detach(ix, buf, size);
    spar_sparse_index_free(ix);
    return st;
}

/* ---------------------------------------------------------------------------------------------------- */
/* Loading format 1 (forward + approximate sections, 8-byte padded; exact parts rebuilt)                  */

typedef struct sparse_meta { /* format 1 */ /* 80 bytes, little-endian */
    uint32_t magic, n_docs, dim, bmp_block;
    uint64_t nnz;
    uint32_t has_approx, n_postings;
    float block_fraction, summary_energy;
    uint64_t seed, n_ablocks, n_apost, n_asum;
    uint32_t has_ext, reserved;
} sparse_meta;
_Static_assert(sizeof(sparse_meta) == 80, "sparse meta layout");

typedef struct reader {
    const uint8_t *p;
    size_t size, off;
    const char *name;
    spar_diag *diag;
    int borrow; /* approximate sections: point into the (mapped, read-only) buffer instead of copying */
} reader;

/* The next section of n elements of `elem` bytes (8-byte padded): its byte count, after checking it fits. */
static spar_status section_bytes(const reader *r, size_t n, size_t elem, size_t *bytes, size_t *padded) {
    if (elem != 0 && n > (SIZE_MAX - 8) / elem)
        return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: byte %zu: section size overflows", r->name,
                             r->off + 32);
    *bytes = n * elem;
    *padded = (*bytes + 7) & ~(size_t)7;
    if (*padded > r->size - r->off)
        return spar_diag_err(r->diag, SPAR_E_CORRUPT,
                             "%s: byte %zu: truncated section (%zu bytes needed, %zu left)", r->name,
                             r->off + 32, *padded, r->size - r->off);
    return SPAR_OK;
}

/* Copy n elements of `elem` bytes into a fresh array (8-byte padded section). */
static spar_status take(reader *r, size_t n, size_t elem, void **out) {
    *out = NULL;
    size_t bytes = 0, padded = 0;
    SPAR_TRY(section_bytes(r, n, elem, &bytes, &padded));
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
    size_t bytes = 0, padded = 0;
    SPAR_TRY(section_bytes(r, n, elem, &bytes, &padded));
    *out = (void *)(uintptr_t)(r->p + r->off);
    r->off += padded;
    return SPAR_OK;
}

static spar_status check_offsets(reader *r, const uint64_t *o, uint64_t n, uint64_t total, const char *what) {
    if (o[0] != 0)
        return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: %s offsets do not start at 0", r->name, what);
    for (uint64_t i = 0; i < n; i++)
        if (o[i + 1] < o[i] || o[i + 1] > total)
            return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: %s offset %llu out of order or range", r->name,
                                 what, (unsigned long long)(i + 1));
    if (o[n] != total)
        return spar_diag_err(r->diag, SPAR_E_CORRUPT, "%s: %s offsets end at %llu, expected %llu", r->name,
                             what, (unsigned long long)o[n], (unsigned long long)total);
    return SPAR_OK;
}

/* map: NULL = copy every section; else the approximate sections stay in buf, which the index then owns
 * (ix->a_map) on success only. */
static spar_status load_v1(const uint8_t *buf, size_t size, const char *name, void *map,
                           spar_sparse_index **out, spar_diag *diag) {
    if (out == NULL || (buf == NULL && size > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (name == NULL) name = "<memory>";
    spar_file_header h;
    SPAR_TRY(spar_file_check(buf, size, SPAR_KIND_SEISMIC, SPARSE_V1, 1, &h, name, diag));
    reader r = {buf + 32, size - 32, 0, name, diag, map != NULL};
    if (h.payload_bytes != r.size)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: payload size mismatch", name);
    sparse_meta m;
    if (r.size < sizeof m)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 32: truncated meta block", name);
    memcpy(&m, r.p, sizeof m);
    r.off = sizeof m;
    if (m.magic != SPARSE_MAGIC)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 32: not a sparse index (bad magic)", name);
    if (m.dim == 0 || m.dim > 65536 || m.n_docs == UINT32_MAX || m.bmp_block < 8 || m.bmp_block > 65536 ||
        m.has_approx > 1 || m.has_ext > 1 || m.reserved != 0 || m.nnz > (uint64_t)m.n_docs * m.dim ||
        (m.has_approx && (m.n_apost > m.nnz || m.n_ablocks > m.n_apost)))
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
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: doc %u: term ids not ascending or >= dim", name,
                                   d);
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
        if (seen == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        for (uint32_t i = 0; i < m.n_docs; i++) {
            uint32_t e = ix->ext[i];
            if (e >= m.n_docs || (seen[e >> 6] >> (e & 63)) & 1) {
                free(seen);
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: docid map entry %u is not a permutation", name,
                                   i);
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
            if (ix->a_docs[i] >= m.n_docs) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: approx posting %llu: docid out of range", name,
                                   (unsigned long long)i);
                goto done;
            }
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_ablocks + 1, 8, (void **)&ix->a_soff), done);
        SPAR_TRY_GOTO(st, check_offsets(&r, ix->a_soff, m.n_ablocks, m.n_asum, "summary"), done);
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_asum, 2, (void **)&ix->a_sterm), done);
        for (uint64_t i = 0; i < m.n_asum; i++)
            if (ix->a_sterm[i] >= m.dim) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: summary entry %llu: term out of range", name,
                                   (unsigned long long)i);
                goto done;
            }
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_asum, 1, (void **)&ix->a_sval), done);
        SPAR_TRY_GOTO(st, take_approx(&r, (size_t)m.n_ablocks, 4, (void **)&ix->a_sscale), done);
        for (uint64_t i = 0; i < m.n_ablocks; i++)
            if (!(ix->a_sscale[i] >= 0.0f && ix->a_sscale[i] <= SPAR_SPARSE_MAX_WEIGHT)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: block %llu: bad summary scale", name,
                                   (unsigned long long)i);
                goto done;
            }
        ix->has_approx = 1;
    }
    if (r.off != r.size) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: %zu trailing bytes", name, r.off + 32,
                           r.size - r.off);
        goto done;
    }
    double t0 = spar_now();
    SPAR_TRY_GOTO(st, spar_sparse_build_derived(ix), done);
    spar_log(SPAR_LOG_WARN,
             "%s: a format-1 sparse index: its exact parts were rebuilt on load (%.1f s); save it again "
             "(format 2) to open it without rebuilding",
             name, spar_now() - t0);
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

/* ---------------------------------------------------------------------------------------------------- */
/* Entry points                                                                                           */

spar_status spar_sparse_index_load_mem(const uint8_t *buf, size_t size, const char *name,
                                       spar_sparse_index **out, spar_diag *diag) {
    if (out == NULL || (buf == NULL && size > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (name == NULL) name = "<memory>";
    spar_file_header h;
    SPAR_TRY(spar_file_check(buf, size, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, 0, &h, name, diag));
    if (h.version_major == SPARSE_V1) return load_v1(buf, size, name, NULL, out, diag);
    return load_v2(buf, size, &h, name, IO_FULL, out, diag); /* copies: buf may go away */
}

/* Map path; format 2: views into the map with the checks of `how`; format 1: load_v1 (copied, or with
 * v1_views the approximate part viewed in place), exact parts rebuilt. */
static spar_status open_file(const char *path, unsigned how, int v1_views, spar_sparse_index **out,
                             spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_mapped_file *mf = malloc(sizeof *mf);
    if (mf == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_file_map(path, SPAR_KIND_SEISMIC, SPARSE_VMAJOR, SPAR_MAP_NO_CHECKSUM, mf, diag);
    if (st != SPAR_OK) {
        free(mf);
        return st;
    }
    spar_sparse_index *ix = NULL;
    if (mf->hdr.version_major == SPARSE_V1) {
        st = load_v1(mf->base, mf->size, path, v1_views ? mf : NULL, &ix, diag);
        if (st == SPAR_OK && v1_views) {
            if (ix->has_approx)
                mf = NULL; /* owned by ix (a_map): its approximate arrays are views */
            else
                ix->a_map = NULL; /* nothing viewed: unmapped below */
        }
    } else {
        st = load_v2(mf->base, mf->size, &mf->hdr, path, how | IO_VIEW, &ix, diag);
        if (st == SPAR_OK) {
            ix->map = mf;
            mf = NULL;
        }
    }
    if (mf != NULL) {
        spar_file_unmap(mf);
        free(mf);
    }
    *out = ix;
    return st;
}

spar_status spar_sparse_index_load(const char *path, spar_sparse_index **out, spar_diag *diag) {
    return open_file(path, IO_FULL, 0, out, diag);
}

spar_status spar_sparse_index_load_mapped(const char *path, spar_sparse_index **out, spar_diag *diag) {
    return open_file(path, 0, 1, out, diag);
}

spar_status spar_sparse_index_open_view(const char *path, int check_values, spar_sparse_index **out,
                                        spar_diag *diag) {
    return open_file(path, check_values ? IO_VALUES : 0, 1, out, diag);
}
