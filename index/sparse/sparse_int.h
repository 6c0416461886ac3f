/* sparse_int.h — private layout of spar_sparse_index shared by the files of index/sparse/ (build, search,
 * approximate build, save/load). Not a contract for other modules: they use include/spar/spar_sparse.h. */
#ifndef SPAR_INDEX_SPARSE_INT_H
#define SPAR_INDEX_SPARSE_INT_H

#include <stdint.h>

#include "spar/spar_sparse.h"

/* Weights (documents and queries) are limited so that no dot product of <= 65536 terms overflows float. */
#define SPAR_SPARSE_MAX_WEIGHT 1e15f
/* Postings per skip block of a posting list (MaxScore, BMW). */
#define SPAR_SPARSE_PB 64u
/* A term keeps its block maxima as a dense u8 row when it occurs in >= 1 / SPAR_SPARSE_DENSE_DIV of blocks. */
#ifndef SPAR_SPARSE_DENSE_DIV
#define SPAR_SPARSE_DENSE_DIV 4u
#endif

struct spar_sparse_index {
    uint32_t n_docs, dim;
    uint64_t nnz;
    uint32_t bmp_block, n_blocks;
    spar_sparse_build_opts opts;
    /* internal docid i is the caller's docid ext[i] (docs are reordered by clustering so that docid blocks
     * are topically tight); results always carry caller docids */
    uint32_t *ext;
    /* forward index: doc d's terms are f_ids/f_w[f_off[d] .. f_off[d+1]), ids ascending */
    uint64_t *f_off;
    uint16_t *f_ids;
    float *f_w;
    /* inverted index, docid ascending per term: [p_off[t], p_off[t+1]) */
    uint64_t *p_off;
    uint32_t *p_doc;
    float *p_w;
    /* block maxima per term: blocks bm_blk[bm_off[t]..] with bound bm_q * bm_step[t] >= true block max */
    uint64_t *bm_off;
    uint32_t *bm_blk;
    uint8_t *bm_q;
    float *bm_step;
    /* terms present in >= 1/4 of the blocks keep their bounds as a dense u8 row of n_blocks instead
     * (bm_dense + bm_row[t] * n_blocks; bm_row[t] = UINT32_MAX for list terms): contiguous, vectorizable */
    uint32_t *bm_row;
    uint8_t *bm_dense;
    uint32_t n_dense;
    /* skip blocks of SPAR_SPARSE_PB postings: term t's blocks pb_last/pb_q[pb_off[t]..]: last docid, max
     * weight as u8 in units of bm_step[t] rounded up */
    uint64_t *pb_off;
    uint32_t *pb_last;
    uint8_t *pb_q;
    /* 8-bit weights (opts.weight_bits == 8): term t's weight w is stored as code = round(w / bm_step[t]),
     * bm_step[t] = max_t / 255, in f_q (forward) and p_q (postings; p_w is then NULL). f_w keeps the float
     * input (save/export). Scores are sum of (q_t * bm_step[t]) * code over matching t ascending. */
    int quant;
    uint8_t *f_q, *p_q;
    /* approximate (Seismic): term t owns blocks [a_toff[t], a_toff[t+1]); block b owns docs
     * a_docs[a_boff[b]..a_boff[b+1]) and summary a_sterm/a_sval[a_soff[b]..a_soff[b+1]) scaled by a_sscale[b] */
    int has_approx;
    uint64_t n_ablocks, n_apost, n_asum;
    uint64_t *a_toff;
    uint64_t *a_boff;
    uint32_t *a_docs;
    uint64_t *a_soff;
    uint16_t *a_sterm;
    uint8_t *a_sval;
    float *a_sscale;
    /* spar_sparse_index_load_mapped: the a_* arrays are read-only views into this map (a spar_mapped_file *),
     * released with it; NULL when they are owned heap arrays */
    void *a_map;
    double build_s, abuild_s;
    /* a format-2 file opened by sparse_io.c (spar_sparse_index_load*): its read-only map (a spar_mapped_file *);
     * every array listed in sparse_io.c's section table is then a view into it, detached and unmapped by
     * spar_sparse_io_release (called first by spar_sparse_index_free). NULL when the arrays are heap blocks. */
    void *map;
};

spar_status spar_sparse_build_derived(spar_sparse_index *ix);
/* sparse_io.c: open a saved index as read-only views into a map of the file (format 1: copied and rebuilt).
 * check_values: also check every element (the payload checksum is not checked: the caller hashed the file). */
spar_status spar_sparse_index_open_view(const char *path, int check_values, spar_sparse_index **out, spar_diag *diag);
/* sparse_io.c: if ix->map, detach the views and unmap (the arrays are then NULL); else nothing. */
void spar_sparse_io_release(spar_sparse_index *ix);
spar_status spar_sparse_build_approx(spar_sparse_index *ix, const spar_sparse_build_opts *o);
/* Approximate (Seismic) traversal, index/sparse/sparse_approx.c. qd: the dense query (dim floats, filled);
 * visited: an all-zero n_docs-bit set (left all-zero), vlist: n_docs scratch, qorder: q->n scratch; heap: k
 * slots holding *heap_n hits, root = worst (score asc, then docid desc). Returns the docs visited. */
typedef struct spar_sparse_approx_ctx {
    const float *qd;
    uint64_t *visited;
    uint32_t *vlist, *qorder;
    spar_hit *heap;
    uint32_t *heap_n;
    uint32_t k;
} spar_sparse_approx_ctx;
/* Free (or unmap, see a_map) the approximate arrays; called by spar_sparse_index_free. */
void spar_sparse_approx_release(spar_sparse_index *ix);
uint64_t spar_sparse_approx_search(const spar_sparse_index *ix, const spar_sparse_vec *q,
                                   const spar_sparse_approx_params *p, spar_sparse_approx_ctx *c);
/* Unit-length 32-dim signed count-sketches of n vectors (rows of a forward index or views). */
#define SPAR_SPARSE_SK 32
void spar_sparse_sketch(const uint32_t *ids, const uint16_t *ids16, const float *w, uint64_t n, float *out);
/* Docs ordered by (cluster, subcluster) of a two-level clustering into ~n/leaf clusters. */
spar_status spar_sparse_cluster_order(const float *sketch, uint32_t n, uint32_t leaf, uint64_t seed, uint32_t *order);
/* Docid order by recursive graph bisection (sparse_bp.c): order[i] = the doc placed at position i, refined
 * from the order it holds on entry (a permutation of 0..n-1, e.g. the identity); splits fall on multiples
 * of leaf; only each doc's top_terms heaviest terms count (0 = all); max_iter exchange rounds per split.
 * Deterministic, independent of n_threads. */
spar_status spar_sparse_bp_order(const spar_sparse_vec *docs, uint32_t n, uint32_t dim, uint32_t leaf,
                                 uint32_t top_terms, uint32_t max_iter, uint32_t n_threads, uint32_t *order);
/* Assign n items (sketch rows rows[i]) to ~c clusters (centroids picked among them, two levels when c is
 * large); assign[i] is the cluster number, < c + sqrt(c). */
spar_status spar_sparse_assign(const float *sketch, const uint32_t *rows, uint32_t n, uint32_t c, uint64_t seed,
                               uint32_t *assign);

#endif
