/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.sdloop1.MedianContract, the caller's side. */

#include "sdloop-provider.h"
#include "service-util.h"

#define MEDIAN_CONTRACT_INTERFACE "org.sdloop1.MedianContract"

int sdloop_median_contract_latest_transmission_details(SdloopPeer *peer, const char *path,
                                                       uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                       uint32_t *ret_epoch, uint8_t *ret_round,
                                                       char **ret_latest_answer,
                                                       int64_t *ret_latest_timestamp_usec,
                                                       sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        _cleanup_free_ char *answer = NULL;
        int64_t timestamp_usec;
        uint32_t epoch;
        uint8_t round;
        int r;

        if (!peer || !path || !ret_digest || !ret_epoch || !ret_round || !ret_latest_answer ||
            !ret_latest_timestamp_usec)
                return -EINVAL;

        r = service_call_simple(peer, path, MEDIAN_CONTRACT_INTERFACE, "LatestTransmissionDetails", &reply,
                                error);
        if (r < 0)
                return r;

        r = sdloop_read_digest(reply, "LatestTransmissionDetails reply.digest", digest, error);
        if (r < 0)
                return r;
        r = service_read_reply_basic(reply, "LatestTransmissionDetails reply.epoch", 'u', &epoch, error);
        if (r < 0)
                return r;
        r = service_read_reply_basic(reply, "LatestTransmissionDetails reply.round", 'y', &round, error);
        if (r < 0)
                return r;
        r = sdloop_read_decimal(reply, "LatestTransmissionDetails reply.latest_answer", &answer, error);
        if (r < 0)
                return r;
        r = service_read_reply_basic(reply, "LatestTransmissionDetails reply.latest_timestamp_usec", 'x',
                                     &timestamp_usec, error);
        if (r < 0)
                return r;

        memcpy(ret_digest, digest, sizeof(digest));
        *ret_epoch = epoch;
        *ret_round = round;
        *ret_latest_answer = TAKE_PTR(answer);
        *ret_latest_timestamp_usec = timestamp_usec;
        return 0;
}

int sdloop_median_contract_latest_round_requested(SdloopPeer *peer, const char *path, uint64_t lookback_usec,
                                                  uint8_t ret_digest[static SDLOOP_DIGEST_SIZE],
                                                  uint32_t *ret_epoch, uint8_t *ret_round,
                                                  sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint8_t digest[SDLOOP_DIGEST_SIZE];
        uint32_t epoch;
        uint8_t round;
        int r;

        if (!peer || !path || !ret_digest || !ret_epoch || !ret_round)
                return -EINVAL;

        r = sdloop_peer_call_method(peer, path, MEDIAN_CONTRACT_INTERFACE, "LatestRoundRequested", &reply,
                                    error, "t", lookback_usec);
        if (r < 0)
                return r;

        r = sdloop_read_digest(reply, "LatestRoundRequested reply.digest", digest, error);
        if (r < 0)
                return r;
        r = service_read_reply_basic(reply, "LatestRoundRequested reply.epoch", 'u', &epoch, error);
        if (r < 0)
                return r;
        r = service_read_reply_basic(reply, "LatestRoundRequested reply.round", 'y', &round, error);
        if (r < 0)
                return r;

        memcpy(ret_digest, digest, sizeof(digest));
        *ret_epoch = epoch;
        *ret_round = round;
        return 0;
}
