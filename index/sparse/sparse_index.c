/* sparse_index.c — learned-sparse index: forward index (u16 term ids + float weights), docid-ordered
 * inverted index (the exhaustive oracle), per-term block maxima over docid blocks quantized UP to u8 (the
 * exact BMP-style search), and the Seismic-class approximate index (pruned, clustered posting lists with
 * u8 summaries). Scoring is canonical everywhere: float sum of q_t * d_t over matching t ascending.
 * Save/load: sparse_io.c. Format: docs/format/sparse.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#include "common/common.h"
#include "index/sparse/sparse_int.h"

void spar_sparse_build_opts_default(spar_sparse_build_opts *o) {
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->bmp_block = 8;
    o->build_approx = 1;
    o->n_postings = 4000;
    o->block_fraction = 0.1f;
    o->summary_energy = 0.4f;
    o->n_threads = 0;
    o->seed = 1;
    o->reorder = 1;
    o->weight_bits = 32;
}

void spar_sparse_approx_params_default(spar_sparse_approx_params *p) {
    if (p == NULL) return;
    p->query_cut = 10;
    p->heap_factor = 0.9f;
}

void spar_sparse_index_free(spar_sparse_index *ix) {
    if (ix == NULL) return;
    spar_sparse_io_release(ix); /* arrays mapped from a file (sparse_io.c) are views: detached here */
    free(ix->ext);
    free(ix->f_off);
    free(ix->f_ids);
    free(ix->f_w);
    free(ix->p_off);
    free(ix->p_doc);
    free(ix->p_w);
    free(ix->bm_off);
    free(ix->bm_blk);
    free(ix->bm_q);
    free(ix->bm_step);
    free(ix->bm_row);
    free(ix->bm_dense);
    free(ix->pb_off);
    free(ix->pb_last);
    free(ix->pb_q);
    free(ix->f_q);
    free(ix->p_q);
    spar_sparse_approx_release(ix);
    free(ix);
}

static spar_status check_opts(const spar_sparse_build_opts *o, spar_diag *diag) {
    if (o->bmp_block < 8 || o->bmp_block > 65536)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "bmp_block %u not in 8..65536", o->bmp_block);
    if (o->weight_bits != 0 && o->weight_bits != 8 && o->weight_bits != 32)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "weight_bits %u is not 8 or 32", o->weight_bits);
    if (o->weight_bits == 8 && o->build_approx)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "weight_bits 8 needs build_approx = 0 (the approximate index is float only)");
    if (o->build_approx) {
        if (o->n_postings == 0) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "n_postings must be > 0");
        if (!(o->block_fraction > 0.0f && o->block_fraction <= 1.0f))
            return spar_diag_err(diag, SPAR_E_INVALID_ARG, "block_fraction must be in (0, 1]");
        if (!(o->summary_energy > 0.0f && o->summary_energy <= 1.0f))
            return spar_diag_err(diag, SPAR_E_INVALID_ARG, "summary_energy must be in (0, 1]");
    }
    return SPAR_OK;
}

/* Smallest u8 q with q * step >= w in float (w <= 255 * step by construction of step). */
static inline uint8_t q_up(float w, float step) {
    if (!(step > 0.0f) || w <= 0.0f) return 0;
    double qd = ceil((double)w / (double)step);
    uint32_t q = qd > 255.0 ? 255u : (uint32_t)qd;
    while (q < 255 && (float)q * step < w) q++;
    return (uint8_t)q;
}

/* Per-term steps (and, for 8-bit indexes, the codes f_q/p_q): step_t = max_t / 255, slightly widened in
 * float mode so that 255 * step >= max_t. */
static spar_status build_steps(spar_sparse_index *ix) {
    const uint32_t dim = ix->dim;
    for (uint32_t t = 0; t < dim; t++) {
        float tmax = 0.0f;
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i++) tmax = SPAR_MAX(tmax, ix->p_w[i]);
        ix->bm_step[t] = tmax > 0.0f ? (ix->quant ? tmax / 255.0f : (tmax / 255.0f) * 1.0001f) : 0.0f;
    }
    if (!ix->quant) return SPAR_OK;
    ix->f_q = malloc(ix->nnz ? ix->nnz : 1);
    ix->p_q = malloc(ix->nnz ? ix->nnz : 1);
    if (!ix->f_q || !ix->p_q) return SPAR_E_NOMEM;
    for (uint64_t i = 0; i < ix->nnz; i++) {
        float st = ix->bm_step[ix->f_ids[i]];
        float c = st > 0.0f ? rintf(ix->f_w[i] / st) : 0.0f;
        ix->f_q[i] = (uint8_t)(c > 255.0f ? 255.0f : c);
    }
    for (uint32_t t = 0; t < dim; t++) {
        float st = ix->bm_step[t];
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i++) {
            float c = st > 0.0f ? rintf(ix->p_w[i] / st) : 0.0f;
            ix->p_q[i] = (uint8_t)(c > 255.0f ? 255.0f : c);
        }
    }
    return SPAR_OK;
}

/* Bound code of posting i of term t: the code itself (8-bit) or the float weight rounded up. */
static inline uint8_t post_q(const spar_sparse_index *ix, uint32_t t, uint64_t i) {
    return ix->quant ? ix->p_q[i] : q_up(ix->p_w[i], ix->bm_step[t]);
}

/* Skip blocks of SPAR_SPARSE_PB postings: last docid and max bound code (MaxScore, BMW). */
static spar_status build_skip_blocks(spar_sparse_index *ix) {
    const uint32_t dim = ix->dim;
    ix->pb_off = calloc((size_t)dim + 1, sizeof *ix->pb_off);
    if (ix->pb_off == NULL) return SPAR_E_NOMEM;
    for (uint32_t t = 0; t < dim; t++) {
        uint64_t len = ix->p_off[t + 1] - ix->p_off[t];
        ix->pb_off[t + 1] = ix->pb_off[t] + (len + SPAR_SPARSE_PB - 1) / SPAR_SPARSE_PB;
    }
    uint64_t np = ix->pb_off[dim];
    ix->pb_last = spar_malloc_array(np ? np : 1, sizeof *ix->pb_last);
    ix->pb_q = malloc(np ? np : 1);
    if (!ix->pb_last || !ix->pb_q) return SPAR_E_NOMEM;
    for (uint32_t t = 0; t < dim; t++) {
        uint64_t o = ix->pb_off[t];
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i += SPAR_SPARSE_PB, o++) {
            uint64_t e = SPAR_MIN(ix->p_off[t + 1], i + SPAR_SPARSE_PB);
            uint8_t m = 0;
            for (uint64_t x = i; x < e; x++) m = SPAR_MAX(m, post_q(ix, t, x));
            ix->pb_q[o] = m;
            ix->pb_last[o] = ix->p_doc[e - 1];
        }
    }
    return SPAR_OK;
}

/* Inverted index, (8-bit codes,) block maxima, superblock maxima and skip blocks from the forward index
 * (also used by load). */
spar_status spar_sparse_build_derived(spar_sparse_index *ix) {
    const uint32_t dim = ix->dim, n_docs = ix->n_docs;
    ix->p_off = calloc((size_t)dim + 1, sizeof *ix->p_off);
    ix->p_doc = spar_malloc_array(ix->nnz ? ix->nnz : 1, sizeof *ix->p_doc);
    ix->p_w = spar_malloc_array(ix->nnz ? ix->nnz : 1, sizeof *ix->p_w);
    ix->bm_off = calloc((size_t)dim + 1, sizeof *ix->bm_off);
    ix->bm_step = calloc((size_t)dim ? dim : 1, sizeof *ix->bm_step);
    ix->bm_row = spar_malloc_array((size_t)dim ? dim : 1, sizeof *ix->bm_row);
    uint64_t *fill = calloc((size_t)dim + 1, sizeof *fill);
    if (!ix->p_off || !ix->p_doc || !ix->p_w || !ix->bm_off || !ix->bm_step || !ix->bm_row || !fill) { free(fill); return SPAR_E_NOMEM; }
    for (uint64_t i = 0; i < ix->nnz; i++) ix->p_off[ix->f_ids[i] + 1]++;
    for (uint32_t t = 0; t < dim; t++) ix->p_off[t + 1] += ix->p_off[t];
    memcpy(fill, ix->p_off, ((size_t)dim + 1) * sizeof *fill);
    for (uint32_t d = 0; d < n_docs; d++) {
        for (uint64_t i = ix->f_off[d]; i < ix->f_off[d + 1]; i++) {
            uint64_t o = fill[ix->f_ids[i]]++;
            ix->p_doc[o] = d;
            ix->p_w[o] = ix->f_w[i];
        }
    }
    free(fill);
    SPAR_TRY(build_steps(ix));
    /* block maxima: count distinct blocks per term, then fill */
    const uint32_t bs = ix->bmp_block;
    ix->n_blocks = n_docs ? (n_docs - 1) / bs + 1 : 0;
    ix->n_dense = 0;
    for (uint32_t t = 0; t < dim; t++) {
        uint64_t cnt = 0;
        uint32_t last = UINT32_MAX;
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i++) {
            uint32_t b = ix->p_doc[i] / bs;
            if (b != last) { cnt++; last = b; }
        }
        int dense = cnt > 0 && cnt * SPAR_SPARSE_DENSE_DIV >= ix->n_blocks;
        ix->bm_row[t] = dense ? ix->n_dense++ : UINT32_MAX;
        ix->bm_off[t + 1] = ix->bm_off[t] + (dense ? 0 : cnt);
    }
    ix->bm_dense = calloc((size_t)ix->n_dense * ix->n_blocks + 1, 1);
    if (ix->bm_dense == NULL) return SPAR_E_NOMEM;
    uint64_t nb = ix->bm_off[dim];
    ix->bm_blk = spar_malloc_array(nb ? nb : 1, sizeof *ix->bm_blk);
    ix->bm_q = malloc(nb ? nb : 1);
    if (!ix->bm_blk || !ix->bm_q) return SPAR_E_NOMEM;
    for (uint32_t t = 0; t < dim; t++) {
        uint64_t o = ix->bm_off[t];
        uint64_t i = ix->p_off[t];
        while (i < ix->p_off[t + 1]) {
            uint32_t b = ix->p_doc[i] / bs;
            uint8_t q = 0;
            for (; i < ix->p_off[t + 1] && ix->p_doc[i] / bs == b; i++) q = SPAR_MAX(q, post_q(ix, t, i));
            if (ix->bm_row[t] != UINT32_MAX) {
                ix->bm_dense[(size_t)ix->bm_row[t] * ix->n_blocks + b] = q;
                continue;
            }
            ix->bm_blk[o] = b;
            ix->bm_q[o] = q;
            o++;
        }
    }
    return build_skip_blocks(ix);
}

/* Graph bisection orders docs by their heaviest terms only (see sparse_bp.c). Documents scored by BMP on
 * the generated topical 1M corpus: all terms 3,233, 24 terms 2,219, 12 terms 2,153, 6 terms 2,071
 * (clustering 2,228; bench/sparse/README.md); 12 keeps some margin for documents with few heavy terms. */
#define SPAR_SPARSE_BP_TOP 12u

spar_status spar_sparse_index_build_vecs(const spar_sparse_vec *docs, uint32_t n_docs, uint32_t dim,
                                         const spar_sparse_build_opts *opts, spar_sparse_index **out,
                                         spar_diag *diag) {
    spar_status st = SPAR_OK;
    spar_sparse_build_opts o;
    if (out == NULL || (docs == NULL && n_docs > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (opts) o = *opts;
    else spar_sparse_build_opts_default(&o);
    SPAR_TRY(check_opts(&o, diag));
    if (dim == 0 || dim > 65536) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "dim %u not in 1..65536", dim);
    if (n_docs >= UINT32_MAX) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "too many documents");
    double t0 = spar_now();
    spar_sparse_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL) return SPAR_E_NOMEM;
    ix->n_docs = n_docs;
    ix->dim = dim;
    ix->bmp_block = o.bmp_block;
    ix->opts = o;
    ix->quant = o.weight_bits == 8;
    if (o.weight_bits == 0) ix->opts.weight_bits = 32;
    uint64_t nnz = 0;
    for (uint32_t d = 0; d < n_docs; d++) {
        const spar_sparse_vec *v = &docs[d];
        if (v->n > 0 && (v->ids == NULL || v->weights == NULL)) {
            st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "doc %u: NULL arrays", d);
            goto done;
        }
        for (uint32_t i = 0; i < v->n; i++) {
            if (v->ids[i] >= dim || (i > 0 && v->ids[i] <= v->ids[i - 1])) {
                st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "doc %u: term ids must be ascending and < %u", d, dim);
                goto done;
            }
            if (!(v->weights[i] >= 0.0f && v->weights[i] <= SPAR_SPARSE_MAX_WEIGHT)) {
                st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "doc %u: weight %u not in [0, 1e15]", d, i);
                goto done;
            }
        }
        nnz += v->n;
    }
    ix->nnz = nnz;
    ix->f_off = spar_malloc_array((size_t)n_docs + 1, sizeof *ix->f_off);
    ix->f_ids = spar_malloc_array(nnz ? nnz : 1, sizeof *ix->f_ids);
    ix->f_w = spar_malloc_array(nnz ? nnz : 1, sizeof *ix->f_w);
    if (!ix->f_off || !ix->f_ids || !ix->f_w) { st = SPAR_E_NOMEM; goto done; }
    if (o.reorder == 2 && n_docs > 2 * o.bmp_block) { /* graph bisection (heaviest terms) from the input order */
        ix->ext = spar_malloc_array(n_docs, sizeof *ix->ext);
        if (ix->ext == NULL) { st = SPAR_E_NOMEM; goto done; }
        for (uint32_t d = 0; d < n_docs; d++) ix->ext[d] = d;
        SPAR_TRY_GOTO(st, spar_sparse_bp_order(docs, n_docs, dim, o.bmp_block, SPAR_SPARSE_BP_TOP, 20, o.n_threads, ix->ext), done);
    } else if (o.reorder && n_docs > 2 * o.bmp_block) {
        float *sk = spar_malloc_array(n_docs, SPAR_SPARSE_SK * sizeof(float));
        ix->ext = spar_malloc_array(n_docs, sizeof *ix->ext);
        if (sk == NULL || ix->ext == NULL) { free(sk); st = SPAR_E_NOMEM; goto done; }
        for (uint32_t d = 0; d < n_docs; d++)
            spar_sparse_sketch(docs[d].ids, NULL, docs[d].weights, docs[d].n, sk + (size_t)d * SPAR_SPARSE_SK);
        st = spar_sparse_cluster_order(sk, n_docs, o.bmp_block, o.seed, ix->ext);
        free(sk);
        if (st != SPAR_OK) goto done;
        if (o.reorder == 3) /* clustering refined by graph bisection */
            SPAR_TRY_GOTO(st, spar_sparse_bp_order(docs, n_docs, dim, o.bmp_block, SPAR_SPARSE_BP_TOP, 20, o.n_threads, ix->ext), done);
    }
    ix->f_off[0] = 0;
    for (uint32_t i = 0; i < n_docs; i++) {
        const spar_sparse_vec *v = &docs[ix->ext ? ix->ext[i] : i];
        uint64_t b = ix->f_off[i];
        for (uint32_t j = 0; j < v->n; j++) {
            ix->f_ids[b + j] = (uint16_t)v->ids[j];
            ix->f_w[b + j] = v->weights[j];
        }
        ix->f_off[i + 1] = b + v->n;
    }
    SPAR_TRY_GOTO(st, spar_sparse_build_derived(ix), done);
    ix->build_s = spar_now() - t0;
    if (o.build_approx) {
        double t1 = spar_now();
        SPAR_TRY_GOTO(st, spar_sparse_build_approx(ix, &o), done);
        ix->abuild_s = spar_now() - t1;
        ix->build_s = spar_now() - t0;
    }
    if (ix->quant) { /* the postings are searched as codes from here on */
        free(ix->p_w);
        ix->p_w = NULL;
    }
    *out = ix;
    ix = NULL;
done:
    spar_sparse_index_free(ix);
    return st;
}

spar_status spar_sparse_index_build(const spar_sparse_csr *m, const spar_sparse_build_opts *opts,
                                    spar_sparse_index **out, spar_diag *diag) {
    if (m == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    spar_sparse_vec *v = spar_malloc_array(m->n_rows ? m->n_rows : 1, sizeof *v);
    if (v == NULL) return SPAR_E_NOMEM;
    for (uint32_t r = 0; r < m->n_rows; r++) v[r] = spar_sparse_csr_row(m, r);
    spar_status st = spar_sparse_index_build_vecs(v, m->n_rows, m->dim, opts, out, diag);
    free(v);
    return st;
}

spar_status spar_sparse_index_build_jsonl(const char *path, const spar_sparse_vocab *vocab, uint32_t dim,
                                          const spar_sparse_build_opts *opts, spar_sparse_index **out,
                                          spar_diag *diag) {
    spar_sparse_csr m;
    SPAR_TRY(spar_sparse_csr_read_jsonl(path, vocab, dim, 0, &m, NULL, diag));
    spar_status st = spar_sparse_index_build(&m, opts, out, diag);
    spar_sparse_csr_free(&m);
    return st;
}

void spar_sparse_index_stats(const spar_sparse_index *ix, spar_sparse_stats *s) {
    if (s == NULL) return;
    memset(s, 0, sizeof *s);
    if (ix == NULL) return;
    s->n_docs = ix->n_docs;
    s->dim = ix->dim;
    s->nnz = ix->nnz;
    s->bytes_forward = ((uint64_t)ix->n_docs + 1) * 8 + ix->nnz * (ix->quant ? 7 : 6); /* + u8 codes */
    s->bytes_inverted = ((uint64_t)ix->dim + 1) * 8 + ix->nnz * (ix->quant ? 5 : 8) +
                        ((uint64_t)ix->dim + 1) * 8 + ix->pb_off[ix->dim] * 5; /* + skip blocks */
    s->bytes_blockmax = ((uint64_t)ix->dim + 1) * 8 + ix->bm_off[ix->dim] * 5 + (uint64_t)ix->dim * 8 +
                        (uint64_t)ix->n_dense * ix->n_blocks;
    if (ix->has_approx) {
        s->approx_blocks = ix->n_ablocks;
        s->approx_postings = ix->n_apost;
        s->approx_summary_nnz = ix->n_asum;
        s->bytes_approx = ((uint64_t)ix->dim + 1) * 8 + (ix->n_ablocks + 1) * 16 + ix->n_ablocks * 4 +
                          ix->n_apost * 4 + ix->n_asum * 3;
    }
    s->build_seconds = ix->build_s;
    s->approx_build_seconds = ix->abuild_s;
}
