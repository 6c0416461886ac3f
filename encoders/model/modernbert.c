/* modernbert.c — ModernBERT in fp32: Hugging Face tensor-name mapping (ModernBertForMaskedLM / ModernBertModel),
 * loading with a missing/unexpected/shape report, and the forward pass (see modernbert.h for the
 * architecture). Sequences are packed back to back without padding; attention runs per sequence through
 * encoders/attention (block-sparse local layers with the exact token window, dense or policy-driven global
 * layers). GEMMs go through OpenBLAS sgemm; row-wise work is split with OpenMP when OpenBLAS is
 * single-threaded. Contract: encoders/model/modernbert.h. */
#include "encoders/model/modernbert.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/model/bert.h" /* spar_model_omp_ok */

/* ---------------------------------------------------------------- loading */

typedef struct want {
    char name[128];
    uint64_t rows, cols; /* cols == 0: a vector */
    float *dst;
    int optional;        /* a tied decoder may or may not be stored */
    const spar_st_tensor *t;
} want;

typedef struct loader {
    want *w;
    size_t n, cap;
    spar_mbert *m;
    int oom;
} loader;

static float *alloc_owned(spar_mbert *m, size_t n) {
    float *p = spar_malloc_array(n ? n : 1, sizeof(float));
    if (p == NULL) return NULL;
    float **o = spar_realloc_array(m->owned, m->n_owned + 1, sizeof *o);
    if (o == NULL) {
        free(p);
        return NULL;
    }
    m->owned = o;
    m->owned[m->n_owned++] = p;
    return p;
}

/* Register tensor `name` of shape [rows, cols] (cols 0: [rows]); returns its fresh buffer. */
static float *want_new(loader *L, const char *name, uint64_t rows, uint64_t cols, int optional) {
    if (L->oom) return NULL;
    if (L->n == L->cap) {
        size_t nc = L->cap ? 2 * L->cap : 64;
        want *nw = spar_realloc_array(L->w, nc, sizeof *nw);
        if (nw == NULL) {
            L->oom = 1;
            return NULL;
        }
        L->w = nw;
        L->cap = nc;
    }
    float *p = alloc_owned(L->m, (size_t)(rows * (cols ? cols : 1)));
    if (p == NULL) {
        L->oom = 1;
        return NULL;
    }
    want *w = &L->w[L->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->rows = rows;
    w->cols = cols;
    w->dst = p;
    w->optional = optional;
    return p;
}

static void build_wants(loader *L, const spar_safetensors *st) {
    spar_mbert *m = L->m;
    const spar_model_config *c = &m->cfg;
    uint64_t d = c->hidden, f = c->intermediate, V = c->vocab_size;
    char nm[128];
    const char *P = spar_safetensors_find(st, "model.embeddings.tok_embeddings.weight") ? "model." : "";
#define NAME(...) (snprintf(nm, sizeof nm, __VA_ARGS__), nm)
    m->tok_emb = want_new(L, NAME("%sembeddings.tok_embeddings.weight", P), V, d, 0);
    m->emb_norm_g = want_new(L, NAME("%sembeddings.norm.weight", P), d, 0, 0);
    if (c->norm_bias) m->emb_norm_b = want_new(L, NAME("%sembeddings.norm.bias", P), d, 0, 0);
    for (uint32_t i = 0; i < c->n_layers && !L->oom; i++) {
        spar_mbert_layer *y = &m->layers[i];
        if (i > 0) {
            y->attn_norm_g = want_new(L, NAME("%slayers.%u.attn_norm.weight", P, i), d, 0, 0);
            if (c->norm_bias) y->attn_norm_b = want_new(L, NAME("%slayers.%u.attn_norm.bias", P, i), d, 0, 0);
        }
        y->wqkv = want_new(L, NAME("%slayers.%u.attn.Wqkv.weight", P, i), 3 * d, d, 0);
        y->wo = want_new(L, NAME("%slayers.%u.attn.Wo.weight", P, i), d, d, 0);
        if (c->attention_bias) {
            y->bqkv = want_new(L, NAME("%slayers.%u.attn.Wqkv.bias", P, i), 3 * d, 0, 0);
            y->bo = want_new(L, NAME("%slayers.%u.attn.Wo.bias", P, i), d, 0, 0);
        }
        y->mlp_norm_g = want_new(L, NAME("%slayers.%u.mlp_norm.weight", P, i), d, 0, 0);
        if (c->norm_bias) y->mlp_norm_b = want_new(L, NAME("%slayers.%u.mlp_norm.bias", P, i), d, 0, 0);
        y->wi = want_new(L, NAME("%slayers.%u.mlp.Wi.weight", P, i), 2 * f, d, 0);
        y->wm = want_new(L, NAME("%slayers.%u.mlp.Wo.weight", P, i), d, f, 0);
        if (c->mlp_bias) {
            y->bi = want_new(L, NAME("%slayers.%u.mlp.Wi.bias", P, i), 2 * f, 0, 0);
            y->bm = want_new(L, NAME("%slayers.%u.mlp.Wo.bias", P, i), d, 0, 0);
        }
    }
    m->final_norm_g = want_new(L, NAME("%sfinal_norm.weight", P), d, 0, 0);
    if (c->norm_bias) m->final_norm_b = want_new(L, NAME("%sfinal_norm.bias", P), d, 0, 0);
    /* MLM head: present as a whole (ModernBertForMaskedLM) or absent (bare ModernBertModel). */
    m->has_mlm = spar_safetensors_find(st, "head.dense.weight") != NULL;
    if (m->has_mlm) {
        m->head_w = want_new(L, "head.dense.weight", d, d, 0);
        if (c->classifier_bias) m->head_b = want_new(L, "head.dense.bias", d, 0, 0);
        m->head_norm_g = want_new(L, "head.norm.weight", d, 0, 0);
        if (c->norm_bias) m->head_norm_b = want_new(L, "head.norm.bias", d, 0, 0);
        /* tied decoders are usually not stored; when they are, the stored copy is used */
        int stored = spar_safetensors_find(st, "decoder.weight") != NULL;
        if (stored || !c->tie_embeddings) m->dec_w = want_new(L, "decoder.weight", V, d, 0);
        else m->dec_w = m->tok_emb;
        if (c->decoder_bias) m->dec_b = want_new(L, "decoder.bias", V, 0, 0);
        else if ((m->dec_b = alloc_owned(m, (size_t)V)) != NULL) memset(m->dec_b, 0, (size_t)V * sizeof(float));
        else L->oom = 1;
    }
#undef NAME
}

static size_t appendf(char *buf, size_t cap, size_t at, const char *fmt, const char *a, const char *b) {
    if (at >= cap) return at;
    int n = snprintf(buf + at, cap - at, fmt, a, b);
    return n < 0 ? at : at + (size_t)n;
}

spar_status spar_mbert_from_tensors(const spar_model_config *c, const spar_safetensors *st, const char *label,
                                    spar_mbert **out, spar_diag *diag) {
    spar_status s = SPAR_OK;
    loader L = {0};
    uint8_t *used = NULL;
    if (c == NULL || st == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (c->arch != SPAR_ARCH_MODERNBERT) return SPAR_E_INVALID_ARG;
    if (label == NULL) label = "model.safetensors";
    spar_mbert *m = calloc(1, sizeof *m);
    if (m == NULL) return SPAR_E_NOMEM;
    m->cfg = *c;
    L.m = m;
    if ((m->layers = calloc(c->n_layers, sizeof *m->layers)) == NULL) {
        s = SPAR_E_NOMEM;
        goto done;
    }
    build_wants(&L, st);
    size_t nt = spar_safetensors_count(st);
    if (L.oom || (used = calloc(nt ? nt : 1, 1)) == NULL) {
        s = SPAR_E_NOMEM;
        goto done;
    }
    char miss[200] = "", bad[240] = "", unexp[200] = "";
    size_t am = 0, ab = 0, au = 0;
    int n_missing = 0, n_bad = 0, n_unexpected = 0;
    for (size_t i = 0; i < L.n; i++) {
        want *w = &L.w[i];
        const spar_st_tensor *t = spar_safetensors_find(st, w->name);
        if (t == NULL) {
            if (!w->optional && n_missing++ < 3)
                am = appendf(miss, sizeof miss, am, "%s%s", n_missing > 1 ? ", " : "", w->name);
            continue;
        }
        used[t - spar_safetensors_at(st, 0)] = 1;
        int ok = w->cols ? (t->n_dims == 2 && t->shape[0] == w->rows && t->shape[1] == w->cols)
                         : (t->n_dims == 1 && t->shape[0] == w->rows);
        int dt_ok = t->dtype == SPAR_ST_F32 || t->dtype == SPAR_ST_F16 || t->dtype == SPAR_ST_BF16;
        if (!ok || !dt_ok) {
            if (n_bad++ < 3) {
                char exp[64];
                if (w->cols) snprintf(exp, sizeof exp, " (expected [%llu,%llu] F32/F16/BF16)", (unsigned long long)w->rows,
                                      (unsigned long long)w->cols);
                else snprintf(exp, sizeof exp, " (expected [%llu] F32/F16/BF16)", (unsigned long long)w->rows);
                ab = appendf(bad, sizeof bad, ab, "%s%s", n_bad > 1 ? ", " : "", t->name);
                ab = appendf(bad, sizeof bad, ab, "%s%s", exp, "");
            }
            continue;
        }
        w->t = t;
    }
    for (size_t i = 0; i < nt; i++) {
        const spar_st_tensor *t = spar_safetensors_at(st, i);
        if (used[i] || strstr(t->name, "inv_freq") != NULL) continue; /* rotary buffers, recomputed */
        if (n_unexpected++ < 3)
            au = appendf(unexp, sizeof unexp, au, "%s%s", n_unexpected > 1 ? ", " : "", t->name);
    }
    if (n_missing || n_bad || n_unexpected) {
        spar_diag_set(diag,
                      "%s: tensors do not match the modernbert config: %d missing (%s%s); %d shape/dtype mismatch "
                      "(%s%s); %d unexpected (%s%s)",
                      label, n_missing, miss, n_missing > 3 ? ", ..." : "", n_bad, bad, n_bad > 3 ? ", ..." : "",
                      n_unexpected, unexp, n_unexpected > 3 ? ", ..." : "");
        s = SPAR_E_CORRUPT;
        goto done;
    }
    for (size_t i = 0; i < L.n; i++)
        if (L.w[i].t != NULL) SPAR_TRY_GOTO(s, spar_st_to_f32(L.w[i].t, L.w[i].dst), done);
    *out = m;
    m = NULL;
done:
    free(used);
    free(L.w);
    spar_mbert_free(m);
    return s;
}

spar_status spar_mbert_load(const char *dir, spar_mbert **out, spar_diag *diag) {
    char path[4096];
    spar_model_config cfg;
    spar_safetensors *st = NULL;
    if (dir == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    snprintf(path, sizeof path, "%s/config.json", dir);
    SPAR_TRY(spar_model_config_load(path, &cfg, diag));
    if (cfg.arch != SPAR_ARCH_MODERNBERT)
        return spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: not a modernbert config", path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SPAR_TRY(spar_safetensors_open(path, &st, diag));
    spar_status s = spar_mbert_from_tensors(&cfg, st, path, out, diag);
    spar_safetensors_close(st);
    return s;
}

void spar_mbert_free(spar_mbert *m) {
    if (m == NULL) return;
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m);
}

/* ---------------------------------------------------------------- forward */

/* y[T, out] = x[T, in] (row stride ldx) W[out, in]^T (+ b) */
static void linear(const float *x, size_t T, size_t in, size_t ldx, const float *W, const float *b, size_t out,
                   float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)out, (int)in, 1.0f, x, (int)ldx, W, (int)in,
                0.0f, y, (int)out);
    if (b == NULL) return;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T * out > 65536 && spar_model_omp_ok())
#endif
    for (size_t t = 0; t < T; t++) {
        float *r = y + t * out;
        for (size_t j = 0; j < out; j++)
            r[j] += b[j];
    }
}

/* out = LayerNorm(x) row-wise (b may be NULL: no bias); statistics in double; out may alias x. */
static void layer_norm(const float *x, float *out, size_t T, size_t d, const float *g, const float *b, float eps) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T > 16 && spar_model_omp_ok())
#endif
    for (size_t t = 0; t < T; t++) {
        const float *r = x + t * d;
        float *o = out + t * d;
        double s = 0, s2 = 0;
        for (size_t j = 0; j < d; j++)
            s += r[j];
        double mean = s / (double)d;
        for (size_t j = 0; j < d; j++) {
            double z = r[j] - mean;
            s2 += z * z;
        }
        float inv = (float)(1.0 / sqrt(s2 / (double)d + (double)eps)), mu = (float)mean;
        for (size_t j = 0; j < d; j++)
            o[j] = (r[j] - mu) * inv * g[j] + (b != NULL ? b[j] : 0.0f);
    }
}

static inline float act1(float x, spar_act a) {
    if (a == SPAR_ACT_RELU) return x > 0 ? x : 0;
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* GeGLU in place: u[t, 0:f] = act(u[t, 0:f]) * u[t, f:2f] (row stride 2f). */
static void geglu(float *u, size_t T, size_t f, spar_act a) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T * f > 65536 && spar_model_omp_ok())
#endif
    for (size_t t = 0; t < T; t++) {
        float *r = u + t * 2 * f;
        for (size_t j = 0; j < f; j++)
            r[j] = act1(r[j], a) * r[f + j];
    }
}

/* Rotary tables for positions [0, n): cs[p][j] = cos(p * inv_freq[j]), sn likewise, j < dh/2. inv_freq and
 * the angle are computed in fp32 as transformers does, so positions in the thousands agree with it. */
static void rope_tables(float theta, size_t dh, size_t n, float *cs, float *sn) {
    size_t half = dh / 2;
    for (size_t j = 0; j < half; j++) {
        float inv = 1.0f / powf(theta, (float)(2 * j) / (float)dh);
        for (size_t p = 0; p < n; p++) {
            float ang = (float)p * inv;
            cs[p * half + j] = cosf(ang);
            sn[p * half + j] = sinf(ang);
        }
    }
}

/* Rotate the query and key columns of n packed rows (positions 0..n-1) in place: for each head, the pair
 * (x[j], x[j + dh/2]) -> (x[j] cos - x[j+h] sin, x[j+h] cos + x[j] sin). */
static void apply_rope(float *qkv, size_t n, size_t d, size_t H, size_t dh, const float *cs, const float *sn) {
    size_t half = dh / 2;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (n > 64 && spar_model_omp_ok())
#endif
    for (size_t p = 0; p < n; p++) {
        const float *c = cs + p * half, *s = sn + p * half;
        for (size_t part = 0; part < 2; part++) { /* 0: queries, 1: keys */
            float *row = qkv + p * 3 * d + part * d;
            for (size_t h = 0; h < H; h++) {
                float *x = row + h * dh;
                for (size_t j = 0; j < half; j++) {
                    float a = x[j], b = x[j + half];
                    x[j] = a * c[j] - b * s[j];
                    x[j + half] = b * c[j] + a * s[j];
                }
            }
        }
    }
}

static double rel_err(const float *a, const float *b, size_t rows, size_t cols, size_t lda) {
    double num = 0, den = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double x = a[i * lda + j], y = b[i * lda + j];
            num += (x - y) * (x - y);
            den += y * y;
        }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Attention of one sequence in one layer: o[n, d] (row stride d). */
static spar_status attend(const spar_mbert *m, uint32_t l, float *qkv, size_t n, spar_mbert_run *run, float *o) {
    const spar_model_config *c = &m->cfg;
    size_t d = c->hidden, H = c->n_heads, dh = d / H;
    int global = c->layer_global[l];
    uint32_t half_win = c->local_window / 2;
    int blas_threads = spar_model_omp_ok() ? 0 : 1; /* OpenMP around sgemm only when OpenBLAS is single-threaded */
    spar_attn_args a = {.q = qkv, .k = qkv + d, .v = qkv + 2 * d, .ld_q = 3 * d, .ld_k = 3 * d, .ld_v = 3 * d,
                        .seq_len = (uint32_t)n, .n_heads = (uint32_t)H, .d_head = (uint32_t)dh, .key_valid = NULL,
                        .scale = 0.0f, .n_threads = blas_threads, .window = 0};
    spar_attn_policy pol;
    const spar_attn_policy *p = NULL;
    if (!global && n > (size_t)half_win + 1) { /* shorter sequences: every key is inside the window */
        a.window = half_win;
        spar_attn_policy_default(&pol, SPAR_ATTN_LOCAL_GLOBAL);
        pol.n_global = 0;
        pol.window = (half_win + SPAR_ATTN_BLOCK - 1) / SPAR_ATTN_BLOCK;
        pol.min_len = 1;
        p = &pol;
    } else if (global && run != NULL) {
        const spar_attn_policy *gp = run->global_policy;
        if (run->layer_policy != NULL && run->layer_policy[l] != NULL) gp = run->layer_policy[l];
        if (gp != NULL && gp->kind != SPAR_ATTN_DENSE && n >= gp->min_len) p = gp;
    }
    double t0 = spar_now();
    spar_status st = SPAR_OK;
    int sparse = 0;
    double density = 1.0;
    spar_attn_mask mk = {0};
    if (p == NULL) {
        st = spar_attn_dense(&a, o, d);
    } else {
        SPAR_TRY(spar_attn_select(p, &a, &mk));
        a.n_threads = 0; /* the block-sparse kernel calls no BLAS */
        st = spar_attn_block_sparse(&a, &mk, o, d);
        a.n_threads = blas_threads;
        sparse = 1;
        density = spar_attn_mask_density(&mk, a.n_heads);
    }
    if (run != NULL) {
        double dt = spar_now() - t0;
        run->t_attn += dt;
        if (global) run->t_attn_global += dt;
        run->layer_sparse[l] = sparse;
        run->layer_density[l] = density;
        run->layer_rel_err[l] = 0.0;
        run->layer_mass[l] = run->layer_min_mass[l] = 1.0;
        if (st == SPAR_OK && sparse && global && run->fidelity) {
            float *od = spar_malloc_array(n, d * sizeof(float));
            if (od == NULL) st = SPAR_E_NOMEM;
            else if ((st = spar_attn_dense(&a, od, d)) == SPAR_OK) {
                run->layer_rel_err[l] = rel_err(o, od, n, d, d);
                st = spar_attn_captured_mass(&a, &mk, a.n_heads, NULL, &run->layer_mass[l], &run->layer_min_mass[l],
                                             NULL);
            }
            free(od);
        }
    }
    spar_attn_mask_free(&mk);
    return st;
}

spar_status spar_mbert_forward(const spar_mbert *m, const uint32_t *ids, const uint32_t *lens, size_t n_seqs,
                               spar_mbert_run *run, float *X) {
    if (m == NULL || ids == NULL || lens == NULL || X == NULL || n_seqs == 0) return SPAR_E_INVALID_ARG;
    const spar_model_config *c = &m->cfg;
    size_t d = c->hidden, f = c->intermediate, H = c->n_heads, dh = d / H, T = 0, n_max = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        if (lens[s] == 0 || lens[s] > c->max_positions) return SPAR_E_INVALID_ARG;
        T += lens[s];
        n_max = SPAR_MAX(n_max, lens[s]);
    }
    for (size_t t = 0; t < T; t++)
        if (ids[t] >= c->vocab_size) return SPAR_E_INVALID_ARG;
    double t_start = spar_now();
    size_t half = dh / 2;
    float *xn = spar_malloc_array(T, d * sizeof(float));
    float *qkv = spar_malloc_array(T, 3 * d * sizeof(float));
    float *ctx = spar_malloc_array(T, d * sizeof(float));
    float *u = spar_malloc_array(T, 2 * f * sizeof(float));
    float *rope = spar_malloc_array(n_max, 4 * half * sizeof(float)); /* cos/sin global, cos/sin local */
    spar_status st = SPAR_OK;
    if (xn == NULL || qkv == NULL || ctx == NULL || u == NULL || rope == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    float *cg = rope, *sg = rope + n_max * half, *cl = rope + 2 * n_max * half, *sl = rope + 3 * n_max * half;
    rope_tables(c->rope_theta_global, dh, n_max, cg, sg);
    rope_tables(c->rope_theta_local, dh, n_max, cl, sl);

    for (size_t t = 0; t < T; t++)
        memcpy(X + t * d, m->tok_emb + (size_t)ids[t] * d, d * sizeof(float));
    layer_norm(X, X, T, d, m->emb_norm_g, m->emb_norm_b, c->ln_eps);

    for (uint32_t l = 0; l < c->n_layers; l++) {
        const spar_mbert_layer *y = &m->layers[l];
        const float *in = X;
        if (y->attn_norm_g != NULL) {
            layer_norm(X, xn, T, d, y->attn_norm_g, y->attn_norm_b, c->ln_eps);
            in = xn;
        }
        linear(in, T, d, d, y->wqkv, y->bqkv, 3 * d, qkv);
        int global = c->layer_global[l];
        size_t base = 0;
        for (size_t s = 0; s < n_seqs && st == SPAR_OK; s++) {
            size_t n = lens[s];
            apply_rope(qkv + base * 3 * d, n, d, H, dh, global ? cg : cl, global ? sg : sl);
            st = attend(m, l, qkv + base * 3 * d, n, run, ctx + base * d);
            base += n;
        }
        if (st != SPAR_OK) goto done;
        linear(ctx, T, d, d, y->wo, y->bo, d, xn);
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T * d > 65536 && spar_model_omp_ok())
#endif
        for (size_t i = 0; i < T * d; i++)
            X[i] += xn[i];
        layer_norm(X, xn, T, d, y->mlp_norm_g, y->mlp_norm_b, c->ln_eps);
        linear(xn, T, d, d, y->wi, y->bi, 2 * f, u);
        geglu(u, T, f, c->act);
        linear(u, T, f, 2 * f, y->wm, y->bm, d, xn);
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T * d > 65536 && spar_model_omp_ok())
#endif
        for (size_t i = 0; i < T * d; i++)
            X[i] += xn[i];
    }
    layer_norm(X, X, T, d, m->final_norm_g, m->final_norm_b, c->ln_eps);
done:
    if (run != NULL) run->t_total += spar_now() - t_start;
    free(xn);
    free(qkv);
    free(ctx);
    free(u);
    free(rope);
    return st;
}

spar_status spar_mbert_mlm_transform(const spar_mbert *m, const float *h, size_t T, float *out) {
    if (m == NULL || !m->has_mlm) return SPAR_E_UNSUPPORTED;
    size_t d = m->cfg.hidden;
    linear(h, T, d, d, m->head_w, m->head_b, d, out);
    for (size_t i = 0; i < T * d; i++)
        out[i] = act1(out[i], m->cfg.head_act);
    layer_norm(out, out, T, d, m->head_norm_g, m->head_norm_b, m->cfg.ln_eps);
    return SPAR_OK;
}

spar_status spar_mbert_mlm_logits(const spar_mbert *m, const float *h2, size_t T, float *logits) {
    if (m == NULL || !m->has_mlm) return SPAR_E_UNSUPPORTED;
    linear(h2, T, m->cfg.hidden, m->cfg.hidden, m->dec_w, m->dec_b, m->cfg.vocab_size, logits);
    return SPAR_OK;
}
