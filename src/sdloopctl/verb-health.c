/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* health: the plugin's own state, then org.sdloop1.Service.HealthReport of every object sdloopd re-exports
 * for it under /org/sdloop1/plugin/<name>.
 *
 * The objects are found by walking the tree with org.freedesktop.DBus.Introspectable.Introspect, as
 * `busctl tree` does, not with ObjectManager.GetManagedObjects: the re-exports are forwarding objects that
 * pass every call (Introspect included) on to the plugin, so sd-bus's object manager does not list them,
 * while the introspection of each parent names its children and each forwarded Introspect tells which
 * interfaces the plugin's object really has. A plugin that is not running is reported as unhealthy without
 * asking its objects, whose calls would only wait for it. */

#include "sdloopctl.h"
#include "table.h"

/* Bounds on the walk, against a misbehaving peer. */
#define WALK_MAX_DEPTH 32U
#define WALK_MAX_NODES 4096U

typedef struct Check {
        char *service; /* NULL: the plugin itself */
        char *status;  /* "" when healthy */
} Check;

typedef struct PluginHealth {
        char *name;
        char *state;
        Check *checks;
        size_t n_checks;
        size_t budget; /* nodes left to visit */
} PluginHealth;

static void plugin_health_done(PluginHealth *h) {
        for (size_t i = 0; i < h->n_checks; i++) {
                free(h->checks[i].service);
                free(h->checks[i].status);
        }
        free(h->checks);
        free(h->name);
        free(h->state);
        *h = (PluginHealth) {};
}

static int add_check(PluginHealth *h, const char *service, const char *status) {
        Check *c;

        /* A parent's report includes its children's (LOOP's sub-services), which answer for themselves
         * too: one row per service, and an unhealthy word wins over a healthy one. */
        for (size_t i = 0; service && i < h->n_checks; i++)
                if (streq_ptr(h->checks[i].service, service)) {
                        if (!isempty(status) && isempty(h->checks[i].status))
                                return free_and_strdup(&h->checks[i].status, status);
                        return 0;
                }

        c = reallocarray(h->checks, h->n_checks + 1, sizeof(Check));
        if (!c)
                return -ENOMEM;
        h->checks = c;
        c = &h->checks[h->n_checks];
        *c = (Check) {
                .service = service ? strdup(service) : NULL,
                .status = strdup(strempty(status)),
        };
        if ((service && !c->service) || !c->status) {
                free(c->service);
                free(c->status);
                return -ENOMEM;
        }
        h->n_checks++;
        return 0;
}

static int add_call_failure(PluginHealth *h, const char *path, const char *what, const sd_bus_error *error, int r) {
        _cleanup_free_ char *status = NULL;

        if (asprintf(&status, "%s failed: %s%s%s", what, sd_bus_error_is_set(error) ? error->name : "",
                     sd_bus_error_is_set(error) ? ": " : "",
                     sd_bus_error_is_set(error) ? strempty(error->message) : strerror(-r)) < 0)
                return -ENOMEM;
        return add_check(h, path, status);
}

/* --- a minimal reader of introspection XML ----------------------------------------------------------- */

/* The value of attribute @name in the attribute text [p, end), or NULL. */
static char *xml_attribute(const char *p, const char *end, const char *name) {
        size_t l = strlen(name);

        while (p < end) {
                const char *key = p, *value;
                char quote;

                while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '/'))
                        p++;
                key = p;
                while (p < end && *p != '=' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                        p++;
                if (p == key)
                        return NULL;
                bool match = (size_t) (p - key) == l && memcmp(key, name, l) == 0;
                while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                        p++;
                if (p >= end || *p != '=')
                        continue; /* an attribute without value: not XML, but keep going */
                p++;
                while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                        p++;
                if (p >= end || (*p != '"' && *p != '\''))
                        return NULL;
                quote = *p++;
                value = p;
                while (p < end && *p != quote)
                        p++;
                if (p >= end)
                        return NULL;
                if (match)
                        return strndup(value, p - value);
                p++;
        }
        return NULL;
}

/* The interfaces (is org.sdloop1.Service among them?) and the child node names of one introspected object.
 * Only what sits directly in the root <node> counts. */
static int introspect_parse(const char *xml, bool *ret_has_service, char ***ret_children) {
        _cleanup_strv_free_ char **children = NULL;
        size_t n_children = 0;
        bool has_service = false;
        unsigned depth = 0;
        const char *p = xml;

        while ((p = strchr(p, '<'))) {
                const char *name, *attrs, *end;
                bool closing = false, self_closing;
                char quote = 0;

                p++;
                if (strncmp(p, "!--", 3) == 0) {
                        p = strstr(p + 3, "-->");
                        if (!p)
                                return -EBADMSG;
                        continue;
                }
                if (*p == '!' || *p == '?') {
                        p = strchr(p, '>');
                        if (!p)
                                return -EBADMSG;
                        continue;
                }
                if (*p == '/') {
                        closing = true;
                        p++;
                }

                name = p;
                while (*p && *p != '>' && *p != '/' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                        p++;
                attrs = p;
                /* Attribute values may hold '>'. */
                for (end = p; *end && (quote || *end != '>'); end++)
                        if (quote && *end == quote)
                                quote = 0;
                        else if (!quote && (*end == '"' || *end == '\''))
                                quote = *end;
                if (!*end)
                        return -EBADMSG;
                self_closing = end > attrs && end[-1] == '/';
                p = end + 1;

                if (closing) {
                        if (depth == 0)
                                return -EBADMSG;
                        depth--;
                        continue;
                }

                if (depth == 1 && (size_t) (attrs - name) == strlen("interface") &&
                    strncmp(name, "interface", attrs - name) == 0) {
                        _cleanup_free_ char *v = xml_attribute(attrs, end, "name");

                        if (streq_ptr(v, SDLOOP_SERVICE_INTERFACE))
                                has_service = true;
                } else if (depth == 1 && (size_t) (attrs - name) == strlen("node") &&
                           strncmp(name, "node", attrs - name) == 0) {
                        char *v = xml_attribute(attrs, end, "name");
                        char **l;

                        /* Child names are relative, one path element each. */
                        if (!v || isempty(v) || strchr(v, '/')) {
                                free(v);
                                goto next;
                        }
                        l = reallocarray(children, n_children + 2, sizeof(char *));
                        if (!l) {
                                free(v);
                                return -ENOMEM;
                        }
                        children = l;
                        children[n_children++] = v;
                        children[n_children] = NULL;
                }
        next:
                if (!self_closing)
                        depth++;
        }

        *ret_has_service = has_service;
        *ret_children = TAKE_PTR(children);
        return 0;
}

/* --- the walk ---------------------------------------------------------------------------------------- */

static int health_report(sd_bus *bus, PluginHealth *h, const char *path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, SDLOOP_SERVICE, path, SDLOOP_SERVICE_INTERFACE, "HealthReport", &error, &reply,
                               NULL);
        if (r < 0)
                return add_call_failure(h, path, "HealthReport", &error, r);

        r = sd_bus_message_enter_container(reply, 'a', "{ss}");
        if (r < 0)
                goto bad_reply;
        for (;;) {
                const char *service, *status;

                r = sd_bus_message_read(reply, "{ss}", &service, &status);
                if (r < 0)
                        goto bad_reply;
                if (r == 0)
                        break;
                r = add_check(h, service, status);
                if (r < 0)
                        return r;
        }
        return 0;

bad_reply:
        sd_bus_error_setf(&error, SD_BUS_ERROR_INVALID_ARGS, "malformed reply: %s", strerror(-r));
        return add_call_failure(h, path, "HealthReport", &error, r);
}

static int walk(sd_bus *bus, PluginHealth *h, const char *path, unsigned depth) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **children = NULL;
        bool has_service;
        const char *xml;
        int r;

        if (depth > WALK_MAX_DEPTH || h->budget == 0)
                return 0;
        h->budget--;

        r = sd_bus_call_method(bus, SDLOOP_SERVICE, path, "org.freedesktop.DBus.Introspectable", "Introspect",
                               &error, &reply, NULL);
        if (r < 0) {
                /* A child that went away meanwhile, or one the plugin lists but the host does not export. */
                if (depth > 0 && sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                                        SD_BUS_ERROR_UNKNOWN_METHOD))
                        return 0;
                return add_call_failure(h, path, "Introspect", &error, r);
        }
        r = sd_bus_message_read(reply, "s", &xml);
        if (r >= 0)
                r = introspect_parse(xml, &has_service, &children);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                sd_bus_error_setf(&error, SD_BUS_ERROR_INVALID_ARGS, "unreadable introspection data");
                return add_call_failure(h, path, "Introspect", &error, r);
        }

        if (has_service) {
                r = health_report(bus, h, path);
                if (r < 0)
                        return r;
        }

        for (char **c = children; c && *c; c++) {
                _cleanup_free_ char *child = NULL;

                if (asprintf(&child, "%s/%s", streq(path, "/") ? "" : path, *c) < 0)
                        return -ENOMEM;
                if (sd_bus_object_path_is_valid(child) <= 0)
                        continue;
                r = walk(bus, h, child, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Fill @h for the plugin described by @p. */
static int plugin_health(sd_bus *bus, const PluginInfo *p, PluginHealth *h) {
        _cleanup_free_ char *path = NULL;
        int r;

        h->name = strdup(p->name);
        h->state = strdup(p->state);
        if (!h->name || !h->state)
                return -ENOMEM;
        h->budget = WALK_MAX_NODES;

        if (!state_is_running(p->state)) {
                _cleanup_free_ char *status = NULL;

                if (asprintf(&status, "%s%s%s", p->state, isempty(p->last_error) ? "" : ": ",
                             strempty(p->last_error)) < 0)
                        return -ENOMEM;
                return add_check(h, NULL, status);
        }

        r = add_check(h, NULL, "");
        if (r < 0)
                return r;
        if (!isempty(p->object_path) && sd_bus_object_path_is_valid(p->object_path) > 0)
                return walk(bus, h, p->object_path, 0);
        r = plugin_object_path(p->name, &path);
        if (r < 0)
                return r;
        return walk(bus, h, path, 0);
}

/* --- output ------------------------------------------------------------------------------------------ */

static json_object *health_to_json(const PluginHealth *h) {
        json_object *o = json_object_new_object(), *services = json_object_new_object();
        bool healthy = true;
        const char *status = "";

        if (!o || !services)
                goto oom;
        for (size_t i = 0; i < h->n_checks; i++) {
                const Check *c = &h->checks[i];
                json_object *existing;

                if (!isempty(c->status))
                        healthy = false;
                if (!c->service) {
                        status = c->status;
                        continue;
                }
                /* One name in several reports: an unhealthy answer wins. */
                if (json_object_object_get_ex(services, c->service, &existing) &&
                    !isempty(json_object_get_string(existing)))
                        continue;
                if (json_add(services, c->service, json_object_new_string(c->status)) < 0)
                        goto oom;
        }
        if (json_add(o, "name", json_object_new_string(h->name)) < 0 ||
            json_add(o, "state", json_object_new_string(h->state)) < 0 ||
            json_add(o, "healthy", json_object_new_boolean(healthy)) < 0 ||
            json_add(o, "status", json_object_new_string(status)) < 0 ||
            json_add(o, "services", TAKE_PTR(services)) < 0)
                goto oom;
        return o;
oom:
        json_object_put(services);
        json_object_put(o);
        return NULL;
}

static int print_health(const PluginHealth *plugins, size_t n, size_t n_unhealthy) {
        static const char * const headers[] = { "PLUGIN", "SERVICE", "STATUS", NULL };
        _cleanup_(table_freep) Table *t = NULL;
        size_t n_checks = 0;

        if (arg_json != JSON_OFF) {
                json_object *root = json_object_new_object(), *a = json_object_new_array();
                int ret;

                if (!root || !a || json_add(root, "healthy", json_object_new_boolean(n_unhealthy == 0)) < 0) {
                        json_object_put(a);
                        json_object_put(root);
                        return log_oom();
                }
                if (json_add(root, "plugins", a) < 0) {
                        json_object_put(root);
                        return log_oom();
                }
                for (size_t i = 0; i < n; i++) {
                        json_object *o = health_to_json(&plugins[i]);

                        if (!o || json_object_array_add(a, o) < 0) {
                                json_object_put(o);
                                json_object_put(root);
                                return log_oom();
                        }
                }
                ret = json_print(root);
                json_object_put(root);
                return ret;
        }

        t = table_new(headers);
        if (!t)
                return log_oom();
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < plugins[i].n_checks; j++) {
                        const Check *c = &plugins[i].checks[j];
                        bool ok = isempty(c->status);

                        if (table_add_cell(t, plugins[i].name, ANSI_HIGHLIGHT) < 0 ||
                            table_add_cell(t, c->service, NULL) < 0 ||
                            table_add_cell(t, ok ? "ok" : c->status, ok ? ANSI_GREEN : ANSI_RED) < 0)
                                return log_oom();
                        n_checks++;
                }

        if (n_checks > 0 || arg_legend)
                (void) table_print(t, stdout, arg_legend, output_columns());
        if (arg_legend) {
                if (n_unhealthy == 0)
                        printf("\nAll %zu healthy.\n", n_checks);
                else
                        printf("\n%zu of %zu unhealthy.\n", n_unhealthy, n_checks);
        }
        return EXIT_OK;
}

int verb_health(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        PluginInfo *infos = NULL;
        PluginHealth *plugins = NULL;
        size_t n_infos = 0, n = 0, n_unhealthy = 0;
        int r, ret = EXIT_OK;

        if (!args[1]) {
                r = plugins_list(bus, &infos, &n_infos, &error);
                if (r < 0)
                        return log_bus_error(&error, r, "Failed to list plugins");
        } else {
                size_t k = strv_length(args + 1);

                infos = new0(PluginInfo, k);
                if (!infos)
                        return log_oom();
                for (char **name = args + 1; *name; name++) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                        r = plugin_get(bus, *name, &infos[n_infos], &e);
                        if (r < 0) {
                                int code;

                                if (bus_error_is_no_such_plugin(&e)) {
                                        log_error("Plugin %s could not be found.", *name);
                                        code = EXIT_NO_SUCH_PLUGIN;
                                } else
                                        code = log_bus_error(&e, r, "Failed to get the state of plugin %s", *name);
                                if (ret == EXIT_OK)
                                        ret = code;
                                continue;
                        }
                        n_infos++;
                }
        }

        plugins = new0(PluginHealth, MAX(n_infos, 1U));
        if (!plugins) {
                ret = log_oom();
                goto finish;
        }
        for (size_t i = 0; i < n_infos; i++) {
                r = plugin_health(bus, &infos[i], &plugins[n]);
                n++;
                if (r < 0) {
                        ret = log_oom();
                        goto finish;
                }
                for (size_t j = 0; j < plugins[n - 1].n_checks; j++)
                        if (!isempty(plugins[n - 1].checks[j].status))
                                n_unhealthy++;
        }

        if (!arg_quiet && (n > 0 || ret == EXIT_OK)) {
                r = print_health(plugins, n, n_unhealthy);
                if (r != EXIT_OK && ret == EXIT_OK)
                        ret = r;
        }
        if (ret == EXIT_OK && n_unhealthy > 0)
                ret = EXIT_FAILED;

finish:
        for (size_t i = 0; i < n; i++)
                plugin_health_done(&plugins[i]);
        free(plugins);
        plugin_info_array_free(infos, n_infos);
        return ret;
}
