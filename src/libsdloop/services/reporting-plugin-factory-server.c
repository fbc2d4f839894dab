/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ReportingPluginFactory, served on /org/sdloop1/factory/<n> of a median plugin. */

#include "sdloop-median.h"
#include "service-util.h"

static bool object_is_under(SdloopObject *o, SdloopObject *ancestor) {
        for (SdloopObject *i = sdloop_object_get_parent(o); i; i = sdloop_object_get_parent(i))
                if (i == ancestor)
                        return true;
        return false;
}

static int new_reporting_plugin_reply(sd_bus_message *m, SdloopObject *factory, SdloopObject *plugin,
                                      const SdloopReportingPluginInfo *info, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *reason, *field;
        int r;

        /* Under the factory, so that closing the factory closes its plugins, as in LOOP. */
        if (!plugin || !factory || !object_is_under(plugin, factory))
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "%s.%s: the implementation returned %s",
                                         "ReportingPluginFactory", "NewReportingPlugin",
                                         plugin ? "an object outside the factory" : "no object");

        if (info)
                reason = service_reporting_plugin_info_check(info, &field);
        else {
                field = "";
                reason = "missing";
        }
        if (reason) {
                /* The caller never learns the path: close the plugin, or nobody ever will. */
                sdloop_object_close(plugin);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "%s.%s: the implementation returned a bad info%s%s: %s",
                                         "ReportingPluginFactory", "NewReportingPlugin", isempty(field) ? "" : ".",
                                         field, reason);
        }

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                goto fail;
        r = sd_bus_message_append(reply, "o", sdloop_object_get_path(plugin));
        if (r < 0)
                goto fail;
        r = sdloop_append_reporting_plugin_info(reply, info);
        if (r < 0)
                goto fail;
        r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                goto fail;
        return 1;

fail:
        sdloop_object_close(plugin);
        return r;
}

static int method_new_reporting_plugin(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopReportingPluginFactoryOps *ops = BINDING_OPS(userdata, SdloopReportingPluginFactoryOps);
        _cleanup_(sdloop_reporting_plugin_config_done) SdloopReportingPluginConfig config = {};
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        SdloopObject *factory = BINDING_OBJECT(userdata), *plugin = NULL;
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        r = sdloop_read_reporting_plugin_config(m, "config", &config, error);
        if (r < 0)
                return r;

        if (!ops || !ops->new_reporting_plugin)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, factory);
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->new_reporting_plugin(BINDING_DATA(userdata), factory, &config, &plugin,
                                                                 &info, error), error);
        if (r != 0)
                return r;

        return new_reporting_plugin_reply(m, call.object, plugin, &info, error);
}

int sdloop_reporting_plugin_factory_new_reporting_plugin_return(SdloopCall *c, SdloopObject *plugin,
                                                                const SdloopReportingPluginInfo *info) {
        return SERVICE_RETURN(c, new_reporting_plugin_reply, sdloop_call_get_object(c), plugin, info);
}

static const sd_bus_vtable reporting_plugin_factory_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("NewReportingPlugin",
                                SD_BUS_ARGS("(ayyuuayaytttttt)", config),
                                SD_BUS_RESULT("o", reporting_plugin, "(sb(ttt))", info),
                                method_new_reporting_plugin, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_reporting_plugin_factory_export(SdloopObject *o, const SdloopReportingPluginFactoryOps *ops,
                                           void *userdata) {
        if (!o || !ops)
                return -EINVAL;

        return sdloop_object_add_interface(o, "org.sdloop1.ReportingPluginFactory",
                                           reporting_plugin_factory_vtable, ops, userdata);
}
