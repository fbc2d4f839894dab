/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloopd's Prometheus endpoint (metrics-http.c) and what it serves (metrics-scrape.c): every plugin's own
 * metrics, collected over its D-Bus connection with org.sdloop1.Metrics.Collect() (plugins are sandboxed to
 * AF_UNIX and open no port), the service manager's accounting of each plugin, sdloopd's own figures and
 * the feeds'. A scrape asks every plugin at once with a deadline and never waits past it: a plugin that
 * does not answer in time is marked stale (sdloop_plugin_scrape_up 0) and the rest is served. */

#include <stddef.h>
#include <stdint.h>

#include "sdloopd.h"

#define METRICS_SCRAPE_TIMEOUT_USEC_DEFAULT (1 * USEC_PER_SEC)

typedef struct MetricsScrape MetricsScrape;

/* @text (malloc'd, taken over) is the exposition, or NULL with @r < 0. Told once, from the event loop. */
typedef void (*metrics_scrape_fn)(int r, char *text, size_t size, void *userdata);

/* @plugin: only that plugin's part (its metrics and accounting, as /plugins/<name>/metrics), or NULL for
 * everything. -ENOENT: no such plugin. */
int metrics_scrape_start(Daemon *d, const char *plugin, uint64_t timeout_usec, metrics_scrape_fn done,
                         void *userdata, MetricsScrape **ret);
MetricsScrape *metrics_scrape_cancel(MetricsScrape *s);

/* metrics-daemon.c: the plugins as the host sees them, and the feeds. */
typedef struct MetricsText MetricsText;
int metrics_render_daemon(Daemon *d, MetricsText *t);

/* metrics-http.c: listen on d->config->metrics_listen (nothing when NULL); stop. */
int metrics_http_start(Daemon *d);
void metrics_http_stop(Daemon *d);
