/* test_meta.c — the LMDB metadata store (storage/meta.c, format 2): id <-> docid round trips (ordered,
 * random-order and hash-like ids over many blocks and batches), duplicate ids detected at once whether the
 * first copy is still in memory or already in the file, stored fields, settings, map growth on
 * MDB_MAP_FULL, content hashes recomputed by the scan, a damaged id block reported as corrupt, old and
 * future format versions refused, a small compacted data.mdb, byte-identical files for identical writes. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/meta.h"

static char g_tmp[256];
static int g_seq;

static void fresh_dir(char *out, size_t cap) { snprintf(out, cap, "%s/m%d", g_tmp, g_seq++); }

/* n docs "id-<i>" with title "T<i>" and a text of `text_bytes` bytes, in batches of `per_batch`. */
static spar_status fill(const char *dir, int n, int per_batch, size_t text_bytes, int store_text, uint64_t map,
                        uint64_t *h_doc2id, uint64_t *h_fields) {
    spar_meta_writer *w = NULL;
    spar_diag d;
    spar_status st = spar_meta_writer_open(dir, map, store_text, &w, &d);
    if (st != SPAR_OK) return st;
    char *text = malloc(text_bytes + 1);
    for (size_t i = 0; i < text_bytes; i++) text[i] = (char)('a' + i % 26);
    for (int i = 0; i < n && st == SPAR_OK; i++) {
        if (i % per_batch == 0) st = spar_meta_writer_begin(w, &d);
        char id[32], title[32];
        int il = snprintf(id, sizeof id, "id-%d", i), tl = snprintf(title, sizeof title, "T%d", i);
        if (st == SPAR_OK)
            st = spar_meta_writer_add(w, id, (size_t)il, title, (size_t)tl, text, text_bytes, NULL, &d);
        if (st == SPAR_OK && (i % per_batch == per_batch - 1 || i == n - 1)) st = spar_meta_writer_end(w, &d);
    }
    if (st == SPAR_OK) st = spar_meta_writer_set(w, "k1", "0.9", &d);
    free(text);
    if (st != SPAR_OK) {
        spar_meta_writer_abort(w);
        return st;
    }
    return spar_meta_writer_close(w, h_doc2id, h_fields, &d);
}

static void test_roundtrip(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    uint64_t hd = 0, hf = 0;
    CU_ASSERT_EQUAL_FATAL(fill(dir, 1000, 128, 10, 1, 1u << 20, &hd, &hf), SPAR_OK);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint64_t a = 0, b = 0, c = 0;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, &b, &c, &d), SPAR_OK);
    CU_ASSERT(a == 1000 && b == 1000 && c == 1000);
    char buf[32];
    size_t len = 0;
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 777, buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "id-777");
    CU_ASSERT_EQUAL(len, 6);
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "id-42", 5, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 42);
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "id-1000", 7, &docid), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1000, buf, sizeof buf, &len), SPAR_E_NOT_FOUND);
    char title[8], text[32];
    size_t tl = 0, xl = 0;
    CU_ASSERT_EQUAL(spar_meta_fields(m, 9, title, sizeof title, &tl, text, sizeof text, &xl), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(title, "T9");
    CU_ASSERT_STRING_EQUAL(text, "abcdefghij");
    CU_ASSERT_EQUAL(spar_meta_setting(m, "k1", buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "0.9");
    CU_ASSERT_EQUAL(spar_meta_setting(m, "nope", buf, sizeof buf, &len), SPAR_E_NOT_FOUND);
    uint64_t sd = 0, sf = 0;
    CU_ASSERT_EQUAL(spar_meta_scan(m, &sd, &sf, &d), SPAR_OK);
    CU_ASSERT_EQUAL(sd, hd);
    CU_ASSERT_EQUAL(sf, hf);
    spar_meta_close(m);
}

static void test_duplicate_id(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "a", 1, "", 0, "", 0, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "b", 1, "", 0, "", 0, NULL, &d), SPAR_OK);
    uint32_t first = 99;
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "b", 1, "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
    CU_ASSERT_EQUAL(first, 1);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, "c", 1, "", 0, "", 0, NULL, &d), SPAR_OK); /* gets docid 2 */
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_n_docs(w), 3);
    CU_ASSERT_EQUAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "c", 1, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 2);
    uint64_t a = 0, f = 1;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, NULL, &f, &d), SPAR_OK);
    CU_ASSERT_EQUAL(a, 3);
    CU_ASSERT_EQUAL(f, 0); /* store_text off */
    spar_meta_close(m);
}

static void test_mixed_order_ids(void) {
    /* ids out of byte order: id2doc is sorted at close, duplicates are found in the open batch */
    const char *ids[8] = {"m", "n", "b", "zz", "z", "a", "zzz", "mm"};
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(spar_meta_writer_add(w, ids[i], strlen(ids[i]), "", 0, "", 0, NULL, &d), SPAR_OK);
    for (int i = 0; i < 8; i++) {
        uint32_t first = 99;
        CU_ASSERT_EQUAL(spar_meta_writer_add(w, ids[i], strlen(ids[i]), "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
        CU_ASSERT_EQUAL(first, (uint32_t)i);
    }
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    for (int i = 0; i < 8; i++) {
        uint32_t docid = 99;
        CU_ASSERT_EQUAL(spar_meta_lookup(m, ids[i], strlen(ids[i]), &docid), SPAR_OK);
        CU_ASSERT_EQUAL(docid, (uint32_t)i);
    }
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
    spar_meta_close(m);
}

static void test_id_limits(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    char big[600];
    memset(big, 'x', sizeof big);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, big, spar_meta_max_id_bytes() + 1, "", 0, "", 0, NULL, &d),
                    SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "_id"));
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, big, spar_meta_max_id_bytes(), "", 0, "", 0, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
}

static void test_map_growth(void) {
    /* 3000 docs x 4 KiB text in a 1 MiB map: every batch hits MDB_MAP_FULL at some point */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    uint64_t hd = 0, hf = 0;
    CU_ASSERT_EQUAL_FATAL(fill(dir, 3000, 500, 4096, 1, 1u << 20, &hd, &hf), SPAR_OK);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint64_t a = 0, b = 0, c = 0;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, &b, &c, &d), SPAR_OK);
    CU_ASSERT(a == 3000 && b == 3000 && c == 3000);
    uint64_t sd = 0, sf = 0;
    CU_ASSERT_EQUAL(spar_meta_scan(m, &sd, &sf, &d), SPAR_OK);
    CU_ASSERT_EQUAL(sd, hd);
    CU_ASSERT_EQUAL(sf, hf);
    spar_meta_close(m);
}

static int same_file(const char *a, const char *b) {
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y;
    while (same) {
        int cx = fgetc(x), cy = fgetc(y);
        if (cx != cy) same = 0;
        if (cx == EOF || cy == EOF) break;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    return same;
}

static void test_deterministic_file(void) {
    char d1[300], d2[300], f1[320], f2[320];
    fresh_dir(d1, sizeof d1);
    fresh_dir(d2, sizeof d2);
    uint64_t h1 = 0, h2 = 0;
    CU_ASSERT_EQUAL_FATAL(fill(d1, 2000, 300, 50, 1, 8u << 20, &h1, NULL), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(fill(d2, 2000, 300, 50, 1, 8u << 20, &h2, NULL), SPAR_OK);
    CU_ASSERT_EQUAL(h1, h2);
    snprintf(f1, sizeof f1, "%s/%s", d1, SPAR_META_DATA_FILE);
    snprintf(f2, sizeof f2, "%s/%s", d2, SPAR_META_DATA_FILE);
    CU_ASSERT(same_file(f1, f2));
    char lock[320];
    snprintf(lock, sizeof lock, "%s/lock.mdb", d1);
    CU_ASSERT(access(lock, F_OK) != 0); /* MDB_NOLOCK: the env is one file */
}

static void test_open_missing(void) {
    spar_meta *m = NULL;
    spar_diag d;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/none", g_tmp);
    CU_ASSERT_NOT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, dir));
}

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* 40-hex-char id of i: distinct for distinct i (i in the first 8 digits), random-looking order */
static int hash_id(char *out, uint32_t i) {
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    return snprintf(out, 48, "%08x%016llx%016llx", i ^ 0x5bd1e995u, (unsigned long long)x,
                    (unsigned long long)(x ^ (x >> 29)));
}

static void test_hash_ids_many_batches(void) {
    /* 70000 hash ids in batches of 5000: many blocks, duplicate table growth, duplicates of ids already in
     * the file and of ids in the open batch */
    enum { N = 70000, PER = 5000 };
    char dir[300], id[64];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    for (uint32_t i = 0; i < N; i++) {
        if (i % PER == 0) CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
        int n = hash_id(id, i);
        CU_ASSERT_EQUAL(spar_meta_writer_add(w, id, (size_t)n, "", 0, "", 0, NULL, &d), SPAR_OK);
        if (i % 9973 == 17) { /* a duplicate of an early id (in the file after the first batch) */
            uint32_t first = UINT32_MAX, j = (uint32_t)(rnd() % (i + 1));
            n = hash_id(id, j);
            CU_ASSERT_EQUAL(spar_meta_writer_add(w, id, (size_t)n, "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
            CU_ASSERT_EQUAL(first, j);
        }
        if (i % PER == PER - 1) CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    }
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    uint32_t first = 0;
    int n = hash_id(id, 3);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, id, (size_t)n, "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
    CU_ASSERT_EQUAL(first, 3);
    n = hash_id(id, N - 1);
    CU_ASSERT_EQUAL(spar_meta_writer_add(w, id, (size_t)n, "", 0, "", 0, &first, &d), SPAR_E_EXISTS);
    CU_ASSERT_EQUAL(first, N - 1);
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_n_docs(w), N);
    uint64_t hd = 0;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_close(w, &hd, NULL, &d), SPAR_OK);

    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint64_t a = 0, b = 0;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, &b, NULL, &d), SPAR_OK);
    CU_ASSERT(a == N && b == N);
    unsigned bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        char got[64];
        size_t gl = 0;
        uint32_t docid = UINT32_MAX;
        n = hash_id(id, i);
        if (spar_meta_doc_id(m, i, got, sizeof got, &gl) != SPAR_OK || gl != (size_t)n || strcmp(got, id) != 0) bad++;
        if (spar_meta_lookup(m, id, (size_t)n, &docid) != SPAR_OK || docid != i) bad++;
        id[n - 1] = id[n - 1] == 'f' ? 'g' : 'z'; /* not hex: absent */
        if (spar_meta_lookup(m, id, (size_t)n, &docid) != SPAR_E_NOT_FOUND) bad++;
        if (spar_meta_lookup(m, id, (size_t)n - 1, &docid) != SPAR_E_NOT_FOUND) bad++; /* a prefix */
    }
    CU_ASSERT_EQUAL(bad, 0);
    uint32_t docid;
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "\xff\xff", 2, &docid), SPAR_E_NOT_FOUND); /* after every id */
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "!", 1, &docid), SPAR_E_NOT_FOUND);        /* before every id */
    char got[64];
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, N, got, sizeof got, NULL), SPAR_E_NOT_FOUND);
    uint64_t sd = 0;
    CU_ASSERT_EQUAL(spar_meta_scan(m, &sd, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL(sd, hd);
    spar_meta_close(m);
}

static void test_empty(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 1, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint64_t a = 1, b = 1, c = 1;
    CU_ASSERT_EQUAL(spar_meta_counts(m, &a, &b, &c, &d), SPAR_OK);
    CU_ASSERT(a == 0 && b == 0 && c == 0);
    uint32_t docid;
    char buf[8];
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "a", 1, &docid), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 0, buf, sizeof buf, NULL), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
    spar_meta_close(m);
}

static long file_size(const char *dir) {
    char p[320];
    snprintf(p, sizeof p, "%s/%s", dir, SPAR_META_DATA_FILE);
    FILE *f = fopen(p, "rb");
    if (f == NULL) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_small_file(void) {
    /* 50000 ids "d0000000".. (the debian shape): under 5 bytes per document plus a few empty pages */
    char dir[300], id[16];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 64u << 20, 0, &w, &d), SPAR_OK);
    for (int i = 0; i < 50000; i++) {
        if (i % 1000 == 0) CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
        int n = snprintf(id, sizeof id, "d%07d", i);
        CU_ASSERT_EQUAL(spar_meta_writer_add(w, id, (size_t)n, "", 0, "", 0, NULL, &d), SPAR_OK);
        if (i % 1000 == 999) CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    }
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    long sz = file_size(dir);
    CU_ASSERT(sz > 0 && sz <= 50000L * 5 + 16 * 4096);
    char left[320];
    snprintf(left, sizeof left, "%s/%s.compact", dir, SPAR_META_DATA_FILE);
    CU_ASSERT(access(left, F_OK) != 0); /* the compacted copy was renamed over data.mdb */
}

/* Replace the first occurrence of `pat` in dir/data.mdb by `rep` (same length); 1 if found. */
static int patch_file(const char *dir, const void *pat, const void *rep, size_t n) {
    char p[320];
    snprintf(p, sizeof p, "%s/%s", dir, SPAR_META_DATA_FILE);
    FILE *f = fopen(p, "r+b");
    if (f == NULL) return 0;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)sz);
    int found = 0;
    if (buf && fread(buf, 1, (size_t)sz, f) == (size_t)sz) {
        for (long i = 0; i + (long)n <= sz && !found; i++)
            if (memcmp(buf + i, pat, n) == 0) {
                fseek(f, i, SEEK_SET);
                found = fwrite(rep, 1, n, f) == n;
            }
    }
    free(buf);
    fclose(f);
    return found;
}

static void test_corrupt_block(void) {
    /* docid 1024 starts an id block ("id-1024" stored whole after its head byte 0x07): turning the head
     * into an escape makes the suffix length run past the restart group */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(fill(dir, 2000, 500, 0, 0, 1u << 20, NULL, NULL), SPAR_OK);
    CU_ASSERT_FATAL(patch_file(dir, "\x07id-1024", "\x0fid-1024", 8));
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    char buf[64];
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1024, buf, sizeof buf, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1030, buf, sizeof buf, NULL), SPAR_E_CORRUPT);
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1040, buf, sizeof buf, NULL), SPAR_OK); /* next restart group */
    uint32_t docid;
    spar_status st = spar_meta_lookup(m, "id-1024", 7, &docid);
    CU_ASSERT(st == SPAR_E_CORRUPT || st == SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "doc2id"));
    spar_meta_close(m);
}

static void test_future_version(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(fill(dir, 10, 10, 0, 0, 1u << 20, NULL, NULL), SPAR_OK);
    CU_ASSERT_FATAL(patch_file(dir, "SPARMETA\x02\0\0\0", "SPARMETA\x03\0\0\0", 12));
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_E_VERSION);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "unsupported meta.lmdb format version 3"));
}

static void test_version1_refused(void) {
    /* a format-1 environment (one LMDB entry per id in each direction, no "info" database) */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
    CU_ASSERT_EQUAL(mdb_env_set_maxdbs(env, 4), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, MDB_NOLOCK, 0644), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
    const char *names[4] = {"id2doc", "doc2id", "fields", "settings"};
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi), 0);
    MDB_val k = {1, "a"}, v = {4, "\0\0\0\0"};
    CU_ASSERT_EQUAL(mdb_put(txn, dbi, &k, &v, 0), 0);
    CU_ASSERT_EQUAL(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_E_VERSION);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "unsupported meta.lmdb format version 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, dir));
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "%s/spar-test-meta-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmp) == NULL) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("storage/meta", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "ids, fields, settings round trip; scan hash = writer hash", test_roundtrip) ||
        !CU_add_test(s, "duplicate id: SPAR_E_EXISTS with the first docid", test_duplicate_id) ||
        !CU_add_test(s, "ids out of byte order: sorted id2doc, duplicates in the open batch", test_mixed_order_ids) ||
        !CU_add_test(s, "id length limit", test_id_limits) ||
        !CU_add_test(s, "map grows on MDB_MAP_FULL (batch rewritten)", test_map_growth) ||
        !CU_add_test(s, "same writes -> byte-identical data.mdb, no lock file", test_deterministic_file) ||
        !CU_add_test(s, "open of a missing env fails naming it", test_open_missing) ||
        !CU_add_test(s, "70000 hash ids, 15 batches: round trips, absent ids, duplicates in file and batch",
                     test_hash_ids_many_batches) ||
        !CU_add_test(s, "no documents: empty maps open, scan and answer NOT_FOUND", test_empty) ||
        !CU_add_test(s, "50000 sequential ids: data.mdb <= 5 bytes/doc + 16 pages", test_small_file) ||
        !CU_add_test(s, "damaged id block: lookups and scan say corrupt, no crash", test_corrupt_block) ||
        !CU_add_test(s, "meta format version 3: unsupported version error", test_future_version) ||
        !CU_add_test(s, "meta format version 1 (one entry per id): unsupported version error", test_version1_refused))
        goto out;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
out:;
    int rc = (CU_get_error() != CUE_SUCCESS || CU_get_number_of_failures() != 0);
    CU_cleanup_registry();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (rc == 0 && system(cmd) != 0) rc = 1;
    return rc;
}
