/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What sdloopd says about its plugins (Manager.ListPlugins, the PluginInstance properties), plus the
 * memory of each plugin process: MemoryCurrent of its unit, asked of systemd over the same bus, or for
 * processes that run outside any unit (the exec backend) VmRSS from /proc when the bus is local. */

#include <inttypes.h>
#include <stdarg.h>

#include "sdloopctl.h"

void plugin_info_done(PluginInfo *p) {
        free(p->name);
        free(p->kind);
        free(p->unit);
        free(p->state);
        free(p->object_path);
        free(p->address);
        free(p->last_error);
        *p = (PluginInfo) { .memory = UINT64_MAX };
}

void plugin_info_array_free(PluginInfo *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                plugin_info_done(&a[i]);
        free(a);
}

int plugin_object_path(const char *name, char **ret) {
        return sd_bus_path_encode(SDLOOP_INSTANCE_PATH_PREFIX, name, ret);
}

static bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && streq(s + a - b, suffix);
}

/* A method call that must not start anything: systemd is asked only if it is there. */
static int call_no_autostart(sd_bus *bus, const char *destination, const char *path, const char *interface,
                             const char *member, sd_bus_error *error, sd_bus_message **reply,
                             const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, destination, path, interface, member);
        if (r < 0)
                return r;
        r = sd_bus_message_set_auto_start(m, false);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return sd_bus_call(bus, m, 5 * USEC_PER_SEC, error, reply);
}

static int unit_memory_current(sd_bus *bus, const char *unit, uint64_t *ret) {
        /* Once systemd is known to be absent from this bus, do not ask again for every plugin. */
        static bool systemd_absent = false;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *interface, *path;
        uint64_t v;
        int r;

        /* Only units that have a cgroup of their own; the exec backend reports the binary here. */
        if (isempty(unit) || strchr(unit, '/'))
                return -EINVAL;
        if (endswith(unit, ".service"))
                interface = "org.freedesktop.systemd1.Service";
        else if (endswith(unit, ".scope"))
                interface = "org.freedesktop.systemd1.Scope";
        else
                return -EINVAL;
        if (systemd_absent)
                return -EHOSTDOWN;

        r = call_no_autostart(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s", unit);
        if (r < 0) {
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                           SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_METHOD))
                        systemd_absent = true;
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;

        /* The reply owns path: keep it until the next call is made. */
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *unit_reply = TAKE_PTR(reply);
        r = call_no_autostart(bus, "org.freedesktop.systemd1", path, "org.freedesktop.DBus.Properties", "Get",
                              &error, &reply, "ss", interface, "MemoryCurrent");
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "v", "t", &v);
        if (r < 0)
                return r;
        if (v == UINT64_MAX) /* no memory accounting */
                return -ENODATA;

        *ret = v;
        return 0;
}

static int proc_rss(uint32_t pid, uint64_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char path[64];
        size_t n = 0;

        snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &n, f) > 0) {
                uint64_t kb;

                if (strncmp(line, "VmRSS:", 6) != 0)
                        continue;
                if (sscanf(line + 6, "%" SCNu64, &kb) != 1)
                        return -EBADMSG;
                *ret = kb * 1024;
                return 0;
        }
        return -ENODATA; /* kernel threads and zombies have none */
}

static void plugin_fill_memory(sd_bus *bus, PluginInfo *p) {
        uint64_t v = UINT64_MAX;

        p->memory = UINT64_MAX;
        if (p->main_pid == 0 && !state_is_running(p->state))
                return;
        if (unit_memory_current(bus, p->unit, &v) >= 0)
                p->memory = v;
        else if (bus_is_local() && p->main_pid > 0 && proc_rss(p->main_pid, &v) >= 0)
                p->memory = v;
}

static int plugin_info_compare(const void *a, const void *b) {
        const PluginInfo *x = a, *y = b;

        return strcmp(x->name, y->name);
}

int plugins_list(sd_bus *bus, PluginInfo **ret, size_t *ret_n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        PluginInfo *a = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, SDLOOP_SERVICE, SDLOOP_MANAGER_PATH, SDLOOP_MANAGER_INTERFACE, "ListPlugins",
                               error, &reply, NULL);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(ssssuuss)");
        if (r < 0)
                goto bad_reply;
        for (;;) {
                const char *name, *kind, *unit, *state, *path, *last_error;
                uint32_t n_restarts, main_pid;
                PluginInfo *b;

                r = sd_bus_message_read(reply, "(ssssuuss)", &name, &kind, &unit, &state, &n_restarts, &main_pid,
                                        &path, &last_error);
                if (r < 0)
                        goto bad_reply;
                if (r == 0)
                        break;

                b = reallocarray(a, n + 1, sizeof(PluginInfo));
                if (!b) {
                        r = -ENOMEM;
                        goto fail;
                }
                a = b;
                a[n] = (PluginInfo) {
                        .name = strdup(name),
                        .kind = strdup(kind),
                        .unit = strdup(unit),
                        .state = strdup(state),
                        .object_path = strdup(path),
                        .last_error = strdup(last_error),
                        .n_restarts = n_restarts,
                        .main_pid = main_pid,
                        .memory = UINT64_MAX,
                };
                n++;
                if (!a[n - 1].name || !a[n - 1].kind || !a[n - 1].unit || !a[n - 1].state ||
                    !a[n - 1].object_path || !a[n - 1].last_error) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                goto bad_reply;

        if (n > 0)
                qsort(a, n, sizeof(PluginInfo), plugin_info_compare);
        for (size_t i = 0; i < n; i++)
                plugin_fill_memory(bus, &a[i]);

        *ret = a;
        *ret_n = n;
        return 0;

bad_reply:
        sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Malformed ListPlugins reply: %s", strerror(-r));
fail:
        plugin_info_array_free(a, n);
        return r;
}

static int read_string_property(sd_bus_message *m, char **ret) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return r;
        return free_and_strdup(ret, s);
}

int plugin_get(sd_bus *bus, const char *name, PluginInfo *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(plugin_info_done) PluginInfo p = { .memory = UINT64_MAX };
        int r;

        r = plugin_object_path(name, &p.object_path);
        if (r < 0)
                return r;

        r = sd_bus_call_method(bus, SDLOOP_SERVICE, p.object_path, "org.freedesktop.DBus.Properties", "GetAll",
                               error, &reply, "s", SDLOOP_INSTANCE_INTERFACE);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                goto bad_reply;
        for (;;) {
                const char *property;

                r = sd_bus_message_enter_container(reply, 'e', "sv");
                if (r < 0)
                        goto bad_reply;
                if (r == 0)
                        break;
                r = sd_bus_message_read(reply, "s", &property);
                if (r < 0)
                        goto bad_reply;

                if (streq(property, "Name"))
                        r = read_string_property(reply, &p.name);
                else if (streq(property, "Kind"))
                        r = read_string_property(reply, &p.kind);
                else if (streq(property, "Unit"))
                        r = read_string_property(reply, &p.unit);
                else if (streq(property, "State"))
                        r = read_string_property(reply, &p.state);
                else if (streq(property, "Address"))
                        r = read_string_property(reply, &p.address);
                else if (streq(property, "LastError"))
                        r = read_string_property(reply, &p.last_error);
                else if (streq(property, "NRestarts"))
                        r = sd_bus_message_read(reply, "v", "u", &p.n_restarts);
                else if (streq(property, "MainPID"))
                        r = sd_bus_message_read(reply, "v", "u", &p.main_pid);
                else /* newer daemons may have more */
                        r = sd_bus_message_skip(reply, "v");
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                          "Malformed PluginInstance property %s: %s", property, strerror(-r));
                        return r;
                }

                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        goto bad_reply;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                goto bad_reply;

        if (!p.name || !p.state) {
                sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "PluginInstance %s lacks Name or State",
                                  p.object_path);
                return -EBADMSG;
        }
        if (!p.kind && !(p.kind = strdup("")))
                return -ENOMEM;
        if (!p.unit && !(p.unit = strdup("")))
                return -ENOMEM;
        if (!p.address && !(p.address = strdup("")))
                return -ENOMEM;
        if (!p.last_error && !(p.last_error = strdup("")))
                return -ENOMEM;

        plugin_fill_memory(bus, &p);
        *ret = p;
        p = (PluginInfo) { .memory = UINT64_MAX };
        return 0;

bad_reply:
        sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Malformed GetAll reply from %s: %s", p.object_path,
                          strerror(-r));
        return r;
}

int plugin_get_state(sd_bus *bus, const char *name, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = plugin_object_path(name, &path);
        if (r < 0)
                return r;
        return sd_bus_get_property_string(bus, SDLOOP_SERVICE, path, SDLOOP_INSTANCE_INTERFACE, "State", error,
                                          ret);
}

json_object *plugin_info_to_json(const PluginInfo *p) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_add(o, "name", json_object_new_string(p->name)) < 0 ||
            json_add(o, "kind", json_object_new_string(strempty(p->kind))) < 0 ||
            json_add(o, "unit", json_object_new_string(strempty(p->unit))) < 0 ||
            json_add(o, "state", json_object_new_string(p->state)) < 0 ||
            json_add(o, "n_restarts", json_object_new_int64(p->n_restarts)) < 0 ||
            json_add(o, "main_pid", json_object_new_int64(p->main_pid)) < 0 ||
            json_add(o, "memory_current",
                     p->memory == UINT64_MAX ? NULL : json_object_new_uint64(p->memory)) < 0 ||
            (p->address && json_add(o, "address", json_object_new_string(p->address)) < 0) ||
            json_add(o, "object_path", json_object_new_string(strempty(p->object_path))) < 0 ||
            json_add(o, "last_error", json_object_new_string(strempty(p->last_error))) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
