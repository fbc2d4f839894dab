/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.DataSource, the host's side: the value (or juels per fee coin) for a round. */

#include "sdloop-data-source.h"
#include "service-util.h"

static int observe_reply(sd_bus_message *m, const char *value, sd_bus_error *error) {
        _cleanup_free_ char *quoted = NULL;

        /* The median plugin parses this as a big integer; a bad one must stop here, not in its hands. */
        if (!sdloop_decimal_is_valid(value)) {
                quoted = service_quote(value, 96);
                return service_bad_return(m, error, "malformed decimal %s", strempty(quoted));
        }

        return sd_bus_reply_method_return(m, "s", value);
}

static int method_observe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const SdloopDataSourceOps *ops = BINDING_OPS(userdata, SdloopDataSourceOps);
        _cleanup_(call_done) SdloopCall call = {};
        _cleanup_free_ char *value = NULL;
        SdloopReportTimestamp ts;
        int r;

        r = sdloop_read_report_timestamp(m, "report_timestamp", &ts, error);
        if (r < 0)
                return r;

        if (!ops->observe)
                return service_unimplemented(m, error);

        r = call_begin(&call, m, BINDING_OBJECT(userdata));
        if (r < 0)
                return r;
        r = service_call_end(&call, m, ops->observe(BINDING_DATA(userdata), &ts, &value, error), error);
        if (r != 0)
                return r;

        return observe_reply(m, value, error);
}

int sdloop_data_source_observe_return(SdloopCall *c, const char *value) {
        return SERVICE_RETURN(c, observe_reply, value);
}

static const sd_bus_vtable data_source_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Observe", SD_BUS_ARGS("(ayuy)", report_timestamp), SD_BUS_RESULT("s", value),
                                method_observe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int sdloop_data_source_export(SdloopObject *o, const SdloopDataSourceOps *ops, void *userdata) {
        if (!o || !ops)
                return -EINVAL;
        return sdloop_object_add_interface(o, "org.sdloop1.DataSource", data_source_vtable, ops, userdata);
}
