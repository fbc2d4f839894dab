/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-bench, throughput: 16-byte Echo calls/s and CPU per call on both sides, with 1 caller and with 8
 * callers in three shapes (8 calls in flight on one connection, 8 connections on one loop, 8 threads with a
 * connection each); the anchor's 8 callers are 8 goroutines on one gRPC connection. */

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "bench.h"
#include "host.h"
#include "macro.h"
#include "util.h"

typedef struct Tput {
        const char *mode;
        unsigned callers, connections;
        double seconds;
        uint64_t calls;
        uint64_t host_cpu_ns, plugin_cpu_ns;
} Tput;

static void json_tput(const Tput *t, bool first) {
        fprintf(out, "%s\n    {\"mode\": \"%s\", \"callers\": %u, \"connections\": %u, \"duration_s\": %.3f, "
                "\"calls\": %" PRIu64 ", \"calls_per_s\": %.0f, \"host_cpu_us_per_call\": %.2f, "
                "\"plugin_cpu_us_per_call\": %.2f}",
                first ? "" : ",", t->mode, t->callers, t->connections, t->seconds, t->calls,
                (double) t->calls / t->seconds, (double) t->host_cpu_ns / 1000.0 / (double) t->calls,
                (double) t->plugin_cpu_ns / 1000.0 / (double) t->calls);
        fprintf(stderr, "  .. %-52s %9.0f calls/s  host %5.2f µs CPU/call  plugin %5.2f µs CPU/call\n", t->mode,
                (double) t->calls / t->seconds, (double) t->host_cpu_ns / 1000.0 / (double) t->calls,
                (double) t->plugin_cpu_ns / 1000.0 / (double) t->calls);
}

static void tput_begin(Tput *t, pid_t plugin, uint64_t *t0, uint64_t *h0, uint64_t *p0) {
        *h0 = self_cpu_ns();
        *p0 = proc_cpu_ns(plugin);
        *t0 = now_ns();
}

static void tput_end(Tput *t, pid_t plugin, uint64_t t0, uint64_t h0, uint64_t p0) {
        t->seconds = (double) (now_ns() - t0) / 1e9;
        t->host_cpu_ns = self_cpu_ns() - h0;
        t->plugin_cpu_ns = proc_cpu_ns(plugin) - p0;
}

/* One caller, synchronous calls. */
static void tput_sync(HostPlugin *p, Tput *t, double seconds) {
        uint64_t t0, h0, p0, lim = (uint64_t) (seconds * 1e9);

        *t = (Tput) { .mode = "1 caller, synchronous calls", .callers = 1, .connections = 1 };
        tput_begin(t, (pid_t) p->main_pid, &t0, &h0, &p0);
        for (;;) {
                for (unsigned k = 0; k < 256; k++)
                        echo_or_die(p->peer, payload16, sizeof(payload16), false);
                t->calls += 256;
                if (now_ns() - t0 >= lim)
                        break;
        }
        tput_end(t, (pid_t) p->main_pid, t0, h0, p0);
}

/* Callers as asynchronous calls kept in flight on the event loop: each answered call issues the next. */
typedef struct AsyncCaller {
        SdloopPeer *peer;
        uint64_t calls;
        bool stop, busy;
        int error;
} AsyncCaller;

static int async_issue(AsyncCaller *c);

static void on_async_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        AsyncCaller *c = userdata;
        const void *d;
        size_t n;

        c->busy = false;
        if (r < 0 || sd_bus_message_read_array(reply, 'y', &d, &n) < 0 || n != sizeof(payload16)) {
                c->error = -EIO;
                return;
        }
        c->calls++;
        if (!c->stop)
                c->error = async_issue(c);
}

static int async_issue(AsyncCaller *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sdloop_peer_new_call(c->peer, SDLOOP_ROOT_PATH, "org.sdloop1.Bench", "Echo", &m);
        if (r < 0)
                return r;
        r = sdloop_append_bytes(m, payload16, sizeof(payload16));
        if (r < 0)
                return r;
        r = sdloop_peer_call_async(c->peer, m, NULL, on_async_reply, c, NULL);
        if (r < 0)
                return r;
        c->busy = true;
        return 0;
}

static SdloopPeer *extra_connection(HostPlugin *p, sd_event *event) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopPeer *peer;
        int r;

        r = sdloop_peer_connect(event, p->settings.socket_path, &peer);
        if (r < 0)
                die("connect %s: %s", p->settings.socket_path, strerror(-r));
        r = sdloop_peer_handshake(peer, "bench", NULL, &error);
        if (r < 0)
                die("handshake: %s", error_text(&error, r));
        return peer;
}

static void extra_connection_close(SdloopPeer *peer) {
        sdloop_peer_disconnect(peer);
        sdloop_peer_unref(peer);
}

static void tput_async(HostPlugin *p, Tput *t, const char *mode, unsigned callers, unsigned connections,
                       double seconds) {
        AsyncCaller c[8] = {};
        SdloopPeer *peers[8] = {};
        uint64_t t0, h0, p0, lim = (uint64_t) (seconds * 1e9);
        bool busy;

        assert(callers <= 8 && connections <= callers && callers % connections == 0);
        *t = (Tput) { .mode = mode, .callers = callers, .connections = connections };

        for (unsigned i = 0; i < connections; i++)
                peers[i] = connections == 1 ? sdloop_peer_ref(p->peer) : extra_connection(p, host->event);
        for (unsigned i = 0; i < callers; i++)
                c[i].peer = peers[i % connections];

        /* Warm up, then measure. */
        for (unsigned i = 0; i < callers; i++)
                if (async_issue(&c[i]) < 0)
                        die("async Echo");
        tput_begin(t, (pid_t) p->main_pid, &t0, &h0, &p0);
        for (unsigned i = 0; i < callers; i++)
                c[i].calls = 0;
        while (now_ns() - t0 < lim) {
                (void) sd_event_run(host->event, 100 * USEC_PER_MSEC);
                for (unsigned i = 0; i < callers; i++)
                        if (c[i].error < 0)
                                die("async Echo failed: %s", strerror(-c[i].error));
        }
        for (unsigned i = 0; i < callers; i++) {
                c[i].stop = true;
                t->calls += c[i].calls;
        }
        tput_end(t, (pid_t) p->main_pid, t0, h0, p0);

        /* Drain what is still in flight. */
        do {
                busy = false;
                for (unsigned i = 0; i < callers; i++)
                        busy = busy || c[i].busy;
                if (busy)
                        (void) sd_event_run(host->event, 100 * USEC_PER_MSEC);
        } while (busy);

        for (unsigned i = 0; i < connections; i++) {
                if (connections == 1)
                        sdloop_peer_unref(peers[i]);
                else
                        extra_connection_close(peers[i]);
        }
}

/* Callers as threads, each with its own connection and event loop, making synchronous calls: the shape of
 * the anchor's 8 goroutines, minus the shared connection. */
typedef struct ThreadCaller {
        HostPlugin *plugin;
        pthread_t thread;
        uint64_t calls;
        atomic_bool *stop;
        atomic_uint *ready;
} ThreadCaller;

static void *thread_caller(void *userdata) {
        ThreadCaller *c = userdata;
        sd_event *event = NULL;
        SdloopPeer *peer;

        if (sd_event_new(&event) < 0)
                die("sd_event_new");
        peer = extra_connection(c->plugin, event);
        for (unsigned i = 0; i < 200; i++)
                echo_or_die(peer, payload16, sizeof(payload16), false);
        atomic_fetch_add(c->ready, 1);
        while (!atomic_load(c->stop)) {
                echo_or_die(peer, payload16, sizeof(payload16), false);
                c->calls++;
        }
        extra_connection_close(peer);
        sd_event_unref(event);
        return NULL;
}

static void tput_threads(HostPlugin *p, Tput *t, unsigned callers, double seconds) {
        ThreadCaller c[8] = {};
        atomic_bool stop = false;
        atomic_uint ready = 0;
        uint64_t t0, h0, p0, base[8];

        assert(callers <= 8);
        *t = (Tput) { .mode = "8 threads, 1 connection each, synchronous calls", .callers = callers,
                      .connections = callers };

        for (unsigned i = 0; i < callers; i++) {
                c[i] = (ThreadCaller) { .plugin = p, .stop = &stop, .ready = &ready };
                if (pthread_create(&c[i].thread, NULL, thread_caller, &c[i]) != 0)
                        die("pthread_create");
        }
        /* The host's loop keeps turning meanwhile: it reads the plugin's sd_notify() messages (a status
         * line per new connection), and a plugin whose notifications nobody reads blocks in sendmsg(). */
        while (atomic_load(&ready) < callers)
                (void) sd_event_run(p->host->event, 1000);
        for (unsigned i = 0; i < callers; i++)
                base[i] = __atomic_load_n(&c[i].calls, __ATOMIC_RELAXED);
        tput_begin(t, (pid_t) p->main_pid, &t0, &h0, &p0);
        for (uint64_t end = now_monotonic_usec() + (uint64_t) (seconds * 1e6); now_monotonic_usec() < end;)
                (void) sd_event_run(p->host->event, end - now_monotonic_usec());
        for (unsigned i = 0; i < callers; i++)
                t->calls += __atomic_load_n(&c[i].calls, __ATOMIC_RELAXED) - base[i];
        tput_end(t, (pid_t) p->main_pid, t0, h0, p0);
        atomic_store(&stop, true);
        for (unsigned i = 0; i < callers; i++)
                pthread_join(c[i].thread, NULL);
}

void bench_throughput(HostPlugin *p, double seconds) {
        Tput t;

        fprintf(stderr, "== throughput, 16-byte Echo, %.1f s each\n", seconds);
        json_key("throughput_echo16");
        fputs("[", out);
        tput_sync(p, &t, seconds);
        json_tput(&t, true);
        tput_async(p, &t, "8 calls in flight on 1 connection (async, one event loop)", 8, 1, seconds);
        json_tput(&t, false);
        tput_async(p, &t, "8 connections, 1 call in flight each (async, one event loop)", 8, 8, seconds);
        json_tput(&t, false);
        tput_threads(p, &t, 8, seconds);
        json_tput(&t, false);
        fputs("]", out);
}
