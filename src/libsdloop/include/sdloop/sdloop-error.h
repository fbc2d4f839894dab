/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The org.sdloop1.Error.* names and their errno mapping, registered with sd_bus_error_add_map(). */

#include <systemd/sd-bus.h>

#define SDLOOP_ERROR_PLUGIN_UNAVAILABLE "org.sdloop1.Error.PluginUnavailable" /* EHOSTDOWN */
#define SDLOOP_ERROR_INVALID_ARGUMENT   "org.sdloop1.Error.InvalidArgument"   /* EINVAL */
#define SDLOOP_ERROR_NOT_FOUND          "org.sdloop1.Error.NotFound"          /* ENOENT */
#define SDLOOP_ERROR_UNIMPLEMENTED      "org.sdloop1.Error.Unimplemented"     /* EOPNOTSUPP */
#define SDLOOP_ERROR_TIMEOUT            "org.sdloop1.Error.Timeout"           /* ETIMEDOUT */
#define SDLOOP_ERROR_INTERNAL           "org.sdloop1.Error.Internal"          /* EIO */

extern const sd_bus_error_map sdloop_error_map[];

/* Idempotent; every libsdloop entry point calls it, callers need not. */
void sdloop_error_register(void);

/* Fill @error with @name and a formatted message; returns the negative errno mapped to @name. */
int sdloop_error_setf(sd_bus_error *error, const char *name, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* InvalidArgument naming the field: "<field>: <reason>". Returns -EINVAL. */
int sdloop_error_invalid(sd_bus_error *error, const char *field, const char *format, ...)
        __attribute__((format(printf, 3, 4)));

/* Make sure @error carries an org.sdloop1 (or other) name after an implementation returned r < 0:
 * if it is unset, it becomes Internal (or the mapped name for EINVAL/ENOENT/…) with strerror(r).
 * Returns r. */
int sdloop_error_ensure(sd_bus_error *error, int r, const char *context);
