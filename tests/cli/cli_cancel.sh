#!/usr/bin/env bash
# cli_cancel.sh — Ctrl-C during `spar index`: SIGINT cancels the build through the progress callback, the
# command exits 7 (cancelled) and leaves neither the index directory nor any temporary directory behind.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
python3 - "$t/big.jsonl" <<'PY'
import random, sys
random.seed(1)
words = ["w%d" % i for i in range(20000)]
with open(sys.argv[1], "w") as f:
    for i in range(300000):
        f.write('{"_id":"d%d","text":"%s"}\n' % (i, " ".join(random.choices(words, k=12))))
PY
"$SPAR" index --input "$t/big.jsonl" --index "$t/idx" --quiet --threads 2 > "$t/out" 2> "$t/err" &
pid=$!
sleep 1
kill -INT "$pid" 2> /dev/null || true
set +e; wait "$pid"; rc=$?; set -e
if [ "$rc" -eq 0 ]; then echo "SKIP: the build finished before the signal arrived"; exit 77; fi
[ "$rc" -eq 7 ] || { cat "$t/err" >&2; echo "FAIL: interrupted build exited $rc, expected 7" >&2; exit 1; }
left=$(ls -A "$t" | grep -v -x -E 'big.jsonl|out|err' || true)
[ -z "$left" ] || { echo "FAIL: left behind after Ctrl-C: $left" >&2; exit 1; }
grep -q "interrupted" "$t/err" || { echo "FAIL: no 'interrupted' message" >&2; exit 1; }
echo "cli_cancel: ok"
