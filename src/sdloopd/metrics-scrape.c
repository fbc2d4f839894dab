/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One scrape: for every plugin (or the one asked for) a Metrics.Collect() call on its connection and an
 * accounting request to its backend, all sent at once; when all have answered, or at the deadline, the
 * exposition is rendered from what came in and handed over. The daemon's own figures are read at the end,
 * so they are as fresh as the plugins'. Nothing here keeps a pointer to a plugin past the start: an entry
 * holds the plugin's name and its requests, whose replies or cancellation only fill the entry in. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host-backend.h"
#include "macro.h"
#include "metrics-text.h"
#include "metrics.h"
#include "sdloop-metrics.h"

#define METRICS_INTERFACE "org.sdloop1.Metrics"
#define METRICS_OBJECT "/org/sdloop1"

typedef enum CollectResult {
        COLLECT_PENDING,
        COLLECT_OK,
        COLLECT_DOWN,      /* no connection to ask on */
        COLLECT_TIMEOUT,
        COLLECT_ERROR,     /* an error answer, or a text that did not parse */
} CollectResult;

typedef struct ScrapeEntry {
        MetricsScrape *scrape;
        char *name;
        sd_bus_slot *collect_slot;
        CollectResult collect;
        char *text;
        size_t size;
        uint64_t collect_usec;
        HostAccountingRequest *accounting_request;
        bool accounting_pending;
        int accounting_result;
        HostAccounting accounting;
} ScrapeEntry;

struct MetricsScrape {
        Daemon *daemon;
        char *only;
        ScrapeEntry *entries;
        size_t n_entries;
        unsigned pending;
        uint64_t start_usec;
        sd_event_source *timer;
        sd_event_source *finish; /* deferred: render out of any reply handler */
        metrics_scrape_fn done;
        void *userdata;
};

static void entry_done(ScrapeEntry *e) {
        free(e->name);
        sd_bus_slot_unref(e->collect_slot);
        host_accounting_request_cancel(e->accounting_request);
        free(e->text);
}

MetricsScrape *metrics_scrape_cancel(MetricsScrape *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_entries; i++)
                entry_done(&s->entries[i]);
        free(s->entries);
        free(s->only);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->finish);
        return mfree(s);
}

static void metrics_scrape_cancelp(MetricsScrape **s) {
        metrics_scrape_cancel(*s);
}

static int on_finish(sd_event_source *es, void *userdata);

static void scrape_settle(MetricsScrape *s) {
        if (s->pending == 0 && !s->finish &&
            sd_event_add_defer(s->daemon->event, &s->finish, on_finish, s) < 0)
                /* Without a deferred source, the deadline renders it. */
                s->finish = NULL;
}

static int on_collected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ScrapeEntry *e = userdata;
        MetricsScrape *s = e->scrape;
        const sd_bus_error *err = sd_bus_message_get_error(m);
        const char *text;

        e->collect_slot = sd_bus_slot_unref(e->collect_slot);
        e->collect_usec = host_now() - s->start_usec;
        if (err)
                e->collect = sd_bus_error_has_name(err, SD_BUS_ERROR_NO_REPLY) ||
                        sd_bus_error_has_name(err, SDLOOP_ERROR_TIMEOUT) ? COLLECT_TIMEOUT : COLLECT_ERROR;
        else if (sd_bus_message_read(m, "s", &text) < 0 || strlen(text) > METRICS_TEXT_SOURCE_MAX)
                e->collect = COLLECT_ERROR;
        else {
                e->text = strdup(text);
                e->size = e->text ? strlen(text) : 0;
                e->collect = e->text ? COLLECT_OK : COLLECT_ERROR;
        }
        if (err && !sd_bus_error_has_name(err, SD_BUS_ERROR_NO_REPLY))
                log_debug("Metrics of plugin %s: %s: %s", e->name, err->name, strempty(err->message));
        s->pending--;
        scrape_settle(s);
        return 0;
}

static void on_accounted(HostPlugin *p, int r, const HostAccounting *a, void *userdata) {
        ScrapeEntry *e = userdata;

        e->accounting_request = NULL;
        e->accounting_pending = false;
        e->accounting_result = r;
        if (a)
                e->accounting = *a;
        e->scrape->pending--;
        scrape_settle(e->scrape);
}

static int entry_start(MetricsScrape *s, ScrapeEntry *e, Instance *i, uint64_t timeout_usec) {
        HostPlugin *p = i->plugin;
        int r;

        e->scrape = s;
        e->name = strdup(instance_name(i));
        if (!e->name)
                return -ENOMEM;

        if (p->peer && sdloop_peer_is_connected(p->peer) &&
            (p->state == HOST_PLUGIN_RUNNING || p->state == HOST_PLUGIN_UNRESPONSIVE)) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                sd_bus *bus = sdloop_peer_get_bus(p->peer);

                r = sd_bus_message_new_method_call(bus, &m, NULL, METRICS_OBJECT, METRICS_INTERFACE, "Collect");
                if (r >= 0)
                        r = sd_bus_call_async(bus, &e->collect_slot, m, on_collected, e, timeout_usec);
                if (r < 0)
                        e->collect = COLLECT_ERROR;
                else {
                        e->collect = COLLECT_PENDING;
                        s->pending++;
                }
        } else
                e->collect = COLLECT_DOWN;

        e->accounting_result = -ESRCH;
        if (p->main_pid > 0 || p->host->backend->accounting) {
                r = host_plugin_accounting_async(p, on_accounted, e, &e->accounting_request);
                if (r >= 0) {
                        e->accounting_pending = true;
                        s->pending++;
                } else
                        e->accounting_result = r;
        }
        return 0;
}

static int on_deadline(sd_event_source *es, uint64_t usec, void *userdata) {
        MetricsScrape *s = userdata;

        for (size_t i = 0; i < s->n_entries; i++) {
                ScrapeEntry *e = &s->entries[i];

                if (e->collect == COLLECT_PENDING) {
                        e->collect_slot = sd_bus_slot_unref(e->collect_slot);
                        e->collect = COLLECT_TIMEOUT;
                        e->collect_usec = host_now() - s->start_usec;
                }
                if (e->accounting_pending) {
                        e->accounting_request = host_accounting_request_cancel(e->accounting_request);
                        e->accounting_pending = false;
                        e->accounting_result = -ETIMEDOUT;
                }
        }
        s->pending = 0;
        return on_finish(NULL, s);
}

int metrics_scrape_start(Daemon *d, const char *plugin, uint64_t timeout_usec, metrics_scrape_fn done,
                         void *userdata, MetricsScrape **ret) {
        _cleanup_(metrics_scrape_cancelp) MetricsScrape *s = NULL;
        size_t n = 0;
        int r;

        if (plugin && !daemon_find_instance(d, plugin))
                return -ENOENT;
        for (Instance *i = d->instances; i; i = i->next)
                n++;

        s = new0(MetricsScrape, 1);
        if (!s)
                return -ENOMEM;
        s->daemon = d;
        s->done = done;
        s->userdata = userdata;
        s->start_usec = host_now();
        if (plugin && !(s->only = strdup(plugin)))
                return -ENOMEM;
        s->entries = new0(ScrapeEntry, n);
        if (!s->entries)
                return -ENOMEM;

        for (Instance *i = d->instances; i; i = i->next) {
                if (plugin && !streq(instance_name(i), plugin))
                        continue;
                r = entry_start(s, &s->entries[s->n_entries++], i, timeout_usec);
                if (r < 0)
                        return r;
        }

        r = sd_event_add_time_relative(d->event, &s->timer, CLOCK_MONOTONIC, timeout_usec, 0, on_deadline, s);
        if (r < 0)
                return r;
        scrape_settle(s);
        *ret = TAKE_PTR(s);
        return 0;
}

/* --- rendering ------------------------------------------------------------------------------------------ */

static const char *collect_result_to_string(CollectResult c) {
        switch (c) {
        case COLLECT_OK:
                return "ok";
        case COLLECT_DOWN:
                return "down";
        case COLLECT_TIMEOUT:
                return "timeout";
        case COLLECT_ERROR:
                return "error";
        default:
                return "pending";
        }
}

static int render_entry(MetricsText *t, ScrapeEntry *e) {
        char name[256], labels[512];
        unsigned line = 0;
        int r;

        metrics_label_escape(e->name, name, sizeof(name));
        snprintf(labels, sizeof(labels), "plugin=\"%s\"", name);

        if (e->collect == COLLECT_OK) {
                r = metrics_text_merge(t, e->text, e->size, "plugin", e->name, &line);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_warning("Metrics of plugin %s refused: not a valid exposition (line %u).", e->name,
                                    line);
                        e->collect = COLLECT_ERROR;
                }
        }

        r = metrics_text_sample(t, "sdloop_plugin_scrape_up", "sdloop_plugin_scrape_up", labels,
                                e->collect == COLLECT_OK);
        if (r >= 0) {
                char l2[600];

                snprintf(l2, sizeof(l2), "%s,result=\"%s\"", labels, collect_result_to_string(e->collect));
                r = metrics_text_sample(t, "sdloop_plugin_scrape_result", "sdloop_plugin_scrape_result", l2, 1);
        }
        if (r >= 0 && e->collect != COLLECT_DOWN)
                r = metrics_text_sample(t, "sdloop_plugin_scrape_duration_seconds",
                                        "sdloop_plugin_scrape_duration_seconds", labels,
                                        (double) e->collect_usec / USEC_PER_SEC);
        if (r < 0 || e->accounting_result < 0)
                return r;

        if (e->accounting.memory_bytes != HOST_ACCOUNTING_UNKNOWN)
                r = metrics_text_sample(t, "sdloop_plugin_memory_bytes", "sdloop_plugin_memory_bytes", labels,
                                        (double) e->accounting.memory_bytes);
        if (r >= 0 && e->accounting.cpu_usec != HOST_ACCOUNTING_UNKNOWN)
                r = metrics_text_sample(t, "sdloop_plugin_cpu_seconds_total", "sdloop_plugin_cpu_seconds_total",
                                        labels, (double) e->accounting.cpu_usec / USEC_PER_SEC);
        if (r >= 0 && e->accounting.tasks != HOST_ACCOUNTING_UNKNOWN)
                r = metrics_text_sample(t, "sdloop_plugin_tasks", "sdloop_plugin_tasks", labels,
                                        (double) e->accounting.tasks);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_plugin_unit_restarts_total", "sdloop_plugin_unit_restarts_total",
                                        labels, (double) e->accounting.n_restarts);
        return r;
}

static int render(MetricsScrape *s, char **ret, size_t *ret_size) {
        static const struct {
                const char *name, *type, *help;
        } families[] = {
                { "sdloop_plugin_scrape_up", "gauge",
                  "Whether the plugin answered Metrics.Collect() in time with a valid exposition (0: its metrics are stale)." },
                { "sdloop_plugin_scrape_result", "gauge", "How collecting the plugin's metrics ended (ok, down, timeout, error)." },
                { "sdloop_plugin_scrape_duration_seconds", "gauge", "How long Metrics.Collect() of the plugin took." },
                { "sdloop_plugin_memory_bytes", "gauge",
                  "Memory of the plugin: its unit's MemoryCurrent (systemd backends) or its process's VmRSS (exec backend)." },
                { "sdloop_plugin_cpu_seconds_total", "counter",
                  "CPU time of the plugin: its unit's CPUUsageNSec, or its process's utime + stime." },
                { "sdloop_plugin_tasks", "gauge", "Tasks of the plugin's unit (TasksCurrent), or threads of its process." },
                { "sdloop_plugin_unit_restarts_total", "counter", "Restarts of the plugin as its service manager counts them (NRestarts)." },
        };
        _cleanup_(metrics_text_freep) MetricsText *t = NULL;
        int r;

        r = metrics_text_new(&t);
        if (r < 0)
                return r;
        if (!s->only) {
                _cleanup_free_ char *own = NULL;

                r = metrics_render_daemon(s->daemon, t);
                if (r < 0)
                        return r;
                /* sdloopd's own calls (libsdloop's registry), as plugin="sdloopd": one label for every
                 * process keeps the families apart only by that label. */
                r = sdloop_metrics_render(&own);
                if (r < 0)
                        return r;
                r = metrics_text_merge(t, own, strlen(own), "plugin", "sdloopd", NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_warning("sdloopd's own metrics do not parse; left out.");
        }
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                r = metrics_text_family(t, families[i].name, families[i].type, families[i].help);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->n_entries; i++) {
                r = render_entry(t, &s->entries[i]);
                if (r < 0)
                        return r;
        }
        return metrics_text_render(t, ret, ret_size);
}

static int on_finish(sd_event_source *es, void *userdata) {
        MetricsScrape *s = userdata;
        char *text = NULL;
        size_t size = 0;
        int r;

        s->timer = sd_event_source_disable_unref(s->timer);
        s->finish = sd_event_source_disable_unref(s->finish);
        r = render(s, &text, &size);
        /* The caller may free @s from here on. */
        s->done(r, r < 0 ? NULL : text, size, s->userdata);
        return 0;
}
