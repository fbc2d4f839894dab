/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A provider: one contract of the ledger seen through the provider component interfaces. The ops tables
 * below take a LedgerProvider* as userdata and work with or without a D-Bus object behind it, so that they
 * can be called directly. */

#include "ledger-store.h"
#include "sdloop-object.h"
#include "sdloop-provider.h"

/* The ledger's own interface on every provider (dbus/org.sdloop1.Ledger.xml). */
#define LEDGER_INTERFACE "org.sdloop1.Ledger"

typedef enum LedgerProviderType {
        LEDGER_PROVIDER_CONFIG, /* OffchainConfigDigester, ContractConfigTracker */
        LEDGER_PROVIDER_PLUGIN, /* … and ContractTransmitter */
        LEDGER_PROVIDER_MEDIAN, /* … and ReportCodec, MedianContract, OnchainConfigCodec */
} LedgerProviderType;

typedef struct LedgerProvider LedgerProvider;
typedef struct LedgerForgery LedgerForgery;

struct LedgerProvider {
        LedgerStore *store;
        LedgerProviderType type;
        char *contract_id;
        char *transmitter_id; /* NULL for a config provider */

        /* The object carrying the interfaces; NULL when used directly. Owns the provider once set. */
        SdloopObject *object;

        /* The latest configuration as last announced: ConfigChanged goes out when it moves. */
        uint64_t seen_block;
        uint8_t seen_digest[SDLOOP_DIGEST_SIZE];

        /* Testing only ("test_forge_reports"): the relayer's Keystore to forge reports with, NULL: never;
         * the forgery under way or done. */
        char *forge_keystore;
        LedgerForgery *forgery;

        /* Called when the object closes, before the provider is freed (the relayer unlinks it). */
        void (*on_close)(LedgerProvider *p, void *userdata);
        void *on_close_userdata;
        LedgerProvider *next, *prev;
};

/* @transmitter_id must be one of the current configuration's transmitters for the transmitting types. */
int ledger_provider_new(LedgerStore *store, LedgerProviderType type, const char *contract_id,
                        const char *transmitter_id, LedgerProvider **ret, sd_bus_error *error);
LedgerProvider *ledger_provider_free(LedgerProvider *p);
static inline void ledger_provider_freep(LedgerProvider **p) {
        if (*p)
                ledger_provider_free(*p);
}

/* Create the provider's object under @parent and add its interfaces. Takes @p: from now on the object owns
 * it, and on failure it is freed. */
int ledger_provider_publish(LedgerProvider *p, SdloopObject *parent, sd_bus_error *error);

/* What Transmit does, callable directly: check @ctx and @signatures against the contract's current
 * configuration and record the report. *@ret_recorded (may be NULL): false if it was recorded before. */
int ledger_provider_transmit(LedgerProvider *p, const SdloopReportContext *ctx, const SdloopBytes *report,
                             const SdloopAttributed *signatures, size_t n_signatures, bool *ret_recorded,
                             sd_bus_error *error);

/* Look at the contract's latest configuration; if it moved since last seen, emit ConfigChanged. */
int ledger_provider_refresh(LedgerProvider *p);

extern const SdloopOffchainConfigDigesterOps ledger_offchain_config_digester_ops;
extern const SdloopContractConfigTrackerOps ledger_contract_config_tracker_ops;
extern const SdloopContractTransmitterOps ledger_contract_transmitter_ops;
extern const SdloopReportCodecOps ledger_report_codec_ops;
extern const SdloopMedianContractOps ledger_median_contract_ops;
extern const SdloopOnchainConfigCodecOps ledger_onchain_config_codec_ops;
