/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* EnvConfig: the host's settings for a plugin, passed as environment variables, as LOOP's EnvConfig and
 * AsCmdEnv. The host fills a SdloopEnvConfig and turns it into "K=V" entries (sdloop_env_config_to_env());
 * the plugin's runtime reads them back at start-up (sdloop_env_config_parse()), strictly: a bad value is
 * refused, naming the variable and what is wrong with it (where LOOP would read a bad sampling ratio as 0).
 *
 *   SDLOOP_PLUGIN                  instance name: 1-255 bytes, no "/" nor control characters
 *   SDLOOP_LOG_LEVEL               emerg|alert|crit|err|warning|notice|info|debug, or 0-7
 *   SDLOOP_METRICS                 true|false (default true): org.sdloop1.Metrics served and calls counted
 *   SDLOOP_CALL_TIMEOUT_USEC       default call deadline, µs, 1 … 2^63
 *   CL_TRACING_ENABLED             true|false (default false)
 *   CL_TRACING_COLLECTOR_TARGET    host:port of an OTLP collector, or an http(s):// URL
 *   CL_TRACING_SAMPLING_RATIO      a number in [0, 1]
 *   CL_TRACING_TLS_CERT_PATH       absolute path of the collector's CA certificate
 *   CL_TRACING_ATTRIBUTE_<key>     attribute <key> ([A-Za-z0-9_.-]+) of every span, at most 256 bytes
 *
 * Booleans are read as Go's strconv.ParseBool reads them (1 t T TRUE true True, 0 f F FALSE false False). */

#include <stdbool.h>
#include <stdint.h>

typedef struct SdloopEnvConfig {
        char *instance;          /* NULL: not set */
        int log_level;           /* -1: not set */
        bool metrics;
        uint64_t call_timeout_usec; /* 0: not set */
        bool tracing_enabled;
        char *tracing_collector_target;
        double tracing_sampling_ratio; /* < 0: not set */
        char *tracing_tls_cert_path;
        char **tracing_attributes; /* "key=value", NULL-terminated; NULL: none */
} SdloopEnvConfig;

/* Everything unset: no instance, no log level, metrics on, tracing off. */
void sdloop_env_config_init(SdloopEnvConfig *c);
void sdloop_env_config_done(SdloopEnvConfig *c);

/* Read @env ("K=V" entries, NULL-terminated; NULL: the process's environment) into @ret. -EINVAL for a
 * bad value, with "<VARIABLE>: <what is wrong>" in *ret_error (if given, to be freed); @ret is then left
 * initialized and empty. Variables it does not know are ignored. */
int sdloop_env_config_parse(char * const *env, SdloopEnvConfig *ret, char **ret_error);

/* The "K=V" entries that sdloop_env_config_parse() reads back as @c (unset values give no entry). -EINVAL
 * for a value that would not be read back (e.g. a sampling ratio outside [0, 1]). */
int sdloop_env_config_to_env(const SdloopEnvConfig *c, char ***ret);

/* Put @c into effect in this process: log level, tracing and its sampling ratio, metrics. */
void sdloop_env_config_apply(const SdloopEnvConfig *c);
