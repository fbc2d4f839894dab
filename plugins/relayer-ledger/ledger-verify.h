/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The acceptance rule of a transmission: the report context names the current config digest and at least
 * f+1 distinct configured signers signed the signing payload (sdloop-signing.h) with Ed25519. */

#include <systemd/sd-bus.h>

#include "sdloop-types.h"

int ledger_verify_transmission(const SdloopContractConfig *config, const SdloopReportContext *ctx,
                               const void *report, size_t size, const SdloopAttributed *signatures,
                               size_t n_signatures, sd_bus_error *error);
