/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ReportCodec, the median provider's side: encodes and decodes median reports. */

#include "sdloop-provider.h"
#include "service-util.h"

typedef struct ParsedObservations {
        SdloopParsedObservation *v;
        size_t n;
} ParsedObservations;

static void parsed_observations_done(ParsedObservations *o) {
        sdloop_parsed_observations_free(o->v, o->n);
        *o = (ParsedObservations) {};
}

static int build_report_reply(sd_bus_message *m, const SdloopBytes *report, sd_bus_error *error) {
        int r;

        report = service_bytes_or_empty(report);
        r = service_check_return_bytes(m, "report", report, SDLOOP_PAYLOAD_MAX, error);
        if (r < 0)
                return r;

        return service_reply_bytes(m, report->data, report->size);
}

static int method_build_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportCodecOps *ops = BINDING_OPS(userdata, SdloopReportCodecOps);
        _cleanup_(parsed_observations_done) ParsedObservations obs = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        /* Validates every value and juels_per_fee_coin as a decimal. */
        r = sdloop_read_parsed_observations(m, "observations", &obs.v, &obs.n, error);
        if (r < 0)
                return r;

        if (!ops->build_report)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->build_report(BINDING_DATA(userdata), obs.v, obs.n, &report, error), error);
        if (r != 0)
                return r;

        return build_report_reply(m, &report, error);
}

int sdloop_report_codec_build_report_return(SdloopCall *c, const SdloopBytes *report) {
        return SERVICE_RETURN(c, build_report_reply, report);
}

static int median_from_report_reply(sd_bus_message *m, const char *median, sd_bus_error *error) {
        int r;

        r = service_check_return_decimal(m, "median", median, error);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(m, "s", median);
}

static int method_median_from_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportCodecOps *ops = BINDING_OPS(userdata, SdloopReportCodecOps);
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        _cleanup_(call_done) SdloopCall call = {};
        _cleanup_free_ char *median = NULL;
        int r;

        r = sdloop_read_bytes(m, "report", SDLOOP_PAYLOAD_MAX, &report, error);
        if (r < 0)
                return r;

        if (!ops->median_from_report)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->median_from_report(BINDING_DATA(userdata), &report, &median, error), error);
        if (r != 0)
                return r;

        return median_from_report_reply(m, median, error);
}

int sdloop_report_codec_median_from_report_return(SdloopCall *c, const char *median) {
        return SERVICE_RETURN(c, median_from_report_reply, median);
}

static int max_report_length_reply(sd_bus_message *m, int64_t max, sd_bus_error *error) {
        if (max < 0)
                return service_bad_return(m, error, "a negative max (%" PRIi64 ")", max);

        return sd_bus_reply_method_return(m, "x", max);
}

static int method_max_report_length(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportCodecOps *ops = BINDING_OPS(userdata, SdloopReportCodecOps);
        _cleanup_(call_done) SdloopCall call = {};
        int64_t n, max = 0;
        int r;

        r = sd_bus_message_read_basic(m, 'x', &n);
        if (r <= 0)
                return sdloop_error_invalid(error, "n", "expected D-Bus type 'x'");
        if (n < 0)
                return sdloop_error_invalid(error, "n", "must not be negative, got %" PRIi64, n);

        if (!ops->max_report_length)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->max_report_length(BINDING_DATA(userdata), n, &max, error), error);
        if (r != 0)
                return r;

        return max_report_length_reply(m, max, error);
}

int sdloop_report_codec_max_report_length_return(SdloopCall *c, int64_t max) {
        return SERVICE_RETURN(c, max_report_length_reply, max);
}

static const sd_bus_vtable report_codec_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("BuildReport", SD_BUS_ARGS("a(ussy)", observations),
                                SD_BUS_RESULT("ay", report), method_build_report,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MedianFromReport", SD_BUS_ARGS("ay", report), SD_BUS_RESULT("s", median),
                                method_median_from_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MaxReportLength", SD_BUS_ARGS("x", n), SD_BUS_RESULT("x", max),
                                method_max_report_length, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_report_codec_export(SdloopObject *o, const SdloopReportCodecOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.ReportCodec", report_codec_vtable, ops, userdata);
}
