/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.PluginRelayer, the host's side. */

#include "sdloop-plugin-relayer.h"
#include "service-util.h"

int sdloop_plugin_relayer_new_relayer(SdloopPeer *peer, const char *config, const char *keystore_path,
                                      char **ret_relayer, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if (!peer || !config || !keystore_path || !ret_relayer)
                return -EINVAL;

        if (!sd_bus_object_path_is_valid(keystore_path))
                return sdloop_error_invalid(error, "keystore", "not a valid object path");

        r = sdloop_peer_new_call(peer, SDLOOP_ROOT_PATH, "org.sdloop1.PluginRelayer", "NewRelayer", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", config);
        if (r < 0)
                return service_append_failed(error, "config", r);
        r = sd_bus_message_append(m, "o", keystore_path);
        if (r < 0)
                return service_append_failed(error, "keystore", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        return service_read_reply_object(reply, "NewRelayer reply.relayer", ret_relayer, error);
}
