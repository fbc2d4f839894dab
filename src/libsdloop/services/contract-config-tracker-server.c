/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ContractConfigTracker, the provider's side: the OCR config stored on chain, and the
 * ConfigChanged signal that LOOP could not remote (its Notify() channel always was nil). */

#include "sdloop-provider.h"
#include "service-util.h"

#define CONTRACT_CONFIG_TRACKER_INTERFACE "org.sdloop1.ContractConfigTracker"

static int latest_config_details_reply(sd_bus_message *m, uint64_t changed_in_block, const uint8_t *digest,
                                       sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = service_check_return_digest(m, "digest", digest, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 't', &changed_in_block);
        if (r < 0)
                return r;
        r = sdloop_append_digest(reply, digest);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_latest_config_details(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractConfigTrackerOps *ops = BINDING_OPS(userdata, SdloopContractConfigTrackerOps);
        _cleanup_(call_done) SdloopCall call = {};
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        uint64_t changed_in_block = 0;
        int r;

        if (!ops->latest_config_details)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->latest_config_details(BINDING_DATA(userdata), &changed_in_block, digest,
                                                                  error), error);
        if (r != 0)
                return r;

        return latest_config_details_reply(m, changed_in_block, digest, error);
}

int sdloop_contract_config_tracker_latest_config_details_return(SdloopCall *c, uint64_t changed_in_block,
                                                                const uint8_t digest[SDLOOP_DIGEST_SIZE]) {
        return SERVICE_RETURN(c, latest_config_details_reply, changed_in_block, digest);
}

/* What would make appending the config fail (or assert) is the implementation's fault. The semantic rules
 * (one transmitter per signer, 3f < n) are left to the reader on the other side. */
static int check_contract_config(sd_bus_message *m, const SdloopContractConfig *c, sd_bus_error *error) {
        int r;

        if (!c->signers && c->n_signers > 0)
                return service_bad_return(m, error, "contract_config.signers: %zu signers without data",
                                          c->n_signers);
        for (size_t i = 0; i < c->n_signers; i++) {
                r = service_check_return_bytes(m, "contract_config.signers[]", c->signers + i, 0, error);
                if (r < 0)
                        return r;
        }
        for (char **t = c->transmitters; t && *t; t++) {
                r = service_check_return_string(m, "contract_config.transmitters[]", *t, error);
                if (r < 0)
                        return r;
        }
        r = service_check_return_bytes(m, "contract_config.onchain_config", &c->onchain_config, 0, error);
        if (r < 0)
                return r;
        return service_check_return_bytes(m, "contract_config.offchain_config", &c->offchain_config, 0,
                                          error);
}

static int latest_config_reply(sd_bus_message *m, const SdloopContractConfig *config, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!config)
                return service_bad_return(m, error, "no contract_config");
        r = check_contract_config(m, config, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_contract_config(reply, config);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_latest_config(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractConfigTrackerOps *ops = BINDING_OPS(userdata, SdloopContractConfigTrackerOps);
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        _cleanup_(call_done) SdloopCall call = {};
        uint64_t changed_in_block;
        int r;

        r = sd_bus_message_read_basic(m, 't', &changed_in_block);
        if (r <= 0)
                return sdloop_error_invalid(error, "changed_in_block", "expected D-Bus type 't'");

        if (!ops->latest_config)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->latest_config(BINDING_DATA(userdata), changed_in_block, &config, error),
                             error);
        if (r != 0)
                return r;

        return latest_config_reply(m, &config, error);
}

int sdloop_contract_config_tracker_latest_config_return(SdloopCall *c, const SdloopContractConfig *config) {
        return SERVICE_RETURN(c, latest_config_reply, config);
}

static int latest_block_height_reply(sd_bus_message *m, uint64_t height, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "t", height);
}

static int method_latest_block_height(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopContractConfigTrackerOps *ops = BINDING_OPS(userdata, SdloopContractConfigTrackerOps);
        _cleanup_(call_done) SdloopCall call = {};
        uint64_t height = 0;
        int r;

        if (!ops->latest_block_height)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->latest_block_height(BINDING_DATA(userdata), &height, error), error);
        if (r != 0)
                return r;

        return latest_block_height_reply(m, height, error);
}

int sdloop_contract_config_tracker_latest_block_height_return(SdloopCall *c, uint64_t height) {
        return SERVICE_RETURN(c, latest_block_height_reply, height);
}

static const sd_bus_vtable contract_config_tracker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("LatestConfigDetails", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("t", changed_in_block, "ay", digest),
                                method_latest_config_details, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LatestConfig", SD_BUS_ARGS("t", changed_in_block),
                                SD_BUS_RESULT("(aytaayasyaytay)", contract_config), method_latest_config,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LatestBlockHeight", SD_BUS_NO_ARGS, SD_BUS_RESULT("t", block_height),
                                method_latest_block_height, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ConfigChanged", SD_BUS_ARGS("t", changed_in_block, "ay", digest), 0),
        SD_BUS_VTABLE_END,
};

int sdloop_contract_config_tracker_export(SdloopObject *o, const SdloopContractConfigTrackerOps *ops,
                                          void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, CONTRACT_CONFIG_TRACKER_INTERFACE,
                                           contract_config_tracker_vtable, ops, userdata);
}

int sdloop_contract_config_tracker_emit_config_changed(SdloopObject *o, uint64_t changed_in_block,
                                                       const uint8_t digest[static SDLOOP_DIGEST_SIZE]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        SdloopPeer *peer;
        int r;

        if (!o || !digest)
                return -EINVAL;

        peer = sdloop_object_get_peer(o);
        if (!sdloop_peer_is_connected(peer))
                return -ENOTCONN;

        /* On a peer-to-peer connection a signal needs no destination: the one peer gets it. */
        r = sd_bus_message_new_signal(sdloop_peer_get_bus(peer), &s, sdloop_object_get_path(o),
                                      CONTRACT_CONFIG_TRACKER_INTERFACE, "ConfigChanged");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(s, 't', &changed_in_block);
        if (r < 0)
                return r;
        r = sdloop_append_digest(s, digest);
        if (r < 0)
                return r;
        r = sd_bus_send(NULL, s, NULL);
        return r < 0 ? r : 0;
}
