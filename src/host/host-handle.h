/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A long-lived handle on an object a plugin created for the host (a relayer, a provider, a reporting
 * plugin factory, a reporting plugin): LOOP's clientConn. The handle remembers how to create the object,
 * so when the plugin process is replaced the host creates it again on the new process, parents first,
 * and callers keep using the same handle — and the same stable path where it is re-exported. Proxies
 * that point at the object (the provider handed to the median plugin, re-exports on the system bus)
 * are re-pointed when it is created again and held while it is gone. */

#include "host.h"

typedef struct HostCall HostCall;
typedef struct HostSignalMatch HostSignalMatch;

typedef struct HostHandleOps {
        const char *kind; /* "relayer", "provider", "factory", "reporting_plugin": names the stable path */
        /* Issue the call that creates the object on @peer (the plugin's current connection; @parent_path the
         * parent's current remote path, NULL without parent) and return at once, with the call's slot in
         * *@ret_slot (the host drops it to cancel). The call's reply handler reports with
         * host_handle_created(). A negative return: nothing was issued (-EHOSTDOWN: the connection is gone). */
        int (*create)(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot);
        /* What the object needs of another plugin to be created (the proxied provider a median factory is
         * given, say), or NULL: the host creates it only once that handle exists on its plugin's current
         * process, and waits — asynchronously, without a deadline of its own — while it does not. */
        HostHandle *(*needs)(HostHandle *h);
        void (*free)(void *data);
} HostHandleOps;

/* How an asynchronous handle creation ended: 0 and the handle, or a negative errno and @error (the handle
 * is gone then: @h is NULL). */
typedef void (*host_handle_new_fn)(HostHandle *h, int r, const sd_bus_error *error, void *userdata);

struct HostHandle {
        HostPlugin *plugin;
        HostHandle *parent;
        const HostHandleOps *ops;
        void *data;

        char *stable_path;   /* /org/sdloop1/plugin/<plugin>/<kind>/<n> */
        char *remote_path;   /* on the plugin's current connection; NULL when not created there */
        uint64_t generation; /* the plugin generation remote_path belongs to */
        uint64_t created_usec; /* when it was last created (CLOCK_MONOTONIC) */

        sd_bus_slot *create_slot;   /* the create call in flight */
        uint64_t broken_generation; /* could not be re-created on this generation (0: never so) */
        bool announced;             /* on_handle_added was told */

        /* The first creation (host_handle_new_async()), until it is done. */
        bool created_once;
        host_handle_new_fn new_done;
        void *new_userdata;
        sd_event_source *new_timer;

        HostCall *calls_head, *calls_tail; /* queued or in flight, oldest first */

        SdloopProxy **watchers;
        size_t n_watchers;

        HostSignalMatch *matches; /* host_handle_match_signal() */

        HostHandle *prev, *next; /* the plugin's handles, creation order */
};

/* Add a handle and create its object, asynchronously: @done (may be NULL) is told once it exists, or why
 * it could not be created within the plugin's call timeout. Takes over @data (freed with ops->free on
 * failure too). *@ret (may be NULL) gets the handle at once; it is freed again if creation fails. */
int host_handle_new_async(HostPlugin *p, HostHandle *parent, const HostHandleOps *ops, void *data,
                          host_handle_new_fn done, void *userdata, HostHandle **ret);
/* The same, waiting for it (top level only). */
int host_handle_new(HostPlugin *p, HostHandle *parent, const HostHandleOps *ops, void *data, HostHandle **ret,
                    sd_bus_error *error);

/* From the reply handler of a create call: the outcome (@path is copied). */
void host_handle_created(HostHandle *h, int r, const char *path, const sd_bus_error *error);

/* Reply handlers for the generated asynchronous clients of object-creating methods (userdata: the
 * handle), e.g. sdloop_plugin_relayer_new_relayer_async(…, ctx, host_handle_created_reply, h, ret_slot). */
void host_handle_created_reply(SdloopPeer *peer, int r, char **path, sd_bus_error *error, void *userdata);
void host_handle_created_reporting_plugin_reply(SdloopPeer *peer, int r, char **path, SdloopReportingPluginInfo *info,
                                                sd_bus_error *error, void *userdata);

/* Close the object on the plugin (best effort, asynchronously) and drop the handle and its children. Its
 * pending calls fail with org.sdloop1.Error.NotFound. */
void host_handle_close(HostHandle *h);

/* Whether the object exists on the plugin's current connection. */
bool host_handle_is_live(HostHandle *h);

/* --- calls on a handle --- */

/* Issue the call on the object at @peer/@path with @ctx (it carries the call's deadline) and return at once,
 * with the call's slot in *@ret_slot. Its reply handler takes the results it wants, then reports with
 * host_call_complete(). A negative return: nothing was issued. */
typedef int (*host_call_issue_fn)(HostCall *c, SdloopPeer *peer, const char *path, SdloopContext *ctx,
                                  sd_bus_slot **ret_slot);
/* How the call ended (once). */
typedef void (*host_call_done_fn)(HostCall *c, int r, const sd_bus_error *error, void *userdata);

/* Call the handle's object: at once when it exists; while its plugin is down the call waits on the handle
 * and is issued once the object is created again, or fails with org.sdloop1.Error.PluginUnavailable at
 * @deadline (CLOCK_MONOTONIC µs; 0: the plugin's call timeout from now). A call that fails with
 * PluginUnavailable because the connection went away meanwhile waits again, until its deadline. NULL
 * @issue: just wait for the object to exist. *@ret (may be NULL) stays valid until @done ran. */
int host_handle_call_async(HostHandle *h, uint64_t deadline, host_call_issue_fn issue, host_call_done_fn done,
                           void *userdata, HostCall **ret);
void *host_call_get_userdata(HostCall *c);
HostHandle *host_call_get_handle(HostCall *c);
/* From the issued call's reply handler. */
void host_call_complete(HostCall *c, int r, const sd_bus_error *error);
/* Forget the call; @done is not called. */
void host_call_cancel(HostCall *c);

/* Synchronous, for top level only (tests, tools): wait for the object as
 * host_handle_call_async() does, then run @fn on it, which may make synchronous calls; if it fails with
 * PluginUnavailable because the connection went away, wait and run it again, until the plugin's call
 * timeout has passed. */
typedef int (*host_call_fn)(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error);
int host_handle_call(HostHandle *h, host_call_fn fn, void *userdata, sd_bus_error *error);

/* Keep @proxy pointed at this object: re-pointed after re-creation, held (NULL target) while lost. */
int host_handle_watch(HostHandle *h, SdloopProxy *proxy);
void host_handle_unwatch(HostHandle *h, SdloopProxy *proxy);

/* --- signals of a handle's object --- */

/* A signal of the object (@m), or NULL @m: the match was installed again on a re-created object (the plugin
 * was replaced), and signals sent meanwhile are lost — read again what they would have told. */
typedef void (*host_signal_fn)(HostHandle *h, sd_bus_message *m, void *userdata);

/* Be told of signal @interface.@member sent from the handle's object on its plugin's current connection:
 * the match is installed at once if the object exists, and again after every re-creation (from the object's
 * new path, on the new connection); @handler is told of each re-installation from the loop. *@ret is the
 * caller's to free with host_signal_match_free(), before or after the handle goes away. */
int host_handle_match_signal(HostHandle *h, const char *interface, const char *member, host_signal_fn handler,
                             void *userdata, HostSignalMatch **ret);
HostSignalMatch *host_signal_match_free(HostSignalMatch *m);
static inline void host_signal_match_freep(HostSignalMatch **m) {
        if (*m)
                host_signal_match_free(*m);
}

/* Internal (host-recovery.c, host-call.c). */
void host_handle_refresh_matches(HostHandle *h);
void host_handle_lost(HostHandle *h);
void host_handle_flush_calls(HostHandle *h);
void host_handle_requeue_calls(HostHandle *h);
void host_handle_fail_calls(HostHandle *h, int r, const sd_bus_error *error);
void host_handle_new_finish(HostHandle *h, int r, const sd_bus_error *error);
void host_handle_forget_dependency(HostHandle *h);
