/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Parsing a "feeds" entry of sdloopd's configuration (docs/feeds.md) into a FeedConfig. */

#include <sodium.h>

#include "feed.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "source-internal.h"

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
                c->transmitters_default = true;
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
                _cleanup_(source_json_object_putp) json_object *zero =
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

