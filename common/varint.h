/* common/varint.h — LEB128 varints (7 bits per byte, low first), used by the segment dictionary and the
 * builder's spill runs. Leaf header: no project dependencies. */
#ifndef SPAR_COMMON_VARINT_H
#define SPAR_COMMON_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define SPAR_VARINT_MAX 10 /* bytes of the longest encoding of a uint64_t */

/* Write v at p (room for SPAR_VARINT_MAX bytes); returns the bytes written. */
static inline size_t spar_varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Bounds-checked read of buf[*pos..len): 1 and *pos advanced on success; 0 on truncation or an encoding
 * that overflows 64 bits (untrusted input never reads past len). */
static inline int spar_varint_get(const uint8_t *buf, uint64_t len, uint64_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return 0;
        uint8_t b = buf[(*pos)++];
        if (shift == 63 && b > 1) return 0;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

#endif
