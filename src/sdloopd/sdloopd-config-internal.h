/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading sdloopd's JSON configuration. json-c parses (strictly: no comments, no trailing commas, valid
 * UTF-8); a small scanner of our own then walks the same text once to learn where every key and value
 * sits, so that an error can name its file, line and column, and to refuse duplicate keys, which json-c
 * would silently resolve to the last one. Integers are read from their literal text, so that an
 * out-of-range number is an error rather than a saturated value.
 *
 * The parts (sdloopd-config.h says what is read):
 *
 *   sdloopd-config-file.c     a file: reading it, where its fields are, errors that point into it
 *   sdloopd-config-scan.c     the position scanner
 *   sdloopd-config-parse.c    the field helpers: typed values, errors naming the field, known keys
 *   sdloopd-config-plugin.c   plugin settings ("defaults" and each plugin's) and the plugin definitions
 *   sdloopd-config-feed.c     the feed definitions and their checks against the plugins
 *   sdloopd-config-paths.c    the default paths of each scope
 *   sdloopd-config-compare.c  what a reload compares, and copies of plugin settings
 *   sdloopd-config.c          the main file, the drop-ins, the whole configuration */

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "sdloopd-config.h"

/* --- files and positions (sdloopd-config-file.c) ------------------------------------------------------ */

typedef struct Position {
        char *path;     /* "plugins.ledger.args[2]" */
        size_t key;     /* offset of the key's opening quote; SIZE_MAX for array elements and the root */
        size_t value;   /* offset of the value's first character */
        size_t end;     /* offset just past the value */
} Position;

struct ConfigFile {
        char *path;
        char *text;
        size_t size;
        json_object *root;
        Position *positions;
        size_t n_positions;
};

typedef enum PositionKind {
        AT_VALUE,
        AT_KEY,
} PositionKind;

ConfigFile *config_file_free(ConfigFile *f);
void offset_to_line_column(const char *text, size_t size, size_t offset, unsigned *ret_line,
                           unsigned *ret_column);
const Position *config_file_find(const ConfigFile *f, const char *path);
size_t config_file_locate(const ConfigFile *f, const char *field, PositionKind kind);
char *config_file_verror(const ConfigFile *f, const char *field, PositionKind kind, const char *format,
                         va_list ap);
int position_describe(const ConfigFile *f, const char *field, char **ret);

int errorf(char **error, const char *format, ...) _printf_(2, 3);
int config_file_read(const char *path, ConfigFile **ret, char **error);

/* --- the position scanner (sdloopd-config-scan.c) ----------------------------------------------------- */

char *path_member(const char *parent, const char *key);
/* Fills f->positions from f->text, which json-c has accepted; refuses duplicate keys. */
int config_file_scan(ConfigFile *f, char **error);

/* --- field helpers (sdloopd-config-parse.c) ----------------------------------------------------------- */

typedef struct Parser {
        ConfigFile *f;
        char **error;
} Parser;

int field_error(Parser *p, const char *field, const char *format, ...) _printf_(3, 4);
int key_error(Parser *p, const char *field, const char *format, ...) _printf_(3, 4);
int type_error(Parser *p, const char *field, const char *expected);
int get_string(Parser *p, const char *field, json_object *v, const char *expected, const char **ret);
int get_bool(Parser *p, const char *field, json_object *v, bool *ret);
int get_uint64(Parser *p, const char *field, json_object *v, const char *expected, uint64_t min,
               uint64_t max, uint64_t *ret);
int get_seconds(Parser *p, const char *field, json_object *v, bool allow_zero, uint64_t *ret);
int get_strv(Parser *p, const char *field, json_object *v, char ***ret);
int unknown_key(Parser *p, const char *field, const char * const *keys);
bool key_is_known(const char *key, const char * const *keys);

/* --- plugin settings (sdloopd-config-plugin.c) -------------------------------------------------------- */

typedef enum SettingsContext {
        IN_DEFAULTS,
        IN_PLUGIN,
} SettingsContext;

int parse_settings(Parser *p, const char *prefix, json_object *obj, SettingsContext ctx,
                   DaemonPluginConfig *pc);
void plugin_config_done(DaemonPluginConfig *pc);
void plugin_config_init(DaemonPluginConfig *pc);

/* --- the whole configuration -------------------------------------------------------------------------- */

typedef struct Loader {
        DaemonConfig *c;
        char **error;
        DaemonScope scope;
        /* "defaults" of the main file, applied under every plugin. */
        ConfigFile *defaults_file;
        json_object *defaults;
} Loader;

/* Each adds the definition @name of section "plugins" or "feeds" of @f. */
int load_plugin(Loader *l, ConfigFile *f, const char *name, json_object *obj);
int load_feed(Loader *l, ConfigFile *f, const char *name, json_object *obj);
int check_feeds(Loader *l);

/* --- default paths (sdloopd-config-paths.c) ----------------------------------------------------------- */

int default_socket_directory(DaemonScope scope, char **ret);
int default_state_directory(DaemonScope scope, char **ret);
