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
 * starts every round_interval, and the leader of a round is chosen round-robin.
 *
 * One round (epoch e, round r; r runs 1…255, then e + 1 and r = 1, as in OCR2) is a state machine over the
 * host's event loop (feed-round.c); every step that calls plugins issues all its calls at once:
 *
 *   fetch      every oracle's value and juels-per-fee-coin sources are read
 *   query      the leader, oracle ((e × 255 + r − 1) mod n), is asked for the query
 *   observe    all n oracles' Observation(query); each observes through its DataSources. An oracle whose
 *              source failed (the median plugin reports that through the host's ErrorLog) or whose call
 *              failed is left out; fewer than 2f+1 observations and the round fails
 *   report     the leader's Report(observations) → should_report, report
 *   accept     all n oracles' ShouldAcceptFinalizedReport; fewer than f+1 acceptances: no report
 *   sign       f+1 accepting oracles (from the leader on) sign sdloop_report_signing_payload(context,
 *              report) with their Keystore keys; context = (config digest, e, r, extra hash), the extra
 *              hash being SHA-256(digest ‖ e ‖ r ‖ query)
 *   should-transmit  all accepting oracles' ShouldTransmitAcceptedReport; transmitted if one says yes
 *   transmit   ContractTransmitter.Transmit of the provider (transmitter = the feed's first transmitter);
 *              the ledger verifies the signatures and records it. A transmission that fails for want of the
 *              relayer is tried again before the next round (the ledger takes a repeat as a no-op)
 *   read back  MedianContract.LatestTransmissionDetails and org.sdloop1.Ledger.TransmissionCount: the
 *              status shows what the ledger holds, not what this process believes it sent
 *
 * Every call into a plugin is a host_handle_call_async() with the plugin's call timeout as deadline, so a
 * plugin that crashes mid-round is restarted, its objects re-created and the call issued again: the round
 * goes on. A round still running when the next one is due is not overlapped: that round is skipped
 * ("busy"). The feed follows the contract's configuration by ContractConfigTracker.ConfigChanged of its
 * provider (and reads it once after every re-creation of the provider, since a signal may have been lost
 * meanwhile): new reporting plugins for a new digest, between rounds.
 *
 * Nothing is persisted by the host: the ledger is the durable record. On set-up (feed-contract.c) the feed
 * continues after the ledger — at the epoch following the latest one transmitted under the contract's
 * configuration — so that no (epoch, round) is ever used twice, and it reuses the signing keys already
 * configured on the contract when the Keystore holds them.
 *
 * Threading model: as the rest of the host (host.h): everything runs from the host's sd-event loop and
 * nothing waits inside it. The DataSource objects answer from the values fetched for the round in
 * progress.
 *
 * The configuration schema and the status are documented in docs/feeds.md. */

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
        bool transmitters_default;     /* not configured: "<name>-<i>", or the relayer's accounts (below) */
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

/* Why a round was skipped or failed (docs/feeds.md, "Counters"). Every timer tick of a started feed either
 * starts a round, or is skipped ("busy"), or fails at set-up; every round started ends transmitted, skipped
 * or failed, with one of these. */
typedef enum FeedReason {
        /* skipped */
        FEED_REASON_BUSY,                    /* the previous round (or a change of configuration) still ran */
        FEED_REASON_NO_REPORT,               /* the leader's Report found nothing to report */
        FEED_REASON_NOT_ACCEPTED,            /* fewer than f+1 oracles accepted the report */
        FEED_REASON_NOT_TRANSMITTED,         /* no accepting oracle wanted it transmitted */
        /* failed */
        FEED_REASON_TIMEOUT,                 /* a call ended in org.sdloop1.Error.Timeout */
        FEED_REASON_PLUGIN_UNAVAILABLE,      /* a plugin was not back before a call's deadline */
        FEED_REASON_NOT_ENOUGH_OBSERVATIONS, /* fewer than 2f+1 oracles observed (their sources failed) */
        FEED_REASON_TRANSMIT_FAILED,         /* the ledger refused the report */
        FEED_REASON_PLUGIN_ERROR,            /* a plugin answered another error */
        FEED_REASON_SETUP,                   /* set-up was refused: no relayer, a contract set up otherwise… */
        FEED_REASON_INTERNAL,                /* this host could not (out of memory, signing…) */
        _FEED_REASON_MAX,
        _FEED_REASON_INVALID = -EINVAL,
} FeedReason;

const char *feed_reason_to_string(FeedReason r);
FeedReason feed_reason_from_string(const char *s);

typedef struct FeedCounter {
        uint64_t total;
        uint64_t by_reason[_FEED_REASON_MAX];
} FeedCounter;

typedef struct FeedStatus {
        const char *name;
        FeedState state;
        /* The latest transmission on the ledger (from MedianContract.LatestTransmissionDetails): NULL
         * answer when there is none. The timestamp is the ledger's, µs since the epoch. The answer also
         * as the decimal the value source scaled ("2000.12345678" for 200012345678 with multiplier 1e8;
         * the answer itself without multiplier). */
        const char *latest_answer;
        const char *latest_answer_decimal;
        uint32_t epoch;
        uint8_t round;
        int64_t latest_timestamp_usec;
        /* The latest round this host started. */
        uint32_t current_epoch;
        uint8_t current_round;
        /* Transmissions the ledger holds for the contract (org.sdloop1.Ledger.TransmissionCount, read at
         * set-up and after each transmission): durable, across restarts of this host. */
        uint64_t reports_transmitted;
        bool reports_transmitted_known; /* false until read once */
        /* Counters since feed_new(). */
        uint64_t rounds_started;
        uint64_t rounds_transmitted;  /* rounds of this run whose report the ledger took */
        FeedCounter rounds_skipped;
        FeedCounter rounds_failed;
        FeedReason last_reason;       /* of the latest skipped or failed round; _FEED_REASON_INVALID: none */
        uint64_t observations_failed; /* oracles left out of a round's observations */
        uint64_t calls_timed_out;     /* this feed's calls that ended in org.sdloop1.Error.Timeout */
        uint64_t config_changes;      /* new configuration digests followed */
        uint64_t last_round_usec;     /* how long the latest round that ended took (fetch to end) */
        /* Reads of the oracles' sources that failed, by role: the value, the juels per fee coin. */
        uint64_t value_source_failures, juels_source_failures;
        /* The trace of the latest round that ended (NULL: none), and whether its spans were written: then
         * `journalctl TRACE_ID=…` shows that round in every process. */
        const char *latest_trace_id;
        bool latest_trace_sampled;
        bool in_round;                /* a round started and has not ended */
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
        /* A report was accepted by Transmit. feed_get_status() already shows it: the counters, and the
         * ledger's latest transmission (epoch, round, answer) unless reading that back failed. */
        void (*transmitted)(Feed *f, const SdloopReportContext *ctx, const SdloopBytes *report,
                            const SdloopAttributed *signatures, size_t n_signatures, void *userdata);
        /* The feed now follows configuration @digest of its contract (at set-up and after a change). */
        void (*config_followed)(Feed *f, const uint8_t digest[SDLOOP_DIGEST_SIZE], void *userdata);
} FeedHooks;

/* Create a feed on @relayer (which must carry a relayer handle: a "relayer" configuration in sdloopd)
 * and @median, signing with @keystore (which must outlive the feed). Takes over @config (freed on
 * failure too). Nothing happens until feed_start(). */
int feed_new(Host *h, FeedConfig *config, HostPlugin *relayer, HostPlugin *median, HostKeystore *keystore,
             Feed **ret);
/* Stops the feed; its handles are closed. Must be called before @relayer or @median (or the relayer handle
 * of @relayer) goes away. Not from the feed's own hooks. */
Feed *feed_free(Feed *f);
static inline void feed_freep(Feed **f) {
        if (*f)
                feed_free(*f);
}

/* Arm the round timer: the first round (set-up included) starts at once, from the event loop. */
int feed_start(Feed *f);
/* Disarm it, cancel the round or set-up in flight (its calls are cancelled, fetches abandoned) and close
 * the feed's plugin objects. Never fails; not from the feed's own hooks. */
void feed_stop(Feed *f);

/* Pointers in @ret stay valid until the loop runs again, feed_stop() or feed_free(). */
void feed_get_status(Feed *f, FeedStatus *ret);
/* {"name", "state", "latest_answer", "latest_answer_decimal", "epoch", "round", "latest_timestamp_usec",
 *  "current_epoch", "current_round", "reports_transmitted", "rounds_started", "rounds_transmitted",
 *  "rounds_skipped": {"total", <reason>…}, "rounds_failed": {"total", <reason>…}, "last_reason",
 *  "observations_failed", "source_failures": {"value", "juels_per_fee_coin"}, "calls_timed_out",
 *  "config_changes", "last_round_usec", "latest_trace_id", "latest_trace_sampled", "in_round", "outcome",
 *  "last_error",
 *  "config_digest"}: docs/feeds.md */
int feed_status_to_json(const FeedStatus *s, json_object **ret);

const char *feed_get_name(Feed *f);
const FeedConfig *feed_get_config(Feed *f);
/* Whether the feed uses @p: stop such feeds before stopping for good, reconfiguring or freeing @p. */
bool feed_uses_plugin(Feed *f, HostPlugin *p);
void feed_set_hooks(Feed *f, const FeedHooks *hooks, void *userdata);
/* The relayer's own Keystore (must outlive the feed; NULL: none). A feed whose configuration names no
 * transmitters then transmits from accounts of it: those the contract is configured with if it holds them
 * all, else its first n accounts, made as needed. Set before the feed starts. */
void feed_set_transmitter_keystore(Feed *f, HostKeystore *keystore);
/* The Keystore accounts (hex Ed25519 public keys) signing for oracles 0…n-1, once set up; else NULL. */
const char *feed_get_signer(Feed *f, unsigned oracle);
