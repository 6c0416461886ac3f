/* search_example.c — the smallest complete libspar program: open an index, run one BM25 query, print the
 * top 10 document ids and scores. Build against an installed spar:
 *     cc -std=c11 search_example.c $(pkg-config --cflags --libs spar) -o search_example
 *     ./search_example INDEX_DIR "query text"
 * Built with -Werror in CI (.ci/run). */
#include <stdio.h>
#include <string.h>

#include <spar/spar.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s INDEX_DIR \"query\"\n", argv[0]);
        return 2;
    }
    spar_index *ix = NULL;
    spar_searcher *s = NULL;
    spar_diag diag = {{0}};
    spar_status st = spar_index_open(argv[1], &ix, &diag); /* verifies every checksum */
    if (st != SPAR_OK) {
        fprintf(stderr, "%s: %s\n", spar_status_str(st), diag.msg);
        return 1;
    }
    spar_search_opts opts;
    spar_search_opts_default(&opts); /* k = 10, the index's k1/b, fastest exact algorithm */
    spar_hit hits[10];
    size_t n = 0;
    if ((st = spar_searcher_create(ix, &s)) == SPAR_OK)
        st = spar_search(s, argv[2], strlen(argv[2]), &opts, hits, 10, &n);
    for (size_t i = 0; st == SPAR_OK && i < n; i++) {
        char id[256];
        if ((st = spar_index_doc_id(ix, hits[i].docid, id, sizeof id, NULL)) == SPAR_OK)
            printf("%2zu  %-30s %.4f\n", i + 1, id, (double)hits[i].score);
    }
    if (st != SPAR_OK) fprintf(stderr, "search failed: %s\n", spar_status_str(st));
    spar_searcher_free(s);
    spar_index_close(ix);
    return st == SPAR_OK ? 0 : 1;
}
