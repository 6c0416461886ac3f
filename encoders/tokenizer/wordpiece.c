/* wordpiece.c — BERT WordPiece tokenizer (encoders/tokenizer; contract: tokenizer.h).
 * One streaming pass over the input bytes: UTF-8 decode -> added-token match ([CLS] ... written literally)
 * -> BertNormalizer per code point (cleanup, CJK isolation, NFD + drop Mn, lowercase) -> BertPreTokenizer
 * (whitespace / punctuation split) -> greedy longest-match-first WordPiece on each word. Unicode properties
 * come from utf8proc; vocabulary lookup is an open-addressing table keyed by xxh3 of the piece bytes, with
 * "##" continuations in their own key space so no prefixed string is ever built. The rules and their
 * known divergences from HF are written down in docs/encoders/tokenizer.md. */
#include "encoders/tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "common/common.h"

#define WP_MAX_WORD_CHARS 1024u /* hard cap on max_input_chars_per_word (HF BERT: 100) */
#define WP_MAX_ADDED 64u
#define WP_MAX_ID (1u << 24)

typedef struct added_tok {
    uint32_t off, len; /* into strs */
    uint32_t id;
} added_tok;

struct spar_tokenizer {
    char *strs;           /* every token string, NUL-terminated */
    size_t strs_len;
    uint32_t *str_off;    /* [vocab_size]; UINT32_MAX = no token with this id */
    uint32_t *str_len;
    uint8_t *special;     /* [vocab_size] */
    uint32_t vocab_size;
    uint32_t *slot_id;    /* [n_slots]: id + 1, 0 = empty */
    uint32_t *slot_tag;   /* [n_slots]: low 32 bits of the hash */
    uint32_t slot_mask;
    uint32_t max_start_bytes, max_cont_bytes; /* longest key of each kind, bytes */
    char prefix[16];      /* continuing_subword_prefix, "##" */
    uint32_t prefix_len;
    added_tok added[WP_MAX_ADDED];
    uint32_t n_added;
    uint8_t added_first[256]; /* first bytes of added tokens */
    int64_t cls_id, sep_id, pad_id, unk_id, mask_id;
    uint32_t max_chars;
    int lowercase, strip_accents, chinese, clean_text;
};

/* ---------------------------------------------------------------------------------------------- */
/* Vocabulary table                                                                               */

static inline uint64_t key_hash(const char *s, size_t len, int cont) {
    return XXH3_64bits_withSeed(s, len, cont ? 0x9e3779b97f4a7c15ull : 0);
}

/* Key of id: its string, minus the continuation prefix if it has one (then cont = 1). */
static void id_key(const spar_tokenizer *t, uint32_t id, const char **s, size_t *len, int *cont) {
    const char *p = t->strs + t->str_off[id];
    size_t n = t->str_len[id];
    *cont = 0;
    if (t->prefix_len > 0 && n > t->prefix_len && memcmp(p, t->prefix, t->prefix_len) == 0) {
        p += t->prefix_len;
        n -= t->prefix_len;
        *cont = 1;
    }
    *s = p;
    *len = n;
}

static inline int64_t lookup(const spar_tokenizer *t, const char *s, size_t len, int cont) {
    uint64_t h = key_hash(s, len, cont);
    uint32_t tag = (uint32_t)h;
    for (uint32_t i = (uint32_t)(h >> 32) & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        uint32_t v = t->slot_id[i];
        if (v == 0) return -1;
        if (t->slot_tag[i] != tag) continue;
        const char *ks;
        size_t kl;
        int kc;
        id_key(t, v - 1, &ks, &kl, &kc);
        if (kc == cont && kl == len && memcmp(ks, s, len) == 0) return (int64_t)(v - 1);
    }
}

/* Insert every id; for duplicate strings the highest id wins (HF: later vocab entries overwrite). */
static spar_status build_table(spar_tokenizer *t) {
    uint32_t n_slots = 16;
    while (n_slots < 2u * t->vocab_size + 16) n_slots <<= 1;
    t->slot_id = calloc(n_slots, sizeof *t->slot_id);
    t->slot_tag = calloc(n_slots, sizeof *t->slot_tag);
    if (t->slot_id == NULL || t->slot_tag == NULL) return SPAR_E_NOMEM;
    t->slot_mask = n_slots - 1;
    for (uint32_t id = 0; id < t->vocab_size; id++) {
        if (t->str_off[id] == UINT32_MAX) continue;
        const char *s;
        size_t len;
        int cont;
        id_key(t, id, &s, &len, &cont);
        uint64_t h = key_hash(s, len, cont);
        uint32_t i = (uint32_t)(h >> 32) & t->slot_mask;
        for (;; i = (i + 1) & t->slot_mask) {
            uint32_t v = t->slot_id[i];
            if (v == 0) break;
            if (t->slot_tag[i] != (uint32_t)h) continue;
            const char *ks;
            size_t kl;
            int kc;
            id_key(t, v - 1, &ks, &kl, &kc);
            if (kc == cont && kl == len && memcmp(ks, s, len) == 0) break; /* duplicate: overwrite */
        }
        t->slot_id[i] = id + 1;
        t->slot_tag[i] = (uint32_t)h;
        if (cont) t->max_cont_bytes = SPAR_MAX(t->max_cont_bytes, (uint32_t)len);
        else t->max_start_bytes = SPAR_MAX(t->max_start_bytes, (uint32_t)len);
    }
    return SPAR_OK;
}

static spar_tokenizer *tok_new(void) {
    spar_tokenizer *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    memcpy(t->prefix, "##", 3);
    t->prefix_len = 2;
    t->max_chars = 100;
    t->lowercase = t->strip_accents = t->chinese = t->clean_text = 1;
    t->cls_id = t->sep_id = t->pad_id = t->unk_id = t->mask_id = -1;
    return t;
}

void spar_tokenizer_free(spar_tokenizer *t) {
    if (t == NULL) return;
    free(t->strs);
    free(t->str_off);
    free(t->str_len);
    free(t->special);
    free(t->slot_id);
    free(t->slot_tag);
    free(t);
}

/* Allocate the per-id arrays for vocab_size ids and a string pool of pool_cap bytes. */
static spar_status alloc_ids(spar_tokenizer *t, uint32_t vocab_size, size_t pool_cap) {
    t->vocab_size = vocab_size;
    t->str_off = spar_malloc_array(vocab_size ? vocab_size : 1, sizeof *t->str_off);
    t->str_len = spar_malloc_array(vocab_size ? vocab_size : 1, sizeof *t->str_len);
    t->special = calloc(vocab_size ? vocab_size : 1, 1);
    t->strs = malloc(pool_cap ? pool_cap : 1);
    if (t->str_off == NULL || t->str_len == NULL || t->special == NULL || t->strs == NULL) return SPAR_E_NOMEM;
    for (uint32_t i = 0; i < vocab_size; i++) t->str_off[i] = UINT32_MAX, t->str_len[i] = 0;
    return SPAR_OK;
}

static void set_str(spar_tokenizer *t, uint32_t id, const char *s, size_t len) {
    t->str_off[id] = (uint32_t)t->strs_len;
    t->str_len[id] = (uint32_t)len;
    memcpy(t->strs + t->strs_len, s, len);
    t->strs[t->strs_len + len] = '\0';
    t->strs_len += len + 1;
}

static void add_added(spar_tokenizer *t, uint32_t id) {
    if (t->n_added >= WP_MAX_ADDED || t->str_len[id] == 0) return;
    for (uint32_t i = 0; i < t->n_added; i++)
        if (t->added[i].id == id) return;
    t->added[t->n_added].off = t->str_off[id];
    t->added[t->n_added].len = t->str_len[id];
    t->added[t->n_added].id = id;
    t->added_first[(uint8_t)t->strs[t->str_off[id]]] = 1;
    t->n_added++;
    t->special[id] = 1;
}

/* Resolve the standard special ids by string, make them added tokens (matched before normalisation, as
 * BertTokenizer's no-split specials and tokenizer.json added_tokens are) and require [UNK]. */
static spar_status finish(spar_tokenizer *t, const char *unk, const char *label, spar_diag *diag) {
    SPAR_TRY(build_table(t));
    static const char *names[5] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"};
    int64_t *slots[5] = {&t->cls_id, &t->sep_id, &t->pad_id, &t->unk_id, &t->mask_id};
    for (int i = 0; i < 5; i++) {
        const char *nm = (i == 3 && unk != NULL) ? unk : names[i];
        int64_t id = spar_tokenizer_token_id(t, nm, strlen(nm));
        *slots[i] = id;
        if (id >= 0) add_added(t, (uint32_t)id);
    }
    if (t->unk_id < 0)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: vocabulary has no unknown token \"%s\"", label,
                             unk ? unk : "[UNK]");
    return SPAR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Loaders                                                                                        */

static spar_status load_vocab_txt(spar_tokenizer *t, const char *buf, size_t len, const char *label,
                                  spar_diag *diag) {
    size_t n_lines = 0;
    for (size_t i = 0; i < len; i++) n_lines += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n') n_lines++;
    if (n_lines == 0) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: empty vocabulary", label);
    if (n_lines > WP_MAX_ID) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu lines: too many tokens", label, n_lines);
    SPAR_TRY(alloc_ids(t, (uint32_t)n_lines, len + n_lines));
    size_t pos = 0;
    for (uint32_t id = 0; id < n_lines; id++) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len, e = end;
        /* Rust `tokenizers` keys on line.trim_end(): drop trailing Unicode whitespace (ASCII here). */
        while (e > pos && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\r' || buf[e - 1] == '\v' ||
                           buf[e - 1] == '\f'))
            e--;
        if (utf8proc_decompose((const utf8proc_uint8_t *)buf + pos, (utf8proc_ssize_t)(e - pos), NULL, 0, 0) < 0)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s:%u: invalid UTF-8 in token", label, id + 1);
        set_str(t, id, buf + pos, e - pos);
        pos = end + 1;
    }
    return finish(t, NULL, label, diag);
}

static int json_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

static spar_status load_json(spar_tokenizer *t, const char *buf, size_t len, const char *label, spar_diag *diag) {
    spar_status st = SPAR_OK;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root == NULL) {
        size_t at = (end != NULL && end >= buf && end <= buf + len) ? (size_t)(end - buf) : 0;
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: malformed JSON", label, at);
    }
    for (size_t at = end ? (size_t)(end - buf) : len; at < len; at++) /* cJSON stops after the value */
        if (buf[at] != ' ' && buf[at] != '\t' && buf[at] != '\r' && buf[at] != '\n') {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: unexpected data after the JSON value", label, at);
            goto done;
        }
    /* a NUL (raw or \u0000) would end the C string cJSON returns for a token: "th\u0000e" would be a second "th" */
    for (size_t at = 0; at < len; at++) {
        if (buf[at] == '\0') {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: NUL character", label, at);
            goto done;
        }
        if (buf[at] != '\\') continue;
        if (len - at >= 6 && memcmp(buf + at + 1, "u0000", 5) == 0) {
            st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: byte %zu: \\u0000 (NUL) is not supported", label, at);
            goto done;
        }
        if (at + 1 < len && buf[at + 1] != '\0') at++; /* skip the escaped character: "\\\\" + "u0000" is text */
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(model) || !cJSON_IsObject(vocab)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: no \"model\".\"vocab\" object", label);
        goto done;
    }
    if (mtype != NULL && !(cJSON_IsString(mtype) && strcmp(mtype->valuestring, "WordPiece") == 0)) {
        st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: model type %s is not WordPiece", label,
                           cJSON_IsString(mtype) ? mtype->valuestring : "(non-string)");
        goto done;
    }
    /* Pass 1: sizes and id range. */
    uint32_t max_id = 0, n = 0;
    size_t pool = 0;
    for (const cJSON *e = vocab->child; e != NULL; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= WP_MAX_ID ||
            e->valuedouble != (double)(uint32_t)e->valuedouble) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: vocab entry \"%.64s\": id is not an integer in [0, %u)",
                               label, e->string ? e->string : "", WP_MAX_ID);
            goto done;
        }
        max_id = SPAR_MAX(max_id, (uint32_t)e->valuedouble);
        pool += strlen(e->string) + 1;
        n++;
    }
    if (n == 0) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: empty vocab", label);
        goto done;
    }
    if (max_id > 2 * n + 1024) { /* ids index dense arrays: refuse a tiny file that asks for 16M slots */
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: vocab ids are not dense (%u entries, max id %u)", label, n,
                           max_id);
        goto done;
    }
    SPAR_TRY_GOTO(st, alloc_ids(t, max_id + 1, pool), done);
    for (const cJSON *e = vocab->child; e != NULL; e = e->next) {
        uint32_t id = (uint32_t)e->valuedouble;
        if (t->str_off[id] != UINT32_MAX) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: vocab id %u given to two tokens", label, id);
            goto done;
        }
        set_str(t, id, e->string, strlen(e->string));
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    if (cJSON_IsString(pre)) {
        size_t pl = strlen(pre->valuestring);
        if (pl >= sizeof t->prefix) {
            st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: continuing_subword_prefix longer than %zu bytes",
                               label, sizeof t->prefix - 1);
            goto done;
        }
        memcpy(t->prefix, pre->valuestring, pl + 1);
        t->prefix_len = (uint32_t)pl;
    }
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (cJSON_IsNumber(mx)) {
        if (mx->valuedouble < 1 || mx->valuedouble > WP_MAX_WORD_CHARS) {
            st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: max_input_chars_per_word must be in [1, %u]", label,
                               WP_MAX_WORD_CHARS);
            goto done;
        }
        t->max_chars = (uint32_t)mx->valuedouble;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (cJSON_IsObject(norm)) {
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (!cJSON_IsString(nt) || strcmp(nt->valuestring, "BertNormalizer") != 0) {
            st = spar_diag_err(diag, SPAR_E_UNSUPPORTED, "%s: normalizer %s is not BertNormalizer", label,
                               cJSON_IsString(nt) ? nt->valuestring : "(non-string)");
            goto done;
        }
        t->clean_text = json_bool(norm, "clean_text", 1);
        t->chinese = json_bool(norm, "handle_chinese_chars", 1);
        t->lowercase = json_bool(norm, "lowercase", 1);
        t->strip_accents = json_bool(norm, "strip_accents", t->lowercase); /* null -> follows lowercase */
    } else if (norm != NULL && !cJSON_IsNull(norm)) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: \"normalizer\" is neither an object nor null", label);
        goto done;
    } else {
        t->clean_text = t->chinese = t->lowercase = t->strip_accents = 0;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    char unk_buf[64] = "[UNK]";
    if (cJSON_IsString(unk) && strlen(unk->valuestring) < sizeof unk_buf) strcpy(unk_buf, unk->valuestring);
    SPAR_TRY_GOTO(st, finish(t, unk_buf, label, diag), done);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (cJSON_IsArray(added)) {
        for (const cJSON *a = added->child; a != NULL; a = a->next) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
            if (!cJSON_IsNumber(id) || !cJSON_IsString(content) || id->valuedouble < 0 ||
                id->valuedouble >= t->vocab_size || t->str_off[(uint32_t)id->valuedouble] == UINT32_MAX ||
                strcmp(t->strs + t->str_off[(uint32_t)id->valuedouble], content->valuestring) != 0) {
                st = spar_diag_err(diag, SPAR_E_UNSUPPORTED,
                                   "%s: added token %.64s is not the vocab entry with its id (only in-vocab added "
                                   "tokens are supported)", label, cJSON_IsString(content) ? content->valuestring : "?");
                goto done;
            }
            add_added(t, (uint32_t)id->valuedouble);
            if (!json_bool(a, "special", 1)) t->special[(uint32_t)id->valuedouble] = 0;
        }
    }
done:
    cJSON_Delete(root);
    return st;
}

spar_status spar_tokenizer_load_mem(const char *buf, size_t len, spar_tokenizer_format fmt, const char *label,
                                    spar_tokenizer **out, spar_diag *diag) {
    if (out == NULL || (buf == NULL && len > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (label == NULL) label = fmt == SPAR_TOKENIZER_JSON ? "tokenizer.json" : "vocab.txt";
    spar_tokenizer *t = tok_new();
    if (t == NULL) return SPAR_E_NOMEM;
    spar_status st = fmt == SPAR_TOKENIZER_JSON ? load_json(t, buf ? buf : "", len, label, diag)
                                                 : load_vocab_txt(t, buf ? buf : "", len, label, diag);
    if (st != SPAR_OK) {
        if (st == SPAR_E_NOMEM) spar_diag_set(diag, "%s: out of memory", label);
        spar_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SPAR_OK;
}

static spar_status read_file(const char *path, char **buf, size_t *len, spar_diag *diag) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return spar_diag_err(diag, errno == ENOENT ? SPAR_E_NOT_FOUND : SPAR_E_IO, "open %s: %s", path, strerror(errno));
    spar_status st = SPAR_OK;
    char *b = NULL;
    size_t cap = 1 << 16, n = 0;
    if ((b = malloc(cap)) == NULL) { st = SPAR_E_NOMEM; goto done; }
    for (;;) {
        if (n == cap) {
            char *nb = cap > (SIZE_MAX >> 2) ? NULL : realloc(b, cap * 2);
            if (nb == NULL) { st = spar_diag_err(diag, SPAR_E_NOMEM, "read %s: out of memory", path); goto done; }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) { st = spar_diag_err(diag, SPAR_E_IO, "read %s: %s", path, strerror(errno)); goto done; }
    *buf = b;
    *len = n;
    b = NULL;
done:
    free(b);
    fclose(f);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

spar_status spar_tokenizer_load(const char *path, spar_tokenizer **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return spar_diag_err(diag, errno == ENOENT ? SPAR_E_NOT_FOUND : SPAR_E_IO, "%s: %s", path, strerror(errno));
    char file[4096];
    spar_tokenizer_format fmt;
    if (S_ISDIR(sb.st_mode)) {
        snprintf(file, sizeof file, "%s/tokenizer.json", path);
        fmt = SPAR_TOKENIZER_JSON;
        if (stat(file, &sb) != 0) {
            snprintf(file, sizeof file, "%s/vocab.txt", path);
            fmt = SPAR_TOKENIZER_VOCAB_TXT;
            if (stat(file, &sb) != 0)
                return spar_diag_err(diag, SPAR_E_NOT_FOUND, "%s: no tokenizer.json or vocab.txt", path);
        }
    } else {
        snprintf(file, sizeof file, "%s", path);
        fmt = ends_with(path, ".json") ? SPAR_TOKENIZER_JSON : SPAR_TOKENIZER_VOCAB_TXT;
    }
    char *buf = NULL;
    size_t len = 0;
    SPAR_TRY(read_file(file, &buf, &len, diag));
    spar_status st = spar_tokenizer_load_mem(buf, len, fmt, file, out, diag);
    free(buf);
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* Accessors                                                                                      */

uint32_t spar_tokenizer_vocab_size(const spar_tokenizer *t) { return t->vocab_size; }

int64_t spar_tokenizer_token_id(const spar_tokenizer *t, const char *s, size_t len) {
    int cont = 0;
    if (t->prefix_len > 0 && len > t->prefix_len && memcmp(s, t->prefix, t->prefix_len) == 0) {
        s += t->prefix_len;
        len -= t->prefix_len;
        cont = 1;
    }
    return lookup(t, s, len, cont);
}

const char *spar_tokenizer_token_str(const spar_tokenizer *t, uint32_t id, size_t *len) {
    if (id >= t->vocab_size || t->str_off[id] == UINT32_MAX) return NULL;
    if (len != NULL) *len = t->str_len[id];
    return t->strs + t->str_off[id];
}

int spar_tokenizer_is_special(const spar_tokenizer *t, uint32_t id) { return id < t->vocab_size && t->special[id]; }

void spar_tokenizer_get_info(const spar_tokenizer *t, spar_tokenizer_info *info) {
    info->vocab_size = t->vocab_size;
    info->cls_id = t->cls_id;
    info->sep_id = t->sep_id;
    info->pad_id = t->pad_id;
    info->unk_id = t->unk_id;
    info->mask_id = t->mask_id;
    info->max_input_chars_per_word = t->max_chars;
    info->lowercase = t->lowercase;
    info->strip_accents = t->strip_accents;
    info->handle_chinese_chars = t->chinese;
    info->clean_text = t->clean_text;
}

spar_tokenize_opts spar_tokenize_opts_default(void) {
    spar_tokenize_opts o = {512, 1, 0};
    return o;
}

size_t spar_tokenizer_encode_bound(size_t len) { return 3 * len + 2; }

/* ---------------------------------------------------------------------------------------------- */
/* Character classes (HF tokenizers normalizers/bert.rs + pre_tokenizers/bert.rs)                 */

enum { C_OTHER = 0, C_DROP = 1, C_SPACE = 2, C_PUNCT = 3 };
static uint8_t ascii_class[128];
static char ascii_lower[128];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void) {
    for (int c = 0; c < 128; c++) {
        ascii_lower[c] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        if (c == '\t' || c == '\n' || c == '\r' || c == ' ') ascii_class[c] = C_SPACE;
        else if (c < 0x20 || c == 0x7f) ascii_class[c] = C_DROP; /* Cc (incl. NUL, \v, \f) */
        else if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
            ascii_class[c] = C_PUNCT;
        else ascii_class[c] = C_OTHER;
    }
}

/* Rust char::is_whitespace (Unicode White_Space). */
static int is_ws(int32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}
static int is_other_cat(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}
static int is_punct_cp(int32_t c) {
    if (c < 128) return ascii_class[c] == C_PUNCT;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}
static int is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---------------------------------------------------------------------------------------------- */
/* UTF-8 decoding (maximal-subpart replacement, as Python's decode(errors="replace"))             */

/* Decode one code point at s[0..n). Returns bytes consumed (>= 1); *cp = -1 for an invalid subpart. */
static inline size_t utf8_next(const uint8_t *s, size_t n, int32_t *cp) {
    uint8_t b = s[0];
    if (b < 0x80) { *cp = b; return 1; }
    int need;
    uint8_t lo = 0x80, hi = 0xbf;
    int32_t c;
    if (b >= 0xc2 && b <= 0xdf) { need = 1; c = b & 0x1f; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; c = b & 0x0f; if (b == 0xe0) lo = 0xa0; if (b == 0xed) hi = 0x9f; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; c = b & 0x07; if (b == 0xf0) lo = 0x90; if (b == 0xf4) hi = 0x8f; }
    else { *cp = -1; return 1; }
    size_t i = 1;
    for (; i <= (size_t)need; i++) {
        if (i >= n) { *cp = -1; return i; }
        uint8_t x = s[i];
        if (x < lo || x > hi) { *cp = -1; return i; }
        lo = 0x80, hi = 0xbf;
        c = (c << 6) | (x & 0x3f);
    }
    *cp = c;
    return i;
}

/* ---------------------------------------------------------------------------------------------- */
/* Encoding                                                                                       */

/* One normalised character of the current word, with the original character it came from. */
typedef struct wchar {
    uint32_t bpos;           /* byte offset of its UTF-8 in w->buf */
    uint32_t ob0, ob1, oc0, oc1; /* original byte / char span */
    uint8_t ccc;             /* canonical combining class */
} wchar;

typedef struct enc_state {
    const spar_tokenizer *t;
    uint32_t *ids;
    spar_token_span *spans;
    size_t cap, n, limit; /* limit = max pieces (excluding specials) */
    int full;             /* limit reached: stop tokenising */
    /* current word */
    uint32_t wn;          /* chars stored (<= max_chars) */
    uint32_t wcount;      /* chars seen (may exceed max_chars) */
    uint32_t wbytes;
    uint32_t run_start;   /* NFD reordering may move a mark back to here, not past a starter */
    spar_token_span wspan;
    wchar wc[WP_MAX_WORD_CHARS + 1];
    char buf[4 * WP_MAX_WORD_CHARS + 4];
} enc_state;

static inline void emit(enc_state *e, uint32_t id, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1) {
    if (e->n >= e->limit) { e->full = 1; return; }
    size_t at = e->n++;
    if (at < e->cap) {
        e->ids[at] = id;
        if (e->spans) {
            e->spans[at].byte_start = b0, e->spans[at].byte_end = b1;
            e->spans[at].char_start = c0, e->spans[at].char_end = c1;
        }
    }
    if (e->n >= e->limit) e->full = 1;
}

/* Greedy longest-match-first WordPiece over the current word, then reset it. */
static void flush_word(enc_state *e) {
    const spar_tokenizer *t = e->t;
    uint32_t n = e->wn;
    if (e->wcount == 0) return;
    if (e->wcount > t->max_chars) {
        emit(e, (uint32_t)t->unk_id, e->wspan.byte_start, e->wspan.byte_end, e->wspan.char_start, e->wspan.char_end);
        goto reset;
    }
    e->wc[n].bpos = e->wbytes; /* sentinel */
    uint32_t piece_id[WP_MAX_WORD_CHARS], piece_a[WP_MAX_WORD_CHARS], piece_b[WP_MAX_WORD_CHARS];
    uint32_t np = 0, start = 0;
    while (start < n) {
        int cont = start > 0;
        uint32_t maxb = cont ? t->max_cont_bytes : t->max_start_bytes;
        uint32_t end = n;
        while (end > start && e->wc[end].bpos - e->wc[start].bpos > maxb) end--;
        int64_t id = -1;
        for (; end > start; end--) {
            id = lookup(t, e->buf + e->wc[start].bpos, e->wc[end].bpos - e->wc[start].bpos, cont);
            if (id >= 0) break;
        }
        if (id < 0) { np = 0; break; }
        piece_id[np] = (uint32_t)id, piece_a[np] = start, piece_b[np] = end;
        np++;
        start = end;
    }
    if (np == 0) {
        emit(e, (uint32_t)t->unk_id, e->wspan.byte_start, e->wspan.byte_end, e->wspan.char_start, e->wspan.char_end);
    } else {
        for (uint32_t i = 0; i < np && !e->full; i++) {
            const wchar *a = &e->wc[piece_a[i]], *b = &e->wc[piece_b[i] - 1];
            emit(e, piece_id[i], a->ob0, b->ob1, a->oc0, b->oc1);
        }
    }
reset:
    e->wn = e->wcount = e->wbytes = e->run_start = 0;
}

/* Swap stored chars k-1 and k (their UTF-8 bytes too). */
static void swap_prev(enc_state *e, uint32_t k) {
    wchar *a = &e->wc[k - 1], *b = &e->wc[k];
    uint32_t a0 = a->bpos, b0 = b->bpos, b1 = k + 1 < e->wn ? e->wc[k + 1].bpos : e->wbytes;
    uint32_t la = b0 - a0, lb = b1 - b0;
    char tmp[8];
    memcpy(tmp, e->buf + a0, la);
    memmove(e->buf + a0, e->buf + b0, lb);
    memcpy(e->buf + a0 + lb, tmp, la);
    wchar x = *a;
    *a = *b;
    *b = x;
    a->bpos = a0;
    b->bpos = a0 + lb;
}

/* Append one normalised code point to the word (pre-tokeniser: whitespace ends it, punctuation isolates). */
static inline void push_cp(enc_state *e, int32_t c, int ccc, const spar_token_span *orig) {
    int cls;
    if (c < 128) cls = ascii_class[c] == C_DROP ? (is_ws(c) ? C_SPACE : C_OTHER) : ascii_class[c];
    else cls = is_ws(c) ? C_SPACE : is_punct_cp(c) ? C_PUNCT : C_OTHER;
    if (cls == C_SPACE) { flush_word(e); return; }
    if (cls == C_PUNCT) flush_word(e);
    if (e->wcount == 0) e->wspan = *orig;
    e->wcount++;
    e->wspan.byte_end = orig->byte_end, e->wspan.char_end = orig->char_end;
    if (e->wcount <= e->t->max_chars) {
        wchar *w = &e->wc[e->wn++];
        w->bpos = e->wbytes;
        w->ob0 = orig->byte_start, w->ob1 = orig->byte_end, w->oc0 = orig->char_start, w->oc1 = orig->char_end;
        w->ccc = (uint8_t)ccc;
        e->wbytes += (uint32_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)e->buf + e->wbytes);
        if (ccc == 0) {
            e->run_start = e->wn;
        } else { /* canonical ordering of a run of marks (stable by class), as a whole-string NFD does */
            for (uint32_t k = e->wn - 1; k > e->run_start && e->wc[k - 1].ccc > ccc; k--) swap_prev(e, k);
        }
    }
    if (cls == C_PUNCT) flush_word(e);
}

/* BertNormalizer on one original code point (not ASCII-fast-pathed), feeding the results to push_cp. */
static void normalize_cp(enc_state *e, int32_t c, const spar_token_span *orig) {
    const spar_tokenizer *t = e->t;
    if (t->clean_text) {
        if (c == 0 || c == 0xfffd || (c != '\t' && c != '\n' && c != '\r' && is_other_cat(c))) return;
        if (is_ws(c)) { flush_word(e); return; }
    }
    int cjk = t->chinese && is_cjk(c);
    if (cjk) flush_word(e);
    utf8proc_int32_t d[32];
    utf8proc_ssize_t nd = 1;
    d[0] = c;
    if (t->strip_accents) {
        int boundclass = 0;
        nd = utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &boundclass);
        if (nd < 0 || nd > 32) { nd = 1; d[0] = c; }
    }
    for (utf8proc_ssize_t i = 0; i < nd; i++) {
        int32_t x = d[i];
        int ccc = 0;
        if (t->strip_accents) { /* NFD (reordering in push_cp), then drop Mn */
            const utf8proc_property_t *pr = utf8proc_get_property(x);
            ccc = pr->combining_class;
            if (pr->category == UTF8PROC_CATEGORY_MN) {
                if (ccc == 0) e->run_start = e->wn; /* a dropped starter still blocks reordering */
                continue;
            }
        }
        if (t->lowercase) {
            if (x == 0x130) { /* full lowercase: "i" + U+0307 (only when accents are kept: no NFD then) */
                push_cp(e, 'i', 0, orig);
                push_cp(e, 0x307, 0, orig);
                continue;
            }
            x = utf8proc_tolower(x);
        }
        push_cp(e, x, ccc, orig);
    }
    if (cjk) flush_word(e);
}

spar_status spar_tokenizer_encode(const spar_tokenizer *t, const char *text, size_t len,
                                  const spar_tokenize_opts *opts, uint32_t *ids, spar_token_span *spans,
                                  size_t cap, size_t *n_out, spar_diag *diag) {
    if (t == NULL || n_out == NULL || (text == NULL && len > 0) || (ids == NULL && cap > 0)) return SPAR_E_INVALID_ARG;
    *n_out = 0;
    spar_tokenize_opts o = opts ? *opts : spar_tokenize_opts_default();
    if (len > UINT32_MAX - 1) return spar_diag_err(diag, SPAR_E_INVALID_ARG, "text of %zu bytes: over 4 GiB", len);
    if (o.add_special && (t->cls_id < 0 || t->sep_id < 0))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "add_special: vocabulary has no [CLS]/[SEP]");
    if (o.add_special && o.max_len == 1)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "max_len 1 cannot hold [CLS] and [SEP]");
    pthread_once(&tables_once, init_tables);

    enc_state *e = malloc(sizeof *e); /* ~30 KiB: too big for small thread stacks */
    if (e == NULL) return SPAR_E_NOMEM;
    e->t = t;
    e->ids = ids;
    e->spans = spans;
    e->cap = cap;
    e->n = 0;
    e->full = 0;
    e->wn = e->wcount = e->wbytes = e->run_start = 0;
    /* limit counts [CLS] (already in e->n) but not the final [SEP], which is appended after the loop. */
    e->limit = o.max_len ? o.max_len - (o.add_special ? 1 : 0) : SIZE_MAX;
    if (o.add_special) {
        if (cap > 0) {
            ids[0] = (uint32_t)t->cls_id;
            if (spans) memset(&spans[0], 0, sizeof spans[0]);
        }
        e->n = 1;
    }
    if (e->n >= e->limit) e->full = 1;

    spar_status st = SPAR_OK;
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    uint32_t ci = 0; /* char index */
    while (i < len && !e->full) {
        uint8_t b = s[i];
        if (t->added_first[b]) { /* added tokens are matched on the raw text, longest first */
            uint32_t best = UINT32_MAX, best_len = 0;
            for (uint32_t k = 0; k < t->n_added; k++) {
                const added_tok *a = &t->added[k];
                if (a->len > best_len && a->len <= len - i && memcmp(s + i, t->strs + a->off, a->len) == 0)
                    best = k, best_len = a->len;
            }
            if (best != UINT32_MAX) {
                flush_word(e);
                uint32_t nchars = 0;
                for (uint32_t k = 0; k < best_len; k++) nchars += (s[i + k] & 0xc0) != 0x80;
                emit(e, t->added[best].id, (uint32_t)i, (uint32_t)(i + best_len), ci, ci + nchars);
                i += best_len;
                ci += nchars;
                continue;
            }
        }
        if (b < 0x80) { /* ASCII fast path */
            uint8_t cls = ascii_class[b];
            if (!t->clean_text && cls == C_DROP) cls = C_OTHER;
            if (cls == C_DROP) { i++, ci++; continue; }
            if (cls == C_SPACE) { flush_word(e); i++, ci++; continue; }
            spar_token_span sp = {(uint32_t)i, (uint32_t)i + 1, ci, ci + 1};
            push_cp(e, t->lowercase ? ascii_lower[b] : (char)b, 0, &sp);
            i++, ci++;
            continue;
        }
        int32_t c;
        size_t adv = utf8_next(s + i, len - i, &c);
        if (c < 0) {
            if (!o.replace_invalid) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "invalid UTF-8 at byte %zu (0x%02x)", i, b);
                goto done;
            }
            c = 0xfffd;
        }
        spar_token_span sp = {(uint32_t)i, (uint32_t)(i + adv), ci, ci + 1};
        normalize_cp(e, c, &sp);
        i += adv, ci++;
    }
    flush_word(e);
    /* Truncated early: the rest is still validated, so strict mode rejects the same inputs at any max_len. */
    while (i < len && !o.replace_invalid) {
        int32_t c;
        size_t adv = utf8_next(s + i, len - i, &c);
        if (c < 0) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "invalid UTF-8 at byte %zu (0x%02x)", i, s[i]);
            goto done;
        }
        i += adv;
    }
    if (o.add_special) {
        e->limit = SIZE_MAX;
        e->full = 0;
        emit(e, (uint32_t)t->sep_id, 0, 0, 0, 0);
    }
    *n_out = e->n;
    if (e->n > cap)
        st = spar_diag_err(diag, SPAR_E_INVALID_ARG, "output needs %zu ids, capacity is %zu", e->n, cap);
done:
    free(e);
    return st;
}
