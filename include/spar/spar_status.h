/* spar_status.h — the one error model used by every spar function.
 *
 * Every fallible function returns a spar_status. Calls that touch files or untrusted input also take an
 * optional spar_diag* that receives one human-readable line naming the file and the line / byte offset.
 * Codes are appended, never renumbered. There is no global last-error. */
#ifndef SPAR_STATUS_H
#define SPAR_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SPAR_API __attribute__((visibility("default")))
#define SPAR_NODISCARD __attribute__((warn_unused_result))
#define SPAR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SPAR_API
#define SPAR_NODISCARD
#define SPAR_PRINTF(f, a)
#endif

typedef enum spar_status {
    SPAR_OK = 0,
    SPAR_E_INVALID_ARG = -1, /* caller bug: bad parameter */
    SPAR_E_NOMEM = -2,
    SPAR_E_IO = -3,          /* OS-level failure; diag carries strerror(errno) */
    SPAR_E_CORRUPT = -4,     /* malformed input: magic/checksum/bounds check failed, bad JSON, bad UTF-8 ... */
    SPAR_E_VERSION = -5,     /* file format newer than this library */
    SPAR_E_NOT_FOUND = -6,   /* also: end of stream for iterators */
    SPAR_E_CANCELLED = -7,   /* a progress callback returned non-zero */
    SPAR_E_STORAGE = -8,     /* LMDB/RocksDB failure; diag carries their text */
    SPAR_E_EXISTS = -9,      /* output already exists and overwriting was not asked for */
    SPAR_E_UNSUPPORTED = -10,/* valid request this build or this index cannot serve */
    SPAR_E_INTERNAL = -99    /* a bug in spar */
} spar_status;

/** Static, never NULL: "ok", "invalid argument", ... */
SPAR_API const char *spar_status_str(spar_status st);

/** Caller-owned diagnostics: one NUL-terminated line, empty when nothing was said. */
typedef struct spar_diag {
    char msg[512];
} spar_diag;

/** Progress of a long call. `done`/`total` count `unit`s (total 0 = unknown); `items` counts documents
 *  (or vectors, queries) processed so far. */
typedef struct spar_progress {
    const char *stage; /* "read", "invert", "merge", "write", "search", ... */
    const char *unit;  /* "bytes" or "docs" ... */
    uint64_t done;
    uint64_t total;
    uint64_t items;
} spar_progress;

/** Called from one thread, at most every ~100 ms. Return non-zero to cancel (the call then returns
 *  SPAR_E_CANCELLED and leaves no partial output). */
typedef int (*spar_progress_fn)(void *ud, const spar_progress *p);

/** Library log hook. The library never writes to stdout/stderr itself; default is silent. */
typedef enum spar_log_level { SPAR_LOG_ERROR = 0, SPAR_LOG_WARN = 1, SPAR_LOG_INFO = 2, SPAR_LOG_DEBUG = 3 } spar_log_level;
typedef void (*spar_log_fn)(void *ud, spar_log_level level, const char *msg);
/** Install (or with fn NULL remove) the process-wide log sink. Not thread-safe against concurrent logging. */
SPAR_API void spar_log_set(spar_log_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
