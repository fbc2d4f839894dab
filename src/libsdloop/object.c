/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"

/* --- health reports ------------------------------------------------------------------------------- */

int sdloop_health_add(SdloopHealth *h, const char *name, const char *message) {
        char **names, **messages;

        assert(h);
        assert(name);

        /* A name reported twice keeps its first (most specific) entry. */
        for (size_t i = 0; i < h->n; i++)
                if (streq(h->names[i], name))
                        return 0;

        names = reallocarray(h->names, h->n + 1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        h->names = names;
        messages = reallocarray(h->messages, h->n + 1, sizeof(char *));
        if (!messages)
                return -ENOMEM;
        h->messages = messages;

        h->names[h->n] = strdup(name);
        h->messages[h->n] = strdup(strempty(message));
        if (!h->names[h->n] || !h->messages[h->n]) {
                free(h->names[h->n]);
                free(h->messages[h->n]);
                return -ENOMEM;
        }
        h->n++;
        return 0;
}

int sdloop_health_addf(SdloopHealth *h, const char *name, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return sdloop_health_add(h, name, msg);
}

void health_done(SdloopHealth *h) {
        for (size_t i = 0; i < h->n; i++) {
                free(h->names[i]);
                free(h->messages[i]);
        }
        h->names = mfree(h->names);
        h->messages = mfree(h->messages);
        h->n = 0;
}

int health_append_to_message(const SdloopHealth *h, sd_bus_message *m) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < h->n; i++) {
                r = sd_bus_message_append(m, "{ss}", h->names[i], h->messages[i]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* --- object tree ---------------------------------------------------------------------------------- */

typedef struct KindCounter {
        char *kind;
        uint64_t next;
        struct KindCounter *list_next;
} KindCounter;

static KindCounter *kind_counters;

static int kind_next_id(const char *kind, uint64_t *ret) {
        KindCounter *c;

        for (c = kind_counters; c; c = c->list_next)
                if (streq(c->kind, kind))
                        break;
        if (!c) {
                c = new0(KindCounter, 1);
                if (!c)
                        return -ENOMEM;
                c->kind = strdup(kind);
                if (!c->kind) {
                        free(c);
                        return -ENOMEM;
                }
                c->next = 1;
                c->list_next = kind_counters;
                kind_counters = c;
        }
        *ret = c->next++;
        return 0;
}

static char *name_from_path(const char *path) {
        const char *last, *prev = NULL;

        /* "/org/sdloop1/relayer/3" → "relayer/3"; the root → "sdloop1". */
        last = strrchr(path, '/');
        for (const char *p = path; p < last; p++)
                if (*p == '/')
                        prev = p;
        return strdup(prev ? prev + 1 : last + 1);
}

static int method_ready(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(call_done) SdloopCall call = {};
        SdloopObject *o = userdata;
        int r;

        /* Always ready: no call to keep. */
        if (!o->ops.ready)
                return sd_bus_reply_method_return(m, NULL);

        r = call_begin(&call, m, o);
        if (r < 0)
                return r;
        r = o->ops.ready(o->userdata, error);
        if (call_end(&call)) {
                /* Answered with sdloop_call_return_empty(); sd-bus would send a stray error. */
                sd_bus_error_free(error);
                return 1;
        }
        if (r < 0)
                /* The operation may have closed the object. */
                return sdloop_error_ensure(error, r, call.object ? call.object->name : "Ready");
        return sd_bus_reply_method_return(m, NULL);
}

int sdloop_object_health_report(SdloopObject *o, SdloopHealth *health) {
        int r;

        if (o->ops.health_report) {
                r = o->ops.health_report(o->userdata, health);
                if (r < 0)
                        return r;
        } else {
                r = sdloop_health_add(health, o->name, "");
                if (r < 0)
                        return r;
        }

        for (SdloopObject *c = o->children; c; c = c->sibling_next) {
                r = sdloop_object_health_report(c, health);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int method_health_report(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(health_done) SdloopHealth health = {};
        SdloopObject *o = userdata;
        int r;

        r = sdloop_object_health_report(o, &health);
        if (r < 0)
                return sdloop_error_ensure(error, r, "HealthReport");

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = health_append_to_message(&health, reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_close(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SdloopObject *o = userdata;
        int r;

        r = sd_bus_reply_method_return(m, NULL);
        /* Closing removes this very vtable; sd-bus copes with nodes removed from within a handler. */
        sdloop_object_close(o);
        return r;
}

static int property_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SdloopObject *o = userdata;

        return sd_bus_message_append(reply, "s", o->name);
}

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Ready", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_ready, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("HealthReport", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{ss}", report),
                                method_health_report, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_close, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* Every method of every object is counted (call-metrics.c): registered through a copy of its vtable whose
 * handlers go through these. */
static const CallWrap *service_wrap;

static int service_trampoline(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return call_metrics_dispatch(service_wrap, m, userdata, error);
}

static int interface_trampoline(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ObjectInterface *i = (ObjectInterface *) ((uint8_t *) userdata - offsetof(ObjectInterface, binding));

        return call_metrics_dispatch(i->wrap, m, userdata, error);
}

static const sd_bus_vtable *service_vtable_counted(void) {
        const CallWrap *w = __atomic_load_n(&service_wrap, __ATOMIC_ACQUIRE);

        if (!w) {
                w = call_metrics_wrap("org.sdloop1.Service", service_vtable, service_trampoline);
                if (!w)
                        return service_vtable;
                __atomic_store_n(&service_wrap, w, __ATOMIC_RELEASE);
        }
        return call_wrap_vtable(w);
}

const sd_bus_vtable *object_service_vtable(void) {
        return service_vtable;
}

/* --- scopes ------------------------------------------------------------------------------------------ */

Scope *scope_new(void) {
        Scope *s = new0(Scope, 1);

        if (s)
                s->n_ref = 1;
        return s;
}

Scope *scope_ref(Scope *s) {
        if (s)
                s->n_ref++;
        return s;
}

Scope *scope_unref(Scope *s) {
        if (!s)
                return NULL;
        assert(s->n_ref > 0);
        if (--s->n_ref > 0)
                return NULL;
        assert(s->n_peers == 0);
        assert(!s->objects);
        free(s->peers);
        return mfree(s);
}

static bool object_visible_on(SdloopObject *o, SdloopPeer *peer) {
        return o->peer == peer || o->shared;
}

SdloopObject *sdloop_peer_find_object(SdloopPeer *peer, const char *path) {
        if (!peer || !path || !peer->scope)
                return NULL;
        for (SdloopObject *o = peer->scope->objects; o; o = o->scope_next)
                if (streq(o->path, path) && object_visible_on(o, peer))
                        return o;
        return NULL;
}

static int object_register(SdloopObject *o, SdloopPeer *peer, const char *interface, const sd_bus_vtable *vtable,
                           void *userdata) {
        ObjectSlot *slot;
        int r;

        slot = new0(ObjectSlot, 1);
        if (!slot)
                return -ENOMEM;

        r = sd_bus_add_object_vtable(sdloop_peer_get_bus(peer), &slot->slot, o->path, interface, vtable, userdata);
        if (r < 0) {
                free(slot);
                return r;
        }
        slot->peer = peer;
        slot->next = o->slots;
        o->slots = slot;
        return 0;
}

/* Register everything the object carries on one more connection. */
static int object_register_all(SdloopObject *o, SdloopPeer *peer) {
        int r;

        r = object_register(o, peer, "org.sdloop1.Service", service_vtable_counted(), o);
        if (r < 0)
                return r;
        for (ObjectInterface *i = o->interfaces; i; i = i->next) {
                r = object_register(o, peer, i->interface, i->vtable, &i->binding);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void object_unregister(SdloopObject *o, SdloopPeer *peer) {
        for (ObjectSlot **s = &o->slots; *s;) {
                ObjectSlot *slot = *s;

                if (peer && slot->peer != peer) {
                        s = &slot->next;
                        continue;
                }
                *s = slot->next;
                sd_bus_slot_unref(slot->slot);
                free(slot);
        }
}

int peer_join_scope(SdloopPeer *peer, Scope *scope) {
        int r;

        assert(peer);
        assert(scope);

        if (peer->scope == scope)
                return 0;
        if (peer->scope && peer->scope->objects)
                return -EBUSY;

        SdloopPeer **peers = reallocarray(scope->peers, scope->n_peers + 1, sizeof(SdloopPeer *));
        if (!peers)
                return -ENOMEM;
        scope->peers = peers;

        /* Leave the private scope it was born with. */
        peer_leave_scope(peer);
        scope->peers[scope->n_peers++] = peer;
        peer->scope = scope_ref(scope);

        for (SdloopObject *o = scope->objects; o; o = o->scope_next)
                if (o->shared) {
                        r = object_register_all(o, peer);
                        if (r < 0)
                                return r;
                }
        return 0;
}

void peer_close_objects(SdloopPeer *peer) {
        Scope *scope = peer->scope;
        bool again;

        if (!scope)
                return;

        /* Close what this connection owns (roots of its subtrees first take their children along), then
         * forget this connection's registrations of everybody else's objects. Closing may close objects of
         * the same owner further down the list, so start over after each close. */
        do {
                again = false;
                for (SdloopObject *o = scope->objects; o; o = o->scope_next) {
                        if (o->peer != peer)
                                continue;
                        while (o->parent && o->parent->peer == peer)
                                o = o->parent;
                        sdloop_object_close(o);
                        again = true;
                        break;
                }
        } while (again);

        for (SdloopObject *o = scope->objects; o; o = o->scope_next)
                object_unregister(o, peer);
}

void peer_leave_scope(SdloopPeer *peer) {
        Scope *scope = peer->scope;

        if (!scope)
                return;
        peer_close_objects(peer);
        for (size_t i = 0; i < scope->n_peers; i++)
                if (scope->peers[i] == peer) {
                        memmove(scope->peers + i, scope->peers + i + 1, (scope->n_peers - i - 1) * sizeof(SdloopPeer *));
                        scope->n_peers--;
                        break;
                }
        peer->scope = scope_unref(scope);
}

/* --- objects ------------------------------------------------------------------------------------------- */

int sdloop_object_new_at(SdloopPeer *peer, SdloopObject *parent, const char *path, const SdloopObjectOps *ops,
                         void *userdata, SdloopObject **ret) {
        SdloopObject *o;
        Scope *scope;
        int r;

        if (!peer || !path || !sd_bus_object_path_is_valid(path) || !peer->scope)
                return -EINVAL;
        if (parent && (parent->scope != peer->scope || parent->closing))
                return -EINVAL;
        scope = peer->scope;
        for (SdloopObject *i = scope->objects; i; i = i->scope_next)
                if (streq(i->path, path) && (i->shared || i->peer == peer || !streq(path, SDLOOP_ROOT_PATH)))
                        return -EEXIST;

        o = new0(SdloopObject, 1);
        if (!o)
                return -ENOMEM;
        o->peer = peer;
        o->scope = scope;
        /* Every connection has a root of its own; everything else is seen by the whole scope. */
        o->shared = !streq(path, SDLOOP_ROOT_PATH);
        o->userdata = userdata;
        if (ops)
                o->ops = *ops;
        o->path = strdup(path);
        o->name = ops && ops->name ? strdup(ops->name) : name_from_path(path);
        if (!o->path || !o->name) {
                r = -ENOMEM;
                goto fail;
        }

        for (size_t i = 0; i < scope->n_peers; i++) {
                if (!object_visible_on(o, scope->peers[i]))
                        continue;
                r = object_register_all(o, scope->peers[i]);
                if (r < 0)
                        goto fail;
        }

        o->scope_next = scope->objects;
        if (scope->objects)
                scope->objects->scope_prev = o;
        scope->objects = o;
        if (parent) {
                o->parent = parent;
                o->sibling_next = parent->children;
                if (parent->children)
                        parent->children->sibling_prev = o;
                parent->children = o;
        }
        metrics_objects_add(1);

        if (ret)
                *ret = o;
        return 0;

fail:
        object_unregister(o, NULL);
        free(o->path);
        free(o->name);
        free(o);
        return r;
}

int sdloop_object_new(SdloopPeer *peer, SdloopObject *parent, const char *kind, const SdloopObjectOps *ops,
                      void *userdata, SdloopObject **ret) {
        _cleanup_free_ char *path = NULL;
        uint64_t id;
        int r;

        if (!peer || !kind || isempty(kind))
                return -EINVAL;

        /* Numbers are built by hand: sd_bus_path_encode() would escape a leading digit. */
        do {
                r = kind_next_id(kind, &id);
                if (r < 0)
                        return r;
                path = mfree(path);
                if (asprintf(&path, SDLOOP_ROOT_PATH "/%s/%" PRIu64, kind, id) < 0)
                        return -ENOMEM;
        } while (sdloop_peer_find_object(peer, path));

        return sdloop_object_new_at(peer, parent, path, ops, userdata, ret);
}

int sdloop_object_add_interface(SdloopObject *o, const char *interface, const sd_bus_vtable *vtable,
                                const void *ops, void *userdata) {
        ObjectInterface *i;
        int r;

        if (!o || !interface || !vtable || o->closing)
                return -EINVAL;

        i = new0(ObjectInterface, 1);
        if (!i)
                return -ENOMEM;
        i->interface = strdup(interface);
        if (!i->interface) {
                free(i);
                return -ENOMEM;
        }
        i->wrap = call_metrics_wrap(interface, vtable, interface_trampoline);
        i->vtable = i->wrap ? call_wrap_vtable(i->wrap) : vtable;
        i->binding = (SdloopBinding) {
                .object = o,
                .ops = ops,
                .userdata = userdata,
        };
        i->next = o->interfaces;
        o->interfaces = i;

        for (size_t k = 0; k < o->scope->n_peers; k++) {
                if (!object_visible_on(o, o->scope->peers[k]))
                        continue;
                r = object_register(o, o->scope->peers[k], interface, i->vtable, &i->binding);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void object_unlink(SdloopObject *o) {
        if (o->parent) {
                if (o->sibling_prev)
                        o->sibling_prev->sibling_next = o->sibling_next;
                else
                        o->parent->children = o->sibling_next;
                if (o->sibling_next)
                        o->sibling_next->sibling_prev = o->sibling_prev;
                o->parent = NULL;
        }

        if (o->scope_prev)
                o->scope_prev->scope_next = o->scope_next;
        else if (o->scope->objects == o)
                o->scope->objects = o->scope_next;
        if (o->scope_next)
                o->scope_next->scope_prev = o->scope_prev;
        o->scope_prev = o->scope_next = NULL;
}

void sdloop_object_close(SdloopObject *o) {
        if (!o || o->closing)
                return;
        o->closing = true;

        /* Children first: a provider goes before the relayer that made it. */
        while (o->children)
                sdloop_object_close(o->children);

        /* Deferred calls first: their cancel handlers may still need the implementation's state. */
        object_cancel_calls(o);

        if (o->ops.close)
                o->ops.close(o->userdata);

        /* Closing removes vtables that may be running right now (Close()); sd-bus copes with nodes
         * removed from within a handler. */
        object_unregister(o, NULL);
        while (o->interfaces) {
                ObjectInterface *i = o->interfaces;

                o->interfaces = i->next;
                free(i->interface);
                free(i);
        }

        object_unlink(o);
        metrics_objects_add(-1);
        log_debug("Closed %s.", o->path);
        free(o->path);
        free(o->name);
        free(o);
}

const char *sdloop_object_get_path(SdloopObject *o) {
        return o ? o->path : NULL;
}

const char *sdloop_object_get_name(SdloopObject *o) {
        return o ? o->name : NULL;
}

void *sdloop_object_get_userdata(SdloopObject *o) {
        return o ? o->userdata : NULL;
}

SdloopPeer *sdloop_object_get_peer(SdloopObject *o) {
        return o ? o->peer : NULL;
}

SdloopObject *sdloop_object_get_parent(SdloopObject *o) {
        return o ? o->parent : NULL;
}

int sdloop_object_lookup(SdloopPeer *peer, const char *path, const char *field, SdloopObject **ret,
                         sd_bus_error *error) {
        SdloopObject *o;

        o = sdloop_peer_find_object(peer, path);
        if (!o)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "%s: no object at %s", strempty(field),
                                         strempty(path));
        if (ret)
                *ret = o;
        return 0;
}
