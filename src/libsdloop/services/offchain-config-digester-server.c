/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.OffchainConfigDigester, the provider's side: computes config digests. */

#include "sdloop-provider.h"
#include "service-util.h"

static int config_digest_reply(sd_bus_message *m, const uint8_t *digest, sd_bus_error *error) {
        int r;

        r = service_check_return_digest(m, "digest", digest, error);
        if (r < 0)
                return r;

        return service_reply_bytes(m, digest, SDLOOP_DIGEST_SIZE);
}

static int method_config_digest(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopOffchainConfigDigesterOps *ops = BINDING_OPS(userdata, SdloopOffchainConfigDigesterOps);
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        _cleanup_(call_done) SdloopCall call = {};
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        int r;

        r = sdloop_read_contract_config(m, "contract_config", &config, error);
        if (r < 0)
                return r;

        if (!ops->config_digest)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->config_digest(BINDING_DATA(userdata), &config, digest, error), error);
        if (r != 0)
                return r;

        return config_digest_reply(m, digest, error);
}

int sdloop_offchain_config_digester_config_digest_return(SdloopCall *c, const uint8_t digest[SDLOOP_DIGEST_SIZE]) {
        return SERVICE_RETURN(c, config_digest_reply, digest);
}

static int config_digest_prefix_reply(sd_bus_message *m, uint16_t prefix, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "q", prefix);
}

static int method_config_digest_prefix(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopOffchainConfigDigesterOps *ops = BINDING_OPS(userdata, SdloopOffchainConfigDigesterOps);
        _cleanup_(call_done) SdloopCall call = {};
        uint16_t prefix = 0;
        int r;

        if (!ops->config_digest_prefix)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->config_digest_prefix(BINDING_DATA(userdata), &prefix, error), error);
        if (r != 0)
                return r;

        return config_digest_prefix_reply(m, prefix, error);
}

int sdloop_offchain_config_digester_config_digest_prefix_return(SdloopCall *c, uint16_t prefix) {
        return SERVICE_RETURN(c, config_digest_prefix_reply, prefix);
}

static const sd_bus_vtable offchain_config_digester_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ConfigDigest", SD_BUS_ARGS("(aytaayasyaytay)", contract_config),
                                SD_BUS_RESULT("ay", digest), method_config_digest,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ConfigDigestPrefix", SD_BUS_NO_ARGS, SD_BUS_RESULT("q", prefix),
                                method_config_digest_prefix, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_offchain_config_digester_export(SdloopObject *o, const SdloopOffchainConfigDigesterOps *ops,
                                           void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.OffchainConfigDigester",
                                           offchain_config_digester_vtable, ops, userdata);
}
