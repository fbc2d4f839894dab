/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libocr's median onchain config codec, on 256-bit two's complement integers. Decimals on the wire may be
 * up to 78 digits, more than __int128 holds: the conversion goes through libsdloop's big integers. */

#include "ledger-onchain.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"
#include "sdloop-int.h"

int ledger_int256_from_decimal(const char *s, uint8_t ret[static LEDGER_INT256_SIZE]) {
        SdloopInt v;
        int r;

        r = sdloop_int_from_decimal(s, &v);
        if (r < 0)
                return r;
        return sdloop_int_to_twos_complement(&v, ret, LEDGER_INT256_SIZE);
}

int ledger_int256_to_decimal(const uint8_t v[static LEDGER_INT256_SIZE], char **ret) {
        char buf[SDLOOP_INT_DECIMAL_MAX];
        SdloopInt i;
        int r;

        assert(ret);

        r = sdloop_int_from_twos_complement(v, LEDGER_INT256_SIZE, &i);
        if (r < 0)
                return r;

        *ret = strdup(sdloop_int_to_decimal(&i, buf));
        return *ret ? 0 : -ENOMEM;
}

int ledger_onchain_config_encode(const SdloopOnchainConfig *config, SdloopBytes *ret, sd_bus_error *error) {
        uint8_t buf[LEDGER_ONCHAIN_CONFIG_SIZE];
        int r;

        assert(config);
        assert(ret);

        buf[0] = LEDGER_ONCHAIN_CONFIG_VERSION;

        r = ledger_int256_from_decimal(config->min, buf + 1);
        if (r < 0)
                return sdloop_error_invalid(error, "onchain_config.min", "%s is not a 256-bit signed integer",
                                            strempty(config->min));
        r = ledger_int256_from_decimal(config->max, buf + 1 + LEDGER_INT256_SIZE);
        if (r < 0)
                return sdloop_error_invalid(error, "onchain_config.max", "%s is not a 256-bit signed integer",
                                            strempty(config->max));
        if (sdloop_decimal_compare(config->min, config->max) > 0)
                return sdloop_error_invalid(error, "onchain_config", "min %s is greater than max %s", config->min,
                                            config->max);

        return sdloop_bytes_copy(ret, buf, sizeof(buf));
}

int ledger_onchain_config_decode(const void *data, size_t size, SdloopOnchainConfig *ret, sd_bus_error *error) {
        _cleanup_free_ char *min = NULL, *max = NULL;
        const uint8_t *p = data;
        int r;

        assert(data || size == 0);
        assert(ret);

        if (size != LEDGER_ONCHAIN_CONFIG_SIZE)
                return sdloop_error_invalid(error, "encoded", "expected %u bytes, got %zu", LEDGER_ONCHAIN_CONFIG_SIZE,
                                            size);
        if (p[0] != LEDGER_ONCHAIN_CONFIG_VERSION)
                return sdloop_error_invalid(error, "encoded", "unknown onchain config version %u (expected %u)", p[0],
                                            LEDGER_ONCHAIN_CONFIG_VERSION);

        r = ledger_int256_to_decimal(p + 1, &min);
        if (r < 0)
                return r;
        r = ledger_int256_to_decimal(p + 1 + LEDGER_INT256_SIZE, &max);
        if (r < 0)
                return r;
        if (sdloop_decimal_compare(min, max) > 0)
                return sdloop_error_invalid(error, "encoded", "min %s is greater than max %s", min, max);

        *ret = (SdloopOnchainConfig) {
                .min = TAKE_PTR(min),
                .max = TAKE_PTR(max),
        };
        return 0;
}
