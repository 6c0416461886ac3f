/* cmd_sparse.h — the learned-sparse side of `spar index` and `spar search` (tools/cmd_sparse.c): indexes built
 * from SPLADE-style vectors (--format vectors) or CIFF (--format ciff), searched with query vectors or
 * inference-free (idf) text queries. cmd_index.c / cmd_search.c hand over to these before parsing. */
#ifndef SPAR_TOOLS_CMD_SPARSE_H
#define SPAR_TOOLS_CMD_SPARSE_H

#include <stdio.h>

/* 1 if `spar index` argv asks for --format vectors or ciff. */
int spar_sparse_cli_wants_index(int argc, char **argv);
int spar_sparse_cli_index(int argc, char **argv);
void spar_sparse_cli_index_usage(FILE *f);

/* 1 if `spar search` argv names (--index) a learned-sparse index directory and does not ask for --help. */
int spar_sparse_cli_wants_search(int argc, char **argv);
int spar_sparse_cli_search(int argc, char **argv);
void spar_sparse_cli_search_usage(FILE *f);

/* `spar info` / `spar verify` on a learned-sparse index directory (the caller checked spar_sparse_dir_detect). */
int spar_sparse_cli_info(const char *dir);
int spar_sparse_cli_verify(const char *dir, int quiet);

#endif
