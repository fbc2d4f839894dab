/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "macro.h"
#include "median-config.pb-c.h"
#include "sdloop-median-config.h"

static void offchain_config_freep(Sdloop__Median__OffchainConfig **p) {
        if (*p)
                sdloop__median__offchain_config__free_unpacked(*p, NULL);
}

int sdloop_median_offchain_config_decode(const void *data, size_t size, SdloopMedianOffchainConfig *ret,
                                         const char **ret_reason) {
        _cleanup_(offchain_config_freep) Sdloop__Median__OffchainConfig *m = NULL;
        const char *dummy;

        assert(data || size == 0);
        assert(ret);
        if (!ret_reason)
                ret_reason = &dummy;

        /* An empty message is a valid one (all defaults), and NULL is all protobuf-c wants for it. */
        m = sdloop__median__offchain_config__unpack(NULL, size, size > 0 ? data : NULL);
        if (!m) {
                *ret_reason = "not a valid OffchainConfig protobuf message";
                return -EINVAL;
        }
        /* libocr keeps deltaC in a signed time.Duration and refuses what would turn negative. */
        if (m->delta_c_nanoseconds > INT64_MAX) {
                *ret_reason = "delta_c_nanoseconds must be non-negative as a signed 64-bit duration";
                return -EINVAL;
        }

        *ret = (SdloopMedianOffchainConfig) {
                .alpha_report_infinite = m->alpha_report_infinite,
                .alpha_report_ppb = m->alpha_report_ppb,
                .alpha_accept_infinite = m->alpha_accept_infinite,
                .alpha_accept_ppb = m->alpha_accept_ppb,
                .delta_c_nsec = m->delta_c_nanoseconds,
        };
        /* Options of a newer libocr are ignored, as libocr ignores them too; tell the caller, so that an
         * operator hears of it. */
        return m->base.n_unknown_fields > 0;
}

int sdloop_median_offchain_config_encode(const SdloopMedianOffchainConfig *config, SdloopBytes *ret) {
        Sdloop__Median__OffchainConfig m = SDLOOP__MEDIAN__OFFCHAIN_CONFIG__INIT;
        uint8_t *buf;
        size_t n;

        assert(config);
        assert(ret);

        if (config->delta_c_nsec > INT64_MAX)
                return -ERANGE;

        m.alpha_report_infinite = config->alpha_report_infinite;
        m.alpha_report_ppb = config->alpha_report_ppb;
        m.alpha_accept_infinite = config->alpha_accept_infinite;
        m.alpha_accept_ppb = config->alpha_accept_ppb;
        m.delta_c_nanoseconds = config->delta_c_nsec;

        n = sdloop__median__offchain_config__get_packed_size(&m);
        buf = malloc(n ?: 1);
        if (!buf)
                return -ENOMEM;
        if (sdloop__median__offchain_config__pack(&m, buf) != n) {
                free(buf);
                return -EIO;
        }

        *ret = (SdloopBytes) { .data = buf, .size = n };
        return 0;
}
