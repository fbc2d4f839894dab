/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A real plugin's socket as clients that are not sd-bus see it: a raw D-Bus client (the SASL lines and
 * messages marshalled by hand, as libdbus or another language would) that sends its first calls in the
 * same write as BEGIN, or split across writes; and a plugin out of file descriptors, which must neither
 * spin nor flood its log, and must serve new clients once descriptors are free again. */

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "macro.h"
#include "sdloop.h"
#include "test-util.h"

#define ALIGN8(x) (((x) + 7) & ~(size_t) 7)
#define ALIGN4(x) (((x) + 3) & ~(size_t) 3)

/* How long a read may take before the test gives up: a guard against hanging, never a measurement. */
#define READ_GUARD_MSEC (20 * 1000)

static char dir[] = "/tmp/sdloop-test-socket-XXXXXX";
static char sock_path[PATH_MAX], notify_path[PATH_MAX];

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sock_path, sizeof(sock_path), "%s/plugin.sock", dir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
}

static void teardown(void) {
        (void) unlink(sock_path);
        (void) unlink(notify_path);
        (void) rmdir(dir);
        strcpy(dir, "/tmp/sdloop-test-socket-XXXXXX");
}

/* --- a D-Bus client without sd-bus ------------------------------------------------------------------- */

typedef struct Message {
        uint8_t buf[512];
        size_t size;
} Message;

static void put_u32(Message *m, uint32_t v) {
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

static void put_field(Message *m, uint8_t code, char type, const char *value) {
        size_t len = strlen(value);

        pad_to(m, align8);
        m->buf[m->size++] = code;
        m->buf[m->size++] = 1; /* the variant's signature: one type */
        m->buf[m->size++] = (uint8_t) type;
        m->buf[m->size++] = 0;
        put_u32(m, (uint32_t) len); /* at 8n+4: aligned for the string's length */
        memcpy(m->buf + m->size, value, len + 1);
        m->size += len + 1;
}

/* A method call without arguments, marshalled as the specification says. */
static Message method_call(uint32_t serial, const char *path, const char *interface, const char *member) {
        Message m = {};
        size_t fields_start;
        uint32_t fields_len;

        m.buf[m.size++] = 'l';
        m.buf[m.size++] = 1; /* METHOD_CALL */
        m.buf[m.size++] = 0;
        m.buf[m.size++] = 1; /* protocol version */
        put_u32(&m, 0);      /* body length */
        put_u32(&m, serial);
        put_u32(&m, 0);      /* header fields length, below */
        fields_start = m.size;
        put_field(&m, 1, 'o', path);
        put_field(&m, 2, 's', interface);
        put_field(&m, 3, 's', member);
        fields_len = (uint32_t) (m.size - fields_start);
        memcpy(m.buf + 12, &fields_len, 4);
        pad_to(&m, align8);
        return m;
}

static Message hello(uint32_t serial) {
        return method_call(serial, "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello");
}

static Message ready(uint32_t serial) {
        return method_call(serial, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready");
}

/* A plugin's log, read from a pipe as it comes: all of it counted, the first LOG_KEEP bytes kept. */
#define LOG_KEEP (1024U * 1024U)

typedef struct PluginLog {
        int fd;
        char *text;
        size_t size;
        size_t n_lines;
} PluginLog;

static void plugin_log_read(PluginLog *l) {
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

typedef struct RawClient {
        int fd;
        uint8_t buf[64 * 1024];
        size_t size;
        bool authenticated;
        PluginLog *log; /* drained while waiting, so that a plugin logging a lot never blocks on it */
} RawClient;

static void raw_connect(RawClient *c) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(c->fd, 0);
        strcpy(sa.sun_path, sock_path);
        ck_assert_int_eq(connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        c->size = 0;
        c->authenticated = false;
        c->log = NULL;
}

static void raw_close(RawClient *c) {
        c->fd = safe_close(c->fd);
}

/* What libdbus sends: AUTH EXTERNAL with our uid in hex, NEGOTIATE_UNIX_FD, BEGIN, without waiting. */
static size_t auth_lines(char *buf, size_t size) {
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
static void raw_send(RawClient *c, const void *data, size_t n) {
        ck_assert_int_eq(send(c->fd, data, n, MSG_NOSIGNAL), (ssize_t) n);
}

static void raw_fill(RawClient *c) {
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

static void raw_consume(RawClient *c, size_t n) {
        memmove(c->buf, c->buf + n, c->size - n);
        c->size -= n;
}

/* Wait for the server's side of the SASL exchange: "OK <guid>", then its answer to NEGOTIATE_UNIX_FD. The
 * runtime offers no descriptor passing (sd-bus reads what the input gate passes on, from a pipe), so that is
 * "ERROR", after which a libdbus client goes on without descriptors. */
static void raw_wait_auth(RawClient *c) {
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

static uint32_t get_u32(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, 4);
        return v;
}

/* Read the next message; return its type and the serial it replies to. */
static uint8_t raw_read_reply(RawClient *c, uint32_t *ret_reply_serial) {
        size_t fields_len, total, pos;
        uint8_t type;

        if (!c->authenticated)
                raw_wait_auth(c);
        while (c->size < 16)
                raw_fill(c);
        ck_assert_int_eq(c->buf[0], 'l');
        fields_len = get_u32(c->buf + 12);
        total = 16 + ALIGN8(fields_len) + get_u32(c->buf + 4);
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
                                *ret_reply_serial = get_u32(c->buf + pos);
                        pos += 4;
                } else if (sig == 's' || sig == 'o') {
                        pos = ALIGN4(pos);
                        pos += 4 + get_u32(c->buf + pos) + 1;
                } else if (sig == 'g')
                        pos += 1 + c->buf[pos] + 1;
                else
                        ck_abort_msg("unexpected header field type '%c'", sig);
        }

        raw_consume(c, total);
        return type;
}

/* The next message answers @serial with a method return. */
static void raw_expect_return(RawClient *c, uint32_t serial) {
        uint32_t reply_serial;
        uint8_t type;

        type = raw_read_reply(c, &reply_serial);
        ck_assert_uint_eq(reply_serial, serial);
        ck_assert_msg(type == 2, "call %u answered with message type %u, not a method return", serial, type);
}

/* --- the plugins under test ------------------------------------------------------------------------ */

/* Every plugin binary the build made, each of which must behave the same: it is the runtime's doing. */
static const char *plugin_bin(int i) {
        static const char *vars[] = { "SDLOOP_EXAMPLE_PLUGIN", "SDLOOP_RELAYER_LEDGER", "SDLOOP_MEDIAN_PLUGIN" };

        /* Also called while the suite is put together: no ck_assert here. */
        return i < (int) ELEMENTSOF(vars) ? getenv(vars[i]) : NULL;
}

static pid_t start_plugin(int i) {
        const char *bin = plugin_bin(i);

        ck_assert_msg(bin, "plugin %i not given", i);
        return test_plugin_start(bin, sock_path, notify_path);
}

/* --- the first call in the same write as BEGIN ------------------------------------------------------ */

START_TEST(test_begin_and_call_in_one_write) {
        pid_t pid = start_plugin(_i);
        RawClient c;
        char out[1024];
        size_t n;

        /* Hello, as busctl and libdbus start. */
        raw_connect(&c);
        n = auth_lines(out, sizeof(out));
        {
                Message m = hello(1);

                memcpy(out + n, m.buf, m.size);
                raw_send(&c, out, n + m.size);
        }
        raw_expect_return(&c, 1);
        raw_close(&c);

        /* Two calls behind BEGIN, both answered in order. */
        raw_connect(&c);
        n = auth_lines(out, sizeof(out));
        {
                Message a = hello(1), b = ready(2);

                memcpy(out + n, a.buf, a.size);
                memcpy(out + n + a.size, b.buf, b.size);
                raw_send(&c, out, n + a.size + b.size);
        }
        raw_expect_return(&c, 1);
        raw_expect_return(&c, 2);
        raw_close(&c);

        /* A call straight after BEGIN, without Hello. */
        raw_connect(&c);
        n = auth_lines(out, sizeof(out));
        {
                Message m = ready(7);

                memcpy(out + n, m.buf, m.size);
                raw_send(&c, out, n + m.size);
        }
        raw_expect_return(&c, 7);
        raw_close(&c);

        test_plugin_stop(pid);
}
END_TEST

START_TEST(test_call_split_across_writes) {
        pid_t pid = start_plugin(_i);
        RawClient c;
        char out[1024];
        size_t n;

        /* The call after the server's answer, in a write of its own. */
        raw_connect(&c);
        n = auth_lines(out, sizeof(out));
        raw_send(&c, out, n);
        raw_wait_auth(&c);
        {
                Message m = ready(1);

                raw_send(&c, m.buf, m.size);
        }
        raw_expect_return(&c, 1);
        raw_close(&c);

        /* Half a call with BEGIN, the rest later; then a header byte by byte. */
        raw_connect(&c);
        n = auth_lines(out, sizeof(out));
        {
                Message m = ready(2), h = hello(3);

                memcpy(out + n, m.buf, 10);
                raw_send(&c, out, n + 10);
                raw_wait_auth(&c);
                raw_send(&c, m.buf + 10, m.size - 10);
                raw_expect_return(&c, 2);

                for (size_t i = 0; i < h.size; i++)
                        raw_send(&c, h.buf + i, 1);
                raw_expect_return(&c, 3);
        }
        raw_close(&c);

        test_plugin_stop(pid);
}
END_TEST

/* --- out of file descriptors ------------------------------------------------------------------------- */

/* The plugin may open this many descriptors; it is asked to take many more connections. */
#define NOFILE 32
#define N_CONNECTIONS 100

static size_t count_lines(const char *s, const char *needle) {
        size_t n = 0;

        for (const char *l = s; l && *l;) {
                const char *e = strchrnul(l, '\n');

                if (memmem(l, (size_t) (e - l), needle, strlen(needle)))
                        n++;
                l = *e ? e + 1 : e;
        }
        return n;
}

static void wait_for_log(PluginLog *l, const char *needle) {
        while (!l->text || !strstr(l->text, needle)) {
                struct pollfd p = { .fd = l->fd, .events = POLLIN };

                ck_assert_msg(l->size < LOG_KEEP, "no \"%s\" in the first %u bytes of the log (%zu lines):\n%.4000s",
                              needle, LOG_KEEP, l->n_lines, l->text);
                ck_assert_msg(poll(&p, 1, READ_GUARD_MSEC) == 1, "the plugin never logged \"%s\"; log:\n%s", needle,
                              strempty(l->text));
                plugin_log_read(l);
        }
}

START_TEST(test_out_of_file_descriptors) {
        _cleanup_close_ int log_w = -EBADF;
        PluginLog log = { .fd = -EBADF };
        int pipefd[2], fds[N_CONNECTIONS], status;
        size_t n_warnings;
        const char *again;
        unsigned failed = 0;
        pid_t pid;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
        log.fd = pipefd[0];
        log_w = pipefd[1];

        /* Info, not debug: the runtime logs each connection at debug level, and this counts what an
         * operator sees. */
        pid = test_plugin_start_with(plugin_bin(0), sock_path, notify_path,
                                     &(const TestPluginOptions) {
                                             .nofile = NOFILE,
                                             .log_fd = log_w,
                                             .log_level = "info",
                                     });
        log_w = safe_close(log_w);

        /* Far more than it can accept: the rest wait in the listening socket's queue, which keeps it
         * readable while accept() fails with EMFILE. */
        for (size_t i = 0; i < N_CONNECTIONS; i++) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                ck_assert_int_ge(fds[i], 0);
                strcpy(sa.sun_path, sock_path);
                ck_assert_int_eq(connect(fds[i], (struct sockaddr *) &sa, sizeof(sa)), 0);
        }

        /* It ran out, and said so… */
        wait_for_log(&log, "Failed to accept connection");

        /* …and a new client's request waits in the queue like the others. It is answered once the plugin
         * accepts it, after descriptors are free again. The pause only gives the plugin several retries
         * (and a spinning one the time to log thousands of lines); what is checked is counted, below. */
        {
                RawClient c;
                char out[1024];
                size_t n;

                raw_connect(&c);
                c.log = &log;
                n = auth_lines(out, sizeof(out));
                raw_send(&c, out, n);
                for (unsigned i = 0; i < 50; i++) {
                        (void) usleep(10 * 1000);
                        plugin_log_read(&log);
                }

                /* Free them, and the waiting client is served. */
                for (size_t i = 0; i < N_CONNECTIONS; i++)
                        fds[i] = safe_close(fds[i]);
                raw_wait_auth(&c);
                {
                        Message m = ready(1);

                        raw_send(&c, m.buf, m.size);
                }
                raw_expect_return(&c, 1);
                raw_close(&c);
        }

        /* A new client, with sd-bus this time, is served as ever. */
        {
                _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;

                plugin_log_read(&log);
                ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &peer), 0);
                ck_assert_msg(sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL,
                                                      &error, NULL) >= 0,
                              "Ready(): %s: %s", strempty(error.name), strempty(error.message));
        }

        /* Once it exited, the pipe holds the rest of its log. */
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        for (;;) {
                pid_t k = waitpid(pid, &status, WNOHANG);

                ck_assert_int_ge(k, 0);
                plugin_log_read(&log);
                if (k == pid)
                        break;
                (void) usleep(10 * 1000);
        }
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        plugin_log_read(&log);

        /* One warning for the whole burst, one line when it was over: not one per attempt. */
        n_warnings = count_lines(log.text, "Failed to accept connection");
        ck_assert_msg(n_warnings == 1, "%zu warnings about accept() in %zu lines; log:\n%.4000s", n_warnings,
                      log.n_lines, log.text);
        ck_assert_msg(log.n_lines <= 8, "%zu lines logged; log:\n%.4000s", log.n_lines, log.text);
        again = strstr(log.text, "Accepting connections again, after ");
        ck_assert_msg(again, "no line about accepting again; log:\n%s", log.text);
        ck_assert_int_eq(sscanf(again, "Accepting connections again, after %u failed", &failed), 1);
        ck_assert_uint_ge(failed, 1);

        safe_close(log.fd);
        free(log.text);
}
END_TEST

/* --- the connection cap -------------------------------------------------------------------------------- */

static int call_ready(SdloopPeer *peer, sd_bus_error *error) {
        return sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, error, NULL);
}

START_TEST(test_connection_cap) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_close_ int log_w = -EBADF;
        PluginLog log = { .fd = -EBADF };
        char expected[128];
        unsigned refused = 0;
        int pipefd[2], r;
        pid_t pid;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
        log.fd = pipefd[0];
        log_w = pipefd[1];

        ck_assert_int_eq(setenv("SDLOOP_CONNECTIONS_MAX", "2", 1), 0);
        pid = test_plugin_start_with(plugin_bin(0), sock_path, notify_path,
                                     &(const TestPluginOptions) { .log_fd = log_w, .log_level = "info" });
        log_w = safe_close(log_w);

        /* Two are served… */
        ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &a), 0);
        ck_assert_msg(call_ready(a, &error) >= 0, "Ready(): %s", strempty(error.message));
        ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &b), 0);
        ck_assert_msg(call_ready(b, &error) >= 0, "Ready(): %s", strempty(error.message));

        /* …the third is hung up on at once, with one line naming it… */
        /* (The hang-up may come while the connection is still being made: then that fails instead.) */
        r = sdloop_peer_connect(NULL, sock_path, &c);
        if (r >= 0) {
                r = call_ready(c, &error);
                ck_assert_int_lt(r, 0);
                ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE), "got %s: %s",
                              strempty(error.name), strempty(error.message));
                sd_bus_error_free(&error);
        } else
                ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "connect: %s", strerror(-r));
        (void) snprintf(expected, sizeof(expected), "Refusing connection from pid %i (uid %u): already serving 2",
                        (int) getpid(), (unsigned) getuid());
        wait_for_log(&log, expected);

        /* …and the first two are still served. */
        ck_assert_msg(call_ready(a, &error) >= 0, "Ready(): %s", strempty(error.message));
        ck_assert_msg(call_ready(b, &error) >= 0, "Ready(): %s", strempty(error.message));

        /* One gone, room for one more: asked until the plugin has seen the hang-up. */
        a = sdloop_peer_unref(a);
        for (;;) {
                d = sdloop_peer_unref(d);
                /* Hung up on before the authentication went out, or after. */
                r = sdloop_peer_connect(NULL, sock_path, &d);
                ck_assert_msg(r >= 0 || r == -EPIPE || r == -ECONNRESET, "connect: %s", strerror(-r));
                if (r >= 0 && call_ready(d, &error) >= 0)
                        break;
                sd_bus_error_free(&error);
                ck_assert_uint_lt(++refused, 1000);
        }
        wait_for_log(&log, "Accepting connections again, after refusing ");
        ck_assert_uint_eq(count_lines(log.text, "Refusing connection from pid"), 1);

        test_plugin_stop(pid);
        safe_close(log.fd);
        free(log.text);
}
END_TEST

static Suite *socket_suite(void) {
        Suite *s = suite_create("plugin-socket");
        TCase *tc;
        int n_plugins = 0;

        while (n_plugins < 3 && plugin_bin(n_plugins))
                n_plugins++;

        tc = tcase_create("auth");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_begin_and_call_in_one_write, 0, n_plugins);
        tcase_add_loop_test(tc, test_call_split_across_writes, 0, n_plugins);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_out_of_file_descriptors);
        tcase_add_test(tc, test_connection_cap);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(socket_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
