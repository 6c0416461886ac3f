/* tests/fuzz/fuzz_corpus.c — libFuzzer target for index/corpus.c (+ index/analyzer.c on what it yields).
 * The first input byte picks the format (BEIR / TSV) and a line limit; the rest is the file content, read
 * from memory (plain or gzip). Every document must be NUL-terminated valid UTF-8 with a non-empty id, every
 * error must carry a diagnostic, and the analyzer must accept each text. Under gcc this file is built with
 * tests/fuzz/replay_main.c and replays tests/fuzz/corpus/corpus/ as a regression test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "index/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static spar_analyzer *an;
    static spar_terms terms;
    if (an == NULL && spar_analyzer_create(NULL, &an, NULL) != SPAR_OK) abort();
    if (size == 0) return 0;
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
