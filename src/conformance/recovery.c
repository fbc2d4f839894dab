/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* --recovery: the plugin under the host library's transparent recovery (the exec backend, as sdloopd runs
 * it). Each process generation exits at the n·step-th call (SDLOOP_CRASH_AFTER, the runtime's
 * --crash-after); the checks run round after round through the host's long-lived handles, which
 * re-create the objects on the new process. Every round must succeed, and the plugin must have crashed. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "suite.h"
#include "tool.h"

typedef struct Recovery {
        const ToolOptions *options;
        HostPlugin *plugin;
        HostHandle *relayer_h, *provider_h, *factory_h;
        ToolHost host;              /* the host objects of the current connection */
        ToolStaticRelayer fixtures; /* the static relayer behind a static median plugin's provider */
        SdloopProxy *proxy;
        char *provider_path;
} Recovery;

static int on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        Recovery *rc = userdata;
        const ToolOptions *o = rc->options;
        SdloopObject *ds, *juels, *el;
        int r;

        /* The previous connection's objects went with it. */
        rc->host = (ToolHost) {};
        if (streq(o->kind, SDLOOP_KIND_RELAYER))
                return o->fixtures ? static_keystore_new(peer, NULL) : tool_host_export_keystore(&rc->host, peer);

        free(rc->provider_path);
        rc->provider_path = NULL;
        if (!o->fixtures) {
                r = tool_host_export_median(&rc->host, peer);
                if (r < 0)
                        return r;
                rc->provider_path = strdup(sdloop_object_get_path(rc->host.provider));
                return rc->provider_path ? 0 : -ENOMEM;
        }

        r = static_data_source_new(peer, FIXTURE_VALUE, &ds);
        if (r >= 0)
                r = static_data_source_new(peer, FIXTURE_JUELS_PER_FEE_COIN, &juels);
        if (r >= 0)
                r = static_error_log_new(peer, &el);
        if (r < 0)
                return r;
        rc->host.data_source = ds;
        rc->host.juels_data_source = juels;
        rc->host.error_log = el;
        rc->proxy = sdloop_proxy_free(rc->proxy);
        r = sdloop_proxy_new(peer, SDLOOP_ROOT_PATH "/host/provider/1", rc->fixtures.host, rc->fixtures.provider,
                             &rc->proxy);
        if (r < 0)
                return r;
        rc->provider_path = strdup(sdloop_proxy_get_path(rc->proxy));
        return rc->provider_path ? 0 : -ENOMEM;
}

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        Recovery *rc = h->data;
        const char *config = rc->options->relayer_config ?: FIXTURE_CONFIG_TOML;

        return sdloop_plugin_relayer_new_relayer_async(peer, config, STATIC_KEYSTORE_PATH, NULL,
                                                       host_handle_created_reply, h, ret_slot);
}

static int provider_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        Recovery *rc = h->data;
        SdloopRelayArgs relay_args;
        SdloopPluginArgs plugin_args;

        tool_relay_args(rc->options, FIXTURE_PROVIDER_TYPE_MEDIAN, &relay_args);
        tool_plugin_args(rc->options, &plugin_args);
        return sdloop_relayer_new_plugin_provider_async(peer, parent_path, &relay_args, &plugin_args, NULL,
                                                        host_handle_created_reply, h, ret_slot);
}

static int factory_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        Recovery *rc = h->data;
        SdloopMedianDeps deps = {
                .provider = rc->provider_path,
                .data_source = sdloop_object_get_path(rc->host.data_source),
                .juels_data_source = sdloop_object_get_path(rc->host.juels_data_source),
                .error_log = sdloop_object_get_path(rc->host.error_log),
        };

        return sdloop_plugin_median_new_median_factory_async(peer, &deps, NULL, host_handle_created_reply, h,
                                                             ret_slot);
}

static const HostHandleOps relayer_ops = { .kind = "relayer", .create = relayer_create };
static const HostHandleOps provider_ops = { .kind = "provider", .create = provider_create };
static const HostHandleOps factory_ops = { .kind = "factory", .create = factory_create };

static int run_relayer(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        Recovery *rc = userdata;

        return tool_check_relayer(rc->options, peer, path, NULL, error);
}

static int run_provider(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        Recovery *rc = userdata;

        return tool_check_provider(rc->options, peer, path, NULL, error);
}

static int run_factory(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        Recovery *rc = userdata;

        return tool_check_factory(rc->options, peer, path, &rc->host, NULL, error);
}

static int add_plugin(Host *host, Recovery *rc) {
        const ToolOptions *o = rc->options;
        HostPluginSettings s;
        size_t n = strv_length(o->command);
        int r;

        host_plugin_settings_init(&s);
        s.name = strdup("conformance");
        s.kind = strdup(o->kind);
        s.binary = strdup(o->command[0]);
        s.args = new0(char *, n);
        if (!s.name || !s.kind || !s.binary || !s.args) {
                host_plugin_settings_done(&s);
                return -ENOMEM;
        }
        for (size_t i = 1; i < n; i++)
                if (!(s.args[i - 1] = strdup(o->command[i]))) {
                        host_plugin_settings_done(&s);
                        return -ENOMEM;
                }
        if (asprintf(&s.socket_path, "%s/recovery.sock", o->tmpdir) < 0 ||
            asprintf(&s.state_directory, "%s/recovery.state", o->tmpdir) < 0) {
                host_plugin_settings_done(&s);
                return -ENOMEM;
        }
        s.call_timeout_usec = o->timeout_usec;
        s.restart_usec = 20 * USEC_PER_MSEC;
        s.start_limit_burst = 60;
        s.crash_after_step = o->crash_step;

        r = host_plugin_new(host, &s, &rc->plugin);
        if (r < 0) {
                host_plugin_settings_done(&s);
                return r;
        }
        rc->plugin->on_connect = on_connect;
        rc->plugin->on_connect_userdata = rc;
        return 0;
}

int tool_run_recovery(Tap *t, const ToolOptions *o) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(host_freep) Host *host = NULL;
        Recovery rc = { .options = o };
        bool relayer = streq(o->kind, SDLOOP_KIND_RELAYER);
        unsigned failed = 0;
        int r;

        r = host_new(NULL, &host_backend_exec, &host);
        if (r < 0)
                return tap_check_call(t, r, NULL, "recovery: the host"), r;
        if (!relayer && o->fixtures) {
                r = tool_static_relayer_start(&rc.fixtures, &error);
                if (r < 0) {
                        tap_check_call(t, r, &error, "recovery: the static relayer for the provider");
                        return r;
                }
        }
        r = add_plugin(host, &rc);
        if (r < 0) {
                tap_check_call(t, r, NULL, "recovery: the plugin's settings");
                goto finish;
        }

        r = host_plugin_start(rc.plugin, &error);
        if (!tap_check_call(t, r, &error, "recovery: started by the exec backend, handshake done"))
                goto finish;
        sd_bus_error_free(&error);
        if (relayer) {
                r = host_handle_new(rc.plugin, NULL, &relayer_ops, &rc, &rc.relayer_h, &error);
                if (r >= 0)
                        r = host_handle_new(rc.plugin, rc.relayer_h, &provider_ops, &rc, &rc.provider_h, &error);
        } else
                r = host_handle_new(rc.plugin, NULL, &factory_ops, &rc, &rc.factory_h, &error);
        if (!tap_check_call(t, r, &error, relayer ? "recovery: a relayer and its median provider as handles" :
                                                  "recovery: a reporting plugin factory as a handle"))
                goto finish;
        sd_bus_error_free(&error);

        for (unsigned i = 1; i <= o->rounds; i++) {
                _cleanup_free_ char *name = NULL;

                if (asprintf(&name, "recovery: round %u of the checks through the handles (crash after %" PRIu64
                             " calls per generation)", i, o->crash_step) < 0)
                        break;
                if (relayer) {
                        r = host_handle_call(rc.relayer_h, run_relayer, &rc, &error);
                        if (r >= 0)
                                r = host_handle_call(rc.provider_h, run_provider, &rc, &error);
                } else
                        r = host_handle_call(rc.factory_h, run_factory, &rc, &error);
                if (!tap_check_call(t, r, &error, name))
                        failed++;
                sd_bus_error_free(&error);
        }
        tap_check(t, rc.plugin->n_restarts >= 1, "recovery: the plugin crashed and was restarted",
                  "no restart: the plugin did not exit at the call SDLOOP_CRASH_AFTER named (%s)",
                  "the runtime's --crash-after");
        tap_note(t, "recovery: %u restarts, last recovery %.1f ms", rc.plugin->n_restarts,
                 (double) rc.plugin->last_recovery_usec / USEC_PER_MSEC);
        r = failed > 0 ? -EIO : 0;

finish:
        if (rc.plugin)
                (void) host_plugin_stop(rc.plugin);
        host = host_free(host);
        rc.proxy = sdloop_proxy_free(rc.proxy);
        tool_static_relayer_done(&rc.fixtures);
        free(rc.provider_path);
        return r;
}
