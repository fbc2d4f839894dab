/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "macro.h"
#include "sdloop-error.h"

/* Raw messages larger than this are cut: the whole message must fit in the socket's buffer, as nothing
 * reads the other end while it is written. */
#define FUZZ_BODY_MAX (64U * 1024U)

void fuzz_fail(const char *what, const char *detail) {
        fprintf(stderr, "invariant broken: %s\n", what);
        if (detail) {
                fputs("  detail: \"", stderr);
                for (const unsigned char *p = (const unsigned char *) detail; *p; p++)
                        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
                                fputc(*p, stderr);
                        else
                                fprintf(stderr, "\\x%02x", *p);
                fputs("\"\n", stderr);
        }
        abort();
}

void fuzz_note(const char *format, ...) {
        static int verbose = -1;
        va_list ap;

        if (verbose < 0)
                verbose = !!getenv("FUZZ_VERBOSE");
        if (!verbose)
                return;
        va_start(ap, format);
        fputs("  ", stderr);
        vfprintf(stderr, format, ap);
        fputc('\n', stderr);
        va_end(ap);
}

bool fuzz_utf8_is_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s, *end = p + n;

        while (p < end) {
                uint32_t c;
                size_t len;

                if (*p < 0x80) {
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0)
                        len = 2, c = *p & 0x1f;
                else if ((*p & 0xf0) == 0xe0)
                        len = 3, c = *p & 0x0f;
                else if ((*p & 0xf8) == 0xf0)
                        len = 4, c = *p & 0x07;
                else
                        return false;
                if ((size_t) (end - p) < len)
                        return false;
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (p[i] & 0x3f);
                }
                if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
                    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return false;
                p += len;
        }
        return true;
}

void fuzz_check_text(const char *s, size_t max) {
        size_t n;

        fuzz_assert(s, NULL);
        n = strlen(s);
        fuzz_assert(n <= max, s);
        fuzz_assert(fuzz_utf8_is_valid(s, n), s);
        for (size_t i = 0; i < n; i++)
                fuzz_assert((unsigned char) s[i] >= 0x20 && s[i] != 0x7f, s);
}

void fuzz_check_bus_error(int r, const sd_bus_error *e, const char *name, const char *field_prefix) {
        char detail[SDLOOP_ERROR_MESSAGE_MAX + 128];
        const char *colon;

        snprintf(detail, sizeof detail, "r=%d (%s) %s: %s", r, strerror(-r), e && e->name ? e->name : "-",
                 e && e->message ? e->message : "-");
        fuzz_assert(r == -EINVAL, detail);
        fuzz_assert(e && sd_bus_error_is_set(e), detail);
        fuzz_assert(sd_bus_error_has_name(e, name ?: SDLOOP_ERROR_INVALID_ARGUMENT), detail);
        fuzz_check_text(e->message, SDLOOP_ERROR_MESSAGE_MAX);
        if (field_prefix)
                fuzz_assert(strncmp(e->message, field_prefix, strlen(field_prefix)) == 0, e->message);
        colon = strstr(e->message, ": ");
        fuzz_assert(colon && colon > e->message, e->message);
}

void fuzz_check_text_error(const char *s, size_t max) {
        const char *colon;

        /* Not control-character free: a configuration error may quote what it refuses, escaped. */
        fuzz_assert(s, NULL);
        fuzz_assert(strlen(s) <= max, s);
        fuzz_assert(fuzz_utf8_is_valid(s, strlen(s)), s);
        fuzz_assert(!strchr(s, '\n'), s);
        colon = strstr(s, ": ");
        fuzz_assert(colon && colon > s, s);
}

char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                return NULL;
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

static sd_bus *bus;
static int peer_fd = -1;
static uint32_t serial;

static void drain(void) {
        uint8_t buf[4096];

        while (recv(peer_fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
}

static void write_all(const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(peer_fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                fuzz_assert(k > 0, "write to the bus socket failed");
                p = (const uint8_t *) p + k;
                n -= (size_t) k;
        }
}

sd_bus *fuzz_bus(void) {
        /* The answers to the client's AUTH EXTERNAL (without data) and its empty DATA. */
        static const char ok[] = "DATA\r\nOK 0123456789abcdef0123456789abcdef\r\n";
        int fds[2], r;

        if (bus)
                return bus;

        fuzz_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) >= 0, "socketpair");
        peer_fd = fds[1];
        fuzz_assert(sd_bus_new(&bus) >= 0, "sd_bus_new");
        fuzz_assert(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0, "sd_bus_set_fd");
        fuzz_assert(sd_bus_negotiate_fds(bus, false) >= 0, "sd_bus_negotiate_fds");
        /* The server's answer is there before the client asks: sd-bus reads it once it has sent AUTH. */
        write_all(ok, strlen(ok));
        fuzz_assert(sd_bus_start(bus) >= 0, "sd_bus_start");
        for (int i = 0; i < 100 && sd_bus_is_ready(bus) <= 0; i++) {
                r = sd_bus_process(bus, NULL);
                fuzz_assert(r >= 0, "sd_bus_process during authentication");
                if (r == 0)
                        (void) sd_bus_wait(bus, 100000);
        }
        fuzz_assert(sd_bus_is_ready(bus) > 0, "the bus did not authenticate");
        drain();
        return bus;
}

typedef struct Buf {
        uint8_t *p;
        size_t n, allocated;
} Buf;

static void buf_put(Buf *b, const void *p, size_t n) {
        if (b->n + n > b->allocated) {
                b->allocated = (b->n + n) * 2;
                b->p = realloc(b->p, b->allocated);
                fuzz_assert(b->p, "out of memory");
        }
        memcpy(b->p + b->n, p, n);
        b->n += n;
}

static void buf_align(Buf *b, size_t a) {
        static const uint8_t zeros[8];

        buf_put(b, zeros, (a - b->n % a) % a);
}

static void buf_u32(Buf *b, uint32_t v) {
        buf_align(b, 4);
        buf_put(b, &v, sizeof v); /* sd-bus and this machine: little-endian */
}

/* One header field (yv) whose variant holds a string-like value. */
static void header_field(Buf *b, uint8_t code, char type, const char *value, size_t len) {
        uint8_t sig[3] = { 1, (uint8_t) type, 0 };

        buf_align(b, 8);
        buf_put(b, &code, 1);
        buf_put(b, sig, 3);
        if (type == 'g') {
                uint8_t l = (uint8_t) len;

                buf_put(b, &l, 1);
        } else
                buf_u32(b, (uint32_t) len);
        buf_put(b, value, len);
        buf_put(b, "", 1);
}

int fuzz_bus_message_from_body(const char *signature, const void *body, size_t size, sd_bus_message **ret) {
        Buf b = {};
        size_t fields_start, sig_len = strnlen(signature, 255);
        uint32_t body_len;
        int r;

        fuzz_bus();
        if (size > FUZZ_BODY_MAX)
                size = FUZZ_BODY_MAX;
        body_len = (uint32_t) size;
        if (++serial == 0)
                serial = 1;

        buf_put(&b, "l\4\1\1", 4); /* little-endian, signal, no reply expected, version 1 */
        buf_u32(&b, body_len);
        buf_u32(&b, serial);
        buf_u32(&b, 0); /* the length of the header fields, filled in below */
        fields_start = b.n;
        header_field(&b, 1, 'o', "/", 1);
        header_field(&b, 2, 's', "org.sdloop1.Fuzz", strlen("org.sdloop1.Fuzz"));
        header_field(&b, 3, 's', "Input", strlen("Input"));
        if (sig_len > 0)
                header_field(&b, 8, 'g', signature, sig_len);
        {
                uint32_t fields_len = (uint32_t) (b.n - fields_start);

                memcpy(b.p + 12, &fields_len, sizeof fields_len);
        }
        buf_align(&b, 8);
        buf_put(&b, body, size);
        write_all(b.p, b.n);
        free(b.p);

        *ret = NULL;
        for (;;) {
                sd_bus_message *m = NULL;
                struct pollfd p = { .fd = sd_bus_get_fd(bus), .events = POLLIN };

                r = sd_bus_process(bus, &m);
                fuzz_assert(r >= 0, "sd_bus_process failed: the connection broke on a malformed message");
                if (m) {
                        *ret = m;
                        return 1;
                }
                /* Nothing more to do and nothing left to read: sd-bus dropped the message. */
                if (r == 0 && poll(&p, 1, 0) == 0)
                        return 0;
        }
}

int fuzz_bus_message_body(sd_bus_message *m, uint8_t **ret, size_t *ret_size) {
        uint8_t header[16];
        uint32_t body_len, fields_len;
        size_t skip;
        uint8_t *body;
        int r;

        r = sd_bus_send(fuzz_bus(), m, NULL);
        if (r < 0)
                return r;
        r = sd_bus_flush(bus);
        if (r < 0)
                return r;

        if (recv(peer_fd, header, sizeof header, MSG_WAITALL) != sizeof header)
                return -EIO;
        memcpy(&body_len, header + 4, 4);
        memcpy(&fields_len, header + 12, 4);
        skip = (fields_len + 7) / 8 * 8;
        {
                _cleanup_free_ uint8_t *fields = malloc(skip ?: 1);

                if (!fields)
                        return -ENOMEM;
                if (skip > 0 && recv(peer_fd, fields, skip, MSG_WAITALL) != (ssize_t) skip)
                        return -EIO;
        }
        body = malloc(body_len ?: 1);
        if (!body)
                return -ENOMEM;
        if (body_len > 0 && recv(peer_fd, body, body_len, MSG_WAITALL) != (ssize_t) body_len) {
                free(body);
                return -EIO;
        }
        *ret = body;
        *ret_size = body_len;
        return 0;
}
