#!/usr/bin/env bash
# sparse_cli.sh — learned-sparse indexes through the CLI, on the committed fixture tests/cli/data/sparse/
# (10 Anserini-style documents with integer weights, a 37-token vocab, 3 query vectors, a tiny idf.json, a
# hand-made CIFF file): `spar index --format vectors` (plain and gzip input give the same index), search with
# --query-vector / --queries (hand-computed expected run) / --query + --idf, exact algorithms agree, approx on
# an --approx index, errors (malformed line -> file:line + exit 4, unknown token, existing dir -> 9, damaged
# index file -> 4, approx without --approx -> 2), CIFF export -> import -> identical run, the hand-made CIFF
# gives hand-computed scores, a truncated CIFF names a byte offset, non-integer weights need --scale.
set -u
SPAR=${SPAR:?SPAR must point at the spar binary}
SRC=${SPAR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
D=$SRC/tests/cli/data/sparse
T=$(mktemp -d /tmp/spar_sparse_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
# expect_rc NAME WANT CMD...: run, compare the exit code
expect_rc() {
    local name=$1 want=$2
    shift 2
    "$@" > "$T/out" 2> "$T/err"
    local rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, expected $want"; cat "$T/err"; fi
}

expect_rc "index vectors" 0 "$SPAR" index --format vectors --input "$D/docs.jsonl" --index "$T/ix" --vocab "$D/vocab.txt" --quiet
grep -q '"docs":10,"dim":37,"nnz":32' "$T/out" && ok "index summary" || { bad "index summary"; cat "$T/out"; }
for f in MANIFEST sparse.idx docids.txt vocab.txt; do [ -f "$T/ix/$f" ] || bad "index file $f missing"; done
cmp -s "$D/vocab.txt" "$T/ix/vocab.txt" && ok "vocab copied" || bad "vocab copied"

gzip -c "$D/docs.jsonl" > "$T/docs.jsonl.gz"
expect_rc "index gzip" 0 "$SPAR" index --format vectors --input "$T/docs.jsonl.gz" --index "$T/ixgz" --vocab "$D/vocab.txt" --quiet
cmp -s "$T/ix/sparse.idx" "$T/ixgz/sparse.idx" && cmp -s "$T/ix/docids.txt" "$T/ixgz/docids.txt" && ok "gzip input: same index" \
    || bad "gzip input: same index"

# one query vector: cat 3 * (120 | 60) + pets 2 * 110
expect_rc "search --query-vector" 0 "$SPAR" search --index "$T/ix" --query-vector '{"cat":3,"pets":2}' --json
printf '%s\n' '{"rank":1,"id":"doc-pets","score":400.000000}' '{"rank":2,"id":"doc-cat","score":360.000000}' > "$T/want1"
cmp -s "$T/out" "$T/want1" && ok "query-vector hits" || { bad "query-vector hits"; cat "$T/out"; }

# a query file -> TREC run, expected lines computed by hand from docs.jsonl (q3's unknown token is dropped)
cat > "$T/want.run" <<'EOF'
q1 Q0 doc-pets 1 400.000000 spar
q1 Q0 doc-cat 2 360.000000 spar
q2 Q0 doc-night 1 275.000000 spar
q2 Q0 doc-space 2 150.000000 spar
q2 Q0 doc-sun 3 100.000000 spar
q2 Q0 doc-dog 4 50.000000 spar
q3 Q0 doc-truck 1 155.000000 spar
q3 Q0 doc-car 2 140.000000 spar
EOF
expect_rc "search --queries" 0 "$SPAR" search --index "$T/ix" --queries "$D/queries.jsonl" --run "$T/bmp.run" --quiet
cmp -s "$T/bmp.run" "$T/want.run" && ok "run file = hand-computed" || { bad "run file"; diff "$T/bmp.run" "$T/want.run"; }
grep -q '"unknown_tokens":1' "$T/err" && ok "unknown query token counted" || bad "unknown query token counted"
expect_rc "exhaustive, 2 threads" 0 "$SPAR" search --index "$T/ix" --queries "$D/queries.jsonl" --run "$T/ex.run" --algo exhaustive --threads 2 --quiet
cmp -s "$T/bmp.run" "$T/ex.run" && ok "exhaustive = bmp" || bad "exhaustive = bmp"
expect_rc "k 1" 0 "$SPAR" search --index "$T/ix" --queries "$D/queries.jsonl" --run "$T/k1.run" --k 1 --quiet
[ "$(wc -l < "$T/k1.run")" = 3 ] && ok "k 1: one line per query" || bad "k 1"

# text query through the idf encoder: cats(2.0) * 95 + pets(3.0) * 110 for doc-pets? no: doc-pets has no "cats"
expect_rc "search --query --idf" 0 "$SPAR" search --index "$T/ix" --query "cats and pets" --idf "$D/idf.json" --json
# tokens cats, and, pets: doc-pets = 3.0*110 = 330; doc-cat = 2.0*95 = 190
printf '%s\n' '{"rank":1,"id":"doc-pets","score":330.000000}' '{"rank":2,"id":"doc-cat","score":190.000000}' > "$T/want2"
cmp -s "$T/out" "$T/want2" && ok "idf text query" || { bad "idf text query"; cat "$T/out"; }
printf 'q1\tcats and pets\n' > "$T/q.tsv"
expect_rc "text query file" 0 "$SPAR" search --index "$T/ix" --queries "$T/q.tsv" --idf "$D/idf.json" --run "$T/t.run" --quiet
head -1 "$T/t.run" | grep -q '^q1 Q0 doc-pets 1 330.000000 spar$' && ok "text query file run" || bad "text query file run"

# approximate
expect_rc "approx without --approx index" 2 "$SPAR" search --index "$T/ix" --query-vector '{"cat":1}' --mode approx
expect_rc "index --approx" 0 "$SPAR" index --format vectors --input "$D/docs.jsonl" --index "$T/ixa" --vocab "$D/vocab.txt" --approx --quiet
expect_rc "search approx" 0 "$SPAR" search --index "$T/ixa" --queries "$D/queries.jsonl" --run "$T/ap.run" --mode approx --query-cut 0 --heap-factor 0.1 --quiet
cmp -s "$T/ap.run" "$T/want.run" && ok "approx (lossless knobs) = exact" || bad "approx = exact"

# errors
head -2 "$D/docs.jsonl" > "$T/bad.jsonl"; echo '{"id": "x", "vector": {"cat": ' >> "$T/bad.jsonl"
expect_rc "malformed line" 4 "$SPAR" index --format vectors --input "$T/bad.jsonl" --index "$T/bad" --vocab "$D/vocab.txt"
grep -q "bad.jsonl:3:" "$T/err" && ok "malformed: file:line" || { bad "malformed: file:line"; cat "$T/err"; }
[ ! -e "$T/bad" ] && ok "nothing written" || bad "nothing written"
echo '{"id": "u", "vector": {"cat": 1, "zebra": 2}}' > "$T/unk.jsonl"
expect_rc "unknown token" 4 "$SPAR" index --format vectors --input "$T/unk.jsonl" --index "$T/unk" --vocab "$D/vocab.txt"
grep -q 'unk.jsonl:1: unknown token "zebra"' "$T/err" && ok "unknown token named" || bad "unknown token named"
expect_rc "--skip-unknown" 0 "$SPAR" index --format vectors --input "$T/unk.jsonl" --index "$T/unk" --vocab "$D/vocab.txt" --skip-unknown --quiet
grep -q '"unknown_tokens":1' "$T/out" && ok "skipped token counted" || bad "skipped token counted"
expect_rc "existing dir" 9 "$SPAR" index --format vectors --input "$D/docs.jsonl" --index "$T/ix" --vocab "$D/vocab.txt"
expect_rc "--overwrite" 0 "$SPAR" index --format vectors --input "$D/docs.jsonl" --index "$T/ix" --vocab "$D/vocab.txt" --overwrite --quiet
cp -r "$T/ix" "$T/dmg"
printf '\x01' | dd of="$T/dmg/sparse.idx" bs=1 seek=100 conv=notrunc 2> /dev/null
expect_rc "damaged index file" 4 "$SPAR" search --index "$T/dmg" --query-vector '{"cat":1}'
grep -q "sparse.idx" "$T/err" && ok "damage names the file" || { bad "damage names the file"; cat "$T/err"; }
expect_rc "bad --query-vector" 4 "$SPAR" search --index "$T/ix" --query-vector '{"cat":-1}'
expect_rc "--query without --idf" 2 "$SPAR" search --index "$T/ix" --query "cats"

# info / verify on a learned-sparse directory
expect_rc "info" 0 "$SPAR" info --index "$T/ix"
grep -q '"kind":"sparse","docs":10,"dim":37,"nnz":32' "$T/out" && ok "info fields" || { bad "info fields"; cat "$T/out"; }
expect_rc "verify" 0 "$SPAR" verify --index "$T/ix"
[ "$(grep -c '"status":"ok"' "$T/out")" = 5 ] && ok "verify: 4 files + summary ok" || { bad "verify ok lines"; cat "$T/out"; }
cp -r "$T/ix" "$T/dmg3"; printf 'x' >> "$T/dmg3/docids.txt"
expect_rc "verify damaged docids" 4 "$SPAR" verify --index "$T/dmg3"
grep -q '"file":"docids.txt","status":"corrupt' "$T/out" && ok "verify names docids.txt" || { bad "verify names docids.txt"; cat "$T/out"; }

# CIFF: export -> import -> identical run
expect_rc "ciff export" 0 "$SPAR" ciff export --index "$T/ix" --output "$T/x.ciff"
expect_rc "ciff import" 0 "$SPAR" index --format ciff --input "$T/x.ciff" --index "$T/ixc" --quiet
expect_rc "search imported" 0 "$SPAR" search --index "$T/ixc" --queries "$D/queries.jsonl" --run "$T/c.run" --quiet
cmp -s "$T/c.run" "$T/want.run" && ok "CIFF round trip: identical run" || { bad "CIFF round trip"; diff "$T/c.run" "$T/want.run"; }
expect_rc "ciff re-export" 0 "$SPAR" ciff export --index "$T/ixc" --output "$T/y.ciff" --description "spar test"
expect_rc "ciff re-import" 0 "$SPAR" index --format ciff --input "$T/y.ciff" --index "$T/ixc2" --quiet
cmp -s "$T/ixc/sparse.idx" "$T/ixc2/sparse.idx" && cmp -s "$T/ixc/vocab.txt" "$T/ixc2/vocab.txt" && ok "CIFF second round trip: same index" \
    || bad "CIFF second round trip"

# the hand-made CIFF (bytes in docs/format/ciff.md): A apple 2, B banana 7, C apple 3
expect_rc "hand CIFF import" 0 "$SPAR" index --format ciff --input "$D/hand.ciff" --index "$T/hand" --quiet
expect_rc "hand CIFF search" 0 "$SPAR" search --index "$T/hand" --query-vector '{"banana":2,"apple":1}' --json
printf '%s\n' '{"rank":1,"id":"B","score":14.000000}' '{"rank":2,"id":"C","score":3.000000}' '{"rank":3,"id":"A","score":2.000000}' > "$T/want3"
cmp -s "$T/out" "$T/want3" && ok "hand CIFF scores" || { bad "hand CIFF scores"; cat "$T/out"; }
head -c 50 "$D/hand.ciff" > "$T/trunc.ciff"
expect_rc "truncated CIFF" 4 "$SPAR" index --format ciff --input "$T/trunc.ciff" --index "$T/tr"
grep -q "trunc.ciff: byte [0-9]*:" "$T/err" && ok "truncated CIFF: byte offset" || { bad "truncated CIFF message"; cat "$T/err"; }

# non-integer weights need a scale
printf '%s\n' '{"id":"f1","vector":{"cat":0.25,"dog":1.5}}' '{"id":"f2","vector":{"cat":2.0}}' > "$T/f.jsonl"
expect_rc "float index" 0 "$SPAR" index --format vectors --input "$T/f.jsonl" --index "$T/ixf" --vocab "$D/vocab.txt" --quiet
expect_rc "float export needs --scale" 2 "$SPAR" ciff export --index "$T/ixf" --output "$T/f.ciff"
expect_rc "float export --scale 100" 0 "$SPAR" ciff export --index "$T/ixf" --output "$T/f.ciff" --scale 100
expect_rc "import scaled" 0 "$SPAR" index --format ciff --input "$T/f.ciff" --index "$T/ixf2" --quiet
expect_rc "search scaled" 0 "$SPAR" search --index "$T/ixf2" --query-vector '{"cat":1}' --json
grep -q '"id":"f2","score":200.000000' "$T/out" && grep -q '"id":"f1","score":25.000000' "$T/out" && ok "scaled impacts" \
    || { bad "scaled impacts"; cat "$T/out"; }

# `spar encode --kind splade` output (Anserini JsonVectorCollection, here from the committed tiny random BERT)
# indexes as is, with the model's vocab.txt
M=$SRC/tests/golden/data/encoder/tiny-bert
if "$SPAR" encode --help > /dev/null 2>&1 && [ -f "$M/model.safetensors" ]; then
    printf '%s\n' '{"_id":"e1","title":"","text":"cats and dogs"}' '{"_id":"e2","title":"","text":"a red car"}' \
        '{"_id":"e3","title":"","text":"the moon"}' > "$T/enc_in.jsonl"
    expect_rc "encode splade" 0 "$SPAR" encode --model "$M" --input "$T/enc_in.jsonl" --output "$T/enc.jsonl.gz" --quantize 100
    expect_rc "index encode output" 0 "$SPAR" index --format vectors --input "$T/enc.jsonl.gz" --vocab "$M/vocab.txt" --index "$T/encix" --quiet
    grep -q '"docs":3,' "$T/out" && ok "encode output: 3 docs" || bad "encode output: 3 docs"
    expect_rc "search encoded" 0 "$SPAR" search --index "$T/encix" --queries "$T/enc.jsonl.gz" --run "$T/enc.run" --k 3 --quiet
    [ "$(wc -l < "$T/enc.run")" = 9 ] && ok "encoded run: 3 x 3 lines" || bad "encoded run"
    expect_rc "encoded CIFF export (integer impacts)" 0 "$SPAR" ciff export --index "$T/encix" --output "$T/enc.ciff"
else
    echo "skip encode check (no encode command or tiny-bert model)"
fi

# a BM25 index directory is not taken for a sparse one
expect_rc "ciff export of a non-sparse dir" 6 "$SPAR" ciff export --index "$T" --output "$T/z.ciff"

exit $fail
