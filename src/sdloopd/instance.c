/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One configured plugin: its HostPlugin, its org.sdloop1.PluginInstance object on the bus, its relayer
 * (kind "relayer" with a "relayer" config) and the re-exports of its objects: every HostHandle gets a
 * forwarding proxy on the bus at the handle's stable path, kept pointed at the current process's object,
 * so `busctl tree org.sdloop1` shows what the plugins serve and `busctl call` reaches it. */

#include "macro.h"
#include "sdloopd.h"

struct Reexport {
        HostHandle *handle;
        SdloopProxy *proxy;
        Reexport *next;
};

const char *instance_name(Instance *i) {
        return i->plugin->settings.name;
}

Instance *daemon_find_instance(Daemon *d, const char *name) {
        for (Instance *i = d->instances; i; i = i->next)
                if (streq(instance_name(i), name))
                        return i;
        return NULL;
}

static Instance *instance_from_plugin(HostPlugin *p) {
        return p ? p->on_connect_userdata : NULL;
}

/* --- org.sdloop1.PluginInstance ---------------------------------------------------------------------- */

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;
        HostPlugin *p = i->plugin;
        const char *v;

        if (streq(property, "Name"))
                v = p->settings.name;
        else if (streq(property, "Kind"))
                v = p->settings.kind;
        else if (streq(property, "Unit"))
                v = p->unit;
        else if (streq(property, "State"))
                v = host_plugin_state_to_string(p->state);
        else if (streq(property, "Address"))
                v = p->settings.socket_path;
        else if (streq(property, "LastError"))
                v = p->last_error;
        else
                return -EINVAL;

        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_n_restarts(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;

        return sd_bus_message_append(reply, "u", (uint32_t) i->plugin->n_restarts);
}

static int property_get_main_pid(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Instance *i = userdata;

        return sd_bus_message_append(reply, "u", i->plugin->main_pid);
}

static const sd_bus_vtable instance_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Unit", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NRestarts", "u", property_get_n_restarts, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_get_main_pid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Address", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LastError", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

void daemon_on_plugin_changed(HostPlugin *p, void *userdata) {
        Daemon *d = userdata;
        Instance *i = instance_from_plugin(p);
        const char *changed[5];
        size_t n = 0;
        bool state_changed;

        if (!i)
                return;

        state_changed = i->state != p->state;
        if (state_changed) {
                i->state = p->state;
                changed[n++] = "State";
        }
        if (i->n_restarts != p->n_restarts) {
                i->n_restarts = p->n_restarts;
                changed[n++] = "NRestarts";
        }
        if (i->main_pid != p->main_pid) {
                i->main_pid = p->main_pid;
                changed[n++] = "MainPID";
        }
        if (!streq_ptr(i->last_error, p->last_error)) {
                (void) free_and_strdup(&i->last_error, p->last_error);
                changed[n++] = "LastError";
        }
        changed[n] = NULL;

        if (n > 0 && d->bus && i->slot) {
                int r = sd_bus_emit_properties_changed_strv(d->bus, i->path, INSTANCE_INTERFACE, (char **) changed);
                if (r < 0)
                        log_debug_errno(r, "Failed to emit PropertiesChanged for %s: %m", i->path);
        }
        if (state_changed) {
                if (p->state == HOST_PLUGIN_FAILED)
                        log_error("Plugin %s failed: %s", instance_name(i), strempty(p->last_error));
                else
                        log_info("Plugin %s is %s.", instance_name(i), host_plugin_state_to_string(p->state));
                manager_emit_state_changed(d, i);
        }
        if (state_changed)
                daemon_update_status(d);
}

/* --- re-exports ------------------------------------------------------------------------------------------ */

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

/* --- the relayer ------------------------------------------------------------------------------------------ */

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, h->data, HOST_KEYSTORE_PATH, NULL,
                                                       host_handle_created_reply, h, ret_slot);
}

static const HostHandleOps relayer_handle_ops = {
        .kind = "relayer",
        .create = relayer_create,
        .free = free,
};

static int instance_ensure_relayer(Instance *i, sd_bus_error *error) {
        _cleanup_free_ char *msg = NULL;
        char *config;
        int r;

        if (!i->relayer_config || i->relayer)
                return 0;

        config = strdup(i->relayer_config);
        if (!config)
                return -ENOMEM;
        r = host_handle_new(i->plugin, NULL, &relayer_handle_ops, config, &i->relayer, error);
        if (r < 0) {
                if (asprintf(&msg, "NewRelayer failed: %s", error->message ?: strerror(-r)) < 0)
                        msg = NULL;
                log_error("Plugin %s: %s", instance_name(i), strempty(msg));
                /* The process runs; it just has no relayer. Say so where operators look. */
                host_plugin_update(i->plugin, -1, NULL, NULL, msg);
                return r;
        }
        log_info("Plugin %s: relayer at %s.", instance_name(i), i->relayer->stable_path);
        return 0;
}

/* --- life cycle ---------------------------------------------------------------------------------------- */

static int instance_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        Instance *i = userdata;

        /* Only relayers sign: other kinds do not get to see the keystore at all. */
        if (!streq_ptr(p->settings.kind, SDLOOP_KIND_RELAYER))
                return 0;
        return host_services_export(peer, i->daemon->keystore);
}

int instance_new(Daemon *d, const DaemonPluginConfig *pc, Instance **ret) {
        HostPluginSettings settings;
        Instance *i;
        int r;

        i = new0(Instance, 1);
        if (!i)
                return -ENOMEM;
        i->daemon = d;
        i->wanted = true;

        r = sd_bus_path_encode(INSTANCE_PATH_PREFIX, pc->settings.name, &i->path);
        if (r < 0)
                goto fail;
        if (pc->relayer_config) {
                i->relayer_config = strdup(pc->relayer_config);
                if (!i->relayer_config) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        r = daemon_plugin_settings_copy(&pc->settings, &settings);
        if (r < 0)
                goto fail;
        r = host_plugin_new(d->host, &settings, &i->plugin);
        host_plugin_settings_done(&settings);
        if (r < 0)
                goto fail;
        i->plugin->on_connect = instance_on_connect;
        i->plugin->on_connect_userdata = i;
        i->state = i->plugin->state;

        if (d->bus) {
                r = sd_bus_add_object_vtable(d->bus, &i->slot, i->path, INSTANCE_INTERFACE, instance_vtable, i);
                if (r < 0)
                        goto fail;
                (void) sd_bus_emit_object_added(d->bus, i->path);
        }

        /* Sorted by name, for ListPlugins and the status line. */
        Instance **at = &d->instances;
        while (*at && strcmp(instance_name(*at), instance_name(i)) < 0)
                at = &(*at)->next;
        i->next = *at;
        *at = i;

        if (ret)
                *ret = i;
        return 0;

fail:
        if (i->plugin)
                host_plugin_free(i->plugin);
        free(i->relayer_config);
        free(i->path);
        free(i);
        return r;
}

void instance_free(Instance *i, bool stop) {
        Daemon *d;

        if (!i)
                return;
        d = i->daemon;

        for (Instance **at = &d->instances; *at; at = &(*at)->next)
                if (*at == i) {
                        *at = i->next;
                        break;
                }

        /* Gone from the bus first: nothing should observe the teardown half-way. */
        if (i->slot) {
                (void) sd_bus_emit_object_removed(d->bus, i->path);
                i->slot = sd_bus_slot_unref(i->slot);
        }
        if (stop)
                (void) host_plugin_stop(i->plugin);
        /* Closes the handles, which withdraws their re-exports. */
        host_plugin_free(i->plugin);
        while (i->reexports) {
                Reexport *e = i->reexports;

                i->reexports = e->next;
                sdloop_proxy_free(e->proxy);
                free(e);
        }
        free(i->relayer_config);
        free(i->last_error);
        free(i->path);
        free(i);
}

int instance_start(Instance *i, sd_bus_error *error) {
        HostPlugin *p = i->plugin;
        int r;

        i->wanted = true;
        /* Like "systemctl reset-failed" and start: an operator's start is a fresh start. */
        if (p->state == HOST_PLUGIN_FAILED)
                (void) host_plugin_stop(p);

        r = host_plugin_start(p, error);
        if (r < 0)
                return r;
        return instance_ensure_relayer(i, error);
}

int instance_connect(Instance *i, sd_bus_error *error) {
        int r;

        i->wanted = true;
        r = host_plugin_ensure(i->plugin, host_now() + i->plugin->settings.call_timeout_usec, error);
        if (r < 0)
                return r;
        return instance_ensure_relayer(i, error);
}

int instance_stop(Instance *i) {
        i->wanted = false;
        /* From the top level (requests, shutdown): answered once the process is gone. */
        return host_plugin_stop_wait(i->plugin, NULL);
}

int instance_restart(Instance *i, sd_bus_error *error) {
        int r;

        i->wanted = true;
        r = host_plugin_restart(i->plugin, error);
        if (r < 0)
                return r;
        return instance_ensure_relayer(i, error);
}

int instance_reconfigure(Instance *i, const DaemonPluginConfig *pc, sd_bus_error *error) {
        HostPlugin *p = i->plugin;
        HostPluginSettings settings;
        _cleanup_free_ char *relayer_config = NULL;
        bool restart = i->wanted && p->state != HOST_PLUGIN_STOPPED;
        int r;

        if (pc->relayer_config) {
                relayer_config = strdup(pc->relayer_config);
                if (!relayer_config)
                        return -ENOMEM;
        }
        r = daemon_plugin_settings_copy(&pc->settings, &settings);
        if (r < 0)
                return r;

        (void) host_plugin_stop(p);

        /* A relayer made with another configuration (or by another kind of plugin) is not the one wanted
         * now: close it; it is made anew on start. */
        if (i->relayer && (!streq_ptr(relayer_config, i->relayer_config) || !streq_ptr(settings.kind, p->settings.kind)))
                host_handle_close(i->relayer);
        free(i->relayer_config);
        i->relayer_config = TAKE_PTR(relayer_config);

        host_plugin_settings_done(&p->settings);
        p->settings = settings;

        if (!restart)
                return 0;
        return instance_start(i, error);
}
