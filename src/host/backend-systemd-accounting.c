/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The service unit's own accounting (systemd.resource-control(5)): memory, CPU time and tasks of the
 * whole cgroup, and NRestarts, read with one GetAll of org.freedesktop.systemd1.Service. systemd reports
 * what it does not account as UINT64_MAX, which is HOST_ACCOUNTING_UNKNOWN here too. */

#include <string.h>

#include "backend-systemd.h"
#include "macro.h"

static int read_properties(sd_bus_message *m, HostAccounting *a) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;
                uint64_t *t = NULL;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                if (streq(name, "MemoryCurrent"))
                        t = &a->memory_bytes;
                else if (streq(name, "CPUUsageNSec"))
                        t = &a->cpu_usec;
                else if (streq(name, "TasksCurrent"))
                        t = &a->tasks;

                if (t)
                        r = sd_bus_message_read(m, "v", "t", t);
                else if (streq(name, "NRestarts")) {
                        uint32_t n;

                        r = sd_bus_message_read(m, "v", "u", &n);
                        if (r >= 0)
                                a->n_restarts = n;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (a->cpu_usec != HOST_ACCOUNTING_UNKNOWN)
                a->cpu_usec /= NSEC_PER_USEC;
        return sd_bus_message_exit_container(m);
}

static int on_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostAccountingRequest *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        if (e)
                r = systemd_error_is_no_such_unit(e) ? -ESRCH : -sd_bus_message_get_errno(m) ?: -EIO;
        else
                r = read_properties(m, &q->accounting);
        host_accounting_request_complete(q, r < 0 ? r : 0);
        return 0;
}

int systemd_accounting(HostAccountingRequest *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        HostPlugin *p = q->plugin;
        SystemdBackend *b = systemd_backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        int r;

        if (!sp || !sp->service_object)
                return -ESRCH;
        if (!b->bus)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(b->bus, &call, SYSTEMD_DEST, sp->service_object,
                                           "org.freedesktop.DBus.Properties", "GetAll");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "s", "org.freedesktop.systemd1.Service");
        if (r < 0)
                return r;
        return systemd_call(b, &q->slot, call, on_get_all, q);
}
