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
 * The process state comes from the units' PropertiesChanged signals (after Manager.Subscribe()); the
 * host learns of a crash first from its connection closing and decides RUNNING itself after connecting.
 *
 * Units outlive the host: freeing a HostPlugin (or the Host) leaves them running, and the next host
 * adopts them (reattach(), or start() meeting UnitExists) instead of creating a second pair. Only
 * stop() removes them.
 *
 * settings.crash_after_step: systemd starts every process of a unit with the same environment, so the
 * exec backend's "n-th start crashes after n*step calls" is not possible here; every process gets
 * SDLOOP_CRASH_AFTER=step. */

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>

#include "backend-systemd-units.h"
#include "host-backend.h"
#include "host-plugin.h"
#include "macro.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT_PREFIX "/org/freedesktop/systemd1/unit"

/* How long a socket job may take, and how long stopping may take beyond the service's own stop timeout. */
#define JOB_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define RECONNECT_USEC (200 * USEC_PER_MSEC)

typedef struct JobWaiter JobWaiter;
struct JobWaiter {
        const char *job;
        char *result;
        JobWaiter *next;
};

typedef struct SystemdBackend {
        Host *host;
        bool user;
        bool direct; /* a private connection to the manager, not a bus client */
        sd_bus *bus;
        sd_bus_slot *job_removed_slot;
        sd_bus_slot *disconnected_slot;
        sd_event_source *reconnect_timer;
        JobWaiter *waiters;
} SystemdBackend;

typedef struct SystemdPlugin {
        char *socket_unit, *service_unit;
        char *socket_object, *service_object;
        sd_bus_slot *socket_slot, *service_slot;

        /* What systemd said last about the service and the socket. */
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
} SystemdPlugin;

static int systemd_bus_setup(SystemdBackend *b);
static int systemd_plugin_watch(HostPlugin *p);

static const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Signals about units being stopped by us are no news. */
static bool plugin_is_stopping(HostPlugin *p) {
        return p->state == HOST_PLUGIN_STOPPING || p->state == HOST_PLUGIN_STOPPED;
}

static SystemdBackend *backend_of(HostPlugin *p) {
        return p->host->backend_data;
}

static const char *sender_of(SystemdBackend *b) {
        /* Messages from PID 1 on its private socket carry no sender: match on anything there. */
        return b->direct ? NULL : SYSTEMD_DEST;
}

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

static void plugin_forget_state(SystemdPlugin *sp) {
        sp->active_state = mfree(sp->active_state);
        sp->sub_state = mfree(sp->sub_state);
        sp->result = mfree(sp->result);
        sp->socket_active_state = mfree(sp->socket_active_state);
        sp->socket_result = mfree(sp->socket_result);
        sp->last_failure = mfree(sp->last_failure);
        sp->restart = mfree(sp->restart);
        sp->start_limit_hit = false;
        sp->exec_main_code = sp->exec_main_status = 0;
        sp->n_restarts = 0;
        sp->main_pid = 0;
        sp->start_limit_burst = 0;
        sp->start_limit_interval_usec = 0;
}

static void plugin_unwatch(SystemdPlugin *sp) {
        sp->socket_slot = sd_bus_slot_unref(sp->socket_slot);
        sp->service_slot = sd_bus_slot_unref(sp->service_slot);
}

static void systemd_plugin_data_free(SystemdPlugin *sp) {
        if (!sp)
                return;
        plugin_unwatch(sp);
        plugin_forget_state(sp);
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

/* ---- waiting for jobs ---- */

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
        for (JobWaiter *w = b->waiters; w; w = w->next)
                if (!w->result && streq_ptr(w->job, path))
                        w->result = strdup(result) ?: strdup("");
        return 0;
}

static bool waiters_done(JobWaiter *ws, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (ws[i].job && !ws[i].result)
                        return false;
        return true;
}

/* Serve our connection to the manager once, waiting until @deadline at most (never the whole event loop). */
static int systemd_pump(SystemdBackend *b, uint64_t deadline) {
        uint64_t now = host_now();
        int r;

        if (now >= deadline)
                return 0;
        if (!b->bus || sd_bus_is_open(b->bus) <= 0)
                return -ECONNRESET;
        r = sd_bus_process(b->bus, NULL);
        if (r != 0)
                return r;
        return sd_bus_wait(b->bus, deadline - now);
}

/* Wait until every job in @ws is gone (result filled in) or @deadline passes. */
static int systemd_wait_jobs(SystemdBackend *b, JobWaiter *ws, size_t n, uint64_t deadline) {
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                ws[i].next = b->waiters;
                b->waiters = &ws[i];
        }

        while (!waiters_done(ws, n)) {
                if (host_now() >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                r = systemd_pump(b, deadline);
                if (r < 0)
                        break;
                r = 0;
        }

        for (size_t k = 0; k < n; k++)
                for (JobWaiter **i = &b->waiters; *i; i = &(*i)->next)
                        if (*i == &ws[k]) {
                                *i = ws[k].next;
                                break;
                        }
        return r;
}

static void job_waiters_done(JobWaiter *ws, size_t n) {
        for (size_t i = 0; i < n; i++)
                ws[i].result = mfree(ws[i].result);
}

/* Call Manager.@method(@unit, @mode) and return the job path (NULL for methods without one). */
static int manager_unit_call(SystemdBackend *b, const char *method, const char *unit, const char *mode,
                             char **ret_job, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *job;
        int r;

        if (mode)
                r = sd_bus_call_method(b->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method, error, &reply,
                                       "ss", unit, mode);
        else
                r = sd_bus_call_method(b->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method, error, &reply,
                                       "s", unit);
        if (r < 0)
                return r;
        if (!ret_job)
                return 0;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return r;
        *ret_job = strdup(job);
        return *ret_job ? 0 : -ENOMEM;
}

static bool error_is_no_such_unit(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit") ||
                sd_bus_error_has_name(e, "org.freedesktop.systemd1.LoadFailed");
}

static void reset_failed(SystemdBackend *b, const char *unit) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        (void) manager_unit_call(b, "ResetFailedUnit", unit, NULL, NULL, &error);
        sd_bus_error_free(&error);
}

/* ---- following the units ---- */

static const char *signal_name(int sig) {
        static char buf[16];
        const char *s = sigabbrev_np(sig);

        if (s) {
                snprintf(buf, sizeof(buf), "SIG%s", s);
                return buf;
        }
        snprintf(buf, sizeof(buf), "%i", sig);
        return buf;
}

/* "exit-code, status 3", "signal, SIGKILL", "watchdog", … or NULL when the result is not a failure. */
static char *describe_result(SystemdPlugin *sp) {
        char *s = NULL;

        if (isempty(sp->result) || streq(sp->result, "success"))
                return NULL;
        if (streq(sp->result, "exit-code")) {
                if (asprintf(&s, "exit-code, status %" PRIi32, sp->exec_main_status) < 0)
                        return NULL;
        } else if (streq(sp->result, "signal") || streq(sp->result, "core-dump")) {
                if (asprintf(&s, "%s, %s", sp->result, signal_name(sp->exec_main_status)) < 0)
                        return NULL;
        } else
                s = strdup(sp->result);
        return s;
}

static char *describe_start_limit(HostPlugin *p, SystemdPlugin *sp) {
        unsigned burst = sp->start_limit_burst ?: p->settings.start_limit_burst;
        uint64_t interval = sp->start_limit_interval_usec ?: p->settings.start_limit_interval_usec;
        char *s = NULL;
        int r;

        if (interval % USEC_PER_SEC == 0)
                r = asprintf(&s, "start limit hit (%u starts within %" PRIu64 "s)%s%s", burst,
                             interval / USEC_PER_SEC, sp->last_failure ? "; last: " : "", strempty(sp->last_failure));
        else
                r = asprintf(&s, "start limit hit (%u starts within %" PRIu64 "ms)%s%s", burst,
                             interval / USEC_PER_MSEC, sp->last_failure ? "; last: " : "", strempty(sp->last_failure));
        return r < 0 ? NULL : s;
}

/* Would systemd restart the service after this result? (systemd.service(5), Restart=) */
static bool restart_expected(HostPlugin *p, SystemdPlugin *sp) {
        HostRestart policy = sp->restart ? host_restart_from_string(sp->restart) : p->settings.restart;

        if (streq_ptr(sp->result, "start-limit-hit"))
                return false;
        switch (policy) {
        case HOST_RESTART_ALWAYS:
                return true;
        case HOST_RESTART_ON_FAILURE:
                return !streq_ptr(sp->result, "success");
        case HOST_RESTART_ON_ABNORMAL:
                return !streq_ptr(sp->result, "success") && !streq_ptr(sp->result, "exit-code");
        default:
                /* "no", and what we do not know ("on-watchdog", "on-abort"): assume the worst. */
                return false;
        }
}

static void plugin_failed(HostPlugin *p, const char *msg) {
        SystemdPlugin *sp = p->backend_data;

        if (p->state != HOST_PLUGIN_FAILED)
                log_error("Plugin %s (%s) failed: %s", p->settings.name, sp->service_unit, msg);
        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg);
}

/* Turn what systemd said into the plugin's state. */
static void plugin_evaluate(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;
        _cleanup_free_ char *failure = NULL, *msg = NULL;
        bool ours = !plugin_is_stopping(p);

        log_debug("Plugin %s: service %s/%s result %s (%" PRIi32 "/%" PRIi32 "), NRestarts %u, MainPID %" PRIu32
                  "; socket %s result %s.", p->settings.name, strna(sp->active_state), strna(sp->sub_state),
                  strna(sp->result), sp->exec_main_code, sp->exec_main_status, sp->n_restarts, sp->main_pid,
                  strna(sp->socket_active_state), strna(sp->socket_result));
        failure = describe_result(sp);
        if (failure && !streq(sp->result, "start-limit-hit"))
                (void) free_and_strdup(&sp->last_failure, failure);

        host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, &sp->n_restarts, &sp->main_pid, NULL);
        if (!ours)
                return;

        /* In v252 a restart refused by the start limit leaves the service's Result at the failure before
         * ("exit-code"); only the socket says "service-start-limit-hit", in a signal of its own right after
         * the service's. Remember it: the failed units are collected right away. */
        if (streq_ptr(sp->socket_result, "service-start-limit-hit") || streq_ptr(sp->result, "start-limit-hit"))
                sp->start_limit_hit = true;

        if (streq_ptr(sp->socket_active_state, "failed")) {
                if (sp->start_limit_hit || (streq_ptr(sp->active_state, "failed") && restart_expected(p, sp)))
                        msg = describe_start_limit(p, sp);
                else if (asprintf(&msg, "socket %s failed: %s", sp->socket_unit, strna(sp->socket_result)) < 0)
                        msg = NULL;
                plugin_failed(p, msg ?: "socket failed");
                return;
        }

        if (streq_ptr(sp->active_state, "failed")) {
                if (sp->start_limit_hit)
                        msg = describe_start_limit(p, sp);
                else if (!restart_expected(p, sp))
                        msg = TAKE_PTR(failure);
                else {
                        /* v252 passes through "failed" on the way to "auto-restart" — or, at the start limit,
                         * the socket's failure follows: not the end yet either way. */
                        if (failure)
                                host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, NULL, NULL, failure);
                        return;
                }
                plugin_failed(p, msg ?: "failed");
                return;
        }

        if (streq_ptr(sp->sub_state, "auto-restart")) {
                if (failure)
                        host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, NULL, NULL, failure);
                /* Usually the closed connection told the host already; if systemd was faster, the host's
                 * one recovery path starts here. */
                host_plugin_process_lost(p);
        }
}

static int read_string_variant(sd_bus_message *m, char **field) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return r;
        return free_and_strdup(field, s);
}

/* Read the properties we care about from an a{sv}; the rest is skipped. */
static int parse_properties(sd_bus_message *m, SystemdPlugin *sp, bool socket) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;

                if (streq(key, "ActiveState"))
                        r = read_string_variant(m, socket ? &sp->socket_active_state : &sp->active_state);
                else if (streq(key, "SubState") && !socket)
                        r = read_string_variant(m, &sp->sub_state);
                else if (streq(key, "Result"))
                        r = read_string_variant(m, socket ? &sp->socket_result : &sp->result);
                else if (streq(key, "NRestarts") && !socket)
                        r = sd_bus_message_read(m, "v", "u", &sp->n_restarts);
                else if (streq(key, "MainPID") && !socket)
                        r = sd_bus_message_read(m, "v", "u", &sp->main_pid);
                else if (streq(key, "ExecMainCode") && !socket)
                        r = sd_bus_message_read(m, "v", "i", &sp->exec_main_code);
                else if (streq(key, "ExecMainStatus") && !socket)
                        r = sd_bus_message_read(m, "v", "i", &sp->exec_main_status);
                else if (streq(key, "Restart") && !socket)
                        r = read_string_variant(m, &sp->restart);
                else if (streq(key, "StartLimitBurst") && !socket)
                        r = sd_bus_message_read(m, "v", "u", &sp->start_limit_burst);
                else if (streq(key, "StartLimitIntervalUSec") && !socket)
                        r = sd_bus_message_read(m, "v", "t", &sp->start_limit_interval_usec);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int on_properties_changed(sd_bus_message *m, HostPlugin *p, bool socket) {
        SystemdPlugin *sp = p->backend_data;
        const char *iface;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                goto fail;
        if (!streq(iface, "org.freedesktop.systemd1.Unit") && !streq(iface, "org.freedesktop.systemd1.Service") &&
            !streq(iface, "org.freedesktop.systemd1.Socket"))
                return 0;
        r = parse_properties(m, sp, socket);
        if (r < 0)
                goto fail;

        plugin_evaluate(p);
        return 0;
fail:
        log_debug_errno(r, "Failed to parse PropertiesChanged of %s, ignoring: %m",
                        socket ? sp->socket_unit : sp->service_unit);
        return 0;
}

static int on_service_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        return on_properties_changed(m, userdata, false);
}

static int on_socket_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        return on_properties_changed(m, userdata, true);
}

/* Install the matches for the plugin's two units (before anything is started, so nothing goes unseen). */
static int systemd_plugin_watch(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        int r;

        plugin_unwatch(sp);
        r = sd_bus_match_signal(b->bus, &sp->service_slot, sender_of(b), sp->service_object,
                                "org.freedesktop.DBus.Properties", "PropertiesChanged", on_service_changed, p);
        if (r < 0)
                return r;
        return sd_bus_match_signal(b->bus, &sp->socket_slot, sender_of(b), sp->socket_object,
                                   "org.freedesktop.DBus.Properties", "PropertiesChanged", on_socket_changed, p);
}

static int get_all(SystemdBackend *b, const char *object, const char *iface, sd_bus_message **ret,
                   sd_bus_error *error) {
        return sd_bus_call_method(b->bus, SYSTEMD_DEST, object, "org.freedesktop.DBus.Properties", "GetAll", error,
                                  ret, "s", iface);
}

static const struct {
        bool socket;
        const char *iface;
} refresh_table[] = {
        { false, "org.freedesktop.systemd1.Unit" },
        { false, "org.freedesktop.systemd1.Service" },
        { true, "org.freedesktop.systemd1.Unit" },
        { true, "org.freedesktop.systemd1.Socket" },
};

/* The object path of a loaded unit, NULL if it is not loaded. (Addressing a unit's path directly would load
 * it, leaving a "not-found" stub behind.) */
static int unit_object(SystemdBackend *b, const char *unit, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(b->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "GetUnit", &error, &reply, "s",
                               unit);
        if (r < 0) {
                bool gone = error_is_no_such_unit(&error);

                sd_bus_error_free(&error);
                if (gone) {
                        *ret = NULL;
                        return 0;
                }
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

static int plugin_read_properties(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        _cleanup_free_ char *service = NULL, *socket = NULL;
        int r;

        r = unit_object(b, sp->service_unit, &service);
        if (r < 0)
                return r;
        r = unit_object(b, sp->socket_unit, &socket);
        if (r < 0)
                return r;
        if (!socket)
                (void) free_and_strdup(&sp->socket_active_state, "inactive");
        if (!service)
                (void) free_and_strdup(&sp->active_state, "inactive");

        for (size_t i = 0; i < ELEMENTSOF(refresh_table); i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                bool is_socket = refresh_table[i].socket;
                const char *path = is_socket ? socket : service;

                if (!path)
                        continue;
                r = get_all(b, path, refresh_table[i].iface, &reply, &error);
                sd_bus_error_free(&error);
                if (r < 0)
                        return r;
                r = parse_properties(reply, sp, is_socket);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Read the current state of both units (adopting, or after reconnecting to the manager). */
static int systemd_plugin_refresh(HostPlugin *p) {
        int r;

        r = plugin_read_properties(p);
        if (r < 0)
                return r;
        plugin_evaluate(p);
        return 0;
}

/* ---- creating the units (their properties: backend-systemd-units.c) ---- */

static int start_transient(HostPlugin *p, char **ret_job, sd_bus_error *error) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *job;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", sp->socket_unit, "fail");
        if (r < 0)
                return r;
        r = systemd_units_append_socket(m, p, b->user);
        if (r < 0)
                return r;

        r = sd_bus_message_open_container(m, 'a', "(sa(sv))");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "sa(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", sp->service_unit);
        if (r < 0)
                return r;
        r = systemd_units_append_service(m, p, b->user);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        r = sd_bus_call(b->bus, m, 0, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return r;
        *ret_job = strdup(job);
        return *ret_job ? 0 : -ENOMEM;
}

/* The ActiveState of a loaded unit; -ENOENT when it is not loaded. */
static int unit_active_state(SystemdBackend *b, const char *unit, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *state;
        int r;

        r = unit_object(b, unit, &path);
        if (r < 0)
                return r;
        if (!path)
                return -ENOENT;

        r = sd_bus_call_method(b->bus, SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties", "Get", &error, &reply,
                               "ss", "org.freedesktop.systemd1.Unit", "ActiveState");
        if (r < 0) {
                if (error_is_no_such_unit(&error) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT))
                        r = -ENOENT;
                else
                        log_debug("Failed to read ActiveState of %s: %s", unit, error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_read(reply, "v", "s", &state);
        if (r < 0)
                return r;
        *ret = strdup(state);
        return *ret ? 0 : -ENOMEM;
}

static int stop_units(HostPlugin *p);

/* The pair is there from a previous host: take it over as it is. */
static int adopt(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;
        int r;

        r = systemd_plugin_refresh(p);
        if (r < 0)
                return log_warning_errno(r, "Plugin %s: failed to read the state of %s: %m", p->settings.name,
                                         sp->service_unit);
        (void) free_and_strdup(&p->unit, sp->service_unit);
        log_info("Plugin %s: adopted %s (%s, %u restarts, main PID %" PRIu32 ").", p->settings.name, sp->socket_unit,
                 strna(sp->sub_state), sp->n_restarts, sp->main_pid);
        return 0;
}

/* Let a leftover unit settle (be collected, finish deactivating), serving events meanwhile. */
static void wait_a_little(SystemdBackend *b) {
        uint64_t deadline = host_now() + 50 * USEC_PER_MSEC;

        while (host_now() < deadline)
                if (systemd_pump(b, deadline) < 0)
                        break;
}

static int systemd_start(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp;
        int r;

        r = plugin_data(p, &sp);
        if (r < 0)
                return r;
        if (!b->bus)
                return -ENOTCONN;

        plugin_forget_state(sp);
        r = systemd_plugin_watch(p);
        if (r < 0)
                return log_error_errno(r, "Plugin %s: failed to watch %s: %m", p->settings.name, sp->service_unit);

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_free_ char *job = NULL, *state = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                JobWaiter w;

                r = start_transient(p, &job, &error);
                if (r >= 0) {
                        sd_bus_error_free(&error);
                        w = (JobWaiter) { .job = job };
                        r = systemd_wait_jobs(b, &w, 1, host_now() + JOB_TIMEOUT_USEC);
                        if (r < 0) {
                                job_waiters_done(&w, 1);
                                return log_error_errno(r, "Plugin %s: waiting for %s to start: %m", p->settings.name,
                                                       sp->socket_unit);
                        }
                        if (!streq(w.result, "done")) {
                                log_error("Plugin %s: starting %s: job %s (see journalctl -u %s).", p->settings.name,
                                          sp->socket_unit, w.result, sp->socket_unit);
                                job_waiters_done(&w, 1);
                                reset_failed(b, sp->socket_unit);
                                reset_failed(b, sp->service_unit);
                                return -EIO;
                        }
                        job_waiters_done(&w, 1);
                        (void) free_and_strdup(&p->unit, sp->service_unit);
                        log_debug("Plugin %s: %s listening at %s.", p->settings.name, sp->socket_unit,
                                  p->settings.socket_path);
                        return 0;
                }

                if (!sd_bus_error_has_name(&error, "org.freedesktop.systemd1.UnitExists") || attempt >= 40) {
                        log_error("Plugin %s: failed to create %s: %s", p->settings.name, sp->socket_unit,
                                  error.message ?: strerror(-r));
                        sd_bus_error_free(&error);
                        return r;
                }
                sd_bus_error_free(&error);

                /* Left from before (a previous host, or an earlier run not yet collected). */
                r = unit_active_state(b, sp->socket_unit, &state);
                if (r == -ENOENT) {
                        /* The service is there without its socket: stop it, then create the pair anew. */
                        log_info("Plugin %s: %s exists without %s; stopping it.", p->settings.name, sp->service_unit,
                                 sp->socket_unit);
                        (void) stop_units(p);
                        continue;
                }
                if (r < 0)
                        return r;
                if (streq(state, "active"))
                        return adopt(p);
                if (streq(state, "failed")) {
                        reset_failed(b, sp->socket_unit);
                        reset_failed(b, sp->service_unit);
                } else
                        /* inactive (about to be collected), activating, deactivating: let it settle. */
                        wait_a_little(b);
        }
}

/* Stop the socket first, or a connection arriving meanwhile would start the service again. */
static int stop_units(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        const char *units[2] = { sp->socket_unit, sp->service_unit };
        _cleanup_free_ char *job0 = NULL, *job1 = NULL;
        char **jobs[2] = { &job0, &job1 };
        JobWaiter ws[2] = {};
        int r = 0;

        for (size_t i = 0; i < 2; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int k;

                k = manager_unit_call(b, "StopUnit", units[i], "replace", jobs[i], &error);
                if (k < 0 && !error_is_no_such_unit(&error)) {
                        log_warning("Plugin %s: failed to stop %s: %s", p->settings.name, units[i],
                                    error.message ?: strerror(-k));
                        r = k;
                }
                sd_bus_error_free(&error);
                ws[i].job = *jobs[i];
        }

        if (ws[0].job || ws[1].job) {
                int k = systemd_wait_jobs(b, ws, 2, host_now() + STOP_TIMEOUT_USEC + JOB_TIMEOUT_USEC);
                if (k < 0) {
                        log_warning_errno(k, "Plugin %s: waiting for the units to stop: %m", p->settings.name);
                        r = k;
                }
        }
        job_waiters_done(ws, 2);

        reset_failed(b, sp->socket_unit);
        reset_failed(b, sp->service_unit);
        return r;
}

static int systemd_stop(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp;
        uint32_t zero = 0;
        int r;

        r = plugin_data(p, &sp);
        if (r < 0)
                return r;
        if (!b->bus)
                return -ENOTCONN;

        r = stop_units(p);
        plugin_forget_state(sp);
        host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, NULL, &zero, NULL);
        return r;
}

static int systemd_restart(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        _cleanup_free_ char *job = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SystemdPlugin *sp;
        JobWaiter w;
        int r;

        r = plugin_data(p, &sp);
        if (r < 0)
                return r;
        if (!b->bus)
                return -ENOTCONN;

        r = manager_unit_call(b, "RestartUnit", sp->service_unit, "replace", &job, &error);
        if (r < 0) {
                bool gone = error_is_no_such_unit(&error);

                log_warning("Plugin %s: failed to restart %s: %s", p->settings.name, sp->service_unit,
                            error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                /* Somebody removed the units behind our back: create them again. */
                return gone ? systemd_start(p) : r;
        }

        /* Done when the new process said READY=1 (or failed). */
        w = (JobWaiter) { .job = job };
        r = systemd_wait_jobs(b, &w, 1, host_now() + STOP_TIMEOUT_USEC + JOB_TIMEOUT_USEC);
        if (r >= 0 && !streq(w.result, "done")) {
                log_warning("Plugin %s: restarting %s: job %s.", p->settings.name, sp->service_unit, w.result);
                r = -EIO;
        }
        job_waiters_done(&w, 1);
        return r;
}

static int on_kill_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int systemd_kill(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        SystemdPlugin *sp = p->backend_data;

        if (!b->bus || !sp)
                return -ENOTCONN;
        /* The main process only: systemd's own Restart= and start limit apply, as to a crash. */
        return sd_bus_call_method_async(b->bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "KillUnit",
                                        on_kill_reply, p, "ssi", sp->service_unit, "main",
                                        SIGKILL);
}

static int on_kill_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;

        if (sd_bus_message_is_method_error(m, NULL))
                log_warning("Plugin %s: KillUnit failed: %s", p->settings.name, sd_bus_message_get_error(m)->message);
        return 0;
}

static int systemd_reattach(HostPlugin *p) {
        SystemdBackend *b = backend_of(p);
        _cleanup_free_ char *state = NULL;
        SystemdPlugin *sp;
        int r;

        r = plugin_data(p, &sp);
        if (r < 0)
                return r;
        if (!b->bus)
                return -ENOTCONN;

        r = systemd_plugin_watch(p);
        if (r < 0)
                return log_warning_errno(r, "Plugin %s: failed to watch %s: %m", p->settings.name, sp->service_unit);
        r = unit_active_state(b, sp->socket_unit, &state);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return log_warning_errno(r, "Plugin %s: failed to look at %s: %m", p->settings.name,
                                         sp->socket_unit);
        if (!streq(state, "active")) {
                /* A failed leftover blocks the names until reset; start() will create the pair anew. */
                if (streq(state, "failed")) {
                        reset_failed(b, sp->socket_unit);
                        reset_failed(b, sp->service_unit);
                }
                return 0;
        }

        plugin_forget_state(sp);
        r = adopt(p);
        if (r < 0)
                return r;
        /* The process is there (or starts on connect); the host connects next and decides RUNNING. */
        if (p->state == HOST_PLUGIN_STOPPED)
                host_plugin_update(p, HOST_PLUGIN_STARTING, NULL, NULL, NULL);
        return 1;
}

static void systemd_free(HostPlugin *p) {
        /* The units stay: the next host adopts them. */
        systemd_plugin_data_free(p->backend_data);
        p->backend_data = NULL;
}

/* ---- the connection to the manager ---- */

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
        int r;

        if (!b->user) {
                if (geteuid() == 0 && bus_open_private("/run/systemd/private", ret) >= 0) {
                        *ret_direct = true;
                        return 0;
                }
                *ret_direct = false;
                return sd_bus_open_system(ret);
        }

        const char *e = getenv("XDG_RUNTIME_DIR");
        if (e) {
                if (asprintf(&private, "%s/systemd/private", e) < 0)
                        return -ENOMEM;
                if (bus_open_private(private, ret) >= 0) {
                        *ret_direct = true;
                        return 0;
                }
        }
        *ret_direct = false;
        r = sd_bus_open_user(ret);
        return r;
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
                r = systemd_plugin_watch(p);
                if (r >= 0 && !plugin_is_stopping(p))
                        r = systemd_plugin_refresh(p);
                if (r < 0)
                        log_warning_errno(r, "Plugin %s: failed to follow its units again: %m", p->settings.name);
        }
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *b = userdata;
        int r;

        /* PID 1 re-executed (daemon-reexec) or the bus went away. The connection is dead; the new one is
         * opened from a timer, outside this connection's dispatch. */
        log_warning("Lost the connection to the service manager; reconnecting.");
        if (b->reconnect_timer)
                return 0;
        r = sd_event_add_time_relative(b->host->event, &b->reconnect_timer, CLOCK_MONOTONIC, RECONNECT_USEC, 0,
                                       on_reconnect_timer, b);
        if (r < 0)
                log_error_errno(r, "Failed to schedule reconnecting to the service manager: %m");
        return 0;
}

static void systemd_bus_close(SystemdBackend *b) {
        for (HostPlugin *p = b->host->plugins; p; p = p->next)
                if (p->backend_data)
                        plugin_unwatch(p->backend_data);
        b->job_removed_slot = sd_bus_slot_unref(b->job_removed_slot);
        b->disconnected_slot = sd_bus_slot_unref(b->disconnected_slot);
        if (b->bus) {
                (void) sd_bus_detach_event(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
}

static int systemd_bus_setup(SystemdBackend *b) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
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
        r = sd_bus_match_signal(b->bus, &b->disconnected_slot, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                                on_disconnected, b);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(b->bus, &b->job_removed_slot, sender_of(b), SYSTEMD_PATH, SYSTEMD_MANAGER,
                                "JobRemoved", on_job_removed, b);
        if (r < 0)
                return r;

        /* Without a subscriber PID 1 keeps unit PropertiesChanged to itself. */
        r = sd_bus_call_method(b->bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", &error, NULL, NULL);
        if (r < 0) {
                log_error("Failed to subscribe to the %s service manager: %s", b->user ? "user" : "system",
                          error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        return 0;
}

static int systemd_init(Host *h, bool user) {
        SystemdBackend *b;
        int r;

        b = new0(SystemdBackend, 1);
        if (!b)
                return -ENOMEM;
        b->host = h;
        b->user = user;
        h->backend_data = b;

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
        b->reconnect_timer = sd_event_source_disable_unref(b->reconnect_timer);
        systemd_bus_close(b);
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
        .free = systemd_free,
};
