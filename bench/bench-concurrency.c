/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-bench, concurrency: calls whose handler waits on a dependency before it answers
 * (org.sdloop1.Bench.Wait, answered from a timer in the plugin) — the anchor's concurrency_wait and
 * ping_16B_while_8_waits_in_flight, with the same names and shapes.
 *
 *   - 1, 8 and 64 Waits issued at once with sdloop_peer_call_async() on the plugin's one connection, the
 *     host's loop turned at top level until every reply is in; makespan = first issued → last answered.
 *     Waits that wait side by side take one wait; served one at a time they would take callers × wait.
 *   - 16-byte Echo latency while 8 Waits are kept in flight (each answered Wait issues the next one) and,
 *     in rounds of the same shape alternating with those, with nothing else in flight: whether calls that
 *     wait hold up the others. */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <string.h>

#include "bench.h"
#include "macro.h"

/* Ping rounds of each kind (idle, busy) are PING_ROUNDS / 2, each at least PING_WAITS waits long: every
 * Wait in flight is answered and issued again several times while pinging. */
#define PING_ROUNDS 4U
#define PING_WAITS 4U

/* Waits in flight on one connection, all answered into the same counters. */
typedef struct WaitRound {
        SdloopPeer *peer;
        uint64_t wait_usec;
        unsigned pending;
        uint64_t answered;
        uint64_t last_reply_ns;
        bool again; /* each answered Wait issues the next one */
        int error;
        char *error_message;
} WaitRound;

static int wait_issue(WaitRound *w);

static void wait_fail(WaitRound *w, int r, const char *message) {
        if (w->error < 0)
                return;
        w->error = r;
        w->error_message = strdup(message ?: strerror(-r));
}

static void on_wait_reply(SdloopPeer *peer, int r, sd_bus_message *reply, sd_bus_error *error, void *userdata) {
        WaitRound *w = userdata;

        w->last_reply_ns = now_ns();
        w->pending--;
        if (r < 0) {
                wait_fail(w, r, error_text(error, r));
                return;
        }
        if (!isempty(sd_bus_message_get_signature(reply, true))) {
                wait_fail(w, -EBADMSG, "Wait answered with results, expected none");
                return;
        }
        w->answered++;
        if (w->again && w->error >= 0) {
                /* An asynchronous call from inside a reply handler: allowed, nothing waits here. */
                r = wait_issue(w);
                if (r < 0)
                        wait_fail(w, r, NULL);
        }
}

static int wait_issue(WaitRound *w) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sdloop_peer_new_call(w->peer, SDLOOP_ROOT_PATH, "org.sdloop1.Bench", "Wait", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "t", w->wait_usec);
        if (r < 0)
                return r;
        /* No slot: the round outlives its calls, it is drained before it goes. */
        r = sdloop_peer_call_async(w->peer, m, NULL, on_wait_reply, w, NULL);
        if (r < 0)
                return r;
        w->pending++;
        return 0;
}

static void wait_check(WaitRound *w) {
        if (w->error < 0)
                die("Wait: %s", w->error_message ?: strerror(-w->error));
}

/* Turn the host's loop at top level until every call of the round is answered. */
static void wait_drain(WaitRound *w) {
        uint64_t deadline = host_now() + 30 * USEC_PER_SEC;

        while (w->pending > 0) {
                uint64_t n = host_now();

                if (n >= deadline)
                        die("Wait: %u calls still unanswered after 30 s", w->pending);
                turn_loop(deadline - n);
                wait_check(w);
        }
        wait_check(w);
}

static void wait_round_done(WaitRound *w) {
        w->error_message = mfree(w->error_message);
}

static void concurrency_wait(HostPlugin *p, unsigned callers, uint64_t wait_usec, unsigned reps, bool first) {
        WaitRound w = { .peer = p->peer, .wait_usec = wait_usec };
        Samples makespan = {};
        uint64_t h0, p0, host_cpu, plugin_cpu;
        double p50, efficiency;

        h0 = self_cpu_ns();
        p0 = proc_cpu_ns((pid_t) p->main_pid);
        for (unsigned k = 0; k < reps; k++) {
                uint64_t t0 = now_ns();

                for (unsigned i = 0; i < callers; i++) {
                        int r = wait_issue(&w);

                        if (r < 0)
                                die("Wait: %s", strerror(-r));
                }
                wait_drain(&w);
                samples_add(&makespan, w.last_reply_ns - t0);
        }
        host_cpu = self_cpu_ns() - h0;
        plugin_cpu = proc_cpu_ns((pid_t) p->main_pid) - p0;

        p50 = dist_p50(&makespan);
        efficiency = p50 > 0 ? (double) wait_usec / p50 : 0;
        progress("%u × Wait(%.0f ms) at once: makespan p50 %.2f ms (wait/makespan %.3f); CPU per Wait: host %.1f µs, "
                 "plugin %.1f µs", callers, (double) wait_usec / 1000.0, p50 / 1000.0, efficiency,
                 (double) host_cpu / 1000.0 / (reps * callers), (double) plugin_cpu / 1000.0 / (reps * callers));
        fprintf(out, "%s\n    {\"callers\": %u, \"wait_ms\": %.3f, \"reps\": %u, \"makespan\": ", first ? "" : ",",
                callers, (double) wait_usec / 1000.0, reps);
        json_dist(out, &makespan);
        fprintf(out, ", \"wait_over_makespan_p50\": %.3f, \"host_cpu_us_per_wait\": %.2f, "
                "\"plugin_cpu_us_per_wait\": %.2f}", round(efficiency * 1000.0) / 1000.0,
                (double) host_cpu / 1000.0 / (reps * callers), (double) plugin_cpu / 1000.0 / (reps * callers));

        samples_done(&makespan);
        wait_round_done(&w);
}

/* At least @n pings, and pings for at least @min_ns. */
static void ping_latency(HostPlugin *p, unsigned n, uint64_t min_ns, WaitRound *busy, Samples *ret) {
        unsigned in_flight_min = UINT_MAX;
        uint64_t start = now_ns();

        for (unsigned i = 0; i < n || now_ns() - start < min_ns; i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                uint64_t t0 = now_ns();
                int r;

                r = echo(p->peer, payload16, sizeof(payload16), i % 97 == 0, &error);
                samples_add(ret, now_ns() - t0);
                if (r < 0)
                        die("Echo: %s", error_text(&error, r));
                if (busy) {
                        wait_check(busy);
                        in_flight_min = MIN(in_flight_min, busy->pending);
                }
        }
        /* Each answered Wait issues the next before the loop turns again: 8 stay in flight throughout. */
        if (busy && in_flight_min != 8)
                die("Echo while Waits in flight: only %u Waits in flight at times, expected 8", in_flight_min);
}

/* One round of pings after half a wait of rest, with 8 Waits kept in flight (@busy) or nothing else.
 * Returns how many Waits were answered (and issued again) while pinging. */
static uint64_t ping_round(HostPlugin *p, WaitRound *busy, uint64_t wait_usec, unsigned n, Samples *ret) {
        uint64_t answered;

        if (busy) {
                busy->again = true;
                for (unsigned i = 0; i < 8; i++)
                        if (wait_issue(busy) < 0)
                                die("Wait: cannot issue");
        }
        /* As the anchor: half a wait to settle. */
        idle(wait_usec / 2);
        if (!busy) {
                ping_latency(p, n, PING_WAITS * wait_usec * 1000, NULL, ret);
                return 0;
        }

        wait_check(busy);
        answered = busy->answered;
        ping_latency(p, n, PING_WAITS * wait_usec * 1000, busy, ret);
        answered = busy->answered - answered;
        busy->again = false;
        wait_drain(busy);
        return answered;
}

/* Ping rounds, idle and busy alternating; the figures' keys end in @suffix. */
static void ping_rounds(HostPlugin *p, uint64_t wait_usec, unsigned n_pings, const char *suffix) {
        WaitRound busy = { .peer = p->peer, .wait_usec = wait_usec };
        Samples idle_ping = {}, busy_ping = {};
        uint64_t answered_while = 0;
        double idle_p50, busy_p50;
        char key[128];

        /* Idle and busy rounds alternate (idle, busy, busy, idle) and have the same shape: drift touches both
         * alike. */
        for (unsigned k = 0; k < PING_ROUNDS; k++)
                if (k % 4 == 1 || k % 4 == 2)
                        answered_while += ping_round(p, &busy, wait_usec, n_pings / (PING_ROUNDS / 2), &busy_ping);
                else
                        ping_round(p, NULL, wait_usec, n_pings / (PING_ROUNDS / 2), &idle_ping);

        idle_p50 = dist_p50(&idle_ping);
        busy_p50 = dist_p50(&busy_ping);
        progress("Echo 16 B p50%s: idle %.1f µs, while 8 Waits in flight %.1f µs (%.2f×; %" PRIu64 " Waits answered "
                 "and issued again meanwhile)", *suffix ? " (host and plugin on one CPU)" : "", idle_p50, busy_p50,
                 busy_p50 / idle_p50, answered_while);
        snprintf(key, sizeof(key), "ping_16B_idle%s", suffix);
        json_key(key);
        json_dist(out, &idle_ping);
        snprintf(key, sizeof(key), "ping_16B_while_8_waits_in_flight%s", suffix);
        json_key(key);
        json_dist(out, &busy_ping);
        snprintf(key, sizeof(key), "ping_16B_while_waits_over_idle_p50%s", suffix);
        json_key(key);
        fprintf(out, "%.3f", busy_p50 / idle_p50);
        snprintf(key, sizeof(key), "ping_16B_while_waits_what%s", suffix);
        json_key(key);
        fprintf(out, "\"%u rounds, idle and busy alternating (idle, busy, busy, idle)%s; each: half a wait of rest "
                "(busy: with the 8 Waits just issued), then back-to-back synchronous Echo calls from top level for at "
                "least %u waits (%.0f ms); %" PRIu64 " Waits answered and issued again while pinging\"", PING_ROUNDS,
                *suffix ? ", host and plugin pinned to one CPU" : "", PING_WAITS,
                (double) (PING_WAITS * wait_usec) / 1000.0, answered_while);

        samples_done(&idle_ping);
        samples_done(&busy_ping);
        wait_round_done(&busy);
}

/* Host (this thread) and plugin on the CPU the host runs on now; their masks so far in @ret_*. */
static int pin_one_cpu(pid_t plugin, cpu_set_t *ret_host, cpu_set_t *ret_plugin) {
        cpu_set_t one;
        int cpu;

        cpu = sched_getcpu();
        if (cpu < 0)
                return -errno;
        if (sched_getaffinity(0, sizeof(*ret_host), ret_host) < 0 ||
            sched_getaffinity(plugin, sizeof(*ret_plugin), ret_plugin) < 0)
                return -errno;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(plugin, sizeof(one), &one) < 0)
                return -errno;
        if (sched_setaffinity(0, sizeof(one), &one) < 0) {
                int r = -errno;

                (void) sched_setaffinity(plugin, sizeof(*ret_plugin), ret_plugin);
                return r;
        }
        return 0;
}

void bench_concurrency(HostPlugin *p, uint64_t wait_usec, unsigned reps, unsigned n_pings) {
        static const unsigned callers[] = { 1, 8, 64 };
        cpu_set_t host_mask, plugin_mask;
        int r;

        fprintf(stderr, "== concurrency: Bench.Wait(%.0f ms) answered later by the plugin, %u repetitions\n",
                (double) wait_usec / 1000.0, reps);
        json_key("concurrency_what");
        fputs("\"N Bench.Wait calls issued at once with sdloop_peer_call_async() on one connection, the host's "
              "event loop turned at top level until all are answered; makespan = first issued -> last answered. "
              "The plugin keeps each method call and answers it from an sd-event timer.\"", out);
        json_key("concurrency_wait");
        fputs("[", out);
        for (size_t i = 0; i < ELEMENTSOF(callers); i++)
                concurrency_wait(p, callers[i], wait_usec, reps, i == 0);
        fputs("]", out);

        for (unsigned i = 0; i < 200; i++)
                echo_or_die(p->peer, payload16, sizeof(payload16), false);
        ping_rounds(p, wait_usec, n_pings, "");

        /* The same with host and plugin on one CPU. Unpinned, the plugin's timer wakeups tend to move it to
         * the other CPU, and on a VM a round trip between two CPUs costs about three times one on the same
         * CPU (the socketpair floor shows it too): pinned, what is left is the calls' own effect. */
        r = pin_one_cpu((pid_t) p->main_pid, &host_mask, &plugin_mask);
        if (r < 0) {
                progress("cannot pin host and plugin to one CPU (%s): skipped", strerror(-r));
                return;
        }
        ping_rounds(p, wait_usec, n_pings, "_one_cpu");
        (void) sched_setaffinity(0, sizeof(host_mask), &host_mask);
        (void) sched_setaffinity((pid_t) p->main_pid, sizeof(plugin_mask), &plugin_mask);
}
