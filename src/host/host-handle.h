/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A long-lived handle on an object a plugin created for the host (a relayer, a provider, a reporting
 * plugin factory, a reporting plugin): LOOP's clientConn. The handle remembers how to create the object,
 * so when the plugin process is replaced the host creates it again on the new process, parents first,
 * and callers keep using the same handle — and the same stable path where it is re-exported. Proxies
 * that point at the object (the provider handed to the median plugin, re-exports on the system bus)
 * are re-pointed when it is created again and held while it is gone. */

#include "host.h"

typedef struct HostHandleOps {
        const char *kind; /* "relayer", "provider", "factory", "reporting_plugin": names the stable path */
        /* Create the object on @peer (the plugin's current connection); @parent_path is the parent's
         * current remote path (NULL without parent). Top level: may call into the plugin. */
        int (*create)(HostHandle *h, SdloopPeer *peer, const char *parent_path, char **ret_path, sd_bus_error *error);
        void (*free)(void *data);
} HostHandleOps;

struct HostHandle {
        HostPlugin *plugin;
        HostHandle *parent;
        const HostHandleOps *ops;
        void *data;

        char *stable_path;   /* /org/sdloop1/plugin/<plugin>/<kind>/<n> */
        char *remote_path;   /* on the plugin's current connection; NULL when not created there */
        uint64_t generation; /* the plugin generation remote_path belongs to */

        SdloopProxy **watchers;
        size_t n_watchers;

        HostHandle *prev, *next; /* the plugin's handles, creation order */
};

/* Create the object now (waiting for the plugin up to its call timeout). Takes over @data (freed with
 * ops->free on failure too). */
int host_handle_new(HostPlugin *p, HostHandle *parent, const HostHandleOps *ops, void *data, HostHandle **ret,
                    sd_bus_error *error);

/* Close the object on the plugin (best effort) and drop the handle and its children. */
void host_handle_close(HostHandle *h);

/* The current connection and path of the object, recovering it first if needed (top level). */
int host_handle_resolve(HostHandle *h, SdloopPeer **ret_peer, const char **ret_path, sd_bus_error *error);

typedef int (*host_call_fn)(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error);

/* Call @fn on the object; if the plugin goes away meanwhile, wait for the restart, recreate and retry,
 * until the plugin's call timeout has passed — then org.sdloop1.Error.PluginUnavailable. */
int host_handle_call(HostHandle *h, host_call_fn fn, void *userdata, sd_bus_error *error);

/* Keep @proxy pointed at this object: re-pointed after re-creation, held (NULL target) while lost. */
int host_handle_watch(HostHandle *h, SdloopProxy *proxy);
void host_handle_unwatch(HostHandle *h, SdloopProxy *proxy);

/* Internal to host-plugin.c: the object is gone with its process / was created again. */
void host_handle_lost(HostHandle *h);
int host_handle_recreate(HostHandle *h, sd_bus_error *error);
