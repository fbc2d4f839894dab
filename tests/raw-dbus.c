/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A D-Bus client without sd-bus, writing exactly the bytes a test wants in one write, and a plugin's log
 * read from a pipe: what the socket-level tests share. */

#include <check.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macro.h"
#include "raw-dbus.h"
#include "sdloop.h"


static void raw_put_u32(Message *m, uint32_t v) {
        memcpy(m->buf + m->size, &v, 4); /* little endian, as the header says ('l'); the test runs on x86/arm */
        m->size += 4;
}

static void pad_to(Message *m, size_t (*align)(size_t)) {
        size_t to = align(m->size);

        memset(m->buf + m->size, 0, to - m->size);
        m->size = to;
}

static size_t align8(size_t x) {
        return ALIGN8(x);
}

static void raw_put_field(Message *m, uint8_t code, char type, const char *value) {
        size_t len = strlen(value);

        pad_to(m, align8);
        m->buf[m->size++] = code;
        m->buf[m->size++] = 1; /* the variant's signature: one type */
        m->buf[m->size++] = (uint8_t) type;
        m->buf[m->size++] = 0;
        raw_put_u32(m, (uint32_t) len); /* at 8n+4: aligned for the string's length */
        memcpy(m->buf + m->size, value, len + 1);
        m->size += len + 1;
}

/* A method call without arguments, marshalled as the specification says. */
Message raw_method_call(uint32_t serial, const char *path, const char *interface, const char *member) {
        Message m = {};
        size_t fields_start;
        uint32_t fields_len;

        m.buf[m.size++] = 'l';
        m.buf[m.size++] = 1; /* METHOD_CALL */
        m.buf[m.size++] = 0;
        m.buf[m.size++] = 1; /* protocol version */
        raw_put_u32(&m, 0);      /* body length */
        raw_put_u32(&m, serial);
        raw_put_u32(&m, 0);      /* header fields length, below */
        fields_start = m.size;
        raw_put_field(&m, 1, 'o', path);
        raw_put_field(&m, 2, 's', interface);
        raw_put_field(&m, 3, 's', member);
        fields_len = (uint32_t) (m.size - fields_start);
        memcpy(m.buf + 12, &fields_len, 4);
        pad_to(&m, align8);
        return m;
}

Message raw_hello(uint32_t serial) {
        return raw_method_call(serial, "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello");
}

Message raw_ready(uint32_t serial) {
        return raw_method_call(serial, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready");
}



void plugin_log_read(PluginLog *l) {
        for (;;) {
                char buf[4096];
                ssize_t n = read(l->fd, buf, sizeof(buf));
                size_t keep;

                if (n <= 0)
                        return;
                for (ssize_t i = 0; i < n; i++)
                        l->n_lines += buf[i] == '\n';
                keep = MIN((size_t) n, LOG_KEEP - MIN(l->size, (size_t) LOG_KEEP));
                if (keep > 0) {
                        char *p = realloc(l->text, l->size + keep + 1);

                        ck_assert_ptr_nonnull(p);
                        memcpy(p + l->size, buf, keep);
                        l->size += keep;
                        p[l->size] = 0;
                        l->text = p;
                }
        }
}


void raw_connect(RawClient *c, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(c->fd, 0);
        ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
        strcpy(sa.sun_path, path);
        ck_assert_int_eq(connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        c->size = 0;
        c->authenticated = false;
        c->log = NULL;
}

void raw_close(RawClient *c) {
        c->fd = safe_close(c->fd);
}

/* What libdbus sends: AUTH EXTERNAL with our uid in hex, NEGOTIATE_UNIX_FD, BEGIN, without waiting. */
size_t raw_auth_lines(char *buf, size_t size) {
        char uid[32], hex[64] = "";
        int n;

        snprintf(uid, sizeof(uid), "%u", (unsigned) getuid());
        for (size_t i = 0; uid[i]; i++)
                snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", (unsigned char) uid[i]);
        n = snprintf(buf, size, "%cAUTH EXTERNAL %s\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n", 0, hex);
        ck_assert_int_gt(n, 0);
        ck_assert_uint_lt((size_t) n, size);
        return (size_t) n;
}

/* One send() of @n bytes: the point of these tests is what goes into one write. */
void raw_send(RawClient *c, const void *data, size_t n) {
        ck_assert_int_eq(send(c->fd, data, n, MSG_NOSIGNAL), (ssize_t) n);
}

void raw_fill(RawClient *c) {
        ssize_t n;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = c->fd, .events = POLLIN },
                        { .fd = c->log ? c->log->fd : -1, .events = POLLIN },
                };

                ck_assert_msg(poll(p, 2, READ_GUARD_MSEC) > 0, "no answer from the plugin");
                if (p[1].revents != 0)
                        plugin_log_read(c->log);
                if (p[0].revents != 0)
                        break;
        }
        ck_assert_uint_lt(c->size, sizeof(c->buf));
        n = recv(c->fd, c->buf + c->size, sizeof(c->buf) - c->size, 0);
        ck_assert_msg(n > 0, "connection closed by the plugin");
        c->size += (size_t) n;
}

void raw_consume(RawClient *c, size_t n) {
        memmove(c->buf, c->buf + n, c->size - n);
        c->size -= n;
}

/* Wait for the server's side of the SASL exchange: "OK <guid>", then its answer to NEGOTIATE_UNIX_FD. The
 * runtime offers no descriptor passing (sd-bus reads what the input gate passes on, from a pipe), so that is
 * "ERROR", after which a libdbus client goes on without descriptors. */
void raw_wait_auth(RawClient *c) {
        uint8_t *ok_end, *e;

        while (!(ok_end = memmem(c->buf, c->size, "\r\n", 2)) ||
               !(e = memmem(ok_end + 2, c->size - (size_t) (ok_end + 2 - c->buf), "\r\n", 2)))
                raw_fill(c);
        ck_assert_msg(c->size >= 3 && memcmp(c->buf, "OK ", 3) == 0, "authentication refused: %.*s",
                      (int) c->size, (const char *) c->buf);
        ck_assert_msg(memcmp(ok_end + 2, "ERROR", 5) == 0 || memcmp(ok_end + 2, "AGREE_UNIX_FD", 13) == 0,
                      "unexpected answer to NEGOTIATE_UNIX_FD: %.*s", (int) (e - ok_end - 2),
                      (const char *) ok_end + 2);
        raw_consume(c, (size_t) (e - c->buf) + 2);
        c->authenticated = true;
}

uint32_t raw_get_u32(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, 4);
        return v;
}

/* Read the next message; return its type and the serial it replies to. */
uint8_t raw_read_reply(RawClient *c, uint32_t *ret_reply_serial) {
        size_t fields_len, total, pos;
        uint8_t type;

        if (!c->authenticated)
                raw_wait_auth(c);
        while (c->size < 16)
                raw_fill(c);
        ck_assert_int_eq(c->buf[0], 'l');
        fields_len = raw_get_u32(c->buf + 12);
        total = 16 + ALIGN8(fields_len) + raw_get_u32(c->buf + 4);
        ck_assert_uint_le(total, sizeof(c->buf));
        while (c->size < total)
                raw_fill(c);

        type = c->buf[1];
        *ret_reply_serial = 0;
        for (pos = 16; pos < 16 + fields_len;) {
                uint8_t code, sig;

                pos = ALIGN8(pos);
                code = c->buf[pos];
                ck_assert_int_eq(c->buf[pos + 1], 1);
                sig = c->buf[pos + 2];
                pos += 4;
                if (sig == 'u') {
                        if (code == 5)
                                *ret_reply_serial = raw_get_u32(c->buf + pos);
                        pos += 4;
                } else if (sig == 's' || sig == 'o') {
                        pos = ALIGN4(pos);
                        pos += 4 + raw_get_u32(c->buf + pos) + 1;
                } else if (sig == 'g')
                        pos += 1 + c->buf[pos] + 1;
                else
                        ck_abort_msg("unexpected header field type '%c'", sig);
        }

        raw_consume(c, total);
        return type;
}

/* The next message answers @serial with a method return. */
void raw_expect_return(RawClient *c, uint32_t serial) {
        uint32_t reply_serial;
        uint8_t type;

        type = raw_read_reply(c, &reply_serial);
        ck_assert_uint_eq(reply_serial, serial);
        ck_assert_msg(type == 2, "call %u answered with message type %u, not a method return", serial, type);
}

size_t plugin_log_count(const char *s, const char *needle) {
        size_t n = 0;

        for (const char *l = s; l && *l;) {
                const char *e = strchrnul(l, '\n');

                if (memmem(l, (size_t) (e - l), needle, strlen(needle)))
                        n++;
                l = *e ? e + 1 : e;
        }
        return n;
}

void plugin_log_wait(PluginLog *l, const char *needle) {
        while (!l->text || !strstr(l->text, needle)) {
                struct pollfd p = { .fd = l->fd, .events = POLLIN };

                ck_assert_msg(l->size < LOG_KEEP, "no \"%s\" in the first %u bytes of the log (%zu lines):\n%.4000s",
                              needle, LOG_KEEP, l->n_lines, l->text);
                ck_assert_msg(poll(&p, 1, READ_GUARD_MSEC) == 1, "the plugin never logged \"%s\"; log:\n%s", needle,
                              strempty(l->text));
                plugin_log_read(l);
        }
}

