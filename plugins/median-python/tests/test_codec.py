# SPDX-License-Identifier: LGPL-2.1-or-later
"""The hand-written protobuf codec of the observation and the offchain config."""

import unittest

from sdloop_median import codec


class Int192(unittest.TestCase):
    def test_range(self):
        self.assertEqual(codec.int192_encode(-1), b"\xff" * 24)
        self.assertEqual(codec.int192_decode(codec.int192_encode(2**191 - 1)), 2**191 - 1)
        with self.assertRaises(OverflowError):
            codec.int192_encode(2**191)
        with self.assertRaises(codec.DecodeError):
            codec.int192_decode(b"\x00" * 23)


class ObservationMessage(unittest.TestCase):
    def test_bytes(self):
        data = codec.observation_encode(300, 1, -2)
        self.assertEqual(data, b"\x08\xac\x02\x12\x18" + bytes(23) + b"\x01\x1a\x18" + b"\xff" * 23 + b"\xfe")
        self.assertEqual(codec.observation_decode(data), codec.Observation(300, 1, -2))

    def test_invalid(self):
        good = codec.observation_encode(1, 5, 6)
        for data, reason in ((good[:-1], "not a valid Observation protobuf message"),
                             (b"\x08\x01", "value is not a 24-byte int192"),
                             (good + b"\x22\x01\x00", "gas_price_subunits is not a 24-byte int192"),
                             (good + b"\x2a" + bytes([200]) + bytes(200), "longer than the maximum observation length"),
                             (b"\x0a\x01\x00" + good, "not a valid Observation protobuf message")):
            with self.assertRaises(codec.DecodeError) as cm:
                codec.observation_decode(data)
            self.assertEqual(str(cm.exception), reason)
        # An unknown field is skipped; gas price, if there, is checked and not reported.
        self.assertEqual(codec.observation_decode(good + b"\x22\x18" + bytes(24) + b"\x30\x01").value, 5)


class OffchainConfigMessage(unittest.TestCase):
    def test_round_trip(self):
        c = codec.OffchainConfig(False, 5_000_000, True, 0, 3600 * 10**9)
        data = codec.offchain_config_encode(c)
        self.assertEqual(codec.offchain_config_decode(data), (c, False))
        self.assertEqual(codec.offchain_config_decode(b""), (codec.OffchainConfig(False, 0, False, 0, 0), False))
        self.assertTrue(codec.offchain_config_decode(data + b"\x30\x01")[1])

    def test_invalid(self):
        with self.assertRaises(codec.DecodeError) as cm:
            codec.offchain_config_decode(b"\x28" + b"\xff" * 9 + b"\x01")
        self.assertIn("delta_c_nanoseconds", str(cm.exception))
        with self.assertRaises(codec.DecodeError):
            codec.offchain_config_decode(b"\x12\x01")


if __name__ == "__main__":
    unittest.main()
