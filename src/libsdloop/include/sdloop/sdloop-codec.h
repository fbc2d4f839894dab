/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading and writing the composite types of sdloop-types.h on sd-bus messages.
 *
 * Every sdloop_read_*() validates what it reads. On a bad value it returns -EINVAL and fills @error with
 * org.sdloop1.Error.InvalidArgument and a message that starts with @field, e.g.
 * "report_context.extra_hash: expected 32 bytes, got 31". A message of the wrong D-Bus type yields
 * -ENXIO/-EBADMSG from sd-bus, reported the same way. On failure *ret is left zeroed (nothing to free).
 * Readers copy what they read: results stay valid after the message is gone; free them with *_done(). */

#include <systemd/sd-bus.h>

#include "sdloop-types.h"

/* --- scalars with rules ----------------------------------------------------------------------------- */

/* Decimal big integer: optional '-', no leading zeros, no "-0", at most SDLOOP_DECIMAL_DIGITS_MAX digits. */
bool sdloop_decimal_is_valid(const char *s);
/* Parse a decimal into a signed 128-bit integer; -EINVAL if malformed, -ERANGE if it does not fit. */
int sdloop_decimal_to_i128(const char *s, __int128 *ret);
/* Format into buf (at least 41 bytes). Returns buf. */
char *sdloop_decimal_from_i128(__int128 v, char buf[static 41]);
/* Compare two valid decimals numerically (-1, 0, 1), of any length. */
int sdloop_decimal_compare(const char *a, const char *b);

/* UUID in its 36-character textual form (any case). */
bool sdloop_uuid_is_valid(const char *s);
/* JSON text parseable by json-c; the empty string is refused. On failure fills *ret_reason if given. */
bool sdloop_json_is_valid(const char *s, const char **ret_reason);

/* Read a decimal string argument / an "ay" of an exact or bounded size. */
int sdloop_read_decimal(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error);
int sdloop_read_digest(sd_bus_message *m, const char *field, uint8_t ret[static SDLOOP_DIGEST_SIZE], sd_bus_error *error);
int sdloop_append_digest(sd_bus_message *m, const uint8_t digest[static SDLOOP_DIGEST_SIZE]);
/* Reads an "o" naming an object of the host on this connection: /org/sdloop1/host/<kind>/<n>, or, with
 * @kind NULL, anything under /org/sdloop1/host/. Any other path (such as "/") cannot be the host's: NotFound
 * naming @field, at once, not when the object is first called. *ret points into @m. */
int sdloop_read_host_path(sd_bus_message *m, const char *field, const char *kind, const char **ret, sd_bus_error *error);

/* Reads "ay" of at most @max bytes (0 = SDLOOP_PAYLOAD_MAX). */
int sdloop_read_bytes(sd_bus_message *m, const char *field, size_t max, SdloopBytes *ret, sd_bus_error *error);
int sdloop_append_bytes(sd_bus_message *m, const void *data, size_t size);
void sdloop_bytes_done(SdloopBytes *b);
int sdloop_bytes_copy(SdloopBytes *dst, const void *data, size_t size);

/* --- composites (one reader, one writer, one destructor each) --------------------------------------- */

int sdloop_read_report_timestamp(sd_bus_message *m, const char *field, SdloopReportTimestamp *ret, sd_bus_error *error);
int sdloop_append_report_timestamp(sd_bus_message *m, const SdloopReportTimestamp *v);

int sdloop_read_report_context(sd_bus_message *m, const char *field, SdloopReportContext *ret, sd_bus_error *error);
int sdloop_append_report_context(sd_bus_message *m, const SdloopReportContext *v);

int sdloop_read_contract_config(sd_bus_message *m, const char *field, SdloopContractConfig *ret, sd_bus_error *error);
int sdloop_append_contract_config(sd_bus_message *m, const SdloopContractConfig *v);
void sdloop_contract_config_done(SdloopContractConfig *v);

int sdloop_read_relay_args(sd_bus_message *m, const char *field, SdloopRelayArgs *ret, sd_bus_error *error);
int sdloop_append_relay_args(sd_bus_message *m, const SdloopRelayArgs *v);
void sdloop_relay_args_done(SdloopRelayArgs *v);

int sdloop_read_plugin_args(sd_bus_message *m, const char *field, SdloopPluginArgs *ret, sd_bus_error *error);
int sdloop_append_plugin_args(sd_bus_message *m, const SdloopPluginArgs *v);
void sdloop_plugin_args_done(SdloopPluginArgs *v);

int sdloop_read_reporting_plugin_config(sd_bus_message *m, const char *field, SdloopReportingPluginConfig *ret, sd_bus_error *error);
int sdloop_append_reporting_plugin_config(sd_bus_message *m, const SdloopReportingPluginConfig *v);
void sdloop_reporting_plugin_config_done(SdloopReportingPluginConfig *v);

int sdloop_read_reporting_plugin_info(sd_bus_message *m, const char *field, SdloopReportingPluginInfo *ret, sd_bus_error *error);
int sdloop_append_reporting_plugin_info(sd_bus_message *m, const SdloopReportingPluginInfo *v);
void sdloop_reporting_plugin_info_done(SdloopReportingPluginInfo *v);

/* a(ayy): attributed observations or onchain signatures. @max_data bounds each element's bytes. */
int sdloop_read_attributed_array(sd_bus_message *m, const char *field, size_t max_data, SdloopAttributed **ret, size_t *ret_n, sd_bus_error *error);
int sdloop_append_attributed_array(sd_bus_message *m, const SdloopAttributed *v, size_t n);
void sdloop_attributed_array_free(SdloopAttributed *v, size_t n);

/* a(ussy) */
int sdloop_read_parsed_observations(sd_bus_message *m, const char *field, SdloopParsedObservation **ret, size_t *ret_n, sd_bus_error *error);
int sdloop_append_parsed_observations(sd_bus_message *m, const SdloopParsedObservation *v, size_t n);
void sdloop_parsed_observations_free(SdloopParsedObservation *v, size_t n);

int sdloop_read_chain_status(sd_bus_message *m, const char *field, SdloopChainStatus *ret, sd_bus_error *error);
int sdloop_append_chain_status(sd_bus_message *m, const SdloopChainStatus *v);
void sdloop_chain_status_done(SdloopChainStatus *v);

/* a(ssss) */
int sdloop_read_node_statuses(sd_bus_message *m, const char *field, SdloopNodeStatus **ret, size_t *ret_n, sd_bus_error *error);
int sdloop_append_node_statuses(sd_bus_message *m, const SdloopNodeStatus *v, size_t n);
void sdloop_node_statuses_free(SdloopNodeStatus *v, size_t n);

/* (ss), both decimals */
int sdloop_read_onchain_config(sd_bus_message *m, const char *field, SdloopOnchainConfig *ret, sd_bus_error *error);
int sdloop_append_onchain_config(sd_bus_message *m, const SdloopOnchainConfig *v);
void sdloop_onchain_config_done(SdloopOnchainConfig *v);
