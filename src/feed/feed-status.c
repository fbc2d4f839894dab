/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What a feed tells its operator: its state, the ledger's latest answer and count of transmissions, and
 * counters of rounds by how they ended and why. */

#include <stdarg.h>
#include <time.h>

#include "feed-internal.h"
#include "macro.h"

static const char * const feed_state_table[_FEED_STATE_MAX] = {
        [FEED_STOPPED] = "stopped",
        [FEED_STARTING] = "starting",
        [FEED_RUNNING] = "running",
        [FEED_FAILING] = "failing",
};

const char *feed_state_to_string(FeedState s) {
        return s >= 0 && s < _FEED_STATE_MAX ? feed_state_table[s] : NULL;
}

static const char * const feed_reason_table[_FEED_REASON_MAX] = {
        [FEED_REASON_BUSY] = "busy",
        [FEED_REASON_NO_REPORT] = "no_report",
        [FEED_REASON_NOT_ACCEPTED] = "not_accepted",
        [FEED_REASON_NOT_TRANSMITTED] = "not_transmitted",
        [FEED_REASON_TIMEOUT] = "timeout",
        [FEED_REASON_PLUGIN_UNAVAILABLE] = "plugin_unavailable",
        [FEED_REASON_NOT_ENOUGH_OBSERVATIONS] = "not_enough_observations",
        [FEED_REASON_TRANSMIT_FAILED] = "transmit_failed",
        [FEED_REASON_PLUGIN_ERROR] = "plugin_error",
        [FEED_REASON_SETUP] = "setup",
        [FEED_REASON_INTERNAL] = "internal",
};

const char *feed_reason_to_string(FeedReason r) {
        return r >= 0 && r < _FEED_REASON_MAX ? feed_reason_table[r] : NULL;
}

FeedReason feed_reason_from_string(const char *s) {
        for (int i = 0; s && i < _FEED_REASON_MAX; i++)
                if (streq(feed_reason_table[i], s))
                        return i;
        return _FEED_REASON_INVALID;
}

FeedReason feed_reason_from_error(int r, const sd_bus_error *error) {
        if (sd_bus_error_has_name(error, SDLOOP_ERROR_TIMEOUT))
                return FEED_REASON_TIMEOUT;
        if (sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE))
                return FEED_REASON_PLUGIN_UNAVAILABLE;
        if (sd_bus_error_is_set(error) && !sd_bus_error_has_name(error, SDLOOP_ERROR_INTERNAL))
                return FEED_REASON_PLUGIN_ERROR;
        return r == -ETIMEDOUT ? FEED_REASON_TIMEOUT : FEED_REASON_INTERNAL;
}

void feed_count_skipped(Feed *f, FeedReason reason) {
        assert(reason >= 0 && reason < _FEED_REASON_MAX);
        f->skipped.total++;
        f->skipped.by_reason[reason]++;
        f->last_reason = reason;
}

void feed_count_failed(Feed *f, FeedReason reason) {
        assert(reason >= 0 && reason < _FEED_REASON_MAX);
        f->failed.total++;
        f->failed.by_reason[reason]++;
        f->last_reason = reason;
}

const char *feed_error_message(const sd_bus_error *error, int r) {
        return error && error->message ? error->message : strerror(-r);
}

void feed_digest_hex_prefix(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static 17]) {
        for (size_t i = 0; i < 8; i++)
                sprintf(buf + 2 * i, "%02x", digest[i]);
}

char *feed_hex_encode(const uint8_t *data, size_t size, char *buf) {
        for (size_t i = 0; i < size; i++)
                sprintf(buf + 2 * i, "%02x", data[i]);
        buf[2 * size] = '\0';
        return buf;
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts = {};

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

void feed_set_error(Feed *f, FeedState state, const char *format, ...) {
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

void feed_set_outcome(Feed *f, const char *format, ...) {
        char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        free(f->outcome);
        f->outcome = msg;
}

int feed_set_latest(Feed *f, uint32_t epoch, uint8_t round, char *answer, int64_t timestamp_usec) {
        _cleanup_free_ char *a = answer, *d = NULL;
        int r;

        if (a) {
                r = feed_decimal_format(a, f->value_exponent, &d);
                if (r < 0)
                        return r;
        }
        free(f->latest_answer);
        free(f->latest_answer_decimal);
        f->latest_answer = TAKE_PTR(a);
        f->latest_answer_decimal = TAKE_PTR(d);
        f->latest_epoch = epoch;
        f->latest_round = round;
        f->latest_timestamp_usec = timestamp_usec;
        return 0;
}

void feed_get_status(Feed *f, FeedStatus *ret) {
        assert(f);
        assert(ret);

        *ret = (FeedStatus) {
                .name = f->config->name,
                .state = f->state,
                .latest_answer = f->latest_answer,
                .latest_answer_decimal = f->latest_answer_decimal,
                .epoch = f->latest_epoch,
                .round = f->latest_round,
                .latest_timestamp_usec = f->latest_timestamp_usec,
                .current_epoch = f->epoch,
                .current_round = f->round_no,
                .reports_transmitted = f->ledger_transmissions,
                .reports_transmitted_known = f->ledger_transmissions_known,
                .rounds_started = f->rounds_started,
                .rounds_transmitted = f->rounds_transmitted,
                .rounds_skipped = f->skipped,
                .rounds_failed = f->failed,
                .last_reason = f->last_reason,
                .observations_failed = f->observations_failed,
                .calls_timed_out = f->calls_timed_out,
                .last_round_usec = f->last_round_usec,
                .value_source_failures = f->source_failures[SOURCE_VALUE],
                .juels_source_failures = f->source_failures[SOURCE_JUELS],
                .latest_trace_id = f->latest_trace_id[0] ? f->latest_trace_id : NULL,
                .latest_trace_sampled = f->latest_trace_sampled,
                .config_changes = f->config_changes,
                .in_round = f->round_active,
                .outcome = f->outcome,
                .last_error = f->last_error,
                .last_error_usec = f->last_error_usec,
                .config_digest = f->set_up ? f->digest : NULL,
        };
}

static int counter_to_json(const FeedCounter *c, bool skipped, json_object **ret) {
        json_object *j = json_object_new_object();

        if (!j)
                return -ENOMEM;
        if (json_object_object_add(j, "total", json_object_new_uint64(c->total)) < 0)
                goto fail;
        /* Each side lists its own reasons, all of them, zeros included: a key that is there is counted. */
        for (FeedReason r = 0; r < _FEED_REASON_MAX; r++) {
                bool is_skip = r <= FEED_REASON_NOT_TRANSMITTED;

                if (is_skip != skipped)
                        continue;
                if (json_object_object_add(j, feed_reason_to_string(r), json_object_new_uint64(c->by_reason[r])) < 0)
                        goto fail;
        }
        *ret = j;
        return 0;

fail:
        json_object_put(j);
        return -ENOMEM;
}

static void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

int feed_status_to_json(const FeedStatus *s, json_object **ret) {
        _cleanup_(json_object_putp) json_object *skipped = NULL, *failed = NULL, *sources = NULL;
        char digest[2 * SDLOOP_DIGEST_SIZE + 1];
        int r;

        assert(ret);

        r = counter_to_json(&s->rounds_skipped, true, &skipped);
        if (r < 0)
                return r;
        r = counter_to_json(&s->rounds_failed, false, &failed);
        if (r < 0)
                return r;
        sources = json_object_new_object();
        if (!sources || json_object_object_add(sources, "value", json_object_new_uint64(s->value_source_failures)) < 0 ||
            json_object_object_add(sources, "juels_per_fee_coin", json_object_new_uint64(s->juels_source_failures)) < 0)
                return -ENOMEM;

        struct {
                const char *key;
                json_object *value;
        } fields[] = {
                { "name", json_object_new_string(s->name) },
                { "state", json_object_new_string(feed_state_to_string(s->state)) },
                { "latest_answer", s->latest_answer ? json_object_new_string(s->latest_answer) : NULL },
                { "latest_answer_decimal",
                  s->latest_answer_decimal ? json_object_new_string(s->latest_answer_decimal) : NULL },
                { "epoch", json_object_new_int64(s->epoch) },
                { "round", json_object_new_int64(s->round) },
                { "latest_timestamp_usec", json_object_new_int64(s->latest_timestamp_usec) },
                { "current_epoch", json_object_new_int64(s->current_epoch) },
                { "current_round", json_object_new_int64(s->current_round) },
                { "reports_transmitted",
                  s->reports_transmitted_known ? json_object_new_uint64(s->reports_transmitted) : NULL },
                { "rounds_started", json_object_new_uint64(s->rounds_started) },
                { "rounds_transmitted", json_object_new_uint64(s->rounds_transmitted) },
                { "rounds_skipped", TAKE_PTR(skipped) },
                { "rounds_failed", TAKE_PTR(failed) },
                { "last_reason", s->last_reason >= 0 ?
                        json_object_new_string(feed_reason_to_string(s->last_reason)) : NULL },
                { "observations_failed", json_object_new_uint64(s->observations_failed) },
                { "source_failures", TAKE_PTR(sources) },
                { "calls_timed_out", json_object_new_uint64(s->calls_timed_out) },
                { "config_changes", json_object_new_uint64(s->config_changes) },
                { "last_round_usec", json_object_new_uint64(s->last_round_usec) },
                { "latest_trace_id", s->latest_trace_id ? json_object_new_string(s->latest_trace_id) : NULL },
                { "latest_trace_sampled", json_object_new_boolean(s->latest_trace_sampled) },
                { "in_round", json_object_new_boolean(s->in_round) },
                { "outcome", s->outcome ? json_object_new_string(s->outcome) : NULL },
                { "last_error", s->last_error ? json_object_new_string(s->last_error) : NULL },
                { "config_digest", !s->config_digest ? NULL :
                        json_object_new_string(feed_hex_encode(s->config_digest, SDLOOP_DIGEST_SIZE, digest)) },
        };
        _cleanup_(json_object_putp) json_object *j = json_object_new_object();

        r = j ? 0 : -ENOMEM;
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
