/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Terminal, text and JSON output, and error messages. */

#include <langinfo.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <time.h>

#include "sdloop-error.h"
#include "sdloopctl.h"

static int parse_boolean(const char *v) {
        if (streq(v, "1") || streq(v, "yes") || streq(v, "y") || streq(v, "true") || streq(v, "on"))
                return 1;
        if (streq(v, "0") || streq(v, "no") || streq(v, "n") || streq(v, "false") || streq(v, "off"))
                return 0;
        return -EINVAL;
}

bool colors_enabled(void) {
        static int cached = -1;
        const char *e;

        if (cached >= 0)
                return cached;

        /* $SDLOOP_COLORS (like $SYSTEMD_COLORS) decides if set; then $NO_COLOR; then: a terminal that
         * is not "dumb". */
        e = getenv("SDLOOP_COLORS");
        if (e && parse_boolean(e) >= 0)
                cached = parse_boolean(e);
        else if (getenv("NO_COLOR"))
                cached = false;
        else {
                e = getenv("TERM");
                cached = isatty(STDOUT_FILENO) && !streq_ptr(e, "dumb");
        }
        return cached;
}

const char *ansi(const char *code) {
        return code && colors_enabled() ? code : "";
}

bool is_utf8_locale(void) {
        const char *set = nl_langinfo(CODESET);

        return set && (streq(set, "UTF-8") || streq(set, "utf8"));
}

const char *glyph_dot(void) {
        return is_utf8_locale() ? "●" : "*";
}

const char *glyph_ellipsis(void) {
        return is_utf8_locale() ? "…" : "...";
}

size_t output_columns(void) {
        struct winsize ws = {};

        if (arg_full || !isatty(STDOUT_FILENO))
                return SIZE_MAX;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

const char *state_color(const char *state) {
        if (!state)
                return NULL;
        if (streq(state, "running"))
                return ANSI_GREEN;
        if (streq(state, "failed") || streq(state, "unresponsive"))
                return ANSI_RED;
        if (streq(state, "starting") || streq(state, "recovering") || streq(state, "stopping"))
                return ANSI_YELLOW;
        return NULL;
}

bool state_is_running(const char *state) {
        return streq_ptr(state, "running");
}

/* As systemd's format_bytes(): IEC units, one decimal. */
char *format_bytes(char *buf, size_t l, uint64_t t) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                { "E", UINT64_C(1024) * 1024 * 1024 * 1024 * 1024 * 1024 },
                { "P", UINT64_C(1024) * 1024 * 1024 * 1024 * 1024 },
                { "T", UINT64_C(1024) * 1024 * 1024 * 1024 },
                { "G", UINT64_C(1024) * 1024 * 1024 },
                { "M", UINT64_C(1024) * 1024 },
                { "K", UINT64_C(1024) },
        };

        if (t == UINT64_MAX) {
                snprintf(buf, l, "-");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (t >= table[i].factor) {
                        snprintf(buf, l, "%" PRIu64 ".%" PRIu64 "%s", t / table[i].factor,
                                 (t / (table[i].factor / 10)) % 10, table[i].suffix);
                        return buf;
                }
        snprintf(buf, l, "%" PRIu64 "B", t);
        return buf;
}

char *format_timestamp(char *buf, size_t l, uint64_t usec) {
        struct tm tm;
        time_t sec;

        if (usec == 0 || usec == UINT64_MAX) {
                snprintf(buf, l, "-");
                return buf;
        }
        sec = (time_t) (usec / USEC_PER_SEC);
        if (!localtime_r(&sec, &tm) || strftime(buf, l, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, l, "@%" PRIu64, usec / USEC_PER_SEC);
        return buf;
}

int json_print(json_object *o) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

        flags |= arg_json == JSON_SHORT ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
        if (puts(json_object_to_json_string_ext(o, flags)) < 0 || fflush(stdout) != 0) {
                log_error("Failed to write JSON output: %m");
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

int json_add(json_object *o, const char *key, json_object *value) {
        /* A NULL value is a JSON null, which is what we mean when we pass one. */
        return json_object_object_add(o, key, value) < 0 ? -ENOMEM : 0;
}

void log_error(const char *format, ...) {
        va_list ap;
        int saved = errno;

        va_start(ap, format);
        errno = saved;
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int log_oom(void) {
        fputs("Out of memory.\n", stderr);
        return EXIT_FAILED;
}

bool bus_error_is_no_such_plugin(const sd_bus_error *error) {
        return sd_bus_error_has_names(error, SDLOOP_ERROR_NOT_FOUND, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                      SD_BUS_ERROR_UNKNOWN_INTERFACE);
}

int log_bus_error(const sd_bus_error *error, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);

        if (sd_bus_error_is_set(error))
                fprintf(stderr, ": %s: %s\n", error->name, strempty(error->message));
        else
                fprintf(stderr, ": %s\n", strerror(r < 0 ? -r : EIO));

        return sd_bus_error_has_name(error, SDLOOP_ERROR_NOT_FOUND) ? EXIT_NO_SUCH_PLUGIN : EXIT_FAILED;
}
