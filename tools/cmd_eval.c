/* cmd_eval.c — `spar eval`: score a TREC run against qrels with trec_eval's definitions (nDCG@10, MAP,
 * Recall@100, Recall@1000, MRR@10). Prints one JSON object on stdout (or a small table with
 * --format table); --per-query adds one JSON line per query first. Uses only include/spar/. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: spar eval --qrels QRELS --run RUN [--per-query] [--format json|table]\n"
            "\n"
            "QRELS: BEIR TSV (header 'query-id corpus-id score', tab-separated) or TREC ('qid 0 docid rel').\n"
            "RUN:   TREC run lines 'qid Q0 docid rank score tag'.\n"
            "\n"
            "Metrics follow trec_eval: documents are ranked by score descending (ties: docid descending), the\n"
            "rank column is ignored, relevance > 0 counts as relevant, nDCG@10 uses graded gains (the qrels\n"
            "level) with a log2(rank+1) discount and the ideal ranking of all judged documents. Averages are\n"
            "over the queries of the qrels with at least one relevant document; such a query absent from the\n"
            "run scores 0 (trec_eval -c); queries with only non-relevant judgments are left out (trec_eval would\n"
            "average them in as 0). A (qid, docid) pair repeated in the run keeps its first line and is\n"
            "reported on stderr. Lines of the qrels starting with '#' are comments.\n"
            "\n"
            "  --per-query     also print one JSON line per query: {\"qid\":...,\"ndcg_cut_10\":...}\n"
            "  --format F      json (default): one object {\"ndcg_cut_10\",\"map\",\"recall_100\",\n"
            "                  \"recall_1000\",\"mrr_10\",\"num_q\",\"run_duplicates\"}; table: aligned text\n"
            "\n"
            "exit codes: 0 ok, 2 usage, 3 I/O, 4 malformed line (message 'file:line: reason')\n");
}

static void print_metrics_json(const spar_eval_metrics *m) {
    printf("\"ndcg_cut_10\":%.6f,\"map\":%.6f,\"recall_100\":%.6f,\"recall_1000\":%.6f,\"mrr_10\":%.6f", m->ndcg_10,
           m->map, m->recall_100, m->recall_1000, m->mrr_10);
}

static void per_query_json(void *ud, const char *qid, const spar_eval_metrics *m) {
    (void)ud;
    printf("{\"qid\":");
    cli_json_str(stdout, qid, strlen(qid));
    putchar(',');
    print_metrics_json(m);
    printf("}\n");
}

static void per_query_table(void *ud, const char *qid, const spar_eval_metrics *m) {
    (void)ud;
    printf("%-20s %8.4f %8.4f %8.4f %8.4f %8.4f\n", qid, m->ndcg_10, m->map, m->recall_100, m->recall_1000,
           m->mrr_10);
}

int spar_cmd_eval(int argc, char **argv) {
    const char *qrels_path = NULL, *run_path = NULL, *format = "json";
    int per_query = 0;
    const cli_opt opts[] = {
        {"qrels", CLI_STR, &qrels_path, 0, 0},
        {"run", CLI_STR, &run_path, 0, 0},
        {"per-query", CLI_FLAG, &per_query, 0, 0},
        {"format", CLI_STR, &format, 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], eval_usage);
    if (rc != CLI_GO) return rc;
    if (qrels_path == NULL || run_path == NULL) return cli_usage_error("eval", "--qrels and --run are required");
    int table = strcmp(format, "table") == 0;
    if (!table && strcmp(format, "json") != 0)
        return cli_usage_error("eval", "--format must be json or table, not '%s'", format);
    cli_install_log("eval");

    spar_qrels *q = NULL;
    spar_run *r = NULL;
    spar_diag diag = {{0}};
    spar_status st = spar_qrels_load(qrels_path, &q, &diag);
    if (st == SPAR_OK) st = spar_run_load(run_path, &r, &diag);
    if (st != SPAR_OK) {
        rc = cli_fail("eval", st, &diag);
        goto done;
    }
    if (table && per_query)
        printf("%-20s %8s %8s %8s %8s %8s\n", "qid", "nDCG@10", "MAP", "R@100", "R@1000", "MRR@10");
    spar_eval_result res;
    st = spar_eval(q, r, per_query ? (table ? per_query_table : per_query_json) : NULL, NULL, &res);
    if (st != SPAR_OK) {
        rc = cli_fail("eval", st, NULL);
        goto done;
    }
    if (table) {
        if (!per_query) printf("%-20s %8s %8s %8s %8s %8s\n", "", "nDCG@10", "MAP", "R@100", "R@1000", "MRR@10");
        printf("%-20s %8.4f %8.4f %8.4f %8.4f %8.4f\n", "all", res.mean.ndcg_10, res.mean.map, res.mean.recall_100,
               res.mean.recall_1000, res.mean.mrr_10);
        printf("queries averaged: %u\n", res.n_queries);
    } else {
        putchar('{');
        print_metrics_json(&res.mean);
        printf(",\"num_q\":%u,\"run_duplicates\":%llu}\n", res.n_queries,
               (unsigned long long)spar_run_duplicates(r));
    }
    if (res.n_queries == 0) fprintf(stderr, "spar eval: warning: no query of the qrels has a relevant document\n");
    rc = fflush(stdout) == 0 ? 0 : 3;
done:
    spar_run_free(r);
    spar_qrels_free(q);
    return rc;
}
