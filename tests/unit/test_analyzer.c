/* tests/unit/test_analyzer.c — index/analyzer.c: tokenization, normalisation, possessives, stopwords,
 * stemming, settings text form, and robustness on invalid UTF-8. Each test analyses a literal and compares
 * the space-joined terms with the expected string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "index/analyzer.h"

/* Analyse `text` with `o` (NULL = defaults) and return the terms joined by single spaces (static buffer). */
static const char *run_opts(const spar_analysis_opts *o, const char *text, size_t len) {
    static char joined[4096];
    spar_analyzer *a = NULL;
    spar_terms t = {0};
    joined[0] = '\0';
    spar_diag d = {{0}};
    if (spar_analyzer_create(o, &a, &d) != SPAR_OK) return "<create failed>";
    if (spar_analyze(a, text, len, &t) != SPAR_OK) {
        spar_analyzer_free(a);
        spar_terms_free(&t);
        return "<analyze failed>";
    }
    size_t n = 0;
    for (uint32_t i = 0; i < t.n; i++) {
        if (n + t.len[i] + 2 >= sizeof joined) break;
        if (i > 0) joined[n++] = ' ';
        memcpy(joined + n, t.data + t.off[i], t.len[i]);
        n += t.len[i];
    }
    joined[n] = '\0';
    spar_terms_free(&t);
    spar_analyzer_free(a);
    return joined;
}

static const char *run(const char *text) { return run_opts(NULL, text, strlen(text)); }

/* Defaults but no stemming and no stopwords: isolates the tokenizer and normaliser. */
static const char *run_plain(const char *text) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    snprintf(o.stopwords, sizeof o.stopwords, "none");
    return run_opts(&o, text, strlen(text));
}

#define EXPECT(got, want) CU_ASSERT_STRING_EQUAL(got, want)

static void test_defaults(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    CU_ASSERT_EQUAL(o.lowercase, 1);
    CU_ASSERT_EQUAL(o.strip_accents, 1);
    CU_ASSERT_STRING_EQUAL(o.stopwords, "english");
    CU_ASSERT_STRING_EQUAL(o.stemmer, "porter");
    CU_ASSERT_EQUAL(o.max_token_bytes, 255);
}

static void test_basic_split(void) {
    EXPECT(run_plain("Hello, World! foo-bar baz_qux  (x)"), "hello world foo bar baz qux x");
    EXPECT(run_plain(""), "");
    EXPECT(run_plain("   ...  ,,, "), "");
}

static void test_letters_digits_join(void) {
    EXPECT(run_plain("abc123 v2 3d"), "abc123 v2 3d");
}

static void test_apostrophe_period(void) {
    EXPECT(run_plain("don't stop"), "don't stop");
    EXPECT(run_plain("don\xE2\x80\x99t"), "don't"); /* U+2019 normalised to ' */
    EXPECT(run_plain("pi is 3.14."), "pi is 3.14");
    EXPECT(run_plain("1,000,000 a,b"), "1,000,000 a b");
    EXPECT(run_plain("www.example.com"), "www.example.com");
    EXPECT(run_plain("end. next"), "end next");
    EXPECT(run_plain("a..b"), "a b");
    EXPECT(run_plain("80's 3.a"), "80 s 3 a");
    EXPECT(run_plain("'quoted'"), "quoted");
}

static void test_acronym(void) {
    EXPECT(run_plain("U.S.A. and e.g. i.b.m"), "usa and eg ibm");
    EXPECT(run_plain("v.2"), "v 2");
}

static void test_possessive(void) {
    EXPECT(run_plain("John's dog"), "john dog");
    EXPECT(run_plain("JOHN'S"), "john");
    EXPECT(run_plain("John\xE2\x80\x99s"), "john");
    EXPECT(run_plain("dogs' bowls"), "dogs bowls");
    EXPECT(run_plain("'s"), "s");
}

static void test_accents_stripped(void) {
    EXPECT(run_plain("Caf\xC3\xA9 na\xC3\xAFve R\xC3\xA9sum\xC3\xA9"), "cafe naive resume");
    /* decomposed input (e + U+0301) gives the same term */
    EXPECT(run_plain("Cafe\xCC\x81"), "cafe");
    /* compatibility forms: ligature fi, fullwidth letters */
    EXPECT(run_plain("\xEF\xAC\x81ne \xEF\xBC\xA1\xEF\xBC\xA2"), "fine ab");
}

static void test_accents_kept(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    o.strip_accents = 0;
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    /* precomposed and decomposed forms both come out NFC */
    const char *t1 = "Caf\xC3\xA9";
    const char *t2 = "Cafe\xCC\x81";
    char a1[64];
    snprintf(a1, sizeof a1, "%s", run_opts(&o, t1, strlen(t1)));
    EXPECT(a1, "caf\xC3\xA9");
    EXPECT(run_opts(&o, t2, strlen(t2)), "caf\xC3\xA9");
}

static void test_spelling_marks_kept(void) {
    /* strip_accents removes diacritics, not marks that are part of the spelling */
    EXPECT(run_plain("\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80"),
           "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80"); /* Hindi */
    EXPECT(run_plain("\xE3\x82\xAC\xE3\x83\xA9\xE3\x82\xB9"), "\xE3\x82\xAC\xE3\x83\xA9\xE3\x82\xB9"); /* ガラス */
    EXPECT(run_plain("\xEF\xBD\xB6\xEF\xBE\x9E"), "\xE3\x82\xAC"); /* halfwidth ｶﾞ -> ガ */
    /* Arabic harakat are diacritics: كَتَبَ -> كتب */
    EXPECT(run_plain("\xD9\x83\xD9\x8E\xD8\xAA\xD9\x8E\xD8\xA8\xD9\x8E"), "\xD9\x83\xD8\xAA\xD8\xA8");
}

static void test_char_cache_paths(void) {
    /* é and U+28E9 (a braille symbol: separator) share a slot of the per-character cache */
    EXPECT(run_plain("\xC3\xA9\xE2\xA3\xA9\xC3\xA9\xE2\xA3\xA9\xC3\xA9"), "e e e");
    /* U+FDFA expands (NFKD) to 30 bytes of letters: too long for a cache entry, normalised on the fly */
    EXPECT(run_plain("\xEF\xB7\xBA"), "\xD8\xB5\xD9\x84\xD9\x89\xD8\xA7\xD9\x84\xD9\x84\xD9\x87\xD8\xB9\xD9\x84"
                                       "\xD9\x8A\xD9\x87\xD9\x88\xD8\xB3\xD9\x84\xD9\x85");
    /* the length limit applies after recomposition: 한국 is 6 bytes NFC (18 decomposed) */
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    o.max_token_bytes = 6;
    EXPECT(run_opts(&o, "\xED\x95\x9C\xEA\xB5\xAD", 6), "\xED\x95\x9C\xEA\xB5\xAD");
    o.max_token_bytes = 5;
    EXPECT(run_opts(&o, "\xED\x95\x9C\xEA\xB5\xAD", 6), "");
}

static void test_case_folding(void) {
    EXPECT(run_plain("Stra\xC3\x9F" "e"), "strasse");          /* ß -> ss */
    EXPECT(run_plain("\xCE\xA3\xCE\x99\xCE\xA3"), "\xCF\x83\xCE\xB9\xCF\x83"); /* ΣΙΣ -> σισ */
    /* Turkish dotted capital I: utf8proc folds U+0130 to "i" + U+0307; the mark is stripped */
    EXPECT(run_plain("\xC4\xB0stanbul"), "istanbul");
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    o.strip_accents = 0;
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    EXPECT(run_opts(&o, "\xC4\xB0x", 3), "i\xCC\x87x"); /* the combining dot stays without stripping */
}

static void test_lowercase_off(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    o.lowercase = 0;
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    const char *t = "The CAT In Hats";
    /* stopwords still match case-insensitively; case is kept */
    EXPECT(run_opts(&o, t, strlen(t)), "CAT Hats");
}

static void test_cjk(void) {
    /* 中文检索 -> four one-character tokens; latin around it still tokenizes */
    EXPECT(run_plain("abc\xE4\xB8\xAD\xE6\x96\x87\xE6\xA3\x80\xE7\xB4\xA2xyz"),
           "abc \xE4\xB8\xAD \xE6\x96\x87 \xE6\xA3\x80 \xE7\xB4\xA2 xyz");
    /* Hangul syllables stay one word (and survive decompose + recompose) */
    EXPECT(run_plain("\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"), "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4");
}

static void test_emoji_dropped(void) {
    EXPECT(run_plain("I \xE2\x9D\xA4\xEF\xB8\x8F pizza\xF0\x9F\x8D\x95!"), "i pizza");
    EXPECT(run_plain("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), "");
}

static void test_format_chars_ignored(void) {
    EXPECT(run_plain("co\xC2\xAD" "operate"), "cooperate");      /* soft hyphen inside a word */
    EXPECT(run_plain("foo\xE2\x80\x8B" "bar"), "foo bar");       /* zero-width space separates */
}

static void test_stopwords_on_off(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    const char *t = "the cat is on the mat and it's there";
    EXPECT(run_opts(&o, t, strlen(t)), "cat mat");
    snprintf(o.stopwords, sizeof o.stopwords, "none");
    EXPECT(run_opts(&o, t, strlen(t)), "the cat is on the mat and it there");
}

static void test_all_33_stopwords(void) {
    const char *t = "a an and are as at be but by for if in into is it no not of on or such that the their "
                    "then there these they this to was will with";
    EXPECT(run(t), "");
}

static void test_stem_porter(void) {
    EXPECT(run("running runs ran connection connected generalizations"),
           "run run ran connect connect gener");
    EXPECT(run("caresses ponies cats"), "caress poni cat");
    /* long words bypass the stem cache: same result twice */
    EXPECT(run("internationalizations internationalizations"), "internation internation");
}

static void test_stem_english_differs(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "english");
    /* Porter2 ("english") keeps "generous"/"general" apart and stems "fairly" -> "fair" */
    const char *t = "generously fairly";
    char e[128];
    snprintf(e, sizeof e, "%s", run_opts(&o, t, strlen(t)));
    EXPECT(e, "generous fair");
    EXPECT(run(t), "gener fairli");
}

static void test_stemmer_none_and_unknown(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "klingon");
    spar_analyzer *a = (spar_analyzer *)1;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_analyzer_create(&o, &a, &d), SPAR_E_INVALID_ARG);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "klingon"));
    spar_analysis_opts_default(&o);
    snprintf(o.stopwords, sizeof o.stopwords, "french");
    CU_ASSERT_EQUAL(spar_analyzer_create(&o, &a, &d), SPAR_E_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "french"));
}

static void test_max_token_bytes(void) {
    spar_analysis_opts o;
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    o.max_token_bytes = 5;
    const char *t = "abcde abcdef xyz abcdefghijklmnopqrstuvwxyz12345 hi";
    EXPECT(run_opts(&o, t, strlen(t)), "abcde xyz hi");
    /* default limit 255: a 300-byte token is dropped, a 255-byte one kept */
    char big[600];
    memset(big, 'q', 300);
    big[300] = ' ';
    memset(big + 301, 'z', 255);
    big[556] = '\0';
    spar_analysis_opts_default(&o);
    snprintf(o.stemmer, sizeof o.stemmer, "none");
    const char *r = run_opts(&o, big, strlen(big));
    CU_ASSERT_EQUAL(strlen(r), 255);
    CU_ASSERT_EQUAL(r[0], 'z');
}

static void test_invalid_utf8_separates(void) {
    /* lone continuation, overlong, surrogate, truncated sequence: each is a separator */
    const char t[] = "ab\x80" "cd\xC0\xAF" "ef\xED\xA0\x80" "gh\xF0\x9F";
    EXPECT(run_opts(NULL, t, sizeof t - 1), "ab cd ef gh");
    /* embedded NUL is a separator too (len-based API) */
    const char z[] = "foo\0bar";
    EXPECT(run_opts(NULL, z, sizeof z - 1), "foo bar");
}

static void test_garbage_never_crashes(void) {
    spar_analyzer *a = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_analyzer_create(NULL, &a, NULL), SPAR_OK);
    spar_terms t = {0};
    unsigned seed = 12345;
    char buf[512];
    for (int it = 0; it < 3000; it++) {
        size_t n = (size_t)(it % 500);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(seed >> 16);
        }
        spar_terms_reset(&t);
        CU_ASSERT_EQUAL(spar_analyze(a, buf, n, &t), SPAR_OK);
        for (uint32_t i = 0; i < t.n; i++) {
            CU_ASSERT(t.len[i] > 0 && t.len[i] <= 255);
            CU_ASSERT(t.off[i] + t.len[i] <= t.used);
        }
    }
    spar_terms_free(&t);
    spar_analyzer_free(a);
}

static void test_terms_append_and_reset(void) {
    spar_analyzer *a = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_analyzer_create(NULL, &a, NULL), SPAR_OK);
    spar_terms t = {0};
    CU_ASSERT_EQUAL(spar_analyze(a, "cats", 4, &t), SPAR_OK);
    CU_ASSERT_EQUAL(spar_analyze(a, "dogs", 4, &t), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(t.n, 2);
    CU_ASSERT_EQUAL(memcmp(t.data + t.off[1], "dog", 3), 0);
    spar_terms_reset(&t);
    CU_ASSERT_EQUAL(t.n, 0);
    /* many terms force growth of every array */
    char big[20000];
    for (int i = 0; i < 5000; i++) memcpy(big + 4 * i, "xyz ", 4);
    CU_ASSERT_EQUAL(spar_analyze(a, big, sizeof big, &t), SPAR_OK);
    CU_ASSERT_EQUAL(t.n, 5000);
    spar_terms_free(&t);
    spar_analyzer_free(a);
}

static void test_stem_cache_consistent(void) {
    /* the memoised path must return exactly what a fresh analyzer returns, also after the cache is reset */
    spar_analyzer *a = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_analyzer_create(NULL, &a, NULL), SPAR_OK);
    spar_terms t = {0};
    char w[32];
    for (int rep = 0; rep < 2; rep++) {
        for (int i = 0; i < 40000; i++) {
            int n = snprintf(w, sizeof w, "walking%dx connections", i);
            spar_terms_reset(&t);
            CU_ASSERT_EQUAL(spar_analyze(a, w, (size_t)n, &t), SPAR_OK);
            CU_ASSERT_EQUAL(t.n, 2);
            if (t.n == 2) {
                CU_ASSERT_EQUAL(t.len[1], 7);
                CU_ASSERT_EQUAL(memcmp(t.data + t.off[1], "connect", 7), 0);
            }
        }
    }
    spar_terms_free(&t);
    spar_analyzer_free(a);
}

static void test_opts_format_parse_roundtrip(void) {
    spar_analysis_opts o, p;
    spar_analysis_opts_default(&o);
    char buf[256];
    CU_ASSERT_EQUAL(spar_analysis_opts_format(&o, buf, sizeof buf), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "lowercase=1;strip_accents=1;stopwords=english;stemmer=porter;max_token_bytes=255");
    CU_ASSERT_EQUAL(spar_analysis_opts_parse(buf, strlen(buf), &p), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(&o, &p, sizeof o), 0);
    o.lowercase = 0;
    snprintf(o.stemmer, sizeof o.stemmer, "english");
    o.max_token_bytes = 64;
    CU_ASSERT_EQUAL(spar_analysis_opts_format(&o, buf, sizeof buf), SPAR_OK);
    CU_ASSERT_EQUAL(spar_analysis_opts_parse(buf, strlen(buf), &p), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(&o, &p, sizeof o), 0);
    CU_ASSERT_EQUAL(spar_analysis_opts_format(&o, buf, 10), SPAR_E_INVALID_ARG);
}

static void test_opts_parse_rejects(void) {
    spar_analysis_opts p;
    const char *bad[] = {
        "",
        "lowercase=1",
        "lowercase=2;strip_accents=1;stopwords=english;stemmer=porter;max_token_bytes=255",
        "lowercase=1;strip_accents=1;stopwords=english;stemmer=porter;max_token_bytes=0",
        "lowercase=1;strip_accents=1;stopwords=english;stemmer=porter;max_token_bytes=255;",
        "lowercase=1;lowercase=1;strip_accents=1;stopwords=english;stemmer=porter;max_token_bytes=255",
        "lowercase=1;strip_accents=1;stopwords=english;stemmer=Porter;max_token_bytes=255",
        "lowercase=1;strip_accents=1;stopwords=english;stemmer=porter;max_token_bytes=255;color=red",
        "lowercase=1;strip_accents=1;stopwords=english;stemmer;max_token_bytes=255",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(spar_analysis_opts_parse(bad[i], strlen(bad[i]), &p), SPAR_E_CORRUPT);
    /* any key order is accepted */
    const char *ok = "stemmer=none;max_token_bytes=9;lowercase=0;stopwords=none;strip_accents=0";
    CU_ASSERT_EQUAL(spar_analysis_opts_parse(ok, strlen(ok), &p), SPAR_OK);
    CU_ASSERT_EQUAL(p.max_token_bytes, 9);
    CU_ASSERT_STRING_EQUAL(p.stemmer, "none");
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/analyzer", NULL, NULL);
    if (s == NULL) goto out;
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"defaults", test_defaults},
        {"split on non-alphanumerics", test_basic_split},
        {"letters and digits join", test_letters_digits_join},
        {"apostrophe, period and comma joins", test_apostrophe_period},
        {"acronym periods removed", test_acronym},
        {"English possessive removed", test_possessive},
        {"accents stripped (NFKD)", test_accents_stripped},
        {"accents kept come out NFC", test_accents_kept},
        {"spelling marks kept (Indic, kana), diacritics stripped", test_spelling_marks_kept},
        {"per-character cache: collisions, long expansions, limit after NFC", test_char_cache_paths},
        {"case folding (sharp s, sigma, dotted I)", test_case_folding},
        {"lowercase off keeps case", test_lowercase_off},
        {"CJK ideographs one per token", test_cjk},
        {"emoji dropped", test_emoji_dropped},
        {"format characters ignored", test_format_chars_ignored},
        {"stopwords on and off", test_stopwords_on_off},
        {"all 33 Lucene stopwords", test_all_33_stopwords},
        {"porter stemming", test_stem_porter},
        {"english (porter2) differs from porter", test_stem_english_differs},
        {"unknown stemmer/stopwords rejected", test_stemmer_none_and_unknown},
        {"max_token_bytes drops long tokens", test_max_token_bytes},
        {"invalid UTF-8 acts as separator", test_invalid_utf8_separates},
        {"random bytes never crash", test_garbage_never_crashes},
        {"terms append, grow and reset", test_terms_append_and_reset},
        {"stem cache consistent across resets", test_stem_cache_consistent},
        {"opts format/parse round trip", test_opts_format_parse_roundtrip},
        {"opts parse rejects malformed", test_opts_parse_rejects},
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
