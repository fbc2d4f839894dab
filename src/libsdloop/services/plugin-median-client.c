/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls org.sdloop1.PluginMedian on the root of a median plugin. */

#include "sdloop-median.h"
#include "service-util.h"

static int check_dep_path(const char *path, const char *field, sd_bus_error *error) {
        if (!path)
                return sdloop_error_invalid(error, field, "missing");
        if (!sd_bus_object_path_is_valid(path))
                return sdloop_error_invalid(error, field, "not a valid object path: \"%s\"", path);
        return 0;
}

int sdloop_plugin_median_new_median_factory(SdloopPeer *peer, const SdloopMedianDeps *deps,
                                            char **ret_factory, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!peer || !deps || !ret_factory)
                return -EINVAL;

        /* sd-bus would refuse to append a malformed path with a bare -EINVAL; say which one it is. */
        r = check_dep_path(deps->provider, "provider", error);
        if (r < 0)
                return r;
        r = check_dep_path(deps->data_source, "data_source", error);
        if (r < 0)
                return r;
        r = check_dep_path(deps->juels_data_source, "juels_data_source", error);
        if (r < 0)
                return r;
        r = check_dep_path(deps->error_log, "error_log", error);
        if (r < 0)
                return r;

        r = sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.PluginMedian", "NewMedianFactory",
                                    &reply, error, "oooo", deps->provider, deps->data_source,
                                    deps->juels_data_source, deps->error_log);
        if (r < 0)
                return r;

        return service_read_reply_path(reply, ret_factory, error);
}
