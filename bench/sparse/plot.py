#!/usr/bin/python3
"""plot.py — recall@10 vs single-thread median latency of the approximate (Seismic-class) search, from the
JSON lines written by bench_sparse (one file per corpus/build setting), plus a markdown table per file.
Latency on the plot is the median thread CPU time per query when the file has it (cpu_median_ms), else wall.

    /usr/bin/python3 bench/sparse/plot.py --out bench/sparse/recall_latency.png \
        'topical 1M=bench/sparse/results/topical-1M.jsonl' 'indep 1M=bench/sparse/results/indep-1M.jsonl'

Each argument is LABEL=FILE. The exact BMP search of each file is drawn as a star (recall 1). The table
columns: knobs, recall@10, median and p99 latency (1 thread), batch QPS (threads as run), docs scored, and
the index bytes / build seconds of the approximate part from the file's build line."""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def cpu(r):
    if "cpu_median_ms" not in r:
        return "- | -"
    return f"{r['cpu_median_ms']:.3f} | {r['cpu_p99_ms']:.2f}"


def lat(r):
    """the plotted latency: thread CPU time when recorded (not inflated by preemption), else wall"""
    return r.get("cpu_median_ms", r["median_ms"])


def table(label, rows):
    build = next((r for r in rows if r.get("setting") == "build"), {})
    how = (f"loaded from a saved index in {build.get('build_s', 0):.0f} s" if build.get("loaded") else
           f"build {build.get('build_s', 0):.0f} s (approximate part {build.get('approx_build_s', 0):.0f} s)")
    out = [f"**{label}**: approximate part {build.get('bytes_approx', 0) / 1e9:.2f} GB "
           f"({build.get('approx_summary_nnz', 0) / 1e6:.0f} M summary entries, "
           f"{build.get('approx_blocks', 0) / 1e6:.2f} M blocks), {how}", "",
           "| method | knobs | recall@10 | median ms (CPU) | p99 ms (CPU) | median ms (wall) | p99 ms (wall) | "
           "batch QPS | docs scored |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r.get("setting")
        if s == "bmp":
            out.append(f"| BMP exact | bmp_block {build.get('bmp_block', '')} | 1 | {cpu(r)} | {r['median_ms']:.3f} | "
                       f"{r['p99_ms']:.2f} | {r['batch_qps']:.0f} ({r['batch_threads']} thr) | "
                       f"{r['docs_scored_avg']:,.0f} |")
        elif s == "seismic":
            out.append(f"| Seismic | e {r['summary_energy']:g}, qc {r['query_cut']}, hf {r['heap_factor']:g} | "
                       f"{r['recall_at_k']:.4f} | {cpu(r)} | {r['median_ms']:.3f} | {r['p99_ms']:.2f} | "
                       f"{r['batch_qps']:.0f} ({r['batch_threads']} thr) | {r['docs_scored_avg']:,.0f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="Learned-sparse top-10 at 1M docs: recall vs latency (1 thread, median)")
    ap.add_argument("runs", nargs="+", help="LABEL=FILE.jsonl")
    a = ap.parse_args()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for i, run in enumerate(a.runs):
        label, path = run.split("=", 1)
        rows = load(path)
        color = f"C{i}"
        pts = sorted((lat(r), r["recall_at_k"], r) for r in rows if r.get("setting") == "seismic")
        if pts:
            front, best = [], -1.0  # Pareto frontier: no faster point has higher recall
            for x, y, _ in pts:
                if y > best:
                    front.append((x, y))
                    best = y
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", color=color, label=f"{label}: Seismic")
            ax.plot([p[0] for p in front], [p[1] for p in front], "-", color=color, alpha=0.6)
            for x, y, r in pts:
                ax.annotate(f"{r['query_cut']}/{r['heap_factor']:g}", (x, y), fontsize=7,
                            xytext=(3, -9), textcoords="offset points", color=color)
        for r in rows:
            if r.get("setting") == "bmp":
                ax.plot([lat(r)], [1.0], "*", ms=12, color=color, label=f"{label}: BMP exact")
        print(table(label, rows))
        print()
    ax.axhline(0.95, color="grey", lw=0.8, ls="--")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("median time per query, ms (1 thread, CPU time where recorded)\nlabels: query_cut/heap_factor", fontsize=9)
    ax.set_ylabel("recall@10 vs exhaustive top-10")
    ax.set_title(a.title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
