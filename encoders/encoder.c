/* encoder.c — the public encoder API (include/spar/spar_encode.h): opens a Hugging Face folder through
 * encoders/model (config.c, safetensors.c, bert.c or modernbert.c), tokenises text, packs inputs into
 * padding-free chunks of at most max_batch_tokens tokens, runs the forward pass (ModernBERT with the
 * attention policy of the options) and the requested head (heads.c), and turns SPLADE weight rows into sparse
 * vectors (threshold, optional special-token removal and top-k). With long_doc_stride, SPLADE inputs longer
 * than max_length become overlapping chunks whose vectors are max-combined. */
#include "spar/spar_encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/attention/attention.h"
#include "encoders/model/bert.h"
#include "encoders/model/modernbert.h"
#include "encoders/model/heads.h"
#include "encoders/sparse/idf_query.h"
#include "encoders/tokenizer/tokenizer.h"

#define SPECIAL_MAX 5

struct spar_encoder {
    spar_bert *model;  /* BERT / DistilBERT, or NULL */
    spar_mbert *mb;    /* ModernBERT, or NULL */
    const spar_model_config *cfg;
    int has_mlm;
    const float *dec_w, *dec_b;
    const spar_lowp_mat *dec_lowp; /* packed decoder (bf16 / int8 weights), else NULL */
    spar_attn_policy policy; /* ModernBERT global layers */
    spar_attn_policy *layer_pol;                /* per-layer overrides (attention_layers), or NULL */
    const spar_attn_policy **layer_pol_ptr;     /* n_layers entries into layer_pol, NULL = use policy */
    uint32_t stride;         /* long_doc_stride */
    uint32_t max_length;
    uint32_t max_batch_tokens;
    int has_vocab;
    uint32_t special[SPECIAL_MAX]; /* ids of [PAD] [UNK] [CLS] [SEP] [MASK] found in vocab.txt */
    size_t n_special;
    spar_tokenizer *tokenizer; /* from tokenizer.json or vocab.txt; NULL when the folder has neither */
};

spar_encoder_opts spar_encoder_opts_default(void) {
    spar_encoder_opts o;
    memset(&o, 0, sizeof o);
    o.weights = SPAR_WEIGHTS_F32;
    o.attention = SPAR_ATTENTION_DENSE;
    return o;
}
spar_splade_opts spar_splade_opts_default(void) {
    spar_splade_opts o = {SPAR_SPLADE_POOL_MAX, 0, 0.0f, 0};
    return o;
}
spar_dense_opts spar_dense_opts_default(void) {
    spar_dense_opts o = {SPAR_DENSE_POOL_CLS, 0};
    return o;
}

/* Record the ids of the special tokens (line number = id in vocab.txt). */
static int read_specials(spar_encoder *e, const char *dir) {
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    static const char *const names[SPECIAL_MAX] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    uint32_t id = 0;
    int at_start = 1; /* a line longer than the buffer arrives in pieces: count it once */
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line);
        int ends = (n > 0 && line[n - 1] == '\n') || feof(f);
        line[strcspn(line, "\r\n")] = 0;
        if (at_start)
            for (int i = 0; i < SPECIAL_MAX; i++)
                if (ends && strcmp(line, names[i]) == 0 && e->n_special < SPECIAL_MAX) e->special[e->n_special++] = id;
        if (ends) id++;
        at_start = ends;
    }
    fclose(f);
    return 1;
}

spar_status spar_encoder_open(const char *model_dir, const spar_encoder_opts *opts, spar_encoder **out,
                              spar_diag *diag) {
    if (model_dir == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_encoder_opts o = opts != NULL ? *opts : spar_encoder_opts_default();
    if (o.weights < SPAR_WEIGHTS_F32 || o.weights > SPAR_WEIGHTS_INT8)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "encoder: unknown weights mode %d", o.weights);
    if (o.attention < SPAR_ATTENTION_DENSE || o.attention > SPAR_ATTENTION_VERTICAL_SLASH)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "encoder: unknown attention mode %d", o.attention);
    if (!(o.attention_tau >= 0.0f && o.attention_tau <= 1.0f))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "encoder: attention tau %g not in (0, 1]", (double)o.attention_tau);
    if (o.n_attention_layers > 0 && o.attention_layers == NULL)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "encoder: n_attention_layers %u without attention_layers",
                             o.n_attention_layers);
    for (uint32_t l = 0; l < o.n_attention_layers; l++)
        if (o.attention_layers[l] < -1 || o.attention_layers[l] > SPAR_ATTENTION_VERTICAL_SLASH)
            return spar_diag_err(diag, SPAR_E_INVALID_ARG, "encoder: attention_layers[%u] = %d: unknown mode", l,
                                 (int)o.attention_layers[l]);
    char cpath[4096];
    spar_model_config cfg;
    snprintf(cpath, sizeof cpath, "%s/config.json", model_dir);
    SPAR_TRY(spar_model_config_load(cpath, &cfg, diag));
    spar_encoder *e = calloc(1, sizeof *e);
    if (e == NULL) return SPAR_E_NOMEM;
    spar_status st;
    if (cfg.arch == SPAR_ARCH_MODERNBERT) {
        if (o.weights != SPAR_WEIGHTS_F32) {
            free(e);
            return spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: modernbert supports f32 weights only", model_dir);
        }
        st = spar_mbert_load(model_dir, &e->mb, diag);
    } else {
        st = spar_bert_load(model_dir, &e->model, diag);
    }
    if (st != SPAR_OK) {
        free(e);
        return st;
    }
    if (e->model != NULL) {
        if (o.weights != SPAR_WEIGHTS_F32) { /* real bf16 / int8 compute; the fp32 copies are freed */
            st = spar_bert_set_weights(e->model, o.weights, 1);
            if (st != SPAR_OK) {
                spar_encoder_close(e);
                return spar_diag_err(diag, st, "%s: packing %s weights failed", model_dir,
                                     o.weights == SPAR_WEIGHTS_BF16 ? "bf16" : "int8");
            }
            e->dec_lowp = spar_bert_lowp_decoder(e->model);
        }
        e->cfg = &e->model->cfg;
        e->has_mlm = e->model->has_mlm;
        e->dec_w = e->model->dec_w;
        e->dec_b = e->model->dec_b;
        /* fp32: the tied decoder packed once, in place (no second copy); SPLADE then reads the packed strips.
         * Refused (unaligned buffer, tiny vocabulary) leaves the row-major path. */
        if (o.weights == SPAR_WEIGHTS_F32 && e->model->has_mlm) (void)spar_bert_pack_decoder(e->model);
    } else {
        e->cfg = &e->mb->cfg;
        e->has_mlm = e->mb->has_mlm;
        e->dec_w = e->mb->dec_w;
        e->dec_b = e->mb->dec_b;
    }
    static const spar_attn_policy_kind kinds[] = {SPAR_ATTN_DENSE, SPAR_ATTN_LOCAL_GLOBAL, SPAR_ATTN_QUERY_AWARE,
                                                  SPAR_ATTN_VERTICAL_SLASH};
    spar_attn_policy_default(&e->policy, kinds[o.attention]);
    if (o.attention_threshold) e->policy.min_len = o.attention_threshold;
    if (o.attention_tau > 0) e->policy.tau = o.attention_tau;
    if (o.attention_window) e->policy.window = o.attention_window;
    if (o.n_attention_layers > 0) { /* per-layer choices, validated against the model's layer pattern */
        const spar_model_config *c = e->cfg;
        const char *why = NULL;
        uint32_t bad = 0;
        if (o.n_attention_layers > c->n_layers) {
            why = "more entries than the model has layers";
            bad = o.n_attention_layers;
        }
        for (uint32_t l = 0; why == NULL && l < o.n_attention_layers; l++) {
            int global = c->arch == SPAR_ARCH_MODERNBERT && c->layer_global[l];
            if (!global && o.attention_layers[l] > SPAR_ATTENTION_DENSE) {
                why = "is not a global-attention layer of a ModernBERT model (only those can run sparse)";
                bad = l;
            }
        }
        if (why != NULL) {
            spar_encoder_close(e);
            return spar_diag_err(diag, SPAR_E_INVALID_ARG, "%s: attention_layers: layer %u %s", model_dir, bad, why);
        }
        e->layer_pol = calloc(c->n_layers, sizeof *e->layer_pol);
        e->layer_pol_ptr = calloc(c->n_layers, sizeof *e->layer_pol_ptr);
        if (e->layer_pol == NULL || e->layer_pol_ptr == NULL) {
            spar_encoder_close(e);
            return SPAR_E_NOMEM;
        }
        for (uint32_t l = 0; l < o.n_attention_layers; l++) {
            if (o.attention_layers[l] < 0) continue;
            spar_attn_policy_default(&e->layer_pol[l], kinds[o.attention_layers[l]]);
            if (o.attention_threshold) e->layer_pol[l].min_len = o.attention_threshold;
            if (o.attention_tau > 0) e->layer_pol[l].tau = o.attention_tau;
            if (o.attention_window) e->layer_pol[l].window = o.attention_window;
            e->layer_pol_ptr[l] = &e->layer_pol[l];
        }
    }
    uint32_t mp = e->cfg->max_positions;
    e->max_length = (o.max_length == 0 || o.max_length > mp) ? mp : o.max_length;
    e->max_batch_tokens = o.max_batch_tokens == 0 ? 4096 : o.max_batch_tokens;
    e->max_batch_tokens = SPAR_MAX(e->max_batch_tokens, e->max_length);
    if (o.long_doc_stride > 0 && (e->max_length < 3 || o.long_doc_stride > e->max_length - 2)) {
        uint32_t ml = e->max_length;
        spar_encoder_close(e);
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "encoder: long-document stride %u must be in [1, %u]",
                             o.long_doc_stride, ml > 2 ? ml - 2 : 0);
    }
    e->stride = o.long_doc_stride;
    st = spar_tokenizer_load(model_dir, &e->tokenizer, diag);
    if (st == SPAR_E_UNSUPPORTED && e->mb != NULL) { /* BPE tokenizer.json: token-id input only */
        e->tokenizer = NULL;
        if (diag != NULL) diag->msg[0] = 0;
        const int64_t sp[4] = {e->cfg->pad_token_id, e->cfg->cls_token_id, e->cfg->sep_token_id,
                               e->cfg->mask_token_id};
        for (int i = 0; i < 4; i++)
            if (sp[i] >= 0) e->special[e->n_special++] = (uint32_t)sp[i];
    } else if (st == SPAR_E_NOT_FOUND) {
        e->tokenizer = NULL; /* token-id input only */
        e->has_vocab = read_specials(e, model_dir);
    } else if (st != SPAR_OK) {
        spar_encoder_close(e);
        return st;
    } else {
        spar_tokenizer_info ti;
        spar_tokenizer_get_info(e->tokenizer, &ti);
        if (ti.vocab_size > e->cfg->vocab_size) {
            uint32_t mv = e->cfg->vocab_size;
            spar_encoder_close(e);
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tokenizer has %u tokens but the model's vocab_size is %u",
                                 model_dir, ti.vocab_size, mv);
        }
        e->has_vocab = 1;
        const int64_t sp[SPECIAL_MAX] = {ti.pad_id, ti.unk_id, ti.cls_id, ti.sep_id, ti.mask_id};
        for (int i = 0; i < SPECIAL_MAX; i++)
            if (sp[i] >= 0) e->special[e->n_special++] = (uint32_t)sp[i];
    }
    *out = e;
    return SPAR_OK;
}

void spar_encoder_close(spar_encoder *e) {
    if (e == NULL) return;
    spar_bert_free(e->model);
    spar_mbert_free(e->mb);
    spar_tokenizer_free(e->tokenizer);
    free(e->layer_pol);
    free(e->layer_pol_ptr);
    free(e);
}

void spar_encoder_get_info(const spar_encoder *e, spar_encoder_info *info) {
    const spar_model_config *c = e->cfg;
    info->arch = c->arch == SPAR_ARCH_BERT ? "bert" : c->arch == SPAR_ARCH_DISTILBERT ? "distilbert" : "modernbert";
    info->vocab_size = c->vocab_size;
    info->hidden = c->hidden;
    info->n_layers = c->n_layers;
    info->max_length = e->max_length;
    info->proj_dim = e->model != NULL ? e->model->proj_dim : 0;
    info->has_mlm_head = e->has_mlm;
    info->has_vocab = e->has_vocab && e->tokenizer != NULL;
}

/* Tokenise one text into at most cap ids ([CLS] ... [SEP], truncated). */
static spar_status tokenize(const spar_encoder *e, const char *text, uint32_t *ids, uint32_t cap, uint32_t *n) {
    *n = 0;
    if (e->tokenizer == NULL) return SPAR_E_UNSUPPORTED;
    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.max_len = cap;
    o.add_special = 1;
    o.replace_invalid = 1; /* invalid UTF-8 becomes U+FFFD, which BERT cleanup drops (HF on decoded bytes) */
    size_t got = 0;
    SPAR_TRY(spar_tokenizer_encode(e->tokenizer, text, strlen(text), &o, ids, NULL, cap, &got, NULL));
    *n = (uint32_t)got;
    return SPAR_OK;
}

/* A packed chunk of inputs [first, first + n_seqs): ids back to back, lens per input. */
typedef struct chunk {
    uint32_t *ids;
    uint32_t *lens;
    size_t n_seqs, n_tokens;
} chunk;

/* Gather inputs starting at `first` until adding one more would pass max_batch_tokens. */
static spar_status next_chunk(const spar_encoder *e, const spar_encode_input *in, size_t first, chunk *ck) {
    ck->n_seqs = ck->n_tokens = 0;
    for (size_t i = first; i < in->n; i++) {
        uint32_t *dst = ck->ids + ck->n_tokens, n = 0;
        if (ck->n_tokens + e->max_length > e->max_batch_tokens && ck->n_seqs > 0) break;
        if (in->seqs != NULL) {
            n = in->seqs[i].n;
            if (n == 0 || n > e->max_length || in->seqs[i].ids == NULL) return SPAR_E_INVALID_ARG;
            for (uint32_t t = 0; t < n; t++) {
                if (in->seqs[i].ids[t] >= e->cfg->vocab_size) return SPAR_E_INVALID_ARG;
                dst[t] = in->seqs[i].ids[t];
            }
        } else {
            if (in->texts[i] == NULL) return SPAR_E_INVALID_ARG;
            SPAR_TRY(tokenize(e, in->texts[i], dst, e->max_length, &n));
            if (n == 0) return SPAR_E_INVALID_ARG;
        }
        ck->lens[ck->n_seqs++] = n;
        ck->n_tokens += n;
    }
    return SPAR_OK;
}

static spar_status check_input(const spar_encoder *e, const spar_encode_input *in) {
    if (e == NULL || in == NULL || (in->texts == NULL) == (in->seqs == NULL)) return SPAR_E_INVALID_ARG;
    if (in->texts != NULL && e->tokenizer == NULL) return SPAR_E_UNSUPPORTED;
    return SPAR_OK;
}

static int is_special(const spar_encoder *e, uint32_t id) {
    for (size_t i = 0; i < e->n_special; i++)
        if (e->special[i] == id) return 1;
    return 0;
}

typedef struct scored {
    uint32_t id;
    float w;
} scored;
static int by_weight_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}
static int by_id(const void *a, const void *b) {
    const scored *x = a, *y = b;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Turn one dense weight row into a sparse result. */
static spar_status sparsify(const spar_encoder *e, const float *row, size_t V, const spar_splade_opts *o,
                            scored *tmp, spar_sparse_result *r) {
    size_t n = 0;
    for (size_t v = 0; v < V; v++)
        if (row[v] > o->threshold && row[v] > 0 && !(o->drop_special && is_special(e, (uint32_t)v)))
            tmp[n++] = (scored){(uint32_t)v, row[v]};
    if (o->top_k > 0 && n > o->top_k) {
        qsort(tmp, n, sizeof *tmp, by_weight_desc);
        n = o->top_k;
        qsort(tmp, n, sizeof *tmp, by_id);
    }
    r->ids = spar_malloc_array(n ? n : 1, sizeof *r->ids);
    r->weights = spar_malloc_array(n ? n : 1, sizeof *r->weights);
    if (r->ids == NULL || r->weights == NULL) {
        free(r->ids);
        free(r->weights);
        r->ids = NULL;
        r->weights = NULL;
        return SPAR_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        r->ids[i] = tmp[i].id;
        r->weights[i] = tmp[i].w;
    }
    r->n = (uint32_t)n;
    return SPAR_OK;
}

void spar_sparse_results_free(spar_sparse_result *r, size_t n) {
    if (r == NULL) return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].ids);
        free(r[i].weights);
        r[i].ids = NULL;
        r[i].weights = NULL;
        r[i].n = 0;
    }
}

/* ---------------------------------------------------------------- model dispatch */

static spar_status model_forward(const spar_encoder *e, const uint32_t *ids, const uint32_t *lens, size_t n,
                                 float *h) {
    if (e->mb != NULL) {
        spar_mbert_run run;
        memset(&run, 0, sizeof run);
        run.global_policy = &e->policy;
        run.layer_policy = e->layer_pol_ptr;
        return spar_mbert_forward(e->mb, ids, lens, n, &run, h);
    }
    return spar_bert_forward(e->model, ids, lens, n, h);
}

static spar_status model_transform(const spar_encoder *e, const float *h, size_t T, float *h2) {
    return e->mb != NULL ? spar_mbert_mlm_transform(e->mb, h, T, h2) : spar_bert_mlm_transform(e->model, h, T, h2);
}

/* Work buffers sized for one chunk. */
typedef struct work {
    chunk ck;
    float *h, *h2, *rows, *acc;
    scored *tmp;
    size_t *owner;   /* SPLADE: input index of each packed sequence */
    uint32_t *full;  /* SPLADE: the current input's untruncated ids */
    size_t full_cap;
} work;

static spar_status work_init(const spar_encoder *e, work *w, int splade) {
    size_t T = e->max_batch_tokens, d = e->cfg->hidden, V = e->cfg->vocab_size;
    size_t max_seqs = T; /* every sequence has at least one token */
    memset(w, 0, sizeof *w);
    w->ck.ids = spar_malloc_array(T, sizeof(uint32_t));
    w->ck.lens = spar_malloc_array(max_seqs, sizeof(uint32_t));
    w->h = spar_malloc_array(T, d * sizeof(float));
    if (w->ck.ids == NULL || w->ck.lens == NULL || w->h == NULL) return SPAR_E_NOMEM;
    if (splade) {
        /* SPLADE rows are produced for at most 64 sequences at a time (see spar_encode_splade_batch). */
        w->h2 = spar_malloc_array(T, d * sizeof(float));
        w->rows = spar_malloc_array(64, V * sizeof(float));
        w->acc = spar_malloc_array(V, sizeof(float));
        w->tmp = spar_malloc_array(V, sizeof(scored));
        w->owner = spar_malloc_array(max_seqs, sizeof(size_t));
        if (w->h2 == NULL || w->rows == NULL || w->acc == NULL || w->tmp == NULL || w->owner == NULL)
            return SPAR_E_NOMEM;
    }
    return SPAR_OK;
}

static void work_free(work *w) {
    free(w->ck.ids);
    free(w->ck.lens);
    free(w->h);
    free(w->h2);
    free(w->rows);
    free(w->acc);
    free(w->tmp);
    free(w->owner);
    free(w->full);
}

/* Position in the list of SPLADE pieces: input `input`, its piece `piece` (of n_pieces). */
typedef struct cursor {
    size_t input;
    uint32_t piece, n_pieces;
    const uint32_t *ids; /* the input's ids (untruncated when chunking) */
    uint32_t n;
} cursor;

/* Load input c->input: its ids (tokenised without truncation when chunking, else truncated to max_length)
 * and its piece count. */
static spar_status cursor_load(const spar_encoder *e, const spar_encode_input *in, work *w, cursor *c) {
    size_t i = c->input;
    uint32_t ml = e->max_length;
    if (in->seqs != NULL) {
        const spar_token_ids *q = &in->seqs[i];
        if (q->n == 0 || q->ids == NULL || (q->n > ml && e->stride == 0)) return SPAR_E_INVALID_ARG;
        for (uint32_t t = 0; t < q->n; t++)
            if (q->ids[t] >= e->cfg->vocab_size) return SPAR_E_INVALID_ARG;
        c->ids = q->ids;
        c->n = q->n;
    } else {
        if (in->texts[i] == NULL) return SPAR_E_INVALID_ARG;
        size_t len = strlen(in->texts[i]);
        size_t cap = e->stride ? spar_tokenizer_encode_bound(len) : ml;
        if (cap > w->full_cap) {
            uint32_t *nf = spar_realloc_array(w->full, cap, sizeof *nf);
            if (nf == NULL) return SPAR_E_NOMEM;
            w->full = nf;
            w->full_cap = cap;
        }
        if (e->tokenizer == NULL) return SPAR_E_UNSUPPORTED;
        spar_tokenize_opts o = spar_tokenize_opts_default();
        o.max_len = e->stride ? 0 : ml;
        o.add_special = 1;
        o.replace_invalid = 1;
        size_t got = 0;
        SPAR_TRY(spar_tokenizer_encode(e->tokenizer, in->texts[i], len, &o, w->full, NULL, cap, &got, NULL));
        if (got == 0 || got > UINT32_MAX) return SPAR_E_INVALID_ARG;
        c->ids = w->full;
        c->n = (uint32_t)got;
    }
    c->piece = 0;
    c->n_pieces = 1;
    if (e->stride && c->n > ml) { /* body n-2 tokens, windows of ml-2 advancing by stride */
        uint32_t body = c->n - 2, win = ml - 2;
        c->n_pieces = 1 + (body - win + e->stride - 1) / e->stride;
    }
    return SPAR_OK;
}

/* Pack pieces from the cursor into w->ck until the next would pass max_batch_tokens. */
static spar_status next_pieces(const spar_encoder *e, const spar_encode_input *in, work *w, cursor *c) {
    chunk *ck = &w->ck;
    ck->n_seqs = ck->n_tokens = 0;
    while (c->input < in->n) {
        /* same rule as next_chunk: room for a full max_length piece (every piece is at most that long) */
        if (ck->n_tokens + e->max_length > e->max_batch_tokens && ck->n_seqs > 0) break;
        if (c->n_pieces == 0) SPAR_TRY(cursor_load(e, in, w, c));
        uint32_t len = c->n;
        const uint32_t *src = c->ids;
        uint32_t start = 0;
        if (c->n_pieces > 1) {
            uint32_t body = c->n - 2, win = e->max_length - 2;
            start = c->piece * e->stride;
            len = SPAR_MIN(win, body - start) + 2;
        }
        uint32_t *dst = ck->ids + ck->n_tokens;
        if (c->n_pieces > 1) {
            dst[0] = src[0];
            memcpy(dst + 1, src + 1 + start, (size_t)(len - 2) * sizeof *dst);
            dst[len - 1] = src[c->n - 1];
        } else {
            memcpy(dst, src, (size_t)len * sizeof *dst);
        }
        w->owner[ck->n_seqs] = c->input;
        ck->lens[ck->n_seqs++] = len;
        ck->n_tokens += len;
        if (++c->piece == c->n_pieces) {
            c->input++;
            c->n_pieces = 0;
        }
    }
    return SPAR_OK;
}

spar_status spar_encode_splade_batch(const spar_encoder *e, const spar_encode_input *in, const spar_splade_opts *opts,
                                     spar_sparse_result *out) {
    SPAR_TRY(check_input(e, in));
    if (out == NULL) return SPAR_E_INVALID_ARG;
    if (!e->has_mlm) return SPAR_E_UNSUPPORTED;
    spar_splade_opts o = opts != NULL ? *opts : spar_splade_opts_default();
    if (o.pooling != SPAR_SPLADE_POOL_MAX && o.pooling != SPAR_SPLADE_POOL_SUM) return SPAR_E_INVALID_ARG;
    memset(out, 0, in->n * sizeof *out);
    size_t d = e->cfg->hidden, V = e->cfg->vocab_size;
    work w;
    cursor cur = {0, 0, 0, NULL, 0};
    size_t acc_owner = SIZE_MAX; /* input whose pieces are being max-combined in w.acc */
    spar_status st = work_init(e, &w, 1);
    while (st == SPAR_OK && cur.input < in->n) {
        SPAR_TRY_GOTO(st, next_pieces(e, in, &w, &cur), fail);
        SPAR_TRY_GOTO(st, model_forward(e, w.ck.ids, w.ck.lens, w.ck.n_seqs, w.h), fail);
        SPAR_TRY_GOTO(st, model_transform(e, w.h, w.ck.n_tokens, w.h2), fail);
        /* Pool 64 sequences at a time so the weight rows stay bounded (64 x V floats). */
        size_t tok = 0;
        for (size_t s0 = 0; s0 < w.ck.n_seqs; s0 += 64) {
            size_t ns = SPAR_MIN((size_t)64, w.ck.n_seqs - s0), nt = 0;
            for (size_t s = s0; s < s0 + ns; s++) nt += w.ck.lens[s];
            spar_splade_pooling pm = o.pooling == SPAR_SPLADE_POOL_SUM ? SPAR_SPLADE_SUM : SPAR_SPLADE_MAX;
            if (e->dec_lowp != NULL)
                st = spar_splade_pool_lowp(w.h2 + tok * d, w.ck.lens + s0, ns, d, e->dec_lowp, e->dec_b, V, pm, w.rows);
            else if (e->model != NULL && e->model->dec_p != NULL)
                st = spar_splade_pool_packed(w.h2 + tok * d, w.ck.lens + s0, ns, d, e->model->dec_p,
                                             e->model->dec_tail_p, e->dec_b, V, pm, w.rows);
            else
                st = spar_splade_pool(w.h2 + tok * d, w.ck.lens + s0, ns, d, e->dec_w, e->dec_b, V, pm, w.rows);
            if (st != SPAR_OK) goto fail;
            for (size_t s = 0; s < ns; s++) {
                const float *row = w.rows + s * V;
                size_t owner = w.owner[s0 + s];
                if (owner != acc_owner) { /* a new input: flush the previous one */
                    if (acc_owner != SIZE_MAX) SPAR_TRY_GOTO(st, sparsify(e, w.acc, V, &o, w.tmp, &out[acc_owner]), fail);
                    memcpy(w.acc, row, V * sizeof(float));
                    acc_owner = owner;
                } else {
                    for (size_t v = 0; v < V; v++) w.acc[v] = row[v] > w.acc[v] ? row[v] : w.acc[v];
                }
            }
            tok += nt;
        }
    }
    if (st == SPAR_OK && acc_owner != SIZE_MAX) SPAR_TRY_GOTO(st, sparsify(e, w.acc, V, &o, w.tmp, &out[acc_owner]), fail);
    if (st == SPAR_OK) goto ok;
fail:
    spar_sparse_results_free(out, in->n);
ok:
    work_free(&w);
    return st;
}

spar_status spar_encode_dense_batch(const spar_encoder *e, const spar_encode_input *in, const spar_dense_opts *opts,
                                    float *out) {
    SPAR_TRY(check_input(e, in));
    if (out == NULL) return SPAR_E_INVALID_ARG;
    spar_dense_opts o = opts != NULL ? *opts : spar_dense_opts_default();
    if (o.pooling != SPAR_DENSE_POOL_CLS && o.pooling != SPAR_DENSE_POOL_MEAN) return SPAR_E_INVALID_ARG;
    size_t d = e->cfg->hidden;
    work w;
    spar_status st = work_init(e, &w, 0);
    size_t done = 0;
    while (st == SPAR_OK && done < in->n) {
        SPAR_TRY_GOTO(st, next_chunk(e, in, done, &w.ck), out);
        SPAR_TRY_GOTO(st, model_forward(e, w.ck.ids, w.ck.lens, w.ck.n_seqs, w.h), out);
        spar_dense_pool(w.h, w.ck.lens, w.ck.n_seqs, d,
                        o.pooling == SPAR_DENSE_POOL_MEAN ? SPAR_DENSE_MEAN : SPAR_DENSE_CLS, o.normalize,
                        out + done * d);
        done += w.ck.n_seqs;
    }
out:
    work_free(&w);
    return st;
}

spar_status spar_encode_tokens(const spar_encoder *e, const char *text, const spar_token_ids *seq,
                               const spar_token_opts *opts, float *out, size_t cap_tokens, uint32_t *n_tokens,
                               uint32_t *ids_out) {
    if (e == NULL || out == NULL || n_tokens == NULL || (text == NULL) == (seq == NULL)) return SPAR_E_INVALID_ARG;
    spar_token_opts o = {0, 0};
    if (opts != NULL) o = *opts;
    if (o.project && (e->model == NULL || e->model->proj_w == NULL)) return SPAR_E_UNSUPPORTED;
    spar_encode_input in = {text != NULL ? &text : NULL, seq, 1};
    SPAR_TRY(check_input(e, &in));
    size_t d = e->cfg->hidden;
    uint32_t *ids = spar_malloc_array(e->max_length, sizeof(uint32_t)), len = 0;
    float *h = NULL;
    spar_status st = SPAR_OK;
    if (ids == NULL) return SPAR_E_NOMEM;
    chunk ck = {ids, &len, 0, 0};
    SPAR_TRY_GOTO(st, next_chunk(e, &in, 0, &ck), done);
    if (len > cap_tokens) { st = SPAR_E_INVALID_ARG; goto done; }
    if ((h = spar_malloc_array(len, d * sizeof(float))) == NULL) { st = SPAR_E_NOMEM; goto done; }
    SPAR_TRY_GOTO(st, model_forward(e, ids, &len, 1, h), done);
    spar_token_project(h, len, d, o.project ? e->model->proj_w : NULL, o.project ? e->model->proj_dim : d,
                       o.normalize, out);
    *n_tokens = len;
    if (ids_out != NULL) memcpy(ids_out, ids, len * sizeof(uint32_t));
done:
    free(ids);
    free(h);
    return st;
}

const char *spar_encoder_token_str(const spar_encoder *e, uint32_t id, size_t *len) {
    if (len != NULL) *len = 0;
    if (e == NULL || e->tokenizer == NULL) return NULL;
    return spar_tokenizer_token_str(e->tokenizer, id, len);
}

/* ---------------------------------------------------------------- inference-free (idf) query encoder */

struct spar_idf_encoder {
    spar_tokenizer *tok;
    spar_idf *idf;
};

spar_status spar_idf_encoder_open(const char *idf_path, const char *vocab, spar_idf_encoder **out, spar_diag *diag) {
    if (idf_path == NULL || vocab == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_idf_encoder *q = calloc(1, sizeof *q);
    if (q == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_tokenizer_load(vocab, &q->tok, diag);
    if (st == SPAR_OK) st = spar_idf_load(idf_path, q->tok, &q->idf, diag);
    if (st != SPAR_OK) {
        spar_idf_encoder_close(q);
        return st;
    }
    *out = q;
    return SPAR_OK;
}

void spar_idf_encoder_close(spar_idf_encoder *q) {
    if (q == NULL) return;
    spar_idf_free(q->idf);
    spar_tokenizer_free(q->tok);
    free(q);
}

spar_status spar_idf_encode_query(const spar_idf_encoder *q, const char *text, spar_sparse_result *out,
                                  spar_diag *diag) {
    if (q == NULL || text == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    spar_idf_query_opts o = spar_idf_query_opts_default();
    o.tok.replace_invalid = 1;
    size_t len = strlen(text), cap = spar_tokenizer_encode_bound(len), n = 0;
    if (o.tok.max_len > 0 && cap > o.tok.max_len) cap = o.tok.max_len; /* truncation bounds the staged ids */
    out->ids = spar_malloc_array(cap, sizeof *out->ids);
    out->weights = spar_malloc_array(cap, sizeof *out->weights);
    spar_status st = SPAR_E_NOMEM;
    if (out->ids != NULL && out->weights != NULL)
        st = spar_idf_query_encode(q->idf, q->tok, text, len, &o, out->ids, out->weights, cap, &n, diag);
    if (st != SPAR_OK) {
        spar_sparse_results_free(out, 1);
        return st;
    }
    out->n = (uint32_t)n;
    return SPAR_OK;
}

const char *spar_idf_encoder_token_str(const spar_idf_encoder *q, uint32_t id, size_t *len) {
    if (len != NULL) *len = 0;
    if (q == NULL) return NULL;
    return spar_tokenizer_token_str(q->tok, id, len);
}
