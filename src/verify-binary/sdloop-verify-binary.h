/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sdloop-verify-binary's name under the libexec directory and its exit statuses (what a unit's
 * ExecStartPre= status means). */

#define SDLOOP_VERIFY_BINARY_NAME "sdloop-verify-binary"

#define SDLOOP_VERIFY_EXIT_MISMATCH   65 /* another SHA-256 (EX_DATAERR) */
#define SDLOOP_VERIFY_EXIT_UNREADABLE 66 /* the file cannot be read (EX_NOINPUT) */
#define SDLOOP_VERIFY_EXIT_USAGE      64 /* EX_USAGE */
