/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"

#define ELLIPSIS "\xe2\x80\xa6" /* "…" */

const sd_bus_error_map sdloop_error_map[] = {
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_PLUGIN_UNAVAILABLE, EHOSTDOWN),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_INVALID_ARGUMENT, EINVAL),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_UNIMPLEMENTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_INTERNAL, EIO),
        SD_BUS_ERROR_MAP_END,
};

void sdloop_error_register(void) {
        /* sd_bus_error_add_map() ignores a map it already has. */
        (void) sd_bus_error_add_map(sdloop_error_map);
}

static bool unichar_is_valid(uint32_t c) {
        return c < 0x110000U &&
                (c & 0xFFFFF800U) != 0xD800U &&     /* surrogates */
                !(c >= 0xFDD0U && c <= 0xFDEFU) &&  /* noncharacters, refused by sd-bus */
                (c & 0xFFFEU) != 0xFFFEU;
}

size_t utf8_char_length(const char *s, size_t n, uint32_t *ret_c) {
        const uint8_t *p = (const uint8_t *) s;
        uint32_t c;
        size_t len;

        if (n == 0 || *p == 0)
                return 0;
        if (*p < 0x80) {
                len = 1;
                c = *p;
        } else if ((*p & 0xE0) == 0xC0) {
                len = 2;
                c = *p & 0x1F;
        } else if ((*p & 0xF0) == 0xE0) {
                len = 3;
                c = *p & 0x0F;
        } else if ((*p & 0xF8) == 0xF0) {
                len = 4;
                c = *p & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;

        /* A continuation byte is never NUL, so this stops at the terminator too. */
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xC0) != 0x80)
                        return 0;
                c = (c << 6) | (p[i] & 0x3F);
        }

        if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000))
                return 0; /* overlong */
        if (!unichar_is_valid(c))
                return 0;

        if (ret_c)
                *ret_c = c;
        return len;
}

bool utf8_is_valid(const char *s) {
        if (!s)
                return false;

        for (size_t len; *s; s += len) {
                len = utf8_char_length(s, SIZE_MAX, NULL);
                if (len == 0)
                        return false;
        }
        return true;
}

/* The rendering of one character (or of one byte that is not part of one) at @s: how many bytes of @s it
 * stands for, and its text in @out (NUL-terminated, at most 7 bytes). */
static size_t render_one(const char *s, size_t n, bool quote, char out[static 8]) {
        uint8_t b = (uint8_t) *s;
        uint32_t c;
        size_t len;

        if (quote && (b == '"' || b == '\\')) {
                out[0] = '\\';
                out[1] = (char) b;
                out[2] = 0;
                return 1;
        }
        if (b == '\n' || b == '\t' || b == '\r') {
                out[0] = '\\';
                out[1] = b == '\n' ? 'n' : b == '\t' ? 't' : 'r';
                out[2] = 0;
                return 1;
        }
        if (b < 0x20 || b == 0x7F) {
                (void) snprintf(out, 8, "\\x%02x", b);
                return 1;
        }

        len = utf8_char_length(s, n, &c);
        if (len == 0) {
                /* Not UTF-8: shown as the byte it is, which also keeps the rest of the text readable. */
                (void) snprintf(out, 8, "\\x%02x", b);
                return 1;
        }
        if (c >= 0x80 && c < 0xA0) {
                /* C1 controls move terminals around as much as C0 ones. */
                (void) snprintf(out, 8, "\\u%04" PRIx32, c);
                return len;
        }

        memcpy(out, s, len);
        out[len] = 0;
        return len;
}

/* Write @s (at most @n bytes of it, up to its NUL) to @buf of @size bytes as valid UTF-8 without control
 * characters, in quotes if @quote. What does not fit is cut after the last whole character that leaves room
 * for "…". */
static const char *render(char *buf, size_t size, const char *s, size_t n, bool quote) {
        size_t closing, pos = 0, cut = 0, i = 0;
        bool truncated = false;

        assert(buf);

        if (!s) {
                s = "(null)";
                n = SIZE_MAX;
                quote = false;
        }
        closing = quote ? 1 : 0;

        /* Room for the quotes, an ellipsis and the NUL at least; anything smaller gets nothing. */
        if (size < 2 * closing + strlen(ELLIPSIS) + 1) {
                if (size > 0)
                        buf[0] = 0;
                return buf;
        }

        if (quote)
                buf[pos++] = '"';
        cut = pos;

        while (i < n && s[i]) {
                char item[8];
                size_t k, l;

                k = render_one(s + i, n - i, quote, item);
                l = strlen(item);
                if (pos + l > size - 1 - closing) {
                        truncated = true;
                        pos = cut;
                        break;
                }
                memcpy(buf + pos, item, l);
                pos += l;
                i += k;
                if (pos + strlen(ELLIPSIS) <= size - 1 - closing)
                        cut = pos;
        }

        if (quote)
                buf[pos++] = '"';
        if (truncated) {
                memcpy(buf + pos, ELLIPSIS, strlen(ELLIPSIS));
                pos += strlen(ELLIPSIS);
        }
        buf[pos] = 0;
        return buf;
}

const char *sdloop_escape_into(char *buf, size_t size, const char *s, size_t n, SdloopEscapeFlags flags) {
        return render(buf, size, s, n, flags & SDLOOP_ESCAPE_QUOTE);
}

static int error_setv(sd_bus_error *error, const char *name, const char *format, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        char text[SDLOOP_ERROR_MESSAGE_MAX + 1];

        sdloop_error_register();

        if (!error)
                return sd_bus_error_set(NULL, name, NULL);

        if (vasprintf(&msg, format, ap) < 0)
                return -ENOMEM;

        /* Messages carry what peers, files and commands sent us. sd-bus refuses to send an error whose
         * message is not valid UTF-8, and the caller would wait for its timeout instead; and nobody should
         * receive (or log) a value of megabytes inside an error. */
        render(text, sizeof(text), msg, SIZE_MAX, false);

        /* sd_bus_error_set() returns the errno mapped to the name, negative. */
        return sd_bus_error_set(error, name, text);
}

/* An error someone filled without sdloop_error_setf(): the same guarantee before it is sent. */
static int error_make_sendable(sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        char text[SDLOOP_ERROR_MESSAGE_MAX + 1];

        if (!error->message)
                return 0;

        render(text, sizeof(text), error->message, SIZE_MAX, false);
        if (streq(text, error->message))
                return 0;

        name = strdup(error->name);
        if (!name)
                return -ENOMEM;
        sd_bus_error_free(error);
        return sd_bus_error_set(error, name, text);
}

int sdloop_error_setf(sd_bus_error *error, const char *name, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = error_setv(error, name, format, ap);
        va_end(ap);
        return r;
}

int sdloop_error_invalid(sd_bus_error *error, const char *field, const char *format, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&reason, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        (void) sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT, "%s: %s", strempty(field), reason);
        return -EINVAL;
}

const char *error_name_from_errno(int r) {
        switch (r < 0 ? -r : r) {
        case EINVAL:
        case ERANGE:
        case EBADMSG:
        case ENXIO: /* sd-bus: an argument of the wrong type */
                return SDLOOP_ERROR_INVALID_ARGUMENT;
        case ENOENT:
                return SDLOOP_ERROR_NOT_FOUND;
        case EOPNOTSUPP:
                return SDLOOP_ERROR_UNIMPLEMENTED;
        case ETIMEDOUT:
                return SDLOOP_ERROR_TIMEOUT;
        case EHOSTDOWN:
        case ECONNRESET:
        case ENOTCONN:
        case ECONNREFUSED:
        case EPIPE:
                return SDLOOP_ERROR_PLUGIN_UNAVAILABLE;
        default:
                return SDLOOP_ERROR_INTERNAL;
        }
}

int sdloop_error_ensure(sd_bus_error *error, int r, const char *context) {
        if (r >= 0 || !error)
                return r;
        if (sd_bus_error_is_set(error)) {
                (void) error_make_sendable(error);
                return r;
        }

        (void) sdloop_error_setf(error, error_name_from_errno(r), "%s%s%s", strempty(context), context ? ": " : "",
                                 strerror(-r));
        return r;
}
