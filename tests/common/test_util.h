/* test_util.h — small helpers shared by the CUnit tests: a per-run temp directory, whole-file reads,
 * writes and compares, and the end of main() for tests that own a temp directory (run verbosely, clean
 * up, remove the directory when everything passed). The write helpers fail the running test (CUnit FATAL)
 * when they cannot write, so call them from inside a test function. */
#ifndef SPAR_TESTS_TEST_UTIL_H
#define SPAR_TESTS_TEST_UTIL_H

#include <stddef.h>

/* Create a fresh directory $TMPDIR/spar-test-<tag>-XXXXXX (/tmp when TMPDIR is unset or empty) into buf.
 * Returns 0, or -1 (buf too small or mkdtemp failed). */
int spar_test_mkdtemp(char *buf, size_t cap, const char *tag);

/* rm -rf dir (storage's spar_remove_tree). Returns 0, or -1 when something could not be removed. */
int spar_test_rmtree(const char *dir);

/* The whole file, malloc'd with one extra NUL byte after it (so text can be used as a string); *n = its
 * size. NULL when it cannot be opened or read in full. Caller frees. */
unsigned char *spar_test_slurp(const char *path, size_t *n);

/* 1 when both files can be read and hold the same bytes, else 0. */
int spar_test_same_file(const char *a, const char *b);

/* Write n bytes (or the string s) to path, replacing it. */
void spar_test_write_file(const char *path, const void *b, size_t n);
void spar_test_write_text(const char *path, const char *s);

/* The end of a test main(): when registered is non-zero, run every registered test verbosely. Cleans up
 * the registry and returns the exit code, 0 when all ran and passed; then (only then) removes tmpdir, if
 * not NULL, with everything in it, so a failing run leaves its files to inspect. */
int spar_test_run(int registered, const char *tmpdir);

#endif
