/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The six provider component services over an in-process peer pair: one provider object carrying all of
 * them on the server side, every method called through the typed client functions, plus the ConfigChanged
 * signal, Unimplemented, contract violations by the implementation (Internal), malformed input and
 * malformed replies (InvalidArgument). */

#include <check.h>
#include <sys/socket.h>

#include "macro.h"
#include "sdloop.h"

#define TIMEOUT_USEC (5 * USEC_PER_SEC)

/* --- fixtures (the values of LOOP's static provider test set, where they fit the contract) ------------ */

static const uint8_t fixture_digest[SDLOOP_DIGEST_SIZE] = { [2] = 10, [12] = 16 };
static const uint8_t fixture_report[43] = { [42] = 101 };
static const uint8_t fixture_signature[10] = { [0] = 0xAA, [9] = 0x55 };
static const uint8_t fixture_encoded[6] = { [5] = 11 };
static const uint8_t fixture_onchain[32] = { [0] = 1, [31] = 2 };
static const uint8_t fixture_offchain[13] = { [12] = 7 };

#define FIXTURE_PREFIX           99
#define FIXTURE_CHANGED_IN_BLOCK 14
#define FIXTURE_BLOCK_HEIGHT     1337
#define FIXTURE_EPOCH            88
#define FIXTURE_ROUND            74
#define FIXTURE_ACCOUNT          "testaccount"
#define FIXTURE_MEDIAN           "-1042"
#define FIXTURE_N                12
#define FIXTURE_MAX              101
#define FIXTURE_ANSWER           "-66"
#define FIXTURE_TIMESTAMP_USEC   INT64_C(1234567890987654)
#define FIXTURE_LOOKBACK_USEC    (64 * USEC_PER_SEC)
#define FIXTURE_MIN              "-12"
#define FIXTURE_MAXIMUM          "1234567890987654321"
#define FIXTURE_SIGNER_ORACLE    54

static const char *fixture_transmitters[] = { "foo", "bar", "baz", "qux", NULL };
#define FIXTURE_N_SIGNERS 4

static const SdloopParsedObservation fixture_observation = {
        .timestamp = 123,
        .value = (char *) "31",
        .juels_per_fee_coin = (char *) "54",
        .observer = 99,
};

static const SdloopReportContext fixture_context = {
        .timestamp = {
                .digest = { [2] = 10, [12] = 16 },
                .epoch = FIXTURE_EPOCH,
                .round = FIXTURE_ROUND,
        },
        .extra_hash = { [1] = 2, [3] = 4, [5] = 6 },
};

/* Four 16-byte signers, one transmitter each, f = 1: a config the codec accepts (3f < n). */
static void fixture_config(SdloopContractConfig *c) {
        static uint8_t signer_keys[FIXTURE_N_SIGNERS][16];
        static SdloopBytes signers[FIXTURE_N_SIGNERS];

        for (size_t i = 0; i < FIXTURE_N_SIGNERS; i++) {
                signer_keys[i][15] = (uint8_t) (i + 1);
                signers[i] = (SdloopBytes) { .data = signer_keys[i], .size = sizeof(signer_keys[i]) };
        }

        *c = (SdloopContractConfig) {
                .config_count = 42,
                .signers = signers,
                .n_signers = FIXTURE_N_SIGNERS,
                .transmitters = (char **) fixture_transmitters,
                .f = 1,
                .onchain_config = { .data = (uint8_t *) fixture_onchain, .size = sizeof(fixture_onchain) },
                .offchain_config_version = 2,
                .offchain_config = { .data = (uint8_t *) fixture_offchain, .size = sizeof(fixture_offchain) },
        };
        memcpy(c->digest, fixture_digest, SDLOOP_DIGEST_SIZE);
}

static bool bytes_eq(const SdloopBytes *b, const void *data, size_t size) {
        return b->size == size && (size == 0 || memcmp(b->data, data, size) == 0);
}

static bool config_is_fixture(const SdloopContractConfig *c) {
        SdloopContractConfig f;

        fixture_config(&f);
        if (memcmp(c->digest, f.digest, SDLOOP_DIGEST_SIZE) != 0 || c->config_count != f.config_count ||
            c->n_signers != f.n_signers || c->f != f.f || c->offchain_config_version != f.offchain_config_version ||
            !bytes_eq(&c->onchain_config, f.onchain_config.data, f.onchain_config.size) ||
            !bytes_eq(&c->offchain_config, f.offchain_config.data, f.offchain_config.size))
                return false;
        for (size_t i = 0; i < f.n_signers; i++)
                if (!bytes_eq(&c->signers[i], f.signers[i].data, f.signers[i].size))
                        return false;
        if (strv_length(c->transmitters) != strv_length(f.transmitters))
                return false;
        for (size_t i = 0; f.transmitters[i]; i++)
                if (!streq(c->transmitters[i], f.transmitters[i]))
                        return false;
        return true;
}

static int wrong(sd_bus_error *error, const char *what) {
        return sdloop_error_invalid(error, what, "not the fixture value");
}

/* --- the implementation behind the provider object ----------------------------------------------------- */

typedef struct Provider {
        /* Make the implementation break the contract. */
        bool bad_median, bad_answer, bad_max, bad_decode, no_account;
        unsigned n_transmits;
} Provider;

static Provider provider;

static int impl_config_digest(void *userdata, const SdloopContractConfig *config,
                              uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        ck_assert_ptr_eq(userdata, &provider);
        if (!config_is_fixture(config))
                return wrong(error, "contract_config");
        memcpy(ret_digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int impl_config_digest_prefix(void *userdata, uint16_t *ret_prefix, sd_bus_error *error) {
        ck_assert_ptr_eq(userdata, &provider);
        *ret_prefix = FIXTURE_PREFIX;
        return 0;
}

static int impl_latest_config_details(void *userdata, uint64_t *ret_changed_in_block,
                                      uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], sd_bus_error *error) {
        *ret_changed_in_block = FIXTURE_CHANGED_IN_BLOCK;
        memcpy(ret_digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        return 0;
}

static int impl_latest_config(void *userdata, uint64_t changed_in_block, SdloopContractConfig *ret,
                              sd_bus_error *error) {
        SdloopContractConfig f;

        if (changed_in_block != FIXTURE_CHANGED_IN_BLOCK)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "no config changed in block %" PRIu64,
                                         changed_in_block);

        /* The library frees what it gets: hand out copies. */
        fixture_config(&f);
        *ret = f;
        ret->signers = new0(SdloopBytes, f.n_signers);
        ck_assert_ptr_nonnull(ret->signers);
        for (size_t i = 0; i < f.n_signers; i++)
                ck_assert_int_eq(sdloop_bytes_copy(&ret->signers[i], f.signers[i].data, f.signers[i].size), 0);
        ret->transmitters = new0(char *, strv_length(f.transmitters) + 1);
        ck_assert_ptr_nonnull(ret->transmitters);
        for (size_t i = 0; f.transmitters[i]; i++)
                ck_assert_ptr_nonnull(ret->transmitters[i] = strdup(f.transmitters[i]));
        ret->onchain_config = (SdloopBytes) {};
        ret->offchain_config = (SdloopBytes) {};
        ck_assert_int_eq(sdloop_bytes_copy(&ret->onchain_config, f.onchain_config.data, f.onchain_config.size), 0);
        ck_assert_int_eq(sdloop_bytes_copy(&ret->offchain_config, f.offchain_config.data, f.offchain_config.size), 0);
        return 0;
}

static int impl_latest_block_height(void *userdata, uint64_t *ret_height, sd_bus_error *error) {
        *ret_height = FIXTURE_BLOCK_HEIGHT;
        return 0;
}

static int impl_transmit(void *userdata, const SdloopReportContext *ctx, const SdloopBytes *report,
                         const SdloopAttributed *signatures, size_t n_signatures, sd_bus_error *error) {
        Provider *p = userdata;

        if (memcmp(ctx->timestamp.digest, fixture_context.timestamp.digest, SDLOOP_DIGEST_SIZE) != 0 ||
            ctx->timestamp.epoch != fixture_context.timestamp.epoch ||
            ctx->timestamp.round != fixture_context.timestamp.round ||
            memcmp(ctx->extra_hash, fixture_context.extra_hash, SDLOOP_DIGEST_SIZE) != 0)
                return wrong(error, "report_context");
        if (!bytes_eq(report, fixture_report, sizeof(fixture_report)))
                return wrong(error, "report");
        if (n_signatures != 1 || signatures[0].oracle != FIXTURE_SIGNER_ORACLE ||
            !bytes_eq(&signatures[0].data, fixture_signature, sizeof(fixture_signature)))
                return wrong(error, "signatures");
        p->n_transmits++;
        return 0;
}

static int impl_latest_config_digest_and_epoch(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                               uint32_t *ret_epoch, sd_bus_error *error) {
        memcpy(ret_digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = FIXTURE_EPOCH;
        return 0;
}

static int impl_from_account(void *userdata, char **ret_account, sd_bus_error *error) {
        Provider *p = userdata;

        if (p->no_account) {
                *ret_account = NULL;
                return 0;
        }
        *ret_account = strdup(FIXTURE_ACCOUNT);
        return *ret_account ? 0 : -ENOMEM;
}

static int impl_build_report(void *userdata, const SdloopParsedObservation *obs, size_t n_obs,
                             SdloopBytes *ret_report, sd_bus_error *error) {
        if (n_obs != 1 || obs[0].timestamp != fixture_observation.timestamp ||
            !streq(obs[0].value, fixture_observation.value) ||
            !streq(obs[0].juels_per_fee_coin, fixture_observation.juels_per_fee_coin) ||
            obs[0].observer != fixture_observation.observer)
                return wrong(error, "observations");
        return sdloop_bytes_copy(ret_report, fixture_report, sizeof(fixture_report));
}

static int impl_median_from_report(void *userdata, const SdloopBytes *report, char **ret_median,
                                   sd_bus_error *error) {
        Provider *p = userdata;

        if (!bytes_eq(report, fixture_report, sizeof(fixture_report)))
                return wrong(error, "report");
        *ret_median = strdup(p->bad_median ? "007" : FIXTURE_MEDIAN);
        return *ret_median ? 0 : -ENOMEM;
}

static int impl_max_report_length(void *userdata, int64_t n, int64_t *ret_max, sd_bus_error *error) {
        Provider *p = userdata;

        if (n != FIXTURE_N)
                return wrong(error, "n");
        *ret_max = p->bad_max ? -1 : FIXTURE_MAX;
        return 0;
}

static int impl_latest_transmission_details(void *userdata, uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                            uint32_t *ret_epoch, uint8_t *ret_round, char **ret_latest_answer,
                                            int64_t *ret_latest_timestamp_usec, sd_bus_error *error) {
        Provider *p = userdata;

        memcpy(ret_digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = FIXTURE_EPOCH;
        *ret_round = FIXTURE_ROUND;
        *ret_latest_answer = strdup(p->bad_answer ? "1.5" : FIXTURE_ANSWER);
        *ret_latest_timestamp_usec = FIXTURE_TIMESTAMP_USEC;
        return *ret_latest_answer ? 0 : -ENOMEM;
}

static int impl_latest_round_requested(void *userdata, uint64_t lookback_usec,
                                       uint8_t ret_digest[static SDLOOP_DIGEST_SIZE], uint32_t *ret_epoch,
                                       uint8_t *ret_round, sd_bus_error *error) {
        if (lookback_usec != FIXTURE_LOOKBACK_USEC)
                return wrong(error, "lookback_usec");
        memcpy(ret_digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        *ret_epoch = FIXTURE_EPOCH;
        *ret_round = FIXTURE_ROUND;
        return 0;
}

static int impl_encode(void *userdata, const SdloopOnchainConfig *config, SdloopBytes *ret_encoded,
                       sd_bus_error *error) {
        if (!streq(config->min, FIXTURE_MIN) || !streq(config->max, FIXTURE_MAXIMUM))
                return wrong(error, "onchain_config");
        return sdloop_bytes_copy(ret_encoded, fixture_encoded, sizeof(fixture_encoded));
}

static int impl_decode(void *userdata, const SdloopBytes *encoded, SdloopOnchainConfig *ret,
                       sd_bus_error *error) {
        Provider *p = userdata;

        if (!bytes_eq(encoded, fixture_encoded, sizeof(fixture_encoded)))
                return wrong(error, "encoded");
        /* Swapped, the pair breaks min <= max. */
        ret->min = strdup(p->bad_decode ? FIXTURE_MAXIMUM : FIXTURE_MIN);
        ret->max = strdup(p->bad_decode ? FIXTURE_MIN : FIXTURE_MAXIMUM);
        return ret->min && ret->max ? 0 : -ENOMEM;
}

static const SdloopOffchainConfigDigesterOps digester_ops = {
        .config_digest = impl_config_digest,
        .config_digest_prefix = impl_config_digest_prefix,
};
static const SdloopContractConfigTrackerOps tracker_ops = {
        .latest_config_details = impl_latest_config_details,
        .latest_config = impl_latest_config,
        .latest_block_height = impl_latest_block_height,
};
static const SdloopContractTransmitterOps transmitter_ops = {
        .transmit = impl_transmit,
        .latest_config_digest_and_epoch = impl_latest_config_digest_and_epoch,
        .from_account = impl_from_account,
};
static const SdloopReportCodecOps report_codec_ops = {
        .build_report = impl_build_report,
        .median_from_report = impl_median_from_report,
        .max_report_length = impl_max_report_length,
};
static const SdloopMedianContractOps median_contract_ops = {
        .latest_transmission_details = impl_latest_transmission_details,
        .latest_round_requested = impl_latest_round_requested,
};
static const SdloopOnchainConfigCodecOps onchain_config_codec_ops = {
        .encode = impl_encode,
        .decode = impl_decode,
};

/* --- the peer pair ------------------------------------------------------------------------------------ */

static sd_event *event;
static SdloopPeer *server, *client;
static SdloopObject *object;
static const char *path;

static void export_all(SdloopObject *o, bool implemented) {
        static const SdloopOffchainConfigDigesterOps no_digester_ops = {};
        static const SdloopContractConfigTrackerOps no_tracker_ops = {};
        static const SdloopContractTransmitterOps no_transmitter_ops = {};
        static const SdloopReportCodecOps no_report_codec_ops = {};
        static const SdloopMedianContractOps no_median_contract_ops = {};
        static const SdloopOnchainConfigCodecOps no_onchain_config_codec_ops = {};

        ck_assert_int_eq(sdloop_offchain_config_digester_export(o, implemented ? &digester_ops : &no_digester_ops,
                                                                &provider), 0);
        ck_assert_int_eq(sdloop_contract_config_tracker_export(o, implemented ? &tracker_ops : &no_tracker_ops,
                                                               &provider), 0);
        ck_assert_int_eq(sdloop_contract_transmitter_export(o, implemented ? &transmitter_ops : &no_transmitter_ops,
                                                            &provider), 0);
        ck_assert_int_eq(sdloop_report_codec_export(o, implemented ? &report_codec_ops : &no_report_codec_ops,
                                                    &provider), 0);
        ck_assert_int_eq(sdloop_median_contract_export(o, implemented ? &median_contract_ops : &no_median_contract_ops,
                                                       &provider), 0);
        ck_assert_int_eq(sdloop_onchain_config_codec_export(o, implemented ? &onchain_config_codec_ops :
                                                                             &no_onchain_config_codec_ops,
                                                            &provider), 0);
}

static void setup(void) {
        int fds[2];

        provider = (Provider) {};

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], &server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], &client), 0);

        ck_assert_int_eq(sdloop_object_new(server, NULL, "provider", NULL, &provider, &object), 0);
        path = sdloop_object_get_path(object);
        export_all(object, true);
}

static void teardown(void) {
        client = sdloop_peer_unref(client);
        server = sdloop_peer_unref(server);
        event = sd_event_unref(event);
        object = NULL;
        path = NULL;
}

/* r is @expected_r and @error carries @name and mentions @needle (may be NULL); then @error is freed. */
#define assert_error(r, e, expected_r, expected_name, needle)                                                  \
        do {                                                                                                  \
                int _r = (r);                                                                                 \
                ck_assert_msg(_r == (expected_r), "got %d (%s: %s), expected %d", _r,                         \
                              strempty((e)->name), strempty((e)->message), (expected_r));                    \
                ck_assert_msg(sd_bus_error_has_name((e), (expected_name)), "error %s (%s), expected %s",     \
                              strempty((e)->name), strempty((e)->message), (expected_name));                 \
                if (needle)                                                                                   \
                        ck_assert_msg(strstr(strempty((e)->message), (needle)),                               \
                                      "\"%s\" does not mention \"%s\"", strempty((e)->message),              \
                                      (const char *) (needle));                                               \
                sd_bus_error_free(e);                                                                         \
        } while (0)

/* The server is still there and answering. */
static void assert_server_answers(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint16_t prefix = 0;

        ck_assert(sdloop_peer_is_connected(client));
        ck_assert(sdloop_peer_is_connected(server));
        ck_assert_int_eq(sdloop_offchain_config_digester_config_digest_prefix(client, path, &prefix, &error), 0);
        ck_assert_uint_eq(prefix, FIXTURE_PREFIX);
        ck_assert_ptr_nonnull(sdloop_peer_find_object(server, path));
}

/* --- round trips -------------------------------------------------------------------------------------- */

START_TEST(test_offchain_config_digester) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        SdloopContractConfig config;
        uint16_t prefix = 0;

        fixture_config(&config);
        ck_assert_int_eq(sdloop_offchain_config_digester_config_digest(client, path, &config, digest, &error), 0);
        ck_assert_mem_eq(digest, fixture_digest, SDLOOP_DIGEST_SIZE);

        ck_assert_int_eq(sdloop_offchain_config_digester_config_digest_prefix(client, path, &prefix, &error), 0);
        ck_assert_uint_eq(prefix, FIXTURE_PREFIX);

        /* The implementation's own error travels unchanged. */
        config.config_count = 43;
        assert_error(sdloop_offchain_config_digester_config_digest(client, path, &config, digest, &error), &error,
                     -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "contract_config: not the fixture value");
}
END_TEST

START_TEST(test_contract_config_tracker) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        uint64_t block = 0, height = 0;

        ck_assert_int_eq(sdloop_contract_config_tracker_latest_config_details(client, path, &block, digest, &error), 0);
        ck_assert_uint_eq(block, FIXTURE_CHANGED_IN_BLOCK);
        ck_assert_mem_eq(digest, fixture_digest, SDLOOP_DIGEST_SIZE);

        ck_assert_int_eq(sdloop_contract_config_tracker_latest_config(client, path, FIXTURE_CHANGED_IN_BLOCK, &config,
                                                                      &error), 0);
        ck_assert(config_is_fixture(&config));

        /* NotFound from the implementation, and the caller's struct stays as it was. */
        sdloop_contract_config_done(&config);
        config.config_count = 7;
        assert_error(sdloop_contract_config_tracker_latest_config(client, path, 15, &config, &error), &error, -ENOENT,
                     SDLOOP_ERROR_NOT_FOUND, "block 15");
        ck_assert_uint_eq(config.config_count, 7);

        ck_assert_int_eq(sdloop_contract_config_tracker_latest_block_height(client, path, &height, &error), 0);
        ck_assert_uint_eq(height, FIXTURE_BLOCK_HEIGHT);
}
END_TEST

typedef struct Watcher {
        bool done;
        unsigned n_calls;
        uint64_t block;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        char path[128];
} Watcher;

static int on_config_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watcher *w = userdata;
        const void *p;
        size_t size;

        ck_assert_int_gt(sd_bus_message_read_basic(m, 't', &w->block), 0);
        ck_assert_int_gt(sd_bus_message_read_array(m, 'y', &p, &size), 0);
        ck_assert_uint_eq(size, SDLOOP_DIGEST_SIZE);
        memcpy(w->digest, p, size);
        snprintf(w->path, sizeof(w->path), "%s", strempty(sd_bus_message_get_path(m)));
        w->n_calls++;
        w->done = true;
        return 0;
}

START_TEST(test_config_changed) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *bad = NULL;
        sd_bus_slot *slot = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        Watcher w = {};
        uint16_t prefix;

        ck_assert_int_eq(sdloop_contract_config_tracker_watch(client, path, &slot, on_config_changed, &w), 0);

        /* A malformed signal first (a 31-byte digest): dropped, the handler never sees it. */
        ck_assert_int_ge(sd_bus_message_new_signal(sdloop_peer_get_bus(server), &bad, path,
                                                   "org.sdloop1.ContractConfigTracker", "ConfigChanged"), 0);
        ck_assert_int_ge(sd_bus_message_append(bad, "t", (uint64_t) 1), 0);
        ck_assert_int_ge(sd_bus_message_append_array(bad, 'y', fixture_digest, SDLOOP_DIGEST_SIZE - 1), 0);
        ck_assert_int_ge(sd_bus_send(NULL, bad, NULL), 0);

        memcpy(digest, fixture_digest, sizeof(digest));
        digest[31] = 0xEE;
        ck_assert_int_eq(sdloop_contract_config_tracker_emit_config_changed(object, 4242, digest), 0);

        ck_assert_int_eq(sdloop_peer_wait_for(client, &w.done, TIMEOUT_USEC), 0);
        ck_assert_uint_eq(w.n_calls, 1);
        ck_assert_uint_eq(w.block, 4242);
        ck_assert_mem_eq(w.digest, digest, SDLOOP_DIGEST_SIZE);
        ck_assert_str_eq(w.path, path);

        /* Dropping the slot ends the watch. A call after the emission pumps the loop past the signal, since
         * the connection delivers in order. */
        slot = sd_bus_slot_unref(slot);
        ck_assert_int_eq(sdloop_contract_config_tracker_emit_config_changed(object, 4343, digest), 0);
        ck_assert_int_eq(sdloop_offchain_config_digester_config_digest_prefix(client, path, &prefix, &error), 0);
        ck_assert_uint_eq(w.n_calls, 1);

        /* A floating watch (no slot) works too. */
        w.done = false;
        ck_assert_int_eq(sdloop_contract_config_tracker_watch(client, path, NULL, on_config_changed, &w), 0);
        ck_assert_int_eq(sdloop_contract_config_tracker_emit_config_changed(object, 4444, digest), 0);
        ck_assert_int_eq(sdloop_peer_wait_for(client, &w.done, TIMEOUT_USEC), 0);
        ck_assert_uint_eq(w.n_calls, 2);
        ck_assert_uint_eq(w.block, 4444);
}
END_TEST

START_TEST(test_contract_transmitter) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        _cleanup_free_ char *account = NULL;
        uint32_t epoch = 0;
        SdloopAttributed sig = {
                .data = { .data = (uint8_t *) fixture_signature, .size = sizeof(fixture_signature) },
                .oracle = FIXTURE_SIGNER_ORACLE,
        };

        ck_assert_int_eq(sdloop_contract_transmitter_transmit(client, path, &fixture_context, fixture_report,
                                                              sizeof(fixture_report), &sig, 1, &error), 0);
        ck_assert_uint_eq(provider.n_transmits, 1);

        ck_assert_int_eq(sdloop_contract_transmitter_latest_config_digest_and_epoch(client, path, digest, &epoch,
                                                                                    &error), 0);
        ck_assert_mem_eq(digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(epoch, FIXTURE_EPOCH);

        ck_assert_int_eq(sdloop_contract_transmitter_from_account(client, path, &account, &error), 0);
        ck_assert_str_eq(account, FIXTURE_ACCOUNT);
}
END_TEST

START_TEST(test_report_codec) {
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *median = NULL;
        int64_t max = 0;

        ck_assert_int_eq(sdloop_report_codec_build_report(client, path, &fixture_observation, 1, &report, &error), 0);
        ck_assert(bytes_eq(&report, fixture_report, sizeof(fixture_report)));

        ck_assert_int_eq(sdloop_report_codec_median_from_report(client, path, report.data, report.size, &median,
                                                                &error), 0);
        ck_assert_str_eq(median, FIXTURE_MEDIAN);

        ck_assert_int_eq(sdloop_report_codec_max_report_length(client, path, FIXTURE_N, &max, &error), 0);
        ck_assert_int_eq(max, FIXTURE_MAX);
}
END_TEST

START_TEST(test_median_contract) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE] = {};
        _cleanup_free_ char *answer = NULL;
        int64_t timestamp = 0;
        uint32_t epoch = 0;
        uint8_t round = 0;

        ck_assert_int_eq(sdloop_median_contract_latest_transmission_details(client, path, digest, &epoch, &round,
                                                                            &answer, &timestamp, &error), 0);
        ck_assert_mem_eq(digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(epoch, FIXTURE_EPOCH);
        ck_assert_uint_eq(round, FIXTURE_ROUND);
        ck_assert_str_eq(answer, FIXTURE_ANSWER);
        ck_assert_int_eq(timestamp, FIXTURE_TIMESTAMP_USEC);

        memset(digest, 0, sizeof(digest));
        epoch = round = 0;
        ck_assert_int_eq(sdloop_median_contract_latest_round_requested(client, path, FIXTURE_LOOKBACK_USEC, digest,
                                                                       &epoch, &round, &error), 0);
        ck_assert_mem_eq(digest, fixture_digest, SDLOOP_DIGEST_SIZE);
        ck_assert_uint_eq(epoch, FIXTURE_EPOCH);
        ck_assert_uint_eq(round, FIXTURE_ROUND);
}
END_TEST

START_TEST(test_onchain_config_codec) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig decoded = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes encoded = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const SdloopOnchainConfig config = { .min = (char *) FIXTURE_MIN, .max = (char *) FIXTURE_MAXIMUM };

        ck_assert_int_eq(sdloop_onchain_config_codec_encode(client, path, &config, &encoded, &error), 0);
        ck_assert(bytes_eq(&encoded, fixture_encoded, sizeof(fixture_encoded)));

        ck_assert_int_eq(sdloop_onchain_config_codec_decode(client, path, encoded.data, encoded.size, &decoded,
                                                            &error), 0);
        ck_assert_str_eq(decoded.min, FIXTURE_MIN);
        ck_assert_str_eq(decoded.max, FIXTURE_MAXIMUM);
}
END_TEST

/* --- Unimplemented ------------------------------------------------------------------------------------ */

START_TEST(test_unimplemented) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig got = {};
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig decoded = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes bytes = {};
        const SdloopOnchainConfig config = { .min = (char *) FIXTURE_MIN, .max = (char *) FIXTURE_MAXIMUM };
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        SdloopContractConfig cc;
        SdloopObject *empty;
        const char *p;
        char *s = NULL;
        uint64_t u64;
        int64_t i64 = 5;
        uint32_t u32;
        uint16_t u16;
        uint8_t u8;

        ck_assert_int_eq(sdloop_object_new(server, NULL, "provider", NULL, NULL, &empty), 0);
        export_all(empty, false);
        p = sdloop_object_get_path(empty);
        fixture_config(&cc);

#define ASSERT_UNIMPLEMENTED(call, member)                                                                     \
        assert_error((call), &error, -EOPNOTSUPP, SDLOOP_ERROR_UNIMPLEMENTED, member)

        ASSERT_UNIMPLEMENTED(sdloop_offchain_config_digester_config_digest(client, p, &cc, digest, &error), "ConfigDigest");
        ASSERT_UNIMPLEMENTED(sdloop_offchain_config_digester_config_digest_prefix(client, p, &u16, &error),
                             "ConfigDigestPrefix");
        ASSERT_UNIMPLEMENTED(sdloop_contract_config_tracker_latest_config_details(client, p, &u64, digest, &error),
                             "LatestConfigDetails");
        ASSERT_UNIMPLEMENTED(sdloop_contract_config_tracker_latest_config(client, p, 1, &got, &error), "LatestConfig");
        ASSERT_UNIMPLEMENTED(sdloop_contract_config_tracker_latest_block_height(client, p, &u64, &error),
                             "LatestBlockHeight");
        ASSERT_UNIMPLEMENTED(sdloop_contract_transmitter_transmit(client, p, &fixture_context, fixture_report,
                                                                  sizeof(fixture_report), NULL, 0, &error),
                             "Transmit");
        ASSERT_UNIMPLEMENTED(sdloop_contract_transmitter_latest_config_digest_and_epoch(client, p, digest, &u32,
                                                                                        &error),
                             "LatestConfigDigestAndEpoch");
        ASSERT_UNIMPLEMENTED(sdloop_contract_transmitter_from_account(client, p, &s, &error), "FromAccount");
        ASSERT_UNIMPLEMENTED(sdloop_report_codec_build_report(client, p, &fixture_observation, 1, &bytes, &error),
                             "BuildReport");
        ASSERT_UNIMPLEMENTED(sdloop_report_codec_median_from_report(client, p, fixture_report, sizeof(fixture_report),
                                                                    &s, &error),
                             "MedianFromReport");
        ASSERT_UNIMPLEMENTED(sdloop_report_codec_max_report_length(client, p, 1, &i64, &error), "MaxReportLength");
        ASSERT_UNIMPLEMENTED(sdloop_median_contract_latest_transmission_details(client, p, digest, &u32, &u8, &s,
                                                                                &i64, &error),
                             "LatestTransmissionDetails");
        ASSERT_UNIMPLEMENTED(sdloop_median_contract_latest_round_requested(client, p, 1, digest, &u32, &u8, &error),
                             "LatestRoundRequested");
        ASSERT_UNIMPLEMENTED(sdloop_onchain_config_codec_encode(client, p, &config, &bytes, &error), "Encode");
        ASSERT_UNIMPLEMENTED(sdloop_onchain_config_codec_decode(client, p, fixture_encoded, sizeof(fixture_encoded),
                                                                &decoded, &error),
                             "Decode");
#undef ASSERT_UNIMPLEMENTED

        /* Nothing was handed out on failure. */
        ck_assert_ptr_null(s);
        ck_assert_int_eq(i64, 5);
        ck_assert_ptr_null(bytes.data);

        assert_server_answers();
}
END_TEST

/* --- the implementation breaking the contract: Internal ------------------------------------------------ */

START_TEST(test_bad_results) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig decoded = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        char *s = NULL;
        int64_t max = 5, ts;
        uint32_t epoch;
        uint8_t round;

        provider.bad_median = true;
        assert_error(sdloop_report_codec_median_from_report(client, path, fixture_report, sizeof(fixture_report), &s,
                                                            &error),
                     &error, -EIO, SDLOOP_ERROR_INTERNAL, "ReportCodec.MedianFromReport");
        ck_assert_ptr_null(s);

        provider.bad_max = true;
        assert_error(sdloop_report_codec_max_report_length(client, path, FIXTURE_N, &max, &error), &error, -EIO,
                     SDLOOP_ERROR_INTERNAL, "negative max");
        ck_assert_int_eq(max, 5);

        provider.bad_answer = true;
        assert_error(sdloop_median_contract_latest_transmission_details(client, path, digest, &epoch, &round, &s, &ts,
                                                                        &error),
                     &error, -EIO, SDLOOP_ERROR_INTERNAL, "latest_answer");
        ck_assert_ptr_null(s);

        provider.bad_decode = true;
        assert_error(sdloop_onchain_config_codec_decode(client, path, fixture_encoded, sizeof(fixture_encoded),
                                                        &decoded, &error),
                     &error, -EIO, SDLOOP_ERROR_INTERNAL, "greater than its max");
        ck_assert_ptr_null(decoded.min);

        provider.no_account = true;
        assert_error(sdloop_contract_transmitter_from_account(client, path, &s, &error), &error, -EIO,
                     SDLOOP_ERROR_INTERNAL, "no account");
        ck_assert_ptr_null(s);

        assert_server_answers();
}
END_TEST

/* --- malformed input: InvalidArgument, and the server carries on -------------------------------------- */

static void append_signature(sd_bus_message *m, size_t size, uint8_t oracle) {
        _cleanup_free_ uint8_t *data = new0(uint8_t, size);

        ck_assert_ptr_nonnull(data);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "ayy"), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, size), 0);
        ck_assert_int_ge(sd_bus_message_append_basic(m, 'y', &oracle), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
}

static sd_bus_message *new_transmit(size_t n_signatures, size_t signature_size) {
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sdloop_peer_new_call(client, path, "org.sdloop1.ContractTransmitter", "Transmit", &m), 0);
        ck_assert_int_ge(sdloop_append_report_context(m, &fixture_context), 0);
        ck_assert_int_ge(sdloop_append_bytes(m, fixture_report, sizeof(fixture_report)), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "(ayy)"), 0);
        for (size_t i = 0; i < n_signatures; i++)
                append_signature(m, signature_size, (uint8_t) i);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        return m;
}

START_TEST(test_bad_input) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes bytes = {};
        char *median = NULL;
        int64_t max = 5;

        /* A contract config whose digest is 31 bytes. */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                ck_assert_int_ge(sdloop_peer_new_call(client, path, "org.sdloop1.OffchainConfigDigester",
                                                      "ConfigDigest", &m), 0);
                ck_assert_int_ge(sd_bus_message_open_container(m, 'r', "aytaayasyaytay"), 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', fixture_digest, SDLOOP_DIGEST_SIZE - 1), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "taayasyaytay", (uint64_t) 42, 0, 0, 0, 0, (uint64_t) 2, 0),
                                 0);
                ck_assert_int_ge(sd_bus_message_close_container(m), 0);
                assert_error(sdloop_peer_call(client, m, 0, NULL, &error), &error, -EINVAL,
                             SDLOOP_ERROR_INVALID_ARGUMENT, "contract_config.digest: expected 32 bytes, got 31");
        }

        /* A parsed observation whose value is not a decimal: refused by the server... */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                ck_assert_int_ge(sdloop_peer_new_call(client, path, "org.sdloop1.ReportCodec", "BuildReport", &m), 0);
                ck_assert_int_ge(sd_bus_message_append(m, "a(ussy)", 1, 123, "031", "54", 99), 0);
                assert_error(sdloop_peer_call(client, m, 0, NULL, &error), &error, -EINVAL,
                             SDLOOP_ERROR_INVALID_ARGUMENT, "observations[0].value");
        }
        /* ... and by the client before sending. */
        {
                SdloopParsedObservation obs = fixture_observation;

                obs.juels_per_fee_coin = (char *) "12e3";
                assert_error(sdloop_report_codec_build_report(client, path, &obs, 1, &bytes, &error), &error, -EINVAL,
                             SDLOOP_ERROR_INVALID_ARGUMENT, "observations[0].juels_per_fee_coin");
                ck_assert_ptr_null(bytes.data);
        }

        /* An oversized report never leaves the client (the size is checked before the data is touched). */
        assert_error(sdloop_contract_transmitter_transmit(client, path, &fixture_context, fixture_report,
                                                          (size_t) SDLOOP_PAYLOAD_MAX + 1, NULL, 0, &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "report");
        assert_error(sdloop_report_codec_median_from_report(client, path, fixture_report,
                                                            (size_t) SDLOOP_PAYLOAD_MAX + 1, &median,
                                                            &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "report");
        ck_assert_ptr_null(median);

        /* Signatures: too large, too many (server side, sent raw; and client side). */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_transmit(1, 1025);

                assert_error(sdloop_peer_call(client, m, 0, NULL, &error), &error, -EINVAL,
                             SDLOOP_ERROR_INVALID_ARGUMENT, "signatures[0].data");
        }
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_transmit(SDLOOP_ORACLES_MAX + 1, 10);

                assert_error(sdloop_peer_call(client, m, 0, NULL, &error), &error, -EINVAL,
                             SDLOOP_ERROR_INVALID_ARGUMENT, "signatures: expected at most 31");
        }
        {
                SdloopAttributed sigs[SDLOOP_ORACLES_MAX + 1] = {};

                assert_error(sdloop_contract_transmitter_transmit(client, path, &fixture_context, fixture_report,
                                                                  sizeof(fixture_report), sigs, SDLOOP_ORACLES_MAX + 1, &error),
                             &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "signatures");
                sigs[0].data = (SdloopBytes) { .data = (uint8_t *) fixture_report, .size = 2048 };
                assert_error(sdloop_contract_transmitter_transmit(client, path, &fixture_context, fixture_report,
                                                                  sizeof(fixture_report), sigs, 1, &error),
                             &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "signatures[0].data");
        }
        ck_assert_uint_eq(provider.n_transmits, 0);

        /* A negative n for MaxReportLength. */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                assert_error(sdloop_peer_call_method(client, path, "org.sdloop1.ReportCodec", "MaxReportLength",
                                                     &reply, &error, "x", INT64_C(-1)),
                             &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "n: must not be negative");
        }
        assert_error(sdloop_report_codec_max_report_length(client, path, -1, &max, &error), &error, -EINVAL,
                     SDLOOP_ERROR_INVALID_ARGUMENT, "n: must not be negative");
        ck_assert_int_eq(max, 5);

        /* min > max for Encode, and a malformed decimal. */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

                assert_error(sdloop_peer_call_method(client, path, "org.sdloop1.OnchainConfigCodec", "Encode", &reply,
                                                     &error, "(ss)", "5", "4"),
                             &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "onchain_config");
                assert_error(sdloop_peer_call_method(client, path, "org.sdloop1.OnchainConfigCodec", "Encode", &reply,
                                                     &error, "(ss)", "-0", "4"),
                             &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "onchain_config.min");
        }
        {
                const SdloopOnchainConfig config = { .min = (char *) FIXTURE_MAXIMUM, .max = (char *) FIXTURE_MIN };

                assert_error(sdloop_onchain_config_codec_encode(client, path, &config, &bytes, &error), &error,
                             -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "onchain_config");
                ck_assert_ptr_null(bytes.data);
        }

        assert_server_answers();
}
END_TEST

/* --- malformed replies: a rogue provider, checked by the client ---------------------------------------- */

static const uint8_t short_digest[SDLOOP_DIGEST_SIZE - 1] = {};

static int rogue_latest_config_details(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_return(m, &reply), 0);
        ck_assert_int_ge(sd_bus_message_append(reply, "t", (uint64_t) 1), 0);
        ck_assert_int_ge(sd_bus_message_append_array(reply, 'y', short_digest, sizeof(short_digest)), 0);
        return sd_bus_send(NULL, reply, NULL);
}

static int rogue_median_from_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", "+5");
}

static int rogue_max_report_length(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "x", INT64_C(-7));
}

static int rogue_latest_transmission_details(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        /* Right digest, but an answer that is not a decimal. */
        ck_assert_int_ge(sd_bus_message_new_method_return(m, &reply), 0);
        ck_assert_int_ge(sd_bus_message_append_array(reply, 'y', fixture_digest, SDLOOP_DIGEST_SIZE), 0);
        ck_assert_int_ge(sd_bus_message_append(reply, "uysx", 1, 2, "0x10", INT64_C(3)), 0);
        return sd_bus_send(NULL, reply, NULL);
}

static int rogue_latest_round_requested(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_return(m, &reply), 0);
        ck_assert_int_ge(sd_bus_message_append_array(reply, 'y', short_digest, sizeof(short_digest)), 0);
        ck_assert_int_ge(sd_bus_message_append(reply, "uy", 1, 2), 0);
        return sd_bus_send(NULL, reply, NULL);
}

static int rogue_decode(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "(ss)", "10", "9");
}

static int rogue_from_account(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        /* The wrong type altogether. */
        return sd_bus_reply_method_return(m, "u", 1);
}

static const sd_bus_vtable rogue_tracker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("LatestConfigDetails", "", "tay", rogue_latest_config_details, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable rogue_transmitter_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("FromAccount", "", "u", rogue_from_account, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable rogue_report_codec_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("MedianFromReport", "ay", "s", rogue_median_from_report, 0),
        SD_BUS_METHOD("MaxReportLength", "x", "x", rogue_max_report_length, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable rogue_median_contract_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("LatestTransmissionDetails", "", "ayuysx", rogue_latest_transmission_details, 0),
        SD_BUS_METHOD("LatestRoundRequested", "t", "ayuy", rogue_latest_round_requested, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable rogue_onchain_config_codec_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Decode", "ay", "(ss)", rogue_decode, 0),
        SD_BUS_VTABLE_END,
};

START_TEST(test_bad_replies) {
        static const char rogue[] = "/org/sdloop1/rogue/1";
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig decoded = {};
        sd_bus *bus = sdloop_peer_get_bus(server);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE] = { [0] = 0x42 };
        uint64_t block = 77;
        uint32_t epoch = 77;
        int64_t max = 77, ts = 77;
        uint8_t round = 77;
        char *s = NULL;

        ck_assert_int_ge(sd_bus_add_object_vtable(bus, NULL, rogue, "org.sdloop1.ContractConfigTracker",
                                                  rogue_tracker_vtable, NULL), 0);
        ck_assert_int_ge(sd_bus_add_object_vtable(bus, NULL, rogue, "org.sdloop1.ContractTransmitter",
                                                  rogue_transmitter_vtable, NULL), 0);
        ck_assert_int_ge(sd_bus_add_object_vtable(bus, NULL, rogue, "org.sdloop1.ReportCodec",
                                                  rogue_report_codec_vtable, NULL), 0);
        ck_assert_int_ge(sd_bus_add_object_vtable(bus, NULL, rogue, "org.sdloop1.MedianContract",
                                                  rogue_median_contract_vtable, NULL), 0);
        ck_assert_int_ge(sd_bus_add_object_vtable(bus, NULL, rogue, "org.sdloop1.OnchainConfigCodec",
                                                  rogue_onchain_config_codec_vtable, NULL), 0);

        assert_error(sdloop_contract_config_tracker_latest_config_details(client, rogue, &block, digest, &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "LatestConfigDetails reply.digest");
        assert_error(sdloop_contract_transmitter_from_account(client, rogue, &s, &error), &error, -EINVAL,
                     SDLOOP_ERROR_INVALID_ARGUMENT, "FromAccount reply.account");
        assert_error(sdloop_report_codec_median_from_report(client, rogue, fixture_report, sizeof(fixture_report), &s,
                                                            &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "MedianFromReport reply.median");
        assert_error(sdloop_report_codec_max_report_length(client, rogue, 1, &max, &error), &error, -EINVAL,
                     SDLOOP_ERROR_INVALID_ARGUMENT, "MaxReportLength reply.max");
        assert_error(sdloop_median_contract_latest_transmission_details(client, rogue, digest, &epoch, &round, &s, &ts,
                                                                        &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "LatestTransmissionDetails reply.latest_answer");
        assert_error(sdloop_median_contract_latest_round_requested(client, rogue, 1, digest, &epoch, &round, &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "LatestRoundRequested reply.digest");
        assert_error(sdloop_onchain_config_codec_decode(client, rogue, fixture_encoded, sizeof(fixture_encoded),
                                                        &decoded, &error),
                     &error, -EINVAL, SDLOOP_ERROR_INVALID_ARGUMENT, "Decode reply.onchain_config");

        /* Nothing the caller holds was touched. */
        ck_assert_uint_eq(digest[0], 0x42);
        ck_assert_uint_eq(block, 77);
        ck_assert_uint_eq(epoch, 77);
        ck_assert_uint_eq(round, 77);
        ck_assert_int_eq(max, 77);
        ck_assert_int_eq(ts, 77);
        ck_assert_ptr_null(s);
        ck_assert_ptr_null(decoded.min);
}
END_TEST

/* --- introspection ------------------------------------------------------------------------------------ */

START_TEST(test_introspect) {
        static const char *const interfaces[] = {
                "org.sdloop1.Service",
                "org.sdloop1.OffchainConfigDigester",
                "org.sdloop1.ContractConfigTracker",
                "org.sdloop1.ContractTransmitter",
                "org.sdloop1.ReportCodec",
                "org.sdloop1.MedianContract",
                "org.sdloop1.OnchainConfigCodec",
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *xml;

        ck_assert_int_eq(sdloop_peer_call_method(client, path, "org.freedesktop.DBus.Introspectable", "Introspect",
                                                 &reply, &error, NULL), 0);
        ck_assert_int_gt(sd_bus_message_read(reply, "s", &xml), 0);

        for (size_t i = 0; i < ELEMENTSOF(interfaces); i++) {
                _cleanup_free_ char *needle = NULL;

                ck_assert_int_gt(asprintf(&needle, "<interface name=\"%s\">", interfaces[i]), 0);
                ck_assert_msg(strstr(xml, needle), "%s missing from:\n%s", interfaces[i], xml);
        }

        /* Argument names as in the contract files, and the signal. */
        ck_assert_ptr_nonnull(strstr(xml, "<signal name=\"ConfigChanged\">"));
        ck_assert_ptr_nonnull(strstr(xml, "name=\"latest_timestamp_usec\""));
        ck_assert_ptr_nonnull(strstr(xml, "name=\"contract_config\""));
        ck_assert_ptr_nonnull(strstr(xml, "name=\"lookback_usec\""));
}
END_TEST

static Suite *provider_suite(void) {
        Suite *s = suite_create("services-provider");
        TCase *tc = tcase_create("provider");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_offchain_config_digester);
        tcase_add_test(tc, test_contract_config_tracker);
        tcase_add_test(tc, test_config_changed);
        tcase_add_test(tc, test_contract_transmitter);
        tcase_add_test(tc, test_report_codec);
        tcase_add_test(tc, test_median_contract);
        tcase_add_test(tc, test_onchain_config_codec);
        tcase_add_test(tc, test_unimplemented);
        tcase_add_test(tc, test_bad_results);
        tcase_add_test(tc, test_bad_input);
        tcase_add_test(tc, test_bad_replies);
        tcase_add_test(tc, test_introspect);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(provider_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
