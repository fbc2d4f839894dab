/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libocr's median onchain config codec, on 256-bit two's complement integers. Decimals on the wire may be
 * up to 78 digits, more than __int128 holds, so the conversion works on the 32 bytes directly. */

#include "ledger-onchain.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

static bool int256_is_negative(const uint8_t v[static LEDGER_INT256_SIZE]) {
        return v[0] & 0x80;
}

static void int256_negate(uint8_t v[static LEDGER_INT256_SIZE]) {
        unsigned carry = 1;

        /* Two's complement: invert and add one, from the least significant byte. */
        for (size_t i = LEDGER_INT256_SIZE; i-- > 0;) {
                unsigned x = (uint8_t) ~v[i] + carry;

                v[i] = (uint8_t) x;
                carry = x >> 8;
        }
}

int ledger_int256_from_decimal(const char *s, uint8_t ret[static LEDGER_INT256_SIZE]) {
        uint8_t v[LEDGER_INT256_SIZE] = {};
        bool negative;

        if (!sdloop_decimal_is_valid(s))
                return -EINVAL;

        negative = *s == '-';
        if (negative)
                s++;

        /* The magnitude, v = v * 10 + digit. */
        for (; *s; s++) {
                unsigned carry = (unsigned) (*s - '0');

                for (size_t i = LEDGER_INT256_SIZE; i-- > 0;) {
                        unsigned x = v[i] * 10U + carry;

                        v[i] = (uint8_t) x;
                        carry = x >> 8;
                }
                if (carry != 0)
                        return -ERANGE;
        }

        if (int256_is_negative(v)) {
                /* A magnitude with the top bit set fits only as -2^255, whose magnitude is 0x80 00 … 00. */
                if (!negative || v[0] != 0x80)
                        return -ERANGE;
                for (size_t i = 1; i < LEDGER_INT256_SIZE; i++)
                        if (v[i] != 0)
                                return -ERANGE;
        }

        if (negative)
                int256_negate(v); /* -2^255 maps onto itself, as it should */

        memcpy(ret, v, LEDGER_INT256_SIZE);
        return 0;
}

int ledger_int256_to_decimal(const uint8_t in[static LEDGER_INT256_SIZE], char **ret) {
        char digits[SDLOOP_DECIMAL_DIGITS_MAX + 2], *p;
        uint8_t v[LEDGER_INT256_SIZE];
        bool negative, zero;

        assert(ret);

        memcpy(v, in, LEDGER_INT256_SIZE);
        negative = int256_is_negative(v);
        if (negative)
                int256_negate(v); /* -2^255 yields the magnitude 2^255, read as unsigned below */

        /* Divide the magnitude by 10 until it is zero, collecting remainders from the end. */
        p = digits + sizeof(digits);
        *--p = '\0';
        do {
                unsigned rem = 0;

                zero = true;
                for (size_t i = 0; i < LEDGER_INT256_SIZE; i++) {
                        unsigned x = (rem << 8) | v[i];

                        v[i] = (uint8_t) (x / 10);
                        rem = x % 10;
                        if (v[i] != 0)
                                zero = false;
                }
                *--p = (char) ('0' + rem);
        } while (!zero);

        if (negative)
                *--p = '-';

        *ret = strdup(p);
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
