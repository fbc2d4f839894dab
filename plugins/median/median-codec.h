/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The plugin's protobuf payloads (median.proto): the offchain config and the observation. Decoders
 * treat their input as untrusted and explain a refusal in *ret_reason (a static string). */

#include "median-rules.h"
#include "sdloop-types.h"

/* Returns 0, or 1 if the message carried fields unknown here (ignored), or a negative errno. */
int median_offchain_config_decode(const void *data, size_t size, MedianOffchainConfig *ret,
                                  const char **ret_reason);
int median_offchain_config_encode(const MedianOffchainConfig *config, SdloopBytes *ret);

/* -ERANGE if a value does not fit in int192. The result is at most MEDIAN_MAX_OBSERVATION_LENGTH bytes. */
int median_observation_encode(uint32_t timestamp, const MedianInt *value, const MedianInt *juels_per_fee_coin,
                              SdloopBytes *ret);
/* Fills everything but ret->observer. */
int median_observation_decode(const void *data, size_t size, MedianObservation *ret, const char **ret_reason);
