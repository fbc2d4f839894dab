/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SdloopProxy: one object path on one connection whose every method call (any interface, Introspect and
 * Properties included) is sent on, asynchronously, to an object on another connection; replies and errors
 * travel back unchanged. Nothing here blocks: a call is answered from the target's reply callback, from
 * its deadline timer, or when the proxy goes away.
 *
 * Each call gets one deadline when it arrives: the sooner of the caller's (its SdloopContext) and the
 * exporting peer's call timeout. While no target is set (the target plugin is restarting) calls wait in a
 * queue until a target is set or the deadline passes; a forwarded call carries that same deadline in the
 * context it is sent with, so the target knows how long the caller still waits.
 *
 * Signals go the other way: every signal the target object emits (any interface, any member) is sent
 * again from the proxy's own path on the proxy's connection, arguments copied as they are. The match for
 * them follows the target: none while it is down. */

#include <stdarg.h>

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "sdloop-proxy.h"
#include "util.h"

typedef struct ProxyCall ProxyCall;

typedef struct CallList {
        ProxyCall *head, *tail;
} CallList;

struct ProxyCall {
        SdloopProxy *proxy;
        sd_bus_message *call; /* the caller's method call; answered exactly once */
        uint64_t deadline;    /* CLOCK_MONOTONIC */
        SdloopContext *context; /* the caller's, passed on with the call */
        CallList *list;       /* &proxy->queued or &proxy->forwarded */
        ProxyCall *prev, *next;

        sd_event_source *timer; /* while queued */
        sd_bus_slot *slot;      /* while forwarded */
        SdloopPeer *target;     /* while forwarded: the connection it went out on */
};

struct SdloopProxy {
        SdloopPeer *on;
        char *path;
        sd_bus_slot *slot;

        SdloopPeer *target; /* NULL: down */
        char *target_path;
        sd_bus_slot *signal_match; /* the target object's signals, on the target's connection */

        CallList queued; /* oldest first */
        CallList forwarded;
};

static void call_list_append(CallList *l, ProxyCall *c) {
        assert(!c->list);

        c->list = l;
        c->prev = l->tail;
        c->next = NULL;
        if (l->tail)
                l->tail->next = c;
        else
                l->head = c;
        l->tail = c;
}

static void call_list_remove(ProxyCall *c) {
        CallList *l = c->list;

        if (!l)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                l->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                l->tail = c->prev;
        c->prev = c->next = NULL;
        c->list = NULL;
}

static void call_free(ProxyCall *c) {
        if (!c)
                return;

        call_list_remove(c);
        sd_event_source_disable_unref(c->timer);
        /* Dropping the slot also drops the reply callback: it will not run for a call answered here. */
        sd_bus_slot_unref(c->slot);
        sdloop_peer_unref(c->target);
        sd_bus_message_unref(c->call);
        sdloop_context_unref(c->context);
        free(c);
}

static const char *call_interface(ProxyCall *c) {
        return strempty(sd_bus_message_get_interface(c->call));
}

static const char *call_member(ProxyCall *c) {
        return strempty(sd_bus_message_get_member(c->call));
}

static void call_reply_error(ProxyCall *c, const sd_bus_error *e) {
        int r;

        /* A no-reply-expected call is silently skipped by sd-bus. */
        r = sd_bus_reply_method_error(c->call, e);
        if (r < 0)
                log_debug_errno(r, "Proxy %s: cannot answer %s.%s(): %m", c->proxy->path, call_interface(c),
                                call_member(c));
}

static void call_reply_errorf(ProxyCall *c, const char *name, const char *format, ...) _printf_(3, 4);
static void call_reply_errorf(ProxyCall *c, const char *name, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0) {
                log_oom();
                return;
        }

        sdloop_error_register();
        (void) sd_bus_error_set(&e, name, msg);
        call_reply_error(c, &e);
}

static void call_reply_unavailable(ProxyCall *c, const char *why) {
        if (why)
                call_reply_errorf(c, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                  "provider unavailable: %s (%s during %s.%s())",
                                  c->proxy->path, why, call_interface(c), call_member(c));
        else
                call_reply_errorf(c, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                  "provider unavailable: %s", c->proxy->path);
}

static void call_reply_return(ProxyCall *c, sd_bus_message *reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *ret = NULL;
        int r;

        if (!sd_bus_message_get_expect_reply(c->call))
                return;

        r = sd_bus_message_new_method_return(c->call, &ret);
        if (r >= 0)
                r = sd_bus_message_rewind(reply, true);
        if (r >= 0)
                r = sd_bus_message_copy(ret, reply, true);
        if (r < 0) {
                /* E.g. file descriptors that the caller's connection cannot carry. */
                call_reply_errorf(c, SDLOOP_ERROR_INTERNAL,
                                  "proxy %s: cannot pass on the reply to %s.%s(): %s",
                                  c->proxy->path, call_interface(c), call_member(c), strerror(-r));
                return;
        }

        r = sd_bus_send(NULL, ret, NULL);
        if (r < 0)
                log_debug_errno(r, "Proxy %s: cannot answer %s.%s(): %m", c->proxy->path, call_interface(c),
                                call_member(c));
}

static int call_queue(ProxyCall *c);
static void proxy_flush(SdloopProxy *p);

/* The target's connection went while the call was out: the host re-points the proxy once the target is
 * back (as it does for calls that arrive meanwhile), so the call waits for that in the queue, until its
 * deadline, instead of failing now. */
static void call_requeue(ProxyCall *c) {
        call_list_remove(c);
        c->slot = sd_bus_slot_unref(c->slot);
        c->target = sdloop_peer_unref(c->target);
        if (now_monotonic_usec() >= c->deadline || call_queue(c) < 0) {
                call_reply_unavailable(c, "connection lost");
                call_free(c);
                return;
        }
        log_debug("Proxy %s: %s.%s() lost with its target, waiting for it to come back.", c->proxy->path,
                  call_interface(c), call_member(c));
}

static void on_forward_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        ProxyCall *c = userdata;

        /* Errors come named already: a lost connection is PluginUnavailable, a missed deadline Timeout. */
        if (r >= 0)
                call_reply_return(c, reply);
        else if (sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE) && !sdloop_peer_is_connected(peer)) {
                SdloopProxy *p = c->proxy;

                call_requeue(c);
                /* The host may have pointed us at the new target already. */
                proxy_flush(p);
                return;
        } else
                call_reply_error(c, error);
        call_free(c);
}

/* Returns 0 if the call is now forwarded (and on the forwarded list), 1 if it needs no answer and is done
 * with, -EHOSTDOWN if the target is down, other negative errnos if it cannot be forwarded at all. */
static int call_forward(ProxyCall *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *f = NULL;
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        SdloopProxy *p = c->proxy;
        int r;

        assert(!c->list);

        if (!p->target || !sdloop_peer_is_connected(p->target))
                return -EHOSTDOWN;

        r = sdloop_peer_new_call(p->target, p->target_path, sd_bus_message_get_interface(c->call),
                                 sd_bus_message_get_member(c->call), &f);
        if (r < 0)
                return r;
        /* sd-bus has read the signature already, and we may be sending the same call a second time. */
        r = sd_bus_message_rewind(c->call, true);
        if (r < 0)
                return r;
        r = sd_bus_message_copy(f, c->call, true);
        if (r < 0)
                return r;

        if (!sd_bus_message_get_expect_reply(c->call)) {
                r = sd_bus_message_set_expect_reply(f, false);
                if (r < 0)
                        return r;
                r = sd_bus_send(sdloop_peer_get_bus(p->target), f, NULL);
                return r < 0 ? r : 1;
        }

        /* The deadline fixed on arrival, as an absolute time: a call that waited in the queue has only
         * what is left of it, and one already due goes out with the shortest timeout. */
        r = sdloop_context_new_child(c->context, &ctx);
        if (r < 0)
                return r;
        sdloop_context_set_deadline(ctx, c->deadline);
        r = sdloop_peer_call_async(p->target, f, ctx, on_forward_reply, c, &c->slot);
        if (r < 0)
                return r;

        c->target = sdloop_peer_ref(p->target);
        call_list_append(&p->forwarded, c);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        ProxyCall *c = userdata;

        call_reply_unavailable(c, NULL);
        call_free(c);
        return 0;
}

static int call_queue(ProxyCall *c) {
        SdloopProxy *p = c->proxy;
        int r;

        assert(!c->list);

        r = sd_event_add_time(sdloop_peer_get_event(p->on), &c->timer, CLOCK_MONOTONIC, c->deadline, 1,
                              on_deadline, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->timer, "sdloop-proxy-deadline");

        call_list_append(&p->queued, c);
        return 0;
}

/* Forward the call or, while the target is down, queue it. On failure the caller still owns @c. */
static int call_dispatch(ProxyCall *c) {
        int r;

        r = call_forward(c);
        if (r == -EHOSTDOWN)
                return call_queue(c);
        if (r > 0)
                call_free(c);
        return r < 0 ? r : 0;
}

static int on_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SdloopProxy *p = userdata;
        ProxyCall *c;
        uint64_t now;
        int r;

        /* Signals sent to this path are not calls to answer. */
        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;

        r = sd_event_now(sdloop_peer_get_event(p->on), CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;

        c = new0(ProxyCall, 1);
        if (!c)
                return -ENOMEM;
        c->proxy = p;
        c->call = sd_bus_message_ref(m);
        c->deadline = now + sdloop_peer_get_call_timeout(p->on);
        if (c->deadline < now)
                c->deadline = UINT64_MAX;
        r = context_for_message(p->on, m, &c->context);
        if (r < 0) {
                call_free(c);
                return r;
        }
        /* The caller's own deadline, if it is sooner. */
        c->deadline = MIN(c->deadline, sdloop_context_get_deadline(c->context));
        /* The proxy is no span of its own: the forwarded call is one under the caller's. */
        context_trace_forwarded(c->context);

        r = call_dispatch(c);
        if (r < 0) {
                call_free(c);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "proxy %s: cannot forward %s.%s(): %s",
                                         p->path, strempty(sd_bus_message_get_interface(m)),
                                         strempty(sd_bus_message_get_member(m)), strerror(-r));
        }
        return 1;
}

/* Calls forwarded on a connection that is gone: sd-bus answers them with a synthetic NoReply when it
 * notices the peer hung up, but not when the connection was closed from this side (sd_bus_close() drops
 * pending reply callbacks). Answer those here instead of letting them wait for nothing. */
static void proxy_fail_lost_forwards(SdloopProxy *p) {
        ProxyCall *c, *next;

        for (c = p->forwarded.head; c; c = next) {
                next = c->next;
                if (sdloop_peer_is_connected(c->target))
                        continue;
                call_requeue(c);
        }
}

static void proxy_flush(SdloopProxy *p) {
        if (!p->target || !sdloop_peer_is_connected(p->target))
                return;

        while (p->queued.head) {
                ProxyCall *c = p->queued.head;
                int r;

                call_list_remove(c);
                c->timer = sd_event_source_disable_unref(c->timer);

                r = call_forward(c);
                if (r == 0)
                        continue;
                if (r < 0)
                        call_reply_errorf(c, SDLOOP_ERROR_INTERNAL, "proxy %s: cannot forward %s.%s(): %s",
                                          p->path, call_interface(c), call_member(c), strerror(-r));
                call_free(c);
        }
}

static int on_target_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        SdloopProxy *p = userdata;
        const char *interface = sd_bus_message_get_interface(m), *member = sd_bus_message_get_member(m);
        int r;

        /* The proxy's own connection is gone: nobody to tell. */
        if (!sdloop_peer_is_connected(p->on))
                return 0;
        if (!interface || !member)
                return 0;

        /* Peer to peer a signal has no destination: the one peer gets it. Other handlers may have read the
         * message already, and may read it after us. */
        r = sd_bus_message_new_signal(sdloop_peer_get_bus(p->on), &s, p->path, interface, member);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = sd_bus_message_copy(s, m, true);
        (void) sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = sd_bus_send(sdloop_peer_get_bus(p->on), s, NULL);
        if (r < 0)
                /* Never an error to sd-bus: it would close the target's connection over it. */
                log_warning_errno(r, "Proxy %s: cannot pass on signal %s.%s() of %s: %m", p->path, interface,
                                  member, p->target_path);
        return 0;
}

/* The match for the target object's signals. On a peer-to-peer connection it stays local (there is no bus
 * to tell) and every signal of the peer arrives anyway: the path picks this object's. The asynchronous form
 * never waits, even on a bus connection, where adding a match is a call to the bus. */
static int proxy_match_target(SdloopProxy *p, SdloopPeer *target, const char *target_path, sd_bus_slot **ret) {
        if (!target) {
                *ret = NULL;
                return 0;
        }
        return sd_bus_match_signal_async(sdloop_peer_get_bus(target), ret, NULL, target_path, NULL, NULL,
                                         on_target_signal, NULL, p);
}

int sdloop_proxy_set_target(SdloopProxy *p, SdloopPeer *target, const char *target_path) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL;
        _cleanup_free_ char *tp = NULL;
        int r;

        if (!p)
                return -EINVAL;
        if (target) {
                if (!target_path || !sd_bus_object_path_is_valid(target_path))
                        return -EINVAL;
                tp = strdup(target_path);
                if (!tp)
                        return -ENOMEM;
        }

        /* The new match before the old one goes: a target that cannot be watched leaves the old in place. */
        r = proxy_match_target(p, target, tp, &match);
        if (r < 0)
                return r;
        sd_bus_slot_unref(p->signal_match);
        p->signal_match = TAKE_PTR(match);

        if (target && target != p->target)
                metrics_proxy_target_changed();
        /* Ref before unref: the new target may be the old one. */
        sdloop_peer_ref(target);
        sdloop_peer_unref(p->target);
        p->target = target;
        free(p->target_path);
        p->target_path = TAKE_PTR(tp);

        proxy_fail_lost_forwards(p);
        proxy_flush(p);
        return 0;
}

int sdloop_proxy_new(SdloopPeer *on, const char *path, SdloopPeer *target, const char *target_path,
                     SdloopProxy **ret) {
        _cleanup_(sdloop_proxy_freep) SdloopProxy *p = NULL;
        int r;

        if (!on || !path || !sd_bus_object_path_is_valid(path) || !ret)
                return -EINVAL;
        if (target && (!target_path || !sd_bus_object_path_is_valid(target_path)))
                return -EINVAL;

        sdloop_error_register();

        p = new0(SdloopProxy, 1);
        if (!p)
                return -ENOMEM;
        p->on = sdloop_peer_ref(on);
        p->path = strdup(path);
        if (!p->path)
                return -ENOMEM;

        r = sdloop_proxy_set_target(p, target, target_path);
        if (r < 0)
                return r;

        /* A plain object callback, not a vtable: it sees every call to the path, before sd-bus would answer
         * Introspect or Properties itself. */
        r = sd_bus_add_object(sdloop_peer_get_bus(on), &p->slot, p->path, on_call, p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

const char *sdloop_proxy_get_path(SdloopProxy *p) {
        return p ? p->path : NULL;
}

SdloopProxy *sdloop_proxy_free(SdloopProxy *p) {
        if (!p)
                return NULL;

        /* No new calls, and no more signals, from here on. */
        p->slot = sd_bus_slot_unref(p->slot);
        p->signal_match = sd_bus_slot_unref(p->signal_match);

        while (p->queued.head) {
                ProxyCall *c = p->queued.head;

                call_reply_unavailable(c, NULL);
                call_free(c);
        }
        while (p->forwarded.head) {
                ProxyCall *c = p->forwarded.head;

                call_reply_unavailable(c, "proxy closed");
                call_free(c);
        }

        sdloop_peer_unref(p->target);
        free(p->target_path);
        sdloop_peer_unref(p->on);
        free(p->path);
        return mfree(p);
}
