#!/usr/bin/python3
"""ref_bert.py - from-scratch PyTorch reference of BERT / DistilBERT masked-LM + SPLADE (plain torch ops,
no `transformers`), used to check spar's C transformer.

  ref_bert.py run MODEL_DIR IDS_FILE OUT_DIR     reference outputs (padded batch + attention mask)
  ref_bert.py compare REF_DIR C_DIR [--tol T]    max |delta| per output; exit 1 if any exceeds T
  ref_bert.py runmany JOBS                       each line: MODEL_DIR IDS_FILE OUT_DIR (one torch start-up)
  ref_bert.py comparemany JOBS                   each line: NAME REF_DIR C_DIR TOL [info]; exit 1 if any
                                                 non-"info" job fails

IDS_FILE: one sequence per line, space-separated token ids. Outputs (raw little-endian float32):
logits.f32 [T_total, V] for the non-padding tokens in order, hidden.f32 [T_total, d],
splade_max.f32 / splade_sum.f32 [n_seqs, V], dense_cls.f32 / dense_mean.f32 [n_seqs, d].
The reference runs the sequences as ONE padded batch with an attention mask, as transformers does;
the C side packs them without padding, so agreement also checks the mask semantics.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def linear(x, w, b):
    return x @ w.t() + b if b is not None else x @ w.t()


def act(x, name):
    if name == "gelu":
        return F.gelu(x)  # exact erf form
    if name == "relu":
        return F.relu(x)
    raise SystemExit(f"unsupported activation {name}")


def forward(cfg, W, ids, mask):
    """ids, mask: [B, n] long / float. Returns hidden [B, n, d] and logits [B, n, V] (or None)."""
    B, n = ids.shape
    fmin = torch.finfo(torch.float32).min
    if cfg["model_type"] == "bert":
        P = "bert." if "bert.embeddings.word_embeddings.weight" in W else ""
        d, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
        eps, a = cfg.get("layer_norm_eps", 1e-12), cfg.get("hidden_act", "gelu")
        pos = torch.arange(n)
        x = W[P + "embeddings.word_embeddings.weight"][ids] + W[P + "embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
        x = x + W[P + "embeddings.position_embeddings.weight"][pos][None]
        x = layer_norm(x, W[P + "embeddings.LayerNorm.weight"], W[P + "embeddings.LayerNorm.bias"], eps)
        ext = (1.0 - mask[:, None, None, :]) * fmin
        dh = d // H
        for i in range(L):
            p = f"{P}encoder.layer.{i}."

            def heads(t):
                return t.view(B, n, H, dh).permute(0, 2, 1, 3)
            q = heads(linear(x, W[p + "attention.self.query.weight"], W[p + "attention.self.query.bias"]))
            k = heads(linear(x, W[p + "attention.self.key.weight"], W[p + "attention.self.key.bias"]))
            v = heads(linear(x, W[p + "attention.self.value.weight"], W[p + "attention.self.value.bias"]))
            s = (q @ k.transpose(-1, -2)) / math.sqrt(dh) + ext
            ctx = (torch.softmax(s, dim=-1) @ v).permute(0, 2, 1, 3).reshape(B, n, d)
            o = linear(ctx, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])
            x = layer_norm(o + x, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
            h = act(linear(x, W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]), a)
            o = linear(h, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
            x = layer_norm(o + x, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
        logits = None
        if "cls.predictions.bias" in W:
            t = act(linear(x, W["cls.predictions.transform.dense.weight"], W["cls.predictions.transform.dense.bias"]), a)
            t = layer_norm(t, W["cls.predictions.transform.LayerNorm.weight"], W["cls.predictions.transform.LayerNorm.bias"], eps)
            dec = W.get("cls.predictions.decoder.weight", W[P + "embeddings.word_embeddings.weight"])
            logits = linear(t, dec, W["cls.predictions.bias"])
        return x, logits
    # DistilBERT
    P = "distilbert." if "distilbert.embeddings.word_embeddings.weight" in W else ""
    d, H, L, eps, a = cfg["dim"], cfg["n_heads"], cfg["n_layers"], 1e-12, cfg.get("activation", "gelu")
    dh = d // H
    x = W[P + "embeddings.word_embeddings.weight"][ids] + W[P + "embeddings.position_embeddings.weight"][torch.arange(n)][None]
    x = layer_norm(x, W[P + "embeddings.LayerNorm.weight"], W[P + "embeddings.LayerNorm.bias"], eps)
    keymask = (mask == 0)[:, None, None, :]
    for i in range(L):
        p = f"{P}transformer.layer.{i}."

        def heads(t):
            return t.view(B, n, H, dh).transpose(1, 2)
        q = heads(linear(x, W[p + "attention.q_lin.weight"], W[p + "attention.q_lin.bias"])) / math.sqrt(dh)
        k = heads(linear(x, W[p + "attention.k_lin.weight"], W[p + "attention.k_lin.bias"]))
        v = heads(linear(x, W[p + "attention.v_lin.weight"], W[p + "attention.v_lin.bias"]))
        s = (q @ k.transpose(2, 3)).masked_fill(keymask, fmin)
        ctx = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, n, d)
        o = linear(ctx, W[p + "attention.out_lin.weight"], W[p + "attention.out_lin.bias"])
        x = layer_norm(o + x, W[p + "sa_layer_norm.weight"], W[p + "sa_layer_norm.bias"], eps)
        h = act(linear(x, W[p + "ffn.lin1.weight"], W[p + "ffn.lin1.bias"]), a)
        o = linear(h, W[p + "ffn.lin2.weight"], W[p + "ffn.lin2.bias"])
        x = layer_norm(o + x, W[p + "output_layer_norm.weight"], W[p + "output_layer_norm.bias"], eps)
    logits = None
    if "vocab_projector.bias" in W:
        t = act(linear(x, W["vocab_transform.weight"], W["vocab_transform.bias"]), a)
        t = layer_norm(t, W["vocab_layer_norm.weight"], W["vocab_layer_norm.bias"], eps)
        dec = W.get("vocab_projector.weight", W[P + "embeddings.word_embeddings.weight"])
        logits = linear(t, dec, W["vocab_projector.bias"])
    return x, logits


def run(model_dir, ids_file, out_dir):
    torch.set_num_threads(2)
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    W = st_io.read(os.path.join(model_dir, "model.safetensors"))
    with open(ids_file) as f:
        seqs = [[int(t) for t in ln.split()] for ln in f if ln.strip()]
    n = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), n, dtype=torch.long)
    mask = torch.zeros(len(seqs), n)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    with torch.no_grad():
        hid, logits = forward(cfg, W, ids, mask)
    os.makedirs(out_dir, exist_ok=True)
    keep = mask.bool()

    def save(name, t):
        t.contiguous().numpy().astype("<f4").tofile(os.path.join(out_dir, name))
    save("hidden.f32", hid[keep])
    m = mask[..., None]
    save("dense_cls.f32", hid[:, 0])
    save("dense_mean.f32", (hid * m).sum(1) / m.sum(1))
    if logits is not None:
        save("logits.f32", logits[keep])
        w = torch.log1p(torch.relu(logits)) * m
        save("splade_max.f32", w.max(dim=1).values)
        save("splade_sum.f32", w.sum(dim=1))


def compare(ref_dir, c_dir, tol, gated=True):
    worst = 0.0
    bad = False
    for name in ("logits.f32", "hidden.f32", "splade_max.f32", "splade_sum.f32", "dense_cls.f32", "dense_mean.f32"):
        rp, cp = os.path.join(ref_dir, name), os.path.join(c_dir, name)
        if not os.path.exists(rp):
            continue
        if not os.path.exists(cp):
            print(f"  {name}: missing from C output")
            bad = True
            continue
        r, c = np.fromfile(rp, dtype="<f4"), np.fromfile(cp, dtype="<f4")
        if r.shape != c.shape:
            print(f"  {name}: size {c.size} != reference {r.size}")
            bad = True
            continue
        dm = float(np.max(np.abs(r - c))) if r.size else 0.0
        if name == "splade_sum.f32":
            # A sum over up to 512 tokens: compare relative to the magnitude (tol per unit of weight).
            dm = float(np.max(np.abs(r - c) / np.maximum(1.0, np.abs(r)))) if r.size else 0.0
        line = f"  {name}: n={r.size} max|delta|={dm:.3g}{' (relative)' if name == 'splade_sum.f32' else ''}" \
               f" (max|ref|={float(np.max(np.abs(r))):.3g})"
        if name.startswith("splade"):
            # Same support: every term either side gives weight above tol must be non-zero on the other side.
            sr, sc = r > tol, c > tol
            only_r, only_c = int(np.sum(sr & (c == 0))), int(np.sum(sc & (r == 0)))
            line += f" nnz ref={int(np.sum(r > 0))} c={int(np.sum(c > 0))} support-mismatch={only_r + only_c}"
            if only_r + only_c:
                bad = True
        print(line)
        worst = max(worst, dm)
        if not dm <= tol:
            bad = True
    print(f"  worst max|delta| = {worst:.3g} (tol {tol:g}) -> {('FAIL' if bad else 'ok') if gated else 'reported'}")
    return 1 if bad else 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4])
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "compare":
        tol = float(sys.argv[5]) if len(sys.argv) >= 6 and sys.argv[4] == "--tol" else 1e-4
        return compare(sys.argv[2], sys.argv[3], tol)
    if len(sys.argv) >= 3 and sys.argv[1] == "runmany":
        with open(sys.argv[2]) as f:
            for ln in f:
                if ln.split():
                    run(*ln.split()[:3])
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "comparemany":
        rc = 0
        with open(sys.argv[2]) as f:
            for ln in f:
                a = ln.split()
                if not a:
                    continue
                info = len(a) > 4 and a[4] == "info"
                print(f"[{a[0]}]{' (informational, not gated)' if info else ''}")
                r = compare(a[1], a[2], float(a[3]), not info)
                if r and not info:
                    print(f"FAIL {a[0]}")
                    rc = 1
        return rc
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
