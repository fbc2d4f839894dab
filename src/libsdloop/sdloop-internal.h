/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Structures shared by peer.c, object.c and plugin.c. Not installed. */

#include "sdloop-call.h"
#include "sdloop-object.h"
#include "sdloop-peer.h"

typedef struct ObjectInterface ObjectInterface;
typedef struct ObjectSlot ObjectSlot;
typedef struct Scope Scope;
typedef struct AsyncCall AsyncCall;
typedef struct CallStats CallStats;
typedef struct CallWrap CallWrap;
typedef struct InputGate InputGate;

#define TRACE_FLAG_SAMPLED 0x01

/* W3C trace context of a call: its trace, the span it is, the span it is under (zero: a root). */
typedef struct Trace {
        bool set;
        uint8_t flags;
        uint8_t trace_id[16];
        uint8_t span[8];
        uint8_t parent[8];
} Trace;


struct ObjectInterface {
        char *interface;
        const sd_bus_vtable *vtable;
        SdloopBinding binding;
        const CallWrap *wrap; /* the metrics' copy of @vtable (call-metrics.c), or NULL */
        ObjectInterface *next;
};

/* One registration of an object (Service or one interface) on one connection's bus. */
struct ObjectSlot {
        SdloopPeer *peer;
        sd_bus_slot *slot;
        ObjectSlot *next;
};

/* The connections that see the same objects. A plugin puts all its connections in one scope, so an
 * object created by the host's connection is visible (busctl tree, busctl call) on every other
 * connection too; it still belongs to, and dies with, the connection that created it. Each host-side
 * peer has a scope of its own. The root object (/org/sdloop1) is per connection and never shared. */
struct Scope {
        unsigned n_ref;
        SdloopPeer **peers;
        size_t n_peers;
        SdloopObject *objects;
};

struct SdloopObject {
        SdloopPeer *peer; /* the owner; not a reference: the peer owns its objects */
        Scope *scope;
        bool shared;      /* registered on every peer of the scope, not only the owner */
        SdloopObject *parent;

        /* Children, and siblings under the same parent. */
        SdloopObject *children;
        SdloopObject *sibling_prev, *sibling_next;

        /* Every object of the scope. */
        SdloopObject *scope_prev, *scope_next;

        char *path;
        char *name;
        SdloopObjectOps ops;
        void *userdata;

        ObjectInterface *interfaces;
        ObjectSlot *slots;
        bool closing;

        SdloopCall *calls; /* deferred calls to this object, not yet answered */
};

struct SdloopPeer {
        unsigned n_ref;
        sd_bus *bus;
        sd_event *event;
        char *description;
        bool server;
        bool connected;
        bool borrowed; /* the bus belongs to someone else */
        uint64_t call_timeout;

        sd_bus_slot *disconnect_slot;
        sd_bus_slot *hello_slot;
        sd_bus_slot *dispatch_filter_slot, *dispatch_fallback_slot; /* refusals with our names (dispatch.c) */
        sd_event_source *start_source; /* until what came with the authentication is read (peer.c) */
        InputGate *gate;               /* what the other side sends, before sd-bus reads it (input-gate.c) */
        char *close_reason;            /* why the gate refused the other side's input */

        sdloop_peer_disconnect_handler_t disconnect_handler;
        void *disconnect_userdata;
        void *userdata;

        Scope *scope;

        /* Call context (context.c): the filter's slot, a Context.Set waiting for its call, the call it was
         * for, the default timeout the other side announced (0: none), whether ours went out. */
        sd_bus_slot *context_slot;
        SdloopContext *pending_context;
        sd_bus_message *context_message;
        SdloopContext *message_context;
        uint64_t default_timeout_in;
        bool defaults_sent;

        sd_bus_slot *metrics_slot;  /* org.sdloop1.Metrics (metrics-bus.c) */
        bool metrics_counted;

        SdloopCall *calls;          /* deferred calls that came on this connection (call.c) */
        AsyncCall *async_calls;     /* our calls waiting for a reply (client.c) */
        sd_event_source *fail_event; /* fails async_calls after we closed the connection */
};

/* One method call being served (call.c). Handlers keep one on the stack; sdloop_call_defer() moves it to
 * the heap, where it is linked on its object and its connection until answered or cancelled. */
struct SdloopCall {
        unsigned n_ref;
        bool heap;
        bool finished;
        bool cancelled;
        sd_bus_message *message;
        SdloopPeer *peer;     /* the connection the call came on; no reference, NULL once not pending */
        SdloopObject *object; /* NULL once not pending, or once the operation closed it */
        SdloopContext *context;
        SdloopCall *deferred; /* on the stack: the heap copy, once deferred */
        CallStats *stats;     /* where the answer is counted (call-metrics.c); NULL once it is */
        uint64_t start;
        SdloopCall *previous; /* the call current before this one */
        SdloopContext *previous_context; /* the context current before this call's */

        sd_event_source *timer;
        sdloop_call_cancel_handler_t cancel;
        void *cancel_userdata;

        SdloopCall *peer_prev, *peer_next;
        SdloopCall *object_prev, *object_next;
};

/* --- call.c: the service side --- */

/* Start serving @m, addressed to @object, in a handler: @c becomes the current call. */
int call_begin(SdloopCall *c, sd_bus_message *m, SdloopObject *object);
/* The operation returned: true if it deferred (the handler must then return 1 and send nothing). */
bool call_end(SdloopCall *c);
/* Release what a stack call holds (a _cleanup_ handler; a zero-initialized call is fine). */
void call_done(SdloopCall *c);
/* A typed *_return(): the message to answer, or -ECANCELED/-ESTALE (nothing to do). */
int call_finish_begin(SdloopCall *c, sd_bus_message **ret);
/* …and done: @r < 0 sends @error (named as an immediate failure is); the call is finished. Returns @r if
 * negative, else 0. */
int call_finish_end(SdloopCall *c, int r, sd_bus_error *error);
/* The connection went away or the object closed: cancel what was waiting there. */
void peer_cancel_calls(SdloopPeer *p);
void object_cancel_calls(SdloopObject *o);
/* Depth of library callbacks running user code (operations, reply handlers) on this thread. */
extern __thread unsigned callback_depth;

/* --- call-metrics.c --- */

typedef enum CallSide {
        CALL_SIDE_SERVER,
        CALL_SIDE_CLIENT,
        _CALL_SIDE_MAX,
} CallSide;

typedef enum CallOutcome {
        CALL_OUTCOME_OK,
        CALL_OUTCOME_PLUGIN_UNAVAILABLE,
        CALL_OUTCOME_INVALID_ARGUMENT,
        CALL_OUTCOME_NOT_FOUND,
        CALL_OUTCOME_UNIMPLEMENTED,
        CALL_OUTCOME_TIMEOUT,
        CALL_OUTCOME_INTERNAL,
        CALL_OUTCOME_CANCELLED, /* the caller went away before the answer */
        CALL_OUTCOME_OTHER,     /* an error not named org.sdloop1.Error.* */
        _CALL_OUTCOME_MAX,
} CallOutcome;

/* The stats of (side, interface, member), interned on first use; NULL only when out of memory. */
CallStats *call_stats_get(CallSide side, const char *interface, const char *member);
/* A call starts (in flight): returns its start time. */
uint64_t call_stats_begin(CallStats *s);
/* …and is answered. */
void call_stats_end(CallStats *s, uint64_t start, CallOutcome outcome);
CallOutcome call_outcome_from_name(const char *error_name);
CallOutcome call_outcome_from_error(int r, const sd_bus_error *error);

/* A copy of @vtable whose method handlers are @trampoline, which calls call_metrics_dispatch() with it. */
const CallWrap *call_metrics_wrap(const char *interface, const sd_bus_vtable *vtable,
                                  sd_bus_message_handler_t trampoline);
const sd_bus_vtable *call_wrap_vtable(const CallWrap *w);
/* Run the original handler of the member @m calls, counted. */
int call_metrics_dispatch(const CallWrap *w, sd_bus_message *m, void *userdata, sd_bus_error *error);
/* call_begin(): the call being dispatched takes the stats and start time of its dispatch. */
void call_metrics_take(SdloopCall *c);
/* sdloop_call_defer(): the heap copy records the answer, not the dispatch. */
void call_metrics_deferred(SdloopCall *heap);
/* A deferred call is answered (or cancelled): count it, once. */
void call_metrics_finish(SdloopCall *c, CallOutcome outcome);
const char *call_outcome_label(CallOutcome o);
/* The span of a call ends (trace.c), named by its stats. */
void call_stats_span(CallStats *s, const Trace *t, uint64_t start, CallOutcome outcome);

/* SDLOOP_METRICS: calls counted and org.sdloop1.Metrics served. */
bool metrics_enabled(void);

/* --- metrics-bus.c --- */

/* org.sdloop1.Metrics at /org/sdloop1 on @p's bus, and the connection counted. */
int metrics_attach(SdloopPeer *p);
void metrics_detach(SdloopPeer *p);
/* The runtime's own figures. */
void metrics_objects_add(int n);
void metrics_proxy_target_changed(void);

/* --- error.c --- */

/* The org.sdloop1.Error.* name for an errno (either sign). */
const char *error_name_from_errno(int r);

/* UTF-8 as sd-bus accepts it in "s": no overlong forms, surrogates, noncharacters or code points past
 * U+10FFFF. The length (1-4) of the character at @s, looking at no more than @n bytes, or 0 if there is
 * none there; and whether all of @s is made of them. */
size_t utf8_char_length(const char *s, size_t n, uint32_t *ret_c);
bool utf8_is_valid(const char *s);

/* --- trace.c --- */

void trace_new_span_id(uint8_t ret[static 8]);
void trace_new_root(Trace *t, bool sampled);
bool trace_sample(double ratio);
/* "00-<trace id>-<parent id>-<flags>", strictly: the parent id goes to t->span, t->parent is zero. */
int trace_parse_traceparent(const char *s, Trace *t);
void trace_format_traceparent(const Trace *t, const uint8_t span[static 8], char ret[static 56]);
void trace_hex(const uint8_t *b, size_t n, char *ret);
/* A span ends: written to the journal when tracing is on here and the trace is sampled. */
void trace_write_span(const Trace *t, const char *kind, const char *interface, const char *member,
                      uint64_t start, const char *outcome);
bool trace_enabled(void);

/* --- log.c --- */

/* One span as a structured record, whatever the log level (trace.c decided it is wanted). */
void log_span(const char *trace_id, const char *span_id, const char *parent_span_id, const char *kind,
              const char *interface, const char *member, uint64_t duration_usec, const char *outcome);

/* --- context.c --- */

const Trace *context_get_trace(const SdloopContext *c);
void context_set_trace(SdloopContext *c, const Trace *t);
/* A proxy passes the call on: the context is the caller's span again, not one served here. */
void context_trace_forwarded(SdloopContext *c);

bool context_is_empty(const SdloopContext *c);
int context_attach(SdloopPeer *p);
void context_detach(SdloopPeer *p);
/* Before sending a call with @c on @p: the Context.Set (and, first time, SetDefault) that goes with it: @c's
 * deadline, its values or else @fallback's, the traceparent naming @span. */
int context_send_for_call(SdloopPeer *p, const SdloopContext *c, const SdloopContext *fallback, const Trace *span);
/* The context of method call @m received on @p (a new reference; never NULL on success). */
int context_for_message(SdloopPeer *p, sd_bus_message *m, SdloopContext **ret);

/* --- dispatch.c --- */

/* Unknown paths, interfaces, members and wrong signatures answered as NotFound/InvalidArgument. */
int dispatch_attach(SdloopPeer *p);

/* --- object.c --- */

const sd_bus_vtable *object_service_vtable(void);

/* --- client.c --- */

/* Fail every call of ours still waiting on @p with PluginUnavailable (we closed the connection). */
void peer_fail_async_calls(SdloopPeer *p);
/* The peer is being freed: its pending calls' handlers will not run. */
void peer_forget_async_calls(SdloopPeer *p);
/* sd-bus's errors turned into the names callers are promised. */
int call_translate_error(SdloopPeer *p, sd_bus_message *m, int r, sd_bus_error *error);

struct SdloopHealth {
        char **names;
        char **messages;
        size_t n;
};

void health_done(SdloopHealth *h);
int health_append_to_message(const SdloopHealth *h, sd_bus_message *m);

Scope *scope_new(void);
Scope *scope_ref(Scope *s);
Scope *scope_unref(Scope *s);

/* Move @peer into @scope (before it has objects): it gets every shared object of the scope. */
int peer_join_scope(SdloopPeer *peer, Scope *scope);
/* Close the objects @peer owns and drop its registrations of the others (connection gone). */
void peer_close_objects(SdloopPeer *peer);
/* peer_close_objects(), then leave the scope. */
void peer_leave_scope(SdloopPeer *peer);

/* input-gate.c: reads @fd (a connected socket; the gate keeps a duplicate) and feeds what it checked into a
 * pipe whose read end, *ret_bus_fd, is sd-bus's input. @server: the other side is the client, whose SASL
 * lines come first. */
int input_gate_new(SdloopPeer *peer, int fd, bool server, InputGate **ret_gate, int *ret_bus_fd);
/* Stops reading and closes the gate's descriptors, so that the other side sees the connection end. */
void input_gate_close(InputGate *g);
InputGate *input_gate_free(InputGate *g);
/* sd_bus_call() for a gated connection, whose input only moves when the gate reads: for top-level code once
 * the event loop is over (sd_bus_call() itself would wait on a pipe nobody fills). */
int input_gate_call(InputGate *g, sd_bus_message *m, uint64_t timeout_usec, sd_bus_error *error,
                    sd_bus_message **ret_reply);
static inline void input_gate_freep(InputGate **g) {
        input_gate_free(*g);
}
