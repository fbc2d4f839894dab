/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "host-accounting.h"
#include "host.h"

typedef enum HostPluginState {
        HOST_PLUGIN_STOPPED,
        HOST_PLUGIN_STARTING,
        HOST_PLUGIN_RUNNING,
        HOST_PLUGIN_RECOVERING, /* connection lost; waiting for the restarted process */
        HOST_PLUGIN_FAILED,     /* gave up (start limit hit); LastError says why */
        HOST_PLUGIN_STOPPING,
        HOST_PLUGIN_UNRESPONSIVE, /* connected, but its event loop does not answer the health probe */
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
        /* The binary's SHA-256 as 64 lower-case hex digits (NULL: not pinned): checked before every start
         * and restart the host makes (host-integrity.c). */
        char *binary_sha256;
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

        /* Health probes (host-probe.c): a Peer.Ping every interval (0: none) while the plugin runs, each
         * with its own deadline (0: the interval); after probe_failures unanswered ones in a row the
         * plugin is treated as crashed. */
        uint64_t probe_interval_usec;
        uint64_t probe_timeout_usec;
        unsigned probe_failures;

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
/* A hung plugin is restarted by default: WatchdogSec= for units, enforced by the exec backend itself. */
#define HOST_WATCHDOG_USEC_DEFAULT (10 * USEC_PER_SEC)
/* A frozen plugin (alive, connected, its loop stopped) is noticed within interval × failures. */
#define HOST_PROBE_INTERVAL_USEC_DEFAULT (1 * USEC_PER_SEC)
#define HOST_PROBE_FAILURES_DEFAULT 3U
/* Defaults: restart on-failure, 100 ms, start limit 5 in 10 s, watchdog 10 s, call timeout 10 s, a probe
 * every second (3 missed: restarted), sandbox on. */
void host_plugin_settings_init(HostPluginSettings *s);

typedef struct HostPluginWaiter HostPluginWaiter;

/* Told once how an asynchronous plugin operation ended: 0, or a negative errno with @error set
 * (org.sdloop1.Error.PluginUnavailable when the plugin did not come up in time, stopped or failed). */
typedef void (*host_plugin_done_fn)(HostPlugin *p, int r, const sd_bus_error *error, void *userdata);

/* Where a plugin's state machine is (HostPlugin.state says what an operator sees). */
typedef enum HostPluginStep {
        HOST_PLUGIN_STEP_IDLE,      /* nothing to do: running, stopped or failed */
        HOST_PLUGIN_STEP_BACKOFF,   /* the last attempt failed; the next one is scheduled */
        HOST_PLUGIN_STEP_HANDSHAKE, /* connected; GetAll(org.sdloop1.Plugin) in flight */
        HOST_PLUGIN_STEP_CREATE,    /* a handle's create call in flight */
        HOST_PLUGIN_STEP_DEPENDENCY, /* a handle waits for an object of another plugin */
        _HOST_PLUGIN_STEP_MAX,
        _HOST_PLUGIN_STEP_INVALID = -EINVAL,
} HostPluginStep;

struct HostPlugin {
        Host *host;
        HostPluginSettings settings;

        HostPluginState state;
        unsigned n_restarts;
        uint32_t main_pid;
        char *last_error;
        char *unit; /* the unit (systemd backends) or a description (exec) */

        /* The state machine (host-recovery.c). */
        HostPluginStep step;
        SdloopPeer *peer;          /* the current connection, handshake done */
        SdloopPeer *candidate;     /* the connection being handshaken */
        sd_bus_slot *handshake_slot;
        SdloopPeer *dead_peer;     /* a lost connection, let go of from the next step */
        sd_event_source *step_timer; /* the next step: now, or after the back-off */
        uint64_t backoff_usec;
        HostHandle *creating;      /* whose create call is in flight */
        HostHandle *blocked_on;    /* STEP_DEPENDENCY: the object of another plugin waited for */
        HostPluginWaiter *waiters; /* told when RUNNING, or why not */
        SdloopPluginIdentity identity;
        uint64_t generation; /* bumped on every new connection */
        uint64_t lost_usec; /* when the connection was lost */
        uint64_t last_recovery_usec; /* how long the last recovery took */

        /* What happened when (CLOCK_MONOTONIC µs; tests and benchmarks read them): the first connection
         * attempt after the latest loss, the latest handshake done, the latest time the plugin became
         * RUNNING, and how many host-side calls (handshakes, creates, handle calls) ended in
         * org.sdloop1.Error.Timeout. */
        uint64_t reconnect_usec;
        uint64_t connected_usec;
        uint64_t running_usec;
        unsigned n_timeouts;

        /* Health probes (host-probe.c): one timer, at most one Ping in flight. Counters for tests and
         * benchmarks: probes sent, answered, and failed (in all, and in a row now); when the first failure
         * of the current run was noticed. */
        sd_event_source *probe_timer;
        sd_bus_slot *probe_slot;
        uint64_t probe_sent_usec;
        unsigned n_probes, n_probes_answered, n_probes_failed;
        unsigned probe_failures_in_row;
        uint64_t unresponsive_usec;
        /* Why the plugin was last treated as crashed, until the backend reports the process's end (then
         * both are said in LastError) or it runs again. */
        char *crash_reason;

        HostAccountingRequest *accounting_requests; /* host-accounting.c */

        /* A pinned binary being hashed before a start or restart (host-integrity.c): the state machine
         * takes no step meanwhile; the start or restart goes on from the check's end. */
        struct HostBinaryCheck *binary_check;

        HostHandle *handles_head, *handles_tail; /* creation order: parents before children */

        /* Export the host's objects (Keystore, …) on a new connection, before handles are replayed. */
        int (*on_connect)(HostPlugin *p, SdloopPeer *peer, void *userdata);
        void *on_connect_userdata;

        void *backend_data;
        HostPlugin *next;
};

/* Take over @settings (zeroed on success). */
int host_plugin_new(Host *h, HostPluginSettings *settings, HostPlugin **ret);

/* host-env.c: the plugin's environment, for every backend: its EnvConfig (instance name, and the host's own
 * log level, tracing and metrics settings), then its settings' "K=V" entries. */
int host_plugin_environment(HostPlugin *p, char ***ret);
/* Waiters still pending are told PluginUnavailable first. */
void host_plugin_free(HostPlugin *p);

/* --- asynchronous (from anywhere, callbacks included) --- */

/* Start the process (backend) and bring the plugin to RUNNING: connected, handshake done, every handle
 * created. @done (may be NULL) is told once that happened, or why not within the plugin's call timeout. */
int host_plugin_start_async(HostPlugin *p, host_plugin_done_fn done, void *userdata);
/* Restart the process (backend; from STOPPED/FAILED a fresh start) and wait for RUNNING as above. */
int host_plugin_restart_async(HostPlugin *p, host_plugin_done_fn done, void *userdata);
/* Be told when the plugin is RUNNING (from the loop, also when it is already), or PluginUnavailable at
 * @deadline (CLOCK_MONOTONIC µs), or when it stops or fails first. *@ret (may be NULL) stays valid until
 * @done ran, for host_plugin_waiter_cancel(). */
int host_plugin_wait_running(HostPlugin *p, uint64_t deadline, host_plugin_done_fn done, void *userdata,
                             HostPluginWaiter **ret);
/* Forget a waiter; its @done is not called. */
void host_plugin_waiter_cancel(HostPluginWaiter *w);

/* RUNNING or UNRESPONSIVE: connected, every handle created. */
bool host_plugin_is_up(HostPlugin *p);

/* Stop the process and remove the socket; calls and waiters still pending fail with PluginUnavailable.
 * STOPPING until the backend has stopped it (a start asked for meanwhile runs after that), then STOPPED. */
int host_plugin_stop(HostPlugin *p);
/* The same, and @done is told (from the loop, r = 0) once the backend has stopped the process. */
int host_plugin_stop_async(HostPlugin *p, host_plugin_done_fn done, void *userdata);

/* Health probes and watchdogs: the plugin is alive but not answering. Kill the process (the backend
 * restarts it under its policy), say @reason in LastError, and recover as after a crash. */
int host_plugin_treat_as_crashed(HostPlugin *p, const char *reason);

/* For backends: the process behind the connection is gone or being replaced (systemd said auto-restart
 * before the connection closed): recover now. */
void host_plugin_process_lost(HostPlugin *p);

/* For backends: report what the process is doing. NULL/0 arguments leave a field as is. */
void host_plugin_update(HostPlugin *p, HostPluginState state, const unsigned *n_restarts, const uint32_t *main_pid,
                        const char *last_error);

/* --- synchronous: top level only (tests, tools); refused inside a dispatch --- */

int host_plugin_start(HostPlugin *p, sd_bus_error *error);
int host_plugin_restart(HostPlugin *p, sd_bus_error *error);
/* host_plugin_stop(), then wait until the backend says the process is gone (STOPPED, or started again
 * meanwhile). */
int host_plugin_stop_wait(HostPlugin *p, sd_bus_error *error);
/* Wait until the plugin is RUNNING, until @deadline. PluginUnavailable when it is not by then. */
int host_plugin_ensure(HostPlugin *p, uint64_t deadline, sd_bus_error *error);

uint64_t host_now(void);

/* Internal (host-probe.c): (re)arm the probe for the next interval, or stop probing. */
void host_probe_schedule(HostPlugin *p);
void host_probe_stop(HostPlugin *p);
void host_probe_free(HostPlugin *p);

/* Internal (host-recovery.c, host-handle.c). */
void host_plugin_kick(HostPlugin *p);
void host_plugin_connection_lost(HostPlugin *p, const char *why);
void host_plugin_cancel_steps(HostPlugin *p);
void host_plugin_complete_waiters(HostPlugin *p, int r, const sd_bus_error *error);
bool host_plugin_is_down(HostPlugin *p);
int host_plugin_unavailable(HostPlugin *p, sd_bus_error *error, const char *why);
