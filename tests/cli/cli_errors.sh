#!/usr/bin/env bash
# cli_errors.sh — the spar CLI on bad input: malformed corpus lines give "file:line: reason" and exit 4 with
# no index (and no temporary directory) left behind; --on-error=skip skips and counts so that
# lines = docs + skipped + blank; missing files exit 3, existing index 9, usage errors 2; malformed query
# files, runs and qrels name file:line and exit 4.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { # expect_rc CODE cmd...
    local want=$1; shift
    set +e; "$@" > "$t/out" 2> "$t/err"; local rc=$?; set -e
    [ "$rc" -eq "$want" ] || { cat "$t/err" >&2; fail "'$*' exited $rc, expected $want"; }
}
only_inputs_left() { # the work dir holds exactly the files we created
    local extra
    extra=$(ls -A "$t/w" | grep -v -x -E 'good.jsonl|bad.jsonl|bad.tsv|trunc.jsonl.gz' || true)
    [ -z "$extra" ] || fail "left behind after a failed build: $extra"
}
mkdir "$t/w"
cat > "$t/w/good.jsonl" <<'J'
{"_id":"a","title":"","text":"alpha beta"}
{"_id":"b","title":"","text":"beta gamma"}
J
cat > "$t/w/bad.jsonl" <<'J'
{"_id":"a","title":"","text":"alpha beta"}

{"_id":"b","text":"beta gamma"
{"_id":"c","title":"","text":"gamma delta"}
{"title":"no id","text":"epsilon"}
{"_id":"e","title":"","text":"zeta eta"}
J
printf 'x1\tfine text\nno tab on this line\nx3\tmore text\n' > "$t/w/bad.tsv"
gzip -c "$t/w/good.jsonl" | head -c 30 > "$t/w/trunc.jsonl.gz"

# on-error=fail (default): exit 4, message names file:line, nothing written
expect_rc 4 "$SPAR" index --input "$t/w/bad.jsonl" --index "$t/w/idx" --quiet
grep -q "bad.jsonl:3:" "$t/err" || fail "no 'bad.jsonl:3:' in: $(cat "$t/err")"
[ ! -e "$t/w/idx" ] || fail "index dir exists after a failed build"
only_inputs_left
expect_rc 4 "$SPAR" index --input "$t/w/bad.tsv" --index "$t/w/idx" --quiet
grep -q "bad.tsv:2:" "$t/err" || fail "no 'bad.tsv:2:' in: $(cat "$t/err")"
only_inputs_left

# on-error=skip: 6 lines = 3 docs + 2 skipped + 1 blank
expect_rc 0 "$SPAR" index --input "$t/w/bad.jsonl" --index "$t/w/idx" --on-error skip --quiet
python3 - "$t/out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert (s["lines"], s["docs"], s["skipped"], s["blank"]) == (6, 3, 2, 1), s
assert s["lines"] == s["docs"] + s["skipped"] + s["blank"], s
PY
grep -q "bad.jsonl:3:" "$t/err" || fail "skip mode does not report the first skipped line"
"$SPAR" search --index "$t/w/idx" --query "gamma" --k 5 > "$t/hits"
grep -q ' c ' "$t/hits" || fail "doc c (after the skipped line) not searchable"
grep -q ' b ' "$t/hits" && fail "skipped doc b was indexed"
rm -rf "$t/w/idx"

# truncated gzip: I/O error (3), nothing written
expect_rc 3 "$SPAR" index --input "$t/w/trunc.jsonl.gz" --index "$t/w/idx" --quiet
grep -q "trunc.jsonl.gz" "$t/err" || fail "truncated gzip error does not name the file"
only_inputs_left

# missing input: 3; existing index without --overwrite: 9; --overwrite: 0
expect_rc 3 "$SPAR" index --input "$t/w/nope.jsonl" --index "$t/w/idx" --quiet
grep -q "nope.jsonl" "$t/err" || fail "missing input not named"
expect_rc 0 "$SPAR" index --input "$t/w/good.jsonl" --index "$t/w/idx" --quiet
expect_rc 9 "$SPAR" index --input "$t/w/good.jsonl" --index "$t/w/idx" --quiet
expect_rc 0 "$SPAR" index --input "$t/w/good.jsonl" --index "$t/w/idx" --quiet --overwrite

# usage errors: 2
expect_rc 2 "$SPAR" index --input "$t/w/good.jsonl"
expect_rc 2 "$SPAR" index --input "$t/w/good.jsonl" --index "$t/w/x" --bogus
expect_rc 2 "$SPAR" index --input "$t/w/good.jsonl" --index "$t/w/x" --on-error maybe
expect_rc 2 "$SPAR" search --index "$t/w/idx" --query q --k 0
expect_rc 2 "$SPAR" search --index "$t/w/idx" --query q --algo fastest
expect_rc 2 "$SPAR" search --index "$t/w/idx" --queries "$t/w/good.jsonl"
expect_rc 2 "$SPAR" eval --run x
expect_rc 2 "$SPAR" nosuchcommand
[ ! -e "$t/w/x" ] || fail "usage error created output"

# missing index: not 0, names the directory
set +e; "$SPAR" search --index "$t/w/none" --query q > /dev/null 2> "$t/err"; rc=$?; set -e
[ "$rc" -eq 3 ] || [ "$rc" -eq 6 ] || fail "search on a missing index exited $rc (want 3 or 6)"
grep -q "$t/w/none" "$t/err" || fail "missing index not named: $(cat "$t/err")"

# malformed query file: 4 with file:line; skip mode goes on
printf '{"_id":"q1","text":"alpha"}\n{"_id":"q2",\n{"_id":"q3","text":"gamma"}\n' > "$t/q.jsonl"
expect_rc 4 "$SPAR" search --index "$t/w/idx" --queries "$t/q.jsonl" --run "$t/run"
grep -q "q.jsonl:2:" "$t/err" || fail "no 'q.jsonl:2:' in: $(cat "$t/err")"
expect_rc 0 "$SPAR" search --index "$t/w/idx" --queries "$t/q.jsonl" --run "$t/run" --on-error skip
[ "$(cut -d' ' -f1 "$t/run" | sort -u | tr '\n' ' ')" = "q1 q3 " ] || fail "skip mode run has wrong queries"

# malformed run / qrels: 4 with file:line
printf 'q1 0 a 1\n' > "$t/qrels"
printf 'q1 Q0 a 1 2.5 t\nq1 Q0 b 2 t\n' > "$t/bad.run"
expect_rc 4 "$SPAR" eval --qrels "$t/qrels" --run "$t/bad.run"
grep -q "bad.run:2:" "$t/err" || fail "no 'bad.run:2:' in: $(cat "$t/err")"
printf 'q1 0 a\nq1 a\n' > "$t/bad.qrels"
expect_rc 4 "$SPAR" eval --qrels "$t/bad.qrels" --run "$t/run"
grep -q "bad.qrels:2:" "$t/err" || fail "no 'bad.qrels:2:' in: $(cat "$t/err")"
expect_rc 3 "$SPAR" eval --qrels "$t/nope" --run "$t/run"

# duplicate run lines: first kept, counted, warned
printf 'q1 Q0 b 1 9 t\nq1 Q0 a 2 5 t\nq1 Q0 b 3 1 t\n' > "$t/dup.run"
expect_rc 0 "$SPAR" eval --qrels "$t/qrels" --run "$t/dup.run"
grep -q '"run_duplicates":1' "$t/out" || fail "duplicate not counted: $(cat "$t/out")"
grep -q "dup.run:3:" "$t/err" || fail "duplicate warning does not name dup.run:3"
grep -q '"mrr_10":0.500000' "$t/out" || fail "first occurrence of b (score 9) should rank it first"

# a document id with a space cannot go into a TREC run: exit 4 naming the id, and no run file (not even a
# partial one; an existing run file is left as it was)
printf '{"_id":"a b","title":"","text":"hello world"}\n{"_id":"c","text":"hello there"}\n' > "$t/sp.jsonl"
"$SPAR" index --input "$t/sp.jsonl" --index "$t/sp" --quiet > /dev/null
printf 'q1\thello\n' > "$t/sp.tsv"
echo "old run" > "$t/sp.run"
expect_rc 4 "$SPAR" search --index "$t/sp" --queries "$t/sp.tsv" --run "$t/sp.run" --quiet
grep -q 'document id "a b"' "$t/err" || fail "no id named in: $(cat "$t/err")"
[ "$(cat "$t/sp.run")" = "old run" ] || fail "run file changed by a failed search"
[ -z "$(ls "$t" | grep 'sp.run.tmp' || true)" ] || fail "temporary run file left behind"
rm "$t/sp.run"
expect_rc 0 "$SPAR" search --index "$t/sp" --queries "$t/sp.tsv" --run "$t/sp.run" --quiet --k 1
[ "$(cut -d' ' -f3 "$t/sp.run")" = "c" ] || fail "top-1 run: $(cat "$t/sp.run")"
echo "cli_errors: ok"
