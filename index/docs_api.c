/* docs_api.c — the public face (include/spar/spar_corpus.h) of the streaming corpus reader (index/corpus.h)
 * and of an index's stored fields (index/index.h). Thin wrappers: no format logic lives here. */
#include <stdlib.h>

#include "index/corpus.h"
#include "index/index.h"
#include "spar/spar_corpus.h"

struct spar_docs {
    spar_corpus *c;
};

spar_status spar_docs_open(const char *path, spar_corpus_format format, spar_docs **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_docs *d = calloc(1, sizeof *d);
    if (d == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_corpus_open(path, format, &d->c, diag);
    if (st != SPAR_OK) {
        free(d);
        return st;
    }
    *out = d;
    return SPAR_OK;
}

spar_status spar_docs_next(spar_docs *d, spar_doc_view *doc, spar_diag *diag) {
    if (d == NULL || doc == NULL) return SPAR_E_INVALID_ARG;
    spar_doc in;
    spar_status st = spar_corpus_next(d->c, &in, diag);
    if (st != SPAR_OK) return st;
    doc->id = in.id;
    doc->id_len = in.id_len;
    doc->title = in.title;
    doc->title_len = in.title_len;
    doc->text = in.text;
    doc->text_len = in.text_len;
    doc->line = in.line;
    return SPAR_OK;
}

uint64_t spar_docs_lines(const spar_docs *d) { return d ? spar_corpus_lines(d->c) : 0; }
uint64_t spar_docs_blank_lines(const spar_docs *d) { return d ? spar_corpus_blank_lines(d->c) : 0; }

void spar_docs_progress(const spar_docs *d, uint64_t *done, uint64_t *total) {
    uint64_t a = 0, b = 0;
    if (d != NULL) spar_corpus_progress(d->c, &a, &b);
    if (done) *done = a;
    if (total) *total = b;
}

void spar_docs_close(spar_docs *d) {
    if (d == NULL) return;
    spar_corpus_close(d->c);
    free(d);
}

spar_status spar_index_doc_text(const spar_index *ix, uint32_t docid, char *title, size_t title_cap,
                                size_t *title_len, char *text, size_t text_cap, size_t *text_len) {
    if (ix == NULL) return SPAR_E_INVALID_ARG;
    return spar_index_doc_fields(ix, docid, title, title_cap, title_len, text, text_cap, text_len);
}
