/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The arguments that providers and plugins are created with: RelayArgs, PluginArgs. */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "codec-internal.h"
#include "macro.h"
#include "sdloop-error.h"

/* --- RelayArgs, PluginArgs ---------------------------------------------------------------------------- */

int sdloop_read_relay_args(sd_bus_message *m, const char *field, SdloopRelayArgs *ret, sd_bus_error *error) {
        _cleanup_(sdloop_relay_args_done) SdloopRelayArgs v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_RELAY_ARGS, error);
        if (r < 0)
                return r;

        r = read_uuid(m, fieldf(sub, "%s.external_job_id", field), &v.external_job_id, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_basic(m, 'i', &v.job_id);
        if (r <= 0)
                return bus_read_failed(error, fieldf(sub, "%s.job_id", field), "i", r);

        r = read_string(m, fieldf(sub, "%s.contract_id", field), &v.contract_id, error);
        if (r < 0)
                return r;

        r = read_bool(m, fieldf(sub, "%s.new", field), &v.new, error);
        if (r < 0)
                return r;

        r = read_json(m, fieldf(sub, "%s.relay_config", field), &v.relay_config, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.provider_type", field), &v.provider_type, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_RELAY_ARGS ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_relay_args(sd_bus_message *m, const SdloopRelayArgs *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_RELAY_ARGS ")",
                                     strempty(v->external_job_id),
                                     v->job_id,
                                     strempty(v->contract_id),
                                     (int) v->new,
                                     strempty(v->relay_config),
                                     strempty(v->provider_type));
}

void sdloop_relay_args_done(SdloopRelayArgs *v) {
        if (!v)
                return;

        free(v->external_job_id);
        free(v->contract_id);
        free(v->relay_config);
        free(v->provider_type);
        *v = (SdloopRelayArgs) {};
}

int sdloop_read_plugin_args(sd_bus_message *m, const char *field, SdloopPluginArgs *ret, sd_bus_error *error) {
        _cleanup_(sdloop_plugin_args_done) SdloopPluginArgs v = {};
        char sub[FIELD_MAX];
        int r;

        assert(m);
        assert(field);
        assert(ret);

        zero(*ret);

        r = enter_struct(m, field, SIG_PLUGIN_ARGS, error);
        if (r < 0)
                return r;

        r = read_string(m, fieldf(sub, "%s.transmitter_id", field), &v.transmitter_id, error);
        if (r < 0)
                return r;

        r = read_json(m, fieldf(sub, "%s.plugin_config", field), &v.plugin_config, error);
        if (r < 0)
                return r;

        r = exit_container(m, field, "(" SIG_PLUGIN_ARGS ")", error);
        if (r < 0)
                return r;

        *ret = TAKE_STRUCT(v);
        return 0;
}

int sdloop_append_plugin_args(sd_bus_message *m, const SdloopPluginArgs *v) {
        assert(m);
        assert(v);

        return sd_bus_message_append(m, "(" SIG_PLUGIN_ARGS ")",
                                     strempty(v->transmitter_id),
                                     strempty(v->plugin_config));
}

void sdloop_plugin_args_done(SdloopPluginArgs *v) {
        if (!v)
                return;

        free(v->transmitter_id);
        free(v->plugin_config);
        *v = (SdloopPluginArgs) {};
}
