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

/* The values themselves: fixtures.json (installed as /usr/share/sdloop/fixtures.json, for plugins in
 * any language), as FIXTURE_<NAME> macros generated at build time (tools/sdloop-gen-fixtures.py). */
#include "fixtures-data.h"

#define FIXTURE_USEC_PER_SEC UINT64_C(1000000)

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
#define FIXTURE_N_NODES FIXTURE_NODE_NAMES_N
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
