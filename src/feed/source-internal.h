/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the data source types (source-<type>.c) share with the common part (source.c): the parsed
 * configuration, the instance, and how a fetch hands its result over. Each type is a SourceVTable. */

#include <sys/types.h>

#include "feed-source.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-log.h"

struct FeedSourceConfig {
        FeedSourceType type;
        char *name;
        char *label; /* "<type> source <name>[ (<path>)]" */

        bool has_multiplier;
        unsigned exponent;

        char *constant;        /* constant: the value, scaled */
        char *path;            /* file */
        char **argv;           /* command */
        uint64_t timeout_usec; /* command, http */
        char *url;             /* http */
        char *json_path;
        char **headers;        /* "Name: value" */
        __int128 start;        /* random_walk */
        uint32_t step_ppm;
        uint64_t seed;
};

typedef struct SourceBuffer {
        char *data;
        size_t size;
        bool too_large;
} SourceBuffer;

void source_buffer_reset(SourceBuffer *b);
/* -EFBIG past FEED_SOURCE_OUTPUT_MAX (too_large is set then). */
int source_buffer_append(SourceBuffer *b, const void *data, size_t n);

typedef struct SourceHttp SourceHttp;

struct FeedSource {
        const FeedSourceConfig *config;
        sd_event *event;
        unsigned oracle;

        bool busy;
        feed_source_done_fn done;
        void *userdata;

        /* Results known at once, delivered from a deferred event. */
        sd_event_source *defer;
        char *result_value, *result_error;

        /* random_walk */
        bool walked;
        uint64_t last_step;
        __int128 walk_value;
        uint64_t rng;

        /* command */
        pid_t pid;
        sd_event_source *child_source, *stdout_source, *stderr_source, *timer;
        int stdout_fd, stderr_fd;
        SourceBuffer out, err;
        bool timed_out;

        /* http (source-http.c) */
        SourceHttp *http;
};

typedef struct SourceVTable {
        /* The keys an object of this type may have. */
        const char * const *keys;
        /* The type's own keys of @j (at @field) into @c; "<field>: <reason>" in *ret_error on failure. */
        int (*parse)(FeedSourceConfig *c, json_object *j, const char *field, char **ret_error);
        /* Start a fetch: complete later (source_complete*()), never from within. */
        int (*fetch)(FeedSource *s, uint64_t step);
        /* Abandon the fetch in progress; NULL: nothing to abandon beyond the deferred result. */
        void (*cancel)(FeedSource *s);
        /* Free what the instance holds for this type. */
        void (*release)(FeedSource *s);
} SourceVTable;

extern const SourceVTable source_constant_vtable;
extern const SourceVTable source_file_vtable;
extern const SourceVTable source_command_vtable;
extern const SourceVTable source_http_vtable;
extern const SourceVTable source_random_walk_vtable;

/* "<label>: <formatted>" into *ret (NULL on failure, then -ENOMEM). */
int source_errorf(char **ret, const FeedSource *s, const char *format, ...) _printf_(3, 4);
/* Hand the result over. The callback may free @s: nothing may touch it afterwards. */
void source_complete(FeedSource *s, const char *value, const char *error);
/* Text read by the source to its value (the value rule), or an error naming the source and @what. */
void source_complete_text(FeedSource *s, const char *what, const char *text);
/* Complete from a deferred event with @value or @error (taken over, also on failure). */
int source_complete_later(FeedSource *s, char *value, char *error);

/* JSON helpers of source-json.c used by the types' parsers. */
char *source_field_join(const char *field, const char *key);
int source_json_get_string(json_object *v, const char *field, const char **ret, char **ret_error);
/* The element at the dotted @path ("data.prices.0.usd") of @root (source-http.c); -ENOENT with the reason
 * in *@ret_reason (malloc'd) if it is not there. */
int source_json_path_lookup(json_object *root, const char *path, json_object **ret, char **ret_reason);
/* json-c clamps integers that do not fit 64 bits; such a clamped value cannot be told from a real one. */
bool source_json_int_is_clamped(json_object *v);
int source_parse_multiplier(json_object *v, const char *field, unsigned *ret, char **ret_error);

static inline bool source_char_is_digit(char c) {
        return c >= '0' && c <= '9';
}

static inline bool source_char_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline void source_json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

/* random_walk keeps |value| within this bound, so value × step factor (≤ 10^12) fits in 128 bits. */
#define SOURCE_WALK_START_MAX_DIGITS 24U
#define SOURCE_PPM_FACTOR 1000000LL
