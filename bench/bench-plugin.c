/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The benchmark plugin (kind "bench"): the plugin runtime (sdloop_plugin_run) serving
 *
 *   - org.sdloop1.Bench.Echo(ay) → ay on the root object, the counterpart of the go-plugin anchor's
 *     Bench.Ping: the payload comes back unchanged;
 *   - org.sdloop1.Bench.Wait(t) on the root, the counterpart of the anchor's Bench.Wait: a handler that
 *     waits on a dependency before it answers. It keeps a reference to the method call and answers it from
 *     an sd-event timer (sd-bus's deferred reply), so up to WAIT_PENDING_MAX Waits wait side by side while
 *     the loop serves other calls;
 *   - org.sdloop1.PluginMedian on the root, whose factory makes ReportingPlugin objects with a cheap
 *     Observation: the "realistic call" goes through the library's own ReportingPlugin server code
 *     (ReportTimestamp validation, query copy, payload bound), like the anchor's Observe does through
 *     gRPC + protobuf. The observation has the size and shape of the anchor's Observation message.
 *
 * Not installed; built for `make bench` only. */

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "macro.h"
#include "sdloop.h"

#define ECHO_MAX (1024U * 1024U)
/* A Wait holds a timer and the method call until it answers: a caller gets no more than that. */
#define WAIT_USEC_MAX (10 * USEC_PER_SEC)
#define WAIT_PENDING_MAX 4096U

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

/* The Waits being served, in the order they are due, under one timer for the first of them: Waits due
 * together are answered from one wakeup. A timer source per call would cost a wakeup for every call (timer
 * interrupt, epoll_wait, timerfd read and re-arm): about three times the plugin's CPU per Wait on a VM. */
typedef struct Wait Wait;
struct Wait {
        sd_bus_message *call;
        uint64_t due; /* CLOCK_MONOTONIC µs */
        Wait *prev, *next;
};

static struct {
        sd_event_source *timer;
        Wait *first, *last;
        unsigned n;
} waits;

static void wait_unlink_free(Wait *w) {
        if (w->prev)
                w->prev->next = w->next;
        else
                waits.first = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                waits.last = w->prev;
        waits.n--;
        sd_bus_message_unref(w->call);
        free(w);
}

static int on_waits_due(sd_event_source *s, uint64_t usec, void *userdata) {
        uint64_t now;
        int r;

        (void) sd_event_now(sd_event_source_get_event(s), CLOCK_MONOTONIC, &now);
        while (waits.first && waits.first->due <= now) {
                /* The caller may have gone meanwhile: then there is nobody to tell. */
                r = sd_bus_reply_method_return(waits.first->call, NULL);
                if (r < 0)
                        log_debug_errno(r, "Wait: cannot answer: %m");
                wait_unlink_free(waits.first);
        }
        if (!waits.first) {
                /* Nothing left to wait for: no timer holds the loop. */
                waits.timer = sd_event_source_disable_unref(waits.timer);
                return 0;
        }
        r = sd_event_source_set_time(s, waits.first->due);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Wait: cannot re-arm the timer, %u calls stay unanswered: %m", waits.n);
        return 0;
}

static int method_wait(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        sd_event *e = sd_bus_get_event(sd_bus_message_get_bus(m));
        uint64_t usec, now;
        Wait *w, *after;
        int r;

        r = sd_bus_message_read(m, "t", &usec);
        if (r < 0)
                return sdloop_error_invalid(error, "wait_usec", "expected t: %s", strerror(-r));
        if (usec > WAIT_USEC_MAX)
                return sdloop_error_invalid(error, "wait_usec", "%" PRIu64 " µs, at most %" PRIu64, usec,
                                            (uint64_t) WAIT_USEC_MAX);
        if (waits.n >= WAIT_PENDING_MAX)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%u Wait calls pending already, at most %u",
                                         waits.n, WAIT_PENDING_MAX);
        r = sd_event_now(e, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;

        if (!waits.timer) {
                /* Accuracy 1 µs: with sd-event's default a Wait could be answered up to 250 ms late. */
                r = sd_event_add_time(e, &waits.timer, CLOCK_MONOTONIC, now + usec, 1, on_waits_due, NULL);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(waits.timer, "bench-wait");
        }

        w = new0(Wait, 1);
        if (!w)
                return -ENOMEM;
        w->call = sd_bus_message_ref(m);
        w->due = now + usec;
        /* Calls with the same wait come in the order they are due: found at once from the end. */
        for (after = waits.last; after && after->due > w->due; after = after->prev)
                ;
        w->prev = after;
        w->next = after ? after->next : waits.first;
        if (w->next)
                w->next->prev = w;
        else
                waits.last = w;
        if (after)
                after->next = w;
        else
                waits.first = w;
        waits.n++;

        if (waits.first == w) {
                /* Due before every other: the timer moves to it (and is armed again if it had fired). */
                r = sd_event_source_set_time(waits.timer, w->due);
                if (r >= 0)
                        r = sd_event_source_set_enabled(waits.timer, SD_EVENT_ONESHOT);
                if (r < 0) {
                        wait_unlink_free(w);
                        return r;
                }
        }

        /* Answered later, from on_waits_due(); sd-bus sends nothing for a handler that returns >= 0. */
        return 1;
}

static const sd_bus_vtable bench_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Echo", SD_BUS_ARGS("ay", data), SD_BUS_RESULT("ay", echo), method_echo,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Wait", SD_BUS_ARGS("t", wait_usec), SD_BUS_NO_RESULT, method_wait,
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
