/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-stubs.h"
#include "macro.h"
#include "median-codec.h"

const SdloopMedianDeps test_median_deps = {
        .provider = TEST_PROVIDER_PATH,
        .data_source = TEST_DATA_SOURCE_PATH,
        .juels_data_source = TEST_JUELS_PATH,
        .error_log = TEST_ERROR_LOG_PATH,
};

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

const SdloopKeystoreOps test_keystore_ops = {
        .accounts = keystore_accounts,
};

char *test_relay_config(const char *offchain) {
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

SdloopRelayArgs test_relay_args(char *relay_config) {
        return (SdloopRelayArgs) {
                .external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe67",
                .job_id = 123,
                .contract_id = (char *) "feed-eth-usd",
                .new = true,
                .relay_config = relay_config,
                .provider_type = (char *) "median",
        };
}

void test_relayer_median_provider(SdloopPeer *host_relayer, const char *ledger, const SdloopRelayArgs *relay_args,
                                  char **ret_relayer, char **ret_provider) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const SdloopPluginArgs plugin_args = { .transmitter_id = (char *) "t0", .plugin_config = (char *) "{}" };
        _cleanup_free_ char *config = NULL;

        ck_assert_int_ge(asprintf(&config, "{\"chain_id\": \"ledger-test\", \"ledger\": \"%s\"}", ledger), 0);
        ASSERT_CALL(sdloop_plugin_relayer_new_relayer(host_relayer, config, TEST_KEYSTORE_PATH, ret_relayer, &error));
        ASSERT_CALL(sdloop_relayer_new_plugin_provider(host_relayer, *ret_relayer, relay_args, &plugin_args,
                                                       ret_provider, &error));
}

void test_median_offchain_config(SdloopBytes *ret) {
        ck_assert_int_eq(sdloop_median_offchain_config_encode(&(SdloopMedianOffchainConfig) {
                                 .alpha_report_ppb = 10000000,
                                 .alpha_accept_ppb = 10000000,
                                 .delta_c_nsec = 3600 * UINT64_C(1000000000),
                         }, ret), 0);
}

void test_observations_done(TestObservations *o) {
        for (size_t i = 0; i < o->n; i++)
                sdloop_bytes_done(&o->a[i].data);
        o->n = 0;
}

void test_observations_make(TestObservations *o) {
        for (size_t i = 0; i < TEST_N_ORACLES; i++) {
                SdloopInt v, juels;

                sdloop_int_from_i128(100 * (__int128) (i + 1), &v);
                sdloop_int_from_i128(7, &juels);
                ck_assert_int_eq(median_observation_encode(1, &v, &juels, &o->a[i].data), 0);
                o->a[i].oracle = (uint8_t) i;
                o->n++;
        }
}

void test_assert_served(SdloopPeer *peer, const char *path, const char *factory, unsigned n_entries) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *name, *message;
        unsigned n = 0;

        ck_assert_msg(sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "Ready", NULL, &error, NULL) == 0,
                      "Ready: %s", error.message);
        ck_assert_msg(sdloop_peer_call_method(peer, factory, "org.sdloop1.Service", "HealthReport", &reply, &error,
                                              NULL) == 0, "HealthReport: %s", error.message);
        ck_assert_int_gt(sd_bus_message_enter_container(reply, 'a', "{ss}"), 0);
        while (sd_bus_message_read(reply, "{ss}", &name, &message) > 0) {
                ck_assert_msg(isempty(message), "%s: %s", name, message);
                n++;
        }
        ck_assert_uint_eq(n, n_entries);
}
