/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The static providers: one object carrying OffchainConfigDigester and ContractConfigTracker (config
 * provider), plus ContractTransmitter (plugin provider), plus ReportCodec, MedianContract and
 * OnchainConfigCodec (median provider). */

#include <errno.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"

/* --- OffchainConfigDigester --- */

static int ocd_config_digest(void *userdata, const SdloopContractConfig *config,
                             uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        int r;

        r = fixture_check_contract_config(config, "contract_config", error);
        if (r < 0)
                return r;
        memcpy(ret_digest, fixture_config_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int ocd_config_digest_prefix(void *userdata, uint16_t *ret_prefix, sd_bus_error *error) {
        *ret_prefix = FIXTURE_CONFIG_DIGEST_PREFIX;
        return 0;
}

static const SdloopOffchainConfigDigesterOps ocd_ops = {
        .config_digest = ocd_config_digest,
        .config_digest_prefix = ocd_config_digest_prefix,
};

/* --- ContractConfigTracker --- */

static int cct_latest_config_details(void *userdata, uint64_t *ret_changed_in_block,
                                     uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        *ret_changed_in_block = FIXTURE_CHANGED_IN_BLOCK;
        memcpy(ret_digest, fixture_config_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int cct_latest_config(void *userdata, uint64_t changed_in_block, SdloopContractConfig *ret,
                             sd_bus_error *error) {
        int r;

        r = fixture_check_uint(FIXTURE_CHANGED_IN_BLOCK, changed_in_block, "changed_in_block", error);
        if (r < 0)
                return r;
        return fixture_copy_contract_config(ret);
}

static int cct_latest_block_height(void *userdata, uint64_t *ret_height, sd_bus_error *error) {
        *ret_height = FIXTURE_BLOCK_HEIGHT;
        return 0;
}

static const SdloopContractConfigTrackerOps cct_ops = {
        .latest_config_details = cct_latest_config_details,
        .latest_config = cct_latest_config,
        .latest_block_height = cct_latest_block_height,
};

/* --- ContractTransmitter --- */

static int ct_transmit(void *userdata, const SdloopReportContext *ctx, const SdloopBytes *report,
                       const SdloopAttributed *signatures, size_t n_signatures, sd_bus_error *error) {
        int r;

        r = fixture_check_report_context(ctx, "report_context", error);
        if (r < 0)
                return r;
        r = fixture_check_bytes(&fixture_report, report->data, report->size, "report", error);
        if (r < 0)
                return r;
        return fixture_check_attributed(fixture_signatures, FIXTURE_N_SIGNATURES, signatures, n_signatures,
                                        "signatures", error);
}

static int ct_latest_config_digest_and_epoch(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                             uint32_t *ret_epoch, sd_bus_error *error) {
        memcpy(ret_digest, fixture_config_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = FIXTURE_EPOCH;
        return 0;
}

static int ct_from_account(void *userdata, char **ret_account, sd_bus_error *error) {
        *ret_account = strdup(FIXTURE_ACCOUNT);
        return *ret_account ? 0 : -ENOMEM;
}

static const SdloopContractTransmitterOps ct_ops = {
        .transmit = ct_transmit,
        .latest_config_digest_and_epoch = ct_latest_config_digest_and_epoch,
        .from_account = ct_from_account,
};

/* --- ReportCodec --- */

static int rc_build_report(void *userdata, const SdloopParsedObservation *obs, size_t n_obs, SdloopBytes *ret_report,
                           sd_bus_error *error) {
        int r;

        r = fixture_check_parsed_observations(obs, n_obs, "observations", error);
        if (r < 0)
                return r;
        return fixture_copy_bytes(&fixture_report, ret_report);
}

static int rc_median_from_report(void *userdata, const SdloopBytes *report, char **ret_median, sd_bus_error *error) {
        int r;

        r = fixture_check_bytes(&fixture_report, report->data, report->size, "report", error);
        if (r < 0)
                return r;
        *ret_median = strdup(FIXTURE_MEDIAN);
        return *ret_median ? 0 : -ENOMEM;
}

static int rc_max_report_length(void *userdata, int64_t n, int64_t *ret_max, sd_bus_error *error) {
        int r;

        r = fixture_check_int(FIXTURE_MAX_REPORT_LENGTH_N, n, "n", error);
        if (r < 0)
                return r;
        *ret_max = FIXTURE_MAX_REPORT_LENGTH;
        return 0;
}

static const SdloopReportCodecOps rc_ops = {
        .build_report = rc_build_report,
        .median_from_report = rc_median_from_report,
        .max_report_length = rc_max_report_length,
};

/* --- MedianContract --- */

static int mc_latest_transmission_details(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                          uint32_t *ret_epoch, uint8_t *ret_round, char **ret_latest_answer,
                                          int64_t *ret_latest_timestamp_usec, sd_bus_error *error) {
        char *answer;

        answer = strdup(FIXTURE_LATEST_ANSWER);
        if (!answer)
                return -ENOMEM;

        memcpy(ret_digest, fixture_config_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = FIXTURE_EPOCH;
        *ret_round = FIXTURE_ROUND;
        *ret_latest_answer = answer;
        *ret_latest_timestamp_usec = FIXTURE_LATEST_TIMESTAMP_USEC;
        return 0;
}

static int mc_latest_round_requested(void *userdata, uint64_t lookback_usec,
                                     uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], uint32_t *ret_epoch,
                                     uint8_t *ret_round, sd_bus_error *error) {
        int r;

        r = fixture_check_uint(FIXTURE_LOOKBACK_USEC, lookback_usec, "lookback_usec", error);
        if (r < 0)
                return r;
        memcpy(ret_digest, fixture_config_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = FIXTURE_EPOCH;
        *ret_round = FIXTURE_ROUND;
        return 0;
}

static const SdloopMedianContractOps mc_ops = {
        .latest_transmission_details = mc_latest_transmission_details,
        .latest_round_requested = mc_latest_round_requested,
};

/* --- OnchainConfigCodec --- */

static int occ_encode(void *userdata, const SdloopOnchainConfig *config, SdloopBytes *ret_encoded,
                      sd_bus_error *error) {
        int r;

        r = fixture_check_onchain_config(config, "onchain_config", error);
        if (r < 0)
                return r;
        return fixture_copy_bytes(&fixture_encoded, ret_encoded);
}

static int occ_decode(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret, sd_bus_error *error) {
        int r;

        r = fixture_check_bytes(&fixture_encoded, encoded->data, encoded->size, "encoded", error);
        if (r < 0)
                return r;
        return fixture_copy_onchain_config(ret);
}

static const SdloopOnchainConfigCodecOps occ_ops = {
        .encode = occ_encode,
        .decode = occ_decode,
};

/* --- the provider object --- */

static int provider_export(SdloopObject *o, StaticProviderType type) {
        int r;

        r = sdloop_offchain_config_digester_export(o, &ocd_ops, NULL);
        if (r < 0)
                return r;
        r = sdloop_contract_config_tracker_export(o, &cct_ops, NULL);
        if (r < 0)
                return r;
        if (type == STATIC_PROVIDER_CONFIG)
                return 0;

        r = sdloop_contract_transmitter_export(o, &ct_ops, NULL);
        if (r < 0)
                return r;
        if (type == STATIC_PROVIDER_PLUGIN)
                return 0;

        r = sdloop_report_codec_export(o, &rc_ops, NULL);
        if (r < 0)
                return r;
        r = sdloop_median_contract_export(o, &mc_ops, NULL);
        if (r < 0)
                return r;
        return sdloop_onchain_config_codec_export(o, &occ_ops, NULL);
}

int static_provider_new(SdloopObject *relayer, StaticProviderType type, SdloopObject **ret) {
        return static_provider_new_at(relayer, NULL, type, ret);
}

int static_provider_new_at(SdloopObject *relayer, const char *path, StaticProviderType type, SdloopObject **ret) {
        SdloopPeer *peer = sdloop_object_get_peer(relayer);
        SdloopObject *o;
        int r;

        r = path ? sdloop_object_new_at(peer, relayer, path, NULL, NULL, &o) :
                   sdloop_object_new(peer, relayer, "provider", NULL, NULL, &o);
        if (r < 0)
                return r;

        r = provider_export(o, type);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }

        *ret = o;
        return 0;
}
