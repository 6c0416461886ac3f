#!/usr/bin/env bash
# cli_sample.sh — the README's first-command path on the bundled sample (examples/sample: 3,000 Debian package
# descriptions): index with stored text, the example queries return hits, the 300 known-item queries run on
# 1 and 2 threads give the same run, and eval stays above a regression floor (measured 2026-11-23:
# nDCG@10 0.869, MRR@10 0.849, R@100 0.977 with the default analyzer and BM25 k1=0.9 b=0.4).
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
SRC=${SPAR_SRC:?SPAR_SRC must point at the repository root}
S="$SRC/examples/sample"
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$SPAR" index --input "$S/corpus.jsonl.gz" --index "$t/idx" --store-text --quiet > "$t/index.json"
python3 - "$t/index.json" "$S/corpus.jsonl.gz" <<'PY'
import gzip, json, sys
s = json.load(open(sys.argv[1]))
n = sum(1 for _ in gzip.open(sys.argv[2]))
assert s["docs"] == n == s["lines"] and s["skipped"] == 0, (s, n)
PY
while IFS= read -r q; do
    [ -n "$q" ] || continue
    "$SPAR" search --index "$t/idx" --query "$q" --k 5 > "$t/hits"
    [ "$(wc -l < "$t/hits")" -eq 5 ] || fail "example query '$q' returned $(wc -l < "$t/hits") lines"
done < "$S/examples.txt"
"$SPAR" search --index "$t/idx" --query "chess engine" --k 1 | grep -q stockfish || fail "'chess engine' does not find a stockfish package first"

"$SPAR" search --index "$t/idx" --queries "$S/queries.jsonl" --run "$t/run1" --k 100 --threads 1 --quiet 2> /dev/null
"$SPAR" search --index "$t/idx" --queries "$S/queries.jsonl" --run "$t/run2" --k 100 --threads 2 --quiet 2> /dev/null
cmp -s "$t/run1" "$t/run2" || fail "run depends on the thread count"
"$SPAR" eval --qrels "$S/qrels.tsv" --run "$t/run1" > "$t/eval.json"
python3 - "$t/eval.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(m)
assert m["num_q"] == 300, m
assert m["ndcg_cut_10"] > 0.80 and m["mrr_10"] > 0.78 and m["recall_100"] > 0.95, m
PY
echo "cli_sample: ok"
