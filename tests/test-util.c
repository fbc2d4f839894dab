/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "test-util.h"

pid_t test_plugin_start(const char *bin, const char *sock_path, const char *notify_path) {
        return test_plugin_start_with(bin, sock_path, notify_path, NULL);
}

pid_t test_plugin_start_with(const char *bin, const char *sock_path, const char *notify_path,
                             const TestPluginOptions *o) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int notify_fd = -EBADF;
        bool ready = false;
        char buf[4096];
        pid_t pid;

        ck_assert_ptr_nonnull(bin);
        ck_assert_uint_lt(strlen(notify_path), sizeof(sa.sun_path));

        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(notify_fd, 0);
        strcpy(sa.sun_path, notify_path);
        ck_assert_int_eq(bind(notify_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Do not outlive a test that fails half-way. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (o && o->log_fd > 0 && dup2(o->log_fd, STDERR_FILENO) < 0)
                        _exit(127);
                if (o && o->nofile > 0 &&
                    setrlimit(RLIMIT_NOFILE, &(struct rlimit) { .rlim_cur = o->nofile, .rlim_max = o->nofile }) < 0)
                        _exit(127);
                setenv("SDLOOP_LOG_TARGET", "stderr", 1);
                setenv("SDLOOP_LOG_LEVEL", o && o->log_level ? o->log_level : "debug", 1);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                execl(bin, bin, "--listen", sock_path, NULL);
                _exit(127);
        }

        while (!ready) {
                struct pollfd p = { .fd = notify_fd, .events = POLLIN };
                ssize_t n;

                ck_assert_msg(poll(&p, 1, 30 * 1000) == 1, "%s did not send READY=1", bin);
                n = recv(notify_fd, buf, sizeof(buf) - 1, 0);
                ck_assert_int_ge(n, 0);
                buf[n] = '\0';
                ready = strstr(buf, "READY=1") != NULL;
        }
        return pid;
}

void test_plugin_stop(pid_t pid) {
        int status;

        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}

char *test_strdup(const char *s) {
        char *c = strdup(s);

        ck_assert_ptr_nonnull(c);
        return c;
}

bool test_startswith(const char *s, const char *prefix) {
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

void test_assert_error(int r, sd_bus_error *error, const char *name, const char *prefix) {
        ck_assert_msg(r < 0, "call unexpectedly succeeded");
        ck_assert_msg(sd_bus_error_has_name(error, name), "expected %s, got %s: %s", name,
                      strempty(error->name), strempty(error->message));
        if (prefix)
                ck_assert_msg(test_startswith(error->message, prefix), "error message \"%s\" does not start with \"%s\"",
                              strempty(error->message), prefix);
        sd_bus_error_free(error);
}
