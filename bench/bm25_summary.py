#!/usr/bin/python3
"""bench/bm25_summary.py — helper of bench/run_bm25.sh.

  bm25_summary.py --normalise-spar < bench_query output
      Reads bench/bench_query's JSON lines and rewrites each summary line into run_bm25's schema
      {"engine":"spar","op":"search","k","threads","queries","p50_us","p99_us","mean_us","qps"} (per-query lines,
      if any, are dropped).
  bm25_summary.py --out DIR RAW.jsonl
      Medians over rounds per (engine, dataset, op, threads, k, postings) -> DIR/summary.jsonl, and the
      side-by-side markdown table with spar/Lucene ratios -> DIR/table.md (also printed).
"""
import json
import os
import statistics
import sys

ALIASES = {  # bench_query key -> our key
    "p50_us": ("p50_us", "median_us", "lat_p50_us", "latency_p50_us"),
    "p99_us": ("p99_us", "lat_p99_us", "latency_p99_us"),
    "mean_us": ("mean_us", "avg_us", "lat_mean_us"),
    "qps": ("qps", "throughput_qps", "queries_per_s"),
    "k": ("k",),
    "threads": ("threads", "n_threads"),
    "queries": ("queries", "n_queries"),
}


def pick(o, key):
    for a in ALIASES[key]:
        if a in o:
            return o[a]
    for a in ALIASES[key]:  # ms variants
        am = a.replace("_us", "_ms")
        if am in o and am != a:
            return o[am] * 1000.0
    return None


def normalise_spar():
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        if "qid" in o or "query" in o or o.get("type") == "query":
            continue  # per-query line
        p50 = pick(o, "p50_us")
        if p50 is None:
            continue
        r = {"engine": "spar", "op": "search"}
        for key in ("k", "threads", "queries", "p50_us", "p99_us", "mean_us", "qps"):
            r[key] = pick(o, key)
        for key in ("p99_qmed_us", "cpu_p50_us", "cpu_p99_us"):
            if key in o:
                r[key] = o[key]
        for extra in ("algo", "avg_hits"):
            if extra in o:
                r[extra] = o[extra]
        print(json.dumps(r))


NUM = ("docs_per_s", "docs_per_s_with_merge", "index_s", "merge_s", "total_s", "index_bytes", "p50_us", "p99_us",
       "mean_us", "qps", "cpu_s", "p99_qmed_us", "cpu_p50_us", "cpu_p99_us")


def summarise(out, raw):
    groups = {}
    for line in open(raw):
        o = json.loads(line)
        key = (o["engine"], o["dataset"], o["op"], o.get("threads"), o.get("k"), o.get("postings", ""))
        groups.setdefault(key, []).append(o)
    summ = {}
    byround = {}  # (engine, ds, op, t, k, postings, round) -> row
    for key, rows in groups.items():
        for o in rows:
            byround[key + (o.get("round"),)] = o
    with open(os.path.join(out, "summary.jsonl"), "w") as f:
        for key, rows in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
            s = {"engine": key[0], "dataset": key[1], "op": key[2], "threads": key[3], "k": key[4], "rounds": len(rows)}
            if key[5]:
                s["postings"] = key[5]
            for m in NUM:
                vals = [r[m] for r in rows if r.get(m) is not None]
                if vals:
                    s[m] = statistics.median(vals)
            summ[key] = s
            f.write(json.dumps(s) + "\n")
            print(json.dumps(s))

    def get(engine, ds, op, t, k, post, m):
        s = summ.get((engine, ds, op, t, k, post))
        return None if s is None else s.get(m)

    def fmt(v, spec):
        return "n/a" if v is None else spec % v

    lines = []
    datasets = sorted({k[1] for k in summ})
    threads = sorted({k[3] for k in summ if k[3] is not None})
    lines.append("| dataset | threads | metric | Lucene 8 | spar | spar / Lucene | per-round ratios | target | verdict |")
    lines.append("|---|---|---|---|---|---|---|---|---|")

    def round_ratios(ds, t, k, lpost, m_l, m_s):
        out = []
        for (e, d, op, tt, kk, post, rnd), o in sorted(byround.items(), key=lambda kv: str(kv[0])):
            if e != "lucene" or d != ds or tt != t or kk != k or post != lpost or o.get(m_l) is None:
                continue
            so = byround.get(("spar", ds, op, t, k, "", rnd))
            if so is not None and so.get(m_s) is not None and o[m_l]:
                out.append(so[m_s] / o[m_l])
        return " ".join("%.2f" % x for x in out) if out else "n/a"

    cur = {}

    def row(ds, t, metric, lv, sv, spec, target, better_low, worse="spar slower than Lucene", rr="n/a"):
        ratio = sv / lv if lv and sv is not None else None
        if ratio is None:
            verdict = "n/a"
        elif better_low:
            verdict = "meets" if ratio <= target else ("**misses** (%s)" % worse if ratio > 1 else "**misses**")
        else:
            verdict = "meets" if ratio >= target else ("**misses** (%s)" % worse if ratio < 1 else "**misses**")
        tgt = ("<= %.2fx" if better_low else ">= %.2fx") % target
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (ds, t, metric, fmt(lv, spec), fmt(sv, spec),
                                                                      fmt(ratio, "%.2f"), rr, tgt, verdict))

    for ds in datasets:
        for t in threads:
            row(ds, t, "indexing docs/s (Lucene incl. forceMerge)", get("lucene", ds, "index", t, None, "positions",
                "docs_per_s_with_merge"), get("spar", ds, "index", t, None, "", "docs_per_s_with_merge"), "%.0f", 2.0,
                False, rr=round_ratios(ds, t, None, "positions", "docs_per_s_with_merge", "docs_per_s_with_merge"))
            row(ds, t, "indexing docs/s (Lucene without merge)", get("lucene", ds, "index", t, None, "positions",
                "docs_per_s"), get("spar", ds, "index", t, None, "", "docs_per_s_with_merge"), "%.0f", 2.0, False,
                rr=round_ratios(ds, t, None, "positions", "docs_per_s", "docs_per_s_with_merge"))
            row(ds, t, "indexing CPU seconds, whole process", get("lucene", ds, "index", t, None, "positions",
                "cpu_s"), get("spar", ds, "index", t, None, "", "cpu_s"), "%.1f", 0.5, True, "spar uses more CPU",
                rr=round_ratios(ds, t, None, "positions", "cpu_s", "cpu_s"))
            if t == threads[0]:
                row(ds, t, "index bytes (Lucene TextField, positions)", get("lucene", ds, "index", t, None, "positions",
                    "index_bytes"), get("spar", ds, "index", t, None, "", "index_bytes"), "%.0f", 1.0, True,
                    "spar index larger than Lucene's")
                row(ds, t, "index bytes (Lucene docs+freqs only)", get("lucene", ds, "index", t, None, "freqs",
                    "index_bytes"), get("spar", ds, "index", t, None, "", "index_bytes"), "%.0f", 1.0, True,
                    "spar index larger than Lucene's")
            for k in sorted({key[4] for key in summ if key[4] is not None}):
                for m, name in (("p50_us", "median"), ("p99_us", "p99"),
                                ("p99_qmed_us", "p99 of per-query medians over passes"),
                                ("cpu_p50_us", "median, thread CPU time"), ("cpu_p99_us", "p99, thread CPU time")):
                    if get("lucene", ds, "search", t, k, "", m) is None or get("spar", ds, "search", t, k, "", m) is None:
                        continue
                    row(ds, t, "top-%d latency %s (us)" % (k, name), get("lucene", ds, "search", t, k, "", m),
                        get("spar", ds, "search", t, k, "", m), "%.0f", 0.5, True, rr=round_ratios(ds, t, k, "", m, m))
                row(ds, t, "top-%d throughput (queries/s)" % k, get("lucene", ds, "search", t, k, "", "qps"),
                    get("spar", ds, "search", t, k, "", "qps"), "%.0f", 2.0, False,
                    rr=round_ratios(ds, t, k, "", "qps", "qps"))
    table = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table)
    print()
    print(table)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--normalise-spar":
        normalise_spar()
    elif len(sys.argv) == 4 and sys.argv[1] == "--out":
        summarise(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
