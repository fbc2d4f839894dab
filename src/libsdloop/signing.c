/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The report signing payload; see sdloop-signing.h for the layout. */

#include "macro.h"
#include "sdloop-signing.h"

int sdloop_report_signing_payload(const SdloopReportContext *ctx, const void *report, size_t size, SdloopBytes *ret) {
        uint8_t *p, *q;

        if (!ctx || !ret || (!report && size > 0))
                return -EINVAL;
        if (size > SDLOOP_PAYLOAD_MAX)
                return -EFBIG;

        p = malloc(SDLOOP_REPORT_SIGNING_HEADER_SIZE + size);
        if (!p)
                return -ENOMEM;

        q = p;
        memcpy(q, ctx->timestamp.digest, SDLOOP_DIGEST_SIZE);
        q += SDLOOP_DIGEST_SIZE;
        *q++ = (uint8_t) (ctx->timestamp.epoch >> 24);
        *q++ = (uint8_t) (ctx->timestamp.epoch >> 16);
        *q++ = (uint8_t) (ctx->timestamp.epoch >> 8);
        *q++ = (uint8_t) ctx->timestamp.epoch;
        *q++ = ctx->timestamp.round;
        memcpy(q, ctx->extra_hash, SDLOOP_DIGEST_SIZE);
        q += SDLOOP_DIGEST_SIZE;
        if (size > 0)
                memcpy(q, report, size);

        *ret = (SdloopBytes) {
                .data = p,
                .size = SDLOOP_REPORT_SIGNING_HEADER_SIZE + size,
        };
        return 0;
}
