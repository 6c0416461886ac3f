/* select.c — block-selection policies for the block-sparse kernel, and spar_attn_forward (policy +
 * threshold).
 *
 *  LOCAL_GLOBAL    static: key blocks |i-j| <= window, plus global blocks [0, n_global) (attend everywhere,
 * are attended by all). Zero estimation cost; one mask shared by all heads.
 *  QUERY_AWARE     per head and query block i: est[i][j] = the estimated share of block i's attention mass
 * that falls in key block j. Default estimator (q_per_block = R >= 1): R representative query rows of the
 * block (centres of R equal slices) get their exact softmax over all keys, and est is the mean of their
 * per-key-block masses (cost R*nb*T*d per head, SGEMM). Older estimator (q_per_block = 0): mean-pool the
 * block's queries and take softmax_j(logsumexp_{k in j} qbar_i.k * scale) (cost nb*T*d); under RoPE the
 * mean of 64 differently rotated queries loses the high-frequency pairs, so that estimate is flatter than
 * any row's attention and tau then keeps many far blocks. Either way, keep key blocks by descending est
 * until the cumulative estimate (forced blocks included) reaches tau; clamp by min_blocks/max_blocks.
 *  VERTICAL_SLASH  per head: n_sample query rows strided
 * over the valid tokens get their exact softmax over all keys (n_sample*T*d), summed per key block.
 * Candidates are block columns j (kept for every query block) and block diagonals D (key block i+D for every
 * i; two-sided since the encoder is bidirectional). Candidates are added greedily by their sampled mass, with
 * coverage tracked per sample so overlaps are not counted twice (each step takes the largest marginal gain),
 * until the sampled captured mass reaches tau.
 *
 * All policies force the diagonal block and the global blocks into every row, and give global query blocks
 * every key block. Blocks made only of padding keys are dropped unless forced. */
#include "encoders/attention/attention.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/attention/attn_simd.h"
#if defined(SPAR_HAVE_OPENMP)
#include <omp.h>
#endif

#define B SPAR_ATTN_BLOCK

void spar_attn_policy_default(spar_attn_policy *p, spar_attn_policy_kind kind) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->min_len = 1024;
    p->n_global = 1;
    p->window = 2;
    p->tau = 0.97f;
    p->min_blocks = 4;
    p->max_blocks = 0;
    p->n_sample = 64;
    p->q_per_block = 2;
}

const char *spar_attn_policy_name(spar_attn_policy_kind kind) {
    switch (kind) {
    case SPAR_ATTN_DENSE:
        return "dense";
    case SPAR_ATTN_LOCAL_GLOBAL:
        return "local_global";
    case SPAR_ATTN_QUERY_AWARE:
        return "query_aware";
    case SPAR_ATTN_VERTICAL_SLASH:
        return "vertical_slash";
    }
    return "unknown";
}

/* Mask under construction: rows are appended in order; capacity n_rows*nb is enough by construction. */
typedef struct builder {
    spar_attn_mask m;
    size_t n_rows, n;
} builder;

static spar_status builder_init(builder *b, uint32_t n_heads, uint32_t nb) {
    memset(b, 0, sizeof *b);
    b->n_rows = (size_t)n_heads * nb;
    b->m.n_heads = n_heads;
    b->m.n_blocks = nb;
    b->m.row_ptr = spar_malloc_array(b->n_rows + 1, sizeof(uint32_t));
    b->m.col = spar_malloc_array(b->n_rows, (size_t)nb * sizeof(uint32_t));
    if (!b->m.row_ptr || !b->m.col) {
        spar_attn_mask_free(&b->m);
        return SPAR_E_NOMEM;
    }
    b->m.row_ptr[0] = 0;
    return SPAR_OK;
}

/* Append row r from a mark array (nonzero = keep); marks are cleared. */
static void builder_row(builder *b, size_t r, uint8_t *mark) {
    for (uint32_t j = 0; j < b->m.n_blocks; j++)
        if (mark[j]) {
            b->m.col[b->n++] = j;
            mark[j] = 0;
        }
    b->m.row_ptr[r + 1] = (uint32_t)b->n;
}

/* Shrink the column array to its size (best effort). */
static void builder_finish(builder *b, spar_attn_mask *out) {
    uint32_t *c = realloc(b->m.col, (b->n ? b->n : 1) * sizeof(uint32_t));
    if (c) b->m.col = c;
    *out = b->m;
}

/* Mark what every row must hold: globals, the diagonal; a global query block gets all valid blocks. */
static void mark_forced(uint8_t *mark, uint32_t i, uint32_t nb, uint32_t n_global, const uint8_t *bvalid) {
    uint32_t g = SPAR_MIN(n_global, nb);
    for (uint32_t j = 0; j < g; j++)
        mark[j] = 1;
    mark[i] = 1;
    if (i < g)
        for (uint32_t j = 0; j < nb; j++)
            mark[j] |= bvalid[j];
}

static spar_status select_local(const spar_attn_policy *p, uint32_t nb, const uint8_t *bvalid,
                                spar_attn_mask *out) {
    builder b;
    SPAR_TRY(builder_init(&b, 1, nb));
    uint8_t *mark = calloc(nb, 1);
    if (!mark) {
        spar_attn_mask_free(&b.m);
        return SPAR_E_NOMEM;
    }
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t lo = i > p->window ? i - p->window : 0;
        uint32_t hi = (uint64_t)i + p->window < nb ? i + p->window : nb - 1;
        for (uint32_t j = lo; j <= hi; j++)
            mark[j] = bvalid[j];
        mark_forced(mark, i, nb, p->n_global, bvalid);
        builder_row(&b, i, mark);
    }
    free(mark);
    builder_finish(&b, out);
    return SPAR_OK;
}

typedef struct scored {
    float s;
    uint32_t j;
} scored;

static int cmp_desc(const void *x, const void *y) {
    float a = ((const scored *)x)->s, b = ((const scored *)y)->s;
    return a < b ? 1 : a > b ? -1 : (int)((const scored *)x)->j - (int)((const scored *)y)->j;
}

/* log(sum over valid keys k in [k0, k1) of exp(row[k])); -inf when none is valid */
static float block_lse(const float *row, uint32_t k0, uint32_t k1, const uint8_t *valid) {
    float bm = -INFINITY;
    for (uint32_t k = k0; k < k1; k++)
        if ((!valid || valid[k]) && row[k] > bm) bm = row[k];
    if (bm == -INFINITY) return bm;
    float s = 0.0f;
    for (uint32_t k = k0; k < k1; k++)
        if (!valid || valid[k]) s += expf(row[k] - bm);
    return bm + logf(s);
}

/* block_lse over one full block of B keys, all valid */
__attribute__((target("avx2,fma"))) static float block_lse_avx2(const float *row) {
    __m256 vm = _mm256_loadu_ps(row);
    for (uint32_t c = 8; c < B; c += 8)
        vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + c));
    float bm = attn_hmax256(vm);
    __m256 vb = _mm256_set1_ps(bm), vs = _mm256_setzero_ps();
    for (uint32_t c = 0; c < B; c += 8)
        vs = _mm256_add_ps(vs, attn_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + c), vb)));
    return bm + logf(attn_hsum256(vs));
}

/* Parallel per-head selection: each thread owns its scratch and writes its heads' rows of a mark array. */
#if defined(SPAR_HAVE_OPENMP)
#define PRAGMA_(x) _Pragma(#x)
#define PARALLEL_HEADS(a)                                                                                    \
    PRAGMA_(omp parallel num_threads((a)->n_threads > 0 ? (a)->n_threads : omp_get_max_threads())            \
                reduction(|                                                                                  \
                          : failed))
#define FOR_HEADS PRAGMA_(omp for schedule(dynamic, 1))
#else
#define PARALLEL_HEADS(a)
#define FOR_HEADS
#endif

/* CSR mask (one row set per head) from marks[n_heads*nb][nb]; clears the marks. */
static spar_status emit_marks(uint8_t *marks, uint32_t nh, uint32_t nb, spar_attn_mask *out) {
    builder b;
    SPAR_TRY(builder_init(&b, nh, nb));
    for (size_t r = 0; r < (size_t)nh * nb; r++)
        builder_row(&b, r, marks + r * nb);
    builder_finish(&b, out);
    return SPAR_OK;
}

/* Keep key blocks for query block i from the estimated block masses est[nb] (summing to ~1): forced blocks
 * first, then by descending estimate until the cumulative estimate reaches tau, clamped by
 * min_blocks/max_blocks. */
static void qa_keep(const spar_attn_policy *p, const float *est, uint8_t *mark, uint32_t i, uint32_t nb,
                    const uint8_t *bvalid, scored *cand) {
    mark_forced(mark, i, nb, p->n_global, bvalid);
    double cum = 0.0;
    uint32_t n_kept = 0, nc = 0;
    for (uint32_t j = 0; j < nb; j++) {
        if (mark[j]) {
            cum += est[j];
            n_kept++;
        } else if (bvalid[j]) {
            cand[nc].s = est[j];
            cand[nc++].j = j;
        }
    }
    qsort(cand, nc, sizeof *cand, cmp_desc);
    uint32_t added = 0;
    for (uint32_t c = 0; c < nc; c++) {
        int need_mass = cum < (double)p->tau;
        int need_min = n_kept < p->min_blocks;
        if (!need_mass && !need_min) break;
        if (p->max_blocks && added >= p->max_blocks && !need_min) break;
        mark[cand[c].j] = 1;
        cum += cand[c].s;
        n_kept++;
        added++;
    }
}

/* sum over one full block of B keys of exp(row[k] - mx) */
__attribute__((target("avx2,fma"))) static float block_expsum_avx2(const float *row, float mx) {
    __m256 vb = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
    for (uint32_t c = 0; c < B; c += 8)
        vs = _mm256_add_ps(vs, attn_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + c), vb)));
    return attn_hsum256(vs);
}

__attribute__((target("avx2,fma"))) static float row_max_avx2(const float *row, uint32_t n) {
    __m256 vm = _mm256_set1_ps(-INFINITY);
    uint32_t k = 0;
    for (; k + 8 <= n; k += 8)
        vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + k));
    float mx = attn_hmax256(vm);
    for (; k < n; k++)
        if (row[k] > mx) mx = row[k];
    return mx;
}

/* Position inside a query block of nq rows of representative query r of R: the centres of R equal slices,
 * (r + 1/2) * nq / R, so that both ends of the block are represented (a local band reaches the neighbouring
 * key block from the rows near each edge). */
static uint32_t qa_rep_pos(uint32_t r, uint32_t R, uint32_t nq) {
    uint32_t o = (uint32_t)(((2u * r + 1u) * (uint64_t)nq) / (2u * R));
    return o < nq ? o : nq - 1;
}

/* Sampled-query estimate for one query block: est[j] = mean over its R representative rows of the exact
 * softmax mass (over all valid keys) that falls in key block j. sc holds the R scaled score rows [R][t]
 * (overwritten: invalid keys become -inf). */
static void qa_est_sampled(float *sc, uint32_t R, uint32_t t, uint32_t nb, const uint8_t *key_valid, int simd,
                           float *est, double *acc) {
    for (uint32_t j = 0; j < nb; j++)
        est[j] = 0.0f;
    for (uint32_t r = 0; r < R; r++) {
        float *row = sc + (size_t)r * t;
        float mx;
        if (key_valid) {
            mx = -INFINITY;
            for (uint32_t k = 0; k < t; k++) {
                if (!key_valid[k]) row[k] = -INFINITY;
                if (row[k] > mx) mx = row[k];
            }
        } else {
            mx = simd ? row_max_avx2(row, t) : -INFINITY;
            if (!simd)
                for (uint32_t k = 0; k < t; k++)
                    if (row[k] > mx) mx = row[k];
        }
        if (mx == -INFINITY) continue;
        double tot = 0.0;
        for (uint32_t j = 0; j < nb; j++) {
            uint32_t k0 = j * B, k1 = SPAR_MIN(k0 + B, t);
            float sum = 0.0f;
            if (simd && k1 - k0 == B && !key_valid) {
                sum = block_expsum_avx2(row + k0, mx);
            } else {
                for (uint32_t k = k0; k < k1; k++)
                    if (row[k] != -INFINITY) sum += expf(row[k] - mx);
            }
            acc[j] = sum;
            tot += sum;
        }
        if (tot > 0)
            for (uint32_t j = 0; j < nb; j++)
                est[j] += (float)(acc[j] / tot / R);
    }
}

/* Pooled estimate (q_per_block = 0) for every query block: est[i][j] = softmax_j(logsumexp_{k in j} qbar_i.k
 * * scale), with qbar_i the mean of the block's queries; qbar [nb][d], sc [nb][t]. */
static void qa_est_pooled(const spar_attn_args *a, uint32_t h, uint32_t nb, float scale, int simd, float *qbar,
                          float *sc, float *est) {
    uint32_t t = a->seq_len, d = a->d_head;
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t r0 = i * B, nq = SPAR_MIN(B, t - r0);
        float *qb = qbar + (size_t)i * d;
        memset(qb, 0, d * sizeof(float));
        for (uint32_t r = 0; r < nq; r++) {
            const float *q = a->q + (size_t)(r0 + r) * a->ld_q + (size_t)h * d;
            for (uint32_t k = 0; k < d; k++)
                qb[k] += q[k];
        }
        for (uint32_t k = 0; k < d; k++)
            qb[k] *= scale / (float)nq;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)t, (int)d, 1.0f, qbar, (int)d,
                a->k + (size_t)h * d, (int)a->ld_k, 0.0f, sc, (int)t);
    for (uint32_t i = 0; i < nb; i++) {
        const float *row = sc + (size_t)i * t;
        float *e = est + (size_t)i * nb;
        float mx = -INFINITY;
        for (uint32_t j = 0; j < nb; j++) {
            uint32_t k0 = j * B, k1 = SPAR_MIN(k0 + B, t);
            float lse = simd && k1 - k0 == B && !a->key_valid ? block_lse_avx2(row + k0)
                                                              : block_lse(row, k0, k1, a->key_valid);
            e[j] = lse;
            if (lse > mx) mx = lse;
        }
        double tot = 0.0;
        for (uint32_t j = 0; j < nb; j++) {
            e[j] = e[j] == -INFINITY ? 0.0f : expf(e[j] - mx);
            tot += e[j];
        }
        for (uint32_t j = 0; j < nb; j++)
            e[j] = tot > 0 ? (float)(e[j] / tot) : 0.0f;
    }
}

/* query blocks whose representative rows are scored by one SGEMM (bounds the score scratch) */
#define QA_CHUNK 16u

static spar_status select_query_aware(const spar_attn_policy *p, const spar_attn_args *a, uint32_t nb,
                                      const uint8_t *bvalid, float scale, spar_attn_mask *out) {
    uint32_t t = a->seq_len, d = a->d_head, nh = a->n_heads;
    uint32_t R = SPAR_MIN(p->q_per_block, B);
    uint8_t *marks = calloc((size_t)nh * nb, nb); /* [head][query block][key block] */
    if (!marks) return SPAR_E_NOMEM;
    int simd = attn_cpu_has_avx2_fma(), failed = 0;
    /* scratch rows: pooled = nb rows of qbar and scores and nb*nb estimates; sampled = QA_CHUNK*R rows */
    size_t n_rows = R ? (size_t)QA_CHUNK * R : nb;
    PARALLEL_HEADS(a) {
        float *qs = spar_malloc_array(n_rows, d * sizeof(float));
        float *sc = spar_malloc_array(n_rows, (size_t)t * sizeof(float));
        float *est = spar_malloc_array(R ? 1 : nb, (size_t)nb * sizeof(float));
        double *acc = spar_malloc_array(nb, sizeof(double));
        scored *cand = spar_malloc_array(nb, sizeof(scored));
        int ok = qs && sc && est && acc && cand;
        if (!ok) failed = 1;
        FOR_HEADS
        for (uint32_t h = 0; h < nh; h++) {
            if (!ok) continue; /* every thread must reach the worksharing loop */
            uint8_t *hm = marks + (size_t)h * nb * nb;
            if (!R) {
                qa_est_pooled(a, h, nb, scale, simd, qs, sc, est);
                for (uint32_t i = 0; i < nb; i++)
                    qa_keep(p, est + (size_t)i * nb, hm + (size_t)i * nb, i, nb, bvalid, cand);
                continue;
            }
            for (uint32_t i0 = 0; i0 < nb; i0 += QA_CHUNK) {
                uint32_t nbc = SPAR_MIN(QA_CHUNK, nb - i0);
                for (uint32_t c = 0; c < nbc; c++) {
                    uint32_t r0 = (i0 + c) * B, nq = SPAR_MIN(B, t - r0);
                    for (uint32_t r = 0; r < R; r++) {
                        const float *q = a->q + (size_t)(r0 + qa_rep_pos(r, R, nq)) * a->ld_q + (size_t)h * d;
                        float *dst = qs + ((size_t)c * R + r) * d;
                        for (uint32_t k = 0; k < d; k++)
                            dst[k] = q[k] * scale;
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(nbc * R), (int)t, (int)d, 1.0f, qs,
                            (int)d, a->k + (size_t)h * d, (int)a->ld_k, 0.0f, sc, (int)t);
                for (uint32_t c = 0; c < nbc; c++) {
                    qa_est_sampled(sc + (size_t)c * R * t, R, t, nb, a->key_valid, simd, est, acc);
                    qa_keep(p, est, hm + (size_t)(i0 + c) * nb, i0 + c, nb, bvalid, cand);
                }
            }
        }
        free(qs);
        free(sc);
        free(est);
        free(acc);
        free(cand);
    }
    spar_status st = failed ? SPAR_E_NOMEM : emit_marks(marks, nh, nb, out);
    free(marks);
    return st;
}

static spar_status select_vertical_slash(const spar_attn_policy *p, const spar_attn_args *a, uint32_t nb,
                                         const uint8_t *bvalid, float scale, spar_attn_mask *out) {
    uint32_t t = a->seq_len, d = a->d_head, nh = a->n_heads;
    /* sample rows: strided over valid positions (padded rows are not representative) */
    uint32_t n_valid = 0;
    for (uint32_t j = 0; j < t; j++)
        n_valid += !a->key_valid || a->key_valid[j];
    uint32_t ns = SPAR_MIN(p->n_sample ? p->n_sample : 1, n_valid ? n_valid : 1);
    uint32_t nd = 2 * nb - 1; /* diagonal offsets D in [-(nb-1), nb-1], stored at D + nb - 1 */
    uint32_t *pos = spar_malloc_array(ns, sizeof(uint32_t));
    uint8_t *marks = calloc((size_t)nh * nb, nb); /* [head][query block][key block] */
    int failed = 0;
    if (!pos || !marks) {
        free(pos);
        free(marks);
        return SPAR_E_NOMEM;
    }
    if (n_valid == 0) {
        pos[0] = 0;
    } else {
        /* the s-th sample is the valid token of rank floor((s + phi_s) * n_valid / ns), phi_s = frac(0.5 + s
         * * golden ratio): strided over the sequence, but with in-block positions spread out (a plain (s +
         * 0.5) stride puts every sample at the same offset inside its block when T/ns is a multiple of 64,
         * which biases the diagonal estimates) */
        uint32_t s = 0, rank = 0;
        for (uint32_t j = 0; j < t && s < ns; j++) {
            if (a->key_valid && !a->key_valid[j]) continue;
            while (s < ns) {
                double phi = 0.5 + 0.6180339887498949 * s;
                phi -= floor(phi);
                if ((uint32_t)(((double)s + phi) * n_valid / ns) != rank) break;
                pos[s++] = j;
            }
            rank++;
        }
        for (; s < ns; s++)
            pos[s] = t - 1;
    }
    PARALLEL_HEADS(a) {
        float *qs = spar_malloc_array(ns, (size_t)d * sizeof(float));
        float *sc = spar_malloc_array(ns, (size_t)t * sizeof(float));
        double *am =
            spar_malloc_array((size_t)ns * nb, sizeof(double)); /* sampled mass per (sample, key block) */
        uint8_t *cov = spar_malloc_array((size_t)ns, nb);
        uint8_t *vsel = calloc(nb, 1), *dsel = calloc(nd, 1);
        int ok = qs && sc && am && cov && vsel && dsel;
        if (!ok) failed = 1;
        FOR_HEADS
        for (uint32_t h = 0; h < nh; h++) {
            if (!ok) continue; /* every thread must reach the worksharing loop */
            for (uint32_t s = 0; s < ns; s++) {
                const float *q = a->q + (size_t)pos[s] * a->ld_q + (size_t)h * d;
                for (uint32_t k = 0; k < d; k++)
                    qs[(size_t)s * d + k] = q[k] * scale;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ns, (int)t, (int)d, 1.0f, qs, (int)d,
                        a->k + (size_t)h * d, (int)a->ld_k, 0.0f, sc, (int)t);
            for (uint32_t s = 0; s < ns; s++) {
                float *row = sc + (size_t)s * t;
                float mx = -INFINITY;
                for (uint32_t k = 0; k < t; k++) {
                    if (a->key_valid && !a->key_valid[k]) row[k] = -INFINITY;
                    if (row[k] > mx) mx = row[k];
                }
                double tot = 0.0;
                double *ab = am + (size_t)s * nb;
                memset(ab, 0, nb * sizeof(double));
                if (mx > -INFINITY)
                    for (uint32_t k = 0; k < t; k++) {
                        double e = row[k] == -INFINITY ? 0.0 : (double)expf(row[k] - mx);
                        ab[k / B] += e;
                        tot += e;
                    }
                for (uint32_t j = 0; j < nb; j++)
                    ab[j] = tot > 0 ? ab[j] / tot : 0.0;
            }
            /* candidates: verticals (index j) and diagonals (index nb + D + nb - 1) */
            memset(vsel, 0, nb);
            memset(dsel, 0, nd);
            memset(cov, 0, (size_t)ns * nb);
            double cum = 0.0;
            uint32_t g = SPAR_MIN(p->n_global, nb);
            for (uint32_t j = 0; j < g; j++)
                vsel[j] = 1;
            dsel[nb - 1] = 1; /* D = 0 */
            for (uint32_t s = 0; s < ns; s++) {
                uint32_t qi = pos[s] / B;
                for (uint32_t j = 0; j < nb; j++) {
                    int keep = vsel[j] || j == qi || qi < g;
                    if (keep) {
                        cov[(size_t)s * nb + j] = 1;
                        cum += am[(size_t)s * nb + j];
                    }
                }
            }
            /* greedy by marginal gain: each step adds the column or diagonal that covers the most not yet
             * covered sampled mass (a column and a diagonal cost about nb block pairs each) */
            while (cum < (double)p->tau * ns) {
                double best = 0.0;
                uint32_t best_id = UINT32_MAX;
                for (uint32_t j = 0; j < nb; j++) {
                    if (vsel[j] || !bvalid[j]) continue;
                    double gain = 0.0;
                    for (uint32_t s = 0; s < ns; s++)
                        if (!cov[(size_t)s * nb + j]) gain += am[(size_t)s * nb + j];
                    if (gain > best) best = gain, best_id = j;
                }
                for (uint32_t di = 0; di < nd; di++) {
                    if (dsel[di]) continue;
                    long dlt = (long)di - (long)(nb - 1);
                    double gain = 0.0;
                    for (uint32_t s = 0; s < ns; s++) {
                        long kb = (long)(pos[s] / B) + dlt;
                        if (kb >= 0 && kb < (long)nb && !cov[(size_t)s * nb + kb])
                            gain += am[(size_t)s * nb + kb];
                    }
                    if (gain > best) best = gain, best_id = nb + di;
                }
                if (best_id == UINT32_MAX) break;
                if (best_id < nb) {
                    vsel[best_id] = 1;
                    for (uint32_t s = 0; s < ns; s++)
                        cov[(size_t)s * nb + best_id] = 1;
                } else {
                    long dlt = (long)(best_id - nb) - (long)(nb - 1);
                    dsel[best_id - nb] = 1;
                    for (uint32_t s = 0; s < ns; s++) {
                        long kb = (long)(pos[s] / B) + dlt;
                        if (kb >= 0 && kb < (long)nb) cov[(size_t)s * nb + kb] = 1;
                    }
                }
                cum += best;
            }
            for (uint32_t i = 0; i < nb; i++) {
                uint8_t *mark = marks + ((size_t)h * nb + i) * nb;
                for (uint32_t j = 0; j < nb; j++)
                    mark[j] = vsel[j] & bvalid[j];
                for (uint32_t di = 0; di < nd; di++) {
                    long kb = (long)i + (long)di - (long)(nb - 1);
                    if (dsel[di] && kb >= 0 && kb < (long)nb) mark[kb] = bvalid[kb];
                }
                mark_forced(mark, i, nb, p->n_global, bvalid);
            }
        }
        free(qs);
        free(sc);
        free(am);
        free(cov);
        free(vsel);
        free(dsel);
    }
    spar_status st = failed ? SPAR_E_NOMEM : emit_marks(marks, nh, nb, out);
    free(pos);
    free(marks);
    return st;
}
spar_status spar_attn_select(const spar_attn_policy *p, const spar_attn_args *a, spar_attn_mask *out) {
    if (!p || !a || !out || !a->q || !a->k || a->seq_len == 0 || a->n_heads == 0 || a->d_head == 0)
        return SPAR_E_INVALID_ARG;
    if ((p->kind == SPAR_ATTN_QUERY_AWARE || p->kind == SPAR_ATTN_VERTICAL_SLASH) &&
        !(p->tau > 0.0f && p->tau <= 1.0f))
        return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    uint32_t t = a->seq_len, nb = (t + B - 1) / B;
    float scale = a->scale != 0.0f ? a->scale : 1.0f / sqrtf((float)a->d_head);
    uint8_t *bvalid = calloc(nb, 1);
    if (!bvalid) return SPAR_E_NOMEM;
    for (uint32_t j = 0; j < t; j++)
        bvalid[j / B] |= !a->key_valid || a->key_valid[j] != 0;
    spar_status st;
    switch (p->kind) {
    case SPAR_ATTN_DENSE:
        st = spar_attn_mask_full(t, out);
        break;
    case SPAR_ATTN_LOCAL_GLOBAL:
        st = select_local(p, nb, bvalid, out);
        break;
    case SPAR_ATTN_QUERY_AWARE:
        st = select_query_aware(p, a, nb, bvalid, scale, out);
        break;
    case SPAR_ATTN_VERTICAL_SLASH:
        st = select_vertical_slash(p, a, nb, bvalid, scale, out);
        break;
    default:
        st = SPAR_E_INVALID_ARG;
        break;
    }
    free(bvalid);
    return st;
}

spar_status spar_attn_forward(const spar_attn_policy *p, const spar_attn_args *a, float *o, size_t ld_o,
                              int *used_sparse, double *density) {
    if (!a) return SPAR_E_INVALID_ARG;
    uint32_t n_valid = 0;
    for (uint32_t j = 0; j < a->seq_len; j++)
        n_valid += !a->key_valid || a->key_valid[j];
    if (used_sparse) *used_sparse = 0;
    if (density) *density = 1.0;
    if (!p || p->kind == SPAR_ATTN_DENSE || n_valid < p->min_len) return spar_attn_dense(a, o, ld_o);
    spar_attn_mask m;
    SPAR_TRY(spar_attn_select(p, a, &m));
    spar_status st = spar_attn_block_sparse(a, &m, o, ld_o);
    if (st == SPAR_OK) {
        if (used_sparse) *used_sparse = 1;
        if (density) *density = spar_attn_mask_density(&m, a->n_heads);
    }
    spar_attn_mask_free(&m);
    return st;
}
