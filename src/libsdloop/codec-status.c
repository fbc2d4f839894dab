/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What a relayer says of its chains and nodes: ChainStatus, a(ssss) NodeStatus. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "codec-internal.h"
#include "macro.h"
#include "sdloop-error.h"

/* --- ChainStatus, a(ssss) NodeStatus ------------------------------------------------------------------ */

int sdloop_read_chain_status(sd_bus_message *m, const char *field, SdloopChainStatus *ret, sd_bus_error *error) {
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_CHAIN_STATUS, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.id", field), &v.id, error);
        if (r < 0)
                return r;

        r = read_bool(m, fieldf(sub, "%s.enabled", field), &v.enabled, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.config", field), &v.config, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_CHAIN_STATUS ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_chain_status(sd_bus_message *m, const SdloopChainStatus *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_CHAIN_STATUS ")",
                                     strempty(v->id),
                                     (int) v->enabled,
                                     strempty(v->config));
}

void sdloop_chain_status_done(SdloopChainStatus *v) {
        if (!v)
                return;

        free(v->id);
        free(v->config);
        *v = (SdloopChainStatus) {};
}

static void node_status_done(SdloopNodeStatus *v) {
        free(v->chain_id);
        free(v->name);
        free(v->config);
        free(v->state);
        *v = (SdloopNodeStatus) {};
}

static int read_node_status_elements(
                sd_bus_message *m,
                const char *field,
                SdloopNodeStatus **array,
                size_t *n,
                sd_bus_error *error) {

        size_t allocated = *n;
        char sub[FIELD_MAX];
        int r;

        for (;;) {
                _cleanup_(node_status_done) SdloopNodeStatus e = {};
                const char *chain_id, *name, *config, *state;

                if (sd_bus_message_at_end(m, false) > 0)
                        return 0;
                r = check_elements(error, field, *n, SDLOOP_ARRAY_ELEMENTS_MAX);
                if (r < 0)
                        return r;

                r = sd_bus_message_read(m, "(" SIG_NODE_STATUS ")", &chain_id, &name, &config, &state);
                if (r < 0)
                        return bus_read_failed(error, fieldf(sub, "%s[%zu]", field, *n), "(" SIG_NODE_STATUS ")", r);
                if (r == 0)
                        return 0;

                e.chain_id = strdup(chain_id);
                e.name = strdup(name);
                e.config = strdup(config);
                e.state = strdup(state);
                if (!e.chain_id || !e.name || !e.config || !e.state)
                        return -ENOMEM;

                r = GROW(*array, allocated, *n);
                if (r < 0)
                        return r;

                (*array)[(*n)++] = TAKE_STRUCT(e);
        }
}

int sdloop_read_node_statuses(
                sd_bus_message *m,
                const char *field,
                SdloopNodeStatus **ret,
                size_t *ret_n,
                sd_bus_error *error) {

        SdloopNodeStatus *a = NULL;
        size_t n = 0;
        int r;

        assert(m);
        assert(field);
        assert(ret);
        assert(ret_n);

        *ret = NULL;
        *ret_n = 0;

        r = sd_bus_message_enter_container(m, 'a', "(" SIG_NODE_STATUS ")");
        if (r <= 0)
                return bus_read_failed(error, field, "a(" SIG_NODE_STATUS ")", r);

        r = read_node_status_elements(m, field, &a, &n, error);
        if (r >= 0)
                r = exit_container(m, field, "a(" SIG_NODE_STATUS ")", error);
        if (r < 0) {
                sdloop_node_statuses_free(a, n);
                return r;
        }

        *ret = a;
        *ret_n = n;
        return 0;
}

int sdloop_append_node_statuses(sd_bus_message *m, const SdloopNodeStatus *v, size_t n) {
        int r;

        assert(m);
        assert(v || n == 0);

        r = sd_bus_message_open_container(m, 'a', "(" SIG_NODE_STATUS ")");
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(m, "(" SIG_NODE_STATUS ")",
                                          strempty(v[i].chain_id),
                                          strempty(v[i].name),
                                          strempty(v[i].config),
                                          strempty(v[i].state));
                if (r < 0)
                        return r;
        }

        return sd_bus_message_close_container(m);
}

void sdloop_node_statuses_free(SdloopNodeStatus *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                node_status_done(v + i);
        free(v);
}
