#!/usr/bin/env bash
# transformer_reference.sh — spar's C transformer (encoders/model) against a from-scratch PyTorch reference
# (tests/python/ref_bert.py). Random-weight models are generated at test time (tests/python/make_model.py):
# tiny BERT/DistilBERT (F32, F16, BF16 files, tied and untied decoders, bare encoders) and the real
# bert-base-uncased / distilbert-base-uncased configs. Checks max|delta logit| <= 1e-4, hidden states, dense
# pooling and SPLADE max/sum vectors (same support, weights within 1e-4) for lengths 1, 7, 128, 512 and mixed
# batches; checks that a wrong model folder fails naming missing/unexpected tensors. Also prints the bf16 /
# int8 weight-rounding error against the fp32 reference (informational, not gated).
# Needs /usr/bin/python3 with torch (Debian python3-torch): skips (77) otherwise.
set -u
PY=/usr/bin/python3
SRC=${SPAR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SPAR_BUILD:-$SRC/build}
BIN=$BUILD/bench/bench_encoder
if ! $PY -c 'import torch, numpy' 2>/dev/null; then echo "SKIP: $PY cannot import torch (apt-get install python3-torch)"; exit 77; fi
if [ ! -x "$BIN" ]; then echo "SKIP: $BIN not built (configure with -DSPAR_BUILD_BENCH=ON)"; exit 77; fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
VOCAB=${SPAR_DATA:-$SRC/../shared/data}/bert-base-uncased-vocab/vocab.txt
REF="$PY $SRC/tests/python/ref_bert.py"
T=$(mktemp -d /tmp/spar_transformer.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ids() { # ids OUT VOCAB_SIZE SEED LEN...
  local out=$1 v=$2 seed=$3; shift 3
  $PY - "$v" "$seed" "$@" > "$out" <<'PYEOF'
import random, sys
v, seed, lens = int(sys.argv[1]), int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
r = random.Random(seed)
cls, sep = (101, 102) if v > 200 else (1, 2)
for n in lens:
    body = [r.randrange(3, v) for _ in range(max(0, n - 2))]
    print(" ".join(str(t) for t in ([cls] + body + [sep])[:n]))
PYEOF
}
mk() { $PY "$SRC/tests/python/make_model.py" "$@" --vocab-src "$VOCAB" || { echo "FAIL make_model $*"; exit 1; }; }
job() { # job NAME MODEL IDS [C-FLAGS] [info]: queue a reference run, a C run and a comparison
  local name=$1 model=$2 idf=$3 flags=${4:-} info=${5:-}
  mkdir -p "$T/$name.c"
  [ -z "$flags" ] && { mkdir -p "$T/$name.ref"; echo "$model $idf $T/$name.ref" >> "$T/ref.jobs"; }
  echo "$model $idf $T/$name.c $flags" >> "$T/c.jobs"
  echo "$name $T/${6:-$name}.ref $T/$name.c 1e-4 $info" >> "$T/cmp.jobs"
}
run_jobs() {
  if [ -s "$T/ref.jobs" ] && ! $REF runmany "$T/ref.jobs"; then echo "FAIL reference run"; fail=1; fi
  while read -r model idf out flags; do
    "$BIN" dump "$model" "$idf" "$out" $flags || { echo "FAIL C dump $model $idf $flags"; fail=1; }
  done < "$T/c.jobs"
  $REF comparemany "$T/cmp.jobs" || fail=1
  rm -f "$T/ref.jobs" "$T/c.jobs" "$T/cmp.jobs"
}

# --- tiny models: every length alone, mixed batches, file dtypes, tied/untied, bare encoders
mk "$T/tiny-bert" --arch bert --size tiny --seed 11
mk "$T/tiny-distil" --arch distilbert --size tiny --seed 12
mk "$T/tiny-bert-untied-f16" --arch bert --size tiny --seed 13 --untied --dtype F16
mk "$T/tiny-distil-untied-bf16" --arch distilbert --size tiny --seed 14 --untied --dtype BF16
mk "$T/tiny-bert-bare" --arch bert --size tiny --seed 15 --bare
mk "$T/tiny-distil-bare" --arch distilbert --size tiny --seed 16 --bare
for L in 1 7 128 512; do ids "$T/ids-$L.txt" 1000 $L $L; done
ids "$T/ids-mixed.txt" 1000 99 7 512 1 128 33 2
for m in tiny-bert tiny-distil; do
  for L in 1 7 128 512; do job "$m-len$L" "$T/$m" "$T/ids-$L.txt"; done
  job "$m-mixed" "$T/$m" "$T/ids-mixed.txt"
done
for m in tiny-bert-untied-f16 tiny-distil-untied-bf16 tiny-bert-bare tiny-distil-bare; do job "$m-mixed" "$T/$m" "$T/ids-mixed.txt"; done
run_jobs

# --- a wrong folder: DistilBERT weights under a BERT config must name missing and unexpected tensors
mkdir -p "$T/wrong" && cp "$T/tiny-distil/model.safetensors" "$T/wrong/" && cp "$T/tiny-bert/config.json" "$T/wrong/"
if "$BIN" dump "$T/wrong" "$T/ids-7.txt" "$T" 2> "$T/wrong.err"; then echo "FAIL wrong folder accepted"; fail=1; fi
if grep -q "missing (embeddings.word_embeddings.weight" "$T/wrong.err" &&
   grep -q "unexpected (distilbert.embeddings.LayerNorm.bias" "$T/wrong.err"; then echo "ok wrong folder: $(cat "$T/wrong.err")"
else echo "FAIL wrong folder message: $(cat "$T/wrong.err")"; fail=1; fi
rm -rf "$T"/tiny-* "$T"/*.ref "$T"/*.c

# --- real bert-base-uncased / distilbert-base-uncased configs, random weights
ids "$T/base-mixed.txt" 30522 7 1 7 128 512
ids "$T/base-128.txt" 30522 8 128
mk "$T/bert-base" --arch bert --size base --seed 21
job bert-base-mixed "$T/bert-base" "$T/base-mixed.txt"
job bert-base-len128 "$T/bert-base" "$T/base-128.txt"
job bert-base-len128-bf16-weights "$T/bert-base" "$T/base-128.txt" --bf16 info bert-base-len128
job bert-base-len128-int8-weights "$T/bert-base" "$T/base-128.txt" --int8 info bert-base-len128
run_jobs
# Thread count: a repeated 2-thread run is bit-identical; 1 vs 2 threads agree within 1e-5 (OpenBLAS sgemm's
# summation order depends on its thread count, so bitwise equality across thread counts is not provided).
mkdir -p "$T/t1" "$T/t2" "$T/t2b"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BIN" dump "$T/bert-base" "$T/base-mixed.txt" "$T/t1" 2>/dev/null
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$BIN" dump "$T/bert-base" "$T/base-mixed.txt" "$T/t2" 2>/dev/null
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$BIN" dump "$T/bert-base" "$T/base-mixed.txt" "$T/t2b" 2>/dev/null
for f in logits hidden splade_max splade_sum; do
  if cmp -s "$T/t2/$f.f32" "$T/t2b/$f.f32"; then echo "ok $f.f32 bit-identical over two 2-thread runs"
  else echo "FAIL $f.f32 differs between two identical runs"; fail=1; fi
done
echo "threads-1-vs-2 $T/t1 $T/t2 1e-5" > "$T/cmp.jobs"
$REF comparemany "$T/cmp.jobs" || fail=1
rm -f "$T/cmp.jobs"
rm -rf "$T/bert-base" "$T"/*.ref "$T"/*.c "$T/t1" "$T/t2" "$T/t2b"
mk "$T/distilbert-base" --arch distilbert --size base --seed 22
job distilbert-base-mixed "$T/distilbert-base" "$T/base-mixed.txt"
run_jobs

# --- optional: a real pretrained HF folder (e.g. naver/splade-cocondenser-ensembledistil) via SPAR_MODEL_DIR
if [ -n "${SPAR_MODEL_DIR:-}" ] && [ -f "$SPAR_MODEL_DIR/model.safetensors" ]; then
  V=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["vocab_size"])' "$SPAR_MODEL_DIR/config.json")
  ids "$T/real.txt" "$V" 5 9 64 300
  job pretrained-mixed "$SPAR_MODEL_DIR" "$T/real.txt"
  run_jobs
else
  echo "note: SPAR_MODEL_DIR not set: pretrained-weights check skipped"
fi
[ $fail -eq 0 ] && echo "transformer_reference: all checks passed"
exit $fail
