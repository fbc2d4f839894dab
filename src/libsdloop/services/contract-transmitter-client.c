/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.ContractTransmitter, the caller's side. */

#include "sdloop-provider.h"
#include "service-util.h"

#define CONTRACT_TRANSMITTER_INTERFACE "org.sdloop1.ContractTransmitter"

/* Refuse locally what the provider would refuse, so that an oversized report fails before it is copied
 * into a message. */
static int check_transmit_args(const void *report, size_t report_size, const SdloopAttributed *signatures,
                               size_t n_signatures, sd_bus_error *error) {
        int r;

        r = service_check_bytes_arg("report", report, report_size, SDLOOP_PAYLOAD_MAX, error);
        if (r < 0)
                return r;

        if (!signatures && n_signatures > 0)
                return -EINVAL;
        if (n_signatures > SERVICE_SIGNATURES_MAX)
                return sdloop_error_invalid(error, "signatures", "expected at most %u, got %zu",
                                            SERVICE_SIGNATURES_MAX, n_signatures);
        for (size_t i = 0; i < n_signatures; i++) {
                char field[64];

                (void) snprintf(field, sizeof(field), "signatures[%zu].data", i);
                r = service_check_bytes_arg(field, signatures[i].data.data, signatures[i].data.size,
                                            SERVICE_SIGNATURE_SIZE_MAX, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int sdloop_contract_transmitter_transmit(SdloopPeer *peer, const char *path, const SdloopReportContext *ctx,
                                         const void *report, size_t report_size,
                                         const SdloopAttributed *signatures, size_t n_signatures,
                                         sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!peer || !path || !ctx)
                return -EINVAL;

        r = check_transmit_args(report, report_size, signatures, n_signatures, error);
        if (r < 0)
                return r;

        r = sdloop_peer_new_call(peer, path, CONTRACT_TRANSMITTER_INTERFACE, "Transmit", &m);
        if (r < 0)
                return r;
        r = sdloop_append_report_context(m, ctx);
        if (r < 0)
                return service_append_failed(error, "report_context", r);
        r = sdloop_append_bytes(m, report, report_size);
        if (r < 0)
                return service_append_failed(error, "report", r);
        r = sdloop_append_attributed_array(m, signatures, n_signatures);
        if (r < 0)
                return service_append_failed(error, "signatures", r);

        return sdloop_peer_call(peer, m, 0, NULL, error);
}

int sdloop_contract_transmitter_latest_config_digest_and_epoch(SdloopPeer *peer, const char *path,
                                                               uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                               uint32_t *ret_epoch, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        int r;

        if (!peer || !path || !ret_digest || !ret_epoch)
                return -EINVAL;

        r = service_call_simple(peer, path, CONTRACT_TRANSMITTER_INTERFACE, "LatestConfigDigestAndEpoch",
                                &reply, error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(reply, "LatestConfigDigestAndEpoch reply.digest", digest, error);
        if (r < 0)
                return r;
        r = service_read_reply_basic(reply, "LatestConfigDigestAndEpoch reply.epoch", 'u', &epoch, error);
        if (r < 0)
                return r;

        memcpy(ret_digest, digest, sizeof(digest));
        *ret_epoch = epoch;
        return 0;
}

int sdloop_contract_transmitter_from_account(SdloopPeer *peer, const char *path, char **ret_account,
                                             sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (!peer || !path || !ret_account)
                return -EINVAL;

        r = service_call_simple(peer, path, CONTRACT_TRANSMITTER_INTERFACE, "FromAccount", &reply, error);
        if (r < 0)
                return r;

        return service_read_reply_string(reply, "FromAccount reply.account", ret_account, error);
}
