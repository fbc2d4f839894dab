/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.MedianContract, the median provider's side: reads the median aggregator contract. */

#include "sdloop-provider.h"
#include "service-util.h"

static int latest_transmission_details_reply(sd_bus_message *m, const uint8_t *digest, uint32_t epoch, uint8_t round,
                                             const char *answer, int64_t timestamp_usec, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = service_check_return_digest(m, "digest", digest, error);
        if (r < 0)
                return r;
        r = service_check_return_decimal(m, "latest_answer", answer, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_digest(reply, digest);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "uysx", epoch, round, answer, timestamp_usec);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_latest_transmission_details(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopMedianContractOps *ops = BINDING_OPS(userdata, SdloopMedianContractOps);
        _cleanup_(call_done) SdloopCall call = {};
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        _cleanup_free_ char *answer = NULL;
        int64_t timestamp_usec = 0;
        uint32_t epoch = 0;
        uint8_t round = 0;
        int r;

        if (!ops->latest_transmission_details)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->latest_transmission_details(BINDING_DATA(userdata), digest, &epoch, &round,
                                                                        &answer, &timestamp_usec, error), error);
        if (r != 0)
                return r;

        return latest_transmission_details_reply(m, digest, epoch, round, answer, timestamp_usec, error);
}

int sdloop_median_contract_latest_transmission_details_return(SdloopCall *c, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                                              uint32_t epoch, uint8_t round, const char *latest_answer,
                                                              int64_t latest_timestamp_usec) {
        return SERVICE_RETURN(c, latest_transmission_details_reply, digest, epoch, round, latest_answer,
                              latest_timestamp_usec);
}

static int latest_round_requested_reply(sd_bus_message *m, const uint8_t *digest, uint32_t epoch, uint8_t round,
                                        sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = service_check_return_digest(m, "digest", digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_digest(reply, digest);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "uy", epoch, round);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_latest_round_requested(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopMedianContractOps *ops = BINDING_OPS(userdata, SdloopMedianContractOps);
        _cleanup_(call_done) SdloopCall call = {};
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        uint64_t lookback_usec;
        uint32_t epoch = 0;
        uint8_t round = 0;
        int r;

        r = sd_bus_message_read_basic(m, 't', &lookback_usec);
        if (r <= 0)
                return sdloop_error_invalid(error, "lookback_usec", "expected D-Bus type 't'");

        if (!ops->latest_round_requested)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->latest_round_requested(BINDING_DATA(userdata), lookback_usec, digest,
                                                                   &epoch, &round, error), error);
        if (r != 0)
                return r;

        return latest_round_requested_reply(m, digest, epoch, round, error);
}

int sdloop_median_contract_latest_round_requested_return(SdloopCall *c, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                                         uint32_t epoch, uint8_t round) {
        return SERVICE_RETURN(c, latest_round_requested_reply, digest, epoch, round);
}

static const sd_bus_vtable median_contract_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("LatestTransmissionDetails", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("ay", digest, "u", epoch, "y", round, "s", latest_answer,
                                              "x", latest_timestamp_usec),
                                method_latest_transmission_details, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LatestRoundRequested", SD_BUS_ARGS("t", lookback_usec),
                                SD_BUS_RESULT("ay", digest, "u", epoch, "y", round),
                                method_latest_round_requested, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_median_contract_export(SdloopObject *o, const SdloopMedianContractOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.MedianContract", median_contract_vtable, ops,
                                           userdata);
}
