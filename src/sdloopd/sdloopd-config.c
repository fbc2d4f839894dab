/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Reading sdloopd's JSON configuration. json-c parses (strictly: no comments, no trailing commas, valid
 * UTF-8); a small scanner of our own then walks the same text once to learn where every key and value
 * sits, so that an error can name its file, line and column, and to refuse duplicate keys, which json-c
 * would silently resolve to the last one. Integers are read from their literal text, so that an
 * out-of-range number is an error rather than a saturated value. */

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "config.h"
#include "listen-address.h"
#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-log.h"
#include "sdloopd-config.h"

#define CONFIG_FILE_MAX (4U * 1024U * 1024U)
#define PLUGIN_NAME_MAX 64U

/* --- files and positions ------------------------------------------------------------------------------- */

typedef struct Position {
        char *path;     /* "plugins.ledger.args[2]" */
        size_t key;     /* offset of the key's opening quote; SIZE_MAX for array elements and the root */
        size_t value;   /* offset of the value's first character */
        size_t end;     /* offset just past the value */
} Position;

struct ConfigFile {
        char *path;
        char *text;
        size_t size;
        json_object *root;
        Position *positions;
        size_t n_positions;
};

static ConfigFile *config_file_free(ConfigFile *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_positions; i++)
                free(f->positions[i].path);
        free(f->positions);
        json_object_put(f->root);
        free(f->text);
        free(f->path);
        return mfree(f);
}

static void config_file_freep(ConfigFile **f) {
        config_file_free(*f);
}

const char *config_file_get_path(const ConfigFile *f) {
        return f ? f->path : NULL;
}

static void offset_to_line_column(const char *text, size_t size, size_t offset, unsigned *ret_line,
                                  unsigned *ret_column) {
        unsigned line = 1, column = 1;

        offset = MIN(offset, size);
        for (size_t i = 0; i < offset; i++) {
                if (text[i] == '\n') {
                        line++;
                        column = 1;
                } else if (((unsigned char) text[i] & 0xC0) != 0x80)
                        /* Columns count characters, not bytes: skip UTF-8 continuation bytes. */
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

typedef enum PositionKind {
        AT_VALUE,
        AT_KEY,
} PositionKind;

static const Position *config_file_find(const ConfigFile *f, const char *path) {
        for (size_t i = 0; f && i < f->n_positions; i++)
                if (streq(f->positions[i].path, path))
                        return f->positions + i;
        return NULL;
}

/* The offset for @field, or of the nearest ancestor that is in the file. */
static size_t config_file_locate(const ConfigFile *f, const char *field, PositionKind kind) {
        _cleanup_free_ char *p = strdup(field);
        const Position *pos;

        if (!p)
                return 0;
        for (;;) {
                char *cut;

                pos = config_file_find(f, p);
                if (pos)
                        return kind == AT_KEY && pos->key != SIZE_MAX ? pos->key : pos->value;
                /* Drop the last ".member" or "[index]". */
                cut = strrchr(p, '.');
                char *bracket = strrchr(p, '[');
                if (bracket && (!cut || bracket > cut))
                        cut = bracket;
                if (!cut)
                        break;
                *cut = 0;
                kind = AT_VALUE; /* an ancestor: point at the object it is missing from */
        }
        pos = config_file_find(f, "");
        return pos ? pos->value : 0;
}

static char *config_file_verror(const ConfigFile *f, const char *field, PositionKind kind, const char *format,
                                va_list ap) {
        char field_buf[256], msg_buf[SDLOOP_ERROR_MESSAGE_MAX];
        _cleanup_free_ char *msg = NULL;
        unsigned line, column;
        char *s;

        if (vasprintf(&msg, format, ap) < 0)
                return NULL;
        offset_to_line_column(f->text, f->size, config_file_locate(f, field, kind), &line, &column);
        /* Both carry what the file says (keys, names, values): escaped and bounded, the error stays one
         * line of valid UTF-8. */
        if (asprintf(&s, "%s:%u:%u: %s: %s", f->path, line, column,
                     sdloop_escape_into(field_buf, sizeof field_buf, field, SIZE_MAX, 0),
                     sdloop_escape_into(msg_buf, sizeof msg_buf, msg, SIZE_MAX, 0)) < 0)
                return NULL;
        return s;
}

char *config_file_error(const ConfigFile *f, const char *field, const char *format, ...) {
        va_list ap;
        char *s;

        va_start(ap, format);
        s = config_file_verror(f, field, AT_VALUE, format, ap);
        va_end(ap);
        return s;
}

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

static char *path_member(const char *parent, const char *key) {
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

/* --- reading a file ------------------------------------------------------------------------------------- */

static int errorf(char **error, const char *format, ...) _printf_(2, 3);
static int errorf(char **error, const char *format, ...) {
        va_list ap;
        int r;

        if (*error)
                return -EINVAL;
        va_start(ap, format);
        r = vasprintf(error, format, ap);
        va_end(ap);
        if (r < 0) {
                *error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

static int config_file_read(const char *path, ConfigFile **ret, char **error) {
        _cleanup_(config_file_freep) ConfigFile *f = NULL;
        _cleanup_fclose_ FILE *file = NULL;
        struct json_tokener *tok;
        Scanner s;
        size_t n;
        int r;

        f = new0(ConfigFile, 1);
        if (!f)
                return -ENOMEM;
        f->path = strdup(path);
        if (!f->path)
                return -ENOMEM;

        file = fopen(path, "re");
        if (!file) {
                r = -errno;
                errorf(error, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        f->text = malloc(CONFIG_FILE_MAX + 1);
        if (!f->text)
                return -ENOMEM;
        n = fread(f->text, 1, CONFIG_FILE_MAX + 1, file);
        if (ferror(file)) {
                r = -EIO;
                errorf(error, "%s: cannot read: %s", path, strerror(EIO));
                return r;
        }
        if (n > CONFIG_FILE_MAX)
                return errorf(error, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        f->text[n] = 0;
        f->size = n;

        if (memchr(f->text, 0, n)) {
                unsigned line, column;

                offset_to_line_column(f->text, n, (size_t) ((char *) memchr(f->text, 0, n) - f->text), &line, &column);
                return errorf(error, "%s:%u:%u: NUL byte in the file", path, line, column);
        }

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        f->root = json_tokener_parse_ex(tok, f->text, (int) n);
        if (!f->root) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                size_t end = json_tokener_get_parse_end(tok);
                unsigned line, column;

                json_tokener_free(tok);
                if (e == json_tokener_continue || e == json_tokener_success) {
                        /* Ran out of text: point just past the last character. */
                        offset_to_line_column(f->text, n, n, &line, &column);
                        return errorf(error, "%s:%u:%u: syntax error: unexpected end of file", path, line, column);
                }
                offset_to_line_column(f->text, n, end, &line, &column);
                return errorf(error, "%s:%u:%u: syntax error: %s", path, line, column, json_tokener_error_desc(e));
        }
        json_tokener_free(tok);

        s = (Scanner) { .f = f, .error = error };
        r = scan_value(&s, "", SIZE_MAX);
        if (r == -EINVAL && !*error)
                errorf(error, "%s: cannot make sense of the file", path);
        if (r < 0)
                return r;

        if (!json_object_is_type(f->root, json_type_object)) {
                unsigned line, column;

                offset_to_line_column(f->text, n, f->positions[0].value, &line, &column);
                return errorf(error, "%s:%u:%u: expected a JSON object at the top level", path, line, column);
        }

        *ret = TAKE_PTR(f);
        return 0;
}

/* --- field helpers --------------------------------------------------------------------------------------- */

typedef struct Parser {
        ConfigFile *f;
        char **error;
} Parser;

static int field_errorv(Parser *p, const char *field, PositionKind kind, const char *format, va_list ap) {
        if (*p->error)
                return -EINVAL;
        *p->error = config_file_verror(p->f, field, kind, format, ap);
        return *p->error ? -EINVAL : -ENOMEM;
}

static int field_error(Parser *p, const char *field, const char *format, ...) _printf_(3, 4);
static int field_error(Parser *p, const char *field, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = field_errorv(p, field, AT_VALUE, format, ap);
        va_end(ap);
        return r;
}

static int key_error(Parser *p, const char *field, const char *format, ...) _printf_(3, 4);
static int key_error(Parser *p, const char *field, const char *format, ...) {
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

static int type_error(Parser *p, const char *field, const char *expected) {
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

static int get_string(Parser *p, const char *field, json_object *v, const char *expected, const char **ret) {
        const char *s;

        if (!json_object_is_type(v, json_type_string))
                return type_error(p, field, expected ?: "a string");
        s = json_object_get_string(v);
        if ((size_t) json_object_get_string_len(v) != strlen(s))
                return field_error(p, field, "contains a NUL character");
        *ret = s;
        return 0;
}

static int get_bool(Parser *p, const char *field, json_object *v, bool *ret) {
        if (!json_object_is_type(v, json_type_boolean))
                return type_error(p, field, "true or false");
        *ret = json_object_get_boolean(v);
        return 0;
}

/* An integer from its literal text: json-c saturates what does not fit. */
static int get_uint64(Parser *p, const char *field, json_object *v, const char *expected, uint64_t min,
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
static int get_seconds(Parser *p, const char *field, json_object *v, bool allow_zero, uint64_t *ret) {
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

/* Bytes: an integer, or a string with a K, M, G or T suffix (base 1024, as systemd's MemoryMax=), or
 * "infinity" (no limit, 0). */
static int get_bytes(Parser *p, const char *field, json_object *v, uint64_t *ret) {
        static const char expected[] = "bytes (an integer, or a string such as \"64M\" or \"1G\", or \"infinity\")";
        const char *s;
        char *end;
        unsigned long long u;
        uint64_t mult = 1;

        if (json_object_is_type(v, json_type_int))
                return get_uint64(p, field, v, expected, 1, UINT64_MAX - 1, ret);
        if (!json_object_is_type(v, json_type_string))
                return type_error(p, field, expected);
        s = json_object_get_string(v);
        if (streq(s, "infinity")) {
                *ret = 0;
                return 0;
        }
        if (!(s[0] >= '0' && s[0] <= '9'))
                return type_error(p, field, expected);
        errno = 0;
        u = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return field_error(p, field, "\"%s\" is too large", s);
        switch (*end) {
        case 0:
                break;
        case 'K': mult = 1ULL << 10; end++; break;
        case 'M': mult = 1ULL << 20; end++; break;
        case 'G': mult = 1ULL << 30; end++; break;
        case 'T': mult = 1ULL << 40; end++; break;
        default:
                return type_error(p, field, expected);
        }
        if (*end)
                return type_error(p, field, expected);
        if (u == 0)
                return field_error(p, field, "must be greater than 0");
        if (u > (UINT64_MAX - 1) / mult)
                return field_error(p, field, "\"%s\" is too large", s);
        *ret = u * mult;
        return 0;
}

/* "50%" (of one CPU; more than 100% for several) → µs of CPU time per second. */
static int get_cpu_quota(Parser *p, const char *field, json_object *v, uint64_t *ret) {
        static const char expected[] = "a percentage such as \"50%\"";
        const char *s;
        char *end;
        double d;

        if (!json_object_is_type(v, json_type_string))
                return type_error(p, field, expected);
        s = json_object_get_string(v);
        if (!(s[0] >= '0' && s[0] <= '9'))
                return type_error(p, field, expected);
        errno = 0;
        d = strtod(s, &end);
        if (errno == ERANGE || !streq(end, "%") || !isfinite(d))
                return type_error(p, field, expected);
        if (d <= 0)
                return field_error(p, field, "must be greater than 0%%");
        if (d > 100000)
                return field_error(p, field, "%s is more than 1000 CPUs", s);
        *ret = (uint64_t) (d * (double) USEC_PER_SEC / 100.0 + 0.5);
        if (*ret == 0)
                return field_error(p, field, "%s is less than 1 µs per second", s);
        return 0;
}

static int get_strv(Parser *p, const char *field, json_object *v, char ***ret) {
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

static bool env_name_is_valid(const char *s) {
        if (isempty(s) || (s[0] >= '0' && s[0] <= '9') || strlen(s) > 255)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                        return false;
        return true;
}

static bool env_name_is_reserved(const char *s) {
        static const char * const reserved[] = {
                "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                "SDLOOP_PLUGIN", "JOURNAL_STREAM",
        };

        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (streq(s, reserved[i]))
                        return true;
        return false;
}

static int env_set(char ***env, const char *name, const char *value) {
        size_t len = strlen(name), n = strv_length(*env);
        char *kv, **l;

        if (asprintf(&kv, "%s=%s", name, value) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (strncmp((*env)[i], name, len) == 0 && (*env)[i][len] == '=') {
                        free((*env)[i]);
                        (*env)[i] = kv;
                        return 0;
                }
        l = reallocarray(*env, n + 2, sizeof(char *));
        if (!l) {
                free(kv);
                return -ENOMEM;
        }
        l[n] = kv;
        l[n + 1] = NULL;
        *env = l;
        return 0;
}

static int get_environment(Parser *p, const char *field, json_object *v, char ***env) {
        int r;

        if (!json_object_is_type(v, json_type_object))
                return type_error(p, field, "an object of NAME: \"value\"");
        json_object_object_foreach(v, name, value) {
                _cleanup_free_ char *f = path_member(field, name);
                const char *s;

                if (!f)
                        return -ENOMEM;
                if (!env_name_is_valid(name))
                        return key_error(p, f, "not a valid environment variable name");
                if (env_name_is_reserved(name))
                        return key_error(p, f, "reserved: sdloopd sets it for the plugin");
                r = get_string(p, f, value, "a string", &s);
                if (r < 0)
                        return r;
                r = env_set(env, name, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool kind_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 64)
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
                        return false;
        return true;
}

bool daemon_plugin_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > PLUGIN_NAME_MAX)
                return false;
        if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
                return false;
        for (const char *c = name + 1; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
                        return false;
        return true;
}

/* A user name as useradd would take it, or a numeric uid. */
static bool user_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 31)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_' ||
              (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (const char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      *c == '_' || *c == '-' || *c == '.'))
                        return false;
        return true;
}

static const char *libexecdir(void) {
        const char *e = getenv("SDLOOP_LIBEXECDIR");

        /* For running from a build tree: bare binary names are looked up there instead. */
        return !isempty(e) ? e : SDLOOP_LIBEXECDIR;
}

static int get_binary(Parser *p, const char *field, json_object *v, char **ret) {
        _cleanup_free_ char *path = NULL;
        const char *s;
        struct stat st;
        int r;

        r = get_string(p, field, v, "a path to the plugin's executable", &s);
        if (r < 0)
                return r;
        if (isempty(s))
                return field_error(p, field, "empty path");
        if (s[0] == '/')
                path = strdup(s);
        else if (strchr(s, '/'))
                return field_error(p, field, "\"%s\" is neither an absolute path nor a bare name (looked up in %s)",
                                   s, libexecdir());
        else if (asprintf(&path, "%s/%s", libexecdir(), s) < 0)
                path = NULL;
        if (!path)
                return -ENOMEM;

        if (stat(path, &st) < 0)
                return field_error(p, field, "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return field_error(p, field, "%s is not a regular file", path);
        if (access(path, X_OK) < 0)
                return field_error(p, field, "%s is not executable: %s", path, strerror(errno));

        free(*ret);
        *ret = TAKE_PTR(path);
        return 0;
}

/* --- plugin settings ---------------------------------------------------------------------------------- */

typedef enum SettingsContext {
        IN_DEFAULTS,
        IN_PLUGIN,
} SettingsContext;

static int parse_relayer(Parser *p, const char *field, json_object *v, char **ret) {
        _cleanup_free_ char *text = NULL;

        if (!json_object_is_type(v, json_type_object))
                return type_error(p, field, "an object with \"config\"");
        json_object_object_foreach(v, key, value) {
                _cleanup_free_ char *f = path_member(field, key);

                if (!f)
                        return -ENOMEM;
                if (!streq(key, "config"))
                        return key_error(p, f, "unknown key (known: config)");
                /* A string is the config text itself; anything else is passed as its JSON text. */
                if (json_object_is_type(value, json_type_string)) {
                        const char *s;
                        int r = get_string(p, f, value, NULL, &s);

                        if (r < 0)
                                return r;
                        text = strdup(s);
                } else
                        text = strdup(json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
                if (!text)
                        return -ENOMEM;
        }
        if (!text) {
                _cleanup_free_ char *f = path_member(field, "config");

                return f ? field_error(p, f, "missing: the configuration for PluginRelayer.NewRelayer") : -ENOMEM;
        }
        *ret = TAKE_PTR(text);
        return 0;
}

/* A SHA-256 as sha256sum prints it: 64 hex digits, kept in lower case. */
static int get_sha256(Parser *p, const char *field, json_object *v, char **ret) {
        const char *s;
        char *c;
        int r;

        r = get_string(p, field, v, "the SHA-256 of the binary (64 hex digits)", &s);
        if (r < 0)
                return r;
        if (strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
                return type_error(p, field, "the SHA-256 of the binary (64 hex digits)");
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        for (char *q = c; *q; q++)
                if (*q >= 'A' && *q <= 'F')
                        *q = (char) (*q - 'A' + 'a');
        free(*ret);
        *ret = c;
        return 0;
}

static const char * const settings_keys[] = {
        "kind", "binary", "binary_sha256", "args", "environment", "restart", "restart_sec", "start_limit_burst",
        "start_limit_interval_sec", "watchdog_sec", "call_timeout_sec", "probe_interval_sec", "probe_timeout_sec",
        "probe_failures", "memory_max", "tasks_max", "cpu_quota", "sandbox", "dynamic_user", "user", "relayer", NULL,
};

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

static int unknown_key(Parser *p, const char *field, const char * const *keys) {
        _cleanup_free_ char *known = known_keys(keys);

        if (!known)
                return -ENOMEM;
        return key_error(p, field, "unknown key (known: %s)", known);
}

static bool key_is_known(const char *key, const char * const *keys) {
        for (const char * const *k = keys; *k; k++)
                if (streq(*k, key))
                        return true;
        return false;
}

static const char * const metrics_keys[] = { "listen", "scrape_timeout_sec", NULL };

static int parse_metrics(Parser *p, const char *field, json_object *v, DaemonConfig *c) {
        int r;

        if (!json_object_is_type(v, json_type_object))
                return type_error(p, field, "an object");
        json_object_object_foreach(v, key, value) {
                _cleanup_free_ char *sub = path_member(field, key);

                if (!sub)
                        return -ENOMEM;
                if (!key_is_known(key, metrics_keys))
                        return unknown_key(p, sub, metrics_keys);
                if (streq(key, "listen")) {
                        const char *s;

                        r = get_string(p, sub, value, "an address and port, as \"127.0.0.1:9466\" or \"[::1]:9466\"", &s);
                        if (r < 0)
                                return r;
                        ListenAddress a;

                        if (listen_address_parse(s, &a) < 0)
                                return field_error(p, sub, "expected a numeric address and port, as "
                                                   "\"127.0.0.1:9466\" or \"[::1]:9466\", got \"%s\"", s);
                        r = free_and_strdup(&c->metrics_listen, s);
                } else
                        r = get_seconds(p, sub, value, false, &c->metrics_timeout_usec);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Apply the keys of @obj (at @prefix in p->f) to @pc. */
static int parse_settings(Parser *p, const char *prefix, json_object *obj, SettingsContext ctx,
                          DaemonPluginConfig *pc) {
        HostPluginSettings *s = &pc->settings;
        int r;

        if (!json_object_is_type(obj, json_type_object))
                return type_error(p, prefix, "an object");

        json_object_object_foreach(obj, key, v) {
                _cleanup_free_ char *f = path_member(prefix, key);
                const char *str;
                uint64_t u;
                bool b = false;

                if (!f)
                        return -ENOMEM;
                if (!key_is_known(key, settings_keys))
                        return unknown_key(p, f, settings_keys);

                if (ctx == IN_DEFAULTS && (streq(key, "kind") || streq(key, "binary") || streq(key, "binary_sha256") ||
                                           streq(key, "relayer")))
                        return key_error(p, f, "not allowed in defaults: every plugin names its own");

                if (streq(key, "kind")) {
                        r = get_string(p, f, v, "a plugin kind such as \"relayer\"", &str);
                        if (r < 0)
                                return r;
                        if (!kind_is_valid(str))
                                return field_error(p, f, "\"%s\" is not a valid kind ([a-z0-9_-]{1,64})", str);
                        r = free_and_strdup(&s->kind, str);
                } else if (streq(key, "binary"))
                        r = get_binary(p, f, v, &s->binary);
                else if (streq(key, "binary_sha256"))
                        r = get_sha256(p, f, v, &s->binary_sha256);
                else if (streq(key, "args"))
                        r = get_strv(p, f, v, &s->args);
                else if (streq(key, "environment"))
                        r = get_environment(p, f, v, &s->environment);
                else if (streq(key, "restart")) {
                        HostRestart x;

                        r = get_string(p, f, v, "one of \"no\", \"on-failure\", \"on-abnormal\", \"always\"", &str);
                        if (r < 0)
                                return r;
                        x = host_restart_from_string(str);
                        if (x < 0)
                                return field_error(p, f, "expected one of \"no\", \"on-failure\", \"on-abnormal\", "
                                                   "\"always\", got \"%s\"", str);
                        s->restart = x;
                        r = 0;
                } else if (streq(key, "restart_sec"))
                        r = get_seconds(p, f, v, true, &s->restart_usec);
                else if (streq(key, "start_limit_burst")) {
                        r = get_uint64(p, f, v, "a number of starts", 0, 1000000, &u);
                        if (r >= 0)
                                s->start_limit_burst = (unsigned) u;
                } else if (streq(key, "start_limit_interval_sec"))
                        r = get_seconds(p, f, v, true, &s->start_limit_interval_usec);
                else if (streq(key, "watchdog_sec"))
                        r = get_seconds(p, f, v, true, &s->watchdog_usec);
                else if (streq(key, "call_timeout_sec"))
                        r = get_seconds(p, f, v, false, &s->call_timeout_usec);
                else if (streq(key, "probe_interval_sec"))
                        r = get_seconds(p, f, v, true, &s->probe_interval_usec);
                else if (streq(key, "probe_timeout_sec"))
                        r = get_seconds(p, f, v, false, &s->probe_timeout_usec);
                else if (streq(key, "probe_failures")) {
                        r = get_uint64(p, f, v, "a number of probes", 1, 1000, &u);
                        if (r >= 0)
                                s->probe_failures = (unsigned) u;
                }
                else if (streq(key, "memory_max"))
                        r = get_bytes(p, f, v, &s->memory_max);
                else if (streq(key, "tasks_max")) {
                        if (json_object_is_type(v, json_type_string) && streq(json_object_get_string(v), "infinity")) {
                                s->tasks_max = 0;
                                r = 0;
                        } else
                                r = get_uint64(p, f, v, "a number of tasks or \"infinity\"", 1, UINT64_MAX - 1,
                                               &s->tasks_max);
                } else if (streq(key, "cpu_quota"))
                        r = get_cpu_quota(p, f, v, &s->cpu_quota_per_sec_usec);
                else if (streq(key, "sandbox"))
                        r = get_bool(p, f, v, &s->sandbox);
                else if (streq(key, "dynamic_user")) {
                        r = get_bool(p, f, v, &b);
                        if (r >= 0)
                                pc->dynamic_user = b;
                } else if (streq(key, "user")) {
                        r = get_string(p, f, v, "a user name", &str);
                        if (r < 0)
                                return r;
                        if (!user_is_valid(str))
                                return field_error(p, f, "\"%s\" is not a valid user name", str);
                        r = free_and_strdup(&s->user, str);
                } else if (streq(key, "relayer")) {
                        free(pc->relayer_config);
                        pc->relayer_config = NULL;
                        r = parse_relayer(p, f, v, &pc->relayer_config);
                } else
                        assert(false);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void plugin_config_done(DaemonPluginConfig *pc) {
        host_plugin_settings_done(&pc->settings);
        pc->relayer_config = mfree(pc->relayer_config);
}

static void plugin_config_init(DaemonPluginConfig *pc) {
        *pc = (DaemonPluginConfig) { .dynamic_user = -1 };
        host_plugin_settings_init(&pc->settings);
}

/* --- the whole configuration ---------------------------------------------------------------------------- */

typedef struct Loader {
        DaemonConfig *c;
        char **error;
        DaemonScope scope;
        /* "defaults" of the main file, applied under every plugin. */
        ConfigFile *defaults_file;
        json_object *defaults;
} Loader;

static int loader_add_file(Loader *l, ConfigFile *f) {
        ConfigFile **files = reallocarray(l->c->files, l->c->n_files + 1, sizeof(ConfigFile *));

        if (!files)
                return -ENOMEM;
        l->c->files = files;
        l->c->files[l->c->n_files++] = f;
        return 0;
}

static int position_describe(const ConfigFile *f, const char *field, char **ret) {
        unsigned line, column;

        offset_to_line_column(f->text, f->size, config_file_locate(f, field, AT_KEY), &line, &column);
        return asprintf(ret, "%s:%u:%u", f->path, line, column) < 0 ? -ENOMEM : 0;
}

static int load_plugin(Loader *l, ConfigFile *f, const char *name, json_object *obj) {
        Parser p = { .f = f, .error = l->error };
        _cleanup_free_ char *field = NULL, *kf = NULL, *bf = NULL;
        DaemonPluginConfig pc, *list;
        int r;

        if (asprintf(&field, "plugins.%s", name) < 0)
                return -ENOMEM;
        if (!daemon_plugin_name_is_valid(name))
                return key_error(&p, field, "\"%s\" is not a valid plugin name ([a-z0-9][a-z0-9_-]{0,63})", name);

        for (size_t i = 0; i < l->c->n_plugins; i++)
                if (streq(l->c->plugins[i].settings.name, name)) {
                        _cleanup_free_ char *where = NULL;

                        r = position_describe(l->c->plugins[i].file, field, &where);
                        if (r < 0)
                                return r;
                        return key_error(&p, field, "plugin \"%s\" is already defined at %s", name, where);
                }

        if (!json_object_is_type(obj, json_type_object))
                return type_error(&p, field, "an object");

        plugin_config_init(&pc);
        pc.file = f;
        pc.settings.name = strdup(name);
        if (!pc.settings.name) {
                plugin_config_done(&pc);
                return -ENOMEM;
        }

        if (l->defaults) {
                Parser dp = { .f = l->defaults_file, .error = l->error };

                r = parse_settings(&dp, "defaults", l->defaults, IN_DEFAULTS, &pc);
                if (r < 0)
                        goto fail;
        }
        r = parse_settings(&p, field, obj, IN_PLUGIN, &pc);
        if (r < 0)
                goto fail;

        kf = path_member(field, "kind");
        bf = path_member(field, "binary");
        if (!kf || !bf) {
                r = -ENOMEM;
                goto fail;
        }
        if (!pc.settings.kind) {
                r = field_error(&p, kf, "missing: every plugin needs a kind (\"relayer\", \"median\", …)");
                goto fail;
        }
        if (!pc.settings.binary) {
                r = field_error(&p, bf, "missing: every plugin needs the path of its executable");
                goto fail;
        }
        if (pc.relayer_config && !streq(pc.settings.kind, SDLOOP_KIND_RELAYER)) {
                _cleanup_free_ char *rf = path_member(field, "relayer");

                r = rf ? key_error(&p, rf, "only for plugins of kind \"relayer\", this one is \"%s\"",
                                   pc.settings.kind) : -ENOMEM;
                goto fail;
        }

        if (asprintf(&pc.settings.socket_path, "%s/%s.sock", l->c->socket_directory, name) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        if (strlen(pc.settings.socket_path) >= sizeof(((struct sockaddr_un *) NULL)->sun_path)) {
                r = key_error(&p, field, "socket path %s is too long for a UNIX socket (at most %zu bytes)",
                              pc.settings.socket_path, sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
                goto fail;
        }

        list = reallocarray(l->c->plugins, l->c->n_plugins + 1, sizeof(DaemonPluginConfig));
        if (!list) {
                r = -ENOMEM;
                goto fail;
        }
        l->c->plugins = list;
        l->c->plugins[l->c->n_plugins++] = pc;
        return 0;

fail:
        plugin_config_done(&pc);
        return r;
}

static int load_feed(Loader *l, ConfigFile *f, const char *name, json_object *obj) {
        Parser p = { .f = f, .error = l->error };
        _cleanup_free_ char *field = NULL;
        DaemonFeedConfig *list;
        char *n;

        if (asprintf(&field, "feeds.%s", name) < 0)
                return -ENOMEM;
        if (!daemon_plugin_name_is_valid(name))
                return key_error(&p, field, "\"%s\" is not a valid feed name ([a-z0-9][a-z0-9_-]{0,63})", name);
        for (size_t i = 0; i < l->c->n_feeds; i++)
                if (streq(l->c->feeds[i].name, name)) {
                        _cleanup_free_ char *where = NULL;
                        int r = position_describe(l->c->feeds[i].file, field, &where);

                        if (r < 0)
                                return r;
                        return key_error(&p, field, "feed \"%s\" is already defined at %s", name, where);
                }
        if (!json_object_is_type(obj, json_type_object))
                return type_error(&p, field, "an object");

        list = reallocarray(l->c->feeds, l->c->n_feeds + 1, sizeof(DaemonFeedConfig));
        if (!list)
                return -ENOMEM;
        l->c->feeds = list;
        n = strdup(name);
        if (!n)
                return -ENOMEM;
        l->c->feeds[l->c->n_feeds++] = (DaemonFeedConfig) {
                .name = n,
                .json = json_object_get(obj),
                .file = f,
        };
        return 0;
}

/* A refusal of feed_config_parse(), "FIELD: reason", placed in @f like our own errors. */
static int feed_parse_error(Parser *p, const char *name, const char *message) {
        _cleanup_free_ char *field = NULL;
        const char *colon = message ? strstr(message, ": ") : NULL;

        if (!colon) {
                /* Not in the agreed form: point at the feed as a whole. */
                if (asprintf(&field, "feeds.%s", name) < 0)
                        return -ENOMEM;
                return field_error(p, field, "%s", message ?: "not a valid feed");
        }
        field = strndup(message, (size_t) (colon - message));
        if (!field)
                return -ENOMEM;
        colon += 2;
        /* As for our own keys: an unknown key is pointed at itself, everything else at the value. */
        if (strncmp(colon, "unknown key", strlen("unknown key")) == 0)
                return key_error(p, field, "%s", colon);
        return field_error(p, field, "%s", colon);
}

/* The plugin @plugin that feed @fc names in @key must be configured, of @kind, and (relayers) create a
 * relayer: the feed's provider is made from it. */
static int check_feed_plugin(Loader *l, DaemonFeedConfig *fc, const char *key, const char *plugin,
                             const char *kind) {
        Parser p = { .f = fc->file, .error = l->error };
        _cleanup_free_ char *field = NULL;
        const DaemonPluginConfig *pc;

        if (asprintf(&field, "feeds.%s.%s", fc->name, key) < 0)
                return -ENOMEM;
        pc = daemon_config_find_plugin(l->c, plugin);
        if (!pc)
                return field_error(&p, field, "no plugin named \"%s\" is configured", plugin);
        if (!streq_ptr(pc->settings.kind, kind))
                return field_error(&p, field, "plugin \"%s\" is of kind \"%s\", a feed needs one of kind \"%s\"",
                                   plugin, pc->settings.kind, kind);
        if (streq(kind, SDLOOP_KIND_RELAYER) && !pc->relayer_config)
                return field_error(&p, field, "plugin \"%s\" has no \"relayer\" configuration, so it has no relayer "
                                   "to make the feed's provider with", plugin);
        return 0;
}

/* Once every file is read: each feed parsed by the feed driver's own parser, and its plugins checked. */
static int check_feeds(Loader *l) {
        int r;

        for (size_t i = 0; i < l->c->n_feeds; i++) {
                DaemonFeedConfig *fc = l->c->feeds + i;
                Parser p = { .f = fc->file, .error = l->error };
                _cleanup_free_ char *message = NULL;

                r = feed_config_parse(fc->json, fc->name, &fc->config, &message);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return feed_parse_error(&p, fc->name, message);

                r = check_feed_plugin(l, fc, "relayer", fc->config->relayer, SDLOOP_KIND_RELAYER);
                if (r < 0)
                        return r;
                r = check_feed_plugin(l, fc, "median", fc->config->median, SDLOOP_KIND_MEDIAN);
                if (r < 0)
                        return r;

                /* Two feeds on one contract would each configure it with their own keys, in turn. */
                for (size_t k = 0; k < i; k++) {
                        const FeedConfig *other = l->c->feeds[k].config;
                        _cleanup_free_ char *field = NULL;

                        if (!streq(other->relayer, fc->config->relayer) ||
                            !streq(other->contract_id, fc->config->contract_id))
                                continue;
                        if (asprintf(&field, "feeds.%s.contract_id", fc->name) < 0)
                                return -ENOMEM;
                        return field_error(&p, field, "contract \"%s\" of plugin %s is already fed by feed \"%s\"",
                                           fc->config->contract_id, fc->config->relayer, l->c->feeds[k].name);
                }
        }
        return 0;
}

static int load_section(Loader *l, ConfigFile *f, const char *section, json_object *v,
                        int (*load)(Loader *l, ConfigFile *f, const char *name, json_object *obj)) {
        Parser p = { .f = f, .error = l->error };
        int r;

        if (!json_object_is_type(v, json_type_object))
                return type_error(&p, section, "an object of name: {…}");
        json_object_object_foreach(v, name, obj) {
                r = load(l, f, name, obj);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int get_directory(Parser *p, const char *field, json_object *v, char **ret) {
        const char *s;
        char *d;
        size_t n;
        int r;

        r = get_string(p, field, v, "an absolute path", &s);
        if (r < 0)
                return r;
        if (s[0] != '/')
                return field_error(p, field, "\"%s\" is not an absolute path", s);
        d = strdup(s);
        if (!d)
                return -ENOMEM;
        n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
                d[--n] = 0;
        free(*ret);
        *ret = d;
        return 0;
}

static const char * const main_keys[] = {
        "backend", "socket_directory", "state_directory", "metrics", "defaults", "plugins", "feeds", NULL,
};
static const char * const dropin_keys[] = { "plugins", "feeds", NULL };

/* Globals first: the socket directory goes into every plugin's settings. */
static int load_main_globals(Loader *l, ConfigFile *f) {
        Parser p = { .f = f, .error = l->error };
        int r;

        json_object_object_foreach(f->root, key, v) {
                if (!key_is_known(key, main_keys))
                        return unknown_key(&p, key, main_keys);

                if (streq(key, "backend")) {
                        const char *s;

                        r = get_string(&p, key, v, "one of \"auto\", \"system\", \"user\", \"exec\"", &s);
                        if (r < 0)
                                return r;
                        if (!streq(s, "auto") && !streq(s, "system") && !streq(s, "user") && !streq(s, "exec"))
                                return field_error(&p, key, "expected one of \"auto\", \"system\", \"user\", "
                                                   "\"exec\", got \"%s\"", s);
                        r = free_and_strdup(&l->c->backend, s);
                } else if (streq(key, "socket_directory"))
                        r = get_directory(&p, key, v, &l->c->socket_directory);
                else if (streq(key, "state_directory"))
                        r = get_directory(&p, key, v, &l->c->state_directory);
                else if (streq(key, "metrics"))
                        r = parse_metrics(&p, key, v, l->c);
                else if (streq(key, "defaults")) {
                        DaemonPluginConfig probe;

                        /* Check the defaults even if no plugin uses them. */
                        plugin_config_init(&probe);
                        r = parse_settings(&p, "defaults", v, IN_DEFAULTS, &probe);
                        plugin_config_done(&probe);
                        l->defaults = v;
                        l->defaults_file = f;
                } else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_sections(Loader *l, ConfigFile *f, const char * const *keys) {
        Parser p = { .f = f, .error = l->error };
        json_object *v;
        int r;

        if (keys == dropin_keys) {
                json_object_object_foreach(f->root, key, value) {
                        (void) value;
                        if (key_is_known(key, main_keys) && !key_is_known(key, dropin_keys))
                                return key_error(&p, key, "only allowed in the main configuration file");
                        if (!key_is_known(key, keys))
                                return unknown_key(&p, key, keys);
                }
        }

        if (json_object_object_get_ex(f->root, "plugins", &v)) {
                r = load_section(l, f, "plugins", v, load_plugin);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(f->root, "feeds", &v)) {
                r = load_section(l, f, "feeds", v, load_feed);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int dropin_compare(const struct dirent **a, const struct dirent **b) {
        /* Lexical by bytes, whatever the locale. */
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int dropin_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);

        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".json");
}

static int load_dropins(Loader *l, const char *dir) {
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, dropin_filter, dropin_compare);
        if (n < 0) {
                if (errno == ENOENT)
                        return 0;
                r = -errno;
                errorf(l->error, "%s: cannot read the directory: %s", dir, strerror(-r));
                return r;
        }

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                ConfigFile *f = NULL;
                struct stat st;

                if (r < 0)
                        goto next;
                if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
                        r = -ENOMEM;
                        goto next;
                }
                /* A drop-in linked to /dev/null is masked, as with systemd's. */
                if (stat(path, &st) >= 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                        goto next;

                r = config_file_read(path, &f, l->error);
                if (r < 0)
                        goto next;
                r = loader_add_file(l, f);
                if (r < 0) {
                        config_file_free(f);
                        goto next;
                }
                r = load_sections(l, f, dropin_keys);
        next:
                free(list[i]);
        }
        free(list);
        return r;
}

static int xdg_dir(const char *env, const char *home_suffix, const char *suffix, char **ret) {
        const char *e = getenv(env), *home;

        if (!isempty(e) && e[0] == '/')
                return asprintf(ret, "%s/%s", e, suffix) < 0 ? -ENOMEM : 0;
        home = getenv("HOME");
        if (isempty(home) || home[0] != '/')
                return -ENXIO;
        return asprintf(ret, "%s/%s/%s", home, home_suffix, suffix) < 0 ? -ENOMEM : 0;
}

/* The first of $RUNTIME_DIRECTORY/$STATE_DIRECTORY's colon-separated entries, with @suffix. */
static int unit_dir(const char *env, const char *suffix, char **ret) {
        const char *e = getenv(env);
        size_t n;

        if (isempty(e) || e[0] != '/')
                return 0;
        n = strcspn(e, ":");
        if (asprintf(ret, "%.*s%s%s", (int) n, e, suffix ? "/" : "", strempty(suffix)) < 0)
                return -ENOMEM;
        return 1;
}

int daemon_config_default_path(DaemonScope scope, char **ret) {
        if (scope == DAEMON_SCOPE_USER)
                return xdg_dir("XDG_CONFIG_HOME", ".config", "sdloop/" DAEMON_CONFIG_FILE_NAME, ret);
        *ret = strdup(SDLOOP_SYSCONFDIR "/" DAEMON_CONFIG_FILE_NAME);
        return *ret ? 0 : -ENOMEM;
}

static int default_socket_directory(DaemonScope scope, char **ret) {
        const char *e;
        int r;

        r = unit_dir("RUNTIME_DIRECTORY", "plugin", ret);
        if (r != 0)
                return r < 0 ? r : 0;
        if (scope == DAEMON_SCOPE_SYSTEM) {
                *ret = strdup("/run/sdloop/plugin");
                return *ret ? 0 : -ENOMEM;
        }
        e = getenv("XDG_RUNTIME_DIR");
        if (!isempty(e) && e[0] == '/')
                return asprintf(ret, "%s/sdloop/plugin", e) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "/run/user/" UID_FMT "/sdloop/plugin", (uint32_t) getuid()) < 0 ? -ENOMEM : 0;
}

static int default_state_directory(DaemonScope scope, char **ret) {
        int r;

        r = unit_dir("STATE_DIRECTORY", NULL, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        if (scope == DAEMON_SCOPE_SYSTEM) {
                *ret = strdup("/var/lib/sdloop");
                return *ret ? 0 : -ENOMEM;
        }
        return xdg_dir("XDG_STATE_HOME", ".local/state", "sdloop", ret);
}

static int plugin_compare(const void *a, const void *b) {
        return strcmp(((const DaemonPluginConfig *) a)->settings.name, ((const DaemonPluginConfig *) b)->settings.name);
}

static int feed_compare(const void *a, const void *b) {
        return strcmp(((const DaemonFeedConfig *) a)->name, ((const DaemonFeedConfig *) b)->name);
}

int daemon_config_load(const char *path, DaemonScope scope, DaemonConfig **ret, char **ret_error) {
        _cleanup_(daemon_config_freep) DaemonConfig *c = NULL;
        _cleanup_free_ char *error = NULL, *dir = NULL;
        ConfigFile *main_file = NULL;
        Loader l;
        char *slash;
        int r;

        assert(ret);
        assert(ret_error);

        c = new0(DaemonConfig, 1);
        if (!c)
                return -ENOMEM;
        l = (Loader) { .c = c, .error = &error, .scope = scope };

        if (path)
                c->path = strdup(path);
        else {
                r = daemon_config_default_path(scope, &c->path);
                if (r < 0) {
                        *ret_error = strdup("cannot tell where the configuration is: set $HOME or use --config");
                        return r;
                }
        }
        if (!c->path)
                return -ENOMEM;

        if (path || access(c->path, F_OK) >= 0 || errno != ENOENT) {
                r = config_file_read(c->path, &main_file, &error);
                if (r < 0)
                        goto fail;
                r = loader_add_file(&l, main_file);
                if (r < 0) {
                        config_file_free(main_file);
                        goto fail;
                }
                r = load_main_globals(&l, main_file);
                if (r < 0)
                        goto fail;
        }

        if (!c->socket_directory) {
                r = default_socket_directory(scope, &c->socket_directory);
                if (r < 0)
                        goto fail;
        }
        if (!c->state_directory) {
                r = default_state_directory(scope, &c->state_directory);
                if (r < 0) {
                        errorf(&error, "cannot tell where to keep state: set $HOME or \"state_directory\"");
                        goto fail;
                }
        }

        if (main_file) {
                r = load_sections(&l, main_file, main_keys);
                if (r < 0)
                        goto fail;
        }

        dir = strdup(c->path);
        if (!dir) {
                r = -ENOMEM;
                goto fail;
        }
        slash = strrchr(dir, '/');
        if (slash)
                slash[slash == dir ? 1 : 0] = 0;
        else
                (void) free_and_strdup(&dir, ".");
        {
                _cleanup_free_ char *dropins = NULL;

                if (!dir || asprintf(&dropins, "%s/" DAEMON_CONFIG_DROPIN_DIR, dir) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = load_dropins(&l, dropins);
                if (r < 0)
                        goto fail;
        }

        /* In the order the files define them, so that the first bad feed is the one reported; the plugins
         * they name may come from any file. */
        r = check_feeds(&l);
        if (r < 0)
                goto fail;

        /* Each plugin's own persistent directory, for backends that do not make one (the exec backend; the
         * systemd ones give StateDirectory=sdloop-<name>). Known only now: "state_directory" may come after
         * "plugins" in the file. */
        for (size_t i = 0; i < c->n_plugins; i++) {
                HostPluginSettings *ps = &c->plugins[i].settings;

                ps->state_directory = mfree(ps->state_directory);
                if (asprintf(&ps->state_directory, "%s/plugin/%s", c->state_directory, ps->name) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        if (c->n_plugins > 1)
                qsort(c->plugins, c->n_plugins, sizeof(DaemonPluginConfig), plugin_compare);
        if (c->n_feeds > 1)
                qsort(c->feeds, c->n_feeds, sizeof(DaemonFeedConfig), feed_compare);

        *ret = TAKE_PTR(c);
        return 0;

fail:
        if (r == -ENOMEM && !error)
                error = strdup("out of memory");
        else if (!error && asprintf(&error, "%s: %s", c->path, strerror(-r)) < 0)
                error = NULL;
        *ret_error = TAKE_PTR(error);
        return r;
}

DaemonConfig *daemon_config_free(DaemonConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_plugins; i++)
                plugin_config_done(c->plugins + i);
        free(c->plugins);
        for (size_t i = 0; i < c->n_feeds; i++) {
                free(c->feeds[i].name);
                json_object_put(c->feeds[i].json);
                feed_config_free(c->feeds[i].config);
        }
        free(c->feeds);
        for (size_t i = 0; i < c->n_files; i++)
                config_file_free(c->files[i]);
        free(c->files);
        free(c->path);
        free(c->backend);
        free(c->socket_directory);
        free(c->metrics_listen);
        free(c->state_directory);
        return mfree(c);
}

void daemon_config_resolve(DaemonConfig *c, const char *backend) {
        for (size_t i = 0; i < c->n_plugins; i++) {
                DaemonPluginConfig *pc = c->plugins + i;

                if (pc->dynamic_user >= 0)
                        pc->settings.dynamic_user = pc->dynamic_user;
                else
                        pc->settings.dynamic_user = streq_ptr(backend, "system") && !pc->settings.user;
        }
}

const DaemonPluginConfig *daemon_config_find_plugin(const DaemonConfig *c, const char *name) {
        for (size_t i = 0; c && i < c->n_plugins; i++)
                if (streq(c->plugins[i].settings.name, name))
                        return c->plugins + i;
        return NULL;
}

static bool strv_equal(char * const *a, char * const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

int daemon_feed_config_instantiate(const DaemonFeedConfig *fc, FeedConfig **ret) {
        _cleanup_free_ char *message = NULL;
        int r;

        assert(fc);
        assert(ret);

        r = feed_config_parse(fc->json, fc->name, ret, &message);
        if (r < 0 && r != -ENOMEM)
                /* It was accepted when the configuration was loaded. */
                log_error("Feed %s: the configuration no longer parses: %s", fc->name, strempty(message));
        return r;
}

bool daemon_feed_config_equal(const DaemonFeedConfig *a, const DaemonFeedConfig *b) {
        return streq_ptr(a->name, b->name) && json_object_equal(a->json, b->json);
}

bool daemon_plugin_config_equal(const DaemonPluginConfig *a, const DaemonPluginConfig *b) {
        const HostPluginSettings *x = &a->settings, *y = &b->settings;

        return streq_ptr(x->name, y->name) &&
                streq_ptr(x->kind, y->kind) &&
                streq_ptr(x->binary, y->binary) &&
                streq_ptr(x->binary_sha256, y->binary_sha256) &&
                strv_equal(x->args, y->args) &&
                strv_equal(x->environment, y->environment) &&
                streq_ptr(x->socket_path, y->socket_path) &&
                streq_ptr(x->state_directory, y->state_directory) &&
                x->restart == y->restart &&
                x->restart_usec == y->restart_usec &&
                x->start_limit_burst == y->start_limit_burst &&
                x->start_limit_interval_usec == y->start_limit_interval_usec &&
                x->watchdog_usec == y->watchdog_usec &&
                x->call_timeout_usec == y->call_timeout_usec &&
                x->probe_interval_usec == y->probe_interval_usec &&
                x->probe_timeout_usec == y->probe_timeout_usec &&
                x->probe_failures == y->probe_failures &&
                x->memory_max == y->memory_max &&
                x->tasks_max == y->tasks_max &&
                x->cpu_quota_per_sec_usec == y->cpu_quota_per_sec_usec &&
                x->dynamic_user == y->dynamic_user &&
                streq_ptr(x->user, y->user) &&
                x->sandbox == y->sandbox &&
                x->crash_after_step == y->crash_after_step &&
                streq_ptr(a->relayer_config, b->relayer_config);
}

static int strv_copy(char * const *src, char ***dst) {
        size_t n = strv_length(src);
        char **l;

        if (!src) {
                *dst = NULL;
                return 0;
        }
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(src[i]);
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *dst = l;
        return 0;
}

int daemon_plugin_settings_copy(const HostPluginSettings *src, HostPluginSettings *dst) {
        HostPluginSettings s = *src;

        s.name = s.kind = s.binary = s.binary_sha256 = s.socket_path = s.user = s.state_directory = NULL;
        s.args = s.environment = NULL;
        if ((src->name && !(s.name = strdup(src->name))) ||
            (src->kind && !(s.kind = strdup(src->kind))) ||
            (src->binary && !(s.binary = strdup(src->binary))) ||
            (src->binary_sha256 && !(s.binary_sha256 = strdup(src->binary_sha256))) ||
            (src->socket_path && !(s.socket_path = strdup(src->socket_path))) ||
            (src->state_directory && !(s.state_directory = strdup(src->state_directory))) ||
            (src->user && !(s.user = strdup(src->user))) ||
            strv_copy(src->args, &s.args) < 0 ||
            strv_copy(src->environment, &s.environment) < 0) {
                host_plugin_settings_done(&s);
                return -ENOMEM;
        }
        *dst = s;
        return 0;
}
