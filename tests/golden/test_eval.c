/* test_eval.c — golden tests for query/eval.c (include/spar/spar_eval.h): trec_eval-compatible nDCG@10,
 * MAP, Recall@100/1000 and MRR@10 on tiny hand-built qrels/runs whose expected values were derived by hand
 * (derivations in the comments) and cross-checked with an independent 20-line Python script. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spar/spar.h"

#define EPS 1e-12

/* Write `text` to a fresh temporary file; returns its path (static buffer rotated among 4). */
static const char *tmpfile_with(const char *text) {
    static char paths[4][64];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 64, "/tmp/spar_eval_XXXXXX");
    int fd = mkstemp(p);
    if (fd < 0) return NULL;
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return NULL;
    }
    close(fd);
    return p;
}

/* q1: judged d1=2, d2=1, d3=0, d4=1 (3 relevant). q2: dA=1. q3: only a non-relevant judgment (not
 * averaged). q4: relevant dZ but absent from the run (counts as 0). */
static const char *QRELS_TREC = "q1 0 d1 2\n"
                                "q1 0 d2 1\n"
                                "q1 0 d3 0\n"
                                "q1 0 d4 1\n"
                                "q2 0 dA 1\n"
                                "q3 0 dX 0\n"
                                "q4 0 dZ 1\n";
static const char *QRELS_BEIR = "query-id\tcorpus-id\tscore\n"
                                "q1\td1\t2\n"
                                "q1\td2\t1\n"
                                "q1\td3\t0\n"
                                "q1\td4\t1\n"
                                "q2\tdA\t1\n"
                                "q3\tdX\t0\n"
                                "q4\tdZ\t1\n";
/* Ranks given in the file are deliberately wrong: trec_eval ignores them and sorts by score desc, ties by
 * docid desc. q1 therefore ranks d3 (10), d5 (9, 'd5' > 'd2'), d2 (9), d1 (5), d9 (4).
 * q2 ranks dB (3), dA (2), dC (1); the second dA line (score 100) is a duplicate and is dropped (first kept).
 * q5 is not in the qrels and is ignored. */
static const char *RUN = "q1 Q0 d1 1 5.0 t\n"
                         "q1 Q0 d2 2 9.0 t\n"
                         "q1 Q0 d3 3 10.0 t\n"
                         "q1 Q0 d5 4 9.0 t\n"
                         "q1 Q0 d9 5 4 t\n"
                         "\n"
                         "q2 Q0 dA 1 2.0 t\n"
                         "q2 Q0 dB 2 3.0 t\n"
                         "q2 Q0 dC 3 1.0 t\n"
                         "q2 Q0 dA 4 100.0 t\n"
                         "q5 Q0 d1 1 1.0 t\n";

typedef struct collected {
    int n;
    char qid[8][8];
    spar_eval_metrics m[8];
} collected;

static void collect(void *ud, const char *qid, const spar_eval_metrics *m) {
    collected *c = ud;
    if (c->n >= 8) return;
    snprintf(c->qid[c->n], sizeof c->qid[c->n], "%s", qid);
    c->m[c->n++] = *m;
}

static void eval_files(const char *qrels_text, const char *run_text, spar_eval_result *res, collected *c) {
    const char *qp = tmpfile_with(qrels_text);
    const char *rp = tmpfile_with(run_text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rp);
    spar_qrels *q = NULL;
    spar_run *r = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(spar_qrels_load(qp, &q, &d), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_run_load(rp, &r, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_eval(q, r, c ? collect : NULL, c, res), SPAR_OK);
    spar_qrels_free(q);
    spar_run_free(r);
    unlink(qp);
    unlink(rp);
}

/* q1 by hand. Ranked gains: d3 0, d5 0 (unjudged), d2 1, d1 2, d9 0.
 *   DCG@10  = 1/log2(4) + 2/log2(5)                 = 0.5 + 0.8613531161 = 1.3613531161
 *   IDCG@10 = 2/log2(2) + 1/log2(3) + 1/log2(4)     = 2 + 0.6309297536 + 0.5 = 3.1309297536
 *   nDCG@10 = 0.43480793990791
 *   AP      = (1/3 + 2/4) / 3 relevant              = 0.27777777777778
 *   R@100 = R@1000 = 2/3 (d4 never retrieved); RR@10 = 1/3 (first relevant, d2, at rank 3).
 * q2: dA at rank 2: nDCG = (1/log2 3)/1 = 0.63092975357146, AP = 1/2, R = 1, RR = 1/2.
 * q4: no results: all 0. q3 has no relevant doc: not averaged. Means over 3 queries. */
static void test_eval_hand_computed_trec_qrels(void) {
    spar_eval_result res;
    collected c = {0};
    eval_files(QRELS_TREC, RUN, &res, &c);
    CU_ASSERT_EQUAL(res.n_queries, 3);
    CU_ASSERT_EQUAL_FATAL(c.n, 3);
    CU_ASSERT_STRING_EQUAL(c.qid[0], "q1");
    CU_ASSERT_STRING_EQUAL(c.qid[1], "q2");
    CU_ASSERT_STRING_EQUAL(c.qid[2], "q4");
    CU_ASSERT_DOUBLE_EQUAL(c.m[0].ndcg_10, 0.43480793990791011, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[0].map, 0.27777777777777773, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[0].recall_100, 2.0 / 3.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[0].recall_1000, 2.0 / 3.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[0].mrr_10, 1.0 / 3.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[1].ndcg_10, 0.63092975357145753, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[1].map, 0.5, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[1].mrr_10, 0.5, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[2].ndcg_10, 0.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(c.m[2].recall_1000, 0.0, EPS);
    /* means: (q1 + q2 + 0) / 3 */
    CU_ASSERT_DOUBLE_EQUAL(res.mean.ndcg_10, 0.35524589782645588, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.map, 0.25925925925925924, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.recall_100, 0.55555555555555547, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.recall_1000, 0.55555555555555547, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.mrr_10, 0.27777777777777773, EPS);
}

/* The same judgments as a BEIR TSV with header give identical numbers. */
static void test_eval_beir_qrels_equal_trec(void) {
    spar_eval_result a, b;
    eval_files(QRELS_TREC, RUN, &a, NULL);
    eval_files(QRELS_BEIR, RUN, &b, NULL);
    CU_ASSERT_EQUAL(a.n_queries, b.n_queries);
    CU_ASSERT_EQUAL(memcmp(&a.mean, &b.mean, sizeof a.mean), 0);
}

/* One query, 150 results e000..e149 with scores 150..1; relevant: e010 (rank 11) and e100 (rank 101).
 *   nDCG@10 = 0 and RR@10 = 0 (nothing relevant in the top 10); R@100 = 1/2; R@1000 = 2/2;
 *   AP = (1/11 + 2/101) / 2 = 0.05535553555355536. */
static void test_eval_cutoffs(void) {
    size_t cap = 150 * 32 + 1;
    char *run = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    size_t off = 0;
    for (int i = 0; i < 150; i++) off += (size_t)snprintf(run + off, cap - off, "q6 Q0 e%03d 0 %d x\n", i, 150 - i);
    spar_eval_result res;
    eval_files("q6 0 e010 1\nq6 0 e100 1\nq6 0 e149 0\n", run, &res, NULL);
    free(run);
    CU_ASSERT_EQUAL(res.n_queries, 1);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.ndcg_10, 0.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.mrr_10, 0.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.recall_100, 0.5, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.recall_1000, 1.0, EPS);
    CU_ASSERT_DOUBLE_EQUAL(res.mean.map, 0.055355535553555359, EPS);
}

/* The duplicate (q2, dA) line is counted and the first occurrence wins: had the score-100 line been kept,
 * dA would rank first and q2's RR would be 1 instead of 1/2 (checked in the hand-computed test). */
static void test_eval_duplicates_counted(void) {
    const char *rp = tmpfile_with(RUN);
    spar_run *r = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_run_load(rp, &r, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(spar_run_duplicates(r), 1);
    spar_run_free(r);
    unlink(rp);
}

static void expect_corrupt(int is_run, const char *text, const char *line_suffix) {
    const char *p = tmpfile_with(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    spar_diag d = {{0}};
    spar_status st;
    if (is_run) {
        spar_run *r = NULL;
        st = spar_run_load(p, &r, &d);
        CU_ASSERT_PTR_NULL(r);
    } else {
        spar_qrels *q = NULL;
        st = spar_qrels_load(p, &q, &d);
        CU_ASSERT_PTR_NULL(q);
    }
    CU_ASSERT_EQUAL(st, SPAR_E_CORRUPT);
    char want[128];
    snprintf(want, sizeof want, "%s%s", p, line_suffix); /* "path:LINE: reason" */
    CU_ASSERT_EQUAL(strncmp(d.msg, want, strlen(want)), 0);
    unlink(p);
}

static void test_eval_malformed_lines_named(void) {
    expect_corrupt(1, "q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 1.0\n", ":2: expected 6 fields");
    expect_corrupt(1, "q1 Q0 d1 1 1.0 t\n\nq1 Q0 d2 2 abc t\n", ":3: score 'abc'");
    expect_corrupt(1, "q1 Q0 d1 1 nan t\n", ":1: score 'nan'");
    expect_corrupt(1, "q1 Q0 d1 x 1.0 t\n", ":1: rank 'x'");
    expect_corrupt(0, "q1 0 d1 1\nq1 d2\n", ":2: expected 3 fields");
    expect_corrupt(0, "query-id\tcorpus-id\tscore\nq1\td1\thigh\n", ":2: relevance 'high'");
    expect_corrupt(0, "q1\t\td1\t1\n", ":1: empty field");
}

/* '#' comment lines in qrels are skipped (trec_eval does); tab-separated fields are trimmed of spaces, so
 * "q1\t0\td1\t2 " is the same judgment; blank and whitespace-only lines are ignored. The result must equal
 * the plain TREC qrels of the hand-computed test. */
static void test_eval_qrels_comments_and_spacing(void) {
    const char *q = "# judged by hand\n"
                    "q1\t0\td1\t2 \n"
                    "  # another comment\n"
                    "q1 0 d2 1\n"
                    "\t\n"
                    "q1 0 d3 0\n"
                    "q1 0 d4 1\n"
                    "q2 0 dA 1\n"
                    "q3 0 dX 0\n"
                    "q4 0 dZ 1\n";
    spar_eval_result a, b;
    eval_files(QRELS_TREC, RUN, &a, NULL);
    eval_files(q, RUN, &b, NULL);
    CU_ASSERT_EQUAL(b.n_queries, 3);
    CU_ASSERT_EQUAL(memcmp(&a.mean, &b.mean, sizeof a.mean), 0);
}

static void test_eval_missing_file_is_io(void) {
    spar_qrels *q = NULL;
    spar_diag d = {{0}};
    CU_ASSERT_EQUAL(spar_qrels_load("/nonexistent/spar/qrels.tsv", &q, &d), SPAR_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "/nonexistent/spar/qrels.tsv"));
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("query/eval", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "hand-computed metrics, TREC qrels", test_eval_hand_computed_trec_qrels) ||
        !CU_add_test(s, "BEIR TSV qrels equal TREC qrels", test_eval_beir_qrels_equal_trec) ||
        !CU_add_test(s, "rank cutoffs 10/100/1000", test_eval_cutoffs) ||
        !CU_add_test(s, "duplicate run lines: first kept, counted", test_eval_duplicates_counted) ||
        !CU_add_test(s, "malformed lines give file:line: reason", test_eval_malformed_lines_named) ||
        !CU_add_test(s, "qrels comments, tab fields with spaces, blank lines", test_eval_qrels_comments_and_spacing) ||
        !CU_add_test(s, "missing file is an I/O error", test_eval_missing_file_is_io))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    return rc;
}
