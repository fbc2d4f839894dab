# SPDX-License-Identifier: LGPL-2.1-or-later
"""The decision rules of the numerical-median reporting plugin, free of D-Bus, as plugins/median/
median-rules.c has them (libocr's median plugin): values are Python ints (exact, like SdloopInt),
(epoch, round) pairs tuples ordered lexicographically, timestamps µs, durations ns."""

import enum

PLUGIN_NAME = "NumericalMedian"
INT192_BYTES = 24
# timestamp + value + juels per fee coin + gas price subunits (int192 each) + protobuf overhead
MAX_OBSERVATION_LENGTH = 4 + 3 * INT192_BYTES + 16
ZERO_DIGEST = bytes(32)


def deviates(threshold_ppb, old, new):
    """|new - old| / |old| >= ppb / 10^9, exactly; from zero every change deviates and no change does not."""
    if old == 0:
        return new != 0
    return abs(new - old) * 1_000_000_000 >= threshold_ppb * abs(old)


def sort_observations(observations):
    """By value, equal values by observer, so that every oracle builds the same report."""
    return sorted(observations, key=lambda o: (o.value, o.observer))


def median(sorted_observations):
    """Element n/2 of the sorted observations (the upper median for even n); n > 0."""
    return sorted_observations[len(sorted_observations) // 2].value


def enough(n_valid, f):
    """At least f+1 valid observations of the 2f+1 the protocol delivers."""
    return n_valid >= f + 1


def heartbeat_due(latest_timestamp_usec, delta_c_nsec, now_nsec):
    """latest + deltaC lies strictly before now."""
    return latest_timestamp_usec * 1000 + delta_c_nsec < now_nsec


def delta_c_lookback_usec(delta_c_nsec):
    """deltaC as LatestRoundRequested's look-back, rounded up to whole µs."""
    return -(-delta_c_nsec // 1000)


class Report(enum.Enum):
    NO = "no, nothing changed enough"
    NO_OUT_OF_RANGE = "no, the median is outside the contract's [min, max]"
    INITIAL_ROUND = "yes, first round of this config on the contract"
    DEVIATION = "yes, the median deviates from the on-chain answer"
    HEARTBEAT = "yes, deltaC elapsed since the latest on-chain report"
    REQUESTED = "yes, a new round was requested on chain"

    @property
    def yes(self):
        return self in (Report.INITIAL_ROUND, Report.DEVIATION, Report.HEARTBEAT, Report.REQUESTED)


class Accept(enum.Enum):
    UNDECIDED = "undecided"
    NO_STALE = "no, not newer than the latest accepted report"
    NO_DIGEST_MISMATCH = "no, the contract is on another config digest"
    NO_STALE_CONTRACT = "no, not newer than the contract's latest transmission"
    NO_TOO_LONG = "no, the report exceeds MaxReportLength"
    NO_PENDING = "no, a report is pending and this one does not deviate from it"
    YES_DEVIATES = "yes, deviates from the latest accepted report"
    YES_NOTHING_PENDING = "yes, nothing is pending"

    @property
    def yes(self):
        return self in (Accept.YES_DEVIATES, Accept.YES_NOTHING_PENDING)


class Transmission:
    """MedianContract.LatestTransmissionDetails."""

    def __init__(self, digest, epoch_round, latest_answer, latest_timestamp_usec):
        self.digest = digest
        self.epoch_round = epoch_round
        self.latest_answer = latest_answer
        self.latest_timestamp_usec = latest_timestamp_usec


def should_report(offchain, onchain_min, onchain_max, report_digest, answer, transmission, requested_digest,
                  requested_epoch_round, now_nsec):
    """libocr's shouldReport for the median answer of the round whose digest is report_digest."""
    if answer < onchain_min or answer > onchain_max:
        return Report.NO_OUT_OF_RANGE
    initial_round = transmission.digest == report_digest and transmission.epoch_round == (0, 0)
    deviation = not offchain.alpha_report_infinite and deviates(offchain.alpha_report_ppb,
                                                                transmission.latest_answer, answer)
    heartbeat = heartbeat_due(transmission.latest_timestamp_usec, offchain.delta_c_nsec, now_nsec)
    unfulfilled = requested_digest == report_digest and not requested_epoch_round < transmission.epoch_round
    if initial_round:
        return Report.INITIAL_ROUND
    if deviation:
        return Report.DEVIATION
    if heartbeat:
        return Report.HEARTBEAT
    if unfulfilled:
        return Report.REQUESTED
    return Report.NO


class AcceptState:
    """What ShouldAcceptFinalizedReport remembers between calls."""

    def __init__(self):
        self.latest_accepted = (0, 0)
        self.latest_accepted_median = 0


def accept_check_local(state, report):
    return Accept.NO_STALE if not state.latest_accepted < report else Accept.UNDECIDED


def accept_check_contract(state, config_digest, contract_digest, contract, report, report_size,
                          max_report_length):
    d = accept_check_local(state, report)
    if d is not Accept.UNDECIDED:
        return d
    if config_digest != contract_digest:
        return Accept.NO_DIGEST_MISMATCH
    if not contract < report:
        return Accept.NO_STALE_CONTRACT
    if report_size > max_report_length:
        return Accept.NO_TOO_LONG
    return Accept.UNDECIDED


def accept_decide(offchain, state, contract, report, report_median):
    is_deviating = not offchain.alpha_accept_infinite and deviates(offchain.alpha_accept_ppb,
                                                                   state.latest_accepted_median, report_median)
    # The contract holds (at least) what we accepted last: no transmission of ours is in flight.
    nothing_pending = not contract < state.latest_accepted
    if is_deviating:
        d = Accept.YES_DEVIATES
    elif nothing_pending:
        d = Accept.YES_NOTHING_PENDING
    else:
        return Accept.NO_PENDING
    state.latest_accepted = report
    state.latest_accepted_median = report_median
    return d


def should_transmit(config_digest, contract_digest, contract, report):
    return config_digest == contract_digest and contract < report
