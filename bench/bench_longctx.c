/* bench_longctx.c — long-context encoding with ModernBERT (encoders/model/modernbert.c): end-to-end encode time
 * at long lengths, dense vs sparse global-layer attention in one binary, attention time share, and fidelity
 * against the dense run; plus the reference-dump driver used by tests/cli/modernbert_reference.sh.
 *
 *   bench_longctx dump MODEL_DIR IDS_FILE OUT_DIR [--attention dense|local|query-aware|vertical-slash]
 *                      [--attention-threshold N] [--tau X]
 *       writes hidden.f32 (+ logits.f32, splade_max.f32 with an MLM head) for the sequences of IDS_FILE
 *       (one per line, space-separated ids), packed without padding.
 *   bench_longctx [--lens 1024,2048,4096,8192] [--layers 22] [--rounds 1] [--policies dense,local,qa,vs]
 *                 [--input planted|random] [--tau 0.97] [--no-splade] [--gain 2]
 *       ModernBERT-base shapes (768 hidden, 12 heads, 1152 GeGLU, vocab 50368, window 128, global every 3)
 *       with random weights built in memory. For each length, rounds alternate the policies (dense first) on
 *       the same ids; one JSON line per (length, policy) with the median encode time (forward + MLM head
 *       transform), attention seconds and share, global-attention seconds, speedup of global attention and
 *       of the whole encode vs dense, and fidelity vs dense: per global layer the attention-output relative
 *       error (same Q/K/V) and exact captured mass, the final hidden-state relative error, SPLADE cosine and
 *       top-64 term recall.
 *
 * "planted" weights give attention real structure (see random_model): a shared embedding direction and key
 * projection = gain x query projection make each token attend mostly to nearby positions (a power-law band
 * from RoPE) and to equal tokens; the ids are random tokens with 20% of positions copying an earlier token
 * (long-range matches) and [CLS] at 0. "random" weights give near-uniform attention,
 * where no sparse policy can be faithful. Neither is a pretrained model: see docs/encoders/modernbert.md. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/attention/attention.h"
#include "encoders/model/heads.h"
#include "encoders/model/modernbert.h"

/* ------------------------------------------------------------------ dump */

static int write_f32(const char *dir, const char *name, const float *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t w = fwrite(p, sizeof(float), n, f);
    fclose(f);
    return w == n ? 0 : 1;
}

static int read_ids(const char *path, uint32_t **ids, uint32_t **lens, size_t *n_seqs, size_t *T) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    size_t cap_i = 1024, cap_s = 16;
    *ids = malloc(cap_i * sizeof **ids);
    *lens = malloc(cap_s * sizeof **lens);
    *n_seqs = *T = 0;
    static char line[1 << 20];
    while (fgets(line, sizeof line, f) != NULL) {
        char *p = line, *e;
        uint32_t n = 0;
        for (;;) {
            unsigned long v = strtoul(p, &e, 10);
            if (e == p) break;
            if (*T == cap_i) *ids = realloc(*ids, (cap_i *= 2) * sizeof **ids);
            (*ids)[(*T)++] = (uint32_t)v;
            n++;
            p = e;
        }
        if (n == 0) continue;
        if (*n_seqs == cap_s) *lens = realloc(*lens, (cap_s *= 2) * sizeof **lens);
        (*lens)[(*n_seqs)++] = n;
    }
    fclose(f);
    return 0;
}

static int parse_policy(const char *s, spar_attn_policy_kind *k) {
    if (strcmp(s, "dense") == 0) *k = SPAR_ATTN_DENSE;
    else if (strcmp(s, "local") == 0) *k = SPAR_ATTN_LOCAL_GLOBAL;
    else if (strcmp(s, "query-aware") == 0 || strcmp(s, "qa") == 0) *k = SPAR_ATTN_QUERY_AWARE;
    else if (strcmp(s, "vertical-slash") == 0 || strcmp(s, "vs") == 0) *k = SPAR_ATTN_VERTICAL_SLASH;
    else return 1;
    return 0;
}

static int cmd_dump(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_longctx dump MODEL_DIR IDS_FILE OUT_DIR [--attention P] "
                        "[--attention-threshold N] [--tau X]\n");
        return 2;
    }
    spar_attn_policy pol;
    spar_attn_policy_default(&pol, SPAR_ATTN_DENSE);
    for (int i = 5; i + 1 < argc; i += 2) {
        spar_attn_policy_kind k;
        if (strcmp(argv[i], "--attention") == 0 && parse_policy(argv[i + 1], &k) == 0) {
            uint32_t ml = pol.min_len;
            float tau = pol.tau;
            spar_attn_policy_default(&pol, k);
            pol.min_len = ml;
            pol.tau = tau;
        } else if (strcmp(argv[i], "--attention-threshold") == 0) pol.min_len = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--tau") == 0) pol.tau = (float)atof(argv[i + 1]);
        else {
            fprintf(stderr, "dump: bad option %s %s\n", argv[i], argv[i + 1]);
            return 2;
        }
    }
    spar_diag diag = {{0}};
    spar_mbert *m = NULL;
    spar_status st = spar_mbert_load(argv[2], &m, &diag);
    if (st != SPAR_OK) {
        fprintf(stderr, "load: %s: %s\n", spar_status_str(st), diag.msg);
        return 1;
    }
    uint32_t *ids = NULL, *lens = NULL;
    size_t n = 0, T = 0;
    int rc = 1;
    float *h = NULL, *h2 = NULL, *lg = NULL, *sp = NULL;
    if (read_ids(argv[3], &ids, &lens, &n, &T) != 0 || n == 0) goto out;
    size_t d = m->cfg.hidden, V = m->cfg.vocab_size;
    h = malloc(T * d * sizeof(float));
    spar_mbert_run run;
    memset(&run, 0, sizeof run);
    run.global_policy = &pol;
    double t0 = spar_now();
    st = spar_mbert_forward(m, ids, lens, n, &run, h);
    double t1 = spar_now();
    if (st != SPAR_OK) {
        fprintf(stderr, "forward: %s\n", spar_status_str(st));
        goto out;
    }
    if (write_f32(argv[4], "hidden.f32", h, T * d)) goto out;
    if (m->has_mlm) {
        h2 = malloc(T * d * sizeof(float));
        lg = malloc(T * V * sizeof(float));
        sp = malloc(n * V * sizeof(float));
        if (spar_mbert_mlm_transform(m, h, T, h2) != SPAR_OK || spar_mbert_mlm_logits(m, h2, T, lg) != SPAR_OK ||
            write_f32(argv[4], "logits.f32", lg, T * V))
            goto out;
        if (spar_splade_pool(h2, lens, n, d, m->dec_w, m->dec_b, V, SPAR_SPLADE_MAX, sp) != SPAR_OK ||
            write_f32(argv[4], "splade_max.f32", sp, n * V))
            goto out;
    }
    fprintf(stderr, "  C: %zu seqs, %zu tokens: encoder %.3f s (attention %.3f s)\n", n, T, t1 - t0, run.t_attn);
    rc = 0;
out:
    free(h);
    free(h2);
    free(lg);
    free(sp);
    free(ids);
    free(lens);
    spar_mbert_free(m);
    return rc;
}

/* ------------------------------------------------------------------ bench */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float nrand(void) {
    return (float)(sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand()));
}

static float *owned(spar_mbert *m, size_t n, float std, float base) {
    float *p = malloc(n * sizeof(float));
    m->owned = realloc(m->owned, (m->n_owned + 1) * sizeof *m->owned);
    m->owned[m->n_owned++] = p;
    for (size_t i = 0; i < n; i++)
        p[i] = base + std * nrand();
    return p;
}

/* ModernBERT-base shapes with random weights. planted: every token embedding shares one common direction
 * (per-feature 0.03 against 0.02 of its own), and K rows = gain * Q rows in every layer, so with RoPE the
 * common part scores sum_j |c_j|^2 cos(theta_j (i - j)) — highest on the diagonal and decaying like a power
 * of the distance — and the token's own part adds matches between equal tokens. */
static float g_gain = 2.0f;
static spar_mbert *random_model(uint32_t layers, int planted) {
    spar_mbert *m = calloc(1, sizeof *m);
    spar_model_config *c = &m->cfg;
    c->arch = SPAR_ARCH_MODERNBERT;
    c->vocab_size = 50368;
    c->hidden = 768;
    c->n_layers = layers;
    c->n_heads = 12;
    c->intermediate = 1152;
    c->max_positions = 8192;
    c->ln_eps = 1e-5f;
    c->act = c->head_act = SPAR_ACT_GELU;
    c->local_window = 128;
    c->global_every = 3;
    for (uint32_t i = 0; i < layers; i++)
        c->layer_global[i] = i % 3 == 0;
    c->rope_theta_global = 160000.0f;
    c->rope_theta_local = 10000.0f;
    c->decoder_bias = c->tie_embeddings = 1;
    size_t d = 768, f = 1152, V = 50368;
    m->layers = calloc(layers, sizeof *m->layers);
    m->tok_emb = owned(m, V * d, 0.02f, 0);
    if (planted) {
        float *common = malloc(d * sizeof(float));
        for (size_t j = 0; j < d; j++)
            common[j] = 0.03f * nrand();
        for (size_t v = 0; v < V; v++)
            for (size_t j = 0; j < d; j++)
                m->tok_emb[v * d + j] += common[j];
        free(common);
    }
    m->emb_norm_g = owned(m, d, 0.1f, 1);
    for (uint32_t i = 0; i < layers; i++) {
        spar_mbert_layer *y = &m->layers[i];
        if (i > 0) y->attn_norm_g = owned(m, d, 0.1f, 1);
        y->wqkv = owned(m, 3 * d * d, 0.02f, 0);
        if (planted) { /* scores q.k' = x Wq^T Wq x'^T * gain: large for equal content, shaped by RoPE */
            float gain = g_gain;
            for (size_t r = 0; r < d * d; r++)
                y->wqkv[r] *= 2.5f;
            for (size_t r = 0; r < d * d; r++)
                y->wqkv[d * d + r] = y->wqkv[r] * gain;
        }
        y->wo = owned(m, d * d, 0.02f, 0);
        y->mlp_norm_g = owned(m, d, 0.1f, 1);
        y->wi = owned(m, 2 * f * d, 0.02f, 0);
        y->wm = owned(m, d * f, 0.02f, 0);
    }
    m->final_norm_g = owned(m, d, 0.1f, 1);
    m->has_mlm = 1;
    m->head_w = owned(m, d * d, 0.05f, 0);
    m->head_norm_g = owned(m, d, 0.1f, 1);
    m->dec_w = m->tok_emb;
    m->dec_b = owned(m, V, 0.02f, 0);
    return m;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        num += e * e;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb);
}

/* |top-k(a) ∩ top-k(b)| / k over the non-zero terms (k = min(64, nnz(b))). */
static double topk_recall(const float *a, const float *b, size_t V, size_t k) {
    uint32_t *ia = malloc(k * sizeof *ia), *ib = malloc(k * sizeof *ib);
    size_t na = 0, nb = 0;
    for (int pass = 0; pass < 2; pass++) {
        const float *x = pass ? b : a;
        uint32_t *ix = pass ? ib : ia;
        size_t *nx = pass ? &nb : &na;
        for (size_t v = 0; v < V; v++) {
            if (!(x[v] > 0)) continue;
            size_t pos = *nx < k ? (*nx)++ : k;
            if (pos == k) {
                if (!(x[v] > x[ix[k - 1]])) continue;
                pos = k - 1;
            }
            while (pos > 0 && x[ix[pos - 1]] < x[v]) {
                ix[pos] = ix[pos - 1];
                pos--;
            }
            ix[pos] = (uint32_t)v;
        }
    }
    size_t hit = 0;
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < na; j++)
            if (ib[i] == ia[j]) {
                hit++;
                break;
            }
    free(ia);
    free(ib);
    return nb ? (double)hit / (double)nb : 1.0;
}

static uint32_t parse_list(const char *s, uint32_t *out, uint32_t cap) {
    uint32_t n = 0;
    while (*s && n < cap) {
        char *e;
        out[n++] = (uint32_t)strtoul(s, &e, 10);
        s = *e == ',' ? e + 1 : e;
        if (e == s && *e != ',') break;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "dump") == 0) return cmd_dump(argc, argv);
    uint32_t lens[8] = {1024, 2048, 4096, 8192}, n_lens = 4, layers = 22;
    int rounds = 1, planted = 1, splade = 1;
    float tau = 0.97f;
    const char *policies = "dense,local,qa,vs";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--lens") == 0) n_lens = parse_list(v, lens, 8), i++;
        else if (strcmp(argv[i], "--layers") == 0) layers = (uint32_t)atoi(v), i++;
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(v), i++;
        else if (strcmp(argv[i], "--policies") == 0) policies = v, i++;
        else if (strcmp(argv[i], "--input") == 0) planted = strcmp(v, "random") != 0, i++;
        else if (strcmp(argv[i], "--tau") == 0) tau = (float)atof(v), i++;
        else if (strcmp(argv[i], "--no-splade") == 0) splade = 0;
        else if (strcmp(argv[i], "--gain") == 0) g_gain = (float)atof(v), i++;
        else {
            fprintf(stderr, "usage: bench_longctx [--lens 1024,2048,4096,8192] [--layers 22] [--rounds 1] "
                            "[--policies dense,local,qa,vs] [--input planted|random] [--tau 0.97] [--no-splade] [--gain 2]\n"
                            "       bench_longctx dump MODEL_DIR IDS_FILE OUT_DIR [--attention P] ...\n");
            return 2;
        }
    }
    if (layers < 1 || layers > 256 || rounds < 1 || n_lens == 0) return 2;
    spar_attn_policy_kind kinds[4];
    int n_pol = 0;
    {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", policies);
        for (char *tok = strtok(buf, ","); tok && n_pol < 4; tok = strtok(NULL, ","))
            if (parse_policy(tok, &kinds[n_pol]) == 0 && (n_pol == 0 || kinds[n_pol] != SPAR_ATTN_DENSE)) n_pol++;
        if (n_pol == 0 || kinds[0] != SPAR_ATTN_DENSE) { /* dense is the baseline: always first */
            memmove(kinds + 1, kinds, (size_t)SPAR_MIN(n_pol, 3) * sizeof *kinds);
            kinds[0] = SPAR_ATTN_DENSE;
            n_pol = SPAR_MIN(n_pol + 1, 4);
        }
    }
    spar_mbert *m = random_model(layers, planted);
    size_t d = m->cfg.hidden, V = m->cfg.vocab_size;
    for (uint32_t li = 0; li < n_lens; li++) {
        uint32_t T = lens[li];
        if (T == 0 || T > m->cfg.max_positions) continue;
        uint32_t *ids = malloc(T * sizeof *ids);
        ids[0] = 50281;
        for (uint32_t t = 1; t < T; t++)
            ids[t] = (t > 8 && urand() < 0.2) ? ids[1 + (uint32_t)(urand() * (t - 1))] : 3 + (uint32_t)(urand() * 50000);
        ids[T - 1] = 50282;
        float *h[4], *h2 = malloc((size_t)T * d * sizeof(float)), *sp[4];
        double tt[4][16], ta[4][16], tg[4][16];
        spar_mbert_run fid[4];
        for (int p = 0; p < n_pol; p++) {
            h[p] = malloc((size_t)T * d * sizeof(float));
            sp[p] = malloc(V * sizeof(float));
        }
        spar_attn_policy pols[4];
        for (int p = 0; p < n_pol; p++) {
            spar_attn_policy_default(&pols[p], kinds[p]);
            pols[p].min_len = 1;
            pols[p].tau = tau;
        }
        int R = SPAR_MIN(rounds, 16);
        for (int r = 0; r < R; r++)
            for (int p = 0; p < n_pol; p++) {
                spar_mbert_run run;
                memset(&run, 0, sizeof run);
                run.global_policy = &pols[p];
                double t0 = spar_now();
                if (spar_mbert_forward(m, ids, &T, 1, &run, h[p]) != SPAR_OK ||
                    spar_mbert_mlm_transform(m, h[p], T, h2) != SPAR_OK)
                    return 1;
                tt[p][r] = spar_now() - t0;
                ta[p][r] = run.t_attn;
                tg[p][r] = run.t_attn_global;
                if (r == 0 && splade &&
                    spar_splade_pool(h2, &T, 1, d, m->dec_w, m->dec_b, V, SPAR_SPLADE_MAX, sp[p]) != SPAR_OK)
                    return 1;
            }
        /* fidelity pass (untimed): per-layer attention error and captured mass on the same Q/K/V */
        for (int p = 1; p < n_pol; p++) {
            memset(&fid[p], 0, sizeof fid[p]);
            fid[p].global_policy = &pols[p];
            fid[p].fidelity = 1;
            float *tmp = malloc((size_t)T * d * sizeof(float));
            if (spar_mbert_forward(m, ids, &T, 1, &fid[p], tmp) != SPAR_OK) return 1;
            free(tmp);
        }
        double dense_total = 0, dense_glob = 0;
        for (int p = 0; p < n_pol; p++) {
            double mt = median(tt[p], R), ma = median(ta[p], R), mg = median(tg[p], R);
            if (p == 0) {
                dense_total = mt;
                dense_glob = mg;
            }
            printf("{\"T\":%u,\"layers\":%u,\"input\":\"%s\",\"policy\":\"%s\",\"rounds\":%d,\"encode_s\":%.3f,"
                   "\"attn_s\":%.3f,\"attn_share\":%.3f,\"global_attn_s\":%.3f,\"global_attn_speedup\":%.2f,"
                   "\"encode_speedup\":%.2f",
                   T, layers, planted ? "planted" : "random", spar_attn_policy_name(kinds[p]), R, mt, ma, ma / mt, mg,
                   mg > 0 ? dense_glob / mg : 0.0, dense_total / mt);
            if (p > 0) {
                double mass_sum = 0, mass_min = 1, err_max = 0, dens = 0;
                int ng = 0;
                printf(",\"layers_fid\":[");
                for (uint32_t l = 0; l < layers; l++) {
                    if (!m->cfg.layer_global[l]) continue;
                    printf("%s{\"l\":%u,\"density\":%.3f,\"mass\":%.4f,\"min_head_mass\":%.4f,\"rel_err\":%.4f}",
                           ng ? "," : "", l, fid[p].layer_density[l], fid[p].layer_mass[l],
                           fid[p].layer_min_mass[l], fid[p].layer_rel_err[l]);
                    mass_sum += fid[p].layer_mass[l];
                    mass_min = SPAR_MIN(mass_min, fid[p].layer_min_mass[l]);
                    err_max = SPAR_MAX(err_max, fid[p].layer_rel_err[l]);
                    dens += fid[p].layer_density[l];
                    ng++;
                }
                printf("],\"mean_mass\":%.4f,\"min_head_mass\":%.4f,\"max_layer_rel_err\":%.4f,\"mean_density\":%.3f,"
                       "\"hidden_rel_err\":%.4f",
                       mass_sum / ng, mass_min, err_max, dens / ng, rel_err(h[p], h[0], (size_t)T * d));
                if (splade)
                    printf(",\"splade_cos\":%.5f,\"top64_recall\":%.4f", cosine(sp[p], sp[0], V),
                           topk_recall(sp[p], sp[0], V, 64));
            }
            printf("}\n");
            fflush(stdout);
        }
        for (int p = 0; p < n_pol; p++) {
            free(h[p]);
            free(sp[p]);
        }
        free(h2);
        free(ids);
    }
    spar_mbert_free(m);
    return 0;
}
