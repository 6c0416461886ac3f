/* cmd_verify.c — `spar verify`: check every file of an index directory (headers, versions, checksums,
 * cross-references) with spar_index_verify(). One JSON line per checked file and a final summary line on
 * stdout; a corrupt index exits with 4 (SPAR_E_CORRUPT), distinct from I/O (3) and version (5) failures.
 * Uses only include/spar/. */
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sparse.h"
#include "commands.h"
#include "spar/spar_sparse.h"

static void verify_usage(FILE *f) {
    fprintf(f,
            "usage: spar verify --index DIR [--quiet]\n"
            "\n"
            "Reads every file of the index and checks its header, format version, checksum and structure.\n"
            "stdout: one line per file {\"file\":...,\"status\":\"ok\"|error,\"detail\":...}, then\n"
            "        {\"index\":DIR,\"ok\":true|false,\"files\":N,\"status\":...}.  --quiet prints only the last line.\n"
            "exit codes: 0 intact, 3 I/O error (missing file, unreadable), 4 corrupt (checksum/structure),\n"
            "            5 unsupported format version, 8 storage (LMDB) error\n");
}

typedef struct verify_ctx {
    int quiet;
    unsigned files, bad;
} verify_ctx;

static void report(void *ud, const char *file, spar_status st, const char *detail) {
    verify_ctx *c = ud;
    c->files++;
    if (st != SPAR_OK) c->bad++;
    if (c->quiet) return;
    printf("{\"file\":");
    cli_json_str(stdout, file, strlen(file));
    printf(",\"status\":");
    const char *s = spar_status_str(st);
    cli_json_str(stdout, s, strlen(s));
    if (detail != NULL && detail[0] != '\0') {
        printf(",\"detail\":");
        cli_json_str(stdout, detail, strlen(detail));
    }
    printf("}\n");
}

int spar_cmd_verify(int argc, char **argv) {
    const char *dir = NULL;
    int quiet = 0;
    const cli_opt opts[] = {
        {"index", CLI_STR, &dir, 0, 0},
        {"quiet", CLI_FLAG, &quiet, 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], verify_usage);
    if (rc != CLI_GO) return rc;
    if (dir == NULL) return cli_usage_error("verify", "--index is required");
    cli_install_log("verify");
    if (spar_sparse_dir_detect(dir)) return spar_sparse_cli_verify(dir, quiet); /* learned-sparse index */
    verify_ctx c = {quiet, 0, 0};
    spar_diag diag = {{0}};
    spar_status st = spar_index_verify(dir, report, &c, &diag);
    printf("{\"index\":");
    cli_json_str(stdout, dir, strlen(dir));
    printf(",\"ok\":%s,\"files\":%u,\"status\":", st == SPAR_OK ? "true" : "false", c.files);
    const char *s = spar_status_str(st);
    cli_json_str(stdout, s, strlen(s));
    if (st != SPAR_OK && diag.msg[0] != '\0') {
        printf(",\"detail\":");
        cli_json_str(stdout, diag.msg, strlen(diag.msg));
    }
    printf("}\n");
    fflush(stdout);
    if (st != SPAR_OK) return cli_fail("verify", st, &diag);
    return 0;
}
