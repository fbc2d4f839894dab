/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The metrics registry (sdloop-metrics.h) and its rendering in the Prometheus text format. Registration
 * and series lookup take the registry's lock; recording is relaxed atomics on values stored as the bits
 * of a double (counters and gauges) or as integers (histogram buckets), so that recording never allocates
 * and threads with event loops of their own may share a series. Metrics and series are never freed. */

#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "macro.h"
#include "sdloop-metrics.h"

struct SdloopMetricSeries {
        SdloopMetric *metric;
        char *values[SDLOOP_METRIC_LABELS_MAX];
        uint64_t value;    /* the bits of a double: counter, gauge, histogram sum */
        uint64_t count;    /* histogram */
        uint64_t *buckets; /* histogram: observations per bucket, not cumulative */
        SdloopMetricSeries *next;
};

struct SdloopMetric {
        SdloopMetricType type;
        char *name, *help;
        char *labels[SDLOOP_METRIC_LABELS_MAX];
        size_t n_labels;
        double bounds[SDLOOP_METRIC_BUCKETS_MAX];
        size_t n_bounds;
        SdloopMetricSeries *series, **series_tail;
        size_t n_series;
        SdloopMetric *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static SdloopMetric *registry, **registry_tail = &registry;

/* LOOP's buckets for call latency (its gRPC interceptors'). */
static const double call_buckets[] = { 0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120 };

const double *sdloop_metrics_call_buckets(size_t *ret_n) {
        if (ret_n)
                *ret_n = ELEMENTSOF(call_buckets);
        return call_buckets;
}

static bool name_is_valid(const char *s, bool colons) {
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++) {
                bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (colons && *p == ':');

                if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
                        return false;
        }
        return true;
}

static bool metric_matches(const SdloopMetric *m, SdloopMetricType type, const char * const *labels, size_t n_labels) {
        if (m->type != type || m->n_labels != n_labels)
                return false;
        for (size_t i = 0; i < n_labels; i++)
                if (!streq(m->labels[i], labels[i]))
                        return false;
        return true;
}

static void metric_free(SdloopMetric *m) {
        if (!m)
                return;
        free(m->name);
        free(m->help);
        for (size_t i = 0; i < m->n_labels; i++)
                free(m->labels[i]);
        free(m);
}

int sdloop_metric_register(SdloopMetricType type, const char *name, const char *help, const char * const *labels,
                           const double *buckets, size_t n_buckets, SdloopMetric **ret) {
        SdloopMetric *m;
        size_t n_labels = 0;
        int r = 0;

        if (type < SDLOOP_METRIC_COUNTER || type > SDLOOP_METRIC_HISTOGRAM || !name_is_valid(name, true) || !ret)
                return -EINVAL;
        for (; labels && labels[n_labels]; n_labels++)
                if (n_labels >= SDLOOP_METRIC_LABELS_MAX || !name_is_valid(labels[n_labels], false) ||
                    strncmp(labels[n_labels], "__", 2) == 0 || streq(labels[n_labels], "le"))
                        return -EINVAL;
        if (type == SDLOOP_METRIC_HISTOGRAM) {
                if (!buckets)
                        buckets = sdloop_metrics_call_buckets(&n_buckets);
                if (n_buckets == 0 || n_buckets > SDLOOP_METRIC_BUCKETS_MAX)
                        return -EINVAL;
                for (size_t i = 0; i < n_buckets; i++)
                        if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                                return -EINVAL;
        } else if (buckets || n_buckets > 0)
                return -EINVAL;

        pthread_mutex_lock(&registry_lock);
        for (m = registry; m; m = m->next)
                if (streq(m->name, name))
                        break;
        if (m) {
                if (!metric_matches(m, type, labels, n_labels))
                        r = -EEXIST;
                goto done;
        }

        m = new0(SdloopMetric, 1);
        if (!m) {
                r = -ENOMEM;
                goto done;
        }
        m->type = type;
        m->name = strdup(name);
        m->help = strdup(strempty(help));
        m->series_tail = &m->series;
        for (size_t i = 0; i < n_labels; i++) {
                m->labels[i] = strdup(labels[i]);
                if (!m->labels[i])
                        r = -ENOMEM;
                m->n_labels++;
        }
        if (!m->name || !m->help || r < 0) {
                metric_free(m);
                m = NULL;
                r = -ENOMEM;
                goto done;
        }
        if (type == SDLOOP_METRIC_HISTOGRAM) {
                memcpy(m->bounds, buckets, n_buckets * sizeof(double));
                m->n_bounds = n_buckets;
        }
        *registry_tail = m;
        registry_tail = &m->next;
done:
        pthread_mutex_unlock(&registry_lock);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

static bool series_matches(const SdloopMetricSeries *s, const char * const *values) {
        for (size_t i = 0; i < s->metric->n_labels; i++)
                if (!streq(s->values[i], values[i]))
                        return false;
        return true;
}

static SdloopMetricSeries *series_new(SdloopMetric *m, const char * const *values) {
        SdloopMetricSeries *s;

        s = new0(SdloopMetricSeries, 1);
        if (!s)
                return NULL;
        s->metric = m;
        if (m->type == SDLOOP_METRIC_HISTOGRAM) {
                /* One more: the observations above the last bound (+Inf). */
                s->buckets = new0(uint64_t, m->n_bounds + 1);
                if (!s->buckets)
                        goto fail;
        }
        for (size_t i = 0; i < m->n_labels; i++) {
                s->values[i] = strdup(values[i]);
                if (!s->values[i])
                        goto fail;
        }
        return s;
fail:
        for (size_t i = 0; i < m->n_labels; i++)
                free(s->values[i]);
        free(s->buckets);
        free(s);
        return NULL;
}

SdloopMetricSeries *sdloop_metric_series(SdloopMetric *m, const char * const *values) {
        SdloopMetricSeries *s;

        if (!m)
                return NULL;
        if (m->n_labels > 0) {
                if (!values)
                        return NULL;
                for (size_t i = 0; i < m->n_labels; i++)
                        if (!values[i])
                                return NULL;
        }

        pthread_mutex_lock(&registry_lock);
        for (s = m->series; s; s = s->next)
                if (series_matches(s, values))
                        goto done;
        if (m->n_series >= SDLOOP_METRIC_SERIES_MAX)
                goto done;
        s = series_new(m, values);
        if (s) {
                *m->series_tail = s;
                m->series_tail = &s->next;
                m->n_series++;
        }
done:
        pthread_mutex_unlock(&registry_lock);
        return s;
}

static double bits_to_double(uint64_t u) {
        double d;

        memcpy(&d, &u, sizeof(d));
        return d;
}

static uint64_t double_to_bits(double d) {
        uint64_t u;

        memcpy(&u, &d, sizeof(u));
        return u;
}

static void value_add(uint64_t *p, double v) {
        uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), new;

        do
                new = double_to_bits(bits_to_double(old) + v);
        while (!__atomic_compare_exchange_n(p, &old, new, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

void sdloop_metric_add(SdloopMetricSeries *s, double v) {
        if (!s || isnan(v))
                return;
        if (s->metric->type == SDLOOP_METRIC_COUNTER && v >= 0)
                value_add(&s->value, v);
        else if (s->metric->type == SDLOOP_METRIC_GAUGE)
                value_add(&s->value, v);
}

void sdloop_metric_set(SdloopMetricSeries *s, double v) {
        if (s && s->metric->type == SDLOOP_METRIC_GAUGE)
                __atomic_store_n(&s->value, double_to_bits(v), __ATOMIC_RELAXED);
}

void sdloop_metric_observe(SdloopMetricSeries *s, double v) {
        const SdloopMetric *m;
        size_t i;

        if (!s || s->metric->type != SDLOOP_METRIC_HISTOGRAM || isnan(v))
                return;
        m = s->metric;
        for (i = 0; i < m->n_bounds && v > m->bounds[i]; i++)
                ;
        __atomic_fetch_add(&s->buckets[i], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
        value_add(&s->value, v);
}

double sdloop_metric_get(SdloopMetricSeries *s) {
        if (!s)
                return 0;
        if (s->metric->type == SDLOOP_METRIC_HISTOGRAM)
                return (double) __atomic_load_n(&s->count, __ATOMIC_RELAXED);
        return bits_to_double(__atomic_load_n(&s->value, __ATOMIC_RELAXED));
}

/* --- rendering ----------------------------------------------------------------------------------- */

static void put_escaped(FILE *f, const char *s, bool quote) {
        for (; *s; s++)
                if (*s == '\\')
                        fputs("\\\\", f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else if (*s == '"' && quote)
                        fputs("\\\"", f);
                else
                        fputc(*s, f);
}

static void put_double(FILE *f, double v) {
        if (isnan(v))
                fputs("NaN", f);
        else if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", f);
        else if (v == floor(v) && fabs(v) < 9007199254740992.0)
                fprintf(f, "%.0f", v);
        else
                fprintf(f, "%.17g", v);
}

/* {a="x",b="y"} plus an optional le="…" (histogram buckets); nothing for no labels at all. */
static void put_labels(FILE *f, const SdloopMetricSeries *s, const double *le) {
        const SdloopMetric *m = s->metric;

        if (m->n_labels == 0 && !le)
                return;
        fputc('{', f);
        for (size_t i = 0; i < m->n_labels; i++) {
                fprintf(f, "%s%s=\"", i > 0 ? "," : "", m->labels[i]);
                put_escaped(f, s->values[i], true);
                fputc('"', f);
        }
        if (le) {
                fprintf(f, "%sle=\"", m->n_labels > 0 ? "," : "");
                put_double(f, *le);
                fputc('"', f);
        }
        fputc('}', f);
}

static void render_series(FILE *f, const SdloopMetricSeries *s) {
        const SdloopMetric *m = s->metric;
        uint64_t cumulative = 0;

        if (m->type != SDLOOP_METRIC_HISTOGRAM) {
                fputs(m->name, f);
                put_labels(f, s, NULL);
                fputc(' ', f);
                put_double(f, bits_to_double(__atomic_load_n(&s->value, __ATOMIC_RELAXED)));
                fputc('\n', f);
                return;
        }

        for (size_t i = 0; i <= m->n_bounds; i++) {
                double le = i < m->n_bounds ? m->bounds[i] : INFINITY;

                cumulative += __atomic_load_n(&s->buckets[i], __ATOMIC_RELAXED);
                fprintf(f, "%s_bucket", m->name);
                put_labels(f, s, &le);
                fprintf(f, " %" PRIu64 "\n", cumulative);
        }
        fprintf(f, "%s_sum", m->name);
        put_labels(f, s, NULL);
        fputc(' ', f);
        put_double(f, bits_to_double(__atomic_load_n(&s->value, __ATOMIC_RELAXED)));
        /* The count is the +Inf bucket's, so that the two never disagree within one rendering. */
        fprintf(f, "\n%s_count", m->name);
        put_labels(f, s, NULL);
        fprintf(f, " %" PRIu64 "\n", cumulative);
}

int sdloop_metrics_render(char **ret) {
        static const char * const type_name[] = {
                [SDLOOP_METRIC_COUNTER] = "counter",
                [SDLOOP_METRIC_GAUGE] = "gauge",
                [SDLOOP_METRIC_HISTOGRAM] = "histogram",
        };
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (!ret)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        pthread_mutex_lock(&registry_lock);
        for (const SdloopMetric *m = registry; m; m = m->next) {
                /* A family without series says nothing: no HELP or TYPE either. */
                if (!m->series)
                        continue;
                fprintf(f, "# HELP %s ", m->name);
                put_escaped(f, m->help, false);
                fprintf(f, "\n# TYPE %s %s\n", m->name, type_name[m->type]);
                for (const SdloopMetricSeries *s = m->series; s; s = s->next)
                        render_series(f, s);
        }
        pthread_mutex_unlock(&registry_lock);

        r = ferror(f) ? -ENOMEM : 0;
        if (fclose(f) != 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        return 0;
}
