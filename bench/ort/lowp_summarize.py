#!/usr/bin/env python3
"""lowp_summarize.py OUT.jsonl — median table of lowp_bench.sh output: per (model, len, batch) the median over
rounds of seq/s (wall) and CPU seconds per run for fp32 (Haswell and SkylakeX OpenBLAS kernels), bf16 and int8,
for the encoder and for encoder + SPLADE head, and the bf16 / int8 speed-ups against both fp32 figures
(ratios of medians; wall and CPU)."""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = defaultdict(list)
loads = []
for r in rows:
    key = (r["model"], r["len"], r["batch"])
    tag = "f32-" + r["blas"] if r["weights"] == "f32" else r["weights"]
    by[key + (tag,)].append(r)
    loads.append(r.get("load", 0))
print(f"{len(rows)} runs, load average {min(loads):.1f}-{max(loads):.1f}")
for graph in ("encoder", "splade"):
    print(f"\n{graph}: seq/s (median wall) | CPU-s per run | bf16, int8 speed-up vs f32-Haswell / f32-SkylakeX (wall; CPU)")
    print("| model | len | batch | rounds | f32 Haswell seq/s | f32 SkylakeX seq/s | bf16 seq/s | int8 seq/s | "
          "f32-H CPU-s | f32-S CPU-s | bf16 CPU-s | int8 CPU-s | bf16 vs H / S (wall) | int8 vs H / S (wall) | "
          "bf16 vs H / S (CPU) | int8 vs H / S (CPU) |")
    print("|" + "---|" * 17)
    for key in sorted({k[:3] for k in by}, key=lambda k: (k[0], k[2], k[1])):
        med = {}
        cpu = {}
        n = 0
        for tag in ("f32-Haswell", "f32-SkylakeX", "bf16", "int8"):
            rs = by.get(key + (tag,), [])
            if not rs:
                continue
            n = max(n, len(rs))
            med[tag] = statistics.median(r[f"{graph}_s"] for r in rs)
            cpu[tag] = statistics.median(r[f"{graph}_cpu_s"] for r in rs)
        if "bf16" not in med:
            continue
        b = key[2]
        f = lambda t: f"{b / med[t]:.2f}" if t in med else "-"
        c = lambda t: f"{cpu[t]:.3f}" if t in cpu else "-"
        def ratio(t, d):
            h = med.get("f32-Haswell"), med.get("f32-SkylakeX")
            x = "/".join(f"{hh / med[t]:.2f}x" if hh else "-" for hh in h) if t in med else "-"
            return x if d == "wall" else "/".join(
                f"{cc / cpu[t]:.2f}x" if cc else "-" for cc in (cpu.get("f32-Haswell"), cpu.get("f32-SkylakeX")))
        print(f"| {key[0]} | {key[1]} | {key[2]} | {n} | {f('f32-Haswell')} | {f('f32-SkylakeX')} | {f('bf16')} | "
              f"{f('int8')} | {c('f32-Haswell')} | {c('f32-SkylakeX')} | {c('bf16')} | {c('int8')} | "
              f"{ratio('bf16', 'wall')} | {ratio('int8', 'wall')} | {ratio('bf16', 'cpu')} | {ratio('int8', 'cpu')} |")
