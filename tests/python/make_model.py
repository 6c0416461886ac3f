#!/usr/bin/python3
"""make_model.py - write a random-weight Hugging Face model folder for the spar transformer tests.

  make_model.py OUT_DIR --arch bert|distilbert --size tiny|base [--seed N] [--dtype F32|F16|BF16]
                [--bare] [--untied] [--proj P] [--vocab-src VOCAB_TXT]

Writes config.json (the real bert-base-uncased / distilbert-base-uncased configs for --size base),
model.safetensors with HF tensor names (BertForMaskedLM / DistilBertForMaskedLM, or BertModel /
DistilBertModel with --bare) and vocab.txt (the first vocab_size lines of --vocab-src, else synthetic).
Weights follow HF init scale (N(0, 0.02)) with non-trivial LayerNorm gains/biases so every tensor matters.
"""
import argparse
import json
import os

import torch

import st_io

BERT_BASE = {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": False,
             "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
             "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
             "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0,
             "position_embedding_type": "absolute", "transformers_version": "4.6.0.dev0", "type_vocab_size": 2,
             "use_cache": True, "vocab_size": 30522}
DISTIL_BASE = {"activation": "gelu", "architectures": ["DistilBertForMaskedLM"], "attention_dropout": 0.1, "dim": 768,
               "dropout": 0.1, "hidden_dim": 3072, "initializer_range": 0.02, "max_position_embeddings": 512,
               "model_type": "distilbert", "n_heads": 12, "n_layers": 6, "pad_token_id": 0, "qa_dropout": 0.1,
               "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True, "vocab_size": 30522}


def tiny(arch):
    if arch == "bert":
        c = dict(BERT_BASE, hidden_size=32, intermediate_size=48, num_attention_heads=4, num_hidden_layers=2,
                 max_position_embeddings=512, vocab_size=1000, layer_norm_eps=1e-5)
    else:
        c = dict(DISTIL_BASE, dim=32, hidden_dim=48, n_heads=4, n_layers=2, max_position_embeddings=512, vocab_size=1000)
    return c


def make(cfg, arch, g, bare, untied, proj):
    def mat(r, c):
        return torch.randn(r, c, generator=g) * 0.02

    def vec(n, scale=0.02, base=0.0):
        return base + torch.randn(n, generator=g) * scale

    t = {}
    if arch == "bert":
        d, f, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
        P = "" if bare else "bert."
        t[P + "embeddings.word_embeddings.weight"] = mat(V, d)
        t[P + "embeddings.position_embeddings.weight"] = mat(cfg["max_position_embeddings"], d)
        t[P + "embeddings.token_type_embeddings.weight"] = mat(cfg["type_vocab_size"], d)
        t[P + "embeddings.LayerNorm.weight"] = vec(d, 0.1, 1.0)
        t[P + "embeddings.LayerNorm.bias"] = vec(d, 0.05)
        for i in range(L):
            p = f"{P}encoder.layer.{i}."
            for k in ("query", "key", "value"):
                t[p + f"attention.self.{k}.weight"] = mat(d, d)
                t[p + f"attention.self.{k}.bias"] = vec(d)
            t[p + "attention.output.dense.weight"] = mat(d, d)
            t[p + "attention.output.dense.bias"] = vec(d)
            t[p + "attention.output.LayerNorm.weight"] = vec(d, 0.1, 1.0)
            t[p + "attention.output.LayerNorm.bias"] = vec(d, 0.05)
            t[p + "intermediate.dense.weight"] = mat(f, d)
            t[p + "intermediate.dense.bias"] = vec(f)
            t[p + "output.dense.weight"] = mat(d, f)
            t[p + "output.dense.bias"] = vec(d)
            t[p + "output.LayerNorm.weight"] = vec(d, 0.1, 1.0)
            t[p + "output.LayerNorm.bias"] = vec(d, 0.05)
        if bare:
            t["pooler.dense.weight"] = mat(d, d)
            t["pooler.dense.bias"] = vec(d)
        else:
            t["cls.predictions.transform.dense.weight"] = mat(d, d)
            t["cls.predictions.transform.dense.bias"] = vec(d)
            t["cls.predictions.transform.LayerNorm.weight"] = vec(d, 0.1, 1.0)
            t["cls.predictions.transform.LayerNorm.bias"] = vec(d, 0.05)
            t["cls.predictions.bias"] = vec(V)
            if untied:
                t["cls.predictions.decoder.weight"] = mat(V, d)
    else:
        d, f, V, L = cfg["dim"], cfg["hidden_dim"], cfg["vocab_size"], cfg["n_layers"]
        P = "" if bare else "distilbert."
        t[P + "embeddings.word_embeddings.weight"] = mat(V, d)
        t[P + "embeddings.position_embeddings.weight"] = mat(cfg["max_position_embeddings"], d)
        t[P + "embeddings.LayerNorm.weight"] = vec(d, 0.1, 1.0)
        t[P + "embeddings.LayerNorm.bias"] = vec(d, 0.05)
        for i in range(L):
            p = f"{P}transformer.layer.{i}."
            for k in ("q_lin", "k_lin", "v_lin", "out_lin"):
                t[p + f"attention.{k}.weight"] = mat(d, d)
                t[p + f"attention.{k}.bias"] = vec(d)
            t[p + "sa_layer_norm.weight"] = vec(d, 0.1, 1.0)
            t[p + "sa_layer_norm.bias"] = vec(d, 0.05)
            t[p + "ffn.lin1.weight"] = mat(f, d)
            t[p + "ffn.lin1.bias"] = vec(f)
            t[p + "ffn.lin2.weight"] = mat(d, f)
            t[p + "ffn.lin2.bias"] = vec(d)
            t[p + "output_layer_norm.weight"] = vec(d, 0.1, 1.0)
            t[p + "output_layer_norm.bias"] = vec(d, 0.05)
        if not bare:
            t["vocab_transform.weight"] = mat(d, d)
            t["vocab_transform.bias"] = vec(d)
            t["vocab_layer_norm.weight"] = vec(d, 0.1, 1.0)
            t["vocab_layer_norm.bias"] = vec(d, 0.05)
            t["vocab_projector.bias"] = vec(V)
            if untied:
                t["vocab_projector.weight"] = mat(V, d)
    if proj:
        t["linear.weight"] = mat(proj, d)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arch", choices=["bert", "distilbert"], default="bert")
    ap.add_argument("--size", choices=["tiny", "base"], default="tiny")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--bare", action="store_true")
    ap.add_argument("--untied", action="store_true")
    ap.add_argument("--proj", type=int, default=0)
    ap.add_argument("--vocab-src", default=None)
    ap.add_argument("--max-pos", type=int, default=0, help="override max_position_embeddings (tiny fixtures)")
    a = ap.parse_args()
    cfg = (BERT_BASE if a.arch == "bert" else DISTIL_BASE) if a.size == "base" else tiny(a.arch)
    cfg = dict(cfg)
    if a.max_pos:
        cfg["max_position_embeddings"] = a.max_pos
    if a.bare:
        cfg["architectures"] = ["BertModel" if a.arch == "bert" else "DistilBertModel"]
    g = torch.Generator().manual_seed(a.seed)
    tensors = make(cfg, a.arch, g, a.bare, a.untied, a.proj)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    st_io.write(os.path.join(a.out, "model.safetensors"), tensors, a.dtype, {"format": "pt"})
    V = cfg["vocab_size"]
    lines = []
    if a.vocab_src and os.path.exists(a.vocab_src):
        with open(a.vocab_src, encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f][:V]
    if len(lines) < V:
        lines += [f"[unused_tok{i}]" for i in range(len(lines), V)]
    with open(os.path.join(a.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
