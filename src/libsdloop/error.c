/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"

const sd_bus_error_map sdloop_error_map[] = {
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_PLUGIN_UNAVAILABLE, EHOSTDOWN),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_INVALID_ARGUMENT, EINVAL),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_NOT_FOUND, ENOENT),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_UNIMPLEMENTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(SDLOOP_ERROR_INTERNAL, EIO),
        SD_BUS_ERROR_MAP_END,
};

void sdloop_error_register(void) {
        /* sd_bus_error_add_map() ignores a map it already has. */
        (void) sd_bus_error_add_map(sdloop_error_map);
}

static int error_setv(sd_bus_error *error, const char *name, const char *format, va_list ap) {
        _cleanup_free_ char *msg = NULL;

        sdloop_error_register();

        if (vasprintf(&msg, format, ap) < 0)
                return -ENOMEM;

        /* sd_bus_error_set() returns the errno mapped to the name, negative. */
        return sd_bus_error_set(error, name, msg);
}

int sdloop_error_setf(sd_bus_error *error, const char *name, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = error_setv(error, name, format, ap);
        va_end(ap);
        return r;
}

int sdloop_error_invalid(sd_bus_error *error, const char *field, const char *format, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&reason, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        (void) sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT, "%s: %s", strempty(field), reason);
        return -EINVAL;
}

const char *error_name_from_errno(int r) {
        switch (r < 0 ? -r : r) {
        case EINVAL:
        case ERANGE:
        case EBADMSG:
        case ENXIO: /* sd-bus: an argument of the wrong type */
                return SDLOOP_ERROR_INVALID_ARGUMENT;
        case ENOENT:
                return SDLOOP_ERROR_NOT_FOUND;
        case EOPNOTSUPP:
                return SDLOOP_ERROR_UNIMPLEMENTED;
        case ETIMEDOUT:
                return SDLOOP_ERROR_TIMEOUT;
        case EHOSTDOWN:
        case ECONNRESET:
        case ENOTCONN:
        case ECONNREFUSED:
        case EPIPE:
                return SDLOOP_ERROR_PLUGIN_UNAVAILABLE;
        default:
                return SDLOOP_ERROR_INTERNAL;
        }
}

int sdloop_error_ensure(sd_bus_error *error, int r, const char *context) {
        if (r >= 0 || !error || sd_bus_error_is_set(error))
                return r;

        (void) sdloop_error_setf(error, error_name_from_errno(r), "%s%s%s", strempty(context), context ? ": " : "",
                                 strerror(-r));
        return r;
}
