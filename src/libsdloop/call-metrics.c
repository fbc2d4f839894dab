/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Call metrics on both sides of every call: one CallStats per (side, interface, member), interned the
 * first time it is seen (a server's at registration, a client's at its first call) in a table that is
 * read without a lock and only ever grows, so that recording a call costs a lookup, a clock read and a few
 * relaxed atomics, never an allocation. Each CallStats keeps its series: calls by outcome (made on the
 * first call with that outcome), the latency histogram and the calls in flight.
 *
 * The server side wraps vtables: object.c registers a copy of each interface's vtable whose method
 * handlers are call_metrics_dispatch() trampolines (call_metrics_wrap()). A call answered later
 * (sdloop_call_defer()) takes its stats and start time along and is recorded when finished or cancelled. */

#include <pthread.h>

#include "macro.h"
#include "util.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "sdloop-metrics.h"

#define CALL_STATS_MAX 1024U
#define CALL_STATS_BUCKETS 256U

static const char * const outcome_label[_CALL_OUTCOME_MAX] = {
        [CALL_OUTCOME_OK] = "ok",
        [CALL_OUTCOME_PLUGIN_UNAVAILABLE] = SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
        [CALL_OUTCOME_INVALID_ARGUMENT] = SDLOOP_ERROR_INVALID_ARGUMENT,
        [CALL_OUTCOME_NOT_FOUND] = SDLOOP_ERROR_NOT_FOUND,
        [CALL_OUTCOME_UNIMPLEMENTED] = SDLOOP_ERROR_UNIMPLEMENTED,
        [CALL_OUTCOME_TIMEOUT] = SDLOOP_ERROR_TIMEOUT,
        [CALL_OUTCOME_INTERNAL] = SDLOOP_ERROR_INTERNAL,
        [CALL_OUTCOME_CANCELLED] = "cancelled",
        [CALL_OUTCOME_OTHER] = "other",
};

struct CallStats {
        CallSide side;
        char *interface, *member;
        uint64_t hash;
        SdloopMetricSeries *duration, *in_flight;
        SdloopMetricSeries *outcomes[_CALL_OUTCOME_MAX];
        CallStats *next; /* in its hash bucket */
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static CallStats *stats_table[CALL_STATS_BUCKETS];
static size_t n_stats;
static CallStats *overflow[_CALL_SIDE_MAX];
static SdloopMetric *calls_total, *call_duration, *calls_in_flight;
static bool metrics_disabled;

void sdloop_metrics_set_enabled(bool b) {
        __atomic_store_n(&metrics_disabled, !b, __ATOMIC_RELAXED);
}

bool metrics_enabled(void) {
        return !__atomic_load_n(&metrics_disabled, __ATOMIC_RELAXED);
}

static const char * const side_label[_CALL_SIDE_MAX] = {
        [CALL_SIDE_SERVER] = "server",
        [CALL_SIDE_CLIENT] = "client",
};

static uint64_t stats_hash(CallSide side, const char *interface, const char *member) {
        uint64_t h = 1469598103934665603ULL ^ (uint64_t) side;

        for (const char *p = interface; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        h = (h ^ '.') * 1099511628211ULL;
        for (const char *p = member; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        return h;
}

static int metrics_register_calls(void) {
        static const char * const labels[] = { "side", "interface", "member", "outcome", NULL };
        static const char * const labels_no_outcome[] = { "side", "interface", "member", NULL };
        int r;

        if (calls_total)
                return 0;
        r = sdloop_metric_register(SDLOOP_METRIC_HISTOGRAM, "sdloop_call_duration_seconds",
                                   "Time from a method call's dispatch (server) or sending (client) to its answer.",
                                   labels_no_outcome, NULL, 0, &call_duration);
        if (r < 0)
                return r;
        r = sdloop_metric_register(SDLOOP_METRIC_GAUGE, "sdloop_calls_in_flight",
                                   "Method calls dispatched or sent and not answered yet.", labels_no_outcome, NULL, 0,
                                   &calls_in_flight);
        if (r < 0)
                return r;
        return sdloop_metric_register(SDLOOP_METRIC_COUNTER, "sdloop_calls_total",
                                      "Method calls answered, by outcome: ok or the error's name.", labels, NULL, 0,
                                      &calls_total);
}

static CallStats *stats_new(CallSide side, const char *interface, const char *member, uint64_t hash) {
        const char *values[] = { side_label[side], interface, member, NULL };
        CallStats *s;

        s = new0(CallStats, 1);
        if (!s)
                return NULL;
        s->side = side;
        s->hash = hash;
        s->interface = strdup(interface);
        s->member = strdup(member);
        if (!s->interface || !s->member) {
                free(s->interface);
                free(s->member);
                return mfree(s);
        }
        s->duration = sdloop_metric_series(call_duration, values);
        s->in_flight = sdloop_metric_series(calls_in_flight, values);
        return s;
}

CallStats *call_stats_get(CallSide side, const char *interface, const char *member) {
        uint64_t h;
        CallStats *s;

        /* Off (SDLOOP_METRICS=false): nothing to count into. */
        if (!metrics_enabled())
                return NULL;
        interface = strempty(interface);
        member = strempty(member);
        h = stats_hash(side, interface, member);

        for (s = __atomic_load_n(&stats_table[h % CALL_STATS_BUCKETS], __ATOMIC_ACQUIRE); s; s = s->next)
                if (s->hash == h && s->side == side && streq(s->member, member) && streq(s->interface, interface))
                        return s;

        pthread_mutex_lock(&stats_lock);
        /* Another thread may have made it meanwhile. */
        for (s = stats_table[h % CALL_STATS_BUCKETS]; s; s = s->next)
                if (s->hash == h && s->side == side && streq(s->member, member) && streq(s->interface, interface))
                        goto done;
        if (metrics_register_calls() < 0)
                goto done;
        if (n_stats >= CALL_STATS_MAX) {
                /* Member names come from the other side too: past the limit they share one entry. */
                if (!overflow[side])
                        overflow[side] = stats_new(side, "other", "other", 0);
                s = overflow[side];
                goto done;
        }
        s = stats_new(side, interface, member, h);
        if (s) {
                s->next = stats_table[h % CALL_STATS_BUCKETS];
                __atomic_store_n(&stats_table[h % CALL_STATS_BUCKETS], s, __ATOMIC_RELEASE);
                n_stats++;
        }
done:
        pthread_mutex_unlock(&stats_lock);
        return s;
}

CallOutcome call_outcome_from_name(const char *name) {
        if (!name)
                return CALL_OUTCOME_OK;
        for (CallOutcome o = CALL_OUTCOME_PLUGIN_UNAVAILABLE; o <= CALL_OUTCOME_INTERNAL; o++)
                if (streq(name, outcome_label[o]))
                        return o;
        return CALL_OUTCOME_OTHER;
}

CallOutcome call_outcome_from_error(int r, const sd_bus_error *error) {
        if (r >= 0)
                return CALL_OUTCOME_OK;
        if (sd_bus_error_is_set(error))
                return call_outcome_from_name(error->name);
        return call_outcome_from_name(error_name_from_errno(r));
}

uint64_t call_stats_begin(CallStats *s) {
        if (!s)
                return 0;
        sdloop_metric_add(s->in_flight, 1);
        return now_monotonic_usec();
}

void call_stats_end(CallStats *s, uint64_t start, CallOutcome outcome) {
        SdloopMetricSeries *series;
        uint64_t now;

        if (!s)
                return;
        now = now_monotonic_usec();
        sdloop_metric_add(s->in_flight, -1);
        sdloop_metric_observe(s->duration, now > start ? (double) (now - start) / USEC_PER_SEC : 0);

        if (outcome < 0 || outcome >= _CALL_OUTCOME_MAX)
                outcome = CALL_OUTCOME_OTHER;
        series = __atomic_load_n(&s->outcomes[outcome], __ATOMIC_ACQUIRE);
        if (!series) {
                const char *values[] = { side_label[s->side], s->interface, s->member, outcome_label[outcome], NULL };

                /* The first call with this outcome; sdloop_metric_series() hands every thread the same. */
                series = sdloop_metric_series(calls_total, values);
                __atomic_store_n(&s->outcomes[outcome], series, __ATOMIC_RELEASE);
        }
        sdloop_metric_add(series, 1);
}

/* --- the server side: wrapped vtables ------------------------------------------------------------- */

struct CallWrap {
        const sd_bus_vtable *original;
        sd_bus_message_handler_t trampoline;
        char *interface;
        sd_bus_vtable *vtable; /* the copy registered: its methods' handlers are trampolines */
        size_t n_methods;
        const char **members;
        sd_bus_message_handler_t *handlers;
        CallStats **stats;
        CallWrap *next;
};

static CallWrap *wraps;
static pthread_mutex_t wrap_lock = PTHREAD_MUTEX_INITIALIZER;

/* While a wrapped handler runs: what call_begin() hands on to a call that defers. */
static __thread CallStats *dispatch_stats;
static __thread uint64_t dispatch_start;
static __thread bool dispatch_deferred;
static __thread Trace dispatch_trace;

int call_metrics_dispatch(const CallWrap *w, sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m);
        CallStats *saved_stats = dispatch_stats;
        uint64_t saved_start = dispatch_start;
        bool saved_deferred = dispatch_deferred;
        Trace saved_trace = dispatch_trace;
        CallOutcome outcome;
        size_t k;
        int r;

        for (k = 0; k < w->n_methods; k++)
                if (streq_ptr(w->members[k], member))
                        break;
        if (k >= w->n_methods)
                return -EINVAL; /* cannot happen: sd-bus only calls us for our own methods */

        dispatch_stats = w->stats[k];
        dispatch_start = call_stats_begin(w->stats[k]);
        dispatch_deferred = false;
        dispatch_trace = (Trace) {};

        r = w->handlers[k](m, userdata, error);

        /* A call answered later is recorded when it is (call_metrics_finish()). */
        if (!dispatch_deferred) {
                outcome = call_outcome_from_error(r, error);
                call_stats_span(w->stats[k], &dispatch_trace, dispatch_start, outcome);
                call_stats_end(w->stats[k], dispatch_start, outcome);
        }

        dispatch_stats = saved_stats;
        dispatch_start = saved_start;
        dispatch_deferred = saved_deferred;
        dispatch_trace = saved_trace;
        return r;
}

void call_metrics_take(SdloopCall *c) {
        const Trace *t = context_get_trace(c->context);

        c->stats = dispatch_stats;
        c->start = dispatch_start;
        if (t)
                dispatch_trace = *t;
}

void call_metrics_deferred(SdloopCall *heap) {
        /* The stack call's handler returns next: from now on the heap call records. */
        if (heap->stats)
                dispatch_deferred = true;
}

void call_metrics_finish(SdloopCall *c, CallOutcome outcome) {
        CallStats *s = TAKE_PTR(c->stats);

        call_stats_span(s, context_get_trace(c->context), c->start, outcome);
        call_stats_end(s, c->start, outcome);
}

const char *call_outcome_label(CallOutcome o) {
        return o >= 0 && o < _CALL_OUTCOME_MAX ? outcome_label[o] : "other";
}

void call_stats_span(CallStats *s, const Trace *t, uint64_t start, CallOutcome outcome) {
        if (s && t && t->set)
                trace_write_span(t, side_label[s->side], s->interface, s->member, start, call_outcome_label(outcome));
}

static CallWrap *wrap_new(const char *interface, const sd_bus_vtable *vtable, sd_bus_message_handler_t trampoline) {
        CallWrap *w;
        size_t n = 0, n_methods = 0;

        for (const sd_bus_vtable *v = vtable; v->type != _SD_BUS_VTABLE_END; v++) {
                n++;
                if (v->type == _SD_BUS_VTABLE_METHOD)
                        n_methods++;
        }

        w = new0(CallWrap, 1);
        if (!w)
                return NULL;
        w->original = vtable;
        w->trampoline = trampoline;
        w->interface = strdup(interface);
        w->vtable = new0(sd_bus_vtable, n + 1);
        w->members = new0(const char *, n_methods);
        w->handlers = new0(sd_bus_message_handler_t, n_methods);
        w->stats = new0(CallStats *, n_methods);
        if (!w->interface || !w->vtable || !w->members || !w->handlers || !w->stats)
                goto fail;

        memcpy(w->vtable, vtable, (n + 1) * sizeof(sd_bus_vtable));
        for (size_t i = 0; i < n; i++) {
                sd_bus_vtable *v = &w->vtable[i];

                if (v->type != _SD_BUS_VTABLE_METHOD || !v->x.method.handler)
                        continue;
                w->members[w->n_methods] = v->x.method.member;
                w->handlers[w->n_methods] = v->x.method.handler;
                w->stats[w->n_methods] = call_stats_get(CALL_SIDE_SERVER, interface, v->x.method.member);
                v->x.method.handler = trampoline;
                w->n_methods++;
        }
        return w;
fail:
        free(w->interface);
        free(w->vtable);
        free(w->members);
        free(w->handlers);
        free(w->stats);
        return mfree(w);
}

const CallWrap *call_metrics_wrap(const char *interface, const sd_bus_vtable *vtable,
                                  sd_bus_message_handler_t trampoline) {
        CallWrap *w;

        /* One copy per (interface, vtable, trampoline), kept for the life of the process like the static
         * vtables it copies. */
        pthread_mutex_lock(&wrap_lock);
        for (w = wraps; w; w = w->next)
                if (w->original == vtable && w->trampoline == trampoline && streq(w->interface, interface))
                        goto done;
        w = wrap_new(interface, vtable, trampoline);
        if (w) {
                w->next = wraps;
                wraps = w;
        }
done:
        pthread_mutex_unlock(&wrap_lock);
        return w;
}

const sd_bus_vtable *call_wrap_vtable(const CallWrap *w) {
        return w->vtable;
}
