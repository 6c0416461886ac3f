/* cli_util.c — option parsing, TTY progress, JSON escaping and error reporting for the `spar` CLI.
 * Contract: tools/cli_util.h. Uses only include/spar/. */
#define _POSIX_C_SOURCE 200809L
#include "cli_util.h"
#include "commands.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "spar %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `spar %s --help`)\n", cmd);
    return CLI_USAGE;
}

static int set_value(const char *cmd, const cli_opt *o, const char *val) {
    switch (o->kind) {
    case CLI_STR: *(const char **)o->dst = val; return 0;
    case CLI_STRS: {
        cli_strs *s = o->dst;
        if (s->n == sizeof s->v / sizeof s->v[0]) return cli_usage_error(cmd, "too many --%s", o->name);
        s->v[s->n++] = val;
        return 0;
    }
    case CLI_UINT: {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (errno != 0 || end == val || *end != '\0' || val[0] == '-' || (double)v < o->lo || (double)v > o->hi)
            return cli_usage_error(cmd, "--%s: '%s' is not an integer in [%.0f, %.0f]", o->name, val, o->lo, o->hi);
        *(uint64_t *)o->dst = v;
        return 0;
    }
    case CLI_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double v = strtod(val, &end);
        if (errno != 0 || end == val || *end != '\0' || !isfinite(v) || v < o->lo || v > o->hi)
            return cli_usage_error(cmd, "--%s: '%s' is not a number in [%g, %g]", o->name, val, o->lo, o->hi);
        *(double *)o->dst = v;
        return 0;
    }
    case CLI_FLAG: break;
    }
    return CLI_USAGE;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, size_t n_opts, void (*usage)(FILE *)) {
    const char *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return CLI_HELP;
        }
        if (strncmp(a, "--", 2) != 0) return cli_usage_error(cmd, "unexpected argument '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (size_t k = 0; k < n_opts; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
        if (o == NULL) return cli_usage_error(cmd, "unknown option '--%.*s'", (int)nlen, name);
        if (o->kind == CLI_FLAG) {
            if (eq != NULL) return cli_usage_error(cmd, "--%s takes no value", o->name);
            *(int *)o->dst = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (val == NULL) {
            if (i + 1 >= argc) return cli_usage_error(cmd, "--%s needs a value", o->name);
            val = argv[++i];
        }
        int rc = set_value(cmd, o, val);
        if (rc != 0) return rc;
    }
    return CLI_GO;
}

int cli_fail(const char *cmd, spar_status st, const spar_diag *diag) {
    if (diag != NULL && diag->msg[0] != '\0')
        fprintf(stderr, "spar %s: %s (%s)\n", cmd, diag->msg, spar_status_str(st));
    else
        fprintf(stderr, "spar %s: %s\n", cmd, spar_status_str(st));
    return spar_exit_code(st);
}

static const char *g_log_cmd = "";
static void log_to_stderr(void *ud, spar_log_level level, const char *msg) {
    (void)ud;
    if (level > SPAR_LOG_WARN) return;
    fprintf(stderr, "spar %s: %s: %s\n", g_log_cmd, level == SPAR_LOG_ERROR ? "error" : "warning", msg);
}

void cli_install_log(const char *cmd) {
    g_log_cmd = cmd;
    spar_log_set(log_to_stderr, NULL);
}

/* ---- progress ---- */

void cli_progress_init(cli_progress *p, const char *label, int quiet) {
    memset(p, 0, sizeof *p);
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = cli_now();
    p->label = label;
}

static void fmt_count(char *buf, size_t cap, double v) {
    if (v >= 1e9)
        snprintf(buf, cap, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else
        snprintf(buf, cap, "%.0f", v);
}

void cli_progress_update(cli_progress *p, const char *stage, uint64_t done, uint64_t total, uint64_t items,
                         const char *items_unit, int force) {
    if (!p->enabled) return;
    double now = cli_now();
    if (!force && now - p->last < 1.0 / 6.0) return; /* at most 6 Hz */
    p->last = now;
    double el = now - p->start;
    char n[32], rate[32], eta[32] = "";
    fmt_count(n, sizeof n, (double)items);
    fmt_count(rate, sizeof rate, el > 0 ? (double)items / el : 0);
    if (total > 0 && done > 0 && done <= total && el > 0.5) {
        double left = el * (double)(total - done) / (double)done;
        snprintf(eta, sizeof eta, " ETA %d:%02d", (int)(left / 60), (int)fmod(left, 60));
    }
    char pct[16] = "";
    if (total > 0) snprintf(pct, sizeof pct, " %5.1f%%", 100.0 * (double)done / (double)total);
    fprintf(stderr, "\r\033[K[%s] %s%s %s %s, %s %s/s%s", p->label, stage ? stage : "", pct, n, items_unit, rate,
            items_unit, eta);
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_end(cli_progress *p) {
    if (p->enabled && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = 0;
}

int cli_progress_cb(void *ud, const spar_progress *pr) {
    cli_progress *p = ud;
    const char *unit = "docs";
    cli_progress_update(p, pr->stage, pr->done, pr->total, pr->items, unit, 0);
    return 0;
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left) {
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000;
    else return 0;
    if (left < n) return 0;
    unsigned cp = c & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

void cli_json_str(FILE *f, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    putc('"', f);
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            putc('\\', f);
            putc((int)c, f);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\t': fputs("\\t", f); break;
            case '\r': fputs("\\r", f); break;
            default: fprintf(f, "\\u%04x", c); break;
            }
            i++;
        } else if (c < 0x80) {
            putc((int)c, f);
            i++;
        } else {
            size_t n = utf8_seq(u + i, len - i);
            if (n == 0) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(u + i, 1, n, f);
                i += n;
            }
        }
    }
    putc('"', f);
}

/* ---- whole-or-nothing output files, TREC lines ---- */
static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int cli_sink_open(cli_sink *s, const char *path) {
    memset(s, 0, sizeof *s);
    if (strcmp(path, "-") == 0) {
        s->f = stdout;
        s->is_stdout = 1;
        return 0;
    }
    struct stat sb;
    int direct = stat(path, &sb) == 0 && !S_ISREG(sb.st_mode);
    size_t n = strlen(path) + 32;
    s->tmp_path = malloc(n);
    if (s->tmp_path == NULL) return -1;
    if (direct) {
        snprintf(s->tmp_path, n, "%s", path);
    } else {
        if ((s->final_path = malloc(n)) == NULL) return -1;
        snprintf(s->final_path, n, "%s", path);
        snprintf(s->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    }
    if (has_suffix(path, ".gz")) {
        gzFile gz = gzopen(s->tmp_path, "wb6");
        if (gz == NULL) return -1;
        gzbuffer(gz, 1u << 18);
        s->gz = gz;
    } else {
        s->f = fopen(s->tmp_path, "wb");
        if (s->f == NULL) return -1;
        setvbuf(s->f, NULL, _IOFBF, 1u << 20);
    }
    return 0;
}

int cli_sink_write(cli_sink *s, const char *buf, size_t n) {
    if (n == 0) return 0;
    if (s->gz != NULL) return gzwrite((gzFile)s->gz, buf, (unsigned)n) == (int)n ? 0 : -1;
    return fwrite(buf, 1, n, s->f) == n ? 0 : -1;
}

int cli_sink_close(cli_sink *s, int ok) {
    int rc = 0;
    if (s->gz != NULL) {
        if (gzclose((gzFile)s->gz) != Z_OK) rc = -1;
    } else if (s->f != NULL && !s->is_stdout) {
        if (fclose(s->f) != 0) rc = -1;
    } else if (s->is_stdout) {
        if (fflush(stdout) != 0) rc = -1;
    }
    if (s->final_path != NULL && (s->gz != NULL || s->f != NULL)) { /* written to a temporary sibling */
        if (ok && rc == 0 && rename(s->tmp_path, s->final_path) != 0) rc = -1;
        if (!ok || rc != 0) remove(s->tmp_path);
    }
    free(s->final_path);
    free(s->tmp_path);
    memset(s, 0, sizeof *s);
    return rc;
}

static int trec_id_ok(const char *s) {
    if (*s == '\0') return 0;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f') return 0;
    return 1;
}

int cli_trec_line(cli_sink *s, const char *cmd, const char *qid, const char *docid, size_t rank, double score,
                  const char *tag) {
    const char *bad = !trec_id_ok(qid) ? "query id" : !trec_id_ok(docid) ? "document id" : NULL;
    if (bad != NULL) {
        fprintf(stderr, "spar %s: %s \"%s\" is empty or contains whitespace, which a TREC run line "
                        "(\"qid Q0 docid rank score tag\") cannot carry; no run was written\n",
                cmd, bad, bad[0] == 'q' ? qid : docid);
        return 4;
    }
    if (s->gz == NULL) return fprintf(s->f, "%s Q0 %s %zu %.6f %s\n", qid, docid, rank, score, tag) < 0 ? 3 : 0;
    char line[4096];
    int n = snprintf(line, sizeof line, "%s Q0 %s %zu %.6f %s\n", qid, docid, rank, score, tag);
    if (n < 0 || (size_t)n >= sizeof line) return 3;
    return cli_sink_write(s, line, (size_t)n) == 0 ? 0 : 3;
}
