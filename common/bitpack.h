/* common/bitpack.h — frame-of-reference bit packing of uint32 blocks, the codec under index/postings.c.
 *
 * Two layouts (see docs/format/postings.md):
 *  - full blocks of 128 values: "vertical" 4-lane layout (value i sits in lane i%4 at slot i/4; each lane
 *    packs its 32 values LSB-first into 32-bit words, word j of lane l is u32 #(4*j+l)). 128 values of
 *    width w take exactly 16*w bytes, and unpacking is four independent lanes: SIMD-friendly.
 *  - short blocks (n < 128): "horizontal" layout, values LSB-first in consecutive 32-bit words,
 *    4*ceil(n*w/32) bytes.
 * All words are little-endian. Leaf module: no project includes beyond <stdint.h>. */
#ifndef SPAR_COMMON_BITPACK_H
#define SPAR_COMMON_BITPACK_H

#include <stddef.h>
#include <stdint.h>

#define SPAR_BITPACK_BLOCK 128

/* Bits needed for the largest of v[0..n) (0 when all are zero). */
unsigned spar_bitpack_width(const uint32_t *v, uint32_t n);
/* Packed size in bytes of n values of width bw: n == 128 uses the vertical layout, else horizontal. */
static inline size_t spar_bitpack_bytes(uint32_t n, unsigned bw) {
    return n == SPAR_BITPACK_BLOCK ? (size_t)16 * bw : (size_t)4 * (((uint64_t)n * bw + 31) / 32);
}

/* Vertical layout, exactly 128 values; writes 16*bw bytes. Values must fit in bw bits. */
void spar_bitpack_pack128(const uint32_t *in, unsigned bw, uint8_t *out);
/* Unpack 16*bw bytes into 128 values. Dispatches to the fastest kernel for this CPU (SSE2/AVX2 when built
 * for x86-64, else portable scalar); all kernels give identical results. in need not be aligned. */
void spar_bitpack_unpack128(const uint8_t *in, unsigned bw, uint32_t *out);
/* The individual kernels, for tests and benchmarks: each falls back to the scalar one where the build or
 * the CPU lacks it. spar_bitpack_has_avx2() tells whether the AVX2 kernel really runs. */
void spar_bitpack_unpack128_avx2(const uint8_t *in, unsigned bw, uint32_t *out);
void spar_bitpack_unpack128_sse2(const uint8_t *in, unsigned bw, uint32_t *out);
int spar_bitpack_has_avx2(void);
/* Portable unrolled kernel (what non-x86 builds dispatch to). */
void spar_bitpack_unpack128_scalar(const uint8_t *in, unsigned bw, uint32_t *out);
/* Reference kernel (portable, bit by bit): used by tests to check the fast kernels. */
void spar_bitpack_unpack128_ref(const uint8_t *in, unsigned bw, uint32_t *out);
/* Name of the kernel spar_bitpack_unpack128 uses: "scalar", "sse2" or "avx2". */
const char *spar_bitpack_kernel(void);

/* Horizontal layout, any n; returns bytes written (spar_bitpack_bytes(n, bw) for n != 128). */
size_t spar_bitpack_pack(const uint32_t *in, uint32_t n, unsigned bw, uint8_t *out);
void spar_bitpack_unpack(const uint8_t *in, uint32_t n, unsigned bw, uint32_t *out);

/* In-place d-gap decoding: v[i] = v[i-1] + 1 + g[i], with v[-1] = base - 1 (so v[0] = base + g[0]).
 * Arithmetic is modulo 2^32. */
void spar_delta1_decode(uint32_t *v, uint32_t n, uint32_t base);
/* Same, n == 128, vectorised when possible. */
void spar_delta1_decode128(uint32_t *v, uint32_t base);

#endif
