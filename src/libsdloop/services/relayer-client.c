/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Relayer, the host's side. */

#include "sdloop-relayer.h"
#include "service-util.h"

#define RELAYER_INTERFACE "org.sdloop1.Relayer"

static int relayer_new_provider(SdloopPeer *peer, const char *path, const char *member,
                                const SdloopRelayArgs *relay_args, const SdloopPluginArgs *plugin_args,
                                char **ret_provider, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *field = NULL;
        int r;

        r = sdloop_peer_new_call(peer, path, RELAYER_INTERFACE, member, &m);
        if (r < 0)
                return r;
        r = sdloop_append_relay_args(m, relay_args);
        if (r < 0)
                return service_append_failed(error, "relay_args", r);
        if (plugin_args) {
                r = sdloop_append_plugin_args(m, plugin_args);
                if (r < 0)
                        return service_append_failed(error, "plugin_args", r);
        }

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        if (asprintf(&field, "%s reply.provider", member) < 0)
                return -ENOMEM;
        return service_read_reply_object(reply, field, ret_provider, error);
}

int sdloop_relayer_new_config_provider(SdloopPeer *peer, const char *path, const SdloopRelayArgs *relay_args,
                                       char **ret_provider, sd_bus_error *error) {
        if (!peer || !path || !relay_args || !ret_provider)
                return -EINVAL;

        return relayer_new_provider(peer, path, "NewConfigProvider", relay_args, NULL, ret_provider, error);
}

int sdloop_relayer_new_plugin_provider(SdloopPeer *peer, const char *path, const SdloopRelayArgs *relay_args,
                                       const SdloopPluginArgs *plugin_args, char **ret_provider, sd_bus_error *error) {
        if (!peer || !path || !relay_args || !plugin_args || !ret_provider)
                return -EINVAL;

        return relayer_new_provider(peer, path, "NewPluginProvider", relay_args, plugin_args, ret_provider, error);
}

int sdloop_relayer_get_chain_status(SdloopPeer *peer, const char *path, SdloopChainStatus *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        SdloopChainStatus status = {};
        int r;

        if (!peer || !path || !ret)
                return -EINVAL;

        r = service_call_simple(peer, path, RELAYER_INTERFACE, "GetChainStatus", &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_chain_status(reply, "GetChainStatus reply.status", &status, error);
        if (r < 0)
                return r;

        *ret = status;
        return 0;
}

int sdloop_relayer_list_node_statuses(SdloopPeer *peer, const char *path, int32_t page_size, const char *page_token,
                                      SdloopNodeStatus **ret, size_t *ret_n, int32_t *ret_total,
                                      char **ret_next_page_token, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *next_page_token = NULL;
        SdloopNodeStatus *nodes = NULL;
        int32_t total;
        size_t n = 0;
        int r;

        if (!peer || !path || !ret || !ret_n)
                return -EINVAL;

        r = sdloop_peer_new_call(peer, path, RELAYER_INTERFACE, "ListNodeStatuses", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "i", page_size);
        if (r < 0)
                return r;
        /* NULL asks for the first page. */
        r = sd_bus_message_append(m, "s", strempty(page_token));
        if (r < 0)
                return service_append_failed(error, "page_token", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_node_statuses(reply, "ListNodeStatuses reply.nodes", &nodes, &n, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read(reply, "i", &total);
        if (r <= 0) {
                r = service_reply_garbage(reply, "ListNodeStatuses reply.total", r, error);
                goto fail;
        }
        if (total < 0) {
                r = sdloop_error_invalid(error, "ListNodeStatuses reply.total", "negative (%" PRIi32 ")", total);
                goto fail;
        }
        r = service_read_reply_string(reply, "ListNodeStatuses reply.next_page_token", &next_page_token, error);
        if (r < 0)
                goto fail;

        *ret = nodes;
        *ret_n = n;
        if (ret_total)
                *ret_total = total;
        if (ret_next_page_token)
                *ret_next_page_token = TAKE_PTR(next_page_token);
        return 0;

fail:
        sdloop_node_statuses_free(nodes, n);
        return r;
}

int sdloop_relayer_transact(SdloopPeer *peer, const char *path, const char *from, const char *to, const char *amount,
                            bool balance_check, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!peer || !path || !from || !to || !amount)
                return -EINVAL;

        r = sdloop_peer_new_call(peer, path, RELAYER_INTERFACE, "Transact", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", from);
        if (r < 0)
                return service_append_failed(error, "from", r);
        r = sd_bus_message_append(m, "s", to);
        if (r < 0)
                return service_append_failed(error, "to", r);
        r = sd_bus_message_append(m, "s", amount);
        if (r < 0)
                return service_append_failed(error, "amount", r);
        r = sd_bus_message_append(m, "b", (int) balance_check);
        if (r < 0)
                return r;

        return sdloop_peer_call(peer, m, 0, NULL, error);
}
