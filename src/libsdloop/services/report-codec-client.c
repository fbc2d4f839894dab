/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ReportCodec, the caller's side. */

#include "sdloop-provider.h"
#include "service-util.h"

#define REPORT_CODEC_INTERFACE "org.sdloop1.ReportCodec"

/* The provider refuses malformed decimals anyway; refusing them here names the field without a round
 * trip. */
static int check_observations(const SdloopParsedObservation *obs, size_t n_obs, sd_bus_error *error) {
        if (!obs && n_obs > 0)
                return -EINVAL;

        for (size_t i = 0; i < n_obs; i++) {
                char field[64];

                if (!sdloop_decimal_is_valid(obs[i].value)) {
                        (void) snprintf(field, sizeof(field), "observations[%zu].value", i);
                        return sdloop_error_invalid(error, field, "not a decimal");
                }
                if (!sdloop_decimal_is_valid(obs[i].juels_per_fee_coin)) {
                        (void) snprintf(field, sizeof(field), "observations[%zu].juels_per_fee_coin", i);
                        return sdloop_error_invalid(error, field, "not a decimal");
                }
        }
        return 0;
}

int sdloop_report_codec_build_report(SdloopPeer *peer, const char *path, const SdloopParsedObservation *obs,
                                     size_t n_obs, SdloopBytes *ret_report, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        SdloopBytes report;
        int r;

        if (!peer || !path || !ret_report)
                return -EINVAL;

        r = check_observations(obs, n_obs, error);
        if (r < 0)
                return r;

        r = sdloop_peer_new_call(peer, path, REPORT_CODEC_INTERFACE, "BuildReport", &m);
        if (r < 0)
                return r;
        r = sdloop_append_parsed_observations(m, obs, n_obs);
        if (r < 0)
                return service_append_failed(error, "observations", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_bytes(reply, "BuildReport reply.report", SDLOOP_PAYLOAD_MAX, &report, error);
        if (r < 0)
                return r;

        *ret_report = report;
        return 0;
}

int sdloop_report_codec_median_from_report(SdloopPeer *peer, const char *path, const void *report,
                                           size_t size, char **ret_median, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        char *median;
        int r;

        if (!peer || !path || !ret_median)
                return -EINVAL;

        r = service_check_bytes_arg("report", report, size, SDLOOP_PAYLOAD_MAX, error);
        if (r < 0)
                return r;

        r = sdloop_peer_new_call(peer, path, REPORT_CODEC_INTERFACE, "MedianFromReport", &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, report, size);
        if (r < 0)
                return service_append_failed(error, "report", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_decimal(reply, "MedianFromReport reply.median", &median, error);
        if (r < 0)
                return r;

        *ret_median = median;
        return 0;
}

int sdloop_report_codec_max_report_length(SdloopPeer *peer, const char *path, int64_t n, int64_t *ret_max,
                                          sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int64_t max;
        int r;

        if (!peer || !path || !ret_max)
                return -EINVAL;

        if (n < 0)
                return sdloop_error_invalid(error, "n", "must not be negative, got %" PRIi64, n);

        r = sdloop_peer_call_method(peer, path, REPORT_CODEC_INTERFACE, "MaxReportLength", &reply, error,
                                    "x", n);
        if (r < 0)
                return r;

        r = service_read_reply_basic(reply, "MaxReportLength reply.max", 'x', &max, error);
        if (r < 0)
                return r;
        if (max < 0)
                return sdloop_error_invalid(error, "MaxReportLength reply.max",
                                            "must not be negative, got %" PRIi64, max);

        *ret_max = max;
        return 0;
}
