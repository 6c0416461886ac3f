/* spar.c — the `spar` command-line tool: dispatches subcommands. Uses only include/spar/. */
#include <stdio.h>
#include <string.h>

#include "spar/spar.h"

int main(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0)) {
        printf("spar %s\n", spar_version_string());
        return 0;
    }
    fprintf(stderr, "usage: spar <command> [options]\n");
    return 2;
}
