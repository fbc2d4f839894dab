/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "macro.h"
#include "plugin-notify.h"
#include "plugin-watchdog.h"
#include "sdloop-error.h"
#include "sdloop-env.h"
#include "sdloop-internal.h"
#include "sdloop-limits.h"
#include "sdloop-log.h"
#include "sdloop-plugin.h"

/* How long READY=1 and STOPPING=1 wait for a service manager that does not read its notifications. READY=1
 * matters to a Type=notify start; STOPPING=1 only informs, and must not eat into the unit's stop timeout. */
#define NOTIFY_READY_WAIT_USEC (5 * USEC_PER_SEC)
#define NOTIFY_STOPPING_WAIT_USEC (500 * USEC_PER_MSEC)

/* How long a plugin that cannot accept (out of file descriptors) waits before it tries again. */
#define ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)

typedef struct Connection Connection;

struct Connection {
        SdloopPlugin *plugin;
        SdloopPeer *peer;
        sd_event_source *release;
        Connection *next, *prev;
};

struct SdloopPlugin {
        const SdloopPluginDescription *description;
        sd_event *event;
        char *name;
        char *listen_path;
        bool unlink_listen_path;
        char **args;
        uint64_t crash_after;
        uint64_t n_calls;
        uint64_t call_timeout_usec; /* SDLOOP_CALL_TIMEOUT_USEC: of the calls the plugin makes; 0: sd-bus's */
        int listen_fd;
        sd_event_source *listen_source;
        sd_event_source *accept_retry; /* re-enables listen_source after a back-off */
        bool accept_backing_off;       /* accepting failed since the last connection we took */
        unsigned accept_failures;      /* …this many times */
        Connection *connections;
        unsigned n_connections;
        unsigned connections_max;      /* sdloop_connections_max() */
        unsigned over_cap;             /* connections refused since the last one taken */
        Connection *closed; /* gone, waiting for their deferred release */
        Scope *scope; /* every connection sees the objects of every other one */
};

static int property_plugin_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SdloopPlugin *p = ((SdloopBinding *) userdata)->userdata;
        return sd_bus_message_append(reply, "s", p->name);
}

static int property_plugin_kind(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SdloopPlugin *p = ((SdloopBinding *) userdata)->userdata;
        return sd_bus_message_append(reply, "s", p->description->kind);
}

static int property_plugin_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SdloopPlugin *p = ((SdloopBinding *) userdata)->userdata;
        return sd_bus_message_append(reply, "s", strempty(p->description->version));
}

static int property_protocol_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", (uint32_t) SDLOOP_PROTOCOL_VERSION);
}

static const sd_bus_vtable plugin_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_plugin_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_plugin_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_plugin_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProtocolVersion", "u", property_protocol_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

static void plugin_update_status(SdloopPlugin *p) {
        (void) plugin_notifyf(p->event, "STATUS=Serving %u connection%s.", p->n_connections,
                              p->n_connections == 1 ? "" : "s");
}

void sdloop_plugin_set_status(SdloopPlugin *p, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r >= 0)
                (void) plugin_notifyf(p->event, "STATUS=%s", s);
}

static int root_health_report(void *userdata, SdloopHealth *health) {
        SdloopPlugin *p = userdata;

        if (p->description->health_report)
                return p->description->health_report(p->description->userdata, health);
        return sdloop_health_add(health, p->name, "");
}

static Connection *connection_free(Connection *c) {
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->release);
        sdloop_peer_unref(c->peer);
        return mfree(c);
}

static void connection_unlink(Connection **head, Connection *c) {
        if (c->prev)
                c->prev->next = c->next;
        else if (*head == c)
                *head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void connection_link(Connection **head, Connection *c) {
        c->prev = NULL;
        c->next = *head;
        if (*head)
                (*head)->prev = c;
        *head = c;
}

static int on_connection_release(sd_event_source *s, void *userdata) {
        Connection *c = userdata;

        /* Deferred from the disconnect callback: the bus must not be freed from inside its own dispatch. */
        c->release = sd_event_source_disable_unref(c->release);
        connection_unlink(&c->plugin->closed, c);
        connection_free(c);
        return 0;
}

static void on_connection_gone(SdloopPeer *peer, void *userdata) {
        Connection *c = userdata;
        SdloopPlugin *p = c->plugin;
        int r;

        connection_unlink(&p->connections, c);
        /* Still ours until released: if the loop ends first, plugin_done() frees it. */
        connection_link(&p->closed, c);
        p->n_connections--;
        plugin_update_status(p);
        log_debug("Connection closed, %u left.", p->n_connections);

        r = sd_event_add_defer(p->event, &c->release, on_connection_release, c);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule release of connection, leaking it: %m");
}

static int on_method_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SdloopPlugin *p = userdata;
        const char *iface;

        if (p->crash_after == 0 || !sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        iface = sd_bus_message_get_interface(m);
        if (!iface || strncmp(iface, SDLOOP_INTERFACE_PREFIX, strlen(SDLOOP_INTERFACE_PREFIX)) != 0)
                return 0;
        /* The context of a call travels ahead of it; the call is what counts. */
        if (streq(iface, "org.sdloop1.Context"))
                return 0;

        if (++p->n_calls >= p->crash_after) {
                /* A test knob: die like a crashing plugin would, without replying or cleaning up. */
                log_warning("Crashing on purpose at call %" PRIu64 " (%s.%s).", p->n_calls, iface,
                            strempty(sd_bus_message_get_member(m)));
                _exit(3);
        }
        return 0;
}

static int connection_setup(SdloopPlugin *p, int fd) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        SdloopObject *root;
        Connection *c;
        int r;

        r = sdloop_peer_new_server(p->event, fd, &peer);
        if (r == -ECONNRESET || r == -EPIPE)
                /* Gone while it waited to be accepted: the client gave up, nothing went wrong here. */
                return log_debug_errno(r, "Connection closed before it was set up: %m");
        if (r == -EMFILE || r == -ENFILE)
                /* Accepted, but no descriptors left for its input gate: the caller backs off as for accept(). */
                return log_debug_errno(r, "Connection closed, no descriptors left to set it up: %m");
        if (r < 0)
                return log_error_errno(r, "Failed to set up D-Bus server on connection: %m");
        (void) sdloop_peer_set_description(peer, "host");
        /* The host's default deadline for what the plugin asks of it (DataSource, ErrorLog, Keystore…). */
        if (p->call_timeout_usec > 0)
                sdloop_peer_set_call_timeout(peer, p->call_timeout_usec);

        r = peer_join_scope(peer, p->scope);
        if (r < 0)
                return log_error_errno(r, "Failed to share objects with connection: %m");

        r = sdloop_object_new_at(peer, NULL, SDLOOP_ROOT_PATH, &(const SdloopObjectOps) {
                                         .name = p->name,
                                         .health_report = root_health_report,
                                 }, p, &root);
        if (r < 0)
                return log_error_errno(r, "Failed to export root object: %m");

        r = sdloop_object_add_interface(root, "org.sdloop1.Plugin", plugin_vtable, NULL, p);
        if (r < 0)
                return log_error_errno(r, "Failed to export org.sdloop1.Plugin: %m");

        if (p->crash_after > 0) {
                r = sd_bus_add_filter(sdloop_peer_get_bus(peer), NULL, on_method_call, p);
                if (r < 0)
                        return log_error_errno(r, "Failed to add call filter: %m");
        }

        if (p->description->connection_setup) {
                r = p->description->connection_setup(p, peer, root, p->description->userdata);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up plugin interfaces: %m");
        }

        c = new0(Connection, 1);
        if (!c)
                return log_oom();
        c->plugin = p;
        c->peer = TAKE_PTR(peer);
        sdloop_peer_set_disconnect_handler(c->peer, on_connection_gone, c);
        connection_link(&p->connections, c);
        p->n_connections++;
        plugin_update_status(p);
        return 0;
}

static bool peer_is_allowed(SdloopPlugin *p, int fd) {
        struct ucred ucred;
        socklen_t l = sizeof(ucred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &l) < 0) {
                log_warning_errno(errno, "Failed to read peer credentials, refusing connection: %m");
                return false;
        }

        /* Over the cap: this one goes, the others keep being served. One line per burst, naming the
         * first; how many followed is said when a connection is taken again. */
        if (p->n_connections >= p->connections_max) {
                if (p->over_cap++ == 0)
                        log_warning("Refusing connection from pid " PID_FMT " (uid " UID_FMT "): already serving %u "
                                    "connections, the limit ($SDLOOP_CONNECTIONS_MAX).", ucred.pid, ucred.uid,
                                    p->n_connections);
                return false;
        }
        if (p->over_cap > 0) {
                log_info("Accepting connections again, after refusing %u over the limit of %u.", p->over_cap,
                         p->connections_max);
                p->over_cap = 0;
        }

        if (ucred.uid == 0 || ucred.uid == getuid())
                return true;

        log_warning("Refusing connection from uid " UID_FMT " (pid " PID_FMT "): only root and uid " UID_FMT
                    " may talk to this plugin.", ucred.uid, ucred.pid, getuid());
        return false;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        SdloopPlugin *p = userdata;
        int r;

        /* The socket is level-triggered: connections still waiting make on_accept() run at once. */
        r = sd_event_source_set_enabled(p->listen_source, SD_EVENT_ON);
        if (r < 0)
                log_error_errno(r, "Failed to resume accepting connections: %m");
        return 0;
}

/* accept() fails for a reason that does not go away by itself, most often EMFILE/ENFILE: out of file
 * descriptors, with the connection still queued. The socket stays readable, so retrying at once would spin.
 * Stop watching it for a while instead; one warning per burst of failures, however many retries it takes. */
static int accept_back_off(SdloopPlugin *p, int error) {
        int r;

        p->accept_failures++;
        if (!p->accept_backing_off) {
                p->accept_backing_off = true;
                log_warning_errno(error, "Failed to accept connection (%u open), retrying every %u ms: %m",
                                  p->n_connections, (unsigned) (ACCEPT_RETRY_USEC / USEC_PER_MSEC));
        }

        r = sd_event_source_set_enabled(p->listen_source, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to pause accepting connections: %m");

        if (p->accept_retry) {
                r = sd_event_source_set_time_relative(p->accept_retry, ACCEPT_RETRY_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->accept_retry, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(p->event, &p->accept_retry, CLOCK_MONOTONIC,
                                               ACCEPT_RETRY_USEC, 0, on_accept_retry, p);
                if (r >= 0)
                        (void) sd_event_source_set_description(p->accept_retry, "accept-retry");
        }
        if (r < 0) {
                /* Without the timer the listening socket must stay watched, spinning or not. */
                (void) sd_event_source_set_enabled(p->listen_source, SD_EVENT_ON);
                return log_error_errno(r, "Failed to schedule accepting connections again: %m");
        }
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SdloopPlugin *p = userdata;
        int nfd, r;

        nfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd < 0) {
                /* Nothing waiting (any more), or a connection that died in the queue: nothing to do. */
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                        return 0;
                return accept_back_off(p, -errno);
        }

        if (!peer_is_allowed(p, nfd)) {
                safe_close(nfd);
                return 0;
        }

        /* A connection that fails to set up costs only itself. Out of descriptors, it is closed (its client
         * sees the hang-up and tries again), and accepting backs off as when accept() itself runs out. */
        r = connection_setup(p, nfd);
        if (r == -EMFILE || r == -ENFILE)
                return accept_back_off(p, r);

        if (p->accept_backing_off) {
                log_info("Accepting connections again, after %u failed attempt%s.", p->accept_failures,
                         p->accept_failures == 1 ? "" : "s");
                p->accept_backing_off = false;
                p->accept_failures = 0;
        }
        return 0;
}

static int listen_path(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "Socket path too long: %s", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create socket: %m");

        (void) unlink(path);
        /* Only root and our own uid may connect: 0600 before anyone can reach it. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", path);

        return TAKE_FD(fd);
}

static int acquire_listen_fd(SdloopPlugin *p) {
        int n, fd;

        if (p->listen_path) {
                fd = listen_path(p->listen_path);
                if (fd < 0)
                        return fd;
                p->unlink_listen_path = true;
                return fd;
        }

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read passed file descriptors: %m");
        if (n == 0)
                return log_error_errno(-EBADF, "No listening socket passed (LISTEN_FDS) and no --listen PATH given. "
                                       "Start this plugin through its socket unit or with --listen PATH.");
        if (n > 1)
                log_warning("Got %i sockets, using the first.", n);

        fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                return log_error_errno(-EBADF, "Passed fd %i is not a listening UNIX stream socket.", fd);
        return fd;
}

static int parse_uint64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

static void help(const SdloopPluginDescription *d) {
        printf("%s [OPTIONS...] [ARGS...]\n\n"
               "sdloop %s plugin \"%s\", version %s.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "     --listen=PATH     Listen on PATH instead of a socket passed by systemd\n"
               "     --name=NAME       Instance name (default: $SDLOOP_PLUGIN or \"%s\")\n"
               "     --crash-after=N   Testing: exit with status 3 at the N-th method call\n",
               program_invocation_short_name, d->kind, d->name, strempty(d->version), d->name);
}

static int parse_argv(SdloopPlugin *p, int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_LISTEN, ARG_NAME, ARG_CRASH_AFTER };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h' },
                { "version",     no_argument,       NULL, ARG_VERSION },
                { "listen",      required_argument, NULL, ARG_LISTEN },
                { "name",        required_argument, NULL, ARG_NAME },
                { "crash-after", required_argument, NULL, ARG_CRASH_AFTER },
                {}
        };
        const char *e;
        int c, r;

        e = getenv("SDLOOP_PLUGIN");
        r = free_and_strdup(&p->name, !isempty(e) ? e : p->description->name);
        if (r < 0)
                return log_oom();

        e = getenv("SDLOOP_CRASH_AFTER");
        if (e && parse_uint64(e, &p->crash_after) < 0)
                return log_error_errno(-EINVAL, "Invalid $SDLOOP_CRASH_AFTER: %s", e);

        optind = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(p->description);
                        return 0;
                case ARG_VERSION:
                        printf("%s %s (sdloop %s, protocol %u)\n", p->description->name,
                               strempty(p->description->version), SDLOOP_VERSION, SDLOOP_PROTOCOL_VERSION);
                        return 0;
                case ARG_LISTEN:
                        r = free_and_strdup(&p->listen_path, optarg);
                        if (r < 0)
                                return log_oom();
                        break;
                case ARG_NAME:
                        if (isempty(optarg))
                                return log_error_errno(-EINVAL, "--name= needs a value.");
                        r = free_and_strdup(&p->name, optarg);
                        if (r < 0)
                                return log_oom();
                        break;
                case ARG_CRASH_AFTER:
                        if (parse_uint64(optarg, &p->crash_after) < 0)
                                return log_error_errno(-EINVAL, "Invalid --crash-after: %s", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }

        p->args = calloc(argc - optind + 1, sizeof(char *));
        if (!p->args)
                return log_oom();
        for (int i = optind, j = 0; i < argc; i++, j++) {
                p->args[j] = strdup(argv[i]);
                if (!p->args[j])
                        return log_oom();
        }
        return 1;
}

static void plugin_done(SdloopPlugin *p) {
        while (p->connections) {
                Connection *c = p->connections;

                p->connections = c->next;
                sdloop_peer_set_disconnect_handler(c->peer, NULL, NULL);
                sdloop_peer_disconnect(c->peer);
                connection_free(c);
        }
        /* Closed while the loop was ending: their release never ran. */
        while (p->closed) {
                Connection *c = p->closed;

                p->closed = c->next;
                connection_free(c);
        }
        sd_event_source_disable_unref(p->accept_retry);
        sd_event_source_disable_unref(p->listen_source);
        if (p->listen_fd >= 0)
                safe_close(p->listen_fd);
        if (p->unlink_listen_path)
                (void) unlink(p->listen_path);
        scope_unref(p->scope);
        free(p->listen_path);
        free(p->name);
        strv_free(p->args);
        sd_event_unref(p->event);
}

int sdloop_plugin_run(const SdloopPluginDescription *d, int argc, char *argv[]) {
        _cleanup_(plugin_done) SdloopPlugin p = {
                .description = d,
                .listen_fd = -EBADF,
                .connections_max = sdloop_connections_max(),
        };
        _cleanup_(sd_event_source_unrefp) sd_event_source *watchdog = NULL;
        sigset_t mask;
        int r;

        assert(d && d->name && d->kind);

        /* The runtime owns this process. Every message is a fresh malloc()ed buffer of its size (sd-bus),
         * so with glibc's defaults a payload of a few dozen KiB grows the heap and trims it back on every
         * call: two brk() calls and a page fault per 4 KiB, which cost a 64 KiB round trip four times the
         * copy itself. Keep some slack at the top of the heap instead; small messages never touch it. The
         * fixed mmap threshold keeps payloads below it on the heap, as glibc's dynamic one (which setting
         * the pad turns off) would have learnt to. */
        (void) mallopt(M_TOP_PAD, 256 * 1024);
        (void) mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);

        sdloop_error_register();
        sdloop_log_set_identifier(program_invocation_short_name);
        sdloop_log_parse_environment();

        p.scope = scope_new();
        if (!p.scope)
                return log_oom(), EXIT_FAILURE;

        r = parse_argv(&p, argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        sdloop_log_set_plugin(p.name);

        /* The host's settings for us (sdloop-env.h), strictly: a bad one is the host's mistake, said now. */
        {
                _cleanup_(sdloop_env_config_done) SdloopEnvConfig env = {};
                _cleanup_free_ char *error = NULL;

                r = sdloop_env_config_parse(NULL, &env, &error);
                if (r < 0)
                        return log_error_errno(r, "Refusing to start: %s", error ?: strerror(-r)), EXIT_FAILURE;
                sdloop_env_config_apply(&env);
                p.call_timeout_usec = env.call_timeout_usec;
        }

        /* Not sd_event_default(): a default loop checks with a gettid() syscall on every iteration that it
         * runs in its own thread, a fifth of the syscalls a served call costs. Plugin code reaches this loop
         * through sdloop_plugin_get_event(). */
        r = sd_event_new(&p.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m"), EXIT_FAILURE;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) sd_event_add_signal(p.event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(p.event, NULL, SIGINT, NULL, NULL);
        /* Pings WATCHDOG=1 at half the interval when $WATCHDOG_USEC asks for it. */
        (void) plugin_watchdog_start(p.event, &watchdog);

        r = acquire_listen_fd(&p);
        if (r < 0)
                return EXIT_FAILURE;
        p.listen_fd = r;

        r = sd_event_add_io(p.event, &p.listen_source, p.listen_fd, EPOLLIN, on_accept, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to watch listening socket: %m"), EXIT_FAILURE;

        if (d->startup) {
                r = d->startup(&p, d->userdata);
                if (r < 0)
                        return log_error_errno(r, "Plugin start-up failed: %m"), EXIT_FAILURE;
        }

        log_info("%s plugin %s %s ready (protocol %u).", d->kind, p.name, strempty(d->version),
                 SDLOOP_PROTOCOL_VERSION);
        (void) plugin_notify_wait("READY=1", NOTIFY_READY_WAIT_USEC);
        plugin_update_status(&p);

        r = sd_event_loop(p.event);

        plugin_notify_detach();
        (void) plugin_notify_wait("STOPPING=1\nSTATUS=Shutting down.", NOTIFY_STOPPING_WAIT_USEC);
        if (d->shutdown)
                d->shutdown(&p, d->userdata);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;

        log_info("Stopped.");
        return EXIT_SUCCESS;
}

sd_event *sdloop_plugin_get_event(SdloopPlugin *p) {
        return p ? p->event : NULL;
}

const char *sdloop_plugin_get_name(SdloopPlugin *p) {
        return p ? p->name : NULL;
}

char **sdloop_plugin_get_args(SdloopPlugin *p) {
        return p ? p->args : NULL;
}
