#!/usr/bin/env bash
# transformer_reference.sh — spar's C transformer (encoders/model) against a from-scratch PyTorch reference
# (tests/python/ref_bert.py) on tiny random-weight BERT/DistilBERT models generated at test time
# (tests/python/make_model.py): lengths 1, 7, 128, 512 alone and in mixed batches, F32/F16/BF16 files,
# tied and untied decoders, bare encoders; max|delta| <= 1e-4 on logits, hidden states, dense pooling and SPLADE
# max/sum (same support). A wrong model folder must fail naming missing/unexpected tensors. With SPAR_MODEL_DIR
# set, also a real pretrained HF folder. The real bert-base / distilbert-base configs are in
# transformer_reference_base.sh. Needs /usr/bin/python3 with torch (python3-torch): skips (77) otherwise.
SRC=${SPAR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../python/transformer_lib.bash
. "$SRC/tests/python/transformer_lib.bash"

# --- tiny models: every length alone, mixed batches, file dtypes, tied/untied, bare encoders
mk "$T/tiny-bert" --arch bert --size tiny --seed 11
mk "$T/tiny-distil" --arch distilbert --size tiny --seed 12
mk "$T/tiny-bert-untied-f16" --arch bert --size tiny --seed 13 --untied --dtype F16
mk "$T/tiny-distil-untied-bf16" --arch distilbert --size tiny --seed 14 --untied --dtype BF16
mk "$T/tiny-bert-bare" --arch bert --size tiny --seed 15 --bare
mk "$T/tiny-distil-bare" --arch distilbert --size tiny --seed 16 --bare
for L in 1 7 128 512; do ids "$T/ids-$L.txt" 1000 $L $L; done
ids "$T/ids-mixed.txt" 1000 99 7 512 1 128 33 2
for m in tiny-bert tiny-distil; do
  for L in 1 7 128 512; do job "$m-len$L" "$T/$m" "$T/ids-$L.txt"; done
  job "$m-mixed" "$T/$m" "$T/ids-mixed.txt"
done
for m in tiny-bert-untied-f16 tiny-distil-untied-bf16 tiny-bert-bare tiny-distil-bare; do job "$m-mixed" "$T/$m" "$T/ids-mixed.txt"; done
run_jobs

# --- a wrong folder: DistilBERT weights under a BERT config must name missing and unexpected tensors
mkdir -p "$T/wrong" && cp "$T/tiny-distil/model.safetensors" "$T/wrong/" && cp "$T/tiny-bert/config.json" "$T/wrong/"
if "$BIN" dump "$T/wrong" "$T/ids-7.txt" "$T" 2> "$T/wrong.err"; then echo "FAIL wrong folder accepted"; fail=1; fi
if grep -q "missing (embeddings.word_embeddings.weight" "$T/wrong.err" &&
   grep -q "unexpected (distilbert.embeddings.LayerNorm.bias" "$T/wrong.err"; then echo "ok wrong folder: $(cat "$T/wrong.err")"
else echo "FAIL wrong folder message: $(cat "$T/wrong.err")"; fail=1; fi
rm -rf "$T"/tiny-* "$T"/*.ref "$T"/*.c

# --- optional: a real pretrained HF folder (e.g. naver/splade-cocondenser-ensembledistil) via SPAR_MODEL_DIR
if [ -n "${SPAR_MODEL_DIR:-}" ] && [ -f "$SPAR_MODEL_DIR/model.safetensors" ]; then
  V=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["vocab_size"])' "$SPAR_MODEL_DIR/config.json")
  ids "$T/real.txt" "$V" 5 9 64 300
  job pretrained-mixed "$SPAR_MODEL_DIR" "$T/real.txt"
  run_jobs
else
  echo "note: SPAR_MODEL_DIR not set: pretrained-weights check skipped"
fi
[ $fail -eq 0 ] && echo "transformer_reference: all checks passed"
exit $fail
