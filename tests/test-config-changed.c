/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ConfigChanged end to end, the way the host wires a feed:
 *
 *   median ──p2p── host_median [proxy at PROXY_PATH] ── forwards to ── host_relayer ──p2p── relayer
 *
 * "relayer" is sdloop-relayer-ledger in a process of its own; "median" is the median plugin's own code
 * (median-plugin.c) served here on a socketpair, as sdloop-median serves each of its connections, so
 * that its factory can be asked what it recorded.
 *
 * The real relayer makes a median provider; the median plugin's factory gets the proxy's path as its
 * provider. When the contract's configuration changes, the relayer emits ConfigChanged from its provider,
 * the proxy emits it again from PROXY_PATH, and the factory records it: as many announcements as were
 * made, and the digest the relayer reports as the latest. */

#include <check.h>
#include <sys/socket.h>

#include "host-stubs.h"
#include "macro.h"
#include "median-plugin.h"
#include "test-util.h"
#include "sdloop.h"

/* The proxy stands where the median factory is told its provider is. */
#define PROXY_PATH  TEST_PROVIDER_PATH

static char tmpdir[] = "/tmp/sdloop-test-config-changed-XXXXXX";
static char sock_path[sizeof(tmpdir) + 32], notify_path[sizeof(tmpdir) + 32], ledger[sizeof(tmpdir) + 32];
static pid_t relayer_pid = -1;
static sd_event *event;
static SdloopPeer *host_relayer, *median, *host_median;
static SdloopProxy *proxy;

/* What reached the median connection from PROXY_PATH, seen next to the factory's own watch. */
static struct {
        unsigned n;
        bool seen;
} heard;

static void setup(void) {
        SdloopObject *o, *root;
        int fds[2];

        memset(&heard, 0, sizeof(heard));
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(sock_path, sizeof(sock_path), "%s/relayer.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        snprintf(ledger, sizeof(ledger), "%s/chain.sqlite", tmpdir);
        ck_assert_ptr_nonnull(getenv("SDLOOP_RELAYER_LEDGER"));
        relayer_pid = test_plugin_start(getenv("SDLOOP_RELAYER_LEDGER"), sock_path, notify_path);

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(sdloop_peer_connect(event, sock_path, &host_relayer), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_relayer, "relayer-ledger"), 0);
        ck_assert_int_eq(sdloop_object_new_at(host_relayer, NULL, TEST_KEYSTORE_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_keystore_export(o, &test_keystore_ops, NULL), 0);

        /* The median plugin's connection: its runtime's root object and the plugin's own setup. */
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sdloop_peer_new_server(event, fds[0], &median), 0);
        ck_assert_int_ge(sdloop_peer_new_client(event, fds[1], &host_median), 0);
        ck_assert_int_ge(sdloop_peer_set_description(median, "host"), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_median, "median"), 0);
        ck_assert_int_ge(sdloop_object_new_at(median, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_ge(median_plugin_connection_setup(NULL, median, root, NULL), 0);
}

static void teardown(void) {
        char cmd[sizeof(tmpdir) + 16];

        proxy = sdloop_proxy_free(proxy);
        host_median = sdloop_peer_unref(host_median);
        median = sdloop_peer_unref(median);
        host_relayer = sdloop_peer_unref(host_relayer);
        event = sd_event_unref(event);
        test_plugin_stop(relayer_pid);
        relayer_pid = -1;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(tmpdir, "/tmp/sdloop-test-config-changed-XXXXXX");
}

static int on_heard(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        heard.n++;
        heard.seen = true;
        return 0;
}

static void assert_recorded(SdloopObject *factory, uint64_t n, uint64_t *ret_block, uint8_t ret_digest[32]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        MedianConfigChanges c;
        int r;

        ck_assert_int_eq(median_factory_get_config_changes(factory, &c), 0);
        ck_assert_uint_eq(c.n, n);
        ck_assert_uint_eq(heard.n, n);

        /* What the relayer says is the latest, asked through the same proxy. */
        r = sdloop_contract_config_tracker_latest_config_details(median, PROXY_PATH, ret_block, ret_digest,
                                                                 &error);
        ck_assert_msg(r >= 0, "LatestConfigDetails: %s", strempty(error.message));
        ck_assert_uint_eq(c.changed_in_block, *ret_block);
        ck_assert_mem_eq(c.digest, ret_digest, 32);
}

START_TEST(test_config_changed_reaches_median) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *seed1 = test_relay_config("010203"), *seed2 = test_relay_config("ff"),
                            *seed3 = test_relay_config("ee"), *relayer = NULL, *provider = NULL, *factory_path = NULL,
                            *other = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *watch = NULL;
        SdloopRelayArgs relay_args = test_relay_args(seed1);
        uint8_t digest1[32], digest2[32], digest3[32];
        uint64_t block1, block2, block3;
        MedianConfigChanges c;
        SdloopObject *factory;

        test_relayer_median_provider(host_relayer, ledger, &relay_args, &relayer, &provider);

        /* The host hands the provider to the median plugin as its own object. */
        ck_assert_int_eq(sdloop_proxy_new(host_median, PROXY_PATH, host_relayer, provider, &proxy), 0);
        ASSERT_CALL(sdloop_plugin_median_new_median_factory(host_median, &test_median_deps, &factory_path, &error));
        factory = sdloop_peer_find_object(median, factory_path);
        ck_assert_ptr_nonnull(factory);
        ck_assert_int_eq(median_factory_get_config_changes(factory, &c), 0);
        ck_assert_uint_eq(c.n, 0);
        ck_assert_int_eq(median_factory_get_config_changes(sdloop_peer_find_object(median, SDLOOP_ROOT_PATH), &c),
                         -EINVAL);
        ck_assert_int_eq(sdloop_contract_config_tracker_watch(median, PROXY_PATH, &watch, on_heard, NULL), 0);
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(median, PROXY_PATH, &block1, digest1,
                                                                         &error));

        /* A changed seed for the same contract: the relayer announces it on the providers already out. Both
         * watches run in the dispatch of one message, so once ours has heard, the factory's has too. */
        relay_args.relay_config = seed2;
        ASSERT_CALL(sdloop_relayer_new_config_provider(host_relayer, relayer, &relay_args, &other, &error));
        ck_assert_int_eq(sdloop_peer_wait_for(median, &heard.seen, 30 * USEC_PER_SEC), 0);
        assert_recorded(factory, 1, &block2, digest2);
        ck_assert_mem_ne(digest1, digest2, 32);

        /* And again: counted, the latest kept. */
        heard.seen = false;
        other = mfree(other);
        relay_args.relay_config = seed3;
        ASSERT_CALL(sdloop_relayer_new_config_provider(host_relayer, relayer, &relay_args, &other, &error));
        ck_assert_int_eq(sdloop_peer_wait_for(median, &heard.seen, 30 * USEC_PER_SEC), 0);
        assert_recorded(factory, 2, &block3, digest3);
        ck_assert_mem_ne(digest2, digest3, 32);
        ck_assert_uint_ge(block3, block2);
}
END_TEST

static Suite *config_changed_suite(void) {
        Suite *s = suite_create("config-changed");
        TCase *tc = tcase_create("end-to-end");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_config_changed_reaches_median);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_changed_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
