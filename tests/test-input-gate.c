/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What one connection can make a process hold (input-gate.c): a message announced over the limit closes that
 * connection before it is read, on the plugin's side and on the host's; stalled clients announcing huge
 * messages cost the plugin nothing; a client that does not read its replies is no longer read from, and
 * gets every reply, in order, once it reads; every other connection is served meanwhile. */

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "macro.h"
#include "raw-dbus.h"
#include "sdloop.h"
#include "test-util.h"

#define MIB (1024U * 1024U)

static char dir[] = "/tmp/sdloop-test-gate-XXXXXX";
static char sock_path[PATH_MAX], notify_path[PATH_MAX];
static PluginLog plugin_log = { .fd = -EBADF };

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sock_path, sizeof(sock_path), "%s/plugin.sock", dir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
}

static void teardown(void) {
        (void) unlink(sock_path);
        (void) unlink(notify_path);
        (void) rmdir(dir);
        strcpy(dir, "/tmp/sdloop-test-gate-XXXXXX");
        plugin_log.fd = safe_close(plugin_log.fd);
        plugin_log.text = mfree(plugin_log.text);
        plugin_log.size = plugin_log.n_lines = 0;
}

/* The example plugin, its log (info and up) read by the test. */
static pid_t start_plugin(void) {
        _cleanup_close_ int log_w = -EBADF;
        const char *bin = getenv("SDLOOP_EXAMPLE_PLUGIN");
        int pipefd[2];
        pid_t pid;

        ck_assert_ptr_nonnull(bin);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
        plugin_log.fd = pipefd[0];
        log_w = pipefd[1];
        pid = test_plugin_start_with(bin, sock_path, notify_path,
                                     &(const TestPluginOptions) { .log_fd = log_w, .log_level = "info" });
        return pid;
}

static void check_ready(SdloopPeer *peer) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, &error, NULL);
        ck_assert_msg(r >= 0, "Ready(): %s", strempty(error.message));
}

/* An authenticated raw client whose next message announces a body of @body_size bytes. */
static void send_announcement(RawClient *c, uint32_t serial, uint32_t body_size) {
        Message m = raw_ready(serial);
        char auth[256];

        raw_connect(c, sock_path);
        c->log = &plugin_log;
        raw_send(c, auth, raw_auth_lines(auth, sizeof(auth)));
        raw_wait_auth(c);
        memcpy(m.buf + 4, &body_size, 4);
        raw_send(c, m.buf, m.size);
}

/* The plugin closes the connection: the end of the stream, or a reset. */
static void expect_hang_up(RawClient *c) {
        for (;;) {
                struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = plugin_log.fd, .events = POLLIN } };
                uint8_t buf[4096];
                ssize_t n;

                ck_assert_msg(poll(p, 2, READ_GUARD_MSEC) > 0, "the plugin kept the connection open");
                if (p[1].revents != 0)
                        plugin_log_read(&plugin_log);
                if (p[0].revents == 0)
                        continue;
                n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return;
                ck_assert_msg(n > 0 || errno == EAGAIN, "recv: %m");
        }
}

static uint64_t rss_kib(pid_t pid) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];
        uint64_t v = 0;

        snprintf(path, sizeof(path), "/proc/%i/status", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %" SCNu64, &v) == 1)
                        break;
        return v;
}

START_TEST(test_message_over_limit) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *other = NULL;
        char expected[160];
        RawClient c;
        pid_t pid;

        ck_assert_int_eq(setenv("SDLOOP_MESSAGE_SIZE_MAX", "65536", 1), 0);
        pid = start_plugin();
        ck_assert_int_eq(unsetenv("SDLOOP_MESSAGE_SIZE_MAX"), 0);

        ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &other), 0);
        check_ready(other);

        /* Header and fields of a Ready() call whose body would be 70000 bytes: closed before a byte of it. */
        send_announcement(&c, 1, 70000);
        expect_hang_up(&c);
        (void) snprintf(expected, sizeof(expected), "over the limit of 65536 ($SDLOOP_MESSAGE_SIZE_MAX); disconnecting");
        plugin_log_wait(&plugin_log, expected);
        raw_close(&c);

        /* One under the limit is a message like any other: this one has no body, and is answered. */
        {
                Message m = raw_ready(2);
                char auth[256];

                raw_connect(&c, sock_path);
                c.log = &plugin_log;
                raw_send(&c, auth, raw_auth_lines(auth, sizeof(auth)));
                raw_send(&c, m.buf, m.size);
                raw_expect_return(&c, 2);
                raw_close(&c);
        }

        /* The other connection was served all along. */
        check_ready(other);
        ck_assert_uint_eq(plugin_log_count(plugin_log.text, "($SDLOOP_MESSAGE_SIZE_MAX)"), 1);
        other = sdloop_peer_unref(other);
        test_plugin_stop(pid);
}
END_TEST

/* Six clients announce 100 MiB each and try to send 60 MiB of it (the default limit is 16 MiB): each is
 * hung up on at its header, and the plugin's memory stays what it was. */
START_TEST(test_stalled_huge_messages) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *other = NULL;
        _cleanup_free_ uint8_t *junk = NULL;
        RawClient c[6];
        uint64_t before, after;
        pid_t pid;

        pid = start_plugin();
        ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &other), 0);
        check_ready(other);
        before = rss_kib(pid);

        junk = calloc(1, MIB);
        ck_assert_ptr_nonnull(junk);
        for (size_t i = 0; i < ELEMENTSOF(c); i++) {
                send_announcement(&c[i], 1, 100 * MIB);
                /* Until the plugin hangs up (EPIPE), or the kernel's buffer is full and it does not read. */
                ck_assert_int_eq(fcntl(c[i].fd, F_SETFL, O_NONBLOCK), 0);
                for (size_t sent = 0; sent < 60 * MIB;) {
                        ssize_t n = send(c[i].fd, junk, MIB, MSG_NOSIGNAL);

                        if (n < 0 && errno == EAGAIN) {
                                struct pollfd p = { .fd = c[i].fd, .events = POLLOUT };

                                plugin_log_read(&plugin_log);
                                if (poll(&p, 1, 1000) == 0)
                                        break; /* not read any more */
                                continue;
                        }
                        if (n < 0) {
                                ck_assert_msg(errno == EPIPE || errno == ECONNRESET, "send: %m");
                                break;
                        }
                        sent += (size_t) n;
                }
                ck_assert_int_eq(fcntl(c[i].fd, F_SETFL, 0), 0);
                expect_hang_up(&c[i]);
        }
        check_ready(other);
        after = rss_kib(pid);
        for (size_t i = 0; i < ELEMENTSOF(c); i++)
                raw_close(&c[i]);

        plugin_log_wait(&plugin_log, "bytes announced, over the limit of 16777216");
        while (plugin_log_count(plugin_log.text, "($SDLOOP_MESSAGE_SIZE_MAX)") < ELEMENTSOF(c)) {
                struct pollfd p = { .fd = plugin_log.fd, .events = POLLIN };

                ck_assert_msg(poll(&p, 1, READ_GUARD_MSEC) == 1, "log:\n%s", strempty(plugin_log.text));
                plugin_log_read(&plugin_log);
        }
        ck_assert_uint_eq(plugin_log_count(plugin_log.text, "($SDLOOP_MESSAGE_SIZE_MAX)"), ELEMENTSOF(c));
        /* Without the gate sd-bus buffers what arrives: 60 MiB each. A few MiB of slack for the allocator. */
        ck_assert_msg(after < before + 8 * 1024, "plugin RSS grew from %" PRIu64 " to %" PRIu64 " KiB", before, after);

        other = sdloop_peer_unref(other);
        test_plugin_stop(pid);
}
END_TEST

/* A client sends calls and reads nothing: the plugin's replies fill the socket, then its write queue; the
 * gate then stops reading that client, whose sends end up refused by the kernel. Once it reads, every call
 * is answered, in order; another connection is served meanwhile. */
START_TEST(test_unread_replies_hold_input) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *other = NULL;
        const uint32_t max_calls = 200000;
        uint32_t serial = 0, partial_serial = 0;
        size_t partial_off = 0;
        bool held = false;
        Message m = {};
        RawClient c;
        char auth[256];
        pid_t pid;

        pid = start_plugin();
        ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &other), 0);

        raw_connect(&c, sock_path);
        c.log = &plugin_log;
        raw_send(&c, auth, raw_auth_lines(auth, sizeof(auth)));
        raw_wait_auth(&c);
        ck_assert_int_eq(fcntl(c.fd, F_SETFL, O_NONBLOCK), 0);

        while (serial < max_calls) {
                ssize_t n;

                m = raw_ready(++serial);
                n = send(c.fd, m.buf, m.size, MSG_NOSIGNAL);
                if (n == (ssize_t) m.size)
                        continue;
                if (n >= 0) {
                        /* Part of it went: the rest goes once the plugin reads again. */
                        partial_serial = serial;
                        partial_off = (size_t) n;
                } else
                        ck_assert_msg(errno == EAGAIN, "send: %m");

                /* Not read from for a while (a guard, not a measurement): held. */
                struct pollfd p = { .fd = c.fd, .events = POLLOUT };
                plugin_log_read(&plugin_log);
                if (poll(&p, 1, 2000) == 0) {
                        held = true;
                        break;
                }
                if (partial_serial != 0) {
                        ck_assert_int_eq(fcntl(c.fd, F_SETFL, 0), 0);
                        raw_send(&c, m.buf + partial_off, m.size - partial_off);
                        ck_assert_int_eq(fcntl(c.fd, F_SETFL, O_NONBLOCK), 0);
                        partial_serial = 0;
                } else
                        serial--; /* not sent: again */
        }
        ck_assert_msg(held, "the plugin read %u calls from a client that reads no reply", serial);

        /* Served while that one is held. */
        check_ready(other);

        ck_assert_int_eq(fcntl(c.fd, F_SETFL, 0), 0);
        if (partial_serial == 0)
                serial--; /* the last one was refused whole */
        for (uint32_t i = 1; i <= serial; i++) {
                if (i == partial_serial)
                        raw_send(&c, m.buf + partial_off, m.size - partial_off);
                raw_expect_return(&c, i);
        }
        raw_close(&c);

        other = sdloop_peer_unref(other);
        test_plugin_stop(pid);
}
END_TEST

/* --- the host's side: a plugin that announces a huge reply --------------------------------------------- */

static void fake_plugin(int fd) {
        static const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\n";
        char buf[4096];
        size_t size = 0;
        Message reply = raw_ready(1);
        uint32_t huge = 200 * MIB;

        /* The client's AUTH and BEGIN, then its first call. */
        while (!memmem(buf, size, "BEGIN\r\n", 7)) {
                ssize_t n = read(fd, buf + size, sizeof(buf) - size);
                if (n <= 0)
                        _exit(2);
                size += (size_t) n;
        }
        if (write(fd, ok, strlen(ok)) != (ssize_t) strlen(ok))
                _exit(3);
        /* Any message header announcing 200 MiB, as the answer. */
        memcpy(reply.buf + 4, &huge, 4);
        if (write(fd, reply.buf, reply.size) != (ssize_t) reply.size)
                _exit(4);
        /* Then wait to be hung up on. */
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        _exit(0);
                if (n < 0)
                        _exit(5);
        }
}

START_TEST(test_host_refuses_huge_reply) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int fds[2], status, r;
        pid_t pid;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                safe_close(fds[1]);
                fake_plugin(fds[0]);
        }
        safe_close(fds[0]);

        ck_assert_int_eq(sdloop_peer_new_client(NULL, fds[1], &peer), 0);
        (void) sdloop_peer_set_description(peer, "fake-plugin");
        r = sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, &error, NULL);
        ck_assert_int_lt(r, 0);
        ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE), "got %s: %s",
                      strempty(error.name), strempty(error.message));
        ck_assert(!sdloop_peer_is_connected(peer));
        /* Why, for the host to show (LastError). */
        ck_assert_ptr_nonnull(sdloop_peer_get_close_reason(peer));
        ck_assert_msg(strstr(sdloop_peer_get_close_reason(peer), "over the limit of 16777216"), "close reason: %s",
                      sdloop_peer_get_close_reason(peer));

        /* The fake plugin saw the connection end. */
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fake plugin: status %i", status);
}
END_TEST

static Suite *gate_suite(void) {
        Suite *s = suite_create("input-gate");
        TCase *tc;

        tc = tcase_create("plugin");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, test_message_over_limit);
        tcase_add_test(tc, test_stalled_huge_messages);
        tcase_add_test(tc, test_unread_replies_hold_input);
        suite_add_tcase(s, tc);

        tc = tcase_create("host");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_host_refuses_huge_reply);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(gate_suite());
        int failed;

        signal(SIGPIPE, SIG_IGN);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
