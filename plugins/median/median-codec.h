/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The plugin's own protobuf payload (median.proto): the observation. The decoder treats its input as
 * untrusted and explains a refusal in *ret_reason (a static string). The offchain config is libsdloop's
 * (sdloop-median-config.h). */

#include "median-rules.h"
#include "sdloop-types.h"

/* -ERANGE if a value does not fit in int192. The result is at most MEDIAN_MAX_OBSERVATION_LENGTH bytes. */
int median_observation_encode(uint32_t timestamp, const SdloopInt *value, const SdloopInt *juels_per_fee_coin,
                              SdloopBytes *ret);
/* Fills everything but ret->observer. */
int median_observation_decode(const void *data, size_t size, MedianObservation *ret, const char **ret_reason);
