/* cmd_search.c — `spar search`: one query (ranked hits for humans, or --json lines) or a query file
 * (BEIR JSONL or TSV) searched in batches with spar_search_batch() and written as a TREC run
 * ("qid Q0 docid rank score spar"). Uses only include/spar/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sparse.h"
#include "commands.h"

#define BATCH 2048 /* queries per spar_search_batch call (bounds the hits buffer) */

static void search_usage(FILE *f) {
    fprintf(f,
            "usage: spar search --index DIR --query TEXT [--k 10] [--json]\n"
            "       spar search --index DIR --queries FILE --run RUN [--k 1000] [--threads N]\n"
            "\n"
            "One query: prints rank, document id, BM25 score and, if the index stores text, the title and a\n"
            "snippet; --json prints one JSON object per hit {\"rank\",\"id\",\"score\"[,\"title\",\"text\"]}.\n"
            "A query file (BEIR JSONL {\"_id\",\"text\"} or TSV qid<TAB>text, optionally gzip) is searched on\n"
            "--threads threads and written to RUN ('-' = stdout) as TREC lines 'qid Q0 docid rank score spar';\n"
            "the output does not depend on the thread count. A JSON summary goes to stderr.\n"
            "\n"
            "  --k N             hits per query (default 10 for --query, 1000 for --queries; max 100000)\n"
            "  --algo A          default | exhaustive | maxscore | bmw (all return the same top-k)\n"
            "  --k1 X --b X      BM25 parameters (default: those recorded in the index)\n"
            "  --format F        query file format: auto (default) | beir | tsv\n"
            "  --on-error M      fail (default) | skip: malformed query lines\n"
            "  --tag T           run tag (6th column, default 'spar')\n"
            "  --quiet           no progress display\n"
            "\n"
            "exit codes: 0 ok, 2 usage, 3 I/O, 4 corrupt index or malformed query file, 5 version, 6 not found\n");
    spar_sparse_cli_search_usage(f);
}

/* Parse --algo through the library so the names stay in one place. */
static int parse_algo(const char *name, spar_algo *out) {
    return spar_algo_parse(name, out) == SPAR_OK ? 0 : -1;
}

/* Collapse whitespace and cut at ~max bytes on a UTF-8 boundary, for one-line snippets. */
static void snippet(const char *s, size_t len, size_t max, char *out, size_t cap) {
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (o >= max && (c & 0xC0) != 0x80) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (space) out[o++] = ' ';
        space = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

static int search_one(const char *cmd, spar_index *ix, const char *text, const spar_search_opts *so, int json) {
    spar_searcher *s = NULL;
    spar_hit *hits = malloc(sizeof *hits * so->k);
    char id[1024], title[512], body[4096], snip[256];
    int rc = 0;
    spar_status st = hits ? spar_searcher_create(ix, &s) : SPAR_E_NOMEM;
    size_t n = 0;
    if (st == SPAR_OK) st = spar_search(s, text, strlen(text), so, hits, so->k, &n);
    if (st != SPAR_OK) {
        rc = cli_fail(cmd, st, NULL);
        goto done;
    }
    int width = 8; /* id column width for the human output: the longest id shown, at most 40 */
    for (size_t i = 0; i < n && !json; i++) {
        size_t id_len = 0;
        if (spar_index_doc_id(ix, hits[i].docid, id, sizeof id, &id_len) == SPAR_OK && (int)id_len > width)
            width = id_len > 40 ? 40 : (int)id_len;
    }
    for (size_t i = 0; i < n; i++) {
        size_t id_len = 0, title_len = 0, text_len = 0;
        st = spar_index_doc_id(ix, hits[i].docid, id, sizeof id, &id_len);
        if (st != SPAR_OK) {
            rc = cli_fail(cmd, st, NULL);
            goto done;
        }
        int have_text = spar_index_doc_text(ix, hits[i].docid, title, sizeof title, &title_len, body, sizeof body,
                                            &text_len) == SPAR_OK;
        if (json) {
            printf("{\"rank\":%zu,\"id\":", i + 1);
            cli_json_str(stdout, id, strlen(id));
            printf(",\"score\":%.6f", (double)hits[i].score);
            if (have_text) {
                printf(",\"title\":");
                cli_json_str(stdout, title, strlen(title));
                printf(",\"text\":");
                cli_json_str(stdout, body, strlen(body));
            }
            printf("}\n");
        } else {
            printf("%3zu  %-*s %9.4f", i + 1, width, id, (double)hits[i].score);
            if (have_text) {
                snippet(title, strlen(title), 60, snip, sizeof snip);
                if (snip[0]) printf("  %s", snip);
                snippet(body, strlen(body), snip[0] ? 80 : 120, snip, sizeof snip);
                if (snip[0]) printf("  | %s", snip);
            }
            putchar('\n');
        }
    }
    if (n == 0 && !json) printf("(no hits)\n");
done:
    spar_searcher_free(s);
    free(hits);
    return rc;
}

typedef struct query_set {
    char **ids, **texts;
    size_t n, cap;
    uint64_t skipped, lines;
} query_set;

static void query_set_free(query_set *q) {
    for (size_t i = 0; i < q->n; i++) {
        free(q->ids[i]);
        free(q->texts[i]);
    }
    free(q->ids);
    free(q->texts);
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Read every query (id, title + " " + text) into memory. */
static spar_status read_queries(const char *path, spar_corpus_format fmt, int skip, query_set *q, spar_diag *diag) {
    spar_docs *d = NULL;
    spar_status st = spar_docs_open(path, fmt, &d, diag);
    if (st != SPAR_OK) return st;
    for (;;) {
        spar_doc_view v;
        st = spar_docs_next(d, &v, diag);
        if (st == SPAR_E_NOT_FOUND) {
            st = SPAR_OK;
            break;
        }
        if (st == SPAR_E_CORRUPT && skip) {
            if (q->skipped++ == 0) fprintf(stderr, "spar search: skipping malformed query: %s\n", diag->msg);
            continue;
        }
        if (st != SPAR_OK) break;
        if (q->n == q->cap) {
            size_t cap = q->cap ? q->cap * 2 : 256;
            char **a = realloc(q->ids, cap * sizeof *a);
            if (a == NULL) { st = SPAR_E_NOMEM; break; }
            q->ids = a;
            char **b = realloc(q->texts, cap * sizeof *b);
            if (b == NULL) { st = SPAR_E_NOMEM; break; }
            q->texts = b;
            q->cap = cap;
        }
        char *id = dup_n(v.id, v.id_len);
        char *text = malloc(v.title_len + v.text_len + 2);
        if (id == NULL || text == NULL) {
            free(id);
            free(text);
            st = SPAR_E_NOMEM;
            break;
        }
        size_t o = 0;
        memcpy(text, v.title, v.title_len);
        o += v.title_len;
        if (v.title_len && v.text_len) text[o++] = ' ';
        memcpy(text + o, v.text, v.text_len);
        text[o + v.text_len] = '\0';
        q->ids[q->n] = id;
        q->texts[q->n] = text;
        q->n++;
    }
    q->lines = spar_docs_lines(d);
    spar_docs_close(d);
    return st;
}

static int search_file(const char *cmd, spar_index *ix, const char *qpath, spar_corpus_format fmt, int skip,
                       const char *run_path, const char *tag, const spar_search_opts *so, int threads, int quiet) {
    query_set q;
    memset(&q, 0, sizeof q);
    spar_diag diag = {{0}};
    spar_hit *hits = NULL;
    size_t *n_hits = NULL;
    cli_sink run = {0};
    int run_open = 0;
    int rc = 0;
    char id[1024];
    spar_status st = read_queries(qpath, fmt, skip, &q, &diag);
    if (st != SPAR_OK) {
        rc = cli_fail(cmd, st, &diag);
        goto done;
    }
    size_t batch = q.n < BATCH ? (q.n ? q.n : 1) : BATCH;
    size_t max_batch = ((size_t)64 << 20) / (sizeof *hits * so->k); /* hits buffer <= 64 MiB */
    if (batch > max_batch) batch = max_batch ? max_batch : 1;
    hits = malloc(sizeof *hits * batch * so->k);
    n_hits = malloc(sizeof *n_hits * batch);
    if (hits == NULL || n_hits == NULL) {
        rc = cli_fail(cmd, SPAR_E_NOMEM, NULL);
        goto done;
    }
    run_open = 1;
    if (cli_sink_open(&run, run_path) != 0) {
        fprintf(stderr, "spar %s: cannot write %s: %s\n", cmd, run_path, strerror(errno));
        rc = 3;
        goto done;
    }
    cli_progress prog;
    cli_progress_init(&prog, "search", quiet);
    double t0 = cli_now();
    uint64_t n_lines = 0;
    for (size_t base = 0; base < q.n; base += batch) {
        size_t m = q.n - base < batch ? q.n - base : batch;
        st = spar_search_batch(ix, (const char *const *)q.texts + base, m, so, hits, n_hits, threads);
        if (st != SPAR_OK) {
            rc = cli_fail(cmd, st, NULL);
            goto done;
        }
        for (size_t i = 0; i < m; i++) {
            const spar_hit *h = hits + i * so->k;
            for (size_t j = 0; j < n_hits[i]; j++) {
                st = spar_index_doc_id(ix, h[j].docid, id, sizeof id, NULL);
                if (st != SPAR_OK) {
                    rc = cli_fail(cmd, st, NULL);
                    goto done;
                }
                if ((rc = cli_trec_line(&run, cmd, q.ids[base + i], id, j + 1, (double)h[j].score, tag)) != 0)
                    goto done;
                n_lines++;
            }
        }
        cli_progress_update(&prog, "search", base + m, q.n, base + m, "queries", 0);
    }
    cli_progress_end(&prog);
    double secs = cli_now() - t0;
    run_open = 0;
    if (cli_sink_close(&run, 1) != 0) {
        fprintf(stderr, "spar %s: writing %s failed\n", cmd, run_path);
        rc = 3;
        goto done;
    }
    fprintf(stderr, "{\"queries\":%zu,\"skipped\":%llu,\"run_lines\":%llu,\"seconds\":%.3f,\"qps\":%.1f,\"threads\":%d}\n",
            q.n, (unsigned long long)q.skipped, (unsigned long long)n_lines, secs, secs > 0 ? (double)q.n / secs : 0,
            threads);
done:
    if (run_open) cli_sink_close(&run, 0);
    free(hits);
    free(n_hits);
    query_set_free(&q);
    return rc;
}

int spar_cmd_search(int argc, char **argv) {
    if (spar_sparse_cli_wants_search(argc, argv)) return spar_sparse_cli_search(argc, argv);
    const char *dir = NULL, *query = NULL, *queries = NULL, *run = NULL, *algo = "default", *format = "auto";
    const char *on_error = "fail", *tag = "spar";
    uint64_t k = 0, threads = 0;
    double k1 = -1, b = -1;
    int json = 0, quiet = 0;
    const cli_opt opts[] = {
        {"index", CLI_STR, &dir, 0, 0},
        {"query", CLI_STR, &query, 0, 0},
        {"queries", CLI_STR, &queries, 0, 0},
        {"run", CLI_STR, &run, 0, 0},
        {"k", CLI_UINT, &k, 1, SPAR_MAX_K},
        {"threads", CLI_UINT, &threads, 0, 4096},
        {"algo", CLI_STR, &algo, 0, 0},
        {"k1", CLI_DOUBLE, &k1, 0, 100},
        {"b", CLI_DOUBLE, &b, 0, 1},
        {"json", CLI_FLAG, &json, 0, 0},
        {"format", CLI_STR, &format, 0, 0},
        {"on-error", CLI_STR, &on_error, 0, 0},
        {"tag", CLI_STR, &tag, 0, 0},
        {"quiet", CLI_FLAG, &quiet, 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], search_usage);
    if (rc != CLI_GO) return rc;
    if (dir == NULL) return cli_usage_error("search", "--index is required");
    if ((query == NULL) == (queries == NULL)) return cli_usage_error("search", "give exactly one of --query or --queries");
    if (queries != NULL && run == NULL) return cli_usage_error("search", "--queries needs --run FILE ('-' for stdout)");
    spar_search_opts so;
    spar_search_opts_default(&so);
    so.k = (uint32_t)(k ? k : (query ? 10 : 1000));
    if (k1 >= 0) so.k1 = (float)k1;
    if (b >= 0) so.b = (float)b;
    if (parse_algo(algo, &so.algo) != 0)
        return cli_usage_error("search", "--algo must be default, exhaustive, maxscore or bmw, not '%s'", algo);
    spar_corpus_format fmt = SPAR_FORMAT_AUTO;
    if (strcmp(format, "beir") == 0 || strcmp(format, "jsonl") == 0)
        fmt = SPAR_FORMAT_BEIR;
    else if (strcmp(format, "tsv") == 0)
        fmt = SPAR_FORMAT_TSV;
    else if (strcmp(format, "auto") != 0)
        return cli_usage_error("search", "--format must be auto, beir or tsv, not '%s'", format);
    int skip = strcmp(on_error, "skip") == 0;
    if (!skip && strcmp(on_error, "fail") != 0)
        return cli_usage_error("search", "--on-error must be fail or skip, not '%s'", on_error);
    if (strchr(tag, ' ') != NULL || tag[0] == '\0') return cli_usage_error("search", "--tag must be one word");
    cli_install_log("search");

    spar_index *ix = NULL;
    spar_diag diag = {{0}};
    spar_status st = spar_index_open(dir, &ix, &diag);
    if (st != SPAR_OK) return cli_fail("search", st, &diag);
    if (query != NULL)
        rc = search_one("search", ix, query, &so, json);
    else
        rc = search_file("search", ix, queries, fmt, skip, run, tag, &so, (int)threads, quiet);
    spar_index_close(ix);
    return rc;
}
