/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ReportingPlugin.Report: parse the round's observations, read the contract (LatestTransmissionDetails,
 * then LatestRoundRequested), decide, and have the relayer's ReportCodec build the report. */

#include "median-codec.h"
#include "median-internal.h"

typedef struct ReportJob {
        SdloopCall *call;
        MedianPlugin *plugin;
        sd_bus_slot *slot;
        SdloopReportTimestamp ts;
        MedianObservation *parsed; /* sorted once the contract is read */
        size_t n_parsed;
        MedianTransmission transmission;
} ReportJob;

static ReportJob *report_job_free(ReportJob *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->slot);
        free(j->parsed);
        sdloop_call_unref(j->call);
        return mfree(j);
}

static void report_job_freep(ReportJob **j) {
        report_job_free(*j);
}

static void report_job_cancel(SdloopCall *call, void *userdata) {
        report_job_free(userdata);
}

static void report_job_fail(ReportJob *j, int r, const sd_bus_error *cause, const char *what) {
        if (what)
                median_call_fail(j->call, r, cause, "error during %s", what);
        else
                median_call_fail(j->call, r, cause, NULL);
        report_job_free(j);
}

static void parsed_observations_freep(SdloopParsedObservation **p) {
        /* Only the array: its strings live in one buffer of their own. */
        free(*p);
}

/* Parse the attributed observations, dropping what a faulty oracle (or a confused caller) could send. */
static int report_parse_observations(MedianPlugin *p, const SdloopAttributed *observations,
                                     size_t n_observations, MedianObservation **ret, size_t *ret_n) {
        _cleanup_free_ MedianObservation *parsed = NULL;
        bool seen[UINT8_MAX + 1] = {};
        size_t n = 0;

        parsed = new0(MedianObservation, n_observations);
        if (!parsed)
                return -ENOMEM;

        for (size_t i = 0; i < n_observations; i++) {
                const SdloopAttributed *a = observations + i;
                const char *reason = NULL;

                if (a->oracle >= p->n) {
                        log_warning("%s: dropping observation %zu: observer %u is not one of the %" PRIu32
                                    " oracles.", p->path, i, a->oracle, p->n);
                        continue;
                }
                if (seen[a->oracle]) {
                        log_warning("%s: dropping observation %zu: observer %u appears more than once.",
                                    p->path, i, a->oracle);
                        continue;
                }
                seen[a->oracle] = true;

                if (median_observation_decode(a->data.data, a->data.size, parsed + n, &reason) < 0) {
                        log_warning("%s: dropping invalid observation %zu of observer %u: %s", p->path, i,
                                    a->oracle, reason);
                        continue;
                }
                parsed[n++].observer = a->oracle;
        }

        *ret = TAKE_PTR(parsed);
        *ret_n = n;
        return 0;
}

static void on_report_built(SdloopPeer *peer, int r, SdloopBytes *report, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        ReportJob *j = userdata;
        MedianPlugin *p = j->plugin;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                report_job_fail(j, r, error, "BuildReport");
                return;
        }
        if (report->size > p->max_report_length) {
                r = sdloop_error_setf(&e, SDLOOP_ERROR_INTERNAL,
                                      "report violates MaxReportLength limit set by ReportCodec "
                                      "(%zu vs %" PRIu64 ")", report->size, p->max_report_length);
                report_job_fail(j, r, &e, NULL);
                return;
        }

        (void) sdloop_reporting_plugin_report_return(j->call, true, report);
        report_job_free(j);
}

static int report_build(ReportJob *j) {
        _cleanup_(parsed_observations_freep) SdloopParsedObservation *pobs = NULL;
        _cleanup_free_ char *strings = NULL;
        MedianPlugin *p = j->plugin;
        size_t n = j->n_parsed;

        /* Two decimals per observation, in one allocation. */
        pobs = new0(SdloopParsedObservation, n);
        strings = malloc(n * 2 * SDLOOP_INT_DECIMAL_MAX);
        if (!pobs || !strings)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                char *v = strings + 2 * i * SDLOOP_INT_DECIMAL_MAX, *u = v + SDLOOP_INT_DECIMAL_MAX;

                pobs[i] = (SdloopParsedObservation) {
                        .timestamp = j->parsed[i].timestamp,
                        .value = sdloop_int_to_decimal(&j->parsed[i].value, v),
                        .juels_per_fee_coin = sdloop_int_to_decimal(&j->parsed[i].juels_per_fee_coin, u),
                        .observer = j->parsed[i].observer,
                };
        }

        /* The arguments are on the message once this returns. */
        return sdloop_report_codec_build_report_async(p->factory->peer, p->factory->provider, pobs, n,
                                                      sdloop_call_get_context(j->call), on_report_built, j,
                                                      &j->slot);
}

static void on_round_requested(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], uint32_t epoch,
                               uint8_t round, sd_bus_error *error, void *userdata) {
        ReportJob *j = userdata;
        MedianPlugin *p = j->plugin;
        char answer_text[SDLOOP_INT_DECIMAL_MAX], digest_text[17];
        MedianRoundRequested requested = { .epoch_round = { epoch, round } };
        MedianReportDecision decision;
        const SdloopInt *answer;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                report_job_fail(j, r, error, "LatestRoundRequested");
                return;
        }
        memcpy(requested.digest, digest, SDLOOP_DIGEST_SIZE);

        median_observations_sort(j->parsed, j->n_parsed);
        answer = median_observations_median(j->parsed, j->n_parsed);
        decision = median_should_report(&p->offchain, &p->onchain, j->ts.digest, answer, &j->transmission,
                                        &requested, median_now_nsec());

        median_digest_prefix(j->ts.digest, digest_text);
        sdloop_log_full_errno(median_report_decision_is_yes(decision) ? LOG_INFO : LOG_DEBUG, 0,
                              "%s: Report(%s…, epoch %" PRIu32 ", round %u): median %s of %zu observations: "
                              "%s.", p->path, digest_text, j->ts.epoch, j->ts.round,
                              sdloop_int_to_decimal(answer, answer_text), j->n_parsed,
                              median_report_decision_to_string(decision));

        if (!median_report_decision_is_yes(decision)) {
                (void) sdloop_reporting_plugin_report_return(j->call, false, &(SdloopBytes) {});
                report_job_free(j);
                return;
        }

        r = report_build(j);
        if (r < 0)
                report_job_fail(j, r, NULL, "BuildReport");
}

static void on_transmission_details(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                    uint32_t epoch, uint8_t round, char **latest_answer,
                                    int64_t latest_timestamp_usec, sd_bus_error *error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        ReportJob *j = userdata;
        MedianPlugin *p = j->plugin;

        j->slot = sd_bus_slot_unref(j->slot);
        if (r < 0) {
                report_job_fail(j, r, error, "LatestTransmissionDetails");
                return;
        }
        r = median_transmission_from_reply(digest, epoch, round, *latest_answer, latest_timestamp_usec,
                                           &j->transmission, &e);
        if (r < 0) {
                report_job_fail(j, r, &e, NULL);
                return;
        }

        r = sdloop_median_contract_latest_round_requested_async(p->factory->peer, p->factory->provider,
                                                                median_delta_c_lookback_usec(p->offchain.delta_c_nsec),
                                                                sdloop_call_get_context(j->call), on_round_requested,
                                                                j, &j->slot);
        if (r < 0)
                report_job_fail(j, r, NULL, "LatestRoundRequested");
}

int median_plugin_report(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                         const SdloopAttributed *observations, size_t n_observations, bool *ret_should_report,
                         SdloopBytes *ret_report, sd_bus_error *error) {
        _cleanup_(report_job_freep) ReportJob *job = NULL;
        MedianPlugin *p = userdata;
        ReportJob *j;
        int r;

        if (query->size != 0)
                return sdloop_error_invalid(error, "query", "expected an empty query, got %zu bytes",
                                            query->size);
        /* One per oracle, as libocr bounds them; the library refuses more on the wire, this holds for
         * any caller. */
        if (n_observations > SDLOOP_ORACLES_MAX)
                return sdloop_error_invalid(error, "observations", "expected at most %u, got %zu",
                                            SDLOOP_ORACLES_MAX, n_observations);

        job = new0(ReportJob, 1);
        if (!job)
                return -ENOMEM;
        job->plugin = p;
        job->ts = *ts;

        r = report_parse_observations(p, observations, n_observations, &job->parsed, &job->n_parsed);
        if (r < 0)
                return r;
        if (!median_observations_enough(job->n_parsed, p->f))
                return sdloop_error_invalid(error, "observations",
                                            "only received %zu valid attributed observations, "
                                            "but need at least f+1 (%" PRIu32 ")", job->n_parsed, p->f + 1);

        job->call = sdloop_call_defer();
        if (!job->call)
                return -ENOMEM;
        /* From here on the call is answered through the job. */
        j = TAKE_PTR(job);
        sdloop_call_set_cancel_handler(j->call, report_job_cancel, j);

        r = sdloop_median_contract_latest_transmission_details_async(p->factory->peer, p->factory->provider,
                                                                     sdloop_call_get_context(j->call),
                                                                     on_transmission_details, j, &j->slot);
        if (r < 0)
                report_job_fail(j, r, NULL, "LatestTransmissionDetails");
        return 0;
}
