/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host side that the median tests (test-median-stuck, test-median-async, test-config-changed) set up
 * alike: the host's object paths a median factory is handed, a keystore for the relayer, a seeded relay
 * configuration and the relayer's median provider made from it, the offchain configuration, one honest
 * observation per oracle, and the check that a plugin still serves. Failures end the test (Check's
 * ck_assert). */

#include "sdloop.h"

#define TEST_KEYSTORE_PATH    "/org/sdloop1/host/keystore"
#define TEST_PROVIDER_PATH    "/org/sdloop1/host/provider/1"
#define TEST_DATA_SOURCE_PATH "/org/sdloop1/host/data_source/1"
#define TEST_JUELS_PATH       "/org/sdloop1/host/data_source/2"
#define TEST_ERROR_LOG_PATH   "/org/sdloop1/host/error_log/1"

#define TEST_N_ORACLES 4U

/* @call returned >= 0, or the test ends naming the D-Bus error left in the caller's `error`. */
#define ASSERT_CALL(call)                                                                                 \
        do {                                                                                              \
                int _r = (call);                                                                          \
                ck_assert_msg(_r >= 0, "%s: %s: %s", #call, strempty(error.name), strempty(error.message)); \
        } while (0)

/* NewMedianFactory's dependencies: the provider, both data sources and the error log at the paths above. */
extern const SdloopMedianDeps test_median_deps;

/* A keystore whose Accounts() are "t0" and "t1", the first two transmitters of test_relay_config(). */
extern const SdloopKeystoreOps test_keystore_ops;

/* A seeded relay configuration for four oracles; @offchain (hex) tells one from another. */
char *test_relay_config(const char *offchain);

/* The relay arguments of a new median job on contract "feed-eth-usd", with @relay_config. */
SdloopRelayArgs test_relay_args(char *relay_config);

/* Over @host_relayer (a relayer-ledger, TEST_KEYSTORE_PATH exported on it): NewRelayer on the ledger database
 * @ledger, then its median provider for @relay_args (transmitter "t0"). */
void test_relayer_median_provider(SdloopPeer *host_relayer, const char *ledger, const SdloopRelayArgs *relay_args,
                                  char **ret_relayer, char **ret_provider);

/* The median offchain configuration the tests report with: alpha 1 % both ways, delta_c one hour. */
void test_median_offchain_config(SdloopBytes *ret);

typedef struct TestObservations {
        SdloopAttributed a[TEST_N_ORACLES];
        size_t n;
} TestObservations;

/* One honest observation per oracle: 100, 200, 300, 400 (juels 7). */
void test_observations_make(TestObservations *o);
void test_observations_done(TestObservations *o);

/* Service.Ready() of @path answered over @peer, and HealthReport() of @factory: @n_entries, all healthy. */
void test_assert_served(SdloopPeer *peer, const char *path, const char *factory, unsigned n_entries);
