#!/usr/bin/python3
"""bench/ann/faiss_bench.py — faiss peer for bench_ann (Debian python3-faiss 1.7.3, run with /usr/bin/python3).

Reads the files `bench_ann gen` wrote and prints JSON lines in bench_ann's shape. All searches run on ONE
thread (omp_set_num_threads(1)) and are batched (all queries in one call), as faiss is normally used.
Debian's faiss build is generic x86-64 (no AVX2/popcnt), which is why the issue says to report it but not
to aim at it; hnswlib compiled -march=native is the fair HNSW peer.

  faiss_bench.py DIR binary NLIST np1,np2,...     IndexBinaryFlat, IndexBinaryIVF, IndexBinaryHNSW
  faiss_bench.py DIR float  NLIST PQ_M np1,...    IndexIVFFlat, IndexIVFPQ (+ IndexRefineFlat re-rank)
  faiss_bench.py DIR hnsw   M EFC ef1,ef2,...     IndexHNSWFlat, and Debian's python3-hnswlib when installed
                                                  (both generic builds: reported, not aimed at)
"""
import json, os, sys, time
import numpy as np
import faiss

faiss.omp_set_num_threads(1)
d, mode = sys.argv[1], sys.argv[2]


def fvecs(p):
    a = np.fromfile(p, dtype=np.int32)
    dim = a[0]
    return a.reshape(-1, dim + 1)[:, 1:].view(np.float32).copy()


def out(**kw):
    kw.update(engine="faiss-debian", data=d)
    print(json.dumps(kw), flush=True)


# ANN_CPUTIME=1 (as for bench_ann / hnswlib_bench): this thread's CPU clock instead of the wall clock
clock = time.thread_time if os.environ.get("ANN_CPUTIME") == "1" else time.perf_counter


def timed(fn, reps=3):
    best = 1e30
    for _ in range(reps):
        t = clock(); r = fn(); best = min(best, clock() - t)
    return best, r


if mode == "binary":
    nlist, nps = int(sys.argv[3]), [int(x) for x in sys.argv[4].split(",")]
    B = np.fromfile(d + "/base.bin256", dtype=np.uint8).reshape(-1, 32)
    Q = np.fromfile(d + "/query.bin256", dtype=np.uint8).reshape(-1, 32)
    flat = faiss.IndexBinaryFlat(256); flat.add(B)
    t, (D0, I0) = timed(lambda: flat.search(Q, 10))
    out(op="binary_flat", n=len(B), qps_1t=len(Q) / t)
    kth = D0[:, 9:10]
    def rec(D):
        return float((D <= kth).sum()) / D0.size
    q = faiss.IndexBinaryFlat(256)
    ivf = faiss.IndexBinaryIVF(q, 256, nlist)
    t0 = clock(); ivf.train(B); ivf.add(B); tb = clock() - t0
    out(op="build", index="binary-ivf", n=len(B), nlist=nlist, threads=1, seconds=tb)
    for npb in nps:
        ivf.nprobe = npb
        t, (D, I) = timed(lambda: ivf.search(Q, 10))
        out(op="search", index="binary-ivf", nprobe=npb, recall10=rec(D), qps_1t=len(Q) / t)
    h = faiss.IndexBinaryHNSW(256, 16)
    h.hnsw.efConstruction = 200
    t0 = clock(); h.add(B); tb = clock() - t0
    out(op="build", index="binary-hnsw", n=len(B), threads=1, seconds=tb)
    for ef in (10, 16, 24, 32, 48, 64, 96, 128, 192, 256):
        h.hnsw.efSearch = ef
        t, (D, I) = timed(lambda: h.search(Q, 10))
        out(op="search", index="binary-hnsw", ef=ef, recall10=rec(D), qps_1t=len(Q) / t)
elif mode == "hnsw":
    M, efc, efs = int(sys.argv[3]), int(sys.argv[4]), [int(x) for x in sys.argv[5].split(",")]
    X, Q = fvecs(d + "/base.fvecs"), fvecs(d + "/query.fvecs")
    gt = np.fromfile(d + "/gt.ivecs", dtype=np.int32).reshape(len(Q), 101)[:, 1:11]
    def rec(I):
        return float(sum(len(set(a) & set(b)) for a, b in zip(I, gt))) / gt.size
    h = faiss.IndexHNSWFlat(X.shape[1], M)
    h.hnsw.efConstruction = efc
    t0 = clock(); h.add(X); tb = clock() - t0
    out(op="build", index="hnsw", n=len(X), M=M, efc=efc, threads=1, seconds=tb)
    for ef in efs:
        h.hnsw.efSearch = ef
        t, (D, I) = timed(lambda: h.search(Q, 10))
        out(op="search", index="hnsw", ef=ef, recall10=rec(I), qps_1t=len(Q) / t)
    try:
        import hnswlib  # Debian python3-hnswlib (generic build)
    except ImportError:
        hnswlib = None
    if hnswlib is not None:
        p = hnswlib.Index(space="l2", dim=X.shape[1])
        p.init_index(max_elements=len(X), ef_construction=efc, M=M, random_seed=100)
        p.set_num_threads(1)
        t0 = clock(); p.add_items(X, np.arange(len(X))); tb = clock() - t0
        print(json.dumps(dict(engine="hnswlib-debian-python", data=d, op="build", index="hnsw", n=len(X), M=M,
                              efc=efc, threads=1, seconds=tb)), flush=True)
        for ef in efs:
            p.set_ef(ef)
            def one_by_one():  # single queries, as hnswlib-native and spar are timed
                return np.vstack([p.knn_query(q.reshape(1, -1), k=10)[0] for q in Q])
            t, I = timed(one_by_one, reps=1)
            print(json.dumps(dict(engine="hnswlib-debian-python", data=d, op="search", index="hnsw", ef=ef,
                                  recall10=rec(I), qps_1t=len(Q) / t)), flush=True)
else:
    nlist, pqm, nps = int(sys.argv[3]), int(sys.argv[4]), [int(x) for x in sys.argv[5].split(",")]
    X, Q = fvecs(d + "/base.fvecs"), fvecs(d + "/query.fvecs")
    gt = np.fromfile(d + "/gt.ivecs", dtype=np.int32).reshape(len(Q), 101)[:, 1:11]
    def rec(I):
        return float(sum(len(set(a) & set(b)) for a, b in zip(I, gt))) / gt.size
    for name, make in (("ivf-flat", lambda: faiss.IndexIVFFlat(faiss.IndexFlatL2(X.shape[1]), X.shape[1], nlist)),
                       ("ivf-pq", lambda: faiss.IndexIVFPQ(faiss.IndexFlatL2(X.shape[1]), X.shape[1], nlist, pqm, 8))):
        ix = make()
        t0 = clock(); ix.train(X); ix.add(X); tb = clock() - t0
        out(op="build", index=name, n=len(X), nlist=nlist, threads=1, seconds=tb)
        s = ix
        if name == "ivf-pq":
            s = faiss.IndexRefineFlat(ix, faiss.swig_ptr(X)); s.k_factor = 10
        for npb in nps:
            ix.nprobe = npb
            t, (D, I) = timed(lambda: s.search(Q, 10))
            out(op="search", index=name, nprobe=npb, rerank=100 if name == "ivf-pq" else 0, recall10=rec(I),
                qps_1t=len(Q) / t)
