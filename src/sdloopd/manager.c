/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Manager at /org/sdloop1, and the requests that call into plugins.
 *
 * StartPlugin, StopPlugin, RestartPlugin and Reload, the start of every plugin when sdloopd comes up and the
 * shutdown are requests: asynchronous state machines over the event loop, never waiting inside it. A method
 * handler keeps its message (as logind and hostnamed do for their polkit-checked methods) and queues a
 * request; the request drives the host's asynchronous operations (instance.c) and sends the reply from
 * their completion — or org.sdloop1.Error.Timeout at its deadline, the plugin's call timeout from when the
 * call came in; what it started then goes on, and the reply is not sent again.
 *
 * Which request may run is explicit state, the list of requests in arrival order:
 *
 *  - one on a plugin (Start, Stop, Restart) runs once no earlier request names the same plugin and none is
 *    on all plugins: requests on different plugins run side by side, so a plugin that does not answer holds
 *    up only the requests that are about it;
 *  - one on all plugins (Reload, the start-up, the shutdown) runs once every earlier request is done, and
 *    holds up every later one: a Reload never frees a plugin that a request still uses;
 *  - those that stop or free feeds (Stop, Reload, the shutdown) start only between the feeds' rounds
 *    (feeds.c), retried on a short timer while a round is in progress.
 *
 * The list is worked from a deferred event source, never from inside the host's callbacks: those only
 * record an outcome. Who may call is the bus policy's business (org.sdloop1.conf): every method is
 * SD_BUS_VTABLE_UNPRIVILEGED. */

#include <systemd/sd-daemon.h>

#include "config.h"
#include "host-backend.h"
#include "macro.h"
#include "metrics.h"
#include "sdloopd.h"

/* While a feed's round is in progress, how often a request that stops feeds looks again. */

typedef enum RequestType {
        REQUEST_START,
        REQUEST_STOP,
        REQUEST_RESTART,
        REQUEST_RELOAD,
        REQUEST_START_ALL,
        REQUEST_SHUTDOWN,
} RequestType;

struct Request {
        Daemon *daemon;
        RequestType type;
        char *name;
        sd_bus_message *message; /* NULL: internal, or answered already */
        uint64_t timeout;        /* µs from arrival; 0: none */
        sd_event_source *timer;

        bool running;
        bool applied;            /* Reload: the new configuration was taken */
        unsigned n_pending;      /* instance operations not done yet */
        int r;                   /* the first failure */
        sd_bus_error error;

        unsigned added, removed, changed, feeds_removed, feeds_changed;

        Request *prev, *next;
};

static bool request_is_global(const Request *req) {
        return req->type == REQUEST_RELOAD || req->type == REQUEST_START_ALL || req->type == REQUEST_SHUTDOWN;
}

static const char *request_what(const Request *req) {
        static const char * const table[] = {
                [REQUEST_START] = "StartPlugin",
                [REQUEST_STOP] = "StopPlugin",
                [REQUEST_RESTART] = "RestartPlugin",
                [REQUEST_RELOAD] = "Reload",
                [REQUEST_START_ALL] = "the start of the plugins",
                [REQUEST_SHUTDOWN] = "the shutdown",
        };

        return table[req->type];
}

static void requests_kick(Daemon *d);

static void request_unlink(Request *req) {
        Daemon *d = req->daemon;

        if (req->prev)
                req->prev->next = req->next;
        else if (d->requests_head == req)
                d->requests_head = req->next;
        if (req->next)
                req->next->prev = req->prev;
        else if (d->requests_tail == req)
                d->requests_tail = req->prev;
        req->prev = req->next = NULL;
}

static void request_free(Request *req) {
        if (!req)
                return;
        request_unlink(req);
        sd_event_source_disable_unref(req->timer);
        sd_bus_message_unref(req->message);
        sd_bus_error_free(&req->error);
        free(req->name);
        free(req);
}

static void request_reply(Request *req, int r, const sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int k;

        if (!req->message)
                return;
        if (r < 0) {
                if (!sd_bus_error_is_set(error)) {
                        (void) sdloop_error_ensure(&e, r, NULL);
                        error = &e;
                }
                k = sd_bus_reply_method_error(req->message, error);
        } else
                k = sd_bus_reply_method_return(req->message, NULL);
        if (k < 0)
                log_debug_errno(k, "Failed to reply to %s(): %m", request_what(req));
        req->message = sd_bus_message_unref(req->message);
}

/* The first failure is the request's. */
static void request_fail(Request *req, int r, const sd_bus_error *error) {
        if (req->r < 0)
                return;
        req->r = r;
        if (sd_bus_error_is_set(error))
                (void) sd_bus_error_copy(&req->error, error);
        else
                (void) sdloop_error_ensure(&req->error, r, request_what(req));
}

static void format_usec(char *buf, size_t l, uint64_t usec) {
        if (usec % USEC_PER_SEC == 0)
                snprintf(buf, l, "%" PRIu64 " s", usec / USEC_PER_SEC);
        else
                snprintf(buf, l, "%" PRIu64 " ms", usec / USEC_PER_MSEC);
}

/* An instance's operation ended: only noted here, the request moves on from the list. */
static void on_instance_done(Instance *i, int r, const sd_bus_error *error, void *userdata) {
        Request *req = userdata;

        assert(req->n_pending > 0);
        req->n_pending--;
        if (r < 0) {
                if (req->type == REQUEST_START_ALL || req->type == REQUEST_RELOAD)
                        log_error("Plugin %s: failed to start: %s", instance_name(i),
                                  error && error->message ? error->message : strerror(-r));
                else
                        request_fail(req, r, error);
        }
        requests_kick(req->daemon);
}

/* An instance operation begun (@r: what beginning it returned) is one more to wait for. */
static void request_track(Request *req, Instance *i, int r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        req->n_pending++;
        if (r >= 0)
                return;
        (void) sdloop_error_ensure(&error, r, instance_name(i));
        on_instance_done(i, r, &error, req);
}

/* --- running requests ------------------------------------------------------------------------------------ */

static void reload_begin(Request *req) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *msg = NULL;
        Daemon *d = req->daemon;
        bool metrics_changed;
        int r;

        log_info("Reloading configuration from %s.", d->config_path ?: d->config->path);
        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration…");

        r = daemon_config_load(d->config_path, d->scope, &c, &msg);
        if (r < 0) {
                log_error("Refusing the new configuration, keeping the running one: %s", strempty(msg));
                if (r == -ENOMEM && !msg)
                        request_fail(req, r, NULL);
                else {
                        r = sdloop_error_setf(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "%s", strempty(msg));
                        request_fail(req, r, &error);
                }
                return;
        }
        daemon_config_resolve(c, d->backend_name);
        req->applied = true;

        if (!streq_ptr(c->state_directory, d->config->state_directory))
                log_warning("state_directory changed to %s; keys stay in %s until sdloopd restarts.",
                            c->state_directory, d->config->state_directory);
        if (!streq_ptr(c->backend, d->config->backend))
                log_warning("backend changed to \"%s\"; this takes effect when sdloopd restarts.", strempty(c->backend));

        /* Feeds before their plugins: the feeds that go or change are freed, those whose plugins change are
         * stopped meanwhile. */
        daemon_feeds_reload_prepare(d, c, &req->feeds_removed, &req->feeds_changed);

        /* Removed plugins first: a renamed plugin may want the socket path of the old one. */
        for (Instance *i = d->instances, *next; i; i = next) {
                next = i->next;
                if (daemon_config_find_plugin(c, instance_name(i)))
                        continue;
                log_info("Plugin %s was removed from the configuration; stopping it.", instance_name(i));
                instance_free(i, true);
                req->removed++;
        }

        for (size_t k = 0; k < c->n_plugins; k++) {
                const DaemonPluginConfig *pc = c->plugins + k, *old;
                Instance *i = daemon_find_instance(d, pc->settings.name);
                bool start = true;

                if (!i) {
                        log_info("Plugin %s was added to the configuration; starting it.", pc->settings.name);
                        r = instance_new(d, pc, &i);
                        if (r < 0) {
                                log_error_errno(r, "Failed to set up plugin %s: %m", pc->settings.name);
                                request_fail(req, r, NULL);
                                continue;
                        }
                        req->added++;
                } else {
                        old = daemon_config_find_plugin(d->config, pc->settings.name);
                        if (old && daemon_plugin_config_equal(old, pc))
                                continue;
                        log_info("Plugin %s changed; restarting it with the new settings.", pc->settings.name);
                        req->changed++;
                        r = instance_reconfigure(i, pc, &start);
                        if (r < 0) {
                                log_error_errno(r, "Plugin %s: cannot take the new settings: %m", pc->settings.name);
                                continue;
                        }
                }
                /* The configuration is taken all the same: a plugin that does not start says why. */
                if (start)
                        request_track(req, i, instance_start_async(i, on_instance_done, req));
        }

        metrics_changed = !streq_ptr(d->config->metrics_listen, c->metrics_listen);
        daemon_config_free(d->config);
        d->config = TAKE_PTR(c);
        if (metrics_changed) {
                /* Another address (or none): the endpoint moves; a bad one is said in the journal. */
                metrics_http_stop(d);
                (void) metrics_http_start(d);
        }
}

static void reload_end(Request *req) {
        Daemon *d = req->daemon;
        unsigned feeds_added;

        if (req->applied) {
                /* The feeds, on the plugins as they are now. */
                feeds_added = daemon_feeds_create_missing(d);
                feeds_added = feeds_added > req->feeds_changed ? feeds_added - req->feeds_changed : 0;
                daemon_feeds_update(d);
                log_info("Configuration reloaded: plugins %u added, %u removed, %u changed; feeds %u added, %u "
                         "removed, %u changed.", req->added, req->removed, req->changed, feeds_added,
                         req->feeds_removed, req->feeds_changed);
        }
        (void) sd_notify(false, "READY=1");
        daemon_update_status(d);
}

static void start_all_begin(Request *req) {
        Daemon *d = req->daemon;

        for (Instance *i = d->instances; i; i = i->next)
                request_track(req, i, instance_adopt_or_start_async(i, on_instance_done, req));
}

static void daemon_ready(Daemon *d) {
        if (d->ready)
                return;
        d->ready = true;
        (void) sd_notify(false, "READY=1");
        daemon_update_status(d);
}

static void start_all_end(Request *req) {
        Daemon *d = req->daemon;

        /* The feeds once their plugins run (a plugin that failed to start only delays a feed's set-up, which
         * is tried again every round). */
        (void) daemon_feeds_create_missing(d);
        daemon_feeds_update(d);
        daemon_ready(d);
}

static void shutdown_begin(Request *req) {
        Daemon *d = req->daemon;
        bool leave_running = !streq(d->host->backend->name, "exec");

        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down…");
        /* Feeds first: they close their objects on the plugins. */
        daemon_feeds_free_all(d);
        if (leave_running)
                /* Transient units outlive us and are adopted by the next sdloopd. */
                log_info("Leaving the plugin units running for the next start.");
        else
                for (Instance *i = d->instances; i; i = i->next)
                        request_track(req, i, instance_stop_async(i, on_instance_done, req));
}

static void request_begin(Request *req) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Daemon *d = req->daemon;
        Instance *i = NULL;
        int r;

        req->running = true;
        if (req->name) {
                /* Looked up now: a reload may have removed it since the call came in. */
                i = daemon_find_instance(d, req->name);
                if (!i) {
                        r = sdloop_error_setf(&error, SDLOOP_ERROR_NOT_FOUND, "no plugin named \"%s\"", req->name);
                        request_fail(req, r, &error);
                        return;
                }
        }

        switch (req->type) {
        case REQUEST_START:
                log_info("Starting plugin %s on request.", req->name);
                request_track(req, i, instance_start_async(i, on_instance_done, req));
                break;
        case REQUEST_STOP:
                log_info("Stopping plugin %s on request.", req->name);
                /* Its feeds first: stopped for good, the plugin would leave their rounds waiting in vain. */
                daemon_feeds_stop_using(d, i);
                request_track(req, i, instance_stop_async(i, on_instance_done, req));
                break;
        case REQUEST_RESTART:
                log_info("Restarting plugin %s on request.", req->name);
                request_track(req, i, instance_restart_async(i, on_instance_done, req));
                break;
        case REQUEST_RELOAD:
                reload_begin(req);
                break;
        case REQUEST_START_ALL:
                start_all_begin(req);
                break;
        case REQUEST_SHUTDOWN:
                shutdown_begin(req);
                break;
        }
}

static void request_end(Request *req) {
        switch (req->type) {
        case REQUEST_START:
        case REQUEST_RESTART:
                daemon_feeds_update(req->daemon);
                break;
        case REQUEST_RELOAD:
                reload_end(req);
                break;
        case REQUEST_START_ALL:
                start_all_end(req);
                break;
        case REQUEST_STOP:
                break;
        case REQUEST_SHUTDOWN:
                /* Every process stopped (exec) or left for the next sdloopd (systemd). */
                (void) sd_event_exit(req->daemon->event, EXIT_SUCCESS);
                break;
        }
        if (req->r < 0 && req->message && req->type != REQUEST_RELOAD)
                log_warning("%s(%s) failed: %s", request_what(req), strempty(req->name),
                            req->error.message ?: strerror(-req->r));
        request_reply(req, req->r, &req->error);
        request_free(req);
}

static int on_request_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Request *req = userdata;
        Daemon *d = req->daemon;
        Instance *i = req->name ? daemon_find_instance(d, req->name) : NULL;
        char t[32];
        int r;

        format_usec(t, sizeof(t), req->timeout);
        if (!req->running)
                r = sdloop_error_setf(&error, SDLOOP_ERROR_TIMEOUT, "%s%s%s%s: not begun within %s: earlier "
                                      "requests are still in progress", request_what(req), req->name ? "(" : "",
                                      strempty(req->name), req->name ? ")" : "", t);
        else if (i)
                r = sdloop_error_setf(&error, SDLOOP_ERROR_TIMEOUT, "plugin %s is still %s after %s%s%s",
                                      instance_name(i), host_plugin_state_to_string(i->plugin->state), t,
                                      i->plugin->last_error ? ": " : "", strempty(i->plugin->last_error));
        else
                r = sdloop_error_setf(&error, SDLOOP_ERROR_TIMEOUT, "%s: plugins still starting after %s",
                                      request_what(req), t);
        log_warning("%s", error.message);
        request_reply(req, r, &error);

        if (req->type == REQUEST_START_ALL)
                /* Not to keep systemd waiting: the stragglers come up (or fail) on their own. */
                daemon_ready(d);
        if (!req->running) {
                request_free(req);
                requests_kick(d);
        }
        /* Otherwise what it started goes on, and it keeps its place until that is done. */
        return 0;
}

/* --- the list -------------------------------------------------------------------------------------------- */

static bool request_may_begin(Request *req) {
        if (request_is_global(req))
                return req == req->daemon->requests_head;
        for (Request *q = req->daemon->requests_head; q && q != req; q = q->next)
                if (request_is_global(q) || streq_ptr(q->name, req->name))
                        return false;
        return true;
}

/* One pass: finish the first request that is done, or begin the first one that may begin. False when
 * there is nothing to do. */
static bool requests_step(Daemon *d) {
        for (Request *req = d->requests_head; req; req = req->next) {
                if (req->running) {
                        if (req->n_pending == 0) {
                                request_end(req);
                                return true;
                        }
                } else if (request_may_begin(req)) {
                        /* A feed stopped meanwhile cancels its round's calls: no need to wait for it. */
                        request_begin(req);
                        return true;
                }
                /* Nothing behind one on all plugins moves before it is done. */
                if (request_is_global(req))
                        break;
        }
        return false;
}

static int on_requests_kick(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;

        while (requests_step(d))
                ;
        return 0;
}

static void requests_kick(Daemon *d) {
        int r;

        if (!d->requests_kick) {
                r = sd_event_add_defer(d->event, &d->requests_kick, on_requests_kick, d);
                if (r < 0) {
                        d->requests_kick = NULL;
                        log_error_errno(r, "Failed to schedule the pending requests: %m");
                        return;
                }
                (void) sd_event_source_set_description(d->requests_kick, "sdloopd-requests");
        }
        r = sd_event_source_set_enabled(d->requests_kick, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to schedule the pending requests: %m");
}

static uint64_t requests_timeout(Daemon *d, const char *name) {
        uint64_t t = 0;

        for (Instance *i = d->instances; i; i = i->next)
                if (!name || streq(instance_name(i), name))
                        t = MAX(t, i->plugin->settings.call_timeout_usec);
        return t ?: 10 * USEC_PER_SEC;
}

static int request_queue(Daemon *d, RequestType type, const char *name, sd_bus_message *m) {
        Request *req;
        int r;

        req = new0(Request, 1);
        if (!req)
                return -ENOMEM;
        req->daemon = d;
        req->type = type;
        req->error = SD_BUS_ERROR_NULL;
        if (name) {
                req->name = strdup(name);
                if (!req->name) {
                        free(req);
                        return -ENOMEM;
                }
        }
        req->message = sd_bus_message_ref(m);

        if (type != REQUEST_SHUTDOWN) {
                req->timeout = requests_timeout(d, name);
                r = sd_event_add_time_relative(d->event, &req->timer, CLOCK_MONOTONIC, req->timeout, USEC_PER_MSEC,
                                               on_request_timeout, req);
                if (r < 0) {
                        req->timer = NULL;
                        request_free(req);
                        return r;
                }
                (void) sd_event_source_set_description(req->timer, "sdloopd-request-deadline");
        }

        req->prev = d->requests_tail;
        if (d->requests_tail)
                d->requests_tail->next = req;
        else
                d->requests_head = req;
        d->requests_tail = req;
        requests_kick(d);
        return 0;
}

int manager_queue_start_all(Daemon *d) {
        return request_queue(d, REQUEST_START_ALL, NULL, NULL);
}

int manager_queue_shutdown(Daemon *d) {
        if (d->shutting_down)
                return 0;
        d->shutting_down = true;
        /* Nothing pending is worth waiting for now. */
        manager_drop_requests(d);
        return request_queue(d, REQUEST_SHUTDOWN, NULL, NULL);
}

int manager_queue_reload(Daemon *d) {
        return request_queue(d, REQUEST_RELOAD, NULL, NULL);
}

void manager_drop_requests(Daemon *d) {
        /* Their operations are forgotten: none of them tells a request that is gone. */
        for (Instance *i = d->instances; i; i = i->next)
                instance_cancel_op(i);
        while (d->requests_head) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                Request *req = d->requests_head;
                int r;

                r = sdloop_error_setf(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "sdloopd is shutting down");
                request_reply(req, r, &error);
                request_free(req);
        }
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
                FeedStatus st;

                /* From memory, not from the plugins: a method handler must not call into them. The latest
                 * answer is the ledger's, as read after the feed's latest transmission or at its set-up. */
                feed_get_status(f->feed, &st);
                r = sd_bus_message_append(reply, "(ssuytts)", st.name, strempty(st.latest_answer), st.epoch,
                                          st.round, (uint64_t) MAX(st.latest_timestamp_usec, (int64_t) 0),
                                          st.reports_transmitted, feed_state_to_string(st.state));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_feed_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        json_object *j = NULL;
        const char *name, *text;
        DaemonFeed *f;
        FeedStatus st;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        f = daemon_find_feed(d, name);
        if (!f)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "no feed named %s", name);

        /* From memory, as ListFeeds: the counts were read from the ledger after the latest transmission. */
        feed_get_status(f->feed, &st);
        r = feed_status_to_json(&st, &j);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        r = text ? sd_bus_reply_method_return(m, "s", text) : -ENOMEM;
        json_object_put(j);
        return r;
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
        SD_BUS_METHOD_WITH_ARGS("GetFeedStatus", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", status),
                                method_get_feed_status, SD_BUS_VTABLE_UNPRIVILEGED),
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
