#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The manual pages render without a warning from man (as lintian checks them), and the example configuration
# in sdloop.json(5) is the file the package installs (packaging/sdloopd.json), valid JSON.
#   usage: test-man-pages.sh SOURCE_DIR
set -euo pipefail

src=$1
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok $((passed + failed)) - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok $((passed + failed)) - $*"; }

for page in "$src"/man/*.[1-8]; do
        if ! command -v man >/dev/null; then
                echo "FAIL: man is not installed (Debian package man-db)" >&2
                exit 1
        fi
        # lintian's check (manpage-has-errors-from-man).
        warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
        if [ -z "$warnings" ]; then
                ok "man $(basename "$page") renders without warnings"
        else
                not_ok "man $(basename "$page"): $warnings"
        fi
done

example=$(sed -n '/^\.\\" BEGIN EXAMPLE sdloopd\.json/,/^\.\\" END EXAMPLE sdloopd\.json/p' "$src/man/sdloop.json.5" |
        sed -e '1d' -e '$d' | grep -v -x -e '\.EX' -e '\.EE' | sed -e 's/\\-/-/g')
if [ -z "$example" ]; then
        not_ok "no example between the BEGIN/END EXAMPLE sdloopd.json markers of sdloop.json.5"
elif [ "$example" != "$(cat "$src/packaging/sdloopd.json")" ]; then
        not_ok "the example of sdloop.json(5) differs from packaging/sdloopd.json:"
        diff <(printf '%s\n' "$example") "$src/packaging/sdloopd.json" || :
else
        ok "sdloop.json(5) shows packaging/sdloopd.json"
fi
if python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$src/packaging/sdloopd.json"; then
        ok "packaging/sdloopd.json is valid JSON"
else
        not_ok "packaging/sdloopd.json is not valid JSON"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
