/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A feed's life cycle and its clock: the round timer, and which job runs when (feed-internal.h). */

#include <sodium.h>

#include "feed-internal.h"
#include "feed-median.h"
#include "macro.h"

/* --- the clock ------------------------------------------------------------------------------------------ */

static void feed_schedule_next(Feed *f) {
        uint64_t next = f->tick_usec + f->config->round_interval_usec, now = host_now();
        int r;

        if (!f->started)
                return;
        r = sd_event_source_set_time(f->timer, MAX(next, now));
        if (r >= 0)
                r = sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                feed_set_error(f, FEED_FAILING, "cannot arm the round timer: %s", strerror(-r));
}

void feed_job_done(Feed *f) {
        int r;

        assert(f->job == FEED_JOB_NONE);

        /* A ConfigChanged that came during the job, or a refused transmission: read the configuration now,
         * before the next round. */
        if (f->config_check && f->set_up && f->started) {
                r = feed_follow_start(f);
                if (r < 0)
                        log_warning_errno(r, "Feed %s: cannot read the configuration of contract %s: %m",
                                          f->config->name, f->config->contract_id);
        }
}

/* Every round_interval from the previous tick. A tick while a job still runs starts nothing: the round is
 * skipped, never overlapped. */
static int on_round_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Feed *f = userdata;
        int r;

        f->tick_usec = host_now();
        feed_schedule_next(f);

        if (f->job != FEED_JOB_NONE) {
                feed_count_skipped(f, FEED_REASON_BUSY);
                log_debug("Feed %s: the %s in progress is not done; skipping this round.", f->config->name,
                          f->job == FEED_JOB_ROUND ? "round" : f->job == FEED_JOB_SETUP ? "set-up" :
                          "change of configuration");
                return 0;
        }

        r = f->set_up ? feed_round_start(f) : feed_setup_start(f);
        if (r < 0) {
                feed_count_failed(f, FEED_REASON_INTERNAL);
                feed_set_error(f, f->set_up ? FEED_FAILING : FEED_STARTING, "cannot start a round: %s",
                               strerror(-r));
        }
        return 0;
}

/* --- public API ---------------------------------------------------------------------------------------- */

int feed_new(Host *h, FeedConfig *config, HostPlugin *relayer, HostPlugin *median, HostKeystore *keystore,
             Feed **ret) {
        static unsigned next_id = 1;
        _cleanup_(feed_config_freep) FeedConfig *c = config;
        Feed *f;
        int r;

        assert(h);
        assert(ret);

        if (!c || !relayer || !median || !keystore)
                return -EINVAL;
        if (!streq_ptr(relayer->settings.kind, SDLOOP_KIND_RELAYER) ||
            !streq_ptr(median->settings.kind, SDLOOP_KIND_MEDIAN))
                return -EMEDIUMTYPE;
        if (sodium_init() < 0)
                return -EIO;

        f = new0(Feed, 1);
        if (!f)
                return -ENOMEM;
        f->host = h;
        f->config = TAKE_PTR(c);
        f->relayer = relayer;
        f->median = median;
        f->keystore = keystore;
        f->state = FEED_STOPPED;
        f->last_reason = _FEED_REASON_INVALID;

        if (asprintf(&f->proxy_path, "/org/sdloop1/host/provider/%u", next_id++) < 0) {
                f->proxy_path = NULL;
                r = -ENOMEM;
                goto fail;
        }

        (void) feed_source_config_get_multiplier(f->config->value, &f->value_exponent);
        r = feed_median_offchain_config_encode(f->config, &f->offchain_config);
        if (r < 0)
                goto fail;

        f->oracles = new0(FeedOracle, f->config->n);
        if (!f->oracles) {
                r = -ENOMEM;
                goto fail;
        }
        for (unsigned i = 0; i < f->config->n; i++) {
                FeedOracle *o = f->oracles + i;
                const FeedOracleConfig *oc = f->config->oracles ? f->config->oracles + i : NULL;
                const FeedSourceConfig *sc[_SOURCE_MAX] = {
                        [SOURCE_VALUE] = oc && oc->value ? oc->value : f->config->value,
                        [SOURCE_JUELS] = oc && oc->juels_per_fee_coin ? oc->juels_per_fee_coin :
                                f->config->juels_per_fee_coin,
                };

                o->feed = f;
                o->id = i;
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        o->refs[k] = (FeedDataSourceRef) { .oracle = o, .kind = k };
                        r = feed_source_new(sc[k], h->event, i, &o->sources[k]);
                        if (r < 0)
                                goto fail;
                }
        }

        r = sd_event_add_time(h->event, &f->timer, CLOCK_MONOTONIC, 0, 0, on_round_timer, f);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(f->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(f->timer, "feed-round");

        *ret = f;
        return 0;

fail:
        feed_free(f);
        return r;
}

int feed_start(Feed *f) {
        int r;

        assert(f);

        if (f->started)
                return 0;
        /* The first round (and the set-up) at once. */
        r = sd_event_source_set_time(f->timer, host_now());
        if (r >= 0)
                r = sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                return r;
        f->started = true;
        f->state = FEED_STARTING;
        log_info("Feed %s: started.", f->config->name);
        return 0;
}

void feed_stop(Feed *f) {
        assert(f);

        if (f->timer)
                (void) sd_event_source_set_enabled(f->timer, SD_EVENT_OFF);
        /* Whatever is in flight is cancelled: its calls, its fetches, the objects being created. */
        feed_round_cancel(f);
        feed_setup_cancel(f);
        f->config_check = false;
        feed_teardown(f);
        if (f->started)
                log_info("Feed %s: stopped.", f->config->name);
        f->started = false;
        f->state = FEED_STOPPED;
}

Feed *feed_free(Feed *f) {
        if (!f)
                return NULL;

        feed_stop(f);
        f->timer = sd_event_source_disable_unref(f->timer);
        for (unsigned i = 0; f->oracles && i < f->config->n; i++) {
                FeedOracle *o = f->oracles + i;

                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        feed_source_free(o->sources[k]);
                        free(o->fetched[k]);
                        free(o->fetch_error[k]);
                        free(o->data_source_path[k]);
                }
                free(o->account);
        }
        free(f->oracles);
        feed_pending_clear(f);
        free(f->relay_config_seed);
        free(f->relay_config_plain);
        sdloop_bytes_done(&f->offchain_config);
        sdloop_bytes_done(&f->onchain_config);
        sdloop_bytes_done(&f->contract_offchain_config);
        free(f->proxy_path);
        free(f->error_log_path);
        free(f->latest_answer);
        free(f->latest_answer_decimal);
        free(f->outcome);
        free(f->last_error);
        feed_config_free(f->config);
        return mfree(f);
}

const char *feed_get_name(Feed *f) {
        return f->config->name;
}

const FeedConfig *feed_get_config(Feed *f) {
        return f->config;
}

bool feed_uses_plugin(Feed *f, HostPlugin *p) {
        return f && p && (f->relayer == p || f->median == p);
}

void feed_set_hooks(Feed *f, const FeedHooks *hooks, void *userdata) {
        f->hooks = hooks ? *hooks : (FeedHooks) {};
        f->hooks_userdata = userdata;
}

void feed_set_transmitter_keystore(Feed *f, HostKeystore *keystore) {
        assert(f);
        f->transmitter_keystore = keystore;
}

const char *feed_get_signer(Feed *f, unsigned oracle) {
        if (!f || oracle >= f->config->n)
                return NULL;
        return f->oracles[oracle].account;
}
