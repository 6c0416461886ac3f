/* cmd_encode.c — `spar encode`: run a transformer encoder (include/spar/spar_encode.h) over a corpus file
 * (BEIR JSONL or TSV, optionally gzip, read with spar_docs_*) and write one JSON line per document:
 * SPLADE vectors in Anserini JsonVectorCollection form {"id","contents","vector":{token:weight}} (float, or
 * integer impacts with --quantize), dense {"id","vector":[...]} or per-token {"id","tokens","vectors"}.
 * Output is .jsonl or .jsonl.gz (by suffix), written whole or not at all through cli_sink (cli_util.h).
 * `--query TEXT` prints one vector; with --idf/--vocab it uses the inference-free idf query encoder.
 * Documents are encoded in batches; --threads N splits each batch over N concurrent encoder calls and the
 * output order is always the input order. Uses only include/spar/ (plus zlib and pthreads). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_util.h"
#include "commands.h"
#include "spar/spar_encode.h"

#define CMD "encode"
#define MAX_THREADS 64

static void encode_usage(FILE *f) {
    fputs("usage: spar encode --model DIR --input CORPUS --output OUT.jsonl[.gz] [--kind splade|dense|tokens]\n"
            "       spar encode --model DIR --query TEXT [--kind ...]\n"
            "       spar encode --idf idf.json --vocab vocab.txt|tokenizer.json --query TEXT\n"
            "\n"
            "DIR is a Hugging Face folder (config.json, model.safetensors, tokenizer.json or vocab.txt) of a BERT,\n"
            "DistilBERT or ModernBERT (token ids only: --ids) model. CORPUS is BEIR JSON lines ({\"_id\",\"title\",\"text\"}) or TSV (id<TAB>text), optionally\n"
            "gzip; the encoded text is title + \" \" + text. One JSON line per document is written to OUT ('-' =\n"
            "stdout; a name ending in .gz is gzip-compressed) in input order:\n"
            "  splade: {\"id\",\"contents\",\"vector\":{\"token\":weight,...}}  (Anserini JsonVectorCollection)\n"
            "  dense:  {\"id\",\"vector\":[floats]}\n"
            "  tokens: {\"id\",\"tokens\":[\"[CLS]\",...],\"vectors\":[[floats],...]}\n"
            "--query prints one object {\"id\",\"vector\"} (or {\"id\",\"tokens\",\"vectors\"}) to stdout.\n"
            "\n", f);
    fputs("  --kind K          splade (default) | dense | tokens\n"
            "  --batch N         documents per encoder call (default 32)\n"
            "  --threads N       concurrent encoder calls per batch (default 1; with N > 1 set\n"
            "                    OPENBLAS_NUM_THREADS=1). Output does not depend on N except for float rounding\n"
            "  --max-length N    tokens per text incl. [CLS]/[SEP] (default: the model's, 512); longer are truncated\n"
            "  --long-doc-stride N  splade: texts longer than --max-length become overlapping chunks whose starts\n"
            "                    advance by N tokens; the chunk vectors are max-combined (default 0 = truncate)\n"
            "  --attention P     ModernBERT global layers: dense (default, exact) | local | query-aware |\n"
            "                    vertical-slash (block-sparse approximations; local layers are always exact)\n"
            "  --attention-threshold N  sparse attention only for inputs of >= N tokens (default 1024)\n"
            "  --tau X           query-aware / vertical-slash: estimated attention mass to keep (default 0.97)\n"
            "  --attention-window N  local: key blocks (64 tokens) on each side of the diagonal (default 2)\n"
            "  --attention-layers L  per-layer choice, comma-separated in layer order: dense | local | query-aware\n"
            "                    | vertical-slash | - (= --attention); only global layers may be sparse\n"
            "  --ids             each document text (or --query) is whitespace-separated token ids incl. the\n"
            "                    special tokens, for folders without a supported tokenizer (ModernBERT); splade\n"
            "                    terms without a vocabulary string are written as their decimal id\n"
            "  --weights W       f32 (default) | bf16 | int8 (packed reduced-precision weights, AVX-512 BF16/VNNI\n"
            "                    with a portable fallback; accuracy in docs/encoders/lowp.md)\n"
            "  --top-k N         splade: keep the N largest weights (default 0 = all)\n"
            "  --threshold X     splade: keep weights > X (default 0)\n"
            "  --pool P          splade: max (default) | sum\n"
            "  --drop-special    splade: drop [CLS] [SEP] [PAD] [UNK] [MASK]\n"
            "  --quantize S      splade: integer weights round(w * S) (impact collection); zeros dropped\n"
            "  --dense-pool P    dense: cls (default) | mean\n"
            "  --normalize       dense/tokens: L2-normalise vectors\n"
            "  --project         tokens: apply the folder's linear.weight projection\n"
            "  --format F        corpus format: auto (default) | beir | tsv\n"
            "  --no-title        encode the text only, not title + \" \" + text\n"
            "  --no-contents     splade: omit the \"contents\" field\n"
            "  --on-error M      fail (default): stop at the first malformed line, write nothing;\n"
            "                    skip: skip malformed lines and count them (first one reported on stderr)\n"
            "  --id ID           --query: the id written in the output object (default \"query\")\n"
            "  --idf FILE        --query: idf.json of an inference-free model (needs --vocab, not --model)\n"
            "  --vocab FILE      vocab.txt, tokenizer.json or a folder holding one (with --idf)\n"
            "  --quiet           no progress display\n"
            "\n"
            "summary: {\"docs\",\"skipped\",\"blank\",\"lines\",\"seconds\",\"docs_per_s\",\"output\"} on stdout\n"
            "         (on stderr when --output is '-')\n"
            "exit codes: 0 ok, 2 usage, 3 I/O, 4 malformed input ('file:line: reason') or model files,\n"
            "            6 model files not found, 7 interrupted (nothing written)\n",
          f);
}

enum { KIND_SPLADE, KIND_DENSE, KIND_TOKENS };

typedef struct enc_cfg {
    int kind;
    spar_splade_opts splade;
    spar_dense_opts dense;
    spar_token_opts tok;
    double quantize; /* 0 = float weights */
    int contents;
    uint32_t dim;    /* dense: hidden; tokens: hidden or proj_dim */
    uint32_t max_len;
    int ids_input;   /* --ids: each text is whitespace-separated token ids */
    int long_docs;   /* --long-doc-stride given: SPLADE inputs are not capped at max_len */
} enc_cfg;

/* ---------------------------------------------------------------- JSON records */

/* Floats with 6 significant digits; JSON has no inf/nan, so a non-finite value is an error (-1). */
static int put_float(FILE *f, float v) {
    if (!isfinite(v)) return -1;
    fprintf(f, "%.6g", (double)v);
    return 0;
}

typedef const char *(*token_str_fn)(const void *owner, uint32_t id, size_t *len);
/* Vocabulary string of id; a folder without a usable tokenizer (e.g. ModernBERT's BPE, with --ids) names
 * terms by their decimal id. Single-threaded (formatting runs on the main thread): the buffer is reused. */
static const char *enc_token_str(const void *o, uint32_t id, size_t *len) {
    static char num[16];
    const char *s = spar_encoder_token_str(o, id, len);
    if (s != NULL) return s;
    spar_encoder_info info;
    spar_encoder_get_info(o, &info);
    if (info.has_vocab || id >= info.vocab_size) return NULL;
    int n = snprintf(num, sizeof num, "%u", id);
    *len = (size_t)n;
    return num;
}
static const char *idf_token_str(const void *o, uint32_t id, size_t *len) {
    return spar_idf_encoder_token_str(o, id, len);
}

/* {"token":weight,...}; returns -1 on an id without a vocabulary string or a non-finite weight. */
static int put_sparse(FILE *f, const spar_sparse_result *r, double quantize, token_str_fn ts, const void *owner) {
    fputc('{', f);
    int first = 1;
    for (uint32_t i = 0; i < r->n; i++) {
        size_t len = 0;
        const char *tok = ts(owner, r->ids[i], &len);
        if (tok == NULL) return -1;
        if (quantize > 0) {
            double q = round((double)r->weights[i] * quantize);
            if (!(q >= 1)) continue; /* impacts are positive integers; rounding to 0 drops the term */
            if (!first) fputc(',', f);
            cli_json_str(f, tok, len);
            fprintf(f, ":%.0f", q);
        } else {
            if (!first) fputc(',', f);
            cli_json_str(f, tok, len);
            fputc(':', f);
            if (put_float(f, r->weights[i]) != 0) return -1;
        }
        first = 0;
    }
    fputc('}', f);
    return 0;
}

static int put_floats(FILE *f, const float *v, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        if (put_float(f, v[i]) != 0) return -1;
    }
    fputc(']', f);
    return 0;
}

static int put_tokens(FILE *f, const spar_encoder *enc, const uint32_t *ids, const float *vecs, uint32_t n,
                      uint32_t dim) {
    fputs("\"tokens\":[", f);
    for (uint32_t t = 0; t < n; t++) {
        size_t len = 0;
        const char *tok = enc_token_str(enc, ids[t], &len);
        if (tok == NULL) return -1;
        if (t) fputc(',', f);
        cli_json_str(f, tok, len);
    }
    fputs("],\"vectors\":[", f);
    for (uint32_t t = 0; t < n; t++) {
        if (t) fputc(',', f);
        if (put_floats(f, vecs + (size_t)t * dim, dim) != 0) return -1;
    }
    fputc(']', f);
    return 0;
}

/* ---------------------------------------------------------------- batch encoding */

typedef struct batch {
    char **ids, **texts;
    size_t n, cap;
    /* results */
    spar_sparse_result *sparse;
    float *dense;          /* cap x dim */
    float **tok_vecs;      /* per doc: n_tok x dim */
    uint32_t **tok_ids, *n_tok;
} batch;

static void batch_clear(batch *b) {
    for (size_t i = 0; i < b->n; i++) {
        free(b->ids[i]);
        free(b->texts[i]);
        b->ids[i] = b->texts[i] = NULL;
        if (b->tok_vecs != NULL) {
            free(b->tok_vecs[i]);
            free(b->tok_ids[i]);
            b->tok_vecs[i] = NULL;
            b->tok_ids[i] = NULL;
        }
    }
    if (b->sparse != NULL) spar_sparse_results_free(b->sparse, b->n);
    b->n = 0;
}

static void batch_free(batch *b) {
    batch_clear(b);
    free(b->ids);
    free(b->texts);
    free(b->sparse);
    free(b->dense);
    free(b->tok_vecs);
    free(b->tok_ids);
    free(b->n_tok);
}

static int batch_init(batch *b, size_t cap, const enc_cfg *c) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->ids = calloc(cap, sizeof *b->ids);
    b->texts = calloc(cap, sizeof *b->texts);
    if (b->ids == NULL || b->texts == NULL) return -1;
    if (c->kind == KIND_SPLADE && (b->sparse = calloc(cap, sizeof *b->sparse)) == NULL) return -1;
    if (c->kind == KIND_DENSE && (b->dense = calloc(cap * c->dim, sizeof *b->dense)) == NULL) return -1;
    if (c->kind == KIND_TOKENS) {
        b->tok_vecs = calloc(cap, sizeof *b->tok_vecs);
        b->tok_ids = calloc(cap, sizeof *b->tok_ids);
        b->n_tok = calloc(cap, sizeof *b->n_tok);
        if (b->tok_vecs == NULL || b->tok_ids == NULL || b->n_tok == NULL) return -1;
    }
    return 0;
}

/* Copy one document (id, and title + " " + text unless no_title) into the batch. */
static spar_status batch_add(batch *b, const spar_doc_view *v, int no_title) {
    size_t tl = no_title ? 0 : v->title_len;
    char *id = malloc(v->id_len + 1), *text = malloc(tl + v->text_len + 2);
    if (id == NULL || text == NULL) {
        free(id);
        free(text);
        return SPAR_E_NOMEM;
    }
    memcpy(id, v->id, v->id_len);
    id[v->id_len] = '\0';
    size_t o = 0;
    memcpy(text, v->title, tl);
    o += tl;
    if (tl && v->text_len) text[o++] = ' ';
    memcpy(text + o, v->text, v->text_len);
    text[o + v->text_len] = '\0';
    b->ids[b->n] = id;
    b->texts[b->n] = text;
    b->n++;
    return SPAR_OK;
}

typedef struct slice_job {
    const spar_encoder *enc;
    const enc_cfg *cfg;
    batch *b;
    size_t begin, end;
    spar_status st;
} slice_job;

/* --ids: parse "101 2054 102" into ids (malloc'd); SPAR_E_INVALID_ARG on anything else or no id. */
static spar_status parse_ids(const char *text, spar_token_ids *out) {
    size_t cap = strlen(text) / 2 + 1, n = 0;
    uint32_t *ids = malloc(cap * sizeof *ids);
    if (ids == NULL) return SPAR_E_NOMEM;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '\0') break;
        char *e;
        errno = 0;
        unsigned long v = strtoul(p, &e, 10);
        if (e == p || errno != 0 || v > UINT32_MAX || *p == '-' || n == cap) {
            free(ids);
            return SPAR_E_INVALID_ARG;
        }
        ids[n++] = (uint32_t)v;
        p = e;
    }
    if (n == 0) {
        free(ids);
        return SPAR_E_INVALID_ARG;
    }
    out->ids = ids;
    out->n = (uint32_t)n;
    return SPAR_OK;
}

static void *run_slice(void *arg) {
    slice_job *j = arg;
    const enc_cfg *c = j->cfg;
    batch *b = j->b;
    size_t n = j->end - j->begin;
    spar_encode_input in = {(const char *const *)b->texts + j->begin, NULL, n};
    spar_token_ids *seqs = NULL;
    j->st = SPAR_OK;
    if (n == 0) return NULL;
    if (c->ids_input) { /* texts are id lists: parse them, truncating like text input unless chunking */
        if ((seqs = calloc(n, sizeof *seqs)) == NULL) {
            j->st = SPAR_E_NOMEM;
            return NULL;
        }
        for (size_t i = 0; i < n && j->st == SPAR_OK; i++) {
            j->st = parse_ids(b->texts[j->begin + i], &seqs[i]);
            if (j->st == SPAR_OK && seqs[i].n > c->max_len && !(c->long_docs && c->kind == KIND_SPLADE)) {
                ((uint32_t *)seqs[i].ids)[c->max_len - 1] = seqs[i].ids[seqs[i].n - 1]; /* keep the final [SEP] */
                seqs[i].n = c->max_len;
            }
        }
        in.texts = NULL;
        in.seqs = seqs;
        if (j->st != SPAR_OK) goto done;
    }
    if (c->kind == KIND_SPLADE) {
        j->st = spar_encode_splade_batch(j->enc, &in, &c->splade, b->sparse + j->begin);
    } else if (c->kind == KIND_DENSE) {
        j->st = spar_encode_dense_batch(j->enc, &in, &c->dense, b->dense + j->begin * c->dim);
    } else {
        for (size_t i = j->begin; i < j->end && j->st == SPAR_OK; i++) {
            b->tok_vecs[i] = malloc(sizeof(float) * c->max_len * c->dim);
            b->tok_ids[i] = malloc(sizeof(uint32_t) * c->max_len);
            if (b->tok_vecs[i] == NULL || b->tok_ids[i] == NULL) {
                j->st = SPAR_E_NOMEM;
                break;
            }
            j->st = spar_encode_tokens(j->enc, seqs ? NULL : b->texts[i], seqs ? &seqs[i - j->begin] : NULL, &c->tok,
                                       b->tok_vecs[i], c->max_len, &b->n_tok[i], b->tok_ids[i]);
        }
    }
done:
    if (seqs != NULL) {
        for (size_t i = 0; i < n; i++)
            free((void *)seqs[i].ids);
        free(seqs);
    }
    return NULL;
}

/* Encode the batch on `threads` concurrent slices (contiguous ranges, so results land in input order). */
static spar_status encode_batch(const spar_encoder *enc, const enc_cfg *c, batch *b, int threads) {
    slice_job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    size_t t = (size_t)threads;
    if (t > b->n) t = b->n;
    if (t < 1) t = 1;
    for (size_t i = 0; i < t; i++) {
        jobs[i] = (slice_job){enc, c, b, b->n * i / t, b->n * (i + 1) / t, SPAR_OK};
        if (i > 0 && pthread_create(&tids[i], NULL, run_slice, &jobs[i]) == 0)
            started[i] = 1;
        else if (i > 0)
            run_slice(&jobs[i]); /* could not start a thread: do the slice here */
    }
    run_slice(&jobs[0]);
    spar_status st = SPAR_OK;
    for (size_t i = 0; i < t; i++) {
        if (started[i]) pthread_join(tids[i], NULL);
        if (st == SPAR_OK && jobs[i].st != SPAR_OK) st = jobs[i].st;
    }
    return st;
}

/* Serialise the batch's records into one memory buffer (so the same bytes go to a FILE or a gzFile). */
static int format_batch(const spar_encoder *enc, const enc_cfg *c, const batch *b, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *m = open_memstream(buf, len);
    if (m == NULL) return -1;
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        fputs("{\"id\":", m);
        cli_json_str(m, b->ids[i], strlen(b->ids[i]));
        if (c->kind == KIND_SPLADE) {
            if (c->contents) {
                fputs(",\"contents\":", m);
                cli_json_str(m, b->texts[i], strlen(b->texts[i]));
            }
            fputs(",\"vector\":", m);
            rc = put_sparse(m, &b->sparse[i], c->quantize, enc_token_str, enc);
        } else if (c->kind == KIND_DENSE) {
            fputs(",\"vector\":", m);
            rc = put_floats(m, b->dense + i * c->dim, c->dim);
        } else {
            fputc(',', m);
            rc = put_tokens(m, enc, b->tok_ids[i], b->tok_vecs[i], b->n_tok[i], c->dim);
        }
        fputs("}\n", m);
    }
    if (fclose(m) != 0) rc = -1;
    return rc;
}

/* ---------------------------------------------------------------- corpus mode */

static volatile sig_atomic_t g_interrupted;
static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

typedef struct run_opts {
    const char *input, *output;
    spar_corpus_format format;
    int skip, no_title, quiet, threads;
    size_t batch;
} run_opts;

static int encode_corpus(const spar_encoder *enc, const enc_cfg *c, const run_opts *ro) {
    spar_docs *docs = NULL;
    spar_diag diag = {{0}}, first_skip = {{0}};
    batch b;
    cli_sink out;
    memset(&out, 0, sizeof out);
    int rc = 0, out_open = 0;
    uint64_t n_docs = 0, n_skipped = 0;
    char *buf = NULL;
    size_t len = 0;
    if (batch_init(&b, ro->batch, c) != 0) {
        rc = cli_fail(CMD, SPAR_E_NOMEM, NULL);
        goto done;
    }
    spar_status st = spar_docs_open(ro->input, ro->format, &docs, &diag);
    if (st != SPAR_OK) {
        rc = cli_fail(CMD, st, &diag);
        goto done;
    }
    out_open = 1;
    if (cli_sink_open(&out, ro->output) != 0) {
        fprintf(stderr, "spar %s: cannot write %s: %s\n", CMD, ro->output, strerror(errno));
        rc = 3;
        goto done;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cli_progress prog;
    cli_progress_init(&prog, CMD, ro->quiet);
    double t0 = cli_now();
    int eof = 0;
    while (!eof && rc == 0) {
        while (b.n < b.cap) {
            spar_doc_view v;
            st = spar_docs_next(docs, &v, &diag);
            if (st == SPAR_E_NOT_FOUND) {
                eof = 1;
                break;
            }
            if (st == SPAR_E_CORRUPT && ro->skip) {
                if (n_skipped++ == 0) first_skip = diag;
                continue;
            }
            if (st == SPAR_OK) st = batch_add(&b, &v, ro->no_title);
            if (st != SPAR_OK) {
                cli_progress_end(&prog);
                rc = cli_fail(CMD, st, &diag);
                break;
            }
        }
        if (rc != 0 || b.n == 0) break;
        st = encode_batch(enc, c, &b, ro->threads);
        if (st != SPAR_OK) {
            cli_progress_end(&prog);
            fprintf(stderr, "spar %s: encoding documents %s..%s failed: %s\n", CMD, b.ids[0], b.ids[b.n - 1],
                    spar_status_str(st));
            rc = spar_exit_code(st);
            break;
        }
        if (format_batch(enc, c, &b, &buf, &len) != 0) {
            cli_progress_end(&prog);
            fprintf(stderr, "spar %s: a vector of document %s..%s has a non-finite value or unknown token\n",
                    CMD, b.ids[0], b.ids[b.n - 1]);
            rc = 1;
            break;
        }
        if (cli_sink_write(&out, buf, len) != 0) {
            cli_progress_end(&prog);
            fprintf(stderr, "spar %s: writing %s failed\n", CMD, ro->output);
            rc = 3;
            break;
        }
        free(buf);
        buf = NULL;
        n_docs += b.n;
        batch_clear(&b);
        uint64_t done_bytes = 0, total_bytes = 0;
        spar_docs_progress(docs, &done_bytes, &total_bytes);
        cli_progress_update(&prog, "encoding", done_bytes, total_bytes, n_docs, "docs", 0);
        if (g_interrupted) {
            cli_progress_end(&prog);
            fprintf(stderr, "spar %s: interrupted; nothing was written\n", CMD);
            rc = 7;
        }
    }
    cli_progress_end(&prog);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double secs = cli_now() - t0;
    out_open = 0;
    if (cli_sink_close(&out, rc == 0) != 0 && rc == 0) {
        fprintf(stderr, "spar %s: writing %s failed\n", CMD, ro->output);
        rc = 3;
    }
    if (rc != 0) goto done;
    if (n_skipped > 0)
        fprintf(stderr, "spar %s: skipped %llu malformed line(s); first: %s\n", CMD, (unsigned long long)n_skipped,
                first_skip.msg);
    FILE *sf = strcmp(ro->output, "-") == 0 ? stderr : stdout;
    fprintf(sf, "{\"docs\":%llu,\"skipped\":%llu,\"blank\":%llu,\"lines\":%llu,\"seconds\":%.3f,\"docs_per_s\":%.1f,"
                "\"output\":",
            (unsigned long long)n_docs, (unsigned long long)n_skipped,
            (unsigned long long)spar_docs_blank_lines(docs), (unsigned long long)spar_docs_lines(docs), secs,
            secs > 0 ? (double)n_docs / secs : 0.0);
    cli_json_str(sf, ro->output, strlen(ro->output));
    fputs("}\n", sf);
    if (fflush(sf) != 0) rc = 3;
done:
    if (out_open) cli_sink_close(&out, 0);
    free(buf);
    batch_free(&b);
    spar_docs_close(docs);
    return rc;
}

/* ---------------------------------------------------------------- query mode */

static int encode_query(const spar_encoder *enc, const enc_cfg *c, const char *text, const char *qid) {
    batch b;
    int rc = 0;
    char *buf = NULL;
    size_t len = 0;
    if (batch_init(&b, 1, c) != 0) return cli_fail(CMD, SPAR_E_NOMEM, NULL);
    spar_doc_view v = {qid, strlen(qid), "", 0, text, strlen(text), 0};
    spar_status st = batch_add(&b, &v, 1);
    if (st == SPAR_OK) st = encode_batch(enc, c, &b, 1);
    if (st != SPAR_OK) {
        rc = cli_fail(CMD, st, NULL);
        goto done;
    }
    enc_cfg qc = *c;
    qc.contents = 0; /* a query object is {"id","vector"} */
    if (format_batch(enc, &qc, &b, &buf, &len) != 0) {
        fprintf(stderr, "spar %s: the vector has a non-finite value or an unknown token\n", CMD);
        rc = 1;
        goto done;
    }
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) rc = 3;
done:
    free(buf);
    batch_free(&b);
    return rc;
}

static int encode_idf_query(const char *idf, const char *vocab, const char *text, const char *qid, double quantize) {
    spar_idf_encoder *q = NULL;
    spar_diag diag = {{0}};
    spar_sparse_result r = {NULL, NULL, 0};
    spar_status st = spar_idf_encoder_open(idf, vocab, &q, &diag);
    if (st == SPAR_OK) st = spar_idf_encode_query(q, text, &r, &diag);
    int rc = 0;
    if (st != SPAR_OK) {
        rc = cli_fail(CMD, st, &diag);
        goto done;
    }
    fputs("{\"id\":", stdout);
    cli_json_str(stdout, qid, strlen(qid));
    fputs(",\"vector\":", stdout);
    if (put_sparse(stdout, &r, quantize, idf_token_str, q) != 0) {
        fprintf(stderr, "spar %s: a weight is not finite or a token has no vocabulary string\n", CMD);
        rc = 1;
        goto done;
    }
    fputs("}\n", stdout);
    if (fflush(stdout) != 0) rc = 3;
done:
    spar_sparse_results_free(&r, 1);
    spar_idf_encoder_close(q);
    return rc;
}

/* ---------------------------------------------------------------- entry point */

static int pick(const char *cmd, const char *opt, const char *val, const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (strcmp(val, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return cli_usage_error(cmd, "--%s must be one of %s, not '%s'", opt, list, val);
}

int spar_cmd_encode(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *output = NULL, *kind = "splade", *query = NULL, *idf = NULL;
    const char *vocab = NULL, *format = "auto", *on_error = "fail", *pool = "max", *dense_pool = "cls";
    const char *weights = "f32", *qid = "query";
    uint64_t batch_n = 32, threads = 1, max_length = 0, top_k = 0;
    double threshold = 0, quantize = 0;
    int normalize = 0, project = 0, no_title = 0, no_contents = 0, quiet = 0, drop_special = 0, ids_input = 0;
    const char *attention = "dense", *attn_layers = NULL;
    uint64_t attn_threshold = 0, attn_window = 0, long_stride = 0;
    double tau = 0;
    const cli_opt opts[] = {
        {"model", CLI_STR, &model, 0, 0},
        {"input", CLI_STR, &input, 0, 0},
        {"output", CLI_STR, &output, 0, 0},
        {"kind", CLI_STR, &kind, 0, 0},
        {"query", CLI_STR, &query, 0, 0},
        {"id", CLI_STR, &qid, 0, 0},
        {"idf", CLI_STR, &idf, 0, 0},
        {"vocab", CLI_STR, &vocab, 0, 0},
        {"format", CLI_STR, &format, 0, 0},
        {"on-error", CLI_STR, &on_error, 0, 0},
        {"batch", CLI_UINT, &batch_n, 1, 65536},
        {"threads", CLI_UINT, &threads, 1, MAX_THREADS},
        {"max-length", CLI_UINT, &max_length, 2, 1 << 20},
        {"weights", CLI_STR, &weights, 0, 0},
        {"top-k", CLI_UINT, &top_k, 0, 1u << 31},
        {"threshold", CLI_DOUBLE, &threshold, 0, 1e30},
        {"pool", CLI_STR, &pool, 0, 0},
        {"drop-special", CLI_FLAG, &drop_special, 0, 0},
        {"quantize", CLI_DOUBLE, &quantize, 1e-6, 1e9},
        {"dense-pool", CLI_STR, &dense_pool, 0, 0},
        {"normalize", CLI_FLAG, &normalize, 0, 0},
        {"project", CLI_FLAG, &project, 0, 0},
        {"no-title", CLI_FLAG, &no_title, 0, 0},
        {"no-contents", CLI_FLAG, &no_contents, 0, 0},
        {"quiet", CLI_FLAG, &quiet, 0, 0},
        {"ids", CLI_FLAG, &ids_input, 0, 0},
        {"attention", CLI_STR, &attention, 0, 0},
        {"attention-threshold", CLI_UINT, &attn_threshold, 1, 1u << 20},
        {"tau", CLI_DOUBLE, &tau, 1e-6, 1},
        {"attention-window", CLI_UINT, &attn_window, 1, 1u << 16},
        {"attention-layers", CLI_STR, &attn_layers, 0, 0},
        {"long-doc-stride", CLI_UINT, &long_stride, 1, 1u << 20},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], encode_usage);
    if (rc != CLI_GO) return rc;

    static const char *const kinds[] = {"splade", "dense", "tokens"};
    static const char *const pools[] = {"max", "sum"};
    static const char *const dpools[] = {"cls", "mean"};
    static const char *const wmodes[] = {"f32", "bf16", "int8"};
    static const char *const fmts[] = {"auto", "beir", "tsv"};
    static const char *const errs[] = {"fail", "skip"};
    static const char *const attns[] = {"dense", "local", "query-aware", "vertical-slash"};
    int k = 0, p = 0, dp = 0, wm = 0, fm = 0, oe = 0, am = 0;
    if (pick(CMD, "kind", kind, kinds, 3, &k) || pick(CMD, "pool", pool, pools, 2, &p) ||
        pick(CMD, "dense-pool", dense_pool, dpools, 2, &dp) || pick(CMD, "weights", weights, wmodes, 3, &wm) ||
        pick(CMD, "format", format, fmts, 3, &fm) || pick(CMD, "on-error", on_error, errs, 2, &oe) ||
        pick(CMD, "attention", attention, attns, 4, &am))
        return CLI_USAGE;

    if (idf != NULL) {
        if (query == NULL || vocab == NULL) return cli_usage_error(CMD, "--idf needs --vocab and --query");
        if (model != NULL || input != NULL) return cli_usage_error(CMD, "--idf encodes queries only: drop --model/--input");
        if (k != KIND_SPLADE) return cli_usage_error(CMD, "--idf produces sparse vectors only (--kind splade)");
        cli_install_log(CMD);
        return encode_idf_query(idf, vocab, query, qid, quantize);
    }
    if (vocab != NULL) return cli_usage_error(CMD, "--vocab is used with --idf (a --model folder has its own)");
    if (model == NULL) return cli_usage_error(CMD, "--model is required (or --idf with --vocab for queries)");
    if ((query == NULL) == (input == NULL)) return cli_usage_error(CMD, "give exactly one of --input or --query");
    if (input != NULL && output == NULL) return cli_usage_error(CMD, "--input needs --output FILE ('-' for stdout)");
    if (quantize > 0 && k != KIND_SPLADE) return cli_usage_error(CMD, "--quantize applies to --kind splade");
    cli_install_log(CMD);

    spar_encoder_opts eo = spar_encoder_opts_default();
    eo.max_length = (uint32_t)max_length;
    eo.weights = wm;
    eo.attention = am; /* the CLI order matches spar_attention_mode */
    eo.attention_threshold = (uint32_t)attn_threshold;
    eo.attention_tau = (float)tau;
    eo.attention_window = (uint32_t)attn_window;
    int8_t layer_modes[256];
    if (attn_layers != NULL) { /* "dense,-,query-aware,..." in layer order */
        uint32_t n = 0;
        const char *c = attn_layers;
        for (;;) {
            size_t len = strcspn(c, ",");
            int m = -2;
            if (len == 1 && c[0] == '-') m = -1;
            for (int j = 0; j < 4 && m == -2; j++)
                if (strlen(attns[j]) == len && strncmp(c, attns[j], len) == 0) m = j;
            if (m == -2 || n == sizeof layer_modes) {
                fprintf(stderr, "%s: --attention-layers: entry %u ('%.*s'): expected dense, local, query-aware, "
                        "vertical-slash or -, at most 256 entries\n", CMD, n + 1, (int)len, c);
                return CLI_USAGE;
            }
            layer_modes[n++] = (int8_t)m;
            if (c[len] == 0) break;
            c += len + 1;
        }
        eo.attention_layers = layer_modes;
        eo.n_attention_layers = n;
    }
    eo.long_doc_stride = (uint32_t)long_stride;
    spar_encoder *enc = NULL;
    spar_diag diag = {{0}};
    spar_status st = spar_encoder_open(model, &eo, &enc, &diag);
    if (st != SPAR_OK) {
        fprintf(stderr, "spar %s: cannot load model folder %s: %s (%s)\n", CMD, model,
                diag.msg[0] ? diag.msg : "needs config.json, model.safetensors and vocab.txt or tokenizer.json",
                spar_status_str(st));
        return spar_exit_code(st);
    }
    spar_encoder_info info;
    spar_encoder_get_info(enc, &info);
    enc_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = k;
    c.splade = spar_splade_opts_default();
    c.splade.pooling = p == 0 ? SPAR_SPLADE_POOL_MAX : SPAR_SPLADE_POOL_SUM;
    c.splade.top_k = (uint32_t)top_k;
    c.splade.threshold = (float)threshold;
    c.splade.drop_special = drop_special;
    c.dense = spar_dense_opts_default();
    c.dense.pooling = dp == 0 ? SPAR_DENSE_POOL_CLS : SPAR_DENSE_POOL_MEAN;
    c.dense.normalize = normalize;
    c.tok.project = project;
    c.tok.normalize = normalize;
    c.quantize = quantize;
    c.contents = !no_contents;
    c.max_len = info.max_length;
    c.dim = (k == KIND_TOKENS && project) ? info.proj_dim : info.hidden;
    c.ids_input = ids_input;
    c.long_docs = long_stride > 0;
    if (!info.has_vocab && !ids_input) {
        fprintf(stderr, "spar %s: %s has no supported tokenizer (tokenizer.json WordPiece or vocab.txt): text "
                "cannot be encoded; give token ids with --ids\n", CMD, model);
        rc = 6;
    } else if (k == KIND_SPLADE && !info.has_mlm_head) {
        fprintf(stderr, "spar %s: %s has no masked-LM head (a bare encoder): use --kind dense or tokens\n", CMD,
                model);
        rc = 2;
    } else if (k == KIND_TOKENS && project && info.proj_dim == 0) {
        fprintf(stderr, "spar %s: --project: %s has no linear.weight projection\n", CMD, model);
        rc = 2;
    } else if (query != NULL) {
        rc = encode_query(enc, &c, query, qid);
    } else {
        run_opts ro = {input, output, fm == 1 ? SPAR_FORMAT_BEIR : fm == 2 ? SPAR_FORMAT_TSV : SPAR_FORMAT_AUTO,
                       oe == 1, no_title, quiet, (int)threads, (size_t)batch_n};
        rc = encode_corpus(enc, &c, &ro);
    }
    spar_encoder_close(enc);
    return rc;
}
