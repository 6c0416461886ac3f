/* dense.c — dense reference attention (OpenBLAS SGEMM + two-pass softmax over chunks of query rows), block
 * mask helpers, and the exact captured-mass metric used to judge block selections against dense. */
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

#define DENSE_CHUNK 128u /* query rows whose scores exist at once: 128 x T floats */

void spar_attn_mask_free(spar_attn_mask *m) {
    if (!m) return;
    free(m->row_ptr);
    free(m->col);
    memset(m, 0, sizeof *m);
}

spar_status spar_attn_mask_full(uint32_t seq_len, spar_attn_mask *out) {
    if (!out || seq_len == 0) return SPAR_E_INVALID_ARG;
    uint32_t nb = (seq_len + SPAR_ATTN_BLOCK - 1) / SPAR_ATTN_BLOCK;
    memset(out, 0, sizeof *out);
    out->row_ptr = spar_malloc_array((size_t)nb + 1, sizeof(uint32_t));
    out->col = spar_malloc_array((size_t)nb * nb, sizeof(uint32_t));
    if (!out->row_ptr || !out->col) {
        spar_attn_mask_free(out);
        return SPAR_E_NOMEM;
    }
    out->n_heads = 1;
    out->n_blocks = nb;
    for (uint32_t i = 0; i <= nb; i++)
        out->row_ptr[i] = i * nb;
    for (uint32_t i = 0; i < nb; i++)
        for (uint32_t j = 0; j < nb; j++)
            out->col[(size_t)i * nb + j] = j;
    return SPAR_OK;
}

static spar_status check_args(const spar_attn_args *a) {
    if (!a || !a->q || !a->k || !a->v || a->seq_len == 0 || a->n_heads == 0 || a->d_head == 0)
        return SPAR_E_INVALID_ARG;
    size_t w = (size_t)a->n_heads * a->d_head;
    if (a->ld_q < w || a->ld_k < w || a->ld_v < w) return SPAR_E_INVALID_ARG;
    return SPAR_OK;
}

spar_status spar_attn_mask_check(const spar_attn_mask *m, const spar_attn_args *a) {
    SPAR_TRY(check_args(a));
    uint32_t nb = (a->seq_len + SPAR_ATTN_BLOCK - 1) / SPAR_ATTN_BLOCK;
    if (!m || !m->row_ptr || m->n_blocks != nb || (m->n_heads != 1 && m->n_heads != a->n_heads))
        return SPAR_E_INVALID_ARG;
    size_t rows = (size_t)m->n_heads * nb;
    if (m->row_ptr[0] != 0) return SPAR_E_INVALID_ARG;
    for (size_t r = 0; r < rows; r++) {
        if (m->row_ptr[r + 1] < m->row_ptr[r]) return SPAR_E_INVALID_ARG;
        for (uint32_t p = m->row_ptr[r]; p < m->row_ptr[r + 1]; p++) {
            if (!m->col || m->col[p] >= nb) return SPAR_E_INVALID_ARG;
            if (p > m->row_ptr[r] && m->col[p] <= m->col[p - 1]) return SPAR_E_INVALID_ARG;
        }
    }
    return SPAR_OK;
}

double spar_attn_mask_density(const spar_attn_mask *m, uint32_t n_heads) {
    if (!m || m->n_blocks == 0) return 0.0;
    double kept = (double)m->row_ptr[(size_t)m->n_heads * m->n_blocks];
    if (m->n_heads == 1) kept *= n_heads;
    return kept / ((double)n_heads * m->n_blocks * m->n_blocks);
}

/* Softmax of one score row in place (scores already scaled; invalid keys hold -inf); a row with no valid key
 * becomes all zeros. */
__attribute__((target("avx2,fma"))) static void softmax_row_avx2(float *s, uint32_t n) {
    __m256 vm = _mm256_set1_ps(-INFINITY);
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8)
        vm = _mm256_max_ps(vm, _mm256_loadu_ps(s + j));
    float mx = attn_hmax256(vm);
    for (; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    if (mx == -INFINITY) {
        memset(s, 0, n * sizeof *s);
        return;
    }
    __m256 vmx = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = attn_exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vmx));
        _mm256_storeu_ps(s + j, e);
        vs = _mm256_add_ps(vs, e);
    }
    float sum = attn_hsum256(vs);
    for (; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (j = 0; j + 8 <= n; j += 8)
        _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), inv));
    for (; j < n; j++)
        s[j] /= sum;
}

static void softmax_row_scalar(float *s, uint32_t n) {
    float mx = -INFINITY;
    for (uint32_t j = 0; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    if (mx == -INFINITY) {
        memset(s, 0, n * sizeof *s);
        return;
    }
    float sum = 0.0f;
    for (uint32_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    for (uint32_t j = 0; j < n; j++)
        s[j] /= sum;
}

/* Probabilities P[rows x T] of query rows [r0, r0+rows) of head h (one SGEMM, then one softmax per row). */
static void softmax_chunk(const spar_attn_args *a, uint32_t h, uint32_t r0, uint32_t rows, float scale,
                          float *p, int use_avx2) {
    uint32_t t = a->seq_len, d = a->d_head;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)t, (int)d, scale,
                a->q + (size_t)r0 * a->ld_q + (size_t)h * d, (int)a->ld_q, a->k + (size_t)h * d, (int)a->ld_k,
                0.0f, p, (int)t);
    for (uint32_t r = 0; r < rows; r++) {
        float *row = p + (size_t)r * t;
        if (a->key_valid)
            for (uint32_t j = 0; j < t; j++)
                if (!a->key_valid[j]) row[j] = -INFINITY;
        if (a->window) { /* keys outside [i - window, i + window] */
            uint32_t i = r0 + r, lo = i > a->window ? i - a->window : 0;
            uint64_t hi = (uint64_t)i + a->window; /* last visible key */
            for (uint32_t j = 0; j < lo; j++)
                row[j] = -INFINITY;
            for (uint64_t j = hi + 1; j < t; j++)
                row[j] = -INFINITY;
        }
        if (use_avx2)
            softmax_row_avx2(row, t);
        else
            softmax_row_scalar(row, t);
    }
}

static int dense_avx2(void);

spar_status spar_attn_dense(const spar_attn_args *a, float *o, size_t ld_o) {
    SPAR_TRY(check_args(a));
    if (!o || ld_o < (size_t)a->n_heads * a->d_head) return SPAR_E_INVALID_ARG;
    uint32_t t = a->seq_len, d = a->d_head;
    float scale = a->scale != 0.0f ? a->scale : 1.0f / sqrtf((float)d);
    uint32_t chunk = SPAR_MIN(DENSE_CHUNK, t), n_chunks = (t + chunk - 1) / chunk;
    long n_items = (long)a->n_heads * n_chunks;
    int use_avx2 = dense_avx2(), failed = 0;
    int nt = a->n_threads;
#if defined(SPAR_HAVE_OPENMP)
    if (nt <= 0) nt = omp_get_max_threads();
#pragma omp parallel num_threads(nt) reduction(| : failed)
#else
    (void)nt;
#endif
    {
        float *p = spar_malloc_array((size_t)chunk * t, sizeof(float));
        if (!p) failed = 1;
#if defined(SPAR_HAVE_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
        for (long it = 0; it < n_items; it++) {
            if (!p) continue; /* every thread must reach the worksharing loop */
            uint32_t h = (uint32_t)(it / n_chunks), r0 = (uint32_t)(it % n_chunks) * chunk;
            uint32_t rows = SPAR_MIN(chunk, t - r0);
            softmax_chunk(a, h, r0, rows, scale, p, use_avx2);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d, (int)t, 1.0f, p, (int)t,
                        a->v + (size_t)h * d, (int)a->ld_v, 0.0f, o + (size_t)r0 * ld_o + (size_t)h * d,
                        (int)ld_o);
        }
        free(p);
    }
    return failed ? SPAR_E_NOMEM : SPAR_OK;
}

spar_status spar_attn_captured_mass(const spar_attn_args *a, const spar_attn_mask *m, uint32_t n_heads_eval,
                                    double *per_head, double *mean, double *min_head, double *min_row) {
    SPAR_TRY(spar_attn_mask_check(m, a));
    if (n_heads_eval == 0 || n_heads_eval > a->n_heads) return SPAR_E_INVALID_ARG;
    uint32_t t = a->seq_len, nb = m->n_blocks;
    float scale = a->scale != 0.0f ? a->scale : 1.0f / sqrtf((float)a->d_head);
    uint32_t chunk = SPAR_MIN(DENSE_CHUNK, t);
    float *p = spar_malloc_array((size_t)chunk * t, sizeof(float));
    if (!p) return SPAR_E_NOMEM;
    int use_avx2 = dense_avx2();
    int any_valid = 1;
    if (a->key_valid) {
        any_valid = 0;
        for (uint32_t j = 0; j < t; j++)
            any_valid |= a->key_valid[j] != 0;
    }
    double sum_heads = 0.0, mn_head = INFINITY, mn_row = INFINITY;
    for (uint32_t h = 0; h < n_heads_eval; h++) {
        const uint32_t *rp = m->row_ptr + (size_t)(m->n_heads == 1 ? 0 : h) * nb;
        double hsum = 0.0;
        for (uint32_t r0 = 0; r0 < t; r0 += chunk) {
            uint32_t rows = SPAR_MIN(chunk, t - r0);
            softmax_chunk(a, h, r0, rows, scale, p, use_avx2);
            for (uint32_t r = 0; r < rows; r++) {
                uint32_t qb = (r0 + r) / SPAR_ATTN_BLOCK;
                const float *row = p + (size_t)r * t;
                double s = 0.0;
                for (uint32_t q = rp[qb]; q < rp[qb + 1]; q++) {
                    uint32_t j0 = m->col[q] * SPAR_ATTN_BLOCK, j1 = SPAR_MIN(j0 + SPAR_ATTN_BLOCK, t);
                    for (uint32_t j = j0; j < j1; j++)
                        s += row[j];
                }
                if (!any_valid) s = 1.0; /* nothing to capture */
                hsum += s;
                if (s < mn_row) mn_row = s;
            }
        }
        hsum /= t;
        if (per_head) per_head[h] = hsum;
        sum_heads += hsum;
        if (hsum < mn_head) mn_head = hsum;
    }
    free(p);
    if (mean) *mean = sum_heads / n_heads_eval;
    if (min_head) *min_head = mn_head;
    if (min_row) *min_row = mn_row;
    return SPAR_OK;
}

static int dense_avx2(void) {
    return attn_cpu_has_avx2_fma();
}
