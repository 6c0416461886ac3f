#!/usr/bin/python3
"""bench/ann/plot.py — recall@10 vs single-thread QPS curves from a bench/ann/run.sh result file.
Usage: bench/ann/plot.py RESULTS.jsonl OUT.png   (needs Debian's python3-matplotlib; run with /usr/bin/python3)
One panel per data set; one line per (index, engine); medians over repetitions at each sweep point."""
import json, statistics, sys
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

pts = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r.get("op") != "search" or "data" not in r:
        continue
    key = (r["data"].rstrip("/").split("/")[-1], r.get("index", "hnsw"), r["engine"])
    pts[key][r.get("ef", r.get("nprobe"))].append((r["recall10"], r["qps_1t"]))

datasets = sorted({k[0] for k in pts})
fig, axes = plt.subplots(1, len(datasets), figsize=(7 * len(datasets), 5), squeeze=False)
for ax, ds in zip(axes[0], datasets):
    for (d, index, engine), sweep in sorted(pts.items()):
        if d != ds:
            continue
        curve = sorted((statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for v in sweep.values())
        style = "-" if engine == "spar" else "--"
        ax.plot([c[0] for c in curve], [c[1] for c in curve], style, marker="o", ms=3, label=f"{index} / {engine}")
    ax.set_yscale("log")
    ax.set_xlim(0.8, 1.001)
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries/s, 1 thread (log)")
    ax.set_title(ds)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print("wrote", sys.argv[2])
