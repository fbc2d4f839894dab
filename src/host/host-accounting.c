/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Accounting requests: one per asker, kept on the plugin so that freeing the plugin tells each of them.
 * A backend with an accounting operation (systemd) answers through host_accounting_request_complete()
 * from its reply handler; without one, the figures come from /proc of the main process and are handed
 * over from a deferred event, so that done never runs inside host_plugin_accounting_async(). A figure the
 * manager does not account is taken from /proc too. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host-backend.h"
#include "host-plugin.h"
#include "macro.h"

static void request_unlink(HostAccountingRequest *q) {
        HostPlugin *p = q->plugin;

        if (q->prev)
                q->prev->next = q->next;
        else if (p->accounting_requests == q)
                p->accounting_requests = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->next = q->prev = NULL;
}

static HostAccountingRequest *request_free(HostAccountingRequest *q) {
        if (!q)
                return NULL;
        request_unlink(q);
        sd_bus_slot_unref(q->slot);
        sd_event_source_disable_unref(q->defer);
        return mfree(q);
}

HostAccountingRequest *host_accounting_request_cancel(HostAccountingRequest *q) {
        return request_free(q);
}

static void request_tell(HostAccountingRequest *q) {
        host_accounting_fn done = q->done;
        void *userdata = q->userdata;
        HostAccounting a = q->accounting;
        HostPlugin *p = q->plugin;
        int r = q->result;

        request_free(q);
        done(p, r, r < 0 ? NULL : &a, userdata);
}

static int on_defer(sd_event_source *s, void *userdata) {
        request_tell(userdata);
        return 0;
}

static void fill_from_proc(HostAccountingRequest *q) {
        HostAccounting *a = &q->accounting, p;

        /* Where the manager does not account a figure (a controller not delegated to it, as in some
         * containers), the main process's own is the next best thing. */
        if (a->memory_bytes != HOST_ACCOUNTING_UNKNOWN && a->cpu_usec != HOST_ACCOUNTING_UNKNOWN &&
            a->tasks != HOST_ACCOUNTING_UNKNOWN)
                return;
        if (host_accounting_read_proc(q->plugin->main_pid, &p) < 0)
                return;
        if (a->memory_bytes == HOST_ACCOUNTING_UNKNOWN)
                a->memory_bytes = p.memory_bytes;
        if (a->cpu_usec == HOST_ACCOUNTING_UNKNOWN)
                a->cpu_usec = p.cpu_usec;
        if (a->tasks == HOST_ACCOUNTING_UNKNOWN)
                a->tasks = p.tasks;
}

void host_accounting_request_complete(HostAccountingRequest *q, int r) {
        q->slot = sd_bus_slot_unref(q->slot);
        q->result = r;
        if (r >= 0)
                fill_from_proc(q);
        request_tell(q);
}

/* /proc/PID/stat: utime and stime are fields 14 and 15, counted after the ")" that ends the command name
 * (which may itself hold spaces and parentheses). */
static int read_proc_stat(uint32_t pid, uint64_t *ret_ticks, uint64_t *ret_threads) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], buf[1024], *s;
        unsigned long long utime, stime;
        long threads;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%" PRIu32 "/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        s = strrchr(buf, ')');
        if (!s)
                return -EBADMSG;
        /* After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14)
         * stime(15) cutime cstime priority nice num_threads(20). */
        if (sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %ld",
                   &utime, &stime, &threads) != 3)
                return -EBADMSG;
        *ret_ticks = utime + stime;
        *ret_threads = threads > 0 ? (uint64_t) threads : 0;
        return 0;
}

static int read_proc_rss(uint32_t pid, uint64_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long kib;

                if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
                        *ret = kib * 1024;
                        return 0;
                }
        }
        /* A zombie has no VmRSS line. */
        return -ESRCH;
}

int host_accounting_read_proc(uint32_t pid, HostAccounting *a) {
        uint64_t ticks, threads, rss;
        long hz;
        int r;

        if (pid == 0)
                return -ESRCH;
        r = read_proc_stat(pid, &ticks, &threads);
        if (r < 0)
                return r;
        r = read_proc_rss(pid, &rss);
        if (r < 0)
                return r;
        hz = sysconf(_SC_CLK_TCK);
        a->cpu_usec = ticks * (USEC_PER_SEC / (uint64_t) (hz > 0 ? hz : 100));
        a->memory_bytes = rss;
        a->tasks = threads;
        return 0;
}

int host_plugin_accounting_async(HostPlugin *p, host_accounting_fn done, void *userdata,
                                 HostAccountingRequest **ret) {
        HostAccountingRequest *q;
        int r;

        assert(p);
        assert(done);

        q = new0(HostAccountingRequest, 1);
        if (!q)
                return -ENOMEM;
        *q = (HostAccountingRequest) {
                .plugin = p,
                .done = done,
                .userdata = userdata,
                .accounting = {
                        .memory_bytes = HOST_ACCOUNTING_UNKNOWN,
                        .cpu_usec = HOST_ACCOUNTING_UNKNOWN,
                        .tasks = HOST_ACCOUNTING_UNKNOWN,
                        .n_restarts = p->n_restarts,
                },
                .next = p->accounting_requests,
        };
        if (q->next)
                q->next->prev = q;
        p->accounting_requests = q;

        if (p->host->backend->accounting)
                r = p->host->backend->accounting(q);
        else {
                q->result = host_accounting_read_proc(p->main_pid, &q->accounting);
                r = sd_event_add_defer(p->host->event, &q->defer, on_defer, q);
        }
        if (r < 0) {
                request_free(q);
                return r;
        }
        if (ret)
                *ret = q;
        return 0;
}

void host_accounting_free_all(HostPlugin *p) {
        while (p->accounting_requests) {
                HostAccountingRequest *q = p->accounting_requests;

                q->result = -ECANCELED;
                request_tell(q);
        }
}
