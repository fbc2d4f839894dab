/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

/* WATCHDOG=1 every half interval when $WATCHDOG_USEC/$WATCHDOG_PID ask this process for it, from a timer
 * of @event: the loop that serves the calls is the one whose liveness is reported. Returns 0 with
 * *@ret NULL when no watchdog is asked for. */
int plugin_watchdog_start(sd_event *event, sd_event_source **ret);
