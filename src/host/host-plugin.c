/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"

static const char * const state_table[_HOST_PLUGIN_STATE_MAX] = {
        [HOST_PLUGIN_STOPPED] = "stopped",
        [HOST_PLUGIN_STARTING] = "starting",
        [HOST_PLUGIN_RUNNING] = "running",
        [HOST_PLUGIN_RECOVERING] = "recovering",
        [HOST_PLUGIN_FAILED] = "failed",
        [HOST_PLUGIN_STOPPING] = "stopping",
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
                .call_timeout_usec = 10 * USEC_PER_SEC,
                .sandbox = true,
        };
}

void host_plugin_settings_done(HostPluginSettings *s) {
        free(s->name);
        free(s->kind);
        free(s->binary);
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

static void plugin_drop_peer(HostPlugin *p) {
        if (!p->peer)
                return;
        sdloop_peer_set_disconnect_handler(p->peer, NULL, NULL);
        sdloop_peer_disconnect(p->peer);
        p->peer = sdloop_peer_unref(p->peer);
}

void host_plugin_free(HostPlugin *p) {
        Host *h;

        if (!p)
                return;
        h = p->host;

        host_cancel_work(h, p);
        p->recover_timer = sd_event_source_disable_unref(p->recover_timer);
        p->dead_peer = sdloop_peer_unref(p->dead_peer);
        while (p->handles_tail)
                host_handle_close(p->handles_tail);
        plugin_drop_peer(p);
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
        free(p->unit);
        free(p);
}

static void plugin_changed(HostPlugin *p) {
        if (p->host->on_plugin_changed)
                p->host->on_plugin_changed(p, p->host->userdata);
}

void host_plugin_update(HostPlugin *p, HostPluginState state, const unsigned *n_restarts, const uint32_t *main_pid,
                        const char *last_error) {
        bool changed = false;

        if (state >= 0 && state != p->state) {
                log_debug("Plugin %s: %s → %s.", p->settings.name, host_plugin_state_to_string(p->state),
                          host_plugin_state_to_string(state));
                p->state = state;
                changed = true;
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
        if (changed)
                plugin_changed(p);
}

static void work_recover(Host *h, void *userdata);

static int on_recover_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;

        p->recover_timer = sd_event_source_disable_unref(p->recover_timer);
        (void) host_queue_work(p->host, work_recover, p);
        return 0;
}

static void work_recover(Host *h, void *userdata) {
        HostPlugin *p = userdata;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        /* Someone up the stack is already bringing it back. */
        if (p->state != HOST_PLUGIN_RECOVERING || p->ensuring)
                return;

        r = host_plugin_ensure(p, host_now() + p->settings.call_timeout_usec, &error);
        if (r < 0 && p->state == HOST_PLUGIN_RECOVERING && !p->recover_timer) {
                log_warning("Plugin %s not back yet: %s", p->settings.name, error.message ?: strerror(-r));
                /* Try again in a while; the backend gives up by itself (start limit) and says so. */
                (void) sd_event_add_time_relative(h->event, &p->recover_timer, CLOCK_MONOTONIC, 100 * USEC_PER_MSEC,
                                                  0, on_recover_timer, p);
        }
        sd_bus_error_free(&error);
}

static void plugin_release_dead_peer(HostPlugin *p) {
        p->dead_peer = sdloop_peer_unref(p->dead_peer);
}

static void on_peer_gone(SdloopPeer *peer, void *userdata) {
        HostPlugin *p = userdata;

        if (peer != p->peer)
                return;

        log_info("Plugin %s: connection lost.", p->settings.name);
        p->lost_usec = host_now();
        for (HostHandle *h = p->handles_head; h; h = h->next)
                host_handle_lost(h);

        /* We are inside the connection's own dispatch: let go of it later, from top level. */
        sdloop_peer_set_disconnect_handler(peer, NULL, NULL);
        plugin_release_dead_peer(p);
        p->dead_peer = TAKE_PTR(p->peer);

        if (IN_SET_STATE(p->state, HOST_PLUGIN_RUNNING, HOST_PLUGIN_STARTING)) {
                host_plugin_update(p, HOST_PLUGIN_RECOVERING, NULL, NULL, NULL);
                /* Eagerly: re-exports and proxies should come back without waiting for a caller. */
                (void) host_queue_work(p->host, work_recover, p);
        }
}

/* Wait up to @usec for events, serving work meanwhile (top level). */
static void plugin_wait(HostPlugin *p, uint64_t usec) {
        (void) sd_event_run(p->host->event, usec);
        host_run_work(p->host);
}

static int plugin_unavailable(HostPlugin *p, sd_bus_error *error, const char *why) {
        /* Say why now, not what went wrong on the last attempt. */
        sd_bus_error_free(error);
        return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s is %s%s%s",
                                 p->settings.name, host_plugin_state_to_string(p->state), why ? ": " : "",
                                 strempty(why));
}

static int plugin_connect(HostPlugin *p, uint64_t deadline, sd_bus_error *error) {
        int r;

        plugin_release_dead_peer(p);

        for (;;) {
                _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
                _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
                uint64_t now = host_now();

                if (IN_SET_STATE(p->state, HOST_PLUGIN_FAILED, HOST_PLUGIN_STOPPED, HOST_PLUGIN_STOPPING))
                        return plugin_unavailable(p, error, p->last_error);
                if (now >= deadline)
                        return plugin_unavailable(p, error, "no answer in time");

                r = sdloop_peer_connect(p->host->event, p->settings.socket_path, &peer);
                if (r < 0) {
                        /* The socket may not be there yet (backend still setting up). */
                        plugin_wait(p, MIN(deadline - now, 10 * USEC_PER_MSEC));
                        continue;
                }
                (void) sdloop_peer_set_description(peer, p->settings.name);
                /* The handshake waits while the process (re)starts behind the socket. */
                sdloop_peer_set_call_timeout(peer, deadline - now);

                sd_bus_error_free(error);
                r = sdloop_peer_handshake(peer, p->settings.kind, &id, error);
                if (r == -EPROTO) {
                        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, error->message);
                        return r;
                }
                if (r < 0 || !sdloop_peer_is_connected(peer)) {
                        /* Died before answering, or right after (the hangup read with the reply): wait for
                         * the next process. */
                        plugin_wait(p, MIN(deadline - MIN(deadline, host_now()), 10 * USEC_PER_MSEC));
                        continue;
                }

                sdloop_peer_set_call_timeout(peer, p->settings.call_timeout_usec);
                sdloop_peer_set_disconnect_handler(peer, on_peer_gone, p);
                sdloop_plugin_identity_done(&p->identity);
                p->identity = id;
                id = (SdloopPluginIdentity) {};
                p->peer = TAKE_PTR(peer);
                p->generation++;

                if (p->on_connect) {
                        r = p->on_connect(p, p->peer, p->on_connect_userdata);
                        if (r < 0 && !sdloop_peer_is_connected(p->peer)) {
                                /* Gone meanwhile: not an error of ours, wait for the next process. */
                                plugin_drop_peer(p);
                                plugin_wait(p, MIN(deadline - MIN(deadline, host_now()), 10 * USEC_PER_MSEC));
                                continue;
                        }
                        if (r < 0)
                                return sdloop_error_ensure(error, r, "exporting host objects");
                }
                log_debug("Plugin %s: connected (generation %" PRIu64 ").", p->settings.name, p->generation);
                return 0;
        }
}

int host_plugin_ensure(HostPlugin *p, uint64_t deadline, sd_bus_error *error) {
        int r;

        if (p->ensuring) {
                /* Re-entered from work that runs while we wait: the outer call does the job. */
                if (sdloop_peer_is_connected(p->peer))
                        return 0;
                return plugin_unavailable(p, error, "reconnecting");
        }

        p->ensuring = true;
        for (;;) {
                bool lost = false;

                if (!sdloop_peer_is_connected(p->peer)) {
                        r = plugin_connect(p, deadline, error);
                        if (r < 0)
                                break;
                }

                /* Re-create what callers hold, parents first (creation order). */
                for (HostHandle *h = p->handles_head; h; h = h->next) {
                        if (h->generation == p->generation && h->remote_path)
                                continue;
                        sd_bus_error_free(error);
                        r = host_handle_recreate(h, error);
                        if (r < 0 && !sdloop_peer_is_connected(p->peer)) {
                                lost = true;
                                break;
                        }
                        if (r < 0 && host_now() < deadline &&
                            (sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE) ||
                             sd_bus_error_has_name(error, SDLOOP_ERROR_TIMEOUT))) {
                                /* Something it depends on (the relayer behind a provider proxy) is
                                 * coming back: retry shortly. */
                                plugin_wait(p, 10 * USEC_PER_MSEC);
                                lost = true;
                                break;
                        }
                        if (r < 0) {
                                log_warning("Plugin %s: could not re-create %s: %s", p->settings.name,
                                            h->stable_path, error->message ?: strerror(-r));
                                goto finish;
                        }
                }
                if (lost) {
                        if (host_now() >= deadline) {
                                r = plugin_unavailable(p, error, "lost again while recovering");
                                break;
                        }
                        continue;
                }

                if (p->lost_usec > 0) {
                        p->last_recovery_usec = host_now() - p->lost_usec;
                        log_info("Plugin %s: recovered in %" PRIu64 " µs.", p->settings.name, p->last_recovery_usec);
                        p->lost_usec = 0;
                }
                host_plugin_update(p, HOST_PLUGIN_RUNNING, NULL, NULL, NULL);
                r = 0;
                break;
        }
finish:
        p->ensuring = false;
        return r;
}

int host_plugin_start(HostPlugin *p, sd_bus_error *error) {
        int r;

        if (p->state == HOST_PLUGIN_RUNNING)
                return 0;

        host_plugin_update(p, HOST_PLUGIN_STARTING, NULL, NULL, NULL);
        r = p->host->backend->start(p);
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;

                if (asprintf(&msg, "failed to start: %s", strerror(-r)) < 0)
                        msg = NULL;
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg ?: "failed to start");
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s: %s", p->settings.name,
                                         strempty(msg));
        }

        return host_plugin_ensure(p, host_now() + p->settings.call_timeout_usec, error);
}

int host_plugin_stop(HostPlugin *p) {
        int r = 0;

        if (p->state == HOST_PLUGIN_STOPPED)
                return 0;

        host_plugin_update(p, HOST_PLUGIN_STOPPING, NULL, NULL, NULL);
        for (HostHandle *h = p->handles_head; h; h = h->next)
                host_handle_lost(h);
        plugin_drop_peer(p);
        plugin_release_dead_peer(p);
        if (p->host->backend->stop)
                r = p->host->backend->stop(p);
        host_plugin_update(p, HOST_PLUGIN_STOPPED, NULL, NULL, NULL);
        return r;
}

int host_plugin_restart(HostPlugin *p, sd_bus_error *error) {
        int r;

        if (IN_SET_STATE(p->state, HOST_PLUGIN_STOPPED, HOST_PLUGIN_FAILED)) {
                /* Like systemctl restart of a failed unit: a fresh start with a clean slate. */
                (void) host_plugin_stop(p);
                return host_plugin_start(p, error);
        }

        if (p->host->backend->restart) {
                r = p->host->backend->restart(p);
                if (r < 0)
                        return sdloop_error_ensure(error, r, "restart");
        }
        return host_plugin_ensure(p, host_now() + p->settings.call_timeout_usec, error);
}
