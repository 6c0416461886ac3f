/* tests/fuzz/fuzz_manifest.c — libFuzzer target for the index MANIFEST reader (index/manifest.c) and the
 * analysis-settings record it carries (spar_analysis_opts_parse, index/analyzer.c). The first byte picks:
 *   even: the rest (after one more byte, the header's minor version mod 3) is the JSON payload; a valid
 *         2.x header with its length and xxh3 is put in front, so the JSON checks are what gets fuzzed
 *   odd, bit 1 clear: the rest is a whole MANIFEST image, parsed as is and with its header's length and xxh3
 *         repaired (the structural checks behind the checksum must hold on their own)
 *   odd, bit 1 set: the rest is an analysis record ("lowercase=1;strip_accents=1;...")
 * A MANIFEST must parse to SPAR_OK, SPAR_E_CORRUPT or SPAR_E_VERSION, failures naming the file; a parsed one must
 * be in range and, when its analysis record parses (spar_index_open requires it), survive write -> read unchanged. A parsed analysis record
 * must format and re-parse to the same settings, and an analyzer built from it must work or refuse cleanly.
 * Seeds: tests/fuzz/corpus/manifest/. */
#define _GNU_SOURCE 1 /* memfd_create (fuzz_util.h) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fuzz/fuzz_util.h"
#include "index/analyzer.h"
#include "index/index.h"
#include "index/manifest.h"
#include "storage/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void analysis(const char *s, size_t len) {
    spar_analysis_opts o, o2;
    spar_status st = spar_analysis_opts_parse(s, len, &o);
    FUZZ_CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT);
    if (st != SPAR_OK) return;
    char buf[512];
    FUZZ_CHECK(spar_analysis_opts_format(&o, buf, sizeof buf) == SPAR_OK);
    FUZZ_CHECK(spar_analysis_opts_parse(buf, strlen(buf), &o2) == SPAR_OK);
    FUZZ_CHECK(memcmp(&o, &o2, sizeof o) == 0);
    spar_analyzer *an = NULL;
    spar_diag d = {{0}};
    st = spar_analyzer_create(&o, &an, &d);
    FUZZ_CHECK(st == SPAR_OK || (st == SPAR_E_INVALID_ARG && d.msg[0] != '\0'));
    if (an != NULL) {
        static spar_terms t;
        spar_terms_reset(&t);
        FUZZ_CHECK(spar_analyze(an, "The Caf\xc3\xa9s running", 19, &t) == SPAR_OK);
        spar_analyzer_free(an);
    }
}

static char scratch[64];

static void scratch_remove(void) { /* at exit: the replay runs in every ctest, leave nothing behind */
    char p[96];
    snprintf(p, sizeof p, "%s/MANIFEST", scratch);
    (void)unlink(p);
    (void)rmdir(scratch);
}

static const char *scratch_dir(void) {
    char *dir = scratch;
    if (dir[0] == '\0') {
        snprintf(dir, sizeof scratch, "/dev/shm/spar-fuzz-manifest-XXXXXX");
        if (mkdtemp(dir) == NULL) {
            snprintf(dir, sizeof scratch, "/tmp/spar-fuzz-manifest-XXXXXX");
            FUZZ_CHECK(mkdtemp(dir) != NULL);
        }
        atexit(scratch_remove);
    }
    return dir;
}

static void manifest(const uint8_t *buf, size_t len) {
    spar_manifest m, m2;
    spar_diag d = {{0}};
    spar_status st = spar_manifest_parse(buf, len, "MANIFEST", &m, &d);
    FUZZ_CHECK(st == SPAR_OK || st == SPAR_E_CORRUPT || st == SPAR_E_VERSION);
    if (st != SPAR_OK) {
        FUZZ_CHECK(strncmp(d.msg, "MANIFEST: ", 10) == 0);
        return;
    }
    FUZZ_CHECK(m.format_major == SPAR_INDEX_FORMAT_MAJOR && m.n_docs < UINT32_MAX);
    FUZZ_CHECK(m.k1 >= 0 && m.b >= 0 && m.b <= 1 && (m.store_text == 0 || m.store_text == 1));
    FUZZ_CHECK(m.n_segments >= 1 && m.n_segments <= SPAR_MANIFEST_MAX_SEGMENTS);
    for (uint32_t i = 0; i < m.n_segments; i++) {
        const char *f = m.segments[i].file;
        FUZZ_CHECK(f[0] != '\0' && f[0] != '.' && strchr(f, '/') == NULL);
        FUZZ_CHECK(strcmp(m.segments[i].kind, "postings") == 0);
    }
    FUZZ_CHECK(m.meta_dir[0] != '\0' && m.meta_dir[0] != '.' && strchr(m.meta_dir, '/') == NULL);
    analysis(m.analysis, strlen(m.analysis));
    /* Round trip through the writer, for what spar_index_open accepts (its analysis record parses); the writer
     * writes this build's minor version. */
    spar_analysis_opts ao;
    if (spar_analysis_opts_parse(m.analysis, strlen(m.analysis), &ao) != SPAR_OK) return;
    m.format_minor = SPAR_INDEX_FORMAT_MINOR;
    const char *dir = scratch_dir();
    FUZZ_CHECK(spar_manifest_write(dir, &m, &d) == SPAR_OK);
    FUZZ_CHECK(spar_manifest_read(dir, &m2, &d) == SPAR_OK);
    FUZZ_CHECK(memcmp(&m, &m2, sizeof m) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    if ((data[0] & 1) == 0) {
        size_t plen = size - 2;
        uint8_t *buf = malloc(sizeof(spar_file_header) + plen);
        FUZZ_CHECK(buf != NULL);
        spar_file_header h = {SPAR_MAGIC, SPAR_INDEX_FORMAT_MAJOR, (uint16_t)(data[1] % 3), SPAR_KIND_MANIFEST, 0,
                              plen, XXH3_64bits(data + 2, plen)};
        memcpy(buf, &h, sizeof h);
        if (plen) memcpy(buf + sizeof h, data + 2, plen);
        manifest(buf, sizeof h + plen);
        free(buf);
    } else if ((data[0] & 2) == 0) {
        size_t n = size - 1;
        uint8_t *buf = malloc(n);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, data + 1, n);
        manifest(buf, n);
        if (n >= sizeof(spar_file_header)) {
            spar_file_header h;
            memcpy(&h, buf, sizeof h);
            h.payload_bytes = n - sizeof h;
            h.payload_xxh3 = XXH3_64bits(buf + sizeof h, n - sizeof h);
            memcpy(buf, &h, sizeof h);
            manifest(buf, n);
        }
        free(buf);
    } else {
        char *buf = malloc(size - 1);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, data + 1, size - 1);
        analysis(buf, size - 1);
        free(buf);
    }
    return 0;
}
