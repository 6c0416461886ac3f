#!/usr/bin/env bash
# tests/fuzz/run.sh — run libFuzzer targets for a fixed time each and summarise (docs/fuzzing.md).
#   usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]      (TARGET = config, eval, ...; default: all)
# BUILD_DIR must be configured with clang and -DSPAR_BUILD_FUZZ=ON (add -DSPAR_SANITIZE=address,undefined).
# Seeds are read from tests/fuzz/corpus/TARGET/ and never written to: new inputs go to
# ${FUZZ_WORK:-/tmp/spar-fuzz}/TARGET/corpus, crashes/leaks/timeouts to .../TARGET/artifacts/.
# Prints one line per target: name, seconds, executions, new corpus size, artifacts; exit 1 if any artifact.
set -u
build=${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
secs=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${FUZZ_WORK:-/tmp/spar-fuzz}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$src"/tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
fail=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz_$t
  if [ ! -x "$bin" ]; then echo "$t: $bin not built (clang, -DSPAR_BUILD_FUZZ=ON)"; fail=1; continue; fi
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  log=$work/$t/log.txt
  "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 \
    -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  n_art=$(find "$work/$t/artifacts" -type f | wc -l)
  echo "$t: ${secs}s rc=$rc execs=${execs:-?} corpus=$(ls "$work/$t/corpus" | wc -l) artifacts=$n_art log=$log"
  [ "$rc" -ne 0 ] || [ "$n_art" -ne 0 ] && fail=1
done
exit $fail
