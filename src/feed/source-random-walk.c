/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The random walk: {"type": "random_walk", "start": "2000", "step_ppm": 1000, "seed": 1}. Each oracle
 * walks on its own (seed + oracle), one step per round: fetching twice in one round gives the same value. */

#include "source-internal.h"

#define WALK_LIMIT ((__int128) 10000000000000LL * 1000000000000LL) /* 10^25 */

#define SUBFIELD(key)                                                   \
        _cleanup_free_ char *f_##key = source_field_join(field, #key);  \
        if (!f_##key)                                                   \
                return -ENOMEM;

static int random_walk_parse(FeedSourceConfig *c, json_object *j, const char *field, char **ret_error) {
        json_object *v;
        int r;
        _cleanup_free_ char *start = NULL;
        int64_t i;
        SUBFIELD(start);
        SUBFIELD(step_ppm);
        SUBFIELD(seed);

        if (!json_object_object_get_ex(j, "start", &v))
                return feed_field_error(ret_error, field, "missing \"start\"");
        r = feed_json_get_decimal(v, f_start, &start, ret_error);
        if (r < 0)
                return r;
        if (strlen(start) - (start[0] == '-') > SOURCE_WALK_START_MAX_DIGITS)
                return feed_field_error(ret_error, f_start, "at most %u digits",
                                             SOURCE_WALK_START_MAX_DIGITS);
        r = sdloop_decimal_to_i128(start, &c->start);
        if (r < 0)
                return feed_field_error(ret_error, f_start, "not a decimal");

        c->step_ppm = 1000;
        if (json_object_object_get_ex(j, "step_ppm", &v)) {
                r = feed_json_get_integer(v, f_step_ppm, 0, SOURCE_PPM_FACTOR, &i, ret_error);
                if (r < 0)
                        return r;
                c->step_ppm = (uint32_t) i;
        }
        if (json_object_object_get_ex(j, "seed", &v)) {
                r = feed_json_get_integer(v, f_seed, 0, INT64_MAX, &i, ret_error);
                if (r < 0)
                        return r;
                c->seed = (uint64_t) i;
        }
        return 0;
}
#undef SUBFIELD

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static int random_walk_fetch(FeedSource *s, uint64_t step) {
        char buf[41], *v;

        if (!s->walked) {
                s->walked = true;
                s->walk_value = s->config->start;
        } else if (step != s->last_step) {
                /* u uniform in [-10^6, 10^6]: the value moves by up to step_ppm parts per million. */
                int64_t u = (int64_t) (splitmix64(&s->rng) % (2 * SOURCE_PPM_FACTOR + 1)) - SOURCE_PPM_FACTOR;
                __int128 delta = s->walk_value * ((__int128) s->config->step_ppm * u) /
                        ((__int128) SOURCE_PPM_FACTOR * SOURCE_PPM_FACTOR);

                s->walk_value += delta;
                if (s->walk_value > WALK_LIMIT)
                        s->walk_value = WALK_LIMIT;
                if (s->walk_value < -WALK_LIMIT)
                        s->walk_value = -WALK_LIMIT;
        }
        s->last_step = step;

        v = strdup(sdloop_decimal_from_i128(s->walk_value, buf));
        if (!v)
                return -ENOMEM;
        return source_complete_later(s, v, NULL);
}

static const char * const random_walk_keys[] = { "type", "name", "start", "step_ppm", "seed", NULL };

const SourceVTable source_random_walk_vtable = {
        .keys = random_walk_keys,
        .parse = random_walk_parse,
        .fetch = random_walk_fetch,
};
