/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* PluginMedian, ReportingPluginFactory and ReportingPlugin across a real p2p D-Bus connection: a socketpair
 * with a server peer (the median plugin's objects) and a client peer (the host's calls) on one sd-event loop.
 * The client calls pump the loop, so both ends run in this one process. */

#include <check.h>
#include <sys/socket.h>

#include "macro.h"
#include "test-util.h"
#include "sdloop.h"

#define PROVIDER_PATH    "/org/sdloop1/host/provider/7"
#define DATA_SOURCE_PATH "/org/sdloop1/host/data_source/1"
#define JUELS_PATH       "/org/sdloop1/host/data_source/2"
#define ERROR_LOG_PATH   "/org/sdloop1/host/error_log/1"
#define OTHER_ROOT_PATH  "/org/sdloop1/test/other_root"
#define RAW_PATH         "/org/sdloop1/test/raw"

#define QUERY_SIZE       43U
#define OBSERVATION_SIZE 22U
#define REPORT_SIZE      43U

/* --- fixtures (after LOOP's static test values) ------------------------------------------------------ */

static const uint8_t digest_fixture[SDLOOP_DIGEST_SIZE] = { [2] = 10, [12] = 16 };

static SdloopReportTimestamp ts_fixture(void) {
        SdloopReportTimestamp ts = { .epoch = 88, .round = 74 };

        memcpy(ts.digest, digest_fixture, sizeof(ts.digest));
        return ts;
}

static SdloopReportingPluginConfig config_fixture(void) {
        static const uint8_t onchain[32] = { [0] = 1, [31] = 2 };
        static const uint8_t offchain[13] = { [12] = 3 };
        SdloopReportingPluginConfig c = {
                .oracle_id = 10,
                .n = 12,
                .f = 3,
                .onchain_config = { .data = (uint8_t *) onchain, .size = sizeof(onchain) },
                .offchain_config = { .data = (uint8_t *) offchain, .size = sizeof(offchain) },
                .estimated_round_interval_usec = 1 * USEC_PER_SEC,
                .max_duration_query_usec = 3600 * USEC_PER_SEC,
                .max_duration_observation_usec = 1 * USEC_PER_MSEC,
                .max_duration_report_usec = 1,
                .max_duration_should_accept_usec = 10 * USEC_PER_SEC,
                .max_duration_should_transmit_usec = 60 * USEC_PER_SEC,
        };

        memcpy(c.digest, digest_fixture, sizeof(c.digest));
        return c;
}

static void fill(uint8_t *p, size_t n, uint8_t seed) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (seed + i);
}

static uint8_t query_fixture[QUERY_SIZE], observation_fixture[OBSERVATION_SIZE], report_fixture[REPORT_SIZE];

static void fixtures_init(void) {
        fill(query_fixture, sizeof(query_fixture), 1);
        fill(observation_fixture, sizeof(observation_fixture), 50);
        fill(report_fixture, sizeof(report_fixture), 100);
        report_fixture[42] = 101;
}

/* --- what the implementations saw and what they are told to do ------------------------------------- */

typedef enum InfoMode {
        INFO_GOOD,
        INFO_EMPTY_NAME,
        INFO_NO_OBJECT,
} InfoMode;

static struct {
        unsigned n_new_factory;
        char *deps[4];
        SdloopObject *factory_parent;
        unsigned n_new_plugin;
        InfoMode info_mode;
        unsigned n_plugins_closed;
        unsigned n_factories_closed;
        size_t n_observations;
} seen;

static sd_event *event;
static SdloopPeer *server, *client;
static SdloopObject *root;

static void seen_reset(void) {
        for (size_t i = 0; i < ELEMENTSOF(seen.deps); i++)
                free(seen.deps[i]);
        memset(&seen, 0, sizeof(seen));
}

static bool ts_is_fixture(const SdloopReportTimestamp *ts) {
        SdloopReportTimestamp f = ts_fixture();

        return memcmp(ts->digest, f.digest, sizeof(f.digest)) == 0 && ts->epoch == f.epoch && ts->round == f.round;
}

static bool bytes_eq(const SdloopBytes *b, const void *data, size_t size) {
        return b->size == size && (size == 0 || memcmp(b->data, data, size) == 0);
}

static int copy_out(SdloopBytes *ret, const void *data, size_t size) {
        return sdloop_bytes_copy(ret, data, size);
}

/* --- ReportingPlugin --------------------------------------------------------------------------------- */

static int rp_query(void *userdata, const SdloopReportTimestamp *ts, SdloopBytes *ret_query, sd_bus_error *error) {
        if (!ts_is_fixture(ts))
                return sdloop_error_invalid(error, "report_timestamp", "not the fixture");
        return copy_out(ret_query, query_fixture, sizeof(query_fixture));
}

static int rp_observation(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                          SdloopBytes *ret_observation, sd_bus_error *error) {
        if (!ts_is_fixture(ts))
                return sdloop_error_invalid(error, "report_timestamp", "not the fixture");
        if (!bytes_eq(query, query_fixture, sizeof(query_fixture)))
                return sdloop_error_invalid(error, "query", "not the fixture");
        return copy_out(ret_observation, observation_fixture, sizeof(observation_fixture));
}

static int rp_report(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                     const SdloopAttributed *observations, size_t n_observations, bool *ret_should_report,
                     SdloopBytes *ret_report, sd_bus_error *error) {
        seen.n_observations = n_observations;

        if (!ts_is_fixture(ts))
                return sdloop_error_invalid(error, "report_timestamp", "not the fixture");
        if (!bytes_eq(query, query_fixture, sizeof(query_fixture)))
                return sdloop_error_invalid(error, "query", "not the fixture");
        for (size_t i = 0; i < n_observations; i++)
                if (!bytes_eq(&observations[i].data, observation_fixture, sizeof(observation_fixture)) ||
                    observations[i].oracle != (uint8_t) (99 + i))
                        return sdloop_error_invalid(error, "observations", "element %zu is not the fixture", i);

        /* No observations, nothing to report: the empty report must travel too. */
        *ret_should_report = n_observations > 0;
        if (n_observations == 0)
                return 0;
        return copy_out(ret_report, report_fixture, sizeof(report_fixture));
}

static int rp_should_accept(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *report, bool *ret,
                            sd_bus_error *error) {
        if (!ts_is_fixture(ts))
                return sdloop_error_invalid(error, "report_timestamp", "not the fixture");
        /* Accept the fixture, refuse anything else: both answers cross the wire. */
        *ret = bytes_eq(report, report_fixture, sizeof(report_fixture));
        return 0;
}

static int rp_should_transmit(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *report,
                              bool *ret, sd_bus_error *error) {
        if (!ts_is_fixture(ts))
                return sdloop_error_invalid(error, "report_timestamp", "not the fixture");
        if (report->size == 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "refusing to judge an empty report");
        *ret = !bytes_eq(report, report_fixture, sizeof(report_fixture));
        return 0;
}

static const SdloopReportingPluginOps rp_ops = {
        .query = rp_query,
        .observation = rp_observation,
        .report = rp_report,
        .should_accept_finalized_report = rp_should_accept,
        .should_transmit_accepted_report = rp_should_transmit,
};

/* Only Query: the rest must come back as Unimplemented. */
static const SdloopReportingPluginOps rp_ops_partial = {
        .query = rp_query,
};

static void rp_close(void *userdata) {
        seen.n_plugins_closed++;
}

static const SdloopObjectOps rp_object_ops = {
        .close = rp_close,
};

/* --- ReportingPluginFactory -------------------------------------------------------------------------- */

static int factory_new_reporting_plugin(void *userdata, SdloopObject *factory, const SdloopReportingPluginConfig *config,
                                        SdloopObject **ret, SdloopReportingPluginInfo *ret_info, sd_bus_error *error) {
        SdloopReportingPluginConfig f = config_fixture();
        const SdloopReportingPluginOps *ops = userdata ?: &rp_ops;
        SdloopObject *o;
        int r;

        seen.n_new_plugin++;

        if (memcmp(config->digest, f.digest, sizeof(f.digest)) != 0 || config->oracle_id != f.oracle_id ||
            config->n != f.n || config->f != f.f ||
            !bytes_eq(&config->onchain_config, f.onchain_config.data, f.onchain_config.size) ||
            !bytes_eq(&config->offchain_config, f.offchain_config.data, f.offchain_config.size) ||
            config->estimated_round_interval_usec != f.estimated_round_interval_usec ||
            config->max_duration_query_usec != f.max_duration_query_usec ||
            config->max_duration_observation_usec != f.max_duration_observation_usec ||
            config->max_duration_report_usec != f.max_duration_report_usec ||
            config->max_duration_should_accept_usec != f.max_duration_should_accept_usec ||
            config->max_duration_should_transmit_usec != f.max_duration_should_transmit_usec)
                return sdloop_error_invalid(error, "config", "not the fixture");

        if (seen.info_mode == INFO_NO_OBJECT) {
                ret_info->name = test_strdup("test");
                return 0;
        }

        r = sdloop_object_new(sdloop_object_get_peer(factory), factory, "reporting_plugin", &rp_object_ops, NULL, &o);
        if (r < 0)
                return r;
        r = sdloop_reporting_plugin_export(o, ops, NULL);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }

        *ret = o;
        *ret_info = (SdloopReportingPluginInfo) {
                .name = test_strdup(seen.info_mode == INFO_EMPTY_NAME ? "" : "test"),
                .unique_reports = true,
                .max_query_length = 42,
                .max_observation_length = 13,
                .max_report_length = 17,
        };
        return 0;
}

static const SdloopReportingPluginFactoryOps factory_ops = {
        .new_reporting_plugin = factory_new_reporting_plugin,
};

static void factory_close(void *userdata) {
        seen.n_factories_closed++;
}

static const SdloopObjectOps factory_object_ops = {
        .name = "median-factory",
        .close = factory_close,
};

/* --- PluginMedian ------------------------------------------------------------------------------------ */

static int median_new_median_factory(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                     SdloopObject **ret, sd_bus_error *error) {
        SdloopObject *o;
        int r;

        seen.n_new_factory++;
        seen.factory_parent = parent;
        seen.deps[0] = test_strdup(deps->provider);
        seen.deps[1] = test_strdup(deps->data_source);
        seen.deps[2] = test_strdup(deps->juels_data_source);
        seen.deps[3] = test_strdup(deps->error_log);

        r = sdloop_object_new(sdloop_object_get_peer(parent), parent, "factory", &factory_object_ops, NULL, &o);
        if (r < 0)
                return r;
        /* userdata: the ReportingPlugin ops its plugins get (NULL: all of them). */
        r = sdloop_reporting_plugin_factory_export(o, &factory_ops, userdata);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }

        *ret = o;
        return 0;
}

static const SdloopPluginMedianOps median_ops = {
        .new_median_factory = median_new_median_factory,
};

/* --- setup ------------------------------------------------------------------------------------------- */

static void pair_setup(void) {
        int fds[2];

        fixtures_init();
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_ge(sdloop_peer_new_server(event, fds[0], &server), 0);
        ck_assert_int_ge(sdloop_peer_new_client(event, fds[1], &client), 0);
        ck_assert_int_ge(sdloop_peer_set_description(server, "median"), 0);
        ck_assert_int_ge(sdloop_peer_set_description(client, "host"), 0);

        ck_assert_int_ge(sdloop_object_new_at(server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_ge(sdloop_plugin_median_export(root, &median_ops, NULL), 0);
}

static void pair_teardown(void) {
        client = sdloop_peer_unref(client);
        server = sdloop_peer_unref(server);
        event = sd_event_unref(event);
        root = NULL;
        seen_reset();
}

static const SdloopMedianDeps deps_fixture = {
        .provider = PROVIDER_PATH,
        .data_source = DATA_SOURCE_PATH,
        .juels_data_source = JUELS_PATH,
        .error_log = ERROR_LOG_PATH,
};

static char *new_factory(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char *factory = NULL;
        int r;

        r = sdloop_plugin_median_new_median_factory(client, &deps_fixture, &factory, &error);
        ck_assert_msg(r >= 0, "NewMedianFactory: %s: %s", strempty(error.name), strempty(error.message));
        ck_assert_ptr_nonnull(factory);
        return factory;
}

static char *new_plugin(const char *factory, SdloopReportingPluginInfo *ret_info) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        SdloopReportingPluginConfig config = config_fixture();
        char *plugin = NULL;
        int r;

        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, factory, &config, &plugin, &info, &error);
        ck_assert_msg(r >= 0, "NewReportingPlugin: %s: %s", strempty(error.name), strempty(error.message));
        ck_assert_ptr_nonnull(plugin);
        if (ret_info) {
                *ret_info = info;
                info = (SdloopReportingPluginInfo) {};
        }
        return plugin;
}

/* --- tests ------------------------------------------------------------------------------------------- */

START_TEST(test_median_round_trip) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, observation = {}, report = {};
        _cleanup_free_ char *factory = NULL, *plugin = NULL;
        SdloopReportTimestamp ts = ts_fixture();
        SdloopAttributed obs[3];
        bool b;
        int r;

        factory = new_factory();
        ck_assert(test_startswith(factory, SDLOOP_ROOT_PATH "/factory/"));
        ck_assert_uint_eq(seen.n_new_factory, 1);
        ck_assert_ptr_eq(seen.factory_parent, root);
        ck_assert_str_eq(seen.deps[0], PROVIDER_PATH);
        ck_assert_str_eq(seen.deps[1], DATA_SOURCE_PATH);
        ck_assert_str_eq(seen.deps[2], JUELS_PATH);
        ck_assert_str_eq(seen.deps[3], ERROR_LOG_PATH);
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, factory));

        plugin = new_plugin(factory, &info);
        ck_assert(test_startswith(plugin, SDLOOP_ROOT_PATH "/reporting_plugin/"));
        ck_assert_ptr_eq(sdloop_object_get_parent(sdloop_peer_find_object(server, plugin)),
                         sdloop_peer_find_object(server, factory));
        ck_assert_str_eq(info.name, "test");
        ck_assert(info.unique_reports);
        ck_assert_uint_eq(info.max_query_length, 42);
        ck_assert_uint_eq(info.max_observation_length, 13);
        ck_assert_uint_eq(info.max_report_length, 17);

        r = sdloop_reporting_plugin_query(client, plugin, &ts, &query, &error);
        ck_assert_msg(r >= 0, "Query: %s", strempty(error.message));
        ck_assert(bytes_eq(&query, query_fixture, sizeof(query_fixture)));

        r = sdloop_reporting_plugin_observation(client, plugin, &ts, query.data, query.size, &observation, &error);
        ck_assert_msg(r >= 0, "Observation: %s", strempty(error.message));
        ck_assert(bytes_eq(&observation, observation_fixture, sizeof(observation_fixture)));

        for (size_t i = 0; i < ELEMENTSOF(obs); i++)
                obs[i] = (SdloopAttributed) {
                        .data = { .data = observation_fixture, .size = sizeof(observation_fixture) },
                        .oracle = (uint8_t) (99 + i),
                };
        r = sdloop_reporting_plugin_report(client, plugin, &ts, query.data, query.size, obs, ELEMENTSOF(obs), &b,
                                           &report, &error);
        ck_assert_msg(r >= 0, "Report: %s", strempty(error.message));
        ck_assert(b);
        ck_assert_uint_eq(seen.n_observations, ELEMENTSOF(obs));
        ck_assert(bytes_eq(&report, report_fixture, sizeof(report_fixture)));

        /* No observations: should_report false and an empty report. */
        sdloop_bytes_done(&report);
        b = true;
        r = sdloop_reporting_plugin_report(client, plugin, &ts, query.data, query.size, NULL, 0, &b, &report, &error);
        ck_assert_msg(r >= 0, "Report: %s", strempty(error.message));
        ck_assert(!b);
        ck_assert_uint_eq(report.size, 0);
        ck_assert_uint_eq(seen.n_observations, 0);

        b = false;
        r = sdloop_reporting_plugin_should_accept_finalized_report(client, plugin, &ts, report_fixture,
                                                                   sizeof(report_fixture), &b, &error);
        ck_assert_int_ge(r, 0);
        ck_assert(b);
        r = sdloop_reporting_plugin_should_accept_finalized_report(client, plugin, &ts, query_fixture,
                                                                   sizeof(query_fixture), &b, &error);
        ck_assert_int_ge(r, 0);
        ck_assert(!b);

        b = true;
        r = sdloop_reporting_plugin_should_transmit_accepted_report(client, plugin, &ts, report_fixture,
                                                                    sizeof(report_fixture), &b, &error);
        ck_assert_int_ge(r, 0);
        ck_assert(!b);
        r = sdloop_reporting_plugin_should_transmit_accepted_report(client, plugin, &ts, query_fixture,
                                                                    sizeof(query_fixture), &b, &error);
        ck_assert_int_ge(r, 0);
        ck_assert(b);

        /* An implementation's error keeps its name and message. */
        r = sdloop_reporting_plugin_should_transmit_accepted_report(client, plugin, &ts, NULL, 0, &b, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, "refusing to judge an empty report");
        ts.epoch++;
        r = sdloop_reporting_plugin_query(client, plugin, &ts, &query, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "report_timestamp: not the fixture");
        ck_assert(bytes_eq(&query, query_fixture, sizeof(query_fixture))); /* untouched on failure */
}
END_TEST

START_TEST(test_reporting_plugin_close) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {};
        _cleanup_free_ char *factory = NULL, *plugin = NULL;
        SdloopReportTimestamp ts = ts_fixture();
        int r;

        factory = new_factory();
        plugin = new_plugin(factory, NULL);
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, plugin));

        r = sdloop_reporting_plugin_close(client, plugin, &error);
        ck_assert_msg(r >= 0, "Close: %s", strempty(error.message));
        ck_assert_uint_eq(seen.n_plugins_closed, 1);
        ck_assert_ptr_null(sdloop_peer_find_object(server, plugin));
        /* The factory lives on. */
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, factory));
        ck_assert_uint_eq(seen.n_factories_closed, 0);

        /* The path is gone from the bus. */
        r = sdloop_reporting_plugin_query(client, plugin, &ts, &query, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);
        r = sdloop_reporting_plugin_close(client, plugin, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);
        ck_assert_uint_eq(seen.n_plugins_closed, 1);

        /* A new plugin from the same factory still works. */
        free(plugin);
        plugin = new_plugin(factory, NULL);
        r = sdloop_reporting_plugin_query(client, plugin, &ts, &query, &error);
        ck_assert_int_ge(r, 0);
}
END_TEST

START_TEST(test_factory_close_closes_plugins) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {};
        _cleanup_free_ char *factory = NULL, *p1 = NULL, *p2 = NULL;
        SdloopReportTimestamp ts = ts_fixture();
        int r;

        factory = new_factory();
        p1 = new_plugin(factory, NULL);
        p2 = new_plugin(factory, NULL);
        ck_assert_str_ne(p1, p2);

        r = sdloop_peer_call_method(client, factory, "org.sdloop1.Service", "Close", NULL, &error, NULL);
        ck_assert_msg(r >= 0, "Close: %s", strempty(error.message));
        ck_assert_uint_eq(seen.n_factories_closed, 1);
        ck_assert_uint_eq(seen.n_plugins_closed, 2);
        ck_assert_ptr_null(sdloop_peer_find_object(server, factory));
        ck_assert_ptr_null(sdloop_peer_find_object(server, p1));
        ck_assert_ptr_null(sdloop_peer_find_object(server, p2));
        /* The root stays. */
        ck_assert_ptr_eq(sdloop_peer_find_object(server, SDLOOP_ROOT_PATH), root);

        r = sdloop_reporting_plugin_query(client, p1, &ts, &query, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);
        r = sdloop_reporting_plugin_query(client, p2, &ts, &query, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);
}
END_TEST

START_TEST(test_bad_config) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_free_ char *factory = NULL;
        SdloopReportingPluginConfig config = config_fixture();
        char *plugin = NULL;
        int r;

        factory = new_factory();

        /* A 31-byte digest cannot be written with the codec: build the message by hand. */
        ck_assert_int_ge(sdloop_peer_new_call(client, factory, "org.sdloop1.ReportingPluginFactory",
                                              "NewReportingPlugin", &m), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "ayyuuayaytttttt"), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', digest_fixture, SDLOOP_DIGEST_SIZE - 1), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "yuu", config.oracle_id, config.n, config.f), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', config.onchain_config.data, config.onchain_config.size), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', config.offchain_config.data,
                                                     config.offchain_config.size), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "tttttt", (uint64_t) 1, (uint64_t) 2, (uint64_t) 3, (uint64_t) 4,
                                               (uint64_t) 5, (uint64_t) 6), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        r = sdloop_peer_call(client, m, 0, NULL, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "config.digest");

        /* Oracle ids index the n oracles. */
        config.oracle_id = (uint8_t) config.n;
        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, factory, &config, &plugin, &info, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "config.oracle_id");
        ck_assert_ptr_null(plugin);
        ck_assert_ptr_null(info.name);

        config = config_fixture();
        config.f = config.n;
        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, factory, &config, &plugin, &info, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "config.f");

        /* The implementation never saw any of them. */
        ck_assert_uint_eq(seen.n_new_plugin, 0);
}
END_TEST

START_TEST(test_bad_deps) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopMedianDeps deps = deps_fixture;
        char *factory = NULL;
        int r;

        /* The client says which path is wrong before anything is sent. */
        deps.data_source = "org/sdloop1/host/data_source/1";
        r = sdloop_plugin_median_new_median_factory(client, &deps, &factory, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "data_source");
        deps = deps_fixture;
        deps.error_log = "/org/sdloop1/host/error_log/";
        r = sdloop_plugin_median_new_median_factory(client, &deps, &factory, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "error_log");
        deps = deps_fixture;
        deps.provider = NULL;
        r = sdloop_plugin_median_new_median_factory(client, &deps, &factory, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "provider");
        ck_assert_ptr_null(factory);

        /* Strings where paths belong never reach the implementation. */
        r = sdloop_peer_call_method(client, SDLOOP_ROOT_PATH, "org.sdloop1.PluginMedian", "NewMedianFactory", NULL,
                                    &error, "ssss", "not a path", DATA_SOURCE_PATH, JUELS_PATH, ERROR_LOG_PATH);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT,
                          "arguments: org.sdloop1.PluginMedian.NewMedianFactory() takes 'oooo', got 'ssss'");
        r = sdloop_peer_call_method(client, SDLOOP_ROOT_PATH, "org.sdloop1.PluginMedian", "NewMedianFactory", NULL,
                                    &error, "ooo", PROVIDER_PATH, DATA_SOURCE_PATH, JUELS_PATH);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT,
                          "arguments: org.sdloop1.PluginMedian.NewMedianFactory() takes 'oooo', got 'ooo'");

        ck_assert_uint_eq(seen.n_new_factory, 0);
}
END_TEST

START_TEST(test_observations_bound) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        _cleanup_free_ char *factory = NULL, *plugin = NULL;
        _cleanup_free_ SdloopAttributed *obs = NULL;
        SdloopReportTimestamp ts = ts_fixture();
        bool b = false;
        int r;

        factory = new_factory();
        plugin = new_plugin(factory, NULL);

        /* One per oracle: libocr's 31 at most. */
        obs = new0(SdloopAttributed, SDLOOP_ORACLES_MAX + 1);
        ck_assert_ptr_nonnull(obs);
        for (size_t i = 0; i < SDLOOP_ORACLES_MAX + 1; i++)
                obs[i] = (SdloopAttributed) {
                        .data = { .data = observation_fixture, .size = sizeof(observation_fixture) },
                        .oracle = (uint8_t) (99 + i),
                };

        r = sdloop_reporting_plugin_report(client, plugin, &ts, query_fixture, sizeof(query_fixture), obs,
                                           SDLOOP_ORACLES_MAX + 1, &b, &report, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "observations");
        ck_assert_uint_eq(seen.n_observations, 0);

        r = sdloop_reporting_plugin_report(client, plugin, &ts, query_fixture, sizeof(query_fixture), obs,
                                           SDLOOP_ORACLES_MAX, &b, &report, &error);
        ck_assert_msg(r >= 0, "Report: %s", strempty(error.message));
        ck_assert_uint_eq(seen.n_observations, SDLOOP_ORACLES_MAX);
        ck_assert(b);
}
END_TEST

START_TEST(test_unimplemented) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, observation = {}, report = {};
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        static const SdloopPluginMedianOps no_median_ops = {};
        static const SdloopReportingPluginFactoryOps no_factory_ops = {};
        SdloopReportingPluginConfig config = config_fixture();
        SdloopReportTimestamp ts = ts_fixture();
        _cleanup_free_ char *factory = NULL, *plugin = NULL;
        SdloopObject *other, *bare_factory;
        char *p = NULL;
        bool b;
        int r;

        /* PluginMedian without new_median_factory. */
        ck_assert_int_ge(sdloop_object_new_at(server, NULL, OTHER_ROOT_PATH, NULL, NULL, &other), 0);
        ck_assert_int_ge(sdloop_plugin_median_export(other, &no_median_ops, NULL), 0);
        r = sdloop_peer_call_method(client, OTHER_ROOT_PATH, "org.sdloop1.PluginMedian", "NewMedianFactory", NULL,
                                    &error, "oooo", PROVIDER_PATH, DATA_SOURCE_PATH, JUELS_PATH, ERROR_LOG_PATH);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.PluginMedian.NewMedianFactory");

        /* ReportingPluginFactory without new_reporting_plugin. */
        ck_assert_int_ge(sdloop_object_new(server, other, "factory", NULL, NULL, &bare_factory), 0);
        ck_assert_int_ge(sdloop_reporting_plugin_factory_export(bare_factory, &no_factory_ops, NULL), 0);
        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, sdloop_object_get_path(bare_factory), &config,
                                                                 &p, &info, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.ReportingPluginFactory.NewReportingPlugin");
        ck_assert_ptr_null(p);

        /* A reporting plugin with Query only (the factory's userdata picks its ops). */
        sdloop_object_close(root);
        root = NULL;
        ck_assert_int_ge(sdloop_object_new_at(server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_ge(sdloop_plugin_median_export(root, &median_ops, (void *) &rp_ops_partial), 0);
        factory = new_factory();
        plugin = new_plugin(factory, NULL);

        r = sdloop_reporting_plugin_query(client, plugin, &ts, &query, &error);
        ck_assert_int_ge(r, 0);
        r = sdloop_reporting_plugin_observation(client, plugin, &ts, NULL, 0, &observation, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.ReportingPlugin.Observation");
        r = sdloop_reporting_plugin_report(client, plugin, &ts, NULL, 0, NULL, 0, &b, &report, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.ReportingPlugin.Report");
        r = sdloop_reporting_plugin_should_accept_finalized_report(client, plugin, &ts, NULL, 0, &b, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.ReportingPlugin.ShouldAcceptFinalizedReport");
        r = sdloop_reporting_plugin_should_transmit_accepted_report(client, plugin, &ts, NULL, 0, &b, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.ReportingPlugin.ShouldTransmitAcceptedReport");
        /* Close needs no implementation. */
        r = sdloop_reporting_plugin_close(client, plugin, &error);
        ck_assert_int_ge(r, 0);
        ck_assert_ptr_null(sdloop_peer_find_object(server, plugin));
}
END_TEST

START_TEST(test_bad_info) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        SdloopReportingPluginConfig config = config_fixture();
        _cleanup_free_ char *factory = NULL;
        SdloopObject *f;
        char *plugin = NULL;
        int r;

        factory = new_factory();
        f = sdloop_peer_find_object(server, factory);

        /* An info without a name is the implementation's fault; the plugin it made is closed again. */
        seen.info_mode = INFO_EMPTY_NAME;
        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, factory, &config, &plugin, &info, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, NULL);
        ck_assert_ptr_null(plugin);
        ck_assert_uint_eq(seen.n_new_plugin, 1);
        ck_assert_uint_eq(seen.n_plugins_closed, 1);
        ck_assert_ptr_eq(sdloop_peer_find_object(server, factory), f);

        /* No object at all. */
        seen.info_mode = INFO_NO_OBJECT;
        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, factory, &config, &plugin, &info, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, NULL);
        ck_assert_ptr_null(plugin);
}
END_TEST

/* A ReportingPluginFactory and ReportingPlugin that answer with replies the contract forbids: the client
 * must refuse them. */
static int raw_new_reporting_plugin(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "o(sb(ttt))", "/org/sdloop1/reporting_plugin/99", "", 1,
                                          (uint64_t) 1, (uint64_t) 2, (uint64_t) 3);
}

static int raw_query(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", "not bytes");
}

static int raw_should_accept(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable raw_factory_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("NewReportingPlugin", "(ayyuuayaytttttt)", "o(sb(ttt))", raw_new_reporting_plugin, 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable raw_plugin_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Query", "(ayuy)", "s", raw_query, 0),
        SD_BUS_METHOD("ShouldAcceptFinalizedReport", "(ayuy)ay", "", raw_should_accept, 0),
        SD_BUS_VTABLE_END,
};

START_TEST(test_bad_replies) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {};
        SdloopReportingPluginConfig config = config_fixture();
        SdloopReportTimestamp ts = ts_fixture();
        char *plugin = NULL;
        bool b = true;
        int r;

        ck_assert_int_ge(sd_bus_add_object_vtable(sdloop_peer_get_bus(server), &s1, RAW_PATH,
                                                  "org.sdloop1.ReportingPluginFactory", raw_factory_vtable, NULL), 0);
        ck_assert_int_ge(sd_bus_add_object_vtable(sdloop_peer_get_bus(server), &s2, RAW_PATH,
                                                  "org.sdloop1.ReportingPlugin", raw_plugin_vtable, NULL), 0);

        r = sdloop_reporting_plugin_factory_new_reporting_plugin(client, RAW_PATH, &config, &plugin, &info, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "NewReportingPlugin reply.info.name");
        ck_assert_ptr_null(plugin);
        ck_assert_ptr_null(info.name);

        r = sdloop_reporting_plugin_query(client, RAW_PATH, &ts, &query, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "Query reply.query");
        ck_assert_ptr_null(query.data);
        ck_assert_uint_eq(query.size, 0);

        r = sdloop_reporting_plugin_should_accept_finalized_report(client, RAW_PATH, &ts, NULL, 0, &b, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "ShouldAcceptFinalizedReport reply.should_accept");
        ck_assert(b);
}
END_TEST

static Suite *median_suite(void) {
        Suite *s = suite_create("services-median");
        TCase *tc = tcase_create("median");

        tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
        tcase_add_test(tc, test_median_round_trip);
        tcase_add_test(tc, test_reporting_plugin_close);
        tcase_add_test(tc, test_factory_close_closes_plugins);
        tcase_add_test(tc, test_bad_config);
        tcase_add_test(tc, test_bad_deps);
        tcase_add_test(tc, test_observations_bound);
        tcase_add_test(tc, test_unimplemented);
        tcase_add_test(tc, test_bad_info);
        tcase_add_test(tc, test_bad_replies);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(median_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
