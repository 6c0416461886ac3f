/* cmd_sparse.c — learned-sparse indexes in the CLI. `spar index --format vectors|ciff` reads SPLADE-style
 * JSONL vectors (Anserini JsonVectorCollection / Seismic / `spar encode --kind splade` output; tokens mapped
 * through a vocab.txt) or a CIFF file, builds a spar_sparse_index and writes an index directory
 * (spar_sparse_dir_write: MANIFEST last, docs/format/sparse-dir.md). `spar search` on such a directory takes a
 * query vector (--query-vector), a text query encoded by the inference-free idf encoder (--query + --idf), or
 * a file of either (--queries, TREC run out), exact (block-max, or exhaustive) or approximate (Seismic).
 * Uses only include/spar/. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "cli_util.h"
#include "cmd_sparse.h"
#include "commands.h"
#include "spar/spar_sparse.h"

#define QBATCH 1024 /* queries per spar_sparse_search_batch call */

/* ---- shared option scanning (before the full parse, to pick BM25 or sparse) ---- */
static const char *find_opt(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0) continue;
        if (a[2 + n] == '=') return a + 3 + n;
        if (a[2 + n] == '\0' && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

static int has_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

int spar_sparse_cli_wants_index(int argc, char **argv) {
    const char *f = find_opt(argc, argv, "format");
    return f != NULL && (strcmp(f, "vectors") == 0 || strcmp(f, "ciff") == 0) && !has_help(argc, argv);
}

int spar_sparse_cli_wants_search(int argc, char **argv) {
    const char *dir = find_opt(argc, argv, "index");
    return dir != NULL && !has_help(argc, argv) && spar_sparse_dir_detect(dir);
}

void spar_sparse_cli_index_usage(FILE *f) {
    fprintf(f,
            "\nLearned-sparse indexes (SPLADE-style vectors; docs/sparse.md):\n"
            "  spar index --format vectors --input VECS.jsonl[.gz] --index DIR [--vocab vocab.txt] [options]\n"
            "  spar index --format ciff --input X.ciff --index DIR [options]\n"
            "VECS: one {\"id\"|\"_id\", \"vector\":{token:weight}} per line (Anserini JsonVectorCollection, Seismic,\n"
            "`spar encode --kind splade` output). Tokens map to term ids through the vocab, which is copied into\n"
            "DIR (search needs no vocab). CIFF: postings lists (tf = impact) + doc records; terms become the vocab.\n"
            "  --vocab PATH      vocab.txt, one token per line (default: $SPAR_VOCAB, else\n"
            "                    $SPAR_DATA/bert-base-uncased-vocab/vocab.txt)\n"
            "  --skip-unknown    drop tokens missing from the vocab (counted) instead of failing\n"
            "  --bmp-block N     docs per block of the exact block-max index (default 8)\n"
            "  --approx          also build the approximate (Seismic-class) index for --mode approx\n"
            "  --n-postings N    approx: postings kept per term (default 4000)\n"
            "  --block-fraction X  approx: clusters per kept list, fraction of its length (default 0.1)\n"
            "  --summary-energy X  approx: L1 share kept in block summaries (default 0.4)\n"
            "  --seed N          clustering seed (default 1)\n"
            "  (--threads, --overwrite and --quiet as above)\n"
            "stdout: {\"docs\":N,\"dim\":N,\"nnz\":N,\"unknown_tokens\":N,\"approx\":0|1,\"seconds\":S,\"index\":DIR}\n");
}

void spar_sparse_cli_search_usage(FILE *f) {
    fprintf(f,
            "\nLearned-sparse indexes (built with `spar index --format vectors|ciff`; detected from DIR):\n"
            "  spar search --index DIR --query-vector '{\"tok\":w,...}' [--k 10] [--json]\n"
            "  spar search --index DIR --query TEXT --idf idf.json [--k 10] [--json]\n"
            "  spar search --index DIR --queries QVECS.jsonl[.gz] --run RUN [--k 1000] [--threads N]\n"
            "QVECS: one {\"_id\"|\"id\", \"vector\":{token:weight}} per line; with --idf, a BEIR/TSV text query file.\n"
            "Scores are exact dot products; tokens absent from the index vocabulary are dropped (counted).\n"
            "  --query-vector J  one query as a JSON object {token: weight}\n"
            "  --idf PATH        idf.json: encode text queries with the inference-free idf encoder (OpenSearch\n"
            "                    doc-only models), tokenized with the index's vocab.txt\n"
            "  --mode M          exact (default) | approx (needs an index built with --approx)\n"
            "  --algo A          exact algorithm: bmp (default, block-max) | exhaustive (same results)\n"
            "  --query-cut N     approx: traverse the N heaviest query terms (default 10; 0 = all)\n"
            "  --heap-factor X   approx: block skip threshold in (0, 1] (default 0.9; lower = more recall)\n"
            "  (--k, --threads, --json, --tag, --quiet as above)\n");
}

/* ---- index ---- */
/* The vocab file's lines, for copying into the index directory. */
static int read_tokens(const char *path, char ***out, uint32_t *n_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    size_t cap = 0, n = 0, lc = 0;
    char **v = NULL, *line = NULL;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &lc, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 32768;
            char **w = realloc(v, cap * sizeof *w);
            if (w == NULL) { rc = -1; break; }
            v = w;
        }
        if ((v[n] = strdup(line)) == NULL) { rc = -1; break; }
        n++;
    }
    free(line);
    fclose(f);
    if (rc != 0 || n >= UINT32_MAX) {
        for (size_t i = 0; i < n; i++) free(v[i]);
        free(v);
        return -1;
    }
    *out = v;
    *n_out = (uint32_t)n;
    return 0;
}

static void free_tokens(char **v, uint32_t n) {
    if (v == NULL) return;
    for (uint32_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int spar_sparse_cli_index(int argc, char **argv) {
    const char *cmd = "index";
    const char *input = NULL, *dir = NULL, *format = NULL, *vocab_path = NULL;
    uint64_t threads = 0, bmp_block = 0, n_postings = 0, seed = 0;
    double block_fraction = -1, summary_energy = -1;
    int overwrite = 0, quiet = 0, approx = 0, skip_unknown = 0;
    const cli_opt opts[] = {
        {"input", CLI_STR, &input, 0, 0},
        {"index", CLI_STR, &dir, 0, 0},
        {"format", CLI_STR, &format, 0, 0},
        {"vocab", CLI_STR, &vocab_path, 0, 0},
        {"skip-unknown", CLI_FLAG, &skip_unknown, 0, 0},
        {"threads", CLI_UINT, &threads, 0, 4096},
        {"bmp-block", CLI_UINT, &bmp_block, 8, 65536},
        {"approx", CLI_FLAG, &approx, 0, 0},
        {"n-postings", CLI_UINT, &n_postings, 1, 1e9},
        {"block-fraction", CLI_DOUBLE, &block_fraction, 1e-6, 1},
        {"summary-energy", CLI_DOUBLE, &summary_energy, 1e-6, 1},
        {"seed", CLI_UINT, &seed, 1, 1e18},
        {"overwrite", CLI_FLAG, &overwrite, 0, 0},
        {"quiet", CLI_FLAG, &quiet, 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], spar_sparse_cli_index_usage);
    if (rc != CLI_GO) return rc;
    if (input == NULL || dir == NULL) return cli_usage_error(cmd, "--input and --index are required");
    const int ciff = strcmp(format, "ciff") == 0;
    if (ciff && (vocab_path != NULL || skip_unknown))
        return cli_usage_error(cmd, "--vocab/--skip-unknown do not apply to --format ciff (CIFF carries its terms)");
    cli_install_log(cmd);
    spar_sparse_build_opts bo;
    spar_sparse_build_opts_default(&bo);
    bo.build_approx = approx;
    bo.n_threads = (uint32_t)threads;
    if (bmp_block) bo.bmp_block = (uint32_t)bmp_block;
    if (n_postings) bo.n_postings = (uint32_t)n_postings;
    if (block_fraction > 0) bo.block_fraction = (float)block_fraction;
    if (summary_energy > 0) bo.summary_energy = (float)summary_energy;
    if (seed) bo.seed = seed;

    spar_diag diag = {{0}};
    spar_sparse_vocab *vocab = NULL;
    spar_sparse_index *ix = NULL;
    spar_sparse_csr csr;
    spar_sparse_ciff cf;
    memset(&csr, 0, sizeof csr);
    memset(&cf, 0, sizeof cf);
    char **tokens = NULL, vpath_buf[4096];
    uint32_t n_tokens = 0;
    uint64_t n_unknown = 0;
    spar_status st = SPAR_OK;
    const double t0 = cli_now();
    const spar_sparse_csr *docs = &csr;
    if (ciff) {
        st = spar_sparse_ciff_read(input, &cf, &diag);
        if (st != SPAR_OK) goto fail;
        docs = &cf.docs;
        if (docs->n_rows == 0) {
            fprintf(stderr, "spar %s: %s: no documents\n", cmd, input);
            rc = 4;
            goto done;
        }
    } else {
        if (vocab_path == NULL) vocab_path = getenv("SPAR_VOCAB");
        if (vocab_path == NULL && getenv("SPAR_DATA") != NULL) {
            snprintf(vpath_buf, sizeof vpath_buf, "%s/bert-base-uncased-vocab/vocab.txt", getenv("SPAR_DATA"));
            vocab_path = vpath_buf;
        }
        if (vocab_path == NULL) return cli_usage_error(cmd, "--vocab is required (or set SPAR_VOCAB)");
        st = spar_sparse_vocab_load(vocab_path, &vocab, &diag);
        if (st != SPAR_OK) goto fail;
        if (read_tokens(vocab_path, &tokens, &n_tokens) != 0 || n_tokens != spar_sparse_vocab_size(vocab)) {
            fprintf(stderr, "spar %s: %s: cannot read the vocabulary lines\n", cmd, vocab_path);
            rc = 3;
            goto done;
        }
        st = spar_sparse_csr_read_jsonl(input, vocab, 0, skip_unknown, &csr, &n_unknown, &diag);
        if (st != SPAR_OK) goto fail;
        if (csr.n_rows == 0) {
            fprintf(stderr, "spar %s: %s: no documents\n", cmd, input);
            rc = 4;
            goto done;
        }
    }
    if (!quiet) fprintf(stderr, "spar %s: %u documents read, building\n", cmd, docs->n_rows);
    st = spar_sparse_index_build(docs, &bo, &ix, &diag);
    if (st != SPAR_OK) goto fail;
    st = spar_sparse_dir_write(dir, ix, (const char *const *)docs->keys,
                               ciff ? (const char *const *)cf.terms : (const char *const *)tokens,
                               ciff ? cf.docs.dim : n_tokens, overwrite, &diag);
    if (st != SPAR_OK) goto fail;
    spar_sparse_stats s;
    spar_sparse_index_stats(ix, &s);
    printf("{\"docs\":%u,\"dim\":%u,\"nnz\":%llu,\"unknown_tokens\":%llu,\"approx\":%d,\"seconds\":%.3f,\"index\":", s.n_docs,
           s.dim, (unsigned long long)s.nnz, (unsigned long long)n_unknown, approx, cli_now() - t0);
    cli_json_str(stdout, dir, strlen(dir));
    printf("}\n");
    rc = fflush(stdout) == 0 ? 0 : 3;
    goto done;
fail:
    rc = cli_fail(cmd, st, &diag);
done:
    spar_sparse_index_free(ix);
    spar_sparse_csr_free(&csr);
    spar_sparse_ciff_free(&cf);
    spar_sparse_vocab_free(vocab);
    free_tokens(tokens, n_tokens);
    return rc;
}

/* ---- search ---- */
typedef struct qset {
    spar_sparse_csr m;          /* query vectors (ids of the index) */
    uint64_t n_unknown;
} qset;

/* Parse one query object {token: weight} given on the command line. */
static spar_status parse_query_vector(const char *json, const spar_sparse_vocab *vocab, uint32_t dim, qset *q,
                                      spar_diag *diag) {
    size_t n = strlen(json);
    char *line = malloc(n + 32);
    if (line == NULL) return SPAR_E_NOMEM;
    int len = snprintf(line, n + 32, "{\"id\":\"q\",\"vector\":%s}", json);
    spar_status st = spar_sparse_csr_parse_jsonl(line, (size_t)len, "--query-vector", vocab, dim, 1, &q->m,
                                                 &q->n_unknown, diag);
    free(line);
    return st;
}

/* Encode text queries (ids, texts) with the idf encoder into q->m. */
static spar_status encode_texts(const spar_idf_encoder *enc, const char *const *ids, const char *const *texts,
                                size_t n, uint32_t dim, qset *q, spar_diag *diag) {
    spar_sparse_csr *m = &q->m;
    memset(m, 0, sizeof *m);
    m->dim = dim;
    m->n_rows = (uint32_t)n;
    m->offsets = calloc(n + 1, sizeof *m->offsets);
    m->keys = calloc(n + 1, sizeof *m->keys);
    spar_sparse_result *r = calloc(n + 1, sizeof *r);
    spar_status st = (m->offsets && m->keys && r) ? SPAR_OK : SPAR_E_NOMEM;
    uint64_t total = 0;
    for (size_t i = 0; i < n && st == SPAR_OK; i++) {
        st = spar_idf_encode_query(enc, texts[i], &r[i], diag);
        if (st != SPAR_OK) break;
        for (uint32_t j = 0; j < r[i].n; j++) total += r[i].ids[j] < dim;
        if ((m->keys[i] = strdup(ids[i])) == NULL) st = SPAR_E_NOMEM;
    }
    if (st == SPAR_OK) {
        m->ids = malloc((total + 1) * sizeof *m->ids);
        m->weights = malloc((total + 1) * sizeof *m->weights);
        if (m->ids == NULL || m->weights == NULL) st = SPAR_E_NOMEM;
    }
    uint64_t o = 0;
    for (size_t i = 0; i < n && st == SPAR_OK; i++) {
        for (uint32_t j = 0; j < r[i].n; j++) {
            if (r[i].ids[j] >= dim) { q->n_unknown++; continue; } /* a token the index does not have */
            m->ids[o] = r[i].ids[j];
            m->weights[o] = r[i].weights[j];
            o++;
        }
        m->offsets[i + 1] = o;
    }
    if (r) spar_sparse_results_free(r, n);
    free(r);
    if (st != SPAR_OK) {
        if (m->keys == NULL) m->n_rows = 0;
        spar_sparse_csr_free(m);
    }
    return st;
}

/* Read a BEIR/TSV text query file and encode it. */
static spar_status read_text_queries(const char *path, const spar_idf_encoder *enc, uint32_t dim, qset *q,
                                     spar_diag *diag) {
    spar_docs *d = NULL;
    char **ids = NULL, **texts = NULL;
    size_t n = 0, cap = 0;
    spar_status st = spar_docs_open(path, SPAR_FORMAT_AUTO, &d, diag);
    while (st == SPAR_OK) {
        spar_doc_view v;
        st = spar_docs_next(d, &v, diag);
        if (st == SPAR_E_NOT_FOUND) {
            st = SPAR_OK;
            break;
        }
        if (st != SPAR_OK) break;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **a = realloc(ids, cap * sizeof *a), **b = a ? realloc(texts, cap * sizeof *b) : NULL;
            if (a) ids = a;
            if (b) texts = b;
            if (a == NULL || b == NULL) { st = SPAR_E_NOMEM; break; }
        }
        ids[n] = strndup(v.id, v.id_len);
        texts[n] = malloc(v.title_len + v.text_len + 2);
        if (ids[n] == NULL || texts[n] == NULL) {
            free(ids[n]);
            free(texts[n]);
            st = SPAR_E_NOMEM;
            break;
        }
        memcpy(texts[n], v.title, v.title_len);
        size_t o = v.title_len;
        if (v.title_len && v.text_len) texts[n][o++] = ' ';
        memcpy(texts[n] + o, v.text, v.text_len);
        texts[n][o + v.text_len] = '\0';
        n++;
    }
    spar_docs_close(d);
    if (st == SPAR_OK) st = encode_texts(enc, (const char *const *)ids, (const char *const *)texts, n, dim, q, diag);
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(texts[i]);
    }
    free(ids);
    free(texts);
    return st;
}

static int print_hits(const spar_sparse_dir *d, const spar_hit *hits, size_t n, int json) {
    int width = 8;
    for (size_t i = 0; i < n && !json; i++) {
        size_t len = 0;
        if (spar_sparse_dir_doc_id(d, hits[i].docid, &len) != NULL && (int)len > width) width = len > 40 ? 40 : (int)len;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *id = spar_sparse_dir_doc_id(d, hits[i].docid, &len);
        if (id == NULL) return cli_fail("search", SPAR_E_INTERNAL, NULL);
        if (json) {
            printf("{\"rank\":%zu,\"id\":", i + 1);
            cli_json_str(stdout, id, len);
            printf(",\"score\":%.6f}\n", (double)hits[i].score);
        } else {
            printf("%3zu  %-*s %9.4f\n", i + 1, width, id, (double)hits[i].score);
        }
    }
    if (n == 0 && !json) printf("(no hits)\n");
    return fflush(stdout) == 0 ? 0 : 3;
}

int spar_sparse_cli_search(int argc, char **argv) {
    const char *cmd = "search";
    const char *dir = NULL, *qvec = NULL, *query = NULL, *queries = NULL, *run = NULL, *idf = NULL;
    const char *mode = "exact", *algo = "bmp", *tag = "spar";
    uint64_t k = 0, threads = 0, query_cut = UINT64_MAX;
    double heap_factor = -1;
    int json = 0, quiet = 0;
    const cli_opt opts[] = {
        {"index", CLI_STR, &dir, 0, 0},
        {"query-vector", CLI_STR, &qvec, 0, 0},
        {"query", CLI_STR, &query, 0, 0},
        {"queries", CLI_STR, &queries, 0, 0},
        {"run", CLI_STR, &run, 0, 0},
        {"idf", CLI_STR, &idf, 0, 0},
        {"k", CLI_UINT, &k, 1, SPAR_MAX_K},
        {"threads", CLI_UINT, &threads, 0, 4096},
        {"mode", CLI_STR, &mode, 0, 0},
        {"algo", CLI_STR, &algo, 0, 0},
        {"query-cut", CLI_UINT, &query_cut, 0, 65536},
        {"heap-factor", CLI_DOUBLE, &heap_factor, 1e-6, 1},
        {"json", CLI_FLAG, &json, 0, 0},
        {"tag", CLI_STR, &tag, 0, 0},
        {"quiet", CLI_FLAG, &quiet, 0, 0},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], spar_sparse_cli_search_usage);
    if (rc != CLI_GO) return rc;
    if ((qvec != NULL) + (query != NULL) + (queries != NULL) != 1)
        return cli_usage_error(cmd, "give exactly one of --query-vector, --query or --queries");
    if (query != NULL && idf == NULL)
        return cli_usage_error(cmd, "a learned-sparse index needs --idf idf.json to encode --query text "
                                    "(or give --query-vector)");
    if (qvec != NULL && idf != NULL) return cli_usage_error(cmd, "--idf applies to text queries, not --query-vector");
    if (queries != NULL && run == NULL) return cli_usage_error(cmd, "--queries needs --run FILE ('-' for stdout)");
    int approx = strcmp(mode, "approx") == 0;
    if (!approx && strcmp(mode, "exact") != 0) return cli_usage_error(cmd, "--mode must be exact or approx, not '%s'", mode);
    spar_sparse_exact_algo ea;
    if (strcmp(algo, "bmp") == 0 || strcmp(algo, "default") == 0) ea = SPAR_SPARSE_BMP;
    else if (strcmp(algo, "exhaustive") == 0) ea = SPAR_SPARSE_EXHAUSTIVE;
    else return cli_usage_error(cmd, "--algo must be bmp or exhaustive for a learned-sparse index, not '%s'", algo);
    if (!approx && (query_cut != UINT64_MAX || heap_factor > 0))
        return cli_usage_error(cmd, "--query-cut/--heap-factor apply to --mode approx");
    if (strchr(tag, ' ') != NULL || tag[0] == '\0') return cli_usage_error(cmd, "--tag must be one word");
    spar_sparse_approx_params ap;
    spar_sparse_approx_params_default(&ap);
    if (query_cut != UINT64_MAX) ap.query_cut = (uint32_t)query_cut;
    if (heap_factor > 0) ap.heap_factor = (float)heap_factor;
    const uint32_t kk = (uint32_t)(k ? k : (queries ? 1000 : 10));
    cli_install_log(cmd);

    spar_diag diag = {{0}};
    spar_sparse_dir *d = NULL;
    spar_idf_encoder *enc = NULL;
    spar_hit *hits = NULL;
    size_t *n_hits = NULL;
    cli_sink runf = {0};
    int run_open = 0;
    qset q;
    memset(&q, 0, sizeof q);
    char *vpath = NULL;
    spar_status st = spar_sparse_dir_open(dir, &d, &diag);
    if (st != SPAR_OK) goto fail;
    const spar_sparse_index *ix = spar_sparse_dir_index(d);
    const spar_sparse_vocab *vocab = spar_sparse_dir_vocab(d);
    spar_sparse_stats ss;
    spar_sparse_index_stats(ix, &ss);
    if (approx && ss.bytes_approx == 0) {
        fprintf(stderr, "spar %s: %s has no approximate index: rebuild it with `spar index ... --approx`, or use "
                        "--mode exact\n", cmd, dir);
        rc = 2;
        goto done;
    }
    if (idf != NULL) {
        if (vocab == NULL) {
            fprintf(stderr, "spar %s: %s has no vocab.txt, so text cannot be tokenized\n", cmd, dir);
            rc = 2;
            goto done;
        }
        size_t dl = strlen(dir);
        if ((vpath = malloc(dl + 16)) == NULL) { st = SPAR_E_NOMEM; goto fail; }
        snprintf(vpath, dl + 16, "%s/vocab.txt", dir);
        st = spar_idf_encoder_open(idf, vpath, &enc, &diag);
        if (st != SPAR_OK) goto fail;
    }
    if (qvec != NULL) {
        st = parse_query_vector(qvec, vocab, ss.dim, &q, &diag);
    } else if (query != NULL) {
        const char *qid = "q";
        st = encode_texts(enc, &qid, &query, 1, ss.dim, &q, &diag);
    } else if (idf != NULL) {
        st = read_text_queries(queries, enc, ss.dim, &q, &diag);
    } else {
        st = spar_sparse_csr_read_jsonl(queries, vocab, ss.dim, 1, &q.m, &q.n_unknown, &diag);
    }
    if (st != SPAR_OK) goto fail;
    if (q.n_unknown > 0 && !quiet)
        fprintf(stderr, "spar %s: %llu query token(s) not in the index vocabulary were dropped\n", cmd,
                (unsigned long long)q.n_unknown);

    const uint32_t n_q = q.m.n_rows;
    const size_t batch = n_q < QBATCH ? (n_q ? n_q : 1) : QBATCH;
    hits = malloc(sizeof *hits * batch * kk);
    n_hits = malloc(sizeof *n_hits * batch);
    if (hits == NULL || n_hits == NULL) { st = SPAR_E_NOMEM; goto fail; }
    spar_sparse_vec *qs = malloc(sizeof *qs * batch);
    if (qs == NULL) { st = SPAR_E_NOMEM; goto fail; }
    if (queries == NULL) {
        qs[0] = spar_sparse_csr_row(&q.m, 0);
        st = spar_sparse_search_batch(ix, qs, 1, kk, ea, approx ? &ap : NULL, 1, hits, n_hits);
        free(qs);
        if (st != SPAR_OK) goto fail;
        rc = print_hits(d, hits, n_hits[0], json);
        goto done;
    }
    run_open = 1;
    if (cli_sink_open(&runf, run) != 0) {
        fprintf(stderr, "spar %s: cannot write %s: %s\n", cmd, run, strerror(errno));
        free(qs);
        rc = 3;
        goto done;
    }
    rc = 0;
    cli_progress prog;
    cli_progress_init(&prog, cmd, quiet);
    const double t0 = cli_now();
    uint64_t n_lines = 0;
    for (uint32_t base = 0; base < n_q && st == SPAR_OK && rc == 0; base += (uint32_t)batch) {
        uint32_t m = (size_t)(n_q - base) < batch ? n_q - base : (uint32_t)batch;
        for (uint32_t i = 0; i < m; i++) qs[i] = spar_sparse_csr_row(&q.m, base + i);
        st = spar_sparse_search_batch(ix, qs, m, kk, ea, approx ? &ap : NULL, (uint32_t)threads, hits, n_hits);
        for (uint32_t i = 0; i < m && st == SPAR_OK && rc == 0; i++) {
            const spar_hit *h = hits + (size_t)i * kk;
            const char *qid = q.m.keys ? q.m.keys[base + i] : "q";
            for (size_t j = 0; j < n_hits[i]; j++) {
                const char *id = spar_sparse_dir_doc_id(d, h[j].docid, NULL);
                if (id == NULL) { st = SPAR_E_INTERNAL; break; }
                if ((rc = cli_trec_line(&runf, cmd, qid, id, j + 1, (double)h[j].score, tag)) != 0) break;
                n_lines++;
            }
        }
        cli_progress_update(&prog, cmd, base + m, n_q, base + m, "queries", 0);
    }
    cli_progress_end(&prog);
    free(qs);
    if (rc != 0) goto done;
    if (st != SPAR_OK) goto fail;
    const double secs = cli_now() - t0;
    run_open = 0;
    if (cli_sink_close(&runf, 1) != 0) {
        fprintf(stderr, "spar %s: writing %s failed\n", cmd, run);
        rc = 3;
        goto done;
    }
    fprintf(stderr,
            "{\"queries\":%u,\"unknown_tokens\":%llu,\"run_lines\":%llu,\"seconds\":%.3f,\"qps\":%.1f,\"threads\":%llu,"
            "\"mode\":\"%s\"}\n",
            n_q, (unsigned long long)q.n_unknown, (unsigned long long)n_lines, secs, secs > 0 ? n_q / secs : 0.0,
            (unsigned long long)threads, approx ? "approx" : "exact");
    rc = 0;
    goto done;
fail:
    rc = cli_fail(cmd, st, &diag);
done:
    if (run_open) cli_sink_close(&runf, 0);
    free(hits);
    free(n_hits);
    free(vpath);
    spar_sparse_csr_free(&q.m);
    spar_idf_encoder_close(enc);
    spar_sparse_dir_close(d);
    return rc;
}

/* ---- info / verify ---- */
int spar_sparse_cli_info(const char *dir) {
    spar_diag diag = {{0}};
    spar_sparse_dir *d = NULL;
    spar_status st = spar_sparse_dir_open(dir, &d, &diag);
    if (st != SPAR_OK) return cli_fail("info", st, &diag);
    spar_sparse_stats s;
    spar_sparse_index_stats(spar_sparse_dir_index(d), &s);
    printf("{\"index\":");
    cli_json_str(stdout, dir, strlen(dir));
    printf(",\"kind\":\"sparse\",\"docs\":%u,\"dim\":%u,\"nnz\":%llu,\"avg_doc_terms\":%.2f,\"vocab\":%s,"
           "\"approx\":%s,\"bytes_forward\":%llu,\"bytes_inverted\":%llu,\"bytes_blockmax\":%llu,\"bytes_approx\":%llu,"
           "\"version\":",
           s.n_docs, s.dim, (unsigned long long)s.nnz, s.n_docs ? (double)s.nnz / s.n_docs : 0.0,
           spar_sparse_dir_vocab(d) ? "true" : "false", s.bytes_approx ? "true" : "false",
           (unsigned long long)s.bytes_forward, (unsigned long long)s.bytes_inverted,
           (unsigned long long)s.bytes_blockmax, (unsigned long long)s.bytes_approx);
    const char *v = spar_version_string();
    cli_json_str(stdout, v, strlen(v));
    printf("}\n");
    spar_sparse_dir_close(d);
    return fflush(stdout) == 0 ? 0 : 3;
}

/* Opening checks everything (MANIFEST checksum, each file's size and XXH3, then its structure), stopping at
 * the first problem: report the files in order, the failing one with the detail. */
int spar_sparse_cli_verify(const char *dir, int quiet) {
    static const char *const files[] = {"MANIFEST", "sparse.idx", "docids.txt", "vocab.txt"};
    spar_diag diag = {{0}};
    spar_sparse_dir *d = NULL;
    spar_status st = spar_sparse_dir_open_flags(dir, SPAR_SPARSE_VERIFY_ALL, &d, &diag); /* every byte */
    int n_files = 0, has_vocab = d != NULL && spar_sparse_dir_vocab(d) != NULL;
    for (int i = 0; i < 4; i++) {
        if (st == SPAR_OK && i == 3 && !has_vocab) break;
        int failed = st != SPAR_OK && (strncmp(diag.msg, files[i], strlen(files[i])) == 0 || i == 3);
        if (st != SPAR_OK && !failed && i > 0 && strstr(diag.msg, files[i]) != NULL) failed = 1;
        n_files++;
        if (!quiet) {
            printf("{\"file\":");
            cli_json_str(stdout, files[i], strlen(files[i]));
            const char *ss = spar_status_str(failed ? st : SPAR_OK);
            printf(",\"status\":");
            cli_json_str(stdout, ss, strlen(ss));
            if (failed) {
                printf(",\"detail\":");
                cli_json_str(stdout, diag.msg, strlen(diag.msg));
            }
            printf("}\n");
        }
        if (failed) break;
    }
    spar_sparse_dir_close(d);
    printf("{\"index\":");
    cli_json_str(stdout, dir, strlen(dir));
    const char *ss = spar_status_str(st);
    printf(",\"ok\":%s,\"files\":%d,\"kind\":\"sparse\",\"status\":", st == SPAR_OK ? "true" : "false", n_files);
    cli_json_str(stdout, ss, strlen(ss));
    if (st != SPAR_OK) {
        printf(",\"detail\":");
        cli_json_str(stdout, diag.msg, strlen(diag.msg));
    }
    printf("}\n");
    fflush(stdout);
    return st == SPAR_OK ? 0 : cli_fail("verify", st, &diag);
}
