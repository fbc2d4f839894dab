/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host side of sdloop: supervising plugin processes, keeping long-lived handles on their objects
 * across crashes, and doing work at "top level" (outside any event dispatch), where synchronous calls
 * into plugins may pump the event loop.
 *
 * Rule: event callbacks never call into a plugin synchronously; they queue work with host_queue_work().
 * Work runs from the main loop (host_run()) and from inside synchronous calls that wait (the pump hook),
 * never from inside a dispatch. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "sdloop.h"

typedef struct Host Host;
typedef struct HostPlugin HostPlugin;
typedef struct HostHandle HostHandle;
typedef struct HostBackend HostBackend;

typedef void (*host_work_fn)(Host *h, void *userdata);

typedef struct HostWork HostWork;

struct Host {
        sd_event *event;
        const HostBackend *backend;
        void *backend_data;

        HostPlugin *plugins;

        /* Stable handle paths: /org/sdloop1/plugin/<name>/<kind>/<n>. */
        uint64_t next_handle_id;

        HostWork *work_head, *work_tail;
        unsigned work_depth;

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

/* Run @fn at top level soon. @key deduplicates: work with the same fn and key already queued is not
 * queued twice. */
int host_queue_work(Host *h, host_work_fn fn, void *key);
/* Forget queued work for @key (its object is going away). */
void host_cancel_work(Host *h, void *key);
/* Run queued work now (top level only). */
void host_run_work(Host *h);

/* Main loop: sd_event_run() + queued work until the event loop exits. */
int host_run(Host *h);

HostPlugin *host_find_plugin(Host *h, const char *name);
