/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloopd: the host daemon. One sd-event loop drives the bus connection (org.sdloop1), the plugins'
 * peer-to-peer connections, the supervisor backend and the feeds' rounds.
 *
 * Manager requests that may call into plugins (Start/Stop/Restart/Reload), the initial start and the
 * shutdown are queued and run one at a time at top level (see the Host rule in host.h); their D-Bus reply
 * is sent when they are done. They may stop and free feeds at any time (a feed's round in flight is
 * cancelled), which they do before touching the plugins the feeds use (feeds.c). */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "host-handle.h"
#include "host-plugin.h"
#include "host-services.h"
#include "host.h"
#include "sdloopd-config.h"

#define MANAGER_PATH "/org/sdloop1"
#define MANAGER_INTERFACE "org.sdloop1.Manager"
#define INSTANCE_INTERFACE "org.sdloop1.PluginInstance"
#define INSTANCE_PATH_PREFIX "/org/sdloop1/plugin"

typedef struct Daemon Daemon;
typedef struct Instance Instance;
typedef struct Request Request;
typedef struct Reexport Reexport;
typedef struct DaemonFeed DaemonFeed;

struct Daemon {
        sd_event *event;
        sd_bus *bus;
        SdloopPeer *bus_peer; /* the bus, for exporting proxies on it */
        Host *host;
        HostKeystore *keystore;

        DaemonConfig *config;
        char *config_path; /* --config; NULL: the default of the scope */
        DaemonScope scope;
        const char *backend_name; /* "system", "user", "exec" */

        Instance *instances; /* sorted by name */
        DaemonFeed *feeds;   /* sorted by name; each on two of the instances */
        sd_bus_slot *manager_slot;

        Request *requests_head, *requests_tail;
        bool processing;
        sd_event_source *requests_retry;

        bool ready;
        bool shutting_down;
};

struct Instance {
        Daemon *daemon;
        HostPlugin *plugin;
        char *path;           /* /org/sdloop1/plugin/<escaped name> */
        sd_bus_slot *slot;

        char *relayer_config; /* kind "relayer": the NewRelayer config; NULL: no relayer */
        HostHandle *relayer;
        bool wanted;          /* should be running: false after StopPlugin */

        Reexport *reexports;

        /* As last announced on the bus, so that only real changes are signalled. */
        HostPluginState state;
        unsigned n_restarts;
        uint32_t main_pid;
        char *last_error;

        Instance *next;
};

/* instance.c */
int instance_new(Daemon *d, const DaemonPluginConfig *pc, Instance **ret);
/* Stop the plugin if @stop, release everything. */
void instance_free(Instance *i, bool stop);
Instance *daemon_find_instance(Daemon *d, const char *name);
/* Take new settings: stop, replace, start again if it was wanted. Top level. */
int instance_reconfigure(Instance *i, const DaemonPluginConfig *pc, sd_bus_error *error);
/* Top level: start (also from failed), create the relayer if configured. */
int instance_start(Instance *i, sd_bus_error *error);
/* Top level: connect to a plugin the backend adopted (reattach), create the relayer if configured. */
int instance_connect(Instance *i, sd_bus_error *error);
int instance_stop(Instance *i);
int instance_restart(Instance *i, sd_bus_error *error);
const char *instance_name(Instance *i);

void daemon_on_plugin_changed(HostPlugin *p, void *userdata);
void daemon_on_handle_added(HostHandle *h, void *userdata);
void daemon_on_handle_removed(HostHandle *h, void *userdata);

struct DaemonFeed {
        Daemon *daemon;
        Feed *feed;
        DaemonFeed *next;
};

/* feeds.c */
DaemonFeed *daemon_find_feed(Daemon *d, const char *name);
/* Create (not start) the feed of @fc on its configured plugins. */
int daemon_feed_new(Daemon *d, const DaemonFeedConfig *fc, DaemonFeed **ret);
void daemon_feed_free(DaemonFeed *f);
void daemon_feeds_free_all(Daemon *d);
/* Create every configured feed that does not exist yet. Returns how many were created. */
unsigned daemon_feeds_create_missing(Daemon *d);
/* Run the feeds whose plugins are both wanted; stop the others. */
void daemon_feeds_update(Daemon *d);
/* Stop the feeds that use @i's plugin: before it is stopped for good. */
void daemon_feeds_stop_using(Daemon *d, Instance *i);
/* Before @c replaces the configuration: free the feeds it removes or changes, stop those whose plugins it
 * removes or changes. Afterwards, daemon_feeds_create_missing() and daemon_feeds_update(). */
void daemon_feeds_reload_prepare(Daemon *d, const DaemonConfig *c, unsigned *ret_removed, unsigned *ret_changed);

/* manager.c */
int manager_export(Daemon *d);
/* Queue the start of every plugin (and READY=1 when done), or the orderly shutdown. */
int manager_queue_start_all(Daemon *d);
int manager_queue_shutdown(Daemon *d);
int manager_queue_reload(Daemon *d);
void manager_drop_requests(Daemon *d);
void manager_emit_state_changed(Daemon *d, Instance *i);

/* sdloopd.c */
void daemon_update_status(Daemon *d);
