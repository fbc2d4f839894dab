/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Manager at /org/sdloop1, and the queue of requests that call into plugins.
 *
 * A method handler runs inside the bus connection's dispatch, where the host must not call into a plugin
 * (host.h). So StartPlugin, StopPlugin, RestartPlugin and Reload keep a reference on their message, queue
 * a request and return; the request runs at top level and sends the reply. Requests run one at a time and
 * only from the outermost work (not from inside a call that waits for a plugin): a Reload may remove the
 * very plugin such a call is waiting for. Who may call is the bus policy's business (org.sdloop1.conf):
 * every method is SD_BUS_VTABLE_UNPRIVILEGED. */

#include <systemd/sd-daemon.h>

#include "config.h"
#include "host-backend.h"
#include "macro.h"
#include "sdloopd.h"

typedef enum RequestType {
        REQUEST_START,
        REQUEST_STOP,
        REQUEST_RESTART,
        REQUEST_RELOAD,
        REQUEST_START_ALL,
        REQUEST_SHUTDOWN,
} RequestType;

struct Request {
        RequestType type;
        char *name;
        sd_bus_message *message; /* NULL: internal */
        Request *next;
};

static void request_free(Request *req) {
        if (!req)
                return;
        sd_bus_message_unref(req->message);
        free(req->name);
        free(req);
}

static void request_reply(Request *req, int r, sd_bus_error *error) {
        int k;

        if (!req->message)
                return;
        if (r < 0) {
                if (!sd_bus_error_is_set(error))
                        (void) sdloop_error_ensure(error, r, NULL);
                k = sd_bus_reply_method_error(req->message, error);
        } else
                k = sd_bus_reply_method_return(req->message, NULL);
        if (k < 0)
                log_debug_errno(k, "Failed to reply to %s(): %m", strempty(sd_bus_message_get_member(req->message)));
}

/* --- running requests ------------------------------------------------------------------------------------ */

static void work_requests(Host *h, void *userdata);

static int on_requests_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;

        d->requests_retry = sd_event_source_disable_unref(d->requests_retry);
        (void) host_queue_work(d->host, work_requests, d);
        return 0;
}

static int reload(Daemon *d, sd_bus_error *error) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *msg = NULL;
        unsigned added = 0, removed = 0, changed = 0, feeds_added, feeds_removed, feeds_changed;
        int r, ret = 0;

        log_info("Reloading configuration from %s.", d->config_path ?: d->config->path);
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration…");

        r = daemon_config_load(d->config_path, d->scope, &c, &msg);
        if (r < 0) {
                log_error("Refusing the new configuration, keeping the running one: %s", strempty(msg));
                (void) sd_notify(false, "READY=1");
                daemon_update_status(d);
                if (r == -ENOMEM && !msg)
                        return r;
                return sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT, "%s", strempty(msg));
        }
        daemon_config_resolve(c, d->backend_name);

        if (!streq_ptr(c->state_directory, d->config->state_directory))
                log_warning("state_directory changed to %s; keys stay in %s until sdloopd restarts.",
                            c->state_directory, d->config->state_directory);
        if (!streq_ptr(c->backend, d->config->backend))
                log_warning("backend changed to \"%s\"; this takes effect when sdloopd restarts.", strempty(c->backend));

        /* Feeds before their plugins: the feeds that go or change are freed, those whose plugins change are
         * stopped meanwhile. */
        daemon_feeds_reload_prepare(d, c, &feeds_removed, &feeds_changed);

        /* Removed plugins first: a renamed plugin may want the socket path of the old one. */
        for (Instance *i = d->instances, *next; i; i = next) {
                next = i->next;
                if (daemon_config_find_plugin(c, instance_name(i)))
                        continue;
                log_info("Plugin %s was removed from the configuration; stopping it.", instance_name(i));
                instance_free(i, true);
                removed++;
        }

        for (size_t k = 0; k < c->n_plugins; k++) {
                const DaemonPluginConfig *pc = c->plugins + k, *old;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                Instance *i = daemon_find_instance(d, pc->settings.name);

                if (!i) {
                        log_info("Plugin %s was added to the configuration; starting it.", pc->settings.name);
                        r = instance_new(d, pc, &i);
                        if (r < 0) {
                                log_error_errno(r, "Failed to set up plugin %s: %m", pc->settings.name);
                                ret = ret ?: r;
                                continue;
                        }
                        added++;
                        r = instance_start(i, &e);
                } else {
                        old = daemon_config_find_plugin(d->config, pc->settings.name);
                        if (old && daemon_plugin_config_equal(old, pc))
                                continue;
                        log_info("Plugin %s changed; restarting it with the new settings.", pc->settings.name);
                        changed++;
                        r = instance_reconfigure(i, pc, &e);
                }
                if (r < 0)
                        /* The configuration is taken all the same: the plugin says what is wrong. */
                        log_error("Plugin %s: %s", pc->settings.name, e.message ?: strerror(-r));
        }

        daemon_config_free(d->config);
        d->config = TAKE_PTR(c);

        /* Then the feeds, on the plugins as they are now. */
        feeds_added = daemon_feeds_create_missing(d);
        feeds_added = feeds_added > feeds_changed ? feeds_added - feeds_changed : 0;
        daemon_feeds_update(d);

        log_info("Configuration reloaded: plugins %u added, %u removed, %u changed; feeds %u added, %u removed, "
                 "%u changed.", added, removed, changed, feeds_added, feeds_removed, feeds_changed);
        (void) sd_notify(false, "READY=1");
        daemon_update_status(d);
        return ret;
}

static void start_all(Daemon *d) {
        for (Instance *i = d->instances; i; i = i->next) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                HostPlugin *p = i->plugin;
                bool adopted = false;
                int r;

                /* Units left running by a previous sdloopd are adopted rather than started anew. */
                if (p->host->backend->reattach) {
                        r = host_backend_reattach(p);
                        if (r < 0)
                                log_warning_errno(r, "Plugin %s: cannot adopt a running instance, starting anew: %m",
                                                  instance_name(i));
                        else if (r > 0) {
                                log_info("Plugin %s: adopted the running instance.", instance_name(i));
                                adopted = true;
                        }
                }

                r = adopted ? instance_connect(i, &error) : instance_start(i, &error);
                if (r < 0)
                        log_error("Plugin %s: failed to start: %s", instance_name(i), error.message ?: strerror(-r));
        }

        /* The feeds once their plugins run (a plugin that failed to start only delays a feed's set-up, which
         * is tried again every round). */
        (void) daemon_feeds_create_missing(d);
        daemon_feeds_update(d);

        d->ready = true;
        (void) sd_notify(false, "READY=1");
        daemon_update_status(d);
}

static void shutdown_all(Daemon *d) {
        bool leave_running = !streq(d->host->backend->name, "exec");

        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down…");
        /* Feeds first: they close their objects on the plugins. */
        daemon_feeds_free_all(d);
        if (leave_running)
                /* Transient units outlive us and are adopted by the next sdloopd. */
                log_info("Leaving the plugin units running for the next start.");
        else
                for (Instance *i = d->instances; i; i = i->next)
                        (void) instance_stop(i);
        (void) sd_event_exit(d->event, EXIT_SUCCESS);
}

static void request_run(Daemon *d, Request *req) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Instance *i = NULL;
        int r = 0;

        if (req->name) {
                /* Looked up now: a reload may have removed it since the call came in. */
                i = daemon_find_instance(d, req->name);
                if (!i) {
                        r = sdloop_error_setf(&error, SDLOOP_ERROR_NOT_FOUND, "no plugin named \"%s\"", req->name);
                        request_reply(req, r, &error);
                        return;
                }
        }

        switch (req->type) {
        case REQUEST_START:
                log_info("Starting plugin %s on request.", req->name);
                r = instance_start(i, &error);
                daemon_feeds_update(d);
                break;
        case REQUEST_STOP:
                log_info("Stopping plugin %s on request.", req->name);
                /* Its feeds first: stopped for good, the plugin would leave their rounds waiting in vain. */
                daemon_feeds_stop_using(d, i);
                r = instance_stop(i);
                break;
        case REQUEST_RESTART:
                log_info("Restarting plugin %s on request.", req->name);
                r = instance_restart(i, &error);
                daemon_feeds_update(d);
                break;
        case REQUEST_RELOAD:
                r = reload(d, &error);
                break;
        case REQUEST_START_ALL:
                start_all(d);
                break;
        case REQUEST_SHUTDOWN:
                shutdown_all(d);
                break;
        }
        if (r < 0 && req->message && req->type != REQUEST_RELOAD)
                log_warning("%s(%s) failed: %s", sd_bus_message_get_member(req->message), strempty(req->name),
                            error.message ?: strerror(-r));
        request_reply(req, r, &error);
}

static void work_requests(Host *h, void *userdata) {
        Daemon *d = userdata;

        /* Inside a call that waits (work_depth > 1), another request or a feed's round (which requests may
         * have to stop): later, from the top. A timer, not the work queue, so that a long wait does not
         * spin. */
        if (d->processing || h->work_depth > 1 || daemon_feeds_busy(d)) {
                if (!d->requests_retry &&
                    sd_event_add_time_relative(d->event, &d->requests_retry, CLOCK_MONOTONIC, 10 * USEC_PER_MSEC, 0,
                                               on_requests_retry, d) < 0)
                        log_warning("Failed to schedule pending requests; they run with the next event.");
                return;
        }

        d->processing = true;
        while (d->requests_head) {
                Request *req = d->requests_head;

                d->requests_head = req->next;
                if (!d->requests_head)
                        d->requests_tail = NULL;
                request_run(d, req);
                request_free(req);
        }
        d->processing = false;
}

static int request_queue(Daemon *d, RequestType type, const char *name, sd_bus_message *m) {
        Request *req;
        int r;

        req = new0(Request, 1);
        if (!req)
                return -ENOMEM;
        req->type = type;
        if (name) {
                req->name = strdup(name);
                if (!req->name) {
                        free(req);
                        return -ENOMEM;
                }
        }
        req->message = sd_bus_message_ref(m);

        r = host_queue_work(d->host, work_requests, d);
        if (r < 0) {
                request_free(req);
                return r;
        }
        if (d->requests_tail)
                d->requests_tail->next = req;
        else
                d->requests_head = req;
        d->requests_tail = req;
        return 0;
}

int manager_queue_start_all(Daemon *d) {
        return request_queue(d, REQUEST_START_ALL, NULL, NULL);
}

int manager_queue_shutdown(Daemon *d) {
        if (d->shutting_down)
                return 0;
        d->shutting_down = true;
        return request_queue(d, REQUEST_SHUTDOWN, NULL, NULL);
}

int manager_queue_reload(Daemon *d) {
        return request_queue(d, REQUEST_RELOAD, NULL, NULL);
}

void manager_drop_requests(Daemon *d) {
        d->requests_retry = sd_event_source_disable_unref(d->requests_retry);
        host_cancel_work(d->host, d);
        while (d->requests_head) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                Request *req = d->requests_head;

                d->requests_head = req->next;
                (void) sd_bus_error_set(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "sdloopd is shutting down");
                request_reply(req, -EHOSTDOWN, &error);
                request_free(req);
        }
        d->requests_tail = NULL;
}

/* --- org.sdloop1.Manager ------------------------------------------------------------------------------- */

static int method_queue(sd_bus_message *m, Daemon *d, RequestType type, bool with_name, sd_bus_error *error) {
        const char *name = NULL;
        int r;

        if (with_name) {
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                if (!daemon_find_instance(d, name))
                        return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "no plugin named \"%s\"", name);
        }
        if (d->shutting_down)
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "sdloopd is shutting down");

        r = request_queue(d, type, name, m);
        if (r < 0)
                return r;
        /* Answered when the request has run. */
        return 1;
}

static int method_start_plugin(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_queue(m, userdata, REQUEST_START, true, error);
}

static int method_stop_plugin(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_queue(m, userdata, REQUEST_STOP, true, error);
}

static int method_restart_plugin(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_queue(m, userdata, REQUEST_RESTART, true, error);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_queue(m, userdata, REQUEST_RELOAD, false, error);
}

static int method_list_plugins(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Daemon *d = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssssuuss)");
        if (r < 0)
                return r;
        for (Instance *i = d->instances; i; i = i->next) {
                HostPlugin *p = i->plugin;

                r = sd_bus_message_append(reply, "(ssssuuss)", p->settings.name, p->settings.kind, strempty(p->unit),
                                          host_plugin_state_to_string(p->state), (uint32_t) p->n_restarts,
                                          p->main_pid, i->path, strempty(p->last_error));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_feeds(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Daemon *d = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssuytts)");
        if (r < 0)
                return r;
        for (DaemonFeed *f = d->feeds; f; f = f->next) {
                HostFeedStatus st;

                /* From memory, not from the plugins: a method handler must not call into them. The latest
                 * answer is the ledger's, as read after the feed's latest transmission or at its set-up. */
                host_feed_get_status(f->feed, &st);
                r = sd_bus_message_append(reply, "(ssuytts)", st.name, strempty(st.latest_answer), st.epoch,
                                          st.round, (uint64_t) MAX(st.latest_timestamp_usec, (int64_t) 0),
                                          st.reports_transmitted, host_feed_state_to_string(st.state));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", SDLOOP_VERSION);
}

static int property_get_backend(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;

        return sd_bus_message_append(reply, "s", d->backend_name);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListPlugins", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssssuuss)", plugins),
                                method_list_plugins, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartPlugin", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_start_plugin,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopPlugin", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_stop_plugin,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestartPlugin", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_restart_plugin,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListFeeds", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuytts)", feeds), method_list_feeds,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("PluginStateChanged", SD_BUS_ARGS("s", name, "s", state, "s", last_error), 0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Backend", "s", property_get_backend, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int manager_export(Daemon *d) {
        return sd_bus_add_object_vtable(d->bus, &d->manager_slot, MANAGER_PATH, MANAGER_INTERFACE, manager_vtable, d);
}

void manager_emit_state_changed(Daemon *d, Instance *i) {
        int r;

        if (!d->bus || !d->manager_slot)
                return;
        r = sd_bus_emit_signal(d->bus, MANAGER_PATH, MANAGER_INTERFACE, "PluginStateChanged", "sss", instance_name(i),
                               host_plugin_state_to_string(i->plugin->state), strempty(i->plugin->last_error));
        if (r < 0)
                log_debug_errno(r, "Failed to emit PluginStateChanged: %m");
}
