#!/usr/bin/env python3
"""bench/ann/summarize.py — turn bench_ann/hnswlib_bench JSON lines into a markdown table.
QPS at a recall target is log-linearly interpolated between the two ef points that bracket it (medians
over repetitions per (engine, data, ef)); build seconds are medians of the 1-thread builds."""
import json, math, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
builds = defaultdict(list); pts = defaultdict(lambda: defaultdict(list)); binq = defaultdict(list)
for r in rows:
    if r.get("op") == "build": builds[(r["engine"], r["data"], r["threads"])].append(r["seconds"])
    if r.get("op") == "search": pts[(r["engine"], r["data"])][r["ef"]].append((r["recall10"], r["qps_1t"], r["qps_2t"]))
    if r.get("op") == "binary_flat": binq[(r["engine"], r["data"])].append(r["qps_1t"])

def at(curve, target, col):
    c = sorted(curve)
    for (r0, q0), (r1, q1) in zip(c, c[1:]):
        if r0 <= target <= r1 and r1 > r0:
            t = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    return float("nan")

print("| data | engine | build s (1t) | build s (2t) | QPS@0.90 | QPS@0.95 | QPS@0.99 | 2t QPS@0.95 |")
print("|---|---|---|---|---|---|---|---|")
summary = {}
for (eng, data), efs in sorted(pts.items()):
    c1 = [(statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for ef, v in efs.items() if len(v) > 1 or True]
    c2 = [(statistics.median(x[0] for x in v), statistics.median(x[2] for x in v)) for ef, v in efs.items()]
    b1 = builds.get((eng, data, 1)); b2 = builds.get((eng, data, 2))
    q = [at(c1, t, 1) for t in (0.90, 0.95, 0.99)]
    summary[(eng, data)] = q + [statistics.median(b1) if b1 else float("nan")]
    print(f"| {data.split('/')[-1]} | {eng} | {statistics.median(b1) if b1 else float('nan'):.1f} | "
          f"{statistics.median(b2) if b2 else float('nan'):.1f} | {q[0]:.0f} | {q[1]:.0f} | {q[2]:.0f} | {at(c2, 0.95, 2):.0f} |")
print()
for (eng, data), q in sorted(summary.items()):
    if eng != "spar": continue
    p = summary.get(("hnswlib-native", data))
    if p: print(f"- {data.split('/')[-1]}: spar/hnswlib QPS ratio @0.90 {q[0]/p[0]:.2f}, @0.95 {q[1]/p[1]:.2f}, "
                f"@0.99 {q[2]/p[2]:.2f}; build time ratio {q[3]/p[3]:.2f}")
for (eng, data), v in sorted(binq.items()):
    print(f"- binary flat 256-bit {data.split('/')[-1]}: {eng} median {statistics.median(v):.0f} QPS")
