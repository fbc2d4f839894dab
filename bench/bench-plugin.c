/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The benchmark plugin (kind "bench"): the plugin runtime (sdloop_plugin_run) serving
 *
 *   - org.sdloop1.Bench.Echo(ay) → ay on the root object, the counterpart of the go-plugin anchor's
 *     Bench.Ping: the payload comes back unchanged;
 *   - org.sdloop1.PluginMedian on the root, whose factory makes ReportingPlugin objects with a cheap
 *     Observation: the "realistic call" goes through the library's own ReportingPlugin server code
 *     (ReportTimestamp validation, query copy, payload bound), like the anchor's Observe does through
 *     gRPC + protobuf. The observation has the size and shape of the anchor's Observation message.
 *
 * Not installed; built for `make bench` only. */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "sdloop.h"

#define ECHO_MAX (1024U * 1024U)

static int method_echo(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const void *data;
        size_t size;
        int r;

        /* Zero copy: the payload is read in place and appended to the reply once. */
        r = sd_bus_message_read_array(m, 'y', &data, &size);
        if (r < 0)
                return sdloop_error_invalid(error, "data", "expected ay: %s", strerror(-r));
        if (size > ECHO_MAX)
                return sdloop_error_invalid(error, "data", "%zu bytes, at most %u", size, ECHO_MAX);

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', data, size);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable bench_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Echo", SD_BUS_ARGS("ay", data), SD_BUS_RESULT("ay", echo), method_echo,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* --- ReportingPlugin with a cheap Observation ------------------------------------------------------ */

static void put_u64(uint8_t **p, uint64_t v) {
        for (unsigned i = 0; i < 8; i++)
                *(*p)++ = (uint8_t) (v >> (8 * i));
}

static int bench_observation(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                             SdloopBytes *ret_observation, sd_bus_error *error) {
        static const char feed[] = "ETH/USD";
        struct timespec now;
        uint8_t buf[8 * 4 + sizeof(feed) - 1 + 8 * 8], *p = buf;
        int64_t v = (int64_t) ts->epoch * 7 + ts->round;

        /* round, epoch, timestamp, value, feed id, 8 samples: the anchor's Observation, in fixed layout. */
        (void) clock_gettime(CLOCK_REALTIME, &now);
        put_u64(&p, ts->round);
        put_u64(&p, ts->epoch);
        put_u64(&p, (uint64_t) now.tv_sec * 1000000000ULL + (uint64_t) now.tv_nsec);
        put_u64(&p, (uint64_t) v);
        memcpy(p, feed, sizeof(feed) - 1);
        p += sizeof(feed) - 1;
        for (int i = -3; i <= 4; i++)
                put_u64(&p, (uint64_t) (v + i));

        return sdloop_bytes_copy(ret_observation, buf, (size_t) (p - buf));
}

static const SdloopReportingPluginOps reporting_plugin_ops = {
        .observation = bench_observation,
};

static int bench_new_reporting_plugin(void *userdata, SdloopObject *factory, const SdloopReportingPluginConfig *config,
                                      SdloopObject **ret, SdloopReportingPluginInfo *ret_info, sd_bus_error *error) {
        SdloopObject *o;
        char *name;
        int r;

        name = strdup("bench");
        if (!name)
                return -ENOMEM;

        r = sdloop_object_new(sdloop_object_get_peer(factory), factory, "reporting_plugin",
                              &(const SdloopObjectOps) { .name = "bench-reporting-plugin" }, NULL, &o);
        if (r < 0) {
                free(name);
                return r;
        }
        r = sdloop_reporting_plugin_export(o, &reporting_plugin_ops, NULL);
        if (r < 0) {
                free(name);
                sdloop_object_close(o);
                return r;
        }

        *ret = o;
        *ret_info = (SdloopReportingPluginInfo) {
                .name = name,
                .max_query_length = 1024,
                .max_observation_length = 1024,
                .max_report_length = 4096,
        };
        return 0;
}

static const SdloopReportingPluginFactoryOps factory_ops = {
        .new_reporting_plugin = bench_new_reporting_plugin,
};

static int bench_new_median_factory(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                    SdloopObject **ret, sd_bus_error *error) {
        SdloopObject *o;
        int r;

        r = sdloop_object_new(sdloop_object_get_peer(parent), parent, "factory",
                              &(const SdloopObjectOps) { .name = "bench-factory" }, NULL, &o);
        if (r < 0)
                return r;
        r = sdloop_reporting_plugin_factory_export(o, &factory_ops, NULL);
        if (r < 0) {
                sdloop_object_close(o);
                return r;
        }
        *ret = o;
        return 0;
}

static const SdloopPluginMedianOps plugin_median_ops = {
        .new_median_factory = bench_new_median_factory,
};

static int bench_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        int r;

        r = sdloop_object_add_interface(root, "org.sdloop1.Bench", bench_vtable, NULL, NULL);
        if (r < 0)
                return r;
        return sdloop_plugin_median_export(root, &plugin_median_ops, NULL);
}

int main(int argc, char *argv[]) {
        static const SdloopPluginDescription description = {
                .name = "bench",
                .kind = "bench",
                .version = "1.0",
                .connection_setup = bench_connection_setup,
        };

        return sdloop_plugin_run(&description, argc, argv);
}
