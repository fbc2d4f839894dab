/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.Metrics on every connection, and the runtime's own figures: open connections, objects, and
 * the proxies' target changes (a provider's plugin restarted and came back). */

#include "macro.h"
#include "sdloop-error.h"
#include "sdloop-internal.h"
#include "sdloop-log.h"
#include "sdloop-metrics.h"

static SdloopMetricSeries *runtime_gauge(const char *name, const char *help, SdloopMetricType type) {
        SdloopMetric *m;

        if (sdloop_metric_register(type, name, help, NULL, NULL, 0, &m) < 0)
                return NULL;
        return sdloop_metric_series(m, NULL);
}

static SdloopMetricSeries *connections(void) {
        static SdloopMetricSeries *s;
        SdloopMetricSeries *v = __atomic_load_n(&s, __ATOMIC_ACQUIRE);

        if (!v) {
                v = runtime_gauge("sdloop_connections", "Peer-to-peer connections open.", SDLOOP_METRIC_GAUGE);
                __atomic_store_n(&s, v, __ATOMIC_RELEASE);
        }
        return v;
}

void metrics_objects_add(int n) {
        static SdloopMetricSeries *s;
        SdloopMetricSeries *v = __atomic_load_n(&s, __ATOMIC_ACQUIRE);

        if (!v) {
                v = runtime_gauge("sdloop_objects", "Objects exported.", SDLOOP_METRIC_GAUGE);
                __atomic_store_n(&s, v, __ATOMIC_RELEASE);
        }
        sdloop_metric_add(v, n);
}

void metrics_proxy_target_changed(void) {
        static SdloopMetricSeries *s;
        SdloopMetricSeries *v = __atomic_load_n(&s, __ATOMIC_ACQUIRE);

        if (!v) {
                v = runtime_gauge("sdloop_proxy_target_changes_total",
                                  "Proxies pointed at a new target connection (the provider's plugin came back).",
                                  SDLOOP_METRIC_COUNTER);
                __atomic_store_n(&s, v, __ATOMIC_RELEASE);
        }
        sdloop_metric_add(v, 1);
}

static int method_collect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = sdloop_metrics_render(&text);
        if (r < 0)
                return sdloop_error_ensure(error, r, "Metrics.Collect");
        return sd_bus_reply_method_return(m, "s", text);
}

static const sd_bus_vtable metrics_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Collect", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", exposition), method_collect,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int metrics_attach(SdloopPeer *p) {
        int r;

        if (!p->metrics_counted) {
                sdloop_metric_add(connections(), 1);
                p->metrics_counted = true;
        }
        /* A shared bus has other peers, and other owners of /org/sdloop1, on it. */
        if (p->borrowed || !metrics_enabled())
                return 0;
        r = sd_bus_add_object_vtable(p->bus, &p->metrics_slot, SDLOOP_ROOT_PATH, "org.sdloop1.Metrics",
                                     metrics_vtable, p);
        return r == -EEXIST ? 0 : r;
}

void metrics_detach(SdloopPeer *p) {
        p->metrics_slot = sd_bus_slot_unref(p->metrics_slot);
        if (p->metrics_counted) {
                sdloop_metric_add(connections(), -1);
                p->metrics_counted = false;
        }
}
