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
                _cleanup_free_ char *name = NULL;

                check_ok(sd_bus_get_property_string(sdloop_peer_get_bus(relayer_peer), NULL, keep.relayer,
                                                    "org.sdloop1.Service", "Name", &error, &name));
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
        ck_assert_msg(sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT, SDLOOP_ERROR_NOT_FOUND),
                      "expected UnknownObject, got %s: %s", error.name, error.message);
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

typedef enum Target {
        T_RELAYER_ROOT,
        T_RELAYER,
        T_PROVIDER,
        T_MEDIAN_ROOT,
        T_FACTORY,
        T_REPORTING_PLUGIN,
        T_HOST_KEYSTORE,
        T_HOST_DATA_SOURCE,
        T_HOST_ERROR_LOG,
        _T_MAX,
} Target;

typedef struct Targets {
        SdloopPeer *peer[_T_MAX];   /* the connection to call on */
        const char *path[_T_MAX];
        ConformanceObjects *keep;   /* the median chain's host objects (NewMedianFactory) */
} Targets;

typedef int (*build_t)(sd_bus_message *m, const Targets *t);

typedef struct BadCall {
        const char *name;
        Target target;
        const char *path; /* instead of the target's */
        const char *interface;
        const char *member;
        build_t build;
        const char *errors[4]; /* acceptable error names */
        const char *mention;   /* what the message must name */
} BadCall;

#define E_INVALID     { SDLOOP_ERROR_INVALID_ARGUMENT }
#define E_SIGNATURE   { SD_BUS_ERROR_INVALID_ARGS }
#define E_UNKNOWN     { SD_BUS_ERROR_UNKNOWN_OBJECT, SDLOOP_ERROR_NOT_FOUND }
#define E_NO_METHOD   { SD_BUS_ERROR_UNKNOWN_METHOD, SD_BUS_ERROR_UNKNOWN_INTERFACE }
#define E_UNSUPPORTED { SDLOOP_ERROR_UNIMPLEMENTED }

static int append_ts(sd_bus_message *m, size_t digest_size, uint32_t epoch, uint8_t round) {
        uint8_t digest[64] = {};
        int r;

        memcpy(digest, fixture_config_digest, MIN(digest_size, (size_t) SDLOOP_DIGEST_SIZE));
        r = sd_bus_message_open_container(m, 'r', "ayuy");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', digest, digest_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "uy", epoch, round);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_good_ts(sd_bus_message *m) {
        return sdloop_append_report_timestamp(m, &fixture_report_timestamp);
}

/* A ContractConfig with a digest of @digest_size bytes, @f, and the first @n_transmitters transmitters. */
static int append_contract_config(sd_bus_message *m, size_t digest_size, uint8_t f, size_t n_transmitters) {
        const SdloopContractConfig *c = &fixture_contract_config;
        uint8_t digest[64] = {};
        int r;

        memcpy(digest, c->digest, MIN(digest_size, (size_t) SDLOOP_DIGEST_SIZE));
        r = sd_bus_message_open_container(m, 'r', "aytaayasyaytay");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', digest, digest_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "t", c->config_count);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "ay");
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_signers; i++) {
                r = sd_bus_message_append_array(m, 'y', c->signers[i].data, c->signers[i].size);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_transmitters; i++) {
                r = sd_bus_message_append(m, "s", c->transmitters[i]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "y", f);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->onchain_config.data, c->onchain_config.size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "t", c->offchain_config_version);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->offchain_config.data, c->offchain_config.size);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_rp_config(sd_bus_message *m, size_t digest_size, uint8_t oracle_id, uint32_t n, uint32_t f) {
        const SdloopReportingPluginConfig *c = &fixture_reporting_plugin_config;
        uint8_t digest[64] = {};
        int r;

        memcpy(digest, c->digest, MIN(digest_size, (size_t) SDLOOP_DIGEST_SIZE));
        r = sd_bus_message_open_container(m, 'r', "ayyuuayaytttttt");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', digest, digest_size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "yuu", oracle_id, n, f);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->onchain_config.data, c->onchain_config.size);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', c->offchain_config.data, c->offchain_config.size);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "tttttt", c->estimated_round_interval_usec, c->max_duration_query_usec,
                                  c->max_duration_observation_usec, c->max_duration_report_usec,
                                  c->max_duration_should_accept_usec, c->max_duration_should_transmit_usec);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_many_attributed(sd_bus_message *m, const SdloopAttributed *one, size_t n) {
        _cleanup_free_ SdloopAttributed *v = new0(SdloopAttributed, n);

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = *one;
        return sdloop_append_attributed_array(m, v, n);
}

/* PluginRelayer */
static int b_new_relayer_wrong_config(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "so", "[Foo]\nBar = \"Qux\"\n", STATIC_KEYSTORE_PATH);
}
static int b_new_relayer_no_keystore(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "s", FIXTURE_CONFIG_TOML);
}
static int b_new_relayer_unknown_keystore(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "so", FIXTURE_CONFIG_TOML, SDLOOP_ROOT_PATH "/host/nokeystore");
}
static int b_new_relayer_huge_config(sd_bus_message *m, const Targets *t) {
        size_t n = 1024 * 1024 + 1;
        _cleanup_free_ char *s = malloc(n + 1);

        if (!s)
                return -ENOMEM;
        memset(s, 'x', n);
        s[n] = 0;
        return sd_bus_message_append(m, "so", s, STATIC_KEYSTORE_PATH);
}

/* Relayer */
static int b_relay_args_bad_uuid(sd_bus_message *m, const Targets *t) {
        SdloopRelayArgs a = fixture_relay_args;

        a.external_job_id = (char *) "1051429b-aa66-11ed-b0d2-5cff35dfbe6";
        return sdloop_append_relay_args(m, &a);
}
static int b_relay_args_bad_json(sd_bus_message *m, const Targets *t) {
        SdloopRelayArgs a = fixture_relay_args;

        a.relay_config = (char *) "{\"chainID\": ";
        return sdloop_append_relay_args(m, &a);
}
static int b_relay_args_wrong_job_id(sd_bus_message *m, const Targets *t) {
        SdloopRelayArgs a = fixture_relay_args;

        a.job_id = 124;
        return sdloop_append_relay_args(m, &a);
}
static int b_plugin_provider_bad_json(sd_bus_message *m, const Targets *t) {
        SdloopPluginArgs a = fixture_plugin_args;
        int r;

        a.plugin_config = (char *) "not json";
        r = sdloop_append_relay_args(m, &fixture_relay_args);
        return r < 0 ? r : sdloop_append_plugin_args(m, &a);
}
static int b_plugin_provider_unknown_type(sd_bus_message *m, const Targets *t) {
        SdloopRelayArgs a = fixture_relay_args;
        int r;

        a.provider_type = (char *) "frobnicator";
        r = sdloop_append_relay_args(m, &a);
        return r < 0 ? r : sdloop_append_plugin_args(m, &fixture_plugin_args);
}
static int b_plugin_provider_short_struct(sd_bus_message *m, const Targets *t) {
        const SdloopRelayArgs *a = &fixture_relay_args;
        int r;

        r = sd_bus_message_append(m, "(sisbs)", a->external_job_id, a->job_id, a->contract_id, a->new,
                                  a->relay_config);
        return r < 0 ? r : sdloop_append_plugin_args(m, &fixture_plugin_args);
}
static int b_list_nodes_negative(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "is", (int32_t) -1, "");
}
static int b_list_nodes_token(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "is", FIXTURE_PAGE_SIZE, "page-2");
}
static int b_transact_amount(sd_bus_message *m, const char *amount) {
        return sd_bus_message_append(m, "sssb", FIXTURE_FROM, FIXTURE_TO, amount, FIXTURE_BALANCE_CHECK);
}
static int b_transact_not_decimal(sd_bus_message *m, const Targets *t) {
        return b_transact_amount(m, "12a");
}
static int b_transact_leading_zero(sd_bus_message *m, const Targets *t) {
        return b_transact_amount(m, "007");
}
static int b_transact_minus_zero(sd_bus_message *m, const Targets *t) {
        return b_transact_amount(m, "-0");
}
static int b_transact_too_long(sd_bus_message *m, const Targets *t) {
        char s[SDLOOP_DECIMAL_DIGITS_MAX + 2];

        memset(s, '9', sizeof(s) - 1);
        s[sizeof(s) - 1] = 0;
        return b_transact_amount(m, s);
}
static int b_transact_wrong_from(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "sssb", "0xdcba", FIXTURE_TO, FIXTURE_AMOUNT, FIXTURE_BALANCE_CHECK);
}
static int b_transact_int_amount(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "ssxb", FIXTURE_FROM, FIXTURE_TO, (int64_t) 123456789, FIXTURE_BALANCE_CHECK);
}

/* Provider */
static int b_digest_short(sd_bus_message *m, const Targets *t) {
        return append_contract_config(m, SDLOOP_DIGEST_SIZE - 1, fixture_contract_config.f, 4);
}
static int b_digest_f_too_big(sd_bus_message *m, const Targets *t) {
        return append_contract_config(m, SDLOOP_DIGEST_SIZE, 2, 4);
}
static int b_digest_transmitters(sd_bus_message *m, const Targets *t) {
        return append_contract_config(m, SDLOOP_DIGEST_SIZE, fixture_contract_config.f, 3);
}
static int b_latest_config_wrong_block(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "t", FIXTURE_CHANGED_IN_BLOCK + 1);
}
static int b_latest_config_u32(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "u", (uint32_t) FIXTURE_CHANGED_IN_BLOCK);
}
static int b_transmit_extra_hash(sd_bus_message *m, const Targets *t) {
        uint8_t extra[SDLOOP_DIGEST_SIZE - 1] = {};
        int r;

        r = sd_bus_message_open_container(m, 'r', "(ayuy)ay");
        if (r >= 0)
                r = append_good_ts(m);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', extra, sizeof(extra));
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, fixture_signatures, FIXTURE_N_SIGNATURES);
}
static int b_transmit_long_digest(sd_bus_message *m, const Targets *t) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "(ayuy)ay");
        if (r >= 0)
                r = append_ts(m, SDLOOP_DIGEST_SIZE + 1, FIXTURE_EPOCH, FIXTURE_ROUND);
        if (r >= 0)
                r = sdloop_append_digest(m, fixture_report_context.extra_hash);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, fixture_signatures, FIXTURE_N_SIGNATURES);
}
static int b_transmit_many_signatures(sd_bus_message *m, const Targets *t) {
        int r;

        r = sdloop_append_report_context(m, &fixture_report_context);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : append_many_attributed(m, &fixture_signatures[0], 257);
}
static int b_transmit_wrong_signer(sd_bus_message *m, const Targets *t) {
        SdloopAttributed s = fixture_signatures[0];
        int r;

        s.oracle = 55;
        r = sdloop_append_report_context(m, &fixture_report_context);
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, &s, 1);
}
static int b_build_report_value(sd_bus_message *m, const Targets *t) {
        SdloopParsedObservation o = fixture_parsed_observations[0];

        o.value = (char *) "1.5";
        return sdloop_append_parsed_observations(m, &o, 1);
}
static int b_build_report_juels(sd_bus_message *m, const Targets *t) {
        SdloopParsedObservation o = fixture_parsed_observations[0];

        o.juels_per_fee_coin = (char *) "+54";
        return sdloop_append_parsed_observations(m, &o, 1);
}
static int b_median_from_report_wrong(sd_bus_message *m, const Targets *t) {
        return sdloop_append_bytes(m, fixture_query.data, fixture_query.size);
}
static int b_max_report_length_wrong(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "x", FIXTURE_MAX_REPORT_LENGTH_N + 1);
}
static int b_round_requested_wrong(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "t", FIXTURE_LOOKBACK_USEC + 1);
}
static int b_encode_bad_min(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "(ss)", "twelve", FIXTURE_ONCHAIN_MAX);
}
static int b_encode_min_above_max(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "(ss)", FIXTURE_ONCHAIN_MAX, FIXTURE_ONCHAIN_MIN);
}
static int b_decode_wrong(sd_bus_message *m, const Targets *t) {
        return sdloop_append_bytes(m, fixture_signed.data, fixture_signed.size);
}

/* PluginMedian */
static int b_factory_deps(sd_bus_message *m, const char *provider, const char *ds, const char *juels,
                          const char *error_log) {
        return sd_bus_message_append(m, "oooo", provider, ds, juels, error_log);
}
static int b_factory_unknown_provider(sd_bus_message *m, const Targets *t) {
        return b_factory_deps(m, SDLOOP_ROOT_PATH "/host/provider/999", sdloop_object_get_path(t->keep->data_source),
                              sdloop_object_get_path(t->keep->juels_data_source),
                              sdloop_object_get_path(t->keep->error_log));
}
static int b_factory_unknown_data_source(sd_bus_message *m, const Targets *t) {
        return b_factory_deps(m, sdloop_proxy_get_path(t->keep->provider_proxy),
                              SDLOOP_ROOT_PATH "/host/data_source/999",
                              sdloop_object_get_path(t->keep->juels_data_source),
                              sdloop_object_get_path(t->keep->error_log));
}
static int b_factory_swapped_data_sources(sd_bus_message *m, const Targets *t) {
        return b_factory_deps(m, sdloop_proxy_get_path(t->keep->provider_proxy),
                              sdloop_object_get_path(t->keep->juels_data_source),
                              sdloop_object_get_path(t->keep->data_source),
                              sdloop_object_get_path(t->keep->error_log));
}
static int b_factory_two_paths(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "oo", sdloop_proxy_get_path(t->keep->provider_proxy),
                                     sdloop_object_get_path(t->keep->data_source));
}

/* ReportingPluginFactory */
static int b_rp_config_digest(sd_bus_message *m, const Targets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE - 1, 10, 12, 3);
}
static int b_rp_config_f(sd_bus_message *m, const Targets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE, 10, 12, 12);
}
static int b_rp_config_oracle_id(sd_bus_message *m, const Targets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE, 12, 12, 3);
}
static int b_rp_config_n(sd_bus_message *m, const Targets *t) {
        return append_rp_config(m, SDLOOP_DIGEST_SIZE, 10, 13, 3);
}

/* ReportingPlugin */
static int b_query_long_digest(sd_bus_message *m, const Targets *t) {
        return append_ts(m, SDLOOP_DIGEST_SIZE + 1, FIXTURE_EPOCH, FIXTURE_ROUND);
}
static int b_query_wrong_round(sd_bus_message *m, const Targets *t) {
        return append_ts(m, SDLOOP_DIGEST_SIZE, FIXTURE_EPOCH, FIXTURE_ROUND + 1);
}
static int b_query_short_struct(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "(ayu)", 0, FIXTURE_EPOCH);
}
static int b_observation_wrong_query(sd_bus_message *m, const Targets *t) {
        int r = append_good_ts(m);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
}
static int b_report_many_observations(sd_bus_message *m, const Targets *t) {
        int r = append_good_ts(m);

        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_query.data, fixture_query.size);
        return r < 0 ? r : append_many_attributed(m, &fixture_observations[0], 257);
}
static int b_report_wrong_observer(sd_bus_message *m, const Targets *t) {
        SdloopAttributed o = fixture_observations[0];
        int r = append_good_ts(m);

        o.oracle = 98;
        if (r >= 0)
                r = sdloop_append_bytes(m, fixture_query.data, fixture_query.size);
        return r < 0 ? r : sdloop_append_attributed_array(m, &o, 1);
}
static int b_decision_wrong_report(sd_bus_message *m, const Targets *t) {
        int r = append_good_ts(m);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_query.data, fixture_query.size);
}
static int b_decision_wrong_epoch(sd_bus_message *m, const Targets *t) {
        int r = append_ts(m, SDLOOP_DIGEST_SIZE, FIXTURE_EPOCH + 1, FIXTURE_ROUND);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_report.data, fixture_report.size);
}

/* Host */
static int b_sign_wrong_account(sd_bus_message *m, const Targets *t) {
        int r = sd_bus_message_append(m, "s", "otheraccount");

        return r < 0 ? r : sdloop_append_bytes(m, fixture_encoded.data, fixture_encoded.size);
}
static int b_sign_wrong_data(sd_bus_message *m, const Targets *t) {
        int r = sd_bus_message_append(m, "s", FIXTURE_ACCOUNT);

        return r < 0 ? r : sdloop_append_bytes(m, fixture_signed.data, fixture_signed.size);
}
static int b_sign_wrong_account_no_data(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "s", FIXTURE_ACCOUNT);
}
static int b_observe_short_digest(sd_bus_message *m, const Targets *t) {
        return append_ts(m, SDLOOP_DIGEST_SIZE - 1, FIXTURE_EPOCH, FIXTURE_ROUND);
}
static int b_save_error_huge(sd_bus_message *m, const Targets *t) {
        size_t n = SDLOOP_ERROR_LOG_MESSAGE_MAX + 1;
        _cleanup_free_ char *s = malloc(n + 1);

        if (!s)
                return -ENOMEM;
        memset(s, 'e', n);
        s[n] = 0;
        return sd_bus_message_append(m, "s", s);
}
static int b_save_error_wrong(sd_bus_message *m, const Targets *t) {
        return sd_bus_message_append(m, "s", "another error");
}
static int b_good_ts(sd_bus_message *m, const Targets *t) {
        return append_good_ts(m);
}

#define PLUGIN_RELAYER "org.sdloop1.PluginRelayer"
#define RELAYER        "org.sdloop1.Relayer"
#define OCD            "org.sdloop1.OffchainConfigDigester"
#define CCT            "org.sdloop1.ContractConfigTracker"
#define CT             "org.sdloop1.ContractTransmitter"
#define RC             "org.sdloop1.ReportCodec"
#define MC             "org.sdloop1.MedianContract"
#define OCC            "org.sdloop1.OnchainConfigCodec"
#define PLUGIN_MEDIAN  "org.sdloop1.PluginMedian"
#define FACTORY        "org.sdloop1.ReportingPluginFactory"
#define RP             "org.sdloop1.ReportingPlugin"

static const BadCall bad_calls[] = {
        /* PluginRelayer */
        { "NewRelayer: wrong config", T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_wrong_config, E_INVALID, "config" },
        { "NewRelayer: missing keystore", T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_no_keystore, E_SIGNATURE, "'so'" },
        { "NewRelayer: unknown keystore", T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_unknown_keystore, E_UNKNOWN, "keystore" },
        { "NewRelayer: 1 MiB config", T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayer",
          b_new_relayer_huge_config, E_INVALID, "config" },
        { "PluginRelayer: unknown method", T_RELAYER_ROOT, NULL, PLUGIN_RELAYER, "NewRelayers",
          NULL, E_NO_METHOD, "NewRelayers" },
        { "root: no PluginMedian", T_RELAYER_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_two_paths, E_NO_METHOD, PLUGIN_MEDIAN },
        /* Relayer */
        { "NewConfigProvider: bad UUID", T_RELAYER, NULL, RELAYER, "NewConfigProvider",
          b_relay_args_bad_uuid, E_INVALID, "relay_args.external_job_id" },
        { "NewConfigProvider: bad JSON", T_RELAYER, NULL, RELAYER, "NewConfigProvider",
          b_relay_args_bad_json, E_INVALID, "relay_args.relay_config" },
        { "NewConfigProvider: wrong job id", T_RELAYER, NULL, RELAYER, "NewConfigProvider",
          b_relay_args_wrong_job_id, E_INVALID, "relay_args.job_id" },
        { "NewPluginProvider: bad JSON", T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          b_plugin_provider_bad_json, E_INVALID, "plugin_args.plugin_config" },
        { "NewPluginProvider: unknown type", T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          b_plugin_provider_unknown_type, E_UNSUPPORTED, "frobnicator" },
        { "NewPluginProvider: short struct", T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          b_plugin_provider_short_struct, E_SIGNATURE, "(sisbss)" },
        { "NewPluginProvider: no arguments", T_RELAYER, NULL, RELAYER, "NewPluginProvider",
          NULL, E_SIGNATURE, "(sisbss)" },
        { "ListNodeStatuses: negative size", T_RELAYER, NULL, RELAYER, "ListNodeStatuses",
          b_list_nodes_negative, E_INVALID, "page_size" },
        { "ListNodeStatuses: wrong token", T_RELAYER, NULL, RELAYER, "ListNodeStatuses",
          b_list_nodes_token, E_INVALID, "page_token" },
        { "Transact: not a decimal", T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_not_decimal, E_INVALID, "amount" },
        { "Transact: leading zeros", T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_leading_zero, E_INVALID, "amount" },
        { "Transact: minus zero", T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_minus_zero, E_INVALID, "amount" },
        { "Transact: 79 digits", T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_too_long, E_INVALID, "amount" },
        { "Transact: wrong from", T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_wrong_from, E_INVALID, "from" },
        { "Transact: amount as int64", T_RELAYER, NULL, RELAYER, "Transact",
          b_transact_int_amount, E_SIGNATURE, "'sssb'" },
        { "Relayer: unknown object", T_RELAYER, SDLOOP_ROOT_PATH "/relayer/999", RELAYER, "GetChainStatus",
          NULL, E_UNKNOWN, "/org/sdloop1/relayer/999" },
        /* provider components */
        { "ConfigDigest: 31-byte digest", T_PROVIDER, NULL, OCD, "ConfigDigest",
          b_digest_short, E_INVALID, "contract_config.digest" },
        { "ConfigDigest: 3f >= n", T_PROVIDER, NULL, OCD, "ConfigDigest",
          b_digest_f_too_big, E_INVALID, "contract_config.f" },
        { "ConfigDigest: transmitters", T_PROVIDER, NULL, OCD, "ConfigDigest",
          b_digest_transmitters, E_INVALID, "contract_config.transmitters" },
        { "LatestConfig: wrong block", T_PROVIDER, NULL, CCT, "LatestConfig",
          b_latest_config_wrong_block, E_INVALID, "changed_in_block" },
        { "LatestConfig: uint32", T_PROVIDER, NULL, CCT, "LatestConfig",
          b_latest_config_u32, E_SIGNATURE, "'t'" },
        { "Transmit: 31-byte extra hash", T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_extra_hash, E_INVALID, "report_context.extra_hash" },
        { "Transmit: 33-byte digest", T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_long_digest, E_INVALID, "report_context.timestamp.digest" },
        { "Transmit: 257 signatures", T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_many_signatures, E_INVALID, "signatures" },
        { "Transmit: wrong signer", T_PROVIDER, NULL, CT, "Transmit",
          b_transmit_wrong_signer, E_INVALID, "signatures[0].oracle" },
        { "BuildReport: malformed value", T_PROVIDER, NULL, RC, "BuildReport",
          b_build_report_value, E_INVALID, "observations[0].value" },
        { "BuildReport: malformed juels", T_PROVIDER, NULL, RC, "BuildReport",
          b_build_report_juels, E_INVALID, "observations[0].juels_per_fee_coin" },
        { "MedianFromReport: wrong report", T_PROVIDER, NULL, RC, "MedianFromReport",
          b_median_from_report_wrong, E_INVALID, "report" },
        { "MaxReportLength: wrong n", T_PROVIDER, NULL, RC, "MaxReportLength",
          b_max_report_length_wrong, E_INVALID, "n:" },
        { "LatestRoundRequested: lookback", T_PROVIDER, NULL, MC, "LatestRoundRequested",
          b_round_requested_wrong, E_INVALID, "lookback_usec" },
        { "Encode: malformed min", T_PROVIDER, NULL, OCC, "Encode",
          b_encode_bad_min, E_INVALID, "onchain_config.min" },
        { "Encode: min above max", T_PROVIDER, NULL, OCC, "Encode",
          b_encode_min_above_max, E_INVALID, "onchain_config" },
        { "Decode: wrong encoding", T_PROVIDER, NULL, OCC, "Decode",
          b_decode_wrong, E_INVALID, "encoded" },
        { "provider: unknown interface", T_PROVIDER, NULL, "org.sdloop1.ChainReader", "GetLatestValue",
          NULL, E_NO_METHOD, "GetLatestValue" },
        { "provider: unknown object", T_PROVIDER, SDLOOP_ROOT_PATH "/provider/999", OCD, "ConfigDigestPrefix",
          NULL, E_UNKNOWN, "/org/sdloop1/provider/999" },
        /* PluginMedian */
        { "NewMedianFactory: unknown provider", T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_unknown_provider, E_UNKNOWN, "provider" },
        { "NewMedianFactory: unknown data source", T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_unknown_data_source, E_UNKNOWN, "data_source" },
        { "NewMedianFactory: swapped sources", T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_swapped_data_sources, E_INVALID, "data_source" },
        { "NewMedianFactory: two paths", T_MEDIAN_ROOT, NULL, PLUGIN_MEDIAN, "NewMedianFactory",
          b_factory_two_paths, E_SIGNATURE, "'oooo'" },
        /* ReportingPluginFactory */
        { "NewReportingPlugin: 31-byte digest", T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_digest, E_INVALID, "config.digest" },
        { "NewReportingPlugin: f >= n", T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_f, E_INVALID, "config.f" },
        { "NewReportingPlugin: oracle_id >= n", T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_oracle_id, E_INVALID, "config.oracle_id" },
        { "NewReportingPlugin: wrong n", T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          b_rp_config_n, E_INVALID, "config.n" },
        { "NewReportingPlugin: no config", T_FACTORY, NULL, FACTORY, "NewReportingPlugin",
          NULL, E_SIGNATURE, "(ayyuuayaytttttt)" },
        /* ReportingPlugin */
        { "Query: 33-byte digest", T_REPORTING_PLUGIN, NULL, RP, "Query",
          b_query_long_digest, E_INVALID, "report_timestamp.digest" },
        { "Query: wrong round", T_REPORTING_PLUGIN, NULL, RP, "Query",
          b_query_wrong_round, E_INVALID, "report_timestamp.round" },
        { "Query: short struct", T_REPORTING_PLUGIN, NULL, RP, "Query",
          b_query_short_struct, E_SIGNATURE, "(ayuy)" },
        { "Observation: wrong query", T_REPORTING_PLUGIN, NULL, RP, "Observation",
          b_observation_wrong_query, E_INVALID, "query" },
        { "Observation: no query", T_REPORTING_PLUGIN, NULL, RP, "Observation",
          b_good_ts, E_SIGNATURE, "(ayuy)ay" },
        { "Report: 257 observations", T_REPORTING_PLUGIN, NULL, RP, "Report",
          b_report_many_observations, E_INVALID, "observations" },
        { "Report: wrong observer", T_REPORTING_PLUGIN, NULL, RP, "Report",
          b_report_wrong_observer, E_INVALID, "observations[0].oracle" },
        { "ShouldAcceptFinalizedReport: wrong report", T_REPORTING_PLUGIN, NULL, RP, "ShouldAcceptFinalizedReport",
          b_decision_wrong_report, E_INVALID, "report" },
        { "ShouldTransmitAcceptedReport: wrong epoch", T_REPORTING_PLUGIN, NULL, RP, "ShouldTransmitAcceptedReport",
          b_decision_wrong_epoch, E_INVALID, "report_timestamp.epoch" },
        { "ReportingPlugin: unknown object", T_REPORTING_PLUGIN, SDLOOP_ROOT_PATH "/reporting_plugin/999", RP, "Query",
          b_good_ts, E_UNKNOWN, "/org/sdloop1/reporting_plugin/999" },
        /* host side */
        { "Sign: wrong account", T_HOST_KEYSTORE, NULL, "org.sdloop1.Keystore", "Sign",
          b_sign_wrong_account, E_INVALID, "account" },
        { "Sign: wrong data", T_HOST_KEYSTORE, NULL, "org.sdloop1.Keystore", "Sign",
          b_sign_wrong_data, E_INVALID, "data" },
        { "Sign: no data", T_HOST_KEYSTORE, NULL, "org.sdloop1.Keystore", "Sign",
          b_sign_wrong_account_no_data, E_SIGNATURE, "'say'" },
        { "Observe: 31-byte digest", T_HOST_DATA_SOURCE, NULL, "org.sdloop1.DataSource", "Observe",
          b_observe_short_digest, E_INVALID, "report_timestamp.digest" },
        { "Observe: unknown object", T_HOST_DATA_SOURCE, SDLOOP_ROOT_PATH "/host/data_source/999", "org.sdloop1.DataSource", "Observe",
          b_good_ts, E_UNKNOWN, "/org/sdloop1/host/data_source/999" },
        { "SaveError: 64 KiB + 1", T_HOST_ERROR_LOG, NULL, "org.sdloop1.ErrorLog", "SaveError",
          b_save_error_huge, E_INVALID, "message" },
        { "SaveError: wrong message", T_HOST_ERROR_LOG, NULL, "org.sdloop1.ErrorLog", "SaveError",
          b_save_error_wrong, E_INVALID, "message" },
};

/* After each bad call, the object must still answer a good one. */
static void check_still_serving(const Targets *t, Target target) {
        SdloopPeer *peer = t->peer[target];
        const char *path = t->path[target];
        sd_bus_error error = SD_BUS_ERROR_NULL;

        switch (target) {
        case T_RELAYER_ROOT:
        case T_MEDIAN_ROOT:
        case T_FACTORY:
                check_ok(sdloop_peer_call_method(peer, path, "org.sdloop1.Service", "Ready", NULL, &error, NULL));
                break;
        case T_RELAYER: {
                _cleanup_(sdloop_chain_status_done) SdloopChainStatus status = {};

                check_ok(sdloop_relayer_get_chain_status(peer, path, &status, &error));
                check_ok(fixture_check_chain_status(&status, "status", &error));
                break;
        }
        case T_PROVIDER:
                check_ok(conformance_check_median_provider(peer, path, &error));
                break;
        case T_REPORTING_PLUGIN:
                check_ok(conformance_run_reporting_plugin(peer, path, &error));
                break;
        case T_HOST_KEYSTORE: {
                _cleanup_(sdloop_bytes_done) SdloopBytes signed_data = {};

                check_ok(sdloop_keystore_sign(peer, path, FIXTURE_ACCOUNT, fixture_encoded.data, fixture_encoded.size,
                                              &signed_data, &error));
                check_ok(fixture_check_bytes(&fixture_signed, signed_data.data, signed_data.size, "signed", &error));
                break;
        }
        case T_HOST_DATA_SOURCE: {
                _cleanup_free_ char *value = NULL;

                check_ok(sdloop_data_source_observe(peer, path, &fixture_report_timestamp, &value, &error));
                ck_assert_str_eq(value, FIXTURE_VALUE);
                break;
        }
        case T_HOST_ERROR_LOG:
                check_ok(sdloop_error_log_save_error(peer, path, FIXTURE_ERROR_MESSAGE, &error));
                break;
        default:
                ck_abort();
        }
}

static void run_bad_call(const BadCall *c, const Targets *t) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopPeer *peer = t->peer[c->target];
        const char *path = c->path ?: t->path[c->target];
        bool name_ok = false;
        int r;

        ck_assert_int_eq(sdloop_peer_new_call(peer, path, c->interface, c->member, &m), 0);
        if (c->build)
                ck_assert_msg(c->build(m, t) >= 0, "%s: building the call failed", c->name);

        r = sdloop_peer_call(peer, m, 0, NULL, &error);
        ck_assert_msg(r < 0, "%s: the call succeeded", c->name);
        for (size_t i = 0; i < ELEMENTSOF(c->errors) && c->errors[i]; i++)
                if (sd_bus_error_has_name(&error, c->errors[i]))
                        name_ok = true;
        ck_assert_msg(name_ok, "%s: unexpected error %s: %s", c->name, strempty(error.name), strempty(error.message));
        ck_assert_msg(error.message && strstr(error.message, c->mention),
                      "%s: the error does not name \"%s\": %s: %s", c->name, c->mention, error.name,
                      strempty(error.message));
        fprintf(stderr, "ok: %s -> %s: %s\n", c->name, error.name, error.message);

        check_still_serving(t, c->target);
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
        Targets t = {};

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

        t = (Targets) {
                .peer = {
                        [T_RELAYER_ROOT] = relayer_peer,
                        [T_RELAYER] = relayer_peer,
                        [T_PROVIDER] = relayer_peer,
                        [T_MEDIAN_ROOT] = median_peer,
                        [T_FACTORY] = median_peer,
                        [T_REPORTING_PLUGIN] = median_peer,
                        [T_HOST_KEYSTORE] = other,
                        [T_HOST_DATA_SOURCE] = other,
                        [T_HOST_ERROR_LOG] = other,
                },
                .path = {
                        [T_RELAYER_ROOT] = SDLOOP_ROOT_PATH,
                        [T_RELAYER] = keep.relayer,
                        [T_PROVIDER] = keep.median_provider,
                        [T_MEDIAN_ROOT] = SDLOOP_ROOT_PATH,
                        [T_FACTORY] = keep.factory,
                        [T_REPORTING_PLUGIN] = rp,
                        [T_HOST_KEYSTORE] = sdloop_object_get_path(keystore),
                        [T_HOST_DATA_SOURCE] = sdloop_object_get_path(ds),
                        [T_HOST_ERROR_LOG] = sdloop_object_get_path(error_log),
                },
                .keep = &keep,
        };

        for (size_t i = 0; i < ELEMENTSOF(bad_calls); i++)
                run_bad_call(&bad_calls[i], &t);

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
