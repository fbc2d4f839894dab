/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One state machine per plugin, driven by the host's sd-event loop and never waiting inside it:
 *
 *   connect → handshake (GetAll of org.sdloop1.Plugin, asynchronously) → on_connect (export the host's
 *   objects) → create every handle on the new connection, one after another in creation order (parents
 *   before children), each waiting first for what it needs of another plugin → RUNNING
 *
 * A lost connection (or a plugin treated as crashed) starts the same path again, whatever the backend. An
 * attempt that fails — the socket not there yet, the process gone during the handshake, a create that
 * fails with PluginUnavailable or Timeout because something it needs is coming back — is retried after an
 * exponential back-off with jitter (host_backoff_next()). Each plugin runs its own machine: two plugins
 * that die together recover in parallel, and one waits for the other only where one of its objects needs
 * an object of the other (HostHandleOps.needs), for exactly that object.
 *
 * A plugin that is connected but does not answer its health probes (host-probe.c) is UNRESPONSIVE: its
 * handles stay as they are, and it is treated as crashed after too many probes in a row went unanswered. */

#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"

static void plugin_advance(HostPlugin *p);

static int on_step_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;

        if (p->step == HOST_PLUGIN_STEP_BACKOFF)
                p->step = HOST_PLUGIN_STEP_IDLE;
        plugin_advance(p);
        return 0;
}

static void plugin_schedule(HostPlugin *p, uint64_t usec) {
        int r;

        if (!p->step_timer) {
                /* Accuracy 1 µs: a back-off of 10 ms must not become 250 ms by coalescing. */
                r = sd_event_add_time(p->host->event, &p->step_timer, CLOCK_MONOTONIC, usec, 1, on_step_timer, p);
                if (r < 0) {
                        p->step_timer = NULL;
                        log_error_errno(r, "Plugin %s: cannot schedule its next step: %m", p->settings.name);
                        return;
                }
                (void) sd_event_source_set_description(p->step_timer, "host-plugin-step");
                return;
        }
        r = sd_event_source_set_time(p->step_timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->step_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Plugin %s: cannot schedule its next step: %m", p->settings.name);
}

void host_plugin_kick(HostPlugin *p) {
        /* A back-off in progress is kept, unless there is nothing left to wait for. */
        if (p->step == HOST_PLUGIN_STEP_BACKOFF && !host_plugin_is_down(p))
                return;
        plugin_schedule(p, 0);
}

static void plugin_backoff(HostPlugin *p) {
        uint64_t delay = host_backoff_next(&p->backoff_usec);

        p->step = HOST_PLUGIN_STEP_BACKOFF;
        plugin_schedule(p, host_now() + delay);
}

/* Let go of a connection later, from the next step: we may be inside its own dispatch now. */
static void plugin_bury(HostPlugin *p, SdloopPeer *peer) {
        if (!peer)
                return;
        sdloop_peer_set_disconnect_handler(peer, NULL, NULL);
        if (p->dead_peer) {
                sdloop_peer_disconnect(p->dead_peer);
                sdloop_peer_unref(p->dead_peer);
        }
        p->dead_peer = peer;
}

static void plugin_release_dead_peer(HostPlugin *p) {
        if (!p->dead_peer)
                return;
        sdloop_peer_disconnect(p->dead_peer);
        p->dead_peer = sdloop_peer_unref(p->dead_peer);
}

void host_plugin_cancel_steps(HostPlugin *p) {
        if (p->step_timer)
                (void) sd_event_source_set_enabled(p->step_timer, SD_EVENT_OFF);
        p->handshake_slot = sd_bus_slot_unref(p->handshake_slot);
        plugin_bury(p, TAKE_PTR(p->candidate));
        if (p->creating) {
                p->creating->create_slot = sd_bus_slot_unref(p->creating->create_slot);
                p->creating = NULL;
        }
        p->blocked_on = NULL;
        p->step = HOST_PLUGIN_STEP_IDLE;
}

static void kick_blocked_on(Host *host, HostHandle *h) {
        for (HostPlugin *q = host->plugins; q; q = q->next)
                if (q->step == HOST_PLUGIN_STEP_DEPENDENCY && q->blocked_on == h)
                        host_plugin_kick(q);
}

void host_plugin_connection_lost(HostPlugin *p, const char *why) {
        if (p->peer)
                log_info("Plugin %s: connection lost (%s).", p->settings.name, why);
        if (p->lost_usec == 0)
                p->lost_usec = host_now();

        host_plugin_cancel_steps(p);
        host_probe_stop(p);
        for (HostHandle *h = p->handles_head; h; h = h->next)
                host_handle_lost(h);
        plugin_bury(p, TAKE_PTR(p->peer));

        if (p->state == HOST_PLUGIN_RUNNING || p->state == HOST_PLUGIN_STARTING ||
            p->state == HOST_PLUGIN_UNRESPONSIVE)
                host_plugin_update(p, HOST_PLUGIN_RECOVERING, NULL, NULL, NULL);
        /* A new process is a new start: begin with the shortest back-off again. */
        p->backoff_usec = 0;
        host_plugin_kick(p);
}

static void on_peer_gone(SdloopPeer *peer, void *userdata) {
        HostPlugin *p = userdata;
        const char *refused;

        if (peer != p->peer)
                return;
        refused = sdloop_peer_get_close_reason(peer);
        if (refused) {
                _cleanup_free_ char *why = NULL;

                /* We hung up on it: that is worth an operator's reading, in LastError. */
                if (asprintf(&why, "disconnected: %s", refused) >= 0)
                        host_plugin_update(p, -1, NULL, NULL, why);
                host_plugin_connection_lost(p, refused);
                return;
        }
        host_plugin_connection_lost(p, "closed");
}

/* --- connect and handshake ------------------------------------------------------------------------------ */

static void on_handshake_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error,
                               void *userdata) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        HostPlugin *p = userdata;
        SdloopPeer *candidate;

        p->handshake_slot = sd_bus_slot_unref(p->handshake_slot);
        candidate = TAKE_PTR(p->candidate);
        p->step = HOST_PLUGIN_STEP_IDLE;

        if (r >= 0)
                r = sdloop_peer_handshake_check(candidate, reply, p->settings.kind, &id, &e);
        else
                (void) sd_bus_error_copy(&e, error);

        if (r == -EPROTO) {
                /* Not the plugin we were told to run: no retry will change that. */
                log_error("Plugin %s: %s", p->settings.name, e.message);
                plugin_bury(p, candidate);
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, e.message);
                return;
        }
        if (r < 0 || !sdloop_peer_is_connected(candidate)) {
                /* Died before answering, or right after (the hangup read with the reply), or not answering
                 * at all: try the next process. */
                if (sd_bus_error_has_name(&e, SDLOOP_ERROR_TIMEOUT))
                        p->n_timeouts++;
                log_debug("Plugin %s: handshake failed, retrying: %s", p->settings.name,
                          r < 0 ? strempty(e.message) : "connection closed");
                plugin_bury(p, candidate);
                plugin_backoff(p);
                return;
        }

        sdloop_peer_set_disconnect_handler(candidate, on_peer_gone, p);
        sdloop_plugin_identity_done(&p->identity);
        p->identity = id;
        id = (SdloopPluginIdentity) {};
        p->peer = candidate;
        p->generation++;
        p->connected_usec = host_now();
        log_debug("Plugin %s: connected (generation %" PRIu64 ").", p->settings.name, p->generation);

        if (p->on_connect) {
                r = p->on_connect(p, p->peer, p->on_connect_userdata);
                if (r < 0) {
                        /* Gone meanwhile, or we could not export what it needs: a fresh connection later. */
                        if (sdloop_peer_is_connected(p->peer))
                                log_warning_errno(r, "Plugin %s: failed to export the host's objects, retrying: %m",
                                                  p->settings.name);
                        plugin_bury(p, TAKE_PTR(p->peer));
                        plugin_backoff(p);
                        return;
                }
        }
        plugin_advance(p);
}

static void plugin_connect(HostPlugin *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        int r;

        if (p->lost_usec > 0 && p->reconnect_usec < p->lost_usec)
                p->reconnect_usec = host_now();

        r = sdloop_peer_connect(p->host->event, p->settings.socket_path, &peer);
        if (r < 0) {
                /* The socket may not be there yet (the backend still setting up). */
                log_debug_errno(r, "Plugin %s: cannot connect to %s yet: %m", p->settings.name,
                                p->settings.socket_path);
                plugin_backoff(p);
                return;
        }
        (void) sdloop_peer_set_description(peer, p->settings.name);
        /* The handshake waits in the socket's backlog while the process (re)starts behind it. */
        sdloop_peer_set_call_timeout(peer, p->settings.call_timeout_usec);

        r = sdloop_peer_new_handshake(peer, &m);
        if (r >= 0)
                r = sdloop_peer_call_async(peer, m, NULL, on_handshake_reply, p, &p->handshake_slot);
        if (r < 0) {
                log_debug_errno(r, "Plugin %s: cannot send the handshake: %m", p->settings.name);
                plugin_bury(p, TAKE_PTR(peer));
                plugin_backoff(p);
                return;
        }
        p->candidate = TAKE_PTR(peer);
        p->step = HOST_PLUGIN_STEP_HANDSHAKE;
}

/* --- creating the handles ------------------------------------------------------------------------------- */

static bool error_is_transient(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SDLOOP_ERROR_PLUGIN_UNAVAILABLE) || sd_bus_error_has_name(e, SDLOOP_ERROR_TIMEOUT);
}

static void plugin_handle_failed(HostPlugin *p, HostHandle *h, int r, const sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;

        if (!h->created_once) {
                /* Its first creation: the caller of host_handle_new_async() hears it. */
                host_handle_new_finish(h, r, error);
                host_plugin_kick(p);
                return;
        }

        log_warning("Plugin %s: could not re-create %s: %s", p->settings.name, h->stable_path,
                    error && error->message ? error->message : strerror(-r));
        if (asprintf(&msg, "could not re-create %s: %s", h->stable_path,
                     error && error->message ? error->message : strerror(-r)) < 0)
                msg = NULL;
        h->broken_generation = p->generation;
        host_handle_fail_calls(h, r, error);
        host_plugin_update(p, _HOST_PLUGIN_STATE_INVALID, NULL, NULL, msg);
        host_plugin_kick(p);
}

void host_handle_created(HostHandle *h, int r, const char *path, const sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        HostPlugin *p = h->plugin;

        h->create_slot = sd_bus_slot_unref(h->create_slot);
        if (p->creating == h) {
                p->creating = NULL;
                p->step = HOST_PLUGIN_STEP_IDLE;
        }

        if (r >= 0 && !path)
                r = sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "%s: no object path in the reply", h->stable_path);
        else if (r >= 0 && free_and_strdup(&h->remote_path, path) < 0)
                r = sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "%s: out of memory", h->stable_path);
        else if (r < 0)
                (void) sd_bus_error_copy(&e, error);

        if (r >= 0) {
                h->generation = p->generation;
                h->created_usec = host_now();
                log_debug("%s → %s (generation %" PRIu64 ").", h->stable_path, h->remote_path, h->generation);

                for (size_t i = 0; i < h->n_watchers; i++) {
                        int k = sdloop_proxy_set_target(h->watchers[i], p->peer, h->remote_path);
                        if (k < 0)
                                log_warning_errno(k, "Failed to re-point proxy at %s: %m", h->remote_path);
                }
                kick_blocked_on(p->host, h);
                /* Continue from the loop: the callbacks below may change anything. */
                host_plugin_kick(p);
                if (!h->created_once)
                        host_handle_new_finish(h, 0, NULL);
                else
                        host_handle_flush_calls(h);
                return;
        }

        if (sd_bus_error_has_name(&e, SDLOOP_ERROR_TIMEOUT))
                p->n_timeouts++;
        h->remote_path = mfree(h->remote_path);

        if (!sdloop_peer_is_connected(p->peer)) {
                /* Lost with its connection: the disconnect starts over. */
                host_plugin_kick(p);
                return;
        }
        if (error_is_transient(&e)) {
                /* Something it needs is coming back. */
                log_debug("Plugin %s: cannot create %s yet, retrying: %s", p->settings.name, h->stable_path,
                          strempty(e.message));
                plugin_backoff(p);
                return;
        }
        plugin_handle_failed(p, h, r, &e);
}

static void plugin_create(HostPlugin *p, HostHandle *h) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        p->creating = h;
        p->step = HOST_PLUGIN_STEP_CREATE;
        h->create_slot = sd_bus_slot_unref(h->create_slot);
        r = h->ops->create(h, p->peer, h->parent ? h->parent->remote_path : NULL, &h->create_slot);
        if (r >= 0)
                return;

        p->creating = NULL;
        p->step = HOST_PLUGIN_STEP_IDLE;
        if (r == -EHOSTDOWN || !sdloop_peer_is_connected(p->peer)) {
                host_plugin_kick(p);
                return;
        }
        (void) sdloop_error_ensure(&e, r, h->stable_path);
        plugin_handle_failed(p, h, r, &e);
}

/* --- the step ---------------------------------------------------------------------------------------- */

static void plugin_fail_pending(HostPlugin *p) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = host_plugin_unavailable(p, &error, p->last_error);
        host_plugin_complete_waiters(p, r, &error);
        /* Handles not created yet will not be now; the others keep waiting for an operator's start. */
        for (HostHandle *h = p->handles_head, *next; h; h = next) {
                next = h->next;
                if (!h->created_once && h->new_timer)
                        host_handle_new_finish(h, r, &error);
        }
}

static void plugin_advance(HostPlugin *p) {
        plugin_release_dead_peer(p);

        if (host_plugin_is_down(p)) {
                host_plugin_cancel_steps(p);
                plugin_fail_pending(p);
                return;
        }
        /* Its binary is being checked before a start or restart: that goes on from the check's end. */
        if (p->binary_check)
                return;
        if (p->step == HOST_PLUGIN_STEP_HANDSHAKE || p->step == HOST_PLUGIN_STEP_CREATE ||
            p->step == HOST_PLUGIN_STEP_BACKOFF)
                return;
        p->step = HOST_PLUGIN_STEP_IDLE;

        if (!sdloop_peer_is_connected(p->peer)) {
                if (p->peer)
                        host_plugin_connection_lost(p, "closed");
                else
                        plugin_connect(p);
                return;
        }

        for (HostHandle *h = p->handles_head; h; h = h->next) {
                HostHandle *need;

                if (host_handle_is_live(h) || h->broken_generation == p->generation)
                        continue;
                if (h->parent && !host_handle_is_live(h->parent)) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                        int r;

                        /* The parent could not be created on this process: nor can its children. */
                        r = sdloop_error_setf(&e, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: parent %s does not exist",
                                              h->stable_path, h->parent->stable_path);
                        plugin_handle_failed(p, h, r, &e);
                        return;
                }
                need = h->ops->needs ? h->ops->needs(h) : NULL;
                if (need && !host_handle_is_live(need)) {
                        if (p->blocked_on != need)
                                log_debug("Plugin %s: %s waits for %s.", p->settings.name, h->stable_path,
                                          need->stable_path);
                        p->blocked_on = need;
                        p->step = HOST_PLUGIN_STEP_DEPENDENCY;
                        return;
                }
                p->blocked_on = NULL;
                plugin_create(p, h);
                return;
        }

        p->blocked_on = NULL;
        if (p->state == HOST_PLUGIN_UNRESPONSIVE)
                /* Connected and complete, but not answering its probes: whoever waits for it to run waits
                 * on, until it answers again (host-probe.c) or is restarted. */
                return;
        if (p->state != HOST_PLUGIN_RUNNING) {
                uint64_t now = host_now();

                if (p->lost_usec > 0) {
                        p->last_recovery_usec = now - p->lost_usec;
                        log_info("Plugin %s: recovered in %" PRIu64 " µs.", p->settings.name, p->last_recovery_usec);
                        p->lost_usec = 0;
                }
                p->backoff_usec = 0;
                p->running_usec = now;
                host_plugin_update(p, HOST_PLUGIN_RUNNING, NULL, NULL, NULL);
        }
        host_plugin_complete_waiters(p, 0, NULL);
}

void host_handle_forget_dependency(HostHandle *h) {
        /* Whoever waited for it asks its handles again what they need. */
        for (HostPlugin *q = h->plugin->host->plugins; q; q = q->next)
                if (q->blocked_on == h) {
                        q->blocked_on = NULL;
                        if (q->step == HOST_PLUGIN_STEP_DEPENDENCY)
                                q->step = HOST_PLUGIN_STEP_IDLE;
                        host_plugin_kick(q);
                }
}
