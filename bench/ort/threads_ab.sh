#!/bin/sh
# threads_ab.sh — A/B of two bench_encoder builds (e.g. before / after a threading change), alternated:
# every round runs each binary once per shape, as a fresh `serve` process, with NO thread env vars
# (library defaults) unless the caller exports them.
#   sh threads_ab.sh OLD_BENCH_ENCODER NEW_BENCH_ENCODER MODEL_DIR [ROUNDS] [GRAPH] [SHAPES]
# SHAPES: "LEN:BATCH ..." (default "128:1 128:8"). Prints one line per run: label len batch median_s.
old=$1 new=$2 dir=$3 rounds=${4:-3} graph=${5:-encoder} shapes=${6:-"128:1 128:8"}
r=0
while [ "$r" -lt "$rounds" ]; do
  for shape in $shapes; do
    len=${shape%:*} batch=${shape#*:}
    for label in old new; do
      bin=$old; [ "$label" = new ] && bin=$new
      printf '%s %s %s 1\n%s %s %s 3\nquit\n' "$graph" "$len" 1 "$graph" "$len" "$batch" |
        "$bin" serve "$dir" | tail -1 | sed "s/^/$label round=$r /"
    done
  done
  r=$((r + 1))
done
