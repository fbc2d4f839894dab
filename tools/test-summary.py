#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print one closing line for the whole test run, over every build directory given:
"N passed, N failed, N skipped" (meson's testlog.json of each)."""

import json
import os
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    path = os.path.join(build, "meson-logs", "testlog.json")
    try:
        with open(path) as f:
            lines = f.readlines()
    except OSError:
        continue
    for line in lines:
        try:
            result = json.loads(line).get("result", "")
        except ValueError:
            continue
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
