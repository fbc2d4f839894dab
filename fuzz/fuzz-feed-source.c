/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The feed's data sources (src/feed/source*.c): their configuration parser, the value rule that turns
 * what a source read into a decimal, and the HTTP source's JSON body and json_path.
 *
 * Input: a byte choosing the mode, then: 0, a source object as JSON; 1, a byte of multiplier (bit 7 set:
 * none; else the exponent, modulo the maximum + 1) and the text; 2, a json_path, a NUL byte and the body.
 *
 * Invariants: a refused configuration is -EINVAL with "<field>: reason" naming the field it was given,
 * one line of valid UTF-8, bounded; an accepted one has a label; the value rule gives canonical decimals
 * that format back to text it reads as the same value; a json_path lookup finds an element or says why. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "feed-source.h"
#include "fuzz-util.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "source-internal.h"

#define FIELD "feeds.fuzz.value"
#define ERROR_MAX 2048U

static void fuzz_config(const uint8_t *data, size_t size) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c = NULL;
        _cleanup_free_ char *text = fuzz_strndup(data, size), *error = NULL;
        json_object *j;
        unsigned exponent = 0;
        int r;

        fuzz_assert(text, "out of memory");
        j = json_tokener_parse(text);
        if (!j)
                return;
        r = feed_source_config_parse(j, FIELD, "value", &c, &error);
        fuzz_note("config: %s", r < 0 ? error : "accepted");
        json_object_put(j);
        if (r < 0) {
                fuzz_assert(r == -EINVAL, error);
                fuzz_check_text_error(error, ERROR_MAX);
                fuzz_assert(strncmp(error, FIELD, strlen(FIELD)) == 0, error);
                fuzz_assert(!c, "a configuration along with an error");
                return;
        }
        fuzz_assert(c, "no configuration");
        fuzz_check_text(feed_source_config_get_label(c), ERROR_MAX);
        fuzz_assert(feed_source_type_to_string(feed_source_config_get_type(c)), "type without a name");
        if (feed_source_config_get_multiplier(c, &exponent))
                fuzz_assert(exponent <= FEED_SOURCE_MULTIPLIER_EXPONENT_MAX, "exponent out of range");
}

static void check_value_rule(const char *text, bool has_multiplier, unsigned exponent) {
        _cleanup_free_ char *value = NULL, *formatted = NULL, *again = NULL;
        const char *reason = NULL;
        int r;

        r = feed_decimal_scale(text, has_multiplier, exponent, &value, &reason);
        fuzz_note("value: %s", r < 0 ? reason : value);
        if (r < 0) {
                fuzz_assert(r != -ENOMEM, "out of memory");
                fuzz_assert(reason, "refused without a reason");
                fuzz_check_text(reason, 200);
                fuzz_assert(!value, value);
                return;
        }
        fuzz_assert(sdloop_decimal_is_valid(value), value);

        /* Formatted back with the multiplier's decimals, it reads as the same value. */
        fuzz_assert(feed_decimal_format(value, has_multiplier ? exponent : 0, &formatted) >= 0, value);
        r = feed_decimal_scale(formatted, has_multiplier, exponent, &again, &reason);
        fuzz_assert(r >= 0, reason);
        fuzz_assert(streq(again, value), formatted);
}

static void fuzz_value(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        uint8_t m = fuzz_take_u8(&data, &size);

        text = fuzz_strndup(data, size);
        fuzz_assert(text, "out of memory");
        check_value_rule(text, !(m & 0x80), (m & 0x7f) % (FEED_SOURCE_MULTIPLIER_EXPONENT_MAX + 1));
}

static void fuzz_json_path(const uint8_t *data, size_t size) {
        _cleanup_free_ char *path = NULL, *body = NULL, *reason = NULL;
        enum json_tokener_error jerr = json_tokener_success;
        const uint8_t *nul = memchr(data, 0, size);
        json_object *root, *v = NULL;
        int r;

        if (!nul)
                return;
        path = fuzz_strndup(data, (size_t) (nul - data));
        body = fuzz_strndup(nul + 1, size - (size_t) (nul - data) - 1);
        fuzz_assert(path && body, "out of memory");

        root = json_tokener_parse_verbose(body, &jerr);
        if (!root && jerr != json_tokener_success)
                return;
        r = source_json_path_lookup(root, path, &v, &reason);
        fuzz_note("json_path: %s", r < 0 ? reason : "found");
        if (r < 0) {
                fuzz_assert(r == -ENOENT, reason);
                fuzz_assert(reason, "no reason");
                if (fuzz_utf8_is_valid(path, strlen(path)))
                        fuzz_assert(fuzz_utf8_is_valid(reason, strlen(reason)), reason);
        } else {
                fuzz_assert(!reason, reason);
                if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double) ||
                    json_object_is_type(v, json_type_string))
                        check_value_rule(json_object_get_string(v), true, 8);
        }
        json_object_put(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        switch (fuzz_take_u8(&data, &size) % 3) {
        case 0:
                fuzz_config(data, size);
                break;
        case 1:
                fuzz_value(data, size);
                break;
        case 2:
                fuzz_json_path(data, size);
                break;
        }
        return 0;
}
