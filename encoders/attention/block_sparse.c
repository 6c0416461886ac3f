/* block_sparse.c — block-sparse attention with an online softmax. Work item = (head, query block of 64 rows);
 * items run in parallel under OpenMP (dynamic schedule: rows have different lengths). Per item the query
 * block is copied pre-scaled into scratch; K and V are packed once per call into contiguous 16 KB tiles per
 * (head, key block) — K transposed to [d][64] so the score tile S = Q_i K_j^T is a broadcast-FMA loop over
 * contiguous key columns, V as [64][d] — which keeps every tile in L1/L2 without cache-set conflicts from
 * large strides; masked keys (padding and the tail of a short last block) get -inf through an additive bias
 * row, and keys outside a token-level sliding window (args.window) get -inf inside boundary tiles, while
 * tiles wholly outside it are skipped. The AVX2+FMA inner loops (target attribute, picked at run time) have scalar twins with the same loop
 * structure. */
#include "encoders/attention/attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(SPAR_HAVE_OPENMP)
#include <omp.h>
#endif

#include "common/common.h"
#include "encoders/attention/attn_simd.h"

#define B SPAR_ATTN_BLOCK

static int g_force_scalar;

void spar_attn_force_scalar(int on) {
    g_force_scalar = on;
}

typedef struct scratch {
    float *qs;    /* [B x d] scaled query block */
    float *s;     /* [B x B] scores / probabilities */
    float *acc;   /* [B x d] output accumulator */
    float *m, *l; /* [B] running max and sum */
} scratch;

/* ---- scalar twins ------------------------------------------------------------------------------------- */

/* S[r][c] = sum_k qs[r][k] * kt[k][c] + bias[c], for r < nq and all B columns. */
static void scores_scalar(const float *qs, uint32_t nq, const float *kt, size_t ldkt, uint32_t d,
                          const float *bias, float *s) {
    for (uint32_t r = 0; r < nq; r++) {
        float row[B];
        for (uint32_t c = 0; c < B; c++)
            row[c] = 0.0f;
        for (uint32_t k = 0; k < d; k++) {
            float qv = qs[(size_t)r * d + k];
            const float *kr = kt + (size_t)k * ldkt;
            for (uint32_t c = 0; c < B; c++)
                row[c] += qv * kr[c];
        }
        for (uint32_t c = 0; c < B; c++)
            s[(size_t)r * B + c] = row[c] + bias[c];
    }
}

/* Online-softmax update of rows r < nq: turns S into P in place, updates m, l and rescales acc.
 * Returns nothing; rows whose running max stays -inf keep P = 0. */
static void softmax_update_scalar(float *s, uint32_t nq, float *m, float *l, float *acc, uint32_t d) {
    for (uint32_t r = 0; r < nq; r++) {
        float *row = s + (size_t)r * B;
        float mx = -INFINITY;
        for (uint32_t c = 0; c < B; c++)
            mx = row[c] > mx ? row[c] : mx;
        float m_new = mx > m[r] ? mx : m[r];
        if (m_new == -INFINITY) {
            memset(row, 0, B * sizeof *row);
            continue;
        }
        float alpha = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
        float sum = 0.0f;
        for (uint32_t c = 0; c < B; c++) {
            row[c] = row[c] == -INFINITY ? 0.0f : expf(row[c] - m_new);
            sum += row[c];
        }
        l[r] = l[r] * alpha + sum;
        m[r] = m_new;
        if (alpha != 1.0f)
            for (uint32_t k = 0; k < d; k++)
                acc[(size_t)r * d + k] *= alpha;
    }
}

/* acc[r][:] += sum_c P[r][c] * V[c][:] for c < nk. */
static void pv_scalar(const float *p, uint32_t nq, const float *v, size_t ldv, uint32_t nk, uint32_t d,
                      float *acc) {
    for (uint32_t r = 0; r < nq; r++) {
        float *o = acc + (size_t)r * d;
        for (uint32_t c = 0; c < nk; c++) {
            float pv = p[(size_t)r * B + c];
            const float *vr = v + (size_t)c * ldv;
            for (uint32_t k = 0; k < d; k++)
                o[k] += pv * vr[k];
        }
    }
}

/* ---- AVX2 + FMA ---------------------------------------------------------------------------------------- */

/* Register blocking R rows x 16 columns (R <= 6: 12 accumulators + 2 tile registers + 1 broadcast of the 16
 * ymm registers), so the FMA pipes have enough independent chains; R is a compile-time constant after
 * inlining. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
scores_rows(const float *qs, uint32_t R, const float *kt, size_t ldkt, uint32_t d, const float *bias,
            float *s) {
    for (uint32_t c0 = 0; c0 < B; c0 += 16) {
        __m256 acc[6][2];
        for (uint32_t r = 0; r < R; r++)
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        for (uint32_t k = 0; k < d; k++) {
            const float *kr = kt + (size_t)k * ldkt + c0;
            __m256 k0 = _mm256_loadu_ps(kr), k1 = _mm256_loadu_ps(kr + 8);
            for (uint32_t r = 0; r < R; r++) {
                __m256 x = _mm256_broadcast_ss(qs + (size_t)r * d + k);
                acc[r][0] = _mm256_fmadd_ps(x, k0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(x, k1, acc[r][1]);
            }
        }
        __m256 b0 = _mm256_loadu_ps(bias + c0), b1 = _mm256_loadu_ps(bias + c0 + 8);
        for (uint32_t r = 0; r < R; r++) {
            _mm256_storeu_ps(s + (size_t)r * B + c0, _mm256_add_ps(acc[r][0], b0));
            _mm256_storeu_ps(s + (size_t)r * B + c0 + 8, _mm256_add_ps(acc[r][1], b1));
        }
    }
}

__attribute__((target("avx2,fma"))) static void scores_avx2(const float *qs, uint32_t nq, const float *kt,
                                                            size_t ldkt, uint32_t d, const float *bias,
                                                            float *s) {
    uint32_t r = 0;
    for (; r + 6 <= nq; r += 6)
        scores_rows(qs + (size_t)r * d, 6, kt, ldkt, d, bias, s + (size_t)r * B);
    switch (nq - r) {
    case 5:
        scores_rows(qs + (size_t)r * d, 5, kt, ldkt, d, bias, s + (size_t)r * B);
        break;
    case 4:
        scores_rows(qs + (size_t)r * d, 4, kt, ldkt, d, bias, s + (size_t)r * B);
        break;
    case 3:
        scores_rows(qs + (size_t)r * d, 3, kt, ldkt, d, bias, s + (size_t)r * B);
        break;
    case 2:
        scores_rows(qs + (size_t)r * d, 2, kt, ldkt, d, bias, s + (size_t)r * B);
        break;
    case 1:
        scores_rows(qs + (size_t)r * d, 1, kt, ldkt, d, bias, s + (size_t)r * B);
        break;
    default:
        break;
    }
}

__attribute__((target("avx2,fma"))) static void softmax_update_avx2(float *s, uint32_t nq, float *m, float *l,
                                                                    float *acc, uint32_t d) {
    for (uint32_t r = 0; r < nq; r++) {
        float *row = s + (size_t)r * B;
        __m256 vm = _mm256_loadu_ps(row);
        for (uint32_t c = 8; c < B; c += 8)
            vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + c));
        float mx = attn_hmax256(vm);
        float m_new = mx > m[r] ? mx : m[r];
        if (m_new == -INFINITY) {
            memset(row, 0, B * sizeof *row);
            continue;
        }
        float alpha = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
        __m256 vmn = _mm256_set1_ps(m_new), vs = _mm256_setzero_ps();
        for (uint32_t c = 0; c < B; c += 8) {
            __m256 e = attn_exp256(_mm256_sub_ps(_mm256_loadu_ps(row + c), vmn));
            _mm256_storeu_ps(row + c, e);
            vs = _mm256_add_ps(vs, e);
        }
        l[r] = l[r] * alpha + attn_hsum256(vs);
        m[r] = m_new;
        if (alpha != 1.0f) {
            __m256 va = _mm256_set1_ps(alpha);
            float *o = acc + (size_t)r * d;
            for (uint32_t k = 0; k < d; k += 8)
                _mm256_storeu_ps(o + k, _mm256_mul_ps(_mm256_loadu_ps(o + k), va));
        }
    }
}

/* acc[R rows][16 columns] += P[R][nk] V[nk][16], same register blocking as scores_rows; d % 16 == 0 */
__attribute__((target("avx2,fma"), always_inline)) static inline void
pv_rows(const float *p, uint32_t R, const float *v, size_t ldv, uint32_t nk, uint32_t d, float *acc) {
    for (uint32_t k0 = 0; k0 < d; k0 += 16) {
        __m256 a[6][2];
        for (uint32_t r = 0; r < R; r++) {
            a[r][0] = _mm256_loadu_ps(acc + (size_t)r * d + k0);
            a[r][1] = _mm256_loadu_ps(acc + (size_t)r * d + k0 + 8);
        }
        for (uint32_t c = 0; c < nk; c++) {
            const float *vr = v + (size_t)c * ldv + k0;
            __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8);
            for (uint32_t r = 0; r < R; r++) {
                __m256 x = _mm256_broadcast_ss(p + (size_t)r * B + c);
                a[r][0] = _mm256_fmadd_ps(x, v0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(x, v1, a[r][1]);
            }
        }
        for (uint32_t r = 0; r < R; r++) {
            _mm256_storeu_ps(acc + (size_t)r * d + k0, a[r][0]);
            _mm256_storeu_ps(acc + (size_t)r * d + k0 + 8, a[r][1]);
        }
    }
}

/* d % 16 == 0 */
__attribute__((target("avx2,fma"))) static void pv_avx2(const float *p, uint32_t nq, const float *v,
                                                        size_t ldv, uint32_t nk, uint32_t d, float *acc) {
    uint32_t r = 0;
    for (; r + 6 <= nq; r += 6)
        pv_rows(p + (size_t)r * B, 6, v, ldv, nk, d, acc + (size_t)r * d);
    switch (nq - r) {
    case 5:
        pv_rows(p + (size_t)r * B, 5, v, ldv, nk, d, acc + (size_t)r * d);
        break;
    case 4:
        pv_rows(p + (size_t)r * B, 4, v, ldv, nk, d, acc + (size_t)r * d);
        break;
    case 3:
        pv_rows(p + (size_t)r * B, 3, v, ldv, nk, d, acc + (size_t)r * d);
        break;
    case 2:
        pv_rows(p + (size_t)r * B, 2, v, ldv, nk, d, acc + (size_t)r * d);
        break;
    case 1:
        pv_rows(p + (size_t)r * B, 1, v, ldv, nk, d, acc + (size_t)r * d);
        break;
    default:
        break;
    }
}

/* ---- driver -------------------------------------------------------------------------------------------- */

/* Token-level sliding window inside one score tile: S[r][c] = -inf where |(r0 + r) - (j0 + c)| > window. */
static void window_mask(float *s, uint32_t nq, uint32_t r0, uint32_t j0, uint32_t window) {
    for (uint32_t r = 0; r < nq; r++) {
        int64_t i = (int64_t)r0 + r;
        for (uint32_t c = 0; c < B; c++) {
            int64_t dist = (int64_t)j0 + c - i;
            if (dist > (int64_t)window || -dist > (int64_t)window) s[(size_t)r * B + c] = -INFINITY;
        }
    }
}

static void run_item(const spar_attn_args *a, const spar_attn_mask *mk, const float *kt, const float *vp,
                     const float *bias, float scale, uint32_t h, uint32_t qb, int simd, scratch *sc, float *o,
                     size_t ld_o) {
    uint32_t t = a->seq_len, d = a->d_head, nb = mk->n_blocks;
    uint32_t r0 = qb * B, nq = SPAR_MIN(B, t - r0);
    for (uint32_t r = 0; r < nq; r++) {
        const float *qr = a->q + (size_t)(r0 + r) * a->ld_q + (size_t)h * d;
        for (uint32_t k = 0; k < d; k++)
            sc->qs[(size_t)r * d + k] = qr[k] * scale;
        sc->m[r] = -INFINITY;
        sc->l[r] = 0.0f;
    }
    memset(sc->acc, 0, (size_t)nq * d * sizeof(float));
    size_t tile = (size_t)B * d, hb = (size_t)h * nb;
    size_t row = (size_t)(mk->n_heads == 1 ? 0 : h) * nb + qb;
    for (uint32_t p = mk->row_ptr[row]; p < mk->row_ptr[row + 1]; p++) {
        uint32_t kb = mk->col[p], j0 = kb * B, nk = SPAR_MIN(B, t - j0);
        const float *kb_t = kt + (hb + kb) * tile, *vb = vp + (hb + kb) * tile;
        int partial = 0; /* block straddles the token window: mask inside it after the scores */
        if (a->window) {
            uint32_t near = j0 > r0 + nq - 1 ? j0 - (r0 + nq - 1) : (r0 > j0 + nk - 1 ? r0 - (j0 + nk - 1) : 0);
            uint32_t far = SPAR_MAX(j0 + nk - 1 > r0 ? j0 + nk - 1 - r0 : r0 - (j0 + nk - 1),
                                    r0 + nq - 1 > j0 ? r0 + nq - 1 - j0 : j0 - (r0 + nq - 1));
            if (near > a->window) continue; /* wholly outside the window */
            partial = far > a->window;
        }
        if (simd)
            scores_avx2(sc->qs, nq, kb_t, B, d, bias + j0, sc->s);
        else
            scores_scalar(sc->qs, nq, kb_t, B, d, bias + j0, sc->s);
        if (partial)
            window_mask(sc->s, nq, r0, j0, a->window);
        if (simd) {
            softmax_update_avx2(sc->s, nq, sc->m, sc->l, sc->acc, d);
            pv_avx2(sc->s, nq, vb, d, nk, d, sc->acc);
        } else {
            softmax_update_scalar(sc->s, nq, sc->m, sc->l, sc->acc, d);
            pv_scalar(sc->s, nq, vb, d, nk, d, sc->acc);
        }
    }
    for (uint32_t r = 0; r < nq; r++) {
        float *orow = o + (size_t)(r0 + r) * ld_o + (size_t)h * d;
        float inv = sc->l[r] > 0.0f ? 1.0f / sc->l[r] : 0.0f;
        for (uint32_t k = 0; k < d; k++)
            orow[k] = sc->acc[(size_t)r * d + k] * inv;
    }
}

spar_status spar_attn_block_sparse(const spar_attn_args *a, const spar_attn_mask *mk, float *o, size_t ld_o) {
    SPAR_TRY(spar_attn_mask_check(mk, a));
    if (!o || ld_o < (size_t)a->n_heads * a->d_head) return SPAR_E_INVALID_ARG;
    uint32_t t = a->seq_len, d = a->d_head, nb = mk->n_blocks, nh = a->n_heads;
    size_t t_pad = (size_t)nb * B;
    float scale = a->scale != 0.0f ? a->scale : 1.0f / sqrtf((float)d);
    int simd = !g_force_scalar && d % 16 == 0 && attn_cpu_has_avx2_fma();
    /* packed tiles, contiguous per (head, key block): Kt[d][B] (keys transposed) and V[B][d], zero padded */
    float *kt = spar_malloc_array((size_t)nh * d, t_pad * sizeof(float));
    float *vp = spar_malloc_array((size_t)nh * d, t_pad * sizeof(float));
    float *bias = spar_malloc_array(t_pad, sizeof(float));
    if (!kt || !vp || !bias) {
        free(kt);
        free(vp);
        free(bias);
        return SPAR_E_NOMEM;
    }
    for (size_t j = 0; j < t_pad; j++)
        bias[j] = (j < t && (!a->key_valid || a->key_valid[j])) ? 0.0f : -INFINITY;
    int nt = a->n_threads;
    long n_tiles = (long)nh * nb;
#if defined(SPAR_HAVE_OPENMP)
    if (nt <= 0) nt = omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(nt)
#else
    (void)nt;
#endif
    for (long it = 0; it < n_tiles; it++) {
        uint32_t h = (uint32_t)(it / nb), j0 = (uint32_t)(it % nb) * B;
        float *ktt = kt + (size_t)it * B * d, *vpt = vp + (size_t)it * B * d;
        for (uint32_t c = 0; c < B; c++) {
            const float *kr = a->k + (size_t)(j0 + c) * a->ld_k + (size_t)h * d;
            const float *vr = a->v + (size_t)(j0 + c) * a->ld_v + (size_t)h * d;
            int in = j0 + c < t;
            for (uint32_t k = 0; k < d; k++) {
                ktt[(size_t)k * B + c] = in ? kr[k] : 0.0f;
                vpt[(size_t)c * d + k] = in ? vr[k] : 0.0f;
            }
        }
    }
    int failed = 0;
    long n_items = (long)nh * nb;
#if defined(SPAR_HAVE_OPENMP)
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        scratch sc = {0};
        float *mem = spar_malloc_array((size_t)2 * B * d + (size_t)B * B + 2 * B, sizeof(float));
        if (!mem) failed = 1;
        if (mem) {
            sc.qs = mem;
            sc.acc = mem + (size_t)B * d;
            sc.s = sc.acc + (size_t)B * d;
            sc.m = sc.s + (size_t)B * B;
            sc.l = sc.m + B;
        }
#if defined(SPAR_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
        for (long it = 0; it < n_items; it++)
            if (mem) /* every thread must reach the worksharing loop, even one whose scratch failed */
                run_item(a, mk, kt, vp, bias, scale, (uint32_t)(it / nb), (uint32_t)(it % nb), simd, &sc, o,
                         ld_o);
        free(mem);
    }
    free(kt);
    free(vp);
    free(bias);
    return failed ? SPAR_E_NOMEM : SPAR_OK;
}
