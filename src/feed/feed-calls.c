/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Every call the feed makes into a plugin: host_handle_call_async() on the handle, with the plugin's call
 * timeout as deadline, issued through the generated asynchronous client. A call issued again after its
 * connection was lost gets its results anew: what an earlier attempt left is freed first. */

#include "feed-internal.h"
#include "macro.h"

static const char * const call_kind_table[_FEED_CALL_KIND_MAX] = {
        [FEED_CALL_QUERY] = "Query",
        [FEED_CALL_OBSERVATION] = "Observation",
        [FEED_CALL_REPORT] = "Report",
        [FEED_CALL_SHOULD_ACCEPT] = "ShouldAcceptFinalizedReport",
        [FEED_CALL_SHOULD_TRANSMIT] = "ShouldTransmitAcceptedReport",
        [FEED_CALL_TRANSMIT] = "Transmit",
        [FEED_CALL_LATEST_TRANSMISSION] = "LatestTransmissionDetails",
        [FEED_CALL_TRANSMISSION_COUNT] = "TransmissionCount",
        [FEED_CALL_LATEST_CONFIG_DETAILS] = "LatestConfigDetails",
        [FEED_CALL_LATEST_CONFIG] = "LatestConfig",
        [FEED_CALL_DIGEST_AND_EPOCH] = "LatestConfigDigestAndEpoch",
};

const char *feed_call_kind_to_string(FeedCallKind k) {
        return k >= 0 && k < _FEED_CALL_KIND_MAX ? call_kind_table[k] : NULL;
}

static FeedCall *call_of(void *userdata) {
        return host_call_get_userdata(userdata);
}

/* --- replies ------------------------------------------------------------------------------------------ */

static void take_bytes(FeedCall *c, SdloopBytes *b) {
        sdloop_bytes_done(&c->bytes);
        if (b) {
                c->bytes = *b;
                *b = (SdloopBytes) {};
        }
}

static void on_bytes(SdloopPeer *peer, int r, SdloopBytes *b, sd_bus_error *error, void *userdata) {
        if (r >= 0)
                take_bytes(call_of(userdata), b);
        host_call_complete(userdata, r, error);
}

static void on_report(SdloopPeer *peer, int r, bool should_report, SdloopBytes *report, sd_bus_error *error,
                      void *userdata) {
        FeedCall *c = call_of(userdata);

        if (r >= 0) {
                c->yes = should_report;
                take_bytes(c, report);
        }
        host_call_complete(userdata, r, error);
}

static void on_bool(SdloopPeer *peer, int r, bool yes, sd_bus_error *error, void *userdata) {
        if (r >= 0)
                call_of(userdata)->yes = yes;
        host_call_complete(userdata, r, error);
}

static void on_empty(SdloopPeer *peer, int r, sd_bus_error *error, void *userdata) {
        host_call_complete(userdata, r, error);
}

static void on_latest_transmission(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                                   uint32_t epoch, uint8_t round, char **answer, int64_t timestamp_usec,
                                   sd_bus_error *error, void *userdata) {
        FeedCall *c = call_of(userdata);

        if (r >= 0) {
                memcpy(c->digest, digest, SDLOOP_DIGEST_SIZE);
                c->epoch = epoch;
                c->round = round;
                free(c->answer);
                c->answer = TAKE_PTR(*answer);
                c->timestamp_usec = timestamp_usec;
        }
        host_call_complete(userdata, r, error);
}

static void on_transmission_count(SdloopPeer *peer, int r, uint64_t count, uint32_t epoch, uint8_t round,
                                  sd_bus_error *error, void *userdata) {
        FeedCall *c = call_of(userdata);

        if (r >= 0) {
                c->count = count;
                c->epoch = epoch;
                c->round = round;
        }
        host_call_complete(userdata, r, error);
}

static void on_config_details(SdloopPeer *peer, int r, uint64_t block, const uint8_t digest[SDLOOP_DIGEST_SIZE],
                              sd_bus_error *error, void *userdata) {
        FeedCall *c = call_of(userdata);

        if (r >= 0) {
                c->block = block;
                memcpy(c->digest, digest, SDLOOP_DIGEST_SIZE);
        }
        host_call_complete(userdata, r, error);
}

static void on_config(SdloopPeer *peer, int r, SdloopContractConfig *config, sd_bus_error *error, void *userdata) {
        FeedCall *c = call_of(userdata);

        if (r >= 0) {
                sdloop_contract_config_done(&c->config);
                c->config = *config;
                *config = (SdloopContractConfig) {};
        }
        host_call_complete(userdata, r, error);
}

static void on_digest_and_epoch(SdloopPeer *peer, int r, const uint8_t digest[SDLOOP_DIGEST_SIZE], uint32_t epoch,
                                sd_bus_error *error, void *userdata) {
        FeedCall *c = call_of(userdata);

        if (r >= 0) {
                memcpy(c->digest, digest, SDLOOP_DIGEST_SIZE);
                c->epoch = epoch;
        }
        host_call_complete(userdata, r, error);
}

/* --- issuing ------------------------------------------------------------------------------------------- */

static int call_issue_kind(HostCall *hc, FeedCall *c, SdloopPeer *peer, const char *path, SdloopContext *ctx,
                           sd_bus_slot **ret_slot);

static int call_issue(HostCall *hc, SdloopPeer *peer, const char *path, SdloopContext *ctx, sd_bus_slot **ret_slot) {
        FeedCall *c = host_call_get_userdata(hc);
        SdloopContext *previous;
        int r;

        /* The round's job, contract and feed, and its trace, go with the call (ctx has the deadline). */
        previous = sdloop_context_set_current(c->trace);
        r = call_issue_kind(hc, c, peer, path, ctx, ret_slot);
        (void) sdloop_context_set_current(previous);
        return r;
}

static int call_issue_kind(HostCall *hc, FeedCall *c, SdloopPeer *peer, const char *path, SdloopContext *ctx,
                           sd_bus_slot **ret_slot) {

        switch (c->kind) {
        case FEED_CALL_QUERY:
                return sdloop_reporting_plugin_query_async(peer, path, c->ts, ctx, on_bytes, hc, ret_slot);
        case FEED_CALL_OBSERVATION:
                return sdloop_reporting_plugin_observation_async(peer, path, c->ts, c->query->data, c->query->size,
                                                                 ctx, on_bytes, hc, ret_slot);
        case FEED_CALL_REPORT:
                return sdloop_reporting_plugin_report_async(peer, path, c->ts, c->query->data, c->query->size,
                                                            c->observations, c->n_observations, ctx, on_report, hc,
                                                            ret_slot);
        case FEED_CALL_SHOULD_ACCEPT:
                return sdloop_reporting_plugin_should_accept_finalized_report_async(
                                peer, path, c->ts, c->report->data, c->report->size, ctx, on_bool, hc, ret_slot);
        case FEED_CALL_SHOULD_TRANSMIT:
                return sdloop_reporting_plugin_should_transmit_accepted_report_async(
                                peer, path, c->ts, c->report->data, c->report->size, ctx, on_bool, hc, ret_slot);
        case FEED_CALL_TRANSMIT:
                return sdloop_contract_transmitter_transmit_async(peer, path, c->ctx, c->report->data,
                                                                  c->report->size, c->sigs, c->n_sigs, ctx, on_empty,
                                                                  hc, ret_slot);
        case FEED_CALL_LATEST_TRANSMISSION:
                return sdloop_median_contract_latest_transmission_details_async(peer, path, ctx,
                                                                                on_latest_transmission, hc,
                                                                                ret_slot);
        case FEED_CALL_TRANSMISSION_COUNT:
                return sdloop_ledger_transmission_count_async(peer, path, ctx, on_transmission_count, hc, ret_slot);
        case FEED_CALL_LATEST_CONFIG_DETAILS:
                return sdloop_contract_config_tracker_latest_config_details_async(peer, path, ctx, on_config_details,
                                                                                  hc, ret_slot);
        case FEED_CALL_LATEST_CONFIG:
                return sdloop_contract_config_tracker_latest_config_async(peer, path, c->block, ctx, on_config, hc,
                                                                          ret_slot);
        case FEED_CALL_DIGEST_AND_EPOCH:
                return sdloop_contract_transmitter_latest_config_digest_and_epoch_async(peer, path, ctx,
                                                                                        on_digest_and_epoch, hc,
                                                                                        ret_slot);
        default:
                return -EINVAL;
        }
}

static void on_call_done(HostCall *hc, int r, const sd_bus_error *error, void *userdata) {
        FeedCall *c = userdata;

        c->call = NULL;
        if (r < 0 && sd_bus_error_has_name(error, SDLOOP_ERROR_TIMEOUT))
                c->feed->calls_timed_out++;
        c->done(c, r, error);
}

int feed_call_start(FeedCall *c, HostHandle *h, feed_call_done_fn done) {
        assert(c);
        assert(c->feed);
        assert(done);
        assert(!c->call);

        if (!h)
                return -ENXIO;
        c->done = done;
        /* 0: the plugin's call timeout from now, for waiting out a restart and for the call itself. */
        return host_handle_call_async(h, 0, call_issue, on_call_done, c, &c->call);
}

void feed_call_cancel(FeedCall *c) {
        if (!c)
                return;
        host_call_cancel(c->call);
        c->call = NULL;
}

void feed_call_done(FeedCall *c) {
        if (!c)
                return;
        feed_call_cancel(c);
        sdloop_bytes_done(&c->bytes);
        c->answer = mfree(c->answer);
        sdloop_contract_config_done(&c->config);
}
