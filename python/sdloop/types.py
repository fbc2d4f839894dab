# SPDX-License-Identifier: LGPL-2.1-or-later
"""Values on the wire as plain Python, and the rules of the org.sdloop1.Type annotations.

Every argument a handler gets and every result a call returns passes through convert() (D-Bus types
become bytes, int, str, bool, tuple, list and dict, composite types named tuples) and validate(), which
applies the argument's rule as libsdloop does and raises InvalidArgument naming the field.
"""

import collections
import json
import re

import dbus

from .errors import InvalidArgument, quote

DIGEST_SIZE = 32
DECIMAL_DIGITS_MAX = 78
PAYLOAD_MAX = 256 * 1024 * 1024
OBSERVATIONS_MAX = 31  # libocr's bound on n (sdloop-limits.h, SDLOOP_ORACLES_MAX)

ReportTimestamp = collections.namedtuple("ReportTimestamp", "digest epoch round")
ReportContext = collections.namedtuple("ReportContext", "timestamp extra_hash")
ContractConfig = collections.namedtuple(
    "ContractConfig", "digest config_count signers transmitters f onchain_config offchain_config_version "
    "offchain_config")
RelayArgs = collections.namedtuple("RelayArgs", "external_job_id job_id contract_id new relay_config provider_type")
PluginArgs = collections.namedtuple("PluginArgs", "transmitter_id plugin_config")
ReportingPluginConfig = collections.namedtuple(
    "ReportingPluginConfig", "digest oracle_id n f onchain_config offchain_config estimated_round_interval_usec "
    "max_duration_query_usec max_duration_observation_usec max_duration_report_usec "
    "max_duration_should_accept_usec max_duration_should_transmit_usec")
ReportingPluginLimits = collections.namedtuple(
    "ReportingPluginLimits", "max_query_length max_observation_length max_report_length")
ReportingPluginInfo = collections.namedtuple("ReportingPluginInfo", "name unique_reports limits")
Attributed = collections.namedtuple("Attributed", "data oracle")
ParsedObservation = collections.namedtuple("ParsedObservation", "timestamp value juels_per_fee_coin observer")
ChainStatus = collections.namedtuple("ChainStatus", "id enabled config")
NodeStatus = collections.namedtuple("NodeStatus", "chain_id name config state")
OnchainConfig = collections.namedtuple("OnchainConfig", "min max")


def convert(value):
    """A value python-dbus unpacked (with byte_arrays=True) as plain Python."""
    if isinstance(value, dbus.Boolean):
        return bool(value)
    if isinstance(value, (dbus.ByteArray, bytes)):
        return bytes(value)
    if isinstance(value, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(value)
    if isinstance(value, (dbus.Byte, dbus.Int16, dbus.UInt16, dbus.Int32, dbus.UInt32, dbus.Int64, dbus.UInt64)):
        return int(value)
    if isinstance(value, dbus.Double):
        return float(value)
    if isinstance(value, dbus.Struct):
        return tuple(convert(v) for v in value)
    if isinstance(value, dbus.Dictionary):
        return {convert(k): convert(v) for k, v in value.items()}
    if isinstance(value, dbus.Array):
        return [convert(v) for v in value]
    return value


_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def decimal_is_valid(s):
    """libsdloop's big-integer spelling: optional '-', no leading zeros, no "-0", at most 78 digits."""
    return (isinstance(s, str) and _DECIMAL.fullmatch(s) is not None and s != "-0"
            and len(s.lstrip("-")) <= DECIMAL_DIGITS_MAX)


def check_digest(value, field):
    if len(value) != DIGEST_SIZE:
        raise InvalidArgument(field, f"expected {DIGEST_SIZE} bytes, got {len(value)}")
    return value


def check_bytes(value, field, limit=PAYLOAD_MAX):
    if len(value) > limit:
        raise InvalidArgument(field, f"expected at most {limit} bytes, got {len(value)}")
    return value


def check_decimal(value, field):
    if not decimal_is_valid(value):
        raise InvalidArgument(field, f"malformed decimal {quote(value)}")
    return value


def check_json(value, field):
    try:
        json.loads(value)
    except ValueError as e:
        raise InvalidArgument(field, f"invalid JSON: {e}") from None
    return value


def check_uuid(value, field):
    if not _UUID.fullmatch(value):
        raise InvalidArgument(field, f"malformed UUID {quote(value)}")
    return value


def _report_timestamp(v, field):
    check_digest(v[0], f"{field}.digest")
    return ReportTimestamp(*v)


def _report_context(v, field):
    ts = _report_timestamp(v[0], f"{field}.timestamp")
    check_digest(v[1], f"{field}.extra_hash")
    return ReportContext(ts, v[1])


def _contract_config(v, field):
    c = ContractConfig(*v)
    check_digest(c.digest, f"{field}.digest")
    for i, s in enumerate(c.signers):
        check_bytes(s, f"{field}.signers[{i}]")
    check_bytes(c.onchain_config, f"{field}.onchain_config")
    check_bytes(c.offchain_config, f"{field}.offchain_config")
    if len(c.transmitters) != len(c.signers):
        raise InvalidArgument(f"{field}.transmitters",
                              f"expected one per signer ({len(c.signers)}), got {len(c.transmitters)}")
    if c.signers and c.f * 3 >= len(c.signers):
        raise InvalidArgument(f"{field}.f", "3f must be less than the number of oracles")
    return c


def _relay_args(v, field):
    a = RelayArgs(*v)
    check_uuid(a.external_job_id, f"{field}.external_job_id")
    check_json(a.relay_config, f"{field}.relay_config")
    return a


def _plugin_args(v, field):
    a = PluginArgs(*v)
    check_json(a.plugin_config, f"{field}.plugin_config")
    return a


def _reporting_plugin_config(v, field):
    c = ReportingPluginConfig(*v)
    check_digest(c.digest, f"{field}.digest")
    check_bytes(c.onchain_config, f"{field}.onchain_config")
    check_bytes(c.offchain_config, f"{field}.offchain_config")
    if c.n < 1:
        raise InvalidArgument(f"{field}.n", "must be at least 1")
    if c.f >= c.n:
        raise InvalidArgument(f"{field}.f", f"must be less than n (f={c.f}, n={c.n})")
    if c.oracle_id >= c.n:
        raise InvalidArgument(f"{field}.oracle_id", f"must be less than n (oracle_id={c.oracle_id}, n={c.n})")
    return c


def _reporting_plugin_info(v, field):
    return ReportingPluginInfo(v[0], v[1], ReportingPluginLimits(*v[2]))


def _attributed(v, field):
    out = []
    for i, (data, oracle) in enumerate(v):
        check_bytes(data, f"{field}[{i}].data")
        out.append(Attributed(data, oracle))
    return out


def _parsed_observations(v, field):
    out = []
    for i, o in enumerate(v):
        o = ParsedObservation(*o)
        check_decimal(o.value, f"{field}[{i}].value")
        check_decimal(o.juels_per_fee_coin, f"{field}[{i}].juels_per_fee_coin")
        out.append(o)
    return out


def _onchain_config(v, field):
    c = OnchainConfig(*v)
    check_decimal(c.min, f"{field}.min")
    check_decimal(c.max, f"{field}.max")
    if int(c.min) > int(c.max):
        raise InvalidArgument(field, f"min {c.min} must not be greater than max {c.max}")
    return c


def _count(v, field):
    if v < 0:
        raise InvalidArgument(field, f"must not be negative, got {v}")
    return v


RULES = {
    "ConfigDigest": check_digest,
    "Decimal": check_decimal,
    "Count": _count,
    "ReportTimestamp": _report_timestamp,
    "ReportContext": _report_context,
    "ContractConfig": _contract_config,
    "RelayArgs": _relay_args,
    "PluginArgs": _plugin_args,
    "ReportingPluginConfig": _reporting_plugin_config,
    "ReportingPluginInfo": _reporting_plugin_info,
    "AttributedObservations": _attributed,
    "AttributedSignatures": _attributed,
    "ParsedObservations": _parsed_observations,
    "ChainStatus": lambda v, field: ChainStatus(*v),
    "NodeStatuses": lambda v, field: [NodeStatus(*n) for n in v],
    "OnchainConfig": _onchain_config,
    "HealthReport": lambda v, field: dict(v),
}


def validate(arg, value, field=None):
    """value (plain Python) checked by the rule of arg (a contract.Arg); field names it in errors."""
    field = field or arg.name
    rule = RULES.get(arg.rule) if arg.rule else None
    if rule:
        return rule(value, field)
    if arg.type == "ay":
        return check_bytes(value, field)
    return value
