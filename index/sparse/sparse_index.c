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
}

void spar_sparse_approx_params_default(spar_sparse_approx_params *p) {
    if (p == NULL) return;
    p->query_cut = 10;
    p->heap_factor = 0.9f;
}

void spar_sparse_index_free(spar_sparse_index *ix) {
    if (ix == NULL) return;
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
    free(ix->a_toff);
    free(ix->a_boff);
    free(ix->a_docs);
    free(ix->a_soff);
    free(ix->a_sterm);
    free(ix->a_sval);
    free(ix->a_sscale);
    free(ix);
}

static spar_status check_opts(const spar_sparse_build_opts *o, spar_diag *diag) {
    if (o->bmp_block < 8 || o->bmp_block > 65536)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "bmp_block %u not in 8..65536", o->bmp_block);
    if (o->build_approx) {
        if (o->n_postings == 0) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "n_postings must be > 0");
        if (!(o->block_fraction > 0.0f && o->block_fraction <= 1.0f))
            return spar_diag_err(diag, SPAR_E_INVALID_ARG, "block_fraction must be in (0, 1]");
        if (!(o->summary_energy > 0.0f && o->summary_energy <= 1.0f))
            return spar_diag_err(diag, SPAR_E_INVALID_ARG, "summary_energy must be in (0, 1]");
    }
    return SPAR_OK;
}

/* Inverted index and block maxima from the forward index (also used by load). */
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
    /* block maxima: count distinct blocks per term, then fill */
    const uint32_t bs = ix->bmp_block;
    ix->n_blocks = n_docs ? (n_docs - 1) / bs + 1 : 0;
    for (uint32_t t = 0; t < dim; t++) {
        uint64_t cnt = 0;
        uint32_t last = UINT32_MAX;
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i++) {
            uint32_t b = ix->p_doc[i] / bs;
            if (b != last) { cnt++; last = b; }
        }
        int dense = cnt > 0 && cnt * 4 >= ix->n_blocks;
        ix->bm_row[t] = dense ? ix->n_dense++ : UINT32_MAX;
        ix->bm_off[t + 1] = ix->bm_off[t] + (dense ? 0 : cnt);
    }
    ix->bm_dense = calloc((size_t)ix->n_dense * ix->n_blocks + 1, 1);
    if (ix->bm_dense == NULL) { free(fill); return SPAR_E_NOMEM; }
    uint64_t nb = ix->bm_off[dim];
    ix->bm_blk = spar_malloc_array(nb ? nb : 1, sizeof *ix->bm_blk);
    ix->bm_q = malloc(nb ? nb : 1);
    free(fill);
    if (!ix->bm_blk || !ix->bm_q) return SPAR_E_NOMEM;
    for (uint32_t t = 0; t < dim; t++) {
        float tmax = 0.0f;
        for (uint64_t i = ix->p_off[t]; i < ix->p_off[t + 1]; i++) tmax = SPAR_MAX(tmax, ix->p_w[i]);
        /* step * 255 >= tmax, and q = ceil(bmax / step) adjusted so that q * step >= bmax in float */
        float step = tmax > 0.0f ? (tmax / 255.0f) * 1.0001f : 0.0f;
        ix->bm_step[t] = step;
        uint64_t o = ix->bm_off[t];
        uint64_t i = ix->p_off[t];
        while (i < ix->p_off[t + 1]) {
            uint32_t b = ix->p_doc[i] / bs;
            float bmax = 0.0f;
            for (; i < ix->p_off[t + 1] && ix->p_doc[i] / bs == b; i++) bmax = SPAR_MAX(bmax, ix->p_w[i]);
            uint32_t q = 0;
            if (step > 0.0f) {
                double qd = ceil((double)bmax / (double)step);
                q = qd > 255.0 ? 255u : (uint32_t)qd;
                while (q < 255 && (float)q * step < bmax) q++;
            }
            if (ix->bm_row[t] != UINT32_MAX) {
                ix->bm_dense[(size_t)ix->bm_row[t] * ix->n_blocks + b] = (uint8_t)q;
                continue;
            }
            ix->bm_blk[o] = b;
            ix->bm_q[o] = (uint8_t)q;
            o++;
        }
    }
    return SPAR_OK;
}

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
    if (o.reorder && n_docs > 2 * o.bmp_block) {
        float *sk = spar_malloc_array(n_docs, SPAR_SPARSE_SK * sizeof(float));
        ix->ext = spar_malloc_array(n_docs, sizeof *ix->ext);
        if (sk == NULL || ix->ext == NULL) { free(sk); st = SPAR_E_NOMEM; goto done; }
        for (uint32_t d = 0; d < n_docs; d++)
            spar_sparse_sketch(docs[d].ids, NULL, docs[d].weights, docs[d].n, sk + (size_t)d * SPAR_SPARSE_SK);
        st = spar_sparse_cluster_order(sk, n_docs, o.bmp_block, o.seed, ix->ext);
        free(sk);
        if (st != SPAR_OK) goto done;
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
    s->bytes_forward = ((uint64_t)ix->n_docs + 1) * 8 + ix->nnz * 6;
    s->bytes_inverted = ((uint64_t)ix->dim + 1) * 8 + ix->nnz * 8;
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
