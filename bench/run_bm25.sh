#!/bin/sh
# bench/run_bm25.sh — BM25 speed of spar side by side with Lucene 8 (Debian liblucene8-java, OpenJDK 17),
# same machine, same run, same corpus and queries; the two engines alternate (round 1 Lucene first, round 2
# spar first, ...) so background load hits both alike.
#
# Per dataset, round and thread count T in --threads:
#   index: Lucene (EnglishAnalyzer, BM25 0.9/0.4, RAM buffer 256 MB, T indexing threads into one IndexWriter,
#          forceMerge(1)) and `spar index --threads T`. docs/s, index bytes (Lucene also freqs-only, see README).
#   search: Lucene (LuceneBench search) and spar (bench/bench_query), T threads, for k in --k:
#          JIT/cache warm-up passes, then timed passes; per-query latency median and p99, and throughput.
# Output: one JSON line per (engine, dataset, op, threads, k, round) on stdout and in OUT/raw.jsonl; at the end the
# medians over rounds as JSON lines (OUT/summary.jsonl) and a markdown table with spar/Lucene ratios (OUT/table.md).
#
# Usage: bench/run_bm25.sh [--datasets "debian cranfield ..."] [--rounds 2] [--threads "1 2"] [--k "10 1000"]
#                          [--warmup 3] [--reps 5] [--spar PATH] [--bench-query PATH] [--out DIR]
#                          [--first-round N]   (number of the first round: odd = Lucene first; to add rounds later)
#   dataset "debian" = bench/data/debian/{corpus.jsonl,queries.jsonl} (bench/make_debian_corpus.py);
#   any other name = ../shared/data/classic-ir/NAME.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
datasets="debian"
rounds=2
first=1
threads="1 2"
ks="10 1000"
warmup=3
reps=5
spar=${SPAR:-}
bq=""
out="$root/bench/results/bm25-$(date -u +%Y%m%dT%H%M%SZ)"
while [ $# -gt 0 ]; do
    case "$1" in
    --datasets) datasets=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --first-round) first=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --k) ks=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --spar) spar=$2; shift 2 ;;
    --bench-query) bq=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_bm25.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$spar" ]; then
    for c in "$root/build-bench/spar" "$root/build/spar"; do [ -x "$c" ] && { spar=$c; break; }; done
fi
if [ -z "$bq" ]; then
    for c in "$root/build-bench/bench/bench_query" "$root/build/bench/bench_query"; do [ -x "$c" ] && { bq=$c; break; }; done
fi
[ -n "$spar" ] && [ -x "$spar" ] || { echo "run_bm25.sh: no spar CLI (pass --spar)" >&2; exit 2; }
[ -n "$bq" ] && [ -x "$bq" ] || { echo "run_bm25.sh: no bench_query (pass --bench-query)" >&2; exit 2; }
cp=$("$here/lucene/build.sh" "$root/build-bench/lucene") || exit 2
mkdir -p "$out"
raw=$out/raw.jsonl
: > "$raw"
work=${TMPDIR:-/tmp}/spar-bench-$$
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
jheap=${JAVA_HEAP:-4g}

now() { date +%s.%N; }
# emit JSON_LINE_WITH_TRAILING_BRACE EXTRA  -> appends ,"dataset":..,"round":.. and prints
emit() {
    printf '%s\n' "$1" | sed "s/}\$/,\"dataset\":\"$ds\",\"round\":$r}/" | tee -a "$raw"
}
# cpu_json FILE -> ',"cpu_s":U+S' from a `/usr/bin/time -f "%U %S"` file (CPU seconds of the whole process:
# for Lucene that includes the JIT compiler and GC threads, for spar its reader/builder threads).
cpu_json() { awk 'END { printf ",\"cpu_s\":%.2f", $1 + $2 }' "$1"; }
lucene_index() { # threads variant
    flag=""; [ "$2" = freqs ] && flag=--freqs-only
    /usr/bin/time -f "%U %S" -o "$work/time" java -Xmx$jheap -cp "$cp" LuceneBench index --corpus "$corpus" \
        --index "$work/lucene" --threads "$1" $flag > "$work/lucene-index.json"
    emit "$(sed "s/}\$/$(cpu_json "$work/time")}/" "$work/lucene-index.json")"
}
spar_index() { # threads
    rm -rf "$work/spar"
    t0=$(now)
    /usr/bin/time -f "%U %S" -o "$work/time" "$spar" index --input "$corpus" --index "$work/spar" --threads "$1" \
        --quiet > "$work/spar-index.log" 2>&1 ||
        { cat "$work/spar-index.log" >&2; echo "run_bm25.sh: spar index failed" >&2; exit 1; }
    t1=$(now)
    # Bytes of regular files, counted the way LuceneBench's dirBytes counts Lucene's (directory entries excluded;
    # `du -sb` would add 4 KiB for each of the index directory and meta.lmdb/).
    bytes=$(find "$work/spar" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    /usr/bin/python3 -c 'import sys; t=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print("{\"engine\":\"spar\",\"op\":\"index\",\"threads\":%s,\"docs\":%d,\"total_s\":%.3f,\"docs_per_s_with_merge\":%.1f,\"index_bytes\":%s}" % (sys.argv[4], n, t, n/t, sys.argv[5]))' \
        "$t0" "$t1" "$ndocs" "$1" "$bytes" | sed "s/}\$/$(cpu_json "$work/time")}/" | while read -r l; do emit "$l"; done
}
lucene_search() { # threads
    java -Xmx$jheap -cp "$cp" LuceneBench search --index "$work/lucene" --queries "$queries" --threads "$1" \
        --k "$(echo $ks | tr ' ' ,)" --warmup "$warmup" --reps "$reps" | while read -r l; do emit "$l"; done
}
spar_search() { # threads
    "$bq" --index "$work/spar" --queries "$queries" --threads "$1" --k "$(echo $ks | tr ' ' ,)" \
        --warmup "$warmup" --reps "$reps" |
        /usr/bin/python3 "$here/bm25_summary.py" --normalise-spar | while read -r l; do emit "$l"; done
}

for ds in $datasets; do
    if [ "$ds" = debian ]; then dir=$root/bench/data/debian; else dir=$root/../shared/data/classic-ir/$ds; fi
    corpus=$dir/corpus.jsonl
    queries=$dir/queries.jsonl
    [ -f "$corpus" ] || { echo "run_bm25.sh: $corpus missing (bench/make_debian_corpus.py; zcat corpus.jsonl.gz)" >&2; exit 2; }
    ndocs=$(grep -c . "$corpus")
    r=$first
    while [ "$r" -lt $((first + rounds)) ]; do
        for t in $threads; do
            # Lucene positions index (TextField, as the issue asks) is the one searched; freqs-only only sized.
            if [ $((r % 2)) -eq 1 ]; then
                lucene_index "$t" freqs; lucene_index "$t" positions; lucene_search "$t"
                spar_index "$t"; spar_search "$t"
            else
                spar_index "$t"; spar_search "$t"
                lucene_index "$t" freqs; lucene_index "$t" positions; lucene_search "$t"
            fi
        done
        r=$((r + 1))
    done
done
/usr/bin/python3 "$here/bm25_summary.py" --out "$out" "$raw"
