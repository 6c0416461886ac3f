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
static int cmp_wd_desc(const void *a, const void *b) {
    const wd *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);
}
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}
typedef struct tv {
    float v;
    uint32_t t;
} tv;
static int cmp_tv_desc(const void *a, const void *b) {
    const tv *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}
static int cmp_tv_term(const void *a, const void *b) {
    const tv *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* Move the fewest heaviest entries whose sum reaches `target` to the front (expected O(n) quickselect);
 * returns their count (>= 1 when n > 0). Same set as sorting by (value desc, term asc) and taking a prefix. */
static uint32_t select_energy(tv *a, uint32_t n, double target) {
    uint32_t lo = 0, hi = n, taken = 0;
    double need = target;
    while (hi > lo) {
        if (hi - lo <= 16) { /* small: sort and take a prefix */
            qsort(a + lo, hi - lo, sizeof *a, cmp_tv_desc);
            uint32_t i = lo;
            while (i < hi && (i == 0 || need > 0.0)) need -= a[i++].v;
            return i;
        }
        tv pivot = a[lo + (hi - lo) / 2];
        uint32_t i = lo; /* partition: entries ranking before the pivot first */
        for (uint32_t j = lo; j < hi; j++)
            if (cmp_tv_desc(&a[j], &pivot) < 0) { tv x = a[i]; a[i] = a[j]; a[j] = x; i++; }
        double sum = 0.0;
        for (uint32_t j = lo; j < i; j++) sum += a[j].v;
        if (i > lo && sum >= need) { hi = i; continue; } /* answer lies inside the upper part */
        need -= sum;
        taken = i;
        /* place the pivot at i and take it */
        for (uint32_t j = i; j < hi; j++)
            if (a[j].t == pivot.t) { tv x = a[i]; a[i] = a[j]; a[j] = x; break; }
        need -= a[i].v;
        taken = i + 1;
        if (need <= 0.0) return taken;
        lo = i + 1;
    }
    return taken ? taken : (n > 0);
}

typedef struct scratch {
    wd *pairs;
    uint32_t *cent, *assign, *cnt, *pos, *docs;
    float *dense;
    tv *tvs;
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
        qsort(sc->pairs, n, sizeof *sc->pairs, cmp_wd_desc);
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
            for (uint64_t f = ix->f_off[d]; f < ix->f_off[d + 1]; f++) {
                uint32_t term = ix->f_ids[f];
                if (sc->dense[term] == 0.0f) {
                    if (ix->f_w[f] == 0.0f) continue;
                    sc->touched[nt++] = term;
                }
                sc->dense[term] = SPAR_MAX(sc->dense[term], ix->f_w[f]);
            }
        }
        double l1 = 0.0;
        for (uint32_t i = 0; i < nt; i++) {
            sc->tvs[i].t = sc->touched[i];
            sc->tvs[i].v = sc->dense[sc->touched[i]];
            sc->dense[sc->touched[i]] = 0.0f;
            l1 += sc->tvs[i].v;
        }
        uint32_t keep = select_energy(sc->tvs, nt, opt->summary_energy * l1);
        qsort(sc->tvs, keep, sizeof *sc->tvs, cmp_tv_term);
        float vmax = 0.0f;
        for (uint32_t i = 0; i < keep; i++) vmax = SPAR_MAX(vmax, sc->tvs[i].v);
        float scale = vmax > 0.0f ? vmax / 255.0f : 1.0f;
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
            long qv = lrintf(sc->tvs[i].v / scale);
            o->sterm[o->ns + i] = (uint16_t)sc->tvs[i].t;
            o->sval[o->ns + i] = (uint8_t)SPAR_MIN(255, SPAR_MAX(0, qv));
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

spar_status spar_sparse_build_approx(spar_sparse_index *ix, const spar_sparse_build_opts *opt) {
    spar_status st = SPAR_OK;
    const uint32_t dim = ix->dim;
    float *sketch = spar_malloc_array((size_t)(ix->n_docs ? ix->n_docs : 1), SK * sizeof(float));
    term_out *outs = calloc(dim, sizeof *outs);
    uint64_t max_len = 0;
    if (sketch == NULL || outs == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (uint32_t t = 0; t < dim; t++) max_len = SPAR_MAX(max_len, ix->p_off[t + 1] - ix->p_off[t]);
    for (uint32_t d = 0; d < ix->n_docs; d++)
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
        sc.tvs = malloc(dim * sizeof *sc.tvs);
        sc.touched = malloc(dim * sizeof *sc.touched);
        spar_status my = (sc.pairs && sc.cent && sc.assign && sc.cnt && sc.pos && sc.docs && sc.dense && sc.tvs &&
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
        free(sc.tvs);
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
