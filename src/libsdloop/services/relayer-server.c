/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Relayer, the relayer plugin's side: providers per job, and the chain service. */

#include "sdloop-relayer.h"
#include "service-util.h"

static int new_provider_reply(sd_bus_message *m, SdloopObject *self, SdloopObject *provider, sd_bus_error *error) {
        return service_reply_created(m, self, provider, error);
}

static int method_new_config_provider(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopRelayerOps *ops = BINDING_OPS(userdata, SdloopRelayerOps);
        _cleanup_(sdloop_relay_args_done) SdloopRelayArgs relay_args = {};
        SdloopObject *self = BINDING_OBJECT(userdata), *provider = NULL;
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        r = sdloop_read_relay_args(m, "relay_args", &relay_args, error);
        if (r < 0)
                return r;

        if (!ops->new_config_provider)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, self);
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->new_config_provider(BINDING_DATA(userdata), self, &relay_args,
                                                                &provider, error), error);
        if (r != 0)
                return r;

        return new_provider_reply(m, call.object, provider, error);
}

int sdloop_relayer_new_config_provider_return(SdloopCall *c, SdloopObject *provider) {
        return SERVICE_RETURN(c, new_provider_reply, sdloop_call_get_object(c), provider);
}

static int method_new_plugin_provider(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopRelayerOps *ops = BINDING_OPS(userdata, SdloopRelayerOps);
        _cleanup_(sdloop_relay_args_done) SdloopRelayArgs relay_args = {};
        _cleanup_(sdloop_plugin_args_done) SdloopPluginArgs plugin_args = {};
        SdloopObject *self = BINDING_OBJECT(userdata), *provider = NULL;
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        r = sdloop_read_relay_args(m, "relay_args", &relay_args, error);
        if (r < 0)
                return r;
        r = sdloop_read_plugin_args(m, "plugin_args", &plugin_args, error);
        if (r < 0)
                return r;

        if (!ops->new_plugin_provider)
                return service_unimplemented(m, error);

        /* The provider type is the implementation's to dispatch on (and to refuse as Unimplemented). */
        r = call_begin(&call, m, self);
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->new_plugin_provider(BINDING_DATA(userdata), self, &relay_args,
                                                                &plugin_args, &provider, error), error);
        if (r != 0)
                return r;

        return new_provider_reply(m, call.object, provider, error);
}

int sdloop_relayer_new_plugin_provider_return(SdloopCall *c, SdloopObject *provider) {
        return SERVICE_RETURN(c, new_provider_reply, sdloop_call_get_object(c), provider);
}

static int get_chain_status_reply(sd_bus_message *m, const SdloopChainStatus *status, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!status)
                return service_bad_return(m, error, "no status");
        r = service_check_return_string(m, "status.id", status->id, error);
        if (r < 0)
                return r;
        r = service_check_return_string(m, "status.config", status->config, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_chain_status(reply, status);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_chain_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopRelayerOps *ops = BINDING_OPS(userdata, SdloopRelayerOps);
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        _cleanup_(call_done) SdloopCall call = {};
        int r;

        if (!ops->get_chain_status)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->get_chain_status(BINDING_DATA(userdata), &status, error), error);
        if (r != 0)
                return r;

        return get_chain_status_reply(m, &status, error);
}

int sdloop_relayer_get_chain_status_return(SdloopCall *c, const SdloopChainStatus *status) {
        return SERVICE_RETURN(c, get_chain_status_reply, status);
}

static int check_node_statuses(sd_bus_message *m, const SdloopNodeStatus *nodes, size_t n, sd_bus_error *error) {
        int r;

        if (n > 0 && !nodes)
                return service_bad_return(m, error, "%zu nodes without an array", n);

        for (size_t i = 0; i < n; i++) {
                const struct {
                        const char *field;
                        const char *value;
                } fields[] = {
                        { "nodes[].chain_id", nodes[i].chain_id },
                        { "nodes[].name",     nodes[i].name     },
                        { "nodes[].config",   nodes[i].config   },
                        { "nodes[].state",    nodes[i].state    },
                };

                for (size_t j = 0; j < ELEMENTSOF(fields); j++) {
                        r = service_check_return_string(m, fields[j].field, fields[j].value, error);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int list_node_statuses_reply(sd_bus_message *m, int32_t page_size, const SdloopNodeStatus *nodes, size_t n,
                                    int32_t total, const char *next_page_token, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = check_node_statuses(m, nodes, n, error);
        if (r < 0)
                return r;
        if (page_size > 0 && n > (size_t) page_size)
                return service_bad_return(m, error, "%zu nodes for a page of %" PRIi32, n, page_size);
        if (total < 0)
                return service_bad_return(m, error, "a negative total (%" PRIi32 ")", total);
        /* No token is the last page. */
        if (next_page_token) {
                r = service_check_return_string(m, "next_page_token", next_page_token, error);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sdloop_append_node_statuses(reply, nodes, n);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "is", total, strempty(next_page_token));
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

typedef struct NodeStatuses {
        SdloopNodeStatus *v;
        size_t n;
} NodeStatuses;

static void node_statuses_done(NodeStatuses *s) {
        sdloop_node_statuses_free(s->v, s->n);
        *s = (NodeStatuses) {};
}

static int method_list_node_statuses(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopRelayerOps *ops = BINDING_OPS(userdata, SdloopRelayerOps);
        /* Whatever a failing or deferring implementation may have left behind is freed anyway. */
        _cleanup_(node_statuses_done) NodeStatuses nodes = {};
        _cleanup_free_ char *next_page_token = NULL;
        _cleanup_(call_done) SdloopCall call = {};
        const char *page_token;
        int32_t page_size, total = 0;
        int r;

        r = sd_bus_message_read(m, "i", &page_size);
        if (r <= 0)
                return sdloop_error_invalid(error, "page_size", "not an int32");
        if (page_size < 0)
                return sdloop_error_invalid(error, "page_size", "must be >= 0 (0: the default), got %" PRIi32,
                                            page_size);
        /* Opaque: whatever the previous page handed out. */
        r = service_read_string(m, "page_token", 0, &page_token, error);
        if (r < 0)
                return r;

        if (!ops->list_node_statuses)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->list_node_statuses(BINDING_DATA(userdata), page_size, page_token, &nodes.v,
                                                               &nodes.n, &total, &next_page_token, error), error);
        if (r != 0)
                return r;

        return list_node_statuses_reply(m, page_size, nodes.v, nodes.n, total, next_page_token, error);
}

static int list_node_statuses_reply_later(sd_bus_message *m, const SdloopNodeStatus *nodes, size_t n, int32_t total,
                                          const char *next_page_token, sd_bus_error *error) {
        int32_t page_size = 0;

        /* The page size was checked when the call came in; read it again for the bound. */
        if (sd_bus_message_rewind(m, true) < 0 || sd_bus_message_read(m, "i", &page_size) <= 0)
                page_size = 0;
        return list_node_statuses_reply(m, page_size, nodes, n, total, next_page_token, error);
}

int sdloop_relayer_list_node_statuses_return(SdloopCall *c, const SdloopNodeStatus *nodes, size_t n, int32_t total,
                                             const char *next_page_token) {
        return SERVICE_RETURN(c, list_node_statuses_reply_later, nodes, n, total, next_page_token);
}

static int method_transact(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopRelayerOps *ops = BINDING_OPS(userdata, SdloopRelayerOps);
        _cleanup_(call_done) SdloopCall call = {};
        _cleanup_free_ char *amount = NULL;
        const char *from, *to;
        int balance_check, r;

        r = service_read_string(m, "from", 0, &from, error);
        if (r < 0)
                return r;
        r = service_read_string(m, "to", 0, &to, error);
        if (r < 0)
                return r;
        r = sdloop_read_decimal(m, "amount", &amount, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "b", &balance_check);
        if (r <= 0)
                return sdloop_error_invalid(error, "balance_check", "not a boolean");

        if (!ops->transact)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->transact(BINDING_DATA(userdata), from, to, amount, balance_check, error),
                             error);
        if (r != 0)
                return r;

        /* No results: a deferred call is finished with sdloop_call_return_empty(). */
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable relayer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("NewConfigProvider", SD_BUS_ARGS("(sisbss)", relay_args),
                                SD_BUS_RESULT("o", provider), method_new_config_provider,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("NewPluginProvider", SD_BUS_ARGS("(sisbss)", relay_args, "(ss)", plugin_args),
                                SD_BUS_RESULT("o", provider), method_new_plugin_provider,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetChainStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("(sbs)", status),
                                method_get_chain_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListNodeStatuses", SD_BUS_ARGS("i", page_size, "s", page_token),
                                SD_BUS_RESULT("a(ssss)", nodes, "i", total, "s", next_page_token),
                                method_list_node_statuses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Transact", SD_BUS_ARGS("s", from, "s", to, "s", amount, "b", balance_check),
                                SD_BUS_NO_RESULT, method_transact, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_relayer_export(SdloopObject *o, const SdloopRelayerOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.Relayer", relayer_vtable, ops, userdata);
}
