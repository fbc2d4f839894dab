/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.sdloop1.Keystore — served by the host at /org/sdloop1/host/keystore, called by relayer plugins. */

#include "sdloop-object.h"

/* Any op may defer, answering later with the typed return below: see sdloop-call.h. */
typedef struct SdloopKeystoreOps {
        /* *ret_accounts: a NULL-terminated, malloc'd string list, freed by the library. */
        int (*accounts)(void *userdata, char ***ret_accounts, sd_bus_error *error);
        int (*sign)(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                    sd_bus_error *error);
} SdloopKeystoreOps;

int sdloop_keystore_export(SdloopObject *o, const SdloopKeystoreOps *ops, void *userdata);

/* Answer a deferred Accounts(): NULL-terminated, NULL is the empty list. */
int sdloop_keystore_accounts_return(SdloopCall *c, char * const *accounts);
/* Answer a deferred Sign(); NULL is empty. */
int sdloop_keystore_sign_return(SdloopCall *c, const SdloopBytes *signed_data);

/* The calling side: sdloop_*() and sdloop_*_async(), generated from the contract. */
#include "sdloop-client.h"
