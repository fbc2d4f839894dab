/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.OnchainConfigCodec, the median provider's side: encodes the onchain config (min, max). */

#include "sdloop-provider.h"
#include "service-util.h"

static int encode_reply(sd_bus_message *m, const SdloopBytes *encoded, sd_bus_error *error) {
        int r;

        encoded = service_bytes_or_empty(encoded);
        r = service_check_return_bytes(m, "encoded", encoded, SDLOOP_PAYLOAD_MAX, error);
        if (r < 0)
                return r;

        return service_reply_bytes(m, encoded->data, encoded->size);
}

static int method_encode(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopOnchainConfigCodecOps *ops = BINDING_OPS(userdata, SdloopOnchainConfigCodecOps);
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig config = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes encoded = {};
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        /* Refuses malformed decimals and min > max. */
        r = sdloop_read_onchain_config(m, "onchain_config", &config, error);
        if (r < 0)
                return r;

        if (!ops->encode)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->encode(BINDING_DATA(userdata), &config, &encoded, error), error);
        if (r != 0)
                return r;

        return encode_reply(m, &encoded, error);
}

int sdloop_onchain_config_codec_encode_return(SdloopCall *c, const SdloopBytes *encoded) {
        return SERVICE_RETURN(c, encode_reply, encoded);
}

static int decode_reply(sd_bus_message *m, const SdloopOnchainConfig *config, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!config)
                return service_bad_return(m, error, "no onchain_config");
        r = service_check_return_decimal(m, "onchain_config.min", config->min, error);
        if (r < 0)
                return r;
        r = service_check_return_decimal(m, "onchain_config.max", config->max, error);
        if (r < 0)
                return r;
        if (sdloop_decimal_compare(config->min, config->max) > 0)
                return service_bad_return(m, error,
                                          "an onchain_config whose min %s is greater than its max %s",
                                          config->min, config->max);

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_onchain_config(reply, config);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_decode(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopOnchainConfigCodecOps *ops = BINDING_OPS(userdata, SdloopOnchainConfigCodecOps);
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig config = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes encoded = {};
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        r = sdloop_read_bytes(m, "encoded", SDLOOP_PAYLOAD_MAX, &encoded, error);
        if (r < 0)
                return r;

        if (!ops->decode)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->decode(BINDING_DATA(userdata), &encoded, &config, error), error);
        if (r != 0)
                return r;

        return decode_reply(m, &config, error);
}

int sdloop_onchain_config_codec_decode_return(SdloopCall *c, const SdloopOnchainConfig *config) {
        return SERVICE_RETURN(c, decode_reply, config);
}

static const sd_bus_vtable onchain_config_codec_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Encode", SD_BUS_ARGS("(ss)", onchain_config), SD_BUS_RESULT("ay", encoded),
                                method_encode, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Decode", SD_BUS_ARGS("ay", encoded), SD_BUS_RESULT("(ss)", onchain_config),
                                method_decode, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_onchain_config_codec_export(SdloopObject *o, const SdloopOnchainConfigCodecOps *ops,
                                       void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.OnchainConfigCodec", onchain_config_codec_vtable,
                                           ops, userdata);
}
