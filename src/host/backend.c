/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-backend.h"
#include "host-plugin.h"
#include "macro.h"

const HostBackend *host_backend_from_string(const char *s) {
        if (streq_ptr(s, "exec"))
                return &host_backend_exec;
#ifdef HAVE_SYSTEMD_BACKEND
        if (streq_ptr(s, "system"))
                return &host_backend_system;
        if (streq_ptr(s, "user"))
                return &host_backend_user;
#endif
        return NULL;
}

typedef struct BackendWait {
        bool done;
        bool abandoned; /* the waiter gave up: the completion frees it */
        int r;
} BackendWait;

static void on_backend_waited(HostPlugin *p, int r, const char *message, void *userdata) {
        BackendWait *w = userdata;

        if (w->abandoned) {
                free(w);
                return;
        }
        w->done = true;
        w->r = r;
}

int host_backend_reattach(HostPlugin *p) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        static const bool never = false;
        BackendWait *w;
        int r;

        if (!p->host->backend->reattach)
                return 0;
        if (host_in_dispatch(p->host))
                /* Refused, and said so, before anything is asked of the backend. */
                return host_run_until(p->host, &never, "host_backend_reattach()", &error);

        w = new0(BackendWait, 1);
        if (!w)
                return -ENOMEM;
        r = p->host->backend->reattach(p, on_backend_waited, w);
        if (r < 0) {
                free(w);
                return r;
        }
        r = host_run_until(p->host, &w->done, "host_backend_reattach()", &error);
        if (r < 0) {
                /* The loop ended first; the completion, if it ever comes, frees it. */
                w->abandoned = true;
                return r;
        }
        r = w->r;
        free(w);
        return r;
}
