# SPDX-License-Identifier: LGPL-2.1-or-later
"""The two protobuf messages of the median plugin, read and written by hand (proto3 wire format):
the observation (plugins/median/median.proto) and the offchain config (src/libsdloop/median-config.proto).
Field numbers and types are libocr's."""

import collections

from .rules import INT192_BYTES, MAX_OBSERVATION_LENGTH

INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

OffchainConfig = collections.namedtuple(
    "OffchainConfig", "alpha_report_infinite alpha_report_ppb alpha_accept_infinite alpha_accept_ppb delta_c_nsec")
Observation = collections.namedtuple("Observation", "timestamp value juels_per_fee_coin")

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class DecodeError(ValueError):
    pass


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        b = data[pos]
        pos += 1
        if shift >= 64 or (shift == 63 and b > 1):
            raise DecodeError("varint longer than 64 bits")
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(data):
    """(number, wire type, value) of each field: ints for VARINT/I64/I32, bytes for LEN."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == I64:
            if pos + 8 > len(data):
                raise DecodeError("truncated fixed64")
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == I32:
            if pos + 4 > len(data):
                raise DecodeError("truncated fixed32")
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        elif wire == LEN:
            n, pos = _varint(data, pos)
            if pos + n > len(data):
                raise DecodeError("truncated length-delimited field")
            value, pos = bytes(data[pos:pos + n]), pos + n
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        yield number, wire, value


def _put_varint(out, v):
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _put(out, number, wire, value):
    """proto3: default values are not written."""
    if not value:
        return
    _put_varint(out, number << 3 | wire)
    if wire == VARINT:
        _put_varint(out, int(value))
    else:
        _put_varint(out, len(value))
        out.extend(value)


def int192_encode(v):
    """24 bytes of big-endian two's complement; OverflowError if v does not fit."""
    return v.to_bytes(INT192_BYTES, "big", signed=True)


def int192_decode(b):
    if len(b) != INT192_BYTES:
        raise DecodeError("not 24 bytes")
    return int.from_bytes(b, "big", signed=True)


# --- OffchainConfig ------------------------------------------------------------------------------------
_CONFIG_FIELDS = {1: ("alpha_report_infinite", VARINT), 2: ("alpha_report_ppb", VARINT),
                  3: ("alpha_accept_infinite", VARINT), 4: ("alpha_accept_ppb", VARINT),
                  5: ("delta_c_nsec", VARINT)}


def offchain_config_decode(data):
    """(OffchainConfig, whether fields unknown here were present); DecodeError with the reason."""
    values = dict.fromkeys(OffchainConfig._fields, 0)
    unknown = False
    try:
        for number, wire, value in fields(data):
            known = _CONFIG_FIELDS.get(number)
            if known is None:
                unknown = True
                continue
            if known[1] != wire:
                raise DecodeError(f"field {number} has wire type {wire}")
            values[known[0]] = value
    except DecodeError:
        raise DecodeError("not a valid OffchainConfig protobuf message") from None
    for b in ("alpha_report_infinite", "alpha_accept_infinite"):
        values[b] = values[b] != 0
    if values["delta_c_nsec"] > INT64_MAX:
        raise DecodeError("delta_c_nanoseconds must be non-negative as a signed 64-bit duration")
    return OffchainConfig(**values), unknown


def offchain_config_encode(c):
    if c.delta_c_nsec > INT64_MAX:
        raise OverflowError("delta_c_nanoseconds above 2^63 - 1")
    out = bytearray()
    _put(out, 1, VARINT, int(c.alpha_report_infinite))
    _put(out, 2, VARINT, c.alpha_report_ppb)
    _put(out, 3, VARINT, int(c.alpha_accept_infinite))
    _put(out, 4, VARINT, c.alpha_accept_ppb)
    _put(out, 5, VARINT, c.delta_c_nsec)
    return bytes(out)


# --- Observation ---------------------------------------------------------------------------------------
def observation_encode(timestamp, value, juels_per_fee_coin):
    """gas_price_subunits stays empty: this plugin has no data source for it."""
    out = bytearray()
    _put(out, 1, VARINT, timestamp)
    _put(out, 2, LEN, int192_encode(value))
    _put(out, 3, LEN, int192_encode(juels_per_fee_coin))
    return bytes(out)


def observation_decode(data):
    """Observation, or DecodeError saying why (the reasons of median-codec.c)."""
    if len(data) > MAX_OBSERVATION_LENGTH:
        raise DecodeError("longer than the maximum observation length")
    got = {1: 0, 2: b"", 3: b"", 4: b""}
    wires = {1: VARINT, 2: LEN, 3: LEN, 4: LEN}
    try:
        for number, wire, value in fields(data):
            if number in wires:
                if wires[number] != wire:
                    raise DecodeError("wire type")
                got[number] = value
    except DecodeError:
        raise DecodeError("not a valid Observation protobuf message") from None
    if got[1] > 0xFFFFFFFF:
        got[1] &= 0xFFFFFFFF  # protobuf truncates a uint32 read from a longer varint
    for number, name in ((2, "value"), (3, "juels_per_fee_coin")):
        if len(got[number]) != INT192_BYTES:
            raise DecodeError(f"{name} is not a 24-byte int192")
    if got[4] and len(got[4]) != INT192_BYTES:
        raise DecodeError("gas_price_subunits is not a 24-byte int192")
    return Observation(got[1], int192_decode(got[2]), int192_decode(got[3]))
