// hnswlib_bench.cpp — the peer for bench_ann: hnswlib (Debian libhnswlib-dev, header-only) compiled with
// -O3 -march=native, on the exact files bench_ann wrote. Same JSON line shape as bench_ann. Also a plain
// native popcount scan over the 256-bit codes (the "native popcount scan" peer for binary flat search).
//   hnswlib_bench hnsw DIR M EFC THREADS ef1,ef2,...   |   hnswlib_bench popcount DIR
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

static double wall() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ANN_CPUTIME=1: time on this thread's CPU clock (less sensitive to a loaded machine while iterating)
static double now() {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("ANN_CPUTIME") != nullptr && *getenv("ANN_CPUTIME") == '1';
    if (cpu) {
        timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class T> static std::vector<T> read_vecs(const std::string &path, uint32_t &n, uint32_t &dim) {
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path.c_str()); exit(1); }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    int32_t d;
    if (fread(&d, 4, 1, f) != 1) exit(1);
    rewind(f);
    dim = (uint32_t)d;
    n = (uint32_t)(sz / (4 + (long)d * sizeof(T)));
    std::vector<T> out((size_t)n * dim);
    for (uint32_t i = 0; i < n; i++)
        if (fread(&d, 4, 1, f) != 1 || fread(&out[(size_t)i * dim], sizeof(T), dim, f) != dim) exit(1);
    fclose(f);
    return out;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "hnsw")) {
        std::string dir = argv[2];
        int M = atoi(argv[3]), efc = atoi(argv[4]), threads = atoi(argv[5]);
        uint32_t n, d, nq, dq, ng, dg;
        auto X = read_vecs<float>(dir + "/base.fvecs", n, d);
        auto Q = read_vecs<float>(dir + "/query.fvecs", nq, dq);
        auto gt = read_vecs<int32_t>(dir + "/gt.ivecs", ng, dg);
        hnswlib::L2Space space(d);
        hnswlib::HierarchicalNSW<float> h(&space, n, M, efc, 42);
        double t0 = now(), build = -1;
        // ANN_CACHE=1: reuse DIR/hnswlib-M-EFC.bin when present (search-only iterations; build reported as -1)
        const char *cache = getenv("ANN_CACHE");
        std::string cpath = dir + "/hnswlib-" + std::to_string(M) + "-" + std::to_string(efc) + ".bin";
        FILE *cf = cache && *cache == '1' ? fopen(cpath.c_str(), "rb") : nullptr;
        if (cf) {
            fclose(cf);
            h.loadIndex(cpath, &space, n);
        } else {
        h.addPoint(&X[0], 0);
        if (threads <= 1) {
            for (uint32_t i = 1; i < n; i++) h.addPoint(&X[(size_t)i * d], i);
        } else {
            std::atomic<uint32_t> next(1);
            std::vector<std::thread> ts;
            for (int t = 0; t < threads; t++)
                ts.emplace_back([&] {
                    for (uint32_t i; (i = next++) < n;) h.addPoint(&X[(size_t)i * d], i);
                });
            for (auto &t : ts) t.join();
        }
        build = now() - t0;
        if (cache && *cache == '1') h.saveIndex(cpath);
        }
        printf("{\"engine\":\"hnswlib-native\",\"op\":\"build\",\"data\":\"%s\",\"n\":%u,\"M\":%d,\"efc\":%d,"
               "\"threads\":%d,\"seconds\":%.3f}\n", dir.c_str(), n, M, efc, threads, build);
        fflush(stdout);
        std::stringstream ss(argv[6]);
        std::string tok;
        std::vector<std::vector<size_t>> res(nq);
        while (std::getline(ss, tok, ',')) {
            int ef = atoi(tok.c_str());
            h.setEf(ef);
            auto run = [&](uint32_t i) {
                auto r = h.searchKnn(&Q[(size_t)i * d], 10);
                res[i].clear();
                while (!r.empty()) { res[i].push_back(r.top().second); r.pop(); }
            };
            for (uint32_t i = 0; i < nq; i++) run(i);
            double best = 1e30;
            for (int rep = 0; rep < 3; rep++) {
                t0 = now();
                for (uint32_t i = 0; i < nq; i++) run(i);
                best = std::min(best, now() - t0);
            }
            double hit = 0;
            for (uint32_t i = 0; i < nq; i++)
                for (size_t id : res[i])
                    for (int t = 0; t < 10; t++)
                        if ((int32_t)id == gt[(size_t)i * 100 + t]) { hit++; break; }
            t0 = wall();  // 2 threads: wall clock even under ANN_CPUTIME
            std::atomic<uint32_t> next(0);
            std::vector<std::thread> ts;
            for (int t = 0; t < 2; t++)
                ts.emplace_back([&] { for (uint32_t i; (i = next++) < nq;) h.searchKnn(&Q[(size_t)i * d], 10); });
            for (auto &t : ts) t.join();
            double tb = wall() - t0;
            printf("{\"engine\":\"hnswlib-native\",\"op\":\"search\",\"data\":\"%s\",\"ef\":%d,\"recall10\":%.4f,"
                   "\"qps_1t\":%.1f,\"qps_2t\":%.1f}\n", dir.c_str(), ef, hit / (nq * 10.0), nq / best, nq / tb);
            fflush(stdout);
        }
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "popcount")) {
        std::string dir = argv[2];
        auto slurp = [](const std::string &p) {
            FILE *f = fopen(p.c_str(), "rb");
            if (!f) exit(1);
            fseek(f, 0, SEEK_END);
            long sz = ftell(f);
            rewind(f);
            std::vector<uint64_t> v(sz / 8);
            if (fread(v.data(), 8, v.size(), f) != v.size()) exit(1);
            fclose(f);
            return v;
        };
        auto B = slurp(dir + "/base.bin256"), Q = slurp(dir + "/query.bin256");
        size_t n = B.size() / 4, nq = Q.size() / 4;
        std::vector<std::pair<uint32_t, uint32_t>> heap;
        double best = 1e30, checksum = 0;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            for (size_t q = 0; q < nq; q++) {
                const uint64_t *qq = &Q[q * 4];
                heap.clear();
                for (size_t i = 0; i < n; i++) {
                    const uint64_t *b = &B[i * 4];
                    uint32_t dist = __builtin_popcountll(qq[0] ^ b[0]) + __builtin_popcountll(qq[1] ^ b[1]) +
                                    __builtin_popcountll(qq[2] ^ b[2]) + __builtin_popcountll(qq[3] ^ b[3]);
                    if (heap.size() < 10) {
                        heap.push_back({dist, (uint32_t)i});
                        std::push_heap(heap.begin(), heap.end());
                    } else if (dist < heap.front().first) {
                        std::pop_heap(heap.begin(), heap.end());
                        heap.back() = {dist, (uint32_t)i};
                        std::push_heap(heap.begin(), heap.end());
                    }
                }
                checksum += heap.front().first;
            }
            best = std::min(best, now() - t0);
        }
        printf("{\"engine\":\"native-popcount\",\"op\":\"binary_flat\",\"data\":\"%s\",\"n\":%zu,\"qps_1t\":%.1f,"
               "\"checksum\":%.0f}\n", dir.c_str(), n, nq / best, checksum / 3);
        return 0;
    }
    fprintf(stderr, "usage: hnswlib_bench hnsw DIR M EFC THREADS ef,... | popcount DIR\n");
    return 2;
}
