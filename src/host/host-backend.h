/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How plugin processes are started and restarted. The exec backend forks them itself; the systemd
 * backends create a transient socket+service pair per plugin. Either way the plugin gets a listening
 * socket at HostPlugin.settings.socket_path and the host connects to it; restarts happen behind the
 * socket, so the host's reconnects queue instead of being refused.
 *
 * No operation waits: start, stop, restart and reattach begin the work and say how it ended through
 * @done, later, from the event loop (never from inside the call itself). The operations on one plugin run
 * one after another in the order they were asked for: a start asked for while a stop is under way begins
 * once the stop is done, so the socket path and the unit names are free again. Backends only start, stop,
 * restart and kill processes and report what the processes do (host_plugin_update(),
 * host_plugin_process_lost()); bringing the plugin back is the host's one recovery path. */

#include "host-accounting.h"
#include "host.h"

/* How a backend operation ended: 0 (reattach: 1 when a running instance was adopted, 0 when there was
 * none), or a negative errno and @message (may be NULL) saying why. @p is valid during the call. */
typedef void (*host_backend_done_fn)(HostPlugin *p, int r, const char *message, void *userdata);

struct HostBackend {
        const char *name;
        /* At host_new(); nothing in it waits for the service manager (connecting only, at most). */
        int (*init)(Host *h);
        void (*done)(Host *h);
        /* Make the socket exist and the process start (or be startable on connect). */
        int (*start)(HostPlugin *p, host_backend_done_fn done, void *userdata);
        /* Stop the process and remove the socket. */
        int (*stop)(HostPlugin *p, host_backend_done_fn done, void *userdata);
        /* Explicit restart (operator request); n_restarts is the backend's business. The host reconnects
         * by itself. */
        int (*restart)(HostPlugin *p, host_backend_done_fn done, void *userdata);
        /* Kill the process at once (SIGKILL) without stopping the plugin: the restart policy applies, as
         * after a crash (a hung plugin, a missed watchdog). Nothing to wait for. */
        int (*kill)(HostPlugin *p);
        /* Adopt a plugin that is still running from a previous host instance. */
        int (*reattach)(HostPlugin *p, host_backend_done_fn done, void *userdata);
        /* Read the unit's accounting into q->accounting and host_accounting_request_complete() it from a
         * reply handler (q->slot holds the call). NULL: the host reads /proc of the main process. */
        int (*accounting)(HostAccountingRequest *q);
        /* Release per-plugin state. Completions still pending are dropped, not called; a stop under way
         * finishes by itself (the process is not left behind). */
        void (*free)(HostPlugin *p);
};

extern const HostBackend host_backend_exec;
extern const HostBackend host_backend_system;
extern const HostBackend host_backend_user;

const HostBackend *host_backend_from_string(const char *s);

/* Top level only (tools, tests, sdloopd's start-up work): reattach() and wait for its end, serving the
 * loop meanwhile. Returns 1 when a running instance was adopted, 0 when there was none, or a negative
 * errno. Refused inside a dispatch (host_run_until()). */
int host_backend_reattach(HostPlugin *p);
