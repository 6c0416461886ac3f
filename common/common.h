/* common.h — internal helpers shared by every module: error forwarding, diagnostics, assertions, logging.
 * Contract for all other modules; public error types live in include/spar/spar_status.h. */
#ifndef SPAR_COMMON_H
#define SPAR_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "spar/spar_status.h"

#define SPAR_TRY(expr)                                                                                       \
    do {                                                                                                     \
        spar_status st_ = (expr);                                                                            \
        if (st_ != SPAR_OK) return st_;                                                                      \
    } while (0)
#define SPAR_TRY_GOTO(st, expr, label)                                                                       \
    do {                                                                                                     \
        if (((st) = (expr)) != SPAR_OK) goto label;                                                          \
    } while (0)

/* Programmer errors abort with file:line (never used for bad input: that returns SPAR_E_CORRUPT). */
void spar_assert_fail(const char *expr, const char *file, int line);
#ifdef NDEBUG
#define SPAR_ASSERT(x) ((void)0)
#else
#define SPAR_ASSERT(x) ((x) ? (void)0 : spar_assert_fail(#x, __FILE__, __LINE__))
#endif
/* Defensive checks that "cannot" fire (SQLite NEVER): true if the impossible happened. */
#define SPAR_NEVER(x) (x)

#define SPAR_LIKELY(x) __builtin_expect(!!(x), 1)
#define SPAR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SPAR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SPAR_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Write a formatted message into diag (NULL ok). Returns nothing; use with a status return. */
void spar_diag_set(spar_diag *diag, const char *fmt, ...) SPAR_PRINTF(2, 3);
/* Set diag and return st, for one-line error exits: return spar_diag_err(diag, SPAR_E_IO, "open %s", p); */
spar_status spar_diag_err(spar_diag *diag, spar_status st, const char *fmt, ...) SPAR_PRINTF(3, 4);

void spar_log(spar_log_level level, const char *fmt, ...) SPAR_PRINTF(2, 3);

/* Overflow-checked allocation helpers: NULL on overflow or OOM. */
void *spar_malloc_array(size_t n, size_t size);
void *spar_realloc_array(void *p, size_t n, size_t size);

/* Monotonic clock, seconds. */
double spar_now(void);

#endif
