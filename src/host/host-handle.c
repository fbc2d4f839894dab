/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"

static int handle_make_stable_path(HostHandle *h) {
        _cleanup_free_ char *prefix = NULL, *encoded = NULL;
        int r;

        /* Plugin names may carry '-', which object paths cannot: escape them as systemd does for units. */
        r = sd_bus_path_encode("/org/sdloop1/plugin", h->plugin->settings.name, &encoded);
        if (r < 0)
                return r;
        if (asprintf(&h->stable_path, "%s/%s/%" PRIu64, encoded, h->ops->kind, h->plugin->host->next_handle_id++) < 0)
                return -ENOMEM;
        return 0;
}

static void handle_unlink(HostHandle *h) {
        HostPlugin *p = h->plugin;

        if (h->prev)
                h->prev->next = h->next;
        else if (p->handles_head == h)
                p->handles_head = h->next;
        if (h->next)
                h->next->prev = h->prev;
        else if (p->handles_tail == h)
                p->handles_tail = h->prev;
        h->prev = h->next = NULL;
}

struct HostSignalMatch {
        HostHandle *handle; /* NULL once the handle went away */
        char *interface, *member;
        host_signal_fn handler;
        void *userdata;

        sd_bus_slot *slot;       /* installed on the connection of… */
        uint64_t generation;     /* …this plugin generation (0: never installed) */
        sd_event_source *notify; /* tell the owner of a re-installation, from the loop */

        HostSignalMatch *prev, *next;
};

static void match_unlink(HostSignalMatch *m) {
        HostHandle *h = m->handle;

        if (!h)
                return;
        if (m->prev)
                m->prev->next = m->next;
        else if (h->matches == m)
                h->matches = m->next;
        if (m->next)
                m->next->prev = m->prev;
        m->prev = m->next = NULL;
        m->handle = NULL;
}

HostSignalMatch *host_signal_match_free(HostSignalMatch *m) {
        if (!m)
                return NULL;
        match_unlink(m);
        m->slot = sd_bus_slot_unref(m->slot);
        m->notify = sd_event_source_disable_unref(m->notify);
        free(m->interface);
        free(m->member);
        return mfree(m);
}

static int on_match_signal(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        HostSignalMatch *m = userdata;

        if (m->handle)
                m->handler(m->handle, msg, m->userdata);
        return 0;
}

static int on_match_reinstalled(sd_event_source *s, void *userdata) {
        HostSignalMatch *m = userdata;

        m->notify = sd_event_source_disable_unref(m->notify);
        if (m->handle)
                m->handler(m->handle, NULL, m->userdata);
        return 0;
}

/* Install @m on the object as it exists now, unless it is there already. */
static int match_install(HostSignalMatch *m) {
        HostHandle *h = m->handle;
        HostPlugin *p = h->plugin;
        bool again;
        int r;

        if (!host_handle_is_live(h) || (m->slot && m->generation == h->generation))
                return 0;

        again = m->generation != 0;
        m->slot = sd_bus_slot_unref(m->slot);
        /* Peer to peer there is no bus daemon to tell and no sender to match on: the match is local to the
         * connection, installed without a round trip. */
        r = sd_bus_match_signal(sdloop_peer_get_bus(p->peer), &m->slot, NULL, h->remote_path, m->interface,
                                m->member, on_match_signal, m);
        if (r < 0)
                return log_warning_errno(r, "%s: cannot watch %s.%s: %m", h->stable_path, m->interface, m->member);
        m->generation = h->generation;

        if (again && !m->notify) {
                r = sd_event_add_defer(p->host->event, &m->notify, on_match_reinstalled, m);
                if (r < 0) {
                        m->notify = NULL;
                        return log_warning_errno(r, "%s: cannot tell of the re-installed match: %m", h->stable_path);
                }
                (void) sd_event_source_set_description(m->notify, "host-signal-match");
        }
        return 0;
}

void host_handle_refresh_matches(HostHandle *h) {
        for (HostSignalMatch *m = h->matches; m; m = m->next)
                (void) match_install(m);
}

int host_handle_match_signal(HostHandle *h, const char *interface, const char *member, host_signal_fn handler,
                             void *userdata, HostSignalMatch **ret) {
        HostSignalMatch *m;
        int r;

        assert(h);
        assert(handler);
        assert(ret);

        if (!interface || !member)
                return -EINVAL;
        m = new0(HostSignalMatch, 1);
        if (!m)
                return -ENOMEM;
        m->interface = strdup(interface);
        m->member = strdup(member);
        if (!m->interface || !m->member) {
                host_signal_match_free(m);
                return -ENOMEM;
        }
        m->handler = handler;
        m->userdata = userdata;

        m->handle = h;
        m->next = h->matches;
        if (h->matches)
                h->matches->prev = m;
        h->matches = m;

        r = match_install(m);
        if (r < 0) {
                host_signal_match_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void handle_free(HostHandle *h) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HostPlugin *p;
        Host *host;
        int r;

        if (!h)
                return;
        p = h->plugin;
        host = p->host;

        if (h->announced && host->on_handle_removed)
                host->on_handle_removed(h, host->userdata);
        h->announced = false;
        if (p->creating == h) {
                p->creating = NULL;
                p->step = HOST_PLUGIN_STEP_IDLE;
                host_plugin_kick(p);
        }
        h->create_slot = sd_bus_slot_unref(h->create_slot);
        h->new_timer = sd_event_source_disable_unref(h->new_timer);
        handle_unlink(h);
        host_handle_forget_dependency(h);

        r = sdloop_error_setf(&error, SDLOOP_ERROR_NOT_FOUND, "%s was closed", h->stable_path);
        host_handle_fail_calls(h, r, &error);

        for (size_t i = 0; i < h->n_watchers; i++)
                (void) sdloop_proxy_set_target(h->watchers[i], NULL, NULL);
        free(h->watchers);
        /* Their owners free them; they hear nothing more. */
        while (h->matches) {
                HostSignalMatch *m = h->matches;

                m->slot = sd_bus_slot_unref(m->slot);
                m->notify = sd_event_source_disable_unref(m->notify);
                match_unlink(m);
        }
        if (h->ops->free)
                h->ops->free(h->data);
        free(h->stable_path);
        free(h->remote_path);
        free(h);
}

bool host_handle_is_live(HostHandle *h) {
        return h && h->remote_path && h->generation == h->plugin->generation &&
                sdloop_peer_is_connected(h->plugin->peer);
}

void host_handle_new_finish(HostHandle *h, int r, const sd_bus_error *error) {
        host_handle_new_fn done = h->new_done;
        void *userdata = h->new_userdata;

        h->new_done = NULL;
        h->new_timer = sd_event_source_disable_unref(h->new_timer);
        if (r >= 0) {
                h->created_once = true;
                host_handle_flush_calls(h);
                if (done)
                        done(h, 0, NULL, userdata);
                return;
        }

        handle_free(h);
        if (done)
                done(NULL, r, error, userdata);
}

static int on_new_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HostHandle *h = userdata;
        HostPlugin *p = h->plugin;
        int r;

        r = host_plugin_unavailable(p, &error, p->last_error && p->state != HOST_PLUGIN_RUNNING ? p->last_error :
                                    "no answer in time");
        log_debug("Plugin %s: could not create %s in time: %s", p->settings.name, h->ops->kind, error.message);
        host_handle_new_finish(h, r, &error);
        return 0;
}

int host_handle_new_async(HostPlugin *p, HostHandle *parent, const HostHandleOps *ops, void *data,
                          host_handle_new_fn done, void *userdata, HostHandle **ret) {
        HostHandle *h;
        int r;

        assert(p);
        assert(ops && ops->create && ops->kind);

        if (parent && parent->plugin != p) {
                if (ops->free)
                        ops->free(data);
                return -EINVAL;
        }

        h = new0(HostHandle, 1);
        if (!h) {
                if (ops->free)
                        ops->free(data);
                return -ENOMEM;
        }
        h->plugin = p;
        h->parent = parent;
        h->ops = ops;
        h->data = data;

        r = handle_make_stable_path(h);
        if (r >= 0)
                r = sd_event_add_time(p->host->event, &h->new_timer, CLOCK_MONOTONIC,
                                      host_now() + p->settings.call_timeout_usec, USEC_PER_MSEC, on_new_deadline, h);
        if (r < 0) {
                h->new_timer = NULL;
                handle_free(h);
                return r;
        }
        (void) sd_event_source_set_description(h->new_timer, "host-handle-new");
        h->new_done = done;
        h->new_userdata = userdata;

        /* Append: creation order is replay order, parents before children. */
        h->prev = p->handles_tail;
        if (p->handles_tail)
                p->handles_tail->next = h;
        else
                p->handles_head = h;
        p->handles_tail = h;
        h->announced = true;
        if (p->host->on_handle_added)
                p->host->on_handle_added(h, p->host->userdata);

        /* The state machine creates every handle that does not exist on the current process, this one
         * included. */
        host_plugin_kick(p);
        if (ret)
                *ret = h;
        return 0;
}

typedef struct SyncNew {
        bool done;
        int r;
        HostHandle *handle;
        sd_bus_error error;
} SyncNew;

static void on_sync_new(HostHandle *h, int r, const sd_bus_error *error, void *userdata) {
        SyncNew *w = userdata;

        w->done = true;
        w->r = r;
        w->handle = h;
        if (r < 0)
                (void) sd_bus_error_copy(&w->error, error);
}

int host_handle_new(HostPlugin *p, HostHandle *parent, const HostHandleOps *ops, void *data, HostHandle **ret,
                    sd_bus_error *error) {
        SyncNew w = { .error = SD_BUS_ERROR_NULL };
        static const bool never = false;
        HostHandle *h;
        int r;

        if (host_in_dispatch(p->host)) {
                if (ops->free)
                        ops->free(data);
                return host_run_until(p->host, &never, "host_handle_new()", error);
        }

        r = host_handle_new_async(p, parent, ops, data, on_sync_new, &w, &h);
        if (r < 0)
                return r;
        r = host_run_until(p->host, &w.done, "host_handle_new()", error);
        if (r < 0) {
                /* Only when the loop ended: the handle is still ours to drop. */
                h->new_done = NULL;
                handle_free(h);
                return r;
        }
        if (w.r < 0)
                return host_error_take(error, &w.error, w.r);
        if (ret)
                *ret = w.handle;
        return 0;
}

void host_handle_created_reply(SdloopPeer *peer, int r, char **path, sd_bus_error *error, void *userdata) {
        host_handle_created(userdata, r, path ? *path : NULL, error);
}

void host_handle_created_reporting_plugin_reply(SdloopPeer *peer, int r, char **path, SdloopReportingPluginInfo *info,
                                                sd_bus_error *error, void *userdata) {
        host_handle_created(userdata, r, path ? *path : NULL, error);
}

static void on_close_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        /* Best effort: the object dies with its connection anyway. */
}

void host_handle_close(HostHandle *h) {
        HostPlugin *p;

        if (!h)
                return;
        p = h->plugin;

        /* Children first, as objects close on the plugin side. */
        for (HostHandle *c = p->handles_tail; c;) {
                HostHandle *prev = c->prev;

                if (c->parent == h)
                        host_handle_close(c);
                c = prev;
        }

        if (host_handle_is_live(h)) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                if (sdloop_peer_new_call(p->peer, h->remote_path, "org.sdloop1.Service", "Close", &m) >= 0)
                        (void) sdloop_peer_call_async(p->peer, m, NULL, on_close_reply, NULL, NULL);
        }
        handle_free(h);
}

void host_handle_lost(HostHandle *h) {
        HostPlugin *p = h->plugin;

        if (p->creating == h) {
                p->creating = NULL;
                p->step = HOST_PLUGIN_STEP_IDLE;
        }
        h->create_slot = sd_bus_slot_unref(h->create_slot);
        h->remote_path = mfree(h->remote_path);
        for (size_t i = 0; i < h->n_watchers; i++)
                (void) sdloop_proxy_set_target(h->watchers[i], NULL, NULL);
        /* Gone with the connection; installed again once the object is re-created. */
        for (HostSignalMatch *m = h->matches; m; m = m->next)
                m->slot = sd_bus_slot_unref(m->slot);
        host_handle_requeue_calls(h);
}

int host_handle_watch(HostHandle *h, SdloopProxy *proxy) {
        SdloopProxy **w;

        w = reallocarray(h->watchers, h->n_watchers + 1, sizeof(SdloopProxy *));
        if (!w)
                return -ENOMEM;
        h->watchers = w;
        h->watchers[h->n_watchers++] = proxy;

        if (host_handle_is_live(h))
                return sdloop_proxy_set_target(proxy, h->plugin->peer, h->remote_path);
        return sdloop_proxy_set_target(proxy, NULL, NULL);
}

void host_handle_unwatch(HostHandle *h, SdloopProxy *proxy) {
        for (size_t i = 0; i < h->n_watchers; i++)
                if (h->watchers[i] == proxy) {
                        memmove(h->watchers + i, h->watchers + i + 1, (h->n_watchers - i - 1) * sizeof(SdloopProxy *));
                        h->n_watchers--;
                        return;
                }
}
