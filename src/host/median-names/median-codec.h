/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The feed's former names for libsdloop's median offchain config codec (sdloop-median-config.h), from
 * when it borrowed it from the median plugin. Seen only by the feed's sources, and gone once they use the
 * libsdloop names. */

#include "median-rules.h"
#include "sdloop-median-config.h"

#define MedianOffchainConfig SdloopMedianOffchainConfig
#define median_offchain_config_encode sdloop_median_offchain_config_encode
#define median_offchain_config_decode sdloop_median_offchain_config_decode
