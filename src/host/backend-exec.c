/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The exec backend: no systemd needed. The host binds each plugin's socket itself and keeps it open
 * across restarts (so reconnects queue in the backlog, as with a .socket unit), spawns the plugin
 * with LISTEN_FDS/LISTEN_PID, applies Restart=/RestartSec=/StartLimit* like systemd would, and sends the
 * plugin's stdout/stderr to the journal when journald runs (else they stay on the host's stderr). Each
 * plugin gets a NOTIFY_SOCKET of its own and, with a watchdog, WATCHDOG_USEC/WATCHDOG_PID, which the
 * host enforces (backend-exec-notify.c). */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "backend-exec-notify.h"
#include "backend-op.h"
#include "host-backend.h"
#include "host-integrity.h"
#include "host-plugin.h"
#include "macro.h"
#include "util.h"

#define START_HISTORY 64
#define SPAWN_STACK_SIZE (64U * 1024U)
#define DECIMAL_STR_MAX(type) (2U + sizeof(type) * 3U)
/* The grace after SIGTERM before SIGKILL, as a unit's TimeoutStopSec= (the systemd backends give the same). */
#define EXEC_STOP_TIMEOUT_USEC (5 * USEC_PER_SEC)

typedef struct ExecPlugin {
        BackendOps ops;
        int listen_fd;
        char *socket_path; /* where listen_fd is bound: removed on stop even if the settings changed since */
        pid_t pid;
        sd_event_source *child_source;
        sd_event_source *restart_timer;
        HostBinaryCheck *binary_check; /* a pinned binary being checked before our own restart */
        bool check_finishes_op;        /* … of a restart the host asked for: the operation ends with it */
        sd_event_source *kill_timer; /* SIGKILL if SIGTERM (stop, restart) did not end it in time */
        bool sigkill_sent;
        uint64_t n_starts;
        unsigned n_restarts;
        bool stopping;
        bool restart_requested;
        char *state_directory; /* settings.state_directory once made */
        ExecNotify *notify;
        uint64_t start_times[START_HISTORY];
} ExecPlugin;

/* A process whose plugin is gone while it was still stopping: the host reaps it (SIGKILL at the end). */
typedef struct ExecOrphan ExecOrphan;
struct ExecOrphan {
        Host *host;
        pid_t pid;
        sd_event_source *child_source;
        sd_event_source *kill_timer;
        ExecOrphan *next;
};

typedef struct ExecBackend {
        ExecOrphan *orphans;
} ExecBackend;

static int exec_spawn(HostPlugin *p);

static int exec_bind(HostPlugin *p) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        const char *path = p->settings.socket_path;
        mode_t old;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        r = mkdir_parents(path, 0755);
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
        r = free_and_strdup(&((ExecPlugin *) p->backend_data)->socket_path, path);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

static void exec_unbind(ExecPlugin *e) {
        e->listen_fd = safe_close(e->listen_fd);
        if (e->socket_path)
                (void) unlink(e->socket_path);
        e->socket_path = mfree(e->socket_path);
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

static void exec_respawned(HostPlugin *p, ExecPlugin *e, int r, const char *message) {
        bool finish = e->check_finishes_op;

        e->check_finishes_op = false;
        if (finish)
                backend_ops_finish(&e->ops, r, message);
}

/* Our own restarts check a pinned binary as the host's starts do: one that no longer matches is not run,
 * and, like a failed socket unit, nothing accepts connections any more. */
static void on_respawn_checked(HostPlugin *p, int r, const char *message, void *userdata) {
        ExecPlugin *e = p->backend_data;
        _cleanup_free_ char *msg = NULL;
        uint32_t zero = 0;

        if (r < 0) {
                exec_unbind(e);
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, &zero, message);
                exec_respawned(p, e, r, message);
                return;
        }
        r = exec_spawn(p);
        if (r < 0) {
                if (asprintf(&msg, "failed to spawn %s: %s", p->settings.binary, strerror(-r)) < 0)
                        msg = NULL;
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, NULL, msg ?: "failed to spawn");
        }
        exec_respawned(p, e, r, msg);
}

/* Spawn the process anew after it ended, its pinned binary checked first (from the loop, a piece at a
 * time); @finish_op: the restart operation under way ends with it. */
static void exec_respawn(HostPlugin *p, ExecPlugin *e, bool finish_op) {
        int r;

        e->check_finishes_op = finish_op;
        if (p->settings.binary_sha256) {
                r = host_plugin_check_binary_async(p, &e->binary_check, on_respawn_checked, NULL);
                if (r >= 0)
                        return;
        } else
                r = 0;
        on_respawn_checked(p, r, r < 0 ? "failed to check the binary" : NULL, NULL);
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;
        ExecPlugin *e = p->backend_data;

        e->restart_timer = sd_event_source_disable_unref(e->restart_timer);
        exec_respawn(p, e, false);
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
        _cleanup_free_ char *watchdog = NULL;
        char why[192];
        uint32_t zero = 0;
        bool sigkilled;
        int r;

        e->child_source = sd_event_source_disable_unref(e->child_source);
        e->kill_timer = sd_event_source_disable_unref(e->kill_timer);
        e->pid = 0;
        sigkilled = e->sigkill_sent;
        e->sigkill_sent = false;

        if (exec_notify_exited(e->notify, si, &watchdog) > 0)
                snprintf(why, sizeof(why), "%s", watchdog);
        else if (si->si_code == CLD_EXITED)
                snprintf(why, sizeof(why), "exited with status %i", si->si_status);
        else
                snprintf(why, sizeof(why), "killed by signal %s", strsignal(si->si_status));
        sdloop_log_full_errno(si->si_code == CLD_EXITED && si->si_status == 0 ? LOG_INFO : LOG_WARNING, 0,
                              "Plugin %s process %s.", p->settings.name, why);

        if (e->stopping) {
                /* Said in LastError: a plugin that needs SIGKILL to stop loses what it did not save. */
                host_plugin_update(p, -1, NULL, &zero,
                                   sigkilled ? "did not stop within the stop timeout after SIGTERM, killed" : NULL);
                backend_ops_finish(&e->ops, 0, NULL);
                return 0;
        }

        if (e->restart_requested) {
                e->restart_requested = false;
                host_plugin_update(p, -1, NULL, &zero, NULL);
                exec_respawn(p, e, true);
                return 0;
        }

        if (!exit_wants_restart(p->settings.restart, si)) {
                /* Nothing will accept on the socket any more: refuse connections instead of queueing. */
                exec_unbind(e);
                host_plugin_update(p, HOST_PLUGIN_FAILED, NULL, &zero, why);
                return 0;
        }

        if (exec_start_limit_hit(p, e, host_now())) {
                char msg[320];

                snprintf(msg, sizeof(msg), "start limit hit: %u starts within %" PRIu64 " ms; last %s",
                         p->settings.start_limit_burst, p->settings.start_limit_interval_usec / USEC_PER_MSEC, why);
                log_error("Plugin %s: %s. Giving up.", p->settings.name, msg);
                /* Like a failed socket unit: connections are refused from now on. */
                exec_unbind(e);
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

/* Everything the child needs, prepared beforehand: it runs in our memory (see exec_spawn()) and may only
 * make system calls before execve(). */
typedef struct SpawnPlan {
        const char *binary;
        char **argv;
        char **envp;
        char *listen_pid;  /* "LISTEN_PID=" and room for the digits, written by the child */
        char *watchdog_pid; /* the same for "WATCHDOG_PID=", or NULL */
        int listen_fd;
        int log_fd;        /* journal stream for stdout/stderr, or -1 */
        char *exec_failed; /* message for a failed execve() */
} SpawnPlan;

static void spawn_plan_done(SpawnPlan *s) {
        free(s->argv); /* the strings belong to the settings */
        strv_free(s->envp);
        free(s->exec_failed);
        safe_close(s->log_fd);
}

static bool env_is(const char *entry, const char *key) {
        size_t l = strlen(key);

        return strncmp(entry, key, l) == 0 && entry[l] == '=';
}

static bool env_overridden(const char *entry, char **overrides) {
        for (char **i = overrides; i && *i; i++) {
                size_t l = strcspn(*i, "=");

                if (strncmp(entry, *i, l) == 0 && entry[l] == '=')
                        return true;
        }
        return false;
}

/* Our environment, then the plugin's (host_plugin_environment()), then what the runtime needs (which wins). */
static int spawn_environment(HostPlugin *p, ExecPlugin *e, int log_fd, SpawnPlan *s) {
        static const char * const ours[] = { "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM",
                                             "SDLOOP_PLUGIN", "STATE_DIRECTORY", "SDLOOP_CRASH_AFTER",
                                             "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID" };
        _cleanup_strv_free_ char **plugin = NULL;
        size_t n, k = 0;
        char **env;
        int r;

        r = host_plugin_environment(p, &plugin);
        if (r < 0)
                return r;

        n = strv_length(environ) + strv_length(plugin) + ELEMENTSOF(ours) + 1;
        env = new0(char *, n);
        if (!env)
                return -ENOMEM;
        s->envp = env;

        for (char **i = environ; i && *i; i++) {
                bool skip = env_overridden(*i, plugin);

                for (size_t j = 0; !skip && j < ELEMENTSOF(ours); j++)
                        skip = env_is(*i, ours[j]);
                if (skip)
                        continue;
                if (!(env[k++] = strdup(*i)))
                        return -ENOMEM;
        }
        /* The instance name comes with it. */
        for (char **i = plugin; i && *i; i++) {
                bool skip = false;

                for (size_t j = 0; !skip && j < ELEMENTSOF(ours); j++)
                        skip = env_is(*i, ours[j]) && !env_is(*i, "SDLOOP_PLUGIN");
                if (!skip && !(env[k++] = strdup(*i)))
                        return -ENOMEM;
        }

        if (!(env[k++] = strdup("LISTEN_FDS=1")))
                return -ENOMEM;
        /* The child's PID is known only in the child. */
        if (asprintf(&env[k], "LISTEN_PID=%*s", (int) DECIMAL_STR_MAX(pid_t), "") < 0)
                return (env[k] = NULL), -ENOMEM;
        s->listen_pid = env[k++];
        if (e->notify && asprintf(&env[k++], "NOTIFY_SOCKET=%s", exec_notify_address(e->notify)) < 0)
                return (env[k - 1] = NULL), -ENOMEM;
        if (e->notify && p->settings.watchdog_usec > 0) {
                if (asprintf(&env[k++], "WATCHDOG_USEC=%" PRIu64, p->settings.watchdog_usec) < 0)
                        return (env[k - 1] = NULL), -ENOMEM;
                if (asprintf(&env[k], "WATCHDOG_PID=%*s", (int) DECIMAL_STR_MAX(pid_t), "") < 0)
                        return (env[k] = NULL), -ENOMEM;
                s->watchdog_pid = env[k++];
        }
        if (e->state_directory && asprintf(&env[k++], "STATE_DIRECTORY=%s", e->state_directory) < 0)
                return (env[k - 1] = NULL), -ENOMEM;
        if (p->settings.crash_after_step > 0 &&
            asprintf(&env[k++], "SDLOOP_CRASH_AFTER=%" PRIu64, e->n_starts * p->settings.crash_after_step) < 0)
                return (env[k - 1] = NULL), -ENOMEM;
        if (log_fd >= 0) {
                struct stat st;

                if (fstat(log_fd, &st) >= 0 &&
                    asprintf(&env[k++], "JOURNAL_STREAM=%llu:%llu", (unsigned long long) st.st_dev,
                             (unsigned long long) st.st_ino) < 0)
                        return (env[k - 1] = NULL), -ENOMEM;
        }
        return 0;
}

static int spawn_plan(HostPlugin *p, ExecPlugin *e, SpawnPlan *s) {
        size_t n = strv_length(p->settings.args);
        int r;

        *s = (SpawnPlan) { .binary = p->settings.binary, .listen_fd = e->listen_fd, .log_fd = -EBADF };

        s->argv = new0(char *, n + 2);
        if (!s->argv)
                return -ENOMEM;
        s->argv[0] = p->settings.binary;
        for (size_t i = 0; i < n; i++)
                s->argv[i + 1] = p->settings.args[i];

        /* Output to the journal, as a unit's StandardOutput=journal would. */
        s->log_fd = sd_journal_stream_fd(p->settings.name, LOG_INFO, true);
        if (s->log_fd < 0)
                s->log_fd = -EBADF;

        r = spawn_environment(p, e, s->log_fd, s);
        if (r < 0)
                return r;

        if (asprintf(&s->exec_failed, "Failed to execute %s.\n", p->settings.binary) < 0)
                return -ENOMEM;
        return 0;
}

static int exec_child(void *userdata) {
        SpawnPlan *s = userdata;
        sigset_t none;
        char digits[DECIMAL_STR_MAX(pid_t)], *d = digits + sizeof(digits);
        pid_t pid = getpid();

        if (s->log_fd >= 0) {
                (void) dup2(s->log_fd, STDOUT_FILENO);
                (void) dup2(s->log_fd, STDERR_FILENO);
        }
        if (s->listen_fd != SD_LISTEN_FDS_START) {
                if (dup2(s->listen_fd, SD_LISTEN_FDS_START) < 0)
                        _exit(EXIT_FAILURE);
        } else
                (void) fcntl(SD_LISTEN_FDS_START, F_SETFD, 0);
        (void) close_range(SD_LISTEN_FDS_START + 1, ~0U, 0);

        /* LISTEN_PID=, by hand: no stdio here. */
        do
                *--d = (char) ('0' + pid % 10);
        while ((pid /= 10) > 0);
        memcpy(s->listen_pid + strlen("LISTEN_PID="), d, digits + sizeof(digits) - d);
        s->listen_pid[strlen("LISTEN_PID=") + (digits + sizeof(digits) - d)] = 0;
        if (s->watchdog_pid) {
                memcpy(s->watchdog_pid + strlen("WATCHDOG_PID="), d, digits + sizeof(digits) - d);
                s->watchdog_pid[strlen("WATCHDOG_PID=") + (digits + sizeof(digits) - d)] = 0;
        }

        /* The host blocks signals for sd-event (and all of them around the spawn): the plugin starts with a
         * clean mask. */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);

        execve(s->binary, s->argv, s->envp);
        (void) write(STDERR_FILENO, s->exec_failed, strlen(s->exec_failed));
        _exit(127);
}

static int exec_spawn(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;
        _cleanup_(spawn_plan_done) SpawnPlan plan = { .log_fd = -EBADF };
        _cleanup_free_ void *stack = NULL;
        uint64_t now = host_now();
        sigset_t all, saved;
        pid_t pid;
        int r;

        if (e->listen_fd < 0) {
                r = exec_bind(p);
                if (r < 0)
                        return r;
                e->listen_fd = r;
        }
        if (!e->notify) {
                r = exec_notify_new(p, &e->notify);
                if (r < 0)
                        return r;
        }

        e->start_times[e->n_starts % START_HISTORY] = now;
        e->n_starts++;

        r = spawn_plan(p, e, &plan);
        if (r < 0)
                return r;

        /* Not fork(): copying the host's page tables, then a copy-on-write fault for every page the host
         * touches until the child has exec'ed, costs in proportion to the host's size (milliseconds for a
         * host of a few dozen MiB; a page fault is dear in a VM). The child borrows our memory instead
         * (what posix_spawn() does; it cannot, as LISTEN_PID= must be the child's own PID) on a stack of
         * its own, and we wait until it has exec'ed. */
        stack = malloc(SPAWN_STACK_SIZE);
        if (!stack)
                return -ENOMEM;
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &saved);
        pid = clone(exec_child, (uint8_t *) stack + SPAWN_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
        r = -errno;
        (void) sigprocmask(SIG_SETMASK, &saved, NULL);
        if (pid < 0)
                return r;

        e->pid = pid;
        r = sd_event_add_child(p->host->event, &e->child_source, pid, WEXITED, on_child_exit, p);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                e->pid = 0;
                return r;
        }

        (void) exec_notify_watch(e->notify, pid);
        uint32_t mp = (uint32_t) pid;
        host_plugin_update(p, -1, NULL, &mp, NULL);
        return 0;
}

/* --- stopping without waiting: SIGTERM, then SIGKILL from a timer; the child watch says when it is gone --- */

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HostPlugin *p = userdata;
        ExecPlugin *e = p->backend_data;

        e->kill_timer = sd_event_source_disable_unref(e->kill_timer);
        if (e->pid <= 0)
                return 0;
        log_warning("Plugin %s: PID " PID_FMT " still there %" PRIu64 " s after SIGTERM, sending SIGKILL.",
                    p->settings.name, e->pid, EXEC_STOP_TIMEOUT_USEC / USEC_PER_SEC);
        e->sigkill_sent = true;
        (void) kill(e->pid, SIGKILL);
        return 0;
}

/* Ask the process to go; it has the stop timeout, then it is killed. Its exit (on_child_exit()) ends the
 * operation. */
static int exec_terminate(HostPlugin *p, ExecPlugin *e) {
        int r;

        if (kill(e->pid, SIGTERM) < 0 && errno != ESRCH)
                return -errno;
        if (e->kill_timer)
                return 0;
        r = sd_event_add_time_relative(p->host->event, &e->kill_timer, CLOCK_MONOTONIC, EXEC_STOP_TIMEOUT_USEC,
                                       USEC_PER_MSEC, on_kill_timer, p);
        if (r < 0) {
                e->kill_timer = NULL;
                log_warning_errno(r, "Plugin %s: cannot schedule SIGKILL, sending it now: %m", p->settings.name);
                (void) kill(e->pid, SIGKILL);
        }
        return 0;
}

static int on_orphan_exit(sd_event_source *s, const siginfo_t *si, void *userdata);

static void orphan_free(ExecOrphan *o) {
        ExecBackend *b = o->host->backend_data;

        for (ExecOrphan **i = &b->orphans; *i; i = &(*i)->next)
                if (*i == o) {
                        *i = o->next;
                        break;
                }
        sd_event_source_disable_unref(o->child_source);
        sd_event_source_disable_unref(o->kill_timer);
        free(o);
}

static int on_orphan_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        orphan_free(userdata);
        return 0;
}

static int on_orphan_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecOrphan *o = userdata;

        o->kill_timer = sd_event_source_disable_unref(o->kill_timer);
        (void) kill(o->pid, SIGKILL);
        return 0;
}

/* The plugin goes away while its process is still there: ask it to stop, and reap it later. */
static void exec_orphan(HostPlugin *p, ExecPlugin *e) {
        ExecBackend *b = p->host->backend_data;
        ExecOrphan *o;
        int r;

        if (e->pid <= 0)
                return;
        (void) kill(e->pid, SIGTERM);
        e->child_source = sd_event_source_disable_unref(e->child_source);
        e->kill_timer = sd_event_source_disable_unref(e->kill_timer);

        o = b ? new0(ExecOrphan, 1) : NULL;
        if (!o)
                goto kill_now;
        *o = (ExecOrphan) { .host = p->host, .pid = e->pid };
        r = sd_event_add_child(p->host->event, &o->child_source, o->pid, WEXITED, on_orphan_exit, o);
        if (r >= 0)
                r = sd_event_add_time_relative(p->host->event, &o->kill_timer, CLOCK_MONOTONIC,
                                               EXEC_STOP_TIMEOUT_USEC, USEC_PER_MSEC, on_orphan_kill_timer, o);
        if (r < 0) {
                sd_event_source_disable_unref(o->child_source);
                free(o);
                goto kill_now;
        }
        o->next = b->orphans;
        b->orphans = o;
        e->pid = 0;
        return;

kill_now:
        (void) kill(e->pid, SIGKILL);
        (void) waitpid(e->pid, NULL, 0);
        e->pid = 0;
}

/* --- the operations --------------------------------------------------------------------------------- */

static int exec_do_start(HostPlugin *p, ExecPlugin *e) {
        int r;

        if (e->pid > 0 || e->restart_timer || e->binary_check)
                return 0;

        e->stopping = false;
        e->n_restarts = 0;
        e->state_directory = mfree(e->state_directory);
        if (p->settings.state_directory) {
                /* As StateDirectory= would: made on start, the plugin's own. */
                r = mkdir_parents(p->settings.state_directory, 0755);
                if (r < 0 || (mkdir(p->settings.state_directory, 0700) < 0 && errno != EEXIST))
                        log_warning("Cannot create state directory %s for plugin %s, continuing without.",
                                    p->settings.state_directory, p->settings.name);
                else {
                        e->state_directory = strdup(p->settings.state_directory);
                        if (!e->state_directory)
                                return -ENOMEM;
                }
        }
        free(p->unit);
        p->unit = strdup(p->settings.binary);
        return exec_spawn(p);
}

static int exec_do_stop(HostPlugin *p, ExecPlugin *e) {
        uint32_t zero = 0;
        int r;

        e->stopping = true;
        e->restart_requested = false;
        e->restart_timer = sd_event_source_disable_unref(e->restart_timer);
        host_binary_check_cancel(&e->binary_check);
        e->check_finishes_op = false;
        /* Nobody may connect to a plugin being stopped: connections are refused from now on. */
        exec_unbind(e);
        (void) exec_notify_exited(e->notify, NULL, NULL);
        if (e->pid <= 0) {
                host_plugin_update(p, -1, NULL, &zero, NULL);
                return 1;
        }
        r = exec_terminate(p, e);
        return r < 0 ? r : 0;
}

static int exec_run(HostPlugin *p, BackendOpType type) {
        ExecPlugin *e = p->backend_data;
        int r;

        switch (type) {
        case BACKEND_OP_START:
                r = exec_do_start(p, e);
                break;
        case BACKEND_OP_STOP:
                r = exec_do_stop(p, e);
                if (r == 0)
                        return 0; /* on_child_exit() ends it */
                break;
        case BACKEND_OP_RESTART:
                if (e->pid <= 0) {
                        r = exec_do_start(p, e);
                        break;
                }
                /* on_child_exit() spawns the next process and ends it. */
                e->restart_requested = true;
                r = exec_terminate(p, e);
                if (r >= 0)
                        return 0;
                e->restart_requested = false;
                break;
        case BACKEND_OP_REATTACH:
                /* Our children die with us only if they notice; there is nothing to adopt without systemd. */
                r = 0;
                break;
        default:
                r = -EOPNOTSUPP;
        }
        backend_ops_finish(&e->ops, r < 0 ? r : 0, NULL);
        return 0;
}

static int exec_data(HostPlugin *p, ExecPlugin **ret) {
        ExecPlugin *e = p->backend_data;

        if (!e) {
                e = new0(ExecPlugin, 1);
                if (!e)
                        return -ENOMEM;
                e->listen_fd = -EBADF;
                backend_ops_init(&e->ops, p, exec_run);
                p->backend_data = e;
        }
        *ret = e;
        return 0;
}

static int exec_push(HostPlugin *p, BackendOpType type, host_backend_done_fn done, void *userdata) {
        ExecPlugin *e;
        int r;

        r = exec_data(p, &e);
        if (r < 0)
                return r;
        return backend_ops_push(&e->ops, type, done, userdata);
}

static int exec_start(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return exec_push(p, BACKEND_OP_START, done, userdata);
}

static int exec_stop(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return exec_push(p, BACKEND_OP_STOP, done, userdata);
}

static int exec_restart(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return exec_push(p, BACKEND_OP_RESTART, done, userdata);
}

static int exec_reattach(HostPlugin *p, host_backend_done_fn done, void *userdata) {
        return exec_push(p, BACKEND_OP_REATTACH, done, userdata);
}

static int exec_kill(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;

        if (!e || e->pid <= 0)
                return 0;
        /* Exits as a crash would: on_child_exit() applies the restart policy. */
        return RET_NERRNO(kill(e->pid, SIGKILL));
}

static void exec_free(HostPlugin *p) {
        ExecPlugin *e = p->backend_data;

        if (!e)
                return;
        backend_ops_done(&e->ops);
        e->restart_timer = sd_event_source_disable_unref(e->restart_timer);
        host_binary_check_cancel(&e->binary_check);
        exec_orphan(p, e);
        exec_unbind(e);
        exec_notify_free(e->notify);
        free(e->state_directory);
        p->backend_data = mfree(e);
}

static int exec_init(Host *h) {
        sigset_t mask;

        h->backend_data = new0(ExecBackend, 1);
        if (!h->backend_data)
                return -ENOMEM;
        /* sd_event_add_child() wants SIGCHLD blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        return RET_NERRNO(sigprocmask(SIG_BLOCK, &mask, NULL));
}

static void exec_done(Host *h) {
        ExecBackend *b = h->backend_data;

        if (!b)
                return;
        /* The host goes: what did not stop in time is killed now. */
        while (b->orphans) {
                pid_t pid = b->orphans->pid;

                (void) kill(pid, SIGKILL);
                orphan_free(b->orphans);
                (void) waitpid(pid, NULL, 0);
        }
        h->backend_data = mfree(b);
}

const HostBackend host_backend_exec = {
        .name = "exec",
        .init = exec_init,
        .done = exec_done,
        .start = exec_start,
        .stop = exec_stop,
        .restart = exec_restart,
        .kill = exec_kill,
        .reattach = exec_reattach,
        .free = exec_free,
};
