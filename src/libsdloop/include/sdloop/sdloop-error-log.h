/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.ErrorLog — served by the host (/org/sdloop1/host/error_log/<n>). */

#include "sdloop-object.h"

#define SDLOOP_ERROR_LOG_MESSAGE_MAX (64U * 1024U)

/* Any op may defer: see sdloop-call.h. A deferred SaveError() is answered with sdloop_call_return_empty(). */
typedef struct SdloopErrorLogOps {
        int (*save_error)(void *userdata, const char *message, sd_bus_error *error);
} SdloopErrorLogOps;

int sdloop_error_log_export(SdloopObject *o, const SdloopErrorLogOps *ops, void *userdata);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
