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
#include "sdloop-trace.h"

#define CONTEXT_INTERFACE "org.sdloop1.Context"
/* A value longer than this is not taken from the wire (nor set). */
#define CONTEXT_VALUE_MAX 256U

static const char * const value_key[_SDLOOP_LOG_CONTEXT_MAX] = {
        [SDLOOP_LOG_JOB_ID] = "job_id",
        [SDLOOP_LOG_JOB_NAME] = "job_name",
        [SDLOOP_LOG_CONTRACT_ID] = "contract_id",
        [SDLOOP_LOG_FEED_ID] = "feed_id",
        [SDLOOP_LOG_TRANSMITTER_ID] = "transmitter_id",
};

struct SdloopContext {
        unsigned n_ref;
        uint64_t deadline; /* CLOCK_MONOTONIC µs */
        char *values[_SDLOOP_LOG_CONTEXT_MAX];
        Trace trace;
};

/* The context log lines and calls without one of their own use (sdloop_context_set_current()). */
static __thread SdloopContext *current;

SdloopContext *sdloop_context_current(void) {
        return current;
}

SdloopContext *sdloop_context_set_current(SdloopContext *c) {
        SdloopContext *previous = current;

        current = c;
        return previous;
}

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
        if (!parent)
                return 0;
        (*ret)->deadline = parent->deadline;
        (*ret)->trace = parent->trace;
        for (size_t i = 0; i < _SDLOOP_LOG_CONTEXT_MAX; i++)
                if (parent->values[i]) {
                        (*ret)->values[i] = strdup(parent->values[i]);
                        if (!(*ret)->values[i]) {
                                *ret = sdloop_context_unref(*ret);
                                return -ENOMEM;
                        }
                }
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
        if (current == c)
                current = NULL;
        for (size_t i = 0; i < _SDLOOP_LOG_CONTEXT_MAX; i++)
                free(c->values[i]);
        return mfree(c);
}

int sdloop_context_set_value(SdloopContext *c, SdloopLogContext field, const char *value) {
        if (!c || field < 0 || field >= _SDLOOP_LOG_CONTEXT_MAX)
                return -EINVAL;
        if (value && (strlen(value) > CONTEXT_VALUE_MAX || !utf8_is_valid(value)))
                return -EINVAL;
        return free_and_strdup(&c->values[field], value) < 0 ? -ENOMEM : 0;
}

const char *sdloop_context_get_value(const SdloopContext *c, SdloopLogContext field) {
        if (!c || field < 0 || field >= _SDLOOP_LOG_CONTEXT_MAX)
                return NULL;
        return c->values[field];
}

const Trace *context_get_trace(const SdloopContext *c) {
        return c && c->trace.set ? &c->trace : NULL;
}

void context_trace_forwarded(SdloopContext *c) {
        if (c && c->trace.set)
                memcpy(c->trace.span, c->trace.parent, sizeof(c->trace.span));
}

void context_set_trace(SdloopContext *c, const Trace *t) {
        if (c)
                c->trace = t ? *t : (Trace) {};
}

int sdloop_context_set_traceparent(SdloopContext *c, const char *traceparent) {
        Trace t = {};
        int r;

        if (!c)
                return -EINVAL;
        if (!traceparent) {
                c->trace = (Trace) {};
                return 0;
        }
        r = trace_parse_traceparent(traceparent, &t);
        if (r < 0)
                return r;
        /* Its parent is the span the traceparent names; this context is a span of its own under it. */
        memcpy(t.parent, t.span, sizeof(t.parent));
        trace_new_span_id(t.span);
        c->trace = t;
        return 0;
}

int sdloop_context_get_traceparent(const SdloopContext *c, char ret[static SDLOOP_TRACEPARENT_SIZE]) {
        if (!c || !c->trace.set)
                return -ENODATA;
        trace_format_traceparent(&c->trace, c->trace.span, ret);
        return 0;
}

int sdloop_context_get_trace_id(const SdloopContext *c, char ret[static SDLOOP_TRACE_ID_SIZE]) {
        if (!c || !c->trace.set)
                return -ENODATA;
        trace_hex(c->trace.trace_id, sizeof(c->trace.trace_id), ret);
        return 0;
}

bool sdloop_context_is_sampled(const SdloopContext *c) {
        return c && c->trace.set && (c->trace.flags & TRACE_FLAG_SAMPLED);
}

int sdloop_context_start_trace(SdloopContext *c, double sampling_ratio) {
        if (!c || !(sampling_ratio >= 0 && sampling_ratio <= 1))
                return -EINVAL;
        trace_new_root(&c->trace, trace_sample(sampling_ratio));
        return 0;
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

static bool context_has_values(const SdloopContext *c) {
        if (!c)
                return false;
        for (size_t i = 0; i < _SDLOOP_LOG_CONTEXT_MAX; i++)
                if (c->values[i])
                        return true;
        return false;
}

/* --- sending ------------------------------------------------------------------------------------- */

static int context_send(SdloopPeer *p, const char *member, const char *key, uint64_t value,
                        const SdloopContext *values, const SdloopContext *fallback, const Trace *span) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(p->bus, &m, NULL, SDLOOP_ROOT_PATH, CONTEXT_INTERFACE, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_expect_reply(m, false);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (key) {
                r = sd_bus_message_append(m, "{sv}", key, "t", value);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < _SDLOOP_LOG_CONTEXT_MAX; i++) {
                const char *v = sdloop_context_get_value(values, i) ?: sdloop_context_get_value(fallback, i);

                if (v) {
                        r = sd_bus_message_append(m, "{sv}", value_key[i], "s", v);
                        if (r < 0)
                                return r;
                }
        }
        if (span) {
                char tp[SDLOOP_TRACEPARENT_SIZE];

                /* The receiver's parent is the span of this call. */
                trace_format_traceparent(span, span->span, tp);
                r = sd_bus_message_append(m, "{sv}", "traceparent", "s", tp);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_send(p->bus, m, NULL);
}

int context_send_for_call(SdloopPeer *p, const SdloopContext *c, const SdloopContext *fallback, const Trace *span) {
        bool deadline;
        int r;

        /* A shared bus has other peers on it, each with its own idea of a default. */
        if (!p->borrowed && !p->defaults_sent) {
                r = context_send(p, "SetDefault", "timeout_usec", p->call_timeout, NULL, NULL, NULL);
                if (r < 0)
                        return r;
                p->defaults_sent = true;
        }
        if (p->borrowed)
                return 0;
        deadline = !context_is_empty(c);
        if (!deadline && !context_has_values(c) && !context_has_values(fallback) && !span)
                return 0;
        return context_send(p, "Set", deadline ? "deadline_usec" : NULL, deadline ? c->deadline : 0, c, fallback,
                            span);
}

/* --- receiving ----------------------------------------------------------------------------------- */

static void context_read_string(SdloopContext *c, const char *key, const char *s) {
        if (streq(key, "traceparent")) {
                /* A malformed one starts no trace: the call is served as one without. */
                if (trace_parse_traceparent(s, &c->trace) < 0)
                        c->trace = (Trace) {};
                return;
        }
        for (size_t i = 0; i < _SDLOOP_LOG_CONTEXT_MAX; i++)
                if (streq(key, value_key[i])) {
                        (void) sdloop_context_set_value(c, i, s);
                        return;
                }
}

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
                } else if (c && sd_bus_message_verify_type(m, 'v', "s") > 0) {
                        const char *s;

                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r < 0)
                                return r;
                        context_read_string(c, key, s);
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

        /* The traceparent named the caller's span: serving the call is a span of its own under it. */
        if (c->trace.set) {
                memcpy(c->trace.parent, c->trace.span, sizeof(c->trace.parent));
                trace_new_span_id(c->trace.span);
        }

        *ret = TAKE_PTR(c);
        return 0;
}
