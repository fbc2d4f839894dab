/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.DataSource — served by the host (/org/sdloop1/host/data_source/<n>), called by median
 * plugins for the value and the juels-per-fee-coin observations. */

#include "sdloop-object.h"

/* Any op may defer, answering later with the typed return below: see sdloop-call.h. */
typedef struct SdloopDataSourceOps {
        /* *ret_value: a malloc'd decimal string; the library checks it before replying. */
        int (*observe)(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error);
} SdloopDataSourceOps;

int sdloop_data_source_export(SdloopObject *o, const SdloopDataSourceOps *ops, void *userdata);
/* Answer a deferred Observe() with a decimal (checked as for an immediate answer). */
int sdloop_data_source_observe_return(SdloopCall *c, const char *value);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
