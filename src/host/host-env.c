/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The environment of a plugin, the same for every backend: its EnvConfig (sdloop-env.h) — the instance
 * name, and the log level, tracing and metrics settings the host itself was started with — then the
 * plugin's own settings ("environment" in sdloopd.json), which may override all but the instance name. */

#include "host-plugin.h"
#include "macro.h"
#include "sdloop-env.h"
#include "sdloop-log.h"

static bool env_key_in(const char *entry, char **list) {
        size_t l = strcspn(entry, "=");

        for (char **i = list; i && *i; i++)
                if (strncmp(*i, entry, l) == 0 && (*i)[l] == '=')
                        return true;
        return false;
}

int host_plugin_environment(HostPlugin *p, char ***ret) {
        _cleanup_(sdloop_env_config_done) SdloopEnvConfig c = {};
        _cleanup_strv_free_ char **config = NULL, **env = NULL;
        _cleanup_free_ char *error = NULL;
        size_t n = 0;
        int r;

        /* What the host was given is checked as a plugin will check it; a bad value is the host's to
         * report, and the plugin then gets none of it (rather than refusing to start over it). */
        r = sdloop_env_config_parse(NULL, &c, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning("Plugin %s: not passing the host's EnvConfig on: %s", p->settings.name, strempty(error));
                sdloop_env_config_init(&c);
        }
        r = free_and_strdup(&c.instance, p->settings.name);
        if (r < 0)
                return r;
        if (p->settings.call_timeout_usec > 0)
                c.call_timeout_usec = p->settings.call_timeout_usec;

        r = sdloop_env_config_to_env(&c, &config);
        if (r < 0)
                return log_error_errno(r, "Plugin %s: cannot build its environment: %m", p->settings.name);

        env = new0(char *, strv_length(config) + strv_length(p->settings.environment) + 1);
        if (!env)
                return -ENOMEM;
        for (char **i = config; i && *i; i++)
                if (!env_key_in(*i, p->settings.environment) || strncmp(*i, "SDLOOP_PLUGIN=", 14) == 0) {
                        env[n] = strdup(*i);
                        if (!env[n++])
                                return -ENOMEM;
                }
        for (char **i = p->settings.environment; i && *i; i++) {
                if (strncmp(*i, "SDLOOP_PLUGIN=", 14) == 0)
                        continue;
                env[n] = strdup(*i);
                if (!env[n++])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(env);
        return 0;
}
