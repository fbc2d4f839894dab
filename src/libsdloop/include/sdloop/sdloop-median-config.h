/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The numerical-median plugin's offchain config (ReportingPluginConfig.offchain_config), as the protobuf
 * message of libocr's median plugin (NumericalMedianConfigProto, see median-config.proto): what a median
 * plugin decodes and what a host or a tool writes into a contract's config. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdloop-types.h"

typedef struct SdloopMedianOffchainConfig {
        bool alpha_report_infinite; /* the deviation check against the on-chain answer never fires */
        uint64_t alpha_report_ppb;  /* report when the median deviates from it by this much */
        bool alpha_accept_infinite; /* the deviation check against the pending report never fires */
        uint64_t alpha_accept_ppb;  /* accept a report deviating from the pending one by this much */
        uint64_t delta_c_nsec;      /* heartbeat; at most INT64_MAX, as libocr's time.Duration */
} SdloopMedianOffchainConfig;

/* Treats its input as untrusted. Returns 0, or 1 if the message carried fields unknown here (ignored, as
 * libocr ignores them), or -EINVAL with the reason in *@ret_reason (a static string; may be NULL). An empty
 * input is a valid message: all zeros. */
int sdloop_median_offchain_config_decode(const void *data, size_t size, SdloopMedianOffchainConfig *ret,
                                         const char **ret_reason);
/* -ERANGE if delta_c_nsec exceeds INT64_MAX. Free *@ret with sdloop_bytes_done(). */
int sdloop_median_offchain_config_encode(const SdloopMedianOffchainConfig *config, SdloopBytes *ret);
