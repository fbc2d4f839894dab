/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloopd's configuration: /etc/sdloop/sdloopd.json plus the drop-ins, every *.json file in
 * /etc/sdloop/plugins.d (or plugins.d next to the file given with --config), in JSON. The schema is in docs/configuration.md.
 *
 * Loading is all or nothing: a file that does not parse, a key that is not known, a value of the wrong
 * type or out of range, a plugin defined twice, a feed that feed_config_parse() refuses or that names
 * a plugin which cannot serve it — each refuses the whole configuration with one message
 *
 *     FILE:LINE:COLUMN: FIELD.PATH: what is wrong
 *
 * so that sdloopd refuses to start with it, and Reload() keeps running with the configuration it has. */

#include <stdbool.h>
#include <stdint.h>

#include "feed.h"
#include "host-plugin.h"

#define DAEMON_CONFIG_FILE_NAME "sdloopd.json"
#define DAEMON_CONFIG_DROPIN_DIR "plugins.d"

typedef enum DaemonScope {
        DAEMON_SCOPE_SYSTEM,
        DAEMON_SCOPE_USER,
} DaemonScope;

typedef struct ConfigFile ConfigFile;

typedef struct DaemonPluginConfig {
        /* Complete, socket_path included; dynamic_user resolved with daemon_config_resolve(). */
        HostPluginSettings settings;
        int dynamic_user; /* -1: not given, the backend decides */
        /* kind "relayer": the text handed to PluginRelayer.NewRelayer; NULL: create no relayer. */
        char *relayer_config;
        ConfigFile *file; /* where the plugin is defined */
} DaemonPluginConfig;

typedef struct DaemonFeedConfig {
        char *name;
        struct json_object *json; /* the feed's object, as written: what a reload compares */
        FeedConfig *config;   /* as parsed by feed_config_parse(), checked against the plugins */
        ConfigFile *file;
} DaemonFeedConfig;

typedef struct DaemonConfig {
        char *path;              /* the main file (which need not exist when it is the default) */
        char *backend;           /* "auto", "system", "user", "exec"; NULL: not given */
        char *socket_directory;  /* absolute; defaulted */
        char *state_directory;   /* absolute; defaulted */
        /* "metrics": the Prometheus endpoint's address ("127.0.0.1:9466", "[::1]:9466"; NULL: off) and how
         * long a scrape waits for the plugins. */
        char *metrics_listen;
        uint64_t metrics_timeout_usec;

        DaemonPluginConfig *plugins; /* sorted by name */
        size_t n_plugins;
        DaemonFeedConfig *feeds; /* sorted by name */
        size_t n_feeds;

        ConfigFile **files; /* every file read, so that later checks can point into them too */
        size_t n_files;
} DaemonConfig;

/* Load @path (NULL: the default path of @scope, which may be missing) and its drop-ins. On failure,
 * *ret_error gets the message (malloc'd) and a negative errno is returned: -EINVAL for bad contents, others
 * for I/O. */
int daemon_config_load(const char *path, DaemonScope scope, DaemonConfig **ret, char **ret_error);
DaemonConfig *daemon_config_free(DaemonConfig *c);
static inline void daemon_config_freep(DaemonConfig **c) {
        if (*c)
                daemon_config_free(*c);
}

/* Settle what depends on the backend: dynamic_user defaults to true with the system backend when no
 * "user" is given, false otherwise. */
void daemon_config_resolve(DaemonConfig *c, const char *backend);

const DaemonPluginConfig *daemon_config_find_plugin(const DaemonConfig *c, const char *name);

/* A FeedConfig of its own for feed_new(), which takes it over: parsed again from the feed's JSON by
 * the one parser, which accepted it at load time. */
int daemon_feed_config_instantiate(const DaemonFeedConfig *fc, FeedConfig **ret);

/* Whether the two define the same feed (so a reload leaves it alone). */
bool daemon_feed_config_equal(const DaemonFeedConfig *a, const DaemonFeedConfig *b);

/* Whether the two would run the same process in the same way (so a reload leaves it alone). */
bool daemon_plugin_config_equal(const DaemonPluginConfig *a, const DaemonPluginConfig *b);

/* Copy @src's settings into @dst (initialized by the callee). */
int daemon_plugin_settings_copy(const HostPluginSettings *src, HostPluginSettings *dst);

/* The default paths for @scope: /etc/sdloop/sdloopd.json, /run/sdloop/plugin, /var/lib/sdloop (system);
 * $XDG_CONFIG_HOME/sdloop/sdloopd.json, $XDG_RUNTIME_DIR/sdloop/plugin, $XDG_STATE_HOME/sdloop (user).
 * $RUNTIME_DIRECTORY and $STATE_DIRECTORY (set by systemd for the unit) take precedence. */
int daemon_config_default_path(DaemonScope scope, char **ret);

/* "FILE:LINE:COLUMN: FIELD: message" pointing at @field (a path such as "feeds.eth-usd.interval_sec"; the
 * nearest enclosing field that exists in the file when it does not). For checks made after loading. */
char *config_file_error(const ConfigFile *f, const char *field, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
const char *config_file_get_path(const ConfigFile *f);

/* Plugin names: [a-z0-9][a-z0-9_-]{0,63}. */
bool daemon_plugin_name_is_valid(const char *name);
