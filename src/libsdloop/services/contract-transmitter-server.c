/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ContractTransmitter, the provider's side: sends reports to the contract. */

#include "sdloop-provider.h"
#include "service-util.h"

/* The signatures are an array of allocations. */
typedef struct Signatures {
        SdloopAttributed *v;
        size_t n;
} Signatures;

static void signatures_done(Signatures *s) {
        sdloop_attributed_array_free(s->v, s->n);
        *s = (Signatures) {};
}

static int method_transmit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractTransmitterOps *ops = BINDING_OPS(userdata, SdloopContractTransmitterOps);
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        _cleanup_(signatures_done) Signatures signatures = {};
        _cleanup_(call_done) SdloopCall call = {};
        SdloopReportContext ctx;
        int r;

        r = sdloop_read_report_context(m, "report_context", &ctx, error);
        if (r < 0)
                return r;
        r = sdloop_read_bytes(m, "report", SDLOOP_PAYLOAD_MAX, &report, error);
        if (r < 0)
                return r;
        r = sdloop_read_attributed_array(m, "signatures", SERVICE_SIGNATURE_SIZE_MAX, &signatures.v, &signatures.n,
                                         error);
        if (r < 0)
                return r;
        if (signatures.n > SERVICE_SIGNATURES_MAX)
                return sdloop_error_invalid(error, "signatures", "expected at most %u, got %zu",
                                            SERVICE_SIGNATURES_MAX, signatures.n);

        if (!ops->transmit)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->transmit(BINDING_DATA(userdata), &ctx, &report, signatures.v,
                                                     signatures.n, error), error);
        if (r != 0)
                return r;

        /* No results: a deferred call is finished with sdloop_call_return_empty(). */
        return sd_bus_reply_method_return(m, NULL);
}

static int latest_config_digest_and_epoch_reply(sd_bus_message *m, const uint8_t *digest, uint32_t epoch,
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
        r = sd_bus_message_append_basic(reply, 'u', &epoch);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_latest_config_digest_and_epoch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractTransmitterOps *ops = BINDING_OPS(userdata, SdloopContractTransmitterOps);
        _cleanup_(call_done) SdloopCall call = {};
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        uint32_t epoch = 0;
        int r;

        if (!ops->latest_config_digest_and_epoch)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->latest_config_digest_and_epoch(BINDING_DATA(userdata), digest, &epoch,
                                                                           error), error);
        if (r != 0)
                return r;

        return latest_config_digest_and_epoch_reply(m, digest, epoch, error);
}

int sdloop_contract_transmitter_latest_config_digest_and_epoch_return(SdloopCall *c,
                                                                      const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                                                      uint32_t epoch) {
        return SERVICE_RETURN(c, latest_config_digest_and_epoch_reply, digest, epoch);
}

static int from_account_reply(sd_bus_message *m, const char *account, sd_bus_error *error) {
        int r;

        r = service_check_return_string(m, "account", account, error);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(m, "s", account);
}

static int method_from_account(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractTransmitterOps *ops = BINDING_OPS(userdata, SdloopContractTransmitterOps);
        _cleanup_(call_done) SdloopCall call = {};
        _cleanup_free_ char *account = NULL;
        int r;

        if (!ops->from_account)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->from_account(BINDING_DATA(userdata), &account, error), error);
        if (r != 0)
                return r;

        return from_account_reply(m, account, error);
}

int sdloop_contract_transmitter_from_account_return(SdloopCall *c, const char *account) {
        return SERVICE_RETURN(c, from_account_reply, account);
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
