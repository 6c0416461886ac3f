/* ann/kernels.h — distance kernels for ann/: squared L2, dot product, Hamming.
 * Each kernel has a portable scalar twin; x86 AVX2/FMA/POPCNT versions are compiled per function with
 * target attributes and picked once at first use (cpuid), so the library still runs on older CPUs.
 * tests/unit/test_ann_kernels.c checks every SIMD kernel against its scalar twin. */
#ifndef SPAR_ANN_KERNELS_H
#define SPAR_ANN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef float (*spar_f32_dist_fn)(const float *a, const float *b, size_t d);
typedef uint32_t (*spar_hamming_fn)(const uint64_t *a, const uint64_t *b, size_t n_words);

/* out[i] = Hamming(q, codes + i * n_words) for i < n */
typedef void (*spar_hamming_scan_fn)(const uint64_t *q, const uint64_t *codes, size_t n, size_t n_words,
                                     uint32_t *out);

/* Scan with a running threshold: writes (index, distance) of codes with distance < *thresh into idx/dist and
 * returns their count; stops early when `cap` entries are written (caller then tightens *thresh and calls
 * again from the returned position *next). Fused so the common case (nothing passes) is one tight loop. */
typedef size_t (*spar_hamming_below_fn)(const uint64_t *q, const uint64_t *codes, size_t n, size_t n_words,
                                        uint32_t thresh, uint32_t *idx, uint32_t *dist, size_t cap, size_t *next);

typedef struct spar_ann_kernels {
    spar_f32_dist_fn l2sq;  /* sum (a-b)^2 */
    spar_f32_dist_fn dot;   /* sum a*b */
    spar_hamming_fn hamming;
    spar_hamming_scan_fn hamming_scan;
    spar_hamming_below_fn hamming_below;
    const char *name;       /* "scalar" or "avx2" */
} spar_ann_kernels;

/* The best kernels this CPU supports (thread-safe, computed once). SPAR_ANN_KERNELS=scalar forces scalar. */
const spar_ann_kernels *spar_ann_kernels_get(void);
const spar_ann_kernels *spar_ann_kernels_scalar(void);
/* NULL when the CPU lacks AVX2+FMA+POPCNT. */
const spar_ann_kernels *spar_ann_kernels_avx2(void);

#endif
