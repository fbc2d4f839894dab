/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <time.h>

#include "macro.h"
#include "median-codec.h"
#include "median-plugin.h"
#include "median-rules.h"

/* One NewMedianFactory(): the host objects every reporting plugin of this factory talks to. They live
 * on the host's side of the same connection. */
typedef struct MedianFactory {
        SdloopPeer *peer;
        char *provider;
        char *data_source;
        char *juels_data_source;
        char *error_log;
} MedianFactory;

/* One NewReportingPlugin(): a config and what ShouldAcceptFinalizedReport remembers. The factory outlives
 * it: closing an object closes its children first. */
typedef struct MedianPlugin {
        MedianFactory *factory;
        char *path;
        uint8_t config_digest[SDLOOP_DIGEST_SIZE];
        uint8_t oracle_id;
        uint32_t n;
        uint32_t f;
        MedianOffchainConfig offchain;
        MedianOnchainConfig onchain;
        uint64_t max_report_length;
        MedianAcceptState accept;
} MedianPlugin;

static MedianFactory *median_factory_free(MedianFactory *f) {
        if (!f)
                return NULL;
        free(f->provider);
        free(f->data_source);
        free(f->juels_data_source);
        free(f->error_log);
        return mfree(f);
}

static void median_factory_freep(MedianFactory **f) {
        median_factory_free(*f);
}

static MedianPlugin *median_plugin_free(MedianPlugin *p) {
        if (!p)
                return NULL;
        free(p->path);
        return mfree(p);
}

static void median_plugin_freep(MedianPlugin **p) {
        median_plugin_free(*p);
}

static void parsed_observations_freep(SdloopParsedObservation **p) {
        /* Only the array: its strings live in caller-owned buffers. */
        free(*p);
}

static int64_t now_nsec(void) {
        struct timespec ts = {};

        /* Wall-clock time: it is compared with on-chain timestamps. */
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A call to the host failed: keep the error's name, say which call it was. */
static int error_prefix(sd_bus_error *error, int r, const char *format, ...) _printf_(3, 4);
static int error_prefix(sd_bus_error *error, int r, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *prefix = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&prefix, format, ap);
        va_end(ap);
        if (k < 0)
                return sdloop_error_ensure(error, r, NULL);

        if (!sd_bus_error_is_set(error))
                return sdloop_error_ensure(error, r, prefix);

        (void) sd_bus_error_move(&e, error);
        (void) sd_bus_error_setf(error, e.name, "%s: %s", prefix, strempty(e.message));
        return r;
}

static void digest_prefix(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static 17]) {
        for (size_t i = 0; i < 8; i++)
                sprintf(buf + 2 * i, "%02x", digest[i]);
}

/* --- ReportingPlugin ---------------------------------------------------------------------------------- */

static int plugin_query(void *userdata, const SdloopReportTimestamp *ts, SdloopBytes *ret_query,
                        sd_bus_error *error) {
        /* The median protocol needs no query: the leader asks everybody for the same thing. */
        *ret_query = (SdloopBytes) {};
        return 0;
}

/* Observe one data source. A failure goes to the host's ErrorLog as well as to the caller. */
static int plugin_observe(MedianPlugin *p, const char *path, const char *what, const SdloopReportTimestamp *ts,
                          MedianInt *ret, char **ret_failure) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL, save_error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *value = NULL, *failure = NULL;
        uint8_t encoded[MEDIAN_VALUE_BYTES];
        MedianInt v;
        int r;

        r = sdloop_data_source_observe(p->factory->peer, path, ts, &value, &e);
        if (r >= 0 && median_int_from_decimal(value, &v) < 0)
                r = sdloop_error_invalid(&e, "value", "not a decimal: %s", value);
        if (r >= 0 && median_int_to_int192(&v, encoded) < 0)
                r = sdloop_error_invalid(&e, "value", "%s does not fit in a signed 192-bit integer", value);
        if (r >= 0) {
                *ret = v;
                return 0;
        }

        if (asprintf(&failure, "%s.Observe returned an error: %s", what,
                     e.message ?: e.name ?: strerror(-r)) < 0)
                return log_oom();
        if (strlen(failure) >= SDLOOP_ERROR_LOG_MESSAGE_MAX)
                failure[SDLOOP_ERROR_LOG_MESSAGE_MAX - 1] = '\0';

        log_warning("%s: %s", p->path, failure);
        r = sdloop_error_log_save_error(p->factory->peer, p->factory->error_log, failure, &save_error);
        if (r < 0)
                log_warning_errno(r, "%s: failed to save the error in ErrorLog %s, ignoring: %s", p->path,
                                  p->factory->error_log, save_error.message ?: strerror(-r));

        *ret_failure = TAKE_PTR(failure);
        return -EIO;
}

static int plugin_observation(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                              SdloopBytes *ret_observation, sd_bus_error *error) {
        MedianPlugin *p = userdata;
        _cleanup_free_ char *value_failure = NULL, *juels_failure = NULL;
        MedianInt value = {}, juels = {};
        int r, k;

        if (query->size != 0)
                return sdloop_error_invalid(error, "query", "expected an empty query, got %zu bytes",
                                            query->size);

        /* Both sources are asked even if the first fails, so that the ErrorLog hears of both. */
        r = plugin_observe(p, p->factory->data_source, "DataSource", ts, &value, &value_failure);
        if (r == -ENOMEM)
                return r;
        k = plugin_observe(p, p->factory->juels_data_source, "JuelsPerFeeCoinDataSource", ts, &juels,
                           &juels_failure);
        if (k == -ENOMEM)
                return k;
        if (r < 0 || k < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "error in Observation: %s%s%s",
                                         strempty(value_failure), value_failure && juels_failure ? "; " : "",
                                         strempty(juels_failure));

        r = median_observation_encode((uint32_t) (now_nsec() / 1000000000), &value, &juels, ret_observation);
        if (r < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "failed to encode the observation: %s",
                                         strerror(-r));
        return 0;
}

/* Parse the attributed observations, dropping what a faulty oracle (or a confused caller) could send. */
static int plugin_parse_observations(MedianPlugin *p, const SdloopAttributed *observations,
                                     size_t n_observations, MedianObservation **ret, size_t *ret_n) {
        _cleanup_free_ MedianObservation *parsed = NULL;
        bool seen[UINT8_MAX + 1] = {};
        size_t n = 0;

        parsed = new0(MedianObservation, n_observations);
        if (!parsed)
                return -ENOMEM;

        for (size_t i = 0; i < n_observations; i++) {
                const SdloopAttributed *a = observations + i;
                const char *reason = NULL;

                if (a->oracle >= p->n) {
                        log_warning("%s: dropping observation %zu: observer %u is not one of the %" PRIu32
                                    " oracles.", p->path, i, a->oracle, p->n);
                        continue;
                }
                if (seen[a->oracle]) {
                        log_warning("%s: dropping observation %zu: observer %u appears more than once.",
                                    p->path, i, a->oracle);
                        continue;
                }
                seen[a->oracle] = true;

                if (median_observation_decode(a->data.data, a->data.size, parsed + n, &reason) < 0) {
                        log_warning("%s: dropping invalid observation %zu of observer %u: %s", p->path, i,
                                    a->oracle, reason);
                        continue;
                }
                parsed[n++].observer = a->oracle;
        }

        *ret = TAKE_PTR(parsed);
        *ret_n = n;
        return 0;
}

static int plugin_read_contract(MedianPlugin *p, MedianTransmission *ret, sd_bus_error *error) {
        _cleanup_free_ char *answer = NULL;
        MedianTransmission t = {};
        int r;

        r = sdloop_median_contract_latest_transmission_details(p->factory->peer, p->factory->provider, t.digest,
                                                               &t.epoch_round.epoch, &t.epoch_round.round,
                                                               &answer, &t.latest_timestamp_usec, error);
        if (r < 0)
                return error_prefix(error, r, "error during LatestTransmissionDetails");
        if (median_int_from_decimal(answer, &t.latest_answer) < 0)
                return sdloop_error_invalid(error, "LatestTransmissionDetails reply.latest_answer",
                                            "not a decimal: %s", answer);
        *ret = t;
        return 0;
}

static int plugin_build_report(MedianPlugin *p, const MedianObservation *sorted, size_t n, SdloopBytes *ret,
                               sd_bus_error *error) {
        _cleanup_(parsed_observations_freep) SdloopParsedObservation *pobs = NULL;
        _cleanup_free_ char *strings = NULL;
        SdloopBytes report = {};
        int r;

        /* Two decimals per observation, in one allocation. */
        pobs = new0(SdloopParsedObservation, n);
        strings = malloc(n * 2 * MEDIAN_DECIMAL_MAX);
        if (!pobs || !strings)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                char *v = strings + 2 * i * MEDIAN_DECIMAL_MAX, *j = v + MEDIAN_DECIMAL_MAX;

                pobs[i] = (SdloopParsedObservation) {
                        .timestamp = sorted[i].timestamp,
                        .value = median_int_to_decimal(&sorted[i].value, v),
                        .juels_per_fee_coin = median_int_to_decimal(&sorted[i].juels_per_fee_coin, j),
                        .observer = sorted[i].observer,
                };
        }

        r = sdloop_report_codec_build_report(p->factory->peer, p->factory->provider, pobs, n, &report, error);
        if (r < 0)
                return error_prefix(error, r, "error during BuildReport");
        if (report.size > p->max_report_length) {
                r = sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                      "report violates MaxReportLength limit set by ReportCodec "
                                      "(%zu vs %" PRIu64 ")", report.size, p->max_report_length);
                sdloop_bytes_done(&report);
                return r;
        }

        *ret = report;
        return 0;
}

static int plugin_report(void *userdata, const SdloopReportTimestamp *ts, const SdloopBytes *query,
                         const SdloopAttributed *observations, size_t n_observations, bool *ret_should_report,
                         SdloopBytes *ret_report, sd_bus_error *error) {
        MedianPlugin *p = userdata;
        _cleanup_free_ MedianObservation *parsed = NULL;
        char answer_text[MEDIAN_DECIMAL_MAX], digest[17];
        MedianRoundRequested requested = {};
        MedianReportDecision decision;
        MedianTransmission transmission;
        const MedianInt *answer;
        uint64_t lookback_usec;
        size_t n_parsed;
        int r;

        if (query->size != 0)
                return sdloop_error_invalid(error, "query", "expected an empty query, got %zu bytes",
                                            query->size);

        r = plugin_parse_observations(p, observations, n_observations, &parsed, &n_parsed);
        if (r < 0)
                return r;
        if (!median_observations_enough(n_parsed, p->f))
                return sdloop_error_invalid(error, "observations",
                                            "only received %zu valid attributed observations, "
                                            "but need at least f+1 (%" PRIu32 ")", n_parsed, p->f + 1);

        r = plugin_read_contract(p, &transmission, error);
        if (r < 0)
                return r;
        lookback_usec = median_delta_c_lookback_usec(p->offchain.delta_c_nsec);
        r = sdloop_median_contract_latest_round_requested(p->factory->peer, p->factory->provider, lookback_usec,
                                                          requested.digest, &requested.epoch_round.epoch,
                                                          &requested.epoch_round.round, error);
        if (r < 0)
                return error_prefix(error, r, "error during LatestRoundRequested");

        median_observations_sort(parsed, n_parsed);
        answer = median_observations_median(parsed, n_parsed);
        decision = median_should_report(&p->offchain, &p->onchain, ts->digest, answer, &transmission,
                                        &requested, now_nsec());

        digest_prefix(ts->digest, digest);
        sdloop_log_full_errno(median_report_decision_is_yes(decision) ? LOG_INFO : LOG_DEBUG, 0,
                              "%s: Report(%s…, epoch %" PRIu32 ", round %u): median %s of %zu observations: "
                              "%s.", p->path, digest, ts->epoch, ts->round,
                              median_int_to_decimal(answer, answer_text), n_parsed,
                              median_report_decision_to_string(decision));

        if (!median_report_decision_is_yes(decision)) {
                *ret_should_report = false;
                *ret_report = (SdloopBytes) {};
                return 0;
        }

        r = plugin_build_report(p, parsed, n_parsed, ret_report, error);
        if (r < 0)
                return r;
        *ret_should_report = true;
        return 0;
}

static int plugin_should_accept_finalized_report(void *userdata, const SdloopReportTimestamp *ts,
                                                 const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        MedianPlugin *p = userdata;
        MedianEpochRound er = { ts->epoch, ts->round };
        _cleanup_free_ char *median_text = NULL;
        MedianTransmission transmission;
        MedianAcceptDecision decision;
        MedianInt median;
        int r;

        decision = median_accept_check_local(&p->accept, er);
        if (decision == MEDIAN_ACCEPT_UNDECIDED) {
                r = plugin_read_contract(p, &transmission, error);
                if (r < 0)
                        return r;
                decision = median_accept_check_contract(&p->accept, p->config_digest, transmission.digest,
                                                        transmission.epoch_round, er, report->size,
                                                        p->max_report_length);
        }
        if (decision == MEDIAN_ACCEPT_UNDECIDED) {
                r = sdloop_report_codec_median_from_report(p->factory->peer, p->factory->provider, report->data,
                                                           report->size, &median_text, error);
                if (r < 0)
                        return error_prefix(error, r, "error during MedianFromReport");
                if (median_int_from_decimal(median_text, &median) < 0)
                        return sdloop_error_invalid(error, "MedianFromReport reply.median", "not a decimal: %s",
                                                    median_text);
                decision = median_accept_decide(&p->offchain, &p->accept, transmission.epoch_round, er,
                                                &median);
        }

        log_debug("%s: ShouldAcceptFinalizedReport(epoch %" PRIu32 ", round %u) = %s.", p->path, ts->epoch,
                  ts->round, median_accept_decision_to_string(decision));
        *ret = median_accept_decision_is_yes(decision);
        return 0;
}

static int plugin_should_transmit_accepted_report(void *userdata, const SdloopReportTimestamp *ts,
                                                  const SdloopBytes *report, bool *ret, sd_bus_error *error) {
        MedianPlugin *p = userdata;
        MedianTransmission transmission;
        int r;

        r = plugin_read_contract(p, &transmission, error);
        if (r < 0)
                return r;

        *ret = median_should_transmit(p->config_digest, transmission.digest, transmission.epoch_round,
                                      (MedianEpochRound) { ts->epoch, ts->round });
        log_debug("%s: ShouldTransmitAcceptedReport(epoch %" PRIu32 ", round %u) = %s "
                  "(contract at epoch %" PRIu32 ", round %u, %s digest).", p->path, ts->epoch, ts->round,
                  *ret ? "yes" : "no",
                  transmission.epoch_round.epoch, transmission.epoch_round.round,
                  memcmp(p->config_digest, transmission.digest, SDLOOP_DIGEST_SIZE) == 0 ? "same" : "other");
        return 0;
}

static const SdloopReportingPluginOps reporting_plugin_ops = {
        .query = plugin_query,
        .observation = plugin_observation,
        .report = plugin_report,
        .should_accept_finalized_report = plugin_should_accept_finalized_report,
        .should_transmit_accepted_report = plugin_should_transmit_accepted_report,
};

static void plugin_object_close(void *userdata) {
        MedianPlugin *p = userdata;

        log_debug("%s: closed.", p->path);
        median_plugin_free(p);
}

/* --- ReportingPluginFactory --------------------------------------------------------------------------- */

static int factory_check_config(const SdloopReportingPluginConfig *config, sd_bus_error *error) {
        /* Oracle ids are one byte; libocr tolerates at most f faulty oracles out of n > 3f. */
        if (config->n == 0 || config->n > UINT8_MAX + 1)
                return sdloop_error_invalid(error, "config.n", "%" PRIu32 " oracles, expected 1…256",
                                            config->n);
        if (config->oracle_id >= config->n)
                return sdloop_error_invalid(error, "config.oracle_id", "%u is not below n=%" PRIu32,
                                            config->oracle_id, config->n);
        if ((uint64_t) config->f * 3 >= config->n)
                return sdloop_error_invalid(error, "config.f",
                                            "f=%" PRIu32 " needs more than 3f oracles, n=%" PRIu32, config->f,
                                            config->n);
        return 0;
}

static int factory_decode_onchain_config(MedianFactory *fac, const SdloopBytes *encoded,
                                         MedianOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_onchain_config_done) SdloopOnchainConfig oc = {};
        MedianOnchainConfig c;
        int r;

        /* The encoding belongs to the chain: the relayer's codec knows it. */
        r = sdloop_onchain_config_codec_decode(fac->peer, fac->provider, encoded->data, encoded->size, &oc,
                                               error);
        if (r < 0)
                return error_prefix(error, r, "config.onchain_config: OnchainConfigCodec.Decode failed");
        if (median_int_from_decimal(oc.min, &c.min) < 0 || median_int_from_decimal(oc.max, &c.max) < 0)
                return sdloop_error_invalid(error, "config.onchain_config", "min or max is not a decimal");
        if (median_int_compare(&c.min, &c.max) > 0)
                return sdloop_error_invalid(error, "config.onchain_config", "min %s is greater than max %s",
                                            oc.min, oc.max);
        *ret = c;
        return 0;
}

static int factory_new_reporting_plugin(void *userdata, SdloopObject *factory,
                                        const SdloopReportingPluginConfig *config, SdloopObject **ret,
                                        SdloopReportingPluginInfo *ret_info, sd_bus_error *error) {
        MedianFactory *fac = userdata;
        _cleanup_(median_plugin_freep) MedianPlugin *p = NULL;
        _cleanup_free_ char *name = NULL;
        const char *reason = NULL;
        SdloopObject *o = NULL;
        char digest[17], min[MEDIAN_DECIMAL_MAX], max[MEDIAN_DECIMAL_MAX];
        int64_t max_report_length;
        int r;

        r = factory_check_config(config, error);
        if (r < 0)
                return r;

        p = new0(MedianPlugin, 1);
        if (!p)
                return -ENOMEM;
        p->factory = fac;
        memcpy(p->config_digest, config->digest, SDLOOP_DIGEST_SIZE);
        p->oracle_id = config->oracle_id;
        p->n = config->n;
        p->f = config->f;

        r = median_offchain_config_decode(config->offchain_config.data, config->offchain_config.size,
                                          &p->offchain, &reason);
        if (r < 0)
                return sdloop_error_invalid(error, "config.offchain_config", "%s", reason);
        if (r > 0)
                log_warning("NewReportingPlugin: the offchain config carries fields this plugin does not know, "
                            "ignoring them.");

        r = factory_decode_onchain_config(fac, &config->onchain_config, &p->onchain, error);
        if (r < 0)
                return r;

        r = sdloop_report_codec_max_report_length(fac->peer, fac->provider, config->n, &max_report_length,
                                                  error);
        if (r < 0)
                return error_prefix(error, r, "ReportCodec.MaxReportLength failed");
        if (max_report_length < 0 || (uint64_t) max_report_length > SDLOOP_PAYLOAD_MAX)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "ReportCodec.MaxReportLength(%" PRIu32 ") returned %" PRIi64
                                         ", outside 0…%u", config->n, max_report_length, SDLOOP_PAYLOAD_MAX);
        p->max_report_length = (uint64_t) max_report_length;

        name = strdup(MEDIAN_PLUGIN_NAME);
        if (!name)
                return -ENOMEM;

        r = sdloop_object_new(fac->peer, factory, "reporting_plugin",
                              &(SdloopObjectOps) { .close = plugin_object_close }, p, &o);
        if (r < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "failed to create the reporting plugin: %s", strerror(-r));
        /* The object owns the state from here on: closing it frees it. */
        MedianPlugin *q = TAKE_PTR(p);
        q->path = strdup(sdloop_object_get_path(o));
        if (!q->path) {
                sdloop_object_close(o);
                return -ENOMEM;
        }
        r = sdloop_reporting_plugin_export(o, &reporting_plugin_ops, q);
        if (r < 0) {
                sdloop_object_close(o);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                         "failed to export the reporting plugin: %s", strerror(-r));
        }

        digest_prefix(q->config_digest, digest);
        log_info("%s: config %s…, oracle %u of n=%" PRIu32 ", f=%" PRIu32 ", alpha_report %s%" PRIu64 " ppb, "
                 "alpha_accept %s%" PRIu64 " ppb, deltaC %" PRIu64 " ns, answers in [%s, %s], "
                 "reports up to %" PRIu64 " bytes.", q->path, digest, q->oracle_id, q->n, q->f,
                 q->offchain.alpha_report_infinite ? "infinite, " : "", q->offchain.alpha_report_ppb,
                 q->offchain.alpha_accept_infinite ? "infinite, " : "", q->offchain.alpha_accept_ppb,
                 q->offchain.delta_c_nsec, median_int_to_decimal(&q->onchain.min, min),
                 median_int_to_decimal(&q->onchain.max, max), q->max_report_length);

        *ret_info = (SdloopReportingPluginInfo) {
                .name = TAKE_PTR(name),
                .unique_reports = false,
                .max_query_length = 0,
                .max_observation_length = MEDIAN_MAX_OBSERVATION_LENGTH,
                .max_report_length = q->max_report_length,
        };
        *ret = o;
        return 0;
}

static const SdloopReportingPluginFactoryOps factory_ops = {
        .new_reporting_plugin = factory_new_reporting_plugin,
};

static void factory_object_close(void *userdata) {
        median_factory_free(userdata);
}

/* --- PluginMedian ------------------------------------------------------------------------------------- */

static int plugin_median_new_median_factory(void *userdata, SdloopObject *parent, const SdloopMedianDeps *deps,
                                            SdloopObject **ret, sd_bus_error *error) {
        _cleanup_(median_factory_freep) MedianFactory *fac = NULL;
        SdloopObject *o = NULL;
        int r;

        fac = new0(MedianFactory, 1);
        if (!fac)
                return -ENOMEM;
        fac->peer = sdloop_object_get_peer(parent);
        fac->provider = strdup(deps->provider);
        fac->data_source = strdup(deps->data_source);
        fac->juels_data_source = strdup(deps->juels_data_source);
        fac->error_log = strdup(deps->error_log);
        if (!fac->provider || !fac->data_source || !fac->juels_data_source || !fac->error_log)
                return -ENOMEM;

        r = sdloop_object_new(fac->peer, parent, "factory",
                              &(SdloopObjectOps) { .close = factory_object_close }, fac, &o);
        if (r < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "failed to create the factory: %s",
                                         strerror(-r));
        MedianFactory *f = TAKE_PTR(fac);

        r = sdloop_reporting_plugin_factory_export(o, &factory_ops, f);
        if (r < 0) {
                sdloop_object_close(o);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "failed to export the factory: %s",
                                         strerror(-r));
        }

        log_info("%s: median factory for provider %s, data sources %s and %s, error log %s.",
                 sdloop_object_get_path(o), f->provider, f->data_source, f->juels_data_source, f->error_log);
        *ret = o;
        return 0;
}

static const SdloopPluginMedianOps plugin_median_ops = {
        .new_median_factory = plugin_median_new_median_factory,
};

int median_plugin_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        return sdloop_plugin_median_export(root, &plugin_median_ops, NULL);
}
