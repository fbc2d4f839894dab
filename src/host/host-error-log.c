/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The host's ErrorLog: what a plugin reports goes to the journal as the host's own error record, stamped
 * SDLOOP_PLUGIN=<name> so that `journalctl SDLOOP_PLUGIN=<name>` shows it next to the plugin's own output.
 * The name is the one the host knows the plugin by, not one the plugin claims. */

#include "host-services.h"
#include "macro.h"

typedef struct HostErrorLog {
        char *plugin;
        char *field; /* "SDLOOP_PLUGIN=<plugin>" */
} HostErrorLog;

static void error_log_close(void *userdata) {
        HostErrorLog *l = userdata;

        free(l->plugin);
        free(l->field);
        free(l);
}

static int error_log_save_error(void *userdata, const char *message, sd_bus_error *error) {
        HostErrorLog *l = userdata;
        const char * const fields[] = { l->field, "SDLOOP_ERROR_LOG=1", NULL };

        (void) sdloop_log_internal(LOG_ERR, 0, __FILE__, __LINE__, __func__, fields, "Plugin %s: %s", l->plugin,
                                   message);
        return 0;
}

static const SdloopErrorLogOps error_log_ops = {
        .save_error = error_log_save_error,
};

int host_error_log_new(SdloopPeer *peer, SdloopObject *parent, const char *plugin, SdloopObject **ret) {
        static const SdloopObjectOps ops = {
                .name = "error_log",
                .close = error_log_close,
        };
        HostErrorLog *l;
        SdloopObject *o;
        int r;

        if (!peer || isempty(plugin))
                return -EINVAL;

        l = new0(HostErrorLog, 1);
        if (!l)
                return -ENOMEM;
        l->plugin = strdup(plugin);
        if (!l->plugin || asprintf(&l->field, "SDLOOP_PLUGIN=%s", plugin) < 0) {
                free(l->plugin);
                free(l);
                return -ENOMEM;
        }

        r = sdloop_object_new(peer, parent, "host/error_log", &ops, l, &o);
        if (r < 0) {
                error_log_close(l);
                return r;
        }
        /* From here on the object owns @l. */
        r = sdloop_error_log_export(o, &error_log_ops, l);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }
        if (ret)
                *ret = o;
        return 0;
}
