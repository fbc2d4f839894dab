/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SdloopPeer: one peer-to-peer D-Bus connection between the host and a plugin, on either side. Both
 * sides export objects on it (SdloopObject) and call the other side's objects.
 *
 * Calls: every call has an asynchronous form (sdloop_peer_call_async() in sdloop-call.h, and the typed
 * *_async() client of each service). sdloop_peer_call() and the typed synchronous clients are for top-level
 * code only (tools, tests): they run the peer's sd-event loop while they wait, so the other side may call
 * back into objects exported here and other connections keep being served. Inside an event-loop callback
 * they refuse (org.sdloop1.Error.Internal, -EDEADLK) instead of waiting there. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "sdloop-call.h"
#include "sdloop-types.h"

#define SDLOOP_PROTOCOL_VERSION 2U
#define SDLOOP_ROOT_PATH        "/org/sdloop1"
#define SDLOOP_BUS_NAME         "org.sdloop1"
#define SDLOOP_INTERFACE_PREFIX "org.sdloop1."

#define SDLOOP_KIND_RELAYER "relayer"
#define SDLOOP_KIND_MEDIAN  "median"

/* Default deadline of one call, in µs. */
#define SDLOOP_CALL_TIMEOUT_USEC_DEFAULT (25ULL * 1000000ULL)

typedef struct SdloopPeer SdloopPeer;

typedef struct SdloopPluginIdentity {
        char *name;
        char *kind;
        char *version;
        uint32_t protocol_version;
} SdloopPluginIdentity;

void sdloop_plugin_identity_done(SdloopPluginIdentity *id);

typedef void (*sdloop_peer_disconnect_handler_t)(SdloopPeer *peer, void *userdata);

/* Plugin side: serve the already accepted, connected socket @fd (taken over, also on failure). */
int sdloop_peer_new_server(sd_event *event, int fd, SdloopPeer **ret);

/* Host side: connect to a plugin listening on the UNIX socket @path ("unix:…" addresses also work).
 * Returns once the socket is connected; authentication completes with the first call. */
int sdloop_peer_connect(sd_event *event, const char *path, SdloopPeer **ret);

/* Host side on an already connected socket @fd (taken over, also on failure); e.g. one end of a
 * socketpair() whose other end went to sdloop_peer_new_server(). */
int sdloop_peer_new_client(sd_event *event, int fd, SdloopPeer **ret);

/* Wrap an already started bus connection (the host's system or user bus, say) so that objects and
 * proxies can be exported on it. The connection is not closed when the peer goes. */
int sdloop_peer_new_bus(sd_event *event, sd_bus *bus, SdloopPeer **ret);

/* Host side: read the root object's org.sdloop1.Plugin properties and refuse a peer whose Kind differs
 * from @expected_kind (NULL: any) or whose ProtocolVersion differs from ours, with an error naming both
 * values (org.sdloop1.Error.InvalidArgument, -EPROTO). */
int sdloop_peer_handshake(SdloopPeer *peer, const char *expected_kind, SdloopPluginIdentity *ret,
                          sd_bus_error *error);
/* The same in two steps, for asynchronous callers: the handshake's method call (to send with
 * sdloop_peer_call_async()), and the check of its reply. */
int sdloop_peer_new_handshake(SdloopPeer *peer, sd_bus_message **ret);
int sdloop_peer_handshake_check(SdloopPeer *peer, sd_bus_message *reply, const char *expected_kind,
                                SdloopPluginIdentity *ret, sd_bus_error *error);

SdloopPeer *sdloop_peer_ref(SdloopPeer *peer);
SdloopPeer *sdloop_peer_unref(SdloopPeer *peer);
static inline void sdloop_peer_unrefp(SdloopPeer **p) {
        if (*p)
                sdloop_peer_unref(*p);
}

/* Close the connection and every object exported on it. The peer stays allocated until unref. */
void sdloop_peer_disconnect(SdloopPeer *peer);

sd_bus *sdloop_peer_get_bus(SdloopPeer *peer);
sd_event *sdloop_peer_get_event(SdloopPeer *peer);
bool sdloop_peer_is_connected(SdloopPeer *peer);
/* Free-form label used in error messages and logs ("relayer-ledger", "host"). */
int sdloop_peer_set_description(SdloopPeer *peer, const char *description);
const char *sdloop_peer_get_description(SdloopPeer *peer);

/* Why this side closed the connection when it refused what the other side sent (e.g. a message over
 * $SDLOOP_MESSAGE_SIZE_MAX), or NULL: it was closed by the other side, or by sdloop_peer_disconnect(). */
const char *sdloop_peer_get_close_reason(SdloopPeer *peer);
void sdloop_peer_set_disconnect_handler(SdloopPeer *peer, sdloop_peer_disconnect_handler_t handler,
                                        void *userdata);
void sdloop_peer_set_call_timeout(SdloopPeer *peer, uint64_t usec);
uint64_t sdloop_peer_get_call_timeout(SdloopPeer *peer);
void sdloop_peer_set_userdata(SdloopPeer *peer, void *userdata);
void *sdloop_peer_get_userdata(SdloopPeer *peer);

/* Build a method call to @path/@interface/@member on the other side. */
int sdloop_peer_new_call(SdloopPeer *peer, const char *path, const char *interface, const char *member,
                         sd_bus_message **ret);

/* Send @m and wait for its reply (top level only, see above). @timeout_usec 0 = the peer's call timeout. Errors keep
 * their D-Bus name in @error; a lost connection becomes org.sdloop1.Error.PluginUnavailable (-EHOSTDOWN),
 * a missed deadline org.sdloop1.Error.Timeout (-ETIMEDOUT). Returns 0 or a negative errno. */
int sdloop_peer_call(SdloopPeer *peer, sd_bus_message *m, uint64_t timeout_usec, sd_bus_message **ret_reply,
                     sd_bus_error *error);

/* Convenience: new_call + append(@types, …) + call. */
int sdloop_peer_call_method(SdloopPeer *peer, const char *path, const char *interface, const char *member,
                            sd_bus_message **ret_reply, sd_bus_error *error, const char *types, ...);

/* Run @peer's event loop until @done becomes true or the connection is lost (for tests and drivers that
 * run at top level; -EDEADLK inside a callback). */
int sdloop_peer_wait_for(SdloopPeer *peer, const bool *done, uint64_t timeout_usec);
