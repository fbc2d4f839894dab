/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The exec backend stops a plugin without waiting: SIGTERM, then SIGKILL from a timer after the stop
 * timeout, the end seen by the child watch. A plugin that ignores SIGTERM ($SDLOOP_TEST_IGNORE_SIGTERM=1)
 * is killed, and meanwhile another plugin on the same loop keeps answering: counted by its calls that
 * succeeded while the stop was under way (a stop that slept in the loop would leave none). A start asked
 * for during the stop runs after it, on the same socket path. */

#include <check.h>
#include <signal.h>

#include "host-backend.h"
#include "host-plugin.h"
#include "macro.h"
#include "suite.h"
#include "util.h"

static char tmpdir[64];

#define WAIT_FOR(h, usec, cond)                                                         \
        ({                                                                              \
                uint64_t _deadline = host_now() + (usec);                               \
                while (!(cond) && host_now() < _deadline) {                             \
                        (void) sd_event_run((h)->event, 10 * USEC_PER_MSEC);            \
                }                                                                       \
                (cond);                                                                 \
        })

static HostPlugin *add_plugin(Host *h, const char *name, bool ignore_sigterm) {
        const char *binary = getenv("SDLOOP_TEST_PLUGIN");
        HostPluginSettings s;
        HostPlugin *p;

        ck_assert_ptr_nonnull(binary);
        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup(SDLOOP_KIND_RELAYER);
        s.binary = strdup(binary);
        s.args = new0(char *, 2);
        ck_assert_ptr_nonnull(s.args);
        s.args[0] = strdup("--mode=relayer");
        if (ignore_sigterm) {
                s.environment = new0(char *, 2);
                ck_assert_ptr_nonnull(s.environment);
                s.environment[0] = strdup("SDLOOP_TEST_IGNORE_SIGTERM=1");
        }
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/%s.sock", tmpdir, name), 0);
        s.watchdog_usec = 0;
        ck_assert_int_eq(host_plugin_new(h, &s, &p), 0);
        return p;
}

typedef struct Caller {
        HostPlugin *plugin;
        HostPlugin *stopping; /* calls are counted while its old process is still there */
        uint32_t old_pid;
        unsigned n_ok, n_ok_during_stop, n_failed;
        bool stop;
} Caller;

static int caller_next(Caller *c);

static int on_ready_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Caller *c = userdata;

        if (sd_bus_message_is_method_error(m, NULL))
                c->n_failed++;
        else {
                c->n_ok++;
                if (c->stopping->main_pid == c->old_pid)
                        c->n_ok_during_stop++;
        }
        if (!c->stop)
                (void) caller_next(c);
        return 0;
}

/* One call at a time, the next from the reply: the loop serves it only if nothing else holds it. */
static int caller_next(Caller *c) {
        return sd_bus_call_method_async(sdloop_peer_get_bus(c->plugin->peer), NULL, NULL, SDLOOP_ROOT_PATH,
                                        "org.sdloop1.Service", "Ready", on_ready_reply, c, NULL);
}

START_TEST(test_stop_ignoring_sigterm) {
        _cleanup_(host_freep) Host *h = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *busy, *stubborn;
        Caller c = {};
        uint32_t pid, pid2;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        busy = add_plugin(h, "busy", false);
        stubborn = add_plugin(h, "stubborn", true);
        ck_assert_int_eq(host_plugin_start(busy, &error), 0);
        ck_assert_int_eq(host_plugin_start(stubborn, &error), 0);
        pid = stubborn->main_pid;
        ck_assert_uint_gt(pid, 0);

        c = (Caller) { .plugin = busy, .stopping = stubborn, .old_pid = pid };
        ck_assert_int_ge(caller_next(&c), 0);
        ck_assert_int_ge(host_plugin_stop(stubborn), 0);
        /* Asked for during the stop: runs once the old process is gone, on the same path. */
        ck_assert_int_ge(host_plugin_start_async(stubborn, NULL, NULL), 0);
        ck_assert_int_eq(stubborn->state, HOST_PLUGIN_STARTING);

        ck_assert_msg(WAIT_FOR(h, 30 * USEC_PER_SEC, stubborn->state == HOST_PLUGIN_RUNNING), "stubborn is %s (%s)",
                      host_plugin_state_to_string(stubborn->state), strempty(stubborn->last_error));
        c.stop = true;
        pid2 = stubborn->main_pid;
        ck_assert_uint_gt(pid2, 0);
        ck_assert_uint_ne(pid2, pid);
        /* The first process is gone, reaped, and it took SIGKILL. */
        ck_assert_int_eq(kill((pid_t) pid, 0), -1);
        ck_assert_int_eq(errno, ESRCH);
        ck_assert_msg(stubborn->last_error && strstr(stubborn->last_error, "after SIGTERM, killed"),
                      "last error \"%s\"", strempty(stubborn->last_error));
        /* The other plugin answered all along, one call after another. */
        ck_assert_uint_eq(c.n_failed, 0);
        ck_assert_msg(c.n_ok_during_stop >= 1, "no call answered while the stop was under way (%u in all)", c.n_ok);
        fprintf(stderr, "calls answered while the stop was under way: %u (of %u)\n", c.n_ok_during_stop, c.n_ok);

        /* Now a plain stop: STOPPED once the process is gone. */
        ck_assert_int_ge(host_plugin_stop(stubborn), 0);
        ck_assert(WAIT_FOR(h, 30 * USEC_PER_SEC, stubborn->state == HOST_PLUGIN_STOPPED));
        ck_assert_uint_eq(stubborn->main_pid, 0);
        ck_assert_int_eq(kill((pid_t) pid2, 0), -1);
        ck_assert_int_ge(host_plugin_stop(busy), 0);
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, busy->state == HOST_PLUGIN_STOPPED));
        sd_bus_error_free(&error);
}
END_TEST

/* The host goes away while a stop is under way: the process does not outlive it. */
START_TEST(test_free_during_stop) {
        _cleanup_(host_freep) Host *h = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *stubborn;
        uint32_t pid;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        stubborn = add_plugin(h, "stubborn", true);
        ck_assert_int_eq(host_plugin_start(stubborn, &error), 0);
        pid = stubborn->main_pid;
        ck_assert_int_ge(host_plugin_stop(stubborn), 0);
        /* SIGTERM sent from the loop, ignored: it is still stopping (SIGKILL is a stop timeout away). */
        for (unsigned i = 0; i < 10; i++)
                (void) sd_event_run(h->event, 0);
        ck_assert_int_eq(stubborn->state, HOST_PLUGIN_STOPPING);
        ck_assert_int_eq(kill((pid_t) pid, 0), 0);
        h = host_free(h);
        ck_assert_int_eq(kill((pid_t) pid, 0), -1);
        ck_assert_int_eq(errno, ESRCH);
        sd_bus_error_free(&error);
}
END_TEST

static void setup(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/sdloop-exec-stop-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd)) {}
}

int main(void) {
        Suite *s = suite_create("exec-stop");
        TCase *tc = tcase_create("exec");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_stop_ignoring_sigterm);
        tcase_add_test(tc, test_free_during_stop);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
