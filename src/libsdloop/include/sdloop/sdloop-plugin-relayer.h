/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.PluginRelayer — on the root object /org/sdloop1 of a relayer plugin. */

#include "sdloop-object.h"

/* Any op may defer, answering later with the typed return below: see sdloop-call.h. */
typedef struct SdloopPluginRelayerOps {
        /* Create a relayer: an object made with sdloop_object_new(peer of @parent, @parent, "relayer", …)
         * carrying org.sdloop1.Relayer (sdloop_relayer_export()). @keystore_path names the host's Keystore
         * on the same connection; call it with sdloop_keystore_*(sdloop_object_get_peer(parent), …). */
        int (*new_relayer)(void *userdata, SdloopObject *parent, const char *config, const char *keystore_path,
                           SdloopObject **ret, sd_bus_error *error);
} SdloopPluginRelayerOps;

int sdloop_plugin_relayer_export(SdloopObject *root, const SdloopPluginRelayerOps *ops, void *userdata);
/* Answer a deferred NewRelayer() with the relayer created for it, which must still exist (checked as for
 * an immediate answer: on the connection of the call's root). */
int sdloop_plugin_relayer_new_relayer_return(SdloopCall *c, SdloopObject *relayer);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
