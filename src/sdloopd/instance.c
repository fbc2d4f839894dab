/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One configured plugin: its HostPlugin, its org.sdloop1.PluginInstance object on the bus, its relayer
 * (kind "relayer" with a "relayer" config) and the re-exports of its objects (reexport.c).
 *
 * Starting, restarting and connecting are asynchronous operations: the host is asked to bring the plugin
 * to RUNNING (host_plugin_wait_running(), with the plugin's call timeout), then the relayer is created
 * (host_handle_new_async(), the same timeout), and the caller is told once. */

#include "host-backend.h"
#include "macro.h"
#include "sdloopd.h"

const char *instance_name(Instance *i) {
        return i->plugin->settings.name;
}

Instance *daemon_find_instance(Daemon *d, const char *name) {
        for (Instance *i = d->instances; i; i = i->next)
                if (streq(instance_name(i), name))
                        return i;
        return NULL;
}

Instance *instance_from_plugin(HostPlugin *p) {
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

/* --- the relayer ---------------------------------------------------------------------------------------- */

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, h->data, HOST_KEYSTORE_PATH, NULL,
                                                       host_handle_created_reply, h, ret_slot);
}

static const HostHandleOps relayer_handle_ops = {
        .kind = "relayer",
        .create = relayer_create,
        .free = free,
};

/* --- the operation in progress --------------------------------------------------------------------------- */

static void op_finish(Instance *i, int r, const sd_bus_error *error) {
        instance_done_fn done = i->op_done;
        void *userdata = i->op_userdata;

        i->op_done = NULL;
        i->op_userdata = NULL;
        if (done)
                done(i, r, error, userdata);
}

static void on_relayer_created(HostHandle *h, int r, const sd_bus_error *error, void *userdata) {
        Instance *i = userdata;

        i->op_relayer = false;
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;

                /* The handle is gone already (on_handle_removed forgot it). */
                if (asprintf(&msg, "NewRelayer failed: %s", error && error->message ? error->message : strerror(-r)) < 0)
                        msg = NULL;
                log_error("Plugin %s: %s", instance_name(i), strempty(msg));
                /* The process runs; it just has no relayer. Say so where operators look. */
                host_plugin_update(i->plugin, _HOST_PLUGIN_STATE_INVALID, NULL, NULL, msg);
                op_finish(i, r, error);
                return;
        }
        log_info("Plugin %s: relayer at %s.", instance_name(i), h->stable_path);
        op_finish(i, 0, NULL);
}

/* The plugin runs: the relayer next, if configured and not made yet. */
static void op_continue(Instance *i) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char *config;
        int r;

        if (!i->relayer_config || i->relayer) {
                op_finish(i, 0, NULL);
                return;
        }
        config = strdup(i->relayer_config);
        if (!config)
                r = -ENOMEM;
        else
                /* Takes over config, on failure too. */
                r = host_handle_new_async(i->plugin, NULL, &relayer_handle_ops, config, on_relayer_created, i,
                                          &i->relayer);
        if (r < 0) {
                i->relayer = NULL;
                (void) sdloop_error_ensure(&error, r, "NewRelayer");
                op_finish(i, r, &error);
                return;
        }
        i->op_relayer = true;
}

static void on_op_running(HostPlugin *p, int r, const sd_bus_error *error, void *userdata) {
        Instance *i = userdata;

        i->op_waiter = NULL;
        if (r < 0) {
                op_finish(i, r, error);
                return;
        }
        op_continue(i);
}

static int op_begin(Instance *i, instance_done_fn done, void *userdata) {
        HostPlugin *p = i->plugin;
        int r;

        assert(!i->op_done && !i->op_waiter);

        r = host_plugin_wait_running(p, host_now() + p->settings.call_timeout_usec, on_op_running, i, &i->op_waiter);
        if (r < 0)
                return r;
        i->op_done = done;
        i->op_userdata = userdata;
        return 0;
}

void instance_cancel_op(Instance *i) {
        host_plugin_waiter_cancel(TAKE_PTR(i->op_waiter));
        i->op_done = NULL;
        i->op_userdata = NULL;
}

bool instance_busy(Instance *i) {
        return i->op_done || i->op_waiter || i->op_relayer || i->op_reattach;
}

/* --- life cycle ---------------------------------------------------------------------------------------- */

int instance_keystore(Instance *i, HostKeystore **ret) {
        _cleanup_free_ char *directory = NULL;
        int r;

        if (!streq_ptr(i->plugin->settings.kind, SDLOOP_KIND_RELAYER))
                return -EOPNOTSUPP;
        if (!i->keystore) {
                /* Nothing touches the disk until the first key is made. */
                if (asprintf(&directory, "%s/relayers/%s/keys", i->daemon->keys_state_directory,
                             instance_name(i)) < 0)
                        return -ENOMEM;
                r = host_keystore_new_directory(directory, &i->keystore);
                if (r < 0)
                        return log_error_errno(r, "Plugin %s: cannot set up its keystore %s: %m", instance_name(i),
                                               directory);
        }
        *ret = i->keystore;
        return 0;
}

static int instance_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        Instance *i = userdata;
        HostKeystore *ks;
        int r;

        /* Only relayers sign: other kinds do not get to see a keystore at all. A relayer sees its own chain
         * accounts and nothing else; the oracles' keys never leave this process. */
        if (!streq_ptr(p->settings.kind, SDLOOP_KIND_RELAYER))
                return 0;
        r = instance_keystore(i, &ks);
        if (r < 0)
                return r;
        return host_services_export(peer, ks);
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

        /* Whoever waits for it hears so now, not from the teardown. */
        if (i->op_done) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                instance_done_fn done = i->op_done;
                void *userdata = i->op_userdata;
                int r;

                r = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "plugin %s was removed",
                                      instance_name(i));
                instance_cancel_op(i);
                done(i, r, &error, userdata);
        }
        instance_cancel_op(i);

        /* Gone from the bus first: nothing should observe the teardown half-way. */
        if (i->slot) {
                (void) sd_bus_emit_object_removed(d->bus, i->path);
                i->slot = sd_bus_slot_unref(i->slot);
        }
        if (stop)
                (void) host_plugin_stop(i->plugin);
        /* Closes the handles, which withdraws their re-exports. */
        host_plugin_free(i->plugin);
        reexport_free_all(i);
        /* After the plugin: its connections served this keystore. */
        host_keystore_free(i->keystore);
        free(i->relayer_config);
        free(i->last_error);
        free(i->path);
        free(i);
}

int instance_start_async(Instance *i, instance_done_fn done, void *userdata) {
        HostPlugin *p = i->plugin;
        int r;

        i->wanted = true;
        /* Like "systemctl reset-failed" and start: an operator's start is a fresh start. */
        if (p->state == HOST_PLUGIN_FAILED)
                (void) host_plugin_stop(p);

        /* Its own waiter below: this one's outcome is that one's. */
        r = host_plugin_start_async(p, NULL, NULL);
        if (r < 0)
                return r;
        return op_begin(i, done, userdata);
}

int instance_connect_async(Instance *i, instance_done_fn done, void *userdata) {
        i->wanted = true;
        return op_begin(i, done, userdata);
}

int instance_restart_async(Instance *i, instance_done_fn done, void *userdata) {
        int r;

        i->wanted = true;
        r = host_plugin_restart_async(i->plugin, NULL, NULL);
        if (r < 0)
                return r;
        return op_begin(i, done, userdata);
}

static void on_op_stopped(HostPlugin *p, int r, const sd_bus_error *error, void *userdata) {
        op_finish(userdata, r, error);
}

int instance_stop_async(Instance *i, instance_done_fn done, void *userdata) {
        int r;

        assert(!i->op_done && !i->op_waiter);

        i->wanted = false;
        r = host_plugin_stop_async(i->plugin, on_op_stopped, i);
        if (r < 0)
                return r;
        i->op_done = done;
        i->op_userdata = userdata;
        return 0;
}

static void on_reattached(HostPlugin *p, int r, const char *message, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Instance *i = userdata;

        i->op_reattach = false;
        if (r < 0)
                log_warning("Plugin %s: cannot adopt a running instance, starting anew: %s", instance_name(i),
                            message ?: strerror(-r));
        else if (r > 0)
                log_info("Plugin %s: adopted the running instance.", instance_name(i));
        if (r <= 0)
                r = host_plugin_start_async(p, NULL, NULL);
        else
                r = 0;
        if (r >= 0)
                r = host_plugin_wait_running(p, host_now() + p->settings.call_timeout_usec, on_op_running, i,
                                             &i->op_waiter);
        if (r < 0) {
                (void) sdloop_error_ensure(&error, r, instance_name(i));
                op_finish(i, r, &error);
        }
}

int instance_adopt_or_start_async(Instance *i, instance_done_fn done, void *userdata) {
        HostPlugin *p = i->plugin;
        int r;

        if (!p->host->backend->reattach)
                return instance_start_async(i, done, userdata);

        assert(!i->op_done && !i->op_waiter);
        i->wanted = true;
        /* Units left running by a previous sdloopd are adopted rather than started anew. */
        r = p->host->backend->reattach(p, on_reattached, i);
        if (r < 0) {
                log_warning_errno(r, "Plugin %s: cannot adopt a running instance, starting anew: %m",
                                  instance_name(i));
                return instance_start_async(i, done, userdata);
        }
        i->op_reattach = true;
        i->op_done = done;
        i->op_userdata = userdata;
        return 0;
}

int instance_reconfigure(Instance *i, const DaemonPluginConfig *pc, bool *ret_start) {
        HostPlugin *p = i->plugin;
        HostPluginSettings settings;
        _cleanup_free_ char *relayer_config = NULL;
        bool start = i->wanted && p->state != HOST_PLUGIN_STOPPED;
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

        if (ret_start)
                *ret_start = start;
        return 0;
}
