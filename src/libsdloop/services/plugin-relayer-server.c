/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.PluginRelayer, the relayer plugin's side: NewRelayer on the root object. */

#include "sdloop-plugin-relayer.h"
#include "service-util.h"

/* The relayer's TOML configuration; generous, but one call may not make the plugin hold arbitrary text. */
#define PLUGIN_RELAYER_CONFIG_MAX (1024U * 1024U)

static int new_relayer_reply(sd_bus_message *m, SdloopObject *self, SdloopObject *relayer, sd_bus_error *error) {
        return service_reply_created(m, self, relayer, error);
}

static int method_new_relayer(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopPluginRelayerOps *ops = BINDING_OPS(userdata, SdloopPluginRelayerOps);
        SdloopObject *self = BINDING_OBJECT(userdata), *relayer = NULL;
        _cleanup_(call_done) SdloopCall call = {};
        const char *config, *keystore;
        int r;

        /* Any text: it is the relayer's to parse. */
        r = service_read_string(m, "config", PLUGIN_RELAYER_CONFIG_MAX, &config, error);
        if (r < 0)
                return r;

        /* The keystore lives on the host's side of this connection, so there is nothing to look up here;
         * but it must be one of the host's paths. */
        r = sdloop_read_host_path(m, "keystore", NULL, &keystore, error);
        if (r < 0)
                return r;

        if (!ops->new_relayer)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, self);
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->new_relayer(BINDING_DATA(userdata), self, config, keystore, &relayer,
                                                        error), error);
        if (r != 0)
                return r;

        return new_relayer_reply(m, call.object, relayer, error);
}

int sdloop_plugin_relayer_new_relayer_return(SdloopCall *c, SdloopObject *relayer) {
        return SERVICE_RETURN(c, new_relayer_reply, sdloop_call_get_object(c), relayer);
}

static const sd_bus_vtable plugin_relayer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("NewRelayer", SD_BUS_ARGS("s", config, "o", keystore), SD_BUS_RESULT("o", relayer),
                                method_new_relayer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_plugin_relayer_export(SdloopObject *root, const SdloopPluginRelayerOps *ops, void *userdata) {
        if (!root || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(root, "org.sdloop1.PluginRelayer", plugin_relayer_vtable, ops,
                                           userdata);
}
