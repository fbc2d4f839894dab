/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The field helpers: typed values read from a file's JSON, and errors that name the field. */

#include <math.h>
#include <stdarg.h>

#include "sdloopd-config-internal.h"

/* --- field helpers --------------------------------------------------------------------------------------- */

static int field_errorv(Parser *p, const char *field, PositionKind kind, const char *format, va_list ap) {
        if (*p->error)
                return -EINVAL;
        *p->error = config_file_verror(p->f, field, kind, format, ap);
        return *p->error ? -EINVAL : -ENOMEM;
}

int field_error(Parser *p, const char *field, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = field_errorv(p, field, AT_VALUE, format, ap);
        va_end(ap);
        return r;
}

int key_error(Parser *p, const char *field, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = field_errorv(p, field, AT_KEY, format, ap);
        va_end(ap);
        return r;
}

/* What the value looks like, for "got …": the literal text from the file, shortened. */
static char *describe(Parser *p, const char *field) {
        const Position *pos = config_file_find(p->f, field);
        size_t len;
        char *s;

        if (!pos)
                return strdup("?");
        len = pos->end - pos->value;
        if (len > 40) {
                size_t cut = 37;

                /* Not in the middle of a character: the message must stay valid UTF-8 for D-Bus. */
                while (cut > 0 && ((unsigned char) p->f->text[pos->value + cut] & 0xC0) == 0x80)
                        cut--;
                if (asprintf(&s, "%.*s…", (int) cut, p->f->text + pos->value) < 0)
                        return NULL;
                return s;
        }
        return strndup(p->f->text + pos->value, len);
}

int type_error(Parser *p, const char *field, const char *expected) {
        _cleanup_free_ char *got = describe(p, field);

        if (!got)
                return -ENOMEM;
        return field_error(p, field, "expected %s, got %s", expected, got);
}

static const char *literal(Parser *p, const char *field, size_t *ret_len) {
        const Position *pos = config_file_find(p->f, field);

        if (!pos)
                return NULL;
        *ret_len = pos->end - pos->value;
        return p->f->text + pos->value;
}

int get_string(Parser *p, const char *field, json_object *v, const char *expected, const char **ret) {
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return type_error(p, field, expected ?: "a string");
        s = json_object_get_string(v);
        if ((size_t) json_object_get_string_len(v) != strlen(s))
                return field_error(p, field, "contains a NUL character");
        *ret = s;
        return 0;
}

int get_bool(Parser *p, const char *field, json_object *v, bool *ret) {
        if (!json_object_is_type(v, json_type_boolean))
                return type_error(p, field, "true or false");
        *ret = json_object_get_boolean(v);
        return 0;
}

/* An integer from its literal text: json-c saturates what does not fit. */
int get_uint64(Parser *p, const char *field, json_object *v, const char *expected, uint64_t min,
               uint64_t max, uint64_t *ret) {
        char buf[32], *end;
        const char *lit;
        size_t len;
        unsigned long long u;

        if (!json_object_is_type(v, json_type_int))
                return type_error(p, field, expected);
        lit = literal(p, field, &len);
        if (!lit)
                return -EINVAL;
        if (len >= sizeof(buf))
                return field_error(p, field, "%.*s is out of range (%" PRIu64 "…%" PRIu64 ")", (int) len, lit,
                                   min, max);
        memcpy(buf, lit, len);
        buf[len] = 0;
        if (buf[0] == '-')
                return field_error(p, field, "expected %s, got %s", expected, buf);
        errno = 0;
        u = strtoull(buf, &end, 10);
        if (errno == ERANGE || *end || u < min || u > max)
                return field_error(p, field, "%s is out of range (%" PRIu64 "…%" PRIu64 ")", buf, min, max);
        *ret = u;
        return 0;
}

/* Seconds as a JSON number (integer or fraction), to µs. */
int get_seconds(Parser *p, const char *field, json_object *v, bool allow_zero, uint64_t *ret) {
        const char *expected = allow_zero ? "a number of seconds" : "a number of seconds greater than 0";
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                return type_error(p, field, expected);
        if (json_object_is_type(v, json_type_int)) {
                uint64_t u;
                int r;

                if (!allow_zero && json_object_get_int64(v) == 0)
                        return type_error(p, field, expected);
                r = get_uint64(p, field, v, expected, allow_zero ? 0 : 1, UINT64_MAX / USEC_PER_SEC, &u);
                if (r < 0)
                        return r;
                *ret = u * USEC_PER_SEC;
                return 0;
        }

        d = json_object_get_double(v);
        if (!isfinite(d) || d < 0 || (!allow_zero && d <= 0))
                return type_error(p, field, expected);
        if (d * (double) USEC_PER_SEC >= (double) UINT64_MAX)
                return field_error(p, field, "%g seconds is too long", d);
        *ret = (uint64_t) (d * (double) USEC_PER_SEC + 0.5);
        if (*ret == 0 && !allow_zero)
                return field_error(p, field, "%g seconds is less than a microsecond", d);
        return 0;
}

int get_strv(Parser *p, const char *field, json_object *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n;

        if (!json_object_is_type(v, json_type_array))
                return type_error(p, field, "an array of strings");
        n = json_object_array_length(v);
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *f = NULL;
                const char *s;
                int r;

                if (asprintf(&f, "%s[%zu]", field, i) < 0)
                        return -ENOMEM;
                r = get_string(p, f, json_object_array_get_idx(v, i), "a string", &s);
                if (r < 0)
                        return r;
                l[i] = strdup(s);
                if (!l[i])
                        return -ENOMEM;
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

static char *known_keys(const char * const *keys) {
        size_t n = 0;
        char *s, *q;

        for (const char * const *k = keys; *k; k++)
                n += strlen(*k) + 2;
        s = malloc(n + 1);
        if (!s)
                return NULL;
        q = s;
        for (const char * const *k = keys; *k; k++)
                q += sprintf(q, "%s%s", k == keys ? "" : ", ", *k);
        *q = 0;
        return s;
}

int unknown_key(Parser *p, const char *field, const char * const *keys) {
        _cleanup_free_ char *known = known_keys(keys);

        if (!known)
                return -ENOMEM;
        return key_error(p, field, "unknown key (known: %s)", known);
}

bool key_is_known(const char *key, const char * const *keys) {
        for (const char * const *k = keys; *k; k++)
                if (streq(*k, key))
                        return true;
        return false;
}

