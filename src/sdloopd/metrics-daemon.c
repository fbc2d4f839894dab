/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloopd's own figures in a scrape: each plugin as the host sees it (state, restarts, recoveries, probes,
 * call timeouts) and each feed's counters (docs/feeds.md, "Counters"), read at render time from what the
 * host and the feeds keep anyway — nothing here is counted twice. */

#include <stdlib.h>

#include "feed.h"
#include "macro.h"
#include "metrics-text.h"
#include "metrics.h"
#include "otlp.h"

typedef struct FamilyDecl {
        const char *name, *type, *help;
} FamilyDecl;

static const FamilyDecl daemon_families[] = {
        { "sdloop_plugin_info", "gauge", "A configured plugin: its kind and backend (always 1)." },
        { "sdloop_plugin_state", "gauge", "The plugin's state as sdloopctl list shows it (1 for the current one)." },
        { "sdloop_plugin_restarts_total", "counter", "Restarts of the plugin seen by sdloopd." },
        { "sdloop_plugin_last_recovery_seconds", "gauge",
          "How long the plugin's latest recovery took, from the lost connection to running again." },
        { "sdloop_plugin_probes_total", "counter", "Health probes (Peer.Ping) sent to the plugin." },
        { "sdloop_plugin_probes_failed_total", "counter", "Health probes the plugin did not answer in time." },
        { "sdloop_plugin_host_call_timeouts_total", "counter",
          "sdloopd's calls into the plugin that ended in org.sdloop1.Error.Timeout." },
        { "sdloop_feed_info", "gauge", "A configured feed: its relayer and median plugins and contract (always 1)." },
        { "sdloop_feed_state", "gauge", "The feed's state (1 for the current one)." },
        { "sdloop_feed_rounds_started_total", "counter", "Rounds the feed started since sdloopd started it." },
        { "sdloop_feed_rounds_transmitted_total", "counter",
          "Rounds of this run whose report the ledger took." },
        { "sdloop_feed_rounds_skipped_total", "counter", "Rounds skipped, by reason." },
        { "sdloop_feed_rounds_failed_total", "counter", "Rounds failed, by reason." },
        { "sdloop_feed_reports_transmitted", "gauge",
          "Reports the ledger holds for the feed's contract (its durable record, across restarts of sdloopd)." },
        { "sdloop_feed_latest_answer", "gauge", "The latest answer on the ledger, scaled back by the value source's multiplier." },
        { "sdloop_feed_latest_timestamp_seconds", "gauge", "The ledger's timestamp of the latest transmission." },
        { "sdloop_feed_observations_failed_total", "counter", "Oracles left out of a round's observations (their sources failed)." },
        { "sdloop_feed_source_failures_total", "counter",
          "Reads of the oracles' data sources that failed, by source (value, juels_per_fee_coin)." },
        { "sdloop_feed_calls_timed_out_total", "counter", "The feed's calls that ended in org.sdloop1.Error.Timeout." },
        { "sdloop_feed_config_changes_total", "counter", "New configuration digests the feed followed." },
        { "sdloop_feed_last_round_duration_seconds", "gauge", "How long the latest round that ended took." },
        { "sdloop_spans_read_total", "counter", "Span entries read from the journal for the collector." },
        { "sdloop_spans_exported_total", "counter", "Spans the collector accepted." },
        { "sdloop_spans_dropped_total", "counter", "Spans dropped: the queue was full or the collector refused them." },
        { "sdloop_spans_malformed_total", "counter", "Span entries in the journal that were not valid spans." },
};

static int render_plugin(MetricsText *t, Instance *i) {
        HostPlugin *p = i->plugin;
        char name[256], kind[128], labels[512], l2[700];
        int r;

        metrics_label_escape(instance_name(i), name, sizeof(name));
        metrics_label_escape(strempty(p->settings.kind), kind, sizeof(kind));
        snprintf(labels, sizeof(labels), "plugin=\"%s\"", name);

        snprintf(l2, sizeof(l2), "%s,kind=\"%s\",backend=\"%s\"", labels, kind, i->daemon->backend_name);
        r = metrics_text_sample(t, "sdloop_plugin_info", "sdloop_plugin_info", l2, 1);
        for (HostPluginState s = 0; r >= 0 && s < _HOST_PLUGIN_STATE_MAX; s++) {
                snprintf(l2, sizeof(l2), "%s,state=\"%s\"", labels, host_plugin_state_to_string(s));
                r = metrics_text_sample(t, "sdloop_plugin_state", "sdloop_plugin_state", l2, p->state == s);
        }
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_plugin_restarts_total", "sdloop_plugin_restarts_total", labels,
                                        p->n_restarts);
        if (r >= 0 && p->last_recovery_usec > 0)
                r = metrics_text_sample(t, "sdloop_plugin_last_recovery_seconds",
                                        "sdloop_plugin_last_recovery_seconds", labels,
                                        (double) p->last_recovery_usec / USEC_PER_SEC);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_plugin_probes_total", "sdloop_plugin_probes_total", labels,
                                        p->n_probes);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_plugin_probes_failed_total", "sdloop_plugin_probes_failed_total",
                                        labels, p->n_probes_failed);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_plugin_host_call_timeouts_total",
                                        "sdloop_plugin_host_call_timeouts_total", labels, p->n_timeouts);
        return r;
}

static int render_counter(MetricsText *t, const char *family, const char *labels, const FeedCounter *c) {
        char l2[700];
        int r = 0;

        for (FeedReason k = 0; r >= 0 && k < _FEED_REASON_MAX; k++) {
                if (c->by_reason[k] == 0)
                        continue;
                snprintf(l2, sizeof(l2), "%s,reason=\"%s\"", labels, feed_reason_to_string(k));
                r = metrics_text_sample(t, family, family, l2, (double) c->by_reason[k]);
        }
        return r;
}

static int render_feed(MetricsText *t, DaemonFeed *df) {
        const FeedConfig *c = feed_get_config(df->feed);
        char name[256], relayer[256], median[256], contract[256], labels[512], l2[1400];
        FeedStatus st;
        int r;

        feed_get_status(df->feed, &st);
        metrics_label_escape(c->name, name, sizeof(name));
        snprintf(labels, sizeof(labels), "feed=\"%s\"", name);

        snprintf(l2, sizeof(l2), "%s,relayer=\"%s\",median=\"%s\",contract_id=\"%s\"", labels,
                 metrics_label_escape(c->relayer, relayer, sizeof(relayer)),
                 metrics_label_escape(c->median, median, sizeof(median)),
                 metrics_label_escape(c->contract_id, contract, sizeof(contract)));
        r = metrics_text_sample(t, "sdloop_feed_info", "sdloop_feed_info", l2, 1);
        for (FeedState s = 0; r >= 0 && s < _FEED_STATE_MAX; s++) {
                snprintf(l2, sizeof(l2), "%s,state=\"%s\"", labels, feed_state_to_string(s));
                r = metrics_text_sample(t, "sdloop_feed_state", "sdloop_feed_state", l2, st.state == s);
        }
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_feed_rounds_started_total", "sdloop_feed_rounds_started_total",
                                        labels, (double) st.rounds_started);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_feed_rounds_transmitted_total",
                                        "sdloop_feed_rounds_transmitted_total", labels, (double) st.rounds_transmitted);
        if (r >= 0)
                r = render_counter(t, "sdloop_feed_rounds_skipped_total", labels, &st.rounds_skipped);
        if (r >= 0)
                r = render_counter(t, "sdloop_feed_rounds_failed_total", labels, &st.rounds_failed);
        if (r >= 0 && st.reports_transmitted_known)
                r = metrics_text_sample(t, "sdloop_feed_reports_transmitted", "sdloop_feed_reports_transmitted",
                                        labels, (double) st.reports_transmitted);
        if (r >= 0 && st.latest_answer_decimal)
                r = metrics_text_sample(t, "sdloop_feed_latest_answer", "sdloop_feed_latest_answer", labels,
                                        strtod(st.latest_answer_decimal, NULL));
        if (r >= 0 && st.latest_answer)
                r = metrics_text_sample(t, "sdloop_feed_latest_timestamp_seconds",
                                        "sdloop_feed_latest_timestamp_seconds", labels,
                                        (double) st.latest_timestamp_usec / USEC_PER_SEC);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_feed_observations_failed_total",
                                        "sdloop_feed_observations_failed_total", labels,
                                        (double) st.observations_failed);
        if (r >= 0) {
                snprintf(l2, sizeof(l2), "%s,source=\"value\"", labels);
                r = metrics_text_sample(t, "sdloop_feed_source_failures_total", "sdloop_feed_source_failures_total",
                                        l2, (double) st.value_source_failures);
        }
        if (r >= 0) {
                snprintf(l2, sizeof(l2), "%s,source=\"juels_per_fee_coin\"", labels);
                r = metrics_text_sample(t, "sdloop_feed_source_failures_total", "sdloop_feed_source_failures_total",
                                        l2, (double) st.juels_source_failures);
        }
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_feed_calls_timed_out_total", "sdloop_feed_calls_timed_out_total",
                                        labels, (double) st.calls_timed_out);
        if (r >= 0)
                r = metrics_text_sample(t, "sdloop_feed_config_changes_total", "sdloop_feed_config_changes_total",
                                        labels, (double) st.config_changes);
        if (r >= 0 && st.last_round_usec > 0)
                r = metrics_text_sample(t, "sdloop_feed_last_round_duration_seconds",
                                        "sdloop_feed_last_round_duration_seconds", labels,
                                        (double) st.last_round_usec / USEC_PER_SEC);
        return r;
}

int metrics_render_daemon(Daemon *d, MetricsText *t) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(daemon_families); i++) {
                r = metrics_text_family(t, daemon_families[i].name, daemon_families[i].type, daemon_families[i].help);
                if (r < 0)
                        return r;
        }
        for (Instance *i = d->instances; i; i = i->next) {
                r = render_plugin(t, i);
                if (r < 0)
                        return r;
        }
        for (DaemonFeed *f = d->feeds; f; f = f->next) {
                r = render_feed(t, f);
                if (r < 0)
                        return r;
        }
        if (d->otlp) {
                OtlpStats st;

                otlp_exporter_get_stats(d->otlp, &st);
                r = metrics_text_sample(t, "sdloop_spans_read_total", "sdloop_spans_read_total", NULL,
                                        (double) st.spans_read);
                if (r >= 0)
                        r = metrics_text_sample(t, "sdloop_spans_exported_total", "sdloop_spans_exported_total",
                                                NULL, (double) st.spans_exported);
                if (r >= 0)
                        r = metrics_text_sample(t, "sdloop_spans_dropped_total", "sdloop_spans_dropped_total",
                                                NULL, (double) st.spans_dropped);
                if (r >= 0)
                        r = metrics_text_sample(t, "sdloop_spans_malformed_total", "sdloop_spans_malformed_total",
                                                NULL, (double) st.spans_malformed);
                if (r < 0)
                        return r;
        }
        return 0;
}
