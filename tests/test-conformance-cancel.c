/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The static implementations answer NewRelayer and NewMedianFactory later, after calls of their own to the
 * host's objects. Here one of those host objects never answers, and the served call is cancelled while it
 * waits: its deadline passes, its object is closed, or its caller goes away. The plugin side must drop its
 * outstanding call (a late answer then changes nothing) and free its job; under ASan nothing may leak.
 *
 * Both sides live in this process, on one sd-event loop that the test turns at top level: a server peer
 * with the static plugin's root object, a client peer with the host's objects. */

#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "suite.h"

#define WAIT_USEC (5U * USEC_PER_SEC)

typedef enum Stall {
        STALL_KEYSTORE,    /* NewRelayer: Keystore.Accounts() */
        STALL_PROVIDER,    /* NewMedianFactory: the provider checks' first call */
        STALL_DATA_SOURCE, /* NewMedianFactory: DataSource.Observe(), after every provider check passed */
        _STALL_MAX,
} Stall;

typedef enum CancelBy {
        CANCEL_DEADLINE,
        CANCEL_CLOSE,
        CANCEL_CALLER_GONE,
        _CANCEL_MAX,
} CancelBy;

static const char * const stall_names[_STALL_MAX] = { "keystore", "provider", "data source" };
static const char * const cancel_names[_CANCEL_MAX] = { "deadline", "close", "caller gone" };

static struct {
        sd_event *event;
        SdloopPeer *server, *client;
        SdloopObject *root;         /* server: PluginRelayer or PluginMedian */
        SdloopObject *host[5];      /* client: what the plugin calls */
        SdloopCall *stalled;        /* the host call that is not answered */
        unsigned n_host_calls;      /* host calls that arrived, stalled or not */
        bool replied;
        sd_bus_error reply_error;
} T;

/* --- the host's objects ----------------------------------------------------------------------------- */

static void on_stalled_cancelled(SdloopCall *call, void *userdata) {
        assert(T.stalled == call);
        T.stalled = sdloop_call_unref(T.stalled);
}

static void stall(void) {
        T.n_host_calls++;
        ck_assert_ptr_null(T.stalled);
        T.stalled = sdloop_call_defer();
        ck_assert_ptr_nonnull(T.stalled);
        sdloop_call_set_cancel_handler(T.stalled, on_stalled_cancelled, NULL);
}

static int stalled_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        stall();
        return 0;
}

static int counted_sign(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                        sd_bus_error *error) {
        T.n_host_calls++;
        return fixture_copy_bytes(&fixture_signed, ret_signed);
}

static int stalled_config_digest_prefix(void *userdata, uint16_t *ret_prefix, sd_bus_error *error) {
        stall();
        return 0;
}

static int counted_config_digest(void *userdata, const SdloopContractConfig *config,
                                 uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        T.n_host_calls++;
        memcpy(ret_digest, fixture_config_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int stalled_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        stall();
        return 0;
}

static int counted_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        T.n_host_calls++;
        *ret_value = strdup(FIXTURE_JUELS_PER_FEE_COIN);
        return *ret_value ? 0 : -ENOMEM;
}

static SdloopObject *host_object(const char *path) {
        SdloopObject *o;

        ck_assert_int_eq(sdloop_object_new_at(T.client, NULL, path, NULL, NULL, &o), 0);
        return o;
}

static void export_host_objects(Stall stall_at) {
        static const SdloopKeystoreOps keystore_ops = { .accounts = stalled_accounts, .sign = counted_sign };
        static const SdloopOffchainConfigDigesterOps ocd_ops = {
                .config_digest_prefix = stalled_config_digest_prefix,
                .config_digest = counted_config_digest,
        };
        static const SdloopDataSourceOps stalled_ops = { .observe = stalled_observe };
        static const SdloopDataSourceOps counted_ops = { .observe = counted_observe };
        SdloopObject *parent;

        if (stall_at == STALL_KEYSTORE) {
                T.host[0] = host_object(STATIC_KEYSTORE_PATH);
                ck_assert_int_eq(sdloop_keystore_export(T.host[0], &keystore_ops, NULL), 0);
                return;
        }

        if (stall_at == STALL_PROVIDER) {
                T.host[0] = host_object(SDLOOP_ROOT_PATH "/host/provider/1");
                ck_assert_int_eq(sdloop_offchain_config_digester_export(T.host[0], &ocd_ops, NULL), 0);
        } else {
                /* A complete static provider, so that the checks pass and the data source comes next; where
                 * the host's proxy would be, as the plugin checks. */
                ck_assert_int_eq(sdloop_object_new(T.client, NULL, "relayer", NULL, NULL, &parent), 0);
                T.host[0] = parent;
                ck_assert_int_eq(static_provider_new_at(parent, SDLOOP_ROOT_PATH "/host/provider/1",
                                                        STATIC_PROVIDER_MEDIAN, &T.host[1]), 0);
        }
        T.host[2] = host_object(SDLOOP_ROOT_PATH "/host/data_source/1");
        ck_assert_int_eq(sdloop_data_source_export(T.host[2], &stalled_ops, NULL), 0);
        T.host[3] = host_object(SDLOOP_ROOT_PATH "/host/data_source/2");
        ck_assert_int_eq(sdloop_data_source_export(T.host[3], &counted_ops, NULL), 0);
        ck_assert_int_eq(static_error_log_new(T.client, &T.host[4]), 0);
}

/* --- set-up ------------------------------------------------------------------------------------------ */

static void setup_pair(Stall stall_at) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int fds[2], r;

        T = (typeof(T)) { .reply_error = SD_BUS_ERROR_NULL };
        ck_assert_int_eq(sd_event_new(&T.event), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(T.event, fds[0], &T.server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(T.event, fds[1], &T.client), 0);
        (void) sdloop_peer_set_description(T.server, "plugin");
        (void) sdloop_peer_set_description(T.client, "host");

        ck_assert_int_eq(sdloop_object_new_at(T.server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &T.root), 0);
        if (stall_at == STALL_KEYSTORE)
                ck_assert_int_eq(static_plugin_relayer_export(T.root), 0);
        else
                ck_assert_int_eq(static_plugin_median_export(T.root), 0);
        export_host_objects(stall_at);

        /* The host speaks first, as with a real plugin. */
        r = sdloop_peer_call_method(T.client, "/", "org.freedesktop.DBus.Peer", "Ping", NULL, &error, NULL);
        ck_assert_msg(r >= 0, "Ping: %s", strempty(error.message));
}

static void teardown_pair(void) {
        /* Children (the provider) before their parent. */
        for (size_t i = ELEMENTSOF(T.host); i > 0; i--)
                sdloop_object_close(T.host[i - 1]);
        sdloop_object_close(T.root);
        T.client = sdloop_peer_unref(T.client);
        T.server = sdloop_peer_unref(T.server);
        ck_assert_ptr_null(T.stalled);
        sd_bus_error_free(&T.reply_error);
        T.event = sd_event_unref(T.event);
}

/* --- the call ---------------------------------------------------------------------------------------- */

static void on_created(SdloopPeer *peer, int r, char **path, sd_bus_error *error, void *userdata) {
        T.replied = true;
        ck_assert_int_lt(r, 0);
        (void) sd_bus_error_move(&T.reply_error, error);
}

static int start_call(Stall stall_at, SdloopContext *ctx, sd_bus_slot **ret_slot) {
        SdloopMedianDeps deps = {
                .provider = stall_at == STALL_PROVIDER ? SDLOOP_ROOT_PATH "/host/provider/1" : NULL,
                .data_source = SDLOOP_ROOT_PATH "/host/data_source/1",
                .juels_data_source = SDLOOP_ROOT_PATH "/host/data_source/2",
                .error_log = NULL,
        };

        if (stall_at == STALL_KEYSTORE)
                return sdloop_plugin_relayer_new_relayer_async(T.client, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, ctx,
                                                               on_created, NULL, ret_slot);

        if (!deps.provider)
                deps.provider = sdloop_object_get_path(T.host[1]);
        deps.error_log = sdloop_object_get_path(T.host[4]);
        return sdloop_plugin_median_new_median_factory_async(T.client, &deps, ctx, on_created, NULL, ret_slot);
}

/* Answer the stalled host call as it should have been answered. */
static void answer_stalled(Stall stall_at) {
        static char * const accounts[] = { (char *) FIXTURE_ACCOUNT, NULL };
        int r;

        switch (stall_at) {
        case STALL_KEYSTORE:
                r = sdloop_keystore_accounts_return(T.stalled, accounts);
                break;
        case STALL_PROVIDER:
                r = sdloop_offchain_config_digester_config_digest_prefix_return(T.stalled,
                                                                                FIXTURE_CONFIG_DIGEST_PREFIX);
                break;
        default:
                r = sdloop_data_source_observe_return(T.stalled, FIXTURE_VALUE);
        }
        ck_assert_int_eq(r, 0);
        T.stalled = sdloop_call_unref(T.stalled);
}

/* A round trip each way: whatever a late answer set off has had its chance to reach the host. */
static void settle(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        for (unsigned i = 0; i < 3; i++)
                ck_assert_int_ge(sdloop_peer_call_method(T.client, SDLOOP_ROOT_PATH, "org.freedesktop.DBus.Peer",
                                                         "Ping", NULL, &error, NULL), 0);
}

static int on_run_for(sd_event_source *s, uint64_t usec, void *userdata) {
        *(bool *) userdata = true;
        return 0;
}

static void run_for(uint64_t usec) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        bool done = false;

        ck_assert_int_eq(sd_event_add_time_relative(T.event, &timer, CLOCK_MONOTONIC, usec, 0, on_run_for, &done), 0);
        while (!done)
                ck_assert_int_ge(sd_event_run(T.event, UINT64_MAX), 0);
}

START_TEST(test_cancel) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Stall stall_at = _i / _CANCEL_MAX;
        CancelBy by = _i % _CANCEL_MAX;
        bool never = false;
        unsigned calls;

        fprintf(stderr, "--- %s stalls, cancelled by %s\n", stall_names[stall_at], cancel_names[by]);
        setup_pair(stall_at);

        if (by == CANCEL_DEADLINE) {
                ck_assert_int_eq(sdloop_context_new(&ctx), 0);
                sdloop_context_set_timeout(ctx, 300 * USEC_PER_MSEC);
        }
        ck_assert_int_eq(start_call(stall_at, ctx, &slot), 0);

        /* Until the plugin's job waits for the host. */
        while (!T.stalled)
                ck_assert_int_ge(sd_event_run(T.event, WAIT_USEC), 1);

        switch (by) {
        case CANCEL_DEADLINE:
                ck_assert_int_eq(sdloop_peer_wait_for(T.client, &T.replied, WAIT_USEC), 0);
                ck_assert_msg(sd_bus_error_has_name(&T.reply_error, SDLOOP_ERROR_TIMEOUT), "%s: %s",
                              strempty(T.reply_error.name), strempty(T.reply_error.message));
                /* Our side may give up a moment before the plugin's deadline timer fires. */
                calls = T.n_host_calls;
                run_for(100 * USEC_PER_MSEC);
                ck_assert_uint_eq(T.n_host_calls, calls);
                /* The plugin passed our context on: its own call to the host had our deadline too. */
                ck_assert_ptr_null(T.stalled);
                break;
        case CANCEL_CLOSE:
                sdloop_object_close(TAKE_PTR(T.root));
                ck_assert_int_eq(sdloop_peer_wait_for(T.client, &T.replied, WAIT_USEC), 0);
                ck_assert_msg(sd_bus_error_has_name(&T.reply_error, SDLOOP_ERROR_NOT_FOUND), "%s: %s",
                              strempty(T.reply_error.name), strempty(T.reply_error.message));
                break;
        case CANCEL_CALLER_GONE:
                slot = sd_bus_slot_unref(slot);
                /* …which closes the host's objects too. */
                sdloop_peer_disconnect(T.client);
                memset(T.host, 0, sizeof(T.host));
                /* The plugin side learns of it from its connection. */
                ck_assert_int_eq(sdloop_peer_wait_for(T.server, &never, WAIT_USEC), -EHOSTDOWN);
                ck_assert(!T.replied);
                break;
        default:
                ck_abort();
        }

        if (by == CANCEL_CLOSE) {
                /* A cancelled job dropped its call: the late answer sets nothing off. */
                calls = T.n_host_calls;
                ck_assert_ptr_nonnull(T.stalled);
                answer_stalled(stall_at);
                settle();
                ck_assert_uint_eq(T.n_host_calls, calls);
        }

        /* Before the peers go: a slot must not outlive its connection's peer. */
        slot = sd_bus_slot_unref(slot);
        teardown_pair();
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("conformance-cancel");
        TCase *tc = tcase_create("cancel");

        tcase_add_loop_test(tc, test_cancel, 0, _STALL_MAX * _CANCEL_MAX);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        int n;

        srunner_run_all(sr, CK_ENV);
        n = srunner_ntests_failed(sr);
        srunner_free(sr);
        return n == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
