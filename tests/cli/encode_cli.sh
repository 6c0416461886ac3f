#!/usr/bin/env bash
# encode_cli.sh — `spar encode` end to end on a tiny random-weight BERT written by tests/python/make_model.py:
# SPLADE records (Anserini JsonVectorCollection) to .jsonl and .jsonl.gz are valid JSON, in input order, with
# weights > 0 over real vocabulary tokens, and decode identically; --quantize / --top-k / --no-title /
# --threads; dense and token kinds; --query agrees with the corpus encoding of the same text; a malformed
# line gives file:line and exit 4 with nothing written; a wrong model folder gives a clear error; the idf
# query encoder reproduces idf.json weights (when $SPAR_DATA has them). Skips (77) without torch.
set -u
SPAR=${SPAR:?SPAR must point at the spar binary}
SRC=${SPAR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${SPAR_DATA:-$SRC/../shared/data}
PY=/usr/bin/python3
if ! $PY -c 'import torch, numpy' 2>/dev/null; then echo "SKIP: $PY cannot import torch (apt-get install python3-torch)"; exit 77; fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
T=$(mktemp -d /tmp/spar_encode_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

# A 1000-token vocabulary with real words (so records are readable) and a tiny BERT over it.
$PY - "$T/vocab_src.txt" <<'EOF'
import sys
out = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
words = ("the a an of on in is are was cat dog sat mat quantum physics hard easy search engine sparse dense "
         "vector retrieval index query document text title model neural learned term weight token bert").split()
for t in list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-()") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"] + words:
    if t not in out:
        out.append(t)
i = 0
while len(out) < 1000:
    out.append("filler%d" % i)
    i += 1
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF
$PY "$SRC/tests/python/make_model.py" "$T/m" --arch bert --size tiny --seed 3 --vocab-src "$T/vocab_src.txt" \
    || { echo "FAIL make_model"; exit 1; }
$PY "$SRC/tests/python/make_model.py" "$T/bare" --arch distilbert --size tiny --bare --vocab-src "$T/vocab_src.txt" \
    || { echo "FAIL make_model --bare"; exit 1; }

cat > "$T/corpus.jsonl" <<'EOF'
{"_id":"d1","title":"The cat","text":"The cat sat on the mat."}
{"_id":"d2","title":"","text":"Quantum physics is hard"}

{"_id":"d3","title":"Sparse","text":"learned sparse retrieval with a \"neural\" model\nand a BERT query"}
{"_id":"d4","title":"Dense","text":"dense vector search engine café"}
{"_id":"d5","text":"index every document text title term weight token"}
EOF

# ---- SPLADE to plain and gzip outputs
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/v.jsonl" --quiet > "$T/sum1" 2> "$T/err1" \
    && ok "splade .jsonl" || { bad "splade .jsonl: $(cat "$T/err1")"; }
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/v.jsonl.gz" --quiet > "$T/sum2" 2> "$T/err2" \
    && ok "splade .jsonl.gz" || { bad "splade .jsonl.gz: $(cat "$T/err2")"; }
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/nt.jsonl" --no-title --quiet > /dev/null \
    || bad "--no-title"
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/q.jsonl" --quantize 100 --quiet > /dev/null \
    || bad "--quantize"
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/k.jsonl" --top-k 3 --quiet > /dev/null \
    || bad "--top-k"
OPENBLAS_NUM_THREADS=1 "$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/t2.jsonl" --threads 2 \
    --batch 2 --quiet > /dev/null || bad "--threads 2 --batch 2"
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output - --quiet > "$T/stdout.jsonl" 2> "$T/sum_err" \
    || bad "--output -"
"$SPAR" encode --model "$T/m" --query "Quantum physics is hard" --id q7 > "$T/query.json" || bad "--query"
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/d.jsonl" --kind dense --dense-pool mean \
    --normalize --quiet > /dev/null || bad "--kind dense"
"$SPAR" encode --model "$T/bare" --input "$T/corpus.jsonl" --output "$T/bd.jsonl" --kind dense --quiet > /dev/null \
    || bad "--kind dense on a bare encoder"
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/tok.jsonl.gz" --kind tokens --quiet > /dev/null \
    || bad "--kind tokens"

$PY - "$T" <<'EOF' || fail=1
import gzip, json, math, sys
T = sys.argv[1]
vocab = set(open(T + "/m/vocab.txt").read().split("\n")) - {""}
corpus = [json.loads(l) for l in open(T + "/corpus.jsonl") if l.strip()]
bad = 0
def check(cond, what):
    global bad
    print(("ok   " if cond else "FAIL ") + what)
    bad |= not cond
def load(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f]   # raises (test fails) on invalid JSON
plain, gz = load(T + "/v.jsonl"), load(T + "/v.jsonl.gz")
check([r["id"] for r in plain] == [d["_id"] for d in corpus], "records in input order, one per document")
exp = [(d.get("title", "") + " " + d["text"]) if d.get("title") else d["text"] for d in corpus]
check([r["contents"] for r in plain] == exp, "contents = title + ' ' + text")
check(all(r["vector"] and all(isinstance(w, float) and w > 0 for w in r["vector"].values()) for r in plain),
      "every weight is a float > 0, every vector non-empty")
check(all(t in vocab for r in plain for t in r["vector"]), "every token is a vocabulary entry")
check(plain == gz, "gzip and plain outputs decode identically")
check(open(T + "/v.jsonl", "rb").read() == gzip.open(T + "/v.jsonl.gz").read(), "gzip and plain bytes identical")
check(open(T + "/v.jsonl", "rb").read() == open(T + "/stdout.jsonl", "rb").read(), "--output - writes the same records")
s = json.loads(open(T + "/sum1").read())
check(s["docs"] == 5 and s["blank"] == 1 and s["lines"] == 6 and s["skipped"] == 0, "summary counts: %s" % s)
check(json.loads(open(T + "/sum_err").read())["docs"] == 5, "--output -: summary goes to stderr")
nt = load(T + "/nt.jsonl")
check([r["contents"] for r in nt] == [d["text"] for d in corpus], "--no-title encodes the text only")
def close(a, b):  # same terms, weights within float rounding (other batch packing changes GEMM sums)
    return set(a) == set(b) and all(abs(a[t] - b[t]) <= 1e-4 for t in a)
check(close(nt[1]["vector"], plain[1]["vector"]) and not close(nt[0]["vector"], plain[0]["vector"]),
      "--no-title changes only titled documents")
q = load(T + "/q.jsonl")
okq = True
for a, b in zip(plain, q):
    for t, w in b["vector"].items():
        okq &= isinstance(w, int) and w >= 1 and abs(w - round(a["vector"][t] * 100)) <= 1
    okq &= all(t in b["vector"] for t, w in a["vector"].items() if round(w * 100) >= 1)
check(okq, "--quantize 100: integer impacts round(w*100), zeros dropped")
k = load(T + "/k.jsonl")
okk = True
for a, b in zip(plain, k):
    top = sorted(a["vector"].items(), key=lambda x: (-x[1], x[0]))[:3]
    okk &= len(b["vector"]) == min(3, len(a["vector"])) and min(b["vector"].values()) >= top[-1][1] - 1e-6
check(okk, "--top-k 3 keeps the 3 largest weights")
t2 = load(T + "/t2.jsonl")
okt = [r["id"] for r in t2] == [r["id"] for r in plain]
for a, b in zip(plain, t2):
    okt &= set(a["vector"]) == set(b["vector"]) and all(abs(a["vector"][t] - b["vector"][t]) <= 1e-4 for t in a["vector"])
check(okt, "--threads 2 --batch 2 gives the same vectors in the same order")
qj = json.loads(open(T + "/query.json").read())
check(qj["id"] == "q7" and set(qj["vector"]) == set(plain[1]["vector"]) and
      all(abs(qj["vector"][t] - plain[1]["vector"][t]) <= 1e-4 for t in qj["vector"]),
      "--query prints the vector the corpus run gives the same text")
d = load(T + "/d.jsonl")
check(len(d) == 5 and all(len(r["vector"]) == 32 and abs(math.sqrt(sum(x * x for x in r["vector"])) - 1) < 1e-4 for r in d),
      "dense: 32-dim L2-normalised vectors")
bd = load(T + "/bd.jsonl")
check(len(bd) == 5 and all(len(r["vector"]) == 32 for r in bd), "dense on a bare (no MLM head) DistilBERT")
tk = load(T + "/tok.jsonl.gz")
check(len(tk) == 5 and all(r["tokens"][0] == "[CLS]" and r["tokens"][-1] == "[SEP]" and len(r["vectors"]) == len(r["tokens"])
                           and all(len(v) == 32 for v in r["vectors"]) and all(t in vocab for t in r["tokens"]) for r in tk),
      "tokens: [CLS]..[SEP] vocabulary tokens, one 32-dim vector each")
check(tk[0]["tokens"][1:4] == ["the", "cat", "the"], "tokens: title + text wordpieces (%s)" % tk[0]["tokens"][:5])
sys.exit(bad)
EOF

# ---- malformed input: file:line, exit 4, nothing written; --on-error skip goes on
printf '{"_id":"a","text":"the cat"}\n{"_id":"b","text":"sat"}\n{"_id":"c","text":\n{"_id":"d","text":"mat"}\n' > "$T/bad.jsonl"
"$SPAR" encode --model "$T/m" --input "$T/bad.jsonl" --output "$T/bad.out.jsonl" --quiet > /dev/null 2> "$T/bad.err"
rc=$?
[ $rc -eq 4 ] && ok "malformed line: exit 4" || bad "malformed line: exit $rc (want 4)"
grep -q "bad.jsonl:3:" "$T/bad.err" && ok "malformed line named file:line" || bad "no file:line in: $(cat "$T/bad.err")"
ls "$T"/bad.out.jsonl* > /dev/null 2>&1 && bad "a failed run left output behind" || ok "failed run writes nothing"
"$SPAR" encode --model "$T/m" --input "$T/bad.jsonl" --output "$T/skip.jsonl" --on-error skip --quiet > "$T/skip.sum" 2> /dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l < "$T/skip.jsonl")" -eq 3 ] && grep -q '"skipped":1' "$T/skip.sum" \
    && ok "--on-error skip: 3 records, skipped 1" || bad "--on-error skip (rc $rc)"

# ---- an existing non-regular output (a FIFO here, like /dev/null) is written in place, never replaced
mkfifo "$T/fifo"
timeout 30 cat "$T/fifo" > "$T/fifo.out" &
reader=$!
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" --output "$T/fifo" --quiet > /dev/null 2> "$T/fifo.err"; rc=$?
wait $reader
[ $rc -eq 0 ] && [ -p "$T/fifo" ] && cmp -s "$T/fifo.out" "$T/v.jsonl" && ! ls "$T"/fifo.tmp.* > /dev/null 2>&1 \
    && ok "--output FIFO: written in place, still a FIFO" || bad "--output FIFO (rc $rc): $(cat "$T/fifo.err")"

# ---- wrong model folders and usage errors
mkdir -p "$T/empty"
"$SPAR" encode --model "$T/empty" --query "x" > /dev/null 2> "$T/m.err"; rc=$?
[ $rc -eq 6 ] && grep -q "config.json" "$T/m.err" && ok "empty model folder: exit 6 naming config.json" \
    || bad "empty model folder: rc $rc: $(cat "$T/m.err")"
"$SPAR" encode --model "$T/nonexistent" --input "$T/corpus.jsonl" --output "$T/x.jsonl" > /dev/null 2> "$T/m.err"; rc=$?
[ $rc -ne 0 ] && grep -q "nonexistent" "$T/m.err" && [ ! -e "$T/x.jsonl" ] && ok "missing model folder: clear error (rc $rc)" \
    || bad "missing model folder: rc $rc: $(cat "$T/m.err")"
"$SPAR" encode --model "$T/bare" --query "x" > /dev/null 2> "$T/m.err"; rc=$?
[ $rc -eq 2 ] && grep -q "masked-LM head" "$T/m.err" && ok "splade on a bare encoder: clear error" \
    || bad "splade on a bare encoder: rc $rc: $(cat "$T/m.err")"
"$SPAR" encode --model "$T/m" --input "$T/corpus.jsonl" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "--input without --output: usage error" || bad "--input without --output: rc $rc"
"$SPAR" encode --model "$T/m" --query x --kind sparse > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "--kind sparse: usage error" || bad "--kind sparse: rc $rc"

# ---- inference-free query encoding with idf.json
IDF=$DATA/opensearch-sparse-idf/bert-uncased/idf.json
VOCAB=$DATA/bert-base-uncased-vocab/vocab.txt
if [ -f "$IDF" ] && [ -f "$VOCAB" ]; then
    "$SPAR" encode --idf "$IDF" --vocab "$VOCAB" --query "What is the capital of France? [SEP]" > "$T/idf.json" 2> "$T/idf.err" \
        || bad "--idf query: $(cat "$T/idf.err")"
    $PY - "$T/idf.json" "$IDF" <<'EOF' && ok "--idf query: distinct tokens weighted by idf.json, no specials" || fail=1
import json, sys
r = json.load(open(sys.argv[1])); idf = json.load(open(sys.argv[2]))
v = r["vector"]
want = {"what", "is", "the", "capital", "of", "france", "?"}
assert set(v) == want, v
assert all(abs(w - idf.get(t, 1.0)) <= 1e-5 * max(1, abs(w)) for t, w in v.items()), v
EOF
    "$SPAR" encode --idf "$IDF" --query x > /dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] && ok "--idf without --vocab: usage error" || bad "--idf without --vocab: rc $rc"
else
    echo "skip --idf checks: $IDF or $VOCAB absent"
fi

[ $fail -eq 0 ] && echo "encode_cli: ok" || echo "encode_cli: FAILED"
exit $fail
