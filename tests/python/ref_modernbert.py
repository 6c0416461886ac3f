#!/usr/bin/python3
"""ref_modernbert.py - random-weight ModernBERT model folders and a from-scratch PyTorch reference of
ModernBertForMaskedLM + SPLADE (plain torch ops, no `transformers`), used to check spar's C ModernBERT
(encoders/model/modernbert.c).

  ref_modernbert.py make OUT_DIR --size tiny|micro|base [--seed N] [--dtype F32|F16|BF16] [--biases] [--untied]
                    [--new-config] [--bare]
  ref_modernbert.py ids OUT_FILE VOCAB SEED LEN...      random id sequences ([CLS]=1 ... [SEP]=2 when small)
  ref_modernbert.py run MODEL_DIR IDS_FILE OUT_DIR      reference outputs (one padded batch + attention mask)
  ref_modernbert.py compare REF_DIR C_DIR TOL          max |delta| per output; exit 1 if any exceeds TOL
  ref_modernbert.py script FILE                        the commands above, one per line, in one process

make: config.json is the real answerdotai/ModernBERT-base config for --size base (22 layers, 768 hidden, 1152
intermediate, 12 heads, vocab 50368, local window 128, global every 3 layers, 8192 positions); --size tiny
keeps its structure (window 128, global every 3, both RoPE thetas) with 4 layers of width 64. --biases turns
on attention/mlp/norm/classifier biases, --untied stores a separate decoder, --new-config writes the
transformers-5 spelling (layer_types + rope_parameters) instead of global_attn_every_n_layers + *_rope_theta.
Tensor names are those of ModernBertForMaskedLM (model.*, head.*, decoder.*); weights are N(0, 0.02) with
non-trivial LayerNorm gains so every tensor matters.

run: the reference computes in float64 (rotary angles in float32, as transformers does); outputs are raw
little-endian float32: logits.f32 [T_total, V] for the non-padding tokens in order, hidden.f32 [T_total, d]
(final-normed), splade_max.f32 [n_seqs, V] (max over tokens of log(1 + relu(logit)))."""
import json
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

BASE = {"architectures": ["ModernBertForMaskedLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 50281, "classifier_activation": "gelu", "classifier_bias": False, "classifier_dropout": 0.0,
        "classifier_pooling": "mean", "cls_token_id": 50281, "decoder_bias": True, "deterministic_flash_attn": False,
        "embedding_dropout": 0.0, "eos_token_id": 50282, "global_attn_every_n_layers": 3,
        "global_rope_theta": 160000.0, "gradient_checkpointing": False, "hidden_activation": "gelu",
        "hidden_size": 768, "initializer_cutoff_factor": 2.0, "initializer_range": 0.02, "intermediate_size": 1152,
        "layer_norm_eps": 1e-05, "local_attention": 128, "local_rope_theta": 10000.0,
        "max_position_embeddings": 8192, "mlp_bias": False, "mlp_dropout": 0.0, "model_type": "modernbert",
        "norm_bias": False, "norm_eps": 1e-05, "num_attention_heads": 12, "num_hidden_layers": 22,
        "pad_token_id": 50283, "position_embedding_type": "absolute", "sep_token_id": 50282,
        "sparse_pred_ignore_index": -100, "sparse_prediction": False, "torch_dtype": "float32",
        "vocab_size": 50368}


def tiny():
    return dict(BASE, hidden_size=64, intermediate_size=48, num_attention_heads=4, num_hidden_layers=4,
                vocab_size=1000, max_position_embeddings=1024, pad_token_id=0, cls_token_id=1, bos_token_id=1,
                sep_token_id=2, eos_token_id=2)


def micro():
    """The committed fixture (tests/golden/data/encoder/micro-modernbert): 3 layers (global, local, local)."""
    return dict(tiny(), num_hidden_layers=3, intermediate_size=32, vocab_size=512, max_position_embeddings=512)


def make(a):
    cfg = dict(BASE if a.size == "base" else micro() if a.size == "micro" else tiny())
    if a.biases:
        cfg.update(attention_bias=True, mlp_bias=True, norm_bias=True, classifier_bias=True)
    if a.untied:
        cfg["tie_word_embeddings"] = False
    if a.new_config:
        L, every = cfg["num_hidden_layers"], cfg.pop("global_attn_every_n_layers")
        cfg["layer_types"] = ["sliding_attention" if i % every else "full_attention" for i in range(L)]
        cfg["rope_parameters"] = {"full_attention": {"rope_type": "default", "rope_theta": cfg.pop("global_rope_theta")},
                                  "sliding_attention": {"rope_type": "default",
                                                        "rope_theta": cfg.pop("local_rope_theta")}}
    if a.bare:
        cfg["architectures"] = ["ModernBertModel"]
    g = torch.Generator().manual_seed(a.seed)
    d, f, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]

    def mat(r, c):
        return torch.randn(r, c, generator=g) * 0.02

    def vec(n, scale=0.02, base=0.0):
        return base + torch.randn(n, generator=g) * scale

    t = {}
    P = "" if a.bare else "model."
    # tiny: gains make attention peaky so the window and RoPE matter at width 64; base: plain N(0, 0.02) (with
    # the same gains at width 768, spar's fp32 logits were 3.4e-4 from this float64 reference at 1000 tokens:
    # too peaky to tell rounding from error at 1e-4)
    ga, gm = (1.0, 1.0) if a.size == "base" else (4.0, 3.0)

    def norm(name):
        t[name + ".weight"] = vec(d, 0.1, 1.0)
        if cfg["norm_bias"]:
            t[name + ".bias"] = vec(d, 0.05)

    t[P + "embeddings.tok_embeddings.weight"] = mat(V, d)
    norm(P + "embeddings.norm")
    for i in range(L):
        p = f"{P}layers.{i}."
        if i > 0:
            norm(p + "attn_norm")
        t[p + "attn.Wqkv.weight"] = mat(3 * d, d) * ga
        t[p + "attn.Wo.weight"] = mat(d, d)
        if cfg["attention_bias"]:
            t[p + "attn.Wqkv.bias"] = vec(3 * d)
            t[p + "attn.Wo.bias"] = vec(d)
        norm(p + "mlp_norm")
        t[p + "mlp.Wi.weight"] = mat(2 * f, d) * gm
        t[p + "mlp.Wo.weight"] = mat(d, f)
        if cfg["mlp_bias"]:
            t[p + "mlp.Wi.bias"] = vec(2 * f)
            t[p + "mlp.Wo.bias"] = vec(d)
    norm(P + "final_norm")
    if not a.bare:
        t["head.dense.weight"] = mat(d, d) * gm
        if cfg["classifier_bias"]:
            t["head.dense.bias"] = vec(d)
        norm("head.norm")
        t["decoder.bias"] = vec(V)
        if a.untied:
            t["decoder.weight"] = mat(V, d)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    st_io.write(os.path.join(a.out, "model.safetensors"), t, a.dtype, {"format": "pt"})


def thetas(cfg):
    rp = cfg.get("rope_parameters")
    if rp:
        return rp["full_attention"]["rope_theta"], rp["sliding_attention"]["rope_theta"]
    return cfg.get("global_rope_theta", 160000.0), cfg.get("local_rope_theta", 10000.0)


def layer_is_global(cfg, i):
    if cfg.get("layer_types"):
        return cfg["layer_types"][i] == "full_attention"
    return i % cfg.get("global_attn_every_n_layers", 3) == 0


def rope_cos_sin(theta, dh, n):
    # float32 angles, as transformers computes them, then widened
    inv = 1.0 / (torch.tensor(theta, dtype=torch.float32) ** (torch.arange(0, dh, 2, dtype=torch.int64).float() / dh))
    ang = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos().double(), emb.sin().double()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def forward(cfg, W, ids, mask):
    """ids [B, n] long, mask [B, n] bool. Returns final hidden [B, n, d] and logits [B, n, V] (or None)."""
    B, n = ids.shape
    d, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    dh, eps = d // H, cfg.get("norm_eps", 1e-5)
    P = "model." if "model.embeddings.tok_embeddings.weight" in W else ""

    def ln(x, name):
        return F.layer_norm(x, (d,), W[name + ".weight"], W.get(name + ".bias"), eps)

    def lin(x, name):
        y = x @ W[name + ".weight"].t()
        return y + W[name + ".bias"] if name + ".bias" in W else y

    def act(x, key):
        a = cfg.get(key, "gelu")
        return F.gelu(x) if a == "gelu" else F.relu(x)

    tg, tl = thetas(cfg)
    cs_g, sn_g = rope_cos_sin(tg, dh, n)
    cs_l, sn_l = rope_cos_sin(tl, dh, n)
    pos = torch.arange(n)
    dist = (pos[:, None] - pos[None, :]).abs()
    key_ok = mask[:, None, None, :]                                  # [B,1,1,n]
    local_ok = key_ok & (dist <= cfg.get("local_attention", 128) // 2)[None, None]
    pad_q = ~mask[:, None, :, None]  # padded query rows see every key: finite values, dropped from the outputs
    key_ok, local_ok = key_ok | pad_q, local_ok | pad_q
    x = ln(W[P + "embeddings.tok_embeddings.weight"][ids], P + "embeddings.norm")
    for i in range(L):
        p = f"{P}layers.{i}."
        h = x if i == 0 else ln(x, p + "attn_norm")
        qkv = lin(h, p + "attn.Wqkv").view(B, n, 3, H, dh)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))   # [B,H,n,dh]
        glob = layer_is_global(cfg, i)
        cs, sn = (cs_g, sn_g) if glob else (cs_l, sn_l)
        q = q * cs + rotate_half(q) * sn
        k = k * cs + rotate_half(k) * sn
        s = (q @ k.transpose(-1, -2)) * dh ** -0.5
        s = s.masked_fill(~(key_ok if glob else local_ok), float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, n, d)
        x = x + lin(o, p + "attn.Wo")
        u = lin(ln(x, p + "mlp_norm"), p + "mlp.Wi")
        inp, gate = u.chunk(2, dim=-1)
        x = x + lin(act(inp, "hidden_activation") * gate, p + "mlp.Wo")
    x = ln(x, P + "final_norm")
    if "head.dense.weight" not in W:
        return x, None
    h2 = ln(act(lin(x, "head.dense"), "classifier_activation"), "head.norm")
    dec = W["decoder.weight"] if "decoder.weight" in W else W[P + "embeddings.tok_embeddings.weight"]
    logits = h2 @ dec.t()
    if "decoder.bias" in W:
        logits = logits + W["decoder.bias"]
    return x, logits


def read_ids(path):
    with open(path) as fh:
        return [[int(t) for t in line.split()] for line in fh if line.strip()]


def run(model_dir, ids_file, out_dir):
    with open(os.path.join(model_dir, "config.json")) as fh:
        cfg = json.load(fh)
    W = {k: v.double() for k, v in st_io.read(os.path.join(model_dir, "model.safetensors")).items()}
    seqs = read_ids(ids_file)
    n = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), n, dtype=torch.long)
    mask = torch.zeros(len(seqs), n, dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = True
    with torch.no_grad():
        hid, logits = forward(cfg, W, ids, mask)
    os.makedirs(out_dir, exist_ok=True)
    hs = torch.cat([hid[i, :len(s)] for i, s in enumerate(seqs)])
    hs.float().numpy().astype("<f4").tofile(os.path.join(out_dir, "hidden.f32"))
    if logits is not None:
        lg = [logits[i, :len(s)] for i, s in enumerate(seqs)]
        torch.cat(lg).float().numpy().astype("<f4").tofile(os.path.join(out_dir, "logits.f32"))
        sp = torch.stack([torch.log1p(torch.relu(x)).max(dim=0).values for x in lg])
        sp.float().numpy().astype("<f4").tofile(os.path.join(out_dir, "splade_max.f32"))


def compare(ref_dir, c_dir, tol):
    bad, seen = 0, 0
    for name in ("logits.f32", "hidden.f32", "splade_max.f32"):
        rp, cp = os.path.join(ref_dir, name), os.path.join(c_dir, name)
        if not os.path.exists(rp):
            continue
        seen += 1
        if not os.path.exists(cp):
            print(f"FAIL {c_dir}: {name} missing")
            bad += 1
            continue
        r, c = np.fromfile(rp, dtype="<f4"), np.fromfile(cp, dtype="<f4")
        if r.shape != c.shape:
            print(f"FAIL {c_dir}: {name} has {c.size} values, reference {r.size}")
            bad += 1
            continue
        err = float(np.max(np.abs(r.astype(np.float64) - c))) if r.size else 0.0
        ok = err <= tol and np.all(np.isfinite(c))
        print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(c_dir.rstrip('/'))} {name}: max|delta| {err:.3g} "
              f"(|ref| max {float(np.max(np.abs(r))) if r.size else 0:.3g}, tol {tol:g})")
        bad += 0 if ok else 1
    if seen == 0:
        print(f"FAIL {ref_dir}: no reference outputs")
        bad += 1
    return bad


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "script":  # one command per line of the file, one torch start-up; exit 1 if any failed
        bad = 0
        with open(sys.argv[2]) as fh:
            for line in fh:
                if line.strip():
                    bad += command(line.split()[0], line.split()[1:])
        sys.exit(1 if bad else 0)
    sys.exit(command(sys.argv[1], sys.argv[2:]))


def command(cmd, args):
    """Run one command; returns the number of failed comparisons."""
    if cmd == "make":
        import argparse
        ap = argparse.ArgumentParser(prog="ref_modernbert.py make")
        ap.add_argument("out")
        ap.add_argument("--size", choices=["tiny", "micro", "base"], default="tiny")
        ap.add_argument("--seed", type=int, default=1)
        ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
        ap.add_argument("--biases", action="store_true")
        ap.add_argument("--untied", action="store_true")
        ap.add_argument("--new-config", action="store_true")
        ap.add_argument("--bare", action="store_true")
        make(ap.parse_args(args))
    elif cmd == "ids":
        out, v, seed, lens = args[0], int(args[1]), int(args[2]), [int(x) for x in args[3:]]
        r = random.Random(seed)
        cls, sep = (50281, 50282) if v > 50282 else (1, 2)
        with open(out, "w") as fh:
            for n in lens:
                body = [r.randrange(3, min(v, 50280)) for _ in range(max(0, n - 2))]
                fh.write(" ".join(str(t) for t in ([cls] + body + [sep])[:n]) + "\n")
    elif cmd == "run":
        run(*args[:3])
    elif cmd == "compare":
        return compare(args[0], args[1], float(args[2]))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    main()
