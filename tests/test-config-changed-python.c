/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ConfigChanged end to end with the Python median plugin, wired as the host wires a feed and as
 * test-config-changed.c does for the C plugin:
 *
 *   median ──p2p── host_median [proxy at PROXY_PATH] ── forwards to ── host_relayer ──p2p── relayer
 *
 * "relayer" is sdloop-relayer-ledger and "median" is sdloop-median-python, each a process of its own. The
 * real relayer makes a median provider; the median plugin's factory gets the proxy's path as its
 * provider. When the contract's configuration changes, the relayer emits ConfigChanged from its provider,
 * the proxy emits it again from PROXY_PATH, and the factory records it as the C one does, which a Python
 * plugin in its own process can only show in its log: one line an announcement, counting them, with the
 * block and digest the relayer reports as the latest. */

#include <check.h>
#include <fcntl.h>

#include "macro.h"
#include "test-util.h"
#include "sdloop.h"

#define CONTRACT_ID   "feed-eth-usd"
#define KEYSTORE_PATH "/org/sdloop1/host/keystore"
#define PROXY_PATH    "/org/sdloop1/host/provider/1"
#define CHANGED       "has a new configuration"

static char tmpdir[] = "/tmp/sdloop-test-config-changed-python-XXXXXX";
static char relayer_sock[sizeof(tmpdir) + 32], median_sock[sizeof(tmpdir) + 32], notify_path[sizeof(tmpdir) + 32],
        ledger[sizeof(tmpdir) + 32], log_path[sizeof(tmpdir) + 32];
static pid_t relayer_pid = -1, median_pid = -1;
static sd_event *event;
static SdloopPeer *host_relayer, *host_median;
static SdloopProxy *proxy;

/* What the host heard from the relayer's provider, next to the proxy's own match. */
static struct {
        unsigned n;
        bool seen;
} heard;

static int keystore_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        char **l = calloc(3, sizeof(char *));

        if (!l)
                return -ENOMEM;
        l[0] = strdup("t0");
        l[1] = strdup("t1");
        if (!l[0] || !l[1]) {
                strv_free(l);
                return -ENOMEM;
        }
        *ret_accounts = l;
        return 0;
}

static const SdloopKeystoreOps keystore_ops = {
        .accounts = keystore_accounts,
};

static void setup(void) {
        _cleanup_close_ int log_fd = -EBADF;
        SdloopObject *o;

        memset(&heard, 0, sizeof(heard));
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(relayer_sock, sizeof(relayer_sock), "%s/relayer.sock", tmpdir);
        snprintf(median_sock, sizeof(median_sock), "%s/median.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        snprintf(ledger, sizeof(ledger), "%s/chain.sqlite", tmpdir);
        snprintf(log_path, sizeof(log_path), "%s/median.log", tmpdir);
        ck_assert_ptr_nonnull(getenv("SDLOOP_RELAYER_LEDGER"));
        ck_assert_ptr_nonnull(getenv("SDLOOP_MEDIAN_PYTHON"));

        relayer_pid = test_plugin_start(getenv("SDLOOP_RELAYER_LEDGER"), relayer_sock, notify_path);
        ck_assert_int_eq(unlink(notify_path), 0);
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        ck_assert_int_ge(log_fd, 0);
        median_pid = test_plugin_start_with(getenv("SDLOOP_MEDIAN_PYTHON"), median_sock, notify_path,
                                            &(const TestPluginOptions) { .log_fd = log_fd, .log_level = "info" });

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(sdloop_peer_connect(event, relayer_sock, &host_relayer), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_relayer, "relayer-ledger"), 0);
        ck_assert_int_eq(sdloop_object_new_at(host_relayer, NULL, KEYSTORE_PATH, NULL, NULL, &o), 0);
        ck_assert_int_eq(sdloop_keystore_export(o, &keystore_ops, NULL), 0);
        ck_assert_int_eq(sdloop_peer_connect(event, median_sock, &host_median), 0);
        ck_assert_int_ge(sdloop_peer_set_description(host_median, "median-python"), 0);
}

static void teardown(void) {
        char cmd[sizeof(tmpdir) + 16];

        proxy = sdloop_proxy_free(proxy);
        host_median = sdloop_peer_unref(host_median);
        host_relayer = sdloop_peer_unref(host_relayer);
        event = sd_event_unref(event);
        test_plugin_stop(median_pid);
        test_plugin_stop(relayer_pid);
        median_pid = relayer_pid = -1;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(tmpdir, "/tmp/sdloop-test-config-changed-python-XXXXXX");
}

/* A seeded configuration for four oracles; @offchain (hex) tells one from another. */
static char *relay_config(const char *offchain) {
        char *json = NULL;

        ck_assert_int_ge(asprintf(&json,
                                  "{\"chain_id\": \"ignored\", \"config\": {\"signers\": ["
                                  "\"%1$s01\", \"%1$s02\", \"%1$s03\", \"%1$s04\"], "
                                  "\"transmitters\": [\"t0\", \"t1\", \"t2\", \"t3\"], \"f\": 1, "
                                  "\"onchain_config\": {\"min\": \"-1000\", \"max\": 1000000}, "
                                  "\"offchain_config_version\": 1, \"offchain_config\": \"%2$s\"}}",
                                  "5d10c0ffee5d10c0ffee5d10c0ffee5d10c0ffee5d10c0ffee5d10c0ffee5d", offchain), 0);
        return json;
}

static int on_heard(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        heard.n++;
        heard.seen = true;
        return 0;
}

/* The plugin's log so far. */
static char *median_log(void) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = fopen(log_path, "re");
        ck_assert_ptr_nonnull(f);
        text = malloc(1024 * 1024);
        ck_assert_ptr_nonnull(text);
        size = fread(text, 1, 1024 * 1024 - 1, f);
        ck_assert_int_eq(ferror(f), 0);
        fclose(f);
        text[size] = '\0';
        return TAKE_PTR(text);
}

static unsigned count(const char *text, const char *what) {
        unsigned n = 0;

        for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
                n++;
        return n;
}

/* The proxy forwarded what the host heard (in the dispatch of the same message, so it is on its way to the
 * plugin ahead of anything sent now); a call answered by the factory after it means the plugin handled the
 * signal first. Then its log says what it recorded: @n announcements, the latest the relayer's latest. */
static void assert_recorded(const char *provider, const char *factory, uint64_t n, uint64_t *ret_block,
                            uint8_t ret_digest[32]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL, *expected = NULL;
        char hex[65];
        int r;

        r = sdloop_service_ready(host_median, factory, &error);
        ck_assert_msg(r >= 0, "Ready: %s", strempty(error.message));
        ck_assert_uint_eq(heard.n, n);

        r = sdloop_contract_config_tracker_latest_config_details(host_relayer, provider, ret_block, ret_digest,
                                                                 &error);
        ck_assert_msg(r >= 0, "LatestConfigDetails: %s", strempty(error.message));
        for (size_t i = 0; i < 32; i++)
                sprintf(hex + 2 * i, "%02x", ret_digest[i]);
        ck_assert_int_ge(asprintf(&expected, "%s: provider " PROXY_PATH " " CHANGED " %s from block %" PRIu64
                                  " (change %" PRIu64 " seen by this factory).", factory, hex, *ret_block, n), 0);

        text = median_log();
        ck_assert_msg(count(text, CHANGED) == n, "expected %" PRIu64 " announcements in the log:\n%s", n, text);
        ck_assert_msg(strstr(text, expected), "no \"%s\" in the log:\n%s", expected, text);
}

#define ASSERT_CALL(call)                                                                                 \
        do {                                                                                              \
                int _r = (call);                                                                          \
                ck_assert_msg(_r >= 0, "%s: %s: %s", #call, strempty(error.name), strempty(error.message)); \
        } while (0)

START_TEST(test_config_changed_reaches_median_python) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *relayer_config = NULL, *seed1 = relay_config("010203"), *seed2 = relay_config("ff"),
                            *seed3 = relay_config("ee"), *relayer = NULL, *provider = NULL, *factory = NULL,
                            *other = NULL, *text = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *watch = NULL;
        SdloopRelayArgs relay_args = {
                .external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe67",
                .job_id = 123,
                .contract_id = (char *) CONTRACT_ID,
                .new = true,
                .relay_config = seed1,
                .provider_type = (char *) "median",
        };
        SdloopPluginArgs plugin_args = { .transmitter_id = (char *) "t0", .plugin_config = (char *) "{}" };
        const SdloopMedianDeps deps = {
                .provider = PROXY_PATH,
                .data_source = "/org/sdloop1/host/data_source/1",
                .juels_data_source = "/org/sdloop1/host/data_source/2",
                .error_log = "/org/sdloop1/host/error_log/1",
        };
        uint8_t digest1[32], digest2[32], digest3[32];
        uint64_t block1, block2, block3;

        ck_assert_int_ge(asprintf(&relayer_config, "{\"chain_id\": \"ledger-test\", \"ledger\": \"%s\"}", ledger), 0);
        ASSERT_CALL(sdloop_plugin_relayer_new_relayer(host_relayer, relayer_config, KEYSTORE_PATH, &relayer, &error));
        ASSERT_CALL(sdloop_relayer_new_plugin_provider(host_relayer, relayer, &relay_args, &plugin_args, &provider,
                                                       &error));

        /* The host hands the provider to the median plugin as its own object. */
        ck_assert_int_eq(sdloop_proxy_new(host_median, PROXY_PATH, host_relayer, provider, &proxy), 0);
        ASSERT_CALL(sdloop_plugin_median_new_median_factory(host_median, &deps, &factory, &error));
        ck_assert_int_eq(sdloop_contract_config_tracker_watch(host_relayer, provider, &watch, on_heard, NULL), 0);
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(host_relayer, provider, &block1, digest1,
                                                                         &error));
        text = median_log();
        ck_assert_uint_eq(count(text, CHANGED), 0);

        /* A changed seed for the same contract: the relayer announces it on the providers already out. */
        relay_args.relay_config = seed2;
        ASSERT_CALL(sdloop_relayer_new_config_provider(host_relayer, relayer, &relay_args, &other, &error));
        ck_assert_int_eq(sdloop_peer_wait_for(host_relayer, &heard.seen, 30 * USEC_PER_SEC), 0);
        assert_recorded(provider, factory, 1, &block2, digest2);
        ck_assert_mem_ne(digest1, digest2, 32);

        /* And again: counted, the latest kept. */
        heard.seen = false;
        other = mfree(other);
        relay_args.relay_config = seed3;
        ASSERT_CALL(sdloop_relayer_new_config_provider(host_relayer, relayer, &relay_args, &other, &error));
        ck_assert_int_eq(sdloop_peer_wait_for(host_relayer, &heard.seen, 30 * USEC_PER_SEC), 0);
        assert_recorded(provider, factory, 2, &block3, digest3);
        ck_assert_mem_ne(digest2, digest3, 32);
        ck_assert_uint_ge(block3, block2);
}
END_TEST

static Suite *config_changed_python_suite(void) {
        Suite *s = suite_create("config-changed-python");
        TCase *tc = tcase_create("end-to-end");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_config_changed_reaches_median_python);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_changed_python_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
