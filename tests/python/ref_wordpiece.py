#!/usr/bin/python3
"""ref_wordpiece.py — an independent, standard-library-only Python model of Hugging Face's BERT tokenizer
(tokenizers' BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP] template), used as the oracle for
encoders/tokenizer/wordpiece.c (tests/cli/tokenizer_reference.sh). It works on Python str with whole-string
passes, the way the HF rules are written, not on bytes the way the C code streams.

  ref_wordpiece.py encode VOCAB IN.hex OUT.txt [MAXLEN OUT2.txt]
                                                 # one text per input line, hex of its raw UTF-8 bytes;
                                                 # writes "ids<TAB>char offsets" per text (OUT2: truncated)
  ref_wordpiece.py idfquery VOCAB IDF.json IN.hex OUT.txt
                                                 # inference-free query vectors: distinct non-special ids,
                                                 # ascending, weight idf[token] (1.0 if unlisted), "id:weight"
  ref_wordpiece.py extract DIR... > texts.hex    # every doc (title + " " + text) and query of BEIR-style dirs
  ref_wordpiece.py extract-queries DIR... > q.hex # queries only
  ref_wordpiece.py hexlines FILE > texts.hex     # every line of a text file (\\xNN escapes decoded)

VOCAB is vocab.txt or tokenizer.json. Invalid UTF-8 is decoded with errors="replace" (U+FFFD, which the
cleanup then drops), matching the C tokenizer's replace_invalid mode."""
import json
import re
import struct
import sys
import unicodedata

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_CHARS = 100


def load_vocab(path):
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        vocab = dict(tj["model"]["vocab"])
        added = [a["content"] for a in tj.get("added_tokens", [])]
    else:
        vocab = {}
        with open(path, encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
            if lines and lines[-1] == "":
                lines.pop()  # a final newline does not start another token
            for i, line in enumerate(lines):
                vocab[line.rstrip(" \t\r\x0b\x0c")] = i  # Rust: line.trim_end(); later ids win
        added = [s for s in SPECIALS if s in vocab]
    return vocab, sorted(set(added) | {s for s in SPECIALS if s in vocab}, key=len, reverse=True)


# Rust char::is_whitespace (White_Space property)
WS = set([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
         + list(range(0x2000, 0x200B)))


def is_whitespace(ch):
    return ord(ch) in WS


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
       (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_cjk(ch):
    cp = ord(ch)
    return any(a <= cp <= b for a, b in CJK)


def nfd_aligned(chars):
    """NFD of a list of (char, origin) keeping origins: decompose each char, then canonical reordering of
    runs of non-starters (stable sort by combining class), as a whole-string NFD does."""
    out = []
    for ch, o in chars:
        for d in unicodedata.normalize("NFD", ch):
            out.append((d, o))
    i = 0
    while i < len(out):
        if unicodedata.combining(out[i][0]) == 0:
            i += 1
            continue
        j = i
        while j < len(out) and unicodedata.combining(out[j][0]) != 0:
            j += 1
        out[i:j] = sorted(out[i:j], key=lambda p: unicodedata.combining(p[0]))
        i = j
    return out


def normalize(chars):
    """BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None->True, lowercase) on (char, origin)."""
    cleaned = []
    for ch, o in chars:
        if ord(ch) == 0 or ord(ch) == 0xFFFD or is_control(ch):
            continue
        cleaned.append((" " if is_whitespace(ch) else ch, o))
    spaced = []
    for ch, o in cleaned:
        if is_cjk(ch):
            spaced += [(" ", o), (ch, o), (" ", o)]
        else:
            spaced.append((ch, o))
    stripped = [(d, o) for d, o in nfd_aligned(spaced) if unicodedata.category(d) != "Mn"]
    lowered = []
    for ch, o in stripped:
        for l in ch.lower():  # per-char full lowercase (no final-sigma context, like Rust char::to_lowercase)
            lowered.append((l, o))
    return lowered


def pretokenize(chars):
    words, cur = [], []
    for ch, o in chars:
        if is_whitespace(ch):
            if cur:
                words.append(cur)
            cur = []
        elif is_punct(ch):
            if cur:
                words.append(cur)
            words.append([(ch, o)])
            cur = []
        else:
            cur.append((ch, o))
    if cur:
        words.append(cur)
    return words


def wordpiece(word, vocab, unk_id):
    text = "".join(c for c, _ in word)
    span = (word[0][1], word[-1][1] + 1)
    if len(text) > MAX_CHARS:
        return [(unk_id, span)]
    out, start = [], 0
    while start < len(text):
        end, found = len(text), None
        while start < end:
            sub = text[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                found = vocab[sub]
                break
            end -= 1
        if found is None:
            return [(unk_id, span)]
        out.append((found, (word[start][1], word[end - 1][1] + 1)))
        start = end
    return out


def encode(text, vocab, added):
    pieces = [(vocab["[CLS]"], (0, 0))]
    if added:
        pat = re.compile("|".join(re.escape(a) for a in added))
        pos = 0
        segs = []
        for m in pat.finditer(text):
            segs.append((pos, text[pos:m.start()], None))
            segs.append((m.start(), m.group(0), vocab[m.group(0)]))
            pos = m.end()
        segs.append((pos, text[pos:], None))
    else:
        segs = [(0, text, None)]
    for base, seg, special_id in segs:
        if special_id is not None:
            pieces.append((special_id, (base, base + len(seg))))
            continue
        chars = [(ch, base + i) for i, ch in enumerate(seg)]
        for w in pretokenize(normalize(chars)):
            pieces += wordpiece(w, vocab, vocab["[UNK]"])
    pieces.append((vocab["[SEP]"], (0, 0)))
    return pieces


def main():
    cmd = sys.argv[1]
    if cmd == "encode":
        vocab, added = load_vocab(sys.argv[2])
        # optional: MAXLEN OUT2 also writes the output truncated to MAXLEN ids (HF truncation=True,
        # max_length=MAXLEN: the first MAXLEN-2 pieces between [CLS] and [SEP])
        trunc = int(sys.argv[5]) if len(sys.argv) > 6 else 0
        fout2 = open(sys.argv[6], "w") if trunc else None
        with open(sys.argv[3]) as fin, open(sys.argv[4], "w") as fout:
            for line in fin:
                text = bytes.fromhex(line.strip()).decode("utf-8", "replace")
                p = encode(text, vocab, added)
                fout.write(" ".join(str(i) for i, _ in p) + "\t" +
                           " ".join("%d:%d" % s for _, s in p) + "\n")
                if fout2 is not None:
                    if len(p) > trunc:
                        p = p[:trunc - 1] + p[-1:]
                    fout2.write(" ".join(str(i) for i, _ in p) + "\t" +
                                " ".join("%d:%d" % s for _, s in p) + "\n")
        if fout2 is not None:
            fout2.close()
    elif cmd == "idfquery":
        vocab, added = load_vocab(sys.argv[2])
        with open(sys.argv[3], encoding="utf-8") as f:
            idf = json.load(f)
        inv = {i: t for t, i in vocab.items()}
        with open(sys.argv[4]) as fin, open(sys.argv[5], "w") as fout:
            for line in fin:
                text = bytes.fromhex(line.strip()).decode("utf-8", "replace")
                ids = sorted({i for i, _ in encode(text, vocab, added)} - {vocab[s] for s in added})
                f32 = [struct.unpack("f", struct.pack("f", idf.get(inv[i], 1.0)))[0] for i in ids]
                fout.write(" ".join("%d:%.9g" % (i, w) for i, w in zip(ids, f32)) + "\n")
    elif cmd == "extract":
        out = sys.stdout
        for d in sys.argv[2:]:
            with open(d + "/corpus.jsonl", encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    t = (r.get("title") or "") + " " + (r.get("text") or "")
                    out.write(t.encode("utf-8").hex() + "\n")
            with open(d + "/queries.jsonl", encoding="utf-8") as f:
                for line in f:
                    out.write(json.loads(line)["text"].encode("utf-8").hex() + "\n")
    elif cmd == "extract-queries":
        for d in sys.argv[2:]:
            with open(d + "/queries.jsonl", encoding="utf-8") as f:
                for line in f:
                    sys.stdout.write(json.loads(line)["text"].encode("utf-8").hex() + "\n")
    elif cmd == "hexlines":
        with open(sys.argv[2], "rb") as f:
            for line in f.read().split(b"\n"):
                if not line or line.startswith(b"#"):
                    continue
                raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), line)
                sys.stdout.write(raw.hex() + "\n")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
