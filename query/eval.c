/* eval.c — relevance evaluation of TREC runs against qrels, with trec_eval's definitions.
 * Sits at the end of the pipeline (after query/ produced a run); contract: include/spar/spar_eval.h.
 *
 * Both files are read whole into one string pool plus a flat record array; query ids are interned (one
 * copy each, and a rank in strcmp order so that sorting compares integers). Records are sorted once:
 * qrels by (qid, docid) so relevance lookups are binary searches; the run by (qid, docid, line) to drop
 * duplicate pairs (first occurrence kept), then by (qid, score desc, docid desc), which is trec_eval's
 * ranking order (the rank column is ignored). spar_eval() walks the qrels queries in qid order. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "spar/spar_eval.h"

/* A string is an offset into the pool while loading (the pool may move), a pointer afterwards. */
typedef union pstr {
    size_t off;
    const char *p;
} pstr;

typedef struct rec {
    pstr qid;
    pstr doc;
    double v;       /* run: score; qrels: relevance level */
    uint64_t line;  /* 1-based line in the source file */
    uint32_t qrank; /* while loading: the qid's intern id; then its rank in strcmp order */
} rec;

typedef struct table {
    char *pool;
    size_t pool_len, pool_cap;
    rec *recs;
    size_t n, cap;
    uint64_t n_dup; /* (qid, docid) pairs dropped because they appeared earlier */
    /* interned qids: qoff[id] = pool offset; open-addressing hash of id + 1 (0 = empty) */
    size_t *qoff;
    uint32_t n_q, q_cap;
    uint32_t *slots;
    size_t n_slots; /* power of two */
} table;

struct spar_qrels {
    table t;
};
struct spar_run {
    table t;
};

static void table_free(table *t) {
    free(t->pool);
    free(t->recs);
    free(t->qoff);
    free(t->slots);
}

static uint64_t hash_bytes(const char *s, size_t n) { /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int pool_add(table *t, const char *s, size_t len, size_t *off) {
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : 1u << 16;
        while (cap < t->pool_len + len + 1) cap *= 2;
        char *p = realloc(t->pool, cap);
        if (p == NULL) return -1;
        t->pool = p;
        t->pool_cap = cap;
    }
    *off = t->pool_len;
    memcpy(t->pool + t->pool_len, s, len);
    t->pool[t->pool_len + len] = '\0';
    t->pool_len += len + 1;
    return 0;
}

static int pool_eq(const table *t, size_t off, const char *s, size_t len) {
    return strncmp(t->pool + off, s, len) == 0 && t->pool[off + len] == '\0';
}

/* Intern a qid: its id, adding it to the pool and the hash on first sight. -1 on OOM. */
static int64_t intern_qid(table *t, const char *q, size_t len) {
    if (t->n > 0 && pool_eq(t, t->qoff[t->recs[t->n - 1].qrank], q, len)) /* runs are grouped by qid */
        return t->recs[t->n - 1].qrank;
    if ((size_t)t->n_q * 2 >= t->n_slots) { /* grow + rehash at load factor 1/2 */
        size_t ns = t->n_slots ? t->n_slots * 2 : 1024;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (sl == NULL) return -1;
        for (uint32_t id = 0; id < t->n_q; id++) {
            const char *qs = t->pool + t->qoff[id];
            size_t h = (size_t)hash_bytes(qs, strlen(qs)) & (ns - 1);
            while (sl[h] != 0) h = (h + 1) & (ns - 1);
            sl[h] = id + 1;
        }
        free(t->slots);
        t->slots = sl;
        t->n_slots = ns;
    }
    size_t h = (size_t)hash_bytes(q, len) & (t->n_slots - 1);
    while (t->slots[h] != 0) {
        uint32_t id = t->slots[h] - 1;
        if (pool_eq(t, t->qoff[id], q, len)) return id;
        h = (h + 1) & (t->n_slots - 1);
    }
    if (t->n_q == t->q_cap) {
        uint32_t cap = t->q_cap ? t->q_cap * 2 : 256;
        size_t *qo = spar_realloc_array(t->qoff, cap, sizeof *qo);
        if (qo == NULL) return -1;
        t->qoff = qo;
        t->q_cap = cap;
    }
    if (pool_add(t, q, len, &t->qoff[t->n_q]) != 0) return -1;
    t->slots[h] = t->n_q + 1;
    return t->n_q++;
}

static int table_push(table *t, const char *q, size_t qlen, const char *d, size_t dlen, double v, uint64_t line) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        rec *r = spar_realloc_array(t->recs, cap, sizeof *r);
        if (r == NULL) return -1;
        t->recs = r;
        t->cap = cap;
    }
    int64_t id = intern_qid(t, q, qlen);
    if (id < 0) return -1;
    rec *r = &t->recs[t->n];
    r->qrank = (uint32_t)id;
    r->qid.off = t->qoff[id];
    if (pool_add(t, d, dlen, &r->doc.off) != 0) return -1;
    r->v = v;
    r->line = line;
    t->n++;
    return 0;
}

typedef struct qid_ref {
    const char *s;
    uint32_t id;
} qid_ref;

static int cmp_qid_ref(const void *a, const void *b) {
    return strcmp(((const qid_ref *)a)->s, ((const qid_ref *)b)->s);
}

/* Once the pool no longer moves: offsets become pointers and intern ids become ranks in strcmp order. */
static int table_fix(table *t) {
    qid_ref *order = spar_malloc_array(t->n_q, sizeof *order);
    uint32_t *rank = spar_malloc_array(t->n_q, sizeof *rank);
    if (order == NULL || rank == NULL) {
        free(order);
        free(rank);
        return -1;
    }
    for (uint32_t i = 0; i < t->n_q; i++) order[i] = (qid_ref){t->pool + t->qoff[i], i};
    qsort(order, t->n_q, sizeof *order, cmp_qid_ref);
    for (uint32_t i = 0; i < t->n_q; i++) rank[order[i].id] = i;
    for (size_t i = 0; i < t->n; i++) {
        t->recs[i].qid.p = t->pool + t->recs[i].qid.off;
        t->recs[i].doc.p = t->pool + t->recs[i].doc.off;
        t->recs[i].qrank = rank[t->recs[i].qrank];
    }
    free(order);
    free(rank);
    return 0;
}

/* Split a line into at most `max` fields: on tabs if the line has one (fields may then contain spaces,
 * which are trimmed at both ends), else on runs of blanks. Returns the number of fields found (max + 1
 * means "more than max"); *empty is set when a tab-separated field is empty. */
typedef struct field {
    const char *s;
    size_t len;
} field;

static size_t split_fields(char *line, field *f, size_t max, int *empty) {
    int tabs = strchr(line, '\t') != NULL;
    size_t n = 0;
    char *p = line;
    *empty = 0;
    while (*p != '\0') {
        if (!tabs)
            while (*p == ' ') p++;
        if (*p == '\0') break;
        char *start = p;
        while (*p != '\0' && (tabs ? *p != '\t' : *p != ' ')) p++;
        const char *s = start, *e = p;
        while (s < e && *s == ' ') s++;
        while (e > s && e[-1] == ' ') e--;
        if (n == max) return max + 1;
        if (s == e) *empty = 1;
        f[n].s = s;
        f[n].len = (size_t)(e - s);
        n++;
        if (*p != '\0') p++;
    }
    return n;
}

static int parse_long(const field *f, long *out) {
    char buf[32];
    if (f->len == 0 || f->len >= sizeof buf) return -1;
    memcpy(buf, f->s, f->len);
    buf[f->len] = '\0';
    char *end = NULL;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = v;
    return 0;
}

static int parse_double(const field *f, double *out) {
    char buf[64];
    if (f->len == 0 || f->len >= sizeof buf) return -1;
    memcpy(buf, f->s, f->len);
    buf[f->len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno == ERANGE || *end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int cmp_qid_doc_line(const void *a, const void *b) {
    const rec *x = a, *y = b;
    if (x->qrank != y->qrank) return x->qrank < y->qrank ? -1 : 1;
    int c = strcmp(x->doc.p, y->doc.p);
    if (c != 0) return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* trec_eval's order: score descending, ties by docid descending (strcmp). */
static int cmp_qid_score(const void *a, const void *b) {
    const rec *x = a, *y = b;
    if (x->qrank != y->qrank) return x->qrank < y->qrank ? -1 : 1;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return -strcmp(x->doc.p, y->doc.p);
}

/* Sort by (qid, docid, line) and drop later duplicates of a (qid, docid) pair; returns the count
 * dropped and the line of the first dropped one. */
static uint64_t dedup(table *t, uint64_t *first_line, const char **first_doc) {
    if (t->n == 0) return 0;
    qsort(t->recs, t->n, sizeof *t->recs, cmp_qid_doc_line);
    size_t w = 1;
    uint64_t dropped = 0;
    *first_line = 0;
    for (size_t i = 1; i < t->n; i++) {
        const rec *prev = &t->recs[w - 1];
        if (prev->qrank == t->recs[i].qrank && strcmp(prev->doc.p, t->recs[i].doc.p) == 0) {
            if (dropped == 0 || t->recs[i].line < *first_line) {
                *first_line = t->recs[i].line;
                *first_doc = t->recs[i].doc.p;
            }
            dropped++;
            continue;
        }
        t->recs[w++] = t->recs[i];
    }
    t->n = w;
    return dropped;
}

typedef enum file_kind { KIND_QRELS, KIND_RUN } file_kind;

static spar_status load(const char *path, file_kind kind, table *t, spar_diag *diag) {
    spar_status st = SPAR_OK;
    char *line = NULL;
    size_t line_cap = 0;
    uint64_t lineno = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) return spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    for (;;) {
        errno = 0;
        ssize_t got = getline(&line, &line_cap, f);
        if (got < 0) {
            if (ferror(f)) st = spar_diag_err(diag, SPAR_E_IO, "%s:%llu: read error: %s", path,
                                              (unsigned long long)lineno + 1, strerror(errno));
            break;
        }
        lineno++;
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (strlen(line) != len) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: NUL byte in line", path, (unsigned long long)lineno);
            break;
        }
        field fl[7];
        size_t skip = strspn(line, " \t");
        if (line[skip] == '\0') continue;                      /* blank line */
        if (kind == KIND_QRELS && line[skip] == '#') continue; /* comment, as trec_eval allows */
        int empty = 0;
        size_t nf = split_fields(line, fl, 6, &empty);
        if (empty && nf <= 6) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: empty field", path, (unsigned long long)lineno);
            break;
        }
        if (kind == KIND_QRELS) {
            const field *q, *d, *r;
            if (nf == 3) {
                q = &fl[0], d = &fl[1], r = &fl[2];
            } else if (nf == 4) {
                q = &fl[0], d = &fl[2], r = &fl[3];
            } else {
                st = spar_diag_err(diag, SPAR_E_CORRUPT,
                                   "%s:%llu: expected 3 fields (BEIR 'query-id corpus-id score') or 4 (TREC "
                                   "'qid iter docid rel'), got %zu",
                                   path, (unsigned long long)lineno, nf > 6 ? (size_t)7 : nf);
                break;
            }
            long rel = 0;
            if (parse_long(r, &rel) != 0) {
                /* BEIR header "query-id corpus-id score"; a numeric-looking value ("1.5") is a bad line, not a header */
                if (lineno == 1 && nf == 3 && r->len > 0 && !strchr("0123456789+-.", r->s[0])) continue;
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: relevance '%.*s' is not an integer", path,
                                   (unsigned long long)lineno, (int)SPAR_MIN(r->len, 64), r->s);
                break;
            }
            if (table_push(t, q->s, q->len, d->s, d->len, (double)rel, lineno) != 0) {
                st = SPAR_E_NOMEM;
                break;
            }
        } else {
            if (nf != 6) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT,
                                   "%s:%llu: expected 6 fields 'qid Q0 docid rank score tag', got %s%zu", path,
                                   (unsigned long long)lineno, nf > 6 ? "more than " : "", nf > 6 ? (size_t)6 : nf);
                break;
            }
            double score = 0;
            long rank = 0;
            if (parse_long(&fl[3], &rank) != 0) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: rank '%.*s' is not an integer", path,
                                   (unsigned long long)lineno, (int)SPAR_MIN(fl[3].len, 64), fl[3].s);
                break;
            }
            if (parse_double(&fl[4], &score) != 0) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: score '%.*s' is not a finite number", path,
                                   (unsigned long long)lineno, (int)SPAR_MIN(fl[4].len, 64), fl[4].s);
                break;
            }
            if (table_push(t, fl[0].s, fl[0].len, fl[2].s, fl[2].len, score, lineno) != 0) {
                st = SPAR_E_NOMEM;
                break;
            }
        }
    }
    free(line);
    fclose(f);
    if (st != SPAR_OK) return st;
    if (table_fix(t) != 0) return SPAR_E_NOMEM;
    uint64_t dup_line = 0;
    const char *dup_doc = NULL;
    t->n_dup = dedup(t, &dup_line, &dup_doc);
    if (t->n_dup > 0)
        spar_log(SPAR_LOG_WARN, "%s:%llu: duplicate document '%s' for its query; kept the first occurrence "
                 "(%llu duplicate line(s) ignored)", path, (unsigned long long)dup_line, dup_doc,
                 (unsigned long long)t->n_dup);
    if (kind == KIND_RUN && t->n > 1) qsort(t->recs, t->n, sizeof *t->recs, cmp_qid_score);
    return SPAR_OK;
}

spar_status spar_qrels_load(const char *path, spar_qrels **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_qrels *q = calloc(1, sizeof *q);
    if (q == NULL) return SPAR_E_NOMEM;
    spar_status st = load(path, KIND_QRELS, &q->t, diag);
    if (st != SPAR_OK) {
        spar_qrels_free(q);
        return st;
    }
    *out = q;
    return SPAR_OK;
}

void spar_qrels_free(spar_qrels *q) {
    if (q == NULL) return;
    table_free(&q->t);
    free(q);
}

spar_status spar_run_load(const char *path, spar_run **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_run *r = calloc(1, sizeof *r);
    if (r == NULL) return SPAR_E_NOMEM;
    spar_status st = load(path, KIND_RUN, &r->t, diag);
    if (st != SPAR_OK) {
        spar_run_free(r);
        return st;
    }
    *out = r;
    return SPAR_OK;
}

void spar_run_free(spar_run *r) {
    if (r == NULL) return;
    table_free(&r->t);
    free(r);
}

uint64_t spar_run_duplicates(const spar_run *r) { return r ? r->t.n_dup : 0; }
uint64_t spar_qrels_duplicates(const spar_qrels *q) { return q ? q->t.n_dup : 0; }

/* Relevance of `doc` within the qrels group [lo, hi) sorted by docid; -1 when unjudged. */
static double lookup_rel(const rec *g, size_t n, const char *doc) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g[mid].doc.p, doc);
        if (c == 0) return g[mid].v;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_double_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* End of the group of records with the same qid starting at i. */
static size_t group_end(const rec *r, size_t n, size_t i) {
    size_t j = i + 1;
    while (j < n && r[j].qrank == r[i].qrank) j++;
    return j;
}

/* Metrics of one query: judged docs g[0..ng) (sorted by docid), ranked run docs rr[0..nr). */
static spar_status eval_query(const rec *g, size_t ng, const rec *rr, size_t nr, spar_eval_metrics *m) {
    uint64_t n_rel = 0;
    double *gains = spar_malloc_array(ng, sizeof *gains);
    if (gains == NULL) return SPAR_E_NOMEM;
    for (size_t i = 0; i < ng; i++) {
        gains[i] = g[i].v > 0 ? g[i].v : 0;
        if (g[i].v > 0) n_rel++;
    }
    /* Ideal DCG@10: the judged gains in descending order (trec_eval's ndcg_cut). */
    qsort(gains, ng, sizeof *gains, cmp_double_desc);
    double idcg = 0;
    for (size_t i = 0; i < ng && i < 10; i++) idcg += gains[i] / log2((double)i + 2.0);
    free(gains);

    double dcg = 0, ap_sum = 0, rr10 = 0;
    uint64_t hits = 0, hits100 = 0, hits1000 = 0;
    for (size_t i = 0; i < nr; i++) {
        double rel = lookup_rel(g, ng, rr[i].doc.p);
        if (i < 10 && rel > 0) dcg += rel / log2((double)i + 2.0);
        if (rel > 0) {
            hits++;
            ap_sum += (double)hits / (double)(i + 1);
            if (i < 100) hits100++;
            if (i < 1000) hits1000++;
            if (i < 10 && rr10 == 0) rr10 = 1.0 / (double)(i + 1);
        }
    }
    m->ndcg_10 = idcg > 0 ? dcg / idcg : 0;
    m->map = n_rel ? ap_sum / (double)n_rel : 0;
    m->recall_100 = n_rel ? (double)hits100 / (double)n_rel : 0;
    m->recall_1000 = n_rel ? (double)hits1000 / (double)n_rel : 0;
    m->mrr_10 = rr10;
    return SPAR_OK;
}

spar_status spar_eval(const spar_qrels *q, const spar_run *r, spar_eval_query_fn per_query, void *ud,
                      spar_eval_result *out) {
    if (q == NULL || r == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    const rec *qr = q->t.recs, *rr = r->t.recs;
    size_t nq = q->t.n, nr = r->t.n;
    spar_eval_metrics sum = {0};
    size_t ri = 0; /* run cursor: both tables are sorted by qid (strcmp) */
    for (size_t i = 0; i < nq;) {
        size_t j = group_end(qr, nq, i);
        int any_rel = 0;
        for (size_t k = i; k < j; k++) any_rel |= qr[k].v > 0;
        while (ri < nr && strcmp(rr[ri].qid.p, qr[i].qid.p) < 0) ri++;
        size_t rs = ri, re = ri;
        if (ri < nr && strcmp(rr[ri].qid.p, qr[i].qid.p) == 0) re = group_end(rr, nr, ri);
        if (any_rel) {
            spar_eval_metrics m;
            /* an empty run has no records array: no pointer arithmetic on NULL */
            SPAR_TRY(eval_query(qr + i, j - i, re > rs ? rr + rs : NULL, re - rs, &m));
            if (per_query != NULL) per_query(ud, qr[i].qid.p, &m);
            sum.ndcg_10 += m.ndcg_10;
            sum.map += m.map;
            sum.recall_100 += m.recall_100;
            sum.recall_1000 += m.recall_1000;
            sum.mrr_10 += m.mrr_10;
            out->n_queries++;
        }
        ri = re;
        i = j;
    }
    if (out->n_queries > 0) {
        double n = (double)out->n_queries;
        out->mean.ndcg_10 = sum.ndcg_10 / n;
        out->mean.map = sum.map / n;
        out->mean.recall_100 = sum.recall_100 / n;
        out->mean.recall_1000 = sum.recall_1000 / n;
        out->mean.mrr_10 = sum.mrr_10 / n;
    }
    return SPAR_OK;
}
