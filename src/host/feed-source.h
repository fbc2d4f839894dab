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
 * A source configuration is parsed once (HostFeedSourceConfig); each oracle gets its own instance
 * (HostFeedSource) of it, because oracles observe independently. Fetching is asynchronous on the host's
 * sd-event loop — HTTP through libcurl's multi interface, commands through a child process with pipes —
 * so a slow endpoint never blocks the daemon; the result is delivered to a callback from the loop.
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

typedef enum HostFeedSourceType {
        HOST_FEED_SOURCE_CONSTANT,
        HOST_FEED_SOURCE_FILE,
        HOST_FEED_SOURCE_COMMAND,
        HOST_FEED_SOURCE_HTTP,
        HOST_FEED_SOURCE_RANDOM_WALK,
        _HOST_FEED_SOURCE_TYPE_MAX,
        _HOST_FEED_SOURCE_TYPE_INVALID = -EINVAL,
} HostFeedSourceType;

const char *host_feed_source_type_to_string(HostFeedSourceType t);
HostFeedSourceType host_feed_source_type_from_string(const char *s);

#define HOST_FEED_SOURCE_HTTP_TIMEOUT_USEC_DEFAULT (2ULL * 1000000ULL)
#define HOST_FEED_SOURCE_COMMAND_TIMEOUT_USEC_DEFAULT (5ULL * 1000000ULL)
/* Larger HTTP bodies and command outputs are refused rather than buffered. */
#define HOST_FEED_SOURCE_OUTPUT_MAX (1024U * 1024U)
#define HOST_FEED_SOURCE_MULTIPLIER_EXPONENT_MAX 77U

typedef struct HostFeedSourceConfig HostFeedSourceConfig;

/* Parse the source object @j found at @field ("feeds.eth-usd.value"). @default_name labels the source in
 * messages unless the object gives a "name". On failure *ret_error (malloc'd) is "<field>: <reason>",
 * the field being everything before the first ": ". */
int host_feed_source_config_parse(json_object *j, const char *field, const char *default_name,
                                  HostFeedSourceConfig **ret, char **ret_error);
HostFeedSourceConfig *host_feed_source_config_free(HostFeedSourceConfig *c);
static inline void host_feed_source_config_freep(HostFeedSourceConfig **c) {
        if (*c)
                host_feed_source_config_free(*c);
}
HostFeedSourceType host_feed_source_config_get_type(const HostFeedSourceConfig *c);
/* "http source eth-usd.value" */
const char *host_feed_source_config_get_label(const HostFeedSourceConfig *c);

typedef struct HostFeedSource HostFeedSource;

/* Exactly one of @value (a canonical decimal integer within int192) and @error (a message naming the
 * source) is set. */
typedef void (*host_feed_source_done_fn)(HostFeedSource *s, const char *value, const char *error,
                                         void *userdata);

/* An instance of @config (which must outlive it) for oracle @oracle (random_walk: seed + oracle). */
int host_feed_source_new(const HostFeedSourceConfig *config, sd_event *event, unsigned oracle,
                         HostFeedSource **ret);
HostFeedSource *host_feed_source_free(HostFeedSource *s);
static inline void host_feed_source_freep(HostFeedSource **s) {
        if (*s)
                host_feed_source_free(*s);
}

/* Start reading a value for round number @step (random_walk moves one step whenever @step differs from the
 * previous fetch's, so that asking twice in one round gives the same value). @done runs exactly once,
 * later, from the event loop — never from within this call — unless the fetch is cancelled first.
 * -EBUSY while a fetch is in progress. Commands need SIGCHLD blocked (sd_event_add_child()); this blocks
 * it in the calling thread if it is not. */
int host_feed_source_fetch(HostFeedSource *s, uint64_t step, host_feed_source_done_fn done, void *userdata);
/* Abandon a fetch in progress (a command is killed); @done does not run. */
void host_feed_source_cancel(HostFeedSource *s);
bool host_feed_source_is_busy(HostFeedSource *s);
const char *host_feed_source_get_label(HostFeedSource *s);

/* The value rule above: @text read by a source, scaled by 10^@exponent if @has_multiplier. On success
 * *ret is a canonical decimal (no '+', no leading zeros, no "-0"); on failure *ret_reason is a static
 * string ("malformed decimal", "not an integer …", "out of range …"). Exposed for tests. */
int host_feed_decimal_scale(const char *text, bool has_multiplier, unsigned exponent, char **ret,
                            const char **ret_reason);

/* --- JSON helpers shared by the feed configuration parser ------------------------------------------- */

/* Format "<field>: <reason>" into *ret_error and return -EINVAL (or -ENOMEM). */
int host_feed_field_error(char **ret_error, const char *field, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
/* Refuse keys of @j not in @allowed (NULL-terminated), naming "<field>.<key>". */
int host_feed_json_check_keys(json_object *j, const char *field, const char * const *allowed,
                              char **ret_error);
/* A number of seconds (integer or fraction, ≥ 0) as µs; @min_usec/@max_usec bound it. */
int host_feed_json_get_seconds(json_object *v, const char *field, uint64_t min_usec, uint64_t max_usec,
                               uint64_t *ret, char **ret_error);
/* A JSON integer within [min, max]. */
int host_feed_json_get_integer(json_object *v, const char *field, int64_t min, int64_t max, int64_t *ret,
                               char **ret_error);
/* A decimal given as a JSON string or integer, in canonical form (integers only: no multiplier). */
int host_feed_json_get_decimal(json_object *v, const char *field, char **ret, char **ret_error);
