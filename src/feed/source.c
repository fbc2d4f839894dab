/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Data sources of a feed (see feed-source.h for the rules): what all types share — the configuration's
 * common keys, the value rule, instances and how a fetch completes. Every fetch completes from the event
 * loop; each type (source-<type>.c) says how it reads. */

#include <stdarg.h>

#include "feed-median.h"
#include "source-internal.h"

static const char * const source_type_table[_FEED_SOURCE_TYPE_MAX] = {
        [FEED_SOURCE_CONSTANT] = "constant",
        [FEED_SOURCE_FILE] = "file",
        [FEED_SOURCE_COMMAND] = "command",
        [FEED_SOURCE_HTTP] = "http",
        [FEED_SOURCE_RANDOM_WALK] = "random_walk",
};

static const SourceVTable * const source_vtables[_FEED_SOURCE_TYPE_MAX] = {
        [FEED_SOURCE_CONSTANT] = &source_constant_vtable,
        [FEED_SOURCE_FILE] = &source_file_vtable,
        [FEED_SOURCE_COMMAND] = &source_command_vtable,
        [FEED_SOURCE_HTTP] = &source_http_vtable,
        [FEED_SOURCE_RANDOM_WALK] = &source_random_walk_vtable,
};

const char *feed_source_type_to_string(FeedSourceType t) {
        return t >= 0 && t < _FEED_SOURCE_TYPE_MAX ? source_type_table[t] : NULL;
}

FeedSourceType feed_source_type_from_string(const char *s) {
        for (int i = 0; s && i < _FEED_SOURCE_TYPE_MAX; i++)
                if (streq(source_type_table[i], s))
                        return i;
        return _FEED_SOURCE_TYPE_INVALID;
}

/* --- the value rule ------------------------------------------------------------------------------------------ */

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

int feed_decimal_scale(const char *text, bool has_multiplier, unsigned exponent, char **ret,
                            const char **ret_reason) {
        const char *p = text, *int_digits, *frac_digits = NULL, *dummy;
        _cleanup_free_ char *digits = NULL, *out = NULL;
        size_t n_int = 0, n_frac = 0, nd, keep;
        bool negative = false, fraction_nonzero = false;
        long exp10 = 0, e;
        char first_dropped = '0';

        assert(ret);
        if (!ret_reason)
                ret_reason = &dummy;

        if (!text) {
                *ret_reason = "no value";
                return -EINVAL;
        }

        while (source_char_is_space(*p))
                p++;
        if (*p == '+' || *p == '-') {
                negative = *p == '-';
                p++;
        }
        int_digits = p;
        while (source_char_is_digit(*p)) {
                p++;
                n_int++;
        }
        if (*p == '.') {
                frac_digits = ++p;
                while (source_char_is_digit(*p)) {
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
                for (; source_char_is_digit(*p); p++, n_exp++)
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
        while (source_char_is_space(*p))
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

        if (!feed_median_fits_int192(out)) {
                *ret_reason = "out of range: observations are signed 192-bit integers";
                return -ERANGE;
        }

        *ret = TAKE_PTR(out);
        return 0;
}

int feed_decimal_format(const char *value, unsigned exponent, char **ret) {
        bool negative;
        const char *digits;
        size_t n, int_len;
        char *s, *p;

        assert(ret);

        if (!sdloop_decimal_is_valid(value))
                return -EINVAL;
        if (exponent == 0) {
                s = strdup(value);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 0;
        }

        negative = value[0] == '-';
        digits = value + negative;
        n = strlen(digits);
        int_len = n > exponent ? n - exponent : 0;

        /* sign, integer digits (at least "0"), point, the fraction padded to @exponent digits. */
        s = malloc(1 + MAX(int_len, (size_t) 1) + 1 + exponent + 1);
        if (!s)
                return -ENOMEM;
        p = s;
        if (negative)
                *p++ = '-';
        if (int_len == 0)
                *p++ = '0';
        else {
                memcpy(p, digits, int_len);
                p += int_len;
        }
        *p++ = '.';
        if (n < exponent) {
                memset(p, '0', exponent - n);
                p += exponent - n;
        }
        memcpy(p, digits + int_len, n - int_len);
        p += n - int_len;
        *p = '\0';
        *ret = s;
        return 0;
}

/* --- configuration -------------------------------------------------------------------------------- */

FeedSourceConfig *feed_source_config_free(FeedSourceConfig *c) {
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

FeedSourceType feed_source_config_get_type(const FeedSourceConfig *c) {
        return c->type;
}

const char *feed_source_config_get_label(const FeedSourceConfig *c) {
        return c->label;
}

bool feed_source_config_get_multiplier(const FeedSourceConfig *c, unsigned *ret_exponent) {
        if (ret_exponent)
                *ret_exponent = c->has_multiplier ? c->exponent : 0;
        return c->has_multiplier;
}

int feed_source_config_parse(json_object *j, const char *field, const char *default_name,
                             FeedSourceConfig **ret, char **ret_error) {
        _cleanup_(feed_source_config_freep) FeedSourceConfig *c = NULL;
        _cleanup_free_ char *f_type = NULL, *f_name = NULL, *f_multiplier = NULL, *f_timeout = NULL;
        char name[256], path[256];
        json_object *v;
        const char *s = NULL;
        int r;

        assert(field);
        assert(ret);

        if (!json_object_is_type(j, json_type_object))
                return feed_field_error(ret_error, field, "expected a data source object such as "
                                        "{\"type\": \"constant\", \"value\": \"1\"}");

        c = new0(FeedSourceConfig, 1);
        f_type = source_field_join(field, "type");
        f_name = source_field_join(field, "name");
        f_multiplier = source_field_join(field, "multiplier");
        f_timeout = source_field_join(field, "timeout_sec");
        if (!c || !f_type || !f_name || !f_multiplier || !f_timeout)
                return -ENOMEM;

        if (!json_object_object_get_ex(j, "type", &v))
                return feed_field_error(ret_error, field, "missing \"type\" (constant, file, command, "
                                        "http or random_walk)");
        r = source_json_get_string(v, f_type, &s, ret_error);
        if (r < 0)
                return r;
        c->type = feed_source_type_from_string(s);
        if (c->type < 0)
                return feed_field_error(ret_error, f_type, "unknown source type %s (constant, file, command, "
                                        "http or random_walk)", SDLOOP_QUOTE(s));

        r = feed_json_check_keys(j, field, source_vtables[c->type]->keys, ret_error);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(j, "name", &v)) {
                r = source_json_get_string(v, f_name, &s, ret_error);
                if (r < 0)
                        return r;
                if (isempty(s))
                        return feed_field_error(ret_error, f_name, "must not be empty");
                c->name = strdup(s);
        } else
                c->name = strdup(strempty(default_name));
        if (!c->name)
                return -ENOMEM;

        if (json_object_object_get_ex(j, "multiplier", &v)) {
                r = source_parse_multiplier(v, f_multiplier, &c->exponent, ret_error);
                if (r < 0)
                        return r;
                c->has_multiplier = true;
        }

        c->timeout_usec = c->type == FEED_SOURCE_HTTP ? FEED_SOURCE_HTTP_TIMEOUT_USEC_DEFAULT :
                FEED_SOURCE_COMMAND_TIMEOUT_USEC_DEFAULT;
        if (json_object_object_get_ex(j, "timeout_sec", &v)) {
                r = feed_json_get_seconds(v, f_timeout, 1000, 3600 * USEC_PER_SEC, &c->timeout_usec, ret_error);
                if (r < 0)
                        return r;
        }

        r = source_vtables[c->type]->parse(c, j, field, ret_error);
        if (r < 0)
                return r;

        /* The label starts every message about the source: escaped and bounded, they stay valid UTF-8 on
         * one line. */
        sdloop_escape_into(name, sizeof name, c->name, SIZE_MAX, 0);
        if (c->type == FEED_SOURCE_FILE)
                r = asprintf(&c->label, "file source %s (%s)", name,
                             sdloop_escape_into(path, sizeof path, c->path, SIZE_MAX, 0));
        else
                r = asprintf(&c->label, "%s source %s", feed_source_type_to_string(c->type), name);
        if (r < 0) {
                c->label = NULL;
                return -ENOMEM;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

/* --- instances ------------------------------------------------------------------------------------ */

void source_buffer_reset(SourceBuffer *b) {
        b->data = mfree(b->data);
        b->size = 0;
        b->too_large = false;
}

int source_buffer_append(SourceBuffer *b, const void *data, size_t n) {
        char *d;

        if (b->size + n > FEED_SOURCE_OUTPUT_MAX) {
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

const char *feed_source_get_label(FeedSource *s) {
        return s->config->label;
}

bool feed_source_is_busy(FeedSource *s) {
        return s->busy;
}

int source_errorf(char **ret, const FeedSource *s, const char *format, ...) {
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

void source_complete(FeedSource *s, const char *value, const char *error) {
        feed_source_done_fn done = s->done;
        void *userdata = s->userdata;

        s->busy = false;
        s->done = NULL;
        s->userdata = NULL;
        if (!value && !error)
                error = "out of memory";
        if (done)
                done(s, value, error, userdata);
}

void source_complete_text(FeedSource *s, const char *what, const char *text) {
        _cleanup_free_ char *value = NULL, *error = NULL;
        const char *reason = NULL;
        int r;

        r = feed_decimal_scale(text, s->config->has_multiplier, s->config->exponent, &value, &reason);
        if (r < 0 && r != -ENOMEM) {
                const char *t = text + strspn(text, " \t\r\n");
                size_t n = strlen(t);

                while (n > 0 && source_char_is_space(t[n - 1]))
                        n--;
                (void) source_errorf(&error, s, "%s%s%s %s", strempty(what), what ? ": " : "", reason,
                                     SDLOOP_QUOTE_N(t, n));
        }
        source_complete(s, value, error);
}

static int on_defer(sd_event_source *es, void *userdata) {
        FeedSource *s = userdata;
        _cleanup_free_ char *value = TAKE_PTR(s->result_value), *error = TAKE_PTR(s->result_error);

        s->defer = sd_event_source_disable_unref(s->defer);
        source_complete(s, value, error);
        return 0;
}

int source_complete_later(FeedSource *s, char *value, char *error) {
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
/* --- life cycle --------------------------------------------------------------------------------------- */

int feed_source_new(const FeedSourceConfig *config, sd_event *event, unsigned oracle, FeedSource **ret) {
        FeedSource *s;

        assert(config);
        assert(event);
        assert(ret);

        s = new0(FeedSource, 1);
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

void feed_source_cancel(FeedSource *s) {
        const SourceVTable *vt;

        if (!s || !s->busy)
                return;
        vt = source_vtables[s->config->type];
        s->defer = sd_event_source_disable_unref(s->defer);
        s->result_value = mfree(s->result_value);
        s->result_error = mfree(s->result_error);
        if (vt->cancel)
                vt->cancel(s);
        s->busy = false;
        s->done = NULL;
        s->userdata = NULL;
}

FeedSource *feed_source_free(FeedSource *s) {
        const SourceVTable *vt;

        if (!s)
                return NULL;
        vt = source_vtables[s->config->type];
        feed_source_cancel(s);
        if (vt->release)
                vt->release(s);
        sd_event_unref(s->event);
        return mfree(s);
}

int feed_source_fetch(FeedSource *s, uint64_t step, feed_source_done_fn done, void *userdata) {
        int r;

        assert(s);
        assert(done);

        if (s->busy)
                return -EBUSY;
        r = source_vtables[s->config->type]->fetch(s, step);
        if (r < 0)
                return r;

        s->busy = true;
        s->done = done;
        s->userdata = userdata;
        return 0;
}
