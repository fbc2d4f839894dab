/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a fuzz target on files without libFuzzer: each argument is a file, or a directory whose regular
 * files are run in name order. A broken invariant aborts, as under libFuzzer; this is what the test suite
 * runs on the seed corpora and the regression inputs. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz-util.h"
#include "macro.h"

static int run_file(const char *path) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0, allocated = 0;
        FILE *f = fopen(path, "re");

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        for (;;) {
                size_t k;

                if (size == allocated) {
                        uint8_t *p = realloc(data, allocated = allocated * 2 + 4096);

                        if (!p) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        data = p;
                }
                k = fread(data + size, 1, allocated - size, f);
                size += k;
                if (k == 0)
                        break;
        }
        fclose(f);

        printf("%s (%zu bytes)\n", path, size);
        fflush(stdout);
        (void) LLVMFuzzerTestOneInput(data, size);
        return 0;
}

static int filter_regular(const struct dirent *de) {
        return de->d_name[0] != '.';
}

static int run_path(const char *path, unsigned *n) {
        struct dirent **names = NULL;
        struct stat st;
        int k, r = 0;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (!S_ISDIR(st.st_mode)) {
                (*n)++;
                return run_file(path);
        }

        k = scandir(path, &names, filter_regular, alphasort);
        if (k < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        for (int i = 0; i < k; i++) {
                _cleanup_free_ char *p = NULL;

                if (r >= 0 && asprintf(&p, "%s/%s", path, names[i]->d_name) >= 0 && stat(p, &st) >= 0 &&
                    S_ISREG(st.st_mode)) {
                        (*n)++;
                        r = run_file(p);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;

        for (int i = 1; i < argc; i++)
                if (run_path(argv[i], &n) < 0)
                        return EXIT_FAILURE;

        printf("%u inputs, no invariant broken\n", n);
        return EXIT_SUCCESS;
}
