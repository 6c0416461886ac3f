#!/usr/bin/env bash
# modernbert_reference.sh — spar's C ModernBERT (encoders/model/modernbert.c) against the from-scratch PyTorch
# reference (tests/python/ref_modernbert.py) on random-weight models generated at test time: lengths 1, 100,
# 300 and 1000 in one mixed batch (C packs without padding, the reference pads and masks), so local layers
# cross the 128-token window and several 64-token attention blocks; max|delta| <= 1e-4 on MLM logits, final
# hidden states and SPLADE max. Variants: the tiny config with ModernBERT-base's structure (window 128,
# global every 3 layers, both RoPE thetas, no biases, tied decoder); all biases + untied decoder + BF16 file +
# the transformers-5 config spelling (layer_types, rope_parameters); a bare ModernBertModel. A folder whose
# weights do not match must fail naming the tensors. The real ModernBERT-base config (22 layers, 768 hidden,
# vocab 50368, random weights; ~40 s more) runs too unless SPAR_MODERNBERT_BASE=0. Token ids only: spar has no BPE tokenizer yet.
# Needs /usr/bin/python3 with torch and bench_longctx; skips (77) otherwise and under sanitizer builds.
set -u
PY=/usr/bin/python3
SRC=${SPAR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SPAR_BUILD:-$SRC/build}
BIN=$BUILD/bench/bench_longctx
REF="$PY $SRC/tests/python/ref_modernbert.py"
if ! $PY -c 'import torch, numpy' 2>/dev/null; then echo "SKIP: $PY cannot import torch (apt-get install python3-torch)"; exit 77; fi
if [ ! -x "$BIN" ]; then echo "SKIP: $BIN not built (configure with -DSPAR_BUILD_BENCH=ON)"; exit 77; fi
if grep -qE '^SPAR_SANITIZE:[A-Z]*=.+' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: sanitizer build (the reference comparison runs in the normal build)"; exit 77
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
T=$(mktemp -d /tmp/spar_modernbert.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0

# phase 1 (one python process): models, ids, reference outputs; phase 2: C dumps; phase 3: comparisons
S1=$T/phase1.txt S3=$T/phase3.txt
echo "ids $T/ids.txt 1000 5 1 100 300 1000" >> "$S1"
echo "make $T/tiny --size tiny --seed 3" >> "$S1"
echo "make $T/tiny-bias --size tiny --seed 4 --biases --untied --new-config --dtype BF16" >> "$S1"
echo "make $T/tiny-bare --size tiny --seed 5 --bare" >> "$S1"
if [ "${SPAR_MODERNBERT_BASE:-1}" = 1 ]; then
  echo "ids $T/ids-base.txt 50368 6 1 100 300 1000" >> "$S1"
  echo "make $T/base --size base --seed 7" >> "$S1"
fi
C_JOBS=()
check() { # check NAME MODEL IDS [dump flags...]
  local name=$1 model=$2 idf=$3; shift 3
  echo "run $model $idf $T/$name.ref" >> "$S1"
  C_JOBS+=("$name $model $idf $*")
  echo "compare $T/$name.ref $T/$name.c 1e-4" >> "$S3"
}
check tiny "$T/tiny" "$T/ids.txt"
check tiny-bias "$T/tiny-bias" "$T/ids.txt"
check tiny-bare "$T/tiny-bare" "$T/ids.txt"
# a sparse global policy whose threshold is above every length must change nothing
check tiny-threshold "$T/tiny" "$T/ids.txt" --attention query-aware --attention-threshold 1001
if [ "${SPAR_MODERNBERT_BASE:-1}" = 1 ]; then check base "$T/base" "$T/ids-base.txt"
else echo "note: SPAR_MODERNBERT_BASE=0: ModernBERT-base config check skipped"; fi
$REF script "$S1" || { echo "FAIL reference phase"; exit 1; }
for job in "${C_JOBS[@]}"; do
  set -- $job
  name=$1 model=$2 idf=$3; shift 3
  mkdir -p "$T/$name.c"
  "$BIN" dump "$model" "$idf" "$T/$name.c" "$@" || { echo "FAIL C dump $name"; fail=1; }
done
# the comparison must be able to fail: a 126-token window differs from the reference's 128
mkdir -p "$T/w126" "$T/w126.c" && cp "$T/tiny/model.safetensors" "$T/w126/"
sed 's/"local_attention": 128/"local_attention": 126/' "$T/tiny/config.json" > "$T/w126/config.json"
"$BIN" dump "$T/w126" "$T/ids.txt" "$T/w126.c" 2>/dev/null || { echo "FAIL C dump w126"; fail=1; }
echo "compare $T/tiny.ref $T/w126.c 1e-4" > "$T/neg.txt"
$REF script "$S3" || fail=1
if $REF script "$T/neg.txt" > /dev/null; then echo "FAIL a wrong window (126) went unnoticed"; fail=1
else echo "ok   a wrong window (126) is detected"; fi

# wrong folder: the tiny weights under a config with another hidden size must name the mismatched tensors
mkdir -p "$T/wrong" && cp "$T/tiny/model.safetensors" "$T/wrong/"
sed 's/"hidden_size": 64/"hidden_size": 32/' "$T/tiny/config.json" > "$T/wrong/config.json"
if "$BIN" dump "$T/wrong" "$T/ids.txt" "$T" 2> "$T/wrong.err"; then echo "FAIL wrong folder accepted"; fail=1
elif grep -q "shape/dtype mismatch (decoder.bias\|shape/dtype mismatch (head.dense.weight\|mismatch (model.embeddings" "$T/wrong.err"; then
  echo "ok   wrong folder: $(cat "$T/wrong.err")"
else echo "FAIL wrong folder message: $(cat "$T/wrong.err")"; fail=1; fi
# the CLI on the same folder (token ids: --ids): attention options, default = exact
if [ -n "${SPAR:-}" ] && [ -x "$SPAR" ]; then
  q=$(sed -n 4p "$T/ids.txt")  # the 1000-token sequence
  "$SPAR" encode --model "$T/tiny" --ids --query "$q" --top-k 20 > "$T/cli.dense" || { echo "FAIL spar encode --ids"; fail=1; }
  "$SPAR" encode --model "$T/tiny" --ids --query "$q" --top-k 20 --attention query-aware --attention-threshold 1001 > "$T/cli.thr" &&
    cmp -s "$T/cli.dense" "$T/cli.thr" && echo "ok   CLI: a sparse policy below its threshold gives the dense vector" ||
    { echo "FAIL CLI threshold"; fail=1; }
  for pol in local query-aware vertical-slash; do
    if "$SPAR" encode --model "$T/tiny" --ids --query "$q" --top-k 20 --attention $pol --attention-threshold 256 --tau 0.9 \
         > "$T/cli.$pol" && grep -q '"vector":{"' "$T/cli.$pol"; then echo "ok   CLI: --attention $pol runs"
    else echo "FAIL CLI --attention $pol"; fail=1; fi
  done
  "$SPAR" encode --model "$T/tiny" --ids --query "$q" --attention bogus > /dev/null 2>&1
  [ $? -eq 2 ] && echo "ok   CLI: unknown --attention is a usage error" || { echo "FAIL CLI --attention bogus"; fail=1; }
else
  echo "note: SPAR not set: CLI checks skipped"
fi
[ $fail -eq 0 ] && echo "modernbert_reference: all checks passed"
exit $fail
