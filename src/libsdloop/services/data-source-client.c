/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.DataSource, the median plugin's side. */

#include "sdloop-data-source.h"
#include "service-util.h"

int sdloop_data_source_observe(SdloopPeer *peer, const char *path, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        char *value;
        int r;

        if (!peer || !path || !ts || !ret_value)
                return -EINVAL;

        r = sdloop_peer_new_call(peer, path, "org.sdloop1.DataSource", "Observe", &m);
        if (r < 0)
                return r;
        r = sdloop_append_report_timestamp(m, ts);
        if (r < 0)
                return service_append_failed(error, "report_timestamp", r);

        r = sdloop_peer_call(peer, m, 0, &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_decimal(reply, "Observe reply.value", &value, error);
        if (r < 0)
                return r;

        *ret_value = value;
        return 0;
}
