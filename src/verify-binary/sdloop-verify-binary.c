/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-verify-binary PATH SHA256: the ExecStartPre= of a plugin unit whose binary is pinned
 * (binary_sha256). It runs before every start systemd makes, its own restarts included, in the unit's
 * sandbox and as its user: exit 0 if the file at PATH has that SHA-256; otherwise it says why on stderr
 * (the unit's journal) and exits non-zero, which fails the start. */

#include <stdio.h>
#include <string.h>

#include "sha256-file.h"
#include "sdloop-verify-binary.h"

int main(int argc, char *argv[]) {
        char actual[SHA256_HEX_SIZE];
        int r;

        if (argc != 3 || strlen(argv[2]) != SHA256_HEX_SIZE - 1) {
                fprintf(stderr, "Usage: %s PATH SHA256 (64 hex digits)\n", argv[0]);
                return SDLOOP_VERIFY_EXIT_USAGE;
        }
        r = sha256_file(argv[1], actual);
        if (r < 0) {
                fprintf(stderr, "sdloop-verify-binary: cannot read binary %s to check its SHA-256: %s; "
                        "refusing to start it\n", argv[1], strerror(-r));
                return SDLOOP_VERIFY_EXIT_UNREADABLE;
        }
        if (!sha256_hex_equal(actual, argv[2])) {
                fprintf(stderr, "sdloop-verify-binary: binary %s does not match binary_sha256: its SHA-256 is %s, "
                        "pinned %s; refusing to start it\n", argv[1], actual, argv[2]);
                return SDLOOP_VERIFY_EXIT_MISMATCH;
        }
        return 0;
}
