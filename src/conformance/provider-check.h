/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Every method of a provider's components called with the fixtures and its results compared with them:
 * one table of steps, run asynchronously so that a served call (the static median's NewMedianFactory) can
 * run it, and by the suite's synchronous conformance_check_*() at top level. */

#include "sdloop.h"

typedef enum ConformanceComponent {
        CONFORMANCE_OFFCHAIN_CONFIG_DIGESTER = 1U << 0,
        CONFORMANCE_CONTRACT_CONFIG_TRACKER  = 1U << 1,
        CONFORMANCE_CONTRACT_TRANSMITTER     = 1U << 2,
        CONFORMANCE_REPORT_CODEC             = 1U << 3,
        CONFORMANCE_MEDIAN_CONTRACT          = 1U << 4,
        CONFORMANCE_ONCHAIN_CONFIG_CODEC     = 1U << 5,

        CONFORMANCE_CONFIG_PROVIDER = CONFORMANCE_OFFCHAIN_CONFIG_DIGESTER | CONFORMANCE_CONTRACT_CONFIG_TRACKER,
        CONFORMANCE_MEDIAN_PROVIDER = CONFORMANCE_CONFIG_PROVIDER | CONFORMANCE_CONTRACT_TRANSMITTER |
                                      CONFORMANCE_REPORT_CODEC | CONFORMANCE_MEDIAN_CONTRACT |
                                      CONFORMANCE_ONCHAIN_CONFIG_CODEC,
} ConformanceComponent;

typedef struct ConformanceProviderCheck ConformanceProviderCheck;

/* The checks are over: @r is 0, or negative with @error saying what failed as the synchronous checks say it
 * ("OffchainConfigDigester.ConfigDigestPrefix(): …", "ConfigDigestPrefix() reply.prefix: expected …").
 * @error may be moved from. The handler may free @c; nothing runs on it afterwards. */
typedef void (*conformance_provider_check_done_t)(ConformanceProviderCheck *c, int r, sd_bus_error *error,
                                                  void *userdata);

/* Check @components (ConformanceComponent flags) of the provider at @path on @peer, in the suite's order,
 * one call at a time, each with @ctx (may be NULL). Fails at once, with @error set and @done never called,
 * only if the first call cannot be sent. */
int conformance_provider_check_start(SdloopPeer *peer, const char *path, unsigned components, SdloopContext *ctx,
                                     conformance_provider_check_done_t done, void *userdata,
                                     ConformanceProviderCheck **ret, sd_bus_error *error);

/* Stop (the outstanding call is dropped, @done not called) and free. */
ConformanceProviderCheck *conformance_provider_check_free(ConformanceProviderCheck *c);
static inline void conformance_provider_check_freep(ConformanceProviderCheck **c) {
        conformance_provider_check_free(*c);
}

/* The same at top level: start, run @peer's loop until done. */
int conformance_provider_check_run(SdloopPeer *peer, const char *path, unsigned components, sd_bus_error *error);
