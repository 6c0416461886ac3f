/* query/search.c — the public BM25 search API (include/spar/spar_query.h): options, searcher lifetime,
 * query preparation (analyse, look up, merge duplicates, canonical order, weights and bounds) and the
 * OpenMP batch driver. The top-k algorithms live in daat.c, maxscore.c and bmw.c (query_int.h).
 *
 * Query terms: each analysed term is looked up; terms absent from the dictionary are dropped. A term
 * occurring c times in the query is one term of weight c * idf (like Lucene's BooleanQuery summing c
 * identical SHOULD clauses). Canonical order = dictionary order (ascending list offset). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

#include "index/analyzer.h"
#include "index/index.h"
#include "query/query_int.h"
#include "spar/spar_query.h"

struct spar_searcher {
    const spar_index *ix;
    const spar_segment *seg;
    spar_analyzer *an;
    spar_terms terms;
    uint32_t n_docs;
    float avgdl;          /* the segment's avgdl rounded to float, as the writer's bounds use it */
    float rec_k1, rec_b;  /* recorded params */
    /* norm of document d for the current (k1, b) = norm_tab[norms[d]]: the segment keeps one norm byte
     * per document, so there are only 256 distinct norms */
    const uint8_t *norms;
    float norm_tab[256];
    float tab_k1, tab_b; /* params norm_tab was computed for; tab_k1 < 0 before the first query */
    /* per-query scratch, grown to qcap terms and reused */
    uint32_t qcap;
    spar_term_info *ti;
    uint32_t *cnt;
    spar_cursor *cur;
    spar_qterm *qt;
    float *contrib, *bound;
    uint32_t *order, *touched;
    spar_topk topk;
};

void spar_search_opts_default(spar_search_opts *o) {
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->k1 = -1.0f;
    o->b = -1.0f;
    o->algo = SPAR_ALGO_DEFAULT;
}

/* The default algorithm, chosen with bench/bench_query (see docs/query.md). Both are exact, so this only picks
 * speed. On the 1M-document Debian corpus BlockMax-WAND measured faster than MaxScore (k = 10 ~25%, k = 1000 ~7%);
 * on the classic collections (82-12k documents: most lists fit in a block or two, so block-max skipping has
 * little to skip and its pivoting costs) MaxScore was 1.2-2.5x faster per query at every query length (thread
 * CPU time, bench/README.md). Below SPAR_DEFAULT_BMW_MIN_DOCS documents the default is MaxScore. */
#define SPAR_DEFAULT_BMW_MIN_DOCS 100000u
static spar_algo resolve_algo(spar_algo a, uint32_t n_docs) {
    if (a != SPAR_ALGO_DEFAULT) return a;
    return n_docs < SPAR_DEFAULT_BMW_MIN_DOCS ? SPAR_ALGO_MAXSCORE : SPAR_ALGO_BMW;
}

const char *spar_algo_name(spar_algo a) {
    switch (a) {
    case SPAR_ALGO_DEFAULT: return "default";
    case SPAR_ALGO_EXHAUSTIVE: return "exhaustive";
    case SPAR_ALGO_MAXSCORE: return "maxscore";
    case SPAR_ALGO_BMW: return "bmw";
    }
    return "unknown";
}

spar_status spar_algo_parse(const char *name, spar_algo *out) {
    static const struct {
        const char *name;
        spar_algo a;
    } names[] = {{"default", SPAR_ALGO_DEFAULT}, {"exhaustive", SPAR_ALGO_EXHAUSTIVE}, {"daat", SPAR_ALGO_EXHAUSTIVE},
                 {"maxscore", SPAR_ALGO_MAXSCORE}, {"bmw", SPAR_ALGO_BMW}, {"block-max-wand", SPAR_ALGO_BMW}};
    if (name == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].a;
            return SPAR_OK;
        }
    return SPAR_E_INVALID_ARG;
}

spar_status spar_searcher_create(const spar_index *ix, spar_searcher **out) {
    if (ix == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_searcher *s = calloc(1, sizeof *s);
    if (s == NULL) return SPAR_E_NOMEM;
    spar_status st = spar_analyzer_create(spar_index_analysis(ix), &s->an, NULL);
    if (st != SPAR_OK) {
        free(s);
        return st;
    }
    s->ix = ix;
    s->seg = spar_index_segment(ix);
    s->n_docs = spar_segment_n_docs(s->seg);
    s->avgdl = (float)spar_segment_avgdl(s->seg);
    s->rec_k1 = spar_segment_k1(s->seg);
    s->rec_b = spar_segment_b(s->seg);
    s->norms = spar_segment_norms(s->seg);
    s->tab_k1 = -1.0f;
    *out = s;
    return SPAR_OK;
}

void spar_searcher_free(spar_searcher *s) {
    if (s == NULL) return;
    spar_analyzer_free(s->an);
    spar_terms_free(&s->terms);
    free(s->ti);
    free(s->cnt);
    free(s->cur);
    free(s->qt);
    free(s->contrib);
    free(s->bound);
    free(s->order);
    free(s->touched);
    spar_topk_free(&s->topk);
    free(s);
}

/* ---- norms ----
 * norm = k1 * (1 - b + b * dl / avgdl) for each of the 256 decoded lengths, with the expression
 * spar_q_fill_norm uses (so the writer's block-max bounds and the scores agree). Recomputed only when a
 * query changes k1 or b. */
static void ensure_norm(spar_searcher *s, float k1, float b) {
    if (s->tab_k1 == k1 && s->tab_b == b) return;
    uint32_t lens[256];
    for (unsigned i = 0; i < 256; i++) lens[i] = spar_norm_decode((uint8_t)i);
    spar_q_fill_norm(s->norm_tab, lens, 256, k1, b, s->avgdl);
    s->tab_k1 = k1;
    s->tab_b = b;
}

static spar_status ensure_qcap(spar_searcher *s, uint32_t n) {
    if (n <= s->qcap) return SPAR_OK;
    uint32_t cap = s->qcap ? s->qcap : 16;
    while (cap < n) cap *= 2;
#define GROW(field)                                                                                          \
    do {                                                                                                     \
        void *p_ = spar_realloc_array(s->field, cap, sizeof *s->field);                                       \
        if (p_ == NULL) return SPAR_E_NOMEM;                                                                 \
        s->field = p_;                                                                                       \
    } while (0)
    GROW(ti);
    GROW(cnt);
    GROW(qt);
    GROW(contrib);
    GROW(bound);
    GROW(order);
    GROW(touched);
#undef GROW
    /* cursors hold 16-byte aligned block buffers: aligned allocation, contents need not survive */
    spar_cursor *c = aligned_alloc(64, ((size_t)cap * sizeof *c + 63) / 64 * 64);
    if (c == NULL) return SPAR_E_NOMEM;
    free(s->cur);
    s->cur = c;
    s->qcap = cap;
    return SPAR_OK;
}

/* Strict UTF-8 validation (no overlongs, surrogates or code points above U+10FFFF). */
static int utf8_valid(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len) return 0;
        for (size_t j = 1; j < len; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

static int cmp_ti_offset(const void *a, const void *b) {
    const spar_term_info *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static spar_status check_opts(const spar_search_opts *o) {
    if (o == NULL || o->k < 1 || o->k > SPAR_MAX_K) return SPAR_E_INVALID_ARG;
    if (!(o->algo >= SPAR_ALGO_DEFAULT && o->algo <= SPAR_ALGO_BMW)) return SPAR_E_INVALID_ARG;
    if (isnan(o->k1) || isinf(o->k1) || isnan(o->b) || (o->b >= 0 && o->b > 1.0f)) return SPAR_E_INVALID_ARG;
    return SPAR_OK;
}

spar_status spar_search(spar_searcher *s, const char *text, size_t len, const spar_search_opts *opts, spar_hit *hits,
                        size_t cap, size_t *n_hits) {
    if (n_hits != NULL) *n_hits = 0;
    if (s == NULL || n_hits == NULL || (text == NULL && len > 0) || (hits == NULL && cap > 0))
        return SPAR_E_INVALID_ARG;
    SPAR_TRY(check_opts(opts));
    if (!utf8_valid((const unsigned char *)text, len)) return SPAR_E_CORRUPT;
    const float k1 = opts->k1 < 0 ? s->rec_k1 : opts->k1;
    const float b = opts->b < 0 ? s->rec_b : opts->b;

    /* analyse and resolve terms */
    spar_terms_reset(&s->terms);
    if (len > 0) SPAR_TRY(spar_analyze(s->an, text, len, &s->terms));
    SPAR_TRY(ensure_qcap(s, s->terms.n));
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->terms.n; i++) {
        spar_term_info ti;
        spar_status st = spar_segment_lookup(s->seg, s->terms.data + s->terms.off[i], s->terms.len[i], &ti);
        if (st == SPAR_E_NOT_FOUND) continue;
        if (st != SPAR_OK) return st;
        if (ti.df == 0) continue;
        s->ti[n++] = ti;
    }
    if (n <= 64) { /* insertion sort: no allocation on the common path (glibc qsort may malloc) */
        for (uint32_t i = 1; i < n; i++) {
            spar_term_info x = s->ti[i];
            uint32_t j = i;
            while (j > 0 && s->ti[j - 1].offset > x.offset) {
                s->ti[j] = s->ti[j - 1];
                j--;
            }
            s->ti[j] = x;
        }
    } else {
        qsort(s->ti, n, sizeof *s->ti, cmp_ti_offset);
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m > 0 && s->ti[m - 1].offset == s->ti[i].offset) {
            s->cnt[m - 1]++;
            continue;
        }
        s->ti[m] = s->ti[i];
        s->cnt[m++] = 1;
    }
    ensure_norm(s, k1, b);
    SPAR_TRY(spar_topk_reset(&s->topk, opts->k));
    if (m == 0) return SPAR_OK;

    spar_qctx q;
    q.recorded_params = k1 == s->rec_k1 && b == s->rec_b;
    q.k1 = k1;
    q.b = b;
    q.avgdl = s->avgdl > 0 ? s->avgdl : 1.0f;
    q.terms = s->qt;
    q.n = m;
    q.norm = NULL;
    q.norm8 = s->norms;
    q.norm_tab = s->norm_tab;
    q.margin = spar_q_margin(m);
    q.topk = &s->topk;
    q.contrib = s->contrib;
    q.order = s->order;
    q.bound = s->bound;
    q.touched = s->touched;
    q.n_scored = 0;
    for (uint32_t i = 0; i < m; i++) {
        spar_segment_cursor(s->seg, &s->ti[i], &s->cur[i]);
        spar_q_set_term(&q, i, &s->cur[i], &s->ti[i], s->cnt[i], s->n_docs);
    }
    switch (resolve_algo(opts->algo, s->n_docs)) {
    case SPAR_ALGO_EXHAUSTIVE: spar_q_exhaustive(&q); break;
    case SPAR_ALGO_BMW: spar_q_bmw(&q); break;
    default: spar_q_maxscore(&q); break;
    }
    *n_hits = spar_topk_finish(&s->topk, hits, cap);
    return SPAR_OK;
}

spar_status spar_search_batch(const spar_index *ix, const char *const *texts, size_t n, const spar_search_opts *opts,
                              spar_hit *hits, size_t *n_hits, int n_threads) {
    if (ix == NULL || (n > 0 && (texts == NULL || hits == NULL || n_hits == NULL))) return SPAR_E_INVALID_ARG;
    SPAR_TRY(check_opts(opts));
    for (size_t i = 0; i < n; i++)
        if (texts[i] == NULL) return SPAR_E_INVALID_ARG;
    if (n == 0) return SPAR_OK;
    /* thread 0 uses s0 */
    spar_searcher *s0 = NULL;
    SPAR_TRY(spar_searcher_create(ix, &s0));
    const size_t k = opts->k;
    size_t first_err = n;
    spar_status err = SPAR_OK;
    int nt = n_threads;
#ifdef SPAR_HAVE_OPENMP
    if (nt <= 0) nt = omp_get_max_threads();
#else
    nt = 1;
#endif
    if ((size_t)nt > n) nt = (int)n;
#ifdef SPAR_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        spar_searcher *s = NULL;
        spar_status tst = SPAR_OK;
#ifdef SPAR_HAVE_OPENMP
        if (omp_get_thread_num() == 0) {
            s = s0;
        } else
#endif
        {
            tst = spar_searcher_create(ix, &s);
        }
#ifdef SPAR_HAVE_OPENMP
#pragma omp for schedule(dynamic, 4)
#endif
        for (size_t i = 0; i < n; i++) {
            spar_status qst = tst;
            n_hits[i] = 0;
            if (qst == SPAR_OK) qst = spar_search(s, texts[i], strlen(texts[i]), opts, hits + i * k, k, &n_hits[i]);
            if (qst != SPAR_OK) {
#ifdef SPAR_HAVE_OPENMP
#pragma omp critical(spar_search_batch_err)
#endif
                {
                    if (i < first_err) {
                        first_err = i;
                        err = qst;
                    }
                }
            }
        }
        if (s != s0) spar_searcher_free(s);
    }
    spar_searcher_free(s0);
    return err;
}
