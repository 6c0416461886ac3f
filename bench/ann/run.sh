#!/usr/bin/env bash
# bench/ann/run.sh — spar ANN vs hnswlib-native (and a native popcount scan) in the same run, same files.
# Usage: bench/ann/run.sh [N=100000] [NQ=1000] [REPS=2]   (env BUILD=build dir with bench_ann, default build)
# Writes bench/results/ann-<date>.jsonl and prints a markdown table (QPS at recall@10 0.90/0.95/0.99).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
N=${1:-100000}; NQ=${2:-1000}; REPS=${3:-2}
BUILD=${BUILD:-$root/build}
data=$root/bench/data/ann; out=$root/bench/results; mkdir -p "$data" "$out"
res=$out/ann-$(date -u +%Y%m%dT%H%M%S).jsonl
command -v g++ >/dev/null || { echo "g++ missing"; exit 1; }
[ -f /usr/include/hnswlib/hnswlib.h ] || { echo "apt-get install -y libhnswlib-dev"; exit 1; }
g++ -O3 -march=native -std=c++17 -o "$BUILD/hnswlib_bench" "$here/hnswlib_bench.cpp" -lpthread
EFS=10,16,24,32,48,64,96,128,192,256,384,512
for kind in mid hard; do
  d=$data/$kind-$N; mkdir -p "$d"
  [ -f "$d/gt.ivecs" ] || "$BUILD/bench/bench_ann" gen "$d" "$kind" "$N" "$NQ" 12345 | tee -a "$res"
  for rep in $(seq "$REPS"); do          # alternate engines so machine noise hits both
    "$BUILD/bench/bench_ann" hnsw "$d" 16 200 1 "$EFS" | tee -a "$res"
    "$BUILD/hnswlib_bench" hnsw "$d" 16 200 1 "$EFS" | tee -a "$res"
  done
  "$BUILD/bench/bench_ann" hnsw "$d" 16 200 2 "64" | tee -a "$res"
  "$BUILD/hnswlib_bench" hnsw "$d" 16 200 2 "64" | tee -a "$res"
  for rep in $(seq "$REPS"); do
    "$BUILD/bench/bench_ann" bin "$d" | tee -a "$res"
    "$BUILD/hnswlib_bench" popcount "$d" | tee -a "$res"
  done
done
python3 "$here/summarize.py" "$res"
