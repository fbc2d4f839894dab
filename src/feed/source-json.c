/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* JSON helpers of the feed configuration parser (feed-config.c) and the data sources: every refusal is
 * "<field>: <reason>", the field spelt from the top of the configuration. */

#include <stdarg.h>

#include "source-internal.h"


int feed_field_error(char **ret_error, const char *field, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (ret_error) {
                free(*ret_error);
                if (asprintf(ret_error, "%s: %s", field, msg) < 0) {
                        *ret_error = NULL;
                        return -ENOMEM;
                }
        }
        return -EINVAL;
}

char *source_field_join(const char *field, const char *key) {
        char buf[SDLOOP_QUOTE_SIZE];
        char *s;

        /* A key is whatever the file says: escaped, the message stays one line of valid UTF-8. */
        if (asprintf(&s, "%s.%s", field, sdloop_escape_into(buf, sizeof buf, key, SIZE_MAX, 0)) < 0)
                return NULL;
        return s;
}

int feed_json_check_keys(json_object *j, const char *field, const char * const *allowed,
                              char **ret_error) {
        json_object_object_foreach(j, key, value) {
                bool found = false;

                (void) value;
                for (const char * const *a = allowed; *a; a++)
                        if (streq(*a, key)) {
                                found = true;
                                break;
                        }
                if (!found) {
                        _cleanup_free_ char *f = source_field_join(field, key);

                        return f ? feed_field_error(ret_error, f, "unknown key") : -ENOMEM;
                }
        }
        return 0;
}

int feed_json_get_seconds(json_object *v, const char *field, uint64_t min_usec, uint64_t max_usec,
                               uint64_t *ret, char **ret_error) {
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return feed_field_error(ret_error, field, "expected a number of seconds");
        d = json_object_get_double(v);
        if (!(d >= 0) || d * 1e6 > (double) max_usec || (uint64_t) (d * 1e6 + 0.5) < min_usec)
                return feed_field_error(ret_error, field, "must be between %g and %g seconds",
                                             (double) min_usec / 1e6, (double) max_usec / 1e6);
        *ret = (uint64_t) (d * 1e6 + 0.5);
        return 0;
}

bool source_json_int_is_clamped(json_object *v) {
        if (json_object_get_int64(v) == INT64_MIN)
                return true;
        if (json_object_get_int64(v) == INT64_MAX)
                return json_object_get_uint64(v) >= (uint64_t) INT64_MAX;
        return false;
}

int feed_json_get_integer(json_object *v, const char *field, int64_t min, int64_t max, int64_t *ret,
                               char **ret_error) {
        int64_t i;

        if (!json_object_is_type(v, json_type_int))
                return feed_field_error(ret_error, field, "expected an integer");
        i = json_object_get_int64(v);
        if (source_json_int_is_clamped(v) || i < min || i > max)
                return feed_field_error(ret_error, field, "must be between %" PRIi64 " and %" PRIi64,
                                             min, max);
        *ret = i;
        return 0;
}

int feed_json_get_decimal(json_object *v, const char *field, char **ret, char **ret_error) {
        const char *s;
        char *d;

        if (json_object_is_type(v, json_type_int)) {
                if (source_json_int_is_clamped(v))
                        return feed_field_error(ret_error, field, "too large for a JSON integer here, "
                                                     "write it as a string");
                s = json_object_get_string(v);
        } else if (json_object_is_type(v, json_type_string)) {
                s = json_object_get_string(v);
                if (!sdloop_decimal_is_valid(s))
                        return feed_field_error(ret_error, field, "%s is not a decimal integer "
                                                     "(digits, an optional '-', no leading zeros, at "
                                                     "most %u digits)", SDLOOP_QUOTE(s),
                                                     SDLOOP_DECIMAL_DIGITS_MAX);
        } else
                return feed_field_error(ret_error, field, "expected a decimal integer as a string");

        d = strdup(s);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

int source_json_get_string(json_object *v, const char *field, const char **ret, char **ret_error) {
        if (!json_object_is_type(v, json_type_string))
                return feed_field_error(ret_error, field, "expected a string");
        *ret = json_object_get_string(v);
        return 0;
}

/* "multiplier": a power of ten, as "1e8", "100000000" or a JSON integer. */
int source_parse_multiplier(json_object *v, const char *field, unsigned *ret, char **ret_error) {
        const char *s;
        unsigned k = 0;

        if (json_object_is_type(v, json_type_int) && !source_json_int_is_clamped(v))
                s = json_object_get_string(v);
        else if (json_object_is_type(v, json_type_string))
                s = json_object_get_string(v);
        else
                return feed_field_error(ret_error, field, "expected a power of ten such as \"1e8\"");

        if (s[0] == '1' && (s[1] == 'e' || s[1] == 'E')) {
                const char *e = s + 2;

                if (*e == '+')
                        e++;
                if (!source_char_is_digit(*e) || strlen(e) > 2 || strspn(e, "0123456789") != strlen(e))
                        goto invalid;
                k = (unsigned) atoi(e);
        } else if (s[0] == '1' && strspn(s + 1, "0") == strlen(s + 1))
                k = (unsigned) strlen(s + 1);
        else
                goto invalid;

        if (k > FEED_SOURCE_MULTIPLIER_EXPONENT_MAX)
                goto invalid;
        *ret = k;
        return 0;

invalid:
        return feed_field_error(ret_error, field, "%s is not a power of ten from 1 to 1e%u, "
                                     "such as \"1e8\"", SDLOOP_QUOTE(s), FEED_SOURCE_MULTIPLIER_EXPONENT_MAX);
}
