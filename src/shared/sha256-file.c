/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "sha256-file.h"

struct Sha256File {
        int fd;
        crypto_hash_sha256_state state;
        uint8_t *buf;
};

Sha256File *sha256_file_free(Sha256File *f) {
        if (!f)
                return NULL;
        safe_close(f->fd);
        free(f->buf);
        free(f);
        return NULL;
}

int sha256_file_open(const char *path, Sha256File **ret) {
        _cleanup_(sha256_file_freep) Sha256File *f = NULL;
        struct stat st;

        assert(path);
        assert(ret);
        if (sodium_init() < 0)
                return -EIO;

        f = new0(Sha256File, 1);
        if (!f)
                return -ENOMEM;
        f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (f->fd < 0)
                return -errno;
        if (fstat(f->fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EISDIR;
        f->buf = malloc(SHA256_FILE_CHUNK);
        if (!f->buf)
                return -ENOMEM;
        crypto_hash_sha256_init(&f->state);
        *ret = TAKE_PTR(f);
        return 0;
}

int sha256_file_step(Sha256File *f, char ret[static SHA256_HEX_SIZE]) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        size_t got = 0;

        assert(f);
        /* A full chunk, or what is left: a short read is not the end. */
        while (got < SHA256_FILE_CHUNK) {
                ssize_t n = read(f->fd, f->buf + got, SHA256_FILE_CHUNK - got);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        if (got > 0)
                crypto_hash_sha256_update(&f->state, f->buf, (unsigned long long) got);
        if (got == SHA256_FILE_CHUNK)
                return 0;

        crypto_hash_sha256_final(&f->state, digest);
        sodium_bin2hex(ret, SHA256_HEX_SIZE, digest, sizeof(digest));
        return 1;
}

int sha256_file(const char *path, char ret[static SHA256_HEX_SIZE]) {
        _cleanup_(sha256_file_freep) Sha256File *f = NULL;
        int r;

        r = sha256_file_open(path, &f);
        if (r < 0)
                return r;
        while ((r = sha256_file_step(f, ret)) == 0)
                ;
        return r < 0 ? r : 0;
}

bool sha256_hex_equal(const char *a, const char *b) {
        return a && b && strlen(a) == SHA256_HEX_SIZE - 1 && strlen(b) == SHA256_HEX_SIZE - 1 &&
               strcasecmp(a, b) == 0;
}
