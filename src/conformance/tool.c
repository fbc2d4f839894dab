/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-conformance --kind relayer|median [--recovery] [--bad-input] [--junit FILE] -- PLUGIN [ARGS…]
 *
 * Starts PLUGIN as sdloopd's exec backend does (socket activation), plays the host and runs the
 * conformance suite against it: the handshake, every method of every interface of its kind, bad input,
 * the live introspection against the contract, a clean stop, and with --recovery the crash-after-N cycle
 * through the host library's recovery. One TAP line per check; exit status 0 when all passed. */

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bad-input.h"
#include "config.h"
#include "fixtures.h"
#include "macro.h"
#include "static.h"
#include "suite.h"
#include "tool.h"

#define PROVIDER_INTERFACES \
        "Service,OffchainConfigDigester,ContractConfigTracker,ContractTransmitter,ReportCodec,MedianContract," \
        "OnchainConfigCodec"

/* What a kind's run leaves open for introspection and bad input. */
typedef struct Objects {
        char *relayer, *provider;      /* relayer kind */
        char *factory, *reporting_plugin; /* median kind */
        ToolHost host;
        ConformanceObjects keep;       /* the fixture suite's */
        ToolStaticRelayer fixtures;
        SdloopObject *keystore;
} Objects;

static void objects_done(Objects *x) {
        free(x->relayer);
        free(x->provider);
        free(x->factory);
        free(x->reporting_plugin);
        tool_host_done(&x->host);
        conformance_objects_done(&x->keep);
        sdloop_object_close(x->keystore);
        tool_static_relayer_done(&x->fixtures);
}

/* --- relayer ---------------------------------------------------------------------------------------- */

static void run_relayer(Tap *t, const ToolOptions *o, SdloopPeer *peer, Objects *x) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopRelayArgs relay_args;
        SdloopPluginArgs plugin_args;
        int r;

        if (o->fixtures) {
                r = conformance_run_plugin_relayer(peer, &x->keep, &error);
                if (!tap_check_call(t, r, &error, "relayer: the fixture suite (NewRelayer with the keystore, "
                                                  "every provider, every Relayer method)"))
                        return;
                x->relayer = TAKE_PTR(x->keep.relayer);
                x->provider = TAKE_PTR(x->keep.median_provider);
                return;
        }

        r = tool_host_export_keystore(&x->host, peer);
        if (!tap_check_call(t, r, NULL, "host: the keystore exported"))
                return;
        r = sdloop_plugin_relayer_new_relayer(peer, o->relayer_config ?: FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH,
                                              &x->relayer, &error);
        if (!tap_check_call(t, r, &error, "PluginRelayer.NewRelayer()"))
                return;
        sd_bus_error_free(&error);
        if (tool_check_relayer(o, peer, x->relayer, t, &error) < 0)
                return;

        tool_relay_args(o, FIXTURE_PROVIDER_TYPE_MEDIAN, &relay_args);
        tool_plugin_args(o, &plugin_args);
        r = sdloop_relayer_new_plugin_provider(peer, x->relayer, &relay_args, &plugin_args, &x->provider, &error);
        if (!tap_check_call(t, r, &error, "Relayer.NewPluginProvider(\"median\")"))
                return;
        sd_bus_error_free(&error);
        (void) tool_check_provider(o, peer, x->provider, t, &error);
}

/* --- median ----------------------------------------------------------------------------------------- */

static void run_median(Tap *t, const ToolOptions *o, SdloopPeer *peer, Objects *x) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        SdloopMedianDeps deps;
        int r;

        if (o->fixtures) {
                r = tool_static_relayer_start(&x->fixtures, &error);
                if (!tap_check_call(t, r, &error, "host: the static relayer's provider"))
                        return;
                r = conformance_run_plugin_median(peer, x->fixtures.host, x->fixtures.provider, &x->keep, &error);
                if (!tap_check_call(t, r, &error, "median: the fixture suite (NewMedianFactory with the host's "
                                                  "objects, every ReportingPlugin method)"))
                        return;
                x->factory = TAKE_PTR(x->keep.factory);
                sd_bus_error_free(&error);
                r = sdloop_reporting_plugin_factory_new_reporting_plugin(peer, x->factory,
                                                                         &fixture_reporting_plugin_config,
                                                                         &x->reporting_plugin, &info, &error);
                tap_check_call(t, r, &error, "ReportingPluginFactory.NewReportingPlugin() once more");
                return;
        }

        r = tool_host_export_median(&x->host, peer);
        if (!tap_check_call(t, r, NULL, "host: data sources, error log and a median provider exported"))
                return;
        deps = (SdloopMedianDeps) {
                .provider = sdloop_object_get_path(x->host.provider),
                .data_source = sdloop_object_get_path(x->host.data_source),
                .juels_data_source = sdloop_object_get_path(x->host.juels_data_source),
                .error_log = sdloop_object_get_path(x->host.error_log),
        };
        r = sdloop_plugin_median_new_median_factory(peer, &deps, &x->factory, &error);
        if (!tap_check_call(t, r, &error, "PluginMedian.NewMedianFactory()"))
                return;
        sd_bus_error_free(&error);
        if (tool_check_factory(o, peer, x->factory, &x->host, t, &error) < 0)
                return;
        sd_bus_error_free(&error);
        r = sdloop_reporting_plugin_factory_new_reporting_plugin(peer, x->factory, &tool_reporting_plugin_config,
                                                                 &x->reporting_plugin, &info, &error);
        tap_check_call(t, r, &error, "ReportingPluginFactory.NewReportingPlugin() once more");
}

/* --- what every plugin must do ------------------------------------------------------------------------ */

static bool check_handshake(Tap *t, const ToolOptions *o, SdloopPeer *peer) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_handshake(peer, NULL, &id, &error);
        if (!tap_check_call(t, r, &error, "handshake: org.sdloop1.Plugin's properties (GetAll)"))
                return false;
        tap_note(t, "plugin %s, version %s, kind %s, protocol %u", strempty(id.name), strempty(id.version),
                 strempty(id.kind), id.protocol_version);
        tap_check(t, !isempty(id.name) && !isempty(id.version), "handshake: Name and Version set",
                  "Name \"%s\", Version \"%s\"", strempty(id.name), strempty(id.version));
        tap_check(t, id.protocol_version == SDLOOP_PROTOCOL_VERSION, "handshake: ProtocolVersion",
                  "expected %u, got %u", SDLOOP_PROTOCOL_VERSION, id.protocol_version);
        return tap_check(t, streq_ptr(id.kind, o->kind), "handshake: Kind", "expected \"%s\", got \"%s\"",
                         o->kind, strempty(id.kind));
}

static void check_service(Tap *t, SdloopPeer *peer, const char *path, const char *what) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **report = NULL;
        _cleanup_free_ char *name = NULL;
        int r;

        if (asprintf(&name, "%s: Service.Ready()", what) < 0)
                return;
        tap_check_call(t, sdloop_service_ready(peer, path, &error), &error, name);
        sd_bus_error_free(&error);
        free(name);
        if (asprintf(&name, "%s: Service.HealthReport(), every entry healthy", what) < 0)
                return;
        r = sdloop_service_health_report(peer, path, &report, &error);
        if (r >= 0)
                for (char **k = report; k && k[0] && k[1]; k += 2)
                        if (!isempty(k[1])) {
                                r = conformance_fail(&error, "%s: %s", k[0], k[1]);
                                break;
                        }
        tap_check_call(t, r, &error, name);
}

static void bad_input_result(const char *name, int r, const char *message, void *userdata) {
        Tap *t = userdata;
        _cleanup_free_ char *full = NULL;

        if (asprintf(&full, "bad input: %s", name) < 0)
                return;
        tap_check(t, r >= 0, full, "%s", strempty(message));
}

static void run_bad_input(Tap *t, const ToolOptions *o, SdloopPeer *peer, Objects *x) {
        bool relayer = streq(o->kind, SDLOOP_KIND_RELAYER);
        ConformanceTargets targets = {
                .timestamp = o->fixtures ? fixture_report_timestamp : tool_timestamp,
                .query = o->fixtures ? fixture_query : (SdloopBytes) {},
                .relayer_config = o->relayer_config,
                .fixtures = o->fixtures,
                /* The relayer kind has no median host: NewMedianFactory's paths only fill the call. */
                .provider = SDLOOP_ROOT_PATH "/host/provider/1",
                .data_source = SDLOOP_ROOT_PATH "/host/data_source/1",
                .juels_data_source = SDLOOP_ROOT_PATH "/host/data_source/2",
                .error_log = SDLOOP_ROOT_PATH "/host/error_log/1",
        };

        if (relayer) {
                if (!x->relayer || !x->provider)
                        return tap_skip(t, "bad input", "no relayer and provider to call");
                targets.peer[CONFORMANCE_T_RELAYER_ROOT] = targets.peer[CONFORMANCE_T_RELAYER] =
                        targets.peer[CONFORMANCE_T_PROVIDER] = peer;
                targets.path[CONFORMANCE_T_RELAYER_ROOT] = SDLOOP_ROOT_PATH;
                targets.path[CONFORMANCE_T_RELAYER] = x->relayer;
                targets.path[CONFORMANCE_T_PROVIDER] = x->provider;
        } else {
                if (!x->factory || !x->reporting_plugin)
                        return tap_skip(t, "bad input", "no factory and reporting plugin to call");
                targets.peer[CONFORMANCE_T_MEDIAN_ROOT] = targets.peer[CONFORMANCE_T_FACTORY] =
                        targets.peer[CONFORMANCE_T_REPORTING_PLUGIN] = peer;
                targets.path[CONFORMANCE_T_MEDIAN_ROOT] = SDLOOP_ROOT_PATH;
                targets.path[CONFORMANCE_T_FACTORY] = x->factory;
                targets.path[CONFORMANCE_T_REPORTING_PLUGIN] = x->reporting_plugin;
                if (o->fixtures) {
                        targets.provider = sdloop_proxy_get_path(x->keep.provider_proxy);
                        targets.data_source = sdloop_object_get_path(x->keep.data_source);
                        targets.juels_data_source = sdloop_object_get_path(x->keep.juels_data_source);
                        targets.error_log = sdloop_object_get_path(x->keep.error_log);
                } else {
                        targets.provider = sdloop_object_get_path(x->host.provider);
                        targets.data_source = sdloop_object_get_path(x->host.data_source);
                        targets.juels_data_source = sdloop_object_get_path(x->host.juels_data_source);
                        targets.error_log = sdloop_object_get_path(x->host.error_log);
                }
        }
        (void) conformance_bad_input_run(&targets, NULL, bad_input_result, t);
}

static void run_introspection(Tap *t, const ToolOptions *o, SdloopPeer *peer, Objects *x) {
        ToolIntrospection *i = tool_introspection_new(o);

        if (!i)
                return;
        if (streq(o->kind, SDLOOP_KIND_RELAYER)) {
                tool_introspection_add(i, t, peer, SDLOOP_ROOT_PATH, "Plugin,Service,PluginRelayer");
                if (x->relayer)
                        tool_introspection_add(i, t, peer, x->relayer, "Service,Relayer");
                if (x->provider)
                        tool_introspection_add(i, t, peer, x->provider, PROVIDER_INTERFACES);
        } else {
                tool_introspection_add(i, t, peer, SDLOOP_ROOT_PATH, "Plugin,Service,PluginMedian");
                if (x->factory)
                        tool_introspection_add(i, t, peer, x->factory, "Service,ReportingPluginFactory");
                if (x->reporting_plugin)
                        tool_introspection_add(i, t, peer, x->reporting_plugin, "ReportingPlugin");
        }
        tool_introspection_check(i, t);
        tool_introspection_free(i);
}

/* Closing a parent closes its children: the relayer its provider, the factory its reporting plugin. */
static void run_close(Tap *t, const ToolOptions *o, SdloopPeer *peer, Objects *x) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *parent = x->relayer ?: x->factory, *child = x->provider ?: x->reporting_plugin;
        int r;

        if (!parent)
                return;
        r = conformance_close(peer, parent, &error);
        if (r >= 0 && child)
                r = conformance_check_gone(peer, child, &error);
        tap_check_call(t, r, &error, x->relayer ? "Service.Close() of the relayer closes it and its provider" :
                                                 "Service.Close() of the factory closes it and its reporting plugin");
}

static int run_plugin(Tap *t, const ToolOptions *o) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ToolProcess p = { .notify_fd = -EBADF };
        Objects x = {};
        int r, status = 0;

        r = tool_process_start(o, "conformance", &p);
        if (!tap_check_call(t, r, NULL, "start the plugin (socket activation, LISTEN_FDS=1)"))
                return r;
        r = sdloop_peer_connect(NULL, p.socket_path, &peer);
        if (r >= 0)
                r = sdloop_peer_set_description(peer, "plugin");
        if (!tap_check_call(t, r, NULL, "connect to its socket"))
                goto stop;
        sdloop_peer_set_call_timeout(peer, o->timeout_usec);

        if (check_handshake(t, o, peer)) {
                tap_check(t, tool_process_wait_ready(&p, o->timeout_usec), "sd_notify READY=1",
                          "no READY=1 on $NOTIFY_SOCKET within the timeout");
                check_service(t, peer, SDLOOP_ROOT_PATH, "root");

                if (streq(o->kind, SDLOOP_KIND_RELAYER))
                        run_relayer(t, o, peer, &x);
                else
                        run_median(t, o, peer, &x);
                if (x.relayer)
                        check_service(t, peer, x.relayer, "relayer");
                if (x.factory)
                        check_service(t, peer, x.factory, "factory");

                run_introspection(t, o, peer, &x);
                if (o->bad_input)
                        run_bad_input(t, o, peer, &x);
                run_close(t, o, peer, &x);
        } else
                tap_note(t, "the plugin is not of kind \"%s\": nothing else is checked", o->kind);

stop:
        objects_done(&x);
        peer = sdloop_peer_unref(peer);
        r = tool_process_stop(&p, o->timeout_usec, &status);
        if (r < 0)
                tap_check(t, false, "SIGTERM: a clean exit (status 0)", "%s",
                          r == -ETIMEDOUT ? "still running after the timeout: killed" : strerror(-r));
        else
                tap_check(t, WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM: a clean exit (status 0)",
                          "%s %d", WIFSIGNALED(status) ? "killed by signal" : "exit status",
                          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        tool_process_done(&p);
        return 0;
}

/* --- options ------------------------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static int help(void) {
        printf("sdloop-conformance --kind relayer|median [OPTIONS] -- PLUGIN [ARGS...]\n\n"
               "Run the sdloop conformance suite against a plugin binary, written in any language. The plugin\n"
               "is started as sdloopd starts it (a listening socket passed with LISTEN_FDS) and driven over\n"
               "peer-to-peer D-Bus; every check is one line of TAP on standard output.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --kind=KIND            relayer or median\n"
               "     --bad-input            Also send malformed calls; each must be refused by name\n"
               "     --recovery             Also run the checks while the plugin crashes after N calls\n"
               "     --junit=FILE           Also write the results as JUnit XML\n"
               "     --timeout=SEC          Per-call deadline (default 10)\n"
               "     --crash-step=N         --recovery: process n exits at call n*N (default 10)\n"
               "     --rounds=N             --recovery: rounds of checks (default 3)\n"
               "     --relayer-config=FILE  The config NewRelayer gets\n"
               "     --relay-config=FILE    RelayArgs.relay_config of the providers\n"
               "     --plugin-config=FILE   PluginArgs.plugin_config of the median provider\n"
               "     --fixtures             The plugin is a static implementation: expect the fixtures\n"
               "     --dbus-dir=DIR         The contract's XML (default %s)\n"
               "\nExit status: 0 when every check passed, 1 when one failed, 2 on usage errors.\n",
               SDLOOP_DBUS_INTERFACES_DIR);
        return 0;
}

static int read_file(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *s = NULL;
        size_t n = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (getdelim(&s, &n, '\0', f) < 0 && !feof(f))
                return -errno;
        if (!s && !(s = strdup("")))
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static int parse_uint(const char *s, uint64_t *ret) {
        char *end = NULL;

        errno = 0;
        *ret = strtoull(s, &end, 10);
        return errno != 0 || !end || *end || end == s || *s == '-' ? -EINVAL : 0;
}

static int parse_args(int argc, char *argv[], ToolOptions *o) {
        enum {
                ARG_VERSION = 0x100, ARG_KIND, ARG_BAD_INPUT, ARG_RECOVERY, ARG_JUNIT, ARG_TIMEOUT, ARG_CRASH_STEP,
                ARG_ROUNDS, ARG_RELAYER_CONFIG, ARG_RELAY_CONFIG, ARG_PLUGIN_CONFIG, ARG_FIXTURES, ARG_DBUS_DIR,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "kind", required_argument, NULL, ARG_KIND },
                { "bad-input", no_argument, NULL, ARG_BAD_INPUT },
                { "recovery", no_argument, NULL, ARG_RECOVERY },
                { "junit", required_argument, NULL, ARG_JUNIT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "crash-step", required_argument, NULL, ARG_CRASH_STEP },
                { "rounds", required_argument, NULL, ARG_ROUNDS },
                { "relayer-config", required_argument, NULL, ARG_RELAYER_CONFIG },
                { "relay-config", required_argument, NULL, ARG_RELAY_CONFIG },
                { "plugin-config", required_argument, NULL, ARG_PLUGIN_CONFIG },
                { "fixtures", no_argument, NULL, ARG_FIXTURES },
                { "dbus-dir", required_argument, NULL, ARG_DBUS_DIR },
                {}
        };
        uint64_t u;
        char **file;
        int c, r;

        /* "+": the plugin's own options after PLUGIN are not ours. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                file = NULL;
                switch (c) {
                case 'h':
                        return help(), 0;
                case ARG_VERSION:
                        return puts(SDLOOP_VERSION), 0;
                case ARG_KIND:
                        if (!streq(optarg, SDLOOP_KIND_RELAYER) && !streq(optarg, SDLOOP_KIND_MEDIAN)) {
                                fprintf(stderr, "Unknown kind \"%s\": expected relayer or median.\n", optarg);
                                return -EINVAL;
                        }
                        o->kind = optarg;
                        break;
                case ARG_BAD_INPUT:
                        o->bad_input = true;
                        break;
                case ARG_RECOVERY:
                        o->recovery = true;
                        break;
                case ARG_FIXTURES:
                        o->fixtures = true;
                        break;
                case ARG_JUNIT:
                        o->junit = optarg;
                        break;
                case ARG_DBUS_DIR:
                        o->dbus_dir = optarg;
                        break;
                case ARG_TIMEOUT:
                case ARG_CRASH_STEP:
                case ARG_ROUNDS:
                        if (parse_uint(optarg, &u) < 0 || u == 0 || u > UINT32_MAX) {
                                fprintf(stderr, "Invalid number: %s\n", optarg);
                                return -EINVAL;
                        }
                        if (c == ARG_TIMEOUT)
                                o->timeout_usec = u * USEC_PER_SEC;
                        else if (c == ARG_CRASH_STEP)
                                o->crash_step = u;
                        else
                                o->rounds = (unsigned) u;
                        break;
                case ARG_RELAYER_CONFIG:
                        file = &o->relayer_config;
                        break;
                case ARG_RELAY_CONFIG:
                        file = &o->relay_config;
                        break;
                case ARG_PLUGIN_CONFIG:
                        file = &o->plugin_config;
                        break;
                default:
                        return -EINVAL;
                }
                if (file) {
                        free(*file);
                        *file = NULL;
                        r = read_file(optarg, file);
                        if (r < 0) {
                                fprintf(stderr, "Cannot read %s: %s\n", optarg, strerror(-r));
                                return r;
                        }
                }
        }

        if (!o->kind) {
                fprintf(stderr, "--kind=relayer or --kind=median is required.\n");
                return -EINVAL;
        }
        if (optind >= argc) {
                fprintf(stderr, "No plugin given: sdloop-conformance --kind=%s -- PLUGIN [ARGS...]\n", o->kind);
                return -EINVAL;
        }
        o->command = argv + optind;
        return 1;
}

int main(int argc, char *argv[]) {
        ToolOptions o = {
                .timeout_usec = 10 * USEC_PER_SEC,
                .crash_step = 10,
                .rounds = 3,
                .dbus_dir = getenv("SDLOOP_DBUS_DIR") ?: SDLOOP_DBUS_INTERFACES_DIR,
                .introspection_checker = getenv("SDLOOP_CHECK_INTROSPECTION") ?: SDLOOP_INTROSPECTION_CHECKER,
        };
        char tmpdir[] = "/tmp/sdloop-conformance-XXXXXX";
        _cleanup_free_ char *suite = NULL;
        Tap *t;
        unsigned failed;
        int r;

        r = parse_args(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (!mkdtemp(tmpdir)) {
                fprintf(stderr, "Cannot create a temporary directory: %s\n", strerror(errno));
                return 2;
        }
        o.tmpdir = tmpdir;

        /* Every check line on stdout, in order with what the plugin and the libraries write on stderr. */
        setvbuf(stderr, NULL, _IOLBF, 0);
        if (asprintf(&suite, "sdloop-conformance %s %s", o.kind, o.command[0]) < 0)
                return 2;
        t = tap_new(suite);
        if (!t)
                return 2;
        printf("TAP version 13\n");

        (void) run_plugin(t, &o);
        if (o.recovery)
                (void) tool_run_recovery(t, &o);

        failed = tap_finish(t, o.junit);
        tap_free(t);
        free(o.relayer_config);
        free(o.relay_config);
        free(o.plugin_config);
        /* Only what the tool and the plugin made is in there (sockets, state directories, introspection). */
        (void) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return failed > 0 ? 1 : 0;
}
