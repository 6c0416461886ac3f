/* bench_tokenizer.c — driver and benchmark for the WordPiece tokenizer (encoders/tokenizer/tokenizer.h).
 *
 *   bench_tokenizer VOCAB TEXTS.hex [--out IDS.txt] [--max-len N] [--repeat R] [--idf IDF.json]
 *
 * TEXTS.hex holds one text per line as the hex of its raw bytes (tests/python/ref_wordpiece.py writes it).
 * Every text is tokenized with [CLS]/[SEP], invalid UTF-8 replaced (U+FFFD, then dropped by cleanup) and no
 * truncation unless --max-len. --out writes "ids<TAB>char offsets" per text in the format of
 * ref_wordpiece.py, for tests/cli/tokenizer_reference.sh. With --idf, each text is instead encoded as an
 * inference-free query (encoders/sparse/idf_query.h) and --out gets "id:weight ..." (%.9g of the float). Timing covers encode only (hex decoding is done
 * first) over R passes; one JSON line goes to stdout: bytes, texts, tokens, MB/s and tokens/s on one core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/sparse/idf_query.h"
#include "encoders/tokenizer/tokenizer.h"

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s VOCAB TEXTS.hex [--out IDS.txt] [--max-len N] [--repeat R]\n", argv[0]);
        return 2;
    }
    const char *out_path = NULL, *idf_path = NULL;
    uint32_t max_len = 0;
    int repeat = 1;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out_path = argv[++i];
        else if (strcmp(argv[i], "--max-len") == 0 && i + 1 < argc) max_len = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--idf") == 0 && i + 1 < argc) idf_path = argv[++i];
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    spar_diag diag = {{0}};
    spar_tokenizer *tok = NULL;
    double t0 = spar_now();
    spar_status st = spar_tokenizer_load(argv[1], &tok, &diag);
    if (st != SPAR_OK) { fprintf(stderr, "load: %s: %s\n", spar_status_str(st), diag.msg); return 1; }
    double load_s = spar_now() - t0;
    spar_idf *idf = NULL;
    if (idf_path && (st = spar_idf_load(idf_path, tok, &idf, &diag)) != SPAR_OK) {
        fprintf(stderr, "idf: %s: %s\n", spar_status_str(st), diag.msg);
        return 1;
    }

    FILE *f = fopen(argv[2], "rb");
    if (f == NULL) { perror(argv[2]); return 1; }
    size_t cap = 1 << 20, len = 0;
    char *hex = malloc(cap);
    for (size_t got; hex && (got = fread(hex + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) hex = realloc(hex, cap *= 2);
    }
    fclose(f);
    if (hex == NULL) return 1;
    /* Decode in place: texts become [start, end) ranges of raw bytes in `raw`. */
    char *raw = malloc(len / 2 + 1);
    size_t *starts = malloc((len + 2) * sizeof *starts), n_texts = 0, rl = 0;
    if (raw == NULL || starts == NULL) return 1;
    starts[0] = 0;
    for (size_t i = 0; i < len;) {
        if (hex[i] == '\n') { starts[++n_texts] = rl; i++; continue; }
        if (i + 1 >= len || hexval(hex[i]) < 0 || hexval(hex[i + 1]) < 0) {
            fprintf(stderr, "%s: bad hex at byte %zu\n", argv[2], i);
            return 1;
        }
        raw[rl++] = (char)(hexval(hex[i]) * 16 + hexval(hex[i + 1]));
        i += 2;
    }
    free(hex);

    spar_tokenize_opts o = spar_tokenize_opts_default();
    o.max_len = max_len;
    o.replace_invalid = 1;
    size_t max_text = 0;
    for (size_t k = 0; k < n_texts; k++) max_text = SPAR_MAX(max_text, starts[k + 1] - starts[k]);
    size_t id_cap = spar_tokenizer_encode_bound(max_text);
    uint32_t *ids = malloc(id_cap * sizeof *ids);
    spar_token_span *spans = malloc(id_cap * sizeof *spans);
    float *weights = malloc(id_cap * sizeof *weights);
    if (ids == NULL || spans == NULL || weights == NULL) return 1;
    spar_idf_query_opts qo = spar_idf_query_opts_default();
    qo.tok = o;
    FILE *out = out_path ? fopen(out_path, "w") : NULL;
    if (out_path && out == NULL) { perror(out_path); return 1; }

    uint64_t n_tokens = 0;
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        uint64_t toks = 0;
        double t1 = spar_now();
        for (size_t k = 0; k < n_texts; k++) {
            size_t n = 0;
            if (idf)
                st = spar_idf_query_encode(idf, tok, raw + starts[k], starts[k + 1] - starts[k], &qo, ids, weights,
                                           id_cap, &n, &diag);
            else
                st = spar_tokenizer_encode(tok, raw + starts[k], starts[k + 1] - starts[k], &o, ids,
                                           out ? spans : NULL, id_cap, &n, &diag);
            if (st != SPAR_OK) {
                fprintf(stderr, "text %zu: %s: %s\n", k + 1, spar_status_str(st), diag.msg);
                return 1;
            }
            toks += n;
            if (out && r == 0 && idf) {
                for (size_t j = 0; j < n; j++) fprintf(out, j ? " %u:%.9g" : "%u:%.9g", ids[j], (double)weights[j]);
                fputc('\n', out);
            } else if (out && r == 0) {
                for (size_t j = 0; j < n; j++) fprintf(out, j ? " %u" : "%u", ids[j]);
                fputc('\t', out);
                for (size_t j = 0; j < n; j++) fprintf(out, j ? " %u:%u" : "%u:%u", spans[j].char_start, spans[j].char_end);
                fputc('\n', out);
            }
        }
        double dt = spar_now() - t1;
        if (dt < best) best = dt;
        n_tokens = toks;
        if (out) { fclose(out); out = NULL; }
    }
    printf("{\"bench\":\"tokenizer\",\"texts\":%zu,\"bytes\":%zu,\"tokens\":%llu,\"load_s\":%.4f,\"encode_s\":%.4f,"
           "\"mb_per_s\":%.2f,\"tokens_per_s\":%.0f,\"threads\":1}\n",
           n_texts, rl, (unsigned long long)n_tokens, load_s, best, rl / best / 1e6, n_tokens / best);
    free(ids);
    free(spans);
    free(weights);
    spar_idf_free(idf);
    free(raw);
    free(starts);
    spar_tokenizer_free(tok);
    return 0;
}
