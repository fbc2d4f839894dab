/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Reading helpers of the generated client calls. */

#include "client-internal.h"

int client_read_strv(sd_bus_message *reply, const char *field, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = sd_bus_message_read_strv(reply, &l);
        if (r <= 0)
                return service_reply_garbage(reply, field, r, error);
        /* An empty "as" reads as NULL; callers get a list they can iterate. */
        if (!l) {
                l = new0(char *, 1);
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int client_read_pairs(sd_bus_message *reply, const char *field, char ***ret, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        l = new0(char *, 1);
        if (!l)
                return -ENOMEM;
        r = sd_bus_message_enter_container(reply, 'a', "{ss}");
        if (r <= 0)
                return service_reply_garbage(reply, field, r, error);
        for (;;) {
                const char *k, *v;
                char **nl;

                r = sd_bus_message_read(reply, "{ss}", &k, &v);
                if (r < 0)
                        return service_reply_garbage(reply, field, r, error);
                if (r == 0)
                        break;
                nl = reallocarray(l, n + 3, sizeof(char *));
                if (!nl)
                        return -ENOMEM;
                l = nl;
                l[n] = strdup(k);
                l[n + 1] = strdup(v);
                l[n + 2] = NULL;
                if (!l[n] || !l[n + 1])
                        return -ENOMEM;
                n += 2;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return service_reply_garbage(reply, field, r, error);
        *ret = TAKE_PTR(l);
        return 0;
}

int client_check_reporting_plugin_info(const SdloopReportingPluginInfo *info, const char *field, sd_bus_error *error) {
        const char *reason, *member;
        char name[96];

        reason = service_reporting_plugin_info_check(info, &member);
        if (!reason)
                return 0;
        (void) snprintf(name, sizeof(name), "%s.%s", field, member);
        return sdloop_error_invalid(error, name, "%s", reason);
}

int client_check_object_path(const char *path, const char *field, sd_bus_error *error) {
        if (!path)
                return sdloop_error_invalid(error, field, "missing");
        if (!sd_bus_object_path_is_valid(path))
                return sdloop_error_invalid(error, field, "not a valid object path: %s", SDLOOP_QUOTE(path));
        return 0;
}

/* The provider refuses these anyway; refusing them here names the field without a round trip. */
int client_check_onchain_config(const SdloopOnchainConfig *config, const char *field, sd_bus_error *error) {
        char name[64];

        (void) snprintf(name, sizeof(name), "%s.min", field);
        if (!sdloop_decimal_is_valid(config->min))
                return sdloop_error_invalid(error, name, "not a decimal");
        (void) snprintf(name, sizeof(name), "%s.max", field);
        if (!sdloop_decimal_is_valid(config->max))
                return sdloop_error_invalid(error, name, "not a decimal");
        if (sdloop_decimal_compare(config->min, config->max) > 0)
                return sdloop_error_invalid(error, field, "min %s must not be greater than max %s",
                                            SDLOOP_QUOTE(config->min), SDLOOP_QUOTE(config->max));
        return 0;
}

int client_check_parsed_observations(const SdloopParsedObservation *obs, size_t n, const char *field,
                                     sd_bus_error *error) {
        char name[96];

        for (size_t i = 0; i < n; i++) {
                if (!sdloop_decimal_is_valid(obs[i].value)) {
                        (void) snprintf(name, sizeof(name), "%s[%zu].value", field, i);
                        return sdloop_error_invalid(error, name, "not a decimal");
                }
                if (!sdloop_decimal_is_valid(obs[i].juels_per_fee_coin)) {
                        (void) snprintf(name, sizeof(name), "%s[%zu].juels_per_fee_coin", field, i);
                        return sdloop_error_invalid(error, name, "not a decimal");
                }
        }
        return 0;
}

int client_check_signatures(const SdloopAttributed *signatures, size_t n, const char *field, sd_bus_error *error) {
        char name[96];
        int r;

        if (n > SERVICE_SIGNATURES_MAX)
                return sdloop_error_invalid(error, field, "expected at most %u, got %zu", SERVICE_SIGNATURES_MAX, n);
        for (size_t i = 0; i < n; i++) {
                (void) snprintf(name, sizeof(name), "%s[%zu].data", field, i);
                r = service_check_bytes_arg(name, signatures[i].data.data, signatures[i].data.size,
                                            SERVICE_SIGNATURE_SIZE_MAX, error);
                if (r < 0)
                        return r;
        }
        return 0;
}
