/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* SdloopContext and its wire form. A call's context travels as org.sdloop1.Context.Set(a{sv}), sent with
 * no reply expected just before the call on the same connection; peer-to-peer connections keep order, so
 * the receiver attaches it to the next method call it dispatches. Context.SetDefault(a{sv}) announces
 * values for every later call of that side (the caller's call timeout), sent once before its first call,
 * so that a plain call costs no extra message and its handler still knows the caller's deadline. */

#include "macro.h"
#include "util.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"

#define CONTEXT_INTERFACE "org.sdloop1.Context"

struct SdloopContext {
        unsigned n_ref;
        uint64_t deadline; /* CLOCK_MONOTONIC µs */
};

int sdloop_context_new(SdloopContext **ret) {
        SdloopContext *c;

        if (!ret)
                return -EINVAL;
        c = new0(SdloopContext, 1);
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->deadline = SDLOOP_DEADLINE_NONE;
        *ret = c;
        return 0;
}

int sdloop_context_new_child(const SdloopContext *parent, SdloopContext **ret) {
        int r;

        r = sdloop_context_new(ret);
        if (r < 0)
                return r;
        if (parent)
                (*ret)->deadline = parent->deadline;
        return 0;
}

SdloopContext *sdloop_context_ref(SdloopContext *c) {
        if (c)
                c->n_ref++;
        return c;
}

SdloopContext *sdloop_context_unref(SdloopContext *c) {
        if (!c)
                return NULL;
        assert(c->n_ref > 0);
        if (--c->n_ref > 0)
                return NULL;
        return mfree(c);
}

void sdloop_context_set_deadline(SdloopContext *c, uint64_t deadline_usec) {
        if (c && deadline_usec < c->deadline)
                c->deadline = deadline_usec;
}

void sdloop_context_set_timeout(SdloopContext *c, uint64_t timeout_usec) {
        uint64_t now = now_monotonic_usec();

        if (timeout_usec < SDLOOP_DEADLINE_NONE - now)
                sdloop_context_set_deadline(c, now + timeout_usec);
}

uint64_t sdloop_context_get_deadline(const SdloopContext *c) {
        return c ? c->deadline : SDLOOP_DEADLINE_NONE;
}

uint64_t sdloop_context_get_remaining(const SdloopContext *c) {
        uint64_t now;

        if (!c || c->deadline == SDLOOP_DEADLINE_NONE)
                return SDLOOP_DEADLINE_NONE;
        now = now_monotonic_usec();
        return c->deadline > now ? c->deadline - now : 0;
}

bool context_is_empty(const SdloopContext *c) {
        return !c || c->deadline == SDLOOP_DEADLINE_NONE;
}

/* --- sending ------------------------------------------------------------------------------------- */

static int context_send(SdloopPeer *p, const char *member, const char *key, uint64_t value) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(p->bus, &m, NULL, SDLOOP_ROOT_PATH, CONTEXT_INTERFACE, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_expect_reply(m, false);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a{sv}", 1, key, "t", value);
        if (r < 0)
                return r;
        return sd_bus_send(p->bus, m, NULL);
}

int context_send_for_call(SdloopPeer *p, const SdloopContext *c) {
        int r;

        /* A shared bus has other peers on it, each with its own idea of a default. */
        if (!p->borrowed && !p->defaults_sent) {
                r = context_send(p, "SetDefault", "timeout_usec", p->call_timeout);
                if (r < 0)
                        return r;
                p->defaults_sent = true;
        }
        if (context_is_empty(c) || p->borrowed)
                return 0;
        return context_send(p, "Set", "deadline_usec", c->deadline);
}

/* --- receiving ----------------------------------------------------------------------------------- */

static int context_read(sd_bus_message *m, SdloopContext *c, uint64_t *ret_timeout) {
        uint64_t now = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                uint64_t v;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                /* Unknown keys and types are skipped: newer peers may say more. */
                if ((streq(key, "deadline_usec") || streq(key, "timeout_usec")) &&
                    sd_bus_message_verify_type(m, 'v', "t") > 0) {
                        r = sd_bus_message_read(m, "v", "t", &v);
                        if (r < 0)
                                return r;
                        if (streq(key, "deadline_usec"))
                                sdloop_context_set_deadline(c, v);
                        else if (ret_timeout)
                                *ret_timeout = v;
                        else {
                                if (now == 0)
                                        now = now_monotonic_usec();
                                if (v < SDLOOP_DEADLINE_NONE - now)
                                        sdloop_context_set_deadline(c, now + v);
                        }
                } else {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void peer_drop_message_context(SdloopPeer *p) {
        p->context_message = sd_bus_message_unref(p->context_message);
        p->message_context = sdloop_context_unref(p->message_context);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SdloopPeer *p = userdata;
        int r;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;

        if (!sd_bus_message_is_method_call(m, CONTEXT_INTERFACE, NULL)) {
                /* The call the last Context.Set was for. */
                peer_drop_message_context(p);
                if (p->pending_context) {
                        p->context_message = sd_bus_message_ref(m);
                        p->message_context = TAKE_PTR(p->pending_context);
                }
                return 0;
        }

        if (sd_bus_message_is_method_call(m, CONTEXT_INTERFACE, "Set")) {
                _cleanup_(sdloop_context_unrefp) SdloopContext *c = NULL;

                r = sdloop_context_new(&c);
                if (r < 0)
                        return r;
                r = context_read(m, c, NULL);
                if (r < 0)
                        log_debug_errno(r, "%s: ignoring malformed Context.Set(): %m", strempty(p->description));
                else {
                        sdloop_context_unref(p->pending_context);
                        p->pending_context = TAKE_PTR(c);
                }
        } else if (sd_bus_message_is_method_call(m, CONTEXT_INTERFACE, "SetDefault")) {
                uint64_t timeout = 0;

                r = context_read(m, NULL, &timeout);
                if (r < 0)
                        log_debug_errno(r, "%s: ignoring malformed Context.SetDefault(): %m",
                                        strempty(p->description));
                else
                        p->default_timeout_in = timeout;
        } else
                return 0; /* Let sd-bus answer UnknownMethod. */

        if (sd_bus_message_get_expect_reply(m))
                (void) sd_bus_reply_method_return(m, NULL);
        return 1;
}

int context_attach(SdloopPeer *p) {
        return sd_bus_add_filter(p->bus, &p->context_slot, on_message, p);
}

void context_detach(SdloopPeer *p) {
        p->context_slot = sd_bus_slot_unref(p->context_slot);
        p->pending_context = sdloop_context_unref(p->pending_context);
        peer_drop_message_context(p);
}

int context_for_message(SdloopPeer *p, sd_bus_message *m, SdloopContext **ret) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *c = NULL;
        int r;

        if (p && p->context_message == m && p->message_context) {
                p->context_message = sd_bus_message_unref(p->context_message);
                c = TAKE_PTR(p->message_context);
        } else {
                r = sdloop_context_new(&c);
                if (r < 0)
                        return r;
        }

        if (p && c->deadline == SDLOOP_DEADLINE_NONE && p->default_timeout_in > 0)
                sdloop_context_set_timeout(c, p->default_timeout_in);

        *ret = TAKE_PTR(c);
        return 0;
}
