/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The canonical encoding of a contract configuration (ConfigRecord in ledger.proto) and its config
 * digest. */

#include <stdbool.h>

#include "sdloop-types.h"

/* Stamped over the first two bytes of every digest, as libocr does, so that a digest names its kind of
 * chain: 0x5d10 reads as "sdlo". */
#define LEDGER_CONFIG_DIGEST_PREFIX 0x5d10U

/* Encode everything but @config->digest, together with the chain and contract it belongs to. */
int ledger_config_encode(const char *chain_id, const char *contract_id, const SdloopContractConfig *config,
                         SdloopBytes *ret);
/* Decode a stored record; *ret gets everything but the digest, which is recomputed by the caller. The
 * chain and contract are returned if asked for. -EBADMSG if it does not decode. */
int ledger_config_decode(const void *data, size_t size, SdloopContractConfig *ret, char **ret_chain_id,
                         char **ret_contract_id);

/* SHA-256 over ledger_config_encode(), first two bytes = LEDGER_CONFIG_DIGEST_PREFIX (big-endian). */
int ledger_config_digest(const char *chain_id, const char *contract_id, const SdloopContractConfig *config,
                         uint8_t ret[static SDLOOP_DIGEST_SIZE]);

/* Whether two configurations agree in what a seed sets (signers, transmitters, f, onchain config, offchain
 * version and config), ignoring digest and config count. */
bool ledger_config_same_content(const SdloopContractConfig *a, const SdloopContractConfig *b);

/* Deep copy. */
int ledger_config_copy(SdloopContractConfig *dst, const SdloopContractConfig *src);

/* Lower-case hex of a digest, for logs and messages. */
#define LEDGER_DIGEST_HEX_SIZE (2 * SDLOOP_DIGEST_SIZE + 1)
char *ledger_digest_to_hex(const uint8_t digest[static SDLOOP_DIGEST_SIZE], char buf[static LEDGER_DIGEST_HEX_SIZE]);
