/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloopd: supervises LOOP plugins and serves org.sdloop1 on the system bus (or the user's bus with
 * --user). Type=notify: READY=1 once the bus name is ours and the configured plugins have been started,
 * STATUS= with the counts, the watchdog fed by the event loop, STOPPING=1 on the way out. SIGTERM and
 * SIGINT stop cleanly, SIGHUP reloads the configuration like Manager.Reload(). */

#include <getopt.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "host-backend.h"
#include "macro.h"
#include "metrics.h"
#include "otlp.h"
#include "sdloop-env.h"
#include "sdloopd.h"

static char *arg_config = NULL;
static DaemonScope arg_scope = DAEMON_SCOPE_SYSTEM;
static const char *arg_backend = NULL;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Supervise LOOP plugins as systemd units and serve org.sdloop1 on D-Bus.\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n"
               "  -c --config=PATH       Configuration file (default: " SDLOOP_SYSCONFDIR "/" DAEMON_CONFIG_FILE_NAME ",\n"
               "                         with --user $XDG_CONFIG_HOME/sdloop/" DAEMON_CONFIG_FILE_NAME ");\n"
               "                         drop-ins are read from " DAEMON_CONFIG_DROPIN_DIR "/*.json next to it\n"
               "     --system            Serve on the system bus (default)\n"
               "     --user              Per-user instance: serve on the user's bus\n"
               "     --backend=BACKEND   auto, system, user or exec (default: auto)\n"
               "\nSee sdloop.json(5) for the configuration schema.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SYSTEM,
                ARG_USER,
                ARG_BACKEND,
        };
        static const struct option options[] = {
                { "help",    no_argument,       NULL, 'h'         },
                { "version", no_argument,       NULL, ARG_VERSION },
                { "config",  required_argument, NULL, 'c'         },
                { "system",  no_argument,       NULL, ARG_SYSTEM  },
                { "user",    no_argument,       NULL, ARG_USER    },
                { "backend", required_argument, NULL, ARG_BACKEND },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("sdloopd %s\n", SDLOOP_VERSION);
                        return 0;
                case 'c':
                        if (free_and_strdup(&arg_config, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_SYSTEM:
                        arg_scope = DAEMON_SCOPE_SYSTEM;
                        break;
                case ARG_USER:
                        arg_scope = DAEMON_SCOPE_USER;
                        break;
                case ARG_BACKEND:
                        if (!streq(optarg, "auto") && !streq(optarg, "system") && !streq(optarg, "user") &&
                            !streq(optarg, "exec"))
                                return log_error_errno(-EINVAL, "Unknown backend \"%s\" (auto, system, user, exec).",
                                                       optarg);
                        arg_backend = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        assert(false);
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no arguments.", program_invocation_short_name);
        return 1;
}

/* auto: the system manager when it runs us as root, the user's manager when booted with systemd otherwise,
 * fork/exec without systemd. A per-user instance never drives the system manager. */
static const char *backend_auto(DaemonScope scope) {
        if (sd_booted() <= 0)
                return "exec";
        if (scope == DAEMON_SCOPE_SYSTEM && geteuid() == 0)
                return "system";
        return "user";
}

static int pick_backend(Daemon *d, const HostBackend **ret) {
        const char *wanted = arg_backend ?: d->config->backend ?: "auto", *name;
        const HostBackend *b;

        name = streq(wanted, "auto") ? backend_auto(d->scope) : wanted;
        b = host_backend_from_string(name);
        if (!b && streq(wanted, "auto")) {
                log_warning("The %s backend is not available in this build; using exec.", name);
                b = host_backend_from_string("exec");
        }
        if (!b)
                return log_error_errno(-EOPNOTSUPP, "The %s backend is not available in this build.", name);

        d->backend_name = b->name;
        *ret = b;
        return 0;
}

void daemon_update_status(Daemon *d) {
        unsigned counts[_HOST_PLUGIN_STATE_MAX] = {}, total = 0;
        char buf[256];
        int n;

        for (Instance *i = d->instances; i; i = i->next) {
                if (i->plugin->state >= 0 && i->plugin->state < _HOST_PLUGIN_STATE_MAX)
                        counts[i->plugin->state]++;
                total++;
        }

        n = snprintf(buf, sizeof(buf), "STATUS=%u plugin%s: %u running", total, total == 1 ? "" : "s",
                     counts[HOST_PLUGIN_RUNNING]);
        for (int s = 0; s < _HOST_PLUGIN_STATE_MAX && n > 0 && (size_t) n < sizeof(buf); s++)
                if (s != HOST_PLUGIN_RUNNING && counts[s] > 0)
                        n += snprintf(buf + n, sizeof(buf) - (size_t) n, ", %u %s", counts[s],
                                      host_plugin_state_to_string(s));
        if (!d->ready && n > 0 && (size_t) n < sizeof(buf))
                (void) snprintf(buf + n, sizeof(buf) - (size_t) n, " (starting)");
        (void) sd_notify(false, buf);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        int r;

        if (si->ssi_signo == SIGHUP) {
                r = manager_queue_reload(d);
                if (r < 0)
                        log_error_errno(r, "Failed to queue the reload: %m");
                return 0;
        }

        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        r = manager_queue_shutdown(d);
        if (r < 0) {
                log_error_errno(r, "Failed to queue the shutdown, exiting right away: %m");
                (void) sd_event_exit(d->event, EXIT_FAILURE);
        }
        return 0;
}

static int setup_bus(Daemon *d) {
        int r;

        if (d->scope == DAEMON_SCOPE_USER)
                r = sd_bus_open_user_with_description(&d->bus, "sdloopd");
        else
                r = sd_bus_open_system_with_description(&d->bus, "sdloopd");
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                       d->scope == DAEMON_SCOPE_USER ? "user" : "system");

        r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* Without the bus there is no way to manage us: let systemd restart us. */
        r = sd_bus_set_exit_on_disconnect(d->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit-on-disconnect: %m");

        r = sdloop_peer_new_bus(d->event, d->bus, &d->bus_peer);
        if (r < 0)
                return log_error_errno(r, "Failed to wrap the bus connection: %m");
        (void) sdloop_peer_set_description(d->bus_peer, "bus");
        /* Calls to re-exported objects wait out a plugin restart, but answer before busctl's 25 s. */
        sdloop_peer_set_call_timeout(d->bus_peer, 20 * USEC_PER_SEC);

        r = manager_export(d);
        if (r < 0)
                return log_error_errno(r, "Failed to export the Manager: %m");
        r = reexport_setup(d);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the re-exports: %m");
        r = sd_bus_add_object_manager(d->bus, NULL, MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        return 0;
}

static int request_name(Daemon *d) {
        int r;

        r = sd_bus_request_name(d->bus, SDLOOP_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "%s is already taken on the %s bus: is another sdloopd running?",
                                       SDLOOP_BUS_NAME, d->scope == DAEMON_SCOPE_USER ? "user" : "system");
        if (r < 0)
                return log_error_errno(r, "Failed to acquire %s on the %s bus: %m", SDLOOP_BUS_NAME,
                                       d->scope == DAEMON_SCOPE_USER ? "user" : "system");
        return 0;
}

/* With CL_TRACING_ENABLED and CL_TRACING_COLLECTOR_TARGET (the EnvConfig sdloopd passes on to its plugins
 * too), every process's spans go to the collector from here: the plugins cannot reach it. */
static void start_span_export(Daemon *d) {
        _cleanup_(sdloop_env_config_done) SdloopEnvConfig c = {};
        int r;

        r = sdloop_env_config_parse(NULL, &c, NULL);
        if (r < 0 || !c.tracing_enabled || isempty(c.tracing_collector_target))
                return;
        r = otlp_exporter_new(d->event, c.tracing_collector_target, c.tracing_tls_cert_path,
                              d->scope == DAEMON_SCOPE_USER, c.tracing_attributes, &d->otlp);
        if (r < 0)
                log_warning_errno(r, "Spans are not exported to %s: cannot follow the journal: %m",
                                  c.tracing_collector_target);
}

static void daemon_free(Daemon *d) {
        metrics_http_stop(d);
        d->otlp = otlp_exporter_free(d->otlp);
        if (d->host)
                manager_drop_requests(d);
        d->requests_kick = sd_event_source_disable_unref(d->requests_kick);

        /* Feeds before the plugins they use. With a systemd backend, freeing a plugin leaves its units
         * running (see shutdown). */
        daemon_feeds_free_all(d);
        while (d->instances)
                instance_free(d->instances, false);
        host_free(d->host);

        d->manager_slot = sd_bus_slot_unref(d->manager_slot);
        d->reexport_filter = sd_bus_slot_unref(d->reexport_filter);
        sdloop_peer_unref(d->bus_peer);
        if (d->bus) {
                (void) sd_bus_flush(d->bus);
                sd_bus_flush_close_unref(d->bus);
        }
        host_keystore_free(d->ocr_keystore);
        free(d->keys_state_directory);
        daemon_config_free(d->config);
        sd_event_unref(d->event);
        free(d->config_path);
}

static int run(int argc, char *argv[]) {
        _cleanup_free_ char *error = NULL;
        const HostBackend *backend = NULL;
        Daemon d = {};
        sigset_t mask;
        int r;

        sdloop_log_set_identifier("sdloopd");
        sdloop_log_parse_environment();

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        d.scope = arg_scope;
        d.config_path = TAKE_PTR(arg_config);

        r = daemon_config_load(d.config_path, d.scope, &d.config, &error);
        if (r < 0) {
                log_error("%s", error ?: strerror(-r));
                log_error("Refusing to start with a bad configuration.");
                r = EXIT_FAILURE;
                goto finish;
        }

        r = pick_backend(&d, &backend);
        if (r < 0) {
                r = EXIT_FAILURE;
                goto finish;
        }
        daemon_config_resolve(d.config, d.backend_name);

        /* Before any thread or child exists: these are handled by the event loop. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        /* Not sd_event_default(): a default loop checks with a gettid() syscall on every iteration that it
         * runs in its own thread (see the plugin runtime). Everything here is given this loop explicitly. */
        r = sd_event_new(&d.event);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate the event loop: %m");
                r = EXIT_FAILURE;
                goto finish;
        }
        if (sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d) < 0 ||
            sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d) < 0 ||
            sd_event_add_signal(d.event, NULL, SIGHUP, on_signal, &d) < 0) {
                log_error("Failed to set up signal handling.");
                r = EXIT_FAILURE;
                goto finish;
        }
        r = sd_event_set_watchdog(d.event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

        /* The OCR keys stay where one keystore for everything kept them: an existing install's contracts go
         * on with their signers. Relayers get keystores of their own below relayers/. */
        d.keys_state_directory = strdup(d.config->state_directory);
        if (!d.keys_state_directory) {
                (void) log_oom();
                r = EXIT_FAILURE;
                goto finish;
        }
        r = host_keystore_new(d.config->state_directory, &d.ocr_keystore);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the keystore in %s: %m", d.config->state_directory);
                r = EXIT_FAILURE;
                goto finish;
        }

        r = host_new(d.event, backend, &d.host);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the %s backend: %m", backend->name);
                r = EXIT_FAILURE;
                goto finish;
        }
        d.host->on_plugin_changed = daemon_on_plugin_changed;
        d.host->on_handle_added = daemon_on_handle_added;
        d.host->on_handle_removed = daemon_on_handle_removed;
        d.host->userdata = &d;

        r = setup_bus(&d);
        if (r < 0) {
                r = EXIT_FAILURE;
                goto finish;
        }

        for (size_t k = 0; k < d.config->n_plugins; k++) {
                r = instance_new(&d, d.config->plugins + k, NULL);
                if (r < 0) {
                        log_error_errno(r, "Failed to set up plugin %s: %m", d.config->plugins[k].settings.name);
                        r = EXIT_FAILURE;
                        goto finish;
                }
        }

        r = metrics_http_start(&d);
        if (r < 0) {
                r = EXIT_FAILURE;
                goto finish;
        }
        start_span_export(&d);

        /* The name last: whoever sees it can rely on the objects being there. */
        r = request_name(&d);
        if (r < 0) {
                r = EXIT_FAILURE;
                goto finish;
        }

        log_info("sdloopd %s on the %s bus with the %s backend, %zu plugin%s and %zu feed%s configured (%s).",
                 SDLOOP_VERSION, d.scope == DAEMON_SCOPE_USER ? "user" : "system", d.backend_name,
                 d.config->n_plugins, d.config->n_plugins == 1 ? "" : "s", d.config->n_feeds,
                 d.config->n_feeds == 1 ? "" : "s", d.config->path);
        daemon_update_status(&d);

        r = manager_queue_start_all(&d);
        if (r < 0) {
                log_error_errno(r, "Failed to queue the start of the plugins: %m");
                r = EXIT_FAILURE;
                goto finish;
        }

        r = host_run(d.host);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                r = EXIT_FAILURE;
        }
        log_info("sdloopd stopped.");

finish:
        daemon_free(&d);
        return r;
}

int main(int argc, char *argv[]) {
        return run(argc, argv);
}
