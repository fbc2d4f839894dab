/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ErrorLog, the plugin's side. */

#include "sdloop-error-log.h"
#include "service-util.h"

int sdloop_error_log_save_error(SdloopPeer *peer, const char *path, const char *message, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!peer || !path || !message)
                return -EINVAL;

        /* The size limit is the host's to enforce; what sd-bus cannot carry at all is refused here, under
         * the same name the host would use. */
        if (!service_utf8_is_valid(message))
                return sdloop_error_invalid(error, "message", "not valid UTF-8");

        r = sdloop_peer_new_call(peer, path, "org.sdloop1.ErrorLog", "SaveError", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", message);
        if (r < 0)
                return service_append_failed(error, "message", r);

        return sdloop_peer_call(peer, m, 0, NULL, error);
}
