/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus side of the median plugin: org.sdloop1.PluginMedian on the root of every connection, the
 * ReportingPluginFactory objects it creates and the ReportingPlugin objects those create. Decisions are
 * taken by median-rules.c; payloads are encoded by median-codec.c. */

#include "sdloop.h"

/* SdloopPluginDescription.connection_setup of the median plugin. */
int median_plugin_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata);

/* What a factory heard of its provider's configuration through ConfigChanged: how many announcements,
 * and the latest one's block and digest (zero before the first). */
typedef struct MedianConfigChanges {
        uint64_t n;
        uint64_t changed_in_block;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
} MedianConfigChanges;

/* For tests and diagnostics in the plugin's own process: @factory is an object NewMedianFactory created
 * (-EINVAL otherwise). */
int median_factory_get_config_changes(SdloopObject *factory, MedianConfigChanges *ret);
