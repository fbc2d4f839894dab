/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The org.sdloop1.Error.* names and their errno mapping, registered with sd_bus_error_add_map(). */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define SDLOOP_ERROR_PLUGIN_UNAVAILABLE "org.sdloop1.Error.PluginUnavailable" /* EHOSTDOWN */
#define SDLOOP_ERROR_INVALID_ARGUMENT   "org.sdloop1.Error.InvalidArgument"   /* EINVAL */
#define SDLOOP_ERROR_NOT_FOUND          "org.sdloop1.Error.NotFound"          /* ENOENT */
#define SDLOOP_ERROR_UNIMPLEMENTED      "org.sdloop1.Error.Unimplemented"     /* EOPNOTSUPP */
#define SDLOOP_ERROR_TIMEOUT            "org.sdloop1.Error.Timeout"           /* ETIMEDOUT */
#define SDLOOP_ERROR_INTERNAL           "org.sdloop1.Error.Internal"          /* EIO */

extern const sd_bus_error_map sdloop_error_map[];

/* Idempotent; every libsdloop entry point calls it, callers need not. */
void sdloop_error_register(void);

/* Error messages are built from what peers, files and commands sent, and sd-bus cannot send one that is not
 * valid UTF-8 (the caller would get no answer at all). Every message libsdloop sends is therefore valid
 * UTF-8 of at most this many bytes, without control characters. */
#define SDLOOP_ERROR_MESSAGE_MAX 1024

/* Fill @error with @name and a formatted message; returns the negative errno mapped to @name. The message
 * is always sendable: bytes that are not UTF-8 and control characters are escaped (\xff, \n), and past
 * SDLOOP_ERROR_MESSAGE_MAX bytes it is cut on a character boundary and ends in "…". */
int sdloop_error_setf(sd_bus_error *error, const char *name, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* InvalidArgument naming the field: "<field>: <reason>". Returns -EINVAL. */
int sdloop_error_invalid(sd_bus_error *error, const char *field, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* Make sure @error carries an org.sdloop1 (or other) name after an implementation returned r < 0:
 * if it is unset, it becomes Internal (or the mapped name for EINVAL/ENOENT/…) with strerror(r); if it is
 * set (perhaps with sd_bus_error_set() directly), its message is made sendable as sdloop_error_setf()
 * makes it. The runtime calls this before it answers a failed call. Returns r. */
int sdloop_error_ensure(sd_bus_error *error, int r, const char *context);

typedef enum SdloopEscapeFlags {
        SDLOOP_ESCAPE_QUOTE = 1 << 0, /* put it in "", and escape \" and \\ too */
} SdloopEscapeFlags;

/* Text from elsewhere (a peer's value, a file, a command's stderr) made fit for an error or log message: at
 * most @n bytes of @s (SIZE_MAX: up to its NUL) with \n, \t, \r, other control characters and bytes that
 * are not UTF-8 escaped (\x1b, \xff, \u0085). If that does not fit in @size bytes it is cut after a whole
 * character and "…" is appended (after the closing quote). The result is valid UTF-8 and fits in @buf, which
 * is returned. A NULL @s gives "(null)". */
const char *sdloop_escape_into(char *buf, size_t size, const char *s, size_t n, SdloopEscapeFlags flags);

/* A value quoted that way in a buffer of the enclosing block, for use as a printf() argument:
 *         sdloop_error_invalid(error, "amount", "malformed decimal %s", SDLOOP_QUOTE(amount)); */
#define SDLOOP_QUOTE_SIZE 96
#define SDLOOP_QUOTE(s) SDLOOP_QUOTE_N((s), SIZE_MAX)
#define SDLOOP_QUOTE_N(s, n)                                                                     \
        sdloop_escape_into((char[SDLOOP_QUOTE_SIZE]) { 0 }, SDLOOP_QUOTE_SIZE, (s), (n), SDLOOP_ESCAPE_QUOTE)
