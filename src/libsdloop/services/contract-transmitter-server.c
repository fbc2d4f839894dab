/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ContractTransmitter, the provider's side: sends reports to the contract. */

#include "sdloop-provider.h"
#include "service-util.h"

static int transmit(sd_bus_message *m, void *userdata, const SdloopReportContext *ctx,
                    const SdloopBytes *report, sd_bus_error *error) {
        const SdloopContractTransmitterOps *ops = BINDING_OPS(userdata, SdloopContractTransmitterOps);
        SdloopAttributed *signatures = NULL;
        size_t n_signatures = 0;
        int r;

        r = sdloop_read_attributed_array(m, "signatures", SERVICE_SIGNATURE_SIZE_MAX, &signatures,
                                         &n_signatures, error);
        if (r < 0)
                return r;

        if (n_signatures > SERVICE_SIGNATURES_MAX)
                r = sdloop_error_invalid(error, "signatures", "expected at most %u, got %zu",
                                         SERVICE_SIGNATURES_MAX, n_signatures);
        else if (!ops->transmit)
                r = service_unimplemented(m, error);
        else {
                r = ops->transmit(BINDING_DATA(userdata), ctx, report, signatures, n_signatures, error);
                if (r < 0)
                        r = service_failed(m, r, error);
                else
                        r = sd_bus_reply_method_return(m, NULL);
        }

        sdloop_attributed_array_free(signatures, n_signatures);
        return r;
}

static int method_transmit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        SdloopReportContext ctx;
        int r;

        r = sdloop_read_report_context(m, "report_context", &ctx, error);
        if (r < 0)
                return r;
        r = sdloop_read_bytes(m, "report", SDLOOP_PAYLOAD_MAX, &report, error);
        if (r < 0)
                return r;

        /* The signatures are an array of allocations; transmit() owns them. */
        return transmit(m, userdata, &ctx, &report, error);
}

static int method_latest_config_digest_and_epoch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractTransmitterOps *ops = BINDING_OPS(userdata, SdloopContractTransmitterOps);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        uint32_t epoch = 0;
        int r;

        if (!ops->latest_config_digest_and_epoch)
                return service_unimplemented(m, error);

        r = ops->latest_config_digest_and_epoch(BINDING_DATA(userdata), digest, &epoch, error);
        if (r < 0)
                return service_failed(m, r, error);

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_digest(reply, digest);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 'u', &epoch);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_from_account(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractTransmitterOps *ops = BINDING_OPS(userdata, SdloopContractTransmitterOps);
        _cleanup_free_ char *account = NULL;
        int r;

        if (!ops->from_account)
                return service_unimplemented(m, error);

        r = ops->from_account(BINDING_DATA(userdata), &account, error);
        if (r < 0)
                return service_failed(m, r, error);

        r = service_check_return_string(m, "account", account, error);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(m, "s", account);
}

static const sd_bus_vtable contract_transmitter_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Transmit",
                                SD_BUS_ARGS("((ayuy)ay)", report_context, "ay", report,
                                            "a(ayy)", signatures),
                                SD_BUS_NO_RESULT, method_transmit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LatestConfigDigestAndEpoch", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("ay", digest, "u", epoch),
                                method_latest_config_digest_and_epoch, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("FromAccount", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", account),
                                method_from_account, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_contract_transmitter_export(SdloopObject *o, const SdloopContractTransmitterOps *ops,
                                       void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.ContractTransmitter", contract_transmitter_vtable,
                                           ops, userdata);
}
