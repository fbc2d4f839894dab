/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls org.sdloop1.ReportingPlugin on /org/sdloop1/reporting_plugin/<n>. */

#include "sdloop-median.h"
#include "service-util.h"

#define REPORTING_PLUGIN_INTERFACE "org.sdloop1.ReportingPlugin"

/* Every call's arguments start with the report timestamp. */
static int new_call(SdloopPeer *peer, const char *path, const char *member, const SdloopReportTimestamp *ts,
                    sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sdloop_peer_new_call(peer, path, REPORTING_PLUGIN_INTERFACE, member, &m);
        if (r < 0)
                return r;
        r = sdloop_append_report_timestamp(m, ts);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

/* Leaves *ret untouched unless the reply is good. */
static int read_reply_payload(sd_bus_message *reply, const char *field, SdloopBytes *ret,
                              sd_bus_error *error) {
        SdloopBytes b;
        int r;

        r = service_read_reply_bytes(reply, field, SDLOOP_PAYLOAD_MAX, &b, error);
        if (r < 0)
                return r;

        *ret = b;
        return 0;
}

int sdloop_reporting_plugin_query(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts,
                                  SdloopBytes *ret_query, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if (!peer || !path || !ts || !ret_query)
                return -EINVAL;

        r = new_call(peer, path, "Query", ts, &m);
        if (r < 0)
                return r;
        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        return read_reply_payload(reply, "Query reply.query", ret_query, error);
}

int sdloop_reporting_plugin_observation(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts,
                                        const void *query, size_t query_size, SdloopBytes *ret_observation,
                                        sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if (!peer || !path || !ts || (!query && query_size > 0) || !ret_observation)
                return -EINVAL;

        r = new_call(peer, path, "Observation", ts, &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, query, query_size);
        if (r < 0)
                return r;
        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        return read_reply_payload(reply, "Observation reply.observation", ret_observation, error);
}

int sdloop_reporting_plugin_report(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts,
                                   const void *query, size_t query_size, const SdloopAttributed *observations,
                                   size_t n_observations, bool *ret_should_report, SdloopBytes *ret_report,
                                   sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        bool should_report;
        int r;

        if (!peer || !path || !ts || (!query && query_size > 0) || (!observations && n_observations > 0) ||
            !ret_should_report || !ret_report)
                return -EINVAL;

        r = new_call(peer, path, "Report", ts, &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, query, query_size);
        if (r < 0)
                return r;
        r = sdloop_append_attributed_array(m, observations, n_observations);
        if (r < 0)
                return r;
        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = service_read_reply_bool(reply, "Report reply.should_report", &should_report, error);
        if (r < 0)
                return r;
        r = read_reply_payload(reply, "Report reply.report", &report, error);
        if (r < 0)
                return r;

        *ret_should_report = should_report;
        *ret_report = report;
        report = (SdloopBytes) {};
        return 0;
}

static int report_decision(SdloopPeer *peer, const char *path, const char *member, const char *field,
                           const SdloopReportTimestamp *ts, const void *report, size_t size, bool *ret,
                           sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if (!peer || !path || !ts || (!report && size > 0) || !ret)
                return -EINVAL;

        r = new_call(peer, path, member, ts, &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, report, size);
        if (r < 0)
                return r;
        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        return service_read_reply_bool(reply, field, ret, error);
}

int sdloop_reporting_plugin_should_accept_finalized_report(SdloopPeer *peer, const char *path,
                                                           const SdloopReportTimestamp *ts, const void *report,
                                                           size_t size, bool *ret, sd_bus_error *error) {
        return report_decision(peer, path, "ShouldAcceptFinalizedReport",
                               "ShouldAcceptFinalizedReport reply.should_accept",
                               ts, report, size, ret, error);
}

int sdloop_reporting_plugin_should_transmit_accepted_report(SdloopPeer *peer, const char *path,
                                                            const SdloopReportTimestamp *ts, const void *report,
                                                            size_t size, bool *ret, sd_bus_error *error) {
        return report_decision(peer, path, "ShouldTransmitAcceptedReport",
                               "ShouldTransmitAcceptedReport reply.should_transmit",
                               ts, report, size, ret, error);
}

int sdloop_reporting_plugin_close(SdloopPeer *peer, const char *path, sd_bus_error *error) {
        if (!peer || !path)
                return -EINVAL;

        return service_call_simple(peer, path, REPORTING_PLUGIN_INTERFACE, "Close", NULL, error);
}
