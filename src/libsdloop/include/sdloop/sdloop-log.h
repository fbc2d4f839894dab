/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Structured logging: to journald with fields, or to stderr with "<N>" priority prefixes when journald is
 * not there (or SDLOOP_LOG_TARGET=stderr). Every record carries SDLOOP_PLUGIN (when set) and the LOOP
 * context fields JOB_ID, JOB_NAME, CONTRACT_ID, FEED_ID, TRANSMITTER_ID that are set. */

#include <stdarg.h>
#include <syslog.h>

typedef enum SdloopLogContext {
        SDLOOP_LOG_JOB_ID,
        SDLOOP_LOG_JOB_NAME,
        SDLOOP_LOG_CONTRACT_ID,
        SDLOOP_LOG_FEED_ID,
        SDLOOP_LOG_TRANSMITTER_ID,
        _SDLOOP_LOG_CONTEXT_MAX,
} SdloopLogContext;

typedef enum SdloopLogTarget {
        SDLOOP_LOG_TARGET_AUTO,
        SDLOOP_LOG_TARGET_JOURNAL,
        SDLOOP_LOG_TARGET_STDERR,
} SdloopLogTarget;

void sdloop_log_set_identifier(const char *ident); /* SYSLOG_IDENTIFIER and stderr prefix */
void sdloop_log_set_plugin(const char *name);     /* SDLOOP_PLUGIN= */
void sdloop_log_set_context(SdloopLogContext field, const char *value); /* NULL clears */
void sdloop_log_set_max_level(int level);
int sdloop_log_get_max_level(void);
void sdloop_log_set_target(SdloopLogTarget target);
/* Reads SDLOOP_LOG_LEVEL (debug|info|…|0-7) and SDLOOP_LOG_TARGET (auto|journal|stderr). */
void sdloop_log_parse_environment(void);
/* Where records go now: SDLOOP_LOG_TARGET_JOURNAL or SDLOOP_LOG_TARGET_STDERR. */
SdloopLogTarget sdloop_log_get_target(void);

/* Logs and returns -abs(error) (or 0 for error == 0), like systemd's log_*_errno(). Extra journal fields
 * may be passed as a NULL-terminated list of "FIELD=value" strings in @fields. */
int sdloop_log_internal(int level, int error, const char *file, int line, const char *func,
                        const char * const *fields, const char *format, ...)
        __attribute__((format(printf, 7, 8)));

#define sdloop_log_full_errno(level, error, ...) \
        sdloop_log_internal((level), (error), __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)

/* Short names, as in systemd; define SDLOOP_NO_SHORT_LOG_NAMES to keep them out. */
#ifndef SDLOOP_NO_SHORT_LOG_NAMES
#define log_debug(...)   sdloop_log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    sdloop_log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  sdloop_log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) sdloop_log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   sdloop_log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...)   sdloop_log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    sdloop_log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_notice_errno(e, ...)  sdloop_log_full_errno(LOG_NOTICE, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) sdloop_log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   sdloop_log_full_errno(LOG_ERR, (e), __VA_ARGS__)
/* Allocation failures are logged without allocating. */
#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
#endif
