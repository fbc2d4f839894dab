/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The exec backend's stand-in for what systemd does with a Type=notify service: a notify socket of the
 * plugin's own (NOTIFY_SOCKET=), READY=1, STATUS=, and WatchdogSec= enforced — a main process that sends
 * no WATCHDOG=1 for its watchdog interval is killed with SIGABRT (then SIGKILL), and its exit is then a
 * crash like any other, under the plugin's restart policy and start limit. */

#include <signal.h>
#include <sys/types.h>

#include "host-plugin.h"

typedef struct ExecNotify ExecNotify;

/* Bind the socket (an autobound abstract address, kept across restarts) and watch it. */
int exec_notify_new(HostPlugin *p, ExecNotify **ret);
ExecNotify *exec_notify_free(ExecNotify *n);

/* The value for NOTIFY_SOCKET=. */
const char *exec_notify_address(const ExecNotify *n);

/* A new main process: only its messages count from now on (NotifyAccess=main), and its watchdog
 * (settings.watchdog_usec; 0: none) runs from now — there is no start timeout here, so start-up counts. */
int exec_notify_watch(ExecNotify *n, pid_t pid);

/* The main process is gone (@si: how; NULL: reaped elsewhere): disarm. Returns 1 and in *@ret_why
 * (malloc'd) what LastError should say when the watchdog killed it, 0 otherwise. */
int exec_notify_exited(ExecNotify *n, const siginfo_t *si, char **ret_why);

/* What the current process said last: READY=1 seen, STATUS= (NULL: none). */
bool exec_notify_is_ready(const ExecNotify *n);
const char *exec_notify_status(const ExecNotify *n);
