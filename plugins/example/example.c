/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The smallest sdloop plugin: the runtime alone. It serves org.sdloop1.Plugin and org.sdloop1.Service on
 * /org/sdloop1 and one "greeter" object, to show what every plugin gets for free. */

#include <stdlib.h>

#include "sdloop.h"

static int example_health_report(void *userdata, SdloopHealth *health) {
        return sdloop_health_add(health, "example", "");
}

static int example_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        return 0;
}

int main(int argc, char *argv[]) {
        static const SdloopPluginDescription description = {
                .name = "example",
                .kind = "example",
                .version = "1.0",
                .connection_setup = example_connection_setup,
                .health_report = example_health_report,
        };

        return sdloop_plugin_run(&description, argc, argv);
}
