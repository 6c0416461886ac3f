/* bert.c — BERT and DistilBERT in fp32: Hugging Face tensor-name mapping, loading with a full
 * missing/unexpected/shape report, and the forward pass (embeddings + LayerNorm, fused QKV GEMM,
 * per-sequence multi-head attention, output dense + residual + LayerNorm, exact-GELU FFN).
 * Sequences are packed back to back with no padding, so attention never sees a padded key: this is
 * exactly the masked computation of transformers (masked softmax weights are exp(-huge) = 0).
 * GEMMs go through OpenBLAS sgemm; row-wise work is split with OpenMP. Contract: encoders/model/bert.h. */
#define _DEFAULT_SOURCE /* madvise */
#include "encoders/model/bert.h"

#include <cblas.h>
#include <sys/mman.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/attention/attention.h"
#include "encoders/kernels/gemm_f32.h"
#include "encoders/kernels/pool.h"

#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------- loading */

typedef struct want {
    char name[160];
    uint64_t rows, cols;  /* cols == 0: a vector of `rows` */
    float *dst;           /* where the converted values go */
    int optional;
    int found;
} want;

typedef struct loader {
    want *w;
    size_t n, cap;
    spar_bert *m;
    int oom;
} loader;

static float *alloc_owned(spar_bert *m, size_t n) {
    /* 64-byte aligned: the linear weights are packed in place for encoders/kernels/gemm_f32. */
    size_t count = n ? n : 1;
    float *p = count <= SIZE_MAX / sizeof(float) - 63 ? aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64) : NULL;
    if (p == NULL) return NULL;
    float **o = spar_realloc_array(m->owned, m->n_owned + 1, sizeof *o);
    if (o == NULL) { free(p); return NULL; }
    m->owned = o;
    m->owned[m->n_owned++] = p;
    return p;
}

static void add_want(loader *L, const char *name, uint64_t rows, uint64_t cols, float *dst, int optional) {
    if (L->oom) return;
    if (L->n == L->cap) {
        size_t nc = L->cap ? 2 * L->cap : 64;
        want *nw = spar_realloc_array(L->w, nc, sizeof *nw);
        if (nw == NULL) { L->oom = 1; return; }
        L->w = nw;
        L->cap = nc;
    }
    want *w = &L->w[L->n++];
    snprintf(w->name, sizeof w->name, "%s", name);
    w->rows = rows;
    w->cols = cols;
    w->dst = dst;
    w->optional = optional;
    w->found = 0;
}

/* Allocate a [rows, cols] buffer and register it under `name`. */
static float *want_new(loader *L, const char *name, uint64_t rows, uint64_t cols, int optional) {
    if (L->oom) return NULL;
    float *p = alloc_owned(L->m, (size_t)(rows * (cols ? cols : 1)));
    if (p == NULL) { L->oom = 1; return NULL; }
    add_want(L, name, rows, cols, p, optional);
    return p;
}

/* Old checkpoints name LayerNorm parameters gamma/beta. */
static const spar_st_tensor *find_tensor(const spar_safetensors *st, const char *name) {
    const spar_st_tensor *t = spar_safetensors_find(st, name);
    if (t != NULL) return t;
    size_t l = strlen(name);
    char alt[176];
    if (l > 7 && strcmp(name + l - 7, ".weight") == 0 && strstr(name, "LayerNorm") != NULL) {
        snprintf(alt, sizeof alt, "%.*s.gamma", (int)(l - 7), name);
        return spar_safetensors_find(st, alt);
    }
    if (l > 5 && strcmp(name + l - 5, ".bias") == 0 && strstr(name, "LayerNorm") != NULL) {
        snprintf(alt, sizeof alt, "%.*s.beta", (int)(l - 5), name);
        return spar_safetensors_find(st, alt);
    }
    return NULL;
}

static int ignorable(const char *name) {
    static const char *const patterns[] = {"pooler.", "position_ids", "cls.seq_relationship.",
                                           "cls.predictions.decoder.bias", "vocab_projector.bias_unused"};
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++)
        if (strstr(name, patterns[i]) != NULL) return 1;
    return 0;
}

static size_t appendf(char *buf, size_t cap, size_t at, const char *fmt, const char *a, const char *b) {
    if (at >= cap) return at;
    int n = snprintf(buf + at, cap - at, fmt, a, b);
    return n < 0 ? at : at + (size_t)n;
}

static void describe_shape(char *buf, size_t cap, const spar_st_tensor *t) {
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (uint32_t i = 0; i < t->n_dims && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%llu", i ? "," : "", (unsigned long long)t->shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

static void build_wants(loader *L, const spar_model_config *c, const spar_safetensors *st) {
    spar_bert *m = L->m;
    uint64_t d = c->hidden, f = c->intermediate, V = c->vocab_size;
    char nm[160];
    int distil = c->arch == SPAR_ARCH_DISTILBERT;
    const char *P = distil ? (spar_safetensors_find(st, "distilbert.embeddings.word_embeddings.weight") ? "distilbert." : "")
                           : (spar_safetensors_find(st, "bert.embeddings.word_embeddings.weight") ? "bert." : "");
#define NAME(...) (snprintf(nm, sizeof nm, __VA_ARGS__), nm)
    m->word_emb = want_new(L, NAME("%sembeddings.word_embeddings.weight", P), V, d, 0);
    m->pos_emb = want_new(L, NAME("%sembeddings.position_embeddings.weight", P), c->max_positions, d, 0);
    if (!distil) m->type_emb = want_new(L, NAME("%sembeddings.token_type_embeddings.weight", P), c->type_vocab_size, d, 0);
    m->emb_ln_g = want_new(L, NAME("%sembeddings.LayerNorm.weight", P), d, 0, 0);
    m->emb_ln_b = want_new(L, NAME("%sembeddings.LayerNorm.bias", P), d, 0, 0);
    for (uint32_t i = 0; i < c->n_layers && !L->oom; i++) {
        spar_bert_layer *y = &m->layers[i];
        y->qkv_w = alloc_owned(m, (size_t)(3 * d * d));
        y->qkv_b = alloc_owned(m, (size_t)(3 * d));
        if (y->qkv_w == NULL || y->qkv_b == NULL) { L->oom = 1; return; }
        static const char *const bert_qkv[3] = {"query", "key", "value"}, *const dist_qkv[3] = {"q_lin", "k_lin", "v_lin"};
        for (int k = 0; k < 3; k++) {
            if (distil) {
                add_want(L, NAME("%stransformer.layer.%u.attention.%s.weight", P, i, dist_qkv[k]), d, d, y->qkv_w + k * d * d, 0);
                add_want(L, NAME("%stransformer.layer.%u.attention.%s.bias", P, i, dist_qkv[k]), d, 0, y->qkv_b + k * d, 0);
            } else {
                add_want(L, NAME("%sencoder.layer.%u.attention.self.%s.weight", P, i, bert_qkv[k]), d, d, y->qkv_w + k * d * d, 0);
                add_want(L, NAME("%sencoder.layer.%u.attention.self.%s.bias", P, i, bert_qkv[k]), d, 0, y->qkv_b + k * d, 0);
            }
        }
        if (distil) {
            const char *b = "transformer.layer";
            y->o_w = want_new(L, NAME("%s%s.%u.attention.out_lin.weight", P, b, i), d, d, 0);
            y->o_b = want_new(L, NAME("%s%s.%u.attention.out_lin.bias", P, b, i), d, 0, 0);
            y->ln1_g = want_new(L, NAME("%s%s.%u.sa_layer_norm.weight", P, b, i), d, 0, 0);
            y->ln1_b = want_new(L, NAME("%s%s.%u.sa_layer_norm.bias", P, b, i), d, 0, 0);
            y->ff1_w = want_new(L, NAME("%s%s.%u.ffn.lin1.weight", P, b, i), f, d, 0);
            y->ff1_b = want_new(L, NAME("%s%s.%u.ffn.lin1.bias", P, b, i), f, 0, 0);
            y->ff2_w = want_new(L, NAME("%s%s.%u.ffn.lin2.weight", P, b, i), d, f, 0);
            y->ff2_b = want_new(L, NAME("%s%s.%u.ffn.lin2.bias", P, b, i), d, 0, 0);
            y->ln2_g = want_new(L, NAME("%s%s.%u.output_layer_norm.weight", P, b, i), d, 0, 0);
            y->ln2_b = want_new(L, NAME("%s%s.%u.output_layer_norm.bias", P, b, i), d, 0, 0);
        } else {
            const char *b = "encoder.layer";
            y->o_w = want_new(L, NAME("%s%s.%u.attention.output.dense.weight", P, b, i), d, d, 0);
            y->o_b = want_new(L, NAME("%s%s.%u.attention.output.dense.bias", P, b, i), d, 0, 0);
            y->ln1_g = want_new(L, NAME("%s%s.%u.attention.output.LayerNorm.weight", P, b, i), d, 0, 0);
            y->ln1_b = want_new(L, NAME("%s%s.%u.attention.output.LayerNorm.bias", P, b, i), d, 0, 0);
            y->ff1_w = want_new(L, NAME("%s%s.%u.intermediate.dense.weight", P, b, i), f, d, 0);
            y->ff1_b = want_new(L, NAME("%s%s.%u.intermediate.dense.bias", P, b, i), f, 0, 0);
            y->ff2_w = want_new(L, NAME("%s%s.%u.output.dense.weight", P, b, i), d, f, 0);
            y->ff2_b = want_new(L, NAME("%s%s.%u.output.dense.bias", P, b, i), d, 0, 0);
            y->ln2_g = want_new(L, NAME("%s%s.%u.output.LayerNorm.weight", P, b, i), d, 0, 0);
            y->ln2_b = want_new(L, NAME("%s%s.%u.output.LayerNorm.bias", P, b, i), d, 0, 0);
        }
    }
    /* MLM head: present as a whole or absent as a whole (bare BertModel / DistilBertModel). */
    const char *tr = distil ? "vocab_transform" : "cls.predictions.transform.dense";
    const char *trln = distil ? "vocab_layer_norm" : "cls.predictions.transform.LayerNorm";
    const char *decb = distil ? "vocab_projector.bias" : "cls.predictions.bias";
    const char *decw = distil ? "vocab_projector.weight" : "cls.predictions.decoder.weight";
    m->has_mlm = spar_safetensors_find(st, NAME("%s.weight", tr)) != NULL || spar_safetensors_find(st, decb) != NULL;
    if (m->has_mlm) {
        m->tr_w = want_new(L, NAME("%s.weight", tr), d, d, 0);
        m->tr_b = want_new(L, NAME("%s.bias", tr), d, 0, 0);
        m->tr_ln_g = want_new(L, NAME("%s.weight", trln), d, 0, 0);
        m->tr_ln_b = want_new(L, NAME("%s.bias", trln), d, 0, 0);
        m->dec_b = want_new(L, decb, V, 0, 0);
        if (spar_safetensors_find(st, decw) != NULL) m->dec_w = want_new(L, decw, V, d, 0);
        else m->dec_w = m->word_emb; /* tied: stored once, under the embedding name */
    }
    const spar_st_tensor *pj = spar_safetensors_find(st, "linear.weight");
    if (pj != NULL && pj->n_dims == 2 && pj->shape[1] == d && pj->shape[0] > 0 && pj->shape[0] <= 65536) {
        m->proj_dim = (uint32_t)pj->shape[0];
        m->proj_w = want_new(L, "linear.weight", m->proj_dim, d, 0);
    }
#undef NAME
}

/* Give back the file pages of a converted tensor. Only for a file spar_safetensors_open mapped (read-only,
 * never written): the kernel re-reads them if touched again, so this is invisible except in the resident set,
 * which then peaks near the fp32 weights instead of weights + file. Never for a borrowed buffer (anonymous
 * memory would be zeroed). */
static void drop_pages(const spar_st_tensor *t) {
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    uintptr_t a = ((uintptr_t)t->data + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)t->data + (uintptr_t)t->n_bytes) & ~((uintptr_t)pg - 1);
    if (e > a) (void)madvise((void *)a, e - a, MADV_DONTNEED);
}

/* ---------------------------------------------------------------- packed fp32 weights */

/* Drop one packed matrix; an in-place one turns its buffer back into the row-major W first (that needs a
 * 32 x in scratch: if even that fails, the handle is kept and 0 returned). */
static int unpack_one(spar_gemm_f32_packed **pp) {
    if (*pp == NULL) return 1;
    if ((*pp)->borrowed) {
        if (spar_gemm_f32_unpack_inplace(*pp) != SPAR_OK) return 0;
    } else {
        spar_gemm_f32_free(*pp);
    }
    *pp = NULL;
    return 1;
}

/* Give the row-major fp32 matrices back before anything reads or rewrites them. */
static int unpack_layers(spar_bert *m) {
    int ok = 1;
    for (uint32_t i = 0; m->layers != NULL && i < m->cfg.n_layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        ok &= unpack_one(&y->qkv_p) & unpack_one(&y->o_p) & unpack_one(&y->ff1_p) & unpack_one(&y->ff2_p);
    }
    return ok & unpack_one(&m->tr_p);
}

/* In place when the shape allows (every BERT size: rows % 32 == 0), else a packed copy. */
static spar_status pack_one(float *W, size_t n, size_t k, spar_gemm_f32_packed **out) {
    if (spar_gemm_f32_pack_inplace(W, n, k, out) == SPAR_OK) return SPAR_OK;
    return spar_gemm_f32_pack(W, n, k, k, out);
}

/* Pack the four matrices of every layer once (the GEMM then streams contiguous 32-output strips; sgemm
 * re-packs them on every call). All or nothing: on failure the forward uses sgemm on the raw matrices. */
static spar_status pack_layers(spar_bert *m) {
    size_t d = m->cfg.hidden, f = m->cfg.intermediate;
    if (!unpack_layers(m)) return SPAR_E_NOMEM;
    for (uint32_t i = 0; i < m->cfg.n_layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        if (y->qkv_w == NULL || y->o_w == NULL || y->ff1_w == NULL || y->ff2_w == NULL) break; /* dropped */
        if (pack_one(y->qkv_w, 3 * d, d, &y->qkv_p) != SPAR_OK || pack_one(y->o_w, d, d, &y->o_p) != SPAR_OK ||
            pack_one(y->ff1_w, f, d, &y->ff1_p) != SPAR_OK || pack_one(y->ff2_w, d, f, &y->ff2_p) != SPAR_OK) {
            (void)unpack_layers(m);
            return SPAR_E_NOMEM;
        }
    }
    /* the MLM transform: optional (only speed is lost without it) */
    int all = m->cfg.n_layers > 0 && m->layers[m->cfg.n_layers - 1].ff2_p != NULL; /* == f32_packed's test */
    if (all && m->has_mlm && m->tr_w != NULL && pack_one(m->tr_w, d, d, &m->tr_p) != SPAR_OK) m->tr_p = NULL;
    return SPAR_OK;
}

/* spar_bert_free: the buffers go too, so no need to restore them. */
static void free_packs(spar_bert *m) {
    for (uint32_t i = 0; m->layers != NULL && i < m->cfg.n_layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        spar_gemm_f32_free(y->qkv_p), spar_gemm_f32_free(y->o_p), spar_gemm_f32_free(y->ff1_p), spar_gemm_f32_free(y->ff2_p);
        y->qkv_p = y->o_p = y->ff1_p = y->ff2_p = NULL;
    }
    spar_gemm_f32_free(m->tr_p);
    m->tr_p = NULL;
}

/* ---------------------------------------------------------------- decoder packed once */

spar_status spar_bert_unpack_decoder(spar_bert *m) {
    if (m == NULL || m->dec_p == NULL) return SPAR_OK;
    if (spar_gemm_f32_unpack_inplace(m->dec_p) != SPAR_OK) return SPAR_E_NOMEM;
    m->dec_p = NULL;
    spar_gemm_f32_free(m->dec_tail_p);
    m->dec_tail_p = NULL;
    return SPAR_OK;
}

spar_status spar_bert_pack_decoder(spar_bert *m) {
    if (m == NULL) return SPAR_E_INVALID_ARG;
    if (!m->has_mlm || m->dec_w == NULL) return SPAR_E_UNSUPPORTED;
    if (m->dec_p != NULL) return SPAR_OK;
    size_t V = m->cfg.vocab_size, d = m->cfg.hidden, Vm = V / SPAR_GEMM_F32_NR * SPAR_GEMM_F32_NR;
    if (Vm == 0 || ((uintptr_t)m->dec_w & 63) != 0) return SPAR_E_INVALID_ARG;
    spar_gemm_f32_packed *tail = NULL;
    if (Vm < V) SPAR_TRY(spar_gemm_f32_pack(m->dec_w + Vm * d, V - Vm, d, d, &tail));
    spar_status st = spar_gemm_f32_pack_inplace(m->dec_w, Vm, d, &m->dec_p);
    if (st != SPAR_OK) {
        spar_gemm_f32_free(tail);
        m->dec_p = NULL;
        return st;
    }
    m->dec_tail_p = tail;
    return SPAR_OK;
}

void spar_bert_decoder_row(const spar_bert *m, size_t v, float *out) {
    size_t d = m->cfg.hidden;
    if (m->dec_p == NULL || v >= m->dec_p->n) {
        memcpy(out, m->dec_w + v * d, d * sizeof(float)); /* row-major, or a tail row (kept row-major) */
        return;
    }
    const float *s = m->dec_p->data + (v / SPAR_GEMM_F32_NR) * SPAR_GEMM_F32_NR * d + v % SPAR_GEMM_F32_NR;
    for (size_t k = 0; k < d; k++) out[k] = s[k * SPAR_GEMM_F32_NR];
}

void spar_bert_embedding_row(const spar_bert *m, size_t id, float *out) {
    if (m->word_emb == NULL) return;
    if (m->dec_p != NULL && m->dec_w == m->word_emb) spar_bert_decoder_row(m, id, out);
    else memcpy(out, m->word_emb + id * m->cfg.hidden, m->cfg.hidden * sizeof(float));
}

/* fp32 mode with every layer packed: the forward then runs on spar's pool, with no OpenBLAS call. */
static int f32_packed(const spar_bert *m) {
    return m->mode == 0 && m->cfg.n_layers > 0 && m->layers[m->cfg.n_layers - 1].ff2_p != NULL;
}

static spar_status from_tensors(const spar_model_config *c, const spar_safetensors *st, const char *label,
                                spar_bert **out, spar_diag *diag, int file_mapped) {
    spar_status st_ = SPAR_OK;
    loader L = {0};
    uint8_t *used = NULL;
    if (c == NULL || st == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (label == NULL) label = "model.safetensors";
    spar_bert *m = calloc(1, sizeof *m);
    if (m == NULL) return SPAR_E_NOMEM;
    m->cfg = *c;
    L.m = m;
    if ((m->layers = calloc(c->n_layers, sizeof *m->layers)) == NULL) { st_ = SPAR_E_NOMEM; goto done; }
    build_wants(&L, c, st);
    size_t nt = spar_safetensors_count(st);
    if (L.oom || (used = calloc(nt ? nt : 1, 1)) == NULL) { st_ = SPAR_E_NOMEM; goto done; }
    /* Pass 1: find every problem, then fail once with the first few of each kind named. */
    char miss[200] = "", bad[200] = "", unexp[200] = "";
    size_t am = 0, ab = 0, au = 0;
    int n_missing = 0, n_bad = 0, n_unexpected = 0;
    for (size_t i = 0; i < L.n; i++) {
        want *w = &L.w[i];
        const spar_st_tensor *t = find_tensor(st, w->name);
        if (t == NULL) {
            if (!w->optional && n_missing++ < 3) am = appendf(miss, sizeof miss, am, "%s%s", n_missing > 1 ? ", " : "", w->name);
            continue;
        }
        used[t - spar_safetensors_at(st, 0)] = 1;
        int ok = w->cols ? (t->n_dims == 2 && t->shape[0] == w->rows && t->shape[1] == w->cols)
                         : (t->n_dims == 1 && t->shape[0] == w->rows);
        if (ok && t->dtype != SPAR_ST_F32 && t->dtype != SPAR_ST_F16 && t->dtype != SPAR_ST_BF16) {
            if (n_bad++ < 3)
                ab = appendf(bad, sizeof bad, ab, "%s dtype %s (need F32/F16/BF16)", t->name, spar_st_dtype_name(t->dtype));
            continue;
        }
        if (!ok) {
            char got[96], exp[64];
            describe_shape(got, sizeof got, t);
            if (w->cols) snprintf(exp, sizeof exp, "[%llu,%llu]", (unsigned long long)w->rows, (unsigned long long)w->cols);
            else snprintf(exp, sizeof exp, "[%llu]", (unsigned long long)w->rows);
            if (n_bad++ < 3) {
                ab = appendf(bad, sizeof bad, ab, "%s%s", n_bad > 1 ? ", " : "", t->name);
                ab = appendf(bad, sizeof bad, ab, " %s expected %s", got, exp);
            }
            continue;
        }
        w->found = 1;
    }
    for (size_t i = 0; i < nt; i++) {
        const spar_st_tensor *t = spar_safetensors_at(st, i);
        if (used[i] || ignorable(t->name)) continue;
        if (n_unexpected++ < 3) au = appendf(unexp, sizeof unexp, au, "%s%s", n_unexpected > 1 ? ", " : "", t->name);
    }
    if (n_missing || n_bad || n_unexpected) {
        spar_diag_set(diag, "%s: tensors do not match the %s config: %d missing (%s%s); %d shape/dtype mismatch (%s%s); "
                      "%d unexpected (%s%s)", label, c->arch == SPAR_ARCH_BERT ? "bert" : "distilbert",
                      n_missing, miss, n_missing > 3 ? ", ..." : "", n_bad, bad, n_bad > 3 ? ", ..." : "",
                      n_unexpected, unexp, n_unexpected > 3 ? ", ..." : "");
        st_ = SPAR_E_CORRUPT;
        goto done;
    }
    for (size_t i = 0; i < L.n; i++) {
        if (!L.w[i].found) continue;
        const spar_st_tensor *t = find_tensor(st, L.w[i].name);
        SPAR_TRY_GOTO(st_, spar_st_to_f32(t, L.w[i].dst), done);
        if (file_mapped) drop_pages(t);
    }
    (void)pack_layers(m); /* out of memory here only costs speed */
    *out = m;
    m = NULL;
done:
    free(used);
    free(L.w);
    spar_bert_free(m);
    return st_;
}

spar_status spar_bert_load(const char *dir, spar_bert **out, spar_diag *diag) {
    char path[4096];
    spar_model_config cfg;
    spar_safetensors *st = NULL;
    if (dir == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    snprintf(path, sizeof path, "%s/config.json", dir);
    SPAR_TRY(spar_model_config_load(path, &cfg, diag));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    SPAR_TRY(spar_safetensors_open(path, &st, diag));
    spar_status s = from_tensors(&cfg, st, path, out, diag, 1);
    spar_safetensors_close(st);
    return s;
}

spar_status spar_bert_from_tensors(const spar_model_config *c, const spar_safetensors *st, const char *label,
                                   spar_bert **out, spar_diag *diag) {
    return from_tensors(c, st, label, out, diag, 0);
}

static size_t n_lowp(const spar_bert *m) { return 4 * (size_t)m->cfg.n_layers + 2; }

static void lowp_free(spar_bert *m, int kind) {
    if (m->lowp[kind] == NULL) return;
    for (size_t i = 0; i < n_lowp(m); i++) spar_lowp_mat_free(&m->lowp[kind][i]);
    free(m->lowp[kind]);
    m->lowp[kind] = NULL;
}

void spar_bert_free(spar_bert *m) {
    if (m == NULL) return;
    free_packs(m);
    spar_gemm_f32_free(m->dec_p); /* borrowed: the buffer goes with `owned` below */
    spar_gemm_f32_free(m->dec_tail_p);
    lowp_free(m, SPAR_LOWP_BF16);
    lowp_free(m, SPAR_LOWP_INT8);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m);
}

static void round_bf16(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = spar_bf16_to_f32(spar_f32_to_bf16(p[i]));
}

static void round_int8_rows(float *w, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        float *row = w + r * cols, amax = 0;
        for (size_t j = 0; j < cols; j++) amax = fmaxf(amax, fabsf(row[j]));
        if (amax == 0) continue;
        float s = amax / 127.0f;
        for (size_t j = 0; j < cols; j++) row[j] = nearbyintf(row[j] / s) * s;
    }
}

void spar_bert_round_bf16(spar_bert *m) {
    size_t d = m->cfg.hidden, f = m->cfg.intermediate;
    int dec_packed = m->dec_p != NULL;
    if (spar_bert_unpack_decoder(m) != SPAR_OK) return;
    if (!unpack_layers(m)) return;
    for (uint32_t i = 0; i < m->cfg.n_layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        round_bf16(y->qkv_w, 3 * d * d);
        round_bf16(y->o_w, d * d);
        round_bf16(y->ff1_w, f * d);
        round_bf16(y->ff2_w, d * f);
    }
    round_bf16(m->word_emb, (size_t)m->cfg.vocab_size * d);
    if (m->has_mlm) {
        round_bf16(m->tr_w, d * d);
        if (m->dec_w != m->word_emb) round_bf16(m->dec_w, (size_t)m->cfg.vocab_size * d);
    }
    (void)pack_layers(m); /* after tr_w, which it packs too */
    if (dec_packed) (void)spar_bert_pack_decoder(m); /* out of memory: stays row-major (per-call packing) */
}

void spar_bert_round_int8(spar_bert *m) {
    size_t d = m->cfg.hidden, f = m->cfg.intermediate;
    int dec_packed = m->dec_p != NULL;
    if (spar_bert_unpack_decoder(m) != SPAR_OK) return;
    if (!unpack_layers(m)) return;
    for (uint32_t i = 0; i < m->cfg.n_layers; i++) {
        spar_bert_layer *y = &m->layers[i];
        round_int8_rows(y->qkv_w, 3 * d, d);
        round_int8_rows(y->o_w, d, d);
        round_int8_rows(y->ff1_w, f, d);
        round_int8_rows(y->ff2_w, d, f);
    }
    if (m->has_mlm) {
        round_int8_rows(m->tr_w, d, d);
        /* The decoder is tied to the embeddings: quantising it quantises the embedding table too. */
        round_int8_rows(m->dec_w, m->cfg.vocab_size, d);
        if (m->dec_w != m->word_emb) round_int8_rows(m->word_emb, m->cfg.vocab_size, d);
    }
    (void)pack_layers(m); /* after tr_w, which it packs too */
    if (dec_packed) (void)spar_bert_pack_decoder(m);
}

/* Free an fp32 buffer if the model owns it; returns 1 if it did. */
static int drop_owned(spar_bert *m, const float *p) {
    if (p == NULL) return 0;
    for (size_t i = 0; i < m->n_owned; i++)
        if (m->owned[i] == p) {
            free(m->owned[i]);
            m->owned[i] = NULL;
            return 1;
        }
    return 0;
}

spar_status spar_bert_set_weights(spar_bert *m, int mode, int drop_f32) {
    if (m == NULL || mode < 0 || mode > 2) return SPAR_E_INVALID_ARG;
    const spar_model_config *c = &m->cfg;
    size_t d = c->hidden, f = c->intermediate, L = c->n_layers;
    if (mode == 0) {
        if (L > 0 && m->layers[0].qkv_w == NULL) return SPAR_E_INVALID_ARG; /* fp32 weights were dropped */
        m->mode = 0;
        /* a model assembled by hand (not through from_tensors) gets its fp32 packs here; out of memory only
         * costs speed (sgemm) */
        if (!f32_packed(m)) (void)pack_layers(m);
        return SPAR_OK;
    }
    if (m->lowp[mode] == NULL) {
        spar_lowp_kind kind = mode == 1 ? SPAR_LOWP_BF16 : SPAR_LOWP_INT8;
        /* the lowp packers read the row-major fp32 matrices (the decoder stays unpacked: lowp modes never
         * read it packed, and drop_f32 may free it) */
        if (spar_bert_unpack_decoder(m) != SPAR_OK || !unpack_layers(m)) return SPAR_E_NOMEM;
        spar_lowp_mat *P = calloc(n_lowp(m), sizeof *P);
        if (P == NULL) {
            (void)pack_layers(m);
            return SPAR_E_NOMEM;
        }
        m->lowp[mode] = P;
        spar_status st = SPAR_OK;
        /* With drop_f32 each fp32 matrix is freed right after it is packed, so the resident set never holds
         * both copies of more than one matrix (peak ~ the fp32 model, steady state ~ the packed one). */
        for (size_t l = 0; l < L && st == SPAR_OK; l++) {
            spar_bert_layer *y = &m->layers[l];
            if (y->qkv_w == NULL) st = SPAR_E_INVALID_ARG;
            if (st == SPAR_OK) st = spar_lowp_pack(kind, y->qkv_w, 3 * d, d, d, &P[4 * l]);
            if (st == SPAR_OK) st = spar_lowp_pack(kind, y->o_w, d, d, d, &P[4 * l + 1]);
            if (st == SPAR_OK) st = spar_lowp_pack(kind, y->ff1_w, f, d, d, &P[4 * l + 2]);
            if (st == SPAR_OK) st = spar_lowp_pack(kind, y->ff2_w, d, f, f, &P[4 * l + 3]);
            if (st == SPAR_OK && drop_f32) {
                if (drop_owned(m, y->qkv_w)) y->qkv_w = NULL;
                if (drop_owned(m, y->o_w)) y->o_w = NULL;
                if (drop_owned(m, y->ff1_w)) y->ff1_w = NULL;
                if (drop_owned(m, y->ff2_w)) y->ff2_w = NULL;
            }
        }
        if (st == SPAR_OK && m->has_mlm) st = spar_lowp_pack(kind, m->tr_w, d, d, d, &P[4 * L]);
        if (st == SPAR_OK && m->has_mlm) st = spar_lowp_pack(kind, m->dec_w, c->vocab_size, d, d, &P[4 * L + 1]);
        if (!drop_f32) (void)pack_layers(m);
        if (st != SPAR_OK) {
            lowp_free(m, mode);
            m->mode = 0;
            return st; /* with drop_f32 some fp32 layers may be gone: the caller frees the model */
        }
    }
    m->mode = mode;
    if (drop_f32) {
        free_packs(m); /* in-place packs borrow the buffers freed below */
        for (size_t l = 0; l < L; l++) {
            spar_bert_layer *y = &m->layers[l];
            if (drop_owned(m, y->qkv_w)) y->qkv_w = NULL;
            if (drop_owned(m, y->o_w)) y->o_w = NULL;
            if (drop_owned(m, y->ff1_w)) y->ff1_w = NULL;
            if (drop_owned(m, y->ff2_w)) y->ff2_w = NULL;
        }
        if (m->has_mlm) {
            if (drop_owned(m, m->tr_w)) m->tr_w = NULL;
            int tied = m->dec_w == m->word_emb;
            if (drop_owned(m, m->dec_w)) {
                m->dec_w = NULL;
                if (tied) m->word_emb = NULL; /* rows now come from the packed decoder */
            }
        }
    }
    return SPAR_OK;
}

const spar_lowp_mat *spar_bert_lowp_decoder(const spar_bert *m) {
    if (m == NULL || m->mode == 0 || m->lowp[m->mode] == NULL || !m->has_mlm) return NULL;
    return &m->lowp[m->mode][4 * (size_t)m->cfg.n_layers + 1];
}

/* ---------------------------------------------------------------- forward */

/* One pool at a time. By default (OpenBLAS with several threads) OpenBLAS's pool runs every GEMM and the
 * row-wise loops stay serial: with both pools active on few cores, libgomp's spinning workers and OpenBLAS's
 * workers preempt each other (DistilBERT at 128 tokens fell from 55 to 13 GFLOP/s). With OpenBLAS at one
 * thread (OPENBLAS_NUM_THREADS=1 or openblas_set_num_threads(1)), OpenMP runs everything: GEMMs split by
 * column chunks, attention by (sequence, head), row-wise loops. Measured in docs/encoders/model.md: the
 * OpenMP-only mode is 1.5-4x slower on the loaded shared VM (barrier waits behind preempted threads), so
 * it is not forced. */
int spar_model_omp_ok(void) { return openblas_get_num_threads() <= 1; }

void spar_model_gemm_nt(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                        float *C, size_t ldc) {
    int nth = 1;
#ifdef SPAR_HAVE_OPENMP
    /* Split only when OpenBLAS is single-threaded (else its own pool splits) and each share is worth a call. */
    if (spar_model_omp_ok() && !omp_in_parallel() && (double)M * N * K >= 4e6 && N >= 64) nth = omp_get_max_threads();
#endif
    if (nth <= 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb,
                    0.0f, C, (int)ldc);
        return;
    }
#ifdef SPAR_HAVE_OPENMP
    /* Several column chunks per thread, handed out dynamically: on a shared machine a preempted thread then
     * delays one small chunk, not half of the GEMM. Chunks stay >= 64 columns (packing A is amortised). */
    size_t n_chunks = SPAR_MAX((size_t)nth, SPAR_MIN((size_t)(4 * nth), N / 64));
    size_t chunk = ((N + n_chunks - 1) / n_chunks + 15) / 16 * 16;
    n_chunks = (N + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
    for (long i = 0; i < (long)n_chunks; i++) {
        size_t j0 = (size_t)i * chunk, nj = SPAR_MIN(chunk, N - j0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)nj, (int)K, 1.0f, A, (int)lda, B + j0 * ldb,
                    (int)ldb, 0.0f, C + j0, (int)ldc);
    }
#endif
}

/* Packed matrix `slot` of the current mode (see bert.h), or NULL in fp32 mode. */
static const spar_lowp_mat *lowp_at(const spar_bert *m, size_t slot) {
    return m->mode != 0 && m->lowp[m->mode] != NULL ? &m->lowp[m->mode][slot] : NULL;
}

/* y[T, out] = x[T, in] W[out, in]^T + b, with the packed weights when `P` is not NULL (the bf16 / int8 kernels
 * are spar's own and always run on its pool, encoders/kernels/pool.h). */
static spar_status linear(const float *x, size_t T, size_t in, const float *W, const spar_lowp_mat *P, const float *b,
                          size_t out, float *y) {
    if (P != NULL) {
        return spar_lowp_linear(P, x, T, in, b, y, out, spar_pool_default_threads());
    }
    spar_model_gemm_nt(T, out, in, x, in, W, in, y, out);
    if (b == NULL) return SPAR_OK;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T * out > 65536 && spar_model_omp_ok())
#endif
    for (size_t t = 0; t < T; t++) {
        float *r = y + t * out;
        for (size_t j = 0; j < out; j++) r[j] += b[j];
    }
    return SPAR_OK;
}

/* r = LayerNorm(r + q) for one row (q may be NULL); statistics in double. */
static void ln_row(float *r, const float *q, size_t d, const float *g, const float *b, float eps) {
    if (q != NULL)
        for (size_t j = 0; j < d; j++) r[j] += q[j];
    double s = 0, s2 = 0;
    for (size_t j = 0; j < d; j++) s += r[j];
    double mean = s / (double)d;
    for (size_t j = 0; j < d; j++) {
        double z = r[j] - mean;
        s2 += z * z;
    }
    float inv = (float)(1.0 / sqrt(s2 / (double)d + (double)eps));
    float mu = (float)mean;
    for (size_t j = 0; j < d; j++) r[j] = (r[j] - mu) * inv * g[j] + b[j];
}

static float act_one(float x, spar_act act) {
    if (act == SPAR_ACT_RELU) return x > 0 ? x : 0;
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

/* Row-wise work on spar's pool (bf16 / int8 mode): chunks of rows or elements. */
typedef struct rows_job {
    float *x;
    const float *res, *g, *b;
    size_t d, n, chunk;
    float eps;
    spar_act act;
} rows_job;

static void ln_task(void *ctx, size_t i, int tid) {
    const rows_job *j = ctx;
    (void)tid;
    for (size_t t = i * j->chunk; t < SPAR_MIN(j->n, (i + 1) * j->chunk); t++)
        ln_row(j->x + t * j->d, j->res != NULL ? j->res + t * j->d : NULL, j->d, j->g, j->b, j->eps);
}

static void act_task(void *ctx, size_t i, int tid) {
    const rows_job *j = ctx;
    (void)tid;
    for (size_t t = i * j->chunk; t < SPAR_MIN(j->n, (i + 1) * j->chunk); t++) j->x[t] = act_one(j->x[t], j->act);
}

/* Who runs row-wise loops: serial, OpenMP (fp32 with OpenBLAS single-threaded) or spar's pool (bf16 / int8). */
enum { PAR_NONE = 0, PAR_OMP = 1, PAR_POOL = 2 };
static int row_par(const spar_bert *m) {
    return m->mode != 0 || f32_packed(m) ? PAR_POOL : spar_model_omp_ok() ? PAR_OMP : PAR_NONE;
}

/* x = LayerNorm(x + res) row-wise (res may be NULL). */
static void add_layer_norm(float *x, const float *res, size_t T, size_t d, const float *g, const float *b, float eps,
                           int par) {
    if (par == PAR_POOL && T > 16) {
        rows_job j = {x, res, g, b, d, T, 16, eps, SPAR_ACT_GELU};
        spar_pool_run((T + 15) / 16, spar_pool_default_threads(), ln_task, &j);
        return;
    }
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (T > 16 && par == PAR_OMP)
#endif
    for (size_t t = 0; t < T; t++) ln_row(x + t * d, res != NULL ? res + t * d : NULL, d, g, b, eps);
}

static void activate(float *x, size_t n, spar_act act, int par) {
    if (par == PAR_POOL && n > 65536) {
        rows_job j = {x, NULL, NULL, NULL, 0, n, 16384, 0, act};
        spar_pool_run((n + 16383) / 16384, spar_pool_default_threads(), act_task, &j);
        return;
    }
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (n > 65536 && par == PAR_OMP)
#endif
    for (size_t i = 0; i < n; i++) x[i] = act_one(x[i], act);
}

/* Attention of one (sequence, head) pair in bf16 / int8 mode: encoders/attention's flash-style fp32 kernel
 * (AVX2+FMA or scalar, no BLAS) with a full mask, i.e. exact dense attention, on the calling pool thread. */
typedef struct attn_job {
    const float *qkv;
    float *ctx;
    const uint32_t *lens;
    const size_t *starts;
    size_t d, H, dh;
    float scale;
    _Atomic int failed;
} attn_job;

static void attn_task(void *ctx, size_t pi, int tid) {
    attn_job *j = ctx;
    size_t s = pi / j->H, h = pi % j->H, base = j->starts[s];
    (void)tid;
    spar_attn_args a;
    memset(&a, 0, sizeof a);
    a.q = j->qkv + base * 3 * j->d + h * j->dh;
    a.k = a.q + j->d;
    a.v = a.q + 2 * j->d;
    a.ld_q = a.ld_k = a.ld_v = 3 * j->d;
    a.seq_len = j->lens[s];
    a.n_heads = 1;
    a.d_head = (uint32_t)j->dh;
    a.scale = j->scale;
    a.n_threads = 1;
    spar_attn_mask mk = {0};
    spar_status st = spar_attn_mask_full(j->lens[s], &mk);
    if (st == SPAR_OK) st = spar_attn_block_sparse(&a, &mk, j->ctx + base * j->d + h * j->dh, j->d);
    spar_attn_mask_free(&mk);
    if (st != SPAR_OK) j->failed = 1;
}

/* fp32 with packed weights (f32_packed): the linear layers on spar's pool, bias and (for the first FFN layer)
 * the activation fused; GELU uses the vectorised erfc approximation of gemm_f32.h (within 9.3e-8 (1 + |x|) of
 * the erff formula; SPAR_GEMM_EPI_GELU would reproduce act_one() bit for bit at ~5% of batch-32 time). */
typedef struct f32_job {
    spar_gemm_f32_plan pl;
    float *scratch; /* SPAR_GEMM_F32_SCRATCH floats per pool thread */
} f32_job;

static void f32_task(void *ctx, size_t i, int tid) {
    f32_job *j = ctx;
    spar_gemm_f32_run_unit(&j->pl, i, j->scratch + (size_t)tid * SPAR_GEMM_F32_SCRATCH);
}

static spar_status linear_f32(const float *x, size_t T, const spar_gemm_f32_packed *F, const float *b, float *y,
                              spar_gemm_epi epi) {
    int nth = spar_pool_default_threads();
    f32_job j;
    size_t n = spar_gemm_f32_plan_make(&j.pl, F, spar_gemm_f32_isa_best(), epi, x, T, F->k, b, y, F->n, nth);
    if (n == 0) return SPAR_E_INVALID_ARG;
    if ((j.scratch = spar_malloc_array((size_t)nth, SPAR_GEMM_F32_SCRATCH * sizeof(float))) == NULL) return SPAR_E_NOMEM;
    spar_pool_run(n, nth, f32_task, &j);
    free(j.scratch);
    return SPAR_OK;
}

/* Attention of one (sequence, head) pair in packed fp32 mode: gemm_f32's head kernel (scores and context on
 * the GEMM micro-kernels, no BLAS), scratch per pool thread. */
typedef struct f32_attn_job {
    const float *qkv;
    float *ctx, *work;
    const uint32_t *lens;
    const size_t *starts;
    size_t d, H, dh, work_floats;
    float scale;
    _Atomic int failed;
} f32_attn_job;

static void f32_attn_task(void *ctx, size_t pi, int tid) {
    f32_attn_job *j = ctx;
    size_t s = pi / j->H, h = pi % j->H, base = j->starts[s];
    const float *q = j->qkv + base * 3 * j->d + h * j->dh;
    if (spar_attn_f32_head(spar_gemm_f32_isa_best(), q, q + j->d, q + 2 * j->d, 3 * j->d, j->lens[s], j->dh, j->scale,
                           j->ctx + base * j->d + h * j->dh, j->d, j->work + (size_t)tid * j->work_floats) != SPAR_OK)
        j->failed = 1;
}

static void softmax_rows(float *s, size_t n_rows, size_t n) {
    for (size_t i = 0; i < n_rows; i++) {
        float *r = s + i * n, mx = r[0];
        for (size_t j = 1; j < n; j++) mx = r[j] > mx ? r[j] : mx;
        float sum = 0;
        for (size_t j = 0; j < n; j++) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < n; j++) r[j] *= inv;
    }
}

spar_status spar_bert_forward(const spar_bert *m, const uint32_t *ids, const uint32_t *lens, size_t n_seqs,
                              float *X) {
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
    float *qkv = spar_malloc_array(T, 3 * d * sizeof(float));
    float *ctx = spar_malloc_array(T, d * sizeof(float));
    float *tmp = spar_malloc_array(T, SPAR_MAX(d, f) * sizeof(float));
    int n_thr = 1;
#ifdef SPAR_HAVE_OPENMP
    n_thr = SPAR_MAX(1, omp_get_max_threads());
#endif
    int par = row_par(m); /* only one thread pool is ever busy */
    size_t *starts = spar_malloc_array(n_seqs, sizeof(size_t));
    int fp = f32_packed(m);
    n_thr = SPAR_MAX(n_thr, spar_pool_default_threads());
    /* One score matrix per thread, or the head kernel's scratch in packed fp32 mode. */
    size_t sc_floats = fp ? spar_attn_f32_work_floats(n_max, dh) : n_max * n_max;
    float *sc = spar_malloc_array((size_t)n_thr, sc_floats * sizeof(float));
    spar_status st = SPAR_OK;
    if (qkv == NULL || ctx == NULL || tmp == NULL || sc == NULL || starts == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (size_t s = 0, b0 = 0; s < n_seqs; s++) {
        starts[s] = b0;
        b0 += lens[s];
    }

    /* Embeddings: word (+ token type 0) + position, then LayerNorm. */
    {
        size_t t = 0;
        /* bf16 / int8 with a tied decoder: embedding rows come from the packed decoder (one at a time, into
         * `tmp`), whether or not the fp32 table was dropped, so both give the same numbers. */
        const spar_lowp_mat *tied =
            (m->word_emb == NULL || m->dec_w == m->word_emb) ? spar_bert_lowp_decoder(m) : NULL;
        if (m->word_emb == NULL && tied == NULL) { st = SPAR_E_INVALID_ARG; goto done; }
        for (size_t s = 0; s < n_seqs; s++)
            for (uint32_t p = 0; p < lens[s]; p++, t++) {
                const float *w, *pe = m->pos_emb + (size_t)p * d;
                if (tied != NULL) {
                    spar_lowp_mat_row(tied, ids[t], tmp);
                    w = tmp;
                } else if (m->dec_p != NULL && m->dec_w == m->word_emb) {
                    spar_bert_decoder_row(m, ids[t], tmp); /* the tied table is packed for the decoder */
                    w = tmp;
                } else {
                    w = m->word_emb + (size_t)ids[t] * d;
                }
                float *r = X + t * d;
                if (m->type_emb != NULL)
                    for (size_t j = 0; j < d; j++) r[j] = (w[j] + m->type_emb[j]) + pe[j];
                else
                    for (size_t j = 0; j < d; j++) r[j] = w[j] + pe[j];
            }
    }
    add_layer_norm(X, NULL, T, d, m->emb_ln_g, m->emb_ln_b, c->ln_eps, par);

    const float scale = 1.0f / sqrtf((float)dh);
    for (uint32_t l = 0; l < c->n_layers; l++) {
        const spar_bert_layer *y = &m->layers[l];
        const size_t sl = 4 * (size_t)l;
        if (fp) SPAR_TRY_GOTO(st, linear_f32(X, T, y->qkv_p, y->qkv_b, qkv, SPAR_GEMM_EPI_NONE), done);
        else SPAR_TRY_GOTO(st, linear(X, T, d, y->qkv_w, lowp_at(m, sl), y->qkv_b, 3 * d, qkv), done);
        if (fp) {
            f32_attn_job aj = {qkv, ctx, sc, lens, starts, d, H, dh, sc_floats, scale, 0};
            spar_pool_run(n_seqs * H, spar_pool_default_threads(), f32_attn_task, &aj);
            if (aj.failed) { st = SPAR_E_INVALID_ARG; goto done; }
        } else if (m->mode != 0) {
            /* bf16 / int8 weights: spar's pool runs the linear layers, so attention must not wake OpenBLAS's
             * pool too (two pools preempt each other on few cores): attn_task per (sequence, head) pair. */
            attn_job aj = {qkv, ctx, lens, starts, d, H, dh, scale, 0};
            spar_pool_run(n_seqs * H, spar_pool_default_threads(), attn_task, &aj);
            if (aj.failed) { st = SPAR_E_NOMEM; goto done; }
        } else {
        /* Attention per (sequence, head) pair. With OpenBLAS single-threaded the pairs are split across
         * OpenMP threads (each with its own score matrix); otherwise OpenBLAS threads each small GEMM. */
        long n_pairs = (long)(n_seqs * H);
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_thr) if (n_thr > 1 && spar_model_omp_ok())
#endif
        for (long pi = 0; pi < n_pairs; pi++) {
            size_t s = (size_t)pi / H, h = (size_t)pi % H, n = lens[s], base = starts[s];
            int tid = 0;
#ifdef SPAR_HAVE_OPENMP
            tid = omp_get_thread_num();
#endif
            float *scr = sc + (size_t)tid * sc_floats;
            const float *q = qkv + base * 3 * d + h * dh, *k = q + d, *v = q + 2 * d;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)dh, scale, q, (int)(3 * d), k,
                        (int)(3 * d), 0.0f, scr, (int)n);
            softmax_rows(scr, n, n);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)dh, (int)n, 1.0f, scr, (int)n, v,
                        (int)(3 * d), 0.0f, ctx + base * d + h * dh, (int)d);
        }
        }
        if (fp) SPAR_TRY_GOTO(st, linear_f32(ctx, T, y->o_p, y->o_b, tmp, SPAR_GEMM_EPI_NONE), done);
        else SPAR_TRY_GOTO(st, linear(ctx, T, d, y->o_w, lowp_at(m, sl + 1), y->o_b, d, tmp), done);
        add_layer_norm(X, tmp, T, d, y->ln1_g, y->ln1_b, c->ln_eps, par); /* X = LN(attn + X) */
        float *ff = qkv; /* reuse: T x 3d >= T x f is not guaranteed, so check */
        float *ffb = (f <= 3 * d) ? ff : NULL;
        if (ffb == NULL) {
            ffb = spar_malloc_array(T, f * sizeof(float));
            if (ffb == NULL) { st = SPAR_E_NOMEM; goto done; }
        }
        if (fp) {
            st = linear_f32(X, T, y->ff1_p, y->ff1_b, ffb,
                            c->act == SPAR_ACT_RELU ? SPAR_GEMM_EPI_RELU : SPAR_GEMM_EPI_GELU_FAST);
            if (st == SPAR_OK) st = linear_f32(ffb, T, y->ff2_p, y->ff2_b, tmp, SPAR_GEMM_EPI_NONE);
        } else {
            st = linear(X, T, d, y->ff1_w, lowp_at(m, sl + 2), y->ff1_b, f, ffb);
            if (st == SPAR_OK) activate(ffb, T * f, c->act, par);
            if (st == SPAR_OK) st = linear(ffb, T, f, y->ff2_w, lowp_at(m, sl + 3), y->ff2_b, d, tmp);
        }
        if (ffb != ff) free(ffb);
        if (st != SPAR_OK) goto done;
        add_layer_norm(X, tmp, T, d, y->ln2_g, y->ln2_b, c->ln_eps, par);
    }
done:
    free(qkv);
    free(ctx);
    free(tmp);
    free(sc);
    free(starts);
    return st;
}

spar_status spar_bert_mlm_transform(const spar_bert *m, const float *h, size_t T, float *out) {
    if (m == NULL || !m->has_mlm) return SPAR_E_UNSUPPORTED;
    size_t d = m->cfg.hidden;
    if (f32_packed(m) && m->tr_p != NULL) SPAR_TRY(linear_f32(h, T, m->tr_p, m->tr_b, out, SPAR_GEMM_EPI_NONE));
    else SPAR_TRY(linear(h, T, d, m->tr_w, lowp_at(m, 4 * (size_t)m->cfg.n_layers), m->tr_b, d, out));
    int par = row_par(m);
    activate(out, T * d, m->cfg.act, par);
    add_layer_norm(out, NULL, T, d, m->tr_ln_g, m->tr_ln_b, m->cfg.ln_eps, par);
    return SPAR_OK;
}

spar_status spar_bert_mlm_logits(const spar_bert *m, const float *h2, size_t T, float *logits) {
    if (m == NULL || !m->has_mlm) return SPAR_E_UNSUPPORTED;
    if (m->mode == 0 && m->dec_p != NULL) {
        size_t V = m->cfg.vocab_size, nm = m->dec_p->n;
        SPAR_TRY(spar_gemm_f32_apply(m->dec_p, h2, T, m->cfg.hidden, m->dec_b, logits, V, 1));
        if (m->dec_tail_p != NULL)
            SPAR_TRY(spar_gemm_f32_apply(m->dec_tail_p, h2, T, m->cfg.hidden, m->dec_b + nm, logits + nm, V, 1));
        return SPAR_OK;
    }
    return linear(h2, T, m->cfg.hidden, m->dec_w, spar_bert_lowp_decoder(m), m->dec_b, m->cfg.vocab_size, logits);
}
