/* tests/fuzz/fuzz_corpus.c — libFuzzer target for index/corpus.c (+ index/analyzer.c on what it yields).
 * The first input byte picks the format (BEIR / TSV) and a line limit; the rest is the file content, read
 * from memory (plain or gzip). Every document must be NUL-terminated valid UTF-8 with a non-empty id, every
 * error must carry a diagnostic, and the analyzer must accept each text. The high nibble of the first byte
 * also selects analyzer settings for a run of the analyzer over the raw bytes. Under gcc this file is built with
 * tests/fuzz/replay_main.c and replays tests/fuzz/corpus/corpus/ as a regression test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "index/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The analyzer on arbitrary bytes (invalid UTF-8 included), with settings picked by `sel`: every term is
 * non-empty valid UTF-8 within max_token_bytes, and a second run (stem cache warm) gives the same terms. */
static void fuzz_analyzer(unsigned sel, const uint8_t *data, size_t size) {
    static spar_analyzer *ans[16];
    static spar_terms t1, t2;
    unsigned k = sel & 15;
    if (ans[k] == NULL) {
        spar_analysis_opts o;
        spar_analysis_opts_default(&o);
        o.lowercase = (k & 1) != 0;
        o.strip_accents = (k & 2) != 0;
        if (k & 4) memcpy(o.stopwords, "none", 5);
        memcpy(o.stemmer, (k & 8) ? "english" : "porter", (k & 8) ? 8 : 7);
        o.max_token_bytes = (k & 4) ? 16 : 255;
        if (spar_analyzer_create(&o, &ans[k], NULL) != SPAR_OK) abort();
    }
    uint32_t max = (k & 4) ? 16 : 255;
    spar_terms_reset(&t1);
    spar_terms_reset(&t2);
    if (spar_analyze(ans[k], (const char *)data, size, &t1) != SPAR_OK) abort();
    if (spar_analyze(ans[k], (const char *)data, size, &t2) != SPAR_OK) abort();
    if (t1.n != t2.n || t1.used != t2.used || (t1.used && memcmp(t1.data, t2.data, t1.used) != 0)) abort();
    for (uint32_t i = 0; i < t1.n; i++) {
        if (t1.len[i] == 0 || t1.len[i] > max || t1.off[i] + t1.len[i] > t1.used) abort();
        if (spar_utf8_validate(t1.data + t1.off[i], t1.len[i]) != t1.len[i]) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static spar_analyzer *an;
    static spar_terms terms;
    if (an == NULL && spar_analyzer_create(NULL, &an, NULL) != SPAR_OK) abort();
    if (size == 0) return 0;
    fuzz_analyzer(data[0] >> 4, data + 1, size - 1);
    spar_corpus_format fmt = (data[0] & 1) ? SPAR_FORMAT_TSV : SPAR_FORMAT_BEIR;
    size_t max_line = (data[0] & 2) ? 64 : 0;
    spar_corpus *c = NULL;
    spar_diag d = {{0}};
    if (spar_corpus_open_mem(data + 1, size - 1, "fuzz", fmt, &c, &d) != SPAR_OK) return 0;
    spar_corpus_set_max_line(c, max_line);
    uint64_t ok = 0, bad = 0;
    for (;;) {
        spar_doc doc;
        d.msg[0] = '\0';
        uint64_t before = spar_corpus_lines(c);
        spar_status st = spar_corpus_next(c, &doc, &d);
        if (st == SPAR_E_NOT_FOUND) break;
        if (st != SPAR_OK && d.msg[0] == '\0') abort(); /* every failure explains itself */
        if (st == SPAR_E_CORRUPT) {
            /* a line error names its line and consumed it (so skipping callers always make progress) */
            if (strncmp(d.msg, "fuzz:", 5) != 0 || spar_corpus_lines(c) <= before) abort();
            bad++;
            continue;
        }
        if (st == SPAR_E_IO) { /* stream-level (gzip) error: sticky */
            if (spar_corpus_next(c, &doc, &d) != SPAR_E_IO) abort();
            break;
        }
        if (st != SPAR_OK) abort();
        if (doc.line != spar_corpus_lines(c)) abort();
        ok++;
        if (doc.id_len == 0 || doc.id[doc.id_len] != '\0' || strlen(doc.id) != doc.id_len) abort();
        if (doc.title[doc.title_len] != '\0' || doc.text[doc.text_len] != '\0') abort();
        if (spar_utf8_validate(doc.id, doc.id_len) != doc.id_len) abort();
        if (spar_utf8_validate(doc.title, doc.title_len) != doc.title_len) abort();
        if (spar_utf8_validate(doc.text, doc.text_len) != doc.text_len) abort();
        spar_terms_reset(&terms);
        if (spar_analyze(an, doc.title, doc.title_len, &terms) != SPAR_OK) abort();
        if (spar_analyze(an, doc.text, doc.text_len, &terms) != SPAR_OK) abort();
        for (uint32_t i = 0; i < terms.n; i++)
            if (terms.len[i] == 0 || terms.len[i] > 255 || terms.off[i] + terms.len[i] > terms.used) abort();
    }
    if (spar_corpus_lines(c) < ok + bad) abort();
    spar_corpus_close(c);
    return 0;
}
