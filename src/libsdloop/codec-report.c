/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What a reporting plugin is told of its rounds and configuration, and tells of itself: ReportTimestamp,
 * ReportContext, ReportingPluginConfig, ReportingPluginInfo. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "codec-internal.h"
#include "macro.h"
#include "sdloop-error.h"

/* --- ReportTimestamp, ReportContext ------------------------------------------------------------------ */

int sdloop_read_report_timestamp(sd_bus_message *m, const char *field, SdloopReportTimestamp *ret, sd_bus_error *error) {
        SdloopReportTimestamp v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORT_TIMESTAMP, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.digest", field), v.digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "uy", &v.epoch, &v.round);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORT_TIMESTAMP ")", r);

        r = exit_container(m, field, "(" SIG_REPORT_TIMESTAMP ")", error);
        if (r < 0)
                return r;

        *ret = v;
        return 0;
}

int sdloop_append_report_timestamp(sd_bus_message *m, const SdloopReportTimestamp *v) {
        int r;

        assert(m);
        assert(v);

        r = sd_bus_message_open_container(m, 'r', SIG_REPORT_TIMESTAMP);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->digest);
        if (r < 0)
                return r;

        r = sd_bus_message_append(m, "uy", v->epoch, v->round);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

int sdloop_read_report_context(sd_bus_message *m, const char *field, SdloopReportContext *ret, sd_bus_error *error) {
        SdloopReportContext v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORT_CONTEXT, error);
        if (r < 0)
                return r;

        r = sdloop_read_report_timestamp(m, fieldf(sub, "%s.timestamp", field), &v.timestamp, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.extra_hash", field), v.extra_hash, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_REPORT_CONTEXT ")", error);
        if (r < 0)
                return r;

        *ret = v;
        return 0;
}

int sdloop_append_report_context(sd_bus_message *m, const SdloopReportContext *v) {
        int r;

        assert(m);
        assert(v);

        r = sd_bus_message_open_container(m, 'r', SIG_REPORT_CONTEXT);
        if (r < 0)
                return r;

        r = sdloop_append_report_timestamp(m, &v->timestamp);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->extra_hash);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

/* --- ReportingPluginConfig, ReportingPluginInfo ------------------------------------------------------- */

int sdloop_read_reporting_plugin_config(sd_bus_message *m, const char *field, SdloopReportingPluginConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_config_done) SdloopReportingPluginConfig v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORTING_PLUGIN_CONFIG, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(m, fieldf(sub, "%s.digest", field), v.digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "yuu", &v.oracle_id, &v.n, &v.f);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORTING_PLUGIN_CONFIG ")", r);

        r = sdloop_read_bytes(m, fieldf(sub, "%s.onchain_config", field), 0, &v.onchain_config, error);
        if (r < 0)
                return r;

        r = sdloop_read_bytes(m, fieldf(sub, "%s.offchain_config", field), 0, &v.offchain_config, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "tttttt",
                                &v.estimated_round_interval_usec,
                                &v.max_duration_query_usec,
                                &v.max_duration_observation_usec,
                                &v.max_duration_report_usec,
                                &v.max_duration_should_accept_usec,
                                &v.max_duration_should_transmit_usec);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORTING_PLUGIN_CONFIG ")", r);

        r = exit_container(m, field, "(" SIG_REPORTING_PLUGIN_CONFIG ")", error);
        if (r < 0)
                return r;

        /* Oracle ids are 0-based indexes into the n oracles. 3f < n is the contract's business, not ours:
         * a plugin is told what the contract says. */
        if (v.n < 1)
                return sdloop_error_invalid(error, fieldf(sub, "%s.n", field), "must be at least 1");
        if (v.f >= v.n)
                return sdloop_error_invalid(error, fieldf(sub, "%s.f", field),
                                            "must be less than n (f=%" PRIu32 ", n=%" PRIu32 ")", v.f, v.n);
        if (v.oracle_id >= v.n)
                return sdloop_error_invalid(error, fieldf(sub, "%s.oracle_id", field),
                                            "must be less than n (oracle_id=%u, n=%" PRIu32 ")",
                                            v.oracle_id, v.n);

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_reporting_plugin_config(sd_bus_message *m, const SdloopReportingPluginConfig *v) {
        int r;

        assert(m);
        assert(v);

        r = sd_bus_message_open_container(m, 'r', SIG_REPORTING_PLUGIN_CONFIG);
        if (r < 0)
                return r;

        r = sdloop_append_digest(m, v->digest);
        if (r < 0)
                return r;

        r = sd_bus_message_append(m, "yuu", v->oracle_id, v->n, v->f);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->onchain_config.data, v->onchain_config.size);
        if (r < 0)
                return r;

        r = sdloop_append_bytes(m, v->offchain_config.data, v->offchain_config.size);
        if (r < 0)
                return r;

        r = sd_bus_message_append(m, "tttttt",
                                  v->estimated_round_interval_usec,
                                  v->max_duration_query_usec,
                                  v->max_duration_observation_usec,
                                  v->max_duration_report_usec,
                                  v->max_duration_should_accept_usec,
                                  v->max_duration_should_transmit_usec);
        if (r < 0)
                return r;

        return sd_bus_message_close_container(m);
}

void sdloop_reporting_plugin_config_done(SdloopReportingPluginConfig *v) {
        if (!v)
                return;

        sdloop_bytes_done(&v->onchain_config);
        sdloop_bytes_done(&v->offchain_config);
        *v = (SdloopReportingPluginConfig) {};
}

int sdloop_read_reporting_plugin_info(sd_bus_message *m, const char *field, SdloopReportingPluginInfo *ret, sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_REPORTING_PLUGIN_INFO, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.name", field), &v.name, error);
        if (r < 0)
                return r;

        r = read_bool(m, fieldf(sub, "%s.unique_reports", field), &v.unique_reports, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(m, "(ttt)",
                                &v.max_query_length,
                                &v.max_observation_length,
                                &v.max_report_length);
        if (r <= 0)
                return bus_read_failed(error, field, "(" SIG_REPORTING_PLUGIN_INFO ")", r);

        r = exit_container(m, field, "(" SIG_REPORTING_PLUGIN_INFO ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_reporting_plugin_info(sd_bus_message *m, const SdloopReportingPluginInfo *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_REPORTING_PLUGIN_INFO ")",
                                     strempty(v->name),
                                     (int) v->unique_reports,
                                     v->max_query_length,
                                     v->max_observation_length,
                                     v->max_report_length);
}

void sdloop_reporting_plugin_info_done(SdloopReportingPluginInfo *v) {
        if (!v)
                return;

        free(v->name);
        *v = (SdloopReportingPluginInfo) {};
}
