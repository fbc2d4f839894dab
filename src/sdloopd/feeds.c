/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The configured feeds: each a Feed (src/feed/feed.h) on two configured plugins, the relayer instance
 * (whose relayer makes the feed's provider) and the median instance. What feed.h asks of its owner, and how
 * it is done here:
 *
 *  - A feed is stopped before one of its plugins is stopped for good or reconfigured, and freed before one
 *    is freed. A feed runs while both its plugins are wanted: StopPlugin stops the feeds on the plugin
 *    first, StartPlugin/RestartPlugin start them again; Reload frees the feeds it removes or changes and
 *    stops the feeds on plugins it removes or changes, before it touches the plugins, then creates and
 *    starts what is configured.
 *  - A plugin that crashes, restarts or fails needs nothing from us: the feed's calls wait for the restart
 *    and its handles are re-created, and while a plugin stays away its rounds fail ("failing", or
 *    "starting" before set-up) with the reason in its status, until the plugin is back.
 *  - Stopping or freeing a feed cancels the round in flight (its calls and fetches), so requests may do it
 *    at any time.
 *
 * Every transmitted report is logged at info level with FEED_ID= and CONTRACT_ID= (and JOB_ID=), so that
 * `journalctl FEED_ID=eth-usd` lists them; the ledger stays the durable record. */

#include "macro.h"
#include "sdloopd.h"

DaemonFeed *daemon_find_feed(Daemon *d, const char *name) {
        for (DaemonFeed *f = d->feeds; f; f = f->next)
                if (streq(feed_get_name(f->feed), name))
                        return f;
        return NULL;
}

static void on_transmitted(Feed *hf, const SdloopReportContext *ctx, const SdloopBytes *report,
                           const SdloopAttributed *signatures, size_t n_signatures, void *userdata) {
        const FeedConfig *c = feed_get_config(hf);
        _cleanup_free_ char *feed_id = NULL, *contract_id = NULL, *job_id = NULL, *epoch = NULL, *round = NULL,
                *answer = NULL;
        FeedStatus st;
        bool known;

        feed_get_status(hf, &st);
        /* The ledger's latest transmission, read back after Transmit: this report's, unless that failed. */
        known = st.latest_answer && st.epoch == ctx->timestamp.epoch && st.round == ctx->timestamp.round;

        if (asprintf(&feed_id, "FEED_ID=%s", c->name) < 0 ||
            asprintf(&contract_id, "CONTRACT_ID=%s", c->contract_id) < 0 ||
            asprintf(&job_id, "JOB_ID=%" PRIi32, c->job_id) < 0 ||
            asprintf(&epoch, "SDLOOP_EPOCH=%" PRIu32, ctx->timestamp.epoch) < 0 ||
            asprintf(&round, "SDLOOP_ROUND=%u", ctx->timestamp.round) < 0 ||
            asprintf(&answer, "SDLOOP_ANSWER=%s", known ? st.latest_answer : "") < 0) {
                log_oom();
                return;
        }
        const char * const fields[] = { feed_id, contract_id, job_id, epoch, round, known ? answer : NULL, NULL };

        if (known)
                sdloop_log_internal(LOG_INFO, 0, __FILE__, __LINE__, __func__, fields,
                                    "Feed %s: epoch %" PRIu32 " round %u: answer %s transmitted (report %" PRIu64
                                    " on the ledger)", c->name, ctx->timestamp.epoch, ctx->timestamp.round,
                                    st.latest_answer, st.reports_transmitted);
        else
                sdloop_log_internal(LOG_INFO, 0, __FILE__, __LINE__, __func__, fields,
                                    "Feed %s: epoch %" PRIu32 " round %u: transmitted (report %" PRIu64 " on the "
                                    "ledger; the ledger's answer could not be read back)", c->name,
                                    ctx->timestamp.epoch, ctx->timestamp.round, st.reports_transmitted);
}

static const FeedHooks feed_hooks = {
        .transmitted = on_transmitted,
};

int daemon_feed_new(Daemon *d, const DaemonFeedConfig *fc, DaemonFeed **ret) {
        FeedConfig *config = NULL;
        Instance *relayer, *median;
        DaemonFeed *f, **at;
        HostKeystore *ks;
        int r;

        assert(d);
        assert(fc);

        /* The configuration checked that both are configured, of the right kinds. */
        relayer = daemon_find_instance(d, fc->config->relayer);
        median = daemon_find_instance(d, fc->config->median);
        if (!relayer || !median)
                return -ENOENT;

        r = daemon_feed_config_instantiate(fc, &config);
        if (r < 0)
                return r;

        f = new0(DaemonFeed, 1);
        if (!f) {
                feed_config_free(config);
                return -ENOMEM;
        }
        f->daemon = d;
        /* Takes over config, on failure too. */
        r = feed_new(d->host, config, relayer->plugin, median->plugin, d->ocr_keystore, &f->feed);
        if (r < 0) {
                free(f);
                return r;
        }
        feed_set_hooks(f->feed, &feed_hooks, f);
        /* The feed names transmitters from the relayer's own accounts; it never hands out the OCR keys. */
        if (instance_keystore(relayer, &ks) >= 0)
                feed_set_transmitter_keystore(f->feed, ks);

        /* Sorted by name, for ListFeeds. */
        for (at = &d->feeds; *at && strcmp(feed_get_name((*at)->feed), fc->name) < 0; at = &(*at)->next)
                ;
        f->next = *at;
        *at = f;

        if (ret)
                *ret = f;
        return 0;
}

void daemon_feed_free(DaemonFeed *f) {
        if (!f)
                return;

        for (DaemonFeed **at = &f->daemon->feeds; *at; at = &(*at)->next)
                if (*at == f) {
                        *at = f->next;
                        break;
                }

        feed_free(f->feed);
        free(f);
}

void daemon_feeds_free_all(Daemon *d) {
        while (d->feeds)
                daemon_feed_free(d->feeds);
}

unsigned daemon_feeds_create_missing(Daemon *d) {
        unsigned n = 0;

        for (size_t k = 0; k < d->config->n_feeds; k++) {
                const DaemonFeedConfig *fc = d->config->feeds + k;
                int r;

                if (daemon_find_feed(d, fc->name))
                        continue;
                r = daemon_feed_new(d, fc, NULL);
                if (r < 0) {
                        log_error_errno(r, "Feed %s: cannot set it up: %m", fc->name);
                        continue;
                }
                n++;
        }
        return n;
}

static bool feed_uses_instance(DaemonFeed *f, Instance *i) {
        return i && feed_uses_plugin(f->feed, i->plugin);
}

static void daemon_feed_stop(DaemonFeed *f) {
        feed_stop(f->feed);
}

void daemon_feeds_update(Daemon *d) {
        for (DaemonFeed *f = d->feeds; f; f = f->next) {
                const FeedConfig *c = feed_get_config(f->feed);
                Instance *relayer = daemon_find_instance(d, c->relayer), *median = daemon_find_instance(d, c->median);
                FeedStatus st;
                int r;

                feed_get_status(f->feed, &st);
                if (relayer && relayer->wanted && median && median->wanted) {
                        if (st.state != FEED_STOPPED)
                                continue;
                        r = feed_start(f->feed);
                        if (r < 0)
                                log_error_errno(r, "Feed %s: cannot start it: %m", c->name);
                } else if (st.state != FEED_STOPPED) {
                        log_info("Feed %s: plugin %s is stopped; stopping the feed until it is started again.",
                                 c->name, relayer && relayer->wanted ? c->median : c->relayer);
                        daemon_feed_stop(f);
                }
        }
}

void daemon_feeds_stop_using(Daemon *d, Instance *i) {
        for (DaemonFeed *f = d->feeds; f; f = f->next) {
                FeedStatus st;

                if (!feed_uses_instance(f, i))
                        continue;
                feed_get_status(f->feed, &st);
                if (st.state == FEED_STOPPED)
                        continue;
                log_info("Feed %s: stopping it with plugin %s.", feed_get_name(f->feed), instance_name(i));
                daemon_feed_stop(f);
        }
}

/* Whether @c runs plugin @name differently from the running configuration (or not at all). */
static bool plugin_changes(Daemon *d, const DaemonConfig *c, const char *name) {
        const DaemonPluginConfig *old = daemon_config_find_plugin(d->config, name),
                *new = daemon_config_find_plugin(c, name);

        return !old || !new || !daemon_plugin_config_equal(old, new);
}

void daemon_feeds_reload_prepare(Daemon *d, const DaemonConfig *c, unsigned *ret_removed, unsigned *ret_changed) {
        unsigned removed = 0, changed = 0;

        for (DaemonFeed *f = d->feeds, *next; f; f = next) {
                const FeedConfig *hc = feed_get_config(f->feed);
                const DaemonFeedConfig *old = NULL, *new = NULL;

                next = f->next;
                for (size_t k = 0; k < d->config->n_feeds; k++)
                        if (streq(d->config->feeds[k].name, hc->name))
                                old = d->config->feeds + k;
                for (size_t k = 0; k < c->n_feeds; k++)
                        if (streq(c->feeds[k].name, hc->name))
                                new = c->feeds + k;

                if (!new) {
                        log_info("Feed %s was removed from the configuration; stopping it.", hc->name);
                        daemon_feed_free(f);
                        removed++;
                } else if (!old || !daemon_feed_config_equal(old, new) ||
                           !daemon_config_find_plugin(c, hc->relayer) || !daemon_config_find_plugin(c, hc->median)) {
                        /* Made anew, on the plugins it names now, once they are in place. */
                        log_info("Feed %s changed; restarting it with the new settings.", hc->name);
                        daemon_feed_free(f);
                        changed++;
                } else if (plugin_changes(d, c, hc->relayer) || plugin_changes(d, c, hc->median)) {
                        /* Its plugins are about to be restarted with new settings: again when they are. */
                        log_info("Feed %s: its plugins change; stopping it meanwhile.", hc->name);
                        daemon_feed_stop(f);
                }
        }

        if (ret_removed)
                *ret_removed = removed;
        if (ret_changed)
                *ret_changed = changed;
}
