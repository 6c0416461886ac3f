/* tests/fuzz/fuzz_config.c — libFuzzer target for the model config.json reader (encoders/model/config.c).
 * Every input is parsed from memory (spar_model_config_parse) and from a file (spar_model_config_load, via a
 * memfd): both must agree. A failure must be SPAR_E_CORRUPT or SPAR_E_UNSUPPORTED with a message that names
 * the source; a success must satisfy everything bert.c / modernbert.c rely on (sizes in range, heads divide
 * the width, even rotary head width, positive finite epsilon and RoPE thetas, token ids below the vocabulary).
 * Seeds: tests/fuzz/corpus/config/ (HF configs of BERT, DistilBERT, ModernBERT and near-misses). */
#define _GNU_SOURCE 1 /* memfd_create (fuzz_util.h) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/model/config.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(const spar_model_config *c) {
    FUZZ_CHECK(c->arch == SPAR_ARCH_BERT || c->arch == SPAR_ARCH_DISTILBERT || c->arch == SPAR_ARCH_MODERNBERT);
    FUZZ_CHECK(c->vocab_size >= 1 && c->hidden >= 1 && c->n_layers >= 1 && c->n_layers <= 256);
    FUZZ_CHECK(c->n_heads >= 1 && c->hidden % c->n_heads == 0 && c->intermediate >= 1 && c->max_positions >= 1);
    FUZZ_CHECK(c->pad_token_id < c->vocab_size);
    FUZZ_CHECK(c->act == SPAR_ACT_GELU || c->act == SPAR_ACT_RELU);
    FUZZ_CHECK(isfinite(c->ln_eps) && c->ln_eps > 0.0f && c->ln_eps <= 1.0f);
    if (c->arch == SPAR_ARCH_BERT) FUZZ_CHECK(c->type_vocab_size >= 1);
    else FUZZ_CHECK(c->type_vocab_size == 0);
    if (c->arch == SPAR_ARCH_MODERNBERT) {
        FUZZ_CHECK((c->hidden / c->n_heads) % 2 == 0);
        FUZZ_CHECK(c->global_every >= 1 && c->local_window >= 2);
        FUZZ_CHECK(isfinite(c->rope_theta_global) && c->rope_theta_global > 0.0f);
        FUZZ_CHECK(isfinite(c->rope_theta_local) && c->rope_theta_local > 0.0f);
        FUZZ_CHECK(c->head_act == SPAR_ACT_GELU || c->head_act == SPAR_ACT_RELU);
        for (uint32_t i = 0; i < c->n_layers; i++) FUZZ_CHECK(c->layer_global[i] <= 1);
        const int64_t ids[3] = {c->cls_token_id, c->sep_token_id, c->mask_token_id};
        for (int i = 0; i < 3; i++) FUZZ_CHECK(ids[i] >= -1 && ids[i] < (int64_t)c->vocab_size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* exact-size heap copy: ASan catches any read past the end */
    char *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf != NULL);
    if (size) memcpy(buf, data, size);
    spar_model_config a, b;
    spar_diag d = {{0}}, d2 = {{0}};
    spar_status s = spar_model_config_parse(buf, size, "fuzz.json", &a, &d);
    FUZZ_CHECK(s == SPAR_OK || s == SPAR_E_CORRUPT || s == SPAR_E_UNSUPPORTED);
    if (s == SPAR_OK) check_ok(&a);
    else FUZZ_CHECK(strncmp(d.msg, "fuzz.json: ", 11) == 0);

    int fd;
    char path[64];
    fuzz_memfile(data, size, &fd, path);
    spar_status s2 = spar_model_config_load(path, &b, &d2);
    close(fd);
    FUZZ_CHECK(s2 == s);
    if (s == SPAR_OK) FUZZ_CHECK(memcmp(&a, &b, sizeof a) == 0);
    else { /* same message, naming the path instead of the label (compared up to the shorter, truncated one) */
        size_t pl = strlen(path);
        FUZZ_CHECK(strncmp(d2.msg, path, pl) == 0 && strncmp(d.msg + 9, d2.msg + pl, strlen(d2.msg + pl)) == 0);
    }
    free(buf);
    return 0;
}
