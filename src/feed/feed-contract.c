/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Setting a feed up, and following its contract's configuration; both are state machines over the loop.
 *
 * Set-up (FEED_JOB_SETUP):
 *   probe     unless the signers are known: a throw-away config provider, LatestConfigDetails and
 *             LatestConfig — the keys the contract is configured with are reused if the Keystore holds them
 *   provider  the relayer's median provider, created with the contract configuration as seed
 *   contract  LatestConfigDetails, LatestConfig (checked: this feed's n, f and keys), then at once
 *             LatestConfigDigestAndEpoch, LatestTransmissionDetails and Ledger.TransmissionCount: where the
 *             rounds continue and what the ledger holds
 *   oracles   every oracle's factory and reporting plugin, all at once
 * and the match on the provider's ConfigChanged.
 *
 * Following (FEED_JOB_FOLLOW, on ConfigChanged or after the provider was re-created): LatestConfigDetails;
 * a new digest goes through "contract" above and then new reporting plugins for every oracle.
 *
 * Completions and failures end the job from a deferred event, never from inside the host's callback that
 * told of them: ending cancels what is still in flight, which must not happen under the host's feet. */

#include <stdarg.h>

#include "feed-internal.h"
#include "macro.h"

typedef enum SetupStep {
        SETUP_PROBE,
        SETUP_PROBE_DETAILS,
        SETUP_PROBE_CONFIG,
        SETUP_PROVIDER,
        SETUP_DETAILS,
        SETUP_CONFIG,
        SETUP_CONTRACT,
        SETUP_ORACLES,
        SETUP_DONE,
} SetupStep;

struct FeedSetup {
        Feed *feed;
        bool follow;
        SetupStep step;
        HostHandle *probe;
        FeedCall details, config, epoch, latest, count;
        unsigned n_pending;

        bool finishing;
        bool refused; /* by this feed (a contract set up otherwise…), not by a plugin */
        int r;
        sd_bus_error error;
        sd_event_source *finish;
};

static bool strv_contains(char * const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

static bool digest_is_zero(const uint8_t digest[static SDLOOP_DIGEST_SIZE]) {
        for (size_t i = 0; i < SDLOOP_DIGEST_SIZE; i++)
                if (digest[i] != 0)
                        return false;
        return true;
}

/* --- ending ---------------------------------------------------------------------------------------------- */

static void setup_free(FeedSetup *s) {
        if (!s)
                return;
        feed_call_done(&s->details);
        feed_call_done(&s->config);
        feed_call_done(&s->epoch);
        feed_call_done(&s->latest);
        feed_call_done(&s->count);
        host_handle_close(s->probe);
        s->finish = sd_event_source_disable_unref(s->finish);
        sd_bus_error_free(&s->error);
        free(s);
}

static void on_config_signal(HostHandle *h, sd_bus_message *m, void *userdata);

static void setup_conclude(FeedSetup *s) {
        Feed *f = s->feed;
        bool follow = s->follow, ok = s->r >= 0, followed = s->step == SETUP_DONE;
        FeedReason reason = s->refused ? FEED_REASON_SETUP : feed_reason_from_error(s->r, &s->error);
        _cleanup_free_ char *msg = strdup(feed_error_message(&s->error, s->r));
        char prefix[17];
        int r;

        f->setup = NULL;
        f->job = FEED_JOB_NONE;
        setup_free(s);

        if (!ok && !follow) {
                feed_teardown(f);
                feed_count_failed(f, reason);
                feed_set_error(f, FEED_STARTING, "setting up: %s", strempty(msg));
                feed_job_done(f);
                return;
        }
        if (!ok) {
                /* The reporting plugins may be half replaced: start over at the next tick. */
                feed_teardown(f);
                feed_set_error(f, FEED_FAILING, "following the configuration of contract %s: %s",
                               f->config->contract_id, strempty(msg));
                feed_job_done(f);
                return;
        }

        feed_digest_hex_prefix(f->digest, prefix);
        if (!follow) {
                f->set_up = true;
                if (!f->config_match) {
                        r = host_handle_match_signal(f->provider_h, "org.sdloop1.ContractConfigTracker",
                                                     "ConfigChanged", on_config_signal, f, &f->config_match);
                        if (r < 0)
                                log_warning_errno(r, "Feed %s: cannot watch ConfigChanged of contract %s, "
                                                  "following it only after a crash of %s: %m", f->config->name,
                                                  f->config->contract_id, f->relayer->settings.name);
                }
                log_info("Feed %s: %" PRIu32 " oracles (f=%" PRIu32 ") on %s and %s, a round every %g s.",
                         f->config->name, f->config->n, f->config->f, f->relayer->settings.name,
                         f->median->settings.name, (double) f->config->round_interval_usec / 1e6);
        }
        if (f->hooks.config_followed && followed)
                f->hooks.config_followed(f, f->digest, f->hooks_userdata);
        if (follow) {
                feed_job_done(f);
                return;
        }

        /* The tick that set the feed up goes on with its round. */
        r = feed_round_start(f);
        if (r < 0) {
                feed_count_failed(f, FEED_REASON_INTERNAL);
                feed_set_error(f, FEED_FAILING, "cannot start a round: %s", strerror(-r));
                feed_job_done(f);
        }
}

static int on_finish(sd_event_source *es, void *userdata) {
        FeedSetup *s = userdata;

        setup_conclude(s);
        return 0;
}

/* Record the outcome (the first failure counts) and end the job from the loop. */
static void setup_finish(FeedSetup *s, int r, const sd_bus_error *error) {
        int k;

        if (s->finishing)
                return;
        s->finishing = true;
        s->r = r;
        if (r < 0) {
                if (error && sd_bus_error_is_set(error))
                        (void) sd_bus_error_copy(&s->error, error);
                else
                        (void) sdloop_error_ensure(&s->error, r, "set-up");
        }
        k = sd_event_add_defer(s->feed->host->event, &s->finish, on_finish, s);
        if (k < 0) {
                s->finish = NULL;
                log_error_errno(k, "Feed %s: cannot end its set-up from the loop: %m", s->feed->config->name);
                setup_conclude(s);
                return;
        }
        (void) sd_event_source_set_description(s->finish, "feed-setup-finish");
}

static void setup_refuse(FeedSetup *s, const char *format, ...) _printf_(2, 3);
static void setup_refuse(FeedSetup *s, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0) {
                setup_finish(s, -ENOMEM, NULL);
                return;
        }
        r = sdloop_error_setf(&e, SDLOOP_ERROR_INVALID_ARGUMENT, "%s", msg);
        s->refused = true;
        setup_finish(s, r, &e);
}

#define SETUP_OF(c) ((FeedSetup *) (c)->owner)

static void setup_call(FeedSetup *s, FeedCall *c, FeedCallKind kind, HostHandle *h, uint64_t block,
                       feed_call_done_fn done) {
        int r;

        feed_call_done(c);
        c->feed = s->feed;
        c->owner = s;
        c->kind = kind;
        c->block = block;
        r = feed_call_start(c, h, done);
        if (r < 0)
                setup_finish(s, r, NULL);
}

/* --- signers ------------------------------------------------------------------------------------------ */

/* The oracles' keys: those the contract is configured with (@config, NULL: none) if the Keystore holds all
 * of them (a restarted host goes on with the same signers), otherwise n new ones. */
static int choose_signers(Feed *f, const SdloopContractConfig *config, sd_bus_error *error) {
        _cleanup_strv_free_ char **accounts = NULL;
        bool reuse = false;
        int r;

        /* Listed, not made: the oracles' keys are made below, n at a time. */
        r = host_keystore_list(f->keystore, &accounts);
        if (r < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "keystore %s: %s",
                                         host_keystore_get_directory(f->keystore), strerror(-r));

        if (config && config->n_signers == f->config->n) {
                reuse = true;
                for (size_t i = 0; i < config->n_signers && reuse; i++) {
                        char hex[2 * 32 + 1];

                        if (config->signers[i].size != 32) {
                                reuse = false;
                                break;
                        }
                        feed_hex_encode(config->signers[i].data, 32, hex);
                        reuse = strv_contains(accounts, hex);
                        if (reuse) {
                                f->oracles[i].account = strdup(hex);
                                if (!f->oracles[i].account) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                        }
                }
        }
        if (reuse) {
                log_info("Feed %s: signing with the %" PRIu32 " keys contract %s is configured with.",
                         f->config->name, f->config->n, f->config->contract_id);
                return 0;
        }

        for (unsigned i = 0; i < f->config->n; i++) {
                free(f->oracles[i].account);
                r = host_keystore_create_account(f->keystore, &f->oracles[i].account);
                if (r < 0) {
                        f->oracles[i].account = NULL;
                        r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "keystore %s: cannot create a key: %s",
                                              host_keystore_get_directory(f->keystore), strerror(-r));
                        goto fail;
                }
        }
        log_info("Feed %s: created %" PRIu32 " signing keys for contract %s.", f->config->name, f->config->n,
                 f->config->contract_id);
        return 0;

fail:
        for (unsigned i = 0; i < f->config->n; i++)
                f->oracles[i].account = mfree(f->oracles[i].account);
        return r;
}

/* Transmitters from the relayer's own keystore (feed_set_transmitter_keystore()), for a feed that names
 * none: those the contract is configured with (@config, NULL: none) if the keystore holds all of them, else
 * its first n accounts, made as needed. The accounts stay in the relayer's keystore: the relayer transmits
 * from them; the feed only names them in the contract's configuration. */
static int choose_transmitters(Feed *f, const SdloopContractConfig *config, sd_bus_error *error) {
        HostKeystore *ks = f->transmitter_keystore;
        _cleanup_strv_free_ char **accounts = NULL;
        unsigned n = f->config->n;
        bool reuse;
        int r;

        if (!ks || !f->config->transmitters_default)
                return 0;

        r = host_keystore_list(ks, &accounts);
        if (r < 0)
                goto fail;

        reuse = config && strv_length(config->transmitters) == n;
        for (unsigned i = 0; reuse && i < n; i++)
                reuse = strv_contains(accounts, config->transmitters[i]);
        if (!reuse) {
                for (size_t k = strv_length(accounts); k < n; k++) {
                        r = host_keystore_create_account(ks, NULL);
                        if (r < 0)
                                goto fail;
                }
                strv_free(TAKE_PTR(accounts));
                r = host_keystore_list(ks, &accounts);
                if (r < 0)
                        goto fail;
                if (strv_length(accounts) < n) {
                        r = -EIO;
                        goto fail;
                }
        }

        for (unsigned i = 0; i < n; i++) {
                char *t = strdup(reuse ? config->transmitters[i] : accounts[i]);

                if (!t)
                        return -ENOMEM;
                free(f->config->transmitters[i]);
                f->config->transmitters[i] = t;
        }
        log_info("Feed %s: transmitting from account %s of %s's keystore%s.", f->config->name,
                 f->config->transmitters[0], f->relayer->settings.name,
                 reuse ? ", as contract's configuration says" : "");
        return 0;

fail:
        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "keystore %s: cannot choose transmitters: %s",
                                 host_keystore_get_directory(ks), strerror(-r));
}

/* --- the steps ------------------------------------------------------------------------------------------- */

static void setup_provider(FeedSetup *s);
static void setup_contract(FeedSetup *s);

static void setup_signers_chosen(FeedSetup *s, const SdloopContractConfig *config) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        host_handle_close(s->probe);
        s->probe = NULL;
        r = choose_signers(s->feed, config, &e);
        if (r >= 0) {
                r = choose_transmitters(s->feed, config, &e);
                /* Signers and transmitters are chosen together, or again both. */
                for (unsigned i = 0; r < 0 && i < s->feed->config->n; i++)
                        s->feed->oracles[i].account = mfree(s->feed->oracles[i].account);
        }
        if (r < 0) {
                setup_finish(s, r, &e);
                return;
        }
        setup_provider(s);
}

static void on_probe_config(FeedCall *c, int r, const sd_bus_error *error) {
        FeedSetup *s = SETUP_OF(c);

        if (s->finishing)
                return;
        if (r < 0) {
                setup_finish(s, r, error);
                return;
        }
        setup_signers_chosen(s, &c->config);
}

static void on_probe_details(FeedCall *c, int r, const sd_bus_error *error) {
        FeedSetup *s = SETUP_OF(c);

        if (s->finishing)
                return;
        if (r < 0) {
                setup_finish(s, r, error);
                return;
        }
        if (c->block == 0 && digest_is_zero(c->digest)) {
                /* Never configured: new keys. */
                setup_signers_chosen(s, NULL);
                return;
        }
        s->step = SETUP_PROBE_CONFIG;
        setup_call(s, &s->config, FEED_CALL_LATEST_CONFIG, s->probe, c->block, on_probe_config);
}

static void on_probe_created(HostHandle *h, int r, const sd_bus_error *error, void *userdata) {
        FeedSetup *s = userdata;

        if (r < 0) {
                s->probe = NULL;
                setup_finish(s, r, error);
                return;
        }
        s->step = SETUP_PROBE_DETAILS;
        setup_call(s, &s->details, FEED_CALL_LATEST_CONFIG_DETAILS, s->probe, 0, on_probe_details);
}

static void on_provider_created(HostHandle *h, int r, const sd_bus_error *error, void *userdata) {
        FeedSetup *s = userdata;

        if (r < 0) {
                s->feed->provider_h = NULL;
                setup_finish(s, r, error);
                return;
        }
        setup_contract(s);
}

static void setup_provider(FeedSetup *s) {
        Feed *f = s->feed;
        int r;

        free(f->relay_config_seed);
        r = feed_build_relay_config(f, true, &f->relay_config_seed);
        if (r < 0) {
                f->relay_config_seed = NULL;
                setup_finish(s, r, NULL);
                return;
        }
        s->step = SETUP_PROVIDER;
        r = host_handle_new_async(f->relayer, f->relayer_h, &feed_provider_handle_ops, f, on_provider_created, s,
                                  &f->provider_h);
        if (r < 0) {
                f->provider_h = NULL;
                setup_finish(s, r, NULL);
        }
}

/* The oracles' objects: a factory each, then its reporting plugin; all oracles at once. With @plugins_only
 * (a new configuration) the factories stay and only the reporting plugins are made anew. */
static void on_plugin_created(HostHandle *h, int r, const sd_bus_error *error, void *userdata);

static void oracle_new_plugin(FeedSetup *s, FeedOracle *o) {
        int r;

        r = host_handle_new_async(s->feed->median, o->factory, &feed_reporting_plugin_handle_ops, o,
                                  on_plugin_created, o, &o->plugin);
        if (r < 0) {
                o->plugin = NULL;
                setup_finish(s, r, NULL);
                return;
        }
        s->n_pending++;
}

static void oracle_created(FeedOracle *o) {
        FeedSetup *s = o->feed->setup;

        assert(s);
        assert(s->n_pending > 0);
        if (--s->n_pending == 0 && !s->finishing) {
                s->step = SETUP_DONE;
                setup_finish(s, 0, NULL);
        }
}

static void on_plugin_created(HostHandle *h, int r, const sd_bus_error *error, void *userdata) {
        FeedOracle *o = userdata;

        if (r < 0) {
                o->plugin = NULL;
                setup_finish(o->feed->setup, r, error);
                return;
        }
        oracle_created(o);
}

static void on_factory_created(HostHandle *h, int r, const sd_bus_error *error, void *userdata) {
        FeedOracle *o = userdata;
        FeedSetup *s = o->feed->setup;

        if (r < 0) {
                o->factory = NULL;
                setup_finish(s, r, error);
                return;
        }
        if (s->finishing)
                return;
        oracle_new_plugin(s, o);
        oracle_created(o);
}

static void setup_oracles(FeedSetup *s) {
        Feed *f = s->feed;
        int r;

        s->step = SETUP_ORACLES;
        s->n_pending = 0;
        for (unsigned i = 0; i < f->config->n && !s->finishing; i++) {
                FeedOracle *o = f->oracles + i;

                if (s->follow) {
                        host_handle_close(o->plugin);
                        o->plugin = NULL;
                        oracle_new_plugin(s, o);
                        continue;
                }
                r = host_handle_new_async(f->median, NULL, &feed_factory_handle_ops, o, on_factory_created, o,
                                          &o->factory);
                if (r < 0) {
                        o->factory = NULL;
                        setup_finish(s, r, NULL);
                        return;
                }
                s->n_pending++;
        }
}

/* What the ledger says about the feed's contract: its configuration (which must be this feed's), where the
 * rounds continue, and the latest transmission and count for the status. */
static void on_contract_part(FeedCall *c, int r, const sd_bus_error *error) {
        FeedSetup *s = SETUP_OF(c);
        Feed *f = s->feed;
        uint8_t old[SDLOOP_DIGEST_SIZE];
        char a[17], b[17];

        if (s->finishing)
                return;
        if (r < 0) {
                setup_finish(s, r, error);
                return;
        }
        if (--s->n_pending > 0)
                return;

        memcpy(old, f->digest, SDLOOP_DIGEST_SIZE);
        memcpy(f->digest, s->details.digest, SDLOOP_DIGEST_SIZE);
        sdloop_bytes_done(&f->onchain_config);
        sdloop_bytes_done(&f->contract_offchain_config);
        r = sdloop_bytes_copy(&f->onchain_config, s->config.config.onchain_config.data,
                              s->config.config.onchain_config.size);
        if (r >= 0)
                r = sdloop_bytes_copy(&f->contract_offchain_config, s->config.config.offchain_config.data,
                                      s->config.config.offchain_config.size);
        if (r < 0) {
                setup_finish(s, r, NULL);
                return;
        }

        /* Continue after the latest epoch the ledger recorded under this configuration: a round of it may
         * have been transmitted by an earlier run, and (epoch, round) must never repeat. */
        f->epoch = memcmp(s->epoch.digest, f->digest, SDLOOP_DIGEST_SIZE) == 0 ? s->epoch.epoch + 1 : 1;
        f->round_no = 0;
        /* Relayers give the current config digest with epoch and round 0 (the contract's view) or zeros
         * when nothing was transmitted; a timestamp means there is an answer. */
        if (s->latest.timestamp_usec != 0 || s->latest.epoch != 0 || s->latest.round != 0) {
                r = feed_set_latest(f, s->latest.epoch, s->latest.round, TAKE_PTR(s->latest.answer),
                                    s->latest.timestamp_usec);
                if (r < 0) {
                        setup_finish(s, r, NULL);
                        return;
                }
                /* A transmission under another configuration may have a later epoch: continue after it too,
                 * so that the epochs the ledger shows keep growing. */
                if (memcmp(s->latest.digest, f->digest, SDLOOP_DIGEST_SIZE) != 0 && s->latest.epoch >= f->epoch)
                        f->epoch = s->latest.epoch + 1;
        }
        f->ledger_transmissions = s->count.count;
        f->ledger_transmissions_known = true;

        feed_digest_hex_prefix(f->digest, b);
        if (s->follow) {
                feed_digest_hex_prefix(old, a);
                f->config_changes++;
                log_notice("Feed %s: contract %s changed configuration from %s… to %s…; new reporting plugins, "
                           "rounds continue at epoch %" PRIu32 ".", f->config->name, f->config->contract_id, a, b,
                           f->epoch);
        } else
                log_info("Feed %s: contract %s at config %s… (block %" PRIu64 "), rounds continue at epoch %"
                         PRIu32 ", %" PRIu64 " transmissions on the ledger.", f->config->name,
                         f->config->contract_id, b, s->details.block, f->epoch, f->ledger_transmissions);
        setup_oracles(s);
}

static void on_contract_config(FeedCall *c, int r, const sd_bus_error *error) {
        FeedSetup *s = SETUP_OF(c);
        Feed *f = s->feed;
        const SdloopContractConfig *cc = &c->config;

        if (s->finishing)
                return;
        if (r < 0) {
                setup_finish(s, r, error);
                return;
        }
        /* Someone else may have configured the contract since: then our keys would not count. */
        if (cc->n_signers != f->config->n || cc->f != f->config->f) {
                setup_refuse(s, "contract %s is configured for n=%zu, f=%u, not this feed's n=%" PRIu32 ", f=%"
                             PRIu32, f->config->contract_id, cc->n_signers, cc->f, f->config->n, f->config->f);
                return;
        }
        for (unsigned i = 0; i < f->config->n; i++) {
                char hex[2 * 32 + 1] = "";

                if (cc->signers[i].size == 32)
                        feed_hex_encode(cc->signers[i].data, 32, hex);
                if (!streq(hex, f->oracles[i].account)) {
                        setup_refuse(s, "contract %s is configured with other signers than this feed's keys",
                                     f->config->contract_id);
                        return;
                }
        }

        s->step = SETUP_CONTRACT;
        s->n_pending = 3;
        setup_call(s, &s->epoch, FEED_CALL_DIGEST_AND_EPOCH, f->provider_h, 0, on_contract_part);
        if (!s->finishing)
                setup_call(s, &s->latest, FEED_CALL_LATEST_TRANSMISSION, f->provider_h, 0, on_contract_part);
        if (!s->finishing)
                setup_call(s, &s->count, FEED_CALL_TRANSMISSION_COUNT, f->provider_h, 0, on_contract_part);
}

static void on_contract_details(FeedCall *c, int r, const sd_bus_error *error) {
        FeedSetup *s = SETUP_OF(c);
        Feed *f = s->feed;

        if (s->finishing)
                return;
        if (r < 0) {
                setup_finish(s, r, error);
                return;
        }
        if (s->follow && memcmp(c->digest, f->digest, SDLOOP_DIGEST_SIZE) == 0) {
                /* Nothing new (a signal for a configuration followed already, or a re-created provider). */
                setup_finish(s, 0, NULL);
                return;
        }
        if (c->block == 0 && digest_is_zero(c->digest)) {
                setup_refuse(s, "contract %s has no configuration", f->config->contract_id);
                return;
        }
        s->step = SETUP_CONFIG;
        setup_call(s, &s->config, FEED_CALL_LATEST_CONFIG, f->provider_h, c->block, on_contract_config);
}

static void setup_contract(FeedSetup *s) {
        s->step = SETUP_DETAILS;
        setup_call(s, &s->details, FEED_CALL_LATEST_CONFIG_DETAILS, s->feed->provider_h, 0,
                   on_contract_details);
}

/* --- ConfigChanged --------------------------------------------------------------------------------------- */

static void on_config_signal(HostHandle *h, sd_bus_message *m, void *userdata) {
        Feed *f = userdata;
        int r;

        /* What the signal says is read again from the contract: one LatestConfigDetails, and the job runs
         * between rounds. */
        log_debug("Feed %s: %s; reading the configuration of contract %s.", f->config->name,
                  m ? "ConfigChanged" : "its provider was created again", f->config->contract_id);
        if (f->job != FEED_JOB_NONE) {
                f->config_check = true;
                return;
        }
        r = feed_follow_start(f);
        if (r < 0)
                log_warning_errno(r, "Feed %s: cannot read the configuration of contract %s: %m", f->config->name,
                                  f->config->contract_id);
}

/* --- entry points ---------------------------------------------------------------------------------------- */

static int setup_new(Feed *f, bool follow, FeedSetup **ret) {
        FeedSetup *s;

        assert(f->job == FEED_JOB_NONE);
        s = new0(FeedSetup, 1);
        if (!s)
                return -ENOMEM;
        s->feed = f;
        s->follow = follow;
        s->error = SD_BUS_ERROR_NULL;
        f->setup = s;
        f->job = follow ? FEED_JOB_FOLLOW : FEED_JOB_SETUP;
        *ret = s;
        return 0;
}

int feed_setup_start(Feed *f) {
        FeedSetup *s;
        int r;

        r = setup_new(f, false, &s);
        if (r < 0)
                return r;

        f->relayer_h = feed_find_relayer_handle(f->relayer);
        if (!f->relayer_h) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                r = sdloop_error_setf(&e, SDLOOP_ERROR_NOT_FOUND,
                                      "plugin %s has no relayer (it needs a \"relayer\" configuration)",
                                      f->relayer->settings.name);
                s->refused = true;
                setup_finish(s, r, &e);
                return 0;
        }
        if (!f->relay_config_plain) {
                r = feed_build_relay_config(f, false, &f->relay_config_plain);
                if (r < 0) {
                        f->relay_config_plain = NULL;
                        setup_finish(s, r, NULL);
                        return 0;
                }
        }

        if (f->oracles[0].account) {
                setup_provider(s);
                return 0;
        }
        s->step = SETUP_PROBE;
        r = host_handle_new_async(f->relayer, f->relayer_h, &feed_config_provider_handle_ops, f, on_probe_created, s,
                                  &s->probe);
        if (r < 0) {
                s->probe = NULL;
                setup_finish(s, r, NULL);
        }
        return 0;
}

int feed_follow_start(Feed *f) {
        FeedSetup *s;
        int r;

        if (!f->set_up || !f->provider_h)
                return 0;
        r = setup_new(f, true, &s);
        if (r < 0)
                return r;
        f->config_check = false;
        setup_contract(s);
        return 0;
}

void feed_setup_cancel(Feed *f) {
        FeedSetup *s = f->setup;

        if (!s)
                return;
        f->setup = NULL;
        if (f->job == FEED_JOB_SETUP || f->job == FEED_JOB_FOLLOW)
                f->job = FEED_JOB_NONE;
        setup_free(s);
}

void feed_teardown(Feed *f) {
        f->config_match = host_signal_match_free(f->config_match);
        for (unsigned i = 0; f->oracles && i < f->config->n; i++) {
                /* Closing the factory closes its reporting plugin. */
                host_handle_close(f->oracles[i].factory);
                f->oracles[i].factory = f->oracles[i].plugin = NULL;
        }
        feed_connection_release(f);
        host_handle_close(f->provider_h);
        f->provider_h = NULL;
        f->relayer_h = NULL;
        f->set_up = false;
        feed_pending_clear(f);
}
