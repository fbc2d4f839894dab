/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libocr's median onchain config: version byte 1, then min and max as 32-byte big-endian two's
 * complement integers. */

#include <systemd/sd-bus.h>

#include "sdloop-types.h"

#define LEDGER_ONCHAIN_CONFIG_VERSION 1U
#define LEDGER_INT256_SIZE 32U
#define LEDGER_ONCHAIN_CONFIG_SIZE (1U + 2U * LEDGER_INT256_SIZE)

/* A decimal as 256-bit two's complement; -ERANGE outside [-2^255, 2^255 - 1], -EINVAL if malformed. */
int ledger_int256_from_decimal(const char *s, uint8_t ret[static LEDGER_INT256_SIZE]);
int ledger_int256_to_decimal(const uint8_t v[static LEDGER_INT256_SIZE], char **ret);

/* Both refuse min > max: a config that the decoder refuses is not worth encoding. Errors are
 * InvalidArgument naming the field. */
int ledger_onchain_config_encode(const SdloopOnchainConfig *config, SdloopBytes *ret, sd_bus_error *error);
int ledger_onchain_config_decode(const void *data, size_t size, SdloopOnchainConfig *ret, sd_bus_error *error);
