/* spar.c — the `spar` command-line tool: dispatches to tools/cmd_<name>.c. Uses only include/spar/.
 * Results go to stdout (machine-readable where it matters); progress and errors go to stderr. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static void usage(FILE *f, const command *cmds, size_t n) {
    fprintf(f, "spar %s — sparse retrieval and indexing engine\n\nusage: spar <command> [options]\n\ncommands:\n",
            spar_version_string());
    for (size_t i = 0; i < n; i++)
        if (cmds[i].fn != NULL) fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\n`spar <command> --help` describes each command.\n");
}

int main(int argc, char **argv) {
    const command cmds[] = {
        {"index", spar_cmd_index, "build an index from a corpus (BEIR JSONL or TSV, optionally .gz)"},
        {"search", spar_cmd_search, "search an index: one query, or a query file to a TREC run"},
        {"eval", spar_cmd_eval, "evaluate a TREC run against qrels (nDCG@10, MAP, R@100, R@1000, MRR@10)"},
        {"verify", spar_cmd_verify, "check every header and checksum of an index"},
        {"info", spar_cmd_info, "print an index's statistics and settings as JSON"},
        {"encode", spar_cmd_encode, "encode text with a transformer model (SPLADE, dense, token vectors)"},
        {"ann", spar_cmd_ann, "build and search approximate nearest-neighbour indexes"},
        {"ciff", spar_cmd_ciff, "export a learned-sparse index as CIFF (import: index --format ciff)"},
    };
    size_t n = sizeof cmds / sizeof cmds[0];
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout, cmds, n);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("spar %s\n", spar_version_string());
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], cmds[i].name) != 0) continue;
        if (cmds[i].fn == NULL) {
            fprintf(stderr, "spar: command '%s' is not available in this build\n", argv[1]);
            return 2;
        }
        return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "spar: unknown command '%s'\n\n", argv[1]);
    usage(stderr, cmds, n);
    return 2;
}
