/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The plugin process as sdloopd's exec backend starts it (socket activation): a listening AF_UNIX socket
 * as fd 3 with LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES, SDLOOP_PLUGIN, STATE_DIRECTORY and a
 * NOTIFY_SOCKET of the tool's own for READY=1. Its output goes to the tool's stderr. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "macro.h"
#include "tool.h"
#include "util.h"

static int unix_socket(int type, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
                int r = -errno;

                safe_close(fd);
                return r;
        }
        return fd;
}

int tool_process_start(const ToolOptions *o, const char *name, ToolProcess *ret) {
        _cleanup_free_ char *state = NULL, *env_name = NULL, *env_state = NULL, *env_notify = NULL;
        _cleanup_close_ int listen_fd = -EBADF;
        ToolProcess p = { .notify_fd = -EBADF };
        pid_t parent = getpid();

        if (asprintf(&p.socket_path, "%s/%s.sock", o->tmpdir, name) < 0 ||
            asprintf(&p.notify_path, "%s/%s.notify", o->tmpdir, name) < 0 ||
            asprintf(&state, "%s/%s.state", o->tmpdir, name) < 0 ||
            asprintf(&env_name, "SDLOOP_PLUGIN=%s", name) < 0 ||
            asprintf(&env_state, "STATE_DIRECTORY=%s", state) < 0)
                return -ENOMEM;
        if (mkdir(state, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (asprintf(&env_notify, "NOTIFY_SOCKET=%s", p.notify_path) < 0)
                return -ENOMEM;

        listen_fd = unix_socket(SOCK_STREAM, p.socket_path);
        if (listen_fd < 0)
                return listen_fd;
        p.notify_fd = unix_socket(SOCK_DGRAM | SOCK_NONBLOCK, p.notify_path);
        if (p.notify_fd < 0)
                return p.notify_fd;

        fflush(NULL);
        p.pid = fork();
        if (p.pid < 0)
                return -errno;
        if (p.pid == 0) {
                char pid[32];

                /* Die with the tool, whichever way it ends. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                        _exit(126);
                if (listen_fd != SD_LISTEN_FDS_START) {
                        if (dup2(listen_fd, SD_LISTEN_FDS_START) < 0)
                                _exit(126);
                } else
                        (void) fcntl(listen_fd, F_SETFD, 0);
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                if (setenv("LISTEN_FDS", "1", 1) < 0 || setenv("LISTEN_PID", pid, 1) < 0 ||
                    setenv("LISTEN_FDNAMES", name, 1) < 0 || putenv(env_name) < 0 || putenv(env_state) < 0 ||
                    putenv(env_notify) < 0)
                        _exit(126);
                (void) unsetenv("WATCHDOG_USEC");
                (void) unsetenv("WATCHDOG_PID");
                execvp(o->command[0], o->command);
                fprintf(stderr, "Failed to execute %s: %s\n", o->command[0], strerror(errno));
                _exit(127);
        }

        *ret = p;
        return 0;
}

bool tool_process_wait_ready(ToolProcess *p, uint64_t timeout_usec) {
        uint64_t deadline = now_monotonic_usec() + timeout_usec;

        while (!p->ready) {
                struct pollfd pfd = { .fd = p->notify_fd, .events = POLLIN };
                uint64_t n = now_monotonic_usec();
                char buf[4096];
                ssize_t k;

                siginfo_t si = {};

                if (n >= deadline)
                        return false;
                /* Gone (a zombie not reaped yet): no READY=1 is coming any more. */
                if (waitid(P_PID, p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0)
                        return false;
                /* A tenth of a second at a time: the process may exit without a word. */
                if (poll(&pfd, 1, (int) MIN((deadline - n) / USEC_PER_MSEC + 1, (uint64_t) 100)) < 0 && errno != EINTR)
                        return false;
                k = recv(p->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (k <= 0)
                        continue;
                buf[k] = 0;
                for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
                        if (streq(l, "READY=1"))
                                p->ready = true;
        }
        return true;
}

int tool_process_stop(ToolProcess *p, uint64_t timeout_usec, int *ret_status) {
        uint64_t deadline = now_monotonic_usec() + timeout_usec;
        int status = 0;
        pid_t k;

        if (p->pid <= 0)
                return -ESRCH;
        (void) kill(p->pid, SIGTERM);
        for (;;) {
                k = waitpid(p->pid, &status, WNOHANG);
                if (k == p->pid)
                        break;
                if (k < 0)
                        return -errno;
                if (now_monotonic_usec() >= deadline) {
                        (void) kill(p->pid, SIGKILL);
                        (void) waitpid(p->pid, NULL, 0);
                        p->pid = 0;
                        return -ETIMEDOUT;
                }
                (void) poll(NULL, 0, 10);
        }
        p->pid = 0;
        *ret_status = status;
        return 0;
}

void tool_process_done(ToolProcess *p) {
        if (p->pid > 0) {
                (void) kill(p->pid, SIGKILL);
                (void) waitpid(p->pid, NULL, 0);
                p->pid = 0;
        }
        p->notify_fd = safe_close(p->notify_fd);
        if (p->socket_path)
                (void) unlink(p->socket_path);
        if (p->notify_path)
                (void) unlink(p->notify_path);
        p->socket_path = mfree(p->socket_path);
        p->notify_path = mfree(p->notify_path);
}
