/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The JSON configuration of the ledger relayer: the relayer config given to NewRelayer and the relay
 * config of a job (RelayArgs.relay_config). See README.md for both schemas. */

#include <systemd/sd-bus.h>

#include "sdloop-types.h"

/* libocr's bounds: at most 31 oracles, n > 3f, f > 0. */
#define LEDGER_ORACLES_MAX 31U
#define LEDGER_SIGNER_KEY_SIZE 32U
#define LEDGER_POLL_INTERVAL_USEC_DEFAULT (1000000ULL)

typedef struct LedgerNode {
        char *name;
        char *config;
        char *state;
} LedgerNode;

typedef struct LedgerBalance {
        char *account;
        char *amount; /* decimal, >= 0 */
} LedgerBalance;

typedef struct LedgerRelayerConfig {
        char *chain_id;
        char *ledger;   /* NULL: taken from the first relay config that names one */
        LedgerNode *nodes;
        size_t n_nodes;
        LedgerBalance *balances;
        size_t n_balances;
        uint64_t poll_interval_usec; /* 0: do not watch for changes made by other processes */
        bool test_forge_reports;     /* testing only: play a relayer forging reports (ledger-forge.h) */
} LedgerRelayerConfig;

typedef struct LedgerRelayConfig {
        char *ledger;                 /* NULL if not given */
        bool has_seed;
        SdloopContractConfig seed;    /* digest and config_count unset */
} LedgerRelayConfig;

int ledger_relayer_config_parse(const char *json, LedgerRelayerConfig *ret, sd_bus_error *error);
void ledger_relayer_config_done(LedgerRelayerConfig *c);

int ledger_relay_config_parse(const char *json, LedgerRelayConfig *ret, sd_bus_error *error);
void ledger_relay_config_done(LedgerRelayConfig *c);

/* Check a contract configuration against libocr's rules: 0 < n <= 31 signers of 32 bytes, all distinct;
 * as many distinct, non-empty transmitters; f > 0 and 3f < n; an onchain config that decodes. Errors are
 * InvalidArgument naming "<field>.<member>". */
int ledger_contract_config_validate(const SdloopContractConfig *c, const char *field, sd_bus_error *error);

void ledger_node_array_free(LedgerNode *nodes, size_t n);
