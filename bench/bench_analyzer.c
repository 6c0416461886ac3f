/* bench/bench_analyzer.c — micro-benchmark of the indexing front end: corpus reading (index/corpus.c) and
 * text analysis (index/analyzer.c). Usage:
 *   bench_analyzer [--stemmer NAME] [--min-seconds S] FILE...
 * Pass 1 streams every file through spar_corpus_next (reader MB/s over id+title+text bytes, and over file
 * bytes, compressed if gzip); pass 2 keeps the texts in memory and analyses the title and text of every document, repeated until min-seconds have elapsed
 * (tokens/s, MB/s). Prints one JSON line.
 *   bench_analyzer --eval DIR [--analysis SETTINGS] [--stemmer NAME] [--whitespace]
 * scores a BEIR-layout collection with BM25 using this analyzer and prints nDCG@10 / MAP / R@100 (see below).
 * The tiny in-memory BM25 here is only a yardstick for analyzer choices, not the engine. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/analyzer.h"
#include "index/corpus.h"

static double cpu_now(void) { /* process CPU seconds: steadier than wall time on a shared machine */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    char *data;
    size_t len, cap;
    size_t *ends; /* end offset of each document's text in data */
    size_t n, ncap;
} text_set;

static int push_text(text_set *t, const char *a, size_t na, const char *b, size_t nb) {
    if (t->len + na + nb + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : (1 << 20);
        while (cap < t->len + na + nb + 1) cap *= 2;
        char *d = realloc(t->data, cap);
        if (d == NULL) return -1;
        t->data = d;
        t->cap = cap;
    }
    if (t->n == t->ncap) {
        size_t ncap = t->ncap ? 2 * t->ncap : 1024;
        size_t *e = realloc(t->ends, ncap * sizeof *e);
        if (e == NULL) return -1;
        t->ends = e;
        t->ncap = ncap;
    }
    memcpy(t->data + t->len, a, na);
    t->data[t->len + na] = '\n';
    memcpy(t->data + t->len + na + 1, b, nb);
    t->len += na + 1 + nb;
    t->ends[t->n++] = t->len;
    return 0;
}


/* ---- --eval DIR: BM25 effectiveness of the analyzer on a BEIR-layout collection ----
 * DIR/corpus.jsonl, DIR/queries.jsonl, DIR/qrels/test.tsv (header, qid<TAB>docid<TAB>gain). Documents are
 * title + "\n" + text. BM25 as in Lucene 8 (idf = ln(1 + (N - df + .5) / (df + .5)), k1 = 0.9, b = 0.4,
 * document length = number of terms), exhaustive scoring, ties by docid. Metrics over the queries that
 * appear in the qrels: nDCG@10 (linear gains, as trec_eval/pytrec_eval), MAP@1000, Recall@100.
 * With --whitespace the texts are taken as already-analysed terms separated by spaces (to score another
 * analyzer's output, e.g. Lucene's, with the very same BM25 code). The corpus/queries files may also be
 * given as TSV (DIR/corpus.tsv, DIR/queries.tsv) when they exist. */
typedef struct {
    char **keys;
    uint32_t *vals;
    size_t cap, n;
} strmap;

static uint64_t h64(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* returns the value for key, inserting `next` if absent (then *added = 1) */
static uint32_t strmap_get(strmap *m, const char *k, size_t n, uint32_t next, int insert, int *added) {
    if (added) *added = 0;
    if (m->n * 2 >= m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        char **keys = calloc(cap, sizeof *keys);
        uint32_t *vals = calloc(cap, sizeof *vals);
        if (keys == NULL || vals == NULL) abort();
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i] == NULL) continue;
            size_t j = h64(m->keys[i], strlen(m->keys[i])) & (cap - 1);
            while (keys[j] != NULL) j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t j = h64(k, n) & (m->cap - 1);
    while (m->keys[j] != NULL) {
        if (strlen(m->keys[j]) == n && memcmp(m->keys[j], k, n) == 0) return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (!insert) return UINT32_MAX;
    char *dup = malloc(n + 1);
    if (dup == NULL) abort();
    memcpy(dup, k, n);
    dup[n] = '\0';
    m->keys[j] = dup;
    m->vals[j] = next;
    m->n++;
    if (added) *added = 1;
    return next;
}

static void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

typedef struct { uint32_t doc, tf; } posting;
typedef struct { posting *p; uint32_t n, cap; } plist;

static void split_ws(const char *s, size_t n, spar_terms *t) {
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        size_t j = i;
        while (j < n && s[j] != ' ') j++;
        if (j > i) {
            /* reuse spar_analyze's buffer layout by hand */
            if (t->used + (j - i) > t->cap) {
                t->cap = 2 * (t->used + (j - i)) + 1024;
                t->data = realloc(t->data, t->cap);
            }
            if (t->n == t->ncap) {
                t->ncap = t->ncap ? 2 * t->ncap : 256;
                t->off = realloc(t->off, t->ncap * sizeof *t->off);
                t->len = realloc(t->len, t->ncap * sizeof *t->len);
            }
            memcpy(t->data + t->used, s + i, j - i);
            t->off[t->n] = (uint32_t)t->used;
            t->len[t->n++] = (uint32_t)(j - i);
            t->used += j - i;
        }
        i = j;
    }
}

static int analyze_doc(spar_analyzer *a, int ws, const spar_doc *doc, spar_terms *t) {
    spar_terms_reset(t);
    if (ws) {
        split_ws(doc->title, doc->title_len, t);
        split_ws(doc->text, doc->text_len, t);
        return 0;
    }
    if (spar_analyze(a, doc->title, doc->title_len, t) != SPAR_OK) return -1;
    return spar_analyze(a, doc->text, doc->text_len, t) != SPAR_OK ? -1 : 0;
}

static const char *pick(const char *dir, const char *a, const char *b, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", dir, a);
    FILE *f = fopen(buf, "r");
    if (f != NULL) { fclose(f); return buf; }
    snprintf(buf, cap, "%s/%s", dir, b);
    return buf;
}

typedef struct { float s; uint32_t d; } hit;
static int hit_cmp(const void *x, const void *y) {
    const hit *a = x, *b = y;
    if (a->s != b->s) return a->s < b->s ? 1 : -1;
    return a->d < b->d ? -1 : (a->d > b->d);
}
typedef struct { uint32_t q, d; int g; } qrel;
static int qrel_cmp(const void *x, const void *y) {
    const qrel *a = x, *b = y;
    if (a->q != b->q) return a->q < b->q ? -1 : 1;
    return a->d < b->d ? -1 : (a->d > b->d);
}
static int int_desc(const void *x, const void *y) { return *(const int *)y - *(const int *)x; }

static int run_eval(const char *dir, const spar_analysis_opts *o, int ws) {
    spar_analyzer *a = NULL;
    spar_diag d = {{0}};
    if (!ws && spar_analyzer_create(o, &a, &d) != SPAR_OK) { fprintf(stderr, "%s\n", d.msg); return 1; }
    char path[1024];
    strmap docids = {0}, terms = {0}, qids = {0};
    plist *pl = NULL;
    size_t pl_cap = 0;
    uint32_t *doclen = NULL, n_docs = 0, n_terms = 0;
    size_t dl_cap = 0;
    uint32_t *seen = NULL; /* term -> last doc that counted it */
    spar_terms t = {0};
    spar_corpus *c = NULL;
    if (spar_corpus_open(pick(dir, "corpus.tsv", "corpus.jsonl", path, sizeof path), SPAR_FORMAT_AUTO, &c, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    spar_doc doc;
    spar_status st;
    double total_len = 0;
    while ((st = spar_corpus_next(c, &doc, &d)) == SPAR_OK) {
        int added;
        strmap_get(&docids, doc.id, doc.id_len, n_docs, 1, &added);
        if (!added) continue; /* duplicate id: first wins */
        if (analyze_doc(a, ws, &doc, &t) != 0) return 1;
        if (n_docs == dl_cap) { dl_cap = dl_cap ? 2 * dl_cap : 1024; doclen = realloc(doclen, dl_cap * sizeof *doclen); }
        doclen[n_docs] = t.n;
        total_len += t.n;
        for (uint32_t i = 0; i < t.n; i++) {
            uint32_t tid = strmap_get(&terms, t.data + t.off[i], t.len[i], n_terms, 1, &added);
            if (added) {
                n_terms++;
                if (n_terms > pl_cap) {
                    size_t nc = pl_cap ? 2 * pl_cap : 4096;
                    pl = realloc(pl, nc * sizeof *pl);
                    seen = realloc(seen, nc * sizeof *seen);
                    memset(pl + pl_cap, 0, (nc - pl_cap) * sizeof *pl);
                    pl_cap = nc;
                }
                seen[tid] = UINT32_MAX;
            }
            plist *p = &pl[tid];
            if (seen[tid] == n_docs) { p->p[p->n - 1].tf++; continue; }
            seen[tid] = n_docs;
            if (p->n == p->cap) { p->cap = p->cap ? 2 * p->cap : 4; p->p = realloc(p->p, p->cap * sizeof *p->p); }
            p->p[p->n++] = (posting){n_docs, 1};
        }
        n_docs++;
    }
    spar_corpus_close(c);
    if (st != SPAR_E_NOT_FOUND) { fprintf(stderr, "%s\n", d.msg); return 1; }
    double avgdl = n_docs ? total_len / n_docs : 1;

    /* qrels */
    snprintf(path, sizeof path, "%s/qrels/test.tsv", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) { perror(path); return 1; }
    qrel *qr = NULL;
    size_t n_qr = 0, qr_cap = 0;
    char line[4096];
    char (*qnames)[64] = NULL;
    uint32_t n_q = 0;
    size_t qn_cap = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char *t1 = strtok(line, "\t\r\n"), *t2 = strtok(NULL, "\t\r\n"), *t3 = strtok(NULL, "\t\r\n");
        if (t1 == NULL || t2 == NULL || t3 == NULL || strcmp(t1, "query-id") == 0) continue;
        uint32_t dn = strmap_get(&docids, t2, strlen(t2), 0, 0, NULL);
        int added;
        uint32_t qn = strmap_get(&qids, t1, strlen(t1), n_q, 1, &added);
        if (added) {
            if (n_q == qn_cap) { qn_cap = qn_cap ? 2 * qn_cap : 256; qnames = realloc(qnames, qn_cap * sizeof *qnames); }
            snprintf(qnames[n_q], sizeof qnames[n_q], "%s", t1);
            n_q++;
        }
        if (n_qr == qr_cap) { qr_cap = qr_cap ? 2 * qr_cap : 1024; qr = realloc(qr, qr_cap * sizeof *qr); }
        qr[n_qr++] = (qrel){qn, dn, atoi(t3)};
    }
    fclose(f);
    qsort(qr, n_qr, sizeof *qr, qrel_cmp);

    /* queries */
    float *acc = calloc(n_docs ? n_docs : 1, sizeof *acc);
    hit *hits = malloc((n_docs ? n_docs : 1) * sizeof *hits);
    double sum_ndcg = 0, sum_ap = 0, sum_r100 = 0;
    uint32_t n_eval = 0;
    const float k1 = 0.9f, b = 0.4f;
    if (spar_corpus_open(pick(dir, "queries.tsv", "queries.jsonl", path, sizeof path), SPAR_FORMAT_AUTO, &c, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    while ((st = spar_corpus_next(c, &doc, &d)) == SPAR_OK) {
        uint32_t qn = strmap_get(&qids, doc.id, doc.id_len, 0, 0, NULL);
        if (qn == UINT32_MAX) continue; /* unjudged */
        if (analyze_doc(a, ws, &doc, &t) != 0) return 1;
        memset(acc, 0, n_docs * sizeof *acc);
        for (uint32_t i = 0; i < t.n; i++) { /* repeated query terms count again (Lucene BooleanQuery) */
            uint32_t tid = strmap_get(&terms, t.data + t.off[i], t.len[i], 0, 0, NULL);
            if (tid == UINT32_MAX) continue;
            plist *p = &pl[tid];
            double idf = log(1.0 + (n_docs - p->n + 0.5) / (p->n + 0.5));
            for (uint32_t k = 0; k < p->n; k++) {
                float tf = (float)p->p[k].tf;
                float norm = k1 * (1 - b + b * (float)doclen[p->p[k].doc] / (float)avgdl);
                acc[p->p[k].doc] += (float)idf * tf * (k1 + 1) / (tf + norm);
            }
        }
        uint32_t nh = 0;
        for (uint32_t i = 0; i < n_docs; i++)
            if (acc[i] > 0) hits[nh++] = (hit){acc[i], i};
        qsort(hits, nh, sizeof *hits, hit_cmp);
        if (nh > 1000) nh = 1000;
        /* judgments of this query */
        size_t lo = 0, hi = n_qr;
        while (lo < hi) { size_t mid = (lo + hi) / 2; if (qr[mid].q < qn) lo = mid + 1; else hi = mid; }
        size_t qb = lo, qe = lo;
        while (qe < n_qr && qr[qe].q == qn) qe++;
        int gains[4096];
        uint32_t n_rel = 0, ng = 0;
        for (size_t k = qb; k < qe; k++) {
            if (qr[k].g > 0) { n_rel++; if (ng < 4096) gains[ng++] = qr[k].g; }
        }
        qsort(gains, ng, sizeof *gains, int_desc);
        double dcg = 0, idcg = 0, ap = 0;
        uint32_t found = 0, found100 = 0;
        for (uint32_t r = 0; r < nh; r++) {
            int g = 0;
            size_t l2 = qb, h2 = qe;
            while (l2 < h2) { size_t mid = (l2 + h2) / 2; if (qr[mid].d < hits[r].d) l2 = mid + 1; else h2 = mid; }
            if (l2 < qe && qr[l2].d == hits[r].d) g = qr[l2].g;
            if (g > 0) {
                if (r < 10) dcg += g / log2(r + 2.0);
                found++;
                if (r < 100) found100++;
                ap += (double)found / (r + 1);
            }
        }
        for (uint32_t r = 0; r < ng && r < 10; r++) idcg += gains[r] / log2(r + 2.0);
        sum_ndcg += idcg > 0 ? dcg / idcg : 0;
        sum_ap += n_rel ? ap / n_rel : 0;
        sum_r100 += n_rel ? (double)found100 / n_rel : 0;
        n_eval++;
    }
    spar_corpus_close(c);
    char os[160] = "whitespace";
    if (!ws) (void)spar_analysis_opts_format(o, os, sizeof os);
    printf("{\"bench\":\"analyzer-eval\",\"dir\":\"%s\",\"analysis\":\"%s\",\"docs\":%u,\"terms\":%u,\"avgdl\":%.2f,"
           "\"queries\":%u,\"ndcg@10\":%.4f,\"map\":%.4f,\"recall@100\":%.4f}\n",
           dir, os, n_docs, n_terms, avgdl, n_eval, n_eval ? sum_ndcg / n_eval : 0, n_eval ? sum_ap / n_eval : 0,
           n_eval ? sum_r100 / n_eval : 0);
    for (size_t i = 0; i < n_terms; i++) free(pl[i].p);
    free(pl);
    free(seen);
    free(doclen);
    free(acc);
    free(hits);
    free(qr);
    free(qnames);
    strmap_free(&docids);
    strmap_free(&terms);
    strmap_free(&qids);
    spar_terms_free(&t);
    spar_analyzer_free(a);
    return 0;
}

int main(int argc, char **argv) {
    const char *stemmer = "porter", *eval_dir = NULL, *analysis = NULL;
    double min_s = 2.0;
    int first = 1, ws = 0;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--whitespace") == 0) { ws = 1; first++; continue; }
        if (first + 1 >= argc) goto usage;
        if (strcmp(argv[first], "--stemmer") == 0) stemmer = argv[first + 1];
        else if (strcmp(argv[first], "--min-seconds") == 0) min_s = atof(argv[first + 1]);
        else if (strcmp(argv[first], "--eval") == 0) eval_dir = argv[first + 1];
        else if (strcmp(argv[first], "--analysis") == 0) analysis = argv[first + 1];
        else goto usage;
        first += 2;
    }
    if (eval_dir != NULL) {
        spar_analysis_opts eo;
        spar_analysis_opts_default(&eo);
        snprintf(eo.stemmer, sizeof eo.stemmer, "%s", stemmer);
        if (analysis != NULL && spar_analysis_opts_parse(analysis, strlen(analysis), &eo) != SPAR_OK) {
            fprintf(stderr, "bad --analysis string\n");
            return 2;
        }
        return run_eval(eval_dir, &eo, ws);
    }
    if (0) {
    usage:
        fprintf(stderr, "usage: %s [--stemmer NAME] [--min-seconds S] FILE...\n"
                        "       %s --eval DIR [--analysis 'lowercase=1;...'] [--stemmer NAME] [--whitespace]\n",
                argv[0], argv[0]);
        return 2;
    }
    if (first >= argc) { fprintf(stderr, "usage: %s [--stemmer NAME] [--min-seconds S] FILE...\n", argv[0]); return 2; }

    text_set ts = {0};
    uint64_t docs = 0, bad = 0, raw_bytes = 0, line_bytes = 0;
    /* pass 1: the reader alone */
    double t0 = spar_now();
    for (int i = first; i < argc; i++) {
        spar_corpus *c = NULL;
        spar_diag d = {{0}};
        if (spar_corpus_open(argv[i], SPAR_FORMAT_AUTO, &c, &d) != SPAR_OK) { fprintf(stderr, "%s\n", d.msg); return 1; }
        spar_doc doc;
        spar_status st;
        while ((st = spar_corpus_next(c, &doc, &d)) == SPAR_OK || st == SPAR_E_CORRUPT) {
            if (st == SPAR_E_CORRUPT) { bad++; continue; }
            docs++;
            line_bytes += doc.id_len + doc.title_len + doc.text_len;
        }
        if (st != SPAR_E_NOT_FOUND) { fprintf(stderr, "%s\n", d.msg); return 1; }
        uint64_t done, total;
        spar_corpus_progress(c, &done, &total);
        raw_bytes += done;
        spar_corpus_close(c);
    }
    double read_s = spar_now() - t0;
    /* pass 2: keep the texts for the analyzer */
    for (int i = first; i < argc; i++) {
        spar_corpus *c = NULL;
        spar_diag d = {{0}};
        if (spar_corpus_open(argv[i], SPAR_FORMAT_AUTO, &c, &d) != SPAR_OK) { fprintf(stderr, "%s\n", d.msg); return 1; }
        for (;;) {
            spar_doc doc;
            spar_status st = spar_corpus_next(c, &doc, &d);
            if (st == SPAR_E_NOT_FOUND) break;
            if (st == SPAR_E_CORRUPT) continue;
            if (st != SPAR_OK) { fprintf(stderr, "%s\n", d.msg); return 1; }
            if (push_text(&ts, doc.title, doc.title_len, doc.text, doc.text_len) != 0) return 1;
        }
        spar_corpus_close(c);
    }

    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "%s", stemmer);
    spar_analyzer *a = NULL;
    spar_diag d = {{0}};
    if (spar_analyzer_create(&o, &a, &d) != SPAR_OK) { fprintf(stderr, "%s\n", d.msg); return 1; }
    spar_terms terms = {0};
    uint64_t tokens = 0, bytes = 0;
    int reps = 0;
    double c0 = cpu_now();
    t0 = spar_now();
    double el = 0;
    do {
        size_t start = 0;
        for (size_t i = 0; i < ts.n; i++) {
            spar_terms_reset(&terms);
            if (spar_analyze(a, ts.data + start, ts.ends[i] - start, &terms) != SPAR_OK) return 1;
            tokens += terms.n;
            bytes += ts.ends[i] - start;
            start = ts.ends[i];
        }
        reps++;
        el = spar_now() - t0;
    } while (el < min_s);
    double cpu = cpu_now() - c0;
    printf("{\"bench\":\"analyzer\",\"files\":%d,\"docs\":%llu,\"malformed\":%llu,\"file_bytes\":%llu,"
           "\"reader_s\":%.4f,\"reader_mb_per_s\":%.1f,\"reader_file_mb_per_s\":%.1f,\"stemmer\":\"%s\","
           "\"reps\":%d,\"text_bytes\":%llu,\"terms\":%llu,\"analyze_s\":%.3f,\"terms_per_s\":%.0f,"
           "\"analyze_mb_per_s\":%.1f,\"analyze_cpu_s\":%.3f,\"terms_per_cpu_s\":%.0f}\n",
           argc - first, (unsigned long long)docs, (unsigned long long)bad, (unsigned long long)raw_bytes, read_s,
           (double)line_bytes / 1e6 / read_s, (double)raw_bytes / 1e6 / read_s, stemmer, reps,
           (unsigned long long)bytes / (unsigned long long)reps, (unsigned long long)tokens / (unsigned long long)reps,
           el, (double)tokens / el, (double)bytes / 1e6 / el, cpu, (double)tokens / cpu);
    spar_terms_free(&terms);
    spar_analyzer_free(a);
    free(ts.data);
    free(ts.ends);
    return 0;
}
