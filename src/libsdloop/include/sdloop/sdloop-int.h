/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Signed big integers of the wire contract: the decimals of sdloop-codec.h (up to
 * SDLOOP_DECIMAL_DIGITS_MAX digits, more than any machine integer holds) as values to compare and compute
 * with, and their fixed-width big-endian two's complement encodings (OCR's int192 observations, the
 * int256 words of onchain configs).
 *
 * Every SdloopInt made by these functions has at most SDLOOP_DECIMAL_DIGITS_MAX decimal digits; the
 * representation is public only so that the type can be embedded by value: fill it with these functions. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdloop-types.h"

/* 384 bits of magnitude: a 78-digit decimal (< 2^260) times a 64-bit factor still fits. */
#define SDLOOP_INT_LIMBS 6U
/* Sign, SDLOOP_DECIMAL_DIGITS_MAX digits and the terminating NUL. */
#define SDLOOP_INT_DECIMAL_MAX (SDLOOP_DECIMAL_DIGITS_MAX + 2U)
/* OCR's int192: 24 bytes, [-2^191, 2^191 - 1]. */
#define SDLOOP_INT192_BYTES 24U
/* The widest two's complement encoding handled: int256, whose every value has at most 78 digits. */
#define SDLOOP_INT_BYTES_MAX 32U

typedef struct SdloopInt {
        bool negative;                  /* never set for zero */
        uint64_t mag[SDLOOP_INT_LIMBS]; /* magnitude, least significant limb first */
} SdloopInt;

/* -EINVAL unless @s is a valid decimal (sdloop_decimal_is_valid()). */
int sdloop_int_from_decimal(const char *s, SdloopInt *ret);
/* Returns @buf. */
char *sdloop_int_to_decimal(const SdloopInt *v, char buf[static SDLOOP_INT_DECIMAL_MAX]);
void sdloop_int_from_i128(__int128 v, SdloopInt *ret);
/* -1, 0 or 1. */
int sdloop_int_compare(const SdloopInt *a, const SdloopInt *b);
bool sdloop_int_is_zero(const SdloopInt *v);

/* @size bytes of big-endian two's complement, 1 <= @size <= SDLOOP_INT_BYTES_MAX (else -EINVAL);
 * -ERANGE if @v is outside [-2^(8 size - 1), 2^(8 size - 1) - 1]. */
int sdloop_int_to_twos_complement(const SdloopInt *v, uint8_t *buf, size_t size);
/* -EINVAL unless 1 <= @size <= SDLOOP_INT_BYTES_MAX. */
int sdloop_int_from_twos_complement(const void *data, size_t size, SdloopInt *ret);

/* -ERANGE if @v is outside [-2^191, 2^191 - 1]. */
int sdloop_int_to_int192(const SdloopInt *v, uint8_t ret[static SDLOOP_INT192_BYTES]);
/* -EINVAL unless @size is exactly SDLOOP_INT192_BYTES, as libocr's median DecodeValue. */
int sdloop_int_from_int192(const void *data, size_t size, SdloopInt *ret);

/* Does @new_value deviate from @old_value by at least @threshold_ppb parts per billion, i.e.
 * |new - old| / |old| >= ppb / 10^9? Exact, like libocr's DefaultDeviationFunc (which compares big
 * rationals): a zero @old_value deviates from every non-zero @new_value and from nothing else; from any
 * other, a threshold of 0 is met even by no change. */
bool sdloop_int_deviates(uint64_t threshold_ppb, const SdloopInt *old_value, const SdloopInt *new_value);
