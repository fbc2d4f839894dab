/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The host's own services (src/host/host-services.h): the Ed25519 Keystore on disk and across a p2p
 * connection, the ErrorLog and a callback DataSource. The "host" end exports, the "plugin" end calls; both
 * ends of a socketpair run on one event loop. */

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "host-services.h"
#include "macro.h"

static char dir[] = "/tmp/sdloop-test-keystore-XXXXXX";
static char *keys_dir;
static sd_event *event;
static SdloopPeer *host_end, *plugin_end;
static HostKeystore *ks;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

static void remove_tree(const char *path) {
        ck_assert_int_eq(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void setup(void) {
        int fds[2];

        strcpy(dir, "/tmp/sdloop-test-keystore-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_ge(asprintf(&keys_dir, "%s/state/keys", dir), 0);
        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], &plugin_end), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], &host_end), 0);
        /* As on a real connection, the host (the client) speaks first; only then may the plugin call it. */
        ck_assert_int_eq(sdloop_peer_call_method(host_end, "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello",
                                                 NULL, NULL, NULL), 0);

        {
                _cleanup_free_ char *state = NULL;

                ck_assert_int_ge(asprintf(&state, "%s/state", dir), 0);
                ck_assert_int_eq(host_keystore_new(state, &ks), 0);
        }
}

static void teardown(void) {
        sdloop_peer_disconnect(plugin_end);
        sdloop_peer_disconnect(host_end);
        plugin_end = sdloop_peer_unref(plugin_end);
        host_end = sdloop_peer_unref(host_end);
        event = sd_event_unref(event);
        ks = host_keystore_free(ks);
        remove_tree(dir);
        keys_dir = mfree(keys_dir);
}

static mode_t mode_of(const char *path) {
        struct stat st;

        ck_assert_int_eq(stat(path, &st), 0);
        return st.st_mode & 07777;
}

static char *key_path(const char *account) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s.key", keys_dir, account), 0);
        return p;
}

START_TEST(test_nothing_until_used) {
        struct stat st;

        /* Making the keystore touches nothing. */
        ck_assert_int_eq(stat(keys_dir, &st), -1);
        ck_assert_str_eq(host_keystore_get_directory(ks), keys_dir);
}
END_TEST

START_TEST(test_first_use_creates_key) {
        _cleanup_strv_free_ char **accounts = NULL, **again = NULL, **none = NULL;
        _cleanup_free_ char *path = NULL;
        struct stat st;

        /* Listing alone makes nothing (the feed lists the OCR keystore before making its keys). */
        ck_assert_int_eq(host_keystore_list(ks, &none), 0);
        ck_assert_uint_eq(strv_length(none), 0);
        ck_assert_int_eq(stat(keys_dir, &st), -1);

        ck_assert_int_eq(host_keystore_accounts(ks, &accounts), 0);
        ck_assert_uint_eq(strv_length(accounts), 1);
        ck_assert_uint_eq(strlen(accounts[0]), 64);
        ck_assert_uint_eq(strspn(accounts[0], "0123456789abcdef"), 64);

        ck_assert_uint_eq(mode_of(keys_dir), 0700);
        path = key_path(accounts[0]);
        ck_assert_uint_eq(mode_of(path), 0600);

        /* Once: the next call finds it. */
        ck_assert_int_eq(host_keystore_accounts(ks, &again), 0);
        ck_assert_uint_eq(strv_length(again), 1);
        ck_assert_str_eq(again[0], accounts[0]);
}
END_TEST

START_TEST(test_create_account_and_sign) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        _cleanup_strv_free_ char **accounts = NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes sig = {};
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        static const char msg[] = "report bytes";

        ck_assert_int_eq(host_keystore_create_account(ks, &a), 0);
        ck_assert_int_eq(host_keystore_create_account(ks, &b), 0);
        ck_assert_str_ne(a, b);
        ck_assert_int_eq(host_keystore_accounts(ks, &accounts), 0);
        ck_assert_uint_eq(strv_length(accounts), 2);
        /* Sorted. */
        ck_assert_int_lt(strcmp(accounts[0], accounts[1]), 0);

        ck_assert_int_eq(host_keystore_sign(ks, a, msg, strlen(msg), &sig), 0);
        ck_assert_uint_eq(sig.size, crypto_sign_BYTES);
        ck_assert_int_eq(sodium_hex2bin(pk, sizeof(pk), a, strlen(a), NULL, NULL, NULL), 0);
        ck_assert_int_eq(crypto_sign_verify_detached(sig.data, (const unsigned char *) msg, strlen(msg), pk), 0);
        /* Not b's signature. */
        ck_assert_int_eq(sodium_hex2bin(pk, sizeof(pk), b, strlen(b), NULL, NULL, NULL), 0);
        ck_assert_int_ne(crypto_sign_verify_detached(sig.data, (const unsigned char *) msg, strlen(msg), pk), 0);
}
END_TEST

START_TEST(test_sign_refusals) {
        _cleanup_free_ char *a = NULL, *path = NULL, *other = NULL;
        SdloopBytes sig = {};

        ck_assert_int_eq(host_keystore_create_account(ks, &a), 0);
        path = key_path(a);

        /* Unknown, malformed (no escaping the directory), upper case. */
        ck_assert_int_eq(host_keystore_sign(ks, "0000000000000000000000000000000000000000000000000000000000000000",
                                            "x", 1, &sig), -ENOENT);
        ck_assert_int_eq(host_keystore_sign(ks, "../../etc/passwd", "x", 1, &sig), -ENOENT);
        ck_assert_int_eq(host_keystore_sign(ks, "", "x", 1, &sig), -ENOENT);

        /* A key file others may read is not used. */
        ck_assert_int_eq(chmod(path, 0644), 0);
        ck_assert_int_eq(host_keystore_sign(ks, a, "x", 1, &sig), -EPERM);
        ck_assert_int_eq(chmod(path, 0600), 0);

        /* A file that holds another account's key is not used either. */
        ck_assert_int_eq(host_keystore_create_account(ks, &other), 0);
        {
                _cleanup_free_ char *other_path = key_path(other);

                ck_assert_int_eq(rename(other_path, path), 0);
        }
        ck_assert_int_eq(host_keystore_sign(ks, a, "x", 1, &sig), -EBADMSG);
        ck_assert_ptr_null(sig.data);
}
END_TEST

START_TEST(test_open_directory_refused) {
        _cleanup_free_ char *a = NULL;
        _cleanup_strv_free_ char **accounts = NULL;

        ck_assert_int_eq(host_keystore_create_account(ks, &a), 0);
        ck_assert_int_eq(chmod(keys_dir, 0755), 0);
        ck_assert_int_eq(host_keystore_create_account(ks, NULL), -EPERM);
}
END_TEST

/* --- over the wire -------------------------------------------------------------------------------------- */

START_TEST(test_keystore_exported) {
        _cleanup_strv_free_ char **accounts = NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes sig = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        SdloopBytes none = {};

        ck_assert_int_eq(host_services_export(host_end, ks), 0);

        ck_assert_int_eq(sdloop_keystore_accounts(plugin_end, HOST_KEYSTORE_PATH, &accounts, &error), 0);
        ck_assert_uint_eq(strv_length(accounts), 1);
        ck_assert_int_eq(sdloop_keystore_sign(plugin_end, HOST_KEYSTORE_PATH, accounts[0], "abc", 3, &sig, &error), 0);
        ck_assert_uint_eq(sig.size, crypto_sign_BYTES);
        ck_assert_int_eq(sodium_hex2bin(pk, sizeof(pk), accounts[0], 64, NULL, NULL, NULL), 0);
        ck_assert_int_eq(crypto_sign_verify_detached(sig.data, (const unsigned char *) "abc", 3, pk), 0);

        ck_assert_int_lt(sdloop_keystore_sign(plugin_end, HOST_KEYSTORE_PATH, "nope", "abc", 3, &none, &error), 0);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT));
        ck_assert(strstr(error.message, "account"));
        sd_bus_error_free(&error);

        ck_assert_int_lt(sdloop_keystore_sign(plugin_end, HOST_KEYSTORE_PATH,
                                              "1111111111111111111111111111111111111111111111111111111111111111", "abc",
                                              3, &none, &error), 0);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_NOT_FOUND));
}
END_TEST

START_TEST(test_no_keystore_no_object) {
        _cleanup_strv_free_ char **accounts = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        ck_assert_int_eq(host_services_export(host_end, NULL), 0);
        ck_assert_int_lt(sdloop_keystore_accounts(plugin_end, HOST_KEYSTORE_PATH, &accounts, &error), 0);
}
END_TEST

static int observe_calls;
static bool destroyed;

static int observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        observe_calls++;
        ck_assert_ptr_eq(userdata, &observe_calls);
        if (ts->round == 7)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "no value for round 7");
        *ret_value = strdup(ts->epoch == 2 ? "-1042" : "not a number");
        return *ret_value ? 0 : -ENOMEM;
}

static void destroy(void *userdata) {
        destroyed = true;
}

START_TEST(test_data_source) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *value = NULL;
        SdloopReportTimestamp ts = { .epoch = 2, .round = 1 };
        SdloopObject *o;

        ck_assert_int_eq(host_data_source_new(host_end, NULL, observe, &observe_calls, destroy, &o), 0);
        ck_assert_str_eq(sdloop_object_get_path(o), "/org/sdloop1/host/data_source/1");

        ck_assert_int_eq(sdloop_data_source_observe(plugin_end, sdloop_object_get_path(o), &ts, &value, &error), 0);
        ck_assert_str_eq(value, "-1042");
        ck_assert_int_eq(observe_calls, 1);

        /* The callback's error goes through; a bad value never leaves the host. */
        ts.round = 7;
        ck_assert_int_lt(sdloop_data_source_observe(plugin_end, sdloop_object_get_path(o), &ts, &value, &error), 0);
        ck_assert(strstr(error.message, "no value for round 7"));
        sd_bus_error_free(&error);
        ts = (SdloopReportTimestamp) { .epoch = 3 };
        ck_assert_int_lt(sdloop_data_source_observe(plugin_end, sdloop_object_get_path(o), &ts, &value, &error), 0);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INTERNAL));

        ck_assert(!destroyed);
        sdloop_object_close(o);
        ck_assert(destroyed);
}
END_TEST

START_TEST(test_error_log) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopObject *o;

        ck_assert_int_lt(host_error_log_new(host_end, NULL, "", &o), 0);
        ck_assert_int_eq(host_error_log_new(host_end, NULL, "median-eth", &o), 0);
        ck_assert_str_eq(sdloop_object_get_path(o), "/org/sdloop1/host/error_log/1");
        ck_assert_int_eq(sdloop_error_log_save_error(plugin_end, sdloop_object_get_path(o), "disk on fire", &error), 0);
        sdloop_object_close(o);
}
END_TEST

static Suite *host_services_suite(void) {
        Suite *s = suite_create("host-services");
        TCase *tc = tcase_create("host-services");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_nothing_until_used);
        tcase_add_test(tc, test_first_use_creates_key);
        tcase_add_test(tc, test_create_account_and_sign);
        tcase_add_test(tc, test_sign_refusals);
        tcase_add_test(tc, test_open_directory_refused);
        tcase_add_test(tc, test_keystore_exported);
        tcase_add_test(tc, test_no_keystore_no_object);
        tcase_add_test(tc, test_data_source);
        tcase_add_test(tc, test_error_log);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        /* What the error log writes goes to stderr here, not to the journal. */
        setenv("SDLOOP_LOG_TARGET", "stderr", 1);
        sdloop_log_parse_environment();

        sr = srunner_create(host_services_suite());
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
