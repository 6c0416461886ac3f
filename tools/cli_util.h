/* cli_util.h — helpers shared by the `spar` subcommands (tools/cmd_*.c): long-option parsing, progress
 * drawn on stderr (TTY only, at most 6 updates per second, with items/s and ETA), JSON string output and
 * uniform error reporting. Uses only include/spar/. */
#ifndef SPAR_TOOLS_CLI_UTIL_H
#define SPAR_TOOLS_CLI_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "spar/spar.h"

/* ---- option parsing ---- */
typedef enum cli_kind {
    CLI_FLAG,   /* --name: sets *(int *)dst = 1 */
    CLI_STR,    /* --name VALUE or --name=VALUE: *(const char **)dst = VALUE */
    CLI_STRS,   /* repeatable string: appends to a cli_strs */
    CLI_UINT,   /* *(uint64_t *)dst, range [lo, hi] */
    CLI_DOUBLE  /* *(double *)dst, range [lo, hi] */
} cli_kind;

typedef struct cli_strs {
    const char *v[64];
    size_t n;
} cli_strs;

typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    cli_kind kind;
    void *dst;
    double lo, hi;    /* numeric range (inclusive) */
} cli_opt;

/* Parse argv[1..argc) (argv[0] is the subcommand). Every argument must be a known option ("--name VALUE" or
 * "--name=VALUE"); "-h"/"--help" prints usage to stdout. Returns CLI_GO to go on, otherwise the exit code:
 * CLI_HELP (0) after printing help, CLI_USAGE (2) after printing the problem on stderr. */
#define CLI_GO (-1)
#define CLI_HELP 0
#define CLI_USAGE 2
int cli_parse(int argc, char **argv, const cli_opt *opts, size_t n_opts, void (*usage)(FILE *));

/* "spar <cmd>: <message>" on stderr, returning 2 (usage error). */
int cli_usage_error(const char *cmd, const char *fmt, ...) SPAR_PRINTF(2, 3);
/* Report a failed library call on stderr ("spar <cmd>: <diag or status text>") and return its exit code. */
int cli_fail(const char *cmd, spar_status st, const spar_diag *diag);

/* Route spar_log warnings/errors to stderr prefixed "spar <cmd>: warning: ". */
void cli_install_log(const char *cmd);

/* ---- progress ---- */
typedef struct cli_progress {
    int enabled;      /* stderr is a terminal and not disabled */
    int drawn;        /* something is on the line (needs a final newline) */
    double start, last;
    const char *label;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label, int quiet);
/* `done`/`total` in `unit`s (total 0 = unknown) drive percent and ETA; `items` (e.g. docs) drives the
 * rate. Draws at most every 1/6 s unless `force`. */
void cli_progress_update(cli_progress *p, const char *stage, uint64_t done, uint64_t total, uint64_t items,
                         const char *items_unit, int force);
void cli_progress_end(cli_progress *p);
/* Adapter for spar_progress_fn: ud is a cli_progress*. Never cancels. */
int cli_progress_cb(void *ud, const spar_progress *pr);

/* ---- output ---- */
/* Write `s` (len bytes) as a JSON string literal, escaping quotes, backslashes and control characters.
 * Invalid UTF-8 bytes are written as U+FFFD so the output is always valid JSON. */
void cli_json_str(FILE *f, const char *s, size_t len);

/* An output written whole or not at all: "-" is stdout; a regular file (or a new name) is written to
 * "<path>.tmp.<pid>" next to it and renamed into place by cli_sink_close(s, 1) (removed by cli_sink_close(s, 0)),
 * so a failed run never leaves a half-written file where a finished one is expected; anything else that exists
 * (/dev/null, a FIFO, a terminal) is written directly, never replaced. A name ending in .gz is gzip-compressed.
 * open / write / close return 0 or -1 (errno set where the C library sets it). */
typedef struct cli_sink {
    FILE *f;
    void *gz;         /* gzFile when compressing */
    int is_stdout;
    char *final_path; /* the name renamed into place; NULL for stdout and for non-regular files */
    char *tmp_path;   /* the name written (the output itself when final_path is NULL) */
} cli_sink;
int cli_sink_open(cli_sink *s, const char *path);
int cli_sink_write(cli_sink *s, const char *buf, size_t n);
int cli_sink_close(cli_sink *s, int ok);

/* Write one TREC run line "qid Q0 docid rank score tag". TREC lines are whitespace-separated, so an id that is
 * empty or contains whitespace cannot be written: returns 4 (exit code of malformed input) after printing
 * "spar <cmd>: ..." naming the id (the line is not written); 3 when the write fails; else 0. */
int cli_trec_line(cli_sink *s, const char *cmd, const char *qid, const char *docid, size_t rank, double score,
                  const char *tag);

double cli_now(void);

#endif
