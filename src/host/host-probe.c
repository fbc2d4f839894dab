/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Health probes: is a running plugin's event loop still turning?
 *
 * A plugin that crashes closes its connection, and one that stops feeding its watchdog is killed by the
 * backend — after the watchdog interval, 10 s by default. A plugin that is alive but frozen (SIGSTOP, a
 * handler stuck in a system call, a loop spinning outside sd-event) keeps its connection open and, until
 * then, answers nothing. So every RUNNING plugin gets an org.freedesktop.DBus.Peer.Ping every probe interval:
 * sd-bus answers it from the plugin's own event loop without calling any of the plugin's code, so it costs
 * the plugin one message and proves exactly that its loop runs. It goes out on the plugin's connection as a
 * plain D-Bus call with a deadline of its own (no call context, which would be a second message).
 *
 * A Ping that is not answered in time makes the plugin UNRESPONSIVE (LastError says so); the next answered
 * one makes it RUNNING again. After probe_failures unanswered Pings in a row the plugin is treated as crashed
 * (host_plugin_treat_as_crashed()): the backend kills it and the recovery state machine brings it back as
 * after any crash. A lost connection is the recovery's business, not a failed probe.
 *
 * One timer per plugin, re-armed in place: the Ping in flight's deadline, then the next Ping, due one interval
 * after the previous one was sent (at once when that one took as long). At most one Ping in flight. */

#include "host-plugin.h"
#include "macro.h"

static uint64_t probe_timeout(HostPlugin *p) {
        return p->settings.probe_timeout_usec ?: p->settings.probe_interval_usec;
}

static bool probe_wanted(HostPlugin *p) {
        return p->settings.probe_interval_usec > 0 && p->settings.probe_failures > 0 &&
                (p->state == HOST_PLUGIN_RUNNING || p->state == HOST_PLUGIN_UNRESPONSIVE) &&
                sdloop_peer_is_connected(p->peer);
}

/* "1000 ms", "250 µs", "12 s": what an operator reads in LastError. */
static void format_timeout(char *buf, size_t l, uint64_t usec) {
        if (usec >= 10 * USEC_PER_SEC && usec % USEC_PER_SEC == 0)
                snprintf(buf, l, "%" PRIu64 " s", usec / USEC_PER_SEC);
        else if (usec >= USEC_PER_MSEC && usec % USEC_PER_MSEC == 0)
                snprintf(buf, l, "%" PRIu64 " ms", usec / USEC_PER_MSEC);
        else
                snprintf(buf, l, "%" PRIu64 " µs", usec);
}

static void probe_arm(HostPlugin *p, uint64_t usec);

/* Not answered in time, or answered with an error while the connection stays. */
static void probe_failed(HostPlugin *p, const char *why) {
        char timeout[32], reason[256];

        p->n_probes_failed++;
        p->probe_failures_in_row++;
        if (p->probe_failures_in_row == 1)
                p->unresponsive_usec = host_now();

        format_timeout(timeout, sizeof(timeout), probe_timeout(p));
        if (why)
                snprintf(reason, sizeof(reason), "Ping failed: %s", why);
        else
                snprintf(reason, sizeof(reason), "no answer to Ping in %s", timeout);

        if (p->probe_failures_in_row >= p->settings.probe_failures) {
                char msg[320];

                snprintf(msg, sizeof(msg), "%s (%u time%s), restarted", reason, p->probe_failures_in_row,
                         p->probe_failures_in_row == 1 ? "" : "s");
                (void) host_plugin_treat_as_crashed(p, msg);
                return;
        }

        if (p->probe_failures_in_row > 1) {
                size_t n = strlen(reason);

                snprintf(reason + n, sizeof(reason) - n, " (%u times)", p->probe_failures_in_row);
        }
        if (p->state != HOST_PLUGIN_UNRESPONSIVE)
                log_warning("Plugin %s: %s; unresponsive.", p->settings.name, reason);
        host_plugin_update(p, HOST_PLUGIN_UNRESPONSIVE, NULL, NULL, reason);
        probe_arm(p, p->probe_sent_usec + p->settings.probe_interval_usec);
}

static int on_probe_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        HostPlugin *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        p->probe_slot = sd_bus_slot_unref(p->probe_slot);

        if (!e) {
                p->n_probes_answered++;
                p->probe_failures_in_row = 0;
                if (p->state == HOST_PLUGIN_UNRESPONSIVE) {
                        log_info("Plugin %s: answers its probe again.", p->settings.name);
                        p->unresponsive_usec = 0;
                        host_plugin_update(p, HOST_PLUGIN_RUNNING, NULL, NULL, NULL);
                        /* Whoever waits for it to run is told now. */
                        host_plugin_kick(p);
                }
                probe_arm(p, p->probe_sent_usec + p->settings.probe_interval_usec);
                return 0;
        }

        /* The connection went: the disconnect handler starts the recovery, nothing to probe any more. */
        if (!sdloop_peer_is_connected(p->peer) || !probe_wanted(p))
                return 0;
        probe_failed(p, strempty(e->message));
        return 0;
}

static void probe_send(HostPlugin *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus *bus = sdloop_peer_get_bus(p->peer);
        int r;

        /* The deadline is the probe timer's (1 ms accuracy), not sd-bus's own reply timeout, which sd-event
         * may fire up to 250 ms late. That one only backs it up. */
        r = sd_bus_message_new_method_call(bus, &m, NULL, SDLOOP_ROOT_PATH, "org.freedesktop.DBus.Peer", "Ping");
        if (r >= 0)
                r = sd_bus_call_async(bus, &p->probe_slot, m, on_probe_reply, p, 2 * probe_timeout(p));
        if (r < 0) {
                /* The connection is going (its handler recovers), or we are out of memory: try again. */
                log_debug_errno(r, "Plugin %s: cannot send its probe: %m", p->settings.name);
                p->probe_slot = NULL;
                probe_arm(p, host_now() + p->settings.probe_interval_usec);
                return;
        }
        p->probe_sent_usec = host_now();
        p->n_probes++;
        probe_arm(p, p->probe_sent_usec + probe_timeout(p));
}

/* Either the next probe is due, or the one in flight missed its deadline. */
static int on_probe_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;

        if (!probe_wanted(p))
                return 0;
        if (p->probe_slot) {
                p->probe_slot = sd_bus_slot_unref(p->probe_slot);
                probe_failed(p, NULL);
                return 0;
        }
        probe_send(p);
        return 0;
}

static void probe_arm(HostPlugin *p, uint64_t usec) {
        int r;

        if (!probe_wanted(p))
                return;

        usec = MAX(usec, host_now());
        if (!p->probe_timer) {
                /* Accuracy 1 ms: sd-event's default would coalesce a deadline up to 250 ms late. */
                r = sd_event_add_time(p->host->event, &p->probe_timer, CLOCK_MONOTONIC, usec, USEC_PER_MSEC,
                                      on_probe_timer, p);
                if (r < 0) {
                        p->probe_timer = NULL;
                        log_warning_errno(r, "Plugin %s: cannot schedule its probe: %m", p->settings.name);
                        return;
                }
                (void) sd_event_source_set_description(p->probe_timer, "host-plugin-probe");
                return;
        }
        r = sd_event_source_set_time(p->probe_timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->probe_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Plugin %s: cannot schedule its probe: %m", p->settings.name);
}

void host_probe_schedule(HostPlugin *p) {
        /* A probe in flight has its deadline armed: it schedules the next one itself. */
        if (p->probe_slot)
                return;
        probe_arm(p, host_now() + p->settings.probe_interval_usec);
}

void host_probe_stop(HostPlugin *p) {
        p->probe_slot = sd_bus_slot_unref(p->probe_slot);
        p->probe_failures_in_row = 0;
        p->unresponsive_usec = 0;
        if (p->probe_timer)
                (void) sd_event_source_set_enabled(p->probe_timer, SD_EVENT_OFF);
}

void host_probe_free(HostPlugin *p) {
        host_probe_stop(p);
        p->probe_timer = sd_event_source_disable_unref(p->probe_timer);
}
