/* cmd_ciff.c — `spar ciff export`: write a learned-sparse index directory as a Common Index File Format file
 * (github.com/osirrc/ciff) for other engines (PISA, Anserini, JASS ...). Import is `spar index --format ciff`
 * (tools/cmd_sparse.c). Uses only include/spar/. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "spar/spar_sparse.h"

static void ciff_usage(FILE *f) {
    fprintf(f,
            "usage: spar ciff export --index DIR --output X.ciff [--scale S] [--description TEXT]\n"
            "\n"
            "Writes a learned-sparse index (built by `spar index --format vectors|ciff`) as CIFF: a Header, one\n"
            "PostingsList per term with postings (docids gap-encoded; tf = the impact), one DocRecord per\n"
            "document (collection_docid = the document's id). Import: spar index --format ciff --input X.ciff.\n"
            "\n"
            "  --scale S         tf = round(weight * S); postings rounding to 0 are dropped (counted).\n"
            "                    Default: 1 if every weight is an integer, else an error asking for a scale\n"
            "  --description T   Header.description (default: \"spar <version> learned-sparse export\")\n"
            "\n"
            "stdout: {\"docs\":N,\"dropped_postings\":N,\"bytes\":N,\"output\":PATH}\n"
            "exit codes: 0 ok, 2 usage (also: non-integer weights without --scale), 3 I/O, 4 corrupt index\n");
}

int spar_cmd_ciff(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ciff_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "export") != 0) return cli_usage_error("ciff", "unknown verb '%s' (export)", argv[1]);
    const char *dir = NULL, *output = NULL, *description = NULL;
    double scale = 0;
    const cli_opt opts[] = {
        {"index", CLI_STR, &dir, 0, 0},
        {"output", CLI_STR, &output, 0, 0},
        {"scale", CLI_DOUBLE, &scale, 1e-9, 1e9},
        {"description", CLI_STR, &description, 0, 0},
    };
    int rc = cli_parse(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0], ciff_usage);
    if (rc != CLI_GO) return rc;
    if (dir == NULL || output == NULL) return cli_usage_error("ciff", "--index and --output are required");
    cli_install_log("ciff");
    char desc[256];
    if (description == NULL) {
        snprintf(desc, sizeof desc, "spar %s learned-sparse export", spar_version_string());
        description = desc;
    }
    spar_diag diag = {{0}};
    spar_sparse_dir *d = NULL;
    spar_status st = spar_sparse_dir_open(dir, &d, &diag);
    if (st == SPAR_E_NOT_FOUND) {
        fprintf(stderr, "spar ciff: %s is not a learned-sparse index (%s)\n", dir, diag.msg);
        return spar_exit_code(st);
    }
    if (st != SPAR_OK) return cli_fail("ciff", st, &diag);
    uint64_t dropped = 0;
    st = spar_sparse_ciff_export(d, output, scale, description, &dropped, &diag);
    spar_sparse_stats s;
    spar_sparse_index_stats(spar_sparse_dir_index(d), &s);
    spar_sparse_dir_close(d);
    if (st != SPAR_OK) return cli_fail("ciff", st, &diag);
    FILE *f = fopen(output, "rb");
    long bytes = -1;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
    if (f != NULL) fclose(f);
    printf("{\"docs\":%u,\"dropped_postings\":%llu,\"bytes\":%ld,\"output\":", s.n_docs, (unsigned long long)dropped,
           bytes);
    cli_json_str(stdout, output, strlen(output));
    printf("}\n");
    return fflush(stdout) == 0 ? 0 : 3;
}
