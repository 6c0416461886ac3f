/* bench_sparse_gen.c — generator of MS MARCO-shaped learned-sparse corpora for bench_sparse (method and
 * mapping documented in bench/sparse/README.md). Deterministic for a given seed.
 *
 *   bench_sparse_gen --n 1000000 --variant topical|indep --out bench/data/sparse/topical-1M.csr
 *                    [--idf ../shared/data/opensearch-sparse-idf/bert-uncased/idf.json]
 *                    [--vocab ../shared/data/bert-base-uncased-vocab/vocab.txt] [--nnz 120] [--seed 1]
 *                    [--jsonl FILE --jsonl-docs 1000]   (also write the first docs as Seismic-style JSONL)
 *
 * Document frequencies: a term t with idf_t gets inclusion probability p_t = min(0.9, c * exp(-idf_t)),
 * with c solved so that sum_t p_t = nnz (mean non-zeros per doc), i.e. df_t ~= N * p_t ~ N * exp(-idf_t)
 * up to one global factor. Tokens whose idf is exactly 1.0 (the table's default for unseen tokens, e.g.
 * [unusedN]) and [PAD]/[CLS]/[SEP]/[MASK]/[UNK] never occur.
 * indep: each doc draws Poisson-like nnz ~ N(nnz, nnz/3) clipped to [16, 3*nnz] distinct terms, each with
 *        probability proportional to p_t (without replacement).
 * topical: 1000 topics, each with 300 member terms drawn with probability ~ sqrt(p_t); a doc has one main
 *        topic and with probability 0.5 a second; 45% of its terms come from its topics, the rest from a
 *        global distribution corrected (g_t = max(0, p_t - expected topical share)) so marginals stay ~p_t.
 * Weights: log-normal, median rising with idf (SPLADE gives rare terms more weight), topical terms x1.6,
 *        clipped to [0.01, 4]: w = exp(N(-1.1 + 0.11 * idf_t, 0.55)).
 * Output (binary CSR, little-endian): "SPCSR001", u32 n_docs, u32 dim, u64 nnz, u64 offsets[n+1],
 *        u16 ids[nnz], f32 weights[nnz]. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TOPICS 1000
#define TOPIC_TERMS 300

static uint64_t rs = 1;
static uint64_t rnd(void) {
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double unif(void) { return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0; }
static double gauss(void) { return sqrt(-2.0 * log(unif())) * cos(6.283185307179586 * unif()); }

/* Walker alias table for sampling ids proportional to weights. */
typedef struct alias {
    uint32_t n;
    double *prob;
    uint32_t *alias;
} alias;
static void alias_build(alias *a, const double *w, uint32_t n) {
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += w[i];
    a->n = n;
    a->prob = malloc(n * sizeof *a->prob);
    a->alias = malloc(n * sizeof *a->alias);
    uint32_t *small = malloc(n * sizeof *small), *large = malloc(n * sizeof *large), ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        a->prob[i] = sum > 0 ? w[i] * n / sum : 1.0;
        a->alias[i] = i;
        if (a->prob[i] < 1.0) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        a->alias[s] = l;
        a->prob[l] -= 1.0 - a->prob[s];
        if (a->prob[l] < 1.0) { nl--; small[ns++] = l; }
    }
    while (nl) a->prob[large[--nl]] = 1.0;
    while (ns) a->prob[small[--ns]] = 1.0;
    free(small);
    free(large);
}
static uint32_t alias_draw(const alias *a) {
    uint32_t i = (uint32_t)(rnd() % a->n);
    return unif() < a->prob[i] ? i : a->alias[i];
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[sz] = 0; *n = (size_t)sz; }
    return b;
}

int main(int argc, char **argv) {
    const char *idf_path = "../shared/data/opensearch-sparse-idf/bert-uncased/idf.json";
    const char *vocab_path = "../shared/data/bert-base-uncased-vocab/vocab.txt";
    const char *out = NULL, *jsonl = NULL, *variant = "topical";
    uint64_t n = 100000, jsonl_docs = 1000;
    double nnz_mean = 120;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--variant")) variant = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--idf")) idf_path = argv[i + 1];
        else if (!strcmp(argv[i], "--vocab")) vocab_path = argv[i + 1];
        else if (!strcmp(argv[i], "--nnz")) nnz_mean = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) rs = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--jsonl")) jsonl = argv[i + 1];
        else if (!strcmp(argv[i], "--jsonl-docs")) jsonl_docs = strtoull(argv[i + 1], NULL, 10);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    int topical = !strcmp(variant, "topical");
    if (out == NULL || (!topical && strcmp(variant, "indep")) || n == 0 || n >= UINT32_MAX) {
        fprintf(stderr, "usage: %s --n N --variant topical|indep --out FILE.csr [--nnz 120] [--seed S] ...\n", argv[0]);
        return 2;
    }
    /* vocab + idf */
    size_t vn, jn;
    char *vtext = read_all(vocab_path, &vn), *jtext = read_all(idf_path, &jn);
    if (!vtext || !jtext) { fprintf(stderr, "cannot read %s or %s\n", vocab_path, idf_path); return 1; }
    cJSON *idf = cJSON_Parse(jtext);
    if (!idf) { fprintf(stderr, "%s: bad JSON\n", idf_path); return 1; }
    uint32_t dim = 0;
    char **tok = malloc(65536 * sizeof *tok);
    for (char *p = vtext, *e; *p && dim < 65536; p = e + 1) {
        e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        int last = *e == 0;
        *e = 0;
        tok[dim++] = p;
        if (last) break;
    }
    double *idfv = calloc(dim, sizeof *idfv), *f = calloc(dim, sizeof *f), *p = calloc(dim, sizeof *p);
    uint32_t n_live = 0;
    for (uint32_t t = 0; t < dim; t++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(idf, tok[t]);
        idfv[t] = cJSON_IsNumber(x) ? x->valuedouble : 1.0;
        int special = tok[t][0] == '[' && tok[t][strlen(tok[t]) - 1] == ']';
        f[t] = (idfv[t] == 1.0 || special) ? 0.0 : exp(-idfv[t]);
        n_live += f[t] > 0;
    }
    double lo = 0, hi = 1e9;
    for (int it = 0; it < 200; it++) { /* sum_t min(0.9, c f_t) = nnz */
        double c = 0.5 * (lo + hi), s = 0;
        for (uint32_t t = 0; t < dim; t++) s += fmin(0.9, c * f[t]);
        if (s < nnz_mean) lo = c;
        else hi = c;
    }
    for (uint32_t t = 0; t < dim; t++) p[t] = fmin(0.9, lo * f[t]);
    fprintf(stderr, "dim %u, live terms %u, c = %.3f, max p = %.3f\n", dim, n_live, lo, 0.9);

    /* topics */
    uint32_t *topic_terms = NULL;
    double frac_topic = topical ? 0.45 : 0.0;
    double *g = malloc(dim * sizeof *g);
    memcpy(g, p, dim * sizeof *g);
    if (topical) {
        double *sw = malloc(dim * sizeof *sw), *share = calloc(dim, sizeof *share);
        for (uint32_t t = 0; t < dim; t++) sw[t] = sqrt(p[t]);
        alias a;
        alias_build(&a, sw, dim);
        topic_terms = malloc((size_t)N_TOPICS * TOPIC_TERMS * sizeof *topic_terms);
        for (uint32_t k = 0; k < N_TOPICS; k++) {
            double tot = 0;
            for (uint32_t j = 0; j < TOPIC_TERMS; j++) {
                uint32_t t = alias_draw(&a);
                topic_terms[k * TOPIC_TERMS + j] = t;
                tot += p[t];
            }
            /* expected topical draws landing on t: (1.5 topics/doc / N_TOPICS) * frac * nnz * p_t / tot */
            for (uint32_t j = 0; j < TOPIC_TERMS; j++) {
                uint32_t t = topic_terms[k * TOPIC_TERMS + j];
                share[t] += 1.5 / N_TOPICS * frac_topic * nnz_mean * p[t] / tot;
            }
        }
        for (uint32_t t = 0; t < dim; t++) g[t] = fmax(0.0, p[t] - share[t]);
        free(sw);
        free(share);
        free(a.prob);
        free(a.alias);
    }
    alias ga;
    alias_build(&ga, g, dim);
    alias *ta = NULL;
    if (topical) {
        ta = malloc(N_TOPICS * sizeof *ta);
        double w[TOPIC_TERMS];
        uint32_t ids[TOPIC_TERMS];
        for (uint32_t k = 0; k < N_TOPICS; k++) {
            for (uint32_t j = 0; j < TOPIC_TERMS; j++) {
                ids[j] = topic_terms[k * TOPIC_TERMS + j];
                w[j] = p[ids[j]];
            }
            alias_build(&ta[k], w, TOPIC_TERMS);
        }
    }
    FILE *fo = fopen(out, "wb");
    if (!fo) { perror(out); return 1; }
    FILE *fj = jsonl ? fopen(jsonl, "w") : NULL;
    if (jsonl && !fj) { perror(jsonl); return 1; }
    uint64_t *off = malloc((n + 1) * sizeof *off);
    size_t cap = (size_t)(n * nnz_mean * 1.05) + 1024, used = 0;
    uint16_t *ids = malloc(cap * sizeof *ids);
    float *ws = malloc(cap * sizeof *ws);
    float *dw = calloc(dim, sizeof *dw);
    uint8_t *istop = calloc(dim, 1);
    uint32_t *doc = malloc(4 * (size_t)(nnz_mean * 3 + 16) * sizeof *doc);
    off[0] = 0;
    for (uint64_t d = 0; d < n; d++) {
        int m = (int)lround(nnz_mean + gauss() * nnz_mean / 3);
        if (m < 16) m = 16;
        if (m > 3 * nnz_mean) m = (int)(3 * nnz_mean);
        int got = 0, tries = 0;
        uint32_t t1 = (uint32_t)(rnd() % N_TOPICS), t2 = unif() < 0.5 ? (uint32_t)(rnd() % N_TOPICS) : UINT32_MAX;
        while (got < m && tries < 20 * m) {
            tries++;
            uint32_t t;
            int from_topic = topical && unif() < frac_topic;
            if (from_topic) {
                uint32_t k = (t2 != UINT32_MAX && unif() < 0.4) ? t2 : t1;
                t = topic_terms[k * TOPIC_TERMS + alias_draw(&ta[k])];
            } else {
                t = alias_draw(&ga);
            }
            if (dw[t] != 0.0f || p[t] == 0.0) continue;
            double w = exp(-1.1 + 0.11 * idfv[t] + 0.55 * gauss()) * (from_topic ? 1.6 : 1.0);
            dw[t] = (float)fmin(4.0, fmax(0.01, w));
            istop[t] = (uint8_t)from_topic;
            doc[got++] = t;
        }
        /* ascending ids */
        for (int i = 1; i < got; i++) {
            uint32_t x = doc[i];
            int j = i;
            while (j > 0 && doc[j - 1] > x) { doc[j] = doc[j - 1]; j--; }
            doc[j] = x;
        }
        if (used + (size_t)got > cap) {
            cap = cap * 5 / 4 + (size_t)got;
            ids = realloc(ids, cap * sizeof *ids);
            ws = realloc(ws, cap * sizeof *ws);
            if (!ids || !ws) { fprintf(stderr, "out of memory\n"); return 1; }
        }
        if (fj && d < jsonl_docs) fprintf(fj, "{\"id\": \"d%llu\", \"vector\": {", (unsigned long long)d);
        for (int i = 0; i < got; i++) {
            ids[used] = (uint16_t)doc[i];
            ws[used] = dw[doc[i]];
            if (fj && d < jsonl_docs) {
                fputs(i ? ", \"" : "\"", fj);
                for (const char *c = tok[doc[i]]; *c; c++) {
                    if (*c == '"' || *c == '\\') fputc('\\', fj);
                    fputc(*c, fj);
                }
                fprintf(fj, "\": %.6g", (double)dw[doc[i]]);
            }
            dw[doc[i]] = 0.0f;
            used++;
        }
        if (fj && d < jsonl_docs) fputs("}}\n", fj);
        off[d + 1] = used;
    }
    uint32_t n32 = (uint32_t)n;
    uint64_t nnz = used;
    fwrite("SPCSR001", 1, 8, fo);
    fwrite(&n32, 4, 1, fo);
    fwrite(&dim, 4, 1, fo);
    fwrite(&nnz, 8, 1, fo);
    fwrite(off, 8, n + 1, fo);
    fwrite(ids, 2, nnz, fo);
    if (fwrite(ws, 4, nnz, fo) != nnz || fclose(fo) != 0) { perror(out); return 1; }
    if (fj) fclose(fj);
    /* df check: correlation of log df with -idf over terms that occur */
    uint64_t *df = calloc(dim, sizeof *df);
    for (uint64_t i = 0; i < nnz; i++) df[ids[i]]++;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    uint32_t m = 0;
    for (uint32_t t = 0; t < dim; t++) {
        if (!df[t] || f[t] == 0) continue;
        double x = log(p[t] * n), y = log((double)df[t]);
        sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
        m++;
    }
    double r = (m * sxy - sx * sy) / sqrt((m * sxx - sx * sx) * (m * syy - sy * sy));
    printf("{\"docs\":%llu,\"dim\":%u,\"nnz\":%llu,\"nnz_per_doc\":%.1f,\"variant\":\"%s\",\"terms_present\":%u,"
           "\"corr_log_df_vs_target\":%.4f}\n",
           (unsigned long long)n, dim, (unsigned long long)nnz, (double)nnz / n, variant, m, r);
    return 0;
}
