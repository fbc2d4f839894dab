/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The systemd backends against a real service manager (run as root inside a booted container, see
 * tests/nspawn/): transient socket+service pairs, handshake through socket activation, crash recovery by
 * systemd's Restart=, the journal, the start limit, stop, and adoption of running units by a new host —
 * checked both through the host library and through systemctl/journalctl, as an operator would see them.
 *
 *   test-backend-systemd [--user] EXAMPLE_PLUGIN [TEST_PLUGIN]
 *
 * Default: the system backend (PID 1, sockets in /run/sdloop/plugin). --user: the user backend (the
 * caller's own manager, sockets in $XDG_RUNTIME_DIR/sdloop/plugin).
 *
 * Not a unit test: it changes the system it runs on (units named sdloop-*, their sockets). */

#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "host-backend.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "macro.h"
#include "static.h"
#include "suite.h"

static const char *example_binary, *test_binary;
static const HostBackend *backend = &host_backend_system;
static bool user_mode;
static const char *systemctl = "systemctl";
static char *socket_dir;
static uint64_t t_start;
static unsigned n_checks;

#define FAIL(...)                                                                       \
        do {                                                                            \
                fprintf(stderr, "FAIL %s:%i: ", __FILE__, __LINE__);                    \
                fprintf(stderr, __VA_ARGS__);                                           \
                fputc('\n', stderr);                                                    \
                if (system("systemctl list-units --all --no-pager 'sdloop-*' >&2; "   \
                           "systemctl --user list-units --all --no-pager 'sdloop-*' >&2")) {} \
                exit(EXIT_FAILURE);                                                     \
        } while (0)

#define CHECK(cond, ...)                                                                \
        do {                                                                            \
                n_checks++;                                                             \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "FAIL %s:%i: %s\n", __FILE__, __LINE__, #cond); \
                        FAIL(" " __VA_ARGS__);                                          \
                }                                                                       \
        } while (0)

static void step(const char *fmt, ...) {
        va_list ap;

        printf("[%6.2fs] ", (double) (host_now() - t_start) / USEC_PER_SEC);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

/* The output of a shell command, trailing newline removed. */
static char *command_output(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (r < 0)
                FAIL("out of memory");

        f = popen(cmd, "r");
        if (!f)
                FAIL("popen %s: %m", cmd);
        {
                FILE *out = open_memstream(&buf, &size);
                char chunk[4096];
                size_t n;

                if (!out)
                        FAIL("open_memstream: %m");
                while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                        fwrite(chunk, 1, n, out);
                fclose(out);
        }
        (void) pclose(f);
        while (size > 0 && buf[size - 1] == '\n')
                buf[--size] = 0;
        return buf;
}

static unsigned count_lines(const char *s) {
        unsigned n = 0;

        if (isempty(s))
                return 0;
        for (n = 1; *s; s++)
                if (*s == '\n' && s[1])
                        n++;
        return n;
}

/* Units named sdloop-*, loaded in any state. */
static unsigned count_units(const char *pattern) {
        _cleanup_free_ char *out = command_output("%s list-units --all --plain --no-legend --no-pager '%s'",
                                                  systemctl, pattern);
        return count_lines(out);
}

static char *unit_property(const char *unit, const char *property) {
        return command_output("%s show --value -p %s %s", systemctl, property, unit);
}

static bool unit_property_is(const char *unit, const char *property, const char *expected) {
        _cleanup_free_ char *v = unit_property(unit, property);

        if (streq(v, expected))
                return true;
        fprintf(stderr, "%s: %s=%s, expected %s\n", unit, property, v, expected);
        return false;
}

static uint64_t unit_property_u64(const char *unit, const char *property) {
        _cleanup_free_ char *v = unit_property(unit, property);

        return strtoull(v, NULL, 10);
}

/* Serve the host's events until @cond holds or @usec passed. */
#define WAIT_FOR(h, usec, cond)                                                         \
        ({                                                                              \
                uint64_t _deadline = host_now() + (usec);                               \
                while (!(cond) && host_now() < _deadline) {                             \
                        (void) sd_event_run((h)->event, 10 * USEC_PER_MSEC);            \
                }                                                                       \
                (cond);                                                                 \
        })

static HostPlugin *add_plugin(Host *h, const char *name, const char *kind, const char *binary, const char *arg) {
        HostPluginSettings s;
        HostPlugin *p;

        host_plugin_settings_init(&s);
        s.name = strdup(name);
        s.kind = strdup(kind);
        s.binary = strdup(binary);
        if (arg) {
                s.args = new0(char *, 2);
                s.args[0] = strdup(arg);
        }
        if (asprintf(&s.socket_path, "%s/%s.sock", socket_dir, name) < 0)
                FAIL("out of memory");
        s.call_timeout_usec = 15 * USEC_PER_SEC;
        s.restart_usec = 100 * USEC_PER_MSEC;
        s.start_limit_burst = 5;
        s.start_limit_interval_usec = 10 * USEC_PER_SEC;
        s.sandbox = true;
        s.dynamic_user = !user_mode;
        CHECK(host_plugin_new(h, &s, &p) == 0, "host_plugin_new(%s)", name);
        return p;
}

static void start_plugin(HostPlugin *p) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t t = host_now();
        int r;

        r = host_plugin_start(p, &error);
        CHECK(r == 0, "start %s: %s", p->settings.name, error.message ?: strerror(-r));
        CHECK(p->state == HOST_PLUGIN_RUNNING, "%s is %s", p->settings.name, host_plugin_state_to_string(p->state));
        step("started %s (%s %s, protocol %u) in %.0f ms", p->settings.name, p->identity.kind, p->identity.version,
             p->identity.protocol_version, (double) (host_now() - t) / USEC_PER_MSEC);
        sd_bus_error_free(&error);
}

static void call_ready(HostPlugin *p) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sdloop_peer_call_method(p->peer, "/org/sdloop1", "org.sdloop1.Service", "Ready", NULL, &error, NULL);
        CHECK(r == 0, "%s Ready(): %s", p->settings.name, error.message ?: strerror(-r));
        sd_bus_error_free(&error);
}

/* The MainPID the host follows is the one systemd reports. */
static uint32_t check_main_pid(HostPlugin *p) {
        _cleanup_free_ char *service = NULL;

        CHECK(WAIT_FOR(p->host, 5 * USEC_PER_SEC, p->main_pid > 0), "%s: no MainPID", p->settings.name);
        CHECK(asprintf(&service, "sdloop-%s.service", p->settings.name) >= 0);
        CHECK(unit_property_u64(service, "MainPID") == p->main_pid, "%s: MainPID %" PRIu32 " vs systemctl's %" PRIu64,
              p->settings.name, p->main_pid, unit_property_u64(service, "MainPID"));
        return p->main_pid;
}

/* Stopping is asynchronous: STOPPED once the units are stopped and reset. */
static void stop_plugin(HostPlugin *p) {
        CHECK(host_plugin_stop(p) >= 0);
        CHECK(WAIT_FOR(p->host, 60 * USEC_PER_SEC, p->state == HOST_PLUGIN_STOPPED), "%s is %s after stop",
              p->settings.name, host_plugin_state_to_string(p->state));
}

/* kill -9 the process; systemd restarts it behind the socket and the host reconnects. */
static void kill_and_recover(HostPlugin *p) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *service = NULL;
        unsigned restarts = p->n_restarts;
        uint32_t pid = check_main_pid(p);
        uint64_t t;
        int r;

        CHECK(asprintf(&service, "sdloop-%s.service", p->settings.name) >= 0);
        CHECK(kill((pid_t) pid, SIGKILL) == 0, "kill %" PRIu32 ": %m", pid);
        t = host_now();

        CHECK(WAIT_FOR(p->host, 10 * USEC_PER_SEC, p->state != HOST_PLUGIN_RUNNING || p->n_restarts > restarts),
              "%s: the host did not notice the kill", p->settings.name);
        r = host_plugin_ensure(p, host_now() + 15 * USEC_PER_SEC, &error);
        CHECK(r == 0, "%s: recovery: %s", p->settings.name, error.message ?: strerror(-r));
        CHECK(p->state == HOST_PLUGIN_RUNNING);
        sd_bus_error_free(&error);
        call_ready(p);

        CHECK(WAIT_FOR(p->host, 5 * USEC_PER_SEC, p->n_restarts > restarts && p->main_pid > 0 && p->main_pid != pid),
              "%s: NRestarts %u, MainPID %" PRIu32, p->settings.name, p->n_restarts, p->main_pid);
        CHECK(unit_property_u64(service, "NRestarts") == p->n_restarts, "%s: NRestarts %u vs systemctl's %" PRIu64,
              p->settings.name, p->n_restarts, unit_property_u64(service, "NRestarts"));
        CHECK(p->last_error && strstr(p->last_error, "signal") && strstr(p->last_error, "SIGKILL"),
              "%s: last error \"%s\"", p->settings.name, strempty(p->last_error));
        step("kill -9 %s (PID %" PRIu32 "): back as PID %" PRIu32 " in %.0f ms, NRestarts=%u, last error \"%s\"",
             p->settings.name, pid, p->main_pid, (double) (host_now() - t) / USEC_PER_MSEC, p->n_restarts,
             p->last_error);
}

static int relayer_on_connect(HostPlugin *p, SdloopPeer *peer, void *userdata) {
        return static_keystore_new(peer, NULL);
}

static int relayer_create(HostHandle *h, SdloopPeer *peer, const char *parent_path, sd_bus_slot **ret_slot) {
        return sdloop_plugin_relayer_new_relayer_async(peer, FIXTURE_CONFIG_TOML, STATIC_KEYSTORE_PATH, NULL, host_handle_created_reply, h,
                                                       ret_slot);
}

static const HostHandleOps relayer_ops = { .kind = "relayer", .create = relayer_create };

static int run_relayer(SdloopPeer *peer, const char *path, void *userdata, sd_bus_error *error) {
        return conformance_run_relayer(peer, path, NULL, error);
}

static void run_relayer_suite(HostHandle *handle, const char *when) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = host_handle_call(handle, run_relayer, NULL, &error);
        CHECK(r == 0, "relayer suite %s: %s: %s", when, strempty(error.name), error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        step("relayer conformance suite %s: passed", when);
}

/* Collection of inactive units happens right after the stop jobs, but asynchronously. */
static bool wait_units_gone(const char *pattern) {
        uint64_t deadline = host_now() + 5 * USEC_PER_SEC;

        while (count_units(pattern) > 0) {
                if (host_now() >= deadline)
                        return false;
                usleep(20 * USEC_PER_MSEC);
        }
        return true;
}

static void check_units_gone(const char *name) {
        _cleanup_free_ char *pattern = NULL, *path = NULL;

        CHECK(asprintf(&pattern, "sdloop-%s.*", name) >= 0);
        CHECK(asprintf(&path, "%s/%s.sock", socket_dir, name) >= 0);
        CHECK(wait_units_gone(pattern), "units %s still loaded", pattern);
        CHECK(access(path, F_OK) < 0 && errno == ENOENT, "%s still exists", path);
}

/* WatchdogSec=2 on a test plugin that hangs at its second org.sdloop1 call (the first after NewRelayer). */
static void watchdog_restarts_hung_plugin(Host *h) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *journal = NULL;
        HostHandle *handle = NULL;
        HostPlugin *p;
        uint32_t pid;
        uint64_t t;
        int r;

        p = add_plugin(h, "hung", SDLOOP_KIND_RELAYER, test_binary, "--mode=relayer");
        CHECK(p->settings.watchdog_usec == HOST_WATCHDOG_USEC_DEFAULT);
        p->settings.watchdog_usec = 2 * USEC_PER_SEC;
        p->settings.args = realloc(p->settings.args, 4 * sizeof(char *));
        CHECK(p->settings.args);
        p->settings.args[1] = strdup("--hang-after=2");
        p->settings.args[2] = strdup("--hang-once");
        p->settings.args[3] = NULL;
        p->on_connect = relayer_on_connect;
        start_plugin(p);
        CHECK(unit_property_is("sdloop-hung.service", "WatchdogUSec", "2s"));
        r = host_handle_new(p, NULL, &relayer_ops, NULL, &handle, &error);
        CHECK(r == 0, "hung: relayer handle: %s", error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        pid = check_main_pid(p);

        CHECK(sd_bus_call_method_async(sdloop_peer_get_bus(p->peer), NULL, NULL, SDLOOP_ROOT_PATH,
                                       "org.sdloop1.Service", "Ready", NULL, NULL, NULL) >= 0);
        t = host_now();
        CHECK(WAIT_FOR(h, 30 * USEC_PER_SEC, p->n_restarts >= 1 && p->main_pid > 0 && p->main_pid != pid &&
                                             p->state == HOST_PLUGIN_RUNNING),
              "hung: %s, NRestarts %u, last error \"%s\"", host_plugin_state_to_string(p->state), p->n_restarts,
              strempty(p->last_error));
        CHECK(p->n_restarts == 1, "hung: NRestarts %u", p->n_restarts);
        CHECK(unit_property_u64("sdloop-hung.service", "NRestarts") == 1);
        CHECK(p->last_error && strstr(p->last_error, "watchdog"), "hung: last error \"%s\"", strempty(p->last_error));
        if (system("journalctl --sync")) {}
        journal = command_output("journalctl --no-pager -o cat -u sdloop-hung.service");
        CHECK(strstr(journal, "result 'watchdog'"), "journal of sdloop-hung.service:\n%s", journal);
        run_relayer_suite(handle, "after the watchdog restart");
        CHECK(p->n_restarts == 1);
        step("hung plugin: killed by systemd's watchdog, back as PID %" PRIu32 " in %.0f ms, last error \"%s\"",
             p->main_pid, (double) (host_now() - t) / USEC_PER_MSEC, p->last_error);
        stop_plugin(p);
        check_units_gone("hung");
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *out = NULL;
        Host *h = NULL;
        HostPlugin *example, *relayer = NULL, *crashloop, *adopt;
        HostHandle *relayer_h = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t adopt_pid;
        unsigned n_all;
        uint64_t t;
        int r;

        if (argc > 1 && streq(argv[1], "--user")) {
                user_mode = true;
                backend = &host_backend_user;
                systemctl = "systemctl --user";
                argv++;
                argc--;
        }
        if (argc < 2) {
                fprintf(stderr, "Usage: %s [--user] EXAMPLE_PLUGIN [TEST_PLUGIN]\n", program_invocation_short_name);
                return EXIT_FAILURE;
        }
        if (user_mode) {
                const char *e = getenv("XDG_RUNTIME_DIR");

                CHECK(e, "--user needs $XDG_RUNTIME_DIR");
                CHECK(asprintf(&socket_dir, "%s/sdloop/plugin", e) >= 0);
        } else
                socket_dir = strdup("/run/sdloop/plugin");
        example_binary = argv[1];
        test_binary = argc > 2 && access(argv[2], X_OK) >= 0 ? argv[2] : NULL;
        t_start = host_now();
        sdloop_log_parse_environment();
        setvbuf(stdout, NULL, _IOLBF, 0);

        if (!user_mode)
                CHECK(geteuid() == 0, "the system backend test must run as root");
        CHECK(access("/run/systemd/system", F_OK) >= 0, "not booted with systemd");
        CHECK(count_units("sdloop-*") == 0, "leftover units");

        r = host_new(NULL, backend, &h);
        CHECK(r >= 0, "host_new(%s): %s", backend->name, strerror(-r));
        step("%s backend: connected to the %s service manager", backend->name, user_mode ? "user" : "system");
        CHECK(host_backend_from_string("system") == &host_backend_system);
        CHECK(host_backend_from_string("user") == &host_backend_user);

        /* 1. A socket+service pair per plugin; the first connection starts the service. */
        example = add_plugin(h, "example", "example", example_binary, NULL);
        start_plugin(example);
        CHECK(streq_ptr(example->unit, "sdloop-example.service"), "unit %s", strempty(example->unit));
        CHECK(streq_ptr(example->identity.kind, "example"));
        call_ready(example);
        out = command_output("%s list-units --plain --no-legend --no-pager 'sdloop-*'", systemctl);
        CHECK(strstr(out, "sdloop-example.socket") && strstr(out, "sdloop-example.service"), "list-units:\n%s", out);
        step("systemctl list-units 'sdloop-*':\n%s", out);
        out = mfree(out);
        check_main_pid(example);
        {
                _cleanup_free_ char *status = NULL, *transient = NULL;
                char proc[64];
                struct stat st;

                transient = unit_property("sdloop-example.service", "Transient");
                CHECK(streq(transient, "yes"), "Transient=%s", transient);
                /* /proc/PID belongs to the process's user. */
                snprintf(proc, sizeof(proc), "/proc/%" PRIu32, example->main_pid);
                CHECK(stat(proc, &st) >= 0, "%s: %m", proc);
                CHECK(unit_property_is("sdloop-example.service", "NoNewPrivileges", "yes"));
                CHECK(unit_property_is("sdloop-example.service", "RestrictAddressFamilies", "AF_UNIX"));
                CHECK(unit_property_is("sdloop-example.service", "LogExtraFields", "SDLOOP_PLUGIN=example"));
                CHECK(unit_property_is("sdloop-example.service", "Type", "notify"));
                CHECK(unit_property_is("sdloop-example.socket", "Accept", "no"));
                CHECK(unit_property_is("sdloop-example.socket", "SocketMode", "0600"));
                if (!user_mode) {
                        CHECK(st.st_uid != 0, "the plugin runs as root, not as a dynamic user");
                        CHECK(unit_property_is("sdloop-example.service", "DynamicUser", "yes"));
                        CHECK(unit_property_is("sdloop-example.service", "ProtectSystem", "strict"));
                        CHECK(unit_property_is("sdloop-example.service", "PrivateDevices", "yes"));
                }
                status = command_output("%s show -p NoNewPrivileges -p RestrictAddressFamilies -p LogExtraFields "
                                        "-p ProtectSystem -p DynamicUser sdloop-example.service | tr '\\n' ' '",
                                        systemctl);
                step("sandboxed: uid " UID_FMT "; %s", (uint32_t) st.st_uid, status);
        }

        if (test_binary) {
                relayer = add_plugin(h, "relayer", SDLOOP_KIND_RELAYER, test_binary, "--mode=relayer");
                relayer->on_connect = relayer_on_connect;
                start_plugin(relayer);
                r = host_handle_new(relayer, NULL, &relayer_ops, NULL, &relayer_h, &error);
                CHECK(r == 0, "relayer handle: %s", error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                run_relayer_suite(relayer_h, "on the first process");
        } else
                step("no conformance test plugin: relayer checks left out");

        /* 2. Crashes: systemd restarts, the host reconnects (and re-creates what callers hold). */
        kill_and_recover(example);
        if (relayer) {
                kill_and_recover(relayer);
                run_relayer_suite(relayer_h, "after kill -9");
        }

        /* 2b. A hung plugin (its loop stuck in a handler, the connection open): systemd's watchdog kills it
         * and Restart= brings it back; the restarted process (--hang-once) serves the same handle. */
        if (test_binary)
                watchdog_restarts_hung_plugin(h);

        /* 3. The plugin's own log lines, found by the field the unit stamps on them. */
        {
                uint64_t deadline = host_now() + 5 * USEC_PER_SEC;

                for (;;) {
                        if (system("journalctl --sync")) {}
                        out = command_output("journalctl --no-pager -o cat SDLOOP_PLUGIN=example");
                        if (strstr(out, "ready") || host_now() >= deadline)
                                break;
                        out = mfree(out);
                        (void) WAIT_FOR(h, 100 * USEC_PER_MSEC, false);
                }
                CHECK(strstr(out, "ready"), "journalctl SDLOOP_PLUGIN=example:\n%s", out);
                step("journalctl SDLOOP_PLUGIN=example: %u lines, e.g. \"%.*s\"", count_lines(out),
                     (int) strcspn(strstr(out, "example plugin") ?: out, "\n"), strstr(out, "example plugin") ?: out);
                out = mfree(out);
        }

        /* 4. A plugin that dies at once hits the start limit and is reported FAILED; the others serve on. */
        crashloop = add_plugin(h, "crashloop", "example", example_binary, "--no-such-option");
        crashloop->settings.start_limit_burst = 3;
        t = host_now();
        r = host_plugin_start(crashloop, &error);
        CHECK(r < 0, "a plugin that cannot start started");
        CHECK(sd_bus_error_has_name(&error, SDLOOP_ERROR_PLUGIN_UNAVAILABLE), "error %s", strempty(error.name));
        CHECK(crashloop->state == HOST_PLUGIN_FAILED, "crashloop is %s", host_plugin_state_to_string(crashloop->state));
        CHECK(crashloop->last_error && strstr(crashloop->last_error, "start limit hit") &&
              strstr(crashloop->last_error, "exit-code, status 1"), "last error \"%s\"", strempty(crashloop->last_error));
        step("crash loop: FAILED after %.0f ms: \"%s\" (caller saw %s: %s)", (double) (host_now() - t) / USEC_PER_MSEC,
             crashloop->last_error, error.name, error.message);
        sd_bus_error_free(&error);
        CHECK(example->state == HOST_PLUGIN_RUNNING);
        call_ready(example);
        if (relayer)
                run_relayer_suite(relayer_h, "while another plugin crash-loops");
        stop_plugin(crashloop);
        check_units_gone("crashloop");

        /* 5. An operator's restart: a new process, the same handles. */
        {
                uint32_t pid = check_main_pid(example);

                t = host_now();
                r = host_plugin_restart(example, &error);
                CHECK(r == 0, "restart: %s", error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                CHECK(example->state == HOST_PLUGIN_RUNNING);
                call_ready(example);
                CHECK(WAIT_FOR(h, 5 * USEC_PER_SEC, example->main_pid > 0 && example->main_pid != pid));
                step("restart: PID %" PRIu32 " → %" PRIu32 " in %.0f ms", pid, example->main_pid,
                     (double) (host_now() - t) / USEC_PER_MSEC);
        }

        /* 6. Stop removes the units and the socket. */
        stop_plugin(example);
        check_units_gone("example");
        step("stopped example: units and socket gone");

        /* 7. A new host adopts running units instead of creating them twice. */
        adopt = add_plugin(h, "adopt", "example", example_binary, NULL);
        start_plugin(adopt);
        adopt_pid = check_main_pid(adopt);
        n_all = count_units("sdloop-*");
        relayer_h = NULL;
        relayer = NULL;
        h = host_free(h); /* without stopping anything, like sdloopd going away */
        out = unit_property("sdloop-adopt.service", "ActiveState");
        CHECK(streq(out, "active"), "after the host went away: %s", out);
        out = mfree(out);
        CHECK(count_units("sdloop-*") == n_all);

        r = host_new(NULL, backend, &h);
        CHECK(r >= 0);
        adopt = add_plugin(h, "adopt", "example", example_binary, NULL);
        r = host_backend_reattach(adopt);
        CHECK(r == 1, "reattach: %i", r);
        CHECK(adopt->state == HOST_PLUGIN_STARTING, "adopted plugin is %s", host_plugin_state_to_string(adopt->state));
        CHECK(adopt->main_pid == adopt_pid, "MainPID %" PRIu32 " after reattach, was %" PRIu32, adopt->main_pid, adopt_pid);
        r = host_plugin_ensure(adopt, host_now() + 10 * USEC_PER_SEC, &error);
        CHECK(r == 0, "connect after reattach: %s", error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        call_ready(adopt);
        CHECK(count_units("sdloop-*") == n_all, "%u units, was %u", count_units("sdloop-*"), n_all);
        step("reattach: adopted sdloop-adopt.socket, PID %" PRIu32 ", %u sdloop-* units as before", adopt_pid, n_all);

        /* The same through start(): StartTransientUnit meets UnitExists and adopts. */
        h = host_free(h);
        r = host_new(NULL, backend, &h);
        CHECK(r >= 0);
        adopt = add_plugin(h, "adopt", "example", example_binary, NULL);
        start_plugin(adopt);
        /* The host may have connected to the running socket before the backend's start had read the
         * units: the MainPID follows from the loop. */
        CHECK(WAIT_FOR(h, 10 * USEC_PER_SEC, adopt->main_pid == adopt_pid), "MainPID %" PRIu32 ", was %" PRIu32,
              adopt->main_pid, adopt_pid);
        CHECK(count_units("sdloop-*") == n_all, "%u units, was %u", count_units("sdloop-*"), n_all);
        step("start of a running plugin: adopted, %u sdloop-* units as before", n_all);
        kill_and_recover(adopt); /* the adopted units are followed as well */

        /* The manager re-executes (package upgrade): our connection to it drops; the backend reconnects,
         * subscribes again and goes on following the units. */
        t = host_now();
        CHECK(system(user_mode ? "systemctl --user daemon-reexec" : "systemctl daemon-reexec") == 0);
        step("daemon-reexec took %.0f ms", (double) (host_now() - t) / USEC_PER_MSEC);
        kill_and_recover(adopt);

        /* 8. Nothing left behind. */
        if (test_binary) {
                relayer = add_plugin(h, "relayer", SDLOOP_KIND_RELAYER, test_binary, "--mode=relayer");
                CHECK(host_backend_reattach(relayer) == 1);
                stop_plugin(relayer);
        }
        stop_plugin(adopt);
        CHECK(wait_units_gone("sdloop-*"), "units left behind");
        h = host_free(h);

        step("%s backend: all %u checks passed", backend->name, n_checks);
        free(socket_dir);
        return EXIT_SUCCESS;
}
