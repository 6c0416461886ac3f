/* index/analyzer.c — text analysis: UTF-8 text -> index terms, the first stage of indexing and querying.
 * One pass over the bytes: a small state machine cuts tokens (Unicode letter/digit runs joined across a
 * single apostrophe/period, UAX#29-style), normalises each character on the fly (utf8proc case folding,
 * NFD/NFKD + mark removal), then each finished token goes through acronym-dot removal, the English
 * possessive filter, the stopword filter and a libstemmer stemmer (with a per-analyzer stem cache).
 * Exact behaviour is documented in docs/analysis.md. Contract: index/analyzer.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include "index/analyzer.h"

/* ---- character kinds ---- */
enum {
    K_SEP = 0,    /* ends a token */
    K_LETTER = 1, /* L* */
    K_DIGIT = 2,  /* N* */
    K_MID = 3,    /* ' . (and U+2018/2019/FF07): joins letter-letter or digit-digit */
    K_MIDNUM = 4  /* , : joins digit-digit only */
};

/* ASCII kinds, built once per analyzer (cheap) so the hot loop is a table lookup. */
static void ascii_kinds(unsigned char kind[128]) {
    memset(kind, K_SEP, 128);
    for (int c = 'a'; c <= 'z'; c++) kind[c] = K_LETTER;
    for (int c = 'A'; c <= 'Z'; c++) kind[c] = K_LETTER;
    for (int c = '0'; c <= '9'; c++) kind[c] = K_DIGIT;
    kind['\''] = K_MID;
    kind['.'] = K_MID;
    kind[','] = K_MIDNUM;
}

/* ---- the English stopword set: Lucene 8.7 EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words) ---- */
static const char *const english_stopwords[] = {
    "a",    "an",   "and",   "are",  "as",   "at",   "be",    "but",   "by",    "for",  "if",
    "in",   "into", "is",    "it",   "no",   "not",  "of",    "on",    "or",    "such", "that",
    "the",  "their", "then", "there", "these", "they", "this", "to",   "was",   "will", "with"};
#define N_ENGLISH_STOPWORDS (sizeof english_stopwords / sizeof english_stopwords[0])

/* Stopwords are at most 5 ASCII bytes: a candidate token is packed into one uint64 and compared with the
 * packed set (33 integer compares, no strlen/memcmp). `fold` lowercases ASCII first (lowercase=0). */
static uint64_t pack_word(const char *t, size_t n, int fold) {
    uint64_t v = n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (fold && c >= 'A' && c <= 'Z') c = (unsigned char)(c | 0x20);
        v |= (uint64_t)c << (8 * (i + 1));
    }
    return v;
}

static void pack_stopwords(uint64_t packed[N_ENGLISH_STOPWORDS]) {
    for (size_t i = 0; i < N_ENGLISH_STOPWORDS; i++)
        packed[i] = pack_word(english_stopwords[i], strlen(english_stopwords[i]), 0);
}

static int is_stopword(const uint64_t packed[N_ENGLISH_STOPWORDS], const char *t, size_t n, int fold) {
    if (n > 5) return 0;
    uint64_t v = pack_word(t, n, fold);
    for (size_t i = 0; i < N_ENGLISH_STOPWORDS; i++)
        if (packed[i] == v) return 1;
    return 0;
}

/* ---- stem cache: open addressing, token bytes -> stem bytes, both stored inline in a 32-byte slot (one
 * cache line fetch per lookup); cleared wholesale when half full. Tokens whose key + stem exceed the slot
 * (rare: long words) are stemmed directly. ---- */
#define STEM_CACHE_SLOTS (1u << 15) /* power of two; 1 MiB */
#define STEM_SLOT_BYTES 26
typedef struct stem_slot {
    uint32_t hash; /* 0 = empty */
    uint8_t klen, slen;
    char kv[STEM_SLOT_BYTES]; /* key bytes then stem bytes */
} stem_slot;
_Static_assert(sizeof(stem_slot) == 32, "stem cache slot is half a cache line");

/* ---- per-code-point cache for non-ASCII input: what the character is and its normalised bytes, so that
 * utf8proc (property lookup, decomposition, folding) runs once per distinct character, not per occurrence.
 * Direct-mapped on the low bits of the code point. ---- */
enum { CK_SEP = 0, CK_LETTER, CK_DIGIT, CK_MARK, CK_IGNORE, CK_APOS, CK_IDEO };
#define CP_CACHE_SLOTS 2048u
#define CP_OUT_MAX 22
typedef struct cp_entry {
    int32_t cp;      /* -1 = empty */
    uint8_t kind;    /* CK_* */
    uint8_t n;       /* bytes in out; 0xFF = too long to cache (normalise on the fly) */
    uint8_t compose; /* out holds a mark or a conjoining jamo: the token needs NFC recomposition */
    uint8_t pad;
    char out[CP_OUT_MAX];
} cp_entry;
_Static_assert(sizeof(cp_entry) == 32, "code point cache entry is 32 bytes");

struct spar_analyzer {
    spar_analysis_opts o;
    int stop;                 /* 1: English set */
    int strip;                /* strip accents */
    int fold;                 /* case folding */
    struct sb_stemmer *stemmer; /* NULL: no stemming */
    utf8proc_option_t uopts;  /* per-code-point normalisation for non-ASCII */
    unsigned char akind[128];
    unsigned char alower[128];
    uint64_t stop_packed[N_ENGLISH_STOPWORDS];
    char *tb;                 /* current token bytes */
    size_t tcap;              /* bytes of tb; a token that outgrows it is dropped */
    utf8proc_int32_t *u32;    /* scratch for recomposition, tcap entries */
    stem_slot *slots;
    uint32_t n_cached;
    cp_entry *cpc;              /* CP_CACHE_SLOTS entries */
};

/* ---- token state ---- */
typedef struct tok_state {
    size_t len;      /* bytes in a->tb */
    int in_tok;
    int prev_kind;   /* K_LETTER / K_DIGIT of the last word character */
    int pend;        /* K_MID / K_MIDNUM seen after the token, not yet appended */
    char pend_byte;  /* its normalised byte */
    int overflow;    /* token exceeded the buffer: drop it */
    int compose;     /* token holds a mark or jamo: needs canonical ordering + recomposition */
    int ndots;       /* '.' appended (acronym check) */
} tok_state;

void spar_analysis_opts_default(spar_analysis_opts *o) {
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->lowercase = 1;
    o->strip_accents = 1;
    snprintf(o->stopwords, sizeof o->stopwords, "%s", "english");
    snprintf(o->stemmer, sizeof o->stemmer, "%s", "porter");
    o->max_token_bytes = 255;
}

#define MAX_TOKEN_BYTES_LIMIT 65535u

static int name_ok(const char *s, size_t cap) {
    const char *z = memchr(s, '\0', cap);
    if (z == NULL || z == s) return 0;
    for (const char *p = s; p < z; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

spar_status spar_analyzer_create(const spar_analysis_opts *o, spar_analyzer **out, spar_diag *diag) {
    if (out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    spar_analysis_opts def;
    if (o == NULL) {
        spar_analysis_opts_default(&def);
        o = &def;
    }
    if (!name_ok(o->stopwords, sizeof o->stopwords))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "analyzer: invalid stopword list name");
    if (!name_ok(o->stemmer, sizeof o->stemmer))
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "analyzer: invalid stemmer name");
    int stop;
    if (strcmp(o->stopwords, "none") == 0) stop = 0;
    else if (strcmp(o->stopwords, "english") == 0) stop = 1;
    else return spar_diag_err(diag, SPAR_E_INVALID_ARG, "analyzer: unknown stopword list '%s' (none|english)",
                              o->stopwords);
    if (o->max_token_bytes == 0 || o->max_token_bytes > MAX_TOKEN_BYTES_LIMIT)
        return spar_diag_err(diag, SPAR_E_INVALID_ARG, "analyzer: max_token_bytes %u out of range 1..%u",
                             o->max_token_bytes, MAX_TOKEN_BYTES_LIMIT);

    spar_analyzer *a = calloc(1, sizeof *a);
    if (a == NULL) return SPAR_E_NOMEM;
    a->o = *o;
    a->o.lowercase = o->lowercase ? 1 : 0;
    a->o.strip_accents = o->strip_accents ? 1 : 0;
    a->stop = stop;
    a->fold = a->o.lowercase;
    a->strip = a->o.strip_accents;
    if (strcmp(o->stemmer, "none") != 0) {
        a->stemmer = sb_stemmer_new(o->stemmer, "UTF_8");
        if (a->stemmer == NULL) {
            free(a);
            return spar_diag_err(diag, SPAR_E_INVALID_ARG,
                                 "analyzer: unknown stemmer '%s' (none, porter, english or a libstemmer name)",
                                 o->stemmer);
        }
    }
    a->uopts = (utf8proc_option_t)(a->strip ? (UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT) : UTF8PROC_DECOMPOSE);
    if (a->fold) a->uopts = (utf8proc_option_t)(a->uopts | UTF8PROC_CASEFOLD);
    ascii_kinds(a->akind);
    pack_stopwords(a->stop_packed);
    for (int c = 0; c < 128; c++)
        a->alower[c] = (unsigned char)((a->fold && c >= 'A' && c <= 'Z') ? c + 32 : c);
    /* room for the decomposed form (recomposition, possessive removal and the final length check come
     * after); only runaway tokens overflow this and are dropped early */
    a->tcap = 4 * (size_t)a->o.max_token_bytes + 16;
    a->tb = malloc(a->tcap + 8);
    a->u32 = malloc((a->tcap + 8) * sizeof *a->u32);
    if (a->stemmer != NULL) {
        a->slots = calloc(STEM_CACHE_SLOTS, sizeof *a->slots);
    }
    a->cpc = malloc(CP_CACHE_SLOTS * sizeof *a->cpc);
    if (a->cpc != NULL)
        for (uint32_t i = 0; i < CP_CACHE_SLOTS; i++) a->cpc[i].cp = -1;
    if (a->tb == NULL || a->u32 == NULL || a->cpc == NULL || (a->stemmer != NULL && a->slots == NULL)) {
        spar_analyzer_free(a);
        return SPAR_E_NOMEM;
    }
    *out = a;
    return SPAR_OK;
}

void spar_analyzer_free(spar_analyzer *a) {
    if (a == NULL) return;
    if (a->stemmer != NULL) sb_stemmer_delete(a->stemmer);
    free(a->slots);
    free(a->cpc);
    free(a->u32);
    free(a->tb);
    free(a);
}

/* ---- spar_terms ---- */
void spar_terms_reset(spar_terms *t) {
    if (t == NULL) return;
    t->n = 0;
    t->used = 0;
}

void spar_terms_free(spar_terms *t) {
    if (t == NULL) return;
    free(t->data);
    free(t->off);
    free(t->len);
    memset(t, 0, sizeof *t);
}

static spar_status terms_push(spar_terms *t, const char *p, size_t n) {
    if (SPAR_UNLIKELY(t->used + n > t->cap)) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->used + n) cap *= 2;
        if (cap > UINT32_MAX) {
            if (t->used + n > UINT32_MAX) return SPAR_E_NOMEM; /* offsets are 32-bit */
            cap = UINT32_MAX;
        }
        char *d = realloc(t->data, cap);
        if (d == NULL) return SPAR_E_NOMEM;
        t->data = d;
        t->cap = cap;
    }
    if (SPAR_UNLIKELY(t->n == t->ncap)) {
        if (t->ncap >= UINT32_MAX / 2) return SPAR_E_NOMEM;
        uint32_t ncap = t->ncap ? t->ncap * 2 : 512;
        uint32_t *off = spar_realloc_array(t->off, ncap, sizeof *off);
        if (off == NULL) return SPAR_E_NOMEM;
        t->off = off;
        uint32_t *len = spar_realloc_array(t->len, ncap, sizeof *len);
        if (len == NULL) return SPAR_E_NOMEM;
        t->len = len;
        t->ncap = ncap;
    }
    memcpy(t->data + t->used, p, n);
    t->off[t->n] = (uint32_t)t->used;
    t->len[t->n] = (uint32_t)n;
    t->n++;
    t->used += n;
    return SPAR_OK;
}

/* ---- UTF-8 decoding (strict: no overlongs, surrogates or > U+10FFFF). Returns bytes used, 0 if the byte
 * at s[0] does not start a valid sequence (the caller then skips that one byte as a separator). ---- */
static size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp) {
    unsigned c = s[0];
    if (c < 0xC2 || c > 0xF4) return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *cp = (int32_t)(((c & 0x1F) << 6) | (s[1] & 0x3F));
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        *cp = (int32_t)(((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F));
        return 3;
    }
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
    *cp = (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F));
    return 4;
}

static size_t utf8_encode(int32_t cp, char *d) {
    if (cp < 0x80) { d[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Han ideographs and Hiragana: one token per character (as Lucene's StandardTokenizer does). */
static int is_ideograph(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x3040 && cp <= 0x309F) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3134F) || cp == 0x3005 || cp == 0x3007;
}

static int cat_is_letter(utf8proc_category_t c) {
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}
static int cat_is_mark(utf8proc_category_t c) {
    return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}
static int cat_is_number(utf8proc_category_t c) {
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

/* Marks that strip_accents removes: the combining diacritic blocks (Latin/Greek/Cyrillic accents, which is
 * what NFKD splits off precomposed letters), Hebrew points and Arabic harakat. Marks that are part of the
 * spelling elsewhere (Indic vowel signs and viramas, Thai, kana voicing marks, ...) are kept, or stripping
 * would destroy those words. */
static int is_diacritic(int32_t cp) {
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
           (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0x0591 && cp <= 0x05C7) ||
           (cp >= 0x064B && cp <= 0x065F) || cp == 0x0670;
}

static inline void tok_put(spar_analyzer *a, tok_state *t, char c) {
    if (SPAR_UNLIKELY(t->len >= a->tcap)) { t->overflow = 1; return; }
    a->tb[t->len++] = c;
}

static int is_jamo(int32_t cp) {
    return (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97F) || (cp >= 0xD7B0 && cp <= 0xD7FF);
}

/* Normalised bytes of non-ASCII code point cp (a letter, digit or mark): fold/decompose with utf8proc, keep
 * letters, digits and the marks that survive strip_accents. Writes at most `cap` bytes to dst; returns the
 * byte count, or SIZE_MAX if it did not fit. *compose is set if the output needs NFC recomposition. */
static size_t normalise_cp(const spar_analyzer *a, int32_t cp, char *dst, size_t cap, int *compose) {
    utf8proc_int32_t dec[32];
    int bound = 0;
    size_t len = 0;
    *compose = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, dec, 32, a->uopts, &bound);
    if (n <= 0 || n > 32) return 0; /* (never for assigned code points) */
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t d = dec[i];
        if (d < 0x80) {
            if (a->akind[d] != K_LETTER && a->akind[d] != K_DIGIT) continue;
            if (len + 1 > cap) return SIZE_MAX;
            dst[len++] = (char)a->alower[d];
            continue;
        }
        utf8proc_category_t c = utf8proc_category(d);
        int mark = cat_is_mark(c);
        if (!(cat_is_letter(c) || cat_is_number(c) || (mark && !(a->strip && is_diacritic(d))))) continue;
        if (len + 4 > cap) return SIZE_MAX;
        len += utf8_encode(d, dst + len);
        if (mark || is_jamo(d)) *compose = 1;
    }
    return len;
}

/* The cache entry for cp, filled on a miss. */
static const cp_entry *cp_lookup(spar_analyzer *a, int32_t cp) {
    cp_entry *e = &a->cpc[(uint32_t)cp & (CP_CACHE_SLOTS - 1)];
    if (SPAR_LIKELY(e->cp == cp)) return e;
    e->cp = cp;
    e->n = 0;
    e->compose = 0;
    int compose = 0;
    size_t n = 0;
    if (cp == 0x2019 || cp == 0x2018 || cp == 0xFF07) { /* typographic apostrophes act as ' */
        e->kind = CK_APOS;
        return e;
    }
    if (is_ideograph(cp)) {
        e->kind = CK_IDEO;
        if (cp >= 0xF900 && cp <= 0xFAFF) n = normalise_cp(a, cp, e->out, CP_OUT_MAX, &compose); /* -> unified */
        else n = utf8_encode(cp, e->out); /* kept as is (Hiragana keeps its voicing marks) */
    } else {
        utf8proc_category_t cat = utf8proc_category(cp);
        if (cat_is_letter(cat) || cat_is_number(cat) || cat_is_mark(cat)) {
            e->kind = cat_is_letter(cat) ? CK_LETTER : cat_is_number(cat) ? CK_DIGIT : CK_MARK;
            n = normalise_cp(a, cp, e->out, CP_OUT_MAX, &compose);
        } else {
            /* format characters (soft hyphen, ZWJ, ...) are invisible, except ZERO WIDTH SPACE */
            e->kind = (cat == UTF8PROC_CATEGORY_CF && cp != 0x200B) ? CK_IGNORE : CK_SEP;
        }
    }
    e->n = n == SIZE_MAX ? 0xFF : (uint8_t)n;
    e->compose = (uint8_t)compose;
    return e;
}

/* Append the normalised form of the cached character e to the token. */
static void tok_put_entry(spar_analyzer *a, tok_state *t, const cp_entry *e) {
    if (SPAR_UNLIKELY(e->n == 0xFF)) { /* long expansion (e.g. U+FDFA): normalise straight into the token */
        int compose = 0;
        size_t n = normalise_cp(a, e->cp, a->tb + t->len, a->tcap - t->len, &compose);
        if (n == SIZE_MAX) { t->overflow = 1; return; }
        t->len += n;
        t->compose |= compose;
        return;
    }
    if (SPAR_UNLIKELY(t->len + e->n > a->tcap)) { t->overflow = 1; return; }
    memcpy(a->tb + t->len, e->out, e->n);
    t->len += e->n;
    t->compose |= e->compose;
}

/* Canonical ordering + NFC composition of a token holding non-ASCII bytes (so that precomposed and
 * decomposed input give the same term; Hangul jamo recombine). Shrinks or keeps the length. */
static void tok_compose(spar_analyzer *a, tok_state *t) {
    utf8proc_int32_t *u = a->u32;
    size_t n = 0, i = 0;
    const unsigned char *s = (const unsigned char *)a->tb;
    while (i < t->len) {
        if (s[i] < 0x80) { u[n++] = s[i++]; continue; }
        int32_t cp = 0;
        size_t k = utf8_decode(s + i, t->len - i, &cp);
        if (SPAR_NEVER(k == 0)) return; /* we only ever write valid UTF-8 */
        u[n++] = cp;
        i += k;
    }
    /* canonical ordering: stable insertion sort of each run of non-starters by combining class */
    for (size_t j = 1; j < n; j++) {
        int cc = utf8proc_get_property(u[j])->combining_class;
        if (cc == 0) continue;
        size_t k = j;
        while (k > 0) {
            int pc = utf8proc_get_property(u[k - 1])->combining_class;
            if (pc == 0 || pc <= cc) break;
            utf8proc_int32_t tmp = u[k];
            u[k] = u[k - 1];
            u[k - 1] = tmp;
            k--;
        }
    }
    utf8proc_ssize_t m = utf8proc_normalize_utf32(u, (utf8proc_ssize_t)n, UTF8PROC_COMPOSE);
    if (m < 0) return;
    size_t len = 0;
    for (utf8proc_ssize_t j = 0; j < m; j++) len += utf8_encode(u[j], a->tb + len);
    t->len = len;
}

/* "u.s.a" -> "usa": a token made only of single letters separated by single periods loses its periods
 * (Lucene's ClassicFilter does the same for ACRONYM tokens). Digits keep their periods ("3.14"). */
static void tok_acronym(spar_analyzer *a, tok_state *t) {
    const unsigned char *s = (const unsigned char *)a->tb;
    size_t i = 0, letters = 0;
    while (i < t->len) {
        int32_t cp;
        size_t k;
        if (s[i] < 0x80) {
            if (a->akind[s[i]] != K_LETTER) return;
            k = 1;
        } else {
            if ((k = utf8_decode(s + i, t->len - i, &cp)) == 0) return;
            if (!cat_is_letter(utf8proc_category(cp))) return;
        }
        i += k;
        letters++;
        if (i == t->len) break;
        if (s[i] != '.') return;
        i++;
        if (i == t->len) return;
    }
    if (letters < 2) return;
    size_t w = 0;
    for (size_t r = 0; r < t->len; r++)
        if (a->tb[r] != '.') a->tb[w++] = a->tb[r];
    t->len = w;
}

static uint32_t hash_bytes(const char *p, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h ? h : 1;
}

/* Stem tb[0..len) and append the result to out; memoised (stemming dominates the analyzer's cost and
 * natural-language vocabularies are Zipfian, so most calls hit). */
static spar_status stem_and_push(spar_analyzer *a, const char *tok, size_t len, spar_terms *out) {
    uint32_t h = 0, i = 0, mask = STEM_CACHE_SLOTS - 1;
    if (len < STEM_SLOT_BYTES) {
        h = hash_bytes(tok, len);
        i = h & mask;
        for (;;) {
            const stem_slot *sl = &a->slots[i];
            if (sl->hash == 0) break;
            if (sl->hash == h && sl->klen == len && memcmp(sl->kv, tok, len) == 0)
                return terms_push(out, sl->kv + sl->klen, sl->slen);
            i = (i + 1) & mask;
        }
    }
    const sb_symbol *r = sb_stemmer_stem(a->stemmer, (const sb_symbol *)tok, (int)len);
    if (r == NULL) return SPAR_E_NOMEM;
    size_t rlen = (size_t)sb_stemmer_length(a->stemmer);
    if (rlen == 0) { /* never emit an empty term: keep the word */
        r = (const sb_symbol *)tok;
        rlen = len;
    }
    spar_status st = terms_push(out, (const char *)r, rlen);
    if (st != SPAR_OK || len + rlen > STEM_SLOT_BYTES) return st;
    if (a->n_cached >= STEM_CACHE_SLOTS / 2) {
        memset(a->slots, 0, STEM_CACHE_SLOTS * sizeof *a->slots);
        a->n_cached = 0;
        i = h & mask;
    }
    stem_slot *sl = &a->slots[i];
    sl->hash = h;
    sl->klen = (uint8_t)len;
    sl->slen = (uint8_t)rlen;
    memcpy(sl->kv, tok, len);
    memcpy(sl->kv + len, r, rlen);
    a->n_cached++;
    return SPAR_OK;
}

/* The token in a->tb is complete: filter it and append its term. Resets the token state. */
static spar_status tok_emit(spar_analyzer *a, tok_state *t, spar_terms *out) {
    size_t len = t->len;
    int overflow = t->overflow, compose = t->compose, ndots = t->ndots;
    t->len = 0;
    t->in_tok = 0;
    t->pend = 0;
    t->overflow = 0;
    t->compose = 0;
    t->ndots = 0;
    if (overflow || len == 0) return SPAR_OK;
    tok_state f = {.len = len};
    if (compose) tok_compose(a, &f);
    if (ndots) tok_acronym(a, &f);
    len = f.len;
    const char *p = a->tb;
    /* English possessive: trailing 's / 'S (the tokenizer never leaves a trailing apostrophe) */
    if (len >= 3 && p[len - 2] == '\'' && (p[len - 1] == 's' || p[len - 1] == 'S')) len -= 2;
    if (len > a->o.max_token_bytes || len == 0) return SPAR_OK;
    if (a->stop && is_stopword(a->stop_packed, p, len, !a->fold)) return SPAR_OK;
    /* words of one or two bytes are not stemmed (as in Porter's reference code and Lucene's
     * PorterStemmer): Snowball would turn "s" into "" */
    if (a->stemmer == NULL || len <= 2) return terms_push(out, p, len);
    return stem_and_push(a, p, len, out);
}

/* A letter/digit of kind k is next: resolve a pending mid character and open a token if needed. */
static spar_status tok_word_start(spar_analyzer *a, tok_state *t, int k, spar_terms *out) {
    if (t->in_tok && t->pend) {
        int join = (t->pend == K_MID && k == t->prev_kind) ||
                   (t->pend == K_MIDNUM && k == K_DIGIT && t->prev_kind == K_DIGIT);
        if (join) {
            tok_put(a, t, t->pend_byte);
            if (t->pend_byte == '.') t->ndots++;
            t->pend = 0;
        } else {
            SPAR_TRY(tok_emit(a, t, out));
        }
    }
    t->in_tok = 1;
    t->prev_kind = k;
    return SPAR_OK;
}

static void tok_mid(tok_state *t, int k, char byte, int *need_emit) {
    *need_emit = 0;
    if (!t->in_tok) return;
    if (t->pend) { *need_emit = 1; return; } /* two mid characters in a row end the token */
    t->pend = k;
    t->pend_byte = byte;
}

spar_status spar_analyze(spar_analyzer *a, const char *text, size_t len, spar_terms *out) {
    if (a == NULL || out == NULL || (text == NULL && len != 0)) return SPAR_E_INVALID_ARG;
    const unsigned char *s = (const unsigned char *)text;
    tok_state t;
    memset(&t, 0, sizeof t);
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            int k = a->akind[c];
            i++;
            if (k == K_LETTER || k == K_DIGIT) {
                if (SPAR_UNLIKELY(!t.in_tok || t.pend || t.prev_kind != k)) SPAR_TRY(tok_word_start(a, &t, k, out));
                if (SPAR_LIKELY(t.len < a->tcap)) a->tb[t.len++] = (char)a->alower[c];
                else t.overflow = 1;
                continue;
            }
            if (k == K_SEP) {
                if (t.in_tok) SPAR_TRY(tok_emit(a, &t, out));
                continue;
            }
            int emit;
            tok_mid(&t, k, (char)c, &emit);
            if (emit) SPAR_TRY(tok_emit(a, &t, out));
            continue;
        }
        int32_t cp = 0;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) { /* invalid byte: a separator */
            i++;
            if (t.in_tok) SPAR_TRY(tok_emit(a, &t, out));
            continue;
        }
        i += n;
        const cp_entry *e = cp_lookup(a, cp);
        switch (e->kind) {
        case CK_LETTER:
        case CK_DIGIT: {
            int k = e->kind == CK_LETTER ? K_LETTER : K_DIGIT;
            if (!t.in_tok || t.pend || t.prev_kind != k) SPAR_TRY(tok_word_start(a, &t, k, out));
            tok_put_entry(a, &t, e);
            break;
        }
        case CK_MARK:
            /* combining marks extend the current word; a mark after a mid character or outside a word
             * is dropped (and ends the word in the first case) */
            if (t.in_tok && !t.pend) tok_put_entry(a, &t, e);
            else if (t.in_tok) SPAR_TRY(tok_emit(a, &t, out));
            break;
        case CK_APOS: {
            int emit;
            tok_mid(&t, K_MID, '\'', &emit);
            if (emit) SPAR_TRY(tok_emit(a, &t, out));
            break;
        }
        case CK_IDEO:
            if (t.in_tok) SPAR_TRY(tok_emit(a, &t, out));
            t.in_tok = 1;
            tok_put_entry(a, &t, e);
            SPAR_TRY(tok_emit(a, &t, out));
            break;
        case CK_IGNORE:
            break;
        default:
            if (t.in_tok) SPAR_TRY(tok_emit(a, &t, out));
        }
    }
    if (t.in_tok) SPAR_TRY(tok_emit(a, &t, out));
    return SPAR_OK;
}

/* ---- settings text form ---- */
spar_status spar_analysis_opts_format(const spar_analysis_opts *o, char *buf, size_t cap) {
    if (o == NULL || buf == NULL || cap == 0) return SPAR_E_INVALID_ARG;
    if (!name_ok(o->stopwords, sizeof o->stopwords) || !name_ok(o->stemmer, sizeof o->stemmer))
        return SPAR_E_INVALID_ARG;
    int n = snprintf(buf, cap, "lowercase=%d;strip_accents=%d;stopwords=%s;stemmer=%s;max_token_bytes=%u",
                     o->lowercase ? 1 : 0, o->strip_accents ? 1 : 0, o->stopwords, o->stemmer,
                     (unsigned)o->max_token_bytes);
    if (n < 0 || (size_t)n >= cap) return SPAR_E_INVALID_ARG;
    return SPAR_OK;
}

static int parse_bool(const char *v, size_t n, int *out) {
    if (n != 1 || (v[0] != '0' && v[0] != '1')) return 0;
    *out = v[0] - '0';
    return 1;
}

static int parse_name(const char *v, size_t n, char dst[32]) {
    if (n == 0 || n >= 32) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 1;
}

spar_status spar_analysis_opts_parse(const char *s, size_t len, spar_analysis_opts *o) {
    if (o == NULL || (s == NULL && len != 0)) return SPAR_E_INVALID_ARG;
    static const char *const keys[5] = {"lowercase", "strip_accents", "stopwords", "stemmer", "max_token_bytes"};
    spar_analysis_opts r;
    memset(&r, 0, sizeof r);
    unsigned seen = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != ';') j++;
        const char *f = s + i, *eq = memchr(f, '=', j - i);
        if (eq == NULL) return SPAR_E_CORRUPT;
        size_t klen = (size_t)(eq - f), vlen = j - i - klen - 1;
        const char *v = eq + 1;
        int key = -1;
        for (int k = 0; k < 5; k++)
            if (strlen(keys[k]) == klen && memcmp(keys[k], f, klen) == 0) key = k;
        if (key < 0 || (seen & (1u << key))) return SPAR_E_CORRUPT;
        seen |= 1u << key;
        int ok = 0;
        switch (key) {
        case 0: ok = parse_bool(v, vlen, &r.lowercase); break;
        case 1: ok = parse_bool(v, vlen, &r.strip_accents); break;
        case 2: ok = parse_name(v, vlen, r.stopwords); break;
        case 3: ok = parse_name(v, vlen, r.stemmer); break;
        default: {
            uint64_t x = 0;
            ok = vlen > 0 && vlen <= 6;
            for (size_t q = 0; ok && q < vlen; q++) {
                if (v[q] < '0' || v[q] > '9') ok = 0;
                else x = x * 10 + (uint64_t)(v[q] - '0');
            }
            if (ok && (x == 0 || x > MAX_TOKEN_BYTES_LIMIT)) ok = 0;
            r.max_token_bytes = (uint32_t)x;
        }
        }
        if (!ok) return SPAR_E_CORRUPT;
        if (j == len) break;
        i = j + 1;
        if (i == len) return SPAR_E_CORRUPT; /* trailing ';' */
    }
    if (seen != 0x1Fu) return SPAR_E_CORRUPT;
    *o = r;
    return SPAR_OK;
}
