/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the files of the median plugin's D-Bus side share. An operation that needs the host (a data
 * source, the error log, the provider) never waits for it: it defers its call and runs a small state
 * machine, one job per call, on the replies of the asynchronous clients, passing the caller's context on
 * so that the host gets at most the time the caller has left (see sdloop-call.h). A job ends exactly once:
 * with an answer, or cancelled (caller gone, object closed, deadline passed), when it drops its
 * outstanding client call so that no reply handler runs any more. */

#include "macro.h"
#include "median-rules.h"
#include "sdloop.h"

/* One NewMedianFactory(): the host objects every reporting plugin of this factory talks to. They live
 * on the host's side of the same connection. */
typedef struct MedianFactory {
        SdloopPeer *peer;
        char *provider;
        char *data_source;
        char *juels_data_source;
        char *error_log;
        struct MedianConfigWatch *config_watch; /* the provider's ConfigChanged (median-config-watch.c) */
} MedianFactory;

/* One NewReportingPlugin(): a config and what ShouldAcceptFinalizedReport remembers. The factory outlives
 * it: closing an object closes its children first. */
typedef struct MedianPlugin {
        MedianFactory *factory;
        char *path;
        uint8_t config_digest[SDLOOP_DIGEST_SIZE];
        uint8_t oracle_id;
        uint32_t n;
        uint32_t f;
        SdloopMedianOffchainConfig offchain;
        MedianOnchainConfig onchain;
        uint64_t max_report_length;
        MedianAcceptState accept;
} MedianPlugin;

/* --- operations ------------------------------------------------------------------------------------ */

/* median-observation.c */
int median_plugin_query(void *userdata, const SdloopReportTimestamp *ts, SdloopBytes *ret_query,
                        sd_bus_error *error);
int median_plugin_observation(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                              SdloopBytes *ret_observation, sd_bus_error *error);

/* median-report.c */
int median_plugin_report(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                         const SdloopAttributed *observations, size_t n_observations, bool *ret_should_report,
                         SdloopBytes *ret_report, sd_bus_error *error);

/* median-accept.c */
int median_plugin_should_accept_finalized_report(void *userdata, const SdloopReportTimestamp *ts,
                                                 const SdloopBytes *report, bool *ret, sd_bus_error *error);
int median_plugin_should_transmit_accepted_report(void *userdata, const SdloopReportTimestamp *ts,
                                                  const SdloopBytes *report, bool *ret, sd_bus_error *error);

/* median-factory.c: ReportingPluginFactory of a MedianFactory. */
extern const SdloopReportingPluginFactoryOps median_factory_ops;

/* --- helpers (median-plugin.c) ---------------------------------------------------------------------- */

/* Wall-clock time: it is compared with on-chain timestamps. */
int64_t median_now_nsec(void);

/* The first 8 bytes of a digest in hex, for log lines. */
void median_digest_prefix(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static 17]);

/* Finish the deferred @call with an error. @cause is what a call to the host failed with (NULL or unset:
 * it could not be sent, @r says why); its name is kept and "<prefix>: " put in front of its message when
 * @format is given. Nothing else is told: the call is done either way. */
void median_call_fail(SdloopCall *call, int r, const sd_bus_error *cause, const char *format, ...) _printf_(4, 5);

/* The reply of MedianContract.LatestTransmissionDetails as the rules take it. A latest_answer that is no
 * decimal is an InvalidArgument naming it. */
int median_transmission_from_reply(const uint8_t digest[static SDLOOP_DIGEST_SIZE], uint32_t epoch, uint8_t round,
                                   const char *latest_answer, int64_t latest_timestamp_usec,
                                   MedianTransmission *ret, sd_bus_error *error);
