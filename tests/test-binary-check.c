/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A pinned binary is hashed a piece per event-loop iteration, and the loop serves meanwhile. The binary is
 * the test plugin padded to 64 MiB (a hole at the end: it runs just the same), i.e. 64 pieces. While its
 * check runs, counted: the iterations of a ticker of our own (re-armed on each dispatch, as the check is)
 * and the calls another plugin answered, one after another. A check done in one call would leave both at
 * zero. A pin that does not match fails the plugin with both hashes in LastError, at the first start and at a
 * restart after the file was replaced; a file that cannot be read is named. */

#include <check.h>
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>

#include "host-backend.h"
#include "host-integrity.h"
#include "host-plugin.h"
#include "macro.h"
#include "sha256-file.h"
#include "util.h"

#define BIG_SIZE (64U * 1024U * 1024U)
#define BIG_PIECES (BIG_SIZE / SHA256_FILE_CHUNK)

static char tmpdir[64];
static char big[128];
static char big_sha256[SHA256_HEX_SIZE];
static char *library_path;

#define WAIT_FOR(h, usec, cond)                                                         \
        ({                                                                              \
                uint64_t _deadline = host_now() + (usec);                               \
                while (!(cond) && host_now() < _deadline) {                             \
                        (void) sd_event_run((h)->event, 10 * USEC_PER_MSEC);            \
                }                                                                       \
                (cond);                                                                 \
        })

static void copy_padded(const char *from, const char *to, off_t size) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && truncate -s %lld '%s'", from, to, (long long) size, to);
        ck_assert_int_eq(system(cmd), 0);
}

static HostPlugin *add_plugin(Host *h, const char *name, const char *binary, const char *pin) {
        HostPluginSettings s;
        HostPlugin *p;

        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup(SDLOOP_KIND_RELAYER);
        s.binary = strdup(binary);
        s.binary_sha256 = pin ? strdup(pin) : NULL;
        s.args = new0(char *, 2);
        ck_assert_ptr_nonnull(s.args);
        s.args[0] = strdup("--mode=relayer");
        /* The copy is not next to the library its run path names. */
        s.environment = new0(char *, 2);
        ck_assert_ptr_nonnull(s.environment);
        ck_assert_int_ge(asprintf(&s.environment[0], "LD_LIBRARY_PATH=%s", library_path), 0);
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/%s.sock", tmpdir, name), 0);
        s.watchdog_usec = 0;
        s.restart = HOST_RESTART_NO;
        ck_assert_int_eq(host_plugin_new(h, &s, &p), 0);
        return p;
}

/* Counts what the loop did while @checked's binary was being checked. */
typedef struct Counter {
        HostPlugin *checked;
        HostPlugin *serving;
        sd_event_source *ticker;
        unsigned ticks_during, calls_during, calls, calls_failed;
        bool stop, in_flight;
} Counter;

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Counter *c = userdata;

        if (c->checked->binary_check)
                c->ticks_during++;
        if (!c->stop)
                ck_assert_int_ge(sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), 0);
        return 0;
}

static int call_next(Counter *c);

static int on_ready_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Counter *c = userdata;

        c->in_flight = false;
        if (sd_bus_message_is_method_error(m, NULL))
                c->calls_failed++;
        else {
                c->calls++;
                if (c->checked->binary_check)
                        c->calls_during++;
        }
        if (!c->stop)
                ck_assert_int_ge(call_next(c), 0);
        return 0;
}

static int call_next(Counter *c) {
        c->in_flight = true;
        return sd_bus_call_method_async(sdloop_peer_get_bus(c->serving->peer), NULL, NULL, SDLOOP_ROOT_PATH,
                                        "org.sdloop1.Service", "Ready", on_ready_reply, c, NULL);
}

static void counter_start(Counter *c, Host *h, HostPlugin *checked, HostPlugin *serving) {
        *c = (Counter) { .checked = checked, .serving = serving };
        ck_assert_int_ge(sd_event_add_time(h->event, &c->ticker, CLOCK_MONOTONIC, 1, 1, on_tick, c), 0);
        ck_assert_int_ge(sd_event_source_set_enabled(c->ticker, SD_EVENT_ONESHOT), 0);
        ck_assert_int_ge(call_next(c), 0);
}

static void counter_stop(Counter *c, Host *h) {
        c->stop = true;
        c->ticker = sd_event_source_disable_unref(c->ticker);
        /* The call in flight comes back and is not followed by another. */
        ck_assert(WAIT_FOR(h, 10 * USEC_PER_SEC, !c->in_flight));
        fprintf(stderr, "while %s's binary was checked: %u ticks, %u calls answered (of %u)\n",
                c->checked->settings.name, c->ticks_during, c->calls_during, c->calls);
}

static void assert_served(const Counter *c) {
        ck_assert_uint_eq(c->calls_failed, 0);
        /* The ticker and the check are re-armed alike: they take turns, a tick at least per piece. */
        ck_assert_msg(c->ticks_during >= BIG_PIECES - 1, "%u ticks during the check of %u pieces", c->ticks_during,
                      BIG_PIECES);
        ck_assert_msg(c->calls_during >= 1, "no call answered during the check");
}

START_TEST(test_match_serves_meanwhile) {
        _cleanup_(host_freep) Host *h = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *serving, *pinned;
        Counter c;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        serving = add_plugin(h, "serving", getenv("SDLOOP_TEST_PLUGIN"), NULL);
        pinned = add_plugin(h, "pinned", big, big_sha256);
        ck_assert_int_eq(host_plugin_start(serving, &error), 0);

        counter_start(&c, h, pinned, serving);
        ck_assert_int_ge(host_plugin_start_async(pinned, NULL, NULL), 0);
        /* Not checked inside the call: the check has begun, nothing hashed yet. */
        ck_assert_ptr_nonnull(pinned->binary_check);
        ck_assert_int_eq(pinned->state, HOST_PLUGIN_STARTING);
        ck_assert_uint_eq(pinned->main_pid, 0);
        ck_assert_msg(WAIT_FOR(h, 60 * USEC_PER_SEC, pinned->state == HOST_PLUGIN_RUNNING), "pinned is %s (%s)",
                      host_plugin_state_to_string(pinned->state), strempty(pinned->last_error));
        counter_stop(&c, h);
        assert_served(&c);

        /* A restart checks again, the old process serving meanwhile; the same file restarts. */
        uint32_t old = pinned->main_pid;
        ck_assert_int_eq(host_plugin_restart(pinned, &error), 0);
        ck_assert_int_eq(pinned->state, HOST_PLUGIN_RUNNING);
        ck_assert_uint_ne(pinned->main_pid, old);
        ck_assert_ptr_null(pinned->binary_check);
        sd_bus_error_free(&error);
}
END_TEST

START_TEST(test_mismatch) {
        _cleanup_(host_freep) Host *h = NULL;
        _cleanup_free_ char *expected = NULL, *replacement = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char other[SHA256_HEX_SIZE];
        HostPlugin *serving, *wrong, *missing;
        Counter c;
        int r;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        serving = add_plugin(h, "serving", getenv("SDLOOP_TEST_PLUGIN"), NULL);
        memset(other, 'a', sizeof(other) - 1);
        other[sizeof(other) - 1] = 0;
        wrong = add_plugin(h, "wrong", big, other);
        ck_assert_int_eq(host_plugin_start(serving, &error), 0);

        counter_start(&c, h, wrong, serving);
        r = host_plugin_start(wrong, &error);
        counter_stop(&c, h);
        assert_served(&c);
        ck_assert_int_lt(r, 0);
        ck_assert_int_eq(wrong->state, HOST_PLUGIN_FAILED);
        ck_assert_uint_eq(wrong->main_pid, 0);
        ck_assert_int_ge(asprintf(&expected, "binary %s does not match binary_sha256: its SHA-256 is %s, pinned %s; "
                                  "refusing to start it", big, big_sha256, other), 0);
        ck_assert_str_eq(strempty(wrong->last_error), expected);
        ck_assert_msg(error.message && strstr(error.message, expected), "error: %s", strempty(error.message));
        sd_bus_error_free(&error);

        /* A file that cannot be opened: named. */
        missing = add_plugin(h, "missing", "/nonexistent/sdloop-plugin", big_sha256);
        ck_assert_int_lt(host_plugin_start(missing, &error), 0);
        ck_assert_int_eq(missing->state, HOST_PLUGIN_FAILED);
        ck_assert_str_eq(strempty(missing->last_error),
                         "cannot read binary /nonexistent/sdloop-plugin to check its SHA-256: No such file or directory");
        sd_bus_error_free(&error);

        /* Replaced while it runs: the restart stops the old process and fails, saying so. */
        wrong->settings.binary_sha256 = mfree(wrong->settings.binary_sha256);
        wrong->settings.binary_sha256 = strdup(big_sha256);
        ck_assert_int_eq(host_plugin_start(wrong, &error), 0);
        ck_assert_int_ge(asprintf(&replacement, "%s.new", big), 0);
        copy_padded(getenv("SDLOOP_TEST_PLUGIN"), replacement, BIG_SIZE + 1);
        ck_assert_int_eq(rename(replacement, big), 0);
        ck_assert_int_eq(sha256_file(big, other), 0);

        counter_start(&c, h, wrong, serving);
        r = host_plugin_restart(wrong, &error);
        counter_stop(&c, h);
        ck_assert_int_lt(r, 0);
        ck_assert_uint_eq(c.calls_failed, 0);
        ck_assert_uint_ge(c.ticks_during, BIG_PIECES - 1);
        ck_assert_int_eq(wrong->state, HOST_PLUGIN_FAILED);
        expected = mfree(expected);
        ck_assert_int_ge(asprintf(&expected, "binary %s does not match binary_sha256: its SHA-256 is %s, pinned %s; "
                                  "refusing to start it", big, other, big_sha256), 0);
        ck_assert_str_eq(strempty(wrong->last_error), expected);
        ck_assert_msg(error.message && strstr(error.message, expected), "error: %s", strempty(error.message));
        /* The old process is stopped, and the plugin stays failed. */
        ck_assert(WAIT_FOR(h, 30 * USEC_PER_SEC, wrong->main_pid == 0));
        ck_assert_int_eq(wrong->state, HOST_PLUGIN_FAILED);
        sd_bus_error_free(&error);
}
END_TEST

/* Stopped while its binary is checked: nothing is started after all, and nothing is left behind. */
START_TEST(test_stop_during_check) {
        _cleanup_(host_freep) Host *h = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *pinned;

        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &h), 0);
        pinned = add_plugin(h, "pinned", big, big_sha256);
        ck_assert_int_ge(host_plugin_start_async(pinned, NULL, NULL), 0);
        for (unsigned i = 0; i < 4; i++)
                (void) sd_event_run(h->event, 0);
        ck_assert_ptr_nonnull(pinned->binary_check);
        ck_assert_int_eq(host_plugin_stop_wait(pinned, &error), 0);
        ck_assert_ptr_null(pinned->binary_check);
        for (unsigned i = 0; i < 2 * BIG_PIECES; i++)
                (void) sd_event_run(h->event, 0);
        ck_assert_int_eq(pinned->state, HOST_PLUGIN_STOPPED);
        ck_assert_uint_eq(pinned->main_pid, 0);
        sd_bus_error_free(&error);
}
END_TEST

static void setup(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/sdloop-binary-check-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(big, sizeof(big), "%s/big-plugin", tmpdir);
        copy_padded(getenv("SDLOOP_TEST_PLUGIN"), big, BIG_SIZE);
        ck_assert_int_eq(sha256_file(big, big_sha256), 0);
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd)) {}
}

int main(void) {
        const char *plugin = getenv("SDLOOP_TEST_PLUGIN");
        _cleanup_free_ char *dir = NULL;
        Suite *s = suite_create("binary-check");
        TCase *tc = tcase_create("exec");
        SRunner *sr;
        int failed;

        if (!plugin)
                return 77;
        dir = strdup(plugin);
        if (!dir || asprintf(&library_path, "%s/../../src/libsdloop", dirname(dir)) < 0)
                return EXIT_FAILURE;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_match_serves_meanwhile);
        tcase_add_test(tc, test_mismatch);
        tcase_add_test(tc, test_stop_during_check);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        free(library_path);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
