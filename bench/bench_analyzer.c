/* bench/bench_analyzer.c — micro-benchmark of the indexing front end: corpus reading (index/corpus.c) and
 * text analysis (index/analyzer.c). Usage:
 *   bench_analyzer [--stemmer NAME] [--min-seconds S] FILE...
 * Pass 1 streams every file through spar_corpus_next (reader MB/s over id+title+text bytes, and over file
 * bytes, compressed if gzip); pass 2 keeps the texts in memory and analyses the title and text of every document, repeated until min-seconds have elapsed
 * (tokens/s, MB/s). Prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "index/corpus.h"

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

int main(int argc, char **argv) {
    const char *stemmer = "porter";
    double min_s = 2.0;
    int first = 1;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--stemmer") == 0 && first + 1 < argc) stemmer = argv[first + 1];
        else if (strcmp(argv[first], "--min-seconds") == 0 && first + 1 < argc) min_s = atof(argv[first + 1]);
        else { fprintf(stderr, "usage: %s [--stemmer NAME] [--min-seconds S] FILE...\n", argv[0]); return 2; }
        first += 2;
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
    printf("{\"bench\":\"analyzer\",\"files\":%d,\"docs\":%llu,\"malformed\":%llu,\"file_bytes\":%llu,"
           "\"reader_s\":%.4f,\"reader_mb_per_s\":%.1f,\"reader_file_mb_per_s\":%.1f,\"stemmer\":\"%s\","
           "\"reps\":%d,\"text_bytes\":%llu,\"terms\":%llu,\"analyze_s\":%.3f,\"terms_per_s\":%.0f,"
           "\"analyze_mb_per_s\":%.1f}\n",
           argc - first, (unsigned long long)docs, (unsigned long long)bad, (unsigned long long)raw_bytes, read_s,
           (double)line_bytes / 1e6 / read_s, (double)raw_bytes / 1e6 / read_s, stemmer, reps,
           (unsigned long long)bytes / (unsigned long long)reps, (unsigned long long)tokens / (unsigned long long)reps,
           el, (double)tokens / el, (double)bytes / 1e6 / el);
    spar_terms_free(&terms);
    spar_analyzer_free(a);
    free(ts.data);
    free(ts.ends);
    return 0;
}
