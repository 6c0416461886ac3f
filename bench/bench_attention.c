/* bench_attention.c — dense vs block-sparse attention in one binary (encoders/attention/).
 *
 * For each input kind (random Q/K; planted structure = local band + global sink tokens + long-range matching
 * pairs), each T and each thread count, prints one JSON line per policy with: dense time, sparse time
 * (selection included, and selection alone), speedup, kept-block density, captured attention mass (mean over
 * heads, smallest head, smallest row) and relative output error ||O_sparse - O_dense|| / ||O_dense||.
 *
 * Dense is timed over all heads up to --dense-full-max tokens; above, one head is timed and multiplied by the
 * head count ("dense_mode":"1head_x<H>"). Fidelity (mass, error) uses all heads up to --dense-full-max and
 * the first --fid-heads heads above ("fid_heads" says which). Policy "full_mask" runs the block-sparse kernel
 * with every block kept: it measures the kernel against OpenBLAS dense at equal work.
 *
 * usage: bench_attention [--T 1024,2048,4096,8192] [--threads 1,2] [--heads 12] [--dim 64]
 *                        [--inputs random,planted] [--dense-full-max 2048] [--fid-heads 2] [--reps 2]
 *                        [--tau 0.97] [--window 2] [--samples 64] [--qpb 2] [--policies a,b,...]
 *
 * --reps N: rounds (at most 64); each round times dense and then every policy, so they alternate under the same
 * machine load; medians over rounds are printed, and "speedup" is the median of the per-round ratios (with
 * speedup_min / speedup_max). Policies: full_mask, local_global, query_aware (--qpb representative queries per
 * block), query_aware_pooled (the older mean-pooled estimate, q_per_block 0), vertical_slash. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/attention/attention.h"

void openblas_set_num_threads(int num_threads);

static uint64_t rng_state;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double nrand(void) {
    return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand());
}

/* Planted structure for one head, written into columns [h*d, h*d+d) (d = 64 assumed >= 64):
 *   dims  0..31  local band: random Fourier features (16 frequencies) of a Gaussian kernel in |i-j| (sigma 32
 *                tokens), peak logit 12; the finite feature count leaves pseudo-random side lobes (std ~2
 * logits) at every offset, i.e. a diffuse long tail; dims 32..35  global sinks: 4 sink tokens (token 0 + 3
 * random) carry a key direction every query shares, logit +10 from every query; dims 36..63  long-range
 * matching pairs: 32 pairs (i, j), |i-j| >= T/4, share a random direction in both q and k (both ways), logit
 * +14 between the two tokens; plus N(0, 0.15^2) noise in every dim. */
static void plant_head(float *q, float *k, size_t ld, uint32_t t, uint32_t d, uint32_t h) {
    float *qh = q + (size_t)h * d, *kh = k + (size_t)h * d;
    for (uint32_t i = 0; i < t; i++)
        for (uint32_t x = 0; x < d; x++) {
            qh[(size_t)i * ld + x] = (float)(0.15 * nrand());
            kh[(size_t)i * ld + x] = (float)(0.15 * nrand());
        }
    double sd = sqrt((double)d);
    double w[16];
    for (int f = 0; f < 16; f++)
        w[f] = nrand() / 32.0;
    double amp = sqrt(sd * 12.0 / 16.0);
    for (uint32_t i = 0; i < t; i++)
        for (int f = 0; f < 16; f++) {
            float c = (float)(amp * cos(w[f] * i)), s = (float)(amp * sin(w[f] * i));
            qh[(size_t)i * ld + 2 * f] += c;
            kh[(size_t)i * ld + 2 * f] += c;
            qh[(size_t)i * ld + 2 * f + 1] += s;
            kh[(size_t)i * ld + 2 * f + 1] += s;
        }
    double sink = sqrt(sd * 10.0);
    for (uint32_t i = 0; i < t; i++)
        qh[(size_t)i * ld + 32] += (float)sink;
    for (int s = 0; s < 4; s++) {
        uint32_t pos = s == 0 ? 0 : (uint32_t)(urand() * t);
        kh[(size_t)pos * ld + 32] += (float)sink;
    }
    double pair = sqrt(sd * 14.0);
    for (int p = 0; p < 32; p++) {
        uint32_t i = (uint32_t)(urand() * t), j;
        do
            j = (uint32_t)(urand() * t);
        while ((i > j ? i - j : j - i) < t / 4);
        double z[28], nz = 0;
        for (int x = 0; x < 28; x++) {
            z[x] = nrand();
            nz += z[x] * z[x];
        }
        nz = sqrt(nz);
        for (int x = 0; x < 28; x++) {
            float c = (float)(pair * z[x] / nz);
            qh[(size_t)i * ld + 36 + x] += c;
            kh[(size_t)j * ld + 36 + x] += c;
            qh[(size_t)j * ld + 36 + x] += c;
            kh[(size_t)i * ld + 36 + x] += c;
        }
    }
}

static int parse_list(const char *s, uint32_t *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        out[n++] = (uint32_t)strtoul(s, (char **)&s, 10);
        if (*s == ',') s++;
    }
    return n;
}

static double rel_err(const float *o, const float *ref, uint32_t t, size_t ld_o, size_t ld_r, uint32_t w) {
    double num = 0, den = 0;
    for (uint32_t i = 0; i < t; i++)
        for (uint32_t x = 0; x < w; x++) {
            double a = o[(size_t)i * ld_o + x], b = ref[(size_t)i * ld_r + x];
            num += (a - b) * (a - b);
            den += b * b;
        }
    return den > 0 ? sqrt(num / den) : 0.0;
}

static int cmp_dbl(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(const double *v, uint32_t n) {
    double w[64];
    memcpy(w, v, n * sizeof(double));
    qsort(w, n, sizeof(double), cmp_dbl);
    return n % 2 ? w[n / 2] : 0.5 * (w[n / 2 - 1] + w[n / 2]);
}

static double vmin(const double *v, uint32_t n) {
    double m = v[0];
    for (uint32_t i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double vmax(const double *v, uint32_t n) {
    double m = v[0];
    for (uint32_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* 1-minute load average (-1 if unreadable), printed with each row: the machine is shared */
static double loadavg1(void) {
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}

/* is policy name in the comma list filter (NULL = all)? */
static int policy_on(const char *filter, const char *name) {
    if (!filter) return 1;
    size_t n = strlen(name);
    for (const char *s = filter; (s = strstr(s, name)) != NULL; s += n)
        if ((s == filter || s[-1] == ',') && (s[n] == ',' || s[n] == '\0')) return 1;
    return 0;
}

int main(int argc, char **argv) {
    uint32_t ts[8] = {1024, 2048, 4096, 8192}, ths[4] = {1, 2};
    int nts = 4, nths = 2;
    uint32_t heads = 12, dim = 64, dense_full_max = 2048, fid_heads = 2, reps = 2, window = 2, samples = 64;
    uint32_t qpb = 2;
    const char *pol_filter = NULL;
    float tau = 0.97f;
    int do_random = 1, do_planted = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--T"))
            nts = parse_list(v, ts, 8);
        else if (!strcmp(k, "--threads"))
            nths = parse_list(v, ths, 4);
        else if (!strcmp(k, "--heads"))
            heads = (uint32_t)atoi(v);
        else if (!strcmp(k, "--dim"))
            dim = (uint32_t)atoi(v);
        else if (!strcmp(k, "--dense-full-max"))
            dense_full_max = (uint32_t)atoi(v);
        else if (!strcmp(k, "--fid-heads"))
            fid_heads = (uint32_t)atoi(v);
        else if (!strcmp(k, "--reps"))
            reps = (uint32_t)atoi(v);
        else if (!strcmp(k, "--tau"))
            tau = (float)atof(v);
        else if (!strcmp(k, "--window"))
            window = (uint32_t)atoi(v);
        else if (!strcmp(k, "--qpb"))
            qpb = (uint32_t)atoi(v);
        else if (!strcmp(k, "--policies"))
            pol_filter = v;
        else if (!strcmp(k, "--samples"))
            samples = (uint32_t)atoi(v);
        else if (!strcmp(k, "--inputs")) {
            do_random = strstr(v, "random") != NULL;
            do_planted = strstr(v, "planted") != NULL;
        } else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    if (dim < 64 || heads == 0 || reps == 0) {
        fprintf(stderr, "need --dim >= 64 (planted layout), --heads >= 1, --reps >= 1\n");
        return 2;
    }
    size_t ld = (size_t)heads * dim;
    for (int input = 0; input < 2; input++) {
        if ((input == 0 && !do_random) || (input == 1 && !do_planted)) continue;
        for (int ti = 0; ti < nts; ti++) {
            uint32_t t = ts[ti];
            size_t n = (size_t)t * ld;
            float *q = malloc(n * sizeof(float)), *k = malloc(n * sizeof(float)),
                  *v = malloc(n * sizeof(float));
            float *od = malloc(n * sizeof(float)), *os = malloc(n * sizeof(float));
            if (!q || !k || !v || !od || !os) {
                fprintf(stderr, "out of memory at T=%u\n", t);
                return 1;
            }
            rng_state = 0x5EEDull + t * 31u + (uint64_t)input;
            for (size_t i = 0; i < n; i++)
                v[i] = (float)nrand();
            if (input == 0) {
                for (size_t i = 0; i < n; i++)
                    q[i] = (float)nrand(), k[i] = (float)nrand();
            } else {
                for (uint32_t h = 0; h < heads; h++)
                    plant_head(q, k, ld, t, dim, h);
            }
            int full_dense = t <= dense_full_max;
            uint32_t fh = full_dense ? heads : SPAR_MIN(fid_heads, heads);
            for (int thi = 0; thi < nths; thi++) {
                int nt = (int)ths[thi];
                openblas_set_num_threads(1); /* parallelism comes from OpenMP inside spar_attn_* */
                spar_attn_args a = {.q = q,
                                    .k = k,
                                    .v = v,
                                    .ld_q = ld,
                                    .ld_k = ld,
                                    .ld_v = ld,
                                    .seq_len = t,
                                    .n_heads = heads,
                                    .d_head = dim,
                                    .n_threads = nt};
                /* Rounds alternate dense and every policy (dense, p1, p2, ..., dense, p1, ...), so that a
                 * change of machine load hits all of them alike; the figures are medians over rounds, and the
                 * speedup is the median of the per-round ratios dense / policy. Dense is timed on all heads
                 * or on one head (x heads). */
                spar_attn_args ad = a;
                ad.n_heads = full_dense ? heads : 1;
                enum { NPOL = 5 };
                const char *pols[NPOL] = {"full_mask", "local_global", "query_aware", "query_aware_pooled",
                                          "vertical_slash"};
                const spar_attn_policy_kind kinds[NPOL] = {SPAR_ATTN_DENSE, SPAR_ATTN_LOCAL_GLOBAL,
                                                           SPAR_ATTN_QUERY_AWARE, SPAR_ATTN_QUERY_AWARE,
                                                           SPAR_ATTN_VERTICAL_SLASH};
                spar_attn_policy pp[NPOL];
                spar_attn_mask m[NPOL];
                memset(m, 0, sizeof m);
                double dense_t[64], sp_t[NPOL][64], sel_t[NPOL][64];
                uint32_t R = SPAR_MIN(reps, 64);
                for (int pi = 0; pi < NPOL; pi++) {
                    spar_attn_policy_default(&pp[pi], kinds[pi]);
                    pp[pi].min_len = 0;
                    pp[pi].tau = tau;
                    pp[pi].window = window;
                    pp[pi].n_sample = samples;
                    pp[pi].q_per_block = pi == 3 ? 0 : qpb;
                }
                double load = loadavg1();
                for (uint32_t r = 0; r < R; r++) {
                    double t0 = spar_now();
                    if (spar_attn_dense(&ad, od, ld) != SPAR_OK) return 1;
                    dense_t[r] = (spar_now() - t0) * (full_dense ? 1 : heads);
                    for (int pi = 0; pi < NPOL; pi++) {
                        if (!policy_on(pol_filter, pols[pi])) continue;
                        spar_attn_mask_free(&m[pi]);
                        t0 = spar_now();
                        if (spar_attn_select(&pp[pi], &a, &m[pi]) != SPAR_OK) return 1;
                        double t1 = spar_now();
                        if (spar_attn_block_sparse(&a, &m[pi], os, ld) != SPAR_OK) return 1;
                        sp_t[pi][r] = spar_now() - t0;
                        sel_t[pi][r] = t1 - t0;
                    }
                }
                spar_attn_args af = a;
                af.n_heads = fh;
                if (!full_dense && fh > 1 && spar_attn_dense(&af, od, ld) != SPAR_OK) return 1;
                double dense_med = median(dense_t, R);
                for (int pi = 0; pi < NPOL; pi++) {
                    if (!policy_on(pol_filter, pols[pi])) continue;
                    double ratio[64];
                    for (uint32_t r = 0; r < R; r++)
                        ratio[r] = dense_t[r] / sp_t[pi][r];
                    if (spar_attn_block_sparse(&a, &m[pi], os, ld) != SPAR_OK) return 1;
                    double mean = 0, mn_head = 0, mn_row = 0;
                    if (spar_attn_captured_mass(&a, &m[pi], fh, NULL, &mean, &mn_head, &mn_row) != SPAR_OK)
                        return 1;
                    double err = rel_err(os, od, t, ld, ld, fh * dim);
                    char dmode[32];
                    snprintf(dmode, sizeof dmode, full_dense ? "all_heads" : "1head_x%u", heads);
                    printf("{\"bench\":\"attention\",\"input\":\"%s\",\"T\":%u,\"heads\":%u,\"d_head\":%u,"
                           "\"threads\":%d,\"policy\":\"%s\",\"tau\":%.3f,\"window\":%u,\"samples\":%u,"
                           "\"q_per_block\":%u,\"rounds\":%u,\"load1\":%.1f,"
                           "\"dense_ms\":%.2f,\"dense_mode\":\"%s\",\"sparse_ms\":%.2f,\"select_ms\":%.2f,"
                           "\"speedup\":%.2f,\"speedup_min\":%.2f,\"speedup_max\":%.2f,\"density\":%.4f,"
                           "\"mass_mean\":%.4f,\"mass_min_head\":%.4f,"
                           "\"mass_min_row\":%.4f,\"rel_err\":%.3e,\"fid_heads\":%u}\n",
                           input ? "planted" : "random", t, heads, dim, nt, pols[pi], tau, window, samples,
                           pp[pi].q_per_block, R, load, dense_med * 1e3, dmode, median(sp_t[pi], R) * 1e3,
                           median(sel_t[pi], R) * 1e3, median(ratio, R), vmin(ratio, R), vmax(ratio, R),
                           spar_attn_mask_density(&m[pi], heads), mean, mn_head, mn_row, err, fh);
                    fflush(stdout);
                    spar_attn_mask_free(&m[pi]);
                }
            }
            free(q);
            free(k);
            free(v);
            free(od);
            free(os);
        }
    }
    return 0;
}
