/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ReportingPlugin.ShouldAcceptFinalizedReport and ShouldTransmitAcceptedReport: both read the contract's
 * latest transmission; accepting may also need the report's median from the relayer's ReportCodec. */

#include "median-internal.h"

typedef struct DecisionJob {
        SdloopCall *call;
        MedianPlugin *plugin;
        sd_bus_slot *slot;
        MedianEpochRound report_er;
        SdloopBytes report;         /* ShouldAcceptFinalizedReport: for MedianFromReport */
        MedianEpochRound contract_er;
} DecisionJob;

static DecisionJob *decision_job_free(DecisionJob *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->slot);
        sdloop_bytes_done(&j->report);
        sdloop_call_unref(j->call);
        return mfree(j);
}

static void decision_job_cancel(SdloopCall *call, void *userdata) {
        decision_job_free(userdata);
}

static void decision_job_fail(DecisionJob *j, int r, const sd_bus_error *cause, const char *what) {
        if (what)
                median_call_fail(j->call, r, cause, "error during %s", what);
        else
                median_call_fail(j->call, r, cause, NULL);
        decision_job_free(j);
}

/* Defer the operation's call into a new job that reads the contract with @handler, keeping a copy of
 * @report (NULL: not needed) for later. Returns 0 once the call is the job's (answered through it, also
 * on failure), or a negative errno to answer at once. */
static int decision_job_start(MedianPlugin *p, const SdloopReportTimestamp *ts, const SdloopBytes *report,
                              sdloop_median_contract_latest_transmission_details_reply_t handler) {
        DecisionJob *j;
        int r;

        j = new0(DecisionJob, 1);
        if (!j)
                return -ENOMEM;
        j->plugin = p;
        j->report_er = (MedianEpochRound) { ts->epoch, ts->round };
        /* The operation's arguments are gone when it returns. */
        if (report) {
                r = sdloop_bytes_copy(&j->report, report->data, report->size);
                if (r < 0) {
                        decision_job_free(j);
                        return r;
                }
        }

        j->call = sdloop_call_defer();
        if (!j->call) {
                decision_job_free(j);
                return -ENOMEM;
        }
        sdloop_call_set_cancel_handler(j->call, decision_job_cancel, j);

        r = sdloop_median_contract_latest_transmission_details_async(p->factory->peer, p->factory->provider,
                                                                     sdloop_call_get_context(j->call), handler, j,
                                                                     &j->slot);
        if (r < 0)
                decision_job_fail(j, r, NULL, "LatestTransmissionDetails");
        return 0;
}

/* --- ShouldAcceptFinalizedReport -------------------------------------------------------------------- */

static void accept_finish(DecisionJob *j, MedianAcceptDecision decision) {
        log_debug("%s: ShouldAcceptFinalizedReport(epoch %" PRIu32 ", round %u) = %s.", j->plugin->path,
                  j->report_er.epoch, j->report_er.round, median_accept_decision_to_string(decision));
        (void) sdloop_reporting_plugin_should_accept_finalized_report_return(j->call,
                                                                             median_accept_decision_is_yes(decision));
        decision_job_free(j);
}

static void on_median_from_report(SdloopPeer *peer, int r, char **median_text, sd_bus_error *error,
                                  void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        DecisionJob *j = userdata;
        MedianPlugin *p = j->plugin;
        MedianAcceptDecision decision;
        SdloopInt median;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                decision_job_fail(j, r, error, "MedianFromReport");
                return;
        }
        if (!*median_text || sdloop_int_from_decimal(*median_text, &median) < 0) {
                r = sdloop_error_invalid(&e, "MedianFromReport reply.median", "not a decimal: %s",
                                         strempty(*median_text));
                decision_job_fail(j, r, &e, NULL);
                return;
        }

        /* Another ShouldAcceptFinalizedReport may have accepted a newer report while this one waited. */
        decision = median_accept_check_local(&p->accept, j->report_er);
        if (decision == MEDIAN_ACCEPT_UNDECIDED)
                decision = median_accept_decide(&p->offchain, &p->accept, j->contract_er, j->report_er, &median);
        accept_finish(j, decision);
}

/* The contract's latest transmission, for both decisions: false if the job failed (and is gone). */
static bool decision_job_transmission(DecisionJob *j, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                      uint32_t epoch, uint8_t round, char **latest_answer,
                                      int64_t latest_timestamp_usec, sd_bus_error *error,
                                      MedianTransmission *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                decision_job_fail(j, r, error, "LatestTransmissionDetails");
                return false;
        }
        r = median_transmission_from_reply(digest, epoch, round, *latest_answer, latest_timestamp_usec, ret, &e);
        if (r < 0) {
                decision_job_fail(j, r, &e, NULL);
                return false;
        }
        return true;
}

static void on_accept_transmission_details(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                           uint32_t epoch, uint8_t round, char **latest_answer,
                                           int64_t latest_timestamp_usec, sd_bus_error *error, void *userdata) {
        DecisionJob *j = userdata;
        MedianPlugin *p = j->plugin;
        MedianTransmission transmission;
        MedianAcceptDecision decision;

        if (!decision_job_transmission(j, r, digest, epoch, round, latest_answer, latest_timestamp_usec, error,
                                       &transmission))
                return;

        j->contract_er = transmission.epoch_round;
        decision = median_accept_check_contract(&p->accept, p->config_digest, transmission.digest,
                                                transmission.epoch_round, j->report_er, j->report.size,
                                                p->max_report_length);
        if (decision != MEDIAN_ACCEPT_UNDECIDED) {
                accept_finish(j, decision);
                return;
        }

        r = sdloop_report_codec_median_from_report_async(p->factory->peer, p->factory->provider, j->report.data,
                                                         j->report.size, sdloop_call_get_context(j->call),
                                                         on_median_from_report, j, &j->slot);
        if (r < 0)
                decision_job_fail(j, r, NULL, "MedianFromReport");
}

int median_plugin_should_accept_finalized_report(void *userdata, const SdloopReportTimestamp *ts,
                                                 const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        MedianPlugin *p = userdata;
        MedianAcceptDecision decision;

        /* A report not newer than the latest accepted one needs no look at the contract. */
        decision = median_accept_check_local(&p->accept, (MedianEpochRound) { ts->epoch, ts->round });
        if (decision != MEDIAN_ACCEPT_UNDECIDED) {
                log_debug("%s: ShouldAcceptFinalizedReport(epoch %" PRIu32 ", round %u) = %s.", p->path,
                          ts->epoch, ts->round, median_accept_decision_to_string(decision));
                *ret = median_accept_decision_is_yes(decision);
                return 0;
        }

        return decision_job_start(p, ts, report, on_accept_transmission_details);
}

/* --- ShouldTransmitAcceptedReport ------------------------------------------------------------------- */

static void on_transmit_transmission_details(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                             uint32_t epoch, uint8_t round, char **latest_answer,
                                             int64_t latest_timestamp_usec, sd_bus_error *error, void *userdata) {
        DecisionJob *j = userdata;
        MedianPlugin *p = j->plugin;
        MedianTransmission transmission;
        bool transmit;

        if (!decision_job_transmission(j, r, digest, epoch, round, latest_answer, latest_timestamp_usec, error,
                                       &transmission))
                return;

        transmit = median_should_transmit(p->config_digest, transmission.digest, transmission.epoch_round,
                                          j->report_er);
        log_debug("%s: ShouldTransmitAcceptedReport(epoch %" PRIu32 ", round %u) = %s "
                  "(contract at epoch %" PRIu32 ", round %u, %s digest).", p->path, j->report_er.epoch,
                  j->report_er.round, transmit ? "yes" : "no",
                  transmission.epoch_round.epoch, transmission.epoch_round.round,
                  memcmp(p->config_digest, transmission.digest, SDLOOP_DIGEST_SIZE) == 0 ? "same" : "other");
        (void) sdloop_reporting_plugin_should_transmit_accepted_report_return(j->call, transmit);
        decision_job_free(j);
}

int median_plugin_should_transmit_accepted_report(void *userdata, const SdloopReportTimestamp *ts,
                                                  const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        return decision_job_start(userdata, ts, NULL, on_transmit_transmission_details);
}
