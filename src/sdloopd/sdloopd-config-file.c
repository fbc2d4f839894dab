/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A configuration file: its text, what json-c made of it, and where each field sits in it, so that
 * errors can point into it. */

#include <fcntl.h>
#include <stdarg.h>

#include "sdloop-error.h"
#include "sdloopd-config-internal.h"

#define CONFIG_FILE_MAX (4U * 1024U * 1024U)

/* --- files and positions ------------------------------------------------------------------------------- */

ConfigFile *config_file_free(ConfigFile *f) {
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

void offset_to_line_column(const char *text, size_t size, size_t offset, unsigned *ret_line,
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

const Position *config_file_find(const ConfigFile *f, const char *path) {
        for (size_t i = 0; f && i < f->n_positions; i++)
                if (streq(f->positions[i].path, path))
                        return f->positions + i;
        return NULL;
}

/* The offset for @field, or of the nearest ancestor that is in the file. */
size_t config_file_locate(const ConfigFile *f, const char *field, PositionKind kind) {
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

char *config_file_verror(const ConfigFile *f, const char *field, PositionKind kind, const char *format,
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

int position_describe(const ConfigFile *f, const char *field, char **ret) {
        unsigned line, column;

        offset_to_line_column(f->text, f->size, config_file_locate(f, field, AT_KEY), &line, &column);
        return asprintf(ret, "%s:%u:%u", f->path, line, column) < 0 ? -ENOMEM : 0;
}

/* --- reading a file ------------------------------------------------------------------------------------- */

int errorf(char **error, const char *format, ...) {
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

int config_file_read(const char *path, ConfigFile **ret, char **error) {
        _cleanup_(config_file_freep) ConfigFile *f = NULL;
        _cleanup_fclose_ FILE *file = NULL;
        struct json_tokener *tok;
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

        r = config_file_scan(f, error);
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
