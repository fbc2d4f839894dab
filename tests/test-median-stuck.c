/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The real sdloop-median binary, wired to the real sdloop-relayer-ledger the way the host wires a feed:
 *
 *   median ──p2p── host_median [proxy at PROXY_PATH] ── forwards to ── host_relayer ──p2p── relayer
 *
 * Both plugins run in processes of their own; the host side (the proxy, the keystore) runs here. The
 * median plugin runs with a watchdog (WATCHDOG_USEC, WATCHDOG_PID) and a NOTIFY_SOCKET of ours.
 *
 * With the relayer stopped (SIGSTOP), a Report() of the median plugin waits on its provider through the
 * proxy and cannot be answered. Meanwhile the plugin answers Service.Ready() and HealthReport(), and
 * keeps sending WATCHDOG=1: several pings arrive while the Report is still unanswered. Once the relayer
 * goes on (SIGCONT), the Report is answered. Only counts and order are checked; times are bounds for
 * giving up. */

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "host-stubs.h"
#include "macro.h"
#include "sdloop.h"
#include "test-util.h"
#include "util.h"

/* The proxy stands where the median factory is told its provider is. */
#define PROXY_PATH  TEST_PROVIDER_PATH

#define WATCHDOG_USEC      (200 * USEC_PER_MSEC)
#define PINGS_WHILE_STUCK  3U
#define GIVE_UP_USEC       (30 * USEC_PER_SEC)

static char tmpdir[] = "/tmp/sdloop-test-median-stuck-XXXXXX";
static char relayer_sock[sizeof(tmpdir) + 32], relayer_notify[sizeof(tmpdir) + 32], ledger[sizeof(tmpdir) + 32],
        median_sock[sizeof(tmpdir) + 32], median_notify[sizeof(tmpdir) + 32];
static pid_t relayer_pid = -1, median_pid = -1, guard_pid = -1;
static int guard_fd = -EBADF, notify_fd = -EBADF;
static sd_event *event;
static sd_event_source *notify_source;
static SdloopPeer *host_relayer, *host_median;
static SdloopProxy *proxy;

static struct {
        unsigned pings, pings_foreign;
} N;

static struct {
        unsigned n;
        bool done;
        int r;
        bool should_report;
        sd_bus_error error;
} report_reply = { .error = SD_BUS_ERROR_NULL };

/* --- processes --------------------------------------------------------------------------------------------- */

/* A process of its own that lets a stopped relayer go on (and end, by its SIGTERM-on-parent-death) when
 * the test process ends in whatever way without saying so first, a failed assertion or Check's timeout
 * kill included. */
static void guard_start(pid_t pid) {
        int p[2];

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        guard_pid = fork();
        ck_assert_int_ge(guard_pid, 0);
        if (guard_pid == 0) {
                char c;
                ssize_t n;

                (void) close(p[1]);
                do
                        n = read(p[0], &c, 1);
                while (n < 0 && errno == EINTR);
                if (n != 1) {
                        (void) kill(pid, SIGCONT);
                        (void) kill(pid, SIGTERM);
                }
                _exit(0);
        }
        (void) close(p[0]);
        guard_fd = p[1];
}

static void guard_stop(void) {
        int status;

        if (guard_pid <= 0)
                return;
        ck_assert_int_eq(write(guard_fd, "x", 1), 1);
        guard_fd = safe_close(guard_fd);
        ck_assert_int_eq(waitpid(guard_pid, &status, 0), guard_pid);
        guard_pid = -1;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        char buf[4096];
        pid_t sender;

        while (test_notify_recv(fd, buf, sizeof(buf), &sender)) {
                if (!strstr(buf, "WATCHDOG=1"))
                        continue;
                if (sender == median_pid)
                        N.pings++;
                else
                        N.pings_foreign++;
        }
        return 0;
}

/* --- set-up ------------------------------------------------------------------------------------------------ */

static void setup(void) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopObject *o;

        memset(&N, 0, sizeof(N));
        ck_assert_msg(getenv("SDLOOP_RELAYER_LEDGER"), "$SDLOOP_RELAYER_LEDGER not set");
        ck_assert_msg(getenv("SDLOOP_MEDIAN_PLUGIN"), "$SDLOOP_MEDIAN_PLUGIN not set");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(relayer_sock, sizeof(relayer_sock), "%s/relayer.sock", tmpdir);
        snprintf(relayer_notify, sizeof(relayer_notify), "%s/relayer.notify", tmpdir);
        snprintf(ledger, sizeof(ledger), "%s/chain.sqlite", tmpdir);
        snprintf(median_sock, sizeof(median_sock), "%s/median.sock", tmpdir);
        snprintf(median_notify, sizeof(median_notify), "%s/median.notify", tmpdir);

        relayer_pid = test_plugin_start(getenv("SDLOOP_RELAYER_LEDGER"), relayer_sock, relayer_notify);
        guard_start(relayer_pid);
        /* With a watchdog, its NOTIFY_SOCKET kept for the pings after READY=1. */
        median_pid = test_plugin_start_notify(getenv("SDLOOP_MEDIAN_PLUGIN"), median_sock, median_notify,
                                              &(const TestPluginOptions) {
                                                      .watchdog_usec = WATCHDOG_USEC,
                                                      .log_level = "notice",
                                              }, &notify_fd);

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(sd_event_add_io(event, &notify_source, notify_fd, EPOLLIN, on_notify, NULL), 0);

        ck_assert_int_eq(sdloop_peer_connect(event, relayer_sock, &host_relayer), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_relayer, "relayer-ledger"), 0);
        ck_assert_int_eq(sdloop_object_new_at(host_relayer, NULL, TEST_KEYSTORE_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_keystore_export(o, &test_keystore_ops, NULL), 0);

        ck_assert_int_eq(sdloop_peer_connect(event, median_sock, &host_median), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_median, "median"), 0);
        ck_assert_msg(sdloop_peer_handshake(host_median, SDLOOP_KIND_MEDIAN, &id, &error) == 0, "handshake: %s",
                      error.message);
}

static void teardown(void) {
        char cmd[sizeof(tmpdir) + 16];

        proxy = sdloop_proxy_free(proxy);
        host_median = sdloop_peer_unref(host_median);
        host_relayer = sdloop_peer_unref(host_relayer);
        notify_source = sd_event_source_disable_unref(notify_source);
        event = sd_event_unref(event);
        sd_bus_error_free(&report_reply.error);

        test_plugin_stop(median_pid);
        median_pid = -1;
        notify_fd = safe_close(notify_fd);
        if (relayer_pid > 0)
                (void) kill(relayer_pid, SIGCONT);
        test_plugin_stop(relayer_pid);
        relayer_pid = -1;
        guard_stop();

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(tmpdir, "/tmp/sdloop-test-median-stuck-XXXXXX");
}

/* --- the Report's answer ---------------------------------------------------------------------------------- */

static void on_report(SdloopPeer *p, int r, bool should_report, SdloopBytes *report, sd_bus_error *error,
                      void *userdata) {
        report_reply.n++;
        report_reply.done = true;
        report_reply.r = r;
        report_reply.should_report = should_report;
        if (r < 0)
                (void) sd_bus_error_copy(&report_reply.error, error);
}

/* --- the test ---------------------------------------------------------------------------------------------- */

START_TEST(test_served_and_pinging_while_relayer_stopped) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *seed = test_relay_config("010203"), *relayer = NULL, *provider = NULL,
                            *factory_path = NULL, *plugin_path = NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes onchain = {}, offchain = {};
        _cleanup_(test_observations_done) TestObservations obs = {};
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        const SdloopRelayArgs relay_args = test_relay_args(seed);
        SdloopReportingPluginConfig config = { .oracle_id = 2, .n = TEST_N_ORACLES, .f = 1 };
        SdloopReportTimestamp ts = { .epoch = 1, .round = 1 };
        unsigned pings_before, rounds = 0;
        uint64_t block, give_up;

        /* The relayer's median provider, handed to the median plugin as the host's object at PROXY_PATH. */
        test_relayer_median_provider(host_relayer, ledger, &relay_args, &relayer, &provider);
        ck_assert_int_eq(sdloop_proxy_new(host_median, PROXY_PATH, host_relayer, provider, &proxy), 0);

        /* The reporting plugin for the relayer's current configuration, its onchain config as the relayer
         * encodes it. */
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(host_relayer, provider, &block, config.digest,
                                                                         &error));
        ASSERT_CALL(sdloop_onchain_config_codec_encode(host_relayer, provider, &(SdloopOnchainConfig) {
                                                               .min = (char *) "-1000",
                                                               .max = (char *) "1000000",
                                                       }, &onchain, &error));
        test_median_offchain_config(&offchain);
        config.onchain_config = onchain;
        config.offchain_config = offchain;
        ASSERT_CALL(sdloop_plugin_median_new_median_factory(host_median, &test_median_deps, &factory_path, &error));
        ASSERT_CALL(sdloop_reporting_plugin_factory_new_reporting_plugin(host_median, factory_path, &config,
                                                                         &plugin_path, &info, &error));
        test_assert_served(host_median, plugin_path, factory_path, 2);

        /* The relayer stops; a Report, which asks the contract through the proxy, cannot be answered. */
        ck_assert_int_eq(kill(relayer_pid, SIGSTOP), 0);
        memcpy(ts.digest, config.digest, SDLOOP_DIGEST_SIZE);
        test_observations_make(&obs);
        ck_assert_int_eq(sdloop_reporting_plugin_report_async(host_median, plugin_path, &ts, NULL, 0, obs.a, obs.n,
                                                              NULL, on_report, NULL, &slot), 0);

        /* The plugin goes on serving, and pinging its watchdog. The Report went out before the first Ready()
         * on the same connection, so every ping counted from here on comes while it is outstanding. */
        test_assert_served(host_median, plugin_path, factory_path, 2);
        pings_before = N.pings;
        give_up = now_monotonic_usec() + GIVE_UP_USEC;
        while (N.pings < pings_before + PINGS_WHILE_STUCK && !report_reply.done) {
                ck_assert_msg(now_monotonic_usec() < give_up, "%u pings, %u rounds while stuck",
                              N.pings - pings_before, rounds);
                test_assert_served(host_median, plugin_path, factory_path, 2);
                rounds++;
                ck_assert_int_ge(sd_event_run(event, 100 * USEC_PER_MSEC), 0);
        }
        ck_assert_msg(!report_reply.done, "Report answered with the relayer stopped: %s: %s",
                      strempty(report_reply.error.name), strempty(report_reply.error.message));
        ck_assert_uint_eq(report_reply.n, 0);
        ck_assert_uint_ge(N.pings - pings_before, PINGS_WHILE_STUCK);
        ck_assert_uint_ge(rounds, 1);
        ck_assert_uint_eq(N.pings_foreign, 0);

        /* The relayer goes on: the stuck Report completes, once. */
        ck_assert_int_eq(kill(relayer_pid, SIGCONT), 0);
        ck_assert_int_eq(sdloop_peer_wait_for(host_median, &report_reply.done, GIVE_UP_USEC), 0);
        ck_assert_uint_eq(report_reply.n, 1);
        ck_assert_msg(report_reply.r == 0, "Report: %s: %s", strempty(report_reply.error.name),
                      strempty(report_reply.error.message));
        test_assert_served(host_median, plugin_path, factory_path, 2);
        ck_assert_uint_eq(report_reply.n, 1);
}
END_TEST

static Suite *median_stuck_suite(void) {
        Suite *s = suite_create("median-stuck");
        TCase *tc = tcase_create("relayer-stopped");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, test_served_and_pinging_while_relayer_stopped);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(median_stuck_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
