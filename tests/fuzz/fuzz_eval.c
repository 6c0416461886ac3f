/* tests/fuzz/fuzz_eval.c — libFuzzer target for the evaluation readers (query/eval.c): qrels (BEIR TSV with
 * header, TREC 4-column) and TREC run files, then spar_eval over the pair. The input is split at its first
 * form feed (0x0c): the qrels before, the run after (no form feed: the whole input is offered as both). The
 * files reach the readers through memfds. A load must be SPAR_OK or SPAR_E_CORRUPT with a message naming the
 * path and a line ("path:N: ..."); when both load, spar_eval must succeed, report queries in ascending qid
 * order, every metric in [0, 1], and means equal to the averages of the per-query values.
 * Seeds: tests/fuzz/corpus/eval/. */
#define _GNU_SOURCE 1 /* memfd_create (fuzz_util.h) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "spar/spar_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct acc {
    char last[256];
    int have_last;
    uint32_t n;
    spar_eval_metrics sum;
} acc;

static void check_metrics(const spar_eval_metrics *m) {
    const double v[5] = {m->ndcg_10, m->map, m->recall_100, m->recall_1000, m->mrr_10};
    for (int i = 0; i < 5; i++) FUZZ_CHECK(isfinite(v[i]) && v[i] >= 0.0 && v[i] <= 1.0 + 1e-9);
    FUZZ_CHECK(m->recall_100 <= m->recall_1000 + 1e-12);
}

static void per_query(void *ud, const char *qid, const spar_eval_metrics *m) {
    acc *a = ud;
    FUZZ_CHECK(qid != NULL && qid[0] != '\0');
    if (a->have_last) FUZZ_CHECK(strncmp(a->last, qid, sizeof a->last - 1) <= 0);
    if (a->have_last && strlen(qid) < sizeof a->last - 1) FUZZ_CHECK(strcmp(a->last, qid) < 0);
    snprintf(a->last, sizeof a->last, "%s", qid);
    a->have_last = 1;
    check_metrics(m);
    a->n++;
    a->sum.ndcg_10 += m->ndcg_10;
    a->sum.map += m->map;
    a->sum.mrr_10 += m->mrr_10;
}

static void check_error(const spar_diag *d, const char *path) {
    size_t pl = strlen(path);
    FUZZ_CHECK(strncmp(d->msg, path, pl) == 0 && d->msg[pl] == ':');
    FUZZ_CHECK(d->msg[pl + 1] >= '1' && d->msg[pl + 1] <= '9'); /* a line number */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *ff = memchr(data, '\f', size);
    size_t qlen = ff ? (size_t)(ff - data) : size;
    const uint8_t *run = ff ? ff + 1 : data;
    size_t rlen = ff ? size - qlen - 1 : size;

    int qfd, rfd;
    char qpath[64], rpath[64];
    fuzz_memfile(data, qlen, &qfd, qpath);
    fuzz_memfile(run, rlen, &rfd, rpath);
    spar_qrels *q = NULL;
    spar_run *r = NULL;
    spar_diag d = {{0}};
    spar_status sq = spar_qrels_load(qpath, &q, &d);
    FUZZ_CHECK(sq == SPAR_OK || sq == SPAR_E_CORRUPT);
    FUZZ_CHECK((sq == SPAR_OK) == (q != NULL));
    if (sq != SPAR_OK) check_error(&d, qpath);
    d.msg[0] = '\0';
    spar_status sr = spar_run_load(rpath, &r, &d);
    FUZZ_CHECK(sr == SPAR_OK || sr == SPAR_E_CORRUPT);
    FUZZ_CHECK((sr == SPAR_OK) == (r != NULL));
    if (sr != SPAR_OK) check_error(&d, rpath);
    close(qfd);
    close(rfd);
    if (q != NULL && r != NULL) {
        acc a;
        memset(&a, 0, sizeof a);
        spar_eval_result res;
        FUZZ_CHECK(spar_eval(q, r, per_query, &a, &res) == SPAR_OK);
        FUZZ_CHECK(res.n_queries == a.n);
        check_metrics(&res.mean);
        if (a.n > 0) {
            FUZZ_CHECK(fabs(res.mean.ndcg_10 - a.sum.ndcg_10 / a.n) <= 1e-9);
            FUZZ_CHECK(fabs(res.mean.map - a.sum.map / a.n) <= 1e-9);
            FUZZ_CHECK(fabs(res.mean.mrr_10 - a.sum.mrr_10 / a.n) <= 1e-9);
        }
    }
    spar_qrels_free(q);
    spar_run_free(r);
    return 0;
}
