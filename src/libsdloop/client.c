/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls to the other side of a peer: one asynchronous path (sdloop_peer_call_async()) that every client
 * call goes through, and a synchronous form on top of it for top-level code only. The synchronous form
 * runs the loop itself, so it refuses inside an event-loop callback: a callback that waited would stop
 * its whole process. With SDLOOP_ABORT_ON_NESTED_WAIT=1 in the environment (the test suite sets it) such
 * a call aborts, so that one that comes back cannot go unnoticed. */

#include <stdarg.h>

#include "macro.h"
#include "util.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "services/client-internal.h"

struct AsyncCall {
        SdloopPeer *peer; /* weak: NULL once the peer is freed */
        sdloop_reply_handler_t handler;
        /* Generated typed clients: @trampoline parses and calls @typed instead of @handler. */
        client_trampoline_t trampoline;
        void (*typed)(void);
        void *userdata;
        sd_event_source *timer; /* our own deadline while the connection is not up yet */
        bool done;
        CallStats *stats; /* call-metrics.c */
        uint64_t start;
        SdloopContext *context; /* where the call was made: current while its reply handler runs */
        Trace span;             /* the call's own span, if it is in a trace */
        AsyncCall *prev, *next; /* on peer->async_calls until done */
        char *interface, *member;
        char names[];
};

int sdloop_peer_new_call(SdloopPeer *p, const char *path, const char *interface, const char *member,
                         sd_bus_message **ret) {
        if (!p)
                return -EINVAL;
        return sd_bus_message_new_method_call(p->bus, ret, NULL, path, interface, member);
}

static bool errno_is_disconnect(int r) {
        return r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ESHUTDOWN || r == -ECONNREFUSED;
}

static int translate_error(SdloopPeer *p, const char *iface, const char *member, int r, sd_bus_error *error) {
        bool open = p && sd_bus_is_open(p->bus) > 0 && p->connected;
        const char *desc = p ? strempty(p->description) : "";

        if (r >= 0)
                return r;

        if (sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) && open) {
                sd_bus_error_free(error);
                return sdloop_error_setf(error, SDLOOP_ERROR_TIMEOUT, "%s: no reply to %s.%s() in time", desc,
                                         strempty(iface), strempty(member));
        }
        if (!open || sd_bus_error_has_name(error, SD_BUS_ERROR_NO_REPLY) ||
            sd_bus_error_has_name(error, SD_BUS_ERROR_DISCONNECTED) ||
            (!sd_bus_error_is_set(error) && errno_is_disconnect(r))) {
                sd_bus_error_free(error);
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: connection lost during %s.%s()",
                                         desc, strempty(iface), strempty(member));
        }
        return sdloop_error_ensure(error, r, member);
}

int call_translate_error(SdloopPeer *p, sd_bus_message *m, int r, sd_bus_error *error) {
        return translate_error(p, sd_bus_message_get_interface(m), sd_bus_message_get_member(m), r, error);
}

bool sdloop_peer_in_dispatch(SdloopPeer *p) {
        int state;

        if (callback_depth > 0)
                return true;
        if (!p)
                return false;
        state = sd_event_get_state(p->event);
        return state >= 0 && state != SD_EVENT_INITIAL && state != SD_EVENT_FINISHED;
}

static int refuse_nested_wait(SdloopPeer *p, const char *iface, const char *member, sd_bus_error *error) {
        const char *e = getenv("SDLOOP_ABORT_ON_NESTED_WAIT");

        log_error("%s: synchronous %s.%s() called from inside an event-loop callback; refused (use the "
                  "asynchronous form)", strempty(p->description), strempty(iface), strempty(member));
        if (e && streq(e, "1"))
                abort();
        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                 "%s.%s(): synchronous call inside an event-loop callback refused", strempty(iface),
                                 strempty(member));
}

/* --- asynchronous -------------------------------------------------------------------------------- */

static void async_unlink(AsyncCall *a) {
        if (a->peer) {
                if (a->prev)
                        a->prev->next = a->next;
                else if (a->peer->async_calls == a)
                        a->peer->async_calls = a->next;
                if (a->next)
                        a->next->prev = a->prev;
        }
        a->prev = a->next = NULL;
        a->timer = sd_event_source_disable_unref(a->timer);
}

/* Run the handler once; the call is then done whatever sd-bus still has of it. */
static void async_complete(AsyncCall *a, int r, sd_bus_message *reply, sd_bus_error *error) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = sdloop_peer_ref(a->peer);
        SdloopContext *previous;

        if (a->done)
                return;
        a->done = true;
        call_stats_span(a->stats, &a->span, a->start, call_outcome_from_error(r, error));
        call_stats_end(TAKE_PTR(a->stats), a->start, call_outcome_from_error(r, error));
        async_unlink(a);
        /* Done with the peer: the slot may outlive it. */
        a->peer = NULL;

        previous = sdloop_context_set_current(a->context);
        callback_depth++;
        if (a->trampoline)
                a->trampoline(p, r, r < 0 ? NULL : reply, error, a->typed, a->userdata);
        else
                a->handler(p, r, r < 0 ? NULL : reply, error, a->userdata);
        callback_depth--;
        (void) sdloop_context_set_current(previous);
}

static int on_async_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        AsyncCall *a = userdata;
        int r = 0;

        if (a->done)
                return 0;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                r = sd_bus_error_copy(&error, sd_bus_message_get_error(reply));
                r = translate_error(a->peer, a->interface, a->member, r < 0 ? r : -EIO, &error);
        }
        async_complete(a, r, reply, &error);
        return 0;
}

static int on_async_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        AsyncCall *a = userdata;
        int r;

        /* sd-bus times a reply out only once the connection is up; a peer that accepted but never
         * authenticates (a hung plugin) would otherwise hold the call for its 90 s authentication timeout. */
        r = sdloop_error_setf(&error, SDLOOP_ERROR_TIMEOUT, "%s: no reply to %s.%s() in time",
                              a->peer ? strempty(a->peer->description) : "", a->interface, a->member);
        async_complete(a, r, NULL, &error);
        return 0;
}

static void async_free(void *userdata) {
        AsyncCall *a = userdata;

        /* Dropped by the caller (its slot), or with the peer, before any answer. */
        call_stats_end(a->stats, a->start, CALL_OUTCOME_CANCELLED);
        sdloop_context_unref(a->context);

        async_unlink(a);
        free(a);
}

static int on_fail_event(sd_event_source *s, void *userdata) {
        SdloopPeer *p = userdata;

        p->fail_event = sd_event_source_disable_unref(p->fail_event);
        sdloop_peer_ref(p);
        while (p->async_calls) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                AsyncCall *a = p->async_calls;
                int r;

                r = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: connection closed during %s.%s()",
                                      strempty(p->description), a->interface, a->member);
                async_complete(a, r, NULL, &error);
        }
        sdloop_peer_unref(p);
        return 0;
}

void peer_fail_async_calls(SdloopPeer *p) {
        int r;

        /* sd-bus forgets the reply callbacks of a connection closed from our side. Their handlers run from
         * the loop, never from inside whatever closed the connection. */
        if (!p->async_calls || p->fail_event)
                return;
        r = sd_event_add_defer(p->event, &p->fail_event, on_fail_event, p);
        if (r < 0) {
                log_debug_errno(r, "%s: cannot schedule the failure of pending calls: %m", strempty(p->description));
                return;
        }
        (void) sd_event_source_set_description(p->fail_event, "sdloop-peer-fail-calls");
}

void peer_forget_async_calls(SdloopPeer *p) {
        while (p->async_calls) {
                AsyncCall *a = p->async_calls;

                async_unlink(a);
                a->peer = NULL;
                a->done = true;
        }
        p->fail_event = sd_event_source_disable_unref(p->fail_event);
}

static int call_async(SdloopPeer *p, sd_bus_message *m, SdloopContext *ctx, sdloop_reply_handler_t handler,
                      client_trampoline_t trampoline, void (*typed)(void), void *userdata, sd_bus_slot **ret_slot) {
        const char *iface, *member;
        SdloopContext *from;
        const Trace *parent;
        sd_bus_slot *slot = NULL;
        uint64_t timeout, remaining;
        size_t li, lm;
        AsyncCall *a;
        int r;

        if (!p || !m || (!handler && !trampoline))
                return -EINVAL;

        sdloop_error_register();

        if (!sdloop_peer_is_connected(p))
                return -EHOSTDOWN;

        iface = strempty(sd_bus_message_get_interface(m));
        member = strempty(sd_bus_message_get_member(m));
        li = strlen(iface);
        lm = strlen(member);
        a = malloc(sizeof(AsyncCall) + li + lm + 2);
        if (!a)
                return -ENOMEM;
        *a = (AsyncCall) {
                .peer = p,
                .handler = handler,
                .trampoline = trampoline,
                .typed = typed,
                .userdata = userdata,
        };
        a->interface = a->names;
        memcpy(a->interface, iface, li + 1);
        a->member = a->names + li + 1;
        memcpy(a->member, member, lm + 1);

        timeout = p->call_timeout;
        remaining = sdloop_context_get_remaining(ctx);
        if (remaining != SDLOOP_DEADLINE_NONE)
                /* 0 would mean "the default" to sd-bus: a call already due gets the shortest timeout. */
                timeout = MAX(remaining, 1U);

        /* Values and trace the call does not bring come from the current context (its deadline does not). */
        from = sdloop_context_current();
        parent = context_get_trace(ctx) ?: context_get_trace(from);
        if (parent) {
                a->span = *parent;
                memcpy(a->span.parent, parent->span, sizeof(a->span.parent));
                trace_new_span_id(a->span.span);
        }

        r = context_send_for_call(p, ctx, from, parent ? &a->span : NULL);
        if (r < 0) {
                free(a);
                return errno_is_disconnect(r) ? -EHOSTDOWN : r;
        }

        r = sd_bus_call_async(p->bus, &slot, m, on_async_reply, a, timeout);
        if (r < 0) {
                free(a);
                return errno_is_disconnect(r) ? -EHOSTDOWN : r;
        }
        (void) sd_bus_slot_set_destroy_callback(slot, async_free);
        a->context = sdloop_context_ref(from ?: ctx);

        if (sd_bus_is_ready(p->bus) <= 0) {
                r = sd_event_add_time_relative(p->event, &a->timer, CLOCK_MONOTONIC, timeout, USEC_PER_MSEC,
                                               on_async_timeout, a);
                if (r < 0) {
                        sd_bus_slot_unref(slot);
                        return r;
                }
                (void) sd_event_source_set_description(a->timer, "sdloop-call-timeout");
        }

        a->stats = call_stats_get(CALL_SIDE_CLIENT, a->interface, a->member);
        a->start = call_stats_begin(a->stats);
        a->next = p->async_calls;
        if (a->next)
                a->next->prev = a;
        p->async_calls = a;

        if (ret_slot)
                *ret_slot = slot;
        else {
                (void) sd_bus_slot_set_floating(slot, true);
                sd_bus_slot_unref(slot);
        }
        return 0;
}

int sdloop_peer_call_async(SdloopPeer *p, sd_bus_message *m, SdloopContext *ctx, sdloop_reply_handler_t handler,
                           void *userdata, sd_bus_slot **ret_slot) {
        if (!handler)
                return -EINVAL;
        return call_async(p, m, ctx, handler, NULL, NULL, userdata, ret_slot);
}

int client_call_async(SdloopPeer *p, sd_bus_message *m, SdloopContext *ctx, client_trampoline_t trampoline,
                      void (*typed)(void), void *userdata, sd_bus_slot **ret_slot) {
        if (!trampoline || !typed)
                return -EINVAL;
        return call_async(p, m, ctx, NULL, trampoline, typed, userdata, ret_slot);
}

/* --- synchronous, for top-level code ------------------------------------------------------------- */

typedef struct SyncCall {
        bool done;
        int r;
        sd_bus_message *reply;
        sd_bus_error error;
} SyncCall;

static void on_sync_reply(SdloopPeer *p, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        SyncCall *c = userdata;

        c->done = true;
        c->r = r;
        c->reply = sd_bus_message_ref(reply);
        if (r < 0)
                (void) sd_bus_error_move(&c->error, error);
}

int sdloop_peer_call(SdloopPeer *peer, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply,
                     sd_bus_error *error) {
        /* Pumping may run code that drops the caller's reference. */
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *p = sdloop_peer_ref(peer);
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        SyncCall c = { .error = SD_BUS_ERROR_NULL };
        int r;

        if (!p || !m)
                return -EINVAL;

        sdloop_error_register();

        if (sdloop_peer_in_dispatch(p))
                return refuse_nested_wait(p, sd_bus_message_get_interface(m), sd_bus_message_get_member(m), error);

        if (!sdloop_peer_is_connected(p))
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: not connected",
                                         strempty(p->description));

        if (sd_event_get_state(p->event) == SD_EVENT_FINISHED) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                /* The loop is over (shutting down): nothing else is served any more, so just block. */
                if (p->gate)
                        r = input_gate_call(p->gate, m, timeout_usec ?: p->call_timeout, error, &reply);
                else
                        r = sd_bus_call(p->bus, m, timeout_usec ?: p->call_timeout, error, &reply);
                if (r < 0)
                        return call_translate_error(p, m, r, error);
                if (ret_reply)
                        *ret_reply = TAKE_PTR(reply);
                return 0;
        }

        if (timeout_usec > 0) {
                r = sdloop_context_new(&ctx);
                if (r < 0)
                        return r;
                sdloop_context_set_timeout(ctx, timeout_usec);
        }

        r = sdloop_peer_call_async(p, m, ctx, on_sync_reply, &c, &slot);
        if (r == -EHOSTDOWN)
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: not connected",
                                         strempty(p->description));
        if (r < 0)
                return call_translate_error(p, m, r, error);

        /* Top level: keep the loop turning so that callbacks into our own objects (and other connections)
         * are served while we wait. The call's own deadline ends the wait (on_async_timeout() or sd-bus's). */
        while (!c.done) {
                r = sd_event_run(p->event, UINT64_MAX);
                if (r < 0)
                        break;
                if (sd_event_get_state(p->event) == SD_EVENT_FINISHED && !c.done) {
                        r = -ESTALE;
                        break;
                }
        }
        if (!c.done) {
                sd_bus_error_free(&c.error);
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: event loop ended during %s.%s()",
                                         strempty(p->description), strempty(sd_bus_message_get_interface(m)),
                                         strempty(sd_bus_message_get_member(m)));
        }

        if (c.r < 0) {
                sd_bus_message_unref(c.reply);
                if (error)
                        sd_bus_error_move(error, &c.error);
                else
                        sd_bus_error_free(&c.error);
                return c.r;
        }

        if (ret_reply)
                *ret_reply = c.reply;
        else
                sd_bus_message_unref(c.reply);
        return 0;
}

int sdloop_peer_call_method(SdloopPeer *p, const char *path, const char *interface, const char *member,
                            sd_bus_message **ret_reply, sd_bus_error *error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sdloop_peer_new_call(p, path, interface, member, &m);
        if (r < 0)
                return r;

        if (!isempty(types)) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }

        return sdloop_peer_call(p, m, 0, ret_reply, error);
}

static int on_wait_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        bool *timed_out = userdata;

        *timed_out = true;
        return 0;
}

int sdloop_peer_wait_for(SdloopPeer *p, const bool *done, uint64_t timeout_usec) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        bool timed_out = false;
        int r;

        if (sdloop_peer_in_dispatch(p)) {
                (void) refuse_nested_wait(p, "sdloop", "peer_wait_for", NULL);
                return -EDEADLK;
        }

        if (timeout_usec > 0 && timeout_usec != UINT64_MAX) {
                r = sd_event_add_time_relative(p->event, &timer, CLOCK_MONOTONIC, timeout_usec, 0, on_wait_timeout,
                                               &timed_out);
                if (r < 0)
                        return r;
        }

        while (!*done) {
                if (timed_out)
                        return -ETIMEDOUT;
                if (!sdloop_peer_is_connected(p))
                        return -EHOSTDOWN;
                r = sd_event_run(p->event, UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}
