/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-bench: measures sdloop through the real stack — the host library (backend exec or system) starting
 * and supervising bench-plugin, libsdloop clients calling it over its socket — with the same figures, the
 * same payloads and the same statistics (nearest-rank percentiles) as the go-plugin anchor
 * (shared/anchors/goplugin-bench), so that the two can be put side by side.
 *
 *   sdloop-bench [OPTIONS] --plugin PATH
 *
 *   --backend exec|system   supervisor backend (system: inside a booted systemd, as root)
 *   --only LIST             comma-separated sections: start,rpc,throughput,concurrency,recovery,hung,
 *                           scale (default: all)
 *   --sandbox yes|no        systemd backends: the unit's hardening and DynamicUser= (default yes)
 *   --dynamic-user yes|no   system backend: DynamicUser= (default: with the sandbox)
 *   --host-heap MIB         give the host a touched heap of this size, as a real host has (default 0)
 *   --starts N --n16 N --n64k N --nobs N --dur SEC --wait-ms N --wait-reps N --recoveries N --scale N
 *   --hung-trials N --probe-ms N
 *
 * The sections share bench.h; throughput, concurrency and the hung plugin live in bench-throughput.c,
 * bench-concurrency.c and bench-hung.c.
 * One JSON document on stdout; progress and a human summary on stderr. Nothing here asserts timings. */

#include <dirent.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"
#include "sdloop.h"
#include "sdloop-env.h"

/* ---------- options ---------- */

static const HostBackend *arg_backend = &host_backend_exec;
static const char *arg_plugin;
static char *arg_only;
static unsigned arg_starts = 20;
static unsigned arg_n16 = 20000;
static unsigned arg_n64k = 2000;
static unsigned arg_nobs = 10000;
static double arg_dur = 3.0;
static unsigned arg_wait_ms = 50;
static unsigned arg_wait_reps = 10;
static unsigned arg_recoveries = 10;
static unsigned arg_scale = 100;
static unsigned arg_hung_trials = 5;
static unsigned arg_probe_ms = 250;
static int arg_sandbox = -1; /* -1: the default (on) */
static unsigned arg_host_heap_mib;
static int arg_dynamic_user = -1; /* -1: with the sandbox, on the system backend */

static char *socket_dir;
static char *temp_root;
static char *out_buf;
static size_t out_size;

/* kill -9 → call answered through the handle, p50 (µs), once the recovery section ran. */
static double recovery_p50_us = NAN;

static bool section(const char *name) {
        const char *p;
        size_t l = strlen(name);

        if (!arg_only)
                return true;
        for (p = arg_only; p && *p;) {
                size_t n = strcspn(p, ",");

                if (n == l && strncmp(p, name, l) == 0)
                        return true;
                p += n;
                if (*p == ',')
                        p++;
        }
        return false;
}

/* ---------- the plugin and calls ---------- */

Host *host;
uint8_t payload16[16];
uint8_t payload64k[64 * 1024];

static HostPlugin *plugin_add(const char *name) {
        HostPluginSettings s;
        HostPlugin *p;
        int r;

        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup("bench");
        s.binary = strdup(arg_plugin);
        s.environment = new0(char *, 2);
        if (!s.name || !s.kind || !s.binary || !s.environment)
                die("out of memory");
        s.environment[0] = strdup("SDLOOP_LOG_LEVEL=warning");
        if (asprintf(&s.socket_path, "%s/%s.sock", socket_dir, name) < 0)
                die("out of memory");
        /* The anchor's restart loop relaunches at once; the bench kills on purpose, many times. */
        s.restart_usec = 0;
        s.start_limit_interval_usec = 0;
        s.call_timeout_usec = 30 * USEC_PER_SEC;
        /* What sdloopd does on the system backend. */
        s.dynamic_user = arg_dynamic_user >= 0 ? arg_dynamic_user :
                         arg_backend == &host_backend_system && arg_sandbox != 0;
        if (arg_sandbox >= 0)
                s.sandbox = arg_sandbox;

        r = host_plugin_new(host, &s, &p);
        if (r < 0)
                die("host_plugin_new(%s): %s", name, strerror(-r));
        return p;
}

static void plugin_start(HostPlugin *p) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = host_plugin_start(p, &error);
        if (r < 0)
                die("start %s: %s", p->settings.name, error_text(&error, r));
        sd_bus_error_free(&error);
}

static void plugin_remove(HostPlugin *p) {
        (void) host_plugin_stop(p);
        host_plugin_free(p);
}

/* An Echo that waits out a restart: reconnect through the host and call again, as host_handle_call()
 * does for handles. */
static int echo_recovering(HostPlugin *p, uint64_t deadline_usec, sd_bus_error *error) {
        int r;

        for (;;) {
                sd_bus_error_free(error);
                r = host_plugin_ensure(p, deadline_usec, error);
                if (r >= 0) {
                        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = sdloop_peer_ref(p->peer);

                        r = echo(peer, payload16, sizeof(payload16), false, error);
                        if (r >= 0)
                                return 0;
                }
                if (!sd_bus_error_has_name(error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE) || host_now() >= deadline_usec)
                        return r;
                /* The loss may not be seen yet: let the loop notice it. */
                turn_loop(0);
        }
}

static const SdloopReportTimestamp bench_ts = {
        .digest = { 0x00, 0x01, 0x8f, 0x3a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                    0xdd, 0xee, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0 },
        .epoch = 42,
        .round = 7,
};

static int factory_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        static const SdloopMedianDeps deps = {
                .provider = "/org/sdloop1/host/provider/1",
                .data_source = "/org/sdloop1/host/data_source/1",
                .juels_data_source = "/org/sdloop1/host/data_source/2",
                .error_log = "/org/sdloop1/host/error_log/1",
        };

        return sdloop_plugin_median_new_median_factory_async(peer, &deps, NULL, host_handle_created_reply, h, ret_slot);
}

static int reporting_plugin_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        SdloopReportingPluginConfig config = {
                .oracle_id = 0,
                .n = 4,
                .f = 1,
                .estimated_round_interval_usec = USEC_PER_SEC,
                .max_duration_query_usec = USEC_PER_SEC,
                .max_duration_observation_usec = USEC_PER_SEC,
                .max_duration_report_usec = USEC_PER_SEC,
                .max_duration_should_accept_usec = USEC_PER_SEC,
                .max_duration_should_transmit_usec = USEC_PER_SEC,
        };

        memcpy(config.digest, bench_ts.digest, sizeof(config.digest));
        return sdloop_reporting_plugin_factory_new_reporting_plugin_async(peer, parent_path, &config, NULL,
                                                                          host_handle_created_reporting_plugin_reply,
                                                                          h, ret_slot);
}

static const HostHandleOps factory_ops = { .kind = "factory", .create = factory_create };
static const HostHandleOps reporting_plugin_ops = { .kind = "reporting_plugin", .create = reporting_plugin_create };

static int observation(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes obs = {};
        int r;

        r = sdloop_reporting_plugin_observation(peer, path, &bench_ts, NULL, 0, &obs, error);
        if (r < 0)
                return r;
        if (obs.size != 8 * 4 + 7 + 8 * 8)
                return sdloop_error_invalid(error, "Observation reply.observation", "%zu bytes", obs.size);
        return 0;
}

typedef struct BenchHandles {
        HostHandle *factory;
        HostHandle *reporting_plugin;
} BenchHandles;

static void handles_new(HostPlugin *p, BenchHandles *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = host_handle_new(p, NULL, &factory_ops, NULL, &ret->factory, &error);
        if (r < 0)
                die("factory: %s", error_text(&error, r));
        r = host_handle_new(p, ret->factory, &reporting_plugin_ops, NULL, &ret->reporting_plugin, &error);
        if (r < 0)
                die("reporting plugin: %s", error_text(&error, r));
}


/* ---------- 1. cold start ---------- */

static void bench_start(void) {
        Samples total = {}, start = {}, first = {}, stop = {};

        fprintf(stderr, "== cold start (%s backend): %u starts\n", arg_backend->name, arg_starts);
        for (unsigned i = 0; i < arg_starts; i++) {
                char name[64];
                HostPlugin *p;
                uint64_t t0, t1, t2, t3;

                snprintf(name, sizeof(name), "bench-start-%u", i);
                p = plugin_add(name);

                t0 = now_ns();
                plugin_start(p);
                t1 = now_ns();
                echo_or_die(p->peer, payload16, sizeof(payload16), true);
                t2 = now_ns();
                plugin_remove(p);
                t3 = now_ns();

                samples_add(&total, t2 - t0);
                samples_add(&start, t1 - t0);
                samples_add(&first, t2 - t1);
                samples_add(&stop, t3 - t2);
        }
        progress("start → first answered Echo: p50 %.0f µs", dist_p50(&total));

        json_key("plugin_start");
        fprintf(out, "{\"backend\": \"%s\", \"what\": \"%s\",\n    \"start_to_first_call\": ", arg_backend->name,
                arg_backend == &host_backend_exec ?
                "host_plugin_start (bind socket, fork+exec, connect, handshake) + first Echo answered" :
                "host_plugin_start (StartTransientUnit socket+service, job done, connect → socket activation, handshake) + first Echo answered");
        json_dist(out, &total);
        fputs(",\n    \"host_plugin_start\": ", out);
        json_dist(out, &start);
        fputs(",\n    \"first_call\": ", out);
        json_dist(out, &first);
        fputs(",\n    \"stop\": ", out);
        json_dist(out, &stop);
        fputs("}", out);

        samples_done(&total);
        samples_done(&start);
        samples_done(&first);
        samples_done(&stop);
}

/* ---------- 2. latency ---------- */

static void latency_echo(HostPlugin *p, const char *key, const uint8_t *data, size_t size, unsigned warm, unsigned n,
                         bool first_key) {
        Samples s = {};

        for (unsigned i = 0; i < warm; i++)
                echo_or_die(p->peer, data, size, false);
        for (unsigned i = 0; i < n; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                uint64_t t0 = now_ns();
                int r;

                r = echo(p->peer, data, size, i % 97 == 0, &error);
                samples_add(&s, now_ns() - t0);
                if (r < 0)
                        die("Echo: %s", error_text(&error, r));
        }
        progress("%s: p50 %.1f µs", key, dist_p50(&s));
        fprintf(out, "%s\n    \"%s\": ", first_key ? "" : ",", key);
        json_dist(out, &s);
        samples_done(&s);
}

static void latency_observation(HostPlugin *p, BenchHandles *bh, unsigned n) {
        Samples direct = {}, handle = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *path = bh->reporting_plugin->remote_path;
        int r;

        for (unsigned i = 0; i < 1000; i++) {
                r = observation(p->peer, path, NULL, &error);
                if (r < 0)
                        die("Observation: %s", error_text(&error, r));
        }
        for (unsigned i = 0; i < n; i++) {
                uint64_t t0 = now_ns();

                r = observation(p->peer, path, NULL, &error);
                samples_add(&direct, now_ns() - t0);
                if (r < 0)
                        die("Observation: %s", error_text(&error, r));
        }
        /* The same through the host's long-lived handle (what a caller in the host holds). */
        for (unsigned i = 0; i < n; i++) {
                uint64_t t0 = now_ns();

                r = host_handle_call(bh->reporting_plugin, observation, NULL, &error);
                samples_add(&handle, now_ns() - t0);
                if (r < 0)
                        die("Observation via handle: %s", error_text(&error, r));
        }
        progress("observation: p50 %.1f µs (via handle %.1f µs)", dist_p50(&direct), dist_p50(&handle));
        fputs(",\n    \"observation\": ", out);
        json_dist(out, &direct);
        fputs(",\n    \"observation_via_handle\": ", out);
        json_dist(out, &handle);
        samples_done(&direct);
        samples_done(&handle);
}


/* ---------- 4. recovery ---------- */

/* When the host saw the plugin go (RECOVERING) and come back (RUNNING). */
static uint64_t seen_recovering_ns, seen_running_ns;

static void on_plugin_changed(HostPlugin *p, void *userdata) {
        if (p->state == HOST_PLUGIN_RECOVERING && seen_recovering_ns == 0)
                seen_recovering_ns = now_ns();
        else if (p->state == HOST_PLUGIN_RUNNING && seen_recovering_ns > 0 && seen_running_ns == 0)
                seen_running_ns = now_ns();
}

static void bench_recovery(void) {
        Samples handle_total = {}, echo_total = {}, detect = {}, reconnect = {}, replay_call = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        BenchHandles bh = {};
        HostPlugin *p;
        int r;

        fprintf(stderr, "== recovery (%s backend): kill -9, next call answered; %u trials each\n", arg_backend->name,
                arg_recoveries);
        p = plugin_add("bench-recovery");
        plugin_start(p);
        handles_new(p, &bh);

        for (unsigned i = 0; i < 2 * arg_recoveries; i++) {
                bool via_handle = i % 2 == 0;
                uint32_t pid;
                uint64_t t0, t1;

                for (unsigned j = 0; j < 200; j++) {
                        r = host_handle_call(bh.reporting_plugin, observation, NULL, &error);
                        if (r < 0)
                                die("Observation: %s", error_text(&error, r));
                }
                /* Settle (the anchor sleeps 200 ms too); the systemd backend learns the MainPID meanwhile. */
                idle(200 * USEC_PER_MSEC);
                pid = p->main_pid;
                if (pid == 0)
                        die("no main PID for %s", p->settings.name);

                host->on_plugin_changed = on_plugin_changed;
                seen_recovering_ns = seen_running_ns = 0;
                t0 = now_ns();
                if (kill((pid_t) pid, SIGKILL) < 0)
                        die("kill %" PRIu32 ": %m", pid);
                if (via_handle)
                        r = host_handle_call(bh.reporting_plugin, observation, NULL, &error);
                else
                        r = echo_recovering(p, host_now() + 30 * USEC_PER_SEC, &error);
                t1 = now_ns();
                if (r < 0)
                        die("call after kill -9: %s", error_text(&error, r));
                sd_bus_error_free(&error);

                host->on_plugin_changed = NULL;
                samples_add(via_handle ? &handle_total : &echo_total, t1 - t0);
                if (via_handle && seen_recovering_ns > 0 && seen_running_ns > seen_recovering_ns) {
                        samples_add(&detect, seen_recovering_ns - t0);
                        samples_add(&reconnect, seen_running_ns - seen_recovering_ns);
                        samples_add(&replay_call, t1 - seen_running_ns);
                }
                /* Wait for the old process to be reaped and the new PID known before the next kill. */
                idle(50 * USEC_PER_MSEC);
                if (p->main_pid == pid)
                        idle(2 * USEC_PER_SEC);
        }
        progress("kill -9 → Observation answered via handle: p50 %.0f µs; → Echo answered: p50 %.0f µs",
                 dist_p50(&handle_total), dist_p50(&echo_total));
        recovery_p50_us = dist_p50(&handle_total);

        json_key("recovery_kill9");
        fprintf(out, "{\"backend\": \"%s\", \"restart_usec\": %" PRIu64 ", \"trials\": %u,\n"
                "    \"detection\": \"the p2p connection closes (EPOLLHUP); the socket stays open across the restart, "
                "the reconnect queues in its backlog\",\n"
                "    \"kill_to_call_via_handle\": ", arg_backend->name, p->settings.restart_usec, arg_recoveries);
        json_dist(out, &handle_total);
        fputs(",\n    \"what_via_handle\": \"host_handle_call(ReportingPlugin.Observation): reconnect + handshake, "
              "re-create factory and reporting plugin on the new process, then the call\",\n"
              "    \"kill_to_loss_noticed\": ", out);
        json_dist(out, &detect);
        fputs(",\n    \"loss_noticed_to_running\": ", out);
        json_dist(out, &reconnect);
        fputs(",\n    \"running_to_call_answered\": ", out);
        json_dist(out, &replay_call);
        fputs(",\n    \"kill_to_echo\": ", out);
        json_dist(out, &echo_total);
        fputs(",\n    \"what_echo\": \"host_plugin_ensure (reconnect + handshake) + Bench.Echo, no handles: the shape "
              "of the anchor's relaunch + Dispense + Ping\"}", out);

        samples_done(&handle_total);
        samples_done(&echo_total);
        samples_done(&detect);
        samples_done(&reconnect);
        samples_done(&replay_call);
        plugin_remove(p);
}

/* ---------- 5. a hung plugin (bench-hung.c) ---------- */

static void section_hung(void) {
        BenchHandles bh = {};
        HostPlugin *p;

        p = plugin_add("bench-hung");
        /* sdloopd's default of 3 unanswered Pings, each given the interval. */
        p->settings.probe_interval_usec = (uint64_t) arg_probe_ms * USEC_PER_MSEC;
        p->settings.probe_timeout_usec = 0;
        p->settings.probe_failures = HOST_PROBE_FAILURES_DEFAULT;
        /* Only a probe is to find it out. */
        p->settings.watchdog_usec = 0;
        plugin_start(p);
        handles_new(p, &bh);
        bench_hung(p, bh.reporting_plugin, observation, arg_hung_trials, recovery_p50_us);
        plugin_remove(p);
}

/* ---------- 6. scale ---------- */

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

static unsigned count_fds(void) {
        _cleanup_(closedirp) DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        if (!d)
                return 0;
        while (readdir(d))
                n++;
        return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own fd */
}

static void bench_scale(void) {
        HostPlugin **ps;
        uint64_t t0, t_started, t_killed, t_served;
        long host_rss0, host_rss, plugin_rss_sum = 0, plugin_pss_sum = 0;
        unsigned n = arg_scale;

        fprintf(stderr, "== scale: %u plugin instances under one host (%s backend)\n", n, arg_backend->name);
        ps = new0(HostPlugin *, n);
        if (!ps)
                die("out of memory");
        host_rss0 = proc_status_kib(getpid(), "VmRSS");

        t0 = now_ns();
        for (unsigned i = 0; i < n; i++) {
                char name[64];

                snprintf(name, sizeof(name), "bench-scale-%u", i);
                ps[i] = plugin_add(name);
                plugin_start(ps[i]);
                echo_or_die(ps[i]->peer, payload16, sizeof(payload16), false);
        }
        t_started = now_ns();
        host_rss = proc_status_kib(getpid(), "VmRSS");
        for (unsigned i = 0; i < n; i++) {
                plugin_rss_sum += proc_status_kib((pid_t) ps[i]->main_pid, "VmRSS");
                plugin_pss_sum += proc_pss_kib((pid_t) ps[i]->main_pid);
        }
        progress("%u started and answering in %.0f ms; host RSS %ld KiB", n, (double) (t_started - t0) / 1e6, host_rss);

        idle(200 * USEC_PER_MSEC);
        t_killed = now_ns();
        for (unsigned i = 0; i < n; i++)
                (void) kill((pid_t) ps[i]->main_pid, SIGKILL);
        for (unsigned i = 0; i < n; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r;

                r = echo_recovering(ps[i], host_now() + 60 * USEC_PER_SEC, &error);
                if (r < 0)
                        die("%s after kill -9: %s", ps[i]->settings.name, error_text(&error, r));
                sd_bus_error_free(&error);
        }
        t_served = now_ns();
        progress("all %u killed (kill -9) → all answering again in %.0f ms", n, (double) (t_served - t_killed) / 1e6);

        json_key("scale");
        fprintf(out, "{\"backend\": \"%s\", \"plugins\": %u, \"start_all_ms\": %.1f, "
                "\"start_all_what\": \"one after another: host_plugin_start + first Echo answered, for each\",\n"
                "    \"host_rss_kib_before\": %ld, \"host_rss_kib\": %ld, \"host_hwm_kib\": %ld, "
                "\"host_fds\": %u, \"plugin_rss_kib_mean\": %.0f, \"plugin_pss_kib_mean\": %.0f,\n"
                "    \"kill_all_to_all_serving_ms\": %.1f, \"kill_all_what\": \"kill -9 of all %u at once, then "
                "Echo to each through recovery until every one answered\"}",
                arg_backend->name, n, (double) (t_started - t0) / 1e6, host_rss0, host_rss,
                proc_status_kib(getpid(), "VmHWM"), count_fds(), (double) plugin_rss_sum / n, (double) plugin_pss_sum / n,
                (double) (t_served - t_killed) / 1e6, n);

        for (unsigned i = 0; i < n; i++)
                plugin_remove(ps[i]);
        free(ps);
}

/* ---------- long-lived plugin: latency, throughput, concurrency, memory ---------- */

static void memory_snapshot(HostPlugin *p, const char *when, bool first) {
        pid_t pp = (pid_t) p->main_pid, hp = getpid();

        fprintf(out, "%s\n    \"%s\": {\"plugin_rss_kib\": %ld, \"plugin_rss_anon_kib\": %ld, \"plugin_rss_file_kib\": %ld, "
                "\"plugin_pss_kib\": %ld, \"plugin_hwm_kib\": %ld, \"host_rss_kib\": %ld, \"host_rss_anon_kib\": %ld, "
                "\"host_pss_kib\": %ld, \"host_hwm_kib\": %ld}",
                first ? "" : ",", when, proc_status_kib(pp, "VmRSS"), proc_status_kib(pp, "RssAnon"),
                proc_status_kib(pp, "RssFile"), proc_pss_kib(pp), proc_status_kib(pp, "VmHWM"),
                proc_status_kib(hp, "VmRSS"), proc_status_kib(hp, "RssAnon"), proc_pss_kib(hp),
                proc_status_kib(hp, "VmHWM"));
}

static void bench_steady(void) {
        _cleanup_free_ char *mem_warm = NULL;
        size_t mem_warm_size = 0;
        BenchHandles bh = {};
        HostPlugin *p;
        FILE *saved;

        fprintf(stderr, "== one long-lived plugin (%s backend): latency, throughput, concurrency, memory\n",
                arg_backend->name);
        p = plugin_add("bench");
        plugin_start(p);
        handles_new(p, &bh);
        for (unsigned i = 0; i < 2000; i++)
                echo_or_die(p->peer, payload16, sizeof(payload16), false);

        /* Memory after warm-up is reported together with the figures after load. */
        saved = out;
        out = open_memstream(&mem_warm, &mem_warm_size);
        if (!out)
                die("open_memstream");
        memory_snapshot(p, "after_warmup", true);
        fclose(out);
        out = saved;

        if (section("rpc")) {
                json_key("rpc_latency");
                fputs("{", out);
                latency_echo(p, "echo_16B", payload16, sizeof(payload16), 1000, arg_n16, true);
                latency_observation(p, &bh, arg_nobs);
                latency_echo(p, "echo_64KiB", payload64k, sizeof(payload64k), 200, arg_n64k, false);
                fputs("}", out);
        }

        if (section("throughput"))
                bench_throughput(p, arg_dur);
        /* At least the anchor's 500 pings while 8 Waits are in flight. */
        if (section("concurrency"))
                bench_concurrency(p, arg_wait_ms * USEC_PER_MSEC, arg_wait_reps, 500);

        json_key("memory_kib");
        fprintf(out, "{%s", mem_warm);
        memory_snapshot(p, "after_load", false);
        fputs("}", out);

        plugin_remove(p);
}

/* ---------- main ---------- */

static void help(void) {
        fprintf(stderr,
                "%s [OPTIONS] --plugin PATH\n\n"
                "  --plugin PATH          the bench plugin binary\n"
                "  --backend exec|system  supervisor backend (default exec)\n"
                "  --only LIST            sections: start,rpc,throughput,concurrency,recovery,hung,scale (default all)\n"
                "  --sandbox yes|no       systemd backends: hardening and DynamicUser= (default yes)\n"
                "  --dynamic-user yes|no  system backend: DynamicUser= (default: with the sandbox)\n"
                "  --host-heap MIB        give the host a touched heap of this size, as a real host has\n"
                "  --wait-ms N            how long each Bench.Wait of the concurrency figures waits (default 50)\n"
                "  --wait-reps N          repetitions of each concurrency figure (default 10)\n"
                "  --hung-trials N        SIGSTOP trials of the hung plugin (default 5)\n"
                "  --probe-ms N           its probe interval (default 250; 3 missed: restarted)\n"
                "  --starts N --n16 N --n64k N --nobs N --dur SEC --recoveries N --scale N\n",
                program_invocation_short_name);
}

static unsigned parse_unsigned(const char *s) {
        char *e;
        unsigned long v = strtoul(s, &e, 10);

        if (!*s || *e || v > 10000000)
                die("bad number: %s", s);
        return (unsigned) v;
}

static void parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help",       no_argument,       NULL, 'h' },
                { "plugin",     required_argument, NULL, 'p' },
                { "backend",    required_argument, NULL, 'b' },
                { "only",       required_argument, NULL, 'o' },
                { "starts",     required_argument, NULL, 1 },
                { "n16",        required_argument, NULL, 2 },
                { "n64k",       required_argument, NULL, 3 },
                { "nobs",       required_argument, NULL, 4 },
                { "dur",        required_argument, NULL, 5 },
                { "recoveries", required_argument, NULL, 6 },
                { "scale",      required_argument, NULL, 7 },
                { "sandbox",    required_argument, NULL, 8 },
                { "host-heap",  required_argument, NULL, 9 },
                { "dynamic-user", required_argument, NULL, 10 },
                { "wait-ms",    required_argument, NULL, 11 },
                { "wait-reps",  required_argument, NULL, 12 },
                { "hung-trials", required_argument, NULL, 13 },
                { "probe-ms",   required_argument, NULL, 14 },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                case 'p':
                        arg_plugin = optarg;
                        break;
                case 'b':
                        arg_backend = host_backend_from_string(optarg);
                        if (!arg_backend)
                                die("unknown backend %s", optarg);
                        break;
                case 'o':
                        arg_only = optarg;
                        break;
                case 1: arg_starts = parse_unsigned(optarg); break;
                case 2: arg_n16 = MAX(parse_unsigned(optarg), 1U); break;
                case 3: arg_n64k = MAX(parse_unsigned(optarg), 1U); break;
                case 4: arg_nobs = MAX(parse_unsigned(optarg), 1U); break;
                case 5:
                        arg_dur = atof(optarg);
                        if (!(arg_dur > 0))
                                die("bad --dur %s", optarg);
                        break;
                case 6: arg_recoveries = parse_unsigned(optarg); break;
                case 7: arg_scale = parse_unsigned(optarg); break;
                case 8:
                        if (streq(optarg, "yes"))
                                arg_sandbox = 1;
                        else if (streq(optarg, "no"))
                                arg_sandbox = 0;
                        else
                                die("--sandbox yes|no");
                        break;
                case 9: arg_host_heap_mib = parse_unsigned(optarg); break;
                case 10:
                        if (!streq(optarg, "yes") && !streq(optarg, "no"))
                                die("--dynamic-user yes|no");
                        arg_dynamic_user = streq(optarg, "yes");
                        break;
                case 11:
                        arg_wait_ms = parse_unsigned(optarg);
                        if (arg_wait_ms > 10000)
                                die("--wait-ms: at most 10000 (the bench plugin's bound)");
                        break;
                case 12: arg_wait_reps = MAX(parse_unsigned(optarg), 1U); break;
                case 13: arg_hung_trials = parse_unsigned(optarg); break;
                case 14: arg_probe_ms = MAX(parse_unsigned(optarg), 1U); break;
                default:
                        help();
                        exit(EXIT_FAILURE);
                }
        if (!arg_plugin)
                die("--plugin PATH is required");
        if (access(arg_plugin, X_OK) < 0)
                die("%s: %m", arg_plugin);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw);

static void cleanup_at_exit(void) {
        host = host_free(host);
        if (temp_root)
                (void) nftw(temp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        temp_root = mfree(temp_root);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void raise_fd_limit(void) {
        struct rlimit rl;

        /* 100 plugins: a listening socket, a connection and a child watch each. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
                rl.rlim_cur = MIN(rl.rlim_max, (rlim_t) 65536);
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char *argv[]) {
        sd_event *event = NULL;
        int r;

        parse_argv(argc, argv);
        raise_fd_limit();
        sdloop_log_parse_environment();
        /* SDLOOP_METRICS=false turns call metrics off here too, as in every plugin the host starts: make bench
         * compares both. */
        {
                _cleanup_(sdloop_env_config_done) SdloopEnvConfig env = {};

                if (sdloop_env_config_parse(NULL, &env, NULL) >= 0)
                        sdloop_env_config_apply(&env);
        }
        /* The bench kills plugins on purpose: the host's warnings about it are expected. */
        if (!getenv("SDLOOP_LOG_LEVEL"))
                sdloop_log_set_max_level(LOG_ERR);

        for (size_t i = 0; i < sizeof(payload16); i++)
                payload16[i] = (uint8_t) "0123456789abcdef"[i];
        for (size_t i = 0; i < sizeof(payload64k); i++)
                payload64k[i] = (uint8_t) (i * 31);

        if (arg_backend == &host_backend_exec) {
                char tmpl[] = "/tmp/sdloop-bench.XXXXXX";

                /* <tmp>/plugin for the sockets: the exec backend puts state directories beside it. */
                if (!mkdtemp(tmpl))
                        die("mkdtemp: %m");
                temp_root = strdup(tmpl);
                if (!temp_root || asprintf(&socket_dir, "%s/plugin", tmpl) < 0)
                        die("out of memory");
        } else
                socket_dir = strdup("/run/sdloop/plugin");
        if (!socket_dir)
                die("out of memory");

        if (arg_host_heap_mib > 0) {
                size_t size = (size_t) arg_host_heap_mib << 20;
                uint8_t *heap = malloc(size);

                if (!heap)
                        die("out of memory");
                memset(heap, 0x5a, size); /* resident, and kept so */
        }

        /* A loop of its own, as sdloopd has (not sd_event_default(), which costs a gettid() per turn). */
        r = sd_event_new(&event);
        if (r < 0)
                die("sd_event_new: %s", strerror(-r));
        r = host_new(event, arg_backend, &host);
        if (r < 0)
                die("host_new(%s): %s", arg_backend->name, strerror(-r));
        /* A run that dies half-way must not leave plugin processes behind. */
        (void) atexit(cleanup_at_exit);

        out = open_memstream(&out_buf, &out_size);
        if (!out)
                die("open_memstream");

        json_key("tool");
        fprintf(out, "\"sdloop-bench\"");
        json_key("backend");
        fprintf(out, "\"%s\"", arg_backend->name);
        json_key("settings");
        fprintf(out, "{\"restart_usec\": 0, \"start_limit\": \"off\", \"sandbox\": %s, \"dynamic_user\": %s, "
                "\"plugin_log_level\": \"warning\", \"host_heap_mib\": %u}",
                arg_sandbox != 0 ? "true" : "false",
                (arg_dynamic_user >= 0 ? arg_dynamic_user : arg_backend == &host_backend_system && arg_sandbox != 0) ?
                "true" : "false", arg_host_heap_mib);
        json_key("payloads");
        fprintf(out, "\"Echo: D-Bus ay (16 B: \\\"0123456789abcdef\\\"; 64 KiB: i*31); Observation: "
                "ReportTimestamp (ayuy, 32-byte digest) + empty query → %u-byte observation\"", 8 * 4 + 7 + 8 * 8);

        if (section("start"))
                bench_start();
        if (section("rpc") || section("throughput") || section("concurrency"))
                bench_steady();
        if (section("recovery"))
                bench_recovery();
        if (section("hung") && arg_hung_trials > 0 && arg_backend == &host_backend_exec)
                section_hung();
        if (section("scale") && arg_scale > 0)
                bench_scale();

        fclose(out);
        printf("{%s\n}\n", out_buf);
        fflush(stdout);
        free(out_buf);

        cleanup_at_exit();
        free(socket_dir);
        return EXIT_SUCCESS;
}
