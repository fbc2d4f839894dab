/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The provider checks as a table: each step sends one call and compares its results with the fixtures in
 * its reply handler, which then starts the next step. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "provider-check.h"
#include "suite.h"

struct ConformanceProviderCheck {
        SdloopPeer *peer;
        char *path;
        SdloopContext *ctx;
        size_t step;      /* index into steps[] of the call outstanding */
        const char *call; /* …and what it calls, for errors */
        unsigned components;
        sd_bus_slot *slot;
        sd_bus_error error;
        conformance_provider_check_done_t done;
        void *userdata;
};

typedef struct Step {
        ConformanceComponent component;
        const char *call; /* what failed, when the call itself fails */
        int (*issue)(ConformanceProviderCheck *c);
} Step;

static int issue_from(ConformanceProviderCheck *c, size_t first);

static void finish(ConformanceProviderCheck *c, int r) {
        c->slot = sd_bus_slot_unref(c->slot);
        /* Last: the handler may free @c. */
        c->done(c, r, &c->error, c->userdata);
}

/* The reply of a step arrived and its results were compared (@r). */
static void step_checked(ConformanceProviderCheck *c, int r) {
        if (r >= 0)
                r = issue_from(c, c->step + 1);
        if (r != 0)
                finish(c, MIN(r, 0));
}

/* The reply of a step arrived: true if the call succeeded and its results are to be checked, false if it
 * failed (the checks are then over: @c may be gone). */
static bool step_replied(ConformanceProviderCheck *c, int r, sd_bus_error *error) {
        if (r >= 0)
                return true;

        sd_bus_error_free(&c->error);
        if (error)
                (void) sd_bus_error_move(&c->error, error);
        finish(c, conformance_error_prefix(&c->error, r, "%s", c->call));
        return false;
}

/* --- OffchainConfigDigester --- */

static void on_config_digest_prefix(SdloopPeer *peer, int r, uint16_t prefix, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_uint(FIXTURE_CONFIG_DIGEST_PREFIX, prefix, "ConfigDigestPrefix() reply.prefix",
                                           &c->error));
}

static int issue_config_digest_prefix(ConformanceProviderCheck *c) {
        return sdloop_offchain_config_digester_config_digest_prefix_async(c->peer, c->path, c->ctx,
                                                                          on_config_digest_prefix, c, &c->slot);
}

static void on_config_digest(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], sd_bus_error *error,
                             void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_digest(digest, "ConfigDigest() reply.digest", &c->error));
}

static int issue_config_digest(ConformanceProviderCheck *c) {
        return sdloop_offchain_config_digester_config_digest_async(c->peer, c->path, &fixture_contract_config, c->ctx,
                                                                   on_config_digest, c, &c->slot);
}

/* --- ContractConfigTracker --- */

static void on_latest_block_height(SdloopPeer *peer, int r, uint64_t height, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_uint(FIXTURE_BLOCK_HEIGHT, height, "LatestBlockHeight() reply.block_height",
                                           &c->error));
}

static int issue_latest_block_height(ConformanceProviderCheck *c) {
        return sdloop_contract_config_tracker_latest_block_height_async(c->peer, c->path, c->ctx,
                                                                        on_latest_block_height, c, &c->slot);
}

static void on_latest_config_details(SdloopPeer *peer, int r, uint64_t changed_in_block,
                                     const uint8_t digest[SDLOOP_DIGEST_SIZE], sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        r = fixture_check_uint(FIXTURE_CHANGED_IN_BLOCK, changed_in_block,
                               "LatestConfigDetails() reply.changed_in_block", &c->error);
        if (r >= 0)
                r = fixture_check_digest(digest, "LatestConfigDetails() reply.digest", &c->error);
        step_checked(c, r);
}

static int issue_latest_config_details(ConformanceProviderCheck *c) {
        return sdloop_contract_config_tracker_latest_config_details_async(c->peer, c->path, c->ctx,
                                                                          on_latest_config_details, c, &c->slot);
}

static void on_latest_config(SdloopPeer *peer, int r, SdloopContractConfig *config, sd_bus_error *error,
                             void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_contract_config(config, "LatestConfig() reply.contract_config", &c->error));
}

static int issue_latest_config(ConformanceProviderCheck *c) {
        return sdloop_contract_config_tracker_latest_config_async(c->peer, c->path, FIXTURE_CHANGED_IN_BLOCK, c->ctx,
                                                                  on_latest_config, c, &c->slot);
}

/* --- ContractTransmitter --- */

static void on_from_account(SdloopPeer *peer, int r, char **account, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_string(FIXTURE_ACCOUNT, *account, "FromAccount() reply.account", &c->error));
}

static int issue_from_account(ConformanceProviderCheck *c) {
        return sdloop_contract_transmitter_from_account_async(c->peer, c->path, c->ctx, on_from_account, c, &c->slot);
}

static void on_latest_config_digest_and_epoch(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                              uint32_t epoch, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        r = fixture_check_digest(digest, "LatestConfigDigestAndEpoch() reply.digest", &c->error);
        if (r >= 0)
                r = fixture_check_uint(FIXTURE_EPOCH, epoch, "LatestConfigDigestAndEpoch() reply.epoch", &c->error);
        step_checked(c, r);
}

static int issue_latest_config_digest_and_epoch(ConformanceProviderCheck *c) {
        return sdloop_contract_transmitter_latest_config_digest_and_epoch_async(
                        c->peer, c->path, c->ctx, on_latest_config_digest_and_epoch, c, &c->slot);
}

static void on_transmit(SdloopPeer *peer, int r, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, 0);
}

static int issue_transmit(ConformanceProviderCheck *c) {
        return sdloop_contract_transmitter_transmit_async(c->peer, c->path, &fixture_report_context,
                                                          fixture_report.data, fixture_report.size, fixture_signatures,
                                                          FIXTURE_N_SIGNATURES, c->ctx, on_transmit, c, &c->slot);
}

/* --- ReportCodec --- */

static void on_build_report(SdloopPeer *peer, int r, SdloopBytes *report, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_bytes(&fixture_report, report->data, report->size, "BuildReport() reply.report",
                                            &c->error));
}

static int issue_build_report(ConformanceProviderCheck *c) {
        return sdloop_report_codec_build_report_async(c->peer, c->path, fixture_parsed_observations,
                                                      FIXTURE_N_PARSED_OBSERVATIONS, c->ctx, on_build_report, c,
                                                      &c->slot);
}

static void on_median_from_report(SdloopPeer *peer, int r, char **median, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_string(FIXTURE_MEDIAN, *median, "MedianFromReport() reply.median", &c->error));
}

static int issue_median_from_report(ConformanceProviderCheck *c) {
        return sdloop_report_codec_median_from_report_async(c->peer, c->path, fixture_report.data, fixture_report.size,
                                                            c->ctx, on_median_from_report, c, &c->slot);
}

static void on_max_report_length(SdloopPeer *peer, int r, int64_t max, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_int(FIXTURE_MAX_REPORT_LENGTH, max, "MaxReportLength() reply.max", &c->error));
}

static int issue_max_report_length(ConformanceProviderCheck *c) {
        return sdloop_report_codec_max_report_length_async(c->peer, c->path, FIXTURE_MAX_REPORT_LENGTH_N, c->ctx,
                                                           on_max_report_length, c, &c->slot);
}

/* --- MedianContract --- */

static void on_latest_round_requested(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], uint32_t epoch,
                                      uint8_t round, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        r = fixture_check_digest(digest, "LatestRoundRequested() reply.digest", &c->error);
        if (r >= 0)
                r = fixture_check_uint(FIXTURE_EPOCH, epoch, "LatestRoundRequested() reply.epoch", &c->error);
        if (r >= 0)
                r = fixture_check_uint(FIXTURE_ROUND, round, "LatestRoundRequested() reply.round", &c->error);
        step_checked(c, r);
}

static int issue_latest_round_requested(ConformanceProviderCheck *c) {
        return sdloop_median_contract_latest_round_requested_async(c->peer, c->path, FIXTURE_LOOKBACK_USEC, c->ctx,
                                                                   on_latest_round_requested, c, &c->slot);
}

static void on_latest_transmission_details(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                           uint32_t epoch, uint8_t round, char **latest_answer,
                                           int64_t latest_timestamp_usec, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        r = fixture_check_digest(digest, "LatestTransmissionDetails() reply.digest", &c->error);
        if (r >= 0)
                r = fixture_check_uint(FIXTURE_EPOCH, epoch, "LatestTransmissionDetails() reply.epoch", &c->error);
        if (r >= 0)
                r = fixture_check_uint(FIXTURE_ROUND, round, "LatestTransmissionDetails() reply.round", &c->error);
        if (r >= 0)
                r = fixture_check_string(FIXTURE_LATEST_ANSWER, *latest_answer,
                                         "LatestTransmissionDetails() reply.latest_answer", &c->error);
        if (r >= 0)
                r = fixture_check_int(FIXTURE_LATEST_TIMESTAMP_USEC, latest_timestamp_usec,
                                      "LatestTransmissionDetails() reply.latest_timestamp_usec", &c->error);
        step_checked(c, r);
}

static int issue_latest_transmission_details(ConformanceProviderCheck *c) {
        return sdloop_median_contract_latest_transmission_details_async(c->peer, c->path, c->ctx,
                                                                        on_latest_transmission_details, c, &c->slot);
}

/* --- OnchainConfigCodec --- */

static void on_encode(SdloopPeer *peer, int r, SdloopBytes *encoded, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_bytes(&fixture_encoded, encoded->data, encoded->size, "Encode() reply.encoded",
                                            &c->error));
}

static int issue_encode(ConformanceProviderCheck *c) {
        return sdloop_onchain_config_codec_encode_async(c->peer, c->path, &fixture_onchain_config, c->ctx, on_encode, c,
                                                        &c->slot);
}

static void on_decode(SdloopPeer *peer, int r, SdloopOnchainConfig *decoded, sd_bus_error *error, void *userdata) {
        ConformanceProviderCheck *c = userdata;

        if (!step_replied(c, r, error))
                return;
        step_checked(c, fixture_check_onchain_config(decoded, "Decode() reply.onchain_config", &c->error));
}

static int issue_decode(ConformanceProviderCheck *c) {
        return sdloop_onchain_config_codec_decode_async(c->peer, c->path, fixture_encoded.data, fixture_encoded.size,
                                                        c->ctx, on_decode, c, &c->slot);
}

/* One component after the other, each method once. */
static const Step steps[] = {
        { CONFORMANCE_OFFCHAIN_CONFIG_DIGESTER, "OffchainConfigDigester.ConfigDigestPrefix()",
          issue_config_digest_prefix },
        { CONFORMANCE_OFFCHAIN_CONFIG_DIGESTER, "OffchainConfigDigester.ConfigDigest()", issue_config_digest },
        { CONFORMANCE_CONTRACT_CONFIG_TRACKER, "ContractConfigTracker.LatestBlockHeight()", issue_latest_block_height },
        { CONFORMANCE_CONTRACT_CONFIG_TRACKER, "ContractConfigTracker.LatestConfigDetails()",
          issue_latest_config_details },
        { CONFORMANCE_CONTRACT_CONFIG_TRACKER, "ContractConfigTracker.LatestConfig()", issue_latest_config },
        { CONFORMANCE_CONTRACT_TRANSMITTER, "ContractTransmitter.FromAccount()", issue_from_account },
        { CONFORMANCE_CONTRACT_TRANSMITTER, "ContractTransmitter.LatestConfigDigestAndEpoch()",
          issue_latest_config_digest_and_epoch },
        { CONFORMANCE_CONTRACT_TRANSMITTER, "ContractTransmitter.Transmit()", issue_transmit },
        { CONFORMANCE_REPORT_CODEC, "ReportCodec.BuildReport()", issue_build_report },
        { CONFORMANCE_REPORT_CODEC, "ReportCodec.MedianFromReport()", issue_median_from_report },
        { CONFORMANCE_REPORT_CODEC, "ReportCodec.MaxReportLength()", issue_max_report_length },
        { CONFORMANCE_MEDIAN_CONTRACT, "MedianContract.LatestRoundRequested()", issue_latest_round_requested },
        { CONFORMANCE_MEDIAN_CONTRACT, "MedianContract.LatestTransmissionDetails()",
          issue_latest_transmission_details },
        { CONFORMANCE_ONCHAIN_CONFIG_CODEC, "OnchainConfigCodec.Encode()", issue_encode },
        { CONFORMANCE_ONCHAIN_CONFIG_CODEC, "OnchainConfigCodec.Decode()", issue_decode },
};

/* Issue the first step at or after @first that checks one of our components: 0 when one is outstanding,
 * 1 when none is left, or negative with c->error set. */
static int issue_from(ConformanceProviderCheck *c, size_t first) {
        int r;

        c->slot = sd_bus_slot_unref(c->slot);
        for (c->step = first; c->step < ELEMENTSOF(steps); c->step++) {
                if (!(steps[c->step].component & c->components))
                        continue;

                c->call = steps[c->step].call;
                r = steps[c->step].issue(c);
                if (r >= 0)
                        return 0;
                return conformance_send_failed(&c->error, c->peer, r, "%s", c->call);
        }
        return 1;
}

/* --- running them ------------------------------------------------------------------------------------ */

ConformanceProviderCheck *conformance_provider_check_free(ConformanceProviderCheck *c) {
        if (!c)
                return NULL;
        sd_bus_slot_unref(c->slot);
        sd_bus_error_free(&c->error);
        sdloop_context_unref(c->ctx);
        sdloop_peer_unref(c->peer);
        free(c->path);
        return mfree(c);
}

int conformance_provider_check_start(SdloopPeer *peer, const char *path, unsigned components, SdloopContext *ctx,
                                     conformance_provider_check_done_t done, void *userdata,
                                     ConformanceProviderCheck **ret, sd_bus_error *error) {
        _cleanup_(conformance_provider_check_freep) ConformanceProviderCheck *c = NULL;
        int r;

        if (!peer || !path || !done || !ret)
                return -EINVAL;

        c = new0(ConformanceProviderCheck, 1);
        if (!c)
                return -ENOMEM;
        *c = (ConformanceProviderCheck) {
                .peer = sdloop_peer_ref(peer),
                .path = strdup(path),
                .ctx = sdloop_context_ref(ctx),
                .components = components,
                .error = SD_BUS_ERROR_NULL,
                .done = done,
                .userdata = userdata,
        };
        if (!c->path)
                return -ENOMEM;

        r = issue_from(c, 0);
        if (r < 0) {
                if (error)
                        (void) sd_bus_error_move(error, &c->error);
                return r;
        }
        /* Nothing selected: a caller's mistake, not a verdict on the provider. */
        if (r > 0)
                return conformance_fail(error, "no provider component selected (0x%x)", components);

        *ret = TAKE_PTR(c);
        return 0;
}

typedef struct SyncCheck {
        bool done;
        int r;
        sd_bus_error error;
} SyncCheck;

static void on_sync_done(ConformanceProviderCheck *c, int r, sd_bus_error *error, void *userdata) {
        SyncCheck *s = userdata;

        s->done = true;
        s->r = r;
        if (r < 0)
                (void) sd_bus_error_move(&s->error, error);
}

int conformance_provider_check_run(SdloopPeer *peer, const char *path, unsigned components, sd_bus_error *error) {
        _cleanup_(conformance_provider_check_freep) ConformanceProviderCheck *c = NULL;
        SyncCheck s = { .error = SD_BUS_ERROR_NULL };
        int r;

        r = conformance_provider_check_start(peer, path, components, NULL, on_sync_done, &s, &c, error);
        if (r < 0)
                return r;

        r = sdloop_peer_wait_for(peer, &s.done, 0);
        if (!s.done) {
                if (r == -EDEADLK)
                        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                                 "provider checks of %s: waiting inside an event-loop callback refused",
                                                 path);
                return conformance_error_prefix(error, sdloop_error_setf(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE,
                                                                         "%s: connection lost",
                                                                         strempty(sdloop_peer_get_description(peer))),
                                                "%s", c->call);
        }

        (void) sd_bus_error_move(error, &s.error);
        return s.r;
}
