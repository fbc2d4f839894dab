/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The decision rules of the numerical-median reporting plugin (OCR2's "NumericalMedian"), free of D-Bus
 * so that each of them can be tested at its boundaries:
 *
 *   - values are signed big integers (SdloopInt); observations carry them as int192, the contract and
 *     the report codec as decimals of up to SDLOOP_DECIMAL_DIGITS_MAX digits;
 *   - deviation is sdloop_int_deviates(): |new - old| / |old| >= ppb / 10^9, computed exactly; a zero old
 *     value deviates from every non-zero new value;
 *   - the median of n sorted observations is the element at n/2 (the upper median for even n);
 *   - (epoch, round) pairs are ordered lexicographically;
 *   - Report, ShouldAcceptFinalizedReport and ShouldTransmitAcceptedReport decide as libocr's median
 *     plugin does. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdloop-int.h"
#include "sdloop-median-config.h"
#include "sdloop-types.h"

#define MEDIAN_PLUGIN_NAME "NumericalMedian"

/* timestamp + value + juels per fee coin + gas price subunits (int192 each) + protobuf overhead, as libocr
 * bounds it. */
#define MEDIAN_MAX_OBSERVATION_LENGTH (4U + 3U * SDLOOP_INT192_BYTES + 16U)

typedef struct MedianEpochRound {
        uint32_t epoch;
        uint8_t round;
} MedianEpochRound;

bool median_epoch_round_less(MedianEpochRound a, MedianEpochRound b);

typedef struct MedianObservation {
        uint32_t timestamp;
        SdloopInt value;
        SdloopInt juels_per_fee_coin;
        uint8_t observer;
} MedianObservation;

/* Sort by value; equal values by observer, so that every oracle passes the same order to BuildReport. */
void median_observations_sort(MedianObservation *obs, size_t n);
/* The median of observations sorted by median_observations_sort(): element n/2. @n must be > 0. */
const SdloopInt *median_observations_median(const MedianObservation *sorted, size_t n);
/* Report() gets at least 2f+1 attributed observations from the protocol, up to f of them faulty: at
 * least f+1 must be valid. */
bool median_observations_enough(size_t n_valid, uint32_t f);

typedef struct MedianOnchainConfig {
        SdloopInt min;
        SdloopInt max;
} MedianOnchainConfig;

/* Heartbeat: the latest on-chain report is older than deltaC, i.e. latest + deltaC lies strictly before
 * now (time.Time.Before in libocr). */
bool median_heartbeat_due(int64_t latest_timestamp_usec, uint64_t delta_c_nsec, int64_t now_nsec);
/* deltaC as the LatestRoundRequested look-back, rounded up to whole microseconds. */
uint64_t median_delta_c_lookback_usec(uint64_t delta_c_nsec);

/* What MedianContract.LatestTransmissionDetails and LatestRoundRequested returned. */
typedef struct MedianTransmission {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        MedianEpochRound epoch_round;
        SdloopInt latest_answer;
        int64_t latest_timestamp_usec;
} MedianTransmission;

typedef struct MedianRoundRequested {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        MedianEpochRound epoch_round;
} MedianRoundRequested;

typedef enum MedianReportDecision {
        MEDIAN_REPORT_NO,               /* nothing changed enough */
        MEDIAN_REPORT_NO_OUT_OF_RANGE,  /* the median lies outside the contract's [min, max] */
        MEDIAN_REPORT_INITIAL_ROUND,    /* the contract has nothing for this config digest yet */
        MEDIAN_REPORT_DEVIATION,        /* the median deviates from the on-chain answer by alphaReport */
        MEDIAN_REPORT_HEARTBEAT,        /* deltaC elapsed since the latest on-chain report */
        MEDIAN_REPORT_REQUESTED,        /* a new round was requested on chain */
        _MEDIAN_REPORT_DECISION_MAX,
} MedianReportDecision;

const char *median_report_decision_to_string(MedianReportDecision d);
bool median_report_decision_is_yes(MedianReportDecision d);

/* libocr's shouldReport, given the median @answer of the round whose digest is @report_digest. */
MedianReportDecision median_should_report(const SdloopMedianOffchainConfig *offchain,
                                          const MedianOnchainConfig *onchain,
                                          const uint8_t report_digest[static SDLOOP_DIGEST_SIZE],
                                          const SdloopInt *answer, const MedianTransmission *transmission,
                                          const MedianRoundRequested *requested, int64_t now_nsec);

/* What ShouldAcceptFinalizedReport remembers between calls. Starts zeroed: (0, 0) and a median of 0. */
typedef struct MedianAcceptState {
        MedianEpochRound latest_accepted;
        SdloopInt latest_accepted_median;
} MedianAcceptState;

typedef enum MedianAcceptDecision {
        MEDIAN_ACCEPT_UNDECIDED,           /* all pre-checks passed: decide with the report's median */
        MEDIAN_ACCEPT_NO_STALE,            /* not newer than the latest accepted report */
        MEDIAN_ACCEPT_NO_DIGEST_MISMATCH,  /* the contract is on another config */
        MEDIAN_ACCEPT_NO_STALE_CONTRACT,   /* not newer than what the contract holds */
        MEDIAN_ACCEPT_NO_TOO_LONG,         /* longer than MaxReportLength */
        MEDIAN_ACCEPT_NO_PENDING,          /* a report is pending and this one does not deviate from it */
        MEDIAN_ACCEPT_YES_DEVIATES,        /* deviates by alphaAccept from the latest accepted report */
        MEDIAN_ACCEPT_YES_NOTHING_PENDING, /* the contract caught up with the latest accepted report */
        _MEDIAN_ACCEPT_DECISION_MAX,
} MedianAcceptDecision;

const char *median_accept_decision_to_string(MedianAcceptDecision d);
bool median_accept_decision_is_yes(MedianAcceptDecision d);

/* Step 1, before reading the contract: MEDIAN_ACCEPT_NO_STALE or MEDIAN_ACCEPT_UNDECIDED. */
MedianAcceptDecision median_accept_check_local(const MedianAcceptState *state, MedianEpochRound report);
/* Step 2, with the contract's state: a NO_* decision or MEDIAN_ACCEPT_UNDECIDED. */
MedianAcceptDecision median_accept_check_contract(const MedianAcceptState *state,
                                                  const uint8_t config_digest[static SDLOOP_DIGEST_SIZE],
                                                  const uint8_t contract_digest[static SDLOOP_DIGEST_SIZE],
                                                  MedianEpochRound contract, MedianEpochRound report,
                                                  uint64_t report_size, uint64_t max_report_length);
/* Step 3, with the report's median: a final decision; a YES_* one is remembered in @state. */
MedianAcceptDecision median_accept_decide(const SdloopMedianOffchainConfig *offchain, MedianAcceptState *state,
                                          MedianEpochRound contract, MedianEpochRound report,
                                          const SdloopInt *report_median);

/* Transmit only a report newer than the contract's, made under the contract's current config. */
bool median_should_transmit(const uint8_t config_digest[static SDLOOP_DIGEST_SIZE],
                            const uint8_t contract_digest[static SDLOOP_DIGEST_SIZE], MedianEpochRound contract,
                            MedianEpochRound report);
