/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fixture set of the conformance suite: one fixed value for every argument and every result of every
 * method of every org.sdloop1 service, mirroring LOOP's internal/test values. The static implementations
 * (static-*.c) refuse anything else with org.sdloop1.Error.InvalidArgument naming the argument, and answer
 * with these; the suite runners (suite.c) send these and compare what comes back with the same checks. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "sdloop-types.h"

#define FIXTURE_USEC_PER_SEC UINT64_C(1000000)

/* PluginRelayer.NewRelayer */
#define FIXTURE_CONFIG_TOML "[Foo]\nBar = \"Baz\"\n"
/* Keystore */
#define FIXTURE_ACCOUNT "testaccount"
/* ContractConfigTracker */
#define FIXTURE_BLOCK_HEIGHT     UINT64_C(1337)
#define FIXTURE_CHANGED_IN_BLOCK UINT64_C(14)
/* OffchainConfigDigester */
#define FIXTURE_CONFIG_DIGEST_PREFIX UINT16_C(99)
/* Report timestamps */
#define FIXTURE_EPOCH UINT32_C(88)
#define FIXTURE_ROUND UINT8_C(74)
/* ReportCodec.MaxReportLength(n) → max */
#define FIXTURE_MAX_REPORT_LENGTH_N INT64_C(12)
#define FIXTURE_MAX_REPORT_LENGTH   INT64_C(101)
/* Relayer.ListNodeStatuses(limit, "") → two nodes, total 2 */
#define FIXTURE_PAGE_SIZE   INT32_C(42)
#define FIXTURE_PAGE_TOKEN  ""
#define FIXTURE_TOTAL_NODES INT32_C(2)
/* Relayer.Transact */
#define FIXTURE_FROM          "0xabcd"
#define FIXTURE_TO            "0x1234"
#define FIXTURE_AMOUNT        "123456789"
#define FIXTURE_BALANCE_CHECK true
/* ErrorLog.SaveError */
#define FIXTURE_ERROR_MESSAGE "test error"
/* DataSource.Observe: the value and the juels-per-fee-coin data source */
#define FIXTURE_VALUE              "999"
#define FIXTURE_JUELS_PER_FEE_COIN "1234"
/* MedianContract: LOOP's lookback of 1m4s; its latest timestamp Unix(1234567890, 987654321) in µs. */
#define FIXTURE_LOOKBACK_USEC         (UINT64_C(64) * FIXTURE_USEC_PER_SEC)
#define FIXTURE_LATEST_ANSWER         "-66"
#define FIXTURE_LATEST_TIMESTAMP_USEC INT64_C(1234567890987654)
/* ReportCodec.MedianFromReport */
#define FIXTURE_MEDIAN "-1042"
/* OnchainConfigCodec */
#define FIXTURE_ONCHAIN_MIN "-12"
#define FIXTURE_ONCHAIN_MAX "1234567890987654321"
/* Relayer.NewPluginProvider: the provider types the static relayer knows. */
#define FIXTURE_PROVIDER_TYPE_MEDIAN "median"
#define FIXTURE_PROVIDER_TYPE_PLUGIN "plugin"

extern const uint8_t fixture_config_digest[SDLOOP_DIGEST_SIZE];
extern const SdloopContractConfig fixture_contract_config;

extern const SdloopBytes fixture_encoded;     /* Keystore.Sign data; OnchainConfigCodec encoding */
extern const SdloopBytes fixture_signed;      /* Keystore.Sign result */
extern const SdloopBytes fixture_query;       /* ReportingPlugin.Query */
extern const SdloopBytes fixture_observation; /* ReportingPlugin.Observation */
extern const SdloopBytes fixture_report;      /* ReportingPlugin.Report, ReportCodec, ContractTransmitter */

extern const SdloopReportTimestamp fixture_report_timestamp;
extern const SdloopReportContext fixture_report_context;

#define FIXTURE_N_OBSERVATIONS 1U
extern const SdloopAttributed fixture_observations[FIXTURE_N_OBSERVATIONS];
#define FIXTURE_N_SIGNATURES 1U
extern const SdloopAttributed fixture_signatures[FIXTURE_N_SIGNATURES];
#define FIXTURE_N_PARSED_OBSERVATIONS 1U
extern const SdloopParsedObservation fixture_parsed_observations[FIXTURE_N_PARSED_OBSERVATIONS];

extern const SdloopRelayArgs fixture_relay_args;
extern const SdloopPluginArgs fixture_plugin_args;
extern const SdloopReportingPluginConfig fixture_reporting_plugin_config;
extern const SdloopReportingPluginInfo fixture_reporting_plugin_info;
extern const SdloopChainStatus fixture_chain_status;
#define FIXTURE_N_NODES 2U
extern const SdloopNodeStatus fixture_nodes[FIXTURE_N_NODES];
extern const SdloopOnchainConfig fixture_onchain_config;

/* --- comparisons ------------------------------------------------------------------------------------
 * Each returns 0 when @got equals the fixture, else fills @error with org.sdloop1.Error.InvalidArgument
 * "<field>[.<subfield>]: expected …, got …" and returns -EINVAL. */

int fixture_check_string(const char *expected, const char *got, const char *field, sd_bus_error *error);
int fixture_check_uint(uint64_t expected, uint64_t got, const char *field, sd_bus_error *error);
int fixture_check_int(int64_t expected, int64_t got, const char *field, sd_bus_error *error);
int fixture_check_bool(bool expected, bool got, const char *field, sd_bus_error *error);
int fixture_check_bytes(const SdloopBytes *expected, const void *got, size_t size, const char *field,
                        sd_bus_error *error);
int fixture_check_digest(const uint8_t *got, const char *field, sd_bus_error *error);
int fixture_check_strv(const char * const *expected, char * const *got, const char *field, sd_bus_error *error);

int fixture_check_report_timestamp(const SdloopReportTimestamp *got, const char *field, sd_bus_error *error);
int fixture_check_report_context(const SdloopReportContext *got, const char *field, sd_bus_error *error);
int fixture_check_contract_config(const SdloopContractConfig *got, const char *field, sd_bus_error *error);
int fixture_check_attributed(const SdloopAttributed *expected, size_t n_expected, const SdloopAttributed *got,
                             size_t n_got, const char *field, sd_bus_error *error);
int fixture_check_parsed_observations(const SdloopParsedObservation *got, size_t n, const char *field,
                                      sd_bus_error *error);
/* Every field but provider_type, which selects what to create and is checked by the caller. */
int fixture_check_relay_args(const SdloopRelayArgs *got, const char *field, sd_bus_error *error);
int fixture_check_plugin_args(const SdloopPluginArgs *got, const char *field, sd_bus_error *error);
int fixture_check_reporting_plugin_config(const SdloopReportingPluginConfig *got, const char *field,
                                          sd_bus_error *error);
int fixture_check_reporting_plugin_info(const SdloopReportingPluginInfo *got, const char *field,
                                        sd_bus_error *error);
int fixture_check_chain_status(const SdloopChainStatus *got, const char *field, sd_bus_error *error);
int fixture_check_node_statuses(const SdloopNodeStatus *got, size_t n, const char *field, sd_bus_error *error);
int fixture_check_onchain_config(const SdloopOnchainConfig *got, const char *field, sd_bus_error *error);

/* --- copies for results (malloc'd, freed by the library with the matching *_done()) ----------------- */

int fixture_copy_bytes(const SdloopBytes *src, SdloopBytes *ret);
int fixture_copy_contract_config(SdloopContractConfig *ret);
int fixture_copy_reporting_plugin_info(SdloopReportingPluginInfo *ret);
int fixture_copy_chain_status(SdloopChainStatus *ret);
int fixture_copy_node_statuses(SdloopNodeStatus **ret, size_t *ret_n);
int fixture_copy_onchain_config(SdloopOnchainConfig *ret);
