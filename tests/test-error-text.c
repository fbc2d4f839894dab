/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Every error sent to a peer is valid UTF-8 of bounded length, whatever it quotes: the quoting helper on
 * its own, sdloop_error_setf() and sdloop_error_ensure(), malformed arguments whose echo used to be cut
 * inside a character (the call then got no answer at all), and the ledger relayer's config errors. */

#include <check.h>
#include <sys/socket.h>

#include "ledger-config.h"
#include "macro.h"
#include "sdloop.h"

/* Only a guard against waiting forever: a reply that never comes shows up as Timeout, not as the
 * InvalidArgument the tests expect. */
#define CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)

static sd_event *event;
static SdloopPeer *server, *client;
static SdloopObject *relayer, *provider;

/* What sd-bus accepts as a string is what can be sent: ask it. */
static bool bus_accepts(const char *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        ck_assert_int_ge(sdloop_peer_new_call(client, "/", "org.sdloop1.Test", "Test", &m), 0);
        return sd_bus_message_append(m, "s", s) >= 0;
}

static bool has_control_characters(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7F)
                        return true;
        return false;
}

/* Sendable, bounded, and nothing that moves a terminal around. */
static void assert_sendable(const char *s, size_t max) {
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(bus_accepts(s), "not valid UTF-8 for sd-bus: %.300s", s);
        ck_assert_msg(strlen(s) <= max, "%zu bytes, at most %zu expected: %.200s…", strlen(s), max, s);
        ck_assert_msg(!has_control_characters(s), "control characters in: %.300s", s);
}

/* --- fixtures: a relayer and a provider with a ReportCodec over an in-process connection --------------- */

static int transact(void *userdata, const char *from, const char *to, const char *amount, bool balance_check,
                    sd_bus_error *error) {
        ck_abort_msg("Transact() reached the implementation with amount %s", amount);
        return 0;
}

static int new_config_provider(void *userdata, SdloopObject *o, const SdloopRelayArgs *relay_args, SdloopObject **ret,
                               sd_bus_error *error) {
        ck_abort_msg("NewConfigProvider() reached the implementation");
        return 0;
}

static int build_report(void *userdata, const SdloopParsedObservation *obs, size_t n_obs, SdloopBytes *ret_report,
                        sd_bus_error *error) {
        ck_abort_msg("BuildReport() reached the implementation");
        return 0;
}

static void setup(void) {
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], &server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], &client), 0);

        ck_assert_int_eq(sdloop_object_new(server, NULL, "relayer", NULL, NULL, &relayer), 0);
        ck_assert_int_eq(sdloop_relayer_export(relayer, &(const SdloopRelayerOps) {
                                                       .transact = transact,
                                                       .new_config_provider = new_config_provider,
                                               }, NULL), 0);
        ck_assert_int_eq(sdloop_object_new(server, NULL, "provider", NULL, NULL, &provider), 0);
        ck_assert_int_eq(sdloop_report_codec_export(provider, &(const SdloopReportCodecOps) {
                                                            .build_report = build_report,
                                                    }, NULL), 0);

        /* A first call gets both sides through authentication, which closing them would wait for. */
        ck_assert_int_eq(sdloop_peer_call_method(client, sdloop_object_get_path(relayer), "org.sdloop1.Service",
                                                 "Ready", NULL, NULL, NULL), 0);
}

static void teardown(void) {
        client = sdloop_peer_unref(client);
        server = sdloop_peer_unref(server);
        event = sd_event_unref(event);
        relayer = provider = NULL;
}

/* @n × 'a' and then 'é' (two bytes): for some n, a cut after a fixed number of bytes splits the 'é'. */
static char *a_then_e_acute(size_t n) {
        char *s = malloc(n + 3);

        ck_assert_ptr_nonnull(s);
        memset(s, 'a', n);
        memcpy(s + n, "\xc3\xa9", 3);
        return s;
}

/* The call is answered (not left to time out) with InvalidArgument naming @field, in sendable text. */
static void assert_invalid_argument(sd_bus_message *m, const char *field) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_call(client, m, CALL_TIMEOUT_USEC, NULL, &error);
        ck_assert_int_lt(r, 0);
        ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT), "expected InvalidArgument, got %s: %s",
                      strempty(error.name), strempty(error.message));
        ck_assert_msg(strncmp(strempty(error.message), field, strlen(field)) == 0 && error.message[strlen(field)] == ':',
                      "\"%s\" does not name %s", strempty(error.message), field);
        assert_sendable(error.message, SDLOOP_ERROR_MESSAGE_MAX);
}

/* --- the quoting helper ------------------------------------------------------------------------------------ */

START_TEST(test_escape) {
        char buf[SDLOOP_QUOTE_SIZE];

        ck_assert_str_eq(SDLOOP_QUOTE("12a"), "\"12a\"");
        ck_assert_str_eq(SDLOOP_QUOTE(""), "\"\"");
        ck_assert_str_eq(SDLOOP_QUOTE(NULL), "(null)");
        ck_assert_str_eq(SDLOOP_QUOTE("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
        ck_assert_str_eq(SDLOOP_QUOTE("a\"b\\c"), "\"a\\\"b\\\\c\"");
        ck_assert_str_eq(SDLOOP_QUOTE("l1\nl2\t\r\x1b[31m\x7f"), "\"l1\\nl2\\t\\r\\x1b[31m\\x7f\"");
        /* Not UTF-8: a stray continuation byte, a truncated sequence, an overlong '/', a surrogate, a
         * noncharacter, a C1 control. */
        ck_assert_str_eq(SDLOOP_QUOTE("\x80x\xc3"), "\"\\x80x\\xc3\"");
        ck_assert_str_eq(SDLOOP_QUOTE("\xc0\xaf"), "\"\\xc0\\xaf\"");
        ck_assert_str_eq(SDLOOP_QUOTE("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
        ck_assert_str_eq(SDLOOP_QUOTE("\xef\xb7\x90"), "\"\\xef\\xb7\\x90\"");
        ck_assert_str_eq(SDLOOP_QUOTE("\xc2\x85"), "\"\\u0085\"");
        ck_assert_str_eq(SDLOOP_QUOTE_N("12345", 3), "\"123\"");

        /* Without quotes, for text that is a message of its own (a command's stderr). */
        ck_assert_str_eq(sdloop_escape_into(buf, sizeof(buf), "it \"failed\"\n\xff", SIZE_MAX, 0),
                         "it \"failed\"\\n\\xff");

        /* Cut: a whole character, then "…". */
        ck_assert_str_eq(sdloop_escape_into(buf, 12, "abcdefghijklmnop", SIZE_MAX, SDLOOP_ESCAPE_QUOTE),
                         "\"abcdef\"\xe2\x80\xa6");
        ck_assert_str_eq(sdloop_escape_into(buf, 12, "abcd\xc3\xa9\xc3\xa9xyz", SIZE_MAX, SDLOOP_ESCAPE_QUOTE),
                         "\"abcd\xc3\xa9\"\xe2\x80\xa6");
        ck_assert_str_eq(sdloop_escape_into(buf, 12, "abcdefghijk", SIZE_MAX, 0), "abcdefghijk");
        ck_assert_str_eq(sdloop_escape_into(buf, 12, "abcdefghijkl", SIZE_MAX, 0), "abcdefgh\xe2\x80\xa6");
        ck_assert_str_eq(sdloop_escape_into(buf, 3, "abc", SIZE_MAX, SDLOOP_ESCAPE_QUOTE), "");

        /* Whatever the text and wherever the cut, the result is sendable and fits. */
        for (size_t size = 6; size <= 40; size++)
                for (size_t n = 0; n < 30; n++) {
                        static const char *tails[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\n",
                                                       "\x1b", "\xc2\x85", "\"" };

                        for (size_t t = 0; t < ELEMENTSOF(tails); t++) {
                                char s[64] = {}, out[64];

                                memset(s, 'a', n);
                                strcat(s, tails[t]);
                                strcat(s, "zz");
                                for (int quote = 0; quote <= 1; quote++) {
                                        sdloop_escape_into(out, size, s, SIZE_MAX, quote ? SDLOOP_ESCAPE_QUOTE : 0);
                                        assert_sendable(out, size - 1);
                                }
                        }
                }
}
END_TEST

START_TEST(test_error_messages_are_sendable) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *big = NULL;
        size_t n = 10000;

        /* 10,000 bytes of 'é' and garbage in one message. */
        big = malloc(n + 1);
        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < n; i += 2)
                memcpy(big + i, i % 10 == 8 ? "\xff\n" : "\xc3\xa9", 2);
        big[n] = 0;

        ck_assert_int_eq(sdloop_error_setf(&error, SDLOOP_ERROR_INTERNAL, "what: %s", big), -EIO);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INTERNAL));
        assert_sendable(error.message, SDLOOP_ERROR_MESSAGE_MAX);
        ck_assert_str_eq(error.message + strlen(error.message) - 3, "\xe2\x80\xa6");
        sd_bus_error_free(&error);

        ck_assert_int_eq(sdloop_error_invalid(&error, "field", "bad %s", big), -EINVAL);
        ck_assert(strncmp(error.message, "field: bad ", 11) == 0);
        assert_sendable(error.message, SDLOOP_ERROR_MESSAGE_MAX);
        sd_bus_error_free(&error);

        /* Set by hand, past the library: made sendable before the runtime answers with it. */
        ck_assert_int_lt(sd_bus_error_set(&error, SDLOOP_ERROR_INVALID_ARGUMENT, big), 0);
        ck_assert_int_eq(sdloop_error_ensure(&error, -EINVAL, "ctx"), -EINVAL);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT));
        assert_sendable(error.message, SDLOOP_ERROR_MESSAGE_MAX);
        sd_bus_error_free(&error);

        /* A short, clean message is left as it is. */
        ck_assert_int_eq(sdloop_error_setf(&error, SDLOOP_ERROR_NOT_FOUND, "no %s", "such thing"), -ENOENT);
        ck_assert_str_eq(error.message, "no such thing");
}
END_TEST

/* --- the reproduced cases: answered with InvalidArgument ------------------------------------------------- */

START_TEST(test_transact_amount) {
        for (size_t n = 60; n <= 100; n++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_free_ char *amount = a_then_e_acute(n);

                ck_assert_int_ge(sdloop_peer_new_call(client, sdloop_object_get_path(relayer), "org.sdloop1.Relayer",
                                                      "Transact", &m), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "sssb", "alice", "bob", amount, 1), 0);
                assert_invalid_argument(m, "amount");
        }
}
END_TEST

START_TEST(test_new_config_provider_external_job_id) {
        for (size_t n = 60; n <= 100; n++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_free_ char *id = a_then_e_acute(n);

                ck_assert_int_ge(sdloop_peer_new_call(client, sdloop_object_get_path(relayer), "org.sdloop1.Relayer",
                                                      "NewConfigProvider", &m), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "(sisbss)", id, 1, "contract", 0, "{}", "median"), 0);
                assert_invalid_argument(m, "relay_args.external_job_id");
        }
}
END_TEST

START_TEST(test_build_report_juels) {
        for (size_t n = 60; n <= 100; n++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_free_ char *juels = a_then_e_acute(n);

                ck_assert_int_ge(sdloop_peer_new_call(client, sdloop_object_get_path(provider), "org.sdloop1.ReportCodec",
                                                      "BuildReport", &m), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "a(ussy)", 1, 123, "31", juels, 7), 0);
                assert_invalid_argument(m, "observations[0].juels_per_fee_coin");
        }
}
END_TEST

/* --- the ledger relayer's config --------------------------------------------------------------------------- */

static void assert_config_refused(const char *json, const char *field) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        LedgerRelayerConfig c = {};

        ck_assert_int_eq(ledger_relayer_config_parse(json, &c, &error), -EINVAL);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strncmp(strempty(error.message), field, strlen(field)) == 0, "\"%.300s\" does not name %s",
                      strempty(error.message), field);
        /* The value is quoted, not the whole of it: far below the message limit. */
        assert_sendable(error.message, 2 * SDLOOP_QUOTE_SIZE + strlen(field));
        ledger_relayer_config_done(&c);
}

START_TEST(test_ledger_config_long_values) {
        size_t n = 10000;
        _cleanup_free_ char *digits = malloc(n + 1), *json = NULL, *account = NULL;

        ck_assert_ptr_nonnull(digits);
        memset(digits, '7', n);
        digits[n] = 0;

        /* A balance of 10,000 digits: far beyond 128 bits. */
        ck_assert_int_ge(asprintf(&json, "{\"chain_id\": \"c\", \"balances\": {\"alice\": \"%s\"}}", digits), 0);
        assert_config_refused(json, "config.balances.\"alice\"");
        json = mfree(json);

        /* Negative, and not a decimal at all. */
        ck_assert_int_ge(asprintf(&json, "{\"chain_id\": \"c\", \"balances\": {\"alice\": \"-%s\"}}", digits), 0);
        assert_config_refused(json, "config.balances.\"alice\"");
        json = mfree(json);
        ck_assert_int_ge(asprintf(&json, "{\"chain_id\": \"c\", \"balances\": {\"alice\": \"x%s\"}}", digits), 0);
        assert_config_refused(json, "config.balances.\"alice\"");
        json = mfree(json);

        /* A long account name, a long relative ledger path, a long unknown key. */
        ck_assert_int_ge(asprintf(&json, "{\"chain_id\": \"c\", \"balances\": {\"%s\": \"-1\"}}", digits), 0);
        assert_config_refused(json, "config.balances.\"7777");
        json = mfree(json);
        ck_assert_int_ge(asprintf(&json, "{\"chain_id\": \"c\", \"ledger\": \"%s\"}", digits), 0);
        assert_config_refused(json, "config");
        json = mfree(json);
        ck_assert_int_ge(asprintf(&json, "{\"chain_id\": \"c\", \"%s\": 1}", digits), 0);
        assert_config_refused(json, "config");
}
END_TEST

static Suite *error_text_suite(void) {
        Suite *s = suite_create("error-text");
        TCase *tc;

        tc = tcase_create("text");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_escape);
        tcase_add_test(tc, test_error_messages_are_sendable);
        suite_add_tcase(s, tc);

        tc = tcase_create("calls");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_transact_amount);
        tcase_add_test(tc, test_new_config_provider_external_job_id);
        tcase_add_test(tc, test_build_report_juels);
        suite_add_tcase(s, tc);

        tc = tcase_create("ledger");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_ledger_config_long_values);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(error_text_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
