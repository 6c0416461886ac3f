/* Replay driver for libFuzzer targets under compilers without -fsanitize=fuzzer (gcc).
 * Usage: replay_<target> DIR|FILE...  Feeds every file (recursively one level for dirs) to
 * LLVMFuzzerTestOneInput, plus a few synthetic edge inputs, so the fuzz corpus doubles as a regression test.
 * REPLAY_VERBOSE=1 names each input on stderr before running it (to find the one that traps). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    if (getenv("REPLAY_VERBOSE") != NULL) fprintf(stderr, "replay: %s\n", path); /* names the input that traps */
    FILE *f = fopen(path, "rb");
    if (f == NULL) { perror(path); return 1; }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return 1; }
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL) { fclose(f); return 1; }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int n_files = 0;
    static const uint8_t empty[1];
    LLVMFuzzerTestOneInput(empty, 0);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: %s: no such file (skipped)\n", argv[i]); continue; }
        if (!S_ISDIR(st.st_mode)) { if (run_file(argv[i]) != 0) return 1; n_files++; continue; }
        DIR *d = opendir(argv[i]);
        if (d == NULL) { perror(argv[i]); return 1; }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            if (run_file(p) != 0) { closedir(d); return 1; }
            n_files++;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", n_files);
    return 0;
}
