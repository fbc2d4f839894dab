/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The feed's former names for libsdloop's big integers (sdloop-int.h), from when it borrowed them from
 * the median plugin. Seen only by the feed's sources, and gone once they use the libsdloop names. */

#include "sdloop-int.h"

#define MedianInt SdloopInt
#define MEDIAN_INT_LIMBS SDLOOP_INT_LIMBS
#define MEDIAN_DECIMAL_MAX SDLOOP_INT_DECIMAL_MAX
#define MEDIAN_VALUE_BYTES SDLOOP_INT192_BYTES
#define median_int_from_decimal sdloop_int_from_decimal
#define median_int_to_decimal sdloop_int_to_decimal
#define median_int_from_i128 sdloop_int_from_i128
#define median_int_compare sdloop_int_compare
#define median_int_is_zero sdloop_int_is_zero
#define median_int_to_int192 sdloop_int_to_int192
#define median_int_from_int192 sdloop_int_from_int192
#define median_deviates sdloop_int_deviates
