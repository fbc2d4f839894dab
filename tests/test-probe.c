/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Health probes with the exec backend: a plugin frozen with SIGSTOP (alive, connected, its loop stopped) is
 * reported unresponsive after its first unanswered Ping, treated as crashed after exactly probe_failures of
 * them in a row, restarted, and serves through the handle made before; one that thaws before that is running
 * again without a restart; with probes off nothing is sent. What the host did is read from its
 * on_plugin_changed hook and its counters (probes sent, answered, failed); times are bounds for giving up.
 * The watchdog is off throughout, so only a probe can restart anything. */

#include <check.h>
#include <signal.h>

#include "fixtures.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"
#include "static.h"
#include "suite.h"

#define PROBE_INTERVAL_USEC (200 * USEC_PER_MSEC)
#define PROBE_FAILURES 3U

static char tmpdir[64];

/* What on_plugin_changed saw: each state change, with the probe counters and LastError at that moment. */
#define EVENTS_MAX 64
typedef struct Event {
        HostPluginState state;
        unsigned n_probes_failed, failures_in_row, n_restarts;
        char *last_error;
} Event;

static struct {
        HostPlugin *watched;
        Event events[EVENTS_MAX];
        size_t n_events;
        HostPluginState last_state;
        /* Every LastError seen, in order, without repeats. */
        char *errors[EVENTS_MAX];
        size_t n_errors;
} T;

static void on_plugin_changed(HostPlugin *p, void *userdata) {
        if (p != T.watched)
                return;
        if (p->last_error && (T.n_errors == 0 || !streq(T.errors[T.n_errors - 1], p->last_error))) {
                ck_assert_uint_lt(T.n_errors, EVENTS_MAX);
                T.errors[T.n_errors++] = strdup(p->last_error);
        }
        if (p->state == T.last_state)
                return;
        T.last_state = p->state;
        ck_assert_uint_lt(T.n_events, EVENTS_MAX);
        T.events[T.n_events++] = (Event) {
                .state = p->state,
                .n_probes_failed = p->n_probes_failed,
                .failures_in_row = p->probe_failures_in_row,
                .n_restarts = p->n_restarts,
                .last_error = p->last_error ? strdup(p->last_error) : NULL,
        };
}

static void events_reset(void) {
        for (size_t i = 0; i < T.n_events; i++)
                free(T.events[i].last_error);
        for (size_t i = 0; i < T.n_errors; i++)
                free(T.errors[i]);
        memset(&T, 0, sizeof(T));
        T.last_state = _HOST_PLUGIN_STATE_INVALID;
}

/* Serve the host's events until @cond holds or @usec passed (a bound, not a measurement). */
#define WAIT_FOR(h, usec, cond)                                                         \
        ({                                                                              \
                uint64_t _deadline = host_now() + (usec);                               \
                while (!(cond) && host_now() < _deadline)                               \
                        (void) sd_event_run((h)->event, 10 * USEC_PER_MSEC);            \
                (cond);                                                                 \
        })

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

static HostPlugin *add_plugin(Host *h, const char *name, uint64_t interval, unsigned failures) {
        HostPluginSettings s;
        HostPlugin *p;

        host_plugin_settings_init(&s);
        ck_assert_uint_eq(s.probe_interval_usec, HOST_PROBE_INTERVAL_USEC_DEFAULT);
        ck_assert_uint_eq(s.probe_failures, HOST_PROBE_FAILURES_DEFAULT);
        s.name = strdup(name);
        s.kind = strdup(SDLOOP_KIND_RELAYER);
        s.binary = strdup(getenv("SDLOOP_TEST_PLUGIN"));
        s.args = new0(char *, 2);
        s.args[0] = strdup("--mode=relayer");
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/%s.sock", tmpdir, name), 0);
        s.restart_usec = 20 * USEC_PER_MSEC;
        s.watchdog_usec = 0;
        s.probe_interval_usec = interval;
        s.probe_failures = failures;
        ck_assert_int_eq(host_plugin_new(h, &s, &p), 0);
        p->on_connect = relayer_on_connect;
        return p;
}

static Host *host_setup(void) {
        Host *h;

        events_reset();
        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        h->on_plugin_changed = on_plugin_changed;
        return h;
}

static void setup(void) {
        strcpy(tmpdir, "/tmp/sdloop-probe-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
        _cleanup_free_ char *cmd = NULL;

        events_reset();
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", tmpdir), 0);
        ck_assert_int_eq(system(cmd), 0);
}

static bool seen_error(const char *s) {
        for (size_t i = 0; i < T.n_errors; i++)
                if (streq(T.errors[i], s))
                        return true;
        return false;
}

START_TEST(test_frozen_plugin_restarted) {
        _cleanup_(host_freep) Host *h = host_setup();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostHandle *relayer_h = NULL;
        const Event *unresponsive = NULL, *recovering = NULL, *running = NULL;
        HostPlugin *p;
        unsigned answered;
        uint32_t pid;
        int r;

        p = add_plugin(h, "frozen", PROBE_INTERVAL_USEC, PROBE_FAILURES);
        T.watched = p;
        r = host_plugin_start(p, &error);
        ck_assert_msg(r == 0, "start: %s", error.message);
        r = host_handle_new(p, NULL, &relayer_ops, NULL, &relayer_h, &error);
        ck_assert_msg(r == 0, "relayer: %s", error.message);

        /* Probes go out and are answered while it runs. */
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, p->n_probes_answered >= 2));
        ck_assert_uint_eq(p->n_probes_failed, 0);
        ck_assert_int_eq(p->state, HOST_PLUGIN_RUNNING);

        pid = p->main_pid;
        ck_assert_uint_gt(pid, 0);
        events_reset();
        T.watched = p;
        T.last_state = p->state;
        answered = p->n_probes_answered;
        ck_assert_int_eq(kill((pid_t) pid, SIGSTOP), 0);

        ck_assert_msg(WAIT_FOR(h, 30 * USEC_PER_SEC,
                               p->n_restarts == 1 && p->state == HOST_PLUGIN_RUNNING && p->main_pid != pid),
                      "not restarted: %s, %u restarts, last error \"%s\"", host_plugin_state_to_string(p->state),
                      p->n_restarts, strempty(p->last_error));

        /* running → unresponsive (at the first unanswered Ping) → recovering (at the K-th) → running. */
        ck_assert_uint_eq(T.n_events, 3);
        unresponsive = &T.events[0];
        recovering = &T.events[1];
        running = &T.events[2];
        ck_assert_int_eq(unresponsive->state, HOST_PLUGIN_UNRESPONSIVE);
        ck_assert_uint_eq(unresponsive->failures_in_row, 1);
        ck_assert_uint_eq(unresponsive->n_probes_failed, 1);
        ck_assert_str_eq(unresponsive->last_error, "no answer to Ping in 200 ms");
        ck_assert_int_eq(recovering->state, HOST_PLUGIN_RECOVERING);
        ck_assert_uint_eq(recovering->n_probes_failed, PROBE_FAILURES);
        ck_assert_uint_eq(recovering->n_restarts, 0);
        ck_assert_int_eq(running->state, HOST_PLUGIN_RUNNING);
        ck_assert_uint_eq(running->n_probes_failed, PROBE_FAILURES);

        /* LastError said it all along, and says at the end why the process was killed and how it ended. */
        ck_assert(seen_error("no answer to Ping in 200 ms"));
        ck_assert(seen_error("no answer to Ping in 200 ms (2 times)"));
        ck_assert(seen_error("no answer to Ping in 200 ms (3 times), restarted"));
        ck_assert_str_eq(p->last_error, "no answer to Ping in 200 ms (3 times), restarted; process killed by signal Killed");
        /* The frozen process answered nothing more; it was killed, not left behind. */
        ck_assert_uint_eq(p->n_probes_answered, answered);
        ck_assert_int_eq(kill((pid_t) pid, 0), -1);

        /* The restarted process answers, through the handle made before, and its probes pass. */
        r = host_handle_call(relayer_h, run_relayer, NULL, &error);
        ck_assert_msg(r == 0, "relayer suite after the restart: %s: %s", error.name, error.message);
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, p->n_probes_answered >= answered + 2));
        ck_assert_uint_eq(p->n_probes_failed, PROBE_FAILURES);
        ck_assert_uint_eq(p->probe_failures_in_row, 0);
        ck_assert_uint_eq(p->n_restarts, 1);
        ck_assert_int_eq(p->state, HOST_PLUGIN_RUNNING);
        ck_assert_int_ge(host_plugin_stop(p), 0);
}
END_TEST

static void on_running(HostPlugin *p, int r, const sd_bus_error *error, void *userdata) {
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(p->state, HOST_PLUGIN_RUNNING);
        *(bool *) userdata = true;
}

/* Frozen for less than probe_failures probes: unresponsive, then running again, the same process. */
START_TEST(test_thawed_plugin_runs_again) {
        _cleanup_(host_freep) Host *h = host_setup();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPluginWaiter *w = NULL;
        bool told = false;
        HostPlugin *p;
        uint32_t pid;
        int r;

        p = add_plugin(h, "thawed", PROBE_INTERVAL_USEC, 1000);
        T.watched = p;
        r = host_plugin_start(p, &error);
        ck_assert_msg(r == 0, "start: %s", error.message);
        pid = p->main_pid;
        events_reset();
        T.watched = p;
        T.last_state = p->state;

        ck_assert_int_eq(kill((pid_t) pid, SIGSTOP), 0);
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, p->probe_failures_in_row >= 2));
        ck_assert_int_eq(p->state, HOST_PLUGIN_UNRESPONSIVE);
        ck_assert_str_eq(p->last_error, "no answer to Ping in 200 ms (2 times)");

        /* Whoever waits for it to run now waits until it answers again: not told while it is frozen. */
        ck_assert_int_eq(host_plugin_wait_running(p, host_now() + 30 * USEC_PER_SEC, on_running, &told, &w), 0);
        ck_assert(!WAIT_FOR(h, 2 * PROBE_INTERVAL_USEC, told));
        ck_assert_int_eq(p->state, HOST_PLUGIN_UNRESPONSIVE);

        ck_assert_int_eq(kill((pid_t) pid, SIGCONT), 0);
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, p->state == HOST_PLUGIN_RUNNING && told));
        ck_assert_uint_eq(p->probe_failures_in_row, 0);
        ck_assert_uint_eq(p->main_pid, pid);
        ck_assert_uint_eq(p->n_restarts, 0);

        ck_assert_uint_eq(T.n_events, 2);
        ck_assert_int_eq(T.events[0].state, HOST_PLUGIN_UNRESPONSIVE);
        ck_assert_int_eq(T.events[1].state, HOST_PLUGIN_RUNNING);
        ck_assert_int_ge(host_plugin_stop(p), 0);
}
END_TEST

/* probe_interval 0: no Ping at all, checked while another plugin's probes run on the same loop. */
START_TEST(test_probes_off) {
        _cleanup_(host_freep) Host *h = host_setup();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *off, *on;

        off = add_plugin(h, "off", 0, PROBE_FAILURES);
        on = add_plugin(h, "on", 50 * USEC_PER_MSEC, PROBE_FAILURES);
        ck_assert_msg(host_plugin_start(off, &error) == 0, "start: %s", error.message);
        ck_assert_msg(host_plugin_start(on, &error) == 0, "start: %s", error.message);

        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, on->n_probes_answered >= 5));
        ck_assert_uint_eq(off->n_probes, 0);
        ck_assert_uint_eq(on->n_probes_failed, 0);
        ck_assert_int_ge(host_plugin_stop(on), 0);
        ck_assert_int_ge(host_plugin_stop(off), 0);
}
END_TEST

static Suite *probe_suite(void) {
        Suite *s = suite_create("probe");
        TCase *tc = tcase_create("exec");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_frozen_plugin_restarted);
        tcase_add_test(tc, test_thawed_plugin_runs_again);
        tcase_add_test(tc, test_probes_off);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(probe_suite());
        int failed;

        sdloop_log_set_max_level(LOG_NOTICE);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
