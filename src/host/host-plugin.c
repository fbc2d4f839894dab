/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-backend.h"
#include "host-handle.h"
#include "host-integrity.h"
#include "host-plugin.h"
#include "macro.h"

static const char * const state_table[_HOST_PLUGIN_STATE_MAX] = {
        [HOST_PLUGIN_STOPPED] = "stopped",
        [HOST_PLUGIN_STARTING] = "starting",
        [HOST_PLUGIN_RUNNING] = "running",
        [HOST_PLUGIN_RECOVERING] = "recovering",
        [HOST_PLUGIN_FAILED] = "failed",
        [HOST_PLUGIN_STOPPING] = "stopping",
        [HOST_PLUGIN_UNRESPONSIVE] = "unresponsive",
};

const char *host_plugin_state_to_string(HostPluginState s) {
        return s >= 0 && s < _HOST_PLUGIN_STATE_MAX ? state_table[s] : NULL;
}

static const char * const restart_table[_HOST_RESTART_MAX] = {
        [HOST_RESTART_NO] = "no",
        [HOST_RESTART_ON_FAILURE] = "on-failure",
        [HOST_RESTART_ON_ABNORMAL] = "on-abnormal",
        [HOST_RESTART_ALWAYS] = "always",
};

const char *host_restart_to_string(HostRestart r) {
        return r >= 0 && r < _HOST_RESTART_MAX ? restart_table[r] : NULL;
}

HostRestart host_restart_from_string(const char *s) {
        for (int i = 0; s && i < _HOST_RESTART_MAX; i++)
                if (streq(restart_table[i], s))
                        return i;
        return _HOST_RESTART_INVALID;
}

void host_plugin_settings_init(HostPluginSettings *s) {
        *s = (HostPluginSettings) {
                .restart = HOST_RESTART_ON_FAILURE,
                .restart_usec = 100 * USEC_PER_MSEC,
                .start_limit_burst = 5,
                .start_limit_interval_usec = 10 * USEC_PER_SEC,
                .watchdog_usec = HOST_WATCHDOG_USEC_DEFAULT,
                .call_timeout_usec = 10 * USEC_PER_SEC,
                .probe_interval_usec = HOST_PROBE_INTERVAL_USEC_DEFAULT,
                .probe_failures = HOST_PROBE_FAILURES_DEFAULT,
                .sandbox = true,
        };
}

void host_plugin_settings_done(HostPluginSettings *s) {
        free(s->name);
        free(s->kind);
        free(s->binary);
        free(s->binary_sha256);
        strv_free(s->args);
        strv_free(s->environment);
        free(s->socket_path);
        free(s->state_directory);
        free(s->user);
        *s = (HostPluginSettings) {};
}

int host_plugin_new(Host *h, HostPluginSettings *settings, HostPlugin **ret) {
        HostPlugin *p;

        if (!settings->name || !settings->kind || !settings->binary || !settings->socket_path)
                return -EINVAL;
        if (host_find_plugin(h, settings->name))
                return -EEXIST;

        p = new0(HostPlugin, 1);
        if (!p)
                return -ENOMEM;
        p->host = h;
        p->settings = *settings;
        *settings = (HostPluginSettings) {};
        p->state = HOST_PLUGIN_STOPPED;

        p->next = h->plugins;
        h->plugins = p;
        if (ret)
                *ret = p;
        return 0;
}

#define IN_SET_STATE(x, ...) ({                                               \
                bool _found = false;                                            \
                const HostPluginState _set[] = { __VA_ARGS__ };                 \
                for (size_t _i = 0; _i < ELEMENTSOF(_set); _i++)                \
                        if (_set[_i] == (x))                                    \
                                _found = true;                                  \
                _found;                                                         \
        })

struct HostPluginWaiter {
        HostPlugin *plugin;
        host_plugin_done_fn done;
        void *userdata;
        sd_event_source *timer;
        HostPluginWaiter *next;
};

bool host_plugin_is_up(HostPlugin *p) {
        return p->state == HOST_PLUGIN_RUNNING || p->state == HOST_PLUGIN_UNRESPONSIVE;
}

bool host_plugin_is_down(HostPlugin *p) {
        return p->state == HOST_PLUGIN_STOPPED || p->state == HOST_PLUGIN_FAILED || p->state == HOST_PLUGIN_STOPPING;
}

int host_plugin_unavailable(HostPlugin *p, sd_bus_error *error, const char *why) {
        /* Say why now, not what went wrong on the last attempt. */
        sd_bus_error_free(error);
        return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s is %s%s%s",
                                 p->settings.name, host_plugin_state_to_string(p->state), why ? ": " : "",
                                 strempty(why));
}

/* --- waiters ------------------------------------------------------------------------------------------ */

static void waiter_unlink(HostPluginWaiter *w) {
        for (HostPluginWaiter **i = &w->plugin->waiters; *i; i = &(*i)->next)
                if (*i == w) {
                        *i = w->next;
                        break;
                }
        w->timer = sd_event_source_disable_unref(w->timer);
}

static void waiter_finish(HostPluginWaiter *w, int r, const sd_bus_error *error) {
        HostPlugin *p = w->plugin;
        host_plugin_done_fn done = w->done;
        void *userdata = w->userdata;

        waiter_unlink(w);
        free(w);
        if (done)
                done(p, r, error, userdata);
}

void host_plugin_waiter_cancel(HostPluginWaiter *w) {
        if (!w)
                return;
        waiter_unlink(w);
        free(w);
}

void host_plugin_complete_waiters(HostPlugin *p, int r, const sd_bus_error *error) {
        /* One at a time from the head: a waiter's callback may add or cancel others. */
        while (p->waiters)
                waiter_finish(p->waiters, r, error);
}

static int on_waiter_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPluginWaiter *w = userdata;
        HostPlugin *p = w->plugin;
        int r;

        r = host_plugin_unavailable(p, &error, p->last_error && p->state != HOST_PLUGIN_RUNNING ?
                                    p->last_error : "no answer in time");
        waiter_finish(w, r, &error);
        return 0;
}

int host_plugin_wait_running(HostPlugin *p, uint64_t deadline, host_plugin_done_fn done, void *userdata,
                             HostPluginWaiter **ret) {
        HostPluginWaiter *w, **tail;
        int r;

        w = new0(HostPluginWaiter, 1);
        if (!w)
                return -ENOMEM;
        *w = (HostPluginWaiter) { .plugin = p, .done = done, .userdata = userdata };
        /* Accuracy 1 ms: a caller's deadline is not to be coalesced up to 250 ms later. */
        r = sd_event_add_time(p->host->event, &w->timer, CLOCK_MONOTONIC, deadline, USEC_PER_MSEC,
                              on_waiter_deadline, w);
        if (r < 0) {
                free(w);
                return r;
        }
        (void) sd_event_source_set_description(w->timer, "host-plugin-wait");
        /* Oldest first. */
        for (tail = &p->waiters; *tail; tail = &(*tail)->next)
                ;
        *tail = w;
        if (ret)
                *ret = w;
        /* Told from the loop, also when it is running already (or down). */
        host_plugin_kick(p);
        return 0;
}

/* --- life cycle -------------------------------------------------------------------------------------- */

void host_plugin_free(HostPlugin *p) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Host *h;
        int r;

        if (!p)
                return;
        h = p->host;

        r = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s is going away", p->settings.name);
        host_plugin_complete_waiters(p, r, &error);
        host_binary_check_cancel(&p->binary_check);
        host_accounting_free_all(p);
        host_plugin_cancel_steps(p);
        p->step_timer = sd_event_source_disable_unref(p->step_timer);
        host_probe_free(p);
        while (p->handles_tail)
                host_handle_close(p->handles_tail);
        if (p->peer) {
                sdloop_peer_set_disconnect_handler(p->peer, NULL, NULL);
                sdloop_peer_disconnect(p->peer);
                p->peer = sdloop_peer_unref(p->peer);
        }
        p->dead_peer = sdloop_peer_unref(p->dead_peer);
        if (h->backend->free)
                h->backend->free(p);

        for (HostPlugin **i = &h->plugins; *i; i = &(*i)->next)
                if (*i == p) {
                        *i = p->next;
                        break;
                }

        sdloop_plugin_identity_done(&p->identity);
        host_plugin_settings_done(&p->settings);
        free(p->last_error);
        free(p->crash_reason);
        free(p->unit);
        free(p);
}

static void plugin_changed(HostPlugin *p) {
        if (p->host->on_plugin_changed)
                p->host->on_plugin_changed(p, p->host->userdata);
}

void host_plugin_update(HostPlugin *p, HostPluginState state, const unsigned *n_restarts, const uint32_t *main_pid,
                        const char *last_error) {
        _cleanup_free_ char *combined = NULL;
        bool changed = false, down;

        if (state >= 0 && state != p->state) {
                bool was_up = host_plugin_is_up(p);

                log_debug("Plugin %s: %s → %s.", p->settings.name, host_plugin_state_to_string(p->state),
                          host_plugin_state_to_string(state));
                p->state = state;
                changed = true;
                if (state == HOST_PLUGIN_RUNNING)
                        p->crash_reason = mfree(p->crash_reason);
                if (state == HOST_PLUGIN_RUNNING && !was_up)
                        host_probe_schedule(p);
                else if (!host_plugin_is_up(p))
                        host_probe_stop(p);
        }
        if (last_error && p->crash_reason && !streq(last_error, p->crash_reason)) {
                /* The backend's word on the end of a process we killed: both are worth reading. */
                if (state != HOST_PLUGIN_FAILED &&
                    asprintf(&combined, "%s; process %s", p->crash_reason, last_error) >= 0)
                        last_error = combined;
                p->crash_reason = mfree(p->crash_reason);
        }
        if (n_restarts && *n_restarts != p->n_restarts) {
                p->n_restarts = *n_restarts;
                changed = true;
        }
        if (main_pid && *main_pid != p->main_pid) {
                p->main_pid = *main_pid;
                changed = true;
        }
        if (last_error && !streq_ptr(last_error, p->last_error)) {
                (void) free_and_strdup(&p->last_error, last_error);
                changed = true;
        }
        down = state == HOST_PLUGIN_FAILED;
        if (changed)
                plugin_changed(p);
        if (down)
                /* Nothing brings it back but an operator: whoever waits is told now, from the loop. */
                host_plugin_kick(p);
}

static void on_backend_started(HostPlugin *p, int r, const char *message, void *userdata) {
        _cleanup_free_ char *msg = NULL;

        if (p->state != HOST_PLUGIN_STARTING)
                return;
        if (r < 0) {
                if (asprintf(&msg, "failed to start: %s", message ?: strerror(-r)) < 0)
                        msg = NULL;
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg ?: "failed to start");
                return;
        }
        /* The socket is there now: connect without waiting out a back-off begun before it was. */
        if (p->step == HOST_PLUGIN_STEP_BACKOFF)
                p->step = HOST_PLUGIN_STEP_IDLE;
        p->backoff_usec = 0;
        host_plugin_kick(p);
}

/* Someone waiting for a stop: a top-level caller (host_plugin_stop_wait(); if it gave up, the completion
 * frees it) or a completion (host_plugin_stop_async(), told from the loop). */
typedef struct StopWait {
        bool done;
        bool abandoned;
        host_plugin_done_fn cb;
        void *userdata;
        HostPlugin *plugin;
        sd_event_source *defer; /* the stop ended at once: cb runs from here */
} StopWait;

static void stop_wait_finish(HostPlugin *p, StopWait *w) {
        if (w->cb) {
                host_plugin_done_fn cb = w->cb;
                void *userdata = w->userdata;

                sd_event_source_disable_unref(w->defer);
                free(w);
                cb(p, 0, NULL, userdata);
                return;
        }
        if (w->abandoned)
                free(w);
        else
                w->done = true;
}

static void on_backend_stopped(HostPlugin *p, int r, const char *message, void *userdata) {
        StopWait *w = userdata;

        if (r < 0)
                log_warning("Plugin %s: stopping: %s", p->settings.name, message ?: strerror(-r));
        /* Unless started again meanwhile. */
        if (p->state == HOST_PLUGIN_STOPPING)
                host_plugin_update(p, HOST_PLUGIN_STOPPED, NULL, NULL, NULL);
        if (w)
                stop_wait_finish(p, w);
}

static void on_backend_restarted(HostPlugin *p, int r, const char *message, void *userdata) {
        if (r < 0)
                log_warning("Plugin %s: restarting: %s", p->settings.name, message ?: strerror(-r));
}

static void plugin_backend_start(HostPlugin *p) {
        _cleanup_free_ char *msg = NULL;
        int r;

        r = p->host->backend->start(p, on_backend_started, NULL);
        if (r >= 0)
                return;
        if (asprintf(&msg, "failed to start: %s", strerror(-r)) < 0)
                msg = NULL;
        /* Whoever waits is told from the loop, with LastError. */
        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg ?: "failed to start");
}

/* A pinned binary that does not match is not started: the plugin is FAILED, LastError says why. */
static void on_start_checked(HostPlugin *p, int r, const char *message, void *userdata) {
        if (p->state != HOST_PLUGIN_STARTING)
                return;
        if (r < 0) {
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, message);
                return;
        }
        plugin_backend_start(p);
}

static int plugin_begin_start(HostPlugin *p) {
        host_plugin_update(p, HOST_PLUGIN_STARTING, NULL, NULL, NULL);
        if (!p->settings.binary_sha256) {
                plugin_backend_start(p);
                return 0;
        }
        return host_plugin_check_binary_async(p, &p->binary_check, on_start_checked, NULL);
}

static int plugin_fail_later(HostPlugin *p, const sd_bus_error *error, host_plugin_done_fn done, void *userdata) {
        HostPluginWaiter *w;
        int r;

        /* The plugin is FAILED now: the waiter is told so from the loop, with the reason. */
        r = host_plugin_wait_running(p, host_now(), done, userdata, &w);
        if (r < 0)
                return r;
        log_debug("Plugin %s: %s", p->settings.name, strempty(error->message));
        return 0;
}

int host_plugin_start_async(HostPlugin *p, host_plugin_done_fn done, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!IN_SET_STATE(p->state, HOST_PLUGIN_RUNNING, HOST_PLUGIN_STARTING, HOST_PLUGIN_RECOVERING,
                          HOST_PLUGIN_UNRESPONSIVE)) {
                r = plugin_begin_start(p);
                if (r < 0) {
                        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, "failed to check the binary");
                        r = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s: %s",
                                              p->settings.name, strerror(-r));
                        return plugin_fail_later(p, &error, done, userdata);
                }
                p->backoff_usec = 0;
        }
        return host_plugin_wait_running(p, host_now() + p->settings.call_timeout_usec, done, userdata, NULL);
}

static int plugin_stop(HostPlugin *p, StopWait *w) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = 0, k;

        if (IN_SET_STATE(p->state, HOST_PLUGIN_STOPPED, HOST_PLUGIN_STOPPING))
                return 0;

        host_plugin_update(p, HOST_PLUGIN_STOPPING, NULL, NULL, NULL);
        p->crash_reason = mfree(p->crash_reason);
        host_binary_check_cancel(&p->binary_check);
        host_plugin_cancel_steps(p);
        for (HostHandle *h = p->handles_head; h; h = h->next)
                host_handle_lost(h);
        if (p->peer) {
                sdloop_peer_set_disconnect_handler(p->peer, NULL, NULL);
                sdloop_peer_disconnect(p->peer);
                p->dead_peer = sdloop_peer_unref(p->dead_peer);
                p->dead_peer = TAKE_PTR(p->peer);
        }
        /* STOPPED once the backend says the process is gone (a start asked for meanwhile runs after that). */
        if (p->host->backend->stop)
                r = p->host->backend->stop(p, on_backend_stopped, w);
        if (!p->host->backend->stop || r < 0) {
                host_plugin_update(p, HOST_PLUGIN_STOPPED, NULL, NULL, NULL);
                if (w)
                        w->done = true;
        }

        k = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s was stopped", p->settings.name);
        host_plugin_complete_waiters(p, k, &error);
        for (HostHandle *h = p->handles_head; h; h = h->next)
                host_handle_fail_calls(h, k, &error);
        return r;
}

int host_plugin_stop(HostPlugin *p) {
        return plugin_stop(p, NULL);
}

static int on_stop_deferred(sd_event_source *s, void *userdata) {
        StopWait *w = userdata;

        stop_wait_finish(w->plugin, w);
        return 0;
}

/* Begin the stop @w waits for, or queue it behind one under way: w->done once nothing is left to wait for
 * (the backend tells on_backend_stopped() otherwise). */
static int stop_wait_begin(HostPlugin *p, StopWait *w) {
        int r = 0;

        if (p->state == HOST_PLUGIN_STOPPED) {
                w->done = true;
                return 0;
        }
        if (p->state != HOST_PLUGIN_STOPPING)
                return plugin_stop(p, w);

        /* A stop is under way: one more, queued behind it, ends after it. */
        if (p->host->backend->stop)
                r = p->host->backend->stop(p, on_backend_stopped, w);
        if (!p->host->backend->stop || r < 0)
                w->done = true;
        return r;
}

int host_plugin_stop_async(HostPlugin *p, host_plugin_done_fn done, void *userdata) {
        StopWait *w;
        int r;

        w = new0(StopWait, 1);
        if (!w)
                return -ENOMEM;
        *w = (StopWait) { .cb = done, .userdata = userdata, .plugin = p };

        (void) stop_wait_begin(p, w);
        if (!w->done)
                return 0;

        /* Nothing to wait for: told from the loop all the same, never from inside this call. */
        r = sd_event_add_defer(p->host->event, &w->defer, on_stop_deferred, w);
        if (r < 0) {
                free(w);
                return r;
        }
        return 0;
}

static int plugin_backend_restart(HostPlugin *p) {
        int r;

        if (p->host->backend->restart) {
                r = p->host->backend->restart(p, on_backend_restarted, NULL);
                if (r < 0)
                        return r;
        }
        /* A frozen process does not act on the polite stop a restart begins with: insist. */
        if (p->state == HOST_PLUGIN_UNRESPONSIVE && p->host->backend->kill) {
                r = p->host->backend->kill(p);
                if (r < 0)
                        log_warning_errno(r, "Plugin %s: failed to kill the unresponsive process: %m",
                                          p->settings.name);
        }
        /* The connection to the old process is as good as gone: do not wait to notice. */
        host_plugin_connection_lost(p, "restarted");
        return 0;
}

/* A binary replaced since the process started is not restarted: the old process is stopped, the plugin
 * FAILED; whoever waits for the restart is told why first. */
static void on_restart_checked(HostPlugin *p, int r, const char *message, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int k;

        if (r >= 0) {
                /* Failed or stopped meanwhile: whoever waits is told so from the loop. */
                if (host_plugin_is_down(p)) {
                        host_plugin_kick(p);
                        return;
                }
                r = plugin_backend_restart(p);
                if (r >= 0)
                        return;
                /* As a restart that could not begin: the process runs on, whoever waits is told. */
                log_warning_errno(r, "Plugin %s: failed to restart: %m", p->settings.name);
                k = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s: failed to restart: %s",
                                      p->settings.name, strerror(-r));
                host_plugin_complete_waiters(p, k, &error);
                host_plugin_kick(p);
                return;
        }
        k = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s: %s", p->settings.name, message);
        host_plugin_complete_waiters(p, k, &error);
        (void) host_plugin_stop(p);
        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, message);
}

int host_plugin_restart_async(HostPlugin *p, host_plugin_done_fn done, void *userdata) {
        int r;

        if (IN_SET_STATE(p->state, HOST_PLUGIN_STOPPED, HOST_PLUGIN_FAILED, HOST_PLUGIN_STOPPING)) {
                /* Like systemctl restart of a failed unit: a fresh start with a clean slate. */
                (void) host_plugin_stop(p);
                return host_plugin_start_async(p, done, userdata);
        }

        /* A start under way goes on as it was (its binary is being checked): a restart is that start. */
        if (p->state == HOST_PLUGIN_STARTING && p->binary_check)
                return host_plugin_wait_running(p, host_now() + p->settings.call_timeout_usec, done, userdata,
                                                NULL);

        /* The binary may have been replaced since the process started: it is checked first, the process
         * runs on meanwhile, and whoever waits is told after the restart (host-recovery.c takes no step while
         * the check runs). */
        if (p->settings.binary_sha256) {
                r = host_plugin_check_binary_async(p, &p->binary_check, on_restart_checked, NULL);
                if (r < 0)
                        return r;
        } else {
                r = plugin_backend_restart(p);
                if (r < 0)
                        return r;
        }
        return host_plugin_wait_running(p, host_now() + p->settings.call_timeout_usec, done, userdata, NULL);
}

int host_plugin_treat_as_crashed(HostPlugin *p, const char *reason) {
        int r = 0;

        if (host_plugin_is_down(p))
                return 0;

        log_warning("Plugin %s: %s; treating it as crashed.", p->settings.name, strempty(reason));
        p->crash_reason = mfree(p->crash_reason);
        if (reason) {
                host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, NULL, NULL, reason);
                p->crash_reason = strdup(reason);
        }
        if (p->host->backend->kill) {
                r = p->host->backend->kill(p);
                if (r < 0)
                        log_warning_errno(r, "Plugin %s: failed to kill the process: %m", p->settings.name);
        }
        host_plugin_connection_lost(p, reason);
        return r;
}

void host_plugin_process_lost(HostPlugin *p) {
        if (!host_plugin_is_up(p))
                return;
        host_plugin_connection_lost(p, "process gone");
}

/* --- synchronous wrappers (top level) ------------------------------------------------------------------ */

typedef struct SyncWait {
        bool done;
        int r;
        sd_bus_error error;
} SyncWait;

static void on_sync_done(HostPlugin *p, int r, const sd_bus_error *error, void *userdata) {
        SyncWait *w = userdata;

        w->done = true;
        w->r = r;
        if (r < 0)
                (void) sd_bus_error_copy(&w->error, error);
}

static int sync_finish(HostPlugin *p, SyncWait *w, const char *what, sd_bus_error *error) {
        int r;

        r = host_run_until(p->host, &w->done, what, error);
        if (r < 0) {
                sd_bus_error_free(&w->error);
                return r;
        }
        if (w->r < 0) {
                sd_bus_error_free(error);
                if (error)
                        sd_bus_error_move(error, &w->error);
                else
                        sd_bus_error_free(&w->error);
        }
        return w->r;
}

static bool refuse_in_dispatch(HostPlugin *p, const char *what, sd_bus_error *error, int *ret) {
        static const bool never = false;

        if (!host_in_dispatch(p->host))
                return false;
        *ret = host_run_until(p->host, &never, what, error);
        return true;
}

int host_plugin_start(HostPlugin *p, sd_bus_error *error) {
        SyncWait w = { .error = SD_BUS_ERROR_NULL };
        int r;

        if (refuse_in_dispatch(p, "host_plugin_start()", error, &r))
                return r;
        r = host_plugin_start_async(p, on_sync_done, &w);
        if (r < 0)
                return sdloop_error_ensure(error, r, "start");
        return sync_finish(p, &w, "host_plugin_start()", error);
}

int host_plugin_restart(HostPlugin *p, sd_bus_error *error) {
        SyncWait w = { .error = SD_BUS_ERROR_NULL };
        int r;

        if (refuse_in_dispatch(p, "host_plugin_restart()", error, &r))
                return r;
        r = host_plugin_restart_async(p, on_sync_done, &w);
        if (r < 0)
                return sdloop_error_ensure(error, r, "restart");
        return sync_finish(p, &w, "host_plugin_restart()", error);
}

int host_plugin_ensure(HostPlugin *p, uint64_t deadline, sd_bus_error *error) {
        SyncWait w = { .error = SD_BUS_ERROR_NULL };
        int r;

        if (refuse_in_dispatch(p, "host_plugin_ensure()", error, &r))
                return r;
        r = host_plugin_wait_running(p, deadline, on_sync_done, &w, NULL);
        if (r < 0)
                return sdloop_error_ensure(error, r, "wait");
        return sync_finish(p, &w, "host_plugin_ensure()", error);
}

int host_plugin_stop_wait(HostPlugin *p, sd_bus_error *error) {
        StopWait *w;
        int r;

        if (refuse_in_dispatch(p, "host_plugin_stop_wait()", error, &r))
                return r;
        w = new0(StopWait, 1);
        if (!w)
                return -ENOMEM;
        r = stop_wait_begin(p, w);
        if (r < 0 || w->done) {
                free(w);
                return r;
        }
        r = host_run_until(p->host, &w->done, "host_plugin_stop_wait()", error);
        if (r < 0) {
                w->abandoned = true;
                return r;
        }
        free(w);
        return 0;
}
