/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.ErrorLog — served by the host (/org/sdloop1/host/error_log/<n>). */

#include "sdloop-object.h"

#define SDLOOP_ERROR_LOG_MESSAGE_MAX (64U * 1024U)

typedef struct SdloopErrorLogOps {
        int (*save_error)(void *userdata, const char *message, sd_bus_error *error);
} SdloopErrorLogOps;

int sdloop_error_log_export(SdloopObject *o, const SdloopErrorLogOps *ops, void *userdata);

int sdloop_error_log_save_error(SdloopPeer *peer, const char *path, const char *message, sd_bus_error *error);
