/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The bytes an oracle signs for a report, shared by the host's signers and the relayers that verify them:
 *
 *   config digest (32) || epoch (u32, big-endian) || round (u8) || extra hash (32) || report
 *
 * Binding the report to its whole context means a signature cannot be replayed under another config, epoch,
 * round or extra hash. */

#include <stddef.h>

#include "sdloop-types.h"

/* Offset of the report within the payload. */
#define SDLOOP_REPORT_SIGNING_HEADER_SIZE (SDLOOP_DIGEST_SIZE + 4U + 1U + SDLOOP_DIGEST_SIZE)

/* Build the payload into *ret (malloc'd; free with sdloop_bytes_done()). -EINVAL on NULL arguments,
 * -EFBIG if @size exceeds SDLOOP_PAYLOAD_MAX; *ret is untouched on failure. */
int sdloop_report_signing_payload(const SdloopReportContext *ctx, const void *report, size_t size, SdloopBytes *ret);
