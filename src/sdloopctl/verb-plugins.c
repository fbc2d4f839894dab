/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* list, status, start, stop, restart, reload. */

#include <syslog.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "sdloopctl.h"
#include "table.h"

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/* --- list ------------------------------------------------------------------------------------------------ */

static int print_plugins_json(const PluginInfo *plugins, size_t n) {
        _cleanup_json_ json_object *a = json_object_new_array();

        if (!a)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                json_object *o = plugin_info_to_json(&plugins[i]);

                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        return log_oom();
                }
        }
        return json_print(a);
}

int verb_list(sd_bus *bus, char **args) {
        static const char * const headers[] = {
                "NAME", "KIND", "UNIT", "STATE", "RESTARTS", "PID", "MEMORY", "LAST ERROR", NULL
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(table_freep) Table *t = NULL;
        PluginInfo *plugins = NULL;
        size_t n = 0;
        int r, ret;

        r = plugins_list(bus, &plugins, &n, &error);
        if (r < 0)
                return log_bus_error(&error, r, "Failed to list plugins");

        if (arg_json != JSON_OFF) {
                ret = print_plugins_json(plugins, n);
                goto finish;
        }

        t = table_new(headers);
        if (!t) {
                ret = log_oom();
                goto finish;
        }
        table_set_align(t, 4, TABLE_ALIGN_RIGHT);
        table_set_align(t, 5, TABLE_ALIGN_RIGHT);
        table_set_align(t, 6, TABLE_ALIGN_RIGHT);

        for (size_t i = 0; i < n; i++) {
                const PluginInfo *p = &plugins[i];
                char mem[FORMAT_BYTES_MAX];

                if (table_add_cell(t, p->name, ANSI_HIGHLIGHT) < 0 ||
                    table_add_cell(t, p->kind, NULL) < 0 ||
                    table_add_cell(t, p->unit, NULL) < 0 ||
                    table_add_cell(t, p->state, state_color(p->state)) < 0 ||
                    table_add_cellf(t, NULL, "%" PRIu32, p->n_restarts) < 0 ||
                    (p->main_pid > 0 ? table_add_cellf(t, NULL, "%" PRIu32, p->main_pid)
                                     : table_add_cell(t, NULL, NULL)) < 0 ||
                    table_add_cell(t, format_bytes(mem, sizeof(mem), p->memory), NULL) < 0 ||
                    table_add_cell(t, p->last_error, isempty(p->last_error) ? NULL : ANSI_RED) < 0) {
                        ret = log_oom();
                        goto finish;
                }
        }

        if (n > 0 || arg_legend)
                (void) table_print(t, stdout, arg_legend, output_columns());
        if (arg_legend)
                printf("\n%zu plugin%s listed.\n", n, n == 1 ? "" : "s");
        ret = EXIT_OK;

finish:
        plugin_info_array_free(plugins, n);
        return ret;
}

/* --- status ---------------------------------------------------------------------------------------------- */

static int journal_field(sd_journal *j, const char *field, char **ret) {
        const void *data;
        size_t length, l = strlen(field);
        int r;

        r = sd_journal_get_data(j, field, &data, &length);
        if (r < 0)
                return r;
        if (length <= l || memcmp(data, field, l) != 0 || ((const char *) data)[l] != '=')
                return -EBADMSG;
        *ret = strndup((const char *) data + l + 1, length - l - 1);
        return *ret ? 0 : -ENOMEM;
}

/* One entry in journalctl's "short" format: "Nov 27 21:45:01 host ident[pid]: message". */
static void print_journal_entry(sd_journal *j) {
        _cleanup_free_ char *host = NULL, *ident = NULL, *pid = NULL, *message = NULL, *priority = NULL;
        const char *color = NULL;
        char stamp[32] = "";
        uint64_t usec;
        struct tm tm;
        time_t sec;

        if (journal_field(j, "MESSAGE", &message) < 0)
                return;
        (void) journal_field(j, "_HOSTNAME", &host);
        if (journal_field(j, "SYSLOG_IDENTIFIER", &ident) < 0)
                (void) journal_field(j, "_COMM", &ident);
        if (journal_field(j, "_PID", &pid) < 0)
                (void) journal_field(j, "SYSLOG_PID", &pid);
        if (journal_field(j, "PRIORITY", &priority) >= 0 && strlen(priority) == 1) {
                int p = priority[0] - '0';

                if (p >= 0 && p <= LOG_ERR)
                        color = ANSI_RED;
                else if (p == LOG_WARNING)
                        color = ANSI_YELLOW;
                else if (p == LOG_NOTICE)
                        color = ANSI_HIGHLIGHT;
        }
        if (sd_journal_get_realtime_usec(j, &usec) >= 0) {
                sec = (time_t) (usec / USEC_PER_SEC);
                if (localtime_r(&sec, &tm))
                        (void) strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S", &tm);
        }

        printf("%s %s %s%s%s%s: %s%s%s\n", stamp, host ?: "localhost", ident ?: "unknown", pid ? "[" : "",
               strempty(pid), pid ? "]" : "", ansi(color), message, color ? ansi(ANSI_NORMAL) : "");
}

/* The last lines the plugin logged (SDLOOP_PLUGIN=<name> is stamped on all of them); nothing at all if the
 * journal cannot be read. */
static void show_journal(const char *name) {
        _cleanup_free_ char *match = NULL;
        sd_journal *j = NULL;
        int r;

        if (arg_lines == 0 || !bus_is_local())
                return;
        if (asprintf(&match, "SDLOOP_PLUGIN=%s", name) < 0)
                return;
        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
                return;

        r = sd_journal_add_match(j, match, 0);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        if (r >= 0)
                r = sd_journal_previous_skip(j, arg_lines);
        if (r > 0) {
                fputc('\n', stdout);
                /* previous_skip() leaves us on the oldest of the lines to show. */
                do
                        print_journal_entry(j);
                while (sd_journal_next(j) > 0);
        }
        sd_journal_close(j);
}

static void print_field(const char *label, const char *color, const char *value) {
        printf("%11s: %s%s%s\n", label, ansi(color), isempty(value) ? "-" : value, color ? ansi(ANSI_NORMAL) : "");
}

static void print_status(const PluginInfo *p) {
        const char *color = state_color(p->state);
        char buf[FORMAT_BYTES_MAX + 64];

        printf("%s%s%s %s - %s%s\n", ansi(color), glyph_dot(), color ? ansi(ANSI_NORMAL) : "", p->name,
               isempty(p->kind) ? "plugin of unknown kind" : p->kind, isempty(p->kind) ? "" : " plugin");
        print_field("Unit", NULL, p->unit);
        print_field("State", color, p->state);
        snprintf(buf, sizeof(buf), "%" PRIu32, p->n_restarts);
        print_field("Restarts", NULL, buf);

        if (p->main_pid > 0) {
                _cleanup_free_ char *comm = NULL;
                char path[64];

                /* The process name, as systemctl shows it, when the process is ours to see. */
                snprintf(path, sizeof(path), "/proc/%" PRIu32 "/comm", p->main_pid);
                if (bus_is_local()) {
                        _cleanup_fclose_ FILE *f = fopen(path, "re");
                        size_t n = 0;

                        if (f && getline(&comm, &n, f) > 0)
                                comm[strcspn(comm, "\n")] = 0;
                        else
                                comm = mfree(comm);
                }
                if (!isempty(comm))
                        snprintf(buf, sizeof(buf), "%" PRIu32 " (%s)", p->main_pid, comm);
                else
                        snprintf(buf, sizeof(buf), "%" PRIu32, p->main_pid);
                print_field("Main PID", NULL, buf);
        } else
                print_field("Main PID", NULL, NULL);

        print_field("Memory", NULL, format_bytes(buf, sizeof(buf), p->memory));
        print_field("Address", NULL, p->address);
        print_field("Last error", isempty(p->last_error) ? NULL : ANSI_RED, p->last_error);

        show_journal(p->name);
}

int verb_status(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error list_error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_object *array = NULL;
        _cleanup_strv_free_ char **all = NULL;
        char **names = args + 1;
        bool single = names[0] && !names[1], any_not_running = false, first = true;
        int r, ret = EXIT_OK;

        if (!names[0]) {
                /* No names: every configured plugin. */
                PluginInfo *plugins = NULL;
                size_t n = 0;

                r = plugins_list(bus, &plugins, &n, &list_error);
                if (r < 0)
                        return log_bus_error(&list_error, r, "Failed to list plugins");
                all = new0(char *, n + 1);
                if (!all) {
                        plugin_info_array_free(plugins, n);
                        return log_oom();
                }
                for (size_t i = 0; i < n; i++)
                        all[i] = TAKE_PTR(plugins[i].name);
                plugin_info_array_free(plugins, n);
                names = all;
        }

        if (arg_json != JSON_OFF && !single) {
                array = json_object_new_array();
                if (!array)
                        return log_oom();
        }

        for (char **name = names; *name; name++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(plugin_info_done) PluginInfo p = { .memory = UINT64_MAX };

                r = plugin_get(bus, *name, &p, &error);
                if (r < 0) {
                        int code;

                        if (bus_error_is_no_such_plugin(&error)) {
                                log_error("Plugin %s could not be found.", *name);
                                code = EXIT_NO_SUCH_PLUGIN;
                        } else
                                code = log_bus_error(&error, r, "Failed to get the status of plugin %s", *name);
                        if (ret == EXIT_OK)
                                ret = code;
                        continue;
                }
                if (!state_is_running(p.state))
                        any_not_running = true;

                if (arg_quiet)
                        continue;
                if (arg_json != JSON_OFF) {
                        json_object *o = plugin_info_to_json(&p);

                        if (!o)
                                return log_oom();
                        if (single) {
                                /* One name: one object, not an array of one. */
                                r = json_print(o);
                                json_object_put(o);
                                if (r != EXIT_OK)
                                        return r;
                                continue;
                        }
                        if (json_object_array_add(array, o) < 0) {
                                json_object_put(o);
                                return log_oom();
                        }
                        continue;
                }

                if (!first)
                        fputc('\n', stdout);
                first = false;
                print_status(&p);
        }

        if (array && json_print(array) != EXIT_OK && ret == EXIT_OK)
                ret = EXIT_FAILED;
        if (ret == EXIT_OK && any_not_running)
                ret = EXIT_NOT_RUNNING;
        return ret;
}

/* --- start, stop, restart, reload -------------------------------------------------------------------- */

static int manager_call(sd_bus *bus, const char *member, const char *name, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SDLOOP_SERVICE, SDLOOP_MANAGER_PATH, SDLOOP_MANAGER_INTERFACE,
                                           member);
        if (r < 0)
                return r;
        if (name) {
                r = sd_bus_message_append(m, "s", name);
                if (r < 0)
                        return r;
        }
        /* sdloopd answers once the plugin has started or stopped, which may take a while. */
        return sd_bus_call(bus, m, SDLOOPCTL_MANAGE_TIMEOUT_USEC, error, NULL);
}

/* With --json: the outcome for one plugin, with its state afterwards when it worked. */
static json_object *outcome_json(sd_bus *bus, const char *name, const sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(plugin_info_done) PluginInfo p = { .memory = UINT64_MAX };
        json_object *o = NULL;

        if (!error && plugin_get(bus, name, &p, &e) >= 0)
                o = plugin_info_to_json(&p);
        if (!o) {
                o = json_object_new_object();
                if (!o || json_add(o, "name", json_object_new_string(name)) < 0)
                        goto oom;
        }
        if (json_add(o, "result", json_object_new_string(error ? "failed" : "done")) < 0)
                goto oom;
        if (error && (json_add(o, "error", json_string_or_null(error->name)) < 0 ||
                      json_add(o, "message", json_string_or_null(error->message)) < 0))
                goto oom;
        return o;
oom:
        json_object_put(o);
        return NULL;
}

int verb_start_stop(sd_bus *bus, char **args) {
        _cleanup_json_ json_object *array = NULL;
        const char *verb = args[0], *member;
        int r, ret = EXIT_OK;

        if (streq(verb, "start"))
                member = "StartPlugin";
        else if (streq(verb, "stop"))
                member = "StopPlugin";
        else if (streq(verb, "restart"))
                member = "RestartPlugin";
        else
                assert(false);

        if (arg_json != JSON_OFF) {
                array = json_object_new_array();
                if (!array)
                        return log_oom();
        }

        for (char **name = args + 1; *name; name++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                json_object *o;

                r = manager_call(bus, member, *name, &error);
                if (r < 0) {
                        int code = log_bus_error(&error, r, "Failed to %s plugin %s", verb, *name);

                        if (ret == EXIT_OK)
                                ret = code;
                        if (!sd_bus_error_is_set(&error))
                                (void) sd_bus_error_set_errno(&error, r);
                }
                if (!array)
                        continue;
                o = outcome_json(bus, *name, r < 0 ? &error : NULL);
                if (!o || json_object_array_add(array, o) < 0) {
                        json_object_put(o);
                        return log_oom();
                }
        }

        if (array && json_print(array) != EXIT_OK && ret == EXIT_OK)
                ret = EXIT_FAILED;
        return ret;
}

int verb_reload(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        PluginInfo *plugins = NULL;
        size_t n = 0;
        int r;

        r = manager_call(bus, "Reload", NULL, &error);
        if (r < 0)
                return log_bus_error(&error, r, "Failed to reload the sdloopd configuration");
        if (arg_json == JSON_OFF)
                return EXIT_OK;

        /* With --json: the plugins as configured now. */
        r = plugins_list(bus, &plugins, &n, &error);
        if (r < 0)
                return log_bus_error(&error, r, "Failed to list plugins");
        r = print_plugins_json(plugins, n);
        plugin_info_array_free(plugins, n);
        return r;
}
