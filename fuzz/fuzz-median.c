/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The median plugin's decoders and rules (plugins/median, src/libsdloop/median-config.c) and the big
 * integers under them (sdloop-int.h).
 *
 * Input: a byte choosing the mode, then: 0, an Observation protobuf; 1, an OffchainConfig protobuf;
 * 2, a decimal text and two's complement bytes for sdloop-int; 3, raw material for the decision rules.
 *
 * Invariants: decoders refuse with their documented errno and a static reason, and what they accept
 * encodes to something that decodes to the same; integers survive every encoding they fit; the rules
 * decide within their enums, sort, take the middle and measure deviation consistently. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "macro.h"
#include "median-codec.h"
#include "median-rules.h"
#include "sdloop-codec.h"
#include "sdloop-int.h"
#include "sdloop-median-config.h"

/* @n bytes of input into @buf, zeros once it runs out. */
static void take(const uint8_t **data, size_t *size, void *buf, size_t n) {
        size_t k = MIN(n, *size);

        memcpy(buf, *data, k);
        memset((uint8_t *) buf + k, 0, n - k);
        *data += k;
        *size -= k;
}

static void take_int192(const uint8_t **data, size_t *size, SdloopInt *ret) {
        uint8_t b[SDLOOP_INT192_BYTES];

        take(data, size, b, sizeof b);
        fuzz_assert(sdloop_int_from_int192(b, sizeof b, ret) >= 0, "int192");
}

static void fuzz_observation(const uint8_t *data, size_t size) {
        MedianObservation o = {}, o2 = {};
        const char *reason = NULL;
        SdloopBytes b = {};
        int r;

        r = median_observation_decode(data, size, &o, &reason);
        fuzz_note("observation: %s", r < 0 ? reason : "accepted");
        if (r < 0) {
                fuzz_assert(r == -EINVAL || (r == -EMSGSIZE && size > MEDIAN_MAX_OBSERVATION_LENGTH), reason);
                fuzz_assert(reason, "no reason");
                fuzz_check_text(reason, 200);
                return;
        }
        fuzz_assert(size <= MEDIAN_MAX_OBSERVATION_LENGTH, "accepted an observation over the maximum");

        r = median_observation_encode(o.timestamp, &o.value, &o.juels_per_fee_coin, &b);
        fuzz_assert(r >= 0, "encoding what was decoded failed");
        fuzz_assert(b.size <= MEDIAN_MAX_OBSERVATION_LENGTH, "encoded observation over the maximum");
        r = median_observation_decode(b.data, b.size, &o2, &reason);
        fuzz_assert(r >= 0, reason);
        fuzz_assert(o2.timestamp == o.timestamp && sdloop_int_compare(&o.value, &o2.value) == 0 &&
                    sdloop_int_compare(&o.juels_per_fee_coin, &o2.juels_per_fee_coin) == 0,
                    "observation changed in a round trip");
        sdloop_bytes_done(&b);
}

static void fuzz_offchain_config(const uint8_t *data, size_t size) {
        SdloopMedianOffchainConfig c = {}, c2 = {};
        const char *reason = NULL;
        SdloopBytes b = {};
        int r;

        r = sdloop_median_offchain_config_decode(data, size, &c, &reason);
        fuzz_note("offchain config: %s", r < 0 ? reason : "accepted");
        if (r < 0) {
                fuzz_assert(r == -EINVAL, reason);
                fuzz_assert(reason, "no reason");
                fuzz_check_text(reason, 200);
                return;
        }
        fuzz_assert(r == 0 || r == 1, "unexpected return");
        fuzz_assert(c.delta_c_nsec <= INT64_MAX, "delta_c over INT64_MAX accepted");

        r = sdloop_median_offchain_config_encode(&c, &b);
        fuzz_assert(r >= 0, "encoding what was decoded failed");
        r = sdloop_median_offchain_config_decode(b.data, b.size, &c2, &reason);
        fuzz_assert(r == 0, reason ?: "the encoding carries unknown fields");
        fuzz_assert(memcmp(&c, &c2, sizeof c) == 0, "offchain config changed in a round trip");
        sdloop_bytes_done(&b);
}

static void fuzz_int(const uint8_t *data, size_t size) {
        char buf[SDLOOP_INT_DECIMAL_MAX], buf2[SDLOOP_INT_DECIMAL_MAX];
        uint8_t tc[SDLOOP_INT_BYTES_MAX], out[SDLOOP_INT_BYTES_MAX];
        size_t n = fuzz_take_u8(&data, &size), width;
        _cleanup_free_ char *text = NULL;
        SdloopInt v, w;
        int r;

        /* A decimal: valid ones read back as written. */
        n = MIN(n, size);
        text = fuzz_strndup(data, n);
        fuzz_assert(text, "out of memory");
        data += n;
        size -= n;
        r = sdloop_int_from_decimal(text, &v);
        fuzz_assert((r >= 0) == sdloop_decimal_is_valid(text), text);
        if (r >= 0)
                fuzz_assert(streq(sdloop_int_to_decimal(&v, buf), text), buf);

        /* Two's complement of every width: read, written back the same, via decimal the same value. */
        width = 1 + fuzz_take_u8(&data, &size) % SDLOOP_INT_BYTES_MAX;
        take(&data, &size, tc, width);
        fuzz_assert(sdloop_int_from_twos_complement(tc, width, &w) >= 0, "two's complement");
        fuzz_assert(sdloop_int_to_twos_complement(&w, out, width) >= 0, "two's complement back");
        fuzz_assert(memcmp(tc, out, width) == 0, "two's complement changed in a round trip");
        sdloop_int_to_decimal(&w, buf);
        fuzz_assert(sdloop_decimal_is_valid(buf), buf);
        fuzz_assert(sdloop_int_from_decimal(buf, &v) >= 0 && sdloop_int_compare(&v, &w) == 0, buf);
        fuzz_assert(sdloop_int_is_zero(&w) == streq(buf, "0"), buf);

        /* int192 when it fits; the two comparisons agree. */
        r = sdloop_int_to_int192(&w, out);
        fuzz_assert(r >= 0 || r == -ERANGE, buf);
        if (r >= 0) {
                fuzz_assert(sdloop_int_from_int192(out, SDLOOP_INT192_BYTES, &v) >= 0, buf);
                fuzz_assert(sdloop_int_compare(&v, &w) == 0, buf);
        }
        if (sdloop_decimal_is_valid(text)) {
                fuzz_assert(sdloop_int_from_decimal(text, &v) >= 0, text);
                sdloop_int_to_decimal(&v, buf2);
                fuzz_assert(sdloop_decimal_compare(buf2, buf) == sdloop_int_compare(&v, &w), text);
        }
}

static void fuzz_rules(const uint8_t *data, size_t size) {
        SdloopMedianOffchainConfig offchain = {};
        MedianOnchainConfig onchain;
        MedianTransmission t = {};
        MedianRoundRequested req = {};
        MedianAcceptState state = {};
        MedianObservation obs[31];
        MedianEpochRound report, contract;
        uint8_t digest[SDLOOP_DIGEST_SIZE], contract_digest[SDLOOP_DIGEST_SIZE], flags;
        uint64_t ppb, report_size, max_len;
        int64_t now;
        MedianReportDecision d;
        MedianAcceptDecision a;
        size_t n;
        const SdloopInt *median;

        take(&data, &size, &offchain.alpha_report_ppb, 8);
        take(&data, &size, &offchain.alpha_accept_ppb, 8);
        take(&data, &size, &offchain.delta_c_nsec, 8);
        offchain.delta_c_nsec &= INT64_MAX;
        flags = fuzz_take_u8(&data, &size);
        offchain.alpha_report_infinite = flags & 1;
        offchain.alpha_accept_infinite = flags & 2;
        take_int192(&data, &size, &onchain.min);
        take_int192(&data, &size, &onchain.max);
        take(&data, &size, digest, sizeof digest);
        take(&data, &size, t.digest, 1); /* often equal or not */
        memcpy(t.digest + 1, digest + 1, sizeof digest - 1);
        memcpy(req.digest, flags & 4 ? digest : t.digest, sizeof digest);
        take(&data, &size, &t.epoch_round.epoch, 4);
        take(&data, &size, &t.epoch_round.round, 1);
        take(&data, &size, &req.epoch_round.epoch, 4);
        take(&data, &size, &req.epoch_round.round, 1);
        take_int192(&data, &size, &t.latest_answer);
        take(&data, &size, &t.latest_timestamp_usec, 8);
        take(&data, &size, &now, 8);

        n = 1 + fuzz_take_u8(&data, &size) % ELEMENTSOF(obs);
        for (size_t i = 0; i < n; i++) {
                obs[i] = (MedianObservation) { .observer = (uint8_t) i };
                take(&data, &size, &obs[i].timestamp, 4);
                take_int192(&data, &size, &obs[i].value);
        }
        median_observations_sort(obs, n);
        for (size_t i = 1; i < n; i++) {
                int c = sdloop_int_compare(&obs[i - 1].value, &obs[i].value);

                fuzz_assert(c < 0 || (c == 0 && obs[i - 1].observer < obs[i].observer), "not sorted");
        }
        median = median_observations_median(obs, n);
        fuzz_assert(median == &obs[n / 2].value, "median is not the middle element");

        d = median_should_report(&offchain, &onchain, digest, median, &t, &req, now);
        fuzz_assert(d >= 0 && d < _MEDIAN_REPORT_DECISION_MAX, "report decision out of range");
        fuzz_assert(median_report_decision_to_string(d), "report decision without a name");
        if (sdloop_int_compare(median, &onchain.min) < 0 || sdloop_int_compare(median, &onchain.max) > 0)
                fuzz_assert(!median_report_decision_is_yes(d), median_report_decision_to_string(d));

        /* Deviation: a zero threshold is met by any value from a non-zero one, a value never deviates
         * from itself by a positive threshold, and a met threshold stays met by every smaller one. */
        take(&data, &size, &ppb, 8);
        if (!sdloop_int_is_zero(&t.latest_answer)) {
                fuzz_assert(sdloop_int_deviates(0, &t.latest_answer, median), "threshold 0 not met");
                if (ppb > 0)
                        fuzz_assert(!sdloop_int_deviates(ppb, &t.latest_answer, &t.latest_answer),
                                    "a value deviates from itself");
        }
        if (sdloop_int_deviates(ppb, &t.latest_answer, median))
                fuzz_assert(sdloop_int_deviates(ppb / 2, &t.latest_answer, median), "deviation not monotonic");

        /* ShouldAcceptFinalizedReport's three steps, twice, with the state carried over. */
        for (unsigned i = 0; i < 2; i++) {
                take(&data, &size, &report.epoch, 4);
                take(&data, &size, &report.round, 1);
                take(&data, &size, &contract.epoch, 4);
                take(&data, &size, &contract.round, 1);
                take(&data, &size, contract_digest, 1);
                memcpy(contract_digest + 1, digest + 1, sizeof digest - 1);
                take(&data, &size, &report_size, 2);
                take(&data, &size, &max_len, 2);
                report_size &= 0xffff;
                max_len &= 0xffff;

                a = median_accept_check_local(&state, report);
                fuzz_assert(a == MEDIAN_ACCEPT_UNDECIDED || a == MEDIAN_ACCEPT_NO_STALE, "local check");
                if (a == MEDIAN_ACCEPT_NO_STALE)
                        fuzz_assert(!median_epoch_round_less(state.latest_accepted, report),
                                    "a newer report refused as stale");
                if (a != MEDIAN_ACCEPT_UNDECIDED)
                        continue;
                a = median_accept_check_contract(&state, digest, contract_digest, contract, report,
                                                 report_size, max_len);
                fuzz_assert(a >= 0 && a < _MEDIAN_ACCEPT_DECISION_MAX, "contract check out of range");
                fuzz_assert(!median_accept_decision_is_yes(a), "contract check decided yes");
                if (a == MEDIAN_ACCEPT_UNDECIDED)
                        fuzz_assert(report_size <= max_len, "too long a report passed");
                if (a != MEDIAN_ACCEPT_UNDECIDED)
                        continue;
                a = median_accept_decide(&offchain, &state, contract, report, median);
                fuzz_assert(a > MEDIAN_ACCEPT_UNDECIDED && a < _MEDIAN_ACCEPT_DECISION_MAX, "no final decision");
                fuzz_assert(median_accept_decision_to_string(a), "accept decision without a name");
                if (median_accept_decision_is_yes(a))
                        fuzz_assert(!median_epoch_round_less(report, state.latest_accepted) &&
                                    sdloop_int_compare(&state.latest_accepted_median, median) == 0,
                                    "an accepted report was not remembered");
        }
        if (median_should_transmit(digest, contract_digest, contract, report))
                fuzz_assert(memcmp(digest, contract_digest, sizeof digest) == 0 &&
                            median_epoch_round_less(contract, report), "transmits what it should not");
        (void) median_heartbeat_due(t.latest_timestamp_usec, offchain.delta_c_nsec, now);
        (void) median_delta_c_lookback_usec(offchain.delta_c_nsec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        switch (fuzz_take_u8(&data, &size) % 4) {
        case 0:
                fuzz_observation(data, size);
                break;
        case 1:
                fuzz_offchain_config(data, size);
                break;
        case 2:
                fuzz_int(data, size);
                break;
        case 3:
                fuzz_rules(data, size);
                break;
        }
        return 0;
}
