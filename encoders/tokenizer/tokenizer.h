/* tokenizer.h — BERT WordPiece tokenizer (encoders/tokenizer): UTF-8 text -> vocabulary ids + offsets.
 * Reproduces Hugging Face `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP]) for
 * uncased BERT vocabularies; rules and known divergences are in docs/encoders/tokenizer.md.
 * Contract for encoders/model (input ids), encoders/sparse/idf_query.c and later `spar encode`.
 *
 * Thread-safety: a spar_tokenizer is immutable after load; share it freely across threads.
 * spar_tokenizer_encode() allocates one private ~30 KiB work block per call and writes only caller buffers. */
#ifndef SPAR_TOKENIZER_H
#define SPAR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "spar/spar_status.h"

typedef struct spar_tokenizer spar_tokenizer;

/** Format of an in-memory vocabulary (spar_tokenizer_load_mem). */
typedef enum spar_tokenizer_format {
    SPAR_TOKENIZER_VOCAB_TXT = 0, /* one token per line, id = line index, trailing whitespace trimmed */
    SPAR_TOKENIZER_JSON = 1       /* HF tokenizer.json with a WordPiece model */
} spar_tokenizer_format;

/** Where one token came from in the input. A token made of part of an expanded character (e.g. one Hangul
 *  jamo of a decomposed syllable) covers that whole character. [CLS]/[SEP] added by encode have {0,0,0,0},
 *  as HF's offset_mapping has (0, 0). */
typedef struct spar_token_span {
    uint32_t byte_start, byte_end; /* [start, end) in bytes of the input */
    uint32_t char_start, char_end; /* [start, end) in code points, as HF offset_mapping on a Python str;
                                      with replace_invalid, each invalid maximal subpart counts as one char
                                      (Python's bytes.decode("utf-8", "replace")) */
} spar_token_span;

typedef struct spar_tokenize_opts {
    uint32_t max_len;        /* truncate to this many ids incl. [CLS]/[SEP]; 0 = no truncation. SPLADE: 512 */
    int add_special;         /* non-zero: [CLS] ... [SEP] */
    int replace_invalid;     /* 0: invalid UTF-8 -> SPAR_E_CORRUPT naming the byte offset (default);
                                1: each invalid maximal subpart becomes U+FFFD, which BERT cleanup then drops */
} spar_tokenize_opts;

/** Defaults: max_len 512, add_special 1, replace_invalid 0. */
spar_tokenize_opts spar_tokenize_opts_default(void);

/** Load a vocabulary: `path` is a vocab.txt, a tokenizer.json (by the ".json" suffix), or a model directory
 *  holding tokenizer.json (preferred) or vocab.txt.
 *  @param[out] out   release with spar_tokenizer_free().
 *  @return SPAR_OK, SPAR_E_IO, SPAR_E_NOT_FOUND (directory without either file), SPAR_E_CORRUPT (malformed
 *          file: diag names file and line/byte), SPAR_E_UNSUPPORTED (a tokenizer.json model that is not
 *          WordPiece), SPAR_E_NOMEM. */
SPAR_NODISCARD spar_status spar_tokenizer_load(const char *path, spar_tokenizer **out, spar_diag *diag);

/** Same from memory (buf is not kept). `label` names the source in diagnostics (NULL ok). */
SPAR_NODISCARD spar_status spar_tokenizer_load_mem(const char *buf, size_t len, spar_tokenizer_format fmt,
                                                   const char *label, spar_tokenizer **out, spar_diag *diag);

void spar_tokenizer_free(spar_tokenizer *tok); /* NULL is a no-op */

/** Tokenize `len` bytes of UTF-8 text (NUL bytes are ordinary input and are dropped by cleanup).
 *  Writes at most `cap` ids (and spans, when `spans` is non-NULL) and sets *n to the number of ids the
 *  text produces after truncation. If that exceeds `cap`, nothing beyond cap is written and the call
 *  returns SPAR_E_INVALID_ARG with *n = the capacity needed; spar_tokenizer_encode_bound() is always enough.
 *  @return SPAR_OK, SPAR_E_CORRUPT (invalid UTF-8 and !replace_invalid; diag names the byte offset; the
 *          whole input is validated even past the truncation point), SPAR_E_INVALID_ARG, SPAR_E_NOMEM.
 *  Thread-safe on a shared tokenizer. */
SPAR_NODISCARD spar_status spar_tokenizer_encode(const spar_tokenizer *tok, const char *text, size_t len,
                                                 const spar_tokenize_opts *opts, uint32_t *ids,
                                                 spar_token_span *spans, size_t cap, size_t *n,
                                                 spar_diag *diag);

/** Capacity that always suffices for encode of `len` bytes (no truncation): 3 * len + 2. */
size_t spar_tokenizer_encode_bound(size_t len);

/** Number of ids (max id + 1). */
uint32_t spar_tokenizer_vocab_size(const spar_tokenizer *tok);
/** Id of an exact vocabulary string (with "##" for continuations), or -1. */
int64_t spar_tokenizer_token_id(const spar_tokenizer *tok, const char *s, size_t len);
/** String of id (owned by tok, valid until spar_tokenizer_free; NUL-terminated), or NULL if no such id. */
const char *spar_tokenizer_token_str(const spar_tokenizer *tok, uint32_t id, size_t *len);
/** Non-zero for the added special tokens ([PAD] [UNK] [CLS] [SEP] [MASK] or tokenizer.json added_tokens
 *  with special=true). */
int spar_tokenizer_is_special(const spar_tokenizer *tok, uint32_t id);

typedef struct spar_tokenizer_info {
    uint32_t vocab_size;
    int64_t cls_id, sep_id, pad_id, unk_id, mask_id; /* -1 when absent */
    uint32_t max_input_chars_per_word;               /* 100 for BERT */
    int lowercase, strip_accents, handle_chinese_chars, clean_text;
} spar_tokenizer_info;
void spar_tokenizer_get_info(const spar_tokenizer *tok, spar_tokenizer_info *info);

#endif
