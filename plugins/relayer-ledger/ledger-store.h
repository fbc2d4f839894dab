/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The ledger: one SQLite database file, the durable state of one chain.
 *
 * Every write is one transaction (BEGIN IMMEDIATE … COMMIT) and every transaction that changes something
 * is one block: a row in "blocks" whose height is the chain's block height. A write that turns out to
 * change nothing (a seed equal to what is stored, a replayed transmission) is rolled back and makes no
 * block. Errors are reported through @error: InvalidArgument/NotFound for what the caller asked, Internal
 * (or Timeout when another process holds the write lock too long) for the database itself. */

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "ledger-config.h"
#include "sdloop-types.h"

#define LEDGER_SCHEMA_VERSION 1

typedef struct LedgerStore LedgerStore;

/* Wall clock in µs since the epoch; replaceable for tests. */
typedef uint64_t (*LedgerClock)(void *userdata);

typedef struct LedgerTransmission {
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        uint64_t block;
        uint64_t time_usec;
        char *transmitter;
        char *answer; /* decimal */
} LedgerTransmission;

void ledger_transmission_done(LedgerTransmission *t);

/* Open (creating it and its schema if needed) the ledger at @path for chain @chain_id. A ledger remembers
 * the chain it was created for and refuses to be opened for another. */
int ledger_store_open(const char *path, const char *chain_id, LedgerStore **ret, sd_bus_error *error);
LedgerStore *ledger_store_ref(LedgerStore *s);
LedgerStore *ledger_store_unref(LedgerStore *s);
static inline void ledger_store_unrefp(LedgerStore **s) {
        if (*s)
                ledger_store_unref(*s);
}

const char *ledger_store_get_path(LedgerStore *s);
const char *ledger_store_get_chain_id(LedgerStore *s);
void ledger_store_set_clock(LedgerStore *s, LedgerClock clock, void *userdata);
uint64_t ledger_store_now(LedgerStore *s);

/* Changes whenever another connection (another process) commits; our own commits leave it as it is. */
int ledger_store_data_version(LedgerStore *s, int64_t *ret, sd_bus_error *error);

int ledger_store_block_height(LedgerStore *s, uint64_t *ret, sd_bus_error *error);

/* Nodes are upserted by name (a changed node is updated); balances only for accounts the ledger does not
 * know yet, so that restarting a relayer never resets money. */
int ledger_store_seed_nodes(LedgerStore *s, const LedgerNode *nodes, size_t n, sd_bus_error *error);
int ledger_store_seed_balances(LedgerStore *s, const LedgerBalance *balances, size_t n, sd_bus_error *error);

/* Nodes in seeding order from @offset; @limit 0 = all. *ret_total: the count of all nodes. */
int ledger_store_list_nodes(LedgerStore *s, uint64_t offset, uint64_t limit, LedgerNode **ret, size_t *ret_n,
                            uint64_t *ret_total, sd_bus_error *error);

/* The balance of @account; an account the ledger does not know has 0. */
int ledger_store_balance(LedgerStore *s, const char *account, __int128 *ret, sd_bus_error *error);
/* Move @amount (>= 0) from @from to @to. With @balance_check, a balance below @amount is refused; without
 * it @from may go negative. A balance leaving the 128-bit range is refused. */
int ledger_store_transact(LedgerStore *s, const char *from, const char *to, __int128 amount, bool balance_check,
                          uint64_t *ret_block, sd_bus_error *error);

/* Write @seed as the contract's configuration unless the latest one has the same content: the new one gets
 * config_count = latest + 1 (1 for the first) and its digest. *ret_changed tells whether it wrote. */
int ledger_store_seed_config(LedgerStore *s, const char *contract_id, const SdloopContractConfig *seed,
                             bool *ret_changed, sd_bus_error *error);
/* The latest configuration and the block it was set in (@ret may be NULL); -ENOENT (no error set) if the
 * contract has none. */
int ledger_store_latest_config(LedgerStore *s, const char *contract_id, uint64_t *ret_block,
                               SdloopContractConfig *ret, sd_bus_error *error);
/* The configuration set in @block; -ENOENT (NotFound) otherwise. */
int ledger_store_config_in_block(LedgerStore *s, const char *contract_id, uint64_t block,
                                 SdloopContractConfig *ret, sd_bus_error *error);

/* Record a transmission, once. In one transaction: @ts must name the contract's current config digest
 * (InvalidArgument otherwise); a (digest, epoch, round) already recorded is a no-op (*ret_recorded false);
 * an (epoch, round) older than the latest one recorded under that digest is refused as stale. */
int ledger_store_record_transmission(LedgerStore *s, const char *contract_id, const SdloopReportTimestamp *ts,
                                     const char *transmitter, const char *answer, const void *report, size_t size,
                                     bool *ret_recorded, uint64_t *ret_block, sd_bus_error *error);
/* How many transmissions the ledger holds for the contract, under any configuration, and the (epoch, round)
 * of the latest one (zeros when there is none). */
int ledger_store_transmission_count(LedgerStore *s, const char *contract_id, uint64_t *ret_count,
                                    uint32_t *ret_epoch, uint8_t *ret_round, sd_bus_error *error);
/* The latest transmission of the contract, limited to config @digest if not NULL and to those recorded at
 * or after @since_usec; -ENOENT (no error set) if there is none. */
int ledger_store_latest_transmission(LedgerStore *s, const char *contract_id, const uint8_t *digest,
                                     uint64_t since_usec, LedgerTransmission *ret, sd_bus_error *error);
