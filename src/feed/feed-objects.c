/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What the feed's plugin objects are made of: the host objects exported on the median plugin's connection
 * (the provider proxy, an ErrorLog, every oracle's two DataSources) and the create calls of its handles. */

#include "feed-internal.h"
#include "macro.h"
#include "source-internal.h"

/* --- the host objects on the median plugin's connection ------------------------------------------------ */

void feed_connection_release(Feed *f) {
        if (f->proxy) {
                if (f->provider_h)
                        host_handle_unwatch(f->provider_h, f->proxy);
                f->proxy = sdloop_proxy_free(f->proxy);
        }

        /* Objects of a connection that is gone are gone with it; those of a live one are closed here. */
        for (unsigned i = 0; f->oracles && i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        FeedOracle *o = f->oracles + i;
                        SdloopObject *obj;

                        if (!o->data_source_path[k])
                                continue;
                        obj = f->conn ? sdloop_peer_find_object(f->conn, o->data_source_path[k]) : NULL;
                        if (obj)
                                sdloop_object_close(obj);
                        o->data_source_path[k] = mfree(o->data_source_path[k]);
                }
        if (f->error_log_path) {
                SdloopObject *obj = f->conn ? sdloop_peer_find_object(f->conn, f->error_log_path) : NULL;

                if (obj)
                        sdloop_object_close(obj);
                f->error_log_path = mfree(f->error_log_path);
        }
        f->conn = sdloop_peer_unref(f->conn);
}

/* Export what the median plugin's factories use on @peer, once per connection: the provider (a proxy kept
 * pointed at the relayer's provider), an ErrorLog, and every oracle's two DataSources. */
static int feed_connection_setup(Feed *f, SdloopPeer *peer) {
        SdloopObject *obj;
        int r;

        if (f->conn == peer && sdloop_peer_is_connected(peer))
                return 0;

        feed_connection_release(f);
        f->conn = sdloop_peer_ref(peer);

        r = sdloop_proxy_new(peer, f->proxy_path, NULL, NULL, &f->proxy);
        if (r < 0)
                goto fail;
        r = host_handle_watch(f->provider_h, f->proxy);
        if (r < 0)
                goto fail;

        r = host_error_log_new(peer, NULL, f->median->settings.name, &obj);
        if (r < 0)
                goto fail;
        f->error_log_path = strdup(sdloop_object_get_path(obj));
        if (!f->error_log_path) {
                sdloop_object_close(obj);
                r = -ENOMEM;
                goto fail;
        }

        for (unsigned i = 0; i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        FeedOracle *o = f->oracles + i;

                        r = host_data_source_new(peer, NULL, feed_observe, &o->refs[k], NULL, &obj);
                        if (r < 0)
                                goto fail;
                        o->data_source_path[k] = strdup(sdloop_object_get_path(obj));
                        if (!o->data_source_path[k]) {
                                sdloop_object_close(obj);
                                r = -ENOMEM;
                                goto fail;
                        }
                }
        return 0;

fail:
        feed_connection_release(f);
        return r;
}

/* RelayArgs.relay_config: the feed's extra keys, plus (when @seed) the contract configuration. */
int feed_build_relay_config(Feed *f, bool seed, char **ret) {
        _cleanup_(source_json_object_putp) json_object *root = NULL;
        json_object *config, *signers, *transmitters, *onchain;
        _cleanup_free_ char *offchain_hex = NULL;
        const char *text;
        char *s;
        int r;

        if (f->config->relay_config) {
                r = json_object_deep_copy(f->config->relay_config, &root, NULL);
                if (r < 0)
                        return -ENOMEM;
        } else {
                root = json_object_new_object();
                if (!root)
                        return -ENOMEM;
        }

        if (seed) {
                offchain_hex = malloc(2 * f->offchain_config.size + 1);
                config = json_object_new_object();
                signers = json_object_new_array();
                transmitters = json_object_new_array();
                onchain = json_object_new_object();
                if (!offchain_hex || !config || !signers || !transmitters || !onchain) {
                        json_object_put(config);
                        json_object_put(signers);
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                feed_hex_encode(f->offchain_config.data, f->offchain_config.size, offchain_hex);

                /* Attach first, so that everything is freed with the root from here on. */
                if (json_object_object_add(root, "config", config) < 0) {
                        json_object_put(config);
                        json_object_put(signers);
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                if (json_object_object_add(config, "signers", signers) < 0) {
                        json_object_put(signers);
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                if (json_object_object_add(config, "transmitters", transmitters) < 0) {
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                if (json_object_object_add(config, "onchain_config", onchain) < 0) {
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                for (unsigned i = 0; i < f->config->n; i++) {
                        json_object *signer = json_object_new_string(f->oracles[i].account);
                        json_object *transmitter = json_object_new_string(f->config->transmitters[i]);

                        if (json_object_array_add(signers, signer) < 0 ||
                            json_object_array_add(transmitters, transmitter) < 0)
                                return -ENOMEM;
                }
                if (json_object_object_add(config, "f", json_object_new_int64(f->config->f)) < 0 ||
                    json_object_object_add(onchain, "min", json_object_new_string(f->config->min)) < 0 ||
                    json_object_object_add(onchain, "max", json_object_new_string(f->config->max)) < 0 ||
                    json_object_object_add(config, "offchain_config_version",
                                           json_object_new_int64(1)) < 0 ||
                    json_object_object_add(config, "offchain_config",
                                           json_object_new_string(offchain_hex)) < 0)
                        return -ENOMEM;
        }

        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        s = strdup(text);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* --- handles ------------------------------------------------------------------------------------------- */

HostHandle *feed_find_relayer_handle(HostPlugin *p) {
        for (HostHandle *h = p->handles_head; h; h = h->next)
                if (!h->parent && streq_ptr(h->ops->kind, "relayer"))
                        return h;
        return NULL;
}

/* A config provider of the contract, to read what it holds before this feed seeds it. */
static int config_provider_create(HostHandle *h, SdloopPeer *peer, const char *parent_path,
                                  sd_bus_slot **ret_slot) {
        Feed *f = h->data;
        SdloopRelayArgs relay_args = {
                .external_job_id = f->config->external_job_id,
                .job_id = f->config->job_id,
                .contract_id = f->config->contract_id,
                .relay_config = f->relay_config_plain,
                .provider_type = (char *) "median",
        };

        return sdloop_relayer_new_config_provider_async(peer, parent_path, &relay_args, NULL,
                                                        host_handle_created_reply, h, ret_slot);
}

const HostHandleOps feed_config_provider_handle_ops = {
        .kind = "config_provider",
        .create = config_provider_create,
};

static int provider_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        Feed *f = h->data;
        SdloopRelayArgs relay_args = {
                .external_job_id = f->config->external_job_id,
                .job_id = f->config->job_id,
                .contract_id = f->config->contract_id,
                .relay_config = f->relay_config_seed,
                .provider_type = (char *) "median",
        };
        SdloopPluginArgs plugin_args = {
                .transmitter_id = f->config->transmitters[0],
                .plugin_config = (char *) "{}",
        };

        /* The relay config seeds the contract with this feed's configuration: on the first creation, and
         * again (a no-op unless someone changed it) whenever the relayer comes back. */
        return sdloop_relayer_new_plugin_provider_async(peer, parent_path, &relay_args, &plugin_args, NULL,
                                                        host_handle_created_reply, h, ret_slot);
}

static int factory_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        FeedOracle *o = h->data;
        Feed *f = o->feed;
        int r;

        r = feed_connection_setup(f, peer);
        if (r < 0)
                return log_warning_errno(r, "Feed %s: cannot export its host objects: %m", f->config->name);

        return sdloop_plugin_median_new_median_factory_async(peer, &(SdloopMedianDeps) {
                        .provider = f->proxy_path,
                        .data_source = o->data_source_path[SOURCE_VALUE],
                        .juels_data_source = o->data_source_path[SOURCE_JUELS],
                        .error_log = f->error_log_path,
                }, NULL, host_handle_created_reply, h, ret_slot);
}

/* The factory is handed the relayer's provider (by proxy): created once that exists. */
static HostHandle *factory_needs(HostHandle *h) {
        FeedOracle *o = h->data;

        return o->feed->provider_h;
}

static int reporting_plugin_create(HostHandle *h, SdloopPeer *peer, const char *parent_path,
                                   sd_bus_slot **ret_slot) {
        FeedOracle *o = h->data;
        Feed *f = o->feed;
        uint64_t max_duration = f->median->settings.call_timeout_usec;
        SdloopReportingPluginConfig config = {
                .oracle_id = (uint8_t) o->id,
                .n = f->config->n,
                .f = f->config->f,
                .onchain_config = f->onchain_config,
                .offchain_config = f->contract_offchain_config,
                .estimated_round_interval_usec = f->config->round_interval_usec,
                .max_duration_query_usec = max_duration,
                .max_duration_observation_usec = max_duration,
                .max_duration_report_usec = max_duration,
                .max_duration_should_accept_usec = max_duration,
                .max_duration_should_transmit_usec = max_duration,
        };

        /* Re-created after a crash with the digest current then. */
        memcpy(config.digest, f->digest, SDLOOP_DIGEST_SIZE);
        return sdloop_reporting_plugin_factory_new_reporting_plugin_async(peer, parent_path, &config, NULL,
                                                                          host_handle_created_reporting_plugin_reply,
                                                                          h, ret_slot);
}

const HostHandleOps feed_provider_handle_ops = { .kind = "provider", .create = provider_create };
const HostHandleOps feed_factory_handle_ops = {
        .kind = "factory",
        .create = factory_create,
        .needs = factory_needs,
};
const HostHandleOps feed_reporting_plugin_handle_ops = {
        .kind = "reporting_plugin",
        .create = reporting_plugin_create,
};

