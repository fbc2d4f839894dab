/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The relayer plugin's static services: PluginRelayer (root) and Relayer. */

#include <errno.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "suite.h"

/* --- Relayer --- */

/* NewConfigProvider carries a provider type too; the fixture's is the one expected. */
static int check_provider_type(const SdloopRelayArgs *relay_args, StaticProviderType *ret, sd_bus_error *error) {
        if (streq_ptr(relay_args->provider_type, FIXTURE_PROVIDER_TYPE_MEDIAN))
                *ret = STATIC_PROVIDER_MEDIAN;
        else if (streq_ptr(relay_args->provider_type, FIXTURE_PROVIDER_TYPE_PLUGIN))
                *ret = STATIC_PROVIDER_PLUGIN;
        else
                return sdloop_error_setf(error, SDLOOP_ERROR_UNIMPLEMENTED,
                                         "relay_args.provider_type: provider type \"%s\" is not supported",
                                         strempty(relay_args->provider_type));
        return 0;
}

static int relayer_new_config_provider(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                       SdloopObject **ret, sd_bus_error *error) {
        int r;

        r = fixture_check_relay_args(relay_args, "relay_args", error);
        if (r < 0)
                return r;
        r = fixture_check_string(fixture_relay_args.provider_type, relay_args->provider_type,
                                 "relay_args.provider_type", error);
        if (r < 0)
                return r;

        return static_provider_new(relayer, STATIC_PROVIDER_CONFIG, ret);
}

static int relayer_new_plugin_provider(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                       const SdloopPluginArgs *plugin_args, SdloopObject **ret,
                                       sd_bus_error *error) {
        StaticProviderType type;
        int r;

        r = check_provider_type(relay_args, &type, error);
        if (r < 0)
                return r;
        r = fixture_check_relay_args(relay_args, "relay_args", error);
        if (r < 0)
                return r;
        r = fixture_check_plugin_args(plugin_args, "plugin_args", error);
        if (r < 0)
                return r;

        return static_provider_new(relayer, type, ret);
}

static int relayer_get_chain_status(void *userdata, SdloopChainStatus *ret, sd_bus_error *error) {
        return fixture_copy_chain_status(ret);
}

static int relayer_list_node_statuses(void *userdata, int32_t page_size, const char *page_token,
                                      SdloopNodeStatus **ret, size_t *ret_n, int32_t *ret_total,
                                      char **ret_next_page_token, sd_bus_error *error) {
        int r;

        r = fixture_check_int(FIXTURE_PAGE_SIZE, page_size, "page_size", error);
        if (r < 0)
                return r;
        r = fixture_check_string(FIXTURE_PAGE_TOKEN, page_token, "page_token", error);
        if (r < 0)
                return r;

        r = fixture_copy_node_statuses(ret, ret_n);
        if (r < 0)
                return r;
        *ret_total = FIXTURE_TOTAL_NODES;
        *ret_next_page_token = NULL; /* the last page */
        return 0;
}

static int relayer_transact(void *userdata, const char *from, const char *to, const char *amount,
                            bool balance_check, sd_bus_error *error) {
        int r;

        r = fixture_check_string(FIXTURE_FROM, from, "from", error);
        if (r < 0)
                return r;
        r = fixture_check_string(FIXTURE_TO, to, "to", error);
        if (r < 0)
                return r;
        r = fixture_check_string(FIXTURE_AMOUNT, amount, "amount", error);
        if (r < 0)
                return r;
        return fixture_check_bool(FIXTURE_BALANCE_CHECK, balance_check, "balance_check", error);
}

static const SdloopRelayerOps relayer_ops = {
        .new_config_provider = relayer_new_config_provider,
        .new_plugin_provider = relayer_new_plugin_provider,
        .get_chain_status = relayer_get_chain_status,
        .list_node_statuses = relayer_list_node_statuses,
        .transact = relayer_transact,
};

/* --- PluginRelayer --- */

/* LOOP's StaticPluginRelayer: before it answers, the keystore must give the fixture account, then sign the
 * fixture data with it. The answer comes later, from the keystore's replies. */
typedef struct RelayerJob {
        SdloopCall *call;
        char *keystore_path;
        sd_bus_slot *slot;
} RelayerJob;

static RelayerJob *relayer_job_free(RelayerJob *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->slot);
        sdloop_call_unref(j->call);
        free(j->keystore_path);
        return mfree(j);
}

static void relayer_job_freep(RelayerJob **j) {
        relayer_job_free(*j);
}

static void relayer_job_cancelled(SdloopCall *call, void *userdata) {
        relayer_job_free(userdata);
}

static void relayer_job_fail(RelayerJob *j, int r, const sd_bus_error *error) {
        (void) conformance_call_return_error(j->call, r, error);
        relayer_job_free(j);
}

static int relayer_create(RelayerJob *j) {
        SdloopObject *relayer;
        int r;

        r = sdloop_object_new(sdloop_call_get_peer(j->call), sdloop_call_get_object(j->call), "relayer", NULL, NULL,
                              &relayer);
        if (r < 0)
                return r;
        r = sdloop_relayer_export(relayer, &relayer_ops, NULL);
        if (r >= 0)
                r = sdloop_plugin_relayer_new_relayer_return(j->call, relayer);
        if (r < 0)
                /* Nobody learns of it. */
                sdloop_object_close(relayer);
        return r;
}

static void on_signed(SdloopPeer *peer, int r, SdloopBytes *signed_data, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        RelayerJob *j = userdata;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                relayer_job_fail(j, conformance_error_prefix(error, r, "keystore: Sign()"), error);
                return;
        }
        r = fixture_check_bytes(&fixture_signed, signed_data->data, signed_data->size, "keystore: Sign() reply", &e);
        if (r < 0) {
                relayer_job_fail(j, r, &e);
                return;
        }

        r = relayer_create(j);
        /* Still to answer if creating the relayer failed; one the typed return refused got Internal. */
        if (sdloop_call_is_pending(j->call))
                (void) sdloop_call_return_errno(j->call, r, NULL);
        relayer_job_free(j);
}

static void on_accounts(SdloopPeer *peer, int r, char ***accounts, sd_bus_error *error, void *userdata) {
        static const char * const accounts_expected[] = { FIXTURE_ACCOUNT, NULL };
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        RelayerJob *j = userdata;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                relayer_job_fail(j, conformance_error_prefix(error, r, "keystore: Accounts()"), error);
                return;
        }
        r = fixture_check_strv(accounts_expected, *accounts, "keystore: Accounts() reply", &e);
        if (r < 0) {
                relayer_job_fail(j, r, &e);
                return;
        }

        r = sdloop_keystore_sign_async(peer, j->keystore_path, FIXTURE_ACCOUNT, fixture_encoded.data,
                                       fixture_encoded.size, sdloop_call_get_context(j->call), on_signed, j, &j->slot);
        if (r < 0)
                relayer_job_fail(j, conformance_send_failed(&e, peer, r, "keystore: Sign()"), &e);
}

static int plugin_relayer_new_relayer(void *userdata, SdloopObject *parent, const char *config,
                                      const char *keystore_path, SdloopObject **ret, sd_bus_error *error) {
        _cleanup_(relayer_job_freep) RelayerJob *j = NULL;
        SdloopPeer *peer = sdloop_object_get_peer(parent);
        int r;

        r = fixture_check_string(FIXTURE_CONFIG_TOML, config, "config", error);
        if (r < 0)
                return r;

        j = new0(RelayerJob, 1);
        if (!j)
                return -ENOMEM;
        j->keystore_path = strdup(keystore_path);
        if (!j->keystore_path)
                return -ENOMEM;

        j->call = sdloop_call_defer();
        if (!j->call)
                return -ENOMEM;
        sdloop_call_set_cancel_handler(j->call, relayer_job_cancelled, j);

        r = sdloop_keystore_accounts_async(peer, keystore_path, sdloop_call_get_context(j->call), on_accounts, j,
                                           &j->slot);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                relayer_job_fail(TAKE_PTR(j), conformance_send_failed(&e, peer, r, "keystore: Accounts()"), &e);
                return 0;
        }

        /* The replies or the cancel handler own the job now. */
        TAKE_PTR(j);
        return 0;
}

static const SdloopPluginRelayerOps plugin_relayer_ops = {
        .new_relayer = plugin_relayer_new_relayer,
};

int static_plugin_relayer_export(SdloopObject *root) {
        return sdloop_plugin_relayer_export(root, &plugin_relayer_ops, NULL);
}
