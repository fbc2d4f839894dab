/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The real sdloop-median binary in a process of its own (--listen on a temporary socket). This test is the
 * host: on the same connection it exports two DataSources, an ErrorLog and a fake median provider whose
 * ReportCodec, MedianContract and OnchainConfigCodec use a simple text encoding, then drives
 * NewMedianFactory → NewReportingPlugin → Query/Observation/Report/ShouldAccept/ShouldTransmit/Close with
 * n = 4, f = 1 and checks the plugin's decisions. */

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"
#include "test-util.h"
#include "median-codec.h"
#include "sdloop.h"

#define PROVIDER_PATH    "/org/sdloop1/host/provider/1"
#define DATA_SOURCE_PATH "/org/sdloop1/host/data_source/1"
#define JUELS_PATH       "/org/sdloop1/host/data_source/2"
#define ERROR_LOG_PATH   "/org/sdloop1/host/error_log/1"

#define N_ORACLES        4U
#define F                1U
#define MAX_REPORT_LEN   256
#define DELTA_C_SEC      3600
#define PPB_PER_PERCENT  UINT64_C(10000000)

static const uint8_t digest_d[SDLOOP_DIGEST_SIZE] = { 0xd1, 0x9e, 0x57, [31] = 0x01 };
static const uint8_t digest_other[SDLOOP_DIGEST_SIZE] = { 0x07, 0x4e, 0x12, [31] = 0x02 };

/* --- the plugin process ------------------------------------------------------------------------------ */

static char tmpdir[] = "/tmp/sdloop-test-median-XXXXXX";
static char sock_path[sizeof(tmpdir) + 32], notify_path[sizeof(tmpdir) + 32];
static pid_t plugin_pid = -1;
static sd_event *event;
static SdloopPeer *peer;

static void start_plugin(void) {
        ck_assert_msg(getenv("SDLOOP_MEDIAN_PLUGIN"), "$SDLOOP_MEDIAN_PLUGIN not set");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(sock_path, sizeof(sock_path), "%s/median.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        plugin_pid = test_plugin_start(getenv("SDLOOP_MEDIAN_PLUGIN"), sock_path, notify_path);

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(sdloop_peer_connect(event, sock_path, &peer), 0);
}

static void stop_plugin(void) {
        peer = sdloop_peer_unref(peer);
        event = sd_event_unref(event);
        test_plugin_stop(plugin_pid);
        plugin_pid = -1;
        (void) unlink(sock_path);
        (void) unlink(notify_path);
        (void) rmdir(tmpdir);
}

/* --- the host's objects ------------------------------------------------------------------------------- */

typedef struct FakeDataSource {
        char value[SDLOOP_DECIMAL_DIGITS_MAX + 2];
        bool fail;
        unsigned n_calls;
        SdloopReportTimestamp last_ts;
} FakeDataSource;

static FakeDataSource value_source, juels_source;

static int data_source_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error) {
        FakeDataSource *ds = userdata;

        ds->n_calls++;
        ds->last_ts = *ts;
        if (ds->fail)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "price feed unreachable");
        *ret_value = strdup(ds->value);
        return *ret_value ? 0 : -ENOMEM;
}

static char *saved_errors[16];
static size_t n_saved_errors;

static int error_log_save_error(void *userdata, const char *message, sd_bus_error *error) {
        ck_assert_uint_lt(n_saved_errors, ELEMENTSOF(saved_errors));
        saved_errors[n_saved_errors] = strdup(message);
        ck_assert_ptr_nonnull(saved_errors[n_saved_errors]);
        n_saved_errors++;
        return 0;
}

/* The contract: what LatestTransmissionDetails and LatestRoundRequested answer. */
static struct {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        char answer[SDLOOP_DECIMAL_DIGITS_MAX + 2];
        int64_t timestamp_usec;
        bool fail;
        uint8_t requested_digest[SDLOOP_DIGEST_SIZE];
        uint32_t requested_epoch;
        uint8_t requested_round;
        uint64_t last_lookback_usec;
} contract;

static int64_t now_usec(void) {
        struct timespec ts;

        ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void contract_set(const uint8_t digest[static SDLOOP_DIGEST_SIZE], uint32_t epoch, uint8_t round,
                         const char *answer, int64_t timestamp_usec) {
        memcpy(contract.digest, digest, SDLOOP_DIGEST_SIZE);
        contract.epoch = epoch;
        contract.round = round;
        snprintf(contract.answer, sizeof(contract.answer), "%s", answer);
        contract.timestamp_usec = timestamp_usec;
}

static int contract_latest_transmission_details(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                uint32_t *ret_epoch, uint8_t *ret_round, char **ret_latest_answer,
                                                int64_t *ret_latest_timestamp_usec, sd_bus_error *error) {
        if (contract.fail)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "RPC node down");
        memcpy(ret_digest, contract.digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = contract.epoch;
        *ret_round = contract.round;
        *ret_latest_answer = strdup(contract.answer);
        *ret_latest_timestamp_usec = contract.timestamp_usec;
        return *ret_latest_answer ? 0 : -ENOMEM;
}

static int contract_latest_round_requested(void *userdata, uint64_t lookback_usec,
                                           uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], uint32_t *ret_epoch,
                                           uint8_t *ret_round, sd_bus_error *error) {
        contract.last_lookback_usec = lookback_usec;
        memcpy(ret_digest, contract.requested_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = contract.requested_epoch;
        *ret_round = contract.requested_round;
        return 0;
}

/* The report codec: "report:<median>;count=<n>". BuildReport records what it was given. */
static struct {
        SdloopParsedObservation obs[N_ORACLES + 4];
        size_t n_obs;
        unsigned n_build;
        unsigned n_median;
        bool oversize;
        int64_t last_n;
} codec;

static void codec_forget(void) {
        for (size_t i = 0; i < codec.n_obs; i++) {
                free(codec.obs[i].value);
                free(codec.obs[i].juels_per_fee_coin);
        }
        codec.n_obs = 0;
}

static int codec_build_report(void *userdata, const SdloopParsedObservation *obs, size_t n_obs,
                              SdloopBytes *ret_report, sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;

        codec.n_build++;
        codec_forget();
        ck_assert_uint_le(n_obs, ELEMENTSOF(codec.obs));
        ck_assert_uint_gt(n_obs, 0);
        for (size_t i = 0; i < n_obs; i++) {
                codec.obs[i] = obs[i];
                codec.obs[i].value = strdup(obs[i].value);
                codec.obs[i].juels_per_fee_coin = strdup(obs[i].juels_per_fee_coin);
        }
        codec.n_obs = n_obs;

        if (codec.oversize)
                return sdloop_bytes_copy(ret_report, (uint8_t[MAX_REPORT_LEN + 1]) {}, MAX_REPORT_LEN + 1);
        ck_assert_int_gt(asprintf(&text, "report:%s;count=%zu", obs[n_obs / 2].value, n_obs), 0);
        return sdloop_bytes_copy(ret_report, text, strlen(text));
}

static int codec_median_from_report(void *userdata, const SdloopBytes *report, char **ret_median,
                                    sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;
        char *end;

        codec.n_median++;
        text = strndup((const char *) report->data, report->size);
        if (!text)
                return -ENOMEM;
        if (strncmp(text, "report:", 7) != 0 || !(end = strchr(text, ';')))
                return sdloop_error_invalid(error, "report", "not a report of ours");
        *end = '\0';
        *ret_median = strdup(text + 7);
        return *ret_median ? 0 : -ENOMEM;
}

static int codec_max_report_length(void *userdata, int64_t n, int64_t *ret_max, sd_bus_error *error) {
        codec.last_n = n;
        *ret_max = MAX_REPORT_LEN;
        return 0;
}

/* The onchain config: "<min>,<max>" in text. */
static int onchain_decode(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;
        char *comma;

        text = strndup((const char *) encoded->data, encoded->size);
        if (!text)
                return -ENOMEM;
        comma = strchr(text, ',');
        if (!comma)
                return sdloop_error_invalid(error, "encoded", "expected \"min,max\"");
        *comma = '\0';
        ret->min = strdup(text);
        ret->max = strdup(comma + 1);
        return ret->min && ret->max ? 0 : -ENOMEM;
}

static void export_host_objects(void) {
        static const SdloopDataSourceOps ds_ops = { .observe = data_source_observe };
        static const SdloopErrorLogOps el_ops = { .save_error = error_log_save_error };
        static const SdloopReportCodecOps rc_ops = {
                .build_report = codec_build_report,
                .median_from_report = codec_median_from_report,
                .max_report_length = codec_max_report_length,
        };
        static const SdloopMedianContractOps mc_ops = {
                .latest_transmission_details = contract_latest_transmission_details,
                .latest_round_requested = contract_latest_round_requested,
        };
        static const SdloopOnchainConfigCodecOps occ_ops = { .decode = onchain_decode };
        SdloopObject *o;

        ck_assert_int_eq(sdloop_object_new_at(peer, NULL, DATA_SOURCE_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_data_source_export(o, &ds_ops, &value_source), 0);
        ck_assert_int_eq(sdloop_object_new_at(peer, NULL, JUELS_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_data_source_export(o, &ds_ops, &juels_source), 0);
        ck_assert_int_eq(sdloop_object_new_at(peer, NULL, ERROR_LOG_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_error_log_export(o, &el_ops, NULL), 0);
        ck_assert_int_eq(sdloop_object_new_at(peer, NULL, PROVIDER_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_report_codec_export(o, &rc_ops, NULL), 0);
        ck_assert_int_eq(sdloop_median_contract_export(o, &mc_ops, NULL), 0);
        ck_assert_int_eq(sdloop_onchain_config_codec_export(o, &occ_ops, NULL), 0);
}

/* --- set-up: a factory and a reporting plugin -------------------------------------------------------- */

static char *factory_path;
static char *plugin_path;
static SdloopReportingPluginInfo plugin_info;

static SdloopMedianOffchainConfig offchain_default(void) {
        return (SdloopMedianOffchainConfig) {
                .alpha_report_ppb = PPB_PER_PERCENT,
                .alpha_accept_ppb = PPB_PER_PERCENT,
                .delta_c_nsec = (uint64_t) DELTA_C_SEC * 1000000000,
        };
}

static int new_plugin(const SdloopMedianOffchainConfig *offchain, const char *onchain, uint32_t f, char **ret_path,
                      SdloopReportingPluginInfo *ret_info, sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes off = {};
        SdloopReportingPluginConfig config = {
                .oracle_id = 2,
                .n = N_ORACLES,
                .f = f,
                .onchain_config = { .data = (uint8_t *) onchain, .size = strlen(onchain) },
                .estimated_round_interval_usec = USEC_PER_SEC,
                .max_duration_query_usec = USEC_PER_SEC,
                .max_duration_observation_usec = USEC_PER_SEC,
                .max_duration_report_usec = USEC_PER_SEC,
                .max_duration_should_accept_usec = USEC_PER_SEC,
                .max_duration_should_transmit_usec = USEC_PER_SEC,
        };

        memcpy(config.digest, digest_d, SDLOOP_DIGEST_SIZE);
        ck_assert_int_eq(sdloop_median_offchain_config_encode(offchain, &off), 0);
        config.offchain_config = off;
        return sdloop_reporting_plugin_factory_new_reporting_plugin(peer, factory_path, &config, ret_path, ret_info,
                                                                    error);
}

static void setup(void) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopMedianOffchainConfig off = offchain_default();
        SdloopMedianDeps deps = {
                .provider = PROVIDER_PATH,
                .data_source = DATA_SOURCE_PATH,
                .juels_data_source = JUELS_PATH,
                .error_log = ERROR_LOG_PATH,
        };

        start_plugin();
        ck_assert_int_eq(sdloop_peer_handshake(peer, SDLOOP_KIND_MEDIAN, &id, &error), 0);
        ck_assert_str_eq(id.kind, SDLOOP_KIND_MEDIAN);
        ck_assert_str_eq(id.name, "median");
        export_host_objects();

        snprintf(value_source.value, sizeof(value_source.value), "100");
        snprintf(juels_source.value, sizeof(juels_source.value), "7");
        contract_set(digest_d, 0, 0, "0", now_usec());

        ck_assert_int_eq(sdloop_plugin_median_new_median_factory(peer, &deps, &factory_path, &error), 0);
        ck_assert_msg(strncmp(factory_path, "/org/sdloop1/factory/", 21) == 0, "factory at %s", factory_path);

        ck_assert_msg(new_plugin(&off, "-1000000,1000000", F, &plugin_path, &plugin_info, &error) == 0,
                      "NewReportingPlugin: %s", error.message);
        ck_assert_msg(strncmp(plugin_path, "/org/sdloop1/reporting_plugin/", 30) == 0, "plugin at %s", plugin_path);
}

static void teardown(void) {
        stop_plugin();
        factory_path = mfree(factory_path);
        plugin_path = mfree(plugin_path);
        sdloop_reporting_plugin_info_done(&plugin_info);
        codec_forget();
        for (size_t i = 0; i < n_saved_errors; i++)
                free(saved_errors[i]);
        n_saved_errors = 0;
}

/* --- helpers ------------------------------------------------------------------------------------------ */

static SdloopReportTimestamp TS(uint32_t epoch, uint8_t round) {
        SdloopReportTimestamp ts = { .epoch = epoch, .round = round };

        memcpy(ts.digest, digest_d, SDLOOP_DIGEST_SIZE);
        return ts;
}

/* Let the plugin observe @value (it is every oracle here) and attribute the result to @oracle. */
static void observe_as(const char *value, uint8_t oracle, SdloopAttributed *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(1, 1);

        snprintf(value_source.value, sizeof(value_source.value), "%s", value);
        ck_assert_msg(sdloop_reporting_plugin_observation(peer, plugin_path, &ts, NULL, 0, &ret->data, &error) == 0,
                      "Observation: %s", error.message);
        ret->oracle = oracle;
}

typedef struct Observations {
        SdloopAttributed a[8];
        size_t n;
} Observations;

static void observations_done(Observations *o) {
        for (size_t i = 0; i < o->n; i++)
                sdloop_bytes_done(&o->a[i].data);
        o->n = 0;
}

static void observations_add(Observations *o, const char *value, uint8_t oracle) {
        ck_assert_uint_lt(o->n, ELEMENTSOF(o->a));
        observe_as(value, oracle, &o->a[o->n++]);
}

static void observations_add_raw(Observations *o, const char *bytes, uint8_t oracle) {
        ck_assert_uint_lt(o->n, ELEMENTSOF(o->a));
        o->a[o->n].oracle = oracle;
        ck_assert_int_eq(sdloop_bytes_copy(&o->a[o->n].data, bytes, strlen(bytes)), 0);
        o->n++;
}

/* Four honest observations 300, 100, 250, 200 from oracles 0…3: median 250. */
static void observations_four(Observations *o) {
        observations_add(o, "300", 0);
        observations_add(o, "100", 1);
        observations_add(o, "250", 2);
        observations_add(o, "200", 3);
}

static int report(const Observations *o, SdloopReportTimestamp ts, bool *ret_should, SdloopBytes *ret_report,
                  sd_bus_error *error) {
        return sdloop_reporting_plugin_report(peer, plugin_path, &ts, NULL, 0, o->a, o->n, ret_should, ret_report,
                                              error);
}

static bool report_ok(const Observations *o) {
        _cleanup_(sdloop_bytes_done) SdloopBytes r = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool should = !false;

        ck_assert_msg(report(o, TS(2, 1), &should, &r, &error) == 0, "Report: %s", error.message);
        if (!should)
                ck_assert_uint_eq(r.size, 0);
        return should;
}

static bool accept_as(const char *path, uint32_t epoch, uint8_t round, const char *report_text) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(epoch, round);
        bool b = false;

        ck_assert_msg(sdloop_reporting_plugin_should_accept_finalized_report(peer, path, &ts, report_text,
                                                                             strlen(report_text), &b, &error) == 0,
                      "ShouldAcceptFinalizedReport: %s", error.message);
        return b;
}

static bool accept_report(uint32_t epoch, uint8_t round, const char *report_text) {
        return accept_as(plugin_path, epoch, round, report_text);
}

static bool transmit(uint32_t epoch, uint8_t round) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(epoch, round);
        const char *r = "report:250;count=4";
        bool b = false;

        ck_assert_msg(sdloop_reporting_plugin_should_transmit_accepted_report(peer, plugin_path, &ts, r, strlen(r), &b,
                                                                              &error) == 0,
                      "ShouldTransmitAcceptedReport: %s", error.message);
        return b;
}

/* --- tests -------------------------------------------------------------------------------------------- */

START_TEST(test_new_reporting_plugin) {
        /* libocr's ReportingPluginInfo for the median plugin. */
        ck_assert_str_eq(plugin_info.name, "NumericalMedian");
        ck_assert(!plugin_info.unique_reports);
        ck_assert_uint_eq(plugin_info.max_query_length, 0);
        ck_assert_uint_eq(plugin_info.max_observation_length, 4 + 3 * 24 + 16);
        ck_assert_uint_eq(plugin_info.max_report_length, MAX_REPORT_LEN);
        ck_assert_int_eq(codec.last_n, N_ORACLES);

        /* Every plugin object answers Ready. */
        ck_assert_int_eq(sdloop_peer_call_method(peer, plugin_path, "org.sdloop1.Service", "Ready", NULL, NULL, NULL),
                         0);
}
END_TEST

START_TEST(test_new_reporting_plugin_invalid) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopMedianOffchainConfig off = offchain_default();
        SdloopReportingPluginInfo info = {};
        char *path = NULL;

        /* The onchain config is the relayer's to decode: its refusal comes back. */
        ck_assert_int_lt(new_plugin(&off, "no comma", F, &path, &info, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "onchain_config"));
        sd_bus_error_free(&error);

        /* min above max (the codec's server side already refuses to send that). */
        ck_assert_int_lt(new_plugin(&off, "5,4", F, &path, &info, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "onchain_config"));
        ck_assert_ptr_nonnull(strstr(error.message, "greater than"));
        sd_bus_error_free(&error);

        /* n = 4 tolerates f = 1, not f = 2. */
        ck_assert_int_eq(new_plugin(&off, "5,6", 2, &path, &info, &error), -EINVAL);
        ck_assert_ptr_nonnull(strstr(error.message, "config.f"));
        sd_bus_error_free(&error);

        /* An offchain config that is not the protobuf message. */
        {
                SdloopReportingPluginConfig config = {
                        .n = N_ORACLES,
                        .f = F,
                        .onchain_config = { .data = (uint8_t *) "1,2", .size = 3 },
                        .offchain_config = { .data = (uint8_t *) "\xff\xff\xff", .size = 3 },
                };

                ck_assert_int_eq(sdloop_reporting_plugin_factory_new_reporting_plugin(peer, factory_path, &config,
                                                                                      &path, &info, &error),
                                 -EINVAL);
                ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT));
                ck_assert_ptr_nonnull(strstr(error.message, "config.offchain_config"));
                sd_bus_error_free(&error);
        }
        ck_assert_ptr_null(path);
}
END_TEST

START_TEST(test_query_observation) {
        _cleanup_(sdloop_bytes_done) SdloopBytes q = {}, obs = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(5, 6);
        char buf[SDLOOP_INT_DECIMAL_MAX];
        MedianObservation o;
        int64_t before = now_usec() / 1000000;

        ck_assert_int_eq(sdloop_reporting_plugin_query(peer, plugin_path, &ts, &q, &error), 0);
        ck_assert_uint_eq(q.size, 0);

        snprintf(value_source.value, sizeof(value_source.value), "-123456789012345678901234567890");
        ck_assert_int_eq(sdloop_reporting_plugin_observation(peer, plugin_path, &ts, NULL, 0, &obs, &error), 0);
        ck_assert_uint_le(obs.size, 4 + 3 * 24 + 16);
        ck_assert_int_eq(median_observation_decode(obs.data, obs.size, &o, NULL), 0);
        ck_assert_str_eq(sdloop_int_to_decimal(&o.value, buf), "-123456789012345678901234567890");
        ck_assert_str_eq(sdloop_int_to_decimal(&o.juels_per_fee_coin, buf), "7");
        ck_assert_int_ge((int64_t) o.timestamp, before);
        ck_assert_int_le((int64_t) o.timestamp, now_usec() / 1000000);

        /* Both data sources saw this round's timestamp. */
        ck_assert_uint_eq(value_source.last_ts.epoch, 5);
        ck_assert_uint_eq(juels_source.last_ts.round, 6);
        ck_assert_mem_eq(juels_source.last_ts.digest, digest_d, SDLOOP_DIGEST_SIZE);

        /* The median protocol has no query: a non-empty one is refused. */
        ck_assert_int_eq(sdloop_reporting_plugin_observation(peer, plugin_path, &ts, "q", 1, &q, &error), -EINVAL);
        ck_assert_ptr_nonnull(strstr(error.message, "query"));
        sd_bus_error_free(&error);
        ck_assert_uint_eq(n_saved_errors, 0);
}
END_TEST

START_TEST(test_observation_data_source_failure) {
        _cleanup_(sdloop_bytes_done) SdloopBytes obs = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(1, 1);

        /* The caller gets an error, and the host's ErrorLog hears of it. */
        value_source.fail = true;
        ck_assert_int_lt(sdloop_reporting_plugin_observation(peer, plugin_path, &ts, NULL, 0, &obs, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "DataSource.Observe returned an error"));
        ck_assert_ptr_nonnull(strstr(error.message, "price feed unreachable"));
        sd_bus_error_free(&error);
        ck_assert_uint_eq(n_saved_errors, 1);
        ck_assert_ptr_nonnull(strstr(saved_errors[0], "DataSource.Observe returned an error"));
        ck_assert_ptr_nonnull(strstr(saved_errors[0], "price feed unreachable"));
        /* The juels source is asked all the same, as libocr asks both. */
        ck_assert_uint_eq(juels_source.n_calls, 1);

        /* Both failing: both reported. */
        juels_source.fail = true;
        ck_assert_int_lt(sdloop_reporting_plugin_observation(peer, plugin_path, &ts, NULL, 0, &obs, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "JuelsPerFeeCoinDataSource.Observe"));
        sd_bus_error_free(&error);
        ck_assert_uint_eq(n_saved_errors, 3);

        /* A value that does not fit the observation's int192 is a failure too. */
        value_source.fail = juels_source.fail = false;
        snprintf(value_source.value, sizeof(value_source.value), "%s",
                 "3138550867693340381917894711603833208051177722232017256448");
        ck_assert_int_lt(sdloop_reporting_plugin_observation(peer, plugin_path, &ts, NULL, 0, &obs, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "192-bit"));
        sd_bus_error_free(&error);
        ck_assert_uint_eq(n_saved_errors, 4);
}
END_TEST

START_TEST(test_report_initial_round) {
        _cleanup_(observations_done) Observations o = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes r = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool should = false;

        /* The contract holds our digest at (0, 0): the first round of this config reports. */
        observations_four(&o);
        ck_assert_int_eq(report(&o, TS(1, 1), &should, &r, &error), 0);
        ck_assert(should);
        ck_assert_uint_eq(r.size, strlen("report:250;count=4"));
        ck_assert_mem_eq(r.data, "report:250;count=4", r.size);

        /* BuildReport got every observation, sorted by value, attributed to its observer. */
        ck_assert_uint_eq(codec.n_obs, 4);
        ck_assert_str_eq(codec.obs[0].value, "100");
        ck_assert_uint_eq(codec.obs[0].observer, 1);
        ck_assert_str_eq(codec.obs[1].value, "200");
        ck_assert_uint_eq(codec.obs[1].observer, 3);
        ck_assert_str_eq(codec.obs[2].value, "250");
        ck_assert_uint_eq(codec.obs[2].observer, 2);
        ck_assert_str_eq(codec.obs[3].value, "300");
        ck_assert_uint_eq(codec.obs[3].observer, 0);
        for (size_t i = 0; i < 4; i++)
                ck_assert_str_eq(codec.obs[i].juels_per_fee_coin, "7");

        /* LatestRoundRequested looked back deltaC. */
        ck_assert_uint_eq(contract.last_lookback_usec, (uint64_t) DELTA_C_SEC * USEC_PER_SEC);
}
END_TEST

START_TEST(test_report_decisions) {
        _cleanup_(observations_done) Observations o = {};

        observations_four(&o);

        /* On-chain 250, fresh: nothing to report. */
        contract_set(digest_d, 1, 1, "250", now_usec());
        ck_assert(!report_ok(&o));
        /* 250 vs 247: 1.2 % ≥ 1 %. 250 vs 248: 0.8 %. */
        contract_set(digest_d, 1, 1, "247", now_usec());
        ck_assert(report_ok(&o));
        contract_set(digest_d, 1, 1, "248", now_usec());
        ck_assert(!report_ok(&o));
        /* Negative on-chain answer: any positive median is far away. */
        contract_set(digest_d, 1, 1, "-250", now_usec());
        ck_assert(report_ok(&o));
        /* Heartbeat: the latest report is older than deltaC. */
        contract_set(digest_d, 1, 1, "250", now_usec() - (DELTA_C_SEC + 1) * (int64_t) USEC_PER_SEC);
        ck_assert(report_ok(&o));
        /* The contract moved to another config: the usual rules, no first-round report. */
        contract_set(digest_other, 0, 0, "250", now_usec());
        ck_assert(!report_ok(&o));
        /* A round requested on chain for our config. */
        contract_set(digest_d, 1, 1, "250", now_usec());
        memcpy(contract.requested_digest, digest_d, SDLOOP_DIGEST_SIZE);
        contract.requested_epoch = 1;
        contract.requested_round = 1;
        ck_assert(report_ok(&o));
        contract.requested_round = 0;
        ck_assert(!report_ok(&o));
}
END_TEST

START_TEST(test_report_out_of_range) {
        _cleanup_(observations_done) Observations o = {};

        /* A median outside the contract's [min, max] is never reported, not even in the first round. */
        observations_add(&o, "2000000", 0);
        observations_add(&o, "1000001", 1);
        observations_add(&o, "5", 2);
        ck_assert(!report_ok(&o));

        /* One outlier beyond max does not matter: the median is inside. */
        observations_done(&o);
        observations_add(&o, "2000000", 0);
        observations_add(&o, "1000000", 1);
        observations_add(&o, "5", 2);
        ck_assert(report_ok(&o));
        ck_assert_str_eq(codec.obs[1].value, "1000000");
}
END_TEST

START_TEST(test_report_observation_count) {
        _cleanup_(observations_done) Observations o = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes r = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool should = false;

        /* f = 1 valid observation plus garbage, a duplicate and a stranger: fewer than f+1 → error. */
        observations_add(&o, "100", 0);
        observations_add_raw(&o, "\xff\xff not protobuf", 1);
        observations_add(&o, "101", 0);   /* observer 0 again */
        observations_add(&o, "102", 9);   /* not one of the 4 oracles */
        ck_assert_int_eq(report(&o, TS(1, 1), &should, &r, &error), -EINVAL);
        ck_assert_ptr_nonnull(strstr(error.message, "only received 1 valid attributed observations"));
        ck_assert_uint_eq(codec.n_build, 0);
        sd_bus_error_free(&error);

        /* f+1 = 2 valid ones are enough; only they reach BuildReport, the first of observer 0 counting. */
        observations_add(&o, "300", 3);
        ck_assert_int_eq(report(&o, TS(1, 1), &should, &r, &error), 0);
        ck_assert(should);
        ck_assert_uint_eq(codec.n_obs, 2);
        ck_assert_str_eq(codec.obs[0].value, "100");
        ck_assert_uint_eq(codec.obs[0].observer, 0);
        ck_assert_str_eq(codec.obs[1].value, "300");
        ck_assert_uint_eq(codec.obs[1].observer, 3);

        /* A query is refused here too. */
        sdloop_bytes_done(&r);
        ck_assert_int_eq(sdloop_reporting_plugin_report(peer, plugin_path, &(SdloopReportTimestamp) {}, "q", 1, o.a,
                                                        o.n, &should, &r, &error), -EINVAL);
        sd_bus_error_free(&error);
}
END_TEST

START_TEST(test_report_failures) {
        _cleanup_(observations_done) Observations o = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes r = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool should = false;

        observations_four(&o);

        /* The contract cannot be read: an error, not a decision. */
        contract.fail = true;
        ck_assert_int_lt(report(&o, TS(1, 1), &should, &r, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "LatestTransmissionDetails"));
        ck_assert_ptr_nonnull(strstr(error.message, "RPC node down"));
        sd_bus_error_free(&error);
        contract.fail = false;

        /* A report longer than ReportCodec's own MaxReportLength is refused. */
        codec.oversize = true;
        ck_assert_int_lt(report(&o, TS(1, 1), &should, &r, &error), 0);
        ck_assert_ptr_nonnull(strstr(error.message, "MaxReportLength"));
        sd_bus_error_free(&error);
}
END_TEST

START_TEST(test_should_accept) {
        /* The contract is at (1, 0) of our config. Nothing accepted yet: 250 deviates from 0. */
        contract_set(digest_d, 1, 0, "240", now_usec());
        ck_assert(accept_report(1, 1, "report:250;count=4"));
        /* Stale: not newer than the latest accepted. */
        ck_assert(!accept_report(1, 1, "report:250;count=4"));
        ck_assert(!accept_report(0, 9, "report:999;count=4"));

        /* (1, 1) is pending: 251 is within 1 % of it, 260 is not. */
        ck_assert(!accept_report(1, 2, "report:251;count=4"));
        ck_assert(accept_report(1, 2, "report:260;count=4"));

        /* The contract caught up with (1, 2): nothing pending, the same value goes. */
        contract_set(digest_d, 1, 2, "260", now_usec());
        ck_assert(accept_report(1, 3, "report:260;count=4"));

        /* The contract moved to another config. */
        contract_set(digest_other, 1, 3, "260", now_usec());
        ck_assert(!accept_report(1, 4, "report:999;count=4"));

        /* The contract is ahead of the report. */
        contract_set(digest_d, 2, 0, "260", now_usec());
        ck_assert(!accept_report(1, 5, "report:999;count=4"));

        /* Longer than MaxReportLength: refused before it is even decoded. */
        {
                char big[MAX_REPORT_LEN + 2];
                unsigned n = codec.n_median;

                memset(big, 'x', sizeof(big) - 1);
                big[sizeof(big) - 1] = '\0';
                ck_assert(!accept_report(2, 1, big));
                ck_assert_uint_eq(codec.n_median, n);
        }

        /* A report the codec cannot read is an error. */
        {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                SdloopReportTimestamp ts = TS(2, 1);
                bool b;

                ck_assert_int_lt(sdloop_reporting_plugin_should_accept_finalized_report(peer, plugin_path, &ts,
                                                                                        "junk", 4, &b, &error), 0);
                ck_assert_ptr_nonnull(strstr(error.message, "MedianFromReport"));
                sd_bus_error_free(&error);

                contract.fail = true;
                ck_assert_int_lt(sdloop_reporting_plugin_should_accept_finalized_report(peer, plugin_path, &ts,
                                                                                        "junk", 4, &b, &error), 0);
                sd_bus_error_free(&error);
        }
}
END_TEST

START_TEST(test_should_accept_infinite) {
        SdloopMedianOffchainConfig off = offchain_default();
        SdloopReportingPluginInfo info = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;

        off.alpha_accept_infinite = true;
        ck_assert_int_eq(new_plugin(&off, "-1000,1000", F, &path, &info, &error), 0);
        sdloop_reporting_plugin_info_done(&info);

        /* Nothing pending (the contract is past our (0, 0)): accepted. */
        contract_set(digest_d, 1, 0, "250", now_usec());
        ck_assert(accept_as(path, 1, 1, "report:250;count=4"));
        /* (1, 1) pending: no deviation counts, however large. */
        ck_assert(!accept_as(path, 1, 2, "report:999;count=4"));
        contract_set(digest_d, 1, 1, "250", now_usec());
        ck_assert(accept_as(path, 1, 2, "report:999;count=4"));
}
END_TEST

START_TEST(test_should_transmit) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(1, 3);
        bool b;

        contract_set(digest_d, 1, 2, "250", now_usec());
        ck_assert(transmit(1, 3));
        ck_assert(transmit(2, 0));
        ck_assert(!transmit(1, 2));
        ck_assert(!transmit(1, 1));
        ck_assert(!transmit(0, 200));

        contract_set(digest_other, 1, 2, "250", now_usec());
        ck_assert(!transmit(1, 3));

        contract.fail = true;
        ck_assert_int_lt(sdloop_reporting_plugin_should_transmit_accepted_report(peer, plugin_path, &ts, "r", 1, &b,
                                                                                 &error), 0);
        sd_bus_error_free(&error);
}
END_TEST

START_TEST(test_close) {
        _cleanup_(sdloop_bytes_done) SdloopBytes q = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopReportTimestamp ts = TS(1, 1);
        SdloopReportingPluginInfo info = {};
        SdloopMedianOffchainConfig off = offchain_default();
        _cleanup_free_ char *second = NULL;

        ck_assert_int_eq(sdloop_reporting_plugin_close(peer, plugin_path, &error), 0);
        ck_assert_int_lt(sdloop_reporting_plugin_query(peer, plugin_path, &ts, &q, &error), 0);
        sd_bus_error_free(&error);

        /* Closing the factory takes its reporting plugins along. */
        ck_assert_int_eq(new_plugin(&off, "1,2", F, &second, &info, &error), 0);
        sdloop_reporting_plugin_info_done(&info);
        ck_assert_int_eq(sdloop_reporting_plugin_query(peer, second, &ts, &q, &error), 0);
        ck_assert_int_eq(sdloop_peer_call_method(peer, factory_path, "org.sdloop1.Service", "Close", NULL, &error,
                                                 NULL), 0);
        ck_assert_int_lt(sdloop_reporting_plugin_query(peer, second, &ts, &q, &error), 0);
        sd_bus_error_free(&error);
}
END_TEST

static Suite *median_plugin_suite(void) {
        Suite *s = suite_create("median-plugin");
        TCase *tc;

        tc = tcase_create("plugin");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_new_reporting_plugin);
        tcase_add_test(tc, test_new_reporting_plugin_invalid);
        tcase_add_test(tc, test_query_observation);
        tcase_add_test(tc, test_observation_data_source_failure);
        tcase_add_test(tc, test_report_initial_round);
        tcase_add_test(tc, test_report_decisions);
        tcase_add_test(tc, test_report_out_of_range);
        tcase_add_test(tc, test_report_observation_count);
        tcase_add_test(tc, test_report_failures);
        tcase_add_test(tc, test_should_accept);
        tcase_add_test(tc, test_should_accept_infinite);
        tcase_add_test(tc, test_should_transmit);
        tcase_add_test(tc, test_close);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(median_plugin_suite());
        int n_failed;

        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
