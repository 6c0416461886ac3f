/* heads.c — SPLADE, dense and per-token heads (encoders/model). The SPLADE head runs the decoder GEMM
 * one (token tile x vocabulary block) at a time and folds each tile into a per-sequence running max
 * (or sum) of ReLU(logit), so memory stays O(n_seqs * V + threads * tile * block) instead of O(T * V); log1p
 * is applied once per surviving entry at the end (max pooling commutes with the monotone log1p(ReLU)).
 * With OpenBLAS single-threaded, vocabulary blocks are split across OpenMP threads (bert.c's policy); the bf16 /
 * int8 decoder (spar_splade_pool_lowp, encoders/kernels/gemm_lowp.h) always splits them over spar's pool. With a
 * spar_splade_bound, rows that provably cannot reach a positive logit are skipped (exact pruning, heads.h).
 * Contract: encoders/model/heads.h. */
#include "encoders/model/heads.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/kernels/gemm_f32.h"
#include "encoders/kernels/pool.h"
#include "encoders/model/bert.h"

#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#define TOKEN_TILE 256
#define VOCAB_BLOCK 1024
/* Bound widening, relative to ||h_t|| ||W_v||: the worst-case error of a d-term float dot product is about
 * d * 2^-24 (4.6e-5 for d = 768), plus ~1e-6 from the basis' orthonormality; 2e-4 covers d up to ~3000. */
#define BOUND_MARGIN 2e-4
/* After the first sequence of a call, the bound is dropped for the rest of the call if it skipped less than
 * this fraction of rows (it then only costs its k/d share of the decoder GEMM). Exactness is unaffected. */
#define BOUND_MIN_SKIP 0.05

struct spar_splade_bound {
    size_t V, d, k;
    float *U;  /* [k, d] orthonormal rows */
    float *Wk; /* [V, k] = W U^T */
    float *e;  /* [V] ||W_v - U^T Wk_v||, rounded up */
    float *wn; /* [V] ||W_v||, rounded up */
    int adaptive;
};

static int n_threads(void) {
#ifdef SPAR_HAVE_OPENMP
    if (spar_model_omp_ok() && !omp_in_parallel()) return SPAR_MAX(1, omp_get_max_threads());
#endif
    return 1;
}

static int thread_id(void) {
#ifdef SPAR_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Fold rows of a [nt, nv] logit tile (row r belongs to sequence seq[r], columns cols[j] or v0 + j) into out. */
static void fold(const float *tile, size_t nt, size_t nv, const uint32_t *seq, size_t seq_const, const uint32_t *cols,
                 size_t v0, const float *b, size_t V, spar_splade_pooling pool, float *out) {
    for (size_t r = 0; r < nt; r++) {
        const float *row = tile + r * nv;
        float *o = out + (seq != NULL ? (size_t)seq[r] : seq_const) * V;
        if (cols != NULL) {
            for (size_t j = 0; j < nv; j++) {
                size_t v = cols[j];
                float x = row[j] + b[v];
                if (pool == SPAR_SPLADE_MAX) o[v] = x > o[v] ? x : o[v];
                else if (x > 0) o[v] += log1pf(x);
            }
        } else if (pool == SPAR_SPLADE_MAX) {
            for (size_t j = 0; j < nv; j++) {
                float x = row[j] + b[v0 + j];
                o[v0 + j] = x > o[v0 + j] ? x : o[v0 + j];
            }
        } else {
            for (size_t j = 0; j < nv; j++) {
                float x = row[j] + b[v0 + j];
                if (x > 0) o[v0 + j] += log1pf(x);
            }
        }
    }
}

/* Everything, no bound: vocabulary blocks split across threads (disjoint output columns, so no races and the
 * same per-entry summation whatever the thread count); token tiles inside. tiles: nth * TOKEN_TILE * VOCAB_BLOCK. */
/* The decoder as pool_all reads it: row-major W, or (W NULL) packed once by the caller: the first Pm->n rows
 * (a multiple of 32) in Pm, the last V - Pm->n rows in Pt (either may be NULL when it would be empty). */
typedef struct dec_src {
    const float *W;
    const spar_gemm_f32_packed *Pm, *Pt;
} dec_src;

/* A block [v0, v0 + nv) of a caller-packed decoder: its strips of Pm as a borrowed view (*vm, nm rows) and,
 * when the block reaches past Pm, the tail matrix (the tail never straddles blocks: block starts and Pm->n
 * are multiples of 32 and the tail is shorter than 32). */
static void block_views(const dec_src *src, size_t v0, size_t nv, size_t d, spar_gemm_f32_packed *vm, size_t *nm,
                        const spar_gemm_f32_packed **vt) {
    size_t Vm = src->Pm != NULL ? src->Pm->n : 0;
    *nm = v0 < Vm ? SPAR_MIN(nv, Vm - v0) : 0;
    if (*nm > 0) {
        vm->n = *nm;
        vm->k = d;
        vm->n_strips = (*nm + SPAR_GEMM_F32_NR - 1) / SPAR_GEMM_F32_NR;
        vm->data = src->Pm->data + (v0 / SPAR_GEMM_F32_NR) * SPAR_GEMM_F32_NR * d;
        vm->borrowed = 1;
    }
    *vt = *nm < nv ? src->Pt : NULL;
}

/* Y[nt, ldy] = X[nt, d] * P^T on the calling thread (every unit of the plan, in order). */
static void gemm_serial(const spar_gemm_f32_packed *P, const float *X, size_t nt, size_t d, float *Y, size_t ldy,
                        float *scratch) {
    spar_gemm_f32_plan pl;
    size_t units = spar_gemm_f32_plan_make(&pl, P, spar_gemm_f32_isa_best(), SPAR_GEMM_EPI_NONE, X, nt, d, NULL, Y,
                                           ldy, 1);
    for (size_t u = 0; u < units; u++) spar_gemm_f32_run_unit(&pl, u, scratch);
}

static void pool_all(const float *h2, const uint32_t *seq_of, size_t T, size_t d, const dec_src *src, const float *b,
                     size_t V, spar_splade_pooling pool, float *out, float *tiles, float *scratches, int nth) {
    const float *W = src->W;
    long n_blocks = (long)((V + VOCAB_BLOCK - 1) / VOCAB_BLOCK);
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1)
#endif
    for (long bi = 0; bi < n_blocks; bi++) {
        size_t v0 = (size_t)bi * VOCAB_BLOCK, nv = SPAR_MIN((size_t)VOCAB_BLOCK, V - v0);
        float *tile = tiles + (size_t)thread_id() * TOKEN_TILE * VOCAB_BLOCK;
        /* The block's decoder rows packed once for gemm_f32 (as sgemm would pack them per call; the block is
         * reused by every token tile); without memory for that, sgemm. */
        spar_gemm_f32_packed *P = NULL, view = {0};
        const spar_gemm_f32_packed *Pt = NULL;
        size_t nm = nv;
        float *scratch = scratches + (size_t)thread_id() * SPAR_GEMM_F32_SCRATCH;
        if (W == NULL) block_views(src, v0, nv, d, &view, &nm, &Pt); /* packed once by the caller */
        else if (spar_gemm_f32_pack(W + v0 * d, nv, d, d, &P) != SPAR_OK) P = NULL; /* sgemm below */
        const spar_gemm_f32_packed *Pm = W == NULL ? (nm > 0 ? &view : NULL) : P;
        for (size_t t0 = 0; t0 < T; t0 += TOKEN_TILE) {
            size_t nt = SPAR_MIN((size_t)TOKEN_TILE, T - t0);
            if (Pm != NULL) gemm_serial(Pm, h2 + t0 * d, nt, d, tile, nv, scratch);
            if (Pt != NULL) gemm_serial(Pt, h2 + t0 * d, nt, d, tile + nm, nv, scratch);
            if (W != NULL && P == NULL)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)nv, (int)d, 1.0f, h2 + t0 * d,
                            (int)d, W + v0 * d, (int)d, 0.0f, tile, (int)nv);
            fold(tile, nt, nv, seq_of + t0, 0, NULL, v0, b, V, pool, out);
        }
        spar_gemm_f32_free(P);
    }
    (void)nth;
}

typedef struct lowp_job {
    const spar_lowp_mat *W;
    const spar_lowp_act *act;
    const uint32_t *seq_of;
    const float *b;
    size_t V, T, n_seqs;
    spar_splade_pooling pool;
    float *out, *tiles;
} lowp_job;

/* One vocabulary block: every token tile through the reduced-precision kernel, folded into out. */
static void lowp_block(void *ctx, size_t bi, int tid) {
    const lowp_job *j = ctx;
    size_t v0 = bi * VOCAB_BLOCK, nv = SPAR_MIN((size_t)VOCAB_BLOCK, j->V - v0);
    float *tile = j->tiles + (size_t)tid * TOKEN_TILE * VOCAB_BLOCK;
    for (size_t t0 = 0; t0 < j->T; t0 += TOKEN_TILE) {
        size_t nt = SPAR_MIN((size_t)TOKEN_TILE, j->T - t0);
        spar_lowp_gemm_tile(j->W, j->act, t0, t0 + nt, v0, v0 + nv, NULL, tile, nv);
        fold(tile, nt, nv, j->seq_of + t0, 0, NULL, v0, j->b, j->V, j->pool, j->out);
    }
    if (j->pool == SPAR_SPLADE_MAX) /* max pooling kept raw logits: log1p once per entry of this block */
        for (size_t s = 0; s < j->n_seqs; s++) {
            float *o = j->out + s * j->V + v0;
            for (size_t v = 0; v < nv; v++)
                if (o[v] > 0) o[v] = log1pf(o[v]);
        }
}

spar_status spar_splade_pool_lowp(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d, const spar_lowp_mat *W,
                                  const float *b, size_t V, spar_splade_pooling pool, float *out) {
    if (h2 == NULL || lens == NULL || W == NULL || b == NULL || out == NULL || W->n != V || W->k != d)
        return SPAR_E_INVALID_ARG;
    size_t T = 0;
    for (size_t s = 0; s < n_seqs; s++) T += lens[s];
    memset(out, 0, n_seqs * V * sizeof(float));
    if (T == 0) return SPAR_OK;
    int nth = spar_pool_default_threads(); /* spar's own kernels run on its pool (encoders/kernels/pool.h) */
    spar_lowp_act act;
    SPAR_TRY(spar_lowp_act_prepare(W, h2, T, d, nth, &act));
    float *tiles = spar_malloc_array((size_t)nth * TOKEN_TILE, VOCAB_BLOCK * sizeof(float));
    uint32_t *seq_of = spar_malloc_array(T, sizeof(uint32_t));
    spar_status st = SPAR_OK;
    if (tiles == NULL || seq_of == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    for (size_t s = 0, t = 0; s < n_seqs; s++)
        for (uint32_t i = 0; i < lens[s]; i++) seq_of[t++] = (uint32_t)s;
    lowp_job j = {W, &act, seq_of, b, V, T, n_seqs, pool, out, tiles};
    spar_pool_run((V + VOCAB_BLOCK - 1) / VOCAB_BLOCK, nth, lowp_block, &j);
done:
    spar_lowp_act_free(&act);
    free(tiles);
    free(seq_of);
    return st;
}

typedef struct seq_work {
    float *hk;   /* [n, k] */
    float *r;    /* [n, d] residual of the projection */
    float *rn;   /* [n] ||r_t|| rounded up */
    float hmax;  /* max_t ||h_t|| rounded up */
} seq_work;

/* One sequence (n tokens at H) with the bound. Per thread: tile [n_cap, VOCAB_BLOCK] (bound, then logits),
 * ub/idx [VOCAB_BLOCK], gathered rows [VOCAB_BLOCK, d]. Returns the number of rows skipped. */
static uint64_t pool_bounded(const spar_splade_bound *bd, const float *H, size_t n, size_t s, const float *W,
                             const float *b, spar_splade_pooling pool, float cut, float *out, seq_work *sw,
                             float *tiles, float *ubs, uint32_t *idxs, float *gath, size_t n_cap, int nth) {
    size_t d = bd->d, k = bd->k, V = bd->V;
    /* hk = H U^T; r = H - hk U; norms in double. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0f, H, (int)d, bd->U, (int)d, 0.0f,
                sw->hk, (int)k);
    memcpy(sw->r, H, n * d * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)k, -1.0f, sw->hk, (int)k, bd->U, (int)d,
                1.0f, sw->r, (int)d);
    double hmax = 0;
    for (size_t t = 0; t < n; t++) {
        double a = 0, c = 0;
        for (size_t j = 0; j < d; j++) {
            a += (double)sw->r[t * d + j] * sw->r[t * d + j];
            c += (double)H[t * d + j] * H[t * d + j];
        }
        sw->rn[t] = (float)(sqrt(a) * (1 + 1e-6));
        hmax = fmax(hmax, sqrt(c));
    }
    const float margin = (float)(BOUND_MARGIN * hmax * (1 + 1e-6));
    long n_blocks = (long)((V + VOCAB_BLOCK - 1) / VOCAB_BLOCK);
    uint64_t skipped = 0;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (nth > 1) reduction(+ : skipped)
#endif
    for (long bi = 0; bi < n_blocks; bi++) {
        int tid = thread_id();
        size_t v0 = (size_t)bi * VOCAB_BLOCK, nv = SPAR_MIN((size_t)VOCAB_BLOCK, V - v0);
        float *tile = tiles + (size_t)tid * n_cap * VOCAB_BLOCK, *ub = ubs + (size_t)tid * VOCAB_BLOCK;
        uint32_t *idx = idxs + (size_t)tid * VOCAB_BLOCK;
        const float *e = bd->e + v0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)nv, (int)k, 1.0f, sw->hk, (int)k,
                    bd->Wk + v0 * k, (int)k, 0.0f, tile, (int)nv);
        for (size_t j = 0; j < nv; j++) ub[j] = tile[j] + sw->rn[0] * e[j];
        for (size_t t = 1; t < n; t++) {
            const float *row = tile + t * nv;
            float rt = sw->rn[t];
            for (size_t j = 0; j < nv; j++) {
                float x = row[j] + rt * e[j];
                ub[j] = x > ub[j] ? x : ub[j];
            }
        }
        size_t ns = 0;
        for (size_t j = 0; j < nv; j++)
            if (ub[j] + b[v0 + j] + margin * bd->wn[v0 + j] > cut) idx[ns++] = (uint32_t)(v0 + j);
        skipped += nv - ns;
        if (ns == 0) continue;
        if (4 * ns >= 3 * nv) { /* most rows survive: one GEMM on the block as it is */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)nv, (int)d, 1.0f, H, (int)d, W + v0 * d,
                        (int)d, 0.0f, tile, (int)nv);
            fold(tile, n, nv, NULL, s, NULL, v0, b, V, pool, out);
            skipped -= nv - ns; /* computed after all */
            continue;
        }
        float *g = gath + (size_t)tid * VOCAB_BLOCK * d;
        for (size_t i = 0; i < ns; i++) memcpy(g + i * d, W + (size_t)idx[i] * d, d * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)ns, (int)d, 1.0f, H, (int)d, g, (int)d, 0.0f,
                    tile, (int)ns);
        fold(tile, n, ns, NULL, s, idx, 0, b, V, pool, out);
    }
    sw->hmax = (float)hmax;
    return skipped;
}

/* spar_splade_pool_pruned on either decoder source (src->W NULL: packed, and bd must be NULL). */
static spar_status pool_impl(const spar_splade_bound *bd, const float *h2, const uint32_t *lens, size_t n_seqs,
                             size_t d, const dec_src *src, const float *b, size_t V, spar_splade_pooling pool,
                             float floor, float *out, spar_splade_stats *stats) {
    const float *W = src->W;
    if (h2 == NULL || lens == NULL || b == NULL || out == NULL || d == 0 || V == 0) return SPAR_E_INVALID_ARG;
    if (W == NULL && bd != NULL) return SPAR_E_INVALID_ARG;
    if (bd != NULL && (bd->V != V || bd->d != d)) return SPAR_E_INVALID_ARG;
    size_t T = 0, n_max = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        T += lens[s];
        n_max = SPAR_MAX(n_max, (size_t)lens[s]);
    }
    memset(out, 0, n_seqs * V * sizeof(float));
    if (T == 0) return SPAR_OK;
    /* Weight <= floor  <=>  logit <= expm1(floor). Sum pooling adds tokens up, so only floor 0 is safe there. */
    float cut = (pool == SPAR_SPLADE_MAX && floor > 0) ? expm1f(floor) : 0.0f;
    int nth = n_threads();
    size_t n_cap = SPAR_MAX((size_t)TOKEN_TILE, n_max), k = bd != NULL ? bd->k : 0;
    spar_status st = SPAR_OK;
    float *tiles = spar_malloc_array((size_t)nth * n_cap, VOCAB_BLOCK * sizeof(float));
    float *scratches = spar_malloc_array((size_t)nth, SPAR_GEMM_F32_SCRATCH * sizeof(float));
    uint32_t *seq_of = spar_malloc_array(T, sizeof(uint32_t));
    float *ubs = NULL, *gath = NULL;
    uint32_t *idxs = NULL;
    seq_work sw = {0};
    if (tiles == NULL || scratches == NULL || seq_of == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (size_t s = 0, t = 0; s < n_seqs; s++)
        for (uint32_t i = 0; i < lens[s]; i++) seq_of[t++] = (uint32_t)s;
    size_t s_done = 0, t_done = 0;
    uint64_t skipped = 0, considered = 0;
    if (bd != NULL) {
        ubs = spar_malloc_array((size_t)nth * VOCAB_BLOCK, sizeof(float));
        idxs = spar_malloc_array((size_t)nth * VOCAB_BLOCK, sizeof(uint32_t));
        gath = spar_malloc_array((size_t)nth * VOCAB_BLOCK, d * sizeof(float));
        sw.hk = spar_malloc_array(n_max, k * sizeof(float));
        sw.r = spar_malloc_array(n_max, d * sizeof(float));
        sw.rn = spar_malloc_array(n_max, sizeof(float));
        if (ubs == NULL || idxs == NULL || gath == NULL || sw.hk == NULL || sw.r == NULL || sw.rn == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        for (; s_done < n_seqs; s_done++) {
            size_t n = lens[s_done];
            if (n > 0) {
                skipped += pool_bounded(bd, h2 + t_done * d, n, s_done, W, b, pool, cut, out, &sw, tiles, ubs, idxs,
                                        gath, n_cap, nth);
                considered += V;
            }
            t_done += n;
            if (bd->adaptive && s_done == 0 && (double)skipped < BOUND_MIN_SKIP * (double)considered) {
                s_done++;
                break; /* the bound does not pay on these weights: the rest runs unpruned */
            }
        }
    }
    if (s_done < n_seqs) {
        pool_all(h2 + t_done * d, seq_of + t_done, T - t_done, d, src, b, V, pool, out, tiles, scratches, nth);
        considered += (uint64_t)(n_seqs - s_done) * V;
    }
    if (pool == SPAR_SPLADE_MAX) {
        size_t n = n_seqs * V;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1 && n > 65536)
#endif
        for (size_t i = 0; i < n; i++)
            if (out[i] > 0) out[i] = log1pf(out[i]);
    }
    if (stats != NULL) {
        stats->rows_total += considered;
        stats->rows_skipped += skipped;
    }
done:
    free(tiles);
    free(scratches);
    free(seq_of);
    free(ubs);
    free(idxs);
    free(gath);
    free(sw.hk);
    free(sw.r);
    free(sw.rn);
    return st;
}

spar_status spar_splade_pool_pruned(const spar_splade_bound *bd, const float *h2, const uint32_t *lens, size_t n_seqs,
                                    size_t d, const float *W, const float *b, size_t V, spar_splade_pooling pool,
                                    float floor, float *out, spar_splade_stats *stats) {
    if (W == NULL) return SPAR_E_INVALID_ARG;
    dec_src src = {W, NULL, NULL};
    return pool_impl(bd, h2, lens, n_seqs, d, &src, b, V, pool, floor, out, stats);
}

spar_status spar_splade_pool_packed(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d,
                                    const spar_gemm_f32_packed *Wm, const spar_gemm_f32_packed *Wt, const float *b,
                                    size_t V, spar_splade_pooling pool, float *out) {
    size_t nm = Wm != NULL ? Wm->n : 0, nt = Wt != NULL ? Wt->n : 0;
    if ((Wm == NULL && Wt == NULL) || nm % SPAR_GEMM_F32_NR != 0 || nt >= SPAR_GEMM_F32_NR || nm + nt != V ||
        (Wm != NULL && Wm->k != d) || (Wt != NULL && Wt->k != d))
        return SPAR_E_INVALID_ARG;
    dec_src src = {NULL, Wm, Wt};
    return pool_impl(NULL, h2, lens, n_seqs, d, &src, b, V, pool, 0.0f, out, NULL);
}

spar_status spar_splade_pool(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d, const float *W,
                             const float *b, size_t V, spar_splade_pooling pool, float *out) {
    return spar_splade_pool_pruned(NULL, h2, lens, n_seqs, d, W, b, V, pool, 0.0f, out, NULL);
}

/* Rows of Q [k, d] (double) made orthonormal: modified Gram-Schmidt, twice. A row that collapses is replaced
 * by a unit vector and redone. */
static void orthonormalize(double *Q, size_t k, size_t d) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < k; i++) {
            double *q = Q + i * d;
            for (int tries = 0; tries < 4; tries++) {
                for (size_t j = 0; j < i; j++) {
                    const double *p = Q + j * d;
                    double dot = 0;
                    for (size_t c = 0; c < d; c++) dot += q[c] * p[c];
                    for (size_t c = 0; c < d; c++) q[c] -= dot * p[c];
                }
                double nrm = 0;
                for (size_t c = 0; c < d; c++) nrm += q[c] * q[c];
                nrm = sqrt(nrm);
                if (nrm > 1e-8) {
                    for (size_t c = 0; c < d; c++) q[c] /= nrm;
                    break;
                }
                memset(q, 0, d * sizeof(double));
                q[(i + (size_t)tries * 7) % d] = 1.0;
            }
        }
}

spar_status spar_splade_bound_build(const float *W, size_t V, size_t d, size_t k, spar_splade_bound **out) {
    if (W == NULL || out == NULL || V == 0 || d < 2) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (k == 0) k = d >= 256 ? 64 : SPAR_MAX((size_t)1, d / 4);
    if (k >= d) return SPAR_E_INVALID_ARG;
    spar_status st = SPAR_OK;
    spar_splade_bound *bd = calloc(1, sizeof *bd);
    float *G = spar_malloc_array(d, d * sizeof(float)), *Z = spar_malloc_array(k, d * sizeof(float));
    double *Q = spar_malloc_array(k, d * sizeof(double));
    float *R = NULL;
    const size_t chunk = 4096;
    if (bd == NULL || G == NULL || Z == NULL || Q == NULL) { st = SPAR_E_NOMEM; goto done; }
    bd->V = V;
    bd->adaptive = 1;
    bd->d = d;
    bd->k = k;
    bd->U = spar_malloc_array(k, d * sizeof(float));
    bd->Wk = spar_malloc_array(V, k * sizeof(float));
    bd->e = spar_malloc_array(V, sizeof(float));
    bd->wn = spar_malloc_array(V, sizeof(float));
    R = spar_malloc_array(SPAR_MIN(V, chunk), d * sizeof(float));
    if (bd->U == NULL || bd->Wk == NULL || bd->e == NULL || bd->wn == NULL || R == NULL) { st = SPAR_E_NOMEM; goto done; }
    /* Principal row subspace of W: subspace iteration on the Gram matrix W^T W. Convergence only affects
     * how tight the bound is, never its validity (that needs U orthonormal, which it is to ~1e-7). */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)V, 1.0f, W, (int)d, W, (int)d, 0.0f, G,
                (int)d);
    uint64_t rs = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < k * d; i++) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        Q[i] = (double)(rs >> 11) / 9007199254740992.0 - 0.5;
    }
    orthonormalize(Q, k, d);
    for (int it = 0; it < 12; it++) {
        for (size_t i = 0; i < k * d; i++) bd->U[i] = (float)Q[i];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)d, (int)d, 1.0f, bd->U, (int)d, G, (int)d,
                    0.0f, Z, (int)d);
        for (size_t i = 0; i < k * d; i++) Q[i] = Z[i];
        orthonormalize(Q, k, d);
    }
    for (size_t i = 0; i < k * d; i++) bd->U[i] = (float)Q[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)V, (int)k, (int)d, 1.0f, W, (int)d, bd->U, (int)d, 0.0f,
                bd->Wk, (int)k);
    for (size_t v0 = 0; v0 < V; v0 += chunk) {
        size_t nv = SPAR_MIN(chunk, V - v0);
        memcpy(R, W + v0 * d, nv * d * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nv, (int)d, (int)k, -1.0f, bd->Wk + v0 * k, (int)k,
                    bd->U, (int)d, 1.0f, R, (int)d);
        for (size_t v = 0; v < nv; v++) {
            double a = 0, c = 0;
            for (size_t j = 0; j < d; j++) {
                a += (double)R[v * d + j] * R[v * d + j];
                c += (double)W[(v0 + v) * d + j] * W[(v0 + v) * d + j];
            }
            bd->e[v0 + v] = (float)(sqrt(a) * (1 + 1e-6));
            bd->wn[v0 + v] = (float)(sqrt(c) * (1 + 1e-6));
        }
    }
    *out = bd;
    bd = NULL;
done:
    spar_splade_bound_free(bd);
    free(G);
    free(Z);
    free(Q);
    free(R);
    return st;
}

void spar_splade_bound_set_adaptive(spar_splade_bound *bd, int on) {
    if (bd != NULL) bd->adaptive = on != 0;
}

void spar_splade_bound_free(spar_splade_bound *bd) {
    if (bd == NULL) return;
    free(bd->U);
    free(bd->Wk);
    free(bd->e);
    free(bd->wn);
    free(bd);
}

static void l2_normalize(float *x, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)x[j] * x[j];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (size_t j = 0; j < d; j++) x[j] *= inv;
}

void spar_dense_pool(const float *h, const uint32_t *lens, size_t n_seqs, size_t d, spar_dense_pooling pool,
                     int normalize, float *out) {
    size_t base = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        float *o = out + s * d;
        if (pool == SPAR_DENSE_CLS) {
            memcpy(o, h + base * d, d * sizeof(float));
        } else {
            for (size_t j = 0; j < d; j++) {
                double acc = 0;
                for (size_t t = 0; t < lens[s]; t++) acc += h[(base + t) * d + j];
                o[j] = (float)(acc / lens[s]);
            }
        }
        if (normalize) l2_normalize(o, d);
        base += lens[s];
    }
}

void spar_token_project(const float *h, size_t T, size_t d, const float *P, size_t p, int normalize, float *out) {
    if (P != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)p, (int)d, 1.0f, h, (int)d, P, (int)d, 0.0f,
                    out, (int)p);
    else
        memcpy(out, h, T * d * sizeof(float));
    size_t w = P != NULL ? p : d;
    if (normalize)
        for (size_t t = 0; t < T; t++) l2_normalize(out + t * w, w);
}
