# transformer_lib.bash — shared helpers of tests/cli/transformer_reference*.sh (sourced; not a test itself).
# Sets PY, SRC, BUILD, BIN, VOCAB, REF, T (temp dir, removed on exit), fail; exits 77 without torch or the
# bench_encoder binary. Functions: ids (random id files), mk (model writer), job / run_jobs (batched
# reference run, C dumps, comparisons).
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

