/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The median plugin's static services: PluginMedian (root), ReportingPluginFactory, ReportingPlugin. */

#include <errno.h>
#include <stdlib.h>

#include "fixtures.h"
#include "macro.h"
#include "provider-check.h"
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

/* As LOOP's StaticPluginMedian, NewMedianFactory uses everything it is given before it answers: every
 * provider method (through the host's proxy of the relayer's provider), both data sources, the error log.
 * It answers later, one call at a time. */
typedef enum FactoryStep {
        FACTORY_PROVIDER,
        FACTORY_DATA_SOURCE,
        FACTORY_JUELS_DATA_SOURCE,
        FACTORY_ERROR_LOG,
        FACTORY_CREATE,
} FactoryStep;

typedef struct FactoryJob {
        SdloopCall *call;
        FactoryStep step;
        char *provider, *data_source, *juels_data_source, *error_log;
        ConformanceProviderCheck *check;
        sd_bus_slot *slot;
} FactoryJob;

static FactoryJob *factory_job_free(FactoryJob *j) {
        if (!j)
                return NULL;
        conformance_provider_check_free(j->check);
        sd_bus_slot_unref(j->slot);
        sdloop_call_unref(j->call);
        free(j->provider);
        free(j->data_source);
        free(j->juels_data_source);
        free(j->error_log);
        return mfree(j);
}

static void factory_job_freep(FactoryJob **j) {
        factory_job_free(*j);
}

static void factory_job_cancelled(SdloopCall *call, void *userdata) {
        factory_job_free(userdata);
}

static void factory_job_fail(FactoryJob *j, int r, sd_bus_error *error) {
        (void) conformance_call_return_error(j->call, r, error);
        factory_job_free(j);
}

static void factory_job_next(FactoryJob *j);

static void on_provider_checked(ConformanceProviderCheck *c, int r, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        FactoryJob *j = userdata;

        /* @error lives in the check. */
        (void) sd_bus_error_move(&e, error);
        j->check = conformance_provider_check_free(j->check);
        if (r < 0) {
                factory_job_fail(j, conformance_error_prefix(&e, r, "provider"), &e);
                return;
        }
        j->step++;
        factory_job_next(j);
}

static void on_observed(SdloopPeer *peer, int r, char **value, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        FactoryJob *j = userdata;
        bool juels = j->step == FACTORY_JUELS_DATA_SOURCE;
        const char *field = juels ? "juels_data_source" : "data_source";

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                factory_job_fail(j, conformance_error_prefix(error, r, "%s: Observe()", field), error);
                return;
        }
        r = fixture_check_string(juels ? FIXTURE_JUELS_PER_FEE_COIN : FIXTURE_VALUE, *value, field, &e);
        if (r < 0) {
                factory_job_fail(j, r, &e);
                return;
        }
        j->step++;
        factory_job_next(j);
}

static void on_error_saved(SdloopPeer *peer, int r, sd_bus_error *error, void *userdata) {
        FactoryJob *j = userdata;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                factory_job_fail(j, conformance_error_prefix(error, r, "error_log: SaveError()"), error);
                return;
        }
        j->step++;
        factory_job_next(j);
}

static int factory_create(FactoryJob *j) {
        SdloopObject *factory;
        int r;

        r = sdloop_object_new(sdloop_call_get_peer(j->call), sdloop_call_get_object(j->call), "factory", NULL, NULL,
                              &factory);
        if (r < 0)
                return r;
        r = sdloop_reporting_plugin_factory_export(factory, &factory_ops, NULL);
        if (r >= 0)
                r = sdloop_plugin_median_new_median_factory_return(j->call, factory);
        if (r < 0)
                /* Nobody learns of it. */
                sdloop_object_close(factory);
        return r;
}

/* Send the call of the current step; one that cannot even be sent fails the step as its reply would. */
static void factory_job_next(FactoryJob *j) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopPeer *peer = sdloop_call_get_peer(j->call);
        SdloopContext *ctx = sdloop_call_get_context(j->call);
        const char *what = NULL;
        int r = 0;

        switch (j->step) {
        case FACTORY_PROVIDER:
                r = conformance_provider_check_start(peer, j->provider, CONFORMANCE_MEDIAN_PROVIDER, ctx,
                                                     on_provider_checked, j, &j->check, &error);
                if (r < 0)
                        factory_job_fail(j, conformance_error_prefix(&error, r, "provider"), &error);
                return;
        case FACTORY_DATA_SOURCE:
                what = "data_source: Observe()";
                r = sdloop_data_source_observe_async(peer, j->data_source, &fixture_report_timestamp, ctx, on_observed,
                                                     j, &j->slot);
                break;
        case FACTORY_JUELS_DATA_SOURCE:
                what = "juels_data_source: Observe()";
                r = sdloop_data_source_observe_async(peer, j->juels_data_source, &fixture_report_timestamp, ctx,
                                                     on_observed, j, &j->slot);
                break;
        case FACTORY_ERROR_LOG:
                what = "error_log: SaveError()";
                r = sdloop_error_log_save_error_async(peer, j->error_log, FIXTURE_ERROR_MESSAGE, ctx, on_error_saved, j,
                                                      &j->slot);
                break;
        case FACTORY_CREATE:
                r = factory_create(j);
                /* Still to answer if creating the factory failed; one the typed return refused got Internal. */
                if (sdloop_call_is_pending(j->call))
                        (void) sdloop_call_return_errno(j->call, r, NULL);
                factory_job_free(j);
                return;
        }
        if (r < 0)
                factory_job_fail(j, conformance_send_failed(&error, peer, r, "%s", what), &error);
}

static int plugin_median_new_median_factory(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                            SdloopObject **ret, sd_bus_error *error) {
        _cleanup_(factory_job_freep) FactoryJob *j = NULL;

        j = new0(FactoryJob, 1);
        if (!j)
                return -ENOMEM;
        j->provider = strdup(deps->provider);
        j->data_source = strdup(deps->data_source);
        j->juels_data_source = strdup(deps->juels_data_source);
        j->error_log = strdup(deps->error_log);
        if (!j->provider || !j->data_source || !j->juels_data_source || !j->error_log)
                return -ENOMEM;

        j->call = sdloop_call_defer();
        if (!j->call)
                return -ENOMEM;
        sdloop_call_set_cancel_handler(j->call, factory_job_cancelled, j);
        factory_job_next(TAKE_PTR(j));
        return 0;
}

static const SdloopPluginMedianOps plugin_median_ops = {
        .new_median_factory = plugin_median_new_median_factory,
};

int static_plugin_median_export(SdloopObject *root) {
        return sdloop_plugin_median_export(root, &plugin_median_ops, NULL);
}
