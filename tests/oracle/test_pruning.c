/* test_pruning.c — oracle test for the top-k algorithms on random corpora built in memory with
 * spar_postings_encode (no segment): exhaustive DAAT is first checked against a brute-force scorer over
 * the raw postings, then MaxScore and BlockMax-WAND must return exactly the exhaustive top-k (same
 * docids, same order, bit-identical scores) for every query. Corpora: several seeds, 1..50k documents,
 * Zipfian terms; queries of 1..12 terms with duplicates and missing terms; k in {1, 10, 100, 1000};
 * BM25 params recorded and non-recorded (block-max bounds then come from max tf / min dl).
 * With SPAR_DATA set, also through the public API over real indexes built from every classic-ir
 * collection, every query, k = 10 and 1000 (that part is left out, with a message, when SPAR_DATA is
 * absent). */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/postings.h"
#include "query/query_int.h"
#include "spar/spar.h"

#include "common/test_util.h"

static uint64_t rng_state;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}
static double rnd01(void) { return (double)(rnd() >> 11) * 0x1p-53; }
/* Zipf-like term id in [0, v): inverse power transform, heavy head. */
static uint32_t zipf(uint32_t v, double skew) {
    uint32_t t = (uint32_t)((double)v * pow(rnd01(), skew));
    return t < v ? t : v - 1;
}

typedef struct corpus {
    uint32_t n_docs, n_terms;
    uint32_t *doclens;
    float avgdl, rec_k1, rec_b;
    spar_buf buf;
    size_t *list_off;       /* start of each term's list in buf */
    spar_term_info *ti;
    /* raw postings per term, for the brute-force scorer */
    uint32_t *post_start;   /* n_terms + 1 */
    uint32_t *post_doc, *post_tf;
} corpus;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void corpus_build(corpus *c, uint64_t seed, uint32_t n_docs, uint32_t n_terms, uint32_t max_len,
                         double skew, int with_doclens) {
    memset(c, 0, sizeof *c);
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    c->n_docs = n_docs;
    c->n_terms = n_terms;
    c->rec_k1 = 0.9f;
    c->rec_b = 0.4f;
    c->doclens = calloc(n_docs, sizeof *c->doclens);
    uint64_t total = 0;
    for (uint32_t d = 0; d < n_docs; d++) {
        /* a few empty documents, mostly short, some long */
        uint32_t len = (rnd() % 50 == 0) ? 0 : 1 + (uint32_t)(rnd() % max_len);
        if (rnd() % 100 == 0) len *= 8;
        c->doclens[d] = len;
        total += len;
    }
    uint64_t *pairs = malloc((total ? total : 1) * sizeof *pairs);
    uint64_t np = 0;
    for (uint32_t d = 0; d < n_docs; d++)
        for (uint32_t i = 0; i < c->doclens[d]; i++) pairs[np++] = ((uint64_t)zipf(n_terms, skew) << 32) | d;
    qsort(pairs, np, sizeof *pairs, cmp_u64);
    c->post_start = calloc(n_terms + 1, sizeof *c->post_start);
    c->post_doc = malloc((np ? np : 1) * sizeof *c->post_doc);
    c->post_tf = malloc((np ? np : 1) * sizeof *c->post_tf);
    uint32_t m = 0;
    for (uint64_t i = 0; i < np;) {
        uint64_t j = i;
        while (j < np && pairs[j] == pairs[i]) j++;
        uint32_t t = (uint32_t)(pairs[i] >> 32);
        c->post_doc[m] = (uint32_t)pairs[i];
        c->post_tf[m] = (uint32_t)(j - i);
        c->post_start[t + 1]++;
        m++;
        i = j;
    }
    for (uint32_t t = 0; t < n_terms; t++) c->post_start[t + 1] += c->post_start[t];
    free(pairs);
    c->avgdl = n_docs ? (float)((double)total / n_docs) : 0.0f;
    c->list_off = calloc(n_terms, sizeof *c->list_off);
    c->ti = calloc(n_terms, sizeof *c->ti);
    for (uint32_t t = 0; t < n_terms; t++) {
        /* keep list starts aligned as the segment writer does */
        while (c->buf.len % SPAR_POSTINGS_ALIGN) {
            CU_ASSERT_FATAL(spar_buf_reserve(&c->buf, 1) == SPAR_OK);
            c->buf.data[c->buf.len++] = 0;
        }
        c->list_off[t] = c->buf.len;
        uint32_t s = c->post_start[t], n = c->post_start[t + 1] - s;
        spar_status st = spar_postings_encode(c->post_doc + s, c->post_tf + s, n, with_doclens ? c->doclens : NULL,
                                              c->rec_k1, c->rec_b, c->avgdl, &c->buf, &c->ti[t]);
        CU_ASSERT_FATAL(st == SPAR_OK);
    }
}

static void corpus_free(corpus *c) {
    free(c->doclens);
    spar_buf_free(&c->buf);
    free(c->list_off);
    free(c->ti);
    free(c->post_start);
    free(c->post_doc);
    free(c->post_tf);
}

/* A query: term ids in canonical (ascending) order with counts; missing terms (id >= n_terms) dropped,
 * and terms with an empty list dropped, as search.c does. */
typedef struct query {
    uint32_t n;
    uint32_t id[16], cnt[16];
} query;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void make_query(const corpus *c, query *q) {
    uint32_t raw[12], nr = 1 + (uint32_t)(rnd() % 12);
    for (uint32_t i = 0; i < nr; i++) {
        uint64_t r = rnd() % 10;
        if (r == 0)
            raw[i] = c->n_terms + (uint32_t)(rnd() % 5); /* missing */
        else if (r == 1 && i > 0)
            raw[i] = raw[rnd() % i]; /* duplicate */
        else
            raw[i] = zipf(c->n_terms, 2.0);
    }
    qsort(raw, nr, sizeof raw[0], cmp_u32);
    q->n = 0;
    for (uint32_t i = 0; i < nr; i++) {
        if (raw[i] >= c->n_terms || c->ti[raw[i]].df == 0) continue;
        if (q->n > 0 && q->id[q->n - 1] == raw[i]) {
            q->cnt[q->n - 1]++;
            continue;
        }
        q->id[q->n] = raw[i];
        q->cnt[q->n++] = 1;
    }
}

/* scratch shared by runs */
static spar_cursor cursors[16];
static spar_qterm qterms[16];
static float contrib[16], bound[16];
static uint32_t order[16], touched[16];
static spar_topk topk;

typedef void (*algo_fn)(spar_qctx *);
static uint64_t last_scored; /* documents fully scored by the last run_algo */

static size_t run_algo(const corpus *c, const query *qu, const float *norm, float k1, float b, uint32_t k,
                       algo_fn fn, spar_hit *out) {
    spar_qctx q;
    memset(&q, 0, sizeof q);
    q.terms = qterms;
    q.n = qu->n;
    q.norm = norm;
    q.recorded_params = k1 == c->rec_k1 && b == c->rec_b;
    q.k1 = k1;
    q.b = b;
    q.avgdl = c->avgdl > 0 ? c->avgdl : 1.0f;
    q.margin = spar_q_margin(qu->n);
    q.topk = &topk;
    q.contrib = contrib;
    q.order = order;
    q.bound = bound;
    q.touched = touched;
    for (uint32_t i = 0; i < qu->n; i++) {
        spar_cursor_open(&cursors[i], c->buf.data + c->list_off[qu->id[i]], &c->ti[qu->id[i]]);
        spar_q_set_term(&q, i, &cursors[i], &c->ti[qu->id[i]], qu->cnt[i], c->n_docs);
    }
    CU_ASSERT_FATAL(spar_topk_reset(&topk, k) == SPAR_OK);
    if (qu->n > 0) fn(&q);
    last_scored = q.n_scored;
    for (uint32_t i = 0; i < qu->n; i++) CU_ASSERT(contrib[i] == 0.0f); /* contract: left zeroed */
    return spar_topk_finish(&topk, out, k);
}

/* Brute force: every document's canonical score from the raw postings, full sort. */
static float *bf_score;
static uint32_t *bf_ids;
static const float *bf_cmp_score;
static int cmp_bf(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    float sx = bf_cmp_score[x], sy = bf_cmp_score[y];
    if (sx != sy) return sx > sy ? -1 : 1;
    return x < y ? -1 : x > y;
}
static size_t brute_force(const corpus *c, const query *qu, const float *norm, uint32_t k, spar_hit *out) {
    for (uint32_t d = 0; d < c->n_docs; d++) bf_score[d] = -1.0f;
    for (uint32_t i = 0; i < qu->n; i++) { /* canonical order */
        const uint32_t t = qu->id[i];
        const float w = (float)qu->cnt[i] * spar_bm25_idf(c->n_docs, c->ti[t].df);
        for (uint32_t j = c->post_start[t]; j < c->post_start[t + 1]; j++) {
            const uint32_t d = c->post_doc[j];
            if (bf_score[d] < 0) bf_score[d] = 0.0f;
            bf_score[d] += spar_q_contrib(w, c->post_tf[j], norm[d]);
        }
    }
    uint32_t m = 0;
    for (uint32_t d = 0; d < c->n_docs; d++)
        if (bf_score[d] >= 0) bf_ids[m++] = d;
    bf_cmp_score = bf_score;
    qsort(bf_ids, m, sizeof *bf_ids, cmp_bf);
    size_t n = SPAR_MIN((size_t)m, (size_t)k);
    for (size_t i = 0; i < n; i++) {
        out[i].docid = bf_ids[i];
        out[i].score = bf_score[bf_ids[i]];
    }
    return n;
}

static long n_queries_checked, n_mismatch;

static int same_hits(const spar_hit *a, size_t na, const spar_hit *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].docid != b[i].docid || memcmp(&a[i].score, &b[i].score, sizeof(float)) != 0) return 0;
    return 1;
}

static void check_corpus(uint64_t seed, uint32_t n_docs, uint32_t n_terms, uint32_t max_len, double skew,
                         int with_doclens, int n_q) {
    corpus c;
    corpus_build(&c, seed, n_docs, n_terms, max_len, skew, with_doclens);
    static const float params[][2] = {{0.9f, 0.4f}, {1.2f, 0.75f}, {0.5f, 1.0f}, {2.0f, 0.0f}, {0.0f, 0.5f}};
    static const uint32_t ks[] = {1, 10, 100, 1000};
    float *norm = malloc((n_docs ? n_docs : 1) * sizeof *norm);
    bf_score = malloc((n_docs ? n_docs : 1) * sizeof *bf_score);
    bf_ids = malloc((n_docs ? n_docs : 1) * sizeof *bf_ids);
    spar_hit *ref = malloc(1000 * sizeof *ref), *bf = malloc(1000 * sizeof *bf), *got = malloc(1000 * sizeof *got);
    for (size_t pi = 0; pi < sizeof params / sizeof params[0]; pi++) {
        const float k1 = params[pi][0], b = params[pi][1];
        spar_q_fill_norm(norm, c.doclens, n_docs, k1, b, c.avgdl);
        for (int qi = 0; qi < n_q; qi++) {
            query qu;
            make_query(&c, &qu);
            const uint32_t k = ks[rnd() % 4];
            size_t nr = run_algo(&c, &qu, norm, k1, b, k, spar_q_exhaustive, ref);
            size_t nb = brute_force(&c, &qu, norm, k, bf);
            int ok = same_hits(ref, nr, bf, nb);
            size_t nm = run_algo(&c, &qu, norm, k1, b, k, spar_q_maxscore, got);
            ok &= same_hits(ref, nr, got, nm);
            int ok_ms = same_hits(ref, nr, got, nm);
            size_t nw = run_algo(&c, &qu, norm, k1, b, k, spar_q_bmw, got);
            int ok_bmw = same_hits(ref, nr, got, nw);
            ok &= ok_bmw;
            n_queries_checked++;
            if (!ok) {
                if (n_mismatch < 5)
                    fprintf(stderr,
                            "mismatch: seed %llu docs %u k1 %g b %g k %u terms %u: exhaustive %zu, brute %zu (%s), "
                            "maxscore %s, bmw %s\n",
                            (unsigned long long)seed, n_docs, k1, b, k, qu.n, nr, nb,
                            same_hits(ref, nr, bf, nb) ? "same" : "DIFF", ok_ms ? "same" : "DIFF",
                            ok_bmw ? "same" : "DIFF");
                n_mismatch++;
            }
        }
    }
    free(norm);
    free(bf_score);
    free(bf_ids);
    free(ref);
    free(bf);
    free(got);
    corpus_free(&c);
}

static void test_tiny_corpora(void) {
    n_mismatch = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        check_corpus(seed, 1, 3, 4, 1.0, 1, 20);
        check_corpus(seed, 7, 5, 6, 1.5, 1, 20);
        check_corpus(seed, 130, 20, 10, 2.0, 1, 30);
    }
    CU_ASSERT_EQUAL(n_mismatch, 0);
}

static void test_medium_corpora(void) {
    n_mismatch = 0;
    for (uint64_t seed = 11; seed <= 14; seed++) {
        check_corpus(seed, 1000, 300, 40, 2.0, 1, 40);
        check_corpus(seed, 5000, 2000, 60, 2.5, 1, 40);
    }
    CU_ASSERT_EQUAL(n_mismatch, 0);
}

static void test_large_corpora(void) {
    n_mismatch = 0;
    check_corpus(21, 50000, 20000, 80, 3.0, 1, 40);
    check_corpus(22, 30000, 5000, 120, 2.0, 1, 30);
    CU_ASSERT_EQUAL(n_mismatch, 0);
}

/* The pruned algorithms must actually prune: on a 50k-document Zipfian corpus at k = 10 they fully
 * score far fewer documents than the exhaustive traversal (which scores every match). */
static void test_pruning_prunes(void) {
    corpus c;
    corpus_build(&c, 51, 50000, 20000, 80, 3.0, 1);
    float *norm = malloc(c.n_docs * sizeof *norm);
    spar_hit *out = malloc(10 * sizeof *out);
    spar_q_fill_norm(norm, c.doclens, c.n_docs, 0.9f, 0.4f, c.avgdl);
    uint64_t ex = 0, ms = 0, bmw = 0;
    for (int i = 0; i < 200; i++) {
        query qu;
        make_query(&c, &qu);
        run_algo(&c, &qu, norm, 0.9f, 0.4f, 10, spar_q_exhaustive, out);
        ex += last_scored;
        run_algo(&c, &qu, norm, 0.9f, 0.4f, 10, spar_q_maxscore, out);
        ms += last_scored;
        run_algo(&c, &qu, norm, 0.9f, 0.4f, 10, spar_q_bmw, out);
        bmw += last_scored;
    }
    printf("  fully scored documents, 200 queries, k=10: exhaustive %llu, maxscore %llu, bmw %llu\n",
           (unsigned long long)ex, (unsigned long long)ms, (unsigned long long)bmw);
    CU_ASSERT(ex > 0);
    CU_ASSERT(ms * 2 < ex);
    CU_ASSERT(bmw * 2 < ex);
    free(norm);
    free(out);
    corpus_free(&c);
}

static void test_without_doclens(void) {
    /* lists encoded without document lengths: block min dl 0, the loosest valid bounds */
    n_mismatch = 0;
    check_corpus(31, 3000, 800, 50, 2.0, 0, 40);
    CU_ASSERT_EQUAL(n_mismatch, 0);
}

static void test_many_ties(void) {
    /* all documents of length 1 over a 3-term vocabulary: huge score ties, docid order decides */
    n_mismatch = 0;
    check_corpus(41, 4000, 3, 1, 1.0, 1, 40);
    check_corpus(42, 2000, 6, 2, 1.0, 1, 40);
    CU_ASSERT_EQUAL(n_mismatch, 0);
}

/* ---- real indexes: classic-ir collections through the public API ---- */

static char **read_query_texts(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (f == NULL) return NULL;
    char **out = NULL, *line = NULL;
    size_t cap = 0, ocap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "text") : NULL;
        if (cJSON_IsString(t)) {
            if (*n == ocap) {
                ocap = ocap ? ocap * 2 : 64;
                out = realloc(out, ocap * sizeof *out);
            }
            out[(*n)++] = strdup(t->valuestring);
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    return out;
}

static void check_collection(const char *data, const char *name, const char *tmp) {
    char corpus_path[1024], queries[1024], dir[1024];
    snprintf(corpus_path, sizeof corpus_path, "%s/classic-ir/%s/corpus.jsonl", data, name);
    snprintf(queries, sizeof queries, "%s/classic-ir/%s/queries.jsonl", data, name);
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    spar_build_opts bo;
    spar_build_opts_default(&bo);
    bo.n_threads = 2;
    const char *in[1] = {corpus_path};
    spar_diag diag = {{0}};
    spar_status st = spar_index_build(in, 1, dir, &bo, NULL, &diag);
    if (st != SPAR_OK) fprintf(stderr, "%s: %s\n", name, diag.msg);
    CU_ASSERT_EQUAL_FATAL(st, SPAR_OK);
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(dir, &ix, &diag), SPAR_OK);
    size_t nq = 0;
    char **qs = read_query_texts(queries, &nq);
    CU_ASSERT_FATAL(nq > 0);
    spar_searcher *s = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_searcher_create(ix, &s), SPAR_OK);
    spar_hit *ref = malloc(1000 * sizeof *ref), *got = malloc(1000 * sizeof *got);
    static const uint32_t ks[] = {10, 1000};
    static const float params[][2] = {{-1, -1}, {1.2f, 0.75f}};
    long bad = 0, nonempty = 0;
    for (int p = 0; p < 2; p++)
        for (int ki = 0; ki < 2; ki++)
            for (size_t i = 0; i < nq; i++) {
                spar_search_opts o;
                spar_search_opts_default(&o);
                o.k = ks[ki];
                o.k1 = params[p][0];
                o.b = params[p][1];
                o.algo = SPAR_ALGO_EXHAUSTIVE;
                size_t nr = 0, ng = 0;
                CU_ASSERT_EQUAL_FATAL(spar_search(s, qs[i], strlen(qs[i]), &o, ref, 1000, &nr), SPAR_OK);
                nonempty += nr > 0;
                const spar_algo algos[] = {SPAR_ALGO_MAXSCORE, SPAR_ALGO_BMW, SPAR_ALGO_DEFAULT};
                for (int a = 0; a < 3; a++) {
                    o.algo = algos[a];
                    CU_ASSERT_EQUAL_FATAL(spar_search(s, qs[i], strlen(qs[i]), &o, got, 1000, &ng), SPAR_OK);
                    if (!same_hits(ref, nr, got, ng)) {
                        if (bad++ < 3)
                            fprintf(stderr, "%s: query %zu k %u algo %s differs from exhaustive\n", name, i, o.k,
                                    spar_algo_name(o.algo));
                    }
                }
            }
    printf("  %s: %zu queries x 2 k x 2 params, %ld non-empty, %ld mismatches\n", name, nq, nonempty, bad);
    CU_ASSERT(nonempty > 0);
    CU_ASSERT_EQUAL(bad, 0);
    for (size_t i = 0; i < nq; i++) free(qs[i]);
    free(qs);
    free(ref);
    free(got);
    spar_searcher_free(s);
    spar_index_close(ix);
}

static void test_classic_ir(void) {
    const char *data = getenv("SPAR_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%.900s/classic-ir", data);
    DIR *dd = opendir(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dd);
    char tmp[256];
    CU_ASSERT_EQUAL_FATAL(spar_test_mkdtemp(tmp, sizeof tmp, "pruning"), 0);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char q[1400];
        snprintf(q, sizeof q, "%s/%s/queries.jsonl", path, e->d_name);
        FILE *f = fopen(q, "r");
        if (f == NULL) continue;
        fclose(f);
        check_collection(data, e->d_name, tmp);
        n++;
    }
    closedir(dd);
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(spar_test_rmtree(tmp), 0);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("query/pruning oracle", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "tiny corpora (1..130 docs): all algorithms == brute force", test_tiny_corpora) ||
        !CU_add_test(s, "1k-5k docs, Zipfian: all algorithms == brute force", test_medium_corpora) ||
        !CU_add_test(s, "30k-50k docs: all algorithms == brute force", test_large_corpora) ||
        !CU_add_test(s, "lists without document lengths", test_without_doclens) ||
        !CU_add_test(s, "pruned algorithms score far fewer documents", test_pruning_prunes) ||
        !CU_add_test(s, "heavy score ties resolved by docid", test_many_ties)) {
        CU_cleanup_registry();
        return (int)CU_get_error();
    }
    const char *data = getenv("SPAR_DATA");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/classic-ir", data ? data : "");
    DIR *dd = data ? opendir(probe) : NULL;
    if (dd == NULL) {
        printf("classic-ir oracle left out: SPAR_DATA unset or without classic-ir/\n");
    } else {
        closedir(dd);
        if (!CU_add_test(s, "classic-ir indexes, every query, k 10/1000: pruned == exhaustive", test_classic_ir)) {
            CU_cleanup_registry();
            return (int)CU_get_error();
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    printf("queries checked: %ld\n", n_queries_checked);
    spar_topk_free(&topk);
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
