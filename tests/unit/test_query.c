/* test_query.c — the public search API (include/spar/spar_query.h) over a small index built in a temp
 * directory: option defaults and algorithm names, argument validation, BM25 scores against a hand
 * computation, duplicate and missing query terms, output capacity smaller than k, all algorithms equal
 * with recorded and overridden k1/b, spar_search_batch giving identical output on 1 and 2 threads, and
 * scores using the 1-byte norm of long documents (Lucene's rounding) with the exact avgdl. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spar/spar.h"

#include "common/test_util.h"

static char tmpdir[256], ixdir[300];
static spar_index *ix;

/* docs: terms chosen to survive stemming/stopwords unchanged ("zebra", "quokka", "yak", "lynx") */
static const char *docs[] = {
    "{\"_id\":\"d0\",\"text\":\"zebra quokka\"}",
    "{\"_id\":\"d1\",\"text\":\"zebra zebra yak\"}",
    "{\"_id\":\"d2\",\"text\":\"quokka yak lynx lynx lynx\"}",
    "{\"_id\":\"d3\",\"text\":\"yak\"}",
    "{\"_id\":\"d4\",\"text\":\"zebra quokka yak lynx zebra quokka\"}",
    "{\"_id\":\"d5\",\"text\":\"the of and\"}",
};
#define N_DOCS 6
static const uint32_t doclen[N_DOCS] = {2, 3, 5, 1, 6, 0};

static int suite_init(void) {
    if (spar_test_mkdtemp(tmpdir, sizeof tmpdir, "query") != 0) return 1;
    char corpus[300];
    snprintf(corpus, sizeof corpus, "%s/c.jsonl", tmpdir);
    FILE *f = fopen(corpus, "w");
    if (f == NULL) return 1;
    for (int i = 0; i < N_DOCS; i++) fprintf(f, "%s\n", docs[i]);
    fclose(f);
    snprintf(ixdir, sizeof ixdir, "%s/ix", tmpdir);
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.n_threads = 1;
    const char *in[1] = {corpus};
    spar_diag d = {{0}};
    if (spar_index_build(in, 1, ixdir, &o, NULL, &d) != SPAR_OK) {
        fprintf(stderr, "build: %s\n", d.msg);
        return 1;
    }
    if (spar_index_open(ixdir, &ix, &d) != SPAR_OK) {
        fprintf(stderr, "open: %s\n", d.msg);
        return 1;
    }
    return 0;
}

static int suite_clean(void) {
    spar_index_close(ix);
    return spar_test_rmtree(tmpdir) != 0;
}

static void test_opts_and_names(void) {
    spar_search_opts o;
    spar_search_opts_default(&o);
    CU_ASSERT_EQUAL(o.k, 10);
    CU_ASSERT(o.k1 < 0 && o.b < 0);
    CU_ASSERT_EQUAL(o.algo, SPAR_ALGO_DEFAULT);
    const spar_algo all[] = {SPAR_ALGO_DEFAULT, SPAR_ALGO_EXHAUSTIVE, SPAR_ALGO_MAXSCORE, SPAR_ALGO_BMW};
    for (int i = 0; i < 4; i++) {
        spar_algo a = (spar_algo)-1;
        CU_ASSERT_EQUAL(spar_algo_parse(spar_algo_name(all[i]), &a), SPAR_OK);
        CU_ASSERT_EQUAL(a, all[i]);
    }
    spar_algo a;
    CU_ASSERT_EQUAL(spar_algo_parse("wandering", &a), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_algo_parse(NULL, &a), SPAR_E_INVALID_ARG);
}

static void test_invalid_args(void) {
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL(spar_searcher_create(NULL, &s), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    spar_search_opts o;
    spar_search_opts_default(&o);
    spar_hit h[10];
    size_t n = 99;
    o.k = 0;
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, &o, h, 10, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(n, 0);
    o.k = SPAR_MAX_K + 1;
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, &o, h, 10, &n), SPAR_E_INVALID_ARG);
    o.k = 10;
    o.b = 1.5f;
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, &o, h, 10, &n), SPAR_E_INVALID_ARG);
    o.b = -1;
    o.algo = (spar_algo)42;
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, &o, h, 10, &n), SPAR_E_INVALID_ARG);
    o.algo = SPAR_ALGO_DEFAULT;
    CU_ASSERT_EQUAL(spar_search(NULL, "zebra", 5, &o, h, 10, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, NULL, h, 10, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, &o, NULL, 10, &n), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL(spar_search(s, "zebra \xff\xfe", 8, &o, h, 10, &n), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_search(s, "\xed\xa0\x80", 3, &o, h, 10, &n), SPAR_E_CORRUPT); /* surrogate */
    CU_ASSERT_EQUAL(spar_search(s, "zebra", 5, &o, h, 10, &n), SPAR_OK); /* still usable */
    CU_ASSERT_EQUAL(n, 3);
    spar_searcher_free(s);
    spar_searcher_free(NULL);
}

/* Reference BM25 (double, then compared with a relative tolerance). */
static double ref_score(const char *terms[], int nt, uint32_t d, const uint32_t *tf_of, const uint32_t *df) {
    double avgdl = 0;
    for (int i = 0; i < N_DOCS; i++) avgdl += doclen[i];
    avgdl /= N_DOCS;
    double s = 0;
    for (int i = 0; i < nt; i++) {
        uint32_t tf = tf_of[i * N_DOCS + d];
        if (tf == 0) continue;
        double idf = log(1 + (N_DOCS - df[i] + 0.5) / (df[i] + 0.5));
        s += idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * doclen[d] / avgdl));
    }
    (void)terms;
    return s;
}

static void test_scores_match_hand_computation(void) {
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    spar_search_opts o;
    spar_search_opts_default(&o);
    spar_hit h[10];
    size_t n = 0;
    /* "zebra lynx": tf per doc */
    const char *terms[] = {"zebra", "lynx"};
    const uint32_t tf[2 * N_DOCS] = {1, 2, 0, 0, 2, 0, /* zebra */ 0, 0, 3, 0, 1, 0 /* lynx */};
    const uint32_t df[2] = {3, 2};
    CU_ASSERT_EQUAL_FATAL(spar_search(s, "Zebra, LYNX!", 12, &o, h, 10, &n), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(n, 4); /* d0 d1 d2 d4 */
    for (size_t i = 0; i < n; i++) {
        double r = ref_score(terms, 2, h[i].docid, tf, df);
        CU_ASSERT(fabs(h[i].score - r) <= 1e-5 * r);
        if (i > 0) CU_ASSERT(h[i - 1].score > h[i].score || (h[i - 1].score == h[i].score && h[i - 1].docid < h[i].docid));
    }
    /* the best is d4 (zebra x2 + lynx in a long doc) or d2 (lynx x3): check against the reference order */
    double best = -1;
    uint32_t best_d = 0;
    for (uint32_t d = 0; d < N_DOCS; d++) {
        double r = ref_score(terms, 2, d, tf, df);
        if (r > best) best = r, best_d = d;
    }
    CU_ASSERT_EQUAL(h[0].docid, best_d);
    spar_searcher_free(s);
}

static void test_duplicates_missing_and_empty(void) {
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    spar_search_opts o;
    spar_search_opts_default(&o);
    spar_hit a[10], b[10];
    size_t na = 0, nb = 0;
    CU_ASSERT_EQUAL(spar_search(s, "yak", 3, &o, a, 10, &na), SPAR_OK);
    CU_ASSERT_EQUAL(spar_search(s, "yak yak", 7, &o, b, 10, &nb), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(na, 4);
    CU_ASSERT_EQUAL_FATAL(nb, na);
    for (size_t i = 0; i < na; i++) {
        CU_ASSERT_EQUAL(a[i].docid, b[i].docid);
        CU_ASSERT(b[i].score == 2.0f * a[i].score); /* weight 2 x idf, exact in float */
    }
    /* a missing term changes nothing */
    CU_ASSERT_EQUAL(spar_search(s, "yak xylophonist", 15, &o, b, 10, &nb), SPAR_OK);
    CU_ASSERT_EQUAL(nb, na);
    CU_ASSERT_EQUAL(memcmp(a, b, na * sizeof *a), 0);
    /* nothing to search */
    CU_ASSERT_EQUAL(spar_search(s, "", 0, &o, b, 10, &nb), SPAR_OK);
    CU_ASSERT_EQUAL(nb, 0);
    CU_ASSERT_EQUAL(spar_search(s, NULL, 0, &o, b, 10, &nb), SPAR_OK);
    CU_ASSERT_EQUAL(nb, 0);
    CU_ASSERT_EQUAL(spar_search(s, "the of and", 10, &o, b, 10, &nb), SPAR_OK); /* stopwords only */
    CU_ASSERT_EQUAL(nb, 0);
    CU_ASSERT_EQUAL(spar_search(s, "xylophonist", 11, &o, b, 10, &nb), SPAR_OK);
    CU_ASSERT_EQUAL(nb, 0);
    spar_searcher_free(s);
}

static void test_cap_smaller_than_k(void) {
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    spar_search_opts o;
    spar_search_opts_default(&o);
    spar_hit all[10], two[2];
    size_t n = 0, m = 0;
    CU_ASSERT_EQUAL(spar_search(s, "zebra quokka yak lynx", 21, &o, all, 10, &n), SPAR_OK);
    CU_ASSERT_EQUAL(n, 5);
    CU_ASSERT_EQUAL(spar_search(s, "zebra quokka yak lynx", 21, &o, two, 2, &m), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(m, 2);
    CU_ASSERT_EQUAL(memcmp(two, all, sizeof two), 0);
    o.k = 1;
    CU_ASSERT_EQUAL(spar_search(s, "zebra quokka yak lynx", 21, &o, all + 5, 5, &m), SPAR_OK);
    CU_ASSERT_EQUAL(m, 1);
    CU_ASSERT_EQUAL(memcmp(all + 5, all, sizeof *all), 0);
    spar_searcher_free(s);
}

static void test_algorithms_agree(void) {
    static const char *qs[] = {"zebra", "zebra quokka", "yak lynx lynx", "quokka yak zebra lynx zebra", "lynx"};
    static const float params[][2] = {{-1, -1}, {1.2f, 0.75f}, {0.0f, 0.0f}, {2.0f, 1.0f}};
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    for (size_t p = 0; p < 4; p++)
        for (size_t qi = 0; qi < 5; qi++)
            for (uint32_t k = 1; k <= 7; k += 3) {
                spar_hit ref[10], got[10];
                size_t nr = 0, ng = 0;
                spar_search_opts o;
                spar_search_opts_default(&o);
                o.k = k;
                o.k1 = params[p][0];
                o.b = params[p][1];
                o.algo = SPAR_ALGO_EXHAUSTIVE;
                CU_ASSERT_EQUAL_FATAL(spar_search(s, qs[qi], strlen(qs[qi]), &o, ref, 10, &nr), SPAR_OK);
                CU_ASSERT(nr > 0);
                const spar_algo algos[] = {SPAR_ALGO_DEFAULT, SPAR_ALGO_MAXSCORE, SPAR_ALGO_BMW};
                for (int a = 0; a < 3; a++) {
                    o.algo = algos[a];
                    CU_ASSERT_EQUAL_FATAL(spar_search(s, qs[qi], strlen(qs[qi]), &o, got, 10, &ng), SPAR_OK);
                    CU_ASSERT_EQUAL(ng, nr);
                    CU_ASSERT_EQUAL(memcmp(got, ref, nr * sizeof *ref), 0);
                }
            }
    spar_searcher_free(s);
}

static void test_batch_thread_count_invariant(void) {
    const char *qs[40];
    static const char *base[] = {"zebra", "zebra quokka", "yak lynx", "", "lynx lynx zebra", "xylophonist",
                                 "quokka yak", "yak"};
    for (int i = 0; i < 40; i++) qs[i] = base[i % 8];
    spar_search_opts o;
    spar_search_opts_default(&o);
    o.k = 4;
    spar_hit h1[40 * 4], h2[40 * 4], hs[4];
    size_t n1[40], n2[40];
    memset(h1, 0, sizeof h1);
    memset(h2, 0, sizeof h2);
    CU_ASSERT_EQUAL_FATAL(spar_search_batch(ix, qs, 40, &o, h1, n1, 1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_search_batch(ix, qs, 40, &o, h2, n2, 2), SPAR_OK);
    CU_ASSERT_EQUAL(memcmp(n1, n2, sizeof n1), 0);
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    for (int i = 0; i < 40; i++) {
        CU_ASSERT_EQUAL(memcmp(h1 + i * 4, h2 + i * 4, n1[i] * sizeof *h1), 0);
        size_t ns = 0;
        CU_ASSERT_EQUAL(spar_search(s, qs[i], strlen(qs[i]), &o, hs, 4, &ns), SPAR_OK);
        CU_ASSERT_EQUAL(ns, n1[i]);
        CU_ASSERT_EQUAL(memcmp(hs, h1 + i * 4, ns * sizeof *hs), 0);
    }
    spar_searcher_free(s);
    /* an invalid query text fails the batch; the other queries still get their results */
    qs[3] = "bad \xc0\xaf";
    CU_ASSERT_EQUAL(spar_search_batch(ix, qs, 40, &o, h2, n2, 2), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(n2[3], 0);
    CU_ASSERT_EQUAL(n2[0], n1[0]);
    o.k = 0;
    CU_ASSERT_EQUAL(spar_search_batch(ix, qs, 40, &o, h2, n2, 2), SPAR_E_INVALID_ARG);
}

/* Each searcher keeps its own norm table for its last (k1, b): switching params in one must not disturb
 * another, and freeing them in any order must be clean (run under ASan). */
static void test_shared_norms_independent(void) {
    spar_searcher *s1 = NULL, *s2 = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s2), SPAR_OK);
    spar_search_opts d, o;
    spar_search_opts_default(&d);
    spar_search_opts_default(&o);
    o.k1 = 1.7f;
    o.b = 0.9f;
    const char *q = "zebra lynx yak";
    spar_hit a[10], b[10], c[10], e[10];
    size_t na = 0, nb = 0, nc = 0, ne = 0;
    CU_ASSERT_EQUAL(spar_search(s1, q, strlen(q), &d, a, 10, &na), SPAR_OK);
    CU_ASSERT_EQUAL(spar_search(s2, q, strlen(q), &o, b, 10, &nb), SPAR_OK);
    CU_ASSERT_EQUAL(spar_search(s1, q, strlen(q), &d, c, 10, &nc), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(nc, na);
    CU_ASSERT_EQUAL(memcmp(a, c, na * sizeof *a), 0);
    CU_ASSERT_EQUAL_FATAL(nb, na);
    int differs = 0;
    for (size_t i = 0; i < na; i++) differs |= a[i].score != b[i].score;
    CU_ASSERT(differs); /* other params really give other scores */
    spar_searcher_free(s1);
    CU_ASSERT_EQUAL(spar_search(s2, q, strlen(q), &d, e, 10, &ne), SPAR_OK);
    CU_ASSERT_EQUAL(ne, na);
    CU_ASSERT_EQUAL(memcmp(a, e, na * sizeof *a), 0);
    spar_searcher_free(s2);
}

/* A 45-term document is scored with length 44 (its norm byte's bucket, as Lucene 8 does), while avgdl is
 * the exact mean; the exact length would give a score about 1% away. */
static void test_long_document_uses_norm_length(void) {
    char dir[300], corpus[320], ixd[320];
    snprintf(dir, sizeof dir, "%s/norms", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    snprintf(corpus, sizeof corpus, "%s/c.jsonl", dir);
    snprintf(ixd, sizeof ixd, "%s/ix", dir);
    FILE *f = fopen(corpus, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "{\"_id\":\"long\",\"text\":\"quokka");
    for (int i = 0; i < 44; i++) fprintf(f, " zebra");
    fprintf(f, "\"}\n{\"_id\":\"a\",\"text\":\"yak lynx\"}\n{\"_id\":\"b\",\"text\":\"yak lynx lynx\"}\n");
    fclose(f);
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.n_threads = 1;
    const char *in[1] = {corpus};
    spar_index *x = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_index_build(in, 1, ixd, &o, NULL, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_index_open(ixd, &x, NULL), SPAR_OK);
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(x, &s), SPAR_OK);
    spar_search_opts so;
    spar_search_opts_default(&so);
    spar_hit h[4];
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(spar_search(s, "quokka", 6, &so, h, 4, &n), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    const double avgdl = (45.0 + 2.0 + 3.0) / 3.0, idf = log(1 + (3 - 1 + 0.5) / (1 + 0.5));
    const double with_norm = idf * 1 / (1 + 0.9 * (1 - 0.4 + 0.4 * 44 / avgdl));
    const double exact = idf * 1 / (1 + 0.9 * (1 - 0.4 + 0.4 * 45 / avgdl));
    CU_ASSERT(fabs(h[0].score - with_norm) <= 1e-6 * with_norm);
    CU_ASSERT(fabs(h[0].score - exact) > 1e-3 * exact);
    spar_searcher_free(s);
    spar_index_close(x);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("query/search API", suite_init, suite_clean);
    if (s == NULL || !CU_add_test(s, "options defaults, algorithm names round trip", test_opts_and_names) ||
        !CU_add_test(s, "invalid arguments and invalid UTF-8 rejected", test_invalid_args) ||
        !CU_add_test(s, "BM25 scores == hand computation, best first", test_scores_match_hand_computation) ||
        !CU_add_test(s, "duplicate terms weigh twice; missing terms and empty queries", test_duplicates_missing_and_empty) ||
        !CU_add_test(s, "capacity smaller than k", test_cap_smaller_than_k) ||
        !CU_add_test(s, "all algorithms identical, recorded and overridden k1/b", test_algorithms_agree) ||
        !CU_add_test(s, "batch: 1 thread == 2 threads == sequential", test_batch_thread_count_invariant) ||
        !CU_add_test(s, "searchers with other k1/b stay independent", test_shared_norms_independent) ||
        !CU_add_test(s, "long documents scored with their norm byte's length, exact avgdl",
                     test_long_document_uses_norm_length)) {
        CU_cleanup_registry();
        return (int)CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
