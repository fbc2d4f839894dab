/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Stopping a plugin's unit pair: StopUnit of the socket first (a connection arriving meanwhile would
 * start the service again), then of the service, both sent at once; both jobs waited for; then
 * ResetFailedUnit of both, so that nothing of the plugin is left (a failed unit stays until reset,
 * CollectMode=inactive). The stop knows only the unit names, so it can finish after its plugin is gone. */

#include "backend-systemd.h"
#include "macro.h"

struct SystemdStop {
        SystemdBackend *backend;
        char *units[2];
        sd_bus_slot *slots[2];
        SystemdJob *jobs[2];
        unsigned pending;
        bool resetting;
        uint64_t timeout_usec;
        int error;
        char *message;
        systemd_stop_fn done;
        void *userdata;
        SystemdStop *next; /* in the backend's orphan_stops once detached */
};

SystemdStop *systemd_stop_free(SystemdStop *s) {
        if (!s)
                return NULL;
        if (!s->done)
                for (SystemdStop **i = &s->backend->orphan_stops; *i; i = &(*i)->next)
                        if (*i == s) {
                                *i = s->next;
                                break;
                        }
        for (size_t i = 0; i < 2; i++) {
                sd_bus_slot_unref(s->slots[i]);
                systemd_job_cancel(s->jobs[i]);
                free(s->units[i]);
        }
        free(s->message);
        return mfree(s);
}

void systemd_stop_detach(SystemdStop *s) {
        if (!s || !s->done)
                return;
        s->done = NULL;
        s->userdata = NULL;
        s->next = s->backend->orphan_stops;
        s->backend->orphan_stops = s;
}

static void stop_error(SystemdStop *s, size_t i, int r, const char *what) {
        log_warning("Stopping %s: %s", s->units[i], what ?: strerror(-r));
        if (s->error < 0)
                return;
        s->error = r;
        if (asprintf(&s->message, "stopping %s: %s", s->units[i], what ?: strerror(-r)) < 0)
                s->message = NULL;
}

static void stop_finish(SystemdStop *s) {
        systemd_stop_fn done = s->done;
        void *userdata = s->userdata;
        _cleanup_free_ char *message = TAKE_PTR(s->message);
        int r = s->error;

        if (!done) {
                systemd_stop_free(s);
                return;
        }
        /* The owner frees it (from @done or later). */
        done(r, message, userdata);
}

static int on_reply0(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static int on_reply1(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
static const sd_bus_message_handler_t reply_handlers[2] = { on_reply0, on_reply1 };

static void stop_step(SystemdStop *s) {
        int r;

        if (s->pending > 0)
                return;
        if (s->resetting) {
                stop_finish(s);
                return;
        }
        s->resetting = true;
        for (size_t i = 0; i < 2; i++) {
                r = systemd_manager_call(s->backend, &s->slots[i], reply_handlers[i], s, "ResetFailedUnit", "s",
                                         s->units[i]);
                if (r >= 0)
                        s->pending++;
        }
        if (s->pending == 0)
                stop_finish(s);
}

static void on_stop_job_of(SystemdStop *s, size_t i, int r, const char *result) {
        s->jobs[i] = NULL;
        if (r < 0)
                stop_error(s, i, r, r == -ETIMEDOUT ? "the stop job did not finish in time" : NULL);
        else if (!streq(result, "done") && !streq(result, "canceled"))
                log_debug("Stopping %s: job %s.", s->units[i], result);
        s->pending--;
        stop_step(s);
}

static void on_stop_job0(int r, const char *result, void *userdata) {
        on_stop_job_of(userdata, 0, r, result);
}

static void on_stop_job1(int r, const char *result, void *userdata) {
        on_stop_job_of(userdata, 1, r, result);
}

static int on_reply_of(SystemdStop *s, size_t i, sd_bus_message *m) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *job;
        int r;

        s->slots[i] = sd_bus_slot_unref(s->slots[i]);
        if (s->resetting) {
                /* Not failed, or not loaded: nothing to reset either way. */
                s->pending--;
                stop_step(s);
                return 0;
        }
        if (e) {
                if (!systemd_error_is_no_such_unit(e))
                        stop_error(s, i, -sd_bus_message_get_errno(m) ?: -EIO, e->message);
                s->pending--;
                stop_step(s);
                return 0;
        }
        r = sd_bus_message_read(m, "o", &job);
        if (r >= 0)
                r = systemd_job_wait(s->backend, job, s->timeout_usec, i == 0 ? on_stop_job0 : on_stop_job1, s,
                                     &s->jobs[i]);
        if (r < 0) {
                stop_error(s, i, r, NULL);
                s->pending--;
                stop_step(s);
        }
        return 0;
}

static int on_reply0(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        return on_reply_of(userdata, 0, m);
}

static int on_reply1(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        return on_reply_of(userdata, 1, m);
}

int systemd_stop_new(SystemdBackend *b, const char *socket_unit, const char *service_unit, uint64_t timeout_usec,
                     systemd_stop_fn done, void *userdata, SystemdStop **ret) {
        SystemdStop *s;
        int r;

        assert(done);
        if (!b->bus)
                return -ENOTCONN;
        s = new0(SystemdStop, 1);
        if (!s)
                return -ENOMEM;
        *s = (SystemdStop) { .backend = b, .timeout_usec = timeout_usec, .done = done, .userdata = userdata };
        s->units[0] = strdup(socket_unit);
        s->units[1] = strdup(service_unit);
        if (!s->units[0] || !s->units[1]) {
                systemd_stop_free(s);
                return -ENOMEM;
        }
        /* In this order: the manager handles one connection's calls in the order sent. */
        for (size_t i = 0; i < 2; i++) {
                r = systemd_manager_call(b, &s->slots[i], reply_handlers[i], s, "StopUnit", "ss", s->units[i],
                                         "replace");
                if (r < 0) {
                        systemd_stop_free(s);
                        return r;
                }
                s->pending++;
        }
        *ret = s;
        return 0;
}

void systemd_reset_failed(SystemdBackend *b, const char *socket_unit, const char *service_unit) {
        (void) systemd_manager_call(b, NULL, NULL, NULL, "ResetFailedUnit", "s", socket_unit);
        (void) systemd_manager_call(b, NULL, NULL, NULL, "ResetFailedUnit", "s", service_unit);
}
