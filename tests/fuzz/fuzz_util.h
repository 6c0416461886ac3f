/* tests/fuzz/fuzz_util.h — helpers shared by the libFuzzer targets whose reader only takes a path: the input
 * is written to an anonymous in-memory file (memfd) and the reader is given "/proc/self/fd/N", so no file is
 * left behind and nothing touches the disk. Define _GNU_SOURCE before any #include. Header-only (tests/CMakeLists.txt globs fuzz_*.c, not this). */
#ifndef SPAR_TESTS_FUZZ_UTIL_H
#define SPAR_TESTS_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before the first #include (memfd_create)"
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(x)                                                                                        \
    do {                                                                                                     \
        if (!(x)) {                                                                                          \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #x);                   \
            __builtin_trap();                                                                                \
        }                                                                                                    \
    } while (0)

/* A memfd holding data[0..size); *fd gets it (close it when done), path gets "/proc/self/fd/N". */
static inline void fuzz_memfile(const uint8_t *data, size_t size, int *fd, char path[64]) {
    int f = memfd_create("spar-fuzz", MFD_CLOEXEC);
    FUZZ_CHECK(f >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(f, data + off, size - off);
        FUZZ_CHECK(w > 0);
        off += (size_t)w;
    }
    *fd = f;
    snprintf(path, 64, "/proc/self/fd/%d", f);
}

#endif
