/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Where a feed's observations come from (docs/feeds.md, "Data sources"):
 *
 *   {"type": "constant", "value": "123"}
 *   {"type": "file", "path": "/run/price"}                         first line, a decimal
 *   {"type": "command", "argv": ["/usr/bin/price"], "timeout_sec": 5}   stdout, a decimal
 *   {"type": "http", "url": "http://…", "json_path": "data.price", "timeout_sec": 2}
 *   {"type": "random_walk", "start": "2000", "step_ppm": 1000, "seed": 1}
 *
 * plus "name" (a label for messages) and, except for random_walk, "multiplier" (below).
 *
 * A source configuration is parsed once (FeedSourceConfig); each oracle gets its own instance
 * (FeedSource) of it, because oracles observe independently. Fetching is asynchronous on the host's
 * sd-event loop — HTTP through libcurl's multi interface, commands through a child process with pipes —
 * so a slow endpoint never blocks the daemon; the result is delivered to a callback from the loop. Each
 * type lives in source-<type>.c; source.c holds what they share.
 *
 * Values: observations are integers (the median plugin sends them as int192). What a source reads is
 * text in decimal notation, [+-]digits[.digits][(e|E)[+-]digits] (a JSON number has this form), possibly
 * surrounded by whitespace. Without "multiplier" it must denote an integer ("1.50e2" is 150, "1.5" is an
 * error). With "multiplier" — a power of ten 10^k, 0 <= k <= 77, written "1e8", "100000000" or as a JSON
 * integer — the value is multiplied by it exactly, and what is left after the decimal point is rounded to
 * the nearest integer, halves away from zero: 1234.567891 × 1e2 = 123457, -0.125 × 1e2 = -13. The result
 * must lie in [-2^191, 2^191 - 1]. Every error message names the source: "http source eth-usd.value:
 * HTTP 500", "file source eth-usd.value (/run/price): line 1: malformed decimal \"abc\"". */

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef enum FeedSourceType {
        FEED_SOURCE_CONSTANT,
        FEED_SOURCE_FILE,
        FEED_SOURCE_COMMAND,
        FEED_SOURCE_HTTP,
        FEED_SOURCE_RANDOM_WALK,
        _FEED_SOURCE_TYPE_MAX,
        _FEED_SOURCE_TYPE_INVALID = -EINVAL,
} FeedSourceType;

const char *feed_source_type_to_string(FeedSourceType t);
FeedSourceType feed_source_type_from_string(const char *s);

#define FEED_SOURCE_HTTP_TIMEOUT_USEC_DEFAULT (2ULL * 1000000ULL)
#define FEED_SOURCE_COMMAND_TIMEOUT_USEC_DEFAULT (5ULL * 1000000ULL)
/* Larger HTTP bodies and command outputs are refused rather than buffered. */
#define FEED_SOURCE_OUTPUT_MAX (1024U * 1024U)
#define FEED_SOURCE_MULTIPLIER_EXPONENT_MAX 77U

typedef struct FeedSourceConfig FeedSourceConfig;

/* Parse the source object @j found at @field ("feeds.eth-usd.value"). @default_name labels the source in
 * messages unless the object gives a "name". On failure *ret_error (malloc'd) is "<field>: <reason>",
 * the field being everything before the first ": ". */
int feed_source_config_parse(json_object *j, const char *field, const char *default_name,
                                  FeedSourceConfig **ret, char **ret_error);
FeedSourceConfig *feed_source_config_free(FeedSourceConfig *c);
static inline void feed_source_config_freep(FeedSourceConfig **c) {
        if (*c)
                feed_source_config_free(*c);
}
FeedSourceType feed_source_config_get_type(const FeedSourceConfig *c);
/* "http source eth-usd.value" */
const char *feed_source_config_get_label(const FeedSourceConfig *c);
/* Whether the source scales by a "multiplier"; *@ret_exponent (may be NULL) gets its k of 10^k (0 without). */
bool feed_source_config_get_multiplier(const FeedSourceConfig *c, unsigned *ret_exponent);

typedef struct FeedSource FeedSource;

/* Exactly one of @value (a canonical decimal integer within int192) and @error (a message naming the
 * source) is set. */
typedef void (*feed_source_done_fn)(FeedSource *s, const char *value, const char *error,
                                         void *userdata);

/* An instance of @config (which must outlive it) for oracle @oracle (random_walk: seed + oracle). */
int feed_source_new(const FeedSourceConfig *config, sd_event *event, unsigned oracle,
                         FeedSource **ret);
FeedSource *feed_source_free(FeedSource *s);
static inline void feed_source_freep(FeedSource **s) {
        if (*s)
                feed_source_free(*s);
}

/* Start reading a value for round number @step (random_walk moves one step whenever @step differs from the
 * previous fetch's, so that asking twice in one round gives the same value). @done runs exactly once,
 * later, from the event loop — never from within this call — unless the fetch is cancelled first.
 * -EBUSY while a fetch is in progress. Commands need SIGCHLD blocked (sd_event_add_child()); this blocks
 * it in the calling thread if it is not. */
int feed_source_fetch(FeedSource *s, uint64_t step, feed_source_done_fn done, void *userdata);
/* Abandon a fetch in progress (a command is killed); @done does not run. */
void feed_source_cancel(FeedSource *s);
bool feed_source_is_busy(FeedSource *s);
const char *feed_source_get_label(FeedSource *s);

/* The value rule above: @text read by a source, scaled by 10^@exponent if @has_multiplier. On success
 * *ret is a canonical decimal (no '+', no leading zeros, no "-0"); on failure *ret_reason is a static
 * string ("malformed decimal", "not an integer …", "out of range …"). Exposed for tests. */
int feed_decimal_scale(const char *text, bool has_multiplier, unsigned exponent, char **ret,
                            const char **ret_reason);

/* A canonical decimal integer @value read back as the decimal it was scaled from by 10^@exponent:
 * "200012345678" with 8 → "2000.12345678", "-5" with 2 → "-0.05"; @exponent 0 gives @value as is. */
int feed_decimal_format(const char *value, unsigned exponent, char **ret);

/* --- JSON helpers shared by the feed configuration parser ------------------------------------------- */

/* Format "<field>: <reason>" into *ret_error and return -EINVAL (or -ENOMEM). */
int feed_field_error(char **ret_error, const char *field, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
/* Refuse keys of @j not in @allowed (NULL-terminated), naming "<field>.<key>". */
int feed_json_check_keys(json_object *j, const char *field, const char * const *allowed,
                              char **ret_error);
/* A number of seconds (integer or fraction, ≥ 0) as µs; @min_usec/@max_usec bound it. */
int feed_json_get_seconds(json_object *v, const char *field, uint64_t min_usec, uint64_t max_usec,
                               uint64_t *ret, char **ret_error);
/* A JSON integer within [min, max]. */
int feed_json_get_integer(json_object *v, const char *field, int64_t min, int64_t max, int64_t *ret,
                               char **ret_error);
/* A decimal given as a JSON string or integer, in canonical form (integers only: no multiplier). */
int feed_json_get_decimal(json_object *v, const char *field, char **ret, char **ret_error);
