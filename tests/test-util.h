/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What several test programs need: a plugin process started the way a unit would (told to say READY=1
 * on a notify socket of the test's own, and WATCHDOG=1 if asked to), and stopped again. Failures end the
 * test (Check's ck_assert). */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* Run "@bin --listen @sock_path" with NOTIFY_SOCKET=@notify_path and wait (bounded) until it says
 * READY=1: it listens then, so no polling for the socket. The child dies with the test. */
pid_t test_plugin_start(const char *bin, const char *sock_path, const char *notify_path);

typedef struct TestPluginOptions {
        unsigned nofile;       /* RLIMIT_NOFILE of the plugin; 0: the test's own */
        int log_fd;            /* > 0: the plugin's stderr (its log) goes there */
        const char *log_level; /* SDLOOP_LOG_LEVEL; NULL: debug */
        uint64_t watchdog_usec; /* > 0: WATCHDOG_USEC, with WATCHDOG_PID the plugin's */
        char **args;            /* more arguments after "--listen @sock_path"; NULL: none */
} TestPluginOptions;

/* The same, with the process set up as @o says. */
pid_t test_plugin_start_with(const char *bin, const char *sock_path, const char *notify_path,
                             const TestPluginOptions *o);

/* The same, and the notify socket stays open for what the plugin says after READY=1: @ret_notify_fd
 * (non-blocking, SO_PASSCRED set), for test_notify_recv(). */
pid_t test_plugin_start_notify(const char *bin, const char *sock_path, const char *notify_path,
                               const TestPluginOptions *o, int *ret_notify_fd);

/* A notify socket bound at @path: non-blocking, with SO_PASSCRED, so that each message names its sender. */
int test_notify_open(const char *path);

/* Wait (bounded) until a message on @notify_fd says READY=1; what came before it is dropped. */
void test_notify_wait_ready(int notify_fd, const char *who);

/* The next message queued on @notify_fd into @buf (NUL-terminated), its sender's pid in @ret_sender (0:
 * not known); false once none is left. */
bool test_notify_recv(int notify_fd, char *buf, size_t size, pid_t *ret_sender);

/* SIGTERM, reap, and check it exited cleanly. */
void test_plugin_stop(pid_t pid);

/* @s begins with @prefix (NULL @s: no). */
bool test_startswith(const char *s, const char *prefix);

/* strdup() that cannot fail the test silently. */
char *test_strdup(const char *s);

/* The call returned @r < 0 and failed with D-Bus error @name, and its message starts with @prefix (the
 * field, for InvalidArgument; NULL: any message). Frees @error. */
void test_assert_error(int r, sd_bus_error *error, const char *name, const char *prefix);
