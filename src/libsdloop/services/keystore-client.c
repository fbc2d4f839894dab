/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Keystore, the relayer plugin's side. */

#include "sdloop-keystore.h"
#include "service-util.h"

#define KEYSTORE_INTERFACE "org.sdloop1.Keystore"

int sdloop_keystore_accounts(SdloopPeer *peer, const char *path, char ***ret_accounts, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **accounts = NULL;
        int r;

        if (!peer || !path || !ret_accounts)
                return -EINVAL;

        r = service_call_simple(peer, path, KEYSTORE_INTERFACE, "Accounts", &reply, error);
        if (r < 0)
                return r;

        r = sd_bus_message_read_strv(reply, &accounts);
        if (r <= 0)
                return service_reply_garbage(reply, "Accounts reply.accounts", r, error);

        /* An empty "as" reads as NULL; callers get an empty list they can iterate. */
        if (!accounts) {
                accounts = new0(char *, 1);
                if (!accounts)
                        return -ENOMEM;
        }

        *ret_accounts = TAKE_PTR(accounts);
        return 0;
}

int sdloop_keystore_sign(SdloopPeer *peer, const char *path, const char *account, const void *data, size_t size,
                         SdloopBytes *ret_signed, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        SdloopBytes signed_data;
        int r;

        if (!peer || !path || !account || (!data && size > 0) || !ret_signed)
                return -EINVAL;

        r = sdloop_peer_new_call(peer, path, KEYSTORE_INTERFACE, "Sign", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", account);
        if (r < 0)
                return service_append_failed(error, "account", r);
        r = sdloop_append_bytes(m, data, size);
        if (r < 0)
                return service_append_failed(error, "data", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_bytes(reply, "Sign reply.signed_data", 0, &signed_data, error);
        if (r < 0)
                return r;

        *ret_signed = signed_data;
        return 0;
}
