/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The command source: {"type": "command", "argv": ["/usr/bin/price"], "timeout_sec": 5}, its stdout a
 * decimal. The command runs as a child process in a process group of its own, its output read through
 * non-blocking pipes from the loop; at the timeout the whole group is killed. */

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "source-internal.h"
#include "util.h"

static int parse_argv(json_object *v, const char *field, char ***ret, char **ret_error) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n;

        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
                return feed_field_error(ret_error, field, "expected a non-empty array of strings");
        n = json_object_array_length(v);
        l = new0(char *, n + 1);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *a = json_object_array_get_idx(v, i);

                if (!json_object_is_type(a, json_type_string) ||
                    (i == 0 && isempty(json_object_get_string(a)))) {
                        _cleanup_free_ char *f = NULL;

                        if (asprintf(&f, "%s[%zu]", field, i) < 0)
                                return -ENOMEM;
                        return feed_field_error(ret_error, f, i == 0 ? "expected the program to run" :
                                                     "expected a string");
                }
                l[i] = strdup(json_object_get_string(a));
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}


#define SUBFIELD(key)                                                   \
        _cleanup_free_ char *f_##key = source_field_join(field, #key);  \
        if (!f_##key)                                                   \
                return -ENOMEM;

static int command_parse(FeedSourceConfig *c, json_object *j, const char *field, char **ret_error) {
        json_object *v;
        int r;
        SUBFIELD(argv);

        if (!json_object_object_get_ex(j, "argv", &v))
                return feed_field_error(ret_error, field, "missing \"argv\"");
        r = parse_argv(v, f_argv, &c->argv, ret_error);
        if (r < 0)
                return r;
        return 0;
}
#undef SUBFIELD

static void command_release(FeedSource *s) {
        s->child_source = sd_event_source_disable_unref(s->child_source);
        s->stdout_source = sd_event_source_disable_unref(s->stdout_source);
        s->stderr_source = sd_event_source_disable_unref(s->stderr_source);
        s->timer = sd_event_source_disable_unref(s->timer);
        s->stdout_fd = safe_close(s->stdout_fd);
        s->stderr_fd = safe_close(s->stderr_fd);
        s->pid = 0;
        source_buffer_reset(&s->out);
        source_buffer_reset(&s->err);
}

/* Read what is there; 0 at EOF, -EAGAIN when more may come. */
static int command_drain(int fd, SourceBuffer *b) {
        char buf[4096];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n == 0)
                        return 0;
                if (n < 0)
                        return errno == EINTR ? -EAGAIN : (errno == EAGAIN ? -EAGAIN : -errno);
                /* Past the limit, keep reading (so the process is not stuck on a full pipe) but drop it. */
                (void) source_buffer_append(b, buf, (size_t) n);
        }
}

static int on_command_output(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        FeedSource *s = userdata;
        bool is_stdout = fd == s->stdout_fd;
        int r;

        r = command_drain(fd, is_stdout ? &s->out : &s->err);
        if (r != -EAGAIN) {
                /* EOF (or a broken pipe): nothing more from this one. */
                if (is_stdout)
                        s->stdout_source = sd_event_source_disable_unref(s->stdout_source);
                else
                        s->stderr_source = sd_event_source_disable_unref(s->stderr_source);
        }
        return 0;
}

static int on_command_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        FeedSource *s = userdata;

        s->timed_out = true;
        /* The whole process group: a shell's children go too. The exit is reaped by the child source. */
        (void) kill(-s->pid, SIGKILL);
        (void) kill(s->pid, SIGKILL);
        return 0;
}

static int on_command_exit(sd_event_source *es, const siginfo_t *si, void *userdata) {
        FeedSource *s = userdata;
        _cleanup_free_ char *error = NULL, *out = NULL;
        char status[64];
        int r = 0;

        /* Whatever it wrote before exiting is in the pipes by now. */
        if (s->stdout_fd >= 0)
                (void) command_drain(s->stdout_fd, &s->out);
        if (s->stderr_fd >= 0)
                (void) command_drain(s->stderr_fd, &s->err);
        s->child_source = sd_event_source_disable_unref(s->child_source);

        if (si->si_code == CLD_EXITED)
                snprintf(status, sizeof(status), "exited with status %d", si->si_status);
        else
                snprintf(status, sizeof(status), "killed by signal %s", strsignal(si->si_status) ?: "?");

        if (s->timed_out) {
                char t[32];

                snprintf(t, sizeof(t), "%g s", (double) s->config->timeout_usec / 1e6);
                r = source_errorf(&error, s, "timed out after %s, killed", t);
        } else if (si->si_code != CLD_EXITED || si->si_status != 0) {
                /* The first line of stderr usually says why. It is the command's own text, whatever
                 * bytes it wrote: escaped and cut, it can go into an error that travels over D-Bus. */
                const char *e = s->err.data ? s->err.data + strspn(s->err.data, " \t\r\n") : "";
                size_t len = strcspn(e, "\r\n");
                char line[256];

                r = source_errorf(&error, s, "%s%s%s", status, len > 0 ? ": " : "",
                                  sdloop_escape_into(line, sizeof(line), e, len, 0));
        } else if (s->out.too_large)
                r = source_errorf(&error, s, "output larger than %u bytes", FEED_SOURCE_OUTPUT_MAX);
        else if (!s->out.data || s->out.data[strspn(s->out.data, " \t\r\n")] == '\0')
                r = source_errorf(&error, s, "no output");
        else {
                out = TAKE_PTR(s->out.data);
                command_release(s);
                source_complete_text(s, "output", out);
                return 0;
        }

        command_release(s);
        if (r < 0)
                error = mfree(error);
        source_complete(s, NULL, error);
        return 0;
}

static void sigchld_block(void) {
        sigset_t mask, old;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                log_warning_errno(-errno, "Failed to block SIGCHLD: %m");
}

__attribute__((noreturn)) static void command_exec(FeedSource *s, int stdout_fd, int stderr_fd) {
        sigset_t none;
        int null;

        /* A process of its own group, so that a timeout kills everything it started. */
        (void) setpgid(0, 0);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGPIPE, SIG_DFL);

        null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(stdout_fd, STDOUT_FILENO) < 0 ||
            dup2(stderr_fd, STDERR_FILENO) < 0)
                _exit(126);
        /* Everything else of the host's stays behind. */
        (void) close_range(3, ~0U, 0);

        execvp(s->config->argv[0], s->config->argv);
        dprintf(STDERR_FILENO, "cannot execute %s: %s\n", s->config->argv[0], strerror(errno));
        _exit(127);
}

static int command_fetch(FeedSource *s, uint64_t step) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        int pipe_out[2], pipe_err[2];
        pid_t pid;
        int r;

        sigchld_block();

        if (pipe2(pipe_out, O_CLOEXEC) < 0)
                return -errno;
        out_r = pipe_out[0];
        out_w = pipe_out[1];
        if (pipe2(pipe_err, O_CLOEXEC) < 0)
                return -errno;
        err_r = pipe_err[0];
        err_w = pipe_err[1];
        if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_r, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                command_exec(s, out_w, err_w);

        s->pid = pid;
        s->timed_out = false;
        s->stdout_fd = TAKE_FD(out_r);
        s->stderr_fd = TAKE_FD(err_r);

        r = sd_event_add_child(s->event, &s->child_source, pid, WEXITED, on_command_exit, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(s->event, &s->stdout_source, s->stdout_fd, EPOLLIN, on_command_output, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(s->event, &s->stderr_source, s->stderr_fd, EPOLLIN, on_command_output, s);
        if (r < 0)
                goto fail;
        r = sd_event_add_time_relative(s->event, &s->timer, CLOCK_MONOTONIC, s->config->timeout_usec, 0,
                                       on_command_timeout, s);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(s->child_source, "feed-source-command");
        return 0;

fail:
        (void) kill(-pid, SIGKILL);
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        command_release(s);
        return r;
}

static void command_cancel(FeedSource *s) {
        if (s->pid > 0) {
                (void) kill(-s->pid, SIGKILL);
                (void) kill(s->pid, SIGKILL);
                /* Reap it now, its child source goes away below. SIGKILL makes this quick. */
                s->child_source = sd_event_source_disable_unref(s->child_source);
                (void) waitpid(s->pid, NULL, 0);
        }
        command_release(s);
}

static const char * const command_keys[] = { "type", "name", "argv", "timeout_sec", "multiplier", NULL };

const SourceVTable source_command_vtable = {
        .keys = command_keys,
        .parse = command_parse,
        .fetch = command_fetch,
        .cancel = command_cancel,
        .release = command_cancel,
};
