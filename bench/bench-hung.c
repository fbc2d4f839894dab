/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-bench, hung plugin: a plugin that is alive but frozen (SIGSTOP: connected, its event loop stopped)
 * is found out by the host's health probes (a Peer.Ping every probe interval, each with the interval as its
 * deadline), shown unresponsive, treated as crashed after probe_failures unanswered Pings in a row, killed,
 * restarted, and the call that was waiting on it through its handle is answered by the new process.
 *
 * Per trial: calls through the handle, a rest of a few intervals (the probes answered), then SIGSTOP and at
 * once a call through the handle, timed until it is answered. The host's on_plugin_changed hook marks when
 * the plugin went unresponsive (the first unanswered Ping), when it was treated as crashed (RECOVERING) and
 * when it was RUNNING again. The SIGSTOP falls anywhere between two probes, so detection takes between
 * interval × failures and interval × (failures + 1); the figure to compare the total with is
 * interval × failures + the single-plugin recovery (kill -9 → call answered, the recovery section). */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#include "bench.h"
#include "host-handle.h"
#include "macro.h"

static struct {
        uint64_t stopped_ns, unresponsive_ns, recovering_ns, running_ns;
} H;

static void on_plugin_changed(HostPlugin *p, void *userdata) {
        uint64_t n = now_ns();

        if (H.stopped_ns == 0)
                return;
        if (p->state == HOST_PLUGIN_UNRESPONSIVE && H.unresponsive_ns == 0)
                H.unresponsive_ns = n;
        else if (p->state == HOST_PLUGIN_RECOVERING && H.recovering_ns == 0)
                H.recovering_ns = n;
        else if (p->state == HOST_PLUGIN_RUNNING && H.recovering_ns > 0 && H.running_ns == 0)
                H.running_ns = n;
}

void bench_hung(HostPlugin *p, HostHandle *h, host_call_fn call, unsigned trials, double recovery_p50_us) {
        Samples unresponsive = {}, detect = {}, restart = {}, answered = {}, total = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t interval = p->settings.probe_interval_usec;
        unsigned failures = p->settings.probe_failures, probes_failed = 0;
        double expected, t50, d50;
        int r;

        fprintf(stderr, "== hung plugin (exec backend): SIGSTOP, probe every %" PRIu64 " ms, %u missed → restarted; "
                "%u trials\n", interval / USEC_PER_MSEC, failures, trials);
        if (interval == 0)
                die("hung: probes are off");

        for (unsigned i = 0; i < trials; i++) {
                unsigned failed_before = p->n_probes_failed;
                uint32_t pid;
                uint64_t t1;

                for (unsigned j = 0; j < 50; j++) {
                        r = host_handle_call(h, call, NULL, &error);
                        if (r < 0)
                                die("call before SIGSTOP: %s", error_text(&error, r));
                }
                /* A few probes answered, so that the freeze falls anywhere between two of them. */
                idle(interval * 2 + (uint64_t) (random() % (long) interval));
                pid = p->main_pid;
                if (pid == 0 || p->state != HOST_PLUGIN_RUNNING)
                        die("hung: plugin not running before the trial (%s)", host_plugin_state_to_string(p->state));

                memset(&H, 0, sizeof(H));
                host->on_plugin_changed = on_plugin_changed;
                H.stopped_ns = now_ns();
                if (kill((pid_t) pid, SIGSTOP) < 0)
                        die("kill -STOP %" PRIu32 ": %m", pid);
                r = host_handle_call(h, call, NULL, &error);
                t1 = now_ns();
                host->on_plugin_changed = NULL;
                if (r < 0)
                        die("call after SIGSTOP: %s", error_text(&error, r));
                sd_bus_error_free(&error);
                if (H.unresponsive_ns == 0 || H.recovering_ns == 0 || H.running_ns == 0)
                        die("hung: the plugin went through %s, not unresponsive → recovering → running",
                            host_plugin_state_to_string(p->state));

                samples_add(&unresponsive, H.unresponsive_ns - H.stopped_ns);
                samples_add(&detect, H.recovering_ns - H.stopped_ns);
                samples_add(&restart, H.running_ns - H.recovering_ns);
                samples_add(&answered, t1 - H.running_ns);
                samples_add(&total, t1 - H.stopped_ns);
                probes_failed += p->n_probes_failed - failed_before;

                /* The frozen process is reaped and the new one known before the next trial. */
                idle(50 * USEC_PER_MSEC);
                if (p->main_pid == pid)
                        idle(2 * USEC_PER_SEC);
        }

        expected = (double) (interval * failures) + (isnan(recovery_p50_us) ? 0 : recovery_p50_us);
        d50 = dist_p50(&detect);
        t50 = dist_p50(&total);
        progress("SIGSTOP → unresponsive p50 %.0f ms, → restarted p50 %.0f ms, → call answered p50 %.0f ms "
                 "(interval × failures%s = %.0f ms); %u unanswered probes in %u trials",
                 dist_p50(&unresponsive) / 1000.0, d50 / 1000.0, t50 / 1000.0,
                 isnan(recovery_p50_us) ? "" : " + recovery p50", expected / 1000.0, probes_failed, trials);

        json_key("hung_sigstop");
        fprintf(out, "{\"backend\": \"exec\", \"probe_interval_usec\": %" PRIu64 ", \"probe_timeout_usec\": %" PRIu64
                ", \"probe_failures\": %u, \"trials\": %u, \"probes_failed\": %u,\n"
                "    \"detection\": \"org.freedesktop.DBus.Peer.Ping every interval, unanswered for its timeout\",\n"
                "    \"sigstop_to_unresponsive\": ", interval, p->settings.probe_timeout_usec ?: interval, failures,
                trials, probes_failed);
        json_dist(out, &unresponsive);
        fputs(",\n    \"sigstop_to_treated_as_crashed\": ", out);
        json_dist(out, &detect);
        fputs(",\n    \"treated_as_crashed_to_running\": ", out);
        json_dist(out, &restart);
        fputs(",\n    \"running_to_call_answered\": ", out);
        json_dist(out, &answered);
        fputs(",\n    \"sigstop_to_call_via_handle\": ", out);
        json_dist(out, &total);
        fprintf(out, ",\n    \"interval_x_failures_us\": %" PRIu64 ", \"recovery_kill9_p50_us\": ", interval * failures);
        if (isnan(recovery_p50_us))
                fputs("null", out);
        else
                fprintf(out, "%.2f", recovery_p50_us);
        fputs(",\n    \"what\": \"host_handle_call(ReportingPlugin.Observation) issued right after SIGSTOP: it waits on "
              "the frozen process, is lost with its connection when the host kills it, waits for the handles to be "
              "re-created on the new process and is answered there\"}", out);

        samples_done(&unresponsive);
        samples_done(&detect);
        samples_done(&restart);
        samples_done(&answered);
        samples_done(&total);
}
