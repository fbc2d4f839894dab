/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloop-conformance: the conformance suite against a plugin binary in any language. The tool starts the
 * plugin as sdloopd would, plays the host, and reports every check in TAP. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "sdloop.h"

typedef struct Tap Tap;

typedef struct ToolOptions {
        const char *kind;
        bool recovery, bad_input, fixtures;
        const char *junit;
        const char *dbus_dir, *introspection_checker;
        char *relayer_config, *relay_config, *plugin_config; /* file contents */
        uint64_t timeout_usec;
        uint64_t crash_step;
        unsigned rounds;
        char **command; /* the plugin: binary, arguments */
        char *tmpdir;
} ToolOptions;

/* --- tap.c: the report -------------------------------------------------------------------------------- */

Tap *tap_new(const char *suite);
Tap *tap_free(Tap *t);
/* One check: "ok N - name" or "not ok N - name" with @diagnostic (may be NULL) as "# " lines. Returns @ok. */
bool tap_check(Tap *t, bool ok, const char *name, const char *diagnostic_format, ...) _printf_(4, 5);
/* The result of a call: ok for @r >= 0, otherwise the error's name and message. */
bool tap_check_call(Tap *t, int r, const sd_bus_error *error, const char *name);
void tap_skip(Tap *t, const char *name, const char *reason);
void tap_note(Tap *t, const char *format, ...) _printf_(2, 3);
/* The plan and the summary line; the JUnit file if @junit. Returns the number of failed checks. */
unsigned tap_finish(Tap *t, const char *junit);

/* --- process.c: the plugin process, started the way sdloopd's exec backend starts it ------------------- */

typedef struct ToolProcess {
        pid_t pid;
        char *socket_path;
        char *notify_path;
        int notify_fd;
        bool ready;
} ToolProcess;

int tool_process_start(const ToolOptions *o, const char *name, ToolProcess *ret);
/* Wait for READY=1 on the notify socket until @timeout_usec; false if it did not come (or the process
 * exited). */
bool tool_process_wait_ready(ToolProcess *p, uint64_t timeout_usec);
/* SIGTERM; the exit status as waitpid() says it (-ETIMEDOUT: killed after @timeout_usec). */
int tool_process_stop(ToolProcess *p, uint64_t timeout_usec, int *ret_status);
void tool_process_done(ToolProcess *p);

/* --- host.c: the host's objects for a plugin that is not the static one -------------------------------- */

#define TOOL_VALUE "200050000000"
#define TOOL_JUELS "3"

typedef struct ToolHost {
        SdloopObject *keystore, *data_source, *juels_data_source, *error_log;
        SdloopObject *provider; /* the reference median provider (median kind) */
        unsigned n_observes, n_transmits;
} ToolHost;

/* Keystore at STATIC_KEYSTORE_PATH: Accounts() → one account, Sign() of anything. */
int tool_host_export_keystore(ToolHost *h, SdloopPeer *peer);
/* Two data sources, an error log that takes any message, and a median provider whose report codec,
 * contract and onchain config codec are the tool's own (tool_report_median() reads its reports). */
int tool_host_export_median(ToolHost *h, SdloopPeer *peer);
void tool_host_done(ToolHost *h);

/* The ReportingPluginConfig the tool gives a median plugin: n = 4, f = 1, the provider's config. */
extern const SdloopReportingPluginConfig tool_reporting_plugin_config;
/* The report timestamp the tool's rounds use: that config's digest, epoch 1, round 1. */
extern const SdloopReportTimestamp tool_timestamp;
/* The median a report of the reference codec carries (malloc'd), or -EINVAL. */
int tool_report_median(const SdloopBytes *report, char **ret);

/* --- relayer.c, median.c: the checks of each kind ---------------------------------------------------- */

/* Every method of a relayer, the objects it creates left open in *@ret_relayer/@ret_provider (may be
 * NULL: closed) for introspection and bad input. */
int tool_run_relayer(Tap *t, const ToolOptions *o, SdloopPeer *peer, char **ret_relayer, char **ret_provider);
int tool_run_median(Tap *t, const ToolOptions *o, SdloopPeer *peer, ToolHost *host, char **ret_factory,
                    char **ret_reporting_plugin);

/* Synchronous checks also run through the host's handles (recovery.c): each returns 0 or fails @error. */
int tool_check_relayer(const ToolOptions *o, SdloopPeer *peer, const char *relayer, Tap *t, sd_bus_error *error);
int tool_check_provider(const ToolOptions *o, SdloopPeer *peer, const char *provider, Tap *t, sd_bus_error *error);
int tool_check_factory(const ToolOptions *o, SdloopPeer *peer, const char *factory, ToolHost *host, Tap *t,
                       sd_bus_error *error);

/* The relay args and plugin args of the options. */
void tool_relay_args(const ToolOptions *o, const char *provider_type, SdloopRelayArgs *ret);
void tool_plugin_args(const ToolOptions *o, SdloopPluginArgs *ret);

/* --- recovery.c -------------------------------------------------------------------------------------- */

int tool_run_recovery(Tap *t, const ToolOptions *o);

/* --- introspect.c ------------------------------------------------------------------------------------ */

typedef struct ToolIntrospection ToolIntrospection;

ToolIntrospection *tool_introspection_new(const ToolOptions *o);
ToolIntrospection *tool_introspection_free(ToolIntrospection *i);
/* Fetch @path's live introspection; @expect: the interfaces it must carry ("Service,Relayer"). */
void tool_introspection_add(ToolIntrospection *i, Tap *t, SdloopPeer *peer, const char *path, const char *expect);
/* One check per object, against the contract's XML. */
void tool_introspection_check(ToolIntrospection *i, Tap *t);

/* --- static-pair.c: the static relayer in this process, for a static median plugin's provider --------- */

typedef struct ToolStaticRelayer {
        SdloopPeer *host, *plugin; /* the two ends of a socketpair */
        SdloopObject *root;
        char *relayer, *provider; /* the median provider, on @host */
} ToolStaticRelayer;

int tool_static_relayer_start(ToolStaticRelayer *ret, sd_bus_error *error);
void tool_static_relayer_done(ToolStaticRelayer *s);
