/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "feed-median.h"
#include "macro.h"
#include "sdloop-median-config.h"
#include "sdloop-int.h"

int feed_median_offchain_config_encode(const FeedConfig *c, SdloopBytes *ret) {
        SdloopMedianOffchainConfig offchain = {
                .alpha_report_infinite = c->alpha_report_infinite,
                .alpha_report_ppb = c->alpha_report_ppb,
                .alpha_accept_infinite = c->alpha_accept_infinite,
                .alpha_accept_ppb = c->alpha_accept_ppb,
                .delta_c_nsec = c->delta_c_usec * NSEC_PER_USEC,
        };

        return sdloop_median_offchain_config_encode(&offchain, ret);
}

bool feed_median_fits_int192(const char *value) {
        uint8_t int192[SDLOOP_INT192_BYTES];
        SdloopInt v;

        return sdloop_int_from_decimal(value, &v) >= 0 && sdloop_int_to_int192(&v, int192) >= 0;
}
