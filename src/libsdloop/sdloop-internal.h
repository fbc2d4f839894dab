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

struct ObjectInterface {
        char *interface;
        const sd_bus_vtable *vtable;
        SdloopBinding binding;
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
        SdloopCall *previous; /* the call current before this one */

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

/* --- error.c --- */

/* The org.sdloop1.Error.* name for an errno (either sign). */
const char *error_name_from_errno(int r);

/* UTF-8 as sd-bus accepts it in "s": no overlong forms, surrogates, noncharacters or code points past
 * U+10FFFF. The length (1-4) of the character at @s, looking at no more than @n bytes, or 0 if there is
 * none there; and whether all of @s is made of them. */
size_t utf8_char_length(const char *s, size_t n, uint32_t *ret_c);
bool utf8_is_valid(const char *s);

/* --- context.c --- */

bool context_is_empty(const SdloopContext *c);
int context_attach(SdloopPeer *p);
void context_detach(SdloopPeer *p);
/* Before sending a call with @c on @p: the Context.Set (and, first time, SetDefault) that goes with it. */
int context_send_for_call(SdloopPeer *p, const SdloopContext *c);
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
