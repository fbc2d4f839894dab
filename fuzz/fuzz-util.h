/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the fuzz targets (fuzz-*.c) share: the invariants the contract promises of every refusal, and
 * sd-bus messages made of raw bytes as a peer would send them. A broken invariant aborts (libFuzzer then
 * keeps the input as a crash). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the broken invariant (and @detail, escaped) on stderr. */
_Noreturn void fuzz_fail(const char *what, const char *detail);
#define fuzz_assert(expr, detail)                                               \
        do {                                                                    \
                if (!(expr))                                                    \
                        fuzz_fail(__FILE__ ": " #expr, (detail));               \
        } while (0)

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool fuzz_utf8_is_valid(const char *s, size_t n);

/* A message fit to send: valid UTF-8 of at most @max bytes without control characters. */
void fuzz_check_text(const char *s, size_t max);

/* A refusal as sdloop-codec.h and sdloop-error.h promise it: r < 0 (one of @allowed_errnos, 0-terminated;
 * NULL: -EINVAL), @e named @name, its message a sendable text that starts with @field_prefix (NULL: any
 * field, but some "<field>: " prefix). */
void fuzz_check_bus_error(int r, const sd_bus_error *e, const char *name, const char *field_prefix);

/* A text error "<field...>: <reason>" as the configuration loaders give it: sendable, bounded, with a
 * colon after a non-empty field. */
void fuzz_check_text_error(const char *s, size_t max);

/* A copy of @data with a terminating NUL (the parsers take C strings); NULL if out of memory. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* The connection the bus helpers below use: a client bus on one end of a socketpair, authenticated and
 * running, whose other end the helpers write raw bytes to. Created once. */
sd_bus *fuzz_bus(void);

/* Deliver a signal with @signature and @body (raw little-endian D-Bus marshalling, as a peer would send
 * it) and return it as sd-bus parsed it. 0 and *ret = NULL if sd-bus dropped it as malformed. */
int fuzz_bus_message_from_body(const char *signature, const void *body, size_t size, sd_bus_message **ret);

/* The raw body of a sealed message, as it goes on the wire (for writing seeds). */
int fuzz_bus_message_body(sd_bus_message *m, uint8_t **ret, size_t *ret_size);

/* With $FUZZ_VERBOSE set, say what became of an input (for checking that seeds reach what they should). */
void fuzz_note(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Split input: the first byte selects, the rest is the payload. */
static inline uint8_t fuzz_take_u8(const uint8_t **data, size_t *size) {
        uint8_t b;

        if (*size == 0)
                return 0;
        b = **data;
        (*data)++;
        (*size)--;
        return b;
}
