/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The properties of a plugin's transient socket and service units (StartTransientUnit's a(sv)). */

#include <pwd.h>
#include <unistd.h>

#include "backend-systemd-units.h"
#include "host-integrity.h"
#include "macro.h"

static int append_prop_bool(sd_bus_message *m, const char *name, bool v) {
        return sd_bus_message_append(m, "(sv)", name, "b", (int) v);
}

static int append_prop_string(sd_bus_message *m, const char *name, const char *v) {
        return sd_bus_message_append(m, "(sv)", name, "s", v);
}

static int append_prop_u64(sd_bus_message *m, const char *name, uint64_t v) {
        return sd_bus_message_append(m, "(sv)", name, "t", v);
}

static int append_prop_u32(sd_bus_message *m, const char *name, uint32_t v) {
        return sd_bus_message_append(m, "(sv)", name, "u", v);
}

static int append_prop_strv(sd_bus_message *m, const char *name, char **l) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', "as");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, l);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_common(sd_bus_message *m, HostPlugin *p, const char *what) {
        _cleanup_free_ char *description = NULL;
        int r;

        if (asprintf(&description, "sdloop plugin %s (%s)%s", p->settings.name, p->settings.kind, what) < 0)
                return -ENOMEM;
        r = append_prop_string(m, "Description", description);
        if (r < 0)
                return r;
        /* A plugin that failed (its start limit hit, say) stays a failed unit that systemctl --failed,
         * systemctl status and journalctl -u show until an operator starts or resets it; a stop through
         * sdloopd resets it itself (backend-systemd-stop.c). */
        return append_prop_string(m, "CollectMode", "inactive");
}

int systemd_units_append_socket(sd_bus_message *m, HostPlugin *p, bool user) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        r = append_common(m, p, " socket");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "(sv)", "Listen", "a(ss)", 1, "Stream", p->settings.socket_path);
        if (r < 0)
                return r;
        r = append_prop_bool(m, "Accept", false);
        if (r < 0)
                return r;
        r = append_prop_u32(m, "SocketMode", 0600);
        if (r < 0)
                return r;
        r = append_prop_u32(m, "DirectoryMode", 0755);
        if (r < 0)
                return r;
        r = append_prop_bool(m, "RemoveOnStop", true);
        if (r < 0)
                return r;
        if (!user && geteuid() != 0) {
                /* A non-root host on the system manager: the socket must be ours to connect to. */
                struct passwd *pw = getpwuid(geteuid());

                if (pw) {
                        r = append_prop_string(m, "SocketUser", pw->pw_name);
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(m);
}

/* ExecStart= and friends: one command, @path run with @argv (argv[0] included). */
static int append_exec(sd_bus_message *m, const char *name, const char *path, char **argv) {
        int r;

        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', "a(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", path);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, argv);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "b", 0);
        if (r < 0)
                return r;
        for (int i = 0; i < 4; i++) {
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_exec_start(sd_bus_message *m, HostPlugin *p) {
        _cleanup_free_ char **argv = NULL;
        size_t n = strv_length(p->settings.args);

        argv = new0(char *, n + 2);
        if (!argv)
                return -ENOMEM;
        argv[0] = p->settings.binary;
        for (size_t i = 0; i < n; i++)
                argv[i + 1] = p->settings.args[i];
        return append_exec(m, "ExecStart", p->settings.binary, argv);
}

/* A pinned binary is checked before every start of the unit, also the restarts systemd makes on its own
 * (Restart=): sdloop-verify-binary fails the start of one that does not match, in the unit's sandbox and as
 * its user. What it checks is the file at the path an instant before ExecStart= runs it (sdloop.json(5)). */
static int append_exec_start_pre(sd_bus_message *m, HostPlugin *p) {
        _cleanup_free_ char *verifier = NULL;
        char *argv[4];
        int r;

        if (!p->settings.binary_sha256)
                return 0;
        r = host_verifier_path(&verifier);
        if (r < 0)
                return r;
        argv[0] = verifier;
        argv[1] = p->settings.binary;
        argv[2] = p->settings.binary_sha256;
        argv[3] = NULL;
        return append_exec(m, "ExecStartPre", verifier, argv);
}

static int append_environment(sd_bus_message *m, HostPlugin *p) {
        _cleanup_strv_free_ char **env = NULL;
        size_t n;
        char **l;
        int r;

        /* The instance name comes with it (host_plugin_environment()). */
        r = host_plugin_environment(p, &env);
        if (r < 0)
                return r;
        if (p->settings.crash_after_step > 0) {
                n = strv_length(env);
                l = reallocarray(env, n + 2, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                env = l;
                if (asprintf(&env[n], "SDLOOP_CRASH_AFTER=%" PRIu64, p->settings.crash_after_step) < 0)
                        return (env[n] = NULL), -ENOMEM;
                env[n + 1] = NULL;
        }
        return append_prop_strv(m, "Environment", env);
}

/* A persistent directory of its own, even under DynamicUser= and ProtectSystem=strict:
 * /var/lib/sdloop-<name> (or ~/.local/state/… for the user manager), passed as $STATE_DIRECTORY. */
static int append_state_directory(sd_bus_message *m, HostPlugin *p) {
        _cleanup_free_ char *dir = NULL;
        char *dirs[2] = {};

        if (asprintf(&dir, "sdloop-%s", p->settings.name) < 0)
                return -ENOMEM;
        dirs[0] = dir;
        return append_prop_strv(m, "StateDirectory", dirs);
}

static int append_log_extra_fields(sd_bus_message *m, HostPlugin *p) {
        _cleanup_free_ char *field = NULL;
        int r;

        if (asprintf(&field, "SDLOOP_PLUGIN=%s", p->settings.name) < 0)
                return -ENOMEM;
        r = sd_bus_message_open_container(m, 'r', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", "LogExtraFields");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', "aay");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "ay");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', field, strlen(field));
        if (r < 0)
                return r;
        for (int i = 0; i < 3; i++) {
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_sandbox(sd_bus_message *m, HostPlugin *p, bool user) {
        static const char *const system_only[] = {
                /* Mount namespaces and friends: a user manager cannot set these up without privileges. */
                "PrivateTmp", "PrivateDevices", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
        };
        static const char *const everywhere[] = {
                "NoNewPrivileges", "LockPersonality", "RestrictRealtime", "RestrictSUIDSGID",
        };
        char *native[] = { (char *) "native", NULL };
        int r;

        if (!user) {
                if (p->settings.dynamic_user)
                        r = append_prop_bool(m, "DynamicUser", true);
                else if (!isempty(p->settings.user))
                        r = append_prop_string(m, "User", p->settings.user);
                else
                        r = 0;
                if (r < 0)
                        return r;

                r = append_prop_string(m, "ProtectSystem", "strict");
                if (r < 0)
                        return r;
                r = append_prop_string(m, "ProtectHome", "yes");
                if (r < 0)
                        return r;
                for (size_t i = 0; i < ELEMENTSOF(system_only); i++) {
                        r = append_prop_bool(m, system_only[i], true);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(everywhere); i++) {
                r = append_prop_bool(m, everywhere[i], true);
                if (r < 0)
                        return r;
        }
        /* The allowed namespace types: none. */
        r = append_prop_u64(m, "RestrictNamespaces", 0);
        if (r < 0)
                return r;
        r = append_prop_strv(m, "SystemCallArchitectures", native);
        if (r < 0)
                return r;
        /* A user manager of an unprivileged user cannot shrink the bounding set (it lacks CAP_SETPCAP: the
         * process fails with 218/CAPABILITIES), and its processes have no capabilities to drop anyway. */
        if (!user || geteuid() == 0) {
                r = append_prop_u64(m, "CapabilityBoundingSet", 0);
                if (r < 0)
                        return r;
                r = append_prop_u64(m, "AmbientCapabilities", 0);
                if (r < 0)
                        return r;
        }
        /* The listening socket is passed in; the plugin needs nothing but AF_UNIX (journal, notify). */
        return sd_bus_message_append(m, "(sv)", "RestrictAddressFamilies", "(bas)", 1, 1, "AF_UNIX");
}

int systemd_units_append_service(sd_bus_message *m, HostPlugin *p, bool user) {
        const char *restart = host_restart_to_string(p->settings.restart);
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        r = append_common(m, p, "");
        if (r < 0)
                return r;
        r = append_prop_string(m, "Type", "notify");
        if (r < 0)
                return r;
        r = append_exec_start_pre(m, p);
        if (r < 0)
                return r;
        r = append_exec_start(m, p);
        if (r < 0)
                return r;
        r = append_environment(m, p);
        if (r < 0)
                return r;
        r = append_prop_string(m, "Restart", restart ?: "no");
        if (r < 0)
                return r;
        r = append_prop_u64(m, "RestartUSec", p->settings.restart_usec);
        if (r < 0)
                return r;
        r = append_prop_u32(m, "StartLimitBurst", p->settings.start_limit_burst);
        if (r < 0)
                return r;
        r = append_prop_u64(m, "StartLimitIntervalUSec", p->settings.start_limit_interval_usec);
        if (r < 0)
                return r;
        if (p->settings.watchdog_usec > 0) {
                r = append_prop_u64(m, "WatchdogUSec", p->settings.watchdog_usec);
                if (r < 0)
                        return r;
        }
        r = append_prop_u64(m, "TimeoutStopUSec", STOP_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = append_log_extra_fields(m, p);
        if (r < 0)
                return r;
        r = append_state_directory(m, p);
        if (r < 0)
                return r;
        r = append_prop_string(m, "SyslogIdentifier", p->settings.name);
        if (r < 0)
                return r;

        if (p->settings.memory_max > 0) {
                r = append_prop_u64(m, "MemoryMax", p->settings.memory_max);
                if (r < 0)
                        return r;
        }
        if (p->settings.tasks_max > 0) {
                r = append_prop_u64(m, "TasksMax", p->settings.tasks_max);
                if (r < 0)
                        return r;
        }
        if (p->settings.cpu_quota_per_sec_usec > 0) {
                r = append_prop_u64(m, "CPUQuotaPerSecUSec", p->settings.cpu_quota_per_sec_usec);
                if (r < 0)
                        return r;
        }
        if (p->settings.sandbox) {
                r = append_sandbox(m, p, user);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}


int systemd_units_new_start(sd_bus *bus, HostPlugin *p, const char *socket_unit, const char *service_unit,
                            bool user, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", socket_unit, "fail");
        if (r < 0)
                return r;
        r = systemd_units_append_socket(m, p, user);
        if (r < 0)
                return r;

        /* The service, as the socket's aux unit: both made in one call. */
        r = sd_bus_message_open_container(m, 'a', "(sa(sv))");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'r', "sa(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", service_unit);
        if (r < 0)
                return r;
        r = systemd_units_append_service(m, p, user);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}
