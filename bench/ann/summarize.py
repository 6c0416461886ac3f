#!/usr/bin/env python3
"""bench/ann/summarize.py — turn bench_ann / hnswlib_bench / faiss_bench JSON lines into markdown tables.

For every (index, data, engine) the sweep points (ef or nprobe) are reduced to medians over repetitions,
and QPS at a recall target is log-linearly interpolated between the two points that bracket it ("-" when
the sweep never reached the target). Build seconds are medians. Ratios are spar / peer."""
import json, math, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
builds = defaultdict(list)
pts = defaultdict(lambda: defaultdict(list))
flat = defaultdict(list)
for r in rows:
    if "data" not in r or "engine" not in r:
        continue
    idx = r.get("index", "hnsw")
    key = (idx, r["data"].rstrip("/").split("/")[-1], r["engine"])
    if r.get("op") == "build":
        builds[key + (r.get("threads", 1),)].append(r["seconds"])
    elif r.get("op") == "search":
        knob = r.get("ef", r.get("nprobe"))
        pts[key][knob].append((r["recall10"], r["qps_1t"], r.get("qps_2t")))
    elif r.get("op") == "binary_flat":
        flat[(r["data"].rstrip("/").split("/")[-1], r["engine"])].append(r["qps_1t"])


def at(curve, target):
    c = sorted(curve)
    if c and c[0][0] >= target:
        return max(q for r, q in c if r >= target)
    for (r0, q0), (r1, q1) in zip(c, c[1:]):
        if r0 <= target <= r1 and r1 > r0:
            t = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    return float("nan")


def fmt(x):
    return "-" if x != x else f"{x:,.0f}"


summary = {}
print("| index | data | engine | build s (1 thread) | QPS @R0.90 | QPS @R0.95 | QPS @R0.99 | 2-thread QPS @R0.95 |")
print("|---|---|---|---|---|---|---|---|")
for key in sorted(pts):
    c1 = [(statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for v in pts[key].values()]
    c2 = [(statistics.median(x[0] for x in v), statistics.median(x[2] for x in v))
          for v in pts[key].values() if all(x[2] for x in v)]
    b = builds.get(key + (1,))
    q = [at(c1, t) for t in (0.90, 0.95, 0.99)]
    summary[key] = (q, statistics.median(b) if b else float("nan"))
    print(f"| {key[0]} | {key[1]} | {key[2]} | {summary[key][1]:.1f} | {fmt(q[0])} | {fmt(q[1])} | {fmt(q[2])} | "
          f"{fmt(at(c2, 0.95)) if c2 else '-'} |")
print()
for key, (q, b) in sorted(summary.items()):
    if key[2] != "spar":
        continue
    for peer in ("hnswlib-native", "faiss-debian"):
        p = summary.get((key[0], key[1], peer))
        if p:
            r = [a / c if c == c and c else float("nan") for a, c in zip(q, p[0])]
            print(f"- {key[0]} {key[1]}: spar/{peer} QPS @0.90 {r[0]:.2f}, @0.95 {r[1]:.2f}, @0.99 {r[2]:.2f}; "
                  f"build time ratio {b / p[1]:.2f}")
for (data, eng), v in sorted(flat.items()):
    print(f"- binary flat scan, 256-bit, {data}: {eng} median {statistics.median(v):,.0f} QPS over {len(v)} runs")

# IVF-PQ + re-rank against IVF-Flat at the same nprobe (the target: the same recall within 1.15x
# the latency): one row per (data, nprobe) present for both.
ivf_rows = []
for (idx, data, eng), byknob in sorted(pts.items()):
    if idx != "ivf-flat" or eng != "spar":
        continue
    pq = pts.get(("ivf-pq", data, "spar"))
    if not pq:
        continue
    for npb in sorted(byknob):
        if npb not in pq:
            continue
        rf, qf = statistics.median(x[0] for x in byknob[npb]), statistics.median(x[1] for x in byknob[npb])
        rp, qp = statistics.median(x[0] for x in pq[npb]), statistics.median(x[1] for x in pq[npb])
        ivf_rows.append((data, npb, rf, qf, rp, qp))
if ivf_rows:
    print("\n| data | nprobe | IVF-Flat recall | IVF-Flat QPS | IVF-PQ+re-rank recall | IVF-PQ QPS | PQ latency / Flat latency | target met |")
    print("|---|---|---|---|---|---|---|---|")
    for data, npb, rf, qf, rp, qp in ivf_rows:
        ok = rp >= rf - 1e-9 and qf / qp <= 1.15
        print(f"| {data} | {npb} | {rf:.4f} | {qf:,.0f} | {rp:.4f} | {qp:,.0f} | {qf / qp:.2f} | {'yes' if ok else 'no'} |")
