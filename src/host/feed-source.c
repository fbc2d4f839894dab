/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Data sources of a feed (see feed-source.h for the rules). Every fetch completes from the event loop:
 * constants, files and random walks through a deferred event, commands when their process is reaped,
 * HTTP requests when libcurl's multi interface (driven by sd-event I/O and timer sources) says so. */

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>

#include "config.h"
#include "feed-source.h"
#include "macro.h"
#include "util.h"
#include "median-rules.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-log.h"

/* random_walk keeps |value| within this bound, so value × step factor (≤ 10^12) fits in 128 bits. */
#define WALK_START_MAX_DIGITS 24U
#define WALK_LIMIT ((__int128) 10000000000000LL * 1000000000000LL) /* 10^25 */
#define PPM_FACTOR 1000000LL

static const char * const source_type_table[_HOST_FEED_SOURCE_TYPE_MAX] = {
        [HOST_FEED_SOURCE_CONSTANT] = "constant",
        [HOST_FEED_SOURCE_FILE] = "file",
        [HOST_FEED_SOURCE_COMMAND] = "command",
        [HOST_FEED_SOURCE_HTTP] = "http",
        [HOST_FEED_SOURCE_RANDOM_WALK] = "random_walk",
};

const char *host_feed_source_type_to_string(HostFeedSourceType t) {
        return t >= 0 && t < _HOST_FEED_SOURCE_TYPE_MAX ? source_type_table[t] : NULL;
}

HostFeedSourceType host_feed_source_type_from_string(const char *s) {
        for (int i = 0; s && i < _HOST_FEED_SOURCE_TYPE_MAX; i++)
                if (streq(source_type_table[i], s))
                        return i;
        return _HOST_FEED_SOURCE_TYPE_INVALID;
}

struct HostFeedSourceConfig {
        HostFeedSourceType type;
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

/* --- decimals ------------------------------------------------------------------------------------------ */

static bool char_is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool char_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Add one to the decimal digits in @buf (length @n, room for n + 1); returns the new length. */
static size_t digits_increment(char *buf, size_t n) {
        for (size_t i = n; i > 0; i--) {
                if (buf[i - 1] != '9') {
                        buf[i - 1]++;
                        return n;
                }
                buf[i - 1] = '0';
        }
        memmove(buf + 1, buf, n);
        buf[0] = '1';
        return n + 1;
}

int host_feed_decimal_scale(const char *text, bool has_multiplier, unsigned exponent, char **ret,
                            const char **ret_reason) {
        const char *p = text, *int_digits, *frac_digits = NULL, *dummy;
        _cleanup_free_ char *digits = NULL, *out = NULL;
        size_t n_int = 0, n_frac = 0, nd, keep;
        bool negative = false, fraction_nonzero = false;
        long exp10 = 0, e;
        char first_dropped = '0';
        MedianInt v;
        uint8_t int192[MEDIAN_VALUE_BYTES];

        assert(ret);
        if (!ret_reason)
                ret_reason = &dummy;

        if (!text) {
                *ret_reason = "no value";
                return -EINVAL;
        }

        while (char_is_space(*p))
                p++;
        if (*p == '+' || *p == '-') {
                negative = *p == '-';
                p++;
        }
        int_digits = p;
        while (char_is_digit(*p)) {
                p++;
                n_int++;
        }
        if (*p == '.') {
                frac_digits = ++p;
                while (char_is_digit(*p)) {
                        p++;
                        n_frac++;
                }
        }
        if (n_int + n_frac == 0) {
                *ret_reason = "malformed decimal";
                return -EINVAL;
        }
        if (*p == 'e' || *p == 'E') {
                bool exp_negative = false;
                size_t n_exp = 0;

                p++;
                if (*p == '+' || *p == '-') {
                        exp_negative = *p == '-';
                        p++;
                }
                for (; char_is_digit(*p); p++, n_exp++)
                        /* Far beyond any value that fits: stop counting, the result is decided below. */
                        if (exp10 < 1000000)
                                exp10 = exp10 * 10 + (*p - '0');
                if (n_exp == 0) {
                        *ret_reason = "malformed decimal";
                        return -EINVAL;
                }
                if (exp_negative)
                        exp10 = -exp10;
        }
        while (char_is_space(*p))
                p++;
        if (*p != '\0') {
                *ret_reason = "malformed decimal";
                return -EINVAL;
        }

        /* value = D × 10^e, D the digits without the point. */
        digits = malloc(n_int + n_frac + 2);
        if (!digits)
                return -ENOMEM;
        memcpy(digits, int_digits, n_int);
        if (n_frac > 0)
                memcpy(digits + n_int, frac_digits, n_frac);
        nd = n_int + n_frac;
        digits[nd] = '\0';
        e = exp10 - (long) n_frac + (has_multiplier ? (long) exponent : 0);

        /* Leading zeros say nothing. */
        size_t z = strspn(digits, "0");
        memmove(digits, digits + z, nd - z + 1);
        nd -= z;

        if (nd == 0) {
                out = strdup("0");
                if (!out)
                        return -ENOMEM;
                *ret = TAKE_PTR(out);
                return 0;
        }

        if (e >= 0) {
                if ((size_t) e + nd > SDLOOP_DECIMAL_DIGITS_MAX) {
                        *ret_reason = "out of range: observations are signed 192-bit integers";
                        return -ERANGE;
                }
                out = malloc(1 + nd + (size_t) e + 1);
                if (!out)
                        return -ENOMEM;
                memcpy(out + 1, digits, nd);
                memset(out + 1 + nd, '0', (size_t) e);
                keep = nd + (size_t) e;
        } else {
                size_t drop = (size_t) -e;

                if (drop >= nd) {
                        /* Everything is fraction; the integer part is 0. */
                        keep = 0;
                        first_dropped = drop == nd ? digits[0] : '0';
                        fraction_nonzero = true;
                } else {
                        keep = nd - drop;
                        first_dropped = digits[keep];
                        for (size_t i = keep; i < nd; i++)
                                if (digits[i] != '0')
                                        fraction_nonzero = true;
                }
                if (fraction_nonzero && !has_multiplier) {
                        *ret_reason = "not an integer (give a \"multiplier\" such as \"1e8\" to scale it)";
                        return -EINVAL;
                }

                out = malloc(1 + MAX(keep, (size_t) 1) + 2);
                if (!out)
                        return -ENOMEM;
                memcpy(out + 1, digits, keep);
                /* Halves away from zero: the magnitude rounds up on a first dropped digit of 5 or more. */
                if (first_dropped >= '5')
                        keep = digits_increment(out + 1, keep);
                if (keep == 0)
                        out[1 + keep++] = '0';
        }
        out[1 + keep] = '\0';

        if (keep > SDLOOP_DECIMAL_DIGITS_MAX) {
                *ret_reason = "out of range: observations are signed 192-bit integers";
                return -ERANGE;
        }
        if (streq(out + 1, "0"))
                negative = false;
        if (negative)
                out[0] = '-';
        else
                memmove(out, out + 1, keep + 1);

        if (median_int_from_decimal(out, &v) < 0 || median_int_to_int192(&v, int192) < 0) {
                *ret_reason = "out of range: observations are signed 192-bit integers";
                return -ERANGE;
        }

        *ret = TAKE_PTR(out);
        return 0;
}

static void json_object_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

/* --- JSON helpers --------------------------------------------------------------------------------- */

int host_feed_field_error(char **ret_error, const char *field, const char *format, ...) {
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

static char *field_join(const char *field, const char *key) {
        char *s;

        if (asprintf(&s, "%s.%s", field, key) < 0)
                return NULL;
        return s;
}

int host_feed_json_check_keys(json_object *j, const char *field, const char * const *allowed,
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
                        _cleanup_free_ char *f = field_join(field, key);

                        return f ? host_feed_field_error(ret_error, f, "unknown key") : -ENOMEM;
                }
        }
        return 0;
}

int host_feed_json_get_seconds(json_object *v, const char *field, uint64_t min_usec, uint64_t max_usec,
                               uint64_t *ret, char **ret_error) {
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return host_feed_field_error(ret_error, field, "expected a number of seconds");
        d = json_object_get_double(v);
        if (!(d >= 0) || d * 1e6 > (double) max_usec || (uint64_t) (d * 1e6 + 0.5) < min_usec)
                return host_feed_field_error(ret_error, field, "must be between %g and %g seconds",
                                             (double) min_usec / 1e6, (double) max_usec / 1e6);
        *ret = (uint64_t) (d * 1e6 + 0.5);
        return 0;
}

/* json-c clamps integers that do not fit 64 bits; such a clamped value cannot be told from a real one. */
static bool json_int_is_clamped(json_object *v) {
        if (json_object_get_int64(v) == INT64_MIN)
                return true;
        if (json_object_get_int64(v) == INT64_MAX)
                return json_object_get_uint64(v) >= (uint64_t) INT64_MAX;
        return false;
}

int host_feed_json_get_integer(json_object *v, const char *field, int64_t min, int64_t max, int64_t *ret,
                               char **ret_error) {
        int64_t i;

        if (!json_object_is_type(v, json_type_int))
                return host_feed_field_error(ret_error, field, "expected an integer");
        i = json_object_get_int64(v);
        if (json_int_is_clamped(v) || i < min || i > max)
                return host_feed_field_error(ret_error, field, "must be between %" PRIi64 " and %" PRIi64,
                                             min, max);
        *ret = i;
        return 0;
}

int host_feed_json_get_decimal(json_object *v, const char *field, char **ret, char **ret_error) {
        const char *s;
        char *d;

        if (json_object_is_type(v, json_type_int)) {
                if (json_int_is_clamped(v))
                        return host_feed_field_error(ret_error, field, "too large for a JSON integer here, "
                                                     "write it as a string");
                s = json_object_get_string(v);
        } else if (json_object_is_type(v, json_type_string)) {
                s = json_object_get_string(v);
                if (!sdloop_decimal_is_valid(s))
                        return host_feed_field_error(ret_error, field, "%s is not a decimal integer "
                                                     "(digits, an optional '-', no leading zeros, at "
                                                     "most %u digits)", SDLOOP_QUOTE(s),
                                                     SDLOOP_DECIMAL_DIGITS_MAX);
        } else
                return host_feed_field_error(ret_error, field, "expected a decimal integer as a string");

        d = strdup(s);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static int json_get_string(json_object *v, const char *field, const char **ret, char **ret_error) {
        if (!json_object_is_type(v, json_type_string))
                return host_feed_field_error(ret_error, field, "expected a string");
        *ret = json_object_get_string(v);
        return 0;
}

/* "multiplier": a power of ten, as "1e8", "100000000" or a JSON integer. */
static int parse_multiplier(json_object *v, const char *field, unsigned *ret, char **ret_error) {
        const char *s;
        unsigned k = 0;

        if (json_object_is_type(v, json_type_int) && !json_int_is_clamped(v))
                s = json_object_get_string(v);
        else if (json_object_is_type(v, json_type_string))
                s = json_object_get_string(v);
        else
                return host_feed_field_error(ret_error, field, "expected a power of ten such as \"1e8\"");

        if (s[0] == '1' && (s[1] == 'e' || s[1] == 'E')) {
                const char *e = s + 2;

                if (*e == '+')
                        e++;
                if (!char_is_digit(*e) || strlen(e) > 2 || strspn(e, "0123456789") != strlen(e))
                        goto invalid;
                k = (unsigned) atoi(e);
        } else if (s[0] == '1' && strspn(s + 1, "0") == strlen(s + 1))
                k = (unsigned) strlen(s + 1);
        else
                goto invalid;

        if (k > HOST_FEED_SOURCE_MULTIPLIER_EXPONENT_MAX)
                goto invalid;
        *ret = k;
        return 0;

invalid:
        return host_feed_field_error(ret_error, field, "%s is not a power of ten from 1 to 1e%u, "
                                     "such as \"1e8\"", SDLOOP_QUOTE(s), HOST_FEED_SOURCE_MULTIPLIER_EXPONENT_MAX);
}

/* --- configuration -------------------------------------------------------------------------------- */

HostFeedSourceConfig *host_feed_source_config_free(HostFeedSourceConfig *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->label);
        free(c->constant);
        free(c->path);
        strv_free(c->argv);
        free(c->url);
        free(c->json_path);
        strv_free(c->headers);
        return mfree(c);
}

HostFeedSourceType host_feed_source_config_get_type(const HostFeedSourceConfig *c) {
        return c->type;
}

const char *host_feed_source_config_get_label(const HostFeedSourceConfig *c) {
        return c->label;
}

static int parse_argv(json_object *v, const char *field, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n;

        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
                return host_feed_field_error(ret_error, field, "expected a non-empty array of strings");
        n = json_object_array_length(v);
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(v, i);

                if (!json_object_is_type(a, json_type_string) ||
                    (i == 0 && isempty(json_object_get_string(a)))) {
                        _cleanup_free_ char *f = NULL;

                        if (asprintf(&f, "%s[%zu]", field, i) < 0)
                                return -ENOMEM;
                        return host_feed_field_error(ret_error, f, i == 0 ? "expected the program to run" :
                                                     "expected a string");
                }
                l[i] = strdup(json_object_get_string(a));
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_headers(json_object *v, const char *field, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        if (!json_object_is_type(v, json_type_object))
                return host_feed_field_error(ret_error, field, "expected an object of header name: value");
        l = new0(char *, json_object_object_length(v) + 1);
        if (!l)
                return -ENOMEM;
        json_object_object_foreach(v, key, value) {
                _cleanup_free_ char *f = field_join(field, key);
                const char *s;

                if (!f)
                        return -ENOMEM;
                if (isempty(key) || strpbrk(key, ": \t\r\n"))
                        return host_feed_field_error(ret_error, f, "not a valid header name");
                if (!json_object_is_type(value, json_type_string))
                        return host_feed_field_error(ret_error, f, "expected a string");
                s = json_object_get_string(value);
                if (strpbrk(s, "\r\n"))
                        return host_feed_field_error(ret_error, f, "header values cannot span lines");
                if (asprintf(&l[n], "%s: %s", key, s) < 0) {
                        l[n] = NULL;
                        return -ENOMEM;
                }
                n++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int host_feed_source_config_parse(json_object *j, const char *field, const char *default_name,
                                  HostFeedSourceConfig **ret, char **ret_error) {
        static const char * const keys[_HOST_FEED_SOURCE_TYPE_MAX][9] = {
                [HOST_FEED_SOURCE_CONSTANT] = { "type", "name", "value", "multiplier", NULL },
                [HOST_FEED_SOURCE_FILE] = { "type", "name", "path", "multiplier", NULL },
                [HOST_FEED_SOURCE_COMMAND] = { "type", "name", "argv", "timeout_sec", "multiplier", NULL },
                [HOST_FEED_SOURCE_HTTP] = { "type", "name", "url", "json_path", "timeout_sec", "headers",
                                            "multiplier", NULL },
                [HOST_FEED_SOURCE_RANDOM_WALK] = { "type", "name", "start", "step_ppm", "seed", NULL },
        };
        _cleanup_(host_feed_source_config_freep) HostFeedSourceConfig *c = NULL;
        json_object *v;
        const char *s = NULL;
        int r;

        assert(field);
        assert(ret);

        if (!json_object_is_type(j, json_type_object))
                return host_feed_field_error(ret_error, field, "expected a data source object such as "
                                             "{\"type\": \"constant\", \"value\": \"1\"}");

        c = new0(HostFeedSourceConfig, 1);
        if (!c)
                return -ENOMEM;

        if (!json_object_object_get_ex(j, "type", &v))
                return host_feed_field_error(ret_error, field, "missing \"type\" (constant, file, command, "
                                             "http or random_walk)");
        {
                _cleanup_free_ char *f = field_join(field, "type");

                if (!f)
                        return -ENOMEM;
                r = json_get_string(v, f, &s, ret_error);
                if (r < 0)
                        return r;
                c->type = host_feed_source_type_from_string(s);
                if (c->type < 0)
                        return host_feed_field_error(ret_error, f, "unknown source type %s (constant, "
                                                     "file, command, http or random_walk)", SDLOOP_QUOTE(s));
        }

        r = host_feed_json_check_keys(j, field, keys[c->type], ret_error);
        if (r < 0)
                return r;

#define SUBFIELD(key)                                                   \
        _cleanup_free_ char *f_##key = field_join(field, #key);         \
        if (!f_##key)                                                   \
                return -ENOMEM;

        if (json_object_object_get_ex(j, "name", &v)) {
                SUBFIELD(name);
                r = json_get_string(v, f_name, &s, ret_error);
                if (r < 0)
                        return r;
                if (isempty(s))
                        return host_feed_field_error(ret_error, f_name, "must not be empty");
                c->name = strdup(s);
        } else
                c->name = strdup(strempty(default_name));
        if (!c->name)
                return -ENOMEM;

        if (json_object_object_get_ex(j, "multiplier", &v)) {
                SUBFIELD(multiplier);
                r = parse_multiplier(v, f_multiplier, &c->exponent, ret_error);
                if (r < 0)
                        return r;
                c->has_multiplier = true;
        }

        c->timeout_usec = c->type == HOST_FEED_SOURCE_HTTP ? HOST_FEED_SOURCE_HTTP_TIMEOUT_USEC_DEFAULT :
                HOST_FEED_SOURCE_COMMAND_TIMEOUT_USEC_DEFAULT;
        if (json_object_object_get_ex(j, "timeout_sec", &v)) {
                SUBFIELD(timeout_sec);
                r = host_feed_json_get_seconds(v, f_timeout_sec, 1000, 3600 * USEC_PER_SEC, &c->timeout_usec,
                                               ret_error);
                if (r < 0)
                        return r;
        }

        switch (c->type) {

        case HOST_FEED_SOURCE_CONSTANT: {
                const char *reason = NULL;
                SUBFIELD(value);

                if (!json_object_object_get_ex(j, "value", &v))
                        return host_feed_field_error(ret_error, field, "missing \"value\"");
                if (json_object_is_type(v, json_type_int)) {
                        if (json_int_is_clamped(v))
                                return host_feed_field_error(ret_error, f_value, "too large for a JSON "
                                                             "integer here, write it as a string");
                } else if (!json_object_is_type(v, json_type_string) &&
                           !json_object_is_type(v, json_type_double))
                        return host_feed_field_error(ret_error, f_value, "expected a decimal as a string");
                r = host_feed_decimal_scale(json_object_get_string(v), c->has_multiplier, c->exponent,
                                            &c->constant, &reason);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return host_feed_field_error(ret_error, f_value, "%s: %s",
                                                     SDLOOP_QUOTE(json_object_get_string(v)), reason);
                break;
        }

        case HOST_FEED_SOURCE_FILE: {
                SUBFIELD(path);

                if (!json_object_object_get_ex(j, "path", &v))
                        return host_feed_field_error(ret_error, field, "missing \"path\"");
                r = json_get_string(v, f_path, &s, ret_error);
                if (r < 0)
                        return r;
                if (s[0] != '/')
                        return host_feed_field_error(ret_error, f_path, "%s is not an absolute path",
                                                     SDLOOP_QUOTE(s));
                c->path = strdup(s);
                if (!c->path)
                        return -ENOMEM;
                break;
        }

        case HOST_FEED_SOURCE_COMMAND: {
                SUBFIELD(argv);

                if (!json_object_object_get_ex(j, "argv", &v))
                        return host_feed_field_error(ret_error, field, "missing \"argv\"");
                r = parse_argv(v, f_argv, &c->argv, ret_error);
                if (r < 0)
                        return r;
                break;
        }

        case HOST_FEED_SOURCE_HTTP: {
                SUBFIELD(url);

                if (!json_object_object_get_ex(j, "url", &v))
                        return host_feed_field_error(ret_error, field, "missing \"url\"");
                r = json_get_string(v, f_url, &s, ret_error);
                if (r < 0)
                        return r;
                if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
                        return host_feed_field_error(ret_error, f_url, "%s is not an http:// or "
                                                     "https:// URL", SDLOOP_QUOTE(s));
                c->url = strdup(s);
                if (!c->url)
                        return -ENOMEM;

                if (json_object_object_get_ex(j, "json_path", &v)) {
                        SUBFIELD(json_path);

                        r = json_get_string(v, f_json_path, &s, ret_error);
                        if (r < 0)
                                return r;
                        if (!isempty(s) && (s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..")))
                                return host_feed_field_error(ret_error, f_json_path, "%s: expected keys "
                                                             "and indexes separated by single dots, such as "
                                                             "\"data.prices.0.usd\"", SDLOOP_QUOTE(s));
                        c->json_path = strdup(s);
                } else
                        c->json_path = strdup("");
                if (!c->json_path)
                        return -ENOMEM;

                if (json_object_object_get_ex(j, "headers", &v)) {
                        SUBFIELD(headers);

                        r = parse_headers(v, f_headers, &c->headers, ret_error);
                        if (r < 0)
                                return r;
                }
                break;
        }

        case HOST_FEED_SOURCE_RANDOM_WALK: {
                _cleanup_free_ char *start = NULL;
                int64_t i;
                SUBFIELD(start);
                SUBFIELD(step_ppm);
                SUBFIELD(seed);

                if (!json_object_object_get_ex(j, "start", &v))
                        return host_feed_field_error(ret_error, field, "missing \"start\"");
                r = host_feed_json_get_decimal(v, f_start, &start, ret_error);
                if (r < 0)
                        return r;
                if (strlen(start) - (start[0] == '-') > WALK_START_MAX_DIGITS)
                        return host_feed_field_error(ret_error, f_start, "at most %u digits",
                                                     WALK_START_MAX_DIGITS);
                r = sdloop_decimal_to_i128(start, &c->start);
                if (r < 0)
                        return host_feed_field_error(ret_error, f_start, "not a decimal");

                c->step_ppm = 1000;
                if (json_object_object_get_ex(j, "step_ppm", &v)) {
                        r = host_feed_json_get_integer(v, f_step_ppm, 0, PPM_FACTOR, &i, ret_error);
                        if (r < 0)
                                return r;
                        c->step_ppm = (uint32_t) i;
                }
                if (json_object_object_get_ex(j, "seed", &v)) {
                        r = host_feed_json_get_integer(v, f_seed, 0, INT64_MAX, &i, ret_error);
                        if (r < 0)
                                return r;
                        c->seed = (uint64_t) i;
                }
                break;
        }

        default:
                assert(false);
        }
#undef SUBFIELD

        if (c->type == HOST_FEED_SOURCE_FILE)
                r = asprintf(&c->label, "file source %s (%s)", c->name, c->path);
        else
                r = asprintf(&c->label, "%s source %s", host_feed_source_type_to_string(c->type), c->name);
        if (r < 0) {
                c->label = NULL;
                return -ENOMEM;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

/* --- instances ------------------------------------------------------------------------------------ */

typedef struct Buffer {
        char *data;
        size_t size;
        bool too_large;
} Buffer;

static void buffer_reset(Buffer *b) {
        b->data = mfree(b->data);
        b->size = 0;
        b->too_large = false;
}

static int buffer_append(Buffer *b, const void *data, size_t n) {
        char *d;

        if (b->size + n > HOST_FEED_SOURCE_OUTPUT_MAX) {
                b->too_large = true;
                return -EFBIG;
        }
        d = realloc(b->data, b->size + n + 1);
        if (!d)
                return -ENOMEM;
        memcpy(d + b->size, data, n);
        b->size += n;
        d[b->size] = '\0';
        b->data = d;
        return 0;
}

typedef struct CurlSocket {
        curl_socket_t fd;
        sd_event_source *io;
        struct CurlSocket *next;
} CurlSocket;

struct HostFeedSource {
        const HostFeedSourceConfig *config;
        sd_event *event;
        unsigned oracle;

        bool busy;
        host_feed_source_done_fn done;
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
        Buffer out, err;
        bool timed_out;

        /* http */
        CURLM *multi;
        CURL *easy;
        struct curl_slist *curl_headers;
        CurlSocket *sockets;
        sd_event_source *curl_timer;
        char curl_error[CURL_ERROR_SIZE];
        Buffer body;
};

const char *host_feed_source_get_label(HostFeedSource *s) {
        return s->config->label;
}

bool host_feed_source_is_busy(HostFeedSource *s) {
        return s->busy;
}

static int source_errorf(char **ret, const HostFeedSource *s, const char *format, ...) _printf_(3, 4);
static int source_errorf(char **ret, const HostFeedSource *s, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0 || asprintf(ret, "%s: %s", s->config->label, msg) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Hand the result over. The callback may free @s: nothing touches it afterwards. */
static void source_complete(HostFeedSource *s, const char *value, const char *error) {
        host_feed_source_done_fn done = s->done;
        void *userdata = s->userdata;

        s->busy = false;
        s->done = NULL;
        s->userdata = NULL;
        if (!value && !error)
                error = "out of memory";
        if (done)
                done(s, value, error, userdata);
}

/* Turn text read by the source into its value, or into an error naming the source and @what. */
static void source_complete_text(HostFeedSource *s, const char *what, const char *text) {
        _cleanup_free_ char *value = NULL, *error = NULL;
        const char *reason = NULL;
        int r;

        r = host_feed_decimal_scale(text, s->config->has_multiplier, s->config->exponent, &value, &reason);
        if (r < 0 && r != -ENOMEM) {
                const char *t = text + strspn(text, " \t\r\n");
                size_t n = strlen(t);

                while (n > 0 && char_is_space(t[n - 1]))
                        n--;
                (void) source_errorf(&error, s, "%s%s%s %s", strempty(what), what ? ": " : "", reason,
                                     SDLOOP_QUOTE_N(t, n));
        }
        source_complete(s, value, error);
}

static int on_defer(sd_event_source *es, void *userdata) {
        HostFeedSource *s = userdata;
        _cleanup_free_ char *value = TAKE_PTR(s->result_value), *error = TAKE_PTR(s->result_error);

        s->defer = sd_event_source_disable_unref(s->defer);
        source_complete(s, value, error);
        return 0;
}

static int source_complete_later(HostFeedSource *s, char *value, char *error) {
        int r;

        r = sd_event_add_defer(s->event, &s->defer, on_defer, s);
        if (r < 0) {
                free(value);
                free(error);
                return r;
        }
        (void) sd_event_source_set_description(s->defer, "feed-source-result");
        s->result_value = value;
        s->result_error = error;
        return 0;
}

/* --- constant, file, random_walk ------------------------------------------------------------------ */

static int fetch_constant(HostFeedSource *s) {
        char *v = strdup(s->config->constant);

        if (!v)
                return -ENOMEM;
        return source_complete_later(s, v, NULL);
}

static int fetch_file(HostFeedSource *s) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *value = NULL, *error = NULL;
        const char *reason = NULL;
        char buf[4096];
        ssize_t n;
        size_t len;
        int r;

        /* Not blocking on a FIFO without writer: that reads as empty. */
        fd = open(s->config->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                r = source_errorf(&error, s, "cannot open: %s", strerror(errno));
        else {
                n = read(fd, buf, sizeof(buf) - 1);
                if (n < 0)
                        r = source_errorf(&error, s, "cannot read: %s", strerror(errno));
                else {
                        buf[n] = '\0';
                        len = strcspn(buf, "\n");
                        if (len == (size_t) n && (size_t) n == sizeof(buf) - 1)
                                r = source_errorf(&error, s, "line 1: longer than %zu bytes",
                                                  sizeof(buf) - 2);
                        else {
                                buf[len] = '\0';
                                r = host_feed_decimal_scale(buf, s->config->has_multiplier,
                                                            s->config->exponent, &value, &reason);
                                if (r == -ENOMEM)
                                        return r;
                                if (r < 0 && n == 0)
                                        r = source_errorf(&error, s, "empty file");
                                else if (r < 0)
                                        r = source_errorf(&error, s, "line 1: %s %s", reason,
                                                          SDLOOP_QUOTE_N(buf, len));
                        }
                }
        }
        if (r < 0)
                return r;
        return source_complete_later(s, TAKE_PTR(value), TAKE_PTR(error));
}

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static int fetch_random_walk(HostFeedSource *s, uint64_t step) {
        char buf[41], *v;

        if (!s->walked) {
                s->walked = true;
                s->walk_value = s->config->start;
        } else if (step != s->last_step) {
                /* u uniform in [-10^6, 10^6]: the value moves by up to step_ppm parts per million. */
                int64_t u = (int64_t) (splitmix64(&s->rng) % (2 * PPM_FACTOR + 1)) - PPM_FACTOR;
                __int128 delta = s->walk_value * ((__int128) s->config->step_ppm * u) /
                        ((__int128) PPM_FACTOR * PPM_FACTOR);

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

/* --- command ------------------------------------------------------------------------------------------- */

static void command_release(HostFeedSource *s) {
        s->child_source = sd_event_source_disable_unref(s->child_source);
        s->stdout_source = sd_event_source_disable_unref(s->stdout_source);
        s->stderr_source = sd_event_source_disable_unref(s->stderr_source);
        s->timer = sd_event_source_disable_unref(s->timer);
        s->stdout_fd = safe_close(s->stdout_fd);
        s->stderr_fd = safe_close(s->stderr_fd);
        s->pid = 0;
        buffer_reset(&s->out);
        buffer_reset(&s->err);
}

/* Read what is there; 0 at EOF, -EAGAIN when more may come. */
static int command_drain(int fd, Buffer *b) {
        char buf[4096];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n == 0)
                        return 0;
                if (n < 0)
                        return errno == EINTR ? -EAGAIN : (errno == EAGAIN ? -EAGAIN : -errno);
                /* Past the limit, keep reading (so the process is not stuck on a full pipe) but drop it. */
                (void) buffer_append(b, buf, (size_t) n);
        }
}

static int on_command_output(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        HostFeedSource *s = userdata;
        bool is_stdout = fd == s->stdout_fd;
        int r;

        r = command_drain(fd, is_stdout ? &s->out : &s->err);
        if (r != -EAGAIN) {
                /* EOF (or a broken pipe): nothing more from this one. */
                if (is_stdout)
                        s->stdout_source = sd_event_source_disable_unref(s->stdout_source);
                else
                        s->stderr_source = sd_event_source_disable_unref(s->stderr_source);
        }
        return 0;
}

static int on_command_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        HostFeedSource *s = userdata;

        s->timed_out = true;
        /* The whole process group: a shell's children go too. The exit is reaped by the child source. */
        (void) kill(-s->pid, SIGKILL);
        (void) kill(s->pid, SIGKILL);
        return 0;
}

static int on_command_exit(sd_event_source *es, const siginfo_t *si, void *userdata) {
        HostFeedSource *s = userdata;
        _cleanup_free_ char *error = NULL, *out = NULL;
        char status[64];
        int r = 0;

        /* Whatever it wrote before exiting is in the pipes by now. */
        if (s->stdout_fd >= 0)
                (void) command_drain(s->stdout_fd, &s->out);
        if (s->stderr_fd >= 0)
                (void) command_drain(s->stderr_fd, &s->err);
        s->child_source = sd_event_source_disable_unref(s->child_source);

        if (si->si_code == CLD_EXITED)
                snprintf(status, sizeof(status), "exited with status %d", si->si_status);
        else
                snprintf(status, sizeof(status), "killed by signal %s", strsignal(si->si_status) ?: "?");

        if (s->timed_out) {
                char t[32];

                snprintf(t, sizeof(t), "%g s", (double) s->config->timeout_usec / 1e6);
                r = source_errorf(&error, s, "timed out after %s, killed", t);
        } else if (si->si_code != CLD_EXITED || si->si_status != 0) {
                /* The first line of stderr usually says why. It is the command's own text, whatever
                 * bytes it wrote: escaped and cut, it can go into an error that travels over D-Bus. */
                const char *e = s->err.data ? s->err.data + strspn(s->err.data, " \t\r\n") : "";
                size_t len = strcspn(e, "\r\n");
                char line[256];

                r = source_errorf(&error, s, "%s%s%s", status, len > 0 ? ": " : "",
                                  sdloop_escape_into(line, sizeof(line), e, len, 0));
        } else if (s->out.too_large)
                r = source_errorf(&error, s, "output larger than %u bytes", HOST_FEED_SOURCE_OUTPUT_MAX);
        else if (!s->out.data || s->out.data[strspn(s->out.data, " \t\r\n")] == '\0')
                r = source_errorf(&error, s, "no output");
        else {
                out = TAKE_PTR(s->out.data);
                command_release(s);
                source_complete_text(s, "output", out);
                return 0;
        }

        command_release(s);
        if (r < 0)
                error = mfree(error);
        source_complete(s, NULL, error);
        return 0;
}

static void sigchld_block(void) {
        sigset_t mask, old;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                log_warning_errno(-errno, "Failed to block SIGCHLD: %m");
}

__attribute__((noreturn)) static void command_exec(HostFeedSource *s, int stdout_fd, int stderr_fd) {
        sigset_t none;
        int null;

        /* A process of its own group, so that a timeout kills everything it started. */
        (void) setpgid(0, 0);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGPIPE, SIG_DFL);

        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(stdout_fd, STDOUT_FILENO) < 0 ||
            dup2(stderr_fd, STDERR_FILENO) < 0)
                _exit(126);
        /* Everything else of the host's stays behind. */
        (void) close_range(3, ~0U, 0);

        execvp(s->config->argv[0], s->config->argv);
        dprintf(STDERR_FILENO, "cannot execute %s: %s\n", s->config->argv[0], strerror(errno));
        _exit(127);
}

static int fetch_command(HostFeedSource *s) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        int pipe_out[2], pipe_err[2];
        pid_t pid;
        int r;

        sigchld_block();

        if (pipe2(pipe_out, O_CLOEXEC) < 0)
                return -errno;
        out_r = pipe_out[0];
        out_w = pipe_out[1];
        if (pipe2(pipe_err, O_CLOEXEC) < 0)
                return -errno;
        err_r = pipe_err[0];
        err_w = pipe_err[1];
        if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_r, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                command_exec(s, out_w, err_w);

        s->pid = pid;
        s->timed_out = false;
        s->stdout_fd = TAKE_FD(out_r);
        s->stderr_fd = TAKE_FD(err_r);

        r = sd_event_add_child(s->event, &s->child_source, pid, WEXITED, on_command_exit, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(s->event, &s->stdout_source, s->stdout_fd, EPOLLIN, on_command_output, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(s->event, &s->stderr_source, s->stderr_fd, EPOLLIN, on_command_output, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_time_relative(s->event, &s->timer, CLOCK_MONOTONIC, s->config->timeout_usec, 0,
                                       on_command_timeout, s);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(s->child_source, "feed-source-command");
        return 0;

fail:
        (void) kill(-pid, SIGKILL);
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        command_release(s);
        return r;
}

static void command_cancel(HostFeedSource *s) {
        if (s->pid > 0) {
                (void) kill(-s->pid, SIGKILL);
                (void) kill(s->pid, SIGKILL);
                /* Reap it now, its child source goes away below. SIGKILL makes this quick. */
                s->child_source = sd_event_source_disable_unref(s->child_source);
                (void) waitpid(s->pid, NULL, 0);
        }
        command_release(s);
}

/* --- http ---------------------------------------------------------------------------------------------- */

static void curl_global(void) {
        static bool initialized = false;

        if (!initialized && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
                initialized = true;
}

static CurlSocket *curl_socket_find(HostFeedSource *s, curl_socket_t fd) {
        for (CurlSocket *c = s->sockets; c; c = c->next)
                if (c->fd == fd)
                        return c;
        return NULL;
}

static void curl_socket_remove(HostFeedSource *s, curl_socket_t fd) {
        for (CurlSocket **c = &s->sockets; *c; c = &(*c)->next)
                if ((*c)->fd == fd) {
                        CurlSocket *dead = *c;

                        *c = dead->next;
                        sd_event_source_disable_unref(dead->io);
                        free(dead);
                        return;
                }
}

static void http_check_done(HostFeedSource *s);

static int on_curl_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        HostFeedSource *s = userdata;
        int action = 0, running;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;

        (void) curl_multi_socket_action(s->multi, fd, action, &running);
        http_check_done(s);
        return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HostFeedSource *s = userp;
        CurlSocket *c;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                curl_socket_remove(s, fd);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        c = curl_socket_find(s, fd);
        if (c)
                return sd_event_source_set_io_events(c->io, events) < 0 ? -1 : 0;

        c = new0(CurlSocket, 1);
        if (!c)
                return -1;
        c->fd = fd;
        r = sd_event_add_io(s->event, &c->io, fd, events, on_curl_io, s);
        if (r < 0) {
                free(c);
                return -1;
        }
        (void) sd_event_source_set_description(c->io, "feed-source-http-io");
        c->next = s->sockets;
        s->sockets = c;
        return 0;
}

static int on_curl_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        HostFeedSource *s = userdata;
        int running;

        (void) curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        http_check_done(s);
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HostFeedSource *s = userp;
        uint64_t when;
        int r;

        if (timeout_ms < 0) {
                if (s->curl_timer)
                        (void) sd_event_source_set_enabled(s->curl_timer, SD_EVENT_OFF);
                return 0;
        }

        when = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;
        if (s->curl_timer) {
                r = sd_event_source_set_time(s->curl_timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->curl_timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(s->event, &s->curl_timer, CLOCK_MONOTONIC, when, 0, on_curl_timer, s);
                if (r >= 0)
                        (void) sd_event_source_set_description(s->curl_timer, "feed-source-http-timer");
        }
        return r < 0 ? -1 : 0;
}

static size_t curl_write_cb(char *data, size_t size, size_t nmemb, void *userdata) {
        HostFeedSource *s = userdata;

        /* Returning less than given makes libcurl fail the transfer with CURLE_WRITE_ERROR. */
        if (buffer_append(&s->body, data, size * nmemb) < 0)
                return 0;
        return size * nmemb;
}

/* Walk "data.prices.0.usd" down from @root. */
static int json_path_lookup(json_object *root, const char *path, json_object **ret, char **ret_reason) {
        _cleanup_free_ char *copy = strdup(path);
        json_object *cur = root;
        char *state = NULL;
        size_t walked = 0;
        int r;

        if (!copy)
                return -ENOMEM;

        for (char *k = strtok_r(copy, ".", &state); k; k = strtok_r(NULL, ".", &state)) {
                _cleanup_free_ char *where = walked > 0 ? strndup(path, walked) : strdup("the document");
                json_object *next = NULL;

                if (!where)
                        return -ENOMEM;

                if (json_object_is_type(cur, json_type_object)) {
                        if (!json_object_object_get_ex(cur, k, &next)) {
                                r = asprintf(ret_reason, "no key \"%s\" in %s", k, where);
                                return r < 0 ? -ENOMEM : -ENOENT;
                        }
                } else if (json_object_is_type(cur, json_type_array)) {
                        size_t n = json_object_array_length(cur);
                        char *end = NULL;
                        unsigned long i;

                        errno = 0;
                        i = strtoul(k, &end, 10);
                        if (!char_is_digit(k[0]) || errno != 0 || *end || i >= n) {
                                r = asprintf(ret_reason, "no element \"%s\" in %s (an array of %zu)", k,
                                             where, n);
                                return r < 0 ? -ENOMEM : -ENOENT;
                        }
                        next = json_object_array_get_idx(cur, i);
                } else {
                        r = asprintf(ret_reason, "%s is %s, not an object or array", where,
                                     cur ? json_type_to_name(json_object_get_type(cur)) : "null");
                        return r < 0 ? -ENOMEM : -ENOENT;
                }

                cur = next;
                walked = (size_t) (k - copy) + strlen(k);
        }

        *ret = cur;
        return 0;
}

static void http_finish(HostFeedSource *s, CURLcode result) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_free_ char *error = NULL, *reason = NULL;
        enum json_tokener_error jerr = json_tokener_success;
        json_object *v = NULL;
        long code = 0;
        const char *path = s->config->json_path;
        int r;

        (void) curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        (void) curl_multi_remove_handle(s->multi, s->easy);

        if (result == CURLE_OPERATION_TIMEDOUT)
                r = source_errorf(&error, s, "timed out after %g s", (double) s->config->timeout_usec / 1e6);
        else if (result == CURLE_WRITE_ERROR && s->body.too_large)
                r = source_errorf(&error, s, "response larger than %u bytes", HOST_FEED_SOURCE_OUTPUT_MAX);
        else if (result != CURLE_OK)
                r = source_errorf(&error, s, "%s",
                                  s->curl_error[0] ? s->curl_error : curl_easy_strerror(result));
        else if (code < 200 || code > 299)
                r = source_errorf(&error, s, "HTTP %ld", code);
        else {
                root = json_tokener_parse_verbose(s->body.data ?: "", &jerr);
                if (!root && jerr != json_tokener_success)
                        r = source_errorf(&error, s, "response is not JSON (%s): %s",
                                          json_tokener_error_desc(jerr),
                                          SDLOOP_QUOTE_N(s->body.data ?: "", s->body.size));
                else {
                        r = json_path_lookup(root, path, &v, &reason);
                        if (r == -ENOMEM)
                                goto finish;
                        if (r < 0)
                                r = source_errorf(&error, s, "json_path %s: %s", path, reason);
                        else if (json_object_is_type(v, json_type_int) && json_int_is_clamped(v))
                                r = source_errorf(&error, s, "json_path %s: integer too large for a JSON "
                                                  "number (serve it as a decimal string)", path);
                        else if (json_object_is_type(v, json_type_int) ||
                                 json_object_is_type(v, json_type_double) ||
                                 json_object_is_type(v, json_type_string)) {
                                _cleanup_free_ char *what = NULL;
                                _cleanup_free_ char *text = strdup(json_object_get_string(v));

                                buffer_reset(&s->body);
                                if (!text ||
                                    asprintf(&what, "json_path %s", isempty(path) ? "\"\"" : path) < 0)
                                        goto finish;
                                json_object_put(TAKE_PTR(root));
                                source_complete_text(s, what, text);
                                return;
                        } else
                                r = source_errorf(&error, s, "json_path %s: %s, expected a number or a "
                                                  "decimal string",
                                                  isempty(path) ? "\"\"" : path,
                                                  v ? json_type_to_name(json_object_get_type(v)) : "null");
                }
        }
        if (r < 0)
                error = mfree(error);

finish:
        buffer_reset(&s->body);
        source_complete(s, NULL, error);
}

static void http_check_done(HostFeedSource *s) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(s->multi, &left)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy) {
                        /* May free @s: return at once. */
                        http_finish(s, msg->data.result);
                        return;
                }
}

static int http_setup(HostFeedSource *s) {
        const HostFeedSourceConfig *c = s->config;

        curl_global();

        s->multi = curl_multi_init();
        s->easy = curl_easy_init();
        if (!s->multi || !s->easy)
                return -ENOMEM;

        if (curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s) != CURLM_OK ||
            curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s) != CURLM_OK)
                return -EIO;

        s->curl_headers = curl_slist_append(NULL, "Accept: application/json");
        if (!s->curl_headers)
                return -ENOMEM;
        for (char **h = c->headers; h && *h; h++) {
                struct curl_slist *l = curl_slist_append(s->curl_headers, *h);

                if (!l)
                        return -ENOMEM;
                s->curl_headers = l;
        }

        if (curl_easy_setopt(s->easy, CURLOPT_URL, c->url) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->curl_headers) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, curl_write_cb) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_error) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long) (c->timeout_usec / USEC_PER_MSEC)) !=
                    CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_MAXREDIRS, 5L) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "sdloop/" SDLOOP_VERSION) != CURLE_OK)
                return -EIO;
        return 0;
}

static int fetch_http(HostFeedSource *s) {
        int r;

        if (!s->multi) {
                r = http_setup(s);
                if (r < 0)
                        return r;
        }

        buffer_reset(&s->body);
        s->curl_error[0] = '\0';
        /* The transfer starts from the timer libcurl asks for, i.e. from the loop. */
        if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
                return -EIO;
        return 0;
}

static void http_cancel(HostFeedSource *s) {
        if (s->multi && s->easy)
                (void) curl_multi_remove_handle(s->multi, s->easy);
        buffer_reset(&s->body);
}

static void http_release(HostFeedSource *s) {
        http_cancel(s);
        if (s->easy)
                curl_easy_cleanup(s->easy);
        if (s->multi)
                curl_multi_cleanup(s->multi);
        s->easy = NULL;
        s->multi = NULL;
        /* Sockets libcurl did not say goodbye to (a cached connection). */
        while (s->sockets)
                curl_socket_remove(s, s->sockets->fd);
        s->curl_timer = sd_event_source_disable_unref(s->curl_timer);
        curl_slist_free_all(s->curl_headers);
        s->curl_headers = NULL;
}

/* --- life cycle --------------------------------------------------------------------------------------- */

int host_feed_source_new(const HostFeedSourceConfig *config, sd_event *event, unsigned oracle,
                         HostFeedSource **ret) {
        HostFeedSource *s;

        assert(config);
        assert(event);
        assert(ret);

        s = new0(HostFeedSource, 1);
        if (!s)
                return -ENOMEM;
        s->config = config;
        s->event = sd_event_ref(event);
        s->oracle = oracle;
        s->stdout_fd = s->stderr_fd = -EBADF;
        s->rng = config->seed + oracle;
        *ret = s;
        return 0;
}

void host_feed_source_cancel(HostFeedSource *s) {
        if (!s || !s->busy)
                return;
        s->defer = sd_event_source_disable_unref(s->defer);
        s->result_value = mfree(s->result_value);
        s->result_error = mfree(s->result_error);
        command_cancel(s);
        http_cancel(s);
        s->busy = false;
        s->done = NULL;
        s->userdata = NULL;
}

HostFeedSource *host_feed_source_free(HostFeedSource *s) {
        if (!s)
                return NULL;
        host_feed_source_cancel(s);
        http_release(s);
        sd_event_unref(s->event);
        return mfree(s);
}

int host_feed_source_fetch(HostFeedSource *s, uint64_t step, host_feed_source_done_fn done, void *userdata) {
        int r;

        assert(s);
        assert(done);

        if (s->busy)
                return -EBUSY;

        switch (s->config->type) {
        case HOST_FEED_SOURCE_CONSTANT:
                r = fetch_constant(s);
                break;
        case HOST_FEED_SOURCE_FILE:
                r = fetch_file(s);
                break;
        case HOST_FEED_SOURCE_COMMAND:
                r = fetch_command(s);
                break;
        case HOST_FEED_SOURCE_HTTP:
                r = fetch_http(s);
                break;
        case HOST_FEED_SOURCE_RANDOM_WALK:
                r = fetch_random_walk(s, step);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return r;

        s->busy = true;
        s->done = done;
        s->userdata = userdata;
        return 0;
}
