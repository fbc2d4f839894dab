/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SdloopObject: one object exported on a peer connection at its own object path — that path is its id
 * (the provider id of LOOP). Objects form a tree: closing an object closes its children first; when the
 * connection goes away every object on it is closed. Each object carries org.sdloop1.Service (Ready,
 * HealthReport, Close, Name) plus the interfaces added with sdloop_object_add_interface(). */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "sdloop-peer.h"

typedef struct SdloopObject SdloopObject;

/* A health report: name → message, "" meaning healthy (org.sdloop1.Service.HealthReport's a{ss}). */
typedef struct SdloopHealth SdloopHealth;
int sdloop_health_add(SdloopHealth *h, const char *name, const char *message);
int sdloop_health_addf(SdloopHealth *h, const char *name, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

typedef struct SdloopObjectOps {
        /* Service name for Service.Name and health reports; NULL: the last two path elements. */
        const char *name;
        /* Ready(): 0 when ready; an error otherwise. NULL: always ready. It may defer and answer later with
         * sdloop_call_return_empty() (see sdloop-call.h); HealthReport() and Close() are always answered at
         * once. */
        int (*ready)(void *userdata, sd_bus_error *error);
        /* Add this object's own entries; children are added by the library (LOOP's SubService). NULL: one
         * healthy entry under the object's name. */
        int (*health_report)(void *userdata, SdloopHealth *health);
        /* The object is being closed (Close(), parent closed or connection gone); release resources. */
        void (*close)(void *userdata);
} SdloopObjectOps;

/* Create an object at /org/sdloop1/<kind>/<n>, n a per-process counter from 1 (kind may contain '/',
 * as in "host/data_source"). @parent may be NULL. */
int sdloop_object_new(SdloopPeer *peer, SdloopObject *parent, const char *kind, const SdloopObjectOps *ops,
                      void *userdata, SdloopObject **ret);
/* The same at an explicit path. -EEXIST if an object already lives there. */
int sdloop_object_new_at(SdloopPeer *peer, SdloopObject *parent, const char *path, const SdloopObjectOps *ops,
                         void *userdata, SdloopObject **ret);

/* A binding is what a method handler of an interface added below receives as its userdata. */
typedef struct SdloopBinding {
        SdloopObject *object;
        const void *ops;  /* the service's ops table */
        void *userdata;   /* the implementation's state */
} SdloopBinding;

/* Export @interface with @vtable on the object; its handlers get a SdloopBinding* as userdata. */
int sdloop_object_add_interface(SdloopObject *o, const char *interface, const sd_bus_vtable *vtable,
                                const void *ops, void *userdata);

/* Close the object and its children, remove it from the bus and free it. */
void sdloop_object_close(SdloopObject *o);

const char *sdloop_object_get_path(SdloopObject *o);
const char *sdloop_object_get_name(SdloopObject *o);
void *sdloop_object_get_userdata(SdloopObject *o);
SdloopPeer *sdloop_object_get_peer(SdloopObject *o);
SdloopObject *sdloop_object_get_parent(SdloopObject *o);

/* The object exported on @peer at @path, or NULL. */
SdloopObject *sdloop_peer_find_object(SdloopPeer *peer, const char *path);

/* Look up @path on the peer of @m's handler and check it is an object there; otherwise fill @error with
 * org.sdloop1.Error.NotFound naming @field. Used for "o" arguments that refer to objects of this side. */
int sdloop_object_lookup(SdloopPeer *peer, const char *path, const char *field, SdloopObject **ret,
                         sd_bus_error *error);

/* The aggregated health report of @o and its children, as Service.HealthReport returns it. */
int sdloop_object_health_report(SdloopObject *o, SdloopHealth *health);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
