#!/usr/bin/env bash
# ann_cli.sh — `spar ann build|search` end to end: flat and HNSW indexes from .fvecs, a stored vector finds
# itself first, HNSW agrees with flat on most top-1s, bad input and a corrupted file give clear errors.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
python3 - "$t" <<'PY'
import random, struct, sys
random.seed(7)
d = sys.argv[1]
def w(path, rows):
    with open(path, "wb") as f:
        for r in rows: f.write(struct.pack("<i", len(r)) + struct.pack("<%df" % len(r), *r))
base = [[random.gauss(0, 1) for _ in range(16)] for _ in range(500)]
w(d + "/base.fvecs", base); w(d + "/q.fvecs", base[:20])
open(d + "/bad.fvecs", "wb").write(struct.pack("<i", 16) + b"\0" * 10)
with open(d + "/codes.bin", "wb") as f: f.write(bytes(random.getrandbits(8) for _ in range(64 * 32)))
PY
"$SPAR" ann --help | grep -q "spar ann build"
"$SPAR" ann build --input "$t/base.fvecs" --output "$t/flat.ann" --type flat > "$t/b1.json"
"$SPAR" ann build --input "$t/base.fvecs" --output "$t/hnsw.ann" --type hnsw --M 8 --threads 2 > "$t/b2.json"
grep -q '"n":500' "$t/b2.json"
"$SPAR" ann search --index "$t/flat.ann" --queries "$t/q.fvecs" --k 5 > "$t/flat.out"
"$SPAR" ann search --index "$t/hnsw.ann" --queries "$t/q.fvecs" --k 5 --ef 50 > "$t/hnsw.out"
[ "$(wc -l < "$t/flat.out")" -eq 20 ]
python3 - "$t" <<'PY'
import json, sys
d = sys.argv[1]
flat = [json.loads(l) for l in open(d + "/flat.out")]
hnsw = [json.loads(l) for l in open(d + "/hnsw.out")]
assert all(r["ids"][0] == r["query"] and r["dists"][0] == 0 for r in flat), "a stored vector must find itself"
same = sum(a["ids"][0] == b["ids"][0] for a, b in zip(flat, hnsw))
assert same >= 19, f"hnsw top-1 agrees with flat on only {same}/20"
PY
"$SPAR" ann build --input "$t/codes.bin" --output "$t/bin.ann" --type binary --bits 256 > /dev/null
# every other index type builds and a stored vector finds itself first
for spec in "hnsw sq8" "ivf f32" "ivf sq8" "ivf pq"; do
  set -- $spec
  "$SPAR" ann build --input "$t/base.fvecs" --output "$t/$1-$2.ann" --type "$1" --storage "$2" --nlist 8 --pq-m 4 > /dev/null
  "$SPAR" ann search --index "$t/$1-$2.ann" --queries "$t/q.fvecs" --k 3 --nprobe 8 --rerank 50 --ef 64 > "$t/$1-$2.out"
  python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; bad=[x['query'] for x in r if x['ids'][0]!=x['query']]; assert len(bad)<=1, (sys.argv[1], bad)" "$t/$1-$2.out"
done
for ty in binary-hnsw binary-ivf; do
  "$SPAR" ann build --input "$t/codes.bin" --output "$t/$ty.ann" --type "$ty" --bits 256 --nlist 4 > /dev/null
done
head -c 64 "$t/codes.bin" > "$t/qb.bin"
"$SPAR" ann search --index "$t/bin.ann" --queries "$t/qb.bin" --k 3 | grep -q '"ids":\[0,'
"$SPAR" ann search --index "$t/binary-hnsw.ann" --queries "$t/qb.bin" --k 3 | grep -q '"ids":\[0,'
"$SPAR" ann search --index "$t/binary-ivf.ann" --queries "$t/qb.bin" --k 3 --nprobe 4 | grep -q '"ids":\[0,'
# bad input: truncated .fvecs -> exit 4 with the file named
set +e
"$SPAR" ann build --input "$t/bad.fvecs" --output "$t/x.ann" 2> "$t/err"; rc=$?
set -e
[ "$rc" -eq 4 ] && grep -q "bad.fvecs" "$t/err"
# corrupted index: one flipped byte in the payload -> exit 4, checksum named
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[100]^=1; open(p,'wb').write(b)" "$t/hnsw.ann"
set +e
"$SPAR" ann search --index "$t/hnsw.ann" --queries "$t/q.fvecs" 2> "$t/err2" > /dev/null; rc=$?
set -e
[ "$rc" -eq 4 ] && grep -q "checksum" "$t/err2"
echo "ann_cli: ok"
