/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Signed big integers: a sign and a fixed-width magnitude, enough for every decimal of the wire contract
 * and for the products the deviation test needs, so that nothing here allocates or fails for lack of room. */

#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-int.h"

/* --- magnitudes: fixed-width unsigned integers, least significant 64-bit limb first ----------------- */

static bool mag_is_zero(const uint64_t a[static SDLOOP_INT_LIMBS]) {
        for (size_t i = 0; i < SDLOOP_INT_LIMBS; i++)
                if (a[i] != 0)
                        return false;
        return true;
}

static int mag_compare(const uint64_t a[static SDLOOP_INT_LIMBS], const uint64_t b[static SDLOOP_INT_LIMBS]) {
        for (size_t i = SDLOOP_INT_LIMBS; i > 0; i--)
                if (a[i - 1] != b[i - 1])
                        return a[i - 1] < b[i - 1] ? -1 : 1;
        return 0;
}

/* r = a + b. The operands here are bounded far below 2^384, so a carry out of the top limb would be a
 * programming error. */
static void mag_add(uint64_t r[static SDLOOP_INT_LIMBS], const uint64_t a[static SDLOOP_INT_LIMBS],
                    const uint64_t b[static SDLOOP_INT_LIMBS]) {
        unsigned __int128 carry = 0;

        for (size_t i = 0; i < SDLOOP_INT_LIMBS; i++) {
                carry += (unsigned __int128) a[i] + b[i];
                r[i] = (uint64_t) carry;
                carry >>= 64;
        }
        assert(carry == 0);
}

/* r = a - b, for a >= b. */
static void mag_sub(uint64_t r[static SDLOOP_INT_LIMBS], const uint64_t a[static SDLOOP_INT_LIMBS],
                    const uint64_t b[static SDLOOP_INT_LIMBS]) {
        uint64_t borrow = 0;

        assert(mag_compare(a, b) >= 0);

        for (size_t i = 0; i < SDLOOP_INT_LIMBS; i++) {
                uint64_t d = a[i] - b[i] - borrow;

                borrow = a[i] < b[i] || (a[i] == b[i] && borrow);
                r[i] = d;
        }
}

/* r = a * m + add; false if the result does not fit. */
static bool mag_mul_add_small(uint64_t r[static SDLOOP_INT_LIMBS], const uint64_t a[static SDLOOP_INT_LIMBS],
                              uint64_t m, uint64_t add) {
        unsigned __int128 carry = add;

        for (size_t i = 0; i < SDLOOP_INT_LIMBS; i++) {
                carry += (unsigned __int128) a[i] * m;
                r[i] = (uint64_t) carry;
                carry >>= 64;
        }
        return carry == 0;
}

/* a /= d, returning the remainder. */
static uint64_t mag_divmod_small(uint64_t a[static SDLOOP_INT_LIMBS], uint64_t d) {
        unsigned __int128 rem = 0;

        assert(d > 0);

        for (size_t i = SDLOOP_INT_LIMBS; i > 0; i--) {
                unsigned __int128 cur = (rem << 64) | a[i - 1];

                a[i - 1] = (uint64_t) (cur / d);
                rem = cur % d;
        }
        return (uint64_t) rem;
}

/* Byte @k of the magnitude, counted from the least significant one. */
static uint8_t mag_byte(const uint64_t a[static SDLOOP_INT_LIMBS], size_t k) {
        return (uint8_t) (a[k / 8] >> (8 * (k % 8)));
}

/* --- decimals and machine integers ------------------------------------------------------------------ */

int sdloop_int_from_decimal(const char *s, SdloopInt *ret) {
        SdloopInt v = {};

        assert(ret);

        if (!sdloop_decimal_is_valid(s))
                return -EINVAL;

        if (*s == '-') {
                v.negative = true;
                s++;
        }
        /* At most SDLOOP_DECIMAL_DIGITS_MAX digits: well below 2^384, no overflow possible. */
        for (; *s; s++) {
                _unused_ bool fits = mag_mul_add_small(v.mag, v.mag, 10, (uint64_t) (*s - '0'));
                assert(fits);
        }

        *ret = v;
        return 0;
}

char *sdloop_int_to_decimal(const SdloopInt *v, char buf[static SDLOOP_INT_DECIMAL_MAX]) {
        uint64_t t[SDLOOP_INT_LIMBS];
        char digits[SDLOOP_INT_DECIMAL_MAX];
        size_t n = 0, k = 0;

        assert(v);
        assert(buf);

        memcpy(t, v->mag, sizeof(t));
        do {
                /* Every value comes from a decimal, an int128 or an int256 at most: few enough digits. */
                assert(n < SDLOOP_DECIMAL_DIGITS_MAX);
                digits[n++] = (char) ('0' + mag_divmod_small(t, 10));
        } while (!mag_is_zero(t));

        if (v->negative)
                buf[k++] = '-';
        while (n > 0)
                buf[k++] = digits[--n];
        buf[k] = '\0';
        return buf;
}

void sdloop_int_from_i128(__int128 v, SdloopInt *ret) {
        /* Negate unsigned: -INT128_MIN does not fit in __int128. */
        unsigned __int128 u = v < 0 ? -(unsigned __int128) v : (unsigned __int128) v;

        assert(ret);

        *ret = (SdloopInt) {
                .negative = v < 0,
                .mag = { (uint64_t) u, (uint64_t) (u >> 64) },
        };
}

bool sdloop_int_is_zero(const SdloopInt *v) {
        assert(v);
        return mag_is_zero(v->mag);
}

int sdloop_int_compare(const SdloopInt *a, const SdloopInt *b) {
        assert(a);
        assert(b);

        if (a->negative != b->negative)
                return a->negative ? -1 : 1;
        return a->negative ? -mag_compare(a->mag, b->mag) : mag_compare(a->mag, b->mag);
}

/* --- two's complement ------------------------------------------------------------------------------- */

int sdloop_int_to_twos_complement(const SdloopInt *v, uint8_t *buf, size_t size) {
        uint64_t limit[SDLOOP_INT_LIMBS] = {};
        unsigned carry = 1;
        int c;

        assert(v);
        assert(buf);

        if (size == 0 || size > SDLOOP_INT_BYTES_MAX)
                return -EINVAL;

        /* [-2^(8 size - 1), 2^(8 size - 1) - 1]: only a negative value may reach the limit itself. */
        limit[(8 * size - 1) / 64] = UINT64_C(1) << ((8 * size - 1) % 64);
        c = mag_compare(v->mag, limit);
        if (c > 0 || (c == 0 && !v->negative))
                return -ERANGE;

        for (size_t k = 0; k < size; k++)
                buf[size - 1 - k] = mag_byte(v->mag, k);

        if (v->negative)
                /* Invert and add one, from the least significant byte; -2^(8 size - 1) maps onto itself. */
                for (size_t i = size; i-- > 0;) {
                        unsigned x = (uint8_t) ~buf[i] + carry;

                        buf[i] = (uint8_t) x;
                        carry = x >> 8;
                }
        return 0;
}

int sdloop_int_from_twos_complement(const void *data, size_t size, SdloopInt *ret) {
        const uint8_t *p = data;
        SdloopInt v = {};
        uint64_t one[SDLOOP_INT_LIMBS] = { 1 };

        assert(ret);

        if (!data || size == 0 || size > SDLOOP_INT_BYTES_MAX)
                return -EINVAL;

        /* A negative value's magnitude is its inverse plus one, taken over exactly @size bytes. */
        v.negative = p[0] & 0x80;
        for (size_t k = 0; k < size; k++) {
                uint8_t b = p[size - 1 - k];

                v.mag[k / 8] |= (uint64_t) (v.negative ? (uint8_t) ~b : b) << (8 * (k % 8));
        }
        if (v.negative)
                mag_add(v.mag, v.mag, one);

        *ret = v;
        return 0;
}

int sdloop_int_to_int192(const SdloopInt *v, uint8_t ret[static SDLOOP_INT192_BYTES]) {
        return sdloop_int_to_twos_complement(v, ret, SDLOOP_INT192_BYTES);
}

int sdloop_int_from_int192(const void *data, size_t size, SdloopInt *ret) {
        if (size != SDLOOP_INT192_BYTES)
                return -EINVAL;
        return sdloop_int_from_twos_complement(data, size, ret);
}

/* --- deviation -------------------------------------------------------------------------------------- */

bool sdloop_int_deviates(uint64_t threshold_ppb, const SdloopInt *old_value, const SdloopInt *new_value) {
        uint64_t diff[SDLOOP_INT_LIMBS], lhs[SDLOOP_INT_LIMBS], rhs[SDLOOP_INT_LIMBS];
        _unused_ bool fits;

        assert(old_value);
        assert(new_value);

        /* Relative to zero every change is infinite, and no change is none. */
        if (sdloop_int_is_zero(old_value))
                return !sdloop_int_is_zero(new_value);

        if (old_value->negative == new_value->negative) {
                if (mag_compare(new_value->mag, old_value->mag) >= 0)
                        mag_sub(diff, new_value->mag, old_value->mag);
                else
                        mag_sub(diff, old_value->mag, new_value->mag);
        } else
                mag_add(diff, new_value->mag, old_value->mag);

        /* |new - old| / |old| >= ppb / 10^9  ⇔  |new - old| · 10^9 >= ppb · |old|, all exact: the
         * magnitudes stay below 2^261, the products below 2^325. */
        fits = mag_mul_add_small(lhs, diff, UINT64_C(1000000000), 0);
        assert(fits);
        fits = mag_mul_add_small(rhs, old_value->mag, threshold_ppb, 0);
        assert(fits);
        return mag_compare(lhs, rhs) >= 0;
}
