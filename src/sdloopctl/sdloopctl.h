/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloopctl: the command line over org.sdloop1 (sdloopd's Manager and PluginInstance objects). Shared
 * declarations of the verb files. Verbs return the process exit status (EXIT_*, below) and print their
 * own errors, one line on stderr each. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "macro.h"

/* Exit statuses scripts may rely on, as systemctl's (LSB) ones. */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,           /* any failure; "health": something is unhealthy */
        EXIT_USAGE = 2,            /* bad command line */
        EXIT_NOT_RUNNING = 3,      /* "status": a plugin is not running */
        EXIT_NO_SUCH_PLUGIN = 4,   /* an unknown plugin name */
};

typedef enum JsonMode {
        JSON_OFF,
        JSON_PRETTY,
        JSON_SHORT,
} JsonMode;

#define SDLOOP_SERVICE              "org.sdloop1"
#define SDLOOP_MANAGER_PATH         "/org/sdloop1"
#define SDLOOP_MANAGER_INTERFACE    "org.sdloop1.Manager"
#define SDLOOP_INSTANCE_INTERFACE   "org.sdloop1.PluginInstance"
#define SDLOOP_INSTANCE_PATH_PREFIX "/org/sdloop1/plugin"
#define SDLOOP_SERVICE_INTERFACE    "org.sdloop1.Service"

/* Manager calls that wait for a plugin to start or stop: sdloopd answers when it is done, or with
 * org.sdloop1.Error.Timeout at the plugin's call timeout. */
#define SDLOOPCTL_MANAGE_TIMEOUT_USEC (300ULL * USEC_PER_SEC)
/* Every other call (--timeout): sdloopd answers those from memory, or within a bound of its own. */
#define SDLOOPCTL_TIMEOUT_USEC_DEFAULT (5ULL * USEC_PER_SEC)

extern JsonMode arg_json;
extern bool arg_legend;
extern bool arg_quiet;
extern bool arg_full;
extern bool arg_user;
extern const char *arg_host;
extern unsigned arg_lines;
extern uint64_t arg_timeout_usec;

/* The bus is this machine's: /proc, the journal and terminals mean something. */
static inline bool bus_is_local(void) {
        return !arg_host;
}

/* --- output.c ---------------------------------------------------------------------------------------- */

#define ANSI_NORMAL         "\x1B[0m"
#define ANSI_HIGHLIGHT      "\x1B[0;1;39m"
#define ANSI_RED            "\x1B[0;1;31m"
#define ANSI_GREEN          "\x1B[0;1;32m"
#define ANSI_YELLOW         "\x1B[0;1;33m"
#define ANSI_GREY           "\x1B[0;38;5;245m"
#define ANSI_UNDERLINE      "\x1B[0;4m"

bool colors_enabled(void);
/* @code when colors are on, "" otherwise (also for NULL). */
const char *ansi(const char *code);
bool is_utf8_locale(void);
const char *glyph_dot(void);
const char *glyph_ellipsis(void);
/* Width available for tables: the terminal's, or SIZE_MAX when not on a terminal or with --full. */
size_t output_columns(void);

/* The color of a PluginInstance.State (or a feed state), NULL for none. */
const char *state_color(const char *state);
bool state_is_running(const char *state);

#define FORMAT_BYTES_MAX 16
char *format_bytes(char *buf, size_t l, uint64_t bytes);
#define FORMAT_TIMESTAMP_MAX 64
/* "Wed 2024-11-27 21:45:01 UTC" in local time; "-" for 0. */
char *format_timestamp(char *buf, size_t l, uint64_t usec);

/* Print @o per --json and a newline. */
int json_print(json_object *o);
json_object *json_string_or_null(const char *s);
/* Add @value under @key to @o; takes @value, also on failure. */
int json_add(json_object *o, const char *key, json_object *value);

void log_error(const char *format, ...) _printf_(1, 2);
/* "<what>: <D-Bus error name>: <message>" (or strerror(r) if @error is unset); returns the exit status
 * that fits: EXIT_NO_SUCH_PLUGIN for org.sdloop1.Error.NotFound, EXIT_FAILED otherwise. */
int log_bus_error(const sd_bus_error *error, int r, const char *format, ...) _printf_(3, 4);
int log_oom(void);

/* The error says no plugin of that name exists (org.sdloop1.Error.NotFound, or no object at its path). */
bool bus_error_is_no_such_plugin(const sd_bus_error *error);

/* --- plugin-info.c ----------------------------------------------------------------------------------- */

typedef struct PluginInfo {
        char *name;
        char *kind;
        char *unit;
        char *state;
        char *object_path;
        char *address;    /* only from plugin_get() */
        char *last_error;
        uint32_t n_restarts;
        uint32_t main_pid;
        uint64_t memory;  /* bytes; UINT64_MAX: unknown */
} PluginInfo;

void plugin_info_done(PluginInfo *p);
void plugin_info_array_free(PluginInfo *a, size_t n);

/* /org/sdloop1/plugin/<escaped name> */
int plugin_object_path(const char *name, char **ret);

/* Manager.ListPlugins, sorted by name, with memory filled in. */
int plugins_list(sd_bus *bus, PluginInfo **ret, size_t *ret_n, sd_bus_error *error);
/* All PluginInstance properties of one plugin, with memory filled in. */
int plugin_get(sd_bus *bus, const char *name, PluginInfo *ret, sd_bus_error *error);
/* PluginInstance.State only. */
int plugin_get_state(sd_bus *bus, const char *name, char **ret, sd_bus_error *error);

json_object *plugin_info_to_json(const PluginInfo *p);

/* --- verbs ------------------------------------------------------------------------------------------- */

/* @args: the verb and its arguments, NULL-terminated. */
int verb_list(sd_bus *bus, char **args);
int verb_status(sd_bus *bus, char **args);
int verb_start_stop(sd_bus *bus, char **args);
int verb_reload(sd_bus *bus, char **args);
int verb_health(sd_bus *bus, char **args);
int verb_feeds(sd_bus *bus, char **args);
