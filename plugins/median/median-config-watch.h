/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A factory's ear on its provider's ContractConfigTracker.ConfigChanged. The host forwards the relayer's
 * signals under the provider path it gave the factory, so the watch is on the factory's own connection. */

#include "median-plugin.h"

typedef struct MedianConfigWatch MedianConfigWatch;

/* Watch @provider on @peer; log lines name @owner (the factory's path). */
int median_config_watch_new(SdloopPeer *peer, const char *provider, const char *owner, MedianConfigWatch **ret);
MedianConfigWatch *median_config_watch_free(MedianConfigWatch *w);

/* What was heard so far. */
void median_config_watch_get(const MedianConfigWatch *w, MedianConfigChanges *ret);
