/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What every reader is built from (reading a field, entering a struct, growing an array, reporting a bad
 * value), and the scalars with rules: decimals, host object paths, digests, bytes. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "codec-internal.h"
#include "macro.h"
#include "sdloop-error.h"

const char *fieldf(char buf[static FIELD_MAX], const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(buf, FIELD_MAX, format, ap);
        va_end(ap);

        return buf;
}

/* sd-bus could not read what the contract says comes next: the sender used another type (-ENXIO), the
 * message is malformed (-EBADMSG), an array's elements do not end where its length says (-EBUSY, on
 * leaving it), or it ended early (0, the end of the enclosing array). That is the sender's mistake, so it
 * becomes InvalidArgument too. Anything else (-ENOMEM, or a programming error such as an unsealed message)
 * is passed on unchanged. */
static bool bus_read_is_invalid(int r) {
        return r == 0 || r == -ENXIO || r == -EBADMSG || r == -EBUSY;
}

int bus_read_failed(sd_bus_error *error, const char *field, const char *signature, int r) {
        assert(field);
        assert(signature);
        assert(r <= 0);

        if (bus_read_is_invalid(r))
                return sdloop_error_invalid(error, field, "expected D-Bus type '%s'", signature);

        return r;
}

static int invalid_string(sd_bus_error *error, const char *field, const char *what, const char *s) {
        return sdloop_error_invalid(error, field, "malformed %s %s", what, SDLOOP_QUOTE(s));
}

/* Make room for element n of an array of elements of the given size; fresh slots are zeroed, so
 * that the array can be freed element by element at any time. */
int grow(void **array, size_t *allocated, size_t n, size_t size) {
        size_t a;
        void *p;

        assert(array);
        assert(allocated);
        assert(size > 0);

        if (n < *allocated)
                return 0;

        a = MAX(*allocated * 2, (size_t) 4);
        p = reallocarray(*array, a, size);
        if (!p)
                return -ENOMEM;

        memset((uint8_t *) p + *allocated * size, 0, (a - *allocated) * size);
        *array = p;
        *allocated = a;
        return 0;
}

/* Element @n (0-based) of an array of at most @max is about to be read: refuse it before anything is
 * allocated for it. */
int check_elements(sd_bus_error *error, const char *field, size_t n, size_t max) {
        if (n < max)
                return 0;
        return sdloop_error_invalid(error, field, "expected at most %zu entries, got more", max);
}

int read_string(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        const char *s;
        char *c;
        int r;

        assert(m);
        assert(ret);

        r = sd_bus_message_read_basic(m, 's', &s);
        if (r <= 0)
                return bus_read_failed(error, field, "s", r);

        c = strdup(s);
        if (!c)
                return -ENOMEM;

        *ret = c;
        return 0;
}

int read_bool(sd_bus_message *m, const char *field, bool *ret, sd_bus_error *error) {
        int b, r;

        assert(m);
        assert(ret);

        /* sd-bus reads a 'b' into an int. */
        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r <= 0)
                return bus_read_failed(error, field, "b", r);

        *ret = b;
        return 0;
}

int read_uuid(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_string(m, field, &s, error);
        if (r < 0)
                return r;
        if (!sdloop_uuid_is_valid(s))
                return invalid_string(error, field, "UUID", s);

        *ret = TAKE_PTR(s);
        return 0;
}

int read_json(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        const char *reason = NULL;
        int r;

        r = read_string(m, field, &s, error);
        if (r < 0)
                return r;
        if (!sdloop_json_is_valid(s, &reason))
                return sdloop_error_invalid(error, field, "invalid JSON: %s", strempty(reason));

        *ret = TAKE_PTR(s);
        return 0;
}

int enter_struct(sd_bus_message *m, const char *field, const char *contents, sd_bus_error *error) {
        int r;

        assert(m);
        assert(field);
        assert(contents);

        r = sd_bus_message_enter_container(m, 'r', contents);
        if (r <= 0 && bus_read_is_invalid(r))
                return sdloop_error_invalid(error, field, "expected D-Bus type '(%s)'", contents);
        if (r < 0)
                return r;

        return 0;
}

int exit_container(sd_bus_message *m, const char *field, const char *signature, sd_bus_error *error) {
        int r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return bus_read_failed(error, field, signature, r);

        return 0;
}

/* --- scalars ------------------------------------------------------------------------------------------ */

int sdloop_read_decimal(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *s = NULL;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        *ret = NULL;

        r = read_string(m, field, &s, error);
        if (r < 0)
                return r;
        if (!sdloop_decimal_is_valid(s))
                return invalid_string(error, field, "decimal", s);

        *ret = TAKE_PTR(s);
        return 0;
}

#define HOST_PATH_PREFIX "/org/sdloop1/host/"

int sdloop_read_host_path(sd_bus_message *m, const char *field, const char *kind, const char **ret,
                          sd_bus_error *error) {
        const char *path, *rest;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r <= 0)
                return bus_read_failed(error, field, "o", r);

        rest = strncmp(path, HOST_PATH_PREFIX, strlen(HOST_PATH_PREFIX)) == 0 ? path + strlen(HOST_PATH_PREFIX) : NULL;
        if (rest && kind) {
                size_t l = strlen(kind);

                /* "<kind>/<n>", n a decimal number as the host builds them. */
                if (strncmp(rest, kind, l) != 0 || rest[l] != '/' || !rest[l + 1] ||
                    strspn(rest + l + 1, "0123456789") != strlen(rest + l + 1))
                        rest = NULL;
        }
        if (!rest || !*rest)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND,
                                         "%s: the host can have no %s at %s (its paths are " HOST_PATH_PREFIX "%s%s)",
                                         field, kind ?: "object", path, strempty(kind), kind ? "/<n>" : "…");
        *ret = path;
        return 0;
}

int sdloop_read_digest(sd_bus_message *m, const char *field, uint8_t ret[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        const void *p;
        size_t size;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        memset(ret, 0, SDLOOP_DIGEST_SIZE);

        r = sd_bus_message_read_array(m, 'y', &p, &size);
        if (r <= 0)
                return bus_read_failed(error, field, "ay", r);
        if (size != SDLOOP_DIGEST_SIZE)
                return sdloop_error_invalid(error, field, "expected %u bytes, got %zu", SDLOOP_DIGEST_SIZE, size);

        memcpy(ret, p, SDLOOP_DIGEST_SIZE);
        return 0;
}

int sdloop_append_digest(sd_bus_message *m, const uint8_t digest[static SDLOOP_DIGEST_SIZE]) {
        assert(m);
        assert(digest);

        return sd_bus_message_append_array(m, 'y', digest, SDLOOP_DIGEST_SIZE);
}

int sdloop_read_bytes(sd_bus_message *m, const char *field, size_t max, SdloopBytes *ret, sd_bus_error *error) {
        const void *p;
        size_t size;
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        if (max == 0)
                max = SDLOOP_PAYLOAD_MAX;

        r = sd_bus_message_read_array(m, 'y', &p, &size);
        if (r <= 0)
                return bus_read_failed(error, field, "ay", r);
        if (size > max)
                return sdloop_error_invalid(error, field, "expected at most %zu bytes, got %zu", max, size);

        /* The array points into the message; the caller's copy must outlive it. */
        return sdloop_bytes_copy(ret, p, size);
}

int sdloop_append_bytes(sd_bus_message *m, const void *data, size_t size) {
        assert(m);
        assert(data || size == 0);

        return sd_bus_message_append_array(m, 'y', data, size);
}

void sdloop_bytes_done(SdloopBytes *b) {
        if (!b)
                return;

        b->data = mfree(b->data);
        b->size = 0;
}

int sdloop_bytes_copy(SdloopBytes *dst, const void *data, size_t size) {
        uint8_t *p = NULL;

        assert(dst);
        assert(data || size == 0);

        /* Empty stays NULL; copy before freeing, in case data points into dst. */
        if (size > 0) {
                p = malloc(size);
                if (!p)
                        return -ENOMEM;
                memcpy(p, data, size);
        }

        free(dst->data);
        dst->data = p;
        dst->size = size;
        return 0;
}
