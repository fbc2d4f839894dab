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
#include "raw-dbus.h"
#include "test-util.h"

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

/* --- the plugins under test ------------------------------------------------------------------------ */

/* Every plugin binary the build made, each of which must behave the same: it is the runtime's doing. */
static const char *plugin_bin(int i) {
        static const char *vars[] = { "SDLOOP_EXAMPLE_PLUGIN", "SDLOOP_RELAYER_LEDGER", "SDLOOP_MEDIAN_PLUGIN",
                                      "SDLOOP_MEDIAN_PYTHON" };

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
        raw_connect(&c, sock_path);
        n = raw_auth_lines(out, sizeof(out));
        {
                Message m = raw_hello(1);

                memcpy(out + n, m.buf, m.size);
                raw_send(&c, out, n + m.size);
        }
        raw_expect_return(&c, 1);
        raw_close(&c);

        /* Two calls behind BEGIN, both answered in order. */
        raw_connect(&c, sock_path);
        n = raw_auth_lines(out, sizeof(out));
        {
                Message a = raw_hello(1), b = raw_ready(2);

                memcpy(out + n, a.buf, a.size);
                memcpy(out + n + a.size, b.buf, b.size);
                raw_send(&c, out, n + a.size + b.size);
        }
        raw_expect_return(&c, 1);
        raw_expect_return(&c, 2);
        raw_close(&c);

        /* A call straight after BEGIN, without Hello. */
        raw_connect(&c, sock_path);
        n = raw_auth_lines(out, sizeof(out));
        {
                Message m = raw_ready(7);

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
        raw_connect(&c, sock_path);
        n = raw_auth_lines(out, sizeof(out));
        raw_send(&c, out, n);
        raw_wait_auth(&c);
        {
                Message m = raw_ready(1);

                raw_send(&c, m.buf, m.size);
        }
        raw_expect_return(&c, 1);
        raw_close(&c);

        /* Half a call with BEGIN, the rest later; then a header byte by byte. */
        raw_connect(&c, sock_path);
        n = raw_auth_lines(out, sizeof(out));
        {
                Message m = raw_ready(2), h = raw_hello(3);

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
        plugin_log_wait(&log, "Failed to accept connection");

        /* …and a new client's request waits in the queue like the others. It is answered once the plugin
         * accepts it, after descriptors are free again. The pause only gives the plugin several retries
         * (and a spinning one the time to log thousands of lines); what is checked is counted, below. */
        {
                RawClient c;
                char out[1024];
                size_t n;

                raw_connect(&c, sock_path);
                c.log = &log;
                n = raw_auth_lines(out, sizeof(out));
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
                        Message m = raw_ready(1);

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
        n_warnings = plugin_log_count(log.text, "Failed to accept connection");
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
        /* The C runtime's cap, and the Python SDK's. */
        pid = test_plugin_start_with(plugin_bin(_i), sock_path, notify_path,
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
        plugin_log_wait(&log, expected);

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
        plugin_log_wait(&log, "Accepting connections again, after refusing ");
        ck_assert_uint_eq(plugin_log_count(log.text, "Refusing connection from pid"), 1);

        test_plugin_stop(pid);
        safe_close(log.fd);
        free(log.text);
}
END_TEST

static Suite *socket_suite(void) {
        Suite *s = suite_create("plugin-socket");
        TCase *tc;
        int n_plugins = 0;

        while (n_plugins < 4 && plugin_bin(n_plugins))
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
        tcase_add_loop_test(tc, test_connection_cap, 0, n_plugins);
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
