/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls org.sdloop1.ReportingPluginFactory on /org/sdloop1/factory/<n>. */

#include "sdloop-median.h"
#include "service-util.h"

int sdloop_reporting_plugin_factory_new_reporting_plugin(SdloopPeer *peer, const char *path,
                                                         const SdloopReportingPluginConfig *config,
                                                         char **ret_reporting_plugin,
                                                         SdloopReportingPluginInfo *ret_info,
                                                         sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_free_ char *plugin = NULL;
        const char *reason, *field;
        int r;

        if (!peer || !path || !config || !ret_reporting_plugin || !ret_info)
                return -EINVAL;

        r = sdloop_peer_new_call(peer, path, "org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", &m);
        if (r < 0)
                return r;
        r = sdloop_append_reporting_plugin_config(m, config);
        if (r < 0)
                return r;

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = service_read_reply_path(reply, &plugin, error);
        if (r < 0)
                return r;
        r = sdloop_read_reporting_plugin_info(reply, "NewReportingPlugin reply.info", &info, error);
        if (r < 0)
                return r;
        reason = service_reporting_plugin_info_check(&info, &field);
        if (reason) {
                char name[64];

                (void) snprintf(name, sizeof(name), "NewReportingPlugin reply.info.%s", field);
                return sdloop_error_invalid(error, name, "%s", reason);
        }

        *ret_reporting_plugin = TAKE_PTR(plugin);
        *ret_info = info;
        info = (SdloopReportingPluginInfo) {};
        return 0;
}
