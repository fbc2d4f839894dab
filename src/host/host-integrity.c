/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "host-integrity.h"
#include "macro.h"
#include "util.h"

#define READ_CHUNK (64U * 1024U)

int host_file_sha256(const char *path, char ret[static HOST_SHA256_HEX_SIZE]) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_state state;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        assert(path);
        if (sodium_init() < 0)
                return -EIO;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EISDIR;

        buf = malloc(READ_CHUNK);
        if (!buf)
                return -ENOMEM;
        crypto_hash_sha256_init(&state);
        for (;;) {
                ssize_t n = read(fd, buf, READ_CHUNK);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                crypto_hash_sha256_update(&state, buf, (unsigned long long) n);
        }
        crypto_hash_sha256_final(&state, digest);
        sodium_bin2hex(ret, HOST_SHA256_HEX_SIZE, digest, sizeof(digest));
        return 0;
}

int host_plugin_check_binary(HostPlugin *p, char **ret_message) {
        char actual[HOST_SHA256_HEX_SIZE];
        char *msg = NULL;
        int r;

        assert(p);
        assert(ret_message);

        *ret_message = NULL;
        if (!p->settings.binary_sha256)
                return 0;

        r = host_file_sha256(p->settings.binary, actual);
        if (r < 0) {
                if (asprintf(&msg, "cannot read binary %s to check its SHA-256: %s", p->settings.binary,
                             strerror(-r)) < 0)
                        return -ENOMEM;
        } else if (!streq(actual, p->settings.binary_sha256)) {
                r = -EBADMSG;
                if (asprintf(&msg, "binary %s does not match binary_sha256: its SHA-256 is %s, pinned %s; "
                             "refusing to start it", p->settings.binary, actual, p->settings.binary_sha256) < 0)
                        return -ENOMEM;
        } else {
                log_debug("Plugin %s: binary %s has the pinned SHA-256.", p->settings.name, p->settings.binary);
                return 0;
        }

        log_error("Plugin %s: %s.", p->settings.name, msg);
        *ret_message = msg;
        return r;
}
