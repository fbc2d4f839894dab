/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Not sd_event_set_watchdog(): it pings whenever the loop happens to wake at least a quarter interval
 * after the last ping, so how often depends on the load. A timer of our own pings at a fixed half
 * interval, on absolute deadlines so that late wake-ups do not add up; busy or idle, a loop that keeps
 * turning keeps feeding it, and a handler that never returns stops it, which is the point. Never from a
 * thread: a thread would go on pinging for a loop that is stuck. */

#include <systemd/sd-daemon.h>

#include "macro.h"
#include "plugin-notify.h"
#include "plugin-watchdog.h"
#include "sdloop-log.h"
#include "util.h"

typedef struct PluginWatchdog {
        uint64_t period; /* half the interval */
        uint64_t next;   /* the deadline of the next ping */
} PluginWatchdog;

static int on_watchdog_ping(sd_event_source *s, uint64_t usec, void *userdata) {
        PluginWatchdog *w = userdata;
        uint64_t now = now_monotonic_usec();
        int r;

        /* Dropped when the queue is full: the pings in it say the same. */
        (void) plugin_notify(NULL, "WATCHDOG=1");

        w->next += w->period;
        if (w->next <= now)
                /* Stalled for more than a period (stopped, swapped out): go on from now. */
                w->next = now + w->period;
        r = sd_event_source_set_time(s, w->next);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to re-arm the watchdog timer, no more pings: %m");
        return 0;
}

static void plugin_watchdog_destroy(void *userdata) {
        free(userdata);
}

int plugin_watchdog_start(sd_event *event, sd_event_source **ret) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *s = NULL;
        _cleanup_free_ PluginWatchdog *w = NULL;
        uint64_t usec = 0;
        int r;

        *ret = NULL;
        r = sd_watchdog_enabled(false, &usec);
        if (r < 0)
                return log_warning_errno(r, "Invalid $WATCHDOG_USEC or $WATCHDOG_PID, not feeding a watchdog: %m");
        if (r == 0 || usec < 2)
                return 0;

        w = new0(PluginWatchdog, 1);
        if (!w)
                return -ENOMEM;
        w->period = usec / 2;
        w->next = now_monotonic_usec() + w->period;

        /* Accuracy 1 µs: sd-event's default would let the ping slip up to 250 ms, a lot of a short interval. */
        r = sd_event_add_time(event, &s, CLOCK_MONOTONIC, w->next, 1, on_watchdog_ping, w);
        if (r < 0)
                return log_warning_errno(r, "Failed to add the watchdog timer: %m");
        /* Before the calls that are waiting: the ping says the loop turns, not that it is idle. */
        (void) sd_event_source_set_priority(s, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_description(s, "watchdog");
        r = sd_event_source_set_destroy_callback(s, plugin_watchdog_destroy);
        if (r < 0)
                return r;
        TAKE_PTR(w);
        log_debug("Feeding the watchdog every %" PRIu64 " µs.", usec / 2);
        *ret = TAKE_PTR(s);
        return 0;
}
