/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* C counterparts of the composite LOOP/OCR types carried over D-Bus (see dbus/README.md). Every type has
 * a *_done() in sdloop-codec.h that frees what the codec allocated. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDLOOP_DIGEST_SIZE 32U
/* Big integers travel as decimal strings; 78 digits hold any 256-bit value. */
#define SDLOOP_DECIMAL_DIGITS_MAX 78U
/* SDLOOP_PAYLOAD_MAX, SDLOOP_ORACLES_MAX and the other bounds of the protocol. */
#include "sdloop-limits.h"

typedef struct SdloopBytes {
        uint8_t *data;
        size_t size;
} SdloopBytes;

typedef struct SdloopReportTimestamp {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
} SdloopReportTimestamp;

typedef struct SdloopReportContext {
        SdloopReportTimestamp timestamp;
        uint8_t extra_hash[SDLOOP_DIGEST_SIZE];
} SdloopReportContext;

typedef struct SdloopContractConfig {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint64_t config_count;
        SdloopBytes *signers;
        size_t n_signers;
        char **transmitters; /* NULL-terminated */
        uint8_t f;
        SdloopBytes onchain_config;
        uint64_t offchain_config_version;
        SdloopBytes offchain_config;
} SdloopContractConfig;

typedef struct SdloopRelayArgs {
        char *external_job_id; /* UUID text, validated */
        int32_t job_id;
        char *contract_id;
        bool new;
        char *relay_config; /* JSON text, validated */
        char *provider_type;
} SdloopRelayArgs;

typedef struct SdloopPluginArgs {
        char *transmitter_id;
        char *plugin_config; /* JSON text, validated */
} SdloopPluginArgs;

typedef struct SdloopReportingPluginConfig {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint8_t oracle_id;
        uint32_t n;
        uint32_t f;
        SdloopBytes onchain_config;
        SdloopBytes offchain_config;
        uint64_t estimated_round_interval_usec;
        uint64_t max_duration_query_usec;
        uint64_t max_duration_observation_usec;
        uint64_t max_duration_report_usec;
        uint64_t max_duration_should_accept_usec;
        uint64_t max_duration_should_transmit_usec;
} SdloopReportingPluginConfig;

typedef struct SdloopReportingPluginInfo {
        char *name;
        bool unique_reports;
        uint64_t max_query_length;
        uint64_t max_observation_length;
        uint64_t max_report_length;
} SdloopReportingPluginInfo;

/* AttributedObservation and AttributedOnchainSignature: bytes plus an oracle id. */
typedef struct SdloopAttributed {
        SdloopBytes data;
        uint8_t oracle;
} SdloopAttributed;

typedef struct SdloopParsedObservation {
        uint32_t timestamp;
        char *value;              /* decimal */
        char *juels_per_fee_coin; /* decimal */
        uint8_t observer;
} SdloopParsedObservation;

typedef struct SdloopChainStatus {
        char *id;
        bool enabled;
        char *config;
} SdloopChainStatus;

typedef struct SdloopNodeStatus {
        char *chain_id;
        char *name;
        char *config;
        char *state;
} SdloopNodeStatus;

typedef struct SdloopOnchainConfig {
        char *min; /* decimal */
        char *max; /* decimal */
} SdloopOnchainConfig;

/* Paths of the host objects a median factory works with, all on the same connection as the factory. */
typedef struct SdloopMedianDeps {
        const char *provider;          /* proxy of the relayer's median provider */
        const char *data_source;       /* value */
        const char *juels_data_source; /* juels per fee coin */
        const char *error_log;
} SdloopMedianDeps;
