/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ErrorLog, the host's side: errors a plugin wants recorded in the host's log. */

#include "sdloop-error-log.h"
#include "service-util.h"

static int method_save_error(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopErrorLogOps *ops = BINDING_OPS(userdata, SdloopErrorLogOps);
        _cleanup_(call_done) SdloopCall call = {};
        const char *message;
        int r;

        /* The text ends up in the journal: bound what one plugin may make the host store per call. */
        r = service_read_string(m, "message", SDLOOP_ERROR_LOG_MESSAGE_MAX, &message, error);
        if (r < 0)
                return r;

        if (!ops->save_error)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->save_error(BINDING_DATA(userdata), message, error), error);
        if (r != 0)
                return r;

        /* No results: a deferred call is finished with sdloop_call_return_empty(). */
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable error_log_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("SaveError", SD_BUS_ARGS("s", message), SD_BUS_NO_RESULT, method_save_error,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_error_log_export(SdloopObject *o, const SdloopErrorLogOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.ErrorLog", error_log_vtable, ops, userdata);
}
