/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The plugin runtime over a real socket handed over the systemd way (systemd-socket-activate sets
 * LISTEN_FDS/LISTEN_PID), and the client side's handshake. What the plugin is doing is learnt from its
 * READY=1 and the order of events, never from how long something took. */

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"
#include "sdloop.h"
#include "test-util.h"

static char tmpdir[] = "/tmp/sdloop-test-runtime-XXXXXX";
static char sock_path[PATH_MAX], notify_path[PATH_MAX];
static pid_t plugin_pid = -1;
static int notify_fd = -EBADF;

/* The plugin behind systemd-socket-activate, which execs it on the first connection with the socket as
 * fd 3 (LISTEN_FDS/LISTEN_PID) and a fresh environment: only what -E names. The socket is ours, bound and
 * listening before the child starts, as a socket unit's is, so a connection made at any time after this
 * waits in the backlog (with -l the child binds, then listens: a connect() in between is refused). That
 * the plugin runs is learnt from its READY=1. */
static void start_plugin(void) {
        static const char *const pass_on[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
                                               "SDLOOP_ABORT_ON_NESTED_WAIT" };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *bin = getenv("SDLOOP_EXAMPLE_PLUGIN");
        _cleanup_free_ char *notify_env = NULL;
        _cleanup_close_ int listen_fd = -EBADF;
        char *env[ELEMENTSOF(pass_on)] = {};

        ck_assert_msg(bin, "$SDLOOP_EXAMPLE_PLUGIN not set");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        snprintf(sock_path, sizeof(sock_path), "%s/example.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        notify_fd = test_notify_open(notify_path);
        ck_assert_int_ge(asprintf(&notify_env, "NOTIFY_SOCKET=%s", notify_path), 0);
        for (size_t i = 0; i < ELEMENTSOF(pass_on); i++)
                if (getenv(pass_on[i]))
                        ck_assert_int_ge(asprintf(&env[i], "%s=%s", pass_on[i], getenv(pass_on[i])), 0);

        ck_assert_uint_lt(strlen(sock_path), sizeof(sa.sun_path));
        strcpy(sa.sun_path, sock_path);
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(listen_fd, 0);
        ck_assert_int_eq(bind(listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(listen_fd, SOMAXCONN), 0);

        plugin_pid = fork();
        ck_assert_int_ge(plugin_pid, 0);
        if (plugin_pid == 0) {
                const char *argv[5 + 2 * ELEMENTSOF(pass_on) + 2] = { "systemd-socket-activate", "-E", notify_env,
                                                                      "-E", "SDLOOP_LOG_TARGET=stderr" };
                size_t n = 5;
                char pid[32];

                /* Do not outlive a test that fails half-way (nor keep its output open). */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (listen_fd == 3 ? fcntl(listen_fd, F_SETFD, 0) < 0 : dup2(listen_fd, 3) < 0)
                        _exit(127);
                snprintf(pid, sizeof(pid), "%i", (int) getpid());
                setenv("LISTEN_FDS", "1", 1);
                setenv("LISTEN_PID", pid, 1);
                for (size_t i = 0; i < ELEMENTSOF(pass_on); i++)
                        if (env[i]) {
                                argv[n++] = "-E";
                                argv[n++] = env[i];
                        }
                argv[n++] = bin;
                execvp(argv[0], (char **) argv);
                _exit(127);
        }
        for (size_t i = 0; i < ELEMENTSOF(pass_on); i++)
                free(env[i]);
}

static int stop_plugin(void) {
        int status = 0;

        if (plugin_pid <= 0)
                return -1;
        kill(plugin_pid, SIGTERM);
        ck_assert_int_eq(waitpid(plugin_pid, &status, 0), plugin_pid);
        plugin_pid = -1;
        notify_fd = safe_close(notify_fd);
        unlink(sock_path);
        unlink(notify_path);
        rmdir(tmpdir);
        return status;
}

START_TEST(test_handshake) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        _cleanup_(sdloop_plugin_identity_done) SdloopPluginIdentity id = {};
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int status;

        start_plugin();

        /* Our connection starts the plugin; it takes it once it is ready. */
        ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &peer), 0);
        test_notify_wait_ready(notify_fd, "the example plugin");
        ck_assert_msg(sdloop_peer_handshake(peer, "example", &id, &error) == 0, "handshake: %s: %s",
                      strempty(error.name), strempty(error.message));
        ck_assert_str_eq(id.name, "example");
        ck_assert_str_eq(id.kind, "example");
        ck_assert_str_eq(id.version, "1.0");
        ck_assert_uint_eq(id.protocol_version, SDLOOP_PROTOCOL_VERSION);

        /* The wrong kind is refused, naming both. */
        ck_assert_int_eq(sdloop_peer_handshake(peer, SDLOOP_KIND_RELAYER, NULL, &error), -EPROTO);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT));
        ck_assert_ptr_nonnull(strstr(error.message, "\"example\""));
        ck_assert_ptr_nonnull(strstr(error.message, "\"relayer\""));
        sd_bus_error_free(&error);

        /* Service on the root: Ready and an aggregated health report. */
        ck_assert_int_eq(sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service", "Ready", NULL,
                                                 &error, NULL), 0);
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *k, *v;
                bool found = false;

                ck_assert_int_eq(sdloop_peer_call_method(peer, SDLOOP_ROOT_PATH, "org.sdloop1.Service",
                                                         "HealthReport", &reply, &error, NULL), 0);
                ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "{ss}"), 0);
                while (sd_bus_message_read(reply, "{ss}", &k, &v) > 0)
                        if (streq(k, "example")) {
                                ck_assert_str_eq(v, "");
                                found = true;
                        }
                ck_assert(found);
        }

        /* An unknown object is not there. */
        ck_assert_int_lt(sdloop_peer_call_method(peer, "/org/sdloop1/relayer/77", "org.sdloop1.Service", "Ready",
                                                 NULL, &error, NULL), 0);
        ck_assert(sd_bus_error_is_set(&error));
        sd_bus_error_free(&error);

        /* SIGTERM: a clean exit. */
        peer = sdloop_peer_unref(peer);
        status = stop_plugin();
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* What the unprivileged child saw, as its exit status. */
enum {
        PEER_REFUSED = 0,    /* the connection ended before an answer came */
        PEER_SERVED = 1,
        PEER_TIMED_OUT = 2,  /* no answer at all: not a refusal */
        PEER_NO_CONNECT = 3,
        PEER_NO_SETUID = 4,
};

START_TEST(test_peercred_refused) {
        int go[2], status;
        pid_t child;
        char c = 'x';

        if (geteuid() != 0)
                return; /* needs root to become another uid; CI runs as root */

        start_plugin();
        /* A socket anyone may connect to: the plugin itself must refuse. */
        ck_assert_int_eq(chmod(sock_path, 0777), 0);
        ck_assert_int_eq(chmod(tmpdir, 0755), 0);
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);

        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r;

                (void) close(go[1]);
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(PEER_NO_SETUID);
                /* The socket listens already: connecting cannot fail, and starts the plugin. */
                if (sdloop_peer_connect(NULL, sock_path, &peer) < 0)
                        _exit(PEER_NO_CONNECT);
                /* Ask once the plugin runs, so that the call's whole timeout is the plugin's to answer in. */
                if (read(go[0], &c, 1) != 1)
                        _exit(PEER_NO_CONNECT);
                r = sdloop_peer_handshake(peer, NULL, NULL, &error);
                if (r >= 0)
                        _exit(PEER_SERVED);
                _exit(sd_bus_error_has_name(&error, SDLOOP_ERROR_TIMEOUT) ? PEER_TIMED_OUT : PEER_REFUSED);
        }
        (void) close(go[0]);
        /* Only the child's connection can have started it. */
        test_notify_wait_ready(notify_fd, "the example plugin");
        ck_assert_int_eq(write(go[1], &c, 1), 1);
        (void) close(go[1]);
        ck_assert_int_eq(waitpid(child, &status, 0), child);
        ck_assert(WIFEXITED(status));
        ck_assert_msg(WEXITSTATUS(status) == PEER_REFUSED, "unprivileged peer: %s (status %d)",
                      WEXITSTATUS(status) == PEER_SERVED ? "served" :
                      WEXITSTATUS(status) == PEER_TIMED_OUT ? "no answer, not refused" : "could not try",
                      WEXITSTATUS(status));

        /* And root still is served, by the same process. */
        {
                _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                ck_assert_int_eq(sdloop_peer_connect(NULL, sock_path, &peer), 0);
                ck_assert_msg(sdloop_peer_handshake(peer, "example", NULL, &error) == 0, "handshake: %s: %s",
                              strempty(error.name), strempty(error.message));
        }
        status = stop_plugin();
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* A fake plugin root speaking another protocol version, in-process over a socketpair. */
static uint32_t fake_version = SDLOOP_PROTOCOL_VERSION + 1;

static int fake_prop(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        if (streq(property, "ProtocolVersion"))
                return sd_bus_message_append(reply, "u", fake_version);
        return sd_bus_message_append(reply, "s", streq(property, "Kind") ? "relayer" : "fake");
}

static const sd_bus_vtable fake_plugin_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", fake_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", fake_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", fake_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProtocolVersion", "u", fake_prop, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

START_TEST(test_protocol_version_refused) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *server = NULL, *client = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        SdloopObject *root;
        int fds[2];

        ck_assert_int_eq(sd_event_new(&event), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        ck_assert_int_eq(sdloop_peer_new_server(event, fds[0], &server), 0);
        ck_assert_int_eq(sdloop_peer_new_client(event, fds[1], &client), 0);
        ck_assert_int_eq(sdloop_peer_set_description(client, "fake"), 0);
        ck_assert_int_eq(sdloop_object_new_at(server, NULL, SDLOOP_ROOT_PATH, NULL, NULL, &root), 0);
        ck_assert_int_eq(sdloop_object_add_interface(root, "org.sdloop1.Plugin", fake_plugin_vtable, NULL, NULL), 0);

        ck_assert_int_eq(sdloop_peer_handshake(client, SDLOOP_KIND_RELAYER, NULL, &error), -EPROTO);
        ck_assert(sd_bus_error_has_name(&error, SDLOOP_ERROR_INVALID_ARGUMENT));
        ck_assert_msg(strstr(error.message, "protocol version 3") && strstr(error.message, "speaks 2"),
                      "unclear message: %s", error.message);
        sd_bus_error_free(&error);

        fake_version = SDLOOP_PROTOCOL_VERSION;
        ck_assert_int_eq(sdloop_peer_handshake(client, SDLOOP_KIND_RELAYER, NULL, &error), 0);

        /* No plugin root at all: a clear error, not a crash. */
        sdloop_object_close(root);
        ck_assert_int_lt(sdloop_peer_handshake(client, NULL, NULL, &error), 0);
        ck_assert(sd_bus_error_is_set(&error));
        sd_bus_error_free(&error);
}
END_TEST

START_TEST(test_no_socket) {
        const char *bin = getenv("SDLOOP_EXAMPLE_PLUGIN");
        pid_t pid;
        int status;

        /* Started by hand without a socket: a clear failure, not a hang. */
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                setenv("SDLOOP_LOG_TARGET", "stderr", 1);
                execl(bin, bin, NULL);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), EXIT_FAILURE);
}
END_TEST

START_TEST(test_hung_plugin_times_out) {
        _cleanup_(sdloop_peer_unrefp) SdloopPeer *peer = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/sdloop-test-hung-XXXXXX";
        int fd;

        /* A "plugin" that lets the connection in (the backlog) but never says a word. */
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hung.sock", dir);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(fd, 8), 0);

        ck_assert_int_eq(sdloop_peer_connect(NULL, sa.sun_path, &peer), 0);
        sdloop_peer_set_call_timeout(peer, 300 * USEC_PER_MSEC);

        /* The caller's deadline ends it, not sd-bus's 90 s authentication timeout: that would overrun this
         * test case's own limit (60 s), which fails it. */
        ck_assert_int_lt(sdloop_peer_handshake(peer, NULL, NULL, &error), 0);
        ck_assert_msg(sd_bus_error_has_name(&error, SDLOOP_ERROR_TIMEOUT), "got %s: %s", error.name, error.message);
        sd_bus_error_free(&error);

        close(fd);
        unlink(sa.sun_path);
        rmdir(dir);
}
END_TEST

static Suite *runtime_suite(void) {
        Suite *s = suite_create("runtime");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_handshake);
        tcase_add_test(tc, test_peercred_refused);
        tcase_add_test(tc, test_protocol_version_refused);
        tcase_add_test(tc, test_no_socket);
        tcase_add_test(tc, test_hung_plugin_times_out);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(runtime_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
