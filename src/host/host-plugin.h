/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "host.h"

typedef enum HostPluginState {
        HOST_PLUGIN_STOPPED,
        HOST_PLUGIN_STARTING,
        HOST_PLUGIN_RUNNING,
        HOST_PLUGIN_RECOVERING, /* connection lost; waiting for the restarted process */
        HOST_PLUGIN_FAILED,     /* gave up (start limit hit); LastError says why */
        HOST_PLUGIN_STOPPING,
        _HOST_PLUGIN_STATE_MAX,
        _HOST_PLUGIN_STATE_INVALID = -EINVAL,
} HostPluginState;

const char *host_plugin_state_to_string(HostPluginState s);

typedef enum HostRestart {
        HOST_RESTART_NO,
        HOST_RESTART_ON_FAILURE,
        HOST_RESTART_ON_ABNORMAL,
        HOST_RESTART_ALWAYS,
        _HOST_RESTART_MAX,
        _HOST_RESTART_INVALID = -EINVAL,
} HostRestart;

const char *host_restart_to_string(HostRestart r);
HostRestart host_restart_from_string(const char *s);

typedef struct HostPluginSettings {
        char *name;
        char *kind;
        char *binary;
        char **args;        /* NULL-terminated, without argv[0] */
        char **environment; /* "K=V", NULL-terminated */
        char *socket_path;
        /* The exec backend's $STATE_DIRECTORY for the plugin (made 0700 on start; NULL: none). The systemd
         * backends give StateDirectory=sdloop-<name> instead. */
        char *state_directory;

        HostRestart restart;
        uint64_t restart_usec;
        unsigned start_limit_burst;
        uint64_t start_limit_interval_usec;
        uint64_t watchdog_usec;
        uint64_t call_timeout_usec; /* per-call deadline, also for waiting out a restart */

        /* Resource limits and sandboxing (systemd backends; 0/NULL = unset). */
        uint64_t memory_max;
        uint64_t tasks_max;
        uint64_t cpu_quota_per_sec_usec;
        bool dynamic_user;
        char *user;
        bool sandbox; /* ProtectSystem=strict, NoNewPrivileges, PrivateTmp, no capabilities, AF_UNIX only… */

        /* Testing: the n-th start of the process gets --crash-after n*crash_after_step. */
        uint64_t crash_after_step;
} HostPluginSettings;

void host_plugin_settings_done(HostPluginSettings *s);
/* Defaults: restart on-failure, 100 ms, start limit 5 in 10 s, call timeout 10 s, sandbox on. */
void host_plugin_settings_init(HostPluginSettings *s);

struct HostPlugin {
        Host *host;
        HostPluginSettings settings;

        HostPluginState state;
        unsigned n_restarts;
        uint32_t main_pid;
        char *last_error;
        char *unit; /* the unit (systemd backends) or a description (exec) */

        SdloopPeer *peer;
        SdloopPeer *dead_peer; /* the lost connection, released from top level */
        bool ensuring;
        sd_event_source *recover_timer;
        SdloopPluginIdentity identity;
        uint64_t generation; /* bumped on every new connection */
        uint64_t lost_usec; /* when the connection was lost */
        uint64_t last_recovery_usec; /* how long the last recovery took */

        HostHandle *handles_head, *handles_tail; /* creation order: parents before children */

        /* Export the host's objects (Keystore, …) on a new connection, before handles are replayed. */
        int (*on_connect)(HostPlugin *p, SdloopPeer *peer, void *userdata);
        void *on_connect_userdata;

        void *backend_data;
        HostPlugin *next;
};

/* Take over @settings (zeroed on success). */
int host_plugin_new(Host *h, HostPluginSettings *settings, HostPlugin **ret);
void host_plugin_free(HostPlugin *p);

/* Start the process (backend) and connect (top level). */
int host_plugin_start(HostPlugin *p, sd_bus_error *error);
int host_plugin_stop(HostPlugin *p);
int host_plugin_restart(HostPlugin *p, sd_bus_error *error);

/* Make sure the plugin is connected and all handles exist on the current process, waiting for a restart
 * until @deadline (CLOCK_MONOTONIC µs). Top level only. PluginUnavailable when it cannot. */
int host_plugin_ensure(HostPlugin *p, uint64_t deadline, sd_bus_error *error);

/* For backends: report what the process is doing. NULL/0 arguments leave a field as is. */
void host_plugin_update(HostPlugin *p, HostPluginState state, const unsigned *n_restarts, const uint32_t *main_pid,
                        const char *last_error);

uint64_t host_now(void);
