/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/uio.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "macro.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "sdloop-trace.h"

static const char * const context_field[_SDLOOP_LOG_CONTEXT_MAX] = {
        [SDLOOP_LOG_JOB_ID] = "JOB_ID",
        [SDLOOP_LOG_JOB_NAME] = "JOB_NAME",
        [SDLOOP_LOG_CONTRACT_ID] = "CONTRACT_ID",
        [SDLOOP_LOG_FEED_ID] = "FEED_ID",
        [SDLOOP_LOG_TRANSMITTER_ID] = "TRANSMITTER_ID",
};

/* Process-wide defaults, for lines written outside of any call; a current context's values come first. */
static char *context_value[_SDLOOP_LOG_CONTEXT_MAX];
static char *log_ident;
static char *log_plugin;
static int log_max_level = LOG_INFO;
static SdloopLogTarget log_target = SDLOOP_LOG_TARGET_AUTO;
static int log_resolved = -1; /* SDLOOP_LOG_TARGET_JOURNAL or _STDERR once decided */

void sdloop_log_set_identifier(const char *ident) {
        (void) free_and_strdup(&log_ident, ident);
}

void sdloop_log_set_plugin(const char *name) {
        (void) free_and_strdup(&log_plugin, name);
}

void sdloop_log_set_context(SdloopLogContext field, const char *value) {
        if (field < 0 || field >= _SDLOOP_LOG_CONTEXT_MAX)
                return;
        (void) free_and_strdup(&context_value[field], value);
}

void sdloop_log_set_max_level(int level) {
        log_max_level = level;
}

int sdloop_log_get_max_level(void) {
        return log_max_level;
}

void sdloop_log_set_target(SdloopLogTarget target) {
        log_target = target;
        log_resolved = -1;
}

static int level_from_string(const char *s) {
        static const char * const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

void sdloop_log_parse_environment(void) {
        const char *e;

        e = getenv("SDLOOP_LOG_LEVEL");
        if (e) {
                int l = level_from_string(e);
                if (l >= 0)
                        log_max_level = l;
        }

        e = getenv("SDLOOP_LOG_TARGET");
        if (e) {
                if (streq(e, "journal"))
                        sdloop_log_set_target(SDLOOP_LOG_TARGET_JOURNAL);
                else if (streq(e, "stderr") || streq(e, "console"))
                        sdloop_log_set_target(SDLOOP_LOG_TARGET_STDERR);
                else
                        sdloop_log_set_target(SDLOOP_LOG_TARGET_AUTO);
        }
}

/* Like systemd's "auto" target: the journal when our stderr already goes to it (a unit's
 * StandardError=journal sets $JOURNAL_STREAM), or when stderr is no terminal and journald listens. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

SdloopLogTarget sdloop_log_get_target(void) {
        if (log_resolved >= 0)
                return log_resolved;

        if (log_target != SDLOOP_LOG_TARGET_AUTO)
                log_resolved = log_target;
        else if (stderr_is_journal())
                log_resolved = SDLOOP_LOG_TARGET_JOURNAL;
        else if (!isatty(STDERR_FILENO) && access("/run/systemd/journal/socket", W_OK) >= 0)
                log_resolved = SDLOOP_LOG_TARGET_JOURNAL;
        else
                log_resolved = SDLOOP_LOG_TARGET_STDERR;

        return log_resolved;
}

/* The context fields of a line written now: "FIELD=value" into @buf, pointers in @ret; how many. */
static size_t context_fields(char buf[][160], size_t n_buf, const char **ret) {
        SdloopContext *c = sdloop_context_current();
        const Trace *t = context_get_trace(c);
        size_t n = 0;

        for (int i = 0; i < _SDLOOP_LOG_CONTEXT_MAX && n < n_buf; i++) {
                const char *v = sdloop_context_get_value(c, i) ?: context_value[i];

                if (v) {
                        (void) snprintf(buf[n], sizeof(buf[n]), "%s=%s", context_field[i], v);
                        ret[n] = buf[n];
                        n++;
                }
        }
        if (t && n + 2 <= n_buf) {
                char hex[33];

                trace_hex(t->trace_id, sizeof(t->trace_id), hex);
                (void) snprintf(buf[n], sizeof(buf[n]), "TRACE_ID=%s", hex);
                ret[n] = buf[n];
                n++;
                trace_hex(t->span, sizeof(t->span), hex);
                (void) snprintf(buf[n], sizeof(buf[n]), "SPAN_ID=%s", hex);
                ret[n] = buf[n];
                n++;
        }
        return n;
}

static int log_to_journal(int level, int error, const char *file, int line, const char *func,
                          const char * const *fields, const char *msg) {
        struct iovec iov[32];
        char buf[16][160];
        size_t n = 0, b = 0;

#define IOV_FMT(...)                                                                    \
        do {                                                                            \
                int _k = snprintf(buf[b], sizeof(buf[b]), __VA_ARGS__);                 \
                iov[n++] = (struct iovec) { buf[b], MIN((size_t) MAX(_k, 0), sizeof(buf[b]) - 1) }; \
                b++;                                                                    \
        } while (0)

        _cleanup_free_ char *message = NULL;
        if (asprintf(&message, "MESSAGE=%s", msg) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec) { message, strlen(message) };

        IOV_FMT("PRIORITY=%i", level);
        if (error != 0)
                IOV_FMT("ERRNO=%i", abs(error));
        IOV_FMT("CODE_FILE=%s", file);
        IOV_FMT("CODE_LINE=%i", line);
        IOV_FMT("CODE_FUNC=%s", func);
        if (log_ident)
                IOV_FMT("SYSLOG_IDENTIFIER=%s", log_ident);
        if (log_plugin)
                IOV_FMT("SDLOOP_PLUGIN=%s", log_plugin);
#undef IOV_FMT
        {
                char cbuf[_SDLOOP_LOG_CONTEXT_MAX + 2][160];
                const char *cf[_SDLOOP_LOG_CONTEXT_MAX + 2];
                size_t k = context_fields(cbuf, ELEMENTSOF(cbuf), cf);

                for (size_t i = 0; i < k && n < ELEMENTSOF(iov); i++)
                        iov[n++] = (struct iovec) { (char *) cf[i], strlen(cf[i]) };
                for (const char * const *f = fields; f && *f && n < ELEMENTSOF(iov); f++)
                        iov[n++] = (struct iovec) { (char *) *f, strlen(*f) };
                return sd_journal_sendv(iov, (int) n);
        }
}

static void log_to_stderr(int level, const char *msg) {
        char cbuf[_SDLOOP_LOG_CONTEXT_MAX + 2][160];
        const char *cf[_SDLOOP_LOG_CONTEXT_MAX + 2];
        size_t k = context_fields(cbuf, ELEMENTSOF(cbuf), cf);
        char fields[1200] = "";
        size_t used = 0;

        /* Without a journal the context fields follow the message, as " {FIELD=value …}". */
        for (size_t i = 0; i < k && used < sizeof(fields); i++) {
                int w = snprintf(fields + used, sizeof(fields) - used, "%s%s", i == 0 ? " {" : " ", cf[i]);
                used += w > 0 ? (size_t) w : 0;
        }
        if (k > 0 && used + 1 < sizeof(fields))
                strcat(fields, "}");

        /* "<N>" lets a unit's stderr-to-journal stream (SyslogLevelPrefix=yes) keep the priority. */
        if (log_plugin)
                fprintf(stderr, "<%i>%s[%s]: %s%s\n", level, strempty(log_ident ?: program_invocation_short_name),
                        log_plugin, msg, fields);
        else
                fprintf(stderr, "<%i>%s: %s%s\n", level, strempty(log_ident ?: program_invocation_short_name), msg,
                        fields);
}

void log_span(const char *trace_id, const char *span_id, const char *parent_span_id, const char *kind,
              const char *interface, const char *member, uint64_t duration_usec, const char *outcome) {
        char f[12][320], msg[400];
        struct iovec iov[14];
        size_t n = 0;
        int k;

#define SPAN_FIELD(...)                                                                                   \
        do {                                                                                              \
                k = snprintf(f[n], sizeof(f[n]), __VA_ARGS__);                                            \
                iov[n] = (struct iovec) { f[n], MIN((size_t) MAX(k, 0), sizeof(f[n]) - 1) };              \
                n++;                                                                                      \
        } while (0)

        (void) snprintf(msg, sizeof(msg), "span %s%s%s %s %" PRIu64 "us %s", strempty(interface),
                        interface ? "." : "", strempty(member), kind, duration_usec, outcome);
        SPAN_FIELD("MESSAGE=%s", msg);
        SPAN_FIELD("PRIORITY=%i", LOG_DEBUG);
        SPAN_FIELD("MESSAGE_ID=%s", SDLOOP_SPAN_MESSAGE_ID);
        SPAN_FIELD("TRACE_ID=%s", trace_id);
        SPAN_FIELD("SPAN_ID=%s", span_id);
        if (parent_span_id)
                SPAN_FIELD("PARENT_SPAN_ID=%s", parent_span_id);
        SPAN_FIELD("SPAN_NAME=%s%s%s", strempty(interface), interface ? "." : "", strempty(member));
        SPAN_FIELD("SPAN_KIND=%s", kind);
        SPAN_FIELD("SPAN_DURATION_USEC=%" PRIu64, duration_usec);
        SPAN_FIELD("SPAN_OUTCOME=%s", outcome);
        if (log_ident)
                SPAN_FIELD("SYSLOG_IDENTIFIER=%s", log_ident);
        if (log_plugin)
                SPAN_FIELD("SDLOOP_PLUGIN=%s", log_plugin);
#undef SPAN_FIELD

        if (sdloop_log_get_target() == SDLOOP_LOG_TARGET_JOURNAL && sd_journal_sendv(iov, (int) n) >= 0)
                return;

        /* One line with every field but MESSAGE and PRIORITY, in one write: other processes may share
         * the stream. */
        {
                char line[4096];
                size_t used = 0;

#define LINE_PUT(...)                                                                                     \
                do {                                                                                      \
                        int _w = snprintf(line + used, sizeof(line) - used, __VA_ARGS__);                 \
                        used = MIN(used + (size_t) MAX(_w, 0), sizeof(line) - 1);                          \
                } while (0)
                LINE_PUT("<%i>%s: %s {", LOG_DEBUG, strempty(log_ident ?: program_invocation_short_name), msg);
                for (size_t i = 3; i < n; i++) /* not MESSAGE, PRIORITY, MESSAGE_ID */
                        if (strncmp(iov[i].iov_base, "SYSLOG_IDENTIFIER=", strlen("SYSLOG_IDENTIFIER=")) != 0)
                                LINE_PUT("%s%.*s", i == 3 ? "" : " ", (int) iov[i].iov_len, (char *) iov[i].iov_base);
                LINE_PUT("}\n");
#undef LINE_PUT
                fputs(line, stderr);
        }
}

int sdloop_log_internal(int level, int error, const char *file, int line, const char *func,
                        const char * const *fields, const char *format, ...) {
        char msg[2048];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;

        if ((level & LOG_PRIMASK) > log_max_level) {
                errno = saved_errno;
                return -error;
        }

        /* Make %m work with the error we were given. */
        errno = error;
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);

        if (sdloop_log_get_target() == SDLOOP_LOG_TARGET_JOURNAL) {
                if (log_to_journal(level, error, file, line, func, fields, msg) < 0)
                        log_to_stderr(level, msg);
        } else
                log_to_stderr(level, msg);

        errno = saved_errno;
        return -error;
}
