/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* Sends @text to $NOTIFY_SOCKET without waiting (plugin-notify.c). A STATUS= that does not fit now is sent
 * from @event later (only the latest one); anything else that does not fit is dropped. Returns as
 * sd_notify() does. */
int plugin_notify(sd_event *event, const char *text);
int plugin_notifyf(sd_event *event, const char *format, ...) _printf_(2, 3);

/* For top level (READY=1, STOPPING=1): waits up to @timeout_usec for room in the receiver's queue. */
int plugin_notify_wait(const char *text, uint64_t timeout_usec);

/* Drops a STATUS= still waiting and the event source it waits on, before the loop goes. */
void plugin_notify_detach(void);
