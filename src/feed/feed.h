/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A feed: one median job — a relayer-ledger instance, a median plugin instance and two data sources —
 * driven in OCR2-shaped rounds by n simulated oracles on this host.
 *
 * This is a LOCAL DRIVER, not a network protocol. OCR2 runs one oracle per node and the nodes agree over
 * the network; here the host plays all n oracles itself, in one process, so that the plugins do exactly
 * what they would do under OCR2 and the ledger records verifiable reports. What is simulated faithfully:
 * each oracle has its own ReportingPlugin (its own oracle id and state, from its own factory), its own
 * Ed25519 signing key in the host Keystore, and its own DataSource objects that read its own instances of
 * the data sources. What is not: there is no network, no Byzantine behaviour, no pacemaker — one round
 * runs every round_interval, and the leader of a round is chosen round-robin.
 *
 * One round (epoch e, round r; r runs 1…255, then e + 1 and r = 1, as in OCR2):
 *
 *   fetch      every oracle's value and juels-per-fee-coin sources are read, asynchronously
 *   query      the leader, oracle ((e × 255 + r − 1) mod n), is asked for the query
 *   observe    every oracle's Observation(query); it observes through its DataSources. An oracle whose
 *              source failed (the median plugin reports that through the host's ErrorLog) or whose call
 *              failed is skipped; fewer than 2f+1 observations and the round fails
 *   report     the leader's Report(observations) → should_report, report
 *   accept     every oracle's ShouldAcceptFinalizedReport; fewer than f+1 acceptances: no report
 *   sign       f+1 accepting oracles (from the leader on) sign sdloop_report_signing_payload(context,
 *              report) with their Keystore keys; context = (config digest, e, r, extra hash), the extra
 *              hash being SHA-256(digest ‖ e ‖ r ‖ query)
 *   transmit   if an accepting oracle's ShouldTransmitAcceptedReport says yes, the report goes to
 *              ContractTransmitter.Transmit of the provider (transmitter = the feed's first transmitter);
 *              the ledger verifies the signatures and records it. A transmission that fails is retried
 *              before the next round (the ledger takes a repeat as a no-op).
 *
 * Every call into a plugin goes through host_handle_call(), so a plugin that crashes mid-round is
 * restarted, its objects re-created and the call repeated: the round goes on. Nothing is persisted by the
 * host: the ledger is the durable record. On setup the feed continues after the ledger — at the epoch
 * following the latest one transmitted under the contract's configuration — so that no (epoch, round) is
 * ever used twice, and it reuses the signing keys already configured on the contract when the Keystore
 * holds them.
 *
 * Threading model: as the rest of the host (host.h). Rounds run as top-level work queued from a timer;
 * the DataSource objects answer from the values fetched for the round in progress, without blocking.
 *
 * The configuration schema is documented in docs/feeds.md. */

#include <json-c/json.h>

#include "feed-source.h"
#include "host-handle.h"
#include "host-plugin.h"
#include "host-services.h"

/* libocr's (and the ledger's) bound on the number of oracles. */
#define FEED_ORACLES_MAX 31U
#define FEED_ROUND_INTERVAL_USEC_DEFAULT (10ULL * 1000000ULL)

typedef struct FeedOracleConfig {
        /* NULL: the feed's source. */
        FeedSourceConfig *value;
        FeedSourceConfig *juels_per_fee_coin;
} FeedOracleConfig;

typedef struct FeedConfig {
        char *name;
        char *relayer;         /* plugin name, kind "relayer" (sdloop-relayer-ledger) */
        char *median;          /* plugin name, kind "median" */
        char *contract_id;
        int32_t job_id;
        char *external_job_id; /* UUID */
        uint32_t n;
        uint32_t f;
        char *min;             /* onchain config, decimals */
        char *max;
        bool alpha_report_infinite;
        uint64_t alpha_report_ppb;
        bool alpha_accept_infinite;
        uint64_t alpha_accept_ppb;
        uint64_t delta_c_usec;
        uint64_t round_interval_usec;
        FeedSourceConfig *value;
        FeedSourceConfig *juels_per_fee_coin;
        FeedOracleConfig *oracles; /* n entries */
        char **transmitters;           /* n entries */
        json_object *relay_config;     /* extra keys of RelayArgs.relay_config (the feed adds "config") */
} FeedConfig;

/* Parse the feed object @feed named @name (a "feeds" entry of sdloopd's configuration). On failure
 * *ret_error (malloc'd) is "<field>: <reason>" with the field spelt from the top of the configuration
 * ("feeds.eth-usd.n: must be at least 3f+1 = 4"): the field is everything before the first ": ". */
int feed_config_parse(json_object *feed, const char *name, FeedConfig **ret, char **ret_error);
FeedConfig *feed_config_free(FeedConfig *c);
static inline void feed_config_freep(FeedConfig **c) {
        if (*c)
                feed_config_free(*c);
}

typedef enum FeedState {
        FEED_STOPPED,
        FEED_STARTING, /* not set up yet (plugins not reachable, contract not configured…): retried */
        FEED_RUNNING,  /* the latest round went through (with or without a report) */
        FEED_FAILING,  /* the latest round failed: LastError says why; the next one is tried anyway */
        _FEED_STATE_MAX,
        _FEED_STATE_INVALID = -EINVAL,
} FeedState;

const char *feed_state_to_string(FeedState s);

typedef struct FeedStatus {
        const char *name;
        FeedState state;
        /* The latest transmission on the ledger (from MedianContract.LatestTransmissionDetails): NULL
         * answer when there is none. The timestamp is the ledger's, µs since the epoch. */
        const char *latest_answer;
        uint32_t epoch;
        uint8_t round;
        int64_t latest_timestamp_usec;
        /* The latest round this host ran. */
        uint32_t current_epoch;
        uint8_t current_round;
        /* Counters since feed_new(). */
        uint64_t reports_transmitted;
        uint64_t rounds_run;         /* rounds that went through, reporting or not */
        uint64_t rounds_failed;
        uint64_t observations_failed;
        /* What the latest round came to: "epoch 3 round 7: transmitted, answer …", "…: no report (…)",
         * "…: not transmitted: 1 of 4 oracles accepted the report, …", or the error of a failed
         * round. */
        const char *outcome;
        const char *last_error;      /* NULL: none */
        uint64_t last_error_usec;    /* CLOCK_REALTIME */
        const uint8_t *config_digest; /* NULL until set up */
} FeedStatus;

typedef struct Feed Feed;

/* Optional observers, for tests and tooling. */
typedef struct FeedHooks {
        /* An oracle's DataSource answered Observe (what the oracle saw): @value, or @error. */
        void (*observed)(Feed *f, unsigned oracle, bool juels_per_fee_coin,
                         const SdloopReportTimestamp *ts, const char *value, const char *error,
                         void *userdata);
        /* A report was accepted by Transmit. feed_get_status() already shows it: the counter, and the
         * ledger's latest transmission (epoch, round, answer) unless reading that back failed. */
        void (*transmitted)(Feed *f, const SdloopReportContext *ctx, const SdloopBytes *report,
                            const SdloopAttributed *signatures, size_t n_signatures, void *userdata);
} FeedHooks;

/* Create a feed on @relayer (which must carry a relayer handle: a "relayer" configuration in sdloopd)
 * and @median, signing with @keystore (which must outlive the feed). Takes over @config (freed on
 * failure too). Nothing happens until feed_start(). */
int feed_new(Host *h, FeedConfig *config, HostPlugin *relayer, HostPlugin *median,
                  HostKeystore *keystore, Feed **ret);
/* Stops the feed; its handles are closed. Must be called before @relayer or @median (or the relayer
 * handle of @relayer) goes away, and not while feed_in_round(). */
Feed *feed_free(Feed *f);
static inline void feed_freep(Feed **f) {
        if (*f)
                feed_free(*f);
}

/* Arm the round timer: the first round (set-up included) runs at once, from the event loop. */
int feed_start(Feed *f);
/* Disarm it, abandon fetches and close the feed's plugin objects. -EBUSY from inside a round of this
 * feed (from work nested in its calls): try again later. */
int feed_stop(Feed *f);
bool feed_in_round(Feed *f);

/* Pointers in @ret stay valid until the next round or feed_stop()/free. */
void feed_get_status(Feed *f, FeedStatus *ret);
/* {"name", "state", "latest_answer", "epoch", "round", "latest_timestamp_usec", "current_epoch",
 *  "current_round", "reports_transmitted", "rounds_run", "rounds_failed", "observations_failed", "outcome",
 *  "last_error", "config_digest"} */
int feed_status_to_json(const FeedStatus *s, json_object **ret);

const char *feed_get_name(Feed *f);
const FeedConfig *feed_get_config(Feed *f);
/* Whether the feed uses @p: stop such feeds before stopping for good, reconfiguring or freeing @p. */
bool feed_uses_plugin(Feed *f, HostPlugin *p);
void feed_set_hooks(Feed *f, const FeedHooks *hooks, void *userdata);
/* The Keystore accounts (hex Ed25519 public keys) signing for oracles 0…n-1, once set up; else NULL. */
const char *feed_get_signer(Feed *f, unsigned oracle);
