/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The feed driver (see feed.h): configuration, set-up of the plugin objects a feed needs, and the rounds. */

#include <sodium.h>
#include <stdarg.h>
#include <time.h>

#include "feed.h"
#include "macro.h"
#include "median-codec.h"
#include "sdloop-codec.h"
#include "sdloop-signing.h"

#define FEED_ERROR_MAX 1024U

enum {
        SOURCE_VALUE,
        SOURCE_JUELS,
        _SOURCE_MAX,
};

static void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

/* --- configuration ------------------------------------------------------------------------------------- */

FeedConfig *feed_config_free(FeedConfig *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->relayer);
        free(c->median);
        free(c->contract_id);
        free(c->external_job_id);
        free(c->min);
        free(c->max);
        feed_source_config_free(c->value);
        feed_source_config_free(c->juels_per_fee_coin);
        for (size_t i = 0; c->oracles && i < c->n; i++) {
                feed_source_config_free(c->oracles[i].value);
                feed_source_config_free(c->oracles[i].juels_per_fee_coin);
        }
        free(c->oracles);
        strv_free(c->transmitters);
        if (c->relay_config)
                json_object_put(c->relay_config);
        return mfree(c);
}

static char *field_join(const char *field, const char *key) {
        char *s;

        if (asprintf(&s, "%s.%s", field, key) < 0)
                return NULL;
        return s;
}

static int get_string(json_object *j, const char *key, const char *base, bool required, char **ret,
                      char **ret_error) {
        _cleanup_free_ char *f = field_join(base, key);
        json_object *v;
        char *s;

        if (!f)
                return -ENOMEM;
        if (!json_object_object_get_ex(j, key, &v)) {
                if (required)
                        return feed_field_error(ret_error, base, "missing \"%s\"", key);
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) || isempty(json_object_get_string(v)))
                return feed_field_error(ret_error, f, "expected a non-empty string");
        s = strdup(json_object_get_string(v));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* alpha_*_ppb: a count of parts per billion, or "infinite" (the check never fires). */
static int get_alpha(json_object *j, const char *key, const char *base, uint64_t def, bool *ret_infinite,
                     uint64_t *ret, char **ret_error) {
        _cleanup_free_ char *f = field_join(base, key);
        json_object *v;
        int64_t i;
        int r;

        if (!f)
                return -ENOMEM;
        *ret_infinite = false;
        *ret = def;
        if (!json_object_object_get_ex(j, key, &v))
                return 0;
        if (json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), "infinite")) {
                *ret_infinite = true;
                *ret = 0;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return feed_field_error(ret_error, f,
                                             "expected parts per billion (an integer) or \"infinite\"");
        r = feed_json_get_integer(v, f, 0, INT64_MAX, &i, ret_error);
        if (r < 0)
                return r;
        *ret = (uint64_t) i;
        return 0;
}

static int parse_onchain(json_object *j, const char *base, FeedConfig *c, char **ret_error) {
        static const char * const keys[] = { "min", "max", NULL };
        _cleanup_free_ char *f = field_join(base, "onchain_config"), *fmin = NULL, *fmax = NULL;
        json_object *o, *v;
        int r;

        if (!f)
                return -ENOMEM;
        if (!json_object_object_get_ex(j, "onchain_config", &o))
                return feed_field_error(ret_error, base,
                                             "missing \"onchain_config\" ({\"min\": …, \"max\": …})");
        if (!json_object_is_type(o, json_type_object))
                return feed_field_error(ret_error, f,
                                             "expected an object {\"min\": …, \"max\": …}");
        r = feed_json_check_keys(o, f, keys, ret_error);
        if (r < 0)
                return r;

        fmin = field_join(f, "min");
        fmax = field_join(f, "max");
        if (!fmin || !fmax)
                return -ENOMEM;
        if (!json_object_object_get_ex(o, "min", &v))
                return feed_field_error(ret_error, f, "missing \"min\"");
        r = feed_json_get_decimal(v, fmin, &c->min, ret_error);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "max", &v))
                return feed_field_error(ret_error, f, "missing \"max\"");
        r = feed_json_get_decimal(v, fmax, &c->max, ret_error);
        if (r < 0)
                return r;
        if (sdloop_decimal_compare(c->min, c->max) > 0)
                return feed_field_error(ret_error, fmax, "%s is less than min %s", c->max, c->min);
        return 0;
}

static int parse_offchain(json_object *j, const char *base, FeedConfig *c, char **ret_error) {
        static const char * const keys[] = { "alpha_report_ppb", "alpha_accept_ppb", "delta_c_sec", NULL };
        _cleanup_free_ char *f = field_join(base, "offchain_config"), *fd = NULL;
        json_object *o = NULL, *v;
        int r;

        if (!f)
                return -ENOMEM;

        /* libocr's usual choices: report on 0.5 % deviation, accept on 0.1 %, a heartbeat a day. */
        c->alpha_report_ppb = 5000000;
        c->alpha_accept_ppb = 1000000;
        c->delta_c_usec = 86400 * USEC_PER_SEC;

        if (!json_object_object_get_ex(j, "offchain_config", &o))
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return feed_field_error(ret_error, f, "expected an object");
        r = feed_json_check_keys(o, f, keys, ret_error);
        if (r < 0)
                return r;

        r = get_alpha(o, "alpha_report_ppb", f, c->alpha_report_ppb, &c->alpha_report_infinite,
                      &c->alpha_report_ppb, ret_error);
        if (r < 0)
                return r;
        r = get_alpha(o, "alpha_accept_ppb", f, c->alpha_accept_ppb, &c->alpha_accept_infinite,
                      &c->alpha_accept_ppb, ret_error);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(o, "delta_c_sec", &v)) {
                fd = field_join(f, "delta_c_sec");
                if (!fd)
                        return -ENOMEM;
                /* deltaC travels in nanoseconds as a signed 64-bit duration: about 292 years. */
                r = feed_json_get_seconds(v, fd, 0, 100ULL * 365 * 86400 * USEC_PER_SEC,
                                               &c->delta_c_usec, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_source(json_object *j, const char *key, const char *base, const char *default_name,
                        FeedSourceConfig **ret, char **ret_error) {
        _cleanup_free_ char *f = field_join(base, key);
        json_object *v;

        if (!f)
                return -ENOMEM;
        if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return 0;
        }
        return feed_source_config_parse(v, f, default_name, ret, ret_error);
}

static int parse_oracles(json_object *j, const char *base, FeedConfig *c, char **ret_error) {
        static const char * const keys[] = { "value", "juels_per_fee_coin", NULL };
        _cleanup_free_ char *f = field_join(base, "oracles");
        json_object *a;
        size_t n;
        int r;

        if (!f)
                return -ENOMEM;
        c->oracles = new0(FeedOracleConfig, c->n);
        if (!c->oracles)
                return -ENOMEM;
        if (!json_object_object_get_ex(j, "oracles", &a))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return feed_field_error(ret_error, f,
                                             "expected an array of per-oracle overrides "
                                             "({\"value\": …, \"juels_per_fee_coin\": …} or null), by "
                                             "oracle id");
        n = json_object_array_length(a);
        if (n > c->n)
                return feed_field_error(ret_error, f, "%zu entries for %" PRIu32 " oracles", n, c->n);

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(a, i);
                _cleanup_free_ char *fi = NULL, *name = NULL;

                if (asprintf(&fi, "%s[%zu]", f, i) < 0)
                        return -ENOMEM;
                if (!o || json_object_is_type(o, json_type_null))
                        continue;
                if (!json_object_is_type(o, json_type_object))
                        return feed_field_error(ret_error, fi, "expected an object or null");
                r = feed_json_check_keys(o, fi, keys, ret_error);
                if (r < 0)
                        return r;

                if (asprintf(&name, "%s.oracles[%zu].value", c->name, i) < 0)
                        return -ENOMEM;
                r = parse_source(o, "value", fi, name, &c->oracles[i].value, ret_error);
                if (r < 0)
                        return r;
                free(name);
                if (asprintf(&name, "%s.oracles[%zu].juels_per_fee_coin", c->name, i) < 0) {
                        name = NULL;
                        return -ENOMEM;
                }
                r = parse_source(o, "juels_per_fee_coin", fi, name, &c->oracles[i].juels_per_fee_coin,
                                 ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_transmitters(json_object *j, const char *base, FeedConfig *c, char **ret_error) {
        _cleanup_free_ char *f = field_join(base, "transmitters");
        json_object *a;

        if (!f)
                return -ENOMEM;
        c->transmitters = new0(char *, c->n + 1);
        if (!c->transmitters)
                return -ENOMEM;

        if (!json_object_object_get_ex(j, "transmitters", &a)) {
                for (uint32_t i = 0; i < c->n; i++)
                        if (asprintf(&c->transmitters[i], "%s-%" PRIu32, c->name, i) < 0) {
                                c->transmitters[i] = NULL;
                                return -ENOMEM;
                        }
                return 0;
        }

        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != c->n)
                return feed_field_error(ret_error, f, "expected an array of %" PRIu32 " transmitter "
                                             "ids, one per oracle", c->n);
        for (uint32_t i = 0; i < c->n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                _cleanup_free_ char *fi = NULL;

                if (asprintf(&fi, "%s[%" PRIu32 "]", f, i) < 0)
                        return -ENOMEM;
                if (!json_object_is_type(v, json_type_string) || isempty(json_object_get_string(v)))
                        return feed_field_error(ret_error, fi, "expected a non-empty string");
                for (uint32_t k = 0; k < i; k++)
                        if (streq(c->transmitters[k], json_object_get_string(v)))
                                return feed_field_error(ret_error, fi,
                                                             "\"%s\" is already transmitter %" PRIu32,
                                                             c->transmitters[k], k);
                c->transmitters[i] = strdup(json_object_get_string(v));
                if (!c->transmitters[i])
                        return -ENOMEM;
        }
        return 0;
}

/* A stable job UUID for a feed that does not name one: derived from its name (version 8, RFC 9562). */
static int derive_external_job_id(const char *name, char **ret) {
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_state st;

        if (sodium_init() < 0)
                return -EIO;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const uint8_t *) "sdloop feed ", 12);
        crypto_hash_sha256_update(&st, (const uint8_t *) name, strlen(name));
        crypto_hash_sha256_final(&st, h);
        h[6] = (uint8_t) ((h[6] & 0x0f) | 0x80);
        h[8] = (uint8_t) ((h[8] & 0x3f) | 0x80);

        if (asprintf(ret, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
                     h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
                     h[15]) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int feed_config_parse(json_object *feed, const char *name, FeedConfig **ret, char **ret_error) {
        static const char * const keys[] = {
                "relayer", "median", "contract_id", "job_id", "external_job_id", "n", "f",
                "onchain_config", "offchain_config", "round_interval_sec", "value", "juels_per_fee_coin",
                "oracles", "transmitters", "relay_config", NULL,
        };
        _cleanup_(feed_config_freep) FeedConfig *c = NULL;
        _cleanup_free_ char *base = NULL, *f = NULL, *default_name = NULL;
        json_object *v;
        int64_t i;
        int r;

        assert(name);
        assert(ret);

        if (asprintf(&base, "feeds.%s", name) < 0)
                return -ENOMEM;
        if (!json_object_is_type(feed, json_type_object))
                return feed_field_error(ret_error, base, "expected an object");
        r = feed_json_check_keys(feed, base, keys, ret_error);
        if (r < 0)
                return r;

        c = new0(FeedConfig, 1);
        if (!c)
                return -ENOMEM;
        c->name = strdup(name);
        if (!c->name)
                return -ENOMEM;

        r = get_string(feed, "relayer", base, true, &c->relayer, ret_error);
        if (r < 0)
                return r;
        r = get_string(feed, "median", base, true, &c->median, ret_error);
        if (r < 0)
                return r;
        r = get_string(feed, "contract_id", base, false, &c->contract_id, ret_error);
        if (r < 0)
                return r;
        if (!c->contract_id) {
                c->contract_id = strdup(name);
                if (!c->contract_id)
                        return -ENOMEM;
        }

#define FIELD(key)                              \
        ({                                      \
                free(f);                        \
                f = field_join(base, key);      \
                if (!f)                         \
                        return -ENOMEM;         \
                f;                              \
        })

        if (json_object_object_get_ex(feed, "job_id", &v)) {
                r = feed_json_get_integer(v, FIELD("job_id"), 0, INT32_MAX, &i, ret_error);
                if (r < 0)
                        return r;
                c->job_id = (int32_t) i;
        }
        r = get_string(feed, "external_job_id", base, false, &c->external_job_id, ret_error);
        if (r < 0)
                return r;
        if (c->external_job_id && !sdloop_uuid_is_valid(c->external_job_id))
                return feed_field_error(ret_error, FIELD("external_job_id"), "\"%s\" is not a UUID",
                                             c->external_job_id);
        if (!c->external_job_id) {
                r = derive_external_job_id(name, &c->external_job_id);
                if (r < 0)
                        return r;
        }

        if (!json_object_object_get_ex(feed, "f", &v))
                return feed_field_error(ret_error, base,
                                             "missing \"f\" (how many faulty oracles to tolerate)");
        r = feed_json_get_integer(v, FIELD("f"), 1, (FEED_ORACLES_MAX - 1) / 3, &i, ret_error);
        if (r < 0)
                return r;
        c->f = (uint32_t) i;
        if (!json_object_object_get_ex(feed, "n", &v))
                return feed_field_error(ret_error, base, "missing \"n\" (the number of oracles)");
        r = feed_json_get_integer(v, FIELD("n"), 1, FEED_ORACLES_MAX, &i, ret_error);
        if (r < 0)
                return r;
        c->n = (uint32_t) i;
        if (c->n <= 3 * c->f)
                return feed_field_error(ret_error, f,
                                             "must be at least 3f+1 = %" PRIu32 " (f = %" PRIu32 ")",
                                             3 * c->f + 1, c->f);

        r = parse_onchain(feed, base, c, ret_error);
        if (r < 0)
                return r;
        r = parse_offchain(feed, base, c, ret_error);
        if (r < 0)
                return r;

        c->round_interval_usec = FEED_ROUND_INTERVAL_USEC_DEFAULT;
        if (json_object_object_get_ex(feed, "round_interval_sec", &v)) {
                r = feed_json_get_seconds(v, FIELD("round_interval_sec"), 10 * USEC_PER_MSEC,
                                               86400 * USEC_PER_SEC, &c->round_interval_usec, ret_error);
                if (r < 0)
                        return r;
        }

        if (asprintf(&default_name, "%s.value", name) < 0)
                return -ENOMEM;
        r = parse_source(feed, "value", base, default_name, &c->value, ret_error);
        if (r < 0)
                return r;
        if (!c->value)
                return feed_field_error(ret_error, base, "missing \"value\" (the data source of the "
                                             "observed value)");

        free(default_name);
        if (asprintf(&default_name, "%s.juels_per_fee_coin", name) < 0) {
                default_name = NULL;
                return -ENOMEM;
        }
        r = parse_source(feed, "juels_per_fee_coin", base, default_name, &c->juels_per_fee_coin, ret_error);
        if (r < 0)
                return r;
        if (!c->juels_per_fee_coin) {
                /* Chains without a fee coin conversion: a constant 0. */
                _cleanup_(json_object_putp) json_object *zero =
                        json_tokener_parse("{\"type\": \"constant\", \"value\": \"0\"}");

                if (!zero)
                        return -ENOMEM;
                r = feed_source_config_parse(zero, FIELD("juels_per_fee_coin"), default_name,
                                                  &c->juels_per_fee_coin, ret_error);
                if (r < 0)
                        return r;
        }

        r = parse_oracles(feed, base, c, ret_error);
        if (r < 0)
                return r;
        r = parse_transmitters(feed, base, c, ret_error);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(feed, "relay_config", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return feed_field_error(ret_error, FIELD("relay_config"), "expected an object "
                                                     "(extra keys of the relay config, such as "
                                                     "\"ledger\")");
                if (json_object_object_get_ex(v, "config", NULL))
                        return feed_field_error(ret_error, FIELD("relay_config.config"),
                                                     "set by the feed from n, f, onchain_config and "
                                                     "offchain_config; leave it out");
                r = json_object_deep_copy(v, &c->relay_config, NULL);
                if (r < 0)
                        return -ENOMEM;
        }
#undef FIELD

        *ret = TAKE_PTR(c);
        return 0;
}

/* --- state --------------------------------------------------------------------------------------------- */

static const char * const feed_state_table[_FEED_STATE_MAX] = {
        [FEED_STOPPED] = "stopped",
        [FEED_STARTING] = "starting",
        [FEED_RUNNING] = "running",
        [FEED_FAILING] = "failing",
};

const char *feed_state_to_string(FeedState s) {
        return s >= 0 && s < _FEED_STATE_MAX ? feed_state_table[s] : NULL;
}

typedef struct FeedOracle FeedOracle;

/* What a DataSource object of an oracle serves. */
typedef struct FeedDataSourceRef {
        FeedOracle *oracle;
        unsigned kind;
} FeedDataSourceRef;

struct FeedOracle {
        Feed *feed;
        unsigned id;
        char *account; /* Keystore account: hex Ed25519 public key, the contract's signer */

        FeedSource *sources[_SOURCE_MAX];
        FeedDataSourceRef refs[_SOURCE_MAX];
        char *fetched[_SOURCE_MAX];     /* this round's values… */
        char *fetch_error[_SOURCE_MAX]; /* …or why there is none */
        char *data_source_path[_SOURCE_MAX]; /* on Feed.conn */

        HostHandle *factory, *plugin;
};

struct Feed {
        Host *host;
        FeedConfig *config;
        HostPlugin *relayer, *median;
        HostKeystore *keystore;
        char *proxy_path;
        FeedOracle *oracles;

        FeedHooks hooks;
        void *hooks_userdata;

        bool started, set_up, in_round, free_requested;
        sd_event_source *timer;
        sd_event_source *defer; /* a round that came up nested in another call, run from the top */
        uint64_t round_started_usec;
        unsigned fetches_pending;
        uint64_t step;

        HostHandle *relayer_h, *provider_h;
        char *relay_config_seed;  /* RelayArgs.relay_config with the contract configuration… */
        char *relay_config_plain; /* …and without, to read what is there */
        SdloopBytes offchain_config;
        SdloopBytes onchain_config; /* as the contract holds it */
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch; /* the latest (epoch, round) used */
        uint8_t round;

        bool round_active; /* what the DataSources serve: this round's fetched values */
        SdloopReportTimestamp active;

        /* The host objects on the median plugin's current connection. */
        SdloopPeer *conn;
        SdloopProxy *proxy;
        char *error_log_path;

        /* A transmission that failed, tried again before the next round. */
        bool pending;
        SdloopReportContext pending_ctx;
        SdloopBytes pending_report;
        SdloopAttributed *pending_sigs;
        size_t n_pending_sigs;

        FeedState state;
        char *latest_answer;
        uint32_t latest_epoch;
        uint8_t latest_round;
        int64_t latest_timestamp_usec;
        uint64_t reports_transmitted, rounds_run, rounds_failed, observations_failed;
        char *outcome; /* what the latest round came to */
        char *last_error;
        uint64_t last_error_usec;
};

static uint64_t now_realtime_usec(void) {
        struct timespec ts = {};

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void feed_set_error(Feed *f, FeedState state, const char *format, ...) _printf_(3, 4);
static void feed_set_error(Feed *f, FeedState state, const char *format, ...) {
        char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);

        if (msg && strlen(msg) >= FEED_ERROR_MAX)
                strcpy(msg + FEED_ERROR_MAX - 4, "…");
        /* A plugin that stays away fails every round the same way: say it once, not every interval. */
        if (msg && streq_ptr(msg, f->last_error) && f->state == state)
                log_debug("Feed %s: %s (again)", f->config->name, msg);
        else
                log_warning("Feed %s: %s", f->config->name, msg ?: "(out of memory)");
        free(f->last_error);
        f->last_error = msg;
        f->last_error_usec = now_realtime_usec();
        f->state = state;
}

static void feed_set_outcome(Feed *f, const char *format, ...) _printf_(2, 3);
static void feed_set_outcome(Feed *f, const char *format, ...) {
        char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        free(f->outcome);
        f->outcome = msg;
}

static void pending_clear(Feed *f) {
        sdloop_bytes_done(&f->pending_report);
        sdloop_attributed_array_free(f->pending_sigs, f->n_pending_sigs);
        f->pending_sigs = NULL;
        f->n_pending_sigs = 0;
        f->pending = false;
}

static void digest_hex_prefix(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static 17]) {
        for (size_t i = 0; i < 8; i++)
                sprintf(buf + 2 * i, "%02x", digest[i]);
}

static bool digest_is_zero(const uint8_t digest[static SDLOOP_DIGEST_SIZE]) {
        for (size_t i = 0; i < SDLOOP_DIGEST_SIZE; i++)
                if (digest[i] != 0)
                        return false;
        return true;
}

/* --- the host objects on the median plugin's connection ------------------------------------------------ */

static int feed_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value,
                        sd_bus_error *error) {
        FeedDataSourceRef *ref = userdata;
        FeedOracle *o = ref->oracle;
        Feed *f = o->feed;
        unsigned k = ref->kind;
        const char *why = f->round_active ? "not the round in progress" : "no round in progress";
        char *value = NULL;
        int r;

        /* Values are fetched before the round starts; the DataSource only hands out the round's. */
        if (!f->round_active || ts->epoch != f->active.epoch || ts->round != f->active.round ||
            memcmp(ts->digest, f->active.digest, SDLOOP_DIGEST_SIZE) != 0)
                r = sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND,
                                      "feed %s has no observation for epoch %" PRIu32 " round %u: %s",
                                      f->config->name, ts->epoch, ts->round, why);
        else if (o->fetch_error[k])
                r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%s", o->fetch_error[k]);
        else if (!o->fetched[k])
                r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%s: no value",
                                      feed_source_get_label(o->sources[k]));
        else {
                value = strdup(o->fetched[k]);
                if (!value)
                        return -ENOMEM;
                r = 0;
        }

        if (f->hooks.observed)
                f->hooks.observed(f, o->id, k == SOURCE_JUELS, ts, value, r < 0 ? error->message : NULL,
                                  f->hooks_userdata);
        if (r >= 0)
                *ret_value = value;
        return r;
}

static void feed_connection_release(Feed *f) {
        if (f->proxy) {
                if (f->provider_h)
                        host_handle_unwatch(f->provider_h, f->proxy);
                f->proxy = sdloop_proxy_free(f->proxy);
        }

        /* Objects of a connection that is gone are gone with it; those of a live one are closed here. */
        for (unsigned i = 0; f->oracles && i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        FeedOracle *o = f->oracles + i;
                        SdloopObject *obj;

                        if (!o->data_source_path[k])
                                continue;
                        obj = f->conn ? sdloop_peer_find_object(f->conn, o->data_source_path[k]) : NULL;
                        if (obj)
                                sdloop_object_close(obj);
                        o->data_source_path[k] = mfree(o->data_source_path[k]);
                }
        if (f->error_log_path) {
                SdloopObject *obj = f->conn ? sdloop_peer_find_object(f->conn, f->error_log_path) : NULL;

                if (obj)
                        sdloop_object_close(obj);
                f->error_log_path = mfree(f->error_log_path);
        }
        f->conn = sdloop_peer_unref(f->conn);
}

/* Export what the median plugin's factories use on @peer, once per connection: the provider (a proxy kept
 * pointed at the relayer's provider), an ErrorLog, and every oracle's two DataSources. */
static int feed_connection_setup(Feed *f, SdloopPeer *peer) {
        SdloopObject *obj;
        int r;

        if (f->conn == peer && sdloop_peer_is_connected(peer))
                return 0;

        feed_connection_release(f);
        f->conn = sdloop_peer_ref(peer);

        r = sdloop_proxy_new(peer, f->proxy_path, NULL, NULL, &f->proxy);
        if (r < 0)
                goto fail;
        r = host_handle_watch(f->provider_h, f->proxy);
        if (r < 0)
                goto fail;

        r = host_error_log_new(peer, NULL, f->median->settings.name, &obj);
        if (r < 0)
                goto fail;
        f->error_log_path = strdup(sdloop_object_get_path(obj));
        if (!f->error_log_path) {
                sdloop_object_close(obj);
                r = -ENOMEM;
                goto fail;
        }

        for (unsigned i = 0; i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        FeedOracle *o = f->oracles + i;

                        r = host_data_source_new(peer, NULL, feed_observe, &o->refs[k], NULL, &obj);
                        if (r < 0)
                                goto fail;
                        o->data_source_path[k] = strdup(sdloop_object_get_path(obj));
                        if (!o->data_source_path[k]) {
                                sdloop_object_close(obj);
                                r = -ENOMEM;
                                goto fail;
                        }
                }
        return 0;

fail:
        feed_connection_release(f);
        return r;
}

/* --- handles ------------------------------------------------------------------------------------------- */

static int provider_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        Feed *f = h->data;
        SdloopRelayArgs relay_args = {
                .external_job_id = f->config->external_job_id,
                .job_id = f->config->job_id,
                .contract_id = f->config->contract_id,
                .relay_config = f->relay_config_seed,
                .provider_type = (char *) "median",
        };
        SdloopPluginArgs plugin_args = {
                .transmitter_id = f->config->transmitters[0],
                .plugin_config = (char *) "{}",
        };

        /* The relay config seeds the contract with this feed's configuration: on the first creation, and
         * again (a no-op unless someone changed it) whenever the relayer comes back. */
        return sdloop_relayer_new_plugin_provider_async(peer, parent_path, &relay_args, &plugin_args, NULL,
                                                        host_handle_created_reply, h, ret_slot);
}

static int factory_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        FeedOracle *o = h->data;
        Feed *f = o->feed;
        int r;

        r = feed_connection_setup(f, peer);
        if (r < 0)
                return log_warning_errno(r, "Feed %s: cannot export its host objects: %m", f->config->name);

        return sdloop_plugin_median_new_median_factory_async(peer, &(SdloopMedianDeps) {
                        .provider = f->proxy_path,
                        .data_source = o->data_source_path[SOURCE_VALUE],
                        .juels_data_source = o->data_source_path[SOURCE_JUELS],
                        .error_log = f->error_log_path,
                }, NULL, host_handle_created_reply, h, ret_slot);
}

/* The factory is handed the relayer's provider (by proxy): created once that exists. */
static HostHandle *factory_needs(HostHandle *h) {
        FeedOracle *o = h->data;

        return o->feed->provider_h;
}

static int reporting_plugin_create(HostHandle *h, SdloopPeer *peer, const char *parent_path,
                                   sd_bus_slot **ret_slot) {
        FeedOracle *o = h->data;
        Feed *f = o->feed;
        uint64_t max_duration = f->median->settings.call_timeout_usec;
        SdloopReportingPluginConfig config = {
                .oracle_id = (uint8_t) o->id,
                .n = f->config->n,
                .f = f->config->f,
                .onchain_config = f->onchain_config,
                .offchain_config = f->offchain_config,
                .estimated_round_interval_usec = f->config->round_interval_usec,
                .max_duration_query_usec = max_duration,
                .max_duration_observation_usec = max_duration,
                .max_duration_report_usec = max_duration,
                .max_duration_should_accept_usec = max_duration,
                .max_duration_should_transmit_usec = max_duration,
        };

        /* Re-created after a crash with the digest current then. */
        memcpy(config.digest, f->digest, SDLOOP_DIGEST_SIZE);
        return sdloop_reporting_plugin_factory_new_reporting_plugin_async(peer, parent_path, &config, NULL,
                                                                          host_handle_created_reporting_plugin_reply,
                                                                          h, ret_slot);
}

static const HostHandleOps provider_handle_ops = { .kind = "provider", .create = provider_create };
static const HostHandleOps factory_handle_ops = {
        .kind = "factory",
        .create = factory_create,
        .needs = factory_needs,
};
static const HostHandleOps reporting_plugin_handle_ops = {
        .kind = "reporting_plugin",
        .create = reporting_plugin_create,
};

/* --- calls --------------------------------------------------------------------------------------------- */

typedef struct ContractState {
        uint64_t block;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        bool has_config;
        SdloopContractConfig config;
} ContractState;

/* LatestConfigDetails and, if there is a configuration, LatestConfig on the provider at @path. */
static int read_contract_config(SdloopPeer *peer, const char *path, ContractState *c, sd_bus_error *error) {
        int r;

        sdloop_contract_config_done(&c->config);
        c->has_config = false;
        r = sdloop_contract_config_tracker_latest_config_details(peer, path, &c->block, c->digest, error);
        if (r < 0)
                return r;
        if (c->block == 0 && digest_is_zero(c->digest))
                return 0;
        r = sdloop_contract_config_tracker_latest_config(peer, path, c->block, &c->config, error);
        if (r < 0)
                return r;
        c->has_config = true;
        return 0;
}

typedef struct ConfigProbe {
        Feed *feed;
        ContractState state;
} ConfigProbe;

/* Through a throw-away config provider: what the contract holds before this feed seeds it. */
static int call_probe_config(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        ConfigProbe *p = userdata;
        Feed *f = p->feed;
        _cleanup_free_ char *provider = NULL;
        sd_bus_error close_error = SD_BUS_ERROR_NULL;
        SdloopRelayArgs relay_args = {
                .external_job_id = f->config->external_job_id,
                .job_id = f->config->job_id,
                .contract_id = f->config->contract_id,
                .relay_config = f->relay_config_plain,
                .provider_type = (char *) "median",
        };
        int r;

        r = sdloop_relayer_new_config_provider(peer, path, &relay_args, &provider, error);
        if (r < 0)
                return r;
        r = read_contract_config(peer, provider, &p->state, error);
        (void) sdloop_peer_call_method(peer, provider, "org.sdloop1.Service", "Close", NULL, &close_error,
                                       NULL);
        sd_bus_error_free(&close_error);
        return r;
}

static int call_read_contract(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return read_contract_config(peer, path, userdata, error);
}

typedef struct Transmission {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        char *answer;
        int64_t timestamp_usec;
} Transmission;

static int call_latest_transmission(SdloopPeer *peer, const char *path, void *userdata,
                                    sd_bus_error *error) {
        Transmission *t = userdata;

        t->answer = mfree(t->answer);
        return sdloop_median_contract_latest_transmission_details(peer, path, t->digest, &t->epoch,
                                                                  &t->round, &t->answer, &t->timestamp_usec,
                                                                  error);
}

typedef struct DigestEpoch {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
} DigestEpoch;

static int call_latest_digest_and_epoch(SdloopPeer *peer, const char *path, void *userdata,
                                        sd_bus_error *error) {
        DigestEpoch *d = userdata;

        return sdloop_contract_transmitter_latest_config_digest_and_epoch(peer, path, d->digest, &d->epoch,
                                                                          error);
}

typedef struct ConfigDetails {
        uint64_t block;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
} ConfigDetails;

static int call_latest_config_details(SdloopPeer *peer, const char *path, void *userdata,
                                      sd_bus_error *error) {
        ConfigDetails *d = userdata;

        return sdloop_contract_config_tracker_latest_config_details(peer, path, &d->block, d->digest, error);
}

typedef struct PluginCall {
        const SdloopReportTimestamp *ts;
        const SdloopBytes *query;
        const SdloopAttributed *observations;
        size_t n_observations;
        const SdloopBytes *report;
        SdloopBytes result;
        bool yes;
} PluginCall;

static int call_query(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        PluginCall *c = userdata;

        sdloop_bytes_done(&c->result);
        return sdloop_reporting_plugin_query(peer, path, c->ts, &c->result, error);
}

static int call_observation(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        PluginCall *c = userdata;

        sdloop_bytes_done(&c->result);
        return sdloop_reporting_plugin_observation(peer, path, c->ts, c->query->data, c->query->size,
                                                   &c->result, error);
}

static int call_report(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        PluginCall *c = userdata;

        sdloop_bytes_done(&c->result);
        return sdloop_reporting_plugin_report(peer, path, c->ts, c->query->data, c->query->size,
                                              c->observations, c->n_observations, &c->yes, &c->result,
                                              error);
}

static int call_should_accept(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        PluginCall *c = userdata;

        return sdloop_reporting_plugin_should_accept_finalized_report(peer, path, c->ts, c->report->data,
                                                                      c->report->size, &c->yes, error);
}

static int call_should_transmit(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        PluginCall *c = userdata;

        return sdloop_reporting_plugin_should_transmit_accepted_report(peer, path, c->ts, c->report->data,
                                                                       c->report->size, &c->yes, error);
}

typedef struct TransmitCall {
        const SdloopReportContext *ctx;
        const SdloopBytes *report;
        const SdloopAttributed *sigs;
        size_t n_sigs;
} TransmitCall;

static int call_transmit(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        TransmitCall *c = userdata;

        return sdloop_contract_transmitter_transmit(peer, path, c->ctx, c->report->data, c->report->size,
                                                    c->sigs, c->n_sigs, error);
}

static const char *error_message(const sd_bus_error *error, int r) {
        return error && error->message ? error->message : strerror(-r);
}

/* Say why a round failed in *ret and return @r (or -ENOMEM). */
static int round_failed(char **ret, int r, const char *format, ...) _printf_(3, 4);
static int round_failed(char **ret, int r, const char *format, ...) {
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(ret, format, ap);
        va_end(ap);
        if (k < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return r;
}

/* --- set-up -------------------------------------------------------------------------------------------- */

static HostHandle *find_relayer_handle(HostPlugin *p) {
        for (HostHandle *h = p->handles_head; h; h = h->next)
                if (!h->parent && streq_ptr(h->ops->kind, "relayer"))
                        return h;
        return NULL;
}

static char *hex_encode(const uint8_t *data, size_t size, char *buf) {
        for (size_t i = 0; i < size; i++)
                sprintf(buf + 2 * i, "%02x", data[i]);
        buf[2 * size] = '\0';
        return buf;
}

static bool strv_contains(char * const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

/* The oracles' keys: those the contract is configured with if the Keystore holds all of them (a restarted
 * host goes on with the same signers), otherwise n new ones. */
static int feed_choose_signers(Feed *f, sd_bus_error *error) {
        _cleanup_strv_free_ char **accounts = NULL;
        ConfigProbe probe = { .feed = f };
        bool reuse = false;
        int r;

        if (f->oracles[0].account)
                return 0;

        r = host_handle_call(f->relayer_h, call_probe_config, &probe, error);
        if (r < 0) {
                sdloop_contract_config_done(&probe.state.config);
                return r;
        }

        r = host_keystore_accounts(f->keystore, &accounts);
        if (r < 0) {
                sdloop_contract_config_done(&probe.state.config);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "keystore %s: %s",
                                         host_keystore_get_directory(f->keystore), strerror(-r));
        }

        if (probe.state.has_config && probe.state.config.n_signers == f->config->n) {
                reuse = true;
                for (size_t i = 0; i < probe.state.config.n_signers && reuse; i++) {
                        char hex[2 * 32 + 1];

                        if (probe.state.config.signers[i].size != 32) {
                                reuse = false;
                                break;
                        }
                        hex_encode(probe.state.config.signers[i].data, 32, hex);
                        reuse = strv_contains(accounts, hex);
                        if (reuse) {
                                f->oracles[i].account = strdup(hex);
                                if (!f->oracles[i].account)
                                        r = -ENOMEM;
                        }
                }
        }
        sdloop_contract_config_done(&probe.state.config);
        if (r < 0)
                goto fail;
        if (reuse) {
                log_info("Feed %s: signing with the %" PRIu32 " keys contract %s is configured with.",
                         f->config->name, f->config->n, f->config->contract_id);
                return 0;
        }

        for (unsigned i = 0; i < f->config->n; i++) {
                free(f->oracles[i].account);
                r = host_keystore_create_account(f->keystore, &f->oracles[i].account);
                if (r < 0) {
                        f->oracles[i].account = NULL;
                        r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                              "keystore %s: cannot create a key: %s",
                                              host_keystore_get_directory(f->keystore), strerror(-r));
                        goto fail;
                }
        }
        log_info("Feed %s: created %" PRIu32 " signing keys for contract %s.", f->config->name, f->config->n,
                 f->config->contract_id);
        return 0;

fail:
        for (unsigned i = 0; i < f->config->n; i++)
                f->oracles[i].account = mfree(f->oracles[i].account);
        return r;
}

/* RelayArgs.relay_config: the feed's extra keys, plus (when @seed) the contract configuration. */
static int feed_build_relay_config(Feed *f, bool seed, char **ret) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *config, *signers, *transmitters, *onchain;
        _cleanup_free_ char *offchain_hex = NULL;
        const char *text;
        char *s;
        int r;

        if (f->config->relay_config) {
                r = json_object_deep_copy(f->config->relay_config, &root, NULL);
                if (r < 0)
                        return -ENOMEM;
        } else {
                root = json_object_new_object();
                if (!root)
                        return -ENOMEM;
        }

        if (seed) {
                offchain_hex = malloc(2 * f->offchain_config.size + 1);
                config = json_object_new_object();
                signers = json_object_new_array();
                transmitters = json_object_new_array();
                onchain = json_object_new_object();
                if (!offchain_hex || !config || !signers || !transmitters || !onchain) {
                        json_object_put(config);
                        json_object_put(signers);
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                hex_encode(f->offchain_config.data, f->offchain_config.size, offchain_hex);

                /* Attach first, so that everything is freed with the root from here on. */
                if (json_object_object_add(root, "config", config) < 0) {
                        json_object_put(config);
                        json_object_put(signers);
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                if (json_object_object_add(config, "signers", signers) < 0) {
                        json_object_put(signers);
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                if (json_object_object_add(config, "transmitters", transmitters) < 0) {
                        json_object_put(transmitters);
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                if (json_object_object_add(config, "onchain_config", onchain) < 0) {
                        json_object_put(onchain);
                        return -ENOMEM;
                }
                for (unsigned i = 0; i < f->config->n; i++) {
                        json_object *signer = json_object_new_string(f->oracles[i].account);
                        json_object *transmitter = json_object_new_string(f->config->transmitters[i]);

                        if (json_object_array_add(signers, signer) < 0 ||
                            json_object_array_add(transmitters, transmitter) < 0)
                                return -ENOMEM;
                }
                if (json_object_object_add(config, "f", json_object_new_int64(f->config->f)) < 0 ||
                    json_object_object_add(onchain, "min", json_object_new_string(f->config->min)) < 0 ||
                    json_object_object_add(onchain, "max", json_object_new_string(f->config->max)) < 0 ||
                    json_object_object_add(config, "offchain_config_version",
                                           json_object_new_int64(1)) < 0 ||
                    json_object_object_add(config, "offchain_config",
                                           json_object_new_string(offchain_hex)) < 0)
                        return -ENOMEM;
        }

        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        s = strdup(text);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* What the ledger says about the feed's contract: its configuration (which must be this feed's), where
 * the rounds continue, and the latest transmission for the status. */
static int feed_read_contract(Feed *f, sd_bus_error *error) {
        _cleanup_free_ char *latest_answer = NULL;
        ContractState state = {};
        DigestEpoch de = {};
        Transmission t = {};
        char prefix[17];
        int r;

        r = host_handle_call(f->provider_h, call_read_contract, &state, error);
        if (r < 0)
                goto finish;
        if (!state.has_config) {
                r = sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "contract %s has no configuration",
                                      f->config->contract_id);
                goto finish;
        }
        /* Someone else may have configured the contract since: then our keys would not count. */
        if (state.config.n_signers != f->config->n || state.config.f != f->config->f) {
                r = sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                      "contract %s is configured for n=%zu, f=%u, not this feed's n=%" PRIu32
                                      ", f=%" PRIu32, f->config->contract_id, state.config.n_signers,
                                      state.config.f, f->config->n, f->config->f);
                goto finish;
        }
        for (unsigned i = 0; i < f->config->n; i++) {
                char hex[2 * 32 + 1] = "";

                if (state.config.signers[i].size == 32)
                        hex_encode(state.config.signers[i].data, 32, hex);
                if (!streq(hex, f->oracles[i].account)) {
                        r = sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                              "contract %s is configured with other signers than this "
                                              "feed's keys", f->config->contract_id);
                        goto finish;
                }
        }

        sdloop_bytes_done(&f->onchain_config);
        r = sdloop_bytes_copy(&f->onchain_config, state.config.onchain_config.data,
                              state.config.onchain_config.size);
        if (r < 0)
                goto finish;
        memcpy(f->digest, state.digest, SDLOOP_DIGEST_SIZE);

        /* Continue after the latest epoch the ledger recorded under this configuration: a round of it may
         * have been transmitted by an earlier run, and (epoch, round) must never repeat. */
        r = host_handle_call(f->provider_h, call_latest_digest_and_epoch, &de, error);
        if (r < 0)
                goto finish;
        f->epoch = memcmp(de.digest, f->digest, SDLOOP_DIGEST_SIZE) == 0 ? de.epoch + 1 : 1;
        f->round = 0;

        r = host_handle_call(f->provider_h, call_latest_transmission, &t, error);
        if (r < 0)
                goto finish;
        /* Relayers give the current config digest with epoch and round 0 (the contract's view) or zeros
         * when nothing was transmitted; a timestamp means there is an answer. */
        if (t.timestamp_usec != 0 || t.epoch != 0 || t.round != 0) {
                free(f->latest_answer);
                f->latest_answer = TAKE_PTR(t.answer);
                f->latest_epoch = t.epoch;
                f->latest_round = t.round;
                f->latest_timestamp_usec = t.timestamp_usec;
                /* A transmission under another configuration may have a later epoch: continue after it too,
                 * so that the epochs the ledger shows keep growing. */
                if (memcmp(t.digest, f->digest, SDLOOP_DIGEST_SIZE) != 0 && t.epoch >= f->epoch)
                        f->epoch = t.epoch + 1;
        }

        digest_hex_prefix(f->digest, prefix);
        log_info("Feed %s: contract %s at config %s… (block %" PRIu64 "), rounds continue at epoch %"
                 PRIu32 ".", f->config->name, f->config->contract_id, prefix, state.block, f->epoch);
        r = 0;

finish:
        sdloop_contract_config_done(&state.config);
        free(t.answer);
        return r;
}

static void feed_close_oracles(Feed *f) {
        for (unsigned i = 0; f->oracles && i < f->config->n; i++) {
                /* Closing the factory closes its reporting plugin. */
                host_handle_close(f->oracles[i].factory);
                f->oracles[i].factory = f->oracles[i].plugin = NULL;
        }
}

static void feed_teardown(Feed *f) {
        feed_close_oracles(f);
        feed_connection_release(f);
        host_handle_close(f->provider_h);
        f->provider_h = NULL;
        f->relayer_h = NULL;
        f->set_up = false;
        pending_clear(f);
}

static int feed_setup(Feed *f, sd_bus_error *error) {
        int r;

        f->relayer_h = find_relayer_handle(f->relayer);
        if (!f->relayer_h)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND,
                                         "plugin %s has no relayer (it needs a \"relayer\" configuration)",
                                         f->relayer->settings.name);

        if (!f->relay_config_plain) {
                r = feed_build_relay_config(f, false, &f->relay_config_plain);
                if (r < 0)
                        return sdloop_error_ensure(error, r, "relay config");
        }
        r = feed_choose_signers(f, error);
        if (r < 0)
                goto fail;
        free(f->relay_config_seed);
        r = feed_build_relay_config(f, true, &f->relay_config_seed);
        if (r < 0) {
                f->relay_config_seed = NULL;
                r = sdloop_error_ensure(error, r, "relay config");
                goto fail;
        }

        r = host_handle_new(f->relayer, f->relayer_h, &provider_handle_ops, f, &f->provider_h, error);
        if (r < 0) {
                f->provider_h = NULL;
                goto fail;
        }
        r = feed_read_contract(f, error);
        if (r < 0)
                goto fail;

        for (unsigned i = 0; i < f->config->n; i++) {
                FeedOracle *o = f->oracles + i;

                r = host_handle_new(f->median, NULL, &factory_handle_ops, o, &o->factory, error);
                if (r < 0) {
                        o->factory = NULL;
                        goto fail;
                }
                r = host_handle_new(f->median, o->factory, &reporting_plugin_handle_ops, o, &o->plugin,
                                    error);
                if (r < 0) {
                        o->plugin = NULL;
                        goto fail;
                }
        }

        f->set_up = true;
        log_info("Feed %s: %" PRIu32 " oracles (f=%" PRIu32 ") on %s and %s, a round every %g s.",
                 f->config->name, f->config->n, f->config->f, f->relayer->settings.name,
                 f->median->settings.name, (double) f->config->round_interval_usec / 1e6);
        return 0;

fail:
        feed_teardown(f);
        return r;
}

/* The contract moved to another configuration (someone re-seeded it): follow with new reporting plugins. */
static int feed_follow_config(Feed *f, sd_bus_error *error) {
        uint8_t old[SDLOOP_DIGEST_SIZE];
        char a[17], b[17];
        int r;

        memcpy(old, f->digest, SDLOOP_DIGEST_SIZE);
        r = feed_read_contract(f, error);
        if (r < 0)
                return r;
        digest_hex_prefix(old, a);
        digest_hex_prefix(f->digest, b);
        log_notice("Feed %s: contract %s changed configuration from %s… to %s…; new reporting plugins.",
                   f->config->name, f->config->contract_id, a, b);

        for (unsigned i = 0; i < f->config->n; i++) {
                FeedOracle *o = f->oracles + i;

                host_handle_close(o->plugin);
                o->plugin = NULL;
                r = host_handle_new(f->median, o->factory, &reporting_plugin_handle_ops, o, &o->plugin,
                                    error);
                if (r < 0) {
                        o->plugin = NULL;
                        /* Start over next time. */
                        feed_teardown(f);
                        return r;
                }
        }
        return 0;
}

/* --- a round ------------------------------------------------------------------------------------------- */

static void feed_advance(Feed *f) {
        /* Rounds 1…255 within an epoch, as OCR2 numbers them in a byte. */
        if (f->round >= UINT8_MAX) {
                f->epoch++;
                f->round = 1;
        } else
                f->round++;
}

static unsigned feed_leader(Feed *f) {
        return (unsigned) (((uint64_t) f->epoch * UINT8_MAX + f->round - 1) % f->config->n);
}

static void feed_extra_hash(const SdloopReportTimestamp *ts, const SdloopBytes *query,
                            uint8_t ret[static 32]) {
        crypto_hash_sha256_state st;
        uint8_t er[5] = {
                (uint8_t) (ts->epoch >> 24), (uint8_t) (ts->epoch >> 16), (uint8_t) (ts->epoch >> 8),
                (uint8_t) ts->epoch, ts->round,
        };

        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, ts->digest, SDLOOP_DIGEST_SIZE);
        crypto_hash_sha256_update(&st, er, sizeof(er));
        if (query->size > 0)
                crypto_hash_sha256_update(&st, query->data, query->size);
        crypto_hash_sha256_final(&st, ret);
}

/* Append "; <text>" to a bounded list of reasons. */
static void reasons_add(char **list, const char *format, ...) _printf_(2, 3);
static void reasons_add(char **list, const char *format, ...) {
        _cleanup_free_ char *item = NULL;
        char *joined;
        va_list ap;
        int k;

        if (*list && strlen(*list) > FEED_ERROR_MAX)
                return;
        va_start(ap, format);
        k = vasprintf(&item, format, ap);
        va_end(ap);
        if (k < 0)
                return;
        if (asprintf(&joined, "%s%s%s", strempty(*list), *list ? "; " : "", item) < 0)
                return;
        free(*list);
        *list = joined;
}

static int feed_transmit(Feed *f, const SdloopReportContext *ctx, const SdloopBytes *report,
                         const SdloopAttributed *sigs, size_t n_sigs, sd_bus_error *error) {
        TransmitCall c = { .ctx = ctx, .report = report, .sigs = sigs, .n_sigs = n_sigs };
        Transmission t = {};
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = host_handle_call(f->provider_h, call_transmit, &c, error);
        if (r < 0)
                return r;

        f->reports_transmitted++;

        /* The ledger's word on what it now holds is the status. */
        r = host_handle_call(f->provider_h, call_latest_transmission, &t, &e);
        if (r >= 0) {
                free(f->latest_answer);
                f->latest_answer = TAKE_PTR(t.answer);
                f->latest_epoch = t.epoch;
                f->latest_round = t.round;
                f->latest_timestamp_usec = t.timestamp_usec;
        } else
                log_debug("Feed %s: LatestTransmissionDetails failed after transmitting: %s",
                          f->config->name, error_message(&e, r));
        sd_bus_error_free(&e);
        free(t.answer);

        /* After the status, so that the hook sees the answer the ledger recorded. */
        if (f->hooks.transmitted)
                f->hooks.transmitted(f, ctx, report, sigs, n_sigs, f->hooks_userdata);
        return 0;
}

/* Returns 0 when the round went through (with or without a report), < 0 with *ret_error when it failed. */
static int feed_run_round(Feed *f, char **ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes query = {}, report = {}, payload = {};
        _cleanup_free_ char *failures = NULL, *signers_text = NULL;
        SdloopAttributed *observations = NULL, *sigs = NULL;
        size_t n_observations = 0, n_sigs = 0;
        unsigned n = f->config->n, leader, n_accepted = 0, first_accepting = 0;
        bool accepted[FEED_ORACLES_MAX] = {}, transmit = false;
        SdloopReportContext ctx = {};
        SdloopReportTimestamp *ts = &ctx.timestamp;
        ConfigDetails details = {};
        PluginCall c;
        int r;

        /* Follow the contract's configuration. */
        r = host_handle_call(f->provider_h, call_latest_config_details, &details, &error);
        if (r < 0)
                return round_failed(ret_error, r, "LatestConfigDetails: %s", error_message(&error, r));
        if (memcmp(details.digest, f->digest, SDLOOP_DIGEST_SIZE) != 0) {
                r = feed_follow_config(f, &error);
                if (r < 0)
                        return round_failed(ret_error, r, "following the new configuration of %s: %s",
                                            f->config->contract_id, error_message(&error, r));
        }

        /* A report of an earlier round that did not make it: once more, then it is superseded anyway. */
        if (f->pending) {
                r = feed_transmit(f, &f->pending_ctx, &f->pending_report, f->pending_sigs, f->n_pending_sigs,
                                  &error);
                if (r < 0)
                        log_warning("Feed %s: epoch %" PRIu32 " round %u: transmitting again failed, giving "
                                    "up on it: %s", f->config->name, f->pending_ctx.timestamp.epoch,
                                    f->pending_ctx.timestamp.round, error_message(&error, r));
                else
                        log_info("Feed %s: epoch %" PRIu32 " round %u: transmitted on the second attempt.",
                                 f->config->name, f->pending_ctx.timestamp.epoch,
                                 f->pending_ctx.timestamp.round);
                sd_bus_error_free(&error);
                pending_clear(f);
        }

        feed_advance(f);
        memcpy(ts->digest, f->digest, SDLOOP_DIGEST_SIZE);
        ts->epoch = f->epoch;
        ts->round = f->round;
        leader = feed_leader(f);
        f->active = *ts;
        f->round_active = true;

        /* Query, by the leader. */
        c = (PluginCall) { .ts = ts };
        r = host_handle_call(f->oracles[leader].plugin, call_query, &c, &error);
        if (r < 0) {
                r = round_failed(ret_error, r, "leader %u: Query: %s", leader, error_message(&error, r));
                goto finish;
        }
        query = c.result;

        /* Observations, by everybody who can. */
        observations = new0(SdloopAttributed, n);
        if (!observations) {
                r = -ENOMEM;
                goto finish;
        }
        for (unsigned i = 0; i < n; i++) {
                c = (PluginCall) { .ts = ts, .query = &query };
                sd_bus_error_free(&error);
                r = host_handle_call(f->oracles[i].plugin, call_observation, &c, &error);
                if (r < 0) {
                        f->observations_failed++;
                        log_warning("Feed %s: epoch %" PRIu32 " round %u: oracle %u has no observation: %s",
                                    f->config->name, ts->epoch, ts->round, i, error_message(&error, r));
                        reasons_add(&failures, "oracle %u: %s", i, error_message(&error, r));
                        continue;
                }
                observations[n_observations++] = (SdloopAttributed) {
                        .data = c.result,
                        .oracle = (uint8_t) i,
                };
        }
        if (n_observations < 2 * f->config->f + 1) {
                r = round_failed(ret_error, -ENODATA, "only %zu of %u oracles observed, 2f+1 = %" PRIu32
                                 " needed: %s", n_observations, n, 2 * f->config->f + 1, strempty(failures));
                goto finish;
        }

        /* The report, by the leader. */
        c = (PluginCall) { .ts = ts, .query = &query, .observations = observations,
                           .n_observations = n_observations };
        sd_bus_error_free(&error);
        r = host_handle_call(f->oracles[leader].plugin, call_report, &c, &error);
        if (r < 0) {
                r = round_failed(ret_error, r, "leader %u: Report: %s", leader, error_message(&error, r));
                goto finish;
        }
        report = c.result;
        if (!c.yes) {
                feed_set_outcome(f, "epoch %" PRIu32 " round %u: no report (nothing to report, says the "
                                 "leader's Report)", ts->epoch, ts->round);
                log_debug("Feed %s: %s.", f->config->name, f->outcome);
                r = 0;
                goto finish;
        }

        /* Every oracle decides on the finalized report; the first f+1 that accept, from the leader on,
         * sign it. */
        for (unsigned k = 0; k < n; k++) {
                unsigned i = (leader + k) % n;

                c = (PluginCall) { .ts = ts, .report = &report };
                sd_bus_error_free(&error);
                r = host_handle_call(f->oracles[i].plugin, call_should_accept, &c, &error);
                if (r < 0) {
                        log_warning("Feed %s: epoch %" PRIu32 " round %u: oracle %u: "
                                    "ShouldAcceptFinalizedReport: %s", f->config->name, ts->epoch, ts->round,
                                    i, error_message(&error, r));
                        continue;
                }
                if (c.yes) {
                        if (n_accepted == 0)
                                first_accepting = i;
                        accepted[i] = true;
                        n_accepted++;
                }
        }
        if (n_accepted < f->config->f + 1) {
                feed_set_outcome(f, "epoch %" PRIu32 " round %u: not transmitted: %u of %u oracles accepted "
                                 "the report, f+1 = %" PRIu32 " needed", ts->epoch, ts->round, n_accepted, n,
                                 f->config->f + 1);
                log_info("Feed %s: %s.", f->config->name, f->outcome);
                r = 0;
                goto finish;
        }

        feed_extra_hash(ts, &query, ctx.extra_hash);
        r = sdloop_report_signing_payload(&ctx, report.data, report.size, &payload);
        if (r < 0) {
                r = round_failed(ret_error, r, "cannot build the signing payload: %s", strerror(-r));
                goto finish;
        }
        sigs = new0(SdloopAttributed, f->config->f + 1);
        if (!sigs) {
                r = -ENOMEM;
                goto finish;
        }
        for (unsigned k = 0; k < n && n_sigs < f->config->f + 1; k++) {
                unsigned i = (first_accepting + k) % n;
                char *s_text;

                if (!accepted[i])
                        continue;
                r = host_keystore_sign(f->keystore, f->oracles[i].account, payload.data, payload.size,
                                       &sigs[n_sigs].data);
                if (r < 0) {
                        r = round_failed(ret_error, r, "oracle %u cannot sign with key %s: %s", i,
                                         f->oracles[i].account, strerror(-r));
                        goto finish;
                }
                sigs[n_sigs++].oracle = (uint8_t) i;
                if (asprintf(&s_text, "%s%s%u", strempty(signers_text), signers_text ? ", " : "", i) >= 0) {
                        free(signers_text);
                        signers_text = s_text;
                }
        }

        /* Transmit if an accepting oracle thinks it should (the contract may be ahead already). */
        for (unsigned i = 0; i < n && !transmit; i++) {
                if (!accepted[i])
                        continue;
                c = (PluginCall) { .ts = ts, .report = &report };
                sd_bus_error_free(&error);
                r = host_handle_call(f->oracles[i].plugin, call_should_transmit, &c, &error);
                if (r < 0) {
                        log_warning("Feed %s: epoch %" PRIu32 " round %u: oracle %u: "
                                    "ShouldTransmitAcceptedReport: %s", f->config->name, ts->epoch,
                                    ts->round, i, error_message(&error, r));
                        continue;
                }
                transmit = c.yes;
        }
        if (!transmit) {
                feed_set_outcome(f, "epoch %" PRIu32 " round %u: not transmitted: no accepting oracle wants "
                                 "to transmit the report", ts->epoch, ts->round);
                log_info("Feed %s: %s.", f->config->name, f->outcome);
                r = 0;
                goto finish;
        }

        sd_bus_error_free(&error);
        r = feed_transmit(f, &ctx, &report, sigs, n_sigs, &error);
        if (r < 0) {
                /* A relayer that did not come back in time: one more attempt before the next round. A
                 * refusal is final. */
                if (sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE) ||
                    sd_bus_error_has_name(&error, SDLOOP_ERROR_TIMEOUT)) {
                        f->pending = true;
                        f->pending_ctx = ctx;
                        f->pending_report = report;
                        report = (SdloopBytes) {};
                        f->pending_sigs = TAKE_PTR(sigs);
                        f->n_pending_sigs = n_sigs;
                        n_sigs = 0;
                }
                r = round_failed(ret_error, r, "Transmit: %s", error_message(&error, r));
                goto finish;
        }

        feed_set_outcome(f, "epoch %" PRIu32 " round %u: transmitted, answer %s (%zu observations, leader "
                         "%u, signed by oracles %s)", ts->epoch, ts->round, strempty(f->latest_answer),
                         n_observations, leader, strempty(signers_text));
        log_info("Feed %s: %s.", f->config->name, f->outcome);
        r = 0;

finish:
        f->round_active = false;
        sdloop_attributed_array_free(observations, n_observations);
        sdloop_attributed_array_free(sigs, n_sigs);
        return r;
}

/* --- the driver ---------------------------------------------------------------------------------------- */

static void feed_schedule_next(Feed *f) {
        uint64_t next = f->round_started_usec + f->config->round_interval_usec, now = host_now();
        int r;

        /* A round that overran its interval is followed at once, never overlapped. */
        r = sd_event_source_set_time(f->timer, MAX(next, now));
        if (r >= 0)
                r = sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                feed_set_error(f, FEED_FAILING, "cannot arm the round timer: %s", strerror(-r));
}

static void feed_round_work(Host *h, void *userdata);

static int on_round_deferred(sd_event_source *es, uint64_t usec, void *userdata) {
        Feed *f = userdata;

        f->defer = sd_event_source_disable_unref(f->defer);
        (void) host_queue_work(f->host, feed_round_work, f);
        return 0;
}

static void feed_round_work(Host *h, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *reason = NULL;
        Feed *f = userdata;
        int r;

        if (!f->started || f->in_round)
                return;

        /* Not from inside another synchronous call (another feed's round, a plugin's recovery, a request of
         * the host's owner): the outer call may be reconnecting to one of our plugins, which a nested call
         * cannot wait for — it would fail the round at once. Once that call is done, from the top. A timer,
         * so that a long wait does not spin. */
        if (h->work_depth > 1) {
                if (!f->defer) {
                        r = sd_event_add_time_relative(h->event, &f->defer, CLOCK_MONOTONIC, 10 * USEC_PER_MSEC, 0,
                                                       on_round_deferred, f);
                        if (r < 0) {
                                f->defer = NULL;
                                feed_set_error(f, FEED_FAILING, "cannot defer the round: %s", strerror(-r));
                                feed_schedule_next(f);
                        }
                }
                return;
        }
        f->in_round = true;

        if (!f->set_up) {
                r = feed_setup(f, &error);
                if (r < 0) {
                        feed_set_error(f, FEED_STARTING, "setting up: %s", error_message(&error, r));
                        goto done;
                }
        }

        r = feed_run_round(f, &reason);
        if (r < 0) {
                f->rounds_failed++;
                feed_set_error(f, FEED_FAILING, "epoch %" PRIu32 " round %u: %s", f->epoch, f->round,
                               reason ?: strerror(-r));
                feed_set_outcome(f, "%s", strempty(f->last_error));
        } else {
                f->rounds_run++;
                f->state = FEED_RUNNING;
        }

done:
        f->in_round = false;
        if (f->free_requested) {
                feed_free(f);
                return;
        }
        if (f->started)
                feed_schedule_next(f);
}

static void on_fetched(FeedSource *s, const char *value, const char *error, void *userdata) {
        FeedDataSourceRef *ref = userdata;
        FeedOracle *o = ref->oracle;
        Feed *f = o->feed;
        unsigned k = ref->kind;

        free(o->fetched[k]);
        free(o->fetch_error[k]);
        o->fetched[k] = value ? strdup(value) : NULL;
        o->fetch_error[k] = error ? strdup(error) : NULL;
        if (!o->fetched[k] && !o->fetch_error[k])
                o->fetch_error[k] = strdup("out of memory");
        if (error)
                log_debug("Feed %s: oracle %u: %s", f->config->name, o->id, error);

        assert(f->fetches_pending > 0);
        if (--f->fetches_pending == 0)
                (void) host_queue_work(f->host, feed_round_work, f);
}

static void feed_cancel_fetches(Feed *f) {
        for (unsigned i = 0; f->oracles && i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++)
                        feed_source_cancel(f->oracles[i].sources[k]);
        f->fetches_pending = 0;
}

/* A round begins with every oracle reading its sources, without blocking; the round itself runs as
 * top-level work once all have answered (each source has its own timeout). */
static int on_round_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Feed *f = userdata;

        f->round_started_usec = host_now();
        f->step++;
        f->fetches_pending = 0;

        for (unsigned i = 0; i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        FeedOracle *o = f->oracles + i;
                        int r;

                        o->fetched[k] = mfree(o->fetched[k]);
                        o->fetch_error[k] = mfree(o->fetch_error[k]);
                        r = feed_source_fetch(o->sources[k], f->step, on_fetched, &o->refs[k]);
                        if (r < 0) {
                                if (asprintf(&o->fetch_error[k], "%s: cannot read: %s",
                                             feed_source_get_label(o->sources[k]), strerror(-r)) < 0)
                                        o->fetch_error[k] = NULL;
                                continue;
                        }
                        f->fetches_pending++;
                }

        if (f->fetches_pending == 0)
                (void) host_queue_work(f->host, feed_round_work, f);
        return 0;
}

/* --- public API ---------------------------------------------------------------------------------------- */

int feed_new(Host *h, FeedConfig *config, HostPlugin *relayer, HostPlugin *median,
                  HostKeystore *keystore, Feed **ret) {
        static unsigned next_id = 1;
        _cleanup_(feed_config_freep) FeedConfig *c = config;
        MedianOffchainConfig offchain;
        Feed *f;
        int r;

        assert(h);
        assert(ret);

        if (!c || !relayer || !median || !keystore)
                return -EINVAL;
        if (!streq_ptr(relayer->settings.kind, SDLOOP_KIND_RELAYER) ||
            !streq_ptr(median->settings.kind, SDLOOP_KIND_MEDIAN))
                return -EMEDIUMTYPE;
        if (sodium_init() < 0)
                return -EIO;

        f = new0(Feed, 1);
        if (!f)
                return -ENOMEM;
        f->host = h;
        f->config = TAKE_PTR(c);
        f->relayer = relayer;
        f->median = median;
        f->keystore = keystore;
        f->state = FEED_STOPPED;

        if (asprintf(&f->proxy_path, "/org/sdloop1/host/provider/%u", next_id++) < 0) {
                f->proxy_path = NULL;
                r = -ENOMEM;
                goto fail;
        }

        offchain = (MedianOffchainConfig) {
                .alpha_report_infinite = f->config->alpha_report_infinite,
                .alpha_report_ppb = f->config->alpha_report_ppb,
                .alpha_accept_infinite = f->config->alpha_accept_infinite,
                .alpha_accept_ppb = f->config->alpha_accept_ppb,
                .delta_c_nsec = f->config->delta_c_usec * NSEC_PER_USEC,
        };
        r = median_offchain_config_encode(&offchain, &f->offchain_config);
        if (r < 0)
                goto fail;

        f->oracles = new0(FeedOracle, f->config->n);
        if (!f->oracles) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < f->config->n; i++) {
                FeedOracle *o = f->oracles + i;
                const FeedOracleConfig *oc = f->config->oracles ? f->config->oracles + i : NULL;
                const FeedSourceConfig *sc[_SOURCE_MAX] = {
                        [SOURCE_VALUE] = oc && oc->value ? oc->value : f->config->value,
                        [SOURCE_JUELS] = oc && oc->juels_per_fee_coin ? oc->juels_per_fee_coin :
                                f->config->juels_per_fee_coin,
                };

                o->feed = f;
                o->id = i;
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        o->refs[k] = (FeedDataSourceRef) { .oracle = o, .kind = k };
                        r = feed_source_new(sc[k], h->event, i, &o->sources[k]);
                        if (r < 0)
                                goto fail;
                }
        }

        r = sd_event_add_time(h->event, &f->timer, CLOCK_MONOTONIC, 0, 0, on_round_timer, f);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(f->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(f->timer, "feed-round");

        *ret = f;
        return 0;

fail:
        feed_free(f);
        return r;
}

int feed_start(Feed *f) {
        int r;

        assert(f);

        if (f->started)
                return 0;
        f->free_requested = false;
        /* The first round (and the set-up) at once. */
        r = sd_event_source_set_time(f->timer, host_now());
        if (r >= 0)
                r = sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                return r;
        f->started = true;
        f->state = FEED_STARTING;
        log_info("Feed %s: started.", f->config->name);
        return 0;
}

int feed_stop(Feed *f) {
        assert(f);

        if (f->in_round)
                return -EBUSY;
        if (f->timer)
                (void) sd_event_source_set_enabled(f->timer, SD_EVENT_OFF);
        f->defer = sd_event_source_disable_unref(f->defer);
        feed_cancel_fetches(f);
        host_cancel_work(f->host, f);
        feed_teardown(f);
        if (f->started)
                log_info("Feed %s: stopped.", f->config->name);
        f->started = false;
        f->state = FEED_STOPPED;
        return 0;
}

bool feed_in_round(Feed *f) {
        return f && f->in_round;
}

Feed *feed_free(Feed *f) {
        if (!f)
                return NULL;

        if (f->in_round) {
                /* From work nested in one of its own calls: the round finishes and then frees it. */
                log_debug("Feed %s: freed during a round, deferring.", f->config->name);
                f->started = false;
                f->free_requested = true;
                return NULL;
        }

        (void) feed_stop(f);
        f->timer = sd_event_source_disable_unref(f->timer);
        for (unsigned i = 0; f->oracles && i < f->config->n; i++) {
                FeedOracle *o = f->oracles + i;

                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        feed_source_free(o->sources[k]);
                        free(o->fetched[k]);
                        free(o->fetch_error[k]);
                        free(o->data_source_path[k]);
                }
                free(o->account);
        }
        free(f->oracles);
        pending_clear(f);
        free(f->relay_config_seed);
        free(f->relay_config_plain);
        sdloop_bytes_done(&f->offchain_config);
        sdloop_bytes_done(&f->onchain_config);
        free(f->proxy_path);
        free(f->error_log_path);
        free(f->latest_answer);
        free(f->outcome);
        free(f->last_error);
        feed_config_free(f->config);
        return mfree(f);
}

void feed_get_status(Feed *f, FeedStatus *ret) {
        assert(f);
        assert(ret);

        *ret = (FeedStatus) {
                .name = f->config->name,
                .state = f->state,
                .latest_answer = f->latest_answer,
                .epoch = f->latest_epoch,
                .round = f->latest_round,
                .latest_timestamp_usec = f->latest_timestamp_usec,
                .current_epoch = f->epoch,
                .current_round = f->round,
                .reports_transmitted = f->reports_transmitted,
                .rounds_run = f->rounds_run,
                .rounds_failed = f->rounds_failed,
                .observations_failed = f->observations_failed,
                .outcome = f->outcome,
                .last_error = f->last_error,
                .last_error_usec = f->last_error_usec,
                .config_digest = f->set_up ? f->digest : NULL,
        };
}

int feed_status_to_json(const FeedStatus *s, json_object **ret) {
        char digest[2 * SDLOOP_DIGEST_SIZE + 1];
        struct {
                const char *key;
                json_object *value;
        } fields[] = {
                { "name", json_object_new_string(s->name) },
                { "state", json_object_new_string(feed_state_to_string(s->state)) },
                { "latest_answer", s->latest_answer ? json_object_new_string(s->latest_answer) : NULL },
                { "epoch", json_object_new_int64(s->epoch) },
                { "round", json_object_new_int64(s->round) },
                { "latest_timestamp_usec", json_object_new_int64(s->latest_timestamp_usec) },
                { "current_epoch", json_object_new_int64(s->current_epoch) },
                { "current_round", json_object_new_int64(s->current_round) },
                { "reports_transmitted", json_object_new_uint64(s->reports_transmitted) },
                { "rounds_run", json_object_new_uint64(s->rounds_run) },
                { "rounds_failed", json_object_new_uint64(s->rounds_failed) },
                { "observations_failed", json_object_new_uint64(s->observations_failed) },
                { "outcome", s->outcome ? json_object_new_string(s->outcome) : NULL },
                { "last_error", s->last_error ? json_object_new_string(s->last_error) : NULL },
                { "config_digest", !s->config_digest ? NULL :
                        json_object_new_string(hex_encode(s->config_digest, SDLOOP_DIGEST_SIZE, digest)) },
        };
        _cleanup_(json_object_putp) json_object *j = json_object_new_object();
        int r = j ? 0 : -ENOMEM;

        assert(ret);

        /* Added in order, each consumed even after a failure. */
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (r < 0 || json_object_object_add(j, fields[i].key, fields[i].value) < 0) {
                        json_object_put(fields[i].value);
                        r = -ENOMEM;
                }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(j);
        return 0;
}

const char *feed_get_name(Feed *f) {
        return f->config->name;
}

const FeedConfig *feed_get_config(Feed *f) {
        return f->config;
}

bool feed_uses_plugin(Feed *f, HostPlugin *p) {
        return f && p && (f->relayer == p || f->median == p);
}

void feed_set_hooks(Feed *f, const FeedHooks *hooks, void *userdata) {
        f->hooks = hooks ? *hooks : (FeedHooks) {};
        f->hooks_userdata = userdata;
}

const char *feed_get_signer(Feed *f, unsigned oracle) {
        if (!f || oracle >= f->config->n)
                return NULL;
        return f->oracles[oracle].account;
}
