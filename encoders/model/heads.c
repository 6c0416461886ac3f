/* heads.c — SPLADE, dense and per-token heads (encoders/model). The SPLADE head runs the decoder GEMM
 * one (token tile x vocabulary block) at a time and folds each tile into a per-sequence running max
 * (or sum) of ReLU(logit), so memory stays O(n_seqs * V + tile * block) instead of O(T * V); log1p is
 * applied once per surviving entry at the end (max pooling commutes with the monotone log1p(ReLU)).
 * Contract: encoders/model/heads.h. */
#include "encoders/model/heads.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "encoders/model/bert.h"

#define TOKEN_TILE 256
#define VOCAB_BLOCK 2048

spar_status spar_splade_pool(const float *h2, const uint32_t *lens, size_t n_seqs, size_t d, const float *W,
                             const float *b, size_t V, spar_splade_pooling pool, float *out) {
    size_t T = 0;
    for (size_t s = 0; s < n_seqs; s++) T += lens[s];
    float *tile = spar_malloc_array((size_t)TOKEN_TILE * VOCAB_BLOCK, sizeof(float));
    uint32_t *seq_of = spar_malloc_array(T ? T : 1, sizeof(uint32_t));
    if (tile == NULL || seq_of == NULL) {
        free(tile);
        free(seq_of);
        return SPAR_E_NOMEM;
    }
    for (size_t s = 0, t = 0; s < n_seqs; s++)
        for (uint32_t i = 0; i < lens[s]; i++) seq_of[t++] = (uint32_t)s;
    memset(out, 0, n_seqs * V * sizeof(float));
    for (size_t v0 = 0; v0 < V; v0 += VOCAB_BLOCK) {
        size_t nv = SPAR_MIN((size_t)VOCAB_BLOCK, V - v0);
        for (size_t t0 = 0; t0 < T; t0 += TOKEN_TILE) {
            size_t nt = SPAR_MIN((size_t)TOKEN_TILE, T - t0);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)nv, (int)d, 1.0f, h2 + t0 * d, (int)d,
                        W + v0 * d, (int)d, 0.0f, tile, (int)nv);
            /* Fold the tile row by row (contiguous, vectorisable). Columns are split into 256-wide slices, one
             * per thread when OpenMP is on, so there are no races and each entry sees tokens in ascending
             * order whatever the thread count. */
            const float *bias = b + v0;
#pragma omp parallel for schedule(static) if (nt * nv > 32768 && spar_model_omp_ok())
            for (size_t j0 = 0; j0 < nv; j0 += 256) {
                size_t j1 = SPAR_MIN(j0 + 256, nv);
                for (size_t r = 0; r < nt; r++) {
                    const float *row = tile + r * nv;
                    float *o = out + (size_t)seq_of[t0 + r] * V + v0;
                    if (pool == SPAR_SPLADE_MAX) {
                        for (size_t j = j0; j < j1; j++) {
                            float x = row[j] + bias[j];
                            o[j] = x > o[j] ? x : o[j];
                        }
                    } else {
                        for (size_t j = j0; j < j1; j++) {
                            float x = row[j] + bias[j];
                            if (x > 0) o[j] += log1pf(x);
                        }
                    }
                }
            }
        }
    }
    if (pool == SPAR_SPLADE_MAX) {
        size_t n = n_seqs * V;
#pragma omp parallel for schedule(static) if (n > 65536 && spar_model_omp_ok())
        for (size_t i = 0; i < n; i++)
            if (out[i] > 0) out[i] = log1pf(out[i]);
    }
    free(tile);
    free(seq_of);
    return SPAR_OK;
}

static void l2_normalize(float *x, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)x[j] * x[j];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (size_t j = 0; j < d; j++) x[j] *= inv;
}

void spar_dense_pool(const float *h, const uint32_t *lens, size_t n_seqs, size_t d, spar_dense_pooling pool,
                     int normalize, float *out) {
    size_t base = 0;
    for (size_t s = 0; s < n_seqs; s++) {
        float *o = out + s * d;
        if (pool == SPAR_DENSE_CLS) {
            memcpy(o, h + base * d, d * sizeof(float));
        } else {
            for (size_t j = 0; j < d; j++) {
                double acc = 0;
                for (size_t t = 0; t < lens[s]; t++) acc += h[(base + t) * d + j];
                o[j] = (float)(acc / lens[s]);
            }
        }
        if (normalize) l2_normalize(o, d);
        base += lens[s];
    }
}

void spar_token_project(const float *h, size_t T, size_t d, const float *P, size_t p, int normalize, float *out) {
    if (P != NULL)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)p, (int)d, 1.0f, h, (int)d, P, (int)d, 0.0f,
                    out, (int)p);
    else
        memcpy(out, h, T * d * sizeof(float));
    size_t w = P != NULL ? p : d;
    if (normalize)
        for (size_t t = 0; t < T; t++) l2_normalize(out + t * w, w);
}
