/* index/builder.c — spar_index_build (include/spar/spar_index.h): corpus files -> index directory.
 * Pipeline (docs/ARCHITECTURE-index.md): one reader (OpenMP thread 0) fills a batch of documents and
 * their ids into meta.lmdb while the other threads analyse the previous batch (one analyzer per
 * thread); the batch is then inverted in parallel over NPART fixed term-hash partitions, each an
 * in-memory hash table term -> growable (docid, tf) array. Past mem_budget the tables are spilled as a
 * sorted run; at the end runs are k-way merged (or the tables sorted directly) into the segment writer
 * in term byte order. Docids follow input order and nothing depends on the thread count, so the output
 * is byte-identical for any n_threads. Everything is built in "<dir>.tmp-<pid>" and renamed at the end. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#define SPAR_OMP(x) _Pragma(#x)
#else
#define SPAR_OMP(x)
#endif

#include "common/varint.h"
#include "index/analyzer.h"
#include "index/corpus.h"
#include "index/index.h"
#include "index/manifest.h"
#include "index/segment.h"
#include "storage/file.h"
#include "storage/meta.h"

#define NPART 16                  /* inversion partitions (fixed: independent of the thread count) */
#define BATCH_DOCS_MAX 4096
#define BATCH_BYTES_MAX (16u << 20)
#define SEG_NAME "seg-000001.post"
#define META_NAME "meta.lmdb"

void spar_build_opts_default(spar_build_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = SPAR_FORMAT_AUTO;
    o->on_error = SPAR_ON_ERROR_FAIL;
    o->n_threads = 0;
    spar_analysis_opts_default(&o->analysis);
    o->k1 = 0.9f;
    o->b = 0.4f;
    o->mem_budget = 0;
}

/* ---------------------------------------------------------------- small helpers */

static char *path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (p == NULL) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = spar_realloc_array(*p, c, elem);
    if (q == NULL) return 0;
    *p = q;
    *cap = c;
    return 1;
}


static int term_cmp(const char *a, uint32_t la, const char *b, uint32_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

/* ---------------------------------------------------------------- analysis (per thread) */

#define DTERM_INLINE 16
typedef struct dterm {
    uint64_t hash;
    uint32_t tf;
    uint32_t len;
    uint32_t docid;             /* index in the batch */
    uint32_t off;               /* into worker tb */
    char small[DTERM_INLINE];   /* copy of the term when len <= DTERM_INLINE */
} dterm;
/* Equality of two zero-padded 16-byte inline terms (the length is compared separately). */
static inline int eq16(const char *a, const char *b) {
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&a1, a + 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}
static const char *dterm_bytes(const dterm *t, const char *tb) {
    return t->len <= DTERM_INLINE ? t->small : tb + t->off;
}

#define CHUNK_DOCS 32 /* unit of work for analysis; its output is grouped by partition */
typedef struct chunk {
    uint32_t worker;
    size_t pstart[NPART + 1]; /* partition p's terms: worker out[pstart[p] .. pstart[p+1]) in docid order */
} chunk;

typedef struct worker {
    spar_analyzer *an;
    spar_terms terms;
    /* per-document dedup: open addressing over local unique terms, cleared by generation */
    uint32_t *slot_idx, *slot_gen;
    uint32_t mask, gen;
    dterm *loc;
    size_t n_loc, cap_loc;
    /* unique terms of the current chunk, then the batch output grouped per chunk and partition */
    dterm *stage;
    size_t n_stage, cap_stage;
    dterm *out;
    size_t n_out, cap_out;
    char *tb;
    size_t tb_len, tb_cap;
    spar_status st;
} worker;

typedef struct bdoc {
    size_t title_off, title_len, text_off, text_len; /* into the batch arena */
    uint32_t dl;
} bdoc;

typedef struct batch {
    bdoc *docs;
    size_t n, cap;
    char *arena;
    size_t arena_len, arena_cap;
    chunk *chunks;
    size_t cap_chunks;
} batch;

static void worker_free(worker *w) {
    spar_analyzer_free(w->an);
    spar_terms_free(&w->terms);
    free(w->slot_idx);
    free(w->slot_gen);
    free(w->loc);
    free(w->stage);
    free(w->out);
    free(w->tb);
}

/* Analyse one document: its unique terms with tf are appended to w->stage. */
static spar_status analyse_doc(worker *w, const batch *bt, bdoc *d, uint32_t docid) {
    spar_terms_reset(&w->terms);
    if (d->title_len) SPAR_TRY(spar_analyze(w->an, bt->arena + d->title_off, d->title_len, &w->terms));
    if (d->text_len) SPAR_TRY(spar_analyze(w->an, bt->arena + d->text_off, d->text_len, &w->terms));
    const uint32_t nt = w->terms.n;
    d->dl = nt;
    /* dedup table sized to >= 2x the token count */
    uint32_t need = 64;
    while (need < 2 * nt) need *= 2;
    if (need - 1 > w->mask || w->slot_idx == NULL) {
        free(w->slot_idx);
        free(w->slot_gen);
        w->slot_idx = spar_malloc_array(need, sizeof(uint32_t));
        w->slot_gen = calloc(need, sizeof(uint32_t));
        if (w->slot_idx == NULL || w->slot_gen == NULL) return SPAR_E_NOMEM;
        w->mask = need - 1;
        w->gen = 0;
    }
    if (++w->gen == 0) {
        memset(w->slot_gen, 0, ((size_t)w->mask + 1) * sizeof(uint32_t));
        w->gen = 1;
    }
    w->n_loc = 0;
    for (uint32_t i = 0; i < nt; i++) {
        const char *t = w->terms.data + w->terms.off[i];
        const uint32_t len = w->terms.len[i];
        const uint64_t h = XXH3_64bits(t, len);
        char key[DTERM_INLINE] = {0}; /* zero-padded copy of a short term */
        if (len <= DTERM_INLINE) memcpy(key, t, len);
        uint32_t s = (uint32_t)(h >> 32) & w->mask;
        for (;;) {
            if (w->slot_gen[s] != w->gen) {
                if (!grow((void **)&w->loc, &w->cap_loc, w->n_loc + 1, sizeof(dterm))) return SPAR_E_NOMEM;
                dterm *nd = &w->loc[w->n_loc];
                nd->hash = h;
                nd->tf = 1;
                nd->len = len;
                nd->docid = docid;
                nd->off = 0;
                if (len <= DTERM_INLINE) {
                    memcpy(nd->small, key, DTERM_INLINE);
                } else { /* long terms go to the worker's byte buffer */
                    if (w->tb_len + len > UINT32_MAX) return SPAR_E_NOMEM;
                    if (!grow((void **)&w->tb, &w->tb_cap, w->tb_len + len, 1)) return SPAR_E_NOMEM;
                    memcpy(w->tb + w->tb_len, t, len);
                    nd->off = (uint32_t)w->tb_len;
                    w->tb_len += len;
                }
                w->slot_gen[s] = w->gen;
                w->slot_idx[s] = (uint32_t)w->n_loc++;
                break;
            }
            dterm *e = &w->loc[w->slot_idx[s]];
            if (e->hash == h && e->len == len &&
                (len <= DTERM_INLINE ? eq16(e->small, key) : memcmp(w->tb + e->off, t, len) == 0)) {
                e->tf++;
                break;
            }
            s = (s + 1) & w->mask;
        }
    }
    if (!grow((void **)&w->stage, &w->cap_stage, w->n_stage + w->n_loc, sizeof(dterm))) return SPAR_E_NOMEM;
    memcpy(w->stage + w->n_stage, w->loc, w->n_loc * sizeof(dterm));
    w->n_stage += w->n_loc;
    return SPAR_OK;
}

/* Analyse docs [c*CHUNK_DOCS, ...) and move their terms into w->out grouped by partition (stable, so
 * each partition's run stays in docid order). */
static spar_status analyse_chunk(worker *w, batch *bt, size_t c, uint32_t tid) {
    chunk *ch = &bt->chunks[c];
    const size_t lo = c * CHUNK_DOCS, hi = SPAR_MIN(bt->n, lo + CHUNK_DOCS);
    w->n_stage = 0;
    for (size_t i = lo; i < hi; i++) SPAR_TRY(analyse_doc(w, bt, &bt->docs[i], (uint32_t)i));
    size_t cnt[NPART] = {0};
    for (size_t i = 0; i < w->n_stage; i++) cnt[w->stage[i].hash & (NPART - 1)]++;
    if (!grow((void **)&w->out, &w->cap_out, w->n_out + w->n_stage, sizeof(dterm))) return SPAR_E_NOMEM;
    ch->worker = tid;
    ch->pstart[0] = w->n_out;
    for (int p = 0; p < NPART; p++) ch->pstart[p + 1] = ch->pstart[p] + cnt[p];
    size_t pos[NPART];
    memcpy(pos, ch->pstart, sizeof pos);
    for (size_t i = 0; i < w->n_stage; i++) w->out[pos[w->stage[i].hash & (NPART - 1)]++] = w->stage[i];
    w->n_out += w->n_stage;
    return SPAR_OK;
}

/* ---------------------------------------------------------------- inversion (per partition) */

#define PENTRY_INLINE 20 /* terms up to this many bytes live in the entry (one cache line less per probe) */
_Static_assert(PENTRY_INLINE >= DTERM_INLINE && PENTRY_INLINE >= sizeof(size_t), "inline term sizes");

typedef struct pentry {
    uint64_t hash;
    uint32_t *pd; /* interleaved docid, tf */
    uint32_t n, cap;
    uint32_t term_len;
    char small[PENTRY_INLINE]; /* the term, or (longer terms) its size_t offset in part.terms */
} pentry;

/* Open addressing over the entries themselves (no index indirection: one cache miss less per posting).
 * A slot is empty when pd == NULL. Load factor <= 1/2. */
typedef struct part {
    pentry *tab;
    size_t mask; /* slots - 1 (tab == NULL: no slots yet) */
    size_t n_e;
    char *terms; /* bytes of terms longer than PENTRY_INLINE */
    size_t terms_len, terms_cap;
    size_t mem; /* accounted bytes */
    spar_status st;
} part;

static const char *pentry_term(const part *p, const pentry *e) {
    if (e->term_len <= PENTRY_INLINE) return e->small;
    size_t off;
    memcpy(&off, e->small, sizeof off);
    return p->terms + off;
}

static void part_reset(part *p) {
    if (p->tab)
        for (size_t i = 0; i <= p->mask; i++) free(p->tab[i].pd);
    free(p->tab);
    free(p->terms);
    memset(p, 0, sizeof *p);
}

static spar_status part_rehash(part *p) {
    size_t old = p->tab ? p->mask + 1 : 0, ns = old ? old * 2 : 1024;
    pentry *t = calloc(ns, sizeof(pentry));
    if (t == NULL) return SPAR_E_NOMEM;
    for (size_t i = 0; i < old; i++) {
        if (p->tab[i].pd == NULL) continue;
        size_t k = (size_t)(p->tab[i].hash >> 8) & (ns - 1);
        while (t[k].pd) k = (k + 1) & (ns - 1);
        t[k] = p->tab[i];
    }
    p->mem += (ns - old) * sizeof(pentry);
    free(p->tab);
    p->tab = t;
    p->mask = ns - 1;
    return SPAR_OK;
}

static spar_status part_add(part *p, const dterm *t, const char *bytes, uint32_t docid) {
    if (p->tab == NULL || 2 * (p->n_e + 1) > p->mask + 1) SPAR_TRY(part_rehash(p));
    size_t k = (size_t)(t->hash >> 8) & p->mask;
    pentry *e;
    for (;;) {
        e = &p->tab[k];
        if (e->pd == NULL) break;
        if (e->hash == t->hash && e->term_len == t->len &&
            (t->len <= DTERM_INLINE ? eq16(e->small, t->small) : memcmp(pentry_term(p, e), bytes, t->len) == 0))
            break;
        k = (k + 1) & p->mask;
    }
    if (e->pd == NULL) { /* new term */
        uint32_t *pd = malloc(2 * 2 * sizeof(uint32_t));
        if (pd == NULL) return SPAR_E_NOMEM;
        e->hash = t->hash;
        e->term_len = t->len;
        e->n = 0;
        e->cap = 2;
        if (t->len <= DTERM_INLINE) {
            memcpy(e->small, t->small, DTERM_INLINE); /* zero-padded, so eq16 applies */
        } else if (t->len <= PENTRY_INLINE) {
            memcpy(e->small, bytes, t->len);
        } else {
            size_t ot = p->terms_cap;
            if (!grow((void **)&p->terms, &p->terms_cap, p->terms_len + t->len, 1)) {
                free(pd);
                return SPAR_E_NOMEM;
            }
            p->mem += p->terms_cap - ot;
            memcpy(p->terms + p->terms_len, bytes, t->len);
            memcpy(e->small, &p->terms_len, sizeof p->terms_len);
            p->terms_len += t->len;
        }
        e->pd = pd;
        p->mem += 2 * 2 * sizeof(uint32_t);
        p->n_e++;
    } else if (e->n == e->cap) {
        if (e->cap > UINT32_MAX / 4) return SPAR_E_NOMEM; /* > 2^30 postings of one term in memory */
        uint32_t nc = e->cap * 2;
        uint32_t *q = realloc(e->pd, (size_t)nc * 2 * sizeof(uint32_t));
        if (q == NULL) return SPAR_E_NOMEM;
        p->mem += (size_t)(nc - e->cap) * 2 * sizeof(uint32_t);
        e->pd = q;
        e->cap = nc;
    }
    e->pd[2 * e->n] = docid;
    e->pd[2 * e->n + 1] = t->tf;
    e->n++;
    return SPAR_OK;
}

typedef struct tref {
    const char *term;
    uint32_t len;
    const pentry *e;
} tref;

static int tref_cmp(const void *a, const void *b) {
    const tref *x = a, *y = b;
    return term_cmp(x->term, x->len, y->term, y->len);
}

/* All terms of all partitions, sorted by bytes. */
static spar_status sorted_terms(part *parts, tref **out, size_t *n_out) {
    size_t n = 0;
    for (int p = 0; p < NPART; p++) n += parts[p].n_e;
    tref *r = spar_malloc_array(n ? n : 1, sizeof(tref));
    if (r == NULL) return SPAR_E_NOMEM;
    size_t k = 0;
    for (int p = 0; p < NPART; p++)
        for (size_t i = 0; parts[p].tab && i <= parts[p].mask; i++)
            if (parts[p].tab[i].pd)
                r[k++] = (tref){pentry_term(&parts[p], &parts[p].tab[i]), parts[p].tab[i].term_len, &parts[p].tab[i]};
    qsort(r, n, sizeof(tref), tref_cmp);
    *out = r;
    *n_out = n;
    return SPAR_OK;
}

/* ---------------------------------------------------------------- build state */

typedef struct build {
    const char *const *inputs;
    size_t n_inputs;
    const spar_build_opts *o;
    spar_build_stats *stats;
    spar_diag *diag;
    char *tmp;            /* "<dir>.tmp-<pid>" */
    int n_threads;
    size_t budget;
    size_t batch_docs, batch_bytes;
    /* reader */
    size_t cur_input;
    spar_corpus *corpus;
    int eof;
    uint64_t bytes_total, bytes_done_files;
    double last_progress;
    spar_status rd_st;
    spar_diag rd_diag;
    /* documents */
    spar_meta_writer *meta;
    uint32_t *doclens;
    size_t n_docs, cap_docs;
    uint64_t *doc_line;   /* line of each docid, for duplicate messages */
    uint32_t *doc_file;   /* input index of each docid */
    size_t cap_lines, cap_files;
    size_t n_read;        /* documents accepted by the reader so far */
    /* inversion */
    part parts[NPART];
    worker *workers;
    uint32_t n_runs;
    uint64_t n_terms, n_postings;
} build;

static int progress(build *b, const char *stage, const char *unit, uint64_t done, uint64_t total, uint64_t items,
                    int force) {
    if (b->o->progress == NULL) return 0;
    double now = spar_now();
    if (!force && now - b->last_progress < 0.1) return 0;
    b->last_progress = now;
    spar_progress p = {stage, unit, done, total, items};
    return b->o->progress(b->o->progress_ud, &p);
}

/* A malformed line: fail -> error; skip -> count it. diag_msg is "path:line: reason". */
static spar_status malformed(build *b, const char *msg) {
    if (b->o->on_error == SPAR_ON_ERROR_FAIL) {
        spar_diag_set(&b->rd_diag, "%s", msg);
        return SPAR_E_CORRUPT;
    }
    if (b->stats->n_skipped++ == 0) {
        size_t n = strlen(msg), cap = sizeof b->stats->first_error;
        if (n >= cap) n = cap - 1;
        memcpy(b->stats->first_error, msg, n);
        b->stats->first_error[n] = '\0';
    }
    return SPAR_OK;
}

static spar_status open_next_input(build *b) {
    while (b->corpus == NULL) {
        if (b->cur_input >= b->n_inputs) {
            b->eof = 1;
            return SPAR_OK;
        }
        SPAR_TRY(spar_corpus_open(b->inputs[b->cur_input], b->o->format, &b->corpus, &b->rd_diag));
    }
    return SPAR_OK;
}

static void close_input(build *b) {
    uint64_t done = 0, total = 0;
    spar_corpus_progress(b->corpus, &done, &total);
    b->stats->n_lines += spar_corpus_lines(b->corpus);
    b->stats->n_blank += spar_corpus_blank_lines(b->corpus);
    b->bytes_done_files += total;
    spar_corpus_close(b->corpus);
    b->corpus = NULL;
    b->cur_input++;
}

/* Reader: fill `bt` with the next documents (ids go into meta.lmdb in the same order). */
static spar_status read_batch(build *b, batch *bt) {
    spar_status st = SPAR_OK;
    bt->n = 0;
    bt->arena_len = 0;
    if (b->eof) return SPAR_OK;
    SPAR_TRY(spar_meta_writer_begin(b->meta, &b->rd_diag));
    while (bt->n < b->batch_docs && bt->arena_len < b->batch_bytes) {
        SPAR_TRY_GOTO(st, open_next_input(b), done);
        if (b->eof) break;
        spar_doc doc;
        spar_diag d;
        d.msg[0] = '\0';
        st = spar_corpus_next(b->corpus, &doc, &d);
        if (st == SPAR_E_NOT_FOUND) {
            close_input(b);
            st = SPAR_OK;
            continue;
        }
        if (st == SPAR_E_CORRUPT) {
            SPAR_TRY_GOTO(st, malformed(b, d.msg), done);
            continue;
        }
        if (st != SPAR_OK) {
            spar_diag_set(&b->rd_diag, "%s", d.msg);
            goto done;
        }
        const size_t docid = b->n_read;
        uint32_t first = 0;
        st = spar_meta_writer_add(b->meta, doc.id, doc.id_len, doc.title, doc.title_len, doc.text, doc.text_len,
                                  &first, &d);
        if (st == SPAR_E_EXISTS || st == SPAR_E_CORRUPT) {
            char msg[sizeof d.msg + 64];
            const char *path = b->inputs[b->cur_input];
            if (st == SPAR_E_EXISTS) {
                if (first < docid && b->doc_file[first] == b->cur_input)
                    snprintf(msg, sizeof msg, "%s:%" PRIu64 ": duplicate _id '%.200s' (first seen at line %" PRIu64 ")",
                             path, doc.line, doc.id, b->doc_line[first]);
                else if (first < docid)
                    snprintf(msg, sizeof msg, "%s:%" PRIu64 ": duplicate _id '%.200s' (first seen at %s:%" PRIu64 ")",
                             path, doc.line, doc.id, b->inputs[b->doc_file[first]], b->doc_line[first]);
                else
                    snprintf(msg, sizeof msg, "%s:%" PRIu64 ": duplicate _id '%.200s'", path, doc.line, doc.id);
            } else {
                snprintf(msg, sizeof msg, "%s:%" PRIu64 ": %s", path, doc.line, d.msg);
            }
            SPAR_TRY_GOTO(st, malformed(b, msg), done);
            continue;
        }
        if (st != SPAR_OK) {
            spar_diag_set(&b->rd_diag, "%s: %s", META_NAME, d.msg);
            goto done;
        }
        if (!grow((void **)&b->doc_line, &b->cap_lines, docid + 1, sizeof(uint64_t)) ||
            !grow((void **)&b->doc_file, &b->cap_files, docid + 1, sizeof(uint32_t)))
            goto nomem;
        b->n_read++;
        b->doc_line[docid] = doc.line;
        b->doc_file[docid] = (uint32_t)b->cur_input;
        if (!grow((void **)&bt->docs, &bt->cap, bt->n + 1, sizeof(bdoc))) goto nomem;
        if (!grow((void **)&bt->arena, &bt->arena_cap, bt->arena_len + doc.title_len + doc.text_len, 1)) goto nomem;
        bdoc *x = &bt->docs[bt->n++];
        memset(x, 0, sizeof *x);
        x->title_off = bt->arena_len;
        x->title_len = doc.title_len;
        memcpy(bt->arena + bt->arena_len, doc.title, doc.title_len);
        bt->arena_len += doc.title_len;
        x->text_off = bt->arena_len;
        x->text_len = doc.text_len;
        memcpy(bt->arena + bt->arena_len, doc.text, doc.text_len);
        bt->arena_len += doc.text_len;
        if (b->o->progress) {
            uint64_t dn = 0, tot = 0;
            spar_corpus_progress(b->corpus, &dn, &tot);
            if (progress(b, "read", "bytes", b->bytes_done_files + dn, b->bytes_total, docid + 1, 0)) {
                st = spar_diag_err(&b->rd_diag, SPAR_E_CANCELLED, "cancelled by the progress callback");
                goto done;
            }
        }
    }
done:
    if (st == SPAR_OK) return spar_meta_writer_end(b->meta, &b->rd_diag);
    return st;
nomem:
    st = SPAR_E_NOMEM;
    goto done;
}

/* ---------------------------------------------------------------- runs */

static spar_status write_run(part *parts, const char *path, spar_diag *diag) {
    tref *r = NULL;
    size_t n = 0;
    spar_status st = sorted_terms(parts, &r, &n);
    if (st != SPAR_OK) return st;
    spar_file_writer *w = NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    SPAR_TRY_GOTO(st, spar_file_writer_open(path, SPAR_KIND_RUN, 1, 0, 0, &w, diag), done);
    for (size_t i = 0; i < n; i++) {
        const pentry *e = r[i].e;
        size_t need = 20 + r[i].len + (size_t)e->n * 10;
        if (!grow((void **)&buf, &cap, need, 1)) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        size_t k = spar_varint_put(buf, r[i].len);
        memcpy(buf + k, r[i].term, r[i].len);
        k += r[i].len;
        k += spar_varint_put(buf + k, e->n);
        uint32_t prev = 0;
        for (uint32_t j = 0; j < e->n; j++) {
            k += spar_varint_put(buf + k, e->pd[2 * j] - prev);
            prev = e->pd[2 * j];
            k += spar_varint_put(buf + k, e->pd[2 * j + 1]);
        }
        SPAR_TRY_GOTO(st, spar_file_writer_write(w, buf, k), done);
    }
    st = spar_file_writer_commit(w, diag);
    w = NULL;
done:
    spar_file_writer_abort(w);
    free(buf);
    free(r);
    return st;
}

static char *run_path(const build *b, uint32_t i) {
    char name[32];
    snprintf(name, sizeof name, "run-%06u.tmp", (unsigned)i);
    return path_join(b->tmp, name);
}

static spar_status spill(build *b) {
    char *path = run_path(b, b->n_runs);
    if (path == NULL) return SPAR_E_NOMEM;
    spar_status st = write_run(b->parts, path, b->diag);
    free(path);
    if (st != SPAR_OK) return st;
    b->n_runs++;
    for (int p = 0; p < NPART; p++) part_reset(&b->parts[p]);
    return SPAR_OK;
}

typedef struct run_cur {
    spar_mapped_file mf;
    size_t pos;
    const char *term;
    uint32_t len;
    uint64_t n;
    size_t data_pos; /* postings start */
    int done;
} run_cur;

static int run_advance(run_cur *c) {
    const uint8_t *p = c->mf.payload;
    size_t len = c->mf.payload_bytes;
    if (c->pos >= len) {
        c->done = 1;
        return 1;
    }
    uint64_t tl, n;
    if (!spar_varint_get(p, len, &c->pos, &tl) || tl == 0 || tl > len - c->pos) return 0;
    c->term = (const char *)p + c->pos;
    c->len = (uint32_t)tl;
    c->pos += tl;
    if (!spar_varint_get(p, len, &c->pos, &n) || n == 0 || n > len) return 0;
    c->n = n;
    c->data_pos = c->pos;
    /* skip the postings */
    for (uint64_t i = 0; i < 2 * n; i++) {
        uint64_t v;
        if (!spar_varint_get(p, len, &c->pos, &v)) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- write the segment */

typedef struct scratch {
    uint32_t *d, *t;
    size_t n, cap_d, cap_t;
} scratch;

static spar_status scratch_push(scratch *s, uint32_t d, uint32_t t) {
    if (!grow((void **)&s->d, &s->cap_d, s->n + 1, sizeof(uint32_t)) ||
        !grow((void **)&s->t, &s->cap_t, s->n + 1, sizeof(uint32_t)))
        return SPAR_E_NOMEM;
    s->d[s->n] = d;
    s->t[s->n] = t;
    s->n++;
    return SPAR_OK;
}

static spar_status add_term(build *b, spar_segment_writer *sw, const char *term, uint32_t len, scratch *s) {
    spar_status st = spar_segment_writer_add(sw, term, len, s->d, s->t, (uint32_t)s->n);
    if (st != SPAR_OK) return spar_diag_err(b->diag, st, "%s: adding term failed: %s", SEG_NAME, spar_status_str(st));
    b->n_terms++;
    b->n_postings += s->n;
    if ((b->n_terms & 4095) == 0 &&
        progress(b, b->n_runs ? "merge" : "write", "terms", b->n_terms, 0, b->n_docs, 0))
        return spar_diag_err(b->diag, SPAR_E_CANCELLED, "cancelled by the progress callback");
    return SPAR_OK;
}

static spar_status write_from_memory(build *b, spar_segment_writer *sw) {
    tref *r = NULL;
    size_t n = 0;
    scratch s = {0};
    spar_status st = sorted_terms(b->parts, &r, &n);
    if (st != SPAR_OK) return st;
    for (size_t i = 0; i < n && st == SPAR_OK; i++) {
        if (i + 8 < n) __builtin_prefetch(r[i + 8].e->pd); /* lists are visited in term order: random memory */
        const pentry *e = r[i].e;
        if (!grow((void **)&s.d, &s.cap_d, e->n, sizeof(uint32_t)) ||
            !grow((void **)&s.t, &s.cap_t, e->n, sizeof(uint32_t))) {
            st = SPAR_E_NOMEM;
            break;
        }
        for (uint32_t j = 0; j < e->n; j++) {
            s.d[j] = e->pd[2 * j];
            s.t[j] = e->pd[2 * j + 1];
        }
        s.n = e->n;
        st = add_term(b, sw, r[i].term, r[i].len, &s);
    }
    free(s.d);
    free(s.t);
    free(r);
    return st;
}

static spar_status write_from_runs(build *b, spar_segment_writer *sw) {
    spar_status st = SPAR_OK;
    scratch s = {0};
    run_cur *c = calloc(b->n_runs, sizeof *c);
    if (c == NULL) return SPAR_E_NOMEM;
    for (uint32_t i = 0; i < b->n_runs; i++) {
        char *path = run_path(b, i);
        if (path == NULL) {
            st = SPAR_E_NOMEM;
            goto done;
        }
        st = spar_file_map(path, SPAR_KIND_RUN, 1, 0, &c[i].mf, b->diag);
        free(path);
        if (st != SPAR_OK) goto done;
        if (!run_advance(&c[i])) goto corrupt;
    }
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < b->n_runs; i++)
            if (!c[i].done && (best < 0 || term_cmp(c[i].term, c[i].len, c[best].term, c[best].len) < 0))
                best = (int)i;
        if (best < 0) break;
        const char *term = c[best].term;
        const uint32_t len = c[best].len;
        s.n = 0;
        /* runs hold consecutive docid ranges in run order: concatenating keeps docids ascending */
        for (uint32_t i = (uint32_t)best; i < b->n_runs; i++) {
            if (c[i].done || term_cmp(c[i].term, c[i].len, term, len) != 0) continue;
            size_t pos = c[i].data_pos;
            uint64_t prev = 0;
            for (uint64_t j = 0; j < c[i].n; j++) {
                uint64_t gap = 0, tf = 0;
                if (!spar_varint_get(c[i].mf.payload, c[i].mf.payload_bytes, &pos, &gap) ||
                    !spar_varint_get(c[i].mf.payload, c[i].mf.payload_bytes, &pos, &tf))
                    goto corrupt;
                prev += gap;
                if (prev >= b->n_docs || tf == 0 || tf > UINT32_MAX) goto corrupt;
                SPAR_TRY_GOTO(st, scratch_push(&s, (uint32_t)prev, (uint32_t)tf), done);
            }
        }
        SPAR_TRY_GOTO(st, add_term(b, sw, term, len, &s), done);
        for (uint32_t i = (uint32_t)best; i < b->n_runs; i++) {
            if (c[i].done) continue;
            if (i != (uint32_t)best && term_cmp(c[i].term, c[i].len, term, len) != 0) continue;
            if (!run_advance(&c[i])) goto corrupt;
        }
    }
    goto done;
corrupt:
    st = spar_diag_err(b->diag, SPAR_E_INTERNAL, "spill run is malformed");
done:
    for (uint32_t i = 0; i < b->n_runs; i++) spar_file_unmap(&c[i].mf);
    free(c);
    free(s.d);
    free(s.t);
    return st;
}

/* ---------------------------------------------------------------- driver */

static int n_threads_of(const spar_build_opts *o) {
#ifdef SPAR_HAVE_OPENMP
    int n = o->n_threads > 0 ? o->n_threads : omp_get_max_threads();
    return n < 1 ? 1 : n > 256 ? 256 : n;
#else
    (void)o;
    return 1;
#endif
}

static int thread_num(void) {
#ifdef SPAR_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Analyse batch `cur` on all threads while thread 0 reads batch `next`. */
static void analyse_and_read(build *b, batch *cur, batch *next, int do_read) {
    const long n_chunks = (long)((cur->n + CHUNK_DOCS - 1) / CHUNK_DOCS);
    for (int t = 0; t < b->n_threads; t++) {
        b->workers[t].n_out = 0;
        b->workers[t].tb_len = 0;
    }
    if (!grow((void **)&cur->chunks, &cur->cap_chunks, (size_t)n_chunks, sizeof(chunk))) {
        b->workers[0].st = SPAR_E_NOMEM;
        return;
    }
    SPAR_OMP(omp parallel num_threads(b->n_threads))
    {
        const int tid = thread_num();
        if (tid == 0 && do_read) b->rd_st = read_batch(b, next);
        SPAR_OMP(omp for schedule(dynamic, 1))
        for (long c = 0; c < n_chunks; c++) {
            worker *w = &b->workers[tid];
            if (w->st != SPAR_OK) continue;
            w->st = analyse_chunk(w, cur, (size_t)c, (uint32_t)tid);
        }
    }
}

static spar_status invert_batch(build *b, const batch *bt) {
    const uint32_t base = (uint32_t)b->n_docs;
    const size_t n_chunks = (bt->n + CHUNK_DOCS - 1) / CHUNK_DOCS;
    SPAR_OMP(omp parallel for schedule(dynamic, 1) num_threads(b->n_threads))
    for (int p = 0; p < NPART; p++) {
        part *pt = &b->parts[p];
        for (size_t c = 0; c < n_chunks && pt->st == SPAR_OK; c++) {
            const chunk *ch = &bt->chunks[c];
            const worker *w = &b->workers[ch->worker];
            for (size_t k = ch->pstart[p]; k < ch->pstart[p + 1]; k++) {
                const dterm *t = &w->out[k];
                if ((pt->st = part_add(pt, t, dterm_bytes(t, w->tb), base + t->docid)) != SPAR_OK) break;
            }
        }
    }
    for (int p = 0; p < NPART; p++)
        if (b->parts[p].st != SPAR_OK) return b->parts[p].st;
    if (!grow((void **)&b->doclens, &b->cap_docs, b->n_docs + bt->n, sizeof(uint32_t))) return SPAR_E_NOMEM;
    for (size_t i = 0; i < bt->n; i++) b->doclens[b->n_docs + i] = bt->docs[i].dl;
    b->n_docs += bt->n;
    return SPAR_OK;
}

static uint64_t file_bytes(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}


/* Everything from the reader to the MANIFEST, inside b->tmp. */
static spar_status build_in_tmp(build *b) {
    spar_status st = SPAR_OK;
    spar_diag *diag = b->diag;
    batch bt[2];
    memset(bt, 0, sizeof bt);
    spar_segment_writer *sw = NULL;
    char *meta_dir = path_join(b->tmp, META_NAME), *seg_path = path_join(b->tmp, SEG_NAME);
    char *data_mdb = meta_dir ? path_join(meta_dir, SPAR_META_DATA_FILE) : NULL;
    char analysis[256];
    if (meta_dir == NULL || seg_path == NULL || data_mdb == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    if (spar_analysis_opts_format(&b->o->analysis, analysis, sizeof analysis) != SPAR_OK) {
        st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "analysis options cannot be recorded");
        goto done;
    }
    b->workers = calloc((size_t)b->n_threads, sizeof(worker));
    if (b->workers == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    for (int t = 0; t < b->n_threads; t++)
        SPAR_TRY_GOTO(st, spar_analyzer_create(&b->o->analysis, &b->workers[t].an, diag), done);
    /* map size: ids + stored text are bounded by the input size (x4 for B-tree overhead and gzip) */
    for (size_t i = 0; i < b->n_inputs; i++) b->bytes_total += file_bytes(b->inputs[i]);
    uint64_t map = (b->o->store_text ? 4 * b->bytes_total : b->bytes_total / 2) + (64u << 20);
    SPAR_TRY_GOTO(st, spar_meta_writer_open(meta_dir, map, b->o->store_text, &b->meta, diag), done);

    if (progress(b, "read", "bytes", 0, b->bytes_total, 0, 1)) {
        st = spar_diag_err(diag, SPAR_E_CANCELLED, "cancelled by the progress callback");
        goto done;
    }
    int cur = 0;
    b->rd_st = read_batch(b, &bt[cur]);
    for (;;) {
        if (b->rd_st != SPAR_OK) {
            st = b->rd_st;
            spar_diag_set(diag, "%s", b->rd_diag.msg);
            goto done;
        }
        if (bt[cur].n == 0) break;
        analyse_and_read(b, &bt[cur], &bt[1 - cur], 1);
        for (int t = 0; t < b->n_threads; t++)
            if (b->workers[t].st != SPAR_OK) {
                st = b->workers[t].st;
                goto done;
            }
        SPAR_TRY_GOTO(st, invert_batch(b, &bt[cur]), done);
        size_t mem = 0;
        for (int p = 0; p < NPART; p++) mem += b->parts[p].mem;
        if (mem > b->budget) SPAR_TRY_GOTO(st, spill(b), done);
        cur = 1 - cur;
    }
    if (progress(b, "read", "bytes", b->bytes_total, b->bytes_total, b->n_docs, 1)) {
        st = spar_diag_err(diag, SPAR_E_CANCELLED, "cancelled by the progress callback");
        goto done;
    }
    /* meta: settings, then close (sync) and hash the file */
    char num[64];
    SPAR_TRY_GOTO(st, spar_meta_writer_set(b->meta, "analysis", analysis, diag), done);
    snprintf(num, sizeof num, "%.9g", (double)b->o->k1);
    SPAR_TRY_GOTO(st, spar_meta_writer_set(b->meta, "k1", num, diag), done);
    snprintf(num, sizeof num, "%.9g", (double)b->o->b);
    SPAR_TRY_GOTO(st, spar_meta_writer_set(b->meta, "b", num, diag), done);
    snprintf(num, sizeof num, "%zu", b->n_docs);
    SPAR_TRY_GOTO(st, spar_meta_writer_set(b->meta, "n_docs", num, diag), done);
    spar_manifest m;
    memset(&m, 0, sizeof m);
    st = spar_meta_writer_close(b->meta, &m.meta_doc2id_xxh3, &m.meta_fields_xxh3, diag);
    b->meta = NULL;
    if (st != SPAR_OK) goto done;
    SPAR_TRY_GOTO(st, spar_file_hash(data_mdb, NULL, SPAR_E_IO, &m.meta_bytes, &m.meta_file_xxh3, diag), done);

    /* postings */
    if (b->n_runs > 0) SPAR_TRY_GOTO(st, spill(b), done);
    SPAR_TRY_GOTO(st, spar_segment_writer_open(seg_path, (uint32_t)b->n_docs, b->doclens, b->o->k1, b->o->b, &sw,
                                               diag), done);
    if (b->n_runs > 0) {
        if (progress(b, "merge", "runs", 0, b->n_runs, b->n_docs, 1)) {
            st = spar_diag_err(diag, SPAR_E_CANCELLED, "cancelled by the progress callback");
            goto done;
        }
        SPAR_TRY_GOTO(st, write_from_runs(b, sw), done);
    } else {
        SPAR_TRY_GOTO(st, write_from_memory(b, sw), done);
    }
    for (int p = 0; p < NPART; p++) part_reset(&b->parts[p]);
    if (progress(b, "write", "terms", b->n_terms, b->n_terms, b->n_docs, 1)) {
        st = spar_diag_err(diag, SPAR_E_CANCELLED, "cancelled by the progress callback");
        goto done;
    }
    st = spar_segment_writer_commit(sw, diag);
    sw = NULL;
    if (st != SPAR_OK) goto done;
    for (uint32_t i = 0; i < b->n_runs; i++) {
        char *rp = run_path(b, i);
        if (rp) unlink(rp);
        free(rp);
    }
    spar_mapped_file seg;
    SPAR_TRY_GOTO(st, spar_file_map(seg_path, SPAR_KIND_POSTINGS, SPAR_SEGMENT_VERSION_MAJOR, SPAR_MAP_NO_CHECKSUM,
                                    &seg, diag), done);
    m.n_segments = 1;
    snprintf(m.segments[0].file, sizeof m.segments[0].file, "%s", SEG_NAME);
    snprintf(m.segments[0].kind, sizeof m.segments[0].kind, "postings");
    m.segments[0].bytes = seg.size;
    m.segments[0].payload_xxh3 = seg.hdr.payload_xxh3;
    spar_file_unmap(&seg);

    m.format_major = SPAR_INDEX_FORMAT_MAJOR;
    m.format_minor = SPAR_INDEX_FORMAT_MINOR;
    m.n_docs = b->n_docs;
    m.n_terms = b->n_terms;
    m.n_postings = b->n_postings;
    m.k1 = b->o->k1;
    m.b = b->o->b;
    memcpy(m.analysis, analysis, sizeof m.analysis);
    m.store_text = b->o->store_text ? 1 : 0;
    snprintf(m.meta_dir, sizeof m.meta_dir, "%s", META_NAME);
    SPAR_TRY_GOTO(st, spar_manifest_write(b->tmp, &m, diag), done);
    SPAR_TRY_GOTO(st, spar_fsync_dir(meta_dir, diag), done);
    st = spar_fsync_dir(b->tmp, diag);
done:
    spar_segment_writer_abort(sw);
    spar_meta_writer_abort(b->meta);
    b->meta = NULL;
    for (int i = 0; i < 2; i++) {
        free(bt[i].docs);
        free(bt[i].arena);
        free(bt[i].chunks);
    }
    if (b->workers)
        for (int t = 0; t < b->n_threads; t++) worker_free(&b->workers[t]);
    free(b->workers);
    b->workers = NULL;
    free(meta_dir);
    free(seg_path);
    free(data_mdb);
    return st;
}

static char *parent_of(const char *dir) {
    const char *s = strrchr(dir, '/');
    if (s == NULL) return strdup(".");
    if (s == dir) return strdup("/");
    return strndup(dir, (size_t)(s - dir));
}

spar_status spar_index_build(const char *const *inputs, size_t n_inputs, const char *dir,
                             const spar_build_opts *opts, spar_build_stats *stats, spar_diag *diag) {
    spar_build_opts def;
    spar_build_stats local;
    if (opts == NULL) {
        spar_build_opts_default(&def);
        opts = &def;
    }
    if (stats == NULL) stats = &local;
    memset(stats, 0, sizeof *stats);
    if (diag) diag->msg[0] = '\0';
    if (dir == NULL || *dir == '\0' || (n_inputs > 0 && inputs == NULL))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "build: missing output directory or inputs");
    for (size_t i = 0; i < n_inputs; i++)
        if (inputs[i] == NULL) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "build: input %zu is NULL", i);
    if (!(opts->k1 >= 0 && opts->k1 < 1e6f) || !(opts->b >= 0 && opts->b <= 1))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "build: k1 must be >= 0 and b in [0, 1]");
    if (opts->on_error != SPAR_ON_ERROR_FAIL && opts->on_error != SPAR_ON_ERROR_SKIP)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "build: bad on_error");
    const double t0 = spar_now();
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    char *out = strndup(dir, dl);
    if (out == NULL) return SPAR_E_NOMEM;
    struct stat sb;
    if (stat(out, &sb) == 0 && !opts->overwrite) {
        free(out);
        return spar_diag_err(diag, SPAR_E_EXISTS, "%s: already exists (use overwrite)", dir);
    }
    build b;
    memset(&b, 0, sizeof b);
    b.inputs = inputs;
    b.n_inputs = n_inputs;
    b.o = opts;
    b.stats = stats;
    b.diag = diag;
    b.n_threads = n_threads_of(opts);
    b.budget = opts->mem_budget ? opts->mem_budget : ((size_t)1 << 30);
    b.batch_docs = SPAR_MAX((size_t)1, SPAR_MIN((size_t)BATCH_DOCS_MAX, b.budget / (4u << 10)));
    b.batch_bytes = SPAR_MAX((size_t)1 << 16, SPAR_MIN((size_t)BATCH_BYTES_MAX, b.budget / 8));
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".tmp-%ld", (long)getpid());
    size_t sl = strlen(suffix);
    b.tmp = malloc(dl + sl + 1);
    char *old = malloc(dl + sl + 1);
    char *parent = parent_of(out);
    spar_status st = SPAR_OK;
    if (b.tmp == NULL || old == NULL || parent == NULL) {
        st = SPAR_E_NOMEM;
        goto done;
    }
    memcpy(b.tmp, out, dl);
    memcpy(b.tmp + dl, suffix, sl + 1);
    snprintf(old, dl + sl + 1, "%s.old-%ld", out, (long)getpid());
    if (spar_remove_tree(b.tmp) != SPAR_OK || mkdir(b.tmp, 0755) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot create: %s", b.tmp, strerror(errno));
        goto done;
    }
    st = build_in_tmp(&b);
    if (st != SPAR_OK) goto fail;
    /* publish */
    int replaced = 0;
    if (stat(out, &sb) == 0) {
        if (!opts->overwrite) {
            st = spar_diag_err(diag, SPAR_E_EXISTS, "%s: already exists (use overwrite)", dir);
            goto fail;
        }
        if (rename(out, old) != 0) {
            st = spar_diag_err(diag, SPAR_E_IO, "%s: cannot move the old index away: %s", dir, strerror(errno));
            goto fail;
        }
        replaced = 1;
    }
    if (rename(b.tmp, out) != 0) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: rename from %s: %s", dir, b.tmp, strerror(errno));
        if (replaced && rename(old, out) != 0) spar_log(SPAR_LOG_ERROR, "%s: could not restore the old index", dir);
        goto fail;
    }
    if (replaced) (void)spar_remove_tree(old);
    st = spar_fsync_dir(parent, diag);
    stats->n_docs = b.n_docs;
    stats->n_terms = b.n_terms;
    stats->n_postings = b.n_postings;
    stats->index_bytes = spar_dir_bytes(out);
    stats->seconds = spar_now() - t0;
    goto done;
fail:
    (void)spar_remove_tree(b.tmp);
done:
    if (b.corpus) spar_corpus_close(b.corpus);
    for (int p = 0; p < NPART; p++) part_reset(&b.parts[p]);
    free(b.doclens);
    free(b.doc_line);
    free(b.doc_file);
    free(b.tmp);
    free(old);
    free(parent);
    free(out);
    return st;
}
