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
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "macro.h"
#include "median-codec.h"
#include "sdloop.h"
#include "test-util.h"
#include "util.h"

#define CONTRACT_ID   "feed-eth-usd"
#define KEYSTORE_PATH "/org/sdloop1/host/keystore"
#define PROXY_PATH    "/org/sdloop1/host/provider/1"

#define N_ORACLES          4U
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

/* --- the host's keystore, for the relayer ------------------------------------------------------------------ */

static int keystore_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        char **l = calloc(3, sizeof(char *));

        if (!l)
                return -ENOMEM;
        l[0] = strdup("t0");
        l[1] = strdup("t1");
        if (!l[0] || !l[1]) {
                strv_free(l);
                return -ENOMEM;
        }
        *ret_accounts = l;
        return 0;
}

static const SdloopKeystoreOps keystore_ops = {
        .accounts = keystore_accounts,
};

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
        for (;;) {
                char buf[4096];
                union {
                        struct cmsghdr h;
                        uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
                } control = {};
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof(control) };
                struct cmsghdr *c;
                pid_t sender = 0;
                ssize_t n;

                n = recvmsg(fd, &mh, MSG_DONTWAIT);
                if (n < 0) {
                        ck_assert_int_eq(errno, EAGAIN);
                        return 0;
                }
                for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                                sender = ((struct ucred *) CMSG_DATA(c))->pid;
                buf[n] = 0;
                if (!strstr(buf, "WATCHDOG=1"))
                        continue;
                if (sender == median_pid)
                        N.pings++;
                else
                        N.pings_foreign++;
        }
}

/* sdloop-median --listen, with a watchdog and our NOTIFY_SOCKET; returns once it said READY=1. */
static void median_start(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        bool ready = false;
        int one = 1;

        ck_assert_uint_lt(strlen(median_notify), sizeof(sa.sun_path));
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(notify_fd, 0);
        ck_assert_int_eq(setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        strcpy(sa.sun_path, median_notify);
        ck_assert_int_eq(bind(notify_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        median_pid = fork();
        ck_assert_int_ge(median_pid, 0);
        if (median_pid == 0) {
                char usec[32], pid[32];

                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                snprintf(usec, sizeof(usec), "%" PRIu64, (uint64_t) WATCHDOG_USEC);
                snprintf(pid, sizeof(pid), "%i", (int) getpid());
                setenv("NOTIFY_SOCKET", median_notify, 1);
                setenv("WATCHDOG_USEC", usec, 1);
                setenv("WATCHDOG_PID", pid, 1);
                setenv("SDLOOP_LOG_TARGET", "stderr", 1);
                setenv("SDLOOP_LOG_LEVEL", "notice", 1);
                execl(getenv("SDLOOP_MEDIAN_PLUGIN"), "sdloop-median", "--listen", median_sock, NULL);
                _exit(127);
        }

        while (!ready) {
                struct pollfd p = { .fd = notify_fd, .events = POLLIN };
                char buf[4096];
                ssize_t n;

                ck_assert_msg(poll(&p, 1, 30 * 1000) == 1, "sdloop-median did not send READY=1");
                n = recv(notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (n < 0) {
                        ck_assert_int_eq(errno, EAGAIN);
                        continue;
                }
                buf[n] = '\0';
                ready = strstr(buf, "READY=1") != NULL;
        }
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
        median_start();

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(sd_event_add_io(event, &notify_source, notify_fd, EPOLLIN, on_notify, NULL), 0);

        ck_assert_int_eq(sdloop_peer_connect(event, relayer_sock, &host_relayer), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_relayer, "relayer-ledger"), 0);
        ck_assert_int_eq(sdloop_object_new_at(host_relayer, NULL, KEYSTORE_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_keystore_export(o, &keystore_ops, NULL), 0);

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

/* --- helpers ----------------------------------------------------------------------------------------------- */

#define ASSERT_CALL(call)                                                                                 \
        do {                                                                                              \
                int _r = (call);                                                                          \
                ck_assert_msg(_r >= 0, "%s: %s: %s", #call, strempty(error.name), strempty(error.message)); \
        } while (0)

/* A seeded configuration for four oracles. */
static char *relay_config(void) {
        char *json = NULL;

        ck_assert_int_ge(asprintf(&json,
                                  "{\"chain_id\": \"ignored\", \"config\": {\"signers\": ["
                                  "\"%1$s01\", \"%1$s02\", \"%1$s03\", \"%1$s04\"], "
                                  "\"transmitters\": [\"t0\", \"t1\", \"t2\", \"t3\"], \"f\": 1, "
                                  "\"onchain_config\": {\"min\": \"-1000\", \"max\": 1000000}, "
                                  "\"offchain_config_version\": 1, \"offchain_config\": \"010203\"}}",
                                  "5d10c0ffee5d10c0ffee5d10c0ffee5d10c0ffee5d10c0ffee5d10c0ffee5d"), 0);
        return json;
}

typedef struct Observations {
        SdloopAttributed a[N_ORACLES];
        size_t n;
} Observations;

static void observations_done(Observations *o) {
        for (size_t i = 0; i < o->n; i++)
                sdloop_bytes_done(&o->a[i].data);
        o->n = 0;
}

/* One honest observation per oracle: 100, 200, 300, 400. */
static void observations_make(Observations *o) {
        for (size_t i = 0; i < N_ORACLES; i++) {
                SdloopInt v, juels;

                sdloop_int_from_i128(100 * (__int128) (i + 1), &v);
                sdloop_int_from_i128(7, &juels);
                ck_assert_int_eq(median_observation_encode(1, &v, &juels, &o->a[i].data), 0);
                o->a[i].oracle = (uint8_t) i;
                o->n++;
        }
}

static void on_report(SdloopPeer *p, int r, bool should_report, SdloopBytes *report, sd_bus_error *error,
                      void *userdata) {
        report_reply.n++;
        report_reply.done = true;
        report_reply.r = r;
        report_reply.should_report = should_report;
        if (r < 0)
                (void) sd_bus_error_copy(&report_reply.error, error);
}

/* Service.Ready() of @path answered, and HealthReport() of @factory: @n_entries, all healthy. */
static void assert_served(const char *path, const char *factory, unsigned n_entries) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *name, *message;
        unsigned n = 0;

        ck_assert_msg(sdloop_peer_call_method(host_median, path, "org.sdloop1.Service", "Ready", NULL, &error,
                                              NULL) == 0, "Ready: %s", error.message);
        ck_assert_msg(sdloop_peer_call_method(host_median, factory, "org.sdloop1.Service", "HealthReport", &reply,
                                              &error, NULL) == 0, "HealthReport: %s", error.message);
        ck_assert_int_gt(sd_bus_message_enter_container(reply, 'a', "{ss}"), 0);
        while (sd_bus_message_read(reply, "{ss}", &name, &message) > 0) {
                ck_assert_msg(isempty(message), "%s: %s", name, message);
                n++;
        }
        ck_assert_uint_eq(n, n_entries);
}

/* --- the test ---------------------------------------------------------------------------------------------- */

START_TEST(test_served_and_pinging_while_relayer_stopped) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *relayer_config = NULL, *seed = relay_config(), *relayer = NULL, *provider = NULL,
                            *factory_path = NULL, *plugin_path = NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes onchain = {}, offchain = {};
        _cleanup_(observations_done) Observations obs = {};
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        SdloopRelayArgs relay_args = {
                .external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe67",
                .job_id = 123,
                .contract_id = (char *) CONTRACT_ID,
                .new = true,
                .relay_config = seed,
                .provider_type = (char *) "median",
        };
        SdloopPluginArgs plugin_args = { .transmitter_id = (char *) "t0", .plugin_config = (char *) "{}" };
        const SdloopMedianDeps deps = {
                .provider = PROXY_PATH,
                .data_source = "/org/sdloop1/host/data_source/1",
                .juels_data_source = "/org/sdloop1/host/data_source/2",
                .error_log = "/org/sdloop1/host/error_log/1",
        };
        SdloopReportingPluginConfig config = { .oracle_id = 2, .n = N_ORACLES, .f = 1 };
        SdloopReportTimestamp ts = { .epoch = 1, .round = 1 };
        unsigned pings_before, rounds = 0;
        uint64_t block, give_up;

        /* The relayer's median provider, handed to the median plugin as the host's object at PROXY_PATH. */
        ck_assert_int_ge(asprintf(&relayer_config, "{\"chain_id\": \"ledger-test\", \"ledger\": \"%s\"}", ledger), 0);
        ASSERT_CALL(sdloop_plugin_relayer_new_relayer(host_relayer, relayer_config, KEYSTORE_PATH, &relayer, &error));
        ASSERT_CALL(sdloop_relayer_new_plugin_provider(host_relayer, relayer, &relay_args, &plugin_args, &provider,
                                                       &error));
        ck_assert_int_eq(sdloop_proxy_new(host_median, PROXY_PATH, host_relayer, provider, &proxy), 0);

        /* The reporting plugin for the relayer's current configuration, its onchain config as the relayer
         * encodes it. */
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(host_relayer, provider, &block, config.digest,
                                                                         &error));
        ASSERT_CALL(sdloop_onchain_config_codec_encode(host_relayer, provider, &(SdloopOnchainConfig) {
                                                               .min = (char *) "-1000",
                                                               .max = (char *) "1000000",
                                                       }, &onchain, &error));
        ck_assert_int_eq(sdloop_median_offchain_config_encode(&(SdloopMedianOffchainConfig) {
                                 .alpha_report_ppb = 10000000,
                                 .alpha_accept_ppb = 10000000,
                                 .delta_c_nsec = 3600 * UINT64_C(1000000000),
                         }, &offchain), 0);
        config.onchain_config = onchain;
        config.offchain_config = offchain;
        ASSERT_CALL(sdloop_plugin_median_new_median_factory(host_median, &deps, &factory_path, &error));
        ASSERT_CALL(sdloop_reporting_plugin_factory_new_reporting_plugin(host_median, factory_path, &config,
                                                                         &plugin_path, &info, &error));
        assert_served(plugin_path, factory_path, 2);

        /* The relayer stops; a Report, which asks the contract through the proxy, cannot be answered. */
        ck_assert_int_eq(kill(relayer_pid, SIGSTOP), 0);
        memcpy(ts.digest, config.digest, SDLOOP_DIGEST_SIZE);
        observations_make(&obs);
        ck_assert_int_eq(sdloop_reporting_plugin_report_async(host_median, plugin_path, &ts, NULL, 0, obs.a, obs.n,
                                                              NULL, on_report, NULL, &slot), 0);

        /* The plugin goes on serving, and pinging its watchdog. The Report went out before the first Ready()
         * on the same connection, so every ping counted from here on comes while it is outstanding. */
        assert_served(plugin_path, factory_path, 2);
        pings_before = N.pings;
        give_up = now_monotonic_usec() + GIVE_UP_USEC;
        while (N.pings < pings_before + PINGS_WHILE_STUCK && !report_reply.done) {
                ck_assert_msg(now_monotonic_usec() < give_up, "%u pings, %u rounds while stuck",
                              N.pings - pings_before, rounds);
                assert_served(plugin_path, factory_path, 2);
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
        assert_served(plugin_path, factory_path, 2);
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
