/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* EnvConfig (sdloop-env.h): one table of variables, each with its parser and its formatter, so that what
 * the host writes is what the plugin reads back. */

#include <math.h>
#include <stdio.h>

#include "macro.h"
#include "sdloop-env.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "sdloop-metrics.h"
#include "sdloop-trace.h"

#define ATTRIBUTE_PREFIX "CL_TRACING_ATTRIBUTE_"
#define VALUE_MAX 256U

extern char **environ;

void sdloop_env_config_init(SdloopEnvConfig *c) {
        *c = (SdloopEnvConfig) {
                .log_level = -1,
                .metrics = true,
                .tracing_sampling_ratio = -1,
        };
}

void sdloop_env_config_done(SdloopEnvConfig *c) {
        if (!c)
                return;
        free(c->instance);
        free(c->tracing_collector_target);
        free(c->tracing_tls_cert_path);
        strv_free(c->tracing_attributes);
        sdloop_env_config_init(c);
}

static const char * const level_names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

static int parse_bool(const char *s, bool *ret) {
        static const char * const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char * const no[] = { "0", "f", "F", "FALSE", "false", "False" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (streq(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (streq(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

typedef int (*parse_fn)(const char *value, SdloopEnvConfig *c, const char **ret_why);

static int parse_instance(const char *v, SdloopEnvConfig *c, const char **why) {
        if (isempty(v) || strlen(v) > 255 || strchr(v, '/') || has_control(v) || !utf8_is_valid(v)) {
                *why = "must be 1-255 bytes of UTF-8 without \"/\" or control characters";
                return -EINVAL;
        }
        return free_and_strdup(&c->instance, v) < 0 ? -ENOMEM : 0;
}

static int parse_log_level(const char *v, SdloopEnvConfig *c, const char **why) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(v, level_names[i])) {
                        c->log_level = (int) i;
                        return 0;
                }
        if (v[0] >= '0' && v[0] <= '7' && v[1] == 0) {
                c->log_level = v[0] - '0';
                return 0;
        }
        *why = "must be one of emerg, alert, crit, err, warning, notice, info, debug or 0-7";
        return -EINVAL;
}

static int parse_metrics(const char *v, SdloopEnvConfig *c, const char **why) {
        if (parse_bool(v, &c->metrics) < 0) {
                *why = "must be true or false";
                return -EINVAL;
        }
        return 0;
}

static int parse_call_timeout(const char *v, SdloopEnvConfig *c, const char **why) {
        unsigned long long u = 0;
        char *end = NULL;

        errno = 0;
        if (v[0] >= '0' && v[0] <= '9')
                u = strtoull(v, &end, 10);
        if (!end || *end != 0 || errno != 0 || u == 0 || u > INT64_MAX) {
                *why = "must be a number of microseconds, 1 or more";
                return -EINVAL;
        }
        c->call_timeout_usec = u;
        return 0;
}

static int parse_tracing_enabled(const char *v, SdloopEnvConfig *c, const char **why) {
        if (parse_bool(v, &c->tracing_enabled) < 0) {
                *why = "must be true or false";
                return -EINVAL;
        }
        return 0;
}

static int parse_collector_target(const char *v, SdloopEnvConfig *c, const char **why) {
        if (isempty(v) || strlen(v) > 1024 || strpbrk(v, " \t") || has_control(v)) {
                *why = "must be host:port or an http(s):// URL, without spaces";
                return -EINVAL;
        }
        if (!strstr(v, "://") && !strrchr(v, ':')) {
                *why = "must be host:port or an http(s):// URL";
                return -EINVAL;
        }
        return free_and_strdup(&c->tracing_collector_target, v) < 0 ? -ENOMEM : 0;
}

static int parse_sampling_ratio(const char *v, SdloopEnvConfig *c, const char **why) {
        char *end = NULL;
        double d;

        errno = 0;
        d = strtod(v, &end);
        if (isempty(v) || !end || *end != 0 || errno != 0 || !isfinite(d) || d < 0 || d > 1) {
                *why = "must be a number in [0, 1]";
                return -EINVAL;
        }
        c->tracing_sampling_ratio = d;
        return 0;
}

static int parse_tls_cert_path(const char *v, SdloopEnvConfig *c, const char **why) {
        if (v[0] != '/' || strlen(v) > 4096 || has_control(v)) {
                *why = "must be an absolute path";
                return -EINVAL;
        }
        return free_and_strdup(&c->tracing_tls_cert_path, v) < 0 ? -ENOMEM : 0;
}

static const struct {
        const char *name;
        parse_fn parse;
} variables[] = {
        { "SDLOOP_PLUGIN", parse_instance },
        { "SDLOOP_LOG_LEVEL", parse_log_level },
        { "SDLOOP_METRICS", parse_metrics },
        { "SDLOOP_CALL_TIMEOUT_USEC", parse_call_timeout },
        { "CL_TRACING_ENABLED", parse_tracing_enabled },
        { "CL_TRACING_COLLECTOR_TARGET", parse_collector_target },
        { "CL_TRACING_SAMPLING_RATIO", parse_sampling_ratio },
        { "CL_TRACING_TLS_CERT_PATH", parse_tls_cert_path },
};

static bool attribute_key_is_valid(const char *k, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') ||
                      k[i] == '_' || k[i] == '.' || k[i] == '-'))
                        return false;
        return true;
}

static int parse_attribute(const char *entry, SdloopEnvConfig *c, const char **why) {
        const char *key = entry + strlen(ATTRIBUTE_PREFIX), *eq = strchr(key, '=');
        size_t n = strv_length(c->tracing_attributes);
        char **l;

        if (!attribute_key_is_valid(key, eq - key)) {
                *why = "the attribute's name must be letters, digits, \"_\", \".\" or \"-\"";
                return -EINVAL;
        }
        if (strlen(eq + 1) > VALUE_MAX || !utf8_is_valid(eq + 1) || has_control(eq + 1)) {
                *why = "must be at most 256 bytes of UTF-8 without control characters";
                return -EINVAL;
        }
        l = reallocarray(c->tracing_attributes, n + 2, sizeof(char *));
        if (!l)
                return -ENOMEM;
        c->tracing_attributes = l;
        l[n] = strdup(key);
        l[n + 1] = NULL;
        return l[n] ? 0 : -ENOMEM;
}

int sdloop_env_config_parse(char * const *env, SdloopEnvConfig *ret, char **ret_error) {
        SdloopEnvConfig c;
        int r = 0;

        if (!ret)
                return -EINVAL;
        sdloop_env_config_init(&c);

        for (char * const *e = env ?: environ; e && *e; e++) {
                const char *eq = strchr(*e, '='), *why = NULL;
                size_t l;

                if (!eq)
                        continue;
                l = eq - *e;
                if (strncmp(*e, ATTRIBUTE_PREFIX, strlen(ATTRIBUTE_PREFIX)) == 0)
                        r = parse_attribute(*e, &c, &why);
                else
                        for (size_t i = 0; i < ELEMENTSOF(variables); i++)
                                if (strlen(variables[i].name) == l && strncmp(*e, variables[i].name, l) == 0) {
                                        r = variables[i].parse(eq + 1, &c, &why);
                                        break;
                                }
                if (r < 0) {
                        if (ret_error && why) {
                                _cleanup_free_ char *quoted = NULL;
                                size_t size = 64 + 2 + 3 + 1;

                                /* The value quoted and cut, as every error text quotes what it got. */
                                quoted = malloc(size);
                                if (quoted)
                                        (void) sdloop_escape_into(quoted, size, eq + 1, SIZE_MAX, SDLOOP_ESCAPE_QUOTE);
                                if (asprintf(ret_error, "%.*s: %s %s", (int) l, *e, strempty(quoted), why) < 0)
                                        *ret_error = NULL;
                        } else if (ret_error)
                                *ret_error = NULL;
                        sdloop_env_config_done(&c);
                        return r;
                }
        }

        *ret = c;
        return 0;
}

int sdloop_env_config_to_env(const SdloopEnvConfig *c, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r = 0;

        if (!c || !ret)
                return -EINVAL;
        if (c->log_level > 7 || (c->tracing_sampling_ratio >= 0 && c->tracing_sampling_ratio > 1) ||
            isnan(c->tracing_sampling_ratio))
                return -EINVAL;

        l = new0(char *, 8 + strv_length(c->tracing_attributes) + 1);
        if (!l)
                return -ENOMEM;

#define PUT(...) do { if (r >= 0 && asprintf(&l[n++], __VA_ARGS__) < 0) { l[--n] = NULL; r = -ENOMEM; } } while (0)
        if (c->instance)
                PUT("SDLOOP_PLUGIN=%s", c->instance);
        if (c->log_level >= 0)
                PUT("SDLOOP_LOG_LEVEL=%s", level_names[c->log_level]);
        PUT("SDLOOP_METRICS=%s", c->metrics ? "true" : "false");
        if (c->call_timeout_usec > 0)
                PUT("SDLOOP_CALL_TIMEOUT_USEC=%" PRIu64, c->call_timeout_usec);
        PUT("CL_TRACING_ENABLED=%s", c->tracing_enabled ? "true" : "false");
        if (c->tracing_collector_target)
                PUT("CL_TRACING_COLLECTOR_TARGET=%s", c->tracing_collector_target);
        if (c->tracing_sampling_ratio >= 0)
                /* %.17g reads back as the same double. */
                PUT("CL_TRACING_SAMPLING_RATIO=%.17g", c->tracing_sampling_ratio);
        if (c->tracing_tls_cert_path)
                PUT("CL_TRACING_TLS_CERT_PATH=%s", c->tracing_tls_cert_path);
        for (char **a = c->tracing_attributes; a && *a; a++)
                PUT(ATTRIBUTE_PREFIX "%s", *a);
#undef PUT
        if (r < 0)
                return r;

        /* What we write must be what a plugin reads: check it the way it will. */
        {
                SdloopEnvConfig back;

                r = sdloop_env_config_parse(l, &back, NULL);
                if (r < 0)
                        return r;
                sdloop_env_config_done(&back);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

void sdloop_env_config_apply(const SdloopEnvConfig *c) {
        if (!c)
                return;
        if (c->log_level >= 0)
                sdloop_log_set_max_level(c->log_level);
        sdloop_metrics_set_enabled(c->metrics);
        sdloop_tracing_set_enabled(c->tracing_enabled);
        if (c->tracing_sampling_ratio >= 0)
                (void) sdloop_tracing_set_sampling_ratio(c->tracing_sampling_ratio);
}
