/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Keystore, the host's side: accounts and signatures for a relayer plugin. */

#include "sdloop-keystore.h"
#include "service-util.h"

static int accounts_reply(sd_bus_message *m, char * const *accounts, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        /* NULL is the empty list. */
        for (char * const *a = accounts; a && *a; a++) {
                r = service_check_return_string(m, "account", *a, error);
                if (r < 0)
                        return r;
        }

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, (char **) accounts);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_accounts(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopKeystoreOps *ops = BINDING_OPS(userdata, SdloopKeystoreOps);
        _cleanup_(call_done) SdloopCall call = {};
        _cleanup_strv_free_ char **accounts = NULL;
        int r;

        if (!ops->accounts)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->accounts(BINDING_DATA(userdata), &accounts, error), error);
        if (r != 0)
                return r;

        return accounts_reply(m, accounts, error);
}

int sdloop_keystore_accounts_return(SdloopCall *c, char * const *accounts) {
        return SERVICE_RETURN(c, accounts_reply, accounts);
}

static int sign_reply(sd_bus_message *m, const SdloopBytes *signed_data, sd_bus_error *error) {
        signed_data = service_bytes_or_empty(signed_data);
        if (!signed_data->data && signed_data->size > 0)
                return service_bad_return(m, error, "signed_data of %zu bytes without data", signed_data->size);
        if (signed_data->size > SDLOOP_PAYLOAD_MAX)
                return service_bad_return(m, error, "signed_data of %zu bytes, at most %u allowed",
                                          signed_data->size, SDLOOP_PAYLOAD_MAX);

        return service_reply_bytes(m, signed_data->data, signed_data->size);
}

static int method_sign(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopKeystoreOps *ops = BINDING_OPS(userdata, SdloopKeystoreOps);
        _cleanup_(sdloop_bytes_done) SdloopBytes data = {}, signed_data = {};
        _cleanup_(call_done) SdloopCall call = {};
        const char *account;
        int r;

        r = service_read_string(m, "account", 0, &account, error);
        if (r < 0)
                return r;
        r = sdloop_read_bytes(m, "data", 0, &data, error);
        if (r < 0)
                return r;

        if (!ops->sign)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->sign(BINDING_DATA(userdata), account, &data, &signed_data, error),
                             error);
        if (r != 0)
                return r;

        return sign_reply(m, &signed_data, error);
}

int sdloop_keystore_sign_return(SdloopCall *c, const SdloopBytes *signed_data) {
        return SERVICE_RETURN(c, sign_reply, signed_data);
}

static const sd_bus_vtable keystore_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Accounts", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", accounts), method_accounts,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Sign", SD_BUS_ARGS("s", account, "ay", data), SD_BUS_RESULT("ay", signed_data),
                                method_sign, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_keystore_export(SdloopObject *o, const SdloopKeystoreOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.Keystore", keystore_vtable, ops, userdata);
}
