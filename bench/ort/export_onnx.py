#!/usr/bin/python3
"""export_onnx.py - export a spar test model folder (tests/python/make_model.py) to ONNX for the ONNX Runtime
comparison in bench/ort/.

  export_onnx.py MODEL_DIR OUT_DIR

Writes OUT_DIR/encoder.onnx (input_ids, attention_mask int64 [B, n] -> last_hidden_state [B, n, d]) and
OUT_DIR/splade.onnx (-> splade [B, V] = max_t log(1 + relu(logits)) * mask: encoder + MLM head + pooling, the
full SPLADE graph). The graph is the from-scratch reference forward pass of tests/python/ref_bert.py (the one
spar's C transformer is checked against), traced by torch.onnx.export with dynamic batch and length axes; the
weights are the folder's model.safetensors, so spar and ONNX Runtime run the same numbers.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "python"))
import ref_bert  # noqa: E402
import st_io  # noqa: E402


def _layer_norm(x, w, b, eps):
    # ref_bert takes the width from x.shape, which the tracer cannot turn into a constant; the gain's
    # shape is a plain int (weights are constants of the graph).
    return torch.nn.functional.layer_norm(x, (int(w.shape[0]),), w, b, eps)


ref_bert.layer_norm = _layer_norm


class Encoder(torch.nn.Module):
    def __init__(self, cfg, W, splade):
        super().__init__()
        self.cfg, self.W, self.splade = cfg, W, splade

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.to(torch.float32)
        hidden, logits = ref_bert.forward(self.cfg, self.W, input_ids, mask)
        if not self.splade:
            return hidden
        w = torch.log1p(torch.relu(logits)) * mask[..., None]
        return w.max(dim=1).values


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    import json
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    W = st_io.read(os.path.join(model_dir, "model.safetensors"))
    os.makedirs(out_dir, exist_ok=True)
    ids = torch.randint(1000, 2000, (2, 16), dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    for name, splade in (("encoder", False), ("splade", True)):
        m = Encoder(cfg, W, splade).eval()
        out = "splade" if splade else "last_hidden_state"
        axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                out: {0: "batch"} if splade else {0: "batch", 1: "seq"}}
        with torch.no_grad():
            torch.onnx.export(m, (ids, mask), os.path.join(out_dir, name + ".onnx"), input_names=["input_ids", "attention_mask"],
                              output_names=[out], dynamic_axes=axes, opset_version=14, do_constant_folding=True)
        print(f"wrote {os.path.join(out_dir, name + '.onnx')}")


if __name__ == "__main__":
    main()
