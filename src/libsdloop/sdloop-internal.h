/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Structures shared by peer.c, object.c and plugin.c. Not installed. */

#include "sdloop-object.h"
#include "sdloop-peer.h"

typedef struct ObjectInterface ObjectInterface;
typedef struct ObjectSlot ObjectSlot;
typedef struct Scope Scope;

struct ObjectInterface {
        char *interface;
        const sd_bus_vtable *vtable;
        SdloopBinding binding;
        ObjectInterface *next;
};

/* One registration of an object (Service or one interface) on one connection's bus. */
struct ObjectSlot {
        SdloopPeer *peer;
        sd_bus_slot *slot;
        ObjectSlot *next;
};

/* The connections that see the same objects. A plugin puts all its connections in one scope, so an
 * object created by the host's connection is visible (busctl tree, busctl call) on every other
 * connection too; it still belongs to, and dies with, the connection that created it. Each host-side
 * peer has a scope of its own. The root object (/org/sdloop1) is per connection and never shared. */
struct Scope {
        unsigned n_ref;
        SdloopPeer **peers;
        size_t n_peers;
        SdloopObject *objects;
};

struct SdloopObject {
        SdloopPeer *peer; /* the owner; not a reference: the peer owns its objects */
        Scope *scope;
        bool shared;      /* registered on every peer of the scope, not only the owner */
        SdloopObject *parent;

        /* Children, and siblings under the same parent. */
        SdloopObject *children;
        SdloopObject *sibling_prev, *sibling_next;

        /* Every object of the scope. */
        SdloopObject *scope_prev, *scope_next;

        char *path;
        char *name;
        SdloopObjectOps ops;
        void *userdata;

        ObjectInterface *interfaces;
        ObjectSlot *slots;
        bool closing;
};

struct SdloopPeer {
        unsigned n_ref;
        sd_bus *bus;
        sd_event *event;
        char *description;
        bool server;
        bool connected;
        bool borrowed; /* the bus belongs to someone else */
        uint64_t call_timeout;

        sd_bus_slot *disconnect_slot;
        sd_bus_slot *hello_slot;

        sdloop_peer_disconnect_handler_t disconnect_handler;
        void *disconnect_userdata;
        void *userdata;

        Scope *scope;
};

struct SdloopHealth {
        char **names;
        char **messages;
        size_t n;
};

void health_done(SdloopHealth *h);
int health_append_to_message(const SdloopHealth *h, sd_bus_message *m);

Scope *scope_new(void);
Scope *scope_ref(Scope *s);
Scope *scope_unref(Scope *s);

/* Move @peer into @scope (before it has objects): it gets every shared object of the scope. */
int peer_join_scope(SdloopPeer *peer, Scope *scope);
/* Close the objects @peer owns and drop its registrations of the others (connection gone). */
void peer_close_objects(SdloopPeer *peer);
/* peer_close_objects(), then leave the scope. */
void peer_leave_scope(SdloopPeer *peer);
