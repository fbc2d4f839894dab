# SPDX-License-Identifier: LGPL-2.1-or-later
"""The SDK's argument rules and error texts, without D-Bus connections."""

import unittest

import sdloop
from sdloop import contract, errors, types


def arg(interface, method, name):
    m = contract.interface(interface).methods[method]
    return next(a for a in m.in_args + m.out_args if a.name == name)


class Rules(unittest.TestCase):
    def test_digest(self):
        a = arg("org.sdloop1.ReportingPlugin", "Query", "report_timestamp")
        ts = types.validate(a, (bytes(32), 1, 2))
        self.assertEqual(ts.epoch, 1)
        with self.assertRaises(sdloop.InvalidArgument) as cm:
            types.validate(a, (bytes(31), 1, 2))
        self.assertEqual(cm.exception.name, "org.sdloop1.Error.InvalidArgument")
        self.assertEqual(cm.exception.message, "report_timestamp.digest: expected 32 bytes, got 31")

    def test_decimal(self):
        for good in ("0", "-1", "1042", "9" * 78):
            self.assertTrue(types.decimal_is_valid(good), good)
        for bad in ("", "-0", "01", "+1", "1.5", "9" * 79, " 1", "-"):
            self.assertFalse(types.decimal_is_valid(bad), bad)

    def test_parsed_observations(self):
        a = arg("org.sdloop1.ReportCodec", "BuildReport", "observations")
        with self.assertRaises(sdloop.InvalidArgument) as cm:
            types.validate(a, [(1, "12", "007", 0)])
        self.assertTrue(cm.exception.message.startswith("observations[0].juels_per_fee_coin: malformed decimal"))

    def test_reporting_plugin_config(self):
        a = arg("org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", "config")
        good = (bytes(32), 0, 4, 1, b"", b"", 0, 0, 0, 0, 0, 0)
        self.assertEqual(types.validate(a, good).n, 4)
        for field, bad in (("config.n", good[:2] + (0, 0) + good[4:]),
                           ("config.f", good[:3] + (4,) + good[4:]),
                           ("config.oracle_id", (bytes(32), 4) + good[2:])):
            with self.assertRaises(sdloop.InvalidArgument) as cm:
                types.validate(a, bad)
            self.assertTrue(cm.exception.message.startswith(field + ": "), cm.exception.message)

    def test_onchain_config(self):
        a = arg("org.sdloop1.OnchainConfigCodec", "Encode", "onchain_config")
        with self.assertRaises(sdloop.InvalidArgument) as cm:
            types.validate(a, ("5", "4"))
        self.assertEqual(cm.exception.message, "onchain_config: min 5 must not be greater than max 4")

    def test_contract_config(self):
        a = arg("org.sdloop1.OffchainConfigDigester", "ConfigDigest", "contract_config")
        with self.assertRaises(sdloop.InvalidArgument) as cm:
            types.validate(a, (bytes(32), 1, [b"a"] * 4, ["t"] * 3, 1, b"", 2, b""))
        self.assertTrue(cm.exception.message.startswith("contract_config.transmitters: "))


def fixtures():
    """The fixture set (src/conformance/fixtures.json, $SDLOOP_FIXTURES): name → value."""
    import json
    import os
    path = os.environ.get("SDLOOP_FIXTURES", "/usr/share/sdloop/fixtures.json")
    doc = json.load(open(path, encoding="utf-8"))
    out = {}
    for name, leaf in doc["fixtures"].items():
        (t, v), = leaf.items()
        out[name] = bytes.fromhex(v) if t == "ay" else [bytes.fromhex(x) for x in v] if t == "aay" else v
    return out


class Fixtures(unittest.TestCase):
    """The fixtures the C static implementations answer with pass the SDK's rules, and their bad variants
    are refused as the conformance tool expects."""

    def setUp(self):
        self.f = fixtures()

    def test_report_timestamp(self):
        f = self.f
        a = arg("org.sdloop1.ReportingPlugin", "Query", "report_timestamp")
        ts = types.validate(a, (f["config_digest"], f["epoch"], f["round"]))
        self.assertEqual(ts, sdloop.ReportTimestamp(f["config_digest"], 88, 74))
        with self.assertRaises(sdloop.InvalidArgument) as cm:
            types.validate(a, (f["config_digest"] + b"\0", f["epoch"], f["round"]))
        self.assertTrue(cm.exception.message.startswith("report_timestamp.digest: "))

    def test_contract_config(self):
        f = self.f
        a = arg("org.sdloop1.OffchainConfigDigester", "ConfigDigest", "contract_config")
        c = (f["config_digest"], f["config_count"], f["signers"], f["transmitters"], f["contract_f"],
             f["contract_onchain_config"], f["offchain_config_version"], f["contract_offchain_config"])
        self.assertEqual(types.validate(a, c).transmitters, ["foo", "bar", "baz", "qux"])
        with self.assertRaises(sdloop.InvalidArgument) as cm:
            types.validate(a, c[:4] + (2,) + c[5:])
        self.assertTrue(cm.exception.message.startswith("contract_config.f: "))

    def test_reporting_plugin_config(self):
        f = self.f
        a = arg("org.sdloop1.ReportingPluginFactory", "NewReportingPlugin", "config")
        c = (f["config_digest"], f["rp_oracle_id"], f["rp_n"], f["rp_f"], f["rp_onchain_config"],
             f["rp_offchain_config"], f["estimated_round_interval_usec"], f["max_duration_query_usec"],
             f["max_duration_observation_usec"], f["max_duration_report_usec"],
             f["max_duration_should_accept_usec"], f["max_duration_should_transmit_usec"])
        self.assertEqual(types.validate(a, c).n, 12)

    def test_decimals_and_json(self):
        f = self.f
        for name in ("value", "juels_per_fee_coin", "latest_answer", "median", "onchain_min", "onchain_max",
                     "amount", "parsed_value"):
            self.assertTrue(types.decimal_is_valid(f[name]), name)
        a = arg("org.sdloop1.Relayer", "NewPluginProvider", "relay_args")
        types.validate(a, (f["external_job_id"], f["job_id"], f["contract_id"], f["relay_new"], f["relay_config"],
                           f["provider_type_median"]))


class Messages(unittest.TestCase):
    def test_clean(self):
        e = errors.Internal("a\nb" + "é" * 2000)
        self.assertNotIn("\n", e.message)
        self.assertLessEqual(len(e.message.encode()), errors.MESSAGE_MAX)
        self.assertTrue(e.message.endswith("…"))

    def test_quote(self):
        self.assertEqual(errors.quote("a\"\n\x1b"), '"a\\"\\n\\x1b"')
        self.assertEqual(errors.quote(b"\xff"), '"\\xff"')


if __name__ == "__main__":
    unittest.main()
