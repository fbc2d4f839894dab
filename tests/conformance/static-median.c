/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The median plugin's static services: PluginMedian (root), ReportingPluginFactory, ReportingPlugin. */

#include <errno.h>
#include <stdlib.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "suite.h"

/* --- ReportingPlugin --- */

static int rp_query(void *userdata, const SdloopReportTimestamp *ts, SdloopBytes *ret_query, sd_bus_error *error) {
        int r;

        r = fixture_check_report_timestamp(ts, "report_timestamp", error);
        if (r < 0)
                return r;
        return fixture_copy_bytes(&fixture_query, ret_query);
}

static int rp_observation(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                          SdloopBytes *ret_observation, sd_bus_error *error) {
        int r;

        r = fixture_check_report_timestamp(ts, "report_timestamp", error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&fixture_query, query->data, query->size, "query", error);
        if (r < 0)
                return r;
        return fixture_copy_bytes(&fixture_observation, ret_observation);
}

static int rp_report(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                     const SdloopAttributed *observations, size_t n_observations, bool *ret_should_report,
                     SdloopBytes *ret_report, sd_bus_error *error) {
        int r;

        r = fixture_check_report_timestamp(ts, "report_timestamp", error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&fixture_query, query->data, query->size, "query", error);
        if (r < 0)
                return r;
        r = fixture_check_attributed(fixture_observations, FIXTURE_N_OBSERVATIONS, observations, n_observations,
                                     "observations", error);
        if (r < 0)
                return r;

        r = fixture_copy_bytes(&fixture_report, ret_report);
        if (r < 0)
                return r;
        *ret_should_report = true;
        return 0;
}

static int rp_decide(const SdloopReportTimestamp *ts, const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        int r;

        r = fixture_check_report_timestamp(ts, "report_timestamp", error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&fixture_report, report->data, report->size, "report", error);
        if (r < 0)
                return r;
        *ret = true;
        return 0;
}

static int rp_should_accept_finalized_report(void *userdata, const SdloopReportTimestamp *ts,
                                             const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        return rp_decide(ts, report, ret, error);
}

static int rp_should_transmit_accepted_report(void *userdata, const SdloopReportTimestamp *ts,
                                              const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        return rp_decide(ts, report, ret, error);
}

static const SdloopReportingPluginOps reporting_plugin_ops = {
        .query = rp_query,
        .observation = rp_observation,
        .report = rp_report,
        .should_accept_finalized_report = rp_should_accept_finalized_report,
        .should_transmit_accepted_report = rp_should_transmit_accepted_report,
};

/* --- ReportingPluginFactory --- */

static int factory_new_reporting_plugin(void *userdata, SdloopObject *factory,
                                        const SdloopReportingPluginConfig *config, SdloopObject **ret,
                                        SdloopReportingPluginInfo *ret_info, sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        SdloopObject *o;
        int r;

        r = fixture_check_reporting_plugin_config(config, "config", error);
        if (r < 0)
                return r;

        r = fixture_copy_reporting_plugin_info(&info);
        if (r < 0)
                return r;

        r = sdloop_object_new(sdloop_object_get_peer(factory), factory, "reporting_plugin", NULL, NULL, &o);
        if (r < 0)
                return r;
        r = sdloop_reporting_plugin_export(o, &reporting_plugin_ops, NULL);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }

        *ret = o;
        *ret_info = info;
        info = (SdloopReportingPluginInfo) {};
        return 0;
}

static const SdloopReportingPluginFactoryOps factory_ops = {
        .new_reporting_plugin = factory_new_reporting_plugin,
};

/* --- PluginMedian --- */

static int check_data_source(SdloopPeer *peer, const char *path, const char *expected, const char *field,
                             sd_bus_error *error) {
        _cleanup_free_ char *value = NULL;
        int r;

        r = sdloop_data_source_observe(peer, path, &fixture_report_timestamp, &value, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "%s: Observe()", field);
        return fixture_check_string(expected, value, field, error);
}

static int plugin_median_new_median_factory(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                            SdloopObject **ret, sd_bus_error *error) {
        SdloopPeer *peer = sdloop_object_get_peer(parent);
        SdloopObject *factory;
        int r;

        /* As LOOP's StaticPluginMedian: every provider method, both data sources and the error log, through
         * the host (the provider is the host's proxy of the relayer's provider). */
        r = conformance_check_median_provider(peer, deps->provider, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "provider");
        r = check_data_source(peer, deps->data_source, FIXTURE_VALUE, "data_source", error);
        if (r < 0)
                return r;
        r = check_data_source(peer, deps->juels_data_source, FIXTURE_JUELS_PER_FEE_COIN, "juels_data_source", error);
        if (r < 0)
                return r;
        r = sdloop_error_log_save_error(peer, deps->error_log, FIXTURE_ERROR_MESSAGE, error);
        if (r < 0)
                return conformance_error_prefix(error, r, "error_log: SaveError()");

        r = sdloop_object_new(peer, parent, "factory", NULL, NULL, &factory);
        if (r < 0)
                return r;
        r = sdloop_reporting_plugin_factory_export(factory, &factory_ops, NULL);
        if (r < 0) {
                sdloop_object_close(factory);
                return r;
        }

        *ret = factory;
        return 0;
}

static const SdloopPluginMedianOps plugin_median_ops = {
        .new_median_factory = plugin_median_new_median_factory,
};

int static_plugin_median_export(SdloopObject *root) {
        return sdloop_plugin_median_export(root, &plugin_median_ops, NULL);
}
