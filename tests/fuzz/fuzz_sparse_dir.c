/* tests/fuzz/fuzz_sparse_dir.c — libFuzzer target for opening a learned-sparse index directory
 * (index/sparse/sparse_dir.c: MANIFEST JSON, docids.txt, vocab.txt, sizes and hashes, counts against sparse.idx).
 * The input is split at form feeds (0x0c) into up to three parts: the MANIFEST's JSON payload, docids.txt and
 * vocab.txt (a missing or empty part takes the part of a valid 3-document, 4-token directory written at start
 * up; sparse.idx is always that directory's). Because every file is hashed in the MANIFEST, the target repairs
 * what a fuzzer cannot forge: the header's length and xxh3, and the "bytes"/"xxh3" of each "files" entry that
 * names one of the three files. The directory is then opened (quick and full check); it must open or fail
 * with OK/CORRUPT/NOT_FOUND/VERSION and a message; an opened one must serve every doc id and token.
 * Seeds: tests/fuzz/corpus/sparse_dir/. */
#define _GNU_SOURCE 1 /* memfd_create (fuzz_util.h), mkdtemp */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "fuzz/fuzz_util.h"
#include "spar/spar_sparse.h"
#include "storage/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64], tmpl[96], work[96];

static void rm_dir(const char *d) {
    static const char *const names[] = {"MANIFEST", "sparse.idx", "docids.txt", "vocab.txt"};
    char p[160];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", d, names[i]);
        (void)unlink(p);
    }
    (void)rmdir(d);
}

static void cleanup(void) {
    rm_dir(work);
    rm_dir(tmpl);
    (void)rmdir(root);
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    FUZZ_CHECK(b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static void put(const char *dir, const char *name, const void *b, size_t n) {
    char p[160];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    FUZZ_CHECK(f != NULL && (n == 0 || fwrite(b, 1, n, f) == n) && fclose(f) == 0);
}

/* The template directory, once: 3 documents over 4 tokens. */
static void setup(void) {
    if (root[0] != '\0') return;
    snprintf(root, sizeof root, "/dev/shm/spar-fuzz-sparse-dir-XXXXXX");
    if (mkdtemp(root) == NULL) {
        snprintf(root, sizeof root, "/tmp/spar-fuzz-sparse-dir-XXXXXX");
        FUZZ_CHECK(mkdtemp(root) != NULL);
    }
    snprintf(tmpl, sizeof tmpl, "%s/tmpl", root);
    snprintf(work, sizeof work, "%s/work", root);
    atexit(cleanup);
    static uint64_t off[4] = {0, 2, 3, 5};
    static uint32_t ids[5] = {0, 2, 1, 0, 3};
    static float w[5] = {1.0f, 0.5f, 2.0f, 0.25f, 3.0f};
    spar_sparse_csr m = {.n_rows = 3, .dim = 4, .offsets = off, .ids = ids, .weights = w, .keys = NULL};
    spar_sparse_build_opts o;
    spar_sparse_build_opts_default(&o);
    o.n_threads = 1;
    o.build_approx = 0;
    spar_sparse_index *ix = NULL;
    spar_diag d;
    FUZZ_CHECK(spar_sparse_index_build(&m, &o, &ix, &d) == SPAR_OK);
    const char *const docs[3] = {"doc-a", "doc-b", "doc-c"}, *const toks[4] = {"the", "cat", "##s", "mat"};
    FUZZ_CHECK(spar_sparse_dir_write(tmpl, ix, docs, toks, 4, 1, &d) == SPAR_OK);
    spar_sparse_index_free(ix);
}

/* Set "bytes"/"xxh3" of the files[] entry naming `name` to the real values. */
static void repair(cJSON *j, const char *name, const uint8_t *b, size_t n) {
    cJSON *fa = cJSON_GetObjectItemCaseSensitive(j, "files");
    cJSON *e;
    cJSON_ArrayForEach(e, fa) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "file");
        if (!cJSON_IsObject(e) || !cJSON_IsString(f) || strcmp(f->valuestring, name) != 0) continue;
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH3_64bits(b, n));
        cJSON_DeleteItemFromObjectCaseSensitive(e, "bytes");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "xxh3");
        cJSON_AddNumberToObject(e, "bytes", (double)n);
        cJSON_AddStringToObject(e, "xxh3", hex);
    }
}

static void check_open(unsigned flags) {
    spar_sparse_dir *d = NULL;
    spar_diag dg = {{0}};
    spar_status st = spar_sparse_dir_open_flags(work, flags, &d, &dg);
    FUZZ_CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT || st == SPAR_E_NOT_FOUND || st == SPAR_E_VERSION);
    FUZZ_CHECK((st == SPAR_OK) == (d != NULL));
    if (st != SPAR_OK) {
        FUZZ_CHECK(dg.msg[0] != '\0');
        return;
    }
    spar_sparse_stats s;
    spar_sparse_index_stats(spar_sparse_dir_index(d), &s);
    for (uint32_t i = 0; i < s.n_docs; i++) {
        size_t len = 0;
        const char *id = spar_sparse_dir_doc_id(d, i, &len);
        FUZZ_CHECK(id != NULL && len > 0 && strlen(id) == len);
    }
    FUZZ_CHECK(spar_sparse_dir_doc_id(d, s.n_docs, NULL) == NULL);
    const spar_sparse_vocab *v = spar_sparse_dir_vocab(d);
    for (uint32_t t = 0; v != NULL && t < s.dim; t++) {
        size_t len = 0;
        const char *tok = spar_sparse_dir_token(d, t, &len);
        FUZZ_CHECK(tok != NULL && spar_sparse_vocab_find(v, tok, len) == t);
    }
    spar_sparse_dir_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    const uint8_t *part[3] = {NULL, NULL, NULL};
    size_t plen[3] = {0, 0, 0}, k = 0, start = 0;
    for (size_t i = 0; i <= size && k < 3; i++) {
        if (i < size && (data[i] != '\f' || k == 2)) continue;
        part[k] = data + start;
        plen[k++] = i - start;
        start = i + 1;
    }
    static const char *const names[3] = {"MANIFEST", "docids.txt", "vocab.txt"};
    uint8_t *own[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        if (plen[i] > 0) continue;
        own[i] = slurp(tmpl, names[i], &plen[i]);
        part[i] = own[i];
    }
    /* the template's MANIFEST is a whole file: keep only its JSON */
    if (own[0] != NULL) {
        part[0] += sizeof(spar_file_header);
        plen[0] -= sizeof(spar_file_header);
    }
    rm_dir(work);
    FUZZ_CHECK(mkdir(work, 0755) == 0);
    size_t il;
    uint8_t *idx = slurp(tmpl, "sparse.idx", &il);
    put(work, "sparse.idx", idx, il);
    put(work, "docids.txt", part[1], plen[1]);
    put(work, "vocab.txt", part[2], plen[2]);
    /* MANIFEST: the JSON with the files' real sizes and hashes (when it parses), behind a repaired header */
    char *json = NULL;
    size_t jl = plen[0];
    cJSON *j = cJSON_ParseWithLength((const char *)part[0], plen[0]);
    if (j != NULL) {
        repair(j, "sparse.idx", idx, il);
        repair(j, "docids.txt", part[1], plen[1]);
        repair(j, "vocab.txt", part[2], plen[2]);
        json = cJSON_PrintUnformatted(j);
        FUZZ_CHECK(json != NULL);
        jl = strlen(json);
        cJSON_Delete(j);
    }
    const uint8_t *payload = json ? (const uint8_t *)json : part[0];
    spar_file_header h = {SPAR_MAGIC, 1, 0, SPAR_KIND_MANIFEST, 0, jl, XXH3_64bits(payload, jl)};
    uint8_t *mf = malloc(sizeof h + jl + 1);
    FUZZ_CHECK(mf != NULL);
    memcpy(mf, &h, sizeof h);
    if (jl) memcpy(mf + sizeof h, payload, jl);
    put(work, "MANIFEST", mf, sizeof h + jl);
    check_open(0);
    check_open(SPAR_SPARSE_VERIFY_ALL);
    free(mf);
    cJSON_free(json);
    free(idx);
    for (int i = 0; i < 3; i++) free(own[i]);
    return 0;
}
