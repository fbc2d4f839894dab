/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The provider component services. A provider is ONE object (/org/sdloop1/provider/<n>) carrying several
 * of these interfaces; each has its own ops table and export/client functions.
 *
 * Any op of these tables may defer, answering later with its typed sdloop_<service>_<method>_return() (or,
 * for Transmit(), sdloop_call_return_empty()): see sdloop-call.h. A digest handed to a typed return is
 * SDLOOP_DIGEST_SIZE bytes; NULL bytes are empty. */

#include "sdloop-object.h"

/* --- org.sdloop1.OffchainConfigDigester --- */
typedef struct SdloopOffchainConfigDigesterOps {
        int (*config_digest)(void *userdata, const SdloopContractConfig *config,
                             uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error);
        int (*config_digest_prefix)(void *userdata, uint16_t *ret_prefix, sd_bus_error *error);
} SdloopOffchainConfigDigesterOps;

int sdloop_offchain_config_digester_export(SdloopObject *o, const SdloopOffchainConfigDigesterOps *ops, void *userdata);
/* Answer a deferred ConfigDigest() / ConfigDigestPrefix(). */
int sdloop_offchain_config_digester_config_digest_return(SdloopCall *c, const uint8_t digest[SDLOOP_DIGEST_SIZE]);
int sdloop_offchain_config_digester_config_digest_prefix_return(SdloopCall *c, uint16_t prefix);

/* --- org.sdloop1.ContractConfigTracker --- */
typedef struct SdloopContractConfigTrackerOps {
        int (*latest_config_details)(void *userdata, uint64_t *ret_changed_in_block,
                                     uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error);
        int (*latest_config)(void *userdata, uint64_t changed_in_block, SdloopContractConfig *ret, sd_bus_error *error);
        int (*latest_block_height)(void *userdata, uint64_t *ret_height, sd_bus_error *error);
} SdloopContractConfigTrackerOps;

int sdloop_contract_config_tracker_export(SdloopObject *o, const SdloopContractConfigTrackerOps *ops, void *userdata);
/* Answer a deferred LatestConfigDetails() / LatestConfig() / LatestBlockHeight(). */
int sdloop_contract_config_tracker_latest_config_details_return(SdloopCall *c, uint64_t changed_in_block,
                                                                const uint8_t digest[SDLOOP_DIGEST_SIZE]);
int sdloop_contract_config_tracker_latest_config_return(SdloopCall *c, const SdloopContractConfig *config);
int sdloop_contract_config_tracker_latest_block_height_return(SdloopCall *c, uint64_t height);
/* Emit ConfigChanged(changed_in_block, digest) from object @o. */
int sdloop_contract_config_tracker_emit_config_changed(SdloopObject *o, uint64_t changed_in_block,
                                                       const uint8_t digest[static SDLOOP_DIGEST_SIZE]);
/* Subscribe to ConfigChanged of @path on @peer; the handler gets the signal message ("tay"). */
int sdloop_contract_config_tracker_watch(SdloopPeer *peer, const char *path, sd_bus_slot **ret_slot,
                                         sd_bus_message_handler_t handler, void *userdata);

/* --- org.sdloop1.ContractTransmitter --- */
typedef struct SdloopContractTransmitterOps {
        int (*transmit)(void *userdata, const SdloopReportContext *ctx, const SdloopBytes *report,
                        const SdloopAttributed *signatures, size_t n_signatures, sd_bus_error *error);
        int (*latest_config_digest_and_epoch)(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                              uint32_t *ret_epoch, sd_bus_error *error);
        int (*from_account)(void *userdata, char **ret_account, sd_bus_error *error);
} SdloopContractTransmitterOps;

int sdloop_contract_transmitter_export(SdloopObject *o, const SdloopContractTransmitterOps *ops, void *userdata);
/* Answer a deferred LatestConfigDigestAndEpoch() / FromAccount(). */
int sdloop_contract_transmitter_latest_config_digest_and_epoch_return(SdloopCall *c,
                                                                      const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                                                      uint32_t epoch);
int sdloop_contract_transmitter_from_account_return(SdloopCall *c, const char *account);

/* --- org.sdloop1.ReportCodec --- */
typedef struct SdloopReportCodecOps {
        int (*build_report)(void *userdata, const SdloopParsedObservation *obs, size_t n_obs, SdloopBytes *ret_report,
                            sd_bus_error *error);
        int (*median_from_report)(void *userdata, const SdloopBytes *report, char **ret_median, sd_bus_error *error);
        int (*max_report_length)(void *userdata, int64_t n, int64_t *ret_max, sd_bus_error *error);
} SdloopReportCodecOps;

int sdloop_report_codec_export(SdloopObject *o, const SdloopReportCodecOps *ops, void *userdata);
/* Answer a deferred BuildReport() / MedianFromReport() (a decimal) / MaxReportLength() (not negative). */
int sdloop_report_codec_build_report_return(SdloopCall *c, const SdloopBytes *report);
int sdloop_report_codec_median_from_report_return(SdloopCall *c, const char *median);
int sdloop_report_codec_max_report_length_return(SdloopCall *c, int64_t max);

/* --- org.sdloop1.MedianContract --- */
typedef struct SdloopMedianContractOps {
        int (*latest_transmission_details)(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                           uint32_t *ret_epoch, uint8_t *ret_round, char **ret_latest_answer,
                                           int64_t *ret_latest_timestamp_usec, sd_bus_error *error);
        int (*latest_round_requested)(void *userdata, uint64_t lookback_usec, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                      uint32_t *ret_epoch, uint8_t *ret_round, sd_bus_error *error);
} SdloopMedianContractOps;

int sdloop_median_contract_export(SdloopObject *o, const SdloopMedianContractOps *ops, void *userdata);
/* Answer a deferred LatestTransmissionDetails() (@latest_answer a decimal) / LatestRoundRequested(). */
int sdloop_median_contract_latest_transmission_details_return(SdloopCall *c, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                                              uint32_t epoch, uint8_t round, const char *latest_answer,
                                                              int64_t latest_timestamp_usec);
int sdloop_median_contract_latest_round_requested_return(SdloopCall *c, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                                         uint32_t epoch, uint8_t round);

/* --- org.sdloop1.OnchainConfigCodec --- */
typedef struct SdloopOnchainConfigCodecOps {
        int (*encode)(void *userdata, const SdloopOnchainConfig *config, SdloopBytes *ret_encoded, sd_bus_error *error);
        int (*decode)(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret, sd_bus_error *error);
} SdloopOnchainConfigCodecOps;

int sdloop_onchain_config_codec_export(SdloopObject *o, const SdloopOnchainConfigCodecOps *ops, void *userdata);
/* Answer a deferred Encode() / Decode() (decimals, min <= max). */
int sdloop_onchain_config_codec_encode_return(SdloopCall *c, const SdloopBytes *encoded);
int sdloop_onchain_config_codec_decode_return(SdloopCall *c, const SdloopOnchainConfig *config);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
