/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.DataSource — served by the host (/org/sdloop1/host/data_source/<n>), called by median
 * plugins for the value and the juels-per-fee-coin observations. */

#include "sdloop-object.h"

typedef struct SdloopDataSourceOps {
        /* *ret_value: a malloc'd decimal string; the library checks it before replying. */
        int (*observe)(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error);
} SdloopDataSourceOps;

int sdloop_data_source_export(SdloopObject *o, const SdloopDataSourceOps *ops, void *userdata);

/* The reply is validated: a malformed decimal from the other side is an InvalidArgument error. */
int sdloop_data_source_observe(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error);
