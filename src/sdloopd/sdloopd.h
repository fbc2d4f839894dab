/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloopd: the host daemon. One sd-event loop drives the bus connection (org.sdloop1), the plugins'
 * peer-to-peer connections, the supervisor backend and the feeds' rounds, and nothing in sdloopd waits
 * inside it.
 *
 * Manager requests that call into plugins (Start/Stop/Restart/Reload), the initial start and the shutdown
 * are asynchronous state machines (manager.c): the method call is kept, the host's asynchronous API is
 * driven, and the reply goes out when they are done or, with org.sdloop1.Error.Timeout, at their deadline
 * (the plugin's call timeout). Requests on different plugins run side by side; those on one plugin, and
 * those on all of them (Reload, start-up, shutdown), one after another. A feed stopped or freed by
 * one cancels its round's calls (feeds.c). */

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
typedef struct MetricsHttp MetricsHttp;
typedef struct OtlpExporter OtlpExporter;

/* How an instance's asynchronous operation ended: 0, or a negative errno with @error set. */
typedef void (*instance_done_fn)(Instance *i, int r, const sd_bus_error *error, void *userdata);

/* How long a re-exported object's HealthReport, Ready or Introspect may take (at most the plugin's call
 * timeout): operators' tools ask these, and one plugin must not hold them up. */
#define DAEMON_PROBE_CALL_TIMEOUT_USEC (2 * USEC_PER_SEC)

struct Daemon {
        sd_event *event;
        sd_bus *bus;
        SdloopPeer *bus_peer; /* the bus, for exporting proxies on it */
        Host *host;
        /* The feeds' OCR signing keys (<state>/keys): used in this process by the feed driver only, never
         * exported on any connection. Each relayer gets a Keystore of its own (Instance.keystore). */
        HostKeystore *ocr_keystore;
        char *keys_state_directory; /* the state directory the keys were found in at start-up */

        DaemonConfig *config;
        char *config_path; /* --config; NULL: the default of the scope */
        DaemonScope scope;
        const char *backend_name; /* "system", "user", "exec" */

        Instance *instances; /* sorted by name */
        DaemonFeed *feeds;   /* sorted by name; each on two of the instances */
        sd_bus_slot *manager_slot;

        Request *requests_head, *requests_tail; /* arrival order, running and waiting */
        sd_event_source *requests_kick;  /* deferred: run what may run, finish what is done */
        bool dispatching, dispatch_again;

        sd_bus_slot *reexport_filter;

        MetricsHttp *metrics; /* the Prometheus endpoint (metrics-http.c); NULL: off */
        OtlpExporter *otlp;   /* spans to CL_TRACING_COLLECTOR_TARGET (otlp.c); NULL: none */

        bool ready;
        bool shutting_down;
};

struct Instance {
        Daemon *daemon;
        HostPlugin *plugin;
        char *path;           /* /org/sdloop1/plugin/<escaped name> */
        sd_bus_slot *slot;

        char *relayer_config; /* kind "relayer": the NewRelayer config; NULL: no relayer */
        /* Kind "relayer": its chain accounts, <state>/relayers/<name>/keys, the only Keystore its connections
         * see. Made on the first connection. */
        HostKeystore *keystore;
        HostHandle *relayer;
        bool wanted;          /* should be running: false after StopPlugin */

        /* The asynchronous operation in progress (start, restart, connect): told once, at the latest at
         * the plugin's call timeout. One at a time (manager.c serialises requests per plugin). */
        instance_done_fn op_done;
        void *op_userdata;
        HostPluginWaiter *op_waiter; /* waiting for RUNNING */
        bool op_relayer;             /* the relayer's creation is in flight */
        bool op_reattach;            /* the backend is asked whether it runs already */

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
/* Stop the plugin if @stop, release everything. An operation in progress is told PluginUnavailable first. */
void instance_free(Instance *i, bool stop);
Instance *daemon_find_instance(Daemon *d, const char *name);
Instance *instance_from_plugin(HostPlugin *p);
/* Take new settings: stop, replace. *@ret_start: whether it was wanted, and is to be started again. */
int instance_reconfigure(Instance *i, const DaemonPluginConfig *pc, bool *ret_start);
/* Asynchronous, @done told once (never from inside the call): start (also from failed) and create the
 * relayer if configured; the same after a restart; the same for a plugin the backend adopted (reattach). */
int instance_start_async(Instance *i, instance_done_fn done, void *userdata);
int instance_restart_async(Instance *i, instance_done_fn done, void *userdata);
int instance_connect_async(Instance *i, instance_done_fn done, void *userdata);
/* Forget the operation in progress: its @done is not called. */
void instance_cancel_op(Instance *i);
bool instance_busy(Instance *i);
/* Told once the process is gone (StopPlugin, shutdown). */
int instance_stop_async(Instance *i, instance_done_fn done, void *userdata);
/* Adopt what a previous sdloopd left running (systemd backends), else start; then as instance_start_async(). */
int instance_adopt_or_start_async(Instance *i, instance_done_fn done, void *userdata);
const char *instance_name(Instance *i);
/* Kind "relayer": its own Keystore (made on first use), else -EOPNOTSUPP. */
int instance_keystore(Instance *i, HostKeystore **ret);

void daemon_on_plugin_changed(HostPlugin *p, void *userdata);

/* reexport.c: every handle's object on the bus at its stable path. HealthReport, Ready and Introspect of
 * these are answered within DAEMON_PROBE_CALL_TIMEOUT_USEC whatever the plugin does, and HealthReport names
 * the plugin's objects by their stable paths. */
int reexport_setup(Daemon *d);
void reexport_free_all(Instance *i);
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
/* Queue the start of every plugin (and READY=1 when done), or the orderly shutdown (which answers the
 * requests still pending with PluginUnavailable first). */
int manager_queue_start_all(Daemon *d);
int manager_queue_shutdown(Daemon *d);
int manager_queue_reload(Daemon *d);
/* Answer every pending request with PluginUnavailable and forget them. */
void manager_drop_requests(Daemon *d);
void manager_emit_state_changed(Daemon *d, Instance *i);

/* sdloopd.c */
void daemon_update_status(Daemon *d);
