/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SHA-256 of a file, read a piece at a time (libsodium): whole in one call for tools, or one piece per
 * event-loop iteration for the host (host-integrity.c), so that a large binary does not stall its loop. */

#include <stdbool.h>
#include <stddef.h>

#define SHA256_HEX_SIZE (2 * 32 + 1)
/* What one step reads at most. */
#define SHA256_FILE_CHUNK (1024U * 1024U)

typedef struct Sha256File Sha256File;

/* Open @path (a regular file: -EISDIR otherwise) for hashing. */
int sha256_file_open(const char *path, Sha256File **ret);
/* Hash up to SHA256_FILE_CHUNK more bytes: 0 while there is more, 1 at the end with @ret the digest as 64
 * lower-case hex digits, or a negative errno. */
int sha256_file_step(Sha256File *f, char ret[static SHA256_HEX_SIZE]);
Sha256File *sha256_file_free(Sha256File *f);

static inline void sha256_file_freep(Sha256File **f) {
        if (*f)
                sha256_file_free(*f);
}

/* All steps in one go: for top-level code and tools only, never in an event-loop callback. */
int sha256_file(const char *path, char ret[static SHA256_HEX_SIZE]);

/* Whether @a and @b are the same 64 hex digits, in either case. */
bool sha256_hex_equal(const char *a, const char *b);
