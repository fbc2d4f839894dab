/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The relayer (org.sdloop1.Relayer) over one ledger, and the plugin's root interface that creates it
 * (org.sdloop1.PluginRelayer). */

#include "sdloop-object.h"
#include "sdloop-plugin-relayer.h"
#include "sdloop-relayer.h"

extern const SdloopPluginRelayerOps ledger_plugin_relayer_ops;
extern const SdloopRelayerOps ledger_relayer_ops;

/* Export org.sdloop1.PluginRelayer on a connection's root object. */
int ledger_plugin_relayer_setup(SdloopObject *root);
