/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The plugin runtime. A plugin's main() fills a SdloopPluginDescription and calls sdloop_plugin_run():
 *
 *   - the listening socket comes from systemd (sd_listen_fds(), socket activation) or from --listen PATH;
 *   - every accepted connection is checked with SO_PEERCRED (root or our own uid only) and served as
 *     peer-to-peer D-Bus; org.freedesktop.DBus.Hello is answered so that busctl --address= works;
 *   - the root object /org/sdloop1 carries org.sdloop1.Plugin (Name, Kind, Version, ProtocolVersion: the
 *     handshake) and org.sdloop1.Service; @connection_setup adds the plugin's root interfaces;
 *   - READY=1, STATUS=, STOPPING=1 go to systemd, the watchdog is fed, SIGTERM/SIGINT stop cleanly. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "sdloop-object.h"
#include "sdloop-peer.h"

typedef struct SdloopPlugin SdloopPlugin;

typedef struct SdloopPluginDescription {
        const char *name;    /* default instance name, overridden by --name or $SDLOOP_PLUGIN */
        const char *kind;    /* SDLOOP_KIND_RELAYER, SDLOOP_KIND_MEDIAN, … */
        const char *version; /* the plugin's own version */
        /* Export the plugin's root interfaces on @root for a new connection. */
        int (*connection_setup)(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata);
        /* Plugin-wide health entries, added to the root object's report. */
        int (*health_report)(void *userdata, SdloopHealth *health);
        /* Called once before the loop starts, after options are parsed. */
        int (*startup)(SdloopPlugin *plugin, void *userdata);
        /* Called once after the loop ends. */
        void (*shutdown)(SdloopPlugin *plugin, void *userdata);
        void *userdata;
} SdloopPluginDescription;

/* Parse the command line, serve until SIGTERM and return the process exit status. Options:
 *   --listen PATH     bind PATH ourselves instead of taking a socket from systemd
 *   --name NAME       instance name (also $SDLOOP_PLUGIN)
 *   --crash-after N   test knob: exit with status 3 when the N-th method call arrives ($SDLOOP_CRASH_AFTER)
 *   --version, --help */
int sdloop_plugin_run(const SdloopPluginDescription *description, int argc, char *argv[]);

sd_event *sdloop_plugin_get_event(SdloopPlugin *plugin);
const char *sdloop_plugin_get_name(SdloopPlugin *plugin);
/* Arguments left after the runtime's own options (NULL-terminated). */
char **sdloop_plugin_get_args(SdloopPlugin *plugin);
/* Update STATUS= for systemctl status. */
void sdloop_plugin_set_status(SdloopPlugin *plugin, const char *format, ...) __attribute__((format(printf, 2, 3)));
