/* cmd_info.c — `spar info`: open an index (which checks every checksum) and print its statistics and
 * recorded settings (analysis, BM25 defaults) as one JSON object on stdout. Uses only include/spar/. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sparse.h"
#include "commands.h"
#include "spar/spar_sparse.h"

static void info_usage(FILE *f) {
    fprintf(f,
            "usage: spar info --index DIR\n"
            "\n"
            "stdout: {\"docs\":N,\"terms\":N,\"postings\":N,\"avg_doclen\":X,\"k1\":X,\"b\":X,\"bytes\":N,\n"
            "         \"analysis\":{\"lowercase\":B,\"strip_accents\":B,\"stopwords\":S,\"stemmer\":S,\n"
            "         \"max_token_bytes\":N},\"version\":S}\n"
            "exit codes: 0 ok, 3 I/O, 4 corrupt, 5 version, 8 storage\n");
}

int spar_cmd_info(int argc, char **argv) {
    const char *dir = NULL;
    const cli_opt opts[] = {{"index", CLI_STR, &dir, 0, 0}};
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], info_usage);
    if (rc != CLI_GO) return rc;
    if (dir == NULL) return cli_usage_error("info", "--index is required");
    cli_install_log("info");
    if (spar_sparse_dir_detect(dir)) return spar_sparse_cli_info(dir); /* learned-sparse index */
    spar_index *ix = NULL;
    spar_diag diag = {{0}};
    spar_status st = spar_index_open(dir, &ix, &diag);
    if (st != SPAR_OK) return cli_fail("info", st, &diag);
    spar_index_info in;
    memset(&in, 0, sizeof in);
    spar_index_get_info(ix, &in);
    printf("{\"index\":");
    cli_json_str(stdout, dir, strlen(dir));
    printf(",\"docs\":%llu,\"terms\":%llu,\"postings\":%llu,\"avg_doclen\":%.4f,\"k1\":%g,\"b\":%g,\"bytes\":%llu,",
           (unsigned long long)in.n_docs, (unsigned long long)in.n_terms, (unsigned long long)in.n_postings,
           in.avg_doclen, (double)in.k1, (double)in.b, (unsigned long long)in.index_bytes);
    printf("\"analysis\":{\"lowercase\":%s,\"strip_accents\":%s,\"stopwords\":", in.analysis.lowercase ? "true" : "false",
           in.analysis.strip_accents ? "true" : "false");
    cli_json_str(stdout, in.analysis.stopwords, strnlen(in.analysis.stopwords, sizeof in.analysis.stopwords));
    printf(",\"stemmer\":");
    cli_json_str(stdout, in.analysis.stemmer, strnlen(in.analysis.stemmer, sizeof in.analysis.stemmer));
    printf(",\"max_token_bytes\":%u},\"version\":", in.analysis.max_token_bytes);
    const char *v = spar_version_string();
    cli_json_str(stdout, v, strlen(v));
    printf("}\n");
    spar_index_close(ix);
    return fflush(stdout) == 0 ? 0 : 3;
}
