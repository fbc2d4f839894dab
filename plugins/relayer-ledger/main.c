/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* sdloop-relayer-ledger: a relayer for a local, durable ledger chain kept in an SQLite database. */

#include <sodium.h>

#include "ledger-relayer.h"
#include "macro.h"
#include "sdloop-log.h"
#include "sdloop-plugin.h"

static int ledger_connection_setup(SdloopPlugin *plugin, SdloopPeer *peer, SdloopObject *root, void *userdata) {
        return ledger_plugin_relayer_setup(root);
}

static int ledger_startup(SdloopPlugin *plugin, void *userdata) {
        if (sodium_init() < 0)
                return log_error_errno(-EIO, "Failed to initialize libsodium.");
        return 0;
}

int main(int argc, char *argv[]) {
        static const SdloopPluginDescription description = {
                .name = "relayer-ledger",
                .kind = SDLOOP_KIND_RELAYER,
                .version = "1.0",
                .connection_setup = ledger_connection_setup,
                .startup = ledger_startup,
        };

        return sdloop_plugin_run(&description, argc, argv);
}
