#!/usr/bin/env bash
# cli_classic.sh — index, search and evaluate two classic test collections from $SPAR_DATA/classic-ir (CISI,
# binary qrels; MEDLINE) through the CLI, and check nDCG@10 against a floor a little under the values measured
# on 2026-11-23 (CISI 0.366, MEDLINE 0.664; BM25 k1=0.9 b=0.4, Porter, English stopwords), so a relevance
# regression anywhere in the pipeline (analysis, postings, scoring, run writing, eval) fails. Skips (77)
# when the shared data is absent.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
D=${SPAR_DATA:-}/classic-ir
if [ -z "${SPAR_DATA:-}" ] || [ ! -d "$D/cisi" ] || [ ! -d "$D/medline" ]; then
    echo "SKIP: \$SPAR_DATA/classic-ir not found"; exit 77
fi
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
for spec in cisi:0.34 medline:0.62; do
    c=${spec%%:*}; floor=${spec#*:}
    "$SPAR" index --input "$D/$c/corpus.jsonl" --index "$t/$c" --quiet > /dev/null
    "$SPAR" search --index "$t/$c" --queries "$D/$c/queries.jsonl" --run "$t/$c.run" --k 1000 --quiet 2> /dev/null
    "$SPAR" eval --qrels "$D/$c/qrels/test.tsv" --run "$t/$c.run" > "$t/$c.json"
    python3 - "$t/$c.json" "$c" "$floor" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(sys.argv[2], m)
assert m["ndcg_cut_10"] >= float(sys.argv[3]), ("nDCG@10 below floor", sys.argv[2], m)
assert m["recall_1000"] >= 0.85, m
PY
done
echo "cli_classic: ok"
