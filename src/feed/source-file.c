/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The file source: {"type": "file", "path": "/run/price"}, the first line a decimal. Read without
 * blocking (O_NONBLOCK: a FIFO without writer reads as empty), the result delivered from the loop. */

#include <fcntl.h>

#include "source-internal.h"

#define SUBFIELD(key)                                                   \
        _cleanup_free_ char *f_##key = source_field_join(field, #key);  \
        if (!f_##key)                                                   \
                return -ENOMEM;

static int file_parse(FeedSourceConfig *c, json_object *j, const char *field, char **ret_error) {
        json_object *v;
        const char *s = NULL;
        int r;
        SUBFIELD(path);

        if (!json_object_object_get_ex(j, "path", &v))
                return feed_field_error(ret_error, field, "missing \"path\"");
        r = source_json_get_string(v, f_path, &s, ret_error);
        if (r < 0)
                return r;
        if (s[0] != '/')
                return feed_field_error(ret_error, f_path, "%s is not an absolute path",
                                             SDLOOP_QUOTE(s));
        c->path = strdup(s);
        if (!c->path)
                return -ENOMEM;
        return 0;
}
#undef SUBFIELD

static int file_fetch(FeedSource *s, uint64_t step) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *value = NULL, *error = NULL;
        const char *reason = NULL;
        char buf[4096];
        ssize_t n;
        size_t len;
        int r;

        /* Not blocking on a FIFO without writer: that reads as empty. */
        fd = open(s->config->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                r = source_errorf(&error, s, "cannot open: %s", strerror(errno));
        else {
                n = read(fd, buf, sizeof(buf) - 1);
                if (n < 0)
                        r = source_errorf(&error, s, "cannot read: %s", strerror(errno));
                else {
                        buf[n] = '\0';
                        len = strcspn(buf, "\n");
                        if (len == (size_t) n && (size_t) n == sizeof(buf) - 1)
                                r = source_errorf(&error, s, "line 1: longer than %zu bytes",
                                                  sizeof(buf) - 2);
                        else {
                                buf[len] = '\0';
                                r = feed_decimal_scale(buf, s->config->has_multiplier,
                                                            s->config->exponent, &value, &reason);
                                if (r == -ENOMEM)
                                        return r;
                                if (r < 0 && n == 0)
                                        r = source_errorf(&error, s, "empty file");
                                else if (r < 0)
                                        r = source_errorf(&error, s, "line 1: %s %s", reason,
                                                          SDLOOP_QUOTE_N(buf, len));
                        }
                }
        }
        if (r < 0)
                return r;
        return source_complete_later(s, TAKE_PTR(value), TAKE_PTR(error));
}

static const char * const file_keys[] = { "type", "name", "path", "multiplier", NULL };

const SourceVTable source_file_vtable = {
        .keys = file_keys,
        .parse = file_parse,
        .fetch = file_fetch,
};
