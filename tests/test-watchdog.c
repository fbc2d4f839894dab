/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Watchdogs. The exec backend's: a plugin whose event loop is stuck (the test plugin's --hang-after) is
 * killed by the host for want of WATCHDOG=1 and restarted like after a crash, and a process that never
 * says anything is killed and counted against its restart policy. Outcomes are counted (restarts, states,
 * what LastError says); times are only bounds for giving up. The runtime's: WATCHDOG=1 every half interval
 * on a NOTIFY_SOCKET of the test's, also while its handlers are busy with deferred calls. */

#include <check.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fixtures.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"
#include "static.h"
#include "suite.h"
#include "test-util.h"
#include "util.h"

static char tmpdir[64];

/* Serve the host's events until @cond holds or @usec passed (a bound, not a measurement). */
#define WAIT_FOR(h, usec, cond)                                                         \
        ({                                                                              \
                uint64_t _deadline = host_now() + (usec);                               \
                while (!(cond) && host_now() < _deadline) {                             \
                        (void) sd_event_run((h)->event, 10 * USEC_PER_MSEC);            \
                }                                                                       \
                (cond);                                                                 \
        })

static HostPlugin *add_plugin(Host *h, const char *name, const char *binary, char **args, uint64_t watchdog_usec) {
        HostPluginSettings s;
        HostPlugin *p;

        host_plugin_settings_init(&s);
        ck_assert_uint_eq(s.watchdog_usec, HOST_WATCHDOG_USEC_DEFAULT);
        s.name = strdup(name);
        s.kind = strdup(SDLOOP_KIND_RELAYER);
        s.binary = strdup(binary);
        s.args = args;
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/%s.sock", tmpdir, name), 0);
        ck_assert_int_ge(asprintf(&s.state_directory, "%s/state-%s", tmpdir, name), 0);
        s.restart_usec = 20 * USEC_PER_MSEC;
        s.watchdog_usec = watchdog_usec;
        ck_assert_int_eq(host_plugin_new(h, &s, &p), 0);
        return p;
}

static char **strv_of(const char *a, const char *b, const char *c) {
        char **l = new0(char *, 4);

        ck_assert_ptr_nonnull(l);
        l[0] = a ? strdup(a) : NULL;
        l[1] = b ? strdup(b) : NULL;
        l[2] = c ? strdup(c) : NULL;
        return l;
}

static int relayer_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        return static_keystore_new(peer, NULL);
}

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, NULL,
                                                       host_handle_created_reply, h, ret_slot);
}

static const HostHandleOps relayer_ops = { .kind = "relayer", .create = relayer_create };

static int run_relayer(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return conformance_run_relayer(peer, path, NULL, error);
}

static void setup(void) {
        strcpy(tmpdir, "/tmp/sdloop-watchdog-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
        _cleanup_free_ char *cmd = NULL;

        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", tmpdir), 0);
        ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_hung_plugin_restarted) {
        _cleanup_(host_freep) Host *h = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostHandle *relayer_h = NULL;
        HostPlugin *p;
        uint32_t pid;
        int r;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        /* Call 1 is NewRelayer; call 2, the first made after it, never returns. */
        p = add_plugin(h, "hung", getenv("SDLOOP_TEST_PLUGIN"),
                       strv_of("--mode=relayer", "--hang-after=2", "--hang-once"), 1 * USEC_PER_SEC);
        p->on_connect = relayer_on_connect;
        r = host_plugin_start(p, &error);
        ck_assert_msg(r == 0, "start: %s", error.message);
        r = host_handle_new(p, NULL, &relayer_ops, NULL, &relayer_h, &error);
        ck_assert_msg(r == 0, "relayer: %s", error.message);
        pid = p->main_pid;
        ck_assert_uint_gt(pid, 0);
        ck_assert_uint_eq(p->n_restarts, 0);

        /* The call that hangs it: its answer never comes, from this process. */
        ck_assert_int_ge(sd_bus_call_method_async(sdloop_peer_get_bus(p->peer), NULL, NULL, SDLOOP_ROOT_PATH,
                                                  "org.sdloop1.Service", "Ready", NULL, NULL, NULL), 0);

        ck_assert_msg(WAIT_FOR(h, 30 * USEC_PER_SEC,
                               p->n_restarts >= 1 && p->main_pid > 0 && p->main_pid != pid &&
                               p->state == HOST_PLUGIN_RUNNING),
                      "not restarted: %s, %u restarts, last error \"%s\"", host_plugin_state_to_string(p->state),
                      p->n_restarts, strempty(p->last_error));
        ck_assert_uint_eq(p->n_restarts, 1);
        ck_assert_msg(p->last_error && strstr(p->last_error, "watchdog timeout (no WATCHDOG=1 in 1 s), killed"),
                      "last error \"%s\"", strempty(p->last_error));

        /* The restarted process answers, through the handle made before. */
        r = host_handle_call(relayer_h, run_relayer, NULL, &error);
        ck_assert_msg(r == 0, "relayer suite after the restart: %s: %s", error.name, error.message);
        ck_assert_uint_eq(p->n_restarts, 1);
        ck_assert_int_eq(p->state, HOST_PLUGIN_RUNNING);
        ck_assert_int_ge(host_plugin_stop(p), 0);
}
END_TEST

/* A process that never sends WATCHDOG=1 (not even READY=1) is killed every interval; Restart= and the start
 * limit apply as to any crash. SIGABRT is enough for sleep(1). */
START_TEST(test_silent_process_hits_start_limit) {
        _cleanup_(host_freep) Host *h = NULL;
        HostPlugin *p;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        p = add_plugin(h, "silent", "/bin/sleep", strv_of("1000", NULL, NULL), 200 * USEC_PER_MSEC);
        p->settings.start_limit_burst = 3;
        p->settings.start_limit_interval_usec = 600 * USEC_PER_SEC;
        ck_assert_int_eq(h->backend->start(p, NULL, NULL), 0);

        ck_assert_msg(WAIT_FOR(h, 30 * USEC_PER_SEC, p->state == HOST_PLUGIN_FAILED), "%s, %u restarts",
                      host_plugin_state_to_string(p->state), p->n_restarts);
        ck_assert_uint_eq(p->n_restarts, 2);
        ck_assert_msg(p->last_error && strstr(p->last_error, "start limit hit") &&
                      strstr(p->last_error, "last watchdog timeout (no WATCHDOG=1 in 200 ms), killed"),
                      "last error \"%s\"", strempty(p->last_error));
        ck_assert_int_ge(host_plugin_stop(p), 0);
}
END_TEST

/* watchdog_sec 0: no watchdog, nothing killed — checked by the process still being the first one after
 * the other plugin's watchdog, 100 ms, fired several times on the same loop. */
START_TEST(test_watchdog_off) {
        _cleanup_(host_freep) Host *h = NULL;
        HostPlugin *off, *on;
        uint32_t pid;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        off = add_plugin(h, "off", "/bin/sleep", strv_of("1000", NULL, NULL), 0);
        on = add_plugin(h, "on", "/bin/sleep", strv_of("1000", NULL, NULL), 100 * USEC_PER_MSEC);
        on->settings.start_limit_burst = 0;
        ck_assert_int_eq(h->backend->start(off, NULL, NULL), 0);
        ck_assert_int_eq(h->backend->start(on, NULL, NULL), 0);
        /* Started from the loop. */
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, off->main_pid > 0 && on->main_pid > 0));
        pid = off->main_pid;

        ck_assert(WAIT_FOR(h, 30 * USEC_PER_SEC, on->n_restarts >= 3));
        ck_assert_uint_eq(off->main_pid, pid);
        ck_assert_uint_eq(off->n_restarts, 0);
        ck_assert_int_eq(kill((pid_t) pid, 0), 0);
        ck_assert_int_ge(host_plugin_stop(on), 0);
        ck_assert_int_ge(host_plugin_stop(off), 0);
}
END_TEST

/* --- the runtime's pings ------------------------------------------------------------------------------ */

#define PING_WATCHDOG_USEC (200 * USEC_PER_MSEC)
#define PING_PERIOD_USEC   (PING_WATCHDOG_USEC / 2)
#define WINDOW_PINGS       10U
#define IN_FLIGHT          4U
/* How long the keystore sits on each Accounts(): the plugin's NewRelayer() waits for it, deferred. */
#define KEYSTORE_DELAY_USEC (3 * USEC_PER_MSEC)

static struct {
        sd_event *event;
        SdloopPeer *client;
        pid_t pid;
        unsigned pings, pings_foreign;
        bool window_open, window_closed;
        unsigned window_pings, completed, completed_in_window, failed, in_flight;
        bool stop_issuing;
} R;

static int on_accounts_later(sd_event_source *s, uint64_t usec, void *userdata) {
        SdloopCall *c = userdata;
        char *accounts[] = { (char *) FIXTURE_ACCOUNT, NULL };

        (void) sdloop_keystore_accounts_return(c, accounts);
        sdloop_call_unref(c);
        sd_event_source_unref(s);
        return 0;
}

static int ks_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        SdloopCall *c = sdloop_call_defer();
        sd_event_source *t;

        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(sd_event_add_time_relative(R.event, &t, CLOCK_MONOTONIC, KEYSTORE_DELAY_USEC, 1,
                                                    on_accounts_later, c), 0);
        return 0;
}

static int ks_sign(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                   sd_bus_error *error) {
        return fixture_copy_bytes(&fixture_signed, ret_signed);
}

static const SdloopKeystoreOps ks_ops = { .accounts = ks_accounts, .sign = ks_sign };

static void issue_new_relayer(void);

static void on_new_relayer(SdloopPeer *peer, int r, char **relayer, sd_bus_error *error, void *userdata) {
        R.in_flight--;
        if (r < 0) {
                R.failed++;
                return;
        }
        R.completed++;
        if (R.window_open && !R.window_closed)
                R.completed_in_window++;
        /* Not to pile up relayers in the plugin. */
        (void) sd_bus_call_method_async(sdloop_peer_get_bus(peer), NULL, NULL, *relayer, "org.sdloop1.Service",
                                        "Close", NULL, NULL, NULL);
        if (!R.stop_issuing)
                issue_new_relayer();
}

static void issue_new_relayer(void) {
        R.in_flight++;
        ck_assert_int_ge(sdloop_plugin_relayer_new_relayer_async(R.client, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH,
                                                                 NULL, on_new_relayer, NULL, NULL), 0);
}

static int on_window_end(sd_event_source *s, uint64_t usec, void *userdata) {
        R.window_closed = true;
        return 0;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        char buf[4096];
        pid_t sender;

        while (test_notify_recv(fd, buf, sizeof(buf), &sender)) {
                if (!strstr(buf, "WATCHDOG=1"))
                        continue;
                if (sender != R.pid) {
                        R.pings_foreign++;
                        continue;
                }
                R.pings++;

                /* The window opens on a ping, once the plugin is busy, and closes half a period after the
                 * WINDOW_PINGS-th ping is due: a ping may come up to that late or early and still count
                 * right. */
                if (!R.window_open && R.completed >= IN_FLIGHT) {
                        R.window_open = true;
                        ck_assert_int_ge(sd_event_add_time_relative(R.event, NULL, CLOCK_MONOTONIC,
                                                                    WINDOW_PINGS * PING_PERIOD_USEC +
                                                                    PING_PERIOD_USEC / 2,
                                                                    1, on_window_end, NULL), 0);
                } else if (R.window_open && !R.window_closed)
                        R.window_pings++;
        }
        return 0;
}

START_TEST(test_runtime_pings_while_busy) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *io = NULL;
        _cleanup_close_ int notify_fd = -EBADF;
        _cleanup_free_ char *sock = NULL, *notify = NULL;
        SdloopObject *ks;
        int status;
        uint64_t give_up;

        memset(&R, 0, sizeof(R));
        ck_assert_int_ge(asprintf(&sock, "%s/busy.sock", tmpdir), 0);
        ck_assert_int_ge(asprintf(&notify, "%s/notify", tmpdir), 0);
        R.pid = test_plugin_start_notify(getenv("SDLOOP_TEST_PLUGIN"), sock, notify,
                                         &(const TestPluginOptions) {
                                                 .watchdog_usec = PING_WATCHDOG_USEC,
                                                 .log_level = "notice",
                                                 .args = (char *[]) { (char *) "--mode=relayer", NULL },
                                         }, &notify_fd);

        ck_assert_int_eq(sd_event_new(&R.event), 0);
        ck_assert_int_eq(sd_event_add_io(R.event, &io, notify_fd, EPOLLIN, on_notify, NULL), 0);
        /* It said READY=1: it listens. */
        ck_assert_int_eq(sdloop_peer_connect(R.event, sock, &R.client), 0);
        ck_assert_int_eq(sdloop_object_new_at(R.client, NULL, STATIC_KEYSTORE_PATH, NULL, NULL, &ks), 0);
        ck_assert_int_eq(sdloop_keystore_export(ks, &ks_ops, NULL), 0);

        for (unsigned i = 0; i < IN_FLIGHT; i++)
                issue_new_relayer();

        give_up = now_monotonic_usec() + 60 * USEC_PER_SEC;
        while (!R.window_closed && R.failed == 0 && now_monotonic_usec() < give_up)
                ck_assert_int_ge(sd_event_run(R.event, UINT64_MAX), 0);
        R.stop_issuing = true;
        /* Let what is in flight finish, for nothing to be left behind. */
        give_up = now_monotonic_usec() + 30 * USEC_PER_SEC;
        while (R.in_flight > 0 && now_monotonic_usec() < give_up)
                ck_assert_int_ge(sd_event_run(R.event, 100 * USEC_PER_MSEC), 0);
        ck_assert_uint_eq(R.in_flight, 0);

        ck_assert_uint_eq(R.failed, 0);
        ck_assert_msg(R.window_closed, "no window: %u pings, %u calls done", R.pings, R.completed);
        /* Busy all along: many deferred calls answered inside the window. */
        ck_assert_uint_ge(R.completed_in_window, WINDOW_PINGS);
        ck_assert_uint_eq(R.pings_foreign, 0);
        /* Half the interval, neither the quarter sd_event_set_watchdog() pings at on a busy loop nor less. */
        ck_assert_msg(R.window_pings == WINDOW_PINGS, "%u pings in a window of %u periods (%u calls answered)",
                      R.window_pings, WINDOW_PINGS, R.completed_in_window);

        sdloop_object_close(ks);
        sdloop_peer_disconnect(R.client);
        R.client = sdloop_peer_unref(R.client);
        ck_assert_int_eq(kill(R.pid, SIGTERM), 0);
        ck_assert_int_eq(waitpid(R.pid, &status, 0), R.pid);
        io = sd_event_source_disable_unref(io);
        R.event = sd_event_unref(R.event);
}
END_TEST

static Suite *watchdog_suite(void) {
        Suite *s = suite_create("watchdog");
        TCase *tc = tcase_create("exec");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_hung_plugin_restarted);
        tcase_add_test(tc, test_silent_process_hits_start_limit);
        tcase_add_test(tc, test_watchdog_off);
        suite_add_tcase(s, tc);

        tc = tcase_create("runtime");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_runtime_pings_while_busy);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(watchdog_suite());
        int failed;

        sdloop_log_set_max_level(LOG_NOTICE);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
