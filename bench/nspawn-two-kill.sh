#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside a booted systemd container (tests/nspawn/run.sh), as root: sdloop-bench-two-kill with the system
# backend — kill -9 of a relayer and its dependent median plugin at once against kill -9 of the median
# plugin alone, recovered through systemd's Restart= and the host's recovery.
#
#   nspawn-two-kill.sh SDLOOP_BENCH_TWO_KILL TEST_PLUGIN [ARGS...]
#
# Progress first, then the JSON between BENCH-JSON-BEGIN and BENCH-JSON-END lines.

set -u

bench=$1
plugin=$2
shift 2

out=$(mktemp)
err=$(mktemp)
status=0
SDLOOP_LOG_TARGET=stderr "$bench" --backend system --plugin "$plugin" "$@" >"$out" 2>"$err" || status=$?
grep -v '^<[67]>' "$err"
if [ $status -eq 0 ]; then
        echo "BENCH-JSON-BEGIN"
        cat "$out"
        echo "BENCH-JSON-END"
else
        systemctl list-units --all --no-pager 'sdloop-*' || true
        journalctl --no-pager -o short-monotonic -n 100 -u 'sdloop-*' || true
fi
rm -f "$out" "$err"
exit $status
