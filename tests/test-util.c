/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <inttypes.h>
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
        _cleanup_close_ int notify_fd = -EBADF;

        return test_plugin_start_notify(bin, sock_path, notify_path, o, &notify_fd);
}

pid_t test_plugin_start_notify(const char *bin, const char *sock_path, const char *notify_path,
                               const TestPluginOptions *o, int *ret_notify_fd) {
        _cleanup_close_ int notify_fd = -EBADF;
        pid_t pid;

        ck_assert_ptr_nonnull(bin);
        notify_fd = test_notify_open(notify_path);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                const char *argv[32] = { bin, "--listen", sock_path };
                size_t n = 3;

                /* Do not outlive a test that fails half-way. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (o && o->log_fd > 0 && dup2(o->log_fd, STDERR_FILENO) < 0)
                        _exit(127);
                if (o && o->nofile > 0 &&
                    setrlimit(RLIMIT_NOFILE, &(struct rlimit) { .rlim_cur = o->nofile, .rlim_max = o->nofile }) < 0)
                        _exit(127);
                if (o && o->watchdog_usec > 0) {
                        char usec[32], self[32];

                        snprintf(usec, sizeof(usec), "%" PRIu64, o->watchdog_usec);
                        snprintf(self, sizeof(self), "%i", (int) getpid());
                        setenv("WATCHDOG_USEC", usec, 1);
                        setenv("WATCHDOG_PID", self, 1);
                }
                for (char **a = o ? o->args : NULL; a && *a; a++) {
                        if (n >= ELEMENTSOF(argv) - 1)
                                _exit(127);
                        argv[n++] = *a;
                }
                setenv("SDLOOP_LOG_TARGET", "stderr", 1);
                setenv("SDLOOP_LOG_LEVEL", o && o->log_level ? o->log_level : "debug", 1);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                execv(bin, (char **) argv);
                _exit(127);
        }

        test_notify_wait_ready(notify_fd, bin);
        *ret_notify_fd = TAKE_FD(notify_fd);
        return pid;
}

int test_notify_open(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, one = 1;

        ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        strcpy(sa.sun_path, path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

void test_notify_wait_ready(int notify_fd, const char *who) {
        for (;;) {
                struct pollfd p = { .fd = notify_fd, .events = POLLIN };
                char buf[4096];

                ck_assert_msg(poll(&p, 1, 30 * 1000) == 1, "%s did not send READY=1", who);
                while (test_notify_recv(notify_fd, buf, sizeof(buf), NULL))
                        if (strstr(buf, "READY=1"))
                                return;
        }
}

bool test_notify_recv(int notify_fd, char *buf, size_t size, pid_t *ret_sender) {
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct ucred))];
        } control = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        pid_t sender = 0;
        ssize_t n;

        ck_assert_uint_gt(size, 1);
        n = recvmsg(notify_fd, &mh, MSG_DONTWAIT);
        if (n < 0) {
                ck_assert_int_eq(errno, EAGAIN);
                return false;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                        sender = ((struct ucred *) CMSG_DATA(c))->pid;
        buf[n] = '\0';
        if (ret_sender)
                *ret_sender = sender;
        return true;
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
