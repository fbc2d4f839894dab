/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-median: the numerical-median OCR2 reporting plugin ("NumericalMedian") as an sdloop plugin of
 * kind "median". The host hands it a relayer's median provider, two data sources and an error log
 * (NewMedianFactory); the reporting plugins it creates decide when to report, accept and transmit. */

#include "median-plugin.h"

int main(int argc, char *argv[]) {
        static const SdloopPluginDescription description = {
                .name = "median",
                .kind = SDLOOP_KIND_MEDIAN,
                .version = "1.0",
                .connection_setup = median_plugin_connection_setup,
        };

        return sdloop_plugin_run(&description, argc, argv);
}
