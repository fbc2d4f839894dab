/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.Keystore — served by the host at /org/sdloop1/host/keystore, called by relayer plugins. */

#include "sdloop-object.h"

typedef struct SdloopKeystoreOps {
        /* *ret_accounts: a NULL-terminated, malloc'd string list, freed by the library. */
        int (*accounts)(void *userdata, char ***ret_accounts, sd_bus_error *error);
        int (*sign)(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                    sd_bus_error *error);
} SdloopKeystoreOps;

int sdloop_keystore_export(SdloopObject *o, const SdloopKeystoreOps *ops, void *userdata);

int sdloop_keystore_accounts(SdloopPeer *peer, const char *path, char ***ret_accounts, sd_bus_error *error);
int sdloop_keystore_sign(SdloopPeer *peer, const char *path, const char *account, const void *data, size_t size,
                         SdloopBytes *ret_signed, sd_bus_error *error);
