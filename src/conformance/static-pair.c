/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The static median plugin exercises a provider with the fixtures: the static relayer's, served in this
 * process over a socketpair and handed to the plugin by proxy, as a host hands over a relayer's. */

#include <errno.h>
#include <sys/socket.h>

#include "macro.h"
#include "static.h"
#include "suite.h"
#include "tool.h"

int tool_static_relayer_start(ToolStaticRelayer *ret, sd_bus_error *error) {
        ConformanceObjects keep = {};
        ToolStaticRelayer s = {};
        int fds[2], r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                return -errno;
        r = sdloop_peer_new_server(NULL, fds[0], &s.plugin);
        if (r < 0) {
                safe_close(fds[1]);
                return r;
        }
        r = sdloop_peer_new_client(NULL, fds[1], &s.host);
        if (r < 0)
                goto fail;
        r = sdloop_object_new_at(s.plugin, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &s.root);
        if (r >= 0)
                r = static_plugin_relayer_export(s.root);
        if (r < 0)
                goto fail;
        r = conformance_run_plugin_relayer(s.host, &keep, error);
        if (r < 0)
                goto fail;
        s.relayer = TAKE_PTR(keep.relayer);
        s.provider = TAKE_PTR(keep.median_provider);
        /* The keystore stays exported on @host for as long as the relayer lives. */
        keep.keystore = NULL;
        conformance_objects_done(&keep);
        *ret = s;
        return 0;
fail:
        conformance_objects_done(&keep);
        tool_static_relayer_done(&s);
        return r;
}

void tool_static_relayer_done(ToolStaticRelayer *s) {
        s->relayer = mfree(s->relayer);
        s->provider = mfree(s->provider);
        sdloop_object_close(s->root);
        s->root = NULL;
        s->host = sdloop_peer_unref(s->host);
        s->plugin = sdloop_peer_unref(s->plugin);
}
