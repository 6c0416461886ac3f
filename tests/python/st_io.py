"""st_io.py - minimal safetensors reader/writer for the spar transformer tests (no `safetensors` package).

write(path, {name: torch.Tensor}, dtype) writes the HF layout: u64 LE header length, space-padded JSON
header (8-byte aligned data), tensors back to back in name order. read(path) returns {name: float32 tensor}.
"""
import json
import struct

import torch

_DT = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def write(path, tensors, dtype="F32", metadata=None):
    tdt, size = _DT[dtype]
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(tdt).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if size == 2 else t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - (len(hj) % 8)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        tdt, _ = _DT[e["dtype"]]
        b, en = e["data_offsets"]
        raw = bytearray(buf[8 + n + b:8 + n + en])
        if tdt == torch.float32:
            t = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
        else:
            t = torch.frombuffer(raw, dtype=torch.int16).view(tdt).float() if raw else torch.zeros(0)
        out[name] = t.reshape(e["shape"]).clone()
    return out
