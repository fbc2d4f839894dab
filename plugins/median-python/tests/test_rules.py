# SPDX-License-Identifier: LGPL-2.1-or-later
"""The median rules at their boundaries, as tests/test-median-rules.c checks the C ones."""

import unittest

from sdloop_median import codec, rules
from sdloop_median.rules import Accept, Report
from sdloop.types import ParsedObservation

D1, D2 = bytes([1]) * 32, bytes([2]) * 32
CONFIG = codec.OffchainConfig(False, 5_000_000, False, 1_000_000, 60 * 10**9)


class Deviation(unittest.TestCase):
    def test_threshold(self):
        self.assertTrue(rules.deviates(5_000_000, 1000, 1005))      # exactly 0.5 %
        self.assertFalse(rules.deviates(5_000_000, 1000, 1004))
        self.assertTrue(rules.deviates(5_000_000, -1000, -995))
        self.assertTrue(rules.deviates(5_000_000, 0, 1))
        self.assertFalse(rules.deviates(5_000_000, 0, 0))
        self.assertTrue(rules.deviates(0, 7, 7))                     # a zero threshold always deviates
        big = 10 ** 77
        self.assertTrue(rules.deviates(1, big, big + 10 ** 68))


class Median(unittest.TestCase):
    def test_upper_median_and_order(self):
        obs = [ParsedObservation(0, v, 0, o) for v, o in ((5, 3), (1, 0), (5, 1), (9, 2))]
        s = rules.sort_observations(obs)
        self.assertEqual([(o.value, o.observer) for o in s], [(1, 0), (5, 1), (5, 3), (9, 2)])
        self.assertEqual(rules.median(s), 5)
        self.assertTrue(rules.enough(2, 1))
        self.assertFalse(rules.enough(1, 1))

    def test_heartbeat(self):
        self.assertFalse(rules.heartbeat_due(1_000_000, 1000, 1_000_001_000))
        self.assertTrue(rules.heartbeat_due(1_000_000, 1000, 1_000_001_001))
        self.assertEqual(rules.delta_c_lookback_usec(1001), 2)
        self.assertEqual(rules.delta_c_lookback_usec(1000), 1)


class ShouldReport(unittest.TestCase):
    def decide(self, answer, t, requested=(bytes(32), (0, 0)), now=10**18, config=CONFIG):
        return rules.should_report(config, -100, 100_000, D1, answer, t, requested[0], requested[1], now)

    def test_decisions(self):
        now = 10**18
        fresh = now // 1000
        self.assertIs(self.decide(100_001, rules.Transmission(D1, (0, 0), 0, 0)), Report.NO_OUT_OF_RANGE)
        self.assertIs(self.decide(50, rules.Transmission(D1, (0, 0), 0, 0)), Report.INITIAL_ROUND)
        self.assertIs(self.decide(1005, rules.Transmission(D1, (1, 1), 1000, fresh)), Report.DEVIATION)
        self.assertIs(self.decide(1004, rules.Transmission(D1, (1, 1), 1000, fresh)), Report.NO)
        self.assertIs(self.decide(1004, rules.Transmission(D1, (1, 1), 1000, 0)), Report.HEARTBEAT)
        self.assertIs(self.decide(1004, rules.Transmission(D1, (1, 1), 1000, fresh), requested=(D1, (1, 1))),
                      Report.REQUESTED)
        self.assertIs(self.decide(1004, rules.Transmission(D1, (1, 2), 1000, fresh), requested=(D1, (1, 1))),
                      Report.NO)
        self.assertIs(self.decide(1004, rules.Transmission(D1, (1, 1), 1000, fresh), requested=(D2, (1, 1))),
                      Report.NO)
        infinite = CONFIG._replace(alpha_report_infinite=True)
        self.assertIs(self.decide(10**5, rules.Transmission(D1, (1, 1), 1, fresh), config=infinite), Report.NO)


class ShouldAccept(unittest.TestCase):
    def test_sequence(self):
        s = rules.AcceptState()
        self.assertIs(rules.accept_check_local(s, (0, 0)), Accept.NO_STALE)
        self.assertIs(rules.accept_check_contract(s, D1, D2, (0, 0), (1, 1), 10, 100), Accept.NO_DIGEST_MISMATCH)
        self.assertIs(rules.accept_check_contract(s, D1, D1, (1, 1), (1, 1), 10, 100), Accept.NO_STALE_CONTRACT)
        self.assertIs(rules.accept_check_contract(s, D1, D1, (0, 0), (1, 1), 101, 100), Accept.NO_TOO_LONG)
        self.assertIs(rules.accept_check_contract(s, D1, D1, (0, 0), (1, 1), 100, 100), Accept.UNDECIDED)
        self.assertIs(rules.accept_decide(CONFIG, s, (0, 0), (1, 1), 1000), Accept.YES_DEVIATES)
        self.assertEqual((s.latest_accepted, s.latest_accepted_median), ((1, 1), 1000))
        # Pending (the contract is behind what was accepted) and not deviating by alphaAccept (0.1 %).
        self.assertIs(rules.accept_decide(CONFIG, s, (0, 0), (1, 2), 1000), Accept.NO_PENDING)
        self.assertIs(rules.accept_decide(CONFIG, s, (0, 0), (1, 2), 1001), Accept.YES_DEVIATES)
        self.assertIs(rules.accept_decide(CONFIG, s, (1, 2), (1, 3), 1001), Accept.YES_NOTHING_PENDING)
        self.assertIs(rules.accept_check_local(s, (1, 3)), Accept.NO_STALE)

    def test_transmit(self):
        self.assertTrue(rules.should_transmit(D1, D1, (1, 1), (1, 2)))
        self.assertFalse(rules.should_transmit(D1, D1, (1, 2), (1, 2)))
        self.assertFalse(rules.should_transmit(D1, D2, (0, 0), (1, 2)))


if __name__ == "__main__":
    unittest.main()
