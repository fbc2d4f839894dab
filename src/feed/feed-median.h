/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the feed takes from the median plugin's own code: the offchain config it seeds the contract with
 * (encoded as the plugin decodes it) and the int192 range of an observation. The only file of the feed
 * that includes the plugin's headers. */

#include <stdbool.h>

#include "feed.h"
#include "sdloop-types.h"

/* The feed's alpha_report/alpha_accept/deltaC in the median plugin's offchain config encoding. */
int feed_median_offchain_config_encode(const FeedConfig *c, SdloopBytes *ret);
/* Whether the canonical decimal @value fits a signed 192-bit integer (what observations carry). */
bool feed_median_fits_int192(const char *value);
