#!/usr/bin/python3
"""bench/ndcg.py — independent cross-check of `spar eval`: nDCG@10 and recall@1000 of a TREC run against BEIR qrels,
with trec_eval's definitions (ndcg_cut.10: gain = judged relevance, discount log2(rank+1), ideal = the best ordering
of all judged docs; per query the run is re-sorted by score desc, ties by docid desc). Averaged over the queries in
the qrels that have >= 1 relevant doc (a query with no retrieved docs scores 0, as `trec_eval -c`).
Usage: bench/ndcg.py QRELS.tsv RUN.trec   -> prints one JSON object."""
import json
import math
import sys
from collections import defaultdict


def main(qrels_path, run_path):
    qrels = defaultdict(dict)
    with open(qrels_path) as f:
        for i, line in enumerate(f):
            p = line.split()
            if not p or (i == 0 and not p[-1].lstrip("-").isdigit()):
                continue
            if len(p) == 4:  # TREC: qid 0 docid rel
                p = [p[0], p[2], p[3]]
            qrels[p[0]][p[1]] = int(p[2])
    run = defaultdict(list)
    with open(run_path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 6:
                run[p[0]].append((float(p[4]), p[2]))
    nd, rc, n = 0.0, 0.0, 0
    for q, judged in qrels.items():
        rel = {d: g for d, g in judged.items() if g > 0}
        if not rel:
            continue
        n += 1
        docs = [d for s, d in sorted(run.get(q, []), key=lambda x: (x[0], x[1]), reverse=True)]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        nd += dcg / idcg
        rc += len(set(docs[:1000]) & rel.keys()) / len(rel)
    print(json.dumps({"queries": n, "ndcg_10": round(nd / max(n, 1), 4), "recall_1000": round(rc / max(n, 1), 4)}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
