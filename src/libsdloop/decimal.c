/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The scalar rules of the wire contract: decimal big integers, UUIDs and JSON text. */

#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <string.h>

#include "macro.h"
#include "sdloop-codec.h"

static bool char_is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool char_is_hex(char c) {
        return char_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool char_is_json_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool sdloop_decimal_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;

        if (*s == '-') {
                s++;
                /* "-0" would give zero two spellings. */
                if (*s == '0')
                        return false;
        }

        n = strspn(s, "0123456789");
        if (n == 0 || s[n] != '\0' || n > SDLOOP_DECIMAL_DIGITS_MAX)
                return false;

        /* One spelling per number: no leading zeros except for "0" itself. */
        return !(s[0] == '0' && n > 1);
}

int sdloop_decimal_to_i128(const char *s, __int128 *ret) {
        const unsigned __int128 max = ((unsigned __int128) 1 << 127) - 1;
        unsigned __int128 v = 0, limit;
        bool negative;

        assert(ret);

        if (!sdloop_decimal_is_valid(s))
                return -EINVAL;

        negative = *s == '-';
        if (negative)
                s++;

        /* Accumulate the magnitude unsigned, so that INT128_MIN (whose magnitude is max + 1) fits. */
        limit = negative ? max + 1 : max;
        for (; *s; s++) {
                unsigned d = (unsigned) (*s - '0');

                if (v > (limit - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }

        if (negative)
                *ret = v == max + 1 ? -(__int128) max - 1 : -(__int128) v;
        else
                *ret = (__int128) v;
        return 0;
}

char *sdloop_decimal_from_i128(__int128 v, char buf[static 41]) {
        /* Negate in unsigned arithmetic: -INT128_MIN does not fit in __int128. */
        unsigned __int128 u = v < 0 ? -(unsigned __int128) v : (unsigned __int128) v;
        char tmp[40];
        size_t i = 0, j = 0;

        assert(buf);

        do {
                tmp[i++] = (char) ('0' + (unsigned) (u % 10));
                u /= 10;
        } while (u > 0);

        if (v < 0)
                buf[j++] = '-';
        while (i > 0)
                buf[j++] = tmp[--i];
        buf[j] = '\0';

        return buf;
}

int sdloop_decimal_compare(const char *a, const char *b) {
        bool neg_a, neg_b;
        size_t la, lb;
        int c;

        assert(sdloop_decimal_is_valid(a));
        assert(sdloop_decimal_is_valid(b));

        neg_a = *a == '-';
        neg_b = *b == '-';
        if (neg_a != neg_b)
                return neg_a ? -1 : 1;
        if (neg_a) {
                a++;
                b++;
        }

        /* Without leading zeros, a longer magnitude is a larger one; equal lengths compare lexically. */
        la = strlen(a);
        lb = strlen(b);
        if (la != lb)
                c = la < lb ? -1 : 1;
        else {
                c = strcmp(a, b);
                c = c < 0 ? -1 : c > 0 ? 1 : 0;
        }

        return neg_a ? -c : c;
}

bool sdloop_uuid_is_valid(const char *s) {
        if (!s || strlen(s) != 36)
                return false;

        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!char_is_hex(s[i]))
                        return false;
        }

        return true;
}

static void json_tokener_freep(struct json_tokener **tok) {
        if (*tok)
                json_tokener_free(*tok);
}

static void json_object_putp(struct json_object **o) {
        json_object_put(*o);
}

/* Returns NULL if s is one complete JSON value, else a static description of what is wrong. */
static const char *json_check(const char *s) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        enum json_tokener_error e;
        size_t len;

        if (isempty(s))
                return "empty";

        len = strlen(s);
        if (len >= INT_MAX)
                return "too long";

        tok = json_tokener_new();
        if (!tok)
                return "out of memory";
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);

        /* Hand over the terminating NUL too: it tells the tokener that the input ends here, so that a
         * bare "1" or "true" completes instead of waiting for more digits or letters. A NULL object
         * with success is the JSON value null. */
        o = json_tokener_parse_ex(tok, s, (int) len + 1);
        e = json_tokener_get_error(tok);
        if (e != json_tokener_success)
                return json_tokener_error_desc(e);

        /* Strict mode already refuses most trailing text; make sure nothing but white space is left. */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!char_is_json_space(s[i]))
                        return "trailing garbage after JSON value";

        return NULL;
}

bool sdloop_json_is_valid(const char *s, const char **ret_reason) {
        const char *reason;

        reason = json_check(s);
        if (reason && ret_reason)
                *ret_reason = reason;

        return !reason;
}
