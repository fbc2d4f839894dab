/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "backend-exec-notify.h"
#include "macro.h"
#include "util.h"

/* sd_notify() messages are small; systemd reads at most this much of one. */
#define NOTIFY_BUFFER_MAX 4096U
/* FDSTORE=1 may come with fds: we have no store, they are closed. */
#define NOTIFY_FD_MAX 16U
/* After SIGABRT, time to write a core dump before SIGKILL. systemd waits TimeoutAbortSec= (by default
 * the stop timeout); the exec backend's stop grace is 5 s as well. */
#define WATCHDOG_KILL_GRACE_USEC (5 * USEC_PER_SEC)
/* A late watchdog by a millisecond is no different; a wake-up coalesced by 250 ms (sd-event's default
 * accuracy) would be for a short interval. */
#define WATCHDOG_ACCURACY_USEC (1 * USEC_PER_MSEC)

struct ExecNotify {
        HostPlugin *plugin;
        int fd;
        sd_event_source *io;
        char *address;

        pid_t pid;              /* the main process whose messages count; 0: none */
        uint64_t watchdog_usec; /* its interval (WATCHDOG_USEC= may change it); 0: off */
        sd_event_source *watchdog_timer;
        sd_event_source *kill_timer;
        char *reason;  /* why the watchdog fired; NULL until it did */
        bool fed;      /* the deadline moved since the timer was due */
        bool sigkill;  /* SIGABRT was not enough */
        bool ready;
        char *status;
};

static void format_interval(char *buf, size_t size, uint64_t usec) {
        if (usec % USEC_PER_SEC == 0)
                snprintf(buf, size, "%" PRIu64 " s", usec / USEC_PER_SEC);
        else if (usec % USEC_PER_MSEC == 0)
                snprintf(buf, size, "%" PRIu64 " ms", usec / USEC_PER_MSEC);
        else
                snprintf(buf, size, "%" PRIu64 " µs", usec);
}

static int notify_receive(ExecNotify *n);

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecNotify *n = userdata;

        n->kill_timer = sd_event_source_disable_unref(n->kill_timer);
        if (n->pid <= 0)
                return 0;
        log_warning("Plugin %s: PID " PID_FMT " still there after SIGABRT, sending SIGKILL.",
                    n->plugin->settings.name, n->pid);
        n->sigkill = true;
        (void) kill(n->pid, SIGKILL);
        return 0;
}

/* The main process stopped feeding its watchdog (or asked to be treated so): kill it as systemd would. Its
 * exit, seen by the backend's child watch, is a crash with @reason in LastError. */
static void watchdog_fire(ExecNotify *n, const char *reason) {
        int r;

        if (n->pid <= 0 || n->reason)
                return;
        n->watchdog_timer = sd_event_source_disable_unref(n->watchdog_timer);
        n->reason = strdup(reason);
        if (!n->reason)
                log_oom();

        /* SIGABRT like systemd's WatchdogSignal= default: a hung process leaves a core dump showing where
         * it hung (where dumps are collected), and it dies "abnormally", which Restart=on-failure and
         * on-abnormal both restart. SIGKILL follows if that does not end it. */
        log_error("Plugin %s: %s, killing PID " PID_FMT " with SIGABRT.", n->plugin->settings.name, reason, n->pid);
        if (kill(n->pid, SIGABRT) < 0) {
                log_debug_errno(-errno, "Plugin %s: kill(SIGABRT): %m", n->plugin->settings.name);
                return;
        }
        r = sd_event_add_time_relative(n->plugin->host->event, &n->kill_timer, CLOCK_MONOTONIC,
                                       WATCHDOG_KILL_GRACE_USEC, WATCHDOG_ACCURACY_USEC, on_kill_timer, n);
        if (r < 0) {
                log_warning_errno(r, "Plugin %s: cannot schedule SIGKILL, sending it now: %m",
                                  n->plugin->settings.name);
                n->sigkill = true;
                (void) kill(n->pid, SIGKILL);
        }
}

static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecNotify *n = userdata;
        char interval[32], reason[96];

        /* A ping may be waiting in the socket while the host was busy: it counts. */
        n->fed = false;
        (void) notify_receive(n);
        if (n->fed || !n->watchdog_timer || n->reason)
                return 0;

        format_interval(interval, sizeof(interval), n->watchdog_usec);
        snprintf(reason, sizeof(reason), "watchdog timeout (no WATCHDOG=1 in %s)", interval);
        watchdog_fire(n, reason);
        return 0;
}

/* Fed: the deadline is one interval from now. */
static void watchdog_arm(ExecNotify *n) {
        uint64_t deadline;
        int r;

        if (n->pid <= 0 || n->reason)
                return;
        if (n->watchdog_usec == 0) {
                n->watchdog_timer = sd_event_source_disable_unref(n->watchdog_timer);
                return;
        }

        n->fed = true;
        deadline = now_monotonic_usec() + n->watchdog_usec;
        if (n->watchdog_timer) {
                r = sd_event_source_set_time(n->watchdog_timer, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(n->watchdog_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(n->plugin->host->event, &n->watchdog_timer, CLOCK_MONOTONIC, deadline,
                                      WATCHDOG_ACCURACY_USEC, on_watchdog_timer, n);
        if (r < 0)
                /* Not enforcing it is better than killing a healthy plugin. */
                log_warning_errno(r, "Plugin %s: cannot arm the watchdog, not enforcing it: %m",
                                  n->plugin->settings.name);
}

static void notify_handle_line(ExecNotify *n, const char *line) {
        const char *name = n->plugin->settings.name;

        if (streq(line, "READY=1")) {
                if (!n->ready)
                        log_debug("Plugin %s: ready (PID " PID_FMT ").", name, n->pid);
                n->ready = true;
                watchdog_arm(n);
        } else if (streq(line, "WATCHDOG=1"))
                watchdog_arm(n);
        else if (streq(line, "WATCHDOG=trigger"))
                watchdog_fire(n, "watchdog triggered by the plugin (WATCHDOG=trigger)");
        else if (strncmp(line, "WATCHDOG_USEC=", 14) == 0) {
                char *end = NULL;
                unsigned long long v;

                errno = 0;
                v = strtoull(line + 14, &end, 10);
                if (errno != 0 || !end || *end || end == line + 14) {
                        log_warning("Plugin %s: invalid %s, ignoring.", name, line);
                        return;
                }
                /* Like systemd: for this process only, from now; 0 turns it off. */
                log_info("Plugin %s: watchdog interval set to %llu µs by the plugin.", name, v);
                n->watchdog_usec = (uint64_t) v;
                watchdog_arm(n);
        } else if (strncmp(line, "STATUS=", 7) == 0) {
                if (!streq_ptr(n->status, line + 7)) {
                        log_debug("Plugin %s: status: %s", name, line + 7);
                        if (free_and_strdup(&n->status, line + 7) < 0)
                                log_oom();
                }
        } else if (streq(line, "STOPPING=1"))
                log_debug("Plugin %s: stopping.", name);
}

static void close_passed_fds(struct msghdr *mh) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        int fds[NOTIFY_FD_MAX];

                        memcpy(fds, CMSG_DATA(c), MIN(k, (size_t) NOTIFY_FD_MAX) * sizeof(int));
                        for (size_t i = 0; i < MIN(k, (size_t) NOTIFY_FD_MAX); i++)
                                safe_close(fds[i]);
                }
}

static const struct ucred *message_credentials(struct msghdr *mh) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        return (const struct ucred *) CMSG_DATA(c);
        return NULL;
}

/* Everything queued; returns 0, or a negative errno when the socket failed. */
static int notify_receive(ExecNotify *n) {
        for (;;) {
                char buf[NOTIFY_BUFFER_MAX + 1];
                union {
                        struct cmsghdr h;
                        uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * NOTIFY_FD_MAX)];
                } control = {};
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                const struct ucred *ucred;
                ssize_t k;

                k = recvmsg(n->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        return log_warning_errno(-errno, "Plugin %s: cannot read notify socket: %m",
                                                 n->plugin->settings.name);
                }
                close_passed_fds(&mh);

                ucred = message_credentials(&mh);
                if (!ucred || ucred->pid <= 0 || ucred->pid != n->pid) {
                        /* NotifyAccess=main: a child of the plugin, or a process gone already. */
                        log_debug("Plugin %s: ignoring notification from PID " PID_FMT ", main PID is " PID_FMT ".",
                                  n->plugin->settings.name, ucred ? ucred->pid : 0, n->pid);
                        continue;
                }
                if ((size_t) k >= sizeof(buf) || (mh.msg_flags & MSG_TRUNC)) {
                        log_warning("Plugin %s: notification longer than %u bytes, ignoring.",
                                    n->plugin->settings.name, NOTIFY_BUFFER_MAX);
                        continue;
                }
                buf[k] = 0;

                for (char *line = buf, *next; line && *line && !n->reason; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        notify_handle_line(n, line);
                }
        }
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void) notify_receive(userdata);
        return 0;
}

int exec_notify_new(HostPlugin *p, ExecNotify **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        socklen_t l = sizeof(sa);
        ExecNotify *n;
        int one = 1, r;

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* The sender's PID with every message, checked by the kernel: how we tell the main process from
         * anyone else who finds the address. */
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return -errno;
        /* Autobind: a fresh abstract address, nothing on disk to clean up, no clash between hosts. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa_family_t)) < 0)
                return -errno;
        if (getsockname(fd, (struct sockaddr *) &sa, &l) < 0)
                return -errno;
        if (l <= offsetof(struct sockaddr_un, sun_path) + 1 || sa.sun_path[0] != 0)
                return -EADDRNOTAVAIL;

        n = new0(ExecNotify, 1);
        if (!n)
                return -ENOMEM;
        n->plugin = p;
        n->fd = -EBADF;
        /* "@" and the name without its leading NUL, as sd_notify() takes abstract addresses. */
        if (asprintf(&n->address, "@%.*s", (int) (l - offsetof(struct sockaddr_un, sun_path) - 1),
                     sa.sun_path + 1) < 0) {
                n->address = NULL;
                exec_notify_free(n);
                return -ENOMEM;
        }

        r = sd_event_add_io(p->host->event, &n->io, fd, EPOLLIN, on_notify, n);
        if (r < 0) {
                exec_notify_free(n);
                return r;
        }
        (void) sd_event_source_set_description(n->io, "exec-notify");
        n->fd = TAKE_FD(fd);
        *ret = n;
        return 0;
}

ExecNotify *exec_notify_free(ExecNotify *n) {
        if (!n)
                return NULL;
        sd_event_source_disable_unref(n->io);
        sd_event_source_disable_unref(n->watchdog_timer);
        sd_event_source_disable_unref(n->kill_timer);
        safe_close(n->fd);
        free(n->address);
        free(n->reason);
        free(n->status);
        return mfree(n);
}

const char *exec_notify_address(const ExecNotify *n) {
        return n ? n->address : NULL;
}

bool exec_notify_is_ready(const ExecNotify *n) {
        return n && n->ready;
}

const char *exec_notify_status(const ExecNotify *n) {
        return n ? n->status : NULL;
}

static void notify_reset(ExecNotify *n) {
        n->watchdog_timer = sd_event_source_disable_unref(n->watchdog_timer);
        n->kill_timer = sd_event_source_disable_unref(n->kill_timer);
        n->reason = mfree(n->reason);
        n->status = mfree(n->status);
        n->sigkill = false;
        n->ready = false;
        n->pid = 0;
}

int exec_notify_watch(ExecNotify *n, pid_t pid) {
        /* What the previous process left in the socket is dropped when read: it is not from @pid. */
        notify_reset(n);
        n->pid = pid;
        n->watchdog_usec = n->plugin->settings.watchdog_usec;
        watchdog_arm(n);
        return 0;
}

int exec_notify_exited(ExecNotify *n, const siginfo_t *si, char **ret_why) {
        _cleanup_free_ char *reason = NULL;
        int r;

        if (!n)
                return 0;
        reason = TAKE_PTR(n->reason);
        if (reason && si && ret_why) {
                if (si->si_code == CLD_EXITED)
                        r = asprintf(ret_why, "%s, killed; exited with status %i", reason, si->si_status);
                else if (n->sigkill || si->si_status == SIGKILL)
                        r = asprintf(ret_why, "%s, killed with SIGKILL", reason);
                else
                        r = asprintf(ret_why, "%s, killed", reason);
                if (r < 0)
                        *ret_why = NULL;
        }
        notify_reset(n);
        return reason && si && ret_why && *ret_why ? 1 : 0;
}
