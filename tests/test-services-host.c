/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Keystore, DataSource, ErrorLog, PluginRelayer and Relayer across a real p2p D-Bus connection: a
 * socketpair with a server peer (the objects) and a client peer (the calls) on one sd-event loop. The client
 * calls pump the loop, so both ends run in this one process. */

#include <check.h>
#include <sys/socket.h>

#include "macro.h"
#include "test-util.h"
#include "sdloop.h"

#define KEYSTORE_PATH "/org/sdloop1/host/keystore"
#define EMPTY_PATH    "/org/sdloop1/test/empty"
#define RAW_PATH      "/org/sdloop1/test/raw"
#define VALID_UUID    "0f2e8c3a-6b1d-4e4f-9a7b-3c5d2e1f0a9b"
#define NODES_TOTAL   5
#define NODES_DEFAULT_PAGE 2
/* 2^256 - 1: the largest amount a chain account holds. */
#define UINT256_MAX_DEC "115792089237316195423570985008687907853269984665640564039457584007913129639935"
#define OBSERVE_GARBAGE "DataSource.Observe: implementation returned malformed decimal"

/* --- what the implementations saw and what they are told to do ------------------------------------- */

typedef enum ObserveMode {
        OBSERVE_GOOD,
        OBSERVE_BAD_DECIMAL,
        OBSERVE_BAD_UTF8,
        OBSERVE_FAIL_SILENTLY,
} ObserveMode;

static struct {
        /* keystore */
        char *sign_account;
        SdloopBytes sign_data;
        /* data source */
        ObserveMode observe_mode;
        SdloopReportTimestamp observe_ts;
        unsigned n_observe;
        /* error log */
        char *saved_error;
        /* plugin relayer */
        char *relayer_config;
        char *relayer_keystore;
        bool new_relayer_returns_nothing;
        /* relayer */
        SdloopRelayArgs relay_args;
        SdloopPluginArgs plugin_args;
        bool chain_status_bad_utf8;
        unsigned n_providers_closed;
        char *transact_from, *transact_to, *transact_amount;
        bool transact_balance_check;
} seen;

static sd_event *event;
static SdloopPeer *server, *client;

static void seen_reset(void) {
        free(seen.sign_account);
        sdloop_bytes_done(&seen.sign_data);
        free(seen.saved_error);
        free(seen.relayer_config);
        free(seen.relayer_keystore);
        sdloop_relay_args_done(&seen.relay_args);
        sdloop_plugin_args_done(&seen.plugin_args);
        free(seen.transact_from);
        free(seen.transact_to);
        free(seen.transact_amount);
        memset(&seen, 0, sizeof(seen));
}

/* --- Keystore ---------------------------------------------------------------------------------------- */

static int keystore_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        char **l = new0(char *, 3);

        ck_assert_ptr_nonnull(l);
        l[0] = test_strdup("0xabc");
        l[1] = test_strdup("0xdef");
        *ret_accounts = l;
        return 0;
}

static int keystore_sign(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                         sd_bus_error *error) {
        static const char prefix[] = "signed:";

        free(seen.sign_account);
        seen.sign_account = test_strdup(account);
        sdloop_bytes_done(&seen.sign_data);
        ck_assert_int_eq(sdloop_bytes_copy(&seen.sign_data, data->data, data->size), 0);

        if (!streq(account, "0xabc") && !streq(account, "0xdef"))
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "account %s: no such account", account);

        ret_signed->size = strlen(prefix) + data->size;
        ret_signed->data = malloc(ret_signed->size);
        ck_assert_ptr_nonnull(ret_signed->data);
        memcpy(ret_signed->data, prefix, strlen(prefix));
        if (data->size > 0)
                memcpy(ret_signed->data + strlen(prefix), data->data, data->size);
        return 0;
}

static const SdloopKeystoreOps keystore_ops = {
        .accounts = keystore_accounts,
        .sign = keystore_sign,
};

/* --- DataSource -------------------------------------------------------------------------------------- */

static int data_source_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error) {
        seen.observe_ts = *ts;
        seen.n_observe++;

        switch (seen.observe_mode) {
        case OBSERVE_GOOD:
                *ret_value = test_strdup("-1042");
                return 0;
        case OBSERVE_BAD_DECIMAL:
                *ret_value = test_strdup("0042");
                return 0;
        case OBSERVE_BAD_UTF8:
                *ret_value = test_strdup("\xff\xfe 12");
                return 0;
        case OBSERVE_FAIL_SILENTLY:
                return -EIO;
        }
        return -EINVAL;
}

static const SdloopDataSourceOps data_source_ops = {
        .observe = data_source_observe,
};

/* An Observe that answers garbage without the library's checks, to see the client refuse it. */
static int raw_observe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", "1.5e3");
}

static const sd_bus_vtable raw_data_source_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Observe", "(ayuy)", "s", raw_observe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* --- ErrorLog ---------------------------------------------------------------------------------------- */

static int error_log_save_error(void *userdata, const char *message, sd_bus_error *error) {
        free(seen.saved_error);
        seen.saved_error = test_strdup(message);
        return 0;
}

static const SdloopErrorLogOps error_log_ops = {
        .save_error = error_log_save_error,
};

/* --- Relayer ----------------------------------------------------------------------------------------- */

static void provider_close(void *userdata) {
        seen.n_providers_closed++;
}

static const SdloopObjectOps provider_object_ops = {
        .close = provider_close,
};

static int relayer_new_provider(SdloopObject *relayer, SdloopObject **ret) {
        return sdloop_object_new(sdloop_object_get_peer(relayer), relayer, "provider", &provider_object_ops, NULL,
                                 ret);
}

static void relay_args_remember(const SdloopRelayArgs *a) {
        sdloop_relay_args_done(&seen.relay_args);
        seen.relay_args = (SdloopRelayArgs) {
                .external_job_id = test_strdup(a->external_job_id),
                .job_id = a->job_id,
                .contract_id = test_strdup(a->contract_id),
                .new = a->new,
                .relay_config = test_strdup(a->relay_config),
                .provider_type = test_strdup(a->provider_type),
        };
}

static int relayer_new_config_provider(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                       SdloopObject **ret, sd_bus_error *error) {
        relay_args_remember(relay_args);
        return relayer_new_provider(relayer, ret);
}

static int relayer_new_plugin_provider(void *userdata, SdloopObject *relayer, const SdloopRelayArgs *relay_args,
                                       const SdloopPluginArgs *plugin_args, SdloopObject **ret, sd_bus_error *error) {
        relay_args_remember(relay_args);
        sdloop_plugin_args_done(&seen.plugin_args);
        seen.plugin_args = (SdloopPluginArgs) {
                .transmitter_id = test_strdup(plugin_args->transmitter_id),
                .plugin_config = test_strdup(plugin_args->plugin_config),
        };

        if (!streq(relay_args->provider_type, "median"))
                return sdloop_error_setf(error, SDLOOP_ERROR_UNIMPLEMENTED, "provider type not supported: %s",
                                         relay_args->provider_type);
        return relayer_new_provider(relayer, ret);
}

static int relayer_get_chain_status(void *userdata, SdloopChainStatus *ret, sd_bus_error *error) {
        *ret = (SdloopChainStatus) {
                .id = test_strdup(seen.chain_status_bad_utf8 ? "chain-\xc0\x80" : "chain-1"),
                .enabled = true,
                .config = test_strdup("[Chain]\nID = 'chain-1'\n"),
        };
        return 0;
}

static int relayer_list_node_statuses(void *userdata, int32_t page_size, const char *page_token,
                                      SdloopNodeStatus **ret, size_t *ret_n, int32_t *ret_total,
                                      char **ret_next_page_token, sd_bus_error *error) {
        SdloopNodeStatus *nodes;
        char *next = NULL;
        int start = 0, end;

        /* This implementation's token is the index of the first node of the page. */
        if (!isempty(page_token)) {
                char *e;

                start = (int) strtol(page_token, &e, 10);
                if (*e || start < 0 || start > NODES_TOTAL)
                        return sdloop_error_invalid(error, "page_token", "unknown token");
        }
        end = MIN(start + (page_size > 0 ? page_size : NODES_DEFAULT_PAGE), NODES_TOTAL);

        nodes = new0(SdloopNodeStatus, end - start);
        ck_assert_ptr_nonnull(nodes);
        for (int i = start; i < end; i++) {
                SdloopNodeStatus *n = nodes + (i - start);

                n->chain_id = test_strdup("chain-1");
                ck_assert_int_ge(asprintf(&n->name, "node-%d", i), 0);
                ck_assert_int_ge(asprintf(&n->config, "URL = 'ws://node-%d'", i), 0);
                n->state = test_strdup(i % 2 ? "Unreachable" : "Alive");
        }
        if (end < NODES_TOTAL)
                ck_assert_int_ge(asprintf(&next, "%d", end), 0);
        else
                next = test_strdup("");

        *ret = nodes;
        *ret_n = (size_t) (end - start);
        *ret_total = NODES_TOTAL;
        *ret_next_page_token = next;
        return 0;
}

static int relayer_transact(void *userdata, const char *from, const char *to, const char *amount, bool balance_check,
                            sd_bus_error *error) {
        free(seen.transact_from);
        free(seen.transact_to);
        free(seen.transact_amount);
        seen.transact_from = test_strdup(from);
        seen.transact_to = test_strdup(to);
        seen.transact_amount = test_strdup(amount);
        seen.transact_balance_check = balance_check;

        /* An error name of the implementation's own, to see that it travels unchanged. */
        if (balance_check && amount[0] == '-')
                return sd_bus_error_set(error, "org.example.Chain.InsufficientBalance", "balance too low");
        return 0;
}

static const SdloopRelayerOps relayer_ops = {
        .new_config_provider = relayer_new_config_provider,
        .new_plugin_provider = relayer_new_plugin_provider,
        .get_chain_status = relayer_get_chain_status,
        .list_node_statuses = relayer_list_node_statuses,
        .transact = relayer_transact,
};

/* --- PluginRelayer ----------------------------------------------------------------------------------- */

static int plugin_new_relayer(void *userdata, SdloopObject *parent, const char *config, const char *keystore_path,
                              SdloopObject **ret, sd_bus_error *error) {
        SdloopObject *o;
        int r;

        free(seen.relayer_config);
        free(seen.relayer_keystore);
        seen.relayer_config = test_strdup(config);
        seen.relayer_keystore = test_strdup(keystore_path);

        if (seen.new_relayer_returns_nothing) {
                *ret = NULL;
                return 0;
        }

        r = sdloop_object_new(sdloop_object_get_peer(parent), parent, "relayer", NULL, NULL, &o);
        if (r < 0)
                return r;
        r = sdloop_relayer_export(o, &relayer_ops, NULL);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }
        *ret = o;
        return 0;
}

static const SdloopPluginRelayerOps plugin_relayer_ops = {
        .new_relayer = plugin_new_relayer,
};

/* --- fixture ----------------------------------------------------------------------------------------- */

/* Every ops table empty: each method must answer Unimplemented. */
static const SdloopKeystoreOps keystore_ops_empty = {};
static const SdloopDataSourceOps data_source_ops_empty = {};
static const SdloopErrorLogOps error_log_ops_empty = {};
static const SdloopRelayerOps relayer_ops_empty = {};
static const SdloopPluginRelayerOps plugin_relayer_ops_empty = {};

static char *data_source_path, *error_log_path;

static void pair_new(SdloopPeer **ret_server, SdloopPeer **ret_client) {
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], ret_server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], ret_client), 0);
}

static void setup(void) {
        SdloopObject *root, *keystore, *data_source, *error_log, *empty;

        memset(&seen, 0, sizeof(seen));
        ck_assert_int_eq(sd_event_new(&event), 0);
        pair_new(&server, &client);

        ck_assert_int_eq(sdloop_object_new_at(server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_eq(sdloop_plugin_relayer_export(root, &plugin_relayer_ops, NULL), 0);

        ck_assert_int_eq(sdloop_object_new_at(server, NULL, KEYSTORE_PATH, NULL, NULL, &keystore), 0);
        ck_assert_int_eq(sdloop_keystore_export(keystore, &keystore_ops, NULL), 0);

        ck_assert_int_eq(sdloop_object_new(server, NULL, "host/data_source", NULL, NULL, &data_source), 0);
        ck_assert_int_eq(sdloop_data_source_export(data_source, &data_source_ops, NULL), 0);
        data_source_path = test_strdup(sdloop_object_get_path(data_source));

        ck_assert_int_eq(sdloop_object_new(server, NULL, "host/error_log", NULL, NULL, &error_log), 0);
        ck_assert_int_eq(sdloop_error_log_export(error_log, &error_log_ops, NULL), 0);
        error_log_path = test_strdup(sdloop_object_get_path(error_log));

        ck_assert_int_eq(sdloop_object_new_at(server, NULL, EMPTY_PATH, NULL, NULL, &empty), 0);
        ck_assert_int_eq(sdloop_keystore_export(empty, &keystore_ops_empty, NULL), 0);
        ck_assert_int_eq(sdloop_data_source_export(empty, &data_source_ops_empty, NULL), 0);
        ck_assert_int_eq(sdloop_error_log_export(empty, &error_log_ops_empty, NULL), 0);
        ck_assert_int_eq(sdloop_relayer_export(empty, &relayer_ops_empty, NULL), 0);
}

static void teardown(void) {
        client = sdloop_peer_unref(client);
        server = sdloop_peer_unref(server);
        event = sd_event_unref(event);
        data_source_path = mfree(data_source_path);
        error_log_path = mfree(error_log_path);
        seen_reset();
}

static char *new_relayer(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *path = NULL;
        int r;

        r = sdloop_plugin_relayer_new_relayer(client, "[Chain]\nID = 'chain-1'\n", KEYSTORE_PATH, &path, &error);
        ck_assert_msg(r == 0, "NewRelayer failed: %s", strempty(error.message));
        ck_assert_ptr_nonnull(path);
        return path;
}

static SdloopRelayArgs good_relay_args(const char *provider_type) {
        return (SdloopRelayArgs) {
                .external_job_id = (char *) VALID_UUID,
                .job_id = 42,
                .contract_id = (char *) "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                .new = true,
                .relay_config = (char *) "{\"chainID\":\"1\",\"feedID\":null}",
                .provider_type = (char *) provider_type,
        };
}

static int call_ready(const char *path, sd_bus_error *error) {
        return sdloop_peer_call_method(client, path, "org.sdloop1.Service", "Ready", NULL, error, NULL);
}

/* --- Keystore ---------------------------------------------------------------------------------------- */

START_TEST(test_keystore_round_trip) {
        _cleanup_(sdloop_bytes_done) SdloopBytes sig = {}, empty_sig = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char **accounts = NULL;
        int r;

        r = sdloop_keystore_accounts(client, KEYSTORE_PATH, &accounts, &error);
        ck_assert_msg(r == 0, "Accounts: %s", strempty(error.message));
        ck_assert_uint_eq(strv_length(accounts), 2);
        ck_assert_str_eq(accounts[0], "0xabc");
        ck_assert_str_eq(accounts[1], "0xdef");
        strv_free(accounts);

        r = sdloop_keystore_sign(client, KEYSTORE_PATH, "0xdef", "hello", 5, &sig, &error);
        ck_assert_msg(r == 0, "Sign: %s", strempty(error.message));
        ck_assert_str_eq(seen.sign_account, "0xdef");
        ck_assert_uint_eq(seen.sign_data.size, 5);
        ck_assert_mem_eq(seen.sign_data.data, "hello", 5);
        ck_assert_uint_eq(sig.size, 12);
        ck_assert_mem_eq(sig.data, "signed:hello", 12);

        /* Empty data is data too. */
        r = sdloop_keystore_sign(client, KEYSTORE_PATH, "0xabc", NULL, 0, &empty_sig, &error);
        ck_assert_msg(r == 0, "Sign: %s", strempty(error.message));
        ck_assert_uint_eq(seen.sign_data.size, 0);
        ck_assert_uint_eq(empty_sig.size, 7);
        ck_assert_mem_eq(empty_sig.data, "signed:", 7);
}
END_TEST

START_TEST(test_keystore_error_propagates) {
        SdloopBytes sig = { .data = (uint8_t *) "untouched", .size = 9 };
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_keystore_sign(client, KEYSTORE_PATH, "0xnobody", "x", 1, &sig, &error);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_msg(strstr(error.message, "0xnobody"), "message: %s", error.message);
        test_assert_error(r, &error, SDLOOP_ERROR_NOT_FOUND, NULL);
        /* Failure leaves the result alone. */
        ck_assert_uint_eq(sig.size, 9);
}
END_TEST

/* --- DataSource -------------------------------------------------------------------------------------- */

static SdloopReportTimestamp test_timestamp(void) {
        SdloopReportTimestamp ts = { .epoch = 77, .round = 3 };

        for (unsigned i = 0; i < SDLOOP_DIGEST_SIZE; i++)
                ts.digest[i] = (uint8_t) (i * 7 + 1);
        return ts;
}

START_TEST(test_data_source_round_trip) {
        SdloopReportTimestamp ts = test_timestamp();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        r = sdloop_data_source_observe(client, data_source_path, &ts, &value, &error);
        ck_assert_msg(r == 0, "Observe: %s", strempty(error.message));
        ck_assert_str_eq(value, "-1042");
        ck_assert_mem_eq(seen.observe_ts.digest, ts.digest, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(seen.observe_ts.epoch, 77);
        ck_assert_uint_eq(seen.observe_ts.round, 3);
}
END_TEST

START_TEST(test_data_source_garbage_is_internal) {
        SdloopReportTimestamp ts = test_timestamp();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *value = NULL;
        int r;

        seen.observe_mode = OBSERVE_BAD_DECIMAL;
        r = sdloop_data_source_observe(client, data_source_path, &ts, &value, &error);
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(error.message, "\"0042\""), "message: %s", error.message);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, OBSERVE_GARBAGE);
        ck_assert_ptr_null(value);

        /* Bytes that could not even be put in an error message are quoted, not passed through. */
        seen.observe_mode = OBSERVE_BAD_UTF8;
        r = sdloop_data_source_observe(client, data_source_path, &ts, &value, &error);
        ck_assert_msg(strstr(error.message, "\\xff\\xfe 12"), "message: %s", error.message);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, OBSERVE_GARBAGE);

        /* A failure without an error name still becomes a named one, saying where it happened. */
        seen.observe_mode = OBSERVE_FAIL_SILENTLY;
        r = sdloop_data_source_observe(client, data_source_path, &ts, &value, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, "DataSource.Observe");

        seen.observe_mode = OBSERVE_GOOD;
        r = sdloop_data_source_observe(client, data_source_path, &ts, &value, &error);
        ck_assert_msg(r == 0, "Observe: %s", strempty(error.message));
        ck_assert_str_eq(value, "-1042");
        free(value);
        ck_assert_uint_eq(seen.n_observe, 4);
}
END_TEST

START_TEST(test_data_source_client_checks_reply) {
        SdloopReportTimestamp ts = test_timestamp();
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_slot *slot = NULL;
        char *value = NULL;
        int r;

        ck_assert_int_eq(sd_bus_add_object_vtable(sdloop_peer_get_bus(server), &slot, RAW_PATH,
                                                  "org.sdloop1.DataSource", raw_data_source_vtable, NULL), 0);

        r = sdloop_data_source_observe(client, RAW_PATH, &ts, &value, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "Observe reply.value");
        ck_assert_ptr_null(value);
        sd_bus_slot_unref(slot);
}
END_TEST

/* --- ErrorLog ---------------------------------------------------------------------------------------- */

START_TEST(test_error_log_round_trip) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *max = NULL;
        int r;

        r = sdloop_error_log_save_error(client, error_log_path, "median: observation failed: \u26a0 timeout", &error);
        ck_assert_msg(r == 0, "SaveError: %s", strempty(error.message));
        ck_assert_str_eq(seen.saved_error, "median: observation failed: \u26a0 timeout");

        /* Exactly at the limit is fine. */
        max = malloc(SDLOOP_ERROR_LOG_MESSAGE_MAX + 1);
        ck_assert_ptr_nonnull(max);
        memset(max, 'e', SDLOOP_ERROR_LOG_MESSAGE_MAX);
        max[SDLOOP_ERROR_LOG_MESSAGE_MAX] = '\0';
        r = sdloop_error_log_save_error(client, error_log_path, max, &error);
        ck_assert_msg(r == 0, "SaveError: %s", strempty(error.message));
        ck_assert_uint_eq(strlen(seen.saved_error), SDLOOP_ERROR_LOG_MESSAGE_MAX);
}
END_TEST

START_TEST(test_error_log_refuses_bad_messages) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *big = NULL;
        int r;

        big = malloc(SDLOOP_ERROR_LOG_MESSAGE_MAX + 2);
        ck_assert_ptr_nonnull(big);
        memset(big, 'e', SDLOOP_ERROR_LOG_MESSAGE_MAX + 1);
        big[SDLOOP_ERROR_LOG_MESSAGE_MAX + 1] = '\0';

        r = sdloop_error_log_save_error(client, error_log_path, big, &error);
        ck_assert_int_eq(r, -EINVAL);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "message: ");
        ck_assert_ptr_null(seen.saved_error);

        r = sdloop_error_log_save_error(client, error_log_path, "bad \xc3\x28 utf-8", &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "message: ");
        r = sdloop_error_log_save_error(client, error_log_path, "overlong \xc0\xaf", &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "message: ");
        ck_assert_ptr_null(seen.saved_error);

        /* Still serving. */
        r = sdloop_error_log_save_error(client, error_log_path, "after", &error);
        ck_assert_msg(r == 0, "SaveError: %s", strempty(error.message));
        ck_assert_str_eq(seen.saved_error, "after");
}
END_TEST

/* --- PluginRelayer ----------------------------------------------------------------------------------- */

START_TEST(test_plugin_relayer_new_relayer) {
        _cleanup_free_ char *path = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        path = new_relayer();
        ck_assert_msg(test_startswith(path, "/org/sdloop1/relayer/"), "path: %s", path);
        ck_assert_str_eq(seen.relayer_config, "[Chain]\nID = 'chain-1'\n");
        ck_assert_str_eq(seen.relayer_keystore, KEYSTORE_PATH);

        /* The new object is there, with Service and Relayer. */
        ck_assert_int_eq(call_ready(path, &error), 0);
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, path));
}
END_TEST

START_TEST(test_plugin_relayer_bad_input) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *big = NULL, *path = NULL;
        const size_t limit = 1024 * 1024;
        char *p = NULL;
        int r;

        /* The keystore lives on the other side: any valid path is passed on, nothing is looked up. */
        r = sdloop_plugin_relayer_new_relayer(client, "", "/org/sdloop1/host/keystore_elsewhere", &path, &error);
        ck_assert_msg(r == 0, "NewRelayer: %s", strempty(error.message));
        ck_assert_str_eq(seen.relayer_keystore, "/org/sdloop1/host/keystore_elsewhere");
        ck_assert_str_eq(seen.relayer_config, "");

        r = sdloop_plugin_relayer_new_relayer(client, "x", "not/a/path", &p, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "keystore: ");

        big = malloc(limit + 2);
        ck_assert_ptr_nonnull(big);
        memset(big, '#', limit + 1);
        big[limit + 1] = '\0';
        r = sdloop_plugin_relayer_new_relayer(client, big, KEYSTORE_PATH, &p, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "config: ");
        ck_assert_ptr_null(p);

        /* 1 MiB itself is accepted. */
        big[limit] = '\0';
        free(path);
        r = sdloop_plugin_relayer_new_relayer(client, big, KEYSTORE_PATH, &path, &error);
        ck_assert_msg(r == 0, "NewRelayer: %s", strempty(error.message));
        ck_assert_uint_eq(strlen(seen.relayer_config), limit);
}
END_TEST

START_TEST(test_plugin_relayer_no_object_is_internal) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *path = NULL;
        int r;

        seen.new_relayer_returns_nothing = true;
        r = sdloop_plugin_relayer_new_relayer(client, "", KEYSTORE_PATH, &path, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, "PluginRelayer.NewRelayer: implementation returned no object");
        ck_assert_ptr_null(path);
}
END_TEST

START_TEST(test_plugin_relayer_unimplemented) {
        SdloopPeer *s = NULL, *c = NULL;
        SdloopObject *root;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *path = NULL;
        int r;

        pair_new(&s, &c);
        ck_assert_int_eq(sdloop_object_new_at(s, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_eq(sdloop_plugin_relayer_export(root, &plugin_relayer_ops_empty, NULL), 0);

        r = sdloop_plugin_relayer_new_relayer(c, "", KEYSTORE_PATH, &path, &error);
        ck_assert_int_eq(r, -EOPNOTSUPP);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, NULL);
        ck_assert_ptr_null(path);

        sdloop_peer_unref(c);
        sdloop_peer_unref(s);
}
END_TEST

/* --- Relayer ----------------------------------------------------------------------------------------- */

START_TEST(test_relayer_chain_service) {
        _cleanup_free_ char *relayer = NULL;
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopNodeStatus *nodes = NULL;
        char *token = NULL, *prev = NULL;
        int32_t total = -1;
        size_t n = 0, seen_nodes = 0;
        int r;

        relayer = new_relayer();

        r = sdloop_relayer_get_chain_status(client, relayer, &status, &error);
        ck_assert_msg(r == 0, "GetChainStatus: %s", strempty(error.message));
        ck_assert_str_eq(status.id, "chain-1");
        ck_assert(status.enabled);
        ck_assert_str_eq(status.config, "[Chain]\nID = 'chain-1'\n");

        /* Page through all nodes with the implementation's default page size. */
        do {
                r = sdloop_relayer_list_node_statuses(client, relayer, 0, prev, &nodes, &n, &total, &token, &error);
                ck_assert_msg(r == 0, "ListNodeStatuses: %s", strempty(error.message));
                ck_assert_int_eq(total, NODES_TOTAL);
                ck_assert_uint_le(n, NODES_DEFAULT_PAGE);
                for (size_t i = 0; i < n; i++) {
                        char name[32];

                        snprintf(name, sizeof(name), "node-%zu", seen_nodes + i);
                        ck_assert_str_eq(nodes[i].chain_id, "chain-1");
                        ck_assert_str_eq(nodes[i].name, name);
                        ck_assert_str_eq(nodes[i].state, (seen_nodes + i) % 2 ? "Unreachable" : "Alive");
                        ck_assert(test_startswith(nodes[i].config, "URL = 'ws://node-"));
                }
                seen_nodes += n;
                sdloop_node_statuses_free(nodes, n);
                free(prev);
                prev = TAKE_PTR(token);
        } while (!isempty(prev));
        free(prev);
        ck_assert_uint_eq(seen_nodes, NODES_TOTAL);

        /* An explicit page size. */
        r = sdloop_relayer_list_node_statuses(client, relayer, 4, "", &nodes, &n, &total, &token, &error);
        ck_assert_msg(r == 0, "ListNodeStatuses: %s", strempty(error.message));
        ck_assert_uint_eq(n, 4);
        ck_assert_str_eq(token, "4");
        sdloop_node_statuses_free(nodes, n);
        free(token);

        /* The token is the implementation's: its own errors come back by name. */
        r = sdloop_relayer_list_node_statuses(client, relayer, 2, "bogus", &nodes, &n, &total, &token, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "page_token: ");

        r = sdloop_relayer_list_node_statuses(client, relayer, -1, "", &nodes, &n, &total, &token, &error);
        ck_assert_int_eq(r, -EINVAL);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "page_size: ");

        r = sdloop_relayer_transact(client, relayer, "0xabc", "0xdef", UINT256_MAX_DEC, true, &error);
        ck_assert_msg(r == 0, "Transact: %s", strempty(error.message));
        ck_assert_str_eq(seen.transact_from, "0xabc");
        ck_assert_str_eq(seen.transact_to, "0xdef");
        ck_assert_str_eq(seen.transact_amount, UINT256_MAX_DEC);
        ck_assert(seen.transact_balance_check);

        r = sdloop_relayer_transact(client, relayer, "0xdef", "0xabc", "0", false, &error);
        ck_assert_msg(r == 0, "Transact: %s", strempty(error.message));
        ck_assert_str_eq(seen.transact_amount, "0");
        ck_assert(!seen.transact_balance_check);
}
END_TEST

START_TEST(test_relayer_bad_input) {
        _cleanup_free_ char *relayer = NULL, *provider = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopRelayArgs ra;
        SdloopPluginArgs pa = { .transmitter_id = (char *) "0xabc", .plugin_config = (char *) "{}" };
        char *p = NULL;
        int r;

        relayer = new_relayer();

        static const char *const bad_amounts[] = { "12.5", "007", "-0", "+1", "", "1e3", " 1" };
        for (size_t i = 0; i < ELEMENTSOF(bad_amounts); i++) {
                r = sdloop_relayer_transact(client, relayer, "0xabc", "0xdef", bad_amounts[i], true, &error);
                ck_assert_int_eq(r, -EINVAL);
                test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "amount: ");
        }
        ck_assert_ptr_null(seen.transact_amount);

        ra = good_relay_args("median");
        ra.external_job_id = (char *) "0f2e8c3a-6b1d-4e4f-9a7b-3c5d2e1f0a9"; /* one digit short */
        r = sdloop_relayer_new_config_provider(client, relayer, &ra, &p, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "relay_args.external_job_id");
        r = sdloop_relayer_new_plugin_provider(client, relayer, &ra, &pa, &p, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "relay_args.external_job_id");

        ra = good_relay_args("median");
        ra.relay_config = (char *) "{\"chainID\": 1,";
        r = sdloop_relayer_new_config_provider(client, relayer, &ra, &p, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "relay_args.relay_config");

        ra = good_relay_args("median");
        pa.plugin_config = (char *) "not json";
        r = sdloop_relayer_new_plugin_provider(client, relayer, &ra, &pa, &p, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "plugin_args.plugin_config");
        ck_assert_ptr_null(p);
        ck_assert_ptr_null(seen.relay_args.external_job_id);

        /* Nothing got through, and good calls still work. */
        pa.plugin_config = (char *) "{\"juelsPerFeeCoinSource\":\"x\"}";
        r = sdloop_relayer_new_plugin_provider(client, relayer, &ra, &pa, &provider, &error);
        ck_assert_msg(r == 0, "NewPluginProvider: %s", strempty(error.message));
        r = sdloop_relayer_transact(client, relayer, "0xabc", "0xdef", "-5", false, &error);
        ck_assert_msg(r == 0, "Transact: %s", strempty(error.message));
        ck_assert_str_eq(seen.transact_amount, "-5");
}
END_TEST

START_TEST(test_relayer_errors_propagate) {
        _cleanup_free_ char *relayer = NULL;
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopRelayArgs ra = good_relay_args("mercury");
        SdloopPluginArgs pa = { .transmitter_id = (char *) "0xabc", .plugin_config = (char *) "{}" };
        char *p = NULL;
        int r;

        relayer = new_relayer();

        /* The implementation's own name, unchanged. */
        r = sdloop_relayer_transact(client, relayer, "0xabc", "0xdef", "-10", true, &error);
        ck_assert(strstr(error.message, "balance too low"));
        test_assert_error(r, &error, "org.example.Chain.InsufficientBalance", NULL);

        r = sdloop_relayer_new_plugin_provider(client, relayer, &ra, &pa, &p, &error);
        ck_assert_int_eq(r, -EOPNOTSUPP);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "provider type not supported: mercury");
        ck_assert_ptr_null(p);

        /* A string sd-bus cannot carry is the implementation's fault. */
        seen.chain_status_bad_utf8 = true;
        r = sdloop_relayer_get_chain_status(client, relayer, &status, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INTERNAL, "Relayer.GetChainStatus: implementation returned status.id");
        ck_assert_ptr_null(status.id);
}
END_TEST

START_TEST(test_relayer_close_closes_providers) {
        _cleanup_free_ char *relayer = NULL, *config_provider = NULL, *plugin_provider = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopRelayArgs ra = good_relay_args("median");
        SdloopPluginArgs pa = { .transmitter_id = (char *) "0xabc", .plugin_config = (char *) "{\"a\":[1,2]}" };
        int r;

        relayer = new_relayer();

        r = sdloop_relayer_new_config_provider(client, relayer, &ra, &config_provider, &error);
        ck_assert_msg(r == 0, "NewConfigProvider: %s", strempty(error.message));
        ck_assert_msg(test_startswith(config_provider, "/org/sdloop1/provider/"), "path: %s", config_provider);
        ck_assert_str_eq(seen.relay_args.external_job_id, VALID_UUID);
        ck_assert_int_eq(seen.relay_args.job_id, 42);
        ck_assert_str_eq(seen.relay_args.contract_id, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
        ck_assert(seen.relay_args.new);
        ck_assert_str_eq(seen.relay_args.relay_config, "{\"chainID\":\"1\",\"feedID\":null}");
        ck_assert_str_eq(seen.relay_args.provider_type, "median");

        r = sdloop_relayer_new_plugin_provider(client, relayer, &ra, &pa, &plugin_provider, &error);
        ck_assert_msg(r == 0, "NewPluginProvider: %s", strempty(error.message));
        ck_assert_str_ne(plugin_provider, config_provider);
        ck_assert_str_eq(seen.plugin_args.transmitter_id, "0xabc");
        ck_assert_str_eq(seen.plugin_args.plugin_config, "{\"a\":[1,2]}");

        ck_assert_int_eq(call_ready(config_provider, &error), 0);
        ck_assert_int_eq(call_ready(plugin_provider, &error), 0);

        r = sdloop_peer_call_method(client, relayer, "org.sdloop1.Service", "Close", NULL, &error, NULL);
        ck_assert_msg(r == 0, "Close: %s", strempty(error.message));
        ck_assert_uint_eq(seen.n_providers_closed, 2);

        /* Gone from the bus, children and relayer alike. */
        const char *const gone[] = { config_provider, plugin_provider, relayer };
        for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
                r = call_ready(gone[i], &error);
                ck_assert_int_lt(r, 0);
                ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_NOT_FOUND) && strstr(error.message, gone[i]),
                              "%s: got %s", gone[i], strempty(error.name));
                sd_bus_error_free(&error);
                ck_assert_ptr_null(sdloop_peer_find_object(server, gone[i]));
        }

        /* And a new relayer can be made afterwards. */
        free(new_relayer());
}
END_TEST

/* --- Unimplemented ------------------------------------------------------------------------------------ */

START_TEST(test_unimplemented) {
        SdloopReportTimestamp ts = test_timestamp();
        SdloopRelayArgs ra = good_relay_args("median");
        SdloopPluginArgs pa = { .transmitter_id = (char *) "0xabc", .plugin_config = (char *) "{}" };
        SdloopChainStatus status = {};
        SdloopNodeStatus *nodes = NULL;
        SdloopBytes sig = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char **accounts = NULL, *s = NULL;
        size_t n = 0;
        int32_t total;
        int r;

        r = sdloop_keystore_accounts(client, EMPTY_PATH, &accounts, &error);
        ck_assert_int_eq(r, -EOPNOTSUPP);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Keystore.Accounts()");
        r = sdloop_keystore_sign(client, EMPTY_PATH, "0xabc", "x", 1, &sig, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Keystore.Sign()");
        r = sdloop_data_source_observe(client, EMPTY_PATH, &ts, &s, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.DataSource.Observe()");
        r = sdloop_error_log_save_error(client, EMPTY_PATH, "x", &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.ErrorLog.SaveError()");
        r = sdloop_relayer_new_config_provider(client, EMPTY_PATH, &ra, &s, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Relayer.NewConfigProvider()");
        r = sdloop_relayer_new_plugin_provider(client, EMPTY_PATH, &ra, &pa, &s, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Relayer.NewPluginProvider()");
        r = sdloop_relayer_get_chain_status(client, EMPTY_PATH, &status, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Relayer.GetChainStatus()");
        r = sdloop_relayer_list_node_statuses(client, EMPTY_PATH, 0, "", &nodes, &n, &total, &s, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Relayer.ListNodeStatuses()");
        r = sdloop_relayer_transact(client, EMPTY_PATH, "a", "b", "1", false, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_UNIMPLEMENTED, "org.sdloop1.Relayer.Transact()");

        /* Arguments are still checked first: a bad one is the caller's problem whatever the object does. */
        r = sdloop_relayer_transact(client, EMPTY_PATH, "a", "b", "1.0", false, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "amount: ");

        ck_assert_ptr_null(accounts);
        ck_assert_ptr_null(s);
        ck_assert_ptr_null(nodes);
}
END_TEST

static Suite *services_host_suite(void) {
        Suite *s = suite_create("services-host");
        TCase *tc;

        tc = tcase_create("keystore");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_keystore_round_trip);
        tcase_add_test(tc, test_keystore_error_propagates);
        suite_add_tcase(s, tc);

        tc = tcase_create("data-source");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_data_source_round_trip);
        tcase_add_test(tc, test_data_source_garbage_is_internal);
        tcase_add_test(tc, test_data_source_client_checks_reply);
        suite_add_tcase(s, tc);

        tc = tcase_create("error-log");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_error_log_round_trip);
        tcase_add_test(tc, test_error_log_refuses_bad_messages);
        suite_add_tcase(s, tc);

        tc = tcase_create("plugin-relayer");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_plugin_relayer_new_relayer);
        tcase_add_test(tc, test_plugin_relayer_bad_input);
        tcase_add_test(tc, test_plugin_relayer_no_object_is_internal);
        tcase_add_test(tc, test_plugin_relayer_unimplemented);
        suite_add_tcase(s, tc);

        tc = tcase_create("relayer");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_relayer_chain_service);
        tcase_add_test(tc, test_relayer_bad_input);
        tcase_add_test(tc, test_relayer_errors_propagate);
        tcase_add_test(tc, test_relayer_close_closes_providers);
        tcase_add_test(tc, test_unimplemented);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(services_host_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
