/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The feed (src/feed/feed.h) with the real plugins under the exec backend: sdloop-relayer-ledger keeps the
 * ledger, sdloop-median decides, the host plays four oracles (f = 1). The feed runs until enough reports are
 * on the ledger — while the relayer and then the median plugin are killed with SIGKILL in the middle of a
 * round, and then both together, again and again — and the ledger is then read directly (SQLite,
 * read-only) and through org.sdloop1.Ledger: every report it holds was transmitted by the feed, carries f+1
 * valid signatures by the feed's keys over its context, has an answer within what the oracles observed in
 * its round, and the (epoch, round) pairs grow strictly with no round lost or repeated. A second feed on the
 * same ledger goes on after the first without reusing a round. A reconfigured contract is followed on its
 * ConfigChanged, between rounds. */

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "feed.h"
#include "sdloop-median-config.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "host-services.h"
#include "macro.h"

#define CONTRACT "eth-usd"

typedef struct Observed {
        uint32_t epoch;
        uint8_t round;
        unsigned oracle;
        char *value;
} Observed;

typedef struct Sent {
        SdloopReportContext ctx;
        SdloopBytes report;
        SdloopAttributed sigs[FEED_ORACLES_MAX];
        size_t n_sigs;
} Sent;

static struct {
        char dir[64];
        char *ledger;
        char *relayer_config;
        Host *host;
        HostKeystore *keystore;
        HostPlugin *relayer, *median;
        HostHandle *relayer_h;
        Feed *feed;

        Observed *observed;
        size_t n_observed;
        char **errors; /* what DataSources answered instead of a value */
        size_t n_errors;
        Sent *sent;
        size_t n_sent;

        /* Kill this plugin from inside the next round (while an oracle observes); both, with kill_both. */
        HostPlugin *kill_next;
        bool kill_both;
        unsigned kills;

        /* Configuration digests the feed followed (config_followed). */
        uint8_t followed[8][SDLOOP_DIGEST_SIZE];
        unsigned n_followed;
        uint64_t rounds_started_at_follow;
} T;

/* --- fixture ---------------------------------------------------------------------------------------------- */

static int relayer_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        return host_services_export(peer, T.keystore);
}

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, T.relayer_config, HOST_KEYSTORE_PATH, NULL, host_handle_created_reply, h,
                                                       ret_slot);
}

static const HostHandleOps relayer_ops = { .kind = "relayer", .create = relayer_create };

static HostPlugin *add_plugin(const char *name, const char *kind, const char *binary_env) {
        HostPluginSettings s;
        HostPlugin *p;
        const char *binary = getenv(binary_env);

        ck_assert_msg(binary, "$%s is not set", binary_env);
        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup(kind);
        s.binary = strdup(binary);
        ck_assert_int_ge(asprintf(&s.socket_path, "%s/%s.sock", T.dir, name), 0);
        s.restart_usec = 20 * USEC_PER_MSEC;
        s.start_limit_burst = 60;
        s.call_timeout_usec = 15 * USEC_PER_SEC;
        ck_assert_int_eq(host_plugin_new(T.host, &s, &p), 0);
        return p;
}

static void setup(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;

        memset(&T, 0, sizeof(T));
        strcpy(T.dir, "/tmp/sdloop-test-feed-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(T.dir));
        ck_assert_int_ge(asprintf(&T.ledger, "%s/ledger.sqlite", T.dir), 0);
        ck_assert_int_ge(asprintf(&T.relayer_config, "{\"chain_id\": \"test-chain\", \"ledger\": \"%s\"}",
                                  T.ledger), 0);
        ck_assert_int_ge(asprintf(&state, "%s/state", T.dir), 0);
        ck_assert_int_eq(host_keystore_new(state, &T.keystore), 0);
        ck_assert_int_eq(host_new(NULL, &host_backend_exec, &T.host), 0);

        T.relayer = add_plugin("ledger", SDLOOP_KIND_RELAYER, "SDLOOP_RELAYER_LEDGER");
        T.relayer->on_connect = relayer_on_connect;
        ck_assert_msg(host_plugin_start(T.relayer, &error) == 0, "start relayer: %s", error.message);
        T.median = add_plugin("median", SDLOOP_KIND_MEDIAN, "SDLOOP_MEDIAN_PLUGIN");
        ck_assert_msg(host_plugin_start(T.median, &error) == 0, "start median: %s", error.message);
        sd_bus_error_free(&error);
}

static void create_relayer(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;

        ck_assert_msg(host_handle_new(T.relayer, NULL, &relayer_ops, NULL, &T.relayer_h, &error) == 0, "relayer: %s",
                      error.message);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

static void records_clear(void) {
        for (size_t i = 0; i < T.n_observed; i++)
                free(T.observed[i].value);
        T.observed = mfree(T.observed);
        T.n_observed = 0;
        for (size_t i = 0; i < T.n_errors; i++)
                free(T.errors[i]);
        T.errors = mfree(T.errors);
        T.n_errors = 0;
        for (size_t i = 0; i < T.n_sent; i++) {
                sdloop_bytes_done(&T.sent[i].report);
                for (size_t k = 0; k < T.sent[i].n_sigs; k++)
                        sdloop_bytes_done(&T.sent[i].sigs[k].data);
        }
        T.sent = mfree(T.sent);
        T.n_sent = 0;
}

static void teardown(void) {
        T.feed = feed_free(T.feed);
        T.host = host_free(T.host);
        T.keystore = host_keystore_free(T.keystore);
        records_clear();
        free(T.ledger);
        free(T.relayer_config);
        (void) nftw(T.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- what the feed does, as seen from its hooks --------------------------------------------------------- */

static void on_observed(Feed *f, unsigned oracle, bool juels, const SdloopReportTimestamp *ts,
                        const char *value, const char *error, void *userdata) {
        if (error) {
                T.errors = reallocarray(T.errors, T.n_errors + 1, sizeof(char *));
                ck_assert_ptr_nonnull(T.errors);
                T.errors[T.n_errors++] = strdup(error);
        } else if (!juels) {
                T.observed = reallocarray(T.observed, T.n_observed + 1, sizeof(Observed));
                ck_assert_ptr_nonnull(T.observed);
                T.observed[T.n_observed++] = (Observed) {
                        .epoch = ts->epoch,
                        .round = ts->round,
                        .oracle = oracle,
                        .value = strdup(value),
                };
        }

        /* Mid-round: the median plugin is inside Observation, waiting for this very answer. */
        if (T.kill_both && oracle == 1 && T.relayer->main_pid > 0 && T.median->main_pid > 0) {
                ck_assert_int_eq(kill((pid_t) T.relayer->main_pid, SIGKILL), 0);
                ck_assert_int_eq(kill((pid_t) T.median->main_pid, SIGKILL), 0);
                T.kill_both = false;
                T.kills++;
        }
        if (T.kill_next && oracle == 1 && T.kill_next->main_pid > 0) {
                ck_assert_int_eq(kill((pid_t) T.kill_next->main_pid, SIGKILL), 0);
                T.kill_next = NULL;
                T.kills++;
        }
}

static void on_transmitted(Feed *f, const SdloopReportContext *ctx, const SdloopBytes *report,
                           const SdloopAttributed *sigs, size_t n_sigs, void *userdata) {
        Sent *s;

        T.sent = reallocarray(T.sent, T.n_sent + 1, sizeof(Sent));
        ck_assert_ptr_nonnull(T.sent);
        s = T.sent + T.n_sent++;
        *s = (Sent) { .ctx = *ctx, .n_sigs = n_sigs };
        ck_assert_int_eq(sdloop_bytes_copy(&s->report, report->data, report->size), 0);
        ck_assert_uint_le(n_sigs, FEED_ORACLES_MAX);
        for (size_t i = 0; i < n_sigs; i++) {
                s->sigs[i].oracle = sigs[i].oracle;
                ck_assert_int_eq(sdloop_bytes_copy(&s->sigs[i].data, sigs[i].data.data, sigs[i].data.size), 0);
        }
}

static void on_config_followed(Feed *f, const uint8_t digest[SDLOOP_DIGEST_SIZE], void *userdata) {
        FeedStatus st;

        ck_assert_uint_lt(T.n_followed, ELEMENTSOF(T.followed));
        memcpy(T.followed[T.n_followed++], digest, SDLOOP_DIGEST_SIZE);
        feed_get_status(f, &st);
        T.rounds_started_at_follow = st.rounds_started;
}

static const FeedHooks hooks = {
        .observed = on_observed,
        .transmitted = on_transmitted,
        .config_followed = on_config_followed,
};

static const char feed_json[] =
        "{"
        "  \"relayer\": \"ledger\","
        "  \"median\": \"median\","
        "  \"contract_id\": \"" CONTRACT "\","
        "  \"n\": 4, \"f\": 1,"
        "  \"onchain_config\": {\"min\": \"0\", \"max\": \"1000000000000000\"},"
        "  \"offchain_config\": {\"alpha_report_ppb\": 0, \"alpha_accept_ppb\": 0, \"delta_c_sec\": 0},"
        "  \"round_interval_sec\": %s,"
        "  \"value\": {\"type\": \"random_walk\", \"start\": \"200000000000\", \"step_ppm\": 5000, \"seed\": 7},"
        "  \"juels_per_fee_coin\": {\"type\": \"constant\", \"value\": \"1000000000000000000\"}"
        "  %s"
        "}";

static Feed *make_feed_every(const char *interval_sec, const char *extra) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        FeedConfig *c = NULL;
        Feed *f = NULL;
        json_object *j;

        ck_assert_int_ge(asprintf(&text, feed_json, interval_sec, strempty(extra)), 0);
        j = json_tokener_parse(text);
        ck_assert_msg(j, "feed JSON does not parse: %s", text);
        ck_assert_msg(feed_config_parse(j, "eth-usd", &c, &error) == 0, "%s", strempty(error));
        json_object_put(j);
        ck_assert_int_eq(feed_new(T.host, c, T.relayer, T.median, T.keystore, &f), 0);
        feed_set_hooks(f, &hooks, NULL);
        ck_assert_int_eq(feed_start(f), 0);
        return f;
}

static Feed *make_feed(const char *extra) {
        return make_feed_every("0.05", extra);
}

/* Drive the loop until @reports reports of this feed went out (or the deadline, which fails the test). */
static void run_until(Feed *f, uint64_t reports, uint64_t timeout_usec) {
        uint64_t deadline = host_now() + timeout_usec;
        FeedStatus st;

        for (;;) {
                feed_get_status(f, &st);
                if (st.rounds_transmitted >= reports && T.n_sent >= reports)
                        return;
                ck_assert_msg(host_now() < deadline, "only %" PRIu64 " of %" PRIu64 " reports in time; state %s, "
                              "latest round: %s; last error: %s", st.rounds_transmitted, reports,
                              feed_state_to_string(st.state), strempty(st.outcome), strempty(st.last_error));
                ck_assert_int_ge(sd_event_run(T.host->event, 100 * USEC_PER_MSEC), 0);
        }
}

/* Drive the loop until @done says so. */
static void run_while(bool (*done)(Feed *f), Feed *f, uint64_t timeout_usec, const char *what) {
        uint64_t deadline = host_now() + timeout_usec;

        while (!done(f)) {
                FeedStatus st;

                feed_get_status(f, &st);
                ck_assert_msg(host_now() < deadline, "%s did not happen in time; state %s, last error: %s", what,
                              feed_state_to_string(st.state), strempty(st.last_error));
                ck_assert_int_ge(sd_event_run(T.host->event, 100 * USEC_PER_MSEC), 0);
        }
}

/* --- the ledger --------------------------------------------------------------------------------------- */

static const Sent *find_sent(uint32_t epoch, uint8_t round) {
        const Sent *found = NULL;

        for (size_t i = 0; i < T.n_sent; i++)
                if (T.sent[i].ctx.timestamp.epoch == epoch && T.sent[i].ctx.timestamp.round == round) {
                        /* Transmitted once per round, never twice. */
                        ck_assert_msg(!found, "epoch %u round %u transmitted twice", epoch, round);
                        found = T.sent + i;
                }
        return found;
}

static void hex_decode(const char *hex, uint8_t *out, size_t n) {
        ck_assert_uint_eq(strlen(hex), 2 * n);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", out + i), 1);
}

static void check_signatures(Feed *f, const Sent *s) {
        _cleanup_(sdloop_bytes_done) SdloopBytes payload = {};
        bool seen[FEED_ORACLES_MAX] = {};
        size_t distinct = 0;

        ck_assert_int_eq(sdloop_report_signing_payload(&s->ctx, s->report.data, s->report.size, &payload), 0);
        for (size_t i = 0; i < s->n_sigs; i++) {
                const char *signer = feed_get_signer(f, s->sigs[i].oracle);
                uint8_t pk[crypto_sign_PUBLICKEYBYTES];

                ck_assert_ptr_nonnull(signer);
                hex_decode(signer, pk, sizeof(pk));
                ck_assert_uint_eq(s->sigs[i].data.size, crypto_sign_BYTES);
                ck_assert_msg(crypto_sign_verify_detached(s->sigs[i].data.data, payload.data, payload.size, pk) == 0,
                              "epoch %u round %u: signature of oracle %u does not verify", s->ctx.timestamp.epoch,
                              s->ctx.timestamp.round, s->sigs[i].oracle);
                if (!seen[s->sigs[i].oracle]) {
                        seen[s->sigs[i].oracle] = true;
                        distinct++;
                }
        }
        /* f + 1 = 2. */
        ck_assert_uint_ge(distinct, 2);
}

/* The answer lies within what the oracles observed in that round (each oracle counted once). */
static void check_answer(uint32_t epoch, uint8_t round, const char *answer) {
        const char *lo = NULL, *hi = NULL;
        bool seen[FEED_ORACLES_MAX] = {};
        unsigned n = 0;

        for (size_t i = 0; i < T.n_observed; i++) {
                const Observed *o = T.observed + i;

                if (o->epoch != epoch || o->round != round)
                        continue;
                if (!seen[o->oracle]) {
                        seen[o->oracle] = true;
                        n++;
                }
                if (!lo || sdloop_decimal_compare(o->value, lo) < 0)
                        lo = o->value;
                if (!hi || sdloop_decimal_compare(o->value, hi) > 0)
                        hi = o->value;
        }
        /* 2f + 1 = 3 at least. */
        ck_assert_msg(n >= 3, "epoch %u round %u: only %u oracles observed", epoch, round, n);
        ck_assert_msg(sdloop_decimal_compare(lo, answer) <= 0 && sdloop_decimal_compare(answer, hi) <= 0,
                      "epoch %u round %u: answer %s outside the observations [%s, %s]", epoch, round, answer, lo, hi);
}

typedef struct LedgerRow {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        char *answer;
} LedgerRow;

/* Check every transmission of the contract with sequence number ≥ @from (0-based, in ledger order) against
 * what @f transmitted; with @consecutive, each round must follow the previous one directly (no round of the
 * feed went by without its report). Returns how many rows there are in all. */
static size_t check_ledger(Feed *f, size_t from, bool consecutive) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        size_t n = 0, checked = 0;
        LedgerRow prev = {};
        bool have_prev = false;

        ck_assert_int_eq(sqlite3_open_v2(T.ledger, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT digest, epoch, round, answer, report FROM transmissions "
                                            "WHERE contract_id = ?1 ORDER BY id", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_bind_text(st, 1, CONTRACT, -1, SQLITE_STATIC), SQLITE_OK);

        for (;;) {
                int rc = sqlite3_step(st);
                LedgerRow row = {};
                const Sent *s;

                if (rc == SQLITE_DONE)
                        break;
                ck_assert_int_eq(rc, SQLITE_ROW);
                ck_assert_int_eq(sqlite3_column_bytes(st, 0), SDLOOP_DIGEST_SIZE);
                memcpy(row.digest, sqlite3_column_blob(st, 0), SDLOOP_DIGEST_SIZE);
                row.epoch = (uint32_t) sqlite3_column_int64(st, 1);
                row.round = (uint8_t) sqlite3_column_int(st, 2);
                row.answer = (char *) sqlite3_column_text(st, 3);

                /* Strictly increasing over the whole ledger: nothing repeated, nothing reordered. */
                if (have_prev)
                        ck_assert_msg(row.epoch > prev.epoch || (row.epoch == prev.epoch && row.round > prev.round),
                                      "row %zu: epoch %u round %u after epoch %u round %u", n, row.epoch, row.round,
                                      prev.epoch, prev.round);

                if (n >= from) {
                        if (consecutive && have_prev && n > from) {
                                uint32_t e = prev.round == 255 ? prev.epoch + 1 : prev.epoch;
                                uint8_t r = prev.round == 255 ? 1 : prev.round + 1;

                                ck_assert_msg(row.epoch == e && row.round == r,
                                              "row %zu: epoch %u round %u does not follow epoch %u round %u: a round "
                                              "was lost", n, row.epoch, row.round, prev.epoch, prev.round);
                        }
                        s = find_sent(row.epoch, row.round);
                        ck_assert_msg(s, "epoch %u round %u is on the ledger but was not transmitted by the feed",
                                      row.epoch, row.round);
                        ck_assert(memcmp(s->ctx.timestamp.digest, row.digest, SDLOOP_DIGEST_SIZE) == 0);
                        ck_assert_int_eq(sqlite3_column_bytes(st, 4), (int) s->report.size);
                        ck_assert(memcmp(sqlite3_column_blob(st, 4), s->report.data, s->report.size) == 0);
                        check_signatures(f, s);
                        check_answer(row.epoch, row.round, row.answer);
                        checked++;
                }

                memcpy(prev.digest, row.digest, SDLOOP_DIGEST_SIZE);
                prev.epoch = row.epoch;
                prev.round = row.round;
                have_prev = true;
                n++;
        }

        /* Everything the feed transmitted is there, verified by the ledger when it took it. */
        ck_assert_uint_eq(checked, T.n_sent);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

/* --- the test's own view of the contract, through a provider of its own -------------------------------- */

static char *probe_seed; /* RelayArgs.relay_config: NULL reads, a seed reconfigures the contract */

static int probe_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        SdloopRelayArgs a = {
                .external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe67",
                .contract_id = (char *) CONTRACT,
                .relay_config = probe_seed ?: (char *) "{}",
                .provider_type = (char *) "median",
        };

        return sdloop_relayer_new_config_provider_async(peer, parent_path, &a, NULL, host_handle_created_reply, h,
                                                        ret_slot);
}

static const HostHandleOps probe_ops = { .kind = "test_provider", .create = probe_create };

static HostHandle *new_probe(void) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HostHandle *h = NULL;

        ck_assert_msg(host_handle_new(T.relayer, T.relayer_h, &probe_ops, NULL, &h, &error) == 0, "provider: %s",
                      strempty(error.message));
        return h;
}

typedef struct LedgerCount {
        uint64_t count;
        uint32_t epoch;
        uint8_t round;
} LedgerCount;

static int call_count(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        LedgerCount *c = userdata;

        return sdloop_ledger_transmission_count(peer, path, &c->count, &c->epoch, &c->round, error);
}

/* org.sdloop1.Ledger.TransmissionCount, as the test sees it: success, or PluginUnavailable while the relayer
 * is away (then *ret is left as it is and false returned). Nothing else is acceptable. */
static bool ledger_count(HostHandle *probe, LedgerCount *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = host_handle_call(probe, call_count, ret, &error);
        ck_assert_msg(r >= 0 || sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE),
                      "TransmissionCount: %s: %s", strempty(error.name), strempty(error.message));
        return r >= 0;
}

typedef struct ConfigDetails {
        uint64_t block;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
} ConfigDetails;

static int call_details(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        ConfigDetails *d = userdata;

        return sdloop_contract_config_tracker_latest_config_details(peer, path, &d->block, d->digest, error);
}

/* Every round started ended transmitted, skipped or failed, but the one in flight. Valid while no tick
 * failed at set-up. */
static void assert_rounds_add_up(const FeedStatus *st) {
        uint64_t ended = st->rounds_transmitted + st->rounds_skipped.total -
                st->rounds_skipped.by_reason[FEED_REASON_BUSY] + st->rounds_failed.total;

        ck_assert_msg(st->rounds_started == ended + (st->in_round ? 1 : 0),
                      "%" PRIu64 " rounds started, %" PRIu64 " ended, %s in flight", st->rounds_started, ended,
                      st->in_round ? "one" : "none");
}

/* --- tests ------------------------------------------------------------------------------------------------ */

START_TEST(test_feed_kill_and_recover) {
        FeedStatus st;
        uint32_t relayer_pid, median_pid;
        size_t rows;
        char *signers[4];
        uint32_t last_epoch;

        setup();
        create_relayer();
        T.feed = make_feed(NULL);

        run_until(T.feed, 3, 60 * USEC_PER_SEC);
        feed_get_status(T.feed, &st);
        ck_assert_str_eq(feed_state_to_string(st.state), "running");
        ck_assert_ptr_nonnull(st.latest_answer);
        ck_assert_ptr_nonnull(st.config_digest);
        ck_assert_msg(strstr(st.outcome, ": transmitted, answer "), "%s", st.outcome);
        /* The first run on a fresh ledger starts at epoch 1, round 1. */
        ck_assert_uint_eq(T.sent[0].ctx.timestamp.epoch, 1);
        ck_assert_uint_eq(T.sent[0].ctx.timestamp.round, 1);

        /* The relayer dies in the middle of a round… */
        relayer_pid = T.relayer->main_pid;
        T.kill_next = T.relayer;
        run_until(T.feed, 7, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(T.kills, 1);
        ck_assert_uint_ne(T.relayer->main_pid, relayer_pid);
        ck_assert_uint_ge(T.relayer->n_restarts, 1);

        /* …and later the median plugin. */
        median_pid = T.median->main_pid;
        T.kill_next = T.median;
        run_until(T.feed, 12, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(T.kills, 2);
        ck_assert_uint_ne(T.median->main_pid, median_pid);
        ck_assert_uint_ge(T.median->n_restarts, 1);

        /* The crashes cost no round: every round started reported (alpha 0), none failed, and only the one
         * in flight (if any) has not ended yet. */
        feed_get_status(T.feed, &st);
        assert_rounds_add_up(&st);
        ck_assert_msg(st.rounds_failed.total == 0, "%" PRIu64 " rounds failed, last: %s", st.rounds_failed.total,
                      strempty(st.last_error));
        ck_assert_uint_eq(st.rounds_skipped.total, st.rounds_skipped.by_reason[FEED_REASON_BUSY]);
        ck_assert_uint_eq(st.calls_timed_out, 0);
        ck_assert_uint_ge(st.rounds_transmitted, 12);

        feed_stop(T.feed);
        feed_get_status(T.feed, &st);
        ck_assert_str_eq(feed_state_to_string(st.state), "stopped");
        ck_assert_uint_eq(st.rounds_transmitted, T.n_sent);
        ck_assert(st.reports_transmitted_known);
        ck_assert_uint_eq(st.epoch, T.sent[T.n_sent - 1].ctx.timestamp.epoch);
        ck_assert_uint_eq(st.round, T.sent[T.n_sent - 1].ctx.timestamp.round);
        ck_assert_int_gt(st.latest_timestamp_usec, 0);

        rows = check_ledger(T.feed, 0, true);
        ck_assert_uint_eq(rows, T.n_sent);
        /* The count is the ledger's. */
        ck_assert_uint_eq(st.reports_transmitted, rows);

        /* The status JSON for sdloopctl --json. */
        {
                json_object *j = NULL, *v;

                json_object *o;

                ck_assert_int_eq(feed_status_to_json(&st, &j), 0);
                ck_assert(json_object_object_get_ex(j, "reports_transmitted", &v));
                ck_assert_int_eq(json_object_get_int64(v), (int64_t) st.reports_transmitted);
                ck_assert(json_object_object_get_ex(j, "latest_answer", &v));
                ck_assert_str_eq(json_object_get_string(v), st.latest_answer);
                /* No multiplier: the answer as it is. */
                ck_assert(json_object_object_get_ex(j, "latest_answer_decimal", &v));
                ck_assert_str_eq(json_object_get_string(v), st.latest_answer);
                ck_assert(json_object_object_get_ex(j, "rounds_started", &v));
                ck_assert_int_eq(json_object_get_int64(v), (int64_t) st.rounds_started);
                ck_assert(json_object_object_get_ex(j, "rounds_failed", &o));
                ck_assert(json_object_object_get_ex(o, "total", &v));
                ck_assert_int_eq(json_object_get_int64(v), 0);
                ck_assert(json_object_object_get_ex(o, "timeout", &v));
                ck_assert_int_eq(json_object_get_int64(v), 0);
                ck_assert(!json_object_object_get_ex(o, "busy", NULL));
                ck_assert(json_object_object_get_ex(j, "rounds_skipped", &o));
                ck_assert(json_object_object_get_ex(o, "busy", &v));
                ck_assert_int_eq(json_object_get_int64(v), (int64_t) st.rounds_skipped.by_reason[FEED_REASON_BUSY]);
                json_object_put(j);
        }

        /* A new feed on the same ledger and keystore — a restarted host — signs with the same keys and goes
         * on after the ledger: the next epoch, never a round used before. */
        for (unsigned i = 0; i < 4; i++)
                signers[i] = strdup(feed_get_signer(T.feed, i));
        last_epoch = T.sent[T.n_sent - 1].ctx.timestamp.epoch;
        T.feed = feed_free(T.feed);
        records_clear();

        T.feed = make_feed(NULL);
        run_until(T.feed, 3, 60 * USEC_PER_SEC);
        for (unsigned i = 0; i < 4; i++) {
                ck_assert_str_eq(feed_get_signer(T.feed, i), signers[i]);
                free(signers[i]);
        }
        ck_assert_uint_eq(T.sent[0].ctx.timestamp.epoch, last_epoch + 1);
        ck_assert_uint_eq(T.sent[0].ctx.timestamp.round, 1);
        feed_stop(T.feed);
        ck_assert_uint_eq(check_ledger(T.feed, rows, true), rows + T.n_sent);
        /* Across the restart the count goes on from the ledger, not from zero. */
        feed_get_status(T.feed, &st);
        ck_assert_uint_eq(st.reports_transmitted, rows + T.n_sent);
        ck_assert_uint_eq(st.rounds_transmitted, T.n_sent);

        teardown();
}
END_TEST

static bool both_back(Feed *f) {
        return T.relayer->state == HOST_PLUGIN_RUNNING && T.median->state == HOST_PLUGIN_RUNNING &&
                T.relayer->running_usec > T.relayer->lost_usec && T.median->running_usec > T.median->lost_usec;
}

/* Both plugins die together, five times, each time in the middle of a round (an oracle observing). They
 * recover side by side — neither waits out the other's call timeout — and the feed's calls wait for them:
 * no call times out, no round fails, and the ledger holds every round once, in order. */
START_TEST(test_feed_kill_both) {
        HostHandle *probe;
        LedgerCount lc = {};
        FeedStatus st;
        unsigned relayer_timeouts, median_timeouts;
        size_t rows;

        setup();
        create_relayer();
        probe = new_probe();
        T.feed = make_feed(NULL);
        run_until(T.feed, 3, 60 * USEC_PER_SEC);
        relayer_timeouts = T.relayer->n_timeouts;
        median_timeouts = T.median->n_timeouts;

        for (unsigned k = 1; k <= 5; k++) {
                uint32_t relayer_pid = T.relayer->main_pid, median_pid = T.median->main_pid;
                uint64_t sent;

                T.kill_both = true;
                while (T.kills < k) {
                        feed_get_status(T.feed, &st);
                        ck_assert_msg(st.rounds_failed.total == 0, "a round failed: %s", strempty(st.last_error));
                        ck_assert_int_ge(sd_event_run(T.host->event, 100 * USEC_PER_MSEC), 0);
                }

                /* The test's own call, while both are away: it waits for the relayer, or says it is
                 * unavailable — nothing else. */
                (void) ledger_count(probe, &lc);

                run_while(both_back, T.feed, 60 * USEC_PER_SEC, "both plugins back");
                ck_assert_uint_ne(T.relayer->main_pid, relayer_pid);
                ck_assert_uint_ne(T.median->main_pid, median_pid);
                /* Side by side: each started reconnecting before the other was back. */
                ck_assert_uint_lt(T.relayer->reconnect_usec, T.median->running_usec);
                ck_assert_uint_lt(T.median->reconnect_usec, T.relayer->running_usec);
                ck_assert_uint_ge(T.relayer->reconnect_usec, T.relayer->lost_usec);
                ck_assert_uint_ge(T.median->reconnect_usec, T.median->lost_usec);

                /* And the feed goes on. */
                sent = T.n_sent;
                run_until(T.feed, sent + 2, 60 * USEC_PER_SEC);
                feed_get_status(T.feed, &st);
                ck_assert_uint_eq(st.rounds_failed.by_reason[FEED_REASON_TIMEOUT], 0);
                ck_assert_uint_eq(st.calls_timed_out, 0);
        }
        ck_assert_uint_eq(T.kills, 5);

        /* No host-side call of either plugin timed out: their recoveries did not wait for each other. */
        ck_assert_uint_eq(T.relayer->n_timeouts, relayer_timeouts);
        ck_assert_uint_eq(T.median->n_timeouts, median_timeouts);

        feed_get_status(T.feed, &st);
        assert_rounds_add_up(&st);
        ck_assert_msg(st.rounds_failed.total == 0, "%" PRIu64 " rounds failed, last: %s", st.rounds_failed.total,
                      strempty(st.last_error));
        ck_assert_uint_eq(st.rounds_skipped.total, st.rounds_skipped.by_reason[FEED_REASON_BUSY]);
        feed_stop(T.feed);

        /* The ledger: every round once, none lost (consecutive), and its own count agrees. */
        rows = check_ledger(T.feed, 0, true);
        ck_assert_uint_eq(rows, T.n_sent);
        ck_assert(ledger_count(probe, &lc));
        ck_assert_uint_eq(lc.count, rows);
        ck_assert_uint_eq(lc.epoch, T.sent[T.n_sent - 1].ctx.timestamp.epoch);
        ck_assert_uint_eq(lc.round, T.sent[T.n_sent - 1].ctx.timestamp.round);
        feed_get_status(T.feed, &st);
        ck_assert_uint_eq(st.reports_transmitted, rows);
        host_handle_close(probe);
        teardown();
}
END_TEST

static bool followed_twice(Feed *f) {
        return T.n_followed >= 2;
}

/* The contract is reconfigured (a new seed through another provider of the same relayer, as another job
 * would): the feed hears ConfigChanged and follows at once, between rounds — the next round is an hour
 * away, so no round read the configuration. */
START_TEST(test_feed_follows_config_changed) {
        _cleanup_(sdloop_bytes_done) SdloopBytes offchain = {};
        _cleanup_free_ char *hex = NULL, *seed = NULL;
        SdloopMedianOffchainConfig oc = { .alpha_report_ppb = 1, .alpha_accept_ppb = 1, .delta_c_nsec = 1000 };
        ConfigDetails d = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        HostHandle *probe;
        FeedStatus st;

        setup();
        create_relayer();
        T.feed = make_feed_every("3600", NULL);
        run_until(T.feed, 1, 60 * USEC_PER_SEC);
        ck_assert_uint_eq(T.n_followed, 1);
        feed_get_status(T.feed, &st);
        ck_assert_uint_eq(st.rounds_started, 1);
        ck_assert_uint_eq(st.config_changes, 0);

        /* The same oracles and keys, another offchain configuration: another digest. */
        ck_assert_int_eq(sdloop_median_offchain_config_encode(&oc, &offchain), 0);
        hex = malloc(2 * offchain.size + 1);
        ck_assert_ptr_nonnull(hex);
        for (size_t i = 0; i < offchain.size; i++)
                sprintf(hex + 2 * i, "%02x", offchain.data[i]);
        hex[2 * offchain.size] = '\0';
        ck_assert_int_ge(asprintf(&seed, "{\"config\": {\"signers\": [\"%s\", \"%s\", \"%s\", \"%s\"], "
                                  "\"transmitters\": [\"eth-usd-0\", \"eth-usd-1\", \"eth-usd-2\", \"eth-usd-3\"], "
                                  "\"f\": 1, \"onchain_config\": {\"min\": \"0\", \"max\": \"1000000000000000\"}, "
                                  "\"offchain_config_version\": 1, \"offchain_config\": \"%s\"}}",
                                  feed_get_signer(T.feed, 0), feed_get_signer(T.feed, 1), feed_get_signer(T.feed, 2),
                                  feed_get_signer(T.feed, 3), hex), 0);
        probe_seed = seed;
        probe = new_probe();
        probe_seed = NULL;

        run_while(followed_twice, T.feed, 30 * USEC_PER_SEC, "following the new configuration");
        ck_assert(memcmp(T.followed[0], T.followed[1], SDLOOP_DIGEST_SIZE) != 0);
        ck_assert_uint_eq(T.rounds_started_at_follow, 1);
        feed_get_status(T.feed, &st);
        ck_assert_uint_eq(st.config_changes, 1);
        ck_assert_ptr_nonnull(st.config_digest);
        ck_assert(memcmp(st.config_digest, T.followed[1], SDLOOP_DIGEST_SIZE) == 0);

        /* What the ledger says is the latest is what the feed follows now. */
        ck_assert_msg(host_handle_call(probe, call_details, &d, &error) == 0, "%s", strempty(error.message));
        ck_assert(memcmp(d.digest, T.followed[1], SDLOOP_DIGEST_SIZE) == 0);
        sd_bus_error_free(&error);

        feed_stop(T.feed);
        host_handle_close(probe);
        teardown();
}
END_TEST

static char *broken_file;

static bool two_rounds_failed(Feed *f) {
        FeedStatus st;

        feed_get_status(f, &st);
        return st.rounds_failed.total >= 2;
}

START_TEST(test_feed_failing_sources) {
        _cleanup_free_ char *extra = NULL;
        FeedStatus st;
        bool saw_file = false, saw_command = false;
        int fd;

        setup();
        create_relayer();

        /* Oracle 2 reads garbage from a file, oracle 3 runs a command that fails. */
        ck_assert_int_ge(asprintf(&broken_file, "%s/price", T.dir), 0);
        fd = open(broken_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "garbage\n", 8), 8);
        close(fd);
        ck_assert_int_ge(asprintf(&extra, ", \"oracles\": [null, null, "
                                  "{\"value\": {\"type\": \"file\", \"path\": \"%s\"}}, "
                                  "{\"value\": {\"type\": \"command\", \"argv\": [\"/bin/sh\", \"-c\", "
                                  "\"echo no price today >&2; exit 1\"]}}]", broken_file), 0);
        T.feed = make_feed(extra);

        /* Two of four cannot observe: fewer than 2f+1, the rounds fail and say why. */
        run_while(two_rounds_failed, T.feed, 60 * USEC_PER_SEC, "two failed rounds");
        feed_get_status(T.feed, &st);
        ck_assert_str_eq(feed_state_to_string(st.state), "failing");
        ck_assert_uint_eq(st.reports_transmitted, 0);
        ck_assert_uint_eq(st.rounds_failed.by_reason[FEED_REASON_NOT_ENOUGH_OBSERVATIONS], st.rounds_failed.total);
        ck_assert_int_eq(st.last_reason, FEED_REASON_NOT_ENOUGH_OBSERVATIONS);
        ck_assert_msg(strstr(st.last_error, "only 2 of 4 oracles observed, 2f+1 = 3 needed"), "%s", st.last_error);
        ck_assert_msg(strstr(st.last_error, "malformed decimal \"garbage\""), "%s", st.last_error);
        ck_assert_msg(strstr(st.last_error, "no price today"), "%s", st.last_error);
        ck_assert_uint_ge(st.observations_failed, 4);
        /* Two broken value sources a round, each counted; the juels sources are fine. */
        ck_assert_uint_ge(st.value_source_failures, 4);
        ck_assert_uint_eq(st.juels_source_failures, 0);
        ck_assert_uint_gt(st.last_round_usec, 0);

        /* The DataSources answered with errors naming the source (the median plugin saves them in the
         * host's ErrorLog). */
        for (size_t i = 0; i < T.n_errors; i++) {
                if (strstr(T.errors[i], "file source eth-usd.oracles[2].value") &&
                    strstr(T.errors[i], "line 1: malformed decimal"))
                        saw_file = true;
                if (strstr(T.errors[i], "command source eth-usd.oracles[3].value: exited with status 1: "
                                        "no price today"))
                        saw_command = true;
        }
        ck_assert(saw_file);
        ck_assert(saw_command);

        /* The file is fixed: three of four observe, that is enough; oracle 3 keeps failing. */
        fd = open(broken_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "200000000000\n", 13), 13);
        close(fd);
        run_until(T.feed, 4, 60 * USEC_PER_SEC);
        feed_stop(T.feed);
        check_ledger(T.feed, 0, false);

        free(broken_file);
        teardown();
}
END_TEST

static bool has_setup_error(Feed *f) {
        FeedStatus st;

        feed_get_status(f, &st);
        return st.last_error != NULL;
}

START_TEST(test_feed_waits_for_relayer) {
        FeedStatus st;

        /* No relayer on the relayer plugin yet: the feed says so and keeps trying. */
        setup();
        T.feed = make_feed(NULL);
        run_while(has_setup_error, T.feed, 30 * USEC_PER_SEC, "a set-up error");
        feed_get_status(T.feed, &st);
        ck_assert_str_eq(feed_state_to_string(st.state), "starting");
        ck_assert_msg(strstr(st.last_error, "plugin ledger has no relayer"), "%s", st.last_error);
        /* Each tick fails at set-up; no round starts. */
        ck_assert_uint_eq(st.rounds_started, 0);
        ck_assert_uint_ge(st.rounds_failed.by_reason[FEED_REASON_SETUP], 1);
        ck_assert_uint_eq(st.rounds_failed.total, st.rounds_failed.by_reason[FEED_REASON_SETUP]);
        ck_assert(feed_uses_plugin(T.feed, T.relayer));
        ck_assert(feed_uses_plugin(T.feed, T.median));

        create_relayer();
        run_until(T.feed, 2, 60 * USEC_PER_SEC);
        feed_stop(T.feed);
        check_ledger(T.feed, 0, true);
        teardown();
}
END_TEST

static void config_fails(const char *json, const char *expected) {
        _cleanup_free_ char *error = NULL;
        FeedConfig *c = NULL;
        json_object *j = json_tokener_parse(json);

        ck_assert_msg(j, "test JSON does not parse: %s", json);
        ck_assert_int_lt(feed_config_parse(j, "eth-usd", &c, &error), 0);
        json_object_put(j);
        ck_assert_ptr_null(c);
        ck_assert_msg(error && strstr(error, expected), "expected \"%s\", got \"%s\"", expected, strempty(error));
}

#define BASE \
        "\"relayer\": \"ledger\", \"median\": \"median\", " \
        "\"onchain_config\": {\"min\": \"0\", \"max\": \"10\"}, " \
        "\"value\": {\"type\": \"constant\", \"value\": \"5\"}"

START_TEST(test_config) {
        _cleanup_free_ char *error = NULL;
        FeedConfig *c = NULL;
        json_object *j;

        config_fails("[]", "feeds.eth-usd: expected an object");
        config_fails("{" BASE ", \"n\": 3, \"f\": 1}", "feeds.eth-usd.n: must be at least 3f+1 = 4 (f = 1)");
        config_fails("{" BASE ", \"n\": 40, \"f\": 1}", "feeds.eth-usd.n: must be between 1 and 31");
        config_fails("{" BASE ", \"n\": 4, \"f\": 0}", "feeds.eth-usd.f: must be between 1 and 10");
        config_fails("{" BASE ", \"n\": 4}", "feeds.eth-usd: missing \"f\"");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"colour\": 1}", "feeds.eth-usd.colour: unknown key");
        config_fails("{\"median\": \"m\", \"n\": 4, \"f\": 1}", "feeds.eth-usd: missing \"relayer\"");
        config_fails("{\"relayer\": \"r\", \"median\": \"m\", \"n\": 4, \"f\": 1, \"onchain_config\": "
                     "{\"min\": \"5\", \"max\": \"1\"}, \"value\": {\"type\": \"constant\", \"value\": \"5\"}}",
                     "feeds.eth-usd.onchain_config.max: 1 is less than min 5");
        config_fails("{\"relayer\": \"r\", \"median\": \"m\", \"n\": 4, \"f\": 1, \"onchain_config\": "
                     "{\"min\": \"x\", \"max\": \"1\"}}", "feeds.eth-usd.onchain_config.min: \"x\" is not a decimal");
        config_fails("{\"relayer\": \"r\", \"median\": \"m\", \"n\": 4, \"f\": 1, \"onchain_config\": "
                     "{\"min\": \"0\", \"max\": \"1\"}}", "feeds.eth-usd: missing \"value\"");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"offchain_config\": {\"alpha_report_ppb\": -1}}",
                     "feeds.eth-usd.offchain_config.alpha_report_ppb: must be between");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"offchain_config\": {\"alpha\": 1}}",
                     "feeds.eth-usd.offchain_config.alpha: unknown key");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"round_interval_sec\": 0}",
                     "feeds.eth-usd.round_interval_sec: must be between 0.01 and 86400 seconds");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"oracles\": [null, {\"value\": {\"type\": \"nope\"}}]}",
                     "feeds.eth-usd.oracles[1].value.type: unknown source type \"nope\"");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"oracles\": [{}, {}, {}, {}, {}]}",
                     "feeds.eth-usd.oracles: 5 entries for 4 oracles");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"transmitters\": [\"a\", \"b\", \"c\", \"a\"]}",
                     "feeds.eth-usd.transmitters[3]: \"a\" is already transmitter 0");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"relay_config\": {\"config\": {}}}",
                     "feeds.eth-usd.relay_config.config: set by the feed");
        config_fails("{" BASE ", \"n\": 4, \"f\": 1, \"external_job_id\": \"nope\"}",
                     "feeds.eth-usd.external_job_id: \"nope\" is not a UUID");

        /* Defaults. */
        j = json_tokener_parse("{" BASE ", \"n\": 4, \"f\": 1, \"offchain_config\": {\"alpha_accept_ppb\": "
                               "\"infinite\"}, \"relay_config\": {\"ledger\": \"/var/lib/x.sqlite\"}}");
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(feed_config_parse(j, "eth-usd", &c, &error) == 0, "%s", strempty(error));
        json_object_put(j);
        ck_assert_str_eq(c->contract_id, "eth-usd");
        ck_assert_str_eq(c->transmitters[3], "eth-usd-3");
        ck_assert_uint_eq(c->round_interval_usec, FEED_ROUND_INTERVAL_USEC_DEFAULT);
        ck_assert_uint_eq(c->alpha_report_ppb, 5000000);
        ck_assert(c->alpha_accept_infinite);
        ck_assert(sdloop_uuid_is_valid(c->external_job_id));
        ck_assert_int_eq(feed_source_config_get_type(c->juels_per_fee_coin), FEED_SOURCE_CONSTANT);
        ck_assert_ptr_nonnull(c->relay_config);
        feed_config_free(c);
}
END_TEST

static Suite *feed_suite(void) {
        Suite *s = suite_create("feed");
        TCase *tc;

        tc = tcase_create("config");
        tcase_add_test(tc, test_config);
        suite_add_tcase(s, tc);

        tc = tcase_create("exec");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_feed_kill_and_recover);
        tcase_add_test(tc, test_feed_failing_sources);
        tcase_add_test(tc, test_feed_waits_for_relayer);
        tcase_add_test(tc, test_feed_kill_both);
        tcase_add_test(tc, test_feed_follows_config_changed);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(feed_suite());
        int failed;

        sdloop_log_set_max_level(getenv("SDLOOP_TEST_DEBUG") ? LOG_DEBUG : LOG_WARNING);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
