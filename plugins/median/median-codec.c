/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "macro.h"
#include "median-codec.h"
#include "median.pb-c.h"

static void observation_freep(Sdloop__Median__Observation **p) {
        if (*p)
                sdloop__median__observation__free_unpacked(*p, NULL);
}

static int pack(const ProtobufCMessage *m, SdloopBytes *ret) {
        size_t n;
        uint8_t *buf;

        n = protobuf_c_message_get_packed_size(m);
        buf = malloc(n ?: 1);
        if (!buf)
                return -ENOMEM;
        if (protobuf_c_message_pack(m, buf) != n) {
                free(buf);
                return -EIO;
        }

        *ret = (SdloopBytes) { .data = buf, .size = n };
        return 0;
}

int median_observation_encode(uint32_t timestamp, const SdloopInt *value, const SdloopInt *juels_per_fee_coin,
                              SdloopBytes *ret) {
        Sdloop__Median__Observation m = SDLOOP__MEDIAN__OBSERVATION__INIT;
        uint8_t v[SDLOOP_INT192_BYTES], j[SDLOOP_INT192_BYTES];
        int r;

        assert(value);
        assert(juels_per_fee_coin);
        assert(ret);

        r = sdloop_int_to_int192(value, v);
        if (r < 0)
                return r;
        r = sdloop_int_to_int192(juels_per_fee_coin, j);
        if (r < 0)
                return r;

        m.timestamp = timestamp;
        m.value = (ProtobufCBinaryData) { .len = sizeof(v), .data = v };
        m.juels_per_fee_coin = (ProtobufCBinaryData) { .len = sizeof(j), .data = j };
        /* gas_price_subunits stays empty: this plugin has no data source for it. */
        return pack(&m.base, ret);
}

int median_observation_decode(const void *data, size_t size, MedianObservation *ret, const char **ret_reason) {
        _cleanup_(observation_freep) Sdloop__Median__Observation *m = NULL;
        SdloopInt value, juels, gas;
        const char *dummy;

        assert(ret);
        if (!ret_reason)
                ret_reason = &dummy;

        if (size > MEDIAN_MAX_OBSERVATION_LENGTH) {
                *ret_reason = "longer than the maximum observation length";
                return -EMSGSIZE;
        }

        m = sdloop__median__observation__unpack(NULL, size, size > 0 ? data : NULL);
        if (!m) {
                *ret_reason = "not a valid Observation protobuf message";
                return -EINVAL;
        }
        if (sdloop_int_from_int192(m->value.data, m->value.len, &value) < 0) {
                *ret_reason = "value is not a 24-byte int192";
                return -EINVAL;
        }
        if (sdloop_int_from_int192(m->juels_per_fee_coin.data, m->juels_per_fee_coin.len, &juels) < 0) {
                *ret_reason = "juels_per_fee_coin is not a 24-byte int192";
                return -EINVAL;
        }
        /* Older oracles leave it out; if it is there it must be well-formed, as in libocr. */
        if (m->gas_price_subunits.len > 0 &&
            sdloop_int_from_int192(m->gas_price_subunits.data, m->gas_price_subunits.len, &gas) < 0) {
                *ret_reason = "gas_price_subunits is not a 24-byte int192";
                return -EINVAL;
        }

        *ret = (MedianObservation) {
                .timestamp = m->timestamp,
                .value = value,
                .juels_per_fee_coin = juels,
        };
        return 0;
}
