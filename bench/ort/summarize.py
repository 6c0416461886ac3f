#!/usr/bin/python3
"""summarize.py - median-of-rounds table (markdown) from bench_ort.js JSON lines.

  summarize.py RESULTS.jsonl [...]

One row per (model, graph, len, batch): rounds, seq/s of each engine, the wall-time ratio spar/ORT (> 1: spar
faster), GFLOP/s, OpenBLAS sgemm GFLOP/s measured in the same run, the CPU seconds each engine's process used per
run (user + system, all threads) and their ratio ORT/spar (> 1: spar used less CPU), the pruned ratio and skip
rate when measured, and spar's peak RSS. Lines without a "round" (summaries, start-up lines) are ignored.
"""
import json
import statistics
import sys

rows = {}
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if "round" not in r:
                continue
            rows.setdefault((r["model"], r["graph"], r["len"], r["batch"]), []).append(r)

print("| model | graph | len | batch | rounds | spar seq/s | ORT seq/s | spar/ORT (wall) | spar GFLOP/s | ORT GFLOP/s | "
      "sgemm GFLOP/s | spar CPU-s/run | ORT CPU-s/run | spar/ORT (CPU) | pruned spar/ORT (rows skipped) | spar peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for k in sorted(rows, key=lambda k: (k[0], k[1], k[3], k[2])):
    rs = rows[k]

    def med(f):
        vals = [f(x) for x in rs if f(x) is not None]
        return statistics.median(vals) if vals else None
    cpu = med(lambda x: x.get("spar_cpu_s"))
    cells = [k[0], k[1], str(k[2]), str(k[3]), str(len(rs)), f"{med(lambda x: x['spar_seq_s']):.2f}",
             f"{med(lambda x: x['ort_seq_s']):.2f}", f"{med(lambda x: x['ratio']):.2f}x",
             f"{med(lambda x: x['spar_gflops']):.1f}", f"{med(lambda x: x['ort_gflops']):.1f}",
             f"{med(lambda x: x['sgemm_gflops']):.1f}"]
    if cpu is not None:
        cells += [f"{cpu:.3f}", f"{med(lambda x: x['ort_cpu_s']):.3f}", f"{med(lambda x: x['cpu_ratio']):.2f}x"]
    else:
        cells += ["-", "-", "-"]
    pr = med(lambda x: x.get("pruned_ratio"))
    cells.append(f"{pr:.2f}x ({100 * med(lambda x: x['pruned_skipped']):.1f}%)" if pr is not None else "-")
    cells.append(f"{max(x.get('spar_max_rss_mb', 0) for x in rs):.0f}")
    print("| " + " | ".join(cells) + " |")
