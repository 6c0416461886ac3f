/* status.c — status strings, diagnostics, logging hook, assertions and small allocation helpers.
 * Contract: common/common.h and include/spar/spar_status.h. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/common.h"
#include "spar/spar.h"

const char *spar_status_str(spar_status st) {
    switch (st) {
    case SPAR_OK: return "ok";
    case SPAR_E_INVALID_ARG: return "invalid argument";
    case SPAR_E_NOMEM: return "out of memory";
    case SPAR_E_IO: return "I/O error";
    case SPAR_E_CORRUPT: return "corrupt or malformed input";
    case SPAR_E_VERSION: return "unsupported format version";
    case SPAR_E_NOT_FOUND: return "not found";
    case SPAR_E_CANCELLED: return "cancelled";
    case SPAR_E_STORAGE: return "storage engine error";
    case SPAR_E_EXISTS: return "already exists";
    case SPAR_E_UNSUPPORTED: return "unsupported";
    case SPAR_E_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void spar_diag_set(spar_diag *diag, const char *fmt, ...) {
    if (diag == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
    va_end(ap);
}

spar_status spar_diag_err(spar_diag *diag, spar_status st, const char *fmt, ...) {
    if (diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

static spar_log_fn g_log_fn;
static void *g_log_ud;

void spar_log_set(spar_log_fn fn, void *ud) {
    g_log_fn = fn;
    g_log_ud = ud;
}

void spar_log(spar_log_level level, const char *fmt, ...) {
    if (g_log_fn == NULL) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(g_log_ud, level, buf);
}

void spar_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "spar: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

void *spar_malloc_array(size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    return malloc((n * size) != 0 ? n * size : 1);
}

void *spar_realloc_array(void *p, size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) return NULL;
    return realloc(p, (n * size) != 0 ? n * size : 1);
}

double spar_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

unsigned spar_version_number(void) { return SPAR_VERSION_NUMBER; }
const char *spar_version_string(void) { return SPAR_VERSION_STRING; }
