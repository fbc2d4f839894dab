/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Every generated client method (sdloop-client.h), synchronous and asynchronous, against the conformance
 * suite's static implementations with its fixtures: both relayer and median plugin and the host's objects
 * they call back, in this one process over two socketpairs on one event loop. The asynchronous form must
 * give what the synchronous one gives, whether the handler takes the results over or leaves them to the
 * library; a cancelled call never calls back; missed deadlines, lost connections and bad arguments fail as
 * sdloop-client.h says.
 *
 * Environment (set by meson): SDLOOP_CLIENT_HEADER, the generated sdloop-client.h. */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "test-client-roundtrip.h"
#include "test-util.h"

#define PROVIDER_PROXY_PATH SDLOOP_ROOT_PATH "/host/provider/1"
#define HANG_PATH           SDLOOP_ROOT_PATH "/test/hang"

RoundtripEnv env;

#define check_ok(expr)                                                                                   \
        do {                                                                                             \
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;                     \
                int _r = (expr);                                                                         \
                ck_assert_msg(_r >= 0, "%s failed: %s: %s", #expr, strempty(error.name),                 \
                              error.message ?: strerror(-_r));                                           \
        } while (0)

/* --- results --------------------------------------------------------------------------------------- */

void reply_forget(Reply *rep) {
        rep->s = rep->s2 = NULL;
        rep->strv = NULL;
        rep->bytes = (SdloopBytes) {};
        rep->config = (SdloopContractConfig) {};
        rep->onchain = (SdloopOnchainConfig) {};
        rep->info = (SdloopReportingPluginInfo) {};
        rep->status = (SdloopChainStatus) {};
        rep->nodes = NULL;
        rep->n_nodes = 0;
}

void reply_done(Reply *rep) {
        free(rep->s);
        free(rep->s2);
        strv_free(rep->strv);
        sdloop_bytes_done(&rep->bytes);
        sdloop_contract_config_done(&rep->config);
        sdloop_onchain_config_done(&rep->onchain);
        sdloop_reporting_plugin_info_done(&rep->info);
        sdloop_chain_status_done(&rep->status);
        sdloop_node_statuses_free(rep->nodes, rep->n_nodes);
        reply_forget(rep);
        sd_bus_error_free(&rep->error);
}

void reply_finish(Reply *rep, int r, sd_bus_error *error) {
        rep->n_calls++;
        rep->r = r;
        if (r < 0) {
                ck_assert(sd_bus_error_is_set(error));
                (void) sd_bus_error_copy(&rep->error, error);
        }
        if (rep->take)
                return;

        /* Borrowed: check now, the library frees them when we return. */
        if (r >= 0 && rep->method) {
                rep->method->check(rep);
                if (rep->expect)
                        reply_assert_equal(rep->method, rep->expect, rep);
        }
        reply_forget(rep);
}

static void assert_bytes_equal(const SdloopBytes *a, const SdloopBytes *b) {
        ck_assert_uint_eq(a->size, b->size);
        ck_assert(a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

static void assert_parent_equal(const char *a, const char *b) {
        const char *sa, *sb;

        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        sa = strrchr(a, '/');
        sb = strrchr(b, '/');
        ck_assert_ptr_nonnull(sa);
        ck_assert_ptr_nonnull(sb);
        ck_assert_int_eq(sa - a, sb - b);
        ck_assert(strncmp(a, b, sa - a) == 0);
}

void reply_assert_equal(const Method *m, const Reply *a, const Reply *b) {
        if (m->creates)
                assert_parent_equal(a->s, b->s);
        else
                ck_assert(streq_ptr(a->s, b->s));
        ck_assert_str_eq(strempty(a->s2), strempty(b->s2));
        ck_assert_uint_eq(strv_length(a->strv), strv_length(b->strv));
        for (size_t i = 0; a->strv && a->strv[i]; i++)
                ck_assert_str_eq(a->strv[i], b->strv[i]);
        assert_bytes_equal(&a->bytes, &b->bytes);
        ck_assert_int_eq(a->b, b->b);
        ck_assert_uint_eq(a->u, b->u);
        ck_assert_int_eq(a->i, b->i);
        ck_assert_uint_eq(a->epoch, b->epoch);
        ck_assert_uint_eq(a->round, b->round);
        ck_assert(memcmp(a->digest, b->digest, SDLOOP_DIGEST_SIZE) == 0);

        ck_assert(memcmp(a->config.digest, b->config.digest, SDLOOP_DIGEST_SIZE) == 0);
        ck_assert_uint_eq(a->config.config_count, b->config.config_count);
        ck_assert_uint_eq(a->config.n_signers, b->config.n_signers);
        for (size_t i = 0; i < a->config.n_signers; i++)
                assert_bytes_equal(&a->config.signers[i], &b->config.signers[i]);
        ck_assert_uint_eq(strv_length(a->config.transmitters), strv_length(b->config.transmitters));
        for (size_t i = 0; a->config.transmitters && a->config.transmitters[i]; i++)
                ck_assert_str_eq(a->config.transmitters[i], b->config.transmitters[i]);
        ck_assert_uint_eq(a->config.f, b->config.f);
        assert_bytes_equal(&a->config.onchain_config, &b->config.onchain_config);
        ck_assert_uint_eq(a->config.offchain_config_version, b->config.offchain_config_version);
        assert_bytes_equal(&a->config.offchain_config, &b->config.offchain_config);

        ck_assert(streq_ptr(a->onchain.min, b->onchain.min));
        ck_assert(streq_ptr(a->onchain.max, b->onchain.max));

        ck_assert(streq_ptr(a->info.name, b->info.name));
        ck_assert_int_eq(a->info.unique_reports, b->info.unique_reports);
        ck_assert_uint_eq(a->info.max_query_length, b->info.max_query_length);
        ck_assert_uint_eq(a->info.max_observation_length, b->info.max_observation_length);
        ck_assert_uint_eq(a->info.max_report_length, b->info.max_report_length);

        ck_assert(streq_ptr(a->status.id, b->status.id));
        ck_assert_int_eq(a->status.enabled, b->status.enabled);
        ck_assert(streq_ptr(a->status.config, b->status.config));

        ck_assert_uint_eq(a->n_nodes, b->n_nodes);
        for (size_t i = 0; i < a->n_nodes; i++) {
                ck_assert(streq_ptr(a->nodes[i].chain_id, b->nodes[i].chain_id));
                ck_assert(streq_ptr(a->nodes[i].name, b->nodes[i].name));
                ck_assert(streq_ptr(a->nodes[i].config, b->nodes[i].config));
                ck_assert(streq_ptr(a->nodes[i].state, b->nodes[i].state));
        }
}

/* --- the objects ------------------------------------------------------------------------------------- */

static void pair_new(const char *name, SdloopPeer **ret_server, SdloopPeer **ret_client) {
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sdloop_peer_new_server(env.event, fds[0], ret_server), 0);
        ck_assert_int_ge(sdloop_peer_new_client(env.event, fds[1], ret_client), 0);
        ck_assert_int_ge(sdloop_peer_set_description(*ret_server, name), 0);
        ck_assert_int_ge(sdloop_peer_set_description(*ret_client, "host"), 0);
}

char *roundtrip_new_reporting_plugin(void) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        char *path = NULL;

        check_ok(sdloop_reporting_plugin_factory_new_reporting_plugin(env.median_client, env.factory,
                                                                      &fixture_reporting_plugin_config, &path, &info,
                                                                      &error));
        return path;
}

static void env_setup(void) {
        SdloopObject *root;
        SdloopMedianDeps deps;

        env = (RoundtripEnv) {};
        ck_assert_int_ge(sd_event_new(&env.event), 0);

        /* The relayer plugin and the host's keystore, which its NewRelayer() calls back. */
        pair_new("relayer", &env.relayer_server, &env.relayer_client);
        ck_assert_int_ge(sdloop_object_new_at(env.relayer_server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_ge(static_plugin_relayer_export(root), 0);
        ck_assert_int_ge(static_keystore_new(env.relayer_client, &env.keystore), 0);
        env.keystore_path = test_strdup(sdloop_object_get_path(env.keystore));

        /* The median plugin and the host's objects its NewMedianFactory() uses, the relayer's provider
         * through a proxy as the host hands it over. */
        pair_new("median", &env.median_server, &env.median_client);
        ck_assert_int_ge(sdloop_object_new_at(env.median_server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_ge(static_plugin_median_export(root), 0);
        ck_assert_int_ge(static_data_source_new(env.median_client, FIXTURE_VALUE, &env.data_source), 0);
        ck_assert_int_ge(static_data_source_new(env.median_client, FIXTURE_JUELS_PER_FEE_COIN, &env.juels_data_source),
                         0);
        ck_assert_int_ge(static_error_log_new(env.median_client, &env.error_log), 0);
        env.data_source_path = test_strdup(sdloop_object_get_path(env.data_source));
        env.error_log_path = test_strdup(sdloop_object_get_path(env.error_log));

        check_ok(sdloop_plugin_relayer_new_relayer(env.relayer_client, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH,
                                                   &env.relayer, &error));
        check_ok(sdloop_relayer_new_plugin_provider(env.relayer_client, env.relayer, &fixture_relay_args,
                                                    &fixture_plugin_args, &env.median_provider, &error));
        ck_assert_int_ge(roundtrip_export_ledger(sdloop_peer_find_object(env.relayer_server, env.median_provider)), 0);
        ck_assert_int_ge(sdloop_proxy_new(env.median_client, PROVIDER_PROXY_PATH, env.relayer_client,
                                          env.median_provider, &env.provider_proxy), 0);
        deps = (SdloopMedianDeps) {
                .provider = PROVIDER_PROXY_PATH,
                .data_source = env.data_source_path,
                .juels_data_source = sdloop_object_get_path(env.juels_data_source),
                .error_log = env.error_log_path,
        };
        check_ok(sdloop_plugin_median_new_median_factory(env.median_client, &deps, &env.factory, &error));
        env.reporting_plugin = roundtrip_new_reporting_plugin();
}

static void env_teardown(void) {
        env.provider_proxy = sdloop_proxy_free(env.provider_proxy);
        env.relayer_client = sdloop_peer_unref(env.relayer_client);
        env.relayer_server = sdloop_peer_unref(env.relayer_server);
        env.median_client = sdloop_peer_unref(env.median_client);
        env.median_server = sdloop_peer_unref(env.median_server);
        env.event = sd_event_unref(env.event);
        free(env.keystore_path);
        free(env.data_source_path);
        free(env.error_log_path);
        free(env.relayer);
        free(env.median_provider);
        free(env.factory);
        free(env.reporting_plugin);
        env = (RoundtripEnv) {};
}

/* Run the loop until nothing is left to do at once. */
static void drain(void) {
        int r;

        do {
                r = sd_event_run(env.event, 0);
                ck_assert_int_ge(r, 0);
        } while (r > 0);
}

static void wait_for_calls(const unsigned *n_calls, unsigned n) {
        while (*n_calls < n)
                ck_assert_int_ge(sd_event_run(env.event, UINT64_MAX), 0);
        ck_assert_uint_eq(*n_calls, n);
}

/* --- every method -------------------------------------------------------------------------------------- */

static char *method_path(const Method *m) {
        if (m->prepare)
                return m->prepare();
        return m->path ? test_strdup(*m->path) : NULL;
}

static void roundtrip_one(const Method *m) {
        _cleanup_(reply_done) Reply sync = { .method = m, .take = true };
        _cleanup_free_ char *path = NULL;
        SdloopPeer *peer = *m->peer;

        /* Synchronous, at top level. */
        path = method_path(m);
        check_ok(m->call(peer, path, &sync, &error));
        m->check(&sync);

        /* Asynchronous: the handler takes the results over, or leaves them to the library. */
        for (int take = 1; take >= 0; take--) {
                _cleanup_(reply_done) Reply a = { .method = m, .expect = &sync, .take = take };
                _cleanup_free_ char *p = method_path(m);
                sd_bus_slot *slot = NULL;

                ck_assert_int_ge(m->call_async(peer, p, NULL, &a, &slot), 0);
                ck_assert_ptr_nonnull(slot);
                ck_assert_uint_eq(a.n_calls, 0);
                wait_for_calls(&a.n_calls, 1);
                ck_assert_msg(a.r >= 0, "%s_async: %s: %s", m->name, strempty(a.error.name),
                              strempty(a.error.message));
                if (take) {
                        m->check(&a);
                        reply_assert_equal(m, &sync, &a);
                }
                sd_bus_slot_unref(slot);
        }

        /* Cancelled before the reply came: never called back. The same call once more, synchronously, is
         * answered after the cancelled one would have been. */
        {
                _cleanup_(reply_done) Reply c = { .method = m, .take = true };
                _cleanup_(reply_done) Reply again = { .method = m, .take = true };
                _cleanup_free_ char *p = method_path(m), *p2 = NULL;
                sd_bus_slot *slot = NULL;

                ck_assert_int_ge(m->call_async(peer, p, NULL, &c, &slot), 0);
                sd_bus_slot_unref(slot);
                p2 = method_path(m);
                check_ok(m->call(peer, p2, &again, &error));
                drain();
                ck_assert_uint_eq(c.n_calls, 0);
        }
}

START_TEST(test_roundtrip) {
        const Method *m = &roundtrip_methods[_i];

        ck_assert_ptr_nonnull(m->name);
        ck_assert_ptr_nonnull(m->peer);
        ck_assert_ptr_nonnull(m->check);
        roundtrip_one(m);
}
END_TEST

/* Every client method the generator wrote has its entry, and every entry one method. */
START_TEST(test_coverage) {
        const char *header = getenv("SDLOOP_CLIENT_HEADER");
        _cleanup_free_ char *line = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        bool *seen;
        size_t n_header = 0, n = 0;

        ck_assert_msg(!isempty(header), "$SDLOOP_CLIENT_HEADER is not set (run this through meson test)");
        f = fopen(header, "re");
        ck_assert_msg(f, "%s: %s", header, strerror(errno));
        seen = calloc(roundtrip_n_methods, sizeof(bool));
        ck_assert_ptr_nonnull(seen);

        while (getline(&line, &n, f) >= 0) {
                char name[256];
                const char *e;
                size_t l;
                bool found = false;

                if (strncmp(line, "int sdloop_", 11) != 0 || !(e = strstr(line, "_async(")))
                        continue;
                l = (size_t) (e - (line + 4));
                ck_assert_uint_lt(l, sizeof(name));
                memcpy(name, line + 4, l);
                name[l] = 0;
                n_header++;

                for (size_t i = 0; i < roundtrip_n_methods; i++)
                        if (streq(roundtrip_methods[i].name, name)) {
                                ck_assert_msg(!seen[i], "%s twice in %s", name, header);
                                seen[i] = found = true;
                        }
                ck_assert_msg(found, "%s (%s) is not round-tripped by this test", name, header);
        }
        for (size_t i = 0; i < roundtrip_n_methods; i++)
                ck_assert_msg(seen[i], "%s is not in %s", roundtrip_methods[i].name, header);
        ck_assert_uint_eq(n_header, roundtrip_n_methods);
        ck_assert_uint_gt(n_header, 30);
        free(seen);
}
END_TEST

/* --- failures -------------------------------------------------------------------------------------- */

/* A DataSource that defers every Observe() and never answers. */
#define HUNG_MAX 4U
static SdloopCall *hung[HUNG_MAX];
static unsigned n_hung;

static void on_hung_cancelled(SdloopCall *call, void *userdata) {
        for (unsigned i = 0; i < n_hung; i++)
                if (hung[i] == call)
                        hung[i] = sdloop_call_unref(hung[i]);
}

static int hang_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        SdloopCall *c;

        ck_assert_uint_lt(n_hung, HUNG_MAX);
        c = sdloop_call_defer();
        ck_assert_ptr_nonnull(c);
        hung[n_hung++] = c;
        sdloop_call_set_cancel_handler(c, on_hung_cancelled, NULL);
        return 0;
}

static const SdloopDataSourceOps hang_ops = {
        .observe = hang_observe,
};

static void hang_pair_new(SdloopPeer **ret_server, SdloopPeer **ret_client) {
        SdloopObject *o;

        n_hung = 0;
        pair_new("hang", ret_server, ret_client);
        ck_assert_int_ge(sdloop_object_new_at(*ret_server, NULL, HANG_PATH, NULL, NULL, &o), 0);
        ck_assert_int_ge(sdloop_data_source_export(o, &hang_ops, NULL), 0);
}

static void hang_pair_free(SdloopPeer *server, SdloopPeer *client) {
        for (unsigned i = 0; i < n_hung; i++)
                hung[i] = sdloop_call_unref(hung[i]);
        n_hung = 0;
        sdloop_peer_unref(client);
        sdloop_peer_unref(server);
}

static const Method *method_find(const char *name) {
        for (size_t i = 0; i < roundtrip_n_methods; i++)
                if (streq(roundtrip_methods[i].name, name))
                        return &roundtrip_methods[i];
        ck_abort_msg("no entry for %s", name);
        return NULL;
}

static void assert_failed(const Reply *rep, const char *name) {
        ck_assert_uint_eq(rep->n_calls, 1);
        ck_assert_int_lt(rep->r, 0);
        ck_assert_msg(sd_bus_error_has_name(&rep->error, name), "expected %s, got %s: %s", name,
                      strempty(rep->error.name), strempty(rep->error.message));
        /* Zeroed results. */
        ck_assert_ptr_null(rep->s);
}

START_TEST(test_deadline) {
        const Method *m = method_find("sdloop_data_source_observe");
        _cleanup_(sdloop_context_unrefp) SdloopContext *ctx = NULL;
        _cleanup_(reply_done) Reply a = { .take = true };
        SdloopPeer *server, *client;
        sd_bus_slot *slot = NULL;

        hang_pair_new(&server, &client);
        ck_assert_int_ge(sdloop_context_new(&ctx), 0);
        sdloop_context_set_timeout(ctx, 50 * USEC_PER_MSEC);

        ck_assert_int_ge(m->call_async(client, HANG_PATH, ctx, &a, &slot), 0);
        wait_for_calls(&a.n_calls, 1);
        assert_failed(&a, SDLOOP_ERROR_TIMEOUT);
        sd_bus_slot_unref(slot);
        drain();
        ck_assert_uint_eq(a.n_calls, 1);
        hang_pair_free(server, client);
}
END_TEST

START_TEST(test_other_end_closed) {
        const Method *m = method_find("sdloop_data_source_observe");
        _cleanup_(reply_done) Reply a = { .take = true }, b = { .take = true };
        SdloopPeer *server, *client;
        sd_bus_slot *slot = NULL;

        hang_pair_new(&server, &client);
        ck_assert_int_ge(m->call_async(client, HANG_PATH, NULL, &a, &slot), 0);
        while (n_hung < 1)
                ck_assert_int_ge(sd_event_run(env.event, UINT64_MAX), 0);
        ck_assert_uint_eq(a.n_calls, 0);

        sdloop_peer_disconnect(server);
        wait_for_calls(&a.n_calls, 1);
        assert_failed(&a, SDLOOP_ERROR_PLUGIN_UNAVAILABLE);
        sd_bus_slot_unref(slot);

        /* Once we know it is gone: refused at once, no handler. */
        drain();
        ck_assert(!sdloop_peer_is_connected(client));
        ck_assert_int_eq(m->call_async(client, HANG_PATH, NULL, &b, NULL), -EHOSTDOWN);
        drain();
        ck_assert_uint_eq(a.n_calls, 1);
        ck_assert_uint_eq(b.n_calls, 0);
        hang_pair_free(server, client);
}
END_TEST

START_TEST(test_we_closed) {
        const Method *m = method_find("sdloop_data_source_observe");
        _cleanup_(reply_done) Reply a = { .take = true }, floating = { .take = true }, dropped = { .take = true },
                                    late = { .take = true };
        SdloopPeer *server, *client;
        sd_bus_slot *slot = NULL, *dropped_slot = NULL;

        hang_pair_new(&server, &client);
        ck_assert_int_ge(m->call_async(client, HANG_PATH, NULL, &a, &slot), 0);
        ck_assert_int_ge(m->call_async(client, HANG_PATH, NULL, &floating, NULL), 0);
        ck_assert_int_ge(m->call_async(client, HANG_PATH, NULL, &dropped, &dropped_slot), 0);
        while (n_hung < 3)
                ck_assert_int_ge(sd_event_run(env.event, UINT64_MAX), 0);

        /* Not from inside sdloop_peer_disconnect(): from the loop. */
        sdloop_peer_disconnect(client);
        ck_assert_uint_eq(a.n_calls, 0);
        ck_assert_uint_eq(floating.n_calls, 0);
        sd_bus_slot_unref(dropped_slot);

        wait_for_calls(&a.n_calls, 1);
        wait_for_calls(&floating.n_calls, 1);
        assert_failed(&a, SDLOOP_ERROR_PLUGIN_UNAVAILABLE);
        assert_failed(&floating, SDLOOP_ERROR_PLUGIN_UNAVAILABLE);
        sd_bus_slot_unref(slot);

        ck_assert_int_eq(m->call_async(client, HANG_PATH, NULL, &late, NULL), -EHOSTDOWN);
        drain();
        ck_assert_uint_eq(a.n_calls, 1);
        ck_assert_uint_eq(floating.n_calls, 1);
        ck_assert_uint_eq(dropped.n_calls, 0);
        ck_assert_uint_eq(late.n_calls, 0);
        hang_pair_free(server, client);
}
END_TEST

static unsigned n_bad_calls;

static void on_bad_bytes(SdloopPeer *peer, int r, SdloopBytes *b, sd_bus_error *error, void *userdata) {
        n_bad_calls++;
}

static void on_bad_int64(SdloopPeer *peer, int r, int64_t i, sd_bus_error *error, void *userdata) {
        n_bad_calls++;
}

static void on_bad_string(SdloopPeer *peer, int r, char **s, sd_bus_error *error, void *userdata) {
        n_bad_calls++;
}

START_TEST(test_bad_arguments) {
        const SdloopOnchainConfig bad_config = { .min = (char *) "12x", .max = (char *) FIXTURE_ONCHAIN_MAX };
        const SdloopMedianDeps bad_deps = {
                .provider = "not/an/object path",
                .data_source = env.data_source_path,
                .juels_data_source = env.data_source_path,
                .error_log = env.error_log_path,
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopBytes encoded = {};
        char *factory = NULL;
        int64_t max = 0;
        int r;

        n_bad_calls = 0;

        r = sdloop_onchain_config_codec_encode_async(env.relayer_client, env.median_provider, &bad_config, NULL,
                                                     on_bad_bytes, NULL, NULL);
        ck_assert_int_lt(r, 0);
        r = sdloop_report_codec_max_report_length_async(env.relayer_client, env.median_provider, -1, NULL,
                                                        on_bad_int64, NULL, NULL);
        ck_assert_int_lt(r, 0);
        r = sdloop_plugin_median_new_median_factory_async(env.median_client, &bad_deps, NULL, on_bad_string, NULL,
                                                          NULL);
        ck_assert_int_lt(r, 0);
        ck_assert_uint_eq(n_bad_calls, 0);

        /* The synchronous forms refuse the same, naming the field. */
        r = sdloop_onchain_config_codec_encode(env.relayer_client, env.median_provider, &bad_config, &encoded, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "onchain_config.min");
        r = sdloop_report_codec_max_report_length(env.relayer_client, env.median_provider, -1, &max, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "n");
        r = sdloop_plugin_median_new_median_factory(env.median_client, &bad_deps, &factory, &error);
        test_assert_error(r, &error, SDLOOP_ERROR_INVALID_ARGUMENT, "provider");
        ck_assert_ptr_null(factory);
        ck_assert_ptr_null(encoded.data);

        /* Nothing went out, so nothing comes back. */
        r = sdloop_service_ready(env.median_client, env.reporting_plugin, &error);
        ck_assert_int_ge(r, 0);
        r = sdloop_service_ready(env.relayer_client, env.median_provider, &error);
        ck_assert_int_ge(r, 0);
        drain();
        ck_assert_uint_eq(n_bad_calls, 0);
}
END_TEST

static Suite *failures_suite(void) {
        Suite *s = suite_create("client-roundtrip-failures");
        TCase *tc = tcase_create("failures");

        tcase_add_checked_fixture(tc, env_setup, env_teardown);
        tcase_add_test(tc, test_deadline);
        tcase_add_test(tc, test_other_end_closed);
        tcase_add_test(tc, test_we_closed);
        tcase_add_test(tc, test_bad_arguments);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        Suite *s;
        TCase *tc;
        int failed;

        s = suite_create("client-roundtrip");
        tc = tcase_create("methods");
        tcase_add_checked_fixture(tc, env_setup, env_teardown);
        tcase_add_test(tc, test_coverage);
        tcase_add_loop_test(tc, test_roundtrip, 0, (int) roundtrip_n_methods);
        suite_add_tcase(s, tc);

        sr = srunner_create(s);
        srunner_add_suite(sr, failures_suite());
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
