/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How plugin processes are started and restarted. The exec backend forks them itself; the systemd
 * backends create a transient socket+service pair per plugin. Either way the plugin gets a listening
 * socket at HostPlugin.settings.socket_path and the host connects to it; restarts happen behind the
 * socket, so the host's reconnects queue instead of being refused. */

#include "host.h"

struct HostBackend {
        const char *name;
        int (*init)(Host *h);
        void (*done)(Host *h);
        /* Make the socket exist and the process start (or be startable on connect). */
        int (*start)(HostPlugin *p);
        /* Stop the process and remove the socket. */
        int (*stop)(HostPlugin *p);
        /* Explicit restart (operator request); n_restarts is the backend's business. The host reconnects
         * by itself: the backends only start, stop and restart processes and report their state. */
        int (*restart)(HostPlugin *p);
        /* Kill the process at once (SIGKILL) without stopping the plugin: the restart policy applies, as
         * after a crash (a hung plugin, a missed watchdog). */
        int (*kill)(HostPlugin *p);
        /* Adopt a plugin that is still running from a previous host instance; 0 if nothing to adopt. */
        int (*reattach)(HostPlugin *p);
        /* Release per-plugin state. */
        void (*free)(HostPlugin *p);
};

extern const HostBackend host_backend_exec;
extern const HostBackend host_backend_system;
extern const HostBackend host_backend_user;

const HostBackend *host_backend_from_string(const char *s);
