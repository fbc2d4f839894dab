/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libsdloop's median offchain config codec (sdloop-median-config.h): libocr's exact bytes both ways,
 * fields of a newer libocr, and whatever an untrusted config may hold instead of a valid message. */

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-median-config.h"

#define PPB_PER_PERCENT UINT64_C(10000000)

/* As libocr's OffchainConfig.Encode() writes {AlphaReportPPB: 10^7, AlphaAcceptPPB: 3, DeltaC: 1 s}:
 * field 2 varint, field 4 varint, field 5 varint; the zero fields 1 and 3 are left out (proto3). */
static const uint8_t libocr_bytes[] = {
        0x10, 0x80, 0xad, 0xe2, 0x04,       /* alpha_report_ppb = 10000000 */
        0x20, 0x03,                         /* alpha_accept_ppb = 3 */
        0x28, 0x80, 0x94, 0xeb, 0xdc, 0x03, /* delta_c_nanoseconds = 10^9 */
};
static const SdloopMedianOffchainConfig libocr_config = {
        .alpha_report_ppb = 10000000,
        .alpha_accept_ppb = 3,
        .delta_c_nsec = 1000000000,
};

static void assert_config_eq(const SdloopMedianOffchainConfig *a, const SdloopMedianOffchainConfig *b) {
        ck_assert(a->alpha_report_infinite == b->alpha_report_infinite);
        ck_assert_uint_eq(a->alpha_report_ppb, b->alpha_report_ppb);
        ck_assert(a->alpha_accept_infinite == b->alpha_accept_infinite);
        ck_assert_uint_eq(a->alpha_accept_ppb, b->alpha_accept_ppb);
        ck_assert_uint_eq(a->delta_c_nsec, b->delta_c_nsec);
}

static void assert_encodes_to(const SdloopMedianOffchainConfig *c, const uint8_t *bytes, size_t size) {
        _cleanup_(sdloop_bytes_done) SdloopBytes b = {};

        ck_assert_int_eq(sdloop_median_offchain_config_encode(c, &b), 0);
        ck_assert_uint_eq(b.size, size);
        ck_assert_msg(size == 0 || memcmp(b.data, bytes, size) == 0, "encoding differs");
}

/* Refused with a reason, and *ret left as it was. */
static void assert_refused(const void *data, size_t size, const char *reason_part) {
        SdloopMedianOffchainConfig c = { .alpha_report_ppb = 4242 };
        const char *reason = NULL;

        ck_assert_int_eq(sdloop_median_offchain_config_decode(data, size, &c, &reason), -EINVAL);
        ck_assert_ptr_nonnull(reason);
        if (reason_part)
                ck_assert_msg(strstr(reason, reason_part), "reason \"%s\" lacks \"%s\"", reason, reason_part);
        ck_assert_uint_eq(c.alpha_report_ppb, 4242);
        /* A caller that does not want the reason does not have to take it. */
        ck_assert_int_eq(sdloop_median_offchain_config_decode(data, size, &c, NULL), -EINVAL);
}

START_TEST(test_round_trip) {
        const SdloopMedianOffchainConfig configs[] = {
                {},
                libocr_config,
                {
                        .alpha_report_infinite = true,
                        .alpha_report_ppb = 5 * PPB_PER_PERCENT,
                        .alpha_accept_infinite = false,
                        .alpha_accept_ppb = 1,
                        .delta_c_nsec = (uint64_t) INT64_MAX,
                },
                {
                        .alpha_report_infinite = true,
                        .alpha_report_ppb = UINT64_MAX,
                        .alpha_accept_infinite = true,
                        .alpha_accept_ppb = UINT64_MAX,
                        .delta_c_nsec = 1,
                },
        };

        for (size_t i = 0; i < ELEMENTSOF(configs); i++) {
                _cleanup_(sdloop_bytes_done) SdloopBytes b = {};
                SdloopMedianOffchainConfig out;

                ck_assert_int_eq(sdloop_median_offchain_config_encode(&configs[i], &b), 0);
                ck_assert_int_eq(sdloop_median_offchain_config_decode(b.data, b.size, &out, NULL), 0);
                assert_config_eq(&out, &configs[i]);
        }
}
END_TEST

START_TEST(test_encode_bytes) {
        /* libocr's own bytes, field for field. */
        assert_encodes_to(&libocr_config, libocr_bytes, sizeof(libocr_bytes));
        /* All zero: the empty message. */
        assert_encodes_to(&(SdloopMedianOffchainConfig) {}, NULL, 0);
        /* The booleans, fields 1 and 3, as varints 1. */
        assert_encodes_to(&(SdloopMedianOffchainConfig) { .alpha_report_infinite = true, .alpha_accept_infinite = true },
                          (const uint8_t[]) { 0x08, 0x01, 0x18, 0x01 }, 4);
        /* The widest varints: 10 bytes each. */
        assert_encodes_to(&(SdloopMedianOffchainConfig) { .alpha_report_ppb = UINT64_MAX,
                                                          .delta_c_nsec = (uint64_t) INT64_MAX },
                          (const uint8_t[]) { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                                              0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
                          21);

        /* deltaC must stay a non-negative time.Duration. */
        ck_assert_int_eq(sdloop_median_offchain_config_encode(&(SdloopMedianOffchainConfig) {
                                                                      .delta_c_nsec = (uint64_t) INT64_MAX + 1 },
                                                              &(SdloopBytes) {}), -ERANGE);
}
END_TEST

START_TEST(test_decode_bytes) {
        SdloopMedianOffchainConfig c;

        ck_assert_int_eq(sdloop_median_offchain_config_decode(libocr_bytes, sizeof(libocr_bytes), &c, NULL), 0);
        assert_config_eq(&c, &libocr_config);

        /* Empty: all defaults, with or without a pointer. */
        c = libocr_config;
        ck_assert_int_eq(sdloop_median_offchain_config_decode(NULL, 0, &c, NULL), 0);
        assert_config_eq(&c, &(SdloopMedianOffchainConfig) {});
        c = libocr_config;
        ck_assert_int_eq(sdloop_median_offchain_config_decode(libocr_bytes, 0, &c, NULL), 0);
        assert_config_eq(&c, &(SdloopMedianOffchainConfig) {});

        /* Fields in another order, and a field given twice: the last one counts, as in proto3. */
        {
                static const uint8_t b[] = { 0x28, 0x05, 0x20, 0x03, 0x18, 0x01, 0x20, 0x07 };

                ck_assert_int_eq(sdloop_median_offchain_config_decode(b, sizeof(b), &c, NULL), 0);
                assert_config_eq(&c, &(SdloopMedianOffchainConfig) { .alpha_accept_infinite = true,
                                                                     .alpha_accept_ppb = 7, .delta_c_nsec = 5 });
        }

        /* deltaC exactly INT64_MAX is fine. */
        {
                static const uint8_t b[] = { 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };

                ck_assert_int_eq(sdloop_median_offchain_config_decode(b, sizeof(b), &c, NULL), 0);
                ck_assert_uint_eq(c.delta_c_nsec, (uint64_t) INT64_MAX);
        }
}
END_TEST

START_TEST(test_decode_unknown_fields) {
        /* A newer libocr's fields, of every wire type, between and after the known ones: skipped, the
         * known ones still read, and the caller told (1). */
        static const uint8_t b[] = {
                0x10, 0x80, 0xad, 0xe2, 0x04,                         /* alpha_report_ppb = 10000000 */
                0x30, 0x01,                                           /* 6, varint */
                0x3a, 0x03, 'a', 'b', 'c',                            /* 7, length-delimited */
                0x20, 0x03,                                           /* alpha_accept_ppb = 3 */
                0x41, 1, 2, 3, 4, 5, 6, 7, 8,                         /* 8, fixed64 */
                0x4d, 1, 2, 3, 4,                                     /* 9, fixed32 */
                0x28, 0x80, 0x94, 0xeb, 0xdc, 0x03,                   /* delta_c_nanoseconds = 10^9 */
                0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00,                   /* 2^29 - 1 (largest number), varint */
        };
        SdloopMedianOffchainConfig c;

        ck_assert_int_eq(sdloop_median_offchain_config_decode(b, sizeof(b), &c, NULL), 1);
        assert_config_eq(&c, &libocr_config);
}
END_TEST

START_TEST(test_decode_truncated) {
        /* Cut anywhere: at a field boundary the prefix is a valid message, elsewhere it is refused. */
        for (size_t n = 1; n < sizeof(libocr_bytes); n++) {
                SdloopMedianOffchainConfig c;

                if (n == 5 || n == 7) {
                        ck_assert_int_eq(sdloop_median_offchain_config_decode(libocr_bytes, n, &c, NULL), 0);
                        ck_assert_uint_eq(c.alpha_report_ppb, 10000000);
                        ck_assert_uint_eq(c.alpha_accept_ppb, n == 7 ? 3 : 0);
                        ck_assert_uint_eq(c.delta_c_nsec, 0);
                } else
                        assert_refused(libocr_bytes, n, "OffchainConfig");
        }

        /* An unknown length-delimited field longer than what is left. */
        assert_refused((const uint8_t[]) { 0x3a, 0x05, 'a', 'b' }, 4, "OffchainConfig");
}
END_TEST

START_TEST(test_decode_malformed) {
        /* Not protobuf. */
        assert_refused((const uint8_t[]) { 0xff, 0xff, 0xff }, 3, "OffchainConfig");
        /* Field number 0 does not exist. */
        assert_refused((const uint8_t[]) { 0x00, 0x01 }, 2, "OffchainConfig");
        /* A varint of 11 bytes. */
        assert_refused((const uint8_t[]) { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 },
                       12, "OffchainConfig");
        /* Wire types 6 and 7 do not exist. */
        assert_refused((const uint8_t[]) { 0x36, 0x00 }, 2, "OffchainConfig");
        assert_refused((const uint8_t[]) { 0x37, 0x00 }, 2, "OffchainConfig");
        /* A known field with the wrong wire type: alpha_report_ppb as bytes. */
        assert_refused((const uint8_t[]) { 0x12, 0x01, 0x00 }, 3, "OffchainConfig");
        /* deltaC that a signed time.Duration would see as negative. */
        assert_refused((const uint8_t[]) { 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 11,
                       "delta_c");
        assert_refused((const uint8_t[]) { 0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 11,
                       "delta_c");
}
END_TEST

static Suite *median_config_suite(void) {
        Suite *s = suite_create("median-config");
        TCase *tc;

        tc = tcase_create("encode");
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_encode_bytes);
        suite_add_tcase(s, tc);

        tc = tcase_create("decode");
        tcase_add_test(tc, test_decode_bytes);
        tcase_add_test(tc, test_decode_unknown_fields);
        tcase_add_test(tc, test_decode_truncated);
        tcase_add_test(tc, test_decode_malformed);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(median_config_suite());
        int n_failed;

        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
