#!/usr/bin/env bash
# bench/ann/run.sh — spar ANN against its peers in ONE run on the SAME files, engines alternated so that
# machine noise hits both:  hnswlib (Debian libhnswlib-dev, compiled here -O3 -march=native), a native
# popcount scan, and faiss (Debian python3-faiss, generic build, 1 thread).
# Usage: bench/ann/run.sh [N=100000] [NQ=1000] [REPS=2]      env BUILD = cmake build dir (default ./build),
#        KINDS="mid hard wide" (data sets; wide = 768-d), EFS / NPS (ef and nprobe sweeps),
#        PARTS (default "hnsw scan sq8 binhnsw ivf faiss": which measurements to run; faissf / faissb = faiss
#        float or binary only), RERANK (IVF-PQ re-rank depth, default 100)
# Needs: apt-get install -y libhnswlib-dev python3-faiss python3-numpy g++
# ANN_CPUTIME=1 times 1-thread builds and searches on the thread's CPU clock (robust when other jobs load the
# machine; 2-thread figures stay wall clock). ANN_CACHE=1 reuses built graphs (search-only iterations).
# Writes bench/results/ann-<utc>.jsonl and prints the tables of bench/ann/summarize.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
N=${1:-100000}; NQ=${2:-1000}; REPS=${3:-2}
BUILD=${BUILD:-$root/build}
BA=$BUILD/bench/bench_ann
data=$root/bench/data/ann; out=$root/bench/results; mkdir -p "$data" "$out"
res=$out/ann-$(date -u +%Y%m%dT%H%M%S).jsonl
[ -x "$BA" ] || { echo "build spar first: cmake --build $BUILD --target bench_ann"; exit 1; }
[ -f /usr/include/hnswlib/hnswlib.h ] || { echo "apt-get install -y libhnswlib-dev"; exit 1; }
g++ -O3 -march=native -std=c++17 -o "$BUILD/hnswlib_bench" "$here/hnswlib_bench.cpp" -lpthread
HB=$BUILD/hnswlib_bench
have_faiss=0; /usr/bin/python3 -c "import faiss" 2>/dev/null && have_faiss=1
EFS=${EFS:-10,16,24,32,48,64,96,128,256}
NPS=${NPS:-1,2,4,8,16,32,64}
KINDS=${KINDS:-mid hard}
NLIST=$(( N >= 400000 ? 4096 : 1024 ))
run() { "$@" | tee -a "$res"; }
PARTS=" ${PARTS:-hnsw scan sq8 binhnsw ivf faiss} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
RERANK=${RERANK:-100}
for kind in $KINDS; do
  d=$data/$kind-$N; mkdir -p "$d"
  [ -f "$d/gt.ivecs" ] || run "$BA" gen "$d" "$kind" "$N" "$NQ" 12345
  for rep in $(seq "$REPS"); do
    if part hnsw; then run "$BA" hnsw "$d" 16 200 1 "$EFS"; run "$HB" hnsw "$d" 16 200 1 "$EFS"; fi
    if part scan; then run "$BA" bin "$d";  run "$HB" popcount "$d"; fi
  done
  if part hnsw; then  # 2-thread builds: wall clock
    ANN_CPUTIME=0 run "$BA" hnsw "$d" 16 200 2 "32,64"; ANN_CPUTIME=0 run "$HB" hnsw "$d" 16 200 2 "32,64"
  fi
  [ "$kind" = wide ] && continue   # 768-d: float HNSW against hnswlib only
  part sq8 && run "$BA" hnsw "$d" 16 200 1 "$EFS" sq8 100
  part binhnsw && run "$BA" binhnsw "$d" 16 200 "$EFS"
  if part ivf; then
    run "$BA" ivf "$d" "$NLIST" flat 0 0 "$NPS"
    run "$BA" ivf "$d" "$NLIST" pq 32 "$RERANK" "$NPS"
    run "$BA" binivf "$d" "$NLIST" "$NPS"
  fi
  if [ "$have_faiss" = 1 ]; then  # part faiss = faissf (IVF-Flat, IVF-PQ) + faissb (binary flat / IVF / HNSW)
    (part faiss || part faissf) && run /usr/bin/python3 "$here/faiss_bench.py" "$d" float "$NLIST" 32 "$NPS"
    (part faiss || part faissb) && run /usr/bin/python3 "$here/faiss_bench.py" "$d" binary "$NLIST" "$NPS"
  fi
done
python3 "$here/summarize.py" "$res"
