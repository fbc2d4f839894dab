/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a plugin's processes use, as its service manager counts it: the systemd backends read the service
 * unit's accounting properties (the whole cgroup: MemoryCurrent, CPUUsageNSec, TasksCurrent, NRestarts),
 * the exec backend the same figures of the plugin's process from /proc. Asked for asynchronously, like
 * everything the host does: an operator's scrape must not wait on a busy service manager inside the
 * event loop. */

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct HostPlugin HostPlugin;
typedef struct HostAccountingRequest HostAccountingRequest;

#define HOST_ACCOUNTING_UNKNOWN UINT64_MAX

typedef struct HostAccounting {
        uint64_t memory_bytes; /* HOST_ACCOUNTING_UNKNOWN where the manager does not count it */
        uint64_t cpu_usec;
        uint64_t tasks;
        uint64_t n_restarts;
} HostAccounting;

/* Told exactly once, from the event loop: 0 and the figures, or a negative errno (-ESRCH: no process runs,
 * -ECANCELED: the plugin is being freed — then @p is about to go away, so do not call into the host). */
typedef void (*host_accounting_fn)(HostPlugin *p, int r, const HostAccounting *a, void *userdata);

struct HostAccountingRequest {
        HostPlugin *plugin;
        host_accounting_fn done;
        void *userdata;
        sd_bus_slot *slot;       /* the backend's call in flight */
        sd_event_source *defer;  /* or the answer, due from the loop */
        int result;
        HostAccounting accounting;
        HostAccountingRequest *next, *prev; /* on the plugin's list */
};

int host_plugin_accounting_async(HostPlugin *p, host_accounting_fn done, void *userdata,
                                 HostAccountingRequest **ret);
/* Forget @q: its done is not called. Returns NULL. */
HostAccountingRequest *host_accounting_request_cancel(HostAccountingRequest *q);
/* At host_plugin_free(): every request still pending is told -ECANCELED. */
void host_accounting_free_all(HostPlugin *p);

/* For backends: the answer is @r and q->accounting; q is told from the loop, then freed. */
void host_accounting_request_complete(HostAccountingRequest *q, int r);
/* Read /proc/@pid: memory (VmRSS), CPU time (utime + stime), threads. */
int host_accounting_read_proc(uint32_t pid, HostAccounting *a);
