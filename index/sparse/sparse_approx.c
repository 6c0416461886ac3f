/* sparse_approx.c — build of the Seismic-class approximate index. For each term: keep the n_postings
 * heaviest postings (static pruning), cluster them into ceil(block_fraction * n) blocks (random centroid
 * documents, assignment by dot product in a 32-dim signed count-sketch of the forward vectors, which
 * preserves dot products in expectation), and give each block a summary: the coordinate-wise max of its
 * documents, cut to the heaviest terms covering summary_energy of its L1 mass, quantized to u8 with one
 * float scale per block. Terms are built in parallel (OpenMP); the result does not depend on thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#include "common/common.h"
#include "index/sparse/sparse_int.h"
#include "storage/file.h"

#define SK SPAR_SPARSE_SK

typedef struct term_out {
    uint32_t nb, nd, ns;
    uint32_t *blen; /* docs per block */
    uint32_t *slen; /* summary entries per block */
    uint32_t *docs;
    uint16_t *sterm;
    uint8_t *sval;
    float *sscale;
} term_out;

typedef struct wd {
    float w;
    uint32_t d;
} wd;
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}
static inline int wd_before(const wd *x, const wd *y) { return x->w > y->w || (x->w == y->w && x->d < y->d); }

/* Partial sort: the m first of a[0..n) by (weight desc, docid asc) end up in a[0..m) (any order), expected
 * O(n) (quickselect with a median-of-three pivot) instead of sorting whole frequent-term lists. */
static void select_top(wd *a, uint32_t n, uint32_t m) {
    uint32_t lo = 0, hi = n;
    while (m > lo && m < hi) {
        if (hi - lo <= 16) { /* insertion sort; also keeps the partition below on >= 3 distinct entries */
            for (uint32_t i = lo + 1; i < hi; i++) {
                wd x = a[i];
                uint32_t j = i;
                for (; j > lo && wd_before(&x, &a[j - 1]); j--) a[j] = a[j - 1];
                a[j] = x;
            }
            return;
        }
        /* docids are distinct, so the median of three is neither extreme: both sides are non-empty */
        uint32_t mid = lo + (hi - lo) / 2;
        wd x = a[lo], y = a[mid], z = a[hi - 1], piv;
        if (wd_before(&x, &y)) piv = wd_before(&y, &z) ? y : (wd_before(&x, &z) ? z : x);
        else piv = wd_before(&x, &z) ? x : (wd_before(&y, &z) ? z : y);
        uint32_t i = lo, j = hi - 1;
        for (;;) { /* Hoare partition: [lo, j] before-or-equal, [j+1, hi) after-or-equal */
            while (wd_before(&a[i], &piv)) i++;
            while (wd_before(&piv, &a[j])) j--;
            if (i >= j) break;
            wd t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        if (m <= j + 1) hi = j + 1;
        else lo = j + 1;
    }
}

/* Sort n (term, level) summary entries by term: two 8-bit counting passes (terms < 65536). */
typedef struct tl {
    uint16_t t;
    uint8_t l;
} tl;
static void sort_terms(tl *a, tl *tmp, uint32_t n) {
    uint32_t cnt[257];
    for (int pass = 0; pass < 2; pass++) {
        const int sh = pass * 8;
        tl *src = pass ? tmp : a, *dst = pass ? a : tmp;
        memset(cnt, 0, sizeof cnt);
        for (uint32_t i = 0; i < n; i++) cnt[((src[i].t >> sh) & 255) + 1]++;
        for (int j = 0; j < 256; j++) cnt[j + 1] += cnt[j];
        for (uint32_t i = 0; i < n; i++) dst[cnt[(src[i].t >> sh) & 255]++] = src[i];
    }
}

typedef struct scratch {
    wd *pairs;
    uint32_t *cent, *assign, *cnt, *pos, *docs;
    float *dense;
    tl *keep, *tmp;
    uint32_t *touched;
} scratch;

static void term_out_free(term_out *o) {
    free(o->blen);
    free(o->slen);
    free(o->docs);
    free(o->sterm);
    free(o->sval);
    free(o->sscale);
    memset(o, 0, sizeof *o);
}

static spar_status build_term(const spar_sparse_index *ix, const spar_sparse_build_opts *opt, const float *sketch,
                              uint32_t t, scratch *sc, term_out *o) {
    uint64_t p0 = ix->p_off[t], n = ix->p_off[t + 1] - p0;
    memset(o, 0, sizeof *o);
    if (n == 0) return SPAR_OK;
    for (uint64_t i = 0; i < n; i++) {
        sc->pairs[i].w = ix->p_w[p0 + i];
        sc->pairs[i].d = ix->p_doc[p0 + i];
    }
    uint32_t nk = (uint32_t)n;
    if (n > opt->n_postings) {
        select_top(sc->pairs, (uint32_t)n, opt->n_postings);
        nk = opt->n_postings;
    }
    uint32_t c = (uint32_t)ceil((double)opt->block_fraction * nk);
    c = SPAR_MAX(1u, SPAR_MIN(c, nk));
    for (uint32_t i = 0; i < nk; i++) sc->cent[i] = sc->pairs[i].d;
    if (spar_sparse_assign(sketch, sc->cent, nk, c, opt->seed ^ ((uint64_t)t * 0xd1b54a32d192ed03ull), sc->assign) != SPAR_OK)
        return SPAR_E_NOMEM;
    uint32_t mx = 0;
    for (uint32_t i = 0; i < nk; i++) mx = SPAR_MAX(mx, sc->assign[i]);
    c = mx + 1;
    memset(sc->cnt, 0, ((size_t)c + 1) * sizeof *sc->cnt);
    for (uint32_t i = 0; i < nk; i++) sc->cnt[sc->assign[i] + 1]++;
    for (uint32_t j = 0; j < c; j++) sc->cnt[j + 1] += sc->cnt[j];
    memcpy(sc->pos, sc->cnt, ((size_t)c + 1) * sizeof *sc->pos);
    for (uint32_t i = 0; i < nk; i++) sc->docs[sc->pos[sc->assign[i]]++] = sc->pairs[i].d;
    uint32_t nb = 0;
    for (uint32_t j = 0; j < c; j++) nb += sc->cnt[j + 1] > sc->cnt[j];
    o->blen = malloc(nb * sizeof *o->blen);
    o->slen = malloc(nb * sizeof *o->slen);
    o->sscale = malloc(nb * sizeof *o->sscale);
    o->docs = malloc((size_t)nk * sizeof *o->docs);
    size_t scap = 1024;
    o->sterm = malloc(scap * sizeof *o->sterm);
    o->sval = malloc(scap);
    if (!o->blen || !o->slen || !o->sscale || !o->docs || !o->sterm || !o->sval) goto nomem;
    for (uint32_t j = 0; j < c; j++) {
        uint32_t a = sc->cnt[j], e = sc->cnt[j + 1];
        if (a == e) continue;
        qsort(sc->docs + a, e - a, sizeof *sc->docs, cmp_u32); /* docid order: locality when re-scoring */
        memcpy(o->docs + o->nd, sc->docs + a, (size_t)(e - a) * sizeof *o->docs);
        o->nd += e - a;
        /* summary: coordinate-wise max over the block's docs */
        uint32_t nt = 0;
        for (uint32_t i = a; i < e; i++) {
            uint32_t d = sc->docs[i];
            if (i + 8 < e) __builtin_prefetch(ix->f_off + sc->docs[i + 8]); /* rows are random reads */
            if (i + 4 < e) {
                uint64_t o4 = ix->f_off[sc->docs[i + 4]];
                __builtin_prefetch(ix->f_ids + o4);
                __builtin_prefetch(ix->f_ids + o4 + 32);
                __builtin_prefetch(ix->f_w + o4);
                __builtin_prefetch(ix->f_w + o4 + 16);
            }
            for (uint64_t f = ix->f_off[d]; f < ix->f_off[d + 1]; f++) {
                uint32_t term = ix->f_ids[f];
                if (sc->dense[term] == 0.0f) {
                    if (ix->f_w[f] == 0.0f) continue;
                    sc->touched[nt++] = term;
                }
                sc->dense[term] = SPAR_MAX(sc->dense[term], ix->f_w[f]);
            }
        }
        /* keep the heaviest entries covering summary_energy of the L1 mass, whole u8 levels at a time
         * (a 256-bin histogram instead of a sort); level-0 entries add nothing to a dot product: dropped */
        double l1 = 0.0, mass[256];
        float vmax = 0.0f;
        for (uint32_t i = 0; i < nt; i++) {
            float v = sc->dense[sc->touched[i]];
            l1 += v;
            vmax = SPAR_MAX(vmax, v);
        }
        float scale = vmax / 255.0f;
        if (!(scale > 0.0f)) scale = vmax > 0.0f ? vmax : 1.0f; /* denormal maxima */
        const float inv = 1.0f / scale;
        memset(mass, 0, sizeof mass);
        for (uint32_t i = 0; i < nt; i++) {
            uint32_t term = sc->touched[i];
            float v = sc->dense[term];
            uint32_t lv = (uint32_t)SPAR_MIN(255.0f, v * inv + 0.5f);
            sc->keep[i].t = (uint16_t)term;
            sc->keep[i].l = (uint8_t)lv;
            mass[lv] += v;
            sc->dense[term] = 0.0f;
        }
        const double target = (double)opt->summary_energy * l1;
        uint32_t lmin = 255;
        for (double cum = mass[255]; lmin > 1 && cum < target; cum += mass[--lmin]) {}
        uint32_t keep = 0;
        for (uint32_t i = 0; i < nt; i++)
            if (sc->keep[i].l >= lmin) sc->keep[keep++] = sc->keep[i];
        sort_terms(sc->keep, sc->tmp, keep);
        if (o->ns + keep > scap) {
            while (o->ns + keep > scap) scap *= 2;
            uint16_t *st = realloc(o->sterm, scap * sizeof *st);
            if (st == NULL) goto nomem;
            o->sterm = st;
            uint8_t *sv = realloc(o->sval, scap);
            if (sv == NULL) goto nomem;
            o->sval = sv;
        }
        for (uint32_t i = 0; i < keep; i++) {
            o->sterm[o->ns + i] = sc->keep[i].t;
            o->sval[o->ns + i] = sc->keep[i].l;
        }
        o->ns += keep;
        o->blen[o->nb] = e - a;
        o->slen[o->nb] = keep;
        o->sscale[o->nb] = scale;
        o->nb++;
    }
    return SPAR_OK;
nomem:
    term_out_free(o);
    return SPAR_E_NOMEM;
}

void spar_sparse_approx_release(spar_sparse_index *ix) {
    if (ix->a_map) { /* views into a read-only map (spar_sparse_index_load_mapped) */
        spar_file_unmap(ix->a_map);
        free(ix->a_map);
        ix->a_map = NULL;
    } else {
        free(ix->a_toff);
        free(ix->a_boff);
        free(ix->a_docs);
        free(ix->a_soff);
        free(ix->a_sterm);
        free(ix->a_sval);
        free(ix->a_sscale);
    }
    ix->a_toff = ix->a_boff = ix->a_soff = NULL;
    ix->a_docs = NULL;
    ix->a_sterm = NULL;
    ix->a_sval = NULL;
    ix->a_sscale = NULL;
}

spar_status spar_sparse_build_approx(spar_sparse_index *ix, const spar_sparse_build_opts *opt) {
    spar_status st = SPAR_OK;
    const uint32_t dim = ix->dim;
    float *sketch = spar_malloc_array((size_t)(ix->n_docs ? ix->n_docs : 1), SK * sizeof(float));
    term_out *outs = calloc(dim, sizeof *outs);
    uint64_t max_len = 0;
    if (sketch == NULL || outs == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (uint32_t t = 0; t < dim; t++) max_len = SPAR_MAX(max_len, ix->p_off[t + 1] - ix->p_off[t]);
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(opt->n_threads ? (int)opt->n_threads : omp_get_max_threads())
#endif
    for (int64_t d = 0; d < (int64_t)ix->n_docs; d++)
        spar_sparse_sketch(NULL, ix->f_ids + ix->f_off[d], ix->f_w + ix->f_off[d], ix->f_off[d + 1] - ix->f_off[d],
                           sketch + (size_t)d * SK);
#ifdef SPAR_HAVE_OPENMP
    int nt = opt->n_threads ? (int)opt->n_threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#endif
    {
        scratch sc;
        size_t ml = (size_t)(max_len ? max_len : 1);
        sc.pairs = malloc(ml * sizeof *sc.pairs);
        sc.cent = malloc(ml * sizeof *sc.cent);
        sc.assign = malloc(ml * sizeof *sc.assign);
        sc.cnt = malloc((ml + 2) * sizeof *sc.cnt);
        sc.pos = malloc((ml + 2) * sizeof *sc.pos);
        sc.docs = malloc(ml * sizeof *sc.docs);
        sc.dense = calloc(dim, sizeof *sc.dense);
        sc.keep = malloc(dim * sizeof *sc.keep);
        sc.tmp = malloc(dim * sizeof *sc.tmp);
        sc.touched = malloc(dim * sizeof *sc.touched);
        spar_status my = (sc.pairs && sc.cent && sc.assign && sc.cnt && sc.pos && sc.docs && sc.dense && sc.keep && sc.tmp &&
                          sc.touched) ? SPAR_OK : SPAR_E_NOMEM;
#ifdef SPAR_HAVE_OPENMP
#pragma omp for schedule(dynamic, 8)
#endif
        for (int64_t t = 0; t < (int64_t)dim; t++) {
            if (my == SPAR_OK) my = build_term(ix, opt, sketch, (uint32_t)t, &sc, &outs[t]);
        }
        free(sc.pairs);
        free(sc.cent);
        free(sc.assign);
        free(sc.cnt);
        free(sc.pos);
        free(sc.docs);
        free(sc.dense);
        free(sc.keep);
        free(sc.tmp);
        free(sc.touched);
        if (my != SPAR_OK) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp critical(spar_sparse_approx)
#endif
            st = my;
        }
    }
    if (st != SPAR_OK) goto done;
    uint64_t nb = 0, nd = 0, ns = 0;
    for (uint32_t t = 0; t < dim; t++) { nb += outs[t].nb; nd += outs[t].nd; ns += outs[t].ns; }
    ix->a_toff = malloc(((size_t)dim + 1) * sizeof *ix->a_toff);
    ix->a_boff = malloc((nb + 1) * sizeof *ix->a_boff);
    ix->a_soff = malloc((nb + 1) * sizeof *ix->a_soff);
    ix->a_sscale = malloc((nb ? nb : 1) * sizeof *ix->a_sscale);
    ix->a_docs = malloc((nd ? nd : 1) * sizeof *ix->a_docs);
    ix->a_sterm = malloc((ns ? ns : 1) * sizeof *ix->a_sterm);
    ix->a_sval = malloc(ns ? ns : 1);
    if (!ix->a_toff || !ix->a_boff || !ix->a_soff || !ix->a_sscale || !ix->a_docs || !ix->a_sterm || !ix->a_sval) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    uint64_t b = 0, d = 0, s = 0;
    ix->a_boff[0] = 0;
    ix->a_soff[0] = 0;
    for (uint32_t t = 0; t < dim; t++) {
        const term_out *o = &outs[t];
        ix->a_toff[t] = b;
        if (o->nd) memcpy(ix->a_docs + d, o->docs, (size_t)o->nd * sizeof *o->docs);
        if (o->ns) memcpy(ix->a_sterm + s, o->sterm, (size_t)o->ns * sizeof *o->sterm);
        if (o->ns) memcpy(ix->a_sval + s, o->sval, o->ns);
        for (uint32_t j = 0; j < o->nb; j++) {
            d += o->blen[j];
            s += o->slen[j];
            ix->a_sscale[b] = o->sscale[j];
            b++;
            ix->a_boff[b] = d;
            ix->a_soff[b] = s;
        }
    }
    ix->a_toff[dim] = b;
    ix->n_ablocks = nb;
    ix->n_apost = nd;
    ix->n_asum = ns;
    ix->has_approx = 1;
done:
    if (outs) for (uint32_t t = 0; t < dim; t++) term_out_free(&outs[t]);
    free(outs);
    free(sketch);
    return st;
}

/* ================================ search ================================ */
/* The traversal: the query_cut heaviest query terms in decreasing weight; for each, its blocks in stored
 * order; a block is visited unless, once the heap holds k hits, summary . q <= heap_factor * kth score.
 * Summary dot products are gathers from the dense query (qd) into 8-lane accumulators (AVX2 when the CPU
 * has it, 4 scalar chains otherwise): their rounding order does not matter, they only steer the traversal.
 * A visited block's new documents are first prefetched (offsets, then rows), then each gets a vectorized
 * estimate of its score; only a document whose estimate, widened by a rounding slack, reaches the kth score
 * is scored canonically (products added in ascending term order, as every other algorithm does) and
 * offered to the heap, so returned scores are bit-identical to the exact searches. */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPAR_APPROX_X86 1
#endif

static inline int h_worse(float sa, uint32_t da, float sb, uint32_t db) { return sa < sb || (sa == sb && da > db); }

static void h_push(spar_sparse_approx_ctx *c, uint32_t d, float sc) {
    spar_hit *h = c->heap;
    uint32_t n = *c->heap_n;
    if (n < c->k) {
        uint32_t i = n;
        *c->heap_n = n + 1;
        h[i].docid = d;
        h[i].score = sc;
        while (i > 0) {
            uint32_t p = (i - 1) / 2;
            if (!h_worse(h[i].score, h[i].docid, h[p].score, h[p].docid)) break;
            spar_hit t = h[i];
            h[i] = h[p];
            h[p] = t;
            i = p;
        }
        return;
    }
    if (!h_worse(h[0].score, h[0].docid, sc, d)) return;
    h[0].docid = d;
    h[0].score = sc;
    for (uint32_t i = 0;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h_worse(h[l].score, h[l].docid, h[m].score, h[m].docid)) m = l;
        if (r < n && h_worse(h[r].score, h[r].docid, h[m].score, h[m].docid)) m = r;
        if (m == i) break;
        spar_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}
static inline float h_theta(const spar_sparse_approx_ctx *c) { return *c->heap_n < c->k ? -1.0f : c->heap[0].score; }

/* sum qd[ids[i]] * vals[i] (u8 summary values), any order */
static float sum_dot_scalar(const float *qd, const uint16_t *ids, const uint8_t *vals, uint64_t n) {
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += qd[ids[i]] * (float)vals[i];
        a1 += qd[ids[i + 1]] * (float)vals[i + 1];
        a2 += qd[ids[i + 2]] * (float)vals[i + 2];
        a3 += qd[ids[i + 3]] * (float)vals[i + 3];
    }
    for (; i < n; i++) a0 += qd[ids[i]] * (float)vals[i];
    return (a0 + a1) + (a2 + a3);
}
/* sum qd[ids[i]] * w[i] (float document row), any order: the estimate */
static float doc_dot_scalar(const float *qd, const uint16_t *ids, const float *w, uint64_t n) {
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += qd[ids[i]] * w[i];
        a1 += qd[ids[i + 1]] * w[i + 1];
        a2 += qd[ids[i + 2]] * w[i + 2];
        a3 += qd[ids[i + 3]] * w[i + 3];
    }
    for (; i < n; i++) a0 += qd[ids[i]] * w[i];
    return (a0 + a1) + (a2 + a3);
}

#ifdef SPAR_APPROX_X86
__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
__attribute__((target("avx2,fma"))) static float sum_dot_avx2(const float *qd, const uint16_t *ids,
                                                              const uint8_t *vals, uint64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    uint64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i i0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(ids + i)));
        __m256i i1 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(ids + i + 8)));
        __m128i v = _mm_loadu_si128((const __m128i *)(vals + i));
        __m256 v0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
        __m256 v1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
        a0 = _mm256_fmadd_ps(_mm256_i32gather_ps(qd, i0, 4), v0, a0);
        a1 = _mm256_fmadd_ps(_mm256_i32gather_ps(qd, i1, 4), v1, a1);
    }
    float r = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) r += qd[ids[i]] * (float)vals[i];
    return r;
}
__attribute__((target("avx2,fma"))) static float doc_dot_avx2(const float *qd, const uint16_t *ids, const float *w,
                                                              uint64_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    uint64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i i0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(ids + i)));
        __m256i i1 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(ids + i + 8)));
        a0 = _mm256_fmadd_ps(_mm256_i32gather_ps(qd, i0, 4), _mm256_loadu_ps(w + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_i32gather_ps(qd, i1, 4), _mm256_loadu_ps(w + i + 8), a1);
    }
    float r = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) r += qd[ids[i]] * w[i];
    return r;
}
#endif

typedef float (*sum_dot_fn)(const float *, const uint16_t *, const uint8_t *, uint64_t);
typedef float (*doc_dot_fn)(const float *, const uint16_t *, const float *, uint64_t);

/* The canonical score (must match every other algorithm bit for bit: ascending terms, one chain). Kept in
 * a function compiled without FMA so that the products are rounded exactly as elsewhere. */
static float canonical_score(const spar_sparse_index *ix, const float *qd, uint32_t d) {
    float sc = 0.0f;
    const uint16_t *id = ix->f_ids;
    const float *w = ix->f_w;
    for (uint64_t i = ix->f_off[d], e = ix->f_off[d + 1]; i < e; i++) sc += qd[id[i]] * w[i];
    return sc;
}

/* Visited docs flow through a three-stage software pipeline in vlist so that their memory is fetched while
 * the traversal goes on: [0, a) scored, [a, b) rows prefetched, [b, n_vis) offsets prefetched. */
typedef struct pipe {
    const spar_sparse_index *ix;
    spar_sparse_approx_ctx *c;
    doc_dot_fn ddot;
    uint32_t a, b, n_vis;
} pipe;

static void pipe_advance(pipe *pp) {
    const spar_sparse_index *ix = pp->ix;
    spar_sparse_approx_ctx *c = pp->c;
    const uint64_t *f_off = ix->f_off;
    const uint16_t *f_ids = ix->f_ids;
    const float *f_w = ix->f_w, *qd = c->qd;
    for (uint32_t x = pp->a; x < pp->b; x++) {
        uint32_t d = c->vlist[x];
        uint64_t o = f_off[d], len = f_off[d + 1] - o;
        float theta = h_theta(c);
        if (theta > 0.0f) {
            /* the estimate and the canonical sum each lie within ~len ulps (relative) of the real value:
             * a wider slack keeps every doc that could reach theta */
            float est = pp->ddot(qd, f_ids + o, f_w + o, len);
            if (est * (1.0f + 1e-6f * (float)(len + 4)) < theta) continue;
        }
        float sc = canonical_score(ix, qd, d);
        if (sc > 0.0f) h_push(c, ix->ext ? ix->ext[d] : d, sc);
    }
    for (uint32_t x = pp->b; x < pp->n_vis; x++) {
        uint32_t d = c->vlist[x];
        uint64_t o = f_off[d], e = f_off[d + 1];
        for (uint64_t i = o; i < e; i += 32) __builtin_prefetch(f_ids + i);
        for (uint64_t i = o; i < e; i += 16) __builtin_prefetch(f_w + i);
    }
    pp->a = pp->b;
    pp->b = pp->n_vis;
}

uint64_t spar_sparse_approx_search(const spar_sparse_index *ix, const spar_sparse_vec *q,
                                   const spar_sparse_approx_params *p, spar_sparse_approx_ctx *c) {
    const float *qd = c->qd;
    uint32_t *order = c->qorder;
    sum_dot_fn sdot = sum_dot_scalar;
    pipe pp = {ix, c, doc_dot_scalar, 0, 0, 0};
#ifdef SPAR_APPROX_X86
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        sdot = sum_dot_avx2;
        pp.ddot = doc_dot_avx2;
    }
#endif
    /* query terms by weight desc, position asc (insertion sort: tens of terms) */
    for (uint32_t i = 0; i < q->n; i++) {
        uint32_t j = i;
        while (j > 0 && q->weights[order[j - 1]] < q->weights[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    const uint32_t cut = (p->query_cut == 0 || p->query_cut > q->n) ? q->n : p->query_cut;
    const float hf = p->heap_factor;
    for (uint32_t j = 0; j < cut; j++) {
        uint32_t t = q->ids[order[j]];
        if (q->weights[order[j]] == 0.0f) break;
        for (uint64_t b = ix->a_toff[t], be = ix->a_toff[t + 1]; b < be; b++) {
            float theta = h_theta(c);
            if (theta > 0.0f) {
                uint64_t s0 = ix->a_soff[b];
                float dot = sdot(qd, ix->a_sterm + s0, ix->a_sval + s0, ix->a_soff[b + 1] - s0);
                if (dot * ix->a_sscale[b] <= theta * hf) continue;
            }
            pipe_advance(&pp);
            for (uint64_t i = ix->a_boff[b], e = ix->a_boff[b + 1]; i < e; i++) { /* the block's new docs */
                uint32_t d = ix->a_docs[i];
                uint64_t bit = 1ull << (d & 63);
                if (c->visited[d >> 6] & bit) continue;
                c->visited[d >> 6] |= bit;
                c->vlist[pp.n_vis++] = d;
                __builtin_prefetch(ix->f_off + d);
                if (pp.n_vis - pp.b >= 32) pipe_advance(&pp); /* big blocks: keep the stages short */
            }
        }
    }
    pipe_advance(&pp);
    pipe_advance(&pp);
    const uint32_t n_vis = pp.n_vis;
    for (uint32_t i = 0; i < n_vis; i++) c->visited[c->vlist[i] >> 6] = 0;
    return n_vis;
}
