/* test_attention.c — CUnit tests of encoders/attention/: block-sparse kernel == dense with an all-ones mask
 * (several T incl. non-multiples of 64, with padding), random block masks == a naive double-precision masked
 * reference, AVX2 == scalar, local window covering everything == dense, exact captured mass on small T,
 * every policy keeps the diagonal and the global blocks, mask validation, the length threshold, and the
 * token-level sliding window (ModernBERT local layers) applied exactly inside boundary blocks. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/attention/attention.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

typedef struct prob {
    spar_attn_args a;
    float *q, *k, *v;
    uint8_t *valid;
} prob;

/* T tokens, H heads of width D; Q/K scaled by amp so attention is peaked; pad_every > 0 marks every
 * pad_every-th key and the last pad_tail keys as padding. */
static void prob_make(prob *p, uint32_t t, uint32_t h, uint32_t d, float amp, uint32_t pad_every,
                      uint32_t pad_tail) {
    memset(p, 0, sizeof *p);
    size_t w = (size_t)h * d, n = (size_t)t * w;
    p->q = malloc(n * sizeof(float));
    p->k = malloc(n * sizeof(float));
    p->v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        p->q[i] = amp * frand();
        p->k[i] = amp * frand();
        p->v[i] = frand();
    }
    if (pad_every || pad_tail) {
        p->valid = malloc(t);
        for (uint32_t j = 0; j < t; j++)
            p->valid[j] = !((pad_every && j % pad_every == pad_every - 1) || j + pad_tail >= t);
    }
    p->a = (spar_attn_args){.q = p->q,
                            .k = p->k,
                            .v = p->v,
                            .ld_q = w,
                            .ld_k = w,
                            .ld_v = w,
                            .seq_len = t,
                            .n_heads = h,
                            .d_head = d,
                            .key_valid = p->valid,
                            .n_threads = 2};
}

static void prob_free(prob *p) {
    free(p->q);
    free(p->k);
    free(p->v);
    free(p->valid);
}

static double max_abs_diff(const float *x, const float *y, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - (double)y[i]);
        if (!(e <= m)) m = e; /* NaN propagates as failure */
    }
    return m;
}

/* Naive double-precision masked attention: only key blocks listed in m, only valid keys. */
static void naive_masked(const prob *p, const spar_attn_mask *m, float *o) {
    const spar_attn_args *a = &p->a;
    uint32_t t = a->seq_len, d = a->d_head, nb = m->n_blocks;
    double scale = 1.0 / sqrt((double)d);
    double *s = malloc(t * sizeof(double));
    for (uint32_t h = 0; h < a->n_heads; h++)
        for (uint32_t i = 0; i < t; i++) {
            size_t row = (size_t)(m->n_heads == 1 ? 0 : h) * nb + i / SPAR_ATTN_BLOCK;
            for (uint32_t j = 0; j < t; j++)
                s[j] = -INFINITY;
            double mx = -INFINITY;
            for (uint32_t pp = m->row_ptr[row]; pp < m->row_ptr[row + 1]; pp++)
                for (uint32_t j = m->col[pp] * SPAR_ATTN_BLOCK;
                     j < t && j < (m->col[pp] + 1) * SPAR_ATTN_BLOCK; j++) {
                    if (p->valid && !p->valid[j]) continue;
                    if (a->window && (j > i ? j - i : i - j) > a->window) continue;
                    double dot = 0.0;
                    for (uint32_t k = 0; k < d; k++)
                        dot += (double)a->q[(size_t)i * a->ld_q + h * d + k] *
                               a->k[(size_t)j * a->ld_k + h * d + k];
                    s[j] = dot * scale;
                    if (s[j] > mx) mx = s[j];
                }
            double sum = 0.0;
            for (uint32_t j = 0; j < t; j++) {
                s[j] = s[j] == -INFINITY ? 0.0 : exp(s[j] - mx);
                sum += s[j];
            }
            for (uint32_t k = 0; k < d; k++) {
                double acc = 0.0;
                for (uint32_t j = 0; j < t; j++)
                    if (s[j] != 0.0) acc += s[j] * a->v[(size_t)j * a->ld_v + h * d + k];
                o[(size_t)i * a->n_heads * d + h * d + k] = sum > 0 ? (float)(acc / sum) : 0.0f;
            }
        }
    free(s);
}

static void test_full_mask_equals_dense(void) {
    const uint32_t ts[] = {1, 63, 64, 65, 130, 200, 256, 333};
    for (int pad = 0; pad < 2; pad++)
        for (size_t c = 0; c < sizeof ts / sizeof ts[0]; c++) {
            prob p;
            uint32_t t = ts[c];
            prob_make(&p, t, 3, 64, 2.0f, pad ? 7 : 0, pad && t > 20 ? 17 : 0);
            size_t n = (size_t)t * 3 * 64;
            float *od = malloc(n * sizeof(float)), *os = malloc(n * sizeof(float));
            spar_attn_mask m;
            CU_ASSERT_EQUAL_FATAL(spar_attn_mask_full(t, &m), SPAR_OK);
            CU_ASSERT_EQUAL(spar_attn_dense(&p.a, od, 3 * 64), SPAR_OK);
            CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, os, 3 * 64), SPAR_OK);
            double e = max_abs_diff(od, os, n);
            if (!(e <= 1e-5)) fprintf(stderr, "T=%u pad=%d max err %.3g\n", t, pad, e);
            CU_ASSERT(e <= 1e-5);
            spar_attn_mask_free(&m);
            free(od);
            free(os);
            prob_free(&p);
        }
}

/* Random per-head masks (diagonal always present) against the naive double reference. */
static void test_random_mask_equals_naive(void) {
    uint32_t t = 333, h = 2, d = 64, nb = (t + 63) / 64;
    prob p;
    prob_make(&p, t, h, d, 2.0f, 5, 0);
    spar_attn_mask m = {.n_heads = h, .n_blocks = nb};
    m.row_ptr = calloc((size_t)h * nb + 1, sizeof(uint32_t));
    m.col = calloc((size_t)h * nb * nb, sizeof(uint32_t));
    uint32_t n = 0;
    for (uint32_t r = 0; r < h * nb; r++) {
        for (uint32_t j = 0; j < nb; j++)
            if (j == r % nb || frand() > 0.3f) m.col[n++] = j;
        m.row_ptr[r + 1] = n;
    }
    size_t sz = (size_t)t * h * d;
    float *o = malloc(sz * sizeof(float)), *ref = malloc(sz * sizeof(float));
    naive_masked(&p, &m, ref);
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o, h * d), SPAR_OK);
    CU_ASSERT(max_abs_diff(o, ref, sz) <= 1e-5);
    spar_attn_force_scalar(1);
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o, h * d), SPAR_OK);
    spar_attn_force_scalar(0);
    CU_ASSERT(max_abs_diff(o, ref, sz) <= 1e-5);
    spar_attn_mask_free(&m);
    free(o);
    free(ref);
    prob_free(&p);
}

static void test_simd_equals_scalar(void) {
    uint32_t t = 517, h = 4, d = 64;
    prob p;
    prob_make(&p, t, h, d, 3.0f, 11, 30);
    size_t sz = (size_t)t * h * d;
    float *o1 = malloc(sz * sizeof(float)), *o2 = malloc(sz * sizeof(float));
    spar_attn_policy pol;
    spar_attn_policy_default(&pol, SPAR_ATTN_QUERY_AWARE);
    pol.tau = 0.8f;
    spar_attn_mask m;
    CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &m), SPAR_OK);
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o1, h * d), SPAR_OK);
    spar_attn_force_scalar(1);
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o2, h * d), SPAR_OK);
    spar_attn_force_scalar(0);
    CU_ASSERT(max_abs_diff(o1, o2, sz) <= 1e-5);
    spar_attn_mask_free(&m);
    free(o1);
    free(o2);
    prob_free(&p);
}

/* d_head 24 (not a multiple of 16) runs the scalar path, 48 the AVX2 path with 3 column groups; both ==
 * dense. */
static void test_other_head_widths(void) {
    const uint32_t ds[] = {24, 48};
    for (int di = 0; di < 2; di++) {
        uint32_t t = 150, h = 2, d = ds[di];
        prob p;
        prob_make(&p, t, h, d, 1.5f, 0, 10);
        size_t sz = (size_t)t * h * d;
        float *od = malloc(sz * sizeof(float)), *os = malloc(sz * sizeof(float));
        spar_attn_mask m;
        CU_ASSERT_EQUAL_FATAL(spar_attn_mask_full(t, &m), SPAR_OK);
        CU_ASSERT_EQUAL(spar_attn_dense(&p.a, od, h * d), SPAR_OK);
        CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, os, h * d), SPAR_OK);
        CU_ASSERT(max_abs_diff(od, os, sz) <= 1e-5);
        spar_attn_mask_free(&m);
        free(od);
        free(os);
        prob_free(&p);
    }
}

static void test_local_window_covering_all_is_dense(void) {
    uint32_t t = 300, h = 2, d = 64;
    prob p;
    prob_make(&p, t, h, d, 2.0f, 0, 5);
    spar_attn_policy pol;
    spar_attn_policy_default(&pol, SPAR_ATTN_LOCAL_GLOBAL);
    pol.window = 5; /* nb = 5: every |i-j| <= 4 */
    pol.min_len = 0;
    size_t sz = (size_t)t * h * d;
    float *od = malloc(sz * sizeof(float)), *os = malloc(sz * sizeof(float));
    spar_attn_mask m;
    CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &m), SPAR_OK);
    CU_ASSERT_DOUBLE_EQUAL(spar_attn_mask_density(&m, h), 1.0, 1e-12);
    int used = 0;
    CU_ASSERT_EQUAL(spar_attn_forward(&pol, &p.a, os, h * d, &used, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(used, 1);
    CU_ASSERT_EQUAL(spar_attn_dense(&p.a, od, h * d), SPAR_OK);
    CU_ASSERT(max_abs_diff(od, os, sz) <= 1e-5);
    /* a narrow window is not dense: the output must differ (the test can fail) */
    pol.window = 0;
    pol.n_global = 0;
    CU_ASSERT_EQUAL(spar_attn_forward(&pol, &p.a, os, h * d, &used, NULL), SPAR_OK);
    CU_ASSERT(max_abs_diff(od, os, sz) > 1e-3);
    spar_attn_mask_free(&m);
    free(od);
    free(os);
    prob_free(&p);
}

/* Captured mass of a diagonal-only mask, checked against a double-precision computation. */
static void test_captured_mass_exact(void) {
    uint32_t t = 200, h = 2, d = 64, nb = 4;
    prob p;
    prob_make(&p, t, h, d, 2.5f, 0, 0);
    spar_attn_mask m = {.n_heads = 1, .n_blocks = nb};
    uint32_t rp[5] = {0, 1, 2, 3, 4}, col[4] = {0, 1, 2, 3};
    m.row_ptr = rp;
    m.col = col;
    double per[2], mean, mn_head, mn_row;
    CU_ASSERT_EQUAL_FATAL(spar_attn_captured_mass(&p.a, &m, h, per, &mean, &mn_head, &mn_row), SPAR_OK);
    double want[2] = {0, 0}, want_min_row = 1.0;
    for (uint32_t hh = 0; hh < h; hh++) {
        for (uint32_t i = 0; i < t; i++) {
            double s[200], mx = -INFINITY, tot = 0, in = 0;
            for (uint32_t j = 0; j < t; j++) {
                double dot = 0;
                for (uint32_t k = 0; k < d; k++)
                    dot += (double)p.q[(size_t)i * h * d + hh * d + k] * p.k[(size_t)j * h * d + hh * d + k];
                s[j] = dot / 8.0;
                if (s[j] > mx) mx = s[j];
            }
            for (uint32_t j = 0; j < t; j++) {
                double e = exp(s[j] - mx);
                tot += e;
                if (j / 64 == i / 64) in += e;
            }
            want[hh] += in / tot / t;
            if (in / tot < want_min_row) want_min_row = in / tot;
        }
    }
    CU_ASSERT_DOUBLE_EQUAL(per[0], want[0], 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(per[1], want[1], 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(mean, (want[0] + want[1]) / 2, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(mn_head, fmin(want[0], want[1]), 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(mn_row, want_min_row, 1e-5);
    CU_ASSERT(mean < 0.9); /* diagonal-only really loses mass here */
    spar_attn_mask full;
    CU_ASSERT_EQUAL_FATAL(spar_attn_mask_full(t, &full), SPAR_OK);
    CU_ASSERT_EQUAL(spar_attn_captured_mass(&p.a, &full, h, NULL, &mean, &mn_head, &mn_row), SPAR_OK);
    CU_ASSERT_DOUBLE_EQUAL(mean, 1.0, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(mn_row, 1.0, 1e-5);
    spar_attn_mask_free(&full);
    prob_free(&p);
}

static int row_has(const spar_attn_mask *m, size_t row, uint32_t j) {
    for (uint32_t q = m->row_ptr[row]; q < m->row_ptr[row + 1]; q++)
        if (m->col[q] == j) return 1;
    return 0;
}

static void test_policies_keep_diagonal_and_global(void) {
    uint32_t t = 1000, h = 3, d = 64; /* nb = 16, the last block short and partly padded */
    prob p;
    prob_make(&p, t, h, d, 1.0f, 0, 40);
    spar_attn_policy_kind kinds[] = {SPAR_ATTN_LOCAL_GLOBAL, SPAR_ATTN_QUERY_AWARE, SPAR_ATTN_VERTICAL_SLASH};
    for (int kx = 0; kx < 3; kx++) {
        spar_attn_policy pol;
        spar_attn_policy_default(&pol, kinds[kx]);
        pol.n_global = 2;
        pol.window = 1;
        pol.tau = 0.5f;
        spar_attn_mask m;
        CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &m), SPAR_OK);
        CU_ASSERT_EQUAL(spar_attn_mask_check(&m, &p.a), SPAR_OK);
        uint32_t nb = m.n_blocks;
        CU_ASSERT_EQUAL(nb, 16);
        int ok = 1;
        for (uint32_t hh = 0; hh < m.n_heads; hh++)
            for (uint32_t i = 0; i < nb; i++) {
                size_t row = (size_t)hh * nb + i;
                ok &= row_has(&m, row, i) && row_has(&m, row, 0) && row_has(&m, row, 1);
                /* global query blocks see every block holding a valid key (block 15 is all padding) */
                if (i < 2) ok &= m.row_ptr[row + 1] - m.row_ptr[row] == nb - 1 && !row_has(&m, row, nb - 1);
            }
        CU_ASSERT(ok);
        double dens = spar_attn_mask_density(&m, h);
        CU_ASSERT(dens > 0.0 && dens < 1.0); /* tau 0.5 on near-uniform attention must not keep everything */
        spar_attn_mask_free(&m);
    }
    prob_free(&p);
}

/* Planted local structure: vertical-slash and query-aware must find it (mass >= 0.95) while staying sparse.
 */
static void test_dynamic_policies_find_local_band(void) {
    uint32_t t = 1024, h = 1, d = 64;
    prob p;
    prob_make(&p, t, h, d, 0.3f, 0, 0);
    /* random Fourier features of a Gaussian kernel in |i-j| (sigma 24 tokens) on 24 coordinate pairs:
     * logit(i, j) ~= 12 * exp(-(i-j)^2 / (2 * 24^2)) + noise */
    double w[24];
    for (int f = 0; f < 24; f++) {
        double u1 = (frand() + 1.0) * 0.5 + 1e-9, u2 = (frand() + 1.0) * 0.5;
        w[f] = sqrt(-2.0 * log(u1)) * cos(6.283185307 * u2) / 24.0;
    }
    float amp = (float)sqrt(8.0 * 12.0 / 24.0);
    for (uint32_t i = 0; i < t; i++)
        for (uint32_t f = 0; f < 24; f++) {
            float c = amp * (float)cos(w[f] * i), s = amp * (float)sin(w[f] * i);
            p.q[(size_t)i * d + 2 * f] = p.k[(size_t)i * d + 2 * f] = c;
            p.q[(size_t)i * d + 2 * f + 1] = p.k[(size_t)i * d + 2 * f + 1] = s;
        }
    spar_attn_policy_kind kinds[] = {SPAR_ATTN_QUERY_AWARE, SPAR_ATTN_QUERY_AWARE, SPAR_ATTN_VERTICAL_SLASH};
    for (int kx = 0; kx < 3; kx++) {
        spar_attn_policy pol;
        spar_attn_policy_default(&pol, kinds[kx]);
        if (kx == 1) pol.q_per_block = 0; /* the pooled estimator */
        spar_attn_mask m;
        CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &m), SPAR_OK);
        double mean, mnh, mnr;
        CU_ASSERT_EQUAL(spar_attn_captured_mass(&p.a, &m, h, NULL, &mean, &mnh, &mnr), SPAR_OK);
        double dens = spar_attn_mask_density(&m, h);
        if (getenv("SPAR_TEST_VERBOSE") || !(mean >= 0.95 && dens < 0.5))
            fprintf(stderr, "%s: mass %.3f density %.3f\n", spar_attn_policy_name(kinds[kx]), mean, dens);
        CU_ASSERT(mean >= 0.95);
        CU_ASSERT(dens < 0.5);
        spar_attn_mask_free(&m);
    }
    prob_free(&p);
}

/* With one representative query per row (q_per_block = 64, T a multiple of 64, no padding) the query-aware
 * estimate is the exact mean block mass of each query block, so the kept mask must capture >= tau of the
 * mass in every head (the mean over rows equals the mean over query blocks). */
static void test_query_aware_all_rows_estimate_is_exact(void) {
    uint32_t t = 1024, h = 2, d = 64;
    prob p;
    prob_make(&p, t, h, d, 1.5f, 0, 0);
    float taus[] = {0.5f, 0.7f, 0.9f};
    for (int x = 0; x < 3; x++) {
        spar_attn_policy pol;
        spar_attn_policy_default(&pol, SPAR_ATTN_QUERY_AWARE);
        pol.q_per_block = 64;
        pol.min_blocks = 1;
        pol.tau = taus[x];
        spar_attn_mask m;
        CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &m), SPAR_OK);
        double per_head[2], mean, mnh, mnr;
        CU_ASSERT_EQUAL(spar_attn_captured_mass(&p.a, &m, h, per_head, &mean, &mnh, &mnr), SPAR_OK);
        double dens = spar_attn_mask_density(&m, h);
        if (getenv("SPAR_TEST_VERBOSE"))
            fprintf(stderr, "all-rows estimate tau %.2f: min head mass %.4f density %.3f\n", taus[x], mnh, dens);
        CU_ASSERT(mnh >= taus[x] - 1e-4);
        CU_ASSERT(dens < 1.0); /* so the check is not vacuous */
        spar_attn_mask_free(&m);
    }
    prob_free(&p);
}

/* RoPE-style band (what ModernBERT's planted weights give): q_i and k_j are the same vector rotated by
 * RoPE angles theta_f * position, so the logit depends on i - j only, sum_f cos(theta_f (i - j)), peaked at
 * the diagonal with a slowly decaying tail from the low frequencies. Mean-pooling the 64 queries of a block
 * averages the high-frequency pairs away, which flattens the pooled estimate; representative queries
 * (q_per_block 2, the default) must meet the mass target with fewer blocks than the pooled estimate. */
static void test_query_aware_rope_band(void) {
    uint32_t t = 2048, h = 1, d = 64;
    prob p;
    prob_make(&p, t, h, d, 0.05f, 0, 0);
    float a = (float)sqrt(12.0 * 8.0 / 32.0); /* peak logit 12 at scale 1/8 */
    for (uint32_t i = 0; i < t; i++)
        for (uint32_t f = 0; f < 32; f++) {
            double th = pow(10000.0, -(double)f / 32.0) * i;
            float c = a * (float)cos(th), sn = a * (float)sin(th);
            p.q[(size_t)i * d + 2 * f] += c;
            p.k[(size_t)i * d + 2 * f] += c;
            p.q[(size_t)i * d + 2 * f + 1] += sn;
            p.k[(size_t)i * d + 2 * f + 1] += sn;
        }
    double mass[2], dens[2];
    uint32_t qpb[2] = {0, 2};
    for (int x = 0; x < 2; x++) {
        spar_attn_policy pol;
        spar_attn_policy_default(&pol, SPAR_ATTN_QUERY_AWARE);
        pol.q_per_block = qpb[x];
        spar_attn_mask m;
        CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &m), SPAR_OK);
        double mnh, mnr;
        CU_ASSERT_EQUAL(spar_attn_captured_mass(&p.a, &m, h, NULL, &mass[x], &mnh, &mnr), SPAR_OK);
        dens[x] = spar_attn_mask_density(&m, h);
        if (getenv("SPAR_TEST_VERBOSE"))
            fprintf(stderr, "rope band q_per_block %u: mass %.4f density %.3f\n", qpb[x], mass[x], dens[x]);
        spar_attn_mask_free(&m);
    }
    CU_ASSERT(mass[1] >= 0.95);
    CU_ASSERT(dens[1] < 0.75 * dens[0]);
    prob_free(&p);
}

/* Thread count changes neither the selection nor the output (work items are independent): bit-identical. */
static void test_threads_bit_identical(void) {
    uint32_t t = 700, h = 3, d = 64;
    prob p;
    prob_make(&p, t, h, d, 2.0f, 9, 20);
    size_t sz = (size_t)t * h * d;
    float *o1 = malloc(sz * sizeof(float)), *o2 = malloc(sz * sizeof(float));
    spar_attn_policy_kind kinds[] = {SPAR_ATTN_QUERY_AWARE, SPAR_ATTN_VERTICAL_SLASH};
    for (int kx = 0; kx < 2; kx++) {
        spar_attn_policy pol;
        spar_attn_policy_default(&pol, kinds[kx]);
        pol.min_len = 0;
        pol.tau = 0.8f;
        double d1 = 0, d2 = 0;
        p.a.n_threads = 1;
        CU_ASSERT_EQUAL(spar_attn_forward(&pol, &p.a, o1, h * d, NULL, &d1), SPAR_OK);
        p.a.n_threads = 2;
        CU_ASSERT_EQUAL(spar_attn_forward(&pol, &p.a, o2, h * d, NULL, &d2), SPAR_OK);
        CU_ASSERT_EQUAL(d1, d2);
        CU_ASSERT(memcmp(o1, o2, sz * sizeof(float)) == 0);
    }
    free(o1);
    free(o2);
    prob_free(&p);
}

static void test_bad_masks_rejected(void) {
    prob p;
    prob_make(&p, 130, 1, 64, 1.0f, 0, 0); /* nb = 3 */
    float o[130 * 64];
    uint32_t rp[4] = {0, 2, 3, 4}, col_unsorted[4] = {1, 0, 1, 2}, col_oob[4] = {0, 1, 1, 3};
    spar_attn_mask m = {.n_heads = 1, .n_blocks = 3, .row_ptr = rp, .col = col_unsorted};
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o, 64), SPAR_E_INVALID_ARG);
    m.col = col_oob;
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o, 64), SPAR_E_INVALID_ARG);
    m.col = col_unsorted;
    m.n_blocks = 4;
    CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &m, o, 64), SPAR_E_INVALID_ARG);
    spar_attn_policy pol;
    spar_attn_policy_default(&pol, SPAR_ATTN_QUERY_AWARE);
    pol.tau = 0.0f;
    CU_ASSERT_EQUAL(spar_attn_select(&pol, &p.a, &m), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_attn_dense(&p.a, o, 32), SPAR_E_INVALID_ARG); /* ld_o too small */
    prob_free(&p);
}

static void test_threshold_uses_dense_below_min_len(void) {
    prob p;
    prob_make(&p, 200, 2, 64, 1.0f, 0, 0);
    spar_attn_policy pol;
    spar_attn_policy_default(&pol, SPAR_ATTN_LOCAL_GLOBAL);
    pol.min_len = 201;
    pol.window = 0;
    float *o1 = malloc(200 * 128 * sizeof(float)), *o2 = malloc(200 * 128 * sizeof(float));
    int used = 1;
    double dens = 0;
    CU_ASSERT_EQUAL(spar_attn_forward(&pol, &p.a, o1, 128, &used, &dens), SPAR_OK);
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(dens, 1.0);
    CU_ASSERT_EQUAL(spar_attn_dense(&p.a, o2, 128), SPAR_OK);
    CU_ASSERT(max_abs_diff(o1, o2, 200 * 128) == 0.0);
    pol.min_len = 200;
    CU_ASSERT_EQUAL(spar_attn_forward(&pol, &p.a, o1, 128, &used, &dens), SPAR_OK);
    CU_ASSERT_EQUAL(used, 1);
    CU_ASSERT(dens < 1.0);
    free(o1);
    free(o2);
    prob_free(&p);
}

/* Token-level sliding window (ModernBERT local layers: |i-j| <= 64): the local policy with a one-block
 * window and no global block, the full mask, and dense attention all equal the naive windowed reference,
 * on the AVX2 and scalar paths, for lengths around block boundaries and with padding. */
static void test_token_window_exact(void) {
    const uint32_t ts[] = {1, 64, 65, 100, 129, 200, 333, 517};
    const uint32_t ws[] = {64, 5, 100};
    for (size_t wi = 0; wi < 3; wi++)
        for (size_t c = 0; c < sizeof ts / sizeof ts[0]; c++) {
            uint32_t t = ts[c], h = 2, d = 32, w = ws[wi];
            prob p;
            prob_make(&p, t, h, d, 2.0f, c % 2 ? 9 : 0, 0);
            p.a.window = w;
            size_t sz = (size_t)t * h * d;
            float *ref = malloc(sz * sizeof(float)), *o = malloc(sz * sizeof(float));
            spar_attn_mask full, loc;
            CU_ASSERT_EQUAL_FATAL(spar_attn_mask_full(t, &full), SPAR_OK);
            naive_masked(&p, &full, ref);
            spar_attn_policy pol;
            spar_attn_policy_default(&pol, SPAR_ATTN_LOCAL_GLOBAL);
            pol.n_global = 0;
            pol.window = (w + SPAR_ATTN_BLOCK - 1) / SPAR_ATTN_BLOCK;
            pol.min_len = 1;
            CU_ASSERT_EQUAL_FATAL(spar_attn_select(&pol, &p.a, &loc), SPAR_OK);
            for (int scalar = 0; scalar < 2; scalar++) {
                spar_attn_force_scalar(scalar);
                CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &loc, o, h * d), SPAR_OK);
                double e1 = max_abs_diff(o, ref, sz);
                CU_ASSERT_EQUAL(spar_attn_block_sparse(&p.a, &full, o, h * d), SPAR_OK);
                double e2 = max_abs_diff(o, ref, sz);
                if (!(e1 <= 1e-5 && e2 <= 1e-5)) fprintf(stderr, "T=%u w=%u scalar=%d err %.3g %.3g\n", t, w, scalar, e1, e2);
                CU_ASSERT(e1 <= 1e-5 && e2 <= 1e-5);
            }
            spar_attn_force_scalar(0);
            CU_ASSERT_EQUAL(spar_attn_dense(&p.a, o, h * d), SPAR_OK);
            CU_ASSERT(max_abs_diff(o, ref, sz) <= 1e-5);
            /* the window really restricts: without it the output differs (when some key is out of reach) */
            if (t > w + 1) {
                p.a.window = 0;
                CU_ASSERT_EQUAL(spar_attn_dense(&p.a, o, h * d), SPAR_OK);
                CU_ASSERT(max_abs_diff(o, ref, sz) > 1e-3);
            }
            spar_attn_mask_free(&full);
            spar_attn_mask_free(&loc);
            free(ref);
            free(o);
            prob_free(&p);
        }
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("attention", NULL, NULL);
    CU_add_test(s, "full mask == dense (T incl. non-multiples of 64, padding)", test_full_mask_equals_dense);
    CU_add_test(s, "random masks == naive double reference", test_random_mask_equals_naive);
    CU_add_test(s, "AVX2 == scalar", test_simd_equals_scalar);
    CU_add_test(s, "d_head 24 (scalar) and 48 (AVX2) == dense", test_other_head_widths);
    CU_add_test(s, "local window covering all == dense", test_local_window_covering_all_is_dense);
    CU_add_test(s, "captured mass exact", test_captured_mass_exact);
    CU_add_test(s, "policies keep diagonal + global", test_policies_keep_diagonal_and_global);
    CU_add_test(s, "dynamic policies find a planted local band", test_dynamic_policies_find_local_band);
    CU_add_test(s, "query_aware: all-rows estimate is exact (mass >= tau)", test_query_aware_all_rows_estimate_is_exact);
    CU_add_test(s, "query_aware: representative queries beat pooling on a RoPE band", test_query_aware_rope_band);
    CU_add_test(s, "1 and 2 threads bit-identical", test_threads_bit_identical);
    CU_add_test(s, "bad masks rejected", test_bad_masks_rejected);
    CU_add_test(s, "length threshold -> dense", test_threshold_uses_dense_below_min_len);
    CU_add_test(s, "token-level sliding window exact (boundary blocks)", test_token_window_exact);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
