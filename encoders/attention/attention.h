/* attention.h — scaled dot-product attention for the encoder: a dense reference, a block-sparse kernel and
 * three block-selection policies (internal contract of encoders/attention/, not public API).
 *
 * Layout: Q, K, V and O are row-major [seq_len x ld] float matrices; head h occupies columns
 * [h*d_head, (h+1)*d_head) (the layout a fused QKV projection produces). Keys marked 0 in key_valid (padding)
 * receive no attention; every query row, padded or not, gets softmax over the valid keys it is allowed to
 * see. A query row that sees no valid key gets an all-zero output.
 *
 * The block-sparse kernel tiles the sequence into blocks of SPAR_ATTN_BLOCK tokens (the last may be short)
 * and, for each (head, query block), runs an online ("flash") softmax over the key blocks listed in a block
 * mask: running max and sum per query row, rescaled accumulator, so no T x T matrix ever exists.
 *
 * Threading: functions parallelise internally with OpenMP over (head, query block) when n_threads != 1; they
 * are re-entrant (no global state but the
 * spar_attn_force_scalar test switch) and may be called from several threads with distinct outputs. */
#ifndef SPAR_ENCODERS_ATTENTION_H
#define SPAR_ENCODERS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "spar/spar_status.h"

#define SPAR_ATTN_BLOCK 64u

/* One attention problem: all heads of one sequence. */
typedef struct spar_attn_args {
    const float *q, *k, *v;   /* [seq_len x ld_*], head h at column h*d_head */
    size_t ld_q, ld_k, ld_v;  /* row strides in floats (>= n_heads*d_head) */
    uint32_t seq_len;         /* T >= 1 */
    uint32_t n_heads;         /* >= 1 */
    uint32_t d_head;          /* >= 1; the AVX2 kernel needs d_head % 16 == 0, else the scalar path runs */
    const uint8_t *key_valid; /* [seq_len], 1 = real token, 0 = padding; NULL = all valid */
    float scale;              /* 0 = 1/sqrt(d_head) */
    int n_threads;            /* OpenMP threads; 0 = the OpenMP default */
    uint32_t window;          /* 0 = none; else query i sees key j only if |i - j| <= window (token-level
                                 sliding window, e.g. ModernBERT local layers: 64). Applied exactly by the
                                 dense and block-sparse kernels (inside boundary blocks too) and by
                                 spar_attn_captured_mass; key blocks wholly outside the window are skipped. */
} spar_attn_args;

/* Block mask in CSR layout. Rows are (head, query block) pairs, head-major: row h*n_qblocks + i lists the key
 * blocks query block i of head h attends to, strictly ascending. n_heads == 1 means one mask shared by all
 * heads. Owned by the caller; spar_attn_mask_free releases what the policies allocate. */
typedef struct spar_attn_mask {
    uint32_t n_heads;  /* 1 (shared) or args.n_heads */
    uint32_t n_blocks; /* ceil(T / SPAR_ATTN_BLOCK), same for query and key blocks */
    uint32_t *row_ptr; /* [n_heads*n_blocks + 1] */
    uint32_t *col;     /* [row_ptr[n_heads*n_blocks]] key block ids */
} spar_attn_mask;

void spar_attn_mask_free(spar_attn_mask *m); /* frees arrays, zeroes *m; NULL ok */
/* All-ones mask (every query block sees every key block), n_heads = 1. */
spar_status spar_attn_mask_full(uint32_t seq_len, spar_attn_mask *out);
/* Checks shape, bounds and strict ordering of each row; SPAR_E_INVALID_ARG if any fails. */
spar_status spar_attn_mask_check(const spar_attn_mask *m, const spar_attn_args *a);
/* Fraction of (head, query block, key block) pairs kept, over n_heads_eff = a->n_heads heads. */
double spar_attn_mask_density(const spar_attn_mask *m, uint32_t n_heads);

/* Dense reference: O = softmax(Q K^T * scale + padding mask) V for all heads, using OpenBLAS SGEMM on chunks
 * of 128 query rows (the scores of one chunk x T exist at once, per thread) and a two-pass softmax. Chunks of
 * all heads are spread over n_threads OpenMP threads, each calling SGEMM; run OpenBLAS single-threaded
 * (openblas_set_num_threads(1)) around it, or its own threads oversubscribe the cores. ld_o >=
 * n_heads*d_head. */
spar_status spar_attn_dense(const spar_attn_args *a, float *o, size_t ld_o);

/* Block-sparse attention over the blocks listed in m (see the file comment). Picks the AVX2+FMA inner loops
 * when the CPU has them and d_head % 16 == 0, else the scalar twins. */
spar_status spar_attn_block_sparse(const spar_attn_args *a, const spar_attn_mask *m, float *o, size_t ld_o);

/* Kernel selection, for tests and benchmarks: force the scalar inner loops (1) or auto-detect (0). A
 * process-wide switch (the one global in this module): do not flip it while another thread runs attention. */
void spar_attn_force_scalar(int on);

/* Captured attention mass of a mask, computed exactly from the dense softmax (O(T^2 d) per head): for each
 * head, the mean over query rows of the softmax mass falling inside the kept blocks. Query rows are all rows
 * (padded rows included only if some key is valid). Heads [0, n_heads_eval) are evaluated.
 * per_head (optional, [n_heads_eval]) receives each head's mean; *mean is the mean over heads, *min_head the
 * smallest head mean and *min_row the smallest single-row mass. */
spar_status spar_attn_captured_mass(const spar_attn_args *a, const spar_attn_mask *m, uint32_t n_heads_eval,
                                    double *per_head, double *mean, double *min_head, double *min_row);

/* ---- block-selection policies ------------------------------------------------------------------------- */

typedef enum spar_attn_policy_kind {
    SPAR_ATTN_DENSE = 0,         /* always dense */
    SPAR_ATTN_LOCAL_GLOBAL = 1,  /* static: |i-j| <= window blocks, plus n_global global blocks */
    SPAR_ATTN_QUERY_AWARE = 2,   /* pooled Q.K block scores, keep blocks until cumulative mass >= tau */
    SPAR_ATTN_VERTICAL_SLASH = 3 /* sampled queries -> key columns + diagonals (two-sided), mass >= tau */
} spar_attn_policy_kind;

typedef struct spar_attn_policy {
    spar_attn_policy_kind kind;
    uint32_t min_len;    /* sequences with fewer valid tokens than this use dense attention */
    uint32_t n_global;   /* blocks [0, n_global) are global: attend everywhere and are attended by all */
    uint32_t window;     /* LOCAL_GLOBAL: key blocks j with |i-j| <= window */
    float tau;           /* QUERY_AWARE, VERTICAL_SLASH: estimated cumulative mass to keep, in (0, 1] */
    uint32_t min_blocks; /* QUERY_AWARE: at least this many key blocks per query block (incl. forced ones) */
    uint32_t max_blocks; /* QUERY_AWARE: at most this many selected beyond the forced ones; 0 = no cap */
    uint32_t n_sample;   /* VERTICAL_SLASH: sampled query rows per head (strided over the valid tokens) */
    uint32_t q_per_block; /* QUERY_AWARE: representative query rows per query block whose exact softmax over
                             all keys gives the block-mass estimate (default 2); 0 = the older estimator that
                             mean-pools the block's queries (flat under RoPE, keeps too many blocks) */
} spar_attn_policy;

/* Defaults for a kind: min_len 1024, n_global 1, window 2, tau 0.97, min_blocks 4, max_blocks 0, n_sample 64,
 * q_per_block 2.
 * tau is compared with an estimate (pooled or sampled) that tends to run a little above the true captured
 * mass, hence 0.97 for a 0.95 target. */
void spar_attn_policy_default(spar_attn_policy *p, spar_attn_policy_kind kind);
const char *spar_attn_policy_name(spar_attn_policy_kind kind); /* static string */

/* Build the block mask a policy chooses for this input (selection cost is in this call). Every row always
 * contains its diagonal block and the global blocks; global query blocks list every block. LOCAL_GLOBAL
 * produces a shared mask (n_heads = 1); the dynamic policies one row set per head. DENSE gives the full mask.
 * Blocks made only of padding are dropped unless forced. Release with spar_attn_mask_free. */
spar_status spar_attn_select(const spar_attn_policy *p, const spar_attn_args *a, spar_attn_mask *out);

/* One attention layer under a policy: dense (spar_attn_dense) when the number of valid tokens is below
 * p->min_len or the kind is DENSE, else select + block-sparse. p NULL = dense. *used_sparse (optional) says
 * which path ran; *density (optional) the kept block fraction (1 for dense). Per-model, per-layer choice is
 * an array of policies indexed by layer, owned by the caller. */
spar_status spar_attn_forward(const spar_attn_policy *p, const spar_attn_args *a, float *o, size_t ld_o,
                              int *used_sparse, double *density);

#endif
