/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Readers and writers for the composite types of the wire contract (DESIGN.md §3). Readers validate and
 * copy; on failure they report "<field>.<subfield>: <reason>" as org.sdloop1.Error.InvalidArgument and
 * leave nothing behind.
 *
 * The parts (sdloop-codec.h says what each reads and writes):
 *
 *   codec.c               what every reader is built from, and the scalars with rules
 *   codec-report.c        ReportTimestamp, ReportContext, ReportingPluginConfig, ReportingPluginInfo
 *   codec-contract.c      ContractConfig, OnchainConfig
 *   codec-args.c          RelayArgs, PluginArgs
 *   codec-observations.c  a(ayy) attributed observations and signatures, a(ussy) parsed observations
 *   codec-status.c        ChainStatus, a(ssss) NodeStatus */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "macro.h"
#include "sdloop-codec.h"

/* D-Bus signatures of the struct contents; the types themselves are "(" SIG ")". */
#define SIG_REPORT_TIMESTAMP         "ayuy"
#define SIG_REPORT_CONTEXT           "(" SIG_REPORT_TIMESTAMP ")ay"
#define SIG_CONTRACT_CONFIG          "aytaayasyaytay"
#define SIG_RELAY_ARGS               "sisbss"
#define SIG_PLUGIN_ARGS              "ss"
#define SIG_REPORTING_PLUGIN_CONFIG  "ayyuuayaytttttt"
#define SIG_REPORTING_PLUGIN_INFO    "sb(ttt)"
#define SIG_ATTRIBUTED               "ayy"
#define SIG_PARSED_OBSERVATION       "ussy"
#define SIG_CHAIN_STATUS             "sbs"
#define SIG_NODE_STATUS              "ssss"
#define SIG_ONCHAIN_CONFIG           "ss"

/* Room for a field path such as "observations[12].juels_per_fee_coin". A longer path is cut, which
 * only shortens the error message. */
#define FIELD_MAX 256

/* Unlike assigning "(T) {}", this also clears padding, so that "left zeroed" holds byte for byte. */
#define zero(x) memset(&(x), 0, sizeof(x))

/* Move a struct out of a _cleanup_ variable, leaving it zeroed. */
#define TAKE_STRUCT(s)                                          \
        ({                                                      \
                __typeof__(s) _s_ = (s);                        \
                (s) = (__typeof__(s)) {};                       \
                _s_;                                            \
        })

_printf_(2, 3) const char *fieldf(char buf[static FIELD_MAX], const char *format, ...);

int bus_read_failed(sd_bus_error *error, const char *field, const char *signature, int r);

int grow(void **array, size_t *allocated, size_t n, size_t size);
#define GROW(array, allocated, n) grow((void **) &(array), &(allocated), (n), sizeof(*(array)))

int check_elements(sd_bus_error *error, const char *field, size_t n, size_t max);

int read_string(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error);
int read_bool(sd_bus_message *m, const char *field, bool *ret, sd_bus_error *error);
int read_uuid(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error);
int read_json(sd_bus_message *m, const char *field, char **ret, sd_bus_error *error);
int enter_struct(sd_bus_message *m, const char *field, const char *contents, sd_bus_error *error);
int exit_container(sd_bus_message *m, const char *field, const char *signature, sd_bus_error *error);
