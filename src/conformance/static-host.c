/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The host's static services: Keystore, DataSource (value and juels per fee coin), ErrorLog. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"

typedef struct HostObject {
        const char *value; /* DataSource: what Observe() answers */
        unsigned n_calls;
} HostObject;

static void host_object_close(void *userdata) {
        free(userdata);
}

static const SdloopObjectOps host_object_ops = {
        .close = host_object_close,
};

unsigned static_host_object_get_calls(SdloopObject *o) {
        HostObject *h = sdloop_object_get_userdata(o);

        return h ? h->n_calls : 0;
}

/* Make the object, hand it to @export; on failure nothing is left behind. */
static int host_object_new(SdloopPeer *peer, const char *path, const char *kind, const char *value,
                           int (*export)(SdloopObject *o, HostObject *h), SdloopObject **ret) {
        SdloopObject *o;
        HostObject *h;
        int r;

        h = new0(HostObject, 1);
        if (!h)
                return -ENOMEM;
        h->value = value;

        if (path)
                r = sdloop_object_new_at(peer, NULL, path, &host_object_ops, h, &o);
        else
                r = sdloop_object_new(peer, NULL, kind, &host_object_ops, h, &o);
        if (r < 0) {
                free(h);
                return r;
        }

        r = export(o, h);
        if (r < 0) {
                sdloop_object_close(o); /* frees h */
                return r;
        }

        if (ret)
                *ret = o;
        return 0;
}

/* --- Keystore --- */

static int keystore_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        HostObject *h = userdata;
        char **accounts;

        accounts = new0(char *, 2);
        if (!accounts)
                return -ENOMEM;
        accounts[0] = strdup(FIXTURE_ACCOUNT);
        if (!accounts[0]) {
                free(accounts);
                return -ENOMEM;
        }

        h->n_calls++;
        *ret_accounts = accounts;
        return 0;
}

static int keystore_sign(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                         sd_bus_error *error) {
        HostObject *h = userdata;
        int r;

        r = fixture_check_string(FIXTURE_ACCOUNT, account, "account", error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&fixture_encoded, data->data, data->size, "data", error);
        if (r < 0)
                return r;

        r = fixture_copy_bytes(&fixture_signed, ret_signed);
        if (r < 0)
                return r;
        h->n_calls++;
        return 0;
}

static const SdloopKeystoreOps keystore_ops = {
        .accounts = keystore_accounts,
        .sign = keystore_sign,
};

static int keystore_export(SdloopObject *o, HostObject *h) {
        return sdloop_keystore_export(o, &keystore_ops, h);
}

int static_keystore_new(SdloopPeer *peer, SdloopObject **ret) {
        return host_object_new(peer, STATIC_KEYSTORE_PATH, NULL, NULL, keystore_export, ret);
}

/* --- DataSource --- */

static int data_source_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error) {
        HostObject *h = userdata;
        char *v;
        int r;

        r = fixture_check_report_timestamp(ts, "report_timestamp", error);
        if (r < 0)
                return r;

        v = strdup(h->value);
        if (!v)
                return -ENOMEM;
        h->n_calls++;
        *ret_value = v;
        return 0;
}

static const SdloopDataSourceOps data_source_ops = {
        .observe = data_source_observe,
};

static int data_source_export(SdloopObject *o, HostObject *h) {
        return sdloop_data_source_export(o, &data_source_ops, h);
}

int static_data_source_new(SdloopPeer *peer, const char *value, SdloopObject **ret) {
        return host_object_new(peer, NULL, "host/data_source", value, data_source_export, ret);
}

/* --- ErrorLog --- */

static int error_log_save_error(void *userdata, const char *message, sd_bus_error *error) {
        HostObject *h = userdata;
        int r;

        r = fixture_check_string(FIXTURE_ERROR_MESSAGE, message, "message", error);
        if (r < 0)
                return r;
        h->n_calls++;
        return 0;
}

static const SdloopErrorLogOps error_log_ops = {
        .save_error = error_log_save_error,
};

static int error_log_export(SdloopObject *o, HostObject *h) {
        return sdloop_error_log_export(o, &error_log_ops, h);
}

int static_error_log_new(SdloopPeer *peer, SdloopObject **ret) {
        return host_object_new(peer, NULL, "host/error_log", NULL, error_log_export, ret);
}
