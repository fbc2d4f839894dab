/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Re-exports: every HostHandle gets a forwarding proxy on the bus at the handle's stable path
 * (/org/sdloop1/plugin/<name>/<kind>/<n>), kept pointed at the current process's object, so that
 * `busctl tree org.sdloop1` shows what the plugins serve and `busctl call` reaches it.
 *
 * What operators' tools ask of these objects — Service.HealthReport and Ready, and Introspect, which the
 * proxy would pass on too — must not hang with the plugin. A bus filter takes those calls before the proxy
 * sees them and answers them itself, from its own asynchronous call on the handle, within
 * DAEMON_PROBE_CALL_TIMEOUT_USEC (at most the plugin's call timeout): at once with org.sdloop1.Error.Timeout
 * while the plugin is unresponsive, with PluginUnavailable while it is stopped or failed, and otherwise with
 * the plugin's answer, or Timeout/PluginUnavailable at that deadline while it restarts or does not answer.
 * A HealthReport names the plugin's objects by their own paths ("factory/1"); the reply names those that
 * are re-exported by their stable paths ("factory/3"), as the tree does. Every other call goes through the
 * proxy, with the bus peer's call timeout. */

#include "macro.h"
#include "sdloopd.h"

struct Reexport {
        HostHandle *handle;
        SdloopProxy *proxy;
        Reexport *next;
};

/* --- the proxies ----------------------------------------------------------------------------------------- */

void daemon_on_handle_added(HostHandle *h, void *userdata) {
        Daemon *d = userdata;
        Instance *i = instance_from_plugin(h->plugin);
        Reexport *e;
        int r;

        if (!i || !d->bus_peer)
                return;

        e = new0(Reexport, 1);
        if (!e) {
                log_oom();
                return;
        }
        e->handle = h;
        r = sdloop_proxy_new(d->bus_peer, h->stable_path, NULL, NULL, &e->proxy);
        if (r < 0) {
                log_warning_errno(r, "Failed to re-export %s on the bus, ignoring: %m", h->stable_path);
                free(e);
                return;
        }
        r = host_handle_watch(h, e->proxy);
        if (r < 0) {
                log_warning_errno(r, "Failed to re-export %s on the bus, ignoring: %m", h->stable_path);
                sdloop_proxy_free(e->proxy);
                free(e);
                return;
        }
        e->next = i->reexports;
        i->reexports = e;
        log_debug("Re-exporting %s.", h->stable_path);
}

void daemon_on_handle_removed(HostHandle *h, void *userdata) {
        Instance *i = instance_from_plugin(h->plugin);

        if (!i)
                return;
        if (i->relayer == h)
                i->relayer = NULL;

        for (Reexport **e = &i->reexports; *e; e = &(*e)->next)
                if ((*e)->handle == h) {
                        Reexport *dead = *e;

                        *e = dead->next;
                        host_handle_unwatch(h, dead->proxy);
                        sdloop_proxy_free(dead->proxy);
                        free(dead);
                        return;
                }
}

void reexport_free_all(Instance *i) {
        while (i->reexports) {
                Reexport *e = i->reexports;

                i->reexports = e->next;
                sdloop_proxy_free(e->proxy);
                free(e);
        }
}

/* --- bounded calls ------------------------------------------------------------------------------------------ */

typedef enum BoundedKind {
        BOUNDED_NONE,
        BOUNDED_HEALTH_REPORT,
        BOUNDED_READY,
        BOUNDED_INTROSPECT,
} BoundedKind;

typedef struct BoundedCall {
        Daemon *daemon;
        BoundedKind kind;
        char *plugin;           /* looked up again for the reply: it may be gone by then */
        sd_bus_message *call;   /* the caller's */
        sd_bus_message *reply;  /* the plugin's */
} BoundedCall;

static void bounded_call_free(BoundedCall *b) {
        if (!b)
                return;
        sd_bus_message_unref(b->call);
        sd_bus_message_unref(b->reply);
        free(b->plugin);
        free(b);
}

static BoundedKind bounded_kind(sd_bus_message *m) {
        const char *interface = sd_bus_message_get_interface(m), *member = sd_bus_message_get_member(m);

        if (!member)
                return BOUNDED_NONE;
        if (streq(member, "HealthReport") && (!interface || streq(interface, "org.sdloop1.Service")))
                return BOUNDED_HEALTH_REPORT;
        if (streq(member, "Ready") && (!interface || streq(interface, "org.sdloop1.Service")))
                return BOUNDED_READY;
        if (streq(member, "Introspect") && (!interface || streq(interface, "org.freedesktop.DBus.Introspectable")))
                return BOUNDED_INTROSPECT;
        return BOUNDED_NONE;
}

static void reply_error(sd_bus_message *call, const sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (!sd_bus_error_is_set(error)) {
                (void) sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "no answer");
                error = &e;
        }
        r = sd_bus_reply_method_error(call, error);
        if (r < 0)
                log_debug_errno(r, "Failed to answer %s(): %m", strempty(sd_bus_message_get_member(call)));
}

static const char *stable_suffix(HostHandle *h) {
        const char *s = h->stable_path;
        size_t n = 0;

        /* "/org/sdloop1/plugin/<name>/<kind>/<n>" → "<kind>/<n>": after the fifth '/'. */
        for (; *s; s++)
                if (*s == '/' && ++n == 5)
                        return s + 1;
        return h->stable_path;
}

/* The name the plugin gave one of its objects in a health report ("factory/1", or "factory/1.Something"
 * for a part of it) as an operator finds it on the bus ("factory/3"), when that object is re-exported. */
static int health_name(HostPlugin *p, const char *name, char **ret) {
        static const char prefix[] = SDLOOP_ROOT_PATH "/";

        for (HostHandle *h = p ? p->handles_head : NULL; h; h = h->next) {
                const char *remote;
                size_t l;

                if (!h->remote_path || strncmp(h->remote_path, prefix, strlen(prefix)) != 0)
                        continue;
                remote = h->remote_path + strlen(prefix);
                l = strlen(remote);
                if (strncmp(name, remote, l) != 0 || (name[l] != 0 && name[l] != '.'))
                        continue;
                return asprintf(ret, "%s%s", stable_suffix(h), name + l) < 0 ? -ENOMEM : 0;
        }
        *ret = strdup(name);
        return *ret ? 0 : -ENOMEM;
}

static int health_reply(BoundedCall *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *ret = NULL;
        Instance *i = daemon_find_instance(b->daemon, b->plugin);
        int r;

        r = sd_bus_message_new_method_return(b->call, &ret);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(b->reply, true);
        if (r >= 0)
                r = sd_bus_message_enter_container(b->reply, 'a', "{ss}");
        if (r >= 0)
                r = sd_bus_message_open_container(ret, 'a', "{ss}");
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_free_ char *name = NULL;
                const char *n, *status;

                r = sd_bus_message_read(b->reply, "{ss}", &n, &status);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = health_name(i ? i->plugin : NULL, n, &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(ret, "{ss}", name, status);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(ret);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, ret, NULL);
}

static int copy_reply(BoundedCall *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *ret = NULL;
        int r;

        r = sd_bus_message_new_method_return(b->call, &ret);
        if (r >= 0)
                r = sd_bus_message_rewind(b->reply, true);
        if (r >= 0)
                r = sd_bus_message_copy(ret, b->reply, true);
        if (r >= 0)
                r = sd_bus_send(NULL, ret, NULL);
        return r;
}

static void on_bounded_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        HostCall *c = userdata;
        BoundedCall *b = host_call_get_userdata(c);

        if (r >= 0)
                b->reply = sd_bus_message_ref(reply);
        host_call_complete(c, r, error);
}

static int bounded_issue(HostCall *c, SdloopPeer *peer, const char *path, SdloopContext *ctx, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        BoundedCall *b = host_call_get_userdata(c);
        int r;

        r = sdloop_peer_new_call(peer, path,
                                 b->kind == BOUNDED_INTROSPECT ? "org.freedesktop.DBus.Introspectable" :
                                                                 "org.sdloop1.Service",
                                 sd_bus_message_get_member(b->call), &m);
        if (r < 0)
                return r;
        return sdloop_peer_call_async(peer, m, ctx, on_bounded_reply, c, ret_slot);
}

static void on_bounded_done(HostCall *c, int r, const sd_bus_error *error, void *userdata) {
        BoundedCall *b = userdata;

        if (r >= 0 && b->reply) {
                r = b->kind == BOUNDED_HEALTH_REPORT ? health_reply(b) : copy_reply(b);
                if (r < 0) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                        (void) sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL, "cannot pass on the answer: %s",
                                                 strerror(-r));
                        reply_error(b->call, &e);
                }
        } else if (r < 0)
                reply_error(b->call, error);
        bounded_call_free(b);
}

static Reexport *reexport_find(Daemon *d, const char *path, Instance **ret) {
        for (Instance *i = d->instances; i; i = i->next)
                for (Reexport *e = i->reexports; e; e = e->next)
                        if (streq(e->handle->stable_path, path)) {
                                *ret = i;
                                return e;
                        }
        return NULL;
}

static int bounded_call_start(Daemon *d, Instance *i, Reexport *e, sd_bus_message *m, BoundedKind kind) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *p = i->plugin;
        BoundedCall *b;
        int r;

        if (p->state == HOST_PLUGIN_UNRESPONSIVE) {
                (void) sdloop_error_setf(&error, SDLOOP_ERROR_TIMEOUT, "plugin %s is unresponsive: %s",
                                         instance_name(i), strempty(p->last_error));
                reply_error(m, &error);
                return 1;
        }
        if (host_plugin_is_down(p)) {
                (void) host_plugin_unavailable(p, &error, p->last_error);
                reply_error(m, &error);
                return 1;
        }

        b = new0(BoundedCall, 1);
        if (!b)
                return -ENOMEM;
        b->daemon = d;
        b->kind = kind;
        b->call = sd_bus_message_ref(m);
        b->plugin = strdup(instance_name(i));
        if (!b->plugin) {
                bounded_call_free(b);
                return -ENOMEM;
        }
        r = host_handle_call_async(e->handle, host_now() + MIN(p->settings.call_timeout_usec,
                                                               DAEMON_PROBE_CALL_TIMEOUT_USEC),
                                   bounded_issue, on_bounded_done, b, NULL);
        if (r < 0) {
                bounded_call_free(b);
                return r;
        }
        return 1;
}

static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        static const char prefix[] = INSTANCE_PATH_PREFIX "/";
        Daemon *d = userdata;
        const char *path;
        BoundedKind kind;
        Instance *i = NULL;
        Reexport *e;
        int r;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        path = sd_bus_message_get_path(m);
        if (!path || strncmp(path, prefix, strlen(prefix)) != 0)
                return 0;
        kind = bounded_kind(m);
        if (kind == BOUNDED_NONE)
                return 0;
        e = reexport_find(d, path, &i);
        if (!e)
                return 0;

        r = bounded_call_start(d, i, e, m, kind);
        if (r < 0)
                return sdloop_error_setf(ret_error, SDLOOP_ERROR_INTERNAL, "%s(): %s", sd_bus_message_get_member(m),
                                         strerror(-r));
        return r;
}

int reexport_setup(Daemon *d) {
        /* A filter runs before any object callback: the proxies never see these calls. */
        return sd_bus_add_filter(d->bus, &d->reexport_filter, on_bus_message, d);
}
