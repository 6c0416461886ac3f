/* fuzz_tokenizer.c — libFuzzer target for every reader of untrusted bytes in encoders/tokenizer and
 * encoders/sparse/idf_query: the first byte picks the reader, the rest is its input.
 *   0: text -> spar_tokenizer_encode (strict and replacing), with invariants: status, id range, span bounds and
 *      order, capacity bound, and truncation = prefix of the untruncated result (determinism)
 *   1: vocab.txt -> spar_tokenizer_load_mem, then encode a fixed text and the input itself
 *   2: tokenizer.json -> spar_tokenizer_load_mem, same
 *   3: idf.json -> spar_idf_load_mem against a fixed vocabulary, then query-encode the input
 * Readers may only return SPAR_OK, SPAR_E_CORRUPT or SPAR_E_UNSUPPORTED on bad input; anything else, or a broken
 * invariant, traps. Seeds: tests/fuzz/corpus/tokenizer/. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/sparse/idf_query.h"
#include "encoders/tokenizer/tokenizer.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\na\n##a\nb\n##b\nab\n.\n,\n!\ncafe\n"
                            "\xe4\xb8\xad\n##\xe6\x96\x87\ne\n##e\n\xc3\x9f\n[\n]\n#\n##\n";

static spar_tokenizer *fixed_tok(void) {
    static spar_tokenizer *tok;
    if (tok == NULL) CHECK(spar_tokenizer_load_mem(VOCAB, sizeof VOCAB - 1, SPAR_TOKENIZER_VOCAB_TXT, NULL, &tok,
                                                   NULL) == SPAR_OK);
    return tok;
}

static void check_text(const spar_tokenizer *tok, const uint8_t *s, size_t n) {
    spar_tokenizer_info info;
    spar_tokenizer_get_info(tok, &info);
    if (info.cls_id < 0 || info.sep_id < 0) return;
    size_t cap = spar_tokenizer_encode_bound(n);
    uint32_t *ids = malloc(cap * sizeof *ids), *ids2 = malloc(cap * sizeof *ids2);
    spar_token_span *sp = malloc(cap * sizeof *sp);
    CHECK(ids && ids2 && sp);
    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.max_len = 0;
    size_t k = 0, k2 = 0;
    spar_status st = spar_tokenizer_encode(tok, (const char *)s, n, &o, ids, sp, cap, &k, NULL);
    CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT);
    o.replace_invalid = 1;
    st = spar_tokenizer_encode(tok, (const char *)s, n, &o, ids, sp, cap, &k, NULL);
    CHECK(st == SPAR_OK);
    CHECK(k >= 2 && k <= cap);
    uint32_t V = spar_tokenizer_vocab_size(tok);
    CHECK(ids[0] == (uint32_t)info.cls_id && ids[k - 1] == (uint32_t)info.sep_id);
    for (size_t i = 0; i < k; i++) {
        CHECK(ids[i] < V);
        CHECK(sp[i].byte_start <= sp[i].byte_end && sp[i].byte_end <= n);
        CHECK(sp[i].char_start <= sp[i].char_end && sp[i].char_end <= n); /* chars <= bytes */
        if (i > 0 && i + 1 < k) { /* real pieces: non-empty, in text order */
            CHECK(sp[i].byte_end > sp[i].byte_start && sp[i].char_end > sp[i].char_start);
            if (i > 1) CHECK(sp[i].byte_start >= sp[i - 1].byte_start && sp[i].char_start >= sp[i - 1].char_start);
        }
    }
    /* truncation is a prefix of the full result, closed by [SEP] */
    o.max_len = 2 + (n ? s[0] % 8 : 0);
    st = spar_tokenizer_encode(tok, (const char *)s, n, &o, ids2, NULL, cap, &k2, NULL);
    CHECK(st == SPAR_OK);
    CHECK(k2 == (k < o.max_len ? k : o.max_len));
    CHECK(memcmp(ids, ids2, (k2 - 1) * sizeof *ids) == 0 && ids2[k2 - 1] == ids[k - 1]);
    /* a too-small capacity reports the same count */
    if (k > 2) {
        st = spar_tokenizer_encode(tok, (const char *)s, n, &(spar_tokenize_opts){0, 1, 1}, ids2, NULL, k - 1, &k2, NULL);
        CHECK(st == SPAR_E_INVALID_ARG && k2 == k);
    }
    free(ids);
    free(ids2);
    free(sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spar_tokenizer *tok = fixed_tok();
    if (size == 0) {
        check_text(tok, data, 0);
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0:
        check_text(tok, p, n);
        break;
    case 1:
    case 2: {
        spar_tokenizer *t = NULL;
        spar_diag d;
        spar_status st = spar_tokenizer_load_mem((const char *)p, n,
                                                 (data[0] & 3) == 1 ? SPAR_TOKENIZER_VOCAB_TXT : SPAR_TOKENIZER_JSON,
                                                 "fuzz", &t, &d);
        CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT || st == SPAR_E_UNSUPPORTED);
        CHECK((st == SPAR_OK) == (t != NULL));
        if (t != NULL) {
            const char *fixed = "The Caf\xc3\xa9 [SEP] ab, \xe4\xb8\xad\xe6\x96\x87!";
            uint32_t ids[64];
            size_t k = 0;
            spar_tokenize_opts o = spar_tokenize_opts_default();
            o.add_special = 0; /* a fuzzed vocab may lack [CLS]/[SEP] */
            CHECK(spar_tokenizer_encode(t, fixed, strlen(fixed), &o, ids, NULL, 64, &k, NULL) == SPAR_OK);
            if (n < 4096) check_text(t, p, n > 256 ? 256 : n);
            spar_tokenizer_free(t);
        }
        break;
    }
    case 3: {
        spar_idf *idf = NULL;
        spar_status st = spar_idf_load_mem((const char *)p, n, tok, "fuzz", &idf, NULL);
        CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT);
        if (idf != NULL) {
            size_t cap = spar_tokenizer_encode_bound(n);
            uint32_t *ids = malloc(cap * sizeof *ids);
            float *w = malloc(cap * sizeof *w);
            CHECK(ids && w);
            spar_idf_query_opts o = spar_idf_query_opts_default();
            o.tok.replace_invalid = 1;
            size_t k = 0;
            CHECK(spar_idf_query_encode(idf, tok, (const char *)p, n, &o, ids, w, cap, &k, NULL) == SPAR_OK);
            for (size_t i = 1; i < k; i++) CHECK(ids[i - 1] < ids[i]);
            for (size_t i = 0; i < k; i++) CHECK(w[i] >= 0.0f && w[i] <= FLT_MAX); /* what the searchers accept */
            free(ids);
            free(w);
            spar_idf_free(idf);
        }
        break;
    }
    }
    return 0;
}
