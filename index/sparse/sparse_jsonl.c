/* sparse_jsonl.c — readers for learned-sparse vectors: a token vocabulary (vocab.txt, id = line number)
 * and JSONL files of {"id"|"_id", "vector": {token: weight}} (Anserini JsonVectorCollection, Seismic,
 * query-vector files), plain or gzip. Output is a CSR with ascending ids per row (duplicates summed).
 * Every error names "path:line: reason"; malformed input never crashes (fuzzed by fuzz_sparse_load). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

#include "common/common.h"
#include "index/sparse/sparse_int.h"
#include "spar/spar_sparse.h"

/* ---- vocabulary: open addressing over token strings stored in one arena ---- */
struct spar_sparse_vocab {
    char *arena;       /* tokens, NUL-separated */
    uint64_t *tok_off; /* n offsets into arena */
    uint32_t *tok_len;
    uint32_t n;
    uint32_t *slots;   /* cap entries: term id + 1, 0 = empty */
    uint64_t cap;
};

static uint64_t vocab_slot(const spar_sparse_vocab *v, const char *tok, size_t len, int *found) {
    uint64_t h = XXH3_64bits(tok, len) & (v->cap - 1);
    for (;;) {
        uint32_t s = v->slots[h];
        if (s == 0) { *found = 0; return h; }
        if (v->tok_len[s - 1] == len && memcmp(v->arena + v->tok_off[s - 1], tok, len) == 0) { *found = 1; return h; }
        h = (h + 1) & (v->cap - 1);
    }
}

uint32_t spar_sparse_vocab_find(const spar_sparse_vocab *v, const char *tok, size_t len) {
    if (v == NULL || tok == NULL) return UINT32_MAX;
    int found;
    uint64_t h = vocab_slot(v, tok, len, &found);
    return found ? v->slots[h] - 1 : UINT32_MAX;
}

uint32_t spar_sparse_vocab_size(const spar_sparse_vocab *v) { return v ? v->n : 0; }

void spar_sparse_vocab_free(spar_sparse_vocab *v) {
    if (v == NULL) return;
    free(v->arena);
    free(v->tok_off);
    free(v->tok_len);
    free(v->slots);
    free(v);
}

spar_status spar_sparse_vocab_load(const char *path, spar_sparse_vocab **out, spar_diag *diag) {
    spar_status st = SPAR_OK;
    spar_sparse_vocab *v = NULL;
    FILE *f = NULL;
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) return spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) { st = spar_diag_err(diag, SPAR_E_IO, "%s: seek failed", path); goto done; }
    long size = ftell(f);
    if (size < 0 || (unsigned long)size > (1ul << 31)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: unreadable or too large", path);
        goto done;
    }
    rewind(f);
    v = calloc(1, sizeof *v);
    if (v == NULL) { st = SPAR_E_NOMEM; goto done; }
    v->arena = malloc((size_t)size + 2);
    if (v->arena == NULL) { st = SPAR_E_NOMEM; goto done; }
    if (fread(v->arena, 1, (size_t)size, f) != (size_t)size) {
        st = spar_diag_err(diag, SPAR_E_IO, "%s: short read", path);
        goto done;
    }
    size_t n_lines = 0;
    for (long i = 0; i < size; i++) n_lines += v->arena[i] == '\n';
    if (size > 0 && v->arena[size - 1] != '\n') { v->arena[size++] = '\n'; n_lines++; }
    if (n_lines >= UINT32_MAX / 2) { st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: too many lines", path); goto done; }
    v->tok_off = spar_malloc_array(n_lines + 1, sizeof *v->tok_off);
    v->tok_len = spar_malloc_array(n_lines + 1, sizeof *v->tok_len);
    v->cap = 16;
    while (v->cap < 2 * n_lines) v->cap <<= 1;
    v->slots = calloc(v->cap, sizeof *v->slots);
    if (v->tok_off == NULL || v->tok_len == NULL || v->slots == NULL) { st = SPAR_E_NOMEM; goto done; }
    uint64_t start = 0;
    for (long i = 0; i < size; i++) {
        if (v->arena[i] != '\n') continue;
        uint64_t end = (uint64_t)i;
        if (end > start && v->arena[end - 1] == '\r') end--;
        v->arena[end] = '\0';
        const char *tok = v->arena + start;
        size_t len = (size_t)(end - start);
        v->tok_off[v->n] = start;
        v->tok_len[v->n] = (uint32_t)len;
        int found;
        uint64_t h = vocab_slot(v, tok, len, &found);
        if (found) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%u: duplicate token \"%.40s\"", path, v->n + 1, tok);
            goto done;
        }
        v->slots[h] = v->n + 1;
        v->n++;
        start = (uint64_t)i + 1;
    }
    *out = v;
    v = NULL;
done:
    if (f) fclose(f);
    spar_sparse_vocab_free(v);
    return st;
}

/* ---- CSR builder ---- */
typedef struct id_pos {
    uint32_t id, pos;
} id_pos;
typedef struct csr_builder {
    spar_sparse_csr m;
    uint64_t cap_rows, cap_nnz;
    uint32_t *pair_id; /* one row's (id, weight) pairs before sorting */
    float *pair_w;
    id_pos *perm;
    size_t cap_pairs;
} csr_builder;

static int grow(void **p, uint64_t *cap, uint64_t need, size_t elem) {
    if (need <= *cap) return 1;
    uint64_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = spar_realloc_array(*p, (size_t)nc, elem);
    if (q == NULL) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

static int cmp_id_pos(const void *a, const void *b) { /* by id, then input position: deterministic sums */
    const id_pos *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

typedef struct parse_ctx {
    const char *name;
    const spar_sparse_vocab *vocab;
    uint32_t dim;
    int skip_unknown;
    uint64_t n_unknown;
    spar_diag *diag;
} parse_ctx;

/* Offset of the first NUL in the line, raw or as a \u0000 escape, or len. cJSON would keep either inside a
 * string, and the C string it returns would end there: token "th\u0000e" would silently become "th". */
static size_t find_nul(const char *s, size_t len) {
    const char *z = memchr(s, '\0', len);
    size_t end = z ? (size_t)(z - s) : len;
    for (const char *p = s, *e = s + end; (p = memchr(p, '\\', (size_t)(e - p))) != NULL && p + 1 < e; p += 2)
        if (p[1] == 'u' && e - p >= 6 && p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0')
            return (size_t)(p - s);
    return end;
}

static spar_status parse_line(csr_builder *b, parse_ctx *c, const char *line, size_t len, uint64_t lineno) {
    spar_status st = SPAR_OK;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i == len) return SPAR_OK; /* blank line */
    size_t z = find_nul(line, len);
    if (z < len)
        return spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: NUL character at byte %zu of the line", c->name,
                             (unsigned long long)lineno, z);
    const char *jend = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(line, len, &jend, 0);
    size_t at = (jend != NULL && jend >= line && jend <= line + len) ? (size_t)(jend - line) : 0;
    if (root == NULL) {
        st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: not a JSON object (malformed at byte %zu of the line)",
                           c->name, (unsigned long long)lineno, at);
        goto done;
    }
    while (at < len && (line[at] == ' ' || line[at] == '\t' || line[at] == '\r')) at++;
    if (at < len) { /* e.g. two records on one line: the second would be lost */
        st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: data after the JSON object (at byte %zu of the line)",
                           c->name, (unsigned long long)lineno, at);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: not a JSON object", c->name, (unsigned long long)lineno);
        goto done;
    }
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (jid == NULL) jid = cJSON_GetObjectItemCaseSensitive(root, "_id");
    const cJSON *vec = cJSON_GetObjectItemCaseSensitive(root, "vector");
    if (!cJSON_IsObject(vec)) {
        st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: missing \"vector\" object", c->name,
                           (unsigned long long)lineno);
        goto done;
    }
    char num[64];
    const char *key = num;
    if (cJSON_IsString(jid)) {
        key = jid->valuestring;
    } else if (cJSON_IsNumber(jid)) {
        snprintf(num, sizeof num, "%.17g", jid->valuedouble);
    } else {
        st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: missing \"id\"/\"_id\"", c->name, (unsigned long long)lineno);
        goto done;
    }
    size_t np = 0;
    for (const cJSON *e = vec->child; e != NULL; e = e->next) np++;
    if (np > b->cap_pairs) {
        size_t nc = SPAR_MAX(np, 2 * b->cap_pairs);
        uint32_t *a = spar_realloc_array(b->pair_id, nc, sizeof *a);
        if (a) b->pair_id = a;
        float *w = spar_realloc_array(b->pair_w, nc, sizeof *w);
        if (w) b->pair_w = w;
        id_pos *p = spar_realloc_array(b->perm, nc, sizeof *p);
        if (p) b->perm = p;
        if (!a || !w || !p) { st = SPAR_E_NOMEM; goto done; }
        b->cap_pairs = nc;
    }
    size_t n = 0;
    for (const cJSON *e = vec->child; e != NULL; e = e->next) {
        const char *tok = e->string ? e->string : "";
        /* the bound the index build and the searchers enforce, so that a file they would refuse is refused here,
         * naming its line */
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0 && e->valuedouble <= SPAR_SPARSE_MAX_WEIGHT)) {
            st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: weight of \"%.40s\" is not a finite number >= 0 "
                               "(and <= 1e15)", c->name, (unsigned long long)lineno, tok);
            goto done;
        }
        uint32_t id;
        if (c->vocab) {
            id = spar_sparse_vocab_find(c->vocab, tok, strlen(tok));
        } else {
            char *end = NULL;
            errno = 0;
            unsigned long long x = (*tok >= '0' && *tok <= '9') ? strtoull(tok, &end, 10) : ~0ull;
            id = (end && *end == '\0' && errno == 0 && x < c->dim) ? (uint32_t)x : UINT32_MAX;
        }
        if (id == UINT32_MAX || id >= c->dim) {
            if (c->skip_unknown) { c->n_unknown++; continue; }
            st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: unknown token \"%.40s\"", c->name,
                               (unsigned long long)lineno, tok);
            goto done;
        }
        b->pair_id[n] = id;
        b->pair_w[n] = (float)e->valuedouble;
        b->perm[n].id = id;
        b->perm[n].pos = (uint32_t)n;
        n++;
    }
    if (n > 1) qsort(b->perm, n, sizeof *b->perm, cmp_id_pos);
    if (b->m.n_rows >= UINT32_MAX - 1) {
        st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: too many rows", c->name, (unsigned long long)lineno);
        goto done;
    }
    uint64_t base = b->m.offsets[b->m.n_rows];
    if (base + n > b->cap_nnz) {
        uint64_t cap = b->cap_nnz;
        if (!grow((void **)&b->m.ids, &cap, base + n, sizeof(uint32_t))) { st = SPAR_E_NOMEM; goto done; }
        float *w = spar_realloc_array(b->m.weights, (size_t)cap, sizeof *w);
        if (w == NULL) { st = SPAR_E_NOMEM; goto done; }
        b->m.weights = w;
        b->cap_nnz = cap;
    }
    uint64_t o = base;
    for (size_t j = 0; j < n; j++) {
        uint32_t id = b->perm[j].id;
        float w = b->pair_w[b->perm[j].pos];
        if (o > base && b->m.ids[o - 1] == id) { /* duplicate token: summed */
            b->m.weights[o - 1] += w;
            if (!(b->m.weights[o - 1] <= SPAR_SPARSE_MAX_WEIGHT)) {
                st = spar_diag_err(c->diag, SPAR_E_CORRUPT, "%s:%llu: repeated term %u: summed weight exceeds 1e15",
                                   c->name, (unsigned long long)lineno, id);
                goto done;
            }
        } else {
            b->m.ids[o] = id;
            b->m.weights[o] = w;
            o++;
        }
    }
    uint64_t rows_cap = b->cap_rows;
    if (!grow((void **)&b->m.offsets, &rows_cap, (uint64_t)b->m.n_rows + 2, sizeof(uint64_t))) { st = SPAR_E_NOMEM; goto done; }
    if (!grow((void **)&b->m.keys, &b->cap_rows, (uint64_t)b->m.n_rows + 2, sizeof(char *))) { st = SPAR_E_NOMEM; goto done; }
    size_t kl = strlen(key);
    b->m.keys[b->m.n_rows] = malloc(kl + 1);
    if (b->m.keys[b->m.n_rows]) memcpy(b->m.keys[b->m.n_rows], key, kl + 1);
    if (b->m.keys[b->m.n_rows] == NULL) { st = SPAR_E_NOMEM; goto done; }
    b->m.n_rows++;
    b->m.offsets[b->m.n_rows] = o;
done:
    cJSON_Delete(root);
    return st;
}

static spar_status builder_init(csr_builder *b, uint32_t dim) {
    memset(b, 0, sizeof *b);
    b->m.dim = dim;
    b->cap_rows = 64;
    b->m.offsets = calloc(64, sizeof(uint64_t));
    b->m.keys = calloc(64, sizeof(char *));
    return (b->m.offsets && b->m.keys) ? SPAR_OK : SPAR_E_NOMEM;
}

static void builder_finish(csr_builder *b, spar_status st, spar_sparse_csr *out) {
    free(b->pair_id);
    free(b->pair_w);
    free(b->perm);
    if (st == SPAR_OK) *out = b->m;
    else spar_sparse_csr_free(&b->m);
}

static spar_status check_args(const spar_sparse_vocab *vocab, uint32_t *dim, spar_sparse_csr *out) {
    if (out == NULL) return SPAR_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (vocab) *dim = vocab->n;
    if (*dim == 0) return SPAR_E_INVALID_ARG;
    return SPAR_OK;
}

spar_status spar_sparse_csr_parse_jsonl(const char *text, size_t len, const char *name, const spar_sparse_vocab *vocab,
                                        uint32_t dim, int skip_unknown, spar_sparse_csr *out, uint64_t *n_unknown,
                                        spar_diag *diag) {
    SPAR_TRY(check_args(vocab, &dim, out));
    if (text == NULL && len > 0) return SPAR_E_INVALID_ARG;
    csr_builder b;
    parse_ctx c = {name ? name : "<memory>", vocab, dim, skip_unknown, 0, diag};
    spar_status st = builder_init(&b, dim);
    size_t start = 0;
    uint64_t lineno = 1;
    for (size_t i = 0; st == SPAR_OK && i <= len; i++) {
        if (i < len && text[i] != '\n') continue;
        st = parse_line(&b, &c, text + start, i - start, lineno++);
        start = i + 1;
    }
    if (n_unknown) *n_unknown = c.n_unknown;
    builder_finish(&b, st, out);
    return st;
}

spar_status spar_sparse_csr_read_jsonl(const char *path, const spar_sparse_vocab *vocab, uint32_t dim,
                                       int skip_unknown, spar_sparse_csr *out, uint64_t *n_unknown, spar_diag *diag) {
    if (path == NULL) return SPAR_E_INVALID_ARG;
    SPAR_TRY(check_args(vocab, &dim, out));
    gzFile gz = gzopen(path, "rb"); /* reads plain files transparently */
    if (gz == NULL) return spar_diag_err(diag, SPAR_E_IO, "%s: %s", path, strerror(errno ? errno : ENOENT));
    gzbuffer(gz, 1 << 17);
    csr_builder b;
    parse_ctx c = {path, vocab, dim, skip_unknown, 0, diag};
    spar_status st = builder_init(&b, dim);
    size_t cap = 1 << 16, len = 0;
    char *line = malloc(cap);
    uint64_t lineno = 1;
    if (line == NULL) st = SPAR_E_NOMEM;
    while (st == SPAR_OK) {
        if (gzgets(gz, line + len, (int)SPAR_MIN(cap - len, (size_t)INT32_MAX)) == NULL) {
            int err;
            const char *msg = gzerror(gz, &err);
            if (err != Z_OK && err != Z_STREAM_END)
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: gzip error: %s", path, (unsigned long long)lineno, msg);
            else if (len > 0)
                st = parse_line(&b, &c, line, len, lineno);
            break;
        }
        len += strlen(line + len);
        if (len > 0 && line[len - 1] == '\n') {
            st = parse_line(&b, &c, line, len - 1, lineno++);
            len = 0;
        } else if (len + 1 >= cap) {
            if (cap >= (1u << 30)) { st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: line over 1 GiB", path, (unsigned long long)lineno); break; }
            char *nl = realloc(line, cap * 2);
            if (nl == NULL) { st = SPAR_E_NOMEM; break; }
            line = nl;
            cap *= 2;
        } else if (gzeof(gz)) {
            continue; /* last line without newline: next gzgets returns NULL */
        } else { /* gzgets stopped at a newline strlen did not reach: a NUL byte before it */
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%llu: NUL character in the line", path, (unsigned long long)lineno);
        }
    }
    if (st == SPAR_OK) {
        int err;
        const char *msg = gzerror(gz, &err);
        if (err != Z_OK && err != Z_STREAM_END) st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: gzip error: %s", path, msg);
    }
    free(line);
    gzclose(gz);
    if (n_unknown) *n_unknown = c.n_unknown;
    builder_finish(&b, st, out);
    return st;
}

void spar_sparse_csr_free(spar_sparse_csr *m) {
    if (m == NULL) return;
    if (m->keys) for (uint32_t i = 0; i < m->n_rows; i++) free(m->keys[i]);
    free(m->keys);
    free(m->offsets);
    free(m->ids);
    free(m->weights);
    memset(m, 0, sizeof *m);
}

spar_sparse_vec spar_sparse_csr_row(const spar_sparse_csr *m, uint32_t r) {
    spar_sparse_vec v = {NULL, NULL, 0};
    if (m == NULL || r >= m->n_rows || m->ids == NULL || m->weights == NULL) return v;
    v.ids = m->ids + m->offsets[r];
    v.weights = m->weights + m->offsets[r];
    v.n = (uint32_t)(m->offsets[r + 1] - m->offsets[r]);
    return v;
}
