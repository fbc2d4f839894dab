/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The exec backend: no systemd needed. The host binds each plugin's socket itself and keeps it open
 * across restarts (so reconnects queue in the backlog, as with a .socket unit), fork/execs the plugin
 * with LISTEN_FDS/LISTEN_PID, applies Restart=/RestartSec=/StartLimit* like systemd would, and sends the
 * plugin's stdout/stderr to the journal when journald runs (else they stay on the host's stderr). */

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "host-backend.h"
#include "host-plugin.h"
#include "macro.h"

#define START_HISTORY 64

typedef struct ExecPlugin {
        int listen_fd;
        pid_t pid;
        sd_event_source *child_source;
        sd_event_source *restart_timer;
        uint64_t n_starts;
        unsigned n_restarts;
        bool stopping;
        bool restart_requested;
        char *state_directory; /* <socket dir>/../state/<name>, as StateDirectory= would give */
        uint64_t start_times[START_HISTORY];
} ExecPlugin;

static int exec_spawn(HostPlugin *p);

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        for (char *s = copy + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        return 0;
}

static int exec_bind(HostPlugin *p) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        const char *path = p->settings.socket_path;
        mode_t old;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        r = mkdir_parents(path);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        old = umask(0177);
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return -errno;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static bool exec_start_limit_hit(HostPlugin *p, ExecPlugin *e, uint64_t now) {
        unsigned burst = MIN(p->settings.start_limit_burst, (unsigned) START_HISTORY);
        uint64_t oldest;

        if (burst == 0 || p->settings.start_limit_interval_usec == 0 || e->n_starts < burst)
                return false;
        /* The start burst-many starts ago, in the ring of start times. */
        oldest = e->start_times[(e->n_starts - burst) % START_HISTORY];
        return now - oldest < p->settings.start_limit_interval_usec;
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;
        ExecPlugin *e = p->backend_data;
        int r;

        e->restart_timer = sd_event_source_disable_unref(e->restart_timer);
        r = exec_spawn(p);
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;

                if (asprintf(&msg, "failed to spawn %s: %s", p->settings.binary, strerror(-r)) < 0)
                        msg = NULL;
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg ?: "failed to spawn");
        }
        return 0;
}

static bool exit_wants_restart(HostRestart policy, const siginfo_t *si) {
        bool clean = si->si_code == CLD_EXITED && si->si_status == 0;
        bool abnormal = si->si_code != CLD_EXITED;

        switch (policy) {
        case HOST_RESTART_ALWAYS:
                return true;
        case HOST_RESTART_ON_FAILURE:
                return !clean;
        case HOST_RESTART_ON_ABNORMAL:
                return abnormal;
        default:
                return false;
        }
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        HostPlugin *p = userdata;
        ExecPlugin *e = p->backend_data;
        char why[128];
        uint32_t zero = 0;
        int r;

        e->child_source = sd_event_source_disable_unref(e->child_source);
        e->pid = 0;

        if (si->si_code == CLD_EXITED)
                snprintf(why, sizeof(why), "exited with status %i", si->si_status);
        else
                snprintf(why, sizeof(why), "killed by signal %s", strsignal(si->si_status));
        sdloop_log_full_errno(si->si_code == CLD_EXITED && si->si_status == 0 ? LOG_INFO : LOG_WARNING, 0,
                              "Plugin %s process %s.", p->settings.name, why);

        if (e->stopping)
                return 0;

        if (e->restart_requested) {
                e->restart_requested = false;
                host_plugin_update(p, -1, NULL, &zero, NULL);
                r = exec_spawn(p);
                if (r < 0)
                        host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, "failed to spawn after restart");
                return 0;
        }

        if (!exit_wants_restart(p->settings.restart, si)) {
                /* Nothing will accept on the socket any more: refuse connections instead of queueing. */
                e->listen_fd = safe_close(e->listen_fd);
                (void) unlink(p->settings.socket_path);
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, &zero, why);
                return 0;
        }

        if (exec_start_limit_hit(p, e, host_now())) {
                char msg[256];

                snprintf(msg, sizeof(msg), "start limit hit: %u starts within %" PRIu64 " ms; last %s",
                         p->settings.start_limit_burst, p->settings.start_limit_interval_usec / USEC_PER_MSEC, why);
                log_error("Plugin %s: %s. Giving up.", p->settings.name, msg);
                /* Like a failed socket unit: connections are refused from now on. */
                e->listen_fd = safe_close(e->listen_fd);
                (void) unlink(p->settings.socket_path);
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, &zero, msg);
                return 0;
        }

        e->n_restarts++;
        host_plugin_update(p, -1, &e->n_restarts, &zero, why);

        /* Accuracy 1 µs: with 0, sd-event may coalesce the wake-up up to 250 ms late, and a host that is
         * only waiting for the restarted plugin has nothing else to wake it earlier. */
        r = sd_event_add_time_relative(p->host->event, &e->restart_timer, CLOCK_MONOTONIC,
                                       p->settings.restart_usec, 1, on_restart_timer, p);
        if (r < 0)
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, "failed to schedule restart");
        return 0;
}

static void exec_child(HostPlugin *p, ExecPlugin *e) {
        _cleanup_strv_free_ char **argv = NULL;
        size_t n = strv_length(p->settings.args);
        sigset_t all;
        int fd;

        /* The host blocks signals for sd-event; the plugin must start with a clean mask. */
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);

        if (e->listen_fd != SD_LISTEN_FDS_START) {
                if (dup2(e->listen_fd, SD_LISTEN_FDS_START) < 0)
                        _exit(EXIT_FAILURE);
        } else
                (void) fcntl(SD_LISTEN_FDS_START, F_SETFD, 0);
        (void) close_range(SD_LISTEN_FDS_START + 1, ~0U, 0);

        /* Output to the journal, as a unit's StandardOutput=journal would. */
        fd = sd_journal_stream_fd(p->settings.name, LOG_INFO, true);
        if (fd >= 0) {
                struct stat st;
                char buf[64];

                (void) dup2(fd, STDOUT_FILENO);
                (void) dup2(fd, STDERR_FILENO);
                if (fd > STDERR_FILENO && fd != SD_LISTEN_FDS_START)
                        (void) close(fd);
                if (fstat(STDERR_FILENO, &st) >= 0) {
                        snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long) st.st_dev,
                                 (unsigned long long) st.st_ino);
                        (void) setenv("JOURNAL_STREAM", buf, 1);
                }
        }

        for (char **i = p->settings.environment; i && *i; i++)
                (void) putenv(*i);
        (void) setenv("LISTEN_FDS", "1", 1);
        {
                char pid[32];

                snprintf(pid, sizeof(pid), "%i", (int) getpid());
                (void) setenv("LISTEN_PID", pid, 1);
        }
        (void) unsetenv("LISTEN_FDNAMES");
        (void) setenv("SDLOOP_PLUGIN", p->settings.name, 1);
        if (e->state_directory)
                (void) setenv("STATE_DIRECTORY", e->state_directory, 1);
        if (p->settings.crash_after_step > 0) {
                char v[32];

                snprintf(v, sizeof(v), "%" PRIu64, e->n_starts * p->settings.crash_after_step);
                (void) setenv("SDLOOP_CRASH_AFTER", v, 1);
        }

        argv = new0(char *, n + 2);
        if (!argv)
                _exit(EXIT_FAILURE);
        argv[0] = p->settings.binary;
        for (size_t i = 0; i < n; i++)
                argv[i + 1] = p->settings.args[i];

        execv(p->settings.binary, argv);
        fprintf(stderr, "Failed to execute %s: %m\n", p->settings.binary);
        _exit(127);
}

static int exec_spawn(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;
        uint64_t now = host_now();
        pid_t pid;
        int r;

        if (e->listen_fd < 0) {
                r = exec_bind(p);
                if (r < 0)
                        return r;
                e->listen_fd = r;
        }

        e->start_times[e->n_starts % START_HISTORY] = now;
        e->n_starts++;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                exec_child(p, e);

        e->pid = pid;
        r = sd_event_add_child(p->host->event, &e->child_source, pid, WEXITED, on_child_exit, p);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                e->pid = 0;
                return r;
        }

        uint32_t mp = (uint32_t) pid;
        host_plugin_update(p, -1, NULL, &mp, NULL);
        return 0;
}

static int exec_init(Host *h) {
        sigset_t mask;

        /* sd_event_add_child() wants SIGCHLD blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        return RET_NERRNO(sigprocmask(SIG_BLOCK, &mask, NULL));
}

static int exec_start(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;
        int r;

        if (!e) {
                e = new0(ExecPlugin, 1);
                if (!e)
                        return -ENOMEM;
                e->listen_fd = -EBADF;
                p->backend_data = e;
        }
        if (e->pid > 0 || e->restart_timer)
                return 0;

        e->stopping = false;
        e->n_restarts = 0;
        if (!e->state_directory) {
                _cleanup_free_ char *sockdir = strdup(p->settings.socket_path);
                char *slash;

                if (!sockdir)
                        return -ENOMEM;
                slash = strrchr(sockdir, '/');
                if (slash)
                        *slash = 0;
                if (asprintf(&e->state_directory, "%s/../state/%s", sockdir, p->settings.name) < 0)
                        return -ENOMEM;
                r = mkdir_parents(e->state_directory);
                if (r < 0 || (mkdir(e->state_directory, 0700) < 0 && errno != EEXIST))
                        log_warning("Cannot create state directory %s for plugin %s, continuing without.",
                                    e->state_directory, p->settings.name);
        }
        free(p->unit);
        p->unit = strdup(p->settings.binary);
        return exec_spawn(p);
}

static void exec_reap(ExecPlugin *e) {
        int status;

        if (e->pid <= 0)
                return;

        /* Give it the same grace a unit gets, in small steps, then insist. */
        (void) kill(e->pid, SIGTERM);
        for (int i = 0; i < 500; i++) {
                if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
                        e->pid = 0;
                        break;
                }
                usleep(10 * 1000);
        }
        if (e->pid > 0) {
                (void) kill(e->pid, SIGKILL);
                (void) waitpid(e->pid, &status, 0);
                e->pid = 0;
        }
        e->child_source = sd_event_source_disable_unref(e->child_source);
}

static int exec_stop(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;
        uint32_t zero = 0;

        if (!e)
                return 0;
        e->stopping = true;
        e->restart_timer = sd_event_source_disable_unref(e->restart_timer);
        exec_reap(e);
        e->listen_fd = safe_close(e->listen_fd);
        (void) unlink(p->settings.socket_path);
        host_plugin_update(p, -1, NULL, &zero, NULL);
        return 0;
}

static int exec_restart(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;

        if (!e || e->pid <= 0)
                return exec_start(p);
        e->restart_requested = true;
        return RET_NERRNO(kill(e->pid, SIGTERM));
}

static int exec_reattach(HostPlugin *p) {
        /* Our children die with us only if they notice; there is nothing to adopt without systemd. */
        return 0;
}

static void exec_free(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;

        if (!e)
                return;
        (void) exec_stop(p);
        free(e->state_directory);
        p->backend_data = mfree(e);
}

const HostBackend host_backend_exec = {
        .name = "exec",
        .init = exec_init,
        .start = exec_start,
        .stop = exec_stop,
        .restart = exec_restart,
        .reattach = exec_reattach,
        .free = exec_free,
};
