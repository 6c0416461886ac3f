/* gemm_lowp.c — bf16 (AVX-512 BF16 vdpbf16ps) and int8 (AVX-512 VNNI vpdpbusd) GEMM with weights packed once,
 * activations converted / quantised per call, and portable scalar twins of every kernel with the same
 * semantics. The SIMD functions carry target attributes and are chosen at run time, so this file builds and
 * runs on any CPU. Micro-kernel: 6 rows x 4 strips (64 outputs) held in 24 zmm accumulators over the whole K;
 * tiles of up to 96 rows x 256 outputs are spread over the threads of encoders/kernels/pool.h. Contract: encoders/kernels/gemm_lowp.h. */
#include "encoders/kernels/gemm_lowp.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/kernels/pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LOWP_X86 1
#include <immintrin.h>
#endif

#define STRIP SPAR_LOWP_STRIP
#define MR 6        /* rows per micro-kernel */
#define NS 4        /* strips per micro-kernel */
#define TILE_M 96   /* rows per parallel tile (a multiple of MR) */
#define TILE_N 256  /* outputs per parallel tile (a multiple of NS * STRIP) */

/* ------------------------------------------------------------------ dispatch */

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static int cpu_bf16, cpu_vnni;
static int force_scalar;

static void cpu_detect(void) {
#ifdef LOWP_X86
    __builtin_cpu_init();
    int base = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
    cpu_bf16 = base && __builtin_cpu_supports("avx512bf16");
    cpu_vnni = base && __builtin_cpu_supports("avx512vnni");
#endif
}

int spar_lowp_simd(spar_lowp_kind kind) {
    pthread_once(&cpu_once, cpu_detect);
    if (force_scalar) return 0;
    return kind == SPAR_LOWP_BF16 ? cpu_bf16 : cpu_vnni;
}

void spar_lowp_force_scalar(int on) { force_scalar = on != 0; }

/* ------------------------------------------------------------------ conversions */

uint16_t spar_lowp_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN stays NaN (quiet) */
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;                               /* denormal -> signed zero */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Round to nearest even for |y| < 2^22 without libm (and the same in every compiler mode): adding and
 * subtracting 1.5 * 2^23 leaves the integer part, rounded by the FPU's default mode. */
static inline float round_even(float y) {
    const float magic = 12582912.0f; /* exact unless -ffast-math's reassociation, which spar never uses */
    return (y + magic) - magic;
}

/* ------------------------------------------------------------------ packing */

static size_t step_of(spar_lowp_kind kind) { return kind == SPAR_LOWP_BF16 ? 2 : 4; }

spar_status spar_lowp_pack(spar_lowp_kind kind, const float *W, size_t n, size_t k, size_t ldw, spar_lowp_mat *out) {
    if (out == NULL) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (W == NULL || n == 0 || k == 0 || ldw < k || (kind != SPAR_LOWP_BF16 && kind != SPAR_LOWP_INT8))
        return SPAR_E_INVALID_ARG;
    size_t st = step_of(kind), kp = (k + st - 1) / st * st, ns = (n + STRIP - 1) / STRIP;
    size_t esz = kind == SPAR_LOWP_BF16 ? 2 : 1;
    out->kind = kind;
    out->n = n;
    out->k = k;
    out->kp = kp;
    out->n_strips = ns;
    out->data = spar_malloc_array(ns * STRIP, kp * esz);
    if (out->data == NULL) goto oom;
    if (kind == SPAR_LOWP_BF16) {
        uint16_t *d = out->data;
        for (size_t s = 0; s < ns; s++)
            for (size_t p = 0; p < kp / 2; p++)
                for (size_t l = 0; l < STRIP; l++)
                    for (size_t e = 0; e < 2; e++) {
                        size_t r = s * STRIP + l, c = 2 * p + e;
                        *d++ = (r < n && c < k) ? spar_lowp_f32_to_bf16(W[r * ldw + c]) : 0;
                    }
        return SPAR_OK;
    }
    out->scale = spar_malloc_array(ns * STRIP, sizeof(float));
    out->wsum = spar_malloc_array(ns * STRIP, sizeof(int32_t));
    if (out->scale == NULL || out->wsum == NULL) goto oom;
    int8_t *d = out->data;
    for (size_t s = 0; s < ns; s++) {
        int8_t rows[STRIP][4];
        for (size_t l = 0; l < STRIP; l++) {
            size_t r = s * STRIP + l;
            float amax = 0;
            if (r < n)
                for (size_t c = 0; c < k; c++) amax = fmaxf(amax, fabsf(W[r * ldw + c]));
            out->scale[r] = amax / 127.0f;
            out->wsum[r] = 0;
        }
        for (size_t p = 0; p < kp / 4; p++) {
            for (size_t l = 0; l < STRIP; l++) {
                size_t r = s * STRIP + l;
                float sc = out->scale[r];
                for (size_t e = 0; e < 4; e++) {
                    size_t c = 4 * p + e;
                    int v = 0;
                    if (r < n && c < k && sc > 0) {
                        float y = round_even(W[r * ldw + c] / sc);
                        v = (int)SPAR_MAX(-127.0f, SPAR_MIN(127.0f, y));
                    }
                    rows[l][e] = (int8_t)v;
                    out->wsum[r] += v;
                }
            }
            memcpy(d, rows, sizeof rows);
            d += sizeof rows;
        }
    }
    return SPAR_OK;
oom:
    spar_lowp_mat_free(out);
    return SPAR_E_NOMEM;
}

void spar_lowp_mat_free(spar_lowp_mat *w) {
    if (w == NULL) return;
    free(w->data);
    free(w->scale);
    free(w->wsum);
    memset(w, 0, sizeof *w);
}

size_t spar_lowp_mat_bytes(const spar_lowp_mat *w) {
    if (w == NULL || w->data == NULL) return 0;
    size_t rows = w->n_strips * STRIP;
    return rows * w->kp * (w->kind == SPAR_LOWP_BF16 ? 2 : 1) + (w->scale != NULL ? rows * 8 : 0);
}

void spar_lowp_mat_row(const spar_lowp_mat *w, size_t r, float *out) {
    size_t s = r / STRIP, l = r % STRIP;
    if (w->kind == SPAR_LOWP_BF16) {
        const uint16_t *base = (const uint16_t *)w->data + s * (w->kp / 2) * STRIP * 2;
        for (size_t c = 0; c < w->k; c++) out[c] = bf16_to_f32(base[(c / 2) * STRIP * 2 + l * 2 + c % 2]);
    } else {
        const int8_t *base = (const int8_t *)w->data + s * (w->kp / 4) * STRIP * 4;
        float sc = w->scale[r];
        for (size_t c = 0; c < w->k; c++) out[c] = (float)base[(c / 4) * STRIP * 4 + l * 4 + c % 4] * sc;
    }
}

/* ------------------------------------------------------------------ activations */

/* Per-row asymmetric u8 parameters from the row's range (0 always representable). */
static void quant_params(float lo, float hi, float *scale, float *inv, int32_t *zp) {
    lo = fminf(lo, 0.0f);
    hi = fmaxf(hi, 0.0f);
    float s = (hi - lo) / 255.0f;
    if (!(s > 0)) s = 1.0f; /* an all-zero row */
    float z = round_even(-lo / s);
    *scale = s;
    *inv = 1.0f / s;
    *zp = (int32_t)SPAR_MAX(0.0f, SPAR_MIN(255.0f, z));
}

static void prep_row_scalar(spar_lowp_kind kind, const float *x, size_t k, size_t kp, void *dst, float *scale,
                            int32_t *zp) {
    if (kind == SPAR_LOWP_BF16) {
        uint16_t *d = dst;
        for (size_t c = 0; c < k; c++) d[c] = spar_lowp_f32_to_bf16(x[c]);
        for (size_t c = k; c < kp; c++) d[c] = 0;
        return;
    }
    float lo = x[0], hi = x[0], inv;
    for (size_t c = 1; c < k; c++) {
        lo = fminf(lo, x[c]);
        hi = fmaxf(hi, x[c]);
    }
    quant_params(lo, hi, scale, &inv, zp);
    uint8_t *d = dst;
    float z = (float)*zp;
    for (size_t c = 0; c < k; c++) {
        float y = round_even(x[c] * inv) + z;
        d[c] = (uint8_t)SPAR_MAX(0.0f, SPAR_MIN(255.0f, y));
    }
    for (size_t c = k; c < kp; c++) d[c] = (uint8_t)*zp; /* padded weights are 0: any value is neutral */
}

#ifdef LOWP_X86
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void prep_row_bf16_avx512(const float *x, size_t k,
                                                                                               size_t kp, uint16_t *d) {
    size_t c = 0;
    for (; c + 16 <= k; c += 16)
        _mm256_storeu_si256((__m256i *)(d + c), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + c)));
    for (; c < k; c++) d[c] = spar_lowp_f32_to_bf16(x[c]);
    for (; c < kp; c++) d[c] = 0;
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) static void prep_row_u8_avx512(const float *x, size_t k, size_t kp,
                                                                                   uint8_t *d, float *scale, int32_t *zp) {
    size_t c = 0;
    __m512 vlo = _mm512_set1_ps(x[0]), vhi = vlo;
    for (; c + 16 <= k; c += 16) {
        __m512 v = _mm512_loadu_ps(x + c);
        vlo = _mm512_min_ps(vlo, v);
        vhi = _mm512_max_ps(vhi, v);
    }
    float lo = _mm512_reduce_min_ps(vlo), hi = _mm512_reduce_max_ps(vhi), inv;
    for (; c < k; c++) {
        lo = fminf(lo, x[c]);
        hi = fmaxf(hi, x[c]);
    }
    quant_params(lo, hi, scale, &inv, zp);
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i vz = _mm512_set1_epi32(*zp), v0 = _mm512_setzero_si512(), v255 = _mm512_set1_epi32(255);
    float z = (float)*zp;
    for (c = 0; c + 16 <= k; c += 16) {
        __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + c), vinv)); /* round to nearest even */
        q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, vz), v0), v255);
        _mm_storeu_si128((__m128i *)(d + c), _mm512_cvtepi32_epi8(q));
    }
    for (; c < k; c++) {
        float y = round_even(x[c] * inv) + z;
        d[c] = (uint8_t)SPAR_MAX(0.0f, SPAR_MIN(255.0f, y));
    }
    for (; c < kp; c++) d[c] = (uint8_t)*zp;
}
#endif

typedef struct prep_job {
    const spar_lowp_mat *w;
    const float *A;
    size_t lda;
    spar_lowp_act *out;
    int simd;
    size_t rows; /* per task */
} prep_job;

static void prep_task(void *ctx, size_t task, int tid) {
    const prep_job *j = ctx;
    spar_lowp_act *out = j->out;
    size_t k = j->w->k, kp = j->w->kp, i1 = SPAR_MIN(out->m, (task + 1) * j->rows);
    (void)tid;
    for (size_t i = task * j->rows; i < i1; i++) {
        const float *x = j->A + i * j->lda;
        if (out->kind == SPAR_LOWP_BF16) {
            uint16_t *d = (uint16_t *)out->q + i * kp;
#ifdef LOWP_X86
            if (j->simd) {
                prep_row_bf16_avx512(x, k, kp, d);
                continue;
            }
#endif
            prep_row_scalar(out->kind, x, k, kp, d, NULL, NULL);
        } else {
            uint8_t *d = (uint8_t *)out->q + i * kp;
#ifdef LOWP_X86
            if (j->simd) {
                prep_row_u8_avx512(x, k, kp, d, &out->scale[i], &out->zp[i]);
                continue;
            }
#endif
            prep_row_scalar(out->kind, x, k, kp, d, &out->scale[i], &out->zp[i]);
        }
    }
}

spar_status spar_lowp_act_prepare(const spar_lowp_mat *w, const float *A, size_t m, size_t lda, int n_threads,
                                  spar_lowp_act *out) {
    memset(out, 0, sizeof *out);
    if (w == NULL || A == NULL || m == 0 || lda < w->k) return SPAR_E_INVALID_ARG;
    size_t esz = w->kind == SPAR_LOWP_BF16 ? 2 : 1, kp = w->kp;
    out->kind = w->kind;
    out->m = m;
    out->kp = kp;
    out->q = spar_malloc_array(m, kp * esz);
    if (w->kind == SPAR_LOWP_INT8) {
        out->scale = spar_malloc_array(m, sizeof(float));
        out->zp = spar_malloc_array(m, sizeof(int32_t));
    }
    if (out->q == NULL || (w->kind == SPAR_LOWP_INT8 && (out->scale == NULL || out->zp == NULL))) {
        spar_lowp_act_free(out);
        return SPAR_E_NOMEM;
    }
    prep_job job = {w, A, lda, out, spar_lowp_simd(w->kind), 64};
    spar_pool_run((m + job.rows - 1) / job.rows, m >= 128 ? n_threads : 1, prep_task, &job);
    return SPAR_OK;
}

void spar_lowp_act_free(spar_lowp_act *a) {
    if (a == NULL) return;
    free(a->q);
    free(a->scale);
    free(a->zp);
    memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------ scalar twins */

/* Output of strip s, row i: acc[16] -> C with bias, first `nv` columns. */
static void store_f32(const float *acc, size_t nv, const float *bias, float *c) {
    for (size_t l = 0; l < nv; l++) c[l] = bias != NULL ? acc[l] + bias[l] : acc[l];
}

static void tile_bf16_scalar(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0, size_t n1,
                             const float *bias, float *C, size_t ldc) {
    size_t np = w->kp / 2;
    for (size_t s = n0 / STRIP; s * STRIP < n1; s++) {
        const uint16_t *b = (const uint16_t *)w->data + s * np * STRIP * 2;
        size_t nv = SPAR_MIN((size_t)STRIP, n1 - s * STRIP);
        for (size_t i = m0; i < m1; i++) {
            const uint16_t *x = (const uint16_t *)a->q + i * a->kp;
            float acc[STRIP] = {0};
            for (size_t p = 0; p < np; p++) {
                float a0 = bf16_to_f32(x[2 * p]), a1 = bf16_to_f32(x[2 * p + 1]);
                /* Each (even, odd) pair read as one 32-bit word: the odd element is its high half, the even one
                 * its low half. (GCC 12.2 -O3 vectorised the plain 16-bit interleaved form into wrong code.) */
                uint32_t pr[STRIP];
                float w0[STRIP], w1[STRIP];
                memcpy(pr, b + p * STRIP * 2, sizeof pr);
                for (size_t l = 0; l < STRIP; l++) {
                    uint32_t lo = pr[l] << 16, hi = pr[l] & 0xffff0000u;
                    memcpy(&w0[l], &lo, 4);
                    memcpy(&w1[l], &hi, 4);
                }
                /* vdpbf16ps order: the odd element of the pair first; each bf16 product is exact in fp32 */
                for (size_t l = 0; l < STRIP; l++) acc[l] = (acc[l] + a1 * w1[l]) + a0 * w0[l];
            }
            store_f32(acc, nv, bias != NULL ? bias + s * STRIP : NULL, C + (i - m0) * ldc + (s * STRIP - n0));
        }
    }
}

static void tile_i8_acc_scalar(const spar_lowp_mat *w, const spar_lowp_act *a, size_t i, size_t s, int32_t *acc) {
    size_t nq = w->kp / 4;
    const int8_t *b = (const int8_t *)w->data + s * nq * STRIP * 4;
    const uint8_t *x = (const uint8_t *)a->q + i * a->kp;
    for (size_t l = 0; l < STRIP; l++) acc[l] = 0;
    for (size_t p = 0; p < nq; p++) {
        const int8_t *bp = b + p * STRIP * 4;
        const uint8_t *xp = x + 4 * p;
        for (size_t l = 0; l < STRIP; l++)
            acc[l] += (int32_t)xp[0] * bp[4 * l] + (int32_t)xp[1] * bp[4 * l + 1] + (int32_t)xp[2] * bp[4 * l + 2] +
                      (int32_t)xp[3] * bp[4 * l + 3];
    }
    for (size_t l = 0; l < STRIP; l++) acc[l] -= a->zp[i] * w->wsum[s * STRIP + l];
}

static void tile_int8_scalar(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0, size_t n1,
                             const float *bias, float *C, size_t ldc) {
    for (size_t s = n0 / STRIP; s * STRIP < n1; s++) {
        size_t nv = SPAR_MIN((size_t)STRIP, n1 - s * STRIP);
        for (size_t i = m0; i < m1; i++) {
            int32_t acc[STRIP];
            float out[STRIP];
            tile_i8_acc_scalar(w, a, i, s, acc);
            float sa = a->scale[i];
            for (size_t l = 0; l < STRIP; l++) {
                float sc = sa * w->scale[s * STRIP + l];
                out[l] = (float)acc[l] * sc;
            }
            store_f32(out, nv, bias != NULL ? bias + s * STRIP : NULL, C + (i - m0) * ldc + (s * STRIP - n0));
        }
    }
}

/* ------------------------------------------------------------------ AVX-512 kernels */

#ifdef LOWP_X86
#define T_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

static inline uint32_t ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline __mmask16 col_mask(size_t nv) { return nv >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nv) - 1); }

/* mr x ns block: rows x[0..mr) (row stride kp elements), strips b + j*sstride; C row r at c + r*ldc. */
INLINE T_BF16 void kern_bf16(const uint16_t *x, size_t kp, const uint16_t *b, size_t sstride, size_t np, int mr, int ns,
                             const float *bias, float *c, size_t ldc, size_t nvalid) {
    __m512 acc[MR][NS];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < ns; j++) acc[i][j] = _mm512_setzero_ps();
    const uint16_t *xr[MR];
    for (int i = 0; i < mr; i++) xr[i] = x + (size_t)i * kp;
    for (size_t p = 0; p < np; p++) {
        __m512i bv[NS];
        for (int j = 0; j < ns; j++) bv[j] = _mm512_loadu_si512((const void *)(b + j * sstride + p * 32));
        for (int i = 0; i < mr; i++) {
            __m512i av = _mm512_set1_epi32((int)ld32(xr[i] + 2 * p));
            for (int j = 0; j < ns; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)av, (__m512bh)bv[j]);
        }
    }
    for (int j = 0; j < ns; j++) {
        size_t nv = nvalid > (size_t)j * 16 ? nvalid - (size_t)j * 16 : 0;
        if (nv == 0) break;
        __mmask16 mk = col_mask(nv);
        __m512 bb = bias != NULL ? _mm512_maskz_loadu_ps(mk, bias + j * 16) : _mm512_setzero_ps();
        for (int i = 0; i < mr; i++) _mm512_mask_storeu_ps(c + (size_t)i * ldc + j * 16, mk, _mm512_add_ps(acc[i][j], bb));
    }
}

/* Integer epilogue shared by the float and the i32 tiles: acc - zp * wsum. */
INLINE T_VNNI void kern_i8_out(const spar_lowp_mat *w, const spar_lowp_act *a, size_t i0, size_t s0, const uint8_t *x,
                               const int8_t *b, size_t sstride, size_t nq, int mr, int ns, const float *bias, float *c,
                               int32_t *ci, size_t ldc, size_t nvalid) {
    /* The accumulators stay local to this one inlined function: passed to a helper as an array, GCC 12 kept
     * them on the stack (measured: loads from %rsp around every vpdpbusd). */
    __m512i acc[MR][NS];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < ns; j++) acc[i][j] = _mm512_setzero_si512();
    const uint8_t *xr[MR];
    for (int i = 0; i < mr; i++) xr[i] = x + (size_t)i * a->kp;
    for (size_t p = 0; p < nq; p++) {
        __m512i bv[NS];
        for (int j = 0; j < ns; j++) bv[j] = _mm512_loadu_si512((const void *)(b + j * sstride + p * 64));
        for (int i = 0; i < mr; i++) {
            __m512i av = _mm512_set1_epi32((int)ld32(xr[i] + 4 * p));
            /* In-place asm: with the intrinsic GCC 12 copied each accumulator through a scratch register
             * around every vpdpbusd. */
            for (int j = 0; j < ns; j++) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc[i][j]) : "v"(av), "v"(bv[j]));
        }
    }
    for (int j = 0; j < ns; j++) {
        size_t nv = nvalid > (size_t)j * 16 ? nvalid - (size_t)j * 16 : 0;
        if (nv == 0) break;
        __mmask16 mk = col_mask(nv);
        size_t col = (s0 + (size_t)j) * STRIP;
        __m512i ws = _mm512_loadu_si512((const void *)(w->wsum + col));
        __m512 sw = _mm512_loadu_ps(w->scale + col);
        __m512 bb = bias != NULL ? _mm512_maskz_loadu_ps(mk, bias + j * 16) : _mm512_setzero_ps();
        for (int i = 0; i < mr; i++) {
            __m512i v = _mm512_sub_epi32(acc[i][j], _mm512_mullo_epi32(_mm512_set1_epi32(a->zp[i0 + i]), ws));
            if (ci != NULL) {
                _mm512_mask_storeu_epi32(ci + (size_t)i * ldc + j * 16, mk, v);
                continue;
            }
            __m512 sc = _mm512_mul_ps(_mm512_set1_ps(a->scale[i0 + i]), sw);
            __m512 r = _mm512_mul_ps(_mm512_cvtepi32_ps(v), sc);
            if (bias != NULL) r = _mm512_add_ps(r, bb);
            _mm512_mask_storeu_ps(c + (size_t)i * ldc + j * 16, mk, r);
        }
    }
}

/* Expand a call for every constant (mr, ns) so each instance keeps its accumulators in registers. */
#define FOR_NS(CALL, mr_)                                                                                            \
    switch (ns) {                                                                                                    \
    case 1: CALL(mr_, 1); break;                                                                                     \
    case 2: CALL(mr_, 2); break;                                                                                     \
    case 3: CALL(mr_, 3); break;                                                                                     \
    default: CALL(mr_, 4); break;                                                                                    \
    }
#define FOR_MR_NS(CALL)                                                                                              \
    switch (mr) {                                                                                                    \
    case 1: FOR_NS(CALL, 1) break;                                                                                   \
    case 2: FOR_NS(CALL, 2) break;                                                                                   \
    case 3: FOR_NS(CALL, 3) break;                                                                                   \
    case 4: FOR_NS(CALL, 4) break;                                                                                   \
    case 5: FOR_NS(CALL, 5) break;                                                                                   \
    default: FOR_NS(CALL, 6) break;                                                                                  \
    }

T_BF16 static void tile_bf16_avx512(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0,
                                    size_t n1, const float *bias, float *C, size_t ldc) {
    size_t np = w->kp / 2, sstride = np * STRIP * 2, s_end = (n1 + STRIP - 1) / STRIP;
    for (size_t s = n0 / STRIP; s < s_end; s += NS) {
        int ns = (int)SPAR_MIN((size_t)NS, s_end - s);
        const uint16_t *b = (const uint16_t *)w->data + s * sstride;
        size_t nvalid = n1 - s * STRIP;
        const float *bs = bias != NULL ? bias + s * STRIP : NULL;
        for (size_t i = m0; i < m1; i += MR) {
            int mr = (int)SPAR_MIN((size_t)MR, m1 - i);
            const uint16_t *x = (const uint16_t *)a->q + i * a->kp;
            float *c = C + (i - m0) * ldc + (s * STRIP - n0);
#define CALL_BF16(m_, n_) kern_bf16(x, a->kp, b, sstride, np, m_, n_, bs, c, ldc, nvalid)
            FOR_MR_NS(CALL_BF16)
#undef CALL_BF16
        }
    }
}

T_VNNI static void tile_int8_avx512(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0,
                                    size_t n1, const float *bias, float *C, int32_t *Ci, size_t ldc) {
    size_t nq = w->kp / 4, sstride = nq * STRIP * 4, s_end = (n1 + STRIP - 1) / STRIP;
    for (size_t s = n0 / STRIP; s < s_end; s += NS) {
        int ns = (int)SPAR_MIN((size_t)NS, s_end - s);
        const int8_t *b = (const int8_t *)w->data + s * sstride;
        size_t nvalid = n1 - s * STRIP;
        const float *bs = bias != NULL ? bias + s * STRIP : NULL;
        for (size_t i = m0; i < m1; i += MR) {
            int mr = (int)SPAR_MIN((size_t)MR, m1 - i);
            const uint8_t *x = (const uint8_t *)a->q + i * a->kp;
            size_t off = (i - m0) * ldc + (s * STRIP - n0);
            float *c = C != NULL ? C + off : NULL;
            int32_t *ci = Ci != NULL ? Ci + off : NULL;
#define CALL_I8(m_, n_) kern_i8_out(w, a, i, s, x, b, sstride, nq, m_, n_, bs, c, ci, ldc, nvalid)
            FOR_MR_NS(CALL_I8)
#undef CALL_I8
        }
    }
}
#endif /* LOWP_X86 */

/* ------------------------------------------------------------------ drivers */

void spar_lowp_gemm_tile(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0, size_t n1,
                         const float *bias, float *C, size_t ldc) {
    if (m1 <= m0 || n1 <= n0) return;
    if (w->kind == SPAR_LOWP_BF16) {
#ifdef LOWP_X86
        if (spar_lowp_simd(SPAR_LOWP_BF16)) {
            tile_bf16_avx512(w, a, m0, m1, n0, n1, bias, C, ldc);
            return;
        }
#endif
        tile_bf16_scalar(w, a, m0, m1, n0, n1, bias, C, ldc);
        return;
    }
#ifdef LOWP_X86
    if (spar_lowp_simd(SPAR_LOWP_INT8)) {
        tile_int8_avx512(w, a, m0, m1, n0, n1, bias, C, NULL, ldc);
        return;
    }
#endif
    tile_int8_scalar(w, a, m0, m1, n0, n1, bias, C, ldc);
}

void spar_lowp_gemm_tile_i32(const spar_lowp_mat *w, const spar_lowp_act *a, size_t m0, size_t m1, size_t n0,
                             size_t n1, int32_t *C, size_t ldc) {
    if (w->kind != SPAR_LOWP_INT8 || m1 <= m0 || n1 <= n0) return;
#ifdef LOWP_X86
    if (spar_lowp_simd(SPAR_LOWP_INT8)) {
        tile_int8_avx512(w, a, m0, m1, n0, n1, NULL, NULL, C, ldc);
        return;
    }
#endif
    for (size_t s = n0 / STRIP; s * STRIP < n1; s++)
        for (size_t i = m0; i < m1; i++) {
            int32_t acc[STRIP];
            tile_i8_acc_scalar(w, a, i, s, acc);
            size_t nv = SPAR_MIN((size_t)STRIP, n1 - s * STRIP);
            memcpy(C + (i - m0) * ldc + (s * STRIP - n0), acc, nv * sizeof(int32_t));
        }
}

typedef struct lin_job {
    const spar_lowp_mat *w;
    const spar_lowp_act *act;
    const float *bias;
    float *C;
    size_t ldc, m, n, tn, nt;
} lin_job;

static void lin_task(void *ctx, size_t t, int tid) {
    const lin_job *j = ctx;
    size_t i0 = t / j->nt * TILE_M, j0 = t % j->nt * j->tn;
    size_t i1 = SPAR_MIN(j->m, i0 + TILE_M), j1 = SPAR_MIN(j->n, j0 + j->tn);
    (void)tid;
    spar_lowp_gemm_tile(j->w, j->act, i0, i1, j0, j1, j->bias, j->C + i0 * j->ldc + j0, j->ldc);
}

spar_status spar_lowp_linear(const spar_lowp_mat *w, const float *A, size_t m, size_t lda, const float *bias, float *C,
                             size_t ldc, int n_threads) {
    if (w == NULL || A == NULL || C == NULL || ldc < w->n) return SPAR_E_INVALID_ARG;
    if (m == 0) return SPAR_OK;
    spar_lowp_act act;
    SPAR_TRY(spar_lowp_act_prepare(w, A, m, lda, n_threads, &act));
    size_t n = w->n, tn = TILE_N;
    size_t mt = (m + TILE_M - 1) / TILE_M;
    /* Enough tiles for the threads to balance (>= 4 each when the shape allows), never below one micro-kernel. */
    while (tn > NS * STRIP && mt * ((n + tn - 1) / tn) < 4 * (size_t)(n_threads > 1 ? n_threads : 1)) tn /= 2;
    lin_job job = {w, &act, bias, C, ldc, m, n, tn, (n + tn - 1) / tn};
    spar_pool_run(mt * job.nt, n_threads, lin_task, &job);
    spar_lowp_act_free(&act);
    return SPAR_OK;
}
