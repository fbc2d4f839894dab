/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SdloopCall: one method call being served, answered at once or later (see sdloop-call.h). A handler keeps
 * its call on the stack, so an immediate answer costs nothing extra; sdloop_call_defer() copies it to the
 * heap and links it on its object and its connection, which cancel it when they go. As in systemd's
 * polkit-checked methods, a deferred call is just the kept method call message, answered later.
 *
 * A heap call holds no reference to its connection: the connection's objects may hold the call (through
 * the implementation's state), so a reference back would keep an unreferenced connection alive for ever.
 * Instead the connection cancels its calls when it goes, and a call that is no longer pending forgets
 * its connection and object. References to a heap call: the library's while pending, the handler's stack
 * call's until the handler returns, and the operation's own. */

#include <stdarg.h>

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"

__thread unsigned callback_depth;
static __thread SdloopCall *current;

static SdloopPeer *peer_of_message(SdloopObject *o, sd_bus_message *m) {
        sd_bus *bus = sd_bus_message_get_bus(m);

        if (!o || !o->scope)
                return NULL;
        for (size_t i = 0; i < o->scope->n_peers; i++)
                if (o->scope->peers[i]->bus == bus)
                        return o->scope->peers[i];
        return NULL;
}

int call_begin(SdloopCall *c, sd_bus_message *m, SdloopObject *object) {
        int r;

        *c = (SdloopCall) {
                .message = m,
                .object = object,
                .peer = peer_of_message(object, m),
        };
        r = context_for_message(c->peer, m, &c->context);
        if (r < 0)
                return r;
        call_metrics_take(c);

        c->previous = current;
        current = c;
        c->previous_context = sdloop_context_set_current(c->context);
        callback_depth++;
        return 0;
}

bool call_end(SdloopCall *c) {
        assert(current == c);

        current = c->previous;
        (void) sdloop_context_set_current(c->previous_context);
        callback_depth--;
        return c->deferred;
}

void call_done(SdloopCall *c) {
        if (!c || c->heap)
                return;
        c->context = sdloop_context_unref(c->context);
        c->deferred = sdloop_call_unref(c->deferred);
}

SdloopCall *sdloop_call_current(void) {
        return current;
}

static void call_unlink(SdloopCall *c) {
        if (c->peer) {
                if (c->peer_prev)
                        c->peer_prev->peer_next = c->peer_next;
                else if (c->peer->calls == c)
                        c->peer->calls = c->peer_next;
                if (c->peer_next)
                        c->peer_next->peer_prev = c->peer_prev;
        }
        if (c->object) {
                if (c->object_prev)
                        c->object_prev->object_next = c->object_next;
                else if (c->object->calls == c)
                        c->object->calls = c->object_next;
                if (c->object_next)
                        c->object_next->object_prev = c->object_prev;
        }
        c->peer_prev = c->peer_next = c->object_prev = c->object_next = NULL;
        c->peer = NULL;
        c->object = NULL;
        c->timer = sd_event_source_disable_unref(c->timer);
}

/* The call stops waiting: the library's reference goes. */
static void call_settle(SdloopCall *c) {
        call_unlink(c);
        sdloop_call_unref(c);
}

static const char *call_interface(const SdloopCall *c) {
        const char *i = strempty(sd_bus_message_get_interface(c->message));

        if (strncmp(i, SDLOOP_INTERFACE_PREFIX, strlen(SDLOOP_INTERFACE_PREFIX)) == 0)
                i += strlen(SDLOOP_INTERFACE_PREFIX);
        return i;
}

/* @error_name: tell a caller still listening why it gets no answer (NULL: it is gone, or was told). */
static void call_cancel(SdloopCall *c, const char *why, const char *error_name) {
        int r;

        if (c->finished || c->cancelled)
                return;
        c->cancelled = true;
        call_metrics_finish(c, error_name ? call_outcome_from_name(error_name) : CALL_OUTCOME_CANCELLED);
        log_debug("%s.%s() on %s cancelled: %s.", call_interface(c), strempty(sd_bus_message_get_member(c->message)),
                  strempty(sd_bus_message_get_path(c->message)), why);

        if (error_name) {
                r = sd_bus_reply_method_errorf(c->message, error_name, "%s.%s: %s", call_interface(c),
                                               strempty(sd_bus_message_get_member(c->message)), why);
                if (r < 0)
                        log_debug_errno(r, "Cannot send the cancellation of %s(): %m",
                                        strempty(sd_bus_message_get_member(c->message)));
        }

        /* Off the lists before the handler runs: it may close objects or drop connections, which cancel
         * (and walk) the lists again, and the connection may be on its way out already (peer_free()). The
         * handler may drop the operation's reference: keep ours until we are done. */
        call_unlink(c);
        if (c->cancel) {
                SdloopContext *previous = sdloop_context_set_current(c->context);

                callback_depth++;
                c->cancel(c, c->cancel_userdata);
                callback_depth--;
                (void) sdloop_context_set_current(previous);
        }
        call_settle(c);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        /* The caller stops waiting now: tell it why while it still listens, then let the operation go. */
        call_cancel(userdata, "no answer before the caller's deadline", SDLOOP_ERROR_TIMEOUT);
        return 0;
}

SdloopCall *sdloop_call_defer(void) {
        SdloopCall *c = current, *h;
        uint64_t deadline;
        int r;

        if (!c)
                return NULL;
        if (c->deferred)
                return sdloop_call_ref(c->deferred);
        /* A call whose connection we cannot tell, or whose object the operation closed, is answered at
         * once: nothing would cancel it. (One that expects no answer may be deferred; finishing it sends
         * nothing.) */
        if (!c->peer || !c->object || c->object->closing || !c->peer->connected)
                return NULL;

        h = new0(SdloopCall, 1);
        if (!h)
                return NULL;
        h->n_ref = 1; /* the library's, dropped when the call settles */
        h->heap = true;
        h->message = sd_bus_message_ref(c->message);
        h->peer = c->peer;
        h->object = c->object;
        h->context = sdloop_context_ref(c->context);
        h->stats = c->stats;
        h->start = c->start;

        deadline = sdloop_context_get_deadline(h->context);
        if (deadline != SDLOOP_DEADLINE_NONE && sd_bus_message_get_expect_reply(h->message)) {
                r = sd_event_add_time(h->peer->event, &h->timer, CLOCK_MONOTONIC, deadline, USEC_PER_MSEC,
                                      on_deadline, h);
                if (r < 0) {
                        log_debug_errno(r, "Cannot arm the deadline of a deferred call, answering at once: %m");
                        sd_bus_message_unref(h->message);
                        sdloop_context_unref(h->context);
                        free(h);
                        return NULL;
                }
                (void) sd_event_source_set_description(h->timer, "sdloop-call-deadline");
        }

        h->peer_next = h->peer->calls;
        if (h->peer_next)
                h->peer_next->peer_prev = h;
        h->peer->calls = h;
        h->object_next = h->object->calls;
        if (h->object_next)
                h->object_next->object_prev = h;
        h->object->calls = h;

        c->deferred = sdloop_call_ref(h); /* the stack call's, dropped by call_done() */
        call_metrics_deferred(h);
        return sdloop_call_ref(h);
}

SdloopCall *sdloop_call_ref(SdloopCall *c) {
        if (c && c->heap)
                c->n_ref++;
        return c;
}

SdloopCall *sdloop_call_unref(SdloopCall *c) {
        if (!c || !c->heap)
                return NULL;
        assert(c->n_ref > 0);
        if (--c->n_ref > 0)
                return NULL;

        call_metrics_finish(c, CALL_OUTCOME_CANCELLED);
        if (!c->finished && !c->cancelled)
                log_debug("%s.%s(): dropped unanswered.", call_interface(c), strempty(sd_bus_message_get_member(c->message)));
        call_unlink(c);
        sd_bus_message_unref(c->message);
        sdloop_context_unref(c->context);
        return mfree(c);
}

void sdloop_call_set_cancel_handler(SdloopCall *c, sdloop_call_cancel_handler_t handler, void *userdata) {
        if (!c)
                return;
        c->cancel = handler;
        c->cancel_userdata = userdata;
}

bool sdloop_call_is_pending(const SdloopCall *c) {
        return c && !c->finished && !c->cancelled;
}

SdloopContext *sdloop_call_get_context(const SdloopCall *c) {
        return c ? c->context : NULL;
}

uint64_t sdloop_call_get_deadline(const SdloopCall *c) {
        return sdloop_context_get_deadline(c ? c->context : NULL);
}

SdloopObject *sdloop_call_get_object(const SdloopCall *c) {
        return c ? c->object : NULL;
}

SdloopPeer *sdloop_call_get_peer(const SdloopCall *c) {
        return c ? c->peer : NULL;
}

sd_bus_message *sdloop_call_get_message(const SdloopCall *c) {
        return c ? c->message : NULL;
}

int call_finish_begin(SdloopCall *c, sd_bus_message **ret) {
        if (!c || !c->heap)
                return -EINVAL;
        if (c->cancelled)
                return -ECANCELED;
        if (c->finished)
                return -ESTALE;
        *ret = c->message;
        return 0;
}

int call_finish_end(SdloopCall *c, int r, sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error local = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *context = NULL;
        int k;

        if (r < 0) {
                if (!error)
                        error = &local;
                if (asprintf(&context, "%s.%s", call_interface(c), strempty(sd_bus_message_get_member(c->message))) < 0)
                        context = NULL;
                (void) sdloop_error_ensure(error, r, context);
                k = sd_bus_reply_method_error(c->message, error);
                if (k < 0)
                        log_debug_errno(k, "Cannot send the error of %s(): %m", strempty(sd_bus_message_get_member(c->message)));
        }
        c->finished = true;
        call_metrics_finish(c, r < 0 ? call_outcome_from_error(r, error) : CALL_OUTCOME_OK);
        call_settle(c);
        /* sd_bus_send() and friends return 1. */
        return r < 0 ? r : 0;
}

int sdloop_call_return_error(SdloopCall *c, const sd_bus_error *e) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m;
        int r;

        r = call_finish_begin(c, &m);
        if (r < 0)
                return r;
        if (e && sd_bus_error_is_set(e) && strncmp(e->name, "org.sdloop1.Error.", strlen("org.sdloop1.Error.")) == 0)
                r = sd_bus_error_copy(&error, e);
        else {
                /* An object or member a dependency lacks is a thing not found; arguments it refused are
                 * ours to have checked; anything else is this side failing. */
                const char *name = SDLOOP_ERROR_INTERNAL;

                if (sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE,
                                           SD_BUS_ERROR_UNKNOWN_METHOD, SD_BUS_ERROR_UNKNOWN_PROPERTY))
                        name = SDLOOP_ERROR_NOT_FOUND;
                else if (sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS))
                        name = SDLOOP_ERROR_INVALID_ARGUMENT;
                r = sdloop_error_setf(&error, name, "%s.%s: %s", call_interface(c),
                                      strempty(sd_bus_message_get_member(m)),
                                      e && e->message ? e->message : "failed");
        }
        (void) call_finish_end(c, r < 0 ? r : -EIO, &error);
        return 0;
}

int sdloop_call_return_errno(SdloopCall *c, int r, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *msg = NULL;
        sd_bus_message *m;
        va_list ap;
        int k;

        k = call_finish_begin(c, &m);
        if (k < 0)
                return k;
        if (r >= 0)
                r = -EIO;
        if (format) {
                va_start(ap, format);
                k = vasprintf(&msg, format, ap);
                va_end(ap);
                if (k < 0)
                        msg = NULL;
        }
        (void) sdloop_error_setf(&error, error_name_from_errno(r), "%s.%s: %s", call_interface(c),
                                 strempty(sd_bus_message_get_member(m)), msg ?: strerror(-r));
        (void) call_finish_end(c, r, &error);
        return 0;
}

int sdloop_call_return_empty(SdloopCall *c) {
        sd_bus_message *m;
        int r;

        r = call_finish_begin(c, &m);
        if (r < 0)
                return r;
        r = sd_bus_reply_method_return(m, NULL);
        (void) call_finish_end(c, 0, NULL);
        return r < 0 ? r : 0;
}

void peer_cancel_calls(SdloopPeer *p) {
        while (p->calls)
                call_cancel(p->calls, "the caller's connection went away", NULL);
}

void object_cancel_calls(SdloopObject *o) {
        /* An operation running right now may close its own object: its stack call must not keep the
         * pointer (sdloop_call_defer() then answers at once, and the handler's reply sees no object). */
        for (SdloopCall *c = current; c; c = c->previous)
                if (c->object == o)
                        c->object = NULL;

        while (o->calls)
                call_cancel(o->calls, "the object was closed before answering", SDLOOP_ERROR_NOT_FOUND);
}
