/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host side of sdloop: supervising plugin processes and keeping long-lived handles on their objects
 * across crashes.
 *
 * Everything the host does with a plugin is an asynchronous state machine over the host's sd-event loop
 * (host-plugin.h: connect → handshake → re-create the handles → running, again after every crash), so
 * nothing ever waits inside an event-loop callback. The synchronous helpers (host_plugin_start(),
 * host_handle_new(), host_handle_call(), …) are for top-level code only — tests and tools — and refuse
 * inside a dispatch (host_run_until()). */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "sdloop.h"

typedef struct Host Host;
typedef struct HostPlugin HostPlugin;
typedef struct HostHandle HostHandle;
typedef struct HostBackend HostBackend;

struct Host {
        sd_event *event;
        const HostBackend *backend;
        void *backend_data;

        HostPlugin *plugins;

        /* Stable handle paths: /org/sdloop1/plugin/<name>/<kind>/<n>. */
        uint64_t next_handle_id;

        /* Called after a plugin's state, restarts, pid or last error changed. */
        void (*on_plugin_changed)(HostPlugin *p, void *userdata);
        /* Called when a handle is added to its plugin (before its object is first created, so it may be
         * watched from the start) and before it goes away: to re-export plugin objects elsewhere. */
        void (*on_handle_added)(HostHandle *h, void *userdata);
        void (*on_handle_removed)(HostHandle *h, void *userdata);
        void *userdata;
};

int host_new(sd_event *event, const HostBackend *backend, Host **ret);
Host *host_free(Host *h);
static inline void host_freep(Host **h) {
        if (*h)
                host_free(*h);
}

/* Main loop: sd_event_loop() until the event loop exits; returns its exit code. */
int host_run(Host *h);

/* True while an event-loop callback runs: the synchronous helpers refuse there. */
bool host_in_dispatch(Host *h);
/* For the synchronous helpers: run the loop until *@done (the asynchronous operation they started ends
 * itself, at its deadline at the latest). Refuses inside a dispatch — logs, sets org.sdloop1.Error.Internal
 * and returns -EDEADLK, or aborts under SDLOOP_ABORT_ON_NESTED_WAIT=1 — and fails with PluginUnavailable
 * if the loop ends first. @what names the operation in messages. */
int host_run_until(Host *h, const bool *done, const char *what, sd_bus_error *error);

/* Exponential back-off with jitter: 10 ms doubling per attempt up to 1 s, each delay drawn from the upper
 * half of its step so that plugins that fail together do not retry in lockstep. */
#define HOST_BACKOFF_MIN_USEC (10 * USEC_PER_MSEC)
#define HOST_BACKOFF_MAX_USEC (1 * USEC_PER_SEC)
uint64_t host_backoff_next(uint64_t *state_usec);

HostPlugin *host_find_plugin(Host *h, const char *name);

/* A waiter's error becomes the caller's (@error may be NULL: then it is dropped). Returns @r. */
static inline int host_error_take(sd_bus_error *error, sd_bus_error *from, int r) {
        sd_bus_error_free(error);
        if (error)
                sd_bus_error_move(error, from);
        else
                sd_bus_error_free(from);
        return r;
}
