# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a factory records of its provider's ConfigChanged, as the C plugin's median_factory_get_config_changes()
tells (the wiring through the host's proxy is tests/test-config-changed-python.c)."""

import unittest

from sdloop_median.plugin import MedianFactory


class ConfigChanges(unittest.TestCase):
    def test_counted_latest_kept(self):
        f = MedianFactory("/org/sdloop1/host/provider/1", "/org/sdloop1/host/data_source/1",
                          "/org/sdloop1/host/data_source/2", "/org/sdloop1/host/error_log/1")
        c = f.config_changes
        self.assertEqual((c.n, c.changed_in_block, c.digest), (0, 0, bytes(32)))
        with self.assertLogs("sdloop-median", "INFO") as logs:
            f.on_config_changed(2, b"\x01" * 32)
            f.on_config_changed(3, b"\x02" * 32)
        self.assertEqual((c.n, c.changed_in_block, c.digest), (2, 3, b"\x02" * 32))
        self.assertIn(f"provider /org/sdloop1/host/provider/1 has a new configuration {'02' * 32} from block 3 "
                      "(change 2 seen by this factory).", logs.output[1])


if __name__ == "__main__":
    unittest.main()
