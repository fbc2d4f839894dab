/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The real sdloop-median binary never waits inside a handler. This test is the host, as in
 * test-median-plugin.c, but its MedianContract.LatestTransmissionDetails can be told to take the call and
 * never answer it. A Report stuck on it must not stop the plugin: Service.Ready(), HealthReport() and
 * Query are answered meanwhile; the stuck Report ends with org.sdloop1.Error.Timeout when the caller's
 * deadline passes (which the plugin handed on to the contract), and when its object is closed or its
 * caller goes away the plugin drops the outstanding call cleanly. Leaks and use-after-free show up in the
 * sanitized build, where the plugin's own exit status reports them. */

#include <check.h>

#include "host-stubs.h"
#include "macro.h"
#include "sdloop.h"
#include "test-util.h"
#include "util.h"

#define MAX_REPORT_LEN   256
/* Long enough for a few round trips on a loaded machine; the test waits for it once. */
#define STUCK_DEADLINE_USEC (2 * USEC_PER_SEC)

static const uint8_t digest_d[SDLOOP_DIGEST_SIZE] = { 0xd1, 0x9e, 0x57, [31] = 0x01 };

static char tmpdir[] = "/tmp/sdloop-test-median-async-XXXXXX";
static char sock_path[sizeof(tmpdir) + 32], notify_path[sizeof(tmpdir) + 32];
static pid_t plugin_pid = -1;
static sd_event *event;
static SdloopPeer *peer;
static char *factory_path, *plugin_path;

/* --- the provider: answers, or takes the call and keeps it ---------------------------------------------- */

typedef struct Kept {
        bool stuck;
        unsigned n_calls;
        SdloopCall *call;  /* the one kept */
        bool waiting;      /* a call is kept */
        uint64_t deadline; /* its deadline, as the plugin passed it on */
        bool cancelled;
        unsigned n_cancelled;
} Kept;

static Kept ltd, decode;

static void kept_cancel(SdloopCall *call, void *userdata) {
        Kept *k = userdata;

        ck_assert_ptr_eq(call, k->call);
        k->n_cancelled++;
        k->cancelled = true;
        k->waiting = false;
        k->call = sdloop_call_unref(k->call);
}

/* Count the call; if stuck, take it and keep it. */
static bool kept_take(Kept *k) {
        k->n_calls++;
        if (!k->stuck)
                return false;

        ck_assert_ptr_null(k->call);
        k->call = sdloop_call_defer();
        ck_assert_ptr_nonnull(k->call);
        sdloop_call_set_cancel_handler(k->call, kept_cancel, k);
        k->deadline = sdloop_call_get_deadline(k->call);
        k->waiting = true;
        return true;
}

static void kept_done(Kept *k) {
        k->call = sdloop_call_unref(k->call);
        *k = (Kept) {};
}

static int contract_latest_transmission_details(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                uint32_t *ret_epoch, uint8_t *ret_round, char **ret_latest_answer,
                                                int64_t *ret_latest_timestamp_usec, sd_bus_error *error) {
        if (kept_take(&ltd))
                return 0;

        /* Our digest at (0, 0): the first round of the config reports. */
        memcpy(ret_digest, digest_d, SDLOOP_DIGEST_SIZE);
        *ret_epoch = 0;
        *ret_round = 0;
        *ret_latest_answer = strdup("0");
        *ret_latest_timestamp_usec = 0;
        return *ret_latest_answer ? 0 : -ENOMEM;
}

static int contract_latest_round_requested(void *userdata, uint64_t lookback_usec,
                                           uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], uint32_t *ret_epoch,
                                           uint8_t *ret_round, sd_bus_error *error) {
        memset(ret_digest, 0, SDLOOP_DIGEST_SIZE);
        *ret_epoch = 0;
        *ret_round = 0;
        return 0;
}

static int codec_build_report(void *userdata, const SdloopParsedObservation *obs, size_t n_obs,
                              SdloopBytes *ret_report, sd_bus_error *error) {
        return sdloop_bytes_copy(ret_report, "report", strlen("report"));
}

static int codec_max_report_length(void *userdata, int64_t n, int64_t *ret_max, sd_bus_error *error) {
        *ret_max = MAX_REPORT_LEN;
        return 0;
}

static int onchain_decode(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret, sd_bus_error *error) {
        if (kept_take(&decode))
                return 0;
        ret->min = strdup("-1000000");
        ret->max = strdup("1000000");
        return ret->min && ret->max ? 0 : -ENOMEM;
}

static void export_provider(void) {
        static const SdloopReportCodecOps rc_ops = {
                .build_report = codec_build_report,
                .max_report_length = codec_max_report_length,
        };
        static const SdloopMedianContractOps mc_ops = {
                .latest_transmission_details = contract_latest_transmission_details,
                .latest_round_requested = contract_latest_round_requested,
        };
        static const SdloopOnchainConfigCodecOps occ_ops = { .decode = onchain_decode };
        SdloopObject *o;

        ck_assert_int_eq(sdloop_object_new_at(peer, NULL, TEST_PROVIDER_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_report_codec_export(o, &rc_ops, NULL), 0);
        ck_assert_int_eq(sdloop_median_contract_export(o, &mc_ops, NULL), 0);
        ck_assert_int_eq(sdloop_onchain_config_codec_export(o, &occ_ops, NULL), 0);
}

/* --- set-up: the plugin process, a factory and a reporting plugin ----------------------------------------- */

static void connect_plugin(void) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;

        ck_assert_int_eq(sdloop_peer_connect(event, sock_path, &peer), 0);
        ck_assert_msg(sdloop_peer_handshake(peer, SDLOOP_KIND_MEDIAN, &id, &error) == 0, "handshake: %s",
                      error.message);
}

static SdloopBytes offchain;

static SdloopReportingPluginConfig plugin_config(void) {
        SdloopReportingPluginConfig config = {
                .oracle_id = 2,
                .n = TEST_N_ORACLES,
                .f = 1,
                .onchain_config = { .data = (uint8_t *) "x", .size = 1 },
                .offchain_config = offchain,
        };

        memcpy(config.digest, digest_d, SDLOOP_DIGEST_SIZE);
        return config;
}

static void setup(void) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportingPluginConfig config;


        ck_assert_msg(getenv("SDLOOP_MEDIAN_PLUGIN"), "$SDLOOP_MEDIAN_PLUGIN not set");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(sock_path, sizeof(sock_path), "%s/median.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        plugin_pid = test_plugin_start(getenv("SDLOOP_MEDIAN_PLUGIN"), sock_path, notify_path);
        ck_assert_int_eq(sd_event_new(&event), 0);
        connect_plugin();
        export_provider();

        ck_assert_msg(sdloop_plugin_median_new_median_factory(peer, &test_median_deps, &factory_path, &error) == 0,
                      "NewMedianFactory: %s", error.message);

        test_median_offchain_config(&offchain);
        config = plugin_config();
        ck_assert_msg(sdloop_reporting_plugin_factory_new_reporting_plugin(peer, factory_path, &config, &plugin_path,
                                                                           &info, &error) == 0,
                      "NewReportingPlugin: %s", error.message);
}

static void teardown(void) {
        kept_done(&ltd);
        kept_done(&decode);
        peer = sdloop_peer_unref(peer);
        event = sd_event_unref(event);
        /* Exits 0 only without leaks in the sanitized build. */
        test_plugin_stop(plugin_pid);
        plugin_pid = -1;
        (void) unlink(sock_path);
        (void) unlink(notify_path);
        (void) rmdir(tmpdir);
        factory_path = mfree(factory_path);
        plugin_path = mfree(plugin_path);
        sdloop_bytes_done(&offchain);
}

/* --- Report, sent without waiting ------------------------------------------------------------------------- */

static struct {
        bool done;
        unsigned n;
        int r;
        sd_bus_error error;
} report_reply = { .error = SD_BUS_ERROR_NULL };

static void on_report_reply(SdloopPeer *p, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        report_reply.n++;
        report_reply.done = true;
        report_reply.r = r;
        if (r < 0)
                (void) sd_bus_error_copy(&report_reply.error, error);
}

/* Context.Set just before the call, as dbus/README.md describes it: the plugin learns of @deadline while
 * our own wait on the reply stays at the connection's call timeout, so that a Timeout can only be the
 * plugin's. */
static void send_deadline(uint64_t deadline) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus *bus = sdloop_peer_get_bus(peer);

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, NULL, SDLOOP_ROOT_PATH, "org.sdloop1.Context",
                                                        "Set"), 0);
        ck_assert_int_ge(sd_bus_message_set_expect_reply(m, false), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 1, "deadline_usec", "t", deadline), 0);
        ck_assert_int_ge(sd_bus_send(bus, m, NULL), 0);
}

/* Report(ts (1, 1), no query, four observations); @deadline SDLOOP_DEADLINE_NONE: the connection's default. */
static void report_send(uint64_t deadline, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(test_observations_done) TestObservations o = {};
        SdloopReportTimestamp ts = { .epoch = 1, .round = 1 };

        memcpy(ts.digest, digest_d, SDLOOP_DIGEST_SIZE);
        test_observations_make(&o);
        ck_assert_int_ge(sdloop_peer_new_call(peer, plugin_path, "org.sdloop1.ReportingPlugin", "Report", &m), 0);
        ck_assert_int_ge(sdloop_append_report_timestamp(m, &ts), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, NULL, 0), 0);
        ck_assert_int_ge(sdloop_append_attributed_array(m, o.a, o.n), 0);

        report_reply.done = false;
        if (deadline != SDLOOP_DEADLINE_NONE)
                send_deadline(deadline);
        ck_assert_int_eq(sdloop_peer_call_async(peer, m, NULL, on_report_reply, NULL, ret_slot), 0);
}

static void report_reply_done(void) {
        sd_bus_error_free(&report_reply.error);
        report_reply = (typeof(report_reply)) { .error = SD_BUS_ERROR_NULL };
}

static bool report_now(void) {
        _cleanup_(test_observations_done) TestObservations o = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes r = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = { .epoch = 1, .round = 1 };
        bool should = false;

        memcpy(ts.digest, digest_d, SDLOOP_DIGEST_SIZE);
        test_observations_make(&o);
        ck_assert_msg(sdloop_reporting_plugin_report(peer, plugin_path, &ts, NULL, 0, o.a, o.n, &should, &r,
                                                     &error) == 0, "Report: %s", error.message);
        return should;
}

/* Service.Ready() of @path answered, and HealthReport() of the factory: @n_entries, all healthy. */
static void assert_served(const char *path, unsigned n_entries) {
        test_assert_served(peer, path, factory_path, n_entries);
}

/* --- tests ------------------------------------------------------------------------------------------------ */

START_TEST(test_served_while_stuck) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes q = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = {};
        uint64_t deadline = now_monotonic_usec() + STUCK_DEADLINE_USEC;

        ltd.stuck = true;
        report_send(deadline, &slot);
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &ltd.waiting, 30 * USEC_PER_SEC), 0);
        /* The plugin handed our deadline on with its own call. */
        ck_assert_uint_eq(ltd.deadline, deadline);

        /* Stuck in Report, the plugin still answers everything else, the reporting plugin itself included. */
        assert_served(plugin_path, 2);
        assert_served(factory_path, 2);
        ck_assert_int_eq(sdloop_reporting_plugin_query(peer, plugin_path, &ts, &q, &error), 0);
        ck_assert_uint_eq(report_reply.n, 0);
        ck_assert_uint_eq(ltd.n_calls, 1);
        ck_assert_uint_eq(ltd.n_cancelled, 0);

        /* The deadline passes: the caller hears Timeout from the plugin, and the contract's call is dropped. */
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &report_reply.done, 30 * USEC_PER_SEC), 0);
        ck_assert_uint_eq(report_reply.n, 1);
        ck_assert_int_lt(report_reply.r, 0);
        ck_assert_msg(sd_bus_error_has_name(&report_reply.error, SDLOOP_ERROR_TIMEOUT), "%s: %s",
                      strempty(report_reply.error.name), strempty(report_reply.error.message));
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &ltd.cancelled, 30 * USEC_PER_SEC), 0);
        ck_assert_uint_eq(ltd.n_cancelled, 1);
        report_reply_done();

        /* Nothing of it is left behind: the next Report goes through. */
        ltd.stuck = false;
        ck_assert(report_now());
        ck_assert_uint_eq(ltd.n_calls, 2);
        assert_served(plugin_path, 2);
}
END_TEST

START_TEST(test_close_while_stuck) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        ltd.stuck = true;
        report_send(SDLOOP_DEADLINE_NONE, &slot);
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &ltd.waiting, 30 * USEC_PER_SEC), 0);
        /* Our connection's default timeout became the call's deadline, and travelled on. */
        ck_assert_uint_ne(ltd.deadline, SDLOOP_DEADLINE_NONE);

        /* Closing the reporting plugin cancels its Report (the caller hears NotFound); the contract's late
         * answer then finds nothing to run (the plugin's state is gone with the object). */
        ck_assert_int_eq(sdloop_reporting_plugin_close(peer, plugin_path, &error), 0);
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &report_reply.done, 30 * USEC_PER_SEC), 0);
        ck_assert_uint_eq(report_reply.n, 1);
        ck_assert_msg(sd_bus_error_has_name(&report_reply.error, SDLOOP_ERROR_NOT_FOUND), "%s: %s",
                      strempty(report_reply.error.name), strempty(report_reply.error.message));
        report_reply_done();
        ck_assert_int_eq(sdloop_median_contract_latest_transmission_details_return(ltd.call, digest_d, 0, 0, "0", 0),
                         0);
        kept_done(&ltd);

        /* The plugin went on: the answer came before this, on the same connection. The factory is
         * alone now. */
        assert_served(factory_path, 1);
        ck_assert_uint_eq(report_reply.n, 0);
}
END_TEST

typedef struct Reply {
        bool done;
        unsigned n;
        sd_bus_error error;
} Reply;

static void on_new_plugin_reply(SdloopPeer *p, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        Reply *x = userdata;

        x->n++;
        x->done = true;
        if (r < 0)
                (void) sd_bus_error_copy(&x->error, error);
}

START_TEST(test_factory_close_while_stuck) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        SdloopReportingPluginConfig config = plugin_config();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *second = NULL;
        Reply reply = { .error = SD_BUS_ERROR_NULL };

        /* NewReportingPlugin waits for the OnchainConfigCodec; the factory answers Ready meanwhile. */
        decode.stuck = true;
        ck_assert_int_ge(sdloop_peer_new_call(peer, factory_path, "org.sdloop1.ReportingPluginFactory",
                                              "NewReportingPlugin", &m), 0);
        ck_assert_int_ge(sdloop_append_reporting_plugin_config(m, &config), 0);
        ck_assert_int_eq(sdloop_peer_call_async(peer, m, NULL, on_new_plugin_reply, &reply, &slot), 0);
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &decode.waiting, 30 * USEC_PER_SEC), 0);
        assert_served(factory_path, 2);
        ck_assert_uint_eq(reply.n, 0);

        /* Closing the factory cancels it (NotFound), with the reporting plugin it was making; the late
         * answer finds nothing to run. */
        ck_assert_int_eq(sdloop_peer_call_method(peer, factory_path, "org.sdloop1.Service", "Close", NULL, &error,
                                                 NULL), 0);
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &reply.done, 30 * USEC_PER_SEC), 0);
        ck_assert_msg(sd_bus_error_has_name(&reply.error, SDLOOP_ERROR_NOT_FOUND), "%s: %s",
                      strempty(reply.error.name), strempty(reply.error.message));
        sd_bus_error_free(&reply.error);
        ck_assert_int_eq(sdloop_onchain_config_codec_decode_return(decode.call, &(SdloopOnchainConfig) {
                                 .min = (char *) "1",
                                 .max = (char *) "2",
                         }), 0);
        kept_done(&decode);

        /* The plugin went on: a new factory makes plugins as before. */
        factory_path = mfree(factory_path);
        ck_assert_msg(sdloop_plugin_median_new_median_factory(peer, &test_median_deps, &factory_path, &error) == 0,
                      "NewMedianFactory: %s", error.message);
        ck_assert_msg(sdloop_reporting_plugin_factory_new_reporting_plugin(peer, factory_path, &config, &second,
                                                                           &info, &error) == 0,
                      "NewReportingPlugin: %s", error.message);
        ck_assert_uint_eq(reply.n, 1);
}
END_TEST

START_TEST(test_caller_gone_while_stuck) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;

        ltd.stuck = true;
        report_send(SDLOOP_DEADLINE_NONE, &slot);
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &ltd.waiting, 30 * USEC_PER_SEC), 0);

        /* The caller goes away mid-call; the plugin cancels the Report and everything on that connection.
         * (Our side cancels the contract's call it kept.) */
        slot = sd_bus_slot_unref(slot);
        peer = sdloop_peer_unref(peer);
        ck_assert_uint_eq(ltd.n_cancelled, 1);

        /* The plugin serves the next connection as if nothing happened. */
        connect_plugin();
        ck_assert_int_eq(sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.freedesktop.DBus.Peer", "Ping", NULL,
                                                 NULL, NULL), 0);
}
END_TEST

static Suite *median_async_suite(void) {
        Suite *s = suite_create("median-async");
        TCase *tc;

        tc = tcase_create("stuck");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_served_while_stuck);
        tcase_add_test(tc, test_close_while_stuck);
        tcase_add_test(tc, test_factory_close_while_stuck);
        tcase_add_test(tc, test_caller_gone_while_stuck);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(median_async_suite());
        int n_failed;

        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
