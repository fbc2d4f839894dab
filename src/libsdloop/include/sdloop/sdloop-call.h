/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The call model: every call has a context, a served call may be answered later, every client call has an
 * asynchronous form. Nothing in libsdloop waits inside an event-loop callback.
 *
 * SdloopContext is what travels with one call, the counterpart of Go's context.Context: first of all the
 * caller's deadline. On the wire it is an org.sdloop1.Context.Set(a{sv}) message sent just before the call
 * it belongs to (see dbus/README.md, "Call context"); a connection may also announce a default timeout
 * once (Context.SetDefault). A call without any context has no known deadline.
 *
 * SdloopCall is one method call being served. An operation of any Sdloop*Ops table either answers at once
 * (fills its ret_* outputs and returns 0, or returns a negative errno with @error set) or defers:
 *
 *         static int my_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret, sd_bus_error *e) {
 *                 SdloopCall *call = sdloop_call_defer();    // a reference of our own; outputs are ignored now
 *                 sdloop_call_set_cancel_handler(call, on_cancel, work);
 *                 start_work(work, call);                    // … later, from any event-loop callback:
 *                 return 0;                                  // sdloop_data_source_observe_return(call, "42");
 *         }
 *
 * A deferred call is finished exactly once, with the service's typed sdloop_<service>_<method>_return()
 * (results are validated as for an immediate answer; a bad one becomes org.sdloop1.Error.Internal) or
 * with sdloop_call_return_error()/sdloop_call_return_errno(). A typed return takes the results as the
 * operation would have filled them, scalars by value and the rest by const pointer, and copies what it
 * sends (the caller keeps what it passes); an object-creating method's object must still exist then. It
 * returns 0 once the answer went out, -EIO if a result failed validation (Internal went out instead),
 * -ECANCELED if the call was cancelled, -ESTALE if it was finished already.
 *
 * If the caller's connection goes away, the object is closed (the caller then gets
 * org.sdloop1.Error.NotFound), or the call's deadline passes first (org.sdloop1.Error.Timeout), the call is
 * cancelled: the cancel handler runs once, and later *_return() calls send nothing and return -ECANCELED.
 * Either way the operation drops its reference with sdloop_call_unref(). */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "sdloop-log.h"

typedef struct SdloopPeer SdloopPeer;
typedef struct SdloopObject SdloopObject;
typedef struct SdloopContext SdloopContext;
typedef struct SdloopCall SdloopCall;

#define SDLOOP_DEADLINE_NONE UINT64_MAX

/* --- context ------------------------------------------------------------------------------------- */

int sdloop_context_new(SdloopContext **ret);
/* A new context with @parent's values (NULL: an empty one). */
int sdloop_context_new_child(const SdloopContext *parent, SdloopContext **ret);
SdloopContext *sdloop_context_ref(SdloopContext *c);
SdloopContext *sdloop_context_unref(SdloopContext *c);
static inline void sdloop_context_unrefp(SdloopContext **c) {
        if (*c)
                sdloop_context_unref(*c);
}

/* Deadline in CLOCK_MONOTONIC µs; SDLOOP_DEADLINE_NONE: none. Setting never extends a deadline already set
 * (a call made on behalf of another gets at most what its parent has left). */
void sdloop_context_set_deadline(SdloopContext *c, uint64_t deadline_usec);
/* The same, @timeout_usec from now. */
void sdloop_context_set_timeout(SdloopContext *c, uint64_t timeout_usec);
uint64_t sdloop_context_get_deadline(const SdloopContext *c);
/* µs left until the deadline (0 if it passed), or SDLOOP_DEADLINE_NONE. */
uint64_t sdloop_context_get_remaining(const SdloopContext *c);

/* LOOP's ContextValues (job id and name, contract, feed, transmitter), carried with every call made with
 * the context and put on every log line written while it is current. At most 256 bytes of UTF-8 each;
 * NULL clears. -EINVAL for a bad field or value. */
int sdloop_context_set_value(SdloopContext *c, SdloopLogContext field, const char *value);
const char *sdloop_context_get_value(const SdloopContext *c, SdloopLogContext field);

/* The context of this thread's current work: the call being served (while its operation runs, and while
 * its cancel handler runs), or the call whose reply handler runs. A call sent with no context of its own
 * takes its values and trace (not its deadline) from the current one; log lines take their context fields
 * from it. Code that picks up a call's work in a callback of its own (a timer) may make that call's
 * context current there: set_current returns the one it replaces, to be put back before returning.
 * Borrowed pointers: the caller keeps @c alive while it is current. */
SdloopContext *sdloop_context_current(void);
SdloopContext *sdloop_context_set_current(SdloopContext *c);

/* --- served calls -------------------------------------------------------------------------------- */

/* Inside an operation: the call being served (borrowed), or NULL outside of one. */
SdloopCall *sdloop_call_current(void);
/* Inside an operation: answer later. Returns a new reference to the call (NULL outside an operation, on
 * OOM, or when the call's object or connection is already going away; the operation then answers at
 * once). Once it returned non-NULL, the operation's return value, outputs and @error are ignored (outputs
 * the library would have freed are still freed). The operation may also finish the call before it
 * returns. */
SdloopCall *sdloop_call_defer(void);

SdloopCall *sdloop_call_ref(SdloopCall *c);
SdloopCall *sdloop_call_unref(SdloopCall *c);
static inline void sdloop_call_unrefp(SdloopCall **c) {
        if (*c)
                sdloop_call_unref(*c);
}

typedef void (*sdloop_call_cancel_handler_t)(SdloopCall *call, void *userdata);
/* Told once when a deferred call is cancelled (see above). The handler should drop its work and its
 * reference; it must not answer. */
void sdloop_call_set_cancel_handler(SdloopCall *c, sdloop_call_cancel_handler_t handler, void *userdata);

/* Still waiting for an answer: neither finished nor cancelled. */
bool sdloop_call_is_pending(const SdloopCall *c);
/* The caller's context (never NULL for a call being served): pass it to the calls made on its behalf. */
SdloopContext *sdloop_call_get_context(const SdloopCall *c);
/* Shorthand for sdloop_context_get_deadline(sdloop_call_get_context(c)). */
uint64_t sdloop_call_get_deadline(const SdloopCall *c);
/* The object called, and the connection the call came on; NULL once the call is no longer pending (the
 * cancel handler already sees NULL). */
SdloopObject *sdloop_call_get_object(const SdloopCall *c);
SdloopPeer *sdloop_call_get_peer(const SdloopCall *c);
sd_bus_message *sdloop_call_get_message(const SdloopCall *c);

/* Finish a deferred call with an error: an org.sdloop1.Error.* name is sent as is (pass on a dependency's
 * error this way); D-Bus's UnknownObject/Interface/Method/Property become NotFound, InvalidArgs
 * InvalidArgument, anything else (or no name) Internal, the message prefixed with "<Interface>.<Member>: ".
 * Returns 0, -ECANCELED if the call was cancelled, -ESTALE if it was finished already. */
int sdloop_call_return_error(SdloopCall *c, const sd_bus_error *e);
/* The same from a negative errno (named as sdloop_error_ensure() names it) and a printf message. */
int sdloop_call_return_errno(SdloopCall *c, int r, const char *format, ...) __attribute__((format(printf, 3, 4)));
/* Finish a deferred call that has no results (ErrorLog.SaveError, Transmit, Service.Ready, …). */
int sdloop_call_return_empty(SdloopCall *c);

/* --- asynchronous client calls ------------------------------------------------------------------- */

/* The reply to an asynchronous call. @r is 0 and @reply the method return, or @r is a negative errno and
 * @error says what failed, with the names of sdloop_peer_call(): a lost connection is
 * org.sdloop1.Error.PluginUnavailable, a missed deadline org.sdloop1.Error.Timeout, an error sent by the
 * other side keeps its name. Both belong to the library and are gone after the handler returns. The handler
 * does not run once the call's slot is unreferenced. */
typedef void (*sdloop_reply_handler_t)(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error,
                                       void *userdata);

/* Send @m and call @handler with its outcome. @ctx (may be NULL) gives the call's deadline — else the
 * peer's call timeout — and travels with the call. @ret_slot NULL: the call cannot be cancelled and lives
 * as long as the connection. Fails at once only when @m cannot be sent at all (the connection is gone:
 * -EHOSTDOWN, with @handler not called). */
int sdloop_peer_call_async(SdloopPeer *peer, sd_bus_message *m, SdloopContext *ctx, sdloop_reply_handler_t handler,
                           void *userdata, sd_bus_slot **ret_slot);

/* True while an event-loop callback of @peer's loop runs: synchronous calls are refused there. */
bool sdloop_peer_in_dispatch(SdloopPeer *peer);
