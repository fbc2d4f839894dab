/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "sdloopd-config-internal.h"

/* --- the position scanner ----------------------------------------------------------------------------- */

/* Runs over text that json-c has accepted in strict mode, so it need not diagnose syntax; it still never
 * reads past the end. */
typedef struct Scanner {
        ConfigFile *f;
        size_t i;
        char **error;
} Scanner;

static void scan_ws(Scanner *s) {
        while (s->i < s->f->size && strchr(" \t\r\n", s->f->text[s->i]))
                s->i++;
}

static void utf8_put(char **q, uint32_t c) {
        char *p = *q;

        if (c < 0x80)
                *p++ = (char) c;
        else if (c < 0x800) {
                *p++ = (char) (0xC0 | (c >> 6));
                *p++ = (char) (0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
                *p++ = (char) (0xE0 | (c >> 12));
                *p++ = (char) (0x80 | ((c >> 6) & 0x3F));
                *p++ = (char) (0x80 | (c & 0x3F));
        } else {
                *p++ = (char) (0xF0 | (c >> 18));
                *p++ = (char) (0x80 | ((c >> 12) & 0x3F));
                *p++ = (char) (0x80 | ((c >> 6) & 0x3F));
                *p++ = (char) (0x80 | (c & 0x3F));
        }
        *q = p;
}

static uint32_t hex4(const char *p) {
        uint32_t v = 0;

        for (int k = 0; k < 4; k++) {
                char c = p[k];

                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (uint32_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (uint32_t) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (uint32_t) (c - 'A' + 10);
        }
        return v;
}

/* A string at s->i (its opening quote), decoded as json-c decodes it, so that paths match the keys json-c
 * gives us. */
static int scan_string(Scanner *s, char **ret) {
        const char *t = s->f->text;
        size_t n = s->f->size, start;
        _cleanup_free_ char *out = NULL;
        char *q;

        assert(s->i < n && t[s->i] == '"');
        start = ++s->i;
        while (s->i < n && t[s->i] != '"')
                s->i += t[s->i] == '\\' ? 2 : 1;
        if (s->i >= n)
                return -EINVAL;

        /* Decoding never makes a string longer than its escaped form. */
        out = malloc(s->i - start + 1);
        if (!out)
                return -ENOMEM;
        q = out;
        for (size_t k = start; k < s->i; k++) {
                if (t[k] != '\\') {
                        *q++ = t[k];
                        continue;
                }
                k++;
                switch (t[k]) {
                case 'b': *q++ = '\b'; break;
                case 'f': *q++ = '\f'; break;
                case 'n': *q++ = '\n'; break;
                case 'r': *q++ = '\r'; break;
                case 't': *q++ = '\t'; break;
                case 'u': {
                        uint32_t c;

                        if (k + 4 >= s->i)
                                return -EINVAL;
                        c = hex4(t + k + 1);
                        k += 4;
                        if (c >= 0xD800 && c < 0xDC00 && k + 6 < s->i && t[k + 1] == '\\' && t[k + 2] == 'u') {
                                uint32_t lo = hex4(t + k + 3);

                                if (lo >= 0xDC00 && lo < 0xE000) {
                                        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                                        k += 6;
                                }
                        }
                        utf8_put(&q, c);
                        break;
                }
                default:
                        *q++ = t[k];
                }
        }
        *q = 0;
        s->i++; /* the closing quote */

        if (ret)
                *ret = TAKE_PTR(out);
        return 0;
}

static int scan_record(Scanner *s, const char *path, size_t key, size_t value, size_t end) {
        Position *p;
        char *copy;

        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        p = reallocarray(s->f->positions, s->f->n_positions + 1, sizeof(Position));
        if (!p) {
                free(copy);
                return -ENOMEM;
        }
        s->f->positions = p;
        s->f->positions[s->f->n_positions++] = (Position) {
                .path = copy,
                .key = key,
                .value = value,
                .end = end,
        };
        return 0;
}

static int scan_value(Scanner *s, const char *path, size_t key);

char *path_member(const char *parent, const char *key) {
        char *p;

        if (isempty(parent))
                return strdup(key);
        if (asprintf(&p, "%s.%s", parent, key) < 0)
                return NULL;
        return p;
}

static int scan_object(Scanner *s, const char *path) {
        _cleanup_strv_free_ char **seen = NULL;
        size_t n_seen = 0;
        int r;

        s->i++; /* { */
        for (;;) {
                _cleanup_free_ char *k = NULL, *child = NULL;
                size_t key;
                char **l;

                scan_ws(s);
                if (s->i >= s->f->size)
                        return -EINVAL;
                if (s->f->text[s->i] == '}') {
                        s->i++;
                        return 0;
                }
                if (s->f->text[s->i] == ',') {
                        s->i++;
                        continue;
                }
                if (s->f->text[s->i] != '"')
                        return -EINVAL;

                key = s->i;
                r = scan_string(s, &k);
                if (r < 0)
                        return r;
                child = path_member(path, k);
                if (!child)
                        return -ENOMEM;

                for (size_t j = 0; j < n_seen; j++)
                        if (streq(seen[j], k)) {
                                unsigned line, column;

                                /* json-c keeps the last one silently; a config that says two things must
                                 * not be read as saying one. */
                                offset_to_line_column(s->f->text, s->f->size, key, &line, &column);
                                if (asprintf(s->error, "%s:%u:%u: %s: duplicate key", s->f->path, line, column,
                                             child) < 0)
                                        return -ENOMEM;
                                return -EINVAL;
                        }
                l = reallocarray(seen, n_seen + 2, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                seen = l;
                seen[n_seen++] = TAKE_PTR(k);
                seen[n_seen] = NULL;

                scan_ws(s);
                if (s->i >= s->f->size || s->f->text[s->i] != ':')
                        return -EINVAL;
                s->i++;
                r = scan_value(s, child, key);
                if (r < 0)
                        return r;
        }
}

static int scan_array(Scanner *s, const char *path) {
        size_t idx = 0;
        int r;

        s->i++; /* [ */
        for (;;) {
                _cleanup_free_ char *child = NULL;

                scan_ws(s);
                if (s->i >= s->f->size)
                        return -EINVAL;
                if (s->f->text[s->i] == ']') {
                        s->i++;
                        return 0;
                }
                if (s->f->text[s->i] == ',') {
                        s->i++;
                        continue;
                }
                if (asprintf(&child, "%s[%zu]", path, idx++) < 0)
                        return -ENOMEM;
                r = scan_value(s, child, SIZE_MAX);
                if (r < 0)
                        return r;
        }
}

static int scan_value(Scanner *s, const char *path, size_t key) {
        size_t start, slot;
        int r;

        scan_ws(s);
        if (s->i >= s->f->size)
                return -EINVAL;
        start = s->i;

        /* Record before descending, so that parents come before children; fix up the end afterwards. */
        r = scan_record(s, path, key, start, start);
        if (r < 0)
                return r;
        slot = s->f->n_positions - 1;

        switch (s->f->text[s->i]) {
        case '{':
                r = scan_object(s, path);
                break;
        case '[':
                r = scan_array(s, path);
                break;
        case '"':
                r = scan_string(s, NULL);
                break;
        default:
                /* Numbers, true, false, null. */
                while (s->i < s->f->size && !strchr(",]} \t\r\n", s->f->text[s->i]))
                        s->i++;
                r = 0;
        }
        if (r < 0)
                return r;

        s->f->positions[slot].end = s->i;
        return 0;
}

int config_file_scan(ConfigFile *f, char **error) {
        Scanner s = { .f = f, .error = error };

        return scan_value(&s, "", SIZE_MAX);
}
