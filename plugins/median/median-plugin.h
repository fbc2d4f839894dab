/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus side of the median plugin: org.sdloop1.PluginMedian on the root of every connection, the
 * ReportingPluginFactory objects it creates and the ReportingPlugin objects those create. Decisions are
 * taken by median-rules.c; payloads are encoded by median-codec.c. */

#include "sdloop.h"

/* SdloopPluginDescription.connection_setup of the median plugin. */
int median_plugin_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata);
