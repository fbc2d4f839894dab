/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-relayer-ledger: its rules checked directly on the plugin's own functions (store, digest, report,
 * onchain config codec, transmission verification), each at its boundary; then the real binary in a
 * process of its own, driven over D-Bus as a host would: NewRelayer → providers → every method. */

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "ledger-config.h"
#include "ledger-digest.h"
#include "ledger-onchain.h"
#include "ledger-provider.h"
#include "ledger-report.h"
#include "ledger-store.h"
#include "ledger-verify.h"
#include "ledger.pb-c.h"
#include "macro.h"
#include "test-util.h"
#include "sdloop.h"

#define CHAIN_ID       "ledger-test"
#define CONTRACT_ID    "feed-eth-usd"
#define N_ORACLES      4U
#define F              1U
#define KEYSTORE_PATH  "/org/sdloop1/host/keystore"
/* A 256-bit extreme: -2^255, the smallest value the onchain config holds. */
#define INT256_MIN_DEC "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
#define INT256_MAX_DEC "57896044618658097711785492504343953926634992332820282019728792003956564819967"
#define INT256_OVER    "57896044618658097711785492504343953926634992332820282019728792003956564819968"
#define INT256_UNDER   "-57896044618658097711785492504343953926634992332820282019728792003956564819969"

/* --- fixtures ----------------------------------------------------------------------------------------- */

static uint8_t public_keys[N_ORACLES][crypto_sign_PUBLICKEYBYTES];
static uint8_t secret_keys[N_ORACLES][crypto_sign_SECRETKEYBYTES];
static const char *transmitters[N_ORACLES] = { "t0", "t1", "t2", "t3" };

static char tmpdir[] = "/tmp/sdloop-test-ledger-XXXXXX";
static char ledger_path[sizeof(tmpdir) + 32];
static unsigned ledger_counter;

/* A fake clock, so that lookback windows are tested without waiting. */
static uint64_t fake_now = 1700000000ULL * USEC_PER_SEC;

static uint64_t fake_clock(void *userdata) {
        return fake_now;
}

static void keys_init(void) {
        ck_assert_int_ge(sodium_init(), 0);
        for (unsigned i = 0; i < N_ORACLES; i++) {
                uint8_t seed[crypto_sign_SEEDBYTES] = { (uint8_t) (i + 1), 0x5d, 0x10 };

                ck_assert_int_eq(crypto_sign_seed_keypair(public_keys[i], secret_keys[i], seed), 0);
        }
}

static void setup(void) {
        keys_init();
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
        char cmd[sizeof(tmpdir) + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        ck_assert_int_eq(system(cmd), 0);
        strcpy(tmpdir, "/tmp/sdloop-test-ledger-XXXXXX");
}

/* A fresh ledger file per test. */
static const char *new_ledger_path(void) {
        snprintf(ledger_path, sizeof(ledger_path), "%s/ledger-%u.sqlite", tmpdir, ++ledger_counter);
        return ledger_path;
}

static LedgerStore *open_store(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        LedgerStore *s = NULL;

        ck_assert_msg(ledger_store_open(new_ledger_path(), CHAIN_ID, &s, &error) == 0, "open: %s", error.message);
        ledger_store_set_clock(s, fake_clock, NULL);
        return s;
}

/* The seed every test starts from: four oracles, f = 1, [min, max] = [-1000, 1000000]. */
static void make_seed(SdloopContractConfig *c, uint64_t offchain_version) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        *c = (SdloopContractConfig) {};
        c->signers = calloc(N_ORACLES, sizeof(SdloopBytes));
        c->transmitters = calloc(N_ORACLES + 1, sizeof(char *));
        ck_assert_ptr_nonnull(c->signers);
        ck_assert_ptr_nonnull(c->transmitters);
        for (unsigned i = 0; i < N_ORACLES; i++) {
                ck_assert_int_eq(sdloop_bytes_copy(&c->signers[i], public_keys[i], crypto_sign_PUBLICKEYBYTES), 0);
                c->transmitters[i] = strdup(transmitters[i]);
        }
        c->n_signers = N_ORACLES;
        c->f = F;
        ck_assert_int_eq(ledger_onchain_config_encode(&(SdloopOnchainConfig) { .min = (char *) "-1000",
                                                                                .max = (char *) "1000000" },
                                                      &c->onchain_config, &error), 0);
        c->offchain_config_version = offchain_version;
        ck_assert_int_eq(sdloop_bytes_copy(&c->offchain_config, "\x01\x02\x03", 3), 0);
}

static void sign_report(const SdloopReportContext *ctx, const SdloopBytes *report, unsigned signer,
                        SdloopAttributed *ret) {
        _cleanup_(sdloop_bytes_done) SdloopBytes payload = {};

        ck_assert_int_eq(sdloop_report_signing_payload(ctx, report->data, report->size, &payload), 0);
        ret->data.data = malloc(crypto_sign_BYTES);
        ck_assert_ptr_nonnull(ret->data.data);
        ret->data.size = crypto_sign_BYTES;
        ck_assert_int_eq(crypto_sign_detached(ret->data.data, NULL, payload.data, payload.size,
                                              secret_keys[signer]), 0);
        ret->oracle = (uint8_t) signer;
}

static void build_report(SdloopBytes *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopParsedObservation obs[] = {
                { .timestamp = 100, .value = (char *) "42", .juels_per_fee_coin = (char *) "7", .observer = 0 },
                { .timestamp = 103, .value = (char *) "40", .juels_per_fee_coin = (char *) "9", .observer = 1 },
                { .timestamp = 101, .value = (char *) "45", .juels_per_fee_coin = (char *) "8", .observer = 2 },
        };

        ck_assert_int_eq(ledger_report_build(obs, ELEMENTSOF(obs), ret, &error), 0);
}

static void assert_error(const sd_bus_error *error, const char *name, const char *needle) {
        ck_assert_msg(name ? sd_bus_error_has_name(error, name) : sd_bus_error_is_set(error),
                      "expected %s, got %s: %s", strempty(name), strempty(error->name), strempty(error->message));
        if (needle)
                ck_assert_msg(error->message && strstr(error->message, needle), "\"%s\" not in \"%s\"", needle,
                              strempty(error->message));
}

/* --- signing payload ---------------------------------------------------------------------------------- */

START_TEST(test_signing_payload_layout) {
        _cleanup_(sdloop_bytes_done) SdloopBytes payload = {};
        SdloopReportContext ctx = {
                .timestamp = { .digest = { 0xaa, [31] = 0xbb }, .epoch = 0x01020304, .round = 0x05 },
                .extra_hash = { 0xcc, [31] = 0xdd },
        };

        ck_assert_int_eq(sdloop_report_signing_payload(&ctx, "xyz", 3, &payload), 0);
        ck_assert_uint_eq(payload.size, 32 + 4 + 1 + 32 + 3);
        ck_assert_uint_eq(SDLOOP_REPORT_SIGNING_HEADER_SIZE, 69);
        ck_assert_int_eq(memcmp(payload.data, ctx.timestamp.digest, 32), 0);
        ck_assert_int_eq(memcmp(payload.data + 32, "\x01\x02\x03\x04\x05", 5), 0);
        ck_assert_int_eq(memcmp(payload.data + 37, ctx.extra_hash, 32), 0);
        ck_assert_int_eq(memcmp(payload.data + 69, "xyz", 3), 0);

        sdloop_bytes_done(&payload);
        ck_assert_int_eq(sdloop_report_signing_payload(&ctx, NULL, 0, &payload), 0);
        ck_assert_uint_eq(payload.size, 69);
        ck_assert_int_eq(sdloop_report_signing_payload(NULL, "x", 1, &payload), -EINVAL);
}
END_TEST

/* --- onchain config codec ----------------------------------------------------------------------------- */

static void assert_onchain_round_trip(const char *min, const char *max) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig back = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes enc = {};

        ck_assert_msg(ledger_onchain_config_encode(&(SdloopOnchainConfig) { .min = (char *) min, .max = (char *) max },
                                                   &enc, &error) == 0, "encode %s %s: %s", min, max, error.message);
        ck_assert_uint_eq(enc.size, 65);
        ck_assert_uint_eq(enc.data[0], 1);
        ck_assert_int_eq(ledger_onchain_config_decode(enc.data, enc.size, &back, &error), 0);
        ck_assert_str_eq(back.min, min);
        ck_assert_str_eq(back.max, max);
}

START_TEST(test_onchain_codec) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig back = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes enc = {};
        uint8_t v[32], raw[65];

        assert_onchain_round_trip("0", "0");
        assert_onchain_round_trip("-1", "1");
        assert_onchain_round_trip("-12", "1234567890987654321");
        assert_onchain_round_trip(INT256_MIN_DEC, INT256_MAX_DEC);
        assert_onchain_round_trip(INT256_MIN_DEC, INT256_MIN_DEC);

        /* Two's complement, big-endian. */
        ck_assert_int_eq(ledger_int256_from_decimal("-1", v), 0);
        for (size_t i = 0; i < 32; i++)
                ck_assert_uint_eq(v[i], 0xff);
        ck_assert_int_eq(ledger_int256_from_decimal("258", v), 0);
        ck_assert_uint_eq(v[30], 1);
        ck_assert_uint_eq(v[31], 2);
        ck_assert_uint_eq(v[0], 0);
        ck_assert_int_eq(ledger_int256_from_decimal(INT256_MIN_DEC, v), 0);
        ck_assert_uint_eq(v[0], 0x80);
        ck_assert_uint_eq(v[31], 0);

        /* One past either end does not fit. */
        ck_assert_int_eq(ledger_int256_from_decimal(INT256_OVER, v), -ERANGE);
        ck_assert_int_eq(ledger_int256_from_decimal(INT256_UNDER, v), -ERANGE);
        ck_assert_int_eq(ledger_onchain_config_encode(&(SdloopOnchainConfig) { .min = (char *) "0",
                                                                                .max = (char *) INT256_OVER },
                                                      &enc, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "onchain_config.max");
        sd_bus_error_free(&error);

        /* min > max: refused both ways. */
        ck_assert_int_eq(ledger_onchain_config_encode(&(SdloopOnchainConfig) { .min = (char *) "2",
                                                                                .max = (char *) "1" },
                                                      &enc, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "greater than max");
        sd_bus_error_free(&error);

        raw[0] = 1;
        ck_assert_int_eq(ledger_int256_from_decimal("2", raw + 1), 0);
        ck_assert_int_eq(ledger_int256_from_decimal("1", raw + 33), 0);
        ck_assert_int_eq(ledger_onchain_config_decode(raw, 65, &back, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "greater than max");
        sd_bus_error_free(&error);

        /* Length exactly 65 and version exactly 1. */
        ck_assert_int_eq(ledger_int256_from_decimal("1", raw + 1), 0);
        ck_assert_int_eq(ledger_onchain_config_decode(raw, 65, &back, &error), 0);
        sdloop_onchain_config_done(&back);
        ck_assert_int_eq(ledger_onchain_config_decode(raw, 64, &back, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "expected 65 bytes, got 64");
        sd_bus_error_free(&error);
        {
                uint8_t longer[66] = {};

                memcpy(longer, raw, 65);
                ck_assert_int_eq(ledger_onchain_config_decode(longer, 66, &back, &error), -EINVAL);
                sd_bus_error_free(&error);
        }
        raw[0] = 2;
        ck_assert_int_eq(ledger_onchain_config_decode(raw, 65, &back, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "version 2");
}
END_TEST

/* --- report codec ------------------------------------------------------------------------------------- */

START_TEST(test_report_codec) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {}, even = {};
        _cleanup_free_ char *median = NULL;
        Sdloop__Ledger__MedianReport *decoded;
        SdloopParsedObservation obs[] = {
                { .timestamp = 50, .value = (char *) "30", .juels_per_fee_coin = (char *) "5", .observer = 3 },
                { .timestamp = 10, .value = (char *) "-7", .juels_per_fee_coin = (char *) "1", .observer = 0 },
                { .timestamp = 40, .value = (char *) "1000", .juels_per_fee_coin = (char *) "4", .observer = 4 },
                { .timestamp = 20, .value = (char *) "12", .juels_per_fee_coin = (char *) "3", .observer = 1 },
                { .timestamp = 30, .value = (char *) "12", .juels_per_fee_coin = (char *) "2", .observer = 2 },
        };
        int64_t max;

        ck_assert_int_eq(ledger_report_build(obs, ELEMENTSOF(obs), &report, &error), 0);
        ck_assert_int_eq(ledger_report_median(report.data, report.size, &median, &error), 0);
        /* Sorted: -7 12 12 30 1000; element n/2 = 2. */
        ck_assert_str_eq(median, "12");

        decoded = sdloop__ledger__median_report__unpack(NULL, report.size, report.data);
        ck_assert_ptr_nonnull(decoded);
        ck_assert_uint_eq(decoded->n_observations, 5);
        ck_assert_str_eq(decoded->observations[0], "-7");
        ck_assert_str_eq(decoded->observations[4], "1000");
        ck_assert_uint_eq(decoded->observers.len, 5);
        ck_assert_int_eq(memcmp(decoded->observers.data, "\x00\x01\x02\x03\x04", 5), 0);
        ck_assert_str_eq(decoded->juels_per_fee_coin, "3");
        ck_assert_uint_eq(decoded->observations_timestamp, 30);
        sdloop__ledger__median_report__free_unpacked(decoded, NULL);

        /* Even n: the upper middle, as libocr takes element n/2. */
        ck_assert_int_eq(ledger_report_build(obs, 4, &even, &error), 0);
        median = mfree(median);
        ck_assert_int_eq(ledger_report_median(even.data, even.size, &median, &error), 0);
        ck_assert_str_eq(median, "30");

        /* At least one observation. */
        ck_assert_int_eq(ledger_report_build(obs, 0, &even, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "observations");
        sd_bus_error_free(&error);

        /* Garbage and tampered reports do not decode. */
        ck_assert_int_eq(ledger_report_median("\xff\xff\xff", 3, &median, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "report");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_report_median("", 0, &median, &error), -EINVAL);
        sd_bus_error_free(&error);
        {
                Sdloop__Ledger__MedianReport forged = SDLOOP__LEDGER__MEDIAN_REPORT__INIT;
                char *values[] = { (char *) "1", (char *) "2", (char *) "3" };
                uint8_t buf[256];
                size_t n;

                forged.n_observations = 3;
                forged.observations = values;
                forged.observers = (ProtobufCBinaryData) { .len = 3, .data = (uint8_t *) "\x00\x01\x02" };
                forged.median = (char *) "3"; /* not the middle */
                forged.juels_per_fee_coin = (char *) "1";
                n = sdloop__ledger__median_report__pack(&forged, buf);
                ck_assert_int_eq(ledger_report_median(buf, n, &median, &error), -EINVAL);
                assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "middle");
                sd_bus_error_free(&error);
        }

        /* The bound holds for the largest values there are. */
        {
                SdloopParsedObservation big[31];
                _cleanup_(sdloop_bytes_done) SdloopBytes r = {};
                char value[SDLOOP_DECIMAL_DIGITS_MAX + 2];

                value[0] = '-';
                memset(value + 1, '9', SDLOOP_DECIMAL_DIGITS_MAX);
                value[SDLOOP_DECIMAL_DIGITS_MAX + 1] = '\0';
                for (size_t i = 0; i < ELEMENTSOF(big); i++)
                        big[i] = (SdloopParsedObservation) { .timestamp = UINT32_MAX, .value = value,
                                                            .juels_per_fee_coin = value, .observer = (uint8_t) i };
                ck_assert_int_eq(ledger_report_build(big, ELEMENTSOF(big), &r, &error), 0);
                ck_assert_int_eq(ledger_report_max_length(31, &max, &error), 0);
                ck_assert_int_ge(max, (int64_t) r.size);
                ck_assert_int_eq(ledger_report_max_length(1, &max, &error), 0);
                ck_assert_int_gt(max, 0);
        }
        /* No more than libocr's 31 oracles. */
        {
                SdloopParsedObservation many[SDLOOP_ORACLES_MAX + 1];

                for (size_t i = 0; i < ELEMENTSOF(many); i++)
                        many[i] = (SdloopParsedObservation) { .timestamp = 1, .value = (char *) "1",
                                                             .juels_per_fee_coin = (char *) "1", .observer = (uint8_t) i };
                ck_assert_int_eq(ledger_report_build(many, ELEMENTSOF(many), &even, &error), -EINVAL);
                assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "observations: expected at most 31, got 32");
                sd_bus_error_free(&error);
        }
        ck_assert_int_eq(ledger_report_max_length(0, &max, &error), 0);
        ck_assert_int_eq(ledger_report_max_length(-1, &max, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "n");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_report_max_length(INT64_MAX, &max, &error), -EINVAL);
}
END_TEST

/* --- digest --------------------------------------------------------------------------------------------- */

START_TEST(test_config_digest) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig c = {}, d = {};
        uint8_t a[32], b[32];

        make_seed(&c, 1);
        c.config_count = 1;
        ck_assert_int_eq(ledger_config_digest(CHAIN_ID, CONTRACT_ID, &c, a), 0);
        ck_assert_uint_eq(a[0], 0x5d);
        ck_assert_uint_eq(a[1], 0x10);

        /* Deterministic, and blind to the digest field itself. */
        memset(c.digest, 0x77, 32);
        ck_assert_int_eq(ledger_config_digest(CHAIN_ID, CONTRACT_ID, &c, b), 0);
        ck_assert_int_eq(memcmp(a, b, 32), 0);

        /* Every input moves it. */
#define ASSERT_MOVES(mutate, undo)                                                      \
        do {                                                                            \
                mutate;                                                                 \
                ck_assert_int_eq(ledger_config_digest(CHAIN_ID, CONTRACT_ID, &c, b), 0); \
                ck_assert_int_ne(memcmp(a, b, 32), 0);                                   \
                undo;                                                                   \
        } while (0)
        ASSERT_MOVES(c.config_count = 2, c.config_count = 1);
        ASSERT_MOVES(c.f = 0, c.f = F);
        ASSERT_MOVES(c.offchain_config_version = 9, c.offchain_config_version = 1);
        ASSERT_MOVES(c.signers[3].data[0] ^= 1, c.signers[3].data[0] ^= 1);
        ASSERT_MOVES(c.transmitters[2][0] = 'x', c.transmitters[2][0] = 't');
        ASSERT_MOVES(c.onchain_config.data[64] ^= 1, c.onchain_config.data[64] ^= 1);
        ASSERT_MOVES(c.offchain_config.data[0] ^= 1, c.offchain_config.data[0] ^= 1);
#undef ASSERT_MOVES
        ck_assert_int_eq(ledger_config_digest(CHAIN_ID, "other-contract", &c, b), 0);
        ck_assert_int_ne(memcmp(a, b, 32), 0);
        ck_assert_int_eq(ledger_config_digest("other-chain", CONTRACT_ID, &c, b), 0);
        ck_assert_int_ne(memcmp(a, b, 32), 0);
        ck_assert_int_eq(ledger_config_digest(CHAIN_ID, CONTRACT_ID, &c, b), 0);
        ck_assert_int_eq(memcmp(a, b, 32), 0);

        /* The stored record decodes back to the same config. */
        {
                _cleanup_(sdloop_bytes_done) SdloopBytes rec = {};
                _cleanup_free_ char *chain = NULL, *contract = NULL;

                ck_assert_int_eq(ledger_config_encode(CHAIN_ID, CONTRACT_ID, &c, &rec), 0);
                ck_assert_int_eq(ledger_config_decode(rec.data, rec.size, &d, &chain, &contract), 0);
                ck_assert_str_eq(chain, CHAIN_ID);
                ck_assert_str_eq(contract, CONTRACT_ID);
                ck_assert(ledger_config_same_content(&c, &d));
                ck_assert_uint_eq(d.config_count, 1);
        }
}
END_TEST

/* --- store: blocks and configurations ------------------------------------------------------------------ */

START_TEST(test_store_config) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig seed = {}, seed2 = {}, got = {}, first = {};
        _cleanup_(ledger_store_unrefp) LedgerStore *s = open_store();
        _cleanup_free_ char *path = strdup(ledger_path);
        uint64_t height, block;
        bool changed = false;

        ck_assert_int_eq(ledger_store_block_height(s, &height, &error), 0);
        ck_assert_uint_eq(height, 0);
        ck_assert_int_eq(ledger_store_latest_config(s, CONTRACT_ID, &block, NULL, &error), -ENOENT);

        make_seed(&seed, 1);
        ck_assert_int_eq(ledger_store_seed_config(s, CONTRACT_ID, &seed, &changed, &error), 0);
        ck_assert(changed);
        ck_assert_int_eq(ledger_store_block_height(s, &height, &error), 0);
        ck_assert_uint_eq(height, 1);
        ck_assert_int_eq(ledger_store_latest_config(s, CONTRACT_ID, &block, &first, &error), 0);
        ck_assert_uint_eq(block, 1);
        ck_assert_uint_eq(first.config_count, 1);
        ck_assert(ledger_config_same_content(&first, &seed));

        /* The same seed again writes nothing: no new count, no block. */
        ck_assert_int_eq(ledger_store_seed_config(s, CONTRACT_ID, &seed, &changed, &error), 0);
        ck_assert(!changed);
        ck_assert_int_eq(ledger_store_block_height(s, &height, &error), 0);
        ck_assert_uint_eq(height, 1);

        /* A changed seed: count + 1, a new digest, a new block. */
        make_seed(&seed2, 2);
        ck_assert_int_eq(ledger_store_seed_config(s, CONTRACT_ID, &seed2, &changed, &error), 0);
        ck_assert(changed);
        ck_assert_int_eq(ledger_store_latest_config(s, CONTRACT_ID, &block, &got, &error), 0);
        ck_assert_uint_eq(block, 2);
        ck_assert_uint_eq(got.config_count, 2);
        ck_assert_int_ne(memcmp(got.digest, first.digest, 32), 0);
        sdloop_contract_config_done(&got);

        /* Each config is found by the block it was set in, and only there. */
        ck_assert_int_eq(ledger_store_config_in_block(s, CONTRACT_ID, 1, &got, &error), 0);
        ck_assert_uint_eq(got.config_count, 1);
        ck_assert_int_eq(memcmp(got.digest, first.digest, 32), 0);
        sdloop_contract_config_done(&got);
        ck_assert_int_eq(ledger_store_config_in_block(s, CONTRACT_ID, 3, &got, &error), -ENOENT);
        assert_error(&error, SDLOOP_ERROR_NOT_FOUND, "block 3");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_store_config_in_block(s, "other", 1, &got, &error), -ENOENT);
        sd_bus_error_free(&error);

        /* Durable: a second connection sees it all; a ledger of another chain is refused. */
        s = ledger_store_unref(s);
        ck_assert_int_eq(ledger_store_open(path, CHAIN_ID, &s, &error), 0);
        ck_assert_int_eq(ledger_store_latest_config(s, CONTRACT_ID, &block, &got, &error), 0);
        ck_assert_uint_eq(got.config_count, 2);
        ck_assert_uint_eq(block, 2);
        {
                LedgerStore *other = NULL;

                ck_assert_int_eq(ledger_store_open(path, "another-chain", &other, &error), -EINVAL);
                assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "belongs to chain");
        }
}
END_TEST

/* --- transmissions ------------------------------------------------------------------------------------ */

typedef struct TransmitFixture {
        LedgerStore *store;
        LedgerProvider *provider;
        SdloopContractConfig config;
        SdloopBytes report;
} TransmitFixture;

static void transmit_fixture_init(TransmitFixture *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig seed = {};

        *t = (TransmitFixture) { .store = open_store() };
        make_seed(&seed, 1);
        ck_assert_int_eq(ledger_store_seed_config(t->store, CONTRACT_ID, &seed, NULL, &error), 0);
        ck_assert_int_eq(ledger_store_latest_config(t->store, CONTRACT_ID, NULL, &t->config, &error), 0);
        ck_assert_msg(ledger_provider_new(t->store, LEDGER_PROVIDER_MEDIAN, CONTRACT_ID, "t0", &t->provider, &error) == 0,
                      "%s", error.message);
        build_report(&t->report);
}

static void transmit_fixture_done(TransmitFixture *t) {
        ledger_provider_free(t->provider);
        ledger_store_unref(t->store);
        sdloop_contract_config_done(&t->config);
        sdloop_bytes_done(&t->report);
}

/* Transmit @report at (epoch, round) under @digest, signed by @signers (indices, -1 terminated). */
static int transmit(TransmitFixture *t, const uint8_t *digest, uint32_t epoch, uint8_t round, const int *signers,
                    sd_bus_error *error) {
        SdloopReportContext ctx = { .timestamp = { .epoch = epoch, .round = round }, .extra_hash = { 0xe0 } };
        SdloopAttributed sigs[8] = {};
        size_t n = 0;
        int r;

        memcpy(ctx.timestamp.digest, digest, 32);
        for (; signers[n] >= 0; n++)
                sign_report(&ctx, &t->report, (unsigned) signers[n], &sigs[n]);
        r = ledger_contract_transmitter_ops.transmit(t->provider, &ctx, &t->report, sigs, n, error);
        for (size_t i = 0; i < n; i++)
                sdloop_bytes_done(&sigs[i].data);
        return r;
}

static uint64_t height_of(LedgerStore *s) {
        uint64_t h = 0;

        ck_assert_int_eq(ledger_store_block_height(s, &h, NULL), 0);
        return h;
}

START_TEST(test_transmit_signature_threshold) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};
        uint64_t h;

        transmit_fixture_init(&t);
        h = height_of(t.store);

        /* Exactly f signers: refused, nothing written. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 1, 1, (int[]) { 2, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "f+1 = 2 required");
        sd_bus_error_free(&error);
        ck_assert_uint_eq(height_of(t.store), h);

        /* No signatures at all. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 1, 1, (int[]) { -1 }, &error), -EINVAL);
        sd_bus_error_free(&error);

        /* One signer twice is still one signer. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 1, 1, (int[]) { 3, 3, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "1 distinct valid signer,");
        sd_bus_error_free(&error);
        ck_assert_uint_eq(height_of(t.store), h);

        /* f+1 distinct: accepted, one block. A duplicate on top does no harm. */
        ck_assert_msg(transmit(&t, t.config.digest, 1, 1, (int[]) { 3, 1, -1 }, &error) == 0, "%s", error.message);
        ck_assert_uint_eq(height_of(t.store), h + 1);
        ck_assert_msg(transmit(&t, t.config.digest, 1, 2, (int[]) { 0, 0, 1, -1 }, &error) == 0, "%s", error.message);
        ck_assert_uint_eq(height_of(t.store), h + 2);
}
END_TEST

START_TEST(test_transmit_bad_signatures) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};
        SdloopReportContext ctx = { .timestamp = { .epoch = 1, .round = 1 } };
        SdloopAttributed sigs[3] = {};
        uint8_t wrong[32];

        transmit_fixture_init(&t);
        memcpy(ctx.timestamp.digest, t.config.digest, 32);

        /* Wrong digest: refused whatever the signatures. */
        memcpy(wrong, t.config.digest, 32);
        wrong[31] ^= 1;
        ck_assert_int_eq(transmit(&t, wrong, 1, 1, (int[]) { 0, 1, 2, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "not the current config digest");
        sd_bus_error_free(&error);

        sign_report(&ctx, &t.report, 0, &sigs[0]);
        sign_report(&ctx, &t.report, 1, &sigs[1]);
        sign_report(&ctx, &t.report, 2, &sigs[2]);

        /* A forged signature spoils the lot. */
        sigs[2].data.data[5] ^= 0x40;
        ck_assert_int_eq(ledger_contract_transmitter_ops.transmit(t.provider, &ctx, &t.report, sigs, 3, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "signature 2 (signer 2) does not verify");
        sd_bus_error_free(&error);
        sigs[2].data.data[5] ^= 0x40;

        /* A signature by one signer claimed for another does not verify. */
        sigs[2].oracle = 3;
        ck_assert_int_eq(ledger_contract_transmitter_ops.transmit(t.provider, &ctx, &t.report, sigs, 3, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "does not verify");
        sd_bus_error_free(&error);

        /* Signer index past the configured signers. */
        sigs[2].oracle = N_ORACLES;
        ck_assert_int_eq(ledger_contract_transmitter_ops.transmit(t.provider, &ctx, &t.report, sigs, 3, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "unknown signer index 4");
        sd_bus_error_free(&error);
        sigs[2].oracle = 2;

        /* Truncated signature. */
        sigs[1].data.size = 63;
        ck_assert_int_eq(ledger_contract_transmitter_ops.transmit(t.provider, &ctx, &t.report, sigs, 3, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "expected 64 bytes, got 63");
        sd_bus_error_free(&error);
        sigs[1].data.size = 64;

        /* A different report under the same signatures. */
        t.report.data[t.report.size - 1] ^= 1;
        ck_assert_int_eq(ledger_contract_transmitter_ops.transmit(t.provider, &ctx, &t.report, sigs, 3, &error), -EINVAL);
        sd_bus_error_free(&error);
        t.report.data[t.report.size - 1] ^= 1;

        /* Intact: accepted. */
        ck_assert_msg(ledger_contract_transmitter_ops.transmit(t.provider, &ctx, &t.report, sigs, 3, &error) == 0,
                      "%s", error.message);

        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sdloop_bytes_done(&sigs[i].data);
}
END_TEST

START_TEST(test_transmit_undecodable_report) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};

        transmit_fixture_init(&t);
        sdloop_bytes_done(&t.report);
        ck_assert_int_eq(sdloop_bytes_copy(&t.report, "\xff\xfe garbage", 10), 0);
        /* Properly signed, but not a median report. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 1, 1, (int[]) { 0, 1, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "report");
}
END_TEST

START_TEST(test_transmit_replay_and_stale) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};
        _cleanup_free_ char *answer = NULL;
        uint8_t digest[32];
        uint32_t epoch;
        uint8_t round;
        int64_t ts;
        uint64_t h;

        transmit_fixture_init(&t);

        /* Nothing transmitted yet: the current config digest (as the contract's latestConfigDigest), epoch and
         * round 0, answer "0". The median plugin's ShouldAcceptFinalizedReport compares this digest with the
         * report's: a zero digest would refuse every first report. */
        ck_assert_int_eq(ledger_median_contract_ops.latest_transmission_details(t.provider, digest, &epoch, &round,
                                                                                &answer, &ts, &error), 0);
        ck_assert_str_eq(answer, "0");
        ck_assert_uint_eq(epoch, 0);
        ck_assert_uint_eq(round, 0);
        ck_assert_int_eq(ts, 0);
        ck_assert_int_eq(memcmp(digest, t.config.digest, 32), 0);
        answer = mfree(answer);

        ck_assert_int_eq(transmit(&t, t.config.digest, 5, 3, (int[]) { 0, 1, -1 }, &error), 0);
        h = height_of(t.store);

        /* The same (digest, epoch, round) again: success, no new block. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 5, 3, (int[]) { 2, 3, -1 }, &error), 0);
        ck_assert_uint_eq(height_of(t.store), h);

        /* Older round in the same epoch, and an older epoch with a later round: stale. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 5, 2, (int[]) { 0, 1, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "stale");
        sd_bus_error_free(&error);
        ck_assert_int_eq(transmit(&t, t.config.digest, 4, 200, (int[]) { 0, 1, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "stale");
        sd_bus_error_free(&error);
        ck_assert_uint_eq(height_of(t.store), h);

        /* Next round, next epoch: accepted. */
        ck_assert_int_eq(transmit(&t, t.config.digest, 5, 4, (int[]) { 0, 1, -1 }, &error), 0);
        ck_assert_int_eq(transmit(&t, t.config.digest, 6, 0, (int[]) { 0, 1, -1 }, &error), 0);
        ck_assert_uint_eq(height_of(t.store), h + 2);

        ck_assert_int_eq(ledger_contract_transmitter_ops.latest_config_digest_and_epoch(t.provider, digest, &epoch,
                                                                                        &error), 0);
        ck_assert_int_eq(memcmp(digest, t.config.digest, 32), 0);
        ck_assert_uint_eq(epoch, 6);

        ck_assert_int_eq(ledger_median_contract_ops.latest_transmission_details(t.provider, digest, &epoch, &round,
                                                                                &answer, &ts, &error), 0);
        ck_assert_int_eq(memcmp(digest, t.config.digest, 32), 0);
        ck_assert_uint_eq(epoch, 6);
        ck_assert_uint_eq(round, 0);
        ck_assert_str_eq(answer, "42"); /* median of 40, 42, 45 */
        ck_assert_int_eq(ts, (int64_t) fake_now);
}
END_TEST

START_TEST(test_transmit_lookback_and_config_change) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig seed2 = {}, now = {};
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};
        uint64_t start = fake_now;
        uint8_t digest[32];
        uint32_t epoch;
        uint8_t round;

        transmit_fixture_init(&t);
        ck_assert_int_eq(transmit(&t, t.config.digest, 2, 7, (int[]) { 0, 1, -1 }, &error), 0);

        /* A transmission is not a round request: the ledger has no requestNewRound(), so there is never
         * one, however long the look-back (else the median plugin would report in every round). */
        fake_now = start + 100 * USEC_PER_SEC;
        memset(digest, 0xff, sizeof(digest));
        ck_assert_int_eq(ledger_median_contract_ops.latest_round_requested(t.provider, 100 * USEC_PER_SEC, digest,
                                                                           &epoch, &round, &error), 0);
        ck_assert_uint_eq(epoch, 0);
        ck_assert_uint_eq(round, 0);
        ck_assert_uint_eq(digest[0] | digest[5] | digest[31], 0);
        fake_now = start;

        /* A new configuration: the old digest is refused, the epoch starts over, ConfigChanged is due. */
        make_seed(&seed2, 7);
        ck_assert_int_eq(ledger_store_seed_config(t.store, CONTRACT_ID, &seed2, NULL, &error), 0);
        ck_assert_int_eq(ledger_provider_refresh(t.provider), 1);
        ck_assert_int_eq(ledger_provider_refresh(t.provider), 0);

        ck_assert_int_eq(transmit(&t, t.config.digest, 3, 0, (int[]) { 0, 1, -1 }, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "not the current config digest");
        sd_bus_error_free(&error);

        ck_assert_int_eq(ledger_store_latest_config(t.store, CONTRACT_ID, NULL, &now, &error), 0);
        ck_assert_uint_eq(now.config_count, 2);
        ck_assert_int_eq(ledger_contract_transmitter_ops.latest_config_digest_and_epoch(t.provider, digest, &epoch,
                                                                                        &error), 0);
        ck_assert_int_eq(memcmp(digest, now.digest, 32), 0);
        ck_assert_uint_eq(epoch, 0);

        /* Under the new digest even an epoch below the old one is fresh. */
        ck_assert_int_eq(transmit(&t, now.digest, 1, 0, (int[]) { 2, 3, -1 }, &error), 0);
}
END_TEST

START_TEST(test_provider_transmitter_must_be_configured) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};
        LedgerProvider *p = NULL;
        _cleanup_free_ char *account = NULL;

        transmit_fixture_init(&t);
        ck_assert_int_eq(ledger_provider_new(t.store, LEDGER_PROVIDER_MEDIAN, CONTRACT_ID, "mallory", &p, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "plugin_args.transmitter_id");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_provider_new(t.store, LEDGER_PROVIDER_MEDIAN, "unconfigured", "t0", &p, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "no configuration");
        sd_bus_error_free(&error);
        /* A config provider needs no transmitter. */
        ck_assert_int_eq(ledger_provider_new(t.store, LEDGER_PROVIDER_CONFIG, "unconfigured", NULL, &p, &error), 0);
        ledger_provider_free(p);

        ck_assert_int_eq(ledger_contract_transmitter_ops.from_account(t.provider, &account, &error), 0);
        ck_assert_str_eq(account, "t0");
}
END_TEST

START_TEST(test_block_height_grows) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(transmit_fixture_done) TransmitFixture t = {};
        uint64_t h0, h;

        transmit_fixture_init(&t);
        ck_assert_int_eq(ledger_contract_config_tracker_ops.latest_block_height(t.provider, &h0, &error), 0);
        ck_assert_uint_eq(h0, 1); /* the config */

        ck_assert_int_eq(transmit(&t, t.config.digest, 1, 1, (int[]) { 0, 1, -1 }, &error), 0);
        ck_assert_int_eq(ledger_contract_config_tracker_ops.latest_block_height(t.provider, &h, &error), 0);
        ck_assert_uint_eq(h, h0 + 1);
        ck_assert_int_eq(ledger_store_transact(t.store, "a", "b", 0, false, NULL, &error), 0);
        ck_assert_int_eq(ledger_contract_config_tracker_ops.latest_block_height(t.provider, &h, &error), 0);
        ck_assert_uint_eq(h, h0 + 2);
}
END_TEST

/* --- chain service ------------------------------------------------------------------------------------ */

static __int128 balance_of(LedgerStore *s, const char *account) {
        __int128 v = -1;

        ck_assert_int_eq(ledger_store_balance(s, account, &v, NULL), 0);
        return v;
}

START_TEST(test_transact) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(ledger_store_unrefp) LedgerStore *s = open_store();
        LedgerBalance seed[] = {
                { .account = (char *) "alice", .amount = (char *) "100" },
                { .account = (char *) "rich", .amount = (char *) "170141183460469231731687303715884105727" },
        };
        const __int128 max = (__int128) (((unsigned __int128) 1 << 127) - 1);
        uint64_t h, block = 0;

        ck_assert_int_eq(ledger_store_seed_balances(s, seed, ELEMENTSOF(seed), &error), 0);
        h = height_of(s);
        ck_assert_uint_eq(h, 1);
        /* Seeding again never resets money. */
        ck_assert_int_eq(ledger_store_transact(s, "alice", "bob", 60, true, &block, &error), 0);
        ck_assert_uint_eq(block, h + 1);
        ck_assert_int_eq(ledger_store_seed_balances(s, seed, ELEMENTSOF(seed), &error), 0);
        ck_assert(balance_of(s, "alice") == 40);
        ck_assert(balance_of(s, "bob") == 60);
        ck_assert_uint_eq(height_of(s), h + 1);

        /* Balance check at the boundary: 41 refused, 40 accepted. */
        ck_assert_int_eq(ledger_store_transact(s, "alice", "bob", 41, true, NULL, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "insufficient balance: alice has 40, 41 requested");
        sd_bus_error_free(&error);
        ck_assert(balance_of(s, "alice") == 40);
        ck_assert_uint_eq(height_of(s), h + 1);
        ck_assert_int_eq(ledger_store_transact(s, "alice", "bob", 40, true, NULL, &error), 0);
        ck_assert(balance_of(s, "alice") == 0);
        ck_assert(balance_of(s, "bob") == 100);

        /* Without the check an account may go negative. */
        ck_assert_int_eq(ledger_store_transact(s, "alice", "carol", 5, false, NULL, &error), 0);
        ck_assert(balance_of(s, "alice") == -5);
        ck_assert(balance_of(s, "carol") == 5);

        /* Overflow is refused, and changes nothing. */
        ck_assert(balance_of(s, "rich") == max);
        ck_assert_int_eq(ledger_store_transact(s, "bob", "rich", 1, true, NULL, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "128-bit");
        sd_bus_error_free(&error);
        ck_assert(balance_of(s, "bob") == 100);
        ck_assert_int_eq(ledger_store_transact(s, "nobody", "x", max, false, NULL, &error), 0);
        ck_assert_int_eq(ledger_store_transact(s, "nobody", "x", 2, false, NULL, &error), -EINVAL);
        sd_bus_error_free(&error);

        /* Amounts are >= 0; zero is a transfer like any other. */
        ck_assert_int_eq(ledger_store_transact(s, "alice", "bob", -1, false, NULL, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "negative");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_store_transact(s, "bob", "bob", 100, true, NULL, &error), 0);
        ck_assert(balance_of(s, "bob") == 100);
        ck_assert_int_eq(ledger_store_transact(s, "", "bob", 1, false, NULL, &error), -EINVAL);
}
END_TEST

START_TEST(test_nodes_paging) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(ledger_store_unrefp) LedgerStore *s = open_store();
        LedgerNode seed[] = {
                { (char *) "n1", (char *) "c1", (char *) "Alive" }, { (char *) "n2", (char *) "c2", (char *) "Alive" },
                { (char *) "n3", (char *) "c3", (char *) "Alive" }, { (char *) "n4", (char *) "c4", (char *) "Dead" },
                { (char *) "n5", (char *) "c5", (char *) "Alive" },
        };
        LedgerNode *nodes = NULL;
        uint64_t total = 0, h;
        size_t n = 0;

        ck_assert_int_eq(ledger_store_seed_nodes(s, seed, ELEMENTSOF(seed), &error), 0);
        h = height_of(s);
        ck_assert_int_eq(ledger_store_seed_nodes(s, seed, ELEMENTSOF(seed), &error), 0);
        ck_assert_uint_eq(height_of(s), h);

        ck_assert_int_eq(ledger_store_list_nodes(s, 0, 2, &nodes, &n, &total, &error), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(total, 5);
        ck_assert_str_eq(nodes[0].name, "n1");
        ck_assert_str_eq(nodes[1].name, "n2");
        ledger_node_array_free(nodes, n);

        ck_assert_int_eq(ledger_store_list_nodes(s, 4, 2, &nodes, &n, &total, &error), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(nodes[0].name, "n5");
        ledger_node_array_free(nodes, n);

        ck_assert_int_eq(ledger_store_list_nodes(s, 5, 2, &nodes, &n, &total, &error), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(total, 5);
        ledger_node_array_free(nodes, n);

        ck_assert_int_eq(ledger_store_list_nodes(s, 0, 0, &nodes, &n, &total, &error), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(nodes[3].state, "Dead");
        ledger_node_array_free(nodes, n);

        /* A changed node is updated in place and keeps its position. */
        seed[3].state = (char *) "Alive";
        ck_assert_int_eq(ledger_store_seed_nodes(s, seed, ELEMENTSOF(seed), &error), 0);
        ck_assert_uint_eq(height_of(s), h + 1);
        ck_assert_int_eq(ledger_store_list_nodes(s, 3, 1, &nodes, &n, &total, &error), 0);
        ck_assert_str_eq(nodes[0].name, "n4");
        ck_assert_str_eq(nodes[0].state, "Alive");
        ledger_node_array_free(nodes, n);
}
END_TEST

/* --- configuration parsing ---------------------------------------------------------------------------- */

static char *relay_config_json(const char *extra_seed_keys, unsigned n_signers, unsigned f, const char *offchain) {
        char *json = NULL, signers[N_ORACLES * 70] = "", hex[65];
        size_t len = 0;

        for (unsigned i = 0; i < n_signers; i++) {
                sodium_bin2hex(hex, sizeof(hex), public_keys[i], 32);
                len += (size_t) snprintf(signers + len, sizeof(signers) - len, "%s\"%s\"", i ? "," : "", hex);
        }
        ck_assert_int_ge(asprintf(&json,
                                  "{\"chain_id\": \"ignored-by-us\", \"config\": {\"signers\": [%s], "
                                  "\"transmitters\": [\"t0\", \"t1\", \"t2\", \"t3\"], \"f\": %u, "
                                  "\"onchain_config\": {\"min\": \"-1000\", \"max\": 1000000}, "
                                  "\"offchain_config_version\": 1, \"offchain_config\": \"%s\"%s}}",
                                  signers, f, offchain, strempty(extra_seed_keys)), 0);
        return json;
}

START_TEST(test_config_parse) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(ledger_relayer_config_done) LedgerRelayerConfig rc = {};
        _cleanup_(ledger_relay_config_done) LedgerRelayConfig relay = {};
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig seed = {};
        _cleanup_free_ char *good = relay_config_json(NULL, 4, 1, "010203"),
                            *three = relay_config_json(NULL, 3, 1, "010203"),
                            *big_f = relay_config_json(NULL, 4, 2, "010203"),
                            *typo = relay_config_json(", \"fff\": 1", 4, 1, "010203");

        ck_assert_msg(ledger_relay_config_parse(good, &relay, &error) == 0, "%s", error.message);
        ck_assert(relay.has_seed);
        ck_assert_ptr_null(relay.ledger);
        make_seed(&seed, 1);
        ck_assert(ledger_config_same_content(&seed, &relay.seed));
        ledger_relay_config_done(&relay);

        ck_assert_int_eq(ledger_relay_config_parse(three, &relay, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "4 transmitters for 3 signers");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relay_config_parse(big_f, &relay, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "3f < n");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relay_config_parse(typo, &relay, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "unknown key \"fff\"");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relay_config_parse("{\"config\": {\"signers\": [\"abcd\"], \"transmitters\": [\"a\"], "
                                                   "\"f\": 1, \"onchain_config\": {\"min\": 0, \"max\": 1}}}",
                                                   &relay, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "32-byte");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relay_config_parse("{\"ledger\": \"relative.sqlite\"}", &relay, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "absolute");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relay_config_parse("{\"ledger\": \"/x/l.sqlite\"}", &relay, &error), 0);
        ck_assert(!relay.has_seed);
        ck_assert_str_eq(relay.ledger, "/x/l.sqlite");

        ck_assert_int_eq(ledger_relayer_config_parse("{\"ledger\": \"/x\"}", &rc, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "chain_id");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relayer_config_parse("not json", &rc, &error), -EINVAL);
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relayer_config_parse("{\"chain_id\": \"c\", \"balances\": {\"a\": \"-1\"}}", &rc, &error),
                         -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "negative balance");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relayer_config_parse("{\"chain_id\": \"c\", \"nodes\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
                                                     &rc, &error), -EINVAL);
        assert_error(&error, SDLOOP_ERROR_INVALID_ARGUMENT, "duplicate");
        sd_bus_error_free(&error);
        ck_assert_int_eq(ledger_relayer_config_parse("{\"chain_id\": \"c\", \"nodes\": [{\"name\": \"a\", "
                                                     "\"config\": {\"url\": \"http://x\"}}], \"balances\": {\"a\": 5}}",
                                                     &rc, &error), 0);
        ck_assert_uint_eq(rc.n_nodes, 1);
        ck_assert_str_eq(rc.nodes[0].config, "{\"url\":\"http://x\"}");
        ck_assert_str_eq(rc.nodes[0].state, "Alive");
        ck_assert_str_eq(rc.balances[0].amount, "5");
        ck_assert_uint_eq(rc.poll_interval_usec, LEDGER_POLL_INTERVAL_USEC_DEFAULT);
}
END_TEST

/* --- end to end: the real plugin process ------------------------------------------------------------ */

static char sock_path[sizeof(tmpdir) + 32], notify_path[sizeof(tmpdir) + 32];
static pid_t plugin_pid = -1;
static sd_event *event;
static SdloopPeer *peer;
static unsigned keystore_calls;

static int keystore_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        char **l = calloc(3, sizeof(char *));

        keystore_calls++;
        if (!l)
                return -ENOMEM;
        l[0] = strdup("t0");
        l[1] = strdup("t1");
        if (!l[0] || !l[1]) {
                strv_free(l);
                return -ENOMEM;
        }
        *ret_accounts = l;
        return 0;
}

static const SdloopKeystoreOps keystore_ops = {
        .accounts = keystore_accounts,
};

static void start_plugin(void) {
        SdloopObject *keystore;

        ck_assert_msg(getenv("SDLOOP_RELAYER_LEDGER"), "$SDLOOP_RELAYER_LEDGER not set");
        snprintf(sock_path, sizeof(sock_path), "%s/relayer.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        plugin_pid = test_plugin_start(getenv("SDLOOP_RELAYER_LEDGER"), sock_path, notify_path);

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(sdloop_peer_connect(event, sock_path, &peer), 0);
        ck_assert_int_eq(sdloop_object_new_at(peer, NULL, KEYSTORE_PATH, NULL, NULL, &keystore), 0);
        ck_assert_int_eq(sdloop_keystore_export(keystore, &keystore_ops, NULL), 0);
}

static void stop_plugin(void) {
        peer = sdloop_peer_unref(peer);
        event = sd_event_unref(event);
        test_plugin_stop(plugin_pid);
        plugin_pid = -1;
}

static bool config_changed;
static uint64_t config_changed_block;
static uint8_t config_changed_digest[32];

static int on_config_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const void *p;
        size_t size;

        ck_assert_int_ge(sd_bus_message_read(m, "t", &config_changed_block), 0);
        ck_assert_int_ge(sd_bus_message_read_array(m, 'y', &p, &size), 0);
        ck_assert_uint_eq(size, 32);
        memcpy(config_changed_digest, p, 32);
        config_changed = true;
        return 0;
}

#define ASSERT_CALL(call)                                                                               \
        do {                                                                                            \
                int _r = (call);                                                                        \
                ck_assert_msg(_r >= 0, "%s: %s: %s", #call, strempty(error.name), strempty(error.message)); \
        } while (0)

#define ASSERT_CALL_FAILS(call, name)                                                                   \
        do {                                                                                            \
                ck_assert_int_lt((call), 0);                                                            \
                assert_error(&error, (name), NULL);                                                     \
                sd_bus_error_free(&error);                                                              \
        } while (0)

START_TEST(test_plugin_end_to_end) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {}, seed = {};
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig onchain = {};
        _cleanup_(sdloop_bytes_done) SdloopBytes report = {}, encoded = {};
        _cleanup_free_ char *relayer = NULL, *config_provider = NULL, *provider = NULL, *relayer_config = NULL,
                            *relay_config = NULL, *relay_config2 = NULL, *median = NULL, *account = NULL,
                            *answer = NULL, *next = NULL, *other = NULL, *bad_keystore = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *watch = NULL;
        SdloopNodeStatus *nodes = NULL;
        size_t n_nodes = 0;
        int32_t total = 0;
        uint8_t digest[32], digest2[32];
        uint64_t block = 0, height = 0, height2 = 0;
        uint16_t prefix = 0;
        uint32_t epoch = 0;
        uint8_t round = 0;
        int64_t max = 0, ts = 0;
        char ledger[sizeof(tmpdir) + 32];
        SdloopRelayArgs relay_args = {
                .external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe67",
                .job_id = 123,
                .contract_id = (char *) CONTRACT_ID,
                .new = true,
                .provider_type = (char *) "median",
        };
        SdloopPluginArgs plugin_args = { .transmitter_id = (char *) "t0", .plugin_config = (char *) "{}" };

        start_plugin();
        snprintf(ledger, sizeof(ledger), "%s/chain.sqlite", tmpdir);

        ASSERT_CALL(sdloop_peer_handshake(peer, SDLOOP_KIND_RELAYER, &id, &error));
        ck_assert_str_eq(id.kind, "relayer");

        /* The relayer refuses a keystore it cannot reach. */
        ASSERT_CALL_FAILS(sdloop_plugin_relayer_new_relayer(peer, "{\"chain_id\": \"x\"}", "/org/sdloop1/host/nothing",
                                                            &bad_keystore, &error), NULL);

        ck_assert_int_ge(asprintf(&relayer_config,
                                  "{\"chain_id\": \"" CHAIN_ID "\", \"ledger\": \"%s\", "
                                  "\"nodes\": [{\"name\": \"n1\"}, {\"name\": \"n2\"}, {\"name\": \"n3\"}, "
                                  "{\"name\": \"n4\"}, {\"name\": \"n5\", \"state\": \"Dead\"}], "
                                  "\"balances\": {\"t0\": \"1000\"}, \"poll_interval_usec\": 20000}", ledger), 0);
        keystore_calls = 0;
        ASSERT_CALL(sdloop_plugin_relayer_new_relayer(peer, relayer_config, KEYSTORE_PATH, &relayer, &error));
        ck_assert_uint_ge(keystore_calls, 1);
        ck_assert_str_eq(relayer, "/org/sdloop1/relayer/1");

        /* Chain service. */
        ASSERT_CALL(sdloop_relayer_get_chain_status(peer, relayer, &status, &error));
        ck_assert_str_eq(status.id, CHAIN_ID);
        ck_assert(status.enabled);
        ck_assert_str_eq(status.config, relayer_config);

        ASSERT_CALL(sdloop_relayer_list_node_statuses(peer, relayer, 2, "", &nodes, &n_nodes, &total, &next, &error));
        ck_assert_uint_eq(n_nodes, 2);
        ck_assert_int_eq(total, 5);
        ck_assert_str_eq(next, "2");
        ck_assert_str_eq(nodes[0].chain_id, CHAIN_ID);
        ck_assert_str_eq(nodes[0].name, "n1");
        ck_assert_str_eq(nodes[0].state, "Alive");
        sdloop_node_statuses_free(nodes, n_nodes);
        ASSERT_CALL(sdloop_relayer_list_node_statuses(peer, relayer, 2, "4", &nodes, &n_nodes, &total, &other, &error));
        ck_assert_uint_eq(n_nodes, 1);
        ck_assert_str_eq(nodes[0].name, "n5");
        ck_assert_str_eq(nodes[0].state, "Dead");
        ck_assert_str_eq(other, "");
        other = mfree(other);
        sdloop_node_statuses_free(nodes, n_nodes);
        ASSERT_CALL_FAILS(sdloop_relayer_list_node_statuses(peer, relayer, 2, "x", &nodes, &n_nodes, &total, &other,
                                                            &error), SDLOOP_ERROR_INVALID_ARGUMENT);

        ASSERT_CALL(sdloop_relayer_transact(peer, relayer, "t0", "t9", "1000", true, &error));
        ASSERT_CALL_FAILS(sdloop_relayer_transact(peer, relayer, "t0", "t9", "1", true, &error),
                          SDLOOP_ERROR_INVALID_ARGUMENT);
        ASSERT_CALL(sdloop_relayer_transact(peer, relayer, "t0", "t9", "1", false, &error));

        /* A config provider seeds the contract's configuration. */
        relay_config = relay_config_json(NULL, 4, 1, "010203");
        relay_args.relay_config = relay_config;
        ASSERT_CALL(sdloop_relayer_new_config_provider(peer, relayer, &relay_args, &config_provider, &error));
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(peer, config_provider, &block, digest, &error));
        ck_assert_uint_gt(block, 0);
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config(peer, config_provider, block, &config, &error));
        ck_assert_uint_eq(config.config_count, 1);
        ck_assert_uint_eq(config.n_signers, N_ORACLES);
        ck_assert_int_eq(memcmp(config.signers[2].data, public_keys[2], 32), 0);
        ck_assert_int_eq(memcmp(config.digest, digest, 32), 0);
        ASSERT_CALL_FAILS(sdloop_contract_config_tracker_latest_config(peer, config_provider, block + 100, &seed, &error),
                          SDLOOP_ERROR_NOT_FOUND);
        ASSERT_CALL(sdloop_offchain_config_digester_config_digest(peer, config_provider, &config, digest2, &error));
        ck_assert_int_eq(memcmp(digest, digest2, 32), 0);
        ASSERT_CALL(sdloop_offchain_config_digester_config_digest_prefix(peer, config_provider, &prefix, &error));
        ck_assert_uint_eq(prefix, 0x5d10);
        ck_assert_uint_eq(digest[0], 0x5d);
        ck_assert_uint_eq(digest[1], 0x10);
        ck_assert_int_eq(sdloop_contract_config_tracker_watch(peer, config_provider, &watch, on_config_changed, NULL), 0);

        /* The median provider: all six interfaces on one object. */
        ASSERT_CALL(sdloop_relayer_new_plugin_provider(peer, relayer, &relay_args, &plugin_args, &provider, &error));
        ck_assert_str_ne(provider, config_provider);

        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(peer, provider, &block, digest2, &error));
        ck_assert_int_eq(memcmp(digest, digest2, 32), 0);
        ASSERT_CALL(sdloop_contract_config_tracker_latest_block_height(peer, provider, &height, &error));
        ck_assert_uint_ge(height, block);
        ASSERT_CALL(sdloop_offchain_config_digester_config_digest_prefix(peer, provider, &prefix, &error));

        ASSERT_CALL(sdloop_report_codec_build_report(peer, provider,
                                                     (SdloopParsedObservation[]) {
                                                             { 100, (char *) "42", (char *) "7", 0 },
                                                             { 103, (char *) "40", (char *) "9", 1 },
                                                             { 101, (char *) "45", (char *) "8", 2 },
                                                     }, 3, &report, &error));
        ASSERT_CALL(sdloop_report_codec_median_from_report(peer, provider, report.data, report.size, &median, &error));
        ck_assert_str_eq(median, "42");
        ASSERT_CALL_FAILS(sdloop_report_codec_median_from_report(peer, provider, "junk", 4, &answer, &error),
                          SDLOOP_ERROR_INVALID_ARGUMENT);
        ASSERT_CALL(sdloop_report_codec_max_report_length(peer, provider, 4, &max, &error));
        ck_assert_int_ge(max, (int64_t) report.size);

        ASSERT_CALL(sdloop_onchain_config_codec_encode(peer, provider,
                                                       &(SdloopOnchainConfig) { (char *) "-12", (char *) "1234567890987654321" },
                                                       &encoded, &error));
        ck_assert_uint_eq(encoded.size, 65);
        ASSERT_CALL(sdloop_onchain_config_codec_decode(peer, provider, encoded.data, encoded.size, &onchain, &error));
        ck_assert_str_eq(onchain.min, "-12");
        ck_assert_str_eq(onchain.max, "1234567890987654321");
        ASSERT_CALL_FAILS(sdloop_onchain_config_codec_decode(peer, provider, encoded.data, 64, &onchain, &error),
                          SDLOOP_ERROR_INVALID_ARGUMENT);

        ASSERT_CALL(sdloop_contract_transmitter_from_account(peer, provider, &account, &error));
        ck_assert_str_eq(account, "t0");

        /* Nothing transmitted yet. */
        ASSERT_CALL(sdloop_median_contract_latest_transmission_details(peer, provider, digest2, &epoch, &round, &answer,
                                                                       &ts, &error));
        ck_assert_str_eq(answer, "0");
        ck_assert_uint_eq(epoch, 0);
        answer = mfree(answer);

        /* Transmit, signed by two of the four oracles (f + 1). */
        {
                SdloopReportContext ctx = { .timestamp = { .epoch = 9, .round = 2 }, .extra_hash = { 1, 2, 3 } };
                SdloopAttributed sigs[2] = {};

                memcpy(ctx.timestamp.digest, digest, 32);
                sign_report(&ctx, &report, 1, &sigs[0]);
                ASSERT_CALL_FAILS(sdloop_contract_transmitter_transmit(peer, provider, &ctx, report.data, report.size,
                                                                       sigs, 1, &error), SDLOOP_ERROR_INVALID_ARGUMENT);
                sign_report(&ctx, &report, 3, &sigs[1]);
                ASSERT_CALL(sdloop_contract_transmitter_transmit(peer, provider, &ctx, report.data, report.size, sigs, 2,
                                                                 &error));
                /* Again: a no-op. */
                ASSERT_CALL(sdloop_contract_transmitter_transmit(peer, provider, &ctx, report.data, report.size, sigs, 2,
                                                                 &error));
                sdloop_bytes_done(&sigs[0].data);
                sdloop_bytes_done(&sigs[1].data);
        }
        ASSERT_CALL(sdloop_contract_config_tracker_latest_block_height(peer, provider, &height2, &error));
        ck_assert_uint_eq(height2, height + 1);

        ASSERT_CALL(sdloop_contract_transmitter_latest_config_digest_and_epoch(peer, provider, digest2, &epoch, &error));
        ck_assert_int_eq(memcmp(digest, digest2, 32), 0);
        ck_assert_uint_eq(epoch, 9);
        ASSERT_CALL(sdloop_median_contract_latest_transmission_details(peer, provider, digest2, &epoch, &round, &answer,
                                                                       &ts, &error));
        ck_assert_int_eq(memcmp(digest, digest2, 32), 0);
        ck_assert_uint_eq(epoch, 9);
        ck_assert_uint_eq(round, 2);
        ck_assert_str_eq(answer, "42");
        ck_assert_int_gt(ts, 0);
        ASSERT_CALL(sdloop_median_contract_latest_round_requested(peer, provider, 3600 * USEC_PER_SEC, digest2, &epoch,
                                                                  &round, &error));
        ck_assert_uint_eq(epoch, 0);
        ck_assert_uint_eq(round, 0);

        /* Unknown provider types are Unimplemented; an unconfigured transmitter is refused. */
        relay_args.provider_type = (char *) "mercury";
        ASSERT_CALL_FAILS(sdloop_relayer_new_plugin_provider(peer, relayer, &relay_args, &plugin_args, &other, &error),
                          SDLOOP_ERROR_UNIMPLEMENTED);
        /* "plugin": digester, tracker and transmitter only. */
        relay_args.provider_type = (char *) "plugin";
        ASSERT_CALL(sdloop_relayer_new_plugin_provider(peer, relayer, &relay_args, &plugin_args, &other, &error));
        account = mfree(account);
        ASSERT_CALL(sdloop_contract_transmitter_from_account(peer, other, &account, &error));
        ck_assert_str_eq(account, "t0");
        ASSERT_CALL(sdloop_contract_config_tracker_latest_block_height(peer, other, &height2, &error));
        ck_assert_int_lt(sdloop_report_codec_max_report_length(peer, other, 4, &max, &error), 0);
        sd_bus_error_free(&error);
        other = mfree(other);

        relay_args.provider_type = (char *) "median";
        plugin_args.transmitter_id = (char *) "mallory";
        ASSERT_CALL_FAILS(sdloop_relayer_new_plugin_provider(peer, relayer, &relay_args, &plugin_args, &other, &error),
                          SDLOOP_ERROR_INVALID_ARGUMENT);
        plugin_args.transmitter_id = (char *) "t0";

        /* A changed seed: config count 2, a new digest, and ConfigChanged on the providers already out. */
        relay_config2 = relay_config_json(NULL, 4, 1, "ff");
        relay_args.relay_config = relay_config2;
        config_changed = false;
        ASSERT_CALL(sdloop_relayer_new_config_provider(peer, relayer, &relay_args, &other, &error));
        ck_assert_int_eq(sdloop_peer_wait_for(peer, &config_changed, 30 * USEC_PER_SEC), 0);
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config_details(peer, config_provider, &block, digest2, &error));
        ck_assert_int_eq(memcmp(config_changed_digest, digest2, 32), 0);
        ck_assert_uint_eq(config_changed_block, block);
        ck_assert_int_ne(memcmp(digest, digest2, 32), 0);
        sdloop_contract_config_done(&config);
        ASSERT_CALL(sdloop_contract_config_tracker_latest_config(peer, provider, block, &config, &error));
        ck_assert_uint_eq(config.config_count, 2);
        ASSERT_CALL(sdloop_contract_transmitter_latest_config_digest_and_epoch(peer, provider, digest, &epoch, &error));
        ck_assert_int_eq(memcmp(digest, digest2, 32), 0);
        ck_assert_uint_eq(epoch, 0);

        /* Another process writing the same ledger: the plugin notices its commit and announces it too. */
        {
                _cleanup_(sdloop_contract_config_done) SdloopContractConfig external = {}, latest = {};
                _cleanup_(ledger_store_unrefp) LedgerStore *s = NULL;

                ck_assert_int_eq(ledger_store_open(ledger, CHAIN_ID, &s, &error), 0);
                make_seed(&external, 99);
                config_changed = false;
                ck_assert_int_eq(ledger_store_seed_config(s, CONTRACT_ID, &external, NULL, &error), 0);
                ck_assert_int_eq(ledger_store_latest_config(s, CONTRACT_ID, &block, &latest, &error), 0);
                ck_assert_uint_eq(latest.config_count, 3);
                ck_assert_int_eq(sdloop_peer_wait_for(peer, &config_changed, 30 * USEC_PER_SEC), 0);
                ck_assert_uint_eq(config_changed_block, block);
                ck_assert_int_eq(memcmp(config_changed_digest, latest.digest, 32), 0);
        }

        stop_plugin();

        /* The ledger outlives the process. */
        {
                LedgerStore *s = NULL;
                __int128 v;

                ck_assert_int_eq(ledger_store_open(ledger, CHAIN_ID, &s, &error), 0);
                ck_assert_int_eq(ledger_store_latest_config(s, CONTRACT_ID, &block, NULL, &error), 0);
                ck_assert_int_eq(ledger_store_balance(s, "t9", &v, &error), 0);
                ck_assert(v == 1001);
                ledger_store_unref(s);
        }
}
END_TEST

static Suite *relayer_ledger_suite(void) {
        Suite *s = suite_create("relayer-ledger");
        TCase *tc;

        tc = tcase_create("rules");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_signing_payload_layout);
        tcase_add_test(tc, test_onchain_codec);
        tcase_add_test(tc, test_report_codec);
        tcase_add_test(tc, test_config_digest);
        tcase_add_test(tc, test_store_config);
        tcase_add_test(tc, test_transmit_signature_threshold);
        tcase_add_test(tc, test_transmit_bad_signatures);
        tcase_add_test(tc, test_transmit_undecodable_report);
        tcase_add_test(tc, test_transmit_replay_and_stale);
        tcase_add_test(tc, test_transmit_lookback_and_config_change);
        tcase_add_test(tc, test_provider_transmitter_must_be_configured);
        tcase_add_test(tc, test_block_height_grows);
        tcase_add_test(tc, test_transact);
        tcase_add_test(tc, test_nodes_paging);
        tcase_add_test(tc, test_config_parse);
        suite_add_tcase(s, tc);

        tc = tcase_create("plugin");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_plugin_end_to_end);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr = srunner_create(relayer_ledger_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
