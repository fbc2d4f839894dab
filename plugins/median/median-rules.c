/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "macro.h"
#include "median-rules.h"
#include "sdloop-codec.h"

/* --- magnitudes: fixed-width unsigned integers, least significant 64-bit limb first ----------------- */

static bool mag_is_zero(const uint64_t a[static MEDIAN_INT_LIMBS]) {
        for (size_t i = 0; i < MEDIAN_INT_LIMBS; i++)
                if (a[i] != 0)
                        return false;
        return true;
}

static int mag_compare(const uint64_t a[static MEDIAN_INT_LIMBS], const uint64_t b[static MEDIAN_INT_LIMBS]) {
        for (size_t i = MEDIAN_INT_LIMBS; i > 0; i--)
                if (a[i - 1] != b[i - 1])
                        return a[i - 1] < b[i - 1] ? -1 : 1;
        return 0;
}

/* r = a + b. The operands here are bounded far below 2^384, so a carry out of the top limb would be a
 * programming error. */
static void mag_add(uint64_t r[static MEDIAN_INT_LIMBS], const uint64_t a[static MEDIAN_INT_LIMBS],
                    const uint64_t b[static MEDIAN_INT_LIMBS]) {
        unsigned __int128 carry = 0;

        for (size_t i = 0; i < MEDIAN_INT_LIMBS; i++) {
                carry += (unsigned __int128) a[i] + b[i];
                r[i] = (uint64_t) carry;
                carry >>= 64;
        }
        assert(carry == 0);
}

/* r = a - b, for a >= b. */
static void mag_sub(uint64_t r[static MEDIAN_INT_LIMBS], const uint64_t a[static MEDIAN_INT_LIMBS],
                    const uint64_t b[static MEDIAN_INT_LIMBS]) {
        uint64_t borrow = 0;

        assert(mag_compare(a, b) >= 0);

        for (size_t i = 0; i < MEDIAN_INT_LIMBS; i++) {
                uint64_t d = a[i] - b[i] - borrow;

                borrow = a[i] < b[i] || (a[i] == b[i] && borrow);
                r[i] = d;
        }
}

/* r = a * m + add; false if the result does not fit. */
static bool mag_mul_add_small(uint64_t r[static MEDIAN_INT_LIMBS], const uint64_t a[static MEDIAN_INT_LIMBS],
                              uint64_t m, uint64_t add) {
        unsigned __int128 carry = add;

        for (size_t i = 0; i < MEDIAN_INT_LIMBS; i++) {
                carry += (unsigned __int128) a[i] * m;
                r[i] = (uint64_t) carry;
                carry >>= 64;
        }
        return carry == 0;
}

/* a /= d, returning the remainder. */
static uint64_t mag_divmod_small(uint64_t a[static MEDIAN_INT_LIMBS], uint64_t d) {
        unsigned __int128 rem = 0;

        assert(d > 0);

        for (size_t i = MEDIAN_INT_LIMBS; i > 0; i--) {
                unsigned __int128 cur = (rem << 64) | a[i - 1];

                a[i - 1] = (uint64_t) (cur / d);
                rem = cur % d;
        }
        return (uint64_t) rem;
}

/* --- signed values ----------------------------------------------------------------------------------- */

int median_int_from_decimal(const char *s, MedianInt *ret) {
        MedianInt v = {};

        assert(ret);

        if (!sdloop_decimal_is_valid(s))
                return -EINVAL;

        if (*s == '-') {
                v.negative = true;
                s++;
        }
        /* At most SDLOOP_DECIMAL_DIGITS_MAX digits: well below 2^384, no overflow possible. */
        for (; *s; s++) {
                _unused_ bool fits = mag_mul_add_small(v.mag, v.mag, 10, (uint64_t) (*s - '0'));
                assert(fits);
        }

        *ret = v;
        return 0;
}

char *median_int_to_decimal(const MedianInt *v, char buf[static MEDIAN_DECIMAL_MAX]) {
        uint64_t t[MEDIAN_INT_LIMBS];
        char digits[MEDIAN_DECIMAL_MAX];
        size_t n = 0, k = 0;

        assert(v);

        memcpy(t, v->mag, sizeof(t));
        do {
                /* Every value comes from a decimal, an int192 or an int128: it has few enough digits. */
                assert(n < SDLOOP_DECIMAL_DIGITS_MAX);
                digits[n++] = (char) ('0' + mag_divmod_small(t, 10));
        } while (!mag_is_zero(t));

        if (v->negative)
                buf[k++] = '-';
        while (n > 0)
                buf[k++] = digits[--n];
        buf[k] = '\0';
        return buf;
}

void median_int_from_i128(__int128 v, MedianInt *ret) {
        /* Negate unsigned: -INT128_MIN does not fit in __int128. */
        unsigned __int128 u = v < 0 ? -(unsigned __int128) v : (unsigned __int128) v;

        assert(ret);

        *ret = (MedianInt) {
                .negative = v < 0,
                .mag = { (uint64_t) u, (uint64_t) (u >> 64) },
        };
}

bool median_int_is_zero(const MedianInt *v) {
        assert(v);
        return mag_is_zero(v->mag);
}

int median_int_compare(const MedianInt *a, const MedianInt *b) {
        assert(a);
        assert(b);

        if (a->negative != b->negative)
                return a->negative ? -1 : 1;
        return a->negative ? -mag_compare(a->mag, b->mag) : mag_compare(a->mag, b->mag);
}

int median_int_to_int192(const MedianInt *v, uint8_t ret[static MEDIAN_VALUE_BYTES]) {
        const uint64_t top = UINT64_C(1) << 63;
        uint64_t t[3];

        assert(v);

        for (size_t i = 3; i < MEDIAN_INT_LIMBS; i++)
                if (v->mag[i] != 0)
                        return -ERANGE;
        /* [-2^191, 2^191 - 1]: only a negative value may reach 2^191 itself. */
        if (v->mag[2] > top || (v->mag[2] == top && (!v->negative || v->mag[1] != 0 || v->mag[0] != 0)))
                return -ERANGE;

        memcpy(t, v->mag, sizeof(t));
        if (v->negative) {
                /* Two's complement in 192 bits: invert and add one. */
                unsigned __int128 carry = 1;

                for (size_t i = 0; i < 3; i++) {
                        carry += (uint64_t) ~t[i];
                        t[i] = (uint64_t) carry;
                        carry >>= 64;
                }
        }

        for (size_t i = 0; i < MEDIAN_VALUE_BYTES; i++)
                ret[i] = (uint8_t) (t[2 - i / 8] >> (56 - 8 * (i % 8)));
        return 0;
}

int median_int_from_int192(const uint8_t *data, size_t size, MedianInt *ret) {
        uint64_t t[3] = {};
        MedianInt v = {};

        assert(ret);

        if (!data || size != MEDIAN_VALUE_BYTES)
                return -EINVAL;

        for (size_t i = 0; i < MEDIAN_VALUE_BYTES; i++)
                t[2 - i / 8] |= (uint64_t) data[i] << (56 - 8 * (i % 8));

        if (data[0] & 0x80) {
                unsigned __int128 carry = 1;

                for (size_t i = 0; i < 3; i++) {
                        carry += (uint64_t) ~t[i];
                        t[i] = (uint64_t) carry;
                        carry >>= 64;
                }
                v.negative = true;
        }
        memcpy(v.mag, t, sizeof(t));

        *ret = v;
        return 0;
}

bool median_deviates(uint64_t threshold_ppb, const MedianInt *old, const MedianInt *new) {
        uint64_t diff[MEDIAN_INT_LIMBS], lhs[MEDIAN_INT_LIMBS], rhs[MEDIAN_INT_LIMBS];
        _unused_ bool fits;

        assert(old);
        assert(new);

        /* Relative to zero every change is infinite, and no change is none. */
        if (median_int_is_zero(old))
                return !median_int_is_zero(new);

        if (old->negative == new->negative) {
                if (mag_compare(new->mag, old->mag) >= 0)
                        mag_sub(diff, new->mag, old->mag);
                else
                        mag_sub(diff, old->mag, new->mag);
        } else
                mag_add(diff, new->mag, old->mag);

        /* |new - old| / |old| >= ppb / 10^9  ⇔  |new - old| · 10^9 >= ppb · |old|, all exact: the
         * magnitudes stay below 2^261, the products below 2^325. */
        fits = mag_mul_add_small(lhs, diff, UINT64_C(1000000000), 0);
        assert(fits);
        fits = mag_mul_add_small(rhs, old->mag, threshold_ppb, 0);
        assert(fits);
        return mag_compare(lhs, rhs) >= 0;
}

/* --- epochs, rounds and observations ---------------------------------------------------------------- */

bool median_epoch_round_less(MedianEpochRound a, MedianEpochRound b) {
        return a.epoch < b.epoch || (a.epoch == b.epoch && a.round < b.round);
}

static int observation_compare(const void *x, const void *y) {
        const MedianObservation *a = x, *b = y;
        int c;

        c = median_int_compare(&a->value, &b->value);
        if (c != 0)
                return c;
        return a->observer < b->observer ? -1 : a->observer > b->observer;
}

void median_observations_sort(MedianObservation *obs, size_t n) {
        if (n > 1)
                qsort(obs, n, sizeof(MedianObservation), observation_compare);
}

const MedianInt *median_observations_median(const MedianObservation *sorted, size_t n) {
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

MedianReportDecision median_should_report(const MedianOffchainConfig *offchain,
                                          const MedianOnchainConfig *onchain,
                                          const uint8_t report_digest[static SDLOOP_DIGEST_SIZE],
                                          const MedianInt *answer, const MedianTransmission *transmission,
                                          const MedianRoundRequested *requested, int64_t now_nsec) {
        bool initial_round, deviation, heartbeat, unfulfilled_request;

        assert(offchain);
        assert(onchain);
        assert(answer);
        assert(transmission);
        assert(requested);

        /* The contract would refuse such an answer: never build a report for it. */
        if (median_int_compare(answer, &onchain->min) < 0 || median_int_compare(answer, &onchain->max) > 0)
                return MEDIAN_REPORT_NO_OUT_OF_RANGE;

        initial_round = memcmp(transmission->digest, report_digest, SDLOOP_DIGEST_SIZE) == 0 &&
                transmission->epoch_round.epoch == 0 && transmission->epoch_round.round == 0;
        deviation = !offchain->alpha_report_infinite &&
                median_deviates(offchain->alpha_report_ppb, &transmission->latest_answer, answer);
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

MedianAcceptDecision median_accept_decide(const MedianOffchainConfig *offchain, MedianAcceptState *state,
                                          MedianEpochRound contract, MedianEpochRound report,
                                          const MedianInt *report_median) {
        MedianAcceptDecision d;
        bool deviates, nothing_pending;

        assert(offchain);
        assert(state);
        assert(report_median);

        deviates = !offchain->alpha_accept_infinite &&
                median_deviates(offchain->alpha_accept_ppb, &state->latest_accepted_median, report_median);
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
