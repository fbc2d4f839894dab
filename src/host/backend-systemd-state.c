/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Following a plugin's units: their PropertiesChanged (after Manager.Subscribe()), or all their properties
 * read anew (adopting, after reconnecting), turned into the plugin's state — a failure, the start limit,
 * a restart under way. The host learns of a crash first from its connection closing and decides RUNNING
 * itself after connecting. */

#include <signal.h>
#include <string.h>

#include "backend-systemd.h"
#include "host-integrity.h"
#include "macro.h"

/* Signals about units being stopped by us are no news. */
static bool plugin_is_stopping(HostPlugin *p) {
        return p->state == HOST_PLUGIN_STOPPING || p->state == HOST_PLUGIN_STOPPED;
}

void systemd_state_forget(SystemdPlugin *sp) {
        host_binary_check_cancel(&sp->binary_check);
        sp->binary_mismatch = mfree(sp->binary_mismatch);
        sp->active_state = mfree(sp->active_state);
        sp->sub_state = mfree(sp->sub_state);
        sp->result = mfree(sp->result);
        sp->socket_active_state = mfree(sp->socket_active_state);
        sp->socket_result = mfree(sp->socket_result);
        sp->last_failure = mfree(sp->last_failure);
        sp->restart = mfree(sp->restart);
        sp->start_limit_hit = false;
        sp->socket_loaded = sp->service_loaded = false;
        sp->exec_main_code = sp->exec_main_status = 0;
        sp->n_restarts = 0;
        sp->main_pid = 0;
        sp->start_limit_burst = 0;
        sp->start_limit_interval_usec = 0;
}

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
        if (streq(sp->result, "exit-code") && sp->exec_main_code == 0) {
                /* No main process ended in this start: a command before it failed (our units have only
                 * ExecStartPre=, the binary check). */
                s = strdup("exit-code of ExecStartPre=");
        } else if (streq(sp->result, "exit-code")) {
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

static void plugin_failed(HostPlugin *p, const char *msg);

static void on_failed_checked(HostPlugin *p, int r, const char *message, void *userdata) {
        SystemdPlugin *sp = p->backend_data;
        _cleanup_free_ char *systemd_said = NULL;

        if (r >= 0 || p->state != HOST_PLUGIN_FAILED)
                return;
        if (free_and_strdup(&sp->binary_mismatch, message) < 0)
                return;
        systemd_said = strdup(strempty(p->last_error));
        if (systemd_said)
                plugin_failed(p, systemd_said);
}

static void plugin_failed(HostPlugin *p, const char *msg) {
        SystemdPlugin *sp = p->backend_data;
        _cleanup_free_ char *combined = NULL;
        bool was_failed = p->state == HOST_PLUGIN_FAILED;

        if (!was_failed)
                log_error("Plugin %s (%s) failed: %s", p->settings.name, sp->service_unit, msg);
        /* systemd knows only that the unit's ExecStartPre= failed (sdloop-verify-binary says why in the
         * unit's journal): the host's own look at the file names a mismatch in LastError too. */
        if (sp->binary_mismatch && asprintf(&combined, "%s (%s: %s)", sp->binary_mismatch, sp->service_unit, msg) >= 0)
                msg = combined;
        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg);
        if (!was_failed && p->settings.binary_sha256 && !sp->binary_mismatch &&
            host_plugin_check_binary_async(p, &sp->binary_check, on_failed_checked, NULL) < 0)
                log_oom();
}

/* Turn what systemd said into the plugin's state. */
void systemd_state_evaluate(HostPlugin *p) {
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
                if (!failure && !sp->start_limit_hit)
                        /* A unit fails for a reason, the Service's Result, which comes in a PropertiesChanged
                         * of its own and may follow the Unit's ActiveState: until it is here (our Result is
                         * still the last start's "success"), this is not an end. */
                        return;
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

        systemd_state_evaluate(p);
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
void systemd_state_unwatch(SystemdPlugin *sp) {
        sp->socket_slot = sd_bus_slot_unref(sp->socket_slot);
        sp->service_slot = sd_bus_slot_unref(sp->service_slot);
}

int systemd_state_watch(HostPlugin *p) {
        SystemdBackend *b = systemd_backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        int r;

        if (!b->bus)
                return -ENOTCONN;
        systemd_state_unwatch(sp);
        /* AddMatch is not waited for: the bus daemon has it before anything sent after it reaches the
         * manager. */
        r = sd_bus_match_signal_async(b->bus, &sp->service_slot, systemd_sender(b), sp->service_object,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged", on_service_changed,
                                      NULL, p);
        if (r < 0)
                return r;
        return sd_bus_match_signal_async(b->bus, &sp->socket_slot, systemd_sender(b), sp->socket_object,
                                         "org.freedesktop.DBus.Properties", "PropertiesChanged", on_socket_changed,
                                         NULL, p);
}

/* --- reading everything anew ------------------------------------------------------------------------
 *
 * GetUnit of both (addressing a unit's object directly would load it, leaving a "not-found" stub
 * behind), then GetAll of the interfaces we read, for the units that are loaded. The slots: 0 and 1 the
 * service's, 2 and 3 the socket's. */

static const char * const refresh_ifaces[4] = {
        "org.freedesktop.systemd1.Unit",
        "org.freedesktop.systemd1.Service",
        "org.freedesktop.systemd1.Unit",
        "org.freedesktop.systemd1.Socket",
};

void systemd_state_refresh_cancel(SystemdPlugin *sp) {
        for (size_t i = 0; i < ELEMENTSOF(sp->refresh_slots); i++)
                sp->refresh_slots[i] = sd_bus_slot_unref(sp->refresh_slots[i]);
        sp->refresh_pending = 0;
        sp->refresh_error = 0;
        sp->refresh_done = NULL;
}

static void refresh_step_done(HostPlugin *p) {
        SystemdPlugin *sp = p->backend_data;
        void (*done)(HostPlugin *p, int r) = sp->refresh_done;
        int r = sp->refresh_error;

        if (--sp->refresh_pending > 0)
                return;
        sp->refresh_done = NULL;
        if (r >= 0) {
                if (!sp->socket_loaded)
                        (void) free_and_strdup(&sp->socket_active_state, "inactive");
                if (!sp->service_loaded)
                        (void) free_and_strdup(&sp->active_state, "inactive");
        }
        if (done)
                done(p, r);
}

static size_t refresh_slot_index(SystemdPlugin *sp, sd_bus_message *m) {
        sd_bus_slot *current = sd_bus_get_current_slot(sd_bus_message_get_bus(m));

        for (size_t i = 0; i < ELEMENTSOF(sp->refresh_slots); i++)
                if (sp->refresh_slots[i] == current)
                        return i;
        return SIZE_MAX;
}

static int on_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;
        SystemdPlugin *sp = p->backend_data;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        size_t i = refresh_slot_index(sp, m);
        int r;

        if (i < ELEMENTSOF(sp->refresh_slots))
                sp->refresh_slots[i] = sd_bus_slot_unref(sp->refresh_slots[i]);
        if (e) {
                /* Unloaded between GetUnit and now: as if it had not been there. */
                if (!sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) && !systemd_error_is_no_such_unit(e)) {
                        log_debug("Plugin %s: GetAll: %s", p->settings.name, strna(e->message));
                        sp->refresh_error = -sd_bus_message_get_errno(m) ?: -EIO;
                }
        } else {
                r = parse_properties(m, sp, i >= 2);
                if (r < 0)
                        sp->refresh_error = r;
        }
        refresh_step_done(p);
        return 0;
}

static int on_get_unit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;
        SystemdBackend *b = systemd_backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        size_t i = refresh_slot_index(sp, m);
        bool socket = i >= 2;
        const char *path;
        int r;

        if (i < ELEMENTSOF(sp->refresh_slots))
                sp->refresh_slots[i] = sd_bus_slot_unref(sp->refresh_slots[i]);
        if (e) {
                if (!systemd_error_is_no_such_unit(e)) {
                        log_debug("Plugin %s: GetUnit: %s", p->settings.name, strna(e->message));
                        sp->refresh_error = -sd_bus_message_get_errno(m) ?: -EIO;
                }
                refresh_step_done(p);
                return 0;
        }
        r = sd_bus_message_read(m, "o", &path);
        if (r < 0) {
                sp->refresh_error = r;
                refresh_step_done(p);
                return 0;
        }
        if (socket)
                sp->socket_loaded = true;
        else
                sp->service_loaded = true;

        /* This unit's two GetAll replace its GetUnit in the count. */
        for (size_t k = socket ? 2 : 0; k < (socket ? 4U : 2U); k++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;

                r = sd_bus_message_new_method_call(b->bus, &call, SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties",
                                                   "GetAll");
                if (r >= 0)
                        r = sd_bus_message_append(call, "s", refresh_ifaces[k]);
                if (r >= 0)
                        r = systemd_call(b, &sp->refresh_slots[k], call, on_get_all, p);
                if (r < 0) {
                        sp->refresh_error = r;
                        continue;
                }
                sp->refresh_pending++;
        }
        refresh_step_done(p);
        return 0;
}

static void on_refreshed_evaluate(HostPlugin *p, int r) {
        if (r < 0) {
                log_warning_errno(r, "Plugin %s: failed to read the state of its units: %m", p->settings.name);
                return;
        }
        systemd_state_evaluate(p);
}

int systemd_state_refresh(HostPlugin *p, void (*done)(HostPlugin *p, int r)) {
        SystemdBackend *b = systemd_backend_of(p);
        SystemdPlugin *sp = p->backend_data;
        const char *units[2] = { sp->service_unit, sp->socket_unit };
        int r;

        systemd_state_refresh_cancel(sp);
        sp->socket_loaded = sp->service_loaded = false;
        /* GetUnit in slots 0 and 2; each unit's GetAll go to its pair of slots. */
        for (size_t i = 0; i < 2; i++) {
                r = systemd_manager_call(b, &sp->refresh_slots[i * 2], on_get_unit, p, "GetUnit", "s", units[i]);
                if (r < 0) {
                        systemd_state_refresh_cancel(sp);
                        return r;
                }
                sp->refresh_pending++;
        }
        sp->refresh_done = done ?: on_refreshed_evaluate;
        return 0;
}
