/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-bench-two-kill: kill -9 of two plugins at once against kill -9 of one. A relayer (the conformance
 * test plugin's static relayer, with a provider) and a dependent median plugin whose factory is handed the
 * relayer's provider through the host's proxy (HostHandleOps.needs orders its re-creation). Trials
 * alternate:
 *
 *   single: kill -9 of the median plugin; time until a call through the factory's handle is answered
 *           (reconnect, handshake, re-create the factory on the new process, then the call);
 *   two:    kill -9 of the relayer and the median plugin in one go; the same call through the same handle
 *           (both recover side by side; the factory is re-created once the provider is back).
 *
 *   sdloop-bench-two-kill --plugin TEST_PLUGIN [--backend exec|system] [--trials N] [--sandbox yes|no]
 *
 * Prints one JSON object: both distributions (µs) and the ratio of their medians. Timings are reported,
 * never asserted. */

#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>

#include "bench.h"
#include "fixtures.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"
#include "static.h"

Host *host;
uint8_t payload16[16];
uint8_t payload64k[64 * 1024];

static const HostBackend *arg_backend = &host_backend_exec;
static const char *arg_plugin;
static unsigned arg_trials = 10;
static int arg_sandbox = -1;
static char *socket_dir;

typedef struct Pair {
        HostPlugin *relayer, *median;
        HostHandle *relayer_h, *provider_h, *factory_h;
        SdloopProxy *proxy;
        char *data_source, *juels_data_source, *error_log;
} Pair;

static Pair P;

static int relayer_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        return static_keystore_new(peer, NULL);
}

static int median_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        SdloopObject *ds, *juels, *el;
        int r;

        r = static_data_source_new(peer, FIXTURE_VALUE, &ds);
        if (r >= 0)
                r = static_data_source_new(peer, FIXTURE_JUELS_PER_FEE_COIN, &juels);
        if (r >= 0)
                r = static_error_log_new(peer, &el);
        if (r < 0)
                return r;
        free(P.data_source);
        free(P.juels_data_source);
        free(P.error_log);
        P.data_source = strdup(sdloop_object_get_path(ds));
        P.juels_data_source = strdup(sdloop_object_get_path(juels));
        P.error_log = strdup(sdloop_object_get_path(el));

        /* The relayer's provider, by proxy, pointed at wherever it lives now. */
        if (P.proxy) {
                host_handle_unwatch(P.provider_h, P.proxy);
                P.proxy = sdloop_proxy_free(P.proxy);
        }
        r = sdloop_proxy_new(peer, "/org/sdloop1/host/provider/1", NULL, NULL, &P.proxy);
        if (r < 0)
                return r;
        return host_handle_watch(P.provider_h, P.proxy);
}

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, NULL,
                                                       host_handle_created_reply, h, ret_slot);
}

static int provider_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_relayer_new_plugin_provider_async(peer, parent_path, &fixture_relay_args, &fixture_plugin_args,
                                                        NULL, host_handle_created_reply, h, ret_slot);
}

static int factory_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        SdloopMedianDeps deps = {
                .provider = sdloop_proxy_get_path(P.proxy),
                .data_source = P.data_source,
                .juels_data_source = P.juels_data_source,
                .error_log = P.error_log,
        };

        return sdloop_plugin_median_new_median_factory_async(peer, &deps, NULL, host_handle_created_reply, h, ret_slot);
}

static HostHandle *factory_needs(HostHandle *h) {
        return P.provider_h;
}

static const HostHandleOps relayer_ops = { .kind = "relayer", .create = relayer_create };
static const HostHandleOps provider_ops = { .kind = "provider", .create = provider_create };
static const HostHandleOps factory_ops = { .kind = "factory", .create = factory_create, .needs = factory_needs };

static HostPlugin *plugin_add(const char *name, const char *mode) {
        HostPluginSettings s;
        HostPlugin *p;
        int r;

        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup(streq(mode, "relayer") ? SDLOOP_KIND_RELAYER : SDLOOP_KIND_MEDIAN);
        s.binary = strdup(arg_plugin);
        s.args = new0(char *, 2);
        s.environment = new0(char *, 2);
        if (!s.name || !s.kind || !s.binary || !s.args || !s.environment)
                die("out of memory");
        if (asprintf(&s.args[0], "--mode=%s", mode) < 0 || !(s.environment[0] = strdup("SDLOOP_LOG_LEVEL=warning")))
                die("out of memory");
        if (asprintf(&s.socket_path, "%s/%s.sock", socket_dir, name) < 0)
                die("out of memory");
        /* As sdloop-bench's recovery figures: relaunched at once, killed on purpose many times. */
        s.restart_usec = 0;
        s.start_limit_interval_usec = 0;
        s.call_timeout_usec = 30 * USEC_PER_SEC;
        if (arg_sandbox >= 0)
                s.sandbox = arg_sandbox;
        r = host_plugin_new(host, &s, &p);
        if (r < 0)
                die("host_plugin_new(%s): %s", name, strerror(-r));
        return p;
}

static void setup(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        P.relayer = plugin_add("bench-relayer", "relayer");
        P.relayer->on_connect = relayer_on_connect;
        r = host_plugin_start(P.relayer, &error);
        if (r >= 0)
                r = host_handle_new(P.relayer, NULL, &relayer_ops, NULL, &P.relayer_h, &error);
        if (r >= 0)
                r = host_handle_new(P.relayer, P.relayer_h, &provider_ops, NULL, &P.provider_h, &error);
        if (r < 0)
                die("relayer: %s", error_text(&error, r));

        P.median = plugin_add("bench-median", "median");
        P.median->on_connect = median_on_connect;
        r = host_plugin_start(P.median, &error);
        if (r >= 0)
                r = host_handle_new(P.median, NULL, &factory_ops, NULL, &P.factory_h, &error);
        if (r < 0)
                die("median: %s", error_text(&error, r));
        sd_bus_error_free(&error);
}

static int call_ready(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "Ready", NULL, error, NULL);
}

static void factory_call_or_die(const char *when) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = host_handle_call(P.factory_h, call_ready, NULL, &error);
        if (r < 0)
                die("factory Ready() %s: %s", when, error_text(&error, r));
        sd_bus_error_free(&error);
}

/* Until both run with a known MainPID that is not one of the killed ones. */
static void settle(uint32_t old_relayer, uint32_t old_median) {
        uint64_t deadline = host_now() + 30 * USEC_PER_SEC;

        idle(200 * USEC_PER_MSEC);
        while (P.relayer->main_pid == 0 || P.relayer->main_pid == old_relayer || P.median->main_pid == 0 ||
               P.median->main_pid == old_median || P.relayer->state != HOST_PLUGIN_RUNNING ||
               P.median->state != HOST_PLUGIN_RUNNING) {
                if (host_now() >= deadline)
                        die("the plugins did not settle");
                idle(10 * USEC_PER_MSEC);
        }
}

static void run(void) {
        Samples single = {}, two = {};

        setup();
        factory_call_or_die("at first");
        settle(0, 0);
        progress("two-plugin kill (%s backend): %u trials each", arg_backend->name, arg_trials);

        for (unsigned i = 0; i < 2 * arg_trials; i++) {
                bool both = i % 2 == 1;
                uint32_t rp = P.relayer->main_pid, mp = P.median->main_pid;
                uint64_t t0, t1;

                for (unsigned j = 0; j < 50; j++)
                        factory_call_or_die("before the kill");
                t0 = now_ns();
                if (both && kill((pid_t) rp, SIGKILL) < 0)
                        die("kill %" PRIu32 ": %m", rp);
                if (kill((pid_t) mp, SIGKILL) < 0)
                        die("kill %" PRIu32 ": %m", mp);
                factory_call_or_die("after kill -9");
                t1 = now_ns();
                samples_add(both ? &two : &single, t1 - t0);
                settle(both ? rp : 0, mp);
        }

        double p_single = dist_p50(&single), p_two = dist_p50(&two);
        progress("kill -9 median → factory call answered p50 %.0f µs; kill -9 relayer + median → p50 %.0f µs; "
                 "ratio %.2f", p_single, p_two, p_two / p_single);
        fprintf(out, "{\"backend\": \"%s\", \"trials\": %u, \"restart_usec\": %" PRIu64 ",\n"
                "  \"what\": \"kill -9 → host_handle_call(factory handle of the median plugin, Service.Ready) "
                "answered; the factory is handed the relayer's provider through the host's proxy\",\n"
                "  \"kill_median_to_call_via_factory\": ", arg_backend->name, arg_trials,
                P.median->settings.restart_usec);
        json_dist(out, &single);
        fputs(",\n  \"kill_relayer_and_median_to_call_via_factory\": ", out);
        json_dist(out, &two);
        fprintf(out, ",\n  \"ratio_two_over_single_p50\": %.3f,\n  \"timeouts\": %u}\n", p_two / p_single,
                P.relayer->n_timeouts + P.median->n_timeouts);
        samples_done(&single);
        samples_done(&two);
}

static void parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "plugin", required_argument, NULL, 'p' },
                { "backend", required_argument, NULL, 'b' },
                { "trials", required_argument, NULL, 't' },
                { "sandbox", required_argument, NULL, 's' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        arg_plugin = optarg;
                        break;
                case 'b':
                        arg_backend = host_backend_from_string(optarg);
                        if (!arg_backend)
                                die("unknown backend %s", optarg);
                        break;
                case 't':
                        arg_trials = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_trials == 0)
                                die("--trials must be at least 1");
                        break;
                case 's':
                        arg_sandbox = streq(optarg, "yes");
                        break;
                default:
                        exit(EXIT_FAILURE);
                }
        if (!arg_plugin)
                die("--plugin TEST_PLUGIN is required");
}

int main(int argc, char *argv[]) {
        char tmpl[] = "/tmp/sdloop-bench-two-kill-XXXXXX";
        int r;

        sdloop_log_parse_environment();
        parse_argv(argc, argv);
        out = stdout;
        if (arg_backend == &host_backend_exec) {
                if (!mkdtemp(tmpl))
                        die("mkdtemp: %m");
                socket_dir = strdup(tmpl);
        } else
                socket_dir = strdup("/run/sdloop/plugin");
        if (!socket_dir)
                die("out of memory");

        r = host_new(NULL, arg_backend, &host);
        if (r < 0)
                die("host_new(%s): %s", arg_backend->name, strerror(-r));
        run();

        /* Stopped, and waited for: nothing left behind. */
        if (P.proxy) {
                host_handle_unwatch(P.provider_h, P.proxy);
                P.proxy = sdloop_proxy_free(P.proxy);
        }
        (void) host_plugin_stop(P.median);
        (void) host_plugin_stop(P.relayer);
        for (uint64_t deadline = host_now() + 60 * USEC_PER_SEC; host_now() < deadline;) {
                if (P.median->state == HOST_PLUGIN_STOPPED && P.relayer->state == HOST_PLUGIN_STOPPED)
                        break;
                idle(10 * USEC_PER_MSEC);
        }
        host = host_free(host);
        if (arg_backend == &host_backend_exec)
                (void) rmdir(tmpl);
        free(socket_dir);
        free(P.data_source);
        free(P.juels_data_source);
        free(P.error_log);
        return EXIT_SUCCESS;
}
