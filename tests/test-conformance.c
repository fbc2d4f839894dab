/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The conformance suite against real plugin processes (LOOP's TestPluginRelayerExec/TestPluginMedianExec):
 * sdloop-test-plugin is started once per plugin, through systemd-socket-activate (LISTEN_FDS) or with
 * --listen, and driven over its socket through every method of every service, with the fixtures; then bad
 * input for every method, the handshake, object lifetimes, the crash knob, and the live introspection of
 * every object against dbus/.
 *
 * Environment (set by meson): SDLOOP_TEST_PLUGIN, SDLOOP_CHECK_INTROSPECTION, SDLOOP_DBUS_DIR. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bad-input.h"
#include "fixtures.h"
#include "macro.h"
#include "sdloop.h"
#include "static.h"
#include "suite.h"

#define START_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define STOP_TIMEOUT_USEC  (20 * USEC_PER_SEC)
#define MAX_PLUGINS 8

/* Fails the test with the D-Bus error of a call; @error must be the caller's sd_bus_error. */
#define check_ok(expr)                                                                                   \
        do {                                                                                             \
                int _r = (expr);                                                                         \
                ck_assert_msg(_r >= 0, "%s failed: %s: %s", #expr, strempty(error.name),                 \
                              error.message ?: strerror(-_r));                                           \
                sd_bus_error_free(&error);                                                               \
        } while (0)

typedef enum Activation {
        ACTIVATION_SOCKET, /* systemd-socket-activate -l PATH: LISTEN_FDS, exec on the first connection */
        ACTIVATION_LISTEN, /* --listen PATH, READY=1 on $NOTIFY_SOCKET once listening */
} Activation;

typedef struct Plugin {
        char label[64];
        pid_t pid;
        char socket_path[PATH_MAX];
        char notify_path[PATH_MAX];
        sd_event_source *stderr_source, *notify_source;
        char line[4096];
        size_t n_line;
        bool listening; /* systemd-socket-activate said "Listening on" */
        bool ready;     /* READY=1 */
        bool eof;       /* its stdout/stderr closed: the process is gone */
} Plugin;

static char tmpdir[] = "/tmp/sdloop-conformance-XXXXXX";
static bool have_tmpdir;
static Plugin plugins[MAX_PLUGINS];
static unsigned n_plugins;

/* --- processes -------------------------------------------------------------------------------------- */

/* Whatever way the test ends: no plugin outlives it. A failing ck_assert() _exit()s the test process,
 * which PR_SET_PDEATHSIG covers; this covers exit() and the end of main(). */
static void kill_plugins(void) {
        for (unsigned i = 0; i < n_plugins; i++)
                if (plugins[i].pid > 0) {
                        (void) kill(plugins[i].pid, SIGKILL);
                        (void) waitpid(plugins[i].pid, NULL, 0);
                        plugins[i].pid = 0;
                }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void remove_tmpdir(void) {
        if (have_tmpdir)
                (void) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *getenv_required(const char *name) {
        const char *v = getenv(name);

        ck_assert_msg(!isempty(v), "$%s is not set (run this through meson test)", name);
        return v;
}

static void plugin_flush_line(Plugin *p) {
        p->line[p->n_line] = 0;
        fprintf(stderr, "[%s] %s\n", p->label, p->line);
        if (strstr(p->line, "Listening on "))
                p->listening = true;
        p->n_line = 0;
}

/* Everything a plugin writes is forwarded to the test log, a line at a time, while the loop runs. */
static int on_plugin_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Plugin *p = userdata;
        char buf[4096];
        ssize_t n;

        n = read(fd, buf, sizeof(buf));
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0) {
                if (p->n_line > 0)
                        plugin_flush_line(p);
                p->eof = true;
                p->stderr_source = sd_event_source_disable_unref(p->stderr_source);
                return 0;
        }

        for (ssize_t i = 0; i < n; i++) {
                if (buf[i] == '\n' || p->n_line >= sizeof(p->line) - 1)
                        plugin_flush_line(p);
                if (buf[i] != '\n')
                        p->line[p->n_line++] = buf[i];
        }
        return 0;
}

static int on_plugin_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Plugin *p = userdata;
        char buf[4096];
        ssize_t n;

        n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        buf[n] = 0;
        for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
                if (streq(l, "READY=1"))
                        p->ready = true;
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Run the loop until *flag, the plugin is gone or the deadline passed; returns *flag. */
static bool plugin_wait(Plugin *p, const bool *flag, uint64_t timeout_usec) {
        sd_event *event = NULL;
        uint64_t deadline = now_usec() + timeout_usec;

        ck_assert_int_ge(sd_event_default(&event), 0);
        while (!*flag && !p->eof) {
                uint64_t n = now_usec();

                if (n >= deadline)
                        break;
                ck_assert_int_ge(sd_event_run(event, deadline - n), 0);
        }
        sd_event_unref(event);
        return *flag;
}

/* Start the test plugin with @args (after the binary, NULL-terminated); does not wait. */
static Plugin *plugin_spawn(const char *label, Activation activation, const char * const *args) {
        static const char * const passed_env[] = {
                "SDLOOP_LOG_LEVEL", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
                "LD_LIBRARY_PATH", "LD_PRELOAD",
        };
        const char *binary = getenv_required("SDLOOP_TEST_PLUGIN");
        const char *argv[64];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sd_event *event = NULL;
        int pipefd[2], nfd;
        size_t n = 0;
        pid_t parent = getpid();
        Plugin *p;

        ck_assert_uint_lt(n_plugins, MAX_PLUGINS);
        p = &plugins[n_plugins++];
        *p = (Plugin) {};
        snprintf(p->label, sizeof(p->label), "%s", label);
        snprintf(p->socket_path, sizeof(p->socket_path), "%s/%s-%d.sock", tmpdir, label, (int) parent);
        snprintf(p->notify_path, sizeof(p->notify_path), "%s/%s-%d.notify", tmpdir, label, (int) parent);
        (void) unlink(p->socket_path);
        (void) unlink(p->notify_path);

        /* READY=1 goes to a socket of ours. */
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(nfd, 0);
        ck_assert_uint_lt(strlen(p->notify_path), sizeof(sa.sun_path));
        strcpy(sa.sun_path, p->notify_path);
        ck_assert_int_eq(bind(nfd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        if (activation == ACTIVATION_SOCKET) {
                argv[n++] = "systemd-socket-activate";
                argv[n++] = "-l";
                argv[n++] = p->socket_path;
                /* It hands the plugin only the environment it is told to. */
                for (size_t i = 0; i < ELEMENTSOF(passed_env); i++)
                        if (getenv(passed_env[i])) {
                                argv[n++] = "-E";
                                argv[n++] = passed_env[i];
                        }
                argv[n++] = "-E";
                argv[n++] = "NOTIFY_SOCKET";
                argv[n++] = "-E";
                argv[n++] = "SDLOOP_LOG_TARGET";
                argv[n++] = binary;
        } else {
                argv[n++] = binary;
                argv[n++] = "--listen";
                argv[n++] = p->socket_path;
        }
        for (; args && *args; args++) {
                ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
                argv[n++] = *args;
        }
        argv[n] = NULL;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);

        p->pid = fork();
        ck_assert_int_ge(p->pid, 0);
        if (p->pid == 0) {
                /* Die with the test, whichever way it ends. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                if (dup2(pipefd[1], STDOUT_FILENO) < 0 || dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(126);
                /* Logs go to stderr, and so to our log; READY=1 to our socket. */
                if (setenv("SDLOOP_LOG_TARGET", "stderr", 1) < 0 || setenv("NOTIFY_SOCKET", p->notify_path, 1) < 0)
                        _exit(126);
                execvp(argv[0], (char **) argv);
                fprintf(stderr, "Failed to execute %s: %m\n", argv[0]);
                _exit(127);
        }
        safe_close(pipefd[1]);

        ck_assert_int_ge(sd_event_default(&event), 0);
        ck_assert_int_ge(fcntl(pipefd[0], F_SETFL, O_NONBLOCK), 0);
        ck_assert_int_ge(sd_event_add_io(event, &p->stderr_source, pipefd[0], EPOLLIN, on_plugin_output, p), 0);
        ck_assert_int_ge(sd_event_source_set_io_fd_own(p->stderr_source, true), 0);
        ck_assert_int_ge(sd_event_add_io(event, &p->notify_source, nfd, EPOLLIN, on_plugin_notify, p), 0);
        ck_assert_int_ge(sd_event_source_set_io_fd_own(p->notify_source, true), 0);
        sd_event_unref(event);

        fprintf(stderr, "[%s] started as pid %d: %s ...\n", p->label, (int) p->pid, argv[0]);
        return p;
}

/* Start a plugin of @kind and wait until its socket listens. */
static Plugin *plugin_start(const char *kind, Activation activation, const char *extra_arg) {
        char label[64], mode[64];
        const char *args[] = { mode, extra_arg, NULL };
        Plugin *p;

        snprintf(label, sizeof(label), "%s-%s", kind, activation == ACTIVATION_SOCKET ? "activated" : "listen");
        snprintf(mode, sizeof(mode), "--mode=%s", kind);
        p = plugin_spawn(label, activation, args);

        ck_assert_msg(plugin_wait(p, activation == ACTIVATION_SOCKET ? &p->listening : &p->ready,
                                  START_TIMEOUT_USEC),
                      "%s did not come up (see its output above)", p->label);
        return p;
}

/* Wait for the process to end (its output drained first, so it cannot block on a full pipe). */
static int plugin_wait_exit(Plugin *p) {
        int status = 0;

        ck_assert_msg(plugin_wait(p, &p->eof, STOP_TIMEOUT_USEC), "%s did not exit", p->label);
        ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
        p->pid = 0;
        p->notify_source = sd_event_source_disable_unref(p->notify_source);
        return status;
}

/* SIGTERM, and the clean exit it must cause. */
static void plugin_stop(Plugin *p) {
        int status;

        ck_assert_int_gt(p->pid, 0);
        ck_assert_int_eq(kill(p->pid, SIGTERM), 0);
        status = plugin_wait_exit(p);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s did not stop cleanly (status 0x%x)",
                      p->label, status);
}

static SdloopPeer *plugin_connect(Plugin *p, const char *kind) {
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopPeer *peer = NULL;

        ck_assert_int_eq(sdloop_peer_connect(NULL, p->socket_path, &peer), 0);
        ck_assert_int_eq(sdloop_peer_set_description(peer, p->label), 0);
        check_ok(sdloop_peer_handshake(peer, kind, &id, &error));
        ck_assert_str_eq(id.kind, kind);
        ck_assert_str_eq(id.name, "sdloop-test-plugin");
        ck_assert_uint_eq(id.protocol_version, SDLOOP_PROTOCOL_VERSION);
        return peer;
}

/* A host/plugin pair inside this process, to call the host's own objects from the other side. */
static void inprocess_pair(SdloopPeer **ret_host, SdloopPeer **ret_plugin) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int fds[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(NULL, fds[0], ret_plugin), 0);
        ck_assert_int_eq(sdloop_peer_new_client(NULL, fds[1], ret_host), 0);
        ck_assert_int_eq(sdloop_peer_set_description(*ret_host, "in-process host"), 0);
        ck_assert_int_eq(sdloop_peer_set_description(*ret_plugin, "in-process plugin"), 0);

        /* sd-bus (252) does not send what a server queues before its client has authenticated: let the
         * host speak first, as it always does with a real plugin (the handshake). */
        check_ok(sdloop_peer_call_method(*ret_host, "/", "org.freedesktop.DBus.Peer", "Ping", NULL, &error, NULL));
}

/* --- introspection ---------------------------------------------------------------------------------- */

/* Live introspection documents collected by fetch_introspection(), checked in one run of the script
 * (python's start-up is the slow part). */
typedef struct Introspection {
        char file[PATH_MAX];
        char expect[256];
} Introspection;

static Introspection introspections[32];
static size_t n_introspections;

/* Save the live introspection of @path; @expect: the interfaces it must carry. */
static void fetch_introspection(SdloopPeer *peer, const char *path, const char *name, const char *expect) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Introspection *i;
        const char *xml;
        FILE *f;

        check_ok(sdloop_peer_call_method(peer, path, "org.freedesktop.DBus.Introspectable", "Introspect", &reply,
                                         &error, NULL));
        ck_assert_int_gt(sd_bus_message_read(reply, "s", &xml), 0);

        ck_assert_uint_lt(n_introspections, ELEMENTSOF(introspections));
        i = &introspections[n_introspections++];
        snprintf(i->file, sizeof(i->file), "%s/%s-%d.xml", tmpdir, name, (int) getpid());
        snprintf(i->expect, sizeof(i->expect), "%s", expect);

        f = fopen(i->file, "we");
        ck_assert_ptr_nonnull(f);
        fputs(xml, f);
        ck_assert_int_eq(fclose(f), 0);
}

/* check-introspection.py on everything fetched: each against dbus/, each with its interfaces. */
static void check_introspections(void) {
        const char *argv[8 + 3 * ELEMENTSOF(introspections)];
        size_t n = 0;
        pid_t pid;
        int status;

        argv[n++] = "python3";
        argv[n++] = getenv_required("SDLOOP_CHECK_INTROSPECTION");
        argv[n++] = "--dbus-dir";
        argv[n++] = getenv_required("SDLOOP_DBUS_DIR");
        for (size_t i = 0; i < n_introspections; i++) {
                argv[n++] = "--object";
                argv[n++] = introspections[i].file;
                argv[n++] = introspections[i].expect;
        }
        argv[n] = NULL;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                execvp(argv[0], (char **) argv);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "the live introspection of %zu objects does not match dbus/: see the log", n_introspections);
        n_introspections = 0;
}

/* --- small checks ------------------------------------------------------------------------------------ */

/* Service.HealthReport of @path lists each of @names, healthy. */
static void check_health_report(SdloopPeer *peer, const char *path, const char * const *names) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        check_ok(sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "HealthReport", &reply, &error, NULL));
        for (const char * const *n = names; *n; n++) {
                const char *k, *v;
                bool found = false;

                ck_assert_int_ge(sd_bus_message_rewind(reply, true), 0);
                ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{ss}"), 0);
                while (sd_bus_message_read(reply, "{ss}", &k, &v) > 0)
                        if (streq(k, *n)) {
                                ck_assert_msg(isempty(v), "%s: %s reports \"%s\"", path, k, v);
                                found = true;
                        }
                ck_assert_msg(found, "HealthReport of %s lacks %s", path, *n);
        }
}

/* "/org/sdloop1/relayer/3" → "relayer/3", the name objects report under. */
static const char *object_name(const char *path) {
        const char *last = strrchr(path, '/'), *prev = last;

        while (prev > path && prev[-1] != '/')
                prev--;
        return prev > path ? prev : last + 1;
}

/* --- the LOOP suites over real processes ------------------------------------------------------------ */

static void run_relayer_suite(Activation activation) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Plugin *p;

        p = plugin_start(SDLOOP_KIND_RELAYER, activation, NULL);
        peer = plugin_connect(p, SDLOOP_KIND_RELAYER);

        /* Twice on one connection: nothing of the first run may be in the way of the second. */
        check_ok(conformance_run_plugin_relayer(peer, NULL, &error));
        check_ok(conformance_run_plugin_relayer(peer, NULL, &error));

        peer = sdloop_peer_unref(peer);
        plugin_stop(p);
}

START_TEST(test_relayer_socket_activated) {
        run_relayer_suite(ACTIVATION_SOCKET);
}
END_TEST

START_TEST(test_relayer_listen) {
        run_relayer_suite(ACTIVATION_LISTEN);
}
END_TEST

/* LOOP's median sequence end to end, across three processes: Keystore → NewRelayer →
 * NewPluginProvider("median") → host DataSources + ErrorLog + proxy of the provider → NewMedianFactory →
 * NewReportingPlugin → every ReportingPlugin method. Then every object's live introspection. */
START_TEST(test_median_chain) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *relayer_peer = NULL, *median_peer = NULL, *host = NULL,
                *other = NULL;
        _cleanup_(conformance_objects_done) ConformanceObjects keep = {};
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_(sdloop_proxy_freep) SdloopProxy *proxy = NULL;
        _cleanup_free_ char *config_provider = NULL, *rp = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopObject *keystore, *ds, *juels, *error_log;
        Plugin *relayer, *median;

        relayer = plugin_start(SDLOOP_KIND_RELAYER, ACTIVATION_SOCKET, NULL);
        median = plugin_start(SDLOOP_KIND_MEDIAN, ACTIVATION_LISTEN, NULL);
        relayer_peer = plugin_connect(relayer, SDLOOP_KIND_RELAYER);
        median_peer = plugin_connect(median, SDLOOP_KIND_MEDIAN);

        check_ok(conformance_run_plugin_relayer(relayer_peer, &keep, &error));
        ck_assert_ptr_nonnull(keep.relayer);
        ck_assert_ptr_nonnull(keep.median_provider);
        check_ok(conformance_run_plugin_median(median_peer, relayer_peer, keep.median_provider, &keep, &error));
        ck_assert_ptr_nonnull(keep.factory);

        /* The objects of the chain report in to their parents' health. */
        check_health_report(relayer_peer, keep.relayer,
                            (const char *[]) { object_name(keep.relayer), object_name(keep.median_provider), NULL });

        /* Service.Name is the object's name. */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *name;

                check_ok(sdloop_peer_call_method(relayer_peer, keep.relayer, "org.freedesktop.DBus.Properties",
                                                 "Get", &reply, &error, "ss", "org.sdloop1.Service", "Name"));
                ck_assert_int_gt(sd_bus_message_read(reply, "v", "s", &name), 0);
                ck_assert_str_eq(name, object_name(keep.relayer));
        }

        /* Live introspection of every kind of object, against the contract. */
        check_ok(sdloop_relayer_new_config_provider(relayer_peer, keep.relayer, &fixture_relay_args, &config_provider,
                                                    &error));
        check_ok(sdloop_reporting_plugin_factory_new_reporting_plugin(median_peer, keep.factory,
                                                                      &fixture_reporting_plugin_config, &rp, &info,
                                                                      &error));
        fetch_introspection(relayer_peer, SDLOOP_ROOT_PATH, "relayer-root", "Plugin,Service,PluginRelayer");
        fetch_introspection(relayer_peer, keep.relayer, "relayer", "Service,Relayer");
        fetch_introspection(relayer_peer, config_provider, "config-provider",
                            "Service,OffchainConfigDigester,ContractConfigTracker");
        fetch_introspection(relayer_peer, keep.median_provider, "median-provider",
                            "Service,OffchainConfigDigester,ContractConfigTracker,ContractTransmitter,"
                            "ReportCodec,MedianContract,OnchainConfigCodec");
        fetch_introspection(median_peer, SDLOOP_ROOT_PATH, "median-root", "Plugin,Service,PluginMedian");
        fetch_introspection(median_peer, keep.factory, "factory", "Service,ReportingPluginFactory");
        fetch_introspection(median_peer, rp, "reporting-plugin", "ReportingPlugin");

        /* The host's objects, seen from the other end of an in-process connection; the proxy forwards
         * Introspect to the relayer's provider. */
        inprocess_pair(&host, &other);
        ck_assert_int_eq(static_keystore_new(host, &keystore), 0);
        ck_assert_int_eq(static_data_source_new(host, FIXTURE_VALUE, &ds), 0);
        ck_assert_int_eq(static_data_source_new(host, FIXTURE_JUELS_PER_FEE_COIN, &juels), 0);
        ck_assert_int_eq(static_error_log_new(host, &error_log), 0);
        ck_assert_int_eq(sdloop_proxy_new(host, SDLOOP_ROOT_PATH "/host/provider/99", relayer_peer,
                                          keep.median_provider, &proxy), 0);
        fetch_introspection(other, sdloop_object_get_path(keystore), "host-keystore", "Keystore");
        fetch_introspection(other, sdloop_object_get_path(ds), "host-data-source", "DataSource");
        fetch_introspection(other, sdloop_object_get_path(juels), "host-juels-data-source", "DataSource");
        fetch_introspection(other, sdloop_object_get_path(error_log), "host-error-log", "ErrorLog");
        fetch_introspection(other, SDLOOP_ROOT_PATH "/host/provider/99", "host-provider-proxy",
                            "OffchainConfigDigester,ContractConfigTracker,ContractTransmitter,ReportCodec,"
                            "MedianContract,OnchainConfigCodec");
        check_introspections();

        /* … and the proxy passes the whole median provider suite through. */
        check_ok(conformance_check_median_provider(other, SDLOOP_ROOT_PATH "/host/provider/99", &error));

        /* Closing a factory closes its reporting plugins; closing a relayer closes its providers. */
        check_ok(conformance_close(median_peer, keep.factory, &error));
        check_ok(conformance_check_gone(median_peer, rp, &error));
        check_ok(conformance_close(relayer_peer, keep.relayer, &error));
        check_ok(conformance_check_gone(relayer_peer, keep.median_provider, &error));
        check_ok(conformance_check_gone(relayer_peer, config_provider, &error));

        /* The roots are still there. */
        check_ok(sdloop_peer_call_method(relayer_peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, &error,
                                         NULL));
        check_ok(sdloop_peer_call_method(median_peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL, &error,
                                         NULL));

        proxy = sdloop_proxy_free(proxy);
        conformance_objects_done(&keep);
        relayer_peer = sdloop_peer_unref(relayer_peer);
        median_peer = sdloop_peer_unref(median_peer);
        plugin_stop(relayer);
        plugin_stop(median);
}
END_TEST

START_TEST(test_handshake_wrong_kind) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Plugin *p;

        p = plugin_start(SDLOOP_KIND_RELAYER, ACTIVATION_SOCKET, NULL);
        ck_assert_int_eq(sdloop_peer_connect(NULL, p->socket_path, &peer), 0);

        ck_assert_int_eq(sdloop_peer_handshake(peer, SDLOOP_KIND_MEDIAN, NULL, &error), -EPROTO);
        ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT), "got %s", error.name);
        ck_assert_msg(strstr(error.message, "\"relayer\"") && strstr(error.message, "\"median\""),
                      "the refusal does not name both kinds: %s", error.message);
        sd_bus_error_free(&error);

        /* Refusing is the host's business: the connection still works for the right kind. */
        check_ok(sdloop_peer_handshake(peer, SDLOOP_KIND_RELAYER, NULL, &error));

        peer = sdloop_peer_unref(peer);
        plugin_stop(p);
}
END_TEST

/* Objects belong to the connection that created them: when it closes, they go, for every connection. */
START_TEST(test_connection_close_closes_objects) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *a = NULL, *b = NULL;
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        _cleanup_(conformance_objects_done) ConformanceObjects keep = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t deadline;
        Plugin *p;
        int r;

        p = plugin_start(SDLOOP_KIND_RELAYER, ACTIVATION_LISTEN, NULL);
        a = plugin_connect(p, SDLOOP_KIND_RELAYER);
        b = plugin_connect(p, SDLOOP_KIND_RELAYER);

        check_ok(conformance_run_plugin_relayer(a, &keep, &error));

        /* A's relayer is visible on B (one plugin, one object tree). */
        check_ok(sdloop_relayer_get_chain_status(b, keep.relayer, &status, &error));

        /* Host side: the connection's own objects close with it. */
        sdloop_peer_disconnect(a);
        ck_assert_ptr_null(sdloop_peer_find_object(a, STATIC_KEYSTORE_PATH));
        keep.keystore = NULL; /* closed along with the connection */

        /* Plugin side: A's relayer and provider go once the plugin has seen A close. The hang-up and B's
         * calls race, so ask until the answer changes; every try is a full round trip. */
        deadline = now_usec() + 10 * USEC_PER_SEC;
        for (;;) {
                sdloop_chain_status_done(&status);
                r = sdloop_relayer_get_chain_status(b, keep.relayer, &status, &error);
                if (r < 0)
                        break;
                ck_assert_msg(now_usec() < deadline, "%s survived the connection that created it", keep.relayer);
        }
        ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_NOT_FOUND) && strstr(error.message, keep.relayer),
                      "expected NotFound naming %s, got %s: %s", keep.relayer, error.name, error.message);
        sd_bus_error_free(&error);
        check_ok(conformance_check_gone(b, keep.median_provider, &error));

        /* B and the plugin are fine. */
        check_ok(conformance_run_plugin_relayer(b, NULL, &error));

        a = sdloop_peer_unref(a);
        b = sdloop_peer_unref(b);
        plugin_stop(p);
}
END_TEST

/* The runtime's crash knob (LOOP's -limit): exit status 3 at the N-th org.sdloop1 call, which the host
 * sees as the connection lost. */
START_TEST(test_crash_after) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};
        _cleanup_free_ char *relayer = NULL, *provider = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Plugin *p;
        int st;

        p = plugin_start(SDLOOP_KIND_RELAYER, ACTIVATION_LISTEN, "--crash-after=3");
        peer = plugin_connect(p, SDLOOP_KIND_RELAYER); /* org.freedesktop.DBus.Properties: not counted */
        ck_assert_int_eq(static_keystore_new(peer, NULL), 0);

        /* 1 and 2 (the plugin's own calls to the keystore do not count) … */
        check_ok(sdloop_plugin_relayer_new_relayer(peer, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, &relayer, &error));
        check_ok(sdloop_relayer_new_config_provider(peer, relayer, &fixture_relay_args, &provider, &error));
        /* … 3 is the end. */
        ck_assert_int_eq(sdloop_relayer_get_chain_status(peer, relayer, &status, &error), -EHOSTDOWN);
        ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE), "got %s: %s", error.name,
                      error.message);
        sd_bus_error_free(&error);

        st = plugin_wait_exit(p);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "status 0x%x", st);
}
END_TEST

/* The mode may also come after the runtime's options; a bad one is refused. */
START_TEST(test_mode_arguments) {
        static const struct {
                const char *label;
                const char *args[4];
                const char *kind; /* NULL: must exit with status */
                int status;
        } cases[] = {
                { "mode-after-dashdash", { "--", "--mode=median", NULL }, SDLOOP_KIND_MEDIAN,  0 },
                { "mode-positional",     { "relayer", NULL },             SDLOOP_KIND_RELAYER, 0 },
                { "mode-separate",       { "--mode", "median", NULL },    SDLOOP_KIND_MEDIAN,  0 },
                { "mode-unknown",        { "--mode=bogus", NULL },        NULL,                2 },
                { "mode-missing",        { NULL },                        NULL,                1 },
                { "mode-unknown-arg",    { "--", "frobnicate", NULL },    NULL,                1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Plugin *p = plugin_spawn(cases[i].label, ACTIVATION_LISTEN, cases[i].args);

                if (cases[i].kind) {
                        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;

                        ck_assert_msg(plugin_wait(p, &p->ready, START_TIMEOUT_USEC), "%s did not come up",
                                      cases[i].label);
                        peer = plugin_connect(p, cases[i].kind);
                        peer = sdloop_peer_unref(peer);
                        plugin_stop(p);
                } else {
                        int st = plugin_wait_exit(p);

                        ck_assert_msg(!p->ready, "%s: became ready", cases[i].label);
                        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == cases[i].status,
                                      "%s: expected exit status %d, got 0x%x", cases[i].label, cases[i].status, st);
                }
        }
}
END_TEST

/* --- bad input ---------------------------------------------------------------------------------------- */

/* After each bad call, the object must still answer a good one: here the whole fixture suite of it. */
static int still_serving(const ConformanceTargets *t, ConformanceTarget target, void *userdata, sd_bus_error *error) {
        SdloopPeer *peer = t->peer[target];
        const char *path = t->path[target];
        int r;

        switch (target) {
        case CONFORMANCE_T_RELAYER: {
                _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};

                r = sdloop_relayer_get_chain_status(peer, path, &status, error);
                return r < 0 ? r : fixture_check_chain_status(&status, "status", error);
        }
        case CONFORMANCE_T_PROVIDER:
                return conformance_check_median_provider(peer, path, error);
        case CONFORMANCE_T_REPORTING_PLUGIN:
                return conformance_run_reporting_plugin(peer, path, error);
        case CONFORMANCE_T_HOST_KEYSTORE: {
                _cleanup_(sdloop_bytes_done) SdloopBytes signed_data = {};

                r = sdloop_keystore_sign(peer, path, FIXTURE_ACCOUNT, fixture_encoded.data, fixture_encoded.size,
                                         &signed_data, error);
                return r < 0 ? r : fixture_check_bytes(&fixture_signed, signed_data.data, signed_data.size, "signed",
                                                       error);
        }
        case CONFORMANCE_T_HOST_DATA_SOURCE: {
                _cleanup_free_ char *value = NULL;

                r = sdloop_data_source_observe(peer, path, &fixture_report_timestamp, &value, error);
                return r < 0 ? r : fixture_check_string(FIXTURE_VALUE, value, "value", error);
        }
        case CONFORMANCE_T_HOST_ERROR_LOG:
                return sdloop_error_log_save_error(peer, path, FIXTURE_ERROR_MESSAGE, error);
        default:
                return conformance_still_serving(t, target, userdata, error);
        }
}

static void bad_input_result(const char *name, int r, const char *message, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        fprintf(stderr, "%s: %s -> %s\n", r < 0 ? "FAIL" : "ok", name, strempty(message));
}

START_TEST(test_bad_input) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *relayer_peer = NULL, *median_peer = NULL, *host = NULL,
                *other = NULL;
        _cleanup_(conformance_objects_done) ConformanceObjects keep = {};
        _cleanup_(sdloop_reporting_plugin_info_done) SdloopReportingPluginInfo info = {};
        _cleanup_free_ char *rp = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopObject *keystore, *ds, *error_log;
        Plugin *relayer, *median;
        ConformanceTargets t = {};
        unsigned n_calls = 0;

        relayer = plugin_start(SDLOOP_KIND_RELAYER, ACTIVATION_LISTEN, NULL);
        median = plugin_start(SDLOOP_KIND_MEDIAN, ACTIVATION_SOCKET, NULL);
        relayer_peer = plugin_connect(relayer, SDLOOP_KIND_RELAYER);
        median_peer = plugin_connect(median, SDLOOP_KIND_MEDIAN);

        check_ok(conformance_run_plugin_relayer(relayer_peer, &keep, &error));
        check_ok(conformance_run_plugin_median(median_peer, relayer_peer, keep.median_provider, &keep, &error));
        check_ok(sdloop_reporting_plugin_factory_new_reporting_plugin(median_peer, keep.factory,
                                                                      &fixture_reporting_plugin_config, &rp, &info,
                                                                      &error));

        inprocess_pair(&host, &other);
        ck_assert_int_eq(static_keystore_new(host, &keystore), 0);
        ck_assert_int_eq(static_data_source_new(host, FIXTURE_VALUE, &ds), 0);
        ck_assert_int_eq(static_error_log_new(host, &error_log), 0);

        t = (ConformanceTargets) {
                .peer = {
                        [CONFORMANCE_T_RELAYER_ROOT] = relayer_peer,
                        [CONFORMANCE_T_RELAYER] = relayer_peer,
                        [CONFORMANCE_T_PROVIDER] = relayer_peer,
                        [CONFORMANCE_T_MEDIAN_ROOT] = median_peer,
                        [CONFORMANCE_T_FACTORY] = median_peer,
                        [CONFORMANCE_T_REPORTING_PLUGIN] = median_peer,
                        [CONFORMANCE_T_HOST_KEYSTORE] = other,
                        [CONFORMANCE_T_HOST_DATA_SOURCE] = other,
                        [CONFORMANCE_T_HOST_ERROR_LOG] = other,
                },
                .path = {
                        [CONFORMANCE_T_RELAYER_ROOT] = SDLOOP_ROOT_PATH,
                        [CONFORMANCE_T_RELAYER] = keep.relayer,
                        [CONFORMANCE_T_PROVIDER] = keep.median_provider,
                        [CONFORMANCE_T_MEDIAN_ROOT] = SDLOOP_ROOT_PATH,
                        [CONFORMANCE_T_FACTORY] = keep.factory,
                        [CONFORMANCE_T_REPORTING_PLUGIN] = rp,
                        [CONFORMANCE_T_HOST_KEYSTORE] = sdloop_object_get_path(keystore),
                        [CONFORMANCE_T_HOST_DATA_SOURCE] = sdloop_object_get_path(ds),
                        [CONFORMANCE_T_HOST_ERROR_LOG] = sdloop_object_get_path(error_log),
                },
                .provider = sdloop_proxy_get_path(keep.provider_proxy),
                .data_source = sdloop_object_get_path(keep.data_source),
                .juels_data_source = sdloop_object_get_path(keep.juels_data_source),
                .error_log = sdloop_object_get_path(keep.error_log),
                .timestamp = fixture_report_timestamp,
                .query = fixture_query,
                .fixtures = true,
        };

        ck_assert_uint_eq(conformance_bad_input_run(&t, still_serving, bad_input_result, &n_calls), 0);
        /* Every call of the table ran: none was skipped for a missing target. */
        ck_assert_uint_eq(n_calls, conformance_bad_input_count());

        /* After all that, the whole chain still works. */
        check_ok(conformance_run_plugin_relayer(relayer_peer, NULL, &error));
        check_ok(conformance_run_plugin_median(median_peer, relayer_peer, keep.median_provider, NULL, &error));

        conformance_objects_done(&keep);
        relayer_peer = sdloop_peer_unref(relayer_peer);
        median_peer = sdloop_peer_unref(median_peer);
        plugin_stop(relayer);
        plugin_stop(median);
}
END_TEST

/* --- main ---------------------------------------------------------------------------------------------- */

static Suite *conformance_suite(void) {
        Suite *s = suite_create("conformance");
        TCase *tc;

        tc = tcase_create("suites");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_relayer_socket_activated);
        tcase_add_test(tc, test_relayer_listen);
        tcase_add_test(tc, test_median_chain);
        suite_add_tcase(s, tc);

        tc = tcase_create("contract");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_bad_input);
        tcase_add_test(tc, test_handshake_wrong_kind);
        tcase_add_test(tc, test_connection_close_closes_objects);
        suite_add_tcase(s, tc);

        tc = tcase_create("process");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_crash_after);
        tcase_add_test(tc, test_mode_arguments);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        /* Plugin output is forwarded line by line; keep ours in order with it. */
        setvbuf(stderr, NULL, _IOLBF, 0);

        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        have_tmpdir = true;
        atexit(kill_plugins);

        sr = srunner_create(conformance_suite());
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);

        kill_plugins();
        remove_tmpdir();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
