/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The objects the host serves to its plugins (LOOP's host-side services):
 *
 *   Keystore   /org/sdloop1/host/keystore         a relayer's chain accounts (Ed25519 keys in a directory of
 *                                                 its own), for relayer plugins
 *   DataSource /org/sdloop1/host/data_source/<n>  observations, from a callback (the feed driver's)
 *   ErrorLog   /org/sdloop1/host/error_log/<n>    errors a plugin reports, to the journal under its name
 *
 * They are exported on a plugin's connection: the Keystore from HostPlugin.on_connect (host_services_export),
 * data sources and error logs when a handle that needs them is created (NewMedianFactory). */

#include "host.h"

#define HOST_KEYSTORE_PATH "/org/sdloop1/host/keystore"

/* --- Keystore --- */

typedef struct HostKeystore HostKeystore;

/* Keys live in @state_directory/keys/<account>.key (0600, directory 0700), one Ed25519 secret key each;
 * the account name is the hex-encoded public key. Nothing is created until first use: the directory with
 * the first key, and the first key when Accounts() finds none. Key material is never logged. */
int host_keystore_new(const char *state_directory, HostKeystore **ret);
/* The same with the keys directly in @directory (absolute; made 0700, with its parents, on first use). */
int host_keystore_new_directory(const char *directory, HostKeystore **ret);
HostKeystore *host_keystore_free(HostKeystore *ks);
static inline void host_keystore_freep(HostKeystore **ks) {
        if (*ks)
                host_keystore_free(*ks);
}

const char *host_keystore_get_directory(HostKeystore *ks);

/* Make a new key; *ret_account (malloc'd, may be NULL) gets its account name. */
int host_keystore_create_account(HostKeystore *ks, char **ret_account);
/* The accounts, sorted (none: an empty list). */
int host_keystore_list(HostKeystore *ks, char ***ret_accounts);
/* The same, but creates the first one if there is none (a relayer asking for accounts gets one). */
int host_keystore_accounts(HostKeystore *ks, char ***ret_accounts);
/* An Ed25519 detached signature (64 bytes) of @data by @account. -ENOENT for an unknown account. */
int host_keystore_sign(HostKeystore *ks, const char *account, const void *data, size_t size, SdloopBytes *ret);

extern const SdloopKeystoreOps host_keystore_ops;

/* --- ErrorLog --- */

/* An ErrorLog object on @peer whose SaveError(message) logs "Plugin <plugin>: <message>" at LOG_ERR to the
 * journal with SDLOOP_PLUGIN=<plugin>. @plugin is the name the host knows the caller by. */
int host_error_log_new(SdloopPeer *peer, SdloopObject *parent, const char *plugin, SdloopObject **ret);

/* --- DataSource --- */

typedef int (*host_observe_fn)(void *userdata, const SdloopReportTimestamp *ts, char **ret_value,
                               sd_bus_error *error);

/* A DataSource object on @peer answering Observe() with @observe. @destroy (may be NULL) is called with
 * @userdata when the object closes (connection gone, parent closed). */
int host_data_source_new(SdloopPeer *peer, SdloopObject *parent, host_observe_fn observe, void *userdata,
                         void (*destroy)(void *userdata), SdloopObject **ret);

/* --- exports on a new connection --- */

/* Export the host's per-connection objects on @peer: the Keystore (@keystore may be NULL: none). Call from
 * HostPlugin.on_connect. */
int host_services_export(SdloopPeer *peer, HostKeystore *keystore);
