/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The checks for a plugin that is not the static one: every method with valid arguments, and its results
 * checked for shape (the typed clients refuse a malformed reply: a 31-byte digest, a bad decimal) and for
 * what the contract makes them mean — a config's digest is ConfigDigest() of that config and starts with
 * the prefix, Decode() undoes Encode(), a report carries the median of what was observed. With a Tap each
 * step is a line of it; without one (through the host's handles) the first failure is returned. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "suite.h"
#include "tool.h"

/* One step: a TAP line when there is a Tap; on failure the caller's group ends. */
#define STEP(t, name, expr)                                                       \
        do {                                                                      \
                int _r = (expr);                                                  \
                if (t)                                                            \
                        tap_check_call(t, _r, error, name);                       \
                if (_r < 0)                                                       \
                        return _r;                                                \
                sd_bus_error_free(error);                                         \
        } while (0)


void tool_relay_args(const ToolOptions *o, const char *provider_type, SdloopRelayArgs *ret) {
        *ret = fixture_relay_args;
        if (o->relay_config)
                ret->relay_config = o->relay_config;
        ret->provider_type = (char *) provider_type;
}

void tool_plugin_args(const ToolOptions *o, SdloopPluginArgs *ret) {
        *ret = fixture_plugin_args;
        if (o->plugin_config)
                ret->plugin_config = o->plugin_config;
}

/* A call a plugin may refuse for its own reasons (no funds, an unsigned report): success, or a refusal in
 * org.sdloop1.Error.* that is not a failure of its own (Internal) or of the connection. */
static int answered_or_refused(int r, sd_bus_error *error, const char *what) {
        if (r >= 0)
                return 0;
        if (sd_bus_error_has_names(error, SDLOOP_ERROR_INVALID_ARGUMENT, SDLOOP_ERROR_NOT_FOUND,
                                   SDLOOP_ERROR_UNIMPLEMENTED)) {
                fprintf(stderr, "sdloop-conformance: %s refused: %s: %s\n", what, error->name,
                        strempty(error->message));
                sd_bus_error_free(error);
                return 0;
        }
        return r;
}

/* --- relayer ---------------------------------------------------------------------------------------- */

static int check_config_provider(SdloopPeer *peer, const char *path, Tap *t, sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        uint8_t digest[SDLOOP_DIGEST_SIZE], computed[SDLOOP_DIGEST_SIZE];
        uint64_t block = 0, height = 0;
        uint16_t prefix = 0;

        STEP(t, "OffchainConfigDigester.ConfigDigestPrefix()",
             sdloop_offchain_config_digester_config_digest_prefix(peer, path, &prefix, error));
        STEP(t, "ContractConfigTracker.LatestConfigDetails()",
             sdloop_contract_config_tracker_latest_config_details(peer, path, &block, digest, error));
        STEP(t, "ContractConfigTracker.LatestConfig(changed_in_block): the digest LatestConfigDetails() named",
             sdloop_contract_config_tracker_latest_config(peer, path, block, &config, error) < 0 ? -EIO :
             memcmp(config.digest, digest, SDLOOP_DIGEST_SIZE) != 0 ?
             conformance_fail(error, "LatestConfig(%" PRIu64 ").digest differs from LatestConfigDetails().digest", block) : 0);
        STEP(t, "OffchainConfigDigester.ConfigDigest(latest config): its digest, starting with the prefix",
             sdloop_offchain_config_digester_config_digest(peer, path, &config, computed, error) < 0 ? -EIO :
             memcmp(computed, config.digest, SDLOOP_DIGEST_SIZE) != 0 ?
             conformance_fail(error, "ConfigDigest() of the latest config is not its digest") :
             (uint16_t) (computed[0] << 8 | computed[1]) != prefix ?
             conformance_fail(error, "the digest starts with %02x%02x, not with ConfigDigestPrefix() %04x",
                              computed[0], computed[1], prefix) : 0);
        STEP(t, "ContractConfigTracker.LatestBlockHeight(): not below changed_in_block",
             sdloop_contract_config_tracker_latest_block_height(peer, path, &height, error) < 0 ? -EIO :
             height < block ? conformance_fail(error, "height %" PRIu64 " below changed_in_block %" PRIu64, height,
                                               block) : 0);
        return 0;
}

/* The four observations of the codec check: sorted, libocr's median is the one at n/2, "30". */
static int check_report_codec(SdloopPeer *peer, const char *path, Tap *t, sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        _cleanup_free_ char *median = NULL;
        uint32_t ts = (uint32_t) time(NULL);
        SdloopParsedObservation obs[] = {
                { ts, (char *) "10", (char *) "5", 0 },
                { ts, (char *) "40", (char *) "5", 1 },
                { ts, (char *) "20", (char *) "5", 2 },
                { ts, (char *) "30", (char *) "5", 3 },
        };
        int64_t max = 0;

        STEP(t, "ReportCodec.BuildReport()", sdloop_report_codec_build_report(peer, path, obs, ELEMENTSOF(obs), &report, error));
        STEP(t, "ReportCodec.MedianFromReport(): the median of the observations",
             sdloop_report_codec_median_from_report(peer, path, report.data, report.size, &median, error) < 0 ? -EIO :
             !streq(median, "30") ? conformance_fail(error, "expected 30, got %s", median) : 0);
        STEP(t, "ReportCodec.MaxReportLength(4): not below the report's length",
             sdloop_report_codec_max_report_length(peer, path, 4, &max, error) < 0 ? -EIO :
             max < 0 || (uint64_t) max < report.size ?
             conformance_fail(error, "%" PRIi64 ", but a report of 4 observations has %zu bytes", max, report.size) : 0);
        return 0;
}

int tool_check_provider(const ToolOptions *o, SdloopPeer *peer, const char *path, Tap *t, sd_bus_error *error) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig back = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes encoded = {};
        _cleanup_free_ char *account = NULL, *answer = NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        int64_t ts;
        int r;

        if (o->fixtures) {
                STEP(t, "median provider: the fixture suite", conformance_check_median_provider(peer, path, error));
                return 0;
        }

        r = check_config_provider(peer, path, t, error);
        if (r < 0)
                return r;
        STEP(t, "ContractTransmitter.FromAccount(): not empty",
             sdloop_contract_transmitter_from_account(peer, path, &account, error) < 0 ? -EIO :
             isempty(account) ? conformance_fail(error, "empty account") : 0);
        STEP(t, "ContractTransmitter.LatestConfigDigestAndEpoch()",
             sdloop_contract_transmitter_latest_config_digest_and_epoch(peer, path, digest, &epoch, error));
        STEP(t, "ContractTransmitter.Transmit(): done, or refused with a named error",
             answered_or_refused(sdloop_contract_transmitter_transmit(peer, path, &fixture_report_context,
                                                                      fixture_report.data, fixture_report.size,
                                                                      fixture_signatures, FIXTURE_N_SIGNATURES, error),
                                 error, "Transmit()"));
        r = check_report_codec(peer, path, t, error);
        if (r < 0)
                return r;
        STEP(t, "MedianContract.LatestTransmissionDetails()",
             sdloop_median_contract_latest_transmission_details(peer, path, digest, &epoch, &round, &answer, &ts, error));
        STEP(t, "MedianContract.LatestRoundRequested()",
             sdloop_median_contract_latest_round_requested(peer, path, FIXTURE_LOOKBACK_USEC, digest, &epoch, &round,
                                                           error));
        STEP(t, "OnchainConfigCodec.Encode(), Decode(): the same min and max back",
             sdloop_onchain_config_codec_encode(peer, path, &fixture_onchain_config, &encoded, error) < 0 ? -EIO :
             sdloop_onchain_config_codec_decode(peer, path, encoded.data, encoded.size, &back, error) < 0 ? -EIO :
             !streq_ptr(back.min, FIXTURE_ONCHAIN_MIN) || !streq_ptr(back.max, FIXTURE_ONCHAIN_MAX) ?
             conformance_fail(error, "encoded [%s, %s], decoded [%s, %s]", FIXTURE_ONCHAIN_MIN, FIXTURE_ONCHAIN_MAX,
                              strempty(back.min), strempty(back.max)) : 0);
        return 0;
}

int tool_check_relayer(const ToolOptions *o, SdloopPeer *peer, const char *relayer, Tap *t, sd_bus_error *error) {
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        _cleanup_free_ char *next = NULL, *provider = NULL;
        SdloopNodeStatus *nodes = NULL;
        SdloopRelayArgs relay_args;
        size_t n_nodes = 0;
        int32_t total = 0;
        int r;

        if (o->fixtures) {
                STEP(t, "relayer: the fixture suite", conformance_run_relayer(peer, relayer, NULL, error));
                return 0;
        }

        STEP(t, "Relayer.GetChainStatus(): a chain id",
             sdloop_relayer_get_chain_status(peer, relayer, &status, error) < 0 ? -EIO :
             isempty(status.id) ? conformance_fail(error, "status.id is empty") : 0);
        r = sdloop_relayer_list_node_statuses(peer, relayer, FIXTURE_PAGE_SIZE, "", &nodes, &n_nodes, &total, &next, error);
        if (r >= 0) {
                if (n_nodes > (size_t) FIXTURE_PAGE_SIZE || total < 0 || (size_t) total < n_nodes)
                        r = conformance_fail(error, "%zu nodes on a page of %" PRIi32 ", total %" PRIi32, n_nodes,
                                             FIXTURE_PAGE_SIZE, total);
                for (size_t i = 0; r >= 0 && i < n_nodes; i++)
                        if (isempty(nodes[i].name) || isempty(nodes[i].state))
                                r = conformance_fail(error, "nodes[%zu] has no name or no state", i);
        }
        sdloop_node_statuses_free(nodes, n_nodes);
        STEP(t, "Relayer.ListNodeStatuses(): a page of named nodes within the total", r);
        STEP(t, "Relayer.Transact(): done, or refused with a named error",
             answered_or_refused(sdloop_relayer_transact(peer, relayer, FIXTURE_FROM, FIXTURE_TO, FIXTURE_AMOUNT,
                                                         FIXTURE_BALANCE_CHECK, error), error, "Transact()"));

        tool_relay_args(o, FIXTURE_PROVIDER_TYPE_MEDIAN, &relay_args);
        STEP(t, "Relayer.NewConfigProvider()", sdloop_relayer_new_config_provider(peer, relayer, &relay_args, &provider, error));
        r = check_config_provider(peer, provider, t, error);
        if (r < 0)
                return r;
        STEP(t, "config provider: Service.Close(), then gone", conformance_close(peer, provider, error));
        return 0;
}

/* --- median ----------------------------------------------------------------------------------------- */

int tool_check_factory(const ToolOptions *o, SdloopPeer *peer, const char *factory, ToolHost *host, Tap *t,
                       sd_bus_error *error) {
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, observation = {}, report = {};
        _cleanup_free_ char *rp = NULL, *median = NULL;
        SdloopAttributed observations[4];
        unsigned observes;
        bool b = false;

        if (o->fixtures) {
                STEP(t, "reporting plugin factory: the fixture suite",
                     conformance_run_reporting_plugin_factory(peer, factory, error));
                return 0;
        }

        STEP(t, "ReportingPluginFactory.NewReportingPlugin(n=4, f=1): a named plugin with limits",
             sdloop_reporting_plugin_factory_new_reporting_plugin(peer, factory, &tool_reporting_plugin_config, &rp,
                                                                  &info, error) < 0 ? -EIO :
             isempty(info.name) ? conformance_fail(error, "info.name is empty") :
             info.max_observation_length == 0 || info.max_report_length == 0 ?
             conformance_fail(error, "max_observation_length %" PRIu64 ", max_report_length %" PRIu64,
                              info.max_observation_length, info.max_report_length) : 0);
        STEP(t, "ReportingPlugin.Query(): within max_query_length",
             sdloop_reporting_plugin_query(peer, rp, &tool_timestamp, &query, error) < 0 ? -EIO :
             query.size > info.max_query_length ?
             conformance_fail(error, "%zu bytes, max_query_length %" PRIu64, query.size, info.max_query_length) : 0);

        observes = host->n_observes;
        STEP(t, "ReportingPlugin.Observation(): observes the data source, within max_observation_length",
             sdloop_reporting_plugin_observation(peer, rp, &tool_timestamp, query.data, query.size, &observation,
                                                 error) < 0 ? -EIO :
             observation.size == 0 || observation.size > info.max_observation_length ?
             conformance_fail(error, "%zu bytes, max_observation_length %" PRIu64, observation.size,
                              info.max_observation_length) :
             host->n_observes == observes ? conformance_fail(error, "the data source was not observed") : 0);

        /* All four oracles observed the same: the report must carry that value. */
        for (uint8_t i = 0; i < ELEMENTSOF(observations); i++)
                observations[i] = (SdloopAttributed) { .data = observation, .oracle = i };
        STEP(t, "ReportingPlugin.Report(): reports the observed median (nothing transmitted yet)",
             sdloop_reporting_plugin_report(peer, rp, &tool_timestamp, query.data, query.size, observations,
                                            ELEMENTSOF(observations), &b, &report, error) < 0 ? -EIO :
             !b ? conformance_fail(error, "should_report is false on a contract that has no report yet") :
             report.size == 0 || report.size > info.max_report_length ?
             conformance_fail(error, "%zu bytes, max_report_length %" PRIu64, report.size, info.max_report_length) :
             tool_report_median(&report, &median) < 0 ? conformance_fail(error, "not built with the provider's ReportCodec") :
             !streq(median, TOOL_VALUE) ? conformance_fail(error, "median %s, observed %s", median, TOOL_VALUE) : 0);
        b = false;
        STEP(t, "ReportingPlugin.ShouldAcceptFinalizedReport(): accepts the first report",
             sdloop_reporting_plugin_should_accept_finalized_report(peer, rp, &tool_timestamp, report.data,
                                                                    report.size, &b, error) < 0 ? -EIO :
             !b ? conformance_fail(error, "should_accept is false") : 0);
        b = false;
        STEP(t, "ReportingPlugin.ShouldTransmitAcceptedReport(): transmits it",
             sdloop_reporting_plugin_should_transmit_accepted_report(peer, rp, &tool_timestamp, report.data,
                                                                     report.size, &b, error) < 0 ? -EIO :
             !b ? conformance_fail(error, "should_transmit is false") : 0);
        STEP(t, "ReportingPlugin.Close(), then gone",
             sdloop_reporting_plugin_close(peer, rp, error) < 0 ? -EIO : conformance_check_gone(peer, rp, error));
        return 0;
}
