/* tests/fuzz/fuzz_sparse_jsonl.c — libFuzzer target for the learned-sparse text readers (index/sparse/
 * sparse_jsonl.c): the vocabulary file (vocab.txt) and JSONL vector files (Anserini JsonVectorCollection,
 * query-vector files) with token keys mapped through a vocabulary or decimal term ids, read from memory
 * (spar_sparse_csr_parse_jsonl) and from a file (spar_sparse_csr_read_jsonl, plain or gzip, via a memfd).
 * The first byte picks the mode, the rest is the file:
 *   mode 0: vocab.txt: each line's token must map back to its line number; then a fixed JSONL is parsed with it
 *   mode 1: JSONL through a fixed vocabulary;  mode 2: JSONL with decimal term ids (dim 1000)
 *   mode 3: as 2;  bit 2: skip unknown tokens instead of failing
 * Both JSONL paths must agree (status and CSR) on plain text without NUL bytes; every failure must be
 * SPAR_E_CORRUPT (or IO for the file path) with a message naming the source; every CSR must be well formed:
 * ascending ids below dim, weights in [0, 1e15] (what the index build and the searchers accept), a key per row,
 * one row per non-blank line. Seeds: tests/fuzz/corpus/sparse_jsonl/. */
#define _GNU_SOURCE 1 /* memfd_create (fuzz_util.h) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "spar/spar_sparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char VOCAB[] = "[PAD]\n[UNK]\nthe\ncat\n##s\nsat\non\nmat\n\xc3\xa9t\xc3\xa9\n0\n1\n\"q\"\n\\\n";
static const char FIXED_JSONL[] = "{\"id\":\"d1\",\"vector\":{\"the\":1.5,\"cat\":2,\"##s\":0.25}}\n"
                                  "{\"_id\":7,\"vector\":{\"mat\":1,\"on\":0}}\n";

static spar_sparse_vocab *load_vocab(const uint8_t *data, size_t size, spar_status *st, spar_diag *d) {
    int fd;
    char path[64];
    fuzz_memfile(data, size, &fd, path);
    spar_sparse_vocab *v = NULL;
    *st = spar_sparse_vocab_load(path, &v, d);
    close(fd);
    if (*st != SPAR_OK) FUZZ_CHECK(strncmp(d->msg, path, strlen(path)) == 0);
    return v;
}

static const spar_sparse_vocab *fixed_vocab(void) {
    static spar_sparse_vocab *v;
    if (v == NULL) {
        spar_status st;
        spar_diag d;
        v = load_vocab((const uint8_t *)VOCAB, sizeof VOCAB - 1, &st, &d);
        FUZZ_CHECK(st == SPAR_OK && spar_sparse_vocab_size(v) == 13);
    }
    return v;
}

static void check_csr(const spar_sparse_csr *m, uint32_t dim) {
    FUZZ_CHECK(m->dim == dim);
    if (m->n_rows == 0) return;
    FUZZ_CHECK(m->offsets != NULL && m->keys != NULL && m->offsets[0] == 0);
    for (uint32_t r = 0; r < m->n_rows; r++) {
        FUZZ_CHECK(m->keys[r] != NULL && m->offsets[r] <= m->offsets[r + 1]);
        spar_sparse_vec v = spar_sparse_csr_row(m, r);
        for (uint32_t i = 0; i < v.n; i++) {
            FUZZ_CHECK(v.ids[i] < dim && (i == 0 || v.ids[i] > v.ids[i - 1]));
            FUZZ_CHECK(v.weights[i] >= 0.0f && v.weights[i] <= 1e15f); /* what the index build accepts */
        }
    }
}

static int same_csr(const spar_sparse_csr *a, const spar_sparse_csr *b) {
    if (a->n_rows != b->n_rows || a->dim != b->dim) return 0;
    for (uint32_t r = 0; r < a->n_rows; r++) {
        spar_sparse_vec x = spar_sparse_csr_row(a, r), y = spar_sparse_csr_row(b, r);
        if (strcmp(a->keys[r], b->keys[r]) != 0 || x.n != y.n) return 0;
        if (x.n && (memcmp(x.ids, y.ids, x.n * sizeof *x.ids) || memcmp(x.weights, y.weights, x.n * sizeof *x.weights)))
            return 0;
    }
    return 1;
}

static uint32_t nonblank_lines(const uint8_t *p, size_t n) {
    uint32_t k = 0;
    int blank = 1;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '\n') {
            k += !blank;
            blank = 1;
        } else if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            blank = 0;
        }
    }
    return k;
}

/* JSONL from memory and from a file; both checked, compared when the two readers see the same bytes. */
static void jsonl(const uint8_t *data, size_t size, const spar_sparse_vocab *vocab, uint32_t dim, int skip) {
    spar_sparse_csr a, b;
    spar_diag d = {{0}}, d2 = {{0}};
    uint64_t unk_a = 0, unk_b = 0;
    spar_status sa = spar_sparse_csr_parse_jsonl((const char *)data, size, "fuzz", vocab, dim, skip, &a, &unk_a, &d);
    FUZZ_CHECK(sa == SPAR_OK || sa == SPAR_E_CORRUPT);
    if (memchr(data, '\0', size) != NULL) FUZZ_CHECK(sa != SPAR_OK); /* a NUL never silently cuts a token or id */
    if (sa == SPAR_OK) {
        check_csr(&a, vocab ? spar_sparse_vocab_size(vocab) : dim);
        FUZZ_CHECK(a.n_rows == nonblank_lines(data, size)); /* one row per record: nothing silently dropped */
    } else {
        FUZZ_CHECK(strncmp(d.msg, "fuzz:", 5) == 0);
    }
    if (!skip) FUZZ_CHECK(unk_a == 0);

    int fd;
    char path[64];
    fuzz_memfile(data, size, &fd, path);
    spar_status sb = spar_sparse_csr_read_jsonl(path, vocab, dim, skip, &b, &unk_b, &d2);
    close(fd);
    FUZZ_CHECK(sb == SPAR_OK || sb == SPAR_E_CORRUPT);
    if (sb == SPAR_OK) check_csr(&b, vocab ? spar_sparse_vocab_size(vocab) : dim);
    else FUZZ_CHECK(strncmp(d2.msg, path, strlen(path)) == 0);

    int plain = memchr(data, '\0', size) == NULL && !(size >= 2 && data[0] == 0x1f && data[1] == 0x8b);
    if (plain) {
        FUZZ_CHECK(sa == sb);
        if (sa == SPAR_OK) FUZZ_CHECK(same_csr(&a, &b) && unk_a == unk_b);
        else { /* the same "file:line: reason" (up to the shorter, truncated one) */
            size_t pl = strlen(path);
            FUZZ_CHECK(strncmp(d.msg + 4, d2.msg + pl, strlen(d2.msg + pl)) == 0);
        }
    }
    if (sa == SPAR_OK) spar_sparse_csr_free(&a);
    if (sb == SPAR_OK) spar_sparse_csr_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    int skip = (data[0] & 4) != 0;
    switch (data[0] & 3) {
    case 0: {
        spar_status st;
        spar_diag d = {{0}};
        spar_sparse_vocab *v = load_vocab(p, n, &st, &d);
        FUZZ_CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT);
        if (st != SPAR_OK) break;
        /* line i (without "\n" / "\r\n") is token i */
        uint32_t line = 0;
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && p[i] != '\n') continue;
            if (i == n && start == n) break; /* no unterminated last line */
            size_t end = i;
            if (end > start && p[end - 1] == '\r') end--;
            FUZZ_CHECK(spar_sparse_vocab_find(v, (const char *)p + start, end - start) == line);
            line++;
            start = i + 1;
        }
        FUZZ_CHECK(spar_sparse_vocab_size(v) == line);
        if (line > 0) jsonl((const uint8_t *)FIXED_JSONL, sizeof FIXED_JSONL - 1, v, 0, 1);
        spar_sparse_vocab_free(v);
        break;
    }
    case 1: jsonl(p, n, fixed_vocab(), 0, skip); break;
    default: jsonl(p, n, NULL, 1000, skip); break;
    }
    return 0;
}
