/* sparse_kernels.c — the hot loops of the exact block-max search, with an AVX-512 twin picked at run time:
 * scoring a run of documents from their forward rows (canonical sum: the products q_t * d_t of the
 * matching terms added one by one in ascending term order, so every kernel gives bit-identical scores)
 * and the dense-row bound accumulation (ub += c * row; bounds only need to be upper bounds within the
 * rounding slack, so there any float order is fine). tests/unit/test_sparse_kernels.c checks the twins
 * agree bit for bit. */
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "index/sparse/sparse_search_int.h"

/* Scalar: the products of the matching terms compacted branch-free, then added in order. */
void spar_sparse_score_docs_scalar(const spar_sparse_index *ix, const float *qd, uint32_t d0, uint32_t d1,
                                   float *out) {
    for (uint32_t d = d0; d < d1; d++) out[d - d0] = spar_sparse_score_doc(ix, qd, d);
}

void spar_sparse_acc_row_scalar(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) ub[i] += c * (float)row[i];
}

#if defined(__x86_64__) && defined(__GNUC__)
#define KAVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

/* 16 terms at a time: gather q over the ids, keep the lanes with q != 0, multiply (the same single
 * rounding as the scalar product), compress the products to the front of buf; then add buf in order.
 * Rows longer than SCORE_BUF terms are done in pieces (the sum is the same: adds in order). */
#define SCORE_BUF 256
KAVX512 static inline float score_row_avx512(const uint16_t *id, const float *wf, const uint8_t *wq, uint64_t n,
                                             const float *qd) {
    float sc = 0.0f;
    float buf[SCORE_BUF + 16];
    const __m512 zero = _mm512_setzero_ps();
    for (uint64_t i0 = 0; i0 < n; i0 += SCORE_BUF) {
        const uint64_t e = n - i0 < SCORE_BUF ? n : i0 + SCORE_BUF;
        uint32_t m = 0;
        for (uint64_t i = i0; i < e; i += 16) {
            const uint64_t left = e - i;
            const __mmask16 lm = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            const __m512i ix = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lm, id + i));
            const __m512 v = _mm512_mask_i32gather_ps(zero, lm, ix, qd, 4);
            const __mmask16 mk = _mm512_mask_cmp_ps_mask(lm, v, zero, _CMP_NEQ_UQ);
            __m512 w;
            if (wq) w = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lm, wq + i)));
            else w = _mm512_maskz_loadu_ps(lm, wf + i);
            _mm512_storeu_ps(buf + m, _mm512_maskz_compress_ps(mk, _mm512_mul_ps(v, w)));
            m += (uint32_t)__builtin_popcount((unsigned)mk);
        }
        for (uint32_t j = 0; j < m; j++) sc += buf[j];
    }
    return sc;
}

KAVX512 void spar_sparse_score_docs_avx512(const spar_sparse_index *ix, const float *qd, uint32_t d0, uint32_t d1,
                                           float *out) {
    const uint64_t *off = ix->f_off;
    for (uint32_t d = d0; d < d1; d++) {
        const uint64_t b = off[d], n = off[d + 1] - b;
        out[d - d0] = score_row_avx512(ix->f_ids + b, ix->quant ? NULL : ix->f_w + b, ix->quant ? ix->f_q + b : NULL,
                                       n, qd);
    }
}

KAVX512 void spar_sparse_acc_row_avx512(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n) {
    const __m512 cv = _mm512_set1_ps(c);
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 r = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(row + i))));
        _mm512_storeu_ps(ub + i, _mm512_fmadd_ps(cv, r, _mm512_loadu_ps(ub + i)));
    }
    for (; i < n; i++) ub[i] += c * (float)row[i];
}

int spar_sparse_have_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
#else
void spar_sparse_score_docs_avx512(const spar_sparse_index *ix, const float *qd, uint32_t d0, uint32_t d1,
                                   float *out) {
    spar_sparse_score_docs_scalar(ix, qd, d0, d1, out);
}
void spar_sparse_acc_row_avx512(float *restrict ub, const uint8_t *restrict row, float c, uint32_t n) {
    spar_sparse_acc_row_scalar(ub, row, c, n);
}
int spar_sparse_have_avx512(void) { return 0; }
#endif
