/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Calls that no object of ours can take are refused here, before sd-bus would: its own answers
 * (UnknownObject, UnknownInterface, UnknownMethod, InvalidArgs) are not the contract's names and do not name
 * what exists. A filter compares the signature of every call to one of the objects object.c registered
 * with the method's; a fallback at "/", which sd-bus runs only when nothing else took the call, says which
 * of path, interface and member is unknown, and what there is. */

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"

/* What a refusal lists ("Ready, HealthReport, Close"): enough to see what was meant, bounded. */
#define DISPATCH_LIST_MAX 512

/* Walks a vtable with the element size it was built with. */
#define VTABLE_FOREACH(v, vtable)                                                                        \
        for (const sd_bus_vtable *v = (vtable) + 1; v->type != _SD_BUS_VTABLE_END;                      \
             v = (const sd_bus_vtable *) ((const uint8_t *) v + (vtable)->x.start.element_size))

static void list_append(char *buf, size_t size, const char *item) {
        size_t l = strlen(buf);

        if (l + 1 >= size)
                return;
        (void) snprintf(buf + l, size - l, "%s%s", l > 0 ? ", " : "", item);
}

static const sd_bus_vtable *object_find_vtable(SdloopObject *o, const char *interface) {
        if (streq(interface, "org.sdloop1.Service"))
                return object_service_vtable();
        for (ObjectInterface *i = o->interfaces; i; i = i->next)
                if (streq(i->interface, interface))
                        return i->vtable;
        return NULL;
}

static int refuse_interface(SdloopObject *o, const char *interface, const char *member, sd_bus_error *error) {
        char list[DISPATCH_LIST_MAX] = "org.sdloop1.Service";

        for (ObjectInterface *i = o->interfaces; i; i = i->next)
                list_append(list, sizeof(list), i->interface);
        return sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT, "interface: %s has no interface %s for %s() (it has %s)",
                                 o->path, interface, member, list);
}

static int refuse_member(SdloopObject *o, const char *interface, const sd_bus_vtable *vtable, const char *member,
                         sd_bus_error *error) {
        char list[DISPATCH_LIST_MAX] = "";

        VTABLE_FOREACH(v, vtable)
                if (v->type == _SD_BUS_VTABLE_METHOD)
                        list_append(list, sizeof(list), v->x.method.member);
        return sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT, "member: %s on %s has no method %s (it has %s)",
                                 interface, o->path, member, isempty(list) ? "none" : list);
}

/* A call to one of our objects with the arguments of another method: sd-bus would answer InvalidArgs. */
static int check_signature(SdloopPeer *p, sd_bus_message *m, sd_bus_error *error) {
        const char *interface, *member, *signature;
        const sd_bus_vtable *vtable;
        SdloopObject *o;

        interface = sd_bus_message_get_interface(m);
        member = sd_bus_message_get_member(m);
        if (!interface || !member)
                return 0;
        o = sdloop_peer_find_object(p, sd_bus_message_get_path(m));
        if (!o)
                return 0;
        vtable = object_find_vtable(o, interface);
        if (!vtable)
                return 0;

        signature = sd_bus_message_get_signature(m, true);
        VTABLE_FOREACH(v, vtable)
                if (v->type == _SD_BUS_VTABLE_METHOD && streq(v->x.method.member, member)) {
                        if (streq(strempty(v->x.method.signature), strempty(signature)))
                                return 0;
                        return sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                                 "arguments: %s.%s() takes '%s', got '%s'", interface, member,
                                                 strempty(v->x.method.signature), strempty(signature));
                }
        return 0;
}

/* Nothing at the call's path took it (sd-bus tries the exact path first, "/" last). */
static int refuse_unknown(SdloopPeer *p, sd_bus_message *m, sd_bus_error *error) {
        const char *path, *interface, *member;
        const sd_bus_vtable *vtable;
        SdloopObject *o;

        path = sd_bus_message_get_path(m);
        interface = sd_bus_message_get_interface(m);
        member = sd_bus_message_get_member(m);
        /* Introspection of the nodes between objects (busctl tree) and Peer are sd-bus's to answer; so is a
         * call without an interface, and the call contexts (context.c). */
        if (!path || !interface || !member || streq(interface, "org.freedesktop.DBus.Introspectable") ||
            streq(interface, "org.freedesktop.DBus.Peer") || streq(interface, "org.sdloop1.Context"))
                return 0;

        o = sdloop_peer_find_object(p, path);
        if (!o)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "path: no object at %s", path);
        if (streq(interface, "org.freedesktop.DBus.Properties"))
                return 0;

        vtable = object_find_vtable(o, interface);
        if (!vtable)
                return refuse_interface(o, interface, member, error);
        return refuse_member(o, interface, vtable, member, error);
}

static int reply_refusal(sd_bus_message *m, int r, const sd_bus_error *error) {
        if (r >= 0)
                return 0;
        r = sd_bus_reply_method_error(m, error);
        return r < 0 ? r : 1;
}

static int on_filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        return reply_refusal(m, check_signature(userdata, m, &error), &error);
}

static int on_fallback(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        return reply_refusal(m, refuse_unknown(userdata, m, &error), &error);
}

int dispatch_attach(SdloopPeer *p) {
        int r;

        r = sd_bus_add_filter(p->bus, &p->dispatch_filter_slot, on_filter, p);
        if (r < 0)
                return r;
        /* A fallback at "/" is the last handler sd-bus tries for any path: whatever is registered directly
         * on the bus (proxies, a test's raw vtable) still answers for itself. */
        return sd_bus_add_fallback(p->bus, &p->dispatch_fallback_slot, "/", on_fallback, p);
}
