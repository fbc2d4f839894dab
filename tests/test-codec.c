/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The codecs of sdloop-codec.h: every type through a real, sealed sd_bus_message and back, and every
 * validation rule of the wire contract (DESIGN.md §3). */

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

#define NINES_78 "999999999999999999999999999999999999999999999999999999999999999999999999999999"
#define NINES_77 "99999999999999999999999999999999999999999999999999999999999999999999999999999"
#define INT128_MAX_STR "170141183460469231731687303715884105727"
#define INT128_MIN_STR "-170141183460469231731687303715884105728"
#define UUID "3fa85f64-5717-4562-b3fc-2c963f66afa6"

static sd_bus *bus;

/* Messages need an open bus to be created; a started bus on one end of a socketpair is enough, no
 * peer has to answer because nothing is sent. */
static void bus_setup(void) {
        int fds[2], r;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sd_bus_new(&bus), 0);
        ck_assert_int_ge(sd_bus_set_fd(bus, fds[0], fds[0]), 0);
        r = sd_bus_start(bus);
        ck_assert_int_ge(r, 0);
        (void) close(fds[1]);
}

static void bus_teardown(void) {
        bus = sd_bus_flush_close_unref(bus);
}

static sd_bus_message *message_new(void) {
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, NULL, "/org/sdloop1/test", "org.sdloop1.Test", "Codec"), 0);
        return m;
}

/* Turn a message being built into one being read, as a receiver would see it. */
static void message_seal(sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
        ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
}

static void bus_message_unrefp(sd_bus_message **m) {
        sd_bus_message_unref(*m);
}
#define _cleanup_message_ _cleanup_(bus_message_unrefp)

#define assert_invalid(r, e, prefix)                                                            \
        do {                                                                                    \
                ck_assert_int_eq((r), -EINVAL);                                                 \
                ck_assert(sd_bus_error_is_set(e));                                              \
                ck_assert_str_eq((e)->name, SDLOOP_ERROR_INVALID_ARGUMENT);                     \
                ck_assert_msg(strncmp((e)->message, (prefix), strlen(prefix)) == 0,             \
                              "message \"%s\" does not start with \"%s\"", (e)->message, (prefix)); \
        } while (0)

static void assert_report_timestamp_eq(const SdloopReportTimestamp *a, const SdloopReportTimestamp *b) {
        ck_assert_mem_eq(a->digest, b->digest, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(a->epoch, b->epoch);
        ck_assert_uint_eq(a->round, b->round);
}

static void assert_report_context_eq(const SdloopReportContext *a, const SdloopReportContext *b) {
        assert_report_timestamp_eq(&a->timestamp, &b->timestamp);
        ck_assert_mem_eq(a->extra_hash, b->extra_hash, SDLOOP_DIGEST_SIZE);
}

static bool all_zero(const void *p, size_t n) {
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i] != 0)
                        return false;
        return true;
}

static void fill(uint8_t *p, size_t n, uint8_t seed) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (seed + i);
}

/* --- decimals, UUIDs, JSON ---------------------------------------------------------------------------- */

START_TEST(test_decimal_is_valid) {
        static const char *const good[] = {
                "0", "1", "-1", "9", "10", "123", "-123", NINES_78, "-" NINES_78,
        };
        static const char *const bad[] = {
                "", "-", "-0", "007", "00", "-01", "1.5", "12a", NINES_78 "9", " 1", "1 ", "+1", "--1",
                "1e3", "0x10", "-" NINES_78 "9",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_msg(sdloop_decimal_is_valid(good[i]), "\"%s\" should be valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!sdloop_decimal_is_valid(bad[i]), "\"%s\" should be invalid", bad[i]);
        ck_assert(!sdloop_decimal_is_valid(NULL));
        ck_assert_uint_eq(strlen(NINES_78), SDLOOP_DECIMAL_DIGITS_MAX);
}
END_TEST

START_TEST(test_decimal_i128) {
        static const char *const round_trip[] = {
                "0", "1", "-1", "42", "-1042", "18446744073709551616", INT128_MAX_STR, INT128_MIN_STR,
        };
        char buf[41];
        __int128 v;

        for (size_t i = 0; i < ELEMENTSOF(round_trip); i++) {
                ck_assert_int_eq(sdloop_decimal_to_i128(round_trip[i], &v), 0);
                ck_assert_str_eq(sdloop_decimal_from_i128(v, buf), round_trip[i]);
        }

        ck_assert_int_eq(sdloop_decimal_to_i128("-1042", &v), 0);
        ck_assert(v == -1042);
        ck_assert_int_eq(sdloop_decimal_to_i128(INT128_MAX_STR, &v), 0);
        ck_assert(v == (__int128) (((unsigned __int128) 1 << 127) - 1));
        ck_assert_int_eq(sdloop_decimal_to_i128(INT128_MIN_STR, &v), 0);
        ck_assert(v == -(__int128) (((unsigned __int128) 1 << 127) - 1) - 1);
        ck_assert_uint_eq(strlen(sdloop_decimal_from_i128(v, buf)) + 1, sizeof(buf));

        /* One past either end, and far past. */
        ck_assert_int_eq(sdloop_decimal_to_i128("170141183460469231731687303715884105728", &v), -ERANGE);
        ck_assert_int_eq(sdloop_decimal_to_i128("-170141183460469231731687303715884105729", &v), -ERANGE);
        ck_assert_int_eq(sdloop_decimal_to_i128("1701411834604692317316873037158841057270", &v), -ERANGE);
        ck_assert_int_eq(sdloop_decimal_to_i128(NINES_78, &v), -ERANGE);
        ck_assert_int_eq(sdloop_decimal_to_i128("-" NINES_78, &v), -ERANGE);

        ck_assert_int_eq(sdloop_decimal_to_i128("", &v), -EINVAL);
        ck_assert_int_eq(sdloop_decimal_to_i128("-0", &v), -EINVAL);
        ck_assert_int_eq(sdloop_decimal_to_i128("12a", &v), -EINVAL);
        ck_assert_int_eq(sdloop_decimal_to_i128(NULL, &v), -EINVAL);
}
END_TEST

START_TEST(test_decimal_compare) {
        static const struct {
                const char *a, *b;
                int expected;
        } table[] = {
                { "0",      "0",      0 },
                { "-1",     "0",     -1 },
                { "0",      "-1",     1 },
                { "1",      "-1",     1 },
                { "10",     "9",      1 },
                { "9",      "10",    -1 },
                { "-10",    "-9",    -1 },
                { "-9",     "-10",    1 },
                { "123",    "124",   -1 },
                { "-123",   "-124",   1 },
                { "-5",     "-5",     0 },
                { NINES_78, NINES_78, 0 },
                { NINES_78, NINES_77, 1 },
                { NINES_77, NINES_78, -1 },
                { "-" NINES_78, "-" NINES_77, -1 },
                { "-" NINES_78, NINES_78, -1 },
                { INT128_MAX_STR "0", INT128_MAX_STR, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ck_assert_msg(sdloop_decimal_compare(table[i].a, table[i].b) == table[i].expected,
                              "compare(%s, %s) should be %d", table[i].a, table[i].b, table[i].expected);
}
END_TEST

START_TEST(test_uuid_is_valid) {
        ck_assert(sdloop_uuid_is_valid(UUID));
        ck_assert(sdloop_uuid_is_valid("3FA85F64-5717-4562-B3FC-2C963F66AFA6"));
        ck_assert(sdloop_uuid_is_valid("3Fa85f64-5717-4562-b3Fc-2c963f66afA6"));
        ck_assert(sdloop_uuid_is_valid("00000000-0000-0000-0000-000000000000"));

        ck_assert(!sdloop_uuid_is_valid(NULL));
        ck_assert(!sdloop_uuid_is_valid(""));
        ck_assert(!sdloop_uuid_is_valid("3fa85f64-5717-4562-b3fc-2c963f66afa"));
        ck_assert(!sdloop_uuid_is_valid("3fa85f64-5717-4562-b3fc-2c963f66afa66"));
        ck_assert(!sdloop_uuid_is_valid("3fa85f6405717-4562-b3fc-2c963f66afa6"));
        ck_assert(!sdloop_uuid_is_valid("3fa85f64-5717-4562-b3fc_2c963f66afa6"));
        ck_assert(!sdloop_uuid_is_valid("3fa85f64-5717-4562-b3fc-2c963f66afg6"));
        ck_assert(!sdloop_uuid_is_valid("3fa85f6-45717-4562-b3fc-2c963f66afa6"));
        ck_assert(!sdloop_uuid_is_valid("3fa85f645717-4562-b3fc-2c963f66afa6-"));
        ck_assert(!sdloop_uuid_is_valid("{3fa85f64-5717-4562-b3fc-2c963f66afa}"));
}
END_TEST

START_TEST(test_json_is_valid) {
        static const char *const good[] = {
                "{}", "[]", "1", "-1.5", "true", "null", "\"s\"", " {} ", "{}\n", "{\"a\":[1,2,{\"b\":null}]}",
        };
        static const char *const bad[] = {
                "{", "{}x", "{} {}", " ", "\n", "[1,]", "{\"a\":1,}", "'a'", "tru", "1 2", "{a:1}", "]",
        };
        const char *reason;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                reason = NULL;
                ck_assert_msg(sdloop_json_is_valid(good[i], &reason), "'%s' should be valid JSON", good[i]);
                ck_assert_ptr_null(reason);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                reason = NULL;
                ck_assert_msg(!sdloop_json_is_valid(bad[i], &reason), "'%s' should be invalid JSON", bad[i]);
                ck_assert_ptr_nonnull(reason);
                ck_assert_msg(!isempty(reason), "no reason for '%s'", bad[i]);
        }

        reason = NULL;
        ck_assert(!sdloop_json_is_valid("", &reason));
        ck_assert_str_eq(reason, "empty");
        ck_assert(!sdloop_json_is_valid(NULL, NULL));
        ck_assert(!sdloop_json_is_valid("{", NULL));
        ck_assert(sdloop_json_is_valid("{}", NULL));
}
END_TEST

/* --- scalar readers ----------------------------------------------------------------------------------- */

START_TEST(test_read_decimal) {
        static const char *const good[] = { "0", "-1", NINES_78, "-" NINES_78 };
        static const char *const bad[] = { "", "-", "-0", "007", "1.5", "12a", NINES_78 "9", " 1" };
        _cleanup_message_ sd_bus_message *m = message_new();
        char *s;

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ck_assert_int_ge(sd_bus_message_append(m, "s", good[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_int_ge(sd_bus_message_append(m, "s", bad[i]), 0);
        message_seal(m);

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ck_assert_int_eq(sdloop_read_decimal(m, "value", &s, NULL), 0);
                ck_assert_str_eq(s, good[i]);
                free(s);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                s = (char *) "garbage";
                assert_invalid(sdloop_read_decimal(m, "value", &s, &e), &e, "value: malformed decimal");
                ck_assert_ptr_null(s);
                if (streq(bad[i], "12a"))
                        ck_assert_str_eq(e.message, "value: malformed decimal \"12a\"");
        }
}
END_TEST

START_TEST(test_read_digest) {
        _cleanup_message_ sd_bus_message *m = message_new();
        uint8_t in[SDLOOP_DIGEST_SIZE + 1], out[SDLOOP_DIGEST_SIZE];
        static const struct {
                size_t size;
                const char *message;
        } bad[] = {
                { 31, "digest: expected 32 bytes, got 31" },
                { 33, "digest: expected 32 bytes, got 33" },
                { 0,  "digest: expected 32 bytes, got 0" },
        };

        fill(in, sizeof(in), 7);
        ck_assert_int_ge(sdloop_append_digest(m, in), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_int_ge(sdloop_append_bytes(m, bad[i].size > 0 ? in : NULL, bad[i].size), 0);
        message_seal(m);

        ck_assert_int_eq(sdloop_read_digest(m, "digest", out, NULL), 0);
        ck_assert_mem_eq(out, in, SDLOOP_DIGEST_SIZE);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                memset(out, 0xff, sizeof(out));
                assert_invalid(sdloop_read_digest(m, "digest", out, &e), &e, "digest: ");
                ck_assert_str_eq(e.message, bad[i].message);
                ck_assert(all_zero(out, sizeof(out)));
        }
}
END_TEST

START_TEST(test_bytes) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = message_new();
        SdloopBytes a, b, c, d;
        uint8_t in[100];

        fill(in, sizeof(in), 1);
        ck_assert_int_ge(sdloop_append_bytes(m, in, sizeof(in)), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, NULL, 0), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, in, 4), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, in, 5), 0);
        message_seal(m);

        ck_assert_int_eq(sdloop_read_bytes(m, "report", 0, &a, NULL), 0);
        ck_assert_int_eq(sdloop_read_bytes(m, "report", 0, &b, NULL), 0);
        ck_assert_int_eq(sdloop_read_bytes(m, "report", 4, &c, NULL), 0);
        d = (SdloopBytes) { .data = (uint8_t *) in, .size = 1 };
        assert_invalid(sdloop_read_bytes(m, "report", 4, &d, &e), &e, "report: ");
        ck_assert_str_eq(e.message, "report: expected at most 4 bytes, got 5");
        ck_assert_ptr_null(d.data);
        ck_assert_uint_eq(d.size, 0);

        /* Readers copy: the results outlive the message. */
        sd_bus_message_unref(m);

        ck_assert_uint_eq(a.size, sizeof(in));
        ck_assert_mem_eq(a.data, in, sizeof(in));
        ck_assert_uint_eq(b.size, 0);
        ck_assert_uint_eq(c.size, 4);
        ck_assert_mem_eq(c.data, in, 4);

        /* Copying replaces what was there. */
        ck_assert_int_eq(sdloop_bytes_copy(&a, in + 10, 3), 0);
        ck_assert_uint_eq(a.size, 3);
        ck_assert_mem_eq(a.data, in + 10, 3);
        ck_assert_int_eq(sdloop_bytes_copy(&a, a.data + 1, 2), 0);
        ck_assert_uint_eq(a.size, 2);
        ck_assert_mem_eq(a.data, in + 11, 2);
        ck_assert_int_eq(sdloop_bytes_copy(&a, NULL, 0), 0);
        ck_assert_ptr_null(a.data);
        ck_assert_uint_eq(a.size, 0);

        sdloop_bytes_done(&a);
        sdloop_bytes_done(&b);
        sdloop_bytes_done(&c);
        ck_assert_ptr_null(c.data);
        ck_assert_uint_eq(c.size, 0);
        sdloop_bytes_done(NULL);
}
END_TEST

/* --- ReportTimestamp, ReportContext ------------------------------------------------------------------- */

START_TEST(test_report_timestamp) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = message_new();
        SdloopReportTimestamp in = { .epoch = 0xdeadbeef, .round = 255 }, out;
        uint8_t bad[31] = {};

        fill(in.digest, sizeof(in.digest), 3);
        ck_assert_int_ge(sdloop_append_report_timestamp(m, &in), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "(ayuy)", 0, 1, 2), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "ayuy"), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, bad, sizeof(bad)), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "uy", 1, 2), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        message_seal(m);

        ck_assert_int_eq(sdloop_read_report_timestamp(m, "report_timestamp", &out, NULL), 0);
        assert_report_timestamp_eq(&out, &in);

        assert_invalid(sdloop_read_report_timestamp(m, "report_timestamp", &out, &e), &e, "report_timestamp.digest: ");
        ck_assert_str_eq(e.message, "report_timestamp.digest: expected 32 bytes, got 0");
        ck_assert(all_zero(&out, sizeof(out)));
        sd_bus_message_unref(m);

        /* A fresh message for the second failure: the first one left the read position inside a struct. */
        m = message_new();
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "ayuy"), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, bad, sizeof(bad)), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "uy", 1, 2), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        message_seal(m);
        sd_bus_error_free(&e);
        assert_invalid(sdloop_read_report_timestamp(m, "ts", &out, &e), &e, "ts.digest: ");
        ck_assert_str_eq(e.message, "ts.digest: expected 32 bytes, got 31");
        sd_bus_message_unref(m);
}
END_TEST

START_TEST(test_report_context) {
        SdloopReportContext in = { .timestamp = { .epoch = 7, .round = 3 } }, out;
        sd_bus_message *m = message_new();

        fill(in.timestamp.digest, SDLOOP_DIGEST_SIZE, 10);
        fill(in.extra_hash, SDLOOP_DIGEST_SIZE, 200);
        ck_assert_int_ge(sdloop_append_report_context(m, &in), 0);
        ck_assert_int_ge(sdloop_append_report_context(m, &in), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "((ayuy)ay)((ayuy)ay)");

        ck_assert_int_eq(sdloop_read_report_context(m, "report_context", &out, NULL), 0);
        assert_report_context_eq(&out, &in);
        ck_assert_int_eq(sdloop_read_report_context(m, "report_context", &out, NULL), 0);
        assert_report_context_eq(&out, &in);
        sd_bus_message_unref(m);
}
END_TEST

/* Build a ReportContext whose timestamp digest and extra hash have the given sizes. */
static sd_bus_message *report_context_message(size_t digest_size, size_t extra_hash_size) {
        sd_bus_message *m = message_new();
        uint8_t b[64];

        fill(b, sizeof(b), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "(ayuy)ay"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "ayuy"), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, b, digest_size), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "uy", 1, 1), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, b, extra_hash_size), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        message_seal(m);
        return m;
}

START_TEST(test_report_context_invalid) {
        static const struct {
                size_t digest_size, extra_hash_size;
                const char *message;
        } table[] = {
                { 32, 31, "report_context.extra_hash: expected 32 bytes, got 31" },
                { 32, 33, "report_context.extra_hash: expected 32 bytes, got 33" },
                { 32, 0,  "report_context.extra_hash: expected 32 bytes, got 0" },
                { 31, 32, "report_context.timestamp.digest: expected 32 bytes, got 31" },
                { 33, 32, "report_context.timestamp.digest: expected 32 bytes, got 33" },
                { 0,  32, "report_context.timestamp.digest: expected 32 bytes, got 0" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = report_context_message(table[i].digest_size, table[i].extra_hash_size);
                SdloopReportContext out;

                memset(&out, 0xaa, sizeof(out));
                assert_invalid(sdloop_read_report_context(m, "report_context", &out, &e), &e, "report_context.");
                ck_assert_str_eq(e.message, table[i].message);
                ck_assert(all_zero(&out, sizeof(out)));
        }
}
END_TEST

/* --- ContractConfig ----------------------------------------------------------------------------------- */

static void contract_config_fixture(SdloopContractConfig *c, size_t n_signers, size_t n_transmitters, uint8_t f) {
        static char *transmitters[] = { (char *) "0xa", (char *) "0xb", (char *) "0xc", (char *) "0xd",
                                        (char *) "0xe", NULL };
        static uint8_t keys[5][20];
        static SdloopBytes signers[5];
        static uint8_t onchain[] = { 1, 2, 3 }, offchain[] = { 9, 8, 7, 6 };

        ck_assert_uint_le(n_signers, 5);
        ck_assert_uint_le(n_transmitters, 5);

        for (size_t i = 0; i < 5; i++) {
                fill(keys[i], sizeof(keys[i]), (uint8_t) (i * 20));
                signers[i] = (SdloopBytes) { .data = keys[i], .size = sizeof(keys[i]) };
        }

        *c = (SdloopContractConfig) {
                .config_count = UINT64_MAX,
                .signers = signers,
                .n_signers = n_signers,
                .transmitters = transmitters + (5 - n_transmitters),
                .f = f,
                .onchain_config = { .data = onchain, .size = sizeof(onchain) },
                .offchain_config_version = 2,
                .offchain_config = { .data = offchain, .size = sizeof(offchain) },
        };
        fill(c->digest, SDLOOP_DIGEST_SIZE, 42);
}

static void assert_bytes_eq(const SdloopBytes *a, const SdloopBytes *b) {
        ck_assert_uint_eq(a->size, b->size);
        if (a->size > 0)
                ck_assert_mem_eq(a->data, b->data, a->size);
}

START_TEST(test_contract_config) {
        SdloopContractConfig in, empty, out, out_empty;
        sd_bus_message *m = message_new();

        contract_config_fixture(&in, 4, 4, 1);
        contract_config_fixture(&empty, 0, 0, 0);
        empty.transmitters = NULL; /* sd-bus takes NULL for an empty list */
        empty.onchain_config = (SdloopBytes) {};

        ck_assert_int_ge(sdloop_append_contract_config(m, &in), 0);
        ck_assert_int_ge(sdloop_append_contract_config(m, &empty), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "(aytaayasyaytay)(aytaayasyaytay)");

        ck_assert_int_eq(sdloop_read_contract_config(m, "contract_config", &out, NULL), 0);
        ck_assert_int_eq(sdloop_read_contract_config(m, "contract_config", &out_empty, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_mem_eq(out.digest, in.digest, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(out.config_count, UINT64_MAX);
        ck_assert_uint_eq(out.n_signers, 4);
        for (size_t i = 0; i < 4; i++)
                assert_bytes_eq(&out.signers[i], &in.signers[i]);
        ck_assert_uint_eq(strv_length(out.transmitters), 4);
        for (size_t i = 0; i < 4; i++)
                ck_assert_str_eq(out.transmitters[i], in.transmitters[i]);
        ck_assert_uint_eq(out.f, 1);
        assert_bytes_eq(&out.onchain_config, &in.onchain_config);
        ck_assert_uint_eq(out.offchain_config_version, 2);
        assert_bytes_eq(&out.offchain_config, &in.offchain_config);

        ck_assert_uint_eq(out_empty.n_signers, 0);
        ck_assert_ptr_nonnull(out_empty.transmitters);
        ck_assert_ptr_null(out_empty.transmitters[0]);
        ck_assert_uint_eq(out_empty.onchain_config.size, 0);

        sdloop_contract_config_done(&out);
        sdloop_contract_config_done(&out_empty);
        ck_assert_ptr_null(out.signers);
        ck_assert_ptr_null(out.transmitters);
        sdloop_contract_config_done(NULL);
}
END_TEST

START_TEST(test_contract_config_invalid) {
        static const struct {
                size_t n_signers, n_transmitters;
                uint8_t f;
                size_t digest_size;
                const char *message;
        } table[] = {
                { 4, 3, 1, 32, "contract_config.transmitters: " },
                { 3, 4, 0, 32, "contract_config.transmitters: " },
                { 0, 1, 0, 32, "contract_config.transmitters: " },
                { 3, 3, 1, 32, "contract_config.f: 3f must be less than the number of oracles" },
                { 1, 1, 1, 32, "contract_config.f: 3f must be less than the number of oracles" },
                { 5, 5, 2, 32, "contract_config.f: 3f must be less than the number of oracles" },
                { 4, 4, 1, 31, "contract_config.digest: expected 32 bytes, got 31" },
                { 4, 4, 1, 33, "contract_config.digest: expected 32 bytes, got 33" },
                { 4, 4, 1, 0,  "contract_config.digest: expected 32 bytes, got 0" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopContractConfig in, out;
                uint8_t digest[33] = {};

                contract_config_fixture(&in, table[i].n_signers, table[i].n_transmitters, table[i].f);

                /* Spell the struct out by hand, so that the digest can have any length. */
                ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "aytaayasyaytay"), 0);
                ck_assert_int_ge(sdloop_append_bytes(m, digest, table[i].digest_size), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "t", in.config_count), 0);
                ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "ay"), 0);
                for (size_t j = 0; j < in.n_signers; j++)
                        ck_assert_int_ge(sdloop_append_bytes(m, in.signers[j].data, in.signers[j].size), 0);
                ck_assert_int_ge(sd_bus_message_close_container(m), 0);
                ck_assert_int_ge(sd_bus_message_append_strv(m, in.transmitters), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "y", in.f), 0);
                ck_assert_int_ge(sdloop_append_bytes(m, NULL, 0), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "t", in.offchain_config_version), 0);
                ck_assert_int_ge(sdloop_append_bytes(m, NULL, 0), 0);
                ck_assert_int_ge(sd_bus_message_close_container(m), 0);
                message_seal(m);

                memset(&out, 0xaa, sizeof(out));
                assert_invalid(sdloop_read_contract_config(m, "contract_config", &out, &e), &e, table[i].message);
                ck_assert(all_zero(&out, sizeof(out)));
        }
}
END_TEST

START_TEST(test_contract_config_f_limits) {
        /* The largest f allowed for n signers, and f without signers (nothing to check against). */
        static const struct {
                size_t n;
                uint8_t f;
        } table[] = { { 1, 0 }, { 3, 0 }, { 4, 1 }, { 5, 1 }, { 0, 0 }, { 0, 200 } };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopContractConfig in, out;

                contract_config_fixture(&in, table[i].n, table[i].n, table[i].f);
                ck_assert_int_ge(sdloop_append_contract_config(m, &in), 0);
                message_seal(m);
                ck_assert_int_eq(sdloop_read_contract_config(m, "contract_config", &out, NULL), 0);
                ck_assert_uint_eq(out.f, table[i].f);
                sdloop_contract_config_done(&out);
        }
}
END_TEST

/* One element past each array's bound is refused, naming the array, before it is copied. */
static void append_contract_config_of(sd_bus_message *m, size_t n_signers, size_t n_transmitters) {
        static const uint8_t key[20] = {}, digest[SDLOOP_DIGEST_SIZE] = {};

        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "aytaayasyaytay"), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, digest, sizeof(digest)), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "t", (uint64_t) 1), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "ay"), 0);
        for (size_t j = 0; j < n_signers; j++)
                ck_assert_int_ge(sdloop_append_bytes(m, key, sizeof(key)), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "s"), 0);
        for (size_t j = 0; j < n_transmitters; j++)
                ck_assert_int_ge(sd_bus_message_append(m, "s", "0xa"), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "y", 1), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, NULL, 0), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "t", (uint64_t) 2), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, NULL, 0), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
}

START_TEST(test_array_bounds) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        SdloopContractConfig out;
        SdloopParsedObservation *obs = NULL;
        SdloopNodeStatus *nodes = NULL;
        size_t n = 0;

        {
                /* 31 oracles are fine. */
                _cleanup_message_ sd_bus_message *m = message_new();

                append_contract_config_of(m, SDLOOP_ORACLES_MAX, SDLOOP_ORACLES_MAX);
                message_seal(m);
                ck_assert_int_eq(sdloop_read_contract_config(m, "contract_config", &out, NULL), 0);
                ck_assert_uint_eq(out.n_signers, SDLOOP_ORACLES_MAX);
                ck_assert_uint_eq(strv_length(out.transmitters), SDLOOP_ORACLES_MAX);
                sdloop_contract_config_done(&out);
        }
        {
                _cleanup_message_ sd_bus_message *m = message_new();

                append_contract_config_of(m, SDLOOP_ORACLES_MAX + 1, SDLOOP_ORACLES_MAX + 1);
                message_seal(m);
                assert_invalid(sdloop_read_contract_config(m, "contract_config", &out, &e), &e,
                               "contract_config.signers: expected at most 31 entries");
                sd_bus_error_free(&e);
        }
        {
                _cleanup_message_ sd_bus_message *m = message_new();

                append_contract_config_of(m, SDLOOP_ORACLES_MAX, SDLOOP_ORACLES_MAX + 1);
                message_seal(m);
                assert_invalid(sdloop_read_contract_config(m, "contract_config", &out, &e), &e,
                               "contract_config.transmitters: expected at most 31 entries");
                sd_bus_error_free(&e);
        }
        {
                _cleanup_message_ sd_bus_message *m = message_new();

                ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "(ussy)"), 0);
                for (size_t i = 0; i < SDLOOP_ORACLES_MAX + 1; i++)
                        ck_assert_int_ge(sd_bus_message_append(m, "(ussy)", 1, "1", "1", (uint8_t) i), 0);
                ck_assert_int_ge(sd_bus_message_close_container(m), 0);
                message_seal(m);
                assert_invalid(sdloop_read_parsed_observations(m, "observations", &obs, &n, &e), &e,
                               "observations: expected at most 31 entries");
                ck_assert_ptr_null(obs);
                sd_bus_error_free(&e);
        }
        {
                _cleanup_message_ sd_bus_message *m = message_new();

                ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "(ssss)"), 0);
                for (size_t i = 0; i < SDLOOP_ARRAY_ELEMENTS_MAX + 1; i++)
                        ck_assert_int_ge(sd_bus_message_append(m, "(ssss)", "c", "n", "", "s"), 0);
                ck_assert_int_ge(sd_bus_message_close_container(m), 0);
                message_seal(m);
                assert_invalid(sdloop_read_node_statuses(m, "nodes", &nodes, &n, &e), &e,
                               "nodes: expected at most 4096 entries");
                ck_assert_ptr_null(nodes);
        }
}
END_TEST

/* --- RelayArgs, PluginArgs ---------------------------------------------------------------------------- */

START_TEST(test_relay_args) {
        SdloopRelayArgs in = {
                .external_job_id = (char *) UUID,
                .job_id = -5,
                .contract_id = (char *) "0xcontract",
                .new = true,
                .relay_config = (char *) "{\"chainID\":\"1\"}",
                .provider_type = (char *) "median",
        }, out;
        sd_bus_message *m = message_new();

        ck_assert_int_ge(sdloop_append_relay_args(m, &in), 0);
        in.new = false;
        in.contract_id = NULL; /* appended as "" */
        ck_assert_int_ge(sdloop_append_relay_args(m, &in), 0);
        message_seal(m);

        ck_assert_int_eq(sdloop_read_relay_args(m, "relay_args", &out, NULL), 0);
        ck_assert_str_eq(out.external_job_id, UUID);
        ck_assert_int_eq(out.job_id, -5);
        ck_assert_str_eq(out.contract_id, "0xcontract");
        ck_assert(out.new);
        ck_assert_str_eq(out.relay_config, "{\"chainID\":\"1\"}");
        ck_assert_str_eq(out.provider_type, "median");
        sdloop_relay_args_done(&out);
        ck_assert_ptr_null(out.external_job_id);

        ck_assert_int_eq(sdloop_read_relay_args(m, "relay_args", &out, NULL), 0);
        sd_bus_message_unref(m);
        ck_assert(!out.new);
        ck_assert_str_eq(out.contract_id, "");
        ck_assert_str_eq(out.provider_type, "median");
        sdloop_relay_args_done(&out);
        sdloop_relay_args_done(NULL);
}
END_TEST

START_TEST(test_relay_args_invalid) {
        static const struct {
                const char *uuid, *json, *message;
        } table[] = {
                { "not-a-uuid", "{}", "relay_args.external_job_id: malformed UUID \"not-a-uuid\"" },
                { "", "{}", "relay_args.external_job_id: malformed UUID \"\"" },
                { UUID "0", "{}", "relay_args.external_job_id: malformed UUID" },
                { UUID, "{", "relay_args.relay_config: invalid JSON: " },
                { UUID, "", "relay_args.relay_config: invalid JSON: empty" },
                { UUID, "{}x", "relay_args.relay_config: invalid JSON: " },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopRelayArgs in = {
                        .external_job_id = (char *) table[i].uuid,
                        .relay_config = (char *) table[i].json,
                        .provider_type = (char *) "median",
                }, out;

                ck_assert_int_ge(sdloop_append_relay_args(m, &in), 0);
                message_seal(m);

                memset(&out, 0xaa, sizeof(out));
                assert_invalid(sdloop_read_relay_args(m, "relay_args", &out, &e), &e, table[i].message);
                ck_assert(all_zero(&out, sizeof(out)));
        }
}
END_TEST

START_TEST(test_plugin_args) {
        SdloopPluginArgs in = { .transmitter_id = (char *) "0xtransmitter", .plugin_config = (char *) "[1, 2]" }, out;
        sd_bus_message *m = message_new();

        ck_assert_int_ge(sdloop_append_plugin_args(m, &in), 0);
        message_seal(m);
        ck_assert_int_eq(sdloop_read_plugin_args(m, "plugin_args", &out, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_str_eq(out.transmitter_id, "0xtransmitter");
        ck_assert_str_eq(out.plugin_config, "[1, 2]");
        sdloop_plugin_args_done(&out);
        ck_assert_ptr_null(out.plugin_config);
        sdloop_plugin_args_done(NULL);
}
END_TEST

START_TEST(test_plugin_args_invalid) {
        static const char *const bad[] = { "{", "", "{}x" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopPluginArgs in = { .transmitter_id = (char *) "t", .plugin_config = (char *) bad[i] }, out;

                ck_assert_int_ge(sdloop_append_plugin_args(m, &in), 0);
                message_seal(m);

                memset(&out, 0xaa, sizeof(out));
                assert_invalid(sdloop_read_plugin_args(m, "plugin_args", &out, &e), &e,
                               "plugin_args.plugin_config: invalid JSON: ");
                ck_assert(all_zero(&out, sizeof(out)));
        }
}
END_TEST

/* --- ReportingPluginConfig, ReportingPluginInfo ------------------------------------------------------- */

static SdloopReportingPluginConfig reporting_plugin_config_fixture(uint8_t oracle_id, uint32_t n, uint32_t f) {
        static uint8_t onchain[] = { 1 }, offchain[] = { 2, 3 };
        SdloopReportingPluginConfig c = {
                .oracle_id = oracle_id,
                .n = n,
                .f = f,
                .onchain_config = { .data = onchain, .size = sizeof(onchain) },
                .offchain_config = { .data = offchain, .size = sizeof(offchain) },
                .estimated_round_interval_usec = 1,
                .max_duration_query_usec = 2,
                .max_duration_observation_usec = 3,
                .max_duration_report_usec = 4,
                .max_duration_should_accept_usec = 5,
                .max_duration_should_transmit_usec = UINT64_MAX,
        };

        fill(c.digest, SDLOOP_DIGEST_SIZE, 99);
        return c;
}

START_TEST(test_reporting_plugin_config) {
        /* 3f < n is not required here, only f < n and oracle_id < n. */
        static const struct {
                uint8_t oracle_id;
                uint32_t n, f;
        } table[] = { { 0, 1, 0 }, { 3, 4, 1 }, { 1, 4, 2 }, { 3, 4, 3 }, { 255, 256, 255 }, { 0, UINT32_MAX, 7 } };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                SdloopReportingPluginConfig in = reporting_plugin_config_fixture(table[i].oracle_id, table[i].n, table[i].f), out;
                sd_bus_message *m = message_new();

                ck_assert_int_ge(sdloop_append_reporting_plugin_config(m, &in), 0);
                message_seal(m);
                ck_assert_str_eq(sd_bus_message_get_signature(m, true), "(ayyuuayaytttttt)");
                ck_assert_int_eq(sdloop_read_reporting_plugin_config(m, "config", &out, NULL), 0);
                sd_bus_message_unref(m);

                ck_assert_mem_eq(out.digest, in.digest, SDLOOP_DIGEST_SIZE);
                ck_assert_uint_eq(out.oracle_id, table[i].oracle_id);
                ck_assert_uint_eq(out.n, table[i].n);
                ck_assert_uint_eq(out.f, table[i].f);
                assert_bytes_eq(&out.onchain_config, &in.onchain_config);
                assert_bytes_eq(&out.offchain_config, &in.offchain_config);
                ck_assert_uint_eq(out.estimated_round_interval_usec, 1);
                ck_assert_uint_eq(out.max_duration_query_usec, 2);
                ck_assert_uint_eq(out.max_duration_observation_usec, 3);
                ck_assert_uint_eq(out.max_duration_report_usec, 4);
                ck_assert_uint_eq(out.max_duration_should_accept_usec, 5);
                ck_assert_uint_eq(out.max_duration_should_transmit_usec, UINT64_MAX);

                sdloop_reporting_plugin_config_done(&out);
                ck_assert_ptr_null(out.onchain_config.data);
        }
        sdloop_reporting_plugin_config_done(NULL);
}
END_TEST

START_TEST(test_reporting_plugin_config_invalid) {
        static const struct {
                uint8_t oracle_id;
                uint32_t n, f;
                const char *message;
        } table[] = {
                { 0, 0, 0, "config.n: must be at least 1" },
                { 0, 1, 1, "config.f: must be less than n" },
                { 0, 4, 4, "config.f: must be less than n" },
                { 0, 4, 9, "config.f: must be less than n" },
                { 4, 4, 1, "config.oracle_id: must be less than n" },
                { 200, 4, 1, "config.oracle_id: must be less than n" },
                { 1, 1, 0, "config.oracle_id: must be less than n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopReportingPluginConfig in = reporting_plugin_config_fixture(table[i].oracle_id, table[i].n, table[i].f), out;

                ck_assert_int_ge(sdloop_append_reporting_plugin_config(m, &in), 0);
                message_seal(m);

                memset(&out, 0xaa, sizeof(out));
                assert_invalid(sdloop_read_reporting_plugin_config(m, "config", &out, &e), &e, table[i].message);
                ck_assert(all_zero(&out, sizeof(out)));
        }
}
END_TEST

START_TEST(test_reporting_plugin_info) {
        SdloopReportingPluginInfo in = {
                .name = (char *) "median",
                .unique_reports = true,
                .max_query_length = 1,
                .max_observation_length = 1024,
                .max_report_length = UINT64_MAX,
        }, out;
        sd_bus_message *m = message_new();

        ck_assert_int_ge(sdloop_append_reporting_plugin_info(m, &in), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "(sb(ttt))");
        ck_assert_int_eq(sdloop_read_reporting_plugin_info(m, "info", &out, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_str_eq(out.name, "median");
        ck_assert(out.unique_reports);
        ck_assert_uint_eq(out.max_query_length, 1);
        ck_assert_uint_eq(out.max_observation_length, 1024);
        ck_assert_uint_eq(out.max_report_length, UINT64_MAX);
        sdloop_reporting_plugin_info_done(&out);
        ck_assert_ptr_null(out.name);
        sdloop_reporting_plugin_info_done(NULL);
}
END_TEST

/* --- arrays ------------------------------------------------------------------------------------------- */

START_TEST(test_attributed_array) {
        uint8_t sig0[65], sig2[3];
        SdloopAttributed in[] = {
                { .data = { .data = sig0, .size = sizeof(sig0) }, .oracle = 0 },
                { .data = {}, .oracle = 1 },
                { .data = { .data = sig2, .size = sizeof(sig2) }, .oracle = 255 },
        }, *out = NULL, *out_empty = (SdloopAttributed *) 1;
        size_t n = 0, n_empty = 1;
        sd_bus_message *m = message_new();

        fill(sig0, sizeof(sig0), 5);
        fill(sig2, sizeof(sig2), 50);
        ck_assert_int_ge(sdloop_append_attributed_array(m, in, ELEMENTSOF(in)), 0);
        ck_assert_int_ge(sdloop_append_attributed_array(m, NULL, 0), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "a(ayy)a(ayy)");

        ck_assert_int_eq(sdloop_read_attributed_array(m, "signatures", 65, &out, &n, NULL), 0);
        ck_assert_int_eq(sdloop_read_attributed_array(m, "signatures", 0, &out_empty, &n_empty, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_uint_eq(n, ELEMENTSOF(in));
        for (size_t i = 0; i < n; i++) {
                assert_bytes_eq(&out[i].data, &in[i].data);
                ck_assert_uint_eq(out[i].oracle, in[i].oracle);
        }
        ck_assert_uint_eq(n_empty, 0);

        sdloop_attributed_array_free(out, n);
        sdloop_attributed_array_free(out_empty, n_empty);
        sdloop_attributed_array_free(NULL, 0);
}
END_TEST

START_TEST(test_attributed_array_invalid) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_message_ sd_bus_message *m = message_new();
        uint8_t b[5] = {};
        SdloopAttributed in[] = {
                { .data = { .data = b, .size = 4 }, .oracle = 0 },
                { .data = { .data = b, .size = 4 }, .oracle = 1 },
                { .data = { .data = b, .size = 5 }, .oracle = 2 },
                { .data = { .data = b, .size = 1 }, .oracle = 3 },
        }, *out = (SdloopAttributed *) 1;
        size_t n = 1;

        ck_assert_int_ge(sdloop_append_attributed_array(m, in, ELEMENTSOF(in)), 0);
        message_seal(m);

        /* The third element is one byte too many; the two before it must not leak. */
        assert_invalid(sdloop_read_attributed_array(m, "observations", 4, &out, &n, &e), &e, "observations[2].data: ");
        ck_assert_str_eq(e.message, "observations[2].data: expected at most 4 bytes, got 5");
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_parsed_observations) {
        SdloopParsedObservation in[] = {
                { .timestamp = 1, .value = (char *) "-1042", .juels_per_fee_coin = (char *) "0", .observer = 0 },
                { .timestamp = UINT32_MAX, .value = (char *) NINES_78, .juels_per_fee_coin = (char *) "-" NINES_78, .observer = 255 },
                { .timestamp = 3, .value = (char *) "7", .juels_per_fee_coin = (char *) "8", .observer = 2 },
        }, *out = NULL, *out_empty = NULL;
        size_t n = 0, n_empty = 7;
        sd_bus_message *m = message_new();

        ck_assert_int_ge(sdloop_append_parsed_observations(m, in, ELEMENTSOF(in)), 0);
        ck_assert_int_ge(sdloop_append_parsed_observations(m, NULL, 0), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "a(ussy)a(ussy)");

        ck_assert_int_eq(sdloop_read_parsed_observations(m, "observations", &out, &n, NULL), 0);
        ck_assert_int_eq(sdloop_read_parsed_observations(m, "observations", &out_empty, &n_empty, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_uint_eq(n, ELEMENTSOF(in));
        for (size_t i = 0; i < n; i++) {
                ck_assert_uint_eq(out[i].timestamp, in[i].timestamp);
                ck_assert_str_eq(out[i].value, in[i].value);
                ck_assert_str_eq(out[i].juels_per_fee_coin, in[i].juels_per_fee_coin);
                ck_assert_uint_eq(out[i].observer, in[i].observer);
        }
        ck_assert_uint_eq(n_empty, 0);
        ck_assert_ptr_null(out_empty);

        sdloop_parsed_observations_free(out, n);
        sdloop_parsed_observations_free(NULL, 0);
}
END_TEST

START_TEST(test_parsed_observations_invalid) {
        static const struct {
                const char *value, *juels, *message;
        } table[] = {
                { "12a", "1",   "observations[1].value: malformed decimal \"12a\"" },
                { "-0",  "1",   "observations[1].value: malformed decimal \"-0\"" },
                { "1",   "",    "observations[1].juels_per_fee_coin: malformed decimal \"\"" },
                { "1",   "007", "observations[1].juels_per_fee_coin: malformed decimal \"007\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopParsedObservation in[] = {
                        { .value = (char *) "1", .juels_per_fee_coin = (char *) "2" },
                        { .value = (char *) table[i].value, .juels_per_fee_coin = (char *) table[i].juels },
                }, *out = (SdloopParsedObservation *) 1;
                size_t n = 1;

                ck_assert_int_ge(sdloop_append_parsed_observations(m, in, ELEMENTSOF(in)), 0);
                message_seal(m);

                assert_invalid(sdloop_read_parsed_observations(m, "observations", &out, &n, &e), &e, table[i].message);
                ck_assert_str_eq(e.message, table[i].message);
                ck_assert_ptr_null(out);
                ck_assert_uint_eq(n, 0);
        }
}
END_TEST

START_TEST(test_chain_status) {
        SdloopChainStatus in = { .id = (char *) "1", .enabled = true, .config = (char *) "a = 1" }, out;
        sd_bus_message *m = message_new();

        ck_assert_int_ge(sdloop_append_chain_status(m, &in), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "(sbs)");
        ck_assert_int_eq(sdloop_read_chain_status(m, "chain_status", &out, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_str_eq(out.id, "1");
        ck_assert(out.enabled);
        ck_assert_str_eq(out.config, "a = 1");
        sdloop_chain_status_done(&out);
        ck_assert_ptr_null(out.id);
        sdloop_chain_status_done(NULL);
}
END_TEST

START_TEST(test_node_statuses) {
        SdloopNodeStatus in[] = {
                { .chain_id = (char *) "1", .name = (char *) "a", .config = (char *) "x", .state = (char *) "Alive" },
                { .chain_id = (char *) "1", .name = (char *) "b", .config = NULL, .state = (char *) "Dead" },
        }, *out = NULL, *out_empty = NULL;
        size_t n = 0, n_empty = 3;
        sd_bus_message *m = message_new();

        ck_assert_int_ge(sdloop_append_node_statuses(m, in, ELEMENTSOF(in)), 0);
        ck_assert_int_ge(sdloop_append_node_statuses(m, NULL, 0), 0);
        message_seal(m);
        ck_assert_str_eq(sd_bus_message_get_signature(m, true), "a(ssss)a(ssss)");

        ck_assert_int_eq(sdloop_read_node_statuses(m, "nodes", &out, &n, NULL), 0);
        ck_assert_int_eq(sdloop_read_node_statuses(m, "nodes", &out_empty, &n_empty, NULL), 0);
        sd_bus_message_unref(m);

        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(out[0].chain_id, "1");
        ck_assert_str_eq(out[0].name, "a");
        ck_assert_str_eq(out[0].config, "x");
        ck_assert_str_eq(out[0].state, "Alive");
        ck_assert_str_eq(out[1].name, "b");
        ck_assert_str_eq(out[1].config, "");
        ck_assert_str_eq(out[1].state, "Dead");
        ck_assert_uint_eq(n_empty, 0);
        ck_assert_ptr_null(out_empty);

        sdloop_node_statuses_free(out, n);
        sdloop_node_statuses_free(NULL, 0);
}
END_TEST

/* --- OnchainConfig ------------------------------------------------------------------------------------ */

START_TEST(test_onchain_config) {
        static const struct {
                const char *min, *max;
        } table[] = {
                { "0", "0" }, { "-1", "1" }, { "-" NINES_78, NINES_78 }, { NINES_77, NINES_78 },
                { "-" NINES_78, "-" NINES_77 }, { "5", "5" }, { "-10", "-9" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                SdloopOnchainConfig in = { .min = (char *) table[i].min, .max = (char *) table[i].max }, out;
                sd_bus_message *m = message_new();

                ck_assert_int_ge(sdloop_append_onchain_config(m, &in), 0);
                message_seal(m);
                ck_assert_int_eq(sdloop_read_onchain_config(m, "onchain_config", &out, NULL), 0);
                sd_bus_message_unref(m);

                ck_assert_str_eq(out.min, table[i].min);
                ck_assert_str_eq(out.max, table[i].max);
                sdloop_onchain_config_done(&out);
                ck_assert_ptr_null(out.min);
        }
        sdloop_onchain_config_done(NULL);
}
END_TEST

START_TEST(test_onchain_config_invalid) {
        static const struct {
                const char *min, *max, *message;
        } table[] = {
                { "1", "0", "onchain_config: " },
                { "-9", "-10", "onchain_config: " },
                { NINES_78, NINES_77, "onchain_config: " },
                { "0", "-" NINES_78, "onchain_config: " },
                { "1.5", "2", "onchain_config.min: malformed decimal \"1.5\"" },
                { "1", "-", "onchain_config.max: malformed decimal \"-\"" },
                { "1", NINES_78 "9", "onchain_config.max: malformed decimal" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_message_ sd_bus_message *m = message_new();
                SdloopOnchainConfig in = { .min = (char *) table[i].min, .max = (char *) table[i].max }, out;

                ck_assert_int_ge(sdloop_append_onchain_config(m, &in), 0);
                message_seal(m);

                memset(&out, 0xaa, sizeof(out));
                assert_invalid(sdloop_read_onchain_config(m, "onchain_config", &out, &e), &e, table[i].message);
                ck_assert(all_zero(&out, sizeof(out)));
        }
}
END_TEST

/* --- wrong D-Bus types -------------------------------------------------------------------------------- */

/* Each reader is given a message of another type, or no argument at all; all must say
 * "<field>: expected D-Bus type '…'" and leave their result zeroed. */
typedef int (*reader_t)(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error);

#define SIMPLE_READER(name, type)                                                                       \
        static int read_##name(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error) { \
                ck_assert_uint_ge(ret_size, sizeof(type));                                              \
                return sdloop_read_##name(m, field, ret, error);                                        \
        }

SIMPLE_READER(decimal, char *)
SIMPLE_READER(report_timestamp, SdloopReportTimestamp)
SIMPLE_READER(report_context, SdloopReportContext)
SIMPLE_READER(contract_config, SdloopContractConfig)
SIMPLE_READER(relay_args, SdloopRelayArgs)
SIMPLE_READER(plugin_args, SdloopPluginArgs)
SIMPLE_READER(reporting_plugin_config, SdloopReportingPluginConfig)
SIMPLE_READER(reporting_plugin_info, SdloopReportingPluginInfo)
SIMPLE_READER(chain_status, SdloopChainStatus)
SIMPLE_READER(onchain_config, SdloopOnchainConfig)

static int read_digest(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error) {
        ck_assert_uint_ge(ret_size, SDLOOP_DIGEST_SIZE);
        return sdloop_read_digest(m, field, ret, error);
}

static int read_bytes(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error) {
        ck_assert_uint_ge(ret_size, sizeof(SdloopBytes));
        return sdloop_read_bytes(m, field, 0, ret, error);
}

/* Arrays return a pointer and a count; both must come back zeroed. */
struct array_result {
        void *p;
        size_t n;
};

static int read_attributed_array(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error) {
        struct array_result *a = ret;

        ck_assert_uint_ge(ret_size, sizeof(*a));
        return sdloop_read_attributed_array(m, field, 0, (SdloopAttributed **) &a->p, &a->n, error);
}

static int read_parsed_observations(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error) {
        struct array_result *a = ret;

        ck_assert_uint_ge(ret_size, sizeof(*a));
        return sdloop_read_parsed_observations(m, field, (SdloopParsedObservation **) &a->p, &a->n, error);
}

static int read_node_statuses(sd_bus_message *m, const char *field, void *ret, size_t ret_size, sd_bus_error *error) {
        struct array_result *a = ret;

        ck_assert_uint_ge(ret_size, sizeof(*a));
        return sdloop_read_node_statuses(m, field, (SdloopNodeStatus **) &a->p, &a->n, error);
}

static const struct {
        const char *name;
        reader_t read;
        size_t size;
        const char *type; /* in the message */
} wrong_type_table[] = {
        { "decimal",                 read_decimal,                 sizeof(char *),                      "'s'" },
        { "digest",                  read_digest,                  SDLOOP_DIGEST_SIZE,                  "'ay'" },
        { "bytes",                   read_bytes,                   sizeof(SdloopBytes),                 "'ay'" },
        { "report_timestamp",        read_report_timestamp,        sizeof(SdloopReportTimestamp),       "'(ayuy)'" },
        { "report_context",          read_report_context,          sizeof(SdloopReportContext),         "'((ayuy)ay)'" },
        { "contract_config",         read_contract_config,         sizeof(SdloopContractConfig),        "'(aytaayasyaytay)'" },
        { "relay_args",              read_relay_args,              sizeof(SdloopRelayArgs),             "'(sisbss)'" },
        { "plugin_args",             read_plugin_args,             sizeof(SdloopPluginArgs),            "'(ss)'" },
        { "reporting_plugin_config", read_reporting_plugin_config, sizeof(SdloopReportingPluginConfig), "'(ayyuuayaytttttt)'" },
        { "reporting_plugin_info",   read_reporting_plugin_info,   sizeof(SdloopReportingPluginInfo),   "'(sb(ttt))'" },
        { "attributed",              read_attributed_array,        sizeof(struct array_result),         "'a(ayy)'" },
        { "parsed_observations",     read_parsed_observations,     sizeof(struct array_result),         "'a(ussy)'" },
        { "chain_status",            read_chain_status,            sizeof(SdloopChainStatus),           "'(sbs)'" },
        { "node_statuses",           read_node_statuses,           sizeof(struct array_result),         "'a(ssss)'" },
        { "onchain_config",          read_onchain_config,          sizeof(SdloopOnchainConfig),         "'(ss)'" },
};

static void assert_wrong_type(size_t i, sd_bus_message *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _Alignas(max_align_t) uint8_t out[512];
        char prefix[128];

        ck_assert_uint_le(wrong_type_table[i].size, sizeof(out));
        snprintf(prefix, sizeof(prefix), "%s: expected D-Bus type %s", wrong_type_table[i].name, wrong_type_table[i].type);

        memset(out, 0xaa, sizeof(out));
        assert_invalid(wrong_type_table[i].read(m, wrong_type_table[i].name, out, sizeof(out), &e), &e, prefix);
        ck_assert(all_zero(out, wrong_type_table[i].size));
}

START_TEST(test_wrong_type) {
        /* A 'u' where anything else is expected, and for the 'u' in (ayuy) an 's' instead. */
        _cleanup_message_ sd_bus_message *m = message_new();

        ck_assert_int_ge(sd_bus_message_append(m, "u", 42), 0);
        message_seal(m);
        assert_wrong_type((size_t) _i, m);
}
END_TEST

START_TEST(test_wrong_type_string) {
        _cleanup_message_ sd_bus_message *m = message_new();

        /* The decimal reader expects exactly this, so give it a string array instead. */
        if (streq(wrong_type_table[_i].name, "decimal"))
                ck_assert_int_ge(sd_bus_message_append(m, "as", 1, "1"), 0);
        else
                ck_assert_int_ge(sd_bus_message_append(m, "s", "hello"), 0);
        message_seal(m);
        assert_wrong_type((size_t) _i, m);
}
END_TEST

START_TEST(test_wrong_type_missing) {
        _cleanup_message_ sd_bus_message *m = message_new();

        message_seal(m);
        assert_wrong_type((size_t) _i, m);
}
END_TEST

START_TEST(test_wrong_type_similar) {
        /* Close but not equal signatures: a struct with one member of another type. */
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_message_ sd_bus_message *m = message_new();
        SdloopReportTimestamp ts;
        SdloopOnchainConfig oc;
        SdloopAttributed *a;
        size_t n;

        ck_assert_int_ge(sd_bus_message_append(m, "(ayuu)", 0, 1, 2), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "(st)", "1", UINT64_C(2)), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "a(ayu)", 0), 0);
        message_seal(m);

        assert_invalid(sdloop_read_report_timestamp(m, "ts", &ts, &e), &e, "ts: expected D-Bus type '(ayuy)'");
        ck_assert_int_ge(sd_bus_message_skip(m, "(ayuu)"), 0);
        sd_bus_error_free(&e);
        assert_invalid(sdloop_read_onchain_config(m, "oc", &oc, &e), &e, "oc: expected D-Bus type '(ss)'");
        ck_assert_int_ge(sd_bus_message_skip(m, "(st)"), 0);
        sd_bus_error_free(&e);
        assert_invalid(sdloop_read_attributed_array(m, "sigs", 0, &a, &n, &e), &e, "sigs: expected D-Bus type 'a(ayy)'");
}
END_TEST

/* --- over a real connection --------------------------------------------------------------------------- */

START_TEST(test_over_socket) {
        /* Received messages are parsed from the wire rather than built in place; read one of those. */
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_message_ sd_bus_message *m = NULL, *received = NULL;
        sd_bus *server = NULL, *client = NULL;
        SdloopReportContext rc = { .timestamp = { .epoch = 9, .round = 1 } }, rc_out;
        SdloopParsedObservation obs[] = {
                { .timestamp = 5, .value = (char *) "-3", .juels_per_fee_coin = (char *) "4", .observer = 1 },
        }, *obs_out;
        size_t n_obs;
        sd_id128_t id;
        int fds[2];

        ck_assert_int_eq(sd_id128_randomize(&id), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);

        ck_assert_int_ge(sd_bus_new(&server), 0);
        ck_assert_int_ge(sd_bus_set_fd(server, fds[0], fds[0]), 0);
        ck_assert_int_ge(sd_bus_set_server(server, true, id), 0);
        ck_assert_int_ge(sd_bus_start(server), 0);

        ck_assert_int_ge(sd_bus_new(&client), 0);
        ck_assert_int_ge(sd_bus_set_fd(client, fds[1], fds[1]), 0);
        ck_assert_int_ge(sd_bus_start(client), 0);

        fill(rc.timestamp.digest, SDLOOP_DIGEST_SIZE, 1);
        fill(rc.extra_hash, SDLOOP_DIGEST_SIZE, 2);

        ck_assert_int_ge(sd_bus_message_new_method_call(client, &m, NULL, "/org/sdloop1/test", "org.sdloop1.Test", "Transmit"), 0);
        ck_assert_int_ge(sd_bus_message_set_expect_reply(m, false), 0);
        ck_assert_int_ge(sdloop_append_report_context(m, &rc), 0);
        ck_assert_int_ge(sdloop_append_parsed_observations(m, obs, ELEMENTSOF(obs)), 0);
        ck_assert_int_ge(sd_bus_send(client, m, NULL), 0);

        /* Drive both ends until the server has the message. */
        for (unsigned i = 0; i < 1000 && !received; i++) {
                int r;

                ck_assert_int_ge(sd_bus_process(client, NULL), 0);
                r = sd_bus_process(server, &received);
                ck_assert_int_ge(r, 0);
                if (received && !sd_bus_message_is_method_call(received, "org.sdloop1.Test", "Transmit"))
                        received = sd_bus_message_unref(received);
                if (r == 0 && !received)
                        ck_assert_int_ge(sd_bus_wait(server, 10 * USEC_PER_MSEC), 0);
        }
        ck_assert_ptr_nonnull(received);

        ck_assert_int_eq(sdloop_read_report_context(received, "report_context", &rc_out, &e), 0);
        ck_assert_int_eq(sdloop_read_parsed_observations(received, "observations", &obs_out, &n_obs, &e), 0);
        received = sd_bus_message_unref(received);

        assert_report_context_eq(&rc_out, &rc);
        ck_assert_uint_eq(n_obs, 1);
        ck_assert_str_eq(obs_out[0].value, "-3");
        ck_assert_str_eq(obs_out[0].juels_per_fee_coin, "4");
        sdloop_parsed_observations_free(obs_out, n_obs);

        sd_bus_flush_close_unref(client);
        sd_bus_flush_close_unref(server);
}
END_TEST

static Suite *codec_suite(void) {
        Suite *s = suite_create("codec");
        TCase *tc;

        tc = tcase_create("scalars");
        tcase_add_test(tc, test_decimal_is_valid);
        tcase_add_test(tc, test_decimal_i128);
        tcase_add_test(tc, test_decimal_compare);
        tcase_add_test(tc, test_uuid_is_valid);
        tcase_add_test(tc, test_json_is_valid);
        suite_add_tcase(s, tc);

        tc = tcase_create("messages");
        tcase_add_checked_fixture(tc, bus_setup, bus_teardown);
        tcase_add_test(tc, test_read_decimal);
        tcase_add_test(tc, test_read_digest);
        tcase_add_test(tc, test_bytes);
        tcase_add_test(tc, test_report_timestamp);
        tcase_add_test(tc, test_report_context);
        tcase_add_test(tc, test_report_context_invalid);
        tcase_add_test(tc, test_contract_config);
        tcase_add_test(tc, test_contract_config_invalid);
        tcase_add_test(tc, test_contract_config_f_limits);
        tcase_add_test(tc, test_array_bounds);
        tcase_add_test(tc, test_relay_args);
        tcase_add_test(tc, test_relay_args_invalid);
        tcase_add_test(tc, test_plugin_args);
        tcase_add_test(tc, test_plugin_args_invalid);
        tcase_add_test(tc, test_reporting_plugin_config);
        tcase_add_test(tc, test_reporting_plugin_config_invalid);
        tcase_add_test(tc, test_reporting_plugin_info);
        tcase_add_test(tc, test_attributed_array);
        tcase_add_test(tc, test_attributed_array_invalid);
        tcase_add_test(tc, test_parsed_observations);
        tcase_add_test(tc, test_parsed_observations_invalid);
        tcase_add_test(tc, test_chain_status);
        tcase_add_test(tc, test_node_statuses);
        tcase_add_test(tc, test_onchain_config);
        tcase_add_test(tc, test_onchain_config_invalid);
        tcase_add_test(tc, test_over_socket);
        suite_add_tcase(s, tc);

        tc = tcase_create("wrong-type");
        tcase_add_checked_fixture(tc, bus_setup, bus_teardown);
        tcase_add_loop_test(tc, test_wrong_type, 0, (int) ELEMENTSOF(wrong_type_table));
        tcase_add_loop_test(tc, test_wrong_type_string, 0, (int) ELEMENTSOF(wrong_type_table));
        tcase_add_loop_test(tc, test_wrong_type_missing, 0, (int) ELEMENTSOF(wrong_type_table));
        tcase_add_test(tc, test_wrong_type_similar);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(codec_suite());
        int n_failed;

        srunner_run_all(sr, CK_ENV);
        n_failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
