/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls on long-lived handles. A call waits on its handle while the object does not exist on the plugin's
 * current connection (the plugin is restarting, the object is being created again) and is issued as soon
 * as it does; one that fails with PluginUnavailable because the connection went away meanwhile waits
 * again. Its deadline bounds all of that: while it waits the host fails it with PluginUnavailable then;
 * once issued, the deadline travels with the call (SdloopContext) and the plugin's answer, or
 * org.sdloop1.Error.Timeout, ends it. */

#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"

struct HostCall {
        HostHandle *handle; /* NULL once detached (the handle went away) */
        host_call_issue_fn issue;
        host_call_done_fn done;
        void *userdata;
        uint64_t deadline;

        sd_event_source *timer; /* the deadline, or "finish now" (ready/fail_r) */
        bool ready;             /* issue NULL: the object exists, tell the caller from the loop */
        int fail_r;             /* < 0: could not be issued, tell the caller from the loop */

        sd_bus_slot *slot;      /* in flight */
        SdloopPeer *peer;       /* …on this connection */
        uint64_t generation;

        HostCall *prev, *next;
};

void *host_call_get_userdata(HostCall *c) {
        return c->userdata;
}

HostHandle *host_call_get_handle(HostCall *c) {
        return c->handle;
}

static void call_unlink(HostCall *c) {
        HostHandle *h = c->handle;

        if (!h)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else if (h->calls_head == c)
                h->calls_head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else if (h->calls_tail == c)
                h->calls_tail = c->prev;
        c->prev = c->next = NULL;
        c->handle = NULL;
}

static void call_free(HostCall *c) {
        call_unlink(c);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->slot = sd_bus_slot_unref(c->slot);
        c->peer = sdloop_peer_unref(c->peer);
        free(c);
}

void host_call_cancel(HostCall *c) {
        if (c)
                call_free(c);
}

static void call_finish(HostCall *c, int r, const sd_bus_error *error) {
        host_call_done_fn done = c->done;
        void *userdata = c->userdata;

        call_unlink(c);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->slot = sd_bus_slot_unref(c->slot);
        c->peer = sdloop_peer_unref(c->peer);
        if (done)
                done(c, r, error, userdata);
        free(c);
}

static void call_finish_later(HostCall *c) {
        int r;

        r = sd_event_source_set_time(c->timer, 0);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Cannot schedule the end of a call: %m");
}

static int on_call_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HostCall *c = userdata;
        HostPlugin *p;
        int r;

        if (c->fail_r == -EHOSTDOWN && c->handle) {
                p = c->handle->plugin;
                r = host_plugin_unavailable(p, &error, p->last_error);
                call_finish(c, r, &error);
                return 0;
        }
        if (c->fail_r < 0) {
                r = sdloop_error_ensure(&error, c->fail_r, "cannot send the call");
                call_finish(c, r, &error);
                return 0;
        }
        if (c->ready) {
                call_finish(c, 0, NULL);
                return 0;
        }
        if (c->slot)
                /* In flight: the call's own deadline answers. */
                return 0;

        if (!c->handle) {
                r = sdloop_error_setf(&error, SDLOOP_ERROR_NOT_FOUND, "the object was closed");
                call_finish(c, r, &error);
                return 0;
        }
        p = c->handle->plugin;
        r = host_plugin_unavailable(p, &error, p->state != HOST_PLUGIN_RUNNING && p->last_error ? p->last_error :
                                    "its object is not back in time");
        call_finish(c, r, &error);
        return 0;
}

/* Issue @c on the object as it exists now. */
static void call_issue(HostCall *c) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        HostHandle *h = c->handle;
        HostPlugin *p = h->plugin;
        int r;

        if (!c->issue) {
                c->ready = true;
                call_finish_later(c);
                return;
        }

        r = sdloop_context_new(&ctx);
        if (r >= 0) {
                sdloop_context_set_deadline(ctx, c->deadline);
                r = c->issue(c, p->peer, h->remote_path, ctx, &c->slot);
        }
        if (r == -EHOSTDOWN) {
                /* Just gone: recovery flushes it again. */
                c->slot = sd_bus_slot_unref(c->slot);
                return;
        }
        if (r < 0) {
                c->slot = sd_bus_slot_unref(c->slot);
                c->fail_r = r;
                call_finish_later(c);
                return;
        }
        c->peer = sdloop_peer_ref(p->peer);
        c->generation = p->generation;
}

void host_call_complete(HostCall *c, int r, const sd_bus_error *error) {
        HostHandle *h = c->handle;
        bool lost;

        c->slot = sd_bus_slot_unref(c->slot);
        lost = !sdloop_peer_is_connected(c->peer) || !h || c->generation != h->plugin->generation;
        c->peer = sdloop_peer_unref(c->peer);

        if (r < 0 && h && lost && sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE) &&
            host_now() < c->deadline) {
                /* The connection went away under it: wait for the object again. */
                log_debug("%s: %s; waiting for it to come back.", h->stable_path, strempty(error->message));
                if (host_handle_is_live(h))
                        call_issue(c);
                return;
        }
        if (r < 0 && h && sd_bus_error_has_name(error, SDLOOP_ERROR_TIMEOUT))
                h->plugin->n_timeouts++;
        call_finish(c, r, error);
}

int host_handle_call_async(HostHandle *h, uint64_t deadline, host_call_issue_fn issue, host_call_done_fn done,
                           void *userdata, HostCall **ret) {
        HostPlugin *p = h->plugin;
        HostCall *c;
        int r;

        c = new0(HostCall, 1);
        if (!c)
                return -ENOMEM;
        *c = (HostCall) {
                .issue = issue,
                .done = done,
                .userdata = userdata,
                .deadline = deadline ?: host_now() + p->settings.call_timeout_usec,
        };
        r = sd_event_add_time(p->host->event, &c->timer, CLOCK_MONOTONIC, c->deadline, USEC_PER_MSEC, on_call_timer,
                              c);
        if (r < 0) {
                free(c);
                return r;
        }
        (void) sd_event_source_set_description(c->timer, "host-call-deadline");

        c->handle = h;
        c->prev = h->calls_tail;
        if (h->calls_tail)
                h->calls_tail->next = c;
        else
                h->calls_head = c;
        h->calls_tail = c;

        if (host_plugin_is_down(p)) {
                /* Nothing brings it back but an operator: fail now, from the loop. */
                c->fail_r = -EHOSTDOWN;
                call_finish_later(c);
        } else if (host_handle_is_live(h) && h->created_once)
                call_issue(c);

        if (ret)
                *ret = c;
        return 0;
}

void host_handle_flush_calls(HostHandle *h) {
        if (!host_handle_is_live(h))
                return;
        /* Created (again): the object's signals are watched at its new path first. */
        host_handle_refresh_matches(h);
        for (HostCall *c = h->calls_head; c; c = c->next)
                if (!c->slot && !c->ready && c->fail_r >= 0)
                        call_issue(c);
}

void host_handle_requeue_calls(HostHandle *h) {
        /* The object is gone with its connection: what is in flight waits again (its reply no longer
         * comes: the slot is dropped). */
        for (HostCall *c = h->calls_head; c; c = c->next)
                if (c->slot) {
                        c->slot = sd_bus_slot_unref(c->slot);
                        c->peer = sdloop_peer_unref(c->peer);
                        if (host_now() >= c->deadline)
                                call_finish_later(c);
                }
}

void host_handle_fail_calls(HostHandle *h, int r, const sd_bus_error *error) {
        HostCall *list = h->calls_head;

        /* Detached first: a caller told now may close the handle itself. */
        h->calls_head = h->calls_tail = NULL;
        for (HostCall *c = list; c; c = c->next)
                c->handle = NULL;
        while (list) {
                HostCall *c = list;

                list = c->next;
                c->prev = c->next = NULL;
                call_finish(c, r, error);
        }
}

/* --- synchronous, top level ------------------------------------------------------------------------------ */

typedef struct SyncCall {
        bool done;
        int r;
        sd_bus_error error;
} SyncCall;

static void on_sync_ready(HostCall *c, int r, const sd_bus_error *error, void *userdata) {
        SyncCall *w = userdata;

        w->done = true;
        w->r = r;
        if (r < 0)
                (void) sd_bus_error_copy(&w->error, error);
}

int host_handle_call(HostHandle *h, host_call_fn fn, void *userdata, sd_bus_error *error) {
        HostPlugin *p = h->plugin;
        Host *host = p->host;
        uint64_t deadline = host_now() + p->settings.call_timeout_usec;
        int r;

        for (;;) {
                _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
                _cleanup_free_ char *path = NULL;
                SyncCall w = { .error = SD_BUS_ERROR_NULL };
                HostCall *c = NULL;
                uint64_t generation;

                if (!host_in_dispatch(host)) {
                        r = host_handle_call_async(h, deadline, NULL, on_sync_ready, &w, &c);
                        if (r < 0)
                                return sdloop_error_ensure(error, r, h->stable_path);
                }
                r = host_run_until(host, &w.done, "host_handle_call()", error);
                if (r < 0) {
                        host_call_cancel(c);
                        return r;
                }
                if (w.r < 0)
                        return host_error_take(error, &w.error, w.r);

                /* The call may run the loop, and recovery may replace both meanwhile. */
                peer = sdloop_peer_ref(p->peer);
                path = strdup(h->remote_path);
                if (!path)
                        return -ENOMEM;
                generation = p->generation;

                sd_bus_error_free(error);
                r = fn(peer, path, userdata, error);
                if (r >= 0 || !sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE))
                        return r;
                /* Unavailable from further down (a proxied provider past its deadline): that is the answer. */
                if (sdloop_peer_is_connected(peer) && generation == p->generation)
                        return r;
                if (host_now() >= deadline)
                        return r;
                log_debug("%s: %s; retrying once the plugin is back.", h->stable_path, error->message);
        }
}
