/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The systemd backends' parts: the connection to the manager and its jobs (backend-systemd-bus.c),
 * stopping a unit pair (backend-systemd-stop.c), following the units' state (backend-systemd-state.c),
 * the units' properties (backend-systemd-units.c), and the operations (backend-systemd.c). Everything
 * is asynchronous: a method call to the manager is sent with a reply handler and a deadline, a job is
 * waited for through JobRemoved with a timer. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "backend-op.h"
#include "backend-systemd-units.h"
#include "host-plugin.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_PREFIX "/org/freedesktop/systemd1/unit"

/* An answer from the manager within this, or the operation fails with Timeout (sd-bus's own default). */
#define SYSTEMD_CALL_TIMEOUT_USEC (25 * USEC_PER_SEC)
/* How long a socket job may take, and how long stopping may take beyond the service's own stop timeout. */
#define SYSTEMD_JOB_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef struct SystemdJob SystemdJob;
typedef struct SystemdStop SystemdStop;

typedef struct SystemdBackend {
        Host *host;
        bool user;
        bool direct; /* a private connection to the manager, not a bus client */
        sd_bus *bus;
        sd_bus_slot *job_removed_slot;
        sd_bus_slot *disconnected_slot;
        sd_bus_slot *subscribe_slot;
        sd_event_source *reconnect_timer;
        SystemdJob *jobs;
        SystemdStop *orphan_stops; /* stops whose plugin went away meanwhile */
} SystemdBackend;

typedef struct SystemdPlugin {
        HostPlugin *plugin;
        BackendOps ops;
        char *socket_unit, *service_unit;
        char *socket_object, *service_object;
        sd_bus_slot *socket_slot, *service_slot;

        /* What systemd said last about the service and the socket. */
        bool socket_loaded, service_loaded; /* at the last refresh */
        char *active_state, *sub_state, *result;
        int32_t exec_main_code, exec_main_status;
        unsigned n_restarts;
        uint32_t main_pid;
        char *socket_active_state, *socket_result;
        char *restart; /* Restart= of the unit as it is (adopted units may differ from our settings) */
        unsigned start_limit_burst;
        uint64_t start_limit_interval_usec;
        /* The last time a process failed, e.g. "exit-code, status 3": named again when the start limit hits. */
        char *last_failure;
        bool start_limit_hit;
        /* The unit failed with its binary pinned: the host hashes it too, to name a mismatch the unit's
         * ExecStartPre= refused in LastError (backend-systemd-state.c). */
        struct HostBinaryCheck *binary_check;
        char *binary_mismatch;

        /* Reading both units' properties (systemd_state_refresh()). */
        sd_bus_slot *refresh_slots[4];
        unsigned refresh_pending;
        int refresh_error;
        void (*refresh_done)(HostPlugin *p, int r);

        /* The operation under way (backend-systemd.c). */
        sd_bus_slot *call_slot;
        sd_bus_slot *kill_slot;
        SystemdJob *job;
        SystemdStop *stop;
        sd_event_source *settle_timer;
        unsigned attempt;
} SystemdPlugin;

static inline SystemdBackend *systemd_backend_of(HostPlugin *p) {
        return p->host->backend_data;
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* --- backend-systemd-bus.c --- */
int systemd_bus_setup(SystemdBackend *b);
void systemd_bus_close(SystemdBackend *b);
/* Messages from PID 1 on its private socket carry no sender: match on anything there. */
const char *systemd_sender(SystemdBackend *b);
/* Manager.@method(@types…) with a reply handler and SYSTEMD_CALL_TIMEOUT_USEC; @slot NULL: nobody waits
 * for the answer (it is logged at debug level if it is an error). */
int systemd_manager_call(SystemdBackend *b, sd_bus_slot **slot, sd_bus_message_handler_t callback,
                         void *userdata, const char *method, const char *types, ...);
/* A prepared method call, with the same deadline. */
int systemd_call(SystemdBackend *b, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                 void *userdata);
/* Told once how the job at @path ended: r = 0 and JobRemoved's result ("done", "failed", "canceled", …), or
 * -ETIMEDOUT after @timeout_usec, or -ECONNRESET when the connection to the manager was lost. */
typedef void (*systemd_job_fn)(int r, const char *result, void *userdata);
int systemd_job_wait(SystemdBackend *b, const char *path, uint64_t timeout_usec, systemd_job_fn done,
                     void *userdata, SystemdJob **ret);
SystemdJob *systemd_job_cancel(SystemdJob *j);
bool systemd_error_is_no_such_unit(const sd_bus_error *e);

/* --- backend-systemd-accounting.c --- */
int systemd_accounting(HostAccountingRequest *q);

/* --- backend-systemd-stop.c --- */
/* Stop the socket, then the service (so that no connection starts it again), wait for both jobs, reset
 * what failed. @done: r = 0, or the first error and what it was. */
typedef void (*systemd_stop_fn)(int r, const char *message, void *userdata);
int systemd_stop_new(SystemdBackend *b, const char *socket_unit, const char *service_unit, uint64_t timeout_usec,
                     systemd_stop_fn done, void *userdata, SystemdStop **ret);
/* Whoever waited is gone: the stop finishes by itself, owned by the backend. */
void systemd_stop_detach(SystemdStop *s);
SystemdStop *systemd_stop_free(SystemdStop *s);
/* ResetFailedUnit of both, answers not waited for. */
void systemd_reset_failed(SystemdBackend *b, const char *socket_unit, const char *service_unit);

/* --- backend-systemd-state.c --- */
/* Follow the plugin's two units' PropertiesChanged (installed before anything is started, so nothing goes
 * unseen). */
int systemd_state_watch(HostPlugin *p);
void systemd_state_unwatch(SystemdPlugin *sp);
void systemd_state_forget(SystemdPlugin *sp);
/* Read both units' state anew (GetUnit, GetAll). @done is told from the reply handler; NULL: turn it into
 * the plugin's state then, as after a signal. */
int systemd_state_refresh(HostPlugin *p, void (*done)(HostPlugin *p, int r));
void systemd_state_refresh_cancel(SystemdPlugin *sp);
void systemd_state_evaluate(HostPlugin *p);
