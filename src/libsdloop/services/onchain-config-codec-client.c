/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.OnchainConfigCodec, the caller's side. */

#include "sdloop-provider.h"
#include "service-util.h"

#define ONCHAIN_CONFIG_CODEC_INTERFACE "org.sdloop1.OnchainConfigCodec"

/* The provider refuses these anyway; refusing them here names the field without a round trip. */
static int check_onchain_config(const SdloopOnchainConfig *config, sd_bus_error *error) {
        if (!sdloop_decimal_is_valid(config->min))
                return sdloop_error_invalid(error, "onchain_config.min", "not a decimal");
        if (!sdloop_decimal_is_valid(config->max))
                return sdloop_error_invalid(error, "onchain_config.max", "not a decimal");
        if (sdloop_decimal_compare(config->min, config->max) > 0)
                return sdloop_error_invalid(error, "onchain_config",
                                            "min %s must not be greater than max %s", config->min,
                                            config->max);
        return 0;
}

int sdloop_onchain_config_codec_encode(SdloopPeer *peer, const char *path, const SdloopOnchainConfig *config,
                                       SdloopBytes *ret_encoded, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        SdloopBytes encoded;
        int r;

        if (!peer || !path || !config || !ret_encoded)
                return -EINVAL;

        r = check_onchain_config(config, error);
        if (r < 0)
                return r;

        r = sdloop_peer_new_call(peer, path, ONCHAIN_CONFIG_CODEC_INTERFACE, "Encode", &m);
        if (r < 0)
                return r;
        r = sdloop_append_onchain_config(m, config);
        if (r < 0)
                return service_append_failed(error, "onchain_config", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_bytes(reply, "Encode reply.encoded", SDLOOP_PAYLOAD_MAX, &encoded, error);
        if (r < 0)
                return r;

        *ret_encoded = encoded;
        return 0;
}

int sdloop_onchain_config_codec_decode(SdloopPeer *peer, const char *path, const void *encoded, size_t size,
                                       SdloopOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        SdloopOnchainConfig config;
        int r;

        if (!peer || !path || !ret)
                return -EINVAL;

        r = service_check_bytes_arg("encoded", encoded, size, SDLOOP_PAYLOAD_MAX, error);
        if (r < 0)
                return r;

        r = sdloop_peer_new_call(peer, path, ONCHAIN_CONFIG_CODEC_INTERFACE, "Decode", &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, encoded, size);
        if (r < 0)
                return service_append_failed(error, "encoded", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        /* Refuses malformed decimals and min > max. */
        r = sdloop_read_onchain_config(reply, "Decode reply.onchain_config", &config, error);
        if (r < 0)
                return r;

        *ret = config;
        return 0;
}
