#!/usr/bin/env bash
# cli_output.sh — output channels of the spar CLI: progress is drawn on stderr only when it is a terminal
# (checked under script(1)) and at most ~6 times a second, never mixed into stdout; JSON output stays valid for
# ids and text with quotes, backslashes, tabs, control characters and non-ASCII; the TREC run keeps such ids
# verbatim.
set -euo pipefail
SPAR=${SPAR:?SPAR must point at the spar binary}
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 - "$t" <<'PY'
import json, random, sys
d = sys.argv[1]
docs = [
    {"_id": 'q"uote', "title": "Tab\there", "text": "back\\slash and \"quotes\" caf\u00e9 \u65e5\u672c"},
    {"_id": "caf\u00e9-\u00fcber", "title": "", "text": "caf\u00e9 control\u0001char \u00fcber"},
    {"_id": "plain", "title": "t", "text": "nothing special cafe"},
]
with open(d + "/small.jsonl", "w", encoding="utf-8") as f:
    for x in docs:
        f.write(json.dumps(x, ensure_ascii=False) + "\n")
random.seed(3)
words = ["w%d" % i for i in range(5000)]
with open(d + "/big.jsonl", "w") as f:
    for i in range(150000):
        f.write('{"_id":"d%d","text":"%s"}\n' % (i, " ".join(random.choices(words, k=10))))
PY

"$SPAR" index --input "$t/small.jsonl" --index "$t/idx" --store-text > "$t/index.json" 2> "$t/index.err"
[ ! -s "$t/index.err" ] || fail "stderr not empty without a terminal: $(cat "$t/index.err")"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$t/index.json" || fail "index summary is not JSON"
"$SPAR" search --index "$t/idx" --query "café" --k 5 --json > "$t/hits.json"
python3 - "$t/hits.json" <<'PY'
import json, sys
hits = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ids = {h["id"] for h in hits}
assert ids == {'q"uote', "caf\u00e9-\u00fcber", "plain"}, ids
h = [x for x in hits if x["id"] == 'q"uote'][0]
assert h["title"] == "Tab\there" and "back\\slash" in h["text"] and "\u65e5\u672c" in h["text"], h
h = [x for x in hits if x["id"] == "caf\u00e9-\u00fcber"][0]
assert "\u0001" in h["text"], h
PY
printf 'k1\tcafé\n' > "$t/q.tsv"
"$SPAR" search --index "$t/idx" --queries "$t/q.tsv" --run "$t/run" --k 5 2> /dev/null
grep -q '^k1 Q0 q"uote ' "$t/run" || fail "run does not keep the id verbatim: $(cat "$t/run")"
"$SPAR" info --index "$t/idx" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "info is not JSON"
"$SPAR" verify --index "$t/idx" | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' || fail "verify lines are not JSON"

# progress under a pseudo-terminal: drawn on stderr (which script(1) merges into its log), never on stdout
if ! command -v script > /dev/null; then echo "SKIP: script(1) not installed"; exit 77; fi
start=$(date +%s.%N)
script -qec "'$SPAR' index --input '$t/big.jsonl' --index '$t/big' --threads 2 2> '$t/tty.err' > '$t/tty.out'" /dev/null > /dev/null
end=$(date +%s.%N)
# stderr was redirected to a file inside the pty, so nothing may be drawn there ...
[ ! -s "$t/tty.err" ] || fail "progress drawn although stderr is a file"
script -qec "'$SPAR' index --input '$t/big.jsonl' --index '$t/big2' --threads 2 > '$t/tty2.out'" "$t/typescript" > /dev/null
end2=$(date +%s.%N)
python3 - "$t/typescript" "$t/tty2.out" "$end" "$end2" <<'PY'
import json, sys
log = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
out = open(sys.argv[2]).read()
secs = float(sys.argv[4]) - float(sys.argv[3])
frames = log.count("\r\x1b[K[index]")
assert frames >= 1 and "docs/s" in log, ("no progress drawn on a terminal", log[:300])
# at most 6 redraws a second (+2 for the forced first/last frames, +1 slack for rounding)
assert frames <= 6 * secs + 3, (frames, secs)
s = json.loads(out)          # stdout holds only the summary
assert s["docs"] == 150000, s
print("progress frames:", frames, "in %.2f s" % secs)
PY
echo "cli_output: ok"
