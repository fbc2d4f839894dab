/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A plugin's settings, from "defaults" and its own object, and the plugin definitions of "plugins". */

#include <math.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "sdloopd-config-internal.h"

#define PLUGIN_NAME_MAX 64U

/* --- values of plugin settings ------------------------------------------------------------------------ */

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

/* Apply the keys of @obj (at @prefix in p->f) to @pc. */
int parse_settings(Parser *p, const char *prefix, json_object *obj, SettingsContext ctx,
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

void plugin_config_done(DaemonPluginConfig *pc) {
        host_plugin_settings_done(&pc->settings);
        pc->relayer_config = mfree(pc->relayer_config);
}

void plugin_config_init(DaemonPluginConfig *pc) {
        *pc = (DaemonPluginConfig) { .dynamic_user = -1 };
        host_plugin_settings_init(&pc->settings);
}

/* --- plugin definitions ------------------------------------------------------------------------------- */

int load_plugin(Loader *l, ConfigFile *f, const char *name, json_object *obj) {
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
