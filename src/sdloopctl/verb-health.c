/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* health: the plugin's own state, then org.sdloop1.Service.HealthReport of every object sdloopd re-exports
 * for it under /org/sdloop1/plugin/<name>.
 *
 * The objects are found by walking the tree with org.freedesktop.DBus.Introspectable.Introspect, as
 * `busctl tree` does, not with ObjectManager.GetManagedObjects: the re-exports are forwarding objects,
 * so sd-bus's object manager does not list them, while the introspection of each parent names its children
 * and each re-export's Introspect tells which interfaces the plugin's object really has.
 *
 * Every call of the walk — of every plugin at once — is in flight together, each with --timeout of its own,
 * so one plugin that does not answer holds up nothing else. sdloopd answers a re-export's Introspect and
 * HealthReport itself within a short bound (at once with org.sdloop1.Error.Timeout while the plugin is
 * unresponsive), and names the objects by their stable paths, as the tree does. A plugin that is not up
 * (stopped, failed, starting, recovering) is reported as unhealthy without asking its objects; an
 * unresponsive one's are asked, and answer Timeout. */

#include "sdloopctl.h"
#include "util.h"
#include "table.h"

/* Bounds on the walk, against a misbehaving peer. */
#define WALK_MAX_DEPTH 32U
#define WALK_MAX_NODES 4096U

typedef struct Check {
        char *service; /* NULL: the plugin itself */
        char *status;  /* "" when healthy */
} Check;

typedef struct Node Node;

typedef struct PluginHealth {
        char *name;
        char *state;
        char *path;    /* its PluginInstance object, the root of its tree */
        Node *root;    /* NULL: not walked */
        Check *checks;
        size_t n_checks;
        size_t budget; /* nodes left to visit */
} PluginHealth;

static void node_free(Node *n);

static void plugin_health_done(PluginHealth *h) {
        for (size_t i = 0; i < h->n_checks; i++) {
                free(h->checks[i].service);
                free(h->checks[i].status);
        }
        free(h->checks);
        free(h->name);
        free(h->state);
        free(h->path);
        node_free(h->root);
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

/* One object of the tree under a plugin's object path, as found: its own rows, then its children's, in
 * the order the introspection names them, whatever order the answers come in. */
struct Node {
        PluginHealth *plugin;
        char *path;
        unsigned depth;
        Check *checks;
        size_t n_checks;
        Node **children;
        size_t n_children;
};

typedef struct NodeCall NodeCall;

/* Every call of the walk in flight at once, each with --timeout of its own, kept here rather than left to
 * sd-bus's reply timeouts: the walk gives up on each at its own deadline, whatever the bus does. */
typedef struct Walk {
        sd_bus *bus;
        NodeCall *calls; /* in flight */
        unsigned pending;
        int error; /* -ENOMEM and the like: the walk's own failure */
} Walk;

struct NodeCall {
        Walk *walk;
        Node *node;
        const char *what;
        sd_bus_slot *slot;
        uint64_t deadline; /* CLOCK_MONOTONIC */
        NodeCall *prev, *next;
};

/* The call is answered (or given up on): off the list. */
static void node_call_done(NodeCall *nc) {
        Walk *w = nc->walk;

        if (nc->prev)
                nc->prev->next = nc->next;
        else
                w->calls = nc->next;
        if (nc->next)
                nc->next->prev = nc->prev;
        w->pending--;
        nc->slot = sd_bus_slot_unref(nc->slot);
}

static void node_free(Node *n) {
        if (!n)
                return;
        for (size_t i = 0; i < n->n_children; i++)
                node_free(n->children[i]);
        for (size_t i = 0; i < n->n_checks; i++) {
                free(n->checks[i].service);
                free(n->checks[i].status);
        }
        free(n->checks);
        free(n->children);
        free(n->path);
        free(n);
}

static Node *node_new(PluginHealth *h, const char *path, unsigned depth) {
        Node *n = new0(Node, 1);

        if (!n)
                return NULL;
        n->plugin = h;
        n->depth = depth;
        n->path = strdup(path);
        if (!n->path)
                return mfree(n);
        return n;
}

static int node_add_check(Node *n, const char *service, const char *status) {
        Check *c;

        c = reallocarray(n->checks, n->n_checks + 1, sizeof(Check));
        if (!c)
                return -ENOMEM;
        n->checks = c;
        c = &n->checks[n->n_checks];
        *c = (Check) { .service = strdup(service), .status = strdup(strempty(status)) };
        if (!c->service || !c->status) {
                free(c->service);
                free(c->status);
                return -ENOMEM;
        }
        n->n_checks++;
        return 0;
}

/* The object's name in the rows: its path below the plugin's ("factory/3"), as in the health reports. */
static const char *node_name(const Node *n) {
        const char *root = n->plugin->path;
        size_t l = strlen(root);

        if (strncmp(n->path, root, l) == 0 && n->path[l] == '/')
                return n->path + l + 1;
        return n->path;
}

/* How a call failed, for an operator: a deadline missed (sdloopd's or ours) and an unavailable plugin are
 * the object's health; anything else is a failed call. */
static int node_add_failure(Node *n, const char *what, const sd_bus_error *error, int r) {
        _cleanup_free_ char *status = NULL;
        const char *name = sd_bus_error_is_set(error) ? error->name : NULL;
        int k;

        if (r == -ETIMEDOUT && (!name || streq(name, SD_BUS_ERROR_NO_REPLY) || streq(name, SD_BUS_ERROR_TIMEOUT)))
                k = asprintf(&status, "Timeout: no answer to %s within %" PRIu64 " ms", what,
                             arg_timeout_usec / USEC_PER_MSEC);
        else if (name && (streq(name, "org.sdloop1.Error.Timeout") ||
                          streq(name, "org.sdloop1.Error.PluginUnavailable")))
                k = asprintf(&status, "%s: %s", name + strlen("org.sdloop1.Error."), strempty(error->message));
        else
                k = asprintf(&status, "%s failed: %s%s%s", what, strempty(name), name ? ": " : "",
                             name ? strempty(error->message) : strerror(-r));
        if (k < 0)
                return -ENOMEM;
        return node_add_check(n, node_name(n), status);
}

static int walk_call(Walk *w, Node *n, const char *interface, const char *member, sd_bus_message_handler_t handler);

static int on_health_report(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ NodeCall *nc = userdata;
        Node *n = nc->node;
        Walk *w = nc->walk;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        node_call_done(nc);
        if (e) {
                r = node_add_failure(n, "HealthReport", e, -sd_bus_message_get_errno(reply));
                goto finish;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{ss}");
        while (r >= 0) {
                const char *service, *status;

                r = sd_bus_message_read(reply, "{ss}", &service, &status);
                if (r <= 0)
                        break;
                r = node_add_check(n, service, status);
        }
        if (r < 0 && r != -ENOMEM) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                (void) sd_bus_error_setf(&error, SD_BUS_ERROR_INVALID_ARGS, "malformed reply: %s", strerror(-r));
                r = node_add_failure(n, "HealthReport", &error, r);
        }
finish:
        if (r < 0 && w->error == 0)
                w->error = r;
        return 0;
}

static int on_introspect(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ NodeCall *nc = userdata;
        _cleanup_strv_free_ char **children = NULL;
        Node *n = nc->node;
        Walk *w = nc->walk;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        bool has_service = false;
        const char *xml;
        int r;

        node_call_done(nc);
        if (e) {
                /* A child that went away meanwhile, or one the plugin lists but the host does not export. */
                if (n->depth > 0 && sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_METHOD))
                        return 0;
                r = node_add_failure(n, "Introspect", e, -sd_bus_message_get_errno(reply));
                goto finish;
        }

        r = sd_bus_message_read(reply, "s", &xml);
        if (r >= 0)
                r = introspect_parse(xml, &has_service, &children);
        if (r < 0 && r != -ENOMEM) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                (void) sd_bus_error_setf(&error, SD_BUS_ERROR_INVALID_ARGS, "unreadable introspection data");
                r = node_add_failure(n, "Introspect", &error, r);
                goto finish;
        }
        if (r < 0)
                goto finish;

        if (has_service) {
                r = walk_call(w, n, SDLOOP_SERVICE_INTERFACE, "HealthReport", on_health_report);
                if (r < 0)
                        goto finish;
        }

        for (char **c = children; c && *c; c++) {
                _cleanup_free_ char *path = NULL;
                Node *child, **l;

                if (n->depth + 1 > WALK_MAX_DEPTH || n->plugin->budget == 0)
                        break;
                if (asprintf(&path, "%s/%s", streq(n->path, "/") ? "" : n->path, *c) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                if (sd_bus_object_path_is_valid(path) <= 0)
                        continue;
                l = reallocarray(n->children, n->n_children + 1, sizeof(Node *));
                child = l ? node_new(n->plugin, path, n->depth + 1) : NULL;
                if (l)
                        n->children = l;
                if (!child) {
                        r = -ENOMEM;
                        goto finish;
                }
                n->children[n->n_children++] = child;
                n->plugin->budget--;
                r = walk_call(w, child, "org.freedesktop.DBus.Introspectable", "Introspect", on_introspect);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        if (r < 0 && w->error == 0)
                w->error = r;
        return 0;
}

static int walk_call(Walk *w, Node *n, const char *interface, const char *member, sd_bus_message_handler_t handler) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        NodeCall *nc;
        int r;

        r = sd_bus_message_new_method_call(w->bus, &m, SDLOOP_SERVICE, n->path, interface, member);
        if (r < 0)
                return r;
        nc = new0(NodeCall, 1);
        if (!nc)
                return -ENOMEM;
        *nc = (NodeCall) { .walk = w, .node = n, .what = member, .deadline = now_monotonic_usec() + arg_timeout_usec };
        r = sd_bus_call_async(w->bus, &nc->slot, m, handler, nc, arg_timeout_usec);
        if (r < 0) {
                free(nc);
                return r;
        }
        nc->next = w->calls;
        if (w->calls)
                w->calls->prev = nc;
        w->calls = nc;
        w->pending++;
        return 0;
}

/* Give up on the calls whose deadline passed; the soonest deadline still to come, or UINT64_MAX. */
static uint64_t walk_expire(Walk *w) {
        uint64_t now = now_monotonic_usec(), next = UINT64_MAX;

        for (NodeCall *nc = w->calls, *following; nc; nc = following) {
                following = nc->next;
                if (nc->deadline > now) {
                        next = MIN(next, nc->deadline);
                        continue;
                }
                node_call_done(nc);
                if (node_add_failure(nc->node, nc->what, NULL, -ETIMEDOUT) < 0 && w->error == 0)
                        w->error = -ENOMEM;
                free(nc);
        }
        return next;
}

/* Serve the walk's calls until every one has its answer or passed its deadline. */
static int walk_run(Walk *w) {
        int r;

        while (w->pending > 0) {
                uint64_t next;

                r = sd_bus_process(w->bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                next = walk_expire(w);
                if (w->pending == 0)
                        break;
                r = sd_bus_wait(w->bus, next == UINT64_MAX ? UINT64_MAX : next - MIN(next, now_monotonic_usec()));
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return w->error;
}

/* The rows of @n and its children, depth first. */
static int node_collect(const Node *n, PluginHealth *h) {
        int r;

        for (size_t i = 0; i < n->n_checks; i++) {
                r = add_check(h, n->checks[i].service, n->checks[i].status);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n->n_children; i++) {
                r = node_collect(n->children[i], h);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Set up @h for the plugin described by @p, and begin its walk if its objects are to be asked. */
static int plugin_health_begin(Walk *w, const PluginInfo *p, PluginHealth *h) {
        _cleanup_free_ char *status = NULL;
        bool unresponsive = streq_ptr(p->state, "unresponsive");
        int r;

        h->name = strdup(p->name);
        h->state = strdup(p->state);
        if (!isempty(p->object_path) && sd_bus_object_path_is_valid(p->object_path) > 0)
                h->path = strdup(p->object_path);
        else
                (void) plugin_object_path(p->name, &h->path);
        if (!h->name || !h->state || !h->path)
                return -ENOMEM;
        h->budget = WALK_MAX_NODES;

        if (!state_is_running(p->state) || unresponsive) {
                if (asprintf(&status, "%s%s%s", p->state, isempty(p->last_error) ? "" : ": ",
                             strempty(p->last_error)) < 0)
                        return -ENOMEM;
        }
        r = add_check(h, NULL, status);
        if (r < 0)
                return r;
        /* Objects of a plugin that is not up would only make their callers wait; an unresponsive one's are
         * asked all the same: sdloopd answers for them at once. */
        if (!state_is_running(p->state) && !unresponsive)
                return 0;

        h->root = node_new(h, h->path, 0);
        if (!h->root)
                return -ENOMEM;
        h->budget--;
        return walk_call(w, h->root, "org.freedesktop.DBus.Introspectable", "Introspect", on_introspect);
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
        Walk w = { .bus = bus };
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
        /* Every plugin's walk at once: one that does not answer costs the others nothing. */
        for (size_t i = 0; i < n_infos; i++) {
                r = plugin_health_begin(&w, &infos[i], &plugins[n]);
                n++;
                if (r < 0) {
                        ret = log_oom();
                        goto finish;
                }
        }
        r = walk_run(&w);
        if (r < 0) {
                ret = r == -ENOMEM ? log_oom() : log_bus_error(NULL, r, "Failed to ask the plugins' objects");
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                if (plugins[i].root) {
                        r = node_collect(plugins[i].root, &plugins[i]);
                        if (r < 0) {
                                ret = log_oom();
                                goto finish;
                        }
                }
                for (size_t j = 0; j < plugins[i].n_checks; j++)
                        if (!isempty(plugins[i].checks[j].status))
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
