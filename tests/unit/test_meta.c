/* test_meta.c — the LMDB metadata store (storage/meta.c, format 3): id <-> docid round trips (ordered,
 * random-order, numbered and hash-like ids over many blocks and batches), duplicate ids detected at once
 * whether the first copy is still in memory or already in the file, stored fields, settings, map growth
 * on MDB_MAP_FULL, content hashes recomputed by the scan, a damaged id block reported as corrupt, old
 * (1, 2) and future format versions refused, a small index in one leaf page (12 KiB), byte-identical
 * files for identical content whatever the batches; the sort key and successor of storage/meta_block.h. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/meta.h"
#include "storage/meta_block.h"

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
    /* docid 1024 starts an id block of 128 ("id-1024" stored whole after its head byte 0x07; the block's
     * later restart groups are offsets from it): turning the head into an escape makes the suffix length
     * run past the restart group */
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
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1040, buf, sizeof buf, NULL), SPAR_E_CORRUPT); /* its restart: 1024 + 16 */
    CU_ASSERT_EQUAL(spar_meta_doc_id(m, 1152, buf, sizeof buf, NULL), SPAR_OK);        /* the next block */
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
    CU_ASSERT_FATAL(patch_file(dir, "SPARMETA\x03\0\0\0", "SPARMETA\x04\0\0\0", 12));
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_E_VERSION);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "unsupported meta.lmdb format version 4"));
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

static void test_version2_refused(void) {
    /* a format-2 environment: named databases, its header in "info" */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
    CU_ASSERT_EQUAL(mdb_env_set_maxdbs(env, 5), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, dir, MDB_NOLOCK, 0644), 0);
    CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
    const char *names[4] = {"id2doc", "doc2id", "fields", "settings"};
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi), 0);
    CU_ASSERT_EQUAL(mdb_dbi_open(txn, "info", MDB_CREATE, &dbi), 0);
    unsigned char hdr[24] = "SPARMETA\x02";
    MDB_val k = {6, "header"}, v = {sizeof hdr, hdr};
    CU_ASSERT_EQUAL(mdb_put(txn, dbi, &k, &v, 0), 0);
    CU_ASSERT_EQUAL(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_E_VERSION);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "unsupported meta.lmdb format version 2 (this build reads version 3)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "rebuild the index"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, dir));
}

/* n ids "<prefix><i>" (printf format fmt) for i = 0..n-1, no text, one batch per `per` documents. */
static spar_status fill_fmt(const char *dir, const char *fmt, int first, int n, int per, int store_text) {
    spar_meta_writer *w = NULL;
    spar_diag d;
    spar_status st = spar_meta_writer_open(dir, 1u << 20, store_text, &w, &d);
    if (st != SPAR_OK) return st;
    for (int i = 0; i < n && st == SPAR_OK; i++) {
        char id[64];
        int il = snprintf(id, sizeof id, fmt, first + i);
        if (i % per == 0) st = spar_meta_writer_begin(w, &d);
        if (st == SPAR_OK) st = spar_meta_writer_add(w, id, (size_t)il, "t", 1, id, (size_t)il, NULL, &d);
        if (st == SPAR_OK && (i % per == per - 1 || i == n - 1)) st = spar_meta_writer_end(w, &d);
    }
    const char *set[4][2] = {{"analysis", "{\"lowercase\":true,\"stem\":\"porter\"}"}, {"k1", "0.9"}, {"b", "0.4"},
                             {"n_docs", "1400"}};
    for (int i = 0; i < 4 && st == SPAR_OK; i++) st = spar_meta_writer_set(w, set[i][0], set[i][1], &d);
    if (st != SPAR_OK) {
        spar_meta_writer_abort(w);
        return st;
    }
    return spar_meta_writer_close(w, NULL, NULL, &d);
}

static void test_small_index_one_leaf(void) {
    /* 1400 ids "1".."1400" (the Cranfield shape) and four settings: two meta pages and one leaf */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(fill_fmt(dir, "%d", 1, 1400, 500, 0), SPAR_OK);
    CU_ASSERT_EQUAL(file_size(dir), 3 * 4096);
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
    spar_meta_close(m);
}

static void test_gapped_numbers_one_leaf(void) {
    /* 6000 ids 1..6006 with every 1000th missing (the LISA shape): numbered ids with gaps still fit one
     * leaf (one id2doc run block per id block) */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_begin(w, &d), SPAR_OK);
    for (int i = 1; i <= 6006; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "%d", i);
        if (i % 1000 != 0) CU_ASSERT_EQUAL(spar_meta_writer_add(w, id, (size_t)n, "", 0, "", 0, NULL, &d), SPAR_OK);
    }
    CU_ASSERT_EQUAL(spar_meta_writer_end(w, &d), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL(file_size(dir), 3 * 4096);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "6006", 4, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 5999);
    CU_ASSERT_EQUAL(spar_meta_lookup(m, "3000", 4, &docid), SPAR_E_NOT_FOUND);
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
    spar_meta_close(m);
}

static void test_setting_replaced(void) {
    /* settings live in memory until close: setting a name again replaces its value */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    spar_meta_writer *w = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_open(dir, 1u << 20, 0, &w, &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_set(w, "k1", "1.2", &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_set(w, "b", "0.75", &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_set(w, "k1", "0.9", &d), SPAR_OK);
    CU_ASSERT_EQUAL(spar_meta_writer_set(w, "", "x", &d), SPAR_E_INVALID_ARG);
    CU_ASSERT_EQUAL_FATAL(spar_meta_writer_close(w, NULL, NULL, &d), SPAR_OK);
    spar_meta *m = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
    char buf[16];
    size_t len = 0;
    CU_ASSERT_EQUAL(spar_meta_setting(m, "k1", buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "0.9");
    CU_ASSERT_EQUAL(spar_meta_setting(m, "b", buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "0.75");
    CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
    spar_meta_close(m);
}

static void test_scratch_file_removed(void) {
    char dir[300], p[320];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(fill_fmt(dir, "q%d", 0, 300, 100, 1), SPAR_OK);
    snprintf(p, sizeof p, "%s/build.mdb", dir);
    CU_ASSERT(access(p, F_OK) != 0);
    snprintf(p, sizeof p, "%s/%s", dir, SPAR_META_DATA_FILE);
    CU_ASSERT(access(p, F_OK) == 0);
}

static void test_numbered_ids_lookup(void) {
    /* numbered ids cross widths (9 -> 10 -> 100 -> 1000) and zero-padded ones roll over (x099 -> x100): both
     * maps round trip, neighbours and other spellings of the numbers are absent */
    const char *fmts[3] = {"%d", "x%03d", "doc-%d.v2-%d"};
    for (int f = 0; f < 2; f++) {
        char dir[300];
        fresh_dir(dir, sizeof dir);
        const int first = f == 0 ? 1 : 0, n = f == 0 ? 3000 : 1000;
        CU_ASSERT_EQUAL_FATAL(fill_fmt(dir, fmts[f], first, n, 700, 0), SPAR_OK);
        spar_meta *m = NULL;
        spar_diag d;
        CU_ASSERT_EQUAL_FATAL(spar_meta_open(dir, &m, &d), SPAR_OK);
        unsigned bad = 0;
        for (int i = 0; i < n; i++) {
            char id[32], got[32];
            int il = snprintf(id, sizeof id, fmts[f], first + i);
            uint32_t docid = UINT32_MAX;
            size_t gl = 0;
            if (spar_meta_lookup(m, id, (size_t)il, &docid) != SPAR_OK || docid != (uint32_t)i) bad++;
            if (spar_meta_doc_id(m, (uint32_t)i, got, sizeof got, &gl) != SPAR_OK || strcmp(got, id) != 0) bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
        uint32_t docid;
        const char *absent[6] = {"0", "01", "3001", "10000", "x1000", "x0100 "};
        for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(spar_meta_lookup(m, absent[i], strlen(absent[i]), &docid), SPAR_E_NOT_FOUND);
        CU_ASSERT_EQUAL(spar_meta_scan(m, NULL, NULL, &d), SPAR_OK);
        spar_meta_close(m);
    }
}

static void test_same_content_other_batches(void) {
    /* the builder's batches depend on its thread count: the file must not */
    char d1[300], d2[300], f1[320], f2[320];
    fresh_dir(d1, sizeof d1);
    fresh_dir(d2, sizeof d2);
    CU_ASSERT_EQUAL_FATAL(fill_fmt(d1, "doc%d", 0, 5000, 5000, 1), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(fill_fmt(d2, "doc%d", 0, 5000, 37, 1), SPAR_OK);
    snprintf(f1, sizeof f1, "%s/%s", d1, SPAR_META_DATA_FILE);
    snprintf(f2, sizeof f2, "%s/%s", d2, SPAR_META_DATA_FILE);
    CU_ASSERT(same_file(f1, f2));
}

static void test_header_count_mismatch(void) {
    /* a header whose record counts disagree with the B-tree is refused at open */
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(fill(dir, 10, 10, 0, 0, 1u << 20, NULL, NULL), SPAR_OK);
    /* the header: magic, version 3, flags 0, n_docs 10, n_fields 0, 1 doc2id block, 1 id2doc block, then
     * n_settings 1: claim 2 */
    const char hdr[] = "SPARMETA\x03\0\0\0\0\0\0\0\x0a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0"
                       "\x01\0\0\0\0\0\0\0\x01";
    char bad[sizeof hdr];
    memcpy(bad, hdr, sizeof hdr);
    bad[sizeof hdr - 2] = 2;
    CU_ASSERT_FATAL(patch_file(dir, hdr, bad, sizeof hdr - 1));
    spar_meta *m = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_meta_open(dir, &m, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "records"));
}

static void test_sortkey_numeric_order(void) {
    /* memcmp order of sort keys: numbers by value whatever their width, distinct ids never share a key */
    const char *asc[] = {"", "9", "10", "99", "100", "a", "a1", "a2", "a10", "a010", "a011", "ab", "b"};
    uint8_t x[SPAR_SORTKEY_MAX], y[SPAR_SORTKEY_MAX];
    for (size_t i = 1; i + 1 < sizeof asc / sizeof *asc; i++) {
        size_t xl = spar_sortkey((const uint8_t *)asc[i], strlen(asc[i]), x);
        size_t yl = spar_sortkey((const uint8_t *)asc[i + 1], strlen(asc[i + 1]), y);
        int c = memcmp(x, y, xl < yl ? xl : yl);
        CU_ASSERT(c < 0 || (c == 0 && xl < yl));
    }
    /* an id that spells another's key: "a" 0x02 "10" is the key of "a10", its own key differs */
    const uint8_t tricky[] = {'a', 0x02, '1', '0'};
    size_t xl = spar_sortkey((const uint8_t *)"a10", 3, x), yl = spar_sortkey(tricky, sizeof tricky, y);
    CU_ASSERT(!(xl == yl && memcmp(x, y, xl) == 0));
    /* 33 digits: no length byte (the key is the id) */
    char big[40];
    memset(big, '7', 33);
    CU_ASSERT_EQUAL(spar_sortkey((const uint8_t *)big, 33, x), 33);
}

static void test_id_successor(void) {
    const char *from[] = {"1", "9", "a09", "a99", "0999", "x-1.2", "7a0"}, *to[] = {"2", "10", "a10", "a100", "1000",
                                                                                  "x-1.3", "7a1"};
    for (size_t i = 0; i < sizeof from / sizeof *from; i++) {
        uint8_t id[SPAR_IDBLOCK_ID_MAX];
        size_t len = strlen(from[i]);
        memcpy(id, from[i], len);
        CU_ASSERT_EQUAL(spar_id_succ(id, &len), 1);
        CU_ASSERT(len == strlen(to[i]) && memcmp(id, to[i], len) == 0);
    }
    uint8_t id[SPAR_IDBLOCK_ID_MAX];
    size_t len = 2;
    memcpy(id, "a-", 2);
    CU_ASSERT_EQUAL(spar_id_succ(id, &len), 0); /* no trailing digit */
    memset(id, '9', SPAR_IDBLOCK_ID_MAX);
    len = SPAR_IDBLOCK_ID_MAX;
    CU_ASSERT_EQUAL(spar_id_succ(id, &len), 0); /* would be one byte too long */
}

static void test_id_block_runs(void) {
    /* 128 consecutive numbers cost one literal and one run per restart group */
    static spar_idblock_enc e;
    uint8_t blk[SPAR_IDBLOCK_MAX_BYTES];
    spar_idblock_enc_reset(&e);
    for (int i = 0; i < 128; i++) {
        char id[16];
        int n = snprintf(id, sizeof id, "doc%d", 990 + i);
        CU_ASSERT_FATAL(spar_idblock_enc_fits(&e, (const uint8_t *)id, (size_t)n));
        spar_idblock_enc_add(&e, (const uint8_t *)id, (size_t)n);
    }
    size_t len = spar_idblock_enc_finish(&e, blk);
    CU_ASSERT(len <= 2 + 7 + (1 + 6 + 2) + 7 * (1 + 2 + 2)); /* literal + run, then (offset + run) x 7 */
    for (uint32_t i = 0; i < 128; i++) {
        char want[16], got[SPAR_IDBLOCK_ID_MAX + 1];
        size_t gl = 0;
        int n = snprintf(want, sizeof want, "doc%u", 990 + i);
        CU_ASSERT_EQUAL(spar_idblock_get(blk, len, i, (uint8_t *)got, &gl), SPAR_OK);
        CU_ASSERT(gl == (size_t)n && memcmp(got, want, gl) == 0);
    }
    CU_ASSERT_EQUAL(spar_idblock_each(blk, len, NULL, NULL, NULL), SPAR_OK);
    /* a run that would run past its restart group is malformed */
    const uint8_t past_group[] = {0x02, 0x01, '1', 0x00, 0x02};
    CU_ASSERT_EQUAL(spar_idblock_each(past_group, sizeof past_group, NULL, NULL, NULL), SPAR_E_CORRUPT);
    /* a run cannot start a group (no previous id) */
    const uint8_t at_restart[] = {0x01, 0x00, 0x01};
    CU_ASSERT_EQUAL(spar_idblock_each(at_restart, sizeof at_restart, NULL, NULL, NULL), SPAR_E_CORRUPT);
    /* group 0 has no first id to be an offset from */
    const uint8_t offset_first[] = {0x01, 0x00, 0x05};
    CU_ASSERT_EQUAL(spar_idblock_each(offset_first, sizeof offset_first, NULL, NULL, NULL), SPAR_E_CORRUPT);
    /* a run after an id that does not end with a digit */
    const uint8_t no_digit[] = {0x02, 0x01, 'a', 0x00, 0x01};
    CU_ASSERT_EQUAL(spar_idblock_each(no_digit, sizeof no_digit, NULL, NULL, NULL), SPAR_E_CORRUPT);
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
        !CU_add_test(s, "meta format version 4: unsupported version error", test_future_version) ||
        !CU_add_test(s, "meta format version 2 (named databases): rebuild-the-index error", test_version2_refused) ||
        !CU_add_test(s, "1400 numbered ids + settings: data.mdb is 3 pages (one leaf)", test_small_index_one_leaf) ||
        !CU_add_test(s, "6000 numbered ids with gaps: data.mdb is 3 pages", test_gapped_numbers_one_leaf) ||
        !CU_add_test(s, "a setting set twice keeps its last value", test_setting_replaced) ||
        !CU_add_test(s, "the scratch file is gone after close", test_scratch_file_removed) ||
        !CU_add_test(s, "numbered ids across widths and zero-padded: both maps, absent spellings", test_numbered_ids_lookup) ||
        !CU_add_test(s, "same content in other batches -> byte-identical data.mdb", test_same_content_other_batches) ||
        !CU_add_test(s, "header counts disagreeing with the B-tree: corrupt at open", test_header_count_mismatch) ||
        !CU_add_test(s, "sort keys order numbers by value and stay distinct", test_sortkey_numeric_order) ||
        !CU_add_test(s, "id successor: carries, widths, no digit, too long", test_id_successor) ||
        !CU_add_test(s, "id block runs and restart offsets: compact, by position, malformed ones refused", test_id_block_runs) ||
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
