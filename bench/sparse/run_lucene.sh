#!/usr/bin/env bash
# bench/sparse/run_lucene.sh — spar exact learned-sparse search vs Lucene 8 FeatureField impact search on the same
# generated corpus and the same real SPLADE query vectors, run ALTERNATED (spar, Lucene, spar, Lucene, ...) so
# that both see the same machine load. Reports per-round median / p99 latency (1 thread, top-k), the
# Lucene/spar ratios (median over rounds) and the top-k overlap of the two runs. Results: bench/sparse/lucene.md.
#
# usage: bench/sparse/run_lucene.sh [--corpus bench/data/sparse/topical-100k.csr] [--n-queries 1000] [--rounds 3]
#                                   [--reps 3] [--java-warmup 3] [--k 10] [--build build-sparseio]
#                                   [--work /tmp/spar_lucene_sparse] [--reuse] [--jheap 4g]
# Each round: spar (1 warm-up pass + `reps` timed passes over the queries), then Lucene in a fresh JVM
# (`java-warmup` untimed passes for the JIT + `reps` timed passes). Wall-clock and thread-CPU-time latencies.
# Needs: a spar build with bench/bench_impact (cmake --build BUILD --target bench_impact), liblucene8-java, javac,
#        python3. The corpus comes from bench_sparse_gen (bench/sparse/README.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
corpus=$root/bench/data/sparse/topical-100k.csr
queries=$root/../shared/data/msmarco-learned-sparse-queries/msmarco-dev-small.splade-pp-ed.jsonl.gz
vocab=$root/../shared/data/bert-base-uncased-vocab/vocab.txt
nq=1000 rounds=3 reps=3 jwarm=3 k=10 build=$root/build-sparseio work=/tmp/spar_lucene_sparse reuse=0 jheap=4g
while [ $# -gt 0 ]; do
    case $1 in
    --corpus) corpus=$2; shift ;;
    --n-queries) nq=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --reps) reps=$2; shift ;;
    --java-warmup) jwarm=$2; shift ;;
    --k) k=$2; shift ;;
    --build) build=$2; shift ;;
    --work) work=$2; shift ;;
    --jheap) jheap=$2; shift ;;
    --reuse) reuse=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
bi=$build/bench/bench_impact
[ -x "$bi" ] || { echo "missing $bi: cmake --build $build --target bench_impact" >&2; exit 2; }
[ -f "$corpus" ] || { echo "missing $corpus: see bench/sparse/README.md (bench_sparse_gen)" >&2; exit 2; }
lcore=$(ls /usr/share/java/lucene-core-[0-9]*.jar 2>/dev/null | head -n1)
[ -n "$lcore" ] || { echo "missing lucene-core jar: apt-get install liblucene8-java" >&2; exit 2; }
mkdir -p "$work/classes"
javac -nowarn -d "$work/classes" -cp "$lcore" "$root/bench/lucene/LuceneImpact.java"
cp="$work/classes:$lcore"
name=$(basename "$corpus" .csr)
res=$work/results-$name.jsonl
: > "$res"
emit() { echo "$1" | tee -a "$res"; }

emit "{\"start\":\"$(date -u +%FT%TZ)\",\"corpus\":\"$name\",\"queries\":$nq,\"k\":$k,\"rounds\":$rounds,\"uptime\":\"$(uptime | sed 's/.*load average: //')\",\"java\":\"$(java -version 2>&1 | head -1 | tr -d '"')\",\"lucene\":\"$(basename "$lcore" .jar)\"}"
"$bi" queries --queries "$queries" --vocab "$vocab" --n "$nq" --out "$work/q.tsv"
if [ "$reuse" = 0 ] || [ ! -d "$work/spar-$name" ]; then
    emit "$("$bi" build --corpus "$corpus" --index "$work/spar-$name")"
fi
if [ "$reuse" = 0 ] || [ ! -d "$work/lucene-$name" ]; then
    rm -rf "$work/lucene-$name"
    emit "$(java -Xmx$jheap -cp "$cp" LuceneImpact index --csr "$corpus" --index "$work/lucene-$name")"
fi
for r in $(seq 1 "$rounds"); do
    emit "$("$bi" search --index "$work/spar-$name" --queries "$work/q.tsv" --k "$k" --warmup 1 --reps "$reps" --run "$work/spar.run" | sed "s/}\$/,\"round\":$r,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}/")"
    emit "$(java -Xmx$jheap -cp "$cp" LuceneImpact search --index "$work/lucene-$name" --queries "$work/q.tsv" --k "$k" --warmup "$jwarm" --reps "$reps" --run "$work/lucene.run" | sed "s/}\$/,\"round\":$r,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}/")"
done
emit "$("$bi" search --index "$work/spar-$name" --queries "$work/q.tsv" --k "$k" --warmup 0 --reps 1 --algo exhaustive --run "$work/exhaustive.run" | sed 's/}$/,"note":"exhaustive oracle, 1 pass"}/')"

python3 - "$res" "$work/spar.run" "$work/lucene.run" "$work/exhaustive.run" "$k" <<'EOF'
import json, statistics, sys
res, spar_run, luc_run, ex_run, k = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
rows = [json.loads(l) for l in open(res) if l.strip()]
def runs(path):
    out = {}
    for l in open(path):
        q, _, d, rank, score, _ = l.split()
        out.setdefault(q, []).append((d, float(score)))
    return out
S, L, E = runs(spar_run), runs(luc_run), runs(ex_run)
qs = sorted(set(S) | set(L))
ov = [len({d for d, _ in S.get(q, [])} & {d for d, _ in L.get(q, [])}) / max(1, min(k, len(S.get(q, [])))) for q in qs]
same_as_oracle = sum(S.get(q) == E.get(q) for q in set(E) | set(S))
rel = []
for q in qs:
    ls = dict(L.get(q, []))
    for d, s in S.get(q, []):
        if d in ls and s > 0: rel.append(abs(ls[d] - s) / s)
sp = [r for r in rows if r.get("engine") == "spar" and "round" in r]
lu = [r for r in rows if r.get("engine") == "lucene" and "round" in r]
med = lambda rs, key: statistics.median(r[key] for r in rs)
summary = {
    "summary": True,
    "spar_median_ms": round(med(sp, "median_ms"), 4), "lucene_median_ms": round(med(lu, "median_ms"), 4),
    "spar_p99_ms": round(med(sp, "p99_ms"), 4), "lucene_p99_ms": round(med(lu, "p99_ms"), 4),
    "ratio_median": round(med(lu, "median_ms") / med(sp, "median_ms"), 2),
    "ratio_p99": round(med(lu, "p99_ms") / med(sp, "p99_ms"), 2),
    "ratio_mean": round(med(lu, "mean_ms") / med(sp, "mean_ms"), 2),
    "spar_cpu_median_ms": round(med(sp, "cpu_median_ms"), 4), "lucene_cpu_median_ms": round(med(lu, "cpu_median_ms"), 4),
    "spar_cpu_p99_ms": round(med(sp, "cpu_p99_ms"), 4), "lucene_cpu_p99_ms": round(med(lu, "cpu_p99_ms"), 4),
    "cpu_ratio_median": round(med(lu, "cpu_median_ms") / med(sp, "cpu_median_ms"), 2),
    "cpu_ratio_p99": round(med(lu, "cpu_p99_ms") / med(sp, "cpu_p99_ms"), 2),
    "cpu_ratio_mean": round(med(lu, "cpu_mean_ms") / med(sp, "cpu_mean_ms"), 2),
    "topk_overlap_mean": round(sum(ov) / len(ov), 4), "queries_identical_topk_sets": sum(o == 1.0 for o in ov),
    "spar_bmp_equals_exhaustive": same_as_oracle, "n_queries": len(qs),
    "score_rel_diff_median": statistics.median(rel) if rel else None, "score_rel_diff_max": max(rel) if rel else None,
}
print(json.dumps(summary))
open(res, "a").write(json.dumps(summary) + "\n")
EOF
echo "results: $res"
