/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The numerical-median rules (plugins/median/median-rules.c) and the observation payload (median-codec.c),
 * each at its boundary: they must decide exactly as libocr's median reporting plugin does. The big integers
 * and the offchain config are libsdloop's: test-int.c, test-median-config.c. */

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "median-codec.h"
#include "median-rules.h"
#include "median.pb-c.h"
#include "sdloop-codec.h"

#define INT192_MAX_STR "3138550867693340381917894711603833208051177722232017256447"
#define INT192_OVER_STR "3138550867693340381917894711603833208051177722232017256448"
#define INT192_MIN_STR "-3138550867693340381917894711603833208051177722232017256448"
#define INT192_UNDER_STR "-3138550867693340381917894711603833208051177722232017256449"
#define PPB_PER_PERCENT UINT64_C(10000000)

static SdloopInt I(const char *s) {
        SdloopInt v;

        ck_assert_msg(sdloop_int_from_decimal(s, &v) == 0, "not a decimal: %s", s);
        return v;
}

static const uint8_t digest_a[SDLOOP_DIGEST_SIZE] = { [0] = 0xaa, [31] = 1 };
static const uint8_t digest_b[SDLOOP_DIGEST_SIZE] = { [0] = 0xbb, [31] = 2 };

static MedianEpochRound ER(uint32_t epoch, uint8_t round) {
        return (MedianEpochRound) { epoch, round };
}

/* --- epochs, rounds and observations ----------------------------------------------------------------- */

START_TEST(test_epoch_round_order) {
        ck_assert(median_epoch_round_less(ER(1, 5), ER(1, 6)));
        ck_assert(median_epoch_round_less(ER(1, 255), ER(2, 0)));
        ck_assert(!median_epoch_round_less(ER(2, 0), ER(1, 255)));
        ck_assert(!median_epoch_round_less(ER(3, 3), ER(3, 3)));
        ck_assert(median_epoch_round_less(ER(0, 0), ER(0, 1)));
        ck_assert(median_epoch_round_less(ER(UINT32_MAX - 1, 255), ER(UINT32_MAX, 0)));
}
END_TEST

static void fill_observations(MedianObservation *obs, const char *const *values, size_t n) {
        for (size_t i = 0; i < n; i++)
                obs[i] = (MedianObservation) {
                        .timestamp = (uint32_t) (100 + i),
                        .value = I(values[i]),
                        .juels_per_fee_coin = I("1"),
                        .observer = (uint8_t) i,
                };
}

START_TEST(test_median_odd) {
        static const char *const values[] = { "30", "-5", "10" };
        MedianObservation obs[ELEMENTSOF(values)];
        char buf[SDLOOP_INT_DECIMAL_MAX];

        fill_observations(obs, values, ELEMENTSOF(values));
        median_observations_sort(obs, ELEMENTSOF(obs));
        ck_assert_str_eq(sdloop_int_to_decimal(&obs[0].value, buf), "-5");
        ck_assert_str_eq(sdloop_int_to_decimal(&obs[2].value, buf), "30");
        ck_assert_str_eq(sdloop_int_to_decimal(median_observations_median(obs, ELEMENTSOF(obs)), buf), "10");

        /* One observation is its own median. */
        ck_assert_str_eq(sdloop_int_to_decimal(median_observations_median(obs + 2, 1), buf), "30");
}
END_TEST

START_TEST(test_median_even) {
        static const char *const values[] = { "40", "10", "30", "20" };
        MedianObservation obs[ELEMENTSOF(values)];
        char buf[SDLOOP_INT_DECIMAL_MAX];

        /* Element n/2 of the sorted list: the upper of the two middle values, no averaging. */
        fill_observations(obs, values, ELEMENTSOF(values));
        median_observations_sort(obs, ELEMENTSOF(obs));
        ck_assert_str_eq(sdloop_int_to_decimal(median_observations_median(obs, ELEMENTSOF(obs)), buf), "30");
        ck_assert_str_eq(sdloop_int_to_decimal(median_observations_median(obs, 2), buf), "20");
}
END_TEST

START_TEST(test_median_ties) {
        static const char *const values[] = { "7", "7", "3", "7" };
        MedianObservation obs[ELEMENTSOF(values)];

        /* Equal values keep a deterministic order: by observer. */
        fill_observations(obs, values, ELEMENTSOF(values));
        median_observations_sort(obs, ELEMENTSOF(obs));
        ck_assert_uint_eq(obs[0].observer, 2);
        ck_assert_uint_eq(obs[1].observer, 0);
        ck_assert_uint_eq(obs[2].observer, 1);
        ck_assert_uint_eq(obs[3].observer, 3);
}
END_TEST

START_TEST(test_enough_observations) {
        /* libocr's Report needs f+1 valid observations out of the 2f+1 the protocol guarantees. */
        ck_assert(!median_observations_enough(0, 0));
        ck_assert(median_observations_enough(1, 0));
        ck_assert(!median_observations_enough(1, 1));      /* f */
        ck_assert(median_observations_enough(2, 1));       /* f+1 = 2f */
        ck_assert(median_observations_enough(3, 1));       /* 2f+1 */
        ck_assert(!median_observations_enough(10, 10));
        ck_assert(median_observations_enough(11, 10));
        ck_assert(median_observations_enough(SIZE_MAX, UINT32_MAX));
        ck_assert(!median_observations_enough(UINT32_MAX, UINT32_MAX));
}
END_TEST

/* --- Report ------------------------------------------------------------------------------------------- */

#define NSEC_PER_SEC INT64_C(1000000000)
#define T0_USEC INT64_C(1700000000000000)
#define T0_NSEC (T0_USEC * 1000)

START_TEST(test_heartbeat) {
        const uint64_t delta_c = 60 * NSEC_PER_SEC;

        /* time.Time.Before: exactly deltaC later is not yet due. */
        ck_assert(!median_heartbeat_due(T0_USEC, delta_c, T0_NSEC + (int64_t) delta_c));
        ck_assert(median_heartbeat_due(T0_USEC, delta_c, T0_NSEC + (int64_t) delta_c + 1));
        ck_assert(!median_heartbeat_due(T0_USEC, delta_c, T0_NSEC));
        ck_assert(!median_heartbeat_due(T0_USEC, delta_c, T0_NSEC - NSEC_PER_SEC));
        /* deltaC = 0: due as soon as any time has passed. */
        ck_assert(!median_heartbeat_due(T0_USEC, 0, T0_NSEC));
        ck_assert(median_heartbeat_due(T0_USEC, 0, T0_NSEC + 1));
        /* No contract report at all: timestamp 0 is always long ago. */
        ck_assert(median_heartbeat_due(0, delta_c, T0_NSEC));
        /* The widest deltaC does not overflow. */
        ck_assert(!median_heartbeat_due(T0_USEC, INT64_MAX, INT64_MAX));
        ck_assert(!median_heartbeat_due(INT64_MAX, INT64_MAX, INT64_MAX));
        ck_assert(median_heartbeat_due(INT64_MIN, 0, INT64_MIN + 1));
}
END_TEST

START_TEST(test_lookback) {
        ck_assert_uint_eq(median_delta_c_lookback_usec(0), 0);
        ck_assert_uint_eq(median_delta_c_lookback_usec(1), 1);
        ck_assert_uint_eq(median_delta_c_lookback_usec(1000), 1);
        ck_assert_uint_eq(median_delta_c_lookback_usec(1001), 2);
        ck_assert_uint_eq(median_delta_c_lookback_usec(INT64_MAX), (uint64_t) INT64_MAX / 1000 + 1);
}
END_TEST

typedef struct ReportCase {
        SdloopMedianOffchainConfig offchain;
        MedianOnchainConfig onchain;
        MedianTransmission transmission;
        MedianRoundRequested requested;
        int64_t now_nsec;
} ReportCase;

/* The contract is at (3, 4) of config A with answer 1000, reported 10 s ago; deltaC 60 s; alpha 1 %. */
static ReportCase report_case(void) {
        ReportCase c = {
                .offchain = {
                        .alpha_report_ppb = PPB_PER_PERCENT,
                        .alpha_accept_ppb = PPB_PER_PERCENT,
                        .delta_c_nsec = 60 * NSEC_PER_SEC,
                },
                .onchain = { .min = I("-5000"), .max = I("5000") },
                .transmission = {
                        .epoch_round = { 3, 4 },
                        .latest_answer = I("1000"),
                        .latest_timestamp_usec = T0_USEC,
                },
                .requested = { .epoch_round = { 0, 0 } },
                .now_nsec = T0_NSEC + 10 * NSEC_PER_SEC,
        };

        memcpy(c.transmission.digest, digest_a, SDLOOP_DIGEST_SIZE);
        return c;
}

static MedianReportDecision decide(const ReportCase *c, const char *answer) {
        SdloopInt a = I(answer);

        return median_should_report(&c->offchain, &c->onchain, digest_a, &a, &c->transmission, &c->requested,
                                    c->now_nsec);
}

START_TEST(test_report_nothing_changed) {
        ReportCase c = report_case();

        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);
        ck_assert_int_eq(decide(&c, "1009"), MEDIAN_REPORT_NO);
        ck_assert(!median_report_decision_is_yes(MEDIAN_REPORT_NO));
        ck_assert_str_eq(median_report_decision_to_string(MEDIAN_REPORT_NO), "no, nothing changed enough");
}
END_TEST

START_TEST(test_report_deviation) {
        ReportCase c = report_case();

        ck_assert_int_eq(decide(&c, "1010"), MEDIAN_REPORT_DEVIATION);
        ck_assert_int_eq(decide(&c, "990"), MEDIAN_REPORT_DEVIATION);
        ck_assert_int_eq(decide(&c, "991"), MEDIAN_REPORT_NO);
        ck_assert(median_report_decision_is_yes(MEDIAN_REPORT_DEVIATION));

        /* alpha_report_infinite switches the deviation check off. */
        c.offchain.alpha_report_infinite = true;
        ck_assert_int_eq(decide(&c, "4000"), MEDIAN_REPORT_NO);
}
END_TEST

START_TEST(test_report_out_of_range) {
        ReportCase c = report_case();

        /* Inclusive bounds; outside them no report, whatever else holds (even the first round). */
        ck_assert_int_eq(decide(&c, "5000"), MEDIAN_REPORT_DEVIATION);
        ck_assert_int_eq(decide(&c, "-5000"), MEDIAN_REPORT_DEVIATION);
        ck_assert_int_eq(decide(&c, "5001"), MEDIAN_REPORT_NO_OUT_OF_RANGE);
        ck_assert_int_eq(decide(&c, "-5001"), MEDIAN_REPORT_NO_OUT_OF_RANGE);
        c.transmission.epoch_round = ER(0, 0);
        ck_assert_int_eq(decide(&c, "5001"), MEDIAN_REPORT_NO_OUT_OF_RANGE);
        ck_assert(!median_report_decision_is_yes(MEDIAN_REPORT_NO_OUT_OF_RANGE));
}
END_TEST

START_TEST(test_report_initial_round) {
        ReportCase c = report_case();

        /* The contract carries our digest at (0, 0): a new config, nothing transmitted under it yet. */
        c.transmission.epoch_round = ER(0, 0);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_INITIAL_ROUND);

        /* Another digest at (0, 0) is not our first round. */
        memcpy(c.transmission.digest, digest_b, SDLOOP_DIGEST_SIZE);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);

        /* (0, 1) is past the first round. */
        memcpy(c.transmission.digest, digest_a, SDLOOP_DIGEST_SIZE);
        c.transmission.epoch_round = ER(0, 1);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);
}
END_TEST

START_TEST(test_report_heartbeat) {
        ReportCase c = report_case();

        c.now_nsec = T0_NSEC + (int64_t) c.offchain.delta_c_nsec;
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);
        c.now_nsec++;
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_HEARTBEAT);
        /* Deviation is named first when both hold. */
        ck_assert_int_eq(decide(&c, "2000"), MEDIAN_REPORT_DEVIATION);
}
END_TEST

START_TEST(test_report_requested) {
        ReportCase c = report_case();

        /* A RoundRequested for our digest at or after the latest transmission. */
        memcpy(c.requested.digest, digest_a, SDLOOP_DIGEST_SIZE);
        c.requested.epoch_round = ER(3, 4);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_REQUESTED);
        c.requested.epoch_round = ER(3, 5);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_REQUESTED);
        /* Fulfilled already. */
        c.requested.epoch_round = ER(3, 3);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);
        /* For another config. */
        c.requested.epoch_round = ER(3, 5);
        memcpy(c.requested.digest, digest_b, SDLOOP_DIGEST_SIZE);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);
}
END_TEST

START_TEST(test_report_digest_changed) {
        ReportCase c = report_case();

        /* The contract is on another config at (3, 4): only the usual triggers apply. */
        memcpy(c.transmission.digest, digest_b, SDLOOP_DIGEST_SIZE);
        ck_assert_int_eq(decide(&c, "1000"), MEDIAN_REPORT_NO);
        ck_assert_int_eq(decide(&c, "1010"), MEDIAN_REPORT_DEVIATION);
}
END_TEST

START_TEST(test_report_zero_answer) {
        ReportCase c = report_case();

        c.transmission.latest_answer = I("0");
        ck_assert_int_eq(decide(&c, "0"), MEDIAN_REPORT_NO);
        ck_assert_int_eq(decide(&c, "1"), MEDIAN_REPORT_DEVIATION);
        ck_assert_int_eq(decide(&c, "-1"), MEDIAN_REPORT_DEVIATION);
}
END_TEST

/* --- ShouldAcceptFinalizedReport / ShouldTransmitAcceptedReport ------------------------------------- */

START_TEST(test_accept_stale_local) {
        MedianAcceptState s = { .latest_accepted = { 5, 2 } };

        ck_assert_int_eq(median_accept_check_local(&s, ER(5, 2)), MEDIAN_ACCEPT_NO_STALE);
        ck_assert_int_eq(median_accept_check_local(&s, ER(5, 1)), MEDIAN_ACCEPT_NO_STALE);
        ck_assert_int_eq(median_accept_check_local(&s, ER(4, 9)), MEDIAN_ACCEPT_NO_STALE);
        ck_assert_int_eq(median_accept_check_local(&s, ER(5, 3)), MEDIAN_ACCEPT_UNDECIDED);
        ck_assert_int_eq(median_accept_check_local(&s, ER(6, 0)), MEDIAN_ACCEPT_UNDECIDED);

        /* The initial state (0, 0) refuses (0, 0) itself. */
        s = (MedianAcceptState) {};
        ck_assert_int_eq(median_accept_check_local(&s, ER(0, 0)), MEDIAN_ACCEPT_NO_STALE);
        ck_assert_int_eq(median_accept_check_local(&s, ER(0, 1)), MEDIAN_ACCEPT_UNDECIDED);
}
END_TEST

START_TEST(test_accept_contract_checks) {
        MedianAcceptState s = { .latest_accepted = { 2, 0 } };

        ck_assert_int_eq(median_accept_check_contract(&s, digest_a, digest_a, ER(3, 0), ER(3, 1), 100, 100),
                         MEDIAN_ACCEPT_UNDECIDED);
        /* Locally stale comes first. */
        ck_assert_int_eq(median_accept_check_contract(&s, digest_a, digest_b, ER(3, 0), ER(2, 0), 100, 100),
                         MEDIAN_ACCEPT_NO_STALE);
        ck_assert_int_eq(median_accept_check_contract(&s, digest_a, digest_b, ER(3, 0), ER(3, 1), 100, 100),
                         MEDIAN_ACCEPT_NO_DIGEST_MISMATCH);
        /* Not newer than the contract (equal is stale). */
        ck_assert_int_eq(median_accept_check_contract(&s, digest_a, digest_a, ER(3, 1), ER(3, 1), 100, 100),
                         MEDIAN_ACCEPT_NO_STALE_CONTRACT);
        ck_assert_int_eq(median_accept_check_contract(&s, digest_a, digest_a, ER(4, 0), ER(3, 1), 100, 100),
                         MEDIAN_ACCEPT_NO_STALE_CONTRACT);
        /* MaxReportLength itself is fine, one more byte is not. */
        ck_assert_int_eq(median_accept_check_contract(&s, digest_a, digest_a, ER(3, 0), ER(3, 1), 101, 100),
                         MEDIAN_ACCEPT_NO_TOO_LONG);
}
END_TEST

START_TEST(test_accept_decide) {
        SdloopMedianOffchainConfig c = { .alpha_accept_ppb = PPB_PER_PERCENT };
        MedianAcceptState s = {};
        SdloopInt m;
        char buf[SDLOOP_INT_DECIMAL_MAX];

        /* Nothing accepted yet: any non-zero median deviates from the initial 0. */
        m = I("1000");
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(1, 0), ER(1, 1), &m), MEDIAN_ACCEPT_YES_DEVIATES);
        ck_assert_uint_eq(s.latest_accepted.epoch, 1);
        ck_assert_uint_eq(s.latest_accepted.round, 1);
        ck_assert_str_eq(sdloop_int_to_decimal(&s.latest_accepted_median, buf), "1000");

        /* (1, 1) is pending (the contract is still at (1, 0)): only a deviating report is accepted. */
        m = I("1009");
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(1, 0), ER(1, 2), &m), MEDIAN_ACCEPT_NO_PENDING);
        ck_assert_uint_eq(s.latest_accepted.round, 1);
        ck_assert_str_eq(sdloop_int_to_decimal(&s.latest_accepted_median, buf), "1000");
        m = I("1010");
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(1, 0), ER(1, 2), &m), MEDIAN_ACCEPT_YES_DEVIATES);
        ck_assert_uint_eq(s.latest_accepted.round, 2);

        /* The contract caught up with (1, 2): nothing pending, any report goes. */
        m = I("1010");
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(1, 2), ER(1, 3), &m), MEDIAN_ACCEPT_YES_NOTHING_PENDING);
        ck_assert_uint_eq(s.latest_accepted.round, 3);
        /* Beyond our latest accepted too. */
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(2, 0), ER(2, 1), &m), MEDIAN_ACCEPT_YES_NOTHING_PENDING);
}
END_TEST

START_TEST(test_accept_infinite) {
        SdloopMedianOffchainConfig c = { .alpha_accept_infinite = true, .alpha_accept_ppb = 0 };
        MedianAcceptState s = { .latest_accepted = { 1, 1 }, .latest_accepted_median = I("1000") };
        SdloopInt m = I("999999");

        /* No deviation ever counts: while (1, 1) is pending, nothing is accepted. */
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(1, 0), ER(1, 2), &m), MEDIAN_ACCEPT_NO_PENDING);
        ck_assert_int_eq(median_accept_decide(&c, &s, ER(1, 1), ER(1, 2), &m), MEDIAN_ACCEPT_YES_NOTHING_PENDING);
        ck_assert(median_accept_decision_is_yes(MEDIAN_ACCEPT_YES_NOTHING_PENDING));
        ck_assert(!median_accept_decision_is_yes(MEDIAN_ACCEPT_NO_PENDING));
        ck_assert(!median_accept_decision_is_yes(MEDIAN_ACCEPT_UNDECIDED));
}
END_TEST

START_TEST(test_transmit) {
        ck_assert(median_should_transmit(digest_a, digest_a, ER(3, 4), ER(3, 5)));
        ck_assert(median_should_transmit(digest_a, digest_a, ER(3, 4), ER(4, 0)));
        /* Stale: equal or older. */
        ck_assert(!median_should_transmit(digest_a, digest_a, ER(3, 4), ER(3, 4)));
        ck_assert(!median_should_transmit(digest_a, digest_a, ER(3, 4), ER(3, 3)));
        /* Another config on the contract. */
        ck_assert(!median_should_transmit(digest_a, digest_b, ER(3, 4), ER(3, 5)));
}
END_TEST

/* --- payloads ----------------------------------------------------------------------------------------- */

START_TEST(test_observation_round_trip) {
        _cleanup_(sdloop_bytes_done) SdloopBytes b = {};
        SdloopInt v = I(INT192_MIN_STR), j = I(INT192_MAX_STR);
        MedianObservation o;
        char buf[SDLOOP_INT_DECIMAL_MAX];

        ck_assert_int_eq(median_observation_encode(UINT32_MAX, &v, &j, &b), 0);
        ck_assert_uint_le(b.size, MEDIAN_MAX_OBSERVATION_LENGTH);
        ck_assert_int_eq(median_observation_decode(b.data, b.size, &o, NULL), 0);
        ck_assert_uint_eq(o.timestamp, UINT32_MAX);
        ck_assert_str_eq(sdloop_int_to_decimal(&o.value, buf), INT192_MIN_STR);
        ck_assert_str_eq(sdloop_int_to_decimal(&o.juels_per_fee_coin, buf), INT192_MAX_STR);

        v = I(INT192_OVER_STR);
        ck_assert_int_eq(median_observation_encode(1, &v, &j, &(SdloopBytes) {}), -ERANGE);
        v = I("1");
        j = I(INT192_UNDER_STR);
        ck_assert_int_eq(median_observation_encode(1, &v, &j, &(SdloopBytes) {}), -ERANGE);
}
END_TEST

static size_t pack_observation(uint32_t ts, size_t value_size, size_t juels_size, size_t gas_size,
                               uint8_t buf[static 256]) {
        Sdloop__Median__Observation m = SDLOOP__MEDIAN__OBSERVATION__INIT;
        static uint8_t zeros[64];

        m.timestamp = ts;
        m.value = (ProtobufCBinaryData) { .len = value_size, .data = zeros };
        m.juels_per_fee_coin = (ProtobufCBinaryData) { .len = juels_size, .data = zeros };
        m.gas_price_subunits = (ProtobufCBinaryData) { .len = gas_size, .data = zeros };
        ck_assert_uint_le(sdloop__median__observation__get_packed_size(&m), 256);
        return sdloop__median__observation__pack(&m, buf);
}

START_TEST(test_observation_invalid) {
        uint8_t buf[256];
        MedianObservation o;
        const char *reason;
        size_t n;

        /* A gas price of libocr's newer oracles is fine, the largest such observation fits the bound. */
        n = pack_observation(UINT32_MAX, 24, 24, 24, buf);
        ck_assert_uint_le(n, MEDIAN_MAX_OBSERVATION_LENGTH);
        ck_assert_int_eq(median_observation_decode(buf, n, &o, NULL), 0);

        n = pack_observation(1, 23, 24, 0, buf);
        ck_assert_int_eq(median_observation_decode(buf, n, &o, &reason), -EINVAL);
        ck_assert_ptr_nonnull(strstr(reason, "value"));
        n = pack_observation(1, 0, 24, 0, buf);
        ck_assert_int_eq(median_observation_decode(buf, n, &o, &reason), -EINVAL);
        n = pack_observation(1, 24, 25, 0, buf);
        ck_assert_int_eq(median_observation_decode(buf, n, &o, &reason), -EINVAL);
        ck_assert_ptr_nonnull(strstr(reason, "juels"));
        n = pack_observation(1, 24, 24, 8, buf);
        ck_assert_int_eq(median_observation_decode(buf, n, &o, &reason), -EINVAL);
        ck_assert_ptr_nonnull(strstr(reason, "gas"));

        /* Not protobuf at all, and too long. */
        ck_assert_int_eq(median_observation_decode((const uint8_t[]) { 0xff, 0xff }, 2, &o, &reason), -EINVAL);
        memset(buf, 0, sizeof(buf));
        ck_assert_int_eq(median_observation_decode(buf, MEDIAN_MAX_OBSERVATION_LENGTH + 1, &o, &reason), -EMSGSIZE);
        ck_assert_int_eq(median_observation_decode(NULL, 0, &o, &reason), -EINVAL);
}
END_TEST

static Suite *median_rules_suite(void) {
        Suite *s = suite_create("median-rules");
        TCase *tc;

        tc = tcase_create("observations");
        tcase_add_test(tc, test_epoch_round_order);
        tcase_add_test(tc, test_median_odd);
        tcase_add_test(tc, test_median_even);
        tcase_add_test(tc, test_median_ties);
        tcase_add_test(tc, test_enough_observations);
        suite_add_tcase(s, tc);

        tc = tcase_create("report");
        tcase_add_test(tc, test_heartbeat);
        tcase_add_test(tc, test_lookback);
        tcase_add_test(tc, test_report_nothing_changed);
        tcase_add_test(tc, test_report_deviation);
        tcase_add_test(tc, test_report_out_of_range);
        tcase_add_test(tc, test_report_initial_round);
        tcase_add_test(tc, test_report_heartbeat);
        tcase_add_test(tc, test_report_requested);
        tcase_add_test(tc, test_report_digest_changed);
        tcase_add_test(tc, test_report_zero_answer);
        suite_add_tcase(s, tc);

        tc = tcase_create("accept-transmit");
        tcase_add_test(tc, test_accept_stale_local);
        tcase_add_test(tc, test_accept_contract_checks);
        tcase_add_test(tc, test_accept_decide);
        tcase_add_test(tc, test_accept_infinite);
        tcase_add_test(tc, test_transmit);
        suite_add_tcase(s, tc);

        tc = tcase_create("payloads");
        tcase_add_test(tc, test_observation_round_trip);
        tcase_add_test(tc, test_observation_invalid);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(median_rules_suite());
        int n_failed;

        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
