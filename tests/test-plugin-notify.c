/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A plugin whose service manager stops reading its notifications keeps serving (plugin-notify.c): every
 * new connection changes its STATUS=, far more often than the receiver's queue of datagrams holds
 * (net.unix.max_dgram_qlen, 10 by default); once the receiver reads again, the latest status arrives. */

#include <check.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>

#include "macro.h"
#include "sdloop.h"
#include "test-util.h"

#define N_CONNECTIONS 30

static char dir[] = "/tmp/sdloop-test-notify-XXXXXX";

/* The C runtime's (the example plugin) and the Python SDK's (the Python median plugin): both the same. */
static const char *plugin_bin(int i) {
        static const char *vars[] = { "SDLOOP_EXAMPLE_PLUGIN", "SDLOOP_MEDIAN_PYTHON" };

        return i < (int) ELEMENTSOF(vars) ? getenv(vars[i]) : NULL;
}

START_TEST(test_status_without_reader) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_close_ int notify_fd = -EBADF;
        char sock_path[PATH_MAX], notify_path[PATH_MAX], expected[64], buf[4096];
        SdloopPeer *peers[N_CONNECTIONS + 1] = {};
        bool seen = false;
        unsigned n_read = 0;
        pid_t pid;
        int r;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sock_path, sizeof(sock_path), "%s/plugin.sock", dir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
        /* A notification socket the test holds, and reads only when it says so. */
        pid = test_plugin_start_notify(plugin_bin(_i), sock_path, notify_path,
                                       &(const TestPluginOptions) { .log_level = "info" }, &notify_fd);

        /* Nobody reads: each connection is one more STATUS= the queue cannot take. */
        for (size_t i = 0; i <= N_CONNECTIONS; i++) {
                ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &peers[i]), 0);
                /* A guard, not a measurement: a plugin stuck in sendmsg() never answers. */
                sdloop_peer_set_call_timeout(peers[i], 5 * USEC_PER_SEC);
                r = sdloop_peer_call_method(peers[i], SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, &error,
                                            NULL);
                ck_assert_msg(r >= 0, "connection %zu: Ready(): %s", i, strempty(error.message));
        }

        /* Reading again, the status that counts all of them comes, sent again until it fits. */
        snprintf(expected, sizeof(expected), "STATUS=Serving %u connections.", N_CONNECTIONS + 1);
        while (!seen) {
                struct pollfd p = { .fd = notify_fd, .events = POLLIN };

                ck_assert_msg(poll(&p, 1, 20 * 1000) == 1, "no \"%s\" among %u notifications", expected, n_read);
                while (!seen && test_notify_recv(notify_fd, buf, sizeof(buf), NULL)) {
                        n_read++;
                        seen = streq(buf, expected);
                }
        }
        /* Fewer than one per connection made it: the rest were replaced by the latest. */
        ck_assert_uint_le(n_read, N_CONNECTIONS + 1);

        for (size_t i = 0; i <= N_CONNECTIONS; i++)
                sdloop_peer_unref(peers[i]);
        test_plugin_stop(pid);
        (void) unlink(sock_path);
        (void) unlink(notify_path);
        (void) rmdir(dir);
        strcpy(dir, "/tmp/sdloop-test-notify-XXXXXX");
}
END_TEST

int main(void) {
        Suite *s = suite_create("plugin-notify");
        TCase *tc = tcase_create("notify");
        SRunner *sr;
        int failed;

        tcase_set_timeout(tc, 120);
        for (int i = 0; plugin_bin(i); i++)
                tcase_add_loop_test(tc, test_status_without_reader, i, i + 1);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
