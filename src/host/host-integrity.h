/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Binary integrity (go-plugin's SecureConfig): a plugin whose settings pin binary_sha256 is started only
 * from a binary with that SHA-256, computed from the file just before each start and restart the host makes
 * (and each restart the exec backend makes on its own). */

#include "host-plugin.h"

#define HOST_SHA256_HEX_SIZE (2 * 32 + 1)

/* The SHA-256 of the file at @path as 64 lower-case hex digits. The file is read in pieces, in one go:
 * what a start costs in any case is reading the binary. */
int host_file_sha256(const char *path, char ret[static HOST_SHA256_HEX_SIZE]);

/* 0 if @p's binary is not pinned or has the pinned hash. Otherwise a negative errno (-EBADMSG: another
 * hash) and *@ret_message (malloc'd) says why, for LastError; the error is logged. */
int host_plugin_check_binary(HostPlugin *p, char **ret_message);
