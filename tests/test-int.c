/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libsdloop's big integers (sdloop-int.h) at their boundaries: 78-digit decimals, the int192 and int256
 * limits, malformed input, and the exact deviation test libocr's median plugin decides with. */

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-int.h"

#define INT192_MAX_STR "3138550867693340381917894711603833208051177722232017256447"
#define INT192_OVER_STR "3138550867693340381917894711603833208051177722232017256448"
#define INT192_MIN_STR "-3138550867693340381917894711603833208051177722232017256448"
#define INT192_UNDER_STR "-3138550867693340381917894711603833208051177722232017256449"
#define INT256_MAX_STR "57896044618658097711785492504343953926634992332820282019728792003956564819967"
#define INT256_OVER_STR "57896044618658097711785492504343953926634992332820282019728792003956564819968"
#define INT256_MIN_STR "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
#define INT256_UNDER_STR "-57896044618658097711785492504343953926634992332820282019728792003956564819969"
#define INT128_MAX_STR "170141183460469231731687303715884105727"
#define INT128_MIN_STR "-170141183460469231731687303715884105728"
#define NINES_78 "999999999999999999999999999999999999999999999999999999999999999999999999999999"
#define TEN_77 "100000000000000000000000000000000000000000000000000000000000000000000000000000"
#define PPB_PER_PERCENT UINT64_C(10000000)

static SdloopInt I(const char *s) {
        SdloopInt v;

        ck_assert_msg(sdloop_int_from_decimal(s, &v) == 0, "not a decimal: %s", s);
        return v;
}

static bool deviates(uint64_t ppb, const char *old, const char *new) {
        SdloopInt o = I(old), n = I(new);

        return sdloop_int_deviates(ppb, &o, &n);
}

/* --- decimals ----------------------------------------------------------------------------------------- */

START_TEST(test_decimal_round_trip) {
        static const char *const values[] = {
                "0", "1", "-1", "9", "10", "18446744073709551615", "18446744073709551616", "-18446744073709551616",
                INT128_MAX_STR, INT128_MIN_STR, INT192_MAX_STR, INT192_MIN_STR, INT256_MAX_STR, INT256_MIN_STR,
                TEN_77, NINES_78, "-" NINES_78,
        };
        char buf[SDLOOP_INT_DECIMAL_MAX];

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                SdloopInt v = I(values[i]);

                ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), values[i]);
                ck_assert(v.negative == (values[i][0] == '-'));
        }

        /* The longest text there is fills the buffer exactly. */
        {
                SdloopInt v = I("-" NINES_78);

                ck_assert_uint_eq(strlen(sdloop_int_to_decimal(&v, buf)) + 1, SDLOOP_INT_DECIMAL_MAX);
        }
}
END_TEST

START_TEST(test_decimal_malformed) {
        /* Exactly what sdloop_decimal_is_valid() refuses, and the result stays untouched. */
        static const char *const bad[] = {
                "", "-", "-0", "00", "01", "-01", "1.5", "12a", "0x10", " 1", "1 ", "+1", "--1", "1e3",
                NINES_78 "9", "-" NINES_78 "9", TEN_77 "0",
        };
        SdloopInt sentinel = I("42");

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                SdloopInt v = sentinel;

                ck_assert(!sdloop_decimal_is_valid(bad[i]));
                ck_assert_msg(sdloop_int_from_decimal(bad[i], &v) == -EINVAL, "accepted \"%s\"", bad[i]);
                ck_assert_int_eq(sdloop_int_compare(&v, &sentinel), 0);
        }
        ck_assert_int_eq(sdloop_int_from_decimal(NULL, &(SdloopInt) {}), -EINVAL);
}
END_TEST

START_TEST(test_from_i128) {
        const __int128 max = (__int128) (((unsigned __int128) 1 << 127) - 1), min = -max - 1;
        char buf[SDLOOP_INT_DECIMAL_MAX];
        SdloopInt v, d;

        sdloop_int_from_i128(min, &v);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), INT128_MIN_STR);
        d = I(INT128_MIN_STR);
        ck_assert_int_eq(sdloop_int_compare(&v, &d), 0);
        sdloop_int_from_i128(max, &v);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), INT128_MAX_STR);
        sdloop_int_from_i128(0, &v);
        ck_assert(sdloop_int_is_zero(&v));
        ck_assert(!v.negative);
        sdloop_int_from_i128(-5, &v);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), "-5");
        ck_assert(!sdloop_int_is_zero(&v));
}
END_TEST

START_TEST(test_compare) {
        /* Sorted ascending: every pair must compare as sdloop_decimal_compare() compares their texts. */
        static const char *const sorted[] = {
                "-" NINES_78, INT256_MIN_STR, INT192_MIN_STR, "-18446744073709551616", "-18446744073709551615",
                "-10", "-9", "-1", "0", "1", "9", "10", "18446744073709551615", "18446744073709551616",
                INT192_MAX_STR, INT256_MAX_STR, TEN_77, NINES_78,
        };

        for (size_t i = 0; i < ELEMENTSOF(sorted); i++)
                for (size_t j = 0; j < ELEMENTSOF(sorted); j++) {
                        SdloopInt a = I(sorted[i]), b = I(sorted[j]);
                        int expected = i < j ? -1 : i > j;

                        ck_assert_int_eq(sdloop_decimal_compare(sorted[i], sorted[j]), expected);
                        ck_assert_msg(sdloop_int_compare(&a, &b) == expected, "%s vs %s", sorted[i], sorted[j]);
                }
}
END_TEST

/* --- two's complement ---------------------------------------------------------------------------------- */

START_TEST(test_int192) {
        static const char *const values[] = { "0", "1", "-1", "255", "-256", INT192_MAX_STR, INT192_MIN_STR };
        uint8_t b[SDLOOP_INT192_BYTES];
        char buf[SDLOOP_INT_DECIMAL_MAX];
        SdloopInt v;

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                v = I(values[i]);
                ck_assert_int_eq(sdloop_int_to_int192(&v, b), 0);
                ck_assert_int_eq(sdloop_int_from_int192(b, sizeof(b), &v), 0);
                ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), values[i]);
        }

        /* The encoding itself: big-endian two's complement. */
        v = I("-1");
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), 0);
        for (size_t i = 0; i < sizeof(b); i++)
                ck_assert_uint_eq(b[i], 0xff);
        v = I("258");
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), 0);
        ck_assert_uint_eq(b[0], 0);
        ck_assert_uint_eq(b[21], 0);
        ck_assert_uint_eq(b[22], 1);
        ck_assert_uint_eq(b[23], 2);
        v = I(INT192_MIN_STR);
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), 0);
        ck_assert_uint_eq(b[0], 0x80);
        for (size_t i = 1; i < sizeof(b); i++)
                ck_assert_uint_eq(b[i], 0);
        v = I(INT192_MAX_STR);
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), 0);
        ck_assert_uint_eq(b[0], 0x7f);
        for (size_t i = 1; i < sizeof(b); i++)
                ck_assert_uint_eq(b[i], 0xff);

        /* One past either end does not fit, and nothing is written then. */
        memset(b, 0xaa, sizeof(b));
        v = I(INT192_OVER_STR);
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), -ERANGE);
        v = I(INT192_UNDER_STR);
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), -ERANGE);
        v = I(NINES_78);
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), -ERANGE);
        v = I("-" NINES_78);
        ck_assert_int_eq(sdloop_int_to_int192(&v, b), -ERANGE);
        for (size_t i = 0; i < sizeof(b); i++)
                ck_assert_uint_eq(b[i], 0xaa);

        /* Exactly 24 bytes, as libocr's DecodeValue. */
        ck_assert_int_eq(sdloop_int_from_int192(b, 23, &v), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_int192(b, 25, &v), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_int192(b, 0, &v), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_int192(NULL, 0, &v), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_int192(NULL, SDLOOP_INT192_BYTES, &v), -EINVAL);
}
END_TEST

START_TEST(test_int256) {
        uint8_t b[SDLOOP_INT_BYTES_MAX];
        char buf[SDLOOP_INT_DECIMAL_MAX];
        SdloopInt v;

        v = I(INT256_MIN_STR);
        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, sizeof(b)), 0);
        ck_assert_uint_eq(b[0], 0x80);
        ck_assert_uint_eq(b[31], 0);
        ck_assert_int_eq(sdloop_int_from_twos_complement(b, sizeof(b), &v), 0);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), INT256_MIN_STR);

        v = I(INT256_MAX_STR);
        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, sizeof(b)), 0);
        ck_assert_uint_eq(b[0], 0x7f);
        ck_assert_uint_eq(b[31], 0xff);
        ck_assert_int_eq(sdloop_int_from_twos_complement(b, sizeof(b), &v), 0);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), INT256_MAX_STR);

        v = I(INT256_OVER_STR);
        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, sizeof(b)), -ERANGE);
        v = I(INT256_UNDER_STR);
        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, sizeof(b)), -ERANGE);
        v = I(TEN_77);
        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, sizeof(b)), -ERANGE);

        /* The same value read at two widths: sign extension is the reader's business. */
        memset(b, 0, sizeof(b));
        b[31] = 0xfe;
        ck_assert_int_eq(sdloop_int_from_twos_complement(b + 31, 1, &v), 0);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), "-2");
        ck_assert_int_eq(sdloop_int_from_twos_complement(b, 32, &v), 0);
        ck_assert_str_eq(sdloop_int_to_decimal(&v, buf), "254");
}
END_TEST

START_TEST(test_twos_complement_widths) {
        /* Every width from 1 to 32 bytes, at both of its ends and one past them. */
        for (size_t size = 1; size <= SDLOOP_INT_BYTES_MAX; size++) {
                const __int128 one = 1;
                uint8_t b[SDLOOP_INT_BYTES_MAX];
                SdloopInt max, min, over, under, back;
                char text[SDLOOP_INT_DECIMAL_MAX];

                if (size < 16) {
                        sdloop_int_from_i128((one << (8 * size - 1)) - 1, &max);
                        sdloop_int_from_i128(-(one << (8 * size - 1)), &min);
                        sdloop_int_from_i128(one << (8 * size - 1), &over);
                        sdloop_int_from_i128(-(one << (8 * size - 1)) - 1, &under);
                } else {
                        /* Wider than an int128: build 2^(8 size - 1) limb by limb. */
                        size_t bit = 8 * size - 1;

                        over = (SdloopInt) {};
                        over.mag[bit / 64] = UINT64_C(1) << (bit % 64);
                        under = min = over;
                        min.negative = under.negative = true;
                        max = over;
                        /* max = over - 1, under = -(over + 1) */
                        for (size_t i = 0; i < bit / 64; i++)
                                max.mag[i] = UINT64_MAX;
                        max.mag[bit / 64] = (UINT64_C(1) << (bit % 64)) - 1;
                        under.mag[0] |= 1;
                }

                ck_assert_int_eq(sdloop_int_to_twos_complement(&max, b, size), 0);
                ck_assert_uint_eq(b[0], 0x7f);
                ck_assert_int_eq(sdloop_int_from_twos_complement(b, size, &back), 0);
                ck_assert_msg(sdloop_int_compare(&back, &max) == 0, "max of %zu bytes: %s", size,
                              sdloop_int_to_decimal(&back, text));

                ck_assert_int_eq(sdloop_int_to_twos_complement(&min, b, size), 0);
                ck_assert_uint_eq(b[0], 0x80);
                ck_assert_uint_eq(b[size - 1], size == 1 ? 0x80 : 0);
                ck_assert_int_eq(sdloop_int_from_twos_complement(b, size, &back), 0);
                ck_assert_msg(sdloop_int_compare(&back, &min) == 0, "min of %zu bytes: %s", size,
                              sdloop_int_to_decimal(&back, text));

                ck_assert_int_eq(sdloop_int_to_twos_complement(&over, b, size), -ERANGE);
                ck_assert_int_eq(sdloop_int_to_twos_complement(&under, b, size), -ERANGE);
        }
}
END_TEST

START_TEST(test_twos_complement_sizes) {
        uint8_t b[SDLOOP_INT_BYTES_MAX + 1] = {};
        SdloopInt v = I("0");

        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, 0), -EINVAL);
        ck_assert_int_eq(sdloop_int_to_twos_complement(&v, b, SDLOOP_INT_BYTES_MAX + 1), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_twos_complement(b, 0, &v), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_twos_complement(b, SDLOOP_INT_BYTES_MAX + 1, &v), -EINVAL);
        ck_assert_int_eq(sdloop_int_from_twos_complement(NULL, 1, &v), -EINVAL);

        /* All zeros is zero, never a negative zero. */
        ck_assert_int_eq(sdloop_int_from_twos_complement(b, SDLOOP_INT_BYTES_MAX, &v), 0);
        ck_assert(sdloop_int_is_zero(&v));
        ck_assert(!v.negative);
}
END_TEST

/* --- deviation ---------------------------------------------------------------------------------------- */

START_TEST(test_deviation_boundary) {
        /* libocr: |new - old| / |old| >= alpha. Exactly at alpha deviates. */
        ck_assert(deviates(PPB_PER_PERCENT, "1000", "1010"));
        ck_assert(deviates(PPB_PER_PERCENT, "1000", "990"));
        /* Just below: 0.999 % up, 0.999 % down. */
        ck_assert(!deviates(PPB_PER_PERCENT, "100000", "100999"));
        ck_assert(!deviates(PPB_PER_PERCENT, "100000", "99001"));
        /* Just above. */
        ck_assert(deviates(PPB_PER_PERCENT, "100000", "101001"));
        /* One part per billion at a value of 10^9. */
        ck_assert(deviates(1, "1000000000", "1000000001"));
        ck_assert(!deviates(2, "1000000000", "1000000001"));
}
END_TEST

START_TEST(test_deviation_zero_old) {
        /* Both zero: no deviation; anything else from zero: always. */
        ck_assert(!deviates(0, "0", "0"));
        ck_assert(!deviates(UINT64_MAX, "0", "0"));
        ck_assert(deviates(UINT64_MAX, "0", "1"));
        ck_assert(deviates(UINT64_MAX, "0", "-1"));
        /* To zero from a non-zero value is a change of 100 %. */
        ck_assert(deviates(1000000000, "5", "0"));
        ck_assert(!deviates(1000000001, "5", "0"));
}
END_TEST

START_TEST(test_deviation_zero_threshold) {
        /* A threshold of 0 is met by every change, even none (0 >= 0), as in libocr. */
        ck_assert(deviates(0, "7", "7"));
        ck_assert(deviates(0, "-7", "-7"));
        ck_assert(deviates(0, "7", "8"));
}
END_TEST

START_TEST(test_deviation_negative) {
        ck_assert(deviates(PPB_PER_PERCENT, "-1000", "-1010"));
        ck_assert(deviates(PPB_PER_PERCENT, "-1000", "-990"));
        ck_assert(!deviates(PPB_PER_PERCENT, "-100000", "-100999"));
        ck_assert(!deviates(PPB_PER_PERCENT, "-100000", "-99001"));
        /* Across zero: -1000 → 1000 is a change of 200 %. */
        ck_assert(deviates(2000000000, "-1000", "1000"));
        ck_assert(!deviates(2000000001, "-1000", "1000"));
        ck_assert(deviates(2000000000, "1000", "-1000"));
        ck_assert(!deviates(2000000001, "1000", "-1000"));
}
END_TEST

START_TEST(test_deviation_wide) {
        /* No overflow at the widest values and thresholds. */
        ck_assert(deviates(UINT64_MAX, "1", NINES_78));
        ck_assert(!deviates(UINT64_MAX, NINES_78, "-" NINES_78));
        ck_assert(deviates(2000000000, NINES_78, "-" NINES_78));
        ck_assert(!deviates(2000000001, NINES_78, "-" NINES_78));
        ck_assert(deviates(1, INT192_MAX_STR, INT192_MIN_STR));
        ck_assert(!deviates(1, NINES_78, "99999999999999999999999999999999999999999999999999999999999999999999999999999"
                                          "8"));
        /* One unit at 10^77 is 10^-77 relative: below any non-zero threshold, met by 0. */
        ck_assert(!deviates(1, TEN_77, "99999999999999999999999999999999999999999999999999999999999999999999999999999"));
        ck_assert(deviates(0, TEN_77, "99999999999999999999999999999999999999999999999999999999999999999999999999999"));
}
END_TEST

static Suite *int_suite(void) {
        Suite *s = suite_create("int");
        TCase *tc;

        tc = tcase_create("decimal");
        tcase_add_test(tc, test_decimal_round_trip);
        tcase_add_test(tc, test_decimal_malformed);
        tcase_add_test(tc, test_from_i128);
        tcase_add_test(tc, test_compare);
        suite_add_tcase(s, tc);

        tc = tcase_create("twos-complement");
        tcase_add_test(tc, test_int192);
        tcase_add_test(tc, test_int256);
        tcase_add_test(tc, test_twos_complement_widths);
        tcase_add_test(tc, test_twos_complement_sizes);
        suite_add_tcase(s, tc);

        tc = tcase_create("deviation");
        tcase_add_test(tc, test_deviation_boundary);
        tcase_add_test(tc, test_deviation_zero_old);
        tcase_add_test(tc, test_deviation_zero_threshold);
        tcase_add_test(tc, test_deviation_negative);
        tcase_add_test(tc, test_deviation_wide);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(int_suite());
        int n_failed;

        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
