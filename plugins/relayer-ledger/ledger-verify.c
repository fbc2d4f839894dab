/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Whether a transmission carries enough valid signatures for the current configuration. */

#include <sodium.h>

#include "ledger-config.h"
#include "ledger-digest.h"
#include "ledger-verify.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-signing.h"

int ledger_verify_transmission(const SdloopContractConfig *config, const SdloopReportContext *ctx,
                               const void *report, size_t size, const SdloopAttributed *signatures,
                               size_t n_signatures, sd_bus_error *error) {
        _cleanup_(sdloop_bytes_done) SdloopBytes payload = {};
        bool seen[UINT8_MAX + 1] = {};
        size_t distinct = 0;
        int r;

        assert(config);
        assert(ctx);
        assert(report || size == 0);
        assert(signatures || n_signatures == 0);

        if (memcmp(config->digest, ctx->timestamp.digest, SDLOOP_DIGEST_SIZE) != 0) {
                char got[LEDGER_DIGEST_HEX_SIZE], current[LEDGER_DIGEST_HEX_SIZE];

                return sdloop_error_invalid(error, "report_context.digest", "%s is not the current config digest %s",
                                            ledger_digest_to_hex(ctx->timestamp.digest, got),
                                            ledger_digest_to_hex(config->digest, current));
        }

        if (sodium_init() < 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "libsodium failed to initialize");

        r = sdloop_report_signing_payload(ctx, report, size, &payload);
        if (r < 0)
                return r;

        /* Every signature must verify: a transmission with a forged one is refused as a whole, not
         * accepted on the strength of the others. */
        for (size_t i = 0; i < n_signatures; i++) {
                const SdloopAttributed *s = signatures + i;
                const SdloopBytes *key;

                if (s->oracle >= config->n_signers)
                        return sdloop_error_invalid(error, "signatures", "signature %zu: unknown signer index %u "
                                                    "(%zu signers configured)", i, s->oracle, config->n_signers);
                key = config->signers + s->oracle;
                if (key->size != crypto_sign_PUBLICKEYBYTES)
                        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL,
                                                 "configured signer %u has a %zu-byte key, expected %u", s->oracle,
                                                 key->size, crypto_sign_PUBLICKEYBYTES);
                if (s->data.size != crypto_sign_BYTES)
                        return sdloop_error_invalid(error, "signatures",
                                                    "signature %zu (signer %u): expected %u bytes, got %zu", i,
                                                    s->oracle, crypto_sign_BYTES, s->data.size);
                if (crypto_sign_verify_detached(s->data.data, payload.data, payload.size, key->data) != 0)
                        return sdloop_error_invalid(error, "signatures", "signature %zu (signer %u) does not verify "
                                                    "over this report and context", i, s->oracle);

                /* A signer that signed twice still counts once. */
                if (!seen[s->oracle]) {
                        seen[s->oracle] = true;
                        distinct++;
                }
        }

        if (distinct < (size_t) config->f + 1)
                return sdloop_error_invalid(error, "signatures",
                                            "%zu distinct valid signer%s, at least f+1 = %u required", distinct,
                                            distinct == 1 ? "" : "s", config->f + 1U);
        return 0;
}
