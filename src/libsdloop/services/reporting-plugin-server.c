/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ReportingPlugin, served on /org/sdloop1/reporting_plugin/<n> of a median plugin. */

#include "sdloop-median.h"
#include "service-util.h"

/* libocr's OracleID is a uint8 index: a round never has more observations than oracles. */
#define REPORTING_PLUGIN_OBSERVATIONS_MAX SDLOOP_ORACLES_MAX

typedef struct Observations {
        SdloopAttributed *v;
        size_t n;
} Observations;

static void observations_done(Observations *o) {
        sdloop_attributed_array_free(o->v, o->n);
        *o = (Observations) {};
}

/* What the implementation hands back travels in one message: keep it within the payload bound. */
static int check_payload(sd_bus_message *m, const char *field, const SdloopBytes *b, sd_bus_error *error) {
        if (b->size <= SDLOOP_PAYLOAD_MAX)
                return 0;

        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                 "ReportingPlugin.%s: the implementation returned %zu bytes of %s, "
                                 "more than %u", strempty(sd_bus_message_get_member(m)), b->size, field,
                                 SDLOOP_PAYLOAD_MAX);
}

static int query_reply(sd_bus_message *m, const SdloopBytes *query, sd_bus_error *error) {
        int r;

        query = service_bytes_or_empty(query);
        r = check_payload(m, "query", query, error);
        if (r < 0)
                return r;

        return service_reply_bytes(m, query->data, query->size);
}

static int method_query(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportingPluginOps *ops = BINDING_OPS(userdata, SdloopReportingPluginOps);
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {};
        _cleanup_(call_done) SdloopCall call = {};
        SdloopReportTimestamp ts;
        int r;

        r = sdloop_read_report_timestamp(m, "report_timestamp", &ts, error);
        if (r < 0)
                return r;

        if (!ops->query)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->query(BINDING_DATA(userdata), &ts, &query, error), error);
        if (r != 0)
                return r;

        return query_reply(m, &query, error);
}

int sdloop_reporting_plugin_query_return(SdloopCall *c, const SdloopBytes *query) {
        return SERVICE_RETURN(c, query_reply, query);
}

static int observation_reply(sd_bus_message *m, const SdloopBytes *observation, sd_bus_error *error) {
        int r;

        observation = service_bytes_or_empty(observation);
        r = check_payload(m, "observation", observation, error);
        if (r < 0)
                return r;

        return service_reply_bytes(m, observation->data, observation->size);
}

static int method_observation(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportingPluginOps *ops = BINDING_OPS(userdata, SdloopReportingPluginOps);
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, observation = {};
        _cleanup_(call_done) SdloopCall call = {};
        SdloopReportTimestamp ts;
        int r;

        r = sdloop_read_report_timestamp(m, "report_timestamp", &ts, error);
        if (r < 0)
                return r;
        r = sdloop_read_bytes(m, "query", SDLOOP_PAYLOAD_MAX, &query, error);
        if (r < 0)
                return r;

        if (!ops->observation)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->observation(BINDING_DATA(userdata), &ts, &query, &observation, error),
                             error);
        if (r != 0)
                return r;

        return observation_reply(m, &observation, error);
}

int sdloop_reporting_plugin_observation_return(SdloopCall *c, const SdloopBytes *observation) {
        return SERVICE_RETURN(c, observation_reply, observation);
}

static int report_reply(sd_bus_message *m, bool should_report, const SdloopBytes *report, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        report = service_bytes_or_empty(report);
        r = check_payload(m, "report", report, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "b", (int) should_report);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(reply, report->data, report->size);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportingPluginOps *ops = BINDING_OPS(userdata, SdloopReportingPluginOps);
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, report = {};
        _cleanup_(observations_done) Observations observations = {};
        _cleanup_(call_done) SdloopCall call = {};
        SdloopReportTimestamp ts;
        bool should_report = false;
        int r;

        r = sdloop_read_report_timestamp(m, "report_timestamp", &ts, error);
        if (r < 0)
                return r;
        r = sdloop_read_bytes(m, "query", SDLOOP_PAYLOAD_MAX, &query, error);
        if (r < 0)
                return r;
        r = sdloop_read_attributed_array(m, "observations", SDLOOP_PAYLOAD_MAX, &observations.v,
                                         &observations.n, error);
        if (r < 0)
                return r;
        if (observations.n > REPORTING_PLUGIN_OBSERVATIONS_MAX)
                return sdloop_error_invalid(error, "observations", "expected at most %u entries, got %zu",
                                            REPORTING_PLUGIN_OBSERVATIONS_MAX, observations.n);

        if (!ops->report)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->report(BINDING_DATA(userdata), &ts, &query, observations.v, observations.n,
                                                   &should_report, &report, error), error);
        if (r != 0)
                return r;

        return report_reply(m, should_report, &report, error);
}

int sdloop_reporting_plugin_report_return(SdloopCall *c, bool should_report, const SdloopBytes *report) {
        return SERVICE_RETURN(c, report_reply, should_report, report);
}

/* ShouldAcceptFinalizedReport and ShouldTransmitAcceptedReport take and return the same things. */
typedef int (*report_decision_t)(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *report,
                                 bool *ret, sd_bus_error *error);

static int report_decision_reply(sd_bus_message *m, bool b, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "b", (int) b);
}

static int report_decision(sd_bus_message *m, void *userdata, report_decision_t decide,
                           sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        _cleanup_(call_done) SdloopCall call = {};
        SdloopReportTimestamp ts;
        bool b = false;
        int r;

        r = sdloop_read_report_timestamp(m, "report_timestamp", &ts, error);
        if (r < 0)
                return r;
        r = sdloop_read_bytes(m, "report", SDLOOP_PAYLOAD_MAX, &report, error);
        if (r < 0)
                return r;

        if (!decide)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, decide(BINDING_DATA(userdata), &ts, &report, &b, error), error);
        if (r != 0)
                return r;

        return report_decision_reply(m, b, error);
}

static int method_should_accept_finalized_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportingPluginOps *ops = BINDING_OPS(userdata, SdloopReportingPluginOps);

        return report_decision(m, userdata, ops->should_accept_finalized_report, error);
}

int sdloop_reporting_plugin_should_accept_finalized_report_return(SdloopCall *c, bool should_accept) {
        return SERVICE_RETURN(c, report_decision_reply, should_accept);
}

static int method_should_transmit_accepted_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportingPluginOps *ops = BINDING_OPS(userdata, SdloopReportingPluginOps);

        return report_decision(m, userdata, ops->should_transmit_accepted_report, error);
}

int sdloop_reporting_plugin_should_transmit_accepted_report_return(SdloopCall *c, bool should_transmit) {
        return SERVICE_RETURN(c, report_decision_reply, should_transmit);
}

static int method_close(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SdloopObject *o = BINDING_OBJECT(userdata);
        int r;

        /* Reply first: closing frees the binding (userdata) and removes the path. */
        r = sd_bus_reply_method_return(m, NULL);
        sdloop_object_close(o);
        return r;
}

static const sd_bus_vtable reporting_plugin_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Query",
                                SD_BUS_ARGS("(ayuy)", report_timestamp),
                                SD_BUS_RESULT("ay", query),
                                method_query, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Observation",
                                SD_BUS_ARGS("(ayuy)", report_timestamp, "ay", query),
                                SD_BUS_RESULT("ay", observation),
                                method_observation, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Report",
                                SD_BUS_ARGS("(ayuy)", report_timestamp, "ay", query, "a(ayy)", observations),
                                SD_BUS_RESULT("b", should_report, "ay", report),
                                method_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ShouldAcceptFinalizedReport",
                                SD_BUS_ARGS("(ayuy)", report_timestamp, "ay", report),
                                SD_BUS_RESULT("b", should_accept),
                                method_should_accept_finalized_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ShouldTransmitAcceptedReport",
                                SD_BUS_ARGS("(ayuy)", report_timestamp, "ay", report),
                                SD_BUS_RESULT("b", should_transmit),
                                method_should_transmit_accepted_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_close, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_reporting_plugin_export(SdloopObject *o, const SdloopReportingPluginOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;

        return sdloop_object_add_interface(o, "org.sdloop1.ReportingPlugin", reporting_plugin_vtable, ops,
                                           userdata);
}
