/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol's bounds (dbus/README.md, "Limits"). Every reader checks them before it allocates, and
 * refuses what is over them with org.sdloop1.Error.InvalidArgument naming the field. */

#include <stdint.h>

/* libocr's bound on the number of oracles (types.MaxOracles): no round has more observations, signers,
 * transmitters or signatures than this. */
#define SDLOOP_ORACLES_MAX 31U

/* Elements of an array the contract does not bound by the number of oracles (ListNodeStatuses). */
#define SDLOOP_ARRAY_ELEMENTS_MAX 4096U

/* Opaque payloads (observations, reports, configs): also bounded, per plugin, by the ReportingPluginInfo
 * maxima it announced. Below the message size, so that one always fits in a message. */
#define SDLOOP_PAYLOAD_MAX (8U * 1024U * 1024U)

/* A whole D-Bus message, header and body, that the contract needs: every bounded argument of a call fits
 * in it, well under sd-bus's own limit (128 MiB). A connection that announces a bigger one is closed before
 * it is read; $SDLOOP_MESSAGE_SIZE_MAX sets another limit. */
#define SDLOOP_MESSAGE_SIZE_MAX (16U * 1024U * 1024U)

/* Connections one plugin serves at a time; $SDLOOP_CONNECTIONS_MAX sets another. */
#define SDLOOP_CONNECTIONS_MAX_DEFAULT 32U

/* The cap in force in this process: the default above, or $SDLOOP_CONNECTIONS_MAX (1-65536). A malformed
 * or out-of-range value is ignored with a warning. */
unsigned sdloop_connections_max(void);

/* The message size limit in force in this process: SDLOOP_MESSAGE_SIZE_MAX, or $SDLOOP_MESSAGE_SIZE_MAX in
 * bytes (64 KiB to 128 MiB - 1). A malformed or out-of-range value is ignored with a warning. */
uint64_t sdloop_message_size_max(void);
