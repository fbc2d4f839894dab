/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Binary integrity (go-plugin's SecureConfig): a plugin whose settings pin binary_sha256 is started only
 * from a binary with that SHA-256, computed from the file just before each start and restart the host makes
 * (and each restart the exec backend makes on its own; the systemd backends put the same check into the
 * unit, for the restarts systemd makes: backend-systemd-units.c).
 *
 * The file is hashed one piece (SHA256_FILE_CHUNK) per event-loop iteration: a large binary does not keep
 * the loop from serving meanwhile. */

#include "host-plugin.h"
#include "sha256-file.h"

typedef struct HostBinaryCheck HostBinaryCheck;

/* Told from the loop how the check ended: 0 (the binary has the pinned hash), or a negative errno
 * (-EBADMSG: another hash) with @message saying why, for LastError (already logged). */
typedef void (*host_binary_checked_fn)(HostPlugin *p, int r, const char *message, void *userdata);

/* Begin checking @p's pinned binary (settings.binary_sha256 must be set). *@slot holds the check while it
 * runs and is NULL again before @done is called; host_binary_check_cancel(@slot) forgets it, @done uncalled. */
int host_plugin_check_binary_async(HostPlugin *p, HostBinaryCheck **slot, host_binary_checked_fn done,
                                   void *userdata);
void host_binary_check_cancel(HostBinaryCheck **slot);

/* The path of sdloop-verify-binary, the check the systemd backends run as a unit's ExecStartPre=:
 * $SDLOOP_LIBEXECDIR (as for plugins given by bare name) or the libexec directory of the installation. */
int host_verifier_path(char **ret);
