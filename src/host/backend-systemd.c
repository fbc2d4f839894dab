/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The systemd backends: each plugin instance is a transient socket-activated pair, created in ONE
 * StartTransientUnit call — sdloop-<name>.socket (the main unit, listening at settings.socket_path) with
 * sdloop-<name>.service as its aux unit. systemd then does what the exec backend imitates: it keeps the
 * listening socket across restarts (the host's reconnects queue in the backlog), applies Restart=,
 * RestartSec= and the start limit, runs the plugin sandboxed, and sends its output to the journal with
 * SDLOOP_PLUGIN=<name> stamped on every record (LogExtraFields=).
 *
 * "system" talks to PID 1 (directly over /run/systemd/private when root, as systemctl does; else over the
 * system bus, where polkit decides), "user" to the user's own manager ($XDG_RUNTIME_DIR/systemd/private,
 * else the session bus). The code is the same; the user manager only gets the sandboxing it can apply
 * without privileges (no DynamicUser=/User=, no mount namespaces).
 *
 * Every operation is a small state machine over asynchronous calls to the manager (this file); the
 * connection and the jobs, stopping a pair, and following the units' state have files of their own
 * (backend-systemd.h). A slow manager delays only the plugin whose operation waits for it.
 *
 * Units outlive the host: freeing a HostPlugin (or the Host) leaves them running, and the next host
 * adopts them (reattach(), or start() meeting UnitExists) instead of creating a second pair. Only
 * stop() removes them.
 *
 * settings.crash_after_step: systemd starts every process of a unit with the same environment, so the
 * exec backend's "n-th start crashes after n*step calls" is not possible here; every process gets
 * SDLOOP_CRASH_AFTER=step. */

#include <signal.h>
#include <unistd.h>

#include "backend-systemd.h"
#include "host-integrity.h"
#include "macro.h"
#include "sdloop-verify-binary.h"

/* A leftover pair (a previous host's, or one not yet collected) is looked at this often while it settles,
 * this many times at most. */
#define SETTLE_USEC (50 * USEC_PER_MSEC)
#define SETTLE_ATTEMPTS_MAX 40U

static int systemd_run(HostPlugin *p, BackendOpType type);

static char *strjoin3(const char *a, const char *b, const char *c) {
        char *s = NULL;

        return asprintf(&s, "%s%s%s", a, b, c) < 0 ? NULL : s;
}

static bool unit_name_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == ':' || c == '\\';
}

static int plugin_names(HostPlugin *p, SystemdPlugin *sp) {
        const char *name = p->settings.name;
        int r;

        if (isempty(name) || strlen(name) > 200)
                return -EINVAL;
        for (const char *c = name; *c; c++)
                if (!unit_name_char_ok(*c))
                        return -EINVAL;

        sp->socket_unit = strjoin3("sdloop-", name, ".socket");
        sp->service_unit = strjoin3("sdloop-", name, ".service");
        if (!sp->socket_unit || !sp->service_unit)
                return -ENOMEM;
        r = sd_bus_path_encode(SYSTEMD_UNIT_PREFIX, sp->socket_unit, &sp->socket_object);
        if (r < 0)
                return r;
        return sd_bus_path_encode(SYSTEMD_UNIT_PREFIX, sp->service_unit, &sp->service_object);
}

/* Whatever the operation under way waits for, forgotten. */
static void op_cancel(SystemdPlugin *sp) {
        sp->call_slot = sd_bus_slot_unref(sp->call_slot);
        sp->job = systemd_job_cancel(sp->job);
        sp->settle_timer = sd_event_source_disable_unref(sp->settle_timer);
        sp->stop = systemd_stop_free(sp->stop);
        systemd_state_refresh_cancel(sp);
}

static void on_orphan_stop_started(int r, const char *message, void *userdata) {
        /* Detached before it could end: never called. */
}

static void systemd_plugin_data_free(SystemdPlugin *sp) {
        SystemdBackend *b;

        if (!sp)
                return;
        b = systemd_backend_of(sp->plugin);
        /* A stop asked for and not begun yet (a plugin stopped and freed at once, as a reload removing it
         * does) is begun now; one under way is seen through: nothing of the plugin is left behind. */
        if (!sp->stop && backend_ops_pending(&sp->ops, BACKEND_OP_STOP) && b->bus &&
            systemd_stop_new(b, sp->socket_unit, sp->service_unit, STOP_TIMEOUT_USEC + SYSTEMD_JOB_TIMEOUT_USEC,
                             on_orphan_stop_started, NULL, &sp->stop) < 0)
                log_warning("Plugin %s: cannot stop %s; it stays.", sp->plugin->settings.name, sp->socket_unit);
        backend_ops_done(&sp->ops);
        if (sp->stop) {
                systemd_stop_detach(sp->stop);
                sp->stop = NULL;
        }
        op_cancel(sp);
        sp->kill_slot = sd_bus_slot_unref(sp->kill_slot);
        systemd_state_unwatch(sp);
        systemd_state_forget(sp);
        free(sp->socket_unit);
        free(sp->service_unit);
        free(sp->socket_object);
        free(sp->service_object);
        free(sp);
}

static int plugin_data(HostPlugin *p, SystemdPlugin **ret) {
        SystemdPlugin *sp = p->backend_data;
        int r;

        if (!sp) {
                sp = new0(SystemdPlugin, 1);
                if (!sp)
                        return -ENOMEM;
                sp->plugin = p;
                backend_ops_init(&sp->ops, p, systemd_run);
                r = plugin_names(p, sp);
                if (r < 0) {
                        systemd_plugin_data_free(sp);
                        return r;
                }
                p->backend_data = sp;
        }
        *ret = sp;
        return 0;
}

/* The operation under way ended: tell the queue (which tells the asker from the loop). */
static void op_finish(HostPlugin *p, int r, const char *fmt, ...) _printf_(3, 4);
static void op_finish(HostPlugin *p, int r, const char *fmt, ...) {
        SystemdPlugin *sp = p->backend_data;
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        op_cancel(sp);
        if (fmt) {
                va_start(ap, fmt);
                if (vasprintf(&msg, fmt, ap) < 0)
                        msg = NULL;
                va_end(ap);
                if (r < 0)
                        log_error("Plugin %s: %s", p->settings.name, msg ?: strerror(-r));
        }
        backend_ops_finish(&sp->ops, r, msg);
}

static const char *reply_error(sd_bus_message *m, int *ret) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (!e)
                return NULL;
        *ret = -sd_bus_message_get_errno(m) ?: -EIO;
        return strna(e->message);
}

/* --- start: StartTransientUnit, its job; a leftover pair adopted, reset or waited out ------------------ */

static void start_transient(HostPlugin *p);

/* The pair is there and active: take it over as it is. */
static void start_adopt(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;

        systemd_state_evaluate(p);
        (void) free_and_strdup(&p->unit, sp->service_unit);
        log_info("Plugin %s: adopted %s (%s, %u restarts, main PID %" PRIu32 ").", p->settings.name, sp->socket_unit,
                 strna(sp->sub_state), sp->n_restarts, sp->main_pid);
}

static void on_start_job(int r, const char *result, void *userdata) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;

        sp->job = NULL;
        if (r < 0) {
                op_finish(p, r, "waiting for %s to start: %s", sp->socket_unit,
                          r == -ETIMEDOUT ? "no end of its job in time" : strerror(-r));
                return;
        }
        if (!streq(result, "done")) {
                /* The failed units block the names until reset. */
                systemd_reset_failed(systemd_backend_of(p), sp->socket_unit, sp->service_unit);
                op_finish(p, -EIO, "starting %s: job %s (see journalctl -u %s)", sp->socket_unit, result,
                          sp->socket_unit);
                return;
        }
        (void) free_and_strdup(&p->unit, sp->service_unit);
        log_debug("Plugin %s: %s listening at %s.", p->settings.name, sp->socket_unit, p->settings.socket_path);
        op_finish(p, 0, NULL);
}

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;

        sp->settle_timer = sd_event_source_disable_unref(sp->settle_timer);
        start_transient(p);
        return 0;
}

static void on_leftover_stopped(int r, const char *message, void *userdata) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;

        sp->stop = systemd_stop_free(sp->stop);
        if (r < 0) {
                op_finish(p, r, "%s", message ?: "stopping a leftover service failed");
                return;
        }
        start_transient(p);
}

/* StartTransientUnit met UnitExists: what is there? */
static void on_leftover_read(HostPlugin *p, int r) {
        SystemdBackend *b = systemd_backend_of(p);
        SystemdPlugin *sp = p->backend_data;

        if (r < 0) {
                op_finish(p, r, "failed to look at the existing %s: %s", sp->socket_unit, strerror(-r));
                return;
        }
        if (!sp->socket_loaded) {
                /* The service is there without its socket: stop it, then create the pair anew. */
                log_info("Plugin %s: %s exists without %s; stopping it.", p->settings.name, sp->service_unit,
                         sp->socket_unit);
                r = systemd_stop_new(b, sp->socket_unit, sp->service_unit, STOP_TIMEOUT_USEC + SYSTEMD_JOB_TIMEOUT_USEC,
                                     on_leftover_stopped, p, &sp->stop);
                if (r < 0)
                        op_finish(p, r, "failed to stop the leftover %s: %s", sp->service_unit, strerror(-r));
                return;
        }
        if (streq_ptr(sp->socket_active_state, "active")) {
                start_adopt(p);
                op_finish(p, 0, NULL);
                return;
        }
        if (streq_ptr(sp->socket_active_state, "failed")) {
                /* Sent before the next StartTransientUnit, and so handled before it. */
                systemd_reset_failed(b, sp->socket_unit, sp->service_unit);
                systemd_state_forget(sp);
                start_transient(p);
                return;
        }
        /* inactive (about to be collected), activating, deactivating: let it settle. */
        r = sd_event_add_time_relative(p->host->event, &sp->settle_timer, CLOCK_MONOTONIC, SETTLE_USEC, USEC_PER_MSEC,
                                       on_settled, p);
        if (r < 0)
                op_finish(p, r, "cannot schedule looking at %s again: %s", sp->socket_unit, strerror(-r));
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;
        const char *msg, *job;
        int r = 0;

        sp->call_slot = sd_bus_slot_unref(sp->call_slot);
        msg = reply_error(m, &r);
        if (msg) {
                if (!sd_bus_message_is_method_error(m, "org.freedesktop.systemd1.UnitExists") ||
                    ++sp->attempt >= SETTLE_ATTEMPTS_MAX) {
                        op_finish(p, r, "failed to create %s: %s", sp->socket_unit, msg);
                        return 0;
                }
                /* Left from before (a previous host, or an earlier run not yet collected). */
                systemd_state_forget(sp);
                r = systemd_state_refresh(p, on_leftover_read);
                if (r < 0)
                        op_finish(p, r, "failed to look at the existing %s: %s", sp->socket_unit, strerror(-r));
                return 0;
        }

        r = sd_bus_message_read(m, "o", &job);
        if (r >= 0)
                r = systemd_job_wait(systemd_backend_of(p), job, SYSTEMD_JOB_TIMEOUT_USEC, on_start_job, p, &sp->job);
        if (r < 0)
                op_finish(p, r, "starting %s: %s", sp->socket_unit, strerror(-r));
        return 0;
}

static void start_transient(HostPlugin *p) {
        SystemdBackend *b = systemd_backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *verifier = NULL;
        int r;

        /* Without it the unit would never start: say so now, not as exit status 203 of each attempt. */
        if (p->settings.binary_sha256) {
                r = host_verifier_path(&verifier);
                if (r >= 0 && access(verifier, X_OK) < 0)
                        r = -errno;
                if (r < 0) {
                        op_finish(p, r, "binary_sha256 is checked before every start of the unit by %s: %s",
                                  verifier ?: SDLOOP_VERIFY_BINARY_NAME, strerror(-r));
                        return;
                }
        }
        r = b->bus ? systemd_units_new_start(b->bus, p, sp->socket_unit, sp->service_unit, b->user, &m) : -ENOTCONN;
        if (r >= 0)
                r = systemd_call(b, &sp->call_slot, m, on_start_reply, p);
        if (r < 0)
                op_finish(p, r, "failed to create %s: %s", sp->socket_unit, strerror(-r));
}

static int op_start(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;
        int r;

        systemd_state_forget(sp);
        sp->attempt = 0;
        r = systemd_state_watch(p);
        if (r < 0)
                return log_error_errno(r, "Plugin %s: failed to watch %s: %m", p->settings.name, sp->service_unit);
        start_transient(p);
        return 0;
}

/* --- stop ---------------------------------------------------------------------------------------------- */

static void on_stopped(int r, const char *message, void *userdata) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;
        uint32_t zero = 0;

        sp->stop = systemd_stop_free(sp->stop);
        systemd_state_forget(sp);
        host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, NULL, &zero, NULL);
        if (message)
                op_finish(p, r, "%s", message);
        else
                op_finish(p, r, NULL);
}

static int op_stop(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;

        return systemd_stop_new(systemd_backend_of(p), sp->socket_unit, sp->service_unit,
                                STOP_TIMEOUT_USEC + SYSTEMD_JOB_TIMEOUT_USEC, on_stopped, p, &sp->stop);
}

/* --- restart ------------------------------------------------------------------------------------------- */

static void on_restart_job(int r, const char *result, void *userdata) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;

        sp->job = NULL;
        if (r < 0)
                op_finish(p, r, "restarting %s: %s", sp->service_unit,
                          r == -ETIMEDOUT ? "no end of its job in time" : strerror(-r));
        else if (!streq(result, "done"))
                /* Done when the new process said READY=1 (or failed). */
                op_finish(p, -EIO, "restarting %s: job %s", sp->service_unit, result);
        else
                op_finish(p, 0, NULL);
}

static int on_restart_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;
        const char *msg, *job;
        int r = 0;

        sp->call_slot = sd_bus_slot_unref(sp->call_slot);
        msg = reply_error(m, &r);
        if (msg) {
                if (!systemd_error_is_no_such_unit(sd_bus_message_get_error(m))) {
                        op_finish(p, r, "failed to restart %s: %s", sp->service_unit, msg);
                        return 0;
                }
                /* Somebody removed the units behind our back: create them again. */
                log_warning("Plugin %s: %s is gone; creating it again.", p->settings.name, sp->service_unit);
                r = op_start(p);
                if (r < 0)
                        op_finish(p, r, NULL);
                return 0;
        }
        r = sd_bus_message_read(m, "o", &job);
        if (r >= 0)
                r = systemd_job_wait(systemd_backend_of(p), job, STOP_TIMEOUT_USEC + SYSTEMD_JOB_TIMEOUT_USEC,
                                     on_restart_job, p, &sp->job);
        if (r < 0)
                op_finish(p, r, "restarting %s: %s", sp->service_unit, strerror(-r));
        return 0;
}

static int op_restart(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;

        return systemd_manager_call(systemd_backend_of(p), &sp->call_slot, on_restart_reply, p, "RestartUnit", "ss",
                                    sp->service_unit, "replace");
}

/* --- reattach ------------------------------------------------------------------------------------------ */

static void on_reattach_read(HostPlugin *p, int r) {
        SystemdPlugin *sp = p->backend_data;

        if (r < 0) {
                op_finish(p, r, "failed to look at %s: %s", sp->socket_unit, strerror(-r));
                return;
        }
        if (!sp->socket_loaded) {
                op_finish(p, 0, NULL);
                return;
        }
        if (!streq_ptr(sp->socket_active_state, "active")) {
                /* A failed leftover blocks the names until reset; start() will create the pair anew. */
                if (streq_ptr(sp->socket_active_state, "failed"))
                        systemd_reset_failed(systemd_backend_of(p), sp->socket_unit, sp->service_unit);
                systemd_state_forget(sp);
                op_finish(p, 0, NULL);
                return;
        }
        start_adopt(p);
        /* The process is there (or starts on connect); the host connects next and decides RUNNING. */
        if (p->state == HOST_PLUGIN_STOPPED)
                host_plugin_update(p, HOST_PLUGIN_STARTING, NULL, NULL, NULL);
        op_finish(p, 1, NULL);
}

static int op_reattach(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;
        int r;

        r = systemd_state_watch(p);
        if (r < 0)
                return log_warning_errno(r, "Plugin %s: failed to watch %s: %m", p->settings.name, sp->service_unit);
        systemd_state_forget(sp);
        return systemd_state_refresh(p, on_reattach_read);
}

/* --- the operations' entry points -------------------------------------------------------------------- */

static int systemd_run(HostPlugin *p, BackendOpType type) {
        SystemdPlugin *sp = p->backend_data;
        int r;

        if (!systemd_backend_of(p)->bus)
                r = -ENOTCONN;
        else
                switch (type) {
                case BACKEND_OP_START:
                        r = op_start(p);
                        break;
                case BACKEND_OP_STOP:
                        r = op_stop(p);
                        break;
                case BACKEND_OP_RESTART:
                        r = op_restart(p);
                        break;
                case BACKEND_OP_REATTACH:
                        r = op_reattach(p);
                        break;
                default:
                        r = -EOPNOTSUPP;
                }
        if (r < 0) {
                op_cancel(sp);
                return r;
        }
        return 0;
}

static int systemd_push(HostPlugin *p, BackendOpType type, host_backend_done_fn done, void *userdata) {
        SystemdPlugin *sp;
        int r;

        r = plugin_data(p, &sp);
        if (r < 0)
                return r;
        return backend_ops_push(&sp->ops, type, done, userdata);
}

static int systemd_start(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return systemd_push(p, BACKEND_OP_START, done, userdata);
}

static int systemd_stop(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return systemd_push(p, BACKEND_OP_STOP, done, userdata);
}

static int systemd_restart(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return systemd_push(p, BACKEND_OP_RESTART, done, userdata);
}

static int systemd_reattach(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return systemd_push(p, BACKEND_OP_REATTACH, done, userdata);
}

static int on_kill_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        sp->kill_slot = sd_bus_slot_unref(sp->kill_slot);
        if (e)
                log_warning("Plugin %s: KillUnit failed: %s", p->settings.name, strna(e->message));
        return 0;
}

static int systemd_kill(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;

        if (!sp)
                return -ENOTCONN;
        /* The main process only: systemd's own Restart= and start limit apply, as to a crash. A kill still
         * unanswered is superseded. */
        sp->kill_slot = sd_bus_slot_unref(sp->kill_slot);
        return systemd_manager_call(systemd_backend_of(p), &sp->kill_slot, on_kill_reply, p, "KillUnit", "ssi",
                                    sp->service_unit, "main", (int32_t) SIGKILL);
}

static void systemd_free(HostPlugin *p) {
        /* The units stay: the next host adopts them. */
        systemd_plugin_data_free(p->backend_data);
        p->backend_data = NULL;
}

/* --- the backend ----------------------------------------------------------------------------------------- */

static int systemd_init(Host *h, bool user) {
        SystemdBackend *b;
        int r;

        b = new0(SystemdBackend, 1);
        if (!b)
                return -ENOMEM;
        b->host = h;
        b->user = user;
        h->backend_data = b;

        /* Connecting only; Subscribe() and the matches are answered from the loop. */
        r = systemd_bus_setup(b);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s service manager: %m",
                                       user ? "user" : "system");
        log_debug("Connected to the %s service manager (%s).", user ? "user" : "system",
                  b->direct ? "private socket" : "bus");
        return 0;
}

static int systemd_init_system(Host *h) {
        return systemd_init(h, false);
}

static int systemd_init_user(Host *h) {
        return systemd_init(h, true);
}

static void systemd_done(Host *h) {
        SystemdBackend *b = h->backend_data;

        if (!b)
                return;
        while (b->orphan_stops)
                systemd_stop_free(b->orphan_stops);
        b->reconnect_timer = sd_event_source_disable_unref(b->reconnect_timer);
        systemd_bus_close(b);
        while (b->jobs)
                systemd_job_cancel(b->jobs);
        h->backend_data = mfree(b);
}

const HostBackend host_backend_system = {
        .name = "system",
        .init = systemd_init_system,
        .done = systemd_done,
        .start = systemd_start,
        .stop = systemd_stop,
        .restart = systemd_restart,
        .kill = systemd_kill,
        .reattach = systemd_reattach,
        .accounting = systemd_accounting,
        .free = systemd_free,
};

const HostBackend host_backend_user = {
        .name = "user",
        .init = systemd_init_user,
        .done = systemd_done,
        .start = systemd_start,
        .stop = systemd_stop,
        .restart = systemd_restart,
        .kill = systemd_kill,
        .reattach = systemd_reattach,
        .accounting = systemd_accounting,
        .free = systemd_free,
};
