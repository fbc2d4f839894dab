/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A stand-in for sdloopd on the user bus, for testing sdloopctl: org.sdloop1 with the Manager at
 * /org/sdloop1, two PluginInstance objects with fixed properties, and org.sdloop1.Service objects beneath
 * them as sdloopd re-exports a plugin's objects. Everything follows dbus/org.sdloop1.*.xml (the test checks
 * the introspection against it). Prints "READY" on stdout once the name is owned; SIGTERM ends it.
 *
 *   ledger      relayer, running (MainPID: this process), re-exports relayer/1 and provider/2, all healthy
 *   median-eth  median, failed with a LastError; once started it re-exports factory/1, which reports a
 *               stale data source (unhealthy) */

#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define MANAGER_INTERFACE  "org.sdloop1.Manager"
#define INSTANCE_INTERFACE "org.sdloop1.PluginInstance"
#define SERVICE_INTERFACE  "org.sdloop1.Service"
#define ERROR_NOT_FOUND    "org.sdloop1.Error.NotFound"

typedef struct FakeService {
        const char *suffix;       /* below the instance path */
        const char *name;         /* Service.Name */
        const char *report[6];    /* HealthReport: name, status pairs, NULL-terminated */
} FakeService;

typedef struct FakePlugin {
        const char *name;
        const char *kind;
        const char *unit;
        const char *address;
        const char *initial_state;
        uint32_t initial_restarts;
        const char *initial_error;
        FakeService services[2];

        /* Runtime. */
        char *path;
        const char *state;
        uint32_t n_restarts;
        uint32_t main_pid;
        char *last_error;
        sd_bus_slot *slot;
        sd_bus_slot *service_slots[2];
} FakePlugin;

static FakePlugin plugins[] = {
        {
                .name = "ledger",
                .kind = "relayer",
                .unit = "sdloop-ledger.service",
                .address = "/run/sdloop/plugin/ledger.sock",
                .initial_state = "running",
                .initial_restarts = 2,
                .initial_error = "",
                .services = {
                        { "relayer/1", "ledger.Relayer", { "ledger.Relayer", "", NULL } },
                        { "provider/2", "ledger.Provider",
                          { "ledger.Provider", "", "ledger.Provider.ContractTransmitter", "", NULL } },
                },
        },
        {
                .name = "median-eth",
                .kind = "median",
                .unit = "sdloop-median-eth.service",
                .address = "/run/sdloop/plugin/median-eth.sock",
                .initial_state = "failed",
                .initial_restarts = 5,
                .initial_error = "start limit hit: exited 5 times within 10s",
                .services = {
                        { "factory/1", "median-eth.ReportingPluginFactory",
                          { "median-eth.ReportingPluginFactory", "data source stale: no observation for 120s",
                            NULL } },
                },
        },
};

static sd_bus *bus = NULL;

static FakePlugin *find_plugin(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(plugins); i++)
                if (streq(plugins[i].name, name))
                        return &plugins[i];
        return NULL;
}

/* --- org.sdloop1.Service on the re-exported objects ---------------------------------------------------- */

static int method_ready(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static int method_health_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const FakeService *s = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r < 0)
                return r;
        for (size_t i = 0; s->report[i]; i += 2) {
                r = sd_bus_message_append(reply, "{ss}", s->report[i], s->report[i + 1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_close(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static int property_get_service_name(sd_bus *b, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const FakeService *s = userdata;

        return sd_bus_message_append(reply, "s", s->name);
}

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Ready", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_ready,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HealthReport", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{ss}", report),
                                method_health_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_close,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Name", "s", property_get_service_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

/* --- org.sdloop1.PluginInstance ------------------------------------------------------------------------ */

static int property_get_instance(sd_bus *b, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        FakePlugin *p = userdata;

        if (streq(property, "Name"))
                return sd_bus_message_append(reply, "s", p->name);
        if (streq(property, "Kind"))
                return sd_bus_message_append(reply, "s", p->kind);
        if (streq(property, "Unit"))
                return sd_bus_message_append(reply, "s", p->unit);
        if (streq(property, "State"))
                return sd_bus_message_append(reply, "s", p->state);
        if (streq(property, "NRestarts"))
                return sd_bus_message_append(reply, "u", p->n_restarts);
        if (streq(property, "MainPID"))
                return sd_bus_message_append(reply, "u", p->main_pid);
        if (streq(property, "Address"))
                return sd_bus_message_append(reply, "s", p->address);
        if (streq(property, "LastError"))
                return sd_bus_message_append(reply, "s", p->last_error);
        return -EINVAL;
}

static const sd_bus_vtable instance_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Unit", "s", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NRestarts", "u", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Address", "s", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LastError", "s", property_get_instance, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static int plugin_export_services(FakePlugin *p) {
        for (size_t i = 0; i < ELEMENTSOF(p->services); i++) {
                _cleanup_free_ char *path = NULL;
                int r;

                if (!p->services[i].suffix || p->service_slots[i])
                        continue;
                if (asprintf(&path, "%s/%s", p->path, p->services[i].suffix) < 0)
                        return -ENOMEM;
                r = sd_bus_add_object_vtable(bus, &p->service_slots[i], path, SERVICE_INTERFACE, service_vtable,
                                             &p->services[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void plugin_unexport_services(FakePlugin *p) {
        for (size_t i = 0; i < ELEMENTSOF(p->service_slots); i++)
                p->service_slots[i] = sd_bus_slot_unref(p->service_slots[i]);
}

static int plugin_set_state(FakePlugin *p, const char *state, const char *last_error) {
        int r;

        p->state = state;
        p->main_pid = streq(state, "running") ? (uint32_t) getpid() : 0;
        if (free_and_strdup(&p->last_error, last_error) < 0)
                return -ENOMEM;

        if (streq(state, "running"))
                r = plugin_export_services(p);
        else {
                plugin_unexport_services(p);
                r = 0;
        }
        if (r < 0)
                return r;

        r = sd_bus_emit_properties_changed(bus, p->path, INSTANCE_INTERFACE, "State", "NRestarts", "MainPID",
                                           "LastError", NULL);
        if (r < 0)
                return r;
        return sd_bus_emit_signal(bus, "/org/sdloop1", MANAGER_INTERFACE, "PluginStateChanged", "sss", p->name,
                                  p->state, p->last_error);
}

/* --- org.sdloop1.Manager ---------------------------------------------------------------------------------- */

static int method_list_plugins(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssssuuss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(plugins); i++) {
                const FakePlugin *p = &plugins[i];

                r = sd_bus_message_append(reply, "(ssssuuss)", p->name, p->kind, p->unit, p->state, p->n_restarts,
                                          p->main_pid, p->path, p->last_error);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_manage(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m), *name;
        FakePlugin *p;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        p = find_plugin(name);
        if (!p)
                return sd_bus_error_setf(error, ERROR_NOT_FOUND, "no plugin named %s", name);

        if (streq(member, "StartPlugin")) {
                if (!streq(p->state, "running"))
                        r = plugin_set_state(p, "running", "");
        } else if (streq(member, "StopPlugin"))
                r = plugin_set_state(p, "stopped", "");
        else {
                p->n_restarts++;
                r = plugin_set_state(p, "running", "");
        }
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static int method_list_feeds(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "a(ssuytts)", 2,
                                  "eth-usd", "334512345678", (uint32_t) 3, (uint8_t) 7,
                                  (uint64_t) 1732743901000000ULL, (uint64_t) 42, "running",
                                  "btc-usd", "-1042", (uint32_t) 0, (uint8_t) 0, (uint64_t) 0, (uint64_t) 0,
                                  "stopped");
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_feed_status(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        if (streq(name, "eth-usd"))
                return sd_bus_reply_method_return(m, "s",
                        "{\"name\":\"eth-usd\",\"state\":\"running\",\"latest_answer\":\"334512345678\","
                        "\"latest_answer_decimal\":\"3345.12345678\",\"reports_transmitted\":42,"
                        "\"rounds_started\":50,\"rounds_transmitted\":40,"
                        "\"rounds_skipped\":{\"total\":6,\"busy\":2,\"no_report\":4,\"not_accepted\":0,"
                        "\"not_transmitted\":0},"
                        "\"rounds_failed\":{\"total\":3,\"timeout\":1,\"plugin_unavailable\":2,"
                        "\"not_enough_observations\":0,\"transmit_failed\":0,\"plugin_error\":0,\"setup\":0,"
                        "\"internal\":0},\"last_reason\":\"plugin_unavailable\"}");
        if (streq(name, "btc-usd"))
                return sd_bus_reply_method_return(m, "s",
                        "{\"name\":\"btc-usd\",\"state\":\"stopped\",\"latest_answer\":null,"
                        "\"latest_answer_decimal\":null,\"rounds_started\":0,\"rounds_transmitted\":0,"
                        "\"rounds_skipped\":{\"total\":0},\"rounds_failed\":{\"total\":0},"
                        "\"last_reason\":null}");
        return sd_bus_error_setf(error, "org.sdloop1.Error.NotFound", "no feed named %s", name);
}

static int property_get_manager(sd_bus *b, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", streq(property, "Version") ? "0.0.0-fake" : "exec");
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListPlugins", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssssuuss)", plugins),
                                method_list_plugins, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartPlugin", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_manage,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopPlugin", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_manage,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestartPlugin", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_manage,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetFeedStatus", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", status),
                                method_get_feed_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListFeeds", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuytts)", feeds),
                                method_list_feeds, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("PluginStateChanged", SD_BUS_ARGS("s", name, "s", state, "s", last_error), 0),
        SD_BUS_PROPERTY("Version", "s", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Backend", "s", property_get_manager, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

int main(int argc, char *argv[]) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r < 0)
                goto fail;
        r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                goto fail;

        r = sd_bus_open_user(&bus);
        if (r < 0)
                goto fail;
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto fail;

        r = sd_bus_add_object_vtable(bus, NULL, "/org/sdloop1", MANAGER_INTERFACE, manager_vtable, NULL);
        if (r < 0)
                goto fail;
        r = sd_bus_add_object_manager(bus, NULL, "/org/sdloop1");
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < ELEMENTSOF(plugins); i++) {
                FakePlugin *p = &plugins[i];

                r = sd_bus_path_encode("/org/sdloop1/plugin", p->name, &p->path);
                if (r < 0)
                        goto fail;
                p->state = p->initial_state;
                p->n_restarts = p->initial_restarts;
                p->main_pid = streq(p->state, "running") ? (uint32_t) getpid() : 0;
                p->last_error = strdup(p->initial_error);
                if (!p->last_error) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = sd_bus_add_object_vtable(bus, &p->slot, p->path, INSTANCE_INTERFACE, instance_vtable, p);
                if (r < 0)
                        goto fail;
                if (streq(p->state, "running")) {
                        r = plugin_export_services(p);
                        if (r < 0)
                                goto fail;
                }
        }

        r = sd_bus_request_name(bus, "org.sdloop1", 0);
        if (r < 0)
                goto fail;
        printf("READY\n");
        fflush(stdout);

        r = sd_event_loop(event);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < ELEMENTSOF(plugins); i++) {
                plugin_unexport_services(&plugins[i]);
                sd_bus_slot_unref(plugins[i].slot);
                free(plugins[i].path);
                free(plugins[i].last_error);
        }
        sd_bus_flush_close_unref(bus);
        return 0;

fail:
        fprintf(stderr, "fake-sdloopd: %s\n", strerror(-r));
        return 1;
}
