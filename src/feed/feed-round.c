/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One round of a feed (feed.h has the steps) as a state machine over the host's loop. Each step issues its
 * calls — all oracles' at once where every oracle takes part — and the last answer moves the round on.
 * The round ends transmitted, skipped or failed (counted with a FeedReason) from a deferred event: ending
 * cancels whatever is still in flight, which must not happen inside the host's callback that told of an
 * answer. */

#include <sodium.h>
#include <stdarg.h>

#include "feed-internal.h"
#include "macro.h"
#include "sdloop-signing.h"
#include "sdloop-trace.h"
#include "util.h"

typedef enum RoundStep {
        ROUND_FETCH,
        ROUND_RETRANSMIT,
        ROUND_QUERY,
        ROUND_OBSERVE,
        ROUND_REPORT,
        ROUND_ACCEPT,
        ROUND_SHOULD_TRANSMIT,
        ROUND_TRANSMIT,
        ROUND_READ_BACK,
} RoundStep;

typedef enum RoundOutcome {
        ROUND_TRANSMITTED,
        ROUND_SKIPPED,
        ROUND_FAILED,
} RoundOutcome;

struct FeedRound {
        Feed *feed;
        RoundStep step;
        bool started; /* counted: it has its (epoch, round) */
        unsigned fetches_pending;

        SdloopReportContext ctx;
        unsigned leader;
        SdloopBytes query, report, payload;
        FeedCall calls[FEED_ORACLES_MAX];
        FeedCall latest, count;
        unsigned n_pending;

        SdloopAttributed *observations;
        size_t n_observations;
        unsigned n_timed_out, n_unavailable; /* of the observations that failed */
        bool accepted[FEED_ORACLES_MAX];
        unsigned n_accepted, first_accepting;
        SdloopAttributed *sigs;
        size_t n_sigs;
        bool transmit;
        char *failures, *signers;

        SdloopContext *trace; /* job, contract and feed of every call, and the round's trace */
        uint64_t trace_start; /* CLOCK_MONOTONIC, at the fetch: the round span's start and its duration's */

        bool finishing;
        RoundOutcome outcome;
        FeedReason reason;
        char *message;
        sd_event_source *finish;
};

#define ROUND_OF(c) ((FeedRound *) (c)->owner)

int feed_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error) {
        FeedDataSourceRef *ref = userdata;
        FeedOracle *o = ref->oracle;
        Feed *f = o->feed;
        unsigned k = ref->kind;
        const char *why = f->round_active ? "not the round in progress" : "no round in progress";
        char *value = NULL;
        int r;

        /* Values are fetched before the round starts; the DataSource only hands out the round's. */
        if (!f->round_active || ts->epoch != f->active.epoch || ts->round != f->active.round ||
            memcmp(ts->digest, f->active.digest, SDLOOP_DIGEST_SIZE) != 0)
                r = sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND,
                                      "feed %s has no observation for epoch %" PRIu32 " round %u: %s",
                                      f->config->name, ts->epoch, ts->round, why);
        else if (o->fetch_error[k])
                r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%s", o->fetch_error[k]);
        else if (!o->fetched[k])
                r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "%s: no value",
                                      feed_source_get_label(o->sources[k]));
        else {
                value = strdup(o->fetched[k]);
                if (!value)
                        return -ENOMEM;
                r = 0;
        }

        if (f->hooks.observed)
                f->hooks.observed(f, o->id, k == SOURCE_JUELS, ts, value, r < 0 ? error->message : NULL,
                                  f->hooks_userdata);
        if (r >= 0)
                *ret_value = value;
        return r;
}


void feed_pending_clear(Feed *f) {
        sdloop_bytes_done(&f->pending_report);
        sdloop_attributed_array_free(f->pending_sigs, f->n_pending_sigs);
        f->pending_sigs = NULL;
        f->n_pending_sigs = 0;
        f->pending = false;
}

/* --- ending ---------------------------------------------------------------------------------------------- */

static void round_free(FeedRound *rd) {
        Feed *f;

        if (!rd)
                return;
        f = rd->feed;
        for (unsigned i = 0; i < FEED_ORACLES_MAX; i++)
                feed_call_done(rd->calls + i);
        feed_call_done(&rd->latest);
        feed_call_done(&rd->count);
        for (unsigned i = 0; i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++)
                        feed_source_cancel(f->oracles[i].sources[k]);
        sdloop_bytes_done(&rd->query);
        sdloop_bytes_done(&rd->report);
        sdloop_bytes_done(&rd->payload);
        sdloop_attributed_array_free(rd->observations, rd->n_observations);
        sdloop_attributed_array_free(rd->sigs, rd->n_sigs);
        free(rd->failures);
        free(rd->signers);
        free(rd->message);
        rd->finish = sd_event_source_disable_unref(rd->finish);
        sdloop_context_unref(rd->trace);
        free(rd);
}

static const char *round_outcome_to_string(RoundOutcome o) {
        return o == ROUND_TRANSMITTED ? "transmitted" : o == ROUND_SKIPPED ? "skipped" : "failed";
}

static void round_conclude(FeedRound *rd) {
        Feed *f = rd->feed;
        const SdloopReportTimestamp *ts = &rd->ctx.timestamp;
        SdloopContext *previous = sdloop_context_set_current(rd->trace);

        (void) sdloop_context_end_span(rd->trace, "feed.round", rd->trace_start, round_outcome_to_string(rd->outcome));

        f->round = NULL;
        f->job = FEED_JOB_NONE;
        f->round_active = false;
        if (rd->started)
                f->last_round_usec = now_monotonic_usec() - rd->trace_start;
        if (sdloop_context_get_trace_id(rd->trace, f->latest_trace_id) < 0)
                f->latest_trace_id[0] = 0;
        f->latest_trace_sampled = sdloop_context_is_sampled(rd->trace);

        switch (rd->outcome) {
        case ROUND_TRANSMITTED:
                f->rounds_transmitted++;
                f->state = FEED_RUNNING;
                feed_set_outcome(f, "epoch %" PRIu32 " round %u: transmitted, answer %s (%zu observations, "
                                 "leader %u, signed by oracles %s)", ts->epoch, ts->round,
                                 strempty(f->latest_answer_decimal), rd->n_observations, rd->leader,
                                 strempty(rd->signers));
                log_info("Feed %s: %s.", f->config->name, f->outcome);
                /* After the status, so that the hook sees what the ledger recorded. */
                if (f->hooks.transmitted)
                        f->hooks.transmitted(f, &rd->ctx, &rd->report, rd->sigs, rd->n_sigs, f->hooks_userdata);
                break;
        case ROUND_SKIPPED:
                f->state = FEED_RUNNING;
                feed_count_skipped(f, rd->reason);
                feed_set_outcome(f, "epoch %" PRIu32 " round %u: %s", ts->epoch, ts->round, strempty(rd->message));
                if (rd->reason == FEED_REASON_NO_REPORT)
                        log_debug("Feed %s: %s.", f->config->name, f->outcome);
                else
                        log_info("Feed %s: %s.", f->config->name, f->outcome);
                break;
        case ROUND_FAILED:
                feed_count_failed(f, rd->reason);
                if (rd->started)
                        feed_set_error(f, FEED_FAILING, "epoch %" PRIu32 " round %u: %s", ts->epoch, ts->round,
                                       strempty(rd->message));
                else
                        feed_set_error(f, FEED_FAILING, "%s", strempty(rd->message));
                feed_set_outcome(f, "%s", strempty(f->last_error));
                break;
        }

        (void) sdloop_context_set_current(previous);
        round_free(rd);
        feed_job_done(f);
}

static int on_finish(sd_event_source *es, void *userdata) {
        round_conclude(userdata);
        return 0;
}

static void round_end(FeedRound *rd, RoundOutcome outcome, FeedReason reason, const char *format, ...)
        _printf_(4, 5);
static void round_end(FeedRound *rd, RoundOutcome outcome, FeedReason reason, const char *format, ...) {
        va_list ap;
        int r;

        if (rd->finishing)
                return;
        rd->finishing = true;
        rd->outcome = outcome;
        rd->reason = reason;
        if (format) {
                va_start(ap, format);
                if (vasprintf(&rd->message, format, ap) < 0)
                        rd->message = NULL;
                va_end(ap);
        }
        r = sd_event_add_defer(rd->feed->host->event, &rd->finish, on_finish, rd);
        if (r < 0) {
                rd->finish = NULL;
                log_error_errno(r, "Feed %s: cannot end the round from the loop: %m", rd->feed->config->name);
                round_conclude(rd);
                return;
        }
        (void) sd_event_source_set_description(rd->finish, "feed-round-finish");
}

#define round_fail(rd, reason, ...) round_end(rd, ROUND_FAILED, reason, __VA_ARGS__)
#define round_skip(rd, reason, ...) round_end(rd, ROUND_SKIPPED, reason, __VA_ARGS__)

static void round_fail_call(FeedRound *rd, const FeedCall *c, int r, const sd_bus_error *error) {
        round_fail(rd, feed_reason_from_error(r, error), "oracle %u: %s: %s", c->oracle,
                   feed_call_kind_to_string(c->kind), feed_error_message(error, r));
}

/* Issue @c of @kind on @h for oracle @oracle; a call that cannot be issued fails the round. */
static bool round_call(FeedRound *rd, FeedCall *c, FeedCallKind kind, unsigned oracle, HostHandle *h,
                       feed_call_done_fn done) {
        int r;

        feed_call_done(c);
        c->feed = rd->feed;
        c->owner = rd;
        c->kind = kind;
        c->oracle = oracle;
        c->ts = &rd->ctx.timestamp;
        c->query = &rd->query;
        c->report = &rd->report;
        c->trace = rd->trace;
        r = feed_call_start(c, h, done);
        if (r < 0) {
                round_fail(rd, FEED_REASON_INTERNAL, "oracle %u: cannot call %s: %s", oracle,
                           feed_call_kind_to_string(kind), strerror(-r));
                return false;
        }
        rd->n_pending++;
        return true;
}

/* Append "; <text>" to a bounded list of reasons. */
static void reasons_add(char **list, const char *format, ...) _printf_(2, 3);
static void reasons_add(char **list, const char *format, ...) {
        _cleanup_free_ char *item = NULL;
        char *joined;
        va_list ap;
        int k;

        if (*list && strlen(*list) > FEED_ERROR_MAX)
                return;
        va_start(ap, format);
        k = vasprintf(&item, format, ap);
        va_end(ap);
        if (k < 0)
                return;
        if (asprintf(&joined, "%s%s%s", strempty(*list), *list ? "; " : "", item) < 0)
                return;
        free(*list);
        *list = joined;
}

/* --- read back, transmit ------------------------------------------------------------------------------- */

static void on_read_back(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;

        if (rd->finishing)
                return;
        if (r < 0)
                /* The report is on the ledger: only the status stays behind until the next read. */
                log_debug("Feed %s: %s after transmitting failed: %s", f->config->name,
                          feed_call_kind_to_string(c->kind), feed_error_message(error, r));
        else if (c->kind == FEED_CALL_LATEST_TRANSMISSION) {
                r = feed_set_latest(f, c->epoch, c->round, TAKE_PTR(c->answer), c->timestamp_usec);
                if (r < 0)
                        log_warning_errno(r, "Feed %s: cannot keep the latest answer: %m", f->config->name);
        } else {
                f->ledger_transmissions = c->count;
                f->ledger_transmissions_known = true;
        }
        if (--rd->n_pending == 0)
                round_end(rd, ROUND_TRANSMITTED, 0, NULL);
}

static void on_transmit(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0) {
                FeedReason reason = feed_reason_from_error(r, error);

                if (reason == FEED_REASON_TIMEOUT || reason == FEED_REASON_PLUGIN_UNAVAILABLE) {
                        /* A relayer that did not come back in time: once more before the next round. */
                        feed_pending_clear(f);
                        f->pending = true;
                        f->pending_ctx = rd->ctx;
                        f->pending_report = rd->report;
                        rd->report = (SdloopBytes) {};
                        f->pending_sigs = TAKE_PTR(rd->sigs);
                        f->n_pending_sigs = rd->n_sigs;
                        rd->n_sigs = 0;
                } else {
                        /* A refusal is final; the contract may have moved to another configuration. */
                        reason = FEED_REASON_TRANSMIT_FAILED;
                        f->config_check = true;
                }
                round_fail(rd, reason, "Transmit: %s", feed_error_message(error, r));
                return;
        }

        /* What the ledger now holds is the status: its latest answer and its count. */
        rd->step = ROUND_READ_BACK;
        if (round_call(rd, &rd->latest, FEED_CALL_LATEST_TRANSMISSION, rd->leader, f->provider_h, on_read_back))
                (void) round_call(rd, &rd->count, FEED_CALL_TRANSMISSION_COUNT, rd->leader, f->provider_h,
                                  on_read_back);
}

static void round_transmit(FeedRound *rd) {
        FeedCall *c = rd->calls + 0;

        rd->step = ROUND_TRANSMIT;
        feed_call_done(c);
        c->ctx = &rd->ctx;
        c->sigs = rd->sigs;
        c->n_sigs = rd->n_sigs;
        (void) round_call(rd, c, FEED_CALL_TRANSMIT, rd->leader, rd->feed->provider_h, on_transmit);
}

/* --- should-transmit, sign, accept ---------------------------------------------------------------------- */

static void on_should_transmit(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0)
                log_warning("Feed %s: epoch %" PRIu32 " round %u: oracle %u: ShouldTransmitAcceptedReport: %s",
                            f->config->name, rd->ctx.timestamp.epoch, rd->ctx.timestamp.round, c->oracle,
                            feed_error_message(error, r));
        else if (c->yes)
                rd->transmit = true;
        if (rd->n_pending > 0)
                return;

        for (unsigned i = 0; i < f->config->n; i++)
                feed_call_done(rd->calls + i);
        if (!rd->transmit) {
                round_skip(rd, FEED_REASON_NOT_TRANSMITTED,
                           "not transmitted: no accepting oracle wants to transmit the report");
                return;
        }
        round_transmit(rd);
}

static void round_extra_hash(const SdloopReportTimestamp *ts, const SdloopBytes *query, uint8_t ret[static 32]) {
        crypto_hash_sha256_state st;
        uint8_t er[5] = {
                (uint8_t) (ts->epoch >> 24), (uint8_t) (ts->epoch >> 16), (uint8_t) (ts->epoch >> 8),
                (uint8_t) ts->epoch, ts->round,
        };

        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, ts->digest, SDLOOP_DIGEST_SIZE);
        crypto_hash_sha256_update(&st, er, sizeof(er));
        if (query->size > 0)
                crypto_hash_sha256_update(&st, query->data, query->size);
        crypto_hash_sha256_final(&st, ret);
}

/* f+1 accepting oracles, from the first accepting one after the leader on, sign the report. */
static int round_sign(FeedRound *rd) {
        Feed *f = rd->feed;
        unsigned n = f->config->n;
        int r;

        round_extra_hash(&rd->ctx.timestamp, &rd->query, rd->ctx.extra_hash);
        r = sdloop_report_signing_payload(&rd->ctx, rd->report.data, rd->report.size, &rd->payload);
        if (r < 0) {
                round_fail(rd, FEED_REASON_INTERNAL, "cannot build the signing payload: %s", strerror(-r));
                return r;
        }
        rd->sigs = new0(SdloopAttributed, f->config->f + 1);
        if (!rd->sigs) {
                round_fail(rd, FEED_REASON_INTERNAL, "out of memory");
                return -ENOMEM;
        }
        for (unsigned k = 0; k < n && rd->n_sigs < f->config->f + 1; k++) {
                unsigned i = (rd->first_accepting + k) % n;
                char *s;

                if (!rd->accepted[i])
                        continue;
                r = host_keystore_sign(f->keystore, f->oracles[i].account, rd->payload.data, rd->payload.size,
                                       &rd->sigs[rd->n_sigs].data);
                if (r < 0) {
                        round_fail(rd, FEED_REASON_INTERNAL, "oracle %u cannot sign with key %s: %s", i,
                                   f->oracles[i].account, strerror(-r));
                        return r;
                }
                rd->sigs[rd->n_sigs++].oracle = (uint8_t) i;
                if (asprintf(&s, "%s%s%u", strempty(rd->signers), rd->signers ? ", " : "", i) >= 0) {
                        free(rd->signers);
                        rd->signers = s;
                }
        }
        return 0;
}

static void on_accept(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;
        unsigned n = f->config->n;

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0)
                log_warning("Feed %s: epoch %" PRIu32 " round %u: oracle %u: ShouldAcceptFinalizedReport: %s",
                            f->config->name, rd->ctx.timestamp.epoch, rd->ctx.timestamp.round, c->oracle,
                            feed_error_message(error, r));
        else if (c->yes) {
                rd->accepted[c->oracle] = true;
                rd->n_accepted++;
        }
        if (rd->n_pending > 0)
                return;

        if (rd->n_accepted < f->config->f + 1) {
                round_skip(rd, FEED_REASON_NOT_ACCEPTED, "not transmitted: %u of %u oracles accepted the report, "
                           "f+1 = %" PRIu32 " needed", rd->n_accepted, n, f->config->f + 1);
                return;
        }
        for (unsigned k = 0; k < n; k++)
                if (rd->accepted[(rd->leader + k) % n]) {
                        rd->first_accepting = (rd->leader + k) % n;
                        break;
                }
        if (round_sign(rd) < 0)
                return;

        /* Transmitted if an accepting oracle thinks it should (the contract may be ahead already). */
        rd->step = ROUND_SHOULD_TRANSMIT;
        for (unsigned i = 0; i < n; i++)
                if (rd->accepted[i] &&
                    !round_call(rd, rd->calls + i, FEED_CALL_SHOULD_TRANSMIT, i, f->oracles[i].plugin,
                                on_should_transmit))
                        return;
}

/* --- report, observe, query --------------------------------------------------------------------------- */

static void on_report(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0) {
                round_fail_call(rd, c, r, error);
                return;
        }
        rd->report = c->bytes;
        c->bytes = (SdloopBytes) {};
        if (!c->yes) {
                round_skip(rd, FEED_REASON_NO_REPORT, "no report (nothing to report, says the leader's Report)");
                return;
        }

        /* Every oracle decides on the finalized report. */
        rd->step = ROUND_ACCEPT;
        for (unsigned i = 0; i < f->config->n; i++)
                if (!round_call(rd, rd->calls + i, FEED_CALL_SHOULD_ACCEPT, i, f->oracles[i].plugin, on_accept))
                        return;
}

static void on_observation(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;
        unsigned n = f->config->n;
        FeedCall *report;

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0) {
                FeedReason reason = feed_reason_from_error(r, error);

                f->observations_failed++;
                rd->n_timed_out += reason == FEED_REASON_TIMEOUT;
                rd->n_unavailable += reason == FEED_REASON_PLUGIN_UNAVAILABLE;
                log_warning("Feed %s: epoch %" PRIu32 " round %u: oracle %u has no observation: %s",
                            f->config->name, rd->ctx.timestamp.epoch, rd->ctx.timestamp.round, c->oracle,
                            feed_error_message(error, r));
                reasons_add(&rd->failures, "oracle %u: %s", c->oracle, feed_error_message(error, r));
                c->kind = _FEED_CALL_KIND_MAX; /* no observation */
        }
        if (rd->n_pending > 0)
                return;

        /* In oracle order, as each oracle's own observation. */
        rd->observations = new0(SdloopAttributed, n);
        if (!rd->observations) {
                round_fail(rd, FEED_REASON_INTERNAL, "out of memory");
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                FeedCall *o = rd->calls + i;

                if (o->kind != FEED_CALL_OBSERVATION)
                        continue;
                rd->observations[rd->n_observations++] = (SdloopAttributed) { .data = o->bytes, .oracle = (uint8_t) i };
                o->bytes = (SdloopBytes) {};
        }
        if (rd->n_observations < 2 * f->config->f + 1) {
                /* A call that timed out or a plugin that stayed away says more than the count. */
                FeedReason reason = rd->n_timed_out > 0 ? FEED_REASON_TIMEOUT :
                        rd->n_unavailable > 0 ? FEED_REASON_PLUGIN_UNAVAILABLE : FEED_REASON_NOT_ENOUGH_OBSERVATIONS;

                round_fail(rd, reason, "only %zu of %u oracles observed, 2f+1 = %" PRIu32 " needed: %s",
                           rd->n_observations, n, 2 * f->config->f + 1, strempty(rd->failures));
                return;
        }

        rd->step = ROUND_REPORT;
        report = rd->calls + rd->leader;
        feed_call_done(report);
        report->observations = rd->observations;
        report->n_observations = rd->n_observations;
        (void) round_call(rd, report, FEED_CALL_REPORT, rd->leader, f->oracles[rd->leader].plugin, on_report);
}

static void round_observe(FeedRound *rd) {
        Feed *f = rd->feed;

        rd->step = ROUND_OBSERVE;
        for (unsigned i = 0; i < f->config->n; i++)
                if (!round_call(rd, rd->calls + i, FEED_CALL_OBSERVATION, i, f->oracles[i].plugin, on_observation))
                        return;
}

static void on_query(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0) {
                round_fail(rd, feed_reason_from_error(r, error), "leader %u: Query: %s", c->oracle,
                           feed_error_message(error, r));
                return;
        }
        rd->query = c->bytes;
        c->bytes = (SdloopBytes) {};
        round_observe(rd);
}

/* The round gets its (epoch, round): rounds 1…255 within an epoch, as OCR2 numbers them in a byte. */
static void round_begin(FeedRound *rd) {
        Feed *f = rd->feed;
        SdloopReportTimestamp *ts = &rd->ctx.timestamp;

        if (f->round_no >= UINT8_MAX) {
                f->epoch++;
                f->round_no = 1;
        } else
                f->round_no++;
        memcpy(ts->digest, f->digest, SDLOOP_DIGEST_SIZE);
        ts->epoch = f->epoch;
        ts->round = f->round_no;
        rd->leader = (unsigned) (((uint64_t) f->epoch * UINT8_MAX + f->round_no - 1) % f->config->n);
        f->active = *ts;
        f->round_active = true;
        rd->started = true;
        f->rounds_started++;

        rd->step = ROUND_QUERY;
        (void) round_call(rd, rd->calls + rd->leader, FEED_CALL_QUERY, rd->leader, f->oracles[rd->leader].plugin,
                          on_query);
}

/* A report of an earlier round that did not make it: once more, then it is superseded anyway. */
static void on_retransmit(FeedCall *c, int r, const sd_bus_error *error) {
        FeedRound *rd = ROUND_OF(c);
        Feed *f = rd->feed;

        rd->n_pending--;
        if (rd->finishing)
                return;
        if (r < 0)
                log_warning("Feed %s: epoch %" PRIu32 " round %u: transmitting again failed, giving up on it: %s",
                            f->config->name, f->pending_ctx.timestamp.epoch, f->pending_ctx.timestamp.round,
                            feed_error_message(error, r));
        else
                log_info("Feed %s: epoch %" PRIu32 " round %u: transmitted on the second attempt.", f->config->name,
                         f->pending_ctx.timestamp.epoch, f->pending_ctx.timestamp.round);
        feed_call_done(c);
        feed_pending_clear(f);
        round_begin(rd);
}

static void round_fetched(FeedRound *rd) {
        Feed *f = rd->feed;
        FeedCall *c = rd->calls + 0;
        int r;

        if (!f->pending) {
                round_begin(rd);
                return;
        }
        rd->step = ROUND_RETRANSMIT;
        feed_call_done(c);
        *c = (FeedCall) {
                .feed = f,
                .owner = rd,
                .kind = FEED_CALL_TRANSMIT,
                .ctx = &f->pending_ctx,
                .report = &f->pending_report,
                .sigs = f->pending_sigs,
                .n_sigs = f->n_pending_sigs,
        };
        r = feed_call_start(c, f->provider_h, on_retransmit);
        if (r < 0) {
                feed_pending_clear(f);
                round_begin(rd);
                return;
        }
        rd->n_pending++;
}

/* --- fetch ------------------------------------------------------------------------------------------------ */

static void on_fetched(FeedSource *s, const char *value, const char *error, void *userdata) {
        FeedDataSourceRef *ref = userdata;
        FeedOracle *o = ref->oracle;
        Feed *f = o->feed;
        FeedRound *rd = f->round;
        unsigned k = ref->kind;

        free(o->fetched[k]);
        free(o->fetch_error[k]);
        o->fetched[k] = value ? strdup(value) : NULL;
        o->fetch_error[k] = error ? strdup(error) : NULL;
        if (!o->fetched[k] && !o->fetch_error[k])
                o->fetch_error[k] = strdup("out of memory");
        if (error) {
                f->source_failures[k]++;
                log_debug("Feed %s: oracle %u: %s", f->config->name, o->id, error);
        }

        assert(rd);
        assert(rd->fetches_pending > 0);
        if (--rd->fetches_pending == 0)
                round_fetched(rd);
}

/* LOOP's ContextValues of the feed's job, and a new trace for the round, sampled as configured. */
static int round_trace_new(Feed *f, SdloopContext **ret) {
        _cleanup_(sdloop_context_unrefp) SdloopContext *c = NULL;
        char job_id[16];
        int r;

        r = sdloop_context_new(&c);
        if (r < 0)
                return r;
        (void) snprintf(job_id, sizeof(job_id), "%" PRIi32, f->config->job_id);
        /* Values too long for the wire are left out; the round goes on without them. */
        (void) sdloop_context_set_value(c, SDLOOP_LOG_JOB_ID, job_id);
        (void) sdloop_context_set_value(c, SDLOOP_LOG_JOB_NAME, f->config->name);
        (void) sdloop_context_set_value(c, SDLOOP_LOG_CONTRACT_ID, f->config->contract_id);
        (void) sdloop_context_set_value(c, SDLOOP_LOG_FEED_ID, f->config->name);
        r = sdloop_context_start_trace(c, sdloop_tracing_get_sampling_ratio());
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int feed_round_start(Feed *f) {
        FeedRound *rd;
        int r;

        assert(f->job == FEED_JOB_NONE);
        rd = new0(FeedRound, 1);
        if (!rd)
                return -ENOMEM;
        rd->feed = f;
        rd->step = ROUND_FETCH;
        r = round_trace_new(f, &rd->trace);
        if (r < 0) {
                free(rd);
                return r;
        }
        rd->trace_start = now_monotonic_usec();
        f->round = rd;
        f->job = FEED_JOB_ROUND;
        f->step++;

        /* Every oracle reads its sources first, without blocking: the DataSources serve those values. */
        for (unsigned i = 0; i < f->config->n; i++)
                for (unsigned k = 0; k < _SOURCE_MAX; k++) {
                        FeedOracle *o = f->oracles + i;

                        o->fetched[k] = mfree(o->fetched[k]);
                        o->fetch_error[k] = mfree(o->fetch_error[k]);
                        r = feed_source_fetch(o->sources[k], f->step, on_fetched, &o->refs[k]);
                        if (r < 0) {
                                if (asprintf(&o->fetch_error[k], "%s: cannot read: %s",
                                             feed_source_get_label(o->sources[k]), strerror(-r)) < 0)
                                        o->fetch_error[k] = NULL;
                                continue;
                        }
                        rd->fetches_pending++;
                }
        /* Sources answer from the loop, never from within the fetch: with none pending, go on now. */
        if (rd->fetches_pending == 0)
                round_fetched(rd);
        return 0;
}

void feed_round_cancel(Feed *f) {
        FeedRound *rd = f->round;

        if (!rd)
                return;
        f->round = NULL;
        if (f->job == FEED_JOB_ROUND)
                f->job = FEED_JOB_NONE;
        f->round_active = false;
        round_free(rd);
}
