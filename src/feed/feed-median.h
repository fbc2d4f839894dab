/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The feed's view of the median plugin's contract: the offchain config it seeds the contract with (in
 * libsdloop's median offchain config encoding, which the plugin decodes) and the int192 range of an
 * observation. */

#include <stdbool.h>

#include "feed.h"
#include "sdloop-types.h"

/* The feed's alpha_report/alpha_accept/deltaC in the median plugin's offchain config encoding. */
int feed_median_offchain_config_encode(const FeedConfig *c, SdloopBytes *ret);
/* Whether the canonical decimal @value fits a signed 192-bit integer (what observations carry). */
bool feed_median_fits_int192(const char *value);
