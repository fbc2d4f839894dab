/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Watching org.sdloop1.ContractConfigTracker.ConfigChanged, validated before the handler sees it. The
 * method calls of the interface are generated (client-contract-config-tracker.c). */

#include "sdloop-log.h"
#include "sdloop-provider.h"
#include "service-util.h"

#define CONTRACT_CONFIG_TRACKER_INTERFACE "org.sdloop1.ContractConfigTracker"

typedef struct ConfigChangedWatch {
        sd_bus_message_handler_t handler;
        void *userdata;
} ConfigChangedWatch;

static int on_config_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        ConfigChangedWatch *w = userdata;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint64_t changed_in_block;
        int r;

        /* The signal comes from the other side and is checked like a reply; the handler only ever sees a
         * well-formed one. */
        if (!sd_bus_message_has_signature(m, "tay")) {
                log_warning("Ignoring ConfigChanged from %s with signature '%s', expected 'tay'.",
                            strempty(sd_bus_message_get_path(m)),
                            strempty(sd_bus_message_get_signature(m, true)));
                return 0;
        }
        r = sd_bus_message_read_basic(m, 't', &changed_in_block);
        if (r == 0)
                r = -EBADMSG;
        if (r > 0)
                r = sdloop_read_digest(m, "digest", digest, &e);
        if (r < 0) {
                if (sd_bus_error_is_set(&e))
                        log_warning("Ignoring malformed ConfigChanged from %s: %s",
                                    strempty(sd_bus_message_get_path(m)), e.message);
                else
                        log_warning_errno(r, "Ignoring malformed ConfigChanged from %s: %m",
                                          strempty(sd_bus_message_get_path(m)));
                return 0;
        }

        r = sd_bus_message_rewind(m, true);
        if (r < 0)
                return r;

        return w->handler(m, w->userdata, error);
}

int sdloop_contract_config_tracker_watch(SdloopPeer *peer, const char *path, sd_bus_slot **ret_slot,
                                         sd_bus_message_handler_t handler, void *userdata) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ ConfigChangedWatch *w = NULL;
        int r;

        if (!peer || !path || !sd_bus_object_path_is_valid(path) || !handler)
                return -EINVAL;

        w = new0(ConfigChangedWatch, 1);
        if (!w)
                return -ENOMEM;
        w->handler = handler;
        w->userdata = userdata;

        /* Peer to peer there is no bus daemon to tell about the match, and no sender name to match on: the
         * match stays local to this connection. */
        r = sd_bus_match_signal(sdloop_peer_get_bus(peer), &slot, NULL, path,
                                CONTRACT_CONFIG_TRACKER_INTERFACE, "ConfigChanged", on_config_changed, w);
        if (r < 0)
                return r;
        r = sd_bus_slot_set_destroy_callback(slot, free);
        if (r < 0)
                return r;
        TAKE_PTR(w);

        if (ret_slot)
                *ret_slot = TAKE_PTR(slot);
        else {
                /* Without a slot to hold, the match lives as long as the connection. */
                r = sd_bus_slot_set_floating(slot, true);
                if (r < 0)
                        return r;
        }
        return 0;
}
