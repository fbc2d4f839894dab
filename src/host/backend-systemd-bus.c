/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The connection to the service manager, and waiting for its jobs.
 *
 * Nothing here waits: opening the connection is a connect() to a local socket (sd-bus authenticates
 * from the loop), the signal matches and Manager.Subscribe() are sent asynchronously, and every method
 * call is sent with a reply handler and a deadline. Jobs are followed as systemctl does it, through
 * Manager.JobRemoved: the match is in place before any job is made, and the manager answers the call
 * that made a job before it can send its JobRemoved, on the same connection — so a job path known from a
 * reply is registered before its end can arrive. Each wait has a timer of its own. */

#include <unistd.h>

#include "backend-systemd.h"
#include "macro.h"

#define RECONNECT_USEC (200 * USEC_PER_MSEC)

struct SystemdJob {
        SystemdBackend *backend;
        char *path;
        systemd_job_fn done;
        void *userdata;
        sd_event_source *timer;
        SystemdJob *next;
};

const char *systemd_sender(SystemdBackend *b) {
        return b->direct ? NULL : SYSTEMD_DEST;
}

bool systemd_error_is_no_such_unit(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit") ||
                sd_bus_error_has_name(e, "org.freedesktop.systemd1.LoadFailed");
}

/* --- method calls ------------------------------------------------------------------------------------ */

static int on_ignored_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e && !systemd_error_is_no_such_unit(e))
                log_debug("%s: %s", strna(sd_bus_message_get_member(m)), strna(e->message));
        return 0;
}

int systemd_call(SystemdBackend *b, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                 void *userdata) {
        if (!b->bus)
                return -ENOTCONN;
        if (!slot)
                /* Floating: nobody to tell, so nothing that could be gone when the answer comes. */
                return sd_bus_call_async(b->bus, NULL, m, on_ignored_reply, NULL, SYSTEMD_CALL_TIMEOUT_USEC);
        return sd_bus_call_async(b->bus, slot, m, callback, userdata, SYSTEMD_CALL_TIMEOUT_USEC);
}

int systemd_manager_call(SystemdBackend *b, sd_bus_slot **slot, sd_bus_message_handler_t callback,
                         void *userdata, const char *method, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        if (!b->bus)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(b->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return systemd_call(b, slot, m, callback, userdata);
}

/* --- jobs -------------------------------------------------------------------------------------------- */

static void job_unlink(SystemdJob *j) {
        for (SystemdJob **i = &j->backend->jobs; *i; i = &(*i)->next)
                if (*i == j) {
                        *i = j->next;
                        break;
                }
        j->next = NULL;
}

SystemdJob *systemd_job_cancel(SystemdJob *j) {
        if (!j)
                return NULL;
        job_unlink(j);
        sd_event_source_disable_unref(j->timer);
        free(j->path);
        free(j);
        return NULL;
}

static void job_finish(SystemdJob *j, int r, const char *result) {
        systemd_job_fn done = j->done;
        void *userdata = j->userdata;

        systemd_job_cancel(j);
        done(r, result, userdata);
}

static int on_job_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SystemdJob *j = userdata;

        log_debug("Job %s did not finish in time.", j->path);
        job_finish(j, -ETIMEDOUT, NULL);
        return 0;
}

int systemd_job_wait(SystemdBackend *b, const char *path, uint64_t timeout_usec, systemd_job_fn done,
                     void *userdata, SystemdJob **ret) {
        SystemdJob *j;
        int r;

        j = new0(SystemdJob, 1);
        if (!j)
                return -ENOMEM;
        *j = (SystemdJob) { .backend = b, .done = done, .userdata = userdata };
        j->path = strdup(path);
        if (!j->path) {
                free(j);
                return -ENOMEM;
        }
        r = sd_event_add_time_relative(b->host->event, &j->timer, CLOCK_MONOTONIC, timeout_usec, USEC_PER_MSEC,
                                       on_job_timer, j);
        if (r < 0) {
                free(j->path);
                free(j);
                return r;
        }
        (void) sd_event_source_set_description(j->timer, "systemd-job");
        j->next = b->jobs;
        b->jobs = j;
        *ret = j;
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *b = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0) {
                log_debug_errno(r, "Failed to parse JobRemoved, ignoring: %m");
                return 0;
        }
        for (SystemdJob *j = b->jobs; j; j = j->next)
                if (streq(j->path, path)) {
                        log_debug("Job %s (%s): %s.", path, unit, result);
                        job_finish(j, 0, result);
                        break;
                }
        return 0;
}

static void jobs_fail_all(SystemdBackend *b, int r) {
        while (b->jobs)
                job_finish(b->jobs, r, NULL);
}

/* --- the connection ---------------------------------------------------------------------------------- */

static int bus_open_private(const char *path, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *address = NULL;
        int r;

        if (access(path, F_OK) < 0)
                return -errno;
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        if (asprintf(&address, "unix:path=%s", path) < 0)
                return -ENOMEM;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int bus_open(SystemdBackend *b, sd_bus **ret, bool *ret_direct) {
        _cleanup_free_ char *private = NULL;
        const char *e;

        if (!b->user) {
                if (geteuid() == 0 && bus_open_private("/run/systemd/private", ret) >= 0) {
                        *ret_direct = true;
                        return 0;
                }
                *ret_direct = false;
                return sd_bus_open_system(ret);
        }

        e = getenv("XDG_RUNTIME_DIR");
        if (e) {
                if (asprintf(&private, "%s/systemd/private", e) < 0)
                        return -ENOMEM;
                if (bus_open_private(private, ret) >= 0) {
                        *ret_direct = true;
                        return 0;
                }
        }
        *ret_direct = false;
        return sd_bus_open_user(ret);
}

static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SystemdBackend *b = userdata;
        int r;

        r = systemd_bus_setup(b);
        if (r < 0) {
                log_debug_errno(r, "Reconnecting to the service manager failed, retrying: %m");
                (void) sd_event_source_set_time_relative(s, RECONNECT_USEC);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        log_info("Reconnected to the service manager.");
        b->reconnect_timer = sd_event_source_disable_unref(b->reconnect_timer);

        /* Signals may have been missed meanwhile: read every plugin's units again. */
        for (HostPlugin *p = b->host->plugins; p; p = p->next) {
                if (!p->backend_data)
                        continue;
                r = systemd_state_watch(p);
                if (r >= 0 && p->state != HOST_PLUGIN_STOPPING && p->state != HOST_PLUGIN_STOPPED)
                        r = systemd_state_refresh(p, NULL);
                if (r < 0)
                        log_warning_errno(r, "Plugin %s: failed to follow its units again: %m", p->settings.name);
        }
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *b = userdata;
        int r;

        /* PID 1 re-executed (daemon-reexec) or the bus went away. sd-bus has failed every call in flight
         * already; the jobs will not be heard of on this connection either. The new connection is opened
         * from a timer, outside this connection's dispatch. */
        log_warning("Lost the connection to the service manager; reconnecting.");
        jobs_fail_all(b, -ECONNRESET);
        if (b->reconnect_timer)
                return 0;
        r = sd_event_add_time_relative(b->host->event, &b->reconnect_timer, CLOCK_MONOTONIC, RECONNECT_USEC, 0,
                                       on_reconnect_timer, b);
        if (r < 0)
                log_error_errno(r, "Failed to schedule reconnecting to the service manager: %m");
        return 0;
}

static int on_subscribed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        b->subscribe_slot = sd_bus_slot_unref(b->subscribe_slot);
        /* Without a subscriber the manager keeps unit PropertiesChanged and JobRemoved to itself: every
         * job would time out. Say so loudly. */
        if (e)
                log_error("Failed to subscribe to the %s service manager: %s", b->user ? "user" : "system",
                          strna(e->message));
        else
                log_debug("Subscribed to the %s service manager.", b->user ? "user" : "system");
        return 0;
}

void systemd_bus_close(SystemdBackend *b) {
        for (HostPlugin *p = b->host->plugins; p; p = p->next)
                if (p->backend_data)
                        systemd_state_unwatch(p->backend_data);
        b->job_removed_slot = sd_bus_slot_unref(b->job_removed_slot);
        b->disconnected_slot = sd_bus_slot_unref(b->disconnected_slot);
        b->subscribe_slot = sd_bus_slot_unref(b->subscribe_slot);
        if (b->bus) {
                (void) sd_bus_detach_event(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
}

int systemd_bus_setup(SystemdBackend *b) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        bool direct = false;
        int r;

        r = bus_open(b, &bus, &direct);
        if (r < 0)
                return r;

        systemd_bus_close(b);
        b->bus = TAKE_PTR(bus);
        b->direct = direct;

        r = sd_bus_attach_event(b->bus, b->host->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_match_signal_async(b->bus, &b->disconnected_slot, "org.freedesktop.DBus.Local",
                                      "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                                      on_disconnected, NULL, b);
        if (r < 0)
                return r;
        /* The bus daemon's AddMatch is answered later; it is in place before anything we send after it
         * reaches the manager. */
        r = sd_bus_match_signal_async(b->bus, &b->job_removed_slot, systemd_sender(b), SYSTEMD_PATH,
                                      SYSTEMD_MANAGER, "JobRemoved", on_job_removed, NULL, b);
        if (r < 0)
                return r;
        return systemd_manager_call(b, &b->subscribe_slot, on_subscribed, b, "Subscribe", NULL);
}
