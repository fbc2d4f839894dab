/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "macro.h"
#include "median-rules.h"

/* --- epochs, rounds and observations ---------------------------------------------------------------- */

bool median_epoch_round_less(MedianEpochRound a, MedianEpochRound b) {
        return a.epoch < b.epoch || (a.epoch == b.epoch && a.round < b.round);
}

static int observation_compare(const void *x, const void *y) {
        const MedianObservation *a = x, *b = y;
        int c;

        c = sdloop_int_compare(&a->value, &b->value);
        if (c != 0)
                return c;
        return a->observer < b->observer ? -1 : a->observer > b->observer;
}

void median_observations_sort(MedianObservation *obs, size_t n) {
        if (n > 1)
                qsort(obs, n, sizeof(MedianObservation), observation_compare);
}

const SdloopInt *median_observations_median(const MedianObservation *sorted, size_t n) {
        assert(sorted);
        assert(n > 0);
        return &sorted[n / 2].value;
}

bool median_observations_enough(size_t n_valid, uint32_t f) {
        return n_valid >= (size_t) f + 1;
}

/* --- Report ------------------------------------------------------------------------------------------ */

bool median_heartbeat_due(int64_t latest_timestamp_usec, uint64_t delta_c_nsec, int64_t now_nsec) {
        __int128 due = (__int128) latest_timestamp_usec * 1000 + delta_c_nsec;

        return due < (__int128) now_nsec;
}

uint64_t median_delta_c_lookback_usec(uint64_t delta_c_nsec) {
        return delta_c_nsec / 1000 + (delta_c_nsec % 1000 != 0);
}

static const char *const report_decision_table[_MEDIAN_REPORT_DECISION_MAX] = {
        [MEDIAN_REPORT_NO]              = "no, nothing changed enough",
        [MEDIAN_REPORT_NO_OUT_OF_RANGE] = "no, the median is outside the contract's [min, max]",
        [MEDIAN_REPORT_INITIAL_ROUND]   = "yes, first round of this config on the contract",
        [MEDIAN_REPORT_DEVIATION]       = "yes, the median deviates from the on-chain answer",
        [MEDIAN_REPORT_HEARTBEAT]       = "yes, deltaC elapsed since the latest on-chain report",
        [MEDIAN_REPORT_REQUESTED]       = "yes, a new round was requested on chain",
};

const char *median_report_decision_to_string(MedianReportDecision d) {
        if (d < 0 || d >= _MEDIAN_REPORT_DECISION_MAX)
                return NULL;
        return report_decision_table[d];
}

bool median_report_decision_is_yes(MedianReportDecision d) {
        return d == MEDIAN_REPORT_INITIAL_ROUND || d == MEDIAN_REPORT_DEVIATION ||
                d == MEDIAN_REPORT_HEARTBEAT || d == MEDIAN_REPORT_REQUESTED;
}

MedianReportDecision median_should_report(const SdloopMedianOffchainConfig *offchain,
                                          const MedianOnchainConfig *onchain,
                                          const uint8_t report_digest[static SDLOOP_DIGEST_SIZE],
                                          const SdloopInt *answer, const MedianTransmission *transmission,
                                          const MedianRoundRequested *requested, int64_t now_nsec) {
        bool initial_round, deviation, heartbeat, unfulfilled_request;

        assert(offchain);
        assert(onchain);
        assert(answer);
        assert(transmission);
        assert(requested);

        /* The contract would refuse such an answer: never build a report for it. */
        if (sdloop_int_compare(answer, &onchain->min) < 0 || sdloop_int_compare(answer, &onchain->max) > 0)
                return MEDIAN_REPORT_NO_OUT_OF_RANGE;

        initial_round = memcmp(transmission->digest, report_digest, SDLOOP_DIGEST_SIZE) == 0 &&
                transmission->epoch_round.epoch == 0 && transmission->epoch_round.round == 0;
        deviation = !offchain->alpha_report_infinite &&
                sdloop_int_deviates(offchain->alpha_report_ppb, &transmission->latest_answer, answer);
        heartbeat = median_heartbeat_due(transmission->latest_timestamp_usec, offchain->delta_c_nsec, now_nsec);
        unfulfilled_request = memcmp(requested->digest, report_digest, SDLOOP_DIGEST_SIZE) == 0 &&
                !median_epoch_round_less(requested->epoch_round, transmission->epoch_round);

        if (initial_round)
                return MEDIAN_REPORT_INITIAL_ROUND;
        if (deviation)
                return MEDIAN_REPORT_DEVIATION;
        if (heartbeat)
                return MEDIAN_REPORT_HEARTBEAT;
        if (unfulfilled_request)
                return MEDIAN_REPORT_REQUESTED;
        return MEDIAN_REPORT_NO;
}

/* --- ShouldAcceptFinalizedReport / ShouldTransmitAcceptedReport ------------------------------------ */

static const char *const accept_decision_table[_MEDIAN_ACCEPT_DECISION_MAX] = {
        [MEDIAN_ACCEPT_UNDECIDED]           = "undecided",
        [MEDIAN_ACCEPT_NO_STALE]            = "no, not newer than the latest accepted report",
        [MEDIAN_ACCEPT_NO_DIGEST_MISMATCH]  = "no, the contract is on another config digest",
        [MEDIAN_ACCEPT_NO_STALE_CONTRACT]   = "no, not newer than the contract's latest transmission",
        [MEDIAN_ACCEPT_NO_TOO_LONG]         = "no, the report exceeds MaxReportLength",
        [MEDIAN_ACCEPT_NO_PENDING]          = "no, a report is pending and this one does not deviate from it",
        [MEDIAN_ACCEPT_YES_DEVIATES]        = "yes, deviates from the latest accepted report",
        [MEDIAN_ACCEPT_YES_NOTHING_PENDING] = "yes, nothing is pending",
};

const char *median_accept_decision_to_string(MedianAcceptDecision d) {
        if (d < 0 || d >= _MEDIAN_ACCEPT_DECISION_MAX)
                return NULL;
        return accept_decision_table[d];
}

bool median_accept_decision_is_yes(MedianAcceptDecision d) {
        return d == MEDIAN_ACCEPT_YES_DEVIATES || d == MEDIAN_ACCEPT_YES_NOTHING_PENDING;
}

MedianAcceptDecision median_accept_check_local(const MedianAcceptState *state, MedianEpochRound report) {
        assert(state);

        if (!median_epoch_round_less(state->latest_accepted, report))
                return MEDIAN_ACCEPT_NO_STALE;
        return MEDIAN_ACCEPT_UNDECIDED;
}

MedianAcceptDecision median_accept_check_contract(const MedianAcceptState *state,
                                                  const uint8_t config_digest[static SDLOOP_DIGEST_SIZE],
                                                  const uint8_t contract_digest[static SDLOOP_DIGEST_SIZE],
                                                  MedianEpochRound contract, MedianEpochRound report,
                                                  uint64_t report_size, uint64_t max_report_length) {
        MedianAcceptDecision d;

        d = median_accept_check_local(state, report);
        if (d != MEDIAN_ACCEPT_UNDECIDED)
                return d;
        if (memcmp(config_digest, contract_digest, SDLOOP_DIGEST_SIZE) != 0)
                return MEDIAN_ACCEPT_NO_DIGEST_MISMATCH;
        if (!median_epoch_round_less(contract, report))
                return MEDIAN_ACCEPT_NO_STALE_CONTRACT;
        if (report_size > max_report_length)
                return MEDIAN_ACCEPT_NO_TOO_LONG;
        return MEDIAN_ACCEPT_UNDECIDED;
}

MedianAcceptDecision median_accept_decide(const SdloopMedianOffchainConfig *offchain, MedianAcceptState *state,
                                          MedianEpochRound contract, MedianEpochRound report,
                                          const SdloopInt *report_median) {
        MedianAcceptDecision d;
        bool deviates, nothing_pending;

        assert(offchain);
        assert(state);
        assert(report_median);

        deviates = !offchain->alpha_accept_infinite &&
                sdloop_int_deviates(offchain->alpha_accept_ppb, &state->latest_accepted_median, report_median);
        /* The contract holds (at least) what we accepted last: no transmission of ours is in flight. */
        nothing_pending = !median_epoch_round_less(contract, state->latest_accepted);

        if (deviates)
                d = MEDIAN_ACCEPT_YES_DEVIATES;
        else if (nothing_pending)
                d = MEDIAN_ACCEPT_YES_NOTHING_PENDING;
        else
                return MEDIAN_ACCEPT_NO_PENDING;

        state->latest_accepted = report;
        state->latest_accepted_median = *report_median;
        return d;
}

bool median_should_transmit(const uint8_t config_digest[static SDLOOP_DIGEST_SIZE],
                            const uint8_t contract_digest[static SDLOOP_DIGEST_SIZE], MedianEpochRound contract,
                            MedianEpochRound report) {
        return memcmp(config_digest, contract_digest, SDLOOP_DIGEST_SIZE) == 0 &&
                median_epoch_round_less(contract, report);
}
