/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What several test programs need: a plugin process started the way a unit would (told to say READY=1
 * on a notify socket of the test's own), and stopped again. Failures end the test (Check's ck_assert). */

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
} TestPluginOptions;

/* The same, with the process set up as @o says. */
pid_t test_plugin_start_with(const char *bin, const char *sock_path, const char *notify_path,
                             const TestPluginOptions *o);

/* SIGTERM, reap, and check it exited cleanly. */
void test_plugin_stop(pid_t pid);

/* @s begins with @prefix (NULL @s: no). */
bool test_startswith(const char *s, const char *prefix);

/* strdup() that cannot fail the test silently. */
char *test_strdup(const char *s);

/* The call returned @r < 0 and failed with D-Bus error @name, and its message starts with @prefix (the
 * field, for InvalidArgument; NULL: any message). Frees @error. */
void test_assert_error(int r, sd_bus_error *error, const char *name, const char *prefix);
