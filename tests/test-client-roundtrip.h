/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by test-client-roundtrip.c (the driver) and test-client-roundtrip-methods.c (one entry per
 * generated client method). */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "sdloop.h"

/* The objects the methods are called on, all in this process on one event loop. */
typedef struct RoundtripEnv {
        sd_event *event;
        SdloopPeer *relayer_server, *relayer_client; /* static PluginRelayer; the host's keystore on the client */
        SdloopPeer *median_server, *median_client;   /* static PluginMedian; the host's objects on the client */
        SdloopObject *keystore, *data_source, *juels_data_source, *error_log;
        SdloopProxy *provider_proxy; /* on median_client, to the median provider on relayer_client */
        char *keystore_path, *data_source_path, *error_log_path;
        char *relayer, *median_provider, *factory, *reporting_plugin;
} RoundtripEnv;

extern RoundtripEnv env;

typedef struct Method Method;

/* Every result any method has. A reply handler grabs what its method returns: with @take it takes the
 * library's copies over (TAKE_PTR() or zeroing the struct), else it borrows them, checks them in the handler
 * and leaves them to the library. */
typedef struct Reply {
        const Method *method;
        const struct Reply *expect; /* the synchronous call's results, compared in the handler if !take */
        bool take;

        unsigned n_calls;
        int r;
        sd_bus_error error;

        char *s, *s2;
        char **strv;
        SdloopBytes bytes;
        bool b;
        uint64_t u;
        int64_t i;
        uint32_t epoch;
        uint8_t round;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        SdloopContractConfig config;
        SdloopOnchainConfig onchain;
        SdloopReportingPluginInfo info;
        SdloopChainStatus status;
        SdloopNodeStatus *nodes;
        size_t n_nodes;
} Reply;

struct Method {
        const char *name; /* the synchronous function's name, as in sdloop-client.h */
        /* A fresh object to call (for methods that close theirs); NULL: call_path. */
        char *(*prepare)(void);
        char *const *path; /* NULL for root methods */
        SdloopPeer *const *peer;
        /* An object path the method creates: sync and async give different ones, under the same parent. */
        bool creates;
        int (*call)(SdloopPeer *peer, const char *path, Reply *rep, sd_bus_error *error);
        int (*call_async)(SdloopPeer *peer, const char *path, SdloopContext *ctx, Reply *rep, sd_bus_slot **slot);
        void (*check)(const Reply *rep);
};

extern const Method roundtrip_methods[];
extern const size_t roundtrip_n_methods;

/* Called by every reply handler once it grabbed its results. */
void reply_finish(Reply *rep, int r, sd_bus_error *error);
void reply_done(Reply *rep);
/* Forget borrowed results without freeing them. */
void reply_forget(Reply *rep);
void reply_assert_equal(const Method *m, const Reply *a, const Reply *b);

/* Add org.sdloop1.Ledger, answering with fixtures, to the fixture provider @o. */
int roundtrip_export_ledger(SdloopObject *o);

/* A fresh reporting plugin of the static factory (synchronous NewReportingPlugin()). */
char *roundtrip_new_reporting_plugin(void);
