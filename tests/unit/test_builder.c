/* test_builder.c — spar_index_build (index/builder.c): small JSONL corpora in a temp dir; determinism
 * across thread counts and across the spill/no-spill paths (byte-identical files), on_error fail/skip
 * accounting, duplicate ids, cancellation and existing directories leaving nothing half-written. */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spar/spar_index.h"

#include "common/test_util.h"

static char g_tmp[256];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_tmp, name); }

/* Seeded synthetic corpus: n docs of 5..60 words from a 2000-word pseudo vocabulary (Zipf-like). */
static void write_synth(const char *path, int n, unsigned seed) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int i = 0; i < n; i++) {
        fprintf(f, "{\"_id\": \"d%d\", \"title\": \"t%d\", \"text\": \"", i, i % 97);
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int len = 5 + (int)((x >> 33) % 56);
        for (int k = 0; k < len; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(x >> 33);
            uint32_t w = (r % 2000) * (r % 2000) / 2000; /* skewed to small ids */
            char word[16];
            int wl = 0;
            uint32_t v = w + 11;
            while (v) {
                word[wl++] = (char)('a' + v % 26);
                v /= 26;
            }
            word[wl++] = 'q';
            word[wl] = '\0';
            fprintf(f, "%s%s", k ? " " : "", word);
        }
        fputs("\"}\n", f);
    }
    fclose(f);
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Count entries of g_tmp whose name starts with prefix (leftover temp dirs). */
static int count_prefix(const char *prefix) {
    DIR *d = opendir(g_tmp);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    if (d) closedir(d);
    return n;
}

static spar_status build1(const char *in, const char *out, spar_build_opts *o, spar_build_stats *stats,
                          spar_diag *diag) {
    const char *inputs[1] = {in};
    return spar_index_build(inputs, 1, out, o, stats, diag);
}

static void test_build_small_and_open(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "small.jsonl");
    path_in(out, sizeof out, "small-idx");
    spar_test_write_text(in, "{\"_id\": \"a\", \"title\": \"Hello\", \"text\": \"the quick brown fox\"}\n"
                             "{\"_id\": \"b\", \"text\": \"lazy dogs and quick foxes\"}\n"
                             "\n"
                             "{\"_id\": \"c\", \"title\": \"\", \"text\": \"brown\"}\n");
    spar_build_opts o;
    spar_build_opts_default(&o);
    spar_build_stats s;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(build1(in, out, &o, &s, &d), SPAR_OK);
    CU_ASSERT_EQUAL(s.n_docs, 3);
    CU_ASSERT_EQUAL(s.n_lines, 4);
    CU_ASSERT_EQUAL(s.n_blank, 1);
    CU_ASSERT_EQUAL(s.n_skipped, 0);
    CU_ASSERT(s.index_bytes > 0);
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(out, &ix, &d), SPAR_OK);
    spar_index_info info;
    spar_index_get_info(ix, &info);
    CU_ASSERT_EQUAL(info.n_docs, 3);
    CU_ASSERT_EQUAL(info.n_terms, s.n_terms);
    CU_ASSERT_EQUAL(info.n_postings, s.n_postings);
    CU_ASSERT(info.k1 == 0.9f && info.b == 0.4f);
    /* hello quick brown fox | lazi dog quick fox | brown  (porter, "the"/"and" stopped) */
    CU_ASSERT_EQUAL(info.n_terms, 6);
    CU_ASSERT_EQUAL(info.n_postings, 9);
    char buf[16];
    size_t len = 0;
    CU_ASSERT_EQUAL(spar_index_doc_id(ix, 1, buf, sizeof buf, &len), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "b");
    CU_ASSERT_EQUAL(len, 1);
    CU_ASSERT_EQUAL(spar_index_doc_id(ix, 3, buf, sizeof buf, &len), SPAR_E_NOT_FOUND);
    uint32_t docid = 99;
    CU_ASSERT_EQUAL(spar_index_lookup_id(ix, "c", 1, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 2);
    CU_ASSERT_EQUAL(spar_index_lookup_id(ix, "zz", 2, &docid), SPAR_E_NOT_FOUND);
    spar_index_close(ix);
}

static void build_synth(const char *in, const char *out, int threads, size_t budget, int *saw_merge);

typedef struct prog_rec {
    int saw_merge;
    uint64_t merge_runs;
    int cancel_at_stage; /* 0 none; else cancel at first call whose stage == cancel_stage */
    const char *cancel_stage;
    int calls;
    uint64_t last_read_done, read_total;
} prog_rec;

static int on_progress(void *ud, const spar_progress *p) {
    prog_rec *r = ud;
    r->calls++;
    if (strcmp(p->stage, "merge") == 0) {
        r->saw_merge = 1;
        r->merge_runs = p->total;
    }
    if (strcmp(p->stage, "read") == 0) {
        r->last_read_done = p->done;
        r->read_total = p->total;
    }
    return r->cancel_stage != NULL && strcmp(p->stage, r->cancel_stage) == 0;
}

static void build_synth(const char *in, const char *out, int threads, size_t budget, int *saw_merge) {
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.n_threads = threads;
    o.mem_budget = budget;
    prog_rec r;
    memset(&r, 0, sizeof r);
    o.progress = on_progress;
    o.progress_ud = &r;
    spar_diag d;
    spar_build_stats s;
    CU_ASSERT_EQUAL_FATAL(build1(in, out, &o, &s, &d), SPAR_OK);
    CU_ASSERT_EQUAL(s.n_docs, 9000);
    CU_ASSERT_EQUAL(r.last_read_done, r.read_total); /* final "read" report covers all bytes */
    if (saw_merge) *saw_merge = r.saw_merge && r.merge_runs > 1;
}

static void compare_dirs(const char *a, const char *b, int with_meta) {
    const char *files[3] = {"seg-000001.post", "MANIFEST", "meta.lmdb/data.mdb"};
    for (int i = 0; i < (with_meta ? 3 : 1); i++) {
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        CU_ASSERT(exists(pa));
        if (!spar_test_same_file(pa, pb)) {
            fprintf(stderr, "\n  differs: %s\n", files[i]);
            CU_FAIL("files differ");
        }
    }
}

static void test_threads_byte_identical(void) {
    char in[512], o1[512], o8[512];
    path_in(in, sizeof in, "synth.jsonl");
    path_in(o1, sizeof o1, "synth-t1");
    path_in(o8, sizeof o8, "synth-t8");
    write_synth(in, 9000, 7);
    build_synth(in, o1, 1, 0, NULL);
    build_synth(in, o8, 8, 0, NULL);
    compare_dirs(o1, o8, 1);
}

static void test_spill_byte_identical(void) {
    char in[512], o1[512], os[512], os2[512];
    path_in(in, sizeof in, "synth.jsonl");
    path_in(o1, sizeof o1, "synth-t1");
    path_in(os, sizeof os, "synth-spill");
    path_in(os2, sizeof os2, "synth-spill8");
    int saw = 0;
    build_synth(in, os, 1, 256u << 10, &saw);
    CU_ASSERT(saw); /* several runs were written and merged */
    build_synth(in, os2, 8, 256u << 10, NULL);
    compare_dirs(o1, os, 0);  /* segment identical to the in-memory path */
    compare_dirs(os, os2, 1); /* and every file identical across threads */
    spar_index *ix = NULL;
    spar_diag d;
    CU_ASSERT_EQUAL(spar_index_open(os, &ix, &d), SPAR_OK);
    spar_index_close(ix);
}

static void test_fail_leaves_nothing(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "bad.jsonl");
    path_in(out, sizeof out, "bad-idx");
    spar_test_write_text(in, "{\"_id\": \"a\", \"text\": \"one\"}\n{\"_id\": \"b\", \"text\": }\n"
                             "{\"_id\": \"c\", \"text\": \"x\"}\n");
    spar_build_opts o;
    spar_build_opts_default(&o);
    spar_diag d;
    spar_build_stats s;
    CU_ASSERT_EQUAL(build1(in, out, &o, &s, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "bad.jsonl:2:"));
    CU_ASSERT(!exists(out));
    CU_ASSERT_EQUAL(count_prefix("bad-idx"), 0);
}

static void test_skip_counts_reconcile(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "skip.jsonl");
    path_in(out, sizeof out, "skip-idx");
    spar_test_write_text(in, "{\"_id\": \"a\", \"text\": \"one\"}\n"
                             "not json\n"
                             "\n"
                             "{\"_id\": \"b\", \"text\": \"two\"}\n"
                             "{\"_id\": \"a\", \"text\": \"again\"}\n"
                             "{\"text\": \"no id\"}\n"
                             "{\"_id\": \"c\", \"text\": \"three\"}\n");
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.on_error = SPAR_ON_ERROR_SKIP;
    spar_diag d;
    spar_build_stats s;
    CU_ASSERT_EQUAL_FATAL(build1(in, out, &o, &s, &d), SPAR_OK);
    CU_ASSERT_EQUAL(s.n_docs, 3);
    CU_ASSERT_EQUAL(s.n_skipped, 3);
    CU_ASSERT_EQUAL(s.n_blank, 1);
    CU_ASSERT_EQUAL(s.n_lines, 7);
    CU_ASSERT_EQUAL(s.n_lines, s.n_docs + s.n_skipped + s.n_blank);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.first_error, "skip.jsonl:2:"));
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(out, &ix, &d), SPAR_OK);
    uint32_t docid = 0;
    CU_ASSERT_EQUAL(spar_index_lookup_id(ix, "c", 1, &docid), SPAR_OK);
    CU_ASSERT_EQUAL(docid, 2);
    spar_index_close(ix);
}

static void test_duplicate_id_fails_with_line(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "dup.jsonl");
    path_in(out, sizeof out, "dup-idx");
    spar_test_write_text(in, "{\"_id\": \"x\", \"text\": \"one\"}\n{\"_id\": \"y\", \"text\": \"two\"}\n"
                             "{\"_id\": \"x\", \"text\": \"three\"}\n");
    spar_build_opts o;
    spar_build_opts_default(&o);
    spar_diag d;
    CU_ASSERT_EQUAL(build1(in, out, &o, NULL, &d), SPAR_E_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "dup.jsonl:3: duplicate _id 'x' (first seen at line 1)"));
    CU_ASSERT(!exists(out));
    CU_ASSERT_EQUAL(count_prefix("dup-idx"), 0);
}

static void cancel_at(const char *stage, size_t budget) {
    char in[512], out[512];
    path_in(in, sizeof in, "synth.jsonl");
    path_in(out, sizeof out, "cancel-idx");
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.mem_budget = budget;
    prog_rec r;
    memset(&r, 0, sizeof r);
    r.cancel_stage = stage;
    o.progress = on_progress;
    o.progress_ud = &r;
    spar_diag d;
    CU_ASSERT_EQUAL(build1(in, out, &o, NULL, &d), SPAR_E_CANCELLED);
    CU_ASSERT(r.calls >= 1);
    CU_ASSERT(!exists(out));
    CU_ASSERT_EQUAL(count_prefix("cancel-idx"), 0);
}

static void test_cancel_read(void) { cancel_at("read", 0); }
static void test_cancel_merge(void) { cancel_at("merge", 256u << 10); }
static void test_cancel_write(void) { cancel_at("write", 0); }

static void test_existing_dir(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "small.jsonl");
    path_in(out, sizeof out, "small-idx"); /* built by the first test */
    spar_build_opts o;
    spar_build_opts_default(&o);
    spar_diag d;
    CU_ASSERT_EQUAL(build1(in, out, &o, NULL, &d), SPAR_E_EXISTS);
    /* overwrite replaces it with a new, valid index */
    spar_test_write_text(in, "{\"_id\": \"only\", \"text\": \"single document\"}\n");
    o.overwrite = 1;
    CU_ASSERT_EQUAL_FATAL(build1(in, out, &o, NULL, &d), SPAR_OK);
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(out, &ix, &d), SPAR_OK);
    spar_index_info info;
    spar_index_get_info(ix, &info);
    CU_ASSERT_EQUAL(info.n_docs, 1);
    spar_index_close(ix);
    CU_ASSERT_EQUAL(count_prefix("small-idx"), 1); /* no .old-/.tmp- leftovers */
}

static void test_missing_input_is_io(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "does-not-exist.jsonl");
    path_in(out, sizeof out, "missing-idx");
    spar_diag d;
    CU_ASSERT_EQUAL(build1(in, out, NULL, NULL, &d), SPAR_E_IO);
    CU_ASSERT(!exists(out));
    CU_ASSERT_EQUAL(count_prefix("missing-idx"), 0);
}

static void test_missing_parent_is_io(void) {
    char in[512], out[512];
    path_in(in, sizeof in, "small.jsonl");
    path_in(out, sizeof out, "no-such-dir/idx");
    spar_diag d;
    CU_ASSERT_EQUAL(build1(in, out, NULL, NULL, &d), SPAR_E_IO);
    CU_ASSERT(!exists(out));
}

static void test_tsv_and_gzip_inputs(void) {
    /* same documents as TSV and as gzip-compressed JSONL: same postings */
    char tsv[512], gz[512], o1[512], o2[512], cmd[1200];
    path_in(tsv, sizeof tsv, "docs.tsv");
    path_in(gz, sizeof gz, "docs.jsonl");
    path_in(o1, sizeof o1, "tsv-idx");
    path_in(o2, sizeof o2, "gz-idx");
    spar_test_write_text(tsv, "a\tcats and dogs\nb\tdogs chase cats\n");
    spar_test_write_text(gz, "{\"_id\": \"a\", \"text\": \"cats and dogs\"}\n"
                             "{\"_id\": \"b\", \"text\": \"dogs chase cats\"}\n");
    snprintf(cmd, sizeof cmd, "gzip -f '%s'", gz);
    if (system(cmd) != 0) {
        CU_FAIL("gzip not available");
        return;
    }
    strcat(gz, ".gz");
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(build1(tsv, o1, NULL, NULL, &d), SPAR_OK);
    CU_ASSERT_EQUAL_FATAL(build1(gz, o2, NULL, NULL, &d), SPAR_OK);
    char s1[600], s2[600];
    snprintf(s1, sizeof s1, "%s/seg-000001.post", o1);
    snprintf(s2, sizeof s2, "%s/seg-000001.post", o2);
    CU_ASSERT(spar_test_same_file(s1, s2));
}

static void test_two_inputs_docids_in_order(void) {
    char a[512], b[512], out[512];
    path_in(a, sizeof a, "part1.jsonl");
    path_in(b, sizeof b, "part2.jsonl");
    path_in(out, sizeof out, "two-idx");
    spar_test_write_text(a, "{\"_id\": \"p1\", \"text\": \"alpha\"}\n");
    spar_test_write_text(b, "{\"_id\": \"p2\", \"text\": \"beta\"}\n{\"_id\": \"p1\", \"text\": \"dup\"}\n");
    const char *inputs[2] = {a, b};
    spar_build_opts o;
    spar_build_opts_default(&o);
    o.on_error = SPAR_ON_ERROR_SKIP;
    spar_build_stats s;
    spar_diag d;
    CU_ASSERT_EQUAL_FATAL(spar_index_build(inputs, 2, out, &o, &s, &d), SPAR_OK);
    CU_ASSERT_EQUAL(s.n_docs, 2);
    CU_ASSERT_EQUAL(s.n_lines, 3);
    CU_ASSERT_EQUAL(s.n_skipped, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.first_error, "part2.jsonl:2: duplicate _id 'p1' (first seen at "));
    CU_ASSERT_PTR_NOT_NULL(strstr(s.first_error, "part1.jsonl:1)"));
    spar_index *ix = NULL;
    CU_ASSERT_EQUAL_FATAL(spar_index_open(out, &ix, &d), SPAR_OK);
    char buf[8];
    CU_ASSERT_EQUAL(spar_index_doc_id(ix, 1, buf, sizeof buf, NULL), SPAR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "p2");
    spar_index_close(ix);
}

int main(void) {
    if (spar_test_mkdtemp(g_tmp, sizeof g_tmp, "builder") != 0) return 1;
    if (CU_initialize_registry() != CUE_SUCCESS) return (int)CU_get_error();
    CU_pSuite s = CU_add_suite("index/builder", NULL, NULL);
    int ok = s != NULL &&
             CU_add_test(s, "build a small corpus, open, ids and lookup", test_build_small_and_open) &&
             CU_add_test(s, "1 vs 8 threads: every file byte-identical", test_threads_byte_identical) &&
             CU_add_test(s, "spill path (tiny mem_budget) gives identical files", test_spill_byte_identical) &&
             CU_add_test(s, "on_error fail: SPAR_E_CORRUPT file:line, nothing written", test_fail_leaves_nothing) &&
             CU_add_test(s, "on_error skip: counts reconcile", test_skip_counts_reconcile) &&
             CU_add_test(s, "duplicate _id names the first line", test_duplicate_id_fails_with_line) &&
             CU_add_test(s, "cancel in read leaves nothing", test_cancel_read) &&
             CU_add_test(s, "cancel in merge leaves nothing", test_cancel_merge) &&
             CU_add_test(s, "cancel in write leaves nothing", test_cancel_write) &&
             CU_add_test(s, "existing dir: SPAR_E_EXISTS, overwrite replaces", test_existing_dir) &&
             CU_add_test(s, "missing input: SPAR_E_IO, nothing written", test_missing_input_is_io) &&
             CU_add_test(s, "missing parent directory: SPAR_E_IO", test_missing_parent_is_io) &&
             CU_add_test(s, "TSV and gzip JSONL inputs give the same segment", test_tsv_and_gzip_inputs) &&
             CU_add_test(s, "two inputs: docids in input order, cross-file duplicate", test_two_inputs_docids_in_order);
    return spar_test_run(ok, g_tmp);
}
