#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes the seed corpora of the ledger, median and feed-source targets (the codec's come from
# fuzz-codec-seeds, the daemon-config ones are plain files): a handful of valid inputs per mode, and a
# few near misses. Usage: fuzz/seeds.py  (from anywhere; writes fuzz/corpus/<target>/)
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def int_be(v, size):
    return (v % (1 << (8 * size))).to_bytes(size, "big")


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ledger: 0 report, 1 onchain config, 2 relayer config, 3 relay config, 4 build
obs = ["-5", "7", "100"]
report = (field(1, 0, 1700000000) + field(2, 2, bytes([2, 0, 1])) +
          b"".join(field(3, 2, o.encode()) for o in obs) + field(4, 2, b"7") + field(5, 2, b"1000"))
write("ledger", "0-report", b"\0" + report)
write("ledger", "0-report-unsorted", b"\0" + report.replace(b"-5", b"99"))
write("ledger", "1-onchain-config", b"\1" + b"\1" + int_be(-1000, 32) + int_be(1000000, 32))
write("ledger", "1-onchain-config-min-over-max", b"\1" + b"\1" + int_be(5, 32) + int_be(-5, 32))
write("ledger", "2-relayer-config", b"\2" + json.dumps({
    "chain_id": "ledger-1", "ledger": "/var/lib/sdloop/ledger/ledger-1.sqlite",
    "nodes": [{"name": "node-a", "config": "url = 'http://a'", "state": "Alive"},
              {"name": "node-b", "config": {"url": "http://b"}}],
    "balances": {"alice": "1000000", "bob": 5}, "poll_interval_usec": 1000000}).encode())
write("ledger", "3-relay-config", b"\3" + json.dumps({
    "ledger": "/var/lib/sdloop/ledger/ledger-1.sqlite",
    "config": {"signers": ["%064x" % (i + 1) for i in range(4)], "transmitters": ["t0", "t1", "t2", "t3"],
               "f": 1, "onchain_config": {"min": "-1000", "max": "1000000"},
               "offchain_config_version": 1, "offchain_config": "0a0b0c"}}).encode())
write("ledger", "3-relay-config-no-seed", b"\3" + json.dumps({"ledger": "/tmp/l.sqlite", "other": 1}).encode())
write("ledger", "4-build", b"\4\4" + b"".join(
    struct.pack("<Iqi", 1700000000 + i, v, 1000 + i) + bytes([i]) for i, v in enumerate([5, -3, 9, 0])))

# median: 0 observation, 1 offchain config, 2 int, 3 rules
observation = field(1, 0, 1700000000) + field(2, 2, int_be(-123456789, 24)) + field(3, 2, int_be(10**18, 24))
write("median", "0-observation", b"\0" + observation)
write("median", "0-observation-gas", b"\0" + observation + field(4, 2, int_be(30, 24)))
write("median", "0-observation-short-value", b"\0" + field(1, 0, 1) + field(2, 2, int_be(1, 23)))
write("median", "1-offchain-config", b"\1" + field(2, 0, 5000000) + field(4, 0, 1000000) +
      field(5, 0, 60 * 10**9))
write("median", "1-offchain-config-infinite", b"\1" + field(1, 0, 1) + field(3, 0, 1) + field(9, 0, 7))
write("median", "1-offchain-config-delta-c-too-large", b"\1" + field(5, 0, 1 << 63))
dec = b"-115792089237316195423570985008687907853269984665640564039457584007913129639935"
write("median", "2-int", b"\2" + bytes([len(dec)]) + dec + bytes([31]) + int_be(-(1 << 200), 32))
write("median", "2-int-small", b"\2\x03100\x00\x7f")
rules = (struct.pack("<QQQ", 5000000, 1000000, 60 * 10**9) + b"\0" + int_be(0, 24) + int_be(10**12, 24) +
         bytes(32) + b"\0" + struct.pack("<IB", 3, 1) + struct.pack("<IB", 0, 0) + int_be(1000, 24) +
         struct.pack("<qq", 1700000000 * 10**6, 1700000100 * 10**9) + b"\4" +
         b"".join(struct.pack("<I", 1700000000) + int_be(v, 24) for v in [1000, 1010, 990, 2000]) +
         struct.pack("<Q", 5000000) +
         (struct.pack("<IB", 3, 2) + struct.pack("<IB", 3, 1) + b"\0" + struct.pack("<HH", 100, 1000)) * 2)
write("median", "3-rules", b"\3" + rules)

# feed-source: 0 config, 1 value rule, 2 json_path
for name, src in [("constant", {"type": "constant", "value": "123"}),
                  ("file", {"type": "file", "path": "/run/price", "multiplier": "1e8", "name": "p"}),
                  ("command", {"type": "command", "argv": ["/usr/bin/price", "--pair", "ETH"], "timeout_sec": 5}),
                  ("http", {"type": "http", "url": "http://127.0.0.1:8080/p", "json_path": "data.prices.0.usd",
                            "headers": {"Accept": "application/json"}, "multiplier": "1e8", "timeout_sec": 2}),
                  ("random-walk", {"type": "random_walk", "start": "2000", "step_ppm": 1000, "seed": 1})]:
    write("feed-source", "0-config-" + name, b"\0" + json.dumps(src).encode())
write("feed-source", "1-value", b"\1\x08 2000.12345678\n")
write("feed-source", "1-value-exponent", b"\1\x02-1.5e3")
write("feed-source", "1-value-no-multiplier", b"\1\x80" + b"9" * 78)
write("feed-source", "2-json-path", b"\2data.prices.0.usd\0" +
      json.dumps({"data": {"prices": [{"usd": "2000.5"}, {"usd": 3}]}}).encode())
write("feed-source", "2-json-path-missing", b"\2data.x\0{\"data\": [1, 2]}")
