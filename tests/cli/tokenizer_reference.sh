#!/usr/bin/env bash
# tokenizer_reference.sh — the C WordPiece tokenizer (encoders/tokenizer) against the independent Python model
# of the HF rules (tests/python/ref_wordpiece.py): ids AND character offsets must be identical on every
# document (title + " " + text) and query of the 7 classic-ir collections and on every line of
# tests/golden/tokenizer_adversarial.txt, untruncated and truncated to 512, with vocab.txt and tokenizer.json;
# and the inference-free query vectors (ids + float32 idf weights) of every classic-ir query.
# The C side runs through bench/bench_tokenizer. Skips (77) without shared data, python3 or the bench build.
set -u
SRC=${SPAR_SRC:?}
DATA=${SPAR_DATA:-}
BIN=${SPAR_BUILD:-}/bench/bench_tokenizer
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
VOCAB=$DATA/bert-base-uncased-vocab
if [ -z "$DATA" ] || [ ! -f "$VOCAB/vocab.txt" ] || [ ! -d "$DATA/classic-ir" ]; then
  echo "SKIP: shared data (SPAR_DATA=$DATA) not available"; exit 77; fi
if [ -z "$PY" ]; then echo "SKIP: no python3"; exit 77; fi
if [ ! -x "$BIN" ]; then echo "SKIP: $BIN not built (SPAR_BUILD_BENCH=OFF?)"; exit 77; fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
REF="$PY $SRC/tests/python/ref_wordpiece.py"

compare() { # name expected actual
  if cmp -s "$2" "$3"; then
    echo "ok   $1: $(wc -l < "$2") texts identical (ids and offsets)"
  else
    n=$(diff <(cat -n "$2") <(cat -n "$3") | grep -c '^<')
    echo "FAIL $1: $n texts differ; first:"
    diff <(cat -n "$2") <(cat -n "$3") | head -6
    fail=1
  fi
}

C=""
for c in adi cacm cisi cranfield lisa medline time; do
  [ -f "$DATA/classic-ir/$c/corpus.jsonl" ] || { echo "SKIP: classic-ir/$c missing"; exit 77; }
  C="$C $DATA/classic-ir/$c"
done
$REF extract $C > "$TMP/classic.hex" || exit 1
$REF hexlines "$SRC/tests/golden/tokenizer_adversarial.txt" > "$TMP/adv.hex" || exit 1

for set in classic adv; do
  $REF encode "$VOCAB/vocab.txt" "$TMP/$set.hex" "$TMP/$set.ref" 512 "$TMP/$set.ref512" || exit 1
  for v in vocab.txt tokenizer.json; do
    "$BIN" "$VOCAB/$v" "$TMP/$set.hex" --out "$TMP/$set.c" > "$TMP/$set.json" || { echo "FAIL: driver"; exit 1; }
    compare "$set/$v" "$TMP/$set.ref" "$TMP/$set.c"
  done
  "$BIN" "$VOCAB/vocab.txt" "$TMP/$set.hex" --out "$TMP/$set.c512" --max-len 512 > /dev/null || exit 1
  compare "$set/vocab.txt/max_len=512" "$TMP/$set.ref512" "$TMP/$set.c512"
done
# The checked-in golden file (tests/golden/test_tokenizer_golden.c) must still be what the reference says.
compare "golden file tokenizer_adversarial.expected is current" "$TMP/adv.ref" "$SRC/tests/golden/tokenizer_adversarial.expected"

# Inference-free query vectors (encoders/sparse/idf_query) for every classic-ir query.
IDF=$DATA/opensearch-sparse-idf/bert-uncased/idf.json
if [ -f "$IDF" ]; then
  $REF extract-queries $C > "$TMP/q.hex" || exit 1
  $REF idfquery "$VOCAB/vocab.txt" "$IDF" "$TMP/q.hex" "$TMP/q.ref" || exit 1
  "$BIN" "$VOCAB/tokenizer.json" "$TMP/q.hex" --idf "$IDF" --out "$TMP/q.c" > /dev/null || { echo "FAIL: driver --idf"; exit 1; }
  compare "idf-query/classic queries" "$TMP/q.ref" "$TMP/q.c"
else
  echo "note: $IDF absent; idf query comparison not run"
fi
exit $fail
