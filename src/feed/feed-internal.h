/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The parts of a feed and how they meet (feed.h says what a feed does):
 *
 *   feed.c           life cycle, the round timer, what runs when (one job at a time)
 *   feed-calls.c     every plugin call of the feed, as host_handle_call_async() with a deadline
 *   feed-objects.c   the host objects on the median plugin's connection and the handles' create calls
 *   feed-contract.c  set-up (signers, provider, the contract, the oracles) and following ConfigChanged
 *   feed-round.c     one round, as a state machine
 *   feed-status.c    counters, reasons, status and its JSON
 *
 * A feed runs one job at a time — set-up, a round, or following a new configuration — so that a round
 * never sees its reporting plugins replaced under it. */

#include "feed.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-trace.h"

#define FEED_ERROR_MAX 1024U

enum {
        SOURCE_VALUE,
        SOURCE_JUELS,
        _SOURCE_MAX,
};

typedef struct FeedOracle FeedOracle;
typedef struct FeedRound FeedRound;
typedef struct FeedSetup FeedSetup;

/* What a DataSource object of an oracle serves. */
typedef struct FeedDataSourceRef {
        FeedOracle *oracle;
        unsigned kind;
} FeedDataSourceRef;

struct FeedOracle {
        Feed *feed;
        unsigned id;
        char *account; /* Keystore account: hex Ed25519 public key, the contract's signer */

        FeedSource *sources[_SOURCE_MAX];
        FeedDataSourceRef refs[_SOURCE_MAX];
        char *fetched[_SOURCE_MAX];          /* this round's values… */
        char *fetch_error[_SOURCE_MAX];      /* …or why there is none */
        char *data_source_path[_SOURCE_MAX]; /* on Feed.conn */

        HostHandle *factory, *plugin;
};

typedef enum FeedJob {
        FEED_JOB_NONE,
        FEED_JOB_SETUP,
        FEED_JOB_ROUND,
        FEED_JOB_FOLLOW, /* reading the contract's configuration after ConfigChanged */
} FeedJob;

struct Feed {
        Host *host;
        FeedConfig *config;
        HostPlugin *relayer, *median;
        HostKeystore *keystore;             /* the OCR keys: sdloopd's, no plugin's */
        HostKeystore *transmitter_keystore; /* the relayer's chain accounts, or NULL */
        char *proxy_path;
        FeedOracle *oracles;
        unsigned value_exponent; /* the value source's multiplier 10^k: k (0 without) */

        FeedHooks hooks;
        void *hooks_userdata;

        bool started, set_up;
        sd_event_source *timer;
        uint64_t tick_usec; /* when the latest tick fired */
        uint64_t step;      /* ticks that started a round: the data sources' round number */

        FeedJob job;
        FeedSetup *setup; /* FEED_JOB_SETUP, FEED_JOB_FOLLOW */
        FeedRound *round; /* FEED_JOB_ROUND */
        bool config_check; /* the configuration is to be read again once the job in progress is done */

        HostHandle *relayer_h, *provider_h;
        HostSignalMatch *config_match; /* ConfigChanged of provider_h */
        char *relay_config_seed;  /* RelayArgs.relay_config with the contract configuration… */
        char *relay_config_plain; /* …and without, to read what is there */
        SdloopBytes offchain_config;
        SdloopBytes onchain_config;          /* as the contract holds them: what the reporting plugins get */
        SdloopBytes contract_offchain_config;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch; /* the latest (epoch, round) used */
        uint8_t round_no;

        bool round_active; /* what the DataSources serve: this round's fetched values */
        SdloopReportTimestamp active;

        /* The host objects on the median plugin's current connection. */
        SdloopPeer *conn;
        SdloopProxy *proxy;
        char *error_log_path;

        /* A transmission that failed for want of the relayer, tried again before the next round. */
        bool pending;
        SdloopReportContext pending_ctx;
        SdloopBytes pending_report;
        SdloopAttributed *pending_sigs;
        size_t n_pending_sigs;

        /* Status. */
        FeedState state;
        char *latest_answer, *latest_answer_decimal;
        uint32_t latest_epoch;
        uint8_t latest_round;
        int64_t latest_timestamp_usec;
        uint64_t ledger_transmissions;
        bool ledger_transmissions_known;
        uint64_t rounds_started, rounds_transmitted, observations_failed, calls_timed_out, config_changes;
        uint64_t last_round_usec; /* how long the latest round started and ended took */
        char latest_trace_id[SDLOOP_TRACE_ID_SIZE]; /* of the latest round that ended; "" none */
        bool latest_trace_sampled;
        uint64_t source_failures[_SOURCE_MAX]; /* reads of an oracle's source that failed */
        FeedCounter skipped, failed;
        FeedReason last_reason;
        char *outcome; /* what the latest round came to */
        char *last_error;
        uint64_t last_error_usec;
};

/* --- feed.c --- */

/* The job in progress ended: run what waits (a configuration check), then the next tick as scheduled. */
void feed_job_done(Feed *f);

/* --- feed-calls.c --- */

typedef enum FeedCallKind {
        FEED_CALL_QUERY,
        FEED_CALL_OBSERVATION,
        FEED_CALL_REPORT,
        FEED_CALL_SHOULD_ACCEPT,
        FEED_CALL_SHOULD_TRANSMIT,
        FEED_CALL_TRANSMIT,
        FEED_CALL_LATEST_TRANSMISSION,
        FEED_CALL_TRANSMISSION_COUNT,
        FEED_CALL_LATEST_CONFIG_DETAILS,
        FEED_CALL_LATEST_CONFIG,
        FEED_CALL_DIGEST_AND_EPOCH,
        _FEED_CALL_KIND_MAX,
} FeedCallKind;

typedef struct FeedCall FeedCall;
typedef void (*feed_call_done_fn)(FeedCall *c, int r, const sd_bus_error *error);

/* One call in flight, with its arguments (borrowed: they must outlive the call) and results. */
struct FeedCall {
        Feed *feed;
        void *owner;
        unsigned oracle;
        FeedCallKind kind;
        HostCall *call; /* NULL: not in flight */
        feed_call_done_fn done;

        /* Arguments. */
        const SdloopReportTimestamp *ts;
        const SdloopBytes *query;
        const SdloopAttributed *observations;
        size_t n_observations;
        const SdloopBytes *report;
        const SdloopReportContext *ctx;
        const SdloopAttributed *sigs;
        size_t n_sigs;
        uint64_t block;
        SdloopContext *trace; /* the round's values and trace, current while issuing (borrowed) */

        /* Results. */
        SdloopBytes bytes;
        bool yes;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        uint64_t count;
        char *answer;
        int64_t timestamp_usec;
        SdloopContractConfig config;
};

const char *feed_call_kind_to_string(FeedCallKind k);
/* Issue @c (kind and arguments set) on @h; @done is told once, from the loop, unless feed_call_cancel()
 * comes first. */
int feed_call_start(FeedCall *c, HostHandle *h, feed_call_done_fn done);
void feed_call_cancel(FeedCall *c);
/* Cancel it and free its results (arguments are borrowed). */
void feed_call_done(FeedCall *c);

/* --- feed-objects.c --- */

extern const HostHandleOps feed_provider_handle_ops;
extern const HostHandleOps feed_config_provider_handle_ops;
extern const HostHandleOps feed_factory_handle_ops;
extern const HostHandleOps feed_reporting_plugin_handle_ops;
void feed_connection_release(Feed *f);
HostHandle *feed_find_relayer_handle(HostPlugin *p);
/* RelayArgs.relay_config: the feed's extra keys, plus (when @seed) the contract configuration. */
int feed_build_relay_config(Feed *f, bool seed, char **ret);

/* --- feed-contract.c --- */

/* Set the feed up (FEED_JOB_SETUP); at the end the first round starts, or the tick counts as failed. */
int feed_setup_start(Feed *f);
/* Read the contract's configuration and follow a new digest (FEED_JOB_FOLLOW). */
int feed_follow_start(Feed *f);
void feed_setup_cancel(Feed *f);
/* Close what set-up made (handles, host objects, the ConfigChanged match). */
void feed_teardown(Feed *f);

/* --- feed-round.c --- */

int feed_round_start(Feed *f);
void feed_round_cancel(Feed *f);
/* The DataSource objects' Observe. */
int feed_observe(void *userdata, const SdloopReportTimestamp *ts, char **ret_value, sd_bus_error *error);
void feed_pending_clear(Feed *f);

/* --- feed-status.c --- */

void feed_set_error(Feed *f, FeedState state, const char *format, ...) _printf_(3, 4);
void feed_set_outcome(Feed *f, const char *format, ...) _printf_(2, 3);
/* What a failed call says about the round. */
FeedReason feed_reason_from_error(int r, const sd_bus_error *error);
void feed_count_skipped(Feed *f, FeedReason reason);
void feed_count_failed(Feed *f, FeedReason reason);
/* The ledger's latest transmission as read back. */
int feed_set_latest(Feed *f, uint32_t epoch, uint8_t round, char *answer, int64_t timestamp_usec);
const char *feed_error_message(const sd_bus_error *error, int r);
void feed_digest_hex_prefix(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static 17]);
char *feed_hex_encode(const uint8_t *data, size_t size, char *buf);
