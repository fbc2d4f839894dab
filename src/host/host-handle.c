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

static void handle_free(HostHandle *h) {
        Host *host;

        if (!h)
                return;
        host = h->plugin->host;
        /* Only handles that were announced (linked into their plugin) are withdrawn. */
        if (host->on_handle_removed && (h->prev || h->next || h->plugin->handles_head == h))
                host->on_handle_removed(h, host->userdata);
        handle_unlink(h);
        for (size_t i = 0; i < h->n_watchers; i++)
                (void) sdloop_proxy_set_target(h->watchers[i], NULL, NULL);
        free(h->watchers);
        if (h->ops->free)
                h->ops->free(h->data);
        free(h->stable_path);
        free(h->remote_path);
        free(h);
}

int host_handle_new(HostPlugin *p, HostHandle *parent, const HostHandleOps *ops, void *data, HostHandle **ret,
                    sd_bus_error *error) {
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
        if (r < 0) {
                handle_free(h);
                return r;
        }

        /* Append: creation order is replay order, parents before children. */
        h->prev = p->handles_tail;
        if (p->handles_tail)
                p->handles_tail->next = h;
        else
                p->handles_head = h;
        p->handles_tail = h;
        if (p->host->on_handle_added)
                p->host->on_handle_added(h, p->host->userdata);

        /* host_plugin_ensure() creates every handle that does not exist on the current process yet,
         * this one included. */
        r = host_plugin_ensure(p, host_now() + p->settings.call_timeout_usec, error);
        if (r < 0 || !h->remote_path) {
                handle_free(h);
                return r < 0 ? r : sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                                     "plugin %s: could not create %s", p->settings.name, ops->kind);
        }

        if (ret)
                *ret = h;
        return 0;
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

        if (h->remote_path && h->generation == p->generation && sdloop_peer_is_connected(p->peer)) {
                sd_bus_error error = SD_BUS_ERROR_NULL;

                /* Best effort: the object dies with its connection anyway. */
                (void) sdloop_peer_call_method(p->peer, h->remote_path, "org.sdloop1.Service", "Close", NULL,
                                               &error, NULL);
                sd_bus_error_free(&error);
        }
        handle_free(h);
}

void host_handle_lost(HostHandle *h) {
        h->remote_path = mfree(h->remote_path);
        for (size_t i = 0; i < h->n_watchers; i++)
                (void) sdloop_proxy_set_target(h->watchers[i], NULL, NULL);
}

int host_handle_recreate(HostHandle *h, sd_bus_error *error) {
        HostPlugin *p = h->plugin;
        _cleanup_free_ char *path = NULL;
        int r;

        if (h->parent && (!h->parent->remote_path || h->parent->generation != p->generation))
                return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s: parent %s does not exist",
                                         h->stable_path, h->parent->stable_path);

        r = h->ops->create(h, p->peer, h->parent ? h->parent->remote_path : NULL, &path, error);
        if (r < 0)
                return r;

        free(h->remote_path);
        h->remote_path = TAKE_PTR(path);
        h->generation = p->generation;
        log_debug("%s → %s (generation %" PRIu64 ").", h->stable_path, h->remote_path, h->generation);

        for (size_t i = 0; i < h->n_watchers; i++) {
                r = sdloop_proxy_set_target(h->watchers[i], p->peer, h->remote_path);
                if (r < 0)
                        log_warning_errno(r, "Failed to re-point proxy at %s: %m", h->remote_path);
        }
        return 0;
}

int host_handle_resolve(HostHandle *h, SdloopPeer **ret_peer, const char **ret_path, sd_bus_error *error) {
        HostPlugin *p = h->plugin;
        int r;

        if (!(h->remote_path && h->generation == p->generation && sdloop_peer_is_connected(p->peer))) {
                r = host_plugin_ensure(p, host_now() + p->settings.call_timeout_usec, error);
                if (r < 0)
                        return r;
                if (!h->remote_path)
                        return sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE, "%s is not available",
                                                 h->stable_path);
        }

        if (ret_peer)
                *ret_peer = p->peer;
        if (ret_path)
                *ret_path = h->remote_path;
        return 0;
}

int host_handle_call(HostHandle *h, host_call_fn fn, void *userdata, sd_bus_error *error) {
        uint64_t deadline = host_now() + h->plugin->settings.call_timeout_usec;
        int r;

        for (;;) {
                _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
                _cleanup_free_ char *path = NULL;
                SdloopPeer *p;
                const char *rp;

                sd_bus_error_free(error);
                r = host_handle_resolve(h, &p, &rp, error);
                if (r < 0)
                        return r;

                /* The call may pump the loop, and recovery may replace both meanwhile. */
                peer = sdloop_peer_ref(p);
                path = strdup(rp);
                if (!path)
                        return -ENOMEM;

                r = fn(peer, path, userdata, error);
                if (r >= 0 || !sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE))
                        return r;
                if (host_now() >= deadline)
                        return r;

                log_debug("%s: %s; retrying once the plugin is back.", h->stable_path, error->message);
                if (sdloop_peer_is_connected(peer)) {
                        /* Unavailable from further down (a proxied provider): give it a moment. */
                        (void) sd_event_run(h->plugin->host->event, 10 * USEC_PER_MSEC);
                        host_run_work(h->plugin->host);
                }
        }
}

int host_handle_watch(HostHandle *h, SdloopProxy *proxy) {
        SdloopProxy **w;

        w = reallocarray(h->watchers, h->n_watchers + 1, sizeof(SdloopProxy *));
        if (!w)
                return -ENOMEM;
        h->watchers = w;
        h->watchers[h->n_watchers++] = proxy;

        if (h->remote_path && h->generation == h->plugin->generation)
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
