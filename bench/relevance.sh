#!/bin/sh
# bench/relevance.sh — BM25 relevance of spar next to Lucene 8 on the seven classic collections
# (../shared/data/classic-ir/{adi,cacm,cisi,cranfield,lisa,medline,time}).
#
# For each collection: index the corpus with both engines (Lucene: EnglishAnalyzer, BM25 k1=0.9 b=0.4;
# spar: its defaults, which are the same settings), retrieve the top 1000 for every query into a TREC run,
# evaluate both runs with `spar eval` and with the independent bench/ndcg.py, and print a table of nDCG@10
# (and recall@1000) with the spar - Lucene difference and PASS/FAIL against the issue's bar
# (spar nDCG@10 >= Lucene - 0.005).
#
# Usage: bench/relevance.sh [--spar PATH] [--data DIR] [--out DIR] [collection...]
#   --spar  the spar CLI (default: $SPAR, else build-bench/spar, else build/spar)
#   --data  classic-ir folder (default: $SPAR_DATA/classic-ir or ../shared/data/classic-ir)
#   --out   where runs, indexes and results.jsonl go (default: bench/results/relevance)
# Exit status: 0 when every collection passes, 1 when one fails, 2 on a setup error.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
spar=${SPAR:-}
data=""
out="$root/bench/results/relevance"
while [ $# -gt 0 ]; do
    case "$1" in
    --spar) spar=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    --*) echo "relevance.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ -z "$data" ]; then
    if [ -n "${SPAR_DATA:-}" ]; then data=$SPAR_DATA/classic-ir; else data=$root/../shared/data/classic-ir; fi
fi
if [ -z "$spar" ]; then
    for c in "$root/build-bench/spar" "$root/build/spar"; do [ -x "$c" ] && { spar=$c; break; }; done
fi
[ -n "$spar" ] && [ -x "$spar" ] || { echo "relevance.sh: no spar CLI (build it or pass --spar)" >&2; exit 2; }
[ -d "$data" ] || { echo "relevance.sh: no data folder $data" >&2; exit 2; }
colls=${*:-adi cacm cisi cranfield lisa medline time}
cp=$("$here/lucene/build.sh" "$root/build-bench/lucene") || exit 2
mkdir -p "$out"
res="$out/results.jsonl"
: > "$res"

# `spar eval` prints a JSON object or "metric value" lines; take nDCG@10 and recall@1000 from either.
spar_eval() { # qrels run -> "ndcg recall"
    "$spar" eval --qrels "$1" --run "$2" 2>/dev/null | /usr/bin/python3 -c '
import json, re, sys
t = sys.stdin.read()
try:
    o = json.loads(t.strip().splitlines()[-1]); o = o.get("mean", o)
    nd = o.get("ndcg_10", o.get("ndcg_cut_10")); rc = o.get("recall_1000")
except Exception:
    m = re.search(r"ndcg(?:_cut)?_10\s+(?:all\s+)?([0-9.]+)", t); r = re.search(r"recall_1000\s+(?:all\s+)?([0-9.]+)", t)
    nd = m and float(m.group(1)); rc = r and float(r.group(1))
print("%s %s" % ("NaN" if nd is None else nd, "NaN" if rc is None else rc))' || echo "NaN NaN"
}
py_eval() { /usr/bin/python3 "$here/ndcg.py" "$1" "$2" | /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["ndcg_10"], o["recall_1000"])'; }

for c in $colls; do
    d=$data/$c
    [ -f "$d/corpus.jsonl" ] || { echo "relevance.sh: $d/corpus.jsonl missing" >&2; exit 2; }
    qrels=$d/qrels/test.tsv
    # Lucene
    java -Xmx2g -cp "$cp" LuceneBench index --corpus "$d/corpus.jsonl" --index "$out/lucene-$c" >/dev/null
    java -Xmx2g -cp "$cp" LuceneBench search --index "$out/lucene-$c" --queries "$d/queries.jsonl" --k 1000 \
        --warmup 0 --reps 1 --run "$out/lucene-$c.trec" >/dev/null
    # spar
    rm -rf "$out/spar-$c"
    "$spar" index --input "$d/corpus.jsonl" --index "$out/spar-$c" --threads 1 --quiet >/dev/null
    "$spar" search --index "$out/spar-$c" --queries "$d/queries.jsonl" --k 1000 --threads 1 --quiet \
        --run "$out/spar-$c.trec" 2>/dev/null
    set -- $(spar_eval "$qrels" "$out/lucene-$c.trec") $(spar_eval "$qrels" "$out/spar-$c.trec") \
           $(py_eval "$qrels" "$out/lucene-$c.trec") $(py_eval "$qrels" "$out/spar-$c.trec")
    printf '{"collection":"%s","lucene_ndcg10":%s,"lucene_recall1000":%s,"spar_ndcg10":%s,"spar_recall1000":%s,"check_lucene_ndcg10":%s,"check_spar_ndcg10":%s}\n' \
        "$c" "$1" "$2" "$3" "$4" "$5" "$7" >> "$res"
    tail -n1 "$res"
done

/usr/bin/python3 - "$res" <<'EOF'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = True
print()
print("| collection | Lucene 8 nDCG@10 | spar nDCG@10 | spar - Lucene | bar (>= -0.005) | Lucene R@1000 | spar R@1000 | bench/ndcg.py check (Lucene / spar) |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    l, s = r["lucene_ndcg10"], r["spar_ndcg10"]
    if isinstance(l, float) and isinstance(s, float) and not math.isnan(l) and not math.isnan(s):
        d = s - l
        verdict = "PASS" if d >= -0.005 else "**FAIL**"
    else:
        d, verdict = float("nan"), "**no result**"
    ok = ok and verdict == "PASS"
    print("| %s | %.4f | %.4f | %+.4f | %s | %.4f | %.4f | %.4f / %.4f |" % (
        r["collection"], l, s, d, verdict, r["lucene_recall1000"], r["spar_recall1000"],
        r["check_lucene_ndcg10"], r["check_spar_ndcg10"]))
sys.exit(0 if ok else 1)
EOF
