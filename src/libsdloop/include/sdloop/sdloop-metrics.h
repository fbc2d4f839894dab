/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Metrics: counters, gauges and histograms with labels, in one registry per process, rendered in the
 * Prometheus text exposition format (version 0.0.4). The runtime records its own figures here (every call
 * on both sides: sdloop_calls_total, sdloop_call_duration_seconds, sdloop_calls_in_flight; connections,
 * objects, proxy target changes) and serves the rendering as org.sdloop1.Metrics.Collect() at
 * /org/sdloop1 on every connection, so a plugin's figures reach the host over its D-Bus connection.
 *
 * A metric is registered once; a series (one set of label values) is made on first use and kept by the
 * caller: recording into a series allocates nothing and takes no lock (relaxed atomics: threads with event
 * loops of their own may record into the same series). Metrics and series live as long as the process. */

#include <stdbool.h>
#include <stddef.h>

typedef struct SdloopMetric SdloopMetric;
typedef struct SdloopMetricSeries SdloopMetricSeries;

typedef enum SdloopMetricType {
        SDLOOP_METRIC_COUNTER,
        SDLOOP_METRIC_GAUGE,
        SDLOOP_METRIC_HISTOGRAM,
} SdloopMetricType;

#define SDLOOP_METRIC_LABELS_MAX 6U
#define SDLOOP_METRIC_SERIES_MAX 2048U   /* per metric; further label values get no series */
#define SDLOOP_METRIC_BUCKETS_MAX 32U

/* Register a metric. @name: [a-zA-Z_:][a-zA-Z0-9_:]* (counters end in _total, durations in _seconds);
 * @labels: NULL or a NULL-terminated list of [a-zA-Z_][a-zA-Z0-9_]* names, none starting "__", nor "le";
 * @buckets (histograms only): ascending upper bounds, or NULL for the call buckets (LOOP's, 1 ms … 120 s).
 * Registering a name again with the same type and labels returns the metric already there; with a
 * different type or labels it is -EEXIST. -EINVAL for a bad name, label or bucket list. */
int sdloop_metric_register(SdloopMetricType type, const char *name, const char *help, const char * const *labels,
                           const double *buckets, size_t n_buckets, SdloopMetric **ret);

/* The series of @m for @values (as many as the metric has labels; NULL for none), made on first use. NULL
 * when out of memory or past SDLOOP_METRIC_SERIES_MAX; the recording functions accept NULL and do
 * nothing. Looking a series up takes a lock: keep it. */
SdloopMetricSeries *sdloop_metric_series(SdloopMetric *m, const char * const *values);

/* Counter: add @v >= 0 (negative values are ignored). Gauge: add @v (any sign). */
void sdloop_metric_add(SdloopMetricSeries *s, double v);
/* Gauge only. */
void sdloop_metric_set(SdloopMetricSeries *s, double v);
/* Histogram only: one observation of @v (seconds, for durations). */
void sdloop_metric_observe(SdloopMetricSeries *s, double v);
/* The value of a counter or gauge series, the count of a histogram series (0 for NULL). */
double sdloop_metric_get(SdloopMetricSeries *s);

/* Everything registered, in the text exposition format, in a new string. */
int sdloop_metrics_render(char **ret);

/* Off: calls are no longer counted (calls in flight are, to the end) and connections made from now on do
 * not serve org.sdloop1.Metrics. On by default; SDLOOP_METRICS (sdloop-env.h). */
void sdloop_metrics_set_enabled(bool b);

/* The call buckets, ascending, in seconds. */
const double *sdloop_metrics_call_buckets(size_t *ret_n);
