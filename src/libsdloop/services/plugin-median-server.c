/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.PluginMedian, served on the root object of a median plugin. */

#include "sdloop-median.h"
#include "service-util.h"

/* The four paths name host objects on this same connection: nothing of ours to look up, but each must be
 * where the host puts objects of its kind, checked now rather than when the implementation first calls it. */
static int new_median_factory_reply(sd_bus_message *m, SdloopObject *root, SdloopObject *factory,
                                    sd_bus_error *error) {
        /* The reply names an object the caller will talk to: it must exist on this connection. */
        if (!factory || !root || sdloop_object_get_peer(factory) != sdloop_object_get_peer(root))
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%s.%s: the implementation returned %s",
                                         "PluginMedian", "NewMedianFactory",
                                         factory ? "an object of another connection" : "no object");

        return service_reply_object(m, factory);
}

static int method_new_median_factory(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopPluginMedianOps *ops = BINDING_OPS(userdata, SdloopPluginMedianOps);
        SdloopObject *root = BINDING_OBJECT(userdata), *factory = NULL;
        _cleanup_(call_done) SdloopCall call = {};
        SdloopMedianDeps deps = {};
        int r;

        r = sdloop_read_host_path(m, "provider", "provider", &deps.provider, error);
        if (r < 0)
                return r;
        r = sdloop_read_host_path(m, "data_source", "data_source", &deps.data_source, error);
        if (r < 0)
                return r;
        r = sdloop_read_host_path(m, "juels_data_source", "data_source", &deps.juels_data_source, error);
        if (r < 0)
                return r;
        r = sdloop_read_host_path(m, "error_log", "error_log", &deps.error_log, error);
        if (r < 0)
                return r;

        if (!ops || !ops->new_median_factory)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, root);
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->new_median_factory(BINDING_DATA(userdata), root, &deps, &factory, error),
                             error);
        if (r != 0)
                return r;

        return new_median_factory_reply(m, call.object, factory, error);
}

int sdloop_plugin_median_new_median_factory_return(SdloopCall *c, SdloopObject *factory) {
        return SERVICE_RETURN(c, new_median_factory_reply, sdloop_call_get_object(c), factory);
}

static const sd_bus_vtable plugin_median_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("NewMedianFactory",
                                SD_BUS_ARGS("o", provider, "o", data_source, "o", juels_data_source,
                                            "o", error_log),
                                SD_BUS_RESULT("o", factory),
                                method_new_median_factory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_plugin_median_export(SdloopObject *root, const SdloopPluginMedianOps *ops, void *userdata) {
        if (!root || !ops)
                return -EINVAL;

        return sdloop_object_add_interface(root, "org.sdloop1.PluginMedian", plugin_median_vtable, ops,
                                           userdata);
}
