/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A generic forwarding object: everything sent to @path on one connection (any interface, any member,
 * arguments as they are) goes to @target_path on another connection, and replies and errors come back.
 * Each call keeps its context (sdloop-call.h): it is forwarded with the sooner of the caller's deadline
 * and the exporting peer's call timeout. Every signal the target object emits (ConfigChanged, say) is
 * emitted again from @path on the proxy's connection, arguments unchanged; signals of other objects on the
 * target's connection are not. The host uses it to hand the relayer's provider to the median plugin:
 * plugins never talk directly. */

#include "sdloop-peer.h"

typedef struct SdloopProxy SdloopProxy;

/* Export @path on @on, forwarding to @target_path on @target. */
int sdloop_proxy_new(SdloopPeer *on, const char *path, SdloopPeer *target, const char *target_path,
                     SdloopProxy **ret);

/* Point at a new target (after the target plugin restarted). NULL @target: the target is down — calls
 * wait until a target is set again or until their deadline, then fail with
 * org.sdloop1.Error.PluginUnavailable, and no signals come through. Setting a target sends the waiting
 * calls on and forwards the new target's signals from then on. On failure the old target stays. */
int sdloop_proxy_set_target(SdloopProxy *p, SdloopPeer *target, const char *target_path);

const char *sdloop_proxy_get_path(SdloopProxy *p);
SdloopProxy *sdloop_proxy_free(SdloopProxy *p);
static inline void sdloop_proxy_freep(SdloopProxy **p) {
        if (*p)
                sdloop_proxy_free(*p);
}
