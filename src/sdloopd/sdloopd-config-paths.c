/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Where the configuration, the plugins' sockets and the state are when the configuration does not say. */

#include "config.h"
#include "sdloopd-config-internal.h"

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

int default_socket_directory(DaemonScope scope, char **ret) {
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

int default_state_directory(DaemonScope scope, char **ret) {
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
