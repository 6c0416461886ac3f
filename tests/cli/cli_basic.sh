#!/usr/bin/env bash
# cli_basic.sh — the spar CLI end to end on a tiny corpus: index (JSON summary reconciles), info, single-query
# search (text and --json), query file -> TREC run (same for 1 and 2 threads, every --algo), eval against
# hand-made qrels, verify, --help on every subcommand; then flip one byte of the postings segment and expect
# `spar verify` to fail with exit code 4 (corrupt) and `spar search` to refuse the index.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { # expect_rc CODE cmd...
    local want=$1; shift
    set +e; "$@" > "$t/out" 2> "$t/err"; local rc=$?; set -e
    [ "$rc" -eq "$want" ] || { cat "$t/err" >&2; fail "'$*' exited $rc, expected $want"; }
}
json_get() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

cat > "$t/corpus.jsonl" <<'J'
{"_id":"d1","title":"Cats","text":"The cat sat on the mat. Cats purr when a cat is happy."}
{"_id":"d2","title":"Dogs","text":"Dogs bark loudly at the mailman."}

{"_id":"d3","title":"Pets","text":"Cats and dogs are common pets."}
{"_id":"d4","title":"Cars","text":"A fast red car drives on the road."}
{"_id":"d5","title":"Bikes","text":"A bicycle is slower than a car but needs no fuel."}
J
printf 'q1\tcat\nq2\tdogs barking\nq3\tred car\n' > "$t/queries.tsv"
printf 'q1 0 d1 2\nq1 0 d3 1\nq2 0 d2 1\nq3 0 d4 1\nq3 0 d5 0\n' > "$t/qrels.trec"

# --help everywhere
for c in index search eval verify info; do
    "$SPAR" "$c" --help > "$t/help" || fail "spar $c --help exited non-zero"
    grep -q "usage: spar $c" "$t/help" || fail "spar $c --help has no usage line"
done

# index: JSON summary on stdout, counts reconcile (6 lines = 5 docs + 1 blank)
"$SPAR" index --input "$t/corpus.jsonl" --index "$t/idx" --store-text --threads 2 > "$t/index.json"
[ "$(json_get docs < "$t/index.json")" = 5 ] || fail "docs != 5: $(cat "$t/index.json")"
[ "$(json_get lines < "$t/index.json")" = 6 ] || fail "lines != 6"
[ "$(json_get blank < "$t/index.json")" = 1 ] || fail "blank != 1"
[ "$(json_get skipped < "$t/index.json")" = 0 ] || fail "skipped != 0"
[ "$(json_get terms < "$t/index.json")" -gt 10 ] || fail "too few terms"

"$SPAR" info --index "$t/idx" > "$t/info.json"
[ "$(json_get docs < "$t/info.json")" = 5 ] || fail "info docs != 5"

# one query: d1 (cat x3 incl. title) ranks first; dogs/cars docs are not hits
"$SPAR" search --index "$t/idx" --query "cat" --k 3 > "$t/one.txt"
head -1 "$t/one.txt" | grep -q ' d1 ' || fail "d1 not first for 'cat': $(cat "$t/one.txt")"
grep -q ' d4 ' "$t/one.txt" && fail "d4 matched 'cat'"
grep -q 'Cats' "$t/one.txt" || fail "no stored title in the human output"
"$SPAR" search --index "$t/idx" --query "cat" --k 3 --json > "$t/one.json"
python3 - "$t/one.json" <<'PY'
import json, sys
hits = [json.loads(l) for l in open(sys.argv[1])]
assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1)), hits
assert hits[0]["id"] == "d1" and hits[0]["title"] == "Cats", hits
assert all(hits[i]["score"] >= hits[i + 1]["score"] for i in range(len(hits) - 1)), hits
assert {h["id"] for h in hits} == {"d1", "d3"}, hits
PY

# query file -> TREC run; identical for 1 and 2 threads and for every algorithm
"$SPAR" search --index "$t/idx" --queries "$t/queries.tsv" --run "$t/run1" --k 10 --threads 1 2> "$t/search.json"
"$SPAR" search --index "$t/idx" --queries "$t/queries.tsv" --run "$t/run2" --k 10 --threads 2 2> /dev/null
cmp -s "$t/run1" "$t/run2" || fail "run differs between 1 and 2 threads"
for a in exhaustive maxscore bmw; do
    "$SPAR" search --index "$t/idx" --queries "$t/queries.tsv" --run "$t/run-$a" --k 10 --algo "$a" 2> /dev/null
    cmp -s "$t/run1" "$t/run-$a" || fail "--algo $a gives a different run"
done
awk 'NF != 6 || $2 != "Q0" || $6 != "spar" { bad = 1 } END { exit bad }' "$t/run1" || fail "bad TREC run line"
[ "$(awk '$1 == "q2" && $4 == 1 { print $3 }' "$t/run1")" = d2 ] || fail "q2 top hit is not d2"
[ "$(awk '$1 == "q3" && $4 == 1 { print $3 }' "$t/run1")" = d4 ] || fail "q3 top hit is not d4"

# eval: q1 d1 (gain 2) first, d3 second; q2 d2 first; q3 d4 first -> nDCG@10 = MAP = MRR@10 = 1
"$SPAR" eval --qrels "$t/qrels.trec" --run "$t/run1" > "$t/eval.json"
python3 - "$t/eval.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["num_q"] == 3, m
for k in ("ndcg_cut_10", "map", "recall_100", "recall_1000", "mrr_10"):
    assert abs(m[k] - 1.0) < 1e-9, (k, m)
PY
"$SPAR" eval --qrels "$t/qrels.trec" --run "$t/run1" --per-query > "$t/pq.json"
[ "$(wc -l < "$t/pq.json")" -eq 4 ] || fail "--per-query: expected 3 query lines + summary"

# verify: intact
expect_rc 0 "$SPAR" verify --index "$t/idx"
tail -1 "$t/out" | grep -q '"ok":true' || fail "verify summary not ok"

# flip one byte in the middle of the postings segment: verify -> 4, search refuses to open
cp -r "$t/idx" "$t/bad"
seg=$(ls "$t/bad"/*.post 2>/dev/null | head -1)
[ -n "$seg" ] || seg=$(find "$t/bad" -type f ! -name MANIFEST | head -1)
python3 - "$seg" <<'PY'
import os, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
PY
expect_rc 4 "$SPAR" verify --index "$t/bad"
tail -1 "$t/out" | grep -q '"ok":false' || fail "verify summary should say ok:false"
grep -q "$(basename "$seg")" "$t/out" "$t/err" || fail "verify does not name the corrupt file"
expect_rc 4 "$SPAR" search --index "$t/bad" --query "cat"
echo "cli_basic: ok"
