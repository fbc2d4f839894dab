/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.OffchainConfigDigester, the caller's side. */

#include "sdloop-provider.h"
#include "service-util.h"

#define OFFCHAIN_CONFIG_DIGESTER_INTERFACE "org.sdloop1.OffchainConfigDigester"

int sdloop_offchain_config_digester_config_digest(SdloopPeer *peer, const char *path,
                                                  const SdloopContractConfig *config,
                                                  uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                  sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        int r;

        if (!peer || !path || !config || (!config->signers && config->n_signers > 0) || !ret_digest)
                return -EINVAL;

        r = sdloop_peer_new_call(peer, path, OFFCHAIN_CONFIG_DIGESTER_INTERFACE, "ConfigDigest", &m);
        if (r < 0)
                return r;
        r = sdloop_append_contract_config(m, config);
        if (r < 0)
                return service_append_failed(error, "contract_config", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(reply, "ConfigDigest reply.digest", digest, error);
        if (r < 0)
                return r;

        memcpy(ret_digest, digest, sizeof(digest));
        return 0;
}

int sdloop_offchain_config_digester_config_digest_prefix(SdloopPeer *peer, const char *path,
                                                         uint16_t *ret_prefix, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!peer || !path || !ret_prefix)
                return -EINVAL;

        r = service_call_simple(peer, path, OFFCHAIN_CONFIG_DIGESTER_INTERFACE, "ConfigDigestPrefix", &reply,
                                error);
        if (r < 0)
                return r;

        return service_read_reply_basic(reply, "ConfigDigestPrefix reply.prefix", 'q', ret_prefix, error);
}
