/* tests/unit/test_corpus.c — index/corpus.c: BEIR JSONL and TSV parsing, every malformed-line diagnostic
 * ("path:line: reason") followed by successful continuation, line-ending/BOM/blank handling, gzip (plain vs
 * gz equality, multi-member, truncation, corruption), the long-line limit, and strict UTF-8 validation.
 * Inputs are written to a private temporary directory. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <zlib.h>

#include "index/corpus.h"

#include "common/test_util.h"

static char g_dir[256];

static const char *tmp_path(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* gzip `data` into a file as `members` concatenated members (split evenly). */
static void write_gz(const char *path, const void *data, size_t n, int members) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t per = members > 0 ? (n + (size_t)members - 1) / (size_t)members : n;
    for (size_t at = 0; at < n || (n == 0 && at == 0); at += per) {
        size_t k = SPAR_MIN(per, n - at);
        z_stream z;
        memset(&z, 0, sizeof z);
        CU_ASSERT_EQUAL_FATAL(deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        size_t cap = deflateBound(&z, (uLong)k) + 64;
        unsigned char *out = malloc(cap);
        z.next_in = (Bytef *)data + at;
        z.avail_in = (uInt)k;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        CU_ASSERT_EQUAL(deflate(&z, Z_FINISH), Z_STREAM_END);
        fwrite(out, 1, cap - z.avail_out, f);
        deflateEnd(&z);
        free(out);
        if (n == 0) break;
    }
    fclose(f);
}

static spar_corpus *open_str(const char *name, const char *content, spar_corpus_format fmt) {
    const char *p = tmp_path(name);
    write_file(p, content, strlen(content));
    spar_corpus *c = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_corpus_open(p, fmt, &c, &d), SPAR_OK);
    return c;
}

/* Expect the next call to fail with `st` and a diag that starts with "<path>:<line>: " and contains `reason`. */
static void expect_bad(spar_corpus *c, const char *name, unsigned line, const char *reason) {
    spar_doc doc;
    spar_diag d = {{0}};
    spar_status st = spar_corpus_next(c, &doc, &d);
    CU_ASSERT_EQUAL(st, SPAR_E_CORRUPT);
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:%u: ", tmp_path(name), line);
    CU_ASSERT_EQUAL(strncmp(d.msg, prefix, strlen(prefix)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, reason));
    if (st != SPAR_E_CORRUPT || strncmp(d.msg, prefix, strlen(prefix)) != 0 || strstr(d.msg, reason) == NULL)
        fprintf(stderr, "\n   expected '%s...%s', got st=%d '%s'\n", prefix, reason, st, d.msg);
}

static void expect_doc(spar_corpus *c, const char *id, const char *title, const char *text, unsigned line) {
    spar_doc doc;
    spar_diag d = {{0}};
    spar_status st = spar_corpus_next(c, &doc, &d);
    CU_ASSERT_EQUAL_FATAL(st, SPAR_OK);
    if (st != SPAR_OK) return;
    CU_ASSERT_STRING_EQUAL(doc.id, id);
    CU_ASSERT_EQUAL(doc.id_len, strlen(id));
    CU_ASSERT_STRING_EQUAL(doc.title, title);
    CU_ASSERT_EQUAL(doc.title_len, strlen(title));
    CU_ASSERT_EQUAL(doc.text_len, strlen(text));
    CU_ASSERT_EQUAL(memcmp(doc.text, text, strlen(text)), 0);
    CU_ASSERT_EQUAL(doc.line, line);
}

static void expect_end(spar_corpus *c) {
    spar_doc doc;
    CU_ASSERT_EQUAL(spar_corpus_next(c, &doc, NULL), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_corpus_next(c, &doc, NULL), SPAR_E_NOT_FOUND);
}

static void test_beir_basic(void) {
    spar_corpus *c = open_str("basic.jsonl",
                              "{\"_id\": \"d1\", \"title\": \"T one\", \"text\": \"hello world\"}\n"
                              "{\"text\": \"no title\", \"_id\": \"d2\", \"extra\": [1, {\"x\": null}], \"n\": 3.5}\n"
                              "{\"_id\": 42, \"text\": \"numeric id\", \"title\": null}\n"
                              "{\"_id\": \"d4\", \"text\": \"\"}\n"
                              "{\"_id\": -0, \"text\": \"z\"}\n"
                              "{\"_id\": 9007199254740992, \"text\": \"big\"}\n",
                              SPAR_FORMAT_AUTO);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "d1", "T one", "hello world", 1);
    expect_doc(c, "d2", "", "no title", 2);
    expect_doc(c, "42", "", "numeric id", 3);
    expect_doc(c, "d4", "", "", 4);
    expect_doc(c, "0", "", "z", 5);
    expect_doc(c, "9007199254740992", "", "big", 6);
    expect_end(c);
    CU_ASSERT_EQUAL(spar_corpus_lines(c), 6);
    spar_corpus_close(c);
}

static void test_beir_escapes(void) {
    /* \u00e9 = é, \ud83d\ude00 = U+1F600 (surrogate pair), \" \\ \n \t */
    spar_corpus *c = open_str("esc.jsonl",
                              "{\"_id\": \"e\\u00e9\", \"text\": \"a\\ud83d\\ude00b \\\"q\\\" \\\\ x\\ny\\tz\"}\n",
                              SPAR_FORMAT_BEIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "e\xC3\xA9", "", "a\xF0\x9F\x98\x80" "b \"q\" \\ x\ny\tz", 1);
    expect_end(c);
    spar_corpus_close(c);
}

static void test_beir_malformed_each_then_continue(void) {
    const char *name = "bad.jsonl";
    spar_corpus *c = open_str(name,
                              "{\"_id\": \"ok1\", \"text\": \"t\"}\n"              /* 1 */
                              "{\"_id\": \"x\", \"text\": \"t\"\n"                 /* 2 unterminated */
                              "{\"text\": \"t\"}\n"                                /* 3 */
                              "{\"_id\": true, \"text\": \"t\"}\n"                 /* 4 */
                              "{\"_id\": \"x\"}\n"                                 /* 5 */
                              "{\"_id\": \"x\", \"text\": 5}\n"                    /* 6 */
                              "{\"_id\": \"\", \"text\": \"t\"}\n"                 /* 7 */
                              "[1, 2]\n"                                           /* 8 */
                              "{\"_id\": \"x\", \"text\": \"a\xC3\x28\"}\n"        /* 9 invalid UTF-8 */
                              "{\"_id\": \"x\", \"text\": \"a\\ud800b\"}\n"        /* 10 lone surrogate */
                              "{\"_id\": \"x\", \"text\": \"a\\u0000b\"}\n"        /* 11 \u0000 */
                              "{\"_id\": \"x\", \"text\": \"t\"} junk\n"           /* 12 trailing */
                              "{\"_id\": 1.5, \"text\": \"t\"}\n"                  /* 13 */
                              "{\"_id\": \"x\", \"title\": 7, \"text\": \"t\"}\n"  /* 14 */
                              "{\"_id\": \"a\\tb\", \"text\": \"t\"}\n"            /* 15 control in id */
                              "{\"_id\": \"x\", \"text\": \"a\\udc00\"}\n"         /* 16 lone low surrogate */
                              "{\"_id\": \"ok2\", \"text\": \"t2\"}\n",            /* 17 */
                              SPAR_FORMAT_BEIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "ok1", "", "t", 1);
    expect_bad(c, name, 2, "invalid JSON at column ");
    expect_bad(c, name, 3, "missing \"_id\"");
    expect_bad(c, name, 4, "\"_id\" not a string");
    expect_bad(c, name, 5, "missing \"text\"");
    expect_bad(c, name, 6, "\"text\" not a string");
    expect_bad(c, name, 7, "empty \"_id\"");
    expect_bad(c, name, 8, "expected a JSON object");
    expect_bad(c, name, 9, "invalid UTF-8 at byte offset 23 of the line");
    expect_bad(c, name, 10, "invalid JSON at column 24");
    expect_bad(c, name, 11, "NUL character");
    expect_bad(c, name, 12, "trailing data");
    expect_bad(c, name, 13, "\"_id\" is a number but not an integer");
    expect_bad(c, name, 14, "\"title\" not a string");
    expect_bad(c, name, 15, "control character");
    expect_bad(c, name, 16, ":16: ");
    expect_doc(c, "ok2", "", "t2", 17);
    expect_end(c);
    CU_ASSERT_EQUAL(spar_corpus_lines(c), 17);
    spar_corpus_close(c);
}

static void test_invalid_json_column(void) {
    const char *name = "col.jsonl";
    spar_corpus *c = open_str(name, "{\"_id\": \"x\", \"text\": tru}\n", SPAR_FORMAT_BEIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_bad(c, name, 1, "invalid JSON at column 22");
    expect_end(c);
    spar_corpus_close(c);
}

static void test_nul_byte(void) {
    const char *name = "nul.jsonl";
    const char data[] = "{\"_id\": \"x\", \"text\": \"a\0b\"}\n{\"_id\": \"y\", \"text\": \"ok\"}\n";
    write_file(tmp_path(name), data, sizeof data - 1);
    spar_corpus *c = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path(name), SPAR_FORMAT_BEIR, &c, NULL), SPAR_OK);
    expect_bad(c, name, 1, "NUL byte at byte offset 23 of the line");
    expect_doc(c, "y", "", "ok", 2);
    expect_end(c);
    spar_corpus_close(c);
}

static void test_line_endings_bom_blank(void) {
    spar_corpus *c = open_str("crlf.jsonl",
                              "\xEF\xBB\xBF{\"_id\": \"a\", \"text\": \"x\"}\r\n"
                              "\r\n"
                              "\n"
                              "   \n"
                              "{\"_id\": \"b\", \"text\": \"y\"}\r\n"
                              "{\"_id\": \"c\", \"text\": \"z\"}",
                              SPAR_FORMAT_BEIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "a", "", "x", 1);
    expect_doc(c, "b", "", "y", 5);
    expect_doc(c, "c", "", "z", 6);
    expect_end(c);
    CU_ASSERT_EQUAL(spar_corpus_lines(c), 6);
    CU_ASSERT_EQUAL(spar_corpus_blank_lines(c), 3);
    spar_corpus_close(c);
}

static void test_bom_at_any_line_start(void) {
    /* files joined with cat keep their BOMs: a BOM opening any line is ignored, in both formats */
    spar_corpus *c = open_str("bom2.jsonl", "{\"_id\": \"a\", \"text\": \"x\"}\n\xEF\xBB\xBF{\"_id\": \"b\", \"text\": \"y\"}\n",
                              SPAR_FORMAT_BEIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "a", "", "x", 1);
    expect_doc(c, "b", "", "y", 2);
    expect_end(c);
    spar_corpus_close(c);
    c = open_str("bom2.tsv", "\xEF\xBB\xBFq1\tx\n\xEF\xBB\xBFq2\ty\n", SPAR_FORMAT_TSV);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "q1", "", "x", 1);
    expect_doc(c, "q2", "", "y", 2);
    expect_end(c);
    spar_corpus_close(c);
}

static void test_tsv(void) {
    const char *name = "q.tsv";
    spar_corpus *c = open_str(name,
                              "q1\twhat is bm25\n"
                              "q2\ttext\twith\ttabs\r\n"
                              "no tab here\n"
                              "\tempty id\n"
                              "q3\t\n"
                              "q4\t\xFF\n"
                              "q5\tlast",
                              SPAR_FORMAT_AUTO);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "q1", "", "what is bm25", 1);
    expect_doc(c, "q2", "", "text\twith\ttabs", 2);
    expect_bad(c, name, 3, "missing TAB");
    expect_bad(c, name, 4, "empty id");
    expect_doc(c, "q3", "", "", 5);
    expect_bad(c, name, 6, "invalid UTF-8 at byte offset 3 of the line");
    expect_doc(c, "q5", "", "last", 7);
    expect_end(c);
    spar_corpus_close(c);
}

static void test_format_auto_by_extension(void) {
    /* .txt.gz -> TSV even though content is gzip; .json -> BEIR */
    const char *tsv = "a\tb\n";
    write_gz(tmp_path("x.txt.gz"), tsv, strlen(tsv), 1);
    spar_corpus *c = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path("x.txt.gz"), SPAR_FORMAT_AUTO, &c, NULL), SPAR_OK);
    expect_doc(c, "a", "", "b", 1);
    spar_corpus_close(c);
    c = open_str("x.json", "{\"_id\":\"j\",\"text\":\"k\"}", SPAR_FORMAT_AUTO);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    expect_doc(c, "j", "", "k", 1);
    spar_corpus_close(c);
}

static void test_open_missing_file(void) {
    spar_corpus *c = (spar_corpus *)1;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_corpus_open(tmp_path("nope.jsonl"), SPAR_FORMAT_AUTO, &c, &d), SPAR_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "nope.jsonl"));
    CU_ASSERT_EQUAL(spar_corpus_open(g_dir, SPAR_FORMAT_AUTO, &c, &d), SPAR_E_IO);
}

/* A corpus with a mix of good, bad and blank lines, big enough to cross many buffer refills. */
static char *make_mixed(size_t n_lines, size_t *len, unsigned *n_ok, unsigned *n_bad, unsigned *n_blank) {
    size_t cap = n_lines * 200 + 64, at = 0;
    char *s = malloc(cap);
    *n_ok = *n_bad = *n_blank = 0;
    for (size_t i = 0; i < n_lines; i++) {
        int kind = (int)(i % 13);
        if (kind == 5) { at += (size_t)snprintf(s + at, cap - at, "\n"); (*n_blank)++; }
        else if (kind == 9) { at += (size_t)snprintf(s + at, cap - at, "{\"_id\": \"b%zu\"}\n", i); (*n_bad)++; }
        else {
            at += (size_t)snprintf(s + at, cap - at,
                                   "{\"_id\": \"d%zu\", \"title\": \"title %zu\", \"text\": \"some text %zu "
                                   "caf\\u00e9 \\ud834\\udd1e end\"}\n", i, i * 7, i * 13);
            (*n_ok)++;
        }
    }
    *len = at;
    return s;
}

static void read_all(const char *path, unsigned *ok, unsigned *bad, char **digest_out, size_t *digest_len) {
    spar_corpus *c = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(path, SPAR_FORMAT_AUTO, &c, &d), SPAR_OK);
    size_t cap = 1 << 20, n = 0;
    char *dig = malloc(cap);
    *ok = *bad = 0;
    for (;;) {
        spar_doc doc;
        spar_status st = spar_corpus_next(c, &doc, &d);
        if (st == SPAR_E_NOT_FOUND) break;
        if (st == SPAR_E_CORRUPT) { (*bad)++; continue; }
        CU_ASSERT_EQUAL_FATAL(st, SPAR_OK);
        (*ok)++;
        size_t need = doc.id_len + doc.title_len + doc.text_len + 32;
        if (n + need > cap) { cap = 2 * (n + need); dig = realloc(dig, cap); }
        n += (size_t)snprintf(dig + n, cap - n, "%llu|%s|%s|", (unsigned long long)doc.line, doc.id, doc.title);
        memcpy(dig + n, doc.text, doc.text_len);
        n += doc.text_len;
        dig[n++] = '\n';
    }
    CU_ASSERT_EQUAL(spar_corpus_lines(c), *ok + *bad + spar_corpus_blank_lines(c));
    uint64_t done = 0, total = 0;
    spar_corpus_progress(c, &done, &total);
    CU_ASSERT_EQUAL(done, total);
    spar_corpus_close(c);
    *digest_out = dig;
    *digest_len = n;
}

static void test_counts_reconcile_and_gzip_identical(void) {
    size_t len;
    unsigned want_ok, want_bad, want_blank;
    char *s = make_mixed(60000, &len, &want_ok, &want_bad, &want_blank);
    write_file(tmp_path("mix.jsonl"), s, len);
    write_gz(tmp_path("mix.jsonl.gz"), s, len, 1);
    write_gz(tmp_path("mix3.jsonl.gz"), s, len, 3); /* multi-member */
    unsigned ok1, bad1, ok2, bad2, ok3, bad3;
    char *d1, *d2, *d3;
    size_t n1, n2, n3;
    read_all(tmp_path("mix.jsonl"), &ok1, &bad1, &d1, &n1);
    read_all(tmp_path("mix.jsonl.gz"), &ok2, &bad2, &d2, &n2);
    read_all(tmp_path("mix3.jsonl.gz"), &ok3, &bad3, &d3, &n3);
    CU_ASSERT_EQUAL(ok1, want_ok);
    CU_ASSERT_EQUAL(bad1, want_bad);
    CU_ASSERT_EQUAL(ok2, want_ok);
    CU_ASSERT_EQUAL(bad2, want_bad);
    CU_ASSERT_EQUAL(ok3, want_ok);
    CU_ASSERT_EQUAL(n1, n2);
    CU_ASSERT_EQUAL(n1, n3);
    CU_ASSERT(n1 == n2 && memcmp(d1, d2, n1) == 0);
    CU_ASSERT(n1 == n3 && memcmp(d1, d3, n1) == 0);
    free(d1);
    free(d2);
    free(d3);
    free(s);
}

static void test_gzip_truncated(void) {
    size_t len;
    unsigned a, b, c0;
    char *s = make_mixed(20000, &len, &a, &b, &c0);
    write_gz(tmp_path("full.jsonl.gz"), s, len, 1);
    FILE *f = fopen(tmp_path("full.jsonl.gz"), "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned char *gz = malloc(len + 1024);
    size_t gzlen = fread(gz, 1, len + 1024, f);
    fclose(f);
    /* cut in the middle, and also just the 8-byte trailer */
    size_t cuts[2] = {gzlen / 2, gzlen - 4};
    for (int k = 0; k < 2; k++) {
        const char *name = k == 0 ? "trunc.jsonl.gz" : "trunc2.jsonl.gz";
        write_file(tmp_path(name), gz, cuts[k]);
        spar_corpus *c = NULL;
        CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path(name), SPAR_FORMAT_AUTO, &c, NULL), SPAR_OK);
        spar_doc doc;
        spar_diag d = {{0}};
        spar_status st;
        unsigned n = 0;
        while ((st = spar_corpus_next(c, &doc, &d)) == SPAR_OK || st == SPAR_E_CORRUPT) n++;
        CU_ASSERT_EQUAL(st, SPAR_E_IO);
        char want[600];
        snprintf(want, sizeof want, "%s: truncated gzip stream", tmp_path(name));
        CU_ASSERT_EQUAL(strncmp(d.msg, want, strlen(want)), 0);
        CU_ASSERT(n > 0);
        if (k == 1) CU_ASSERT_EQUAL(n, a + b); /* every complete line came out before the error */
        /* the error is sticky */
        CU_ASSERT_EQUAL(spar_corpus_next(c, &doc, &d), SPAR_E_IO);
        spar_corpus_close(c);
    }
    /* garbage in the middle of the deflate data: an error, never a silent end */
    gz[gzlen / 2] ^= 0xFF;
    gz[gzlen / 2 + 1] ^= 0x55;
    write_file(tmp_path("flip.jsonl.gz"), gz, gzlen);
    spar_corpus *c = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path("flip.jsonl.gz"), SPAR_FORMAT_AUTO, &c, NULL), SPAR_OK);
    spar_doc doc;
    spar_status st;
    spar_diag d = {{0}};
    while ((st = spar_corpus_next(c, &doc, &d)) == SPAR_OK || st == SPAR_E_CORRUPT) {
    }
    CU_ASSERT_EQUAL(st, SPAR_E_IO); /* a stream error is never a (skippable) line error */
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "gzip stream"));
    CU_ASSERT_EQUAL(spar_corpus_next(c, &doc, &d), SPAR_E_IO);
    spar_corpus_close(c);
    free(gz);
    free(s);
}

static void test_long_line_rejected_bounded_memory(void) {
    const char *name = "long.jsonl";
    const char *l1 = "{\"_id\": \"a\", \"text\": \"x\"}\n", *l3 = "{\"_id\": \"b\", \"text\": \"y\"}\n";
    size_t big = 10u << 20;
    char *s = malloc(big + 256);
    size_t at = (size_t)sprintf(s, "%s{\"_id\": \"big\", \"text\": \"", l1);
    memset(s + at, 'q', big);
    at += big;
    at += (size_t)sprintf(s + at, "\"}");
    size_t line2_len = at - strlen(l1), end2 = at;
    at += (size_t)sprintf(s + at, "\n%s", l3);
    write_file(tmp_path(name), s, at);
    spar_corpus *c = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path(name), SPAR_FORMAT_BEIR, &c, NULL), SPAR_OK);
    spar_corpus_set_max_line(c, 1u << 20);
    expect_doc(c, "a", "", "x", 1);
    char reason[64];
    snprintf(reason, sizeof reason, "line too long (%zu bytes)", line2_len);
    expect_bad(c, name, 2, reason);
    CU_ASSERT(spar_corpus_buffer_bytes(c) <= (2u << 20) + (256u << 10) + 16);
    expect_doc(c, "b", "", "y", 3);
    expect_end(c);
    CU_ASSERT(spar_corpus_buffer_bytes(c) <= (2u << 20) + (256u << 10) + 16);
    spar_corpus_close(c);
    /* same through gzip, the long line last in the input without a newline */
    write_gz(tmp_path("long2.jsonl.gz"), s, end2, 1);
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path("long2.jsonl.gz"), SPAR_FORMAT_BEIR, &c, NULL), SPAR_OK);
    spar_corpus_set_max_line(c, 1u << 20);
    expect_doc(c, "a", "", "x", 1);
    expect_bad(c, "long2.jsonl.gz", 2, reason);
    expect_end(c);
    CU_ASSERT_EQUAL(spar_corpus_lines(c), 2);
    spar_corpus_close(c);
    free(s);
}

static void test_line_at_exact_limit_ok(void) {
    /* a line of exactly max_line bytes is accepted; one more byte is not */
    size_t lim = 4096;
    char *s = malloc(3 * lim);
    size_t pre = (size_t)sprintf(s, "{\"_id\": \"a\", \"text\": \"");
    size_t fill = lim - pre - 2;
    memset(s + pre, 'z', fill);
    memcpy(s + pre + fill, "\"}\n", 3);
    size_t l1 = lim + 1;
    memcpy(s + l1, s, lim - 2);
    memcpy(s + l1 + lim - 2, "z\"}\n", 4);
    write_file(tmp_path("exact.jsonl"), s, l1 + lim + 2);
    spar_corpus *c = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(tmp_path("exact.jsonl"), SPAR_FORMAT_BEIR, &c, NULL), SPAR_OK);
    spar_corpus_set_max_line(c, lim);
    spar_doc doc;
    CU_ASSERT_EQUAL(spar_corpus_next(c, &doc, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(doc.text_len, fill);
    expect_bad(c, "exact.jsonl", 2, "line too long (4097 bytes)");
    expect_end(c);
    spar_corpus_close(c);
    free(s);
}

static void test_open_mem(void) {
    const char *data = "{\"_id\": \"m\", \"text\": \"mem\"}\nnot json\n";
    spar_corpus *c = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open_mem(data, strlen(data), "<mem>", SPAR_FORMAT_BEIR, &c, &d), SPAR_OK);
    expect_doc(c, "m", "", "mem", 1);
    spar_doc doc;
    CU_ASSERT_EQUAL(spar_corpus_next(c, &doc, &d), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(strncmp(d.msg, "<mem>:2: invalid JSON", 21), 0);
    expect_end(c);
    spar_corpus_close(c);
}

static void test_stdin_dash(void) {
    /* "-" reads fd 0: point fd 0 at a gzip file for the duration of the test */
    const char *txt = "s1\tfrom stdin\n";
    write_gz(tmp_path("stdin.gz"), txt, strlen(txt), 1);
    int saved = dup(0);
    FILE *f = fopen(tmp_path("stdin.gz"), "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL_FATAL(dup2(fileno(f), 0), 0);
    spar_corpus *c = NULL;
    CU_ASSERT_EQUAL(spar_corpus_open("-", SPAR_FORMAT_TSV, &c, NULL), SPAR_OK);
    dup2(saved, 0);
    close(saved);
    fclose(f);
    if (c == NULL) return;
    expect_doc(c, "s1", "", "from stdin", 1);
    expect_end(c);
    spar_corpus_close(c);
}

static void test_utf8_validate(void) {
    struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"plain ascii text, long enough for the fast path", 47, 47},
        {"\xC3\xA9", 2, 2},
        {"\xF0\x9F\x98\x80", 4, 4},
        {"\xF4\x8F\xBF\xBF", 4, 4},     /* U+10FFFF */
        {"ab\xF4\x90\x80\x80", 6, 2},   /* > U+10FFFF */
        {"abc\xC0\xAF", 5, 3},          /* overlong '/' */
        {"\xE0\x80\xAF", 3, 0},         /* overlong */
        {"\xF0\x80\x80\xAF", 4, 0},     /* overlong */
        {"x\xED\xA0\x80", 4, 1},        /* surrogate U+D800 */
        {"\xED\x9F\xBF", 3, 3},         /* U+D7FF ok */
        {"12345678\x80", 9, 8},         /* continuation after fast path */
        {"\xC3", 1, 0},                 /* truncated */
        {"\xE2\x82", 2, 0},             /* truncated */
        {"\xFF", 1, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CU_ASSERT_EQUAL(spar_utf8_validate(cases[i].s, cases[i].n), cases[i].want);
}

static void test_real_corpus_if_present(void) {
    const char *data = getenv("SPAR_DATA");
    if (data == NULL) return; /* covered by the synthetic tests; the real file is a bonus */
    char p[1024];
    snprintf(p, sizeof p, "%s/classic-ir/cacm/corpus.jsonl", data);
    if (access(p, R_OK) != 0) return;
    spar_corpus *c = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_corpus_open(p, SPAR_FORMAT_AUTO, &c, &d), SPAR_OK);
    spar_doc doc;
    spar_status st;
    unsigned n = 0;
    while ((st = spar_corpus_next(c, &doc, &d)) == SPAR_OK) n++;
    CU_ASSERT_EQUAL(st, SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(n, 3204); /* CACM has 3204 documents */
    CU_ASSERT_EQUAL(spar_corpus_lines(c), n);
    spar_corpus_close(c);
}

static int suite_init(void) { return spar_test_mkdtemp(g_dir, sizeof g_dir, "corpus") != 0; }

static int suite_clean(void) { return spar_test_rmtree(g_dir) != 0; }

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/corpus", suite_init, suite_clean);
    if (s == NULL) goto out;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"BEIR basic fields, numeric id, extras ignored", test_beir_basic},
        {"JSON escapes incl. surrogate pairs", test_beir_escapes},
        {"every malformed line reported, then continue", test_beir_malformed_each_then_continue},
        {"invalid JSON column", test_invalid_json_column},
        {"raw NUL byte", test_nul_byte},
        {"CRLF, BOM, blank lines, last line without newline", test_line_endings_bom_blank},
        {"BOM ignored at any line start", test_bom_at_any_line_start},
        {"TSV parsing and errors", test_tsv},
        {"format by extension", test_format_auto_by_extension},
        {"missing file / directory", test_open_missing_file},
        {"counts reconcile; plain == gz == multi-member gz", test_counts_reconcile_and_gzip_identical},
        {"truncated / corrupt gzip detected", test_gzip_truncated},
        {"long line rejected with bounded memory", test_long_line_rejected_bounded_memory},
        {"line at exact limit", test_line_at_exact_limit_ok},
        {"open_mem", test_open_mem},
        {"\"-\" reads standard input", test_stdin_dash},
        {"strict UTF-8 validation", test_utf8_validate},
        {"real CACM corpus (if SPAR_DATA)", test_real_corpus_if_present},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn)) goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
