/* cmd_index.c — `spar index`: build a BM25 index directory from corpus files (BEIR JSONL or TSV, plain or
 * gzip) with spar_index_build(). Progress (docs/s, ETA) on stderr when it is a terminal; a one-line JSON
 * summary on stdout whose counts reconcile with the input (lines = docs + skipped + blank).
 * Ctrl-C / SIGTERM cancel the build through the progress callback, so the library removes its temporary
 * directory and nothing is left behind (exit 7). Uses only include/spar/. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sparse.h"
#include "commands.h"

static void index_usage(FILE *f) {
    fprintf(f,
            "usage: spar index --input CORPUS [--input CORPUS2 ...] --index DIR [options]\n"
            "\n"
            "CORPUS is BEIR JSON lines ({\"_id\",\"title\",\"text\"}) or TSV (id<TAB>text), optionally gzip\n"
            "(detected by content). Documents get internal ids in input order. The index is written to a\n"
            "temporary sibling directory and renamed into place only when complete.\n"
            "\n"
            "  --format F        auto (default: .tsv/.txt[.gz] -> tsv, else beir) | beir | tsv;\n"
            "                    vectors | ciff: a learned-sparse index (below)\n"
            "  --threads N       build threads (default 0 = all cores); output is identical for any N\n"
            "  --on-error M      fail (default): stop at the first malformed line, write nothing;\n"
            "                    skip: skip malformed lines and count them (first one reported on stderr)\n"
            "  --store-text      keep title and text in the index (search can then print snippets)\n"
            "  --overwrite       replace an existing index directory\n"
            "  --k1 X --b X      BM25 defaults recorded in the index (default 0.9 / 0.4)\n"
            "  --stemmer S       porter (default) | none | any libstemmer algorithm (english, french, ...)\n"
            "  --stopwords S     english (default) | none\n"
            "  --no-lowercase    keep case;   --keep-accents   do not strip accents\n"
            "  --mem-mb N        in-memory postings budget before spilling a run (default 1024)\n"
            "  --quiet           no progress display\n"
            "\n"
            "stdout: {\"docs\":N,\"skipped\":N,\"blank\":N,\"lines\":N,\"terms\":N,\"postings\":N,\"bytes\":N,\n"
            "         \"seconds\":S,\"docs_per_s\":R,\"index\":DIR}\n"
            "exit codes: 0 ok, 2 usage, 3 I/O, 4 malformed input ('file:line: reason'), 7 interrupted (Ctrl-C;\n"
            "            nothing written), 8 storage, 9 exists\n");
    spar_sparse_cli_index_usage(f);
}

static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* Draws progress (when enabled) and turns a received SIGINT/SIGTERM into a cancellation. */
static int index_progress(void *ud, const spar_progress *pr) {
    cli_progress_cb(ud, pr);
    return g_interrupted != 0;
}

int spar_cmd_index(int argc, char **argv) {
    if (spar_sparse_cli_wants_index(argc, argv)) return spar_sparse_cli_index(argc, argv);
    cli_strs inputs = {{0}, 0};
    const char *dir = NULL, *format = "auto", *on_error = "fail", *stemmer = NULL, *stopwords = NULL;
    uint64_t threads = 0, mem_mb = 0;
    double k1 = -1, b = -1;
    int store_text = 0, overwrite = 0, quiet = 0, no_lower = 0, keep_accents = 0;
    const cli_opt opts[] = {
        {"input", CLI_STRS, &inputs, 0, 0},
        {"index", CLI_STR, &dir, 0, 0},
        {"format", CLI_STR, &format, 0, 0},
        {"threads", CLI_UINT, &threads, 0, 4096},
        {"on-error", CLI_STR, &on_error, 0, 0},
        {"store-text", CLI_FLAG, &store_text, 0, 0},
        {"overwrite", CLI_FLAG, &overwrite, 0, 0},
        {"k1", CLI_DOUBLE, &k1, 0, 100},
        {"b", CLI_DOUBLE, &b, 0, 1},
        {"stemmer", CLI_STR, &stemmer, 0, 0},
        {"stopwords", CLI_STR, &stopwords, 0, 0},
        {"no-lowercase", CLI_FLAG, &no_lower, 0, 0},
        {"keep-accents", CLI_FLAG, &keep_accents, 0, 0},
        {"mem-mb", CLI_UINT, &mem_mb, 16, 1 << 20},
        {"quiet", CLI_FLAG, &quiet, 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], index_usage);
    if (rc != CLI_GO) return rc;
    if (inputs.n == 0 || dir == NULL) return cli_usage_error("index", "--input and --index are required");

    spar_build_opts bo;
    spar_build_opts_default(&bo);
    if (strcmp(format, "auto") == 0)
        bo.format = SPAR_FORMAT_AUTO;
    else if (strcmp(format, "beir") == 0 || strcmp(format, "jsonl") == 0)
        bo.format = SPAR_FORMAT_BEIR;
    else if (strcmp(format, "tsv") == 0)
        bo.format = SPAR_FORMAT_TSV;
    else
        return cli_usage_error("index", "--format must be auto, beir or tsv, not '%s'", format);
    if (strcmp(on_error, "fail") == 0)
        bo.on_error = SPAR_ON_ERROR_FAIL;
    else if (strcmp(on_error, "skip") == 0)
        bo.on_error = SPAR_ON_ERROR_SKIP;
    else
        return cli_usage_error("index", "--on-error must be fail or skip, not '%s'", on_error);
    if (stemmer != NULL) {
        if (strlen(stemmer) >= sizeof bo.analysis.stemmer) return cli_usage_error("index", "--stemmer: too long");
        snprintf(bo.analysis.stemmer, sizeof bo.analysis.stemmer, "%s", stemmer);
    }
    if (stopwords != NULL) {
        if (strcmp(stopwords, "english") != 0 && strcmp(stopwords, "none") != 0)
            return cli_usage_error("index", "--stopwords must be english or none, not '%s'", stopwords);
        snprintf(bo.analysis.stopwords, sizeof bo.analysis.stopwords, "%s", stopwords);
    }
    if (no_lower) bo.analysis.lowercase = 0;
    if (keep_accents) bo.analysis.strip_accents = 0;
    if (k1 >= 0) bo.k1 = (float)k1;
    if (b >= 0) bo.b = (float)b;
    if (mem_mb) bo.mem_budget = (size_t)mem_mb << 20;
    bo.n_threads = (int)threads;
    bo.store_text = store_text;
    bo.overwrite = overwrite;
    cli_progress prog;
    cli_progress_init(&prog, "index", quiet);
    bo.progress = index_progress; /* always: it also carries cancellation */
    bo.progress_ud = &prog;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cli_install_log("index");

    spar_build_stats stats;
    memset(&stats, 0, sizeof stats);
    spar_diag diag = {{0}};
    spar_status st = spar_index_build(inputs.v, inputs.n, dir, &bo, &stats, &diag);
    cli_progress_end(&prog);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (st == SPAR_E_CANCELLED && g_interrupted) {
        fprintf(stderr, "spar index: interrupted; nothing was written\n");
        return spar_exit_code(st);
    }
    if (st != SPAR_OK) return cli_fail("index", st, &diag);

    if (stats.n_skipped > 0)
        fprintf(stderr, "spar index: skipped %llu malformed line(s); first: %s\n",
                (unsigned long long)stats.n_skipped, stats.first_error);
    uint64_t accounted = stats.n_docs + stats.n_skipped + stats.n_blank;
    if (accounted != stats.n_lines)
        fprintf(stderr, "spar index: warning: %llu input lines but docs + skipped + blank = %llu\n",
                (unsigned long long)stats.n_lines, (unsigned long long)accounted);
    printf("{\"docs\":%llu,\"skipped\":%llu,\"blank\":%llu,\"lines\":%llu,\"terms\":%llu,\"postings\":%llu,"
           "\"bytes\":%llu,\"seconds\":%.3f,\"docs_per_s\":%.0f,\"index\":",
           (unsigned long long)stats.n_docs, (unsigned long long)stats.n_skipped, (unsigned long long)stats.n_blank,
           (unsigned long long)stats.n_lines, (unsigned long long)stats.n_terms,
           (unsigned long long)stats.n_postings, (unsigned long long)stats.index_bytes, stats.seconds,
           stats.seconds > 0 ? (double)stats.n_docs / stats.seconds : 0.0);
    cli_json_str(stdout, dir, strlen(dir));
    printf("}\n");
    return fflush(stdout) == 0 ? 0 : 3;
}
