/* bench_gemm.c — spar's packed fp32 GEMM (encoders/kernels/gemm_f32.h) against OpenBLAS cblas_sgemm on the
 * encoders' linear-layer shapes: Y[M, N] = X[M, K] W[N, K]^T + bias, W in Hugging Face's [out, in] layout
 * (OpenBLAS gets it as B transposed, as encoders/model/bert.c calls it; the bias add is a separate pass for
 * OpenBLAS, fused for spar). Weight packing happens once, outside the timing, as it would at model load.
 *
 *   bench_gemm [--ms 128,256,4096,8192] [--threads 1,2] [--rounds 3] [--isa avx512|avx2|scalar]
 *
 * For every round, thread count, M and shape, spar and OpenBLAS run back to back (alternated), so load on the
 * shared machine hits both alike; the table gives median GFLOP/s over rounds (wall clock), the median of the
 * per-round wall ratios, and the ratio of process CPU seconds (all threads, spinning included: on a loaded
 * host wall time mostly measures how much of the cores the process got). Run it once per OPENBLAS_CORETYPE (Haswell = AVX2 kernels, SkylakeX = AVX-512). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "encoders/kernels/gemm_f32.h"

#ifdef SPAR_HAVE_OPENMP
#include <omp.h>
#endif

/* OpenBLAS extras (declared in its cblas.h on Debian; repeated here for other builds). */
void openblas_set_num_threads(int n);
char *openblas_get_corename(void);

typedef struct shape { size_t N, K; const char *what; } shape;
static const shape shapes[] = {
    {2304, 768, "qkv 768->2304"}, {768, 768, "attn-out 768->768"}, {3072, 768, "ffn1 768->3072"},
    {768, 3072, "ffn2 3072->768"},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)
#define MAX_ROUNDS 15

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        out[n++] = atoi(s);
        const char *c = strchr(s, ',');
        if (c == NULL) break;
        s = c + 1;
    }
    return n;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fill(float *a, size_t n, uint64_t s) {
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (float)((s >> 40) & 0xffffff) / 16777216.0f - 0.5f;
    }
}

static void blas_linear(const float *X, size_t M, const float *W, const float *b, size_t N, size_t K, float *Y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, X, (int)K, W, (int)K, 0.0f, Y,
                (int)N);
    for (size_t t = 0; t < M; t++)
        for (size_t j = 0; j < N; j++) Y[t * N + j] += b[j];
}

int main(int argc, char **argv) {
    int ms[8] = {128, 256, 4096, 8192}, n_ms = 4, thr[4] = {1, 2}, n_thr = 2, rounds = 3;
    spar_gemm_isa isa = spar_gemm_f32_isa_best();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ms") == 0) n_ms = parse_list(argv[i + 1], ms, 8);
        else if (strcmp(argv[i], "--threads") == 0) n_thr = parse_list(argv[i + 1], thr, 4);
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--isa") == 0)
            isa = strcmp(argv[i + 1], "scalar") == 0 ? SPAR_GEMM_ISA_SCALAR
                  : strcmp(argv[i + 1], "avx2") == 0 ? SPAR_GEMM_ISA_AVX2
                                                      : SPAR_GEMM_ISA_AVX512;
        else {
            fprintf(stderr, "usage: bench_gemm [--ms LIST] [--threads LIST] [--rounds N] [--isa avx512|avx2|scalar]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 3;
    if (isa > spar_gemm_f32_isa_best()) isa = spar_gemm_f32_isa_best();
    size_t maxM = 0;
    for (int i = 0; i < n_ms; i++) maxM = SPAR_MAX(maxM, (size_t)ms[i]);
    float *X = malloc(maxM * 3072 * 4), *Y = malloc(maxM * 3072 * 4), *Yb = malloc(maxM * 3072 * 4);
    float *W[N_SHAPES], *bias = malloc(3072 * 4);
    spar_gemm_f32_packed *P[N_SHAPES];
    if (X == NULL || Y == NULL || Yb == NULL || bias == NULL) return 1;
    fill(X, maxM * 3072, 1);
    fill(bias, 3072, 2);
    for (size_t s = 0; s < N_SHAPES; s++) {
        W[s] = malloc(shapes[s].N * shapes[s].K * 4);
        if (W[s] == NULL) return 1;
        fill(W[s], shapes[s].N * shapes[s].K, 10 + s);
        if (spar_gemm_f32_pack(W[s], shapes[s].N, shapes[s].K, shapes[s].K, &P[s]) != SPAR_OK) return 1;
    }
    printf("# OpenBLAS core: %s; spar kernels: %s; rounds %d\n", openblas_get_corename(), spar_gemm_isa_name(isa), rounds);
    /* gf[engine][thread][m][shape][round]: wall GFLOP/s; cpu[...]: CPU seconds per call */
    static double gf[2][4][8][N_SHAPES][MAX_ROUNDS], cpu[2][4][8][N_SHAPES][MAX_ROUNDS], maxdiff[4][8][N_SHAPES];
    for (int r = 0; r < rounds; r++)
        for (int ti = 0; ti < n_thr; ti++) {
            openblas_set_num_threads(thr[ti]);
            for (int mi = 0; mi < n_ms; mi++)
                for (size_t s = 0; s < N_SHAPES; s++) {
                    size_t M = (size_t)ms[mi], N = shapes[s].N, K = shapes[s].K;
                    double fl = 2.0 * (double)M * (double)N * (double)K;
                    /* Small M: repeat to get >= ~50 ms per timing. */
                    int reps = SPAR_MAX(1, (int)(2e9 / fl));
                    double c0 = cpu_now(), t0 = spar_now();
                    for (int q = 0; q < reps; q++)
                        if (spar_gemm_f32_apply_ex(P[s], isa, SPAR_GEMM_EPI_NONE, X, M, K, bias, Y, N, thr[ti]) != SPAR_OK) return 1;
                    double c1 = cpu_now(), t1 = spar_now();
                    for (int q = 0; q < reps; q++) blas_linear(X, M, W[s], bias, N, K, Yb);
                    double c2 = cpu_now(), t2 = spar_now();
                    gf[0][ti][mi][s][r] = fl * reps / (t1 - t0) / 1e9;
                    gf[1][ti][mi][s][r] = fl * reps / (t2 - t1) / 1e9;
                    cpu[0][ti][mi][s][r] = (c1 - c0) / reps;
                    cpu[1][ti][mi][s][r] = (c2 - c1) / reps;
                    double md = 0;
                    for (size_t i = 0; i < M * N; i++) md = SPAR_MAX(md, (double)(Y[i] > Yb[i] ? Y[i] - Yb[i] : Yb[i] - Y[i]));
                    maxdiff[ti][mi][s] = SPAR_MAX(maxdiff[ti][mi][s], md);
                }
        }
    printf("| threads | M | shape | spar GFLOP/s | OpenBLAS GFLOP/s | spar/OpenBLAS (wall) | spar CPU ms | OpenBLAS CPU ms "
           "| spar/OpenBLAS (CPU) | max abs diff |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int ti = 0; ti < n_thr; ti++)
        for (int mi = 0; mi < n_ms; mi++)
            for (size_t s = 0; s < N_SHAPES; s++) {
                double a[MAX_ROUNDS], b[MAX_ROUNDS], q[MAX_ROUNDS], ca[MAX_ROUNDS], cb[MAX_ROUNDS];
                for (int r = 0; r < rounds; r++) {
                    a[r] = gf[0][ti][mi][s][r];
                    b[r] = gf[1][ti][mi][s][r];
                    q[r] = a[r] / b[r];
                    ca[r] = cpu[0][ti][mi][s][r];
                    cb[r] = cpu[1][ti][mi][s][r];
                }
                double mca = median(ca, rounds), mcb = median(cb, rounds);
                printf("| %d | %d | %s | %.1f | %.1f | %.2fx | %.2f | %.2f | %.2fx | %.1e |\n", thr[ti], ms[mi],
                       shapes[s].what, median(a, rounds), median(b, rounds), median(q, rounds), 1e3 * mca, 1e3 * mcb,
                       mcb / mca, maxdiff[ti][mi][s]);
            }
    for (size_t s = 0; s < N_SHAPES; s++) {
        spar_gemm_f32_free(P[s]);
        free(W[s]);
    }
    free(X), free(Y), free(Yb), free(bias);
    return 0;
}
